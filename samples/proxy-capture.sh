#!/bin/bash
# proxy-capture.sh SCENARIO [OUTDIR]
#
# The keep-alive race behind a reverse proxy (issue 17), captured at the
# proxy host: a user client talks to a real proxy (nginx, HAProxy, Caddy,
# Apache httpd, Varnish), the proxy keeps its upstream connection to the
# target idle longer than the target's keep-alive timeout, and reuses it just
# as the target closes it: the request and the target's FIN cross on the
# wire, the target's kernel answers the request with RST. What the proxy
# then does for the user (retry upstream, 502, close) is the point of each
# capture. Writes OUTDIR/proxy-<proxy>-<outcome>.pcap (tcpdump -i any in the
# proxy's namespace: both legs in one file), a .truth beside it
# (proxy-truth.py: packets found with tshark, the proxy's own log lines, the
# user's and the target's logs), a .tcpdump (TZ=UTC tcpdump -n -r) and, as
# for every sample, the oracle's .expected / .servers (expect.py).
# Exits non-zero when the proxy did not do what the scenario expects.
#
# Scenarios (see samples/README.md, "Proxy captures (issue 17)"):
#   nginx-get        nginx, GET  -> retried upstream, user gets 200
#                    (also writes proxy-nginx-retried-at-target.pcap: the
#                    same connections seen by tcpdump in the target's namespace)
#   nginx-post       nginx, POST -> 502
#   nginx-get-python nginx, GET, the target a Python http.server (exact 1 s idle close)
#   haproxy          HAProxy, no retry-on, user on a keep-alive connection
#   haproxy-new      HAProxy, no retry-on, http-reuse always, user on a new connection
#   haproxy-retry    HAProxy, retry-on all-retryable-errors + retries 3
#   caddy            Caddy reverse_proxy (Go transport), GET
#   caddy-post       Caddy, POST
#   apache           Apache httpd mod_proxy_http, GET
#   varnish          Varnish (return (pass)), GET
#   all              every one of them, each retried up to 3 times
#
# Topology (namespaces made here, IPv6 off, static neighbours, no offload):
#
#   hu-pxu [hu-xu0 10.79.0.1] <-veth-> [hu-xp0 10.79.0.2] hu-pxp [hu-xp1 10.79.1.1]
#      <-veth-> [hu-xd0] hu-pxd [hu-xd1] <-veth-> [hu-xt0 10.79.1.2] hu-pxt
#
# user (hu-pxu) -> proxy :8080 (hu-pxp) -> delay line, 25 ms each way
# (delayline.py in hu-pxd) -> target :3000 (hu-pxt). Every proxy here
# watches its idle upstream connections and drops one whose FIN has
# arrived, so only a FIN still in flight when the proxy writes can make the
# race: the delay line makes that window 50 ms wide, and the user's idle
# time is set from the target's measured idle close K (proxy-calibrate.py,
# before the capture) to put the proxy's write in its middle.
#
# Must run as root on Debian 12. Missing tools are installed with apt-get
# (nginx-light, haproxy, caddy, apache2, varnish, nodejs, tshark, tcpdump,
# ethtool) under a policy-rc.d that forbids starting services, and their
# packaged services are disabled: every proxy runs here with its own
# config, inside hu-pxp, and dies with the script.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIO=${1:?usage: proxy-capture.sh SCENARIO [OUTDIR]}
OUT=${2:-$HERE}

[ "$(id -u)" = 0 ] || { echo "proxy-capture.sh: must run as root (tcpdump, ip netns)" >&2; exit 1; }

# tool -> Debian package; install what is missing without starting services
need=()
declare -A pkg=([nginx]=nginx-light [haproxy]=haproxy [caddy]=caddy [apache2]=apache2
                [varnishd]=varnish [node]=nodejs [tshark]=tshark [tcpdump]=tcpdump
                [ethtool]=ethtool [python3]=python3 [ip]=iproute2 [ss]=iproute2)
