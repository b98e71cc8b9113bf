#!/usr/bin/env bash
# HTTPRoute actions through meshrt, with Istio's and Envoy's semantics
# (../shared/reference/istio-semantics.md sections 1.8, 1.9 and 6): rewrites
# (prefix splice, regex, authority, x-envoy-original-path), redirects and
# direct responses, header operations at route and destination level, the
# fault filter (delay DI, abort FI, percentages), retries (retryOn tokens,
# status codes, per-try timeouts, Istio's default policy, URX) and timeouts
# (504 UT), mirrors (-shadow host, percentages, never slowing or failing
# the request), CORS (preflights, simple responses) and weighted splits.
. "$(dirname "$0")/e2e_lib.sh"

build_img act testdata/e2e_actions/ || { nok "meshc build testdata/e2e_actions"; done_testing; exit 1; }
start_origin A --log "$T/a.log" || exit 1
start_origin B || exit 1
start_origin S --log "$T/s.log" || exit 1
start_origin SLOW --echo || exit 1        # answers no HTTP: a mirror that never completes
start_origin DEAD || exit 1
kill "$DEAD_PID"; wait "$DEAD_PID" 2>/dev/null

start_meshrt MR "$T/act.img" --workers 2 --listen 80=127.0.0.1:0 \
    --resolve "a.test:80=127.0.0.1:$A_PORT" --resolve "b.test:80=127.0.0.1:$B_PORT" \
    --resolve "shadow.test:80=127.0.0.1:$S_PORT" --resolve "slowshadow.test:80=127.0.0.1:$SLOW_PORT" \
    --resolve "deadshadow.test:80=127.0.0.1:$DEAD_PORT" --resolve "dead.test:80=127.0.0.1:$DEAD_PORT" || exit 1
