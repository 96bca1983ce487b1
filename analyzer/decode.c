/*
 * decode.c -- from a raw frame to a hu_pkt.
 *
 * hangup reads whatever link type the capture was taken on, peels the link
 * header (Ethernet with any number of 802.1Q/802.1ad tags up to a bound,
 * Linux cooked v1 and v2, BSD loopback in either byte order, raw IP), then
 * IPv4 or IPv6 (walking IPv6 extension headers), then the TCP header.
 *
 * Every read goes through hu_rd16/hu_rd32 on a (pointer, remaining length)
 * pair that has been checked first: a frame is hostile input.  A frame that
 * is cut short or lies about its lengths yields HU_DEC_BAD with a reason; a
 * frame that is simply not TCP yields HU_DEC_SKIP.
 */
#include "hangup/decode.h"

#include <pcap/dlt.h>
#include <string.h>

#define HU_MAX_VLAN_TAGS 8      /* QinQ stacks deeper than this are garbage */
#define HU_MAX_IP6_EXTHDRS 16   /* bound on the extension-header walk */

enum { ET_IPV4 = 0x0800, ET_IPV6 = 0x86dd, ET_VLAN = 0x8100,
       ET_QINQ = 0x88a8, ET_QINQ_OLD = 0x9100 };

static inline uint16_t hu_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t hu_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool hu_decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_NULL: case DLT_LOOP: case DLT_RAW:
#if DLT_RAW != 14
    case 14:
#endif
    case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_IPV4: case DLT_IPV6:
        return true;
    default:
        return false;
    }
}

/* TCP header at p, `len` captured bytes, `wirelen` bytes of IP payload. */
static hu_decode_rc decode_tcp(const uint8_t *p, uint32_t len, uint32_t wirelen,
                               hu_pkt *out, const char **why)
{
    if (len < 20) {
        *why = "TCP header cut short by the snapshot length";
        return HU_DEC_BAD;
    }
    uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
    if (hlen < 20) {
        *why = "TCP data offset below the 20-byte minimum";
        return HU_DEC_BAD;
    }
    if (hlen > wirelen) {
        *why = "TCP data offset points past the end of the IP packet";
        return HU_DEC_BAD;
    }
    /* Options cut by the snapshot length still leave every fact the
     * tracker needs (ports, numbers, flags): such a segment is kept, with
     * only its captured option bytes readable and no payload. */
    uint32_t kept = hlen <= len ? hlen : len;
    out->sport = hu_rd16(p);
    out->dport = hu_rd16(p + 2);
    out->seq = hu_rd32(p + 4);
    out->ack = hu_rd32(p + 8);
    out->flags = p[13];
    out->win = hu_rd16(p + 14);
    out->urp = hu_rd16(p + 18);
    out->optlen = (uint8_t)(hlen - 20);
    out->optcap = (uint8_t)(kept - 20);
    out->opts = p + 20;
    out->paylen = wirelen - hlen;
    out->capturedlen = len - kept < out->paylen ? len - kept : out->paylen;
    out->payload = p + kept;
    return HU_DEC_TCP;
}

static hu_decode_rc decode_ipv4(const uint8_t *p, uint32_t len, hu_pkt *out,
                                const char **why)
{
    if (len < 20) {
        *why = "IPv4 header cut short by the snapshot length";
        return HU_DEC_BAD;
    }
    if ((p[0] >> 4) != 4) {
        *why = "IPv4 packet with a version field other than 4";
        return HU_DEC_BAD;
    }
    uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
    if (ihl < 20) {
        *why = "IPv4 header length below the 20-byte minimum";
        return HU_DEC_BAD;
    }
    if (ihl > len) {
        *why = "IPv4 header length points past the captured bytes";
        return HU_DEC_BAD;
    }
    uint32_t total = hu_rd16(p + 2);
    if (total == 0)     /* TSO: the sending host's capture shows 0 */
        total = len;
    if (total < ihl) {
        *why = "IPv4 total length smaller than its header";
        return HU_DEC_BAD;
    }
    if (p[9] != 6)
        return HU_DEC_SKIP;
    if ((hu_rd16(p + 6) & 0x1fff) != 0)   /* later fragment: no TCP header */
        return HU_DEC_SKIP;
    out->ipver = 4;
    out->l3 = p;
    out->l3len = len < total ? len : total;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    uint32_t caplen = len < total ? len : total;  /* drop link padding */
    return decode_tcp(p + ihl, caplen - ihl, total - ihl, out, why);
}

