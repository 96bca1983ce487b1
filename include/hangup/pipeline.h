/*
 * pipeline.h -- one capture's packets through every stage, in one order.
 *
 * The pipeline owns the connection object (hu_conn): the flow tracker's
 * TCP facts first, then each layer's own per-connection state, which only
 * that layer writes.  Per packet it runs the stages in the order written
 * once in pipeline.c; connections the flow table lets go of are finished
 * here (their end-of-connection incidents, their row, their HTTP
 * accounting, libnids' stream) before the next stage runs, never from
 * inside the tracker.  Incidents become records (incident.c), wait out
 * their retry window (retry.c) and leave through the sink, as do the
 * connection rows worth storing and the first undecodable frame.
 *
 * One pipeline per capture: connection state, packet numbers and
 * tcpdump's relative sequence numbers never leak between captures.  A
 * capture may be several files that continue each other (fileset.h): the
 * pipeline sees one stream of packets numbered continuously over them.
 * libnids is process-global, so one pipeline exists at a time.
 */
#ifndef HANGUP_PIPELINE_H
#define HANGUP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/capture.h"
#include "hangup/detect.h"
#include "hangup/family.h"
#include "hangup/fileset.h"
#include "hangup/flow.h"
#include "hangup/history.h"
#include "hangup/incident.h"
#include "hangup/keylog.h"
#include "hangup/packet.h"
#include "hangup/reasm.h"
#include "hangup/servers.h"
#include "hangup/wcap.h"

/* One connection: the tracker's flow first (the flow table allocates
 * hu_conn-sized objects and knows only that prefix), then each layer's
 * state, written by that layer alone. */
typedef struct hu_conn {
    hu_flow flow;             /* flow.c: TCP facts, ring, request window */
    hu_detect_conn det;       /* detect.c */
    hu_family_conn fam;       /* family.c */
    hu_reasm_conn rs;         /* reasm.c */
    hu_hist_conn hist;        /* history.c (and its HTTP parser) */
    hu_wcap_ring *raw;        /* wcap.c: recent raw frames, with -w only */
} hu_conn;

/* The connection a flow of the pipeline's table belongs to. */
static inline const hu_conn *hu_conn_of(const hu_flow *f) { return (const hu_conn *)f; }

/* Where the pipeline's results go.  Every callback is optional but
 * `incident`. */
typedef struct hu_pipeline_sink {
    /* An incident whose retry window has closed (or at once, without a
     * window); the callee owns rec. */
    void (*incident)(void *arg, hu_incident_rec *rec);
    /* A connection being finished that ended in an idle close
     * (idle_close_us >= 0) or had an incident; c is valid for the call. */
    void (*connection)(void *arg, const hu_conn *c, int64_t idle_close_us, bool incident);
    /* The capture's first frame that could not be decoded (later ones are
     * only counted: hu_pipeline_stats). */
    void (*bad_frame)(void *arg, uint64_t num, const char *why);
    /* A TLS connection's decryption problem (a missing key, a record that
     * did not decrypt), seen at packet num: one line, msg naming the
     * connection, for the user. */
    void (*tls_note)(void *arg, uint64_t num, const char *msg);
    void *arg;
} hu_pipeline_sink;

typedef struct hu_pipeline_cfg {
    size_t max_flows;         /* connections tracked at once */
    int64_t idle_us, halfclosed_us, closed_us;   /* release timeouts, flow.h */
    size_t streams;           /* libnids sized for about this many at once */
    bool hold_incidents;      /* wait out each incident's retry window */
    const char *source;       /* the capture's name in records (borrowed) */
    const hu_fileset *files;  /* a capture of several files: their table
                                 (borrowed; frames numbered through it), or NULL */
    int dlt;                  /* its link type if known, else -1 (-w needs it) */
    hu_servers *servers;      /* this capture's server table (borrowed) */
    hu_wcap *wcap;            /* -w writer (borrowed), or NULL */
    hu_keylog *keylog;        /* TLS secrets to decrypt with (borrowed), or NULL */
    hu_pipeline_sink sink;
} hu_pipeline_cfg;

typedef struct hu_pipeline hu_pipeline;

/* NULL on OOM.  *warn, if set, is one line to show the user (libnids
 * could not start; reassembly falls back to per-segment delivery). */
hu_pipeline *hu_pipeline_new(const hu_pipeline_cfg *cfg, const char **warn);

/* A frame of the capture, in order: decoded (or prepared on the reader
 * thread: hu_pipeline_capture_cbs) and run through every stage. */
void hu_pipeline_frame(hu_pipeline *pl, int dlt, const hu_frame *fr);
/* A packet already decoded (p->num and p->ts_us set), run through every
 * stage: what hu_pipeline_frame does after decoding. */
void hu_pipeline_packet(hu_pipeline *pl, const hu_pkt *p, const hu_frame *fr);

/* Callbacks for hu_capture_file that feed pl, with the reader thread
 * preparing each frame (decode, key, tcpdump's suffix) and the frames
 * ahead prefetched.  prep_scratch is the reader thread's own (an hu_sb,
 * zeroed; free it with hu_sb_free after the file). */
void hu_pipeline_capture_cbs(hu_pipeline *pl, hu_capture_cbs *cb, void *prep_scratch);

/* Counters of the capture so far. */
typedef struct hu_pipeline_stats {
    uint64_t packets;         /* frames given */
    uint64_t bad;             /* ... that could not be decoded */
    uint64_t first_bad_num;
    uint64_t nomem;           /* packets not tracked for want of memory */
    uint64_t incidents;       /* records made */
    /* Finished connections with capture gaps (gaps.h), the sequence space
     * their peers acknowledged that the capture lacks, and those the
     * capture saw one way only. */
    uint64_t gap_conns, gap_bytes, one_sided;
    hu_flowtab_stats flows;
    hu_reasm_stats reasm;
} hu_pipeline_stats;
void hu_pipeline_stats_get(const hu_pipeline *pl, hu_pipeline_stats *st);

/* The capture ended: finish every connection (what only the end proves
 * is reported now), hand out every held incident, stop libnids.  Frames
 * may not follow.  The stats stay readable. */
void hu_pipeline_end(hu_pipeline *pl);
void hu_pipeline_free(hu_pipeline *pl);

#endif
