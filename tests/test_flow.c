/*
 * test_flow.c -- the connection table and TCP tracker: roles, handshake
 * RTT, per-side sequence state across wraparound, first FINs, the bounded
 * ring, expiry, eviction and port reuse; TLS recognised where it begins.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hangup/flow.h"
#include "testutil.h"
#include "hangup/tcpprint.h"
#include "hangup/strbuf.h"

#define A HU_TH_ACK
#define PA (HU_TH_PUSH | HU_TH_ACK)

static hu_flowtab *ft;
static tu_conv cv;
static hu_pkt pk;
static int released;

static void setup(void)
{
    hu_flowtab_cfg cfg = { .max_flows = 4, .idle_us = 10000000, .halfclosed_us = 5000000,
                           .closed_us = 1000000 };
    ft = hu_flowtab_new(&cfg);
    released = 0;
    tu_conv_v4(&cv, "10.0.0.1", 40000, "10.0.0.2", 80);
}
static void teardown(void) { hu_flowtab_free(ft); }

static hu_flow *feed(bool c, int64_t t_ms, uint8_t fl, uint32_t seq, uint32_t ack, const char *d,
                     uint32_t len, uint8_t *side)
{
    static uint64_t num;
    tu_pkt(&pk, &cv, c, ++num, t_ms * 1000, fl, seq, ack, d, len);
    /* tcpdump's suffix rendered before tracking, as the pipeline does */
    static hu_sb sfx;
    hu_sb_reset(&sfx);
    pk.suffix_ready = true;
    pk.suffix_len = 0;
    if (len && hu_tcpprint_payload_suffix(&pk, &sfx)) {
        pk.suffix = sfx.buf;
        pk.suffix_len = (uint32_t)sfx.len;
    }
    uint8_t s;
    hu_flow *f = hu_flowtab_track(ft, &pk, &s);
    /* Released connections wait for their owner, their memory intact. */
    hu_flow *g;
    while ((g = hu_flowtab_released(ft))) {
        cr_expect_neq(g, f, "the tracked connection is never the released one");
        released++;
        hu_flowtab_dispose(ft, g);
    }
    if (side)
        *side = s;
    return f;
}

TestSuite(flow, .init = setup, .fini = teardown);

Test(flow, handshake_gives_roles_and_rtt)
{
    feed(true, 0, HU_TH_SYN, 100, 0, NULL, 0, NULL);
    feed(false, 40, HU_TH_SYN | A, 900, 101, NULL, 0, NULL);
    uint8_t s;
    hu_flow *f = feed(true, 41, A, 101, 901, NULL, 0, &s);
    cr_assert_not_null(f);
    cr_expect_eq(f->client, s);
    cr_expect_eq(f->role_src, HU_ROLE_SYN);
    cr_expect(f->handshake_seen);
    cr_expect_eq(f->rtt_us, 41000);
    /* Side 0 is tcpdump's: the lower port (80, the server). */
    cr_expect_eq(f->port[0], 80);
    cr_expect_eq(f->client, 1);
}

Test(flow, synack_receiver_is_the_client_when_syn_is_missing)
{
    hu_flow *f = feed(false, 0, HU_TH_SYN | A, 900, 101, NULL, 0, NULL);
    cr_expect_eq(f->role_src, HU_ROLE_SYNACK);
    cr_expect_eq(f->port[f->client], 40000);
    cr_expect_not(f->handshake_seen);
}

