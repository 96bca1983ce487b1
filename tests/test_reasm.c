/*
 * test_reasm.c -- reassembly and the HTTP history, on crafted captures run
 * through the pipeline as `hangup analyze` runs a file (tu_analyze_file):
 * one conversation written twice, over IPv4 and over IPv6, with split,
 * out-of-order and retransmitted segments, chunked and pipelined
 * messages, a Keep-Alive hint, an idle close, a late request and a retry.
 * libnids sees IPv6 through interned stand-ins; both families must give
 * the same records, server summary and counters.  Without the handshake,
 * per-segment delivery must still find the exchanges (in order: it has no
 * out-of-order queue, a hole makes it resynchronise at the next message,
 * README says so).  Last, reasm.c's shortcut past libnids is checked
 * against libnids itself (HANGUP_CHECK_NIDS) on every sample and on a
 * connection built to make libnids drop segments.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define A HU_TH_ACK
#define PA (HU_TH_PUSH | HU_TH_ACK)

static const char RESP_CHUNKED[] =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n"
    "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n";
static const char RESP_LEN[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nKeep-Alive: timeout=5\r\n\r\n"
                               "hello world";

/* Write the conversation; returns the packet count. */
static int write_conv(const char *path, bool v6, bool handshake, bool reorder, uint16_t cport)
{
    tu_cv c = { .v6 = v6, .cli = v6 ? "2001:db8::10" : "10.0.0.10",
               .srv = v6 ? "2001:db8::20" : "10.0.0.20", .cport = cport, .sport = 8000,
               .cseq = 1000, .sseq = 70000, .t = 1763740800000000LL };
    c.w = tu_pcap_open(path, 101, 65535);
    if (handshake) {
        tu_cv_emit(&c, true, HU_TH_SYN, c.cseq - 1, 0, NULL, 0);
        tu_cv_emit(&c, false, HU_TH_SYN | A, c.sseq - 1, c.cseq, NULL, 0);
        tu_cv_ack(&c, true);
    }
    /* 1: request split into three segments, chunked response. */
    tu_cv_send(&c, true, "GET /one HTTP/1.1\r\nHost: svc.test\r\n\r\n", 9);
    tu_cv_send(&c, false, RESP_CHUNKED, 30);
    tu_cv_ack(&c, true);
    /* 2: two pipelined requests; the first response's segments arrive out
     * of order, with a retransmission. */
    tu_cv_send(&c, true, "GET /two HTTP/1.1\r\nHost: svc.test\r\n\r\nHEAD /three HTTP/1.1\r\n\r\n", 200);
    {
        const char *r = RESP_LEN;
        size_t len = strlen(r), half = len / 2;
        if (reorder) {
            tu_cv_emit(&c, false, PA, c.sseq + (uint32_t)half, c.cseq, r + half, len - half);
            tu_cv_emit(&c, false, PA, c.sseq, c.cseq, r, half);
        } else {
            tu_cv_emit(&c, false, PA, c.sseq, c.cseq, r, half);
            tu_cv_emit(&c, false, PA, c.sseq + (uint32_t)half, c.cseq, r + half, len - half);
        }
        tu_cv_emit(&c, false, PA, c.sseq, c.cseq, r, half);   /* retransmission */
        c.sseq += (uint32_t)len;
    }
    tu_cv_send(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 500);   /* HEAD */
    tu_cv_ack(&c, true);
    /* Idle, then the server closes; the client reuses after the FIN. */
    c.t += 5000000;
    tu_cv_emit(&c, false, HU_TH_FIN | A, c.sseq, c.cseq, NULL, 0);
    c.sseq++;
    tu_cv_ack(&c, true);
    c.t += 20000;
    static const char late[] = "POST /orders HTTP/1.1\r\nHost: svc.test\r\nContent-Length: 2\r\n\r\n{}";
    tu_cv_emit(&c, true, PA, c.cseq, c.sseq, late, strlen(late));
    tu_cv_emit(&c, false, HU_TH_RST, c.sseq, 0, NULL, 0);
    /* The retry on a new connection, 250 ms later. */
    c.t += 250000;
    tu_cv r = c;
    r.cport = (uint16_t)(cport + 1);
    r.cseq = 5000;
    r.sseq = 90000;
    tu_cv_emit(&r, true, HU_TH_SYN, r.cseq - 1, 0, NULL, 0);
    tu_cv_emit(&r, false, HU_TH_SYN | A, r.sseq - 1, r.cseq, NULL, 0);
    tu_cv_ack(&r, true);
    tu_cv_send(&r, true, late, 500);
    tu_cv_send(&r, false, RESP_LEN, 500);
    tu_pcap_close(r.w);
    return r.packets;
}

