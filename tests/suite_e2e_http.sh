#!/usr/bin/env bash
# HTTP/1.1 through meshrt: what reaches the upstream (headers Envoy adds,
# rewrites, hop-by-hop removal, path normalization), and every local reply
# with Envoy's status, flags, details and body: 404 NR, 503 UF after two
# retries, 503 UH, 503 NC, 504 UT, 400 DPE, 431, 426, 501, 408, redirect,
# direct_response; Expect: 100-continue; round robin; timeouts.
. "$(dirname "$0")/e2e_lib.sh"

build_img e2e testdata/e2e/ || { nok "meshc build testdata/e2e"; done_testing; exit 1; }
start_origin O || exit 1
start_origin O2 || exit 1
start_origin DEAD || exit 1
DEAD_PORT_CLOSED=$DEAD_PORT
kill "$DEAD_PID"; wait "$DEAD_PID" 2>/dev/null

start_meshrt MR "$T/e2e.img" --workers 2 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "origin.test:80=127.0.0.1:$O_PORT" --resolve "dead.test:80=127.0.0.1:$DEAD_PORT_CLOSED" \
    --resolve "127.0.0.1:80=127.0.0.1:$O_PORT" --resolve "127.0.0.2:80=127.0.0.1:$O2_PORT" || exit 1
H=$(mr_addr MR 80)
LOCAL_IP=$(curl -s --max-time 5 "$MR_ADMIN/server_info" | sed -n 's/.*"local_address": "\([^"]*\)".*/\1/p')
uuid='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

# ---- a proxied request: response headers
hdrs=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: origin.test' | tr -d '\r'; echo END)
like "$hdrs" $'^HTTP/1.1 200 OK\n' "status line with Envoy's reason phrase"
like "$hdrs" $'\nserver: istio-envoy\n' "server: istio-envoy replaces the upstream's"
like "$hdrs" $'\nx-envoy-upstream-service-time: [0-9]+\n' "x-envoy-upstream-service-time"
like "$hdrs" $'\ndate: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT\n\nEND$' "date added, last"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$H/status/418" -H 'Host: origin.test')
teapot=$(curl -s -D - -o /dev/null --max-time 10 "$H/status/418" -H 'Host: origin.test' | head -1 | tr -d '\r')
is "$teapot" "HTTP/1.1 418 Unknown" "418 gets Envoy's reason phrase (Unknown)"

# ---- the upstream request as the origin saw it
up=$(curl -s --max-time 10 "$H/headers?q=1" -H 'Host: origin.test' -H 'X-Custom: Value' -H 'x-request-id: client-chosen' \
    -H 'Connection: keep-alive, x-secret' -H 'x-secret: drop me' -H 'Keep-Alive: timeout=5' -H 'Proxy-Connection: x' \
    -H 'TE: gzip' -H 'x-envoy-retry-on: 5xx' -H 'X-Forwarded-For: 203.0.113.7' | tr -d '\r'; echo END)
like "$up" $'^GET /headers\\?q=1 HTTP/1.1\nhost: origin.test\n' "request line, then host first"
like "$up" $'\nx-custom: Value\n' "field names lowercased, values kept"
like "$up" $'\nx-forwarded-for: 203.0.113.7,'"$LOCAL_IP"$'\n' "x-forwarded-for: client list plus our address (loopback peer: the local address, as Envoy)"
like "$up" $'\nx-forwarded-proto: http\n' "x-forwarded-proto: http"
like "$up" $'\nx-request-id: '"$uuid"$'\n' "x-request-id: a new UUIDv4"
check "the client's x-request-id is replaced (edge request)" eval '! grep -q client-chosen <<<"$up"'
like "$up" $'\nx-envoy-external-address: 127.0.0.1\n' "x-envoy-external-address"
like "$up" $'\nx-envoy-attempt-count: 1\n\nEND$' "x-envoy-attempt-count: 1, last"
check "hop-by-hop fields removed (connection, keep-alive, proxy-connection, te, nominated x-secret)" \
    eval '! grep -qiE "^(connection|keep-alive|proxy-connection|te|x-secret):" <<<"$up"'
check "internal x-envoy-* request fields stripped" eval '! grep -qi "^x-envoy-retry-on" <<<"$up"'

# ---- path normalization (BASE): what routes is what goes upstream
up=$(curl -s --path-as-is --max-time 10 "$H/public/../a/%2e%2e/headers" -H 'Host: origin.test' | head -1 | tr -d '\r')
is "$up" "GET /headers HTTP/1.1" "dot segments (and %2e%2e) removed before routing and upstream"
body=$(curl -s --path-as-is --max-time 10 "$H/public/../admin" -H 'Host: origin.test')
is "$body" "admin denied" "/public/../admin routes as /admin, never to the catch-all"

