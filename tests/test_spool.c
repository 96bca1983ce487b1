/*
 * test_spool.c -- `hangup live --db postgresql://...` through a database
 * outage (spool.c): nothing lost, nothing stored twice.
 *
 * Each test starts a PostgreSQL server of its own (pgtest.h) and runs
 * `hangup live` on loopback with real traffic on ports of its own: a
 * Node.js keep-alive race (samples/node-server.js, node-client.js), a
 * Python one (http.server and http.client, samples/py-server.py,
 * py-client.py) and curl refused by a port nobody listens on.  The server
 * is stopped and restarted under the running live (tu_pg_stop,
 * tu_pg_restart); live is killed with SIGKILL during an outage; a spool
 * is copied as it stands after PostgreSQL's commit and delivered again
 * (the crash window between the database's COMMIT and the spool's
 * DELETE); a small --spool-max overflows.  Each time PostgreSQL must hold
 * exactly the incidents live printed, once each, in order.  Capturing
 * needs root; a PostgreSQL, node or python3 that cannot start fails the
 * test (they are not skipped).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtest.h"
#include "testutil.h"

static tu_pg server;
static long long spool_waiting(const char *path);

static void up(void)
{
    cr_assert_eq(geteuid(), 0, "capturing on lo needs root");
    cr_assert_eq(system("node --version >/dev/null 2>&1"), 0,
                 "node is not installed (scripts/install-deps installs it)");
    tu_pg_up(&server, "h");
}

static void down(void)
{
    tu_pg_destroy(&server);
}

/* One test's traffic: a Node race server, a Python race server, a closed
 * port, the metrics port; and live's files. */
typedef struct rig {
    int node, py, closed, metrics;
    pid_t node_srv, py_srv, live;
    char filter[160];
    char out[256], err[256], spool[256];
    char uri[256];
} rig;

static void rig_init(rig *r)
{
    memset(r, 0, sizeof *r);
    r->node = tu_free_port(22000 + (int)(getpid() % 8000) * 4);
    r->py = tu_free_port(r->node + 1);
    r->closed = tu_free_port(r->py + 1);
    r->metrics = tu_free_port(r->closed + 1);
    snprintf(r->filter, sizeof r->filter, "tcp port %d or tcp port %d or tcp port %d", r->node,
             r->py, r->closed);
    snprintf(r->out, sizeof r->out, "%s", tu_tmp(".out"));
    snprintf(r->err, sizeof r->err, "%s", tu_tmp(".err"));
    snprintf(r->spool, sizeof r->spool, "%s", tu_tmp(".spool"));
    snprintf(r->uri, sizeof r->uri, "%s", tu_pg_uri(&server, "h"));
    char portarg[32], py[16];
    snprintf(portarg, sizeof portarg, "port=%d", r->node);
    snprintf(py, sizeof py, "%d", r->py);
    char server_js[4200], py_server[4200];
    snprintf(server_js, sizeof server_js, "%s", tu_sample("node-server.js"));
    snprintf(py_server, sizeof py_server, "%s", tu_sample("py-server.py"));
    char *na[] = { "node", server_js, "mode=raw", "host=127.0.0.1", portarg, "close=400", NULL };
    char *pa[] = { "python3", py_server, "127.0.0.1", py, "0.3", NULL };
    r->node_srv = tu_spawn(na, "/dev/null", "/dev/null");
    r->py_srv = tu_spawn(pa, "/dev/null", "/dev/null");
    tu_sleep_ms(700);
}

static void rig_fini(rig *r)
{
    if (r->live > 0) {
        kill(r->live, SIGKILL);
        waitpid(r->live, NULL, 0);
    }
    kill(r->node_srv, SIGTERM);
    kill(r->py_srv, SIGTERM);
    waitpid(r->node_srv, NULL, 0);
    waitpid(r->py_srv, NULL, 0);
    unlink(r->out);
    unlink(r->err);
}

/* Start live on lo into the test's database with its spool; extra: more
 * arguments (NULL-terminated, at most 4).  Waits until it captures. */
