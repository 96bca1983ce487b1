/*
 * test_pg.c -- the incident database on a real PostgreSQL server
 * (storepg.c), started by the tests themselves (pgtest.h): the same
 * answers as SQLite on the same captures, two sensors writing at once, a
 * server that cannot be reached, a query that cannot write, a newer
 * schema refused.  A server that cannot start fails the test.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hangup/store.h"
#include "pgtest.h"
#include "testutil.h"

/* Each test's server (Criterion runs each test in a process of its own). */
static tu_pg server;

static void up(void)
{
    tu_pg_up(&server, "h");
}

static void down(void)
{
    tu_pg_destroy(&server);
}

/* hangup with args (shell words), TZ=UTC; its exit status. */
static int hangup(const char *args, char **out, char **err)
{
    char cmd[65536];
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

/* Every sample capture's path, space-separated (malloc'd). */
static char *all_samples(void)
{
    size_t n;
    char **names = tu_sample_captures(&n);
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *p = tu_sample(names[i]);
        while (len + strlen(p) + 4 > cap)
            s = realloc(s, cap *= 2);
        len += (size_t)sprintf(s + len, "'%s' ", p);
    }
    tu_names_free(names, n);
    return s;
}

/* `hangup CMD` against the PostgreSQL and the SQLite database gives the
 * same exit status, output and errors (the errors name the database, so
 * only their count of lines is compared). */
static void same_answer(const char *pg, const char *sqlite, const char *cmd)
{
    char args[8192], *o1, *e1, *o2, *e2;
    snprintf(args, sizeof args, "%s --db '%s'", cmd, pg);
    int s1 = hangup(args, &o1, &e1);
    snprintf(args, sizeof args, "%s --db '%s'", cmd, sqlite);
    int s2 = hangup(args, &o2, &e2);
    cr_expect_eq(s1, s2, "%s: exit %d on PostgreSQL, %d on SQLite (%s | %s)", cmd, s1, s2, e1,
                 e2);
    cr_expect_str_eq(o1, o2, "%s: PostgreSQL and SQLite differ", cmd);
    free(o1);
    free(o2);
    free(e1);
    free(e2);
}

