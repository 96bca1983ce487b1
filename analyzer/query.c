/*
 * query.c -- reading the incident database: `query`, `report`, `show`.
 *
 * The database is opened read-only (and PRAGMA query_only), so nothing a
 * user types can change it.  Result sets print as an aligned table for
 * people, CSV, or one JSON object per row.  Every value that came off the
 * wire (targets, hosts, ...) is escaped on the way to the terminal in the
 * aligned table, as in analyze's output, and JSON-escaped in JSON; CSV is
 * RFC 4180 with the data unchanged, as sqlite3 -csv writes it.  report's
 * filters are bound parameters, never spliced into SQL.
 */
#include "hangup/query.h"
#include "hangup/cli.h"
#include "hangup/filters.h"
#include "hangup/htmldb.h"
#include "hangup/incident.h"
#include "hangup/report.h"
#include "hangup/rows.h"
#include "hangup/store.h"
#include "hangup/strbuf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <time.h>

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

const char hu_usage_query[] =
    "usage: hangup query [--db DB] [--csv | --json] SQL\n"
    "\n"
    "Run one read-only SQL statement over the incident database and print the\n"
    "result: an aligned table by default, CSV with --csv (a header row, then\n"
    "RFC 4180 rows), or one JSON object per row with --json.  The database is\n"
    "opened read-only: statements that would change it are refused (on\n"
    "PostgreSQL, the statement runs in a read-only transaction, rolled back).\n"
    "\n"
    "tables: captures, incidents, incident_packets, connections, servers\n"
    "views:  captures_view, incidents_view, servers_view (ISO times, ms)\n"
    "\n"
    "options:\n"
    "      --db DB     the database (default: hangup.db): an SQLite file, or\n"
    "                  PostgreSQL as postgresql://USER@HOST:PORT/DB or key=value\n"
    "      --csv       CSV output\n"
    "      --json      JSON output, one object per row\n"
    "  -h, --help      show this help\n"
    "\n"
    "example:\n"
    "  hangup query \"SELECT server, verdict, count(*) FROM incidents GROUP BY 1, 2\"\n"
    "\n"
    "exit status: 0 done; 1 the output could not be written; 2 usage error or a\n"
    "statement that is refused (not one read-only statement, ATTACH,\n"
    "load_extension) or does not compile; 4 the database cannot be read.\n";

const char hu_usage_report[] =
    "usage: hangup report [--db DB] [--kind K] [--capture ID] [--server ADDR:PORT]\n"
    "                     [--sensor NAME] [--since TIME] [--until TIME]\n"
    "                     [--section NAME]\n"
    "                     [--csv | --json | --html FILE]\n"
    "\n"
    "Answer the usual questions from the database: incidents by day and by\n"
    "server, the verdict mix, lost requests by method and target, each\n"
    "server's inferred keep-alive timeout and what to change.  Over the whole\n"
    "database, or only one capture, one server, or a time range (of the RST).\n"
    "\n"
    "options:\n"
    "      --db DB             the database (default: hangup.db): an SQLite file,\n"
    "                          or postgresql://USER@HOST:PORT/DB or key=value\n"
    "      --kind K            only incidents of kind K (keepalive-race,\n"
    "                          server-timeout, ...; see 'hangup help analyze')\n"
    "      --capture ID        only this capture (see captures.id)\n"
    "      --server ADDR:PORT  only this server ([v6addr]:port for IPv6)\n"
    "      --sensor NAME       only captures analysed by this sensor (--sensor of\n"
    "                          analyze and live; with more than one sensor in the\n"
    "                          database, a section counts incidents by sensor)\n"
    "      --since TIME        from TIME on: 2026-11-21, 2026-11-21T15:04:05Z,\n"
    "                          or seconds since the epoch (UTC)\n"
    "      --until TIME        before TIME\n"
    "      --section NAME      only one section: kinds, sensors, days, servers,\n"
    "                          requests or timeouts\n"
    "      --csv               CSV (RFC 4180): each section a header row and its\n"
    "                          rows, sections apart by an empty line (one\n"
    "                          clean table with --section)\n"
    "      --json              one JSON object per row, its section first:\n"
    "                          {\"section\":\"kinds\",\"kind\":...}\n"
    "      --html FILE         write the incidents the filters pass and their\n"
    "                          servers as one self-contained HTML page (a\n"
    "                          packet ladder per incident) instead\n"
    "  -h, --help              show this help\n"
    "\n"
    "exit status: 0 done; 1 the output could not be written; 2 usage error;\n"
    "4 the database cannot be read.\n";

