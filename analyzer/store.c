/*
 * store.c -- incidents in SQLite (see store.h for the contract).
 *
 * In the manner of FreeBSD pkg's pkgdb.c: WAL journal, synchronous=NORMAL,
 * a busy timeout, foreign keys on, numbered migrations applied one version
 * per transaction and recorded in PRAGMA user_version, and an
 * enum-indexed table of statements prepared once and reused.  Every value
 * is bound, never spliced into SQL text.  Each capture is one
 * transaction: BEGIN IMMEDIATE at hu_store_begin, COMMIT at hu_store_end.
 *
 * Connection rows are written by a thread of the capture's own (storeq.h),
 * started at hu_store_begin and stopped at hu_store_end or
 * hu_store_abort; every other function here takes its lock, so callers
 * never do.
 */
#include "hangup/store.h"
#include "hangup/report.h"
#include "storeq.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#ifndef HANGUP_VERSION
#define HANGUP_VERSION "0.1.0"
#endif

#define HU_BUSY_TIMEOUT_MS 3000

/* Migration N takes a database from version N-1 to N. */
static const char *const migrations[] = {
    /* 1: the tables */
    "CREATE TABLE captures ("
    " id INTEGER PRIMARY KEY,"
    " source TEXT NOT NULL,"
    " kind TEXT NOT NULL DEFAULT 'file',"
    " link_type TEXT,"
    " content_hash TEXT,"
    " first_time INTEGER,"
    " last_time INTEGER,"
    " packets INTEGER NOT NULL DEFAULT 0,"
    " analyzer_version TEXT NOT NULL,"
    " analyzed_at INTEGER NOT NULL,"
    " complete INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX captures_by_hash ON captures(content_hash);"
    "CREATE TABLE connections ("
    " id INTEGER PRIMARY KEY,"
    " capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL,"
    " client TEXT NOT NULL, server TEXT NOT NULL, ip_version INTEGER NOT NULL,"
    " first_time INTEGER NOT NULL, last_time INTEGER NOT NULL, packets INTEGER NOT NULL,"
    " handshake_seen INTEGER NOT NULL, rtt_us INTEGER,"
    " reassembly TEXT NOT NULL,"
    " idle_close_us INTEGER,"
    " incident INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX connections_by_capture ON connections(capture_id);"
    "CREATE INDEX connections_by_server ON connections(server);"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY,"
    " capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL,"
    " kind TEXT NOT NULL, verdict TEXT NOT NULL,"
    " client TEXT NOT NULL, server TEXT NOT NULL, ip_version INTEGER NOT NULL,"
    " file TEXT NOT NULL,"
    " fin_packet INTEGER NOT NULL, request_packet INTEGER NOT NULL, rst_packet INTEGER NOT NULL,"
    " fin_time INTEGER NOT NULL, request_time INTEGER NOT NULL, rst_time INTEGER NOT NULL,"
    " gap_us INTEGER NOT NULL, rtt_us INTEGER, rst_ack INTEGER NOT NULL,"
    " method TEXT, target TEXT, tls INTEGER NOT NULL, handshake_seen INTEGER NOT NULL,"
    " safe_to_retry INTEGER NOT NULL,"
    " host TEXT, http_version TEXT, content_length INTEGER,"
    " requests_before INTEGER, idle_us INTEGER, server_idle_close_us INTEGER,"
    " close_announced INTEGER NOT NULL, keepalive_hint_s INTEGER, sni TEXT,"
    " retried INTEGER NOT NULL, retry_delay_us INTEGER,"
    " reassembly TEXT NOT NULL,"
    " server_acked INTEGER NOT NULL, request_complete INTEGER NOT NULL,"
    " connection INTEGER NOT NULL);"
    "CREATE INDEX incidents_by_capture ON incidents(capture_id);"
    "CREATE INDEX incidents_by_time ON incidents(rst_time);"
    "CREATE INDEX incidents_by_server ON incidents(server);"
    "CREATE TABLE incident_packets ("
    " incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL,"
    " packet INTEGER NOT NULL, time INTEGER NOT NULL,"
    " sender TEXT NOT NULL, flags TEXT NOT NULL,"
    " seq INTEGER NOT NULL, ack INTEGER NOT NULL, length INTEGER NOT NULL,"
    " omitted_before INTEGER NOT NULL DEFAULT 0,"
    " line TEXT NOT NULL, note TEXT,"
    " PRIMARY KEY (incident_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE servers ("
    " id INTEGER PRIMARY KEY,"
    " capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,"
    " server TEXT NOT NULL, ip_version INTEGER NOT NULL,"
    " connections INTEGER NOT NULL, requests INTEGER NOT NULL, idle_closes INTEGER NOT NULL,"
    " incidents INTEGER NOT NULL, crossed INTEGER NOT NULL, stale INTEGER NOT NULL,"
    " idle_timeout_us INTEGER, idle_timeout_spread_us INTEGER, max_reuse_idle_us INTEGER,"
    " rtt_us INTEGER, race_risk INTEGER NOT NULL, advice TEXT NOT NULL);"
    "CREATE INDEX servers_by_capture ON servers(capture_id);"
    "CREATE INDEX servers_by_server ON servers(server);",

    /* 2: views that render times as ISO-8601 and durations in ms */
#define ISO(col) \
    "strftime('%Y-%m-%dT%H:%M:%S', " col " / 1000000, 'unixepoch') || '.' || " \
    "printf('%06d', " col " % 1000000) || 'Z'"
    "CREATE VIEW captures_view AS SELECT id, source, kind, link_type, content_hash,"
    " " ISO("first_time") " AS first_time, " ISO("last_time") " AS last_time,"
    " packets, analyzer_version, " ISO("analyzed_at") " AS analyzed_at, complete"
    " FROM captures;"
    "CREATE VIEW incidents_view AS SELECT i.id, i.capture_id, c.source AS capture,"
    " i.number, i.kind, i.verdict, i.client, i.server, i.ip_version, i.file,"
    " i.fin_packet, i.request_packet, i.rst_packet,"
    " " ISO("i.fin_time") " AS fin_time, " ISO("i.request_time") " AS request_time,"
    " " ISO("i.rst_time") " AS rst_time,"
    " i.gap_us / 1000.0 AS gap_ms, i.rtt_us / 1000.0 AS rtt_ms, i.rst_ack,"
    " i.method, i.target, i.tls, i.handshake_seen, i.safe_to_retry, i.host,"
    " i.http_version, i.content_length, i.requests_before,"
    " i.idle_us / 1000.0 AS idle_ms, i.server_idle_close_us / 1000.0 AS server_idle_close_ms,"
    " i.close_announced, i.keepalive_hint_s, i.sni, i.retried,"
    " i.retry_delay_us / 1000.0 AS retry_delay_ms, i.reassembly"
    " FROM incidents i JOIN captures c ON c.id = i.capture_id;"
    "CREATE VIEW servers_view AS SELECT s.id, s.capture_id, c.source AS capture, s.server,"
    " s.ip_version, s.connections, s.requests, s.idle_closes, s.incidents, s.crossed, s.stale,"
    " s.idle_timeout_us / 1000.0 AS idle_timeout_ms,"
    " s.idle_timeout_spread_us / 1000.0 AS idle_timeout_spread_ms,"
    " s.max_reuse_idle_us / 1000.0 AS max_reuse_idle_ms, s.rtt_us / 1000.0 AS rtt_ms,"
    " s.race_risk, s.advice"
    " FROM servers s JOIN captures c ON c.id = s.capture_id;",

    /* 3: the rest of the socket-hang-up family.  Their incidents have no
     * verdict and may lack a FIN or RST, so the table is rebuilt with
     * those columns nullable (SQLite cannot relax NOT NULL in place), and
     * gains the kinds' own columns. */
    "CREATE TABLE incidents_v3 ("
    " id INTEGER PRIMARY KEY,"
    " capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL,"
    " kind TEXT NOT NULL, verdict TEXT,"
    " client TEXT NOT NULL, server TEXT NOT NULL, ip_version INTEGER NOT NULL,"
    " file TEXT NOT NULL,"
    " fin_packet INTEGER, request_packet INTEGER NOT NULL, rst_packet INTEGER,"
    " fin_time INTEGER, request_time INTEGER NOT NULL, rst_time INTEGER,"
    " gap_us INTEGER, rtt_us INTEGER, rst_ack INTEGER,"
    " method TEXT, target TEXT, tls INTEGER NOT NULL, handshake_seen INTEGER NOT NULL,"
    " safe_to_retry INTEGER NOT NULL,"
    " host TEXT, http_version TEXT, content_length INTEGER,"
    " requests_before INTEGER, idle_us INTEGER, server_idle_close_us INTEGER,"
    " close_announced INTEGER NOT NULL, keepalive_hint_s INTEGER, sni TEXT,"
    " retried INTEGER NOT NULL, retry_delay_us INTEGER,"
    " reassembly TEXT NOT NULL,"
    " server_acked INTEGER NOT NULL, request_complete INTEGER NOT NULL,"
    " connection INTEGER NOT NULL,"
    " wait_us INTEGER, close TEXT, timeout_hint TEXT, abort TEXT,"
    " late_response_rst INTEGER, late_response_packet INTEGER,"
    " tries INTEGER, spent_us INTEGER, expected_bytes INTEGER, received_bytes INTEGER);"
    "INSERT INTO incidents_v3 (id, capture_id, number, kind, verdict, client, server,"
    " ip_version, file, fin_packet, request_packet, rst_packet, fin_time, request_time,"
    " rst_time, gap_us, rtt_us, rst_ack, method, target, tls, handshake_seen, safe_to_retry,"
    " host, http_version, content_length, requests_before, idle_us, server_idle_close_us,"
    " close_announced, keepalive_hint_s, sni, retried, retry_delay_us, reassembly,"
    " server_acked, request_complete, connection)"
    " SELECT id, capture_id, number, kind, verdict, client, server,"
    " ip_version, file, fin_packet, request_packet, rst_packet, fin_time, request_time,"
    " rst_time, gap_us, rtt_us, rst_ack, method, target, tls, handshake_seen, safe_to_retry,"
    " host, http_version, content_length, requests_before, idle_us, server_idle_close_us,"
    " close_announced, keepalive_hint_s, sni, retried, retry_delay_us, reassembly,"
    " server_acked, request_complete, connection FROM incidents;"
    "DROP VIEW incidents_view;"
    "DROP TABLE incidents;"
    "ALTER TABLE incidents_v3 RENAME TO incidents;"
    "CREATE INDEX incidents_by_capture ON incidents(capture_id);"
    "CREATE INDEX incidents_by_time ON incidents(coalesce(rst_time, fin_time, request_time));"
    "CREATE INDEX incidents_by_server ON incidents(server);"
    "CREATE INDEX incidents_by_kind ON incidents(kind);"
    "CREATE VIEW incidents_view AS SELECT i.id, i.capture_id, c.source AS capture,"
    " i.number, i.kind, i.verdict, i.client, i.server, i.ip_version, i.file,"
    " i.fin_packet, i.request_packet, i.rst_packet,"
    " " ISO("i.fin_time") " AS fin_time, " ISO("i.request_time") " AS request_time,"
    " " ISO("i.rst_time") " AS rst_time,"
    " i.gap_us / 1000.0 AS gap_ms, i.rtt_us / 1000.0 AS rtt_ms, i.rst_ack,"
    " i.method, i.target, i.tls, i.handshake_seen, i.safe_to_retry, i.host,"
    " i.http_version, i.content_length, i.requests_before,"
    " i.idle_us / 1000.0 AS idle_ms, i.server_idle_close_us / 1000.0 AS server_idle_close_ms,"
    " i.close_announced, i.keepalive_hint_s, i.sni, i.retried,"
    " i.retry_delay_us / 1000.0 AS retry_delay_ms, i.reassembly,"
    " i.wait_us / 1000.0 AS wait_ms, i.close, i.timeout_hint, i.abort, i.late_response_rst,"
    " i.late_response_packet, i.tries, i.spent_us / 1000.0 AS spent_ms, i.expected_bytes,"
    " i.received_bytes"
    " FROM incidents i JOIN captures c ON c.id = i.capture_id;",
#undef ISO
};

