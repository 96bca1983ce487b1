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
 * Records become rows through column tables (storecol.h): incidents, their
 * timelines, connections and server summaries each have one array from
 * which their statements, binds and loads come.  Connection rows are
 * written by a thread of the capture's own (storeq.h), started at
 * hu_store_begin and stopped at hu_store_end or hu_store_abort; every
 * other function here takes its lock, so callers never do.
 */
#include "hangup/store.h"
#include "hangup/communityid.h"
#include "hangup/packet.h"
#include "hangup/tcpprint.h"
#include "storecol.h"
#include "storepg.h"
#include "storeq.h"
#include "storetab.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#ifndef HANGUP_VERSION
#define HANGUP_VERSION "0.1.0"
#endif

#define HU_BUSY_TIMEOUT_MS 3000
/* A writer's page cache: 256 KiB, not SQLite's 2 MiB default.  A capture's
 * rows are appended (rowid order), so its pages are written once and never
 * read back; the cache's pages are resident on top of the analysis's own
 * memory, which at 50,000 open connections has no 2 MiB to spare
 * (docs/BENCHMARKS.md).  Readers keep the default. */
#define HU_WRITER_CACHE "PRAGMA cache_size = -256"
/* The SQL function migration 6 computes Community IDs with. */
#define CID_SQL_FUNCTION "hangup_community_id"

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

    /* The incidents view from version 3 on: every column, times as ISO-8601
     * and durations in ms; `more` adds later versions' columns at its end. */
#define INCIDENTS_VIEW(more) \
    "CREATE VIEW incidents_view AS SELECT i.id, i.capture_id, c.source AS capture," \
    " i.number, i.kind, i.verdict, i.client, i.server, i.ip_version, i.file,"                     \
    " i.fin_packet, i.request_packet, i.rst_packet,"                                              \
    " " ISO("i.fin_time") " AS fin_time, " ISO("i.request_time") " AS request_time," \
    " " ISO("i.rst_time") " AS rst_time," \
    " i.gap_us / 1000.0 AS gap_ms, i.rtt_us / 1000.0 AS rtt_ms, i.rst_ack,"                       \
    " i.method, i.target, i.tls, i.handshake_seen, i.safe_to_retry, i.host,"                      \
    " i.http_version, i.content_length, i.requests_before,"                                       \
    " i.idle_us / 1000.0 AS idle_ms, i.server_idle_close_us / 1000.0 AS server_idle_close_ms,"    \
    " i.close_announced, i.keepalive_hint_s, i.sni, i.retried,"                                   \
    " i.retry_delay_us / 1000.0 AS retry_delay_ms, i.reassembly,"                                 \
    " i.wait_us / 1000.0 AS wait_ms, i.close, i.timeout_hint, i.abort, i.late_response_rst,"      \
    " i.late_response_packet, i.tries, i.spent_us / 1000.0 AS spent_ms, i.expected_bytes,"        \
    " i.received_bytes" more                                                                      \
    " FROM incidents i JOIN captures c ON c.id = i.capture_id;"

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
    INCIDENTS_VIEW(""),

    /* 4: endpoints as address and port, so a stored incident is read back
     * without parsing text.  The "addr:port" columns stay (users' queries,
     * the views and the by-server indexes use them); old rows are filled
     * in from them. */
#define ADDR_OF(col) \
    "CASE WHEN ip_version = 4 THEN substr(" col ", 1, instr(" col ", ':') - 1)" \
    " ELSE substr(" col ", 2, instr(" col ", ']:') - 2) END"
#define PORT_OF(col) \
    "CAST(CASE WHEN ip_version = 4 THEN substr(" col ", instr(" col ", ':') + 1)" \
    " ELSE substr(" col ", instr(" col ", ']:') + 2) END AS INTEGER)"
#define ENDPOINTS(table) \
    "ALTER TABLE " table " ADD COLUMN client_addr TEXT;" \
    "ALTER TABLE " table " ADD COLUMN client_port INTEGER;" \
    "ALTER TABLE " table " ADD COLUMN server_addr TEXT;" \
    "ALTER TABLE " table " ADD COLUMN server_port INTEGER;" \
    "UPDATE " table " SET client_addr = " ADDR_OF("client") ", client_port = " \
    PORT_OF("client") ", server_addr = " ADDR_OF("server") ", server_port = " \
    PORT_OF("server") ";"
    ENDPOINTS("incidents") ENDPOINTS("connections"),
