/*
 * test_decode.c -- every supported link type, IPv6 extension headers, the
 * tunnels of the encap-* samples and BIG TCP's lengths, and frames that
 * are cut short, nested too deep or lie about their lengths.
 */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/capture.h"
#include "hangup/decode.h"
#include "testutil.h"

static uint8_t ip[2048], fr[2048];
static hu_pkt p;
static const char *why;

static size_t v4(void)
{
    return tu_ip4_tcp(ip, "192.0.2.1", 40000, "192.0.2.2", 80, HU_TH_PUSH | HU_TH_ACK, 1000, 2000,
                      NULL, 0, "GET / HTTP/1.1\r\n\r\n", 18);
}
static size_t v6(void)
{
    return tu_ip6_tcp(ip, "2001:db8::1", 40000, "2001:db8::2", 443, HU_TH_ACK, 7, 9, "abc", 3);
}

static void expect_v4(void)
{
    cr_expect_eq(p.ipver, 4);
    cr_expect_eq(p.sport, 40000);
    cr_expect_eq(p.dport, 80);
    cr_expect_eq(p.seq, 1000);
    cr_expect_eq(p.ack, 2000);
    cr_expect_eq(p.flags, HU_TH_PUSH | HU_TH_ACK);
    cr_expect_eq(p.paylen, 18);
    cr_expect_eq(p.capturedlen, 18);
    cr_expect_eq(memcmp(p.payload, "GET /", 5), 0);
}

Test(decode, ethernet)
{
    size_t n = v4();
    memset(fr, 0, 12);
    fr[12] = 0x08;
    fr[13] = 0x00;
    memcpy(fr + 14, ip, n);
    cr_assert_eq(hu_decode(DLT_EN10MB, fr, (uint32_t)(n + 14), &p, &why), HU_DEC_TCP);
    expect_v4();
    cr_expect_not(p.has_sll2);
}

Test(decode, ethernet_padding_is_not_payload)
{
    size_t n = tu_ip4_tcp(ip, "192.0.2.1", 1, "192.0.2.2", 2, HU_TH_ACK, 1, 1, NULL, 0, NULL, 0);
    memset(fr, 0, sizeof fr);
    fr[12] = 0x08;
    memcpy(fr + 14, ip, n);
    cr_assert_eq(hu_decode(DLT_EN10MB, fr, 60, &p, &why), HU_DEC_TCP);   /* padded to 60 */
    cr_expect_eq(p.paylen, 0);
    cr_expect_eq(p.capturedlen, 0);
}

Test(decode, vlan_and_qinq_tags)
{
    size_t n = v4();
    uint8_t tags[] = { 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00 };
    memset(fr, 0, 12);
    memcpy(fr + 12, tags, sizeof tags);
    memcpy(fr + 12 + sizeof tags, ip, n);
    cr_assert_eq(hu_decode(DLT_EN10MB, fr, (uint32_t)(n + 12 + sizeof tags), &p, &why),
                 HU_DEC_TCP);
    expect_v4();
    /* A single 802.1Q tag too. */
    uint8_t one[] = { 0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd };
    n = v6();
    memcpy(fr + 12, one, sizeof one);
    memcpy(fr + 18, ip, n);
    cr_assert_eq(hu_decode(DLT_EN10MB, fr, (uint32_t)(n + 18), &p, &why), HU_DEC_TCP);
    cr_expect_eq(p.ipver, 6);
}

Test(decode, endless_vlan_tags_are_rejected)
{
    memset(fr, 0, 12);
    for (int i = 0; i < 40; i++) {
        fr[12 + 4 * i] = 0x81;
        fr[13 + 4 * i] = 0x00;
    }
    cr_expect_eq(hu_decode(DLT_EN10MB, fr, 12 + 160, &p, &why), HU_DEC_BAD);
    cr_expect_not_null(why);
}

Test(decode, linux_cooked_v1)
{
    size_t n = v4();
    memset(fr, 0, 16);
    fr[1] = 4;   /* outgoing */
    fr[14] = 0x08;
    memcpy(fr + 16, ip, n);
    cr_assert_eq(hu_decode(DLT_LINUX_SLL, fr, (uint32_t)(n + 16), &p, &why), HU_DEC_TCP);
    expect_v4();
    cr_expect_not(p.has_sll2);
}

