/*
 * pipeline.c -- the per-packet stage order, written once (see
 * pipeline.h for the contract; docs/DESIGN.md §3 for the picture).
 *
 * run_stages() is the only place that says in which order the layers see
 * a packet, and why.  Everything else here is plumbing: turning a
 * detector's finding into a record with the layers' facts, finishing the
 * connections the flow table releases, feeding reassembled bytes to the
 * HTTP layer, and the two-thread machinery (prep on the reader thread,
 * prefetching a few frames ahead) that makes a busy capture fast.
 */
#include "hangup/pipeline.h"
#include "hangup/legs.h"
#include "hangup/decode.h"
#include "hangup/relay.h"
#include "hangup/retry.h"
#include "hangup/strbuf.h"
#include "hangup/tcpprint.h"

#include <stdlib.h>
#include <string.h>

/* What the reader thread prepares for each frame (prep_frame): the frame
 * decoded, its connection key, and tcpdump's text around its TCP line
 * (encapsulations, payload suffix) when it fits (pointed to by p.suffix). */
#define HU_PREP_SUFFIX 88
typedef struct frame_prep {
    hu_decode_rc rc;
    const char *why;          /* when rc is HU_DEC_BAD */
    hu_pkt p;                 /* when rc is HU_DEC_TCP */
    hu_flowkey key;           /* of p */
    char buf[HU_PREP_SUFFIX];
} frame_prep;

/* A frame seen by on_ahead, and where its preparation is. */
#define HU_AHEAD_SLOTS 16   /* > HU_AHEAD_FRAMES, a power of two */
typedef struct ahead_slot {
    uint64_t num;
    const frame_prep *fp;     /* the reader's, or own */
    frame_prep own;
} ahead_slot;

struct hu_pipeline {
    hu_pipeline_cfg cfg;
    hu_flowtab *flows;
    hu_tcpprint_convs *convs;  /* released conversations' tcpdump bases, for flows */
    hu_reasm *reasm;
    hu_history *history;
    hu_relay *relay;          /* proxies seen forwarding, across the capture's connections */
    hu_detect detect;
    hu_family family;
    hu_retry *retry;
    hu_legs *legs;
    const hu_pkt *cur;        /* the packet in the stages, or NULL */
    hu_pipeline_stats st;
    int64_t now;              /* newest packet time */
    int64_t retry_due;        /* hu_retry_due: nothing to hand out before */
    bool dropping;            /* freed before its end: finish nothing */
    hu_sb scratch;            /* tcpdump suffixes not rendered ahead */
    /* Frames on_ahead has seen (ahead_in) and the stages taken (ahead_out). */
    ahead_slot ahead[HU_AHEAD_SLOTS];
    uint64_t ahead_in, ahead_out;
};

static hu_conn *conn_of(hu_flow *f) { return (hu_conn *)f; }

/* ---------------------------------------------------------------- layers */

static hu_family_in family_in(const hu_conn *c)
{
    return (hu_family_in){ .race_claimed = hu_detect_claimed(&c->flow, &c->det),
                           .http = hu_history_parser(&c->hist) };
}

/* -w: the connection's recent frames, the record's one line (when there
 * is a record) on the packets it names. */
static void write_incident(hu_pipeline *pl, const hu_conn *c, const hu_incident_rec *rec)
{
    hu_sb line = {0};
    hu_wcap_note note = { { 0 }, NULL };
    if (rec) {
        hu_incident_rec_oneline(&line, rec);
        note = (hu_wcap_note){ { rec->req.num, rec->fin.num, rec->rst.num, rec->resp.num },
                               hu_sb_cstr(&line) };
    }
    hu_wcap_write(pl->cfg.wcap, c->raw, pl->cfg.dlt, rec && !line.oom ? &note : NULL);
    hu_sb_free(&line);
}

/* What the connection's headers say its client and server are
 * (docs/DESIGN.md §2.10); what the capture's structure says is added when
 * the record is final (relay_identify). */