static void start_live(rig *r, const char *const *extra)
{
    char marg[32];
    snprintf(marg, sizeof marg, "127.0.0.1:%d", r->metrics);
    const char *argv[24] = { HANGUP_BIN, "live", "--json", "-i", "lo", "-f", r->filter,
                             "--db", r->uri, "--spool", r->spool, "--metrics", marg };
    int n = 13;
    for (int i = 0; extra && extra[i] && i < 4; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    r->live = tu_spawn((char *const *)argv, r->out, r->err);
    cr_assert(tu_wait_text(r->err, "capturing on lo", 15000), "hangup live did not start");
}

/* A stale keep-alive race from Node's client (about a second). */
static void node_race(const rig *r)
{
    char client_js[4200], url[64];
    snprintf(client_js, sizeof client_js, "%s", tu_sample("node-client.js"));
    snprintf(url, sizeof url, "url=http://127.0.0.1:%d", r->node);
    char *a[] = { "node", client_js, url,
                  "plan=[[\"GET\",\"/a\",0,0],[\"POST\",\"/orders\",300,200]]", "linger=300",
                  NULL };
    int st;
    cr_assert(tu_wait_exit(tu_spawn(a, "/dev/null", "/dev/null"), 30000, &st),
              "the node client did not finish");
}

/* A stale race from Python's http.client (about a second). */
static void python_race(const rig *r)
{
    char client[4200], port[16];
    snprintf(client, sizeof client, "%s", tu_sample("py-client.py"));
    snprintf(port, sizeof port, "%d", r->py);
    char *a[] = { "python3", client, "127.0.0.1", port,
                  "[[\"GET\",\"/a\",0],[\"POST\",\"/b\",0.8]]", NULL };
    int st;
    cr_assert(tu_wait_exit(tu_spawn(a, "/dev/null", "/dev/null"), 30000, &st),
              "the python client did not finish");
}

/* curl refused by the closed port: a "refused" incident. */
static void refused(const rig *r)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "curl -s -m 5 http://127.0.0.1:%d/", r->closed);
    cr_expect_eq(tu_sh(cmd, NULL, NULL), 7, "curl was not refused");
}

/* The incidents live printed so far, in order. */
typedef struct printed {
    int n;
    char cid[64][64];          /* Community IDs (quoted JSON strings) */
    char kind[64][40];
    long long id[64];          /* incident_id, 0 when null */
    bool spooled[64];
} printed;

static void read_printed(const char *out, printed *p)
{
    memset(p, 0, sizeof *p);
    char *text = tu_slurp(out, NULL), *save = NULL;
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l && p->n < 64;
         l = strtok_r(NULL, "\n", &save)) {
        char *type = tu_json_get(l, "type");
        if (type && strcmp(type, "\"incident\"") == 0) {
            char *cid = tu_json_get(l, "community_id"), *k = tu_json_get(l, "kind");
            char *id = tu_json_get(l, "incident_id"), *sp = tu_json_get(l, "spooled");
            snprintf(p->cid[p->n], sizeof p->cid[0], "%s", cid ? cid : "");
            snprintf(p->kind[p->n], sizeof p->kind[0], "%s", k ? k : "");
            p->id[p->n] = id && strcmp(id, "null") != 0 ? atoll(id) : 0;
            p->spooled[p->n] = sp && strcmp(sp, "true") == 0;
            p->n++;
            free(cid);
            free(k);
            free(id);
            free(sp);
        }
        free(type);
    }
    free(text);
}

/* Wait until live has printed n incidents; how many it printed. */
static int wait_printed(const rig *r, int n, int timeout_ms)
{
    printed p;
    int64_t end = tu_now_ms() + timeout_ms;
    do {
        read_printed(r->out, &p);
        if (p.n >= n)
            return p.n;
        tu_sleep_ms(100);
    } while (tu_now_ms() < end);
    return p.n;
}

/* A value from the test's database ("" when none; NULL on error). */
static char *pg(const char *sql)
{
    char err[1024];
    char *v = tu_pg_value(&server, "h", sql, err, sizeof err);
    cr_assert_not_null(v, "%s: %s", sql, err);
    return v;
}

static long long pg_int(const char *sql)
{
    char *v = pg(sql);
    long long n = atoll(v);
    free(v);
    return n;
}

