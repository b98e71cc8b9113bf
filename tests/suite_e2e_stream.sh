#!/usr/bin/env bash
# Connections and bodies through meshrt: keep-alive on both sides (one
# upstream connection reused), pipelined requests answered in order,
# chunked uploads and downloads, a 1 GiB body each way with meshrt's
# resident memory bounded, an upstream that dies mid-response, a client
# that goes away mid-request, and no leaks (descriptors and memory back
# to their baseline).
. "$(dirname "$0")/e2e_lib.sh"

build_img e2e testdata/e2e/ || { nok "meshc build testdata/e2e"; done_testing; exit 1; }
start_origin O || exit 1
# a short idle timeout closes pooled upstream connections too, so the
# descriptor count can return exactly to its baseline
start_meshrt MR "$T/e2e.img" --workers 1 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "origin.test:80=127.0.0.1:$O_PORT" --idle-timeout 1s || exit 1
H=$(mr_addr MR 80)
PID=$MR_PID
# ASan builds: smaller bodies (instrumented copies are slow) and no RSS
# bound (the sanitizer's shadow memory and quarantine dominate)
if [ "$SAN" = 1 ]; then BIG=$((64 * 1024 * 1024)); else BIG=$((1024 * 1024 * 1024)); fi

# baseline after a first request, once its connections went idle and closed
curl -s -o /dev/null --max-time 10 "$H/" -H 'Host: origin.test'
sleep 1.6
FD0=$(nfds "$PID")
RSS0=$(rss_kb "$PID")

# ---- keep-alive both sides: one client connection, one upstream connection
cx_total() { curl -s --max-time 5 "$MR_ADMIN/stats" | sed -n 's/^cluster.outbound|80||origin.test.upstream_cx_total: //p'; }
CX0=$(cx_total)
out=$(curl -s -D - -o /dev/null --max-time 10 "$H/a" "$H/b" "$H/c" -H 'Host: origin.test' | tr -d '\r')
conns=$(sed -n 's/^x-origin-conn: //p' <<<"$out" | sort -u | wc -l)
reqs=$(sed -n 's/^x-origin-req: //p' <<<"$out" | tr '\n' ' ')
is "$conns" 1 "three requests on one client connection use one upstream connection"
like "$reqs" '^[0-9]+ [0-9]+ [0-9]+ $' "upstream requests counted on that connection ($reqs)"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'http.outbound_0.0.0.0_80.downstream_cx_total: 2\n' "curl kept its connection alive (two client connections so far)"
is "$(cx_total)" "$((CX0 + 1))" "one new upstream connection for the three requests"

# ---- pipelining: three requests in one write, answered in order
resp=$(printf 'GET /status/201 HTTP/1.1\r\nHost: origin.test\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: origin.test\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n' \
    | "$TOOLS/rawc" -t 5 "$H" | tr -d '\r' | grep '^HTTP/1.1' | tr '\n' '|')
is "$resp" "HTTP/1.1 201 Created|HTTP/1.1 202 Accepted|HTTP/1.1 204 No Content|" "pipelined requests answered in order"
resp=$(printf 'POST /upload HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n' \
    | "$TOOLS/rawc" -t 5 "$H" | tr -d '\r')
like "$resp" $'bytes=5 sum=[0-9]+\n?HTTP/1.1 202 Accepted' "a pipelined request after a chunked body"

resp=$(printf 'POST /direct HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /status/203 HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n' \
    | "$TOOLS/rawc" -t 5 "$H" | grep -oE 'HTTP/1\.1 [0-9]{3}' | tr '\n' '|')
is "$resp" "HTTP/1.1 200|HTTP/1.1 203|" "a body a local reply did not need is skipped; the next pipelined request is answered"

# ---- chunked uploads and downloads
head -c 5000000 /dev/urandom > "$T/up"
want=$(curl -s --max-time 30 -H 'Host: origin.test' --data-binary @"$T/up" "$H/upload")
got=$(curl -s --max-time 30 -H 'Host: origin.test' -H 'Transfer-Encoding: chunked' --data-binary @"$T/up" "$H/upload")
like "$want" '^bytes=5000000 sum=' "5 MB upload with Content-Length"
is "$got" "$want" "the same bytes uploaded chunked (re-framed by the proxy)"
hdr=$(curl -s -D - -o "$T/down" --max-time 30 -H 'Host: origin.test' "$H/stream/3000000" | tr -d '\r')
like "$hdr" $'\ntransfer-encoding: chunked$' "chunked download stays chunked"
is "$(wc -c < "$T/down")" 3000000 "chunked download: every byte"
is "$(tr -d y < "$T/down" | wc -c)" 0 "chunked download: the right bytes"