const char hu_usage_show[] =
    "usage: hangup show [--db DB] [--kind K[,K...]] [--html FILE] ID\n"
    "\n"
    "Print stored incident ID (see incidents.id) exactly as 'hangup analyze'\n"
    "printed it: the explanation and the tcpdump -n timeline, from the\n"
    "database alone (the capture file is not needed).\n"
    "\n"
    "options:\n"
    "      --db DB     the database (default: hangup.db; or postgresql://...)\n"
    "      --kind K    only if the incident is of kind K (else exit 1)\n"
    "      --html FILE write it as a self-contained HTML page with its packet\n"
    "                  ladder instead\n"
    "  -h, --help      show this help\n"
    "\n"
    "exit status: 0 printed; 1 no such incident, not of the kind asked for, or\n"
    "the output could not be written; 2 usage error; 4 the database cannot be\n"
    "read.\n";

/* One cell for a terminal: printable ASCII as is, the rest escaped. */
static void cell_text(hu_sb *sb, hu_rows *q, int i)
{
    size_t n;
    switch (hu_rows_type(q, i)) {
    case HU_CELL_NULL:
        hu_sb_puts(sb, "NULL");
        return;
    case HU_CELL_BLOB: {
        const uint8_t *b = hu_rows_blob(q, i, &n);
        hu_sb_puts(sb, "x'");
        for (size_t k = 0; k < n; k++)
            hu_sb_printf(sb, "%02x", b[k]);
        hu_sb_putc(sb, '\'');
        return;
    }
    default: {
        const char *t = hu_rows_text(q, i, &n);
        hu_sb_safe(sb, (const uint8_t *)t, n);
        return;
    }
    }
}

/* One field as RFC 4180 has it: the bytes unchanged (CSV is for programs
 * and files, as sqlite3 -csv writes it), quoted when they hold a comma, a
 * quote or a line break. */
static void csv_field(hu_sb *sb, const char *t, size_t n)
{
    bool quote = false;
    for (size_t k = 0; k < n && !quote; k++)
        quote = t[k] == ',' || t[k] == '"' || t[k] == '\r' || t[k] == '\n';
    if (!quote) {
        hu_sb_put(sb, t, n);
        return;
    }
    hu_sb_putc(sb, '"');
    for (size_t k = 0; k < n; k++) {
        if (t[k] == '"')
            hu_sb_putc(sb, '"');
        hu_sb_putc(sb, t[k]);
    }
    hu_sb_putc(sb, '"');
}

/* A result cell in CSV: NULL empty, a blob as x'..' hex, the rest as is. */
static void cell_csv(hu_sb *sb, hu_rows *q, int i)
{
    hu_cell type = hu_rows_type(q, i);
    if (type == HU_CELL_NULL)
        return;
    if (type == HU_CELL_BLOB) {
        cell_text(sb, q, i);
        return;
    }
    size_t n;
    const char *t = hu_rows_text(q, i, &n);
    csv_field(sb, t, n);
}

static void cell_json(hu_sb *sb, hu_rows *q, int i)
{
    size_t n;
    switch (hu_rows_type(q, i)) {
    case HU_CELL_NULL:
        hu_sb_puts(sb, "null");
        return;
    case HU_CELL_INT:
        hu_sb_printf(sb, "%lld", (long long)hu_rows_int(q, i));
        return;
    case HU_CELL_FLOAT:
        hu_sb_printf(sb, "%.17g", hu_rows_double(q, i));
        return;
    default: {
        const char *t = hu_rows_text(q, i, &n);
        hu_sb_json_str(sb, (const uint8_t *)t, n);
        return;
    }
    }
}

/* Print a whole result set: the table under its title (if any), or CSV,
 * or JSON objects whose first member is "section": name (when name is not
 * NULL).  Returns false on a database error (message in err). */
