/*
 * test_family.c -- the socket-hang-up family beyond the keep-alive race,
 * on crafted conversations written to a capture and run through the
 * pipeline as `hangup analyze` runs a file (tu_analyze_file): each kind
 * is reported, alone, with its packets and facts as the incident record
 * holds them, and the look-alikes are not reported at all.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "hangup/report.h"
#include "testutil.h"

#define A HU_TH_ACK
#define FA (HU_TH_FIN | HU_TH_ACK)
#define RA (HU_TH_RST | HU_TH_ACK)

static const char REQ[] = "GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n";
static const char POST[] = "POST /pay HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\n\r\n{}";

static tu_cv start(const char *path, bool v6)
{
    tu_cv c = { .v6 = v6, .cli = v6 ? "2001:db8::10" : "10.0.0.10",
                .srv = v6 ? "2001:db8::20" : "10.0.0.20", .cport = 41000, .sport = 8000,
                .cseq = 1000, .sseq = 70000, .t = 1763740800000000LL };
    c.w = tu_pcap_open(path, 101, 65535);
    return c;
}

/* Another connection in c's capture: c's endpoints and time, the client
 * port and both initial sequence numbers its own. */
static tu_cv another(const tu_cv *c, uint16_t cport, uint32_t cseq, uint32_t sseq)
{
    tu_cv d = *c;
    d.cport = cport;
    d.cseq = cseq;
    d.sseq = sseq;
    return d;
}

/* c's handshake with `one_way_us` more between its packets (the round
 * trip: 2 * one_way_us + 2 ms). */
static void handshake_over(tu_cv *c, int64_t one_way_us)
{
    uint8_t fl[3] = { HU_TH_SYN, HU_TH_SYN | HU_TH_ACK, HU_TH_ACK };
    uint32_t seq[3] = { c->cseq - 1, c->sseq - 1, c->cseq }, ack[3] = { 0, c->cseq, c->sseq };
    for (int i = 0; i < 3; i++) {
        c->t += i ? one_way_us : 0;
        tu_cv_emit(c, i != 1, fl[i], seq[i], ack[i], NULL, 0);
    }
}

/* Does rec's explanation, its line breaks and indentation folded to
 * single spaces, contain `want`? */
static bool explains(const hu_incident_rec *rec, const char *want)
{
    hu_sb sb = {0}, flat = {0};
    hu_incident_render(&sb, rec, false);
    const char *s = hu_sb_cstr(&sb);
    for (size_t i = 0; s[i]; i++) {
        bool space = s[i] == '\n' || s[i] == ' ';
        if (!space || (i > 0 && s[i - 1] != '\n' && s[i - 1] != ' '))
            hu_sb_putc(&flat, space ? ' ' : s[i]);
    }
    bool found = strstr(hu_sb_cstr(&flat), want) != NULL;
    hu_sb_free(&sb);
    hu_sb_free(&flat);
    return found;
}

/* Close c's capture and analyse it as `hangup analyze` does. */
static tu_analysis *analyse(tu_cv *c, const char *path)
{
    tu_pcap_close(c->w);
    tu_analysis *a = tu_analyze_file(path);
    unlink(path);
    cr_assert_not_null(a);
    cr_assert_eq(a->rc, HU_CAP_OK, "%s", a->err);
    cr_assert_eq(a->lost, 0);
    return a;
}

/* a's incidents are n, every one of kind k. */
static void expect_only(const tu_analysis *a, hu_kind k, size_t n)
{
    cr_expect_eq(tu_count(a, k), n, "%zu %s incidents, expected %zu", tu_count(a, k),
                 hu_kind_name(k), n);
    for (size_t i = 0; i < a->nrecs; i++)
        cr_expect_eq(a->recs[i]->kindid, k, "incident %zu is a %s, not a %s", i + 1,
                     a->recs[i]->kind, hu_kind_name(k));
}

