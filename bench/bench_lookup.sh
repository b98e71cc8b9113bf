#!/usr/bin/env bash
# The route image: meshc build time and peak memory (against meshc check's
# own), image size against the YAML, the time meshrt verify takes (open +
# verify, CLI), then lookups per second through table.h (bench/lookup):
# 1 vs 10,000 hosts, 10 vs 10,000 rows, each pair measured in turns.
# Targets (issue 4): image <= 10% of the YAML and both lookup ratios >= 80%
# for 10,000 hosts / rows. Medians over RUNS runs; the machine is shared,
# so wall-clock numbers are noisy: compare ratios, not absolute rates.
set -u
RUNS=${RUNS:-5}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
rss() { "$TOOLS/limit" -t 120 -- "$@" 2>&1 >/dev/null | sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p'; }
printf '%-7s %10s %10s %8s %9s %9s %9s %10s\n' hosts yaml_bytes img_bytes "img/yaml" build_ms build_mb check_mb verify_ms
for n in 100 1000 10000; do
    f=bench/out/seed-$n.yaml
    [ -f "$f" ] || "$BENCH/gen" "$n" > "$f"
    img=bench/out/seed-$n.img
    build=$(for i in $(seq "$RUNS"); do ms "$MESHC" build -o "$img" "$f"; done | median)
    verify=$(for i in $(seq "$RUNS"); do ms "$MESHRT" verify "$img"; done | median)
    brss=$(for i in $(seq 3); do rss "$MESHC" build -o "$img" "$f"; done | median)
    crss=$(for i in $(seq 3); do rss "$MESHC" check "$f"; done | median)
    y=$(stat -c %s "$f") m=$(stat -c %s "$img")
    awk -v n="$n" -v y="$y" -v m="$m" -v b="$build" -v br="$brss" -v cr="$crss" -v v="$verify" 'BEGIN{
        printf "%-7s %10d %10d %7.1f%% %9d %9.1f %9.1f %10d\n", n, y, m, 100*m/y, b, br/1024, cr/1024, v
        if (n == 10000) {
            printf "image size, 10000 hosts: %.1f%% of the YAML (target <= 10%%: %s)\n", 100*m/y, m <= 0.1*y ? "met" : "NOT met"
            printf "build memory, 10000 hosts: %.0f MB, %.0f MB over meshc check alone\n", br/1024, (br-cr)/1024
        }
    }'
done
echo
"$BENCH/lookup" 10000
