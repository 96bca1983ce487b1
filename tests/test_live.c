/*
 * test_live.c -- `hangup live` on a real capture: loopback, a real Node.js
 * HTTP server and client racing on a port of this test's own, stopped with
 * SIGINT.  Checks that the incident is printed, committed to the database
 * while the capture still runs, and that the capture statistics are
 * reported.  Needs root (to capture) and node; skipped otherwise.  All
 * traffic stays on 127.0.0.1.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

Test(live, race_on_loopback_is_printed_stored_and_stopped_cleanly, .timeout = 90)
{
    if (geteuid() != 0)
        cr_skip_test("capturing needs root");
    if (system("node --version >/dev/null 2>&1") != 0)
        cr_skip_test("node is not installed (scripts/install-deps installs it)");
    int port = 20000 + (int)(getpid() % 12000);   /* below the ephemeral range */
    char filter[64], portarg[32], url[64];
    snprintf(filter, sizeof filter, "tcp port %d", port);
    snprintf(portarg, sizeof portarg, "port=%d", port);
    snprintf(url, sizeof url, "url=http://127.0.0.1:%d", port);
    char *db = strdup(tu_tmp(".db")), *out = strdup(tu_tmp(".out")), *err = strdup(tu_tmp(".err"));
    char *wpcap = strdup(tu_tmp(".pcapng"));
    char *live_argv[] = { (char *)HANGUP_BIN, "live", "-i", "lo", "-f", filter, "--db", db,
                          "-w", wpcap, NULL };
    pid_t hp = tu_spawn(live_argv, out, err);
    /* Wait until it captures. */
    cr_assert(tu_wait_text(err, "capturing on lo", 10000), "hangup live did not start");

    char server_js[4200], client_js[4200];
    snprintf(server_js, sizeof server_js, "%s", tu_sample("node-server.js"));
    snprintf(client_js, sizeof client_js, "%s", tu_sample("node-client.js"));
    char *srv_argv[] = { "node", server_js, "mode=raw", "host=127.0.0.1", portarg, "close=400",
                         NULL };
    char *srv_log = strdup(tu_tmp(".log"));
    pid_t sp = tu_spawn(srv_argv, srv_log, "/dev/null");
    tu_sleep_ms(700);
    /* Three clean exchanges, then a reuse that spins across the server's
     * close at 400 ms (samples/capture.sh, race-node-ipv4). */
    char *cli_argv[] = { "node", client_js, url,
                         "plan=[[\"GET\",\"/a\",0,0],[\"GET\",\"/b\",50,0],"
                         "[\"POST\",\"/orders\",300,200],[\"GET\",\"/c\",0,0]]",
                         "linger=300", NULL };
    char *cli_log = strdup(tu_tmp(".log"));
    pid_t cp = tu_spawn(cli_argv, cli_log, "/dev/null");
    int st;
    cr_assert(tu_wait_exit(cp, 30000, &st), "the client did not finish");
    int64_t client_done = tu_now_ms();
    char *clog = tu_slurp(cli_log, NULL);
    cr_assert(clog && strstr(clog, "ECONNRESET"), "the client saw no reset: %s", clog);

    /* The incident reaches the database while the capture runs. */
    char q[4400];
    snprintf(q, sizeof q, "'%s' query --db '%s' --csv \"SELECT verdict, method, target FROM "
                          "incidents\"", HANGUP_BIN, db);
    bool seen = false;
    int64_t seen_after = -1;
    for (int i = 0; i < 60 && !seen; i++) {
        char *qo = NULL;
        if (tu_sh(q, &qo, NULL) == 0 && qo && strstr(qo, "stale,POST,/orders")) {
            seen = true;
            seen_after = tu_now_ms() - client_done;
        }
        free(qo);
        if (!seen)
            tu_sleep_ms(100);
    }
    cr_expect(seen, "the incident never appeared in the database during the capture");
    cr_expect(waitpid(hp, &st, WNOHANG) == 0, "hangup live must still be running");
    cr_expect_leq(seen_after, 2000, "stored %lld ms after the client's error",
                  (long long)seen_after);

    kill(hp, SIGINT);
    cr_assert(tu_wait_exit(hp, 10000, &st), "hangup live did not stop on SIGINT");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", WEXITSTATUS(st));
    kill(sp, SIGTERM);
    waitpid(sp, NULL, 0);

    char *o = tu_slurp(out, NULL);
    cr_assert_not_null(o);
    cr_expect(strstr(o, "Keep-alive race #1 (stale) in lo"), "%s", o);
    cr_expect(strstr(o, "Lost request: POST /orders"), "%s", o);
    cr_expect(strstr(o, "Summary: 1 capture,"), "%s", o);
    cr_expect(strstr(o, "Capture statistics on lo: ") && strstr(o, " dropped by kernel, ") &&
                  strstr(o, " dropped by interface"), "%s", o);
    /* Stored, with the capture marked complete. */
    snprintf(q, sizeof q, "'%s' query --db '%s' --csv \"SELECT kind, complete, "
                          "(SELECT count(*) FROM incidents) FROM captures\"", HANGUP_BIN, db);
    char *qo = NULL;
    cr_expect_eq(tu_sh(q, &qo, NULL), 0);
    cr_expect(qo && strstr(qo, "live,1,1"), "%s", qo);
    free(qo);
    /* -w wrote the incident's connection, readable by tcpdump. */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' 2>/dev/null | grep -c '%d'", wpcap, port);
    char *wo = NULL;
    tu_sh(cmd, &wo, NULL);
    cr_expect(wo && atoi(wo) >= 8, "-w file holds %s packets", wo ? wo : "no");
    free(wo);
    /* ... as pcapng: the interface named, in time order, the race's line
     * on its packets. */
    tu_pcapng *ng = tu_pcapng_read(wpcap);
    cr_assert_not_null(ng);
    cr_expect_str_empty(ng->err, "%s", ng->err);
    cr_expect_eq(ng->nifaces, 1);
    cr_expect_str_eq(ng->iface[0].name, "lo");
    size_t commented = 0;
    for (size_t i = 0; i < ng->npkts; i++) {
        if (i)
            cr_expect_geq(ng->pkt[i].ts_us, ng->pkt[i - 1].ts_us);
        for (int k = 0; k < ng->pkt[i].ncomments; k++)
            commented += strncmp(ng->pkt[i].comment[k], "hangup #1 keepalive-race (stale) in lo: "
                                 "POST /orders captured ", 62) == 0;
    }
    cr_expect_eq(commented, 3, "the FIN, the late request and the RST carry the race's line");
    tu_pcapng_free(ng);
    free(o);
    free(clog);
    unlink(out); unlink(err); unlink(wpcap); unlink(srv_log); unlink(cli_log);
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    system(cmd);
    free(db); free(out); free(err); free(wpcap); free(srv_log); free(cli_log);
}