Test(family, server_timeout_after_a_wait_with_fin_and_with_rst)
{
    for (int rst = 0; rst < 2; rst++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, rst);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, REQ, 500);
        tu_cv_ack(&c, false);                  /* received */
        c.t += 120000000;                      /* Node's server.timeout */
        tu_cv_emit(&c, false, rst ? RA : FA, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, HU_KIND_SERVER_TIMEOUT, 1);
        const hu_incident_rec *r = tu_find(a, HU_KIND_SERVER_TIMEOUT);
        cr_assert_not_null(r);
        cr_expect_eq(r->ipver, rst ? 6 : 4);
        cr_expect_str_eq(r->close, rst ? "rst" : "fin");
        cr_expect_eq(r->wait_us, 120002000);
        cr_expect_str_eq(r->timeout_hint, "node server.timeout 120 s");
        cr_expect_eq(r->req.num, 4);
        cr_expect_eq(rst ? r->rst.num : r->fin.num, 6);
        cr_expect_eq(rst ? r->fin.num : r->rst.num, 0, "no packet of the other close");
        cr_expect_str_eq(r->request.method, "GET");
        cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/slow"));
        cr_expect(r->safe_to_retry, "a GET is safe to send again");
        cr_expect_str_eq(hu_reasm_name(r->reasm), "libnids");
        tu_analysis_free(a);
    }
}

Test(family, reset_before_response)
{
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, POST, 500);
    tu_cv_emit(&c, false, RA, c.sseq, c.cseq, NULL, 0);   /* RST acks the request */
    tu_analysis *a = analyse(&c, p);
    expect_only(a, HU_KIND_RESET, 1);
    const hu_incident_rec *r = tu_find(a, HU_KIND_RESET);
    cr_assert_not_null(r);
    cr_expect_str_eq(r->request.method, "POST");
    cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/pay"));
    cr_expect_not(r->safe_to_retry, "the server may have acted on the POST");
    cr_expect_eq(r->wait_us, 1000);
    cr_expect_eq(r->req.num, 4);
    cr_expect_eq(r->rst.num, 5);
    tu_analysis_free(a);
}

/* A request the server acknowledged, then the server's close with no
 * response byte: a FIN under 1 s is a refusal (closed-before-response),
 * from 1 s on a server timeout; an RST under 1 s a reset.  IPv4 and IPv6
 * in turn. */
Test(family, a_quick_fin_is_closed_before_response_a_slow_one_a_server_timeout)
{
    static const struct { int64_t wait_us; uint8_t close; hu_kind kind; } cases[] = {
        { 900000, FA, HU_KIND_CLOSED },          { 999999, FA, HU_KIND_CLOSED },
        { 1000000, FA, HU_KIND_SERVER_TIMEOUT }, { 1100000, FA, HU_KIND_SERVER_TIMEOUT },
        { 900000, RA, HU_KIND_RESET },           { 300, FA, HU_KIND_CLOSED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, i % 2);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, REQ, 500);
        int64_t sent = c.t;
        if (cases[i].wait_us > 1000) {
            tu_cv_ack(&c, false);                /* received */
            c.t = sent + cases[i].wait_us - 1000;  /* the close comes 1 ms after this */
        } else {
            c.t = sent + cases[i].wait_us - 1000;  /* the FIN itself acknowledges it */
        }
        tu_cv_emit(&c, false, cases[i].close, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, cases[i].kind, 1);
        const hu_incident_rec *r = tu_find(a, cases[i].kind);
        cr_assert_not_null(r, "case %zu: no %s", i, hu_kind_name(cases[i].kind));
        cr_expect_eq(r->wait_us, cases[i].wait_us, "case %zu", i);
        cr_expect_eq(r->req.num, 4);
        bool fin = cases[i].close == FA;
        uint64_t close_num = cases[i].wait_us > 1000 ? 6 : 5;
        cr_expect_eq(fin ? r->fin.num : r->rst.num, close_num, "case %zu", i);
        cr_expect_eq(fin ? r->rst.num : r->fin.num, 0, "case %zu: no packet of the other close",
                     i);
        if (cases[i].kind == HU_KIND_CLOSED) {
            cr_expect_str_eq(r->kind, "closed-before-response");
            cr_expect_str_eq(r->close, "fin");
            cr_expect_null(r->timeout_hint);
            cr_expect_str_eq(r->request.method, "GET");
            cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/slow"));
            cr_expect(r->safe_to_retry, "a GET is safe to send again");
            cr_expect_eq(r->ipver, i % 2 ? 6 : 4);
        }
        tu_analysis_free(a);
    }
}