#undef ENDPOINTS
#undef PORT_OF
#undef ADDR_OF

    /* 5: the BPF filter a capture was analysed under, so two analyses of
     * the same file can be told apart (its content hash no longer covers
     * the filter: the same packets are the same capture). */
    "ALTER TABLE captures ADD COLUMN filter TEXT;"
    "DROP VIEW captures_view;"
    "CREATE VIEW captures_view AS SELECT id, source, kind, link_type, content_hash,"
    " " ISO("first_time") " AS first_time, " ISO("last_time") " AS last_time,"
    " packets, analyzer_version, " ISO("analyzed_at") " AS analyzed_at, complete, filter"
    " FROM captures;",

    /* 6: each incident's Community ID (communityid.h), the key its
     * connection has in other tools' logs.  Earlier incidents get theirs
     * from their stored endpoints, through the SQL function the store
     * registers before migrating (CID_SQL_FUNCTION). */
    "ALTER TABLE incidents ADD COLUMN community_id TEXT;"
    "UPDATE incidents SET community_id = " CID_SQL_FUNCTION "(ip_version, client_addr,"
    " client_port, server_addr, server_port);"
    "CREATE INDEX incidents_by_community_id ON incidents(community_id);"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(", i.community_id"),

    /* 7: who the client and the server are (software.h): each side's
     * software, kind and evidence; a server summary's software and the
     * default its idle timeout matches.  Older rows have NULL: unknown. */
    "ALTER TABLE incidents ADD COLUMN client_software TEXT;"
    "ALTER TABLE incidents ADD COLUMN client_kind TEXT;"
    "ALTER TABLE incidents ADD COLUMN client_evidence TEXT;"
    "ALTER TABLE incidents ADD COLUMN server_software TEXT;"
    "ALTER TABLE incidents ADD COLUMN server_kind TEXT;"
    "ALTER TABLE incidents ADD COLUMN server_evidence TEXT;"
    "ALTER TABLE servers ADD COLUMN software TEXT;"
    "ALTER TABLE servers ADD COLUMN idle_timeout_default TEXT;"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(", i.community_id, i.client_software, i.client_kind, i.client_evidence,"
                   " i.server_software, i.server_kind, i.server_evidence")
    "DROP VIEW servers_view;"
    "CREATE VIEW servers_view AS SELECT s.id, s.capture_id, c.source AS capture, s.server,"
    " s.ip_version, s.connections, s.requests, s.idle_closes, s.incidents, s.crossed, s.stale,"
    " s.idle_timeout_us / 1000.0 AS idle_timeout_ms,"
    " s.idle_timeout_spread_us / 1000.0 AS idle_timeout_spread_ms,"
    " s.max_reuse_idle_us / 1000.0 AS max_reuse_idle_ms, s.rtt_us / 1000.0 AS rtt_ms,"
    " s.race_risk, s.advice, s.software, s.idle_timeout_default"
    " FROM servers s JOIN captures c ON c.id = s.capture_id;",

    /* The view's columns since version 8, after the first version's. */
#define VIEW_V8                                                                                   \
    ", i.community_id, i.client_software, i.client_kind, i.client_evidence,"                      \
    " i.server_software, i.server_kind, i.server_evidence, i.downstream_outcome,"                 \
    " i.downstream_status,"                                                                       \
    " CASE WHEN i.downstream_ip_version = 4 THEN i.downstream_client_addr || ':'"                 \
    " || i.downstream_client_port WHEN i.downstream_ip_version = 6 THEN '[' ||"                   \
    " i.downstream_client_addr || ']:' || i.downstream_client_port END"                           \
    " AS downstream_client, i.downstream_candidates, i.cause"
    /* 8: the proxy's downstream leg of an incident (legs.h): the user's
     * connection and request, and what the user got. */
    "ALTER TABLE incidents ADD COLUMN downstream_candidates INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE incidents ADD COLUMN downstream_ip_version INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_client_addr TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_client_port INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_proxy_addr TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_proxy_port INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_connection INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_request_packet INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_request_time INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_outcome TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_status INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_response_packet INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_response_time INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_close_packet INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_close_time INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_retry_packet INTEGER;"
    "ALTER TABLE incidents ADD COLUMN downstream_retry_time INTEGER;"
    "ALTER TABLE incidents ADD COLUMN cause INTEGER;"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(VIEW_V8),

    /* 9: a gateway-error's response (its status, its head's packet). */
    "ALTER TABLE incidents ADD COLUMN status INTEGER;"
    "ALTER TABLE incidents ADD COLUMN response_packet INTEGER;"
    "ALTER TABLE incidents ADD COLUMN response_time INTEGER;"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(VIEW_V8 ", i.status,"
                   " i.response_packet, " ISO("i.response_time") " AS response_time"),

    /* 10: capture gaps (gaps.h): per incident and per connection, the bytes
     * the peers acknowledged that the capture does not hold, and the side a
     * one-sided capture holds.  Older rows have 0 and NULL: none known. */
