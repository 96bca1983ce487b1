#!/usr/bin/env python3
"""Independent ground-truth oracle for the hangup sample captures.

    expect.py FILE.pcap [--show] [--servers=F] [--tls-plain=F]  >  FILE.expected

Reads a classic pcap (any byte order, micro or nano seconds) or a pcapng
file with the standard library only, decodes link (EN10MB, NULL, LOOP, RAW,
LINUX_SLL, LINUX_SLL2, NFLOG) -> the tunnels of issue 18 (VLAN, LLC/SNAP,
MPLS, PPPoE, IP-in-IP, 6in4, GRE, ERSPAN I-III, VXLAN, Geneve) -> IPv4/IPv6
(length 0 and jumbograms taking the wire's length) -> TCP, and applies docs/DESIGN.md §2.4
("request after peer FIN, then RST") per connection:

  * client = sender of the SYN; without a handshake the side that sends an
    HTTP request line; failing that the side with the higher port.
  * P = the server. fin = the server's first FIN:
        fin.seq = seq + payload length of that segment, fin.ack = its ack.
  * request = the first client segment in capture order with payload whose
    first byte S satisfies fin.ack <= S (32-bit sequence compare). It may
    come before the FIN in the file (client-side vantage of a crossing).
    A segment that is only a plaintext TLS alert record is skipped, and on a
    TLS connection a lone 24-byte application-data record (TLS 1.3's
    close_notify).  A connection is TLS when the client's stream starts with
    a TLS handshake record, or when a ClientHello (ServerHello) starts a
    client (server) segment within the first 16 KiB of its stream: a
    protocol turned to TLS mid-connection (STARTTLS, AUTH TLS, SSLRequest).
  * an RST from the server after the request (capture order) -> incident,
    unless a family incident (below) completed before that RST on the same
    connection: one incident per connection.
  * verdict: "stale" if the request carries ACK and req.ack == fin.seq + 1,
    otherwise "crossed".

Then the rest of the "socket hang up" family (samples/README.md "Other
kinds"): server-timeout, reset-before-response, client-abort, refused,
connect-timeout, truncated-response, closed-before-response, gateway-error; their lines carry a
"kind" key (the
keep-alive race lines above keep their keys and have none).

Prints one JSON object per incident (JSON Lines): the keep-alive race lines
ordered by RST packet, then the other kinds ordered by the packet that
completes each.
Packet numbers are 1-based positions in the file, as `tcpdump -n -r FILE |
nl` counts them (checked against tcpdump when it is installed).
--show prints each incident's packets as tcpdump shows them (on stderr).

--tls-plain=FILE (samples/tls, issue 20): FILE holds tshark's decryption of
the capture ("FRAME<TAB>HEX" per application-data record, tls-capture.sh
writes it with tls-plain.py). A TLS connection with decrypted records gets
the HTTP fields of plain HTTP, computed by the same parser over the
plaintext: each decrypted record is matched to a ciphertext record of its
side (record layer parsed over the reassembled stream: the records of outer
type 23 that the frame completes, in order; in TLS 1.3 the one whose length
is the plaintext's + 17 when handshake records share the frame). A message's
first packet is the one carrying the first byte of the record holding its
first byte, "done" the one completing the record holding its last byte, its
sequence number that record's. Every race line then carries "tls_decrypted"
(after "tls"): true when the lost request was decrypted; the lines of files
read without the option are unchanged.
"""
import json
import re
import shutil
import struct
import subprocess
import sys

MASK = 0xFFFFFFFF
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
           "TRACE", "PATCH")
REQ_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r?\n")


PLAIN = None      # --tls-plain: frame -> [plaintext of each application-data record]


def seq_leq(a, b):
    """a <= b in 32-bit sequence space."""
    return ((b - a) & MASK) < 0x80000000


# ---------------------------------------------------------------- file formats
def read_pcap(data):
    """Yield (linktype, time in ns, frame bytes, wire length) for each packet
    of a pcap or pcapng."""
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)
        return
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("not a pcap/pcapng file")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wire = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield (linktype, sec * 10**9 + (frac if nano else frac * 1000), data[off:off + caplen],
               wire)
        off += caplen


def read_pcapng(data):
    e = "<"
    links = []
    off = 0
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:                      # section header
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:                               # interface description
            links.append((struct.unpack(e + "H", body[:2])[0], if_tsresol(body, e)))
        elif btype == 6:                             # enhanced packet
            ifid, hi, lo, caplen, wire = struct.unpack(e + "IIIII", body[:20])
            num, den = links[ifid][1]
            yield (links[ifid][0], ((hi << 32) | lo) * num * 10**9 // den, body[20:20 + caplen],
                   wire)
        elif btype == 3:                             # simple packet (no time stamp)
            caplen = struct.unpack(e + "I", body[:4])[0]
            yield links[0][0], 0, body[4:4 + caplen], caplen
        off += blen


def if_tsresol(body, e):
    """Time stamp unit of an interface description block as (num, den)
    seconds: option if_tsresol (code 9), default 10^-6."""
    off = 8
    while off + 4 <= len(body):
        code, n = struct.unpack(e + "HH", body[off:off + 4])
        if code == 0:
            break
        if code == 9 and n >= 1:
            v = body[off + 4]
            return (1, 2 ** (v & 0x7F)) if v & 0x80 else (1, 10 ** v)
        off += 4 + n + (-n % 4)
    return (1, 10**6)


def l3(linktype, f, wire):
    """Return (network-layer bytes, their length on the wire) or None."""
    if linktype == 1:                                # Ethernet
        return ether(f, wire)
    if linktype in (0, 108):                         # NULL / LOOP
        return f[4:], wire - 4
    if linktype in (12, 14, 101):                    # RAW
        return f, wire
    if linktype == 113:                              # LINUX_SLL
        return ethertype(struct.unpack(">H", f[14:16])[0], f[16:], wire - 16)
    if linktype == 276:                              # LINUX_SLL2
        return ethertype(struct.unpack(">H", f[0:2])[0], f[20:], wire - 20)
    if linktype == 239:                              # NFLOG: TLVs up to NFULA_PAYLOAD
        off = 4
        while off + 4 <= len(f):
            le = f[off + 2] != 0
            tl, ty = struct.unpack("<HH" if le else ">HH", f[off:off + 4])
            if ty == 9:
                return f[off + 4:off + tl], tl - 4
            off += (tl + 3) & ~3
        return None
    raise SystemExit(f"unsupported link type {linktype}")


def ether(f, wire):
    off, et = 14, struct.unpack(">H", f[12:14])[0]
    while et in (0x8100, 0x88A8, 0x9100):
        et = struct.unpack(">H", f[off + 2:off + 4])[0]
        off += 4
    if et <= 1500:                                   # 802.3 length: LLC/SNAP
        llc = f[off:off + et]
        if llc[:3] != b"\xaa\xaa\x03" or llc[3:6] not in (b"\0\0\0", b"\0\0\xf8"):
            return None
        return ethertype(struct.unpack(">H", llc[6:8])[0], llc[8:], et - 8)
    return ethertype(et, f[off:], wire - off)


