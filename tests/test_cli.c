/*
 * test_cli.c -- the hangup command as a user runs it: options, exit
 * codes, and bad input of every kind (missing, garbage, truncated at every
 * offset, unsupported link types, absurd lengths, snaplen-cut packets,
 * hostile bytes in requests).  Bad input must give one clear line naming
 * the file (and packet), never a crash, and keep everything good.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ctype.h>
#include <nids.h>
#include <pcap/pcap.h>
#include <libpq-fe.h>
#include <lzma.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <sys/stat.h>
#include <zstd.h>

#include "hangup/analyze.h"
#include "hangup/cli.h"
#include "hangup/detect.h"
#include "testutil.h"

#define INC "{\"type\":\"incident\",\"kind\":\"keepalive-race\""

static int run(const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0;
    for (const char *p = s; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

Test(cli, help_and_usage_errors)
{
    char *out, *err;
    cr_expect_eq(run("--help", &out, &err), 0);
    cr_expect(strstr(out, "usage: hangup"));
    free(out); free(err);
    cr_expect_eq(run("help analyze", &out, &err), 0);
    cr_expect(strstr(out, "--filter"));
    cr_expect(strstr(out, "exit status"));
    free(out); free(err);
    cr_expect_eq(run("analyze", &out, &err), 2);
    cr_expect(strstr(err, "at least one capture FILE"));
    free(out); free(err);
    cr_expect_eq(run("analyze --bogus x.pcap", &out, &err), 2);
    cr_expect(strncmp(err, "hangup: unrecognized option '--bogus'", 37) == 0,
              "every error line starts with 'hangup: ': %s", err);
    free(out); free(err);
    cr_expect_eq(run("report --bogus", &out, &err), 2);
    cr_expect(strncmp(err, "hangup: ", 8) == 0, "%s", err);
    free(out); free(err);
    cr_expect_eq(run("frobnicate", &out, &err), 2);
    cr_expect(strstr(err, "unknown command"));
    free(out); free(err);
    cr_expect_eq(run("analyze --no-db --kind refused, x.pcap", &out, &err), 2);
    cr_expect(strstr(err, "--kind 'refused,' has an empty kind"), "%s", err);
    free(out); free(err);
    /* libpcap's message names the file; hangup's line names it once. */
    cr_expect_eq(run("analyze --no-db /nonexistent-dir/x.pcap", &out, &err), 1);
    cr_expect(strstr(err, "hangup: /nonexistent-dir/x.pcap: No such file"), "%s", err);
    cr_expect_null(strstr(err, "x.pcap: /nonexistent-dir"), "the path twice: %s", err);
    free(out); free(err);
    /* Help for a command that does not exist is a usage error too. */
    cr_expect_eq(run("help bogus", &out, &err), 2);
    cr_expect(strstr(err, "no help for 'bogus'"), "%s", err);
    cr_expect_eq(out[0], '\0', "nothing on stdout: %s", out);
    free(out); free(err);
    cr_expect_eq(run("analyze --max-connections 0 x", &out, &err), 2);
    free(out); free(err);
    cr_expect_eq(run("--version", &out, &err), 0);
    cr_expect(strncmp(out, "hangup ", 7) == 0);
    free(out); free(err);
}

/* The summary counts in English, and a server no request reached gets no
 * advice about reused connections. */
Test(cli, summary_words_and_advice_fit_what_was_seen)
{
    const char *one = strdup(tu_tmp(".pcap"));
    tu_cv c = { .cli = "10.0.0.10", .srv = "10.0.0.20", .cport = 41000, .sport = 8080,
                .cseq = 1000, .sseq = 70000, .t = 1763740800000000LL };
    c.w = tu_pcap_open(one, 101, 65535);
    tu_cv_emit(&c, true, HU_TH_SYN, c.cseq, 0, NULL, 0);
    tu_pcap_close(c.w);
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db '%s'", one);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "1 capture, 1 packet, 1 TCP connection ("), "%s", out);
    free(out); free(err);
    unlink(one);
    free((void *)one);

    snprintf(args, sizeof args, "analyze --no-db '%s'", tu_sample("refused-v4.pcap"));
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, "6 connections, 0 requests"), "%s", out);
    cr_expect(strstr(out, "no request reached it"), "%s", out);
    cr_expect_null(strstr(out, "reused connection"), "advice about reuse without a request: %s",
                   out);
    free(out); free(err);
}

/* -w as tcpdump -w: the file is created before anything is read (a path
 * that cannot be written is exit 1 at once), and without any incident it
 * is still a valid capture, empty, of the link type that was read. */
Test(cli, write_file_created_first_and_valid_when_empty)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db -w /nonexistent-dir/x.pcap '%s'",
             tu_sample("retry.pcap"));
    cr_expect_eq(run(args, &out, &err), 1);
    cr_expect(strstr(err, "hangup: -w /nonexistent-dir/x.pcap: No such file or directory"),
              "%s", err);
    cr_expect_eq(out[0], '\0', "analysed although -w failed: %s", out);
    free(out); free(err);

    char *cap = strdup(tu_tmp(".pcap")), *w = strdup(tu_tmp(".pcap"));
    tu_cv c = { .cli = "10.0.0.10", .srv = "10.0.0.20", .cport = 41000, .sport = 8080,
                .cseq = 1000, .sseq = 70000, .t = 1763740800000000LL };
    c.w = tu_pcap_open(cap, 101, 65535);   /* raw IP: not the default link type */
    tu_cv_emit(&c, true, HU_TH_SYN, c.cseq, 0, NULL, 0);
    tu_pcap_close(c.w);
    snprintf(args, sizeof args, "analyze --no-db -w '%s' '%s'", w, cap);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "tcpdump -r '%s'", w);
    cr_expect_eq(tu_sh(cmd, &out, &err), 0, "tcpdump cannot read the empty -w file: %s", err);
    cr_expect(strstr(err, "link-type RAW"), "%s", err);
    cr_expect_eq(out[0], '\0', "%s", out);
    free(out); free(err);
    unlink(cap); unlink(w);
    free(cap); free(w);
}

/* --kind chooses what is printed; the summary still counts what the
 * capture holds, as the server lines do, and says what was printed. */
Test(cli, kind_filter_prints_less_and_counts_the_same)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --kind refused '%s'", tu_sample("retry.pcap"));
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_null(strstr(out, "Keep-alive race #"), "a race printed: %s", out);
    cr_expect(strstr(out, "2 keep-alive races (0 crossed, 2 stale); printed: only refused"),
              "%s", out);
    cr_expect(strstr(out, "2 races (0\n    crossed, 2 stale)") || strstr(out, "2 races (0 crossed"),
              "%s", out);
    free(out); free(err);
}

/* --kind closed-before-response prints the refusals alone (nginx's 444,
 * a server refusing a header), and nothing of a capture without one; the
 * summary counts the kind either way. */
Test(cli, kind_filter_closed_before_response)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --json --kind closed-before-response '%s'",
             tu_sample("closed-before-response.pcap"));
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_eq(count_lines(out, "{\"type\":\"incident\""), 8, "%s", out);
    cr_expect_eq(count_lines(out, "{\"type\":\"incident\",\"kind\":\"closed-before-response\""),
                 8, "%s", out);
    cr_expect(strstr(out, "\"wait_ms\":") && strstr(out, "\"close\":\"fin\""), "%s", out);
    free(out); free(err);
    /* Each kind asked for on the other's capture: nothing printed, both
     * counted. */
    static const char *const pair[][3] = {
        { "closed-before-response", "reset-unread.pcap", "Reset before response #" },
        { "reset-before-response", "closed-before-response.pcap", "Closed before response #" },
    };
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "analyze --no-db --kind %s '%s'", pair[i][0],
                 tu_sample(pair[i][1]));
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_null(strstr(out, pair[i][2]), "%s", out);
        char summary[128];
        snprintf(summary, sizeof summary, "%s; printed: only %s", pair[!i][0], pair[i][0]);
        cr_expect(strstr(out, summary), "no '%s' in %s", summary, out);
        free(out); free(err);
    }
}