Test(decode, linux_cooked_v2_keeps_interface_and_direction)
{
    size_t n = v6();
    memset(fr, 0, 20);
    fr[0] = 0x86;
    fr[1] = 0xdd;
    fr[7] = 1;    /* ifindex 1 */
    fr[10] = 4;   /* PACKET_OUTGOING */
    memcpy(fr + 20, ip, n);
    cr_assert_eq(hu_decode(276, fr, (uint32_t)(n + 20), &p, &why), HU_DEC_TCP);
    cr_expect(p.has_sll2);
    cr_expect_eq(p.ifindex, 1);
    cr_expect_eq(p.pkttype, 4);
    cr_expect_eq(p.ipver, 6);
    cr_expect_eq(p.dport, 443);
}

Test(decode, bsd_loopback_both_byte_orders_and_ipv6_families)
{
    size_t n = v4();
    uint8_t le[4] = { 2, 0, 0, 0 }, be[4] = { 0, 0, 0, 2 };
    memcpy(fr, le, 4);
    memcpy(fr + 4, ip, n);
    cr_assert_eq(hu_decode(DLT_NULL, fr, (uint32_t)(n + 4), &p, &why), HU_DEC_TCP);
    expect_v4();
    memcpy(fr, be, 4);
    cr_assert_eq(hu_decode(DLT_LOOP, fr, (uint32_t)(n + 4), &p, &why), HU_DEC_TCP);
    expect_v4();
    n = v6();
    uint32_t fams[] = { 10, 24, 28, 30 };
    for (size_t i = 0; i < 4; i++) {
        uint8_t h[4] = { (uint8_t)fams[i], 0, 0, 0 };
        memcpy(fr, h, 4);
        memcpy(fr + 4, ip, n);
        cr_assert_eq(hu_decode(DLT_NULL, fr, (uint32_t)(n + 4), &p, &why), HU_DEC_TCP,
                     "AF %u", fams[i]);
        cr_expect_eq(p.ipver, 6);
    }
}

Test(decode, raw_ip_link_types)
{
    size_t n = v4();
    cr_assert_eq(hu_decode(DLT_RAW, ip, (uint32_t)n, &p, &why), HU_DEC_TCP);
    expect_v4();
    cr_assert_eq(hu_decode(228, ip, (uint32_t)n, &p, &why), HU_DEC_TCP);   /* DLT_IPV4 */
    n = v6();
    cr_assert_eq(hu_decode(229, ip, (uint32_t)n, &p, &why), HU_DEC_TCP);   /* DLT_IPV6 */
    cr_expect_eq(p.ipver, 6);
    cr_assert_eq(hu_decode(DLT_RAW, ip, (uint32_t)n, &p, &why), HU_DEC_TCP);
}

Test(decode, unknown_link_type)
{
    cr_expect_not(hu_decode_link_supported(DLT_IEEE802_11));
    cr_expect_eq(hu_decode(DLT_IEEE802_11, ip, 60, &p, &why), HU_DEC_BAD);
}

/* IPv6 with hop-by-hop, destination options and a first fragment header. */
Test(decode, ipv6_extension_headers)
{
    uint8_t tcp[64];
    size_t tl = tu_ip6_tcp(tcp, "2001:db8::1", 1234, "2001:db8::2", 80, HU_TH_ACK, 1, 2, "hi", 2) - 40;
    uint8_t *q = ip;
    size_t n = tu_ip6_tcp(ip, "2001:db8::1", 1234, "2001:db8::2", 80, HU_TH_ACK, 1, 2, "hi", 2);
    (void)n;
    memcpy(tcp, ip + 40, tl);
    q[6] = 0;                       /* next: hop-by-hop */
    uint8_t *e = q + 40;
    memset(e, 0, 8 + 16 + 8);
    e[0] = 60; e[1] = 0;            /* HBH, 8 bytes, next dest opts */
    e[8] = 44; e[9] = 1;            /* DSTOPT, 16 bytes, next fragment */
    e[24] = 6;                      /* fragment, offset 0, M=1, next TCP */
    e[27] = 1;
    memcpy(e + 32, tcp, tl);
    uint16_t plen = (uint16_t)(32 + tl);
    q[4] = (uint8_t)(plen >> 8);
    q[5] = (uint8_t)plen;
    cr_assert_eq(hu_decode(229, ip, 40u + plen, &p, &why), HU_DEC_TCP, "%s", why ? why : "");
    cr_expect_eq(p.sport, 1234);
    cr_expect_eq(p.paylen, 2);
    cr_expect_eq(memcmp(p.payload, "hi", 2), 0);
    /* A later fragment carries no TCP header. */
    e[26] = 0x01;
    e[27] = 0x00;   /* offset 32 */
    cr_expect_eq(hu_decode(229, ip, 40u + plen, &p, &why), HU_DEC_SKIP);
    /* An extension header longer than the payload. */
    e[26] = 0;
    e[9] = 200;
    cr_expect_eq(hu_decode(229, ip, 40u + plen, &p, &why), HU_DEC_BAD);
}