_Static_assert(sizeof migrations / sizeof migrations[0] == HU_STORE_VERSION,
               "one migration per schema version");

enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    ST_INS_CAPTURE, ST_UPD_CAPTURE, ST_FIND_HASH, ST_DEL_CAPTURE,
    ST_INS_INCIDENT, ST_INS_PACKET, ST_INS_CONN, ST_INS_SERVER,
    ST_GET_INCIDENT, ST_GET_PACKETS,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INS_CAPTURE] = "INSERT INTO captures (source, kind, link_type, analyzer_version, "
                       "analyzed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_UPD_CAPTURE] = "UPDATE captures SET content_hash = ?2, first_time = ?3, last_time = ?4, "
                       "packets = ?5, complete = ?6, link_type = ?7 WHERE id = ?1",
    [ST_FIND_HASH] = "SELECT id FROM captures WHERE content_hash = ?1 AND id <> ?2",
    [ST_DEL_CAPTURE] = "DELETE FROM captures WHERE id = ?1",
    [ST_INS_INCIDENT] =
        "INSERT INTO incidents (capture_id, number, kind, verdict, client, server, ip_version, "
        "file, fin_packet, request_packet, rst_packet, fin_time, request_time, rst_time, gap_us, "
        "rtt_us, rst_ack, method, target, tls, handshake_seen, safe_to_retry, host, "
        "http_version, content_length, requests_before, idle_us, server_idle_close_us, "
        "close_announced, keepalive_hint_s, sni, retried, retry_delay_us, reassembly, "
        "server_acked, request_complete, connection, wait_us, close, timeout_hint, abort, "
        "late_response_rst, late_response_packet, tries, spent_us, expected_bytes, "
        "received_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, "
        "?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, "
        "?43, ?44, ?45, ?46, ?47)",
    [ST_INS_PACKET] = "INSERT INTO incident_packets (incident_id, idx, packet, time, sender, "
                      "flags, seq, ack, length, omitted_before, line, note) VALUES (?1, ?2, ?3, "
                      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_INS_CONN] = "INSERT INTO connections (capture_id, number, client, server, ip_version, "
                    "first_time, last_time, packets, handshake_seen, rtt_us, reassembly, "
                    "idle_close_us, incident) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                    "?11, ?12, ?13)",
    [ST_INS_SERVER] = "INSERT INTO servers (capture_id, server, ip_version, connections, "
                      "requests, idle_closes, incidents, crossed, stale, idle_timeout_us, "
                      "idle_timeout_spread_us, max_reuse_idle_us, rtt_us, race_risk, advice) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [ST_GET_INCIDENT] =
        "SELECT number, kind, verdict, client, server, ip_version, file, fin_packet, "
        "request_packet, rst_packet, fin_time, request_time, rst_time, gap_us, rtt_us, rst_ack, "
        "method, target, tls, handshake_seen, safe_to_retry, host, http_version, "
        "content_length, requests_before, idle_us, server_idle_close_us, close_announced, "
        "keepalive_hint_s, sni, retried, retry_delay_us, reassembly, server_acked, "
        "request_complete, connection, kind, wait_us, close, timeout_hint, abort, "
        "late_response_rst, late_response_packet, tries, spent_us, expected_bytes, "
        "received_bytes FROM incidents WHERE id = ?1",
    [ST_GET_PACKETS] = "SELECT packet, time, sender, flags, seq, ack, length, omitted_before, "
                       "line, note FROM incident_packets WHERE incident_id = ?1 ORDER BY idx",
};

