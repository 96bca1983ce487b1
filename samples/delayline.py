#!/usr/bin/env python3
"""Userspace delay line: a two-port Ethernet "wire" with a one-way delay.

    delayline.py IFACE_A IFACE_B DELAY_MS [RULE...]

Runs in the middle network namespace. Every frame received on one interface
(AF_PACKET raw socket) is sent out of the other one DELAY_MS later, in
order. Without rules that is all it does (the crossed scenario).

RULE = DIR:N:ACTION picks one frame deterministically: the N-th frame
(1-based) carrying TCP payload in direction DIR ("ab" = received on IFACE_A,
sent out of IFACE_B; "ba" the other way; frames without payload, such as
pure ACKs, are not counted, retransmissions are). ACTION:
  drop      the frame is discarded (the sender must retransmit it)
  dup       the frame is forwarded twice (the copy 1 ms after the original)
  hold=MS   the frame is forwarded MS later than the others: the frames
            behind it overtake it (reordering)
RULE = DIR:syn:drop discards the first SYN (without ACK) in direction DIR:
the client's kernel retransmits it, with the same sequence number. Used because the kernel here has no netem qdisc. Frames this process
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

def tcp_payload_len(frame):
    """TCP payload length of an IPv4/IPv6 Ethernet frame, else 0."""
    et = frame[12:14]
    if et == b"\x08\x00" and len(frame) >= 34 and frame[23] == 6:
        ihl = (frame[14] & 15) * 4
        total = struct.unpack(">H", frame[16:18])[0]
        if len(frame) >= 14 + ihl + 13:
            return total - ihl - (frame[14 + ihl + 12] >> 4) * 4
    if et == b"\x86\xdd" and len(frame) >= 54 + 13 and frame[20] == 6:
        plen = struct.unpack(">H", frame[18:20])[0]
        return plen - (frame[54 + 12] >> 4) * 4
    return 0


def is_syn(frame):
    """An IPv4 Ethernet frame carrying a TCP SYN without ACK."""
    if frame[12:14] != b"\x08\x00" or len(frame) < 34 or frame[23] != 6:
        return False
    ihl = (frame[14] & 15) * 4
    return len(frame) >= 14 + ihl + 14 and frame[14 + ihl + 13] & 0x12 == 0x02


a_name, b_name, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000.0
rules = {}                      # (dir, n) -> action
drop_syn = set()                # directions whose first SYN is dropped
for r in sys.argv[4:]:
    d, n, action = r.split(":", 2)
    if n == "syn":
        assert d in ("ab", "ba") and action == "drop", r
        drop_syn.add(d)
        continue
    assert d in ("ab", "ba") and (action in ("drop", "dup") or action.startswith("hold=")), r
    rules[(d, int(n))] = action
counts = {"ab": 0, "ba": 0}
socks = {}
for name in (a_name, b_name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, ETH_P_ALL))
    s.setblocking(False)
    socks[name] = s
other = {socks[a_name]: socks[b_name], socks[b_name]: socks[a_name]}
direction = {socks[a_name]: "ab", socks[b_name]: "ba"}
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
                frame, due, d = fix_tcp_checksum(frame), now + delay, direction[s]
                action = None
                if d in drop_syn and is_syn(frame):
                    drop_syn.discard(d)
                    print(f"{d} first SYN: drop", flush=True)
                    continue
                if tcp_payload_len(frame) > 0:
                    counts[d] += 1
                    action = rules.get((d, counts[d]))
                    if action:
                        print(f"{d} payload frame {counts[d]}: {action}", flush=True)
                if action == "drop":
                    continue
                if action and action.startswith("hold="):
                    due += float(action[5:]) / 1000.0
                heapq.heappush(queue, (due, next(order), other[s], frame))
                if action == "dup":
                    heapq.heappush(queue, (due + 0.001, next(order), other[s], frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            out.send(frame)
except KeyboardInterrupt:
    pass
