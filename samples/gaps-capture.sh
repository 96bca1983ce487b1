#!/bin/bash
# gaps-capture.sh [OUTDIR]
#
# Real captures for capture loss and one-sided captures (docs/DESIGN.md
# §2.13), each derived from a real capture of real stacks:
#
#   gaps-base.pcap    curl -> nginx, Python http.client -> Node http,
#                     Node http.get -> Python http.server, 6000-byte bodies,
#                     on a loopback with a 1500-byte MTU (several segments
#                     per response); nothing went wrong: no incident
#   gaps.pcap         the same with server segments dropped as a busy
#                     sensor drops them (pcap-drop.py): a middle segment, the
#                     last one before the FIN, a whole response, a response
#                     and its FIN.  The clients' ACKs cover every byte, so
#                     there is still no incident, and each connection has
#                     its capture gaps (checked against tshark's
#                     tcp.analysis.lost_segment / ack_lost_segment)
#   (one-sided captures: capture.sh one-sided)
#
# Writes NAME.expected / .servers / .tcpdump (expect.py, tcpdump) and
# NAME.gaps (expect.py --gaps: each connection's capture gaps).  Must run
# as root (tcpdump, ip netns); all traffic stays in the namespace
# hu-gap this creates.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
SCENARIO=gaps
WORK=$(mktemp -d /tmp/hangup-gaps.XXXXXX)
PIDS=()
NETNS=()
. "$HERE/capture-lib.sh"

NS=hu-gap
in_ns() { ip netns exec "$NS" "$@"; }

make_netns "$NS"
# a 1500-byte MTU, as on Ethernet: responses of several segments
ip -n "$NS" link set lo mtu 1500
# segments as the wire carries them, not the stack's super-packets
ip netns exec "$NS" ethtool -K lo tso off gso off >/dev/null

mkdir -p "$WORK/www" "$WORK/nginx"
chmod 755 "$WORK" "$WORK/www"   # nginx's worker runs as nobody
head -c 6000 /dev/zero | tr '\0' 'x' >"$WORK/www/file.bin"

nginx_conf "  server { listen 127.0.0.1:3141; root $WORK/www; }" >"$WORK/nginx/nginx.conf"
ip netns exec "$NS" nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
    >"$WORK/nginx.out" 2>&1 &
PIDS+=($!)

# Node http server: 6000-byte bodies, idle keep-alive connections closed
# after 1.5 s (so a response the capture lost leaves a request followed by
# the server's FIN more than a second later)
NODE_SERVER='
const http = require("http");
const body = "y".repeat(6000);
const s = http.createServer((req, res) => {
  res.setHeader("Content-Length", body.length);
  res.end(body);
});
s.keepAliveTimeout = 1500;
s.listen(+process.argv[1], "127.0.0.1", () => console.log("listening"));'
start_server node ip netns exec "$NS" node -e "$NODE_SERVER" 3143
# Python http.server (HTTP/1.0: it closes after each response)
ip netns exec "$NS" python3 -m http.server 3142 --bind 127.0.0.1 --directory "$WORK/www" \
    >"$WORK/py.server.out" 2>&1 &
PIDS+=($!)
for p in 3141 3142; do
    for _ in $(seq 50); do in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null && break; sleep 0.1; done
done

PY_CLIENT='
import http.client, sys, time
port, n, wait = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    c.request("GET", "/file.bin?i=%d" % i)
    r = c.getresponse()
    print("OK", r.status, len(r.read()))
time.sleep(wait)
c.close()'
NODE_CLIENT='
const http = require("http");
http.get(process.argv[1], { agent: false }, (res) => {
  let n = 0;
  res.on("data", (d) => { n += d.length; });
  res.on("end", () => console.log("OK", res.statusCode, n));
}).on("error", (e) => console.log("ERROR", e.message));'

# ---- gaps-base: seven clean exchanges
start_tcpdump cap "$OUT/gaps-base.pcap" "tcp portrange 3141-3143" lo "$NS"
for i in 1 2 3 4; do
    in_ns curl -sS -o /dev/null -w "OK %{http_code} %{size_download}\n" \
        -H 'Connection: close' "http://127.0.0.1:3141/file.bin?conn=$i" | tee -a "$WORK/client.log" >&2
done
in_ns python3 -c "$PY_CLIENT" 3143 1 3 | tee -a "$WORK/client.log" >&2
for i in 6 7; do
    in_ns node -e "$NODE_CLIENT" "http://127.0.0.1:3142/file.bin?conn=$i" | tee -a "$WORK/client.log" >&2
done
stop_tcpdump cap
[ "$(grep -c '^OK 200 6000' "$WORK/client.log")" = 7 ] || { log "FAIL: want 7 clean exchanges"; exit 1; }

# ---- gaps: the sensor lost server segments the clients received
python3 "$HERE/pcap-drop.py" "$OUT/gaps-base.pcap" "$OUT/gaps.pcap" \
    1:data=2 2:data=last 3:data=all 4:data=all 4:fin 5:data=all 6:data=2

for n in gaps-base gaps; do
    f="$OUT/$n.pcap"
    chown "$(stat -c %u:%g "$OUT")" "$f" && chmod 644 "$f"
    python3 "$HERE/expect.py" "$f" --servers="$OUT/$n.servers" --gaps="$OUT/$n.gaps" >"$OUT/$n.expected"
    TZ=UTC tcpdump -n -r "$f" >"$OUT/$n.tcpdump" 2>/dev/null
    log "$n: $(wc -l <"$OUT/$n.tcpdump") packets, $(wc -l <"$OUT/$n.expected") incident(s)," \
        "$(wc -l <"$OUT/$n.gaps") connection(s) with capture gaps"
    [ ! -s "$OUT/$n.expected" ] || { log "FAIL $n: no incident expected"; exit 1; }
done
# the oracle's gaps agree with tshark's own analysis of the same packets
python3 "$HERE/expect.py" "$OUT/gaps.pcap" --tshark-gaps="$OUT/gaps.gaps" >/dev/null
