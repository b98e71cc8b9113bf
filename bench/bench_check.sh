#!/usr/bin/env bash
# meshc check against the floor: libyaml's bare event parse of the same
# file (bench/yamlfloor). Seed-shaped configs from bench/gen for N = 100,
# 1000, 10000 hosts. Reports median wall time over RUNS runs, the ratio to
# the floor, and peak RSS against the budget 2 x input + 32 MB.
set -u
RUNS=${RUNS:-7}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
printf '%-7s %9s %10s %10s %7s %9s %9s\n' hosts "bytes" "floor_ms" "check_ms" ratio "rss_mb" "budget_mb"
for n in 100 1000 10000; do
    f=bench/out/seed-$n.yaml
    [ -f "$f" ] || "$BENCH/gen" "$n" > "$f"
    bytes=$(stat -c %s "$f")
    floor=$(for i in $(seq "$RUNS"); do "$BENCH/yamlfloor" "$f" | sed 's/.*ms=//'; done | median)
    check=$(for i in $(seq "$RUNS"); do "$TOOLS/limit" -t 120 -- "$MESHC" check "$f" 2>&1 >/dev/null | sed -n 's/.* ms=\([0-9]*\).*/\1/p'; done | median)
    rss=$("$TOOLS/limit" -t 120 -- "$MESHC" check "$f" 2>&1 >/dev/null | sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p')
    awk -v n="$n" -v b="$bytes" -v fl="$floor" -v ch="$check" -v r="$rss" 'BEGIN{
        printf "%-7s %9d %10.1f %10.1f %6.2fx %9.1f %9.1f\n", n, b, fl, ch, ch/fl, r/1024, 2*b/1048576+32 }'
done
echo "target: ratio <= 2.00x and rss <= budget for 10000 hosts"
