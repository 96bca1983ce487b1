/*
 * analyze.c -- the offline pipeline, wired through one context.
 *
 * Per packet: decode -> flow tracker -> detector -> reassembly (libnids or
 * per segment) -> HTTP history.  For each file: a fresh flow table and a
 * fresh libnids (connection state, packet numbers and tcpdump's relative
 * sequence numbers never leak between captures, e.g. the two vantages of
 * one race).  The server summary spans every file.
 *
 * Incidents wait before they are printed: a client that retries the lost
 * request on a new connection does so after the RST, so each incident is
 * held until 10 s of capture time have passed after its RST (or the file
 * ends), and request heads seen meanwhile are matched against it.  The
 * queue is bounded; beyond HU_PENDING_MAX the oldest is printed early.
 *
 * With a database, each capture is stored in one transaction: its
 * incidents as they are printed, the connections behind them and behind
 * each idle close as they are released (written by the store's own
 * thread), its server summaries at the end.  A database error stops
 * storing (the transaction is rolled back, one line says why) while the
 * analysis itself goes on.
 *
 * Undecodable frames are counted; the first of each file is reported with
 * its packet number and the rest summarised, so a capture full of
 * snaplen-cut packets gives two lines, not thousands.
 *
 * Files are analysed on two threads (capture.c): what depends on a
 * frame's bytes alone (decoding, the connection key, tcpdump's payload
 * suffix) is prepared on the reader thread (prep_frame), and everything
 * with state runs here, each frame's state prefetched a few frames ahead
 * (on_ahead).  Live capture feeds frames one at a time, decoded here.
 */
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/decode.h"
#include "hangup/detect.h"
#include "hangup/family.h"
#include "hangup/flow.h"
#include "hangup/history.h"
#include "hangup/http.h"
#include "hangup/incident.h"
#include "hangup/reasm.h"
#include "hangup/report.h"
#include "hangup/servers.h"
#include "hangup/store.h"
#include "hangup/strbuf.h"
#include "hangup/tcpprint.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HU_RETRY_WINDOW_US (10LL * 1000000)
#define HU_PENDING_MAX 65536
#define HU_NIDS_STREAMS_MAX 16384   /* libnids table: 12k streams, 3.5 MiB */
/* A half-closed connection (one FIN seen) is kept this long without a
 * packet: long enough for a client that reuses a dead pooled socket
 * minutes later, short enough that lost FINs do not pile up. */
#define HU_HALFCLOSED_US (300LL * 1000000)
#define HU_RAW_FRAMES 32            /* -w: frames kept per connection */
#define HU_RAW_BYTES (256 * 1024)   /* -w: bytes kept per connection */
#define HU_RAW_SNAP 65535           /* -w: a kept frame is cut to this */

/* -w: a connection's most recent raw frames. */
typedef struct hu_rawframe {
    int64_t ts_us;
    uint32_t caplen, wirelen;
    uint8_t *data;
} hu_rawframe;

struct hu_rawring {
    hu_rawframe f[HU_RAW_FRAMES];
    unsigned head, len;
    size_t bytes;
};

static void raw_free(struct hu_rawring *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->len; i++)
        free(r->f[(r->head + i) % HU_RAW_FRAMES].data);
    free(r);
}

/* Keep a copy of frame fr in f's raw ring, dropping the oldest frames to
 * stay within HU_RAW_FRAMES and HU_RAW_BYTES. */
static void raw_keep(hu_flow *f, const hu_frame *fr)
{
    if (!f->raw && !(f->raw = calloc(1, sizeof *f->raw)))
        return;
    struct hu_rawring *r = f->raw;
    uint32_t n = fr->caplen < HU_RAW_SNAP ? fr->caplen : HU_RAW_SNAP;
    while (r->len && (r->len == HU_RAW_FRAMES || r->bytes + n > HU_RAW_BYTES)) {
        hu_rawframe *old = &r->f[r->head];
        r->bytes -= old->caplen;
        free(old->data);
        r->head = (r->head + 1) % HU_RAW_FRAMES;
        r->len--;
    }
    uint8_t *d = malloc(n ? n : 1);
    if (!d)
        return;
    memcpy(d, fr->data, n);
    hu_rawframe *e = &r->f[(r->head + r->len) % HU_RAW_FRAMES];
    *e = (hu_rawframe){ fr->ts_us, n, fr->wirelen, d };
    r->len++;
    r->bytes += n;
}

