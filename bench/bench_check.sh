#!/usr/bin/env bash
# meshc check against the floor: libyaml's bare event parse of the same
# file (bench/yamlfloor). Seed-shaped configs from bench/gen for N = 100,
# 1000, 10000 hosts. Each of RUNS rounds runs the floor and then meshc check
# back to back, so a machine whose speed drifts (shared VMs) slows both
# alike; reported are the medians of the floor and check wall times, the
# median of the per-round ratios, and peak RSS against the budget
# 2 x input + 32 MB. For the 10000-host config the check runs once more
# with MESHC_PARSE_SPLIT=off (one parser thread) for comparison.
set -u
RUNS=${RUNS:-9}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
# check_ms FILE SPLIT: wall ms of meshc check (SPLIT: MESHC_PARSE_SPLIT, "" default)
check_ms() { "$TOOLS/limit" -t 120 -- env MESHC_PARSE_SPLIT="$2" "$MESHC" check "$1" 2>&1 >/dev/null | sed -n 's/.* ms=\([0-9]*\).*/\1/p'; }
check_rss() { "$TOOLS/limit" -t 120 -- env MESHC_PARSE_SPLIT="$2" "$MESHC" check "$1" 2>&1 >/dev/null | sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p'; }
printf '%-10s %9s %10s %10s %7s %9s %9s\n' hosts "bytes" "floor_ms" "check_ms" ratio "rss_mb" "budget_mb"
for n in 100 1000 10000; do
    f=bench/out/seed-$n.yaml
    [ -f "$f" ] || "$BENCH/gen" "$n" > "$f"
    bytes=$(stat -c %s "$f")
    modes=(default)
    [ "$n" = 10000 ] && modes+=(off)
    for mode in "${modes[@]}"; do
        split=
        [ "$mode" = off ] && split=off
        : > /tmp/bench_check.$$
        for i in $(seq "$RUNS"); do
            fl=$("$BENCH/yamlfloor" "$f" | sed 's/.*ms=//')
            ch=$(check_ms "$f" "$split")
            echo "$fl $ch" >> /tmp/bench_check.$$
        done
        floor=$(awk '{print $1}' /tmp/bench_check.$$ | median)
        check=$(awk '{print $2}' /tmp/bench_check.$$ | median)
        ratio=$(awk '$1 > 0 {print $2 / $1}' /tmp/bench_check.$$ | median)
        rm -f /tmp/bench_check.$$
        rss=$(check_rss "$f" "$split")
        label=$n
        [ "$mode" = off ] && label="$n/1thr"
        awk -v n="$label" -v b="$bytes" -v fl="$floor" -v ch="$check" -v ra="$ratio" -v r="$rss" 'BEGIN{
            printf "%-10s %9d %10.1f %10.1f %6.2fx %9.1f %9.1f\n", n, b, fl, ch, ra, r/1024, 2*b/1048576+32 }'
    done
done
echo "target: ratio <= 2.00x and rss <= budget for 10000 hosts (ratio: median over $RUNS rounds of check/floor)"