static void identify(const hu_conn *c, hu_sw_ident *cli, hu_sw_ident *srv, hu_incident *inc,
                     unsigned *relay_pair)
{
    hu_hist_view v;
    hu_history_view(&c->hist, INT64_MAX, &v);
    memset(cli, 0, sizeof *cli);
    memset(srv, 0, sizeof *srv);
    if (v.client_sw)
        *cli = *v.client_sw;
    if (v.server_sw)
        *srv = *v.server_sw;
    inc->client_sw = cli->strength ? cli : NULL;
    inc->server_sw = srv->strength ? srv : NULL;
    *relay_pair = v.relay_pair;
}

/*
 * The capture's structure, once a record is final (later requests may
 * have shown the proxy by then, and its listening endpoint's responses
 * what it is).  A connection that carried requests forwarded from a
 * proxy's listening endpoint has the proxy as its client: the User-Agent
 * it passed on is its own client's, so the proxy is named by what its
 * listening endpoint's responses say (nginx's Server header), or by a
 * proxy's own header mark, else left unnamed.  A server endpoint that
 * forwards what it receives is a proxy too.
 */
static void relay_identify(hu_pipeline *pl, hu_incident_rec *rec, unsigned relay_pair)
{
    hu_relay_ends e;
    if (hu_relay_pair(pl->relay, relay_pair, &e)) {
        const hu_sw_ident *l = hu_servers_software_of(pl->cfg.servers, e.ipver, e.addr, e.port);
        bool marked = strcmp(rec->client_kind, "proxy") == 0 ||
                      strcmp(rec->client_kind, "load-balancer") == 0;
        if (l && l->name[0]) {
            snprintf(rec->client_software, sizeof rec->client_software, "%s", l->name);
            marked = l->kind == HU_SWK_LB;
            snprintf(rec->client_kind, sizeof rec->client_kind, "%s",
                     marked ? "load-balancer" : "proxy");
        } else if (!marked) {
            rec->client_software[0] = '\0';
            snprintf(rec->client_kind, sizeof rec->client_kind, "proxy");
        }
        hu_relay_evidence(rec->client_evidence, sizeof rec->client_evidence, &e,
                          l ? l->evidence : NULL);
    }
    unsigned p = hu_relay_listener(pl->relay, rec->ipver, rec->srv_addr, rec->srv_port);
    if (p && hu_relay_pair(pl->relay, p, &e)) {
        char said[sizeof rec->server_evidence];
        snprintf(said, sizeof said, "%s", rec->server_evidence);
        if (strcmp(rec->server_kind, "load-balancer") != 0)
            snprintf(rec->server_kind, sizeof rec->server_kind, "proxy");
        hu_relay_evidence(rec->server_evidence, sizeof rec->server_evidence, &e,
                          said[0] ? said : NULL);
    }
}

/* On a connection being decrypted, the lost request is what its records
 * say: the client's plaintext from the record at the request's first
 * byte (its bytes went through the decryptor in order before this
 * packet, as every client byte before them did). */
static void tls_request(const hu_conn *c, hu_incident *inc)
{
    uint8_t buf[HU_REQWIN];
    size_t n = hu_history_tls_plain(&c->hist, inc->req->rawseq, buf, sizeof buf);
    if (n == 0)
        return;
    hu_request_decode(buf, n, &inc->request);
    inc->request.tls = inc->request.decrypted = true;
}

/* A detector's finding: add what the other layers know, make the record,
 * write the connection to -w, and hold it for its retry window. */
