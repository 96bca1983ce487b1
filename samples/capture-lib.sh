# capture-lib.sh -- helpers shared by capture.sh and proxy-capture.sh (sourced,
# not run): logging, cleanup on exit, waiting for a server's "listening",
# starting and stopping tcpdump without losing the capture's tail.
#
# The caller sets, before sourcing: SCENARIO (log prefix), WORK (a temp dir
# removed on exit), PIDS=() (background processes killed on exit) and
# NETNS=() (network namespaces deleted on exit).

log() { echo "[$SCENARIO] $*" >&2; }

cleanup() {
    local rc=$? p ns
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN SECONDS: wait until FILE contains PATTERN
wait_for() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    log "timeout waiting for '$2' in $1:"; cat "$1" >&2 || true
    return 1
}

# start_tcpdump NAME PCAP FILTER IFACE [NETNS [LINKTYPE]]
# tcpdump -U --immediate-mode writes every packet at once; "listening on" is printed after the
# capture handle is active, so traffic generated afterwards is captured.  LINKTYPE (tcpdump -y)
# chooses the link type: LINUX_SLL for -i any keeps interface numbers out of the file, whose
# names tcpdump (and hangup) would otherwise look up on the machine that reads it.
start_tcpdump() {
    local name=$1 pcap=$2 filter=$3 iface=$4 ns=${5:-} lt=${6:-}
    local pre=() ly=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    [ -n "$lt" ] && ly=(-y "$lt")
    rm -f "$pcap"
    "${pre[@]}" tcpdump -i "$iface" "${ly[@]}" -n -U --immediate-mode -s 262144 -w "$pcap" "$filter" \
        >"$WORK/$name.tcpdump.out" 2>"$WORK/$name.tcpdump.err" &
    eval "TCPDUMP_$name=$!"
    PIDS+=($!)
    wait_for "$WORK/$name.tcpdump.err" "listening on" 5
    sleep 0.3
}

# stop_tcpdump NAME: SIGINT, wait, check that the kernel dropped nothing.
# Without --immediate-mode, libpcap's TPACKET_V3 ring hands packets over only
# when a block is retired (up to 1 s): a SIGINT before that loses the tail of
# the capture. With it, and a grace period, nothing is lost.
stop_tcpdump() {
    local pid
    eval "pid=\$TCPDUMP_$1"
    sleep 1
    kill -INT "$pid"
    wait "$pid" || true
    grep -q "^0 packets dropped by kernel" "$WORK/$1.tcpdump.err" || {
        log "tcpdump $1 dropped packets:"; cat "$WORK/$1.tcpdump.err" >&2; return 1; }
}

# start_server NAME CMD...: run in background, wait for "listening"
start_server() {
    local name=$1; shift
    "$@" >"$WORK/$name.server.out" 2>&1 &
    PIDS+=($!)
    wait_for "$WORK/$name.server.out" "listening" 5
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most), for servers
# that print nothing when ready (nginx, Apache, gunicorn)
wait_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("nothing listens on port " + sys.argv[1])
PY
}

# bg NAME CMD...: run a server in the background (killed on exit), its output in WORK/NAME.out
bg() {
    local name=$1; shift
    "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=($!)
}

# apache_base: the first lines of an Apache httpd config rooted in WORK/apache (event MPM,
# authz_core; the caller adds its modules, Listen lines and the rest)
apache_base() {
    cat <<EOF
ServerRoot $WORK/apache
PidFile $WORK/apache/httpd.pid
ErrorLog $WORK/apache/error.log
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
User nobody
Group nogroup
ServerName localhost
EOF
}

# nginx_conf SERVERS: an nginx config rooted in WORK/nginx (foreground, no access log, temp
# files there) whose http block holds SERVERS (server and upstream blocks)
nginx_conf() {
    cat <<EOF
daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
$1
}
EOF
}

# run_client LOG CMD...: bounded run, output shown and kept in LOG
run_client() {
    local logf=$1; shift
    timeout 30 "$@" | tee "$logf" >&2
}

# make_netns NS...: fresh network namespaces (deleted on exit), IPv6 off (the
# captures hold only the scenario's IPv4 traffic), loopback up
make_netns() {
    local ns
    for ns in "$@"; do
        ip netns del "$ns" 2>/dev/null || true
        ip netns add "$ns"
        NETNS+=("$ns")
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
}
