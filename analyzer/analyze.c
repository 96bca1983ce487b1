/*
 * analyze.c -- the analyzer: captures in, incidents printed and stored.
 *
 * It drives one pipeline per capture (pipeline.c: the per-packet stages;
 * a capture is one file, or a rotated set of files that continue each
 * other, fileset.h, read through one pipeline; connection state, packet
 * numbers and tcpdump's relative sequence numbers never leak between
 * captures, e.g. the two vantages of one race) and keeps what spans them: the options,
 * the report, the server summary across every file, the database and the
 * -w file.  Files are read on two threads (capture.c; the pipeline's
 * callbacks prepare frames on the reader thread); live capture feeds
 * frames one at a time.
 *
 * With a database, each capture is stored in one transaction: its
 * incidents as they are final, the connections behind them and behind
 * each idle close as they are finished (the store writes those on a
 * thread of its own), its server summaries at the end.  A database error stops
 * storing (the transaction is rolled back, one line says why) while the
 * analysis itself goes on -- except in live into PostgreSQL with a spool
 * (spool.h), which writes the capture through the spool and keeps its
 * incidents through an outage.
 *
 * Undecodable frames are counted; the first of each file is reported with
 * its packet number and the rest summarised, so a capture full of
 * snaplen-cut packets gives two lines, not thousands.
 */
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/fileset.h"
#include "hangup/html.h"
#include "hangup/incident.h"
#include "hangup/keylog.h"
#include "hangup/pipeline.h"
#include "hangup/report.h"
#include "hangup/servers.h"
#include "hangup/spool.h"
#include "hangup/store.h"
#include "hangup/strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>

#define HU_NIDS_STREAMS_MAX 16384   /* libnids table: 12k streams, 3.5 MiB */
/* A half-closed connection (one FIN seen) is kept this long without a
 * packet: long enough for a client that reuses a dead pooled socket
 * minutes later, short enough that lost FINs do not pile up. */
#define HU_HALFCLOSED_US (300LL * 1000000)

struct hu_analyzer {
    hu_analyze_opts o;
    hu_report *report;
    hu_servers *servers;       /* the whole run */
    hu_servers *file_servers;  /* the current capture */
    hu_store *store;           /* NULL with --no-db */
    int64_t capture_id;        /* > 0 while a capture is being stored */
    bool store_failed;
    /* live into PostgreSQL with a spool: it writes the capture (store is
     * its database); capture_id stays 0.  spool_errs: incidents the spool
     * could not keep. */
    hu_spool *spool;
    uint64_t spool_errs;
    char sensor[256];          /* o.sensor, or the host name */
    hu_wcap *wcap;             /* -w, or NULL */
    hu_html *html;             /* --html, or NULL */
    uint64_t taken;            /* packets read so far over all files (-c) */
    /* Per source: */
    const char *path;
    hu_pipeline *pl;
    hu_pipeline_stats st;      /* its counters, kept after it ends */
    /* A capture read from files (hu_analyzer_set_*): */
    bool set_open;             /* between set_begin and set_end */
    bool multi;                /* a set of files: packets named by file */
    size_t streams;            /* libnids' size for it */
    hu_fileset *files;         /* multi: the files so far, with their bases */
    uint64_t records;          /* records of the files so far: the next base */
    hu_capture_info info;      /* the files' together */
    hu_capture_rc rc;          /* the worst file's */
    char err[1100];            /* its message, shown at the end for one file */
    XXH3_state_t *hash;        /* multi: the files' hashes, in order */
    hu_capture_probe last;     /* the last file's (set_continues) */
    hu_capture_file_row *rows; /* multi: one per file, for the store */
    size_t nrows;
    /* TLS secrets: --tls-keylog's files and the captures' Decryption
     * Secrets Blocks; empty (nothing decrypted) without either. */
    hu_keylog *keylog;
};

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

/* The database and its spool (live into PostgreSQL): a server that
 * cannot be reached now is an outage from the start; a spool that cannot
 * be had refuses the run (false, *why HU_FILE_STORE, reported), since its
 * user asked that nothing be lost. */
static bool open_spooled(hu_analyzer *a, hu_file_rc *why)
{
    const hu_analyze_opts *o = &a->o;
    char err[1024], serr[1024];
    bool connected;
    a->store = hu_store_open_later(o->db_path, &connected, err, sizeof err);
    if (!a->store) {
        fprintf(o->err, "%s: %s; the analysis is printed, not stored\n", o->progname, err);
        a->store_failed = true;
        return true;
    }
    hu_spool_cfg sc = { .path = o->spool_path,
                        .max = o->spool_max ? o->spool_max : HU_SPOOL_MAX_DEFAULT,
                        .err = o->err, .progname = o->progname };
    a->spool = hu_spool_open(&sc, a->store, connected, serr, sizeof serr);
    if (!a->spool) {
        fprintf(o->err, "%s: %s\n", o->progname, serr);
        *why = HU_FILE_STORE;
        return false;
    }
    if (!connected)
        fprintf(o->err, "%s: %s; incidents wait in the spool %s until it is back\n",
                o->progname, err, o->spool_path);
    return true;
}

