/*
 * test_tcpprint.c -- hangup's packet lines against real tcpdump.
 *
 * Crafts a capture full of the cases tcpdump renders in particular ways
 * (every TCP option kind and malformed options, SACK edges, relative
 * numbers from mid-stream and across SYN, URG, flag combinations, HTTP
 * first lines on port 80/8080 with their many rules, LINUX_SLL2 prefixes,
 * IPv6), runs the installed tcpdump on it and compares line for line.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define A HU_TH_ACK

static uint8_t ip[4096], fr[4096];

/* Compare, then remove the capture at path (copied first: tu_tmp's
 * buffer, which path may be, is rewritten by every tu_sh). */
static void cmp_with_tcpdump(const char *tmp_path, size_t expect_packets)
{
    char *path = strdup(tmp_path);
    size_t nh, nt;
    char **hu = tu_render_file(path, &nh);
    char **td = tu_tcpdump_lines(path, &nt);
    cr_assert_eq(nt, expect_packets, "tcpdump printed %zu lines (is tcpdump installed?)", nt);
    size_t compared = 0;
    for (size_t i = 0; i < nh && i < nt; i++) {
        if (!hu[i])
            continue;
        cr_expect_str_eq(hu[i], td[i], "packet %zu:\n hangup:  %s\n tcpdump: %s", i + 1, hu[i],
                         td[i]);
        compared++;
    }
    cr_expect_eq(compared, expect_packets, "every crafted packet is TCP");
    tu_lines_free(hu, nh);
    tu_lines_free(td, nt);
    unlink(path);
    free(path);
}

/* A raw-IP capture being crafted: its packets, then tcpdump's lines. */
typedef struct crafted {
    const char *path;
    tu_pcap *w;
    int64_t t;
    size_t n;
} crafted;

static crafted crafted_open(void)
{
    crafted c = { strdup(tu_tmp(".pcap")), NULL, 1763740800123456LL, 0 };
    c.w = tu_pcap_open(c.path, 101, 65535);
    return c;
}

/* Add the frame in ip[0..len), of which the capture keeps `keep` bytes
 * (all of them when keep is 0), 1.111 ms after the previous one. */
static void crafted_add(crafted *c, size_t len, size_t keep)
{
    tu_pcap_add(c->w, c->t += 1111, ip, (uint32_t)(keep ? keep : len), (uint32_t)len);
    c->n++;
}

/* Compare with tcpdump, then remove the capture. */
static void crafted_check(crafted *c)
{
    tu_pcap_close(c->w);
    cmp_with_tcpdump(c->path, c->n);
    free((void *)c->path);
}

/* One IPv4 segment with options opt[0..ol) (padded with NOPs to a whole
 * word) and payload pay[0..pl), of which the capture keeps `keep` bytes
 * (all of them when keep is 0). */
static void add_opts(crafted *c, uint16_t sport, uint8_t flags, const uint8_t *opt, size_t ol,
                     const char *pay, size_t pl, size_t keep)
{
    uint8_t o[40];
    memcpy(o, opt, ol);
    while (ol % 4)
        o[ol++] = 1;
    crafted_add(c, tu_ip4_tcp(ip, "10.1.1.1", sport, "10.1.1.2", 3000, flags,
                              1000 + (uint32_t)c->n, 2000, o, ol, pay, pl), keep);
}

