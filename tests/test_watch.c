/*
 * test_watch.c -- `hangup watch DIR` on directories really being written.
 *
 * The first test runs a real tcpdump rotating every second (-G 1, its own
 * buffering) into a directory that hangup watch follows, while two stacks
 * race on loopback (Python http.client against http.server closing idle
 * connections after 0.3 s, Node.js's client against a Node.js server
 * closing after 400 ms: samples/rotate-capture.sh's plans): every race the
 * clients saw is reported, within a few seconds of its file being closed,
 * with the verdict and packets (file and number, checked against tcpdump
 * -r of that file) that `analyze` gives for the finished set; SIGTERM
 * stops it with exit 0 and the database whole; a second run on the same
 * directory and database reports nothing again.  It needs root, tcpdump,
 * python3 and node, and is skipped otherwise.  The others need nothing
 * but the samples: files added while it runs, a file written a few bytes
 * at a time, a restart (SQLite, PostgreSQL and --state), a file deleted
 * and one truncated under it, a broken one.  All traffic stays on
 * 127.0.0.1 (the PostgreSQL server is the test's own, pgtest.h).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgtest.h"
#include "testutil.h"

/* Wait until file path holds text (up to ms); whether it does. */
static bool wait_text(const char *path, const char *text, int ms)
{
    for (int t = 0; t <= ms; t += 20) {
        char *s = tu_slurp(path, NULL);
        bool ok = s && strstr(s, text);
        free(s);
        if (ok)
            return true;
        tu_sleep_ms(20);
    }
    return false;
}

/* How many times text occurs in the file at path. */
static size_t count_in(const char *path, const char *text)
{
    char *s = tu_slurp(path, NULL);
    size_t n = 0;
    for (const char *p = s; p && (p = strstr(p, text)); p++)
        n++;
    free(s);
    return n;
}

static const char RACE[] = "{\"type\":\"incident\",\"kind\":\"keepalive-race\"";

/* The string value of key in the JSON line at l (up to eol), into out. */
static bool str_of(const char *l, const char *eol, const char *key, char *out, size_t n)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":\"", key);
    const char *p = strstr(l, k);
    if (!p || p > eol)
        return false;
    p += strlen(k);
    const char *e = strchr(p, '"');
    snprintf(out, n, "%.*s", (int)(e - p), p);
    return true;
}

static uint64_t num_of(const char *l, const char *eol, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(l, k);
    cr_assert(p && p < eol, "no %s", key);
    return strtoull(p + strlen(k), NULL, 10);
}

/* One race: "verdict FINFILE#N REQFILE#N RSTFILE#N", file names without
 * their directory. */
typedef struct race {
    char key[1200];
    char file[3][512];
    uint64_t pkt[3];
} race;

static int race_cmp(const void *a, const void *b)
{
    return strcmp(((const race *)a)->key, ((const race *)b)->key);
}

/* The races of a --json output, sorted; how many (at most max). */
static size_t races_of(const char *json, race *out, size_t max)
{
    static const char *const which[3] = { "fin", "request", "rst" };
    size_t n = 0;
    for (const char *l = json; l && (l = strstr(l, RACE)); l++) {
        const char *eol = strchr(l, '\n');
        cr_assert_not_null(eol);
        cr_assert_lt(n, max);
        race *r = &out[n++];
        char verdict[32], file[512];
        cr_assert(str_of(l, eol, "verdict", verdict, sizeof verdict));
        cr_assert(str_of(l, eol, "file", file, sizeof file));
        int k = snprintf(r->key, sizeof r->key, "%s", verdict);
        for (int i = 0; i < 3; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s_file", which[i]);
            if (!str_of(l, eol, key, r->file[i], sizeof r->file[i]))
                snprintf(r->file[i], sizeof r->file[i], "%s", file);
            snprintf(key, sizeof key, "%s_packet", which[i]);
            r->pkt[i] = num_of(l, eol, key);
            const char *base = strrchr(r->file[i], '/');
            k += snprintf(r->key + k, sizeof r->key - (size_t)k, " %s#%llu",
                          base ? base + 1 : r->file[i], (unsigned long long)r->pkt[i]);
        }
    }
    qsort(out, n, sizeof *out, race_cmp);
    return n;
}