static void on_incident(void *arg, const hu_incident *found)
{
    hu_pipeline *pl = arg;
    if (pl->dropping)
        return;
    const hu_conn *c = hu_conn_of(found->flow);
    hu_incident inc = *found;
    inc.reasm = c->rs.mode;
    if (inc.req && c->flow.tls)
        tls_request(c, &inc);
    if (inc.kindid == HU_KIND_RACE) {
        /* The connection's HTTP story up to the late request.  Counted
         * from parsed HTTP only: for TLS the exchanges are hidden. */
        hu_hist_view v;
        hu_history_view(&c->hist, inc.req->ts_us, &v);
        inc.requests_before = v.http ? v.requests_before : -1;
        inc.close_announced = v.close_announced;
        inc.keepalive_hint_s = v.keepalive_hint_s;
        inc.sni = v.sni;
    }
    hu_sw_ident cli, srv;
    unsigned relay_pair;
    identify(c, &cli, &srv, &inc, &relay_pair);
    hu_incident_rec *rec = hu_incident_rec_new(&inc, pl->cfg.source, ++pl->st.incidents,
                                               pl->cfg.files);
    if (pl->cfg.wcap)
        write_incident(pl, c, rec);
    if (!rec) {
        pl->st.nomem++;
        return;
    }
    rec->relay_pair = relay_pair;
    hu_servers_incident(pl->cfg.servers, rec->ipver, rec->srv_addr, rec->srv_port, rec->kindid,
                        rec->verdict);
    hu_legs_incident(pl->legs, rec);
    hu_retry_add(pl->retry, rec);
    pl->retry_due = hu_retry_due(pl->retry);
}

/* A message head, in the packet pl->cur: requests to retry matching and
 * both to the proxy legs; responses to the family (a gateway-error is the
 * head's own fact). */
static void on_head(void *arg, const hu_flow *f, int dir, const hu_http_msg *m)
{
    hu_pipeline *pl = arg;
    uint64_t num = pl->cur ? pl->cur->num : 0;
    int64_t ts = pl->cur ? pl->cur->ts_us : m->start_ts;
    if (dir == HU_HTTP_CLIENT) {
        hu_retry_request(pl->retry, f, m);
        hu_legs_request(pl->legs, f, m, num, m->start_ts);
    } else {
        hu_legs_response(pl->legs, f, m, num, ts);
        const hu_conn *c = hu_conn_of(f);
        hu_family_in in = family_in(c);
        if (pl->cur && !pl->dropping)
            hu_family_response(&pl->family, f, &c->fam, &in, m->status);
    }
}

/* A linked record's client is the proxy whose front received the user's
 * request (legs.h): named by what that front endpoint's responses say,
 * when the relay rule (one address on both legs) could not name it --
 * unless they say what the target's say: a proxy that passes its
 * target's headers on (HAProxy) is not named by them. */
static void legs_identify(hu_pipeline *pl, hu_incident_rec *rec)
{
    const hu_downstream *ds = &rec->ds;
    if (ds->candidates != 1 || rec->client_software[0])
        return;
    const hu_sw_ident *l = hu_servers_software_of(pl->cfg.servers, ds->ipver, ds->srv_addr,
                                                  ds->srv_port);
    if (!l || !l->name[0] || strcmp(l->name, rec->server_software) == 0)
        return;
    char user[64], front[64];
    hu_endpoint_str(user, sizeof user, ds->ipver, ds->cli_addr, ds->cli_port);
    hu_endpoint_str(front, sizeof front, ds->ipver, ds->srv_addr, ds->srv_port);
    snprintf(rec->client_software, sizeof rec->client_software, "%s", l->name);
    snprintf(rec->client_kind, sizeof rec->client_kind, "%s",
             l->kind == HU_SWK_LB ? "load-balancer" : "proxy");
    snprintf(rec->client_evidence, sizeof rec->client_evidence,
             "carried user %.50s's request received on %.50s (answering as %.100s)", user, front,
             l->evidence);
}

static void on_held(void *arg, hu_incident_rec *rec)
{
    hu_pipeline *pl = arg;
    hu_legs_release(pl->legs, rec);
    hu_ds_outcome o = rec->ds.candidates == 1 ? rec->ds.outcome : HU_DS_UNKNOWN;
    if (o != HU_DS_UNKNOWN)
        hu_servers_downstream(pl->cfg.servers, rec->ipver, rec->srv_addr, rec->srv_port,
                              o == HU_DS_BAD_GATEWAY || o == HU_DS_CLOSED);
    relay_identify(pl, rec, rec->relay_pair);
    legs_identify(pl, rec);
    pl->cfg.sink.incident(pl->cfg.sink.arg, rec);
}