/* On a terminal, a status or progress line may stand on stderr: each
 * incident erases it first, so it starts on a line of its own. */
Test(cli, incidents_start_on_a_line_of_their_own_on_a_terminal)
{
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "script -qec \"'%s' analyze --no-db '%s'\" /dev/null",
             HANGUP_BIN, tu_sample("retry.pcap"));
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    cr_expect(strstr(out, "\r\033[KKeep-alive race #1"), "no erase before the incident: %s",
              out);
    free(out);
    /* Not on a terminal: nothing but the report. */
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db '%s' 2>&1", HANGUP_BIN,
             tu_sample("retry.pcap"));
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    cr_expect_null(strchr(out, '\033'), "%s", out);
    free(out);
}

/* tcpdump's habits: -r FILE (repeatable) with the filter expression after
 * the options, live's trailing expression, live -D, and a file given to
 * live pointed at analyze. */
Test(cli, tcpdump_forms_of_files_and_filters)
{
    char args[8800], *out, *err, f[4200];
    snprintf(f, sizeof f, "%s", tu_sample("retry.pcap"));
    snprintf(args, sizeof args, "analyze --no-db --json -r '%s' -r '%s' tcp port 3015", f, f);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_eq(count_lines(out, INC), 4, "two races in each of the two -r files: %s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --json -r '%s' tcp port 9999", f);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_eq(count_lines(out, INC), 0, "the trailing expression filters: %s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db -r '%s' -f tcp port 1", f);
    cr_expect_eq(run(args, &out, &err), 2);
    cr_expect(strstr(err, "give the filter once"), "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "live --no-db '%s'", f);
    cr_expect_eq(run(args, &out, &err), 2);
    cr_expect(strstr(err, "run 'hangup analyze "), "%s", err);
    free(out); free(err);
    cr_expect_eq(run("live -D", &out, &err), 0, "%s", err);
    cr_expect(strstr(out, ".lo [Up"), "%s", out);
    free(out); free(err);
    if (geteuid() == 0) {
        cr_expect_eq(run("live --no-db -i lo --duration 1 tcp port 9", &out, &err), 0, "%s", err);
        cr_expect(strstr(err, "filter 'tcp port 9'"), "%s", err);
        free(out); free(err);
    }
}

/* The packet number after "key": in the i-th line of out that has it (0 if none). */
static unsigned long nth_number(const char *out, const char *key, int i)
{
    const char *p = out;
    for (; (p = strstr(p, key)) != NULL; p += strlen(key))
        if (i-- == 0)
            return strtoul(p + strlen(key), NULL, 10);
    return 0;
}

/* The packet count of the human summary ("Summary: 1 capture, N packets"). */
static unsigned long summary_packets(const char *out)
{
    const char *p = strstr(out, "Summary: ");
    p = p ? strstr(p, ", ") : NULL;
    return p ? strtoul(p + 2, NULL, 10) : 0;
}

/* -c N stops after N packets, as tcpdump -c: counted after the filter and
 * over every file, a race whose RST lies beyond the cut is not reported,
 * and the files after the cut are not read.  Two stacks (Python's
 * http.client retrying, Node.js's http client across a delayed link), the
 * cut taken from each full run. */
Test(cli, count_stops_after_n_packets)
{
    const char *names[] = { "retry.pcap", "crossed-client.pcap" };
    for (size_t k = 0; k < 2; k++) {
        char args[13000], *out, *err, f[4200];
        snprintf(f, sizeof f, "%s", tu_sample(names[k]));
        snprintf(args, sizeof args, "analyze --no-db --json '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        unsigned long rst = nth_number(out, "\"rst_packet\":", 0);
        size_t races = count_lines(out, INC);
        free(out); free(err);
        cr_assert(rst > 1 && races >= 2, "%s: %zu races, first RST %lu", f, races, rst);

        snprintf(args, sizeof args, "analyze --no-db --json -c %lu '%s'", rst, f);
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_lines(out, INC), 1, "-c up to the first RST: one race: %s", out);
        free(out); free(err);
        snprintf(args, sizeof args, "analyze --no-db --json -c %lu '%s'", rst - 1, f);
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_lines(out, INC), 0, "-c short of the RST: no race: %s", out);
        free(out); free(err);

        /* Over files: the second file gets what the first left. */
        snprintf(args, sizeof args, "analyze --no-db --no-timeline -c %lu '%s' '%s' '%s'",
                 rst + 5, f, f, f);
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect(strstr(out, "Summary: 1 capture, "), "%s", out);
        cr_expect_eq(summary_packets(out), rst + 5, "%s", out);
        free(out); free(err);
        snprintf(args, sizeof args, "analyze --no-db --json -c 1000000 '%s' '%s'", f, f);
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_lines(out, INC), 2 * races, "-c above the total: all: %s", out);
        free(out); free(err);

        /* Counted after the filter: only SYNs pass, and only 2 are taken. */
        snprintf(args, sizeof args, "analyze --no-db --no-timeline -c 2 -r '%s' "
                 "'tcp[13] & 2 != 0'", f);
        cr_expect_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(summary_packets(out), 2, "%s", out);
        free(out); free(err);
    }
    char *out, *err;
    cr_expect_eq(run("analyze --no-db -c 0 x.pcap", &out, &err), 2);
    cr_expect(strstr(err, "-c must be"), "%s", err);
    free(out); free(err);
}

/* Lines of s that start with an incident's human header ("Connection
 * refused #3 (refused) in ..."): a capital, then " #" and a number. */
static size_t count_headers(const char *s)
{
    size_t n = 0;
    for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *eol = strchr(l, '\n'), *h = strstr(l, " #");
        if (l[0] >= 'A' && l[0] <= 'Z' && h && (!eol || h < eol) && h[2] >= '0' && h[2] <= '9' &&
            strncmp(l, "Repeated", 8) != 0 && strncmp(l, "Incidents,", 10) != 0)
            n++;
    }
    return n;
}

/* Identical incidents (same kind, server, verdict, request method and
 * target) are counted together: by default the first 3 of a group are
 * printed in full and the rest listed before the summary; --summary
 * prints only the groups (JSON: {"type":"group"} lines whose counts add
 * up to every incident, each key once); --all prints every incident.
 * Refused connections (curl, Node.js, Python, Go clients), client aborts,
 * server timeouts and Node.js keep-alive races. */
