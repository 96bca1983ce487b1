/*
 * htmldb.c -- the HTML report of stored incidents (report --html,
 * show ID --html).
 *
 * Incidents are selected with the clause report's sections use (the same
 * filters mean the same incidents), loaded one at a time and handed to
 * the page (html.c), so memory stays bounded by one record.  A server's
 * summary is its stored row (counts summed over the captures the filters
 * pass, the figures and the advice from one capture's row, as report's
 * timeouts section picks it); its picture's samples are its connections'
 * stored idle closes.  Clients' idle times before a reuse are not stored:
 * the page says so and marks the longest one.
 *
 * Every statement is written once for both databases (rows.h: $N
 * parameters, NULLs placed explicitly in ORDER BY, every selected column
 * grouped, sums read as integers whatever type the database gives them),
 * with the filters' own clauses (filters.h), so SQLite and PostgreSQL
 * give the same page for the same captures.
 */
#include "hangup/htmldb.h"
#include "hangup/cli.h"
#include "hangup/html.h"
#include "hangup/rows.h"
#include "hangup/store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTMLDB_SERVERS_MAX 200   /* servers pictured, most incidents first */
#define HTMLDB_SAMPLES_MAX 4096  /* idle closes per server's picture */

/* The filters' parameters ($1..$6, filters.h) and, after them, $7 a
 * statement's own. */
typedef struct htmldb_q {
    hu_store *s;
    hu_param p[HU_FILTERS_NPARAMS + 1];
} htmldb_q;

/* Run sql with the filters bound; NULL after one line on stderr saying
 * what was being read (`what`) and why. */
static hu_rows *run(htmldb_q *c, const char *sql, const char *what)
{
    char err[512];
    hu_rows *r = hu_rows_open(c->s, sql, c->p, HU_FILTERS_NPARAMS + 1, err, sizeof err);
    if (!r)
        fprintf(stderr, "hangup: report --html: %s: %s (is %s a hangup database?)\n", what, err,
                hu_store_name(c->s));
    return r;
}

/* The end of reading r (hu_rows_next's last answer rc): 0, or the exit
 * status after one line on stderr.  Closes r. */
static int done(hu_rows *r, int rc, const char *what)
{
    int status = 0;
    if (rc < 0) {
        fprintf(stderr, "hangup: report --html: %s: %s\n", what, hu_rows_error(r));
        status = HU_CLI_EXIT_DB;
    }
    hu_rows_close(r);
    return status;
}

/* The incidents: each loaded and added to the page. */
static int add_incidents(htmldb_q *c, hu_html *h)
{
    hu_rows *q = run(c, "SELECT i.id FROM incidents i" HU_FILTERS_INC_WHERE
                        " ORDER BY coalesce(i.rst_time, i.fin_time, i.request_time), i.id",
                     "selecting incidents");
    if (!q)
        return HU_CLI_EXIT_DB;
    int rc;
    while ((rc = hu_rows_next(q)) == 1) {
        char err[1024];
        bool missing;
        hu_incident_rec *r = hu_store_load_incident(c->s, hu_rows_int(q, 0), &missing, err,
                                                    sizeof err);
        if (!r) {
            fprintf(stderr, "hangup: report --html: %s\n", err);
            hu_rows_close(q);
            return HU_CLI_EXIT_DB;
        }
        hu_html_incident(h, r);
        hu_incident_rec_free(r);
    }
    return done(q, rc, "reading incidents");
}

