#!/usr/bin/env bash
# The schema stage on Istio's own configurations: the sample scenarios
# (../shared/conformance/istio-samples) must give no MSH01xx error, and the
# analyzer test inputs (../shared/conformance/istio-analyze) exactly the
# schema errors listed below, each of which the API server really reports.
set -u
cd "$(dirname "$0")/.."
n=0
SAMPLES=../shared/conformance/istio-samples
ANALYZE=../shared/conformance/istio-analyze

MESHC=${MESHC:-$PWD/${BUILD:-build}/meshc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# FILE: the MSH01xx errors, as "file:line:col code". A run that crashes,
# ends with status 2 (unreadable input) or reads no resource prints a
# BROKEN line, so a broken run can never pass as "no errors".
schema_errors() {
    "$MESHC" check --no-snippet --color=never "$1" > "$T/out" 2> "$T/err"
    local st=$?
    [ "$st" -le 1 ] || echo "BROKEN $1 exit status $st"
    grep -q '([1-9][0-9]* resources*)$' "$T/err" || echo "BROKEN $1 read no resource"
    sed -n 's/^\([^ ]*:[0-9]*:[0-9]*\): error: .*\[\(MSH01[0-9][0-9]\)\]$/\1 \2/p' "$T/out"
}

if [ ! -d "$SAMPLES" ] || [ ! -d "$ANALYZE" ]; then
    echo "not ok 1 - conformance data missing (../shared/conformance)"
    exit 1
fi

# Every sample file that holds one of the four networking kinds.
while IFS= read -r f; do
    grep -q '^apiVersion: networking.istio.io/' "$f" || continue
    n=$((n + 1))
    errs=$(schema_errors "$f")
    if [ -z "$errs" ]; then
        echo "ok $n - no schema error in ${f#$SAMPLES/}"
    else
        echo "not ok $n - schema errors in ${f#$SAMPLES/}"
        sed 's/^/# /' <<<"$errs" | head -10
    fi
done < <(find "$SAMPLES" -name '*.yaml' | LC_ALL=C sort)

# Istio's analyzer inputs. The expected findings, and why the API server
# refuses each of these objects:
#   conflicting-gateways-invalid-port.yaml: two Gateway servers without
#     port, which the CRD requires;
#   gateway-secrets.yaml:39: the name defaultgateway-bogusCredentialName
#     has upper-case letters (names are DNS-1123 subdomains);
#   virtualservice_destinationhosts.yaml:53: a ServiceEntry host "*" (the
#     CRD's CEL rule forbids it);
#   virtualservice_destinationhosts.yaml:97: a route item `{}` without the
#     required destination.
want=$(cat <<'EOW'
conflicting-gateways-detect-no-port/conflicting-gateways-invalid-port.yaml:20:7 MSH0103
conflicting-gateways-detect-no-port/conflicting-gateways-invalid-port.yaml:9:7 MSH0103
gateway-secret/gateway-secrets.yaml:39:9 MSH0112
virtual-service-destination-hosts/virtualservice_destinationhosts.yaml:53:5 MSH0124
virtual-service-destination-hosts/virtualservice_destinationhosts.yaml:97:7 MSH0103
EOW
)
got=$(find "$ANALYZE" -name '*.yaml' | LC_ALL=C sort | while IFS= read -r f; do
          grep -q 'networking.istio.io/' "$f" && schema_errors "$f"; done |
      sed "s|^$ANALYZE/||" | LC_ALL=C sort)
n=$((n + 1))
if [ "$got" = "$want" ]; then
    echo "ok $n - istio-analyze inputs: exactly the $(wc -l <<<"$want") expected schema errors"
else
    echo "not ok $n - istio-analyze inputs: schema errors differ"
    diff <(echo "$want") <(echo "$got") | sed 's/^/# /' | head -20
fi
