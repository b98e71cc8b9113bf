#!/usr/bin/env bash
# Route tests: for every testdata/routes/CASE/, build an image from the
# case's config (CASE/args names the inputs, else every CASE/*.yaml but
# tests.yaml) and run `meshrt test` on CASE/tests.yaml. One TAP line per
# test of every file, the meshrt test failure lines as comments.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
for dir in testdata/routes/*/; do
    c=$(basename "$dir")
    if [ -f "$dir/args" ]; then
        read -r -a inputs < "$dir/args"
    else
        inputs=()
        for f in "$dir"*.yaml; do [ "$(basename "$f")" = tests.yaml ] || inputs+=("$f"); done
    fi
    if ! "$MESHC" build --color=never -o "$T/$c.img" "${inputs[@]}" > "$T/build.out" 2>&1; then
        n=$((n + 1))
        echo "not ok $n - routes/$c: meshc build failed"
        sed 's/^/# /' "$T/build.out" | head -20
        continue
    fi
    "$MESHRT" test "$T/$c.img" "$dir/tests.yaml" --details > "$T/test.out" 2>&1
    rc=$?
    # --details prints every test name, then its failure lines
    name=""
    fails=""
    while IFS= read -r line; do
        case $line in
        "expected: "*|"invalid test: "*) fails+="# $line"$'\n' ;;
        *" passed, "*" failed") ;;
        *)
            if [ -n "$name" ]; then
                n=$((n + 1))
                if [ -n "$fails" ]; then echo "not ok $n - routes/$c: $name"; printf '%s' "$fails"; else echo "ok $n - routes/$c: $name"; fi
            fi
            name=$line
            fails="" ;;
        esac
    done < "$T/test.out"
    if [ -n "$name" ]; then
        n=$((n + 1))
        if [ -n "$fails" ]; then echo "not ok $n - routes/$c: $name"; printf '%s' "$fails"; else echo "ok $n - routes/$c: $name"; fi
    fi
    if [ "$rc" -ne 0 ] && ! grep -q '^expected: \|^invalid test: ' "$T/test.out"; then
        n=$((n + 1))
        echo "not ok $n - routes/$c: meshrt test exited $rc"
        sed 's/^/# /' "$T/test.out" | tail -5
    fi
done
echo "1..$n"