/* reasm.c's stream callbacks: its bytes go to the connection's HTTP layer. */
static void stream_data(void *arg, hu_flow *f, int dir, const uint8_t *p, size_t n, uint32_t seq,
                        int64_t ts)
{
    hu_pipeline *pl = arg;
    hu_history_data(pl->history, f, &conn_of(f)->hist, dir, p, n, seq, ts);
}

static void stream_gap(void *arg, hu_flow *f, int dir)
{
    hu_pipeline *pl = arg;
    hu_history_gap(pl->history, &conn_of(f)->hist, dir);
}

static uint64_t stream_skippable(void *arg, const hu_flow *f, int dir)
{
    (void)arg;
    return hu_history_skippable(f, &hu_conn_of(f)->hist, dir);
}

static void stream_skip(void *arg, hu_flow *f, int dir, uint64_t n)
{
    (void)arg;
    hu_history_skip(&conn_of(f)->hist, dir, n);
}

/* The history's word on a connection's decryption, as one line naming
 * the connection, at the packet in the stages. */
static void tls_note(void *arg, const hu_flow *f, const char *msg)
{
    hu_pipeline *pl = arg;
    if (!pl->cfg.sink.tls_note || pl->dropping)
        return;
    char cli[64], srv[64], line[512];
    uint8_t s = f->client;
    hu_endpoint_str(cli, sizeof cli, f->ipver, f->addr[s], f->port[s]);
    hu_endpoint_str(srv, sizeof srv, f->ipver, f->addr[!s], f->port[!s]);
    snprintf(line, sizeof line, "connection %s > %s: %s", cli, srv, msg);
    pl->cfg.sink.tls_note(pl->cfg.sink.arg, pl->cur ? pl->cur->num : 0, line);
}

static const hu_stream_cb stream_cb = { stream_data, stream_gap, stream_skippable, stream_skip };

/* A connection the flow table let go of: what only its end proves, its
 * row, its HTTP accounting and every layer's state, then its memory. */
static void finish_conn(hu_pipeline *pl, hu_flow *f)
{
    hu_conn *c = conn_of(f);
    int64_t idle_close = hu_history_idle_close(&c->hist);
    hu_family_in in = family_in(c);
    /* Only the family reads a released connection's ring, and only to
     * report: an idle one's packed ring (most of them at the end of a
     * busy capture) is freed unread. */
    if (hu_family_release_may_report(&c->fam, &in))
        hu_flowtab_unpack(pl->flows, f);
    hu_family_release(&pl->family, f, &c->fam, &in);   /* before its HTTP state goes */
    bool incident = hu_detect_reported(&c->det) || hu_family_reported(&c->fam);
    /* A connection with capture gaps keeps its row too: the evidence an
     * incident was not reported on (docs/DESIGN.md §2.13). */
    hu_gaps_count g0 = hu_gaps_of(f->gaps, 0), g1 = hu_gaps_of(f->gaps, 1);
    bool one_sided = hu_flow_one_sided(f) >= 0;
    bool gaps = g0.count || g1.count || one_sided;
    if (g0.count || g1.count) {
        pl->st.gap_conns++;
        pl->st.gap_bytes += g0.bytes + g1.bytes;
    }
    pl->st.one_sided += one_sided;
    if (pl->cfg.sink.connection && !pl->dropping && (idle_close >= 0 || incident || gaps))
        pl->cfg.sink.connection(pl->cfg.sink.arg, c, idle_close, incident);
    hu_history_release(pl->history, f, &c->hist);
    hu_reasm_forget(pl->reasm, &c->rs);
    hu_wcap_ring_free(pl->cfg.wcap, c->raw);
    c->raw = NULL;
    hu_detect_conn_free(&c->det);
    hu_family_conn_free(&c->fam);
    hu_flowtab_dispose(pl->flows, f);
}

/* The next two connections to finish, loaded in two steps: the second's
 * state, and what the first's points to (its second step; its state was
 * the second one a finish before).  A capture's end finishes every open
 * connection at once, each out of cache. */