H=$(mr_addr MR 80)
get() { curl -s --max-time 10 -H 'Host: act.test' "$@"; }
# the last origin log line for a request target prefix (waits for it)
alog() {
    local i=0
    while [ $i -lt 60 ]; do
        grep -F -- "$2" "$1" 2>/dev/null | tail -1 | grep . && return 0
        sleep 0.05; i=$((i + 1))
    done
    return 1
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- rewrites
get "$H/splice/headers" > /dev/null
like "$(alog "$T/a.log" 'GET //headers')" '^GET //headers act.test 0$' "rewrite.uri /splice -> / on /splice/headers gives //headers (Envoy's splice)"
up=$(get "$H/rw/headers?q=1" | tr -d '\r')
like "$up" $'^GET /headers\\?q=1 HTTP/1.1\n' "rewrite.uri /rw/ -> / keeps the query"
like "$up" $'\nx-envoy-original-path: /rw/headers\\?q=1(\n|$)' "x-envoy-original-path carries the path before the rewrite"
like "$(log_line "$T/MR.log" '"GET /rw/headers')" '"GET /rw/headers\?q=1 HTTP/1.1" 200 ' "the access log shows the original path"
up=$(get "$H/users/ann/headers" | tr -d '\r')
like "$up" $'^GET /headers\\?user=ann HTTP/1.1\n' "uriRegexRewrite with a backreference"
up=$(get "$H/auth" | tr -d '\r')
like "$up" $'^GET /headers HTTP/1.1\nhost: internal.test\n' "rewrite.authority replaces host"
like "$(log_line "$T/MR.log" '"GET /auth ')" '"internal.test" "127.0.0.1:' "the access log's authority is the rewritten one"

# ---- redirects and direct responses
resp=$(get -D - -o /dev/null "$H/r302/x?a=1" | tr -d '\r')
like "$resp" $'^HTTP/1.1 302 Found\n' "redirectCode 302"
like "$resp" $'\nlocation: http://act.test/new\\?a=1\n' "redirect uri replaces the path, keeps the query"
resp=$(get -D - -o /dev/null "$H/rscheme" | tr -d '\r')
like "$resp" $'^HTTP/1.1 308 Permanent Redirect\n.*location: https://secure.test:8443/rscheme\n' "redirect scheme, authority, port, 308"
resp=$(get -D - -o /dev/null "$H/rderive" | tr -d '\r')
like "$resp" $'^HTTP/1.1 301 Moved Permanently\n.*location: http://act.test/derived\n' "derivePort FROM_REQUEST_PORT on port 80 (http): no port"
like "$resp" $'\ncontent-length: 0$' "a redirect has an empty body"
resp=$(get -D - "$H/direct" | tr -d '\r')
like "$resp" $'^HTTP/1.1 503 Service Unavailable\ncontent-length: 20\ncontent-type: text/plain\n' "directResponse status and length"
like "$resp" $'\n\ndown for maintenance$' "directResponse body"
like "$(log_line "$T/MR.log" '"GET /direct ')" '" 503 - direct_response ' "directResponse logged without flags"

# ---- header operations, applied after routing
resp=$(get -D - "$H/hdr" -H 'x-set: client' -H 'x-add: client' -H 'x-drop: secret' | tr -d '\r')
like "$resp" $'\nx-set: route\n' "headers.request.set reaches the upstream"
check "headers.request.set replaces the client's value" eval '! grep -q "^x-set: client" <<<"$resp"'
like "$resp" $'\nx-add: client\n.*\nx-add: route-added\n' "headers.request.add appends to the client's field"
check "headers.request.remove drops the field" eval '! grep -q "^x-drop:" <<<"$resp"'
like "$resp" $'\nx-dest: a(\n|$)' "destination-level request headers"
like "$resp" $'\nx-resp-set: yes\n' "headers.response.set"
like "$resp" $'\nx-resp-add: more\n' "headers.response.add"
like "$resp" $'\nx-dest-resp: a\n' "destination-level response headers"
check "headers.response.remove drops the upstream's field" eval '! grep -q "^x-origin-conn:" <<<"$resp"'
mism=0
for i in $(seq 1 20); do
    r=$(get -D - "$H/wsplit-headers" | tr -d '\r')
    port=$(sed -n 's/^x-origin-port: //p' <<<"$r" | head -1)
    which=$(sed -n 's/^x-which: //p' <<<"$r")
    wresp=$(sed -n 's/^x-which-resp: //p' <<<"$r")
    want=a; [ "$port" = "$B_PORT" ] && want=b
    [ "$which" = "$want" ] && [ "$wresp" = "$want" ] || mism=$((mism + 1))
done
is "$mism" 0 "weighted destinations: each picked destination's own header operations"

# ---- fault injection
resp=$(get -D - "$H/fault-abort" | tr -d '\r')
like "$resp" $'^HTTP/1.1 418 Unknown\ncontent-length: 18\ncontent-type: text/plain\n.*\n\nfault filter abort$' "fault.abort: the status and Envoy's body"
like "$(log_line "$T/MR.log" '"GET /fault-abort ')" '" 418 FI fault_filter_abort ' "abort logged FI fault_filter_abort"
check "an aborted request never reaches the upstream" eval '! grep -q "fault-abort" "$T/a.log"'
t0=$(date +%s%N)
code=$(get -o /dev/null -w '%{http_code}' "$H/fault-delay")
ms=$(ms_since "$t0")
is "$code" 200 "fault.delay: then proxied (the 300ms route timeout starts after the delay)"
check "fault.delay of 400ms held the request (${ms} ms)" test "$ms" -ge 390 -a "$ms" -lt 3000
like "$(log_line "$T/MR.log" '"GET /fault-delay ')" '" 200 DI via_upstream ' "delay logged DI"
t0=$(date +%s%N)
code=$(get -o /dev/null -w '%{http_code}' "$H/fault-both")
ms=$(ms_since "$t0")
is "$code" 503 "delay then abort"
check "the abort came after the 200ms delay (${ms} ms)" test "$ms" -ge 190
like "$(log_line "$T/MR.log" '"GET /fault-both ')" '" 503 DI,FI fault_filter_abort ' "delay and abort logged DI,FI"
urls=(); for i in $(seq 1 200); do urls+=("$H/fault-half/$i"); done
aborted=$(get -w '\nCODE %{http_code}\n' "${urls[@]}" | grep -c '^CODE 500$')
check "abort percentage 50: $aborted of 200 aborted" test "$aborted" -ge 60 -a "$aborted" -le 140
urls=(); for i in $(seq 1 50); do urls+=("$H/fault-never/$i"); done
aborted=$(get -w '\nCODE %{http_code}\n' "${urls[@]}" | grep -c '^CODE 500$')
is "$aborted" 0 "abort without a percentage never fires"

# ---- retries and timeouts
head -c 100000 /dev/zero > "$T/big"
is "$(get -w ' %{http_code}' "$H/r5xx/flaky/3/503")" $'attempt 3\n 200' "retryOn 5xx, 3 attempts: the third attempt answers"
resp=$(printf 'POST /r5xx/flaky/3/503?body HTTP/1.1\r\nHost: act.test\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n%s' "$(head -c 2000 /dev/zero | tr '\0' p)" |
    "$TOOLS/rawc" -t 5 -s 500 -d 30 "$H" | tr -d '\r')
like "$resp" $'^HTTP/1.1 200 OK\n.*\n\nattempt 3$' "a POST with a body (sent in segments) is retried on 5xx"
is "$(grep -c '^POST /flaky/3/503?body act.test 2000$' "$T/a.log")" 3 "... each attempt carried the whole body"
is "$(get -w ' %{http_code}' --data-binary @"$T/big" "$H/r5xx/flaky/3/503?big")" $'attempt 1\n 503' \
    "a body over 64 KiB is not kept, so not retried after it went up"
is "$(get -w ' %{http_code}' "$H/r1/flaky/3/503")" $'attempt 2\n 503' "attempts 1: the retried 503 is passed on"
like "$(log_line "$T/MR.log" '"GET /r1/flaky')" '" 503 URX via_upstream ' "retries exhausted: URX"
is "$(get -w ' %{http_code}' "$H/rgw/flaky/2/500")" $'attempt 1\n 500' "gateway-error does not retry a 500"
is "$(get -w ' %{http_code}' "$H/rgw/flaky/2/502")" $'attempt 2\n 200' "gateway-error retries a 502"
is "$(get -w ' %{http_code}' "$H/r4xx/flaky/2/409")" $'attempt 2\n 200' "retriable-4xx retries a 409"
is "$(get -w ' %{http_code}' "$H/r4xx/flaky/2/404")" $'attempt 1\n 404' "retriable-4xx leaves a 404 alone"
is "$(get -w ' %{http_code}' "$H/rcode/flaky/2/418")" $'attempt 2\n 200' "a status code in retryOn is retried"
is "$(get -w ' %{http_code}' "$H/rcodes/flaky/2/429")" $'attempt 2\n 200' "retriable-status-codes with a code"
is "$(get -w ' %{http_code}' "$H/rdefault/flaky/2/503")" $'attempt 1\n 503' "Istio's default policy retries no status code"
resp=$(get -w ' %{http_code}' "$H/rreset/drop")
like "$resp" 'retried and the latest reset reason: connection termination 503$' "retryOn reset: a dropped connection is retried, then 503"
like "$(log_line "$T/MR.log" '"GET /rreset/drop')" '" 503 UC,URX upstream_reset_before_response_started\{connection_termination\} ' "logged UC,URX"
t0=$(date +%s%N)
resp=$(get -w ' %{http_code}' "$H/rpertry/slowfirst/2/2000")
ms=$(ms_since "$t0")
is "$resp" $'attempt 2\n 200' "perTryTimeout 200ms: the slow first attempt is abandoned and retried"
check "... well before the slow answer (${ms} ms)" test "$ms" -ge 190 -a "$ms" -lt 1500
t0=$(date +%s%N)
resp=$(get -D - "$H/rtimeout/slowfirst/9/2000" | tr -d '\r')
ms=$(ms_since "$t0")
like "$resp" $'^HTTP/1.1 504 Gateway Timeout\n.*\n\nupstream request timeout$' "timeout 700ms across per-try retries: 504"
check "the route timeout bounds all attempts (${ms} ms)" test "$ms" -ge 650 -a "$ms" -lt 1800
like "$(log_line "$T/MR.log" '"GET /rtimeout/')" '" 504 UT upstream_response_timeout ' "logged UT"
resp=$(get "$H/rnone/x")
like "$resp" 'before headers. reset reason: remote connection failure' "attempts 0: no retry policy, a single connection attempt"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'cluster.outbound\\|80\\|\\|dead.test.upstream_cx_connect_fail: 1\n' "attempts 0: exactly one connect"
like "$stats" $'cluster.outbound\\|80\\|\\|a.test.upstream_rq_retry: [1-9]' "retries counted on the cluster"

# ---- mirrors
: > "$T/s.log"
resp=$(curl -s --max-time 10 -D - "$H/mirror/one" -H 'Host: act.test:8080' | tr -d '\r')
like "$resp" $'^HTTP/1.1 200 OK\n' "mirrored request answered by the main cluster"
like "$(alog "$T/s.log" '/mirror/one')" '^GET /mirror/one act.test-shadow:8080 0$' "the copy reaches the mirror with -shadow before the port"
like "$(alog "$T/a.log" '/mirror/one')" '^GET /mirror/one act.test:8080 0$' "the main request keeps its host"
get -o /dev/null "$H/mirror/post" -d 'hello=world'
like "$(alog "$T/s.log" '/mirror/post')" '^POST /mirror/post act.test-shadow 11$' "a small body is mirrored too"
body=$(head -c 3000 /dev/zero | tr '\0' 'b')
resp=$(printf 'POST /mirror/late HTTP/1.1\r\nHost: act.test\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n%s' "$body" |
    "$TOOLS/rawc" -t 5 -s 700 -d 60 "$H" | tr -d '\r' | head -1)
is "$resp" "HTTP/1.1 200 OK" "a body sent in slow segments is proxied"
like "$(alog "$T/s.log" '/mirror/late')" '^POST /mirror/late act.test-shadow 3000$' "... and mirrored whole (copied as it goes upstream)"
code=$(get -o /dev/null -w '%{http_code}' --data-binary @"$T/big" "$H/mirror/big")
is "$code" 200 "a 100 KB body is proxied"
like "$(alog "$T/a.log" '/mirror/big')" '^POST /mirror/big act.test 100000$' "... whole"
check "... but not mirrored (bodies over 64 KiB are not copied)" eval '! grep -q "/mirror/big" "$T/s.log"'
t0=$(date +%s%N)
code=$(get -o /dev/null -w '%{http_code}' "$H/mirror-slow/x")
ms=$(ms_since "$t0")
is "$code" 200 "a mirror that never answers does not fail the request"
check "... nor slow it (${ms} ms)" test "$ms" -lt 2000
code=$(get -o /dev/null -w '%{http_code}' "$H/mirror-dead/x")
is "$code" 200 "a mirror that refuses connections does not fail the request"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'cluster.outbound\\|80\\|\\|deadshadow.test.upstream_cx_connect_fail: 1\n' "the dead mirror's connect failure is counted on its cluster"
: > "$T/s.log"
urls=(); for i in $(seq 1 200); do urls+=("$H/mirror-half/$i"); done
get -o /dev/null "${urls[@]}"
sleep 0.5
mirrored=$(grep -c '^GET /mirror-half/' "$T/s.log")
check "mirror percentage 50: $mirrored of 200 mirrored" test "$mirrored" -ge 60 -a "$mirrored" -le 140

# ---- CORS
resp=$(get -D - -o /dev/null -X OPTIONS "$H/cors/pre" -H 'Origin: https://a.example' -H 'Access-Control-Request-Method: POST' | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 200 OK\naccess-control-allow-origin: https://a.example\naccess-control-allow-credentials: true\naccess-control-allow-methods: GET,POST\naccess-control-allow-headers: x-token,content-type\naccess-control-max-age: 3600\n' \
    "preflight answered by the gateway with the policy's fields"
like "$resp" $'\ncontent-length: 0\n\nEND$' "preflight: empty body"
check "an answered preflight never reaches the upstream" eval '! grep -q "^OPTIONS /pre" "$T/a.log"'
like "$(log_line "$T/MR.log" '"OPTIONS /cors/pre ')" '" 200 - cors_response ' "preflight logged cors_response"
resp=$(get -D - -o /dev/null -X OPTIONS "$H/cors/evil" -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST' | tr -d '\r')
like "$(alog "$T/a.log" 'OPTIONS /evil')" '^OPTIONS /evil ' "an unmatched preflight is forwarded (unmatchedPreflights FORWARD, the default)"
check "... and gets no access-control-allow-origin" eval '! grep -qi "^access-control-allow-origin" <<<"$resp"'
resp=$(get -D - -o /dev/null -X OPTIONS "$H/cors-ignore/ign" -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET' | tr -d '\r')
like "$resp" $'^HTTP/1.1 200 OK\naccess-control-allow-methods: GET\n' "unmatchedPreflights IGNORE: answered here, without allow-origin"
get -o /dev/null "$H/cors-ignore/after"
alog "$T/a.log" 'GET /after' > /dev/null
check "... and not forwarded" eval '! grep -q "^OPTIONS /ign" "$T/a.log"'
resp=$(get -D - -o /dev/null -X OPTIONS "$H/cors-any/x" -H 'Origin: https://any.example' -H 'Access-Control-Request-Method: PATCH' -H 'Access-Control-Request-Headers: x-a,x-b' | tr -d '\r')
like "$resp" $'\naccess-control-allow-origin: https://any.example\n' "allowOrigins regex .* allows any origin"
like "$resp" $'\naccess-control-allow-methods: PATCH\n' "allowMethods * echoes the requested method"
like "$resp" $'\naccess-control-allow-headers: x-a,x-b\n' "allowHeaders * echoes the requested headers"
resp=$(get -D - -o /dev/null "$H/cors/status/418" -H 'Origin: https://x.trusted.example' | tr -d '\r')
like "$resp" $'\naccess-control-allow-origin: https://x.trusted.example\naccess-control-allow-credentials: true\naccess-control-expose-headers: x-exp\n' \
    "simple request from an allowed origin: allow-origin, credentials, expose-headers"
check "the upstream's access-control-allow-origin (*) is replaced" eval '! grep -q "^access-control-allow-origin: \*" <<<"$resp"'
resp=$(get -D - -o /dev/null "$H/cors/x" -H 'Origin: https://evil.example' | tr -d '\r')
check "simple request from another origin: no CORS fields" eval '! grep -qi "^access-control-" <<<"$resp"'
resp=$(get -D - -o /dev/null "$H/cors/x" | tr -d '\r')
check "no Origin: no CORS fields" eval '! grep -qi "^access-control-" <<<"$resp"'

# ---- weighted destinations: 90/10 over 1000 requests
urls=(); for i in $(seq 1 1000); do urls+=("$H/split/$i"); done
get -o /dev/null -w '%header{x-origin-port}\n' "${urls[@]}" > "$T/split"
na=$(grep -cx "$A_PORT" "$T/split"); nb=$(grep -cx "$B_PORT" "$T/split")
is "$((na + nb))" 1000 "every split request answered"
check "90/10 split: $nb of 1000 to the 10% destination (within 4 points)" test "$nb" -ge 60 -a "$nb" -le 140

stop_meshrt MR
done_testing