struct hu_store {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool in_tx;
    int version;
    sqlite3_stmt *st[ST_COUNT];
    /* The open capture's connection-row writer, or NULL (rows written
     * directly).  While it runs, every use of db and st holds its lock. */
    hu_storeq *writer;
};

sqlite3 *hu_store_db(hu_store *s) { return s->db; }
int hu_store_version(hu_store *s) { return s->version; }

/* One line for an SQLite failure, with the path and what we were doing. */
static void db_err(const hu_store *s, const char *doing, char *err, size_t n)
{
    int ec = sqlite3_extended_errcode(s->db);
    const char *hint = "";
    switch (ec & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        hint = " (another process is writing to it; try again when it is done)";
        break;
    case SQLITE_FULL:
        hint = " (the disk is full; nothing of this capture was kept)";
        break;
    case SQLITE_NOTADB:
        hint = " (the file is not an SQLite database; choose another --db path)";
        break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        hint = " (check that the directory exists and is writable, or use --db or --no-db)";
        break;
    case SQLITE_CORRUPT:
        hint = " (the database is damaged)";
        break;
    default:
        break;
    }
    snprintf(err, n, "database %s: %s: %s%s", s->path, doing, sqlite3_errmsg(s->db), hint);
}

static sqlite3_stmt *stmt(hu_store *s, int id)
{
    if (!s->st[id] && sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                         &s->st[id], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

static bool exec(hu_store *s, const char *sql, const char *doing, char *err, size_t n)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        db_err(s, doing, err, n);
        return false;
    }
    return true;
}

