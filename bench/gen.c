/*
** gen.c -- write an N-host configuration in the seed's shape:
**   gen N > config.yaml
** One Gateway (an HTTP server on 80 and a TLS PASSTHROUGH server on 443,
** each listing every host), then per host a ServiceEntry (DNS, ports 80
** and 443, one DNS endpoint labelled version v1), a DestinationRule (TLS
** DISABLE, subset v1) and a VirtualService bound to the gateway and the
** mesh with two HTTP routes to the subset (a prefix, a catch-all) and a TLS
** route by SNI. The config is clean: every route reaches an endpoint.
** Output is deterministic; N = 10000 gives about 12 MB.
*/
#include <stdio.h>
#include <stdlib.h>

static void host(char *buf, size_t n, long i)
{
    snprintf(buf, n, "svc%05ld.example.com", i);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fputs("usage: gen N\n", stderr); return 2; }
    long n = atol(argv[1]);
    if (n <= 0 || n > 10000000) { fputs("gen: N must be 1..10000000\n", stderr); return 2; }
    char h[64];
    printf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: proxy\n  namespace: istio-system\n"
           "spec:\n  selector:\n    istio: ingressgateway\n  servers:\n"
           "  - port:\n      number: 80\n      name: http\n      protocol: HTTP\n    hosts:\n");
    for (long i = 0; i < n; i++) { host(h, sizeof h, i); printf("    - \"*/%s\"\n", h); }
    printf("  - port:\n      number: 443\n      name: https\n      protocol: HTTPS\n    tls:\n      mode: PASSTHROUGH\n    hosts:\n");
    for (long i = 0; i < n; i++) { host(h, sizeof h, i); printf("    - \"*/%s\"\n", h); }
    for (long i = 0; i < n; i++) {
        host(h, sizeof h, i);
        printf("---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se-%05ld\n  namespace: apps\n"
               "spec:\n  hosts:\n  - %s\n  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n"
               "  - number: 443\n    name: https\n    protocol: TLS\n  resolution: DNS\n"
               "  endpoints:\n  - address: %s\n    labels:\n      version: v1\n", i, h, h);
        printf("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr-%05ld\n  namespace: apps\n"
               "spec:\n  host: %s\n  trafficPolicy:\n    tls:\n      mode: DISABLE\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n", i, h);
        printf("---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs-%05ld\n  namespace: apps\n"
               "spec:\n  hosts:\n  - %s\n  gateways:\n  - istio-system/proxy\n  - mesh\n  http:\n"
               "  - match:\n    - uri:\n        prefix: /api/v%ld\n"
               "    route:\n    - destination:\n        host: %s\n        subset: v1\n        port:\n          number: 80\n"
               "  - route:\n    - destination:\n        host: %s\n        subset: v1\n        port:\n          number: 80\n"
               "  tls:\n  - match:\n    - port: 443\n      sniHosts:\n      - %s\n    route:\n    - destination:\n        host: %s\n        port:\n          number: 443\n",
               i, h, i % 7, h, h, h, h);
    }
    return 0;
}