/* A POST refused: (1) the server's FIN takes its headers and its body (a
 * second segment) -- not safe to send again; (2) the server refuses on
 * the headers alone, closes, and the body the client sends after the FIN
 * draws the server's RST: that is the refusal's aftermath, not a
 * keep-alive race, and the connection has one incident. */
Test(family, a_refused_post_and_the_rst_its_body_draws_after_the_fin)
{
    static const char head[] = "POST /pay HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\n\r\n";
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, head, 500);
    tu_cv_send(&c, true, "{}", 500);
    tu_cv_ack(&c, false);
    c.t += 200000;
    tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);              /* packet 7 */

    tu_cv d = another(&c, 42000, 5000, 9000);
    tu_cv_handshake(&d);                                             /* 8, 9, 10 */
    tu_cv_send(&d, true, head, 500);                                 /* 11 */
    d.t += 50000;
    tu_cv_emit(&d, false, FA, d.sseq, d.cseq, NULL, 0);              /* 12: takes the headers */
    tu_cv_send(&d, true, "{}", 500);                                 /* 13: after the FIN */
    tu_cv_emit(&d, false, HU_TH_RST, d.sseq + 1, 0, NULL, 0);        /* 14 */
    tu_analysis *a = analyse(&d, p);
    expect_only(a, HU_KIND_CLOSED, 2);
    cr_assert_eq(a->nrecs, 2);
    const hu_incident_rec *r = a->recs[0];
    cr_expect_str_eq(r->request.method, "POST");
    cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/pay"));
    cr_expect_not(r->safe_to_retry, "the server may have acted on the POST");
    cr_expect_eq(r->req.num, 4);
    cr_expect_eq(r->fin.num, 7);
    cr_expect_eq(r->wait_us, 203000);
    r = a->recs[1];
    cr_expect_eq(r->req.num, 11);
    cr_expect_eq(r->fin.num, 12, "reported on its FIN");
    cr_expect_eq(r->rst.num, 0);
    cr_expect_eq(r->wait_us, 51000);
    tu_analysis_free(a);
}

/* Never a refusal: a keep-alive race (the server's idle FIN, a request,
 * its RST) seen near the server (the FIN first) and near the client (the
 * request first, crossing the FIN); a request the server never
 * acknowledged before closing; a FIN that took a POST's headers but not
 * the body sent before it (they crossed). */
Test(family, a_race_is_still_a_race_and_an_unacknowledged_request_no_refusal)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, REQ, 500);
    tu_cv_send(&c, false, resp, 500);
    tu_cv_ack(&c, true);
    c.t += 400000;
    tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);              /* the idle close */
    c.sseq++;
    tu_cv_send(&c, true, REQ, 500);                                  /* acks the FIN: stale */
    tu_cv_emit(&c, false, HU_TH_RST, c.sseq, 0, NULL, 0);

    tu_cv d = another(&c, 42000, 5000, 9000);   /* near the client */
    tu_cv_handshake(&d);
    tu_cv_send(&d, true, REQ, 500);
    tu_cv_send(&d, false, resp, 500);
    tu_cv_ack(&d, true);
    d.t += 400000;
    uint32_t before = d.cseq;
    tu_cv_send(&d, true, REQ, 500);                                  /* crosses the FIN */
    tu_cv_emit(&d, false, FA, d.sseq, before, NULL, 0);
    tu_cv_emit(&d, false, HU_TH_RST, d.sseq + 1, 0, NULL, 0);

    tu_cv e = another(&d, 43000, 7000, 8000);   /* never acknowledged */
    tu_cv_handshake(&e);
    before = e.cseq;
    tu_cv_send(&e, true, REQ, 500);
    e.t += 200000;
    tu_cv_emit(&e, false, FA, e.sseq, before, NULL, 0);

    tu_cv g = another(&e, 44000, 3000, 4000);   /* the body crossed */
    tu_cv_handshake(&g);
    tu_cv_send(&g, true, "POST /pay HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\n\r\n", 500);
    before = g.cseq;
    tu_cv_send(&g, true, "{}", 500);
    g.t += 100000;
    tu_cv_emit(&g, false, FA, g.sseq, before, NULL, 0);
    tu_analysis *a = analyse(&g, p);
    expect_only(a, HU_KIND_RACE, 2);
    cr_expect_eq(tu_count(a, HU_KIND_CLOSED), 0);
    for (size_t i = 0; i < a->nrecs && i < 2; i++)
        cr_expect_eq(a->recs[i]->verdict, i ? HU_VERDICT_CROSSED : HU_VERDICT_STALE,
                     "race %zu", i + 1);
    cr_expect_eq(a->st.flows.flows, 4);
    tu_analysis_free(a);
}

