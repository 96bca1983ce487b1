/*
 * decode.c -- from a raw frame to a hu_pkt.
 *
 * hangup reads whatever link type the capture was taken on, peels the link
 * header (Ethernet with any number of 802.1Q/802.1ad tags up to a bound
 * and 802.2 LLC/SNAP frames, Linux cooked v1 and v2, BSD loopback in
 * either byte order, raw IP, NFLOG), then IPv4 or IPv6 (walking IPv6
 * extension headers, IPv6 jumbograms included), then the TCP header.
 * Between them it peels the tunnels users capture through (tunnel.c reads
 * each header: VXLAN, Geneve, GRE and ERSPAN, IP-in-IP and 6in4, MPLS,
 * PPPoE), nested up to HU_ENCAP_MAX headers, recording each in the
 * hu_pkt so the timeline can print it as tcpdump does (docs/DESIGN.md
 * §3.7).  The packet hangup analyses is the innermost TCP segment.
 *
 * Every read goes through hu_rd16/hu_rd32 on a (pointer, remaining length)
 * pair that has been checked first: a frame is hostile input.  A frame that
 * is cut short or lies about its lengths yields HU_DEC_BAD with a reason; a
 * frame that is simply not TCP yields HU_DEC_SKIP.  Besides the captured
 * length each layer knows its length on the wire, so that an IP length
 * field of 0 (TSO and BIG TCP on the sending host) takes the wire's.
 */
#include "hangup/decode.h"

#include "hangup/tunnel.h"

#include <pcap/dlt.h>
#include <string.h>

#define HU_MAX_VLAN_TAGS 8      /* QinQ stacks deeper than this are garbage */
#define HU_MAX_IP6_EXTHDRS 16   /* bound on the extension-header walk */

enum { ET_IPV4 = 0x0800, ET_IPV6 = 0x86dd, ET_VLAN = 0x8100,
       ET_QINQ = 0x88a8, ET_QINQ_OLD = 0x9100, ET_MPLS = 0x8847, ET_MPLS_MC = 0x8848,
       ET_PPPOE = 0x8864 };

#ifndef DLT_NFLOG
#define DLT_NFLOG 239
#endif

static inline uint16_t hu_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t hu_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One frame being decoded: where it starts (encapsulation offsets count
 * from there), the packet being filled, and the reason for HU_DEC_BAD. */
typedef struct dec {
    const uint8_t *frame;
    hu_pkt *out;
    const char **why;
} dec;

static hu_decode_rc bad(dec *d, const char *why)
{
    *d->why = why;
    return HU_DEC_BAD;
}

/* Record an encapsulation header of `kind` at `at`, `len` bytes on the
 * wire with what it carries. */
static bool push_encap(dec *d, uint8_t kind, const uint8_t *at, uint32_t len)
{
    hu_pkt *o = d->out;
    size_t off = (size_t)(at - d->frame);
    if (o->nencap == HU_ENCAP_MAX) {
        *d->why = "encapsulations nested deeper than 16 headers";
        return false;
    }
    if (off > UINT16_MAX) {
        *d->why = "encapsulation header more than 64 KiB into the frame";
        return false;
    }
    o->encap_kind[o->nencap] = kind;
    o->encap_off[o->nencap] = (uint16_t)off;
    o->encap_len[o->nencap] = len;
    o->nencap++;
    return true;
}

static hu_decode_rc decode_ipv4(dec *d, const uint8_t *p, uint32_t len, uint32_t wire);
static hu_decode_rc decode_ipv6(dec *d, const uint8_t *p, uint32_t len, uint32_t wire);
static hu_decode_rc decode_ethertype(dec *d, uint16_t et, const uint8_t *p, uint32_t len,
                                     uint32_t wire);
static hu_decode_rc decode_ether(dec *d, const uint8_t *p, uint32_t len, uint32_t wire);
static hu_decode_rc decode_raw_ip(dec *d, const uint8_t *p, uint32_t len, uint32_t wire);

bool hu_decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_NULL: case DLT_LOOP: case DLT_RAW:
#if DLT_RAW != 14
    case 14:
#endif
    case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_IPV4: case DLT_IPV6: case DLT_NFLOG:
        return true;
    default:
        return false;
    }
}

