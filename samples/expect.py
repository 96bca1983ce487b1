#!/usr/bin/env python3
"""Independent ground-truth oracle for the hangup sample captures.

    expect.py FILE.pcap [--show]  >  FILE.expected

Reads a classic pcap (any byte order, micro or nano seconds) or a pcapng
file with the standard library only, decodes link (EN10MB, NULL, LOOP, RAW,
LINUX_SLL, LINUX_SLL2) -> IPv4/IPv6 -> TCP, and applies DESIGN.md section 2
("request after peer FIN, then RST") per connection:

  * client = sender of the SYN; without a handshake the side that sends an
    HTTP request line; failing that the side with the higher port.
  * P = the server. fin = the server's first FIN:
        fin.seq = seq + payload length of that segment, fin.ack = its ack.
  * request = the first client segment in capture order with payload whose
    first byte S satisfies fin.ack <= S (32-bit sequence compare). It may
    come before the FIN in the file (client-side vantage of a crossing).
    A segment that is only a plaintext TLS alert record is skipped.
  * an RST from the server after the request (capture order) -> incident.
  * verdict: "stale" if the request carries ACK and req.ack == fin.seq + 1,
    otherwise "crossed".

Prints one JSON object per incident (JSON Lines), ordered by RST packet.
Packet numbers are 1-based positions in the file, as `tcpdump -n -r FILE |
nl` counts them (checked against tcpdump when it is installed).
--show prints the three packets of each incident as tcpdump shows them
(on stderr).
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
    """Yield (linktype, frame bytes) for each packet of a pcap or pcapng."""
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)
        return
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("not a pcap/pcapng file")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield linktype, data[off:off + caplen]
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
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6:                             # enhanced packet
            ifid, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            yield links[ifid], body[20:20 + caplen]
        elif btype == 3:                             # simple packet
            caplen = struct.unpack(e + "I", body[:4])[0]
            yield links[0], body[4:4 + caplen]
        off += blen


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
    for linktype, frame in read_pcap(data):
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
        seg["n"], seg["from"] = n, a
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
        cli = client_of(conn)
        pk = conn["pkts"]
        srv = next(((p["dst"], p["dport"]) if p["from"] == cli else p["from"]) for p in pk)
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
        if rst is None:
            continue
        stale = bool(req["flags"] & ACK) and req["ack"] == (fin_seq + 1) & MASK
        pl = req["payload"]
        tls = len(pl) >= 3 and 0x14 <= pl[0] <= 0x17 and pl[1] == 3
        method = target = None
        m = REQ_LINE.match(pl)
        if not tls and m and m.group(1).decode() in METHODS:
            method, target = m.group(1).decode(), m.group(2).decode("latin1")
        out.append({"verdict": "stale" if stale else "crossed",
                    "fin_packet": fin["n"], "request_packet": req["n"],
                    "rst_packet": rst["n"], "method": method, "target": target,
                    "tls": tls, "ip_version": conn["v"],
                    "client": ep(conn["v"], *cli), "server": ep(conn["v"], *srv)})
    out.sort(key=lambda i: i["rst_packet"])
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
    for inc in incidents(conns):
        print(json.dumps(inc, separators=(",", ":")))
        if "--show" in sys.argv and lines:
            print(f"# {inc['verdict']} {inc['client']} -> {inc['server']}", file=sys.stderr)
            for k in ("fin_packet", "request_packet", "rst_packet"):
                print(f"  {k[:3]} {inc[k]:4d} {lines[inc[k] - 1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