Test(flow, payload_decides_roles_midstream)
{
    /* Server on the higher port: the port guess is wrong until the
     * response line shows who the server is. */
    tu_conv_v4(&cv, "10.0.0.1", 1000, "10.0.0.2", 60000);
    hu_flow *f = feed(false, 0, PA, 5, 7, "HTTP/1.1 200 OK\r\n\r\n", 19, NULL);
    cr_expect_eq(f->role_src, HU_ROLE_PAYLOAD);
    cr_expect_eq(f->port[f->client], 1000);
    /* A later request line does not flip an evidence-based decision back. */
    f = feed(true, 1, PA, 7, 24, "GET / HTTP/1.1\r\n\r\n", 18, NULL);
    cr_expect_eq(f->port[f->client], 1000);
    /* No evidence at all: the higher port is the client. */
    tu_conv_v4(&cv, "10.0.0.3", 2000, "10.0.0.4", 3000);
    f = feed(true, 2, A, 1, 1, NULL, 0, NULL);
    cr_expect_eq(f->role_src, HU_ROLE_PORT);
    cr_expect_eq(f->port[f->client], 3000);
}

Test(flow, sequence_state_across_wraparound_and_first_fin)
{
    uint8_t s;
    feed(true, 0, HU_TH_SYN, 0xfffffff0u, 0, NULL, 0, NULL);
    feed(false, 1, HU_TH_SYN | A, 10, 0xfffffff1u, NULL, 0, NULL);
    hu_flow *f = feed(true, 2, PA, 0xfffffff1u, 11, "0123456789abcdefghij", 20, &s);
    cr_expect_eq(f->side[s].snd_max, 0xfffffff1u + 20, "wrapped to 5");
    cr_expect_eq(f->side[s].snd_max, 5);
    /* An old retransmission does not move snd_max back. */
    feed(true, 3, PA, 0xfffffff1u, 11, "0123456789", 10, NULL);
    cr_expect_eq(f->side[s].snd_max, 5);
    feed(false, 4, HU_TH_FIN | A, 11, 5, NULL, 0, NULL);
    feed(false, 5, HU_TH_FIN | A, 11, 5, NULL, 0, NULL);   /* retransmitted FIN */
    uint8_t srv = (uint8_t)!s;
    cr_expect(f->side[srv].fin_seen);
    cr_expect_eq(f->side[srv].fin_seq, 11);
    cr_expect_eq(f->side[srv].fin_ack, 5);
    cr_expect_eq(f->side[srv].fin_num, pk.num - 1, "the first FIN is kept");
}