Test(pg, analyze_query_report_and_show_answer_as_on_sqlite, .init = up, .fini = down,
     .timeout = 300)
{
    const char *uri = tu_pg_uri(&server, "h");
    char pg[256], *db = strdup(tu_tmp(".db"));
    snprintf(pg, sizeof pg, "%s", uri);
    char *files = all_samples(), args[65536], *o1, *e1, *o2, *e2;
    snprintf(args, sizeof args, "analyze --sensor s1 --db '%s' %s", pg, files);
    int s1 = hangup(args, &o1, &e1);
    snprintf(args, sizeof args, "analyze --sensor s1 --db '%s' %s", db, files);
    int s2 = hangup(args, &o2, &e2);
    cr_assert_eq(s1, s2, "analyze: exit %d into PostgreSQL, %d into SQLite: %s", s1, s2, e1);
    cr_expect_str_eq(o1, o2, "analyze prints differently into PostgreSQL");
    cr_expect_str_eq(e1, e2, "analyze warns differently into PostgreSQL");
    cr_expect(strstr(o1, "stored: hangup show 1"), "nothing stored: %s", e1);
    free(o1);
    free(e1);
    free(o2);
    free(e2);

    /* Several kinds, as the samples hold them. */
    char *kinds = NULL;
    snprintf(args, sizeof args, "query --db '%s' \"SELECT count(DISTINCT kind) FROM incidents\"",
             pg);
    cr_assert_eq(hangup(args, &kinds, NULL), 0);
    cr_expect(strstr(kinds, "\n8") || strstr(kinds, "\n9") || strstr(kinds, "\n7"),
              "few kinds in the samples: %s", kinds);
    free(kinds);

    static const char *const cmds[] = {
        "report", "report --json", "report --csv", "report --section timeouts",
        "report --kind keepalive-race", "report --server 10.77.0.2:3100",
        "report --since 2026-01-01", "report --sensor s1", "report --sensor nobody",
        "query 'SELECT * FROM incidents_view ORDER BY id'",
        "query --json 'SELECT * FROM incidents_view ORDER BY id'",
        "query --csv 'SELECT * FROM servers_view ORDER BY id'",
        "query --json 'SELECT id, source, kind, link_type, content_hash, first_time, last_time,"
        " packets, complete, filter, sensor FROM captures_view ORDER BY id'",
        "query --csv 'SELECT * FROM incidents ORDER BY id'",
        "query --csv 'SELECT * FROM incident_packets ORDER BY incident_id, idx'",
        "query --csv 'SELECT * FROM connections ORDER BY id'",
        "query --csv 'SELECT * FROM capture_files ORDER BY capture_id, idx'",
        "query \"SELECT kind, coalesce(verdict, '-') AS v, count(*) AS n, sum(rtt_us) AS rtt"
        " FROM incidents GROUP BY 1, 2 ORDER BY 1, 2\"",
        "show 1", "show 999999",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        same_answer(pg, db, cmds[i]);
    /* Every incident shown as analyze printed it, the same from both. */
    char *n = NULL;
    snprintf(args, sizeof args, "query --csv --db '%s' 'SELECT max(id) FROM incidents'", db);
    cr_assert_eq(hangup(args, &n, NULL), 0);
    long max = strtol(strchr(n, '\n') + 1, NULL, 10);
    cr_assert_gt(max, 50, "only %ld incidents", max);
    char *shows[2];
    const char *dbs[2] = { pg, db };
    for (int k = 0; k < 2; k++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "i=1; while [ $i -le %ld ]; do echo \"== $i\";"
                 " TZ=UTC '%s' show --db '%s' $i 2>/dev/null; echo \"exit $?\"; i=$((i + 1)); done",
                 max, HANGUP_BIN, dbs[k]);
        cr_assert_eq(tu_sh(cmd, &shows[k], NULL), 0);
    }
    cr_expect_str_eq(shows[0], shows[1], "show differs between PostgreSQL and SQLite");
    cr_expect(strstr(shows[0], "exit 0"));
    free(shows[0]);
    free(shows[1]);
    free(n);
    free(files);
    unlink(db);
    free(db);
}

/* The query's single value from hangup query --csv (malloc'd). */
static char *value(const char *db, const char *sql)
{
    char args[4096], *o = NULL, *e = NULL;
    snprintf(args, sizeof args, "query --csv --db '%s' \"%s\"", db, sql);
    int st = hangup(args, &o, &e);
    cr_assert_eq(st, 0, "%s: %s", sql, e);
    free(e);
    char *nl = strchr(o, '\n');
    cr_assert(nl, "%s: no row", sql);
    char *v = strdup(nl + 1);
    v[strcspn(v, "\r\n")] = '\0';
    free(o);
    return v;
}

