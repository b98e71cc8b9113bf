#!/usr/bin/env bash
# bench/bench_proxy.sh -- meshrt run against HAProxy and nginx, configured
# with the same routes for N hosts (bench/gen's seed-shaped config):
#   HTTP   Host routing to one upstream (tests/tools/origin) with
#          keep-alive both sides; wrk rotates the Host over the N names
#   TLS    passthrough by SNI to one upstream (bench/tcpbench serve)
# Each proxy runs one worker pinned to CPU 0 (taskset); wrk, the
# upstreams and the load tools share CPU 1; loopback only.
# Reported per proxy and N: requests/s, p50/p99 latency, the proxy's CPU
# microseconds per request (user+sys from /proc over the run / requests),
# RSS after the run, time from exec to the first 200 through it; for
# passthrough, CPU microseconds per connection and bulk MB/s. Then the
# ratios to HAProxy the issue sets targets for.
# Each measurement is repeated REPS times with the proxies interleaved and
# the median is reported (the machine may be shared).
# Then the route-actions case (ACTIONS=1): one route with a request header
# set, a prefix rewrite (/api/ -> /) and a 90/10 weighted split over two
# upstreams, against HAProxy's equivalent (set-header, replace-path, one
# backend with server weights 90 and 10): requests/s, p99, CPU us/request,
# and the split seen over 1000 requests.
# Knobs: NS="1 100 10000" (NS= skips the host-count runs) DUR=10 (seconds
# per wrk run) CONNS=64 REPS=3 ACTIONS=1.
# Benchmarks measure; they never fail because the machine is slow.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
MESHC=${MESHC:-$PWD/$BUILD/meshc}
MESHRT=${MESHRT:-$PWD/$BUILD/meshrt}
TOOLS=${TOOLS:-$PWD/$BUILD/tests}
BENCH=${BENCH:-$PWD/$BUILD/bench}
NS=${NS-"1 100 10000"}
ACTIONS=${ACTIONS:-1}
DUR=${DUR:-10}
CONNS=${CONNS:-64}
TLS_CONNS=${TLS_CONNS:-20000}
BULK=${BULK:-2147483648}
REPS=${REPS:-3}
HZ=$(getconf CLK_TCK)

