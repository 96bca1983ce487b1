#!/usr/bin/env python3
"""Independent ground-truth oracle for the hangup sample captures.

    expect.py FILE.pcap [--show]  >  FILE.expected

Reads a classic pcap (any byte order, micro or nano seconds) or a pcapng
file with the standard library only, decodes link (EN10MB, NULL, LOOP, RAW,
LINUX_SLL, LINUX_SLL2) -> IPv4/IPv6 -> TCP, and applies docs/DESIGN.md §2.4
("request after peer FIN, then RST") per connection:

  * client = sender of the SYN; without a handshake the side that sends an
    HTTP request line; failing that the side with the higher port.
  * P = the server. fin = the server's first FIN:
        fin.seq = seq + payload length of that segment, fin.ack = its ack.
  * request = the first client segment in capture order with payload whose
    first byte S satisfies fin.ack <= S (32-bit sequence compare). It may
    come before the FIN in the file (client-side vantage of a crossing).
    A segment that is only a plaintext TLS alert record is skipped.
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


def seq_leq(a, b):
    """a <= b in 32-bit sequence space."""
    return ((b - a) & MASK) < 0x80000000


# ---------------------------------------------------------------- file formats
def read_pcap(data):
    """Yield (linktype, time in ns, frame bytes) for each packet of a pcap or
    pcapng."""
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
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield linktype, sec * 10**9 + (frac if nano else frac * 1000), data[off:off + caplen]
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
            ifid, hi, lo, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            num, den = links[ifid][1]
            yield links[ifid][0], ((hi << 32) | lo) * num * 10**9 // den, body[20:20 + caplen]
        elif btype == 3:                             # simple packet (no time stamp)
            caplen = struct.unpack(e + "I", body[:4])[0]
            yield links[0][0], 0, body[4:4 + caplen]
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


def l3(linktype, f):
    """Return (ethertype-ish version, network-layer bytes) or None."""
    if linktype == 1:                                # Ethernet (+ VLAN tags)
        off, et = 14, struct.unpack(">H", f[12:14])[0]
        while et in (0x8100, 0x88A8):
            et = struct.unpack(">H", f[off + 2:off + 4])[0]
            off += 4
        return f[off:]
    if linktype in (0, 108):                         # NULL / LOOP
        return f[4:]
    if linktype in (12, 14, 101):                    # RAW
        return f
    if linktype == 113:                              # LINUX_SLL
        return f[16:]
    if linktype == 276:                              # LINUX_SLL2
        return f[20:]
    raise SystemExit(f"unsupported link type {linktype}")


def decode(net):
    """Return a dict describing a TCP segment, or None."""
    if len(net) < 1:
        return None
    v = net[0] >> 4
    if v == 4:
        ihl = (net[0] & 15) * 4
        total, = struct.unpack(">H", net[2:4])
        if net[9] != 6 or struct.unpack(">H", net[6:8])[0] & 0x1FFF:
            return None
        src = ".".join(str(b) for b in net[12:16])
        dst = ".".join(str(b) for b in net[16:20])
        tcp, tcp_len = net[ihl:total], total - ihl
    elif v == 6:
        plen, = struct.unpack(">H", net[4:6])
        nh, off = net[6], 40
        while nh in (0, 43, 60):                     # hop-by-hop, routing, dest opts
            nh, off = net[off], off + (net[off + 1] + 1) * 8
        if nh != 6:
            return None
        src = ipv6_str(net[8:24])
        dst = ipv6_str(net[24:40])
        tcp, tcp_len = net[off:40 + plen], 40 + plen - off
    else:
        return None
    sport, dport, seq, ack, doff_flags = struct.unpack(">HHIIH", tcp[:14])
    doff = (doff_flags >> 12) * 4
    return {"v": v, "src": src, "dst": dst, "sport": sport, "dport": dport,
            "seq": seq, "ack": ack, "flags": doff_flags & 0x3F,
            "plen": tcp_len - doff, "payload": tcp[doff:]}


def ipv6_str(b):
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def tls_alert(pl):
    """A segment holding only a plaintext TLS alert (TLS <= 1.2 close_notify)
    is a goodbye, not a request. (A TLS 1.3 close_notify is encrypted as an
    application-data record and cannot be told apart here.)"""
    return len(pl) >= 5 and pl[0] == 0x15 and pl[1] == 3 and \
        struct.unpack(">H", pl[3:5])[0] + 5 == len(pl)


def ep(v, ip, port):
    return f"[{ip}]:{port}" if v == 6 else f"{ip}:{port}"


# ---------------------------------------------------------------- analysis
def connections(path):
    """Group TCP packets into connections; returns (conns, packet count)."""
    data = open(path, "rb").read()
    conns, current = [], {}
    n = 0
    for linktype, t, frame in read_pcap(data):
        n += 1
        seg = decode(l3(linktype, frame))
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
        req = next((p for p in pk if p["from"] == cli and p["plen"] > 0
                    and seq_leq(fin_ack, p["seq"]) and not tls_alert(p["payload"])), None)
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
        inc = {"verdict": "stale" if stale else "crossed",
               "fin_packet": fin["n"], "request_packet": req["n"],
               "rst_packet": rst["n"], "method": method, "target": target,
               "tls": tls, "ip_version": conn["v"],
               "client": ep(conn["v"], *cli), "server": ep(conn["v"], *srv)}
        inc.update(http_fields(conn, fin, req, rst, tls, method, target, conns))
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
    """Header lines (complete lines only) -> list of (lower name, value)."""
    out = []
    for line in block.split(b"\r\n"):
        if b":" in line:
            k, v = line.split(b":", 1)
            out.append((k.strip().lower().decode("latin1"), v.strip().decode("latin1")))
    return out


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


STATUS_LINE = re.compile(rb"^HTTP/(1\.[01]) (\d\d\d)")


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
        if is_request:
            m = REQ_LINE.match(block + b"\r\n")
            if not m or m.group(1).decode() not in METHODS:
                break
            msg["method"] = m.group(1).decode()
            msg["target"] = m.group(2).decode("latin1")
            msg["version"] = first.rsplit(b" ", 1)[-1].decode("latin1")
        else:
            m = STATUS_LINE.match(block)
            if not m:
                break
            msg["version"] = "HTTP/" + m.group(1).decode()
            msg["status"] = int(m.group(2))
        msg["headers"] = parse_headers(block.split(b"\r\n", 1)[1] if b"\r\n" in block else b"")
        msgs.append(msg)
        if head_end < 0:
            break
        body = head_end + 4
        msg["body"] = body
        te = (header(msg["headers"], "transfer-encoding") or "").lower()
        cl = header(msg["headers"], "content-length")
        if not is_request and (100 <= msg["status"] < 200):
            end = body                                # interim: no body
        elif not is_request and (msg["status"] in (204, 304) or
                                 (finals < len(req_methods) and req_methods[finals] == "HEAD")):
            end = body
        elif "chunked" in te:
            end = chunked_end(buf, body)
        elif cl is not None and cl.isdigit():
            end = body + int(cl)
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
    """The message announces the connection's end: Connection: close, or
    HTTP/1.0 without Connection: keep-alive."""
    tokens = {t.strip().lower() for k, v in msg["headers"] if k == "connection"
              for t in v.split(",")}
    return "close" in tokens or (msg["version"] == "HTTP/1.0" and "keep-alive" not in tokens)


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
    reqs = [] if tls else parse_stream(cbuf, True)
    # the server's bytes end at its FIN only if the FIN follows them directly
    sclosed = fin is not None and sbase is not None and \
        (fin["seq"] + fin["plen"] - sbase) & MASK == len(sbuf)
    resps = [] if tls else parse_stream(sbuf, False, [r["method"] for r in reqs], sclosed)
    for msgs, own in ((reqs, cown), (resps, sown)):
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
    v = {"cli": cli, "srv": srv, "fin": fin, "tls": tls, "reqs": reqs, "resps": resps,
         "creq_buf": cbuf, "sresp_buf": sbuf,
         "finals": finals, "cbase": cbase, "sbase": sbase, "rtt": rtt,
         "sni": client_hello_sni(cbuf) if tls else None,
         "server": ep(conn["v"], *srv), "client_ip": cli[0]}
    conn["view"] = v
    return v


def before_fin(v, msg, is_request):
    """The message was sent before the server's FIN in sequence space:
    a request whose first byte is below fin.ack (the server had it when it
    closed), a response whose first byte is below the FIN's sequence."""
    fin = v["fin"]
    if is_request:
        return (v["cbase"] + msg["start"]) & MASK != fin["ack"] and \
            seq_leq((v["cbase"] + msg["start"]) & MASK, fin["ack"])
    fseq = (fin["seq"] + fin["plen"]) & MASK
    return (v["sbase"] + msg["start"]) & MASK != fseq and \
        seq_leq((v["sbase"] + msg["start"]) & MASK, fseq)


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
    if fin is None or fin["plen"] > 0 or v["tls"]:
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
                 (v["cbase"] + m["start"]) & MASK == req["seq"]), None)
    last = last_payload_before(conn, req["n"])
    srv_last = last_payload_before(conn, fin["n"], v["srv"])
    hint = None
    for r in v["resps"]:
        if r["first"]["n"] < req["n"] and keepalive_timeout(r) is not None:
            hint = keepalive_timeout(r)
    retry = None
    if not tls and method is not None:
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
        "requests_before": None if tls else
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


def family_of(conn):
    """(completing packet, line) of one connection's family incidents."""
    if http_view(conn)["tls"]:
        return handshake_kinds(conn)
    out = []
    for fn in (handshake_kinds, server_silent_kinds, client_abort, truncated_response,
               gateway_error):
        out += fn(conn)
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


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    path = args[0]
    conns, n = connections(path)
    lines = None
    if shutil.which("tcpdump"):
        lines = subprocess.run(["tcpdump", "-n", "-S", "-tt", "-r", path],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        if len(lines) != n:
            raise SystemExit(f"{path}: {n} packets here, {len(lines)} per tcpdump")
    incs = incidents(conns) + family(conns)
    for opt in sys.argv[1:]:
        if opt.startswith("--servers="):
            with open(opt.split("=", 1)[1], "w") as f:
                for s in servers(conns, incs):
                    f.write(json.dumps(s, separators=(",", ":")) + "\n")
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
