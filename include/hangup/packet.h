/*
 * packet.h -- the decoded view of one captured TCP segment.
 *
 * decode.c fills a hu_pkt from raw link-layer bytes; every later stage
 * (flow tracker, detector, timeline printer) reads only this struct, never
 * the raw frame again.  Pointers inside a hu_pkt alias the capture buffer
 * and are valid only until the next packet is read: a stage that needs
 * bytes later copies them.
 */
#ifndef HANGUP_PACKET_H
#define HANGUP_PACKET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* TCP flag bits, as in the 13th byte of the TCP header. */
enum {
    HU_TH_FIN = 0x01,
    HU_TH_SYN = 0x02,
    HU_TH_RST = 0x04,
    HU_TH_PUSH = 0x08,
    HU_TH_ACK = 0x10,
    HU_TH_URG = 0x20,
    HU_TH_ECE = 0x40,
    HU_TH_CWR = 0x80,
};

/* Direction of a LINUX_SLL / LINUX_SLL2 packet (the sll_pkttype field). */
enum { HU_PKTTYPE_NONE = 0xff };

/* The encapsulation headers decode.c peeled to reach the TCP segment
 * (docs/DESIGN.md §3.7), outermost first, as tcpdump prints one: an outer
 * IP header and the tunnel header it carries are two of them, an MPLS
 * label stack is one. */
typedef enum hu_encap_kind {
    HU_ENC_IP4 = 1,   /* an outer IPv4 header (its UDP ports too, for VXLAN/Geneve) */
    HU_ENC_IP6,       /* an outer IPv6 header */
    HU_ENC_VXLAN,     /* the VXLAN header */
    HU_ENC_GENEVE,    /* the Geneve header */
    HU_ENC_GRE,       /* a GRE header (GRE in IP, gretap; ERSPAN's header with it) */
    HU_ENC_MPLS,      /* an MPLS label stack */
    HU_ENC_PPPOE,     /* a PPPoE session header and its PPP protocol */
} hu_encap_kind;
#define HU_ENCAP_MAX 16   /* headers peeled at most: 8 tunnels of IP + header */

typedef struct hu_pkt {
    /* Where the packet sits in its file. */
    uint64_t num;      /* 1-based packet number, as Wireshark counts */
    int64_t ts_us;     /* capture time, microseconds since the epoch */

    /* Link layer facts the timeline printer needs (LINUX_SLL2 prefix). */
    bool has_sll2;
    uint8_t pkttype;   /* sll_pkttype, or HU_PKTTYPE_NONE */
    uint32_t ifindex;  /* SLL2 interface index */

    /* Encapsulations: nencap headers, each of encap_kind[i] at
     * frame + encap_off[i], encap_len[i] bytes of it and what it carries
     * on the wire (tcpprint.c renders them as tcpdump does). */
    const uint8_t *frame;
    uint8_t nencap;
    uint8_t encap_kind[HU_ENCAP_MAX];
    uint16_t encap_off[HU_ENCAP_MAX];
    uint32_t encap_len[HU_ENCAP_MAX];

    /* Network layer. */
    uint8_t ipver;     /* 4 or 6 */
    const uint8_t *iph;/* the IP header the segment is in (either version) */
    const uint8_t *l3; /* the IPv4 header as captured (NULL for IPv6) */
    uint32_t l3len;    /* bytes from l3 to the end of the IP packet, captured */
    uint8_t src[16];   /* IPv4 addresses use the first 4 bytes */
    uint8_t dst[16];

    /* TCP header. */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;     /* HU_TH_* */
    uint16_t win, urp;
    uint8_t optlen;    /* bytes of TCP options in the header (0..40) */
    uint8_t optcap;    /* of those, captured: read opts only this far (fewer
                          than optlen when the snapshot cut the header, and
                          then capturedlen is 0) */
    const uint8_t *opts;

    /* Payload: paylen is the length on the wire (from the IP length
     * fields); capturedlen <= paylen is what the snapshot kept. */
    uint32_t paylen;
    uint32_t capturedlen;
    const uint8_t *payload;

    /* tcpdump's text for the packet beyond its plain TCP line, when it was
     * rendered ahead (suffix_ready; suffix_len 0 for none; not
     * NUL-terminated): suffix_pre bytes for the encapsulations (printed
     * before the inner "IP"), then suffix_ext bytes for IPv6 extension
     * headers ("HBH "), then the payload suffix (": HTTP: GET / HTTP/1.1").
     * Otherwise (hu_decode leaves suffix_ready false, as does zeroing) the
     * pipeline renders it (hu_tcpprint_packet_text). */
    bool suffix_ready;
    uint16_t suffix_pre;
    uint16_t suffix_ext;
    uint32_t suffix_len;
    const char *suffix;
} hu_pkt;

/* Sequence-space comparisons (RFC 793 modular arithmetic). */
/* Two addresses of IP version ipver (4: the first 4 bytes, else 16) are
 * the same. */
static inline bool hu_addr_eq(uint8_t ipver, const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, ipver == 4 ? 4 : 16) == 0;
}

static inline bool hu_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool hu_seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool hu_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool hu_seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif
