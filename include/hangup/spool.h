/*
 * spool.h -- live's incidents kept through a PostgreSQL outage.
 *
 * `hangup live --db postgresql://...` writes every incident first to a
 * local spool, an SQLite file with hangup's own schema (store.h; its rows
 * read back with hu_store_load_incident), committed before the incident is
 * printed.  When the server is up and nothing older waits, the incident
 * goes on into the capture's open PostgreSQL transaction at once (so the
 * printed line names its id) and leaves the spool once that transaction
 * commits.  When the server is down, or older incidents still wait, it
 * stays in the spool; the tick retries the server with backoff (1 s
 * doubling to 30 s) and delivers the waiting incidents strictly in spool
 * order, oldest first.
 *
 * Exactly once: each spooled capture and incident carries a key (the
 * spool's random identity and its row id), stored in PostgreSQL's unique
 * captures.spool_key / incidents.spool_key; a delivery repeated after a
 * crash between PostgreSQL's COMMIT and the spool's DELETE finds the key
 * and stores nothing again.  The spool file is locked (flock) by one
 * hangup at a time.  A spool holding `max` incidents drops its oldest
 * waiting one for each new one (said once, and counted).
 *
 * All functions belong to the analysis thread.  The spool takes over the
 * capture's writes to the PostgreSQL store in live: the capture row, its
 * incidents, its connection rows (written while the server is up, counted
 * as lost otherwise) and the commits.  Notices (an outage, the server
 * back, a full spool) are one line each on cfg->err.
 */
#ifndef HANGUP_SPOOL_H
#define HANGUP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hangup/incident.h"
#include "hangup/store.h"
#include "hangup/storerow.h"

typedef struct hu_spool hu_spool;

#define HU_SPOOL_MAX_DEFAULT 100000   /* incidents a spool holds by default */

typedef struct hu_spool_cfg {
    const char *path;         /* the spool file (created if missing) */
    uint64_t max;             /* incidents kept at most (>= 1) */
    FILE *err;                /* notices */
    const char *progname;     /* their prefix */
} hu_spool_cfg;

/* Open (creating) the spool for store db (PostgreSQL, opened with
 * hu_store_open_later; borrowed, it must outlive the spool), connected
 * saying whether its server answered.  NULL with one line in err when the
 * file is not a usable SQLite database (corrupt, another program's, a
 * directory that cannot be written), another hangup holds it, or it still
 * holds incidents for another database. */
hu_spool *hu_spool_open(const hu_spool_cfg *cfg, hu_store *db, bool connected, char *err,
                        size_t n);
/* Close: rolls back what is uncommitted in the database (it stays in the
 * spool), forgets captures with nothing waiting.  NULL is a no-op. */
void hu_spool_close(hu_spool *sp);
const char *hu_spool_path(const hu_spool *sp);

/* A capture begins (live's): its row in the spool, and in the database
 * (committed at once) if the server is up.  False with err when the spool
 * cannot be written. */
bool hu_spool_begin(hu_spool *sp, const hu_capture_meta *m, char *err, size_t n);
/* The capture's id in the database, 0 while the server is down (or it
 * has no row there yet). */
int64_t hu_spool_capture_id(const hu_spool *sp);

/* An incident is final: committed to the spool, then into the database's
 * open transaction when it is up and nothing older waits.  Sets
 * rec->db_id (0 when not in the database) and rec->spooled (waiting).
 * False with err when the spool could not keep it (it is then neither
 * kept nor stored). */
bool hu_spool_incident(hu_spool *sp, hu_incident_rec *rec, char *err, size_t n);
/* A finished connection's row: into the open transaction while the
 * server is up, else counted as lost. */
void hu_spool_connection(hu_spool *sp, const hu_conn_row *row);

/* About once a second: commit the open transaction (what was sent leaves
 * the spool), deliver waiting incidents for up to budget_ms, or, when the
 * server is down and its retry is due, connect again. */
void hu_spool_tick(hu_spool *sp, int64_t budget_ms);
/* The end of the run: connect now if down (once), deliver everything
 * waiting, committing as it goes.  True when the server is up and nothing
 * waits; the capture's open transaction is then ready for its end rows. */
bool hu_spool_deliver_all(hu_spool *sp);
/* The database failed a write the caller made in the open transaction
 * (the capture's end): why is printed when it starts an outage; what was
 * uncommitted waits again. */
void hu_spool_failed(hu_spool *sp, const char *why);
/* The caller committed the open transaction itself (hu_store_end): what
 * was sent leaves the spool. */
void hu_spool_committed(hu_spool *sp);
/* Whether the server is up (the last write or connection succeeded). */
bool hu_spool_up(const hu_spool *sp);

typedef struct hu_spool_stats {
    uint64_t waiting;         /* incidents in the spool not yet in the database */
    uint64_t spooled;         /* incidents that waited in this run (outage or backlog) */
    uint64_t delivered;       /* of the waiting ones, delivered in this run */
    uint64_t dropped;         /* dropped because the spool was full */
    uint64_t lost_rows;       /* connection rows not stored (server down) */
    uint64_t outages;         /* times the server went away */
} hu_spool_stats;
void hu_spool_stats_get(const hu_spool *sp, hu_spool_stats *st);

#endif