Test(cli, identical_incidents_are_grouped)
{
    const char *names[] = { "refused-v4.pcap", "refused-v6.pcap", "client-abort.pcap",
                            "server-timeout-node.pcap", "truncated-response.pcap",
                            "closed-before-response.pcap", "race-node-ipv4.pcap" };
    bool folded_somewhere = false;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char args[9000], *out, *err, f[4200];
        snprintf(f, sizeof f, "%s", tu_sample(names[k]));
        snprintf(args, sizeof args, "analyze --no-db --json --all '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        size_t total = count_lines(out, "{\"type\":\"incident\"");
        free(out); free(err);
        cr_assert(total > 0, "%s", f);

        snprintf(args, sizeof args, "analyze --no-db --json --summary '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_lines(out, "{\"type\":\"incident\""), 0, "%s", out);
        size_t sum = 0, shown = 0, ngroups = 0;
        char keys[64][600];
        for (const char *g = out; (g = strstr(g, "{\"type\":\"group\"")) != NULL; g++) {
            const char *c = strstr(g, ",\"count\":");
            cr_assert(c);
            size_t count = strtoul(c + 9, NULL, 10);
            cr_expect_geq(count, 1);
            sum += count;
            shown += count < 3 ? count : 3;
            size_t klen = (size_t)(c - g) < sizeof keys[0] - 1 ? (size_t)(c - g) : sizeof keys[0] - 1;
            cr_assert_lt(ngroups, 64);
            memcpy(keys[ngroups], g, klen);
            keys[ngroups][klen] = '\0';
            for (size_t j = 0; j < ngroups; j++)
                cr_expect_str_neq(keys[j], keys[ngroups], "%s: a group twice", f);
            ngroups++;
        }
        free(out); free(err);
        cr_expect_eq(sum, total, "%s: groups count %zu of %zu incidents", f, sum, total);

        snprintf(args, sizeof args, "analyze --no-db --no-timeline '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_headers(out), shown, "%s: %zu printed in full: %s", f, shown, out);
        cr_expect_eq(strstr(out, "Repeated incidents (") != NULL, shown < total, "%s", out);
        folded_somewhere |= shown < total;
        free(out); free(err);

        snprintf(args, sizeof args, "analyze --no-db --no-timeline --all '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_headers(out), total, "%s: --all: %s", f, out);
        cr_expect_null(strstr(out, "Repeated incidents"), "%s", out);
        free(out); free(err);

        snprintf(args, sizeof args, "analyze --no-db --no-timeline --summary '%s'", f);
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        cr_expect_eq(count_headers(out), 0, "%s: --summary: %s", f, out);
        cr_expect(strstr(out, "Incidents, identical ones together ("), "%s", out);
        free(out); free(err);
    }
    cr_expect(folded_somewhere, "no sample has more than 3 identical incidents");
}

/* The advice never asks to raise the server's timeout above something it
 * already exceeds, accounts for the RTT, and rounds its seconds. */
Test(cli, advice_thresholds_account_for_the_rtt)
{
    static const char *const caps[] = { "crossed-client.pcap", "crossed-server.pcap",
                                        "retry.pcap", "race-node-ipv4.pcap", "race-python.pcap" };
    int risky = 0;
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        char args[4400], *out, *err;
        snprintf(args, sizeof args, "analyze --no-db --json '%s'", tu_sample(caps[k]));
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        for (char *l = strstr(out, "{\"type\":\"server\""); l;
             l = strstr(l + 1, "{\"type\":\"server\"")) {
            char *nl = strchr(l, '\n');
            if (nl)
                *nl = '\0';
            const char *to = strstr(l, "\"idle_timeout_ms\":"), *ab = strstr(l, "timeout above ");
            double timeout_ms = 0, above_s = 0;
            if (strstr(l, "\"race_risk\":true") && to && ab &&
                sscanf(to, "\"idle_timeout_ms\":%lf", &timeout_ms) == 1 &&
                sscanf(ab, "timeout above %lf s", &above_s) == 1) {
                risky++;
                cr_expect_gt(above_s * 1000, timeout_ms + 1,
                             "%s: asks to raise the timeout above what it is: %s", caps[k], l);
            }
            if (nl)
                *nl = '\n';
        }
        if (strcmp(caps[k], "crossed-client.pcap") == 0)
            cr_expect(strstr(out, "up to 0.287 s idle"), "286.993 ms rounds to 0.287 s: %s", out);
        free(out); free(err);
    }
    cr_expect_geq(risky, 4, "the samples' racing servers all checked");
}

/* Output that cannot be written is an error for every command. */
Test(cli, every_command_reports_output_it_could_not_write)
{
    char *db = strdup(tu_tmp(".db"));
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, tu_sample("retry.pcap"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    char cmds[4][2048];
    snprintf(cmds[0], sizeof cmds[0], "analyze --no-db '%s'", tu_sample("retry.pcap"));
    snprintf(cmds[1], sizeof cmds[1], "query --db '%s' 'SELECT 1'", db);
    snprintf(cmds[2], sizeof cmds[2], "report --db '%s'", db);
    snprintf(cmds[3], sizeof cmds[3], "show --db '%s' 1", db);
    for (size_t i = 0; i < 4; i++) {
        const char *c = cmds[i];
        char full[4400];
        snprintf(full, sizeof full, "'%s' %s > /dev/full", HANGUP_BIN, c);
        cr_expect_eq(tu_sh(full, &out, &err), 1, "%s", c);
        cr_expect(strstr(err, "hangup: error writing output"), "%s: %s", c, err);
        free(out); free(err);
    }
    snprintf(args, sizeof args, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    system(args);
    free(db);
}

Test(cli, missing_and_garbage_files_do_not_stop_the_others)
{
    const char *race = strdup(tu_tmp(".pcap"));
    tu_write_race(race, "POST /x HTTP/1.1\r\n\r\n");
    const char *junk = strdup(tu_tmp(".pcap"));
    FILE *fp = fopen(junk, "wb");
    for (int i = 0; i < 1000; i++)
        fputc((i * 7919) & 0xff, fp);
    fclose(fp);
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --json /nonexistent/cap.pcap '%s' '%s'", junk, race);
    cr_expect_eq(run(args, &out, &err), 1);
    cr_expect_eq(count_lines(out, INC), 1, "the good file's race is still reported");
    cr_expect(strstr(err, "/nonexistent/cap.pcap: "), "%s", err);
    cr_expect(strstr(err, junk), "%s", err);
    cr_expect_eq(count_lines(err, "hangup: "), 2, "one line per bad file:\n%s", err);
    free(out); free(err);
    unlink(race); unlink(junk);
    free((void *)race); free((void *)junk);
}

Test(cli, unsupported_link_type_is_named)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_pcap *w = tu_pcap_open(path, 105, 65535);   /* IEEE 802.11 */
    uint8_t junk[64] = {0};
    tu_pcap_add(w, 1000000, junk, sizeof junk, sizeof junk);
    tu_pcap_close(w);
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db '%s'", path);
    cr_expect_eq(run(args, &out, &err), 1);
    cr_expect(strstr(err, path) && strstr(err, "IEEE802_11") && strstr(err, "not supported"),
              "%s", err);
    free(out); free(err);
    unlink(path);
    free((void *)path);
}

Test(cli, truncated_at_every_offset_keeps_what_was_read)
{
    const char *full = strdup(tu_tmp(".pcap"));
    tu_write_race(full, "PUT /t HTTP/1.1\r\n\r\n");
    size_t len;
    char *bytes = tu_slurp(full, &len);
    const char *cut = strdup(tu_tmp(".pcap"));
    int with_race = 0;
    for (size_t n = 0; n <= len; n = n + 7 < len || n == len ? n + 7 : len) {
        FILE *fp = fopen(cut, "wb");
        fwrite(bytes, 1, n, fp);
        fclose(fp);
        char args[1024], *out, *err;
        snprintf(args, sizeof args, "analyze --no-db --json '%s'", cut);
        int rc = run(args, &out, &err);
        cr_expect(rc == 0 || rc == 1, "cut at %zu: exit %d", n, rc);
        if (rc == 1)
            cr_expect(strstr(err, cut), "cut at %zu: message names the file: %s", n, err);
        with_race += count_lines(out, INC) == 1;
        free(out); free(err);
    }
    /* The race is complete only once the final RST record is whole. */
    cr_expect_eq(with_race, 1, "only cuts after the last record keep the RST");
    free(bytes);
    unlink(full); unlink(cut);
    free((void *)full); free((void *)cut);
}

Test(cli, absurd_record_length_is_reported_with_packet_number)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_write_race(path, "GET /a HTTP/1.1\r\n\r\n");
    FILE *fp = fopen(path, "ab");
    uint32_t rec[4] = { 1763740900, 0, 0xfffffff0u, 0xfffffff0u };
    fwrite(rec, sizeof rec, 1, fp);
    fwrite("junk", 1, 4, fp);
    fclose(fp);
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", path);
    cr_expect_eq(run(args, &out, &err), 1);
    cr_expect_eq(count_lines(out, INC), 1, "the race before the bad record is kept");
    cr_expect(strstr(err, "packet 11"), "%s", err);
    free(out); free(err);
    unlink(path);
    free((void *)path);
}

/* A capture on standard input is read from where standard input stands,
 * even when that is a file read partly by someone else (capture.c reads
 * classic pcap files itself, by offset, only from their start). */
Test(cli, standard_input_is_read_from_where_it_stands)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_write_race(path, "GET /a HTTP/1.1\r\n\r\n");
    /* Another capture first, which standard input is positioned past. */
    const char *other = tu_sample("crossed-client.pcap"), *padded = strdup(tu_tmp(".pcap"));
    size_t skip;
    free(tu_slurp(other, &skip));
    char cmd[4096], *want, *out, *err;
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", other, path, padded);
    cr_assert_eq(tu_sh(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json - < '%s'", HANGUP_BIN, path);
    cr_assert_eq(tu_sh(cmd, &want, NULL), 0);
    cr_assert_eq(count_lines(want, INC), 1, "%s", want);
    snprintf(cmd, sizeof cmd,
             "(dd bs=%zu count=1 of=/dev/null 2>/dev/null; '%s' analyze --no-db --json -) < '%s'",
             skip, HANGUP_BIN, padded);
    cr_expect_eq(tu_sh(cmd, &out, &err), 0, "%s", err);
    cr_expect_str_eq(out, want);
    free(want); free(out); free(err);
    unlink(path); unlink(padded);
    free((void *)path); free((void *)padded);
}

Test(cli, snaplen_cut_packets_still_give_the_race)
{
    /* Re-write the race with every packet cut to 44 bytes: TCP headers
     * intact, request lines gone. */
    const char *full = strdup(tu_tmp(".pcap")), *cut = strdup(tu_tmp(".pcap"));
    tu_write_race(full, "POST /cut HTTP/1.1\r\n\r\n");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "tcpdump -r '%s' -s 44 -w '%s' 2>/dev/null || "
                              "editcap -s 44 '%s' '%s'", full, cut, full, cut);
    /* tcpdump cannot re-snap on read; do it by hand instead. */
    size_t len;
    char *b = tu_slurp(full, &len);
    FILE *fp = fopen(cut, "wb");
    fwrite(b, 1, 24, fp);
    for (size_t off = 24; off + 16 <= len;) {
        uint32_t rec[4];
        memcpy(rec, b + off, 16);
        uint32_t keep = rec[2] < 44 ? rec[2] : 44;
        uint32_t orig = rec[2];
        rec[2] = keep;
        fwrite(rec, 16, 1, fp);
        fwrite(b + off + 16, 1, keep, fp);
        off += 16 + orig;
    }
    fclose(fp);
    free(b);
    (void)cmd;
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", cut);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_eq(count_lines(out, INC), 1);
    cr_expect(strstr(out, "\"method\":null"), "%s", out);
    free(out); free(err);
    /* Cut inside the TCP header: a clear line naming packet 1. */
    b = tu_slurp(full, &len);
    fp = fopen(cut, "wb");
    fwrite(b, 1, 24, fp);
    for (size_t off = 24; off + 16 <= len;) {
        uint32_t rec[4];
        memcpy(rec, b + off, 16);
        uint32_t orig = rec[2];
        rec[2] = 30;
        fwrite(rec, 16, 1, fp);
        fwrite(b + off + 16, 1, 30, fp);
        off += 16 + orig;
    }
    fclose(fp);
    free(b);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect(strstr(err, "packet 1: TCP header cut short"), "%s", err);
    cr_expect(strstr(err, "10 packets could not be decoded"), "%s", err);
    free(out); free(err);
    unlink(full); unlink(cut);
    free((void *)full); free((void *)cut);
}

Test(cli, bad_filter_is_a_usage_error_and_filters_keep_file_numbering)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_write_race(path, "GET /f HTTP/1.1\r\n\r\n");
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db -f 'tcp port' '%s'", path);
    cr_expect_eq(run(args, &out, &err), 2);
    cr_expect(strstr(err, "'tcp port'"), "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --json -f 'port 9' '%s'", path);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_eq(count_lines(out, INC), 0);
    free(out); free(err);
    /* A filter that drops the handshake: packet numbers stay file positions. */
    snprintf(args, sizeof args, "analyze --no-db --json -f 'tcp[13] & 2 == 0' '%s'", path);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect(strstr(out, "\"fin_packet\":7,\"request_packet\":9,\"rst_packet\":10"), "%s", out);
    free(out); free(err);
    unlink(path);
    free((void *)path);
}

