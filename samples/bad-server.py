#!/usr/bin/env python3
"""A raw-socket HTTP server that breaks its responses on purpose.

    bad-server.py HOST PORT MODE

MODE:
  unread       read the request line only (byte by byte), then close() with
               the rest of the request unread: the kernel sends RST instead
               of FIN (RFC 2525 2.17), acknowledging the whole request.
  short-cl     read the whole request, send "Content-Length: 10000" and only
               3000 body bytes, then shutdown + close: FIN mid-body.
  chunked-rst  read the whole request, send a chunked response (headers and
               three 1000-byte chunks, 20 ms apart), wait 100 ms, then set
               SO_LINGER {on, 0} and close(): RST mid-body, no final 0 chunk.
  slow         read the whole request, sleep 1.5 s without looking at the
               socket (a slow backend that never notices the client leaving),
               send a complete response, then shutdown + close.
  refuse-json  keep-alive: answer each request "200 ok" until one carries
               "Content-Type: application/json", a header this server
               refuses: read that request whole (body too, so nothing is left
               unread) and shutdown + close without a response byte: FIN.
  eof          read the whole request, then wait for the client's end of stream
               (its FIN: a half-close, or its giving up) and shutdown + close
               without a response byte: a server that takes a client's
               half-close for its leaving.
  http10       read the whole request, answer 50 ms later "HTTP/1.0 200 OK"
               with no Content-Length (a body framed by the close) ending in
               "END\n", then shutdown + close 2 ms after the body.
Each connection is served by its own thread. Prints "listening" once bound
and one line per connection.
"""
import socket
import struct
import sys
import threading
import time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
print("listening", flush=True)
t0 = time.monotonic()


def read_request(c):
    """Whole header block, plus a Content-Length body (read, not returned);
    what came before the end of the stream if it ends first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    while len(rest) < n:
        d = c.recv(4096)
        if not d:
            break
        rest += d
    return head


def serve(c, addr):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "unread":
        line = b""
        while not line.endswith(b"\n"):
            d = c.recv(1)
            if not d:
                break
            line += d
        log(f"{addr[1]}: read {line.strip()!r}, closing with the rest unread")
        c.close()
    elif mode == "short-cl":
        head = read_request(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: 10000\r\n\r\n")
        c.sendall(b"x" * 3000)
        log(f"{addr[1]}: {head.split(b' ')[1]!r}: sent 3000 of 10000 bytes, closing (FIN)")
        time.sleep(0.02)
        c.shutdown(socket.SHUT_RDWR)
        c.close()
    elif mode == "chunked-rst":
        head = read_request(c)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            time.sleep(0.02)
            c.sendall(b"3e8\r\n" + b"y" * 999 + b"\n\r\n")
        time.sleep(0.1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        log(f"{addr[1]}: {head.split(b' ')[1]!r}: sent 3 chunks, closing with SO_LINGER 0 (RST)")
        c.close()
    elif mode == "slow":
        head = read_request(c)
        time.sleep(1.5)
        body = b'{"ok":true}\n'
        try:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
            log(f"{addr[1]}: {head.split(b' ')[1]!r}: answered after 1.5 s")
            time.sleep(0.05)
            c.shutdown(socket.SHUT_RDWR)
        except OSError as e:
            log(f"{addr[1]}: {head.split(b' ')[1]!r}: answering after 1.5 s failed: {e}")
        c.close()
    elif mode == "eof":
        head = read_request(c)
        n = 0
        while c.recv(4096):
            n += 1
        log(f"{addr[1]}: {head.split(b' ')[1] if b' ' in head else head!r}: the client's end "
            f"of stream, closing without a response (FIN)")
        c.shutdown(socket.SHUT_RDWR)
        c.close()
    elif mode == "http10":
        head = read_request(c)
        time.sleep(0.05)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                  b"a body framed by the close\nEND\n")
        time.sleep(0.002)
        log(f"{addr[1]}: {head.split(b' ')[1]!r}: answered HTTP/1.0 without a length, closing")
        c.shutdown(socket.SHUT_RDWR)
        c.close()
    elif mode == "refuse-json":
        while True:
            head = read_request(c)
            if b"\r\n" not in head:            # the client closed
                c.close()
                return
            target = head.split(b" ")[1]
            if b"\r\ncontent-type: application/json" in head.lower():
                log(f"{addr[1]}: {target!r}: refusing Content-Type application/json, "
                    f"closing without a response (FIN)")
                c.shutdown(socket.SHUT_RDWR)
                c.close()
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
            log(f"{addr[1]}: {target!r}: answered 200")


def log(msg):
    print(f"{time.monotonic() - t0:.3f} {msg}", flush=True)


if mode not in ("unread", "short-cl", "chunked-rst", "slow", "refuse-json", "eof", "http10"):
    raise SystemExit(f"unknown mode {mode}")
while True:
    c, addr = srv.accept()
    threading.Thread(target=serve, args=(c, addr), daemon=True).start()
