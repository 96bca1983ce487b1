/*
 * test_store.c -- the SQLite store and the database commands, end to end:
 * schema creation and migration, a newer schema refused, idempotent
 * re-analysis (by content, not path), a writer killed halfway, a reader
 * while a writer works, query/report/show output, and the failures a user
 * meets (unwritable path, not a database, locked, disk full); the
 * connection rows written on the store's own thread; and records read
 * back as they were written, from this schema and from version 3's.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hangup/communityid.h"
#include "hangup/flow.h"
#include "hangup/store.h"
#include "testutil.h"

static int hangup(const char *args, char **out, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

static int64_t scalar(const char *db, const char *sql)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

static char *fresh_db(void)
{
    char *p = strdup(tu_tmp(".db"));
    unlink(p);
    return p;
}

/* `hangup analyze OPTS --db DB` on samples a and b: what it printed
 * (asserted to succeed), for the caller to free. */
static char *analyze_into(const char *db, const char *opts, const char *a, const char *b)
{
    char args[9000], first[4200], *out, *err;
    snprintf(first, sizeof first, "%s", tu_sample(a));   /* tu_sample's buffer is static */
    snprintf(args, sizeof args, "analyze %s --db '%s' '%s' '%s'", opts, db, first,
             tu_sample(b));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(err);
    return out;
}

static void rm_db(char *p)
{
    char b[4200];
    unlink(p);
    snprintf(b, sizeof b, "%s-wal", p);
    unlink(b);
    snprintf(b, sizeof b, "%s-shm", p);
    unlink(b);
    free(p);
}

Test(store, new_database_has_the_current_schema)
{
    char *db = fresh_db();
    char err[512];
    hu_store *s = hu_store_open(db, false, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(hu_store_version(s), HU_STORE_VERSION);
    hu_store_close(s);
    cr_expect_eq(scalar(db, "PRAGMA user_version"), HU_STORE_VERSION);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('captures',"
                            "'incidents','incident_packets','connections','servers',"
                            "'captures_view','incidents_view','servers_view')"), 8);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"),
                 1);
    rm_db(db);
}

Test(store, migrates_from_every_earlier_version)
{
    for (int from = 0; from < HU_STORE_VERSION; from++) {
        char *db = fresh_db();
        char err[512];
        hu_store *s = hu_store_open_version(db, from, err, sizeof err);
        cr_assert_not_null(s, "%s", err);
        cr_expect_eq(hu_store_version(s), from);
        if (from >= 1)   /* data written under the old schema survives */
            cr_assert_eq(sqlite3_exec(hu_store_db(s),
                                      "INSERT INTO captures (source, analyzer_version, analyzed_at, "
                                      "first_time, last_time) VALUES ('old.pcap', '0.0', 1, "
                                      "1763740800000000, 1763740801000000);"
                                      "INSERT INTO incidents (capture_id, number, kind, verdict, "
                                      "client, server, ip_version, file, fin_packet, "
                                      "request_packet, rst_packet, fin_time, request_time, "
                                      "rst_time, gap_us, rst_ack, tls, handshake_seen, "
                                      "safe_to_retry, close_announced, retried, reassembly, "
                                      "server_acked, request_complete, connection) VALUES (1, 1, "
                                      "'keepalive-race', 'stale', '10.0.0.1:4000', "
                                      "'10.0.0.2:80', 4, 'old.pcap', 7, 9, 10, 1, 2, 3, 1, 0, 0, "
                                      "1, 1, 0, 0, 'libnids', 0, 1, 1);"
                                      "INSERT INTO incident_packets (incident_id, idx, packet, "
                                      "time, sender, flags, seq, ack, length, line) VALUES (1, 0, "
                                      "7, 1, 'server', 'F.', 1, 1, 0, 'a line');",
                                      NULL, NULL, NULL), SQLITE_OK, "%s",
                         sqlite3_errmsg(hu_store_db(s)));
        hu_store_close(s);
        s = hu_store_open(db, false, err, sizeof err);
        cr_assert_not_null(s, "%s", err);
        cr_expect_eq(hu_store_version(s), HU_STORE_VERSION, "from version %d", from);
        hu_store_close(s);
        if (from >= 1) {
            cr_expect_eq(scalar(db, "SELECT count(*) FROM captures WHERE source='old.pcap'"), 1);
            cr_expect_eq(scalar(db, "SELECT count(*) FROM captures_view WHERE "
                                    "first_time = '2025-11-21T16:00:00.000000Z'"), 1);
            cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents_view WHERE verdict = 'stale' "
                                    "AND rst_packet = 10"), 1, "from version %d", from);
            cr_expect_eq(scalar(db, "SELECT count(*) FROM incident_packets"), 1,
                         "the timeline survived the incidents rebuild (from %d)", from);
        }
        if (from >= 1 && from < 4) {
            /* Its Community ID, from the endpoints the old row holds as
             * text (from version 4 on the insert above leaves out the
             * address columns the ID is computed from). */
            char cid[HU_CID_LEN], sql[200];
            uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 };
            cr_assert(hu_cid_tcp(cid, 0, 4, a, 4000, b, 80));
            snprintf(sql, sizeof sql, "SELECT count(*) FROM incidents_view WHERE "
                                      "community_id = '%s'", cid);
            cr_expect_eq(scalar(db, sql), 1, "from version %d", from);
        }
        rm_db(db);
    }
}

Test(store, newer_schema_is_refused)
{
    char *db = fresh_db();
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-python.pcap"));
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "newer than this hangup"), "%s", err);
    cr_expect(strstr(out, "Keep-alive race #1"), "the analysis is still printed: %s", out);
    cr_expect_eq(scalar(db, "PRAGMA user_version"), 99, "the newer database left alone");
    free(out);
    free(err);
    rm_db(db);
}

Test(store, analysing_the_same_packets_again_replaces_them)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    const char *sample = tu_sample("race-python.pcap");
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, sample);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    int64_t inc = scalar(db, "SELECT count(*) FROM incidents");
    int64_t pk = scalar(db, "SELECT count(*) FROM incident_packets");
    cr_expect_eq(inc, 2);
    cr_expect_gt(pk, 6);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    /* The same bytes under another name are the same capture. */
    char copy[256];
    snprintf(copy, sizeof copy, "%s", tu_tmp(".pcap"));
    char cp[4400];
    snprintf(cp, sizeof cp, "cp '%s' '%s'", sample, copy);
    cr_assert_eq(system(cp), 0);
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, copy);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), inc);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incident_packets"), pk);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM servers"),
                 scalar(db, "SELECT count(DISTINCT server) FROM servers"));
    /* A different capture adds to it. */
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("crossed-server.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), inc + 2);
    unlink(copy);
    rm_db(db);
}