Test(pg, two_sensors_at_once_store_every_incident_once, .init = up, .fini = down,
     .timeout = 300)
{
    char pg[256];
    snprintf(pg, sizeof pg, "%s", tu_pg_uri(&server, "h"));
    /* The same packets under many names, for both sensors: each copy
     * replaces the last (same content hash), in either process. */
    char dir[64] = "/tmp/hangup-pgcopies-XXXXXX", copies[8192] = "";
    cr_assert(mkdtemp(dir));
    for (int i = 0; i < 16; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cp '%s' %s/copy%02d.pcap", tu_sample("crossed-server.pcap"),
                 dir, i);
        cr_assert_eq(tu_sh(cmd, NULL, NULL), 0);
        size_t l = strlen(copies);
        snprintf(copies + l, sizeof copies - l, "%s/copy%02d.pcap ", dir, i);
    }
    static const char *const a_files[] = { "crossed-client.pcap", "client-abort.pcap",
                                           "connect-timeout.pcap", "proxy-caddy-502.pcap" };
    static const char *const b_files[] = { "closed-before-response.pcap", "half-close.pcap",
                                           "bigtcp-v6.pcap", "node-keepalive-v4.pcap" };
    char a[4096] = "", b[4096] = "", both[8448] = "";
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(a);
        snprintf(a + l, sizeof a - l, "%s ", tu_sample(a_files[i]));
        l = strlen(b);
        snprintf(b + l, sizeof b - l, "%s ", tu_sample(b_files[i]));
    }
    snprintf(both, sizeof both, "%s%s%s/copy00.pcap", a, b, dir);
    /* Both at once, into a database with no schema yet: both migrate it. */
    char ca[16384], cb[16384];
    snprintf(ca, sizeof ca, "%s analyze --no-timeline --sensor sensor-a --db '%s' %s %s",
             HANGUP_BIN, pg, copies, a);
    snprintf(cb, sizeof cb, "%s analyze --no-timeline --sensor sensor-b --db '%s' %s %s",
             HANGUP_BIN, pg, copies, b);
    char *const argva[] = { "/bin/sh", "-c", ca, NULL }, *const argvb[] = { "/bin/sh", "-c", cb,
                                                                           NULL };
    char *oa = strdup(tu_tmp(".a")), *ob = strdup(tu_tmp(".b")), *ea = strdup(tu_tmp(".ea")),
         *eb = strdup(tu_tmp(".eb"));
    pid_t pa = tu_spawn(argva, oa, ea), pb = tu_spawn(argvb, ob, eb);
    int sa, sb;
    cr_assert(tu_wait_exit(pa, 120000, &sa) && tu_wait_exit(pb, 120000, &sb));
    char *erra = tu_slurp(ea, NULL), *errb = tu_slurp(eb, NULL);
    cr_expect(WIFEXITED(sa) && WEXITSTATUS(sa) == 0, "sensor a: %s", erra);
    cr_expect(WIFEXITED(sb) && WEXITSTATUS(sb) == 0, "sensor b: %s", errb);

    /* One copy of the shared packets, whoever stored it last. */
    char *hash = value(pg, "SELECT content_hash FROM captures WHERE source LIKE '%copy00.pcap'"
                           " OR source LIKE '%copy__.pcap' LIMIT 1");
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM captures WHERE content_hash = '%s'", hash);
    char *copies_left = value(pg, sql);
    cr_expect_str_eq(copies_left, "1", "the same packets are stored %s times", copies_left);
    free(copies_left);
    /* The same again with every commit held up for half a second (a
     * deferred trigger runs at COMMIT, after the replacing DELETE): each
     * writer's DELETE comes while the other's capture is not committed,
     * so only waiting for the other (the advisory lock) leaves one copy. */
    char err[512];
    char *v = tu_pg_value(&server, "h",
                          "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS"
                          " $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;"
                          "CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON captures"
                          " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow()",
                          err, sizeof err);
    cr_assert(v, "%s", err);
    free(v);
    snprintf(ca, sizeof ca, "%s analyze --no-timeline --sensor sensor-a --db '%s' %s/copy01.pcap"
             " %s/copy02.pcap", HANGUP_BIN, pg, dir, dir);
    snprintf(cb, sizeof cb, "%s analyze --no-timeline --sensor sensor-b --db '%s' %s/copy03.pcap"
             " %s/copy04.pcap", HANGUP_BIN, pg, dir, dir);
    pa = tu_spawn(argva, oa, ea);
    pb = tu_spawn(argvb, ob, eb);
    cr_assert(tu_wait_exit(pa, 120000, &sa) && tu_wait_exit(pb, 120000, &sb));
    cr_expect(WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    copies_left = value(pg, sql);
    cr_expect_str_eq(copies_left, "1", "analysed at once, the same packets are stored %s times",
                     copies_left);
    v = tu_pg_value(&server, "h", "DROP TRIGGER slow_commit ON captures", err, sizeof err);
    cr_assert(v, "%s", err);
    free(v);
    /* Each sensor's captures under its name. */
    char *na = value(pg, "SELECT count(*) FROM captures WHERE sensor = 'sensor-a'"
                         " AND source NOT LIKE '%copy%'");
    char *nb = value(pg, "SELECT count(*) FROM captures WHERE sensor = 'sensor-b'"
                         " AND source NOT LIKE '%copy%'");
    cr_expect_str_eq(na, "4");
    cr_expect_str_eq(nb, "4");

    /* Every incident once: the same as one SQLite analysis of each
     * capture once. */
    char *db = strdup(tu_tmp(".db")), args[16384];
    snprintf(args, sizeof args, "analyze --no-timeline --db '%s' %s", db, both);
    cr_assert_eq(hangup(args, NULL, NULL), 0);
    static const char *const q =
        "query --csv \"SELECT i.kind, coalesce(i.verdict, '-') AS verdict, i.client, i.server,"
        " i.request_time, i.request_packet, i.community_id, c.content_hash, count(*) AS n"
        " FROM incidents i JOIN captures c ON c.id = i.capture_id"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 8, 5, 6, 3\"";
    same_answer(pg, db, q);
    char *total = value(pg, "SELECT count(*) FROM incidents");
    char *want = value(db, "SELECT count(*) FROM incidents");
    cr_expect_str_eq(total, want);
    /* Two sensors: report counts incidents by sensor. */
    char *rep = NULL;
    snprintf(args, sizeof args, "report --section sensors --db '%s'", pg);
    cr_expect_eq(hangup(args, &rep, NULL), 0);
    cr_expect(strstr(rep, "sensor-a") && strstr(rep, "sensor-b"), "%s", rep);
    free(rep);
    snprintf(args, sizeof args, "report --db '%s'", pg);
    cr_expect_eq(hangup(args, &rep, NULL), 0);
    cr_expect(strstr(rep, "Incidents by sensor"), "%s", rep);
    free(rep);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_sh(cmd, NULL, NULL);
    unlink(oa);
    unlink(ob);
    unlink(ea);
    unlink(eb);
    unlink(db);
    free(erra);
    free(errb);
    free(hash);
    free(copies_left);
    free(na);
    free(nb);
    free(total);
    free(want);
    free(db);
    free(oa);
    free(ob);
    free(ea);
    free(eb);
}