/* Write the conversation and analyse it as `hangup analyze` does. */
static tu_analysis *analyse_conv(bool v6, bool handshake, bool reorder, uint16_t cport)
{
    const char *p = tu_tmp(".pcap");
    int packets = write_conv(p, v6, handshake, reorder, cport);
    tu_analysis *a = tu_analyze_file(p);
    unlink(p);
    cr_assert_not_null(a);
    cr_assert_eq(a->rc, HU_CAP_OK, "%s", a->err);
    cr_assert_null(a->warn, "%s", a->warn);
    cr_assert_eq(a->lost, 0);
    cr_expect_eq(a->st.packets, (uint64_t)packets);
    return a;
}

/* The conversation's one incident: the late POST, a stale race. */
static const hu_incident_rec *the_race(const tu_analysis *a)
{
    cr_expect_eq(a->nrecs, 1, "%zu incidents", a->nrecs);
    const hu_incident_rec *r = tu_find(a, HU_KIND_RACE);
    cr_assert_not_null(r, "no keep-alive race");
    cr_expect_eq(r->verdict, HU_VERDICT_STALE);
    cr_expect_str_eq(r->request.method, "POST");
    cr_expect(tu_bytes_is(r->request.target, r->request.target_len, "/orders"));
    cr_expect_eq(r->requests_before, 3, "/one, /two and /three before the late request");
    cr_expect_eq(r->keepalive_hint_s, 5, "the server's Keep-Alive: timeout=5");
    cr_expect(r->retried, "the POST was sent again on a new connection");
    return r;
}

Test(reasm, ipv4_and_ipv6_give_the_same_story)
{
    tu_analysis *a4 = analyse_conv(false, true, true, 41000);
    tu_analysis *a6 = analyse_conv(true, true, true, 41000);
    const char *d = tu_analysis_diff(a4, a6, false);
    cr_expect_null(d, "IPv4 and IPv6 differ: %s", d ? d : "");
    cr_expect_eq(a4->recs[0]->ipver, 4);
    cr_expect_eq(a6->recs[0]->ipver, 6);
    cr_expect_gt(a6->st.reasm.ipv6_addrs, 0, "libnids saw IPv6 through stand-ins");

    const hu_incident_rec *r = the_race(a4);
    cr_expect(tu_bytes_is(r->request.host, r->request.host_len, "svc.test"));
    cr_expect_eq(r->request.content_length, 2);
    cr_expect_eq(r->idle_us, 5024000);
    cr_expect_eq(r->server_idle_close_us, 5002000);
    cr_expect_not(r->close_announced);
    cr_expect_eq(r->retry_delay_us, 254000);
    cr_expect_str_eq(hu_reasm_name(r->reasm), "libnids");
    /* Both connections reassembled by libnids, none per segment. */
    cr_expect_eq(a4->st.reasm.nids_streams, 2);
    cr_expect_eq(a4->st.reasm.segment_flows, 0);
    /* The server: 4 requests on the first connection + the retry, one
     * idle close after 5.002 s, reuse after at most 5.024 s. */
    cr_assert_eq(a4->nservers, 1);
    const hu_server_summary *s = &a4->servers[0];
    cr_expect_eq(s->port, 8000);
    cr_expect_eq(s->connections, 2);
    cr_expect_eq(s->requests, 5);
    cr_expect_eq(s->idle_closes, 1);
    cr_expect_eq(s->idle_timeout_us, 5002000);
    cr_expect_eq(s->max_reuse_idle_us, 5024000);
    cr_expect_eq(s->stale, 1);
    cr_expect(s->race_risk);
    tu_analysis_free(a4);
    tu_analysis_free(a6);
}

