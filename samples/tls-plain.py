#!/usr/bin/env python3
"""tshark's TLS decryption of a capture, per frame, for expect.py --tls-plain.

    tls-plain.py FILE.pcap KEYLOG  >  FILE.plain

Writes one line "FRAME<TAB>HEX" per application-data record tshark decrypts
with the key log, in capture order: FRAME is the packet that completes the
record (tshark reassembles a record spread over several segments and
decrypts it in the segment that carries its last byte), HEX its plaintext.

How: `tshark -P -x` prints, for each frame, a "Decrypted TLS (N bytes)"
data source per record it decrypted, in record order; `-T fields -e
tls.record.content_type` lists the (inner, once decrypted) content type of
every record of the frame. Records sent in clear (hellos, ChangeCipherSpec,
a TLS 1.2 handshake) precede the encrypted ones in a frame, so the k
decrypted sources belong to the frame's last k records; the records of type
23 (application_data) among them are kept.

Check: per TCP stream and direction, the kept plaintext concatenated must
equal what `tshark -z follow,tls,raw,STREAM` prints; the script exits non-zero
otherwise.
"""
import subprocess
import sys


def tshark(*args):
    return subprocess.run(["tshark", "-r", CAP, "-o", f"tls.keylog_file:{KEYS}", *args],
                          capture_output=True, text=True, check=True).stdout


CAP, KEYS = sys.argv[1], sys.argv[2]

# per frame: the decrypted data sources, in order
sources, frame, cur = {}, None, None
for line in tshark("-P", "-x").splitlines():
    head = line.split()
    if line[:1] == " " and head and head[0].isdigit() and not line.startswith("0"):
        frame, cur = int(head[0]), None
        sources[frame] = []
    elif line.startswith("Decrypted TLS ("):
        cur = bytearray()
        sources[frame].append(cur)
    elif line.endswith("):") or not line.strip():
        cur = None
    elif cur is not None and len(line) > 6 and line[4:6] == "  ":
        cur.extend(bytes.fromhex(line[6:6 + 16 * 3]))

out, per_dir = [], {}
for line in tshark("-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "ip.src",
                   "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "tls.record.content_type"
                   ).splitlines():
    f = line.split("\t")
    n, types = int(f[0]), [int(t) for t in f[5].split(",") if t]
    dec = sources.get(n, [])
    if not dec:
        continue
    if len(dec) > len(types):
        sys.exit(f"frame {n}: {len(dec)} decrypted sources, {len(types)} records")
    for t, data in zip(types[len(types) - len(dec):], dec):
        if t == 23:
            out.append(f"{n}\t{data.hex()}")
            src = (f[2] or f[3], f[4])
            per_dir.setdefault((int(f[1]), src), bytearray()).extend(data)

# the cross-check against tshark's own follow stream
streams = sorted({s for s, _ in per_dir})
for s in streams:
    nodes, got = {}, {0: "", 1: ""}
    for line in tshark("-q", "-z", f"follow,tls,raw,{s}").splitlines():
        if line.startswith("Node "):
            k, addr = line[5], line.split(": ", 1)[1]
            host, port = addr.rsplit(":", 1)
            nodes[int(k)] = (host.strip("[]"), port)
        elif line and not line.startswith(("=", "Follow", "Filter")):
            got[1 if line.startswith("\t") else 0] += line.strip()
    # unindented lines are Node 0's; tshark 4.0 may print the other node as
    # ":0", so the indented lines are simply the stream's other direction
    for ep in {e for t, e in per_dir if t == s} | {nodes.get(0)}:
        k = 0 if ep == nodes.get(0) else 1
        mine = per_dir.get((s, ep), bytearray()).hex()
        if mine != got[k]:
            sys.exit(f"stream {s} {ep}: {len(mine) // 2} bytes here, "
                     f"{len(got[k]) // 2} per follow,tls,raw")
print("\n".join(out))
print(f"tls-plain: {len(out)} application-data record(s) in {len(streams)} stream(s), "
      "equal to follow,tls,raw", file=sys.stderr)