static int user_version(hu_store *s)
{
    sqlite3_stmt *q;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Apply migrations up to `target`, each in its own transaction. */
static bool migrate(hu_store *s, int target, char *err, size_t n)
{
    /* A migration may rebuild a table other tables reference: with foreign
     * keys on, dropping the old one would cascade.  The pragma only works
     * outside a transaction. */
    sqlite3_exec(s->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
    bool ok = true;
    while (ok && s->version < target) {
        int v = s->version + 1;
        char doing[64], pragma[64];
        snprintf(doing, sizeof doing, "upgrading the schema to version %d", v);
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
        if (!exec(s, "BEGIN IMMEDIATE", doing, err, n)) {
            ok = false;
            break;
        }
        if (!exec(s, migrations[v - 1], doing, err, n) || !exec(s, pragma, doing, err, n) ||
            !exec(s, "COMMIT", doing, err, n)) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            ok = false;
            break;
        }
        s->version = v;
    }
    sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return ok;
}

static hu_store *open_store(const char *path, bool readonly, int target, char *err, size_t n)
{
    hu_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, n, "database %s: out of memory", path);
        return NULL;
    }
    s->readonly = readonly;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        if (!s->db)
            snprintf(err, n, "database %s: out of memory", path);
        else if (readonly && sqlite3_errcode(s->db) == SQLITE_CANTOPEN)
            snprintf(err, n, "database %s: cannot open it: %s (analyse a capture first, or "
                             "name the database with --db)", path, sqlite3_errmsg(s->db));
        else
            db_err(s, "cannot open it", err, n);
        hu_store_close(s);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, HU_BUSY_TIMEOUT_MS);
    s->version = user_version(s);
    if (s->version < 0) {
        db_err(s, "cannot read it", err, n);
        hu_store_close(s);
        return NULL;
    }
    if (s->version > HU_STORE_VERSION) {
        snprintf(err, n, "database %s: its schema version %d is newer than this hangup "
                         "understands (%d); use a newer hangup or another --db path",
                 path, s->version, HU_STORE_VERSION);
        hu_store_close(s);
        return NULL;
    }
    if (readonly) {
        if (!exec(s, "PRAGMA query_only = ON", "opening it read-only", err, n)) {
            hu_store_close(s);
            return NULL;
        }
        return s;
    }
    if (!exec(s, "PRAGMA journal_mode = WAL", "switching it to WAL", err, n) ||
        !exec(s, "PRAGMA synchronous = NORMAL", "configuring it", err, n) ||
        !migrate(s, target, err, n)) {
        hu_store_close(s);
        return NULL;
    }
    return s;
}

hu_store *hu_store_open(const char *path, bool readonly, char *err, size_t errlen)
{
    return open_store(path, readonly, HU_STORE_VERSION, err, errlen);
}

hu_store *hu_store_open_version(const char *path, int version, char *err, size_t errlen)
{
    return open_store(path, false, version, err, errlen);
}

void hu_store_close(hu_store *s)
{
    if (!s)
        return;
    hu_store_abort(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Step a prepared insert/update to completion. */
static bool run(hu_store *s, sqlite3_stmt *q, const char *doing, char *err, size_t n)
{
    if (!q) {
        db_err(s, doing, err, n);
        return false;
    }
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_err(s, doing, err, n);
        return false;
    }
    return true;
}

static void bind_opt_int(sqlite3_stmt *q, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(q, i, v);
    else
        sqlite3_bind_null(q, i);
}

/* ---- The connection-row writer (storeq.c) behind the store's API. ---- */

/* A connection row as queued for the writer. */
typedef struct queued_conn {
    int64_t capture_id;
    hu_conn_row row;
} queued_conn;

static bool insert_connection(hu_store *s, int64_t capture_id, const hu_conn_row *r,
                              char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_INS_CONN);
    char cli[64], srv[64];   /* bound SQLITE_STATIC: alive until run() resets q */
    if (q) {
        hu_endpoint_str(cli, sizeof cli, r->ipver, r->cli_addr, r->cli_port);
        hu_endpoint_str(srv, sizeof srv, r->ipver, r->srv_addr, r->srv_port);
        sqlite3_bind_int64(q, 1, capture_id);
        sqlite3_bind_int64(q, 2, (int64_t)r->number);
        sqlite3_bind_text(q, 3, cli, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, srv, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 5, r->ipver);
        sqlite3_bind_int64(q, 6, r->first_ts);
        sqlite3_bind_int64(q, 7, r->last_ts);
        sqlite3_bind_int64(q, 8, (int64_t)r->packets);
        sqlite3_bind_int(q, 9, r->handshake_seen);
        bind_opt_int(q, 10, r->rtt_us, r->rtt_us >= 0);
        sqlite3_bind_text(q, 11, r->reassembly, -1, SQLITE_STATIC);
        bind_opt_int(q, 12, r->idle_close_us, r->idle_close_us >= 0);
        sqlite3_bind_int(q, 13, r->incident);
    }
    return run(s, q, "storing a connection", err, n);
}

