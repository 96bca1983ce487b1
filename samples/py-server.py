#!/usr/bin/env python3
"""Python http.server keep-alive server (HTTP/1.1) with a short idle timeout.

    py-server.py HOST PORT IDLE_SECONDS [http10]

The handler's `timeout` makes StreamRequestHandler put a socket timeout on
the connection: when no next request arrives within IDLE_SECONDS, the
readline times out, the server closes the socket (shutdown + close = FIN),
and a request arriving later is answered by the kernel with RST.
With "http10" the server speaks HTTP/1.0 semantics (protocol_version
HTTP/1.0: one response per connection, then close): every response carries
"Connection: close", except for paths under /legacy, which get a bare
HTTP/1.0 response (the close is implied by the version).
A path /big/N is answered with an N-byte body (BIG TCP samples).
Prints "listening" once bound.
"""
import http.server
import json
import socket
import sys

host, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
http10 = len(sys.argv) > 4 and sys.argv[4] == "http10"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0" if http10 else "HTTP/1.1"
    timeout = idle

    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = (json.dumps({"ok": True, "path": self.path}) + "\n").encode()
        if self.path.startswith("/big/"):   # /big/N: an N-byte body
            body = b"x" * int(self.path[5:])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if http10 and not self.path.startswith("/legacy"):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = reply

    def log_message(self, fmt, *args):
        pass


if ":" in host:
    http.server.ThreadingHTTPServer.address_family = socket.AF_INET6
srv = http.server.ThreadingHTTPServer((host, port), Handler)
srv.daemon_threads = True
print("listening", flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