hu_analyzer *hu_analyzer_new(const hu_analyze_opts *o, hu_file_rc *why)
{
    hu_file_rc ignored;
    if (!why)
        why = &ignored;
    *why = HU_FILE_NOMEM;
    hu_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->o = *o;
    hu_report_cfg rc = { .out = o->out, .json = o->json, .timeline = o->timeline,
                         .flush = o->live, .kinds = o->kinds, .status = o->status_tty,
                         .group = o->group };
    a->report = hu_report_new(&rc);
    a->servers = hu_servers_new();
    if (!a->report || !a->servers) {
        fprintf(o->err, "%s: out of memory\n", o->progname);
        hu_analyzer_free(a);
        return NULL;
    }
    a->keylog = hu_keylog_new();
    if (!a->keylog) {
        fprintf(o->err, "%s: out of memory\n", o->progname);
        hu_analyzer_free(a);
        return NULL;
    }
    for (unsigned i = 0; i < o->n_tls_keylog; i++) {
        char kerr[256];
        if (!hu_keylog_add_file(a->keylog, o->tls_keylog[i], kerr, sizeof kerr)) {
            fprintf(o->err, "%s: --tls-keylog %s: %s\n", o->progname, o->tls_keylog[i], kerr);
            *why = HU_FILE_FAILED;
            hu_analyzer_free(a);
            return NULL;
        }
    }
    if (o->write_path) {   /* first, as tcpdump -w: nothing is read if it fails */
        char werr[256];
        a->wcap = hu_wcap_new(o->write_path, o->err, o->progname, werr, sizeof werr);
        if (!a->wcap) {
            fprintf(o->err, "%s: -w %s: %s\n", o->progname, o->write_path, werr);
            *why = HU_FILE_FAILED;
            hu_analyzer_free(a);
            return NULL;
        }
    }
    if (o->html_path) {   /* as -w: nothing is read if it cannot be created */
        char herr[1100];
        a->html = hu_html_open(o->html_path, "hangup analyze", herr, sizeof herr);
        if (!a->html) {
            fprintf(o->err, "%s: --html %s\n", o->progname, herr);
            *why = HU_FILE_FAILED;
            hu_analyzer_free(a);
            return NULL;
        }
        hu_servers_keep_reuse(a->servers);
    }
    if (o->sensor)
        snprintf(a->sensor, sizeof a->sensor, "%s", o->sensor);
    else if (gethostname(a->sensor, sizeof a->sensor - 1) != 0)
        a->sensor[0] = '\0';
    if (o->db_path && o->spool_path) {
        if (!open_spooled(a, why)) {
            hu_analyzer_free(a);
            return NULL;
        }
    } else if (o->db_path) {
        char err[1024];
        a->store = hu_store_open(o->db_path, false, err, sizeof err);
        if (!a->store) {
            /* The analysis is still worth printing; every capture then
             * ends as HU_FILE_STORE, so the command's status says so. */
            fprintf(o->err, "%s: %s; the analysis is printed, not stored\n", o->progname, err);
            a->store_failed = true;
        }
    }
    return a;
}

/* A database error: roll the capture back, say why once, store no more.
 * err is the store's first cause (a failed row write is reported by
 * whatever store call comes after it). */
static void store_fail(hu_analyzer *a, const char *err)
{
    hu_store_abort(a->store);
    a->capture_id = 0;
    a->store_failed = true;
    fprintf(a->o.err, "%s: %s\n", a->o.progname, err);
}

/* The pipeline's sink: an incident is final.  Store it (every kind), so
 * that what is printed can name its database id, then report it (counted,
 * and printed if its kind is wanted).  Incidents are printed in the order
 * they are final either way. */
