#!/usr/bin/env bash
# The seed scenario end to end ("Istio as a Proxy for External Services",
# ../shared/seed/): meshc build of testdata/seed, meshrt run on loopback
# with --resolve standing in for DNS, the seed's two curl commands, and
# its two access-log lines in the istio-1.0 format.
. "$(dirname "$0")/e2e_lib.sh"

build_img seed testdata/seed/ || { nok "meshc build testdata/seed"; done_testing; exit 1; }
ok "meshc build testdata/seed"

start_origin HTTPBIN || exit 1
# openssl s_server for www.google.com: a throwaway certificate, one canned page
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=www.google.com -addext subjectAltName=DNS:www.google.com > /dev/null 2>&1
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><head><title>Google</title></head><body>search</body></html>\n' > "$T/page"
openssl s_server -accept 127.0.0.1:0 -cert "$T/cert.pem" -key "$T/key.pem" -quiet -naccept 1 < "$T/page" > "$T/ss.out" 2>&1 &
SS_PID=$!
PIDS+=("$SS_PID")
ss_port() { ss -Hltnp 2>/dev/null | awk -v p="pid=$SS_PID," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }'; }
ss_up() { [ -n "$(ss_port)" ]; }
wait_for 10 ss_up || echo "# s_server did not start"
SS_PORT=$(ss_port)

start_meshrt MR "$T/seed.img" --workers 2 --listen 80=127.0.0.1:0 --listen 443=127.0.0.1:0 \
    --resolve "httpbin.org:80=127.0.0.1:$HTTPBIN_PORT" --resolve "www.google.com:443=127.0.0.1:$SS_PORT" \
    --access-log-format istio-1.0 || exit 1
HTTP=$(mr_addr MR 80)
TLS=$(mr_addr MR 443)
INGRESS_HOST=${HTTP%:*}
INGRESS_PORT=${HTTP##*:}
SECURE_INGRESS_PORT=${TLS##*:}

# $ curl $INGRESS_HOST:$INGRESS_PORT/status/418 -Hhost:httpbin.org
out=$(curl -s --max-time 10 "$INGRESS_HOST:$INGRESS_PORT/status/418" -Hhost:httpbin.org)
teapot=$'\n    -=[ teapot ]=-\n\n       _...._\n     .\'  _ _ `.\n    | ."` ^ `". _,\n    \\_;`"---"`|//\n      |       ;/\n      \\_     _/\n        `"""`'
is "$out" "$teapot" "curl /status/418 -Hhost:httpbin.org prints the teapot"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$INGRESS_HOST:$INGRESS_PORT/status/418" -Hhost:httpbin.org)
is "$code" 418 "status 418"

# $ curl -s --resolve www.google.com:$SECURE_INGRESS_PORT:$INGRESS_HOST https://www.google.com:$SECURE_INGRESS_PORT | grep -o "<title>.*</title>"
out=$(curl -s --max-time 10 --cacert "$T/cert.pem" --resolve "www.google.com:$SECURE_INGRESS_PORT:$INGRESS_HOST" \
    "https://www.google.com:$SECURE_INGRESS_PORT" | grep -o "<title>.*</title>")
is "$out" "<title>Google</title>" "curl https://www.google.com through the passthrough listener"

# the seed's log lines, in the same shape with our addresses
ts='\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\]'
uuid='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
ip='[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
line=$(log_line "$T/MR.log" 'GET /status/418')
like "$line" "^$ts \"GET /status/418 HTTP/1\\.1\" 418 - 0 135 [0-9]+ [0-9]+ \"$ip\" \"curl/[^\"]+\" \"$uuid\" \"httpbin\\.org\" \"127\\.0\\.0\\.1:$HTTPBIN_PORT\" outbound\\|80\\|\\|httpbin\\.org 127\\.0\\.0\\.1:[0-9]+ 127\\.0\\.0\\.1:$INGRESS_PORT 127\\.0\\.0\\.1:[0-9]+ -\$" \
    "HTTP access-log line as the seed's"
line=$(log_line "$T/MR.log" '"- - -"')
like "$line" "^$ts \"- - -\" 0 - [0-9]+ [0-9]+ [0-9]+ - \"-\" \"-\" \"-\" \"-\" \"127\\.0\\.0\\.1:$SS_PORT\" outbound\\|443\\|\\|www\\.google\\.com 127\\.0\\.0\\.1:[0-9]+ 127\\.0\\.0\\.1:$SECURE_INGRESS_PORT 127\\.0\\.0\\.1:[0-9]+ www\\.google\\.com\$" \
    "TLS passthrough access-log line as the seed's"
rx=$(awk '{print $7}' <<<"$line")
tx=$(awk '{print $8}' <<<"$line")
check "passthrough line counts bytes both ways ($rx in, $tx out)" test "$rx" -gt 200 -a "$tx" -gt 500

# the gateway serves only what the seed routes: anything else is 404 NR
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HTTP/headers" -Hhost:httpbin.org)
is "$code" 404 "httpbin.org outside /status: 404 (no catch-all on the gateway)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$HTTP/status/418" -Hhost:localhost.local)
is "$code" 404 "localhost.local (mesh-only route): 404"
line=$(log_line "$T/MR.log" '"GET /headers HTTP/1.1" 404')
like "$line" '" 404 NR 0 0 ' "404 logged with NR"

stop_meshrt MR
done_testing