/* Wait until the database holds n incidents; how many it holds. */
static long long wait_stored(long long n, int timeout_ms)
{
    long long have = -1;
    int64_t end = tu_now_ms() + timeout_ms;
    while (tu_now_ms() < end) {
        char err[1024];
        char *v = tu_pg_value(&server, "h", "SELECT count(*) FROM incidents", err, sizeof err);
        have = v ? atoll(v) : -1;
        free(v);
        if (have >= n)
            return have;
        tu_sleep_ms(200);
    }
    return have;
}

/* The database holds exactly what p printed from `from` on: the same
 * incidents (by Community ID) in the same order (ids ascending), each once,
 * and each printed id is its stored id. */
static void expect_stored_as_printed(const printed *p, int from)
{
    long long rows = pg_int("SELECT count(*) FROM incidents");
    long long keys = pg_int("SELECT count(DISTINCT spool_key) FROM incidents");
    long long cids = pg_int("SELECT count(DISTINCT community_id) FROM incidents");
    cr_expect_eq(rows, p->n - from, "stored %lld, printed %d", rows, p->n - from);
    cr_expect_eq(keys, rows, "every stored incident has its own spool key");
    cr_expect_eq(cids, rows, "no incident stored twice");
    char *order = pg("SELECT string_agg('\"' || community_id || '\"', ' ' ORDER BY id) "
                     "FROM incidents");
    char want[64 * 70] = "";
    size_t len = 0;
    for (int i = from; i < p->n; i++)
        len += (size_t)snprintf(want + len, sizeof want - len, "%s%s", i > from ? " " : "",
                                p->cid[i]);
    cr_expect_str_eq(order, want, "stored in another order than printed");
    free(order);
    for (int i = from; i < p->n; i++) {
        if (!p->id[i])
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT id FROM incidents WHERE '\"' || community_id || "
                                  "'\"' = '%s'", p->cid[i]);
        cr_expect_eq(pg_int(sql), p->id[i], "incident %d printed id %lld", i, p->id[i]);
    }
}

/* How many of p's incidents are of kind k (a quoted JSON string). */
static int count_kind(const printed *p, const char *k)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += strcmp(p->kind[i], k) == 0;
    return n;
}

/* The spool gauge scraped from live's /metrics (-1 when none). */
static long long scrape_spool(const rig *r)
{
    char cmd[160], *out = NULL;
    snprintf(cmd, sizeof cmd, "curl -s -m 5 http://127.0.0.1:%d/metrics | "
                              "sed -n 's/^hangup_spool_incidents //p'", r->metrics);
    tu_sh(cmd, &out, NULL);
    long long v = out && *out ? atoll(out) : -1;
    free(out);
    return v;
}

