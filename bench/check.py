#!/usr/bin/env python3
"""check.py TRUTH [JSON]  -- compare hangup's --json incidents with gen.py's truth.

Reads hangup's JSON Lines from JSON (or stdin).  A truth race matches an
incident with the same kind (keepalive-race), verdict, client, server, fin,
request and rst packet numbers, method and target.  Prints one line,
"PASS: ..." or "FAIL: ..." (with the extra incidents counted by kind when
there are any), followed by up to 10 differences; exit status
0 on PASS, 1 on FAIL.
"""

import json
import sys

KEYS = ("verdict", "client", "server", "fin_packet", "request_packet", "rst_packet",
        "method", "target")


def key(o):
    return tuple(o.get(k) for k in KEYS)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    truth = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    src = open(sys.argv[2]) if len(sys.argv) == 3 else sys.stdin
    got = []
    for l in src:
        if not l.strip():
            continue
        o = json.loads(l)
        if o.get("type") == "incident":
            got.append(o)
    want = {key(t): t for t in truth}
    have = {}
    other_kinds = 0
    for o in got:
        if o.get("kind") != "keepalive-race":
            other_kinds += 1
        have[key(o)] = o
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    nst = sum(1 for t in truth if t["verdict"] == "stale")
    v6 = sum(1 for t in truth if t["client"].startswith("["))
    summary = ("truth %d races (%d stale, %d crossed, %d IPv6), hangup %d incidents; "
               "matched %d, missing %d, extra %d"
               % (len(truth), nst, len(truth) - nst, v6, len(got),
                  len(want) - len(missing), len(missing), len(extra)))
    if extra:
        kinds = {}
        for o in got:
            if key(o) not in want:
                kinds[o.get("kind")] = kinds.get(o.get("kind"), 0) + 1
        summary += " (" + ", ".join("%s %d" % kv for kv in sorted(kinds.items())) + ")"
    ok = not missing and not extra and len(got) == len(truth)
    print(("PASS: " if ok else "FAIL: ") + summary)
    shown = 0
    for k in missing:
        if shown < 10:
            print("  missing: " + json.dumps(want[k], separators=(",", ":")))
            shown += 1
    for k in extra:
        if shown < 10:
            o = have[k]
            print("  extra:   " + json.dumps({f: o.get(f) for f in ("kind",) + KEYS},
                                             separators=(",", ":")))
            shown += 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
