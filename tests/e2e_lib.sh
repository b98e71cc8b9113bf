# tests/e2e_lib.sh -- sourced by tests/suite_e2e_*.sh: real processes on
# 127.0.0.1, each started and stopped by PID, every port chosen by the
# kernel (port 0, read back from a ready/port file), every wait bounded.
#
#   start_origin VAR [--echo]      origin server; sets VAR_PID, VAR_PORT
#   build_img NAME FILES...        meshc build -> $T/NAME.img
#   start_meshrt VAR IMG ARGS...   meshrt run with --admin 127.0.0.1:0, an
#                                  access log in $T/VAR.log, a ready file;
#                                  sets VAR_PID, VAR_ADMIN; mr_addr VAR PORT
#   stop_meshrt VAR                SIGTERM, then check it exited cleanly
#                                  (status 0, no sanitizer report)
#   ok / nok / is / like / check   TAP lines; done_testing prints the plan
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
: "${MESHC:=$PWD/$BUILD/meshc}" "${MESHRT:=$PWD/$BUILD/meshrt}" "${TOOLS:=$PWD/$BUILD/tests}"
export LC_ALL=C NO_COLOR=1
T=$(mktemp -d "${TMPDIR:-/tmp}/meshrt-e2e.XXXXXX")
PIDS=()
n=0
SAN=${SANITIZE:-}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        local i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
is() {
    if [ "$1" = "$2" ]; then ok "$3"; else
        nok "$3"
        printf '#   got:  %s\n#   want: %s\n' "$(printf %q "$1" | head -c 2000)" "$(printf %q "$2" | head -c 2000)"
    fi
}
like() {
    if [[ "$1" =~ $2 ]]; then ok "$3"; else
        nok "$3"
        printf '#   got:  %s\n#   want: /%s/\n' "$(printf '%s' "$1" | head -c 2000)" "$2"
    fi
}
done_testing() { echo "1..$n"; }

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
    local t=$1 i=0; shift
    while ! "$@" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
        [ $i -gt $((t * 20)) ] && return 1
    done
    return 0
}
nonempty() { [ -s "$1" ]; }
has_lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

# start_tool VAR NAME CMD...: a tool that writes its port to $T/VAR.port
start_tool() {
    local var=$1 name=$2; shift 2
    rm -f "$T/$var.port"
    "$@" --port-file "$T/$var.port" > "$T/$var.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    printf -v "${var}_PID" %s "$pid"
    wait_for 10 nonempty "$T/$var.port" || { echo "# $name $var did not start"; return 1; }
    printf -v "${var}_PORT" %s "$(cat "$T/$var.port")"
}
start_origin() { local var=$1; shift; start_tool "$var" origin "$TOOLS/origin" "$@"; }
start_dnsd() { start_tool "$1" dnsd "$TOOLS/dnsd" --zone "$2"; }

build_img() {
    local name=$1; shift
    if ! "$MESHC" build --color=never -o "$T/$name.img" "$@" > "$T/$name.build" 2>&1; then
        echo "# meshc build $name failed:"
        sed 's/^/# /' "$T/$name.build" | head -30
        return 1
    fi
}

start_meshrt() {
    local var=$1 img=$2; shift 2
    rm -f "$T/$var.ready"
    "$MESHRT" run "$img" --admin 127.0.0.1:0 --ready-file "$T/$var.ready" --access-log "$T/$var.log" "$@" \
        > "$T/$var.out" 2> "$T/$var.err" &
    local pid=$!
    PIDS+=("$pid")
    printf -v "${var}_PID" %s "$pid"
    if ! wait_for 20 nonempty "$T/$var.ready"; then
        echo "# meshrt $var did not become ready:"
        sed 's/^/# /' "$T/$var.err" | head -20
        return 1
    fi
    printf -v "${var}_ADMIN" %s "$(awk '$1 == "admin" { print $2 }' "$T/$var.ready")"
}

# mr_addr VAR PORT: the address meshrt bound for the view's port PORT
mr_addr() { awk -v p="$2" '$1 == "listener" && $2 == p { print $3 }' "$T/$1.ready"; }

stop_meshrt() {
    local var=$1 pid
    pid=${var}_PID
    pid=${!pid}
    kill -TERM "$pid" 2>/dev/null
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    is "$rc" 0 "$var: meshrt exits 0 on SIGTERM"
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/$var.err"; then
        nok "$var: no sanitizer report"
        grep -E -A12 'ERROR|runtime error' "$T/$var.err" | head -40 | sed 's/^/# /'
    else
        ok "$var: no sanitizer report"
    fi
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# a line of the access log matching a regex (waits for the writer's flush)
log_line() {
    local file=$1 re=$2 i=0
    while [ $i -lt 60 ]; do
        if grep -E -- "$re" "$file" 2>/dev/null | tail -1 | grep -q .; then
            grep -E -- "$re" "$file" | tail -1
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

CURL=(curl -s --max-time 15)
