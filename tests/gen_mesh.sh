#!/usr/bin/env bash
# tests/gen_mesh.sh N [SHAPE] -- a generated mesh config on stdout, for
# benchmarks and the scaling tests.
#   big (default): one ingress Gateway with an HTTPS server per host, and per
#        host a ServiceEntry, a DestinationRule (two subsets, TLS) and a
#        VirtualService bound to the Gateway and the mesh (two routes with
#        matches, a mirror, a retry policy); N=10000 gives about 12 MB.
#   gateways: N Gateways on the same selector and port, one host each, plus
#        N mesh VirtualServices exported to their own namespace; every pair
#        shares selector and port, so a pairwise analysis is quadratic.
set -eu
n=${1:-10000}
shape=${2:-big}
awk -v n="$n" -v shape="$shape" '
function big(   i, h) {
    print "apiVersion: networking.istio.io/v1"
    print "kind: Gateway"
    print "metadata:\n  name: ingress\n  namespace: istio-system"
    print "spec:\n  selector:\n    istio: ingressgateway\n  servers:"
    for (i = 0; i < n; i++) {
        h = sprintf("svc-%05d.apps.example.com", i)
        printf "  - port:\n      number: 443\n      name: https-%05d\n      protocol: HTTPS\n", i
        printf "    tls:\n      mode: SIMPLE\n      credentialName: cert-%05d\n    hosts:\n    - \"%s\"\n", i, h
    }
    for (i = 0; i < n; i++) {
        h = sprintf("svc-%05d.apps.example.com", i)
        printf "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se-%05d\n  namespace: apps\n", i
        printf "spec:\n  hosts:\n  - %s\n  location: MESH_INTERNAL\n  resolution: DNS\n", h
        printf "  addresses:\n  - 10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256
        printf "  ports:\n  - number: 8080\n    name: http\n    protocol: HTTP\n  endpoints:\n  - address: backend-%05d.internal\n", i
        printf "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr-%05d\n  namespace: apps\n", i
        printf "spec:\n  host: %s\n  trafficPolicy:\n    connectionPool:\n      http:\n        http2MaxRequests: 1000\n", h
        printf "    loadBalancer:\n      simple: LEAST_REQUEST\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n"
        printf "  - name: v2\n    labels:\n      version: v2\n"
        printf "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs-%05d\n  namespace: apps\n", i
        printf "spec:\n  hosts:\n  - %s\n  gateways:\n  - istio-system/ingress\n  - mesh\n  http:\n", h
        printf "  - name: canary\n    match:\n    - uri:\n        prefix: /v2/\n      headers:\n        x-canary:\n          exact: \"true\"\n"
        printf "    route:\n    - destination:\n        host: %s\n        subset: v2\n        port:\n          number: 8080\n", h
        printf "    retries:\n      attempts: 3\n      perTryTimeout: 2s\n"
        printf "  - name: default\n    route:\n    - destination:\n        host: %s\n        subset: v1\n        port:\n          number: 8080\n      weight: 90\n", h
        printf "    - destination:\n        host: %s\n        subset: v2\n        port:\n          number: 8080\n      weight: 10\n", h
        printf "    mirror:\n      host: %s\n      subset: v2\n      port:\n        number: 8080\n    timeout: 10s\n", h
    }
}
function gateways(   i) {
    for (i = 0; i < n; i++) {
        if (i) print "---"
        printf "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw-%05d\n  namespace: tenant-%05d\n", i, i
        printf "spec:\n  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n      number: 443\n      name: https\n      protocol: HTTPS\n"
        printf "    tls:\n      mode: SIMPLE\n      credentialName: cert-%05d\n    hosts:\n    - tenant-%05d.example.com\n", i, i
        printf "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs-%05d\n  namespace: tenant-%05d\n", i, i
        printf "spec:\n  hosts:\n  - api.tenant-%05d.svc.cluster.local\n  exportTo:\n  - \".\"\n  http:\n", i
        printf "  - route:\n    - destination:\n        host: api.tenant-%05d.svc.cluster.local\n", i
    }
}
BEGIN { if (shape == "gateways") gateways(); else big() }
'
