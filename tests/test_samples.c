/*
 * test_samples.c -- end to end on every committed capture.
 *
 * For each samples/NAME.expected (ground truth written by the capture
 * scripts' independent oracle and checked against the clients' own error
 * logs), `hangup analyze --json` on samples/NAME.pcap must report exactly
 * those incidents: same count and order, packets, verdict, endpoints, IP
 * version, method, target, TLS.  Then the human output's timeline lines
 * must be byte-identical to tcpdump's lines for the same packets, and
 * every TCP packet of every sample must render as tcpdump renders it.  The
 * tcpdump lines are the golden files samples/regenerate writes with real
 * tcpdump (NAME.tcpdump, UTC).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangup/strbuf.h"
#include "testutil.h"

static char **split_lines(char *s, size_t *n)
{
    size_t cap = 16;
    char **v = malloc(cap * sizeof *v);
    *n = 0;
    for (char *tok = strtok(s, "\n"); tok; tok = strtok(NULL, "\n")) {
        if (!*tok)
            continue;
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = tok;
    }
    return v;
}

/* tu_join_continuations for split_lines' lines, which point into one
 * buffer: a continuation line right after its packet's line gets its
 * newline back. */
static size_t join_lines(char **v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *end = k ? v[k - 1] + strlen(v[k - 1]) : NULL;
        if (k && v[k - 1][0] >= '0' && v[k - 1][0] <= '9' && end + 1 == v[i] &&
            (strncmp(v[i], "IP ", 3) == 0 || strncmp(v[i], "IP6 ", 4) == 0))
            *end = '\n';
        else
            v[k++] = v[i];
    }
    return k;
}

/* Call fn(key, raw value) for each top-level member of a flat JSON object. */
static void json_each(const char *line, void (*fn)(void *, const char *, const char *), void *arg)
{
    const char *p = strchr(line, '{');
    while (p && *p) {
        const char *k = strchr(p, '"');
        if (!k)
            return;
        const char *ke = strchr(k + 1, '"');
        if (!ke)
            return;
        char key[80];
        snprintf(key, sizeof key, "%.*s", (int)(ke - k - 1), k + 1);
        char *v = tu_json_get(ke - strlen(key) - 1, key);
        if (!v)
            return;
        fn(arg, key, v);
        /* Skip past the value. */
        const char *after = strstr(ke, v);
        p = after ? after + strlen(v) : NULL;
        free(v);
        if (p)
            p = strchr(p, ',');
    }
}

typedef struct cmp_ctx {
    const char *got;      /* our object */
    const char *what;     /* for messages */
    size_t keys;
} cmp_ctx;

/* Fields in milliseconds are compared within 2 us of rounding; the rest
 * exactly. */
static void cmp_member(void *arg, const char *key, const char *want)
{
    cmp_ctx *c = arg;
    c->keys++;
    char *got = tu_json_get(c->got, key);
    size_t kl = strlen(key);
    bool ms = kl > 3 && strcmp(key + kl - 3, "_ms") == 0;
    bool same;
    if (!got)
        same = false;
    else if (ms && strcmp(want, "null") != 0 && strcmp(got, "null") != 0)
        same = fabs(strtod(want, NULL) - strtod(got, NULL)) < 0.0021;
    else
        same = strcmp(want, got) == 0;
    cr_expect(same, "%s: %s is %s, expected %s", c->what, key, got ? got : "(absent)", want);
    free(got);
}

/* Every member of `want` must be in `got` with the same value. */
static size_t cmp_object(const char *want, const char *got, const char *what)
{
    cmp_ctx c = { got, what, 0 };
    json_each(want, cmp_member, &c);
    return c.keys;
}

/* Path of the capture for an .expected file: .pcap or .pcapng beside it. */
static const char *capture_for(const char *expected, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s.pcap", (int)(strlen(expected) - 9), expected);
    FILE *fp = fopen(buf, "rb");
    if (fp) {
        fclose(fp);
        return buf;
    }
    snprintf(buf, n, "%.*s.pcapng", (int)(strlen(expected) - 9), expected);
    return buf;
}

static size_t for_each_sample(void (*fn)(const char *expected, const char *capture))
{
    DIR *d = opendir(HANGUP_SAMPLES);
    cr_assert_not_null(d);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 10 || strcmp(de->d_name + l - 9, ".expected") != 0)
            continue;
        char exp[4096], cap[4096];
        snprintf(exp, sizeof exp, "%s/%s", HANGUP_SAMPLES, de->d_name);
        capture_for(exp, cap, sizeof cap);
        fn(exp, cap);
        n++;
    }
    closedir(d);
    return n;
}

