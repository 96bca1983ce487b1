#!/bin/bash
# capture.sh SCENARIO [OUTDIR]
#
# Regenerates one sample capture (OUTDIR/<name>.pcap) and its ground truth
# (OUTDIR/<name>.expected, from expect.py), then cross-checks the oracle
# against the client's own log: the number of incidents must equal the number
# of ERROR lines the client printed, and every verdict must be the one the
# scenario is built to produce. Exits non-zero when a check fails.
#
# Scenarios: race-node-ipv4 race-node-ipv6 race-python race-tls race-any
#            crossed (writes crossed-client + crossed-server) midstream
#            clean-keepalive
#            HTTP layer: http-pipeline http-split http-reorder
#            node-keepalive-v4 node-keepalive-v6 conn-close retry race-tls-sni
#            other kinds: server-timeout-node reset-unread client-abort
#            refused-v4 refused-v6 connect-timeout truncated-response
#            closed-before-response half-close
#            hostile (markup in the target, Host and User-Agent: the HTML
#            report's escaping)
#            TLS begun mid-connection: starttls, starttls-crossed (writes
#            starttls-crossed-client + starttls-crossed-server)
#            one-sided (writes one-sided-base, one-sided, one-sided-server)
#
# Must run as root (tcpdump, network namespaces). All traffic stays on
# loopback or inside the namespaces hu-cli/hu-mid/hu-srv created here.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIO=${1:?usage: capture.sh SCENARIO [OUTDIR]}
OUT=${2:-$HERE}
WORK=$(mktemp -d /tmp/hangup-samples.XXXXXX)
PIDS=()
NETNS=()

. "$HERE/capture-lib.sh"

# finish NAME CLIENTLOG VERDICT [EXT]: write NAME.expected and NAME.servers,
# cross-check
finish() {
    local name=$1 clog=$2 verdict=$3 ext=${4:-pcap} n errs bad
    local cap="$OUT/$name.$ext"
    # tcpdump writes as user tcpdump: give the file to the directory's owner
    chown "$(stat -c %u:%g "$OUT")" "$cap" && chmod 644 "$cap"
    python3 "$HERE/expect.py" "$cap" --show --servers="$OUT/$name.servers" >"$OUT/$name.expected"
    [ "$(wc -c <"$cap")" -lt 100000 ] || { log "FAIL $name: capture is 100 KB or more"; return 1; }
    n=$(wc -l <"$OUT/$name.expected")
    errs=$(grep -c '^ERROR' "$clog" || true)
    log "$name.$ext: $(tcpdump -n -r "$cap" 2>/dev/null | wc -l) packets," \
        "$(wc -c <"$cap") bytes, $n incident(s), client errors: $errs"
    if [ "$n" != "$errs" ]; then
        log "FAIL $name: oracle found $n incident(s), client saw $errs error(s)"; return 1
    fi
    if [ "$verdict" != none ]; then
        bad=$(grep -vc "\"verdict\":\"$verdict\"" "$OUT/$name.expected" || true)
        if [ "$bad" != 0 ]; then log "FAIL $name: $bad verdict(s) not $verdict"; return 1; fi
    fi
}

# check NAME KIND PYTHON-EXPR: every line of NAME.KIND (expected|servers),
# as dict j, must satisfy the expression (the scenario's built-in facts)
check() {
    python3 - "$OUT/$1.$2" "$3" <<'PY' || { log "FAIL $1.$2: not all lines satisfy: $3"; return 1; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
bad = [j for j in lines if not eval(sys.argv[2], {}, {"j": j})]
for j in bad:
    print("  violates:", json.dumps(j), file=sys.stderr)
sys.exit(1 if bad or not lines else 0)
PY
}

# make_wire [RULE...]: the crossed topology, three namespaces
#   hu-cli [hu-c0 10.77.0.1] <-veth-> [hu-c1] hu-mid [hu-s1] <-veth-> [hu-s0 10.77.0.2] hu-srv
# hu-mid runs delayline.py: every frame is forwarded after 25 ms (RTT 50 ms),
# RULEs (see delayline.py) drop, duplicate or hold chosen frames.
make_wire() {
    local l
    make_netns hu-cli hu-mid hu-srv
    ip link add hu-c0 netns hu-cli type veth peer name hu-c1 netns hu-mid
    ip link add hu-s0 netns hu-srv type veth peer name hu-s1 netns hu-mid
    ip -n hu-cli addr add 10.77.0.1/24 dev hu-c0
    ip -n hu-srv addr add 10.77.0.2/24 dev hu-s0
    for l in hu-c1 hu-s1; do ip -n hu-mid link set $l promisc on up; done
    ip -n hu-cli link set hu-c0 up
    ip -n hu-srv link set hu-s0 up
    # no checksum/segmentation offload: captures show correct checksums and
    # MTU-sized frames (delayline.py also repairs partial checksums)
    if command -v ethtool >/dev/null; then
        ip netns exec hu-cli ethtool -K hu-c0 tx off tso off gso off >/dev/null
        ip netns exec hu-srv ethtool -K hu-s0 tx off tso off gso off >/dev/null
        ip netns exec hu-mid ethtool -K hu-c1 tx off tso off gso off >/dev/null
        ip netns exec hu-mid ethtool -K hu-s1 tx off tso off gso off >/dev/null
    fi
    # static neighbours: no ARP through the delay line
    ip -n hu-cli neigh replace 10.77.0.2 dev hu-c0 lladdr \
        "$(ip -n hu-srv -br link show hu-s0 | awk '{print $3}')"
    ip -n hu-srv neigh replace 10.77.0.1 dev hu-s0 lladdr \
        "$(ip -n hu-cli -br link show hu-c0 | awk '{print $3}')"
    start_server dl ip netns exec hu-mid python3 "$HERE/delayline.py" hu-c1 hu-s1 25 "$@"
}

# STARTTLS samples: the protocols that turn a connection to TLS after a
# cleartext exchange, each served by starttls-server.py (or a real
# PostgreSQL) with a certificate made here (CN mail.example.test, no key kept)
starttls_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 -subj /CN=mail.example.test \
        2>/dev/null
    chmod 644 "$WORK/key.pem"
}

# sclient_step LOG PRE PROTO ADDR:PORT SECONDS LINE...: OpenSSL's s_client as a
# second client stack (-starttls PROTO: it makes the cleartext exchange and
# the upgrade itself, then sends each LINE inside TLS and keeps its input
# open SECONDS; when the server closes first, s_client answers with its
# close_notify).  PRE: a command prefix (ip netns exec NS) or "".
sclient_step() {
    local logf=$1 pre=$2 proto=$3 addr=$4 secs=$5 l; shift 5
    { for l in "$@"; do printf '%s\r\n' "$l"; done; sleep "$secs"; } |
        $pre timeout 20 openssl s_client -starttls "$proto" -connect "$addr" \
            -servername mail.example.test -xmpphost chat.example.test -quiet \
            >"$WORK/sclient.out" 2>&1 || true
    echo "OK openssl-s_client $proto $addr: $(tr -d '\r' <"$WORK/sclient.out" | grep -v '^depth\|^verify' | tr '\n' '|' | cut -c1-120)" |
        tee -a "$logf" >&2
}

