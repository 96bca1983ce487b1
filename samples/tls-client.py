#!/usr/bin/env python3
"""Keep-alive HTTPS client (Python's http.client over the ssl module) for
tls-capture.sh: one HTTPSConnection reused for every request of the plan,
writing its own NSS key log (SSLContext.keylog_filename).

    python3 tls-client.py host=::1 port=8450 keylog=FILE plan='[STEP, ...]'
        [tls=1.2|1.3] [ciphers=OPENSSL-LIST] [no_etm=1]

STEP = [method, path, wait_ms, body_bytes, writes]: after the previous
response, sleep wait_ms, then send the request. body_bytes > 0 sends a body
of that many bytes with Content-Length. writes > 1 sends the header block
in one write and the body in writes - 1 pieces (each write is at least one
TLS record; a body piece over 16 KiB is several); writes = 1 sends the
whole request in one write. http.client does not
notice a FIN that arrived while the connection idled: a request after the
server's idle close is written anyway and the server's kernel answers RST.
A failed request is not retried; the next step opens a new connection.

Output: one line per request, "OK ..." or "ERROR <exception> METHOD PATH";
the capture script counts ERROR lines as the client-side truth.
"""
import http.client
import json
import ssl
import sys
import time

import tlsopt

opt = dict(a.split("=", 1) for a in sys.argv[1:])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
tlsopt.configure(ctx, opt)



class OneWrite(http.client.HTTPSConnection):
    """http.client writes the header block and a body in two writes (two
    TLS records): the first draws the RST and the body is never sent. Here
    the whole request of a single-write step is one write (one record)."""

    def _send_output(self, message_body=None, encode_chunked=False):
        self._buffer.extend((b"", b""))
        msg = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(msg + (message_body or b""))


host, port = opt["host"], int(opt["port"])
plan = json.loads(opt["plan"])
t0 = time.monotonic()
conn = None
for i, (method, path, wait, nbody, writes) in enumerate(plan, 1):
    time.sleep(wait / 1000)
    if conn is None:
        conn = OneWrite(host, port, context=ctx, timeout=3)
    body = (b"%s-%d " % (path.encode(), i) * (nbody // 8 + 1))[:nbody] if nbody else None
    try:
        conn.putrequest(method, path)
        if body is not None:
            conn.putheader("Content-Type", "text/plain")
            conn.putheader("Content-Length", str(len(body)))
        if writes > 1 and body is not None:
            conn.endheaders()
            step = -(-len(body) // (writes - 1))
            for k in range(0, len(body), step):
                conn.send(body[k:k + step])
        else:
            conn.endheaders(body)
        r = conn.getresponse()
        r.read()
        print(f"OK {time.monotonic() - t0:.3f} #{i} {method} {path} {r.status}", flush=True)
    except (OSError, http.client.HTTPException) as e:
        print(f"ERROR {type(e).__name__} {time.monotonic() - t0:.3f} #{i} {method} {path} "
              f"\"{e}\"", flush=True)
        conn.close()
        conn = None
if conn is not None:
    conn.close()