/* The captures the filters pass, with their packet counts. */
static int add_captures(htmldb_q *c, hu_html *h)
{
    hu_rows *q = run(c, "SELECT c.source, c.packets FROM captures c" HU_FILTERS_CAP_WHERE
                        " ORDER BY c.id", "selecting captures");
    if (!q)
        return HU_CLI_EXIT_DB;
    int rc;
    while ((rc = hu_rows_next(q)) == 1) {
        size_t n;
        const char *src = hu_rows_text(q, 0, &n);
        hu_html_capture(h, src ? src : "", hu_rows_int(q, 1), -1);
    }
    return done(q, rc, "reading captures");
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into s; false when it is neither. */
static bool parse_endpoint(const char *ep, hu_server_summary *s)
{
    char a[64];
    const char *colon = strrchr(ep, ':');
    if (!colon || (size_t)(colon - ep) >= sizeof a)
        return false;
    size_t n = (size_t)(colon - ep);
    memcpy(a, ep, n);
    a[n] = 0;
    s->port = (uint16_t)strtoul(colon + 1, NULL, 10);
    if (a[0] == '[' && n > 2 && a[n - 1] == ']') {
        a[n - 1] = 0;
        s->ipver = 6;
        return inet_pton(AF_INET6, a + 1, s->addr) == 1;
    }
    s->ipver = 4;
    return inet_pton(AF_INET, a, s->addr) == 1;
}

static int64_t col_opt(const hu_rows *q, int i)
{
    return hu_rows_type(q, i) == HU_CELL_NULL ? -1 : hu_rows_int(q, i);
}

/* A server's stored idle closes (under the capture filter, as report's
 * timeouts section picks a server's figures), oldest first: malloc'd,
 * *n of them; NULL (*n 0) when there are none or they cannot be read. */
static int64_t *idle_samples(hu_store *s, const char *server, int64_t capture, size_t *n)
{
    *n = 0;
    char err[512];
    hu_param p[3] = { { .is_text = true, .text = server }, { .i = capture },
                      { .i = HTMLDB_SAMPLES_MAX } };
    hu_rows *q = hu_rows_open(s, "SELECT idle_close_us FROM connections WHERE server = $1"
                                 " AND idle_close_us IS NOT NULL AND ($2 = 0 OR capture_id = $2)"
                                 " ORDER BY id LIMIT $3", p, 3, err, sizeof err);
    int64_t *v = q ? malloc(HTMLDB_SAMPLES_MAX * sizeof *v) : NULL;
    while (v && *n < HTMLDB_SAMPLES_MAX && hu_rows_next(q) == 1)
        v[(*n)++] = hu_rows_int(q, 0);
    hu_rows_close(q);
    return v;
}

typedef struct srv_list {
    hu_server_summary s[HTMLDB_SERVERS_MAX];
    hu_html_server v[HTMLDB_SERVERS_MAX];
    size_t n;
} srv_list;

/* The servers the filters pass, as report's timeouts section sums them
 * (query.c): counts over the captures passed, the figures and the advice
 * from one capture's row (race risk first, then the latest). */
static int load_servers(htmldb_q *c, srv_list *l, const hu_filters *f)
{
    c->p[HU_FILTERS_NPARAMS] = (hu_param){ .i = HTMLDB_SERVERS_MAX };
    hu_rows *q = run(c,
        "SELECT s.server, sum(s.connections), sum(s.requests), sum(s.idle_closes),"
        " sum(s.incidents), sum(s.crossed), sum(s.stale), a.idle_timeout_us,"
        " a.idle_timeout_spread_us, a.max_reuse_idle_us, a.rtt_us, max(s.race_risk),"
        " a.advice, coalesce(a.software, '')"
        " FROM servers s JOIN captures c ON c.id = s.capture_id"
        " JOIN servers a ON a.id = (SELECT s3.id FROM servers s3 JOIN captures c3"
        "   ON c3.id = s3.capture_id WHERE s3.server = s.server"
        "   AND ($1 = 0 OR s3.capture_id = $1)"
        "   ORDER BY s3.race_risk DESC NULLS LAST, c3.last_time DESC NULLS LAST, s3.id DESC"
        "   LIMIT 1)" HU_FILTERS_SRV_WHERE
        " GROUP BY s.server, a.id ORDER BY 5 DESC NULLS LAST, 2 DESC NULLS LAST, 1 LIMIT $7",
        "selecting servers");
    if (!q)
        return HU_CLI_EXIT_DB;
    int rc;
    while (l->n < HTMLDB_SERVERS_MAX && (rc = hu_rows_next(q)) == 1) {
        hu_server_summary *s = &l->s[l->n];
        memset(s, 0, sizeof *s);
        size_t len;
        const char *ep = hu_rows_text(q, 0, &len);
        if (!ep || !parse_endpoint(ep, s))
            continue;
        s->connections = (uint64_t)hu_rows_int(q, 1);
        s->requests = (uint64_t)hu_rows_int(q, 2);
        s->idle_closes = (uint64_t)hu_rows_int(q, 3);
        s->incidents = (uint64_t)hu_rows_int(q, 4);
        s->crossed = (uint64_t)hu_rows_int(q, 5);
        s->stale = (uint64_t)hu_rows_int(q, 6);
        s->idle_timeout_us = col_opt(q, 7);
        s->idle_timeout_spread_us = col_opt(q, 8);
        s->max_reuse_idle_us = col_opt(q, 9);
        s->rtt_us = col_opt(q, 10);
        s->race_risk = hu_rows_int(q, 11) != 0;
        const char *adv = hu_rows_text(q, 12, &len);
        snprintf(s->advice, sizeof s->advice, "%s", adv ? adv : "");
        const char *sw = hu_rows_text(q, 13, &len);
        snprintf(s->software, sizeof s->software, "%s", sw ? sw : "");
        hu_html_server *v = &l->v[l->n];
        *v = (hu_html_server){ .s = s };
        v->idle = idle_samples(c->s, ep, f->capture, &v->nidle);
        l->n++;
    }
    if (l->n == HTMLDB_SERVERS_MAX)
        rc = 0;
    return done(q, rc, "reading servers");
}

int hu_html_report_db(const char *db, const hu_filters *f, const char *path)
{
    char err[1100];
    hu_store *s = hu_store_open(db, true, err, sizeof err);
    if (!s) {
        fprintf(stderr, "hangup: %s\n", err);
        return HU_CLI_EXIT_DB;
    }
    htmldb_q c = { .s = s };
    hu_filters_params(f, c.p);
    c.p[HU_FILTERS_NPARAMS] = (hu_param){ .i = 0 };
    srv_list *l = calloc(1, sizeof *l);
    hu_html *h = l ? hu_html_open(path, "hangup report", err, sizeof err) : NULL;
    int status = 0;
    if (!h) {
        fprintf(stderr, "hangup: --html %s\n", l ? err : "out of memory");
        status = l ? HU_CLI_EXIT_INPUT : HU_CLI_EXIT_NOMEM;
    }
    if (status == 0)
        status = add_captures(&c, h);
    if (status == 0)
        status = add_incidents(&c, h);
    if (status == 0)
        status = load_servers(&c, l, f);
    if (status == 0 &&
        !hu_html_finish(h, NULL, l->v, l->n, err, sizeof err)) {
        fprintf(stderr, "hangup: --html %s\n", err);
        status = HU_CLI_EXIT_INPUT;
    }
    for (size_t i = 0; l && i < l->n; i++)
        free((void *)l->v[i].idle);
    free(l);
    hu_html_free(h);
    hu_store_close(s);
    return status;
}

int hu_html_show(const hu_incident_rec *r, const char *path)
{
    char err[1100], title[64];
    snprintf(title, sizeof title, "hangup show %" PRId64, r->db_id);
    hu_html *h = hu_html_open(path, title, err, sizeof err);
    if (!h) {
        fprintf(stderr, "hangup: --html %s\n", err);
        return HU_CLI_EXIT_INPUT;
    }
    hu_html_incident(h, r);
    int status = 0;
    if (!hu_html_finish(h, NULL, NULL, 0, err, sizeof err)) {
        fprintf(stderr, "hangup: --html %s\n", err);
        status = HU_CLI_EXIT_INPUT;
    }
    hu_html_free(h);
    return status;
}
