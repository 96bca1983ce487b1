#!/usr/bin/env python3
"""Generate broken variants of the sample captures (standard library only).

    gen.py OUTDIR [--hangup BIN] [--samples DIR] [--full]

Writes the variants into OUTDIR and OUTDIR/manifest.tsv, one line each:

    FILE <TAB> EXPECT <TAB> DESCRIPTION

EXPECT is "-" or a substring the --json output must contain: for a
truncation that keeps every record up to and including the RST of a
sample's first race (lowest RST packet number), that race's
"fin_packet":F,"request_packet":Q,"rst_packet":R.  It is computed by
running BIN (hangup) on the intact sample, so EXPECT is "-" everywhere
without --hangup.

Families: truncations (inside the file header, at and around record
boundaries, inside record headers and frames), bit flips in the pcap
global header, in record headers and in the Ethernet/SLL2, IP and TCP
headers of a few packets, wrong magic / version / link type, caplen >
len, caplen of gigabytes, zero-length records, pcapng with unknown,
oversized and inconsistent blocks, IP/TCP header lengths pointing past
the packet, IPv6 extension-header chains (valid, too long, looping,
running past the packet), gzip and xz copies cut short and
bit-flipped (the race is expected when the cut still decompresses to
its packets).  --full flips every bit pattern on more
samples (slower).
"""
import gzip
import json
import lzma
import zlib
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- pcap I/O

class Pcap:
    """A classic pcap file: endianness, header fields, records."""

    def __init__(self, data):
        m = data[:4]
        if m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            self.e = "<"
        elif m in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            self.e = ">"
        else:
            raise ValueError("not a pcap")
        self.hdr = data[:24]
        self.linktype = struct.unpack(self.e + "I", data[20:24])[0]
        self.recs = []      # [ts_sec, ts_frac, caplen, wirelen, frame]
        self.offs = []      # (start, end) of each record in the file
        off = 24
        while off + 16 <= len(data):
            s, f, cl, wl = struct.unpack(self.e + "IIII", data[off:off + 16])
            self.recs.append([s, f, cl, wl, data[off + 16:off + 16 + cl]])
            self.offs.append((off, off + 16 + cl))
            off += 16 + cl

    def rec_bytes(self, r, caplen=None, wirelen=None):
        s, f, cl, wl, fr = r
        return struct.pack(self.e + "IIII", s, f, cl if caplen is None else caplen,
                           wl if wirelen is None else wirelen) + fr

    def build(self, recs=None, hdr=None):
        recs = self.recs if recs is None else recs
        return (self.hdr if hdr is None else hdr) + b"".join(self.rec_bytes(r) for r in recs)


def pcapng_blocks(data):
    """[(type, start, end)] of a little-endian pcapng file."""
    out, off = [], 0
    while off + 12 <= len(data):
        bt, bl = struct.unpack("<II", data[off:off + 8])
        if bl < 12 or off + bl > len(data):
            break
        out.append((bt, off, off + bl))
        off += bl
    return out


def block(bt, body):
    pad = (-len(body)) % 4
    bl = 12 + len(body) + pad
    return struct.pack("<II", bt, bl) + body + b"\0" * pad + struct.pack("<I", bl)


# ------------------------------------------------------ frame dissection

def l3_offset(linktype, fr):
    """(offset of the IP header, ethertype) or (None, None)."""
    if linktype == 1 and len(fr) >= 14:
        off, et = 14, struct.unpack(">H", fr[12:14])[0]
        while et in (0x8100, 0x88A8) and len(fr) >= off + 4:
            et = struct.unpack(">H", fr[off + 2:off + 4])[0]
            off += 4
        return off, et
    if linktype == 113 and len(fr) >= 16:
        return 16, struct.unpack(">H", fr[14:16])[0]
    if linktype == 276 and len(fr) >= 20:
        return 20, struct.unpack(">H", fr[0:2])[0]
    return None, None


