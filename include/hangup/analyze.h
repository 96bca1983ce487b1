/*
 * analyze.h -- the analyzer: captures in, incidents printed and stored.
 *
 * Each capture -- a file, or a set of files that continue each other
 * (hu_analyzer_set_*) -- runs through its own pipeline (pipeline.h:
 * connections, packet numbers and tcpdump's relative sequence numbers
 * start afresh); the report, the server summary across every capture, the
 * database and the -w file span them, and one summary closes the run.
 * All state lives in the hu_analyzer context.
 */
#ifndef HANGUP_ANALYZE_H
#define HANGUP_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hangup/capture.h"
#include "hangup/group.h"

struct hu_incident_rec;

#define HU_TLS_KEYLOGS_MAX 16   /* --tls-keylog given this many times at most */

typedef struct hu_analyze_opts {
    const char *filter;       /* BPF expression or NULL */
    bool json;
    bool timeline;
    size_t max_flows;         /* connections tracked at once */
    int64_t idle_us;          /* release connections idle this long */
    int64_t closed_us;        /* release closed connections after this */
    const char *db_path;      /* SQLite database or PostgreSQL connection
                                 string (store.h), or NULL for none */
    const char *sensor;       /* --sensor: stored on each capture; NULL: the
                                 host name (gethostname) */
    const char *write_path;   /* -w: pcapng of every incident's connection, or NULL */
    const char *html_path;    /* --html: the HTML report (html.h) of the incidents
                                 printed, or NULL */
    unsigned kinds;           /* bit per hu_kind to print; 0 = all (all are stored) */
    hu_group_mode group;      /* how identical incidents are printed */
    uint64_t max_packets;     /* -c: stop after this many packets (after the
                                 filter) over all files; 0: no limit */
    bool live;                /* print and store each incident at once (no
                                 wait for a retry), commit every second */
    FILE *out, *err;
    const char *progname;     /* prefix of error lines */
    hu_progress progress;     /* reading progress for long files, or {NULL} */
    FILE *status_tty;         /* a terminal a status line may stand on, erased
                                 before each incident is printed; or NULL */
    /* --tls-keylog: NSS key logs to decrypt TLS connections with (paths
     * borrowed); a pcapng's Decryption Secrets Blocks are used too. */
    const char *tls_keylog[HU_TLS_KEYLOGS_MAX];
    unsigned n_tls_keylog;
    /* Told of each incident once it is final, stored and reported (live
     * --metrics counts them), on the analysis thread; the record is only
     * borrowed for the call.  NULL: nobody is told. */
    void (*observe)(void *arg, const struct hu_incident_rec *rec);
    void *observe_arg;
    /* live into PostgreSQL: the spool file incidents are kept in through
     * an outage (spool.h), and how many it holds; NULL: no spool (the
     * database's first error stops storing). */
    const char *spool_path;
    uint64_t spool_max;
} hu_analyze_opts;

/* Sensible defaults: see the README's option table. */
void hu_analyze_opts_default(hu_analyze_opts *o);

typedef enum hu_file_rc {
    HU_FILE_OK = 0,
    HU_FILE_PARTIAL,          /* read in part (truncated or corrupt): reported */
    HU_FILE_FAILED,           /* not read at all: reported */
    HU_FILE_BADFILTER,        /* the filter does not compile: reported */
    HU_FILE_NOMEM,
    HU_FILE_STORE,            /* the database failed: reported, nothing stored */
} hu_file_rc;

typedef struct hu_analyzer hu_analyzer;

/* NULL, reported on o->err, when out of memory (*why HU_FILE_NOMEM) or
 * when the -w file cannot be created (*why HU_FILE_FAILED); why may be
 * NULL.  A database that cannot be opened is reported too, and the
 * analysis goes on without it: every capture's result is then
 * HU_FILE_STORE. */
hu_analyzer *hu_analyzer_new(const hu_analyze_opts *o, hu_file_rc *why);
void hu_analyzer_free(hu_analyzer *a);


/* Analyse one file; problems are reported on o->err, one line each.
 * With o->max_packets, the file is read only up to what is left of it. */
