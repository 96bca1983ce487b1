/*
 * test_detect.c -- the keep-alive race detector on synthetic connections
 * fed packet by packet to the pipeline (tu_run), from both vantages, and
 * the look-alikes that must not be incidents.  Every test ends the capture
 * before it counts, so what only the end proves (a connect timeout, a
 * client abort) would be counted too: a race is the one incident of its
 * connection, and a look-alike is no incident of any kind.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <string.h>

#include "testutil.h"

#define A HU_TH_ACK
#define PA (HU_TH_PUSH | HU_TH_ACK)
#define FA (HU_TH_FIN | HU_TH_ACK)
#define R HU_TH_RST
#define RA (HU_TH_RST | HU_TH_ACK)

static const char REQ1[] = "GET /first HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char REQ2[] = "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
#define L1 ((uint32_t)(sizeof REQ1 - 1))
#define LR ((uint32_t)(sizeof RESP - 1))
#define L2 ((uint32_t)(sizeof REQ2 - 1))

static tu_run run;
static tu_conv cv;
static hu_pkt pk;

static void setup(void)
{
    tu_run_init(&run);
    tu_conv_v4(&cv, "10.0.0.1", 40000, "10.0.0.2", 3000);
}
static void teardown(void) { tu_run_fini(&run); }

/* Feed one segment: c = from client. */
static void seg(uint64_t num, int64_t t_ms, bool c, uint8_t fl, uint32_t seq, uint32_t ack,
                const char *data, uint32_t len)
{
    tu_pkt(&pk, &cv, c, num, 1700000000000000LL + t_ms * 1000, fl, seq, ack, data, len);
    tu_run_feed(&run, &pk);
}

/* Handshake and one exchange, client ISN ci, server ISN si; returns the
 * next packet number.  After it: client next seq ci+1+L1, server si+1+LR. */
static uint64_t exchange(uint32_t ci, uint32_t si)
{
    seg(1, 0, true, HU_TH_SYN, ci, 0, NULL, 0);
    seg(2, 1, false, HU_TH_SYN | A, si, ci + 1, NULL, 0);
    seg(3, 2, true, A, ci + 1, si + 1, NULL, 0);
    seg(4, 3, true, PA, ci + 1, si + 1, REQ1, L1);
    seg(5, 4, false, PA, si + 1, ci + 1 + L1, RESP, LR);
    seg(6, 5, true, A, ci + 1 + L1, si + 1 + LR, NULL, 0);
    return 7;
}

/* The capture ends (what only its end proves comes out too); then exactly
 * one incident, a keep-alive race, or none of any kind. */
static void expect_one_race(void)
{
    tu_run_end(&run);
    cr_assert_eq(run.ninc, 1, "%d incidents", run.ninc);
    cr_expect_eq(run.inc[0].kind, HU_KIND_RACE, "a %s", hu_kind_name(run.inc[0].kind));
}

static void expect_none(void)
{
    tu_run_end(&run);
    cr_expect_eq(run.ninc, 0, "%d incidents, the first a %s at packet %" PRIu64, run.ninc,
                 hu_kind_name(run.inc[0].kind), run.inc[0].req);
}

TestSuite(detect, .init = setup, .fini = teardown);

Test(detect, stale_at_server_vantage)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, A, c2, s2 + 1, NULL, 0);
    seg(9, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(10, 5101, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    tu_inc *i = &run.inc[0];
    cr_expect_eq(i->verdict, HU_VERDICT_STALE);
    cr_expect_eq(i->fin, 7);
    cr_expect_eq(i->req, 9);
    cr_expect_eq(i->rst, 10);
    cr_expect_eq(i->gap_us, 100000);
    cr_expect_eq(i->rtt_us, 2000);
    cr_expect(i->handshake_seen);
    cr_expect_not(i->rst_ack);
    cr_expect_str_eq(i->method, "POST");
    cr_expect_str_eq(i->target, "/orders");
    cr_expect(i->safe, "a discarded POST is safe to retry");
}

Test(detect, crossed_at_client_vantage_request_before_fin)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    /* The client writes first; the FIN that crossed it arrives after. */
    seg(7, 5000, true, PA, c2, s2, REQ2, L2);
    seg(8, 5010, false, FA, s2, c2, NULL, 0);
    seg(9, 5011, true, A, c2 + L2, s2 + 1, NULL, 0);
    seg(10, 5020, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    tu_inc *i = &run.inc[0];
    cr_expect_eq(i->verdict, HU_VERDICT_CROSSED);
    cr_expect_eq(i->fin, 8);
    cr_expect_eq(i->req, 7);
    cr_expect_eq(i->rst, 10);
    cr_expect_eq(i->gap_us, -10000, "the request precedes the FIN: negative gap");
    cr_expect_str_eq(i->method, "POST");
}

Test(detect, crossed_at_server_vantage_request_after_fin)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5010, true, PA, c2, s2, REQ2, L2);   /* ack does not cover the FIN */
    seg(9, 5010, false, RA, s2 + 1, c2 + L2, NULL, 0);
    expect_one_race();
    cr_expect_eq(run.inc[0].verdict, HU_VERDICT_CROSSED);
    cr_expect_eq(run.inc[0].gap_us, 10000);
    cr_expect(run.inc[0].rst_ack);
}

