#!/usr/bin/env bash
# Hot reload of the image (SIGHUP, --watch) under load: 20 reloads while
# wrk runs with zero failed requests, the new routes taking effect
# (another upstream, a directResponse), listeners added and removed with
# the port set, a long request in flight across reloads completing, and
# bad images refused while the old routes keep serving; a keep-alive
# connection answered by its own image then closed; an idle one closed
# after --drain-timeout; --watch.
. "$(dirname "$0")/e2e_lib.sh"

for v in 1 2 3; do
    build_img v$v testdata/reload/base.yaml testdata/reload/v$v.yaml || { nok "meshc build v$v"; done_testing; exit 1; }
done
start_origin A || exit 1
start_origin B || exit 1

# install IMG: replace the served file atomically, as meshc build -o does
install_img() { cp "$1" "$T/live.img.tmp" && mv -f "$T/live.img.tmp" "$T/live.img"; }
# wait for generation N in the ready file (rewritten at each reload)
gen_is() { grep -qx "generation $2" "$T/$1.ready" 2>/dev/null; }
origin_port() { curl -s -D - -o /dev/null --max-time 5 "$1" -H 'Host: app.test' | tr -d '\r' | awk -F': ' 'tolower($1) == "x-origin-port" { print $2 }'; }

install_img "$T/v1.img"
start_meshrt MR "$T/live.img" --workers 2 --listen 80=127.0.0.1:0 --listen 81=127.0.0.1:0 --drain-timeout 2s \
    --resolve "a.test:80=127.0.0.1:$A_PORT" --resolve "b.test:80=127.0.0.1:$B_PORT" || exit 1
H=$(mr_addr MR 80)
H81=$(mr_addr MR 81)
is "$(origin_port "http://$H/")" "$A_PORT" "v1: app.test goes to upstream A"
is "$(origin_port "http://$H81/")" "$A_PORT" "v1: port 81 serves too"

# ---- a long request in flight across the reloads
curl -s -o "$T/long.body" -w '%{http_code}' --max-time 30 "http://$H/delay/2500" -H 'Host: app.test' > "$T/long.code" &
LONG_PID=$!
PIDS+=("$LONG_PID")
sleep 0.3

# ---- 20 reloads under load, alternating v1 and v2
if command -v wrk > /dev/null; then
    wrk -t2 -c16 -d7s -H 'Host: app.test' "http://$H/" > "$T/wrk.out" 2>&1 &
    WRK_PID=$!
    PIDS+=("$WRK_PID")
    sleep 0.5
    g=1
    for i in $(seq 1 20); do
        if [ $((i % 2)) = 1 ]; then install_img "$T/v2.img"; else install_img "$T/v1.img"; fi
        kill -HUP "$MR_PID"
        g=$((g + 1))
        wait_for 5 gen_is MR "$g" || break
        sleep 0.2
    done
    is "$g" 21 "20 reloads done (generation 21)"
    # the last one installed v1 again: port 81 is back, on a socket of its own
    H81=$(mr_addr MR 81)
    is "$(origin_port "http://$H81/")" "$A_PORT" "v1 again: port 81 serves (at $H81)"
    check "port 81 has its own socket" test "$H81" != "$H"
    wait "$WRK_PID"
    reqs=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
    check "wrk ran requests through the reloads (${reqs:-0})" test "${reqs:-0}" -gt 1000
    check "no socket errors under reload" eval '! grep -q "Socket errors" "$T/wrk.out"'
    check "no non-2xx responses under reload" eval '! grep -q "Non-2xx" "$T/wrk.out"'
    grep -E 'requests in|Socket|Non-2xx|Requests/sec' "$T/wrk.out" | sed 's/^/# /'
else
    echo "# wrk not installed: the under-load part is skipped (apt-get install wrk)"
    ok "skipped: 20 reloads under wrk (wrk missing)"
    for i in $(seq 1 20); do
        if [ $((i % 2)) = 1 ]; then install_img "$T/v2.img"; else install_img "$T/v1.img"; fi
        kill -HUP "$MR_PID"
        wait_for 5 gen_is MR $((i + 1)) || break
    done
fi
wait "$LONG_PID"
is "$(cat "$T/long.code")/$(cat "$T/long.body")" "200/ok" "a request in flight across 20 reloads completes"
like "$(log_line "$T/MR.log" '"GET /delay/2500 HTTP/1.1" 200')" '" 200 - via_upstream ' "the long request is logged once, 200"

# ---- a burst of SIGHUPs (some coalesce, workers may lag several reloads behind)
for i in $(seq 1 10); do kill -HUP "$MR_PID"; done
sleep 1
G=$(awk '$1 == "generation" { print $2 }' "$T/MR.ready")
check "a burst of 10 SIGHUPs reloads (generation $G)" test "$G" -gt 21
is "$(origin_port "http://$H/")" "$A_PORT" "after the burst: still v1's route"

# ---- the last reload installed v1; now v2: the new route takes effect, port 81 goes
install_img "$T/v2.img"
kill -HUP "$MR_PID"
wait_for 5 gen_is MR $((G + 1))
is "$(origin_port "http://$H/")" "$B_PORT" "after reload to v2: app.test goes to upstream B"
is "$(mr_addr MR 81)" "" "v2 has no port 81: gone from the ready file"
check "port 81 closed" eval '! curl -s -o /dev/null --max-time 3 "http://$H81/" -H "Host: app.test"'
is "$(mr_addr MR 80)" "$H" "port 80 kept its socket (same address)"

