#!/usr/bin/env python3
"""sll2-to-sll.py IN.pcap OUT.pcap -- rewrite a LINUX_SLL2 capture as LINUX_SLL.

`tcpdump -i any` writes LINUX_SLL2 by default, whose header carries the
capturing machine's interface number; tcpdump (and hangup) print the name
that number has on the machine that *reads* the file, so the same capture
prints differently elsewhere.  LINUX_SLL (v1) has no interface number.
This rewrites each packet's 20-byte SLL2 header as the 16-byte SLL one it
would have had with `tcpdump -i any -y LINUX_SLL` (packet type, ARPHRD
type, address length, address, protocol), everything else unchanged.  The
proxy captures were converted with it once; proxy-capture.sh now captures
with -y LINUX_SLL directly.  Classic pcap, either byte order, only.
"""
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, 'rb').read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        sys.exit('%s: not a classic pcap file' % src)
    vmaj, vmin, tz, sig, snap, lt = struct.unpack(e + 'HHiIII', data[4:24])
    if lt != 276:
        sys.exit('%s: link type %d, not LINUX_SLL2 (276)' % (src, lt))
    out = [data[:20], struct.pack(e + 'I', 113)]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(e + 'IIII', data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        if len(pkt) < caplen or caplen < 20:
            sys.exit('%s: packet at offset %d is cut short' % (src, off))
        proto, _res, _ifindex, hatype, pkttype, halen = struct.unpack('>HHIHBB', pkt[:12])
        addr = pkt[12:20]
        sll = struct.pack('>HHH', pkttype, hatype, halen) + addr + struct.pack('>H', proto)
        body = sll + pkt[20:]
        out.append(struct.pack(e + 'IIII', sec, frac, caplen - 4, wirelen - 4))
        out.append(body)
        off += 16 + caplen
    open(dst, 'wb').write(b''.join(out))


if __name__ == '__main__':
    main()
