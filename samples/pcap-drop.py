#!/usr/bin/env python3
"""Make capture loss out of a real capture: drop chosen server segments.

    pcap-drop.py IN.pcap OUT.pcap RULE...

A sensor that misses packets (a busy tap, a full ring) writes a capture
without some of the segments the hosts exchanged; the hosts themselves
saw them, so their acknowledgements cover them.  This rewrites a real
capture (classic pcap, Ethernet or raw IP, as tcpdump writes on lo) the
same way: the packets kept are byte-for-byte the originals, with their
own timestamps; only the chosen ones are left out.

RULE is CONN:WHAT, CONN the connection's number in order of its first SYN
(1-based) and WHAT one of
    data=K     the K-th segment carrying server payload (1-based)
    data=last  the last one
    data=all   all of them
    fin        the server's FIN segments (and any payload they carry)
The server is the receiver of the connection's first SYN.  Prints one
line per packet dropped (its 1-based number in IN) on stderr.
"""
import struct
import sys


def packets(data):
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise SystemExit("pcap-drop: classic microsecond pcap only")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        yield linktype, data[off:off + 16], data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def tcp(linktype, frame):
    """(src, sport, dst, dport, flags, payload length) of an IPv4/TCP frame."""
    if linktype == 1:
        if frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
    elif linktype in (101, 12):
        ip = frame
    else:
        raise SystemExit("pcap-drop: link type %d not handled" % linktype)
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 15) * 4
    total = struct.unpack(">H", ip[2:4])[0]
    t = ip[ihl:]
    doff = (t[12] >> 4) * 4
    sport, dport = struct.unpack(">HH", t[:4])
    return ip[12:16], sport, ip[16:20], dport, t[13], total - ihl - doff


def main():
    src, dst, rules = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = open(src, "rb").read()
    pk = list(packets(data))
    conns, order = {}, []
    segs = []
    for linktype, hdr, frame in pk:
        s = tcp(linktype, frame)
        segs.append(s)
        if s and s[4] & 0x02 and not s[4] & 0x10:
            key = frozenset(((s[0], s[1]), (s[2], s[3])))
            if key not in conns:
                conns[key] = {"server": (s[2], s[3]), "data": [], "fin": []}
                order.append(key)
    for i, s in enumerate(segs):
        if not s:
            continue
        c = conns.get(frozenset(((s[0], s[1]), (s[2], s[3]))))
        if c is None or (s[0], s[1]) != c["server"]:
            continue
        if s[5] > 0 and not s[4] & 0x01:
            c["data"].append(i)
        if s[4] & 0x01:
            c["fin"].append(i)
    drop = set()
    for r in rules:
        n, what = r.split(":", 1)
        c = conns[order[int(n) - 1]]
        if what == "fin":
            drop.update(c["fin"])
        elif what == "data=all":
            drop.update(c["data"])
        elif what == "data=last":
            drop.add(c["data"][-1])
        elif what.startswith("data="):
            drop.add(c["data"][int(what[5:]) - 1])
        else:
            raise SystemExit("pcap-drop: bad rule " + r)
    with open(dst, "wb") as out:
        out.write(data[:24])
        for i, (_, hdr, frame) in enumerate(pk):
            if i in drop:
                print("dropped packet %d" % (i + 1), file=sys.stderr)
                continue
            out.write(hdr + frame)


if __name__ == "__main__":
    main()
