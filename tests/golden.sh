#!/usr/bin/env bash
# tests/golden.sh -- compare (or with UPDATE=1 rewrite) every golden file.
#
# A golden suite is a script tests/golden/SUITE.sh answering two calls:
#   SUITE.sh list      case ids, one per line
#   SUITE.sh run ID    the actual output of case ID on stdout
# The expected output of case ID is testdata/golden/SUITE/ID.out.
# Prints TAP lines; with UPDATE=1 writes the .out files instead (review the
# diff with git before committing).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export MESHC=${MESHC:-$PWD/$BUILD/meshc} MESHRT=${MESHRT:-$PWD/$BUILD/meshrt} TOOLS=${TOOLS:-$PWD/$BUILD/tests}
export NO_COLOR=1 LC_ALL=C
only=${1:-}
n=0
for suite in tests/golden/*.sh; do
    s=$(basename "$suite" .sh)
    [ -n "$only" ] && [ "$s" != "$only" ] && continue
    while IFS= read -r id; do
        [ -n "$id" ] || continue
        n=$((n + 1))
        exp="testdata/golden/$s/$id.out"
        act=$(bash "$suite" run "$id" 2>/dev/null)
        if [ "${UPDATE:-}" = 1 ]; then
            mkdir -p "$(dirname "$exp")"
            printf '%s\n' "$act" > "$exp"
            echo "ok $n - $s/$id (written)"
        elif [ ! -f "$exp" ]; then
            echo "not ok $n - $s/$id: no $exp (run make golden)"
        elif diff -u "$exp" <(printf '%s\n' "$act") > /tmp/golden.$$ 2>&1; then
            echo "ok $n - $s/$id"
        else
            echo "not ok $n - $s/$id"
            sed 's/^/# /' /tmp/golden.$$ | head -40
        fi
    done < <(bash "$suite" list)
done
rm -f /tmp/golden.$$
