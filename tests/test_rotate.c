/*
 * test_rotate.c -- files that continue each other read as one capture
 * (fileset.h, docs/DESIGN.md §3.8), on real captures: the samples' races
 * split by editcap so that a boundary falls between the FIN and the late
 * request, or between a connection's handshake and its race; the same
 * splits compressed; a set rotated by tcpdump itself (samples/rotated-*,
 * samples/rotate-capture.sh); and two vantages that must stay apart.
 *
 * Each split must give the incidents of the unsplit file: the same
 * verdicts and story, every packet named by its file and its number there,
 * and that packet, as tshark reads it from that file, the one the unsplit
 * file holds at the unsplit number.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int run(const char *args, char **out, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

/* One keep-alive race of a JSON run. */
typedef struct race {
    char verdict[16];
    uint64_t pkt[3];            /* FIN, request, RST */
    char file[3][512];          /* their files (the incident's `file` without *_file) */
    char story[1024];           /* from "gap_ms" to "capture_gaps": timing, request, history */
} race;

static const char *const which[3] = { "fin", "request", "rst" };

/* The string value of key in line (up to the line's end), into out. */
static bool str_of(const char *line, const char *eol, const char *key, char *out, size_t n)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":\"", key);
    const char *p = strstr(line, k);
    if (!p || p > eol)
        return false;
    p += strlen(k);
    const char *e = strchr(p, '"');
    size_t len = (size_t)(e - p) < n - 1 ? (size_t)(e - p) : n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* The races of a --json run, in print order; how many (at most max). */
static size_t races_of(const char *json, race *out, size_t max)
{
    size_t n = 0;
    for (const char *l = json; (l = strstr(l, "{\"type\":\"incident\",\"kind\":\"keepalive-race\""));
         l++) {
        const char *eol = strchr(l, '\n');
        cr_assert_not_null(eol);
        cr_assert_lt(n, max);
        race *r = &out[n++];
        memset(r, 0, sizeof *r);
        cr_assert(str_of(l, eol, "verdict", r->verdict, sizeof r->verdict));
        char file[512];
        cr_assert(str_of(l, eol, "file", file, sizeof file));
        for (int k = 0; k < 3; k++) {
            char key[32];
            snprintf(key, sizeof key, "\"%s_packet\":", which[k]);
            const char *p = strstr(l, key);
            cr_assert(p && p < eol, "%s", key);
            r->pkt[k] = strtoull(p + strlen(key), NULL, 10);
            snprintf(key, sizeof key, "%s_file", which[k]);
            if (!str_of(l, eol, key, r->file[k], sizeof r->file[k]))
                snprintf(r->file[k], sizeof r->file[k], "%s", file);
        }
        const char *s = strstr(l, "\"gap_ms\":"), *e = strstr(l, "\"capture_gaps\":");
        cr_assert(s && e && s < e && e < eol);
        size_t len = (size_t)(e - s) < sizeof r->story - 1 ? (size_t)(e - s)
                                                           : sizeof r->story - 1;
        memcpy(r->story, s, len);
    }
    return n;
}

/* The server lines of a --json run (from the first one on). */
static const char *servers_of(const char *json)
{
    const char *s = strstr(json, "{\"type\":\"server\"");
    return s ? s : "";
}

/* tshark's view of packet num of file: time, flags, raw sequence and
 * acknowledgement numbers, length. */
static void tshark_packet(const char *file, uint64_t num, char *out, size_t n)
{
    char cmd[2048], *o, *e;
    snprintf(cmd, sizeof cmd, "tshark -r '%s' -Y 'frame.number == %" PRIu64 "' -T fields "
             "-e frame.time_epoch -e tcp.flags -e tcp.seq_raw -e tcp.ack_raw -e tcp.len",
             file, num);
    cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s", e);
    snprintf(out, n, "%s", o);
    free(o);
    free(e);
    cr_assert_gt(strlen(out), 10, "tshark finds no packet %" PRIu64 " in %s", num, file);
}

/* A split of a capture into parts: part k holds the original packets
 * (cut[k-1], cut[k]] (cut[-1] = 0, the last part to the end). */