Test(cli, hostile_request_bytes_never_reach_the_terminal_raw)
{
    const char *path = strdup(tu_tmp(".pcap"));
    tu_write_race(path, "GET /\x1b[2J\x1b]0;pwned\x07\xff\xfe HTTP/1.1\r\n\r\n");
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db '%s'", path);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect(strstr(out, "Keep-alive race #1"));
    cr_expect_null(strchr(out, 0x1b), "no ESC byte in human output");
    cr_expect_null(strchr(out, 0x07));
    cr_expect(strstr(out, "\\x1b[2J"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", path);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_null(strchr(out, 0x1b));
    cr_expect(strstr(out, "\"target\":\"/\\u001b[2J\\u001b]0;pwned\\u0007\\ufffd\\ufffd\""), "%s",
              out);
    free(out); free(err);
    unlink(path);
    free((void *)path);
}

Test(cli, json_mode_prints_only_json_on_stdout)
{
    const char *a = strdup(tu_tmp(".pcap"));
    tu_write_race(a, "DELETE /j HTTP/1.1\r\n\r\n");
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db --json '%s' '%s' /nonexistent.pcap", a, a);
    cr_expect_eq(run(args, &out, &err), 1);
    size_t lines = count_lines(out, "");
    cr_expect_eq(count_lines(out, INC), 2);
    cr_expect_eq(count_lines(out, "{\"type\":\"server\",\"server\":\"127.0.0.2:3000\""), 1);
    cr_expect_eq(lines, 3, "nothing but the two incidents and the server:\n%s", out);
    cr_expect_eq(count_lines(out, "{\"type\":"), lines);
    cr_expect(strstr(out, "\"reassembly\":\"libnids\",\"cause\":null,\"downstream\":null,"
                          "\"downstream_candidates\":0}\n"), "%s", out);
    free(out); free(err);
    unlink(a);
    free((void *)a);
}

Test(cli, write_option_saves_each_incident_connection)
{
    const char *w = strdup(tu_tmp(".pcap"));
    char args[4400], *out, *err;
    char sample[4200];
    snprintf(sample, sizeof sample, "%s", tu_sample("race-any.pcap"));
    snprintf(args, sizeof args, "analyze --no-db -w '%s' '%s'", w, sample);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    /* Same link type as the input (LINUX_SLL2), both incidents' connections,
     * only those, timestamps kept: compare with tcpdump on the original. */
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' 2>&1 >/dev/null | grep -c LINUX_SLL2", w);
    char *o = NULL;
    tu_sh(cmd, &o, NULL);
    cr_expect(o && atoi(o) == 1, "link type kept");
    free(o);
    snprintf(cmd, sizeof cmd, "TZ=UTC tcpdump -n -r '%s' 2>/dev/null", w);
    tu_sh(cmd, &o, NULL);
    size_t ng;
    char **golden = tu_golden_lines(sample, &ng);
    cr_assert_not_null(golden);
    size_t lines = 0;
    for (char *l = strtok(o, "\n"); l; l = strtok(NULL, "\n"), lines++) {
        bool found = false;
        for (size_t i = 0; i < ng && !found; i++)
            found = strcmp(golden[i], l) == 0;
        cr_expect(found, "written packet not in the original: %s", l);
    }
    cr_expect_geq(lines, 16, "two connections' packets written");
    tu_lines_free(golden, ng);
    free(o);
    unlink(w);
    free((void *)w);
}

/* Hostile Host and SNI values through every output: human, JSON, the
 * database and query/show. */
Test(cli, hostile_host_and_sni_through_every_output)
{
    static const char evil[] = "\x1b[31mred\x07\x1b]0;title\x07\xc3\x28";
    char req[256];
    snprintf(req, sizeof req, "POST /e HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", evil);
    char *p1 = strdup(tu_tmp(".pcap"));
    tu_write_race(p1, req);
    /* A TLS connection whose ClientHello names an evil server. */
    char *p2 = strdup(tu_tmp(".pcap"));
    tu_cv c = { .cli = "10.0.0.10", .srv = "10.0.0.20", .cport = 41000, .sport = 443,
                .cseq = 1000, .sseq = 70000, .t = 1763740800000000LL };
    c.w = tu_pcap_open(p2, 101, 65535);
    tu_cv_handshake(&c);
    char hello[512];
    size_t sl = strlen(evil), n = 0;
    uint8_t body[400];
    body[n++] = 3; body[n++] = 3;
    memset(body + n, 1, 32); n += 32;
    body[n++] = 0;                                   /* session id */
    body[n++] = 0; body[n++] = 2; body[n++] = 0x13; body[n++] = 0x01;
    body[n++] = 1; body[n++] = 0;
    body[n++] = 0; body[n++] = (uint8_t)(sl + 9);    /* extensions */
    body[n++] = 0; body[n++] = 0; body[n++] = 0; body[n++] = (uint8_t)(sl + 5);
    body[n++] = 0; body[n++] = (uint8_t)(sl + 3); body[n++] = 0;
    body[n++] = 0; body[n++] = (uint8_t)sl;
    memcpy(body + n, evil, sl); n += sl;
    size_t hl = 0;
    hello[hl++] = 0x16; hello[hl++] = 3; hello[hl++] = 1;
    hello[hl++] = 0; hello[hl++] = (char)(n + 4);
    hello[hl++] = 1; hello[hl++] = 0; hello[hl++] = 0; hello[hl++] = (char)n;
    memcpy(hello + hl, body, n); hl += n;
    tu_cv_emit(&c, true, HU_TH_PUSH | HU_TH_ACK, c.cseq, c.sseq, hello, hl);
    c.cseq += (uint32_t)hl;
    tu_cv_emit(&c, false, HU_TH_PUSH | HU_TH_ACK, c.sseq, c.cseq, "\x16\x03\x03\x00\x01\x02", 6);
    c.sseq += 6;
    tu_cv_ack(&c, true);
    c.t += 5000000;
    tu_cv_emit(&c, false, HU_TH_FIN | HU_TH_ACK, c.sseq, c.cseq, NULL, 0);
    c.sseq++;
    tu_cv_ack(&c, true);
    static const char rec[] = "\x17\x03\x03\x00\x30" "0123456789abcdef0123456789abcdef0123456789abcdef";
    tu_cv_emit(&c, true, HU_TH_PUSH | HU_TH_ACK, c.cseq, c.sseq, rec, 53);
    tu_cv_emit(&c, false, HU_TH_RST, c.sseq, 0, NULL, 0);
    tu_pcap_close(c.w);

    char *db = strdup(tu_tmp(".db"));
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "analyze --db '%s' '%s' '%s'", db, p1, p2);
    cr_expect_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_null(strchr(out, 0x1b), "raw ESC in human output");
    cr_expect_null(strchr(out, 0x07), "raw BEL in human output");
    cr_expect(strstr(out, "TLS server name \\x1b[31mred"), "%s", out);
    cr_expect(strstr(out, "(Host: \\x1b[31mred"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --json '%s' '%s'", p1, p2);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_null(strchr(out, 0x1b));
    cr_expect(strstr(out, "\"host\":\"\\u001b[31mred\\u0007\\u001b]0;title\\u0007\\ufffd(\""),
              "%s", out);
    cr_expect(strstr(out, "\"sni\":\"\\u001b[31mred"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' \"SELECT host, sni FROM incidents\"", db);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_null(strchr(out, 0x1b), "raw ESC in query output: %s", out);
    cr_expect(strstr(out, "\\x1b[31mred"), "%s", out);
    free(out); free(err);
    /* CSV is data for programs (RFC 4180, as sqlite3 -csv): the bytes as
     * they came off the wire, not escaped for a terminal. */
    snprintf(args, sizeof args, "query --db '%s' --csv \"SELECT host FROM incidents WHERE "
                                "host IS NOT NULL\"", db);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect(strstr(out, evil), "the host changed in CSV: %s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "show --db '%s' 2", db);
    cr_expect_eq(run(args, &out, &err), 0);
    cr_expect_null(strchr(out, 0x1b), "raw ESC in show output");
    free(out); free(err);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm' '%s' '%s'", db, db, db, p1, p2);
    system(cmd);
    free(db);
    free(p1);
    free(p2);
}

/* ---- the command-line layer itself (cli.c), in process ---- */

Test(cli, check_nids_reports_its_counts_and_changes_nothing_else)
{
    /* The developer's check of reasm.c's shortcut (test_reasm.c judges
     * it): one line of counts on stderr, the same output and status. */
    char args[4200], *out, *err, *out_chk, *err_chk;
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", tu_sample("http-pipeline.pcap"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "HANGUP_CHECK_NIDS=1 '%s' %s", HANGUP_BIN, args);
    cr_assert_eq(tu_sh(cmd, &out_chk, &err_chk), 0, "%s", err_chk);
    cr_expect_str_eq(out_chk, out);
    cr_expect_null(strstr(err, "HANGUP_CHECK_NIDS"), "%s", err);
    const char *m = strstr(err_chk, "http-pipeline.pcap: HANGUP_CHECK_NIDS: ");
    cr_assert_not_null(m, "%s", err_chk);
    unsigned acks, segs, data;
    cr_expect_eq(sscanf(strchr(m, ' ') + 1,
                        "HANGUP_CHECK_NIDS: %u bare ACKs, %u body segments and %u delivered",
                        &acks, &segs, &data), 3, "%s", m);
    cr_expect_gt(acks + data, 0, "%s", m);
    free(out); free(err); free(out_chk); free(err_chk);
}

Test(cli, parse_number_takes_whole_numbers_in_range_only, .init = cr_redirect_stderr)
{
    long long v = 42;
    cr_expect(hu_cli_parse_number("1", "-x", 1, 10, &v));
    cr_expect_eq(v, 1);
    cr_expect(hu_cli_parse_number("10", "-x", 1, 10, &v));
    cr_expect_eq(v, 10);
    cr_expect(hu_cli_parse_number("-3", "-x", -5, 10, &v));
    cr_expect_eq(v, -3);
    cr_expect(hu_cli_parse_number("9223372036854775807", "-x", 1, INT64_MAX, &v));
    cr_expect_eq(v, INT64_MAX);
    v = 42;
    const char *bad[] = { "0", "11", "", "5x", "x5", "1.5", " 5 ", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_not(hu_cli_parse_number(bad[i], "-x", 1, 10, &v), "'%s' taken", bad[i]);
        cr_expect_eq(v, 42, "'%s' changed the value", bad[i]);
    }
}

Test(cli, parse_number_and_kinds_say_what_is_wrong, .init = cr_redirect_stderr)
{
    long long v;
    unsigned m = 0;
    cr_assert_not(hu_cli_parse_number("0", "--max-connections", 1, 100000000, &v));
    cr_assert_not(hu_cli_parse_kinds("refused,nope", &m));
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "hangup: --max-connections must be a whole number from 1 to 100000000, not '0'\n"
        "hangup: unknown incident kind 'nope'; the kinds are: keepalive-race server-timeout "
        "reset-before-response client-abort refused connect-timeout truncated-response "
        "closed-before-response gateway-error\n");
}

Test(cli, parse_kinds_adds_each_named_kind_to_the_mask, .init = cr_redirect_stderr)
{
    for (int i = 0; i < HU_KIND_COUNT; i++) {
        unsigned m = 0;
        cr_expect(hu_cli_parse_kinds(hu_kind_name((hu_kind)i), &m), "%s", hu_kind_name((hu_kind)i));
        cr_expect_eq(m, 1u << i);
    }
    unsigned m = 1u << HU_KIND_COUNT;   /* bits already there stay */
    cr_expect(hu_cli_parse_kinds("refused,server-timeout,refused", &m));
    cr_expect_eq(m, (1u << HU_KIND_COUNT) | (1u << hu_kind_parse("refused")) |
                        (1u << hu_kind_parse("server-timeout")));
    /* An empty item is a mistake (a stray comma), not nothing. */
    static const char *const empty[] = { "refused,", ",refused", "refused,,server-timeout", "" };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        m = 0;
        cr_expect_not(hu_cli_parse_kinds(empty[i], &m), "'%s' accepted", empty[i]);
        cr_expect_eq(m, 0u, "'%s' changed the mask", empty[i]);
    }
}

/* The shared options' long entries, as analyze's and live's tables splice
 * them in. */
static const struct option shared_longopts[] = { HU_CLI_LONGOPTS, { NULL, 0, NULL, 0 } };

/* A valid value for a shared option that takes one. */
static const char *shared_value(const char *name)
{
    return strcmp(name, "kind") == 0 ? "refused" : "7";
}

static bool opts_equal(const hu_analyze_opts *a, const hu_analyze_opts *b)
{
    return a->filter == b->filter && a->json == b->json && a->timeline == b->timeline &&
           a->max_flows == b->max_flows && a->idle_us == b->idle_us &&
           a->closed_us == b->closed_us && a->db_path == b->db_path &&
           a->write_path == b->write_path && a->kinds == b->kinds && a->live == b->live &&
           a->group == b->group && a->max_packets == b->max_packets &&
           a->n_tls_keylog == b->n_tls_keylog && a->sensor == b->sensor &&
           memcmp(a->tls_keylog, b->tls_keylog, sizeof a->tls_keylog) == 0;
}

Test(cli, command_defaults_are_the_pipelines_plus_the_default_database)
{
    hu_analyze_opts o, p;
    hu_cli_opts_default(&o);
    hu_analyze_opts_default(&p);
    cr_expect_str_eq(o.db_path, HU_CLI_DEFAULT_DB);
    cr_expect_str_eq(HU_CLI_DEFAULT_DB, "hangup.db");
    p.db_path = o.db_path;
    cr_expect(opts_equal(&o, &p));
}

Test(cli, each_shared_option_sets_what_it_says)
{
    hu_analyze_opts def, o;
    hu_cli_opts_default(&def);
    for (const struct option *lo = shared_longopts; lo->name; lo++) {
        o = def;
        const char *arg = lo->has_arg ? shared_value(lo->name) : NULL;
        cr_expect_eq(hu_cli_common_option(lo->val, arg, &o), HU_CLI_HANDLED, "--%s", lo->name);
        cr_expect_not(opts_equal(&o, &def), "--%s changed nothing", lo->name);
    }
    for (const char *c = HU_CLI_SHORTOPTS; *c; c++) {
        if (*c == ':')
            continue;
        o = def;
        cr_expect_eq(hu_cli_common_option(*c, "x", &o), HU_CLI_HANDLED, "-%c", *c);
        cr_expect_not(opts_equal(&o, &def), "-%c changed nothing", *c);
    }

    const char *filt = "tcp port 80", *w = "out.pcap", *db = "x.db";
    o = def;
    cr_expect_eq(hu_cli_common_option('f', filt, &o), HU_CLI_HANDLED);
    cr_expect_eq(o.filter, filt);
    cr_expect_eq(hu_cli_common_option('w', w, &o), HU_CLI_HANDLED);
    cr_expect_eq(o.write_path, w);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_JSON, NULL, &o), HU_CLI_HANDLED);
    cr_expect(o.json);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_NO_TIMELINE, NULL, &o), HU_CLI_HANDLED);
    cr_expect_not(o.timeline);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_DB, db, &o), HU_CLI_HANDLED);
    cr_expect_eq(o.db_path, db);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_NO_DB, NULL, &o), HU_CLI_HANDLED);
    cr_expect_null(o.db_path);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_KIND, "refused", &o), HU_CLI_HANDLED);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_KIND, "client-abort", &o), HU_CLI_HANDLED);
    cr_expect_eq(o.kinds, (1u << hu_kind_parse("refused")) | (1u << hu_kind_parse("client-abort")));
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_MAX_CONNECTIONS, "100", &o), HU_CLI_HANDLED);
    cr_expect_eq(o.max_flows, 100);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_IDLE_TIMEOUT, "30", &o), HU_CLI_HANDLED);
    cr_expect_eq(o.idle_us, 30LL * 1000000);
    /* --tls-keylog is repeatable, up to HU_TLS_KEYLOGS_MAX */
    const char *k1 = "a.keys", *k2 = "b.keys";
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_TLS_KEYLOG, k1, &o), HU_CLI_HANDLED);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_TLS_KEYLOG, k2, &o), HU_CLI_HANDLED);
    cr_expect_eq(o.n_tls_keylog, 2);
    cr_expect_eq(o.tls_keylog[0], k1);
    cr_expect_eq(o.tls_keylog[1], k2);
}

