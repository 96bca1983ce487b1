#!/usr/bin/env python3
"""Measure a keep-alive server's idle close, as proxy-capture.sh needs it.

    proxy-calibrate.py HOST PORT [TRIES]

Per try: one connection, one `GET /calibrate` (HTTP/1.1, keep-alive), then
wait (at most 10 s) until the server closes; the time from the end of the
response to the server's FIN (EOF) is the server's real idle timeout K, in
ms. Both are seen here after the same one-way delay, so K does not depend on
where this runs. Prints one line per try ("try N: K ms") and finally the
median as "idle_close_ms K". Exits 1 if the server never closes.
"""
import http.client
import socket
import statistics
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
tries = int(sys.argv[3]) if len(sys.argv) > 3 else 1
got = []
for n in range(tries):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", f"/calibrate?try={n + 1}")
    conn.getresponse().read()           # the whole response; the socket stays open
    t_resp = time.monotonic()
    try:
        while conn.sock.recv(65536):
            pass
    except socket.timeout:
        sys.exit("server did not close within 10 s")
    k = (time.monotonic() - t_resp) * 1000
    conn.close()
    print(f"try {n + 1}: {k:.1f} ms", flush=True)
    got.append(k)
print(f"idle_close_ms {statistics.median(got):.1f}", flush=True)