for t in "${!pkg[@]}"; do command -v "$t" >/dev/null || need+=("${pkg[$t]}"); done
if [ ${#need[@]} -gt 0 ]; then
    echo "proxy-capture.sh: installing ${need[*]}" >&2
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now nginx haproxy caddy apache2 varnish varnishncsa 2>/dev/null || true
    fi
fi

if [ "$SCENARIO" = all ]; then
    failed=()
    for s in nginx-get nginx-post nginx-get-python haproxy haproxy-new haproxy-retry caddy caddy-post apache varnish; do
        ok=
        for attempt in 1 2 3; do
            echo "=== $s (attempt $attempt)" >&2
            if "$0" "$s" "$OUT"; then ok=1; break; fi
        done
        [ -n "$ok" ] || failed+=("$s")
    done
    [ ${#failed[@]} = 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
    exit 0
fi

WORK=$(mktemp -d /tmp/hangup-proxy.XXXXXX)
PIDS=()
NETNS=()
. "$HERE/capture-lib.sh"

USER_IP=10.79.0.1 PROXY_IP=10.79.0.2 PROXY_UP_IP=10.79.1.1 TARGET_IP=10.79.1.2
PROXY_PORT=8080 TARGET_PORT=3000 DELAY_MS=25
KEEPALIVE_MS=1000          # the target's keepAliveTimeout (Node closes ~1 s later)
FILTER="tcp port $PROXY_PORT or tcp port $TARGET_PORT"

# make_proxy_net: the four namespaces and the delay line (see the header)
make_proxy_net() {
    make_netns hu-pxu hu-pxp hu-pxd hu-pxt
    ip link add hu-xu0 netns hu-pxu type veth peer name hu-xp0 netns hu-pxp
    ip link add hu-xp1 netns hu-pxp type veth peer name hu-xd0 netns hu-pxd
    ip link add hu-xt0 netns hu-pxt type veth peer name hu-xd1 netns hu-pxd
    ip -n hu-pxu addr add $USER_IP/24 dev hu-xu0
    ip -n hu-pxp addr add $PROXY_IP/24 dev hu-xp0
    ip -n hu-pxp addr add $PROXY_UP_IP/24 dev hu-xp1
    ip -n hu-pxt addr add $TARGET_IP/24 dev hu-xt0
    ip -n hu-pxu link set hu-xu0 up
    ip -n hu-pxp link set hu-xp0 up
    ip -n hu-pxp link set hu-xp1 up
    ip -n hu-pxt link set hu-xt0 up
    ip -n hu-pxd link set hu-xd0 promisc on up
    ip -n hu-pxd link set hu-xd1 promisc on up
    if command -v ethtool >/dev/null; then
        ip netns exec hu-pxu ethtool -K hu-xu0 tx off tso off gso off >/dev/null
        ip netns exec hu-pxp ethtool -K hu-xp0 tx off tso off gso off >/dev/null
        ip netns exec hu-pxp ethtool -K hu-xp1 tx off tso off gso off >/dev/null
        ip netns exec hu-pxd ethtool -K hu-xd0 tx off tso off gso off >/dev/null
        ip netns exec hu-pxd ethtool -K hu-xd1 tx off tso off gso off >/dev/null
        ip netns exec hu-pxt ethtool -K hu-xt0 tx off tso off gso off >/dev/null
    fi
    ip -n hu-pxu neigh replace $PROXY_IP dev hu-xu0 lladdr "$(ip -n hu-pxp -br link show hu-xp0 | awk '{print $3}')"
    ip -n hu-pxp neigh replace $USER_IP dev hu-xp0 lladdr "$(ip -n hu-pxu -br link show hu-xu0 | awk '{print $3}')"
    ip -n hu-pxp neigh replace $TARGET_IP dev hu-xp1 lladdr "$(ip -n hu-pxt -br link show hu-xt0 | awk '{print $3}')"
    ip -n hu-pxt neigh replace $PROXY_UP_IP dev hu-xt0 lladdr "$(ip -n hu-pxp -br link show hu-xp1 | awk '{print $3}')"
    start_server dl ip netns exec hu-pxd python3 "$HERE/delayline.py" hu-xd0 hu-xd1 $DELAY_MS
}

# wait_listen NS PORT: wait until something listens on PORT in NS
wait_listen() {
    local i
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$1" ss -Htln "sport = :$2" | grep -q . && return 0
        sleep 0.1
    done
    log "nothing listens on port $2 in $1"; return 1
}

# start_proxy NAME CMD...: run the proxy in hu-pxp, wait for its port
start_proxy() {
    local name=$1; shift
    ip netns exec hu-pxp "$@" >"$WORK/$name.server.out" 2>&1 &
    PIDS+=($!)
    wait_listen hu-pxp $PROXY_PORT || { cat "$WORK/$name.server.out" >&2; return 1; }
}

# ---- proxy configurations: each writes its files below $WORK/$1 and starts it

proxy_nginx() {
    local d=$WORK/nginx
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<EOF
# one worker: one upstream keep-alive cache
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    log_format up '\$remote_addr:\$remote_port "\$request" \$status '
                  'upstream_addr=\$upstream_addr upstream_status=\$upstream_status '
                  'request_time=\$request_time upstream_response_time=\$upstream_response_time';
    access_log $d/access.log up;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    upstream target {
        server $TARGET_IP:$TARGET_PORT;
        keepalive 8;                 # idle upstream connections kept (timeout 60 s)
    }
    server {
        listen $PROXY_IP:$PROXY_PORT;
        location / {
            proxy_pass http://target;
            proxy_http_version 1.1;          # needed for upstream keep-alive
            proxy_set_header Connection "";  # likewise
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            # proxy_next_upstream: default "error timeout" (no non_idempotent)
        }
    }
}
EOF
    start_proxy nginx nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
}

# proxy_haproxy retry|noretry safe|always
proxy_haproxy() {
    local d=$WORK/haproxy retry=
    mkdir -p "$d"
    [ "$1" = retry ] && retry='retry-on all-retryable-errors
    retries 3'
    cat >"$d/haproxy.cfg" <<EOF
global
    log stdout format raw local0 info
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout http-keep-alive 10s
frontend fe
    bind $PROXY_IP:$PROXY_PORT
    default_backend be
backend be
    option forwardfor
    http-reuse $2
    $retry
    server target $TARGET_IP:$TARGET_PORT
EOF
    start_proxy haproxy haproxy -db -f "$d/haproxy.cfg"
}

proxy_caddy() {
    local d=$WORK/caddy
    mkdir -p "$d"
    cat >"$d/Caddyfile" <<EOF
{
    admin off
    auto_https off
    storage file_system $d/data
    log {
        output file $d/caddy.log
        format json
        level DEBUG
    }
}
http://:$PROXY_PORT {
    bind $PROXY_IP
    log {
        output file $d/access.log
        format json
    }
    reverse_proxy $TARGET_IP:$TARGET_PORT
}
EOF
    HOME=$d XDG_CONFIG_HOME=$d XDG_DATA_HOME=$d \
        start_proxy caddy caddy run --config "$d/Caddyfile" --adapter caddyfile
}

proxy_apache() {
    local d=$WORK/apache m=/usr/lib/apache2/modules
    mkdir -p "$d"
    cat >"$d/httpd.conf" <<EOF
# one process (ServerLimit 1): one backend connection pool
ServerRoot $d
DefaultRuntimeDir $d
PidFile $d/httpd.pid
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_http_module $m/mod_proxy_http.so
ServerName proxy.example.test
User www-data
Group www-data
Listen $PROXY_IP:$PROXY_PORT
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
KeepAlive On
KeepAliveTimeout 10
ErrorLog $d/error.log
LogLevel warn proxy:debug proxy_http:debug
LogFormat "%a:%{remote}p \"%r\" %>s %D" up
CustomLog $d/access.log up
ProxyPass / http://$TARGET_IP:$TARGET_PORT/
EOF
    start_proxy apache apache2 -d "$d" -f "$d/httpd.conf" -DFOREGROUND
}

proxy_varnish() {
    local d=$WORK/varnish
    mkdir -p "$d"
    cat >"$d/default.vcl" <<EOF
vcl 4.1;
backend target { .host = "$TARGET_IP"; .port = "$TARGET_PORT"; }
sub vcl_recv { return (pass); }
EOF
    start_proxy varnish varnishd -F -j none -n "$d/n" -a "$PROXY_IP:$PROXY_PORT" \
        -f "$d/default.vcl" -s malloc,16m
    ip netns exec hu-pxp varnishlog -n "$d/n" -g request >"$d/varnishlog" 2>&1 &
    PIDS+=($!)
    sleep 0.5
}

case $SCENARIO in
nginx-get|nginx-post|nginx-get-python|haproxy|haproxy-new|haproxy-retry|caddy|caddy-post|apache|varnish) ;;
*) echo "unknown scenario: $SCENARIO" >&2; exit 2 ;;
esac