Test(cli, shared_option_bad_values_and_other_options, .init = cr_redirect_stderr)
{
    hu_analyze_opts def, o;
    hu_cli_opts_default(&def);
    o = def;
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_KIND, "nope", &o), HU_CLI_BAD_VALUE);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_MAX_CONNECTIONS, "0", &o), HU_CLI_BAD_VALUE);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_MAX_CONNECTIONS, "100000001", &o),
                 HU_CLI_BAD_VALUE);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_IDLE_TIMEOUT, "0", &o), HU_CLI_BAD_VALUE);
    cr_expect_eq(hu_cli_common_option(HU_CLI_OPT_IDLE_TIMEOUT, "31536001", &o),
                 HU_CLI_BAD_VALUE);
    /* a command's own options, help and getopt's '?' are not shared */
    const int others[] = { 'h', '?', 'i', 'c', 'Z', HU_CLI_OPT_OWN, 0 };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_expect_eq(hu_cli_common_option(others[i], "1", &o), HU_CLI_NOT_SHARED, "%d",
                     others[i]);
    cr_expect(opts_equal(&o, &def), "a refused or foreign option changed the options");
}

/* Run `hangup CMD OPTION [VALUE] --help`: a command that lost the shared
 * option fails (getopt, or its own switch) before it reaches --help. */