Test(detect, clean_close_is_not_an_incident)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, FA, c2, s2 + 1, NULL, 0);
    seg(9, 5002, false, A, s2 + 1, c2 + 1, NULL, 0);
    expect_none();
}

Test(detect, idle_reset_never_reused_is_not_an_incident)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, A, c2, s2 + 1, NULL, 0);
    seg(9, 9000, false, R, s2 + 1, 0, NULL, 0);
    /* Even data after that reset is no longer this incident. */
    seg(10, 9001, true, PA, c2, s2 + 1, REQ2, L2);
    seg(11, 9002, false, R, s2 + 1, 0, NULL, 0);
    expect_none();
}

Test(detect, keepalive_probe_after_fin_is_not_an_incident)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    /* TCP keep-alive probes: 0 or 1 byte at snd.nxt - 1. */
    seg(8, 6000, true, A, c2 - 1, s2 + 1, NULL, 0);
    seg(9, 7000, true, A, c2 - 1, s2 + 1, "x", 1);
    seg(10, 7001, false, R, s2 + 1, 0, NULL, 0);
    expect_none();
}

Test(detect, retransmission_of_acknowledged_data_is_not_an_incident)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, PA, ci + 1, s2 + 1, REQ1, L1);   /* spurious retransmission */
    seg(9, 5002, false, R, s2 + 1, 0, NULL, 0);
    expect_none();
}

Test(detect, client_reset_first_is_not_a_keepalive_race)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, PA, c2, s2 + 1, REQ2, L2);
    seg(9, 5002, true, R, c2 + L2, 0, NULL, 0);
    seg(10, 5003, false, R, s2 + 1, 0, NULL, 0);
    expect_none();
}

Test(detect, client_closing_first_is_not_a_keepalive_race)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    /* The client closes; the server's late data meets the client's RST:
     * that is a client abort, not a server-side keep-alive close. */
    seg(7, 5000, true, FA, c2, s2, NULL, 0);
    seg(8, 5001, false, PA, s2, c2, RESP, LR);
    seg(9, 5002, true, R, c2 + 1, 0, NULL, 0);
    expect_none();
}

Test(detect, sequence_numbers_wrapping_around_zero)
{
    /* Client ISN just below 2^32: the late request starts past the wrap. */
    uint32_t ci = 0xffffffe0u, si = 0xfffffff0u;
    uint32_t c2 = ci + 1 + L1, s2 = si + 1 + LR;
    cr_assert_lt(c2, ci, "the test must really wrap");
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5001, true, A, c2, s2 + 1, NULL, 0);
    seg(9, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(10, 5101, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect_eq(run.inc[0].verdict, HU_VERDICT_STALE);
    cr_expect_str_eq(run.inc[0].target, "/orders");
}

Test(detect, request_line_split_across_segments)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5100, true, PA, c2, s2 + 1, "PO", 2);
    seg(9, 5101, true, PA, c2 + 2, s2 + 1, "ST /split/path?q=1 HT", 21);
    seg(10, 5102, true, PA, c2 + 23, s2 + 1, "TP/1.1\r\n\r\n", 10);
    seg(11, 5103, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect_eq(run.inc[0].req, 8, "the request starts at its first segment");
    cr_expect_str_eq(run.inc[0].method, "POST");
    cr_expect_str_eq(run.inc[0].target, "/split/path?q=1");
}

Test(detect, request_split_and_sent_before_the_fin)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, true, PA, c2, s2, "DELETE /it", 10);
    seg(8, 5000, true, PA, c2 + 10, s2, "ems/7 HTTP/1.1\r\n\r\n", 18);
    seg(9, 5005, false, FA, s2, c2, NULL, 0);
    seg(10, 5010, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect_eq(run.inc[0].req, 7);
    cr_expect_str_eq(run.inc[0].method, "DELETE");
    cr_expect_str_eq(run.inc[0].target, "/items/7");
    cr_expect_eq(run.inc[0].verdict, HU_VERDICT_CROSSED);
}

Test(detect, tls_record_is_reported_as_tls)
{
    static const char tls[] = "\x17\x03\x03\x00\x20 0123456789abcdef0123456789abcde";
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5100, true, PA, c2, s2 + 1, tls, 37);
    seg(9, 5101, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect(run.inc[0].tls);
    cr_expect_not(run.inc[0].http);
}