/* Raw-IP capture (LINKTYPE_RAW 101) of crafted IPv4 segments. */
Test(tcpprint, options_flags_and_relative_numbers)
{
    const char *path = tu_tmp(".pcap");
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    int64_t t = 1763740800123456LL;
    size_t n = 0;
#define ADD(len) do { tu_pcap_add(w, t += 1111, ip, (uint32_t)(len), (uint32_t)(len)); n++; } while (0)
    static const uint8_t syn_opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, HU_TH_SYN, 4000000000u, 0, syn_opts, 20, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.2", 3000, "10.1.1.1", 40000, HU_TH_SYN | A, 77, 4000000001u, syn_opts, 20, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A, 4000000001u, 78, NULL, 0, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, HU_TH_PUSH | A, 4000000001u, 78, NULL, 0, "hello", 5));
    static const uint8_t sack[] = { 1, 1, 5, 18, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 1, 0, 0, 0, 2, 0 };
    ADD(tu_ip4_tcp(ip, "10.1.1.2", 3000, "10.1.1.1", 40000, A, 78, 4000000006u, sack, 20, NULL, 0));
    static const uint8_t odd[] = { 99, 5, 1, 2, 3, 28, 4, 0, 0x3d, 34, 2, 1, 0 };
    ADD(tu_ip4_tcp(ip, "10.1.1.2", 3000, "10.1.1.1", 40000, A | HU_TH_URG, 78, 4000000006u, odd, 13, NULL, 0));
    static const uint8_t tfo[] = { 34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1 };
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A | HU_TH_ECE | HU_TH_CWR, 4000000006u, 78, tfo, 12, NULL, 0));
    static const uint8_t badlen[] = { 2, 8, 5, 0xb4, 1, 1, 1, 1 };   /* mss claiming 8 bytes */
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A, 4000000006u, 78, badlen, 8, NULL, 0));
    static const uint8_t overrun[] = { 1, 8, 40, 0, 0, 0, 0, 0 };    /* length past the header */
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A, 4000000006u, 78, overrun, 8, NULL, 0));
    static const uint8_t mss3[] = { 2, 3, 5, 1 };
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A, 4000000006u, 78, mss3, 4, NULL, 0));
    static const uint8_t eol[] = { 1, 0, 8, 10 };
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, A, 4000000006u, 78, eol, 4, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.2", 3000, "10.1.1.1", 40000, HU_TH_FIN | A, 78, 4000000006u, NULL, 0, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, HU_TH_RST, 4000000006u, 0, NULL, 0, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 40000, "10.1.1.2", 3000, 0, 4000000006u, 0, NULL, 0, NULL, 0));
    /* Mid-stream conversation (first packet with ACK prints absolute), a
     * lower-port client, then a new SYN on the same 4-tuple. */
    ADD(tu_ip4_tcp(ip, "10.9.9.9", 1024, "10.1.1.1", 50000, A, 500, 900, NULL, 0, "ab", 2));
    ADD(tu_ip4_tcp(ip, "10.1.1.1", 50000, "10.9.9.9", 1024, A, 900, 502, NULL, 0, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.9.9.9", 1024, "10.1.1.1", 50000, HU_TH_SYN | A, 7, 8, NULL, 0, NULL, 0));
    ADD(tu_ip4_tcp(ip, "10.9.9.9", 1024, "10.1.1.1", 50000, A, 9, 8, NULL, 0, "x", 1));
#undef ADD
    tu_pcap_close(w);
    cmp_with_tcpdump(path, n);
}

Test(tcpprint, http_first_lines_on_ports_80_and_8080)
{
    static const char *const bodies[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get /lower HTTP/1.0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 404\r\n",
        "FOO 123 bar\r\n",
        "FOO 1234 bar\r\n",
        "GET / HTTP/1.1",
        "GET / HTTP/1.1\n",
        "GET / HTTP/1.1\r",
        "GET / HTTP/1.1\rX\n",
        "GET /\x01 HTTP/1.1\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\n",
        "GET /\ta HTTP/1.1\r\n",
        "GET",
        "GET ",
        "GET\r\n",
        "  GET / HTTP/1.1\r\n",
        "hello world\r\n",
        "POST  /a   b\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "PROPFIND /dav HTTP/1.1\r\n",
    };
    const char *path = tu_tmp(".pcap");
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    int64_t t = 1763740800000000LL;
    size_t n = 0;
    uint32_t seq = 1;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        size_t bl = strlen(bodies[i]);
        uint16_t port = i % 2 ? 8080 : 80;
        size_t len = tu_ip4_tcp(ip, "10.2.2.1", 41000, "10.2.2.2", port, HU_TH_PUSH | A, seq, 1,
                                NULL, 0, bodies[i], bl);
        tu_pcap_add(w, t += 1000, ip, (uint32_t)len, (uint32_t)len);
        n++;
        seq += (uint32_t)bl;
    }
    /* Snaplen-cut copies of a request: the suffix depends on how much was kept. */
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (uint32_t keep = 0; keep <= 20; keep += 2) {
        size_t len = tu_ip4_tcp(ip, "10.2.2.3", 41001, "10.2.2.2", 80, HU_TH_PUSH | A, 1, 1, NULL,
                                0, req, sizeof req - 1);
        tu_pcap_add(w, t += 1000, ip, (uint32_t)(40 + keep), (uint32_t)len);
        n++;
    }
    tu_pcap_close(w);
    cmp_with_tcpdump(path, n);
}