/* Nor a response byte before the server's quick FIN, nor a
 * close-delimited response. */
Test(family, a_response_byte_is_no_refusal)
{
    for (int k = 1; k < 3; k++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, false);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, REQ, 500);
        tu_cv_ack(&c, false);
        tu_cv_send(&c, false, k == 1 ? "H" : "HTTP/1.1 200 OK\r\n\r\nuntil the close", 500);
        c.t += 100000;
        tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        cr_expect_eq(a->nrecs, 0, "case %d: a %s", k, a->nrecs ? a->recs[0]->kind : "");
        tu_analysis_free(a);
    }
}

/* The client's FIN sent with its request (in the request's segment, or the
 * next one: shutdown(SHUT_WR) after the write) is a half-close, not an
 * abort: the server that then closes without a response byte hung up --
 * closed-before-response under 1 s, server-timeout from 1 s, its RST a
 * reset-before-response -- and the FIN names no incident of the client. */
Test(family, a_half_close_with_the_request_leaves_the_close_to_the_server)
{
    static const struct { bool same_segment; int64_t wait_us; uint8_t close; hu_kind kind; }
        cases[] = {
            { false, 100000, FA, HU_KIND_CLOSED }, { true, 100000, FA, HU_KIND_CLOSED },
            { false, 1500000, FA, HU_KIND_SERVER_TIMEOUT }, { false, 2000, RA, HU_KIND_RESET },
        };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, i % 2);
        tu_cv_handshake(&c);
        if (cases[i].same_segment) {
            tu_cv_emit(&c, true, FA | HU_TH_PUSH, c.cseq, c.sseq, REQ, strlen(REQ));
            c.cseq += (uint32_t)strlen(REQ) + 1;
        } else {
            tu_cv_send(&c, true, REQ, 500);
            tu_cv_emit(&c, true, FA, c.cseq, c.sseq, NULL, 0);      /* shutdown(SHUT_WR) */
            c.cseq++;
        }
        tu_cv_ack(&c, false);
        c.t += cases[i].wait_us - 2000;
        tu_cv_emit(&c, false, cases[i].close, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, cases[i].kind, 1);
        const hu_incident_rec *r = tu_find(a, cases[i].kind);
        cr_assert_not_null(r, "case %zu", i);
        cr_expect_eq(r->req.num, 4, "case %zu", i);
        cr_expect_eq(r->wait_us, cases[i].wait_us + (cases[i].same_segment ? 0 : 1000),
                     "case %zu: %" PRId64, i, r->wait_us);
        tu_analysis_free(a);
    }
}

/* A FIN is a half-close only within one round trip of the request, and
 * at least 20 ms: with a 62 ms handshake, 40 ms after the request it
 * still is (the server's quick FIN a refusal), 80 ms after it the client
 * had waited and gave up (the server's FIN the aftermath); with a 2 ms
 * handshake, 15 ms is a half-close and 25 ms giving up. */
