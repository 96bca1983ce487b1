/*
 * storepg.h -- the incident database on a PostgreSQL server (private to
 * the store: store.c hands every hu_store_* call for a --db that is a
 * libpq connection string to the function of the same name here).
 *
 * The contract of each function is store.h's; differences: rows are
 * written at once (no writer thread), and a connection that broke is made
 * again at the next hu_storepg_begin.  Errors are one line naming the
 * server as postgresql://user@host:port/db (never a password).
 */
#ifndef HANGUP_STOREPG_H
#define HANGUP_STOREPG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/incident.h"
#include "hangup/servers.h"
#include "hangup/storerow.h"

typedef struct hu_storepg hu_storepg;
struct pg_conn;

/* Whether --db names a PostgreSQL database rather than an SQLite file: a
 * postgresql:// or postgres:// URI, or a key=value string whose first key
 * is one of libpq's connection keywords ("host=db1 dbname=hangup"; a path
 * such as "runs=3.db" is a file). */
bool hu_storepg_is_conninfo(const char *db);

/* A PostgreSQL (or libpq) message msg as one line into out[0..n): line
 * breaks, tabs and runs of spaces become one space, the ends trimmed, a
 * leading "ERROR:  " dropped; msg NULL is "".  For the store's messages
 * and rows.c's alike. */
void hu_storepg_line(char *out, size_t n, const char *msg);

/* PQlibVersion(): the libpq hangup runs with. */
int hu_storepg_lib_version(void);

/* Connect with conninfo (libpq: the PG* environment and ~/.pgpass apply)
 * and create or migrate the schema (readonly: only check it, and make
 * every transaction read-only).  NULL with err on failure. */
hu_storepg *hu_storepg_open(const char *conninfo, bool readonly, char *err, size_t n);
/* Open for writing, connecting later when the server cannot be reached
 * now (*connected false, why in err): hu_storepg_resume connects and
 * migrates.  NULL with err when out of memory or the schema cannot be
 * had (newer, a failed migration). */
hu_storepg *hu_storepg_open_later(const char *conninfo, bool *connected, char *err, size_t n);
/* Roll back what is open, connect again if the connection is bad
 * (migrating first if it never was), and begin a transaction; false with
 * err when the server cannot be had. */
bool hu_storepg_resume(hu_storepg *p, char *err, size_t n);
/* In the open transaction: the row of capture m (m->spool_key: the one
 * with that key, stored if it is not yet), its id into *capture_id. */
bool hu_storepg_keyed_capture(hu_storepg *p, const hu_capture_meta *m, int64_t *capture_id,
                              char *err, size_t n);
void hu_storepg_close(hu_storepg *p);   /* rolls back what is open; NULL: no-op */
/* The connection (for read-only queries while no capture is open), the
 * name messages use, the schema version. */
struct pg_conn *hu_storepg_conn(hu_storepg *p);
const char *hu_storepg_name(const hu_storepg *p);
int hu_storepg_version(const hu_storepg *p);

bool hu_storepg_begin(hu_storepg *p, const hu_capture_meta *m, int64_t *capture_id, char *err,
                      size_t n);
bool hu_storepg_incident(hu_storepg *p, int64_t capture_id, const hu_incident_rec *r,
                         int64_t *id, char *err, size_t n);
bool hu_storepg_connection(hu_storepg *p, int64_t capture_id, const hu_conn_row *row, char *err,
                           size_t n);
bool hu_storepg_server(hu_storepg *p, int64_t capture_id, const hu_server_summary *sv,
                       char *err, size_t n);
bool hu_storepg_end(hu_storepg *p, int64_t capture_id, const hu_capture_end *e,
                    int64_t *replaced, char *err, size_t n);
void hu_storepg_abort(hu_storepg *p);
bool hu_storepg_checkpoint(hu_storepg *p, char *err, size_t n);
bool hu_storepg_watch_save(hu_storepg *p, const char *dir, const hu_watch_row *rows,
                           size_t nrows, char *err, size_t n);
bool hu_storepg_watch_load(hu_storepg *p, const char *dir, hu_watch_row_fn fn, void *arg,
                           char *err, size_t n);
hu_incident_rec *hu_storepg_load_incident(hu_storepg *p, int64_t id, bool *missing, char *err,
                                          size_t n);

#endif