# tshark_tls NAME DECODE-AS...: independent evidence that every connection of
# NAME.pcap turned to TLS: tshark, told which protocol each port speaks
# (tcp.port==N,PROTO), must dissect a ClientHello on every TCP stream.
tshark_tls() {
    local name=$1 d=() a streams hellos; shift
    command -v tshark >/dev/null || { log "tshark not installed: TLS not cross-checked"; return 0; }
    for a in "$@"; do d+=(-d "$a"); done
    streams=$(tshark -r "$OUT/$name.pcap" "${d[@]}" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
    hellos=$(tshark -r "$OUT/$name.pcap" "${d[@]}" -Y 'tls.handshake.type == 1' -T fields \
        -e tcp.stream 2>/dev/null | sort -u | wc -l)
    log "$name: tshark dissects a ClientHello on $hellos of $streams connections"
    [ "$hellos" = "$streams" ] || { log "FAIL $name: tshark finds no TLS on some connection"; return 1; }
}

# node_keepalive NAME HOST PORT: the real Node http server (keepAliveTimeout
# 2000 ms, "Keep-Alive: timeout=2", FIN about 3 s after a response), used by
# Python http.client (ignores the hint) and curl (checks the socket first)
node_keepalive() {
    local name=$1 host=$2 port=$3 url cpid
    url="http://$host:$port"
    [[ $host == *:* ]] && url="http://[$host]:$port"
    start_server srv node "$HERE/node-server.js" mode=http host="$host" port="$port" keepalive=2000
    start_tcpdump cap "$OUT/$name.pcap" "tcp port $port" lo
    # curl, concurrently: one request every 4 s on one handle; the server's
    # idle close (3 s) comes first each time, curl notices and reconnects
    timeout 20 curl -sS --rate 15/m -o /dev/null -o /dev/null -o /dev/null \
        "$url/poll/1" "$url/poll/2" "$url/poll/3" \
        -w 'curl %{url_effective} %{http_code} new_conns=%{num_connects}\n' \
        >"$WORK/curl.log" 2>&1 &
    cpid=$!
    PIDS+=($cpid)
    # Python http.client: reuses after 0.5 s, 1.5 s and 2.5 s (beyond the
    # hinted 2 s, before the real close at ~3 s): fine; after 3.3 s the FIN
    # has just arrived and the request is written anyway -> RST (stale), twice
    run_client "$WORK/client.log" python3 "$HERE/py-client.py" "$host" "$port" '[
        ["GET","/api/a",0], ["GET","/api/b",0.5], ["GET","/api/c",1.5],
        ["POST","/api/d",3.3],
        ["GET","/api/e",0], ["GET","/api/f",2.5],
        ["GET","/api/g",3.3] ]'
    wait "$cpid" || true
    cat "$WORK/curl.log" >&2
    sleep 0.3
    stop_tcpdump cap
    finish "$name" "$WORK/client.log" stale
    check "$name" expected 'j["keepalive_hint_s"] == 2 and j["method"] in ("POST", "GET") and j["server_idle_close_ms"] > 2900'
    check "$name" servers 'j["idle_closes"] >= 3 and j["race_risk"]'
}

node_race() {   # node_race NAME HOST URL PORT IFACE [pcapng]
    local name=$1 host=$2 url=$3 port=$4 iface=$5 ext=${6:-pcap} cap
    cap="$OUT/$name.pcap"
    [ "$ext" = pcapng ] && cap="$WORK/$name.pcap"
    start_server srv node "$HERE/node-server.js" mode=raw host="$host" port="$port" close=400
    start_tcpdump cap "$cap" "tcp port $port" "$iface"
    # three clean exchanges, then a reuse whose wait+spin (300..500 ms) covers
    # the server's close at 400 ms: the FIN lands while the client's event
    # loop is busy, the request is written after it -> RST (stale).
    run_client "$WORK/client.log" node "$HERE/node-client.js" url="$url" plan='[
        ["GET","/api/users",0,0], ["GET","/api/users/1",50,0], ["GET","/api/users/2",120,0],
        ["POST","/api/orders",300,200],
        ["GET","/api/users/3",0,0], ["GET","/api/users/4",80,0],
        ["GET","/api/health",300,200],
        ["GET","/api/users/5",0,0], ["GET","/api/users/6",700,0] ]' linger=600
    stop_tcpdump cap
    if [ "$ext" = pcapng ]; then
        python3 "$HERE/pcap2pcapng.py" "$cap" "$OUT/$name.pcapng" "$iface"
        rm -f "$OUT/$name.pcap"
    fi
    finish "$name" "$WORK/client.log" stale "$ext"
}

# ------------------------------------------------------------------------
# The rest of the "socket hang up" family (README "Other kinds"): one-shot
# clients of four stacks, each printing OK/ERROR lines with the stack's
# error text verbatim.

CURL_PRE=()

# build_go: compile get-client.go into $WORK (standard library only)
build_go() {
    GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off HOME="$WORK" \
        go build -o "$WORK/go-get" "$HERE/get-client.go"
}

# step LOG CMD...: run one client (bounded), append its lines to LOG
step() {
    local logf=$1; shift
    { timeout 30 "$@" 2>&1 || true; } | tee -a "$logf" >&2
}

# curl_step LOG CURL-ARGS...: one curl run (prefixed by CURL_PRE, e.g. ip netns exec) (-v kept aside), one line:
# "OK curl ..." or "ERROR curl-exit-N "<curl's message>" ..." (+ retried=1
# when curl said it retried on a fresh connection)
curl_step() {
    local logf=$1 rc codes msg retried=; shift
    codes=$("${CURL_PRE[@]}" timeout 30 curl -sS -v "$@" -w '%{http_code} ' 2>"$WORK/curl.err") && rc=0 || rc=$?
    grep -q 'retrying a fresh connect' "$WORK/curl.err" && retried=" retried=1"
    if [ "$rc" = 0 ]; then
        echo "OK curl ${*: -1} codes=${codes% }$retried"
    else
        msg=$(grep '^curl: (' "$WORK/curl.err" | tail -1)
        echo "ERROR curl-exit-$rc \"$msg\" curl ${*: -1} codes=${codes% }$retried"
    fi | tee -a "$logf" >&2
}

# finish_kinds NAME CLIENTLOG KINDS [N]: write NAME.expected / .servers; every
# line's kind must be one of KINDS and there must be N lines (default: the
# number of ERROR lines in CLIENTLOG)
finish_kinds() {
    local name=$1 clog=$2 kinds=$3 want=${4:-} n bad
    local cap="$OUT/$name.pcap"
    chown "$(stat -c %u:%g "$OUT")" "$cap" && chmod 644 "$cap"
    python3 "$HERE/expect.py" "$cap" --show --servers="$OUT/$name.servers" >"$OUT/$name.expected"
    [ "$(wc -c <"$cap")" -lt 100000 ] || { log "FAIL $name: capture is 100 KB or more"; return 1; }
    n=$(wc -l <"$OUT/$name.expected")
    [ -n "$want" ] || want=$(grep -c '^ERROR' "$clog" || true)
    log "$name.pcap: $(tcpdump -n -r "$cap" 2>/dev/null | wc -l) packets," \
        "$(wc -c <"$cap") bytes, $n incident(s), expected $want"
    if [ "$n" != "$want" ]; then
        log "FAIL $name: oracle found $n incident(s), want $want"; return 1
    fi
    bad=$(python3 -c 'import json,sys; k=sys.argv[2].split(); print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("kind") not in k))' \
        "$OUT/$name.expected" "$kinds")
    if [ "$bad" != 0 ]; then log "FAIL $name: $bad line(s) not of kind $kinds"; return 1; fi
}