def ethertype(et, b, wire):
    if et in (0x0800, 0x86DD):
        return b, wire
    if et in (0x8847, 0x8848):                       # MPLS: to the bottom label
        off = 0
        while True:
            ent, = struct.unpack(">I", b[off:off + 4])
            off += 4
            if ent & 0x100:
                break
        lab = ent >> 12
        if lab in (0, 2, 3) or (b[off:off + 1] and (0x45 <= b[off] <= 0x4F or 0x60 <= b[off] <= 0x6F)):
            return b[off:], wire - off
        return None
    if et == 0x8864:                                 # PPPoE session, PPP
        if b[0] != 0x11 or b[1] != 0:
            return None
        n, = struct.unpack(">H", b[4:6])
        ppp = b[6:6 + n]
        if ppp[:2] == b"\xff\x03":
            ppp, n = ppp[2:], n - 2
        if ppp[0] & 1:
            proto, ppp, n = ppp[0], ppp[1:], n - 1
        else:
            proto, ppp, n = struct.unpack(">H", ppp[:2])[0], ppp[2:], n - 2
        return (ppp, n) if proto in (0x21, 0x57) else None
    if et == 0x6558:
        return ether(b, wire)
    return None


def tunnel(proto, b, wire):
    """The packet an IP payload of protocol `proto` carries, or None."""
    if proto in (4, 41):
        return b, wire
    if proto == 47:                                  # GRE (ERSPAN I-III)
        flags, et = struct.unpack(">HH", b[:4])
        if flags & 0x4007:
            return None
        off = 4 + 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
        if et == 0x88BE:
            off += 8 if flags & 0x1000 else 0
            return ether(b[off:], wire - off)
        if et == 0x22EB:
            off += 20 if b[off + 11] & 1 else 12
            return ether(b[off:], wire - off)
        return ethertype(et, b[off:], wire - off)
    if proto == 17:                                  # VXLAN, Geneve
        sport, dport, ulen = struct.unpack(">HHH", b[:6])
        if 4789 in (sport, dport):
            return ether(b[16:], ulen - 16)
        if 6081 in (sport, dport):
            off = 8 + 8 + (b[8] & 0x3F) * 4
            return ethertype(struct.unpack(">H", b[10:12])[0], b[off:], ulen - off)
    return None


def decode(found):
    """Return a dict describing the innermost TCP segment, or None."""
    for _ in range(64):
        if found is None:
            return None
        net, wire = found
        seg = decode_ip(net, wire)
        if seg is None or "tcp" in seg:
            break
        found = tunnel(seg["proto"], seg["payload"], seg["wire"])
    if seg is None:
        return None
    tcp, tcp_len = seg["tcp"], seg["tcp_len"]
    sport, dport, seq, ack, doff_flags = struct.unpack(">HHIIH", tcp[:14])
    doff = (doff_flags >> 12) * 4
    return {"v": seg["v"], "src": seg["src"], "dst": seg["dst"], "sport": sport, "dport": dport,
            "seq": seq, "ack": ack, "flags": doff_flags & 0x3F,
            "plen": tcp_len - doff, "payload": tcp[doff:]}


def decode_ip(net, wire):
    """An IP packet: its TCP segment ("tcp", "tcp_len"), or the payload of
    another protocol ("proto", "payload", "wire"), or None."""
    if len(net) < 1:
        return None
    v = net[0] >> 4
    if v == 4:
        ihl = (net[0] & 15) * 4
        total, = struct.unpack(">H", net[2:4])
        if total == 0:                               # TSO / BIG TCP
            total = max(wire, len(net))
        if struct.unpack(">H", net[6:8])[0] & 0x1FFF:
            return None
        src = ".".join(str(b) for b in net[12:16])
        dst = ".".join(str(b) for b in net[16:20])
        nh, body, blen = net[9], net[ihl:total], total - ihl
    elif v == 6:
        plen, = struct.unpack(">H", net[4:6])
        nh, off = net[6], 40
        if plen == 0:                                # jumbogram: the HBH option
            plen = max(wire, len(net)) - 40
            if nh == 0:
                opts, i = net[42:40 + (net[41] + 1) * 8], 0
                while i + 1 < len(opts):
                    if opts[i] == 0:
                        i += 1
                        continue
                    if opts[i] == 0xC2 and opts[i + 1] == 4:
                        plen, = struct.unpack(">I", opts[i + 2:i + 6])
                    i += 2 + opts[i + 1]
        while nh in (0, 43, 60):                     # hop-by-hop, routing, dest opts
            nh, off = net[off], off + (net[off + 1] + 1) * 8
        src = ipv6_str(net[8:24])
        dst = ipv6_str(net[24:40])
        nh, body, blen = nh, net[off:40 + plen], 40 + plen - off
    else:
        return None
    if nh == 6:
        return {"v": v, "src": src, "dst": dst, "tcp": body, "tcp_len": blen}
    return {"proto": nh, "payload": body, "wire": blen}


def ipv6_str(b):
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def tls_alert(pl, tls):
    """A segment holding only a plaintext TLS alert (TLS <= 1.2 close_notify)
    is a goodbye, not a request; on a TLS connection so is a lone
    application-data record of 19 bytes, TLS 1.3's close_notify (alert type,
    two alert bytes, 16-byte AEAD tag)."""
    if len(pl) < 5 or pl[1] != 3 or struct.unpack(">H", pl[3:5])[0] + 5 != len(pl):
        return False
    return pl[0] == 0x15 or (tls and pl[0] == 0x17 and len(pl) == 24)


def hello_at(pl, hs):
    """The segment starts a TLS handshake record holding a ClientHello (hs 1)
    or ServerHello (2): record and hello versions 3.x, plausible lengths."""
    if len(pl) < 11 or pl[0] != 22 or pl[1] != 3 or pl[2] > 4 or pl[5] != hs \
            or pl[9] != 3 or pl[10] > 4:
        return False
    reclen, hslen = struct.unpack(">H", pl[3:5])[0], int.from_bytes(pl[6:9], "big")
    return 4 <= reclen <= 16384 + 2048 and 38 <= hslen < 1 << 17


TLS_SCAN = 16384   # a mid-stream hello is looked for in each side's first bytes


def tls_start(conn, cli, srv):
    """Where the connection turned to TLS: (True, offset of the ClientHello
    in the client's stream or None) when a hello starts a segment within
    the first TLS_SCAN bytes of its sender's stream (STARTTLS, AUTH TLS,
    SSLRequest: the cleartext protocol waits for the server's go-ahead, so
    the hello starts a segment); (False, None) otherwise."""
    found, off = False, None
    for side, hs in ((cli, 1), (srv, 2)):
        _, _, base = reassemble(conn, side) or (None, None, None)
        if base is None:
            continue
        for p in conn["pkts"]:
            if p["from"] == side and p["plen"] > 0 and \
                    (p["seq"] - base) & MASK < TLS_SCAN and hello_at(p["payload"], hs):
                found = True
                if hs == 1 and off is None:
                    off = (p["seq"] - base) & MASK
                break
    return found, off


def ep(v, ip, port):
    return f"[{ip}]:{port}" if v == 6 else f"{ip}:{port}"


# ---------------------------------------------------------------- analysis
def connections(path):
    """Group TCP packets into connections; returns (conns, packet count)."""
    data = open(path, "rb").read()
    conns, current = [], {}
    n = 0
    for linktype, t, frame, wire in read_pcap(data):
        n += 1
        seg = decode(l3(linktype, frame, wire))
        if seg is None:
            continue
        a, b = (seg["src"], seg["sport"]), (seg["dst"], seg["dport"])
        key = frozenset((a, b))
        conn = current.get(key)
        pure_syn = seg["flags"] & SYN and not seg["flags"] & ACK
        if conn is None or (pure_syn and conn["closing"]):
            conn = {"v": seg["v"], "pkts": [], "syn_from": None, "closing": False}
            conns.append(conn)
            current[key] = conn
        if pure_syn and conn["syn_from"] is None:
            conn["syn_from"] = a
        if seg["flags"] & (FIN | RST):
            conn["closing"] = True
        seg["n"], seg["from"], seg["t"] = n, a, t
        conn["pkts"].append(seg)
    return conns, n