static void check_incidents(const char *expected, const char *capture)
{
    char cmd[9000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, capture);
    int rc = tu_sh(cmd, &out, &err);
    cr_expect_eq(rc, 0, "%s: exit %d: %s", capture, rc, err);
    char *want_text = tu_slurp(expected, NULL);
    cr_assert_not_null(want_text);
    size_t nw, ng, nall;
    char **want = split_lines(want_text, &nw);
    char **all = split_lines(out, &nall);
    /* Incident lines come first, then one line per server. */
    char **got = all;
    ng = 0;
    while (ng < nall && strncmp(all[ng], "{\"type\":\"incident\"", 18) == 0)
        ng++;
    cr_expect_eq(ng, nw, "%s: %zu incidents reported, %zu expected", capture, ng, nw);
    /* Match each expected incident to the reported one of the same kind
     * and request packet (kinds are reported when proven, not in one
     * global order), then compare every field the oracle wrote. */
    bool *used = calloc(ng ? ng : 1, sizeof *used);
    for (size_t i = 0; i < nw; i++) {
        char *wk = tu_json_get(want[i], "kind");
        char *wr = tu_json_get(want[i], "request_packet");
        const char *kind = wk ? wk : "\"keepalive-race\"";
        size_t match = ng;
        for (size_t j = 0; j < ng && match == ng; j++) {
            char *gk = tu_json_get(got[j], "kind"), *gr = tu_json_get(got[j], "request_packet");
            if (!used[j] && gk && gr && wr && strcmp(gk, kind) == 0 && strcmp(gr, wr) == 0)
                match = j;
            free(gk);
            free(gr);
        }
        cr_expect_lt(match, ng, "%s: expected %s incident at request packet %s not reported",
                     capture, kind, wr ? wr : "?");
        if (match < ng) {
            used[match] = true;
            char what[4200];
            snprintf(what, sizeof what, "%s %s incident %zu", capture, kind, i + 1);
            cr_expect_geq(cmp_object(want[i], got[match], what), 5);
        }
        free(wk);
        free(wr);
    }
    free(used);
    /* The server lines, against NAME.servers when the oracle wrote one. */
    char spath[4200];
    snprintf(spath, sizeof spath, "%.*s.servers", (int)(strlen(expected) - 9), expected);
    char *srv_text = tu_slurp(spath, NULL);
    if (srv_text) {
        size_t ns;
        char **srv = split_lines(srv_text, &ns);
        cr_expect_eq(nall - ng, ns, "%s: %zu server lines, %zu expected", capture, nall - ng, ns);
        for (size_t i = 0; i < ns; i++) {
            char *key = tu_json_get(srv[i], "server");
            const char *match = NULL;
            for (size_t j = ng; j < nall && !match; j++) {
                char *k2 = tu_json_get(all[j], "server");
                if (k2 && key && strcmp(k2, key) == 0)
                    match = all[j];
                free(k2);
            }
            cr_expect_not_null(match, "%s: no summary for server %s", capture, key);
            if (match) {
                char what[4200];
                snprintf(what, sizeof what, "%s server %s", capture, key);
                cmp_object(srv[i], match, what);
            }
            free(key);
        }
        free(srv);
        free(srv_text);
    }
    free(want);
    free(all);
    free(want_text);
    free(out);
    free(err);
}

Test(samples, incidents_match_ground_truth)
{
    size_t n = for_each_sample(check_incidents);
    cr_expect_geq(n, 6, "only %zu samples with ground truth found", n);
}

/* Every timestamp-led line of the human output is tcpdump's line for some
 * packet of the file, and the incident packets are all there. */
/* The golden tcpdump output committed beside the sample. */
static char **golden(const char *capture, size_t *n)
{
    char **g = tu_golden_lines(capture, n);
    cr_assert_not_null(g, "%s has no golden .tcpdump file (run samples/regenerate)", capture);
    return g;
}