# four_clients LOG URL TIMEOUT_MS: curl, Node, Python, Go, one request each
four_clients() {
    local logf=$1 url=$2 t=$3 secs
    secs=$(python3 -c "print($t / 1000)")
    curl_step "$logf" --max-time "$secs" -o /dev/null "$url"
    step "$logf" node "$HERE/get-client.js" timeout="$t" "$url"
    step "$logf" python3 "$HERE/get-client.py" "$secs" "$url"
    step "$logf" "$WORK/go-get" -timeout "${t}ms" "$url"
}

# start_nginx PORT [LOCATION]: our own nginx instance and config (never the
# system service) on 127.0.0.1:PORT, answering "200 ok" at / and LOCATION
# (an extra location block) as written; its access log $WORK/nginx/access.log
start_nginx() {
    local port=$1 extra=${2:-}
    command -v nginx >/dev/null || { log "FAIL: nginx missing (apt-get install nginx-light)"; exit 1; }
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log $WORK/nginx/access.log;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok\n"; }
        $extra
    }
}
NGINX
    nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx.out" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do ss -Htln "sport = :$port" | grep -q . && break; sleep 0.1; done
    ss -Htln "sport = :$port" | grep -q . || { log "FAIL: nginx did not listen"; cat "$WORK/nginx.out" "$WORK/nginx/error.log" >&2; exit 1; }
}

# hc_step LOG NAME CMD...: a client that prints the raw response (socat,
# nc, Node net) as one line: "OK NAME <status line>" when a response came,
# "ERROR NAME "empty reply" ..." when the connection ended without one
hc_step() {
    local logf=$1 name=$2 first; shift 2
    timeout 10 "$@" >"$WORK/hc.out" 2>"$WORK/hc.err" || true
    first=$(head -1 "$WORK/hc.out" | tr -d '\r')
    if [[ $first == HTTP/1.* ]]; then
        echo "OK $name $first bytes=$(wc -c <"$WORK/hc.out")"
    else
        echo "ERROR $name \"empty reply\" bytes=$(wc -c <"$WORK/hc.out") $(tr '\n' ' ' <"$WORK/hc.err")"
    fi | tee -a "$logf" >&2
}

# Node net: connect, write the request (\r\n written as such in it) with
# the FIN (end(data)), print what comes back until the server's end
NODE_HALF_CLOSE='const [host, port, req] = process.argv.slice(1);
const s = require("net").connect(Number(port), host, () => s.end(req.replace(/\\r\\n/g, "\r\n")));
s.on("data", (d) => process.stdout.write(d));
s.on("error", (e) => console.error(e.code, e.message));'

case $SCENARIO in
race-node-ipv4)
    node_race race-node-ipv4 127.0.0.1 http://127.0.0.1:3001 3001 lo ;;
race-node-ipv6)
    # stored as pcapng (converted by pcap2pcapng.py: tcpdump cannot write it)
    node_race race-node-ipv6 ::1 'http://[::1]:3002' 3002 lo pcapng ;;
race-any)
    node_race race-any 127.0.0.1 http://127.0.0.1:3005 3005 any ;;
race-python)
    start_server srv python3 "$HERE/py-server.py" 127.0.0.1 3003 0.3
    start_tcpdump cap "$OUT/race-python.pcap" "tcp port 3003" lo
    # the server closes after 0.3 s idle; sleeping 0.8 s means the FIN has
    # long arrived: http.client writes anyway -> RST (stale)
    run_client "$WORK/client.log" python3 "$HERE/py-client.py" 127.0.0.1 3003 '[
        ["GET","/items",0], ["GET","/items/1",0.05], ["GET","/items/2",0.1],
        ["POST","/items",0.8],
        ["GET","/items/3",0], ["GET","/items/4",0.1],
        ["DELETE","/items/4",0.8],
        ["GET","/items",0] ]'
    sleep 0.5
    stop_tcpdump cap
    finish race-python "$WORK/client.log" stale ;;
race-tls)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 -subj /CN=localhost \
        2>/dev/null
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=8443 close=400 \
        key="$WORK/key.pem" cert="$WORK/cert.pem"
    start_tcpdump cap "$OUT/race-tls.pcap" "tcp port 8443" lo
    # TLS 1.3. The second connection is closed by the client (linger 100 ms
    # < 400 ms): after a server idle close a Node TLS client answers the FIN
    # with an encrypted close_notify (24-byte application-data record), the
    # server's kernel answers RST, and in TLS 1.3 that looks exactly like a
    # lost request; this sample avoids that ambiguity (see README).
    run_client "$WORK/client.log" node "$HERE/node-client.js" url=https://127.0.0.1:8443 plan='[
        ["GET","/login",0,0], ["GET","/account",60,0], ["GET","/account/balance",100,0],
        ["POST","/transfer",300,200],
        ["GET","/account",0,0], ["GET","/logout",100,0] ]' linger=100
    stop_tcpdump cap
    finish race-tls "$WORK/client.log" stale ;;
midstream)
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=3006 close=2000
    node "$HERE/node-client.js" url=http://127.0.0.1:3006 sync=2 \
        ready="$WORK/ready" go="$WORK/go" plan='[
        ["GET","/feed",0,0], ["GET","/feed?page=2",50,0],
        ["GET","/feed?page=3",50,0], ["GET","/feed?page=4",100,0],
        ["PUT","/prefs",1900,200],
        ["GET","/feed",0,0] ]' linger=300 >"$WORK/client.log" &
    client=$!
    PIDS+=($client)
    # the connection is established and has carried two requests before the
    # capture starts: no SYN for it in the file
    wait_for "$WORK/ready" ready 10
    start_tcpdump cap "$OUT/midstream.pcap" "tcp port 3006" lo
    touch "$WORK/go"
    wait "$client" || true
    cat "$WORK/client.log" >&2
    stop_tcpdump cap
    finish midstream "$WORK/client.log" stale ;;
clean-keepalive)
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=3007 close=300
    start_tcpdump cap "$OUT/clean-keepalive.pcap" "tcp port 3007" lo
    # Node agent: quick reuses, then idles 700 ms (> 300 ms): its event loop
    # has seen the FIN, the socket left the pool, a new connection is opened.
    run_client "$WORK/client.log" node "$HERE/node-client.js" url=http://127.0.0.1:3007 plan='[
        ["GET","/a",0,0], ["GET","/b",50,0], ["GET","/c",100,0],
        ["GET","/d",700,0], ["GET","/e",50,0], ["GET","/f",700,0] ]' linger=600
    # curl checks a pooled connection before reuse: it sees the FIN and
    # reconnects (one request every 500 ms, server closes at 300 ms idle)
    timeout 20 curl -sS --rate 2/s -o /dev/null -o /dev/null -o /dev/null \
        http://127.0.0.1:3007/x http://127.0.0.1:3007/y http://127.0.0.1:3007/z \
        -w 'curl %{url_effective} %{http_code} new_conns=%{num_connects}\n' \
        | tee -a "$WORK/client.log" >&2
    sleep 0.5
    stop_tcpdump cap
    finish clean-keepalive "$WORK/client.log" none ;;