Test(pg, an_unreachable_server_fails_each_capture_with_one_line, .init = up, .fini = down,
     .timeout = 120)
{
    /* A port nobody listens on: the test's own server, stopped. */
    char pg[256];
    snprintf(pg, sizeof pg, "%s", tu_pg_uri(&server, "h"));
    cr_assert(tu_pg_stop(&server));
    char args[4096], *o1, *e1, *o2, *e2;
    snprintf(args, sizeof args, "analyze --db '%s' %s", pg, tu_sample("crossed-client.pcap"));
    size_t l = strlen(args);
    snprintf(args + l, sizeof args - l, " %s", tu_sample("client-abort.pcap"));
    int st = hangup(args, &o1, &e1);
    cr_expect_eq(st, 4, "exit %d, not 4 (README: the database could not be written)", st);
    /* One line, naming the server (no password) and why. */
    cr_expect_eq(strchr(e1, '\n'), e1 + strlen(e1) - 1, "not one line: %s", e1);
    cr_expect(strstr(e1, "postgresql://hangup@127.0.0.1:") && strstr(e1, "cannot connect"),
              "%s", e1);
    /* Both files analysed and printed all the same, as without a database. */
    snprintf(args, sizeof args, "analyze --no-db %s", tu_sample("crossed-client.pcap"));
    l = strlen(args);
    snprintf(args + l, sizeof args - l, " %s", tu_sample("client-abort.pcap"));
    cr_assert_eq(hangup(args, &o2, &e2), 0);
    cr_expect_str_eq(o1, o2);
    free(o1);
    free(e1);
    free(o2);
    free(e2);

    /* Back up: the same command stores again. */
    char err[2048];
    cr_assert(tu_pg_restart(&server, err, sizeof err), "%s", err);
    snprintf(args, sizeof args, "analyze --db '%s' %s", pg, tu_sample("crossed-client.pcap"));
    cr_expect_eq(hangup(args, NULL, &e1), 0, "%s", e1);
    free(e1);
    char *n = value(pg, "SELECT count(*) FROM incidents");
    cr_expect_str_eq(n, "2");
    free(n);
}

