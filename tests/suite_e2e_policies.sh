#!/usr/bin/env bash
# DestinationRule policies through meshrt, real processes on 127.0.0.1:
# connectionPool circuit breakers (503 UO with Envoy's body and counters),
# outlier detection (ejection visible in /clusters, ejected hosts skipped
# and returned), load balancers (ROUND_ROBIN order, LEAST_REQUEST avoiding
# the busy host, RANDOM spread), consistentHash on a header, a cookie, the
# source IP and a query parameter (ring hash and Maglev), TLS origination
# (tls.mode SIMPLE: caCertificates, sni, insecureSkipVerify), and the
# per-cluster counters in /stats/prometheus.
. "$(dirname "$0")/e2e_lib.sh"

build_img pol testdata/e2e_policies/ || { nok "meshc build testdata/e2e_policies"; done_testing; exit 1; }
start_origin A || exit 1
start_origin B || exit 1
start_origin C || exit 1
start_origin DEAD || exit 1
DEAD_PORT_CLOSED=$DEAD_PORT
kill "$DEAD_PID"; wait "$DEAD_PID" 2>/dev/null
start_origin ECHO --echo || exit 1
start_origin DEAD2 || exit 1
DEAD2_PORT_CLOSED=$DEAD2_PORT
kill "$DEAD2_PID"; wait "$DEAD2_PID" 2>/dev/null

start_meshrt MR "$T/pol.img" --workers 1 --listen 80=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "127.0.3.1:9000=127.0.0.1:$ECHO_PORT" --resolve "127.0.3.2:9000=127.0.0.1:$DEAD_PORT_CLOSED" \
    --resolve "127.0.1.1:80=127.0.0.1:$A_PORT" --resolve "127.0.1.2:80=127.0.0.1:$B_PORT" \
    --resolve "127.0.1.3:80=127.0.0.1:$C_PORT" --resolve "127.0.2.9:80=127.0.0.1:$DEAD_PORT_CLOSED" \
    --resolve "127.0.2.8:80=127.0.0.1:$DEAD2_PORT_CLOSED" || exit 1
H=$(mr_addr MR 80)

# the origin port that answered a request: origin_of HOST [curl args...]
origin_of() {
    local host=$1; shift
    curl -s -D - -o /dev/null --max-time 10 "$H/" -H "Host: $host" "$@" | tr -d '\r' | sed -n 's/^x-origin-port: //p'
}
name_of() {
    case $1 in
    "$A_PORT") echo A ;; "$B_PORT") echo B ;; "$C_PORT") echo C ;; *) echo "?$1" ;;
    esac
}
prom() { curl -s --max-time 5 "$MR_ADMIN/stats/prometheus"; }
# one cluster counter from /stats/prometheus: pcount STAT CLUSTER-HOST
pcount() {
    prom | awk -v s="envoy_cluster_$1{cluster_name=\"outbound|80||$2\"}" 'index($0, s) == 1 { print $2 }'
}

# ---- connectionPool: maxConnections 1, http1MaxPendingRequests 1
for i in 1 2 3; do
    curl -s -o "$T/lim$i.body" -w '%{http_code}' --max-time 10 "$H/delay/2500" -H 'Host: limit.test' > "$T/lim$i.code" &
    eval "LIM$i=\$!"
    sleep 0.15
done
wait "$LIM1" "$LIM2" "$LIM3"
codes="$(cat "$T/lim1.code") $(cat "$T/lim2.code") $(cat "$T/lim3.code")"
is "$codes" "200 200 503" "maxConnections 1 + 1 pending: the first two wait their turn, the third overflows"
is "$(cat "$T/lim3.body")" "upstream connect error or disconnect/reset before headers. reset reason: overflow" \
    "overflow body, as Envoy's"