def tcp_offset(linktype, fr):
    """(ip offset, tcp offset, ip version) of a TCP frame, or None."""
    ip, et = l3_offset(linktype, fr)
    if ip is None:
        return None
    if et == 0x0800 and len(fr) >= ip + 20 and fr[ip + 9] == 6:
        return ip, ip + (fr[ip] & 15) * 4, 4
    if et == 0x86DD and len(fr) >= ip + 40 and fr[ip + 6] == 6:
        return ip, ip + 40, 6
    return None


def tcp_flags(linktype, fr):
    t = tcp_offset(linktype, fr)
    return fr[t[1] + 13] if t and len(fr) > t[1] + 13 else None


def pick_packets(p):
    """Indexes of a few interesting TCP packets: SYN, first payload, a FIN, an RST."""
    want = {}
    for i, r in enumerate(p.recs):
        t = tcp_offset(p.linktype, r[4])
        if not t or len(r[4]) < t[1] + 20:
            continue
        fl = r[4][t[1] + 13]
        doff = (r[4][t[1] + 12] >> 4) * 4
        pay = len(r[4]) > t[1] + doff
        for k, cond in (("syn", fl & 0x12 == 0x02), ("data", pay), ("fin", fl & 1),
                        ("rst", fl & 4)):
            if cond and k not in want:
                want[k] = i
    return sorted(set(want.values()))


def set_frame(p, i, fr, fix_ip_len=False):
    """A copy of p's records with record i's frame replaced."""
    recs = [list(r) for r in p.recs]
    recs[i][4] = fr
    recs[i][2] = len(fr)
    recs[i][3] = max(recs[i][3], len(fr)) if not fix_ip_len else len(fr)
    return recs


# ------------------------------------------------------------- generator