/* What the reader thread prepares for each frame (prep_frame): the frame
 * decoded, its connection key, and tcpdump's payload suffix when it fits
 * (pointed to by p.suffix). */
#define HU_PREP_SUFFIX 88
typedef struct frame_prep {
    hu_decode_rc rc;
    const char *why;          /* when rc is HU_DEC_BAD */
    hu_pkt p;                 /* when rc is HU_DEC_TCP */
    hu_flowkey key;           /* of p */
    char buf[HU_PREP_SUFFIX];
} frame_prep;

/* The reader thread's own scratch space for prep_frame. */
typedef struct prep_ctx {
    hu_sb sb;
} prep_ctx;

/* A frame seen by on_ahead, and where its preparation is. */
#define HU_AHEAD_SLOTS 16   /* > HU_AHEAD_FRAMES, a power of two */
typedef struct ahead_slot {
    uint64_t num;
    const frame_prep *fp;     /* the reader's, or own */
    frame_prep own;
} ahead_slot;

struct hu_analyzer {
    hu_analyze_opts o;
    hu_report *report;
    hu_servers *servers;       /* the whole run */
    hu_servers *file_servers;  /* the current capture */
    hu_store *store;           /* NULL with --no-db */
    int64_t capture_id;        /* > 0 while a capture is being stored */
    bool store_failed;
    hu_history *history;
    hu_detect detect;
    hu_family family;
    /* Incidents waiting for their retry window, oldest first. */
    hu_incident_rec **pending;
    size_t npending, cap_pending;
    /* -w: the incidents' connections as a pcap. */
    pcap_t *wdead;
    pcap_dumper_t *wdump;
    int wdlt;
    bool wfailed;
    /* Per source: */
    int dlt;
    const char *path;
    hu_flowtab *flows;
    hu_reasm *reasm;
    uint64_t packets, bad, nomem;
    uint64_t first_bad_num;
    uint64_t file_incidents;
    int64_t now;
    /* Frames on_ahead has seen (ahead_in) and on_frame taken (ahead_out). */
    ahead_slot ahead[HU_AHEAD_SLOTS];
    uint64_t ahead_in, ahead_out;
};

bool hu_parse_number(const char *s, const char *what, long long min, long long max,
                     long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "hangup: %s must be a whole number from %lld to %lld, not '%s'\n", what,
                min, max, s);
        return false;
    }
    *out = v;
    return true;
}

bool hu_parse_kinds(const char *list, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        int id = hu_kind_parse(k);
        if (id < 0) {
            fprintf(stderr, "hangup: unknown incident kind '%s'; the kinds are:", k);
            for (int i = 0; i < HU_KIND_COUNT; i++)
                fprintf(stderr, " %s", hu_kind_name((hu_kind)i));
            fputc('\n', stderr);
            return false;
        }
        *mask |= 1u << id;
    }
    return true;
}

void hu_analyze_opts_default(hu_analyze_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeline = true;
    o->max_flows = 262144;             /* ~850 B each when idle: ~220 MiB at most */
    o->idle_us = 3600LL * 1000000;     /* an hour without a packet */
    o->closed_us = 10LL * 1000000;     /* 10 s after RST or both FINs */
    o->out = stdout;
    o->err = stderr;
    o->progname = "hangup";
}

static void on_incident(void *arg, const hu_incident *inc);
static void on_request(void *arg, const hu_flow *f, const hu_http_msg *m);

