#!/bin/bash
# samples/tls-capture.sh SCENARIO|all [OUTDIR]
#
# Real captures of TLS keep-alive races with the NSS key logs the TLS stacks
# themselves wrote (issue 20: --tls-keylog and pcapng Decryption Secrets
# Blocks), into OUTDIR (default samples/tls). For each NAME:
#   NAME.pcap      the capture (tcpdump on the loopback, or the client's
#                  veth for tls-wire)
#   NAME.keys      the key log (written by the client's or the server's stack)
#   NAME.tcpdump   TZ=UTC tcpdump -n -r NAME.pcap
#   NAME.plain     tshark's decryption: one line "FRAME<TAB>HEX" per decrypted
#                  application-data record (tls-plain.py, checked against
#                  tshark's follow,tls,raw)
#   NAME.tshark    the HTTP requests tshark decrypts: frame, method, uri,
#                  host, content length (tab separated)
#   NAME.expected  expect.py --tls-plain=NAME.plain: the incidents
#   NAME.servers   expect.py's server summaries
# Every race is a server that closes an idle TLS connection (FIN, no
# close_notify) and a client that writes its next request after the FIN
# reached it: the server's kernel answers RST (verdict "stale").
#
# Scenarios:
#   tls13-suites    Node client -> Python server, TLS 1.3, one connection per
#                   suite (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305)
#   tls12-suites    Python client -> Node server, TLS 1.2, ECDHE-RSA with
#                   AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
#   tls12-cbc       Node and Python clients -> Python servers, TLS 1.2 CBC
#                   suites (SHA-1 and SHA-256 MACs), with and without
#                   encrypt-then-MAC (RFC 7366)
#   tls-ipv6        over ::1: Node TLS 1.3 and Python TLS 1.2 races against a
#                   server announcing Keep-Alive: timeout=5, curl reusing a
#                   connection cleanly
#   tls-multiseg    in a network namespace whose loopback has MTU 1500 and no
#                   segmentation offload: POSTs in several TLS records and
#                   several TCP segments, one answered, one lost
#   tls-wire        through a delay line (10 ms each way, namespaces
#                   hu-tcli/hu-tmid/hu-tsrv): lost requests of several TLS
#                   records and several TCP segments (Node TLS 1.3, Python
#                   TLS 1.2)
#   tls-crossed     tls-wire's namespaces, 25 ms each way, both vantages
#                   (writes tls-crossed-client and tls-crossed-server): a
#                   crossed TLS 1.3 race, and a stale TLS 1.2 race whose lost
#                   request misses a segment at the server's vantage
#   tls-keylog-edge the server's key log, edited: one session's lines deleted,
#                   garbage lines and CRLF endings added (NAME.full.keys is the
#                   log as written, NAME.full.expected its incidents)
#   tls13-keyupdate openssl s_server: TLS 1.3 KeyUpdate (both directions)
#                   before the lost request
#   tls-go          Go's crypto/tls client (not OpenSSL): TLS 1.2 CBC with
#                   SHA-256 and SHA-1 MACs (never encrypt-then-MAC), TLS 1.3
#   dsb             pcapng copies of tls12-suites and tls13-suites with their
#                   keys in a Decryption Secrets Block (editcap --inject-secrets)
#   all             every scenario above, in this order
#
# Must run as root (tcpdump, network namespaces). All traffic stays on
# loopback or inside the namespaces created here (hu-tls, hu-tcli, hu-tmid,
# hu-tsrv). Needs node, python3, openssl, curl, go, tcpdump, tshark,
# editcap, ethtool.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # tlsopt.py is imported from samples/

HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIO=${1:?usage: tls-capture.sh SCENARIO|all [OUTDIR]}
OUT=${2:-$HERE/tls}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/hangup-tls.XXXXXX)
PIDS=()
NETNS=()   # capture-lib.sh's cleanup deletes these
VERDICTS=stale

. "$HERE/capture-lib.sh"

if [ "$SCENARIO" = all ]; then
    for s in tls13-suites tls12-suites tls12-cbc tls-ipv6 tls-multiseg tls-wire tls-crossed \
             tls-keylog-edge \
             tls13-keyupdate tls-go dsb; do
        "$0" "$s" "$OUT"
    done
    exit 0
