#!/usr/bin/env python3
"""bench/stress.py KIND OUT.pcap [N] -- hostile shapes for the resource bounds.

  synflood N     N SYNs from distinct clients: N connections open at once
  bigstream N    one connection carrying N MiB of response body (one HTTP
                 response with that Content-Length)
  pipeline N     N pipelined requests on one connection, answered in order
  ooo N          one connection whose N client segments arrive in reverse order

Raw-IP pcap (LINKTYPE_RAW), microsecond timestamps, valid IPv4 checksums.
Deterministic; stdlib only.
"""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class W:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        self.t = 1763740800 * 1000000

    def pkt(self, src, dst, sp, dp, flags, seq, ack, data=b""):
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xffffffff, ack & 0xffffffff,
                          5 << 4, flags, 65535, 0, 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        self.t += 10
        rec = ip + tcp
        self.f.write(struct.pack("<IIII", self.t // 1000000, self.t % 1000000, len(rec),
                                 len(rec)))
        self.f.write(rec)

    def close(self):
        self.f.close()


S, F, R, P, A = 2, 1, 4, 8, 16
SRV = bytes([10, 0, 0, 1])


def handshake(w, cli, cp, ci, si):
    w.pkt(cli, SRV, cp, 80, S, ci, 0)
    w.pkt(SRV, cli, 80, cp, S | A, si, ci + 1)
    w.pkt(cli, SRV, cp, 80, A, ci + 1, si + 1)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    w = W(out)
    cli = bytes([10, 1, 0, 1])
    if kind == "synflood":
        for i in range(n or 1000000):
            src = bytes([10, 2 + (i >> 16) % 200, (i >> 8) & 255, i & 255])
            w.pkt(src, SRV, 1024 + i % 60000, 80, S, i * 7919, 0)
    elif kind == "bigstream":
        handshake(w, cli, 40000, 1000, 5000)
        w.pkt(cli, SRV, 40000, 80, P | A, 1001, 5001, b"GET /big HTTP/1.1\r\n\r\n")
        body = (n or 1024) << 20
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body
        seq, left, chunk = 5001, body, bytes(1448)
        w.pkt(SRV, cli, 80, 40000, P | A, seq, 1022, head)
        seq += len(head)
        while left > 0:
            d = chunk if left >= 1448 else chunk[:left]
            w.pkt(SRV, cli, 80, 40000, A, seq, 1022, d)
            seq += len(d)
            left -= len(d)
            if (seq // 1448) % 16 == 0:
                w.pkt(cli, SRV, 40000, 80, A, 1022, seq)
        w.pkt(SRV, cli, 80, 40000, F | A, seq, 1022)
        w.pkt(cli, SRV, 40000, 80, F | A, 1022, seq + 1)
    elif kind == "pipeline":
        handshake(w, cli, 40001, 1000, 5000)
        cseq, sseq = 1001, 5001
        req = b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n"
        resp = b"HTTP/1.1 204 No Content\r\n\r\n"
        per = 1400 // len(req)
        total = n or 1000000
        sent = 0
        while sent < total:
            k = min(per, total - sent)
            w.pkt(cli, SRV, 40001, 80, P | A, cseq, sseq, req * k)
            cseq += len(req) * k
            w.pkt(SRV, cli, 80, 40001, P | A, sseq, cseq, resp * k)
            sseq += len(resp) * k
            sent += k
        w.pkt(cli, SRV, 40001, 80, F | A, cseq, sseq)
        w.pkt(SRV, cli, 80, 40001, F | A, sseq, cseq + 1)
    elif kind == "ooo":
        handshake(w, cli, 40002, 1000, 5000)
        total = n or 100000
        data = bytes(100)
        w.pkt(cli, SRV, 40002, 80, P | A, 1001, 5001, b"POST /u HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (total * 100))
        base = 1001 + len(b"POST /u HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (total * 100))
        for i in reversed(range(total)):
            w.pkt(cli, SRV, 40002, 80, P | A, base + i * 100, 5001, data)
        w.pkt(SRV, cli, 80, 40002, P | A, 5001, base + total * 100, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    else:
        sys.exit("unknown kind " + kind)
    w.close()


if __name__ == "__main__":
    main()
