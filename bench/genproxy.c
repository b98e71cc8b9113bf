/*
** genproxy.c -- the routable N-host configuration of bench/bench_proxy.sh:
**   genproxy N > config.yaml
** One Gateway (an HTTP server on 80 and a TLS PASSTHROUGH server on 443,
** each listing every host), then per host a DNS ServiceEntry (ports 80
** and 443) and a VirtualService with two HTTP routes (a prefix and a
** catch-all, both to the host) and a TLS route by SNI. Unlike bench/gen
** (whose subsets select no endpoint: 503 UH, as in Istio) every request
** reaches an upstream; meshrt is pointed at it with --resolve.
*/
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) { fputs("usage: genproxy N\n", stderr); return 2; }
    long n = atol(argv[1]);
    if (n <= 0 || n > 1000000) { fputs("genproxy: N must be 1..1000000\n", stderr); return 2; }
    printf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: proxy\n  namespace: istio-system\n"
           "spec:\n  selector:\n    istio: ingressgateway\n  servers:\n"
           "  - port:\n      number: 80\n      name: http\n      protocol: HTTP\n    hosts:\n");
    for (long i = 0; i < n; i++) printf("    - \"*/svc%05ld.example.com\"\n", i);
    printf("  - port:\n      number: 443\n      name: https\n      protocol: HTTPS\n    tls:\n      mode: PASSTHROUGH\n    hosts:\n");
    for (long i = 0; i < n; i++) printf("    - \"*/svc%05ld.example.com\"\n", i);
    for (long i = 0; i < n; i++) {
        printf("---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se-%05ld\n  namespace: apps\n"
               "spec:\n  hosts:\n  - svc%05ld.example.com\n  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n"
               "  - number: 443\n    name: https\n    protocol: TLS\n  resolution: DNS\n", i, i);
        printf("---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs-%05ld\n  namespace: apps\n"
               "spec:\n  hosts:\n  - svc%05ld.example.com\n  gateways:\n  - istio-system/proxy\n  http:\n"
               "  - match:\n    - uri:\n        prefix: /api/v%ld\n"
               "    route:\n    - destination:\n        host: svc%05ld.example.com\n        port:\n          number: 80\n"
               "  - route:\n    - destination:\n        host: svc%05ld.example.com\n        port:\n          number: 80\n"
               "  tls:\n  - match:\n    - port: 443\n      sniHosts:\n      - svc%05ld.example.com\n    route:\n    - destination:\n"
               "        host: svc%05ld.example.com\n        port:\n          number: 443\n",
               i, i, i % 7, i, i, i, i);
    }
    return 0;
}
