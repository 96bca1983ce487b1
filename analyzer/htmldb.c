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
 */
#include "hangup/htmldb.h"
#include "hangup/cli.h"
#include "hangup/html.h"
#include "hangup/store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTMLDB_SERVERS_MAX 200   /* servers pictured, most incidents first */
#define HTMLDB_SAMPLES_MAX 4096  /* idle closes per server's picture */

/* The filters, bound as ?1..?5 as query.c's INC_WHERE reads them. */
static void bind_filter(sqlite3_stmt *q, const hu_html_filter *f)
{
    sqlite3_bind_int64(q, 1, f->capture);
    if (f->server)
        sqlite3_bind_text(q, 2, f->server, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, f->since);
    sqlite3_bind_int64(q, 4, f->until);
    if (f->kind)
        sqlite3_bind_text(q, 5, f->kind, -1, SQLITE_STATIC);
}

static int db_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "hangup: report --html: %s: %s\n", what, sqlite3_errmsg(db));
    return HU_CLI_EXIT_DB;
}

/* The incidents: each loaded and added to the page. */
static int add_incidents(hu_store *s, hu_html *h, const hu_html_filter *f)
{
    sqlite3 *db = hu_store_db(s);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
            "SELECT i.id FROM incidents i"
            " WHERE (?1 = 0 OR i.capture_id = ?1) AND (?2 IS NULL OR i.server = ?2)"
            " AND coalesce(i.rst_time, i.fin_time, i.request_time) >= ?3"
            " AND coalesce(i.rst_time, i.fin_time, i.request_time) < ?4"
            " AND (?5 IS NULL OR i.kind = ?5)"
            " ORDER BY coalesce(i.rst_time, i.fin_time, i.request_time), i.id",
            -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, "selecting incidents");
    bind_filter(q, f);
    int rc, status = 0;
    while (status == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        char err[1024];
        bool missing;
        hu_incident_rec *r = hu_store_load_incident(s, sqlite3_column_int64(q, 0), &missing, err,
                                                    sizeof err);
        if (!r) {
            fprintf(stderr, "hangup: report --html: %s\n", err);
            status = HU_CLI_EXIT_DB;
            break;
        }
        hu_html_incident(h, r);
        hu_incident_rec_free(r);
    }
    if (status == 0 && rc != SQLITE_DONE)
        status = db_fail(db, "reading incidents");
    sqlite3_finalize(q);
    return status;
}

/* The captures the filters pass, with their packet counts. */
static int add_captures(sqlite3 *db, hu_html *h, const hu_html_filter *f)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
            "SELECT c.source, c.packets FROM captures c WHERE (?1 = 0 OR c.id = ?1)"
            " AND coalesce(c.last_time, 0) >= ?3 AND coalesce(c.first_time, 0) < ?4"
            " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM servers s WHERE s.capture_id = c.id"
            "  AND s.server = ?2)) ORDER BY c.id",
            -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, "selecting captures");
    bind_filter(q, f);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        hu_html_capture(h, (const char *)sqlite3_column_text(q, 0), sqlite3_column_int64(q, 1),
                        -1);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_fail(db, "reading captures");
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

static int64_t col_opt(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, i);
}