Test(family, the_half_close_window_is_the_round_trip_at_least_20_ms)
{
    static const struct { int64_t one_way_us, gap_us; hu_kind kind; } cases[] = {
        { 30000, 40000, HU_KIND_CLOSED }, { 30000, 80000, HU_KIND_ABORT },
        { 0, 15000, HU_KIND_CLOSED },     { 0, 25000, HU_KIND_ABORT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, false);
        handshake_over(&c, cases[i].one_way_us);
        tu_cv_send(&c, true, REQ, 500);
        c.t += cases[i].gap_us - 1000;
        tu_cv_emit(&c, true, FA, c.cseq, c.sseq, NULL, 0);
        c.cseq++;
        c.t += 30000;
        tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, cases[i].kind, 1);
        tu_analysis_free(a);
    }
}

/* A FIN ends only the client's sending.  What the client then received
 * whole was delivered, whichever side closed first: a half-closed request
 * answered in full; a FIN after waiting, then the answer, acknowledged; a
 * FIN inside a close-delimited body, the server's FIN right after it
 * ending that body.  A half-close with nothing after it shows nothing.
 * But a half-closed client whose host resets the answer had gone: that
 * is an abort. */
Test(family, a_response_delivered_after_the_client_fin_is_no_abort)
{
    static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (int k = 0; k < 5; k++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, false);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, k == 2 ? "GET /old HTTP/1.0\r\n\r\n" : REQ, 500);
        if (k == 1)
            c.t += 500000;                                 /* it waited */
        if (k == 2)
            tu_cv_send(&c, false, "HTTP/1.0 200 OK\r\n\r\nuntil the close", 500);
        tu_cv_emit(&c, true, FA, c.cseq, c.sseq, NULL, 0);
        c.cseq++;
        if (k == 2) {
            c.t += 50;
            tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);
            c.sseq++;
        } else if (k != 3) {
            c.t += 300000;
            tu_cv_send(&c, false, OK, 500);
            if (k == 4) {
                tu_cv_emit(&c, true, HU_TH_RST, c.cseq, 0, NULL, 0);
            } else {
                tu_cv_ack(&c, true);
                tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);
                c.sseq++;
            }
        }
        if (k != 4)
            tu_cv_ack(&c, true);
        tu_analysis *a = analyse(&c, p);
        if (k < 4) {
            cr_expect_eq(a->nrecs, 0, "case %d: a %s", k, a->nrecs ? a->recs[0]->kind : "");
        } else {
            expect_only(a, HU_KIND_ABORT, 1);
            const hu_incident_rec *r = tu_find(a, HU_KIND_ABORT);
            cr_assert_not_null(r);
            cr_expect(r->late_response_rst);
            cr_expect_eq(r->late_response_packet, 6);
            cr_expect_eq(r->rst.num, 7);
        }
        tu_analysis_free(a);
    }
}

Test(family, client_abort_and_the_late_response_meeting_an_rst)
{
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, REQ, 500);
    tu_cv_ack(&c, false);
    c.t += 500000;
    tu_cv_emit(&c, true, FA, c.cseq, c.sseq, NULL, 0);      /* the client gives up */
    c.cseq++;
    tu_cv_ack(&c, false);
    c.t += 1000000;
    tu_cv_send(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 500);
    tu_cv_emit(&c, true, HU_TH_RST, c.cseq, 0, NULL, 0);
    tu_analysis *a = analyse(&c, p);
    expect_only(a, HU_KIND_ABORT, 1);
    const hu_incident_rec *r = tu_find(a, HU_KIND_ABORT);
    cr_assert_not_null(r);
    cr_expect_str_eq(r->abort, "fin");
    cr_expect_eq(r->req.num, 4);
    cr_expect_eq(r->fin.num, 6);
    cr_expect(r->late_response_rst);
    cr_expect_eq(r->late_response_packet, 8);
    /* The explanation names each packet as what it is. */
    cr_expect(explains(r, "gave up before the answer: its FIN (packet 6); the server's "
                          "response came later (packet 8) and met an RST (packet 9)."));
    tu_analysis_free(a);
}