/* A fresh directory; its path (static buffer of the caller's). */
static void make_dir(char *dir, size_t n)
{
    snprintf(dir, n, "%s", tu_tmp(".d"));
    cr_assert_eq(mkdir(dir, 0755), 0);
}

/* hangup watch --json OPTS... DIR in the background (opts: NULL-ended);
 * its pid, once it says it is watching. */
static pid_t start_watch(const char *dir, const char *out, const char *err,
                         const char *const *opts)
{
    char *argv[16] = { (char *)HANGUP_BIN, "watch", "--json" };
    int k = 3;
    for (; *opts && k < 14; opts++)
        argv[k++] = (char *)*opts;
    argv[k++] = (char *)dir;
    argv[k] = NULL;
    pid_t pid = tu_spawn(argv, out, err);
    cr_assert(wait_text(err, "hangup: watching", 5000), "hangup watch did not start");
    return pid;
}

/* SIGTERM to pid; its exit status (it must stop within 10 s). */
static int stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int st;
    cr_assert(tu_wait_exit(pid, 10000, &st), "hangup watch did not stop on SIGTERM");
    cr_assert(WIFEXITED(st), "hangup watch was killed by signal %d", WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* A query's CSV answer (trailing newline dropped), into out. */
static void query(const char *db, const char *sql, char *out, size_t n)
{
    char cmd[4400], *o = NULL;
    snprintf(cmd, sizeof cmd, "'%s' query --db '%s' --csv \"%s\"", HANGUP_BIN, db, sql);
    cr_assert_eq(tu_sh(cmd, &o, NULL), 0, "%s", cmd);
    const char *v = strchr(o, '\n');   /* past the header */
    snprintf(out, n, "%s", v ? v + 1 : "");
    out[strcspn(out, "\r\n")] = '\0';
    free(o);
}

/* `hangup analyze --no-db --json` of the files of dir matching glob, as
 * one set; its races (sorted), how many. */
static size_t analyze_races(const char *dir, const char *glob, race *out, size_t max)
{
    char cmd[9000], *o = NULL, *e = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'/%s", HANGUP_BIN, dir, glob);
    cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s: %s", cmd, e);
    size_t n = races_of(o, out, max);
    free(o);
    free(e);
    return n;
}

static void expect_same_races(const race *a, size_t na, const race *b, size_t nb)
{
    cr_assert_eq(na, nb, "%zu races watched, %zu analysed", na, nb);
    for (size_t i = 0; i < na; i++)
        cr_expect_str_eq(a[i].key, b[i].key);
}

/* Line num of `tcpdump -n -r file`. */
static void tcpdump_line(const char *file, uint64_t num, char *out, size_t n)
{
    char cmd[4400], *o = NULL;
    snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' 2>/dev/null | sed -n '%llup'", file,
             (unsigned long long)num);
    tu_sh(cmd, &o, NULL);
    snprintf(out, n, "%s", o ? o : "");
    free(o);
}

#define MAXR 64