line=$(log_line "$T/MR.log" '" 503 UO ')
like "$line" '" 503 UO upstream_reset_before_response_started\{overflow\} ' "access log: 503 UO upstream_reset_before_response_started{overflow}"
is "$(pcount upstream_rq_pending_overflow limit.test)" 1 "envoy_cluster_upstream_rq_pending_overflow counts it"
is "$(pcount upstream_cx_total limit.test)" 1 "one upstream connection served both requests"
is "$(pcount upstream_rq_pending_total limit.test)" 1 "upstream_rq_pending_total: one request waited"
# afterwards, sequential requests are fine again
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$H/" -H 'Host: limit.test')
is "$code" 200 "after the burst the cluster serves again"

# http2MaxRequests 1: a second concurrent request overflows at once
curl -s -o /dev/null --max-time 10 "$H/delay/2000" -H 'Host: reqlimit.test' &
RQ1=$!
sleep 0.2
resp=$(curl -s -w ' %{http_code}' --max-time 10 "$H/" -H 'Host: reqlimit.test')
wait "$RQ1"
is "$resp" "upstream connect error or disconnect/reset before headers. reset reason: overflow 503" \
    "http2MaxRequests 1: the second active request gets 503 UO"

# ---- connectionPool: maxRequestsPerConnection 1, idleTimeout 300ms, maxConnectionDuration 500ms
conn_of() { curl -s -D - -o /dev/null --max-time 10 "$H/" -H "Host: $1" | tr -d '\r' | sed -n 's/^x-origin-conn: //p'; }
c1=$(conn_of perconn.test); c2=$(conn_of perconn.test); c3=$(conn_of perconn.test)
check "maxRequestsPerConnection 1: a new upstream connection per request ($c1 $c2 $c3)" test "$c1" != "$c2" -a "$c2" != "$c3"
i1=$(conn_of idle.test); i2=$(conn_of idle.test)
is "$i2" "$i1" "idleTimeout 300ms: back-to-back requests share a connection"
sleep 0.6
i3=$(conn_of idle.test)
check "idleTimeout 300ms: after 600 ms idle a new connection ($i1 -> $i3)" test "$i3" != "$i1"
g1=$(conn_of age.test); g2=$(conn_of age.test)
is "$g2" "$g1" "maxConnectionDuration 500ms: back-to-back requests share a connection"
sleep 0.7
g3=$(conn_of age.test)
check "maxConnectionDuration 500ms: a connection older than that is not reused ($g1 -> $g3)" test "$g3" != "$g1"

# ---- subsets with their own policies: lim has the limits, the service none
burst() {   # burst HEADER: three concurrent slow requests, their codes
    local i
    for i in 1 2 3; do
        curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$H/delay/2000" -H 'Host: subsets.test' -H "x-subset: $1" > "$T/b$i.code" &
        eval "B$i=\$!"
        sleep 0.1
    done
    wait "$B1" "$B2" "$B3"
    echo "$(cat "$T/b1.code") $(cat "$T/b2.code") $(cat "$T/b3.code")"
}
is "$(burst lim)" "200 200 503" "subset lim: its own connectionPool (one connection, one pending)"
is "$(burst none)" "200 200 200" "the service without subset: no limits"
seq=""
for i in 1 2 3 4; do seq="$seq$(name_of "$(origin_of subsets.test -H 'x-subset: one')")"; done
is "$seq" "AAAA" "subset one: only the endpoints with its labels"

# ---- outlier detection: od.test = A + a dead endpoint, consecutive5xxErrors 2,
# interval 200ms, baseEjectionTime 3s; round robin. Connect failures count as
# 5xx; Istio's default retries take the request to A meanwhile.
for i in 1 2 3 4; do origin_of od.test > /dev/null; done
clusters=$(curl -s --max-time 5 "$MR_ADMIN/clusters")
like "$clusters" $'outbound\\|80\\|\\|od.test::127.0.0.1:'"$DEAD_PORT_CLOSED"$'::health_flags::/failed_outlier_check' \
    "/clusters: the dead endpoint is ejected (failed_outlier_check)"