Test(decode, ipv6_extension_chain_is_bounded)
{
    size_t n = v6();
    (void)n;
    ip[6] = 60;
    uint8_t *e = ip + 40;
    for (int i = 0; i < 40; i++) {   /* 40 destination-option headers */
        e[8 * i] = 60;
        e[8 * i + 1] = 0;
        memset(e + 8 * i + 2, 1, 6);
    }
    ip[4] = 0x01;
    ip[5] = 0x40;   /* 320 bytes */
    cr_expect_eq(hu_decode(229, ip, 40 + 320, &p, &why), HU_DEC_BAD);
    cr_expect_not_null(why);
}

Test(decode, snaplen_cut_payload_is_still_tcp)
{
    size_t n = v4();
    cr_assert_eq(hu_decode(DLT_RAW, ip, (uint32_t)n - 10, &p, &why), HU_DEC_TCP);
    cr_expect_eq(p.paylen, 18);
    cr_expect_eq(p.capturedlen, 8);
}

/* A snapshot that ends inside the TCP options keeps the segment: every
 * header field, the options it kept, no payload. */
Test(decode, snaplen_cut_options_are_still_tcp)
{
    static const uint8_t opts[] = { 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6 };
    size_t n = tu_ip4_tcp(ip, "192.0.2.1", 40000, "192.0.2.2", 80, HU_TH_PUSH | HU_TH_ACK, 1000,
                          2000, opts, sizeof opts, "GET / HTTP/1.1\r\n\r\n", 18);
    for (uint32_t keep = 0; keep <= sizeof opts; keep++) {
        cr_assert_eq(hu_decode(DLT_RAW, ip, 40 + keep, &p, &why), HU_DEC_TCP, "kept %u", keep);
        cr_expect_eq(p.optlen, sizeof opts);
        cr_expect_eq(p.optcap, keep);
        cr_expect_eq(p.seq, 1000);
        cr_expect_eq(p.ack, 2000);
        cr_expect_eq(p.flags, HU_TH_PUSH | HU_TH_ACK);
        cr_expect_eq(p.paylen, 18);
        cr_expect_eq(p.capturedlen, 0);
    }
    cr_assert_eq(hu_decode(DLT_RAW, ip, (uint32_t)n, &p, &why), HU_DEC_TCP);
    cr_expect_eq(p.optcap, sizeof opts);
    cr_expect_eq(p.capturedlen, 18);
}

Test(decode, cut_and_lying_headers_are_bad_not_crashes)
{
    size_t n = v4();
    /* Every truncation point inside the IP and TCP headers. */
    for (uint32_t cut = 0; cut < 40; cut++) {
        hu_decode_rc rc = hu_decode(DLT_RAW, ip, cut, &p, &why);
        cr_expect(rc == HU_DEC_BAD || rc == HU_DEC_SKIP, "cut at %u", cut);
    }
    /* IHL pointing past the packet. */
    uint8_t bad[128];
    memcpy(bad, ip, n);
    bad[0] = 0x4f;
    cr_expect_eq(hu_decode(DLT_RAW, bad, 40, &p, &why), HU_DEC_BAD);
    /* IHL below 5. */
    bad[0] = 0x43;
    cr_expect_eq(hu_decode(DLT_RAW, bad, (uint32_t)n, &p, &why), HU_DEC_BAD);
    /* TCP data offset below 5, and beyond the packet. */
    memcpy(bad, ip, n);
    bad[32] = 0x30;
    cr_expect_eq(hu_decode(DLT_RAW, bad, (uint32_t)n, &p, &why), HU_DEC_BAD);
    bad[32] = 0xf0;
    cr_expect_eq(hu_decode(DLT_RAW, bad, (uint32_t)n, &p, &why), HU_DEC_BAD);
    /* Total length smaller than the header. */
    memcpy(bad, ip, n);
    bad[2] = 0;
    bad[3] = 10;
    cr_expect_eq(hu_decode(DLT_RAW, bad, (uint32_t)n, &p, &why), HU_DEC_BAD);
}