# bench tools from Debian, installed when root (libnginx-mod-stream gives
# nginx-light its stream module for SNI passthrough)
need=()
command -v wrk > /dev/null || need+=(wrk)
command -v haproxy > /dev/null || need+=(haproxy)
command -v nginx > /dev/null || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" > /dev/null 2>&1 ||
            { apt-get update > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" > /dev/null 2>&1; }
    else
        echo "bench_proxy: missing ${need[*]} (sudo apt-get install -y ${need[*]})"
    fi
fi
command -v wrk > /dev/null || { echo "bench_proxy: wrk is required; skipped"; exit 0; }
PEERS=()
command -v haproxy > /dev/null && PEERS+=(haproxy)
command -v nginx > /dev/null && PEERS+=(nginx)

CPU0=0
CPU1=1
[ "$(nproc)" -ge 2 ] || CPU1=0
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-proxy.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p bench/out

wait_file() { local i=0; while [ ! -s "$1" ]; do sleep 0.02; i=$((i + 1)); [ $i -gt 500 ] && return 1; done; return 0; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
freeport() { "$BENCH/tcpbench" freeport; }

# upstreams on the load CPU
taskset -c "$CPU1" "$TOOLS/origin" --port-file "$T/up.port" > /dev/null 2>&1 &
PIDS+=($!)
taskset -c "$CPU1" "$BENCH/tcpbench" serve --port-file "$T/tls.port" > /dev/null 2>&1 &
PIDS+=($!)
taskset -c "$CPU1" "$TOOLS/origin" --port-file "$T/up2.port" > /dev/null 2>&1 &
PIDS+=($!)
wait_file "$T/up.port" && wait_file "$T/up2.port" && wait_file "$T/tls.port" || { echo "bench_proxy: upstreams did not start"; exit 0; }
UP=$(cat "$T/up.port")
UP2=$(cat "$T/up2.port")
TLSUP=$(cat "$T/tls.port")

# ---- configurations for N hosts

write_lua() {
    cat > "$T/rot.lua" <<EOF
local n = $1
local i = 0
request = function()
  local h = string.format("svc%05d.example.com", i % n)
  i = i + 1
  return wrk.format("GET", "/", { ["Host"] = h })
end
EOF
}

# HAProxy's global and defaults sections: one thread pinned to CPU0,
# keep-alive both sides
haproxy_head() {
    cat <<EOF
global
    nbthread 1
    cpu-map 1/1 $CPU0
    maxconn 8000
defaults
    mode http
    timeout connect 10s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
EOF
}

write_haproxy() {
    local n=$1 hp=$2 tp=$3
    : > "$T/hosts.map"
    for ((i = 0; i < n; i++)); do printf 'svc%05d.example.com up\n' "$i"; done > "$T/hosts.map"
    sed 's/ up$/ tlsup/' "$T/hosts.map" > "$T/sni.map"
    { haproxy_head; cat; } > "$T/haproxy.cfg" <<EOF
frontend http
    bind 127.0.0.1:$hp
    use_backend %[req.hdr(host),lower,map($T/hosts.map,notfound)]
backend notfound
    http-request return status 404
backend up
    server s1 127.0.0.1:$UP
frontend tls
    mode tcp
    bind 127.0.0.1:$tp
    tcp-request inspect-delay 5s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend %[req.ssl_sni,lower,map($T/sni.map,tlsnone)]
backend tlsup
    mode tcp
    server s1 127.0.0.1:$TLSUP
backend tlsnone
    mode tcp
EOF
}

write_nginx() {
    local n=$1 hp=$2 tp=$3
    {
        echo "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
        echo "worker_processes 1; worker_cpu_affinity $(printf '%0*d' $((CPU0 + 1)) 1); daemon off; pid $T/nginx.pid; error_log $T/nginx.err;"
        echo "events { worker_connections 50000; }"
        echo "http { access_log off; server_names_hash_max_size 65536; server_names_hash_bucket_size 128;"
        echo "  client_body_temp_path $T; proxy_temp_path $T; fastcgi_temp_path $T; uwsgi_temp_path $T; scgi_temp_path $T;"
        echo "  upstream up { server 127.0.0.1:$UP; keepalive 128; }"
        echo "  server { listen 127.0.0.1:$hp default_server; return 404; }"
        for ((i = 0; i < n; i++)); do
            printf '  server { listen 127.0.0.1:%d; server_name svc%05d.example.com; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }\n' "$hp" "$i"
        done
        echo "}"
        echo "stream { upstream tlsup { server 127.0.0.1:$TLSUP; }"
        echo "  map \$ssl_preread_server_name \$b { default 127.0.0.1:1;"
        for ((i = 0; i < n; i++)); do printf '    svc%05d.example.com tlsup;\n' "$i"; done
        echo "  }"
        echo "  server { listen 127.0.0.1:$tp; ssl_preread on; proxy_pass \$b; } }"
    } > "$T/nginx.conf"
}

# start PROXY N: sets PID (the process whose CPU is measured), READY_MS
start_proxy() {
    local proxy=$1 n=$2 hp=$3 tp=$4
    local t0
    t0=$(date +%s%N)
    case $proxy in
    meshrt)
        taskset -c "$CPU0" "$MESHRT" run "$T/img-$n.img" --workers 1 --admin none \
            --listen "80=127.0.0.1:$hp" --listen "443=127.0.0.1:$tp" \
            --resolve "*:80=127.0.0.1:$UP" --resolve "*:443=127.0.0.1:$TLSUP" 2> "$T/meshrt.err" &
        PID=$!
        ;;
    haproxy)
        haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.err" 2>&1 &
        PID=$!
        ;;
    nginx)
        nginx -c "$T/nginx.conf" -p "$T" > "$T/nginx.out" 2>&1 &
        PID=$!
        ;;
    esac
    PIDS+=("$PID")
    local ok
    ok=$(taskset -c "$CPU1" "$BENCH/tcpbench" probe "127.0.0.1:$hp" svc00000.example.com)
    READY_MS=-
    [ -n "$ok" ] && READY_MS=$(( (ok - t0) / 1000000 ))
    if [ "$proxy" = nginx ]; then
        local w
        w=$(pgrep -P "$PID" | head -1)
        [ -n "$w" ] && MEAS=$w || MEAS=$PID
    else
        MEAS=$PID
    fi
}

