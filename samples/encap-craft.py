#!/usr/bin/env python3
"""encap-craft.py KIND IN OUT

Wraps every IP packet of the real capture IN (classic pcap, any link type
hangup reads) in the encapsulation KIND and writes the classic pcap OUT,
keeping each record's time.  The inner packets are the real stack's bytes,
unchanged; only the outer layers are made here, for the encapsulations this
machine's kernel cannot make (issue 18 item 6: cloud mirroring and taps).
Each output is checked against real tcpdump (its .tcpdump file).

KIND (outer layers, outermost first):
  geneve     Ethernet, IPv4, UDP 6081, Geneve (one option), Ethernet
  gre        Ethernet, IPv4, GRE (protocol IPv4 or IPv6)
  gretap     Ethernet, IPv4, GRE with key and sequence number, Ethernet
  erspan1    Ethernet, IPv4, GRE 0x88be without sequence number, Ethernet
  erspan2    Ethernet, IPv4, GRE 0x88be with sequence number, ERSPAN II, Ethernet
  erspan3    Ethernet, IPv4, GRE 0x22eb with sequence number, ERSPAN III
             (with its platform subheader), Ethernet
  ipip       Ethernet, IPv4 protocol 4 (IPv4 inner) or 41 (IPv6 inner: 6in4)
  ip6tnl     Ethernet, IPv6 next header 4 or 41
  mpls       Ethernet, two MPLS labels (a stack), IP
  pppoe      Ethernet, PPPoE session, PPP, IP
  llc        IEEE 802.3 length, 802.2 LLC/SNAP (OUI 0), IP
  nested     Ethernet, 802.1Q, MPLS, IPv4, GRE, Ethernet, IPv4, UDP 4789,
             VXLAN, Ethernet, IP: five tunnels deep
"""
import struct
import sys

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
OUT4 = (bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))          # TEST-NET-1
OUT6 = (bytes.fromhex("20010db8000000000000000000000001"),       # documentation
        bytes.fromhex("20010db8000000000000000000000002"))


def read_pcap(path):
    data = open(path, "rb").read()
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        yield linktype, sec, frac, frame, wirelen - caplen, magic


def ip_of(linktype, f):
    if linktype == 1:
        off, et = 14, struct.unpack(">H", f[12:14])[0]
        while et in (0x8100, 0x88A8):
            et = struct.unpack(">H", f[off + 2:off + 4])[0]
            off += 4
        return f[off:]
    if linktype in (0, 108):
        return f[4:]
    if linktype in (12, 14, 101):
        return f
    if linktype == 113:
        return f[16:]
    if linktype == 276:
        return f[20:]
    raise SystemExit(f"unsupported link type {linktype}")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


_ident = [0x1000]


def ipv4(proto, payload, src=OUT4[0], dst=OUT4[1]):
    _ident[0] = (_ident[0] + 1) & 0xFFFF
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), _ident[0], 0x4000, 64,
                    proto, 0, src, dst)
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def ipv6(nh, payload):
    return struct.pack(">IHBB16s16s", 6 << 28, len(payload), nh, 64, OUT6[0], OUT6[1]) + payload


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def eth(et, payload, src=MAC_A, dst=MAC_B):
    return dst + src + struct.pack(">H", et) + payload


def ethertype_of(ip):
    return 0x86DD if ip[0] >> 4 == 6 else 0x0800


def inner_eth(ip):
    return eth(ethertype_of(ip), ip, bytes.fromhex("020000000011"), bytes.fromhex("020000000012"))


def sport_of(ip):
    """A flow-hash source port, as tunnel endpoints choose one per inner
    flow: here from the inner ports, so it is stable per connection."""
    off = 20 if ip[0] >> 4 == 4 else 40
    a, b = struct.unpack(">HH", ip[off:off + 4])
    return 49152 + ((min(a, b) * 31 + max(a, b)) % 16384)