make_proxy_net
if [ "$SCENARIO" = nginx-get-python ]; then
    # Python http.server (py-server.py): closes an idle connection exactly
    # 1 s after its last response (socket timeout), logs nothing
    start_server target ip netns exec hu-pxt python3 "$HERE/py-server.py" $TARGET_IP $TARGET_PORT 1
    TARGET_DESC="Python $(python3 -c 'import platform; print(platform.python_version())') http.server (py-server.py), idle timeout 1 s"
else
    start_server target ip netns exec hu-pxt node "$HERE/proxy-target.js" \
        host=$TARGET_IP port=$TARGET_PORT keepalive=$KEEPALIVE_MS
    TARGET_DESC="Node $(node --version) http server (proxy-target.js), keepAliveTimeout $KEEPALIVE_MS ms"
fi
case $SCENARIO in
nginx-*) proxy_nginx ;;
haproxy) proxy_haproxy noretry safe ;;
haproxy-new) proxy_haproxy noretry always ;;
haproxy-retry) proxy_haproxy retry safe ;;
caddy*) proxy_caddy ;;
apache) proxy_apache ;;
varnish) proxy_varnish ;;
esac

ip netns exec hu-pxp python3 "$HERE/proxy-calibrate.py" $TARGET_IP $TARGET_PORT 2 | tee "$WORK/calibrate.out" >&2
K=$(awk '/^idle_close_ms/ {print $2}' "$WORK/calibrate.out")
log "target idle close K = $K ms"