crossed)
    # hu-cli [hu-c0 10.77.0.1] <-veth-> [hu-c1] hu-mid [hu-s1] <-veth-> [hu-s0 10.77.0.2] hu-srv
    # hu-mid runs delayline.py: every frame is forwarded after 25 ms (RTT 50 ms).
    make_wire
    start_server srv ip netns exec hu-srv node "$HERE/node-server.js" mode=raw \
        host=10.77.0.2 port=3100 close=300
    start_tcpdump cli "$OUT/crossed-client.pcap" "tcp port 3100" hu-c0 hu-cli
    start_tcpdump srv "$OUT/crossed-server.pcap" "tcp port 3100" hu-s0 hu-srv
    # server FIN at T=300 ms after its response; one-way delay d=25 ms; the
    # client sends 275 ms (T-d) after receiving the response: the request
    # leaves before the FIN arrives (< T) and reaches the server after the
    # FIN left (> T-2d) -> they cross in flight -> RST (crossed).
    # The last reuse waits 450 ms: FIN already seen, clean reconnect.
    run_client "$WORK/client.log" ip netns exec hu-cli node "$HERE/node-client.js" \
        url=http://10.77.0.2:3100 plan='[
        ["GET","/v1/quote",0,0], ["GET","/v1/quote?sym=B",20,0], ["GET","/v1/quote?sym=C",100,0],
        ["POST","/v1/order",275,0],
        ["GET","/v1/quote",0,0], ["GET","/v1/quote?sym=D",40,0],
        ["GET","/v1/status",275,0],
        ["GET","/v1/quote",0,0], ["GET","/v1/quote?sym=E",450,0] ]' linger=500
    stop_tcpdump cli
    stop_tcpdump srv
    finish crossed-client "$WORK/client.log" crossed
    finish crossed-server "$WORK/client.log" crossed
    # same incidents at both vantages (same client ports, methods, targets)
    a=$(python3 -c 'import json,sys; [print(j["client"],j["server"],j["method"],j["target"]) for j in map(json.loads,open(sys.argv[1]))]' "$OUT/crossed-client.expected")
    b=$(python3 -c 'import json,sys; [print(j["client"],j["server"],j["method"],j["target"]) for j in map(json.loads,open(sys.argv[1]))]' "$OUT/crossed-server.expected")
    [ "$a" = "$b" ] || { log "FAIL: client and server vantage disagree"; exit 1; } ;;
one-sided)
    # one connection, its client's first SYN lost on the wire (delay line):
    # the client sends it twice, then makes 40 requests (Python http.client
    # to the real Node http server), more packets than hangup's ring keeps.
    # Captured at the client; one-sided.pcap keeps the client -> server
    # direction only, as a capture behind an asymmetric route holds it
    # (no connect-timeout: the client acknowledges the SYN-ACK it got), and
    # one-sided-server.pcap the other direction.
    make_wire ab:syn:drop
    start_server srv ip netns exec hu-srv node "$HERE/node-server.js" mode=http \
        host=10.77.0.2 port=3144 keepalive=5000
    start_tcpdump cli "$OUT/one-sided-base.pcap" "tcp port 3144" hu-c0 hu-cli
    run_client "$WORK/client.log" ip netns exec hu-cli python3 -c '
import http.client
c = http.client.HTTPConnection("10.77.0.2", 3144)
for i in range(40):
    c.request("GET", "/items/%d" % i)
    r = c.getresponse()
    print("OK", r.status, len(r.read()))
c.close()'
    stop_tcpdump cli
    [ "$(grep -c '^OK 200' "$WORK/client.log")" = 40 ] || { log "FAIL: want 40 answers"; exit 1; }
    tcpdump -r "$OUT/one-sided-base.pcap" -w "$OUT/one-sided.pcap" 'tcp dst port 3144' 2>/dev/null
    tcpdump -r "$OUT/one-sided-base.pcap" -w "$OUT/one-sided-server.pcap" 'tcp src port 3144' \
        2>/dev/null
    [ "$(tcpdump -n -r "$OUT/one-sided.pcap" 2>/dev/null | grep -c 'Flags \[S\]')" = 2 ] || {
        log "FAIL: want the client's SYN twice in one-sided.pcap"; exit 1; }
    for n in one-sided-base one-sided one-sided-server; do
        finish "$n" "$WORK/client.log" none
        python3 "$HERE/expect.py" "$OUT/$n.pcap" --gaps="$OUT/$n.gaps" >/dev/null
        TZ=UTC tcpdump -n -r "$OUT/$n.pcap" >"$OUT/$n.tcpdump" 2>/dev/null
    done
    check one-sided gaps 'j["one_sided"] == "client" and j["server_gaps"] == 1'
    check one-sided-server gaps 'j["one_sided"] == "server" and j["client_gaps"] == 1' ;;
hostile)
    # Text from the wire that is markup: a target, a Host and a User-Agent
    # made of <script>, <img onerror>, </pre> and quotes, sent by
    # raw-client.py (the bytes exactly as written) twice to bad-server.py
    # unread, which resets each: two reset-before-response incidents whose
    # every field is hostile.  The HTML report must show them as text
    # (tests/test_html.c).
    start_server srv python3 "$HERE/bad-server.py" 127.0.0.1 3150 unread
    start_tcpdump cap "$OUT/hostile.pcap" "tcp port 3150" lo
    plan=$(python3 -c 'import json; r = ("GET /<script>console.error(\"pwned-target\")</script>"
        "?q=\"\x27><img/src=x/onerror=console.error(1)>&amp; HTTP/1.1\r\n"
        "Host: <script>console.error(\"pwned-host\")</script>\r\n"
        "User-Agent: </pre></details><svg/onload=console.error(\"pwned-ua\")>\r\n\r\n")
print(json.dumps([["connect"], ["send", r], ["read", "GET"]]))')
    step "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3150 "$plan"
    step "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3150 "$plan"
    stop_tcpdump cap
    finish_kinds hostile "$WORK/client.log" reset-before-response
    TZ=UTC tcpdump -n -r "$OUT/hostile.pcap" >"$OUT/hostile.tcpdump" 2>/dev/null
    check hostile expected 'j["target"].startswith("/<script>")' ;;
http-pipeline)
    # the real Node http server (keepAliveTimeout 500 ms: idle FIN ~1.5 s)
    start_server srv node "$HERE/node-server.js" mode=http host=127.0.0.1 port=3010 keepalive=500
    start_tcpdump cap "$OUT/http-pipeline.pcap" "tcp port 3010" lo
    # three requests written back to back before any response is read, then
    # a chunked response, HEAD, and a POST with Expect: 100-continue (the
    # body is sent after the interim 100); then idle until the server closes.
    H='Host: pipe.example.test'
    run_client "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3010 '[
        ["connect"],
        ["send", "GET /p/1 HTTP/1.1\n'"$H"'\n\n"],
        ["send", "GET /p/2 HTTP/1.1\n'"$H"'\n\n"],
        ["send", "GET /p/3?size=600 HTTP/1.1\n'"$H"'\n\n"],
        ["read", "GET"], ["read", "GET"], ["read", "GET"],
        ["sleep", 0.1], ["send", "GET /chunked HTTP/1.1\n'"$H"'\n\n"], ["read", "GET"],
        ["sleep", 0.1], ["send", "HEAD /p/4 HTTP/1.1\n'"$H"'\n\n"], ["read", "HEAD"],
        ["sleep", 0.1], ["send", "POST /upload HTTP/1.1\n'"$H"'\nContent-Type: text/plain\nContent-Length: 16\nExpect: 100-continue\n\n"],
        ["read100"], ["send", "sixteen bytes..."], ["read", "POST"],
        ["sleep", 2.0], ["close"] ]'
    sleep 0.3
    stop_tcpdump cap
    finish http-pipeline "$WORK/client.log" none
    check http-pipeline servers 'j["requests"] == 6 and j["idle_closes"] == 1 and not j["race_risk"]' ;;
