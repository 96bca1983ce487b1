/*
 * pgtest.h -- a real PostgreSQL server for the tests, of their own:
 * Debian's initdb and pg_ctl (package postgresql, /usr/lib/postgresql/N/bin)
 * run in a fresh temporary directory, as the unprivileged user nobody when
 * the tests run as root (PostgreSQL refuses to run as root), listening
 * only on 127.0.0.1 at a free port and on a Unix socket in that
 * directory, with trust authentication for user "hangup".  Nothing is
 * skipped: a server that cannot start is the caller's failure.
 */
#ifndef HANGUP_PGTEST_H
#define HANGUP_PGTEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tu_pg {
    char dir[256];            /* the temporary directory: data/, log, socket */
    char bin[256];            /* the directory of initdb and pg_ctl */
    int port;
    bool running;
} tu_pg;

/* initdb and start; false, with why (the log's tail) in err, when the
 * server cannot be had. */
bool tu_pg_start(tu_pg *pg, char *err, size_t n);
/* Stop the server (fast shutdown) and, with it, keep the data for
 * tu_pg_restart; true when it stopped. */
bool tu_pg_stop(tu_pg *pg);
/* Start the stopped server again on the same port. */
bool tu_pg_restart(tu_pg *pg, char *err, size_t n);
/* Stop it (if running) and remove the directory.  Safe to call twice. */
void tu_pg_destroy(tu_pg *pg);
/* tu_pg_start, then tu_pg_createdb(name): the test fails (never skips)
 * when either cannot be done.  For a suite's or a test's .init. */
void tu_pg_up(tu_pg *pg, const char *name);
/* Create database name (dropped first if it exists); false with err. */
bool tu_pg_createdb(tu_pg *pg, const char *name, char *err, size_t n);
/* The libpq URI of database name on it: postgresql://hangup@127.0.0.1:PORT/name
 * (static buffer, overwritten by the next call). */
const char *tu_pg_uri(const tu_pg *pg, const char *name);
/* Run sql (hangup's own tests': no parameters) on database name; the
 * first row's first value, malloc'd ("" for none), or NULL on error with
 * the message in err. */
char *tu_pg_value(const tu_pg *pg, const char *name, const char *sql, char *err, size_t n);

#endif