Test(watch, live_tcpdump_rotation_races_reported_as_files_close, .timeout = 150)
{
    if (geteuid() != 0)
        cr_skip_test("tcpdump needs root to capture on lo");
    if (system("tcpdump --version >/dev/null 2>&1") != 0)
        cr_skip_test("tcpdump is not installed (scripts/install-deps installs it)");
    if (system("node --version >/dev/null 2>&1 && python3 --version >/dev/null 2>&1") != 0)
        cr_skip_test("node and python3 are needed (scripts/install-deps installs them)");
    char dir[256], filter[96], portarg[32], url[64], pport[16], fname[300];
    make_dir(dir, sizeof dir);
    int port = 20000 + (int)(getpid() % 12000);
    snprintf(filter, sizeof filter, "tcp port %d or tcp port %d", port, port + 1);
    snprintf(pport, sizeof pport, "%d", port);
    snprintf(portarg, sizeof portarg, "port=%d", port + 1);
    snprintf(url, sizeof url, "url=http://127.0.0.1:%d", port + 1);
    snprintf(fname, sizeof fname, "%s/cap-%%s.pcap", dir);
    char db[256], out[256], err[256];
    snprintf(db, sizeof db, "%s", tu_tmp(".db"));
    snprintf(out, sizeof out, "%s", tu_tmp(".out"));
    snprintf(err, sizeof err, "%s", tu_tmp(".err"));
    char tdo[256], tde[256];
    snprintf(tdo, sizeof tdo, "%s", tu_tmp(".tdo"));
    snprintf(tde, sizeof tde, "%s", tu_tmp(".tde"));

    const char *opts[] = { "--db", db, NULL };
    pid_t hp = start_watch(dir, out, err, opts);
    /* tcpdump's own rotation and buffering (no -U): a file reaches the
     * disk whole when tcpdump closes it, at the first packet of the next
     * second. */
    char *td_argv[] = { "tcpdump", "-i", "lo", "-n", "-s", "262144", "-Z", "root", "-G", "1",
                        "-w", fname, filter, NULL };
    pid_t tp = tu_spawn(td_argv, tdo, tde);
    cr_assert(wait_text(tde, "listening on", 5000), "tcpdump did not start");

    char pysrv[4200], pycli[4200], nsrv[4200], ncli[4200];
    snprintf(pysrv, sizeof pysrv, "%s", tu_sample("py-server.py"));
    snprintf(pycli, sizeof pycli, "%s", tu_sample("py-client.py"));
    snprintf(nsrv, sizeof nsrv, "%s", tu_sample("node-server.js"));
    snprintf(ncli, sizeof ncli, "%s", tu_sample("node-client.js"));
    char *ps_argv[] = { "python3", pysrv, "127.0.0.1", pport, "0.3", NULL };
    char *ns_argv[] = { "node", nsrv, "mode=raw", "host=127.0.0.1", portarg, "close=400", NULL };
    pid_t sp1 = tu_spawn(ps_argv, "/dev/null", "/dev/null");
    pid_t sp2 = tu_spawn(ns_argv, "/dev/null", "/dev/null");
    tu_sleep_ms(800);
    char pylog[256], nlog[256];
    snprintf(pylog, sizeof pylog, "%s", tu_tmp(".log"));
    snprintf(nlog, sizeof nlog, "%s", tu_tmp(".log"));
    char *pc_argv[] = { "python3", pycli, "127.0.0.1", pport,
                        "[[\"GET\",\"/items\",0],[\"POST\",\"/items\",0.8],"
                        "[\"GET\",\"/items/2\",0],[\"DELETE\",\"/items/2\",0.8],"
                        "[\"GET\",\"/items/3\",0],[\"PUT\",\"/items/3\",0.8]]", NULL };
    char *nc_argv[] = { "node", ncli, url,
                        "plan=[[\"GET\",\"/api/users\",0,0],[\"POST\",\"/api/orders\",300,200],"
                        "[\"GET\",\"/api/users/3\",0,0],[\"GET\",\"/api/health\",300,200]]",
                        "linger=600", NULL };
    pid_t cp1 = tu_spawn(pc_argv, pylog, "/dev/null");
    pid_t cp2 = tu_spawn(nc_argv, nlog, "/dev/null");
    int st;
    cr_assert(tu_wait_exit(cp1, 30000, &st) && tu_wait_exit(cp2, 30000, &st), "a client hung");
    size_t errors = count_in(pylog, "ERROR") + count_in(nlog, "ERROR");
    cr_assert_geq(errors, 2, "the clients saw %zu errors: no race to find", errors);

    /* Past the second's end, one more packet: tcpdump closes the file the
     * last races are in.  From then on they must be out within 3 s. */
    tu_sleep_ms(1200);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null --max-time 2 http://127.0.0.1:%d/", port);
    tu_sh(cmd, NULL, NULL);
    int64_t closed = tu_now_ms();
    bool all = false;
    while (!all && tu_now_ms() - closed < 3000) {
        all = count_in(out, RACE) >= errors;
        if (!all)
            tu_sleep_ms(50);
    }
    int64_t took = tu_now_ms() - closed;
    cr_assert(all, "%zu of the %zu races reported 3 s after their file closed",
              count_in(out, RACE), errors);
    cr_log_info("all %zu races out %lld ms after the last file closed", errors,
                (long long)took);
    /* ... and committed. */
    char v[256];
    bool stored = false;
    for (int i = 0; i < 40 && !stored; i++) {
        query(db, "SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'", v, sizeof v);
        stored = (size_t)atoi(v) == errors;
        if (!stored)
            tu_sleep_ms(50);
    }
    cr_assert(stored, "%s races in the database while watching, %zu seen", v, errors);

    kill(tp, SIGINT);
    cr_assert(tu_wait_exit(tp, 5000, &st), "tcpdump did not stop");
    cr_assert_eq(stop(hp), 0);
    kill(sp1, SIGTERM);
    kill(sp2, SIGTERM);
    waitpid(sp1, &st, 0);
    waitpid(sp2, &st, 0);

    /* The races are the finished set's, as analyze reads it, with the
     * verdicts each stack gives and each packet where its file has it. */
    char *json = tu_slurp(out, NULL);
    static race w[MAXR], a[MAXR];
    size_t nw = races_of(json, w, MAXR);
    cr_assert_eq(nw, errors);
    size_t na = analyze_races(dir, "cap-*.pcap", a, MAXR);
    expect_same_races(w, nw, a, na);
    for (size_t i = 0; i < nw; i++) {
        cr_expect(strncmp(w[i].key, "stale ", 6) == 0 || strncmp(w[i].key, "crossed ", 8) == 0);
        char line[1024];
        tcpdump_line(w[i].file[0], w[i].pkt[0], line, sizeof line);
        cr_expect(strstr(line, "Flags [F"), "FIN %s: %s", w[i].key, line);
        tcpdump_line(w[i].file[1], w[i].pkt[1], line, sizeof line);
        cr_expect(strstr(line, "Flags [P.]") && !strstr(line, "length 0"), "request %s: %s",
                  w[i].key, line);
        tcpdump_line(w[i].file[2], w[i].pkt[2], line, sizeof line);
        cr_expect(strstr(line, "Flags [R"), "RST %s: %s", w[i].key, line);
    }
    /* Python's client writes 0.8 s after the server's FIN reached it. */
    snprintf(cmd, sizeof cmd, "127.0.0.1:%d\",\"ip_version\":4", port);
    size_t py = 0;
    for (const char *l = json; (l = strstr(l, RACE)); l++) {
        const char *eol = strchr(l, '\n');
        char server[64];
        cr_assert(str_of(l, eol, "server", server, sizeof server));
        if (atoi(strchr(server, ':') + 1) == port) {
            py++;
            cr_expect(strstr(l, "\"verdict\":\"stale\"") < eol);
        }
    }
    cr_expect_eq(py, count_in(pylog, "ERROR"));
    free(json);

    /* Stopped cleanly: the database whole, every file read to its end. */
    query(db, "PRAGMA integrity_check", v, sizeof v);
    cr_expect_str_eq(v, "ok");
    query(db, "SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'", v, sizeof v);
    cr_expect_eq((size_t)atoi(v), errors);
    char dbwal[300];
    snprintf(dbwal, sizeof dbwal, "%s-wal", db);
    cr_expect_neq(access(dbwal, F_OK), 0, "a -wal file left behind");

    /* Run again: nothing is counted twice. */
    char out2[256], err2[256];
    snprintf(out2, sizeof out2, "%s", tu_tmp(".out"));
    snprintf(err2, sizeof err2, "%s", tu_tmp(".err"));
    hp = start_watch(dir, out2, err2, opts);
    tu_sleep_ms(1500);
    cr_assert_eq(stop(hp), 0);
    cr_expect_eq(count_in(out2, RACE), 0, "the second run reported again");
    query(db, "SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'", v, sizeof v);
    cr_expect_eq((size_t)atoi(v), errors);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s'", dir,
             db, out, err, out2, err2, tdo, tde, pylog, nlog);
    tu_sh(cmd, NULL, NULL);
}