http-split)
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=3011 close=400
    start_tcpdump cap "$OUT/http-split.pcap" "tcp port 3011" lo
    # request 1: headers and body in 10-byte writes 5 ms apart (TCP_NODELAY:
    # one segment each); request 2 in one segment; then the client idles
    # 600 ms (server closes at 400 ms) and writes request 3 anyway -> stale
    H='Host: split.example.test'
    run_client "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3011 '[
        ["connect"],
        ["split", "POST /split/upload HTTP/1.1\n'"$H"'\nContent-Type: text/plain\nContent-Length: 47\n\nthis body travels in ten-byte pieces, slowly...", 10, 5],
        ["read", "POST"],
        ["sleep", 0.1], ["send", "GET /split/status HTTP/1.1\n'"$H"'\n\n"], ["read", "GET"],
        ["sleep", 0.6], ["send", "PUT /split/item/7 HTTP/1.1\n'"$H"'\nContent-Type: text/plain\nContent-Length: 11\n\nhello world"],
        ["read", "PUT"] ]'
    sleep 0.3
    stop_tcpdump cap
    finish http-split "$WORK/client.log" stale
    check http-split expected 'j["host"] == "split.example.test" and j["content_length"] == 11 and j["requests_before"] == 2 and j["method"] == "PUT" and j["http_version"] == "HTTP/1.1"' ;;
http-reorder)
    # the crossed topology; server->client payload frames: #1 = response 1,
    # #2.. = the 12 kB response 2 (MSS-sized): #4 is dropped (retransmitted
    # by the server), #6 duplicated, #7 held back 5 ms (#8.. overtake it)
    make_wire ba:4:drop ba:6:dup ba:7:hold=5
    start_server srv ip netns exec hu-srv node "$HERE/node-server.js" mode=raw \
        host=10.77.0.2 port=3016 close=300
    start_tcpdump cli "$OUT/http-reorder.pcap" "tcp port 3016" hu-c0 hu-cli
    # then a crossed race as in `crossed` (request 275 ms after a response)
    run_client "$WORK/client.log" ip netns exec hu-cli node "$HERE/node-client.js" \
        url=http://10.77.0.2:3016 plan='[
        ["GET","/v2/quote",0,0], ["GET","/v2/report?size=12000",20,0], ["GET","/v2/quote?sym=C",100,0],
        ["POST","/v2/order",275,0],
        ["GET","/v2/quote",0,0], ["GET","/v2/quote?sym=E",450,0] ]' linger=500
    stop_tcpdump cli
    cat "$WORK/dl.server.out" >&2
    finish http-reorder "$WORK/client.log" crossed
    [ "$(grep -c 'payload frame' "$WORK/dl.server.out")" = 3 ] || { log "FAIL: delay line rules did not all fire"; exit 1; }
    check http-reorder expected 'j["requests_before"] == 3 and j["target"] == "/v2/order"' ;;
node-keepalive-v4)
    node_keepalive node-keepalive-v4 127.0.0.1 3012 ;;
node-keepalive-v6)
    node_keepalive node-keepalive-v6 ::1 3013 ;;
conn-close)
    # Python http.server with HTTP/1.0 semantics: one response per connection
    start_server srv python3 "$HERE/py-server.py" 127.0.0.1 3014 5 http10
    start_tcpdump cap "$OUT/conn-close.pcap" "tcp port 3014" lo
    # connection 1: an HTTP/1.0 exchange (bare HTTP/1.0 response, close
    # implied); connection 2: HTTP/1.1 request, "HTTP/1.0 ... Connection:
    # close" response. Each time the server closes after its response and
    # the client writes one more request on the socket anyway -> RST.
    run_client "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3014 '[
        ["connect"], ["send", "GET /legacy/index HTTP/1.0\nHost: close.example.test\n\n"], ["read", "GET"],
        ["sleep", 0.1], ["send", "GET /legacy/next HTTP/1.0\nHost: close.example.test\n\n"], ["read", "GET"],
        ["connect"], ["send", "GET /page HTTP/1.1\nHost: close.example.test\n\n"], ["read", "GET"],
        ["sleep", 0.1], ["send", "POST /form HTTP/1.1\nHost: close.example.test\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 9\n\nname=test"],
        ["read", "POST"] ]'
    sleep 0.3
    stop_tcpdump cap
    finish conn-close "$WORK/client.log" stale
    check conn-close expected 'j["close_announced"] and j["requests_before"] == 1'
    check conn-close servers 'j["idle_closes"] == 0' ;;
retry)
    start_server srv python3 "$HERE/py-server.py" 127.0.0.1 3015 0.3
    start_tcpdump cap "$OUT/retry.pcap" "tcp port 3015" lo
    # stale reuse after 0.8 s (server idle close 0.3 s), the error, then the
    # same request again 0.2 s later on a new connection (succeeds)
    run_client "$WORK/client.log" python3 "$HERE/py-client.py" 127.0.0.1 3015 '[
        ["GET","/orders",0], ["GET","/orders/1",0.05],
        ["PUT","/orders/1",0.8,0.2],
        ["GET","/orders/2",0.05],
        ["GET","/orders/3",0.8,0.2] ]'
    sleep 0.5
    stop_tcpdump cap
    finish retry "$WORK/client.log" stale
    check retry expected 'j["retried"] and 190 < j["retry_delay_ms"] < 1000' ;;
race-tls-sni)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 -subj /CN=api.example.test \
        2>/dev/null
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=8444 close=400 \
        key="$WORK/key.pem" cert="$WORK/cert.pem"
    start_tcpdump cap "$OUT/race-tls-sni.pcap" "tcp port 8444" lo
    # as race-tls, with the client's SNI set (servername): the ClientHello
    # carries server_name api.example.test although it connects to 127.0.0.1
    run_client "$WORK/client.log" node "$HERE/node-client.js" url=https://127.0.0.1:8444 \
        servername=api.example.test plan='[
        ["GET","/login",0,0], ["GET","/account",60,0], ["GET","/account/balance",100,0],
        ["POST","/transfer",300,200],
        ["GET","/account",0,0], ["GET","/logout",100,0] ]' linger=100
    stop_tcpdump cap
    finish race-tls-sni "$WORK/client.log" stale
    check race-tls-sni expected 'j["tls"] and j["sni"] == "api.example.test" and not j["retried"]' ;;
server-timeout-node)
    # the real Node http server with server.setTimeout(2000); /slow is
    # never answered: Node destroys the socket 2 s after the last activity
    build_go
    start_server srv node "$HERE/hang-server.js" mode=timeout host=127.0.0.1 port=3120 timeout=2000
    start_tcpdump cap "$OUT/server-timeout-node.pcap" "tcp port 3120" lo
    U=http://127.0.0.1:3120
    # each client: a clean exchange, then /slow on the same connection.
    # curl and Go retry a request that died on a reused connection once, on
    # a new one: that retry times out too (two incidents, one error).
    curl_step "$WORK/client.log" -o /dev/null -o /dev/null "$U/fast" "$U/slow"
    step "$WORK/client.log" node "$HERE/get-client.js" keepalive=1 "$U/fast" "$U/slow?from=node"
    step "$WORK/client.log" python3 "$HERE/get-client.py" 0 "$U/fast" "POST $U/slow/upload"
    step "$WORK/client.log" "$WORK/go-get" "$U/fast" "$U/slow?from=go"
    stop_tcpdump cap
    cat "$WORK/srv.server.out" >&2
    finish_kinds server-timeout-node "$WORK/client.log" server-timeout \
        "$(grep -c 'timeout: destroying' "$WORK/srv.server.out")"
    [ "$(grep -c '^ERROR' "$WORK/client.log")" = 4 ] || { log "FAIL: want 4 client errors"; exit 1; }
    check server-timeout-node expected 'j["close"] == "fin" and 1990 < j["wait_ms"] < 2600 and j["timeout_hint"] is None and j["target"].startswith("/slow")' ;;