Test(decode, not_tcp_is_skipped)
{
    size_t n = v4();
    ip[9] = 17;   /* UDP */
    cr_expect_eq(hu_decode(DLT_RAW, ip, (uint32_t)n, &p, &why), HU_DEC_SKIP);
    memset(fr, 0, 14);
    fr[12] = 0x08;
    fr[13] = 0x06;   /* ARP */
    cr_expect_eq(hu_decode(DLT_EN10MB, fr, 60, &p, &why), HU_DEC_SKIP);
}

/* ------------------------------------------------------ encapsulations */

/* Each frame of a sample, decoded with its wire length: fn sees it. */
typedef struct enc_ctx {
    size_t tcp, other;
    uint8_t nencap_min, nencap_max;
    uint32_t max_paylen;
    bool inner_ok;        /* every TCP segment is the inner race's */
    const char *inner;    /* one of its addresses, 4 bytes */
} enc_ctx;

static void enc_frame(void *arg, int dlt, const hu_frame *f)
{
    enc_ctx *c = arg;
    hu_pkt q;
    const char *w;
    if (hu_decode_wire(dlt, f->data, f->caplen, f->wirelen, &q, &w) != HU_DEC_TCP) {
        c->other++;
        return;
    }
    c->tcp++;
    if (c->tcp == 1 || q.nencap < c->nencap_min)
        c->nencap_min = q.nencap;
    if (q.nencap > c->nencap_max)
        c->nencap_max = q.nencap;
    if (q.paylen > c->max_paylen)
        c->max_paylen = q.paylen;
    if (c->inner && ((memcmp(q.src, c->inner, 4) != 0 && memcmp(q.dst, c->inner, 4) != 0) ||
                     (q.sport != 3003 && q.dport != 3003)))
        c->inner_ok = false;
}

static enc_ctx decode_sample(const char *name, const char *inner)
{
    enc_ctx c = { .inner_ok = true, .inner = inner };
    hu_capture_cbs cb = { .frame = enc_frame, .arg = &c };
    char err[256];
    cr_assert_eq(hu_capture_file(tu_sample(name), NULL, &cb, NULL, err, sizeof err), HU_CAP_OK,
                 "%s: %s", name, err);
    return c;
}

/* Every capture of a race made through a tunnel yields the race's own TCP
 * segments, each behind as many recorded headers as its tunnel has (the
 * outer IP header and the tunnel header are two, an MPLS stack one). */
Test(decode, tunnels_yield_the_inner_segments)
{
    static const struct { const char *name; uint8_t nencap; const char *inner; } t[] = {
        { "encap-vxlan.pcap", 2, "\x0a\x4f\x00\x01" }, { "encap-geneve.pcap", 2, NULL },
        { "encap-gre.pcap", 2, NULL }, { "encap-gretap.pcap", 2, NULL },
        { "encap-erspan1.pcap", 2, NULL }, { "encap-erspan2.pcap", 2, NULL },
        { "encap-erspan3.pcap", 2, NULL }, { "encap-ipip.pcap", 1, NULL },
        { "encap-6in4.pcap", 1, NULL }, { "encap-ip6tnl.pcap", 1, NULL },
        { "encap-mpls.pcap", 1, NULL }, { "encap-pppoe.pcap", 1, NULL },
        { "encap-llc.pcap", 0, NULL }, { "encap-nflog.pcap", 0, NULL },
        { "encap-nested.pcap", 5, NULL },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        enc_ctx c = decode_sample(t[i].name, t[i].inner ? t[i].inner : "\x7f\x00\x00\x01");
        cr_expect_geq(c.tcp, 40, "%s: %zu TCP segments", t[i].name, c.tcp);
        cr_expect_eq(c.nencap_min, t[i].nencap, "%s: %u headers", t[i].name, c.nencap_min);
        cr_expect_eq(c.nencap_max, t[i].nencap, "%s: %u headers", t[i].name, c.nencap_max);
        if (strcmp(t[i].name, "encap-6in4.pcap") != 0)
            cr_expect(c.inner_ok, "%s: a segment that is not the race's", t[i].name);
    }
}