like "$clusters" $'outbound\\|80\\|\\|od.test::127.0.0.1:'"$A_PORT"$'::health_flags::healthy' "/clusters: the live one stays healthy"
json=$(curl -s --max-time 5 "$MR_ADMIN/clusters?format=json")
like "$json" '"failed_outlier_check": true' "/clusters?format=json shows failed_outlier_check"
is "$(pcount outlier_detection_ejections_active od.test)" 1 "envoy_cluster_outlier_detection_ejections_active 1"
is "$(pcount outlier_detection_ejections_enforced_consecutive_5xx od.test)" 1 "ejections_enforced_consecutive_5xx 1"
fails_before=$(pcount upstream_cx_connect_fail od.test)
ports=""
for i in 1 2 3 4 5 6; do ports="$ports $(name_of "$(origin_of od.test)")"; done
is "$ports" " A A A A A A" "ejected endpoint skipped: every request goes to A"
is "$(pcount upstream_cx_connect_fail od.test)" "$fails_before" "no connection attempt to the ejected endpoint"
# returned after baseEjectionTime (3 s, checked every 200 ms)
returned() { curl -s --max-time 5 "$MR_ADMIN/clusters" | grep -q "od.test::127.0.0.1:$DEAD_PORT_CLOSED::health_flags::healthy"; }
t0=$(date +%s%N)
wait_for 10 returned
t1=$(date +%s%N)
clusters=$(curl -s --max-time 5 "$MR_ADMIN/clusters")
like "$clusters" $'od.test::127.0.0.1:'"$DEAD_PORT_CLOSED"$'::health_flags::healthy' "after baseEjectionTime the endpoint is back"
check "... and not much before ($(( (t1 - t0) / 1000000 )) ms after the checks above)" test $(( (t1 - t0) / 1000000 )) -ge 1000
is "$(pcount outlier_detection_ejections_active od.test)" 0 "ejections_active back to 0"
for i in 1 2 3 4; do origin_of od.test > /dev/null; done
is "$(pcount upstream_cx_connect_fail od.test)" "$((fails_before + 2))" "the returned endpoint is tried again (and ejected again)"
like "$(curl -s --max-time 5 "$MR_ADMIN/clusters")" $'od.test::127.0.0.1:'"$DEAD_PORT_CLOSED"$'::health_flags::/failed_outlier_check' \
    "second ejection"

# maxEjectionPercent 30 of 3 hosts: one ejection (33% would exceed it), the second dead host overflows
for i in 1 2 3 4 5 6; do origin_of odmax.test > /dev/null; done
is "$(pcount outlier_detection_ejections_active odmax.test)" 1 "maxEjectionPercent 30: one host of three ejected"
check "maxEjectionPercent: the next ejection is refused (ejections_overflow)" test "$(pcount outlier_detection_ejections_overflow odmax.test)" -ge 1

# TCP: a connect failure ejects (consecutive5xxErrors 1), then every
# connection reaches the echo server
HTCP=$(mr_addr MR 9000)
got=""
for i in 1 2 3 4 5 6; do got="$got$(printf 'x' | "$TOOLS/rawc" -w -t 5 "$HTCP" 2>/dev/null)"; done
check "TCP: the dead endpoint is tried once at most, then skipped ($got)" test "$got" = xxxxxx -o "$got" = xxxxx
like "$(curl -s --max-time 5 "$MR_ADMIN/clusters")" $'odtcp.test::127.0.0.1:'"$DEAD_PORT_CLOSED"$'::health_flags::/failed_outlier_check' \
    "TCP: connect failures eject the endpoint"

# ---- load balancers
seq=""
for i in 1 2 3 4 5 6; do seq="$seq$(name_of "$(origin_of rr.test)")"; done
check "ROUND_ROBIN: the three endpoints in turn ($seq)" test "${seq:0:3}" = "${seq:3:3}" -a \
    "$(fold -w1 <<<"${seq:0:3}" | sort -u | tr -d '\n')" = ABC

