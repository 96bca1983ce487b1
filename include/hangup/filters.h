/*
 * filters.h -- report's filters (--kind, --capture, --server, --since,
 * --until, --sensor) as one struct and the SQL that applies them, shared
 * by report's text sections (query.c) and its HTML page (htmldb.c), so
 * the same filters pass the same incidents, servers and captures in both
 * and on both databases.
 *
 * The clauses are written once for SQLite and PostgreSQL: their values
 * are parameters $1..$6 (hu_filters_params), never spliced, which both
 * take (rows.h).  A clause reads only the tables it names by their
 * aliases: incidents as i; servers as s joined to their capture as c;
 * captures as c.
 */
#ifndef HANGUP_FILTERS_H
#define HANGUP_FILTERS_H

#include <stdint.h>

#include "hangup/rows.h"

/* NULL / 0 / INT64_MIN..INT64_MAX: that filter is open. */
typedef struct hu_filters {
    const char *kind;         /* an incident kind's name */
    int64_t capture;          /* captures.id */
    const char *server;       /* "ADDR:PORT" as stored */
    int64_t since, until;     /* by the incident's closing packet (a server's
                               * or capture's by the capture's span), us */
    const char *sensor;       /* captures.sensor */
} hu_filters;

#define HU_FILTERS_OPEN \
    ((hu_filters){ .kind = NULL, .capture = 0, .server = NULL, .since = INT64_MIN, \
                   .until = INT64_MAX, .sensor = NULL })

/* The parameters the clauses below read, in p[0..HU_FILTERS_NPARAMS):
 * $1 capture, $2 server, $3 since, $4 until, $5 kind, $6 sensor.  The
 * strings are f's (borrowed). */
#define HU_FILTERS_NPARAMS 6
static inline void hu_filters_params(const hu_filters *f, hu_param p[HU_FILTERS_NPARAMS])
{
    p[0] = (hu_param){ .i = f->capture };
    p[1] = (hu_param){ .is_text = true, .text = f->server };
    p[2] = (hu_param){ .i = f->since };
    p[3] = (hu_param){ .i = f->until };
    p[4] = (hu_param){ .is_text = true, .text = f->kind };
    p[5] = (hu_param){ .is_text = true, .text = f->sensor };
}

/* Incidents (i), by the time of their closing packet. */
#define HU_FILTERS_INC_WHERE \
    " WHERE ($1 = 0 OR i.capture_id = $1) AND ($2 IS NULL OR i.server = $2)" \
    " AND coalesce(i.rst_time, i.fin_time, i.request_time) >= $3" \
    " AND coalesce(i.rst_time, i.fin_time, i.request_time) < $4" \
    " AND ($5 IS NULL OR i.kind = $5)" \
    " AND ($6 IS NULL OR i.capture_id IN (SELECT id FROM captures WHERE sensor = $6))"

/* Servers' rows (s, their capture c), by the capture's span. */
#define HU_FILTERS_SRV_WHERE \
    " WHERE ($1 = 0 OR s.capture_id = $1) AND ($2 IS NULL OR s.server = $2)" \
    " AND coalesce(c.last_time, 0) >= $3 AND coalesce(c.first_time, 0) < $4" \
    " AND ($6 IS NULL OR c.sensor = $6)"

/* Captures (c), by their span; with --server, those that saw it. */
#define HU_FILTERS_CAP_WHERE \
    " WHERE ($1 = 0 OR c.id = $1)" \
    " AND coalesce(c.last_time, 0) >= $3 AND coalesce(c.first_time, 0) < $4" \
    " AND ($2 IS NULL OR EXISTS (SELECT 1 FROM servers s WHERE s.capture_id = c.id" \
    "  AND s.server = $2))" \
    " AND ($6 IS NULL OR c.sensor = $6)"

#endif