def client_of(conn):
    if conn["syn_from"]:
        return conn["syn_from"]
    for p in conn["pkts"]:
        m = REQ_LINE.match(p["payload"])
        if p["plen"] > 0 and m and m.group(1).decode() in METHODS:
            return p["from"]
    ends = {p["from"] for p in conn["pkts"]} | {(p["dst"], p["dport"]) for p in conn["pkts"]}
    return max(ends, key=lambda e: e[1])


def incidents(conns):
    out = []
    for conn in conns:
        # one incident per connection: a family incident proven before the
        # race's RST (a refusing FIN, then the client's data and its RST)
        # explains the connection; the RST is its aftermath
        explained = [n for n, _ in family_of(conn)]
        cli = client_of(conn)
        pk = conn["pkts"]
        srv = server_of(conn, cli)
        fin = next((p for p in pk if p["from"] == srv and p["flags"] & FIN), None)
        if fin is None:
            continue
        fin_seq = (fin["seq"] + fin["plen"]) & MASK
        fin_ack = fin["ack"]
        tls_conn = http_view(conn)["tls"]
        req = next((p for p in pk if p["from"] == cli and p["plen"] > 0
                    and seq_leq(fin_ack, p["seq"]) and not tls_alert(p["payload"], tls_conn)),
                   None)
        if req is None:
            continue
        rst = next((p for p in pk if p["from"] == srv and p["flags"] & RST
                    and p["n"] > req["n"]), None)
        if rst is None or any(n < rst["n"] for n in explained):
            continue
        stale = bool(req["flags"] & ACK) and req["ack"] == (fin_seq + 1) & MASK
        pl = req["payload"]
        tls = len(pl) >= 3 and 0x14 <= pl[0] <= 0x17 and pl[1] == 3
        method = target = None
        m = REQ_LINE.match(pl)
        if not tls and m and m.group(1).decode() in METHODS:
            method, target = m.group(1).decode(), m.group(2).decode("latin1")
        lost = None
        if tls and http_view(conn)["plain"]:
            lost = next((m for m in http_view(conn)["reqs"] if m["first"] is req), None)
            if lost is not None:
                method, target = lost["method"], lost["target"]
        inc = {"verdict": "stale" if stale else "crossed",
               "fin_packet": fin["n"], "request_packet": req["n"],
               "rst_packet": rst["n"], "method": method, "target": target,
               "tls": tls}
        if PLAIN is not None:
            inc["tls_decrypted"] = lost is not None
        inc.update({"ip_version": conn["v"],
                    "client": ep(conn["v"], *cli), "server": ep(conn["v"], *srv)})
        inc.update(http_fields(conn, fin, req, rst, tls, method, target, conns))
        inc.update(gap_fields(conn))
        out.append(inc)
    out.sort(key=lambda i: i["rst_packet"])
    return out


def server_of(conn, cli):
    p = conn["pkts"][0]
    return (p["dst"], p["dport"]) if p["from"] == cli else p["from"]


# ---------------------------------------------------------------- HTTP layer
# Everything below derives the HTTP fields (README "HTTP fields"): each
# direction's bytes are reassembled by sequence number, then parsed as
# HTTP/1.1 messages. Every byte remembers the first packet (capture order)
# that carried it: a message's "first packet" is the one that carried its
# first byte, it is "complete" at the packet that supplied its last missing
# byte.

def ms(ns):
    return round(ns / 1e6, 3)


def reassemble(conn, side):
    """Bytes sent by `side`, in sequence order, from the start of the stream
    (SYN + 1, or the lowest sequence number seen without a SYN) up to the
    first hole. Returns (bytes, per-byte first packet, base seq)."""
    pk = [p for p in conn["pkts"] if p["from"] == side]
    syn = next((p for p in pk if p["flags"] & SYN), None)
    data = [p for p in pk if p["plen"] > 0 and not p["flags"] & SYN]
    if syn is not None:
        base = (syn["seq"] + 1) & MASK
    elif data:
        base = data[0]["seq"]
        for p in data:
            d = (p["seq"] - base) & MASK
            if d >= 0x80000000:                      # before the current base
                base = p["seq"]
    else:
        return b"", [], None
    buf, owner = bytearray(), []
    for p in data:
        off = (p["seq"] - base) & MASK
        if off >= 0x80000000:                        # before the SYN: ignore
            continue
        pl = p["payload"][:p["plen"]]
        end = off + len(pl)
        if end > len(buf):
            buf.extend(b"\0" * (end - len(buf)))
            owner.extend([None] * (end - len(owner)))
        for i in range(off, end):
            if owner[i] is None:
                owner[i] = p
                buf[i] = pl[i - off]
    n = next((i for i, o in enumerate(owner) if o is None), len(owner))
    return bytes(buf[:n]), owner[:n], base


def parse_headers(block):
    """Header lines (complete lines only) -> list of (lower name, value).
    An obs-fold line (leading SP or HT) goes on the previous header's
    value after one SP (RFC 9112 5.2)."""
    out = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if out:
                k, v = out[-1]
                out[-1] = (k, (v + " " + line.strip().decode("latin1")).strip())
        elif b":" in line:
            k, v = line.split(b":", 1)
            out.append((k.strip().lower().decode("latin1"), v.strip().decode("latin1")))
    return out


VERSION_WORD = re.compile(rb"^HTTP/(\d*)(?:\.(\d*))?$")


def request_line(line):
    """A request line as the servers that answer them read it: a method,
    spaces, then a target and a version word ("HTTP/", digits, maybe "."
    and digits: "HTTP/1." is 1.0), a version word alone (missing target),
    or a target alone (HTTP/0.9).  -> (method, target, version or None,
    (major, minor)) or None.  HTTP/0.9 is "GET /path" only."""
    method, sp, rest = line.partition(b" ")
    if not sp or not re.match(rb"^[A-Z]+$", method) or method.decode() not in METHODS:
        return None
    rest = rest.strip(b" \t")
    if not rest:
        return None
    words = rest.rsplit(b" ", 1)
    m = VERSION_WORD.match(words[-1])
    if m is None:                                     # HTTP/0.9 knew GET /path only
        if method != b"GET" or not rest.startswith(b"/"):
            return None
        return method.decode(), rest.decode("latin1"), None, (0, 9)
    target = words[0].strip(b" ") if len(words) == 2 else b""
    vnum = (int(m.group(1) or 0), int(m.group(2) or 0))
    return method.decode(), target.decode("latin1"), words[-1].decode("latin1"), vnum


def list_values(hdrs, name):
    """Every element of every `name` header, as one comma-separated list
    (empty elements dropped); None when there is no such header."""
    vals = [v for k, v in hdrs if k == name]
    if not vals:
        return None
    return [e.strip() for v in vals for e in v.split(",") if e.strip()]