#define GAP_COLUMNS(table) \
    "ALTER TABLE " table " ADD COLUMN capture_gaps INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE " table " ADD COLUMN capture_gap_bytes INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE " table " ADD COLUMN one_sided TEXT;"
    GAP_COLUMNS("incidents") GAP_COLUMNS("connections")
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(VIEW_V8 ", i.status,"
                   " i.response_packet, " ISO("i.response_time") " AS response_time,"
                   " i.capture_gaps, i.capture_gap_bytes, i.one_sided"),
#undef GAP_COLUMNS

    /* 11: captures read from several files (a rotated set, fileset.h):
     * the files of each such capture, and for each packet an incident
     * names, its file (its number is then the number in that file).  NULL
     * file columns: the capture is one file, the incident's `file`. */
    "CREATE TABLE capture_files ("
    " capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL,"
    " file TEXT NOT NULL,"
    " first_packet INTEGER NOT NULL, packets INTEGER NOT NULL,"
    " first_time INTEGER, last_time INTEGER,"
    " PRIMARY KEY (capture_id, idx)) WITHOUT ROWID;"
    "ALTER TABLE incidents ADD COLUMN fin_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN request_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN rst_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN response_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN late_response_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_request_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_response_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_close_file TEXT;"
    "ALTER TABLE incidents ADD COLUMN downstream_retry_file TEXT;"
    "ALTER TABLE incident_packets ADD COLUMN file TEXT;"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(VIEW_V8 ", i.status,"
                   " i.response_packet, " ISO("i.response_time") " AS response_time,"
                   " i.capture_gaps, i.capture_gap_bytes, i.one_sided,"
                   " i.fin_file, i.request_file, i.rst_file, i.response_file"),

    /* 12: what a directory watcher (watch.c) has read of each file, written
     * in the transaction of the incidents it found there, so that a
     * restart takes up each file where the committed analysis stopped. */
    "CREATE TABLE watch_files ("
    " dir TEXT NOT NULL,"
    " head TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    " offset INTEGER NOT NULL, records INTEGER NOT NULL,"
    " done INTEGER NOT NULL,"
    " PRIMARY KEY (dir, head)) WITHOUT ROWID;",

    /* 13: a TLS incident's request read from its records with a key log
     * (tlsdec.h).  Older rows have 0: not decrypted. */
    "ALTER TABLE incidents ADD COLUMN tls_decrypted INTEGER NOT NULL DEFAULT 0;"
    "DROP VIEW incidents_view;"
    INCIDENTS_VIEW(VIEW_V8 ", i.status,"
                   " i.response_packet, " ISO("i.response_time") " AS response_time,"
                   " i.capture_gaps, i.capture_gap_bytes, i.one_sided,"
                   " i.fin_file, i.request_file, i.rst_file, i.response_file, i.tls_decrypted"),

    /* 14: the sensor (--sensor, the host name by default) that analysed
     * each capture, so that one database serves many (report groups and
     * filters by it).  Older captures have NULL: unknown. */
    "ALTER TABLE captures ADD COLUMN sensor TEXT;"
    "DROP VIEW captures_view;"
    "CREATE VIEW captures_view AS SELECT id, source, kind, link_type, content_hash,"
    " " ISO("first_time") " AS first_time, " ISO("last_time") " AS last_time,"
    " packets, analyzer_version, " ISO("analyzed_at") " AS analyzed_at, complete, filter,"
    " sensor FROM captures;",

    /* 15: the key of a capture or incident delivered from live's spool
     * (spool.h), unique, so that delivering it again after a crash between
     * the database's commit and the spool's delete stores it once.  Every
     * other row has NULL (NULLs are distinct in a unique index). */
    "ALTER TABLE captures ADD COLUMN spool_key TEXT;"
    "ALTER TABLE incidents ADD COLUMN spool_key TEXT;"
    "CREATE UNIQUE INDEX captures_by_spool_key ON captures(spool_key);"
    "CREATE UNIQUE INDEX incidents_by_spool_key ON incidents(spool_key);",
#undef VIEW_V8
#undef INCIDENTS_VIEW
#undef ISO
};

_Static_assert(sizeof migrations / sizeof migrations[0] == HU_STORE_VERSION,
               "one migration per schema version");

/* ---- Statements, prepared once and reused. ---- */