hu_analyzer *hu_analyzer_new(const hu_analyze_opts *o)
{
    hu_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->o = *o;
    hu_report_cfg rc = { .out = o->out, .json = o->json, .timeline = o->timeline,
                         .flush = o->live };
    a->report = hu_report_new(&rc);
    a->servers = hu_servers_new();
    a->history = a->servers ? hu_history_new(a->servers, on_request, a) : NULL;
    if (!a->report || !a->history) {
        fprintf(o->err, "%s: out of memory\n", o->progname);
        hu_analyzer_free(a);
        return NULL;
    }
    if (o->db_path) {
        char err[1024];
        a->store = hu_store_open(o->db_path, false, err, sizeof err);
        if (!a->store) {
            fprintf(o->err, "%s: %s\n", o->progname, err);
            hu_analyzer_free(a);
            return NULL;
        }
    }
    a->detect.emit = on_incident;
    a->detect.arg = a;
    a->family.emit = on_incident;
    a->family.arg = a;
    return a;
}

/* A database error: roll the capture back, say why once, store no more. */
static void store_fail(hu_analyzer *a, const char *err)
{
    /* err is the first cause: the store reports its row writer's failure
     * when that came first (store.h). */
    hu_store_abort(a->store);
    a->capture_id = 0;
    a->store_failed = true;
    fprintf(a->o.err, "%s: %s\n", a->o.progname, err);
}

/* Print (and store) an incident whose retry window has closed. */
static void finish_incident(hu_analyzer *a, hu_incident_rec *rec)
{
    if (!a->o.kinds || (a->o.kinds & (1u << rec->kindid)))
        hu_report_incident(a->report, rec);
    char err[1024];
    if (a->capture_id > 0) {
        if (!hu_store_incident(a->store, a->capture_id, rec, err, sizeof err))
            store_fail(a, err);
    }
    hu_incident_rec_free(rec);
}

static void flush_pending(hu_analyzer *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        finish_incident(a, a->pending[i]);
    if (n < a->npending)
        memmove(a->pending, a->pending + n, (a->npending - n) * sizeof *a->pending);
    a->npending -= n;
}

void hu_analyzer_free(hu_analyzer *a)
{
    if (!a)
        return;
    hu_flowtab_free(a->flows);
    hu_reasm_free(a->reasm);
    for (size_t i = 0; i < a->npending; i++)
        hu_incident_rec_free(a->pending[i]);
    free(a->pending);
    hu_history_free(a->history);
    hu_servers_free(a->file_servers);
    hu_servers_free(a->servers);
    hu_store_close(a->store);
    if (a->wdump)
        pcap_dump_close(a->wdump);
    if (a->wdead)
        pcap_close(a->wdead);
    hu_report_free(a->report);
    free(a);
}

uint64_t hu_analyzer_incidents(const hu_analyzer *a) { return hu_report_incidents(a->report); }

/* -w: write the incident's connection's recent frames. */
static void write_frames(hu_analyzer *a, const hu_flow *f)
{
    if (a->wfailed || !f->raw)
        return;
    if (!a->wdump) {
        a->wdead = pcap_open_dead(a->dlt, 262144);
        a->wdump = a->wdead ? pcap_dump_open(a->wdead, a->o.write_path) : NULL;
        if (!a->wdump) {
            fprintf(a->o.err, "%s: -w %s: %s\n", a->o.progname, a->o.write_path,
                    a->wdead ? pcap_geterr(a->wdead) : "out of memory");
            a->wfailed = true;
            return;
        }
        a->wdlt = a->dlt;
    }
    if (a->dlt != a->wdlt) {
        fprintf(a->o.err, "%s: -w %s: %s has another link type than the first capture; its "
                          "incidents are not written\n", a->o.progname, a->o.write_path, a->path);
        a->wfailed = true;
        return;
    }
    const struct hu_rawring *r = f->raw;
    for (unsigned i = 0; i < r->len; i++) {
        const hu_rawframe *e = &r->f[(r->head + i) % HU_RAW_FRAMES];
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(e->ts_us / 1000000);
        h.ts.tv_usec = (suseconds_t)(e->ts_us % 1000000);
        h.caplen = e->caplen;
        h.len = e->wirelen;
        pcap_dump((u_char *)a->wdump, &h, e->data);
    }
    pcap_dump_flush(a->wdump);
}

