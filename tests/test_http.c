/*
 * test_http.c -- the incremental HTTP/1.1 parser.  Every message stream
 * is fed whole, split at every byte position, and one byte at a time; the
 * events (heads with their fields, message ends) must be identical.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/http.h"

typedef struct logbuf {
    char s[8192];
    size_t n;
} logbuf;

static void on_head(void *arg, int dir, const hu_http_msg *m)
{
    logbuf *l = arg;
    char t[300];
    snprintf(t, sizeof t, "%.*s", (int)m->target_len, (const char *)m->target);
    if (dir == HU_HTTP_CLIENT)
        l->n += (size_t)snprintf(l->s + l->n, sizeof l->s - l->n,
                                 "H>%s %s %d.%d host=%s cl=%lld ch=%d close=%d ka=%d exp=%d t=%lld|",
                                 m->method, t, m->vmajor, m->vminor, m->host, (long long)m->content_length,
                                 m->chunked, m->conn_close, m->conn_keepalive, m->expect_continue,
                                 (long long)m->start_ts);
    else
        l->n += (size_t)snprintf(l->s + l->n, sizeof l->s - l->n,
                                 "H<%d %d.%d cl=%lld ch=%d close=%d kat=%d|", m->status,
                                 m->vmajor, m->vminor,
                                 (long long)m->content_length, m->chunked, m->conn_close,
                                 m->keepalive_timeout);
}

static void on_done(void *arg, int dir, const hu_http_msg *m)
{
    logbuf *l = arg;
    l->n += (size_t)snprintf(l->s + l->n, sizeof l->s - l->n, "D%s%d%s|",
                             dir == HU_HTTP_CLIENT ? ">" : "<",
                             dir == HU_HTTP_CLIENT ? 0 : m->status,
                             dir == HU_HTTP_SERVER && m->simple ? " raw" : "");
}

static const hu_http_cb cb = { on_head, on_done, NULL };

/* Feed client bytes then server bytes, each split at the given points
 * (ascending, within the stream); eof on the server side at the end. */
static void run(const char *req, const char *resp, size_t split_req, size_t split_resp,
                bool bytewise, logbuf *l, bool *ok)
{
    memset(l, 0, sizeof *l);
    hu_http *h = hu_http_new();
    const char *streams[2] = { req, resp };
    size_t splits[2] = { split_req, split_resp };
    *ok = true;
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t *p = (const uint8_t *)streams[dir];
        size_t n = strlen(streams[dir]);
        if (bytewise) {
            for (size_t i = 0; i < n; i++)
                *ok &= hu_http_feed(h, dir, p + i, 1, 7, &cb, l);
        } else {
            size_t s = splits[dir] < n ? splits[dir] : n;
            *ok &= hu_http_feed(h, dir, p, s, 7, &cb, l);
            *ok &= hu_http_feed(h, dir, p + s, n - s, 7, &cb, l);
        }
    }
    hu_http_eof(h, HU_HTTP_SERVER, 9, &cb, l);
    hu_http_free(h);
}

/* Feed both streams the way the reassembly layer does when it can skip
 * bodies: whatever hu_http_skippable() allows is skipped (up to `step`
 * bytes at a time), everything else fed a byte at a time.  *skipped gets
 * how many bytes were skipped; fed[] and the body position of each
 * direction after each stream are compared by the caller. */
static void run_skipping(const char *req, const char *resp, size_t step, logbuf *l, bool *ok,
                         uint64_t *skipped, uint64_t fed[2])
{
    memset(l, 0, sizeof *l);
    hu_http *h = hu_http_new();
    const char *streams[2] = { req, resp };
    *ok = true;
    *skipped = 0;
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t *p = (const uint8_t *)streams[dir];
        size_t n = strlen(streams[dir]);
        for (size_t i = 0; i < n;) {
            uint64_t q = hu_http_skippable(h, dir);
            if (q > 0) {
                size_t take = q < n - i ? (size_t)q : n - i;
                if (take > step)
                    take = step;
                hu_http_skip(h, dir, take);
                *skipped += take;
                i += take;
            } else {
                *ok &= hu_http_feed(h, dir, p + i, 1, 7, &cb, l);
                i++;
            }
        }
        fed[dir] = hu_http_fed(h, dir);
    }
    hu_http_eof(h, HU_HTTP_SERVER, 9, &cb, l);
    hu_http_free(h);
}