Test(family, refused_over_ipv4_and_ipv6)
{
    for (int v6 = 0; v6 < 2; v6++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, v6);
        tu_cv_emit(&c, true, HU_TH_SYN, c.cseq - 1, 0, NULL, 0);
        tu_cv_emit(&c, false, RA, 0, c.cseq, NULL, 0);
        c.cport++;   /* the client tries again from another port */
        tu_cv_emit(&c, true, HU_TH_SYN, c.cseq + 999, 0, NULL, 0);
        tu_cv_emit(&c, false, RA, 0, c.cseq + 1000, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, HU_KIND_REFUSED, 2);
        for (size_t i = 0; i < a->nrecs && i < 2; i++) {
            const hu_incident_rec *r = a->recs[i];
            cr_expect_eq(r->ipver, v6 ? 6 : 4);
            cr_expect_eq(r->cli_port, 41000 + i, "incident %zu", i + 1);
            cr_expect_eq(r->req.num, 1 + 2 * i, "the SYN of attempt %zu", i + 1);
            cr_expect_eq(r->rst.num, 2 + 2 * i, "the RST of attempt %zu", i + 1);
            cr_expect(r->safe_to_retry, "nothing was sent");
        }
        tu_analysis_free(a);
    }
}

Test(family, connect_timeout_counts_tries_and_time)
{
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_emit(&c, true, HU_TH_SYN, c.cseq - 1, 0, NULL, 0);
    c.t += 1000000;
    tu_cv_emit(&c, true, HU_TH_SYN, c.cseq - 1, 0, NULL, 0);
    c.t += 2000000;
    tu_cv_emit(&c, true, HU_TH_SYN, c.cseq - 1, 0, NULL, 0);
    tu_analysis *a = analyse(&c, p);
    expect_only(a, HU_KIND_CONNECT_TIMEOUT, 1);
    const hu_incident_rec *r = tu_find(a, HU_KIND_CONNECT_TIMEOUT);
    cr_assert_not_null(r);
    cr_expect_eq(r->tries, 3);
    cr_expect_eq(r->spent_us, 3002000);
    cr_expect(r->safe_to_retry, "nothing was sent");
    tu_analysis_free(a);
}

Test(family, truncated_response_by_length_and_by_chunks)
{
    for (int chunked = 0; chunked < 2; chunked++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, false);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, REQ, 500);
        tu_cv_send(&c, false, chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        "10\r\n0123456789abcdef\r\n20\r\n0123"
                                      : "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                   500);
        tu_cv_emit(&c, false, chunked ? RA : FA, c.sseq, c.cseq, NULL, 0);
        tu_analysis *a = analyse(&c, p);
        expect_only(a, HU_KIND_TRUNCATED, 1);
        const hu_incident_rec *r = tu_find(a, HU_KIND_TRUNCATED);
        cr_assert_not_null(r);
        /* Chunked: no total to expect, and the body bytes received so far
         * (the chunks' framing included) are counted. */
        cr_expect_eq(r->expected_bytes, chunked ? -1 : 100);
        cr_expect_eq(r->received_bytes, chunked ? 30 : 10);
        cr_expect_str_eq(r->close, chunked ? "rst" : "fin");
        tu_analysis_free(a);
    }
}

Test(family, look_alikes_are_not_incidents)
{
    /* A quick answer then a clean close; a close-delimited body ended by
     * FIN; a client closing after its answer; a single unanswered SYN (the
     * capture just ended). */
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, REQ, 500);
    tu_cv_send(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 500);
    tu_cv_emit(&c, true, FA, c.cseq, c.sseq, NULL, 0);
    c.cseq++;
    tu_cv_emit(&c, false, FA, c.sseq, c.cseq, NULL, 0);
    c.sseq++;
    tu_cv_ack(&c, true);

    tu_cv e = another(&c, 43000, 7000, 8000);
    tu_cv_handshake(&e);
    tu_cv_send(&e, true, "GET /old HTTP/1.0\r\n\r\n", 500);
    tu_cv_send(&e, false, "HTTP/1.0 200 OK\r\n\r\nuntil the close", 500);
    tu_cv_emit(&e, false, FA, e.sseq, e.cseq, NULL, 0);

    tu_cv g = e;
    g.cport = 44000;
    tu_cv_emit(&g, true, HU_TH_SYN, 123, 0, NULL, 0);
    tu_analysis *a = analyse(&g, p);
    for (size_t i = 0; i < a->nrecs; i++)
        cr_expect_fail("a %s incident at packet %" PRIu64, a->recs[i]->kind,
                       a->recs[i]->req.num);
    /* Every look-alike was analysed to its end, not lost on the way. */
    cr_expect_eq(a->st.packets, (uint64_t)g.packets);
    cr_expect_eq(a->st.flows.flows, 3);
    tu_analysis_free(a);
}

