#!/usr/bin/env python3
"""Python http.client keep-alive client that reuses one HTTPConnection.

    py-client.py HOST PORT 'PLAN'

PLAN is JSON: [[method, path, sleep_seconds(, retry_after)], ...]; before
each request the client sleeps sleep_seconds after the previous response.
With retry_after (seconds), a failed request is retried once, that long
after the error, on a new connection (what retrying clients do after
ECONNRESET); the retry prints its own OK/ERROR line marked "retry". http.client never
checks whether the server closed an idle connection: a request sent after
the server's FIN is written on the half-closed socket, the server's kernel
answers RST, and the client gets RemoteDisconnected (or ConnectionResetError).
After an error the connection is closed and the next request reconnects.
Prints one line per request: "OK ..." or "ERROR <exception> ...".
"""
import http.client
import json
import sys
import time

host, port, plan = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
conn = http.client.HTTPConnection(host, port, timeout=3)
t0 = time.monotonic()


def attempt(i, method, path, tag=""):
    body = json.dumps({"item": path, "n": i}) if method in ("POST", "PUT") else None
    hdrs = {"Content-Type": "application/json"} if body else {}
    lport = conn.sock.getsockname()[1] if conn.sock else None
    try:
        conn.request(method, path, body=body, headers=hdrs)
        lport = conn.sock.getsockname()[1]
        resp = conn.getresponse()
        resp.read()
        print(f"OK {time.monotonic() - t0:.3f} #{i} {method} {path} {resp.status} lport={lport}{tag}",
              flush=True)
        return True
    except (http.client.RemoteDisconnected, ConnectionError, OSError) as e:
        print(f"ERROR {type(e).__name__} {time.monotonic() - t0:.3f} #{i} {method} {path} "
              f"\"{e}\" lport={lport}{tag}", flush=True)
        conn.close()
        return False


for i, (method, path, pause, *retry) in enumerate(plan, 1):
    time.sleep(pause)
    if not attempt(i, method, path) and retry:
        time.sleep(retry[0])
        attempt(i, method, path, " retry")
conn.close()