Test(reasm, without_handshake_segments_still_tell_the_story)
{
    tu_analysis *a = analyse_conv(true, false, false, 42000);
    const hu_incident_rec *r = the_race(a);
    cr_expect_str_eq(hu_reasm_name(r->reasm), "segments");
    cr_expect_not(r->handshake_seen);
    /* The retry's connection has its handshake: libnids takes it. */
    cr_expect_eq(a->st.reasm.segment_flows, 1);
    cr_expect_eq(a->st.reasm.nids_streams, 1);
    tu_analysis_free(a);
}

/*
 * Bare ACKs, body segments and in-order data on established streams are
 * taken by reasm.c itself, by libnids' rules, instead of being looked up
 * in libnids (reasm.c, nids_shortcut).  HANGUP_CHECK_NIDS makes the
 * pipeline give each of them to libnids as well and count those libnids'
 * stream takes otherwise than predicted, or delivers other bytes of
 * (hu_reasm_stats.check_failures).  Every sample, and a crafted
 * connection that goes through each of libnids' reasons to drop a
 * segment, must pass that check, and the analysis must not change with
 * it.  Returns the checked analysis.
 */
static tu_analysis *check_nids(const char *path)
{
    cr_assert_eq(unsetenv("HANGUP_CHECK_NIDS"), 0);
    tu_analysis *plain = tu_analyze_file(path);
    cr_assert_eq(setenv("HANGUP_CHECK_NIDS", "1", 1), 0);
    tu_analysis *chk = tu_analyze_file(path);
    cr_assert_eq(unsetenv("HANGUP_CHECK_NIDS"), 0);
    cr_assert(plain && chk);
    const hu_reasm_stats *p = &plain->st.reasm, *c = &chk->st.reasm;
    cr_expect_eq(p->acks_checked + p->segs_checked + p->data_checked, 0,
                 "%s: checked without HANGUP_CHECK_NIDS", path);
    cr_expect_eq(c->check_failures, 0,
                 "%s: %" PRIu64 " segments not taken as predicted (first: packet %" PRIu64 ")",
                 path, c->check_failures, c->check_first_failure);
    const char *d = tu_analysis_diff(plain, chk, true);
    cr_expect_null(d, "%s: the analysis changed under the check: %s", path, d ? d : "");
    tu_analysis_free(plain);
    return chk;
}

Test(reasm, segments_of_every_sample_are_taken_as_libnids_takes_them)
{
    uint64_t acks = 0, segs = 0, data = 0;
    size_t nfiles;
    char **names = tu_sample_captures(&nfiles);
    for (size_t i = 0; i < nfiles; i++) {
        tu_analysis *a = check_nids(tu_sample(names[i]));
        acks += a->st.reasm.acks_checked;
        segs += a->st.reasm.segs_checked;
        data += a->st.reasm.data_checked;
        tu_analysis_free(a);
    }
    tu_names_free(names, nfiles);
    int files = (int)nfiles;
    cr_assert_gt(files, 10);
    cr_expect_gt(acks, 100, "only %" PRIu64 " bare ACKs checked in %d samples", acks, files);
    cr_expect_gt(segs, 0, "no body segment checked in %d samples", files);
    cr_expect_gt(data, 100, "only %" PRIu64 " delivered segments checked in %d samples", data,
                 files);
}

/* One IPv4 segment with timestamp options (TSval tsv) into w. */
static void ts_seg(tu_pcap *w, int64_t t, bool from_client, uint8_t fl, uint32_t seq, uint32_t ack,
                   uint32_t tsv, const uint8_t *opts_override, size_t optlen, const char *data)
{
    uint8_t opts[12] = { 1, 1, 8, 10, (uint8_t)(tsv >> 24), (uint8_t)(tsv >> 16),
                         (uint8_t)(tsv >> 8), (uint8_t)tsv, 0, 0, 0, 1 };
    uint8_t buf[2048];
    const char *cli = "10.1.0.1", *srv = "10.1.0.2";
    size_t len = tu_ip4_tcp(buf, from_client ? cli : srv, from_client ? 43000 : 8080,
                            from_client ? srv : cli, from_client ? 8080 : 43000, fl, seq, ack,
                            opts_override ? opts_override : opts,
                            opts_override ? optlen : sizeof opts, data, data ? strlen(data) : 0);
    tu_pcap_add(w, t, buf, (uint32_t)len, (uint32_t)len);
}