enum {
    ST_BEGIN, ST_COMMIT,
    ST_INS_CAPTURE, ST_UPD_CAPTURE, ST_FIND_HASH, ST_DEL_CAPTURE,
    ST_INS_INCIDENT, ST_INS_PACKET, ST_INS_CONN, ST_INS_SERVER,
    ST_GET_INCIDENT, ST_GET_PACKETS, ST_INS_CAPFILE,
    ST_DEL_WATCH, ST_INS_WATCH, ST_GET_WATCH,
    ST_COUNT
};

/* Statements written out; the others are generated (stmt_gen). */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_INS_CAPTURE] = "INSERT INTO captures (source, kind, link_type, analyzer_version, "
                       "analyzed_at, filter, sensor) VALUES (:source, :kind, :link_type, "
                       ":version, :now, :filter, :sensor)",
    [ST_UPD_CAPTURE] = "UPDATE captures SET content_hash = :hash, first_time = :first, "
                       "last_time = :last, packets = :packets, complete = :complete, "
                       "link_type = :link_type WHERE id = :id",
    [ST_FIND_HASH] = "SELECT id FROM captures WHERE content_hash = :hash AND id <> :id",
    [ST_DEL_CAPTURE] = "DELETE FROM captures WHERE id = :id",
    [ST_INS_CAPFILE] = "INSERT INTO capture_files (capture_id, idx, file, first_packet, packets, "
                       "first_time, last_time) VALUES (:id, :idx, :file, :first_packet, "
                       ":packets, :first, :last)",
    [ST_DEL_WATCH] = "DELETE FROM watch_files WHERE dir = :dir",
    [ST_INS_WATCH] = "INSERT OR REPLACE INTO watch_files (dir, head, name, dev, ino, offset, "
                     "records, done) VALUES (:dir, :head, :name, :dev, :ino, :offset, "
                     ":records, :done)",
    [ST_GET_WATCH] = "SELECT head, name, dev, ino, offset, records, done FROM watch_files "
                     "WHERE dir = :dir ORDER BY name",
};

/* Statements generated from a column table: its INSERT, or with `where`
 * its SELECT. */
static const struct {
    const hu_storecol_table *table;
    const char *where;
} stmt_gen[ST_COUNT] = {
    [ST_INS_INCIDENT] = { &hu_store_incidents, NULL },
    [ST_INS_PACKET] = { &hu_store_incident_packets, NULL },
    [ST_INS_CONN] = { &hu_store_connections, NULL },
    [ST_INS_SERVER] = { &hu_store_servers, NULL },
    [ST_GET_INCIDENT] = { &hu_store_incidents, "id = :id" },
    [ST_GET_PACKETS] = { &hu_store_incident_packets, "incident_id = :id ORDER BY idx" },
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
    /* A PostgreSQL store (storepg.c): every call goes there, db is NULL. */
    hu_storepg *pg;
};

sqlite3 *hu_store_db(hu_store *s) { return s->db; }
int hu_store_version(hu_store *s) { return s->pg ? hu_storepg_version(s->pg) : s->version; }
struct pg_conn *hu_store_pg(hu_store *s) { return s->pg ? hu_storepg_conn(s->pg) : NULL; }
const char *hu_store_name(const hu_store *s) { return s->pg ? hu_storepg_name(s->pg) : s->path; }
const char *hu_store_lib_version(void) { return sqlite3_libversion(); }
int hu_store_pg_lib_version(void) { return hu_storepg_lib_version(); }

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

/* Prepare statement id, from its text or generated from its table. */
static sqlite3_stmt *prepare(hu_store *s, int id)
{
    const hu_storecol_table *t = stmt_gen[id].table;
    const char *where = stmt_gen[id].where;
    char *gen = NULL;
    if (t && !(gen = where ? hu_storecol_select_sql(t, where) : hu_storecol_insert_sql(t)))
        return NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v3(s->db, gen ? gen : stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &q,
                           NULL) != SQLITE_OK)
        q = NULL;
    free(gen);
    /* A table whose SQL numbers its parameters otherwise fails every insert. */
    if (q && t && !where && !hu_storecol_check(q, t)) {
        sqlite3_finalize(q);
        q = NULL;
    }
    return q;
}

