#!/usr/bin/env bash
# TLS passthrough and plain TCP through meshrt: the ClientHello is peeked,
# not consumed (an echo upstream returns every byte), across 1-byte TCP
# segments and across several TLS records (over 16 KiB); no chain for the
# SNI: the connection closes with an NR log line; a ClientHello that never
# completes is cut by --client-hello-timeout; the TCP server's route;
# half-close passed on; bulk bytes through splice(2) and without it.
. "$(dirname "$0")/e2e_lib.sh"

build_img e2e testdata/e2e/ || { nok "meshc build testdata/e2e"; done_testing; exit 1; }
start_origin E --echo || exit 1
start_meshrt MR "$T/e2e.img" --workers 2 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "echo.test:443=127.0.0.1:$E_PORT" --resolve "echo.test:9000=127.0.0.1:$E_PORT" --client-hello-timeout 1s || exit 1
TLS=$(mr_addr MR 443)
TCP=$(mr_addr MR 9000)

out=$("$TOOLS/hello" -n echo.test -s 1 -d 1 "$TLS")
like "$out" '^echo ok [0-9]+$' "ClientHello in 1-byte segments: routed by SNI, every byte passed on"
out=$("$TOOLS/hello" -n echo.test -s 7 -d 0 -p 20000 "$TLS")
like "$out" '^echo ok [0-9]+$' "a 20 KiB ClientHello over two TLS records"
out=$("$TOOLS/hello" -n echo.test -s 3000 -d 1 -p 3000 -r 100 "$TLS")
like "$out" '^echo ok [0-9]+$' "a ClientHello cut into 100-byte records"
line=$(log_line "$T/MR.log" '"- - -" 0 - - - "-" [0-9]+ [0-9]+ .* echo.test -$')
like "$line" "outbound\\|443\\|\\|echo.test 127.0.0.1:[0-9]+ 127.0.0.1:${TLS##*:} 127.0.0.1:[0-9]+ echo.test -\$" "passthrough connection logged with cluster and SNI"

out=$("$TOOLS/hello" -n other.test -s 64 "$TLS")
like "$out" '^closed after 0 bytes$' "unknown SNI: closed, nothing passed on"
line=$(log_line "$T/MR.log" ' NR filter_chain_not_found ')
like "$line" '"- - -" 0 NR filter_chain_not_found .* other.test -$' "unknown SNI logged NR filter_chain_not_found"
out=$("$TOOLS/hello" -s 64 "$TLS")
like "$out" '^closed after 0 bytes$' "no SNI and no catch-all chain: closed"
start=$(date +%s%N)
printf '\x16\x03\x01\x02\x00\x01' | "$TOOLS/rawc" -t 5 "$TLS" > /dev/null
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "an incomplete ClientHello is cut after --client-hello-timeout (${ms} ms, rc $rc)" test "$rc" -eq 0 -a "$ms" -ge 800 -a "$ms" -lt 4000
curl -s --max-time 5 -o /dev/null "http://$TLS/" 2>/dev/null
like "$(log_line "$T/MR.log" ' NR filter_chain_not_found .* - -$')" 'NR' "plain text on the TLS port: no chain, logged NR"

# plain TCP: the one route, bytes both ways, half-close passed on
out=$(printf 'hello over tcp' | "$TOOLS/rawc" -w -t 5 "$TCP")
is "$out" "hello over tcp" "TCP server: echoed through, FIN passed on both ways"
line=$(log_line "$T/MR.log" "outbound\\|9000\\|\\|echo.test")
like "$line" '"- - -" 0 - - - "-" 14 14 [0-9]+ - "-" "-" "-" "-" "127.0.0.1:[0-9]+" outbound\|9000\|\|echo.test ' "TCP connection logged with byte counts"

# bulk through the relay (splice by default)
head -c 30000000 /dev/urandom > "$T/bulk"
got=$("$TOOLS/rawc" -w -t 30 "$TCP" < "$T/bulk" | cksum)
is "$got" "$(cksum < "$T/bulk")" "30 MB through the TCP relay (splice), intact"
stats=$(curl -s --max-time 5 "$MR_ADMIN/stats")
like "$stats" $'listener.127.0.0.1_'"${TLS##*:}"$'.no_filter_chain_match: [1-9]' "no_filter_chain_match counted"
prom=$(curl -s --max-time 5 "$MR_ADMIN/stats/prometheus")
like "$prom" 'istio_tcp_connections_opened_total\{reporter="source",[^}]*destination_service="echo.test"[^}]*\} [1-9]' "istio_tcp_connections_opened_total"
like "$prom" 'istio_tcp_received_bytes_total\{[^}]*destination_service="echo.test"[^}]*\} [0-9]{8}' "istio_tcp_received_bytes_total"
stop_meshrt MR

start_meshrt MR2 "$T/e2e.img" --workers 1 --no-splice --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "echo.test:443=127.0.0.1:$E_PORT" --resolve "echo.test:9000=127.0.0.1:$E_PORT" || exit 1
got=$("$TOOLS/rawc" -w -t 30 "$(mr_addr MR2 9000)" < "$T/bulk" | cksum)
is "$got" "$(cksum < "$T/bulk")" "30 MB through the TCP relay (--no-splice), intact"
out=$("$TOOLS/hello" -n echo.test -s 1 -d 0 -p 20000 "$(mr_addr MR2 443)")
like "$out" '^echo ok [0-9]+$' "20 KiB ClientHello byte by byte (--no-splice)"
stop_meshrt MR2

# an upstream that refuses: the connection is closed, logged UF
start_origin DEAD || exit 1
kill "$DEAD_PID"; wait "$DEAD_PID" 2>/dev/null
start_meshrt MR3 "$T/e2e.img" --workers 1 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --listen 9000=127.0.0.1:0 \
    --resolve "echo.test:443=127.0.0.1:$DEAD_PORT" --resolve "echo.test:9000=127.0.0.1:$DEAD_PORT" || exit 1
out=$(printf 'hello' | "$TOOLS/rawc" -t 5 "$(mr_addr MR3 9000)")
is "$out" "" "TCP to a refusing upstream: closed"
like "$(log_line "$T/MR3.log" ' UF ')" '"- - -" 0 UF - - "delayed_connect_error:_Connection_refused" 0 0 ' "logged UF with the transport failure"
out=$("$TOOLS/hello" -n echo.test -s 4096 "$(mr_addr MR3 443)")
like "$out" '^closed after 0 bytes$' "passthrough to a refusing upstream: closed"
like "$(log_line "$T/MR3.log" ' UF .* echo.test -$')" 'outbound\|443\|\|echo.test .* echo.test -$' "passthrough UF logged with its SNI"
stop_meshrt MR3
done_testing
