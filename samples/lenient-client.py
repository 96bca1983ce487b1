#!/usr/bin/env python3
"""Send lenient request lines to one server and record what it answered.

    lenient-client.py SOFTWARE PORT

Each case is one TCP connection to 127.0.0.1:PORT carrying one or more
steps.  A step's bytes are sent whole; then the client reads until the
server has been silent for 0.25 s or closed (2 s at most).  The next step
is sent only when the previous one was answered and the server had not
closed, so every request the client sent is one the server answered, or
the last one of its connection.  A step marked tunnel is not a request:
bytes sent through a CONNECT tunnel after the server's 2xx.

Prints one JSON line per case: software, server, case, sent (requests),
answered (requests that drew bytes back), requests (each request line
sent), answers (each answer's first
line, or "raw:" and its first bytes when it is not an HTTP status line),
closed (the server closed the connection).
"""
import json
import socket
import sys
import time

software, port = sys.argv[1], int(sys.argv[2])
HOST = "127.0.0.1:%d" % port
H = "Host: %s\r\n" % HOST

ZEROS_50 = "0" * 30 + "50"          # 32 digits, a valid 50


def post(target, headers, body):
    return ("POST %s HTTP/1.1\r\n%s%s\r\n" % (target, H, headers)).encode() + body


def get(target):
    return ("GET %s HTTP/1.1\r\n%s\r\n" % (target, H)).encode()


CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"

# (case, [(bytes, kind)]), kind "req" or "tunnel".
CASES = [
    # A blank line after the simple request: Python and Node read header
    # lines after any request line and answer only at the blank line.
    ("http09", [(b"GET /v09\r\n\r\n", "req")]),
    ("http09-after-keepalive", [(get("/ka"), "req"), (b"GET /v09-ka\r\n\r\n", "req")]),
    ("version-1dot", [(("GET /v1dot HTTP/1.\r\n" + H + "\r\n").encode(), "req"),
                      (get("/after-1dot"), "req")]),
    ("version-1.10", [(("GET /v110 HTTP/1.10\r\n" + H + "\r\n").encode(), "req"),
                      (get("/after-110"), "req")]),
    ("version-2.0", [(("GET /v20 HTTP/2.0\r\n" + H + "\r\n").encode(), "req")]),
    ("missing-target", [(("GET HTTP/1.1\r\n" + H + "\r\n").encode(), "req"),
                        (get("/after-missing"), "req")]),
    ("double-spaces", [(("GET  /two  HTTP/1.1\r\n" + H + "\r\n").encode(), "req"),
                       (get("/after-two"), "req")]),
    ("connect", [(("CONNECT %s HTTP/1.1\r\n%s\r\n" % (HOST, H)).encode(), "req"),
                 (b"\x16\x03\x01\x00\x05hello", "tunnel")]),
    ("cl-leading-zeros", [(post("/cl0", "Content-Length: %s\r\n" % ZEROS_50, b"z" * 50), "req"),
                          (get("/after-cl0"), "req")]),
    ("cl-list", [(post("/cl-list", "Content-Length: 5, 5\r\n", b"hello"), "req"),
                 (get("/after-cl-list"), "req")]),
    ("cl-conflict", [(post("/cl-conflict", "Content-Length: 5\r\nContent-Length: 6\r\n",
                           b"hello!"), "req"),
                     (get("/after-cl-conflict"), "req")]),
    ("cl-overflow", [(post("/cl-overflow", "Content-Length: 99999999999999999999999\r\n",
                           b"hello"), "req")]),
    ("te-chunked-identity", [(post("/te-ci", "Transfer-Encoding: chunked, identity\r\n",
                                   CHUNKED_HELLO), "req"),
                             (get("/after-te-ci"), "req")]),
    ("te-identity-chunked", [(post("/te-ic", "Transfer-Encoding: identity, chunked\r\n",
                                   CHUNKED_HELLO), "req"),
                             (get("/after-te-ic"), "req")]),
    ("cl-and-te", [(post("/cl-te", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                         CHUNKED_HELLO), "req"),
                   (get("/after-cl-te"), "req")]),
    ("obs-fold", [(("GET /fold HTTP/1.1\r\n" + H + "X-Folded: a\r\n  b\r\n\r\n").encode(), "req"),
                  (get("/after-fold"), "req")]),
    ("obs-fold-te", [(post("/fold-te", "Transfer-Encoding:\r\n chunked\r\n", CHUNKED_HELLO), "req"),
                     (get("/after-fold-te"), "req")]),
]


# gunicorn reads a body it was promised by an overflowing Content-Length
# and never answers: left out there, so every request sent is answered.
SKIP = {"gunicorn": {"cl-overflow"}}


def read_answer(s):
    """Bytes until 0.25 s of silence, the close, or 2 s; and whether closed."""
    data, closed, deadline = b"", False, time.monotonic() + 2
    s.settimeout(0.25)
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            if data:
                break
            continue
        except ConnectionResetError:
            closed = True
            break
        if not b:
            closed = True
            break
        data += b
    return data, closed


def first_line(data):
    if data.startswith(b"HTTP/"):
        return data.split(b"\r\n", 1)[0].decode("latin1")
    return "raw:" + data[:24].decode("latin1")


for name, steps in CASES:
    if name in SKIP.get(software, ()):
        continue
    rec = {"software": software, "server": HOST, "case": name, "sent": 0, "answered": 0,
           "requests": [], "answers": [], "closed": False}
    s = socket.create_connection(("127.0.0.1", port), 5)
    for data, kind in steps:
        if kind == "tunnel" and not (rec["answers"] and rec["answers"][-1][9:10] == "2"):
            break
        s.sendall(data)
        if kind == "req":
            rec["sent"] += 1
            rec["requests"].append(data.split(b"\r\n", 1)[0].decode("latin1"))
        ans, closed = read_answer(s)
        if ans:
            if kind == "req":
                rec["answered"] += 1
                rec["answers"].append(first_line(ans))
            else:
                rec["answers"].append("tunnel:" + ans[:24].decode("latin1"))
        rec["closed"] = closed
        if not ans or closed:
            break
    s.close()
    time.sleep(0.05)
    print(json.dumps(rec, separators=(",", ":")), flush=True)
