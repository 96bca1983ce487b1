/*
 * tcpprint.h -- render a packet summary exactly as `tcpdump -n` prints it.
 */
#ifndef HANGUP_TCPPRINT_H
#define HANGUP_TCPPRINT_H

#include <stddef.h>
#include "hangup/packet.h"
#include "hangup/pktsum.h"
#include "hangup/strbuf.h"

/*
 * The text tcpdump appends after ", length N" for this packet's payload
 * (its text decoders: HTTP on ports 80 and 8080, FTP, SMTP, WHOIS, RTSP),
 * rendered now while the payload is at hand.  Appends to sb and returns
 * true, or returns false when tcpdump appends nothing.
 */
bool hu_tcpprint_payload_suffix(const hu_pkt *p, hu_sb *sb);

/* A connection's two endpoints, indexed by hu_pktsum.side.  The
 * addresses are borrowed: 4 bytes for IPv4, 16 for IPv6. */
typedef struct hu_tcpprint_ends {
    uint8_t ipver;
    const uint8_t *addr[2];
    uint16_t port[2];
} hu_tcpprint_ends;

/*
 * Append to sb the line tcpdump -n prints for summary s sent between
 * `ends` (no trailing newline): time in the local zone, the LINUX_SLL2
 * interface and direction prefix, "IP"/"IP6", endpoints, flags,
 * seq/ack/win/urg, options, length, and the payload suffix.
 */
void hu_tcpprint_line(hu_sb *sb, const hu_tcpprint_ends *ends, const hu_pktsum *s);

/* tcpdump's letters for a TCP flag byte ("S.", "FP.", ...) into out,
 * NUL-terminated, in tcpdump's order; returns how many (0: no flag, which
 * tcpdump prints as "none"). */
size_t hu_tcpprint_flags(uint8_t flags, char out[9]);

/* Local-time "HH:MM:SS.uuuuuu" as tcpdump prints it by default. */
void hu_tcpprint_time(hu_sb *sb, int64_t ts_us);

#endif