/* LINUX_SLL2 (tcpdump -i any): interface name and direction prefixes,
 * IPv6 addresses. */
Test(tcpprint, linux_sll2_prefix_and_ipv6)
{
    const char *path = tu_tmp(".pcap");
    tu_pcap *w = tu_pcap_open(path, 276, 65535);
    int64_t t = 1763740800000000LL;
    size_t n = 0;
    static const uint8_t types[] = { 0, 1, 2, 3, 4, 7 };
    static const uint32_t ifs[] = { 1, 1, 1, 1, 1, 99999 };
    for (size_t i = 0; i < sizeof types; i++) {
        size_t len = tu_ip6_tcp(ip, i % 2 ? "::1" : "2001:db8:0:0:1::5", 3000,
                                "2001:db8::ffff:1.2.3.4", 45000, A | HU_TH_PUSH, 10, 20, "data", 4);
        memset(fr, 0, 20);
        fr[0] = 0x86;
        fr[1] = 0xdd;
        fr[4] = (uint8_t)(ifs[i] >> 24);
        fr[5] = (uint8_t)(ifs[i] >> 16);
        fr[6] = (uint8_t)(ifs[i] >> 8);
        fr[7] = (uint8_t)ifs[i];
        fr[10] = types[i];
        memcpy(fr + 20, ip, len);
        tu_pcap_add(w, t += 1000, fr, (uint32_t)(len + 20), (uint32_t)(len + 20));
        n++;
    }
    tu_pcap_close(w);
    cmp_with_tcpdump(path, n);
}

/* Every TCP option kind, 0 to 255, with data of 0 to 16 bytes, one segment
 * each, against the installed tcpdump: an option tcpdump names, renders
 * or calls unknown is printed as it prints it. */
Test(tcpprint, every_option_kind_with_every_length)
{
    crafted c = crafted_open();
    static const uint8_t lens[] = { 0, 1, 2, 4, 6, 8, 10, 16 };
    for (unsigned kind = 0; kind < 256; kind++)
        for (size_t l = 0; l < sizeof lens; l++) {
            uint8_t opt[40];
            size_t ol;
            if (kind <= 1) {
                if (lens[l])
                    continue;
                opt[0] = (uint8_t)kind;
                ol = 1;
            } else {
                opt[0] = (uint8_t)kind;
                opt[1] = (uint8_t)(lens[l] + 2);
                for (size_t i = 0; i < lens[l]; i++)
                    opt[2 + i] = (uint8_t)(i * 37 + kind);
                ol = 2 + lens[l];
            }
            add_opts(&c, (uint16_t)(40000 + kind), HU_TH_PUSH | A, opt, ol, NULL, 0, 0);
        }
    /* The experimental option's TCP Fast Open form (RFC 6994 id 0xf989). */
    static const uint8_t exptfo[][8] = { { 254, 4, 0xf9, 0x89 },
                                         { 254, 8, 0xf9, 0x89, 1, 2, 3, 4 },
                                         { 254, 7, 0xf9, 0x89, 1, 2, 3 } };
    for (size_t i = 0; i < 3; i++)
        add_opts(&c, 39000, A, exptfo[i], exptfo[i][1], NULL, 0, 0);
    crafted_check(&c);
}

