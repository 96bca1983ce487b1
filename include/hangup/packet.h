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

typedef struct hu_pkt {
    /* Where the packet sits in its file. */
    uint64_t num;      /* 1-based packet number, as Wireshark counts */
    int64_t ts_us;     /* capture time, microseconds since the epoch */

    /* Link layer facts the timeline printer needs (LINUX_SLL2 prefix). */
    bool has_sll2;
    uint8_t pkttype;   /* sll_pkttype, or HU_PKTTYPE_NONE */
    uint32_t ifindex;  /* SLL2 interface index */

    /* Network layer. */
    uint8_t ipver;     /* 4 or 6 */
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

    /* tcpdump's payload suffix (": HTTP: GET / HTTP/1.1") when it was
     * rendered ahead (suffix_ready; suffix_len 0 for none; not
     * NUL-terminated).  Otherwise (hu_decode leaves suffix_ready false, as
     * does zeroing) the flow tracker renders it itself. */
    bool suffix_ready;
    uint32_t suffix_len;
    const char *suffix;
} hu_pkt;

/* Sequence-space comparisons (RFC 793 modular arithmetic). */
static inline bool hu_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool hu_seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool hu_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool hu_seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif
