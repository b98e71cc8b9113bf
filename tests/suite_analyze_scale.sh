#!/usr/bin/env bash
# The analysis stays linear: for shapes where Istio's analyzers compare
# resources pairwise (many Gateways on one selector and port, one Gateway
# with thousands of hosts bound by thousands of VirtualServices, mesh
# VirtualServices in many scopes), checking 4x the input must cost about 4x
# the CPU time, not 16x. Each measurement is the least of three runs; the
# bound (7x) leaves room for noise without letting a quadratic step pass.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MESHC=${MESHC:-$PWD/$BUILD/meshc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0

cpu() {     # least user+system seconds of three runs of meshc check on $1
    local best=999 t TIMEFORMAT='%U %S'
    for _ in 1 2 3; do
        { time "$MESHC" check -o json "$1" > /dev/null 2>&1; } 2> "$T/time"
        t=$(awk '{print $1 + $2}' "$T/time")
        best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
    done
    echo "$best"
}

scale() {   # scale NAME SHAPE SMALL
    local name=$1 shape=$2 small=$3 big=$(( $3 * 4 )) t1 t4
    n=$((n + 1))
    bash tests/gen_mesh.sh "$small" "$shape" > "$T/small.yaml"
    bash tests/gen_mesh.sh "$big" "$shape" > "$T/big.yaml"
    t1=$(cpu "$T/small.yaml")
    t4=$(cpu "$T/big.yaml")
    if awk -v a="$t1" -v b="$t4" 'BEGIN { exit !(b <= 7 * (a < 0.05 ? 0.05 : a)) }'; then
        echo "ok $n - $name: ${t1}s for $small, ${t4}s for $big"
    else
        echo "not ok $n - $name: ${t1}s for $small, ${t4}s for $big (more than 7x for 4x the input)"
    fi
}

scale "gateways on one selector and port" gateways 5000
scale "one gateway, its hosts and their VirtualServices" big 2500