Test(flow, ring_is_bounded_and_counts_what_it_dropped)
{
    feed(true, 0, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    hu_flow *f = NULL;
    for (int i = 0; i < 100; i++)
        f = feed(i % 2, i + 1, A, 2, 2, NULL, 0, NULL);
    cr_expect_eq(f->ring_len, HU_RING_MAX);
    cr_expect_eq(f->ring_dropped, 101 - HU_RING_MAX);
    cr_expect_eq(hu_flow_ring_at(f, HU_RING_MAX - 1)->num, pk.num, "newest last");
}

/* Suffixes live in the slot's heap part: kept through the ring's growth,
 * freed when their slot is overwritten and when the connection goes (ASan
 * and LeakSanitizer watch the frees).  A body segment's ": HTTP" is the
 * shared text: no heap part of its own, nothing to free. */
Test(flow, ring_keeps_long_and_short_suffixes_across_growth_and_wrap)
{
    feed(true, 0, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    feed(false, 1, HU_TH_SYN | A, 1, 2, NULL, 0, NULL);
    char req[200];
    uint32_t seq = 2;
    hu_flow *f = NULL;
    for (int i = 0; i < 70; i++) {
        /* Every third request has a long target (its suffix > 64 bytes);
         * every fourth segment is body bytes, no request line. */
        int n = i % 4 == 3 ? snprintf(req, sizeof req, "body-bytes-%d", i)
                           : snprintf(req, sizeof req, "GET /%s/%d HTTP/1.1\r\nHost: t\r\n\r\n",
                                      i % 3 ? "x" : "a-rather-long-path/that-makes-the-suffix/spill-over", i);
        f = feed(true, 2 + i, PA, seq, 2, req, (uint32_t)n, NULL);
        seq += (uint32_t)n;
    }
    cr_assert_eq(f->ring_len, HU_RING_MAX);
    unsigned shared = 0;
    for (unsigned k = 0; k < HU_RING_MAX; k++) {
        int i = 70 - HU_RING_MAX + (int)k;
        char want[200];
        if (i % 4 == 3)
            snprintf(want, sizeof want, ": HTTP");
        else
            snprintf(want, sizeof want, ": HTTP: GET /%s/%d HTTP/1.1",
                     i % 3 ? "x" : "a-rather-long-path/that-makes-the-suffix/spill-over", i);
        const hu_pktsum *e = hu_flow_ring_at(f, k);
        const char *got = hu_pktsum_http(e);
        cr_assert_not_null(got, "slot %u", k);
        cr_expect_str_eq(got, want, "slot %u", k);
        cr_expect_eq(hu_pktsum_shared(e), i % 4 == 3, "slot %u", k);
        shared += hu_pktsum_shared(e);
        cr_expect_eq((f->ring_heap >> (unsigned)(e - f->ring)) & 1u,
                     e->ext != NULL && !hu_pktsum_shared(e), "slot %u", k);
    }
    cr_expect_eq(shared, 8, "a body segment every fourth");
    /* A copy of a shared-text summary shares it too; clearing frees nothing. */
    hu_pktsum cp;
    hu_pktsum_copy(&cp, hu_flow_ring_at(f, 1));
    cr_expect(hu_pktsum_shared(&cp));
    hu_pktsum_clear(&cp);
    cr_expect_null(cp.ext);
    cr_expect_str_eq(hu_pktsum_text(hu_flow_ring_at(f, 1)), ": HTTP");
}

Test(flow, idle_and_closed_flows_are_released)
{
    feed(true, 0, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    feed(true, 1, HU_TH_RST, 2, 0, NULL, 0, NULL);   /* closed */
    tu_conv_v4(&cv, "10.0.0.3", 40001, "10.0.0.2", 80);
    feed(true, 2, HU_TH_SYN, 1, 0, NULL, 0, NULL);   /* open, idle */
    hu_flowtab_stats st;
    hu_flowtab_stats_get(ft, &st);
    cr_expect_eq(st.active, 2);
    /* 1.5 s later: the closed one goes (closed_us = 1 s), the idle one stays. */
    tu_conv_v4(&cv, "10.0.0.4", 40002, "10.0.0.2", 80);
    feed(true, 1500, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    hu_flowtab_stats_get(ft, &st);
    cr_expect_eq(released, 1);
    cr_expect_eq(st.active, 2);
    /* 11 s after that: both idle ones go (idle_us = 10 s). */
    tu_conv_v4(&cv, "10.0.0.5", 40003, "10.0.0.2", 80);
    feed(true, 13000, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    hu_flowtab_stats_get(ft, &st);
    cr_expect_eq(released, 3);
    cr_expect_eq(st.active, 1);
    cr_expect_eq(st.evicted, 0);
}

Test(flow, table_full_evicts_least_recently_active)
{
    for (int i = 0; i < 10; i++) {
        tu_conv_v4(&cv, "10.0.0.1", (uint16_t)(40000 + i), "10.0.0.2", 80);
        feed(true, i, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    }
    hu_flowtab_stats st;
    hu_flowtab_stats_get(ft, &st);
    cr_expect_eq(st.active, 4);
    cr_expect_eq(st.evicted, 6);
    cr_expect_eq(st.flows, 10);
    cr_expect_eq(st.peak, 4);
}

Test(flow, new_syn_on_a_closed_tuple_starts_a_new_connection)
{
    hu_flow *f = feed(true, 0, HU_TH_SYN, 100, 0, NULL, 0, NULL);
    uint64_t id = f->id;
    feed(false, 1, HU_TH_SYN | A, 900, 101, NULL, 0, NULL);
    feed(true, 2, HU_TH_RST, 101, 0, NULL, 0, NULL);
    f = feed(true, 3, HU_TH_SYN, 5000, 0, NULL, 0, NULL);
    cr_expect_neq(f->id, id);
    cr_expect_eq(f->side[f->client].isn, 5000);
    cr_expect_eq(released, 1);
}

/* A released connection's tcpdump bases go to the table it was given,
 * which keeps those of the last `max` releases: a conversation seen again
 * gets them back (its numbers relative, as tcpdump prints them), one
 * released before those starts over (absolute numbers, new bases). */
Test(flow, released_bases_are_kept_for_the_last_max_conversations)
{
    hu_tcpprint_convs *convs = hu_tcpprint_convs_new(2);
    cr_assert_not_null(convs);
    hu_flowtab_free(ft);
    hu_flowtab_cfg cfg = { .max_flows = 4, .idle_us = 10000000, .halfclosed_us = 5000000,
                           .closed_us = 1000000, .convs = convs };
    ft = hu_flowtab_new(&cfg);
    for (int i = 0; i < 3; i++) {
        tu_conv_v4(&cv, "10.0.0.1", (uint16_t)(40001 + i), "10.0.0.2", 80);
        feed(true, i * 10, HU_TH_SYN, 1000, 0, NULL, 0, NULL);
        feed(false, i * 10 + 1, HU_TH_SYN | A, 5000, 1001, NULL, 0, NULL);
        feed(true, i * 10 + 2, A, 1001, 5001, NULL, 0, NULL);
        feed(false, i * 10 + 3, HU_TH_RST, 5001, 0, NULL, 0, NULL);
    }
    for (int i = 0; i < 3; i++) {   /* a minute later, each one's last ACK again */
        tu_conv_v4(&cv, "10.0.0.1", (uint16_t)(40001 + i), "10.0.0.2", 80);
        hu_flow *f = feed(true, 60000 + i, A, 1001, 5001, NULL, 0, NULL);
        cr_assert(f && f->ring_len == 1);
        const hu_pktsum *e = hu_flow_ring_at(f, 0);
        uint32_t seq = i == 0 ? 1001 : 1, ack = i == 0 ? 5001 : 1;
        cr_expect(e->seq == seq && e->ack == ack, "conversation %d: seq %u ack %u", i, e->seq,
                  e->ack);
    }
    cr_expect_eq(released, 3);
    hu_flowtab_free(ft);
    ft = NULL;
    hu_tcpprint_convs_free(convs);
}

Test(flow, request_window_survives_split_and_out_of_order_segments)
{
    feed(true, 0, HU_TH_SYN, 99, 0, NULL, 0, NULL);
    feed(false, 1, HU_TH_SYN | A, 499, 100, NULL, 0, NULL);
    feed(true, 2, PA, 108, 500, "T / HTTP/1.1\r\n", 14, NULL);   /* arrives first */
    hu_flow *f = feed(true, 3, PA, 100, 500, "GET /abc", 8, NULL);
    uint32_t n;
    const uint8_t *b = hu_flow_reqbytes(f, 100, &n);
    cr_assert_not_null(b);
    cr_expect_eq(n, 22);
    cr_expect_eq(memcmp(b, "GET /abcT / HTTP/1.1\r\n", 22), 0);
}

Test(flow, an_idle_open_connection_does_not_hold_back_closed_ones)
{
    /* The oldest flow stays open and idle; closed and half-closed flows
     * behind it must still go after their own, shorter timeouts. */
    feed(true, 0, HU_TH_SYN, 1, 0, NULL, 0, NULL);                  /* open, idle */
    tu_conv_v4(&cv, "10.0.0.7", 40007, "10.0.0.2", 80);
    feed(true, 100, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    feed(true, 101, HU_TH_RST, 2, 0, NULL, 0, NULL);                /* closed */
    tu_conv_v4(&cv, "10.0.0.8", 40008, "10.0.0.2", 80);
    feed(false, 200, HU_TH_FIN | A, 5, 5, NULL, 0, NULL);           /* half-closed */
    tu_conv_v4(&cv, "10.0.0.9", 40009, "10.0.0.2", 80);
    feed(true, 2000, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    cr_expect_eq(released, 1, "the closed flow goes after 1 s, behind an open one");
    feed(true, 6000, A, 2, 2, NULL, 0, NULL);
    cr_expect_eq(released, 2, "the half-closed one after 5 s");
    hu_flowtab_stats st;
    hu_flowtab_stats_get(ft, &st);
    cr_expect_eq(st.active, 2, "the open ones stay (10 s)");
}

/* The first bytes of a ClientHello / ServerHello record (hu_tls_hello_starts
 * reads no further). */
static const char chello[] = "\x16\x03\x01\x01\x2c\x01\x00\x01\x28\x03\x03";
static const char shello[] = "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03";

Test(flow, tls_begun_mid_stream_is_recognised_at_the_hello)
{
    /* SMTP: cleartext both ways, then STARTTLS, then the ClientHello
     * starting a segment (docs/DESIGN.md §2.3). */
    tu_conv_v4(&cv, "10.0.0.1", 40000, "10.0.0.2", 25);
    feed(true, 0, HU_TH_SYN, 100, 0, NULL, 0, NULL);
    feed(false, 1, HU_TH_SYN | A, 900, 101, NULL, 0, NULL);
    feed(false, 2, PA, 901, 101, "220 mail ESMTP\r\n", 16, NULL);
    hu_flow *f = feed(true, 3, PA, 101, 917, "STARTTLS\r\n", 10, NULL);
    cr_expect_not(f->tls, "cleartext is not TLS");
    feed(false, 4, PA, 917, 111, "220 Ready\r\n", 11, NULL);
    f = feed(true, 5, PA, 111, 928, chello, 11, NULL);
    cr_expect(f->tls);
    cr_expect(f->tls_mid);
    cr_expect(f->tls_hello_set);
    cr_expect_eq(f->tls_hello_seq, 111);

    /* A hello the server answers with (its ClientHello not captured). */
    tu_conv_v4(&cv, "10.0.0.3", 40001, "10.0.0.4", 21);
    feed(false, 10, PA, 5000, 700, "234 AUTH TLS ok\r\n", 17, NULL);
    f = feed(false, 11, PA, 5017, 1000, shello, 11, NULL);
    cr_expect(f->tls && f->tls_mid);
    cr_expect_not(f->tls_hello_set, "no ClientHello: its position is unknown");
}

Test(flow, a_hello_is_looked_for_only_at_segment_starts_early_in_the_stream)
{
    /* In the middle of a segment: not a boundary a protocol upgrades at. */
    tu_conv_v4(&cv, "10.0.0.1", 40000, "10.0.0.2", 80);
    char b[64];
    memcpy(b, "POST / HTTP/1.1\r\n", 17);
    memcpy(b + 17, chello, 11);
    hu_flow *f = feed(true, 0, PA, 1000, 1, b, 28, NULL);
    cr_expect_not(f->tls);
    /* At a segment start, but beyond the first HU_TLS_SCAN bytes. */
    f = feed(true, 1, PA, 1000 + HU_TLS_SCAN, 1, chello, 11, NULL);
    cr_expect_not(f->tls);
    /* A ClientHello from the server, a ServerHello from the client: no. */
    f = feed(false, 2, PA, 1, 1028, chello, 11, NULL);
    cr_expect_not(f->tls);
    f = feed(true, 3, PA, 1028, 12, shello, 11, NULL);
    cr_expect_not(f->tls);
    /* Just inside the bound it is found. */
    f = feed(true, 4, PA, 1000 + HU_TLS_SCAN - 1, 12, chello, 11, NULL);
    cr_expect(f->tls && f->tls_mid);
}

/* Every summary of f's ring as tcpdump prints it, one per line. */
static char *ring_lines(const hu_flow *f)
{
    hu_sb out = {0};
    hu_tcpprint_ends ends = { f->ipver, { f->addr[0], f->addr[1] }, { f->port[0], f->port[1] } };
    for (unsigned i = 0; i < f->ring_len; i++) {
        hu_tcpprint_line(&out, &ends, hu_flow_ring_at(f, i));
        hu_sb_putc(&out, '\n');
    }
    return out.buf ? out.buf : strdup("");
}

/* An idle connection's ring keeps its last exchange, is packed once the
 * connection has idled (another connection's packets move the clock),
 * and its next packet finds every summary as it was: numbers, options,
 * payload suffixes. */
Test(flow, idle_ring_is_trimmed_packed_and_unpacked_unchanged)
{
    feed(true, 0, HU_TH_SYN, 1, 0, NULL, 0, NULL);
    feed(false, 1, HU_TH_SYN | A, 1000, 2, NULL, 0, NULL);
    feed(true, 2, A, 2, 1001, NULL, 0, NULL);
    const char *r1 = "GET /one HTTP/1.1\r\nHost: t\r\n\r\n";
    const char *s1 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const char *r2 = "GET /two HTTP/1.1\r\nHost: t\r\n\r\n";
    uint32_t cseq = 2, sseq = 1001;
    feed(true, 3, PA, cseq, sseq, r1, (uint32_t)strlen(r1), NULL);
    cseq += (uint32_t)strlen(r1);
    feed(false, 4, PA, sseq, cseq, s1, (uint32_t)strlen(s1), NULL);
    sseq += (uint32_t)strlen(s1);
    feed(true, 5, A, cseq, sseq, NULL, 0, NULL);
    feed(true, 30, PA, cseq, sseq, r2, (uint32_t)strlen(r2), NULL);
    cseq += (uint32_t)strlen(r2);
    feed(false, 31, PA, sseq, cseq, s1, (uint32_t)strlen(s1), NULL);
    sseq += (uint32_t)strlen(s1);
    hu_flow *f = feed(true, 32, A, cseq, sseq, NULL, 0, NULL);
    uint64_t dropped = f->ring_dropped;
    cr_assert_eq(f->ring_len, 9);
    hu_flow_idle(ft, f);   /* the owner: no message in progress */
    /* Trimmed at once to the last exchange (request, response, ACK). */
    cr_expect_eq(f->ring_len, 3);
    cr_expect_eq(f->ring_dropped, dropped + 6, "what was trimmed counts as dropped");
    char *before = ring_lines(f);
    cr_expect(strstr(before, "GET /two") != NULL, "%s", before);
    cr_expect(strstr(before, "GET /one") == NULL, "%s", before);
    cr_expect_null(f->ring_packed);
    /* Another connection's packet, 50 ms later: not idle long enough. */
    tu_conv cv1 = cv;
    tu_conv_v4(&cv, "10.0.0.9", 40009, "10.0.0.2", 80);
    feed(true, 82, HU_TH_SYN, 7, 0, NULL, 0, NULL);
    cr_expect_null(f->ring_packed);
    /* ... and a second later: packed. */
    feed(true, 1082, HU_TH_SYN, 7, 0, NULL, 0, NULL);
    cr_assert_not_null(f->ring_packed);
    cr_expect_null(f->ring);
    cr_expect_eq(f->ring_len, 0);
    /* Its next packet unpacks it: the same lines, then the new one. */
    cv = cv1;
    f = feed(false, 2000, HU_TH_FIN | A, sseq, cseq, NULL, 0, NULL);
    cr_assert_not_null(f->ring);
    cr_assert(f->ring_backed, "the block stays only behind the live ring's texts");
    cr_assert_eq(f->ring_len, 4);
    char *after = ring_lines(f);
    cr_expect_eq(strncmp(before, after, strlen(before)), 0, "before:\n%s\nafter:\n%s", before,
                 after);
    cr_expect_eq(f->ring_dropped, dropped + 6);
    free(before);
    free(after);
}
