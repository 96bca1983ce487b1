#!/usr/bin/env python3
"""Userspace delay line: a two-port Ethernet "wire" with a one-way delay.

    delayline.py IFACE_A IFACE_B DELAY_MS

Runs in the middle network namespace. Every frame received on one interface
(AF_PACKET raw socket) is sent out of the other one DELAY_MS later, in
order. Used because the kernel here has no netem qdisc. Frames this process
sent itself (PACKET_OUTGOING) are not forwarded back. Prints "listening"
once both sockets are bound; stops on SIGTERM/SIGINT.
"""
import heapq
import itertools
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def fix_tcp_checksum(frame):
    """Recompute the TCP checksum of an IPv4 frame. A sender with checksum
    offload on (veth default) leaves only the pseudo-header sum in the frame
    ("partial"); re-sent from a packet socket it would be dropped as corrupt.
    capture.sh turns offload off with ethtool when it can; this is the
    fallback."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return frame
    ihl = (frame[14] & 15) * 4
    total = struct.unpack(">H", frame[16:18])[0]
    seg = bytearray(frame[14 + ihl:14 + total])
    if len(seg) < 20:
        return frame
    seg[16:18] = b"\0\0"
    data = frame[26:34] + struct.pack(">BBH", 0, 6, len(seg)) + bytes(seg)
    if len(data) % 2:
        data += b"\0"
    total_sum = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total_sum >> 16:
        total_sum = (total_sum & 0xFFFF) + (total_sum >> 16)
    seg[16:18] = struct.pack(">H", ~total_sum & 0xFFFF)
    return frame[:14 + ihl] + bytes(seg) + frame[14 + total:]
PACKET_OUTGOING = 4

a_name, b_name, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000.0
socks = {}
for name in (a_name, b_name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, ETH_P_ALL))
    s.setblocking(False)
    socks[name] = s
other = {socks[a_name]: socks[b_name], socks[b_name]: socks[a_name]}
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("listening", flush=True)

queue = []                      # (due, tiebreak, out socket, frame)
order = itertools.count()
try:
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        now = time.monotonic()
        for s in ready:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                heapq.heappush(queue, (now + delay, next(order), other[s],
                                       fix_tcp_checksum(frame)))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            out.send(frame)
except KeyboardInterrupt:
    pass
