#!/bin/bash
# rotate-capture.sh [OUTDIR]
#
# A rotated set written by tcpdump's own rotation (-G 1: a new file at the
# first packet of each new second, named by strftime), while two stacks
# race on loopback: Python http.client against http.server closing idle
# connections after 0.3 s (stale races: the client writes 0.8 s after its
# last response), and Node.js's http client against a Node.js server
# closing after 400 ms (stale races: the reuse lands while the FIN is
# being delivered).  The run is repeated (up to 8 times) until at least one
# race of each stack has its FIN in one file and its request in the next:
# the boundary is tcpdump's, not placed by hand.
#
# Writes OUTDIR/rotated/ (default samples/rotated/): tcpdump's files, as it
# named them, and rotated.expected, expect.py's oracle for the set read as
# one file (mergecap -a; packet numbers of that merged file), and
# rotated.crossing: the races whose FIN and request are in different files.
# Must run as root (tcpdump).  All traffic stays on 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}/rotated
SCENARIO=rotated
WORK=$(mktemp -d /tmp/hangup-rotate.XXXXXX)
PIDS=()
NETNS=()
. "$HERE/capture-lib.sh"

start_server py python3 "$HERE/py-server.py" 127.0.0.1 3040 0.3
start_server node node "$HERE/node-server.js" mode=raw host=127.0.0.1 port=3041 close=400

# crossing FILES...: the oracle's races whose FIN and request packets lie in
# different files of the set, one line each (server FIN-file request-file)
crossing() {
    python3 - "$WORK/merged.expected" "$@" <<'PY'
import json, subprocess, sys
ends, total = [], 0
for f in sys.argv[2:]:
    n = int(subprocess.run(["capinfos", "-c", "-M", "-T", "-r", f], capture_output=True,
                           text=True, check=True).stdout.split()[-1])
    total += n
    ends.append(total)
def file_of(num):
    return next(i for i, e in enumerate(ends) if num <= e)
for line in open(sys.argv[1]):
    j = json.loads(line)
    a, b = file_of(j["fin_packet"]), file_of(j["request_packet"])
    if a != b:
        print(j["server"], a, b)
PY
}

for attempt in 1 2 3 4 5 6 7 8; do
    rm -rf "$WORK/rot" && mkdir -p "$WORK/rot"
    # -Z root: tcpdump opens each rotated file after dropping privileges
    tcpdump -i lo -n -U --immediate-mode -s 262144 -Z root -G 1 \
        -w "$WORK/rot/rotated-%H%M%S.pcap" "tcp port 3040 or tcp port 3041" \
        >"$WORK/tcpdump.out" 2>"$WORK/cap.tcpdump.err" &
    TCPDUMP_cap=$!
    PIDS+=($!)
    wait_for "$WORK/cap.tcpdump.err" "listening on" 5
    sleep 0.3
    run_client "$WORK/py.log" python3 "$HERE/py-client.py" 127.0.0.1 3040 '[
        ["GET","/items",0], ["GET","/items/1",0.05], ["POST","/items",0.8],
        ["GET","/items/2",0], ["DELETE","/items/2",0.8],
        ["GET","/items/3",0], ["PUT","/items/3",0.8],
        ["GET","/items/4",0], ["GET","/items/5",0.8] ]' || true
    run_client "$WORK/node.log" node "$HERE/node-client.js" url=http://127.0.0.1:3041 plan='[
        ["GET","/api/users",0,0], ["POST","/api/orders",300,200],
        ["GET","/api/users/3",0,0], ["GET","/api/health",300,200],
        ["GET","/api/users/5",0,0], ["GET","/api/users/6",300,200] ]' linger=600 || true
    stop_tcpdump cap
    mapfile -t files < <(ls "$WORK"/rot/rotated-*.pcap)
    mergecap -a -w "$WORK/merged.pcap" "${files[@]}"
    python3 "$HERE/expect.py" "$WORK/merged.pcap" --show >"$WORK/merged.expected"
    crossing "${files[@]}" >"$WORK/crossing"
    errs=$(cat "$WORK/py.log" "$WORK/node.log" | grep -c '^ERROR' || true)
    log "attempt $attempt: ${#files[@]} files, $(wc -l <"$WORK/merged.expected") races," \
        "client errors: $errs, across a boundary: $(wc -l <"$WORK/crossing")"
    if [ "$(wc -l <"$WORK/merged.expected")" = "$errs" ] &&
       grep -q ':3040 ' "$WORK/crossing" && grep -q ':3041 ' "$WORK/crossing"; then
        rm -rf "$OUT" && mkdir -p "$OUT"
        cp "${files[@]}" "$OUT/"
        cp "$WORK/merged.expected" "$OUT/rotated.expected"
        cp "$WORK/crossing" "$OUT/rotated.crossing"
        chown -R "$(stat -c %u:%g "$HERE")" "$OUT" && chmod 644 "$OUT"/*
        log "written to $OUT"
        exit 0
    fi
done
log "FAIL: no run had a race of each stack across a file boundary"
exit 1