/* SIGINT, then live's exit status. */
static int stop_live(rig *r)
{
    int st;
    kill(r->live, SIGINT);
    cr_assert(tu_wait_exit(r->live, 30000, &st), "hangup live did not stop on SIGINT");
    r->live = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(spool, outage_under_live_loses_and_duplicates_nothing, .init = up, .fini = down,
     .timeout = 120)
{
    rig r;
    rig_init(&r);
    start_live(&r, NULL);   /* as root: it drops to an unprivileged user */
    node_race(&r);
    refused(&r);
    cr_assert_eq(wait_printed(&r, 2, 10000), 2, "before the outage");
    cr_assert_eq(wait_stored(2, 5000), 2, "committed within a second or two");
    /* And forgotten by the spool before the server goes (live deletes them
     * just after its COMMIT returns). */
    for (int t = 0; t < 50 && spool_waiting(r.spool) != 0; t++)
        tu_sleep_ms(100);
    cr_expect_eq(spool_waiting(r.spool), 0);

    cr_assert(tu_pg_stop(&server), "the server did not stop");
    node_race(&r);
    python_race(&r);
    for (int i = 0; i < 3; i++)
        refused(&r);
    cr_assert_eq(wait_printed(&r, 7, 10000), 7, "during the outage");
    cr_expect(tu_wait_text(r.err, "incidents wait in the spool", 5000), "no outage line");
    long long gauge = -1;
    for (int t = 0; t < 30 && gauge < 5; t++, tu_sleep_ms(200))
        gauge = scrape_spool(&r);
    cr_expect_eq(gauge, 5, "hangup_spool_incidents during the outage");
    printed p;
    read_printed(r.out, &p);
    for (int i = 2; i < 7; i++)
        cr_expect(p.spooled[i] && p.id[i] == 0, "incident %d printed as spooled", i);

    char err[2048];
    cr_assert(tu_pg_restart(&server, err, sizeof err), "%s", err);
    cr_expect(tu_wait_text(r.err, "is back; delivering", 35000), "the server back was not noticed");
    python_race(&r);
    refused(&r);
    cr_assert_eq(wait_printed(&r, 9, 10000), 9, "after the outage");
    cr_expect_eq(wait_stored(9, 10000), 9);
    cr_expect_eq(stop_live(&r), 0, "an outage fully delivered is no error");
    char *e = tu_slurp(r.err, NULL);
    char line[512];
    snprintf(line, sizeof line, "Spool %s: 0 incidents waiting, 5 delivered after waiting, "
                                "0 dropped (full), 1 database outage\n", r.spool);
    cr_expect(e && strstr(e, line), "%s", e);
    free(e);

    read_printed(r.out, &p);
    cr_expect_eq(count_kind(&p, "\"keepalive-race\""), 4);
    cr_expect_eq(count_kind(&p, "\"refused\""), 5);
    expect_stored_as_printed(&p, 0);
    cr_expect_eq(pg_int("SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'"), 4);
    cr_expect_eq(pg_int("SELECT count(*) FROM incidents WHERE kind = 'refused'"), 5);
    cr_expect_eq(pg_int("SELECT count(*) FROM captures"), 1);
    cr_expect_gt(pg_int("SELECT packets FROM captures"), 0, "the capture's end is stored");
    cr_expect_gt(pg_int("SELECT count(*) FROM servers"), 0, "the server summaries are stored");
    rig_fini(&r);
}

/* A copy of the spool as it stands (its WAL included). */
/* Incident lines in an analyze --json output file. */
static int incident_lines(const char *path)
{
    char *t = tu_slurp(path, NULL);
    int n = 0;
    for (const char *q = t; q && (q = strstr(q, "{\"type\":\"incident\"")); q++)
        n++;
    free(t);
    return n;
}

/* The fleet: one live and two analyze processes, three sensors,
 * writing into one database at the same time.  Each sensor's captures
 * hold exactly the incidents it printed, once each. */
Test(spool, live_and_two_analyzes_at_once_store_each_incident_once, .init = up, .fini = down,
     .timeout = 120)
{
    rig r;
    rig_init(&r);
    const char *const extra[] = { "--sensor", "node-live", NULL };
    start_live(&r, extra);
    char oa[256], ea[256], ob[256], eb[256];
    snprintf(oa, sizeof oa, "%s", tu_tmp(".a.out"));
    snprintf(ea, sizeof ea, "%s", tu_tmp(".a.err"));
    snprintf(ob, sizeof ob, "%s", tu_tmp(".b.out"));
    snprintf(eb, sizeof eb, "%s", tu_tmp(".b.err"));
    /* Disjoint files: the same packets from two sensors would leave one
     * copy by design (test_pg's concern), not one per sensor. */
    char a1[4200], a2[4200], b1[4200], b2[4200];
    snprintf(a1, sizeof a1, "%s", tu_sample("software-clients.pcap"));
    snprintf(a2, sizeof a2, "%s", tu_sample("client-abort.pcap"));
    snprintf(b1, sizeof b1, "%s", tu_sample("half-close.pcap"));
    snprintf(b2, sizeof b2, "%s", tu_sample("refused-v6.pcap"));
    char *aa[] = { HANGUP_BIN, "analyze", "--json", "--db", r.uri, "--sensor", "sensor-a", a1,
                   a2, NULL };
    char *ba[] = { HANGUP_BIN, "analyze", "--json", "--db", r.uri, "--sensor", "sensor-b", b1,
                   b2, NULL };
    pid_t pa = tu_spawn(aa, oa, ea), pb = tu_spawn(ba, ob, eb);
    node_race(&r);
    python_race(&r);
    refused(&r);
    int sa = -1, sb = -1;
    cr_assert(tu_wait_exit(pa, 60000, &sa) && tu_wait_exit(pb, 60000, &sb), "analyze hung");
    cr_expect(WIFEXITED(sa) && WEXITSTATUS(sa) == 0, "sensor-a's analyze failed");
    cr_expect(WIFEXITED(sb) && WEXITSTATUS(sb) == 0, "sensor-b's analyze failed");
    cr_assert_eq(wait_printed(&r, 3, 10000), 3, "live's incidents");
    cr_expect_eq(stop_live(&r), 0);

    int na = incident_lines(oa), nb = incident_lines(ob);
    cr_assert(na > 0 && nb > 0, "the samples have incidents (%d, %d)", na, nb);
    printed p;
    read_printed(r.out, &p);
    const struct { const char *sensor; int printed; } want[] = {
        { "sensor-a", na }, { "sensor-b", nb }, { "node-live", p.n } };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM incidents i JOIN captures c ON "
                                  "c.id = i.capture_id WHERE c.sensor = '%s'", want[i].sensor);
        cr_expect_eq(pg_int(sql), want[i].printed, "%s stored as many as it printed",
                     want[i].sensor);
    }
    cr_expect_eq(pg_int("SELECT count(*) FROM captures WHERE sensor = 'sensor-a'"), 2);
    cr_expect_eq(pg_int("SELECT count(*) FROM captures WHERE sensor = 'sensor-b'"), 2);
    cr_expect_eq(pg_int("SELECT count(*) FROM captures WHERE sensor = 'node-live'"), 1);
    cr_expect_eq(pg_int("SELECT count(*) FROM incidents"), na + nb + p.n);
    cr_expect_eq(pg_int("SELECT count(*) FROM (SELECT DISTINCT capture_id, number FROM "
                        "incidents) d"), na + nb + p.n, "no incident stored twice");
    unlink(oa); unlink(ea); unlink(ob); unlink(eb);
    rig_fini(&r);
}

