#!/usr/bin/env python3
"""Python http.server keep-alive server (HTTP/1.1) with a short idle timeout.

    py-server.py HOST PORT IDLE_SECONDS

The handler's `timeout` makes StreamRequestHandler put a socket timeout on
the connection: when no next request arrives within IDLE_SECONDS, the
readline times out, the server closes the socket (shutdown + close = FIN),
and a request arriving later is answered by the kernel with RST.
Prints "listening" once bound.
"""
import http.server
import json
import sys

host, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = idle

    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = (json.dumps({"ok": True, "path": self.path}) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = reply

    def log_message(self, fmt, *args):
        pass


srv = http.server.ThreadingHTTPServer((host, port), Handler)
srv.daemon_threads = True
print("listening", flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
