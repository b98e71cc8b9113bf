#!/usr/bin/env bash
# The insight stage (MSH0600-MSH0799, compiler/insight.c):
#  1. meshc check lowers only what its screen marks, meshc build lowers
#     everything: both must report the same MSH06xx findings on every input
#     we have (golden inputs, route tests, Istio's samples and analyzer
#     cases) -- the screen must never hide a finding;
#  2. Istio's clean sample scenarios get nothing from the stage above info;
#  3. the seed scenario gets nothing from it above info;
#  4. a clean configuration is not lowered at all by check: its peak memory
#     stays well under that of the same configuration with one broken
#     subset per host, which the screen must lower.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MESHC=${MESHC:-$PWD/$BUILD/meshc}
TOOLS=${TOOLS:-$PWD/$BUILD/tests}
SAMPLES=../shared/conformance/istio-samples
ANALYZE=../shared/conformance/istio-analyze
export NO_COLOR=1 LC_ALL=C
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0

insight() {     # MSH06xx lines of meshc check ($1 = check|build) on the rest
    local cmd=$1; shift
    if [ "$cmd" = build ]; then
        "$MESHC" build -o "$T/x.img" --no-snippet "$@" 2>/dev/null
    else
        "$MESHC" check --no-snippet "$@" 2>/dev/null
    fi | grep -E '\[MSH06[0-9][0-9]\]' | sort
}

same() {        # same NAME ARGS...: check and build agree
    local name=$1; shift
    n=$((n + 1))
    insight check "$@" > "$T/check"
    insight build "$@" > "$T/build"
    if cmp -s "$T/check" "$T/build"; then
        echo "ok $n - check and build agree: $name ($(wc -l < "$T/check") findings)"
    else
        echo "not ok $n - check and build disagree: $name"
        diff "$T/check" "$T/build" | head -10 | sed 's/^/# /'
    fi
}

for f in testdata/golden/check/*.yaml; do
    args=()
    first=$(head -1 "$f")
    if [[ "$first" == "# args: "* ]]; then read -r -a args <<<"${first#\# args: }"; fi
    same "$f" "${args[@]}" "$f"
done
for d in testdata/routes/*/; do
    [ -f "$d/config.yaml" ] && same "$d" "$d/config.yaml"
done
for d in "$ANALYZE"/*/; do
    same "istio-analyze/$(basename "$d")" "$d"
done

# Istio's samples: every scenario agrees; the clean ones (max_level info)
# get no insight warning or error
while IFS=$'\t' read -r id ns files; do
    IFS=$'\t' read -r -a rel <<<"$files"
    paths=()
    for f in "${rel[@]}"; do paths+=("$SAMPLES/$f"); done
    same "istio-samples/$id" -n "$ns" "${paths[@]}"
    n=$((n + 1))
    loud=$(insight check -n "$ns" "${paths[@]}" | grep -E ': (warning|error): ')
    # the scenario's "expect": {"max_level": ...} or {"findings": ...}
    expect=$(awk -v id="\"$id\"" '$0 ~ "\"id\": " id "," { f = 1 } f && /"expect"/ { g = 1 } g { print; if (++k == 2) exit }' \
             "$SAMPLES/index.json")
    if [[ "$expect" != *max_level* ]]; then
        echo "ok $n - istio-samples/$id expects findings (insight not judged)"
    elif [ -z "$loud" ]; then
        echo "ok $n - istio-samples/$id: clean, no insight warning or error"
    else
        echo "not ok $n - istio-samples/$id: clean scenario, insight reports"
        sed 's/^/# /' <<<"$loud" | head -5
    fi
done < <("$TOOLS/judge" scenarios "$SAMPLES/index.json")

# the seed: the "Istio as a proxy" pattern (mesh-only matches on a
# gateway-bound VirtualService) is intended, not a finding
n=$((n + 1))
loud=$(insight check testdata/seed | grep -E ': (warning|error): ')
if [ -z "$loud" ]; then
    echo "ok $n - seed: no insight warning or error"
else
    echo "not ok $n - seed: insight reports"
    sed 's/^/# /' <<<"$loud" | head -5
fi
same "seed" testdata/seed

# laziness: N hosts in the seed's shape whose subsets select endpoints (clean)
# or not (every route of every host 503s, so every VirtualService is lowered)
gen() {     # gen N labelled|bare
    awk -v n="$1" -v mode="$2" 'BEGIN {
        print "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: proxy, namespace: istio-system}"
        print "spec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:"
        for (i = 0; i < n; i++) printf "    - svc%05d.example.com\n", i
        for (i = 0; i < n; i++) {
            h = sprintf("svc%05d.example.com", i)
            printf "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-%05d, namespace: apps}\n", i
            printf "spec:\n  hosts: [%s]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n", h
            if (mode == "labelled")
                printf "  endpoints:\n  - {address: %s, labels: {version: v1}}\n  - {address: %s, labels: {version: v2}}\n", h, h
            printf "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr-%05d, namespace: apps}\n", i
            printf "spec:\n  host: %s\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n", h
            printf "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%05d, namespace: apps}\n", i
            printf "spec:\n  hosts: [%s]\n  gateways: [istio-system/proxy, mesh]\n  http:\n", h
            printf "  - match: [{uri: {prefix: /api/v%d}}]\n    route: [{destination: {host: %s, subset: v2}}]\n", i % 7, h
            printf "  - route: [{destination: {host: %s, subset: v1}}]\n", h
        }
    }'
}
rss() {     # peak RSS in KB of meshc check on $1
    "$TOOLS/limit" -t 120 -- "$MESHC" check -o json "$1" 2>&1 >/dev/null | sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p'
}
gen 3000 labelled > "$T/clean.yaml"
gen 3000 bare > "$T/broken.yaml"
n=$((n + 1))
found=$(insight check "$T/clean.yaml" | wc -l)
broken=$(insight check "$T/broken.yaml" | grep -c MSH0616)
if [ "$found" = 0 ] && [ "$broken" = 6000 ]; then
    echo "ok $n - 3000 hosts: clean config clean, broken one gives 6000 x MSH0616"
else
    echo "not ok $n - 3000 hosts: $found findings on the clean config, $broken MSH0616 on the broken one (want 0 and 6000)"
fi
n=$((n + 1))
r1=$(rss "$T/clean.yaml")
r2=$(rss "$T/broken.yaml")
if [ -n "$r1" ] && [ -n "$r2" ] && [ $((r1 + 8192)) -lt "$r2" ]; then
    echo "ok $n - the clean config is not lowered: ${r1} KB against ${r2} KB when every VirtualService is"
else
    echo "not ok $n - the clean config seems lowered: ${r1} KB, ${r2} KB when every VirtualService is"
fi