static bool print_result(hu_rows *q, enum fmt fmt, FILE *out, const char *title,
                         const char *name, char *err, size_t errlen)
{
    int nc = hu_rows_ncols(q);
    hu_sb sb = {0};
    if (fmt == FMT_CSV) {
        for (int i = 0; i < nc; i++) {
            if (i)
                hu_sb_putc(&sb, ',');
            const char *col = hu_rows_name(q, i);
            csv_field(&sb, col, strlen(col));
        }
        hu_sb_puts(&sb, "\r\n");
    }
    /* For the table: every cell rendered first, to size the columns. */
    char **cells = NULL;
    size_t rows = 0, cap = 0;
    int rc;
    while ((rc = hu_rows_next(q)) == 1) {
        if (fmt == FMT_CSV) {
            for (int i = 0; i < nc; i++) {
                if (i)
                    hu_sb_putc(&sb, ',');
                cell_csv(&sb, q, i);
            }
            hu_sb_puts(&sb, "\r\n");
        } else if (fmt == FMT_JSON) {
            hu_sb_putc(&sb, '{');
            if (name)
                hu_sb_printf(&sb, "\"section\":\"%s\"%s", name, nc ? "," : "");
            for (int i = 0; i < nc; i++) {
                if (i)
                    hu_sb_putc(&sb, ',');
                const char *col = hu_rows_name(q, i);
                hu_sb_json_str(&sb, (const uint8_t *)col, strlen(col));
                hu_sb_putc(&sb, ':');
                cell_json(&sb, q, i);
            }
            hu_sb_puts(&sb, "}\n");
        } else {
            if ((rows + 1) * (size_t)nc > cap) {
                cap = cap ? cap * 2 : (size_t)nc * 16;
                char **nc2 = realloc(cells, cap * sizeof *nc2);
                if (!nc2)
                    break;
                cells = nc2;
            }
            for (int i = 0; i < nc; i++) {
                hu_sb c = {0};
                cell_text(&c, q, i);
                cells[rows * (size_t)nc + (size_t)i] = c.buf ? c.buf : strdup("");
            }
            rows++;
        }
        if (sb.len > 65536) {   /* stream long CSV/JSON output */
            hu_sb_write(&sb, out);
            hu_sb_reset(&sb);
        }
    }
    bool ok = rc == 0;
    if (!ok)
        snprintf(err, errlen, "%s", rc < 0 ? hu_rows_error(q) : "out of memory");
    if (fmt == FMT_TABLE && ok) {
        size_t *w = calloc((size_t)nc, sizeof *w);
        for (int i = 0; w && i < nc; i++) {
            w[i] = strlen(hu_rows_name(q, i));
            for (size_t r = 0; r < rows; r++) {
                size_t l = strlen(cells[r * (size_t)nc + (size_t)i]);
                if (l > w[i])
                    w[i] = l;
            }
        }
        if (title)
            hu_sb_printf(&sb, "%s\n", title);
        for (int i = 0; w && i < nc; i++)
            hu_sb_printf(&sb, "%s%-*s", i ? "  " : "", i + 1 < nc ? (int)w[i] : 0,
                         hu_rows_name(q, i));
        hu_sb_putc(&sb, '\n');
        for (int i = 0; w && i < nc; i++) {
            hu_sb_puts(&sb, i ? "  " : "");
            for (size_t k = 0; k < w[i]; k++)
                hu_sb_putc(&sb, '-');
        }
        hu_sb_putc(&sb, '\n');
        for (size_t r = 0; w && r < rows; r++) {
            for (int i = 0; i < nc; i++)
                hu_sb_printf(&sb, "%s%-*s", i ? "  " : "", i + 1 < nc ? (int)w[i] : 0,
                             cells[r * (size_t)nc + (size_t)i]);
            hu_sb_putc(&sb, '\n');
        }
        hu_sb_printf(&sb, "(%zu row%s)\n", rows, rows == 1 ? "" : "s");
        free(w);
    }
    for (size_t k = 0; k < rows * (size_t)nc; k++)
        free(cells[k]);
    free(cells);
    hu_sb_write(&sb, out);
    hu_sb_free(&sb);
    return ok;
}

static hu_store *open_ro(const char *path)
{
    char err[1024];
    hu_store *s = hu_store_open(path, true, err, sizeof err);
    if (!s)
        fprintf(stderr, "hangup: %s\n", err);
    return s;
}

