#!/usr/bin/env bash
# tests/run.sh -- run every test suite and end with "N passed, N failed".
#
# A suite is anything that prints TAP lines ("ok N - what" / "not ok N - what"):
#   build/tests/t_*      unit test binaries (tests/unit/t_*.c)
#   tests/suite_*.sh     shell suites (golden files, hostile input, end to end)
# A suite that exits non-zero without printing "not ok" counts one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export MESHC="$PWD/$BUILD/meshc" MESHRT="$PWD/$BUILD/meshrt" TOOLS="$PWD/$BUILD/tests"
export NO_COLOR=1 LC_ALL=C
if [ "${SANITIZE:-}" = 1 ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
pass=0
fail=0
failed_names=()
filter=${1:-}

run_suite() {
    local name=$1; shift
    local out rc np nf
    out=$("$@" 2>&1); rc=$?
    np=$(grep -cE '^ok ' <<<"$out")
    nf=$(grep -cE '^not ok ' <<<"$out")
    if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
        nf=1
        out+=$'\n'"not ok - $name exited with status $rc"
    fi
    pass=$((pass + np))
    fail=$((fail + nf))
    if [ "$nf" -gt 0 ]; then
        failed_names+=("$name")
        printf '%s: %d passed, %d FAILED\n' "$name" "$np" "$nf"
        grep -E '^(not ok|#)' <<<"$out" | head -60 | sed 's/^/    /'
    else
        printf '%s: %d passed\n' "$name" "$np"
    fi
}

for t in "$BUILD"/tests/t_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    [ -n "$filter" ] && [[ "$n" != *"$filter"* ]] && continue
    run_suite "$n" "$t"
done
for s in tests/suite_*.sh; do
    [ -f "$s" ] || continue
    n=$(basename "$s" .sh)
    [ -n "$filter" ] && [[ "$n" != *"$filter"* ]] && continue
    run_suite "$n" bash "$s"
done

if [ "${#failed_names[@]}" -gt 0 ]; then
    echo "failed suites: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