reset-unread)
    # the server reads the request line and closes with the rest unread:
    # RST acknowledging the request, a few ms after it
    build_go
    start_server srv python3 "$HERE/bad-server.py" 127.0.0.1 3121 unread
    start_tcpdump cap "$OUT/reset-unread.pcap" "tcp port 3121" lo
    four_clients "$WORK/client.log" http://127.0.0.1:3121/api/items 3000
    step "$WORK/client.log" node "$HERE/get-client.js" "POST http://127.0.0.1:3121/api/items"
    stop_tcpdump cap
    finish_kinds reset-unread "$WORK/client.log" reset-before-response
    check reset-unread expected 'j["rst_packet"] and j["fin_packet"] is None and j["method"] in ("GET", "POST")' ;;
client-abort)
    # clients give up after 500 ms; the servers answer after 1.5 s.
    # 3122: real Node http server (it notices the client's FIN, closes at
    # once: no late response); 3123: a Python socket server that does not
    # look at the socket while "working": its late response meets an RST.
    build_go
    start_server srv node "$HERE/hang-server.js" mode=slow host=127.0.0.1 port=3122 delay=1500
    start_server slow python3 "$HERE/bad-server.py" 127.0.0.1 3123 slow
    start_tcpdump cap "$OUT/client-abort.pcap" "tcp port 3122 or tcp port 3123" lo
    for port in 3122 3123; do
        U=http://127.0.0.1:$port/report
        curl_step "$WORK/client.log" --max-time 0.5 -o /dev/null "$U?from=curl"; sleep 1.3
        step "$WORK/client.log" node "$HERE/get-client.js" timeout=500 "$U?from=node"; sleep 1.3
        step "$WORK/client.log" python3 "$HERE/get-client.py" 0.5 "$U?from=python"; sleep 1.3
        step "$WORK/client.log" "$WORK/go-get" -timeout 500ms "$U?from=go"; sleep 1.3
    done
    # an abortive client: raw socket, gives up after 0.5 s with SO_LINGER 0 -> RST
    step "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3123 '[["connect"],
        ["send", "GET /report?from=raw-linger0 HTTP/1.1\nHost: 127.0.0.1:3123\n\n"],
        ["sleep", 0.5], ["abort"]]'
    sleep 1.3
    stop_tcpdump cap
    cat "$WORK/srv.server.out" "$WORK/slow.server.out" >&2
    finish_kinds client-abort "$WORK/client.log" client-abort
    # the late response meets an RST only where the server still writes it
    # (3123) and the client left with a FIN (after an RST the server's
    # socket is reset and its write fails: nothing goes out)
    check client-abort expected '(j["abort"] == "rst") == j["target"].endswith("raw-linger0") and j["late_response_rst"] == (j["server"].endswith(":3123") and j["abort"] == "fin")' ;;
refused-v4|refused-v6)
    build_go
    if [ "$SCENARIO" = refused-v4 ]; then port=3124 U=http://127.0.0.1:3124; else port=3125 U='http://[::1]:3125'; fi
    ! ss -Htln "sport = :$port" | grep -q . || { log "FAIL: port $port is in use"; exit 1; }
    start_tcpdump cap "$OUT/$SCENARIO.pcap" "tcp port $port" lo
    # nothing listens: each SYN is answered by RST+ACK
    curl_step "$WORK/client.log" -o /dev/null "$U/health"
    curl_step "$WORK/client.log" -o /dev/null "$U/health"
    step "$WORK/client.log" node "$HERE/get-client.js" "$U/health" "$U/health?try=2"
    step "$WORK/client.log" python3 "$HERE/get-client.py" 0 "$U/health"
    step "$WORK/client.log" "$WORK/go-get" "$U/health"
    stop_tcpdump cap
    finish_kinds "$SCENARIO" "$WORK/client.log" refused
    check "$SCENARIO" expected 'j["rst_packet"] == j["request_packet"] + 1 and j["method"] is None' ;;
connect-timeout)
    # hu-ctc [hu-t0 10.78.0.1] <-veth-> [hu-t1 10.78.0.2] hu-cts
    # hu-cts drops every packet to tcp port 3126 (nft, input hook): SYNs are
    # never answered. Port 3127 is open (a control exchange).
    build_go
    command -v nft >/dev/null || { log "FAIL: nft missing (apt-get install nftables)"; exit 1; }
    make_netns hu-ctc hu-cts
    ip link add hu-t0 netns hu-ctc type veth peer name hu-t1 netns hu-cts
    ip -n hu-ctc addr add 10.78.0.1/24 dev hu-t0
    ip -n hu-cts addr add 10.78.0.2/24 dev hu-t1
    ip -n hu-ctc link set hu-t0 up
    ip -n hu-cts link set hu-t1 up
    if command -v ethtool >/dev/null; then
        ip netns exec hu-ctc ethtool -K hu-t0 tx off tso off gso off >/dev/null
        ip netns exec hu-cts ethtool -K hu-t1 tx off tso off gso off >/dev/null
    fi
    ip -n hu-ctc neigh replace 10.78.0.2 dev hu-t0 lladdr "$(ip -n hu-cts -br link show hu-t1 | awk '{print $3}')"
    ip -n hu-cts neigh replace 10.78.0.1 dev hu-t1 lladdr "$(ip -n hu-ctc -br link show hu-t0 | awk '{print $3}')"
    ip netns exec hu-cts nft -f - <<'NFT'
table inet hangup_sample {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 3126 drop
    }
}
NFT
    start_server srv ip netns exec hu-cts python3 "$HERE/py-server.py" 10.78.0.2 3127 1
    start_tcpdump cap "$OUT/connect-timeout.pcap" "tcp port 3126 or tcp port 3127" hu-t0 hu-ctc
    C=(ip netns exec hu-ctc)
    CURL_PRE=("${C[@]}")
    curl_step "$WORK/client.log" -o /dev/null http://10.78.0.2:3127/ping      # the host is up
    # connect timeout 3.5 s: the kernel sends the SYN at 0, 1 and 3 s
    curl_step "$WORK/client.log" --connect-timeout 3.5 -o /dev/null http://10.78.0.2:3126/api
    step "$WORK/client.log" "${C[@]}" node "$HERE/get-client.js" timeout=3500 http://10.78.0.2:3126/api
    step "$WORK/client.log" "${C[@]}" python3 "$HERE/get-client.py" 3.5 http://10.78.0.2:3126/api
    step "$WORK/client.log" "${C[@]}" "$WORK/go-get" -timeout 3.5s http://10.78.0.2:3126/api
    stop_tcpdump cap
    finish_kinds connect-timeout "$WORK/client.log" connect-timeout
    # 3 tries (0, 1, 3 s) on kernels before 6.5; 4 (0, 1, 2, 3 s) with
    # net.ipv4.tcp_syn_linear_timeouts (6.5+, default 4: linear 1 s retries)
    check connect-timeout expected 'j["tries"] in (3, 4) and 2900 < j["spent_ms"] < 3400' ;;