int hu_cmd_query(int argc, char **argv)
{
    const char *db = HU_CLI_DEFAULT_DB;
    enum fmt fmt = FMT_TABLE;
    enum { OPT_DB = 256, OPT_CSV, OPT_JSON };
    static const struct option lo[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "csv", no_argument, NULL, OPT_CSV },
        { "json", no_argument, NULL, OPT_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_CSV: fmt = FMT_CSV; break;
        case OPT_JSON: fmt = FMT_JSON; break;
        case 'h': fputs(hu_usage_query, stdout); return 0;
        default: fputs("Run 'hangup help query' for usage.\n", stderr); return HU_CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs("hangup: query takes one SQL statement (quote it)\n"
              "Run 'hangup help query' for usage.\n", stderr);
        return HU_CLI_EXIT_USAGE;
    }
    const char *sql = argv[optind];
    hu_store *s = open_ro(db);
    if (!s)
        return HU_CLI_EXIT_DB;
    int status = 0;
    char err[512];
    bool usage;
    hu_rows *q = hu_rows_user(s, sql, &usage, err, sizeof err);
    if (!q) {
        fprintf(stderr, "hangup: query: %s\n", err);
        status = usage ? HU_CLI_EXIT_USAGE : HU_CLI_EXIT_DB;
    } else if (!print_result(q, fmt, stdout, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "hangup: query: %s\n", err);
        status = HU_CLI_EXIT_DB;
    }
    hu_rows_close(q);
    hu_store_close(s);
    return status;
}

/* "2026-11-21", "2026-11-21T15:04:05Z", "2026-11-21 15:04:05" or epoch
 * seconds, UTC; -> microseconds.  False when it is none of those. */
static bool parse_time(const char *t, int64_t *us)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (!errno && *end == '\0' && end != t) {
        *us = (int64_t)v * 1000000;
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *r = strptime(t, "%Y-%m-%d", &tm);
    if (!r)
        return false;
    if (*r == 'T' || *r == ' ') {
        r = strptime(r + 1, "%H:%M:%S", &tm);
        if (!r)
            return false;
        if (*r == 'Z')
            r++;
    }
    if (*r)
        return false;
    *us = (int64_t)timegm(&tm) * 1000000;
    return true;
}

/* report's filters (filters.h) as every section applies them. */
#define INC_WHERE HU_FILTERS_INC_WHERE
#define SRV_WHERE HU_FILTERS_SRV_WHERE

/* Each section in SQLite's SQL and in PostgreSQL's, giving the same
 * answer: PostgreSQL sums integers to numeric and booleans not at all (so
 * ::bigint and ::int), sorts NULL after every value (SQLite before: NULLS
 * FIRST/LAST where a NULL can sort) and wants every column grouped. */