static void on_incident(void *arg, hu_incident_rec *rec)
{
    hu_analyzer *a = arg;
    char err[1024];
    if (a->multi && !hu_incident_rec_localize(rec, a->files))
        fprintf(a->o.err, "%s: out of memory naming incident #%" PRIu64 "'s files\n",
                a->o.progname, rec->number);
    if (a->spool && !a->store_failed && !hu_spool_incident(a->spool, rec, err, sizeof err)) {
        if (a->spool_errs++ == 0)   /* the rest are counted at the end */
            fprintf(a->o.err, "%s: %s; the incident is neither kept nor stored\n",
                    a->o.progname, err);
    }
    if (a->capture_id > 0 &&
        !hu_store_incident(a->store, a->capture_id, rec, &rec->db_id, err, sizeof err)) {
        rec->db_id = 0;
        store_fail(a, err);
    }
    hu_report_incident(a->report, rec);
    if (a->html && (!a->o.kinds || (a->o.kinds & (1u << rec->kindid))))
        hu_html_incident(a->html, rec);
    if (a->o.observe)
        a->o.observe(a->o.observe_arg, rec);
    hu_incident_rec_free(rec);
}

/* The row stored for a finished connection. */
static void conn_row_of(hu_conn_row *row, const hu_conn *c, int64_t idle_close_us,
                        bool incident)
{
    const hu_flow *f = &c->flow;
    uint8_t cl = f->client, sv = (uint8_t)!f->client;
    *row = (hu_conn_row){ .number = f->id, .ipver = f->ipver, .cli_port = f->port[cl],
                          .srv_port = f->port[sv], .first_ts = f->first_ts,
                          .last_ts = f->last_ts, .packets = f->packets,
                          .handshake_seen = f->handshake_seen, .rtt_us = f->rtt_us,
                          .reassembly = hu_reasm_name(c->rs.mode),
                          .idle_close_us = idle_close_us, .incident = incident };
    memcpy(row->cli_addr, f->addr[cl], sizeof row->cli_addr);
    memcpy(row->srv_addr, f->addr[sv], sizeof row->srv_addr);
    hu_gaps_count g0 = hu_gaps_of(f->gaps, 0), g1 = hu_gaps_of(f->gaps, 1);
    row->capture_gaps = g0.count + g1.count;
    row->capture_gap_bytes = g0.bytes + g1.bytes;
    int seen = hu_flow_one_sided(f);
    row->one_sided = seen < 0 ? NULL : seen == cl ? "client" : "server";
}

/* The pipeline's sink: a finished connection worth a row. */
static void on_connection(void *arg, const hu_conn *c, int64_t idle_close_us, bool incident)
{
    hu_analyzer *a = arg;
    if (a->spool && !a->store_failed) {
        hu_conn_row row;
        conn_row_of(&row, c, idle_close_us, incident);
        hu_spool_connection(a->spool, &row);
        return;
    }
    if (a->capture_id <= 0)
        return;
    char err[1024];
    hu_conn_row row;
    conn_row_of(&row, c, idle_close_us, incident);
    if (!hu_store_connection(a->store, a->capture_id, &row, err, sizeof err))
        store_fail(a, err);
}

/* The pipeline's sink: the capture's first undecodable frame. */
static void on_bad_frame(void *arg, uint64_t num, const char *why)
{
    hu_analyzer *a = arg;
    uint64_t local;
    const char *file = a->multi ? hu_fileset_name(a->files, num, &local) : NULL;
    fprintf(a->o.err, "%s: %s: packet %" PRIu64 ": %s; skipped\n", a->o.progname,
            file ? file : a->path, file ? local : num, why);
}

/* The pipeline's sink: a TLS connection's decryption problem. */
static void on_tls_note(void *arg, uint64_t num, const char *msg)
{
    hu_analyzer *a = arg;
    uint64_t local;
    const char *file = a->multi ? hu_fileset_name(a->files, num, &local) : NULL;
    fprintf(a->o.err, "%s: %s: packet %" PRIu64 ": %s\n", a->o.progname, file ? file : a->path,
            file ? local : num, msg);
}

void hu_analyzer_free(hu_analyzer *a)
{
    if (!a)
        return;
    hu_pipeline_free(a->pl);
    hu_keylog_free(a->keylog);
    hu_fileset_free(a->files);
    XXH3_freeState(a->hash);
    free(a->rows);
    hu_servers_free(a->file_servers);
    hu_servers_free(a->servers);
    hu_spool_close(a->spool);
    hu_store_close(a->store);
    hu_wcap_free(a->wcap);
    hu_html_free(a->html);
    hu_report_free(a->report);
    free(a);
}

uint64_t hu_analyzer_incidents(const hu_analyzer *a) { return hu_report_incidents(a->report); }

bool hu_analyzer_spool_stats(const hu_analyzer *a, hu_spool_stats *st)
{
    if (!a->spool)
        return false;
    hu_spool_stats_get(a->spool, st);
    return true;
}

hu_server_summary *hu_analyzer_top_servers(const hu_analyzer *a, size_t max, size_t *n)
{
    return hu_servers_top(a->file_servers ? a->file_servers : a->servers, max, n);
}