# LEAST_REQUEST: with A busy on a slow request, two choices out of two
# always pick B
curl -s -o /dev/null --max-time 10 "$H/delay/3000" -H 'Host: lr.test' > /dev/null &
LR1=$!
sleep 0.2
busy=$(curl -s --max-time 5 "$MR_ADMIN/clusters" | sed -n 's/^outbound|80||lr.test::\(.*\)::rq_active::1$/\1/p')
seq=""
for i in 1 2 3 4 5 6 7 8; do seq="$seq$(name_of "$(origin_of lr.test)")"; done
wait "$LR1"
check "LEAST_REQUEST: a host has the slow request ($busy)" test -n "$busy"
like "$seq" '^(AAAAAAAA|BBBBBBBB)$' "LEAST_REQUEST (two choices): every request avoids the busy host ($seq)"
check "LEAST_REQUEST: not the busy one" test "127.0.0.1:$( [ "${seq:0:1}" = A ] && echo "$A_PORT" || echo "$B_PORT")" != "$busy"

seq=""
for i in $(seq 1 30); do seq="$seq$(name_of "$(origin_of random.test)")"; done
na=$(tr -cd A <<<"$seq" | wc -c); nb=$(tr -cd B <<<"$seq" | wc -c); nc=$(tr -cd C <<<"$seq" | wc -c)
check "RANDOM: all three endpoints used over 30 requests (A=$na B=$nb C=$nc)" test "$na" -gt 0 -a "$nb" -gt 0 -a "$nc" -gt 0
check "RANDOM: not round robin" test "$seq" != "$(printf 'ABC%.0s' $(seq 1 10))" -a "$seq" != "$(printf 'BCA%.0s' $(seq 1 10))" \
    -a "$seq" != "$(printf 'CAB%.0s' $(seq 1 10))"