stop_proxy() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }

# HTTP load: sets RPS P50 P99 CPU_US
run_http() {
    local hp=$1
    taskset -c "$CPU1" wrk -t1 -c "$CONNS" -d 2 -s "$T/rot.lua" "http://127.0.0.1:$hp/" > /dev/null 2>&1
    local c0 c1
    c0=$(cpu_ticks "$MEAS")
    taskset -c "$CPU1" wrk -t1 -c "$CONNS" -d "$DUR" --latency -s "$T/rot.lua" "http://127.0.0.1:$hp/" > "$T/wrk.out" 2>&1
    c1=$(cpu_ticks "$MEAS")
    local reqs
    reqs=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
    RPS=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$T/wrk.out")
    P50=$(awk '$1 == "50%" { print $2 }' "$T/wrk.out")
    P99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")
    NON2XX=$(awk '/Non-2xx/ { print $NF }' "$T/wrk.out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v r="${reqs:-0}" -v hz="$HZ" 'BEGIN { if (r > 0) printf "%.2f", (b - a) / hz * 1e6 / r; else print "-" }')
}

# TLS passthrough: sets CPS CPU_CONN MBPS
run_tls() {
    local tp=$1 n=$2 c0 c1
    c0=$(cpu_ticks "$MEAS")
    taskset -c "$CPU1" "$BENCH/tcpbench" conn "127.0.0.1:$tp" "$TLS_CONNS" 16 "$n" > "$T/conn.out" 2>&1
    c1=$(cpu_ticks "$MEAS")
    CPS=$(awk '{ print $6 }' "$T/conn.out")
    local failed
    failed=$(awk '{ print $8 }' "$T/conn.out")
    CPU_CONN=$(awk -v a="$c0" -v b="$c1" -v n="$TLS_CONNS" -v hz="$HZ" -v f="${failed:-0}" 'BEGIN { if (n - f > 0) printf "%.1f", (b - a) / hz * 1e6 / (n - f); else print "-" }')
    [ "${failed:-0}" != 0 ] && CPU_CONN="$CPU_CONN(${failed}fail)"
    c0=$(cpu_ticks "$MEAS")
    taskset -c "$CPU1" "$BENCH/tcpbench" bulk "127.0.0.1:$tp" "$BULK" > "$T/bulk.out" 2>&1
    c1=$(cpu_ticks "$MEAS")
    MBPS=$(awk '{ print $6 }' "$T/bulk.out")
    BULK_CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
to_us() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v + 0; else if (v ~ /ms$/) print v * 1000; else if (v ~ /s$/) print v * 1e6; else print v }'; }

[ -n "$NS" ] && printf '%-8s %6s %9s %8s %8s %9s %8s %8s %9s %9s %8s\n' proxy hosts "req/s" p50_us p99_us "cpu_us/rq" rss_kb ready_ms "tls_cx/s" "cpu_us/cx" "bulk_MB/s"
declare -A R
for N in $NS; do
    cfg=bench/out/seed-$N.yaml
    "$BENCH/gen" "$N" > "$cfg"
    "$MESHC" build -o "$T/img-$N.img" "$cfg" > /dev/null 2>&1 || { echo "bench_proxy: meshc build of $N hosts failed"; continue; }
    write_lua "$N"
    HP=$(freeport)
    TP=$(freeport)
    write_haproxy "$N" "$HP" "$TP"
    write_nginx "$N" "$HP" "$TP"
    for rep in $(seq 1 "$REPS"); do
        for proxy in meshrt "${PEERS[@]}"; do
            start_proxy "$proxy" "$N" "$HP" "$TP"
            run_http "$HP"
            RSS=$(rss_kb "$MEAS")
            run_tls "$TP" "$N"
            stop_proxy
            R[$proxy,$N,rps]+=" $RPS"
            R[$proxy,$N,p50]+=" $(to_us "$P50")"
            R[$proxy,$N,p99]+=" $(to_us "$P99")"
            R[$proxy,$N,cpu]+=" $CPU_US"
            R[$proxy,$N,rss]+=" $RSS"
            R[$proxy,$N,ready]+=" $READY_MS"
            R[$proxy,$N,cps]+=" $CPS"
            R[$proxy,$N,cx]+=" ${CPU_CONN%%(*}"
            R[$proxy,$N,mbps]+=" $MBPS"
            [ -n "${NON2XX:-}" ] && echo "bench_proxy: $proxy, $N hosts: $NON2XX responses were not 2xx"
        done
    done
    for proxy in meshrt "${PEERS[@]}"; do
        for m in rps p50 p99 cpu rss ready cps cx mbps; do R[$proxy,$N,$m]=$(median <<<"${R[$proxy,$N,$m]}"); done
        printf '%-8s %6s %9s %8s %8s %9s %8s %8s %9s %9s %8s\n' "$proxy" "$N" "${R[$proxy,$N,rps]}" "${R[$proxy,$N,p50]}" \
            "${R[$proxy,$N,p99]}" "${R[$proxy,$N,cpu]}" "${R[$proxy,$N,rss]}" "${R[$proxy,$N,ready]}" "${R[$proxy,$N,cps]}" \
            "${R[$proxy,$N,cx]}" "${R[$proxy,$N,mbps]}"
    done
done

# ratios to HAProxy: the issue's targets
if [ -n "$NS" ] && printf '%s\n' "${PEERS[@]}" | grep -qx haproxy; then
    echo
    echo "meshrt / haproxy (targets: cpu/req <= 0.80x, p99 <= 1.00x, rss <= 1.00x at 10000, ready < 1.00x, tls cpu/cx <= 1.00x, bulk >= 1.00x)"
    printf '%6s %9s %9s %9s %9s %10s %9s\n' hosts "cpu/req" p99 rss ready "tls cpu/cx" bulk
    for N in $NS; do
        printf '%6s %9s %9s %9s %9s %10s %9s\n' "$N" \
            "$(ratio "${R[meshrt,$N,cpu]:-}" "${R[haproxy,$N,cpu]:-}")" \
            "$(ratio "${R[meshrt,$N,p99]:-}" "${R[haproxy,$N,p99]:-}")" \
            "$(ratio "${R[meshrt,$N,rss]:-}" "${R[haproxy,$N,rss]:-}")" \
            "$(ratio "${R[meshrt,$N,ready]:-}" "${R[haproxy,$N,ready]:-}")" \
            "$(ratio "${R[meshrt,$N,cx]:-}" "${R[haproxy,$N,cx]:-}")" \
            "$(ratio "${R[meshrt,$N,mbps]:-}" "${R[haproxy,$N,mbps]:-}")"
    done
fi

# ---- route actions: header set + prefix rewrite + 90/10 split
[ "$ACTIONS" = 1 ] || exit 0
cat > "$T/act.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: up, namespace: default }
spec:
  hosts: [up-a.bench, up-b.bench]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: act, namespace: default }