Test(reasm, segments_dropped_by_window_or_timestamp_as_libnids_drops_them)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    int64_t t = 1763740800000000LL;
    const uint32_t C = 1000, S = 50000;   /* first data byte of each side */
    static const char req[] = "GET /a HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n0123456789";
    /* resp carries the head and the body's first 10 bytes; RS is all the
     * server sends. */
    const uint32_t RQ = sizeof req - 1, R1 = sizeof resp - 1, RS = R1 + 22;
    ts_seg(w, t += 1000, true, HU_TH_SYN, C - 1, 0, 100, NULL, 0, NULL);
    ts_seg(w, t += 1000, false, HU_TH_SYN | A, S - 1, C, 500, NULL, 0, NULL);
    ts_seg(w, t += 1000, true, A, C, S, 101, NULL, 0, NULL);
    ts_seg(w, t += 1000, true, PA, C, S, 102, NULL, 0, req);
    ts_seg(w, t += 1000, false, A, S, C + RQ, 501, NULL, 0, NULL);             /* taken */
    /* Dropped ACKs acknowledge more than was sent: had they been taken,
     * the sender's half would show it. */
    ts_seg(w, t += 1000, false, A, S + 900000, C + RQ + 3, 502, NULL, 0, NULL);   /* beyond the window */
    ts_seg(w, t += 1000, false, A, S - 70000, C + RQ + 3, 503, NULL, 0, NULL);    /* before it */
    ts_seg(w, t += 1000, false, PA, S, C + RQ, 504, NULL, 0, resp);
    /* The rest of the body in three segments, counted and not delivered:
     * the first with an old timestamp (dropped), then sent again. */
    ts_seg(w, t += 1000, false, PA, S + R1, C + RQ + 3, 400, NULL, 0, "abcdefghij");
    ts_seg(w, t += 1000, false, PA, S + R1, C + RQ, 505, NULL, 0, "abcdefghij");
    ts_seg(w, t += 1000, false, PA, S + R1 + 10, C + RQ, 506, NULL, 0, "klmnopqrst");
    ts_seg(w, t += 1000, false, PA, S + R1 + 20, C + RQ, 507, NULL, 0, "uv");
    ts_seg(w, t += 1000, true, A, C + RQ, S + RS + 3, 50, NULL, 0, NULL);      /* old timestamp */
    ts_seg(w, t += 1000, true, A, C + RQ, S + RS, 103, NULL, 0, NULL);         /* taken */
    static const uint8_t silly[] = { 1, 5, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0 };  /* a length-less option */
    ts_seg(w, t += 1000, true, A, C + RQ, S + RS, 0, silly, sizeof silly, NULL);
    static const uint8_t eol[] = { 0, 1, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0 };
    ts_seg(w, t += 1000, true, A, C + RQ, S + RS, 0, eol, sizeof eol, NULL);
    ts_seg(w, t += 1000, true, A | HU_TH_URG, C + RQ, S + RS, 104, NULL, 0, NULL);   /* to libnids */
    ts_seg(w, t += 1000, true, A, C + RQ, S + RS + 7, 105, NULL, 0, NULL);     /* acks ahead */
    /* A second request, first with an old timestamp (dropped, so not
     * delivered), then again; its response head in two segments. */
    static const char req2[] = "GET /b HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char resp2a[] = "HTTP/1.1 204 No Content\r\n", resp2b[] = "Server: t\r\n\r\n";
    const uint32_t RQ2 = sizeof req2 - 1, R2A = sizeof resp2a - 1;
    ts_seg(w, t += 1000, true, PA, C + RQ, S + RS, 60, NULL, 0, req2);
    ts_seg(w, t += 1000, true, PA, C + RQ, S + RS, 106, NULL, 0, req2);
    ts_seg(w, t += 1000, false, PA, S + RS, C + RQ + RQ2, 508, NULL, 0, resp2a);
    ts_seg(w, t += 1000, false, PA, S + RS + R2A, C + RQ + RQ2, 509, NULL, 0, resp2b);
    tu_pcap_close(w);
    tu_analysis *a = check_nids(path);
    unlink(path);
    const hu_reasm_stats *st = &a->st.reasm;
    cr_expect_geq(st->acks_checked, 8, "%" PRIu64 " bare ACKs checked", st->acks_checked);
    cr_expect_geq(st->segs_checked, 3, "%" PRIu64 " body segments checked", st->segs_checked);
    cr_expect_geq(st->data_checked, 6, "%" PRIu64 " delivered segments checked",
                  st->data_checked);
    /* Both requests reached the HTTP layer, the dropped copies not twice. */
    cr_assert_eq(a->nservers, 1);
    cr_expect_eq(a->servers[0].requests, 2);
    cr_expect_eq(a->nrecs, 0);
    tu_analysis_free(a);
    free((void *)path);
}