static void finish_ahead(const hu_pipeline *pl)
{
    const hu_flow *n2 = hu_flowtab_released_peek(pl->flows, 1);
    if (n2)
        hu_prefetch_lines(n2, sizeof(hu_conn));
    const hu_flow *n1 = hu_flowtab_released_peek(pl->flows, 0);
    if (!n1)
        return;
    const hu_conn *c = hu_conn_of(n1);
    hu_detect_prefetch(&c->det);
    hu_family_prefetch(&c->fam);
    hu_reasm_prefetch(&c->rs);
    hu_history_prefetch(&c->hist, HU_HTTP_CLIENT);
    if (n1->gaps)
        __builtin_prefetch(n1->gaps, 1, 3);
    if (n1->ring_packed)
        __builtin_prefetch(n1->ring_packed, 1, 3);
}

static void finish_released(hu_pipeline *pl)
{
    hu_flow *f;
    while ((f = hu_flowtab_released(pl->flows))) {
        finish_ahead(pl);
        finish_conn(pl, f);
    }
}

/* ---------------------------------------------------------------- stages */

/*
 * Packet p through every stage, in this order:
 *
 *  1. the retry window: incidents whose window closed before p are final
 *     (before p's own request heads can be matched against them);
 *  2. the flow tracker: roles, sequence state, the ring gains p's summary,
 *     and connections idle past their timeout (by p's time), evicted, or
 *     replaced on the same ports are released;
 *  3. those released connections are finished now, before any layer sees
 *     p: their end was proven by p's timestamp, which comes before its
 *     content, so their incidents are reported first, and the libnids
 *     stream of a connection replaced by p's SYN is gone before libnids
 *     sees the SYN;
 *  4. -w's frame ring, so that an incident p completes has p in its file;
 *  5. the race detector, on TCP facts alone -- before reassembly, so the
 *     HTTP story an incident reports is the one before its RST; not on a
 *     connection the family already explained (one incident per
 *     connection: data the client sends after a server's refusing FIN,
 *     and the RST it draws, are that refusal's aftermath, not a race);
 *  6. reassembly, which hands the in-order bytes to the HTTP history;
 *  7. the HTTP history's end-of-stream (p's FIN) and idle-close accounting,
 *     after p's own bytes;
 *  8. the family's detectors, which need the HTTP parser's view of p
 *     (request answered, body complete) and the race detector's claim;
 *  9. compaction: a closed connection no detector waits on gives back its
 *     ring, request window, parser and the race detector's copies, so
 *     memory follows open connections;
 * 10. idling: an open connection between exchanges (its parser has no
 *     message in progress) that no detector waits on gives back its
 *     request window and the family's request copy, so an idle keep-alive
 *     connection holds only its ring and small state.
 */
static void run_stages(hu_pipeline *pl, const hu_pkt *p, const hu_flowkey *key,
                       const hu_frame *fr)
{
    if (p->ts_us > pl->now)
        pl->now = p->ts_us;
    if (pl->now > pl->retry_due)
        pl->retry_due = hu_retry_advance(pl->retry, pl->now);       /* 1 */

    uint8_t side;
    hu_flow *f = hu_flowtab_track_key(pl->flows, p, key, &side);   /* 2 */
    finish_released(pl);                                            /* 3 */
    if (!f) {
        pl->st.nomem++;
        return;
    }
    hu_conn *c = conn_of(f);
    if (pl->cfg.wcap && fr)
        hu_wcap_keep(pl->cfg.wcap, &c->raw, fr);                    /* 4 */
    if (!hu_family_reported(&c->fam))
        hu_detect_packet(&pl->detect, f, &c->det, side, p);         /* 5 */
    pl->cur = p;   /* the heads of p's bytes are in p */
    hu_reasm_packet(pl->reasm, f, &c->rs, side, p);                 /* 6 */
    hu_history_packet(pl->history, f, &c->hist, side, p);           /* 7 */
    if (p->flags & (HU_TH_FIN | HU_TH_RST))
        hu_legs_close(pl->legs, f, side, p->num, p->ts_us);
    hu_family_in in = family_in(c);
    hu_family_packet(&pl->family, f, &c->fam, &in, side, p);        /* 8 */
    if (f->closed && f->ring && !hu_detect_waiting(f, &c->det) &&   /* 9 */
        !hu_family_waiting(f, &c->fam)) {
        hu_flow_compact(pl->flows, f);
        hu_history_compact(pl->history, &c->hist);
        hu_detect_compact(&c->det);
    } else if ((f->ring || f->reqwin || c->fam.pk) && c->hist.http && hu_http_idle(c->hist.http) &&
               !hu_detect_waiting(f, &c->det) && !hu_family_waiting(f, &c->fam)) {
        hu_flow_idle(pl->flows, f);                                  /* 10 */
        hu_family_idle(&c->fam);
    }
    pl->cur = NULL;
}

