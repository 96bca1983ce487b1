#!/bin/bash
# software-capture.sh [OUTDIR]
#
# Records the captures that prove hangup's software recognition
# (docs/DESIGN.md §2.10) on the real tools installed here, all on loopback:
#
#   software-clients.pcap  curl, Wget, python-requests, Python urllib,
#                          Go net/http, Node.js fetch, Node.js http, Java
#                          HttpClient and HttpURLConnection each send one
#                          request to a server that resets it unread
#                          (bad-server.py unread): one reset-before-response
#                          incident per request, whose client is identified
#                          by its User-Agent (Node.js http sends none).
#   software-servers.pcap  a raw client (no User-Agent) asks Node.js
#                          http.Server, Python http.server, gunicorn
#                          (gthread), Apache httpd, nginx, Caddy and Werkzeug
#                          for one page each and waits up to 9 s for their
#                          idle close (each with its default settings).
#   software-proxies.pcap  nginx and HAProxy in front of software-rig.py's
#                          upstream, which closes the idle upstream connection
#                          just as the proxy reuses it: a keep-alive race
#                          whose client is the proxy; Caddy, Varnish and
#                          Apache httpd (mod_proxy) in front of bad-server.py
#                          unread: a reset-before-response whose client is
#                          the proxy; curl is the proxies' client.
#
# and OUTDIR/software.versions: what each tool says its version is, from the
# tool itself (the tests build the expected names from it, never by hand).
# Must run as root (tcpdump). Needs curl wget python3 (requests) node go java
# nginx haproxy caddy varnishd apache2 gunicorn (apt: curl wget python3-requests
# nodejs golang-go default-jdk-headless nginx haproxy caddy varnish apache2
# gunicorn python3-werkzeug).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
WORK=$(mktemp -d /tmp/hangup-software.XXXXXX)
chmod 755 "$WORK"
PIDS=()
# wait_port and bg; the log, cleanup and tcpdump helpers below are this script's own
. "$HERE/capture-lib.sh"

log() { echo "[software] $*" >&2; }

cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    [ -f "$WORK/apache/httpd.pid" ] && kill -TERM "$(cat "$WORK/apache/httpd.pid")" 2>/dev/null || true
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_tcpdump() {
    rm -f "$1"
    tcpdump -i lo -n -U --immediate-mode -s 262144 -w "$1" "$2" >"$WORK/tcpdump.out" \
        2>"$WORK/tcpdump.err" &
    TCPDUMP=$!
    PIDS+=($TCPDUMP)
    for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.err" && break; sleep 0.05; done
    sleep 0.3
}

stop_tcpdump() {
    sleep 1
    kill -INT "$TCPDUMP"
    wait "$TCPDUMP" || true
    grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.err" || {
        log "tcpdump dropped packets"; cat "$WORK/tcpdump.err" >&2; return 1; }
    chown "$(stat -c %u:%g "$OUT")" "$1" && chmod 644 "$1"
    log "$(basename "$1"): $(tcpdump -n -r "$1" 2>/dev/null | wc -l) packets, $(wc -c <"$1") bytes"
}

# step CMD...: one client run, bounded, its output shown
step() { { timeout 30 "$@" 2>&1 || true; } | sed 's/^/  /' >&2; }

# ---------------------------------------------------------------- versions
{
    echo "curl $(curl --version | head -1 | cut -d' ' -f2)"
    echo "wget $(wget --version | head -1 | cut -d' ' -f3)"
    echo "python $(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "python-requests $(python3 -c 'import requests; print(requests.__version__)')"
    echo "java $(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p')"
    echo "node $(node --version)"
    echo "nginx $(nginx -v 2>&1 | sed 's|.*nginx/||')"
    echo "apache $(apache2 -v | sed -n 's|^Server version: Apache/\([^ ]*\).*|\1|p')"
    echo "gunicorn $(gunicorn --version | sed 's/.*version \([^)]*\).*/\1/')"
    echo "werkzeug $(python3 -c 'import importlib.metadata as m; print(m.version("werkzeug"))')"
    echo "haproxy $(haproxy -v | head -1 | cut -d' ' -f3)"
    echo "caddy $(caddy version | cut -d' ' -f1)"
    echo "varnish $(varnishd -V 2>&1 | head -1 | sed 's/.*varnish-\([^ ]*\).*/\1/')"
} >"$WORK/software.versions"
cat "$WORK/software.versions" >&2

# ---------------------------------------------------------------- clients
cat >"$WORK/go-get.go" <<'EOF'
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	_, err := http.Get(os.Args[1])
	fmt.Println("ERROR", err)
}
EOF
GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off HOME="$WORK" \
    go build -o "$WORK/go-get" "$WORK/go-get.go"
cat >"$WORK/J.java" <<'EOF'
public class J {
    public static void main(String[] a) throws Exception {
        var c = java.net.http.HttpClient.newBuilder()
            .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        try {
            c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(a[0])).build(),
                   java.net.http.HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) { System.out.println("ERROR " + e); }
        try {
            new java.net.URL(a[1]).openConnection().getInputStream().readAllBytes();
        } catch (Exception e) { System.out.println("ERROR " + e); }
    }
}
EOF