truncated-response)
    # 3128: Content-Length 10000, 3000 bytes, FIN; 3129: chunked, three
    # 1000-byte chunks, then RST (SO_LINGER 0), no final chunk
    build_go
    start_server srv python3 "$HERE/bad-server.py" 127.0.0.1 3128 short-cl
    start_server rst python3 "$HERE/bad-server.py" 127.0.0.1 3129 chunked-rst
    start_tcpdump cap "$OUT/truncated-response.pcap" "tcp port 3128 or tcp port 3129" lo
    four_clients "$WORK/client.log" http://127.0.0.1:3128/download/file.bin 5000
    four_clients "$WORK/client.log" http://127.0.0.1:3129/stream/log 5000
    stop_tcpdump cap
    finish_kinds truncated-response "$WORK/client.log" truncated-response
    check truncated-response expected '(j["close"], j["expected_bytes"], j["received_bytes"]) in (("fin", 10000, 3000), ("rst", None, 3021))' ;;
closed-before-response)
    # 3130: nginx (our own instance and config, never the system service),
    # "return 444" under /admin/: it closes the connection without a
    # response. 3131: bad-server.py refuse-json closes on a header it
    # refuses. Both read the whole request first: FIN, not RST.
    build_go
    start_nginx 3130 'location /admin/ { return 444; }'
    start_server srv python3 "$HERE/bad-server.py" 127.0.0.1 3131 refuse-json
    start_tcpdump cap "$OUT/closed-before-response.pcap" "tcp port 3130 or tcp port 3131" lo
    U=http://127.0.0.1:3130
    # fresh connections (curl, Node), reused ones (Python, Go: a clean
    # /health first); Go retries the GET that died on a reused connection
    # once, on a new one, which nginx closes too: two incidents, one error
    curl_step "$WORK/client.log" -o /dev/null "$U/admin/export"
    step "$WORK/client.log" node "$HERE/get-client.js" "$U/admin/export?from=node"
    step "$WORK/client.log" python3 "$HERE/get-client.py" 0 "$U/health" "$U/admin/export?from=python"
    step "$WORK/client.log" "$WORK/go-get" "$U/health" "$U/admin/export?from=go"
    U=http://127.0.0.1:3131
    # a JSON POST, refused for its Content-Type: fresh (curl), after a clean
    # GET on the same connection (Node, Python)
    curl_step "$WORK/client.log" -o /dev/null -H 'Content-Type: application/json' \
        --data '{"n":1}' "$U/api/orders"
    step "$WORK/client.log" node "$HERE/get-client.js" keepalive=1 "$U/api/orders" "POST $U/api/orders"
    step "$WORK/client.log" python3 "$HERE/get-client.py" 0 "$U/api/orders" "POST $U/api/orders"
    stop_tcpdump cap
    cat "$WORK/nginx/access.log" "$WORK/srv.server.out" >&2
    finish_kinds closed-before-response "$WORK/client.log" closed-before-response \
        "$(( $(grep -c '" 444 ' "$WORK/nginx/access.log") + $(grep -c 'refusing' "$WORK/srv.server.out") ))"
    [ "$(grep -c '^ERROR' "$WORK/client.log")" = 7 ] || { log "FAIL: want 7 client errors"; exit 1; }
    check closed-before-response expected 'j["close"] == "fin" and j["fin_packet"] and j["rst_packet"] is None and 0 <= j["wait_ms"] < 1000 and (j["method"], j["target"].split("?")[0]) in (("GET", "/admin/export"), ("POST", "/api/orders"))' ;;