/* Bytes the last check_all_splits skipped (one byte at a time). */
static uint64_t g_skipped;

/* The events of the unsplit feed must equal `want`, and every split must
 * give the same. */
static void check_all_splits(const char *req, const char *resp, const char *want, bool want_ok)
{
    logbuf whole, part;
    bool ok;
    run(req, resp, (size_t)-1, (size_t)-1, false, &whole, &ok);
    cr_assert_eq(ok, want_ok, "parse result, log: %s", whole.s);
    cr_assert_str_eq(whole.s, want);
    for (size_t i = 0; i <= strlen(req); i++) {
        run(req, resp, i, (size_t)-1, false, &part, &ok);
        cr_assert_str_eq(part.s, whole.s, "request split at %zu", i);
    }
    for (size_t i = 0; i <= strlen(resp); i++) {
        run(req, resp, (size_t)-1, i, false, &part, &ok);
        cr_assert_str_eq(part.s, whole.s, "response split at %zu", i);
    }
    run(req, resp, 0, 0, true, &part, &ok);
    cr_assert_str_eq(part.s, whole.s, "byte by byte");
    /* Skipping what the parser says it would only count changes nothing. */
    for (size_t step = 1; step <= 64; step *= 4) {
        uint64_t skipped, fed[2];
        bool sok;
        run_skipping(req, resp, step, &part, &sok, &skipped, fed);
        cr_assert_str_eq(part.s, whole.s, "skipping bodies %zu bytes at a time", step);
        cr_assert_eq(sok, ok, "skipping: parse result");
        cr_assert_eq(fed[0], strlen(req));
        cr_assert_eq(fed[1], strlen(resp));
        if (step == 1)
            g_skipped = skipped;
    }
}

/* Which bytes are skippable: body bytes short of the message's end, the
 * body of a close-delimited response, everything once unparsable; never
 * a head, a chunk-size line or a body's last byte. */
Test(http, skippable_bytes_are_body_bytes_short_of_the_end)
{
    hu_http *h = hu_http_new();
    logbuf l = { .n = 0 };
    const char *req = "POST /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_CLIENT), 0);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)req, strlen(req), 7, &cb, &l);
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_CLIENT), 9);
    hu_http_skip(h, HU_HTTP_CLIENT, 4);
    int64_t exp = 0, got = 0;
    cr_assert(hu_http_in_body(h, HU_HTTP_CLIENT, &exp, &got));
    cr_assert_eq(exp, 10);
    cr_assert_eq(got, 4);
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_CLIENT), 5);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"012345", 6, 7, &cb, &l);
    cr_assert_str_eq(l.s, "H>POST /u 1.1 host= cl=10 ch=0 close=0 ka=0 exp=0 t=7|D>0|");
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_CLIENT), 0);
    cr_assert_eq(hu_http_fed(h, HU_HTTP_CLIENT), strlen(req) + 10);

    const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)resp, strlen(resp), 8, &cb, &l);
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_SERVER), 4);   /* the chunk, short of its end */
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)"hello\r\n", 7, 8, &cb, &l);
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_SERVER), 0);   /* a size line next */
    hu_http_free(h);

    h = hu_http_new();
    const char *close_resp = "HTTP/1.0 200 OK\r\n\r\nbody";
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18, 7, &cb, &l);
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)close_resp, strlen(close_resp), 8, &cb, &l);
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_SERVER), UINT64_MAX);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"\x01\x02 bad\r\n", 8, 9, &cb, &l);
    cr_assert(hu_http_unparsable(h));
    cr_assert_eq(hu_http_skippable(h, HU_HTTP_CLIENT), UINT64_MAX);
    hu_http_free(h);
}

Test(http, pipelined_requests_with_length_chunked_and_head)
{
    check_all_splits(
        "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n"
        "POST /b?x=1 HTTP/1.1\r\nhost: h2\r\nContent-Length: 5\r\n\r\nhello"
        "PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "HEAD /d HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5, max=100\r\n\r\nabc"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n",
        "H>GET /a 1.1 host=example.test cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H>POST /b?x=1 1.1 host=h2 cl=5 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H>PUT /c 1.1 host= cl=-1 ch=1 close=0 ka=0 exp=0 t=7|D>0|"
        "H>HEAD /d 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H<200 1.1 cl=3 ch=0 close=0 kat=5|D<200|"
        "H<200 1.1 cl=-1 ch=1 close=0 kat=-1|D<200|"
        "H<201 1.1 cl=0 ch=0 close=0 kat=-1|D<201|"
        "H<200 1.1 cl=10 ch=0 close=1 kat=-1|D<200|",
        true);
    /* "hell" of hello, "ab" of abc, and so on: the bodies, not their ends. */
    cr_assert_gt(g_skipped, 20);
}

