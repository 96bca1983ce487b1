#!/usr/bin/env python3
"""software-rig.py -- the helpers software-capture.sh drives (loopback only).

  idle-client PORT PATH     one raw request (no User-Agent), then wait up to
                            9 s for the server's idle close; prints the delay
  proxy-race LISTEN UPSTREAM TRIES
                            be the upstream server on UPSTREAM (HTTP/1.1,
                            keep-alive, no Server header) and the client of
                            the proxy on LISTEN: per try, GET /warm/N through
                            the proxy, then POST /order/N and at once close
                            the upstream connection that carried /warm/N.
                            When the proxy had already written the POST on
                            that connection (it had not yet seen the FIN),
                            the upstream kernel resets it: a keep-alive race
                            with the proxy as the client.  Stops at the
                            first try the proxy answers 5xx; prints each
                            try's status.
"""
import select
import socket
import sys
import time


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def content_length(head):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            return int(v.strip())
    return 0


def idle_client(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode())
    head, rest = read_head(s)
    need = content_length(head) - len(rest)
    while need > 0:
        d = s.recv(65536)
        if not d:
            break
        need -= len(d)
    t = time.time()
    s.settimeout(9)
    try:
        while s.recv(65536):
            pass
        print("OK %s closed idle after %.3f s" % (head.split("\r\n")[0], time.time() - t))
    except socket.timeout:
        print("OK %s still open after 9 s" % head.split("\r\n")[0])
    s.close()


class Upstream:
    """A keep-alive HTTP/1.1 server, served from the caller's thread (so a
    connection it closes is closed at once: no other thread sits in its
    recv); remembers which connection carried which target."""

    def __init__(self, port):
        self.by_target = {}
        self.conns = {}
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(16)

    def pump(self, client, timeout=5.0):
        """Serve upstream connections until `client` is readable."""
        end = time.time() + timeout
        while time.time() < end:
            socks = [self.ls, client] + list(self.conns)
            ready, _, _ = select.select(socks, [], [], 0.05)
            for s in ready:
                if s is client:
                    return True
                if s is self.ls:
                    c, _ = self.ls.accept()
                    self.conns[c] = b""
                    continue
                d = s.recv(65536)
                if not d:
                    del self.conns[s]
                    s.close()
                    continue
                buf = self.conns[s] + d
                if b"\r\n\r\n" not in buf:
                    self.conns[s] = buf
                    continue
                head, rest = buf.split(b"\r\n\r\n", 1)
                head = head.decode("latin-1")
                if len(rest) < content_length(head):
                    self.conns[s] = buf
                    continue
                self.conns[s] = b""
                self.by_target[head.split(" ")[1]] = s
                body = b"ok\n"
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return False

    def close(self, s):
        if s in self.conns:
            del self.conns[s]
            s.close()


def read_response(up, c):
    """The proxy's response head (the upstream served meanwhile)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if not up.pump(c):
            return None
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    head = head.decode("latin-1")
    need = content_length(head) - len(rest)
    while need > 0 and up.pump(c):
        d = c.recv(65536)
        if not d:
            break
        need -= len(d)
    return head


def proxy_race(listen, upstream, tries):
    up = Upstream(upstream)
    for n in range(1, tries + 1):
        c = socket.create_connection(("127.0.0.1", listen))
        c.sendall(b"GET /warm/%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (n, listen))
        read_response(up, c)
        conn = up.by_target.get("/warm/%d" % n)
        body = b'{"order":%d}' % n
        c.sendall(b"POST /order/%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (n, listen, len(body), body))
        # The proxy is reading the POST now: close the connection it would
        # reuse, a few microseconds behind it (a little later each try).
        t = time.perf_counter() + 0.00001 * n
        while time.perf_counter() < t:
            pass
        if conn:
            up.close(conn)
        head = read_response(up, c)
        status = head.split("\r\n")[0] if head else "(closed)"
        c.close()
        ok = head and " 200 " in status
        print("%s try %d: %s" % ("OK" if ok else "ERROR", n, status))
        if not ok:
            return


def main():
    mode = sys.argv[1]
    if mode == "idle-client":
        idle_client(int(sys.argv[2]), sys.argv[3])
    elif mode == "proxy-race":
        proxy_race(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: software-rig.py idle-client PORT PATH | proxy-race LISTEN UPSTREAM TRIES")


if __name__ == "__main__":
    main()
