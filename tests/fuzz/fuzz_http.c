/*
 * fuzz_http.c -- the incremental HTTP/1.1 parser.
 *
 * Input layout:
 *   byte 0-1  length L of the request stream (little endian, clamped)
 *   byte 2-3  seed of the schedule
 *   byte 4-   L bytes sent by the client, then the server's bytes.
 *
 * Phase 1 feeds both streams to one parser pair, interleaved and cut into
 * chunks at points the seed chooses (from single bytes to the whole rest),
 * with hu_http_gap() between chunks and hu_http_eof() at the end of a
 * direction (or early, after which that direction gets nothing more) as
 * the seed's bits ask, checking every reported head.
 *
 * Phase 2 checks that chunking does not matter: the client's stream then
 * the server's, fed whole, must give the same callbacks (heads and ends,
 * in order, with the same fields) as the same bytes fed in seed-chosen
 * pieces.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/http.h"
#include "hangup/software.h"

typedef struct rng {
    uint32_t s;
} rng;

static uint32_t rnd(rng *r)
{
    /* xorshift32; never zero */
    uint32_t x = r->s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->s = x;
}

static size_t chunk_len(rng *r, size_t left)
{
    if (left == 0)
        return 0;
    switch (rnd(r) % 4) {
    case 0: return 1;
    case 1: return 1 + rnd(r) % (left < 8 ? left : 8);
    case 2: return 1 + rnd(r) % left;
    default: return left;
    }
}

/* Every head the parser reports must be sane. */
static void check_msg(int dir, const hu_http_msg *m)
{
    FUZZ_CHECK(dir == HU_HTTP_CLIENT || dir == HU_HTTP_SERVER);
    FUZZ_CHECK(m->request == (dir == HU_HTTP_CLIENT));
    FUZZ_CHECK(memchr(m->method, '\0', sizeof m->method) != NULL);
    FUZZ_CHECK(memchr(m->host, '\0', sizeof m->host) != NULL);
    FUZZ_CHECK(m->target_len <= HU_HTTP_TARGET_MAX);
    FUZZ_CHECK(m->content_length >= -1);
    if (!m->request)
        FUZZ_CHECK(m->status >= 0 && m->status <= 999);
}

/* A digest of the callbacks, for phase 2. */
typedef struct trace {
    uint64_t h;
    unsigned heads, dones;
} trace;

static void mix(trace *t, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        t->h = (t->h ^ b[i]) * 1099511628211ull;
}

static void mix_msg(trace *t, int kind, int dir, const hu_http_msg *m)
{
    mix(t, &kind, sizeof kind);
    mix(t, &dir, sizeof dir);
    mix(t, m->method, strlen(m->method));
    mix(t, m->target, m->target_len);
    mix(t, &m->target_cut, sizeof m->target_cut);
    mix(t, &m->status, sizeof m->status);
    mix(t, &m->vmajor, sizeof m->vmajor);
    mix(t, &m->vminor, sizeof m->vminor);
    mix(t, m->host, strlen(m->host));
    mix(t, &m->content_length, sizeof m->content_length);
    mix(t, &m->chunked, sizeof m->chunked);
    mix(t, &m->conn_close, sizeof m->conn_close);
    mix(t, &m->conn_keepalive, sizeof m->conn_keepalive);
    mix(t, &m->keepalive_timeout, sizeof m->keepalive_timeout);
    mix(t, &m->expect_continue, sizeof m->expect_continue);
    mix(t, &m->start_ts, sizeof m->start_ts);
    mix(t, &m->start_off, sizeof m->start_off);
}

static void on_head(void *arg, int dir, const hu_http_msg *m)
{
    check_msg(dir, m);
    if (arg) {
        trace *t = arg;
        t->heads++;
        mix_msg(t, 1, dir, m);
    }
}

static void on_done(void *arg, int dir, const hu_http_msg *m)
{
    check_msg(dir, m);
    if (arg) {
        trace *t = arg;
        t->dones++;
        mix_msg(t, 2, dir, m);
    }
}

/* Every identifying header goes through the recognition table: whatever
 * the bytes, what it keeps is bounded printable ASCII. */
static void on_header(void *arg, int dir, int hdr, const char *name, size_t nlen,
                      const uint8_t *v, size_t vn)
{
    (void)arg;
    if (vn > HU_HTTP_LINE_MAX || nlen > HU_HTTP_LINE_MAX)
        abort();
    hu_sw_ident id;
    memset(&id, 0, sizeof id);
    hu_sw_observe(&id, dir == HU_HTTP_CLIENT, hdr, name, nlen, v, vn);
    const char *str[2] = { id.name, id.evidence };
    size_t cap[2] = { sizeof id.name, sizeof id.evidence };
    for (int k = 0; k < 2; k++) {
        size_t l = strnlen(str[k], cap[k]);
        if (l == cap[k])
            abort();
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)str[k][i] < 0x20 || (unsigned char)str[k][i] >= 0x7f)
                abort();
    }
}