/* Start hangup in the background; returns its pid. */
static pid_t spawn_hangup(const char *db, const char *pcap)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(HANGUP_BIN, "hangup", "analyze", "--no-timeline", "--db", db, pcap, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

Test(store, killed_writer_leaves_the_database_consistent, .timeout = 120)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-node-ipv4.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    const char *big = strdup(tu_tmp(".pcap"));
    tu_write_races(big, 60000);   /* 600k packets, 60k incidents */
    int killed_mid_run = 0;
    for (int delay = 150; delay <= 1200 && !killed_mid_run; delay *= 2) {
        pid_t pid = spawn_hangup(db, big);
        sleep_ms(delay);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st))
            killed_mid_run = 1;
    }
    cr_assert(killed_mid_run, "the analysis always ended before it could be killed");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
                            "integrity_check = 'ok'"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1, "only the earlier capture");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures WHERE complete = 1"), 1);
    unlink(big);
    free((void *)big);
    rm_db(db);
}

Test(store, readers_are_not_blocked_by_a_writer, .timeout = 120)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-node-ipv4.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    const char *big = strdup(tu_tmp(".pcap"));
    tu_write_races(big, 40000);
    pid_t pid = spawn_hangup(db, big);
    int reads = 0, running_reads = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(args, sizeof args, "query --db '%s' --csv 'SELECT count(*) AS n FROM incidents'",
                 db);
        int rc = hangup(args, &out, &err);
        cr_expect_eq(rc, 0, "read %d failed while writing: %s", i, err);
        /* The writer's transaction is invisible until it commits. */
        if (rc == 0 && waitpid(pid, NULL, WNOHANG) == 0) {
            cr_expect_str_eq(out, "n\r\n2\r\n");
            running_reads++;
        }
        reads++;
        free(out);
        free(err);
        sleep_ms(20);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_expect_gt(running_reads, 0, "no read happened while the writer ran");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), 40002);
    unlink(big);
    free((void *)big);
    rm_db(db);
}

Test(store, query_formats_and_read_only)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-python.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' \"SELECT method, target FROM incidents ORDER BY "
                                "id\"", db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect_str_eq(out, "method  target\n------  --------\nPOST    /items\n"
                          "DELETE  /items/4\n(2 rows)\n");
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' --csv \"SELECT method, 'a,b' AS x, NULL AS n "
                                "FROM incidents ORDER BY id\"", db);
    cr_expect_eq(hangup(args, &out, &err), 0);
    cr_expect_str_eq(out, "method,x,n\r\nPOST,\"a,b\",\r\nDELETE,\"a,b\",\r\n");
    free(out); free(err);
    /* CSV keeps the data as it is (RFC 4180, as sqlite3 -csv): UTF-8 and a
     * tab unescaped, a name with a comma quoted like a value. */
    snprintf(args, sizeof args, "query --db '%s' --csv \"SELECT 'caf\xc3\xa9' AS \\\"a,b\\\", "
                                "'tab\there' AS t\"", db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect_str_eq(out, "\"a,b\",t\r\ncaf\xc3\xa9,tab\there\r\n");
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' --json \"SELECT id, verdict, rtt_ms, sni FROM "
                                "incidents_view ORDER BY id LIMIT 1\"", db);
    cr_expect_eq(hangup(args, &out, &err), 0);
    cr_expect(strncmp(out, "{\"id\":1,\"verdict\":\"stale\",\"rtt_ms\":", 35) == 0, "%s", out);
    cr_expect(strstr(out, ",\"sni\":null}\n"), "%s", out);
    free(out); free(err);
    static const char *const refused[] = {
        "DELETE FROM incidents", "SELECT 1; DELETE FROM incidents", "DROP TABLE captures",
        "SELECT nope FROM", "PRAGMA user_version = 7",
        /* refused like the others (exit 2), not a database failure (4) */
        "ATTACH '/tmp/hangup-other.db' AS other", "SELECT load_extension('x')",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(args, sizeof args, "query --db '%s' \"%s\"", db, refused[i]);
        cr_expect_eq(hangup(args, &out, &err), 2, "%s was not refused", refused[i]);
        cr_expect(strncmp(err, "hangup: query: ", 15) == 0, "%s", err);
        free(out); free(err);
    }
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), 2);
    cr_expect_eq(scalar(db, "PRAGMA user_version"), HU_STORE_VERSION);
    rm_db(db);
}

Test(store, report_sections_and_bound_filters)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    char first[4200];
    snprintf(first, sizeof first, "%s", tu_sample("race-python.pcap"));   /* static buffer */
    snprintf(args, sizeof args, "analyze --db '%s' '%s' '%s'", db, first,
             tu_sample("crossed-client.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s'", db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "Incidents by kind and verdict"));
    cr_expect(strstr(out, "Incidents by day"));
    cr_expect(strstr(out, "Lost requests by method and target"));
    cr_expect(strstr(out, "Keep-alive timeouts inferred per server"));
    cr_expect(strstr(out, "keepalive-race  stale    2"), "%s", out);
    cr_expect(strstr(out, "keepalive-race  crossed  2"), "%s", out);
    cr_expect(strstr(out, "races will recur"), "%s", out);
    free(out); free(err);
    /* A filter value is data, never SQL. */
    snprintf(args, sizeof args, "report --db '%s' --server \"x' OR 1=1 --\"", db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect_null(strstr(out, "keepalive-race"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s' --server 10.77.0.2:3100 --since 2026-01-01",
             db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "keepalive-race  crossed  2"), "%s", out);
    cr_expect_null(strstr(out, "stale    2"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s' --until 2000-01-01", db);
    cr_expect_eq(hangup(args, &out, &err), 0);
    cr_expect(strstr(out, "(0 rows)"));
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s' --since yesterday", db);
    cr_expect_eq(hangup(args, &out, &err), 2);
    free(out); free(err);
    rm_db(db);
}

/* show ID prints exactly the block analyze printed for that incident. */
Test(store, show_reprints_what_analyze_printed)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    char *analyzed = analyze_into(db, "", "crossed-client.pcap", "race-tls.pcap");
    int64_t n = scalar(db, "SELECT count(*) FROM incidents");
    cr_assert_eq(n, 3);
    for (int64_t id = 1; id <= n; id++) {
        snprintf(args, sizeof args, "show --db '%s' %lld", db, (long long)id);
        cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
        cr_expect(strncmp(out, "Keep-alive race #", 17) == 0);
        cr_expect(strstr(analyzed, out), "show %lld is not what analyze printed:\n%s",
                  (long long)id, out);
        free(out); free(err);
    }
    /* No such incident is the user's input (1), not a database failure (4). */
    snprintf(args, sizeof args, "show --db '%s' 999", db);
    cr_expect_eq(hangup(args, &out, &err), 1);
    cr_expect(strstr(err, "no incident 999"), "%s", err);
    free(out); free(err);
    free(analyzed);
    rm_db(db);
}

Test(store, unwritable_path_and_not_a_database)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db /nonexistent-dir/h.db '%s'",
             tu_sample("race-python.pcap"));
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "database /nonexistent-dir/h.db: "), "%s", err);
    cr_expect(strstr(err, "the analysis is printed, not stored"), "%s", err);
    cr_expect_eq(strchr(err, '\n') - err + 1, (long)strlen(err), "one line: %s", err);
    /* ... and it is printed, as help and README say. */
    cr_expect(strstr(out, "Keep-alive race #1"), "no analysis printed: %s", out);
    cr_expect(strstr(out, "Summary: 1 capture"), "%s", out);
    free(out); free(err);
    char *db = fresh_db();
    FILE *fp = fopen(db, "wb");
    for (int i = 0; i < 4096; i++)
        fputc(i * 31, fp);
    fclose(fp);
    snprintf(args, sizeof args, "analyze --db '%s' --json '%s'", db,
             tu_sample("race-python.pcap"));
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "not an SQLite database"), "%s", err);
    cr_expect(strstr(out, "\"type\":\"incident\""), "no analysis printed: %s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' 'SELECT 1'", db);
    cr_expect_eq(hangup(args, &out, &err), 4);
    free(out); free(err);
    snprintf(args, sizeof args, "query --db /nonexistent.db 'SELECT 1'");
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "analyse a capture first"), "%s", err);
    free(out); free(err);
    rm_db(db);
}