/* A proxy's own answer that its upstream failed -- 502, 503 or 504 --
 * is a gateway-error on the connection it answers, with the request it
 * answers and the response's packet and status; a 500 (the application's
 * own error) and a 200 are not.  Two requests on one keep-alive
 * connection: the first answered 200, the second with the case's status;
 * over IPv4 and IPv6. */
Test(family, a_502_503_or_504_is_a_gateway_error_a_500_is_not)
{
    static const struct { int status; bool gateway; } cases[] = {
        { 502, true }, { 503, true }, { 504, true }, { 500, false }, { 501, false }, { 200, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tu_tmp(".pcap");
        tu_cv c = start(p, i % 2);
        tu_cv_handshake(&c);
        tu_cv_send(&c, true, REQ, 500);                                 /* 4 */
        tu_cv_send(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 500);   /* 5 */
        tu_cv_ack(&c, true);                                            /* 6 */
        tu_cv_send(&c, true, POST, 500);                                /* 7 */
        tu_cv_ack(&c, false);                                           /* 8 */
        c.t += 20000;
        char resp[128];
        snprintf(resp, sizeof resp, "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\n\r\n",
                 cases[i].status);
        tu_cv_send(&c, false, resp, 500);                               /* 9 */
        tu_cv_ack(&c, true);                                            /* 10 */
        tu_analysis *a = analyse(&c, p);
        if (!cases[i].gateway) {
            cr_expect_eq(a->nrecs, 0, "case %d: %zu incidents", cases[i].status, a->nrecs);
            tu_analysis_free(a);
            continue;
        }
        expect_only(a, HU_KIND_GATEWAY, 1);
        const hu_incident_rec *r = tu_find(a, HU_KIND_GATEWAY);
        cr_assert_not_null(r, "case %d", cases[i].status);
        cr_expect_str_eq(r->kind, "gateway-error");
        cr_expect_eq(r->status, cases[i].status);
        cr_expect_eq(r->req.num, 7, "case %d: request packet %" PRIu64, cases[i].status,
                     r->req.num);
        cr_expect_eq(r->resp.num, 9, "case %d: response packet %" PRIu64, cases[i].status,
                     r->resp.num);
        cr_expect_eq(r->wait_us, r->resp.ts_us - r->req.ts_us);
        cr_expect_geq(r->wait_us, 20000);
        cr_expect_eq(r->fin.num, 0);
        cr_expect_eq(r->rst.num, 0);
        cr_expect_str_eq(r->request.method, "POST");
        cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/pay"));
        cr_expect_not(r->safe_to_retry, "a POST may have been acted on");
        cr_expect_eq(r->ipver, i % 2 ? 6 : 4);
        cr_expect_eq(r->cause, 0, "no upstream leg in the capture");
        /* The timeline shows the request and the response, noted. */
        bool req_noted = false, resp_noted = false;
        for (size_t k = 0; k < r->ntimeline; k++) {
            const hu_tl_entry *t = &r->timeline[k];
            req_noted |= t->num == 7 && t->note && strstr(t->note, "request: POST /pay");
            resp_noted |= t->num == 9 && t->note && strstr(t->note, "response:");
        }
        cr_expect(req_noted && resp_noted, "case %d: timeline notes", cases[i].status);
        tu_analysis_free(a);
    }
}