Test(pg, query_cannot_write_and_a_newer_schema_is_refused, .init = up, .fini = down,
     .timeout = 120)
{
    char pg[256], args[4096], *o, *e;
    snprintf(pg, sizeof pg, "%s", tu_pg_uri(&server, "h"));
    snprintf(args, sizeof args, "analyze --db '%s' %s", pg, tu_sample("crossed-client.pcap"));
    cr_assert_eq(hangup(args, NULL, NULL), 0);
    static const char *const writes[] = {
        "DELETE FROM incidents",
        "UPDATE captures SET sensor = 'x'",
        "WITH d AS (DELETE FROM incidents RETURNING id) SELECT count(*) FROM d",
        "CREATE TABLE t (a integer)",
        "SELECT 1; DELETE FROM incidents",
        "DROP TABLE incidents CASCADE",
        "SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)"
        " FROM (SELECT 1) x WHERE false UNION ALL SELECT 'x' FROM incidents LIMIT 0",
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        snprintf(args, sizeof args, "query --db '%s' \"%s\"", pg, writes[i]);
        int st = hangup(args, &o, &e);
        if (i < 6)
            cr_expect_eq(st, 2, "%s: exit %d (%s)", writes[i], st, e);
        free(o);
        free(e);
    }
    char *n = value(pg, "SELECT count(*) FROM incidents");
    cr_expect_str_eq(n, "2", "a query changed the database");
    free(n);
    n = value(pg, "SELECT count(*) FROM captures WHERE sensor = 'x'");
    cr_expect_str_eq(n, "0");
    free(n);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    n = value(pg, "SELECT sensor FROM captures");
    cr_expect_str_eq(n, host, "the default sensor is not the host name");
    free(n);

    /* A schema from a newer hangup: refused by every command. */
    char err[512];
    char *v = tu_pg_value(&server, "h", "UPDATE hangup_schema SET version = 999", err,
                          sizeof err);
    cr_assert(v, "%s", err);
    free(v);
    static const char *const cmds[] = { "analyze", "query", "report", "show" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "%s --db '%s' %s", cmds[i], pg,
                 i == 0 ? tu_sample("crossed-client.pcap") : i == 1 ? "'SELECT 1'"
                 : i == 3 ? "1" : "");
        int st = hangup(args, &o, &e);
        cr_expect_eq(st, 4, "%s: exit %d", cmds[i], st);
        cr_expect(strstr(e, "schema version 999 is newer"), "%s: %s", cmds[i], e);
        free(o);
        free(e);
    }
}

/* `hangup CMD --html PAGE` against the PostgreSQL and the SQLite
 * database: exit status want from both and byte for byte the same page,
 * or, failing, one line on stderr and no page.  The page's bytes
 * (malloc'd; NULL when none was to be written). */