Test(live, capture_errors_are_one_clear_line)
{
    char *o = NULL, *e = NULL;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' live --no-db -i no-such-if0 -c 1", HANGUP_BIN);
    cr_expect_eq(tu_sh(cmd, &o, &e), 5);
    cr_expect(e && strstr(e, "no such interface 'no-such-if0'"), "%s", e);
    free(o); free(e);
    if (geteuid() == 0) {
        snprintf(cmd, sizeof cmd, "'%s' live --no-db -i lo -f 'tcp port' -c 1", HANGUP_BIN);
        cr_expect_eq(tu_sh(cmd, &o, &e), 2);
        cr_expect(e && strstr(e, "bad filter expression 'tcp port'"), "%s", e);
        free(o); free(e);
        /* Without the privilege: drop to nobody for the attempt. */
        snprintf(cmd, sizeof cmd, "setpriv --reuid=65534 --regid=65534 --clear-groups '%s' live "
                                  "--no-db -i lo -c 1", HANGUP_BIN);
        int rc = tu_sh(cmd, &o, &e);
        if (rc != 127 && !(e && strstr(e, "setpriv:"))) {
            cr_expect_eq(rc, 5);
            cr_expect(e && strstr(e, "not permitted to capture on lo") && strstr(e, "CAP_NET_RAW"),
                      "%s", e);
        }
        free(o); free(e);
    }
    snprintf(cmd, sizeof cmd, "'%s' live --no-db extra-arg", HANGUP_BIN);
    cr_expect_eq(tu_sh(cmd, &o, &e), 2);
    free(o); free(e);
}

/* The process running as nobody: hp itself, or (with a database, which
 * a root parent tidies after the capture) hp's child. */
static bool runs_as_nobody(pid_t hp)
{
    char path[96], *kids = NULL;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)hp, (int)hp);
    kids = tu_slurp(path, NULL);
    pid_t pid = kids && atoi(kids) > 0 ? (pid_t)atoi(kids) : hp;
    free(kids);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *st = tu_slurp(path, NULL);
    bool nobody = st && strstr(st, "\nUid:\t65534\t65534\t65534\t65534");
    free(st);
    return nobody;
}

/* Root captures, then drops to -Z's user; the database opened as root is
 * still written, and no -wal or -shm file is left beside it (in a sticky
 * directory nobody cannot remove root's files from). */
Test(live, drops_root_after_opening_the_capture, .timeout = 30)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    char *db = strdup(tu_tmp(".db")), *out = strdup(tu_tmp(".out")), *err = strdup(tu_tmp(".err"));
    char *argv[] = { (char *)HANGUP_BIN, "live", "-i", "lo", "-f", "tcp port 9", "--db", db,
                     "-Z", "nobody", "--duration", "3", NULL };
    pid_t hp = tu_spawn(argv, out, err);
    bool dropped = false;
    for (int t = 0; t < 2500 && !dropped; t += 100) {
        tu_sleep_ms(100);
        dropped = runs_as_nobody(hp);
    }
    cr_expect(dropped, "hangup live still runs as root");
    int status;
    cr_assert(tu_wait_exit(hp, 10000, &status));
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *e = tu_slurp(err, NULL);
    cr_expect(e && strstr(e, "running as nobody from now on"), "%s", e);
    free(e);
    char q[4400], *qo = NULL;
    for (int i = 0; i < 2; i++) {
        snprintf(q, sizeof q, "%s-%s", db, i ? "shm" : "wal");
        cr_expect_neq(access(q, F_OK), 0, "%s left behind", q);
    }
    /* The database opened as root is still written as nobody. */
    snprintf(q, sizeof q, "'%s' query --db '%s' --csv \"SELECT kind, complete FROM captures\"",
             HANGUP_BIN, db);
    cr_expect_eq(tu_sh(q, &qo, NULL), 0);
    cr_expect(qo && strstr(qo, "live,1"), "%s", qo);
    free(qo);
    char *o = NULL;
    snprintf(q, sizeof q, "'%s' live --no-db -i lo -Z no-such-user-x --duration 1", HANGUP_BIN);
    cr_expect_eq(tu_sh(q, &o, &e), 2);
    cr_expect(e && strstr(e, "no user 'no-such-user-x'"), "%s", e);
    free(o); free(e);
    unlink(out); unlink(err);
    snprintf(q, sizeof q, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    system(q);
    free(db); free(out); free(err);
}
