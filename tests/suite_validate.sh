#!/usr/bin/env bash
# The validate stage against real configurations and generated inputs:
#  - the seed and every networking file of Istio's samples give no MSH02xx-
#    MSH05xx error (they are accepted by Istio's webhook);
#  - Istio's analyzer test case dupmatches gives exactly the expected
#    (code, kind, namespace, name) multiset of IST0130/IST0131, after
#    Istio's deduplication on the rendered message;
#  - directResponse bodies over 100 KiB / 1 MiB (too big for golden files);
#  - hostile sizes stay fast: a VirtualService with 20,000 hosts and one
#    with 5,000 prefix matches.
set -u
cd "$(dirname "$0")/.."
SHARED=../shared
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; [ -f "$T/out" ] && sed 's/^/# /' "$T/out" | head -20; }

# no validate-stage error (codes MSH0200..MSH0599) in a JSON finding list
no_validate_errors() {
    python3 -c '
import json, sys
bad = [f for f in json.load(open(sys.argv[1]))
       if f["code"].startswith("MSH0") and 200 <= int(f["code"][3:]) <= 599 and f["level"] == "error"]
for f in bad: print("%s:%s:%s %s %s" % (f["file"], f["line"], f["column"], f["code"], f["message"]))
sys.exit(1 if bad else 0)' "$1" > "$T/out"
}

"$MESHC" check -o json testdata/seed > "$T/seed.json" 2>/dev/null
if no_validate_errors "$T/seed.json"; then pass "seed: no validation error"; else fail "seed: no validation error"; fi

idx=$SHARED/conformance/istio-samples/index.json
files=$(python3 -c 'import json,sys; print("\n".join(f["path"] for f in json.load(open(sys.argv[1]))["files"] if f["role"] == "networking"))' "$idx")
count=0
for f in $files; do
    count=$((count + 1))
    if ! (cd "$SHARED/conformance/istio-samples" && "$MESHC" check -o json "$f" > "$T/s.json" 2>/dev/null; [ $? -le 1 ]); then
        fail "samples: meshc failed on $f"; continue
    fi
    if ! no_validate_errors "$T/s.json"; then fail "samples: $f has validation errors"; continue; fi
done
[ "$count" -ge 30 ] && pass "samples: $count networking files, no validation error" || fail "samples: only $count files found"

# dupmatches: the webhook's IST0130/IST0131 with Istio's harness namespace ""
case_dir=$SHARED/conformance/istio-analyze/dupmatches
"$MESHC" check -o json -n "" "$case_dir"/*.yaml > "$T/dup.json" 2>/dev/null
python3 - "$T/dup.json" "$case_dir/expected.json" > "$T/out" <<'EOF'
import json, sys
from collections import Counter
got = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))["messages"]
# Istio dedups on the rendered message (level, code, origin, text); our
# findings carry positions, so dedup on what Istio renders.
seen = set()
actual = Counter()
for f in got:
    c = f["code"]
    if not (c.startswith("IST") or (c.startswith("MSH0") and 200 <= int(c[3:]) <= 599)):
        continue
    key = (f["level"], c, f["kind"], f["namespace"], f["name"], f["message"])
    if key in seen:
        continue
    seen.add(key)
    actual[(c, f["kind"], f["namespace"], f["name"])] += 1
want = Counter((m["code"], m["kind"], m["namespace"], m["name"]) for m in exp)
for k in sorted(set(actual) | set(want)):
    if actual[k] != want[k]:
        print("%s %s %s/%s: got %d, want %d" % (k[0], k[1], k[2], k[3], actual[k], want[k]))
sys.exit(0 if actual == want else 1)
EOF
[ $? -eq 0 ] && pass "conformance dupmatches: IST0130/IST0131 multiset as expected" || fail "conformance dupmatches"

# directResponse body sizes
body() {
    python3 -c '
import sys
n = int(sys.argv[1])
print("""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: big-body}
spec:
  hosts: [reviews]
  http:
  - directResponse:
      status: 200
      body:
        string: "%s"
""" % ("x" * n))' "$1"
}
body 120000 > "$T/warn.yaml"
"$MESHC" check --no-snippet "$T/warn.yaml" > "$T/out" 2>/dev/null
st=$?
grep -q 'warning: directResponse body is 120000 bytes.*\[MSH0341\]' "$T/out" && [ $st -eq 0 ] &&
    pass "a 120000-byte directResponse body is a warning" || fail "MSH0341"
body 1100000 > "$T/err.yaml"
"$MESHC" check --no-snippet "$T/err.yaml" > "$T/out" 2>/dev/null
st=$?
grep -q 'error: directResponse body is 1100000 bytes.*\[MSH0340\]' "$T/out" && [ $st -eq 1 ] &&
    pass "a 1100000-byte directResponse body is an error" || fail "MSH0340"

# hostile sizes: linear-ish work per resource
python3 -c '
print("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: many-hosts}\nspec:\n  gateways: [gw]\n  hosts:")
for i in range(20000): print("  - h%d.a%d.example.com" % (i, i % 97))
print("  - \"*.a5.example.com\"\n  http:\n  - route:\n    - destination: {host: reviews}")
' > "$T/hosts.yaml"
start=$(date +%s%N)
"$TOOLS/limit" -t 20 -m 400 -- "$MESHC" check --no-snippet "$T/hosts.yaml" > "$T/out" 2>/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q 'host "\*.a5.example.com" overlaps host "h5.a5.example.com"' "$T/out" &&
    pass "20,000 hosts: the overlap is found in ${ms} ms" || fail "20,000 hosts (${ms} ms)"

python3 -c '
print("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: many-prefixes}\nspec:\n  hosts: [reviews]\n  http:")
for i in range(5000):
    print("  - match:\n    - uri: {prefix: /p%d/}\n      headers: {x-n: {exact: \"%d\"}}\n    route:\n    - destination: {host: reviews}" % (i, i))
print("  - match:\n    - uri: {prefix: /p42/deeper}\n      headers: {x-n: {exact: \"42\"}}\n    route:\n    - destination: {host: reviews}")
' > "$T/prefixes.yaml"
start=$(date +%s%N)
"$TOOLS/limit" -t 20 -m 400 -- "$MESHC" check --no-snippet "$T/prefixes.yaml" > "$T/out" 2>/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(grep -c 'IST0131' "$T/out")" -eq 1 ] && grep -q 'match #0 of prefix /p42/deeper is not used' "$T/out" &&
    pass "5,001 prefix rules: the one overlap is found in ${ms} ms" || fail "5,001 prefix rules (${ms} ms)"

echo "1..$n"