def framing(hdrs):
    """(chunked, length, valid) by RFC 9112 6.3: Transfer-Encoding wins
    (chunked only as the last coding); Content-Length is one number, its
    list elements all equal, leading zeros allowed, below 2^63."""
    te = list_values(hdrs, "transfer-encoding")
    if te is not None:
        return bool(te) and te[-1].lower() == "chunked", None, bool(te) and \
            te[-1].lower() == "chunked"
    cl = list_values(hdrs, "content-length")
    if cl is None:
        return False, None, True
    if not cl or any(not e.isdigit() for e in cl) or len({int(e) for e in cl}) != 1 or \
            int(cl[0]) >= 2 ** 63:
        return False, None, False
    return False, int(cl[0]), True


def header(hdrs, name):
    vals = [v for k, v in hdrs if k == name]
    return vals[-1] if vals else None


def chunked_end(buf, o):
    """End offset of a chunked body starting at o, or None if incomplete."""
    while True:
        eol = buf.find(b"\r\n", o)
        if eol < 0:
            return None
        try:
            size = int(buf[o:eol].split(b";")[0].strip(), 16)
        except ValueError:
            return None
        o = eol + 2
        if size == 0:                                # trailers, then CRLF
            while True:
                eol = buf.find(b"\r\n", o)
                if eol < 0:
                    return None
                if eol == o:
                    return o + 2
                o = eol + 2
        o += size + 2
        if o > len(buf):
            return None


STATUS_LINE = re.compile(rb"^HTTP/(\d+(?:\.\d*)?) (\d\d\d)(?: |\r|$)")


def parse_stream(buf, is_request, req_methods=(), closed=False):
    """Parse HTTP/1.x messages from the start of buf. Returns dicts with
    start, end (None when incomplete), version, headers, and method/target
    (requests) or status (responses). A message whose header block is cut
    off keeps the complete header lines it has. `closed`: the sender's FIN
    ends the stream (a response without length is complete then)."""
    msgs, o, finals = [], 0, 0
    while o < len(buf):
        head_end = buf.find(b"\r\n\r\n", o)
        block = buf[o:head_end if head_end >= 0 else len(buf)]
        first = block.split(b"\r\n", 1)[0]
        msg = {"start": o, "end": None}
        simple = False
        if is_request:
            eol = buf.find(b"\r\n", o)
            rl = request_line(first)
            if rl is None or (eol < 0 and rl[2] is None):
                break                                 # a line cut before its version
            msg["method"], msg["target"], version, msg["vnum"] = rl
            msg["version"] = version or "HTTP/0.9"
            simple = version is None
        elif finals < len(req_methods) and req_methods[finals] is None and \
                not STATUS_LINE.match(block):
            # the answer to an HTTP/0.9 request: raw, until the close
            msg.update(version="HTTP/0.9", vnum=(0, 9), status=200, headers=[], simple=True,
                       body=o, end=len(buf) if closed else None)
            msgs.append(msg)
            break
        else:
            m = STATUS_LINE.match(block)
            if not m:
                break
            msg["version"] = "HTTP/" + m.group(1).decode()
            msg["vnum"] = tuple(int(x or 0) for x in (m.group(1).split(b".") + [b""])[:2])
            msg["status"] = int(m.group(2))
        if simple:
            # HTTP/0.9: no headers, nothing follows on the connection
            msg.update(headers=[], body=eol + 2, end=eol + 2, simple=True)
            msgs.append(msg)
            break
        msg["headers"] = parse_headers(block.split(b"\r\n", 1)[1] if b"\r\n" in block else b"")
        msgs.append(msg)
        if head_end < 0:
            break
        body = head_end + 4
        msg["body"] = body
        chunked, length, valid = framing(msg["headers"])
        tunnel = not is_request and finals < len(req_methods) and \
            req_methods[finals] == "CONNECT" and 200 <= msg["status"] < 300
        if tunnel:
            msg["end"] = body                         # a tunnel follows: no more HTTP
            break
        if not is_request and (100 <= msg["status"] < 200):
            end = body                                # interim: no body
        elif not is_request and (msg["status"] in (204, 304) or
                                 (finals < len(req_methods) and req_methods[finals] == "HEAD")):
            end = body
        elif not valid:
            # a request: counted, its body cannot be framed; a response
            # with an invalid length: discarded; a response whose last
            # coding is not chunked: read until the close
            te = header(msg["headers"], "transfer-encoding")
            end = len(buf) if closed and not is_request and te is not None else None
            if end is None:
                break
        elif chunked:
            end = chunked_end(buf, body)
        elif length is not None:
            end = body + length
            if end > len(buf):
                end = None
        elif is_request:
            end = body
        else:                                         # read until close
            end = len(buf) if closed else None
        if not is_request and msg["status"] >= 200:
            finals += 1
        if end is None:
            break
        msg["end"] = end
        o = end
    return msgs


def closes(msg):
    """The message announces the connection's end: Connection: close,
    HTTP/0.9, or version 1.0 ("HTTP/1.0", "HTTP/1.") without Connection:
    keep-alive."""
    tokens = {t.strip().lower() for k, v in msg["headers"] if k == "connection"
              for t in v.split(",")}
    return "close" in tokens or msg.get("simple", False) or \
        (msg["vnum"] == (1, 0) and "keep-alive" not in tokens)


def keepalive_timeout(msg):
    v = header(msg["headers"], "keep-alive")
    if v is None:
        return None
    for part in v.split(","):
        k, _, n = part.strip().partition("=")
        if k.strip().lower() == "timeout" and n.strip().isdigit():
            return int(n.strip())
    return None


def client_hello_sni(buf):
    """Server name from a TLS ClientHello at the start of buf, or None."""
    hs, o = b"", 0
    while o + 5 <= len(buf) and buf[o] == 22 and buf[o + 1] == 3:
        n = struct.unpack(">H", buf[o + 3:o + 5])[0]
        hs += buf[o + 5:o + 5 + n]
        o += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            break
    if len(hs) < 4 or hs[0] != 1:
        return None
    try:
        p = 4 + 2 + 32                                # type+len, version, random
        p += 1 + hs[p]                                # session id
        p += 2 + struct.unpack(">H", hs[p:p + 2])[0]  # cipher suites
        p += 1 + hs[p]                                # compression
        ext_end = p + 2 + struct.unpack(">H", hs[p:p + 2])[0]
        p += 2
        while p + 4 <= ext_end:
            et, el = struct.unpack(">HH", hs[p:p + 4])
            if et == 0:                               # server_name
                q = p + 4 + 2
                while q + 3 <= p + 4 + el:
                    nt, nl = hs[q], struct.unpack(">H", hs[q + 1:q + 3])[0]
                    if nt == 0:
                        return hs[q + 3:q + 3 + nl].decode("ascii", "replace")
                    q += 3 + nl
            p += 4 + el
    except (IndexError, struct.error):
        return None
    return None


