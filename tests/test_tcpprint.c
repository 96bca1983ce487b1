/*
 * test_tcpprint.c -- hangup's packet lines against real tcpdump.
 *
 * Crafts a capture full of the cases tcpdump renders in particular ways
 * (every TCP option kind and malformed options, SACK edges, relative
 * numbers from mid-stream and across SYN, URG, flag combinations, HTTP
 * first lines on port 80/8080 with their many rules, LINUX_SLL2 prefixes,
 * IPv6), runs the installed tcpdump on it and compares line for line.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define A HU_TH_ACK

static uint8_t ip[4096], fr[4096];

static void cmp_with_tcpdump(const char *path, size_t expect_packets)
{
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
