#!/usr/bin/env bash
# The analyzers and the insight stage run side by side (compiler/check.c,
# cross_resource): the output must be byte for byte that of running them
# in order, also when insight finishes before the analyzers report the
# errors it stays quiet about (MESHC_CROSS=insight-first, which makes it
# run again), and on one CPU, where nothing runs on a second thread. Every
# golden input, every conformance case, a 1000-host mesh, and a build.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0

# On one CPU (the affinity mask) meshc checks each resource as it is read
# and runs the cross-resource stages in order, on one thread.
one_cpu() { if command -v taskset > /dev/null; then taskset -c 0 "$@"; else "$@"; fi; }

# same NAME ARGS...: serial, insight-first, one CPU and the default give
# one output
same() {
    local name=$1; shift
    MESHC_CROSS=serial "$MESHC" "$@" > "$T/a" 2>&1; echo "exit $?" >> "$T/a"
    MESHC_CROSS=insight-first "$MESHC" "$@" > "$T/b" 2>&1; echo "exit $?" >> "$T/b"
    "$MESHC" "$@" > "$T/c" 2>&1; echo "exit $?" >> "$T/c"
    one_cpu "$MESHC" "$@" > "$T/d" 2>&1; echo "exit $?" >> "$T/d"
    if cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c" && cmp -s "$T/a" "$T/d"; then return 0; fi
    echo "# $name: the orders differ"
    diff "$T/a" "$T/b" | head -6 | sed 's/^/# /'
    diff "$T/a" "$T/c" | head -6 | sed 's/^/# /'
    diff "$T/a" "$T/d" | head -6 | sed 's/^/# /'
    return 1
}

# summary WHAT BAD TOTAL MIN: one result line for a set of inputs
summary() {
    if [ "$2" -eq 0 ] && [ "$3" -gt "$4" ]; then
        echo "ok $n - $3 $1: same findings in every order"
    else
        echo "not ok $n - $2 of $3 $1 differ between orders"
    fi
}

n=$((n + 1))
f=testdata/cross/analyzer-error-first.yaml
if same "$f" check "$f" && grep -q 'IST0101' "$T/a" && ! grep -q 'MSH0615' "$T/a"; then
    echo "ok $n - an analyzer error reported after insight asked: insight runs again, its warning stays away"
else
    echo "not ok $n - $f: want IST0101 alone in every order"; sed 's/^/# /' "$T/b" | head -8
fi

n=$((n + 1))
bad=0 total=0
for f in testdata/golden/check/*.yaml; do
    total=$((total + 1))
    same "$f" check -o json "$f" || bad=$((bad + 1))
done
summary "golden inputs" "$bad" "$total" 80

n=$((n + 1))
bad=0 total=0
H=../shared/conformance/istio-analyze/_harness
for d in ../shared/conformance/istio-analyze/*/; do
    case $d in */_harness/) continue ;; esac
    files=()
    while IFS= read -r f; do files+=("$f"); done < <(find "$d" -name '*.yaml' -type f | sort)
    [ "${#files[@]}" -gt 0 ] || continue
    total=$((total + 1))
    same "$d" check -o json "${files[@]}" $(ls "$H"/*.yaml 2>/dev/null) || bad=$((bad + 1))
done
summary "conformance cases" "$bad" "$total" 40

n=$((n + 1))
bash tests/gen_mesh.sh 1000 > "$T/mesh.yaml"
if same "mesh" check -o json "$T/mesh.yaml"; then
    echo "ok $n - a 1000-host mesh: same findings in every order and on one CPU"
else
    echo "not ok $n - a 1000-host mesh differs between orders"
fi

n=$((n + 1))
MESHC_CROSS=serial "$MESHC" build -o "$T/serial.img" testdata/seed/ > /dev/null 2>&1
MESHC_CROSS=insight-first "$MESHC" build -o "$T/first.img" testdata/seed/ > /dev/null 2>&1
"$MESHC" build -o "$T/side.img" testdata/seed/ > /dev/null 2>&1
if [ -s "$T/serial.img" ] && cmp -s "$T/serial.img" "$T/first.img" && cmp -s "$T/serial.img" "$T/side.img"; then
    echo "ok $n - build: the same image in every order"
else
    echo "not ok $n - build: images differ between orders"
fi
echo "1..$n"