static char *same_page(const char *pg, const char *sqlite, const char *cmd, int want)
{
    char pages[2][256], *bytes[2] = { NULL, NULL };
    const char *dbs[2] = { pg, sqlite };
    for (int k = 0; k < 2; k++) {
        char args[8192], *o, *e;
        snprintf(pages[k], sizeof pages[k], "%s", tu_tmp(".html"));
        unlink(pages[k]);
        snprintf(args, sizeof args, "%s --db '%s' --html '%s'", cmd, dbs[k], pages[k]);
        int st = hangup(args, &o, &e);
        cr_expect_eq(st, want, "%s on %s: exit %d, not %d: %s", cmd, k ? "SQLite" : "PostgreSQL",
                     st, want, e);
        cr_expect_eq(strlen(o), 0, "%s: printed %s", cmd, o);
        if (want) {
            cr_expect(strlen(e) > 0 && strchr(e, '\n') == e + strlen(e) - 1,
                      "%s: not one line: %s", cmd, e);
            cr_expect_neq(access(pages[k], F_OK), 0, "%s: a page was written", cmd);
        } else {
            bytes[k] = tu_slurp(pages[k], NULL);
            cr_expect(bytes[k] && strstr(bytes[k], "</html>"), "%s: no page", cmd);
        }
        unlink(pages[k]);
        free(o);
        free(e);
    }
    if (want == 0 && bytes[0] && bytes[1])
        cr_expect_str_eq(bytes[0], bytes[1], "%s --html: the pages differ between PostgreSQL"
                         " and SQLite", cmd);
    free(bytes[1]);
    return bytes[0];
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

Test(pg, html_pages_are_the_same_as_from_sqlite_and_filter_by_sensor, .init = up, .fini = down,
     .timeout = 300)
{
    char pg[256], *db = strdup(tu_tmp(".db"));
    snprintf(pg, sizeof pg, "%s", tu_pg_uri(&server, "h"));
    /* Two sensors' captures in one database, in the same order into both. */
    static const char *const a_files[] = { "crossed-client.pcap", "server-timeout-node.pcap",
                                           "connect-timeout.pcap" };
    static const char *const b_files[] = { "race-node-ipv4.pcap", "client-abort.pcap",
                                           "proxy-caddy-502.pcap" };
    char a[4096] = "", b[4096] = "", args[16384];
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(a);
        snprintf(a + l, sizeof a - l, "'%s' ", tu_sample(a_files[i]));
        l = strlen(b);
        snprintf(b + l, sizeof b - l, "'%s' ", tu_sample(b_files[i]));
    }
    const char *dbs[2] = { pg, db };
    for (int k = 0; k < 2; k++) {
        char *e;
        snprintf(args, sizeof args, "analyze --sensor sensor-a --db '%s' %s >/dev/null", dbs[k],
                 a);
        cr_assert_eq(hangup(args, NULL, &e), 0, "%s", e);
        free(e);
        snprintf(args, sizeof args, "analyze --sensor sensor-b --db '%s' %s >/dev/null", dbs[k],
                 b);
        cr_assert_eq(hangup(args, NULL, &e), 0, "%s", e);
        free(e);
    }

    /* report --html with each of report's filters, and every show --html. */
    static const char *const cmds[] = {
        "report", "report --kind keepalive-race", "report --capture 2",
        "report --server 127.0.0.1:3123", "report --since 2026-01-01", "report --until 2000-01-01",
        "report --sensor sensor-b --kind client-abort", "report --sensor nobody",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        free(same_page(pg, db, cmds[i], 0));
    char *max = value(db, "SELECT max(id) FROM incidents");
    long n = strtol(max, NULL, 10);
    cr_assert_gt(n, 20, "only %ld incidents", n);
    for (long id = 1; id <= n; id++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "show %ld", id);
        char *page = same_page(pg, db, cmd, 0);
        cr_expect_eq(count(page, "<details class=\"inc\""), 1, "%s: not one incident", cmd);
        free(page);
    }

    /* --sensor: only that sensor's incidents, servers and captures. */
    for (int k = 0; k < 2; k++) {
        const char *sensor = k ? "sensor-b" : "sensor-a";
        const char *const *mine = k ? b_files : a_files, *const *theirs = k ? a_files : b_files;
        char cmd[64], sql[512];
        snprintf(cmd, sizeof cmd, "report --sensor %s", sensor);
        char *page = same_page(pg, db, cmd, 0);
        cr_assert(page, "%s: no page", cmd);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM incidents i JOIN captures c"
                 " ON c.id = i.capture_id WHERE c.sensor = '%s'", sensor);
        char *want = value(pg, sql);
        cr_expect_eq(count(page, "<details class=\"inc\""), (size_t)strtol(want, NULL, 10),
                     "%s: %zu incidents on the page, %s stored", cmd,
                     count(page, "<details class=\"inc\""), want);
        free(want);
        snprintf(sql, sizeof sql, "SELECT count(DISTINCT s.server) FROM servers s JOIN captures c"
                 " ON c.id = s.capture_id WHERE c.sensor = '%s'", sensor);
        want = value(pg, sql);
        cr_expect_eq(count(page, "<section class=\"srv\""), (size_t)strtol(want, NULL, 10),
                     "%s: %zu servers on the page, %s stored", cmd,
                     count(page, "<section class=\"srv\""), want);
        free(want);
        for (size_t i = 0; i < 3; i++) {
            cr_expect(strstr(page, mine[i]), "%s: %s missing", cmd, mine[i]);
            cr_expect(!strstr(page, theirs[i]), "%s: %s is another sensor's", cmd, theirs[i]);
        }
        free(page);
    }
    /* Nothing from an unknown sensor: a page of no incidents. */
    char *page = same_page(pg, db, "report --sensor nobody", 0);
    cr_expect_eq(count(page, "<details class=\"inc\""), 0);
    free(page);

    /* Bad input: one line and the exit status help and hangup.1 give. */
    free(same_page(pg, db, "report --sensor ''", 2));
    free(same_page(pg, db, "show 999999", 1));
    free(same_page(pg, db, "show --kind connect-timeout 1", 1));
    free(max);
    unlink(db);
    free(db);
}