typedef struct split {
    size_t nparts;
    char path[4][4200];
    uint64_t first[4];          /* the original number of each part's packet 1 */
} split;

static void make_split(split *sp, const char *sample, const uint64_t *cuts, size_t ncuts,
                       const char *suffix)
{
    char src[4200];
    snprintf(src, sizeof src, "%s", tu_sample(sample));
    sp->nparts = ncuts + 1;
    uint64_t from = 1;
    for (size_t k = 0; k < sp->nparts; k++) {
        snprintf(sp->path[k], sizeof sp->path[k], "%s", tu_tmp(suffix));
        char range[64], cmd[9000], *o, *e;
        if (k < ncuts)
            snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, from, cuts[k]);
        else
            snprintf(range, sizeof range, "%" PRIu64 "-999999999", from);
        snprintf(cmd, sizeof cmd, "editcap -r '%s' '%s' %s", src, sp->path[k], range);
        cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s: %s", cmd, e);
        free(o);
        free(e);
        sp->first[k] = from;
        from = k < ncuts ? cuts[k] + 1 : from;
    }
}

static void split_rm(const split *sp)
{
    for (size_t k = 0; k < sp->nparts; k++)
        unlink(sp->path[k]);
}

/* The part and number in it of original packet num. */
static size_t part_of(const split *sp, uint64_t num, uint64_t *local)
{
    size_t k = sp->nparts - 1;
    while (k > 0 && num < sp->first[k])
        k--;
    *local = num - sp->first[k] + 1;
    return k;
}

/* Analyse paths (in the order given) as --json; stdout and stderr. */
static void analyze(char *const *paths, size_t n, char **out, char **err)
{
    char args[20000];
    int k = snprintf(args, sizeof args, "analyze --no-db --json");
    for (size_t i = 0; i < n; i++)
        k += snprintf(args + k, sizeof args - (size_t)k, " '%s'", paths[i]);
    cr_assert_eq(run(args, out, err), 0, "%s", *err);
}

/* The split sp (its parts given last first, as a shell glob of
 * cap.pcap10 cap.pcap2 may order them) gives the unsplit file's races,
 * every packet named in its part; tshark agrees on each, read from the
 * same part of `plain` (NULL: sp itself). */
static void expect_same_as(const char *src, const char *sample, const split *sp,
                           const split *plain)
{
    if (!plain)
        plain = sp;
    char *out0, *err0, *out1, *err1;
    char *one[] = { (char *)src };
    analyze(one, 1, &out0, &err0);
    char *parts[4];
    for (size_t k = 0; k < sp->nparts; k++)
        parts[k] = (char *)sp->path[sp->nparts - 1 - k];
    analyze(parts, sp->nparts, &out1, &err1);
    cr_expect(strstr(err1, "hangup: one capture of"), "%s: the parts were not joined: %s",
              sample, err1);
    race a[64], b[64];
    size_t na = races_of(out0, a, 64), nb = races_of(out1, b, 64);
    cr_assert_gt(na, 0, "%s has no race", sample);
    cr_assert_eq(nb, na, "%s split: %zu races, unsplit %zu:\n%s", sample, nb, na, out1);
    for (size_t i = 0; i < na; i++) {
        cr_expect_str_eq(b[i].verdict, a[i].verdict, "%s race %zu", sample, i + 1);
        cr_expect_str_eq(b[i].story, a[i].story, "%s race %zu", sample, i + 1);
        for (int k = 0; k < 3; k++) {
            uint64_t local;
            size_t part = part_of(sp, a[i].pkt[k], &local);
            const char *want = sp->path[part];
            cr_expect_eq(b[i].pkt[k], local, "%s race %zu %s: packet %" PRIu64 ", want %" PRIu64,
                         sample, i + 1, which[k], b[i].pkt[k], local);
            cr_expect_str_eq(b[i].file[k], want, "%s race %zu %s", sample, i + 1, which[k]);
            char t0[256], t1[256];
            tshark_packet(src, a[i].pkt[k], t0, sizeof t0);
            tshark_packet(plain->path[part], local, t1, sizeof t1);
            cr_expect_str_eq(t1, t0, "%s race %zu %s: tshark", sample, i + 1, which[k]);
        }
    }
    cr_expect_str_eq(servers_of(out1), servers_of(out0), "%s: the server summary", sample);
    free(out0); free(err0); free(out1); free(err1);
}