# ---- a large body each way, memory bounded
hwm0=$(hwm_kb "$PID")
got=$(head -c "$BIG" /dev/zero | curl -s --max-time 300 -H 'Host: origin.test' -T - "$H/upload")
like "$got" "^bytes=$BIG sum=" "$BIG-byte chunked upload through the proxy"
got=$(curl -s --max-time 300 -H 'Host: origin.test' "$H/bytes/$BIG" | wc -c)
is "$got" "$BIG" "$BIG-byte download through the proxy"
hwm=$(hwm_kb "$PID")
if [ "$SAN" = 1 ]; then
    ok "peak RSS $hwm KiB (not bounded under ASan)"
else
    check "peak RSS under 64 MB while streaming $BIG bytes each way (peak $hwm KiB, before $hwm0 KiB)" test "$hwm" -lt 65536
fi

# ---- an upstream that dies mid-response
curl -s -o "$T/die" --max-time 10 -H 'Host: origin.test' "$H/die/100000"
rc=$?
check "truncated response is not passed off as complete (curl exit $rc)" test "$rc" -ne 0
like "$(log_line "$T/MR.log" '"GET /die/100000 HTTP/1.1" 200')" '" 200 UC upstream_reset_after_response_started\{connection_termination\} ' \
    "logged 200 UC, reset after the response started"
resp=$(curl -s -D - --max-time 10 -H 'Host: origin.test' "$H/drop" | tr -d '\r'; echo END)
like "$resp" $'^HTTP/1.1 503 Service Unavailable\n.*\n\nupstream connect error or disconnect/reset before headers. reset reason: connection terminationEND$' \
    "upstream closing before a response: 503 UC"
like "$(log_line "$T/MR.log" '"GET /drop HTTP/1.1" 503')" '" 503 UC upstream_reset_before_response_started\{connection_termination\} ' "UC logged"

# ---- a client that goes away mid-request
printf 'POST /upload HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 100000\r\n\r\nonly a few bytes' | "$TOOLS/rawc" -x "$H"
like "$(log_line "$T/MR.log" '"POST /upload HTTP/1.1" 0 DC')" '" 0 DC downstream_remote_disconnect ' "client gone mid-body: logged 0 DC"
printf 'GET /hang HTTP/1.1\r\nHost: origin.test\r\n\r\n' | "$TOOLS/rawc" -t 0.3 "$H" > /dev/null
like "$(log_line "$T/MR.log" '"GET /hang HTTP/1.1" 0 DC')" '" 0 DC ' "client gone while waiting for the upstream: logged 0 DC"
printf 'GET / HTTP/1.1\r\nHost: orig' | "$TOOLS/rawc" -x "$H"

# ---- many short connections, then back to the baseline
cpids=()
for i in $(seq 1 200); do
    curl -s -o /dev/null --max-time 5 "$H/status/200" -H 'Host: origin.test' &
    cpids+=($!)
    if [ $((i % 40)) = 0 ]; then wait "${cpids[@]}"; cpids=(); fi
done
sleep 1.5
FD1=$(nfds "$PID")
RSS1=$(rss_kb "$PID")
check "descriptors back to baseline ($FD0 -> $FD1; idle pooled upstream connections may remain)" test "$FD1" -le $((FD0 + 4))
if [ "$SAN" = 1 ]; then
    ok "RSS $RSS0 -> $RSS1 KiB (not bounded under ASan)"
else
    check "memory back to baseline ($RSS0 -> $RSS1 KiB)" test "$RSS1" -le $((RSS0 + 8192))
fi
active=$(curl -s --max-time 5 "$MR_ADMIN/stats" | sed -n 's/^http.outbound_0.0.0.0_80.downstream_rq_active: //p')
is "$active" 0 "no request left active"
stop_meshrt MR
done_testing