static void copy_spool(const char *from, const char *to)
{
    sqlite3 *h;
    char sql[600];
    cr_assert_eq(sqlite3_open(from, &h), SQLITE_OK);
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", to);
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
}

static long long spool_waiting(const char *path)
{
    sqlite3 *h;
    sqlite3_stmt *q;
    long long n = -1;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM spool_queue", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(h);
    return n;
}

Test(spool, sigkill_during_outage_loses_nothing_and_redelivery_stores_once, .init = up,
     .fini = down, .timeout = 120)
{
    rig r;
    rig_init(&r);
    static const char *const as_root[] = { "-Z", "root", NULL };   /* no supervising parent */
    start_live(&r, as_root);
    cr_assert(tu_pg_stop(&server), "the server did not stop");
    refused(&r);
    node_race(&r);
    refused(&r);
    python_race(&r);
    cr_assert_eq(wait_printed(&r, 4, 10000), 4);
    kill(r.live, SIGKILL);
    waitpid(r.live, NULL, 0);
    r.live = 0;
    printed p;
    read_printed(r.out, &p);
    cr_expect_eq(spool_waiting(r.spool), 4, "every printed incident is in the spool");

    /* The copy is the spool as it would stand after PostgreSQL committed
     * its delivery and the process died before the spool forgot it. */
    char copy[300];
    snprintf(copy, sizeof copy, "%s.copy", r.spool);
    unlink(copy);
    copy_spool(r.spool, copy);

    char err[2048];
    cr_assert(tu_pg_restart(&server, err, sizeof err), "%s", err);
    /* A new live delivers the spool first. */
    unlink(r.out);
    start_live(&r, as_root);
    cr_expect_eq(wait_stored(4, 10000), 4);
    cr_expect_eq(stop_live(&r), 0);
    char *e = tu_slurp(r.err, NULL);
    cr_expect(e && strstr(e, "0 incidents waiting, 4 delivered after waiting"), "%s", e);
    free(e);
    expect_stored_as_printed(&p, 0);
    cr_expect_eq(spool_waiting(r.spool), 0);

    /* The crash window: delivered again, stored once. */
    char args[1200], *o = NULL, *e2 = NULL;
    snprintf(args, sizeof args, "'%s' live --deliver --db '%s' --spool '%s'", HANGUP_BIN, r.uri,
             copy);
    cr_expect_eq(tu_sh(args, &o, &e2), 0, "%s", e2);
    cr_expect(e2 && strstr(e2, "delivered 4 incidents"), "%s", e2);
    free(o);
    free(e2);
    cr_expect_eq(spool_waiting(copy), 0);
    expect_stored_as_printed(&p, 0);
    cr_expect_eq(pg_int("SELECT count(*) FROM captures WHERE spool_key IS NOT NULL"), 2,
                 "the killed capture and the new one, each once");
    unlink(copy);
    rig_fini(&r);
}

