/*
 * retry.c -- the retry window: incidents held, request heads matched
 * against them (see retry.h).  A plain array, oldest first: incidents are
 * few, and the window closes in the order they were added (each one's RST,
 * or its last packet, is no earlier than the previous one's).
 */
#include "hangup/retry.h"

#include <stdlib.h>
#include <string.h>

/* A held record and its match tag (tag_of): every request head is
 * compared with every held record, and the tags, side by side, settle
 * nearly all of them without reaching the records across the heap. */
typedef struct held {
    hu_incident_rec *rec;
    uint64_t tag;             /* 0: matches nothing more (retried, or no HTTP request) */
} held;

struct hu_retry {
    bool hold;
    hu_retry_done_fn done;
    void *arg;
    held *rec;                /* held, oldest first */
    size_t n, cap;
};

hu_retry *hu_retry_new(bool hold, hu_retry_done_fn done, void *arg)
{
    hu_retry *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->hold = hold;
    q->done = done;
    q->arg = arg;
    return q;
}

void hu_retry_free(hu_retry *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        hu_incident_rec_free(q->rec[i].rec);
    free(q->rec);
    free(q);
}

/* Hand out the n oldest. */
static void release_oldest(hu_retry *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        q->done(q->arg, q->rec[i].rec);
    if (n < q->n)
        memmove(q->rec, q->rec + n, (q->n - n) * sizeof *q->rec);
    q->n -= n;
}

/* The tag of a connection's endpoints: equal whenever the IP version,
 * server port and both addresses are (for IPv6, of the addresses' last
 * four bytes only); never 0. */
static uint64_t tag_of(uint8_t ipver, const uint8_t *srv, uint16_t srv_port, const uint8_t *cli)
{
    size_t off = ipver == 4 ? 0 : 12;
    uint32_t a, b;
    memcpy(&a, srv + off, 4);
    memcpy(&b, cli + off, 4);
    return (uint64_t)(a ^ (b << 16 | b >> 16)) << 32 | (uint64_t)srv_port << 8 | ipver;
}

void hu_retry_add(hu_retry *q, hu_incident_rec *rec)
{
    if (!q->hold) {
        q->done(q->arg, rec);
        return;
    }
    if (q->n == HU_RETRY_MAX)
        release_oldest(q, 1);
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        held *nr = realloc(q->rec, ncap * sizeof *nr);
        if (!nr) {
            q->done(q->arg, rec);   /* now, without waiting for a retry */
            return;
        }
        q->rec = nr;
        q->cap = ncap;
    }
    q->rec[q->n++] = (held){ rec, rec->request.http ? tag_of(rec->ipver, rec->srv_addr,
                                                             rec->srv_port, rec->cli_addr)
                                                    : 0 };
}

/* When r's window closes: HU_RETRY_WINDOW_US after its RST -- or, for an
 * incident without one, after its FIN, response (a gateway-error) or
 * request, so that a proxy's
 * incident on its user's connection can still be linked to the upstream
 * one found after it (legs.h). */
static int64_t window_end(const hu_incident_rec *r)
{
    int64_t t = r->rst.num    ? r->rst.ts_us
                : r->fin.num  ? r->fin.ts_us
                : r->resp.num ? r->resp.ts_us
                              : r->req.ts_us;
    return t + HU_RETRY_WINDOW_US;
}

int64_t hu_retry_due(const hu_retry *q)
{
    return q->n ? window_end(q->rec[0].rec) : INT64_MAX;
}

int64_t hu_retry_advance(hu_retry *q, int64_t now)
{
    size_t due = 0;
    while (due < q->n && window_end(q->rec[due].rec) < now)
        due++;
    if (due)
        release_oldest(q, due);
    return hu_retry_due(q);
}

void hu_retry_flush(hu_retry *q)
{
    release_oldest(q, q->n);
}

/* Is m a retry of r's lost request (same method, and the same target as
 * far as both were kept)? */
static bool same_request(const hu_request *rq, const hu_http_msg *m)
{
    size_t tl = rq->target_len < m->target_len ? rq->target_len : m->target_len;
    return strcmp(rq->method, m->method) == 0 && memcmp(rq->target, m->target, tl) == 0 &&
           (rq->target_len == m->target_len || m->target_cut);
}

void hu_retry_request(hu_retry *q, const hu_flow *f, const hu_http_msg *m)
{
    uint8_t c = f->client, s = (uint8_t)!f->client;
    uint64_t tag = tag_of(f->ipver, f->addr[s], f->port[s], f->addr[c]);
    for (size_t i = 0; i < q->n; i++) {
        if (q->rec[i].tag != tag)
            continue;
        hu_incident_rec *r = q->rec[i].rec;
        if (r->retried || !r->request.http || r->ipver != f->ipver || r->conn_id == f->id ||
            r->srv_port != f->port[s] || !hu_addr_eq(f->ipver, r->srv_addr, f->addr[s]) ||
            !hu_addr_eq(f->ipver, r->cli_addr, f->addr[c]))
            continue;
        if (m->start_ts <= r->rst.ts_us || m->start_ts - r->rst.ts_us > HU_RETRY_WINDOW_US)
            continue;
        if (!same_request(&r->request, m))
            continue;
        r->retried = true;
        q->rec[i].tag = 0;
        r->retry_delay_us = m->start_ts - r->rst.ts_us;
        return;
    }
}
