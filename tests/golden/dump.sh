#!/usr/bin/env bash
# Golden suite "dump": `meshc dump` of the image built from every route
# test case (testdata/routes/CASE: CASE/args names the inputs, else every
# CASE/*.yaml but tests.yaml). Expected text in testdata/golden/dump/CASE.out.
set -u
case $1 in
list)
    for d in testdata/routes/*/; do basename "$d"; done
    ;;
run)
    dir=testdata/routes/$2
    if [ -f "$dir/args" ]; then
        read -r -a inputs < "$dir/args"
    else
        inputs=()
        for f in "$dir"/*.yaml; do [ "$(basename "$f")" = tests.yaml ] || inputs+=("$f"); done
    fi
    img=$(mktemp)
    if "$MESHC" build --color=never -o "$img" "${inputs[@]}" > /dev/null 2>&1; then
        "$MESHC" dump "$img"
        echo "exit $?"
    else
        echo "build failed"
    fi
    rm -f "$img"
    ;;
esac