/* Statement id, reset with no bindings; NULL when it cannot be prepared. */
static sqlite3_stmt *stmt(hu_store *s, int id)
{
    if (!s->st[id] && !(s->st[id] = prepare(s, id)))
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

/* CID_SQL_FUNCTION(ip_version, client_addr, client_port, server_addr,
 * server_port): the Community ID of a stored incident's connection, or
 * NULL when its endpoints do not parse. */
static void sql_community_id(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
    (void)argc;
    int ipver = sqlite3_value_int(v[0]);
    const char *ca = (const char *)sqlite3_value_text(v[1]);
    const char *sa = (const char *)sqlite3_value_text(v[3]);
    int af = ipver == 4 ? AF_INET : AF_INET6;
    uint8_t cli[16] = { 0 }, srv[16] = { 0 };
    char cid[HU_CID_LEN];
    if (!ca || !sa || inet_pton(af, ca, cli) != 1 || inet_pton(af, sa, srv) != 1 ||
        !hu_cid_tcp(cid, 0, (uint8_t)ipver, cli, (uint16_t)sqlite3_value_int(v[2]), srv,
                    (uint16_t)sqlite3_value_int(v[4]))) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_text(ctx, cid, -1, SQLITE_TRANSIENT);
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

/* The oldest SQLite whose SQL the schema and the reports use: NULLS LAST
 * (3.30) orders the views' and reports' rows. */
#define HU_SQLITE_MIN 3030000
#define HU_SQLITE_MIN_TEXT "3.30"

static hu_store *open_store(const char *path, bool readonly, int target, char *err, size_t n)
{
    if (sqlite3_libversion_number() < HU_SQLITE_MIN) {
        snprintf(err, n, "database %s: SQLite %s is too old (hangup needs " HU_SQLITE_MIN_TEXT
                         " or newer)", path, sqlite3_libversion());
        return NULL;
    }
    hu_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, n, "database %s: out of memory", path);
        return NULL;
    }
    s->readonly = readonly;
    /* Read-only use still opens read-write where the file allows (SQLite
     * falls back to read-only where it does not) and is kept from writing
     * by query_only: only a writable connection, closing last, checkpoints
     * the journal and removes the -wal and -shm files, and a query should
     * not leave them behind. */
    int flags = readonly ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
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
    if (sqlite3_create_function(s->db, CID_SQL_FUNCTION, 5, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, sql_community_id, NULL, NULL) != SQLITE_OK) {
        db_err(s, "registering a function", err, n);
        hu_store_close(s);
        return NULL;
    }
    if (!exec(s, "PRAGMA journal_mode = WAL", "switching it to WAL", err, n) ||
        !exec(s, "PRAGMA synchronous = NORMAL", "configuring it", err, n) ||
        !exec(s, HU_WRITER_CACHE, "configuring it", err, n) ||
        !migrate(s, target, err, n)) {
        hu_store_close(s);
        return NULL;
    }
    return s;
}

hu_store *hu_store_open(const char *path, bool readonly, char *err, size_t errlen)
{
    if (!hu_storepg_is_conninfo(path))
        return open_store(path, readonly, HU_STORE_VERSION, err, errlen);
    hu_store *s = calloc(1, sizeof *s);
    if (!s || !(s->pg = hu_storepg_open(path, readonly, err, errlen))) {
        if (!s)
            snprintf(err, errlen, "database: out of memory");
        free(s);
        return NULL;
    }
    s->readonly = readonly;
    return s;
}

bool hu_store_is_pg(const char *path) { return hu_storepg_is_conninfo(path); }

hu_store *hu_store_open_later(const char *path, bool *connected, char *err, size_t errlen)
{
    *connected = true;
    if (!hu_storepg_is_conninfo(path))
        return open_store(path, false, HU_STORE_VERSION, err, errlen);
    hu_store *s = calloc(1, sizeof *s);
    if (!s || !(s->pg = hu_storepg_open_later(path, connected, err, errlen))) {
        if (!s)
            snprintf(err, errlen, "database: out of memory");
        free(s);
        return NULL;
    }
    return s;
}

bool hu_store_resume(hu_store *s, char *err, size_t n)
{
    if (!s->pg) {
        snprintf(err, n, "database %s: only a PostgreSQL store is resumed", s->path);
        return false;
    }
    return hu_storepg_resume(s->pg, err, n);
}

