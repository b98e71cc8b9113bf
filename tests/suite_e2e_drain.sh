#!/usr/bin/env bash
# Graceful stop and privileges: SIGTERM closes the listeners at once,
# lets a slow request in flight finish, then exits 0 (before the drain
# timeout when nothing is left; at it otherwise); --user binds a port
# below 1024 as root, then runs as the unprivileged user.
. "$(dirname "$0")/e2e_lib.sh"

build_img v2 testdata/reload/base.yaml testdata/reload/v2.yaml || { nok "meshc build v2"; done_testing; exit 1; }
start_origin A || exit 1
RESOLVE=(--resolve "a.test:80=127.0.0.1:$A_PORT" --resolve "b.test:80=127.0.0.1:$A_PORT")

# ---- SIGTERM with a slow request in flight
start_meshrt MR "$T/v2.img" --workers 2 --listen 80=127.0.0.1:0 --drain-timeout 10s "${RESOLVE[@]}" || exit 1
H=$(mr_addr MR 80)
is "$(curl -s --max-time 5 "http://$H/" -H 'Host: app.test')" "ok" "serving"
curl -s -o "$T/slow.body" -w '%{http_code}' --max-time 20 "http://$H/delay/1500" -H 'Host: app.test' > "$T/slow.code" &
SLOW_PID=$!
PIDS+=("$SLOW_PID")
sleep 0.4
start=$(date +%s%N)
kill -TERM "$MR_PID"
sleep 0.2
curl -s -o /dev/null --max-time 3 "http://$H/" -H 'Host: app.test'
is "$?" 7 "after SIGTERM a new connection is refused (curl exit 7)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$MR_ADMIN/ready")
is "$code" 503 "/ready answers 503 while draining"
is "$(curl -s --max-time 3 "$MR_ADMIN/stats" | awk -F': ' '$1 == "server.state" { print $2 }')" 1 "/stats server.state 1 (DRAINING)"
wait "$SLOW_PID"
is "$(cat "$T/slow.code")/$(cat "$T/slow.body")" "200/ok" "the slow request in flight completes after SIGTERM"
rc=0
wait "$MR_PID" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" 0 "exit 0 after the drain"
check "exited once drained (${ms} ms), well before the 10 s drain timeout" test "$ms" -lt 5000
like "$(log_line "$T/MR.log" '"GET /delay/1500 HTTP/1.1"')" '" 200 - via_upstream ' "the drained request is logged"
check "drain logged" grep -q 'SIGTERM: draining' "$T/MR.err"
check "no sanitizer report" eval '! grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$T/MR.err"'

# ---- the drain timeout bounds what a request that never ends can hold
start_meshrt MT "$T/v2.img" --workers 1 --listen 80=127.0.0.1:0 --drain-timeout 1s "${RESOLVE[@]}" || exit 1
HT=$(mr_addr MT 80)
curl -s -o /dev/null --max-time 20 "http://$HT/hang" -H 'Host: app.test' &
HANG_PID=$!
PIDS+=("$HANG_PID")
sleep 0.4
start=$(date +%s%N)
kill -TERM "$MT_PID"
rc=0
wait "$MT_PID" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" 0 "a request that never ends: still exit 0"
check "exited at the 1 s drain timeout (${ms} ms)" test "$ms" -ge 900 -a "$ms" -lt 5000
check "drain timeout logged" grep -q 'drain timeout' "$T/MT.err"
wait "$HANG_PID" 2>/dev/null

# ---- --user: bind a low port as root, then run unprivileged
if [ "$(id -u)" != 0 ]; then
    echo "# not root: the --user tests are skipped"
    ok "skipped: --user needs root (running as uid $(id -u))"
else
    chmod 1777 "$T"         # the unprivileged server rewrites its ready file here
    low=""
    for p in $(shuf -i 600-1000 -n 40); do
        if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then low=$p; break; fi
    done
    start_meshrt MU "$T/v2.img" --workers 1 --listen "80=127.0.0.1:$low" --user nobody "${RESOLVE[@]}" || exit 1
    is "$(mr_addr MU 80)" "127.0.0.1:$low" "--user: bound the privileged port $low"
    uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 "/" $5 }' "/proc/$MU_PID/status")
    nobody=$(id -u nobody)
    is "$uid" "$nobody/$nobody/$nobody/$nobody" "/proc/PID/status: real, effective, saved and fs uid are nobody's"
    gid=$(awk '/^Gid:/ { print $2 }' "/proc/$MU_PID/status")
    is "$gid" "$(id -g nobody)" "gid is nobody's group"
    is "$(awk '/^Groups:/ { print $2 }' "/proc/$MU_PID/status")" "$(id -g nobody)" "supplementary groups dropped"
    is "$(curl -s --max-time 5 "http://127.0.0.1:$low/" -H 'Host: app.test')" "ok" "--user: serving on port $low"
    stop_meshrt MU
    err=$("$MESHRT" run "$T/v2.img" --listen 80=127.0.0.1:0 --admin none --user no-such-user-zz 2>&1)
    rc=$?
    is "$rc" 2 "--user with an unknown user: exit 2"
    like "$err" 'user no-such-user-zz: no such user' "... naming the user"
    if command -v setpriv > /dev/null; then
        err=$(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
            "$MESHRT" run "$T/v2.img" --listen 80=127.0.0.1:0 --admin none --user nobody 2>&1)
        rc=$?
        is "$rc" 2 "--user when not root: exit 2"
        like "$err" 'only root can change user \(running as uid [0-9]+\)' "... saying why"
    fi
fi

done_testing
