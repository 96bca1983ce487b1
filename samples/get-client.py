#!/usr/bin/env python3
"""One-shot Python http.client client for the "socket hang up" family samples.

    get-client.py TIMEOUT_S URL [URL...]

Requests each URL in turn with http.client (what urllib.request and
requests/urllib3 use underneath), one HTTPConnection per host:port, reused
for consecutive URLs (keep-alive). TIMEOUT_S (0 = none) is the socket
timeout (connect and each read). Prints one line per request: "OK ..." or
"ERROR <ExceptionType> "<str(exception)>" ..." verbatim.
"""
import http.client
import sys
import time
from urllib.parse import urlsplit

timeout = float(sys.argv[1]) or None
t0 = time.monotonic()
conn, key = None, None
for u in sys.argv[2:]:
    method = "GET"
    if u.startswith("POST "):
        method, u = "POST", u[5:]
    p = urlsplit(u)
    if (p.hostname, p.port) != key:
        if conn:
            conn.close()
        conn, key = http.client.HTTPConnection(p.hostname, p.port, timeout=timeout), (p.hostname, p.port)
    path = p.path + ("?" + p.query if p.query else "")
    got = 0
    try:
        body = b'{"n":1}' if method == "POST" else None
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        data = resp.read()
        print(f"OK {time.monotonic() - t0:.3f} {method} {u} {resp.status} body_bytes={len(data)}", flush=True)
    except Exception as e:                          # noqa: BLE001 - report it verbatim
        print(f"ERROR {type(e).__name__} \"{e}\" {time.monotonic() - t0:.3f} {method} {u}", flush=True)
        conn.close()
    time.sleep(0.05)
if conn:
    conn.close()
