/*
 * test_legs.c -- a proxy's two legs linked in one capture (legs.h), on the
 * real captures samples/proxy-capture.sh makes at a proxy host: nginx,
 * HAProxy (with and without retry-on), Caddy, Apache httpd and Varnish in
 * front of Node.js and Python targets, each capture with its ground truth
 * (samples/proxy-*.truth) from the user's and the proxy's own logs and
 * tcpdump, never from hangup.  For each: the upstream race is linked to
 * the user's request, and the outcome (retried, bad-gateway, closed), the
 * user's status and the packets match the truth; a capture taken at the
 * target, without the downstream leg, links nothing.  The user's own
 * symptom -- the proxy's 502 -- is an incident of its own on the user's
 * connection, whose `cause` is the upstream race.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The text of the JSON object member "key" (a number, a string's
 * characters, or "null"), searched from p up to end; NULL when absent.
 * Good for the flat members of the truth files and hangup's lines. */
static char *member(const char *p, const char *end, const char *key)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *m = strstr(p, pat);
    if (!m || (end && m >= end))
        return NULL;
    m += strlen(pat);
    while (*m == ' ')
        m++;
    size_t n;
    if (*m == '"') {
        m++;
        n = strcspn(m, "\"");
    } else {
        n = strcspn(m, ",}\n");
    }
    return strndup(m, n);
}

/* The object member "key" of the truth file (its text from its '{' to
 * the closing one at one space's indent), or NULL when it is null. */
static const char *object(const char *truth, const char *key, const char **end)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\n \"%s\": {", key);
    const char *o = strstr(truth, pat);
    if (!o)
        return NULL;
    *end = strstr(o + 1, "\n }");
    return o;
}

static void expect_member(const char *got, const char *gend, const char *gkey, const char *want,
                          const char *wend, const char *wkey, const char *what)
{
    char *w = want ? member(want, wend, wkey) : NULL;
    char *g = member(got, gend, gkey);
    cr_expect(g, "%s: no %s in hangup's line", what, gkey);
    if (g)
        cr_expect_str_eq(g, w ? w : "null", "%s: %s", what, gkey);
    free(w);
    free(g);
}

/* The proxy captures' truth files, into g (globfree it). */
static void proxy_truths(glob_t *g)
{
    cr_assert_eq(glob(HANGUP_SAMPLES "/proxy-*.truth", 0, NULL, g), 0);
    cr_assert_geq(g->gl_pathc, 8, "the proxy captures are missing");
}

/* Truth file t's text and hangup's JSON lines for its capture (both
 * malloc'd). */
static void analyze_json(const char *t, char **truth, char **out)
{
    char pcap[4200], cmd[9000];
    *truth = tu_slurp(t, NULL);
    *out = NULL;
    cr_assert(*truth, "%s", t);
    snprintf(pcap, sizeof pcap, "%.*s.pcap", (int)(strlen(t) - 6), t);
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json --all '%s'", HANGUP_BIN, pcap);
    cr_assert_eq(tu_sh(cmd, out, NULL), 0, "%s", pcap);
}