Test(store, locked_database_fails_cleanly, .timeout = 60)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-python.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("crossed-server.pcap"));
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "another process is writing"), "%s", err);
    cr_expect(strstr(out, "Keep-alive race #1"), "the analysis is still printed");
    free(out); free(err);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1, "nothing half-written");
    rm_db(db);
}

Test(store, full_disk_fails_cleanly, .timeout = 120)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/hangup-full-%d", (int)getpid());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && mount -t tmpfs -o size=512k tmpfs %s 2>/dev/null",
             dir, dir);
    if (system(cmd) != 0) {
        rmdir(dir);
        cr_skip_test("cannot mount a small tmpfs here (needs root)");
    }
    char db[300], args[4400], *out, *err;
    snprintf(db, sizeof db, "%s/h.db", dir);
    snprintf(args, sizeof args, "analyze --no-timeline --db '%s' '%s'", db,
             tu_sample("race-python.pcap"));
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    const char *big = strdup(tu_tmp(".pcap"));
    tu_write_races(big, 20000);
    snprintf(args, sizeof args, "analyze --no-timeline --db '%s' '%s'", db, big);
    cr_expect_eq(hangup(args, &out, &err), 4);
    cr_expect(strstr(err, "disk is full"), "%s", err);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
                            "integrity_check = 'ok'"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), 2);
    unlink(big);
    free((void *)big);
    snprintf(cmd, sizeof cmd, "umount %s && rmdir %s", dir, dir);
    system(cmd);
}

/* The row of server srv in report's section titled `title`; malloc'd. */
static char *report_row(const char *report, const char *title, const char *srv)
{
    const char *sec = strstr(report, title);
    if (!sec)
        return NULL;
    const char *end = strstr(sec, "\n\n");
    for (const char *l = strchr(sec, '\n'); l && (!end || l < end); l = strchr(l + 1, '\n'))
        if (strncmp(l + 1, srv, strlen(srv)) == 0 && l[1 + strlen(srv)] == ' ') {
            const char *nl = strchr(l + 1, '\n');
            return strndup(l + 1, nl ? (size_t)(nl - l - 1) : strlen(l + 1));
        }
    return NULL;
}

/* report's per-server timeouts: races are races (not every kind), zero
 * counts are 0 (not NULL), and a server seen in two captures shows the
 * figures its advice speaks of. */
Test(store, report_server_rows_agree_with_their_advice)
{
    char *db = fresh_db();
    char args[16000], *out, *err;
    char a[3][4200];   /* tu_sample's buffer is static */
    snprintf(a[0], sizeof a[0], "%s", tu_sample("crossed-client.pcap"));
    snprintf(a[1], sizeof a[1], "%s", tu_sample("crossed-server.pcap"));
    snprintf(a[2], sizeof a[2], "%s", tu_sample("server-timeout-node.pcap"));
    snprintf(args, sizeof args, "analyze --db '%s' '%s' '%s' '%s'", db, a[0], a[1], a[2]);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s'", db);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    const char *t = "Keep-alive timeouts inferred per server";
    char *row = report_row(out, t, "127.0.0.1:3120");
    cr_assert_not_null(row, "%s", out);
    int conns, reqs, closes, races, incidents;
    cr_expect_eq(sscanf(row + 14, "%d %d %d %d %d", &conns, &reqs, &closes, &races, &incidents),
                 5, "%s", row);
    cr_expect_eq(races, 0, "server timeouts counted as races: %s", row);
    cr_expect_eq(incidents, 6, "%s", row);
    free(row);
    row = report_row(out, t, "10.77.0.2:3100");
    cr_assert_not_null(row, "%s", out);
    cr_expect(strstr(row, " 287.0 "), "the reuse idle of the capture the advice is from: %s", row);
    cr_expect(strstr(row, "up to 0.287 s idle"), "%s", row);
    free(row);
    row = report_row(out, "Incidents by server", "127.0.0.1:3120");
    cr_assert_not_null(row, "%s", out);
    cr_expect_null(strstr(row, "NULL  "), "a zero count printed as NULL: %s", row);
    free(row);
    free(out); free(err);
    rm_db(db);
}

/* The same packets are one capture whatever they are analysed under:
 * another name, or a filter, replaces the earlier rows; nothing is
 * counted twice, and the capture row says which filter was used. */
Test(store, reanalysis_under_a_filter_replaces_the_capture)
{
    char *db = fresh_db();
    char copy[4200], args[9000], *out, *err;
    snprintf(copy, sizeof copy, "%s", tu_tmp(".pcap"));
    snprintf(args, sizeof args, "cp '%s' '%s'", tu_sample("retry.pcap"), copy);
    cr_assert_eq(system(args), 0);
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, copy);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    int64_t once = scalar(db, "SELECT count(*) FROM incidents");
    cr_assert_gt(once, 0);
    snprintf(args, sizeof args, "analyze --db '%s' -f tcp '%s'", db, copy);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), once, "counted twice");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures_view WHERE filter = 'tcp'"), 1);
    snprintf(args, sizeof args, "analyze --db '%s' -r '%s' tcp port 3015", db,
             tu_sample("retry.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), once, "counted twice");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 1);
    unlink(copy);
    rm_db(db);
}

/* A server without its port would match nothing; say how to write it. */
Test(store, report_server_filter_needs_the_port)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "report --db /nonexistent.db --server 127.0.0.1");
    cr_expect_eq(hangup(args, &out, &err), 2);
    cr_expect(strstr(err, "--server needs the port too: 127.0.0.1:PORT"), "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db /nonexistent.db --server ::1");
    cr_expect_eq(hangup(args, &out, &err), 2);
    cr_expect(strstr(err, "[::1]:PORT"), "%s", err);
    free(out); free(err);
}