bool hu_store_keyed_capture(hu_store *s, const hu_capture_meta *m, int64_t *capture_id,
                            char *err, size_t n)
{
    if (!s->pg) {
        snprintf(err, n, "database %s: only a PostgreSQL store takes spooled captures",
                 s->path);
        return false;
    }
    return hu_storepg_keyed_capture(s->pg, m, capture_id, err, n);
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
    hu_storepg_close(s->pg);
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


/* A record's values bound to q (storecol.h), and q's row loaded into one. */
static void bind_rec(sqlite3_stmt *q, const hu_storecol_table *t, const void *rec,
                     int64_t owner, int64_t pos)
{
    hu_sc_out o = { .q = q };
    hu_storecol_bind(&o, t, rec, owner, pos);
}

static bool load_rec(sqlite3_stmt *q, const hu_storecol_table *t, void *rec)
{
    hu_sc_in in = { .q = q };
    return hu_storecol_load(&in, t, rec);
}

static int param(sqlite3_stmt *q, const char *name)
{
    return sqlite3_bind_parameter_index(q, name);
}

/* ---- The connection-row writer (storeq.c) behind the store's API. ---- */

/* A connection row as queued for the writer. */
typedef struct queued_conn {
    int64_t capture_id;
    hu_conn_row row;
} queued_conn;

static bool insert_connection(hu_store *s, int64_t capture_id, const hu_conn_row *row,
                              char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_INS_CONN);
    if (q)
        bind_rec(q, &hu_store_connections, row, capture_id, 0);
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

/* ---- Writing a capture. ---- */

bool hu_store_begin(hu_store *s, const hu_capture_meta *m, int64_t *capture_id, char *err,
                    size_t n)
{
    if (s->pg)
        return hu_storepg_begin(s->pg, m, capture_id, err, n);
    if (!run(s, stmt(s, ST_BEGIN), "starting a transaction", err, n))
        return false;
    s->in_tx = true;
    sqlite3_stmt *q = stmt(s, ST_INS_CAPTURE);
    if (q) {
        sqlite3_bind_text(q, param(q, ":source"), m->source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, param(q, ":kind"), m->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, param(q, ":link_type"), m->link_type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, param(q, ":version"), HANGUP_VERSION, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, param(q, ":now"), now_us());
        sqlite3_bind_text(q, param(q, ":filter"), m->filter, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, param(q, ":sensor"), m->sensor, -1, SQLITE_TRANSIENT);
    }
    if (!run(s, q, "recording the capture", err, n)) {
        hu_store_abort(s);
        return false;
    }
    *capture_id = sqlite3_last_insert_rowid(s->db);
    s->writer = hu_storeq_start(sizeof(queued_conn), write_queued, s);
    return true;
}

static bool insert_incident(hu_store *s, int64_t capture_id, const hu_incident_rec *r,
                            int64_t *idp, char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_INS_INCIDENT);
    if (q)
        bind_rec(q, &hu_store_incidents, r, capture_id, 0);
    if (!run(s, q, "storing an incident", err, n))
        return false;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    *idp = id;
    for (size_t i = 0; i < r->ntimeline; i++) {
        q = stmt(s, ST_INS_PACKET);
        if (q)
            bind_rec(q, &hu_store_incident_packets, &r->timeline[i], id, (int64_t)i);
        if (!run(s, q, "storing an incident's timeline", err, n))
            return false;
    }
    return true;
}

bool hu_store_incident(hu_store *s, int64_t capture_id, const hu_incident_rec *r, int64_t *id,
                       char *err, size_t n)
{
    if (s->pg)
        return hu_storepg_incident(s->pg, capture_id, r, id, err, n);
    int64_t ignored;
    if (!claim(s, err, n))
        return false;
    bool ok = insert_incident(s, capture_id, r, id ? id : &ignored, err, n);
    release(s);
    return ok;
}

bool hu_store_connection(hu_store *s, int64_t capture_id, const hu_conn_row *row, char *err,
                         size_t n)
{
    if (s->pg)
        return hu_storepg_connection(s->pg, capture_id, row, err, n);
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
    if (s->pg)
        return hu_storepg_server(s->pg, capture_id, sv, err, n);
    if (!claim(s, err, n))
        return false;
    sqlite3_stmt *q = stmt(s, ST_INS_SERVER);
    if (q)
        bind_rec(q, &hu_store_servers, sv, capture_id, 0);
    bool ok = run(s, q, "storing a server summary", err, n);
    release(s);
    return ok;
}

/* Delete every earlier capture with the same content hash as capture_id
 * (*replaced = the last one's id). */
static bool replace_earlier(hu_store *s, int64_t capture_id, const char *hash,
                            int64_t *replaced, char *err, size_t n)
{
    for (;;) {
        sqlite3_stmt *q = stmt(s, ST_FIND_HASH);
        if (!q) {
            db_err(s, "looking for an earlier analysis", err, n);
            return false;
        }
        sqlite3_bind_text(q, param(q, ":hash"), hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, param(q, ":id"), capture_id);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE)
            return true;
        if (rc != SQLITE_ROW) {
            db_err(s, "looking for an earlier analysis", err, n);
            return false;
        }
        int64_t old = sqlite3_column_int64(q, 0);   /* the one column selected */
        sqlite3_reset(q);
        sqlite3_stmt *d = stmt(s, ST_DEL_CAPTURE);
        if (d)
            sqlite3_bind_int64(d, param(d, ":id"), old);
        if (!run(s, d, "replacing the earlier analysis", err, n))
            return false;
        *replaced = old;
    }
}