static const struct section {
    const char *name;         /* --section, and "section" in JSON */
    const char *title;
    const char *sql;
    const char *pg;
    bool sensors;             /* only with more than one sensor, or asked for */
} sections[] = {
    { "kinds", "Incidents by kind and verdict",
      "SELECT i.kind, coalesce(i.verdict, '') AS verdict, count(*) AS incidents,"
      " sum(i.safe_to_retry) AS safe_to_retry, sum(i.retried) AS retried"
      " FROM incidents i" INC_WHERE " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
      "SELECT i.kind, coalesce(i.verdict, '') AS verdict, count(*) AS incidents,"
      " sum(i.safe_to_retry)::bigint AS safe_to_retry, sum(i.retried)::bigint AS retried"
      " FROM incidents i" INC_WHERE " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2", false },
    { "sensors", "Incidents by sensor",
      "SELECT coalesce(c.sensor, '') AS sensor, count(DISTINCT i.capture_id) AS captures,"
      " count(*) AS incidents, sum(i.kind = 'keepalive-race') AS races,"
      " count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale"
      " FROM incidents i JOIN captures c ON c.id = i.capture_id" INC_WHERE
      " GROUP BY 1 ORDER BY 3 DESC, 1",
      "SELECT coalesce(c.sensor, '') AS sensor, count(DISTINCT i.capture_id) AS captures,"
      " count(*) AS incidents, sum((i.kind = 'keepalive-race')::int)::bigint AS races,"
      " count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale"
      " FROM incidents i JOIN captures c ON c.id = i.capture_id" INC_WHERE
      " GROUP BY 1 ORDER BY 3 DESC, 1", true },
    { "days", "Incidents by day (UTC, by the time of the closing packet)",
      "SELECT date(coalesce(i.rst_time, i.fin_time, i.request_time) / 1000000, 'unixepoch')"
      " AS day, count(*) AS incidents, sum(i.kind = 'keepalive-race') AS races,"
      " count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale"
      " FROM incidents i" INC_WHERE " GROUP BY 1 ORDER BY 1",
      "SELECT to_char(to_timestamp(coalesce(i.rst_time, i.fin_time, i.request_time) / 1000000)"
      " AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS incidents,"
      " sum((i.kind = 'keepalive-race')::int)::bigint AS races,"
      " count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale"
      " FROM incidents i" INC_WHERE " GROUP BY 1 ORDER BY 1 NULLS FIRST", false },
    { "servers", "Incidents by server",
      "SELECT i.server, count(*) AS incidents, sum(i.kind = 'keepalive-race') AS races,"
      " count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale,"
      " count(DISTINCT i.capture_id) AS captures,"
      " round(avg(i.idle_us) / 1000.0, 1) AS avg_idle_ms"
      " FROM incidents i" INC_WHERE " GROUP BY 1 ORDER BY 2 DESC, 1",
      "SELECT i.server, count(*) AS incidents, sum((i.kind = 'keepalive-race')::int)::bigint"
      " AS races, count(CASE i.verdict WHEN 'crossed' THEN 1 END) AS crossed,"
      " count(CASE i.verdict WHEN 'stale' THEN 1 END) AS stale,"
      " count(DISTINCT i.capture_id) AS captures,"
      " round(avg(i.idle_us) / 1000.0, 1)::float8 AS avg_idle_ms"
      " FROM incidents i" INC_WHERE " GROUP BY 1 ORDER BY 2 DESC, 1", false },
    { "requests", "Lost requests by method and target",
      "SELECT coalesce(i.method, CASE WHEN i.tls THEN '(TLS)' ELSE '(unknown)' END) AS method,"
      " coalesce(i.target, '') AS target, count(*) AS lost,"
      " sum(i.safe_to_retry) AS safe_to_retry, sum(i.retried) AS retried"
      " FROM incidents i" INC_WHERE " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 25",
      "SELECT coalesce(i.method, CASE WHEN i.tls <> 0 THEN '(TLS)' ELSE '(unknown)' END)"
      " AS method, coalesce(i.target, '') AS target, count(*) AS lost,"
      " sum(i.safe_to_retry)::bigint AS safe_to_retry, sum(i.retried)::bigint AS retried"
      " FROM incidents i" INC_WHERE " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 25", false },
    /* Counts are summed over the captures; the timeout, the reuse idle and
     * the advice come from one capture's row (the one with race risk, else
     * the latest), so the advice speaks of the figures beside it. */
    { "timeouts", "Keep-alive timeouts inferred per server, and what to change",
      "SELECT s.server, sum(s.connections) AS connections, sum(s.requests) AS requests,"
      " sum(s.idle_closes) AS idle_closes, sum(s.crossed + s.stale) AS races,"
      " sum(s.incidents) AS incidents,"
      " round(a.idle_timeout_us / 1000.0, 1) AS idle_timeout_ms,"
      " round(a.max_reuse_idle_us / 1000.0, 1) AS max_reuse_idle_ms,"
      " max(s.race_risk) AS race_risk, a.advice AS advice"
      " FROM servers s JOIN captures c ON c.id = s.capture_id"
      " JOIN servers a ON a.id = (SELECT s3.id FROM servers s3 JOIN captures c3"
      "   ON c3.id = s3.capture_id WHERE s3.server = s.server AND ($1 = 0 OR s3.capture_id = $1)"
      "   ORDER BY s3.race_risk DESC, c3.last_time DESC, s3.id DESC LIMIT 1)" SRV_WHERE
      " GROUP BY s.server ORDER BY 5 DESC, 6 DESC, 2 DESC, 1",
      "SELECT s.server, sum(s.connections)::bigint AS connections,"
      " sum(s.requests)::bigint AS requests, sum(s.idle_closes)::bigint AS idle_closes,"
      " sum(s.crossed + s.stale)::bigint AS races, sum(s.incidents)::bigint AS incidents,"
      " round(a.idle_timeout_us / 1000.0, 1)::float8 AS idle_timeout_ms,"
      " round(a.max_reuse_idle_us / 1000.0, 1)::float8 AS max_reuse_idle_ms,"
      " max(s.race_risk) AS race_risk, a.advice AS advice"
      " FROM servers s JOIN captures c ON c.id = s.capture_id"
      " JOIN servers a ON a.id = (SELECT s3.id FROM servers s3 JOIN captures c3"
      "   ON c3.id = s3.capture_id WHERE s3.server = s.server AND ($1 = 0 OR s3.capture_id = $1)"
      "   ORDER BY s3.race_risk DESC, c3.last_time DESC NULLS LAST, s3.id DESC LIMIT 1)"
      SRV_WHERE " GROUP BY s.server, a.id ORDER BY 5 DESC NULLS LAST, 6 DESC NULLS LAST,"
      " 2 DESC NULLS LAST, 1", false },
};