static hu_decode_rc decode_ipv6(const uint8_t *p, uint32_t len, hu_pkt *out,
                                const char **why)
{
    if (len < 40) {
        *why = "IPv6 header cut short by the snapshot length";
        return HU_DEC_BAD;
    }
    if ((p[0] >> 4) != 6) {
        *why = "IPv6 packet with a version field other than 6";
        return HU_DEC_BAD;
    }
    uint32_t plen = hu_rd16(p + 4);
    if (plen == 0) {
        *why = "IPv6 payload length 0 (jumbogram) is not supported";
        return HU_DEC_BAD;
    }
    uint32_t caplen = len - 40 < plen ? len - 40 : plen;
    uint8_t nh = p[6];
    const uint8_t *q = p + 40;
    uint32_t off = 0;   /* bytes of extension headers walked */
    for (int i = 0;; i++) {
        if (nh == 6)
            break;
        if (i == HU_MAX_IP6_EXTHDRS) {
            *why = "IPv6 extension-header chain too long";
            return HU_DEC_BAD;
        }
        uint32_t ext;
        switch (nh) {
        case 0: case 43: case 60: case 135: case 139: case 140:
            if (caplen - off < 2)
                goto cut;
            ext = ((uint32_t)q[off + 1] + 1) * 8;
            break;
        case 51:   /* AH: length in 4-octet units, minus 2 */
            if (caplen - off < 2)
                goto cut;
            ext = ((uint32_t)q[off + 1] + 2) * 4;
            break;
        case 44:   /* fragment */
            if (caplen - off < 8)
                goto cut;
            if ((hu_rd16(q + off + 2) & 0xfff8) != 0)
                return HU_DEC_SKIP;   /* later fragment */
            ext = 8;
            break;
        default:   /* no next header, ESP, UDP, ICMPv6, ... */
            return HU_DEC_SKIP;
        }
        if (ext > plen - off) {
            *why = "IPv6 extension header runs past the payload length";
            return HU_DEC_BAD;
        }
        if (ext > caplen - off)
            goto cut;
        nh = q[off];
        off += ext;
    }
    out->ipver = 6;
    out->l3 = NULL;
    out->l3len = 0;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    return decode_tcp(q + off, caplen - off, plen - off, out, why);
cut:
    *why = "IPv6 extension headers cut short by the snapshot length";
    return HU_DEC_BAD;
}

static hu_decode_rc decode_ethertype(uint16_t et, const uint8_t *p, uint32_t len,
                                     hu_pkt *out, const char **why)
{
    if (et == ET_IPV4)
        return decode_ipv4(p, len, out, why);
    if (et == ET_IPV6)
        return decode_ipv6(p, len, out, why);
    return HU_DEC_SKIP;
}

/* IP version nibble decides, for link types that carry bare IP. */
static hu_decode_rc decode_raw_ip(const uint8_t *p, uint32_t len, hu_pkt *out,
                                  const char **why)
{
    if (len < 1) {
        *why = "empty packet";
        return HU_DEC_BAD;
    }
    switch (p[0] >> 4) {
    case 4: return decode_ipv4(p, len, out, why);
    case 6: return decode_ipv6(p, len, out, why);
    default: return HU_DEC_SKIP;
    }
}

/* BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 is
 * 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
static hu_decode_rc decode_null(const uint8_t *p, uint32_t len, bool netorder,
                                hu_pkt *out, const char **why)
{
    if (len < 4) {
        *why = "loopback header cut short";
        return HU_DEC_BAD;
    }
    uint32_t be = hu_rd32(p);
    uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    /* DLT_NULL is host order of the writer: accept either. */
    uint32_t af = netorder ? be : (le < 256 ? le : be);
    switch (af) {
    case 2: return decode_ipv4(p + 4, len - 4, out, why);
    case 10: case 24: case 28: case 30: return decode_ipv6(p + 4, len - 4, out, why);
    default: return HU_DEC_SKIP;
    }
}

hu_decode_rc hu_decode(int dlt, const uint8_t *data, uint32_t caplen, hu_pkt *out,
                       const char **why)
{
    out->has_sll2 = false;
    out->pkttype = HU_PKTTYPE_NONE;
    out->ifindex = 0;
    out->suffix_ready = false;
    *why = NULL;

    switch (dlt) {
    case DLT_EN10MB: {
        if (caplen < 14) {
            *why = "Ethernet header cut short";
            return HU_DEC_BAD;
        }
        uint32_t off = 12;
        uint16_t et = hu_rd16(data + off);
        for (int tags = 0; et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD; tags++) {
            if (tags == HU_MAX_VLAN_TAGS) {
                *why = "too many stacked VLAN tags";
                return HU_DEC_BAD;
            }
            off += 4;
            if (caplen < off + 2) {
                *why = "VLAN tag cut short";
                return HU_DEC_BAD;
            }
            et = hu_rd16(data + off);
        }
        off += 2;
        return decode_ethertype(et, data + off, caplen - off, out, why);
    }
    case DLT_LINUX_SLL:
        if (caplen < 16) {
            *why = "Linux cooked header cut short";
            return HU_DEC_BAD;
        }
        out->pkttype = (uint8_t)hu_rd16(data);
        return decode_ethertype(hu_rd16(data + 14), data + 16, caplen - 16, out, why);
    case DLT_LINUX_SLL2:
        if (caplen < 20) {
            *why = "Linux cooked v2 header cut short";
            return HU_DEC_BAD;
        }
        out->has_sll2 = true;
        out->ifindex = hu_rd32(data + 4);
        out->pkttype = data[10];
        return decode_ethertype(hu_rd16(data), data + 20, caplen - 20, out, why);
    case DLT_NULL:
        return decode_null(data, caplen, false, out, why);
    case DLT_LOOP:
        return decode_null(data, caplen, true, out, why);
    case DLT_RAW:
#if DLT_RAW != 14
    case 14:
#endif
        return decode_raw_ip(data, caplen, out, why);
    case DLT_IPV4:
        return decode_ipv4(data, caplen, out, why);
    case DLT_IPV6:
        return decode_ipv6(data, caplen, out, why);
    default:
        *why = "unsupported link type";
        return HU_DEC_BAD;
    }
}