static int run_with_help(const char *cmd, const char *opt, const char *value, char **out,
                         char **err)
{
    char args[512];
    snprintf(args, sizeof args, "%s %s%s%s%s --help", cmd, opt, value ? " '" : "",
             value ? value : "", value ? "'" : "");
    return run(args, out, err);
}

Test(cli, analyze_and_live_accept_every_shared_option_alike)
{
    const char *cmds[] = { "analyze", "live" };
    for (size_t k = 0; k < 2; k++) {
        char help[64], *want, *werr;
        snprintf(help, sizeof help, "help %s", cmds[k]);
        cr_assert_eq(run(help, &want, &werr), 0);
        free(werr);
        for (const struct option *lo = shared_longopts; lo->name; lo++) {
            char opt[64], *out, *err;
            snprintf(opt, sizeof opt, "--%s", lo->name);
            int rc = run_with_help(cmds[k], opt, lo->has_arg ? shared_value(lo->name) : NULL,
                                   &out, &err);
            cr_expect_eq(rc, 0, "%s does not take %s: %s", cmds[k], opt, err);
            cr_expect_str_eq(out, want, "%s %s --help", cmds[k], opt);
            free(out); free(err);
        }
        for (const char *c = HU_CLI_SHORTOPTS; *c; c++) {
            if (*c == ':')
                continue;
            char opt[8], *out, *err;
            snprintf(opt, sizeof opt, "-%c", *c);
            int rc = run_with_help(cmds[k], opt, c[1] == ':' ? "x" : NULL, &out, &err);
            cr_expect_eq(rc, 0, "%s does not take %s: %s", cmds[k], opt, err);
            cr_expect_str_eq(out, want, "%s %s --help", cmds[k], opt);
            free(out); free(err);
        }
        free(want);
    }
    /* bad values: the same line and status from both */
    const char *bad[][2] = { { "--kind", "nope" }, { "--max-connections", "0" },
                             { "--idle-timeout", "31536001" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *aout, *aerr, *lout, *lerr;
        int arc = run_with_help("analyze", bad[i][0], bad[i][1], &aout, &aerr);
        int lrc = run_with_help("live", bad[i][0], bad[i][1], &lout, &lerr);
        cr_expect_eq(arc, 2, "analyze %s %s", bad[i][0], bad[i][1]);
        cr_expect_eq(lrc, 2, "live %s %s", bad[i][0], bad[i][1]);
        cr_expect_str_eq(aerr, lerr, "%s %s", bad[i][0], bad[i][1]);
        cr_expect(strncmp(aerr, "hangup: ", 8) == 0, "%s", aerr);
        cr_expect_str_empty(aout);
        cr_expect_str_empty(lout);
        free(aout); free(aerr); free(lout); free(lerr);
    }
}

/* --version: hangup's own version first (scripts read that line), then
 * the libraries it runs with, as they report themselves now -- libpcap's,
 * SQLite's, libpq's, libmicrohttpd's and the decompressors' at run time --
 * and libnids' as built (it
 * has no run-time version). */
Test(cli, version_names_the_libraries_it_runs_with)
{
    char *out, *err;
    cr_assert_eq(run("--version", &out, &err), 0, "%s", err);
    char want[1024];
    snprintf(want, sizeof want,
             "hangup %s\n%s\nlibnids version %d.%d (as built: libnids reports no version at run "
             "time)\nSQLite version %s\nlibpq version %d.%d\nlibmicrohttpd version %s\n"
             "decompression: zlib %s, zstd %s, xz %s\n",
             HANGUP_VERSION, pcap_lib_version(), NIDS_MAJOR, NIDS_MINOR, sqlite3_libversion(),
             PQlibVersion() / 10000, PQlibVersion() % 10000, MHD_get_version(), zlibVersion(),
             ZSTD_versionString(), lzma_version_string());
    cr_expect_str_eq(out, want);
    cr_expect(strncmp(pcap_lib_version(), "libpcap", 7) == 0, "%s", pcap_lib_version());
    cr_expect_str_empty(err);
    char *vout, *verr;
    cr_expect_eq(run("version", &vout, &verr), 0);
    cr_expect_str_eq(vout, out, "'hangup version' is 'hangup --version'");
    free(out); free(err); free(vout); free(verr);
}

/* libpq and libmicrohttpd are opened on first use (libload.h): an
 * analysis into SQLite never maps them nor what they pull in (their
 * resident memory is what the 128 MiB bound at 50,000 open connections
 * cannot spare), while --db postgresql://... and --version do.  The
 * dynamic linker's own trace (LD_DEBUG=files) says what was opened. */
Test(cli, postgresql_and_metrics_libraries_load_only_when_used)
{
    static const char *const heavy[] = { "libpq.so", "libmicrohttpd.so", "libgnutls.so",
                                         "libldap", "libgssapi_krb5.so", "libp11-kit.so" };
    char dir[] = "/tmp/hu-libload-XXXXXX", cmd[2048];
    cr_assert_not_null(mkdtemp(dir));
    char *out, *err;
    snprintf(cmd, sizeof cmd, "LD_DEBUG=files '%s' analyze --db %s/x.db '%s'", HANGUP_BIN, dir,
             tu_sample("race-node-ipv4.pcap"));
    cr_assert_eq(tu_sh(cmd, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "file=libpcap.so"), "LD_DEBUG traces what is opened:\n%s", err);
    for (size_t i = 0; i < sizeof heavy / sizeof *heavy; i++)
        cr_expect_null(strstr(err, heavy[i]), "an analysis into SQLite opened %s", heavy[i]);
    free(out); free(err);
    /* Port 1 on loopback: nothing listens, the connection is refused. */
    snprintf(cmd, sizeof cmd,
             "LD_DEBUG=files '%s' analyze --db 'postgresql://u@127.0.0.1:1/d?connect_timeout=2' "
             "'%s'", HANGUP_BIN, tu_sample("race-node-ipv4.pcap"));
    cr_expect_eq(tu_sh(cmd, &out, &err), 4, "%s", err);
    cr_expect(strstr(err, "file=libpq.so"), "--db postgresql:// opens libpq:\n%s", err);
    cr_expect_null(strstr(err, "file=libmicrohttpd.so"), "only --metrics opens libmicrohttpd");
    free(out); free(err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

#define MAXOPTS 64

/* The option words (-x, --word) of text s, split at spaces, commas,
 * quotes and brackets, added to opts (n of them) unless already there. */
static void option_words(const char *s, char opts[][48], size_t *n)
{
    char w[48];
    while (*s) {
        size_t k = 0;
        while (*s && strchr(" \t\n,\"[]|", *s))
            s++;
        while (*s && !strchr(" \t\n,\"[]|", *s)) {
            if (k + 1 < sizeof w)
                w[k++] = *s;
            s++;
        }
        w[k] = '\0';
        bool opt = w[0] == '-' && (isalnum((unsigned char)w[1]) ||
                                   (w[1] == '-' && isalnum((unsigned char)w[2])));
        for (size_t i = 2; opt && w[i]; i++)
            opt = isalnum((unsigned char)w[i]) || w[i] == '-';
        for (size_t i = 0; opt && i < *n; i++)
            opt = strcmp(opts[i], w) != 0;
        if (opt && *n < MAXOPTS)
            snprintf(opts[(*n)++], 48, "%s", w);
    }
}

/* The options `hangup help cmd` lists: the words before the description
 * on each line that starts (after its indent) with '-'. */
static size_t help_options(const char *cmd, char opts[][48])
{
    char args[64], *out, *err;
    snprintf(args, sizeof args, "help %s", cmd);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    size_t n = 0;
    for (char *save, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " ");
        if (line[0] != '-')
            continue;
        char *desc = strstr(line, "  ");
        if (desc)
            *desc = '\0';
        option_words(line, opts, &n);
    }
    free(out); free(err);
    return n;
}

/* A file of the source tree, whole (asserted to exist). */
static char *source_file(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", HANGUP_SOURCE_DIR, rel);
    char *s = tu_slurp(path, NULL);
    cr_assert_not_null(s, "cannot read %s", path);
    return s;
}

/* Roff text as read: font changes and the escaped hyphen undone. */
static void unroff(char *s)
{
    char *d = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 'f' && s[2]) {
            s += 2;
        } else if (s[0] == '\\' && s[1] == '-') {
            *d++ = '-';
            s++;
        } else if (s[0] == '\\' && s[1] == '&') {
            s++;
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
}

/* The options hangup(1) documents for cmd: the .TP tags of its .SS
 * section. */
static size_t man_options(const char *cmd, char opts[][48])
{
    char *page = source_file("docs/hangup.1");
    char head[64];
    snprintf(head, sizeof head, "\n.SS %s\n", cmd);
    char *sec = strstr(page, head);
    cr_assert_not_null(sec, "docs/hangup.1 has no '.SS %s' section", cmd);
    sec += strlen(head);
    size_t n = 0;
    bool tag = false;
    for (char *save, *line = strtok_r(sec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, ".SS ", 4) == 0 || strncmp(line, ".SH ", 4) == 0)
            break;
        if (tag) {
            unroff(line);
            option_words(line, opts, &n);
        }
        tag = strncmp(line, ".TP", 3) == 0;
    }
    free(page);
    return n;
}

static bool listed(const char *opt, char opts[][48], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(opts[i], opt) == 0)
            return true;
    return false;
}