Test(spool, full_spool_keeps_the_newest_and_says_so, .init = up, .fini = down,
     .timeout = 120)
{
    rig r;
    rig_init(&r);
    cr_assert(tu_pg_stop(&server), "the server did not stop");
    static const char *const small[] = { "--spool-max", "3", "-Z", "root", NULL };
    start_live(&r, small);   /* the server down from the start */
    char *e = tu_slurp(r.err, NULL);
    cr_expect(e && strstr(e, "cannot connect") && strstr(e, "incidents wait in the spool"),
              "%s", e);
    free(e);
    for (int i = 0; i < 5; i++) {
        refused(&r);
        cr_assert_eq(wait_printed(&r, i + 1, 10000), i + 1);
    }
    char err[2048];
    cr_assert(tu_pg_restart(&server, err, sizeof err), "%s", err);
    cr_expect(tu_wait_text(r.err, "is back; delivering", 35000), "the server back was not noticed");
    cr_expect_eq(wait_stored(3, 10000), 3);
    cr_expect_eq(stop_live(&r), 4, "incidents dropped are not stored: a database error");
    e = tu_slurp(r.err, NULL);
    char line[512];
    snprintf(line, sizeof line, "spool %s is full (3 incidents, --spool-max): the oldest "
                                "waiting incidents are dropped to keep the newest\n", r.spool);
    cr_expect(e && strstr(e, line), "%s", e);
    cr_expect(e && strstr(strstr(e, line) + strlen(line), "is full") == NULL, "said once: %s", e);
    cr_expect(e && strstr(e, "0 incidents waiting, 3 delivered after waiting, 2 dropped"),
              "%s", e);
    snprintf(line, sizeof line, "hangup: 2 incidents were dropped from the full spool %s "
                                "(--spool-max) and are not stored\n", r.spool);
    cr_expect(e && strstr(e, line), "%s", e);
    free(e);
    printed p;
    read_printed(r.out, &p);
    expect_stored_as_printed(&p, 2);   /* the newest three */
    cr_expect_gt(pg_int("SELECT packets FROM captures"), 0, "made when the server came back");
    rig_fini(&r);
}

Test(spool, unusable_spool_is_one_line_and_refused, .timeout = 60)
{
    cr_assert_eq(geteuid(), 0, "capturing on lo needs root");
    char uri[128], bad[256], args[1200], *o = NULL, *e = NULL;
    snprintf(uri, sizeof uri, "postgresql://hangup@127.0.0.1:%d/h",
             tu_free_port(30000 + (int)(getpid() % 5000)));
    snprintf(bad, sizeof bad, "%s", tu_tmp(".notdb"));
    FILE *fp = fopen(bad, "w");
    for (int i = 0; i < 4096; i++)
        fputc('x', fp);
    fclose(fp);
    snprintf(args, sizeof args, "'%s' live -i lo -c 1 --db '%s' --spool '%s'", HANGUP_BIN, uri,
             bad);
    cr_expect_eq(tu_sh(args, &o, &e), 4);
    cr_expect(e && strstr(e, "spool") && strstr(e, bad) && strstr(e, "not a database"), "%s", e);
    free(o);
    free(e);

    /* In use by another hangup (its lock held here). */
    char good[256];
    snprintf(good, sizeof good, "%s", tu_tmp(".spool"));
    int fd = open(good, O_RDWR | O_CREAT, 0600);
    cr_assert(fd >= 0 && flock(fd, LOCK_EX) == 0);
    snprintf(args, sizeof args, "'%s' live -i lo -c 1 --db '%s' --spool '%s'", HANGUP_BIN, uri,
             good);
    cr_expect_eq(tu_sh(args, &o, &e), 4);
    cr_expect(e && strstr(e, "is in use by another hangup"), "%s", e);
    free(o);
    free(e);
    close(fd);
    unlink(good);
    unlink(bad);
}
