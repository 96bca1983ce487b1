#!/bin/bash
# lenient-capture.sh [OUTDIR]
#
# Records lenient.pcap: the request lines and heads a strict parser
# refuses but real servers answer (HTTP/0.9, odd versions, a missing
# target, CONNECT, Content-Length with leading zeros or as a list, unusual
# Transfer-Encoding lists, obs-fold, and the unsafe framings servers
# refuse: conflicting or overflowing Content-Length), sent by
# lenient-client.py over loopback to five real servers with their default
# settings:
#
#   3441 nginx            3442 Python http.server (--protocol HTTP/1.1)
#   3443 Node.js http     3444 Apache httpd       3445 gunicorn (sync)
#
# Node's server answers CONNECT with 200 and echoes the tunnel's bytes
# (its 'connect' event); the others answer CONNECT as they do by default.
#
# Writes OUTDIR/lenient.pcap, lenient.answers (the client's record: one
# JSON line per case and server, what each server answered), and, like
# regenerate, lenient.expected, lenient.servers (expect.py) and
# lenient.tcpdump.  Checks before it succeeds: every request the client
# sent was answered, and per server the requests expect.py counts, the
# requests the client's record says were answered, and the requests tshark
# dissects (http.request, compared with the record's lines that tshark 4.0
# dissects: version HTTP/1.0 or 1.1, or HTTP/0.9 after an earlier request on
# its connection) all agree.
#
# Must run as root (tcpdump).  Needs tcpdump tshark nginx node python3
# apache2 gunicorn.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
SCENARIO=lenient
WORK=$(mktemp -d /tmp/hangup-lenient.XXXXXX)
chmod 755 "$WORK"
PIDS=()
NETNS=()
. "$HERE/capture-lib.sh"

mkdir -p "$WORK/www" "$WORK/apache" "$WORK/nginx"
for f in index.html v09 v09-ka ka v1dot after-1dot v110 after-110 v20 after-missing two \
    after-two cl0 after-cl0 cl-list after-cl-list cl-conflict after-cl-conflict cl-overflow \
    te-ci after-te-ci te-ic after-te-ic cl-te after-cl-te fold after-fold fold-te after-fold-te; do
    echo "ok $f" >"$WORK/www/$f"
done

nginx_conf "  server { listen 127.0.0.1:3441; root $WORK/www; }" >"$WORK/nginx/nginx.conf"
bg nginx nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
bg pyhttp python3 -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory "$WORK/www" 3442
cat >"$WORK/node-server.js" <<'EOF'
const http = require('http');
const s = http.createServer((q, r) => {
    q.resume();
    q.on('end', () => r.end('ok ' + q.url + '\n'));
});
s.on('connect', (q, sock, head) => {
    sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) sock.write(head);
    sock.pipe(sock);
});
s.listen(3443, '127.0.0.1');
EOF
bg node node "$WORK/node-server.js"
{ apache_base; printf 'Listen 127.0.0.1:3444\nDocumentRoot %s/www\n' "$WORK"; } >"$WORK/apache/httpd.conf"
bg apache apache2 -f "$WORK/apache/httpd.conf" -DFOREGROUND
cat >"$WORK/wsgiapp.py" <<'EOF'
def app(environ, start_response):
    environ["wsgi.input"].read()
    body = ("ok %s\n" % environ.get("PATH_INFO", "")).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
EOF
bg gunicorn gunicorn --chdir "$WORK" -b 127.0.0.1:3445 wsgiapp:app
for p in 3441 3442 3443 3444 3445; do wait_port $p; done

PCAP="$OUT/lenient.pcap"
start_tcpdump lenient "$PCAP" "tcp portrange 3441-3445" lo
i=0
for sw in nginx:3441 python-http.server:3442 node-http:3443 apache:3444 gunicorn:3445; do
    timeout 120 python3 "$HERE/lenient-client.py" "${sw%:*}" "${sw#*:}" >"$WORK/answers.$i"
    i=$((i + 1))
done
stop_tcpdump lenient
cat "$WORK"/answers.* >"$OUT/lenient.answers"
sed 's/^/  /' "$OUT/lenient.answers" >&2

python3 "$HERE/expect.py" "$PCAP" --servers="$OUT/lenient.servers" >"$OUT/lenient.expected"
TZ=UTC tcpdump -n -r "$PCAP" >"$OUT/lenient.tcpdump" 2>/dev/null

# The checks: answered == sent, and three counts per server agree.
tshark -r "$PCAP" -Y http.request -T fields -e tcp.dstport 2>/dev/null >"$WORK/tshark.req"
python3 - "$OUT/lenient.answers" "$OUT/lenient.servers" "$WORK/tshark.req" <<'PY'
import collections, json, sys
answers = [json.loads(l) for l in open(sys.argv[1])]
servers = {s["server"]: s for s in map(json.loads, open(sys.argv[2]))}
tshark = collections.Counter("127.0.0.1:" + l.strip() for l in open(sys.argv[3]) if l.strip())
problems = []
per = collections.Counter()
# The requests tshark 4.0 dissects: lines with version HTTP/1.0 or 1.1, and
# an HTTP/0.9 line after an earlier request on its connection (not one that
# opens its connection).
plain = collections.Counter()
for a in answers:
    if a["answered"] != a["sent"]:
        problems.append("%s %s: %d sent, %d answered" % (a["software"], a["case"], a["sent"],
                                                         a["answered"]))
    per[a["server"]] += a["answered"]
    plain[a["server"]] += sum(r.endswith((" HTTP/1.0", " HTTP/1.1")) or (i > 0 and "HTTP/" not in r)
                              for i, r in enumerate(a["requests"]))
for srv, n in sorted(per.items()):
    got = servers.get(srv, {}).get("requests")
    if got != n:
        problems.append("%s: expect.py counts %s requests, %d answered" % (srv, got, n))
    if tshark[srv] != plain[srv]:
        problems.append("%s: tshark dissects %d requests, %d expected of it"
                        % (srv, tshark[srv], plain[srv]))
    print("  %s: %d requests answered (%d of them tshark dissects: %d)"
          % (srv, n, plain[srv], tshark[srv]), file=sys.stderr)
if problems:
    sys.exit("lenient: " + "; ".join(problems))
PY
chown "$(stat -c %u:%g "$OUT")" "$OUT"/lenient.{pcap,answers,expected,servers,tcpdump}
chmod 644 "$OUT"/lenient.{pcap,answers,expected,servers,tcpdump}
log "lenient.pcap: $(tcpdump -n -r "$PCAP" 2>/dev/null | wc -l) packets"