static void on_incident(void *arg, const hu_incident *inc)
{
    hu_analyzer *a = arg;
    if (a->o.write_path)
        write_frames(a, inc->flow);
    hu_incident_rec *rec = hu_incident_rec_new(inc, a->path, ++a->file_incidents);
    if (!rec) {
        a->nomem++;
        return;
    }
    hu_servers_incident(a->file_servers, rec->ipver, rec->srv_addr, rec->srv_port, rec->kindid,
                        rec->verdict);
    if (a->o.live) {
        finish_incident(a, rec);   /* now: a live user waits for it */
        return;
    }
    if (a->npending == HU_PENDING_MAX)
        flush_pending(a, 1);
    if (a->npending == a->cap_pending) {
        size_t ncap = a->cap_pending ? a->cap_pending * 2 : 16;
        hu_incident_rec **np = realloc(a->pending, ncap * sizeof *np);
        if (!np) {
            finish_incident(a, rec);   /* now, without waiting for a retry */
            return;
        }
        a->pending = np;
        a->cap_pending = ncap;
    }
    a->pending[a->npending++] = rec;
}

/* A request head: is it a retry of a pending incident's lost request? */
static void on_request(void *arg, const hu_flow *f, const hu_http_msg *m)
{
    hu_analyzer *a = arg;
    uint8_t c = f->client, s = (uint8_t)!f->client;
    size_t alen = f->ipver == 4 ? 4 : 16;
    for (size_t i = 0; i < a->npending; i++) {
        hu_incident_rec *r = a->pending[i];
        const hu_request *rq = &r->request;
        if (r->retried || !rq->http || r->ipver != f->ipver || r->conn_id == f->id ||
            r->srv_port != f->port[s] || memcmp(r->srv_addr, f->addr[s], alen) != 0 ||
            memcmp(r->cli_addr, f->addr[c], alen) != 0)
            continue;
        if (m->start_ts <= r->rst.ts_us || m->start_ts - r->rst.ts_us > HU_RETRY_WINDOW_US)
            continue;
        size_t tl = rq->target_len < m->target_len ? rq->target_len : m->target_len;
        if (strcmp(rq->method, m->method) != 0 || memcmp(rq->target, m->target, tl) != 0 ||
            (rq->target_len != m->target_len && !m->target_cut))
            continue;
        r->retried = true;
        r->retry_delay_us = m->start_ts - r->rst.ts_us;
        return;
    }
}

