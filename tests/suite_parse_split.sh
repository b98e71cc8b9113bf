#!/usr/bin/env bash
# A YAML stream read in two halves on two threads (MESHC_PARSE_SPLIT, see
# compiler/parse.c) must give byte for byte what one pass gives: every
# multi-document input of the repository and of the shared conformance data,
# a generated mesh, and generated streams with problems on either side of
# the split. Each is checked with the split forced (any size) and disabled.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
fails=0

cmp_split() {
    local name=$1; shift
    n=$((n + 1))
    MESHC_PARSE_SPLIT=off "$MESHC" check -o json "$@" > "$T/one" 2> "$T/one.err"
    local a=$?
    MESHC_PARSE_SPLIT=1 "$MESHC" check -o json "$@" > "$T/two" 2> "$T/two.err"
    local b=$?
    if [ "$a" != "$b" ] || ! cmp -s "$T/one" "$T/two" || ! cmp -s "$T/one.err" "$T/two.err"; then
        echo "not ok $n - $name: two halves differ from one pass (exit $a vs $b)"
        diff "$T/one" "$T/two" | head -8 | sed 's/^/# /'
        diff "$T/one.err" "$T/two.err" | head -4 | sed 's/^/# /'
        fails=$((fails + 1))
        return 1
    fi
    return 0
}

# every multi-document input we have: one result line for all of them
files=()
while IFS= read -r f; do files+=("$f"); done < <(
    find testdata ../shared/conformance \( -name '*.yaml' -o -name '*.yml' \) -type f 2>/dev/null |
        xargs grep -l '^---' 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
    cmp_split "$f" "$f" > "$T/msg" || { bad=$((bad + 1)); cat "$T/msg"; }
    n=$((n - 1))
done
n=$((n + 1))
if [ "$bad" -eq 0 ] && [ "${#files[@]}" -gt 100 ]; then
    echo "ok $n - ${#files[@]} multi-document inputs: same output in two halves"
else
    echo "not ok $n - $bad of ${#files[@]} multi-document inputs differ"
fi

# a generated mesh (3,000 resources)
bash tests/gen_mesh.sh 1000 > "$T/mesh.yaml"
cmp_split "generated mesh of 1000 hosts" "$T/mesh.yaml" && echo "ok $n - generated mesh of 1000 hosts"

# problems placed before, at and after the middle of a long stream
gen() { # N BAD_DOC BAD_TEXT
    local i
    for ((i = 0; i < $1; i++)); do
        [ "$i" -gt 0 ] && echo '---'
        printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs%d\nspec:\n  hosts: [h%d.example.com]\n  http:\n  - route:\n    - destination: {host: h%d.example.com}\n' "$i" "$i" "$i"
        [ "$i" = "$2" ] && printf '%b\n' "$3"
    done
}
for at in 10 199 200 201 390; do
    gen 400 "$at" '  tcp: [1' > "$T/syntax.yaml"
    cmp_split "syntax error in document $at of 400" "$T/syntax.yaml" && echo "ok $n - syntax error in document $at of 400"
    gen 400 "$at" 'spec: {}' > "$T/dup.yaml"
    cmp_split "duplicate key in document $at of 400" "$T/dup.yaml" && echo "ok $n - duplicate key in document $at of 400"
    gen 400 "$at" '  bad: "\xff"' > "$T/utf8.yaml"
    cmp_split "invalid UTF-8 in document $at of 400" "$T/utf8.yaml" && echo "ok $n - invalid UTF-8 in document $at of 400"
    gen 400 "$at" '...\n%YAML 1.1' > "$T/dir.yaml"
    cmp_split "directive after document $at of 400" "$T/dir.yaml" && echo "ok $n - directive after document $at of 400"
done
exit 0