# the user's idle time between its two requests: the proxy's write of
# request 2 then reaches the target DELAY_MS after the target's FIN left
# and the FIN reaches the proxy DELAY_MS after the write (2 ms: the user's
# read, the proxy's forwarding)
IDLE=$(python3 -c "print(round(($K - $DELAY_MS - 2) / 1000, 4))")
H="Host: shop.example.test\nUser-Agent: hangup-sample-user/1.0\nAccept: */*"
case $SCENARIO in
*-post) REQ2="POST /api/orders HTTP/1.1\n$H\nContent-Type: application/json\nContent-Length: 18\n\n{\\\"item\\\":7,\\\"qty\\\":1}"
        M2=POST ;;
*)      REQ2="GET /api/items/2 HTTP/1.1\n$H\n\n" M2=GET ;;
esac
# haproxy-new: request 2 on a new user connection (the first request of a
# client connection), else on the same keep-alive connection as request 1
RECONNECT=
[ "$SCENARIO" = haproxy-new ] && RECONNECT='["connect"],'
case $SCENARIO in
nginx-get) NAME=proxy-nginx-retried EXPECT=retried ;;
nginx-get-python) NAME=proxy-nginx-retried-pytarget EXPECT=retried ;;
nginx-post) NAME=proxy-nginx-502 EXPECT=bad-gateway ;;
haproxy) NAME=proxy-haproxy-closed EXPECT=closed ;;
haproxy-new) NAME=proxy-haproxy-502 EXPECT=bad-gateway ;;
haproxy-retry) NAME=proxy-haproxy-retried EXPECT=retried ;;
caddy) NAME=proxy-caddy-retried EXPECT=retried ;;
caddy-post) NAME=proxy-caddy-502 EXPECT=bad-gateway ;;
apache) NAME=proxy-apache-closed EXPECT=closed ;;
varnish) NAME=proxy-varnish-retried EXPECT=retried ;;
esac
TNAME=${NAME}-at-target

tlines=$(wc -l <"$WORK/target.server.out")
start_tcpdump cap "$OUT/$NAME.pcap" "$FILTER" any hu-pxp LINUX_SLL
[ "$SCENARIO" = nginx-get ] && start_tcpdump tgt "$OUT/$TNAME.pcap" "$FILTER" hu-xt0 hu-pxt
run_client "$WORK/user.log" ip netns exec hu-pxu python3 "$HERE/raw-client.py" $PROXY_IP $PROXY_PORT '[
    ["connect"], ["send", "GET /api/items/1 HTTP/1.1\n'"$H"'\n\n"], ["read", "GET"],
    ["sleep", '"$IDLE"'], '"$RECONNECT"'
    ["send", "'"$REQ2"'"], ["read", "'"$M2"'"],
    ["sleep", 0.3], ["close"] ]'
stop_tcpdump cap
[ "$SCENARIO" = nginx-get ] && stop_tcpdump tgt
tail -n +$((tlines + 1)) "$WORK/target.server.out" >"$WORK/target.log"
sleep 0.5

# the proxy's own word: its log lines about these requests
P=$WORK/proxy.log
case $SCENARIO in
nginx-*)
    sed 's/^/access.log: /' "$WORK/nginx/access.log" >"$P"
    grep -E '\[(error|warn)\]' "$WORK/nginx/error.log" | sed 's/^/error.log: /' >>"$P" || true
    PROXY_VERSION=$(nginx -v 2>&1 | sed 's/.*: //') ;;
haproxy*)
    grep -E '^[0-9.]+:[0-9]+ \[' "$WORK/haproxy.server.out" >"$P" || true
    PROXY_VERSION="HAProxy $(haproxy -v | awk 'NR==1 {print $3}')" ;;
