/*
 * history.c -- per-connection HTTP history and the server accounting that
 * hangs off it (see history.h for the contract).
 */
#include "hangup/history.h"
#include "hangup/tls.h"

#include <stdlib.h>
#include <string.h>

#define HELLO_MAX 4096   /* client bytes kept while looking for the SNI */

struct hu_history {
    hu_servers *sv;
    hu_relay *relay;
    hu_head_fn on_head;
    void *arg;
    const hu_flow *cur;      /* connection whose bytes the parser is on */
    hu_hist_conn *cur_hc;
    hu_pool http_pool;       /* connections' parser pairs */
    hu_pool cur_pool;        /* their messages in progress */
    /* The identities seen on this capture's connections, each once (open
     * addressing; NULL until the first): a side points at its entry
     * rather than holding 322 bytes of its own. */
    hu_sw_ident **ids;
    size_t nids;
    hu_keylog *kl;           /* TLS secrets, or NULL: decrypt nothing */
    hu_tls_note_fn note;
    void *note_arg;
    int64_t cur_ts;          /* the time of the bytes being decrypted */
};

#define HU_SW_SHARED 4096    /* slots; 3/4 of them used at most */

hu_history *hu_history_new(hu_servers *sv, hu_relay *relay, hu_head_fn on_head, void *arg)
{
    hu_history *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->sv = sv;
    h->relay = relay;
    h->on_head = on_head;
    h->arg = arg;
    hu_pool_init(&h->http_pool, hu_http_size());
    hu_pool_init(&h->cur_pool, hu_http_cur_size());
    return h;
}

void hu_history_free(hu_history *h)
{
    if (!h)
        return;
    hu_pool_drain(&h->http_pool);
    hu_pool_drain(&h->cur_pool);
    if (h->ids)
        for (size_t i = 0; i < HU_SW_SHARED; i++)
            free(h->ids[i]);
    free(h->ids);
    free(h);
}

static bool sw_same(const hu_sw_ident *a, const hu_sw_ident *b)
{
    return a->strength == b->strength && a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
           strcmp(a->evidence, b->evidence) == 0;
}

static size_t sw_hash(const hu_sw_ident *id)
{
    uint64_t x = 1469598103934665603ull ^ (uint64_t)id->strength << 8 ^ id->kind;
    for (const char *s = id->name; *s; s++)
        x = (x ^ (uint8_t)*s) * 1099511628211ull;
    for (const char *s = id->evidence; *s; s++)
        x = (x ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)(x ^ (x >> 29));
}

/* The shared entry equal to id, added when new; NULL when the table is
 * full (or out of memory): the side then keeps a copy of its own. */
static const hu_sw_ident *sw_shared(hu_history *h, const hu_sw_ident *id)
{
    if (!h->ids && !(h->ids = calloc(HU_SW_SHARED, sizeof *h->ids)))
        return NULL;
    for (size_t i = sw_hash(id) % HU_SW_SHARED;; i = (i + 1) % HU_SW_SHARED) {
        if (!h->ids[i]) {
            if (h->nids >= HU_SW_SHARED / 4 * 3 || !(h->ids[i] = malloc(sizeof *id)))
                return NULL;
            *h->ids[i] = *id;
            h->nids++;
            return h->ids[i];
        }
        if (sw_same(h->ids[i], id))
            return h->ids[i];
    }
}

static hu_hist *hist_get(hu_history *h, hu_hist_conn *hc)
{
    if (hc->hist)
        return hc->hist;
    hu_hist *t = calloc(1, sizeof *t);
    hu_http *p = hu_http_new_in(&h->http_pool, &h->cur_pool);
    if (!t || !p) {
        free(t);
        hu_http_free_to(&h->http_pool, p);
        return NULL;
    }
    t->close_ann_ts = HU_NO_TIME;
    t->keepalive_hint = -1;
    t->last_resp_end_ts = HU_NO_TIME;
    t->last_req_start_ts = HU_NO_TIME;
    t->idle_close_us = -1;
    hc->hist = t;
    hc->http = p;
    return t;
}