Test(store, kind_filters_in_analyze_report_and_show)
{
    char *db = fresh_db();
    char args[9000], *out, *err;
    char a[4200];   /* tu_sample's buffer is static */
    snprintf(a, sizeof a, "%s", tu_sample("refused-v4.pcap"));
    snprintf(args, sizeof args, "analyze --json --kind refused --db '%s' '%s' '%s'", db, a,
             tu_sample("race-python.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    /* Printed: only the refused ones; stored: everything. */
    cr_expect(strstr(out, "\"kind\":\"refused\""));
    cr_expect_null(strstr(out, "\"kind\":\"keepalive-race\""), "%s", out);
    free(out); free(err);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'"), 2);
    int64_t refused = scalar(db, "SELECT count(*) FROM incidents WHERE kind = 'refused'");
    cr_expect_eq(refused, 6);
    snprintf(args, sizeof args, "report --db '%s' --kind refused", db);
    cr_expect_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "refused"), "%s", out);
    cr_expect_null(strstr(out, "keepalive-race"), "%s", out);
    free(out); free(err);
    int64_t race_id = scalar(db, "SELECT min(id) FROM incidents WHERE kind = 'keepalive-race'");
    snprintf(args, sizeof args, "show --db '%s' --kind refused %lld", db, (long long)race_id);
    cr_expect_eq(hangup(args, &out, &err), 1);
    cr_expect(strstr(err, "is a keepalive-race"), "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --kind bogus '%s'", a);
    cr_expect_eq(hangup(args, &out, &err), 2);
    cr_expect(strstr(err, "unknown incident kind 'bogus'"), "%s", err);
    free(out); free(err);
    rm_db(db);
}

/* A new store at db with a capture begun (its id in *cap). */
static hu_store *begun(const char *db, int64_t *cap)
{
    char err[1024] = "";
    hu_store *s = hu_store_open(db, false, err, sizeof err);
    cr_assert(s, "%s", err);
    hu_capture_meta m = { .source = "test", .kind = "file", .link_type = "EN10MB" };
    cr_assert(hu_store_begin(s, &m, cap, err, sizeof err), "%s", err);
    return s;
}

/* Connection rows are written on the store's own thread: in order, past
 * the queue's bound, with the caller's other writes in between (it never
 * locks), and a checkpoint commits every row given before it. */
Test(store, connection_rows_are_written_in_order_beside_other_writes, .timeout = 120)
{
    char *db = fresh_db();
    char err[1024] = "";
    int64_t cap;
    hu_store *s = begun(db, &cap);
    enum { N = 70000 };   /* more than the queue holds: the caller waits */
    for (int i = 0; i < N; i++) {
        hu_conn_row r = tu_conn_row((uint64_t)i + 1);
        cr_assert(hu_store_connection(s, cap, &r, err, sizeof err), "%s", err);
        if (i % 10000 == 9999) {
            hu_server_summary sv = { .ipver = 4, .port = 80, .connections = (uint64_t)i,
                                     .idle_timeout_us = -1, .idle_timeout_spread_us = -1,
                                     .max_reuse_idle_us = -1, .rtt_us = -1, .advice = "ok" };
            sv.addr[0] = 10, sv.addr[3] = 2;
            cr_assert(hu_store_server(s, cap, &sv, err, sizeof err), "%s", err);
            cr_assert(hu_store_checkpoint(s, err, sizeof err), "%s", err);
            cr_assert_eq(scalar(db, "SELECT count(*) FROM connections"), i + 1,
                         "a checkpoint commits every row given before it");
        }
    }
    hu_capture_end e = { .packets = N, .complete = true, .link_type = "EN10MB" };
    int64_t replaced;
    cr_assert(hu_store_end(s, cap, &e, &replaced, err, sizeof err), "%s", err);
    hu_store_close(s);
    tu_expect_conn_rows(db, N, scalar);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM servers WHERE server = '10.0.0.2:80'"),
                 N / 10000);
    rm_db(db);
}

/* Once a connection row has failed, that failure is what every later call
 * reports: it came first (on a full disk SQLite has rolled the transaction
 * back by itself, so later writes fail only for want of the capture). */
Test(store, a_failed_connection_row_is_the_cause_later_calls_report, .timeout = 60)
{
    char *db = fresh_db();
    char err[1024] = "";
    int64_t cap;
    hu_store *s = begun(db, &cap);
    /* A capture that does not exist: the foreign key refuses the row.
     * Rows are accepted until the writer has met it. */
    hu_conn_row r = tu_conn_row(1);
    bool accepted = true;
    for (int i = 0; i < 1000000 && accepted; i++)
        accepted = hu_store_connection(s, cap + 1000, &r, err, sizeof err);
    cr_assert_not(accepted, "refused once a row failed");
    cr_assert(strstr(err, "storing a connection"), "%s", err);
    hu_server_summary sv = { .ipver = 4, .port = 80, .idle_timeout_us = -1, .rtt_us = -1,
                             .idle_timeout_spread_us = -1, .max_reuse_idle_us = -1 };
    err[0] = '\0';
    cr_assert_not(hu_store_server(s, cap, &sv, err, sizeof err));
    cr_assert(strstr(err, "storing a connection"), "the first cause, not its own: %s", err);
    hu_capture_end e = { .packets = 1, .link_type = "EN10MB" };
    int64_t replaced;
    err[0] = '\0';
    cr_assert_not(hu_store_end(s, cap, &e, &replaced, err, sizeof err));
    cr_assert(strstr(err, "storing a connection"), "%s", err);
    hu_store_close(s);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM captures"), 0, "rolled back");
    rm_db(db);
}

/* The record as hu_store_load_incident returns it, with both endpoints. */
static hu_incident_rec *loaded(const char *db, int64_t id)
{
    char err[1024] = "";
    hu_store *s = hu_store_open(db, true, err, sizeof err);
    cr_assert(s, "%s", err);
    hu_incident_rec *r = hu_store_load_incident(s, id, NULL, err, sizeof err);
    cr_assert(r, "%s", err);
    hu_store_close(s);
    return r;
}

static void expect_endpoints(const hu_incident_rec *r, uint8_t ipver, const char *cli,
                             uint16_t cli_port, const char *srv, uint16_t srv_port)
{
    uint8_t a[16] = { 0 }, b[16] = { 0 };
    int af = ipver == 4 ? AF_INET : AF_INET6;
    cr_assert_eq(inet_pton(af, cli, a), 1);
    cr_assert_eq(inet_pton(af, srv, b), 1);
    cr_expect_eq(r->ipver, ipver);
    cr_expect_arr_eq(r->cli_addr, a, 16, "client %s", cli);
    cr_expect_arr_eq(r->srv_addr, b, 16, "server %s", srv);
    cr_expect_eq(r->cli_port, cli_port);
    cr_expect_eq(r->srv_port, srv_port);
}

/* A database written at schema `version` by sql, then opened by this
 * hangup (so migrated to the current schema); its path, for rm_db. */