static int64_t count_of(const char *db, const char *sql)
{
    char *v = value(db, sql);
    int64_t n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* Connection rows go to PostgreSQL many to a statement: every row
 * arrives, in the order given, whether its statement was full or cut
 * short by a checkpoint or the capture's end; a row that fails is
 * reported by the call that sent it, and the capture is rolled back. */
Test(pg, connection_rows_are_sent_in_batches_in_order, .init = up, .fini = down, .timeout = 300)
{
    char err[1024] = "";
    char pg[256];
    snprintf(pg, sizeof pg, "%s", tu_pg_uri(&server, "h"));
    hu_store *s = hu_store_open(pg, false, err, sizeof err);
    cr_assert(s, "%s", err);
    hu_capture_meta m = { .source = "test", .kind = "file", .link_type = "EN10MB" };
    int64_t cap;
    cr_assert(hu_store_begin(s, &m, &cap, err, sizeof err), "%s", err);
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        hu_conn_row r = tu_conn_row((uint64_t)i + 1);
        cr_assert(hu_store_connection(s, cap, &r, err, sizeof err), "%s", err);
        if (i % 150 == 149) {
            cr_assert(hu_store_checkpoint(s, err, sizeof err), "%s", err);
            cr_assert_eq(count_of(pg, "SELECT count(*) FROM connections"), i + 1,
                         "a checkpoint commits every row given before it");
        }
    }
    hu_capture_end e = { .packets = N, .complete = true, .link_type = "EN10MB" };
    int64_t replaced;
    cr_assert(hu_store_end(s, cap, &e, &replaced, err, sizeof err), "%s", err);
    tu_expect_conn_rows(pg, N, count_of);

    /* A capture that does not exist: the foreign key refuses its rows
     * when they are sent, at the latest at the capture's end. */
    cr_assert(hu_store_begin(s, &m, &cap, err, sizeof err), "%s", err);
    bool ok = true;
    for (int i = 0; i < 10 && ok; i++) {
        hu_conn_row r = tu_conn_row(1);
        ok = hu_store_connection(s, cap + 1000, &r, err, sizeof err);
    }
    if (ok)
        ok = hu_store_end(s, cap, &e, &replaced, err, sizeof err);
    cr_assert_not(ok, "a refused row fails the capture");
    cr_assert(strstr(err, "storing connections"), "%s", err);
    hu_store_close(s);
    cr_assert_eq(count_of(pg, "SELECT count(*) FROM captures"), 1, "the second rolled back");
    cr_assert_eq(count_of(pg, "SELECT count(*) FROM connections"), N);
}