bool hu_store_end(hu_store *s, int64_t capture_id, const hu_capture_end *e, int64_t *replaced,
                  char *err, size_t n)
{
    if (s->pg)
        return hu_storepg_end(s->pg, capture_id, e, replaced, err, n);
    *replaced = 0;
    /* Every queued row goes into this commit; then no thread but this one
     * uses the handle. */
    bool ok = hu_storeq_finish(s->writer, err, n);
    s->writer = NULL;
    if (!ok)
        goto fail;
    sqlite3_stmt *q = stmt(s, ST_UPD_CAPTURE);
    if (q) {
        bool known = e->packets > 0;
        sqlite3_bind_int64(q, param(q, ":id"), capture_id);
        sqlite3_bind_text(q, param(q, ":hash"), e->content_hash, -1, SQLITE_TRANSIENT);
        if (known) {
            sqlite3_bind_int64(q, param(q, ":first"), e->first_us);
            sqlite3_bind_int64(q, param(q, ":last"), e->last_us);
        }
        sqlite3_bind_int64(q, param(q, ":packets"), (int64_t)e->packets);
        sqlite3_bind_int(q, param(q, ":complete"), e->complete);
        sqlite3_bind_text(q, param(q, ":link_type"), e->link_type, -1, SQLITE_TRANSIENT);
    }
    if (!run(s, q, "finishing the capture", err, n))
        goto fail;
    for (size_t i = 0; i < e->nfiles; i++) {
        const hu_capture_file_row *f = &e->files[i];
        q = stmt(s, ST_INS_CAPFILE);
        if (q) {
            sqlite3_clear_bindings(q);
            sqlite3_bind_int64(q, param(q, ":id"), capture_id);
            sqlite3_bind_int64(q, param(q, ":idx"), (int64_t)i);
            sqlite3_bind_text(q, param(q, ":file"), f->file, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, param(q, ":first_packet"), (int64_t)f->first_number);
            sqlite3_bind_int64(q, param(q, ":packets"), (int64_t)f->packets);
            if (f->frames) {
                sqlite3_bind_int64(q, param(q, ":first"), f->first_us);
                sqlite3_bind_int64(q, param(q, ":last"), f->last_us);
            }
        }
        if (!run(s, q, "storing the capture's files", err, n))
            goto fail;
    }
    if (!replace_earlier(s, capture_id, e->content_hash, replaced, err, n) ||
        !run(s, stmt(s, ST_COMMIT), "committing", err, n))
        goto fail;
    s->in_tx = false;
    return true;
fail:
    hu_store_abort(s);
    return false;
}

bool hu_store_checkpoint(hu_store *s, char *err, size_t n)
{
    if (s->pg)
        return hu_storepg_checkpoint(s->pg, err, n);
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

/* ---- A directory watcher's files. ---- */

static bool watch_rows(hu_store *s, const char *dir, const hu_watch_row *rows, size_t nrows,
                       char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_DEL_WATCH);
    if (q)
        sqlite3_bind_text(q, param(q, ":dir"), dir, -1, SQLITE_TRANSIENT);
    if (!run(s, q, "recording the watched files", err, n))
        return false;
    for (size_t i = 0; i < nrows; i++) {
        const hu_watch_row *r = &rows[i];
        q = stmt(s, ST_INS_WATCH);
        if (q) {
            sqlite3_bind_text(q, param(q, ":dir"), dir, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, param(q, ":head"), r->head, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, param(q, ":name"), r->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, param(q, ":dev"), (int64_t)r->dev);
            sqlite3_bind_int64(q, param(q, ":ino"), (int64_t)r->ino);
            sqlite3_bind_int64(q, param(q, ":offset"), (int64_t)r->offset);
            sqlite3_bind_int64(q, param(q, ":records"), (int64_t)r->records);
            sqlite3_bind_int(q, param(q, ":done"), r->done);
        }
        if (!run(s, q, "recording the watched files", err, n))
            return false;
    }
    return true;
}

