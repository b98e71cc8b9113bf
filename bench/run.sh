#!/usr/bin/env bash
# bench/run.sh -- `make bench`: every bench/bench_*.sh in turn. Benchmarks
# measure and print; they never fail because the machine is slow.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export MESHC="$PWD/$BUILD/meshc" MESHRT="$PWD/$BUILD/meshrt" TOOLS="$PWD/$BUILD/tests" BENCH="$PWD/$BUILD/bench"
mkdir -p bench/out
only=${1:-}
for b in bench/bench_*.sh; do
    n=$(basename "$b" .sh)
    [ -n "$only" ] && [[ "$n" != *"$only"* ]] && continue
    echo "== $n"
    bash "$b"
    echo
done
