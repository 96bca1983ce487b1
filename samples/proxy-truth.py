#!/usr/bin/env python3
"""Ground truth for one proxy capture (proxy-capture.sh), as JSON on stdout.

    proxy-truth.py PCAP --vantage proxy|target --meta META.json
                   --user-log F --target-log F --proxy-log F [--expect OUTCOME]

Reads the capture with tshark (not with hangup), finds, by plain rules:

* the upstream race: the upstream connection (server port 3000) on which
  the target sent RST; its lost request = the last proxy request packet on
  it before that RST; the target's FIN on it; verdict "stale" if the
  request's ack covers the FIN (ack == FIN seq + 1), else "crossed" (the
  rule of expect.py, whose own lines are copied under "oracle" and must
  agree);
* the retry: a request with the same method and target on another upstream
  connection, after the lost one, and the target's response to it;
* downstream (proxy vantage only): the user's request (port 8080) with the
  same method and target, and what the proxy sent back on that connection
  after it: the first response packet (status), else its FIN or RST;
* the outcome: "retried" (the user got a 2xx and a retry went upstream),
  "bad-gateway" (a 5xx), "closed" (no response; the proxy closed the user's
  connection), else "other". The user's own log must say the same (its
  line for that request: "OK ... <status>" or "ERROR ...").

Headers are taken from the packets (request/response header blocks, each in
one segment here): the lost request as the proxy sent it, the target's
first response ("target_response_headers") and the proxy's first response
to the user ("proxy_response_headers"). Log files are copied in as lists
of lines: the proxy's own access/error log lines about these requests are
the proxy's word for what it did. Exits 1 (after printing) if --expect is
given and differs, or if the user's log, the capture and the oracle
disagree.
"""
import argparse
import json
import os
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("pcap")
ap.add_argument("--vantage", choices=("proxy", "target"), required=True)
ap.add_argument("--meta", required=True)
ap.add_argument("--user-log", required=True)
ap.add_argument("--target-log", required=True)
ap.add_argument("--proxy-log", required=True)
ap.add_argument("--expect")
ap.add_argument("--proxy-port", type=int, default=8080)
ap.add_argument("--target-port", type=int, default=3000)
args = ap.parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"PATCH", b"OPTIONS")
problems = []

fields = ["frame.number", "frame.time_epoch", "sll.ifindex", "ip.src", "tcp.srcport", "ip.dst",
          "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.payload"]