bool hu_analyzer_begin(hu_analyzer *a, const char *source, const char *kind, int dlt,
                       size_t streams)
{
    a->path = source;
    memset(&a->st, 0, sizeof a->st);
    a->file_servers = hu_servers_new();
    if (a->html && a->file_servers)
        hu_servers_keep_reuse(a->file_servers);
    const char *warn = NULL;
    hu_pipeline_cfg pc = {
        .max_flows = a->o.max_flows, .idle_us = a->o.idle_us,
        .halfclosed_us = a->o.idle_us < HU_HALFCLOSED_US ? a->o.idle_us : HU_HALFCLOSED_US,
        .closed_us = a->o.closed_us, .streams = streams, .hold_incidents = !a->o.live,
        .source = source, .files = a->multi ? a->files : NULL, .dlt = dlt,
        .servers = a->file_servers, .wcap = a->wcap, .keylog = a->keylog,
        .sink = { .incident = on_incident, .connection = on_connection,
                  .bad_frame = on_bad_frame, .tls_note = on_tls_note, .arg = a },
    };
    a->pl = a->file_servers ? hu_pipeline_new(&pc, &warn) : NULL;
    if (!a->pl) {
        fprintf(a->o.err, "%s: %s: out of memory\n", a->o.progname, source);
        hu_servers_free(a->file_servers);
        a->file_servers = NULL;
        return false;
    }
    if (warn)
        fprintf(a->o.err, "%s: %s\n", a->o.progname, warn);
    if (a->wcap)   /* live: the file's header now, before privileges are dropped */
        hu_wcap_begin(a->wcap, source, strcmp(kind, "live") == 0, dlt);
    /* A PostgreSQL server that failed an earlier capture is tried again:
     * it may be back (the store connects again). */
    if (a->store && a->store_failed && hu_store_pg(a->store) && !a->spool)
        a->store_failed = false;
    if (a->spool && !a->store_failed) {
        char err[1024];
        hu_capture_meta m = { .source = source, .kind = kind, .filter = a->o.filter,
                              .sensor = a->sensor[0] ? a->sensor : NULL };
        if (!hu_spool_begin(a->spool, &m, err, sizeof err)) {
            fprintf(a->o.err, "%s: %s; nothing is stored\n", a->o.progname, err);
            a->store_failed = true;
        }
    } else if (a->store && !a->store_failed) {
        char err[1024];
        hu_capture_meta m = { .source = source, .kind = kind, .link_type = NULL,
                              .filter = a->o.filter, .sensor = a->sensor[0] ? a->sensor : NULL };
        if (!hu_store_begin(a->store, &m, &a->capture_id, err, sizeof err))
            store_fail(a, err);
    }
    return true;
}

void hu_analyzer_frame(hu_analyzer *a, int dlt, const hu_frame *fr)
{
    hu_pipeline_frame(a->pl, dlt, fr);
}

void hu_analyzer_tick(hu_analyzer *a)
{
    char err[1024];
    if (a->spool && !a->store_failed)
        hu_spool_tick(a->spool, 200);   /* a fifth of the tick: capture goes on */
    if (a->capture_id > 0 && !hu_store_checkpoint(a->store, err, sizeof err))
        store_fail(a, err);
    if (a->wcap)
        hu_wcap_flush(a->wcap);
}

void hu_analyzer_progress_get(const hu_analyzer *a, hu_analyzer_progress *pr)
{
    memset(pr, 0, sizeof *pr);
    hu_pipeline_stats st = a->st;
    if (a->pl)
        hu_pipeline_stats_get(a->pl, &st);
    pr->packets = st.packets;
    pr->incidents = st.incidents;
    pr->connections = st.flows.flows;
    pr->active = st.flows.active;
    pr->evicted = st.flows.evicted;
}

/* "packet N" for the capture's packet num, with its file when the
 * capture is a set of files, into buf. */
static const char *packet_name(const hu_analyzer *a, uint64_t num, char *buf, size_t n)
{
    uint64_t local;
    const char *file = a->multi ? hu_fileset_name(a->files, num, &local) : NULL;
    if (file)
        snprintf(buf, n, "packet %" PRIu64 " in %s", local, file);
    else
        snprintf(buf, n, "packet %" PRIu64, num);
    return buf;
}

/* What became of the capture: the closing lines about it, and its result.
 * say_err: print err for a capture not read whole (a set has said it per
 * file already). */