static void expect_same(const char *sample, const split *sp, const split *plain)
{
    char src[4200];
    snprintf(src, sizeof src, "%s", tu_sample(sample));
    expect_same_as(src, sample, sp, plain);
}

/* The races of sample (their FIN, request and RST in the unsplit file). */
static size_t sample_races(const char *sample, race *r, size_t max)
{
    char src[4200], *out, *err;
    snprintf(src, sizeof src, "%s", tu_sample(sample));
    char *one[] = { src };
    analyze(one, 1, &out, &err);
    size_t n = races_of(out, r, max);
    free(out);
    free(err);
    return n;
}

/* Samples of four stacks' races: Node.js client and server across a
 * delayed link (both vantages), Python http.client against http.server,
 * Node.js keep-alive agents over IPv4, Python retrying, and a capture that
 * starts mid-connection. */
static const char *const samples[] = {
    "crossed-server.pcap", "crossed-client.pcap", "race-python.pcap", "race-node-ipv4.pcap",
    "node-keepalive-v4.pcap", "retry.pcap", "midstream.pcap",
};
#define NSAMPLES (sizeof samples / sizeof *samples)

/* The FIN at the end of one file, the request and RST at the start of the
 * next (or, at a client-side vantage, the request before the FIN and the
 * RST after the boundary): the race is found, as in the unsplit file. */
Test(rotate, race_split_after_its_fin)
{
    for (size_t s = 0; s < NSAMPLES; s++) {
        race r[64];
        size_t n = sample_races(samples[s], r, 64);
        for (size_t i = 0; i < n; i++) {
            split sp;
            uint64_t cut = r[i].pkt[0];
            make_split(&sp, samples[s], &cut, 1, ".pcap");
            expect_same(samples[s], &sp, NULL);
            split_rm(&sp);
        }
    }
}

/* A connection's handshake (and earlier exchanges) in an earlier file than
 * its race, three files: the story (exchanges before, RTT, idle times)
 * carries over, as do the server's idle-timeout inference and tcpdump's
 * relative sequence numbers. */
Test(rotate, handshake_in_an_earlier_file)
{
    for (size_t s = 0; s < NSAMPLES; s++) {
        race r[64];
        size_t n = sample_races(samples[s], r, 64);
        cr_assert_gt(n, 0);
        uint64_t cuts[2] = { 3, r[0].pkt[0] - 1 };   /* the FIN opens the third file */
        if (cuts[1] <= cuts[0])
            continue;
        split sp;
        make_split(&sp, samples[s], cuts, 2, ".pcap");
        expect_same(samples[s], &sp, NULL);
        split_rm(&sp);
    }
}

/* The timeline of a race across a boundary is tcpdump's lines of the set
 * read as one file (relative numbers continue), each file named where its
 * packets begin. */
Test(rotate, timeline_names_each_file)
{
    race r[8];
    size_t n = sample_races("crossed-server.pcap", r, 8);
    cr_assert_gt(n, 0);
    split sp;
    make_split(&sp, "crossed-server.pcap", &r[0].pkt[0], 1, ".pcap");
    char args[9000], *out, *err;
    snprintf(args, sizeof args, "analyze --no-db '%s' '%s'", sp.path[0], sp.path[1]);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char want[4400];
    snprintf(want, sizeof want, "    (in %s)\n", sp.path[0]);
    cr_expect(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "(FIN, packet %" PRIu64 " in", r[0].pkt[0]);
    cr_expect(strstr(out, want), "%s", out);
    /* tcpdump's relative numbers of the request, as in the unsplit file */
    cr_expect(strstr(out, "Flags [P.], seq 229:382, ack 427"), "%s", out);
    free(out); free(err);
    split_rm(&sp);
}

/* The same split compressed (gzip, zstd and xz, one part each) gives the
 * same answer, each packet named in its compressed file. */