fi

# an RSA certificate (ECDHE-RSA suites) for the servers
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 1 -subj /CN=localhost 2>/dev/null
CERT=(cert="$WORK/cert.pem" key="$WORK/key.pem")

# node_run LOG KEYS URL CIPHERS PLAN [EXTRA...]: one tls-node-client.js run
node_run() {
    local logf=$1 keys=$2 url=$3 ciphers=$4 plan=$5; shift 5
    { timeout 30 node "$HERE/tls-node-client.js" url="$url" keylog="$keys" \
        ciphers="$ciphers" plan="$plan" "$@" 2>&1 || true; } | tee -a "$logf" >&2
}

# py_run LOG KEYS HOST PORT PLAN [EXTRA...]: one tls-client.py run
py_run() {
    local logf=$1 keys=$2 host=$3 port=$4 plan=$5; shift 5
    { timeout 30 python3 "$HERE/tls-client.py" host="$host" port="$port" keylog="$keys" \
        plan="$plan" "$@" 2>&1 || true; } | tee -a "$logf" >&2
}

# finish NAME CLIENTLOG [KEYS]: the ground truth of OUT/NAME.pcap with the key
# log KEYS (default OUT/NAME.keys), then the cross-checks: as many incidents
# as client errors, every race's verdict in VERDICTS (default stale), and
# every decrypted lost request is one
# the client logged as failed and one tshark's HTTP dissector shows.
finish() {
    local name=$1 clog=$2 keys=${3:-$OUT/$1.keys} cap="$OUT/$1.pcap" n errs
    chown "$(stat -c %u:%g "$OUT")" "$cap" && chmod 644 "$cap"
    [ "$(wc -c <"$cap")" -lt 100000 ] || { log "FAIL $name: capture is 100 KB or more"; return 1; }
    TZ=UTC tcpdump -n -r "$cap" >"$OUT/$name.tcpdump" 2>/dev/null
    python3 "$HERE/tls-plain.py" "$cap" "$keys" >"$OUT/$name.plain"
    tshark -r "$cap" -o "tls.keylog_file:$keys" -Y http.request -T fields -e frame.number \
        -e http.request.method -e http.request.uri -e http.host -e http.content_length \
        >"$OUT/$name.tshark" 2>/dev/null
    python3 "$HERE/expect.py" "$cap" --show --servers="$OUT/$name.servers" \
        --tls-plain="$OUT/$name.plain" >"$OUT/$name.expected"
    n=$(wc -l <"$OUT/$name.expected")
    errs=$(grep -c '^ERROR' "$clog" || true)
    log "$name.pcap: $(tcpdump -n -r "$cap" 2>/dev/null | wc -l) packets, $(wc -c <"$cap") bytes," \
        "$n incident(s), $(grep -c . "$OUT/$name.tshark") request(s) decrypted by tshark," \
        "client errors: $errs"
    [ "$n" = "$errs" ] || { log "FAIL $name: oracle found $n incident(s), clients saw $errs error(s)"; return 1; }
    python3 - "$OUT/$name.expected" "$OUT/$name.tshark" "$clog" "$VERDICTS" <<'PY' || { log "FAIL $name: cross-check"; return 1; }
import json, sys
incs = [json.loads(l) for l in open(sys.argv[1])]
verdicts = sys.argv[4].split()
tshark = {int(f[0]): f[1:] for f in (l.rstrip("\n").split("\t") for l in open(sys.argv[2])) if f[0]}
errors = [l for l in open(sys.argv[3]) if l.startswith("ERROR")]
bad = []
for j in incs:
    if j.get("verdict") not in verdicts or not j["tls"]:
        bad.append(f"not a TLS race with verdict {verdicts}: {j}")
    if not j.get("tls_decrypted"):
        continue
    want = f" {j['method']} {j['target']} "
    if not any(want in e for e in errors):
        bad.append(f"decrypted {want.strip()} is not a request a client logged as failed")
    got = [f for n, f in tshark.items() if n >= j["request_packet"] and f[0] == j["method"]
           and f[1] == j["target"]]
    if not got:
        bad.append(f"tshark does not decrypt {want.strip()} at or after packet {j['request_packet']}")
    elif (got[0][2] or None) != j["host"] or (int(got[0][3]) if got[0][3] else None) != j["content_length"]:
        bad.append(f"tshark's host/content length {got[0][2:]} differ from {j}")
for b in bad:
    print("  " + b, file=sys.stderr)
print(f"  {sum(1 for j in incs if j.get('tls_decrypted'))} of {len(incs)} lost request(s) decrypted, "
      "each as a client logged it and as tshark shows it", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# tls_wire DELAY_MS [RULE...]: the three namespaces of tls-wire and tls-crossed
#   hu-tcli [hu-tc0 10.78.0.1] <-veth-> [hu-tc1] hu-tmid [hu-ts1] <-veth-> [hu-ts0 10.78.0.2] hu-tsrv
# hu-tmid runs delayline.py (DELAY_MS each way, RULEs as delayline.py's): a
# lost request's segments have all left before the RST comes back. MTU
# 1500, no offloads (the captures show wire-sized frames).
tls_wire() {
    local x l d=$1; shift
    make_netns hu-tcli hu-tmid hu-tsrv
    ip link add hu-tc0 netns hu-tcli type veth peer name hu-tc1 netns hu-tmid
    ip link add hu-ts0 netns hu-tsrv type veth peer name hu-ts1 netns hu-tmid
    ip -n hu-tcli addr add 10.78.0.1/24 dev hu-tc0
    ip -n hu-tsrv addr add 10.78.0.2/24 dev hu-ts0
    for x in hu-tcli:hu-tc0 hu-tmid:hu-tc1 hu-tmid:hu-ts1 hu-tsrv:hu-ts0; do
        ip -n "${x%:*}" link set "${x#*:}" up
        ip netns exec "${x%:*}" ethtool -K "${x#*:}" tx off tso off gso off >/dev/null
    done
    for l in hu-tc1 hu-ts1; do ip -n hu-tmid link set "$l" promisc on; done
    ip -n hu-tcli neigh replace 10.78.0.2 dev hu-tc0 lladdr "$(ip -n hu-tsrv -br link show hu-ts0 | awk '{print $3}')"
    ip -n hu-tsrv neigh replace 10.78.0.1 dev hu-ts0 lladdr "$(ip -n hu-tcli -br link show hu-tc0 | awk '{print $3}')"
    # the whole request in flight at once: congestion window not reduced by the idle
    ip netns exec hu-tcli sysctl -qw net.ipv4.tcp_slow_start_after_idle=0
    ip -n hu-tcli route replace 10.78.0.0/24 dev hu-tc0 initcwnd 40
    ip -n hu-tsrv route replace 10.78.0.0/24 dev hu-ts0 initrwnd 40
    start_server dl ip netns exec hu-tmid python3 "$HERE/delayline.py" hu-tc1 hu-ts1 "$d" "$@"
}

# check NAME PYTHON-EXPR: every line l of NAME.expected satisfies the expression
check() {
    python3 -c 'import sys; sys.exit(not all(eval(sys.argv[2], {"l": l}) for l in open(sys.argv[1])))' \
        "$OUT/$1.expected" "$2" || { log "FAIL $1: a line does not satisfy $2"; cat "$OUT/$1.expected" >&2; return 1; }
}

# check_decrypted NAME N: exactly N incidents of NAME.expected are decrypted
check_decrypted() {
    local got
    got=$(grep -c '"tls_decrypted":true' "$OUT/$1.expected" || true)
    [ "$got" = "$2" ] || { log "FAIL $1: $got decrypted incident(s), want $2"; return 1; }
}

case $SCENARIO in
tls13-suites)
    start_server srv python3 "$HERE/tls-server.py" host=127.0.0.1 port=8460 close=400 "${CERT[@]}"
    start_tcpdump cap "$OUT/tls13-suites.pcap" "tcp port 8460" lo
    rm -f "$OUT/tls13-suites.keys"
    # per suite: two requests, then the third waits 300 ms and spins 200 ms:
    # the server's FIN (400 ms idle) arrives while Node's event loop is busy
    for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
        node_run "$WORK/client.log" "$OUT/tls13-suites.keys" https://127.0.0.1:8460 "$suite" '[
            ["GET","/suite/'$suite'",0,0,0], ["GET","/account",60,0,0],
            ["POST","/transfer/'$suite'",300,200,64] ]'
    done
    stop_tcpdump cap
    finish tls13-suites "$WORK/client.log" ;;
