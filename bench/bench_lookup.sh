#!/usr/bin/env bash
# The route image: meshc build time and image size against the YAML, the
# time meshrt verify takes (open + verify, CLI), then lookups per second
# through table.h (bench/lookup): 1 vs 10,000 hosts, 10 vs 10,000 rows.
set -u
RUNS=${RUNS:-5}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
printf '%-7s %10s %10s %7s %9s %10s\n' hosts yaml_bytes img_bytes "img/yaml" build_ms verify_ms
for n in 100 1000 10000; do
    f=bench/out/seed-$n.yaml
    [ -f "$f" ] || "$BENCH/gen" "$n" > "$f"
    img=bench/out/seed-$n.img
    build=$(for i in $(seq "$RUNS"); do ms "$MESHC" build -o "$img" "$f"; done | median)
    verify=$(for i in $(seq "$RUNS"); do ms "$MESHRT" verify "$img"; done | median)
    awk -v n="$n" -v y="$(stat -c %s "$f")" -v m="$(stat -c %s "$img")" -v b="$build" -v v="$verify" 'BEGIN{
        printf "%-7s %10d %10d %6.1f%% %9d %10d\n", n, y, m, 100*m/y, b, v }'
done
echo "target: image <= 10% of the YAML for 10000 hosts"
echo
"$BENCH/lookup" 10000