# ---- consistentHash: one key always reaches the same host; keys spread
sticky() {   # sticky HOST ARGS-WITH-@KEY@: prints "same|differs" and the set of hosts over keys
    local host=$1 tmpl=$2 k first h ok=same all=""
    for k in alice bob carol dave erin frank grace heidi ivan judy; do
        first=""
        for i in 1 2 3; do
            h=$(eval "origin_of $host ${tmpl//@KEY@/$k}")
            [ -z "$first" ] && first=$h
            [ "$h" = "$first" ] || ok=differs
        done
        all="$all $(name_of "$first")"
    done
    echo "$ok $(tr ' ' '\n' <<<"$all" | sort -u | grep -c .)"
}
r=$(sticky hdr.test "-H 'x-user: @KEY@'")
is "${r% *}" same "consistentHash httpHeaderName: a key sticks to one host"
check "consistentHash httpHeaderName: ten keys use several hosts (${r#* })" test "${r#* }" -ge 2
r=$(sticky cookie.test "-H 'Cookie: a=1; session=@KEY@; b=2'")
is "${r% *}" same "consistentHash httpCookie: a cookie value sticks to one host"
check "consistentHash httpCookie: ten values use several hosts (${r#* })" test "${r#* }" -ge 2
# a missing cookie is made and set when the policy has a ttl (0s: a session cookie)
resp=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: cookie.test' | tr -d '\r')
like "$resp" $'\nset-cookie: session="[0-9a-f]{16}"; HttpOnly\n' "httpCookie ttl 0s: a missing cookie is set, a session cookie"
cv=$(sed -n 's/^set-cookie: session="\([0-9a-f]*\)".*/\1/p' <<<"$resp")
port=$(sed -n 's/^x-origin-port: //p' <<<"$resp")
seq=""
for i in 1 2 3 4 5; do seq="$seq $(origin_of cookie.test -H "Cookie: session=\"$cv\"")"; done
is "$seq" " $port $port $port $port $port" "the generated cookie keeps the client on the host that answered"
resp=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: cookie.test' -H "Cookie: session=\"$cv\"" | tr -d '\r')
check "a request that has the cookie gets no new one" eval '! grep -qi "^set-cookie" <<<"$resp"'
resp=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: cookiettl.test' | tr -d '\r')
like "$resp" $'\nset-cookie: sticky="[0-9a-f]{16}"; Max-Age=60; Path=/app; HttpOnly\n' "httpCookie ttl 60s, path /app: Max-Age and Path"
resp=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: cookienottl.test' | tr -d '\r')
check "httpCookie without ttl: no cookie is made" eval '! grep -qi "^set-cookie" <<<"$resp"'
r=$(sticky maglev.test "-H 'x-user: @KEY@'")
is "${r% *}" same "consistentHash maglev: a key sticks to one host"
check "consistentHash maglev: ten keys use several hosts (${r#* })" test "${r#* }" -ge 2
qsticky() {
    local k first h ok=same all=""
    for k in alice bob carol dave erin frank grace heidi ivan judy; do
        first=""
        for i in 1 2 3; do
            h=$(curl -s -D - -o /dev/null --max-time 10 "$H/x?z=1&u=$k" -H "Host: query.test" | tr -d '\r' | sed -n 's/^x-origin-port: //p')
            [ -z "$first" ] && first=$h
            [ "$h" = "$first" ] || ok=differs
        done
        all="$all $first"
    done
    echo "$ok $(tr ' ' '\n' <<<"$all" | sort -u | grep -c .)"
}
r=$(qsticky)
is "${r% *}" same "consistentHash httpQueryParameterName: a value sticks to one host"
check "consistentHash httpQueryParameterName: ten values use several hosts (${r#* })" test "${r#* }" -ge 2
seq=""
for i in 1 2 3 4 5 6; do seq="$seq$(name_of "$(origin_of srcip.test)")"; done
like "$seq" '^(AAAAAA|BBBBBB|CCCCCC)$' "consistentHash useSourceIp: one client, one host ($seq)"
# without a key: Envoy picks at random (no error)
seq=""
for i in $(seq 1 20); do seq="$seq$(name_of "$(origin_of hdr.test)")"; done
check "consistentHash without the header: spread at random ($seq)" test "$(fold -w1 <<<"$seq" | sort -u | grep -c .)" -ge 2

# ---- per-cluster counters under Envoy's names
p=$(prom)
like "$p" $'\nenvoy_cluster_upstream_rq\\{response_code_class="2xx",cluster_name="outbound\\|80\\|\\|rr.test"\\} 6\n' \
    "envoy_cluster_upstream_rq{response_code_class=\"2xx\"}"
like "$p" $'\nenvoy_cluster_upstream_rq\\{response_code="200",cluster_name="outbound\\|80\\|\\|rr.test"\\} 6\n' \
    "envoy_cluster_upstream_rq{response_code=\"200\"}"
like "$p" $'\n# TYPE envoy_cluster_outlier_detection_ejections_active gauge\n' "ejections_active is a gauge"
like "$p" $'\nenvoy_cluster_upstream_cx_overflow\\{cluster_name="outbound\\|80\\|\\|limit.test"\\} [1-9]' "upstream_cx_overflow"
check "upstream_rq_retry counts the retries around the dead endpoint" test "$(pcount upstream_rq_retry od.test)" -ge 2
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'\ncluster.outbound\\|80\\|\\|od.test.outlier_detection.ejections_enforced_total: [1-9]' \
    "/stats: cluster.NAME.outlier_detection.ejections_enforced_total"

dump=$(curl -s --max-time 5 "$MR_ADMIN/config_dump" | tr -d ' \n')
like "$dump" '"name":"outbound\|80\|\|limit.test"[^}]*"circuit_breakers":\{"max_connections":1,"max_pending_requests":1,' \
    "/config_dump: a cluster's circuit breakers"
like "$dump" '"hash_policy":\{"kind":"query","name":"u","minimum_ring_size":2048\}' "/config_dump: a consistent-hash policy"
like "$dump" '"outlier_detection":\{"consecutive_5xx":2,' "/config_dump: outlier detection"