/* BIG TCP on loopback: segments above 64 KiB, whose IPv4 total length is
 * 0 and whose IPv6 length is in a hop-by-hop jumbo option; the snapshot
 * length (256) cut them, so only the wire length or the option tells. */
Test(decode, big_tcp_lengths_come_from_the_wire_and_the_jumbo_option)
{
    enc_ctx c4 = decode_sample("bigtcp-v4.pcap", NULL);
    enc_ctx c6 = decode_sample("bigtcp-v6.pcap", NULL);
    cr_expect_gt(c4.max_paylen, 65535u, "IPv4: longest segment %u", c4.max_paylen);
    cr_expect_gt(c6.max_paylen, 65535u, "IPv6: longest segment %u", c6.max_paylen);
    cr_expect_eq(c4.other + c6.other, 0, "undecoded frames");
}

/* IPv4 in IPv4 `depth` times around v4(), in fr; returns the length. */
static size_t ipip(unsigned depth)
{
    size_t n = v4();
    memcpy(fr, ip, n);
    for (unsigned i = 0; i < depth; i++) {
        memmove(fr + 20, fr, n);
        memcpy(fr, ip, 20);   /* the inner header's copy, protocol 4 */
        n += 20;
        fr[2] = (uint8_t)(n >> 8);
        fr[3] = (uint8_t)n;
        fr[9] = 4;
    }
    return n;
}

Test(decode, nesting_is_bounded)
{
    size_t n = ipip(HU_ENCAP_MAX);
    cr_assert_eq(hu_decode(DLT_RAW, fr, (uint32_t)n, &p, &why), HU_DEC_TCP, "%s", why);
    cr_expect_eq(p.nencap, HU_ENCAP_MAX);
    expect_v4();
    n = ipip(HU_ENCAP_MAX + 1);
    cr_expect_eq(hu_decode(DLT_RAW, fr, (uint32_t)n, &p, &why), HU_DEC_BAD);
    cr_expect_str_eq(why, "encapsulations nested deeper than 16 headers");
}

static void cut_frame(void *arg, int dlt, const hu_frame *f)
{
    size_t *n = arg;
    uint8_t *copy = malloc(f->caplen ? f->caplen : 1);
    cr_assert_not_null(copy);
    for (uint32_t len = 0; len <= f->caplen; len++) {
        memcpy(copy, f->data, len);   /* exactly len readable bytes, for ASan */
        hu_pkt q;
        const char *w = NULL;
        hu_decode_rc rc = hu_decode_wire(dlt, copy, len, f->wirelen, &q, &w);
        if (rc == HU_DEC_BAD)
            cr_assert(w && *w, "a bad frame without a reason");
        (*n)++;
    }
    free(copy);
}

/* Every tunnel frame cut at every length, and with each header byte
 * flipped: a clear reason or a packet, never a read past the bytes. */
Test(decode, cut_and_corrupted_tunnel_frames_are_safe)
{
    static const char *const names[] = { "encap-nested.pcap", "encap-geneve.pcap",
                                         "encap-erspan3.pcap", "encap-pppoe.pcap",
                                         "encap-llc.pcap", "encap-nflog.pcap", "encap-ip6tnl.pcap" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = 0;
        hu_capture_cbs cb = { .frame = cut_frame, .arg = &n };
        char err[256];
        cr_assert_eq(hu_capture_file(tu_sample(names[i]), NULL, &cb, NULL, err, sizeof err),
                     HU_CAP_OK);
        cr_expect_gt(n, 0);
    }
    size_t len = ipip(3);
    for (size_t at = 0; at < 60; at++)
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t save = fr[at];
            fr[at] ^= (uint8_t)(1u << bit);
            hu_decode_rc rc = hu_decode(DLT_RAW, fr, (uint32_t)len, &p, &why);
            cr_expect(rc != HU_DEC_BAD || (why && *why));
            fr[at] = save;
        }
}
