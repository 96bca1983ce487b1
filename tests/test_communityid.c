/*
 * test_communityid.c -- the Community ID module against the spec's
 * published vectors.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/communityid.h"
#include "testutil.h"

/* The Community ID of text endpoints a and b (IPv4 or IPv6). */
static const char *cid_of(uint16_t seed, const char *a, uint16_t ap, const char *b, uint16_t bp)
{
    static char out[HU_CID_LEN];
    uint8_t aa[16] = { 0 }, ba[16] = { 0 };
    uint8_t ipver = strchr(a, ':') ? 6 : 4;
    int af = ipver == 4 ? AF_INET : AF_INET6;
    cr_assert_eq(inet_pton(af, a, aa), 1, "%s", a);
    cr_assert_eq(inet_pton(af, b, ba), 1, "%s", b);
    cr_assert(hu_cid_tcp(out, seed, ipver, aa, ap, ba, bp));
    return out;
}

/* The TCP rows of the spec's baseline (corelight/community-id-spec,
 * baseline/README.md and baseline_deflt.json / baseline_seed1.json): the
 * README's table, and real IPv4 and IPv6 flows of its combined.pcap. */
Test(communityid, spec_baseline_vectors)
{
    static const struct {
        const char *a, *b;
        uint16_t ap, bp;
        const char *seed0, *seed1;
    } v[] = {
        { "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=",
          "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
        { "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
          "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
        { "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
          "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        /* Both directions of the flow: one ID. */
        cr_expect_str_eq(cid_of(0, v[i].a, v[i].ap, v[i].b, v[i].bp), v[i].seed0);
        cr_expect_str_eq(cid_of(0, v[i].b, v[i].bp, v[i].a, v[i].ap), v[i].seed0);
        cr_expect_str_eq(cid_of(1, v[i].a, v[i].ap, v[i].b, v[i].bp), v[i].seed1);
        cr_expect_str_eq(cid_of(1, v[i].b, v[i].bp, v[i].a, v[i].ap), v[i].seed1);
    }
}

/* One address on both sides (every sample is on loopback): the ports
 * decide the order, so both directions still give one ID, and swapping
 * the ports between the sides gives another connection. */
Test(communityid, equal_addresses_are_ordered_by_port)
{
    char one[HU_CID_LEN];
    snprintf(one, sizeof one, "%s", cid_of(0, "::1", 50000, "::1", 3000));
    cr_expect_str_eq(cid_of(0, "::1", 3000, "::1", 50000), one);
    cr_expect_str_neq(cid_of(0, "::1", 50000, "::1", 3001), one);
    snprintf(one, sizeof one, "%s", cid_of(0, "127.0.0.1", 50000, "127.0.0.1", 3000));
    cr_expect_str_eq(cid_of(0, "127.0.0.1", 3000, "127.0.0.1", 50000), one);
}

Test(communityid, other_ip_versions_have_none)
{
    char out[HU_CID_LEN] = "x";
    uint8_t a[16] = { 1 }, b[16] = { 2 };
    cr_expect_not(hu_cid_tcp(out, 0, 0, a, 1, b, 2));
    cr_expect_str_eq(out, "");
    cr_expect_not(hu_cid_tcp(out, 0, 5, a, 1, b, 2));
    cr_expect_str_eq(out, "");
}