tls12-suites)
    start_server srv node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=8461 close=300 \
        "${CERT[@]}"
    start_tcpdump cap "$OUT/tls12-suites.pcap" "tcp port 8461" lo
    rm -f "$OUT/tls12-suites.keys"
    # per suite: GET, GET; then 500 ms idle (the server closed at 300 ms) and
    # a GET or a POST that http.client writes on the closed connection
    for suite in ECDHE-RSA-AES128-GCM-SHA256:GET ECDHE-RSA-AES256-GCM-SHA384:POST \
                 ECDHE-RSA-CHACHA20-POLY1305:GET; do
        c=${suite%:*} m=${suite#*:}
        py_run "$WORK/client.log" "$OUT/tls12-suites.keys" 127.0.0.1 8461 '[
            ["GET","/suite/'$c'",0,0,1], ["GET","/items?page=2",50,0,1],
            ["'$m'","/lost/'$c'",500,'"$([ "$m" = POST ] && echo 300 || echo 0)"',1] ]' \
            tls=1.2 ciphers="$c"
    done
    stop_tcpdump cap
    finish tls12-suites "$WORK/client.log" ;;
tls12-cbc)
    # two Python/OpenSSL servers: 8462 negotiates encrypt-then-MAC when the
    # client offers it (OpenSSL's default), 8463 never does (no_etm=1)
    # (Python's default server list has no SHA-1 MAC and no RSA key exchange)
    C=ciphers=ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:AES256-SHA256
    start_server etm python3 "$HERE/tls-server.py" host=127.0.0.1 port=8462 close=400 "$C" \
        "${CERT[@]}"
    start_server mte python3 "$HERE/tls-server.py" host=127.0.0.1 port=8463 close=400 "$C" \
        no_etm=1 "${CERT[@]}"
    start_tcpdump cap "$OUT/tls12-cbc.pcap" "tcp portrange 8462-8463" lo
    rm -f "$OUT/tls12-cbc.keys"
    K=$OUT/tls12-cbc.keys
    node_run "$WORK/client.log" "$K" https://127.0.0.1:8462 ECDHE-RSA-AES128-SHA '[
        ["GET","/cbc/sha1/etm",0,0,0], ["POST","/cbc/sha1/etm/lost",300,200,100] ]' max=TLSv1.2
    py_run "$WORK/client.log" "$K" 127.0.0.1 8462 '[
        ["GET","/cbc/sha256/etm",0,0,1], ["PUT","/cbc/sha256/etm/lost",600,40,1] ]' \
        tls=1.2 ciphers=ECDHE-RSA-AES128-SHA256
    node_run "$WORK/client.log" "$K" https://127.0.0.1:8463 ECDHE-RSA-AES128-SHA '[
        ["GET","/cbc/sha1/mte",0,0,0], ["GET","/cbc/sha1/mte/lost",300,200,0] ]' max=TLSv1.2
    py_run "$WORK/client.log" "$K" 127.0.0.1 8463 '[
        ["GET","/cbc/sha256/mte",0,0,1], ["POST","/cbc/sha256/mte/lost",600,333,1] ]' \
        tls=1.2 ciphers=AES256-SHA256
    stop_tcpdump cap
    finish tls12-cbc "$WORK/client.log" ;;
