#!/usr/bin/env python3
"""Convert a classic pcap file to pcapng (stdlib only; tcpdump 4.99 cannot
write pcapng and editcap needs wireshark-common).

    pcap2pcapng.py IN.pcap OUT.pcapng [IFNAME]

One section, one interface (the pcap's link type and snap length, an
if_name option, microsecond timestamps), one Enhanced Packet Block per packet,
in order, so packet numbers are unchanged.
"""
import struct
import sys


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def option(code, value):
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    ifname = sys.argv[3] if len(sys.argv) > 3 else None
    data = open(src, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("not a classic pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    snaplen, linktype = struct.unpack(e + "II", data[16:24])
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + option(0, b""))]
    opts = b""
    if ifname:
        opts += option(2, ifname.encode())                 # if_name
    if nano:
        opts += option(9, b"\x09")                        # if_tsresol = 10^-9
    if opts:
        opts += option(0, b"")
    out.append(block(1, struct.pack("<HHI", linktype & 0xFFFF, 0, snaplen) + opts))
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        ts = sec * (10**9 if nano else 10**6) + frac
        out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, caplen, origlen)
                         + data[off:off + caplen]))
        off += caplen
    with open(dst, "wb") as f:
        f.write(b"".join(out))


if __name__ == "__main__":
    main()