static const char *const commands[] = { "analyze", "live", "watch", "query", "report", "show" };

/* The manual page cannot drift from the help: every option a command's
 * help lists is an item of that command's section in hangup(1). */
Test(cli, man_page_documents_every_option_of_the_help)
{
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        char help[MAXOPTS][48], man[MAXOPTS][48];
        size_t nh = help_options(commands[c], help), nm = man_options(commands[c], man);
        cr_assert_geq(nh, 4, "too few options read from 'hangup help %s'", commands[c]);
        for (size_t i = 0; i < nh; i++)
            cr_expect(listed(help[i], man, nm),
                      "'hangup help %s' lists %s, which docs/hangup.1 does not document "
                      "(a .TP item under '.SS %s')", commands[c], help[i], commands[c]);
    }
}

/* ... nor can the bash completion: it offers every option of the help. */
Test(cli, completion_offers_every_option_of_the_help)
{
    char *script = source_file("scripts/hangup.bash-completion");
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        char help[MAXOPTS][48], comp[MAXOPTS][48], var[64];
        size_t nh = help_options(commands[c], help), nc = 0;
        snprintf(var, sizeof var, "opts_%s=\"", commands[c]);
        const char *v = strstr(script, var);
        cr_assert_not_null(v, "scripts/hangup.bash-completion has no %s...\"", var);
        v += strlen(var);
        const char *end = strchr(v, '"');
        cr_assert_not_null(end);
        char words[1024];
        snprintf(words, sizeof words, "%.*s", (int)(end - v), v);
        option_words(words, comp, &nc);
        for (size_t i = 0; i < nh; i++)
            cr_expect(listed(help[i], comp, nc),
                      "'hangup help %s' lists %s, which the bash completion does not offer",
                      commands[c], help[i]);
    }
    free(script);
}