hu_file_rc hu_analyzer_file(hu_analyzer *a, const char *path);
/*
 * A capture read from several files that continue each other (a rotated
 * set, fileset.h): begin it (bytes: about how big its files are together,
 * to size libnids; 0 when unknown), give it its files in time order, end
 * it.  One pipeline runs through every file: connections, tcpdump's
 * relative sequence numbers, held incidents and the server summary carry
 * across the boundaries; packets are numbered continuously inside and
 * named by file and number in that file in everything printed and
 * stored, and the store gets one capture with its file list.
 *
 * set_file returns the file's own result (reported on o->err when it is
 * not HU_FILE_OK; the capture goes on with the next file); set_end the
 * capture's (out of memory, the database).  set_continues says whether a
 * file probed as `next` (hu_capture_probe_file, its first packet is
 * enough) continues the files given so far: a directory watcher asks it
 * of each new file, and gives it to set_file when true, else ends the
 * set and begins another.  false when the set is empty.  set_begin
 * returns false when out of memory.
 */
bool hu_analyzer_set_begin(hu_analyzer *a, uint64_t bytes);
bool hu_analyzer_set_continues(const hu_analyzer *a, const hu_capture_probe *next);
hu_file_rc hu_analyzer_set_file(hu_analyzer *a, const char *path);
hu_file_rc hu_analyzer_set_end(hu_analyzer *a);

/*
 * Part of a file of the set (a directory watcher reading a file tcpdump is
 * still writing, or taking up a file where an earlier run stopped).  In:
 * `records` records of the file come before the part, which begins at
 * byte `offset` (a classic pcap file's next_offset from an earlier part;
 * 0: the records are read and skipped -- any file, compressed ones too);
 * `growing`: a last record cut by the end of the file is left for the next
 * part, not an error; `more`: the file is the set's last one, given
 * before (it keeps its packet numbers), else it is the set's next file.
 * Out: `records` the file's records read so far, `offset` where the next
 * part begins (0 when the file cannot be read from an offset: not plain
 * classic pcap).  Packets keep their numbers in the file.  The result is
 * set_file's.
 */
typedef struct hu_set_part {
    uint64_t records, offset;
    bool growing, more;
} hu_set_part;
hu_file_rc hu_analyzer_set_part(hu_analyzer *a, const char *path, hu_set_part *part);

/* The database the analyzer writes to, or NULL (none, or it failed): a
 * command may write its own rows into the open capture's transaction,
 * which the next hu_analyzer_tick or the capture's end commits. */
struct hu_store;
struct hu_store *hu_analyzer_store(hu_analyzer *a);

/* o->max_packets packets have been analysed: later files are not read. */
bool hu_analyzer_limit_reached(const hu_analyzer *a);

/*
 * The same pipeline fed by a caller (live capture): begin a source, give
 * it frames, tick it about once a second (commits the database, so
 * readers see the incidents so far), end it.  `kind` is "live" or "file".  end returns what
 * hu_analyzer_file would have.  begin returns false when it cannot
 * allocate the source's tables (reported on o->err); the source is then
 * not begun (no frame, tick or end for it) and the caller reports out of
 * memory.
 */
bool hu_analyzer_begin(hu_analyzer *a, const char *source, const char *kind, int dlt,
                       size_t streams);
void hu_analyzer_frame(hu_analyzer *a, int dlt, const hu_frame *fr);
void hu_analyzer_tick(hu_analyzer *a);
hu_file_rc hu_analyzer_end(hu_analyzer *a, hu_capture_rc rc, const hu_capture_info *info,
                           const char *err);

/* Progress of the current source, for a status line. */
typedef struct hu_analyzer_progress {
    uint64_t packets, connections, active, incidents, evicted;
} hu_analyzer_progress;
void hu_analyzer_progress_get(const hu_analyzer *a, hu_analyzer_progress *pr);

/* Print the summary (human output), end the -w file and write the
 * --html page; false when either could not be written whole (reported). */
bool hu_analyzer_finish(hu_analyzer *a);

uint64_t hu_analyzer_incidents(const hu_analyzer *a);

/* With a spool (o->spool_path): its counts into *st (spool.h), true;
 * false without one. */
struct hu_spool_stats;
bool hu_analyzer_spool_stats(const hu_analyzer *a, struct hu_spool_stats *st);
/* With a spool and no capture (live --deliver): connect and deliver
 * everything waiting; true when nothing is left (else the lines saying
 * why are printed). */
bool hu_analyzer_deliver(hu_analyzer *a);

/* The current capture's first `max` servers in the summary's order (most
 * incidents, then most connections), with their inferred idle timeouts
 * and race risk (servers.h); outside a capture, the whole run's.
 * malloc'd, *n the count; NULL when there are none or out of memory. */
struct hu_server_summary;
struct hu_server_summary *hu_analyzer_top_servers(const hu_analyzer *a, size_t max, size_t *n);

#endif
