#!/usr/bin/env bash
# tests/conformance.sh -- Istio's analyzer unit tests (../shared/conformance/
# istio-analyze/) against meshc: one TAP line per case, then the score.
#
# Each case runs the case's own analyzer(s) (--analyzer), on its inputs plus
# _harness/default-ingress-gateway.yaml (the Pod and Service Istio's test
# harness adds), with -n "" because the harness leaves resources without
# metadata.namespace in the empty namespace. The multiset of
# (code, kind, namespace, name) must equal expected.json's; see
# tests/tools/judge.c.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MESHC=${MESHC:-$PWD/$BUILD/meshc}
TOOLS=${TOOLS:-$PWD/$BUILD/tests}
CORPUS=../shared/conformance/istio-analyze
HARNESS=$CORPUS/_harness/default-ingress-gateway.yaml
export NO_COLOR=1 LC_ALL=C
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 pass=0 fail=0
for dir in "$CORPUS"/*/; do
    dir=${dir%/}
    [ -f "$dir/expected.json" ] || continue
    id=$(basename "$dir")
    n=$((n + 1))
    mapfile -t args < <("$TOOLS/judge" args "$dir")
    "$MESHC" check -n "" -o json --no-snippet "${args[@]}" "$HARNESS" > "$T/out.json" 2> "$T/err"
    rc=$?
    if [ "$rc" -ge 2 ]; then
        echo "not ok $n - $id: meshc exited with status $rc"
        sed 's/^/# /' "$T/err" | head -5
        fail=$((fail + 1))
        continue
    fi
    "$TOOLS/judge" conformance "$dir/expected.json" "$T/out.json" > "$T/diff"
    if [ $? -eq 0 ]; then
        echo "ok $n - $id"; pass=$((pass + 1))
    else
        echo "not ok $n - $id"; cat "$T/diff"; fail=$((fail + 1))
    fi
done
echo "# istio-analyze conformance: $pass of $n cases reproduced exactly"
echo "$pass passed, $fail failed"
