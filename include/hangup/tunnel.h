/*
 * tunnel.h -- the encapsulation headers a mirrored or tapped TCP segment
 * can sit behind: VXLAN and Geneve (over UDP), GRE (with ERSPAN types I,
 * II and III), MPLS label stacks, PPPoE sessions, 802.2 LLC/SNAP and the
 * NFLOG link type.  Each function reads one such header and says what it
 * carries; decode.c walks the chain (docs/DESIGN.md §3.7).
 *
 * Every function reads only p[0, len): len is what was captured of the
 * header and what follows.  None of them recurses or allocates.
 */
#ifndef HANGUP_TUNNEL_H
#define HANGUP_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

/* Well-known UDP ports tcpdump decodes these tunnels on. */
#define HU_TUN_VXLAN_PORT 4789
#define HU_TUN_GENEVE_PORT 6081

typedef enum hu_tun_rc {
    HU_TUN_PEELED,   /* *nx says what follows, at p + nx->hdrlen */
    HU_TUN_SKIP,     /* well formed, but carries nothing hangup reads */
    HU_TUN_BAD,      /* malformed or cut short: *why says what */
} hu_tun_rc;

typedef enum hu_tun_inner {
    HU_TUN_ETHER,       /* an Ethernet frame */
    HU_TUN_ETHERTYPE,   /* the protocol nx->ethertype names (IPv4, IPv6, MPLS, ...) */
    HU_TUN_IP,          /* an IP packet; its version nibble says which */
} hu_tun_inner;

typedef struct hu_tun_next {
    hu_tun_inner inner;
    uint16_t ethertype;   /* for HU_TUN_ETHERTYPE */
    uint32_t hdrlen;      /* bytes of the header(s) peeled */
    uint8_t kind;         /* the hu_encap_kind the header is recorded as, 0 for none */
} hu_tun_next;

/* The payload of a UDP datagram (after its 8-byte header) on ports sport
 * and dport: VXLAN or Geneve by tcpdump's port rules; HU_TUN_SKIP for any
 * other port. */
hu_tun_rc hu_tunnel_udp(uint16_t sport, uint16_t dport, const uint8_t *p, uint32_t len,
                        hu_tun_next *nx, const char **why);

/* A GRE header, version 0.  An ERSPAN header after it (protocol 0x88be
 * without a sequence number: type I, none; with one: type II, 8 bytes;
 * 0x22eb: type III, 12 bytes and 8 more with its platform subheader) is
 * peeled too: hdrlen covers both, and an Ethernet frame follows. */
hu_tun_rc hu_tunnel_gre(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why);

/* An MPLS label stack, up to its bottom-of-stack label; what it carries is
 * decided as tcpdump decides (the explicit-null labels, then the first
 * nibble of the payload). */
hu_tun_rc hu_tunnel_mpls(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why);

/* A PPPoE session header (ethertype 0x8864) and its PPP protocol field;
 * *paylen is set to the PPP payload length the PPPoE header claims. */
hu_tun_rc hu_tunnel_pppoe(const uint8_t *p, uint32_t len, hu_tun_next *nx, uint32_t *paylen,
                          const char **why);

/* The 802.2 LLC header of an IEEE 802.3 frame (an Ethernet length field
 * instead of a type); only SNAP with an Ethernet-type OUI carries IP. */
hu_tun_rc hu_tunnel_llc(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why);

/* A DLT_NFLOG record: its 4-byte header and TLVs, up to the packet
 * (NFULA_PAYLOAD); nx->hdrlen is where the packet starts and *paylen its
 * length.  TLV lengths are in the capturing host's byte order: either is
 * accepted. */
hu_tun_rc hu_tunnel_nflog(const uint8_t *p, uint32_t len, hu_tun_next *nx, uint32_t *paylen,
                          const char **why);

#endif