static hu_file_rc file_result(hu_analyzer *a, hu_capture_rc rc, const char *err, bool say_err)
{
    const char *path = a->path;
    const hu_pipeline_stats *st = &a->st;
    char pk[4200];
    if (st->bad > 1)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " packets could not be decoded in all "
                          "(first: %s)\n",
                a->o.progname, path, st->bad, packet_name(a, st->first_bad_num, pk, sizeof pk));
    if (st->flows.evicted)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " connections evicted early because more than "
                          "%zu were open at once (raise --max-connections)\n",
                a->o.progname, path, st->flows.evicted, a->o.max_flows);
    if (st->nomem)
        fprintf(a->o.err, "%s: %s: out of memory: %" PRIu64 " packets not tracked\n",
                a->o.progname, path, st->nomem);
    if (st->reasm.nids_oom)
        fprintf(a->o.err, "%s: %s: libnids ran out of memory (%s); later connections were "
                          "reassembled per segment\n", a->o.progname, path, st->reasm.nids_oom);
    if (st->reasm.check_failures) {
        /* reasm.c's developer check found its shortcut wrong */
        fprintf(a->o.err, "%s: %s: HANGUP_CHECK_NIDS: %" PRIu64 " segments were not taken as "
                          "predicted (first: %s)\n", a->o.progname, path,
                st->reasm.check_failures,
                packet_name(a, st->reasm.check_first_failure, pk, sizeof pk));
        return HU_FILE_FAILED;
    }

    switch (rc) {
    case HU_CAP_OK:
        return st->nomem ? HU_FILE_NOMEM : a->store_failed ? HU_FILE_STORE : HU_FILE_OK;
    case HU_CAP_PARTIAL:
        if (say_err)
            fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return a->store_failed ? HU_FILE_STORE : HU_FILE_PARTIAL;
    case HU_CAP_BADFILTER:
        if (say_err)
            fprintf(a->o.err, "%s: %s\n", a->o.progname, err);
        return HU_FILE_BADFILTER;
    default:
        if (say_err)
            fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return HU_FILE_FAILED;
    }
}

/* The capture's server summaries, then commit it (or drop it, if the
 * source could not be read at all). */
static void store_capture_end(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info)
{
    char serr[1024];
    if (rc == HU_CAP_FAILED || rc == HU_CAP_BADFILTER) {
        hu_store_abort(a->store);
        a->capture_id = 0;
        return;
    }
    size_t n;
    hu_server_summary *list = hu_servers_list(a->file_servers, &n);
    for (size_t i = 0; i < n && a->capture_id > 0; i++)
        if (!hu_store_server(a->store, a->capture_id, &list[i], serr, sizeof serr))
            store_fail(a, serr);
    free(list);
    hu_capture_end e = { .content_hash = info->hash[0] ? info->hash : NULL,
                         .first_us = info->first_us, .last_us = info->last_us,
                         .packets = a->st.packets,
                         .complete = rc == HU_CAP_OK && !info->limited,
                         .link_type = info->link_name,
                         .files = a->multi ? a->rows : NULL, .nfiles = a->multi ? a->nrows : 0 };
    int64_t replaced;
    if (a->capture_id > 0 &&
        !hu_store_end(a->store, a->capture_id, &e, &replaced, serr, sizeof serr))
        store_fail(a, serr);
    a->capture_id = 0;
}

bool hu_analyzer_deliver(hu_analyzer *a)
{
    if (!a->spool)
        return false;
    bool ok = hu_spool_deliver_all(a->spool);
    hu_spool_stats st;
    hu_spool_stats_get(a->spool, &st);
    if (!ok)
        fprintf(a->o.err, "%s: %" PRIu64 " incidents still wait in the spool %s\n",
                a->o.progname, st.waiting, hu_spool_path(a->spool));
    return ok;
}

/* The end of a capture written through the spool: everything waiting
 * delivered if the server can be had now, then the capture's server
 * summaries and end; one line for each thing not stored.  What the run's
 * status says: a failure only if something is left undelivered. */
