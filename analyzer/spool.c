/*
 * spool.c -- live's incidents kept in a local SQLite file through a
 * PostgreSQL outage, and delivered in order, once each (see spool.h).
 *
 * The spool is a hangup database of its own (store.h: the same schema, so
 * an incident is written with hu_store_incident and read back whole with
 * hu_store_load_incident) plus two tables: spool_meta (the spool's random
 * identity, the database it delivers to, the captures numbered so far) and
 * spool_queue, the waiting incidents in order.  Its captures table holds
 * the metadata of each capture with incidents waiting, so that a later
 * process can deliver an old capture's incidents under the right row.
 *
 * Keys and order come from numbers never used twice: spool_queue.seq is
 * AUTOINCREMENT and captures are numbered by spool_meta.caps.  (SQLite
 * gives a plain INTEGER PRIMARY KEY the largest + 1, so the incidents'
 * own ids start again at 1 once the spool has emptied: a key made from
 * them would name a new incident with a delivered one's key, which the
 * database would then silently take for a repeat.)
 *
 * Write-ahead: an incident is committed to the spool (it survives
 * SIGKILL) before anything else happens to it.
 * The queue numbers of the incidents sent into the open PostgreSQL
 * transaction are always a prefix of the queue's (sent_max): the backlog
 * is delivered oldest first, and an incident goes straight to the server
 * only when nothing older waits.  After PostgreSQL commits, the spool
 * deletes the queue up to sent_max; after a failure every row in the spool is
 * waiting again.  A crash between the two leaves rows in both: their keys
 * (spool identity / row id) are unique in PostgreSQL, and the repeated
 * INSERT ... ON CONFLICT DO NOTHING stores nothing (docs/DESIGN.md, the
 * spool).
 */
#include "hangup/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef HANGUP_VERSION
#define HANGUP_VERSION "0.1.0"
#endif

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

/* A spooled capture's row in the database, once known in this connection. */
typedef struct cap_map {
    int64_t spool_id, db_id;
} cap_map;