# ---- v3: a directResponse route
install_img "$T/v3.img"
kill -HUP "$MR_PID"
wait_for 5 gen_is MR $((G + 2))
is "$(curl -s --max-time 5 "http://$H/v" -H 'Host: app.test')" "v3" "after reload to v3: the directResponse answers"

# ---- bad images are refused, the old routes keep working
head -c 1000 "$T/v1.img" > "$T/trunc.img"
install_img "$T/trunc.img"
kill -HUP "$MR_PID"
check "truncated image: reload refused with a log line" wait_for 5 grep -q "reload (SIGHUP) refused: .*live.img" "$T/MR.err"
grep 'refused' "$T/MR.err" | tail -1 | sed 's/^/# /'
cp "$T/v2.img" "$T/corrupt.img"
printf '\xff\xff\xff\xff' | dd of="$T/corrupt.img" bs=1 seek=600 conv=notrunc 2> /dev/null
install_img "$T/corrupt.img"
kill -HUP "$MR_PID"
refused() { [ "$(grep -c 'reload (SIGHUP) refused' "$T/MR.err")" -ge "$1" ]; }
check "corrupted image: refused too" wait_for 5 refused 2
grep 'refused' "$T/MR.err" | tail -1 | sed 's/^/# /'
rm -f "$T/live.img"
kill -HUP "$MR_PID"
check "missing image: refused too" wait_for 5 refused 3
check "still generation $((G + 2))" gen_is MR $((G + 2))
is "$(curl -s --max-time 5 "http://$H/v" -H 'Host: app.test')" "v3" "old routes keep serving after refused reloads"
is "$(origin_port "http://$H/")" "$B_PORT" "and still proxy to B"

# ---- old generations are freed once unused: only the current one stays loaded
gens() { curl -s --max-time 5 "$MR_ADMIN/stats" | awk -F': ' -v k="server.image_generation${1:-}" '$1 == k { print $2 }'; }
is "$(gens)" $((G + 2)) "/stats: server.image_generation $((G + 2))"
loaded_one() { [ "$(gens s_loaded)" = 1 ]; }
check "/stats: one generation loaded once the old ones are unused" wait_for 5 loaded_one

# ---- a keep-alive connection across a reload: its next request is still
# answered with the image it was accepted under, with connection: close
install_img "$T/v1.img"
kill -HUP "$MR_PID"
wait_for 5 gen_is MR $((G + 3))
req=$'GET / HTTP/1.1\r\nHost: app.test\r\n\r\n'
printf '%s%s' "$req" "$req" | "$TOOLS/rawc" -t 8 -s "${#req}" -d 1000 "$H" > "$T/ka.out" &      # the second 1 s later
KA_PID=$!
PIDS+=("$KA_PID")
sleep 0.3
install_img "$T/v2.img"
kill -HUP "$MR_PID"
wait_for 5 gen_is MR $((G + 4))
rc=0
wait "$KA_PID" || rc=$?
ka=$(tr -d '\r' < "$T/ka.out")
is "$(grep -c '^HTTP/1.1 200' <<<"$ka")" 2 "keep-alive across a reload: both requests answered"
is "$(awk -F': ' '$1 == "x-origin-port" { print $2 }' <<<"$ka" | sort -u)" "$A_PORT" "... both by the image the connection started with (upstream A)"
is "$(grep -c '^connection: close' <<<"$ka")" 1 "... the second with connection: close"
is "$rc" 0 "... then meshrt closes the connection"
is "$(origin_port "http://$H/")" "$B_PORT" "a new connection gets the new image (upstream B)"

# ---- an idle connection left on an old image is closed after --drain-timeout (2s)
: | "$TOOLS/rawc" -t 8 "$H" > /dev/null &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
sleep 0.3
start=$(date +%s%N)
kill -HUP "$MR_PID"
wait_for 5 gen_is MR $((G + 5))
rc=0
wait "$IDLE_PID" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" 0 "an idle keep-alive connection on the old image is closed by meshrt"
check "... after the 2 s drain timeout (${ms} ms)" test "$ms" -ge 1700 -a "$ms" -lt 6000
stop_meshrt MR

# ---- --watch: a new file written by meshc build -o is picked up without a signal
install_img "$T/v1.img"
start_meshrt MW "$T/live.img" --workers 1 --watch --listen 80=127.0.0.1:0 --listen 81=127.0.0.1:0 \
    --resolve "a.test:80=127.0.0.1:$A_PORT" --resolve "b.test:80=127.0.0.1:$B_PORT" || exit 1
HW=$(mr_addr MW 80)
is "$(origin_port "http://$HW/")" "$A_PORT" "--watch: v1 serves"
"$MESHC" build --color=never -o "$T/live.img" testdata/reload/base.yaml testdata/reload/v3.yaml > /dev/null 2>&1
check "--watch: meshc build -o over the image reloads it" wait_for 5 gen_is MW 2
is "$(curl -s --max-time 5 "http://$HW/v" -H 'Host: app.test')" "v3" "--watch: the new route answers"
printf 'junk' > "$T/live.img"
check "--watch: a bad file is refused" wait_for 5 grep -q "reload (--watch) refused" "$T/MW.err"
is "$(curl -s --max-time 5 "http://$HW/v" -H 'Host: app.test')" "v3" "--watch: old routes keep serving"
stop_meshrt MW

done_testing