Test(legs, every_proxy_capture_links_the_user_and_what_they_got)
{
    glob_t g;
    proxy_truths(&g);
    size_t linked = 0, outcomes[4] = { 0 };
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *t = g.gl_pathv[i];
        char *truth, *out;
        analyze_json(t, &truth, &out);
        const char *uend, *up = object(truth, "upstream_race", &uend);
        cr_assert(up, "%s: no upstream race", t);
        char *req = member(up, uend, "request_packet");
        char want_req[64];
        snprintf(want_req, sizeof want_req, "\"request_packet\":%s,", req);
        free(req);
        const char *line = strstr(out, want_req);
        cr_assert(line, "%s: hangup did not find the upstream race: %s", t, out);
        while (line > out && line[-1] != '\n')
            line--;
        const char *lend = strchr(line, '\n');
        const char *dend, *down = object(truth, "downstream", &dend);
        char *cands = member(line, lend, "downstream_candidates");
        cr_assert(cands, "%s", line);
        if (!down) {   /* the capture has no downstream leg */
            cr_expect_str_eq(cands, "0", "%s: linked without a downstream leg", t);
            free(cands);
            free(out);
            free(truth);
            continue;
        }
        cr_expect_str_eq(cands, "1", "%s: not linked: %s", t, line);
        free(cands);
        const char *ds = strstr(line, "\"downstream\":{");
        cr_assert(ds, "%s: %s", t, line);
        linked++;
        expect_member(ds, lend, "client", down, dend, "client", t);
        expect_member(ds, lend, "proxy", down, dend, "proxy", t);
        expect_member(ds, lend, "request_packet", down, dend, "request_packet", t);
        expect_member(ds, lend, "outcome", truth, NULL, "outcome", t);
        expect_member(ds, lend, "status", down, dend, "status", t);
        expect_member(ds, lend, "response_packet", down, dend, "response_packet", t);
        expect_member(ds, lend, "close_packet", down, dend, "close_packet", t);
        const char *rend, *retry = object(truth, "retry", &rend);
        expect_member(ds, lend, "retry_request_packet", retry, rend, "request_packet", t);
        /* The upstream client is the proxy, named by what its front
         * answered the user, unless it passes its target's headers on and
         * marks nothing itself (HAProxy): then unnamed, but a proxy. */
        char *kind = member(line, lend, "client_kind"), *sw = member(line, lend, "client_software");
        char *proxy = member(truth, NULL, "proxy");
        cr_expect(kind && strcmp(kind, "proxy") == 0, "%s: client kind %s", t, kind);
        cr_assert(proxy && sw);
        if (strcmp(sw, "null") == 0) {
            cr_expect(strncmp(proxy, "HAProxy", 7) == 0, "%s: %s not named", t, proxy);
        } else {
            bool named = false;   /* a word of the proxy's own version line */
            for (char *w = strtok(proxy, " /-()"); w && !named; w = strtok(NULL, " /-()"))
                named = strlen(w) >= 4 && strcasestr(sw, w);
            cr_expect(named, "%s: client named %s", t, sw);
        }
        free(kind);
        free(sw);
        free(proxy);
        char *o = member(truth, NULL, "outcome");
        outcomes[0] += o && strcmp(o, "retried") == 0;
        outcomes[1] += o && strcmp(o, "bad-gateway") == 0;
        outcomes[2] += o && strcmp(o, "closed") == 0;
        free(o);
        free(out);
        free(truth);
    }
    globfree(&g);
    cr_expect_geq(linked, 8);
    cr_expect(outcomes[0] && outcomes[1] && outcomes[2],
              "every outcome is shown by a real proxy: retried %zu, bad-gateway %zu, closed %zu",
              outcomes[0], outcomes[1], outcomes[2]);
}

/* The incident lines of hangup's JSON output, in order: the incidents'
 * numbers are their positions, from 1 (records leave in arrival order). */
static size_t incident_lines(char *out, char **lines, size_t max)
{
    size_t n = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
        if (strncmp(l, "{\"type\":\"incident\",", 19) == 0 && n < max)
            lines[n++] = l;
    return n;
}

/* Every capture whose user got a bad gateway has that answer as a
 * gateway-error on the user's connection: the user, the proxy's front,
 * the status, the user's request and the proxy's response packet of the
 * truth, and as its cause the number of the upstream race; no other
 * proxy capture has one. */