static bool announces_close(const hu_http_msg *m)
{
    /* HTTP/0.9 has no persistent connections; HTTP/1.0 only on request. */
    return m->conn_close || m->simple ||
           (m->vmajor == 1 && m->vminor == 0 && !m->conn_keepalive);
}

static void on_head(void *arg, int dir, const hu_http_msg *m)
{
    hu_history *h = arg;
    const hu_flow *f = h->cur;
    hu_hist *t = h->cur_hc->hist;
    if (announces_close(m) && t->close_ann_ts == HU_NO_TIME)
        t->close_ann_ts = m->start_ts;
    if (dir == HU_HTTP_SERVER) {
        if (m->keepalive_timeout >= 0)
            t->keepalive_hint = m->keepalive_timeout;
        if (h->on_head)
            h->on_head(h->arg, f, dir, m);
        return;
    }
    /* A reuse: the client idled since the newest of the last response's
     * end and the previous request's start (pipelining gives 0). */
    int64_t reuse = -1;
    if (t->requests > 0) {
        int64_t since = t->last_resp_end_ts;
        if (since == HU_NO_TIME || (t->last_req_start_ts != HU_NO_TIME && t->last_req_start_ts > since))
            since = t->last_req_start_ts;
        if (since != HU_NO_TIME)
            reuse = m->start_ts > since ? m->start_ts - since : 0;
    }
    t->requests++;
    t->last_req_start_ts = m->start_ts;
    if (m->start_off >= t->chunk_off || t->chunk_off - m->start_off < (1u << 30)) {
        t->last_req_seq = t->chunk_seq - (uint32_t)(t->chunk_off - m->start_off);
        t->last_req_seq_set = true;
    }
    hu_servers_request(h->sv, f, reuse);
    if (h->relay) {
        unsigned p = hu_relay_request(h->relay, f, m->method, m->target, m->target_len,
                                      m->start_ts);
        if (p)
            t->relay_pair = p;
    }
    if (h->on_head)
        h->on_head(h->arg, f, dir, m);
}

static void on_done(void *arg, int dir, const hu_http_msg *m)
{
    hu_history *h = arg;
    hu_hist *t = h->cur_hc->hist;
    if (dir == HU_HTTP_SERVER && (m->status >= 200 || m->simple)) {
        t->responses++;
        t->last_resp_end_ts = h->cur->last_ts;
    }
}

/* An identifying header: the side's identity, and the server's in the
 * server summary when it grew. */
static void on_header(void *arg, int dir, int hdr, const char *name, size_t nlen,
                      const uint8_t *v, size_t vn)
{
    hu_history *h = arg;
    hu_hist *t = h->cur_hc->hist;
    /* hu_sw_observe reads only the strength and writes the rest when the
     * identity changes: most headers change nothing, and copying the side's
     * 322 bytes for them was a good part of identifying. */
    hu_sw_ident id;
    id.strength = t->sw[dir] ? t->sw[dir]->strength : 0;
    if (!hu_sw_observe(&id, dir == HU_HTTP_CLIENT, hdr, name, nlen, v, vn))
        return;
    uint8_t own = (uint8_t)(1u << dir);
    const hu_sw_ident *shared = sw_shared(h, &id);
    if (shared) {
        if (t->sw_own & own)
            free((void *)t->sw[dir]);
        t->sw_own &= (uint8_t)~own;
        t->sw[dir] = shared;
    } else {
        hu_sw_ident *mine = t->sw_own & own ? (hu_sw_ident *)t->sw[dir] : malloc(sizeof id);
        if (!mine)
            return;
        *mine = id;
        t->sw[dir] = mine;
        t->sw_own |= own;
    }
    if (dir == HU_HTTP_SERVER)
        hu_servers_software(h->sv, h->cur, t->sw[dir]);
}

static const hu_http_cb http_cb = { on_head, on_done, on_header };

/* Look for the TLS server name in the client's first bytes, or, on a
 * connection that turned to TLS later (flow.h's tls_hello_seq), from the
 * ClientHello's first byte in the chunk [seq, seq + n). */