stop_meshrt MR

# ---- tls.mode SIMPLE: plain HTTP in, HTTPS out, against openssl s_server
# with a CA and a server certificate (SAN tls.test) made here
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 1 -subj /CN=policies-test-ca \
    > /dev/null 2>&1 || nok "openssl req (CA)"
openssl req -newkey rsa:2048 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj /CN=tls.test > /dev/null 2>&1
printf 'subjectAltName=DNS:tls.test\n' > "$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -out "$T/srv.pem" -days 1 \
    -extfile "$T/srv.ext" > /dev/null 2>&1 || nok "openssl x509 (server certificate)"
# start_s_server VAR DIR MODE [ARGS...]: openssl s_server in DIR (-www: a
# status page, -WWW: files), its port read from ss(8); sets VAR_PORT
start_s_server() {
    local var=$1 dir=$2 mode=$3 pid port= i
    shift 3
    (cd "$dir" && exec openssl s_server -accept 127.0.0.1:0 -cert "$T/srv.pem" -key "$T/srv.key" "$mode" -quiet "$@" \
        > "$T/$var.out" 2>&1) &
    pid=$!
    PIDS+=("$pid")
    for i in $(seq 1 100); do
        port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
        [ -n "$port" ] && break
        sleep 0.05
    done
    printf -v "${var}_PORT" %s "$port"
    [ -n "$port" ]
}
start_s_server SS "$T" -www || { nok "openssl s_server did not start"; done_testing; exit 1; }
# a second one serving files for a body larger than any buffer
mkdir -p "$T/www"
head -c 3000000 /dev/urandom > "$T/www/big.bin"
start_s_server SS2 "$T/www" -WWW || nok "openssl s_server -WWW did not start"
# a third one that demands a client certificate from the CA (MUTUAL)
openssl req -newkey rsa:2048 -nodes -keyout "$T/cli.key" -out "$T/cli.csr" -subj /CN=meshrt-client > /dev/null 2>&1
openssl x509 -req -in "$T/cli.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -out "$T/cli.pem" -days 1 \
    > /dev/null 2>&1 || nok "openssl x509 (client certificate)"
start_s_server SS3 "$T" -www -Verify 1 -CAfile "$T/ca.pem" || nok "openssl s_server -Verify did not start"

# services on port 443 (HTTPS), routed from the plain HTTP gateway; the
# DestinationRules' TLS settings are port-level (Istio's egress pattern)
tls_service() {   # NAME TLS-SETTINGS... (REWRITE=HOST: the route rewrites the authority)
    local name=$1 l rw=""; shift
    [ -n "${REWRITE:-}" ] && rw=$'\n    rewrite:\n      authority: '"$REWRITE"
    cat <<EOF
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: $name
  namespace: default
spec:
  hosts:
  - $name.test
  gateways:
  - istio-system/gw
  http:
  - route:
    - destination:
        host: $name.test
        port:
          number: 443$rw
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: $name
  namespace: default
spec:
  hosts:
  - $name.test
  ports:
  - number: 443
    name: https
    protocol: HTTPS
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: $name
  namespace: default
spec:
  host: $name.test
  trafficPolicy:
    portLevelSettings:
    - port:
        number: 443
      tls:
        mode: ${MODE:-SIMPLE}
EOF
    for l in "$@"; do echo "        $l"; done
}
{
    sed -n '1,/^---$/p' testdata/e2e_policies/gateway.yaml | sed '$d'
    tls_service tls "caCertificates: $T/ca.pem"
    tls_service insecure "insecureSkipVerify: true"
    tls_service noca
    tls_service wrongsni "caCertificates: $T/ca.pem" "sni: other.test"
    tls_service alias "caCertificates: $T/ca.pem" "sni: tls.test"
    tls_service files "caCertificates: $T/ca.pem" "sni: tls.test"
    REWRITE=tls.test tls_service rw "caCertificates: $T/ca.pem"
    REWRITE=other.test tls_service rwbad "caCertificates: $T/ca.pem"
    MODE=MUTUAL tls_service mtls "caCertificates: $T/ca.pem" "clientCertificate: $T/cli.pem" "privateKey: $T/cli.key" "sni: tls.test"
    tls_service nocert "caCertificates: $T/ca.pem" "sni: tls.test"
} > "$T/tls.yaml"
build_img tls "$T/tls.yaml" || { nok "meshc build tls.yaml"; done_testing; exit 1; }
resolves=()
for svc in tls insecure noca wrongsni alias rw rwbad; do resolves+=(--resolve "$svc.test:443=127.0.0.1:$SS_PORT"); done
start_meshrt MT "$T/tls.img" --workers 1 --listen 80=127.0.0.1:0 "${resolves[@]}" --resolve "files.test:443=127.0.0.1:$SS2_PORT" \
    --resolve "mtls.test:443=127.0.0.1:$SS3_PORT" --resolve "nocert.test:443=127.0.0.1:$SS3_PORT" || exit 1