static void spool_capture_end(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info)
{
    char serr[1024];
    hu_spool *sp = a->spool;
    hu_spool_deliver_all(sp);
    int64_t id = hu_spool_capture_id(sp);
    bool ended = false;
    if (id > 0) {
        size_t n;
        hu_server_summary *list = hu_servers_list(a->file_servers, &n);
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++)
            ok = hu_store_server(a->store, id, &list[i], serr, sizeof serr);
        free(list);
        hu_capture_end e = { .first_us = info->first_us, .last_us = info->last_us,
                             .packets = a->st.packets, .complete = rc == HU_CAP_OK,
                             .link_type = info->link_name };
        int64_t replaced;
        ok = ok && hu_store_end(a->store, id, &e, &replaced, serr, sizeof serr);
        if (ok)
            hu_spool_committed(sp);
        else
            hu_spool_failed(sp, serr);
        ended = ok;
    }
    if (!ended)
        fprintf(a->o.err, "%s: database %s is unreachable: the capture's end (packets, server "
                          "summaries) is not stored\n", a->o.progname, hu_store_name(a->store));
    hu_spool_stats st;
    hu_spool_stats_get(sp, &st);
    if (st.lost_rows)
        fprintf(a->o.err, "%s: %" PRIu64 " connection rows were not stored while the database "
                          "was unreachable\n", a->o.progname, st.lost_rows);
    if (st.dropped)
        fprintf(a->o.err, "%s: %" PRIu64 " incidents were dropped from the full spool %s "
                          "(--spool-max) and are not stored\n", a->o.progname, st.dropped,
                hu_spool_path(sp));
    if (a->spool_errs)
        fprintf(a->o.err, "%s: %" PRIu64 " incidents could not be kept in the spool %s and are "
                          "not stored\n", a->o.progname, a->spool_errs, hu_spool_path(sp));
    if (st.waiting)
        fprintf(a->o.err, "%s: %" PRIu64 " incidents wait in the spool %s: the next 'hangup "
                          "live' with this spool and database delivers them, or 'hangup live "
                          "--deliver'\n", a->o.progname, st.waiting, hu_spool_path(sp));
    a->store_failed = !ended || st.waiting || st.dropped || a->spool_errs;
}

static hu_file_rc end_capture(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info,
                              const char *err, bool say_err)
{
    const char *path = a->path;
    hu_pipeline_end(a->pl);   /* what only the end proves is reported now */
    hu_pipeline_stats_get(a->pl, &a->st);
    hu_pipeline_free(a->pl);
    a->pl = NULL;
    const hu_pipeline_stats *st = &a->st;
    hu_report_file_done(a->report, st->packets, st->flows.flows, st->reasm.nids_streams,
                        st->reasm.segment_flows);
    hu_report_gaps_done(a->report, st->gap_conns, st->gap_bytes, st->one_sided);
    if (a->html)
        hu_html_capture(a->html, path, (int64_t)st->packets, (int64_t)st->flows.flows);
    if (st->reasm.acks_checked || st->reasm.segs_checked || st->reasm.data_checked)
        fprintf(a->o.err,
                "%s: %s: HANGUP_CHECK_NIDS: %" PRIu64 " bare ACKs, %" PRIu64
                " body segments and %" PRIu64 " delivered segments taken as libnids takes them\n",
                a->o.progname, path, st->reasm.acks_checked, st->reasm.segs_checked,
                st->reasm.data_checked);
    if (a->spool && !a->store_failed)
        spool_capture_end(a, rc, info);
    else if (a->capture_id > 0)
        store_capture_end(a, rc, info);
    if (a->wcap)
        hu_wcap_note_dlt(a->wcap, info->dlt);
    hu_servers_merge(a->servers, a->file_servers);
    hu_servers_free(a->file_servers);
    a->file_servers = NULL;
    return file_result(a, rc, err, say_err);
}

hu_file_rc hu_analyzer_end(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info,
                           const char *err)
{
    return end_capture(a, rc, info, err, true);
}
/* libnids' table is sized once per capture: about one stream per 4 KiB
 * of capture, between 1024 and HU_NIDS_STREAMS_MAX (its pool is allocated
 * whole, 288 bytes a stream; when full it evicts the oldest stream, and
 * reasm.c delivers that connection's later bytes per segment:
 * docs/DESIGN.md §4). */
static size_t streams_for(uint64_t bytes)
{
    uint64_t s = bytes / 4096;
    return s > HU_NIDS_STREAMS_MAX ? HU_NIDS_STREAMS_MAX : (size_t)s;
}

/* Read path into the current pipeline, its packets numbered from base + 1;
 * *info and err as hu_capture_file leaves them.  part, when not NULL,
 * says which part of the file (hu_set_part). */
static hu_capture_rc read_file(hu_analyzer *a, const char *path, uint64_t base,
                               const hu_set_part *part, hu_capture_info *info, char *err,
                               size_t errlen)
{
    if (!part || part->offset == 0) {
        /* Secrets injected into a pcapng (editcap --inject-secrets). */
        FILE *fp = fopen(path, "rb");
        if (fp) {
            hu_keylog_add_pcapng(a->keylog, fp);
            fclose(fp);
        }
    }
    hu_sb prep_scratch = { 0 };
    hu_capture_cbs cb;
    hu_pipeline_capture_cbs(a->pl, &cb, &prep_scratch);
    cb.progress = &a->o.progress;
    cb.num_base = base;
    if (part) {
        cb.start_records = part->records;
        cb.start_offset = part->offset;
        cb.growing = part->growing;
    }
    if (a->o.max_packets)
        cb.limit = a->o.max_packets - a->taken;
    hu_capture_rc rc = hu_capture_file(path, a->o.filter, &cb, info, err, errlen);
    hu_sb_free(&prep_scratch);
    a->taken += info->taken;
    return rc;
}