/* MPTCP (option 30, print-mptcp.c): every subtype with every length that
 * fits, its low nibble (version, backup, address family and echo bits)
 * and its second octet (DSS flags, MP_CAPABLE's checksum bit) varied, on
 * SYN, SYN-ACK and ACK segments, whose flags decide which forms are valid. */
Test(tcpprint, mptcp_subtypes_lengths_and_flags)
{
    crafted c = crafted_open();
    static const uint8_t tflags[] = { HU_TH_SYN, HU_TH_SYN | A, A };
    static const uint8_t subs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 15 };
    static const uint8_t low[] = { 0, 1, 4, 6, 15 };
    static const uint8_t second[] = { 0x80, 0x05 };
    for (size_t si = 0; si < sizeof subs; si++) {
        uint8_t sub = subs[si];
        bool lows = sub == 0 || sub == 1 || sub == 3 || sub == 5;
        size_t nlow = lows ? sizeof low : 1, nsec = sub == 2 ? 32 : sizeof second;
        for (size_t li = 0; li < nlow; li++)
            for (size_t ci = 0; ci < nsec; ci++)
                for (uint8_t len = 2; len <= 40; len++)
                    for (size_t fi = 0; fi < sizeof tflags; fi++) {
                        uint8_t opt[40];
                        opt[0] = 30;
                        opt[1] = len;
                        for (size_t i = 2; i < len; i++)
                            opt[i] = (uint8_t)(i * 53 + len);
                        if (len > 2)
                            opt[2] = (uint8_t)(sub << 4 | low[li]);
                        if (len > 3)
                            opt[3] = sub == 2 ? (uint8_t)ci : second[ci];
                        add_opts(&c, (uint16_t)(41000 + sub), tflags[fi], opt, len, NULL,
                                 0, 0);
                    }
    }
    /* ADD_ADDR's IPv6 addresses as tcpdump writes them (zero runs,
     * mapped and compatible IPv4), with and without a port. */
    static const char *const v6[] = { "2001:db8::1", "::ffff:10.1.2.3", "::10.1.2.3", "fe80::",
                                      "::", "1:0:0:2::3", "1:2:3:4:5:6:7:8" };
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++)
        for (uint8_t len = 20; len <= 22; len += 2) {
            uint8_t opt[24] = { 30, len, 0x30, 7 };
            inet_pton(AF_INET6, v6[i], opt + 4);
            opt[20] = 0x1f;
            opt[21] = 0x90;
            add_opts(&c, 41003, A, opt, len, NULL, 0, 0);
        }
    crafted_check(&c);
}

/* Where the options meet the payload: an option whose length octet would
 * be the first payload byte ("[bad opt]" when that byte was captured,
 * tcpdump's "[|tcp]" when not), and the md5 signature, which tcpdump says
 * it cannot check either way, for a reason that depends on whether the
 * capture kept the whole segment. */
