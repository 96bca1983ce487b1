/*
 * legs.c -- a proxy's downstream leg linked to its upstream incident
 * (legs.h).
 *
 * One ring holds the last HU_LEGS_RING request heads of the capture,
 * each reduced to its connection, endpoints, time, packet and a hash of
 * method and target; a second the response heads and closes.  An
 * incident scans them once, newest first, stopping at the window's
 * start.  Held records are followed in a small array (for cause and
 * effect), scanned on each message head and close only while one of them
 * is linked, so the cost on a capture without proxied incidents is one
 * ring write per message head and per FIN or RST.
 */
#include "hangup/legs.h"

#include <stdlib.h>
#include <string.h>

typedef struct req_ent {
    uint64_t conn_id;
    uint64_t key;             /* hash of method and target */
    uint64_t num;
    int64_t ts;
    uint8_t ipver;
    uint8_t cli[16], srv[16];
    uint16_t cport, sport;
} req_ent;

/* A response head or a close on a connection: what a downstream request
 * met, possibly before the upstream incident was found (a proxy may
 * answer 502 as soon as the target's FIN comes, before its RST). */
typedef struct end_ent {
    uint64_t conn_id;
    uint64_t num;
    int64_t ts;
    int status;               /* a response head's; 0 for a close */
    bool by_client;           /* a close: the client's FIN or RST */
} end_ent;

typedef struct watch_ent {
    hu_incident_rec *rec;     /* linked, or a possible effect of one (held) */
    bool user_closed;         /* the user closed first: no close is the proxy's answer */
    /* What every request head and every end is first compared with, kept
     * here (a record's link, request and downstream connection do not
     * change once it is followed): the records lie apart on the heap, and
     * each head hashed each linked record's request anew. */
    bool linked;              /* rec->ds.candidates == 1 */
    uint64_t ds_conn;         /* rec->ds.conn_id */
    uint64_t key;             /* req_key of rec->request */
} watch_ent;

struct hu_legs {
    req_ent ring[HU_LEGS_RING];
    size_t head, len;         /* next slot to write; entries held */
    end_ent ends[HU_LEGS_RING];
    size_t ehead, elen;
    watch_ent watch[HU_LEGS_WATCH];
    size_t nwatch;
    size_t nlinked;           /* of them, linked to a downstream request */
};

hu_legs *hu_legs_new(void)
{
    return calloc(1, sizeof(hu_legs));
}

void hu_legs_free(hu_legs *l)
{
    free(l);
}


/* FNV-1a of method, a separator, and target. */
static uint64_t req_key(const char *method, const uint8_t *target, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = method; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ target[i]) * 0x100000001b3ull;
    return h;
}

static bool same_ep(uint8_t ipver, const uint8_t *a, uint16_t ap, uint8_t jver, const uint8_t *b,
                    uint16_t bp)
{
    return ipver == jver && ap == bp && hu_addr_eq(ipver, a, b);
}

static bool same_addr(uint8_t ipver, const uint8_t *a, uint8_t jver, const uint8_t *b)
{
    return ipver == jver && hu_addr_eq(ipver, a, b);
}

/* Request e is the proxy sending rec's request upstream again: from the
 * same address to the same server, on another connection, after it. */
static bool is_retry(const req_ent *e, const hu_incident_rec *rec, uint64_t key)
{
    return e->key == key && e->conn_id != rec->conn_id && e->ts > rec->req.ts_us &&
           same_addr(e->ipver, e->cli, rec->ipver, rec->cli_addr) &&
           same_ep(e->ipver, e->srv, e->sport, rec->ipver, rec->srv_addr, rec->srv_port);
}

/* The retry settles a record the user got an answer for. */
static void note_retry(hu_incident_rec *rec, uint64_t num, int64_t ts)
{
    hu_downstream *ds = &rec->ds;
    if (ds->retry.num)
        return;
    ds->retry = (hu_pktref){ num, ts, 0 };
    if (ds->outcome == HU_DS_ANSWERED || ds->outcome == HU_DS_UNKNOWN)
        ds->outcome = HU_DS_RETRIED;
}