struct hu_spool {
    hu_spool_cfg cfg;
    char *path;
    int lock_fd;              /* flock'd for the spool's life */
    hu_store *sq;             /* the spool file */
    sqlite3 *db;              /* its handle */
    hu_store *pg;             /* the database delivered to (borrowed) */
    char uuid[40];            /* the spool's identity, in every key */
    bool up;                  /* the server answered the last call */
    int64_t retry_at;         /* down: when to connect again (monotonic ms) */
    int64_t backoff_ms;
    int64_t cur_cap;          /* the live capture's spool row, or 0 */
    int64_t cur_db;           /* its row in the database, 0 while down */
    cap_map *caps;            /* captures resolved in this connection */
    size_t ncaps, capcap;
    uint64_t rows;            /* incidents in the spool */
    int64_t sent_max;         /* queue numbers <= this are in the open transaction */
    uint64_t nsent, nsent_backlog;
    uint64_t conn_uncommitted;
    bool said_full;
    hu_spool_stats st;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run sql on the spool; false with "spool PATH: doing: why" in err. */
static bool sq_exec(hu_spool *sp, const char *sql, const char *doing, char *err, size_t n)
{
    if (sqlite3_exec(sp->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return true;
    snprintf(err, n, "spool %s: %s: %s", sp->path, doing, sqlite3_errmsg(sp->db));
    return false;
}

/* The first column of sql's first row (an integer, bound to a1 when the
 * statement has a parameter), or dflt when there is none or on error. */
static int64_t sq_int(hu_spool *sp, const char *sql, int64_t a1, int64_t dflt)
{
    sqlite3_stmt *q = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(sp->db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_bind_parameter_count(q) > 0)
            sqlite3_bind_int64(q, 1, a1);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
            v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return v;
}

/* A statement with one integer parameter, stepped to its end. */
static bool sq_run1(hu_spool *sp, const char *sql, int64_t a1, const char *doing, char *err,
                    size_t n)
{
    sqlite3_stmt *q = NULL;
    bool ok = sqlite3_prepare_v2(sp->db, sql, -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, a1);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    if (!ok)
        snprintf(err, n, "spool %s: %s: %s", sp->path, doing, sqlite3_errmsg(sp->db));
    sqlite3_finalize(q);
    return ok;
}

/* The key of capture ('c') or queued incident ('i') number id. */
static void key_of(const hu_spool *sp, char what, int64_t id, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%c%" PRId64, sp->uuid, what, id);
}

/* A fresh random identity, as a UUID's text (version 4). */
static bool new_uuid(char *out, size_t n)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return false;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return true;
}

/* The spool's identity and target: read, or made for a new spool.  A
 * spool with incidents for another database is refused. */
static bool identity(hu_spool *sp, char *err, size_t n)
{
    if (!sq_exec(sp, "CREATE TABLE IF NOT EXISTS spool_meta (uuid TEXT NOT NULL, "
                     "db TEXT NOT NULL, caps INTEGER NOT NULL DEFAULT 0);"
                     "CREATE TABLE IF NOT EXISTS spool_queue ("
                     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " incident_id INTEGER NOT NULL UNIQUE REFERENCES incidents(id)"
                     " ON DELETE CASCADE)", "setting it up", err, n))
        return false;
    sp->rows = (uint64_t)sq_int(sp, "SELECT count(*) FROM spool_queue", 0, 0);
    const char *target = hu_store_name(sp->pg);
    sqlite3_stmt *q = NULL;
    char db[600] = "";
    if (sqlite3_prepare_v2(sp->db, "SELECT uuid, db FROM spool_meta", -1, &q, NULL) ==
            SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        snprintf(sp->uuid, sizeof sp->uuid, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(db, sizeof db, "%s", (const char *)sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    if (sp->uuid[0] && strcmp(db, target) == 0)
        return true;
    if (sp->uuid[0] && sp->rows > 0) {
        snprintf(err, n, "spool %s holds %" PRIu64 " incidents for the database %s, not %s: "
                         "deliver them with --db %s, or give another --spool",
                 sp->path, sp->rows, db, target, db);
        return false;
    }
    if (!sp->uuid[0] && !new_uuid(sp->uuid, sizeof sp->uuid)) {
        snprintf(err, n, "spool %s: no random bytes for its identity: %s", sp->path,
                 strerror(errno));
        return false;
    }
    sqlite3_stmt *w = NULL;
    int64_t caps = sq_int(sp, "SELECT caps FROM spool_meta", 0, 0);
    bool ok = sq_exec(sp, "BEGIN IMMEDIATE; DELETE FROM spool_meta", "setting it up", err, n) &&
              sqlite3_prepare_v2(sp->db, "INSERT INTO spool_meta (uuid, db, caps) VALUES "
                                         "(?, ?, ?)", -1, &w, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(w, 1, sp->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(w, 2, target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(w, 3, caps);
        ok = sqlite3_step(w) == SQLITE_DONE;
        if (!ok)
            snprintf(err, n, "spool %s: setting it up: %s", sp->path, sqlite3_errmsg(sp->db));
    }
    sqlite3_finalize(w);
    ok = ok && sq_exec(sp, "COMMIT", "setting it up", err, n);
    if (!ok)
        sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
    return ok;
}

hu_spool *hu_spool_open(const hu_spool_cfg *cfg, hu_store *db, bool connected, char *err,
                        size_t n)
{
    hu_spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->path = strdup(cfg->path))) {
        snprintf(err, n, "spool %s: out of memory", cfg->path);
        free(sp);
        return NULL;
    }
    sp->cfg = *cfg;
    sp->cfg.path = sp->path;
    if (sp->cfg.max < 1)
        sp->cfg.max = 1;
    sp->pg = db;
    sp->backoff_ms = BACKOFF_FIRST_MS;
    sp->lock_fd = open(sp->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->lock_fd < 0) {
        snprintf(err, n, "spool %s: cannot open it: %s", sp->path, strerror(errno));
        goto fail;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, n, errno == EWOULDBLOCK
                             ? "spool %s is in use by another hangup (give this one another "
                               "--spool)"
                             : "spool %s: cannot lock it: %s",
                 sp->path, strerror(errno));
        goto fail;
    }
    char serr[1024];
    sp->sq = hu_store_open(sp->path, false, serr, sizeof serr);
    if (!sp->sq) {
        snprintf(err, n, "spool %s", serr);
        goto fail;
    }
    sp->db = hu_store_db(sp->sq);
    /* The store's WAL with synchronous=NORMAL: a commit survives the
     * process (SIGKILL, the OOM killer), not a power loss in the moment
     * after it; FULL's fsync per incident cuts a storm to ~270 incidents
     * a second on the analysis thread (docs/DESIGN.md, live's spool). */
    if (!identity(sp, err, n))
        goto fail;
    sp->st.waiting = sp->rows;
    /* Connected: the first begin or tick connects at once; else an outage
     * from the start. */
    sp->retry_at = connected ? 0 : mono_ms() + sp->backoff_ms;
    if (!connected)
        sp->st.outages = 1;
    return sp;
fail:
    hu_spool_close(sp);
    return NULL;
}

const char *hu_spool_path(const hu_spool *sp) { return sp->path; }
int64_t hu_spool_capture_id(const hu_spool *sp) { return sp->up ? sp->cur_db : 0; }
bool hu_spool_up(const hu_spool *sp) { return sp->up; }

void hu_spool_stats_get(const hu_spool *sp, hu_spool_stats *st)
{
    *st = sp->st;
    st->waiting = sp->rows - sp->nsent;
}

/* Forget the spool's captures with nothing waiting, but the live one. */
static void prune_captures(hu_spool *sp, int64_t keep)
{
    char err[512];
    sq_run1(sp, "DELETE FROM captures WHERE id <> ? AND NOT EXISTS (SELECT 1 FROM incidents "
                "WHERE capture_id = captures.id)", keep, "forgetting delivered captures", err,
            sizeof err);
}

void hu_spool_close(hu_spool *sp)
{
    if (!sp)
        return;
    if (sp->db)
        prune_captures(sp, 0);
    hu_store_close(sp->sq);   /* before the lock's descriptor: see below */
    /* Closing any descriptor of the file drops the process's POSIX locks
     * on it, SQLite's included: the flock'd one is closed last. */
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    free(sp->caps);
    free(sp->path);
    free(sp);
}

/* The database's id for spool capture scap, made (keyed) in the open
 * transaction when not known in this connection; false with err. */
static bool db_capture(hu_spool *sp, int64_t scap, int64_t *id, char *err, size_t n)
{
    for (size_t i = 0; i < sp->ncaps; i++)
        if (sp->caps[i].spool_id == scap) {
            *id = sp->caps[i].db_id;
            return true;
        }
    sqlite3_stmt *q = NULL;
    bool ok = sqlite3_prepare_v2(sp->db, "SELECT source, kind, link_type, filter, sensor, "
                                         "spool_key FROM captures WHERE id = ?", -1, &q,
                                         NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(q, 1, scap);
        ok = sqlite3_step(q) == SQLITE_ROW;
    }
    if (!ok) {
        snprintf(err, n, "spool %s: reading capture %" PRId64 ": %s", sp->path, scap,
                 sqlite3_errmsg(sp->db));
        sqlite3_finalize(q);
        return false;
    }
    hu_capture_meta m = { .source = (const char *)sqlite3_column_text(q, 0),
                          .kind = (const char *)sqlite3_column_text(q, 1),
                          .link_type = (const char *)sqlite3_column_text(q, 2),
                          .filter = (const char *)sqlite3_column_text(q, 3),
                          .sensor = (const char *)sqlite3_column_text(q, 4),
                          .spool_key = (const char *)sqlite3_column_text(q, 5) };
    if (!m.spool_key) {
        snprintf(err, n, "spool %s: capture %" PRId64 " has no key", sp->path, scap);
        sqlite3_finalize(q);
        return false;
    }
    ok = hu_store_keyed_capture(sp->pg, &m, id, err, n);
    sqlite3_finalize(q);
    if (!ok)
        return false;
    if (sp->ncaps == sp->capcap) {
        size_t nc = sp->capcap ? sp->capcap * 2 : 8;
        cap_map *g = realloc(sp->caps, nc * sizeof *g);
        if (!g)
            return true;   /* not remembered: looked up again next time */
        sp->caps = g;
        sp->capcap = nc;
    }
    sp->caps[sp->ncaps++] = (cap_map){ scap, *id };
    return true;
}

void hu_spool_failed(hu_spool *sp, const char *why)
{
    if (sp->up) {
        sp->st.outages++;
        fprintf(sp->cfg.err, "%s: %s; incidents wait in the spool %s until it is back\n",
                sp->cfg.progname, why, sp->path);
    }
    sp->up = false;
    hu_store_abort(sp->pg);
    sp->st.lost_rows += sp->conn_uncommitted;
    sp->conn_uncommitted = 0;
    sp->nsent = sp->nsent_backlog = 0;
    sp->sent_max = 0;     /* every row in the spool waits again */
    sp->ncaps = 0;        /* rows made in the rolled-back transaction are gone */
    sp->cur_db = 0;
    sp->retry_at = mono_ms() + sp->backoff_ms;
    sp->backoff_ms = sp->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sp->backoff_ms * 2;
}

void hu_spool_committed(hu_spool *sp)
{
    sp->conn_uncommitted = 0;
    if (!sp->nsent)
        return;
    char err[1024];
    if (!sq_run1(sp, "DELETE FROM incidents WHERE id IN (SELECT incident_id FROM spool_queue "
                     "WHERE seq <= ?)", sp->sent_max, "forgetting delivered incidents", err,
                 sizeof err) ||
        !sq_run1(sp, "DELETE FROM spool_queue WHERE seq <= ?", sp->sent_max,
                 "forgetting delivered incidents", err, sizeof err)) {
        /* They are delivered, and their keys make a second delivery store
         * nothing: they wait again, harmlessly. */
        fprintf(sp->cfg.err, "%s: %s\n", sp->cfg.progname, err);
        sp->nsent = sp->nsent_backlog = 0;
        sp->sent_max = 0;
        return;
    }
    sp->rows -= sp->nsent;
    sp->st.delivered += sp->nsent_backlog;
    sp->nsent = sp->nsent_backlog = 0;
    if (sp->rows == 0 || sp->ncaps > 1)
        prune_captures(sp, sp->cur_cap);
}

/* Commit the open transaction: what was sent leaves the spool. */
static void commit(hu_spool *sp)
{
    char err[1024];
    if (hu_store_checkpoint(sp->pg, err, sizeof err))
        hu_spool_committed(sp);
    else
        hu_spool_failed(sp, err);
}

/* Connect again (or for the first time) and make the live capture's row
 * (committed before any incident refers to it). */
static void try_resume(hu_spool *sp)
{
    char err[1024];
    bool back = sp->st.outages > 0;
    sp->ncaps = 0;
    sp->cur_db = 0;
    if (!hu_store_resume(sp->pg, err, sizeof err) ||
        (sp->cur_cap && !db_capture(sp, sp->cur_cap, &sp->cur_db, err, sizeof err)) ||
        !hu_store_checkpoint(sp->pg, err, sizeof err)) {
        sp->up = false;
        hu_spool_failed(sp, err);
        return;
    }
    sp->up = true;
    sp->backoff_ms = BACKOFF_FIRST_MS;
    if (back && sp->rows > 0)
        fprintf(sp->cfg.err, "%s: database %s is back; delivering the %" PRIu64
                             " incidents waiting in the spool\n",
                sp->cfg.progname, hu_store_name(sp->pg), sp->rows);
}

bool hu_spool_begin(hu_spool *sp, const hu_capture_meta *m, char *err, size_t n)
{
    sqlite3_stmt *q = NULL;
    if (!sq_exec(sp, "BEGIN IMMEDIATE; UPDATE spool_meta SET caps = caps + 1",
                 "recording the capture", err, n)) {
        sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    char key[64];
    key_of(sp, 'c', sq_int(sp, "SELECT caps FROM spool_meta", 0, 0), key, sizeof key);
    bool ok = sqlite3_prepare_v2(sp->db, "INSERT INTO captures (source, kind, link_type, "
                                         "analyzer_version, analyzed_at, filter, sensor, "
                                         "spool_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &q,
                                         NULL) == SQLITE_OK;
    if (ok) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sqlite3_bind_text(q, 1, m->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, m->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, m->link_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, HANGUP_VERSION, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
        sqlite3_bind_text(q, 6, m->filter, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 7, m->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 8, key, -1, SQLITE_STATIC);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (ok)
        sp->cur_cap = sqlite3_last_insert_rowid(sp->db);
    ok = ok && sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
        sp->cur_cap = 0;
        snprintf(err, n, "spool %s: recording the capture: %s", sp->path,
                 sqlite3_errmsg(sp->db));
        return false;
    }
    if (!sp->up && mono_ms() >= sp->retry_at)
        try_resume(sp);
    return true;
}

/* Room for one more incident: the oldest waiting ones dropped while the
 * spool is full (never one sent into the open transaction). */
static bool make_room(hu_spool *sp, char *err, size_t n)
{
    while (sp->rows >= sp->cfg.max) {
        int64_t old = sq_int(sp, "SELECT min(seq) FROM spool_queue WHERE seq > ?",
                             sp->sent_max, 0);
        if (old <= 0)
            return true;   /* all sent: the commit makes room within a second */
        if (!sq_run1(sp, "DELETE FROM incidents WHERE id = (SELECT incident_id FROM "
                         "spool_queue WHERE seq = ?)", old, "dropping the oldest", err, n) ||
            !sq_run1(sp, "DELETE FROM spool_queue WHERE seq = ?", old, "dropping the oldest",
                     err, n))
            return false;
        sp->rows--;
        sp->st.dropped++;
        if (!sp->said_full) {
            sp->said_full = true;
            fprintf(sp->cfg.err, "%s: spool %s is full (%" PRIu64 " incidents, --spool-max): "
                                 "the oldest waiting incidents are dropped to keep the "
                                 "newest\n", sp->cfg.progname, sp->path, sp->cfg.max);
        }
    }
    return true;
}

bool hu_spool_incident(hu_spool *sp, hu_incident_rec *rec, char *err, size_t n)
{
    rec->db_id = 0;
    rec->spooled = false;
    rec->spool_key[0] = '\0';
    if (!sp->cur_cap) {
        snprintf(err, n, "spool %s: an incident outside a capture", sp->path);
        return false;
    }
    int64_t rowid = 0, sid = 0;
    char serr[1024] = "";
    bool ok = sq_exec(sp, "BEGIN IMMEDIATE", "keeping an incident", err, n);
    if (ok && !(ok = make_room(sp, err, n) &&
                     hu_store_incident(sp->sq, sp->cur_cap, rec, &rowid, serr, sizeof serr)))
        if (serr[0])
            snprintf(err, n, "spool %s", serr);
    ok = ok && sq_run1(sp, "INSERT INTO spool_queue (incident_id) VALUES (?)", rowid,
                       "keeping an incident", err, n);
    if (ok)
        sid = sqlite3_last_insert_rowid(sp->db);
    ok = ok && sq_exec(sp, "COMMIT", "keeping an incident", err, n);
    if (!ok) {
        sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
        sp->rows = (uint64_t)sq_int(sp, "SELECT count(*) FROM spool_queue", 0,
                                    (int64_t)sp->rows);
        return false;
    }
    sp->rows++;
    if (sp->up && sp->cur_db > 0 && sp->rows - 1 == sp->nsent) {
        key_of(sp, 'i', sid, rec->spool_key, sizeof rec->spool_key);
        if (hu_store_incident(sp->pg, sp->cur_db, rec, &rec->db_id, serr, sizeof serr)) {
            sp->sent_max = sid;
            sp->nsent++;
            return true;
        }
        hu_spool_failed(sp, serr);
    }
    rec->db_id = 0;
    rec->spooled = true;
    sp->st.spooled++;
    return true;
}

void hu_spool_connection(hu_spool *sp, const hu_conn_row *row)
{
    char err[1024];
    if (!sp->up || sp->cur_db <= 0) {
        sp->st.lost_rows++;
        return;
    }
    if (hu_store_connection(sp->pg, sp->cur_db, row, err, sizeof err)) {
        sp->conn_uncommitted++;
        return;
    }
    sp->st.lost_rows++;
    hu_spool_failed(sp, err);
}

/* Send waiting incidents, oldest first, into the open transaction for up
 * to budget_ms (at least one). */
static void deliver(hu_spool *sp, int64_t budget_ms)
{
    int64_t t0 = mono_ms();
    char err[1024];
    while (sp->up && sp->rows > sp->nsent) {
        sqlite3_stmt *q = NULL;
        int64_t seq = 0, id = 0, scap = 0;
        if (sqlite3_prepare_v2(sp->db, "SELECT q.seq, q.incident_id, i.capture_id FROM "
                                       "spool_queue q JOIN incidents i ON i.id = q.incident_id "
                                       "WHERE q.seq > ? ORDER BY q.seq LIMIT 1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, sp->sent_max);
            if (sqlite3_step(q) == SQLITE_ROW) {
                seq = sqlite3_column_int64(q, 0);
                id = sqlite3_column_int64(q, 1);
                scap = sqlite3_column_int64(q, 2);
            }
        }
        sqlite3_finalize(q);
        if (seq == 0) {   /* the count was off: take the spool's word */
            sp->rows = sp->nsent;
            break;
        }
        bool missing;
        hu_incident_rec *rec = hu_store_load_incident(sp->sq, id, &missing, err, sizeof err);
        int64_t dbcap = 0;
        if (!rec) {
            fprintf(sp->cfg.err, "%s: spool %s: incident %" PRId64 " cannot be read (%s); "
                                 "skipped\n", sp->cfg.progname, sp->path, id, err);
            char derr[512];
            if (sq_run1(sp, "DELETE FROM spool_queue WHERE seq = ?", seq, "dropping it", derr,
                        sizeof derr) &&
                sq_run1(sp, "DELETE FROM incidents WHERE id = ?", id, "dropping it", derr,
                        sizeof derr))
                sp->rows--;
            else
                break;
            continue;
        }
        key_of(sp, 'i', seq, rec->spool_key, sizeof rec->spool_key);
        bool ok = db_capture(sp, scap, &dbcap, err, sizeof err) &&
                  hu_store_incident(sp->pg, dbcap, rec, NULL, err, sizeof err);
        hu_incident_rec_free(rec);
        if (!ok) {
            hu_spool_failed(sp, err);
            break;
        }
        sp->sent_max = seq;
        sp->nsent++;
        sp->nsent_backlog++;
        if (mono_ms() - t0 >= budget_ms)
            break;
    }
}

void hu_spool_tick(hu_spool *sp, int64_t budget_ms)
{
    if (!sp->up) {
        if (mono_ms() < sp->retry_at)
            return;
        try_resume(sp);
        if (!sp->up)
            return;
    }
    deliver(sp, budget_ms);
    if (sp->up)
        commit(sp);
}

bool hu_spool_deliver_all(hu_spool *sp)
{
    if (!sp->up)
        try_resume(sp);
    while (sp->up && sp->rows > sp->nsent) {
        deliver(sp, 1000);
        if (sp->up)
            commit(sp);
    }
    return sp->up && sp->rows == sp->nsent;
}