/* An IPv6 segment behind extension headers, whose tcpdump text has them. */
static bool has_ext(const hu_pkt *p)
{
    return p->ipver == 6 && p->iph && p->opts - 20 > p->iph + 40;
}

/* run_stages, with tcpdump's text rendered first when it was not
 * rendered ahead (live capture, a long text, a test's packet). */
static void run_packet(hu_pipeline *pl, const hu_pkt *p, const hu_flowkey *key,
                       const hu_frame *fr)
{
    if ((!p->paylen && !p->nencap && !has_ext(p)) || p->suffix_ready) {
        run_stages(pl, p, key, fr);
        return;
    }
    hu_pkt q = *p;
    hu_sb_reset(&pl->scratch);
    q.suffix_ready = true;
    q.suffix_len = 0;
    if (hu_tcpprint_packet_text(p, &pl->scratch, &q.suffix_pre, &q.suffix_ext)) {
        q.suffix = pl->scratch.buf;
        q.suffix_len = (uint32_t)pl->scratch.len;
    }
    run_stages(pl, &q, key, fr);
}

void hu_pipeline_packet(hu_pipeline *pl, const hu_pkt *p, const hu_frame *fr)
{
    hu_flowkey key;
    hu_flowtab_key(p, &key);
    run_packet(pl, p, &key, fr);
}

/* ---------------------------------------------------------------- frames */

/* Decode fr into fp, with its number, time and connection key; the
 * suffix is left for later (suffix_ready false). */
static void prep_decode(int dlt, const hu_frame *fr, frame_prep *fp)
{
    fp->why = fr->bad;
    fp->rc = fr->bad ? HU_DEC_BAD : hu_decode_wire(dlt, fr->data, fr->caplen, fr->wirelen, &fp->p, &fp->why);
    if (fp->rc == HU_DEC_TCP) {
        fp->p.num = fr->num;
        fp->p.ts_us = fr->ts_us;
        hu_flowtab_key(&fp->p, &fp->key);
    }
}

/*
 * On the reader thread (hu_capture_cbs.prep): everything that depends on
 * the frame's bytes alone -- decoding, the connection key and its hash,
 * tcpdump's payload suffix -- so the analysis thread starts from there
 * (and never reads a body segment's payload).  Pointers in fp->p and
 * fp->key point into the frame's record, which lives until the frame has
 * been analysed.
 */
static void prep_frame(void *arg, int dlt, const hu_frame *fr, void *out)
{
    hu_sb *sb = arg;
    frame_prep *fp = out;
    prep_decode(dlt, fr, fp);
    if (fp->rc != HU_DEC_TCP)
        return;
    size_t len = 0;
    fp->p.suffix_pre = fp->p.suffix_ext = 0;
    if (fp->p.paylen || fp->p.nencap || has_ext(&fp->p)) {
        hu_sb_reset(sb);
        if (hu_tcpprint_packet_text(&fp->p, sb, &fp->p.suffix_pre, &fp->p.suffix_ext)) {
            if (sb->len > sizeof fp->buf)
                return;   /* rare: rendered on the analysis thread */
            memcpy(fp->buf, sb->buf, sb->len);
            len = sb->len;
        }
    }
    fp->p.suffix_ready = true;
    fp->p.suffix_len = (uint32_t)len;
    fp->p.suffix = fp->buf;
}

