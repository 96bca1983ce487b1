/*
 * htmldb.h -- the HTML report (html.h) of incidents stored in the
 * database: `hangup report --html` and `hangup show ID --html`.
 *
 * The incidents are loaded back as the records `analyze` made
 * (hu_store_load_incident), so the page says what `show` prints; the
 * servers come from their stored summaries and their connections' idle
 * closes.  Either database gives the same page for the same captures.
 */
#ifndef HANGUP_HTMLDB_H
#define HANGUP_HTMLDB_H

#include <stdint.h>
#include "hangup/filters.h"
#include "hangup/incident.h"

/* Write the page of every incident the filters pass (in time order), of
 * their captures and of their servers to path, from db (an SQLite file or
 * a PostgreSQL database, store.h); the exit status (hu_cli_exit, cli.h),
 * with one line on stderr for anything wrong. */
int hu_html_report_db(const char *db, const hu_filters *f, const char *path);

/* Write the page of one loaded incident to path; the exit status, as
 * above. */
int hu_html_show(const hu_incident_rec *r, const char *path);

#endif