Test(http, continue_no_content_not_modified_and_close_delimited)
{
    check_all_splits(
        "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
        "GET /nc HTTP/1.1\r\n\r\nGET /nm HTTP/1.1\r\n\r\nGET /old HTTP/1.0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
        "HTTP/1.0 200 OK\r\n\r\nbody until the connection closes\r\n\r\nHTTP/1.1 200 OK\r\n",
        "H>POST /up 1.1 host= cl=2 ch=0 close=0 ka=0 exp=1 t=7|D>0|"
        "H>GET /nc 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H>GET /nm 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H>GET /old 1.0 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
        "H<100 1.1 cl=-1 ch=0 close=0 kat=-1|D<100|"
        "H<201 1.1 cl=0 ch=0 close=0 kat=-1|D<201|"
        "H<204 1.1 cl=-1 ch=0 close=0 kat=-1|D<204|"
        "H<304 1.1 cl=99 ch=0 close=0 kat=-1|D<304|"
        "H<200 1.0 cl=-1 ch=0 close=0 kat=-1|D<200|",
        true);
}

Test(http, connection_tokens_and_keep_alive_hint)
{
    check_all_splits("GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade-Insecure\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nconnection: foo ,close\r\nkeep-alive: TIMEOUT=2\r\n"
                     "content-length: 0\r\n\r\n",
                     "H>GET / 1.1 host= cl=-1 ch=0 close=0 ka=1 exp=0 t=7|D>0|"
                     "H<200 1.1 cl=0 ch=0 close=1 kat=2|D<200|",
                     true);
}

/* The keep-alive hint's number is read as strtol reads it (space, a
 * sign, digits; none is 0), whether the line is parsed where it lies in
 * the fed bytes or gathered across chunks first; out of range is no hint.
 * A header value ends at trailing whitespace. */
Test(http, keep_alive_timeout_is_read_as_strtol_reads_it)
{
    static const struct { const char *hdr; const char *kat; } cases[] = {
        { "Keep-Alive: max=5, timeout= 7", "kat=7" },
        { "Keep-Alive: timeout=+3 \t", "kat=3" },
        { "Keep-Alive: timeout=-0", "kat=0" },
        { "Keep-Alive: timeout=-4", "kat=-1" },
        { "Keep-Alive: timeout=abc", "kat=0" },
        { "Keep-Alive: timeout=999999", "kat=999999" },
        { "Keep-Alive: timeout=1000000", "kat=-1" },
        { "Keep-Alive: timeout=99999999999999999999999", "kat=-1" },
        { "Keep-Alive: max=5", "kat=-1" },
        { "Keep-Alive: timeout=", "kat=0" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char resp[256], want[256];
        snprintf(resp, sizeof resp, "HTTP/1.1 204 No Content\r\n%s\r\n\r\n", cases[i].hdr);
        snprintf(want, sizeof want,
                 "H>GET / 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=1 t=7|D>0|"
                 "H<204 1.1 cl=-1 ch=0 close=0 %s|D<204|",
                 cases[i].kat);
        check_all_splits("GET / HTTP/1.1\r\nExpect: 100-continue \t\r\n\r\n", resp, want, true);
    }
}

/* A NUL ends a header's value: what follows it is not read. */
Test(http, nul_ends_a_header_value)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 3\0junk\r\n\r\nabc";
    hu_http *h = hu_http_new();
    logbuf l = {0};
    bool ok = hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)req, sizeof req - 1, 1, &cb, &l);
    cr_expect(ok, "log: %s", l.s);
    cr_expect_eq(hu_http_outstanding(h), 1);
    cr_expect_eq(hu_http_skippable(h, HU_HTTP_CLIENT), 0, "the body must have ended");
    cr_expect(strstr(l.s, "D>") != NULL, "log: %s", l.s);
    hu_http_free(h);
}

