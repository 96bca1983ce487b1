/*
 * store.h -- the incident database (SQLite).
 *
 * One file, readable with the sqlite3 CLI.  Schema changes are numbered
 * migrations recorded in PRAGMA user_version, each applied in its own
 * transaction; a database from a newer hangup is refused.  Each capture is
 * written in one transaction, so an analysis that dies halfway leaves the
 * earlier captures intact and nothing half-written; a capture is
 * identified by a hash of its packets, and analysing it again replaces its
 * rows.  Times are integer microseconds since the epoch; the views render
 * them as ISO-8601 text.  Endpoints are stored as address and port, and as
 * the "addr:port" text users query.
 *
 * Writing a capture: hu_store_begin, then any of hu_store_incident,
 * hu_store_connection, hu_store_server and hu_store_checkpoint, then
 * hu_store_end (commit) or hu_store_abort (roll back).  Connection rows
 * are written on a thread of the store's own, in the order they were
 * given; the store orders everything else around them, so callers never
 * lock.  After any failure the first cause is the one reported: once a
 * connection row has failed, every later call fails with that row's
 * reason.  A caller whose write failed calls hu_store_abort (or close).
 *
 * Every function that can fail writes one line (no newline) into err.
 */
#ifndef HANGUP_STORE_H
#define HANGUP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "hangup/incident.h"
#include "hangup/servers.h"
#include "hangup/storerow.h"


typedef struct hu_store hu_store;

/* Open (creating and migrating when !readonly).  NULL on failure.  path
 * is an SQLite file, or a PostgreSQL database given as a libpq connection
 * URI (postgresql://, postgres://) or key=value string (storepg.h): the
 * same tables, views and meanings on either, through this same API. */
hu_store *hu_store_open(const char *path, bool readonly, char *err, size_t errlen);
/* Open for writing as hu_store_open does, except that a PostgreSQL
 * server that cannot be reached now is not a failure: the store is
 * returned with *connected false (why in err) and connects, migrating
 * the schema, at hu_store_resume.  NULL with err for everything else that
 * hu_store_open fails on.  An SQLite file is opened at once. */
hu_store *hu_store_open_later(const char *path, bool *connected, char *err, size_t errlen);
/* PostgreSQL only (live's spool, spool.h): roll back what is open,
 * connect again when the connection is bad, and begin a transaction that
 * hu_store_checkpoint commits; no capture row is written.  False with err
 * when the server cannot be had (or the store is SQLite). */
bool hu_store_resume(hu_store *s, char *err, size_t n);
/* PostgreSQL only, inside the transaction hu_store_resume began: the id
 * of capture m's row into *capture_id -- with m->spool_key, the row with
 * that key, written only if there is none (a capture stored once per key,
 * however often its delivery is retried). */
bool hu_store_keyed_capture(hu_store *s, const hu_capture_meta *m, int64_t *capture_id,
                            char *err, size_t n);
/* Whether path names a PostgreSQL database (a libpq URI or key=value
 * string) rather than an SQLite file. */
bool hu_store_is_pg(const char *path);
/* For tests: create or migrate only up to schema version `version`. */
hu_store *hu_store_open_version(const char *path, int version, char *err, size_t errlen);
/* Close, rolling back a capture still open.  NULL is a no-op. */
void hu_store_close(hu_store *s);
/* The handle, for the caller's own queries: only while no capture is
 * being written (a writer thread may be using it then).  NULL for a
 * PostgreSQL store, whose connection hu_store_pg gives (NULL for SQLite). */
sqlite3 *hu_store_db(hu_store *s);
struct pg_conn;
struct pg_conn *hu_store_pg(hu_store *s);
/* The database as messages name it: the path, or postgresql://user@host:port/db. */
const char *hu_store_name(const hu_store *s);
int hu_store_version(hu_store *s);
/* The SQLite library hangup runs with (sqlite3_libversion(): "3.40.1");
 * a static string. */
const char *hu_store_lib_version(void);
/* The libpq hangup runs with, as PQlibVersion() gives it (150013 for
 * 15.13). */
int hu_store_pg_lib_version(void);


/* Open the capture's transaction and row (*capture_id), and start its
 * connection-row writer (without a thread, rows are written directly).
 * On failure nothing is open. */
bool hu_store_begin(hu_store *s, const hu_capture_meta *m, int64_t *capture_id, char *err,
                    size_t errlen);
/* Store record r, timeline included (r stays the caller's); *id (id may
 * be NULL) receives its incidents.id, the ID `hangup show` takes.  That id
 * is final only once the capture is committed: a capture rolled back
 * takes its incidents with it.  A record with a spool_key already stored
 * (PostgreSQL) is not stored again: *id is the stored one's. */
bool hu_store_incident(hu_store *s, int64_t capture_id, const hu_incident_rec *r, int64_t *id,
                       char *err, size_t errlen);

/* Queue a copy of row for the writer (blocks only when a very long queue,
 * a stalled disk, has built up), or write it when there is no writer.
 * False once a row has failed. */
bool hu_store_connection(hu_store *s, int64_t capture_id, const hu_conn_row *row, char *err,
                         size_t errlen);
/* Store one server summary of the capture. */
bool hu_store_server(hu_store *s, int64_t capture_id, const hu_server_summary *sv, char *err,
                     size_t errlen);



/* Finish the capture: write every queued connection row, replace any
 * earlier capture with the same content (*replaced = its id, or 0),
 * commit.  On failure everything of this capture is rolled back. */
bool hu_store_end(hu_store *s, int64_t capture_id, const hu_capture_end *e, int64_t *replaced,
                  char *err, size_t errlen);
/* Drop the queued connection rows, stop the writer, then roll the capture
 * back.  Nothing open: a no-op. */
void hu_store_abort(hu_store *s);

/* Commit what the open capture has so far, queued connection rows
 * included, and carry on in a new transaction (live capture: readers see
 * incidents within a second).  On failure the capture is rolled back. */
bool hu_store_checkpoint(hu_store *s, char *err, size_t errlen);

/* Replace the rows of directory dir by rows[0..nrows): inside the open
 * capture's transaction when there is one (committed with it: the files
 * as read up to the incidents stored), else in one of its own. */
bool hu_store_watch_save(hu_store *s, const char *dir, const hu_watch_row *rows, size_t nrows,
                         char *err, size_t errlen);
/* fn for each row of dir (its strings valid during the call); fn returns
 * false when out of memory, which ends the load (false).  Only while no
 * capture is being written. */
typedef bool (*hu_watch_row_fn)(void *arg, const hu_watch_row *r);
/* fn for each row of dir (its strings valid during the call); fn returns
 * false when out of memory, which ends the load (false).  Only while no
 * capture is being written. */
bool hu_store_watch_load(hu_store *s, const char *dir, hu_watch_row_fn fn, void *arg,
                         char *err, size_t errlen);

/* Load stored incident `id` (timeline included, db_id set to id); NULL
 * with err when it cannot, and *missing (may be NULL) true when that is
 * because no such incident exists.  The record owns its strings (the file name and the
 * timeout hint live in file_owned); they stay valid until
 * hu_incident_rec_free. */
hu_incident_rec *hu_store_load_incident(hu_store *s, int64_t id, bool *missing, char *err,
                                        size_t errlen);

#endif