/* A server's stored idle closes (under the capture filter). */
static int64_t *idle_samples(sqlite3 *db, const char *server, int64_t capture, size_t *n)
{
    *n = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
            "SELECT idle_close_us FROM connections WHERE server = ?1 AND idle_close_us IS NOT NULL"
            " AND (?2 = 0 OR capture_id = ?2) LIMIT ?3", -1, &q, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(q, 1, server, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, capture);
    sqlite3_bind_int(q, 3, HTMLDB_SAMPLES_MAX);
    int64_t *v = malloc(HTMLDB_SAMPLES_MAX * sizeof *v);
    while (v && sqlite3_step(q) == SQLITE_ROW)
        v[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

typedef struct srv_list {
    hu_server_summary s[HTMLDB_SERVERS_MAX];
    hu_html_server v[HTMLDB_SERVERS_MAX];
    size_t n;
} srv_list;

/* The servers the filters pass, as report's timeouts section sums them. */
static int load_servers(sqlite3 *db, srv_list *l, const hu_html_filter *f)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
            "SELECT s.server, sum(s.connections), sum(s.requests), sum(s.idle_closes),"
            " sum(s.incidents), sum(s.crossed), sum(s.stale), a.idle_timeout_us,"
            " a.idle_timeout_spread_us, a.max_reuse_idle_us, a.rtt_us, max(s.race_risk),"
            " a.advice, coalesce(a.software, '')"
            " FROM servers s JOIN captures c ON c.id = s.capture_id"
            " JOIN servers a ON a.id = (SELECT s3.id FROM servers s3 JOIN captures c3"
            "   ON c3.id = s3.capture_id WHERE s3.server = s.server"
            "   AND (?1 = 0 OR s3.capture_id = ?1)"
            "   ORDER BY s3.race_risk DESC, c3.last_time DESC, s3.id DESC LIMIT 1)"
            " WHERE (?1 = 0 OR s.capture_id = ?1) AND (?2 IS NULL OR s.server = ?2)"
            " AND coalesce(c.last_time, 0) >= ?3 AND coalesce(c.first_time, 0) < ?4"
            " GROUP BY s.server ORDER BY 5 DESC, 2 DESC, 1 LIMIT ?6",
            -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, "selecting servers");
    bind_filter(q, f);
    sqlite3_bind_int(q, 6, HTMLDB_SERVERS_MAX);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hu_server_summary *s = &l->s[l->n];
        memset(s, 0, sizeof *s);
        const char *ep = (const char *)sqlite3_column_text(q, 0);
        if (!ep || !parse_endpoint(ep, s))
            continue;
        s->connections = (uint64_t)sqlite3_column_int64(q, 1);
        s->requests = (uint64_t)sqlite3_column_int64(q, 2);
        s->idle_closes = (uint64_t)sqlite3_column_int64(q, 3);
        s->incidents = (uint64_t)sqlite3_column_int64(q, 4);
        s->crossed = (uint64_t)sqlite3_column_int64(q, 5);
        s->stale = (uint64_t)sqlite3_column_int64(q, 6);
        s->idle_timeout_us = col_opt(q, 7);
        s->idle_timeout_spread_us = col_opt(q, 8);
        s->max_reuse_idle_us = col_opt(q, 9);
        s->rtt_us = col_opt(q, 10);
        s->race_risk = sqlite3_column_int(q, 11) != 0;
        const char *adv = (const char *)sqlite3_column_text(q, 12);
        snprintf(s->advice, sizeof s->advice, "%s", adv ? adv : "");
        snprintf(s->software, sizeof s->software, "%s", sqlite3_column_text(q, 13));
        hu_html_server *v = &l->v[l->n];
        *v = (hu_html_server){ .s = s };
        v->idle = idle_samples(db, ep, f->capture, &v->nidle);
        l->n++;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_fail(db, "reading servers");
}

int hu_html_report_db(const char *db, const hu_html_filter *f, const char *path)
{
    char err[1100];
    hu_store *s = hu_store_open(db, true, err, sizeof err);
    if (!s) {
        fprintf(stderr, "hangup: %s\n", err);
        return HU_CLI_EXIT_DB;
    }
    if (!hu_store_db(s)) {   /* a PostgreSQL store: its SQL here is SQLite's */
        fprintf(stderr, "hangup: report --html reads SQLite databases only, not %s\n", db);
        hu_store_close(s);
        return HU_CLI_EXIT_USAGE;
    }
    srv_list *l = calloc(1, sizeof *l);
    hu_html *h = l ? hu_html_open(path, "hangup report", err, sizeof err) : NULL;
    int status = 0;
    if (!h) {
        fprintf(stderr, "hangup: --html %s\n", l ? err : "out of memory");
        status = l ? HU_CLI_EXIT_INPUT : HU_CLI_EXIT_NOMEM;
    }
    if (status == 0)
        status = add_captures(hu_store_db(s), h, f);
    if (status == 0)
        status = add_incidents(s, h, f);
    if (status == 0)
        status = load_servers(hu_store_db(s), l, f);
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