/* Whether the captures under filters f come from more than one sensor
 * (captures of no known sensor counting as one more); false on error. */
static bool many_sensors(hu_store *s, const hu_param *p)
{
    char err[256];
    hu_rows *q = hu_rows_open(s, "SELECT count(DISTINCT coalesce(sensor, '')) FROM captures"
                              " WHERE ($1 = 0 OR id = $1) AND ($6 IS NULL OR sensor = $6)",
                              p, HU_FILTERS_NPARAMS, err, sizeof err);
    bool many = q && hu_rows_next(q) == 1 && hu_rows_int(q, 0) > 1;
    hu_rows_close(q);
    return many;
}

/* report's sections (only the one named `only`, if not NULL) over the
 * database at db under filters f, in format fmt; the exit status. */
static int report_sections(const char *db, const hu_filters *f, enum fmt fmt, const char *only)
{
    hu_store *s = open_ro(db);
    if (!s)
        return HU_CLI_EXIT_DB;
    hu_param p[HU_FILTERS_NPARAMS];
    hu_filters_params(f, p);
    bool pg = hu_store_pg(s) != NULL;
    bool sensors = only ? strcmp(only, "sensors") == 0 : many_sensors(s, p);
    int status = 0;
    bool first = true;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0] && status == 0; i++) {
        if (only && strcmp(only, sections[i].name) != 0)
            continue;
        if (sections[i].sensors && !sensors)
            continue;
        char err[512];
        hu_rows *q = hu_rows_open(s, pg ? sections[i].pg : sections[i].sql, p,
                                  HU_FILTERS_NPARAMS, err, sizeof err);
        if (!q) {
            fprintf(stderr, "hangup: report: %s (is %s a hangup database?)\n", err,
                    hu_store_name(s));
            status = HU_CLI_EXIT_DB;
            break;
        }
        if (!first && fmt != FMT_JSON)
            fputs(fmt == FMT_CSV ? "\r\n" : "\n", stdout);
        first = false;
        if (!print_result(q, fmt, stdout, sections[i].title, sections[i].name, err, sizeof err)) {
            fprintf(stderr, "hangup: report: %s\n", err);
            status = HU_CLI_EXIT_DB;
        }
        hu_rows_close(q);
    }
    hu_store_close(s);
    return status;
}

