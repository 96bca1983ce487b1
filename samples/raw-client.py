#!/usr/bin/env python3
"""Raw-socket HTTP/1.x client for the HTTP-layer scenarios.

    raw-client.py HOST PORT 'PLAN'

A plain TCP socket (TCP_NODELAY) driven by a JSON plan, so the bytes on
the wire are exactly the ones written here: pipelining, requests cut into
small segments, Expect: 100-continue, HTTP/1.0, and reuse of a socket the
server has already closed (nothing here checks for the server's FIN).
Steps:

  ["connect"]                       close the current socket (if any), open a new one
  ["send", TEXT]                    one sendall() (\\n in TEXT is sent as \\r\\n unless
                                    the text already has \\r\\n)
  ["split", TEXT, SIZE, GAP_MS]     TEXT in SIZE-byte writes, GAP_MS apart
  ["read", METHOD]                  read one final response to METHOD (HEAD: no body);
                                    prints OK, or ERROR on reset / EOF / timeout
  ["read100"]                       read an interim 1xx response
  ["readuntil", TEXT]               read until TEXT has arrived (a close-delimited body's
                                    known end), then stop reading; prints OK or ERROR
  ["shutdown"]                      shutdown(SHUT_WR): half-close, keep reading
  ["sleep", SECONDS]
  ["close"]
  ["abort"]                         give up on the socket the abortive way: SO_LINGER
                                    {on, 0} + close() sends RST (prints an ERROR line:
                                    the request was abandoned)

Responses are parsed here (status line, headers, Content-Length / chunked /
until close) from one receive buffer, so pipelined responses are not lost
to read-ahead. Prints one line per read step: "OK ..." or "ERROR <exc> ...".
"""
import json
import socket
import struct
import sys
import time

host, port, plan = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
t0 = time.monotonic()
sock, buf, lport = None, b"", None


def ts():
    return f"{time.monotonic() - t0:.3f}"


def fill():
    global buf
    d = sock.recv(65536)
    if not d:
        raise EOFError("connection closed by server")
    buf += d


def line():
    global buf
    while b"\r\n" not in buf:
        fill()
    ln, buf = buf.split(b"\r\n", 1)
    return ln


def take(n):
    global buf
    while len(buf) < n:
        fill()
    out, buf = buf[:n], buf[n:]
    return out


def response(method):
    """Read one response; returns (status, headers dict, body length)."""
    global buf
    status = int(line().split()[1])
    hdrs = {}
    while True:
        ln = line()
        if not ln:
            break
        k, _, v = ln.decode("latin1").partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if method == "HEAD" or status < 200 or status in (204, 304):
        return status, hdrs, 0
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        n = 0
        while True:
            size = int(line().split(b";")[0], 16)
            take(size + 2)
            n += size
            if size == 0:
                return status, hdrs, n
    if "content-length" in hdrs:
        return status, hdrs, len(take(int(hdrs["content-length"])))
    while True:                                   # until close
        try:
            fill()
        except EOFError:
            n, buf = len(buf), b""
            return status, hdrs, n


def wire(text):
    return (text if "\r\n" in text else text.replace("\n", "\r\n")).encode("latin1")


for step in plan:
    op = step[0]
    if op == "connect":
        if sock:
            sock.close()
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(5)
        sock.connect((host, port))
        buf, lport = b"", sock.getsockname()[1]
    elif op == "send":
        try:
            sock.sendall(wire(step[1]))
        except OSError as e:
            print(f"ERROR {type(e).__name__} {ts()} send \"{e}\" lport={lport}", flush=True)
    elif op == "split":
        data, size, gap = wire(step[1]), step[2], step[3] / 1000
        for i in range(0, len(data), size):
            sock.sendall(data[i:i + size])
            if i + size < len(data):
                time.sleep(gap)
    elif op in ("read", "read100"):
        method = step[1] if len(step) > 1 else "GET"
        try:
            st, h, n = response(method)
            print(f"OK {ts()} {method} {st} body={n} "
                  f"connection={h.get('connection')} keep-alive={h.get('keep-alive')} lport={lport}",
                  flush=True)
        except (EOFError, OSError) as e:
            print(f"ERROR {type(e).__name__} {ts()} {method} \"{e}\" lport={lport}", flush=True)
    elif op == "readuntil":
        try:
            while wire(step[1]) not in buf:
                fill()
            print(f"OK {ts()} readuntil {step[1]!r} bytes={len(buf)} lport={lport}", flush=True)
        except (EOFError, OSError) as e:
            print(f"ERROR {type(e).__name__} {ts()} readuntil \"{e}\" lport={lport}", flush=True)
    elif op == "shutdown":
        sock.shutdown(socket.SHUT_WR)
    elif op == "sleep":
        time.sleep(step[1])
    elif op == "close":
        sock.close()
        sock = None
    elif op == "abort":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        sock = None
        print(f"ERROR Abort {ts()} \"gave up waiting, closed with SO_LINGER 0 (RST)\" lport={lport}",
              flush=True)
if sock:
    sock.close()