static void check_timeline(const char *expected, const char *capture)
{
    size_t nt;
    char **td = golden(capture, &nt);
    char cmd[9000], *out = NULL;
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' analyze --no-db --all '%s'", HANGUP_BIN, capture);
    tu_sh(cmd, &out, NULL);
    size_t nl;
    char **lines = split_lines(out, &nl);
    nl = join_lines(lines, nl);
    size_t packet_lines = 0;
    for (size_t i = 0; i < nl; i++) {
        if (lines[i][0] < '0' || lines[i][0] > '9')
            continue;
        packet_lines++;
        bool found = false;
        for (size_t j = 0; j < nt && !found; j++)
            found = tu_tcpdump_same(lines[i], td[j]);
        cr_expect(found, "%s: timeline line is not a tcpdump line:\n%s", capture, lines[i]);
    }
    char *want_text = tu_slurp(expected, NULL);
    size_t nw;
    char **want = split_lines(want_text, &nw);
    for (size_t i = 0; i < nw; i++) {
        static const char *const keys[] = { "fin_packet", "request_packet", "rst_packet" };
        for (int k = 0; k < 3; k++) {
            char *v = tu_json_get(want[i], keys[k]);
            size_t num = v ? strtoul(v, NULL, 10) : 0;
            bool absent = !v || strcmp(v, "null") == 0;
            free(v);
            if (absent)
                continue;   /* this kind has no such packet */
            cr_assert(num >= 1 && num <= nt);
            bool found = false;
            for (size_t j = 0; j < nl && !found; j++)
                found = tu_tcpdump_same(lines[j], td[num - 1]);
            cr_expect(found, "%s: packet %zu (%s) missing from the timeline", capture, num, keys[k]);
        }
    }
    cr_expect(nw == 0 || packet_lines >= 2 * nw);
    free(want);
    free(want_text);
    free(lines);
    free(out);
    tu_lines_free(td, nt);
}

Test(samples, timelines_are_tcpdump_lines)
{
    for_each_sample(check_timeline);
}

/* Idle connections' rings packed from the first connection on
 * (HANGUP_PACK_FROM=0; by default only from 8192) give the same output,
 * byte for byte, incidents and timelines included. */
static void check_packed_same(const char *expected, const char *capture)
{
    (void)expected;
    char cmd[9000], *plain = NULL, *packed = NULL;
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' analyze --no-db --all '%s' 2>&1", HANGUP_BIN, capture);
    tu_sh(cmd, &plain, NULL);
    snprintf(cmd, sizeof cmd, "TZ=UTC HANGUP_PACK_FROM=0 '%s' analyze --no-db --all '%s' 2>&1",
             HANGUP_BIN, capture);
    tu_sh(cmd, &packed, NULL);
    cr_assert_not_null(plain);
    cr_assert_not_null(packed);
    cr_expect_str_eq(packed, plain, "%s: output differs with packed rings", capture);
    free(plain);
    free(packed);
}

Test(samples, packed_idle_rings_change_nothing)
{
    for_each_sample(check_packed_same);
}

static void cmp_every_packet(const char *capture, char **hu, size_t nh, const char *how)
{
    size_t nt;
    char **td = golden(capture, &nt);
    cr_expect_eq(nh, nt, "%s: %zu packets read, tcpdump printed %zu", capture, nh, nt);
    for (size_t i = 0; i < nh && i < nt; i++)
        if (hu[i])
            cr_expect(tu_tcpdump_same(hu[i], td[i]), "%s packet %zu%s:\n hangup:  %s\n tcpdump: %s",
                      capture, i + 1, how, hu[i], td[i]);
    tu_lines_free(hu, nh);
    tu_lines_free(td, nt);
}

static void check_every_packet(const char *expected, const char *capture)
{
    (void)expected;
    size_t nh;
    char **hu = tu_render_file(capture, &nh);
    cmp_every_packet(capture, hu, nh, "");
}

Test(samples, every_packet_renders_like_tcpdump)
{
    for_each_sample(check_every_packet);
}

/* tcpdump keeps a conversation's relative-sequence bases for the whole
 * run; hangup keeps them in the connection and, once it is released, in
 * a bounded table.  With connections released after 1 ms without a
 * packet and at most two at once, nearly every packet of every sample
 * comes after its connection's release: each must still print as
 * tcpdump prints it. */
static void check_every_packet_released(const char *expected, const char *capture)
{
    (void)expected;
    size_t nh;
    char **hu = tu_render_file_releasing(capture, 1000, 2, &nh);
    cmp_every_packet(capture, hu, nh, " (connections released between packets)");
}

Test(samples, every_packet_renders_like_tcpdump_across_releases)
{
    for_each_sample(check_every_packet_released);
}