void hu_legs_request(hu_legs *l, const hu_flow *f, const hu_http_msg *m, uint64_t num,
                     int64_t ts)
{
    req_ent *e = &l->ring[l->head];
    uint8_t c = f->client, s = (uint8_t)(1 - f->client);
    *e = (req_ent){ .conn_id = f->id, .key = req_key(m->method, m->target, m->target_len),
                    .num = num, .ts = ts, .ipver = f->ipver, .cport = f->port[c],
                    .sport = f->port[s] };
    memcpy(e->cli, f->addr[c], 16);
    memcpy(e->srv, f->addr[s], 16);
    l->head = (l->head + 1) % HU_LEGS_RING;
    if (l->len < HU_LEGS_RING)
        l->len++;
    for (size_t i = 0; l->nlinked && i < l->nwatch; i++) {
        const watch_ent *w = &l->watch[i];
        if (w->linked && is_retry(e, w->rec, w->key))
            note_retry(w->rec, num, ts);
    }
}

/* Remember a response head or a close on connection conn_id. */
static void end_add(hu_legs *l, uint64_t conn_id, uint64_t num, int64_t ts, int status,
                    bool by_client)
{
    l->ends[l->ehead] = (end_ent){ conn_id, num, ts, status, by_client };
    l->ehead = (l->ehead + 1) % HU_LEGS_RING;
    if (l->elen < HU_LEGS_RING)
        l->elen++;
}

/* What the user's request on the downstream connection met: the first
 * response head or close after it, in the order they came. */
static void settle(hu_downstream *ds, bool *user_closed, const end_ent *e)
{
    if (ds->response.num || ds->close.num || e->ts < ds->request.ts_us)
        return;
    if (e->status) {
        ds->status = e->status;
        ds->response = (hu_pktref){ e->num, e->ts, 0 };
        ds->outcome = ds->retry.num ? HU_DS_RETRIED
                      : e->status >= 500 ? HU_DS_BAD_GATEWAY : HU_DS_ANSWERED;
    } else if (e->by_client) {
        *user_closed = true;
    } else if (!*user_closed) {
        ds->close = (hu_pktref){ e->num, e->ts, 0 };
        ds->outcome = HU_DS_CLOSED;
    }
}

/* The response head or close e on flow f, to every followed record whose
 * downstream connection f is. */
static void follow_end(hu_legs *l, const hu_flow *f, const end_ent *e)
{
    uint8_t c = f->client, s = (uint8_t)(1 - f->client);
    for (size_t i = 0; l->nlinked && i < l->nwatch; i++) {
        if (!l->watch[i].linked || l->watch[i].ds_conn != f->id)
            continue;
        hu_downstream *ds = &l->watch[i].rec->ds;
        if (same_ep(ds->ipver, ds->cli_addr, ds->cli_port, f->ipver, f->addr[c], f->port[c]) &&
            same_ep(ds->ipver, ds->srv_addr, ds->srv_port, f->ipver, f->addr[s], f->port[s]))
            settle(ds, &l->watch[i].user_closed, e);
    }
}

void hu_legs_response(hu_legs *l, const hu_flow *f, const hu_http_msg *m, uint64_t num,
                      int64_t ts)
{
    if (m->status < 200)
        return;   /* interim (100 Continue) */
    end_add(l, f->id, num, ts, m->status, false);
    follow_end(l, f, &l->ends[(l->ehead + HU_LEGS_RING - 1) % HU_LEGS_RING]);
}

void hu_legs_close(hu_legs *l, const hu_flow *f, uint8_t side, uint64_t num, int64_t ts)
{
    end_add(l, f->id, num, ts, 0, side == f->client);
    follow_end(l, f, &l->ends[(l->ehead + HU_LEGS_RING - 1) % HU_LEGS_RING]);
}

/* Effect is an incident on cause's downstream connection that the
 * user's request linked there met: on that connection, and what proves
 * it (its response, else its RST or FIN) not before that request -- an
 * earlier request's 502 on the same keep-alive connection had another
 * cause. */
static bool effect_of(const hu_incident_rec *effect, const hu_incident_rec *cause)
{
    const hu_downstream *ds = &cause->ds;
    int64_t t = effect->resp.num  ? effect->resp.ts_us
                : effect->rst.num ? effect->rst.ts_us
                : effect->fin.num ? effect->fin.ts_us
                                  : effect->req.ts_us;
    return ds->candidates == 1 && !effect->cause && effect->conn_id == ds->conn_id &&
           same_ep(effect->ipver, effect->cli_addr, effect->cli_port, ds->ipver, ds->cli_addr,
                   ds->cli_port) &&
           t >= ds->request.ts_us;
}

