/*
 * test_family.c -- the socket-hang-up family beyond the keep-alive race,
 * on crafted conversations written to a capture and run through the
 * pipeline as `hangup analyze` runs a file (tu_analyze_file): each kind
 * is reported, alone, with its packets and facts as the incident record
 * holds them, and the look-alikes are not reported at all.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <unistd.h>

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
    /* A quick answer then a clean close; a server closing 0.2 s after an
     * unanswered request with FIN (neither a timeout nor a reset); a
     * close-delimited body ended by FIN; a client closing after its
     * answer; a single unanswered SYN (the capture just ended). */
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

    tu_cv d = c;
    d.cport = 42000;
    d.cseq = 5000;
    d.sseq = 9000;
    tu_cv_handshake(&d);
    tu_cv_send(&d, true, REQ, 500);
    tu_cv_ack(&d, false);
    d.t += 200000;
    tu_cv_emit(&d, false, FA, d.sseq, d.cseq, NULL, 0);

    tu_cv e = d;
    e.cport = 43000;
    e.cseq = 7000;
    e.sseq = 8000;
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
    cr_expect_eq(a->st.flows.flows, 4);
    tu_analysis_free(a);
}
