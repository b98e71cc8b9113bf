#!/usr/bin/env bash
# Istio's sample configs (../shared/conformance/istio-samples/): the 40
# scenarios of index.json, each checked with all of meshc's stages and judged
# as the corpus README says (scenario namespace, not_applicable rules,
# max_level, findings multiset); see tests/tools/judge.c. One TAP line per
# scenario.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MESHC=${MESHC:-$PWD/$BUILD/meshc}
TOOLS=${TOOLS:-$PWD/$BUILD/tests}
CORPUS=../shared/conformance/istio-samples
export NO_COLOR=1 LC_ALL=C
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 pass=0
while IFS=$'\t' read -r id ns files; do
    n=$((n + 1))
    IFS=$'\t' read -r -a rel <<<"$files"
    paths=()
    for f in "${rel[@]}"; do paths+=("$CORPUS/$f"); done
    "$MESHC" check -n "$ns" -o json --no-snippet "${paths[@]}" > "$T/out.json" 2> "$T/err"
    rc=$?
    if [ "$rc" -ge 2 ]; then
        echo "not ok $n - $id: meshc exited with status $rc"
        sed 's/^/# /' "$T/err" | head -5
        continue
    fi
    "$TOOLS/judge" sample "$CORPUS/index.json" "$id" "$T/out.json" > "$T/diff"
    if [ $? -eq 0 ]; then
        echo "ok $n - $id"; pass=$((pass + 1)); grep '^# not judged' "$T/diff"
    else
        echo "not ok $n - $id"; cat "$T/diff"
    fi
done < <("$TOOLS/judge" scenarios "$CORPUS/index.json")
echo "# istio-samples: $pass of $n scenarios judged correct"