static char *migrated_db(int version, const char *sql)
{
    char *db = fresh_db();
    char err[1024] = "";
    hu_store *s = hu_store_open_version(db, version, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_eq(sqlite3_exec(hu_store_db(s), sql, NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(hu_store_db(s)));
    hu_store_close(s);
    s = hu_store_open(db, false, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_expect_eq(hu_store_version(s), HU_STORE_VERSION);
    hu_store_close(s);
    return db;
}

/* Incidents written at schema version 3 (endpoints only as text) read back
 * the same endpoints once the store has migrated them. */
Test(store, incidents_from_version_3_load_the_same_endpoints)
{
    char *db = migrated_db(3,
                           "INSERT INTO captures (source, analyzer_version, analyzed_at) "
                           "VALUES ('old.pcap', '0.0', 1);"
                           "INSERT INTO incidents (capture_id, number, kind, verdict, client, "
                           "server, ip_version, file, request_packet, request_time, tls, "
                           "handshake_seen, safe_to_retry, close_announced, retried, "
                           "reassembly, server_acked, request_complete, connection) VALUES "
                           "(1, 1, 'keepalive-race', 'stale', '10.0.0.1:4000', "
                           "'10.0.0.2:80', 4, 'old.pcap', 9, 2, 0, 1, 1, 0, 0, 'libnids', 0, "
                           "1, 1),"
                           "(1, 2, 'refused', NULL, '[2001:db8::1]:50000', "
                           "'[2001:db8::a:2]:443', 6, 'old.pcap', 3, 2, 0, 0, 1, 0, 0, "
                           "'segments', 0, 0, 2);");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE client_addr = '2001:db8::1' "
                            "AND client_port = 50000 AND server_addr = '2001:db8::a:2' AND "
                            "server_port = 443 AND client = '[2001:db8::1]:50000'"), 1);
    hu_incident_rec *r = loaded(db, 1);
    expect_endpoints(r, 4, "10.0.0.1", 4000, "10.0.0.2", 80);
    cr_expect_eq(r->kindid, HU_KIND_RACE);
    cr_expect_eq(r->verdict, HU_VERDICT_STALE);
    hu_incident_rec_free(r);
    r = loaded(db, 2);
    expect_endpoints(r, 6, "2001:db8::1", 50000, "2001:db8::a:2", 443);
    cr_expect_eq(r->kindid, HU_KIND_REFUSED);
    cr_expect_eq(r->reasm, HU_REASM_SEGMENTS);
    hu_incident_rec_free(r);
    rm_db(db);
}

/* Incidents written at schema version 5 get their connection's Community
 * ID when the store migrates them (the spec's baseline vectors for these
 * endpoints: corelight/community-id-spec, baseline/), and show, query and
 * the view then carry it as they do a new incident's. */
Test(store, incidents_from_version_5_get_their_community_id)
{
    char *db = migrated_db(5,
                           "INSERT INTO captures (source, analyzer_version, analyzed_at) "
                           "VALUES ('old.pcap', '0.0', 1);"
                           "INSERT INTO incidents (capture_id, number, kind, verdict, client, "
                           "server, ip_version, file, fin_packet, rst_packet, request_packet, "
                           "fin_time, rst_time, request_time, gap_us, rst_ack, tls, "
                           "handshake_seen, safe_to_retry, close_announced, retried, "
                           "reassembly, server_acked, request_complete, connection, "
                           "client_addr, client_port, server_addr, server_port) VALUES "
                           "(1, 1, 'keepalive-race', 'crossed', '5.6.7.8:3344', "
                           "'1.2.3.4:1122', 4, 'old.pcap', 7, 10, 9, 1, 3, 2, 1, 1, 0, 1, 1, "
                           "0, 0, 'libnids', 0, 1, 1, '5.6.7.8', 3344, '1.2.3.4', 1122),"
                           "(1, 2, 'refused', NULL, "
                           "'[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943', "
                           "'[2607:f8b0:400c:c03::1a]:25', 6, 'old.pcap', NULL, 4, 3, NULL, "
                           "4, 3, NULL, 1, 0, 0, 1, 0, 0, 'segments', 0, 0, 2, "
                           "'2001:470:e5bf:dead:4957:2174:e82c:4887', 63943, "
                           "'2607:f8b0:400c:c03::1a', 25);"
                           "INSERT INTO incident_packets (incident_id, idx, packet, time, "
                           "sender, flags, seq, ack, length, line) VALUES (1, 0, 10, 3, "
                           "'server', 'R', 1, 0, 0, 'the rst line');");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE id = 1 AND "
                            "community_id = '1:wCb3OG7yAFWelaUydu0D+125CLM='"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents_view WHERE id = 2 AND "
                            "community_id = '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                            "name = 'incidents_by_community_id'"), 1);
    hu_incident_rec *r = loaded(db, 2);
    cr_expect_str_eq(r->community_id, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
    cr_expect_eq(r->db_id, 2);
    hu_incident_rec_free(r);

    char args[4400], *out, *serr;
    snprintf(args, sizeof args, "show --db '%s' 1", db);
    cr_assert_eq(hangup(args, &out, &serr), 0, "%s", serr);
    cr_expect(strstr(out, "capture (RTT unknown)\n  Community ID 1:wCb3OG7yAFWelaUydu0D+125CLM=; "
                          "stored: hangup show 1\n\n  What happened:"), "%s", out);
    free(out); free(serr);
    snprintf(args, sizeof args, "query --db '%s' --json \"SELECT id, community_id FROM "
                                "incidents_view ORDER BY id\"", db);
    cr_assert_eq(hangup(args, &out, &serr), 0, "%s", serr);
    cr_expect_str_eq(out, "{\"id\":1,\"community_id\":\"1:wCb3OG7yAFWelaUydu0D+125CLM=\"}\n"
                          "{\"id\":2,\"community_id\":\"1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=\"}\n");
    free(out); free(serr);
    rm_db(db);
}

/* A gateway-error is stored with its status, response packet and time
 * and its cause (the upstream race of the same capture), reads back as
 * analysed, and show reprints it as analyze printed it; on nginx's and
 * Caddy's 502 captures. */
Test(store, a_gateway_error_is_stored_with_its_status_response_and_cause)
{
    char *db = fresh_db();
    char args[9000], *out, *err;
    char *analyzed = analyze_into(db, "--all", "proxy-nginx-502.pcap", "proxy-caddy-502.pcap");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE kind = 'gateway-error' AND "
                            "status = 502 AND response_packet > request_packet AND "
                            "response_time > request_time AND fin_packet IS NULL AND "
                            "rst_packet IS NULL AND wait_us = response_time - request_time"), 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents g JOIN incidents r ON r.capture_id ="
                            " g.capture_id AND r.number = g.cause WHERE g.kind = 'gateway-error' "
                            "AND r.kind = 'keepalive-race' AND r.downstream_outcome = "
                            "'bad-gateway' AND r.downstream_response_packet = g.response_packet"),
                 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents_view WHERE status = 502 AND "
                            "response_time LIKE '2026-%Z'"), 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE status IS NOT NULL OR "
                            "response_packet IS NOT NULL"), 2, "only gateway-errors have them");
    int64_t id = scalar(db, "SELECT min(id) FROM incidents WHERE kind = 'gateway-error'");
    hu_incident_rec *r = loaded(db, id);
    cr_expect_eq(r->kindid, HU_KIND_GATEWAY);
    cr_expect_eq(r->status, 502);
    cr_expect_gt(r->resp.num, r->req.num);
    cr_expect_gt(r->cause, 0);
    hu_incident_rec_free(r);
    r = loaded(db, scalar(db, "SELECT min(id) FROM incidents WHERE kind = 'keepalive-race'"));
    cr_expect_eq(r->status, -1, "a race has no status");
    cr_expect_eq(r->resp.num, 0);
    hu_incident_rec_free(r);
    snprintf(args, sizeof args, "show --db '%s' %lld", db, (long long)id);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strncmp(out, "Gateway error #1 (gateway-error)", 32) == 0, "%s", out);
    cr_expect(strstr(analyzed, out + strcspn(out, "\n")), "show is not what analyze printed:\n%s",
              out);
    free(out); free(err);
    free(analyzed);
    rm_db(db);
}