/*
 * More connections open at once than libnids' stream table holds: libnids
 * times out its oldest stream for each new one (its table is sized from
 * the file, 768 streams for a small one).  Each of 1500 connections sends
 * its request, and only once all are open does each get its response,
 * then a clean close.  The connections libnids let go go on per segment
 * from where it stopped, so every response is read: no incident, and the
 * server answered 1500 requests.
 */
Test(reasm, connections_libnids_lets_go_while_open_go_on_per_segment)
{
    enum { N = 1500 };
    const char *path = tu_tmp(".pcap");
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    static tu_cv cv[N];
    int64_t t = 1700000000000000LL;
    char req[128];
    /* Connection by connection, 20 us apart: each one's handshake and
     * request (libnids takes it once established, and lets the oldest go
     * when its table is full), then step by step for all of them the
     * responses and closes. */
    for (int k = 0; k < 5 * N + 4 * N; k++) {
        int step = k < 5 * N ? k % 5 : 5 + (k - 5 * N) / N;
        int i = k < 5 * N ? k / 5 : (k - 5 * N) % N;
        {
            tu_cv *c = &cv[i];
            if (step == 0)
                *c = (tu_cv){ .w = w, .cli = "10.9.0.1", .srv = "10.9.0.2",
                              .cport = (uint16_t)(20000 + i), .sport = 8080,
                              .cseq = 1000u + (uint32_t)i, .sseq = 900000u + (uint32_t)i };
            c->t = (t += 20) - 1000;   /* tu_cv_emit adds its 1 ms */
            switch (step) {
            case 0: tu_cv_emit(c, true, HU_TH_SYN, c->cseq - 1, 0, NULL, 0); break;
            case 1: tu_cv_emit(c, false, HU_TH_SYN | HU_TH_ACK, c->sseq - 1, c->cseq, NULL, 0); break;
            case 2: tu_cv_ack(c, true); break;
            case 3:
                snprintf(req, sizeof req, "GET /item/%d HTTP/1.1\r\nHost: 10.9.0.2\r\n\r\n", i);
                tu_cv_send(c, true, req, 1400);
                break;
            case 4: tu_cv_ack(c, false); break;
            case 5: tu_cv_send(c, false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1400); break;
            case 6: tu_cv_ack(c, true); break;
            case 7:
                tu_cv_emit(c, true, HU_TH_FIN | HU_TH_ACK, c->cseq, c->sseq, NULL, 0);
                c->cseq++;
                break;
            case 8:
                tu_cv_emit(c, false, HU_TH_FIN | HU_TH_ACK, c->sseq, c->cseq, NULL, 0);
                c->sseq++;
                break;
            }
        }
    }
    tu_pcap_close(w);
    tu_analysis *a = tu_analyze_file(path);
    cr_assert_not_null(a);
    cr_assert_eq(a->rc, HU_CAP_OK, "%s", a->err);
    cr_expect_gt(a->st.reasm.nids_evicted, 0, "libnids let no stream go: the test tests nothing "
                 "(%" PRIu64 " streams, %" PRIu64 " per segment)", a->st.reasm.nids_streams,
                 a->st.reasm.segment_flows);
    cr_expect_eq(a->nrecs, 0, "%zu incidents, the first a %s", a->nrecs,
                 a->nrecs ? a->recs[0]->kind : "-");
    cr_assert_eq(a->nservers, 1);
    cr_expect_eq(a->servers[0].requests, N, "%" PRIu64 " requests of %d", a->servers[0].requests,
                 N);
    tu_analysis_free(a);
}