/* TCP header at p, `len` captured bytes, `wirelen` bytes of IP payload. */
static hu_decode_rc decode_tcp(dec *d, const uint8_t *p, uint32_t len, uint32_t wirelen)
{
    hu_pkt *out = d->out;
    if (len < 20)
        return bad(d, "TCP header cut short by the snapshot length");
    uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
    if (hlen < 20)
        return bad(d, "TCP data offset below the 20-byte minimum");
    if (hlen > wirelen)
        return bad(d, "TCP data offset points past the end of the IP packet");
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

/* What a tunnel header carries, after tunnel.c peeled it (nx) at p:
 * record the header, then decode the inner packet. */
static hu_decode_rc decode_inner(dec *d, hu_tun_rc rc, const hu_tun_next *nx, const uint8_t *p,
                                 uint32_t len, uint32_t wire)
{
    if (rc == HU_TUN_SKIP)
        return HU_DEC_SKIP;
    if (rc == HU_TUN_BAD)
        return HU_DEC_BAD;
    if (nx->kind && !push_encap(d, nx->kind, p, wire))
        return HU_DEC_BAD;
    const uint8_t *q = p + nx->hdrlen;
    len -= nx->hdrlen;
    wire = wire > nx->hdrlen ? wire - nx->hdrlen : 0;
    switch (nx->inner) {
    case HU_TUN_ETHER: return decode_ether(d, q, len, wire);
    case HU_TUN_ETHERTYPE: return decode_ethertype(d, nx->ethertype, q, len, wire);
    default: return decode_raw_ip(d, q, len, wire);
    }
}

/*
 * The payload of an IP packet whose header is at ip (kind: HU_ENC_IP4 or
 * HU_ENC_IP6), protocol `proto`: TCP, or a tunnel (IP-in-IP, 6in4, GRE,
 * VXLAN and Geneve over UDP), whose outer IP header is then recorded.
 * `len` bytes of the payload are captured at p, `wire` on the wire.
 */
static hu_decode_rc decode_ip_payload(dec *d, uint8_t kind, const uint8_t *ip, uint8_t proto,
                                      const uint8_t *p, uint32_t len, uint32_t wire)
{
    hu_tun_next nx = {0};
    hu_tun_rc rc;
    switch (proto) {
    case 6:
        return decode_tcp(d, p, len, wire);
    case 4: case 41:
        if (!push_encap(d, kind, ip, wire))
            return HU_DEC_BAD;
        return proto == 4 ? decode_ipv4(d, p, len, wire) : decode_ipv6(d, p, len, wire);
    case 47:
        rc = hu_tunnel_gre(p, len, &nx, d->why);
        if (rc == HU_TUN_PEELED && !push_encap(d, kind, ip, wire))
            return HU_DEC_BAD;
        return decode_inner(d, rc, &nx, p, len, wire);
    case 17: {
        if (len < 8)
            return HU_DEC_SKIP;   /* not a tunnel hangup can tell */
        uint16_t sport = hu_rd16(p), dport = hu_rd16(p + 2);
        uint32_t ulen = hu_rd16(p + 4);
        rc = hu_tunnel_udp(sport, dport, p + 8, len - 8, &nx, d->why);
        if (rc != HU_TUN_PEELED)
            return rc == HU_TUN_SKIP ? HU_DEC_SKIP : HU_DEC_BAD;
        if (ulen < 8 || ulen > wire)
            return bad(d, "UDP length does not fit its IP packet");
        if (!push_encap(d, kind, ip, wire))
            return HU_DEC_BAD;
        uint32_t cap = len < ulen ? len : ulen;
        return decode_inner(d, rc, &nx, p + 8, cap - 8, ulen - 8);
    }
    default:
        return HU_DEC_SKIP;
    }
}

static hu_decode_rc decode_ipv4(dec *d, const uint8_t *p, uint32_t len, uint32_t wire)
{
    hu_pkt *out = d->out;
    if (len < 20)
        return bad(d, "IPv4 header cut short by the snapshot length");
    if ((p[0] >> 4) != 4)
        return bad(d, "IPv4 packet with a version field other than 4");
    uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
    if (ihl < 20)
        return bad(d, "IPv4 header length below the 20-byte minimum");
    if (ihl > len)
        return bad(d, "IPv4 header length points past the captured bytes");
    uint32_t total = hu_rd16(p + 2);
    if (total == 0)     /* TSO, BIG TCP: the sending host's capture shows 0 */
        total = wire > len ? wire : len;
    if (total < ihl)
        return bad(d, "IPv4 total length smaller than its header");
    if ((hu_rd16(p + 6) & 0x1fff) != 0)   /* later fragment: no TCP header */
        return HU_DEC_SKIP;
    uint32_t caplen = len < total ? len : total;  /* drop link padding */
    if (p[9] == 6) {
        out->ipver = 4;
        out->iph = p;
        out->l3 = p;
        out->l3len = caplen;
        memset(out->src, 0, sizeof out->src);
        memset(out->dst, 0, sizeof out->dst);
        memcpy(out->src, p + 12, 4);
        memcpy(out->dst, p + 16, 4);
    }
    return decode_ip_payload(d, HU_ENC_IP4, p, p[9], p + ihl, caplen - ihl, total - ihl);
}

/* The jumbo payload length in the hop-by-hop header at q (ext bytes, all
 * captured), or 0 when it holds none (RFC 2675: option 0xc2, 4 bytes). */
static uint32_t jumbo_len(const uint8_t *q, uint32_t ext)
{
    for (uint32_t i = 2; i < ext;) {
        if (q[i] == 0) {   /* Pad1 */
            i++;
            continue;
        }
        if (ext - i < 2 || q[i + 1] > ext - i - 2)
            return 0;
        if (q[i] == 0xc2 && q[i + 1] == 4)
            return hu_rd32(q + i + 2);
        i += 2u + q[i + 1];
    }
    return 0;
}

static hu_decode_rc decode_ipv6(dec *d, const uint8_t *p, uint32_t len, uint32_t wire)
{
    hu_pkt *out = d->out;
    if (len < 40)
        return bad(d, "IPv6 header cut short by the snapshot length");
    if ((p[0] >> 4) != 6)
        return bad(d, "IPv6 packet with a version field other than 6");
    uint32_t plen = hu_rd16(p + 4);
    uint8_t nh = p[6];
    const uint8_t *q = p + 40;
    if (plen == 0) {
        /* A jumbogram (RFC 2675: BIG TCP) says its length in a hop-by-hop
         * option; a capture on the sending host may show none at all. */
        uint32_t j = 0;
        if (nh == 0 && len - 40 >= 8 && len - 40 >= ((uint32_t)q[1] + 1) * 8)
            j = jumbo_len(q, ((uint32_t)q[1] + 1) * 8);
        plen = j ? j : (wire > len ? wire : len) - 40;
        if (plen == 0)
            return bad(d, "IPv6 payload length 0 and nothing after the header");
    }
    uint32_t caplen = len - 40 < plen ? len - 40 : plen;
    uint32_t off = 0;   /* bytes of extension headers walked */
    for (int i = 0;; i++) {
        if (nh == 6 || nh == 4 || nh == 41 || nh == 47 || nh == 17)
            break;
        if (i == HU_MAX_IP6_EXTHDRS)
            return bad(d, "IPv6 extension-header chain too long");
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
        default:   /* no next header, ESP, ICMPv6, ... */
            return HU_DEC_SKIP;
        }
        if (ext > plen - off)
            return bad(d, "IPv6 extension header runs past the payload length");
        if (ext > caplen - off)
            goto cut;
        nh = q[off];
        off += ext;
    }
    if (nh == 6) {
        out->ipver = 6;
        out->iph = p;
        out->l3 = NULL;
        out->l3len = 0;
        memcpy(out->src, p + 8, 16);
        memcpy(out->dst, p + 24, 16);
    }
    return decode_ip_payload(d, HU_ENC_IP6, p, nh, q + off, caplen - off, plen - off);
cut:
    return bad(d, "IPv6 extension headers cut short by the snapshot length");
}

