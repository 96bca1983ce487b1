#!/usr/bin/env python3
"""set-bigtcp-v4.py IFNAME SIZE: raise IFNAME's IPv4 GSO and GRO maximum
sizes (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE, Linux 6.3+) to SIZE
over rtnetlink, for the iproute2 releases that cannot set them.  Beyond
64 KiB the kernel builds IPv4 BIG TCP packets, whose total length field is
0.  Run inside the network namespace that holds IFNAME.  Exits non-zero
when the kernel refuses."""
import socket
import struct
import sys

IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE = 63, 64
RTM_NEWLINK, NLM_F_REQUEST, NLM_F_ACK = 16, 1, 4

name, size = sys.argv[1], int(sys.argv[2])
idx = socket.if_nametoindex(name)
attrs = b"".join(struct.pack("=HHI", 8, t, size) for t in (IFLA_GSO_IPV4_MAX_SIZE,
                                                          IFLA_GRO_IPV4_MAX_SIZE))
body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, idx, 0, 0) + attrs
msg = struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.send(msg)
reply = s.recv(4096)
err = struct.unpack("=i", reply[16:20])[0]
if err:
    sys.exit(f"set-bigtcp-v4: {name}: kernel refused: {-err}")