def http_view(conn):
    """Per connection (cached): client/server ends, parsed requests and
    responses with first/complete packets, server FIN, TLS, SNI."""
    if "view" in conn:
        return conn["view"]
    cli = client_of(conn)
    srv = server_of(conn, cli)
    pk = conn["pkts"]
    fin = next((p for p in pk if p["from"] == srv and p["flags"] & FIN), None)
    cbuf, cown, cbase = reassemble(conn, cli)
    sbuf, sown, sbase = reassemble(conn, srv)
    tls = len(cbuf) >= 3 and cbuf[0] == 0x16 and cbuf[1] == 3
    hello_off = 0 if tls else None
    if not tls:
        tls, hello_off = tls_start(conn, cli, srv)   # turned to TLS mid-stream
    plain = None
    if tls and PLAIN is not None and hello_off == 0:
        plain = (decrypted(conn, cli, cbuf, cown, cbase), decrypted(conn, srv, sbuf, sown, sbase))
        if not plain[0][0]:
            plain = None
    reqs = parse_stream(plain[0][0], True) if plain else [] if tls else parse_stream(cbuf, True)
    # the server's bytes end at its FIN only if the FIN follows them directly
    sclosed = fin is not None and sbase is not None and \
        (fin["seq"] + fin["plen"] - sbase) & MASK == len(sbuf)
    methods = [None if r.get("simple") else r["method"] for r in reqs]
    resps = parse_stream(plain[1][0], False, methods, sclosed) if plain else \
        [] if tls else parse_stream(sbuf, False, methods, sclosed)
    if plain:
        for msgs, (_, first, done, seqs) in ((reqs, plain[0]), (resps, plain[1])):
            for m in msgs:
                m["first"], m["seq"] = first[m["start"]], seqs[m["start"]]
                if m["end"] is not None:
                    m["done"] = max((done[i] for i in range(m["start"], m["end"])),
                                    key=lambda p: p["n"], default=m["first"])
    for msgs, own in (() if plain else ((reqs, cown), (resps, sown))):
        for m in msgs:
            m["first"] = own[m["start"]]
            if m["end"] is not None:
                m["done"] = max((own[i] for i in range(m["start"], m["end"])),
                                key=lambda p: p["n"], default=m["first"])
                if m["end"] == len(sbuf) and own is sown and sclosed and \
                        m.get("status", 0) >= 200 and header(m["headers"], "content-length") is None \
                        and "chunked" not in (header(m["headers"], "transfer-encoding") or ""):
                    m["done"] = fin if fin["n"] > m["done"]["n"] else m["done"]
    finals = [r for r in resps if r["status"] >= 200]
    syn = next((p for p in pk if p["from"] == cli and p["flags"] & SYN and not p["flags"] & ACK), None)
    rtt = None
    if syn is not None:
        sa = next((p for p in pk if p["from"] == srv and p["flags"] & SYN and p["flags"] & ACK
                   and p["n"] > syn["n"]), None)
        if sa is not None:
            a3 = next((p for p in pk if p["from"] == cli and p["flags"] & ACK
                       and not p["flags"] & SYN and p["n"] > sa["n"]), None)
            if a3 is not None:
                rtt = a3["t"] - syn["t"]
    v = {"cli": cli, "srv": srv, "fin": fin, "tls": tls, "plain": plain is not None,
         "reqs": reqs, "resps": resps,
         "creq_buf": cbuf, "sresp_buf": sbuf,
         "finals": finals, "cbase": cbase, "sbase": sbase, "rtt": rtt,
         "sni": client_hello_sni(cbuf[hello_off:]) if hello_off is not None else None,
         "server": ep(conn["v"], *srv), "client_ip": cli[0]}
    conn["view"] = v
    return v


def decrypted(conn, side, buf, own, base):
    """The side's decrypted application data (--tls-plain) and, per
    plaintext byte, the packet carrying the first byte of its record, the
    packet completing the record, and the record's sequence number."""
    recs, o = [], 0                                  # ciphertext records: (type, start, end)
    while o + 5 <= len(buf):
        end = o + 5 + struct.unpack(">H", buf[o + 3:o + 5])[0]
        if end > len(buf):
            break
        recs.append((buf[o], o, end))
        o = end
    by_frame = {}
    for r in recs:
        if r[0] == 23:
            by_frame.setdefault(own[r[2] - 1]["n"], []).append(r)
    data, first, done, seqs = bytearray(), [], [], []
    for p in conn["pkts"]:
        if p["from"] != side or p["n"] not in PLAIN:
            continue
        cands, recs_here = by_frame.get(p["n"], []), PLAIN[p["n"]]
        for pt in recs_here:
            if len(cands) > len(recs_here) - recs_here.index(pt):
                # TLS 1.3 handshake records share the frame: the AEAD record
                # of this plaintext is 17 bytes longer (type byte + tag)
                r = next((c for c in cands if c[2] - c[1] - 5 == len(pt) + 17), cands[0])
            else:
                r = cands[0]
            cands = cands[cands.index(r) + 1:]
            data.extend(pt)
            first.extend([own[r[1]]] * len(pt))
            done.extend([own[r[2] - 1]] * len(pt))
            seqs.extend([(base + r[1]) & MASK] * len(pt))
    return bytes(data), first, done, seqs


def before_fin(v, msg, is_request):
    """The message was sent before the server's FIN in sequence space:
    a request whose first byte is below fin.ack (the server had it when it
    closed), a response whose first byte is below the FIN's sequence."""
    fin = v["fin"]
    if is_request:
        seq = msg["seq"] if v["plain"] else (v["cbase"] + msg["start"]) & MASK
        return seq != fin["ack"] and seq_leq(seq, fin["ack"])
    fseq = (fin["seq"] + fin["plen"]) & MASK
    seq = msg["seq"] if v["plain"] else (v["sbase"] + msg["start"]) & MASK
    return seq != fseq and seq_leq(seq, fseq)


def close_announced(v):
    return any(closes(m) for m in v["reqs"] if before_fin(v, m, True)) or \
        any(closes(m) for m in v["resps"] if before_fin(v, m, False))


def last_payload_before(conn, n, side=None):
    """Time of the last packet with payload before packet number n."""
    t = None
    for p in conn["pkts"]:
        if p["n"] >= n:
            break
        if p["plen"] > 0 and (side is None or p["from"] == side):
            t = p["t"]
    return t


def idle_close(conn):
    """Delay (ns) of the connection's server idle close, or None."""
    v = http_view(conn)
    fin = v["fin"]
    if fin is None or fin["plen"] > 0 or (v["tls"] and not v["plain"]):
        return None
    # a FIN answering the client's own FIN is not an idle close: the FIN's
    # ack covers the client's FIN (sequence compare, any vantage)
    cfin = next((p for p in conn["pkts"] if p["from"] == v["cli"] and p["flags"] & FIN), None)
    if cfin is not None and fin["flags"] & ACK and \
            seq_leq((cfin["seq"] + cfin["plen"] + 1) & MASK, fin["ack"]):
        return None
    received = [m for m in v["reqs"] if before_fin(v, m, True)]
    answered = [r for r in v["finals"] if r["end"] is not None and r.get("done")
                and r["done"]["n"] <= fin["n"] and before_fin(v, r, False)]
    if not answered or len(answered) < len(received) or close_announced(v):
        return None
    t = last_payload_before(conn, fin["n"], v["srv"])
    return None if t is None else fin["t"] - t