static hu_decode_rc decode_ethertype(dec *d, uint16_t et, const uint8_t *p, uint32_t len,
                                     uint32_t wire)
{
    hu_tun_next nx = {0};
    uint32_t paylen = 0;
    hu_tun_rc rc;
    switch (et) {
    case ET_IPV4:
        return decode_ipv4(d, p, len, wire);
    case ET_IPV6:
        return decode_ipv6(d, p, len, wire);
    case ET_MPLS: case ET_MPLS_MC:
        rc = hu_tunnel_mpls(p, len, &nx, d->why);
        return decode_inner(d, rc, &nx, p, len, wire);
    case ET_PPPOE:
        rc = hu_tunnel_pppoe(p, len, &nx, &paylen, d->why);
        if (rc != HU_TUN_PEELED)
            return decode_inner(d, rc, &nx, p, len, wire);
        /* the PPPoE length bounds the packet: link padding follows */
        return decode_inner(d, rc, &nx, p, nx.hdrlen + paylen, nx.hdrlen + paylen);
    default:
        return HU_DEC_SKIP;
    }
}

/* An Ethernet header at p (an outer frame or one a tunnel carries): its
 * VLAN tags, then an Ethernet type, or an 802.3 length and 802.2 LLC. */
static hu_decode_rc decode_ether(dec *d, const uint8_t *p, uint32_t len, uint32_t wire)
{
    if (len < 14)
        return bad(d, "Ethernet header cut short");
    uint32_t off = 12;
    uint16_t et = hu_rd16(p + off);
    for (int tags = 0; et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD; tags++) {
        if (tags == HU_MAX_VLAN_TAGS)
            return bad(d, "too many stacked VLAN tags");
        off += 4;
        if (len < off + 2)
            return bad(d, "VLAN tag cut short");
        et = hu_rd16(p + off);
    }
    off += 2;
    wire = wire > off ? wire - off : 0;
    if (et <= 1500) {   /* IEEE 802.3: a length, and 802.2 LLC follows */
        uint32_t n = len - off < et ? len - off : et;
        hu_tun_next nx = {0};
        hu_tun_rc rc = hu_tunnel_llc(p + off, n, &nx, d->why);
        return decode_inner(d, rc, &nx, p + off, n, et);
    }
    return decode_ethertype(d, et, p + off, len - off, wire);
}