tls-ipv6)
    start_server srv python3 "$HERE/tls-server.py" host=::1 port=8464 close=400 hint=5 "${CERT[@]}"
    start_tcpdump cap "$OUT/tls-ipv6.pcap" "tcp port 8464" lo
    rm -f "$OUT/tls-ipv6.keys"
    K=$OUT/tls-ipv6.keys
    # curl (SSLKEYLOGFILE): three requests 250 ms apart on one connection
    # (the server closes after 400 ms idle), then curl closes it: no race
    SSLKEYLOGFILE=$K timeout 20 curl -sSk --rate 4/s -o /dev/null -o /dev/null -o /dev/null \
        "https://[::1]:8464/curl/a" "https://[::1]:8464/curl/b" "https://[::1]:8464/curl/c" \
        -w 'curl %{url_effective} %{http_code} new_conns=%{num_connects}\n' \
        | tee -a "$WORK/client.log" >&2
    node_run "$WORK/client.log" "$K" "https://[::1]:8464" TLS_AES_256_GCM_SHA384 '[
        ["GET","/v6/login",0,0,0], ["GET","/v6/account",50,0,0], ["GET","/v6/balance",50,0,0],
        ["POST","/v6/transfer",300,200,512] ]'
    py_run "$WORK/client.log" "$K" ::1 8464 '[
        ["GET","/v6/tls12/a",0,0,1], ["GET","/v6/tls12/b",50,0,1],
        ["DELETE","/v6/tls12/item/9",600,0,1] ]' tls=1.2 ciphers=ECDHE-RSA-AES256-GCM-SHA384
    stop_tcpdump cap
    finish tls-ipv6 "$WORK/client.log" ;;