def http_fields(conn, fin, req, rst, tls, method, target, conns):
    v = http_view(conn)
    lost = next((m for m in v["reqs"] if m["first"] is req or
                 (m["seq"] if v["plain"] else (v["cbase"] + m["start"]) & MASK) == req["seq"]),
                None)
    last = last_payload_before(conn, req["n"])
    srv_last = last_payload_before(conn, fin["n"], v["srv"])
    hint = None
    for r in v["resps"]:
        if r["first"]["n"] < req["n"] and keepalive_timeout(r) is not None:
            hint = keepalive_timeout(r)
    retry = None
    if (not tls or v["plain"]) and method is not None:
        for other in conns:
            if other is conn:
                continue
            ov = http_view(other)
            if ov["client_ip"] != v["client_ip"] or ov["server"] != v["server"]:
                continue
            for m in ov["reqs"]:
                t = m["first"]["t"]
                if m["method"] == method and m["target"] == target and \
                        rst["t"] < t <= rst["t"] + 10 * 10**9 and (retry is None or t < retry):
                    retry = t
    cl = header(lost["headers"], "content-length") if lost else None
    return {
        "host": header(lost["headers"], "host") if lost else None,
        "http_version": lost["version"] if lost and lost["version"] in ("HTTP/1.1", "HTTP/1.0") else None,
        "content_length": int(cl) if cl is not None and cl.isdigit() else None,
        "requests_before": None if tls and not v["plain"] else
            sum(1 for r in v["finals"] if r.get("done") and r["done"]["n"] < req["n"]),
        "idle_ms": ms(req["t"] - last) if last is not None else None,
        "server_idle_close_ms": ms(fin["t"] - srv_last) if srv_last is not None else None,
        "close_announced": close_announced(v),
        "keepalive_hint_s": hint,
        "sni": v["sni"],
        "retried": retry is not None,
        "retry_delay_ms": ms(retry - rst["t"]) if retry is not None else None,
    }



# ---------------------------------------------------------------- the rest of the family
# docs/DESIGN.md §2.6, "the rest of the family"; README
# "Other kinds" gives the exact rules. One function per kind, each returns
# (sort packet, line) pairs; lines carry exactly FAMILY_KEYS + the kind's own
# fields.
FAMILY_KEYS = ("kind", "client", "server", "ip_version", "request_packet",
               "fin_packet", "rst_packet", "method", "target")
HINTS = ((120000, "node server.timeout 120 s"),
         (60000, "node headersTimeout 60 s or a proxy's read timeout 60 s"),
         (300000, "node requestTimeout 300 s"))


def family_line(kind, conn, req_pkt, fin=None, rst=None, msg=None, **extra):
    v = http_view(conn)
    line = {"kind": kind, "client": ep(conn["v"], *v["cli"]), "server": v["server"],
            "ip_version": conn["v"], "request_packet": req_pkt["n"],
            "fin_packet": fin["n"] if fin else None, "rst_packet": rst["n"] if rst else None,
            "method": msg["method"] if msg else None, "target": msg["target"] if msg else None}
    line.update(extra)
    return line


def timeout_hint(wait_ms):
    for ref, text in HINTS:
        if abs(wait_ms - ref) <= 0.05 * ref:
            return text
    return None


def handshake_kinds(conn):
    """refused / connect-timeout: a connection that never got a SYN-ACK."""
    v = http_view(conn)
    pk = conn["pkts"]
    syns = [p for p in pk if p["from"] == v["cli"] and p["flags"] & SYN and not p["flags"] & ACK]
    if not syns or any(p["from"] == v["srv"] and p["flags"] & SYN and p["flags"] & ACK for p in pk):
        return []
    first = syns[0]
    rst = next((p for p in pk if p["from"] == v["srv"] and p["flags"] & RST
                and p["flags"] & ACK and p["ack"] == (first["seq"] + 1) & MASK), None)
    if rst is not None:
        return [(rst["n"], family_line("refused", conn, first, rst=rst))]
    tries = [p for p in syns if p["seq"] == first["seq"]]
    if len(tries) >= 2 and not any(p["from"] == v["srv"] and p["flags"] & RST for p in pk):
        return [(tries[-1]["n"], family_line("connect-timeout", conn, first, tries=len(tries),
                                             spent_ms=ms(tries[-1]["t"] - first["t"])))]
    return []


def req_last_seq(v, m):
    """Sequence number just past the request's last byte (as far as seen)."""
    end = m["end"] if m["end"] is not None else len(v["creq_buf"])
    return (v["cbase"] + end) & MASK


HALF_CLOSE_MIN_NS = 20 * 10**6


def client_gave_up(conn, v, close):
    """The client's close (its first FIN or RST) gave up waiting for an
    answer: an RST always; a FIN only when it came more than one round trip
    (the handshake's, at least 20 ms) after the client's last payload packet
    at or before it. Sooner, the FIN was sent with the request: a half-close
    (shutdown(SHUT_WR) after the write), before any answer could come."""
    if close["flags"] & RST:
        return True
    window = max(v["rtt"] or 0, HALF_CLOSE_MIN_NS)
    last = max((p["t"] for p in conn["pkts"]
                if p["from"] == v["cli"] and p["plen"] > 0 and p["n"] <= close["n"]), default=None)
    return last is None or close["t"] - last > window


def client_close(conn, v):
    """The client's first FIN or RST, or None."""
    return next((p for p in conn["pkts"] if p["from"] == v["cli"] and p["flags"] & (FIN | RST)),
                None)


def fin_took_everything(conn, v, fin):
    """The server's FIN has ACK and acknowledges every byte the client sent
    before it (the highest sequence end of the client's payload packets
    before the FIN), and the client sent no RST before it and no FIN but a
    half-close."""
    pk, cli = conn["pkts"], v["cli"]
    before = [p for p in pk if p["from"] == cli and p["n"] < fin["n"]]
    if not fin["flags"] & ACK or any(p["flags"] & RST for p in before):
        return False
    cfin = next((p for p in before if p["flags"] & FIN), None)
    if cfin is not None and client_gave_up(conn, v, cfin):
        return False
    ends = [(p["seq"] + p["plen"]) & MASK for p in before if p["plen"] > 0]
    return all(seq_leq(e, fin["ack"]) for e in ends)


def server_silent_kinds(conn):
    """server-timeout / reset-before-response / closed-before-response: a
    request the server ACKed and never answered (no server payload after
    its first packet), then the server closed: its first FIN, or its first
    RST when no FIN came first. Not after the client gave up: the server's
    close is then that abort's aftermath."""
    v = http_view(conn)
    pk, srv = conn["pkts"], v["srv"]
    fin = v["fin"]
    rst = next((p for p in pk if p["from"] == srv and p["flags"] & RST), None)
    close = fin if fin is not None else rst
    if close is None:
        return []
    cclose = client_close(conn, v)
    if cclose is not None and cclose["n"] < close["n"] and client_gave_up(conn, v, cclose):
        return []
    for m in v["reqs"]:
        first = m["first"]
        if close["n"] <= first["n"]:
            continue
        if any(p["from"] == srv and p["plen"] > 0 and p["n"] > first["n"] for p in pk):
            continue
        wait = close["t"] - first["t"]
        # a quick FIN that took all the client had sent (the rest of the
        # request may follow it: the server refused on the headers)
        if fin is not None and wait < 10**9 and fin_took_everything(conn, v, fin):
            return [(fin["n"], family_line("closed-before-response", conn, first, fin=fin, msg=m,
                                           wait_ms=ms(wait), close="fin"))]
        nxt = req_last_seq(v, m)
        if not any(p["from"] == srv and p["flags"] & ACK and seq_leq(nxt, p["ack"]) for p in pk):
            continue
        if wait >= 10**9:
            w = ms(wait)
            return [(close["n"], family_line(
                "server-timeout", conn, first, fin=fin, rst=None if fin else rst, msg=m,
                wait_ms=w, close="fin" if fin else "rst", timeout_hint=timeout_hint(w)))]
        if fin is None:
            return [(rst["n"], family_line("reset-before-response", conn, first, rst=rst, msg=m))]
        return []
    return []