caddy*)
    sed 's/^/access.log: /' "$WORK/caddy/access.log" >"$P"
    grep -E 'reverse_proxy|http.log.error' "$WORK/caddy/caddy.log" | grep -v '/calibrate' | sed 's/^/caddy.log: /' >>"$P" || true
    PROXY_VERSION="Caddy $(caddy version | awk '{print $1}')" ;;
apache)
    sed 's/^/access.log: /' "$WORK/apache/access.log" >"$P"
    # the request-time lines (not the startup ones: AH00094, AH0092x, AH00930)
    grep -E 'AH0094[23]|\[client ' "$WORK/apache/error.log" | sed 's/^/error.log: /' >>"$P" || true
    PROXY_VERSION=$(apache2 -v | awk -F': ' 'NR==1 {print $2}') ;;
varnish)
    grep -E '^\*|^-+ +(Begin|ReqMethod|ReqURL|BereqMethod|BereqURL|BackendOpen|BackendClose|BackendReuse|FetchError|BerespStatus|RespStatus|VCL_return|Timestamp +(Fetch|Bereq|Beresp|Resp))' \
        "$WORK/varnish/varnishlog" >"$P" || true
    PROXY_VERSION=$(varnishd -V 2>&1 | awk 'NR==1 {print $1, $2}' | tr -d '()') ;;
esac
cat "$P" >&2

python3 - "$WORK/meta.json" <<PY
import json, sys
json.dump({
    "scenario": "$SCENARIO", "proxy": "$PROXY_VERSION",
    "target": "$TARGET_DESC",
    "target_idle_close_ms": $K, "user_idle_s": $IDLE, "delay_ms_each_way": $DELAY_MS,
    "user": "raw-client.py (Python socket), $USER_IP",
    "proxy_listen": "$PROXY_IP:$PROXY_PORT", "proxy_upstream_addr": "$PROXY_UP_IP",
    "target_addr": "$TARGET_IP:$TARGET_PORT",
}, open(sys.argv[1], "w"))
PY

# truth NAME VANTAGE VANTAGE-TEXT NETNS: NAME.truth (proxy-truth.py), NAME.tcpdump,
# NAME.expected + NAME.servers (expect.py); NETNS names the interfaces
truth() {
    local name=$1 vantage=$2 text=$3 ifs
    chown "$(stat -c %u:%g "$OUT")" "$OUT/$name.pcap" && chmod 644 "$OUT/$name.pcap"
    ifs=$(ip netns exec "$4" ip -o link | awk -F': ' '{printf "%s\"%s\": \"%s\"", (NR > 1 ? ", " : ""), $1, $2}' | sed 's/@[^"]*//g')
    python3 - "$WORK/meta.json" "$WORK/meta.$name.json" <<PY
import json, sys
m = json.load(open(sys.argv[1]))
m["vantage"] = "$text"
m["ifindex"] = {$ifs}
json.dump(m, open(sys.argv[2], "w"))
PY
    python3 "$HERE/proxy-truth.py" "$OUT/$name.pcap" --vantage "$vantage" --meta "$WORK/meta.$name.json" \
        --user-log "$WORK/user.log" --target-log "$WORK/target.log" --proxy-log "$P" \
        --expect "$EXPECT" >"$OUT/$name.truth" || { log "FAIL $name (see $OUT/$name.truth)"; return 1; }
    TZ=UTC tcpdump -n -r "$OUT/$name.pcap" >"$OUT/$name.tcpdump" 2>/dev/null
    python3 "$HERE/expect.py" "$OUT/$name.pcap" --servers="$OUT/$name.servers" >"$OUT/$name.expected"
    chown "$(stat -c %u:%g "$OUT")" "$OUT/$name".{truth,tcpdump,expected,servers}
    [ "$(wc -c <"$OUT/$name.pcap")" -lt 100000 ] || { log "FAIL $name: capture is 100 KB or more"; return 1; }
    log "$name.pcap: $(wc -l <"$OUT/$name.tcpdump") packets, $(wc -c <"$OUT/$name.pcap") bytes," \
        "outcome $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outcome"])' "$OUT/$name.truth")"
}
truth "$NAME" proxy "proxy host: tcpdump -i any in the proxy's namespace (downstream hu-xp0, upstream hu-xp1)" hu-pxp
[ "$SCENARIO" = nginx-get ] && truth "$TNAME" target "target host: tcpdump -i hu-xt0 in the target's namespace" hu-pxt
log ok