static void sni_feed(hu_hist *t, const hu_flow *f, const uint8_t *p, size_t n, uint32_t seq)
{
    if (t->sni_done) {
        uint32_t off = f->tls_hello_seq - seq;
        if (t->sni || t->sni_mid || !f->tls_hello_set || off >= n)
            return;
        t->sni_mid = true;
        t->sni_done = false;
        p += off;
        n -= off;
    }
    if (t->hello_len == 0 && (n == 0 || p[0] != 0x16)) {
        t->sni_done = true;   /* not TLS */
        return;
    }
    size_t take = n < HELLO_MAX - t->hello_len ? n : HELLO_MAX - t->hello_len;
    uint8_t *nb = realloc(t->hello, t->hello_len + take);
    if (!nb) {
        t->sni_done = true;
        return;
    }
    t->hello = nb;
    memcpy(t->hello + t->hello_len, p, take);
    t->hello_len += take;
    char name[256];
    hu_tls_rc rc = hu_tls_sni(t->hello, t->hello_len, name, sizeof name);
    if (rc == HU_TLS_MORE && t->hello_len < HELLO_MAX)
        return;
    if (rc == HU_TLS_SNI)
        t->sni = strdup(name);
    t->sni_done = true;
    free(t->hello);
    t->hello = NULL;
    t->hello_len = 0;
}

void hu_history_keylog(hu_history *h, hu_keylog *kl, hu_tls_note_fn note, void *arg)
{
    h->kl = kl;
    h->note = note;
    h->note_arg = arg;
}

static void tls_free(hu_hist *t)
{
    hu_tlsdec_free(t->tls);
    t->tls = NULL;
}

/* The keys were found: the parser so far saw only handshake records, and
 * a fresh one sees the plaintext from here on. */
static void tls_switch(hu_history *h, hu_hist_conn *hc)
{
    hu_hist *t = hc->hist;
    if (t->tls_on)
        return;
    hu_http *p = hu_http_new_in(&h->http_pool, &h->cur_pool);
    if (!p)
        return;
    hu_http_free_to(&h->http_pool, hc->http);
    hc->http = p;
    t->tls_on = true;
}

/* Decrypted application data: to the parser, placed at its record. */
static void tls_plain(void *arg, int dir, const uint8_t *p, size_t n, uint32_t seq)
{
    hu_history *h = arg;
    hu_hist_conn *hc = h->cur_hc;
    tls_switch(h, hc);
    if (!hc->hist->tls_on)
        return;   /* out of memory for the fresh parser */
    if (dir == HU_HTTP_CLIENT) {
        hc->hist->chunk_seq = seq;
        hc->hist->chunk_off = hu_http_fed(hc->http, dir);
    }
    hu_http_feed(hc->http, dir, p, n, h->cur_ts, &http_cb, h);
}

/* One line for the user about a decryptor's event. */
static void tls_note(hu_history *h, const hu_flow *f, const hu_tlsdec *d, hu_tlsdec_event ev,
                     int dir)
{
    if (!h->note || ev == HU_TLSDEC_NONE)
        return;
    char msg[256], cr[2 * HU_TLS_RANDOM + 1];
    const char *who = dir == HU_HTTP_CLIENT ? "client" : "server";
    hu_tlsdec_client_random(d, cr);
    switch (ev) {
    case HU_TLSDEC_NO_KEY:
        snprintf(msg, sizeof msg, "TLS: no key logged for client random %s; the connection "
                                  "stays encrypted", cr);
        break;
    case HU_TLSDEC_FAILED:
        snprintf(msg, sizeof msg, "TLS: a record from the %s did not decrypt (its tag or MAC "
                                  "is wrong); the %s's records stay encrypted from there", who, who);
        break;
    case HU_TLSDEC_UNSUPPORTED:
        snprintf(msg, sizeof msg, "TLS: version 0x%04x with cipher suite 0x%04x is not one "
                                  "hangup decrypts; the connection stays encrypted",
                 hu_tlsdec_version(d), hu_tlsdec_suite(d));
        break;
    default:
        snprintf(msg, sizeof msg, "TLS: a record from the %s is longer than TLS allows; the "
                                  "%s's records stay encrypted from there", who, who);
        break;
    }
    h->note(h->note_arg, f, msg);
}