static void on_release(void *arg, hu_flow *f)
{
    hu_analyzer *a = arg;
    int64_t idle_close = f->hist ? f->hist->idle_close_us : -1;
    char err[1024];
    hu_family_release(&a->family, f);   /* before its HTTP state goes */
    bool incident = f->det.emitted || f->fam.done;
    if (a->capture_id > 0 && (idle_close >= 0 || incident)) {
        hu_conn_row row;
        hu_conn_row_of(&row, f, idle_close, incident);
        if (!hu_store_connection(a->store, a->capture_id, &row, err, sizeof err))
            store_fail(a, err);
    }
    hu_history_release(a->history, f);
    hu_reasm_forget(a->reasm, f);
    raw_free(f->raw);
    f->raw = NULL;
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
static void ahead_stage(hu_analyzer *a, uint64_t idx, int stage)
{
    if (idx < a->ahead_out || idx >= a->ahead_in)
        return;   /* already analysed, or not seen */
    const frame_prep *fp = a->ahead[idx % HU_AHEAD_SLOTS].fp;
    if (fp->rc != HU_DEC_TCP)
        return;
    hu_flowtab_prefetch(a->flows, &fp->p, &fp->key, stage);
    if (stage < 2 || fp->p.paylen == 0)
        return;
    const hu_flow *f = hu_flowtab_peek(a->flows, &fp->key);
    if (f) {
        int dir = (uint8_t)fp->key.rev == f->client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
        hu_reasm_prefetch(f);
        hu_history_prefetch(f, dir);
    }
}

/* Decode fr into fp, with its number, time and connection key; the
 * suffix is left for the tracker (suffix_ready false). */
static void prep_decode(int dlt, const hu_frame *fr, frame_prep *fp)
{
    fp->why = fr->bad;
    fp->rc = fr->bad ? HU_DEC_BAD : hu_decode(dlt, fr->data, fr->caplen, &fp->p, &fp->why);
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
    prep_ctx *pc = arg;
    frame_prep *fp = out;
    prep_decode(dlt, fr, fp);
    if (fp->rc != HU_DEC_TCP)
        return;
    size_t len = 0;
    if (fp->p.paylen) {
        hu_sb_reset(&pc->sb);
        if (hu_tcpprint_payload_suffix(&fp->p, &pc->sb)) {
            if (pc->sb.len > sizeof fp->buf)
                return;   /* rare: the tracker renders it */
            memcpy(fp->buf, pc->sb.buf, pc->sb.len);
            len = pc->sb.len;
        }
    }
    fp->p.suffix_ready = true;
    fp->p.suffix_len = (uint32_t)len;
    fp->p.suffix = fp->buf;
}

static void on_ahead(void *arg, int dlt, const hu_frame *fr)
{
    hu_analyzer *a = arg;
    ahead_slot *sl = &a->ahead[a->ahead_in % HU_AHEAD_SLOTS];
    sl->num = fr->num;
    if (fr->prep) {
        sl->fp = fr->prep;
    } else {
        prep_decode(dlt, fr, &sl->own);
        sl->fp = &sl->own;
    }
    a->ahead_in++;
    ahead_stage(a, a->ahead_in - 1, 0);
    if (a->ahead_in > 4)
        ahead_stage(a, a->ahead_in - 5, 1);
    if (a->ahead_in > 6)
        ahead_stage(a, a->ahead_in - 7, 2);
}

static void on_frame(void *arg, int dlt, const hu_frame *fr)
{
    hu_analyzer *a = arg;
    a->packets++;
    /* The frame as on_ahead saw it prepared, or (no lookahead: live
     * capture) decoded here. */
    const frame_prep *fp;
    frame_prep own;
    const ahead_slot *sl = &a->ahead[a->ahead_out % HU_AHEAD_SLOTS];
    if (a->ahead_out < a->ahead_in && sl->num == fr->num) {
        a->ahead_out++;
        fp = sl->fp;
    } else {
        prep_decode(dlt, fr, &own);
        fp = &own;
    }
    hu_decode_rc rc = fp->rc;
    const char *why = fp->why;
    const hu_pkt *p = &fp->p;
    const hu_flowkey *key = &fp->key;
    if (rc == HU_DEC_SKIP)
        return;
    if (rc == HU_DEC_BAD) {
        if (a->bad++ == 0) {
            a->first_bad_num = fr->num;
            fprintf(a->o.err, "%s: %s: packet %" PRIu64 ": %s; skipped\n", a->o.progname,
                    a->path, fr->num, why);
        }
        return;
    }
    if (p->ts_us > a->now)
        a->now = p->ts_us;
    /* Incidents whose retry window has closed are final now. */
    size_t due = 0;
    while (due < a->npending && a->pending[due]->rst.ts_us + HU_RETRY_WINDOW_US < a->now)
        due++;
    if (due)
        flush_pending(a, due);

    uint8_t side;
    hu_flow *f = hu_flowtab_track_key(a->flows, p, key, &side);
    if (!f) {
        a->nomem++;
        return;
    }
    if (a->o.write_path)
        raw_keep(f, fr);
    hu_detect_packet(&a->detect, f, side, p);
    hu_reasm_packet(a->reasm, f, side, p);
    hu_history_packet(a->history, f, side, p);
    hu_family_packet(&a->family, f, side, p);
    if (f->closed && f->ring && !hu_detect_waiting(f) && !hu_family_waiting(f)) {
        /* Closed, and no late request waiting for its RST: the incident
         * (if any) was rendered.  Keep memory to the open connections. */
        hu_flow_compact(a->flows, f);
        hu_history_compact(a->history, f);
    }
}

void hu_analyzer_begin(hu_analyzer *a, const char *source, const char *kind, int dlt,
                       size_t streams)
{
    hu_flowtab_cfg fc = { .max_flows = a->o.max_flows, .idle_us = a->o.idle_us,
                          .halfclosed_us = a->o.idle_us < HU_HALFCLOSED_US ? a->o.idle_us
                                                                            : HU_HALFCLOSED_US,
                          .closed_us = a->o.closed_us };
    if (streams > a->o.max_flows)
        streams = a->o.max_flows;
    const char *warn = NULL;
    a->path = source;
    a->dlt = dlt;
    a->packets = a->bad = a->nomem = a->file_incidents = 0;
    a->now = INT64_MIN;
    a->file_servers = hu_servers_new();
    a->flows = hu_flowtab_new(&fc, on_release, a);
    a->reasm = hu_reasm_new(streams, &hu_history_stream, a->history, &warn);
    if (!a->flows || !a->reasm || !a->file_servers) {
        fprintf(a->o.err, "%s: %s: out of memory\n", a->o.progname, source);
        exit(3);
    }
    hu_history_set_servers(a->history, a->file_servers);
    if (warn)
        fprintf(a->o.err, "%s: %s\n", a->o.progname, warn);
    if (a->o.write_path && dlt >= 0 && !a->wdump && !a->wfailed) {
        /* Live: open -w now, before privileges are dropped. */
        a->wdead = pcap_open_dead(dlt, 262144);
        a->wdump = a->wdead ? pcap_dump_open(a->wdead, a->o.write_path) : NULL;
        if (!a->wdump) {
            fprintf(a->o.err, "%s: -w %s: %s\n", a->o.progname, a->o.write_path,
                    a->wdead ? pcap_geterr(a->wdead) : "out of memory");
            a->wfailed = true;
        }
        a->wdlt = dlt;
    }
    if (a->store && !a->store_failed) {
        char err[1024];
        hu_capture_meta m = { .source = source, .kind = kind, .link_type = NULL };
        if (!hu_store_begin(a->store, &m, &a->capture_id, err, sizeof err))
            store_fail(a, err);
    }
}

void hu_analyzer_frame(hu_analyzer *a, int dlt, const hu_frame *fr)
{
    on_frame(a, dlt, fr);
}

void hu_analyzer_tick(hu_analyzer *a)
{
    char err[1024];
    if (a->capture_id <= 0)
        return;
    if (!hu_store_checkpoint(a->store, err, sizeof err))
        store_fail(a, err);
}

void hu_analyzer_progress_get(const hu_analyzer *a, hu_analyzer_progress *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->packets = a->packets;
    pr->incidents = a->file_incidents;
    if (a->flows) {
        hu_flowtab_stats st;
        hu_flowtab_stats_get(a->flows, &st);
        pr->connections = st.flows;
        pr->active = st.active;
        pr->evicted = st.evicted;
    }
}

hu_file_rc hu_analyzer_end(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info,
                           const char *err)
{
    const char *path = a->path;
    hu_flowtab_stats st;
    hu_flowtab_stats_get(a->flows, &st);
    hu_reasm_stats rs;
    hu_reasm_stats_get(a->reasm, &rs);
    hu_flowtab_free(a->flows);       /* accounts (and stores) every remaining connection;
                                        what only the end proves is reported now */
    a->flows = NULL;
    flush_pending(a, a->npending);
    hu_reasm_free(a->reasm);
    a->reasm = NULL;
    hu_report_file_done(a->report, a->packets, st.flows, rs.nids_streams, rs.segment_flows);
    if (rs.acks_checked || rs.segs_checked || rs.data_checked)
        /* reasm.c's developer check: it aborts on the first disagreement */
        fprintf(a->o.err,
                "%s: %s: HANGUP_CHECK_NIDS: %" PRIu64 " bare ACKs, %" PRIu64
                " body segments and %" PRIu64 " delivered segments taken as libnids takes them\n",
                a->o.progname, path, rs.acks_checked, rs.segs_checked, rs.data_checked);

    /* The capture's server summaries, then commit it (or drop it, if the
     * source could not be read at all). */
    if (a->capture_id > 0) {
        char serr[1024];
        if (rc == HU_CAP_FAILED || rc == HU_CAP_BADFILTER) {
            hu_store_abort(a->store);
            a->capture_id = 0;
        } else {
            size_t n;
            hu_server_summary *list = hu_servers_list(a->file_servers, &n);
            for (size_t i = 0; i < n && a->capture_id > 0; i++)
                if (!hu_store_server(a->store, a->capture_id, &list[i], serr, sizeof serr))
                    store_fail(a, serr);
            free(list);
            hu_capture_end e = { .content_hash = info->hash[0] ? info->hash : NULL,
                                 .first_us = info->first_us, .last_us = info->last_us,
                                 .packets = a->packets, .complete = rc == HU_CAP_OK,
                                 .link_type = info->link_name };
            int64_t replaced;
            if (a->capture_id > 0 &&
                !hu_store_end(a->store, a->capture_id, &e, &replaced, serr, sizeof serr))
                store_fail(a, serr);
            a->capture_id = 0;
        }
    }
    hu_servers_merge(a->servers, a->file_servers);
    hu_servers_free(a->file_servers);
    a->file_servers = NULL;

    if (a->bad > 1)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " packets could not be decoded in all "
                          "(first: packet %" PRIu64 ")\n",
                a->o.progname, path, a->bad, a->first_bad_num);
    if (st.evicted)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " connections evicted early because more than "
                          "%zu were open at once (raise --max-connections)\n",
                a->o.progname, path, st.evicted, a->o.max_flows);
    if (a->nomem)
        fprintf(a->o.err, "%s: %s: out of memory: %" PRIu64 " packets not tracked\n",
                a->o.progname, path, a->nomem);

    switch (rc) {
    case HU_CAP_OK:
        return a->nomem ? HU_FILE_NOMEM : a->store_failed ? HU_FILE_STORE : HU_FILE_OK;
    case HU_CAP_PARTIAL:
        fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return a->store_failed ? HU_FILE_STORE : HU_FILE_PARTIAL;
    case HU_CAP_BADFILTER:
        fprintf(a->o.err, "%s: %s\n", a->o.progname, err);
        return HU_FILE_BADFILTER;
    default:
        fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return HU_FILE_FAILED;
    }
}