/* Node 20 closes idle connections at keepAliveTimeout + 1 s; the samples'
 * server has keepAliveTimeout = 2000 (it announces Keep-Alive: timeout=2).
 * The inferred idle timeout must be within 50 ms of 3 s, over IPv4 and
 * IPv6 alike, and the summary must call the race. */
Test(samples, node_keepalive_timeout_is_inferred_within_50ms)
{
    static const char *const names[] = { "node-keepalive-v4.pcap", "node-keepalive-v6.pcap" };
    for (int i = 0; i < 2; i++) {
        char cmd[4400], *out = NULL;
        snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN,
                 tu_sample(names[i]));
        cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
        const char *srv = strstr(out, "{\"type\":\"server\"");
        cr_assert_not_null(srv, "%s", out);
        char *to = tu_json_get(srv, "idle_timeout_ms");
        double ms = to ? strtod(to, NULL) : 0;
        cr_expect(ms >= 2950 && ms <= 3050, "%s: idle timeout %.3f ms, not 3000 +- 50", names[i],
                  ms);
        char *risk = tu_json_get(srv, "race_risk");
        cr_expect(risk && strcmp(risk, "true") == 0);
        char *hint = tu_json_get(out, "keepalive_hint_s");
        cr_expect(hint && strcmp(hint, "2") == 0);
        free(to);
        free(risk);
        free(hint);
        free(out);
    }
}

/* lenient.pcap (samples/lenient-capture.sh): the request lines and heads
 * a strict parser refused, sent to nginx, Python http.server, Node, Apache
 * and gunicorn.  Each server's request count is the number of requests
 * that server answered, by the client's own record (lenient.answers), not
 * by any parser; every request sent there was answered. */
Test(samples, lenient_requests_count_as_the_servers_answered)
{
    char *rec = tu_slurp(tu_sample("lenient.answers"), NULL);
    cr_assert_not_null(rec);
    size_t na;
    char **ans = split_lines(rec, &na);
    cr_assert_geq(na, 5 * 15, "%zu records", na);
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN,
             tu_sample("lenient.pcap"));
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    cr_expect_null(strstr(out, "\"type\":\"incident\""), "%s", out);
    size_t nl, servers = 0;
    char **lines = split_lines(out, &nl);
    for (size_t i = 0; i < nl; i++) {
        if (!strstr(lines[i], "\"type\":\"server\""))
            continue;
        servers++;
        char *name = tu_json_get(lines[i], "server"), *got = tu_json_get(lines[i], "requests");
        long answered = 0, sent = 0;
        for (size_t j = 0; j < na; j++) {
            char *srv = tu_json_get(ans[j], "server");
            if (srv && name && strcmp(srv, name) == 0) {
                char *a = tu_json_get(ans[j], "answered"), *n = tu_json_get(ans[j], "sent");
                answered += a ? strtol(a, NULL, 10) : 0;
                sent += n ? strtol(n, NULL, 10) : 0;
                free(a);
                free(n);
            }
            free(srv);
        }
        cr_expect_eq(sent, answered, "%s: the record has unanswered requests", name);
        cr_expect(got && strtol(got, NULL, 10) == answered,
                  "%s: %s requests counted, %ld answered", name, got ? got : "no", answered);
        free(name);
        free(got);
    }
    cr_expect_eq(servers, 5);
    free(lines);
    free(out);
    free(ans);
    free(rec);
}

/* Rewrite the Ethernet capture `in` (classic pcap, this host's byte
 * order) to `out`, keeping of each packet its link, IP and fixed TCP
 * headers and 6 bytes of TCP options, as a capture taken with a snapshot
 * length that ends inside the options would.  Returns the packet count. */
static size_t cut_inside_options(const char *in, const char *out)
{
    size_t len, n = 0;
    uint8_t *b = (uint8_t *)tu_slurp(in, &len);
    cr_assert(b && len >= 24 && b[0] == 0xd4 && b[1] == 0xc3, "%s: not a little-endian pcap", in);
    FILE *fp = fopen(out, "wb");
    cr_assert_not_null(fp);
    fwrite(b, 1, 24, fp);
    for (size_t off = 24; off + 16 <= len; n++) {
        uint32_t rec[4];
        memcpy(rec, b + off, 16);
        const uint8_t *d = b + off + 16;
        cr_assert(rec[2] >= 14 && off + 16 + rec[2] <= len);
        uint32_t keep = 14 + (d[12] == 0x86 && d[13] == 0xdd ? 40 : 20) + 20 + 6;
        if (keep > rec[2])
            keep = rec[2];
        uint32_t caplen = rec[2];
        rec[2] = keep;
        fwrite(rec, 16, 1, fp);
        fwrite(d, 1, keep, fp);
        off += 16 + caplen;
    }
    fclose(fp);
    free(b);
    return n;
}