/* The first n bytes of sample file `from` (all of it: n = SIZE_MAX) into
 * `to`, or the rest after them appended (append). */
static void write_part(const char *from, const char *to, size_t n, bool append)
{
    size_t len;
    char *s = tu_slurp(from, &len);
    cr_assert_not_null(s, "%s", from);
    FILE *fp = fopen(to, append ? "ab" : "wb");
    cr_assert_not_null(fp, "%s", to);
    if (append)
        fwrite(s + n, 1, len - n, fp);
    else
        fwrite(s, 1, n < len ? n : len, fp);
    fclose(fp);
    free(s);
}

static size_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (size_t)st.st_size;
}

/* Wait until out has n races (up to ms); how many it has. */
static size_t wait_races(const char *out, size_t n, int ms)
{
    size_t have = 0;
    for (int t = 0; t <= ms && (have = count_in(out, RACE)) < n; t += 20)
        tu_sleep_ms(20);
    return have;
}

/*
 * samples/rotated (tcpdump -G 1's files) arriving in a watched directory:
 * the first run sees the first file and most of the second, the file
 * being written cut inside a record; stopped, the rest arrives; the second
 * run takes up the second file at that record.  Together they report the
 * set's races once each, as analyze reads the finished set.  The state is
 * kept in the database (an SQLite file, or PostgreSQL at pg_uri when not
 * NULL), or else in a --state file.
 */