/* Every incident kind is named where a user looks for what --kind takes:
 * 'hangup help analyze', an item of hangup(1)'s "Incident kinds", and the
 * bash completion's kinds. */
Test(cli, every_kind_is_in_the_help_the_man_page_and_the_completion)
{
    char *help, *err;
    cr_assert_eq(run("help analyze", &help, &err), 0, "%s", err);
    char *page = source_file("docs/hangup.1");
    char *sec = strstr(page, "\n.SS \"Incident kinds\"\n");
    cr_assert_not_null(sec, "docs/hangup.1 has no Incident kinds section");
    char *end = strstr(sec + 1, "\n.SH ");
    if (end)
        *end = '\0';
    unroff(sec);
    char *script = source_file("scripts/hangup.bash-completion");
    char *kinds = strstr(script, "_hangup_kinds=\"");
    cr_assert_not_null(kinds);
    kinds += strlen("_hangup_kinds=\"");
    *strchr(kinds, '"') = '\0';
    for (int k = 0; k < HU_KIND_COUNT; k++) {
        const char *name = hu_kind_name((hu_kind)k);
        char item[64], word[64];
        snprintf(item, sizeof item, "\n.B %s\n", name);
        snprintf(word, sizeof word, " %s ", name);
        cr_expect(strstr(help, name), "'hangup help analyze' does not name %s", name);
        cr_expect(strstr(sec, item), "hangup(1)'s Incident kinds has no item %s", name);
        char padded[1024];
        snprintf(padded, sizeof padded, " %s ", kinds);
        for (char *c = padded; *c; c++)
            if (*c == '\n' || *c == '\t')
                *c = ' ';
        cr_expect(strstr(padded, word), "the bash completion does not offer %s", name);
    }
    free(help); free(err); free(page); free(script);
}

/* Every exit code of cli.h's enum is a row of hangup(1)'s one EXIT STATUS
 * table, and every row is one of them. */
Test(cli, man_page_tables_every_exit_code)
{
    char *h = source_file("include/hangup/cli.h");
    bool code[100] = { false }, row[100] = { false };
    int ncodes = 0;
    for (const char *p = h; (p = strstr(p, "HU_CLI_EXIT_")); p++) {
        const char *eq = p + strcspn(p, " =,\n");
        int v;
        if (strncmp(eq, " = ", 3) == 0 && sscanf(eq + 3, "%d", &v) == 1 && v >= 0 && v < 100 &&
            !code[v]) {
            code[v] = true;
            ncodes++;
        }
    }
    free(h);
    cr_assert_geq(ncodes, 6, "too few exit codes read from cli.h");

    char *page = source_file("docs/hangup.1");
    char *sec = strstr(page, "\n.SH EXIT STATUS\n");
    cr_assert_not_null(sec, "docs/hangup.1 has no EXIT STATUS section");
    char *ts = strstr(sec, "\n.TS\n"), *te = ts ? strstr(ts, "\n.TE\n") : NULL;
    char *next = strstr(sec + 1, "\n.SH ");
    cr_assert(ts && te && (!next || te < next), "no table in EXIT STATUS");
    *te = '\0';
    for (char *save, *line = strtok_r(ts, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int v, len;
        if (sscanf(line, "%d;%n", &v, &len) == 1 && line[len - 1] == ';' && v >= 0 && v < 100) {
            cr_expect_not(row[v], "exit status %d has two rows", v);
            row[v] = true;
        }
    }
    free(page);
    for (int v = 0; v < 100; v++) {
        cr_expect(!code[v] || row[v], "exit status %d (cli.h) has no row in hangup(1)", v);
        cr_expect(!row[v] || code[v], "hangup(1) has a row for exit status %d, not in cli.h",
                  v);
    }
}

/* The README's example output is what hangup prints today: the example's
 * command run from the repository's top (into a database of its own, as
 * the first run into hangup.db would), race #2 left out where the README
 * says "[... race #2 ...]". */
Test(cli, readme_example_is_what_hangup_prints)
{
    char path[4200], cmd[9000], *out = NULL;
    snprintf(path, sizeof path, "%s/../README.md", HANGUP_SAMPLES);
    char *readme = tu_slurp(path, NULL);
    cr_assert(readme, "%s", path);
    const char *prompt = "$ TZ=UTC ./build/hangup analyze samples/crossed-client.pcap\n";
    char *start = strstr(readme, prompt);
    cr_assert(start, "the README's example command is gone");
    start += strlen(prompt);
    char *end = strstr(start, "```");
    cr_assert(end);
    *end = '\0';
    char *db = strdup(tu_tmp(".db"));
    unlink(db);
    snprintf(cmd, sizeof cmd, "cd '%s/..' && TZ=UTC '%s' analyze --db '%s' "
             "samples/crossed-client.pcap", HANGUP_SAMPLES, HANGUP_BIN, db);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    char *r2 = strstr(out, "Keep-alive race #2"), *sum = strstr(out, "Summary:");
    cr_assert(r2 && sum && r2 < sum, "%s", out);
    memmove(r2, sum, strlen(sum) + 1);
    const char *elided = "[... race #2 ...]\n\n";
    char *mark = strstr(start, elided);
    cr_assert(mark, "the README no longer marks race #2 as left out");
    memmove(mark, mark + strlen(elided), strlen(mark + strlen(elided)) + 1);
    cr_expect_str_eq(start, out);
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    system(cmd);
    free(db);
    free(out);
    free(readme);
}

/* --db is a PostgreSQL database only as a URI or a key=value string whose
 * first key libpq knows: a file whose name holds '=' stays an SQLite file,
 * and a key=value string is still taken for PostgreSQL (it fails to
 * connect to a port nothing listens on, exit 4, and writes no file). */
Test(cli, db_file_named_with_equals_is_sqlite)
{
    char dir[4096], args[9000], *out = NULL, *err = NULL;
    snprintf(dir, sizeof dir, "%s", tu_tmp(".d"));
    cr_assert_eq(mkdir(dir, 0700), 0, "%s", dir);
    snprintf(args, sizeof args, "analyze --db '%s/runs=3.db' '%s' > /dev/null", dir,
             tu_sample("crossed-client.pcap"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char path[4200];
    snprintf(path, sizeof path, "%s/runs=3.db", dir);
    size_t n = 0;
    char *head = tu_slurp(path, &n);
    cr_assert(head && n > 16 && memcmp(head, "SQLite format 3", 15) == 0,
              "runs=3.db is not an SQLite file");
    free(head);
    free(out);
    free(err);
    out = err = NULL;
    snprintf(args, sizeof args,
             "analyze --db 'host=127.0.0.1 port=9 dbname=x connect_timeout=2' '%s' > /dev/null",
             tu_sample("crossed-client.pcap"));
    cr_assert_eq(run(args, &out, &err), HU_CLI_EXIT_DB, "%s", err);
    cr_assert(strstr(err, "127.0.0.1") || strstr(err, "connect"), "%s", err);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    system(args);
    free(out);
    free(err);
}