Test(legs, the_users_bad_gateway_is_an_incident_caused_by_the_upstream_race)
{
    glob_t g;
    proxy_truths(&g);
    size_t bad = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *t = g.gl_pathv[i];
        char *truth, *out;
        analyze_json(t, &truth, &out);
        char *outcome = member(truth, NULL, "outcome");
        bool bad_gateway = outcome && strcmp(outcome, "bad-gateway") == 0;
        free(outcome);
        char *lines[64];
        size_t n = incident_lines(out, lines, 64);
        const char *uend, *up = object(truth, "upstream_race", &uend);
        cr_assert(up, "%s", t);
        char *ureq = member(up, uend, "request_packet"), *ucli = member(up, uend, "client");
        size_t race = 0, gw = 0;   /* their numbers */
        for (size_t k = 0; k < n; k++) {
            const char *e = lines[k] + strlen(lines[k]);
            char *kind = member(lines[k], e, "kind"), *req = member(lines[k], e, "request_packet");
            char *cli = member(lines[k], e, "client");
            if (strcmp(kind, "keepalive-race") == 0 && strcmp(req, ureq) == 0 &&
                strcmp(cli, ucli) == 0)
                race = k + 1;
            if (strcmp(kind, "gateway-error") == 0) {
                cr_expect_eq(gw, 0, "%s: more than one gateway-error", t);
                gw = k + 1;
            }
            free(kind);
            free(req);
            free(cli);
        }
        cr_expect(race, "%s: no upstream race among %zu incidents (%s, %s)", t, n, ureq, ucli);
        if (!bad_gateway) {
            cr_expect_eq(gw, 0, "%s: a gateway-error where the user got none", t);
        } else {
            bad++;
            cr_assert(gw, "%s: the user's bad gateway is not an incident", t);
            const char *l = lines[gw - 1], *e = l + strlen(l);
            const char *dend, *down = object(truth, "downstream", &dend);
            cr_assert(down, "%s", t);
            const char *ds = strstr(l, ",\"downstream\":");   /* the line's own members before */
            cr_assert(ds, "%s", l);
            /* Its members, and the truth's downstream members they must equal. */
            static const char *const same[][2] = {
                { "client", "client" },   { "server", "proxy" },
                { "status", "status" },   { "request_packet", "request_packet" },
                { "method", "method" },   { "response_packet", "response_packet" },
            };
            for (size_t k = 0; k < sizeof same / sizeof same[0]; k++)
                expect_member(l, ds, same[k][0], down, dend, same[k][1], t);
            char *cause = member(l, e, "cause");
            char want[32];
            snprintf(want, sizeof want, "%zu", race);
            cr_expect(cause && strcmp(cause, want) == 0, "%s: cause %s, the race is #%zu", t,
                      cause, race);
            free(cause);
        }
        free(ureq);
        free(ucli);
        free(out);
        free(truth);
    }
    globfree(&g);
    cr_expect_geq(bad, 3, "nginx, HAProxy and Caddy each answered a user 502");
}

/* Over all the proxy captures at once, the server summary counts the
 * races the users felt (5xx, dropped) and those the proxy absorbed. */
Test(legs, server_summary_counts_what_users_felt)
{
    glob_t g;
    cr_assert_eq(glob(HANGUP_SAMPLES "/proxy-*.truth", 0, NULL, &g), 0);
    char cmd[65536];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --json", HANGUP_BIN);
    unsigned long felt = 0, absorbed = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *t = g.gl_pathv[i];
        char *truth = tu_slurp(t, NULL), *o = member(truth, NULL, "outcome");
        const char *dend;
        if (object(truth, "downstream", &dend) && o) {
            felt += strcmp(o, "bad-gateway") == 0 || strcmp(o, "closed") == 0;
            absorbed += strcmp(o, "retried") == 0;
        }
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%.*s.pcap'",
                                (int)(strlen(t) - 6), t);
        free(o);
        free(truth);
    }
    globfree(&g);
    char *out = NULL;
    cr_assert_eq(tu_sh(cmd, &out, NULL), 0);
    unsigned long gf = 0, ga = 0;
    for (const char *s = out; (s = strstr(s, "{\"type\":\"server\"")) != NULL; s++) {
        char *f = member(s, strchr(s, '\n'), "users_felt"), *a = member(s, strchr(s, '\n'),
                                                                         "proxy_absorbed");
        cr_assert(f && a, "%s", s);
        gf += strtoul(f, NULL, 10);
        ga += strtoul(a, NULL, 10);
        free(f);
        free(a);
    }
    cr_expect_eq(gf, felt, "users felt: %s", out);
    cr_expect_eq(ga, absorbed, "proxy absorbed: %s", out);
    free(out);
}
