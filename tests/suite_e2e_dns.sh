#!/usr/bin/env bash
# DNS endpoints resolved in the loop with c-ares against a test DNS server
# (tests/tools/dnsd): the first answer routes, a changed answer is picked
# up after its TTL, a name without addresses is 503 UH, and overrides
# with --resolve take precedence over DNS.
. "$(dirname "$0")/e2e_lib.sh"

start_origin O || exit 1
start_origin O2 --listen "127.0.0.2:$O_PORT" || exit 1
cat > "$T/zone" <<EOF
dns.test 1 127.0.0.1
EOF
start_dnsd D "$T/zone" || exit 1
cat > "$T/dns.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: dns
  namespace: default
spec:
  hosts:
  - dns.test
  - nxdomain.test
  ports:
  - number: 80
    name: http
    protocol: HTTP
    targetPort: $O_PORT
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: dns
  namespace: default
spec:
  hosts:
  - dns.test
  - nxdomain.test
  gateways:
  - istio-system/gw
  http:
  - match:
    - authority:
        prefix: nxdomain.test
    route:
    - destination:
        host: nxdomain.test
  - route:
    - destination:
        host: dns.test
EOF
build_img dns "$T/dns.yaml" || { nok "meshc build"; done_testing; exit 1; }
start_meshrt MR "$T/dns.img" --workers 2 --listen 80=127.0.0.1:0 --dns-resolvers "127.0.0.1:$D_PORT" || exit 1
H=$(mr_addr MR 80)

resolved() { grep -q "^query dns.test" "$T/D.out"; }
check "the name was asked at start-up" wait_for 10 resolved
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$H/status/200" -H 'Host: dns.test')
is "$code" 200 "routed to the DNS answer"
like "$(log_line "$T/MR.log" '"GET /status/200 HTTP/1.1" 200')" "\"127.0.0.1:$O_PORT\" outbound\\|80\\|\\|dns.test " "upstream host is the answer's address"

# the answer changes; after the 1 s TTL the next lookup moves the traffic
cat > "$T/zone.new" <<EOF
dns.test 1 127.0.0.2
EOF
mv "$T/zone.new" "$T/zone"
moved() {
    curl -s -o /dev/null --max-time 5 "$H/status/201" -H 'Host: dns.test'
    grep -q "\"127.0.0.2:$O_PORT\" outbound|80||dns.test" "$T/MR.log"
}
check "a changed answer is followed after its TTL" wait_for 10 moved
queries=$(grep -c '^query dns.test' "$T/D.out")
check "refreshed per TTL ($queries queries)" test "$queries" -ge 2

resp=$(curl -s -D - --max-time 10 "$H/" -H 'Host: nxdomain.test' | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 503 Service Unavailable\n.*\n\nno healthy upstream' "a name without addresses: 503 UH"
like "$(log_line "$T/MR.log" ' 503 UH ')" '" 503 UH no_healthy_upstream ' "logged UH"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'dns.cares.queries: [2-9]' "DNS queries counted"
clusters=$(curl -s --max-time 5 "$MR_ADMIN/clusters")
like "$clusters" "outbound\\|80\\|\\|dns.test::127.0.0.2:$O_PORT::hostname::dns.test" "/clusters shows the resolved host"
stop_meshrt MR

# --resolve wins over DNS
start_meshrt MR2 "$T/dns.img" --workers 1 --listen 80=127.0.0.1:0 --dns-resolvers "127.0.0.1:$D_PORT" \
    --resolve "dns.test:$O_PORT=127.0.0.1:$O_PORT" || exit 1
curl -s -o /dev/null --max-time 10 "$(mr_addr MR2 80)/status/202" -H 'Host: dns.test'
like "$(log_line "$T/MR2.log" '"GET /status/202 HTTP/1.1" 202')" "\"127.0.0.1:$O_PORT\" outbound\\|80\\|\\|dns.test " "--resolve overrides the DNS answer"
stop_meshrt MR2
done_testing
