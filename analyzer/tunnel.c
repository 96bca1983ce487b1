/*
 * tunnel.c -- one encapsulation header at a time (see tunnel.h).
 *
 * Cloud traffic mirroring and taps hand over traffic inside tunnels: AWS
 * and Azure mirror over VXLAN, gateway load balancers use Geneve, SPAN and
 * RSPAN arrive over GRE/ERSPAN, and provider links carry MPLS label
 * stacks, PPPoE sessions and 802.2 LLC/SNAP frames; Linux's NFLOG link
 * type wraps each packet in netlink attributes.  Each function here reads
 * one such header, checking every length before it reads, and says what
 * follows; decode.c records the header for the timeline, bounds the
 * nesting and decodes what follows.  What is decoded, and what each
 * carries, follows tcpdump 4.99 (print-vxlan.c, print-geneve.c,
 * print-gre.c, print-mpls.c, print-pppoe.c, print-ppp.c, print-llc.c,
 * print-nflog.c), so that the packets hangup reads are the ones tcpdump
 * prints.
 */
#include "hangup/tunnel.h"

#include "hangup/packet.h"

enum { ET_TEB = 0x6558, ET_ERSPAN12 = 0x88be, ET_ERSPAN3 = 0x22eb, ET_IPV4 = 0x0800,
       ET_IPV6 = 0x86dd, ET_MPLS = 0x8847, ET_MPLS_MC = 0x8848 };

#define HU_MAX_MPLS_LABELS 16   /* deeper label stacks are garbage */

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* What an ethertype-named payload is, for the protocols hangup follows. */
static hu_tun_rc by_ethertype(uint16_t et, hu_tun_next *nx)
{
    switch (et) {
    case ET_TEB:
        nx->inner = HU_TUN_ETHER;
        return HU_TUN_PEELED;
    case ET_IPV4: case ET_IPV6: case ET_MPLS: case ET_MPLS_MC:
        nx->inner = HU_TUN_ETHERTYPE;
        nx->ethertype = et;
        return HU_TUN_PEELED;
    default:
        return HU_TUN_SKIP;
    }
}

hu_tun_rc hu_tunnel_udp(uint16_t sport, uint16_t dport, const uint8_t *p, uint32_t len,
                        hu_tun_next *nx, const char **why)
{
    bool vxlan = sport == HU_TUN_VXLAN_PORT || dport == HU_TUN_VXLAN_PORT;
    bool geneve = sport == HU_TUN_GENEVE_PORT || dport == HU_TUN_GENEVE_PORT;
    if (!vxlan && !geneve)
        return HU_TUN_SKIP;
    if (len < 8) {
        *why = vxlan ? "VXLAN header cut short" : "Geneve header cut short";
        return HU_TUN_BAD;
    }
    if (vxlan && !geneve) {
        nx->kind = HU_ENC_VXLAN;
        nx->hdrlen = 8;
        nx->inner = HU_TUN_ETHER;
        return HU_TUN_PEELED;
    }
    if (p[0] >> 6 != 0)
        return HU_TUN_SKIP;   /* a Geneve version tcpdump does not decode either */
    nx->kind = HU_ENC_GENEVE;
    nx->hdrlen = 8 + (uint32_t)(p[0] & 0x3f) * 4;
    if (nx->hdrlen > len) {
        *why = "Geneve options cut short";
        return HU_TUN_BAD;
    }
    return by_ethertype(rd16(p + 2), nx);
}

hu_tun_rc hu_tunnel_gre(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why)
{
    if (len < 4) {
        *why = "GRE header cut short";
        return HU_TUN_BAD;
    }
    uint16_t flags = rd16(p), proto = rd16(p + 2);
    /* Version 1 is PPTP's enhanced GRE (PPP, no IP tunnels users mirror
     * through); source routing (R) is deprecated and carries its routing
     * list, which tcpdump prints and no tap sends. */
    if ((flags & 0x7) != 0 || (flags & 0x4000))
        return HU_TUN_SKIP;
    uint32_t hl = 4 + ((flags & 0x8000) ? 4u : 0u) + ((flags & 0x2000) ? 4u : 0u) +
                  ((flags & 0x1000) ? 4u : 0u);
    if (hl > len) {
        *why = "GRE header cut short";
        return HU_TUN_BAD;
    }
    nx->kind = HU_ENC_GRE;
    if (proto == ET_ERSPAN12 || proto == ET_ERSPAN3) {
        uint32_t el = 0;
        if (proto == ET_ERSPAN3) {
            el = 12;
            if (len - hl >= 12 && (p[hl + 11] & 1))   /* O: the platform subheader */
                el = 20;
        } else if (flags & 0x1000) {
            el = 8;   /* type II; type I has no header and no sequence number */
        }
        if (el > len - hl) {
            *why = "ERSPAN header cut short";
            return HU_TUN_BAD;
        }
        nx->hdrlen = hl + el;
        nx->inner = HU_TUN_ETHER;
        return HU_TUN_PEELED;
    }
    nx->hdrlen = hl;
    return by_ethertype(proto, nx);
}