Test(http, malformed_input_marks_the_connection_unparsable)
{
    static const char *const bad_req[] = {
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "EHLO mail.example\r\n",   /* HTTP/0.9 is GET /path only */
        "SET key value\r\n",
        "GET key\r\n",
        "GET\r\n\r\n",
        "GET \r\n\r\n",
        "GET / HTTP/1.1\rX\r\n\r\n",
        "\x16\x03\x01\x02\x10 binary\r\n",
        "\x17\x03\x03",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
    };
    for (size_t i = 0; i < sizeof bad_req / sizeof bad_req[0]; i++) {
        hu_http *h = hu_http_new();
        logbuf l = {0};
        hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)bad_req[i], strlen(bad_req[i]), 1, &cb, &l);
        cr_expect(hu_http_unparsable(h), "case %zu accepted: %s", i, l.s);
        /* Once unparsable, nothing more is reported. */
        size_t before = l.n;
        hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 2, &cb, &l);
        cr_expect_eq(l.n, before);
        hu_http_free(h);
    }
}

Test(http, head_lines_are_bounded)
{
    hu_http *h = hu_http_new();
    logbuf l = {0};
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"GET /", 5, 1, &cb, &l);
    char junk[1024];
    memset(junk, 'a', sizeof junk);
    bool ok = true;
    for (int i = 0; i < 100 && ok; i++)
        ok = hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)junk, sizeof junk, 1, &cb, &l);
    cr_expect_not(ok, "a 100 KiB request line must be refused");
    cr_expect(hu_http_unparsable(h));
    hu_http_free(h);

    /* The same bound for a line that arrives whole in one chunk. */
    static char big[HU_HTTP_LINE_MAX + 64];
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', sizeof big - 5);
    memcpy(big + sizeof big - 11, " HTTP/1.1\r\n", 11);
    h = hu_http_new();
    cr_expect_not(hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)big, sizeof big, 1, &cb, &l));
    cr_expect(hu_http_unparsable(h));
    hu_http_free(h);
}

Test(http, pipeline_depth_is_bounded)
{
    hu_http *h = hu_http_new();
    logbuf l = {0};
    bool ok = true;
    for (int i = 0; i < HU_HTTP_PIPELINE + 1 && ok; i++)
        ok = hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 1,
                          NULL, NULL);
    cr_expect_not(ok);
    hu_http_free(h);
    (void)l;
}

Test(http, gap_resynchronises_at_the_next_head)
{
    hu_http *h = hu_http_new();
    logbuf l = {0};
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)"HTTP/1.1 200 OK\r\nContent-Len", 28, 1, &cb, &l);
    hu_http_gap(h, HU_HTTP_SERVER);
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)"middle of a body", 16, 2, &cb, &l);
    hu_http_feed(h, HU_HTTP_SERVER,
                 (const uint8_t *)"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 45, 3, &cb,
                 &l);
    cr_expect_str_eq(l.s, "H<404 1.1 cl=0 ch=0 close=0 kat=-1|D<404|");
    cr_expect_not(hu_http_unparsable(h));
    hu_http_free(h);
}

Test(http, message_start_time_is_its_first_byte)
{
    hu_http *h = hu_http_new();
    logbuf l = {0};
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"GE", 2, 100, &cb, &l);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"T /t HTTP/1.1\r\n", 15, 200, &cb, &l);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)"\r\n", 2, 300, &cb, &l);
    cr_expect(strstr(l.s, "t=100|"), "%s", l.s);
    hu_http_free(h);
}

/*
 * Lenient forms: what real servers answered (samples/lenient.answers:
 * nginx, Apache, Node, Python http.server, gunicorn), each parsed as a
 * request so that it counts.
 */

/* HTTP/0.9: a request line without version has no headers; the answer is
 * the raw document until the close (nginx, Apache, Python) or a status
 * line (Node, gunicorn: 400).  Nothing follows a simple request. */
Test(http, http09_request_and_its_raw_answer)
{
    check_all_splits("GET /v09\r\n\r\n", "ok v09\n",
                     "H>GET /v09 0.9 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|D<0 raw|", true);
    check_all_splits("GET /v09\r\n\r\n", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
                     "H>GET /v09 0.9 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H<400 1.1 cl=-1 ch=0 close=1 kat=-1|D<400|",
                     true);
    /* A raw document that begins like "HTTP/" is still raw. */
    check_all_splits("GET /h\r\n", "HTTPS only\n",
                     "H>GET /h 0.9 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|D<0 raw|", true);
    /* After a keep-alive exchange on the same connection (nginx, Apache). */
    check_all_splits("GET /ka HTTP/1.1\r\nHost: h\r\n\r\nGET /v09-ka\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nok ka\nok v09-ka\n",
                     "H>GET /ka 1.1 host=h cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /v09-ka 0.9 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H<200 1.1 cl=6 ch=0 close=0 kat=-1|D<200|D<0 raw|",
                     true);
}