hu_file_rc hu_analyzer_file(hu_analyzer *a, const char *path)
{
    struct stat stt;
    if (!hu_analyzer_begin(a, path, "file", -1,
                           streams_for(stat(path, &stt) == 0 ? (uint64_t)stt.st_size : 0)))
        return HU_FILE_NOMEM;
    char err[1024] = "";
    hu_capture_info info;
    hu_capture_rc rc = read_file(a, path, 0, NULL, &info, err, sizeof err);
    return hu_analyzer_end(a, rc, &info, err);
}

bool hu_analyzer_set_begin(hu_analyzer *a, uint64_t bytes)
{
    if (!a->files && !(a->files = hu_fileset_new()))
        return false;
    if (!a->hash && !(a->hash = XXH3_createState()))
        return false;
    hu_fileset_clear(a->files);
    XXH3_128bits_reset(a->hash);
    a->set_open = a->multi = true;
    a->streams = streams_for(bytes);
    a->records = 0;
    a->nrows = 0;
    memset(&a->info, 0, sizeof a->info);
    a->info.dlt = -1;
    a->rc = HU_CAP_FAILED;   /* until a file is read */
    a->err[0] = '\0';
    memset(&a->last, 0, sizeof a->last);
    return true;
}

bool hu_analyzer_set_continues(const hu_analyzer *a, const hu_capture_probe *next)
{
    return a->set_open && a->pl && hu_fileset_continues(&a->last, next);
}

/* What the set keeps of a file just read (more: a further part of the
 * set's last file): its row, and its part of the capture's identity and
 * extent. */
static bool set_note_file(hu_analyzer *a, uint64_t base, bool more,
                          const hu_capture_info *fi)
{
    if (more && a->nrows) {
        hu_capture_file_row *r = &a->rows[a->nrows - 1];
        r->packets = fi->records;
        if (fi->frames) {
            if (!r->frames)
                r->first_us = fi->first_us;
            r->last_us = fi->last_us;
        }
        r->frames += fi->frames;
    } else {
        hu_capture_file_row *nr = realloc(a->rows, (a->nrows + 1) * sizeof *nr);
        if (!nr)
            return false;
        a->rows = nr;
        a->rows[a->nrows++] = (hu_capture_file_row){
            .file = hu_fileset_path(a->files, hu_fileset_count(a->files) - 1),
            .first_number = base + 1, .packets = fi->records,
            .first_us = fi->first_us, .last_us = fi->last_us, .frames = fi->frames };
    }
    XXH3_128bits_update(a->hash, fi->hash, strlen(fi->hash));
    if (fi->frames) {
        if (!a->info.frames || fi->first_us < a->info.first_us)
            a->info.first_us = fi->first_us;
        if (!a->info.frames || fi->last_us > a->info.last_us)
            a->info.last_us = fi->last_us;
        a->last.frames = fi->frames;
        a->last.first_us = fi->first_us;
        a->last.last_us = fi->last_us;
    }
    a->info.frames += fi->frames;
    a->info.taken += fi->taken;
    a->info.limited |= fi->limited;
    a->info.dlt = fi->dlt;
    snprintf(a->info.link_name, sizeof a->info.link_name, "%s", fi->link_name);
    return true;
}

/* A file of the set, whole (part NULL) or the part *part says; its
 * result (hu_analyzer_set_file, hu_analyzer_set_part). */