Test(rotate, compressed_set_gives_the_same_answer)
{
    static const char *const tools[3] = { "gzip -c", "zstd -q -c", "xz -c" };
    for (size_t s = 0; s < 3; s++) {
        race r[64];
        size_t n = sample_races(samples[s], r, 64);
        cr_assert_gt(n, 0);
        uint64_t cuts[2] = { 3, r[0].pkt[0] };
        split sp, zp;
        make_split(&sp, samples[s], cuts, 2, ".pcap");
        zp = sp;
        for (size_t k = 0; k < 3; k++) {
            snprintf(zp.path[k], sizeof zp.path[k], "%s", tu_tmp(".pcap.z"));
            char cmd[9000], *o, *e;
            snprintf(cmd, sizeof cmd, "%s '%s' > '%s'", tools[k], sp.path[k], zp.path[k]);
            cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s", e);
            free(o); free(e);
        }
        /* tshark is asked about the plain parts (this one reads no zstd) */
        expect_same(samples[s], &zp, &sp);
        split_rm(&sp);
        split_rm(&zp);
    }
}

/* Two vantages of one race overlap in time: two captures, each file's own
 * numbers, no file keys, no joining line. */
Test(rotate, overlapping_vantages_stay_apart)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s", tu_sample("crossed-client.pcap"));
    snprintf(b, sizeof b, "%s", tu_sample("crossed-server.pcap"));
    char *paths[] = { b, a }, *out, *err;
    analyze(paths, 2, &out, &err);
    cr_expect_null(strstr(err, "one capture of"), "%s", err);
    cr_expect_null(strstr(out, "_file\""), "%s", out);
    race r[8];
    cr_expect_eq(races_of(out, r, 8), 4);
    cr_expect_str_eq(r[0].file[0], b, "the command line's order");
    cr_expect_str_eq(r[1].file[0], b);
    cr_expect_str_eq(r[2].file[0], a);
    cr_expect_str_eq(r[3].file[0], a);
    free(out); free(err);
}

/* Unrelated captures one after another (no connection goes on from one
 * into the next) stay apart; --join joins them on time alone, --separate
 * never joins. */
Test(rotate, join_needs_a_connection_going_on)
{
    char a[4200], b[4200], args[9000], *out, *err;
    snprintf(a, sizeof a, "%s", tu_sample("race-python.pcap"));
    snprintf(b, sizeof b, "%s", tu_sample("crossed-client.pcap"));
    snprintf(args, sizeof args, "analyze --no-db --no-timeline '%s' '%s'", a, b);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_null(strstr(err, "one capture of"), "%s", err);
    cr_expect(strstr(out, "Summary: 2 captures"), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "analyze --no-db --no-timeline --join '%s' '%s'", b, a);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(err, "one capture of"), "%s", err);
    cr_expect(strstr(out, "Summary: 1 capture,"), "%s", out);
    free(out); free(err);

    race r[8];
    size_t n = sample_races("crossed-server.pcap", r, 8);
    cr_assert_gt(n, 0);
    split sp;
    make_split(&sp, "crossed-server.pcap", &r[0].pkt[0], 1, ".pcap");
    snprintf(args, sizeof args, "analyze --no-db --json --separate '%s' '%s'", sp.path[0],
             sp.path[1]);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect_eq(races_of(out, r, 8), n - 1, "--separate: the race across the boundary is lost");
    free(out); free(err);
    split_rm(&sp);
}

/* The database: one capture for the set, its files listed, each packet's
 * file beside its number; show prints what analyze printed. */