/* The "kind" of every incident line in analyze --json's output, in order,
 * one a line. */
static void kinds_of(const char *json, hu_sb *sb)
{
    char *copy = strdup(json);
    size_t n;
    char **v = split_lines(copy, &n);
    for (size_t i = 0; i < n; i++) {
        char *k = strstr(v[i], "\"type\":\"incident\"") ? tu_json_get(v[i], "kind") : NULL;
        if (k)
            hu_sb_printf(sb, "%s\n", k);
        free(k);
    }
    free(v);
    free(copy);
}

/* A snapshot length that ends inside the TCP options (60 bytes for IPv4
 * with timestamps) leaves every TCP fact: the incidents that TCP alone
 * proves are found as in the whole capture, over IPv4 and IPv6, and every
 * packet's line is tcpdump's, truncation mark included. */
Test(samples, snapshots_cut_inside_the_options_keep_tcp_incidents_and_lines)
{
    static const char *const names[] = { "crossed-client.pcap", "node-keepalive-v6.pcap",
                                          "connect-timeout.pcap", "refused-v6.pcap" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *full = strdup(tu_sample(names[i]));
        char *cut = strdup(tu_tmp(".pcap"));
        size_t packets = cut_inside_options(full, cut);
        hu_sb want = {0}, got = {0};
        char cmd[4400], *out = NULL, *err = NULL;
        snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, full);
        cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
        kinds_of(out, &want);
        free(out);
        snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, cut);
        cr_expect_eq(tu_sh(cmd, &out, &err), 0);
        kinds_of(out, &got);
        cr_expect(want.len > 0, "%s: no incident in the whole capture", names[i]);
        cr_expect_str_eq(hu_sb_cstr(&got), hu_sb_cstr(&want), "%s cut inside the options",
                         names[i]);
        cr_expect(!strstr(err, "could not be decoded"), "%s: %s", names[i], err);
        free(out);
        free(err);
        size_t nh, nt, marks = 0;
        char **hu = tu_render_file(cut, &nh);
        char **td = tu_tcpdump_lines(cut, &nt);
        cr_expect_eq(nt, packets, "%s: tcpdump printed %zu lines", names[i], nt);
        for (size_t k = 0; k < nh && k < nt; k++) {
            cr_expect(hu[k] && strcmp(hu[k], td[k]) == 0,
                      "%s cut, packet %zu:\n hangup:  %s\n tcpdump: %s", names[i], k + 1,
                      hu[k] ? hu[k] : "(none)", td[k]);
            marks += strstr(td[k], "[|tcp]") != NULL;
        }
        cr_expect(marks > 0, "%s: no packet was cut inside its options", names[i]);
        tu_lines_free(hu, nh);
        tu_lines_free(td, nt);
        hu_sb_free(&want);
        hu_sb_free(&got);
        unlink(cut);
        free(cut);
        free(full);
    }
}

/* How many times needle occurs in hay (NULL: none). */
static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/*
 * Capture gaps (docs/DESIGN.md §2.13).  samples/NAME.gaps is the oracle's
 * list of the connections with capture gaps or one-sided (expect.py --gaps,
 * checked against tshark's own analysis when the capture was made): the
 * database's connection rows must say the same, connection by connection.
 */