static hu_file_rc set_read(hu_analyzer *a, const char *path, hu_set_part *part)
{
    if (!a->set_open)
        return HU_FILE_FAILED;
    bool more = part && part->more && hu_fileset_count(a->files) > 0;
    char perr[256];
    hu_capture_probe pr;
    bool probed = !more && hu_capture_probe_file(path, false, NULL, NULL, &pr, perr,
                                                 sizeof perr);
    uint64_t base;
    if (more) {
        base = hu_fileset_base(a->files, hu_fileset_count(a->files) - 1);
    } else {
        base = a->records;
        if (!hu_fileset_add(a->files, path, base)) {
            fprintf(a->o.err, "%s: %s: out of memory\n", a->o.progname, path);
            return HU_FILE_NOMEM;
        }
    }
    if (!a->pl && !hu_analyzer_begin(a, hu_fileset_path(a->files, 0), "file", -1, a->streams))
        return HU_FILE_NOMEM;
    char err[1024] = "";
    hu_capture_info fi;
    hu_capture_rc rc = read_file(a, path, base, part, &fi, err, sizeof err);
    if (base + fi.records > a->records)
        a->records = base + fi.records;
    if (part) {
        part->offset = fi.next_offset;
        part->records = fi.records;
    }
    if (rc == HU_CAP_BADFILTER) {
        a->rc = rc;
        snprintf(a->err, sizeof a->err, "%s", err);
        return HU_FILE_BADFILTER;
    }
    if (!set_note_file(a, base, more, &fi)) {
        fprintf(a->o.err, "%s: %s: out of memory\n", a->o.progname, path);
        return HU_FILE_NOMEM;
    }
    if (probed) {
        a->last.dlt = pr.dlt;
        a->last.snaplen = pr.snaplen;
        memcpy(a->last.iface, pr.iface, sizeof pr.iface);
        if (!a->last.frames && pr.frames) {
            /* A part with no new packet (a file taken up where an earlier
             * run stopped): the file's first one is as late as it is known
             * to reach, for set_continues. */
            a->last.frames = pr.frames;
            a->last.first_us = a->last.last_us = pr.first_us;
        }
    }
    if (rc != HU_CAP_FAILED && (a->rc == HU_CAP_FAILED || a->rc == HU_CAP_OK))
        a->rc = rc;   /* OK once a file is read; PARTIAL sticks */
    if (rc == HU_CAP_OK)
        return HU_FILE_OK;
    fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
    return rc == HU_CAP_PARTIAL ? HU_FILE_PARTIAL : HU_FILE_FAILED;
}

hu_file_rc hu_analyzer_set_file(hu_analyzer *a, const char *path)
{
    return set_read(a, path, NULL);
}

hu_file_rc hu_analyzer_set_part(hu_analyzer *a, const char *path, hu_set_part *part)
{
    return set_read(a, path, part);
}

struct hu_store *hu_analyzer_store(hu_analyzer *a)
{
    return a->store_failed ? NULL : a->store;
}

hu_file_rc hu_analyzer_set_end(hu_analyzer *a)
{
    if (!a->set_open)
        return HU_FILE_OK;
    a->set_open = false;
    hu_file_rc out = HU_FILE_OK;
    if (a->pl) {
        XXH128_hash_t id = XXH3_128bits_digest(a->hash);
        snprintf(a->info.hash, sizeof a->info.hash, "%016llx%016llx",
                 (unsigned long long)id.high64, (unsigned long long)id.low64);
        out = end_capture(a, a->rc, &a->info, a->err, a->rc == HU_CAP_BADFILTER);
        if (out == HU_FILE_PARTIAL || out == HU_FILE_FAILED)
            out = HU_FILE_OK;   /* each file has said so already, and returned it */
    }
    a->multi = false;
    hu_fileset_clear(a->files);
    a->nrows = 0;
    return out;
}

bool hu_analyzer_limit_reached(const hu_analyzer *a)
{
    return a->o.max_packets && a->taken >= a->o.max_packets;
}

/* --html: the page, with the summary's words and each server's samples;
 * false (reported) when it could not be written. */
static bool write_html(hu_analyzer *a, const hu_server_summary *list, size_t n)
{
    if (!a->html)
        return true;
    hu_html_server *sv = calloc(n ? n : 1, sizeof *sv);
    hu_sb text = { 0 };
    hu_report_summary_text(a->report, &text, list, n, hu_servers_overflow(a->servers));
    char err[1100];
    bool ok = sv && !text.oom;
    for (size_t i = 0; ok && i < n; i++) {
        sv[i].s = &list[i];
        hu_servers_samples(a->servers, list[i].ipver, list[i].addr, list[i].port, &sv[i].idle,
                           &sv[i].nidle, &sv[i].reuse, &sv[i].nreuse);
    }
    if (!ok)
        snprintf(err, sizeof err, "%s: out of memory", a->o.html_path);
    else
        ok = hu_html_finish(a->html, hu_sb_cstr(&text), sv, n, err, sizeof err);
    if (!ok)
        fprintf(a->o.err, "%s: --html %s\n", a->o.progname, err);
    free(sv);
    hu_sb_free(&text);
    hu_html_free(a->html);
    a->html = NULL;
    return ok;
}

bool hu_analyzer_finish(hu_analyzer *a)
{
    size_t n;
    hu_server_summary *list = hu_servers_list(a->servers, &n);
    hu_report_summary(a->report, list, n, hu_servers_overflow(a->servers));
    bool ok = write_html(a, list, n);
    free(list);
    ok = hu_wcap_free(a->wcap) && ok;
    a->wcap = NULL;
    return ok;
}