/* The bytes through the connection's decryptor, made when a key log was
 * given and the client's first bytes are a TLS handshake record.  True
 * when they were taken (decrypted, or dropped in a stopped direction);
 * false when they go to the parser as they are (no decryption). */
static bool tls_feed(hu_history *h, const hu_flow *f, hu_hist_conn *hc, int dir,
                     const uint8_t *p, size_t n, uint32_t seq, int64_t ts)
{
    hu_hist *t = hc->hist;
    if (!t->tls) {
        if (!f->tls || f->tls_mid || t->tls_on || dir != HU_HTTP_CLIENT ||
            hu_http_fed(hc->http, dir) != 0 || n == 0 || p[0] != HU_TLS_HANDSHAKE ||
            hu_keylog_empty(h->kl) || !(t->tls = hu_tlsdec_new(h->kl)))
            return t->tls_on;
    }
    h->cur = f;
    h->cur_hc = hc;
    h->cur_ts = ts;
    hu_tlsdec_event ev = hu_tlsdec_feed(t->tls, dir, p, n, seq, tls_plain, h);
    if (hu_tlsdec_active(t->tls))
        tls_switch(h, hc);
    h->cur = NULL;
    h->cur_hc = NULL;
    tls_note(h, f, t->tls, ev, dir);
    if (t->tls_on)
        return true;
    if (hu_tlsdec_off(t->tls))
        tls_free(t);
    return false;
}

size_t hu_history_tls_plain(const hu_hist_conn *hc, uint32_t seq, uint8_t *out, size_t cap)
{
    if (!hc->hist || !hc->hist->tls_on || !hc->hist->tls)
        return 0;
    return hu_tlsdec_client_plain(hc->hist->tls, seq, out, cap);
}

void hu_history_data(hu_history *h, const hu_flow *f, hu_hist_conn *hc, int dir,
                     const uint8_t *p, size_t n, uint32_t seq, int64_t ts)
{
    hu_hist *t = hist_get(h, hc);
    if (!t || !hc->http)
        return;   /* OOM, or the connection was closed and compacted */
    if (dir == HU_HTTP_CLIENT)
        sni_feed(t, f, p, n, seq);
    if ((h->kl || t->tls_on) && tls_feed(h, f, hc, dir, p, n, seq, ts))
        return;
    if (dir == HU_HTTP_CLIENT) {
        t->chunk_seq = seq;
        t->chunk_off = hu_http_fed(hc->http, dir);
    }
    h->cur = f;
    h->cur_hc = hc;
    hu_http_feed(hc->http, dir, p, n, ts, &http_cb, h);
    h->cur = NULL;
    h->cur_hc = NULL;
}

void hu_history_gap(hu_history *h, hu_hist_conn *hc, int dir)
{
    if (hist_get(h, hc) && hc->http)
        hu_http_gap(hc->http, dir);
    if (hc->hist && hc->hist->tls)
        hu_tlsdec_gap(hc->hist->tls, dir);
}

/* Body bytes the parser would only count.  The client's bytes also feed
 * the SNI search until it is done, and a hello found mid-stream reopens it,
 * so they are delivered until then. */
uint64_t hu_history_skippable(const hu_flow *f, const hu_hist_conn *hc, int dir)
{
    if (!hc->hist || !hc->http)
        return 0;
    if (hc->hist->tls)
        return 0;   /* records are decrypted in order, every byte */
    if (dir == HU_HTTP_CLIENT &&
        (!hc->hist->sni_done || (f->tls_hello_set && !hc->hist->sni_mid && !hc->hist->sni)))
        return 0;
    return hu_http_skippable(hc->http, dir);
}

void hu_history_skip(hu_hist_conn *hc, int dir, uint64_t n)
{
    hu_http_skip(hc->http, dir, n);
}

