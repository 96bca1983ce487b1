/*
 * htmldb.h -- the HTML report (html.h) of incidents stored in the
 * database: `hangup report --html` and `hangup show ID --html`.
 *
 * The incidents are loaded back as the records `analyze` made
 * (hu_store_load_incident), so the page says what `show` prints; the
 * servers come from their stored summaries and their connections' idle
 * closes.
 */
#ifndef HANGUP_HTMLDB_H
#define HANGUP_HTMLDB_H

#include <stdint.h>
#include "hangup/incident.h"

/* report's filters, as it parses them (NULL / 0 / INT64_MIN..MAX: open). */
typedef struct hu_html_filter {
    const char *kind;
    int64_t capture;
    const char *server;       /* "ADDR:PORT" as stored */
    int64_t since, until;     /* by the incident's closing packet, microseconds */
} hu_html_filter;

/* Write the page of every incident the filters pass (in time order) and
 * of their servers to path; the exit status (hu_cli_exit, cli.h), with
 * one line on stderr for anything wrong. */
int hu_html_report_db(const char *db, const hu_html_filter *f, const char *path);

/* Write the page of one loaded incident to path; the exit status, as
 * above. */
int hu_html_show(const hu_incident_rec *r, const char *path);

#endif