# ---- rewrite, header operations, redirect, direct response
up=$(curl -s --max-time 10 "$H/rw/headers" -H 'Host: origin.test' | tr -d '\r'; echo END)
like "$up" $'^GET /headers HTTP/1.1\n' "rewrite.uri: /rw/ -> /"
like "$up" $'\nx-envoy-original-path: /rw/headers\n\nEND$' "x-envoy-original-path"
resp=$(curl -s -D - --max-time 10 "$H/hdr" -H 'Host: origin.test' | tr -d '\r'; echo END)
like "$resp" $'\nx-test: one\n\nEND$' "headers.request.set reaches the upstream"
like "$resp" $'\nx-resp: yes\n' "headers.response.set on the response"
resp=$(curl -s -D - -o /dev/null --max-time 10 "$H/redirect?a=b" -H 'Host: origin.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 301 Moved Permanently\n' "redirect: 301"
like "$resp" $'\nlocation: http://other.test/moved' "redirect location"
resp=$(curl -s -D - --max-time 10 "$H/direct" -H 'Host: origin.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 200 OK\ncontent-length: 12\ncontent-type: text/plain\n' "direct_response head"
like "$resp" $'\n\nhello direct$' "direct_response body"

# ---- local replies
resp=$(curl -s -D - --max-time 10 "$H/x" -H 'Host: unknown.test' | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 404 Not Found\ndate: [^\n]+\nserver: istio-envoy\ncontent-length: 0\n\nEND$' "404 NR: no body, content-length: 0"
line=$(log_line "$T/MR.log" '"GET /x HTTP/1.1" 404')
like "$line" '" 404 NR route_not_found ' "404 logged NR route_not_found"

resp=$(curl -s -D - --max-time 10 "$H/x" -H 'Host: dead.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 503 Service Unavailable\ncontent-length: 190\ncontent-type: text/plain\n' "UF: 503 with a text body"
like "$resp" $'\n\nupstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused$' \
    "UF body after retries, as Envoy"
line=$(log_line "$T/MR.log" '"GET /x HTTP/1.1" 503 .*dead.test')
like "$line" '" 503 UF,URX upstream_reset_before_response_started\{remote_connection_failure\|delayed_connect_error:_Connection_refused\} - "delayed_connect_error:_Connection_refused" ' \
    "UF logged with URX, details and transport failure reason"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'cluster.outbound\\|80\\|\\|dead.test.upstream_cx_connect_fail: 3\n' "three connection attempts (Istio's default 2 retries)"
like "$stats" $'cluster.outbound\\|80\\|\\|dead.test.upstream_rq_retry: 2\n' "two retries"

resp=$(curl -s -D - --max-time 10 "$H/x" -H 'Host: none.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 503 Service Unavailable\ncontent-length: 19\ncontent-type: text/plain\n.*\n\nno healthy upstream$' "UH: 503 no healthy upstream"
like "$(log_line "$T/MR.log" '"GET /x HTTP/1.1" 503 UH')" '" 503 UH no_healthy_upstream ' "UH logged"

resp=$(curl -s -D - --max-time 10 "$H/x" -H 'Host: nc.test' | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 503 Service Unavailable\ndate: [^\n]+\nserver: istio-envoy\ncontent-length: 0\n\nEND$' "NC: 503, no body"
like "$(log_line "$T/MR.log" '"GET /x HTTP/1.1" 503 NC')" '" 503 NC cluster_not_found .*outbound\|80\|missing\|origin.test' "NC logged with the missing cluster"

start=$(date +%s%N)
resp=$(curl -s -D - --max-time 10 "$H/hang" -H 'Host: origin.test' | tr -d '\r')
ms=$(( ($(date +%s%N) - start) / 1000000 ))
like "$resp" $'^HTTP/1.1 504 Gateway Timeout\ncontent-length: 24\ncontent-type: text/plain\n.*\n\nupstream request timeout$' "UT: 504 upstream request timeout"
check "the route's 500ms timeout fired (${ms} ms)" test "$ms" -ge 450 -a "$ms" -lt 5000
like "$(log_line "$T/MR.log" '"GET /hang HTTP/1.1" 504')" '" 504 UT upstream_response_timeout ' "UT logged"

# codec errors: Envoy's reason phrase as body, then close
resp=$(printf 'POST / HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' | "$TOOLS/rawc" -t 5 "$H" | tr -d '\r')
like "$resp" $'^HTTP/1.1 400 Bad Request\ncontent-length: 11\ncontent-type: text/plain\n.*\nconnection: close\n\nBad Request$' "CL+TE: 400, connection closed"
like "$(log_line "$T/MR.log" '" 400 DPE')" '" 400 DPE http1.content_length_and_chunked_not_allowed ' "400 logged DPE with Envoy's details"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
code=$(curl -s -o "$T/b431" -w '%{http_code}' --max-time 10 "$H/" -H 'Host: origin.test' -H "X-Big: $big")
is "$code" 431 "60 KiB of headers: 431"
is "$(cat "$T/b431")" "Request Header Fields Too Large" "431 body"
hargs=()
for i in $(seq 1 101); do hargs+=(-H "x-h$i: v"); done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$H/" -H 'Host: origin.test' "${hargs[@]}")
is "$code" 431 "more than 100 headers: 431"
resp=$(curl -s -D - --http1.0 --max-time 10 "$H/" -H 'Host: origin.test' | tr -d '\r')
like "$resp" $'^HTTP/1.1 426 Upgrade Required\ncontent-length: 16\n.*\nconnection: close\n\nUpgrade Required$' "HTTP/1.0: 426 Upgrade Required"
like "$(log_line "$T/MR.log" '" 426 ')" '" 426 DPE low_version ' "426 logged"
resp=$(printf 'POST / HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: gzip\r\n\r\n' | "$TOOLS/rawc" -t 5 "$H" | head -1 | tr -d '\r')
is "$resp" "HTTP/1.1 501 Not Implemented" "Transfer-Encoding: gzip: 501"

# ---- Expect: 100-continue goes to the upstream; its 100 comes back
head -c 300000 /dev/urandom > "$T/body"
out=$(curl -s -v --max-time 10 -H 'Host: origin.test' -H 'Expect: 100-continue' --data-binary @"$T/body" "$H/continue" 2>&1 | tr -d '\r')
like "$out" $'< HTTP/1.1 100 Continue' "100 Continue relayed"
like "$out" $'bytes=300000 sum=' "body delivered after 100 Continue"

# ---- round robin over two STATIC endpoints (DestinationRule ROUND_ROBIN)
ports=""
for i in 1 2 3 4; do
    p=$(curl -s -D - -o /dev/null --max-time 10 "$H/" -H 'Host: two.test' | tr -d '\r' | sed -n 's/^x-origin-port: //p')
    ports="$ports $p"
done
check "round robin alternates endpoints:$ports" test "$(tr ' ' '\n' <<<"$ports" | sort -u | grep -c .)" -eq 2

# ---- HEAD, absolute-form targets
resp=$(curl -s -I --max-time 10 "$H/bytes/100" -H 'Host: origin.test' | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 200 OK\n.*content-length: 100\n.*\n\nEND$' "HEAD: the upstream's content-length, no body"
resp=$(printf 'GET http://origin.test/headers HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n' | "$TOOLS/rawc" -t 5 "$H" | tr -d '\r')
like "$resp" $'\n\nGET /headers HTTP/1.1\nhost: origin.test\n' "absolute-form: routed by its authority, sent in origin-form"

# ---- admin
like "$(curl -s --max-time 5 "$MR_ADMIN/ready")" '^LIVE$' "/ready: LIVE"
dump=$(curl -s --max-time 5 "$MR_ADMIN/config_dump")
like "$dump" '"prefix": "/hang"' "/config_dump lists the routes"
like "$dump" '"timeout_ms": 500' "/config_dump shows a route's timeout"
like "$dump" '"name": "outbound\|80\|\|origin.test"' "/config_dump lists the clusters"
clusters=$(curl -s --max-time 5 "$MR_ADMIN/clusters")
like "$clusters" "outbound\\|80\\|\\|origin.test::127.0.0.1:$O_PORT::rq_success::[1-9]" "/clusters: per-host counters"
like "$clusters" "outbound\\|80\\|\\|dead.test::127.0.0.1:$DEAD_PORT_CLOSED::cx_connect_fail::3" "/clusters: connect failures per host"
json=$(curl -s --max-time 5 "$MR_ADMIN/stats?format=json&filter=dead")
like "$json" '^\{"stats":\[\{"name":"cluster.outbound\|80\|\|dead.test.upstream_cx_active","value":0\}' "/stats?format=json&filter=RE2"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$MR_ADMIN/nope")
is "$code" 404 "unknown admin path: 404"

# ---- istio metrics
prom=$(curl -s --max-time 5 "$MR_ADMIN/stats/prometheus")
like "$prom" 'istio_requests_total\{reporter="source",source_workload="istio-ingressgateway",[^}]*destination_service="dead.test"[^}]*response_code="503"[^}]*response_flags="UF,URX"[^}]*\} 1' \
    "istio_requests_total with Istio's labels"
like "$prom" 'istio_request_duration_milliseconds_bucket\{[^}]*destination_service="origin.test"[^}]*le="\+Inf"\} [0-9]+' "istio_request_duration_milliseconds histogram"
stop_meshrt MR

# ---- timeouts that stop slow clients (configurable)
start_meshrt MR2 "$T/e2e.img" --workers 1 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "origin.test:80=127.0.0.1:$O_PORT" --request-headers-timeout 1s --idle-timeout 2s || exit 1
H2=$(mr_addr MR2 80)
start=$(date +%s%N)
resp=$(printf 'GET / HTTP/1.1\r\nHost: origin.test\r\n' | "$TOOLS/rawc" -t 6 "$H2" | tr -d '\r')
ms=$(( ($(date +%s%N) - start) / 1000000 ))
like "$resp" $'^HTTP/1.1 408 Request Timeout\n.*\n\nrequest header timeout$' "incomplete head: 408 after --request-headers-timeout"
start=$(date +%s%N)
: | "$TOOLS/rawc" -t 6 "$H2" > /dev/null
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "idle connection closed after --idle-timeout (${ms} ms, rc $rc)" test "$rc" -eq 0 -a "$ms" -ge 1500 -a "$ms" -lt 5000
stop_meshrt MR2
done_testing