/* Link cause and effect: an incident on the user's connection of a
 * linked one (its close, its gateway-error), whichever came first. */
static void link_cause(hu_legs *l, hu_incident_rec *rec)
{
    for (size_t i = 0; i < l->nwatch; i++) {
        hu_incident_rec *w = l->watch[i].rec;
        if (effect_of(w, rec))
            w->cause = rec->number;
        if (effect_of(rec, w))
            rec->cause = w->number;
    }
}

/* Follow rec until it leaves (room permitting). */
static void follow(hu_legs *l, hu_incident_rec *rec, bool user_closed)
{
    if (l->nwatch < HU_LEGS_WATCH) {
        l->watch[l->nwatch++] = (watch_ent){
            rec, user_closed, rec->ds.candidates == 1, rec->ds.conn_id,
            req_key(rec->request.method, rec->request.target, rec->request.target_len)
        };
        l->nlinked += rec->ds.candidates == 1;
    }
}

/* Request e had its answer, or its connection closed, before `ts`: it
 * was over before the incident's request was sent, so it is not what that
 * request carried. */
static bool ended_before(const hu_legs *l, const req_ent *e, int64_t ts)
{
    for (size_t k = 1; k <= l->elen; k++) {
        const end_ent *x = &l->ends[(l->ehead + HU_LEGS_RING - k) % HU_LEGS_RING];
        if (x->ts <= e->ts)
            break;   /* newest first: the rest came before the request */
        if (x->conn_id == e->conn_id && x->ts < ts)
            return true;
    }
    return false;
}

/* rec->ds from the rings; whether the user closed the downstream
 * connection before anything else happened on it. */
static bool find_downstream(hu_legs *l, hu_incident_rec *rec)
{
    if (!rec->req.num || !rec->request.http)
        return false;
    uint64_t key = req_key(rec->request.method, rec->request.target, rec->request.target_len);
    const req_ent *found = NULL, *retry = NULL;
    int64_t since = rec->req.ts_us - HU_LEGS_WINDOW_US;
    for (size_t k = 1; k <= l->len; k++) {
        const req_ent *e = &l->ring[(l->head + HU_LEGS_RING - k) % HU_LEGS_RING];
        if (e->key != key)
            continue;
        if (is_retry(e, rec, key)) {
            retry = e;   /* newest first: the earliest wins */
            continue;
        }
        if (e->ts > rec->req.ts_us)
            continue;
        if (e->ts < since)
            break;
        /* Not another request to the same upstream server (an earlier
         * try, another pooled connection). */
        if (e->conn_id == rec->conn_id ||
            same_ep(e->ipver, e->srv, e->sport, rec->ipver, rec->srv_addr, rec->srv_port) ||
            ended_before(l, e, rec->req.ts_us))
            continue;
        rec->ds.candidates++;
        found = e;
    }
    if (rec->ds.candidates != 1)
        return false;
    hu_downstream *ds = &rec->ds;
    ds->ipver = found->ipver;
    memcpy(ds->cli_addr, found->cli, 16);
    memcpy(ds->srv_addr, found->srv, 16);
    ds->cli_port = found->cport;
    ds->srv_port = found->sport;
    ds->conn_id = found->conn_id;
    ds->request = (hu_pktref){ found->num, found->ts, 0 };
    if (retry)
        note_retry(rec, retry->num, retry->ts);
    /* What the downstream connection met already, oldest first. */
    bool user_closed = false;
    for (size_t k = l->elen; k >= 1; k--) {
        const end_ent *e = &l->ends[(l->ehead + HU_LEGS_RING - k) % HU_LEGS_RING];
        if (e->conn_id == ds->conn_id)
            settle(ds, &user_closed, e);
    }
    return user_closed;
}

void hu_legs_incident(hu_legs *l, hu_incident_rec *rec)
{
    memset(&rec->ds, 0, sizeof rec->ds);
    rec->cause = 0;
    bool user_closed = find_downstream(l, rec);
    link_cause(l, rec);
    follow(l, rec, user_closed);
}

void hu_legs_release(hu_legs *l, hu_incident_rec *rec)
{
    for (size_t i = 0; i < l->nwatch; i++)
        if (l->watch[i].rec == rec) {
            l->nlinked -= rec->ds.candidates == 1;
            l->watch[i] = l->watch[--l->nwatch];
            return;
        }
}
