#!/usr/bin/env bash
# Golden suite "check": `meshc check` text output (caret included) and exit
# status for every testdata/golden/check/ID.{yaml,yml,json} file or ID/
# directory. A first line "# args: ..." in a file (or ID/args in a
# directory) adds command-line options.
set -u
dir=testdata/golden/check
case $1 in
list)
    for f in "$dir"/*; do
        b=$(basename "$f")
        case $b in
        *.out) ;;
        *.yaml|*.yml|*.json) echo "${b%.*}" ;;
        *) [ -d "$f" ] && echo "$b" ;;
        esac
    done
    ;;
run)
    id=$2
    args=()
    if [ -d "$dir/$id" ]; then
        input="$dir/$id"
        [ -f "$input/args" ] && read -r -a args < "$input/args"
    else
        input=$(ls "$dir/$id".yaml "$dir/$id".yml "$dir/$id".json 2>/dev/null | head -1)
        first=$(head -1 "$input")
        if [[ "$first" == "# args: "* ]]; then read -r -a args <<<"${first#\# args: }"; fi
    fi
    "$MESHC" check --color=never "${args[@]}" "$input"
    echo "exit $?"
    ;;
esac