/*
 * Prefetching.  A busy capture interleaves thousands of connections, so
 * nearly every packet's connection state (flow, ring slot, libnids stream
 * and buffer, HTTP parser) is out of cache; fetched one after another,
 * those misses were most of the analysis time.  on_ahead sees each frame
 * HU_AHEAD_FRAMES frames early (hu_capture_file's ahead callback),
 * decodes it once, and starts loading its lines in stages, each stage
 * using what the previous one loaded: the hash bucket at distance 8, the
 * connection at 4, and at 2 what the connection points to.  The stages
 * only read the tables and prefetch; results never depend on them.
 */
static void ahead_stage(hu_pipeline *pl, uint64_t idx, int stage)
{
    if (idx < pl->ahead_out || idx >= pl->ahead_in)
        return;   /* already analysed, or not seen */
    const frame_prep *fp = pl->ahead[idx % HU_AHEAD_SLOTS].fp;
    if (fp->rc != HU_DEC_TCP)
        return;
    /* The payload's first line: the reader wrote it on another core, and
     * the flow tracker's first look at it (is it a TLS hello?) would wait
     * for it. */
    if (stage == 0 && fp->p.capturedlen)
        __builtin_prefetch(fp->p.payload, 0, 3);
    const hu_flow *f = hu_flowtab_prefetch(pl->flows, &fp->p, &fp->key, stage);
    if (!f)
        return;
    const hu_conn *c = hu_conn_of(f);
    hu_detect_prefetch(&c->det);
    hu_family_prefetch(&c->fam);
    if (fp->p.paylen == 0)
        return;
    int dir = (uint8_t)fp->key.rev == f->client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    hu_reasm_prefetch(&c->rs);
    hu_history_prefetch(&c->hist, dir);
}

static void on_ahead(void *arg, int dlt, const hu_frame *fr)
{
    hu_pipeline *pl = arg;
    ahead_slot *sl = &pl->ahead[pl->ahead_in % HU_AHEAD_SLOTS];
    sl->num = fr->num;
    if (fr->prep) {
        sl->fp = fr->prep;
    } else {
        prep_decode(dlt, fr, &sl->own);
        sl->fp = &sl->own;
    }
    pl->ahead_in++;
    ahead_stage(pl, pl->ahead_in - 1, 0);
    if (pl->ahead_in > 4)
        ahead_stage(pl, pl->ahead_in - 5, 1);
    if (pl->ahead_in > 6)
        ahead_stage(pl, pl->ahead_in - 7, 2);
}

void hu_pipeline_frame(hu_pipeline *pl, int dlt, const hu_frame *fr)
{
    pl->st.packets++;
    pl->cfg.dlt = dlt;
    /* The frame as on_ahead saw it prepared, or (no lookahead: live
     * capture) decoded here. */
    const frame_prep *fp;
    frame_prep own;
    const ahead_slot *sl = &pl->ahead[pl->ahead_out % HU_AHEAD_SLOTS];
    if (pl->ahead_out < pl->ahead_in && sl->num == fr->num) {
        pl->ahead_out++;
        fp = sl->fp;
    } else {
        prep_decode(dlt, fr, &own);
        fp = &own;
    }
    if (fp->rc == HU_DEC_SKIP)
        return;
    if (fp->rc == HU_DEC_BAD) {
        if (pl->st.bad++ == 0) {
            pl->st.first_bad_num = fr->num;
            if (pl->cfg.sink.bad_frame)
                pl->cfg.sink.bad_frame(pl->cfg.sink.arg, fr->num, fp->why);
        }
        return;
    }
    run_packet(pl, &fp->p, &fp->key, fr);
}

static void capture_frame(void *arg, int dlt, const hu_frame *fr)
{
    hu_pipeline_frame(arg, dlt, fr);
}

