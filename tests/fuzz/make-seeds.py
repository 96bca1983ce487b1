#!/usr/bin/env python3
"""Regenerate the seed corpora of the fuzz harnesses from samples/.

    tests/fuzz/make-seeds.py [OUTDIR]     (default: tests/fuzz/seeds)

Writes OUTDIR/capture (the sample captures, plus a pcapng and a few
link-type variants), OUTDIR/http (client/server HTTP streams of every
sample connection, plus hand-written edge cases) and OUTDIR/decode (single
frames in every supported link type).  Feed them to the fuzzers and
minimise into corpus/<harness>/ with -merge=1 (./run --seed does both).
Standard library only.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "..", "samples")

# Indexes of fuzz_decode.c's dlts[] table.
D_EN10MB, D_SLL, D_SLL2, D_NULL, D_LOOP, D_RAW, D_RAW14, D_IPV4, D_IPV6 = range(9)


def read_capture(path):
    """(linktype, [(ts_sec, ts_usec, frame)]) of a pcap or pcapng file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        off, out = 24, []
        while off + 16 <= len(data):
            s, us, cl, _ = struct.unpack(e + "IIII", data[off:off + 16])
            out.append((s, us, data[off + 16:off + 16 + cl]))
            off += 16 + cl
        return lt, out
    # pcapng: little-endian only (what the samples use)
    off, lt, out = 0, None, []
    while off + 12 <= len(data):
        bt, bl = struct.unpack("<II", data[off:off + 8])
        if bl < 12:
            break
        body = data[off + 8:off + bl - 4]
        if bt == 1 and lt is None:
            lt = struct.unpack("<H", body[:2])[0]
        elif bt == 6:
            _, hi, lo, cl, _ = struct.unpack("<IIIII", body[:20])
            t = (hi << 32) | lo
            out.append((t // 1000000, t % 1000000, body[20:20 + cl]))
        off += bl
    return lt, out


def l3_of(lt, frame):
    """(ethertype, L3 bytes) or None."""
    if lt == 1:
        off, et = 14, struct.unpack(">H", frame[12:14])[0]
        while et in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 4:
            et = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
        return et, frame[off:]
    if lt == 113:
        return struct.unpack(">H", frame[14:16])[0], frame[16:]
    if lt == 276:
        return struct.unpack(">H", frame[0:2])[0], frame[20:]
    return None


def tcp_of(et, l3):
    """(src, dst, sport, dport, seq, flags, payload) or None."""
    if et == 0x0800 and len(l3) >= 20 and l3[9] == 6:
        ihl = (l3[0] & 15) * 4
        tot = struct.unpack(">H", l3[2:4])[0]
        src, dst, t = l3[12:16], l3[16:20], l3[ihl:tot]
    elif et == 0x86DD and len(l3) >= 40 and l3[6] == 6:
        plen = struct.unpack(">H", l3[4:6])[0]
        src, dst, t = l3[8:24], l3[24:40], l3[40:40 + plen]
    else:
        return None
    if len(t) < 20:
        return None
    sp, dp, seq = struct.unpack(">HHI", t[:8])
    doff = (t[12] >> 4) * 4
    return src, dst, sp, dp, seq, t[13], t[doff:]


def streams(lt, frames):
    """{conn: (client bytes, server bytes)} of every connection, by seq."""
    conns = {}
    for _, _, fr in frames:
        x = l3_of(lt, fr)
        if not x:
            continue
        t = tcp_of(*x)
        if not t:
            continue
        src, dst, sp, dp, seq, flags, pay = t
        key = tuple(sorted([(src, sp), (dst, dp)]))
        c = conns.setdefault(key, {"client": None, "segs": {}})
        if flags & 0x12 == 0x02:
            c["client"] = (src, sp)
        if pay:
            c["segs"].setdefault((src, sp), {})[seq] = pay
    out = {}
    for key, c in conns.items():
        client = c["client"]
        if client is None:   # no SYN: the higher port is the client
            client = max(key, key=lambda e: e[1])
        res = []
        for side in (client, [e for e in key if e != client][0] if key[0] != key[1] else client):
            segs = c["segs"].get(side, {})
            buf, nxt = b"", None
            for seq in sorted(segs):
                p = segs[seq]
                if nxt is not None and seq < nxt:   # retransmission / overlap
                    p = p[nxt - seq:]
                buf += p
                nxt = seq + len(segs[seq]) if nxt is None else max(nxt, seq + len(segs[seq]))
            res.append(buf)
        out[key] = tuple(res)
    return out


def http_seed(req, resp, seed=0x0000):
    req = req[:65535]
    return struct.pack("<HH", len(req), seed) + req + resp


HTTP_EDGE = [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
    (b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
     b"5;ext=1\r\nhello\r\n0\r\nTrailer: v\r\n\r\n",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     b"a\r\n0123456789\r\n0\r\n\r\n"),
    (b"GET /a HTTP/1.0\r\n\r\n",
     b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until close"),
    (b"GET /k HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
     b"HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5, max=100\r\n\r\n"
     b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
    (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01\x00\x05hello",
     b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi"),
    (b"\r\nGET /lf HTTP/1.1\nHost: lf\n\n", b"HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    (b"\x16\x03\x01\x00\x31\x01\x00\x00\x2d\x03\x03" + b"\0" * 40, b"\x16\x03\x03\x00\x10"),
    (b"GET /" + b"x" * 300 + b" HTTP/1.1\r\nHost: " + b"h" * 300 + b"\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"),
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"),
    (b"GET / HTTP/1.1\r\n\r\n" * 70, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" * 70),
]


def sll_of(l3, et):
    return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", et) + l3


def sll2_of(l3, et):
    return struct.pack(">HHIHBB8s", et, 0, 2, 1, 4, 6, b"\x02\0\0\0\0\x01\0\0") + l3


def decode_variants(et, l3, eth):
    """Seeds for fuzz_decode: (selector byte, frame)."""
    af6 = et == 0x86DD
    v = [(D_EN10MB, eth), (D_SLL, sll_of(l3, et)), (D_SLL2, sll2_of(l3, et)),
         (D_NULL, struct.pack("<I", 30 if af6 else 2) + l3),
         (D_NULL, struct.pack(">I", 10 if af6 else 2) + l3),
         (D_LOOP, struct.pack(">I", 24 if af6 else 2) + l3),
         (D_RAW, l3), (D_RAW14, l3), (D_IPV6 if af6 else D_IPV4, l3)]
    # VLAN, QinQ
    v.append((D_EN10MB, eth[:12] + b"\x81\x00\x00\x0a" + eth[12:]))
    v.append((D_EN10MB, eth[:12] + b"\x88\xa8\x00\x0b\x81\x00\x00\x0a" + eth[12:]))
    if af6:   # hop-by-hop + destination options + fragment header chain
        nh = l3[6]
        ext = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([44, 0, 1, 4, 0, 0, 0, 0]) + \
            bytes([nh, 0, 0, 0, 0, 0, 0, 1])
        plen = struct.unpack(">H", l3[4:6])[0] + len(ext)
        x = l3[:4] + struct.pack(">H", plen) + bytes([0]) + l3[7:40] + ext + l3[40:]
        v.append((D_RAW, x))
    else:     # IP options (NOP NOP NOP EOL)
        ihl = (l3[0] & 15)
        if ihl == 5:
            tot = struct.unpack(">H", l3[2:4])[0] + 4
            x = bytes([0x46]) + l3[1:2] + struct.pack(">H", tot) + l3[4:20] + b"\x01\x01\x01\x00" + l3[20:]
            v.append((D_IPV4, x))
    return v


def write(dirname, data):
    os.makedirs(dirname, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "seeds")
    caps = sorted(f for f in os.listdir(SAMPLES) if f.endswith((".pcap", ".pcapng")))
    seen_frames = set()
    for name in caps:
        path = os.path.join(SAMPLES, name)
        raw = open(path, "rb").read()
        write(os.path.join(out, "capture"), raw)
        lt, frames = read_capture(path)
        for i, (req, resp) in enumerate(streams(lt, frames).values()):
            if req or resp:
                write(os.path.join(out, "http"), http_seed(req, resp, i))
                write(os.path.join(out, "http"), http_seed(req, resp, 0xC000 | i))
        # a handful of distinct frames per sample, in every link type
        kept = 0
        for _, _, fr in frames:
            x = l3_of(lt, fr)
            if not x or kept >= 6:
                continue
            t = tcp_of(*x)
            if not t:
                continue
            key = (t[5], len(t[6]) > 0, x[0], lt)
            if key in seen_frames:
                continue
            seen_frames.add(key)
            kept += 1
            et, l3 = x
            eth = fr if lt == 1 else b"\0\1\2\3\4\5\6\7\x08\x09\x0a\x0b" + struct.pack(">H", et) + l3
            sel = {1: D_EN10MB, 113: D_SLL, 276: D_SLL2}[lt]
            write(os.path.join(out, "decode"), bytes([sel]) + fr)
            for s, f in decode_variants(et, l3, eth):
                write(os.path.join(out, "decode"), bytes([s]) + f)
    for i, (req, resp) in enumerate(HTTP_EDGE):
        write(os.path.join(out, "http"), http_seed(req, resp, i))
        write(os.path.join(out, "http"), http_seed(req, resp, 0xC000 | (i * 7)))
    # TLS ClientHello with SNI, for decode's hu_tls_sni / request paths
    sni = b"example.com"
    ext = struct.pack(">HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + \
        struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    hello = b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
    write(os.path.join(out, "decode"), b"\xff" + hello)
    write(os.path.join(out, "decode"), b"\xff" + b"POST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")
    for d in ("capture", "http", "decode"):
        print(d, len(os.listdir(os.path.join(out, d))))


if __name__ == "__main__":
    main()
