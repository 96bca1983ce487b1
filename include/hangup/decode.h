/*
 * decode.h -- link layer -> encapsulations -> IPv4/IPv6 -> TCP decoding
 * of one frame.
 */
#ifndef HANGUP_DECODE_H
#define HANGUP_DECODE_H

#include <pcap/dlt.h>
#include <stddef.h>
#include "hangup/packet.h"

/* Link types an older libpcap's headers may not name (the values are
 * fixed by tcpdump.org's registry). */
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

typedef enum hu_decode_rc {
    HU_DEC_TCP = 0,   /* a TCP segment: *out is filled */
    HU_DEC_SKIP,      /* well formed, but not TCP over IP (ARP, UDP, a later
                         IPv4 fragment, ...): silently ignored */
    HU_DEC_BAD,       /* malformed or cut short: *why says what */
} hu_decode_rc;

/* True when hangup can decode frames of this DLT_* link type. */
bool hu_decode_link_supported(int dlt);

/*
 * Decode one frame of link type `dlt` (a DLT_* value from pcap_datalink()).
 * `caplen` bytes are readable at `data`; `wirelen` is the frame's length
 * on the wire (an IP length field of 0, TSO's and BIG TCP's, takes it).
 * The innermost TCP segment is the packet; the encapsulation headers
 * before it are recorded in out->encap_* (at most HU_ENCAP_MAX: a frame
 * nested deeper is HU_DEC_BAD).  On HU_DEC_TCP, out's pointer fields
 * alias `data`.  On HU_DEC_BAD, *why points to a static string naming the
 * problem (never NULL then).  Never reads outside data[0, caplen).
 */
hu_decode_rc hu_decode_wire(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                            hu_pkt *out, const char **why);
/* hu_decode_wire for a frame whose wire length is its captured length. */
hu_decode_rc hu_decode(int dlt, const uint8_t *data, uint32_t caplen,
                       hu_pkt *out, const char **why);

#endif