/* closed-before-response is stored like every kind, by its name, with
 * its wait and close; show reprints it as analyze printed it; report,
 * show and query filter on it; and the kinds before it keep their names
 * (a database written before the kind existed reads the same). */
Test(store, closed_before_response_is_stored_and_filtered_like_every_kind)
{
    char *db = fresh_db();
    char args[9000], *out, *err;
    char *analyzed = analyze_into(db, "--all", "closed-before-response.pcap",
                                  "reset-unread.pcap");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE kind = "
                            "'closed-before-response' AND close = 'fin' AND wait_us >= 0 AND "
                            "wait_us < 1000000 AND fin_packet IS NOT NULL AND rst_packet IS "
                            "NULL AND verdict IS NULL"), 8);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE kind = "
                            "'closed-before-response' AND method = 'POST' AND safe_to_retry = 0"),
                 3);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE kind = "
                            "'reset-before-response'"), 5);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents"), 13);

    int64_t id = scalar(db, "SELECT min(id) FROM incidents WHERE kind = 'closed-before-response'");
    hu_incident_rec *r = loaded(db, id);
    cr_expect_eq(r->kindid, HU_KIND_CLOSED);
    cr_expect_str_eq(r->kind, "closed-before-response");
    cr_expect_str_eq(r->close, "fin");
    cr_expect(r->wait_us >= 0 && r->wait_us < 1000000, "wait %lld", (long long)r->wait_us);
    cr_expect(r->fin.num > r->req.num && r->rst.num == 0);
    hu_incident_rec_free(r);
    r = loaded(db, scalar(db, "SELECT min(id) FROM incidents WHERE kind = "
                              "'reset-before-response'"));
    cr_expect_eq(r->kindid, HU_KIND_RESET, "an older kind reads back as itself");
    hu_incident_rec_free(r);

    snprintf(args, sizeof args, "show --db '%s' --kind closed-before-response %lld", db,
             (long long)id);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strncmp(out, "Closed before response #1 (closed-before-response)", 50) == 0,
              "%s", out);
    cr_expect(strstr(analyzed, out + strcspn(out, "\n")), "show is not what analyze printed:\n%s",
              out);
    free(out); free(err);
    snprintf(args, sizeof args, "show --db '%s' --kind reset-before-response %lld", db,
             (long long)id);
    cr_expect_eq(hangup(args, &out, &err), 1);
    cr_expect(strstr(err, "is a closed-before-response"), "%s", err);
    free(out); free(err);

    snprintf(args, sizeof args, "report --db '%s' --kind closed-before-response --json "
                                "--section kinds", db);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"kind\":\"closed-before-response\""), "%s", out);
    cr_expect(strstr(out, "\"incidents\":8"), "%s", out);
    cr_expect_null(strstr(out, "reset-before-response"), "%s", out);
    free(out); free(err);
    free(analyzed);
    rm_db(db);
}

/* A record stored and loaded again has every field it was stored with. */
Test(store, an_incident_reads_back_as_it_was_written)
{
    char *db = fresh_db();
    char err[1024] = "";
    int64_t cap;
    hu_store *s = begun(db, &cap);
    hu_incident_rec w = {
        .kind = hu_kind_name(HU_KIND_SERVER_TIMEOUT), .kindid = HU_KIND_SERVER_TIMEOUT,
        .file = "x.pcap", .ipver = 6, .cli_port = 50000, .srv_port = 443, .conn_id = 7,
        .req = { 4, 1000 }, .rst = { 9, 121000000 }, .rtt_us = -1, .rst_ack = true,
        .handshake_seen = true, .requests_before = 2, .idle_us = -1,
        .server_idle_close_us = -1, .keepalive_hint_s = 5, .sni = "example.org",
        .reasm = HU_REASM_NIDS, .retry_delay_us = -1, .wait_us = 120000000, .close = "RST",
        .timeout_hint = "a hint the store has never seen", .late_response_packet = -1,
        .tries = 0, .spent_us = -1, .expected_bytes = -1, .received_bytes = -1, .number = 3,
    };
    w.cli_addr[0] = 0x20, w.cli_addr[1] = 0x01, w.cli_addr[15] = 1;
    w.srv_addr[0] = 0x20, w.srv_addr[1] = 0x01, w.srv_addr[15] = 2;
    w.request = (hu_request){ .http = true, .complete = true, .method = "GET",
                              .target = "/a b", .target_len = 4, .host = "h",
                              .host_len = 1, .has_host = true, .version = "HTTP/1.1",
                              .content_length = -1 };
    hu_tl_entry tl[2] = { { .num = 4, .ts_us = 1000, .from_client = true, .flags = 0x18,
                            .seq = 1, .ack = 1, .len = 10, .line = "request line" },
                          { .num = 9, .ts_us = 121000000, .flags = 0x04, .omitted_before = 4,
                            .line = "rst line", .note = "a note" } };
    w.timeline = tl;
    w.ntimeline = 2;
    snprintf(w.community_id, sizeof w.community_id, "1:a Community ID=");
    int64_t id = 0;
    cr_assert(hu_store_incident(s, cap, &w, &id, err, sizeof err), "%s", err);
    cr_expect_eq(id, 1);
    hu_capture_end e = { .packets = 9, .complete = true, .link_type = "EN10MB" };
    int64_t replaced;
    cr_assert(hu_store_end(s, cap, &e, &replaced, err, sizeof err), "%s", err);
    hu_store_close(s);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents WHERE client = '[2001::1]:50000' "
                            "AND server = '[2001::2]:443' AND fin_packet IS NULL AND "
                            "verdict IS NULL AND gap_us IS NULL AND tries IS NULL"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incident_packets WHERE flags = 'R'"), 1);

    hu_incident_rec *r = loaded(db, 1);
    expect_endpoints(r, 6, "2001::1", 50000, "2001::2", 443);
    cr_expect_str_eq(r->community_id, w.community_id);
    cr_expect_eq(r->db_id, 1);
    cr_expect_str_eq(r->kind, "server-timeout");
    cr_expect_str_eq(r->file, "x.pcap");
    cr_expect_str_eq(r->timeout_hint, w.timeout_hint);
    cr_expect_neq(r->timeout_hint, w.timeout_hint, "the record's own copy");
    cr_expect_eq(r->number, 3);
    cr_expect_eq(r->conn_id, 7);
    cr_expect_eq(r->fin.num, 0);
    cr_expect_eq(r->req.num, 4);
    cr_expect_eq(r->rst.ts_us, 121000000);
    cr_expect(r->rst_ack && r->handshake_seen && !r->server_acked);
    cr_expect_eq(r->rtt_us, -1);
    cr_expect_eq(r->requests_before, 2);
    cr_expect_eq(r->keepalive_hint_s, 5);
    cr_expect_str_eq(r->sni, "example.org");
    cr_expect_eq(r->reasm, HU_REASM_NIDS);
    cr_expect_eq(r->wait_us, 120000000);
    cr_expect_str_eq(r->close, "RST");
    cr_expect_str_eq(r->abort, "");
    cr_expect_eq(r->tries, -1);
    cr_expect_eq(r->expected_bytes, -1);
    cr_expect(r->request.http && r->request.complete && r->request.has_host);
    cr_expect_str_eq(r->request.method, "GET");
    cr_expect_eq(r->request.target_len, 4);
    cr_expect_arr_eq(r->request.target, "/a b", 4);
    cr_expect_eq(r->request.host_len, 1);
    cr_expect_str_eq(r->request.version, "HTTP/1.1");
    cr_expect_eq(r->request.content_length, -1);
    cr_assert_eq(r->ntimeline, 2);
    cr_expect(r->timeline[0].from_client && !r->timeline[1].from_client);
    cr_expect_eq(r->timeline[1].omitted_before, 4);
    cr_expect_eq(r->timeline[0].len, 10);
    cr_expect_str_eq(r->timeline[0].line, "request line");
    cr_expect_null(r->timeline[0].note);
    cr_expect_str_eq(r->timeline[1].note, "a note");
    hu_incident_rec_free(r);
    rm_db(db);
}