/* hu_capture_file's per-frame callback: the first frame tells the link
 * type, which -w needs. */
static void file_frame(void *arg, int dlt, const hu_frame *fr)
{
    hu_analyzer *a = arg;
    a->dlt = dlt;
    on_frame(a, dlt, fr);
}

hu_file_rc hu_analyzer_file(hu_analyzer *a, const char *path)
{
    /* libnids' table is sized once per capture: about one stream per 4 KiB
     * of file, between 1024 and HU_NIDS_STREAMS_MAX (its pool is allocated
     * whole, 288 bytes a stream; when full it evicts the oldest stream,
     * whose connection then goes on with per-segment delivery). */
    struct stat stt;
    size_t streams = stat(path, &stt) == 0 ? (size_t)(stt.st_size / 4096) : 0;
    if (streams > HU_NIDS_STREAMS_MAX)
        streams = HU_NIDS_STREAMS_MAX;
    hu_analyzer_begin(a, path, "file", -1, streams);
    char err[1024] = "";
    hu_capture_info info;
    a->ahead_in = a->ahead_out = 0;
    prep_ctx pc = { .sb = { 0 } };
    hu_capture_cbs cb = { .frame = file_frame, .ahead = on_ahead, .arg = a,
                          .progress = &a->o.progress, .prep = prep_frame, .prep_arg = &pc,
                          .prep_size = sizeof(frame_prep) };
    hu_capture_rc rc = hu_capture_file(path, a->o.filter, &cb, &info, err, sizeof err);
    hu_sb_free(&pc.sb);
    return hu_analyzer_end(a, rc, &info, err);
}

void hu_analyzer_finish(hu_analyzer *a)
{
    size_t n;
    hu_server_summary *list = hu_servers_list(a->servers, &n);
    hu_report_summary(a->report, list, n, hu_servers_overflow(a->servers));
    free(list);
}