/* hu_storeq_write_fn: on the writer thread, holding its lock. */
static bool write_queued(void *arg, const void *row, char *err, size_t n)
{
    const queued_conn *c = row;
    return insert_connection(arg, c->capture_id, &c->row, err, n);
}

/* Exclusive use of the handle for one of the owner's own writes.  False,
 * with the writer's reason in err, once one of its rows failed: that
 * failure came first, and what the owner would write next could only fail
 * for want of it (SQLite rolls a transaction back by itself on a full
 * disk; the capture's row goes with it). */
static bool claim(hu_store *s, char *err, size_t n)
{
    hu_storeq_lock(s->writer);
    if (!hu_storeq_failed(s->writer, err, n))
        return true;
    hu_storeq_unlock(s->writer);
    return false;
}

static void release(hu_store *s)
{
    hu_storeq_unlock(s->writer);
}

bool hu_store_begin(hu_store *s, const hu_capture_meta *m, int64_t *capture_id, char *err,
                    size_t n)
{
    if (!run(s, stmt(s, ST_BEGIN), "starting a transaction", err, n))
        return false;
    s->in_tx = true;
    sqlite3_stmt *q = stmt(s, ST_INS_CAPTURE);
    if (q) {
        sqlite3_bind_text(q, 1, m->source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, m->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, m->link_type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 4, HANGUP_VERSION, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, now_us());
    }
    if (!run(s, q, "recording the capture", err, n)) {
        hu_store_abort(s);
        return false;
    }
    *capture_id = sqlite3_last_insert_rowid(s->db);
    s->writer = hu_storeq_start(sizeof(queued_conn), write_queued, s);
    return true;
}

static void flags_str(uint8_t fl, char *b)
{
    static const struct { uint8_t bit; char c; } t[] = {
        { HU_TH_FIN, 'F' }, { HU_TH_SYN, 'S' }, { HU_TH_RST, 'R' }, { HU_TH_PUSH, 'P' },
        { HU_TH_ACK, '.' }, { HU_TH_URG, 'U' }, { HU_TH_ECE, 'E' }, { HU_TH_CWR, 'W' },
    };
    int k = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (fl & t[i].bit)
            b[k++] = t[i].c;
    b[k] = '\0';
}