static void restart_case(bool in_db, const char *pg_uri)
{
    char dir[256], src[4200], dst[600];
    make_dir(dir, sizeof dir);
    char db[256], state[256];
    snprintf(db, sizeof db, "%s", pg_uri ? pg_uri : tu_tmp(".db"));
    snprintf(state, sizeof state, "%s", tu_tmp(".state"));
    char out1[256], err1[256];
    snprintf(out1, sizeof out1, "%s", tu_tmp(".out"));
    snprintf(err1, sizeof err1, "%s", tu_tmp(".err"));
    char out2[256], err2[256];
    snprintf(out2, sizeof out2, "%s", tu_tmp(".out"));
    snprintf(err2, sizeof err2, "%s", tu_tmp(".err"));
    const char *opts_db[] = { "--db", db, NULL };
    const char *opts_st[] = { "--no-db", "--state", state, NULL };
    const char *const *opts = in_db ? opts_db : opts_st;
    static const char *const names[] = { "121504", "121505", "121506", "121507", "121508",
                                         "121509", "121510" };
    snprintf(src, sizeof src, "%s", tu_sample("rotated/rotated-121504.pcap"));
    snprintf(dst, sizeof dst, "%s/rotated-121504.pcap", dir);
    write_part(src, dst, SIZE_MAX, false);
    snprintf(src, sizeof src, "%s", tu_sample("rotated/rotated-121505.pcap"));
    snprintf(dst, sizeof dst, "%s/rotated-121505.pcap", dir);
    size_t cut = file_size(src) - 30;   /* inside its last record */
    write_part(src, dst, cut, false);

    pid_t hp = start_watch(dir, out1, err1, opts);
    tu_sleep_ms(1200);
    cr_assert_eq(stop(hp), 0, "%s", tu_slurp(err1, NULL));
    size_t n1 = count_in(out1, RACE);

    write_part(src, dst, cut, true);
    for (size_t i = 2; i < 7; i++) {
        char s[64];
        snprintf(s, sizeof s, "rotated/rotated-%s.pcap", names[i]);
        snprintf(src, sizeof src, "%s", tu_sample(s));
        snprintf(dst, sizeof dst, "%s/rotated-%s.pcap", dir, names[i]);
        write_part(src, dst, SIZE_MAX, false);
    }
    static race a[MAXR], w[MAXR];
    size_t na = analyze_races(dir, "rotated-*.pcap", a, MAXR);
    cr_assert_eq(na, 7);
    hp = start_watch(dir, out2, err2, opts);
    size_t n2 = wait_races(out2, na - n1, 5000);
    tu_sleep_ms(300);
    cr_assert_eq(stop(hp), 0, "%s", tu_slurp(err2, NULL));
    n2 = count_in(out2, RACE);
    cr_assert(n1 > 0 && n2 > 0, "races in the first run %zu, the second %zu", n1, n2);
    char *j1 = tu_slurp(out1, NULL), *j2 = tu_slurp(out2, NULL);
    char *both = malloc(strlen(j1) + strlen(j2) + 1);
    strcat(strcpy(both, j1), j2);
    size_t nw = races_of(both, w, MAXR);
    expect_same_races(w, nw, a, na);
    if (in_db) {
        char v[64];
        query(db, "SELECT count(*) FROM incidents WHERE kind = 'keepalive-race'", v, sizeof v);
        cr_expect_eq(atoi(v), (int)na);
    }
    free(both);
    free(j1);
    free(j2);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s' '%s' '%s' '%s' '%s'", dir,
             pg_uri ? state : db, state, out1, err1, out2, err2);
    tu_sh(cmd, NULL, NULL);
}