HT=$(mr_addr MT 80)

resp=$(curl -s -i --max-time 10 "$HT/" -H 'Host: tls.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 200 OK\n' "SIMPLE with caCertificates: plain HTTP in, HTTPS out, 200"
like "$resp" 's_server -accept' "the answer is the TLS server's page"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/again" -H 'Host: tls.test')
is "$resp" 200 "a second request over TLS"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: insecure.test')
is "$resp" 200 "insecureSkipVerify: an untrusted certificate is accepted"
resp=$(curl -s -w ' %{http_code}' --max-time 10 "$HT/" -H 'Host: noca.test')
like "$resp" '^upstream connect error or disconnect/reset before headers\. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:\|CERTIFICATE_VERIFY_FAILED[^|]*:TLS_error_end 503$' \
    "no caCertificates: the system roots refuse the test CA (503 UF, TLS_error)"
line=$(log_line "$T/MT.log" '" 503 UF,URX .*noca.test')
like "$line" '" 503 UF,URX upstream_reset_before_response_started\{remote_connection_failure\|TLS_error:' "logged UF with the TLS failure"
resp=$(curl -s -w ' %{http_code}' --max-time 10 "$HT/" -H 'Host: wrongsni.test')
like "$resp" 'CERTIFICATE_VERIFY_FAILED.* 503$' "sni other.test: the certificate (tls.test) does not match, 503"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: alias.test')
is "$resp" 200 "sni tls.test on alias.test: the SNI names the certificate, 200"
sum=$(curl -s --max-time 20 "$HT/big.bin" -H 'Host: files.test' | md5sum)
is "$sum" "$(md5sum < "$T/www/big.bin")" "a 3 MB body over TLS arrives whole (bytes held inside OpenSSL included)"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: rw.test')
is "$resp" 200 "no sni: auto SNI from the rewritten authority (tls.test) matches the certificate"
resp=$(curl -s -w ' %{http_code}' --max-time 10 "$HT/" -H 'Host: rwbad.test')
like "$resp" 'CERTIFICATE_VERIFY_FAILED.* 503$' "no sni: auto SNI other.test (the rewritten authority) does not match, 503"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: mtls.test')
is "$resp" 200 "MUTUAL: the client certificate is presented, 200"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: nocert.test')
is "$resp" 503 "SIMPLE to a server that wants a client certificate: 503"
resp=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HT/" -H 'Host: tls.test:80')
is "$resp" 200 "auto SNI drops the authority's port"
p=$(curl -s --max-time 5 "$MT_ADMIN/stats/prometheus")
like "$p" $'\nenvoy_cluster_upstream_cx_connect_fail\\{cluster_name="outbound\\|443\\|\\|noca.test"\\} 3\n' \
    "TLS handshake failures count as upstream_cx_connect_fail (3 attempts)"
stop_meshrt MT
done_testing