bool hu_store_watch_save(hu_store *s, const char *dir, const hu_watch_row *rows, size_t nrows,
                         char *err, size_t n)
{
    if (s->pg)
        return hu_storepg_watch_save(s->pg, dir, rows, nrows, err, n);
    if (s->in_tx) {   /* the open capture's: committed with its incidents */
        if (!claim(s, err, n))
            return false;
        bool ok = watch_rows(s, dir, rows, nrows, err, n);
        release(s);
        return ok;
    }
    if (!run(s, stmt(s, ST_BEGIN), "starting a transaction", err, n))
        return false;
    if (!watch_rows(s, dir, rows, nrows, err, n) ||
        !run(s, stmt(s, ST_COMMIT), "committing", err, n)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    return true;
}

bool hu_store_watch_load(hu_store *s, const char *dir, hu_watch_row_fn fn, void *arg,
                         char *err, size_t n)
{
    if (s->pg)
        return hu_storepg_watch_load(s->pg, dir, fn, arg, err, n);
    sqlite3_stmt *q = stmt(s, ST_GET_WATCH);
    if (!q) {
        db_err(s, "reading the watched files", err, n);
        return false;
    }
    sqlite3_bind_text(q, param(q, ":dir"), dir, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *head = (const char *)sqlite3_column_text(q, 0);
        const char *name = (const char *)sqlite3_column_text(q, 1);
        hu_watch_row r = { .head = head ? head : "", .name = name ? name : "",
                           .dev = (uint64_t)sqlite3_column_int64(q, 2),
                           .ino = (uint64_t)sqlite3_column_int64(q, 3),
                           .offset = (uint64_t)sqlite3_column_int64(q, 4),
                           .records = (uint64_t)sqlite3_column_int64(q, 5),
                           .done = sqlite3_column_int(q, 6) != 0 };
        if (!fn(arg, &r)) {
            sqlite3_reset(q);
            snprintf(err, n, "out of memory reading the watched files");
            return false;
        }
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        db_err(s, "reading the watched files", err, n);
        return false;
    }
    return true;
}

void hu_store_abort(hu_store *s)
{
    if (s->pg) {
        hu_storepg_abort(s->pg);
        return;
    }
    hu_storeq_cancel(s->writer);   /* nothing writes during the rollback */
    s->writer = NULL;
    if (!s->in_tx)
        return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
}

/* ---- Reading an incident back. ---- */

static bool load_timeline(hu_store *s, int64_t id, hu_incident_rec *r, char *err, size_t n)
{
    sqlite3_stmt *q = stmt(s, ST_GET_PACKETS);
    if (!q) {
        db_err(s, "reading an incident's timeline", err, n);
        return false;
    }
    sqlite3_bind_int64(q, param(q, ":id"), id);
    size_t cap = 0;
    bool ok = true;
    int rc;
    while (ok && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (r->ntimeline == cap) {
            cap = cap ? cap * 2 : 16;
            hu_tl_entry *nt = realloc(r->timeline, cap * sizeof *nt);
            if (!nt) {
                ok = false;
                break;
            }
            r->timeline = nt;
        }
        hu_tl_entry *t = &r->timeline[r->ntimeline++];
        memset(t, 0, sizeof *t);
        ok = load_rec(q, &hu_store_incident_packets, t);
    }
    sqlite3_reset(q);
    if (!ok)
        snprintf(err, n, "database %s: reading an incident's timeline: out of memory", s->path);
    else if (rc != SQLITE_DONE)
        db_err(s, "reading an incident's timeline", err, n);
    return ok && rc == SQLITE_DONE;
}

static hu_incident_rec *load_incident(hu_store *s, int64_t id, bool *missing, char *err,
                                      size_t n)
{
    *missing = false;
    sqlite3_stmt *q = stmt(s, ST_GET_INCIDENT);
    if (!q) {
        db_err(s, "reading incidents", err, n);
        return NULL;
    }
    sqlite3_bind_int64(q, param(q, ":id"), id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) {
            *missing = true;
            snprintf(err, n, "database %s: no incident %lld (see 'hangup query \"SELECT id, "
                             "verdict, server FROM incidents\"')", s->path, (long long)id);
        } else
            db_err(s, "reading incidents", err, n);
        sqlite3_reset(q);
        return NULL;
    }
    hu_incident_rec *r = calloc(1, sizeof *r);
    bool ok = r && load_rec(q, &hu_store_incidents, r);
    sqlite3_reset(q);
    if (!ok) {
        snprintf(err, n, "out of memory");
        hu_incident_rec_free(r);
        return NULL;
    }
    if (!load_timeline(s, id, r, err, n)) {
        hu_incident_rec_free(r);
        return NULL;
    }
    r->db_id = id;
    return r;
}

hu_incident_rec *hu_store_load_incident(hu_store *s, int64_t id, bool *missing, char *err,
                                        size_t n)
{
    bool ignored;
    if (s->pg)
        return hu_storepg_load_incident(s->pg, id, missing ? missing : &ignored, err, n);
    hu_storeq_lock(s->writer);
    hu_incident_rec *r = load_incident(s, id, missing ? missing : &ignored, err, n);
    hu_storeq_unlock(s->writer);
    return r;
}
