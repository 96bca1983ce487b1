/*
 * test_reasm.c -- reassembly and the HTTP history end to end, on crafted
 * captures: one conversation written twice, over IPv4 and over IPv6, with
 * split, out-of-order and retransmitted segments, chunked and pipelined
 * messages, a Keep-Alive hint, an idle close, a late request and a retry.
 * libnids sees IPv6 through interned stand-ins; both families must give
 * the same answers.  Without the handshake, per-segment delivery must
 * still find the exchanges (in order: it has no out-of-order queue, a
 * hole makes it resynchronise at the next message, README says so).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
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

static char *analyze_json(const char *path)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, path);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    return out;
}

static char *field(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return strdup("(absent)");
    p += strlen(pat);
    const char *e = p;
    if (*e == '"')
        e = strchr(e + 1, '"') + 1;
    else
        while (*e && *e != ',' && *e != '}')
            e++;
    return strndup(p, (size_t)(e - p));
}

#define EXPECT_FIELD(json, key, want)                                                 \
    do {                                                                              \
        char *v_ = field(json, key);                                                  \
        cr_expect_str_eq(v_, want, "%s is %s, expected %s", key, v_, want);           \
        free(v_);                                                                     \
    } while (0)

Test(reasm, ipv4_and_ipv6_give_the_same_story)
{
    const char *p4 = strdup(tu_tmp(".pcap")), *p6 = strdup(tu_tmp(".pcap"));
    write_conv(p4, false, true, true, 41000);
    write_conv(p6, true, true, true, 41000);
    char *o4 = analyze_json(p4), *o6 = analyze_json(p6);
    static const char *const keys[] = {
        "verdict", "fin_packet", "request_packet", "rst_packet", "method", "target", "host",
        "http_version", "content_length", "requests_before", "idle_ms", "server_idle_close_ms",
        "close_announced", "keepalive_hint_s", "retried", "retry_delay_ms", "reassembly", NULL,
    };
    for (int i = 0; keys[i]; i++) {
        char *a = field(o4, keys[i]), *b = field(o6, keys[i]);
        cr_expect_str_eq(a, b, "%s: IPv4 %s, IPv6 %s", keys[i], a, b);
        free(a);
        free(b);
    }
    EXPECT_FIELD(o4, "verdict", "\"stale\"");
    EXPECT_FIELD(o4, "method", "\"POST\"");
    EXPECT_FIELD(o4, "host", "\"svc.test\"");
    EXPECT_FIELD(o4, "content_length", "2");
    EXPECT_FIELD(o4, "requests_before", "3");
    EXPECT_FIELD(o4, "idle_ms", "5024.000");
    EXPECT_FIELD(o4, "server_idle_close_ms", "5002.000");
    EXPECT_FIELD(o4, "keepalive_hint_s", "5");
    EXPECT_FIELD(o4, "close_announced", "false");
    EXPECT_FIELD(o4, "retried", "true");
    EXPECT_FIELD(o4, "retry_delay_ms", "254.000");
    EXPECT_FIELD(o4, "reassembly", "\"libnids\"");
    /* The server line: 4 requests on the first connection + the retry,
     * one idle close after 5.002 s, reuse after at most 5.024 s. */
    const char *s4 = strstr(o4, "{\"type\":\"server\"");
    cr_assert_not_null(s4);
    EXPECT_FIELD(s4, "connections", "2");
    EXPECT_FIELD(s4, "requests", "5");
    EXPECT_FIELD(s4, "idle_closes", "1");
    EXPECT_FIELD(s4, "idle_timeout_ms", "5002.000");
    EXPECT_FIELD(s4, "race_risk", "true");
    free(o4);
    free(o6);
    unlink(p4);
    unlink(p6);
    free((void *)p4);
    free((void *)p6);
}

Test(reasm, without_handshake_segments_still_tell_the_story)
{
    const char *p = strdup(tu_tmp(".pcap"));
    write_conv(p, true, false, false, 42000);
    char *o = analyze_json(p);
    EXPECT_FIELD(o, "reassembly", "\"segments\"");
    EXPECT_FIELD(o, "verdict", "\"stale\"");
    EXPECT_FIELD(o, "handshake_seen", "false");
    EXPECT_FIELD(o, "requests_before", "3");
    EXPECT_FIELD(o, "keepalive_hint_s", "5");
    EXPECT_FIELD(o, "retried", "true");
    free(o);
    unlink(p);
    free((void *)p);
}

/*
 * Bare ACKs, body segments and in-order data on established streams are
 * taken by reasm.c itself, by libnids' rules, instead of being looked up
 * in libnids (reasm.c, nids_shortcut).  HANGUP_CHECK_NIDS makes hangup
 * give each of them to libnids as well and abort if libnids' stream
 * differs in any byte from the prediction, or delivers other bytes.
 * Every sample, and a crafted connection that goes through each of
 * libnids' reasons to drop a segment, must pass that check, and the
 * output must not change with it.  Returns the bare ACKs checked; the
 * body and delivered segments go to *segs_out and *data_out.
 */
static int check_nids(const char *path, char **out, int *segs_out, int *data_out)
{
    char cmd[4200], *plain = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, path);
    int rc_plain = tu_sh(cmd, &plain, NULL);
    snprintf(cmd, sizeof cmd, "HANGUP_CHECK_NIDS=1 '%s' analyze --no-db --json '%s'", HANGUP_BIN,
             path);
    int rc = tu_sh(cmd, out, &err);
    cr_assert_eq(rc, rc_plain, "%s: exit %d with the check, %d without; stderr: %s", path, rc,
                 rc_plain, err);
    cr_assert_str_eq(*out, plain, "%s: output changed under the check", path);
    const char *m = strstr(err, "HANGUP_CHECK_NIDS: ");
    int acks = 0, segs = 0, data = 0;
    if (m)
        cr_assert_eq(sscanf(m, "HANGUP_CHECK_NIDS: %d bare ACKs, %d body segments and %d delivered",
                            &acks, &segs, &data),
                     3, "%s", m);
    *segs_out = segs;
    *data_out = data;
    free(plain);
    free(err);
    return acks;
}

Test(reasm, segments_of_every_sample_are_taken_as_libnids_takes_them)
{
    DIR *d = opendir(HANGUP_SAMPLES);
    cr_assert_not_null(d);
    int total = 0, total_segs = 0, total_data = 0, files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        bool pcap = (n > 5 && strcmp(e->d_name + n - 5, ".pcap") == 0) ||
                    (n > 7 && strcmp(e->d_name + n - 7, ".pcapng") == 0);
        if (!pcap)
            continue;
        char *out = NULL;
        int segs = 0, data = 0;
        total += check_nids(tu_sample(e->d_name), &out, &segs, &data);
        total_segs += segs;
        total_data += data;
        free(out);
        files++;
    }
    closedir(d);
    cr_assert_gt(files, 10);
    cr_expect_gt(total, 100, "only %d bare ACKs checked in %d samples", total, files);
    cr_expect_gt(total_segs, 0, "no body segment checked in %d samples", files);
    cr_expect_gt(total_data, 100, "only %d delivered segments checked in %d samples", total_data,
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
    char *out = NULL;
    int segs = 0, data = 0, n = check_nids(path, &out, &segs, &data);
    cr_expect_geq(n, 8, "%d bare ACKs checked", n);
    cr_expect_geq(segs, 3, "%d body segments checked", segs);
    cr_expect_geq(data, 6, "%d delivered segments checked", data);
    cr_expect(strstr(out, "\"requests\":2") != NULL, "%s", out);
    free(out);
    unlink(path);
    free((void *)path);
}
