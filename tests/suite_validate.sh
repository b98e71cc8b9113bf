#!/usr/bin/env bash
# The validate stage against real configurations and generated inputs
# (bash and awk only: CI installs no scripting language):
#  - the seed and every file of Istio's samples give no MSH02xx-MSH05xx
#    error (Istio's webhook accepts them);
#  - Istio's analyzer test case dupmatches gives exactly the expected
#    (code, kind, namespace, name) multiset of IST0130/IST0131, after
#    Istio's deduplication on the rendered message;
#  - directResponse bodies over 100 KiB / 1 MiB (too big for golden files);
#  - hostile sizes stay fast: a VirtualService with 20,000 hosts and one
#    with 5,001 prefix rules.
set -u
cd "$(dirname "$0")/.."
SHARED=../shared
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; [ -s "$T/bad" ] && sed 's/^/# /' "$T/bad" | head -20; }

# validate-stage errors in text output, into $T/bad; true when none
no_validate_errors() {
    grep -E ': error: .*\[MSH0[2-5][0-9][0-9]\]$' "$1" > "$T/bad"
    [ ! -s "$T/bad" ]
}

"$MESHC" check --no-snippet testdata/seed > "$T/seed.txt" 2>/dev/null
if no_validate_errors "$T/seed.txt"; then pass "seed: no validation error"; else fail "seed: no validation error"; fi

samples=$SHARED/conformance/istio-samples
(cd "$samples" && "$MESHC" check --no-snippet -R . > "$T/samples.txt" 2>"$T/samples.err")
nres=$(sed -n 's/.*(\([0-9]*\) resources*)$/\1/p' "$T/samples.err")
if no_validate_errors "$T/samples.txt" && [ "${nres:-0}" -ge 40 ]; then
    pass "samples: ${nres} resources of $(find "$samples" -name '*.yaml' | wc -l) files, no validation error"
else
    fail "samples: validation errors (or too few resources: ${nres:-none})"
fi

# Lines "code|kind|namespace|name|message" from a pretty-printed JSON
# array of flat objects (meshc -o json, or the messages of expected.json).
fields() {
    awk '
    /\{$/ { delete f; next }
    /^ *"[a-z_]*": / {
        k = $0; sub(/^ *"/, "", k); sub(/".*/, "", k)
        v = $0; sub(/^ *"[a-z_]*": /, "", v); sub(/,$/, "", v)
        if (v ~ /^"/) { v = substr(v, 2, length(v) - 2) }
        f[k] = v; next
    }
    /^ *\}/ { if ("code" in f) print f["code"] "|" f["kind"] "|" f["namespace"] "|" f["name"] "|" f["message"]; delete f }
    ' "$1"
}

case_dir=$SHARED/conformance/istio-analyze/dupmatches
"$MESHC" check -o json -n "" --analyzer schema.ValidationAnalyzer.VirtualService "$case_dir"/*.yaml > "$T/dup.json" 2>/dev/null
# Istio dedups on the rendered message (code, resource, text); positions
# are ours only. Then compare (code, kind, namespace, name) as multisets.
fields "$T/dup.json" | grep -E '^(IST|MSH0[2-5])' | sort -u | cut -d'|' -f1-4 | sort > "$T/got"
sed -n '/"messages"/,$p' "$case_dir/expected.json" > "$T/exp.json"
fields "$T/exp.json" | cut -d'|' -f1-4 | sort > "$T/want"
if [ -s "$T/want" ] && diff "$T/want" "$T/got" > "$T/bad"; then
    pass "conformance dupmatches: IST0130/IST0131 multiset as expected ($(wc -l < "$T/want") findings)"
else
    fail "conformance dupmatches"
fi

# directResponse body sizes
body() {
    printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: big-body}\n'
    printf 'spec:\n  hosts: [reviews]\n  http:\n  - directResponse:\n      status: 200\n      body:\n        string: "'
    head -c "$1" /dev/zero | tr '\0' x
    printf '"\n'
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

# hostile sizes: the work stays close to linear in the resource; the time
# (ms) of checking $1 goes to $ms, the findings to $T/out
timed_check() {
    local start
    start=$(date +%s%N)
    "$TOOLS/limit" -t 20 -m 400 -- "$MESHC" check --no-snippet "$1" > "$T/out" 2>/dev/null
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
{
    printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: many-hosts}\n'
    printf 'spec:\n  gateways: [gw]\n  hosts:\n'
    awk 'BEGIN { for (i = 0; i < 20000; i++) printf "  - h%d.a%d.example.com\n", i, i % 97 }'
    printf '  - "*.a5.example.com"\n  http:\n  - route:\n    - destination: {host: reviews}\n'
} > "$T/hosts.yaml"
timed_check "$T/hosts.yaml"
[ "$(grep -c MSH0307 "$T/out")" -eq 1 ] && grep -q 'host "\*.a5.example.com" overlaps host "h5.a5.example.com"' "$T/out" &&
    pass "20,000 hosts: the one overlap is found in ${ms} ms" || fail "20,000 hosts (${ms} ms)"

{
    printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: many-prefixes}\n'
    printf 'spec:\n  hosts: [reviews]\n  http:\n'
    awk 'BEGIN { for (i = 0; i < 5000; i++)
        printf "  - match:\n    - uri: {prefix: /p%d/}\n      headers: {x-n: {exact: \"%d\"}}\n    route:\n    - destination: {host: reviews}\n", i, i }'
    printf '  - match:\n    - uri: {prefix: /p42/deeper}\n      headers: {x-n: {exact: "42"}}\n'
    printf '    route:\n    - destination: {host: reviews}\n'
} > "$T/prefixes.yaml"
timed_check "$T/prefixes.yaml"
[ "$(grep -c 'IST0131' "$T/out")" -eq 1 ] && grep -q 'match #0 of prefix /p42/deeper is not used' "$T/out" &&
    pass "5,001 prefix rules: the one overlap is found in ${ms} ms" || fail "5,001 prefix rules (${ms} ms)"

echo "1..$n"