/* IP version nibble decides, for link types that carry bare IP. */
static hu_decode_rc decode_raw_ip(dec *d, const uint8_t *p, uint32_t len, uint32_t wire)
{
    if (len < 1)
        return bad(d, "empty packet");
    switch (p[0] >> 4) {
    case 4: return decode_ipv4(d, p, len, wire);
    case 6: return decode_ipv6(d, p, len, wire);
    default: return HU_DEC_SKIP;
    }
}

/* BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 is
 * 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
static hu_decode_rc decode_null(dec *d, const uint8_t *p, uint32_t len, uint32_t wire,
                                bool netorder)
{
    if (len < 4)
        return bad(d, "loopback header cut short");
    uint32_t be = hu_rd32(p);
    uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    /* DLT_NULL is host order of the writer: accept either. */
    uint32_t af = netorder ? be : (le < 256 ? le : be);
    switch (af) {
    case 2: return decode_ipv4(d, p + 4, len - 4, wire - 4);
    case 10: case 24: case 28: case 30: return decode_ipv6(d, p + 4, len - 4, wire - 4);
    default: return HU_DEC_SKIP;
    }
}

hu_decode_rc hu_decode(int dlt, const uint8_t *data, uint32_t caplen, hu_pkt *out,
                       const char **why)
{
    return hu_decode_wire(dlt, data, caplen, caplen, out, why);
}

hu_decode_rc hu_decode_wire(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                            hu_pkt *out, const char **why)
{
    out->has_sll2 = false;
    out->pkttype = HU_PKTTYPE_NONE;
    out->ifindex = 0;
    out->suffix_ready = false;
    out->frame = data;
    out->nencap = 0;
    out->iph = NULL;
    *why = NULL;
    dec d = { data, out, why };
    uint32_t wire = wirelen > caplen ? wirelen : caplen;

    switch (dlt) {
    case DLT_EN10MB:
        return decode_ether(&d, data, caplen, wire);
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return bad(&d, "Linux cooked header cut short");
        out->pkttype = (uint8_t)hu_rd16(data);
        return decode_ethertype(&d, hu_rd16(data + 14), data + 16, caplen - 16, wire - 16);
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return bad(&d, "Linux cooked v2 header cut short");
        out->has_sll2 = true;
        out->ifindex = hu_rd32(data + 4);
        out->pkttype = data[10];
        return decode_ethertype(&d, hu_rd16(data), data + 20, caplen - 20, wire - 20);
    case DLT_NULL:
        return decode_null(&d, data, caplen, wire, false);
    case DLT_LOOP:
        return decode_null(&d, data, caplen, wire, true);
    case DLT_RAW:
#if DLT_RAW != 14
    case 14:
#endif
        return decode_raw_ip(&d, data, caplen, wire);
    case DLT_IPV4:
        return decode_ipv4(&d, data, caplen, wire);
    case DLT_IPV6:
        return decode_ipv6(&d, data, caplen, wire);
    case DLT_NFLOG: {
        hu_tun_next nx = {0};
        uint32_t paylen = 0;
        hu_tun_rc rc = hu_tunnel_nflog(data, caplen, &nx, &paylen, why);
        if (rc != HU_TUN_PEELED)
            return decode_inner(&d, rc, &nx, data, caplen, wire);
        uint32_t n = caplen - nx.hdrlen < paylen ? caplen - nx.hdrlen : paylen;
        return decode_inner(&d, rc, &nx, data, nx.hdrlen + n, nx.hdrlen + paylen);
    }
    default:
        return bad(&d, "unsupported link type");
    }
}