void hu_history_packet(hu_history *h, const hu_flow *f, hu_hist_conn *hc, uint8_t s,
                       const hu_pkt *p)
{
    if (!(p->flags & HU_TH_FIN) || f->side[s].fin_num != p->num)
        return;   /* only a side's first FIN matters here */
    int dir = s == f->client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    hu_hist *t = hc->hist;
    if (!t || !hc->http)
        return;   /* no HTTP seen, or closed and compacted already */
    h->cur = f;
    h->cur_hc = hc;
    hu_http_eof(hc->http, dir, p->ts_us, &http_cb, h);
    h->cur = NULL;
    h->cur_hc = NULL;
    /* An idle close: the server's FIN, alone, on a connection whose every
     * request was answered and nobody announced a close -- and not the
     * server answering the client's own FIN. */
    const hu_side *cli = &f->side[f->client];
    bool answers_client_fin = cli->fin_seen && (p->flags & HU_TH_ACK) &&
                              hu_seq_gt(p->ack, cli->fin_seq);
    /* Requests the server had received: a request sent after it closed
     * (the late request, captured before the FIN near the client) was
     * not, and does not make the close any less idle. */
    uint32_t received = t->requests;
    if (received && t->last_req_seq_set && (p->flags & HU_TH_ACK) &&
        hu_seq_geq(t->last_req_seq, p->ack))
        received--;
    if (dir == HU_HTTP_SERVER && p->paylen == 0 && !answers_client_fin &&
        !hu_http_unparsable(hc->http) && t->responses > 0 && t->responses >= received &&
        t->close_ann_ts == HU_NO_TIME && f->side[s].data_seen) {
        t->idle_close_us = p->ts_us - f->side[s].last_data_ts;
        hu_servers_idle_close(h->sv, f, t->idle_close_us);
    }
}

void hu_history_prefetch(const hu_hist_conn *hc, int dir)
{
    if (hc->hist)
        __builtin_prefetch(hc->hist, 1, 3);
    if (hc->http)
        hu_http_prefetch(hc->http, dir);
}

void hu_history_compact(hu_history *h, hu_hist_conn *hc)
{
    hu_http_free_to(&h->http_pool, hc->http);
    hc->http = NULL;
    if (hc->hist) {
        tls_free(hc->hist);
        free(hc->hist->hello);
        hc->hist->hello = NULL;
        hc->hist->hello_len = 0;
        hc->hist->sni_done = true;
    }
}

void hu_history_release(hu_history *h, const hu_flow *f, hu_hist_conn *hc)
{
    hu_servers_connection(h->sv, f);
    if (hc->hist) {
        free(hc->hist->sni);
        for (int dir = 0; dir < 2; dir++)
            if (hc->hist->sw_own & (1u << dir))
                free((void *)hc->hist->sw[dir]);
        free(hc->hist->hello);
        tls_free(hc->hist);
        free(hc->hist);
        hc->hist = NULL;
    }
    hu_http_free_to(&h->http_pool, hc->http);
    hc->http = NULL;
}

int64_t hu_history_idle_close(const hu_hist_conn *hc)
{
    return hc->hist ? hc->hist->idle_close_us : -1;
}

void hu_history_view(const hu_hist_conn *hc, int64_t ts, hu_hist_view *v)
{
    memset(v, 0, sizeof *v);
    v->requests_before = -1;
    v->keepalive_hint_s = -1;
    const hu_hist *t = hc->hist;
    if (!t)
        return;
    v->sni = t->sni;
    v->http = t->requests > 0;
    if (v->http)
        v->requests_before = t->responses;
    v->close_announced = t->close_ann_ts < ts;
    v->keepalive_hint_s = t->keepalive_hint;
    const hu_sw_ident *c = t->sw[HU_HTTP_CLIENT], *s = t->sw[HU_HTTP_SERVER];
    v->client_sw = c && c->strength ? c : NULL;
    v->server_sw = s && s->strength ? s : NULL;
    v->relay_pair = t->relay_pair;
}