Test(detect, midstream_without_handshake_server_on_higher_port)
{
    /* No SYN: roles must come from the request line, although the server
     * port is higher than the client's. */
    tu_conv_v4(&cv, "10.0.0.1", 1025, "10.0.0.2", 50000);
    uint32_t c2 = 700, s2 = 900;
    seg(1, 0, false, PA, s2 - LR, c2, RESP, LR);   /* tail of an earlier exchange */
    seg(2, 1, true, A, c2, s2, NULL, 0);
    seg(3, 5000, false, FA, s2, c2, NULL, 0);
    seg(4, 5001, true, A, c2, s2 + 1, NULL, 0);
    seg(5, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(6, 5101, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect_not(run.inc[0].handshake_seen);
    cr_expect_eq(run.inc[0].rtt_us, -1);
    cr_expect_eq(run.inc[0].verdict, HU_VERDICT_STALE);
}

Test(detect, server_acknowledged_request_then_reset)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(9, 5101, false, A, s2 + 1, c2 + L2, NULL, 0);   /* half-closed server read it */
    seg(10, 5200, false, RA, s2 + 1, c2 + L2, NULL, 0);
    expect_one_race();
    cr_expect_not(run.inc[0].safe, "a POST the server may have read is not safe");
}

Test(detect, ipv6_stale)
{
    tu_conv_v6(&cv, "2001:db8::1", 40000, "2001:db8::2", 3000);
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(9, 5101, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
    cr_expect_eq(run.inc[0].verdict, HU_VERDICT_STALE);
}

Test(detect, one_incident_per_connection)
{
    uint32_t ci = 1000, si = 5000, c2 = ci + 1 + L1, s2 = si + 1 + LR;
    exchange(ci, si);
    seg(7, 5000, false, FA, s2, c2, NULL, 0);
    seg(8, 5100, true, PA, c2, s2 + 1, REQ2, L2);
    seg(9, 5101, false, R, s2 + 1, 0, NULL, 0);
    seg(10, 5102, true, PA, c2, s2 + 1, REQ2, L2);   /* retransmission */
    seg(11, 5103, false, R, s2 + 1, 0, NULL, 0);
    expect_one_race();
}

Test(detect, tls_close_notify_after_server_fin_is_not_a_request)
{
    /* TLS 1.3: a 24-byte application-data record (encrypted close_notify)
     * answered by RST; TLS 1.2: a plaintext alert record. */
    static const char hello[] = "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";
    static const char notify13[] = "\x17\x03\x03\x00\x13" "0123456789abcdefghi";
    static const char alert12[] = "\x15\x03\x03\x00\x1a" "0123456789abcdefghijklmnop";
    for (int v = 0; v < 2; v++) {
        tu_run_fini(&run);
        tu_run_init(&run);
        tu_conv_v4(&cv, "10.0.0.1", (uint16_t)(40000 + v), "10.0.0.2", 443);
        seg(1, 0, true, HU_TH_SYN, 99, 0, NULL, 0);
        seg(2, 1, false, HU_TH_SYN | A, 499, 100, NULL, 0);
        seg(3, 2, true, A, 100, 500, NULL, 0);
        seg(4, 3, true, PA, 100, 500, hello, 10);
        seg(5, 4, false, PA, 500, 110, "\x16\x03\x03\x00\x01\x02", 6);
        seg(6, 5000, false, FA, 506, 110, NULL, 0);
        if (v == 0)
            seg(7, 5001, true, PA, 110, 507, notify13, 24);
        else
            seg(7, 5001, true, PA, 110, 507, alert12, 31);
        seg(8, 5002, false, R, 507, 0, NULL, 0);
        tu_run_end(&run);
        cr_expect_eq(run.ninc, 0, "TLS %s alert", v ? "1.2" : "1.3");
    }
    /* A real request record after the FIN still counts. */
    tu_run_fini(&run);
    tu_run_init(&run);
    seg(1, 0, true, HU_TH_SYN, 99, 0, NULL, 0);
    seg(2, 1, false, HU_TH_SYN | A, 499, 100, NULL, 0);
    seg(3, 2, true, A, 100, 500, NULL, 0);
    seg(4, 3, true, PA, 100, 500, hello, 10);
    seg(5, 4, false, PA, 500, 110, "\x16\x03\x03\x00\x01\x02", 6);
    seg(6, 5000, false, FA, 506, 110, NULL, 0);
    seg(7, 5001, true, PA, 110, 507, "\x17\x03\x03\x00\x30" "0123456789abcdef0123456789abcdef0123456789abcdef", 53);
    seg(8, 5002, false, R, 507, 0, NULL, 0);
    expect_one_race();
    cr_expect(run.inc[0].tls);
}