starttls)
    # Cleartext protocols turned to TLS mid-connection, on loopback, TLS 1.3:
    # FTP AUTH TLS (3521), SMTP (3525), IMAP (3543), POP3 (3510) and XMPP
    # (3522) STARTTLS from starttls-server.py, PostgreSQL's SSLRequest (3532)
    # from a real PostgreSQL.  Each server closes a connection left idle
    # 300 ms inside TLS, without a close_notify.
    starttls_cert
    for p in ftp:3521 smtp:3525 imap:3543 pop3:3510 xmpp:3522; do
        start_server "${p%:*}" python3 "$HERE/starttls-server.py" "${p%:*}" 127.0.0.1 "${p#*:}" \
            "$WORK/cert.pem" "$WORK/key.pem" idle=300
    done
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PGD="$WORK/pg"
    mkdir -p "$PGD" && chown postgres "$PGD" "$WORK" && chmod 755 "$WORK"
    cp "$WORK/cert.pem" "$WORK/key.pem" "$PGD/" && chown postgres "$PGD"/*.pem && chmod 600 "$PGD/key.pem"
    runuser -u postgres -- "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres >/dev/null
    echo "hostssl all all 127.0.0.1/32 trust" >"$PGD/data/pg_hba.conf"
    start_server pg runuser -u postgres -- "$PGBIN/postgres" -D "$PGD/data" -c port=3532 \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories="$PGD" -c ssl=on \
        -c ssl_cert_file="$PGD/cert.pem" -c ssl_key_file="$PGD/key.pem" \
        -c idle_session_timeout=300 -c authentication_timeout=1 -c logging_collector=off
    wait_for "$WORK/pg.server.out" "ready to accept connections" 10
    start_tcpdump cap "$OUT/starttls.pcap" "tcp portrange 3510-3543" lo
    # Python's own clients (ftplib, smtplib, imaplib, poplib) turn each
    # connection to TLS (SNI mail.example.test), make one exchange inside it,
    # sleep 600 ms and send NOOP: the server closed at 300 ms, its kernel
    # answers the TLS record with RST -> stale, a lost request (ERROR)
    for p in ftp:3521 smtp:3525 imap:3543 pop3:3510; do
        step "$WORK/client.log" python3 "$HERE/starttls-client.py" "${p%:*}" 127.0.0.1 "${p#*:}" late 600
    done
    # psql (libpq): SSLRequest, 'S', TLS; a query, about 1 s idle (PostgreSQL's
    # idle_session_timeout closes at 300 ms), then a query that draws RST
    { echo 'SELECT 1 AS first;'; sleep 1.2; echo 'SELECT 2 AS second;'; } |
        timeout 20 psql -X "host=127.0.0.1 port=3532 user=postgres dbname=postgres sslmode=require" \
        >"$WORK/psql.out" 2>&1 || true
    cat "$WORK/psql.out" >&2
    if grep -q 'server closed the connection\|terminating connection' "$WORK/psql.out"; then
        echo "ERROR psql second query: $(grep -m1 'FATAL\|closed' "$WORK/psql.out")"
    else
        echo "OK psql"
    fi | tee -a "$WORK/client.log" >&2
    # OpenSSL s_client as the second stack: the upgrade, one command inside
    # TLS, then silence until the server's idle close, which s_client
    # answers with its close_notify (a 24-byte record): RST, no lost request
    sclient_step "$WORK/client.log" "" ftp 127.0.0.1:3521 1 "PWD"
    sclient_step "$WORK/client.log" "" smtp 127.0.0.1:3525 1 "EHLO client.example.test"
    sclient_step "$WORK/client.log" "" imap 127.0.0.1:3543 1 "a1 CAPABILITY"
    sclient_step "$WORK/client.log" "" pop3 127.0.0.1:3510 1 "STAT"
    sclient_step "$WORK/client.log" "" xmpp 127.0.0.1:3522 1 \
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='chat.example.test' version='1.0'>"
    # against PostgreSQL no startup message follows the upgrade: it gives up
    # after authentication_timeout (1 s)
    sclient_step "$WORK/client.log" "" postgres 127.0.0.1:3532 2
    stop_tcpdump cap
    finish starttls "$WORK/client.log" stale
    check starttls expected 'j["tls"] and j["method"] is None and j["sni"] == ("mail.example.test" if j["server"] != "127.0.0.1:3532" else None)'
    tshark_tls starttls tcp.port==3521,ftp tcp.port==3525,smtp tcp.port==3543,imap \
        tcp.port==3510,pop tcp.port==3522,xmpp tcp.port==3532,pgsql ;;
starttls-crossed)
    # FTP AUTH TLS through the delay line (25 ms each way), captured at both
    # ends: the server answers QUIT with 221 and closes 20 ms later, or
    # closes a connection idle for 300 ms inside TLS
    make_wire
    starttls_cert
    start_server srv ip netns exec hu-srv python3 "$HERE/starttls-server.py" ftp 10.77.0.2 3121 \
        "$WORK/cert.pem" "$WORK/key.pem" idle=300 quit=20
    start_tcpdump cli "$OUT/starttls-crossed-client.pcap" "tcp port 3121" hu-c0 hu-cli
    start_tcpdump srv "$OUT/starttls-crossed-server.pcap" "tcp port 3121" hu-s0 hu-srv
    # ftplib closes its TLS session on the 221 (close_notify, 24 bytes): it
    # leaves before the server's FIN arrives and reaches the server after
    # its close -> they cross, RST; no request was lost
    step "$WORK/client.log" ip netns exec hu-cli python3 "$HERE/starttls-client.py" ftp 10.77.0.2 3121 notify
    # s_client answers the FIN that follows the 221 with its close_notify
    sclient_step "$WORK/client.log" "ip netns exec hu-cli" ftp 10.77.0.2:3121 1 "QUIT"
    # NOOP 275 ms after the reply to PWD (the server's idle close at 300 ms
    # after sending it): the request crosses the FIN -> RST, crossed (ERROR)
    step "$WORK/client.log" ip netns exec hu-cli python3 "$HERE/starttls-client.py" ftp 10.77.0.2 3121 late 275
    stop_tcpdump cli
    stop_tcpdump srv
    finish starttls-crossed-client "$WORK/client.log" crossed
    finish starttls-crossed-server "$WORK/client.log" crossed
    check starttls-crossed-client expected 'j["tls"] and j["sni"] == "mail.example.test"'
    check starttls-crossed-server expected 'j["tls"] and j["sni"] == "mail.example.test"'
    tshark_tls starttls-crossed-client tcp.port==3121,ftp
    tshark_tls starttls-crossed-server tcp.port==3121,ftp ;;
half-close)
    # A client's FIN sent with its request (shutdown(SHUT_WR) right after the
    # write: Python, socat, OpenBSD nc -N, Node net's end(data)) is a
    # half-close, not an abort. 3132 bad-server.py eof and 3133 the real Node
    # http server (allowHalfOpen false: it ends the socket on the client's
    # FIN; its handler would answer 300 ms later) close without answering:
    # closed-before-response. 3134 nginx and 3135 Python http.server answer
    # a half-closed request: nothing. 3136 bad-server.py http10: a body
    # framed by the close, read whole by a client that half-closes before the
    # server's FIN 2 ms later: nothing. 3137 bad-server.py slow answers after
    # 1.5 s a client that half-closed 0.5 s after its request and kept
    # reading: delivered, nothing. Real aborts (curl, Node, Python, Go
    # giving up after 0.5 s) against 3132 stay client-abort.
    build_go
    command -v socat >/dev/null || { log "FAIL: socat missing (apt-get install socat)"; exit 1; }
    nc -h 2>&1 | grep -q OpenBSD || { log "FAIL: OpenBSD nc missing (apt-get install netcat-openbsd)"; exit 1; }
    start_nginx 3134
    start_server eof python3 "$HERE/bad-server.py" 127.0.0.1 3132 eof
    start_server node node "$HERE/hang-server.js" mode=slow host=127.0.0.1 port=3133 delay=300
    start_server pyhttp python3 "$HERE/py-server.py" 127.0.0.1 3135 5
    start_server h10 python3 "$HERE/bad-server.py" 127.0.0.1 3136 http10
    start_server slow python3 "$HERE/bad-server.py" 127.0.0.1 3137 slow
    start_tcpdump cap "$OUT/half-close.pcap" "tcp portrange 3132-3137" lo
    hc_clients() {   # hc_clients PORT CLIENTS...: request + half-close at once, read to the end
        local port=$1 c req; shift
        for c in "$@"; do
            req="GET /hc/$c HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n\r\n"
            case $c in
            python) step "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 "$port" \
                        "[[\"connect\"], [\"send\", \"$req\"], [\"shutdown\"], [\"read\", \"GET\"]]" ;;
            socat)  hc_step "$WORK/client.log" socat sh -c "printf '$req' | socat -t 2 - TCP:127.0.0.1:$port" ;;
            nc)     hc_step "$WORK/client.log" nc sh -c "printf '$req' | nc -N -w 5 127.0.0.1 $port" ;;
            node)   hc_step "$WORK/client.log" node node -e "$NODE_HALF_CLOSE" 127.0.0.1 "$port" "$req" ;;
            esac
            sleep 0.2
        done
    }
    hc_clients 3132 python socat nc node
    hc_clients 3133 python nc node
    hc_clients 3134 python socat nc node
    hc_clients 3135 python socat nc
    # the close-delimited body read whole, then the half-close
    step "$WORK/client.log" python3 "$HERE/raw-client.py" 127.0.0.1 3136 '[["connect"],
        ["send", "GET /framed/python HTTP/1.0\nHost: 127.0.0.1:3136\n\n"],
        ["readuntil", "END"], ["shutdown"], ["read", "GET"]]'
    sleep 0.2
    # a tool half-closing 0.5 s after its request, still reading: answered at 1.5 s
    hc_step "$WORK/client.log" nc sh -c "{ printf 'GET /late/nc HTTP/1.1\r\nHost: 127.0.0.1:3137\r\n\r\n'; sleep 0.5; } | nc -N -w 5 127.0.0.1 3137"
    sleep 0.2
    # real aborts: the clients' own 500 ms timeouts against the server that
    # never answers
    four_clients "$WORK/client.log" http://127.0.0.1:3132/abort/x 500
    sleep 0.3
    stop_tcpdump cap
    cat "$WORK/eof.server.out" "$WORK/node.server.out" "$WORK/h10.server.out" "$WORK/slow.server.out" >&2
    finish_kinds half-close "$WORK/client.log" "closed-before-response client-abort"
    # every half-close to a server closing without a word is the server's
    # close; every abort the client's; nothing else
    check half-close expected '(j["kind"] == "client-abort") == j["target"].startswith("/abort/") and j["server"].endswith((":3132", ":3133")) and (j["kind"] == "client-abort" or (j["close"] == "fin" and j["wait_ms"] < 1000))' ;;
*)
    echo "unknown scenario: $SCENARIO" >&2; exit 2 ;;
esac
log "ok"