int hu_cmd_report(int argc, char **argv)
{
    const char *db = HU_CLI_DEFAULT_DB;
    hu_filters f = HU_FILTERS_OPEN;
    enum fmt fmt = FMT_TABLE;
    const char *only = NULL;   /* --section */
    enum { OPT_DB = 256, OPT_CAP, OPT_SRV, OPT_SINCE, OPT_UNTIL, OPT_KIND, OPT_SECTION, OPT_CSV,
           OPT_JSON, OPT_SENSOR, OPT_HTML };
    const char *html = NULL;
    static const struct option lo[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "kind", required_argument, NULL, OPT_KIND },
        { "capture", required_argument, NULL, OPT_CAP },
        { "server", required_argument, NULL, OPT_SRV },
        { "since", required_argument, NULL, OPT_SINCE },
        { "until", required_argument, NULL, OPT_UNTIL },
        { "section", required_argument, NULL, OPT_SECTION },
        { "csv", no_argument, NULL, OPT_CSV },
        { "json", no_argument, NULL, OPT_JSON },
        { "sensor", required_argument, NULL, OPT_SENSOR },
        { "html", required_argument, NULL, OPT_HTML },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_CAP:
            f.capture = strtoll(optarg, &end, 10);
            if (*end || f.capture <= 0) {
                fprintf(stderr, "hangup: --capture takes a capture id, not '%s'\n", optarg);
                return HU_CLI_EXIT_USAGE;
            }
            break;
        case OPT_SRV: {
            /* Servers are stored as ADDR:PORT; a bare address would match
             * nothing, silently. */
            unsigned char a[16];
            bool v4 = inet_pton(AF_INET, optarg, a) == 1, v6 = inet_pton(AF_INET6, optarg, a) == 1;
            if (v4 || v6) {
                fprintf(stderr, "hangup: --server needs the port too: %s%s%s:PORT (see 'hangup "
                                "report' without --server for the servers)\n",
                        v6 ? "[" : "", optarg, v6 ? "]" : "");
                return HU_CLI_EXIT_USAGE;
            }
            f.server = optarg;
            break;
        }
        case OPT_KIND:
            if (hu_kind_parse(optarg) < 0) {
                unsigned m = 0;
                hu_cli_parse_kinds(optarg, &m);   /* prints the message */
                return HU_CLI_EXIT_USAGE;
            }
            f.kind = optarg;
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
            if (!parse_time(optarg, c == OPT_SINCE ? &f.since : &f.until)) {
                fprintf(stderr, "hangup: --%s takes 2026-11-21, 2026-11-21T15:04:05Z or epoch "
                                "seconds, not '%s'\n", c == OPT_SINCE ? "since" : "until", optarg);
                return HU_CLI_EXIT_USAGE;
            }
            break;
        case OPT_SECTION: {
            size_t k = 0;
            while (k < sizeof sections / sizeof sections[0] && strcmp(sections[k].name, optarg))
                k++;
            if (k == sizeof sections / sizeof sections[0]) {
                fprintf(stderr, "hangup: --section takes kinds, sensors, days, servers, requests "
                                "or timeouts, not '%s'\n", optarg);
                return HU_CLI_EXIT_USAGE;
            }
            only = sections[k].name;
            break;
        }
        case OPT_CSV: fmt = FMT_CSV; break;
        case OPT_JSON: fmt = FMT_JSON; break;
        case OPT_SENSOR:
            if (!hu_cli_check_sensor(optarg))
                return HU_CLI_EXIT_USAGE;
            f.sensor = optarg;
            break;
        case OPT_HTML: html = optarg; break;
        case 'h': fputs(hu_usage_report, stdout); return 0;
        default: fputs("Run 'hangup help report' for usage.\n", stderr); return HU_CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs("hangup: report takes no arguments besides its options\n", stderr);
        return HU_CLI_EXIT_USAGE;
    }
    if (html)
        return hu_html_report_db(db, &f, html);
    return report_sections(db, &f, fmt, only);
}
int hu_cmd_show(int argc, char **argv)
{
    const char *db = HU_CLI_DEFAULT_DB;
    unsigned kinds = 0;
    const char *html = NULL;
    enum { OPT_DB = 256, OPT_KIND, OPT_HTML };
    static const struct option lo[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "kind", required_argument, NULL, OPT_KIND },
        { "html", required_argument, NULL, OPT_HTML },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_KIND:
            if (!hu_cli_parse_kinds(optarg, &kinds))
                return HU_CLI_EXIT_USAGE;
            break;
        case OPT_HTML: html = optarg; break;
        case 'h': fputs(hu_usage_show, stdout); return 0;
        default: fputs("Run 'hangup help show' for usage.\n", stderr); return HU_CLI_EXIT_USAGE;
        }
    }
    char *end;
    long long id = optind == argc - 1 ? strtoll(argv[optind], &end, 10) : 0;
    if (optind != argc - 1 || *end || id <= 0) {
        fputs("hangup: show takes one incident ID (a number; see incidents.id)\n", stderr);
        return HU_CLI_EXIT_USAGE;
    }
    hu_store *s = open_ro(db);
    if (!s)
        return HU_CLI_EXIT_DB;
    char err[1024];
    bool missing;
    hu_incident_rec *r = hu_store_load_incident(s, id, &missing, err, sizeof err);
    int status = 0;
    if (!r) {   /* no such incident is the user's input, not a database failure */
        fprintf(stderr, "hangup: %s\n", err);
        status = missing ? HU_CLI_EXIT_INPUT : HU_CLI_EXIT_DB;
    } else if (kinds && !(kinds & (1u << r->kindid))) {
        fprintf(stderr, "hangup: incident %lld is a %s, not of the kind asked for\n", id,
                r->kind);
        status = HU_CLI_EXIT_INPUT;
        hu_incident_rec_free(r);
    } else if (html) {
        status = hu_html_show(r, html);
        hu_incident_rec_free(r);
    } else {
        tzset();
        hu_sb sb = {0};
        hu_incident_render(&sb, r, true);
        if (sb.oom)
            status = HU_CLI_EXIT_NOMEM;
        hu_sb_write(&sb, stdout);
        hu_sb_free(&sb);
        hu_incident_rec_free(r);
    }
    hu_store_close(s);
    return status;
}
