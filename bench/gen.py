#!/usr/bin/env python3
"""gen.py -- synthetic HTTP/1.1 keep-alive capture with injected keep-alive races.

Writes a classic pcap (Ethernet, microsecond timestamps) as seen from a
capture point next to the servers, and beside it FILE.truth (JSON Lines, one
object per injected race, ordered by rst_packet).

Model (all times are server-vantage capture times, integer microseconds):
  * C connections are open at any moment (--concurrency; the first C start
    within --ramp seconds); when one ends another starts.  About 30% are
    IPv6.  Half of the connections open at the start of the capture are
    already established (no handshake in the file).
  * Each connection: SYN / SYN-ACK / ACK, then several exchanges.  Requests are
    100-800 B (sometimes split over two segments, sometimes those two captured
    out of order); responses are 200 B - 64 KB (Content-Length or chunked),
    cut into MSS segments, sent under a slow-start window; the client ACKs
    every second segment and delays the ACK of a lone last segment by 40 ms
    (unless its next packet comes sooner).  Some data segments are
    retransmitted (duplicates, answered by a duplicate ACK); some adjacent
    response segments are captured swapped.
  * A connection ends by a client close (FIN, server FIN-ACK, ACK), by the
    server's idle close (FIN after its idle timeout, client FIN, ACK), or by
    an injected keep-alive race:
      stale   server FIN; client ACKs it; later the client writes a request
              whose ack covers the FIN; the server's kernel answers [R].
      crossed server FIN; the client's request, sent before the FIN reached
              it, arrives less than an RTT later with ack == fin.seq; [R].
    A race client has always idled longer than the server's timeout minus an
    RTT.  Races are injected at --races per 10,000 packets.
  * Sequence and ack numbers are exact everywhere; checksums are valid.

Stdlib only; deterministic for a given set of arguments.  Streams: memory is
bounded by the concurrency, not by the packet count.
"""

import argparse
import heapq
import ipaddress
import json
import os
import random
import struct
import sys
import time

ACK, PSH, RST, SYN, FIN = 0x10, 0x08, 0x04, 0x02, 0x01
M32 = 0xFFFFFFFF
EPOCH = 1718000000  # 2024-06-10, fixed so output is reproducible


def csum_words(b):
    """Sum of the big-endian 16-bit words of b, modulo 65535."""
    if len(b) & 1:
        b += b"\0"
    return int.from_bytes(b, "big") % 65535


class Dir:
    """One direction of one connection: precomputed frame prefix and sums."""

    __slots__ = ("v6", "eth", "src", "dst", "ports", "portsum", "pseudo",
                 "ipk", "ipid", "flow")

    def __init__(self, v6, smac, dmac, src, dst, sport, dport, ipid, flow):
        self.v6 = v6
        self.eth = dmac + smac + (b"\x86\xdd" if v6 else b"\x08\x00")
        self.src = src
        self.dst = dst
        self.ports = struct.pack("!HH", sport, dport)
        self.portsum = sport + dport
        # pseudo header without the length: addresses + protocol 6
        self.pseudo = (csum_words(src + dst) + 6) % 65535
        # IPv4 header constant words: 0x4500, flags 0x4000, ttl/proto, addresses
        self.ipk = (0x4500 + 0x4000 + (64 << 8 | 6) + csum_words(src + dst)) % 65535
        self.ipid = ipid
        self.flow = flow


_pk_tcp = struct.Struct("!4sIIBBHHH").pack   # ports, seq, ack, off, flags, win, csum, urp
_pk_ip4 = struct.Struct("!HHHHBBH4s4s").pack
_pk_ip6 = struct.Struct("!IHBB16s16s").pack
_PAD = b"\0" * 64


def frame(d, flags, seq, ack, win, payload=b"", opts=b""):
    """Build one Ethernet frame (with valid IPv4 and TCP checksums)."""
    seq &= M32
    ack &= M32
    hl = 20 + len(opts)
    tlen = hl + len(payload)
    s = (d.pseudo + tlen + d.portsum + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16)
         + (ack & 0xFFFF) + ((hl << 10) | flags) + win)
    if opts:
        s += csum_words(opts)
    if payload:
        s += csum_words(payload)
    tcp = _pk_tcp(d.ports, seq, ack, hl << 2, flags, win, (-s) % 65535, 0)
    if d.v6:
        ip = _pk_ip6(0x60000000 | d.flow, tlen, 6, 64, d.src, d.dst)
        return d.eth + ip + tcp + opts + payload
    d.ipid = (d.ipid + 1) & 0xFFFF
    tot = tlen + 20
    ip = _pk_ip4(0x4500, tot, d.ipid, 0x4000, 64, 6,
                 (-(d.ipk + tot + d.ipid)) % 65535, d.src, d.dst)
    f = d.eth + ip + tcp + opts + payload
    if len(f) < 60:
        f += _PAD[:60 - len(f)]
    return f


