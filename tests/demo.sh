#!/usr/bin/env bash
# `make demo`, the README's first command: the seed scenario ("Istio as a
# Proxy for External Services", ../shared/seed/) end to end on loopback.
#   1. meshc check + meshc build of testdata/seed/
#   2. stand-ins for the internet: tests/tools/origin for httpbin.org (its
#      418 teapot), openssl s_server with a throwaway self-signed
#      certificate for www.google.com (a page titled Google)
#   3. meshrt run with --listen (unprivileged ports) and --resolve
#   4. the seed's two curl commands, then the access-log lines
# Everything runs on 127.0.0.1 and is stopped by PID; the temporary
# directory is removed. Exits non-zero if anything differs from the seed.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
MESHC=$PWD/$BUILD/meshc
MESHRT=$PWD/$BUILD/meshrt
TOOLS=$PWD/$BUILD/tests
T=$(mktemp -d "${TMPDIR:-/tmp}/meshrt-demo.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
step() { printf '\n%s\n' "$*"; }
wait_file() { local i=0; while [ ! -s "$1" ]; do sleep 0.05; i=$((i + 1)); [ $i -gt 200 ] && return 1; done; return 0; }

step "\$ meshc check testdata/seed/"
"$MESHC" check testdata/seed/ || fail "meshc check"
step "\$ meshc build -o seed.img testdata/seed/"
"$MESHC" build -o "$T/seed.img" testdata/seed/ 2>&1 | tail -1
[ -s "$T/seed.img" ] || fail "meshc build"

step "# stand-ins: an origin for httpbin.org, openssl s_server for www.google.com"
"$TOOLS/origin" --port-file "$T/origin.port" > /dev/null 2>&1 &
PIDS+=($!)
wait_file "$T/origin.port" || fail "origin did not start"
HTTPBIN_PORT=$(cat "$T/origin.port")
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=www.google.com -addext subjectAltName=DNS:www.google.com > /dev/null 2>&1 || fail "openssl req"
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<!doctype html><html><head><title>Google</title></head><body>Search</body></html>\n' > "$T/page"
openssl s_server -accept 127.0.0.1:0 -cert "$T/cert.pem" -key "$T/key.pem" -quiet -naccept 1 < "$T/page" > /dev/null 2>&1 &
SS_PID=$!
PIDS+=("$SS_PID")
SS_PORT=
for _ in $(seq 1 100); do
    SS_PORT=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$SS_PID," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
    [ -n "$SS_PORT" ] && break
    sleep 0.05
done
[ -n "$SS_PORT" ] || fail "openssl s_server did not start"
echo "httpbin.org    -> 127.0.0.1:$HTTPBIN_PORT (tests/tools/origin)"
echo "www.google.com -> 127.0.0.1:$SS_PORT (openssl s_server, self-signed)"

step "\$ meshrt run seed.img --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --resolve ... --access-log - --access-log-format istio-1.0"
"$MESHRT" run "$T/seed.img" --workers 1 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 --admin 127.0.0.1:0 \
    --resolve "httpbin.org:80=127.0.0.1:$HTTPBIN_PORT" --resolve "www.google.com:443=127.0.0.1:$SS_PORT" \
    --access-log "$T/access.log" --access-log-format istio-1.0 --ready-file "$T/ready" 2> "$T/meshrt.err" &
MR_PID=$!
PIDS+=("$MR_PID")
wait_file "$T/ready" || { cat "$T/meshrt.err"; fail "meshrt did not become ready"; }
cat "$T/meshrt.err"
HTTP=$(awk '$1 == "listener" && $2 == 80 { print $3 }' "$T/ready")
TLS=$(awk '$1 == "listener" && $2 == 443 { print $3 }' "$T/ready")
INGRESS_HOST=${HTTP%:*}
INGRESS_PORT=${HTTP##*:}
SECURE_INGRESS_PORT=${TLS##*:}

step "\$ curl \$INGRESS_HOST:\$INGRESS_PORT/status/418 -Hhost:httpbin.org"
out=$(curl -s --max-time 10 "$INGRESS_HOST:$INGRESS_PORT/status/418" -Hhost:httpbin.org)
printf '%s\n' "$out"
grep -q -- '-=\[ teapot \]=-' <<<"$out" || fail "no teapot"

step "\$ curl -s --resolve www.google.com:\$SECURE_INGRESS_PORT:\$INGRESS_HOST https://www.google.com:\$SECURE_INGRESS_PORT | grep -o \"<title>.*</title>\""
echo "# (--cacert: the stand-in's certificate is self-signed)"
title=$(curl -s --max-time 10 --cacert "$T/cert.pem" --resolve "www.google.com:$SECURE_INGRESS_PORT:$INGRESS_HOST" \
    "https://www.google.com:$SECURE_INGRESS_PORT" | grep -o "<title>.*</title>")
echo "$title"
[ "$title" = "<title>Google</title>" ] || fail "no <title>Google</title>"

step "# the gateway's access log (istio-1.0 format, as in the seed)"
for _ in $(seq 1 60); do [ "$(wc -l < "$T/access.log")" -ge 2 ] && break; sleep 0.05; done
cat "$T/access.log"
grep -qE '"GET /status/418 HTTP/1.1" 418 - 0 135 [0-9]+ [0-9]+ ".*" "curl/.*" ".*" "httpbin.org" "127.0.0.1:[0-9]+" outbound\|80\|\|httpbin.org ' "$T/access.log" \
    || fail "the HTTP log line is not the seed's"
grep -qE '"- - -" 0 - [0-9]+ [0-9]+ [0-9]+ - "-" "-" "-" "-" "127.0.0.1:[0-9]+" outbound\|443\|\|www.google.com .* www.google.com$' "$T/access.log" \
    || fail "the TLS log line is not the seed's"
kill -TERM "$MR_PID"
wait "$MR_PID" || fail "meshrt did not exit cleanly"
echo
echo "demo: OK"