Test(watch, restart_counts_nothing_twice_database, .timeout = 60)
{
    restart_case(true, NULL);
}

/* The PostgreSQL test's own server (stopped by fini whatever happened). */
static tu_pg pg_server;

static void pg_up(void)
{
    tu_pg_up(&pg_server, "w");
}

static void pg_down(void)
{
    tu_pg_destroy(&pg_server);
}

/* The same with the state and the incidents in PostgreSQL. */
Test(watch, restart_counts_nothing_twice_postgresql, .init = pg_up, .fini = pg_down,
     .timeout = 180)
{
    char uri[256];
    snprintf(uri, sizeof uri, "%s", tu_pg_uri(&pg_server, "w"));
    restart_case(true, uri);
}

Test(watch, restart_counts_nothing_twice_state_file, .timeout = 60)
{
    restart_case(false, NULL);
}

/*
 * Files going wrong under the watcher, each said in one line and the
 * watch going on: a file being written deleted, one truncated below what
 * was read, one with a broken record (named by file and packet); then a
 * good capture of another link type, whose races are still reported.
 */
Test(watch, deleted_truncated_and_broken_files, .timeout = 60)
{
    char dir[256], src[4200], g1[600], g2[600], bad[600], ok[600];
    make_dir(dir, sizeof dir);
    char out[256], err[256];
    snprintf(out, sizeof out, "%s", tu_tmp(".out"));
    snprintf(err, sizeof err, "%s", tu_tmp(".err"));
    const char *opts[] = { "--no-db", NULL };
    snprintf(src, sizeof src, "%s", tu_sample("race-python.pcap"));
    size_t len = file_size(src);
    snprintf(g1, sizeof g1, "%s/g1.pcap", dir);
    snprintf(g2, sizeof g2, "%s/g2.pcap", dir);
    snprintf(bad, sizeof bad, "%s/bad.pcap", dir);
    snprintf(ok, sizeof ok, "%s/ok.pcap", dir);
    pid_t hp = start_watch(dir, out, err, opts);

    write_part(src, g1, len / 2, false);
    tu_sleep_ms(600);
    cr_assert_eq(unlink(g1), 0);
    cr_expect(wait_text(err, "g1.pcap was deleted before it was read to its end", 3000),
              "%s", tu_slurp(err, NULL));

    write_part(src, g2, len / 2, false);
    tu_sleep_ms(600);
    cr_assert_eq(truncate(g2, 200), 0);
    cr_expect(wait_text(err, "g2.pcap was truncated", 3000), "%s", tu_slurp(err, NULL));
    cr_assert_eq(unlink(g2), 0);

    /* Record 10's length past the snapshot length. */
    size_t blen;
    char *b = tu_slurp(tu_sample("retry.pcap"), &blen);
    size_t off = 24;
    for (int i = 1; i < 10; i++) {
        uint32_t cl;
        memcpy(&cl, b + off + 8, 4);
        off += 16 + cl;   /* the sample is little-endian, as this host */
    }
    uint32_t huge = 0x7fffffffu;
    memcpy(b + off + 8, &huge, 4);
    FILE *fp = fopen(bad, "wb");
    fwrite(b, 1, blen, fp);
    fclose(fp);
    free(b);
    cr_expect(wait_text(err, "bad.pcap: packet 10", 3000), "%s", tu_slurp(err, NULL));
    cr_assert_eq(unlink(bad), 0);

    snprintf(src, sizeof src, "%s", tu_sample("race-any.pcap"));
    write_part(src, ok, SIZE_MAX, false);
    cr_expect_eq(wait_races(out, 2, 3000), 2, "%s", tu_slurp(err, NULL));
    cr_assert_eq(stop(hp), 1);   /* a file was read only in part */
    char *e = tu_slurp(err, NULL);
    cr_expect_eq(count_in(err, "\n"), 4, "one line each:\n%s", e);
    free(e);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", dir, out, err);
    tu_sh(cmd, NULL, NULL);
}