/* No command leaves SQLite's -wal or -shm files beside the database once
 * it is done: the writer and the read-only commands alike (a read-only
 * connection that closes last cannot remove them). */
Test(store, no_command_leaves_journal_files_behind)
{
    char *db = fresh_db(), args[8800], side[4200], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("retry.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    const char *cmds[][2] = { { "analyze", HANGUP_SAMPLES "/crossed-client.pcap" },
                              { "query", "'SELECT count(*) FROM incidents'" },
                              { "report", "" }, { "show", "1" } };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(args, sizeof args, "%s --db '%s' %s", cmds[i][0], db, cmds[i][1]);
        cr_expect_eq(hangup(args, &out, &err), 0, "%s: %s", args, err);
        free(out); free(err);
        for (int k = 0; k < 2; k++) {
            snprintf(side, sizeof side, "%s-%s", db, k ? "shm" : "wal");
            cr_expect_neq(access(side, F_OK), 0, "%s left behind by %s", side, args);
        }
    }
    rm_db(db);
}

/* report --json and --csv, like query's: JSON lines each naming their
 * section, CSV sections each with its header row (one clean table with
 * --section), both agreeing with the database.  Two stacks' captures. */
Test(store, report_prints_json_and_csv)
{
    char *db = fresh_db(), args[9000], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("retry.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("race-node-ipv4.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    int64_t incidents = scalar(db, "SELECT count(*) FROM incidents");
    int64_t servers = scalar(db, "SELECT count(DISTINCT server) FROM incidents");
    cr_assert_geq(incidents, 4);

    snprintf(args, sizeof args, "report --db '%s' --json", db);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    int64_t sum = 0, lines = 0, by_server = 0;
    for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        lines++;
        cr_expect(strncmp(l, "{\"section\":\"", 12) == 0, "%s", l);
        if (strncmp(l, "{\"section\":\"kinds\",", 19) == 0)
            sum += strtoll(strstr(l, "\"incidents\":") + 12, NULL, 10);
        by_server += strncmp(l, "{\"section\":\"servers\",", 21) == 0;
    }
    cr_expect_eq(sum, incidents, "%s", out);
    cr_expect_eq(by_server, servers, "%s", out);
    cr_expect(strstr(out, "{\"section\":\"timeouts\","), "%s", out);
    free(out); free(err);

    snprintf(args, sizeof args, "report --db '%s' --csv --section kinds", db);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strncmp(out, "kind,verdict,incidents,safe_to_retry,retried\r\n", 46) == 0, "%s", out);
    sum = 0;
    for (char *l = strchr(out, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        char *c = strchr(strchr(l + 1, ',') + 1, ',');
        sum += strtoll(c + 1, NULL, 10);
    }
    cr_expect_eq(sum, incidents, "%s", out);
    cr_expect_null(strstr(out, "\r\n\r\n"), "one section, one table: %s", out);
    free(out); free(err);

    snprintf(args, sizeof args, "report --db '%s' --csv", db);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\r\n\r\nday,incidents,races,crossed,stale\r\n"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "report --db '%s' --section bogus", db);
    cr_expect_eq(hangup(args, &out, &err), 2);
    cr_expect(strstr(err, "--section takes"), "%s", err);
    free(out); free(err);
    rm_db(db);
}

/* A copy of the classic pcap at src with one byte changed at offset `at`
 * of the first frame longer than at + 1 bytes, written to dst; false when
 * no frame is that long. */
static bool copy_with_byte_changed(const char *src, const char *dst, size_t at)
{
    size_t n;
    uint8_t *b = (uint8_t *)tu_slurp(src, &n);
    cr_assert(b && n > 24);
    bool done = false;
    for (size_t off = 24; off + 16 <= n && !done;) {
        uint32_t caplen;
        memcpy(&caplen, b + off + 8, 4);
        if (off + 16 + caplen > n)
            break;
        if (caplen > at + 1) {
            b[off + 16 + at] ^= 0x20;
            done = true;
        }
        off += 16 + caplen;
    }
    FILE *f = fopen(dst, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
    return done;
}

/* Two captures that differ only beyond byte 128 of a packet are two
 * captures: analysing the second keeps the first's rows. */
Test(store, captures_differing_late_in_a_packet_keep_their_rows)
{
    const char *names[] = { "retry.pcap", "race-node-ipv4.pcap" };
    for (size_t k = 0; k < 2; k++) {
        char *db = fresh_db(), *copy = strdup(tu_tmp(".pcap")), args[9000], src[4200], *out, *err;
        snprintf(src, sizeof src, "%s", tu_sample(names[k]));
        cr_assert(copy_with_byte_changed(src, copy, 150), "%s has no frame that long", src);
        snprintf(args, sizeof args, "analyze --no-timeline --db '%s' '%s'", db, src);
        cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
        free(out); free(err);
        int64_t first = scalar(db, "SELECT count(*) FROM incidents");
        cr_assert_gt(first, 0);
        snprintf(args, sizeof args, "analyze --no-timeline --db '%s' '%s'", db, copy);
        cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
        free(out); free(err);
        cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 2, "%s", src);
        cr_expect_eq(scalar(db, "SELECT count(DISTINCT content_hash) FROM captures"), 2);
        cr_expect_geq(scalar(db, "SELECT count(*) FROM incidents"), first + 1);
        /* The same bytes again, under another name: still one capture each. */
        snprintf(args, sizeof args, "analyze --no-timeline --db '%s' '%s'", db, copy);
        cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
        free(out); free(err);
        cr_expect_eq(scalar(db, "SELECT count(*) FROM captures"), 2, "%s", src);
        unlink(copy);
        free(copy);
        rm_db(db);
    }
}

/* Incidents and server rows written at schema version 6 migrate with no
 * software (NULL: unknown), load back with empty names, and show prints
 * no Client or Server line for them. */