tls-multiseg)
    # hu-tls: a namespace whose loopback has MTU 1500 and no TSO/GSO, so a
    # large write leaves as MSS-sized segments (the host's lo would carry it
    # as one 64 KB packet)
    make_netns hu-tls
    ip netns exec hu-tls sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n hu-tls link set lo mtu 1500
    ip netns exec hu-tls ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
    # the whole request leaves at once only if the congestion window and the
    # server's receive window allow it (what is held back is never sent: the
    # RST comes first): both 40 segments at the start, the congestion window
    # not reduced after the 500 ms idle
    ip netns exec hu-tls sysctl -qw net.ipv4.tcp_slow_start_after_idle=0
    ip -n hu-tls route replace local 127.0.0.0/8 dev lo table local initcwnd 40 initrwnd 40
    N=(ip netns exec hu-tls)
    start_server srv "${N[@]}" python3 "$HERE/tls-server.py" host=127.0.0.1 port=8465 close=400 \
        "${CERT[@]}"
    start_tcpdump cap "$OUT/tls-multiseg.pcap" "tcp port 8465" lo hu-tls
    rm -f "$OUT/tls-multiseg.keys"
    K=$OUT/tls-multiseg.keys
    # Node hands a request to the kernel in one write: the 12000-byte POST
    # is answered (one record, 9 segments); the 6000-byte one is lost (one
    # record, 5 segments). Linux sends the segments of a large write
    # while it copies it and processes the peer's RST in between (the
    # backlog is flushed for each new segment): a lost request much larger
    # than this is cut short by its own RST, its last record incomplete.
    { timeout 30 "${N[@]}" node "$HERE/tls-node-client.js" url=https://127.0.0.1:8465 keylog="$K" \
        plan='[ ["GET","/upload/start",0,0,0], ["POST","/upload/chunk/1",50,0,12000],
                ["POST","/upload/chunk/2",300,200,6000] ]' 2>&1 || true; } \
        | tee -a "$WORK/client.log" >&2
    stop_tcpdump cap
    finish tls-multiseg "$WORK/client.log"
    check_decrypted tls-multiseg 1 ;;
tls-wire)
    tls_wire 10
    start_server srv ip netns exec hu-tsrv python3 "$HERE/tls-server.py" host=10.78.0.2 port=8469 \
        close=400 "${CERT[@]}"
    start_tcpdump cap "$OUT/tls-wire.pcap" "tcp port 8469" hu-tc0 hu-tcli
    rm -f "$OUT/tls-wire.keys"
    K=$OUT/tls-wire.keys
    # Node, TLS 1.3: a 20000-byte POST, two records, 14 segments, one write
    { timeout 30 ip netns exec hu-tcli node "$HERE/tls-node-client.js" url=https://10.78.0.2:8469 \
        keylog="$K" plan='[ ["GET","/wire/start",0,0,0], ["POST","/wire/upload",300,200,20000] ]' \
        2>&1 || true; } | tee -a "$WORK/client.log" >&2
    # Python, TLS 1.2: header block and a 9000-byte body in three writes
    # (three records), nine segments
    { timeout 30 ip netns exec hu-tcli python3 "$HERE/tls-client.py" host=10.78.0.2 port=8469 \
        keylog="$K" tls=1.2 ciphers=ECDHE-RSA-CHACHA20-POLY1305 \
        plan='[ ["GET","/wire/py",0,0,1], ["PUT","/wire/py/doc",600,9000,3] ]' 2>&1 || true; } \
        | tee -a "$WORK/client.log" >&2
    stop_tcpdump cap
    finish tls-wire "$WORK/client.log"
    check_decrypted tls-wire 2 ;;