void hu_pipeline_capture_cbs(hu_pipeline *pl, hu_capture_cbs *cb, void *prep_scratch)
{
    pl->ahead_in = pl->ahead_out = 0;
    *cb = (hu_capture_cbs){ .frame = capture_frame, .ahead = on_ahead, .arg = pl,
                            .prep = prep_frame, .prep_arg = prep_scratch,
                            .prep_size = sizeof(frame_prep) };
}

/* ---------------------------------------------------------------- life */

hu_pipeline *hu_pipeline_new(const hu_pipeline_cfg *cfg, const char **warn)
{
    *warn = NULL;
    hu_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->cfg = *cfg;
    pl->now = INT64_MIN;
    pl->retry_due = INT64_MAX;
    pl->convs = hu_tcpprint_convs_new(HU_TCPPRINT_CONVS_MAX);
    hu_flowtab_cfg fc = { .max_flows = cfg->max_flows, .idle_us = cfg->idle_us,
                          .halfclosed_us = cfg->halfclosed_us, .closed_us = cfg->closed_us,
                          .pack_from = HU_PACK_FROM, .conn_size = sizeof(hu_conn),
                          .convs = pl->convs };
    /* HANGUP_PACK_FROM=N in the environment packs idle rings from N
     * connections on (the test suite sets 0: every sample's timelines
     * through packed rings). */
    const char *pack_env = getenv("HANGUP_PACK_FROM");
    if (pack_env)
        fc.pack_from = (size_t)strtoull(pack_env, NULL, 10);
    size_t streams = cfg->streams > cfg->max_flows ? cfg->max_flows : cfg->streams;
    pl->flows = pl->convs ? hu_flowtab_new(&fc) : NULL;
    pl->relay = hu_relay_new();
    pl->history = hu_history_new(cfg->servers, pl->relay, on_head, pl);
    pl->retry = hu_retry_new(cfg->hold_incidents, on_held, pl);
    pl->legs = hu_legs_new();
    pl->reasm = hu_reasm_new(streams, &stream_cb, pl, warn);
    if (!pl->flows || !pl->relay || !pl->history || !pl->retry || !pl->legs || !pl->reasm) {
        hu_pipeline_free(pl);
        return NULL;
    }
    if (cfg->keylog)
        hu_history_keylog(pl->history, cfg->keylog, tls_note, pl);
    pl->detect = (hu_detect){ .emit = on_incident, .arg = pl };
    pl->family = (hu_family){ .emit = on_incident, .arg = pl };
    return pl;
}

void hu_pipeline_stats_get(const hu_pipeline *pl, hu_pipeline_stats *st)
{
    *st = pl->st;
    if (pl->flows)
        hu_flowtab_stats_get(pl->flows, &st->flows);
    if (pl->reasm)
        hu_reasm_stats_get(pl->reasm, &st->reasm);
}

void hu_pipeline_end(hu_pipeline *pl)
{
    if (!pl->flows)
        return;
    hu_pipeline_stats_get(pl, &pl->st);   /* as the capture left them */
    hu_flowtab_release_all(pl->flows);
    finish_released(pl);
    hu_flowtab_free(pl->flows);
    pl->flows = NULL;
    hu_tcpprint_convs_free(pl->convs);
    pl->convs = NULL;
    hu_retry_flush(pl->retry);
    hu_reasm_free(pl->reasm);
    pl->reasm = NULL;
}

void hu_pipeline_free(hu_pipeline *pl)
{
    if (!pl)
        return;
    pl->dropping = true;
    if (pl->flows) {
        hu_flowtab_release_all(pl->flows);
        finish_released(pl);
        hu_flowtab_free(pl->flows);
    }
    hu_tcpprint_convs_free(pl->convs);
    hu_reasm_free(pl->reasm);
    hu_retry_free(pl->retry);
    hu_legs_free(pl->legs);
    hu_history_free(pl->history);
    hu_relay_free(pl->relay);
    hu_sb_free(&pl->scratch);
    free(pl);
}