Test(store, incidents_from_version_6_know_no_software)
{
    char *db = migrated_db(6,
                           "INSERT INTO captures (source, analyzer_version, analyzed_at) "
                           "VALUES ('old.pcap', '0.0', 1);"
                           "INSERT INTO incidents (capture_id, number, kind, verdict, client, "
                           "server, ip_version, file, fin_packet, rst_packet, request_packet, "
                           "fin_time, rst_time, request_time, gap_us, rst_ack, tls, "
                           "handshake_seen, safe_to_retry, close_announced, retried, "
                           "reassembly, server_acked, request_complete, connection, "
                           "client_addr, client_port, server_addr, server_port, community_id) "
                           "VALUES (1, 1, 'keepalive-race', 'stale', '10.0.0.1:4000', "
                           "'10.0.0.2:80', 4, 'old.pcap', 7, 10, 9, 1, 3, 2, 1, 1, 0, 1, 1, 0, "
                           "0, 'libnids', 0, 1, 1, '10.0.0.1', 4000, '10.0.0.2', 80, 'x');"
                           "INSERT INTO servers (capture_id, server, ip_version, connections, "
                           "requests, idle_closes, incidents, crossed, stale, race_risk, advice) "
                           "VALUES (1, '10.0.0.2:80', 4, 1, 1, 0, 1, 0, 1, 0, 'old advice');");
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents_view WHERE client_software IS NULL "
                            "AND client_kind IS NULL AND client_evidence IS NULL AND "
                            "server_software IS NULL AND server_kind IS NULL AND "
                            "server_evidence IS NULL"), 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM servers_view WHERE software IS NULL AND "
                            "idle_timeout_default IS NULL"), 1);
    hu_incident_rec *r = loaded(db, 1);
    cr_expect_str_eq(r->client_software, "");
    cr_expect_str_eq(r->client_evidence, "");
    cr_expect_str_eq(r->server_kind, "");
    hu_incident_rec_free(r);
    char args[4400], *out, *serr;
    snprintf(args, sizeof args, "show --db '%s' 1", db);
    cr_assert_eq(hangup(args, &out, &serr), 0, "%s", serr);
    cr_expect(!strstr(out, "Client:") && !strstr(out, "  Server:"), "%s", out);
    cr_expect(strstr(out, "The client saw: Node.js 'socket hang up'"), "%s", out);
    free(out); free(serr);
    rm_db(db);
}

/* Who the client and the server are goes into the database, comes back
 * with show exactly as analyze printed it, and is in the JSON lines. */
Test(store, software_is_stored_shown_and_in_json, .timeout = 120)
{
    char *db = fresh_db();
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' --all '%s'", db,
             tu_sample("software-proxies.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    char *analyzed = out;
    free(err);
    int64_t id = scalar(db, "SELECT id FROM incidents WHERE server_port = 3431");
    cr_assert_gt(id, 0);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM incidents_view WHERE "
                            "server = '127.0.0.1:3431' AND client_software LIKE 'nginx/%' AND "
                            "client_kind = 'proxy' AND client_evidence LIKE 'accepts connections on 127.0.0.1:3421 %'"),
                 1);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM servers WHERE server = '127.0.0.1:3421' AND "
                            "software LIKE 'nginx/%'"), 1);
    snprintf(args, sizeof args, "show --db '%s' %lld", db, (long long)id);
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "  Client: nginx/"), "%s", out);
    cr_expect(strstr(analyzed, out), "show is not what analyze printed:\n%s", out);
    free(out); free(err);
    free(analyzed);

    snprintf(args, sizeof args, "analyze --no-db --json '%s'", tu_sample("software-clients.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"target\":\"/c/curl\""), "%s", out);
    cr_expect(strstr(out, ",\"client_software\":\"curl/"), "%s", out);
    cr_expect(strstr(out, ",\"client_kind\":\"application\",\"client_evidence\":\"User-Agent: "
                          "curl/"), "%s", out);
    cr_expect(strstr(out, ",\"client_software\":null,\"client_kind\":null,\"client_evidence\":"
                          "null,\"server_software\":null,\"server_kind\":null,"
                          "\"server_evidence\":null"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", tu_sample("software-servers.pcap"));
    cr_assert_eq(hangup(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "\"server\":\"127.0.0.1:3414\""), "%s", out);
    cr_expect(strstr(out, ",\"software\":\"Apache httpd/"), "%s", out);
    cr_expect(strstr(out, ",\"idle_timeout_default\":\"5.0 s: Apache httpd's default "
                          "KeepAliveTimeout\"}"), "%s", out);
    cr_expect(strstr(out, ",\"software\":\"nginx/"), "%s", out);
    cr_expect(strstr(out, "\"idle_timeout_default\":null"), "%s", out);
    free(out); free(err);
    rm_db(db);
}

/* --sensor is stored on each capture (the host name by default); report
 * filters by it, and counts incidents by sensor only when there are
 * several, so that one sensor's report is as it always was. */
Test(store, captures_record_their_sensor_and_report_groups_by_it, .timeout = 120)
{
    char *db = fresh_db();
    free(analyze_into(db, "", "crossed-client.pcap", "client-abort.pcap"));
    char host[256] = "", sql[600], *one, *e;
    gethostname(host, sizeof host - 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM captures WHERE sensor = '%s'", host);
    cr_expect_eq(scalar(db, sql), 2, "the default sensor is not the host name");
    char args[4400];
    snprintf(args, sizeof args, "report --db '%s'", db);
    cr_assert_eq(hangup(args, &one, &e), 0, "%s", e);
    free(e);
    cr_expect_null(strstr(one, "sensor"), "one sensor, yet: %s", one);

    free(analyze_into(db, "--sensor edge-2", "connect-timeout.pcap", "half-close.pcap"));
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures WHERE sensor = 'edge-2'"), 2);
    cr_expect_eq(scalar(db, "SELECT count(*) FROM captures_view WHERE sensor = 'edge-2'"), 2);
    char *two;
    cr_assert_eq(hangup(args, &two, &e), 0, "%s", e);
    free(e);
    cr_expect(strstr(two, "Incidents by sensor\nsensor"), "%s", two);
    cr_expect(strstr(two, "\nedge-2 "), "%s", two);

    /* Filtered to the first sensor, the report is the one-sensor report. */
    char *back;
    snprintf(args, sizeof args, "report --db '%s' --sensor '%s'", db, host);
    cr_assert_eq(hangup(args, &back, &e), 0, "%s", e);
    free(e);
    cr_expect_str_eq(back, one);
    snprintf(args, sizeof args, "report --db '%s' --sensor edge-2 --json --section kinds", db);
    char *j;
    cr_assert_eq(hangup(args, &j, &e), 0, "%s", e);
    free(e);
    cr_expect(strstr(j, "connect-timeout") && !strstr(j, "keepalive-race"), "%s", j);
    snprintf(args, sizeof args, "analyze --sensor '' --db '%s' '%s'", db,
             tu_sample("half-close.pcap"));
    cr_expect_eq(hangup(args, NULL, NULL), 2, "an empty sensor name is accepted");
    free(one);
    free(two);
    free(back);
    free(j);
    rm_db(db);
}
