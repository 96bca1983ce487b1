#!/usr/bin/env python3
"""Keep-alive HTTPS server (Python's ssl module over OpenSSL) for
tls-capture.sh: the server side of a deterministic TLS keep-alive race that
writes its own NSS key log.

    python3 tls-server.py host=::1 port=8450 cert=C key=K close=300
        [keylog=FILE] [tls=1.2|1.3] [ciphers=OPENSSL-LIST] [no_etm=1] [hint=N]

Minimal HTTP/1.1 over TLS: requests without a body or with Content-Length;
each is answered "200 OK" with a small JSON body. `close` ms after a
response, with nothing new read, the socket is closed (close(2) without a
close_notify alert, as Node's destroy()): a request written after that is
answered by the kernel with RST. hint=N adds "Keep-Alive: timeout=N" to
every response (N need not match `close`: a server that announces one idle
timeout and closes sooner is exactly what the hint is there to reveal).
keylog: OpenSSL's keylog callback via SSLContext.keylog_filename.
tls: pins the protocol version; ciphers: the TLS 1.2 cipher list (Python
cannot set TLS 1.3 suites: the client forces those). no_etm=1 sets
SSL_OP_NO_ENCRYPT_THEN_MAC (1 << 19 in OpenSSL 3): CBC suites are then
MAC-then-encrypt even if the client offers RFC 7366.
Prints "listening" once bound; one thread per connection.
"""
import json
import socket
import ssl
import sys
import threading

import tlsopt

opt = dict(a.split("=", 1) for a in sys.argv[1:])
host, port = opt.get("host", "127.0.0.1"), int(opt.get("port", "8450"))
close_s = int(opt.get("close", "300")) / 1000
hint = opt.get("hint")

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(opt["cert"], opt["key"])
tlsopt.configure(ctx, opt)


def serve(raw):
    try:
        s = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin1").split("\r\n")
            n = 0
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "content-length":
                    n = int(v.strip())
            while len(rest) < n:
                d = s.recv(65536)
                if not d:
                    return
                rest += d
            buf = rest[n:]
            path = lines[0].split(" ")[1] if " " in lines[0] else "/"
            body = json.dumps({"ok": True, "path": path, "got": n}).encode() + b"\n"
            extra = f"Keep-Alive: timeout={hint}\r\n" if hint else ""
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
                      f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n{extra}\r\n"
                      .encode() + body)
            if buf:
                continue
            # idle close: nothing more within close_s -> close(2), no close_notify
            s.settimeout(close_s)
            try:
                d = s.recv(65536)
            except (socket.timeout, TimeoutError):
                return
            s.settimeout(None)
            if not d:
                return
            buf = d
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        s.close()


fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ls = socket.socket(fam, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(16)
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