U=http://127.0.0.1:3401
bg reset python3 "$HERE/bad-server.py" 127.0.0.1 3401 unread
wait_port 3401
start_tcpdump "$OUT/software-clients.pcap" "tcp port 3401"
step curl -sS -o /dev/null "$U/c/curl"
step wget -q --tries=1 -O /dev/null "$U/c/wget"
step python3 -c "import requests; requests.get('$U/c/requests')"
step python3 -c "import urllib.request; urllib.request.urlopen('$U/c/urllib')"
step "$WORK/go-get" "$U/c/go"
step node -e "fetch('$U/c/fetch').catch(e => console.log('ERROR', e.cause && e.cause.code))"
step node -e "require('http').get('$U/c/node-http').on('error', e => console.log('ERROR', e.code))"
step java "$WORK/J.java" "$U/c/java-httpclient" "$U/c/java-urlconnection"
stop_tcpdump "$OUT/software-clients.pcap"

# ---------------------------------------------------------------- servers
mkdir -p "$WORK/www" "$WORK/apache" "$WORK/nginx"
echo ok >"$WORK/www/index.html"
cat >"$WORK/node-server.js" <<'EOF'
require('http').createServer((q, s) => s.end('ok\n')).listen(3411, '127.0.0.1');
EOF
bg node node "$WORK/node-server.js"
bg pyhttp python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" 3412
cat >"$WORK/wsgiapp.py" <<'EOF'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
EOF
bg gunicorn gunicorn -k gthread --threads 2 --chdir "$WORK" -b 127.0.0.1:3413 wsgiapp:app
apache_base >"$WORK/apache/httpd.conf"
cat >>"$WORK/apache/httpd.conf" <<EOF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
Listen 127.0.0.1:3414
Listen 127.0.0.1:3425
DocumentRoot $WORK/www
<VirtualHost 127.0.0.1:3425>
  ProxyPass / http://127.0.0.1:3435/
</VirtualHost>
EOF
apache2 -f "$WORK/apache/httpd.conf" -k start
nginx_conf "  server { listen 127.0.0.1:3415; root $WORK/www; }
  upstream app { server 127.0.0.1:3431; keepalive 4; }
  server { listen 127.0.0.1:3421;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }" \
    >"$WORK/nginx/nginx.conf"
bg nginx nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
cat >"$WORK/Caddyfile" <<'EOF'
{
	admin off
	auto_https off
}
http://127.0.0.1:3416 {
	respond "ok"
}
http://127.0.0.1:3423 {
	reverse_proxy 127.0.0.1:3433
}
EOF
HOME=$WORK bg caddy caddy run --config "$WORK/Caddyfile" --adapter caddyfile
bg werkzeug python3 -c "
from werkzeug.serving import run_simple
from werkzeug.wrappers import Response
run_simple('127.0.0.1', 3417, lambda e, s: Response('ok')(e, s))"
for p in 3411 3412 3413 3414 3415 3416 3417; do wait_port $p; done

start_tcpdump "$OUT/software-servers.pcap" "tcp portrange 3411-3417"
IDLE=()
for p in 3411 3412 3413 3414 3415 3416 3417; do
    python3 "$HERE/software-rig.py" idle-client $p /index.html >"$WORK/idle.$p" 2>&1 &
    IDLE+=($!)
    sleep 0.2
done
for p in "${IDLE[@]}"; do wait "$p" || true; done
stop_tcpdump "$OUT/software-servers.pcap"
for p in 3411 3412 3413 3414 3415 3416 3417; do echo "  $p: $(cat "$WORK/idle.$p")" >&2; done

# ---------------------------------------------------------------- proxies
cat >"$WORK/haproxy.cfg" <<'EOF'
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend f
  bind 127.0.0.1:3422
  default_backend b
backend b
  server s1 127.0.0.1:3432
EOF
bg haproxy haproxy -f "$WORK/haproxy.cfg" -db
bg varnish varnishd -n "$WORK/varnish" -a 127.0.0.1:3424 -b 127.0.0.1:3434 -F
for p in 3433 3434 3435; do bg reset$p python3 "$HERE/bad-server.py" 127.0.0.1 $p unread; done
for p in 3421 3422 3423 3424 3425 3433 3434 3435; do wait_port $p; done

start_tcpdump "$OUT/software-proxies.pcap" "tcp portrange 3421-3435"
for pair in 3421:3431 3422:3432; do
    step python3 "$HERE/software-rig.py" proxy-race "${pair%:*}" "${pair#*:}" 20
done
for p in 3423 3424 3425; do
    step curl -sS -o /dev/null -w "%{http_code}\n" "http://127.0.0.1:$p/p/$p"
done
stop_tcpdump "$OUT/software-proxies.pcap"

cp "$WORK/software.versions" "$OUT/software.versions"
chown "$(stat -c %u:%g "$OUT")" "$OUT/software.versions"