static bool insert_incident(hu_store *s, int64_t capture_id, const hu_incident_rec *r,
                            char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_INS_INCIDENT);
    if (q) {
        char cli[64], srv[64];
        hu_endpoint_str(cli, sizeof cli, r->ipver, r->cli_addr, r->cli_port);
        hu_endpoint_str(srv, sizeof srv, r->ipver, r->srv_addr, r->srv_port);
        const hu_request *rq = &r->request;
        bool race = r->kindid == HU_KIND_RACE;
        sqlite3_bind_int64(q, 1, capture_id);
        sqlite3_bind_int64(q, 2, (int64_t)r->number);
        sqlite3_bind_text(q, 3, r->kind, -1, SQLITE_STATIC);
        if (race)
            sqlite3_bind_text(q, 4, hu_verdict_name(r->verdict), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, cli, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 6, srv, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(q, 7, r->ipver);
        sqlite3_bind_text(q, 8, r->file, -1, SQLITE_TRANSIENT);
        bind_opt_int(q, 9, (int64_t)r->fin.num, r->fin.num != 0);
        sqlite3_bind_int64(q, 10, (int64_t)r->req.num);
        bind_opt_int(q, 11, (int64_t)r->rst.num, r->rst.num != 0);
        bind_opt_int(q, 12, r->fin.ts_us, r->fin.num != 0);
        sqlite3_bind_int64(q, 13, r->req.ts_us);
        bind_opt_int(q, 14, r->rst.ts_us, r->rst.num != 0);
        bind_opt_int(q, 15, r->gap_us, race);
        bind_opt_int(q, 16, r->rtt_us, r->rtt_us >= 0);
        bind_opt_int(q, 17, r->rst_ack, r->rst.num != 0);
        if (rq->http) {
            sqlite3_bind_text(q, 18, rq->method, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, 19, (const char *)rq->target, (int)rq->target_len,
                              SQLITE_TRANSIENT);
        }
        sqlite3_bind_int(q, 20, rq->tls);
        sqlite3_bind_int(q, 21, r->handshake_seen);
        sqlite3_bind_int(q, 22, r->safe_to_retry);
        if (rq->has_host)
            sqlite3_bind_text(q, 23, (const char *)rq->host, (int)rq->host_len, SQLITE_TRANSIENT);
        if (rq->version[0])
            sqlite3_bind_text(q, 24, rq->version, -1, SQLITE_TRANSIENT);
        bind_opt_int(q, 25, rq->content_length, rq->content_length >= 0);
        bind_opt_int(q, 26, r->requests_before, r->requests_before >= 0);
        bind_opt_int(q, 27, r->idle_us, r->idle_us >= 0);
        bind_opt_int(q, 28, r->server_idle_close_us, r->server_idle_close_us >= 0);
        sqlite3_bind_int(q, 29, r->close_announced);
        bind_opt_int(q, 30, r->keepalive_hint_s, r->keepalive_hint_s >= 0);
        if (r->sni[0])
            sqlite3_bind_text(q, 31, r->sni, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(q, 32, r->retried);
        bind_opt_int(q, 33, r->retry_delay_us, r->retried);
        sqlite3_bind_text(q, 34, hu_reasm_name(r->reasm), -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 35, r->server_acked);
        sqlite3_bind_int(q, 36, rq->complete);
        sqlite3_bind_int64(q, 37, (int64_t)r->conn_id);
        bind_opt_int(q, 38, r->wait_us, r->wait_us >= 0);
        if (r->close[0])
            sqlite3_bind_text(q, 39, r->close, -1, SQLITE_TRANSIENT);
        if (r->timeout_hint)
            sqlite3_bind_text(q, 40, r->timeout_hint, -1, SQLITE_STATIC);
        if (r->abort[0]) {
            sqlite3_bind_text(q, 41, r->abort, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(q, 42, r->late_response_rst);
            bind_opt_int(q, 43, r->late_response_packet, r->late_response_packet >= 0);
        }
        bind_opt_int(q, 44, r->tries, r->kindid == HU_KIND_CONNECT_TIMEOUT);
        bind_opt_int(q, 45, r->spent_us, r->spent_us >= 0);
        bind_opt_int(q, 46, r->expected_bytes, r->expected_bytes >= 0);
        bind_opt_int(q, 47, r->received_bytes, r->received_bytes >= 0);
    }
    if (!run(s, q, "storing an incident", err, n))
        return false;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < r->ntimeline; i++) {
        const hu_tl_entry *t = &r->timeline[i];
        q = stmt(s, ST_INS_PACKET);
        if (q) {
            char fl[9];
            flags_str(t->flags, fl);
            sqlite3_bind_int64(q, 1, id);
            sqlite3_bind_int64(q, 2, (int64_t)i);
            sqlite3_bind_int64(q, 3, (int64_t)t->num);
            sqlite3_bind_int64(q, 4, t->ts_us);
            sqlite3_bind_text(q, 5, t->from_client ? "client" : "server", -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 6, fl, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 7, t->seq);
            sqlite3_bind_int64(q, 8, t->ack);
            sqlite3_bind_int64(q, 9, t->len);
            sqlite3_bind_int64(q, 10, (int64_t)t->omitted_before);
            sqlite3_bind_text(q, 11, t->line, -1, SQLITE_STATIC);
            if (t->note)
                sqlite3_bind_text(q, 12, t->note, -1, SQLITE_STATIC);
        }
        if (!run(s, q, "storing an incident's timeline", err, n))
            return false;
    }
    return true;
}

bool hu_store_incident(hu_store *s, int64_t capture_id, const hu_incident_rec *r, char *err,
                       size_t n)
{
    if (!claim(s, err, n))
        return false;
    bool ok = insert_incident(s, capture_id, r, err, n);
    release(s);
    return ok;
}

void hu_conn_row_of(hu_conn_row *row, const hu_flow *f, int64_t idle_close_us, bool incident)
{
    uint8_t c = f->client, sv = (uint8_t)!f->client;
    *row = (hu_conn_row){ .number = f->id, .ipver = f->ipver, .cli_port = f->port[c],
                          .srv_port = f->port[sv], .first_ts = f->first_ts,
                          .last_ts = f->last_ts, .packets = f->packets,
                          .handshake_seen = f->handshake_seen, .rtt_us = f->rtt_us,
                          .reassembly = hu_reasm_name(f->reasm),
                          .idle_close_us = idle_close_us, .incident = incident };
    memcpy(row->cli_addr, f->addr[c], sizeof row->cli_addr);
    memcpy(row->srv_addr, f->addr[sv], sizeof row->srv_addr);
}

bool hu_store_connection(hu_store *s, int64_t capture_id, const hu_conn_row *row, char *err,
                         size_t n)
{
    if (!s->writer)
        return insert_connection(s, capture_id, row, err, n);
    queued_conn c = { .capture_id = capture_id, .row = *row };
    if (hu_storeq_push(s->writer, &c))
        return true;
    hu_storeq_failed(s->writer, err, n);
    return false;
}

bool hu_store_server(hu_store *s, int64_t capture_id, const hu_server_summary *sv, char *err,
                     size_t n)
{
    if (!claim(s, err, n))
        return false;
    sqlite3_stmt *q = stmt(s, ST_INS_SERVER);
    if (q) {
        char ep[64];
        hu_endpoint_str(ep, sizeof ep, sv->ipver, sv->addr, sv->port);
        sqlite3_bind_int64(q, 1, capture_id);
        sqlite3_bind_text(q, 2, ep, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(q, 3, sv->ipver);
        sqlite3_bind_int64(q, 4, (int64_t)sv->connections);
        sqlite3_bind_int64(q, 5, (int64_t)sv->requests);
        sqlite3_bind_int64(q, 6, (int64_t)sv->idle_closes);
        sqlite3_bind_int64(q, 7, (int64_t)sv->incidents);
        sqlite3_bind_int64(q, 8, (int64_t)sv->crossed);
        sqlite3_bind_int64(q, 9, (int64_t)sv->stale);
        bind_opt_int(q, 10, sv->idle_timeout_us, sv->idle_timeout_us >= 0);
        bind_opt_int(q, 11, sv->idle_timeout_spread_us, sv->idle_timeout_spread_us >= 0);
        bind_opt_int(q, 12, sv->max_reuse_idle_us, sv->max_reuse_idle_us >= 0);
        bind_opt_int(q, 13, sv->rtt_us, sv->rtt_us >= 0);
        sqlite3_bind_int(q, 14, sv->race_risk);
        sqlite3_bind_text(q, 15, sv->advice, -1, SQLITE_TRANSIENT);
    }
    bool ok = run(s, q, "storing a server summary", err, n);
    release(s);
    return ok;
}

bool hu_store_end(hu_store *s, int64_t capture_id, const hu_capture_end *e, int64_t *replaced,
                  char *err, size_t n)
{
    *replaced = 0;
    /* Every queued row goes into this commit; then no thread but this one
     * uses the handle. */
    bool ok = hu_storeq_finish(s->writer, err, n);
    s->writer = NULL;
    if (!ok)
        goto fail;
    sqlite3_stmt *q = stmt(s, ST_UPD_CAPTURE);
    if (q) {
        sqlite3_bind_int64(q, 1, capture_id);
        sqlite3_bind_text(q, 2, e->content_hash, -1, SQLITE_TRANSIENT);
        bind_opt_int(q, 3, e->first_us, e->packets > 0);
        bind_opt_int(q, 4, e->last_us, e->packets > 0);
        sqlite3_bind_int64(q, 5, (int64_t)e->packets);
        sqlite3_bind_int(q, 6, e->complete);
        sqlite3_bind_text(q, 7, e->link_type, -1, SQLITE_TRANSIENT);
    }
    if (!run(s, q, "finishing the capture", err, n))
        goto fail;
    /* The same packets analysed before: the new rows replace the old. */
    for (;;) {
        q = stmt(s, ST_FIND_HASH);
        if (!q) {
            db_err(s, "looking for an earlier analysis", err, n);
            goto fail;
        }
        sqlite3_bind_text(q, 1, e->content_hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, capture_id);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            db_err(s, "looking for an earlier analysis", err, n);
            goto fail;
        }
        int64_t old = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
        sqlite3_stmt *d = stmt(s, ST_DEL_CAPTURE);
        if (d)
            sqlite3_bind_int64(d, 1, old);
        if (!run(s, d, "replacing the earlier analysis", err, n))
            goto fail;
        *replaced = old;
    }
    if (!run(s, stmt(s, ST_COMMIT), "committing", err, n))
        goto fail;
    s->in_tx = false;
    return true;
fail:
    hu_store_abort(s);
    return false;
}

bool hu_store_checkpoint(hu_store *s, char *err, size_t n)
{
    if (!s->in_tx)
        return true;
    hu_storeq_sync(s->writer);   /* what was queued goes into this commit */
    if (!claim(s, err, n)) {
        hu_store_abort(s);
        return false;
    }
    bool ok = run(s, stmt(s, ST_COMMIT), "committing", err, n);
    if (ok) {
        s->in_tx = false;
        ok = run(s, stmt(s, ST_BEGIN), "starting a transaction", err, n);
        s->in_tx = ok;
    }
    release(s);
    if (!ok)
        hu_store_abort(s);
    return ok;
}

void hu_store_abort(hu_store *s)
{
    hu_storeq_cancel(s->writer);   /* nothing writes during the rollback */
    s->writer = NULL;
    if (!s->in_tx)
        return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
}

/* Parse "ip:port" / "[ip6]:port" back into address and port. */
static bool parse_endpoint(const char *ep, uint8_t ipver, uint8_t *addr, uint16_t *port)
{
    char host[64];
    const char *colon = strrchr(ep, ':');
    if (!colon)
        return false;
    const char *h = ep;
    size_t hl = (size_t)(colon - ep);
    if (ipver == 6 && hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)strtoul(colon + 1, NULL, 10);
    memset(addr, 0, 16);
    return inet_pton(ipver == 4 ? AF_INET : AF_INET6, host, addr) == 1;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : NULL;
}

static int64_t col_opt(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, i);
}

