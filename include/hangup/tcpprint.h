/*
 * tcpprint.h -- render a packet summary exactly as `tcpdump -n` prints it.
 */
#ifndef HANGUP_TCPPRINT_H
#define HANGUP_TCPPRINT_H

#include "hangup/flow.h"
#include "hangup/packet.h"
#include "hangup/strbuf.h"

/*
 * The text tcpdump appends after ", length N" for this packet's payload
 * (its text decoders: HTTP on ports 80 and 8080, FTP, SMTP, WHOIS, RTSP),
 * rendered now while the payload is at hand.  Appends to sb and returns
 * true, or returns false when tcpdump appends nothing.
 */
bool hu_tcpprint_payload_suffix(const hu_pkt *p, hu_sb *sb);

/*
 * Append to sb the line tcpdump -n prints for summary s of flow f (no
 * trailing newline): time in the local zone, the LINUX_SLL2 interface and
 * direction prefix, "IP"/"IP6", endpoints, flags, seq/ack/win/urg,
 * options, length, and the payload suffix.
 */
void hu_tcpprint_line(hu_sb *sb, const hu_flow *f, const hu_pktsum *s);

/* Local-time "HH:MM:SS.uuuuuu" as tcpdump prints it by default. */
void hu_tcpprint_time(hu_sb *sb, int64_t ts_us);

#endif