def response_done_before(v, i, n):
    """The final response to request i is complete before packet n."""
    if i >= len(v["finals"]):
        return False
    r = v["finals"][i]
    return r["end"] is not None and r.get("done") is not None and r["done"]["n"] < n


def all_answered(v):
    """Every request of the connection has a complete final response."""
    done = [r for r in v["finals"] if r["end"] is not None]
    return len(done) >= len(v["reqs"])


def client_abort(conn):
    """client-abort: the client gave up waiting. Its first FIN or RST while
    a request of its has no complete final response, the server not having
    closed first (no server FIN/RST before it in the file, and its ack does
    not cover a server FIN): a client reacting to the server's close is not
    aborting. An RST is an abort, and so is a FIN whose host then resets
    the late response. Otherwise a FIN only ends the client's sending: a
    half-close sent with the request (client_gave_up) is no abort, and a
    FIN after which every request got its whole response (a close-delimited
    body ends at the server's FIN) was answered."""
    v = http_view(conn)
    pk, cli, srv = conn["pkts"], v["cli"], v["srv"]
    close = client_close(conn, v)
    if close is None:
        return []
    if any(p["from"] == srv and p["flags"] & (FIN | RST) and p["n"] < close["n"] for p in pk):
        return []
    fin = v["fin"]
    if fin is not None and close["flags"] & ACK and \
            seq_leq((fin["seq"] + fin["plen"] + 1) & MASK, close["ack"]):
        return []
    for i, m in enumerate(v["reqs"]):
        if m["first"]["n"] >= close["n"] or response_done_before(v, i, close["n"]):
            continue
        late = next((p for p in pk if p["from"] == srv and p["plen"] > 0 and p["n"] > close["n"]), None)
        late_rst = late is not None and any(p["from"] == cli and p["flags"] & RST and p["n"] > late["n"]
                                            for p in pk)
        crst = next((p for p in pk if p["from"] == cli and p["flags"] & RST and p["n"] >= close["n"]), None)
        is_fin = not close["flags"] & RST
        if is_fin and not late_rst and (not client_gave_up(conn, v, close) or all_answered(v)):
            return []
        return [(close["n"], family_line(
            "client-abort", conn, m["first"], fin=close if is_fin else None, rst=crst, msg=m,
            abort="fin" if is_fin else "rst", late_response_rst=late_rst,
            late_response_packet=late["n"] if late_rst else None))]
    return []


def truncated_response(conn):
    """truncated-response: the server's first FIN or RST comes while a
    response with Content-Length or chunked encoding has its header block
    but not its whole body."""
    v = http_view(conn)
    pk, srv = conn["pkts"], v["srv"]
    close = next((p for p in pk if p["from"] == srv and p["flags"] & (FIN | RST)), None)
    if close is None:
        return []
    sent = [r for r in v["resps"] if r["first"]["n"] < close["n"]]
    if not sent or sent[-1]["end"] is not None or "body" not in sent[-1]:
        return []
    r = sent[-1]
    te = (header(r["headers"], "transfer-encoding") or "").lower()
    cl = header(r["headers"], "content-length")
    if "chunked" in te:
        expected = None
    elif cl is not None and cl.isdigit():
        expected = int(cl)
    else:
        return []
    finals = [x for x in v["resps"] if x["status"] >= 200]
    i = next((k for k, x in enumerate(finals) if x is r), None)
    m = v["reqs"][i] if i is not None and i < len(v["reqs"]) else None
    is_fin = not close["flags"] & RST
    return [(close["n"], family_line(
        "truncated-response", conn, m["first"] if m else r["first"],
        fin=close if is_fin else None, rst=None if is_fin else close, msg=m,
        close="fin" if is_fin else "rst", expected_bytes=expected,
        received_bytes=len(v["sresp_buf"]) - r["body"]))]


def gateway_error(conn):
    """gateway-error: a final response with status 502, 503 or 504 (a
    proxy's or load balancer's own answer that its upstream failed), to
    the request in the same position among the connection's requests; its
    packet is the one carrying the end of its header block."""
    v = http_view(conn)
    _, sown, _ = reassemble(conn, v["srv"])
    out = []
    for i, r in enumerate(v["finals"]):
        if r["status"] not in (502, 503, 504) or "body" not in r or i >= len(v["reqs"]):
            continue
        m = v["reqs"][i]
        head = sown[r["body"] - 1]
        out.append((head["n"], family_line("gateway-error", conn, m["first"], msg=m,
                                           status=r["status"], response_packet=head["n"],
                                           wait_ms=ms(head["t"] - m["first"]["t"]))))
    return out


# ---------------------------------------------------------------- capture gaps
# docs/DESIGN.md §2.13: sequence space of one side that the peer
# acknowledged and that no captured packet of that side carried.

def side_gaps(conn, side):
    """[(start, end)] of `side`'s capture gaps, in stream order: within the
    side's stream (from its first captured sequence number, or the peer's
    first acknowledgement when that came first) up to the peer's highest
    acknowledgement, the ranges no captured packet covers (payload bytes
    the snapshot kept, SYN and FIN sequence numbers)."""
    pk = conn["pkts"]
    mine = [p for p in pk if p["from"] == side]
    acks = [p for p in pk if p["from"] != side and p["flags"] & ACK]
    if not acks:
        return []
    if mine and mine[0]["n"] < acks[0]["n"]:
        start = mine[0]["seq"]
    else:
        start = acks[0]["ack"]
    top = max(((p["ack"] - start) & MASK for p in acks if (p["ack"] - start) & MASK < 0x40000000),
              default=0)
    covered = []
    for p in mine:
        s = (p["seq"] - start) & MASK
        if s >= 0x80000000:
            continue
        if p["flags"] & SYN:
            covered.append((s, s + 1))
            s += 1
        covered.append((s, s + min(len(p["payload"]), p["plen"])))
        if p["flags"] & FIN:
            covered.append((s + p["plen"], s + p["plen"] + 1))
    covered.sort()
    out, at = [], 0
    for a, b in covered:
        if a > at and at < top:
            out.append((at, min(a, top)))
        at = max(at, b)
    if at < top:
        out.append((at, top))
    return [((start + a) & MASK, (start + b) & MASK) for a, b in out if b > a]


def one_sided(conn):
    """The role whose packets alone the capture holds, when that side's
    acknowledgements show the other exists; else None."""
    v = http_view(conn)
    sides = {p["from"] for p in conn["pkts"]}
    if len(sides) != 1 or not any(p["flags"] & ACK for p in conn["pkts"]):
        return None
    return "client" if v["cli"] in sides else "server"


def gap_fields(conn):
    """What an incident line says of its connection's capture gaps (only
    when it has any, or is one-sided)."""
    v = http_view(conn)
    g = side_gaps(conn, v["cli"]) + side_gaps(conn, v["srv"])
    out = {}
    if g:
        out["capture_gaps"] = len(g)
        out["capture_gap_bytes"] = sum((b - a) & MASK for a, b in g)
    if one_sided(conn):
        out["one_sided"] = one_sided(conn)
    return out


def response_in_gap(conn, req):
    """The client acknowledged server bytes from the request's position on
    (its ack) that the capture does not hold: a response or a FIN."""
    v = http_view(conn)
    pos = req["ack"]
    return any(((b - pos) & MASK) - 1 < 0x7FFFFFFF for _, b in side_gaps(conn, v["srv"]))