/* Versions servers answer: "HTTP/1." (1.0), "HTTP/1.10", "HTTP/2.0" in a
 * request line, echoed in the status line (gunicorn); a missing target;
 * several spaces between the parts (nginx, Python, Node). */
Test(http, odd_versions_missing_target_and_spaces)
{
    check_all_splits("GET /a HTTP/1.\r\n\r\nGET /b HTTP/1.10\r\n\r\nGET /c HTTP/2.0\r\n\r\n"
                     "GET HTTP/1.1\r\nHost: h\r\n\r\nGET  /two  HTTP/1.1 \r\n\r\n",
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                     "HTTP/1.10 200 OK\r\nContent-Length: 0\r\n\r\n"
                     "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                     "H>GET /a 1.0 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /b 1.10 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /c 2.0 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET  1.1 host=h cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /two 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H<400 1.1 cl=0 ch=0 close=0 kat=-1|D<400|"
                     "H<200 1.10 cl=0 ch=0 close=0 kat=-1|D<200|"
                     "H<200 2.0 cl=0 ch=0 close=0 kat=-1|D<200|"
                     "H<400 1.1 cl=0 ch=0 close=0 kat=-1|D<400|"
                     "H<200 1.1 cl=0 ch=0 close=0 kat=-1|D<200|",
                     true);
}

/* CONNECT authority-form: the client's tunnel bytes may follow before the
 * answer; a 2xx makes the connection a tunnel, nothing more is parsed. */
Test(http, connect_tunnel_with_early_bytes)
{
    check_all_splits("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n"
                     "\x16\x03\x01\x00\x05hello",
                     "HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01\x00\x05hello",
                     "H>CONNECT 127.0.0.1:443 1.1 host=127.0.0.1:443 cl=-1 ch=0 close=0 ka=0 "
                     "exp=0 t=7|D>0|H<200 1.1 cl=-1 ch=0 close=0 kat=-1|D<200|",
                     true);
}

/* A refused CONNECT: the client's next request is HTTP again when it
 * waited for the answer; bytes it sent while waiting are unknown. */
Test(http, refused_connect_then_a_request)
{
    static const char conn[] = "CONNECT h:443 HTTP/1.1\r\n\r\n";
    static const char refuse[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n";
    static const char get[] = "GET / HTTP/1.1\r\n\r\n";
    hu_http *h = hu_http_new();
    logbuf l = {0};
    cr_assert(hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)conn, strlen(conn), 1, &cb, &l));
    cr_assert(hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)refuse, strlen(refuse), 2, &cb, &l));
    cr_assert(hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)get, strlen(get), 3, &cb, &l));
    cr_expect_str_eq(l.s, "H>CONNECT h:443 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=1|D>0|"
                          "H<405 1.1 cl=0 ch=0 close=0 kat=-1|D<405|"
                          "H>GET / 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=3|D>0|");
    hu_http_free(h);

    h = hu_http_new();
    memset(&l, 0, sizeof l);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)conn, strlen(conn), 1, &cb, &l);
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)get, strlen(get), 2, &cb, &l);
    hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)refuse, strlen(refuse), 3, &cb, &l);
    cr_expect(hu_http_unparsable(h), "bytes sent while the CONNECT waited: %s", l.s);
    hu_http_free(h);
}

/* Content-Length with leading zeros (a 32-digit 000...050 is 50), and as
 * a list of one value, repeated (RFC 9110 §8.6); the next request is
 * found where the body ends. */
Test(http, content_length_leading_zeros_and_lists)
{
    check_all_splits("POST /z HTTP/1.1\r\nContent-Length: 00000000000000000000000000000050\r\n\r\n"
                     "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
                     "POST /l HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\nhello"
                     "GET /n HTTP/1.1\r\n\r\n",
                     "",
                     "H>POST /z 1.1 host= cl=50 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>POST /l 1.1 host= cl=5 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /n 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|",
                     true);
}

/* Transfer-Encoding: chunked frames the body only as the last coding
 * (RFC 9112 §6.3), across several headers too; it overrides
 * Content-Length, and a request with both must be followed by the
 * server's close. */
