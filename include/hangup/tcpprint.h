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

/*
 * All the text tcpdump prints for p beyond its plain TCP line, appended to
 * sb in this order: the encapsulations' (outer IP headers, "VXLAN, ...\n",
 * "GREv0, ...: ", "MPLS (label ...) ", "PPPoE  [ses 0x2a] ", printed
 * before the inner "IP"; *pre bytes), the IPv6 extension headers' ("HBH
 * ", printed between the addresses and the ports; *ext bytes), then the
 * payload suffix (hu_tcpprint_payload_suffix).  Reads the frame p was
 * decoded from, which must still be there.  Returns false when nothing
 * was appended (*pre and *ext are then 0).
 */
bool hu_tcpprint_packet_text(const hu_pkt *p, hu_sb *sb, uint16_t *pre, uint16_t *ext);

/* A connection's two endpoints, indexed by hu_pktsum.side.  The
 * addresses are borrowed: 4 bytes for IPv4, 16 for IPv6. */
typedef struct hu_tcpprint_ends {
    uint8_t ipver;
    const uint8_t *addr[2];
    uint16_t port[2];
} hu_tcpprint_ends;

/*
 * tcpdump keeps each conversation's relative-sequence bases for as long as
 * it runs (print-tcp.c tcp_seq_hash, keyed by addresses and ports; a SYN
 * sets them anew).  hangup keeps them in the connection (flow.c), which
 * is released 10 s after its close or when idle; this table holds the
 * bases of released conversations, so that a packet of one seen again (a
 * FIN resent after the close, a port reused without a SYN) prints as
 * tcpdump prints it.  It is bounded: it holds what the last `max` puts
 * put (less what was taken back since) and forgets older ones
 * (docs/DESIGN.md §7).  A
 * conversation is keyed by its endpoints in tcpdump's order (side 0 the
 * lower port, then the lower address) and `hash`, any hash of them the
 * caller computes the same way for put and take.
 */
#define HU_TCPPRINT_CONVS_MAX 65536   /* about 56 bytes each: 3.5 MiB when full */
typedef struct hu_tcpprint_convs hu_tcpprint_convs;

/* An empty table for at most max conversations (max > 0); NULL on
 * allocation failure.  Its slots are allocated on the first put. */
hu_tcpprint_convs *hu_tcpprint_convs_new(size_t max);
void hu_tcpprint_convs_free(hu_tcpprint_convs *c);   /* NULL: no-op */
/* Keep conv's bases (base[i] for side i), replacing any it held for conv
 * and, when full, forgetting the conversation put longest ago.  Out of
 * memory, nothing is kept. */
void hu_tcpprint_convs_put(hu_tcpprint_convs *c, const hu_tcpprint_ends *conv, uint32_t hash,
                           const uint32_t base[2]);
/* Move conv's bases out of the table into base: true when it held them. */
bool hu_tcpprint_convs_take(hu_tcpprint_convs *c, const hu_tcpprint_ends *conv, uint32_t hash,
                            uint32_t base[2]);

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
