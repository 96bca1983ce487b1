/*
 * html.h -- the HTML report: one self-contained page (inline CSS and SVG,
 * no script, font or image from anywhere) with a packet ladder per
 * incident and each server's timeout picture.
 *
 * It is fed the same records the text and JSON output print
 * (hu_incident_rec, hu_server_summary) and puts the same words beside each
 * picture: the explanation exactly as `analyze` prints it
 * (hu_incident_render), the JSON line (hu_incident_json), the tcpdump
 * lines.  Incidents are written as they come to a spool file and copied
 * after the summary and the servers when the page is finished, so memory
 * stays bounded whatever the number of incidents.  Every byte that came
 * off the wire is HTML-escaped (docs/DESIGN.md §3.13).
 */
#ifndef HANGUP_HTML_H
#define HANGUP_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hangup/incident.h"
#include "hangup/servers.h"

/* Incidents drawn in full (ladder, explanation, JSON); the rest get one
 * table row each, so a report of thousands stays small and opens fast. */
#define HU_HTML_DETAIL_MAX 200
/* Packet arrows drawn per ladder at most (the highlighted ones always). */
#define HU_HTML_ARROWS_MAX 40

typedef struct hu_html hu_html;

/* Create the page at path (truncated now, so a bad path fails before any
 * work) with heading `title` (copied); NULL with a message in err (the
 * path and strerror) on failure. */
hu_html *hu_html_open(const char *path, const char *title, char *err, size_t errlen);

/* A capture the page covers (file name copied; packets and connections
 * -1 when unknown).  Captures named by incidents are added by them too. */
void hu_html_capture(hu_html *h, const char *file, int64_t packets, int64_t connections);

/* One incident: its section is spooled now; it is counted for the
 * summary and marked on its server's plot.  rec is only read. */
void hu_html_incident(hu_html *h, const hu_incident_rec *rec);

/* A server for the page: its summary (borrowed) and the samples behind
 * its picture (borrowed, microseconds; NULL/0 when none): the delays of
 * its idle closes and its clients' idle times before a reuse. */
typedef struct hu_html_server {
    const hu_server_summary *s;
    const int64_t *idle;
    size_t nidle;
    const int64_t *reuse;
    size_t nreuse;
} hu_html_server;

/* Write the page -- summary (summary_text: the text output's summary,
 * escaped here; NULL none), servers, incidents -- and close the file.
 * false with a message in err when the file could not be written whole.
 * h is spent either way: free it with hu_html_free. */
bool hu_html_finish(hu_html *h, const char *summary_text, const hu_html_server *sv, size_t n,
                    char *err, size_t errlen);

/* Free h (NULL is a no-op); a page not finished is left as written so far. */
void hu_html_free(hu_html *h);

/* Append bytes as HTML text or attribute value: & < > " ' as character
 * references, control bytes (but tab and newline) as U+FFFD. */
void hu_html_esc(hu_sb *sb, const char *p, size_t n);

#endif