Test(tcpprint, options_at_the_end_of_the_header_and_capture)
{
    crafted c = crafted_open();
    static const uint8_t wscale[] = { 3, 4, 5, 40 };   /* claims 4 bytes, has 3: 40 is a kind */
    static const uint8_t mss[] = { 1, 1, 1, 2 };       /* a kind in the last byte */
    static const uint8_t md5[] = { 19, 18, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    const uint8_t *opts[] = { wscale, mss, md5 };
    size_t ols[] = { sizeof wscale, sizeof mss, sizeof md5 };
    for (size_t o = 0; o < 3; o++) {
        size_t hdr = 40 + ((ols[o] + 3) & ~(size_t)3);
        add_opts(&c, 40000, A, opts[o], ols[o], NULL, 0, 0);
        for (size_t keep = 0; keep <= 5; keep++)
            add_opts(&c, 40000, HU_TH_PUSH | A, opts[o], ols[o], "hello", 5, hdr + keep);
    }
    crafted_check(&c);
}

/* A snapshot that ends inside the options, at every byte: tcpdump prints
 * what it could read and its truncation mark (" [|tcp]", with ">" after
 * an option whose data was cut; " [|mptcp]" once an MPTCP option was
 * read), and nothing of the rest of the line. */
Test(tcpprint, options_cut_by_the_snapshot_at_every_byte)
{
    crafted c = crafted_open();
    static const uint8_t ts[] = { 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6 };
    static const uint8_t sack[] = { 2, 4, 5, 0xb4, 5, 18, 0, 0, 0, 100, 0, 0, 0, 200,
                                    0, 0, 1, 0, 0, 0, 2, 0 };
    static const uint8_t md5[] = { 19, 18, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    static const uint8_t ao[] = { 29, 8, 1, 2, 3, 4, 5, 6, 3, 3, 7 };
    static const uint8_t mptcp[] = { 30, 8, 0x20, 0x01, 0, 0, 0, 9, 1, 1, 8, 10, 0, 0, 0, 5,
                                     0, 0, 0, 6 };
    static const uint8_t misc[] = { 99, 6, 1, 2, 3, 4, 34, 6, 1, 2, 3, 4, 254, 4, 0xf9, 0x89,
                                    28, 4, 0, 0x3d, 20, 4, 1, 2 };
    const uint8_t *opts[] = { ts, sack, md5, ao, mptcp, misc };
    const size_t ols[] = { sizeof ts, sizeof sack, sizeof md5, sizeof ao, sizeof mptcp,
                           sizeof misc };
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        size_t hdr = 40 + ((ols[o] + 3) & ~(size_t)3);
        for (size_t keep = 40; keep <= hdr + 1; keep++)
            add_opts(&c, 40000, HU_TH_PUSH | A, opts[o], ols[o], "hello", 5, keep);
    }
    crafted_check(&c);
}

/* tcpdump keeps a conversation's relative-sequence bases for as long as
 * it runs.  A connection closed, then its last FIN retransmitted 24 s
 * later (after hangup released the connection, 10 s after the close) and
 * 2 h later, with other conversations in between; then the same ports
 * again without a SYN, and with one: each line as tcpdump prints it. */
Test(tcpprint, bases_outlive_the_connection_as_in_tcpdump)
{
    crafted c = crafted_open();
#define SEG(from, to, fl, seq, ack) \
    crafted_add(&c, tu_ip4_tcp(ip, from == 1 ? "10.3.3.1" : "10.3.3.2", from == 1 ? 45000 : 80, \
                               from == 1 ? "10.3.3.2" : "10.3.3.1", from == 1 ? 80 : 45000, fl, \
                               seq, ack, NULL, 0, NULL, 0), 0)
    SEG(1, 2, HU_TH_SYN, 3000000000u, 0);
    SEG(2, 1, HU_TH_SYN | A, 700, 3000000001u);
    SEG(1, 2, A, 3000000001u, 701);
    SEG(2, 1, HU_TH_FIN | A, 701, 3000000001u);
    SEG(1, 2, HU_TH_FIN | A, 3000000001u, 702);
    SEG(2, 1, A, 702, 3000000002u);
    c.t += 24000000;   /* the client's FIN again, 24 s after the close */
    SEG(1, 2, HU_TH_FIN | A, 3000000001u, 702);
    crafted_add(&c, tu_ip4_tcp(ip, "10.3.3.9", 45001, "10.3.3.2", 80, HU_TH_SYN, 5, 0, NULL, 0,
                               NULL, 0), 0);
    c.t += 7200000000LL;   /* and 2 h later */
    SEG(1, 2, HU_TH_FIN | A, 3000000001u, 702);
    SEG(2, 1, HU_TH_RST, 702, 0);
    c.t += 60000000;   /* the ports reused, first without a SYN, then with one */
    SEG(1, 2, HU_TH_PUSH | A, 3000000001u, 702);
    SEG(1, 2, HU_TH_SYN, 12345, 0);
    SEG(2, 1, HU_TH_SYN | A, 999, 12346);
    SEG(1, 2, A, 12346, 1000);
#undef SEG
    crafted_check(&c);
}

/* The same through `hangup analyze`: a request on a conversation whose
 * connection was released 25 s before (closed, then its FIN resent) and
 * the server's RST make an incident, whose timeline lines are tcpdump's,
 * relative to the bases tcpdump set at the first handshake. */
Test(tcpprint, timeline_after_the_release_uses_tcpdumps_bases)
{
    crafted c = crafted_open();
    static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint32_t cs = 3000000001u, ss = 701, rl = sizeof req - 1, sl = sizeof resp - 1;
#define SEG(cli, fl, seq, ack, d, n) \
    crafted_add(&c, tu_ip4_tcp(ip, cli ? "10.4.4.1" : "10.4.4.2", cli ? 45000 : 80, \
                               cli ? "10.4.4.2" : "10.4.4.1", cli ? 80 : 45000, fl, seq, ack, NULL, \
                               0, d, n), 0)
    SEG(1, HU_TH_SYN, cs - 1, 0, NULL, 0);
    SEG(0, HU_TH_SYN | A, ss - 1, cs, NULL, 0);
    SEG(1, A, cs, ss, NULL, 0);
    SEG(1, HU_TH_PUSH | A, cs, ss, req, rl);
    SEG(0, HU_TH_PUSH | A, ss, cs + rl, resp, sl);
    c.t += 2000000;
    SEG(0, HU_TH_FIN | A, ss + sl, cs + rl, NULL, 0);
    SEG(1, HU_TH_FIN | A, cs + rl, ss + sl + 1, NULL, 0);
    SEG(0, A, ss + sl + 1, cs + rl + 1, NULL, 0);
    c.t += 24000000;
    SEG(1, HU_TH_FIN | A, cs + rl, ss + sl + 1, NULL, 0);
    c.t += 1000000;
    SEG(1, HU_TH_PUSH | A, cs + rl + 1, ss + sl + 1, req, rl);
    SEG(0, HU_TH_RST | A, ss + sl + 1, cs + 2 * rl + 1, NULL, 0);
#undef SEG
    tu_pcap_close(c.w);
    size_t nt;
    char **td = tu_tcpdump_lines(c.path, &nt);
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' analyze --no-db '%s'", HANGUP_BIN, c.path);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    cr_assert_eq(nt, c.n);
    size_t shown = 0;
    for (char *l = out, *e; l && *l; l = e ? e + 1 : NULL) {
        e = strchr(l, '\n');
        if (e)
            *e = '\0';
        if (*l < '0' || *l > '9')
            continue;
        bool found = false;
        for (size_t j = 0; j < nt && !found; j++)
            found = strcmp(l, td[j]) == 0;
        cr_expect(found, "timeline line is not tcpdump's:\n%s", l);
        shown++;
    }
    cr_expect_geq(shown, 2, "%s", out);
    free(out);
    tu_lines_free(td, nt);
    unlink(c.path);
    free((void *)c.path);
}

/* ------------------------------------------------------ encapsulations */

/* An Ethernet frame being built back to front in fr: `at` is where the
 * bytes built so far start, the inner packet last. */
typedef struct wrap {
    size_t at, end;
} wrap;

static wrap wrap_ip4(void)
{
    size_t n = tu_ip4_tcp(ip, "10.0.0.1", 40000, "10.0.0.2", 80, HU_TH_PUSH | A, 1000, 2000, NULL,
                          0, "GET /x HTTP/1.1\r\n\r\n", 19);
    wrap w = { 1024, 1024 + n };
    memcpy(fr + w.at, ip, n);
    return w;
}

static void put(wrap *w, const void *hdr, size_t n)
{
    w->at -= n;
    memcpy(fr + w->at, hdr, n);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An outer IPv4 (or IPv6) header of protocol `proto` around what w holds. */
static void put_ip(wrap *w, bool v6, uint8_t proto)
{
    size_t len = w->end - w->at;
    uint8_t h[40] = {0};
    if (v6) {
        h[0] = 0x60;
        put16(h + 4, (uint32_t)len);
        h[6] = proto;
        h[7] = 64;
        inet_pton(AF_INET6, "2001:db8::1", h + 8);
        inet_pton(AF_INET6, "2001:db8::2", h + 24);
        put(w, h, 40);
        return;
    }
    h[0] = 0x45;
    put16(h + 2, (uint32_t)len + 20);
    h[8] = 64;
    h[9] = proto;
    inet_pton(AF_INET, "192.0.2.1", h + 12);
    inet_pton(AF_INET, "192.0.2.2", h + 16);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(h + 10, ~sum & 0xffff);
    put(w, h, 20);
}

static void put_eth(wrap *w, uint16_t et)
{
    uint8_t h[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
    put16(h + 12, et);
    put(w, h, 14);
}

static void put_udp(wrap *w, uint16_t dport)
{
    uint8_t h[8] = {0};
    put16(h, 50000);
    put16(h + 2, dport);
    put16(h + 4, (uint32_t)(w->end - w->at) + 8);
    put(w, h, 8);
}

static void add_frame(tu_pcap *pc, int64_t *t, const wrap *w)
{
    tu_pcap_add(pc, *t += 1111, fr + w->at, (uint32_t)(w->end - w->at),
                (uint32_t)(w->end - w->at));
}

/* The header forms the samples do not hold, each against real tcpdump:
 * GRE with a checksum and a key, Geneve with both flags, a reserved byte
 * and an IPv4 payload, VXLAN over IPv6 without the I flag, MPLS's
 * explicit null label, PPPoE with address/control bytes, and IPv6
 * destination options, fragment and hop-by-hop headers. */
Test(tcpprint, tunnel_header_forms_match_tcpdump)
{
    char *path = strdup(tu_tmp(".pcap"));
    tu_pcap *pc = tu_pcap_open(path, 1, 65535);
    int64_t t = 1763740800123456LL;
    size_t n = 0;
    wrap w;

    w = wrap_ip4();   /* GRE, checksum and key */
    put(&w, (const uint8_t[]){ 0xa0, 0, 0x08, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 5 }, 12);
    put_ip(&w, false, 47);
    put_eth(&w, 0x0800);
    add_frame(pc, &t, &w), n++;

    w = wrap_ip4();   /* Geneve: O and C, rsvd 5, IPv4 straight after */
    put(&w, (const uint8_t[]){ 0, 0xc0, 0x08, 0, 0, 0, 42, 5 }, 8);
    put_udp(&w, 6081);
    put_ip(&w, false, 17);
    put_eth(&w, 0x0800);
    add_frame(pc, &t, &w), n++;

    w = wrap_ip4();   /* VXLAN over IPv6, flags 0 */
    put_eth(&w, 0x0800);
    put(&w, (const uint8_t[]){ 0, 0, 0, 0, 0, 0, 9, 0 }, 8);
    put_udp(&w, 4789);
    put_ip(&w, true, 17);
    put_eth(&w, 0x86dd);
    add_frame(pc, &t, &w), n++;

    w = wrap_ip4();   /* MPLS: IPv4 explicit null, then a 3-label stack */
    put(&w, (const uint8_t[]){ 0, 0, 1, 64 }, 4);
    put_eth(&w, 0x8847);
    add_frame(pc, &t, &w), n++;
    w = wrap_ip4();
    put(&w, (const uint8_t[]){ 0, 0x64, 0x0a, 255, 0, 0xc8, 0x02, 1, 0x01, 0x2c, 0x01, 2 }, 12);
    put_eth(&w, 0x8847);
    add_frame(pc, &t, &w), n++;

    w = wrap_ip4();   /* PPPoE with PPP's address and control bytes */
    put(&w, (const uint8_t[]){ 0xff, 0x03, 0x00, 0x21 }, 4);
    {
        uint8_t h[6] = { 0x11, 0, 0x12, 0x34 };
        put16(h + 4, (uint32_t)(w.end - w.at));
        put(&w, h, 6);
    }
    put_eth(&w, 0x8864);
    add_frame(pc, &t, &w), n++;

    /* IPv6 inner segments behind extension headers */
    static const uint8_t dst[8] = { 6, 0, 1, 4, 0, 0, 0, 0 }, frag[8] = { 6, 0, 0, 0, 0, 0, 0, 1 },
                         hbh[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };
    const uint8_t *chain[][2] = { { dst, NULL }, { frag, NULL }, { hbh, dst } };
    const uint8_t first[] = { 60, 44, 0 };
    for (int k = 0; k < 3; k++) {
        size_t len = tu_ip6_tcp(ip, "2001:db8::a", 40000, "2001:db8::b", 8080, A, 1, 2, "x", 1);
        w = (wrap){ 1024, 1024 };
        put(&w, ip + 40, len - 40);
        for (int j = 1; j >= 0; j--)
            if (chain[k][j])
                put(&w, chain[k][j], 8);
        memcpy(ip + 4, (uint8_t[]){ (uint8_t)((w.end - w.at) >> 8), (uint8_t)(w.end - w.at) }, 2);
        ip[6] = first[k];
        put(&w, ip, 40);
        put_eth(&w, 0x86dd);
        add_frame(pc, &t, &w), n++;
    }
    tu_pcap_close(pc);
    cmp_with_tcpdump(path, n);
    free(path);
}

/* BIG TCP captured on loopback: IPv6 jumbograms print as tcpdump prints
 * them ("IP6 ::1 > ::1: HBH 3003 > 52152: ..."); IPv4 packets of total
 * length 0 are decoded with the wire's length where tcpdump prints "IP
 * bad-len 0" (docs/DESIGN.md §7). */
Test(tcpprint, big_tcp_renders_like_tcpdump)
{
    static const char *const names[] = { "bigtcp-v4.pcap", "bigtcp-v6.pcap" };
    for (int k = 0; k < 2; k++) {
        size_t nh, nt, hbh = 0, badlen = 0;
        char **hu = tu_render_file(tu_sample(names[k]), &nh);
        char **td = tu_golden_lines(tu_sample(names[k]), &nt);
        cr_assert_not_null(td);
        cr_expect_eq(nh, nt, "%s: %zu packets, tcpdump printed %zu", names[k], nh, nt);
        for (size_t i = 0; i < nh && i < nt; i++) {
            cr_expect(hu[i] && tu_tcpdump_same(hu[i], td[i]),
                      "%s packet %zu:\n hangup:  %s\n tcpdump: %s", names[k], i + 1,
                      hu[i] ? hu[i] : "(none)", td[i]);
            hbh += hu[i] && strstr(hu[i], ": HBH ") && strcmp(hu[i], td[i]) == 0;
            badlen += strstr(td[i], "bad-len 0") != NULL;
        }
        if (k == 0)
            cr_expect_gt(badlen, 0, "no IPv4 packet of total length 0");
        else
            cr_expect_gt(hbh, 0, "no jumbogram line");
        tu_lines_free(hu, nh);
        tu_lines_free(td, nt);
    }
}