static const hu_http_cb cbs = { on_head, on_done, on_header };

static void phase1(const uint8_t *s[2], const size_t n[2], uint32_t seed)
{
    hu_http *h = hu_http_new();
    if (!h)
        return;
    rng r = { seed * 2654435761u | 1 };
    size_t off[2] = { 0, 0 };
    bool closed[2] = { false, false };
    uint64_t fed[2] = { 0, 0 };
    int64_t ts = 1000000;
    bool gaps = seed & 0x8000, eofs = seed & 0x4000;
    while ((off[0] < n[0] && !closed[0]) || (off[1] < n[1] && !closed[1])) {
        int dir = rnd(&r) & 1;
        if (off[dir] >= n[dir] || closed[dir])
            dir ^= 1;
        uint32_t op = rnd(&r) % 32;
        if (gaps && op == 0) {
            hu_http_gap(h, dir);
            off[dir] += chunk_len(&r, n[dir] - off[dir]) / 2;   /* the lost bytes */
            continue;
        }
        if (eofs && op == 1) {
            hu_http_eof(h, dir, ts, &cbs, NULL);
            closed[dir] = true;
            continue;
        }
        size_t k = chunk_len(&r, n[dir] - off[dir]);
        bool ok = hu_http_feed(h, dir, s[dir] + off[dir], k, ts, &cbs, NULL);
        FUZZ_CHECK(ok == !hu_http_unparsable(h));
        off[dir] += k;
        fed[dir] += k;
        FUZZ_CHECK(hu_http_fed(h, dir) == fed[dir]);
        FUZZ_CHECK(hu_http_outstanding(h) <= HU_HTTP_PIPELINE);
        ts += rnd(&r) % 100000;
    }
    for (int dir = 0; dir < 2; dir++)
        if (!closed[dir] && (eofs || (seed & 1)))
            hu_http_eof(h, dir, ts, &cbs, NULL);
    FUZZ_CHECK(hu_http_outstanding(h) <= HU_HTTP_PIPELINE);
    hu_http_free(h);
}

static void run_split(const uint8_t *s[2], const size_t n[2], uint32_t seed, bool whole,
                      trace *t, bool *unparsable)
{
    hu_http *h = hu_http_new();
    if (!h)
        abort();
    rng r = { seed * 2246822519u | 1 };
    for (int dir = 0; dir < 2; dir++) {
        size_t off = 0;
        while (off < n[dir]) {
            size_t k = whole ? n[dir] : chunk_len(&r, n[dir] - off);
            /* Split runs also skip what the parser says it would only
             * count, as the reassembly layer does with body segments. */
            uint64_t q = whole ? 0 : hu_http_skippable(h, dir);
            if (q >= k) {
                hu_http_skip(h, dir, k);
            } else {
                hu_http_feed(h, dir, s[dir] + off, k, 42, &cbs, t);
            }
            off += k;
        }
        FUZZ_CHECK(hu_http_fed(h, dir) == n[dir]);
    }
    for (int dir = 0; dir < 2; dir++)
        hu_http_eof(h, dir, 42, &cbs, t);
    unsigned out = hu_http_outstanding(h);
    mix(t, &out, sizeof out);
    *unparsable = hu_http_unparsable(h);
    hu_http_free(h);
}

static void phase2(const uint8_t *s[2], const size_t n[2], uint32_t seed)
{
    trace a = { 14695981039346656037ull, 0, 0 }, b = a;
    bool ua, ub;
    run_split(s, n, seed, true, &a, &ua);
    run_split(s, n, seed, false, &b, &ub);
    if (a.h != b.h || ua != ub) {
        fprintf(stderr,
                "fuzz_http: chunking changed the result: whole: %u heads %u ends%s; "
                "split: %u heads %u ends%s\n",
                a.heads, a.dones, ua ? " unparsable" : "", b.heads, b.dones,
                ub ? " unparsable" : "");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t l = (size_t)data[0] | (size_t)data[1] << 8;
    uint32_t seed = (uint32_t)data[2] | (uint32_t)data[3] << 8;
    data += 4;
    size -= 4;
    if (l > size)
        l = size;
    /* Each stream in its own exact-size buffer: ASan sees any overread. */
    uint8_t *req = malloc(l ? l : 1), *resp = malloc(size - l ? size - l : 1);
    if (!req || !resp) {
        free(req);
        free(resp);
        return 0;
    }
    memcpy(req, data, l);
    memcpy(resp, data + l, size - l);
    const uint8_t *s[2] = { req, resp };
    const size_t n[2] = { l, size - l };
    phase1(s, n, seed);
    phase2(s, n, seed);
    free(req);
    free(resp);
    return 0;
}