tls-keylog-edge)
    # the key log is the server's (Python/OpenSSL keylog callback)
    start_server srv python3 "$HERE/tls-server.py" host=127.0.0.1 port=8467 close=400 \
        keylog="$WORK/server.keys" "${CERT[@]}"
    start_tcpdump cap "$OUT/tls-keylog-edge.pcap" "tcp port 8467" lo
    # 1: Node, TLS 1.3: the lost 20000-byte POST is two records (16384
    #    bytes and the rest) in one 20 KB segment (host loopback)
    node_run "$WORK/client.log" "$WORK/node.keys" https://127.0.0.1:8467 TLS_AES_128_GCM_SHA256 '[
        ["GET","/edge/one",0,0,0], ["POST","/edge/one/upload",300,200,20000] ]'
    # 2: Python, TLS 1.2: its secret is deleted from NAME.keys
    py_run "$WORK/client.log" "$WORK/py.keys" 127.0.0.1 8467 '[
        ["GET","/edge/two",0,0,1], ["PATCH","/edge/two/secret",600,20,1] ]' \
        tls=1.2 ciphers=ECDHE-RSA-AES128-GCM-SHA256
    # 3: Python, TLS 1.3: an answered PUT in three writes (three records),
    #    then the lost GET
    py_run "$WORK/client.log" "$WORK/py.keys" 127.0.0.1 8467 '[
        ["PUT","/edge/three/doc",0,3000,3], ["GET","/edge/three/after",600,0,1] ]' tls=1.3
    stop_tcpdump cap
    cp "$WORK/server.keys" "$OUT/tls-keylog-edge.full.keys"
    # NAME.keys: without connection 2's CLIENT_RANDOM, with CRLF line ends,
    # comments, blank lines, an unknown label, bad hex, a short secret, a
    # line without a secret and one of spaces
    gone=$(tshark -r "$OUT/tls-keylog-edge.pcap" -Y 'tcp.stream==1 && tls.handshake.type==1' \
        -T fields -e tls.handshake.random 2>/dev/null | tr -d :)
    [ ${#gone} = 64 ] || { log "FAIL: no ClientHello in the second connection"; exit 1; }
    { echo "# edited for hangup's tests: session $gone deleted"
      echo ""
      echo "UNKNOWN_LABEL ${gone} 00112233"
      echo "CLIENT_RANDOM ${gone} zz$(printf '%094d' 0)"
      echo "CLIENT_RANDOM ${gone} 0011"
      echo "CLIENT_RANDOM"
      echo "   "
      grep -v "$gone" "$WORK/server.keys"
      echo "# end"; } | sed 's/$/\r/' >"$OUT/tls-keylog-edge.keys"
    finish tls-keylog-edge "$WORK/client.log"
    check_decrypted tls-keylog-edge 2
    # with the log as written, every lost request is decrypted
    python3 "$HERE/tls-plain.py" "$OUT/tls-keylog-edge.pcap" "$OUT/tls-keylog-edge.full.keys" \
        >"$OUT/tls-keylog-edge.full.plain"
    python3 "$HERE/expect.py" "$OUT/tls-keylog-edge.pcap" --tls-plain="$OUT/tls-keylog-edge.full.plain" \
        --servers="$OUT/tls-keylog-edge.full.servers" >"$OUT/tls-keylog-edge.full.expected"
    check_decrypted tls-keylog-edge.full 3 ;;
tls13-keyupdate)
    # openssl s_server (its key log, -keylogfile) answers from a script
    # (responses typed on its stdin), sends a KeyUpdate asking for the
    # client's ("K"), and is killed at an idle point: the kernel closes the
    # connection with a FIN, as an idle close. The Python client's next
    # request goes out under its updated keys: RST.
    mkfifo "$WORK/srv.in"
    openssl s_server -accept 8466 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -tls1_3 \
        -keylogfile "$OUT/tls13-keyupdate.keys" -naccept 1 <"$WORK/srv.in" >"$WORK/srv.out" 2>&1 &
    SRV=$!
    PIDS+=("$SRV")
    exec 3>"$WORK/srv.in"
    wait_for "$WORK/srv.out" ACCEPT 5
    rm -f "$OUT/tls13-keyupdate.pcap"
    start_tcpdump cap "$OUT/tls13-keyupdate.pcap" "tcp port 8466" lo
    resp() { printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
        $((${#1} + 1)) "$1"; printf '\n'; }
    # OpenSSL's client reads the server's KeyUpdate with the response to
    # /ku/after and sends its own before its next record (/ku/third): a
    # KeyUpdate alone before the lost request would draw the RST itself
    py_run "$WORK/client.log" "$WORK/client.keys" 127.0.0.1 8466 '[
        ["GET","/ku/before",0,0,1], ["GET","/ku/after",700,0,1],
        ["GET","/ku/third",300,0,1], ["POST","/ku/lost",800,40,1] ]' tls=1.3 &
    CLI=$!
    sleep 0.4; resp "before key update" >&3
    sleep 0.3; printf 'K\n' >&3
    sleep 0.8; resp "after the server's key update" >&3
    sleep 0.7; resp "after both key updates" >&3
    sleep 0.4; kill -KILL "$SRV"
    wait "$CLI" || true
    exec 3>&-
    stop_tcpdump cap
    finish tls13-keyupdate "$WORK/client.log"
    # tshark decrypts a KeyUpdate (handshake type 24) from each side
    ku=$(tshark -r "$OUT/tls13-keyupdate.pcap" -o "tls.keylog_file:$OUT/tls13-keyupdate.keys" \
        -Y tls.handshake.type==24 -T fields -e tcp.srcport 2>/dev/null | sort -u | wc -l)
    [ "$ku" = 2 ] || { log "FAIL: KeyUpdate seen from $ku side(s), want 2"; exit 1; }
    check_decrypted tls13-keyupdate 1 ;;
dsb)
    # editcap --inject-secrets: the same packets, the key log in a pcapng
    # Decryption Secrets Block; the ground truth is the source's
    for n in tls12-suites tls13-suites; do
        editcap --inject-secrets "tls,$OUT/$n.keys" "$OUT/$n.pcap" "$OUT/$n-dsb.pcapng"
        for x in expected servers tshark plain; do cp "$OUT/$n.$x" "$OUT/$n-dsb.$x"; done
        TZ=UTC tcpdump -n -r "$OUT/$n-dsb.pcapng" >"$OUT/$n-dsb.tcpdump" 2>/dev/null
        cmp -s "$OUT/$n.tcpdump" "$OUT/$n-dsb.tcpdump" || { log "FAIL: $n-dsb packets differ"; exit 1; }
        # tshark reads the embedded keys without -o tls.keylog_file
        tshark -r "$OUT/$n-dsb.pcapng" -Y http.request -T fields -e frame.number \
            -e http.request.method -e http.request.uri -e http.host -e http.content_length \
            2>/dev/null | cmp -s - "$OUT/$n.tshark" || { log "FAIL: $n-dsb: tshark decrypts differently"; exit 1; }
        python3 "$HERE/expect.py" "$OUT/$n-dsb.pcapng" --tls-plain="$OUT/$n.plain" \
            | cmp -s - "$OUT/$n.expected" || { log "FAIL: $n-dsb: expect.py differs"; exit 1; }
        log "$n-dsb.pcapng: $(wc -c <"$OUT/$n-dsb.pcapng") bytes, as $n.pcap with its keys inside"
    done ;;
tls-go)
    GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off HOME="$WORK" \
        go build -o "$WORK/tls-go-client" "$HERE/tls-go-client.go"
    start_server srv python3 "$HERE/tls-server.py" host=127.0.0.1 port=8468 close=400 \
        ciphers=ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256 "${CERT[@]}"
    start_tcpdump cap "$OUT/tls-go.pcap" "tcp port 8468" lo
    rm -f "$OUT/tls-go.keys"
    # Go's crypto/tls never negotiates encrypt-then-MAC: its CBC suites are
    # MAC-then-encrypt whatever the server allows
    for run in "1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 POST 700 cbc-sha256" \
               "1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA GET 0 cbc-sha1" "1.3 - PUT 40 tls13"; do
        set -- $run
        c=$2; [ "$c" = - ] && c=
        { timeout 30 "$WORK/tls-go-client" 127.0.0.1:8468 "$OUT/tls-go.keys" "$1" "$c" '[
            ["GET","/go/'"$5"'",0,0], ["GET","/go/'"$5"'/second",50,0],
            ["'"$3"'","/go/'"$5"'/lost",600,'"$4"'] ]' 2>&1 || true; } | tee -a "$WORK/client.log" >&2
    done
    stop_tcpdump cap
    finish tls-go "$WORK/client.log"
    check_decrypted tls-go 3 ;;
tls-crossed)
    # tls-wire's namespaces with 25 ms each way (RTT 50 ms), captured at both
    # ends; the delay line drops the 13th client frame with payload: a
    # segment in the middle of connection 2's lost request, never
    # retransmitted (the connection is reset), so the server's vantage
    # misses it and cannot decrypt the record (no ACK covers the hole: not
    # a capture gap as expect.py and hangup count them)
    tls_wire 25 ab:13:drop
    start_server srv ip netns exec hu-tsrv python3 "$HERE/tls-server.py" host=10.78.0.2 port=8470 \
        close=300 "${CERT[@]}"
    start_tcpdump cli "$OUT/tls-crossed-client.pcap" "tcp port 8470" hu-tc0 hu-tcli
    start_tcpdump srv "$OUT/tls-crossed-server.pcap" "tcp port 8470" hu-ts0 hu-tsrv
    K=$WORK/node.keys
    # 1: Node, TLS 1.3. The server's FIN leaves 300 ms after its response
    #    was written; the client gets the response 25 ms later and sends 275
    #    ms after that, as the FIN leaves: they cross in flight (crossed).
    #    Client frames with payload: hello 1, finished 2, GETs 3 and 4, POST 5.
    { timeout 30 ip netns exec hu-tcli node "$HERE/tls-node-client.js" url=https://10.78.0.2:8470 \
        keylog="$K" ciphers=TLS_AES_128_GCM_SHA256 plan='[ ["GET","/x/1",0,0,0],
        ["GET","/x/2",20,0,0], ["POST","/x/crossed",275,0,80] ]' 2>&1 || true; } \
        | tee -a "$WORK/client.log" >&2
    # 2: Node, TLS 1.2: the FIN arrives during a 200 ms busy loop (stale);
    #    the lost 20000-byte POST is client frames 9-22 (hello 6, key
    #    exchange and finished 7, GET 8), its first record frames 9-20
    { timeout 30 ip netns exec hu-tcli node "$HERE/tls-node-client.js" url=https://10.78.0.2:8470 \
        keylog="$K" ciphers=ECDHE-RSA-AES128-GCM-SHA256 max=TLSv1.2 plan='[ ["GET","/y/1",0,0,0],
        ["POST","/y/stale",200,200,20000] ]' 2>&1 || true; } | tee -a "$WORK/client.log" >&2
    stop_tcpdump cli
    stop_tcpdump srv
    cp "$K" "$OUT/tls-crossed-client.keys"
    cp "$K" "$OUT/tls-crossed-server.keys"
    VERDICTS="stale crossed"
    finish tls-crossed-client "$WORK/client.log"
    finish tls-crossed-server "$WORK/client.log"
    check_decrypted tls-crossed-client 2
    check_decrypted tls-crossed-server 1
    check tls-crossed-client '"/x/crossed" in l and "\"verdict\":\"crossed\"" in l or "/y/stale" in l and "\"verdict\":\"stale\"" in l'
    check tls-crossed-server '"/x/crossed" in l and "\"verdict\":\"crossed\"" in l or "\"verdict\":\"stale\"" in l and "\"tls_decrypted\":false" in l' ;;
*)
    log "unknown scenario $SCENARIO"; exit 2 ;;
esac