Test(http, transfer_encoding_lists_and_content_length_override)
{
    check_all_splits("POST /ic HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n"
                     "POST /two HTTP/1.1\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: chunked ,\r\n\r\n"
                     "0\r\n\r\n"
                     "POST /clte HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n"
                     "GET /n HTTP/1.1\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nuntil the close",
                     "H>POST /ic 1.1 host= cl=-1 ch=1 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>POST /two 1.1 host= cl=-1 ch=1 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>POST /clte 1.1 host= cl=-1 ch=1 close=1 ka=0 exp=0 t=7|D>0|"
                     "H>GET /n 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H<200 1.1 cl=-1 ch=1 close=0 kat=-1|D<200|"
                     "H<200 1.1 cl=-1 ch=0 close=0 kat=-1|D<200|",
                     true);
}

/* obs-fold (RFC 9112 §5.2): a folded framing header is read as if the
 * fold were one SP; other folded headers are ignored. */
Test(http, obs_fold_continues_framing_headers)
{
    check_all_splits("GET /f HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\n\r\n"
                     "POST /te HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"
                     "POST /cl HTTP/1.1\r\nContent-Length:\r\n\t2\r\n\r\nok"
                     "GET /n HTTP/1.1\r\n\r\n",
                     "",
                     "H>GET /f 1.1 host=h cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>POST /te 1.1 host= cl=-1 ch=1 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>POST /cl 1.1 host= cl=2 ch=0 close=0 ka=0 exp=0 t=7|D>0|"
                     "H>GET /n 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=7|D>0|",
                     true);
}

/* Framing stays safe: a request whose body cannot be framed is counted
 * (its head is reported: the server answers it, 400 or 501), then nothing
 * more of that direction is parsed and the connection is unparsable; the
 * server's answer is still parsed. */
Test(http, unframable_requests_are_counted_then_stop_the_direction)
{
    static const char *const heads[] = {
        "Content-Length: 5\r\nContent-Length: 6\r\n",   /* conflicting */
        "Content-Length: 5, 6\r\n",
        "Content-Length: 99999999999999999999999\r\n",  /* overflow */
        "Content-Length: 9223372036854775808\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: \r\n",
        "Content-Length: 5 0\r\n",
        "Content-Length: 5\r\n 0\r\n",                  /* folded into "5 0" */
        "Transfer-Encoding: chunked, identity\r\n",     /* chunked not last */
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        "Transfer-Encoding: gzip\r\n chunked\r\n",       /* folded into "gzip chunked" */
        "Transfer-Encoding: \r\n",
        "Transfer-Encoding: xxxxxxxxxxxxxxxxxchunked\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST /p HTTP/1.1\r\n%s\r\nhello!GET / HTTP/1.1\r\n\r\n",
                 heads[i]);
        static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        hu_http *h = hu_http_new();
        logbuf l = {0};
        bool ok = hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)req, strlen(req), 1, &cb, &l);
        cr_expect_not(ok, "case %zu", i);
        cr_expect(hu_http_unparsable(h), "case %zu", i);
        cr_expect(strncmp(l.s, "H>POST /p 1.1 ", 14) == 0 && !strstr(l.s, "D>") &&
                      !strstr(l.s, "H>GET"),
                  "case %zu: %s", i, l.s);
        hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)resp, strlen(resp), 2, &cb, &l);
        cr_expect(strstr(l.s, "H<400 1.1 cl=0 ch=0 close=0 kat=-1|D<400|"), "case %zu: %s", i,
                  l.s);
        cr_expect_eq(hu_http_outstanding(h), 0, "case %zu", i);
        hu_http_free(h);
    }
}

/* A response whose Content-Length is invalid cannot be framed: its head
 * is reported, it never ends, and nothing more of it is parsed. */
Test(http, unframable_response)
{
    hu_http *h = hu_http_new();
    logbuf l = {0};
    static const char req[] = "GET / HTTP/1.1\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
                               "abcHTTP/1.1 200 OK\r\n\r\n";
    hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)req, strlen(req), 1, &cb, &l);
    cr_expect_not(hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)resp, strlen(resp), 2, &cb, &l));
    cr_expect(hu_http_unparsable(h));
    cr_expect_str_eq(l.s, "H>GET / 1.1 host= cl=-1 ch=0 close=0 ka=0 exp=0 t=1|D>0|"
                          "H<200 1.1 cl=-1 ch=0 close=0 kat=-1|");
    hu_http_free(h);
}