def syn_opts(mss):
    # mss, nop, nop, sackOK, nop, wscale 7 (Linux without timestamps)
    return struct.pack("!BBH", 2, 4, mss) + b"\x01\x01\x04\x02\x01\x03\x03\x07"


# ----------------------------------------------------------------------------
# HTTP content

UAS = [b"node", b"undici", b"python-requests/2.31.0", b"Go-http-client/1.1",
       b"okhttp/4.12.0", b"Apache-HttpClient/4.5.14 (Java/17.0.9)", b"curl/8.4.0",
       b"axios/1.6.2"]
RESOURCES = [b"orders", b"users", b"items", b"carts", b"sessions", b"products",
             b"invoices", b"events", b"metrics", b"status"]


class Content:
    def __init__(self, rng):
        alnum = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        self.pad = bytes(rng.choice(alnum) for _ in range(8192))
        parts = []
        n = 0
        while n < 140000:
            p = (b'{"id":%d,"name":"%s","price":%d.%02d,"tags":["%s","%s"],"active":%s},'
                 % (rng.randrange(10 ** 7), self.pad[rng.randrange(8000):][:rng.randint(4, 20)],
                    rng.randrange(1000), rng.randrange(100), rng.choice(RESOURCES),
                    rng.choice(RESOURCES), rng.choice([b"true", b"false"])))
            parts.append(p)
            n += len(p)
        self.body = b"".join(parts)

    def padding(self, rng, n):
        o = rng.randrange(8192 - n) if n < 8192 else 0
        return self.pad[o:o + n]

    def request(self, rng, host):
        """(bytes, method, target); 100..800 bytes."""
        r = rng.random()
        if r < 0.70:
            m = b"GET"
        elif r < 0.85:
            m = b"POST"
        elif r < 0.90:
            m = b"PUT"
        elif r < 0.95:
            m = b"DELETE"
        else:
            m = b"PATCH"
        tgt = b"/api/v%d/%s" % (rng.randint(1, 2), rng.choice(RESOURCES))
        if m != b"POST" or rng.random() < 0.3:
            tgt += b"/%d" % rng.randrange(1, 10 ** 6)
        if m == b"GET" and rng.random() < 0.3:
            tgt += b"?page=%d&limit=%d" % (rng.randint(1, 50), rng.choice((10, 20, 50, 100)))
        want = rng.randint(100, 800)
        h = [m, b" ", tgt, b" HTTP/1.1\r\nHost: ", host, b"\r\nUser-Agent: ",
             rng.choice(UAS), b"\r\nAccept: application/json\r\nConnection: keep-alive\r\n"]
        body = b""
        if m in (b"POST", b"PUT", b"PATCH"):
            blen = rng.randint(20, max(20, min(400, want // 2)))
            o = rng.randrange(len(self.body) - blen)
            body = self.body[o:o + blen]
            h.append(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % blen)
        head = b"".join(h)
        room = want - len(head) - len(body) - 2 - 10  # "Cookie: " + CRLF
        if room > 0:
            head += b"Cookie: " + self.padding(rng, room) + b"\r\n"
        req = head + b"\r\n" + body
        return req, m.decode(), tgt.decode()

    def response(self, rng, method, hint):
        """Response bytes, 200 B .. 64 KB."""
        if method == "DELETE":
            st, body, chunked = b"204 No Content", None, False
        else:
            r = rng.random()
            if method == "GET" and r < 0.05:
                st, body = b"304 Not Modified", None
            elif r < 0.12:
                st = b"404 Not Found"
                body = b'{"error":"not found","code":404}'
            else:
                st = b"201 Created" if method == "POST" else b"200 OK"
                r = rng.random()
                n = int(200 * (320 ** (r * r))) - 180  # 20 B .. 64 KB, median ~650 B
                n = max(20, min(n, 65536 - 300))
                o = rng.randrange(len(self.body) - n)
                body = self.body[o:o + n]
            chunked = body is not None and len(body) > 400 and rng.random() < 0.2
        h = [b"HTTP/1.1 ", st, b"\r\nDate: Mon, 10 Jun 2024 06:13:20 GMT\r\n"
             b"Server: bench\r\nX-Request-Id: ", self.padding(rng, 24), b"\r\n"]
        if body is not None:
            h.append(b"Content-Type: application/json; charset=utf-8\r\n")
        h.append(b"Connection: keep-alive\r\n")
        if hint:
            h.append(b"Keep-Alive: timeout=%d\r\n" % hint)
        if body is None:
            if st.startswith(b"304"):
                h.append(b"ETag: \"" + self.padding(rng, 16) + b"\"\r\n")
            return b"".join(h) + b"\r\n"
        if not chunked:
            h.append(b"Content-Length: %d\r\n\r\n" % len(body))
            return b"".join(h) + body
        h.append(b"Transfer-Encoding: chunked\r\n\r\n")
        i = 0
        while i < len(body):
            k = min(len(body) - i, rng.randint(200, 8192))
            h.append(b"%x\r\n" % k)
            h.append(body[i:i + k])
            h.append(b"\r\n")
            i += k
        h.append(b"0\r\n\r\n")
        return b"".join(h)


# ----------------------------------------------------------------------------
# topology

def mac(i):
    return bytes((0x02, 0x42, 0xAC, (i >> 16) & 255, (i >> 8) & 255, i & 255))


ROUTER_MAC = mac(0xFFFF01)


class Server:
    def __init__(self, idx, v6, addr, port, timeout_s, hint):
        self.v6 = v6
        self.addr = addr
        self.port = port
        self.timeout = int(timeout_s * 1e6)
        self.hint = timeout_s if hint else 0
        self.mac = mac(idx + 1)
        ip = ipaddress.ip_address(addr)
        self.raw = ip.packed
        self.host = ("api%d.bench.internal" % idx).encode()
        if port != 80:
            self.host += b":%d" % port
        self.name = ("[%s]:%d" if v6 else "%s:%d") % (ip, port)


def make_servers():
    srv = []
    ports = [80, 8080, 3000, 8000]
    timeouts = [5, 5, 5, 4, 5, 10, 5, 4]
    for i in range(8):
        srv.append(Server(i, False, "10.0.0.%d" % (10 + i), ports[i % 4], timeouts[i], i % 2 == 0))
    for i in range(4):
        srv.append(Server(8 + i, True, "2001:db8::%x" % (0x10 + i), ports[i % 4],
                          timeouts[i + 2], i % 2 == 1))
    return [s for s in srv if not s.v6], [s for s in srv if s.v6]


class Client:
    __slots__ = ("raw", "name", "port")

    def __init__(self, v6, i, rng):
        if v6:
            ip = ipaddress.ip_address("2001:db8:100::%x:%x" % (i >> 8, i & 255 | 0x100))
        else:
            ip = ipaddress.ip_address("10.1.%d.%d" % (i // 250, i % 250 + 2))
        self.raw = ip.packed
        self.name = ("[%s]" if v6 else "%s") % ip
        self.port = rng.randint(32768, 60000)

    def next_port(self, rng):
        self.port += rng.randint(1, 7)
        if self.port > 60999:
            self.port -= 28232
        return self.port


# ----------------------------------------------------------------------------
# the simulation

class Ctx:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.content = Content(random.Random(args.seed + 1))
        self.srv4, self.srv6 = make_servers()
        self.cli4 = [Client(False, i, self.rng) for i in range(600)]
        self.cli6 = [Client(True, i, self.rng) for i in range(250)]
        self.race_rate = args.races / 10000.0
        self.races_started = 0
        self.written = 0
        self.now = 0
        self.v6frac = args.ipv6
        self.counts = {"connections": 0, "stale": 0, "crossed": 0, "split": 0,
                       "ooo": 0, "rtx": 0, "chunked": 0, "idle_close": 0,
                       "client_close": 0, "midstream": 0}


def loguni(rng, lo, hi):
    return int(lo * (hi / lo) ** rng.random())


def conn_gen(ctx, t0, midstream):
    """Generator of (time_us, frame, tag) for one connection, in time order."""
    rng = ctx.rng
    content = ctx.content
    counts = ctx.counts
    counts["connections"] += 1
    v6 = rng.random() < ctx.v6frac
    srv = rng.choice(ctx.srv6 if v6 else ctx.srv4)
    cli = rng.choice(ctx.cli6 if v6 else ctx.cli4)
    cport = cli.next_port(rng)
    flow = rng.getrandbits(20)
    cs = Dir(v6, ROUTER_MAC, srv.mac, cli.raw, srv.raw, cport, srv.port, rng.getrandbits(16), flow)
    sc = Dir(v6, srv.mac, ROUTER_MAC, srv.raw, cli.raw, srv.port, cport, rng.getrandbits(16), flow ^ 0x5A5A5)
    mss = 1440 if v6 else 1460
    rtt = loguni(rng, 300, 80000)
    cwin = rng.choice((502, 1002, 2051, 4096))
    swin = rng.choice((501, 509, 1024))
    T = srv.timeout
    cname = "%s:%d" % (cli.name, cport)
    cseq = rng.getrandbits(32)
    sseq = rng.getrandbits(32)

    t = t0
    if midstream:
        counts["midstream"] += 1
    else:
        yield t, frame(cs, SYN, cseq, 0, 64240, b"", syn_opts(mss)), None
        cseq += 1
        t += rng.randint(15, 60)
        yield t, frame(sc, SYN | ACK, sseq, cseq, 65160, b"", syn_opts(mss)), None
        sseq += 1
        t += rtt
        yield t, frame(cs, ACK, cseq, sseq, cwin), None
        t += rng.randint(5, 400)

    nreq = 1
    while nreq < 30 and rng.random() < 0.8:
        nreq += 1
    t_req = t
    for i in range(nreq):
        req, method, target = content.request(rng, srv.host)
        resp = content.response(rng, method, srv.hint)
        if resp[-5:] == b"0\r\n\r\n":
            counts["chunked"] += 1
        pk = []  # (time, frame)
        # --- request
        L = len(req)
        if rng.random() < 0.1:
            counts["split"] += 1
            k = rng.randint(1, L - 1)
            t2 = t_req + rng.randint(20, 400)
            f1 = frame(cs, ACK, cseq, sseq, cwin, req[:k])
            f2 = frame(cs, PSH | ACK, cseq + k, sseq, cwin, req[k:])
            if rng.random() < 0.2:
                counts["ooo"] += 1
                f1, f2 = f2, f1
            pk.append((t_req, f1))
            pk.append((t2, f2))
            t_rx = t2
        else:
            pk.append((t_req, frame(cs, PSH | ACK, cseq, sseq, cwin, req)))
            t_rx = t_req
        cseq += L
        # --- server: maybe a pure ACK, then the response under slow start
        dapp = loguni(rng, 80, 60000)
        if dapp > 40000:
            pk.append((t_rx + rng.randint(20000, 40000), frame(sc, ACK, sseq, cseq, swin)))
        now = t_rx + dapp
        n = (len(resp) + mss - 1) // mss
        send_t = []
        ends = []
        acked = 0
        cwnd = 10
        for j in range(n):
            while j - acked >= cwnd:
                ta = send_t[acked + 1] + rtt  # ACK of segments acked, acked+1
                if ta > now:
                    now = ta
                acked += 2
                cwnd += 2
            send_t.append(now)
            ends.append(min((j + 1) * mss, len(resp)))
            now += 8 + mss // 125 + rng.randint(0, 6)
        segs = []
        for j in range(n):
            flags = PSH | ACK if j == n - 1 or (j & 7) == 7 else ACK
            segs.append([send_t[j], frame(sc, flags, sseq + j * mss, cseq, swin,
                                          resp[j * mss:ends[j]])])
        if n >= 3 and rng.random() < 0.03:
            counts["ooo"] += 1
            j = rng.randrange(n - 1)
            segs[j][1], segs[j + 1][1] = segs[j + 1][1], segs[j][1]
        pk.extend(segs)
        # client ACKs: every second segment
        for j in range(1, n, 2):
            pk.append((send_t[j] + rtt, frame(cs, ACK, cseq, sseq + ends[j], cwin)))
        # retransmissions (spurious: the client answers with a duplicate ACK)
        if rng.random() < 0.02:
            counts["rtx"] += 1
            j = rng.randrange(n)
            tr = send_t[j] + rtt + rng.randint(200, 3000)
            pk.append((tr, frame(sc, ACK, sseq + j * mss, cseq, swin, resp[j * mss:ends[j]])))
            # client's cumulative ack at tr + rtt
            ta = tr + rtt
            got = 0
            for jj in range(n):
                if send_t[jj] + rtt <= ta:
                    got = ends[jj]
            pk.append((ta, frame(cs, ACK, cseq, sseq + got, cwin)))
        t_last = send_t[-1]
        sseq_end = sseq + len(resp)
        delack = t_last + rtt + 40000 if n & 1 else 0

        # --- what the client does next
        last = i == nreq - 1
        ending = None
        # a race takes the server's idle timeout to happen: aim the quota at
        # the packet count ~5.5 s (a typical timeout + 10%) from now, so that
        # completed races follow the rate.  The same lead for every
        # connection, so that races fall on all servers alike.
        lead = ctx.written / ctx.now * 5500000 if ctx.now > 0 else 0
        want = (ctx.races_started + 1) <= (ctx.written + lead) * ctx.race_rate
        if want:
            last = True
        if not last:
            r = rng.random()
            if r < 0.3:
                think = loguni(rng, 500, 500000)
            elif r < 0.7:
                think = rng.randint(500000, 3000000)
            else:
                think = rng.randint(3000000, T - 500000)
            think = min(think, T - rtt - 300000)
            t_next = t_last + rtt + think
        else:
            if want:
                ctx.races_started += 1
                ending = "stale" if rng.random() < 0.5 else "crossed"
                t_fin = t_last + T + rng.randint(0, 3000)
                if ending == "stale":
                    t_next = t_fin + rtt
                else:
                    cross = int(rtt * rng.uniform(0.1, 0.9))
                    t_next = t_fin + cross
            elif rng.random() < 0.45:
                ending = "idle"
                t_fin = t_last + T + rng.randint(0, 3000)
                t_next = t_fin + rtt
            else:
                ending = "client"
                t_next = t_last + rtt + loguni(rng, 1000, T - rtt - 300000)
        if delack and delack < t_next:
            pk.append((delack, frame(cs, ACK, cseq, sseq_end, cwin)))
        sseq = sseq_end
        pk.sort(key=lambda x: x[0])
        for tt, f in pk:
            yield tt, f, None
        tmax = pk[-1][0]
        if not last:
            t_req = max(t_next, tmax + 1)
            continue

        # --- the end of the connection
        if ending == "client":
            counts["client_close"] += 1
            t = max(t_next, tmax + 1)
            yield t, frame(cs, FIN | ACK, cseq, sseq, cwin), None
            cseq += 1
            t += rng.randint(30, 300)
            yield t, frame(sc, FIN | ACK, sseq, cseq, swin), None
            sseq += 1
            t += rtt
            yield t, frame(cs, ACK, cseq, sseq, cwin), None
            return
        t_fin = max(t_fin, tmax + 1)
        fin = frame(sc, FIN | ACK, sseq, cseq, swin)
        if ending == "idle":
            counts["idle_close"] += 1
            yield t_fin, fin, None
            sseq += 1
            t = t_fin + rtt
            if rng.random() < 0.6:
                t += rng.randint(50, 500)
            else:
                yield t, frame(cs, ACK, cseq, sseq, cwin), None
                t += rng.randint(1000, 30000)
            yield t, frame(cs, FIN | ACK, cseq, sseq, cwin), None
            cseq += 1
            t += rng.randint(10, 30)
            yield t, frame(sc, ACK, sseq, cseq, swin), None
            return

        # a keep-alive race
        counts[ending] += 1
        req, method, target = content.request(rng, srv.host)
        race = {"verdict": ending, "client": cname, "server": srv.name,
                "fin_packet": 0, "request_packet": 0, "rst_packet": 0,
                "method": method, "target": target}
        fin_seq = sseq
        yield t_fin, fin, (race, "fin_packet")
        if ending == "stale":
            sseq += 1  # the client has the FIN
            t = t_fin + rtt
            yield t, frame(cs, ACK, cseq, sseq, cwin), None
            t += loguni(rng, 200, 3000000)
        else:
            t = t_fin + max(cross, 1)
        # the late request, sometimes written in two segments
        ack = sseq
        if rng.random() < 0.1:
            k = rng.randint(1, len(req) - 1)
            yield t, frame(cs, ACK, cseq, ack, cwin, req[:k]), (race, "request_packet")
            t += rng.randint(3, 10)
            yield t, frame(cs, PSH | ACK, cseq + k, ack, cwin, req[k:]), None
            t += rng.randint(10, 40)
            yield t, frame(sc, RST, ack, 0, 0), (race, "rst_packet")
            t += rng.randint(2, 10)
            yield t, frame(sc, RST, ack, 0, 0), None
        else:
            yield t, frame(cs, PSH | ACK, cseq, ack, cwin, req), (race, "request_packet")
            t += rng.randint(10, 40)
            yield t, frame(sc, RST, ack, 0, 0), (race, "rst_packet")
        cseq += len(req)
        if ending == "crossed" and rng.random() < 0.5:
            # the client's kernel ACKs the FIN when it arrives; the server
            # host has no socket any more and resets again
            t = max(t_fin + rtt, t + 5)
            yield t, frame(cs, ACK, cseq, fin_seq + 1, cwin), None
            t += rng.randint(10, 40)
            yield t, frame(sc, RST, fin_seq + 1, 0, 0), None
        return


def generate(args):
    ctx = Ctx(args)
    rng = ctx.rng
    out = open(args.output, "wb", buffering=1 << 20)
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    rec = struct.Struct("<IIII").pack
    heap = []
    seq = 0
    # connections open at the start: half already established (mid-stream)
    ramp = int(args.ramp * 1000000)
    for _ in range(args.concurrency):
        seq += 1
        g = conn_gen(ctx, rng.randint(0, ramp), rng.random() < args.midstream)
        tt, f, tag = next(g)
        heap.append((tt, seq, g, f, tag))
    heapq.heapify(heap)
    truth = []
    N = args.packets
    written = 0
    last = -1
    write = out.write
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap and written < N:
        tt, _, g, f, tag = heappop(heap)
        if tt <= last:
            tt = last + 1
        last = tt
        n = len(f)
        ts = EPOCH * 1000000 + tt
        write(rec(ts // 1000000, ts % 1000000, n, n))
        write(f)
        written += 1
        if tag is not None:
            tag[0][tag[1]] = written
            if tag[1] == "rst_packet":
                truth.append(tag[0])
        if (written & 1023) == 0:
            ctx.written = written
            ctx.now = tt
        nxt = next(g, None)
        if nxt is None:
            seq += 1
            g = conn_gen(ctx, tt + rng.randint(1, 2000), False)
            nxt = next(g)
        seq += 1
        heappush(heap, (nxt[0], seq, g, nxt[1], nxt[2]))
    out.close()
    with open(args.output + ".truth", "w") as tf:
        for r in truth:
            tf.write(json.dumps(r, separators=(",", ":")) + "\n")
    return written, truth, ctx.counts, last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True, help="pcap file to write (FILE.truth beside it)")
    ap.add_argument("--packets", type=int, default=100000, help="packets to write (default 100000)")
    ap.add_argument("--concurrency", type=int, default=2000, help="open connections at any time (default 2000)")
    ap.add_argument("--ramp", type=float, default=1.0,
                    help="seconds over which the first --concurrency connections start (default 1)")
    ap.add_argument("--races", type=float, default=1.0, help="keep-alive races per 10,000 packets (default 1)")
    ap.add_argument("--ipv6", type=float, default=0.3, help="fraction of IPv6 connections (default 0.3)")
    ap.add_argument("--midstream", type=float, default=0.5,
                    help="fraction of the connections open at the start whose handshake is not captured (default 0.5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    written, truth, counts, last = generate(args)
    dt = time.time() - t0
    if not args.quiet:
        st = sum(1 for r in truth if r["verdict"] == "stale")
        v6 = sum(1 for r in truth if r["client"].startswith("["))
        print("gen.py: %s: %d packets, %.1f s of capture, %d bytes, %d races (%d stale, %d crossed, %d IPv6) in %.1f s"
              % (args.output, written, last / 1e6, os.path.getsize(args.output), len(truth), st,
                 len(truth) - st, v6, dt), file=sys.stderr)
        print("gen.py: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