class Gen:
    def __init__(self, out, hangup, samples):
        self.out, self.hangup, self.samples = out, hangup, samples
        self.manifest = []
        self.race = {}

    def emit(self, name, data, desc, expect="-"):
        path = os.path.join(self.out, name)
        with open(path, "wb") as f:
            f.write(data)
        self.manifest.append((name, expect, desc))

    def first_race(self, sample):
        """(rst packet number, signature) of the sample's first race, or None."""
        if not self.hangup:
            return None
        r = subprocess.run([self.hangup, "analyze", "--no-db", "--json",
                            os.path.join(self.samples, sample)],
                           capture_output=True, timeout=60)
        best = None
        for line in r.stdout.decode("utf-8", "replace").splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("type") != "incident" or o.get("kind") != "keepalive-race":
                continue
            if best is None or o["rst_packet"] < best["rst_packet"]:
                best = o
        if not best:
            return None
        sig = '"fin_packet":%d,"request_packet":%d,"rst_packet":%d' % (
            best["fin_packet"], best["request_packet"], best["rst_packet"])
        return best["rst_packet"], sig

    # -- truncation ---------------------------------------------------
    def truncations(self, sample, dense):
        data = open(os.path.join(self.samples, sample), "rb").read()
        stem = sample.replace(".", "_")
        race = self.first_race(sample)
        if sample.endswith(".pcapng"):
            ends = [(b[1], b[2], b[0] == 6) for b in pcapng_blocks(data)]
        else:
            p = Pcap(data)
            ends = [(s, e, True) for s, e in p.offs]
        cuts = set(range(0, 33 if dense else 25, 1 if dense else 4))
        step = 1 if dense else 4
        for k, (s, e, is_pkt) in enumerate(ends):
            if k % step and k != len(ends) - 1:
                continue
            for c in (s + 1, s + 8, s + 15, s + 16, (s + e) // 2, e - 1, e):
                cuts.add(c)
        cuts = sorted(c for c in cuts if 0 <= c < len(data))
        for c in cuts:
            expect = "-"
            if race:
                complete = sum(1 for s, e, is_pkt in ends if is_pkt and e <= c)
                if complete >= race[0]:
                    expect = race[1]
            self.emit("trunc-%s-%06d" % (stem, c), data[:c],
                      "%s cut to %d bytes" % (sample, c), expect)

    # -- compressed copies ---------------------------------------------
    def compressed(self, sample):
        """gzip and xz copies of sample: whole, cut at spread offsets (the
        race expected when the cut still decompresses to its packets, as
        Python's own decoders say), and with a byte flipped."""
        data = open(os.path.join(self.samples, sample), "rb").read()
        stem = sample.replace(".", "_")
        race = self.first_race(sample)
        ends = [e for s, e in Pcap(data).offs]

        def prefix(dec, b):
            try:
                return dec().decompress(b)
            except (zlib.error, lzma.LZMAError, EOFError):
                return b""
        kinds = (("gz", gzip.compress(data, mtime=0), lambda: zlib.decompressobj(31)),
                 ("xz", lzma.compress(data), lzma.LZMADecompressor))
        for kind, comp, dec in kinds:
            whole = race[1] if race else "-"
            self.emit("z-%s-%s-whole" % (stem, kind), comp, "%s as %s" % (sample, kind), whole)
            for k in range(1, 24):
                c = len(comp) * k // 24
                got = len(prefix(dec, comp[:c]))
                complete = sum(1 for e in ends if e <= got)
                expect = race[1] if race and complete >= race[0] else "-"
                self.emit("z-%s-%s-cut-%06d" % (stem, kind, c), comp[:c],
                          "%s as %s cut to %d compressed bytes" % (sample, kind, c), expect)
            for k in range(1, 12):
                d = bytearray(comp)
                d[len(d) * k // 12] ^= 0xFF
                self.emit("z-%s-%s-flip-%02d" % (stem, kind, k), bytes(d),
                          "%s as %s, compressed byte %d ^ 0xff" % (sample, kind, len(d) * k // 12))

    # -- pcap header and records ----------------------------------------
    def pcap_fields(self, sample, every_byte):
        data = open(os.path.join(self.samples, sample), "rb").read()
        p = Pcap(data)
        stem = sample.replace(".", "_")
        e = p.e
        # global header: every byte, a few masks
        for b in range(24):
            for m in ((0x01, 0x80, 0xFF) if every_byte else (0xFF,)):
                d = bytearray(data)
                d[b] ^= m
                self.emit("ghdr-%s-b%02d-x%02x" % (stem, b, m), bytes(d),
                          "%s: pcap header byte %d ^ 0x%02x" % (sample, b, m))
        # named values
        def ghdr(field, off, fmt, val):
            d = bytearray(data)
            struct.pack_into(e + fmt, d, off, val)
            self.emit("ghdr-%s-%s" % (stem, field), bytes(d), "%s: %s" % (sample, field))
        for v in (0, 1, 3, 0xFFFF):
            ghdr("vmajor-%d" % v, 4, "H", v)
        ghdr("vminor-99", 6, "H", 99)
        for v in (0, 1, 64, 0x7FFFFFFF, 0xFFFFFFFF):
            ghdr("snaplen-%d" % v, 16, "I", v)
        for lt in (0, 12, 14, 101, 108, 113, 147, 228, 229, 276, 0xFFFF, 0x0FFF0001):
            ghdr("linktype-%d" % lt, 20, "I", lt)
        # wrong magic
        for name, m in (("zero", b"\0\0\0\0"), ("pcapng", b"\x0a\x0d\x0d\x0a"),
                        ("swapped", bytes(reversed(data[:4]))),
                        ("nsec", b"\x4d\x3c\xb2\xa1" if e == "<" else b"\xa1\xb2\x3c\x4d"),
                        ("modified", b"\x34\xcd\xb2\xa1"), ("text", b"GET ")):
            self.emit("magic-%s-%s" % (stem, name), m + data[4:], "%s: magic %s" % (sample, name))
        self.emit("magic-%s-empty" % stem, b"", "empty file")
        self.emit("magic-%s-hdronly" % stem, data[:24], "%s: global header only" % sample)
        # record headers of a few packets: every byte flipped
        picks = pick_packets(p)
        for i in picks:
            s = p.offs[i][0]
            for b in range(16):
                for m in ((0x01, 0x80, 0xFF) if every_byte else (0x80, 0xFF)):
                    d = bytearray(data)
                    d[s + b] ^= m
                    self.emit("rhdr-%s-p%d-b%02d-x%02x" % (stem, i + 1, b, m), bytes(d),
                              "%s: packet %d record header byte %d ^ 0x%02x" % (sample, i + 1, b, m))
        # lengths: caplen > len, gigabytes, zero
        i = picks[len(picks) // 2]
        s = p.offs[i][0]
        def rlen(tag, caplen=None, wirelen=None, desc=""):
            d = bytearray(data)
            if caplen is not None:
                struct.pack_into(e + "I", d, s + 8, caplen)
            if wirelen is not None:
                struct.pack_into(e + "I", d, s + 12, wirelen)
            self.emit("rlen-%s-%s" % (stem, tag), bytes(d), "%s: packet %d %s" % (sample, i + 1, desc))
        cl = p.recs[i][2]
        rlen("wirelen-lt-caplen", wirelen=cl - 1, desc="caplen > len")
        rlen("wirelen-0", wirelen=0, desc="len 0")
        rlen("caplen-plus1", caplen=cl + 1, desc="caplen one past the data")
        rlen("caplen-minus1", caplen=cl - 1, desc="caplen one short")
        for v in (262145, 1 << 24, 1 << 30, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF):
            rlen("caplen-%d" % v, caplen=v, desc="caplen %d" % v)
            rlen("caplen-%d-last" % v, caplen=v, wirelen=v, desc="caplen %d" % v)
        # a gigabyte caplen on the last record (nothing follows)
        d = bytearray(data)
        struct.pack_into(e + "I", d, p.offs[-1][0] + 8, 0x40000000)
        self.emit("rlen-%s-last-1g" % stem, bytes(d), "%s: last record caplen 1 GiB" % sample)
        # zero-length records inserted
        zero = struct.pack(e + "IIII", p.recs[i][0], p.recs[i][1], 0, 0)
        zero60 = struct.pack(e + "IIII", p.recs[i][0], p.recs[i][1], 0, 60)
        self.emit("zero-%s-mid" % stem, data[:s] + zero + data[s:], "%s: 0-byte record before packet %d" % (sample, i + 1))
        self.emit("zero-%s-mid60" % stem, data[:s] + zero60 + data[s:], "%s: caplen 0 len 60 record" % sample)
        self.emit("zero-%s-many" % stem, data[:24] + zero * 5000 + data[24:], "%s: 5000 empty records first" % sample)
        self.emit("zero-%s-only" % stem, data[:24] + zero, "%s: a single empty record" % sample)
        # timestamps: backwards, huge usec
        recs = [list(r) for r in p.recs]
        recs[i][0] = 0
        self.emit("ts-%s-zero" % stem, p.build(recs), "%s: packet %d at epoch 0" % (sample, i + 1))
        recs = [list(r) for r in p.recs]
        recs[i][1] = 0xFFFFFFFF
        self.emit("ts-%s-usec" % stem, p.build(recs), "%s: packet %d usec 4294967295" % (sample, i + 1))
        recs = [list(r) for r in p.recs]
        recs[i][0] = 0xFFFFFFFF
        self.emit("ts-%s-max" % stem, p.build(recs), "%s: packet %d sec 2^32-1" % (sample, i + 1))
        recs = list(reversed(p.recs))
        self.emit("ts-%s-reversed" % stem, p.build(recs), "%s: packets in reverse order" % sample)
        recs = p.recs + p.recs
        self.emit("dup-%s-twice" % stem, p.build(recs), "%s: every packet twice over" % sample)

    # -- L2/L3/L4 headers ------------------------------------------------
    def frame_fields(self, sample, masks=(0xFF, 0x01)):
        data = open(os.path.join(self.samples, sample), "rb").read()
        p = Pcap(data)
        stem = sample.replace(".", "_")
        for i in pick_packets(p)[:3]:
            fr = p.recs[i][4]
            t = tcp_offset(p.linktype, fr)
            end = min(len(fr), t[1] + (fr[t[1] + 12] >> 4) * 4)
            for b in range(end):
                for m in masks:
                    f = bytearray(fr)
                    f[b] ^= m
                    d = data[:p.offs[i][0] + 16] + bytes(f) + data[p.offs[i][1]:]
                    self.emit("hdr-%s-p%d-b%03d-x%02x" % (stem, i + 1, b, m), d,
                              "%s: packet %d frame byte %d ^ 0x%02x" % (sample, i + 1, b, m))

    def lying_lengths(self, sample):
        """IP and TCP header lengths and IP lengths pointing past the packet."""
        data = open(os.path.join(self.samples, sample), "rb").read()
        p = Pcap(data)
        stem = sample.replace(".", "_")
        for i in pick_packets(p):
            fr = p.recs[i][4]
            ip, tcp, ver = tcp_offset(p.linktype, fr)
            def var(tag, f, desc):
                self.emit("len-%s-p%d-%s" % (stem, i + 1, tag), p.build(set_frame(p, i, bytes(f))),
                          "%s: packet %d %s" % (sample, i + 1, desc))
            if ver == 4:
                for ihl in (0, 1, 4, 6, 15):
                    f = bytearray(fr)
                    f[ip] = (f[ip] & 0xF0) | ihl
                    var("ihl%d" % ihl, f, "IPv4 IHL %d" % ihl)
                for tl in (0, 19, 20, 39, len(fr) - ip + 1, 0xFFFF):
                    f = bytearray(fr)
                    struct.pack_into(">H", f, ip + 2, tl)
                    var("totlen%d" % tl, f, "IPv4 total length %d" % tl)
                f = bytearray(fr)
                f[ip] = 0x65
                var("ver6", f, "IPv4 packet claiming version 6")
                f = bytearray(fr)
                struct.pack_into(">H", f, ip + 6, 0x2001)   # MF + offset 1
                var("frag", f, "later IPv4 fragment")
                f = bytearray(fr)
                struct.pack_into(">H", f, ip + 6, 0x2000)   # MF, first fragment
                var("frag-first", f, "first IPv4 fragment (MF)")
            else:
                for pl in (0, 1, 19, 20, len(fr) - ip - 40 + 1, 0xFFFF):
                    f = bytearray(fr)
                    struct.pack_into(">H", f, ip + 4, pl)
                    var("plen%d" % pl, f, "IPv6 payload length %d" % pl)
                f = bytearray(fr)
                f[ip] = 0x45
                var("ver4", f, "IPv6 packet claiming version 4")
            for doff in (0, 1, 4, 15):
                f = bytearray(fr)
                f[tcp + 12] = (doff << 4) | (f[tcp + 12] & 15)
                var("doff%d" % doff, f, "TCP data offset %d" % doff)
            # TCP options that run past their header
            doff = (fr[tcp + 12] >> 4) * 4
            if doff > 20:
                for tag, opt in (("optlen0", b"\x08\x00"), ("optlen1", b"\x08\x01"),
                                 ("optlen255", b"\x08\xff"), ("sackbig", b"\x05\x22"),
                                 ("unknown", b"\xfe\x03\x00")):
                    f = bytearray(fr)
                    f[tcp + 20:tcp + 20 + len(opt)] = opt
                    var("opt-" + tag, f, "TCP option %s" % tag)
            # frame cut right inside each header (caplen shrunk, len kept)
            for cut in (ip - 1, ip + 1, ip + 19, tcp, tcp + 1, tcp + 12, tcp + 19, tcp + doff - 1):
                if 0 < cut < len(fr):
                    recs = [list(r) for r in p.recs]
                    recs[i][4] = fr[:cut]
                    recs[i][2] = cut
                    self.emit("snap-%s-p%d-%d" % (stem, i + 1, cut), p.build(recs),
                              "%s: packet %d captured to %d bytes" % (sample, i + 1, cut))

    def ipv6_ext(self, sample):
        """IPv6 extension-header chains inserted before TCP."""
        data = open(os.path.join(self.samples, sample), "rb").read()
        p = Pcap(data)
        stem = sample.replace(".", "_")
        base_race = self.first_race(sample)

        def with_ext(fr, ext_fn):
            ip, tcp, ver = tcp_offset(p.linktype, fr)
            if ver != 6:
                return fr
            ext, first = ext_fn(6)
            f = bytearray(fr[:tcp]) + ext + fr[tcp:]
            f[ip + 6] = first
            plen = struct.unpack(">H", fr[ip + 4:ip + 6])[0] + len(ext)
            struct.pack_into(">H", f, ip + 4, min(plen, 0xFFFF))
            return bytes(f)

        def chain(types, last_next=None, hlen=0):
            def fn(nh):
                out = b""
                for k, t in enumerate(types):
                    nxt = types[k + 1] if k + 1 < len(types) else (nh if last_next is None else last_next)
                    if t == 44:
                        out += bytes([nxt, 0, 0, 0, 0, 0, 0, 1])
                    elif t == 51:
                        out += bytes([nxt, 1, 0, 0]) + b"\0" * 8
                    else:
                        out += bytes([nxt, hlen]) + b"\x01\x00" * 3 + b"\0" * (8 * hlen)
                return out, types[0]
            return fn

        cases = [
            ("valid3", chain([0, 60, 44]), True, "hop-by-hop, dest opts, fragment"),
            ("valid16", chain([60] * 16), True, "16 destination-options headers"),
            ("ah-routing", chain([0, 43, 51, 60]), True, "hop-by-hop, routing, AH, dest opts"),
            ("chain17", chain([60] * 17), False, "17 extension headers (over the limit)"),
            ("chain200", chain([60] * 200), False, "200 extension headers"),
            ("loop", chain([60, 60], last_next=60), False, "dest opts whose last says dest opts again"),
            ("hbh-loop", chain([0] * 40), False, "40 hop-by-hop headers"),
            ("toolong", chain([60], hlen=255), False, "dest opts claiming 2048 bytes"),
            ("nonext", chain([60], last_next=59), False, "chain ending in No Next Header"),
            ("udp", chain([0], last_next=17), False, "chain ending in UDP"),
        ]
        for tag, fn, same, desc in cases:
            recs = [list(r) for r in p.recs]
            for r in recs:
                r[4] = with_ext(r[4], fn)
                r[2] = len(r[4])
                r[3] = len(r[4])
            # a valid chain of ext headers in every packet changes nothing:
            # every race is still found
            expect = base_race[1] if (same and base_race) else "-"
            self.emit("ip6ext-%s-%s" % (stem, tag), p.build(recs),
                      "%s: every packet with %s" % (sample, desc), expect)
        # a header running past the packet: chain on one packet, frame cut
        i = pick_packets(p)[0]
        fr = with_ext(p.recs[i][4], chain([60], hlen=3))
        ip, tcp, ver = tcp_offset(p.linktype, p.recs[i][4])
        for cut in (tcp + 1, tcp + 7, tcp + 8, tcp + 20):
            recs = [list(r) for r in p.recs]
            recs[i][4] = fr[:cut]
            recs[i][2] = cut
            recs[i][3] = len(fr)
            self.emit("ip6ext-%s-cut%d" % (stem, cut), p.build(recs),
                      "%s: packet %d extension header cut at %d" % (sample, i + 1, cut))
        # ext header length field pointing past the packet, without a cut
        f = bytearray(fr)
        f[tcp + 1] = 0xFF
        self.emit("ip6ext-%s-hlen-past" % stem, p.build(set_frame(p, i, bytes(f))),
                  "%s: packet %d ext header length past the packet" % (sample, i + 1))

    # -- pcapng -----------------------------------------------------------
    def pcapng(self, sample):
        data = open(os.path.join(self.samples, sample), "rb").read()
        stem = sample.replace(".", "_")
        blocks = pcapng_blocks(data)
        shb = data[blocks[0][1]:blocks[0][2]]
        idb_i = next(k for k, b in enumerate(blocks) if b[0] == 1)
        idb = data[blocks[idx(blocks, 1)][1]:blocks[idx(blocks, 1)][2]]
        epbs = [k for k, b in enumerate(blocks) if b[0] == 6]
        cut = blocks[epbs[min(3, len(epbs) - 1)]][1]     # before the 4th packet
        head, tail = data[:cut], data[cut:]
        race = self.first_race(sample)
        keep = race[1] if race else "-"

        def v(tag, d, desc, expect="-"):
            self.emit("ng-%s-%s" % (stem, tag), d, "%s: %s" % (sample, desc), expect)

        v("unknown-block", head + block(0x00000BAD, b"junk" * 5) + tail,
          "unknown block type in the middle", keep)
        v("custom-block", head + block(0x40000BAD, struct.pack("<I", 32473) + b"x" * 20) + tail,
          "custom block in the middle", keep)
        v("many-unknown", head + block(0x0BAD, b"") * 20000 + tail, "20000 empty unknown blocks")
        big = struct.pack("<II", 0x0BAD, 0xFFFFFFF0) + b"\0" * 64
        v("oversized-block", head + big, "unknown block claiming 4 GiB, file ends")
        v("oversized-mid", head + struct.pack("<II", 0x0BAD, 0x10000000) + tail,
          "unknown block claiming 256 MiB before packets")
        v("oversized-epb", head + struct.pack("<II", 6, 0x7FFFFFF0) + tail[8:],
          "EPB claiming 2 GiB")
        d = bytearray(data)
        s = blocks[epbs[0]][1]
        struct.pack_into("<I", d, s + 20, 0xFFFFFFF0)   # EPB captured length
        v("epb-caplen-huge", bytes(d), "EPB captured length 4 GiB")
        d = bytearray(data)
        struct.pack_into("<I", d, s + 20, 0)
        v("epb-caplen-0", bytes(d), "EPB captured length 0")
        d = bytearray(data)
        struct.pack_into("<I", d, s + 24, 0)
        v("epb-wirelen-0", bytes(d), "EPB original length 0 (caplen > len)")
        for tag, hi in (("ts-huge", 0xFFFFFFFF), ("ts-2e13s", 0x00010000)):
            d = bytearray(data)
            struct.pack_into("<I", d, s + 12, hi)     # EPB timestamp, high word
            v("epb-" + tag, bytes(d), "EPB timestamp high word 0x%08x" % hi)
        d = bytearray(data)
        struct.pack_into("<I", d, s + 8, 7)
        v("epb-ifid", bytes(d), "EPB for interface 7 (undefined)")
        d = bytearray(data)
        struct.pack_into("<I", d, s + 4, 13)
        v("blocklen-13", bytes(d), "block length not a multiple of 4")
        d = bytearray(data)
        struct.pack_into("<I", d, s + 4, 8)
        v("blocklen-8", bytes(d), "block length below the minimum")
        d = bytearray(data)
        e = blocks[epbs[0]][2]
        struct.pack_into("<I", d, e - 4, 12345)
        v("trailer-mismatch", bytes(d), "block trailing length differs")
        d = bytearray(data)
        struct.pack_into("<I", d, blocks[0][1] + 8, 0x0A0B0C0D)
        v("shb-bom", bytes(d), "SHB byte-order magic wrong")
        d = bytearray(data)
        struct.pack_into("<H", d, blocks[0][1] + 12, 2)
        v("shb-major2", bytes(d), "SHB major version 2")
        d = bytearray(data)
        struct.pack_into("<I", d, blocks[0][1] + 4, 0xFFFFFF00)
        v("shb-len-huge", bytes(d), "SHB claiming 4 GiB")
        for lt in (147, 0xFFFF, 113, 276, 101):
            d = bytearray(data)
            struct.pack_into("<H", d, blocks[idb_i][1] + 8, lt)
            v("idb-lt%d" % lt, bytes(d), "IDB link type %d" % lt)
        d = bytearray(data)
        struct.pack_into("<I", d, blocks[idb_i][1] + 12, 0)
        v("idb-snaplen0", bytes(d), "IDB snaplen 0")
        # IDB with options: if_tsresol of 0 and 127, option running past the block
        for tag, opt in (("tsresol0", struct.pack("<HHB3x", 9, 1, 0)),
                         ("tsresol127", struct.pack("<HHB3x", 9, 1, 127)),
                         ("tsresol-pow2", struct.pack("<HHB3x", 9, 1, 0xBF)),
                         ("opt-past", struct.pack("<HH", 2, 0xFFF0) + b"x" * 4),
                         ("tsoffset", struct.pack("<HHq", 14, 8, -(1 << 62)))):
            body = data[blocks[idb_i][1] + 8:blocks[idb_i][1] + 16] + opt + struct.pack("<HH", 0, 0)
            nd = data[:blocks[idb_i][1]] + block(1, body) + data[blocks[idb_i][2]:]
            v("idb-" + tag, nd, "IDB option %s" % tag)
        # a second interface and section
        v("second-idb", head + idb + tail, "second IDB mid-file", keep)
        v("second-shb", head + shb + idb + tail, "second section mid-file")
        v("shb-only", shb, "section header only")
        v("no-idb", shb + data[blocks[idb_i][2]:], "packets without an IDB")
        # SPB and obsolete packet block
        fr = data[s + 28:s + 28 + 60]
        v("spb", head + block(3, struct.pack("<I", 60) + fr) + tail, "simple packet block")
        v("spb-huge", head + block(3, struct.pack("<I", 0xFFFFFFFF) + fr) + tail,
          "simple packet block with original length 4 GiB")
        v("opb", head + block(2, struct.pack("<HHIIII", 0, 0, 0, 0, 60, 60) + fr) + tail,
          "obsolete packet block")
        # NRB / ISB / DSB with garbage
        v("nrb-garbage", head + block(4, b"\x01\x00\xff\xff" + b"\0" * 8) + tail, "name resolution block with a huge record")
        v("isb-garbage", head + block(5, struct.pack("<III", 9, 0, 0)) + tail, "interface statistics for interface 9")
        v("dsb-garbage", head + block(10, struct.pack("<II", 0x544C534B, 0xFFFFFF)) + tail, "decryption secrets longer than the block")


def idx(blocks, bt):
    return next(k for k, b in enumerate(blocks) if b[0] == bt)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = args[0]
    hangup = None
    samples = os.path.join(HERE, "..", "..", "samples")
    full = "--full" in args
    if "--hangup" in args:
        hangup = args[args.index("--hangup") + 1]
    if "--samples" in args:
        samples = args[args.index("--samples") + 1]
    os.makedirs(out, exist_ok=True)
    g = Gen(out, hangup, samples)

    pcaps = sorted(f for f in os.listdir(samples) if f.endswith(".pcap"))
    ngs = sorted(f for f in os.listdir(samples) if f.endswith(".pcapng"))
    dense = {"crossed-client.pcap", "race-any.pcap", "node-keepalive-v6.pcap"}
    for s in pcaps + ngs:
        g.truncations(s, full or s in dense or s in ngs)
    for s in (pcaps if full else ["crossed-client.pcap", "race-any.pcap"]):
        g.pcap_fields(s, every_byte=full or s == "crossed-client.pcap")
    for s in (pcaps if full else ["crossed-client.pcap", "race-any.pcap", "node-keepalive-v6.pcap"]):
        g.frame_fields(s, (0xFF, 0x01, 0x80) if full else (0xFF, 0x01))
        g.lying_lengths(s)
    for s in ["node-keepalive-v6.pcap"]:
        g.ipv6_ext(s)
    for s in (pcaps if full else ["crossed-client.pcap", "race-any.pcap"]):
        g.compressed(s)
    for s in ngs:
        g.pcapng(s)
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        for name, expect, desc in g.manifest:
            f.write("%s\t%s\t%s\n" % (name, expect, desc))
    print("%d variants in %s" % (len(g.manifest), out))


if __name__ == "__main__":
    main()