# Kinds the client's acknowledgement of uncaptured server bytes contradicts
SERVER_SILENT = ("server-timeout", "reset-before-response", "closed-before-response",
                 "truncated-response", "client-abort")


def family_of(conn):
    """(completing packet, line) of one connection's family incidents,
    less those the acknowledgements contradict: a client that acknowledged
    a SYN-ACK was not refused and did not time out; server bytes since the
    request that the client acknowledged and the capture lacks were a
    response (or a close) delivered."""
    if "family" in conn:
        return conn["family"]
    v = http_view(conn)
    if v["tls"]:
        found = handshake_kinds(conn)
    else:
        found = []
        for fn in (handshake_kinds, server_silent_kinds, client_abort, truncated_response,
                   gateway_error):
            found += fn(conn)
    client_acked = any(p["from"] == v["cli"] and p["flags"] & ACK for p in conn["pkts"])
    out = []
    for n, line in found:
        if line["kind"] in ("refused", "connect-timeout") and client_acked:
            continue
        req = next(p for p in conn["pkts"] if p["n"] == line["request_packet"])
        if line["kind"] in SERVER_SILENT and response_in_gap(conn, req):
            continue
        line.update(gap_fields(conn))
        out.append((n, line))
    conn["family"] = out
    return out


def family(conns):
    out = []
    for conn in conns:
        out += family_of(conn)
    out.sort(key=lambda x: x[0])
    return [line for _, line in out]


def median(xs):
    xs = sorted(xs)
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def servers(conns, incs):
    """One summary per server endpoint (README "Server lines")."""
    by = {}
    for conn in conns:
        v = http_view(conn)
        s = by.setdefault(v["server"], {"conns": [], "closes": [], "reuse": [], "rtt": []})
        s["conns"].append(conn)
        d = idle_close(conn)
        if d is not None:
            s["closes"].append(d)
        if v["rtt"] is not None:
            s["rtt"].append(v["rtt"])
        for m in v["reqs"][1:]:
            t = last_payload_before(conn, m["first"]["n"])
            if t is not None:
                s["reuse"].append(m["first"]["t"] - t)
    out = []
    for name in sorted(by):
        s = by[name]
        idle = ms(median(s["closes"])) if s["closes"] else None
        reuse = ms(max(s["reuse"])) if s["reuse"] else None
        rtt = ms(median(s["rtt"])) if s["rtt"] else 0.0
        out.append({
            "server": name,
            "connections": len(s["conns"]),
            "requests": sum(len(http_view(c)["reqs"]) for c in s["conns"]),
            "idle_closes": len(s["closes"]),
            "incidents": sum(1 for i in incs if i["server"] == name),
            "idle_timeout_ms": idle,
            "idle_timeout_spread_ms": ms(max(s["closes"]) - min(s["closes"])) if s["closes"] else None,
            "max_reuse_idle_ms": reuse,
            "race_risk": idle is not None and reuse is not None and reuse > idle - rtt,
        })
    return out


def conn_gaps(conns):
    """One line per connection with capture gaps or one-sided: its ends,
    the gaps of each side and in all (what hangup stores per connection)."""
    out = []
    for conn in conns:
        v = http_view(conn)
        cg, sg = side_gaps(conn, v["cli"]), side_gaps(conn, v["srv"])
        if not cg and not sg and not one_sided(conn):
            continue
        out.append({"client": ep(conn["v"], *v["cli"]), "server": v["server"],
                    "capture_gaps": len(cg) + len(sg),
                    "capture_gap_bytes": sum((b - a) & MASK for a, b in cg + sg),
                    "client_gaps": len(cg), "server_gaps": len(sg),
                    "one_sided": one_sided(conn)})
    return out


def tshark_agrees(path, conns, gaps_file):
    """Check the gaps against tshark's own TCP analysis of the file: every
    hole a later segment of the side reveals, tshark marks on that segment
    ("previous segment not captured", tcp.analysis.lost_segment); a side
    whose uncaptured bytes no later segment of its own reveals (a lost
    tail, a direction not in the capture) has only the peer's ACKs above
    them ("ACKed segment that wasn't captured", ack_lost_segment): one gap."""
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "frame.number",
         "-e", "tcp.analysis.lost_segment", "-e", "tcp.analysis.ack_lost_segment"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    lost, acklost = set(), set()
    for line in out:
        f = line.split("\t")
        if len(f) > 1 and f[1]:
            lost.add(int(f[0]))
        if len(f) > 2 and f[2]:
            acklost.add(int(f[0]))
    want = {(g["client"], g["server"]): g for g in map(json.loads, open(gaps_file))}
    bad = []
    for conn in conns:
        v = http_view(conn)
        key = (ep(conn["v"], *v["cli"]), v["server"])
        for side, name in ((v["cli"], "client_gaps"), (v["srv"], "server_gaps")):
            n = sum(1 for p in conn["pkts"] if p["from"] == side and p["n"] in lost)
            if n == 0 and any(p["from"] != side and p["n"] in acklost for p in conn["pkts"]):
                n = 1
            got = want.get(key, {}).get(name, 0)
            if n != got:
                bad.append(f"{key} {name}: tshark {n}, oracle {got}")
    if bad:
        raise SystemExit("tshark disagrees: " + "; ".join(bad))
    print(f"tshark agrees on {len(want)} connection(s) with gaps", file=sys.stderr)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    path = args[0]
    global PLAIN
    for opt in sys.argv[1:]:
        if opt.startswith("--tls-plain="):
            PLAIN = {}
            for line in open(opt.split("=", 1)[1]):
                frame, _, hexdata = line.strip().partition("\t")
                if frame:
                    PLAIN.setdefault(int(frame), []).append(bytes.fromhex(hexdata))
    conns, n = connections(path)
    lines = None
    if shutil.which("tcpdump"):
        lines = subprocess.run(["tcpdump", "-n", "-S", "-tt", "-r", path],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        # a VXLAN packet's inner frame is on a line of its own: join it
        joined = []
        for ln in lines:
            if joined and not ln[:1].isdigit():
                joined[-1] += "\n" + ln
            else:
                joined.append(ln)
        lines = joined
        if len(lines) != n:
            raise SystemExit(f"{path}: {n} packets here, {len(lines)} per tcpdump")
    incs = incidents(conns) + family(conns)
    for opt in sys.argv[1:]:
        if opt.startswith("--servers="):
            with open(opt.split("=", 1)[1], "w") as f:
                for s in servers(conns, incs):
                    f.write(json.dumps(s, separators=(",", ":")) + "\n")
    for opt in sys.argv[1:]:
        if opt.startswith("--gaps="):
            with open(opt.split("=", 1)[1], "w") as f:
                for line in conn_gaps(conns):
                    f.write(json.dumps(line, separators=(",", ":")) + "\n")
        if opt.startswith("--tshark-gaps="):
            tshark_agrees(path, conns, opt.split("=", 1)[1])
    for inc in incs:
        print(json.dumps(inc, separators=(",", ":")))
        if "--show" in sys.argv and lines:
            what = inc.get("kind", "keepalive-race " + inc.get("verdict", ""))
            print(f"# {what} {inc['client']} -> {inc['server']}", file=sys.stderr)
            keys = [k for k in ("request_packet", "fin_packet", "rst_packet", "late_response_packet",
                                "response_packet")
                    if inc.get(k)]
            for k in sorted(keys, key=lambda k: inc[k]):
                print(f"  {k[:3]} {inc[k]:4d} {lines[inc[k] - 1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