cmd = ["tshark", "-r", args.pcap, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
for f in fields:
    cmd += ["-e", f]
out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
pkts = []
for line in out.splitlines():
    v = line.split("\t")
    if len(v) < len(fields) or not v[4]:
        continue
    flags = int(v[7], 16)
    pkts.append({"n": int(v[0]), "t": float(v[1]), "ifindex": v[2] or None,
                 "src": f"{v[3]}:{v[4]}", "dst": f"{v[5]}:{v[6]}",
                 "syn": bool(flags & 2), "fin": bool(flags & 1), "rst": bool(flags & 4),
                 "ackf": bool(flags & 16), "seq": int(v[8]), "ack": int(v[9] or 0),
                 "len": int(v[10] or 0), "data": bytes.fromhex(v[11]) if v[11] else b""})


def port(ep):
    return int(ep.rsplit(":", 1)[1])


# connections: (client, server), a new bare SYN after a FIN/RST starts a new one
conns = []
open_by_key = {}
for p in pkts:
    if port(p["dst"]) in (args.proxy_port, args.target_port):
        cli, srv = p["src"], p["dst"]
    else:
        cli, srv = p["dst"], p["src"]
    key = (cli, srv)
    c = open_by_key.get(key)
    if c is None or (p["syn"] and not p["ackf"] and c["closed"]):
        c = {"client": cli, "server": srv, "pkts": [], "closed": False}
        conns.append(c)
        open_by_key[key] = c
    p["conn"] = c
    p["from_client"] = p["src"] == cli
    if p["fin"] or p["rst"]:
        c["closed"] = True
    c["pkts"].append(p)


def request_line(p):
    d = p["data"]
    if p["from_client"] and d.split(b" ", 1)[0] in METHODS and b" HTTP/1." in d.split(b"\r\n", 1)[0]:
        m, target, _ = d.split(b"\r\n", 1)[0].split(b" ", 2)
        return m.decode(), target.decode("latin1")
    return None


def status(p):
    d = p["data"]
    if not p["from_client"] and d.startswith(b"HTTP/1."):
        return int(d.split(b" ", 2)[1])
    return None


def headers(p):
    head = p["data"].split(b"\r\n\r\n", 1)[0].decode("latin1")
    return head.split("\r\n")


def ms(a, b):
    return round((b["t"] - a["t"]) * 1000, 3)


up = [c for c in conns if port(c["server"]) == args.target_port]
down = [c for c in conns if port(c["server"]) == args.proxy_port]
truth = json.load(open(args.meta))
truth["capture"] = os.path.basename(args.pcap)
truth["packets"] = len(pkts)
truth["bytes"] = os.path.getsize(args.pcap)

# ---- the upstream race
race = None
for c in up:
    rst = next((p for p in c["pkts"] if p["rst"] and not p["from_client"]), None)
    if not rst:
        continue
    reqs = [p for p in c["pkts"] if request_line(p) and p["n"] < rst["n"]]
    fin = next((p for p in c["pkts"] if p["fin"] and not p["from_client"]), None)
    if not reqs or not fin:
        continue
    lost = reqs[-1]
    fin_seq = (fin["seq"] + fin["len"]) & 0xFFFFFFFF
    verdict = "stale" if lost["ackf"] and lost["ack"] == (fin_seq + 1) & 0xFFFFFFFF else "crossed"
    m, target = request_line(lost)
    race = {"client": c["client"], "server": c["server"], "method": m, "target": target,
            "requests_before": len(reqs) - 1, "request_packet": lost["n"],
            "fin_packet": fin["n"], "rst_packet": rst["n"], "verdict": verdict,
            "request_to_fin_ms": ms(lost, fin), "request_to_rst_ms": ms(lost, rst),
            "idle_ms": ms([p for p in c["pkts"] if p["len"] and p["n"] < lost["n"]][-1], lost),
            "request_headers": headers(lost)}
    first_resp = next((p for p in c["pkts"] if status(p)), None)
    if first_resp:
        truth["target_response_headers"] = headers(first_resp)
    break
truth["upstream_race"] = race
if race is None:
    problems.append("no upstream race (no target RST after a request on an upstream connection)")

# ---- the retry upstream
retry = None
if race:
    lost_n = race["request_packet"]
    for c in up:
        if c["client"] == race["client"] and any(p["n"] == lost_n for p in c["pkts"]):
            continue
        for p in c["pkts"]:
            if p["n"] > lost_n and request_line(p) == (race["method"], race["target"]):
                resp = next((q for q in c["pkts"] if q["n"] > p["n"] and status(q)), None)
                syn = next((q for q in c["pkts"] if q["syn"] and not q["ackf"]), None)
                retry = {"client": c["client"], "new_connection": syn is not None,
                         "syn_packet": syn["n"] if syn else None, "request_packet": p["n"],
                         "after_lost_request_ms": ms(next(q for q in pkts if q["n"] == lost_n), p),
                         "response_packet": resp["n"] if resp else None,
                         "status": status(resp) if resp else None,
                         "request_headers": headers(p)}
                break
        if retry:
            break
truth["retry"] = retry

# ---- downstream
user_line = None
try:
    ulog = [l.rstrip("\n") for l in open(args.user_log)]
except OSError:
    ulog = []
downstream = None
if args.vantage == "proxy" and race:
    for c in down:
        req = next((p for p in c["pkts"] if request_line(p) == (race["method"], race["target"])), None)
        if not req:
            continue
        after = [p for p in c["pkts"] if p["n"] > req["n"] and not p["from_client"]]
        resp = next((p for p in after if status(p)), None)
        close = next((p for p in after if p["fin"] or p["rst"]), None)
        first = next((p for p in c["pkts"] if status(p)), None)
        if first:
            truth["proxy_response_headers"] = headers(first)
        downstream = {"client": c["client"], "proxy": c["server"], "method": race["method"],
                      "target": race["target"], "request_packet": req["n"],
                      "request_headers": headers(req),
                      "response_packet": resp["n"] if resp else None,
                      "status": status(resp) if resp else None,
                      "response_headers": headers(resp) if resp else None,
                      "request_to_response_ms": ms(req, resp) if resp else None,
                      "close_packet": close["n"] if close and not resp else None,
                      "close": ("rst" if close["rst"] else "fin") if close and not resp else None}
        break
    truth["downstream"] = downstream
    if downstream is None:
        problems.append("no downstream request matching the lost upstream request")

# ---- outcome
if args.vantage == "proxy":
    d = downstream or {}
    if d.get("status") and 200 <= d["status"] < 300 and retry:
        outcome = "retried"
    elif d.get("status") and d["status"] >= 500:
        outcome = "bad-gateway"
    elif d and d.get("status") is None and d.get("close"):
        outcome = "closed"
    else:
        outcome = "other"
    # the user's line for its last request: OK <t> METHOD STATUS ... / ERROR ...
    user_line = ulog[-1] if ulog else None
    want = {"retried": "OK", "bad-gateway": "OK", "closed": "ERROR"}.get(outcome)
    if not user_line or not user_line.startswith(want or "?"):
        problems.append(f"user log ({user_line!r}) does not match outcome {outcome}")
    elif want == "OK" and f" {d['status']} " not in user_line:
        problems.append(f"user log ({user_line!r}) does not show status {d['status']}")
else:
    outcome = "retried" if retry and retry["status"] and 200 <= retry["status"] < 300 else "other"
truth["outcome"] = outcome
truth["user_saw"] = user_line if user_line is not None else (ulog[-1] if ulog else None)

# ---- logs and the oracle
truth["logs"] = {
    "user": ulog,
    "proxy": [l.rstrip("\n") for l in open(args.proxy_log)] if os.path.exists(args.proxy_log) else [],
    "target": [l.rstrip("\n") for l in open(args.target_log)
               if not l.startswith("listening") and "/calibrate" not in l],
}
oracle = subprocess.run([sys.executable, os.path.join(HERE, "expect.py"), args.pcap],
                        check=True, capture_output=True, text=True).stdout
truth["oracle"] = [json.loads(l) for l in oracle.splitlines() if l.strip()]
if race:
    mine = [o for o in truth["oracle"] if o.get("request_packet") == race["request_packet"]]
    if not mine or mine[0].get("verdict") != race["verdict"] or mine[0].get("rst_packet") != race["rst_packet"]:
        problems.append("expect.py disagrees on the upstream race: %s" % json.dumps(mine))

if args.expect and outcome != args.expect:
    problems.append(f"outcome {outcome}, scenario expects {args.expect}")
truth["problems"] = problems
print(json.dumps(truth, indent=1))
for p in problems:
    print("proxy-truth:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