spec:
  hosts: [act.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{ uri: { prefix: /api/ } }]
    rewrite: { uri: / }
    headers: { request: { set: { x-bench: "1" } } }
    route:
    - destination: { host: up-a.bench }
      weight: 90
    - destination: { host: up-b.bench }
      weight: 10
EOF
"$MESHC" build -o "$T/act.img" "$T/act.yaml" > "$T/act.build" 2>&1 || { echo "bench_proxy: meshc build of the actions case failed"; cat "$T/act.build"; exit 0; }
AP=$(freeport)
{ haproxy_head; cat; } > "$T/haproxy-act.cfg" <<EOF
frontend act
    bind 127.0.0.1:$AP
    acl h hdr(host) -i act.example.com
    acl api path_beg /api/
    # the match is decided once, before the rewrite changes the path
    http-request set-var(txn.act) bool(true) if h api
    http-request set-header x-bench 1 if { var(txn.act) -m bool }
    http-request replace-path ^/api/(.*) /\1 if { var(txn.act) -m bool }
    use_backend act if { var(txn.act) -m bool }
    default_backend notfound
backend notfound
    http-request return status 404
backend act
    balance roundrobin
    server a 127.0.0.1:$UP weight 90
    server b 127.0.0.1:$UP2 weight 10
EOF
start_act() {
    case $1 in
    meshrt)
        taskset -c "$CPU0" "$MESHRT" run "$T/act.img" --workers 1 --admin none --listen "80=127.0.0.1:$AP" \
            --resolve "up-a.bench:80=127.0.0.1:$UP" --resolve "up-b.bench:80=127.0.0.1:$UP2" 2> "$T/meshrt-act.err" &
        ;;
    haproxy) haproxy -f "$T/haproxy-act.cfg" -db > "$T/haproxy-act.err" 2>&1 & ;;
    esac
    PID=$!
    MEAS=$PID
    PIDS+=("$PID")
    taskset -c "$CPU1" "$BENCH/tcpbench" probe "127.0.0.1:$AP" act.example.com > /dev/null
}
# what the upstream sees, and the split over 1000 requests (by x-origin-port)
act_check() {
    local head a=0 b=0 port i
    head=$(curl -s --max-time 5 "http://127.0.0.1:$AP/api/headers" -H 'Host: act.example.com' | tr -d '\r')
    grep -q '^GET /headers ' <<<"$head" || echo "bench_proxy: $1 did not rewrite /api/ to /"
    grep -qi '^x-bench: 1$' <<<"$head" || echo "bench_proxy: $1 did not set x-bench"
    for i in $(seq 1 1000); do
        printf 'url = "http://127.0.0.1:%s/api/x"\nheader = "Host: act.example.com"\noutput = /dev/null\nwrite-out = "%%header{x-origin-port}\\n"\n' "$AP"
    done > "$T/curl.cfg"
    while read -r port; do
        if [ "$port" = "$UP" ]; then a=$((a + 1)); elif [ "$port" = "$UP2" ]; then b=$((b + 1)); fi
    done < <(curl -s --max-time 60 -K "$T/curl.cfg")
    SPLIT="$a/$b"
}
ACTP=()
command -v haproxy > /dev/null && ACTP+=(haproxy)
declare -A A
printf 'request = function() return wrk.format("GET", "/api/item", { ["Host"] = "act.example.com" }) end\n' > "$T/rot.lua"
for rep in $(seq 1 "$REPS"); do
    for proxy in meshrt "${ACTP[@]}"; do
        start_act "$proxy"
        if [ "$rep" = 1 ]; then act_check "$proxy"; A[$proxy,split]=$SPLIT; fi
        run_http "$AP"
        stop_proxy
        A[$proxy,rps]+=" $RPS"
        A[$proxy,p99]+=" $(to_us "$P99")"
        A[$proxy,cpu]+=" $CPU_US"
        [ -n "${NON2XX:-}" ] && echo "bench_proxy: actions, $proxy: $NON2XX responses were not 2xx"
    done
done
echo
echo "route actions: request header set + prefix rewrite + 90/10 weighted split ($CONNS connections)"
printf '%-8s %9s %8s %9s %12s\n' proxy "req/s" p99_us "cpu_us/rq" "split/1000"
for proxy in meshrt "${ACTP[@]}"; do
    for m in rps p99 cpu; do A[$proxy,$m]=$(median <<<"${A[$proxy,$m]}"); done
    printf '%-8s %9s %8s %9s %12s\n' "$proxy" "${A[$proxy,rps]}" "${A[$proxy,p99]}" "${A[$proxy,cpu]}" "${A[$proxy,split]}"
done
if [ "${#ACTP[@]}" -gt 0 ]; then
    echo "meshrt / haproxy: req/s $(ratio "${A[meshrt,rps]}" "${A[haproxy,rps]}") (target >= 1.00x), cpu/req $(ratio "${A[meshrt,cpu]}" "${A[haproxy,cpu]}"), p99 $(ratio "${A[meshrt,p99]}" "${A[haproxy,p99]}")"
fi