Test(rotate, stored_as_one_capture)
{
    race r[8];
    size_t n = sample_races("race-python.pcap", r, 8);
    cr_assert_gt(n, 0);
    split sp;
    make_split(&sp, "race-python.pcap", &r[0].pkt[0], 1, ".pcap");
    char db[4200], args[16000], *out, *err;
    snprintf(db, sizeof db, "%s", tu_tmp(".db"));
    unlink(db);
    snprintf(args, sizeof args, "analyze --db '%s' '%s' '%s'", db, sp.path[1], sp.path[0]);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    free(out); free(err);
    snprintf(args, sizeof args, "query --db '%s' --csv \"SELECT (SELECT count(*) FROM captures), "
             "(SELECT group_concat(file, '|') FROM (SELECT file FROM capture_files ORDER BY "
             "idx)), (SELECT fin_file || '#' || fin_packet || '|' || request_file || '#' || "
             "request_packet FROM incidents ORDER BY id LIMIT 1)\"", db);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char want[20000];
    uint64_t lr;
    size_t pr = part_of(&sp, r[0].pkt[1], &lr);
    snprintf(want, sizeof want, "1,%s|%s,%s#%" PRIu64 "|%s#%" PRIu64, sp.path[0], sp.path[1],
             sp.path[0], r[0].pkt[0], sp.path[pr], lr);
    cr_expect(strstr(out, want), "want %s in:\n%s", want, out);
    free(out); free(err);
    snprintf(args, sizeof args, "show --db '%s' 1", db);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char fin[4400];
    snprintf(fin, sizeof fin, "packet %" PRIu64 " in %s", r[0].pkt[0], sp.path[0]);
    cr_expect(strstr(out, fin), "%s", out);
    snprintf(fin, sizeof fin, "    (in %s)\n", sp.path[0]);
    cr_expect(strstr(out, fin), "%s", out);
    free(out); free(err);
    snprintf(args, sizeof args, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    system(args);
    split_rm(&sp);
}

/* samples/rotated/: a set tcpdump rotated itself (-G 1) while Python's
 * http.client and Node.js's http client raced their servers; four of its
 * seven races have the FIN in one file and the request in the next
 * (rotated.crossing).  Read as one capture it gives the races of the set
 * merged into one file (mergecap -a), each packet in its own file, and
 * the oracle's (expect.py) verdicts and packets. */
Test(rotate, tcpdump_rotated_set)
{
    char dir[4200], cmd[9000], *o, *e;
    snprintf(dir, sizeof dir, "%s", tu_sample("rotated"));
    snprintf(cmd, sizeof cmd, "ls '%s'/rotated-*.pcap", dir);
    cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s", e);
    split sp = { 0 };
    uint64_t next = 1;
    for (char *l = strtok(o, "\n"); l; l = strtok(NULL, "\n")) {
        cr_assert_lt(sp.nparts, 4 * 2);
        if (sp.nparts == 4)
            break;   /* the first four files hold the first crossings */
        snprintf(sp.path[sp.nparts], sizeof sp.path[0], "%s", l);
        sp.first[sp.nparts++] = next;
        char c2[4400], *co, *ce;
        snprintf(c2, sizeof c2, "capinfos -c -M -T -r '%s'", l);
        cr_assert_eq(tu_sh(c2, &co, &ce), 0, "%s", ce);
        const char *tab = strrchr(co, '\t');
        next += strtoull(tab ? tab + 1 : co, NULL, 10);
        free(co); free(ce);
    }
    free(o); free(e);
    cr_assert_eq(sp.nparts, 4);
    char merged[4200];
    snprintf(merged, sizeof merged, "%s", tu_tmp(".pcap"));
    int k = snprintf(cmd, sizeof cmd, "mergecap -a -w '%s'", merged);
    for (size_t i = 0; i < sp.nparts; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", sp.path[i]);
    cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s", e);
    free(o); free(e);
    expect_same_as(merged, "rotated", &sp, NULL);

    /* Every file: seven stale races, as the oracle says, four across a
     * boundary; the old one-capture-per-file reading finds three. */
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' analyze --no-db --json rotated-*.pcap", dir,
             HANGUP_BIN);
    cr_assert_eq(tu_sh(cmd, &o, &e), 0, "%s", e);
    race r[16];
    size_t n = races_of(o, r, 16), across = 0;
    char *oracle = tu_slurp(tu_sample("rotated/rotated.expected"), NULL);
    cr_assert_not_null(oracle);
    size_t want = 0;
    for (const char *l = oracle; (l = strstr(l, "\"verdict\":\"stale\"")); l++)
        want++;
    cr_expect_eq(n, want, "%zu races, the oracle %zu:\n%s", n, want, o);
    for (size_t i = 0; i < n; i++) {
        cr_expect_str_eq(r[i].verdict, "stale");
        across += strcmp(r[i].file[0], r[i].file[1]) != 0;
    }
    cr_expect_eq(across, 4, "%s", o);
    free(oracle); free(o); free(e);
    unlink(merged);
}