def gre(proto, payload, key=None, seq=None):
    flags = (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    h = struct.pack(">HH", flags, proto)
    if key is not None:
        h += struct.pack(">I", key)
    if seq is not None:
        h += struct.pack(">I", seq)
    return h + payload


def geneve(ip):
    opt = struct.pack(">HBB", 0x0103, 0x80, 1) + b"\x0a\x0b\x0c\x0d"   # class 0x0103, 4 bytes
    hdr = struct.pack(">BBH", (len(opt) // 4), 0, 0x6558) + struct.pack(">I", 42 << 8)
    return eth(0x0800, ipv4(17, udp(sport_of(ip), 6081, hdr + opt + inner_eth(ip))))


def vxlan(ip, vni):
    return udp(sport_of(ip), 4789, struct.pack(">II", 0x08000000, vni << 8) + inner_eth(ip))


def mpls(labels, payload):
    out = b""
    for i, lab in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack(">I", lab << 12 | 0 << 9 | bos << 8 | 64)
    return out + payload


SEQ = [0]


def wrap(kind, ip):
    SEQ[0] += 1
    v6 = ip[0] >> 4 == 6
    if kind == "geneve":
        return geneve(ip)
    if kind == "gre":
        return eth(0x0800, ipv4(47, gre(ethertype_of(ip), ip)))
    if kind == "gretap":
        return eth(0x0800, ipv4(47, gre(0x6558, inner_eth(ip), key=10, seq=SEQ[0])))
    if kind == "erspan1":
        return eth(0x0800, ipv4(47, gre(0x88BE, inner_eth(ip))))
    if kind == "erspan2":
        # ver 1 (type II), vlan 0, cos 0, en 0, t 0, session 12; index 7
        h = struct.pack(">HHI", 1 << 12 | 0, 0 << 13 | 12, 7)
        return eth(0x0800, ipv4(47, gre(0x88BE, h + inner_eth(ip), seq=SEQ[0])))
    if kind == "erspan3":
        # ver 2 (type III), session 12; timestamp; sgt 0, p 1, ft 0, hw 7,
        # d 1 (egress), gra 2, o 1; then the platform subheader (8 bytes)
        h = struct.pack(">HHIHH", 2 << 12 | 0, 0 << 13 | 12, 123456, 0,
                        1 << 15 | 0 << 10 | 7 << 4 | 1 << 3 | 2 << 1 | 1)
        sub = struct.pack(">II", 3 << 26 | 0x1234, 0x89ABCDEF)
        return eth(0x0800, ipv4(47, gre(0x22EB, h + sub + inner_eth(ip), seq=SEQ[0])))
    if kind == "ipip":
        return eth(0x0800, ipv4(41 if v6 else 4, ip))
    if kind == "ip6tnl":
        return eth(0x86DD, ipv6(41 if v6 else 4, ip))
    if kind == "mpls":
        return eth(0x8847, mpls([1000, 16], ip))
    if kind == "pppoe":
        ppp = struct.pack(">H", 0x0057 if v6 else 0x0021) + ip
        return eth(0x8864, struct.pack(">BBHH", 0x11, 0, 0x2a, len(ppp)) + ppp)
    if kind == "llc":
        body = bytes([0xAA, 0xAA, 0x03, 0, 0, 0]) + struct.pack(">H", ethertype_of(ip)) + ip
        return MAC_B + MAC_A + struct.pack(">H", len(body)) + body
    if kind == "nested":
        in_vx = ipv4(17, vxlan(ip, 7), bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2]))
        in_gre = ipv4(47, gre(0x6558, eth(0x0800, in_vx)))
        return MAC_B + MAC_A + struct.pack(">HH", 0x8100, 5) + struct.pack(">H", 0x8847) + \
            mpls([300], in_gre)
    raise SystemExit(f"unknown kind {kind}")


def main():
    kind, src, dst = sys.argv[1:4]
    out = open(dst, "wb")
    first = True
    for linktype, sec, frac, frame, cut, magic in read_pcap(src):
        if first:
            nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
            out.write(struct.pack("<IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4,
                                  2, 4, 0, 0, 262144, 1))
            first = False
        if cut:
            raise SystemExit("a record cut by the snapshot length: not wrapped")
        f = wrap(kind, ip_of(linktype, frame))
        out.write(struct.pack("<IIII", sec, frac, len(f), len(f)) + f)
    out.close()


if __name__ == "__main__":
    main()
