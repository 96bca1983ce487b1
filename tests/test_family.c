/*
 * test_family.c -- the socket-hang-up family beyond the keep-alive race,
 * on crafted conversations run through the whole pipeline: each kind is
 * reported with its packets and facts, and the look-alikes are not.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Analyse path; the incident lines of `kind` (malloc'd, one per line). */
static char *incidents(const char *path, const char *kind, int *n)
{
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, path);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    char pat[64];
    snprintf(pat, sizeof pat, "\"kind\":\"%s\"", kind);
    *n = 0;
    int all = 0;
    for (char *l = out; l && *l;) {
        char *nl = strchr(l, '\n');
        if (strstr(l, "\"type\":\"incident\"")) {
            all++;
            if (strstr(l, pat) && (!nl || strstr(l, pat) < nl))
                (*n)++;
        }
        l = nl ? nl + 1 : NULL;
    }
    cr_expect_eq(all, *n, "no incident of another kind: %s", out);
    return out;
}

#define HAS(out, s) cr_expect(strstr(out, s), "missing %s in %s", s, out)

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
        tu_pcap_close(c.w);
        int n;
        char *o = incidents(p, "server-timeout", &n);
        cr_expect_eq(n, 1, "%s", o);
        HAS(o, rst ? "\"close\":\"rst\"" : "\"close\":\"fin\"");
        HAS(o, "\"wait_ms\":120002.000");
        HAS(o, "\"timeout_hint\":\"node server.timeout 120 s\"");
        HAS(o, "\"request_packet\":4,");
        HAS(o, rst ? "\"rst_packet\":6," : "\"fin_packet\":6,");
        HAS(o, "\"method\":\"GET\",\"target\":\"/slow\"");
        free(o);
        unlink(p);
    }
}

Test(family, reset_before_response)
{
    const char *p = tu_tmp(".pcap");
    tu_cv c = start(p, false);
    tu_cv_handshake(&c);
    tu_cv_send(&c, true, POST, 500);
    tu_cv_emit(&c, false, RA, c.sseq, c.cseq, NULL, 0);   /* RST acks the request */
    tu_pcap_close(c.w);
    int n;
    char *o = incidents(p, "reset-before-response", &n);
    cr_expect_eq(n, 1, "%s", o);
    HAS(o, "\"method\":\"POST\"");
    HAS(o, "\"safe_to_retry\":false");
    HAS(o, "\"wait_ms\":1.000");
    free(o);
    unlink(p);
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
    tu_pcap_close(c.w);
    int n;
    char *o = incidents(p, "client-abort", &n);
    cr_expect_eq(n, 1, "%s", o);
    HAS(o, "\"abort\":\"fin\"");
    HAS(o, "\"fin_packet\":6,");
    HAS(o, "\"late_response_rst\":true");
    HAS(o, "\"late_response_packet\":8");
    free(o);
    unlink(p);
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
        tu_pcap_close(c.w);
        int n;
        char *o = incidents(p, "refused", &n);
        cr_expect_eq(n, 2, "%s", o);
        HAS(o, "\"request_packet\":1,");
        HAS(o, "\"rst_packet\":4,");
        HAS(o, "\"safe_to_retry\":true");
        free(o);
        unlink(p);
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
    tu_pcap_close(c.w);
    int n;
    char *o = incidents(p, "connect-timeout", &n);
    cr_expect_eq(n, 1, "%s", o);
    HAS(o, "\"tries\":3");
    HAS(o, "\"spent_ms\":3002.000");
    free(o);
    unlink(p);
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
        tu_pcap_close(c.w);
        int n;
        char *o = incidents(p, "truncated-response", &n);
        cr_expect_eq(n, 1, "%s", o);
        HAS(o, chunked ? "\"expected_bytes\":null,\"received_bytes\":30"
                       : "\"expected_bytes\":100,\"received_bytes\":10");
        HAS(o, chunked ? "\"close\":\"rst\"" : "\"close\":\"fin\"");
        free(o);
        unlink(p);
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
    tu_pcap_close(g.w);
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, p);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    cr_expect_null(strstr(out, "\"type\":\"incident\""), "%s", out);
    free(out);
    unlink(p);
}