static void check_gaps(const char *gaps_file)
{
    char capture[4096];
    snprintf(capture, sizeof capture, "%.*s.pcap", (int)(strlen(gaps_file) - 5), gaps_file);
    const char *db = strdup(tu_tmp(".db"));
    char cmd[9000], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --db '%s' '%s' >/dev/null && '%s' query --db '%s' "
             "--json \"SELECT client, server, capture_gaps, capture_gap_bytes, one_sided FROM "
             "connections WHERE capture_gaps > 0 OR one_sided IS NOT NULL ORDER BY number\"",
             HANGUP_BIN, db, capture, HANGUP_BIN, db);
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0, "%s", cmd);
    char *want_text = tu_slurp(gaps_file, NULL);
    size_t nw, ng;
    char **want = split_lines(want_text, &nw);
    char **got = split_lines(out, &ng);
    cr_expect_eq(ng, nw, "%s: %zu connection(s) with gaps, the oracle says %zu:\n%s", capture, ng,
                 nw, out);
    for (size_t i = 0; i < nw && i < ng; i++) {
        static const char *const keys[] = { "client", "server", "capture_gaps",
                                            "capture_gap_bytes", "one_sided" };
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            char *w = tu_json_get(want[i], keys[k]), *g = tu_json_get(got[i], keys[k]);
            cr_expect(w && g && strcmp(w, g) == 0, "%s: connection %zu %s: got %s, want %s",
                      capture, i + 1, keys[k], g ? g : "(none)", w ? w : "(none)");
            free(w);
            free(g);
        }
    }
    /* The summary adds them up: connections with gaps and their bytes,
     * and those seen one way only. */
    uint64_t conns = 0, bytes = 0, one_way = 0;
    for (size_t i = 0; i < nw; i++) {
        char *n = tu_json_get(want[i], "capture_gaps"), *b = tu_json_get(want[i], "capture_gap_bytes");
        char *o = tu_json_get(want[i], "one_sided");
        if (n && strcmp(n, "0") != 0) {
            conns++;
            bytes += b ? strtoull(b, NULL, 10) : 0;
        }
        one_way += o && strcmp(o, "null") != 0;
        free(n);
        free(b);
        free(o);
    }
    char *human = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db '%s' | sed -n '/^Summary/,/^  server/p' | "
             "tr -s ' \n' '  '", HANGUP_BIN, capture);
    cr_assert_eq(tu_sh(cmd, &human, NULL), 0, "%s", cmd);
    char want_sum[256];
    if (conns) {
        snprintf(want_sum, sizeof want_sum, "; capture gaps on %" PRIu64 " connection%s (%" PRIu64
                 " bytes the peers acknowledged that the capture does not hold)", conns,
                 conns == 1 ? "" : "s", bytes);
        cr_expect(strstr(human, want_sum), "%s: the summary lacks '%s':\n%s", capture, want_sum,
                  human);
    }
    if (one_way) {
        snprintf(want_sum, sizeof want_sum, "; %" PRIu64 " connection%s seen one way only",
                 one_way, one_way == 1 ? "" : "s");
        cr_expect(strstr(human, want_sum), "%s: the summary lacks '%s':\n%s", capture, want_sum,
                  human);
    }
    free(human);
    free(want);
    free(got);
    free(want_text);
    free(out);
    unlink(db);
    free((void *)db);
}

Test(samples, capture_gaps_match_the_oracle_and_tshark)
{
    const char *dir = tu_sample("");
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".gaps") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s%s", dir, e->d_name);
        check_gaps(path);
        n++;
    }
    closedir(d);
    cr_expect_geq(n, 3, "only %zu samples with gaps found", n);
}

/* A real race on a connection whose capture lost a segment: derived here
 * from samples/race-python.pcap by samples/pcap-drop.py (the first
 * response's segment, which the client acknowledged).  The races stay
 * reported, and the first says it sits on a connection with a gap: in its
 * JSON, and in its explanation. */
Test(samples, an_incident_on_a_connection_with_a_gap_says_so)
{
    const char *cap = strdup(tu_tmp(".pcap"));
    char cmd[9000], *out = NULL;
    snprintf(cmd, sizeof cmd, "python3 '%s/pcap-drop.py' '%s' '%s' 1:data=1 2>/dev/null",
             HANGUP_SAMPLES, tu_sample("race-python.pcap"), cap);
    cr_assert_eq(tu_sh(cmd, NULL, NULL), 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json '%s'", HANGUP_BIN, cap);
    tu_sh(cmd, &out, NULL);
    cr_expect_eq(count_substr(out, "\"kind\":\"keepalive-race\""), 2, "%s", out);
    cr_expect_eq(count_substr(out, "\"capture_gaps\":1,\"capture_gap_bytes\":144,"), 1, "%s", out);
    cr_expect_eq(count_substr(out, "\"capture_gaps\":0,\"capture_gap_bytes\":0,"), 1, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db '%s'", HANGUP_BIN, cap);
    tu_sh(cmd, &out, NULL);
    cr_expect_eq(count_substr(out, "Capture gaps: the capture misses 144 bytes of this"), 1,
                 "%s", out);
    free(out);
    unlink(cap);
    free((void *)cap);
}