hu_tun_rc hu_tunnel_mpls(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why)
{
    uint32_t off = 0, entry = 0;
    for (int n = 0;; n++) {
        if (n == HU_MAX_MPLS_LABELS) {
            *why = "MPLS label stack deeper than 16";
            return HU_TUN_BAD;
        }
        if (len - off < 4) {
            *why = "MPLS label stack cut short";
            return HU_TUN_BAD;
        }
        entry = (uint32_t)rd16(p + off) << 16 | rd16(p + off + 2);
        off += 4;
        if (entry & 0x100)   /* bottom of stack */
            break;
    }
    nx->kind = HU_ENC_MPLS;
    nx->hdrlen = off;
    nx->inner = HU_TUN_ETHERTYPE;
    switch (entry >> 12) {
    case 0: case 3:   /* IPv4 explicit and implicit null */
        nx->ethertype = ET_IPV4;
        return HU_TUN_PEELED;
    case 2:           /* IPv6 explicit null */
        nx->ethertype = ET_IPV6;
        return HU_TUN_PEELED;
    default:          /* the payload's first byte, as tcpdump guesses */
        if (len - off < 1)
            return HU_TUN_SKIP;
        if (p[off] >= 0x45 && p[off] <= 0x4f)
            nx->ethertype = ET_IPV4;
        else if (p[off] >= 0x60 && p[off] <= 0x6f)
            nx->ethertype = ET_IPV6;
        else
            return HU_TUN_SKIP;
        return HU_TUN_PEELED;
    }
}

hu_tun_rc hu_tunnel_pppoe(const uint8_t *p, uint32_t len, hu_tun_next *nx, uint32_t *paylen,
                          const char **why)
{
    if (len < 6) {
        *why = "PPPoE header cut short";
        return HU_TUN_BAD;
    }
    if (p[0] != 0x11 || p[1] != 0)
        return HU_TUN_SKIP;   /* another version, or discovery rather than session data */
    uint32_t plen = rd16(p + 4), off = 6;
    if (plen > len - 6) {
        *why = "PPPoE length runs past the captured bytes";
        return HU_TUN_BAD;
    }
    const uint8_t *q = p + 6;
    uint32_t left = plen;
    if (left >= 2 && q[0] == 0xff && q[1] == 0x03) {   /* address and control */
        q += 2;
        left -= 2;
    }
    uint16_t proto;
    if (left >= 1 && (q[0] & 1)) {   /* protocol-field compression */
        proto = q[0];
        q += 1;
        left -= 1;
    } else if (left >= 2) {
        proto = rd16(q);
        q += 2;
        left -= 2;
    } else {
        *why = "PPP protocol field cut short";
        return HU_TUN_BAD;
    }
    off = (uint32_t)(q - p);
    if (proto != 0x0021 && proto != 0x0057)
        return HU_TUN_SKIP;   /* LCP, IPCP, ...: control, not IP */
    nx->kind = HU_ENC_PPPOE;
    nx->hdrlen = off;
    nx->inner = HU_TUN_IP;
    *paylen = left;
    return HU_TUN_PEELED;
}

hu_tun_rc hu_tunnel_llc(const uint8_t *p, uint32_t len, hu_tun_next *nx, const char **why)
{
    if (len < 3) {
        *why = "802.2 LLC header cut short";
        return HU_TUN_BAD;
    }
    if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03)
        return HU_TUN_SKIP;   /* not SNAP: spanning tree, NetBIOS, ... */
    if (len < 8) {
        *why = "SNAP header cut short";
        return HU_TUN_BAD;
    }
    uint32_t oui = rd24(p + 3);
    if (oui != 0 && oui != 0xf8)   /* RFC 1042 and 802.1H: an Ethernet type follows */
        return HU_TUN_SKIP;
    nx->kind = 0;   /* tcpdump prints nothing for it without -e */
    nx->hdrlen = 8;
    nx->inner = HU_TUN_ETHERTYPE;
    nx->ethertype = rd16(p + 6);
    return HU_TUN_PEELED;
}

hu_tun_rc hu_tunnel_nflog(const uint8_t *p, uint32_t len, hu_tun_next *nx, uint32_t *paylen,
                          const char **why)
{
    if (len < 4) {
        *why = "NFLOG header cut short";
        return HU_TUN_BAD;
    }
    if (p[0] != 2 && p[0] != 10)
        return HU_TUN_SKIP;   /* neither AF_INET nor AF_INET6 */
    if (p[1] != 0) {
        *why = "NFLOG header with a version other than 0";
        return HU_TUN_BAD;
    }
    /* Each TLV advances by at least 4 bytes: the walk ends.  Attribute
     * types are small numbers, so the byte that holds a nonzero low byte
     * of the type tells the writer's byte order. */
    for (uint32_t off = 4; off < len;) {
        if (len - off < 4) {
            *why = "NFLOG attribute cut short";
            return HU_TUN_BAD;
        }
        bool le = p[off + 2] != 0;
        uint32_t tl = le ? (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 : rd16(p + off);
        uint32_t ty = le ? p[off + 2] : p[off + 3];
        if (tl < 4) {
            *why = "NFLOG attribute shorter than its header";
            return HU_TUN_BAD;
        }
        if (ty == 9) {   /* NFULA_PAYLOAD: what the snapshot kept of it follows */
            nx->kind = 0;   /* tcpdump prints nothing for it without -e */
            nx->hdrlen = off + 4;
            nx->inner = HU_TUN_IP;
            *paylen = tl - 4;
            return HU_TUN_PEELED;
        }
        uint32_t step = (tl + 3) & ~3u;
        if (step > len - off) {
            *why = "NFLOG attribute length runs past the captured bytes";
            return HU_TUN_BAD;
        }
        off += step;
    }
    return HU_TUN_SKIP;   /* a record without a packet */
}