static hu_incident_rec *load_incident(hu_store *s, int64_t id, char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_GET_INCIDENT);
    if (!q) {
        db_err(s, "reading incidents", err, n);
        return NULL;
    }
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            snprintf(err, n, "database %s: no incident %lld (see 'hangup query \"SELECT id, "
                             "verdict, server FROM incidents\"')", s->path, (long long)id);
        else
            db_err(s, "reading incidents", err, n);
        sqlite3_reset(q);
        return NULL;
    }
    hu_incident_rec *r = calloc(1, sizeof *r);
    if (!r) {
        sqlite3_reset(q);
        snprintf(err, n, "out of memory");
        return NULL;
    }
    r->number = (uint64_t)sqlite3_column_int64(q, 0);
    int kid = hu_kind_parse(col_text(q, 36) ? col_text(q, 36) : "");
    r->kindid = kid < 0 ? HU_KIND_RACE : (hu_kind)kid;
    r->kind = hu_kind_name(r->kindid);
    r->verdict = strcmp(col_text(q, 2) ? col_text(q, 2) : "", "stale") == 0 ? HU_VERDICT_STALE
                                                                            : HU_VERDICT_CROSSED;
    r->ipver = (uint8_t)sqlite3_column_int(q, 5);
    parse_endpoint(col_text(q, 3) ? col_text(q, 3) : "", r->ipver, r->cli_addr, &r->cli_port);
    parse_endpoint(col_text(q, 4) ? col_text(q, 4) : "", r->ipver, r->srv_addr, &r->srv_port);
    r->file_owned = strdup(col_text(q, 6) ? col_text(q, 6) : "");
    r->file = r->file_owned;
    r->fin = (hu_pktref){ (uint64_t)sqlite3_column_int64(q, 7), sqlite3_column_int64(q, 10) };
    r->req = (hu_pktref){ (uint64_t)sqlite3_column_int64(q, 8), sqlite3_column_int64(q, 11) };
    r->rst = (hu_pktref){ (uint64_t)sqlite3_column_int64(q, 9), sqlite3_column_int64(q, 12) };
    r->gap_us = sqlite3_column_int64(q, 13);
    r->wait_us = col_opt(q, 37);
    if (col_text(q, 38))
        snprintf(r->close, sizeof r->close, "%s", col_text(q, 38));
    static const char *const hints[] = { "node server.timeout 120 s", "node requestTimeout 300 s",
                                         "node headersTimeout 60 s or a proxy's read timeout 60 s" };
    for (size_t k = 0; col_text(q, 39) && k < sizeof hints / sizeof hints[0]; k++)
        if (strcmp(col_text(q, 39), hints[k]) == 0)
            r->timeout_hint = hints[k];
    if (col_text(q, 40))
        snprintf(r->abort, sizeof r->abort, "%s", col_text(q, 40));
    r->late_response_rst = sqlite3_column_int(q, 41);
    r->late_response_packet = col_opt(q, 42);
    r->tries = (int)col_opt(q, 43);
    r->spent_us = col_opt(q, 44);
    r->expected_bytes = col_opt(q, 45);
    r->received_bytes = col_opt(q, 46);
    r->rtt_us = col_opt(q, 14);
    r->rst_ack = sqlite3_column_int(q, 15);
    hu_request *rq = &r->request;
    rq->content_length = -1;
    if (sqlite3_column_type(q, 16) != SQLITE_NULL) {
        rq->http = true;
        snprintf(rq->method, sizeof rq->method, "%s", col_text(q, 16));
        int tl = sqlite3_column_bytes(q, 17);
        const void *tb = sqlite3_column_blob(q, 17);
        rq->target_len = tl > 0 && (size_t)tl < sizeof rq->target ? (size_t)tl : 0;
        if (tb && rq->target_len)
            memcpy(rq->target, tb, rq->target_len);
    }
    rq->tls = sqlite3_column_int(q, 18);
    r->handshake_seen = sqlite3_column_int(q, 19);
    r->safe_to_retry = sqlite3_column_int(q, 20);
    if (sqlite3_column_type(q, 21) != SQLITE_NULL) {
        int hl = sqlite3_column_bytes(q, 21);
        const void *hb = sqlite3_column_blob(q, 21);
        rq->has_host = true;
        rq->host_len = hl > 0 && (size_t)hl <= sizeof rq->host ? (size_t)hl : 0;
        if (hb && rq->host_len)
            memcpy(rq->host, hb, rq->host_len);
    }
    if (col_text(q, 22))
        snprintf(rq->version, sizeof rq->version, "%s", col_text(q, 22));
    rq->content_length = col_opt(q, 23);
    r->requests_before = col_opt(q, 24);
    r->idle_us = col_opt(q, 25);
    r->server_idle_close_us = col_opt(q, 26);
    r->close_announced = sqlite3_column_int(q, 27);
    r->keepalive_hint_s = (int)col_opt(q, 28);
    if (col_text(q, 29))
        snprintf(r->sni, sizeof r->sni, "%s", col_text(q, 29));
    r->retried = sqlite3_column_int(q, 30);
    r->retry_delay_us = col_opt(q, 31);
    const char *ra = col_text(q, 32) ? col_text(q, 32) : "";
    r->reasm = strcmp(ra, "libnids") == 0 ? HU_REASM_NIDS
               : strcmp(ra, "segments") == 0 ? HU_REASM_SEGMENTS : HU_REASM_NONE;
    r->server_acked = sqlite3_column_int(q, 33);
    rq->complete = sqlite3_column_int(q, 34);
    r->conn_id = (uint64_t)sqlite3_column_int64(q, 35);
    sqlite3_reset(q);

    q = stmt(s, ST_GET_PACKETS);
    if (!q) {
        db_err(s, "reading an incident's timeline", err, n);
        hu_incident_rec_free(r);
        return NULL;
    }
    sqlite3_bind_int64(q, 1, id);
    size_t cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (r->ntimeline == cap) {
            cap = cap ? cap * 2 : 16;
            hu_tl_entry *nt = realloc(r->timeline, cap * sizeof *nt);
            if (!nt)
                break;
            r->timeline = nt;
        }
        hu_tl_entry *t = &r->timeline[r->ntimeline++];
        memset(t, 0, sizeof *t);
        t->num = (uint64_t)sqlite3_column_int64(q, 0);
        t->ts_us = sqlite3_column_int64(q, 1);
        t->from_client = strcmp(col_text(q, 2) ? col_text(q, 2) : "", "client") == 0;
        t->seq = (uint32_t)sqlite3_column_int64(q, 4);
        t->ack = (uint32_t)sqlite3_column_int64(q, 5);
        t->len = (uint32_t)sqlite3_column_int64(q, 6);
        t->omitted_before = (uint64_t)sqlite3_column_int64(q, 7);
        t->line = strdup(col_text(q, 8) ? col_text(q, 8) : "");
        t->note = col_text(q, 9) ? strdup(col_text(q, 9)) : NULL;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        db_err(s, "reading an incident's timeline", err, n);
        hu_incident_rec_free(r);
        return NULL;
    }
    return r;
}

hu_incident_rec *hu_store_load_incident(hu_store *s, int64_t id, char *err, size_t n)
{
    hu_storeq_lock(s->writer);
    hu_incident_rec *r = load_incident(s, id, err, n);
    hu_storeq_unlock(s->writer);
    return r;
}
