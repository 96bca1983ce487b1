/*
 * test_metrics.c -- `live --metrics`: the Prometheus exposition and its
 * HTTP server.
 *
 * The writer in process: hostile label values escaped and read back by a
 * parser of the text format written here (HELP, TYPE, samples, label
 * escapes), bounded label cardinality with more servers than labels,
 * counters that never go down, the server gauges, the spool gauge set from
 * another thread, the --metrics address forms; the HTTP side on a loopback
 * port of its own (GET, HEAD, 404, 405, 503 before the first publication,
 * a port in use).  Every exposition is checked by Prometheus' own promtool
 * (`promtool check metrics`): without promtool the tests fail, they are not
 * skipped (scripts/install-deps installs the Debian package prometheus).
 *
 * Then `hangup live --metrics` on loopback with real traffic (a Node.js
 * server and client racing, curl refused by a closed port, on ports of the
 * test's own): the scraped counters by kind equal the incidents live
 * printed, and promtool accepts the scrape.  That part needs root (to
 * capture) and node, as tests/test_live.c.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hangup/incident.h"
#include "hangup/metrics.h"
#include "hangup/strbuf.h"
#include "testutil.h"

/* ---- a parser of the text exposition format, for reading back ---- */

#define MAXS 512
#define MAXL 4

typedef struct sample {
    char name[96];
    char type[16];                 /* its family's TYPE */
    int nl;
    char lname[MAXL][32];
    char lval[MAXL][256];          /* unescaped */
    double value;
} sample;

typedef struct parsed {
    sample s[MAXS];
    int n;
    char err[256];                 /* "" when the text parsed */
} parsed;

/* Read a label value's inside at *p up to its closing quote, unescaping
 * \\, \" and \n; false on any other escape or a raw newline. */
static bool unescape(const char **p, char *out, size_t n)
{
    size_t k = 0;
    const char *q = *p;
    for (; *q && *q != '"'; q++) {
        char c = *q;
        if (c == '\n')
            return false;
        if (c == '\\') {
            q++;
            c = *q == 'n' ? '\n' : (*q == '\\' || *q == '"') ? *q : 0;
            if (!c)
                return false;
        }
        if (k + 1 < n)
            out[k++] = c;
    }
    if (*q != '"')
        return false;
    out[k] = '\0';
    *p = q + 1;
    return true;
}

/* One sample line into s; false when malformed. */
static bool parse_sample(const char *line, sample *s)
{
    const char *p = line;
    size_t k = 0;
    while (*p && *p != '{' && *p != ' ' && k + 1 < sizeof s->name)
        s->name[k++] = *p++;
    s->name[k] = '\0';
    s->nl = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nl == MAXL)
                return false;
            k = 0;
            while (*p && *p != '=' && k + 1 < sizeof s->lname[0])
                s->lname[s->nl][k++] = *p++;
            s->lname[s->nl][k] = '\0';
            if (p[0] != '=' || p[1] != '"')
                return false;
            p += 2;
            if (!unescape(&p, s->lval[s->nl], sizeof s->lval[0]))
                return false;
            s->nl++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p != ' ')
        return false;
    char *end;
    s->value = strtod(p + 1, &end);
    return end != p + 1 && *end == '\0';
}

/* The whole text: every line a HELP, a TYPE or a sample of the family just
 * typed, the text ending in a newline. */
static void parse(const char *text, parsed *out)
{
    memset(out, 0, sizeof *out);
    char family[96] = "", type[16] = "";
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        snprintf(out->err, sizeof out->err, "the text does not end in a newline");
        return;
    }
    char *copy = strdup(text), *save = NULL;
    int lineno = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && !out->err[0];
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (strncmp(line, "# HELP ", 7) == 0) {
            continue;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            if (sscanf(line + 7, "%95s %15s", family, type) != 2)
                snprintf(out->err, sizeof out->err, "line %d: bad TYPE", lineno);
        } else if (out->n == MAXS) {
            snprintf(out->err, sizeof out->err, "more than %d samples", MAXS);
        } else {
            sample *s = &out->s[out->n];
            if (!parse_sample(line, s))
                snprintf(out->err, sizeof out->err, "line %d: malformed: %s", lineno, line);
            else if (strcmp(s->name, family) != 0)
                snprintf(out->err, sizeof out->err, "line %d: %s outside its family %s", lineno,
                         s->name, family);
            snprintf(s->type, sizeof s->type, "%s", type);
            out->n++;
        }
    }
    free(copy);
}

static const char *label_of(const sample *s, const char *name)
{
    for (int i = 0; i < s->nl; i++)
        if (strcmp(s->lname[i], name) == 0)
            return s->lval[i];
    return NULL;
}

/* The sum of `name`'s samples whose label `lname` is `lval` (NULL: all). */
static double sum_of(const parsed *p, const char *name, const char *lname, const char *lval)
{
    double v = 0;
    for (int i = 0; i < p->n; i++) {
        const char *l = lname ? label_of(&p->s[i], lname) : NULL;
        if (strcmp(p->s[i].name, name) == 0 && (!lname || (l && strcmp(l, lval) == 0)))
            v += p->s[i].value;
    }
    return v;
}

/* promtool check metrics on text: its exit status, its complaints in
 * *said (malloc'd).  Fails the test when promtool is not installed. */
static int promtool(const char *text, char **said)
{
    cr_assert_eq(system("command -v promtool >/dev/null 2>&1"), 0,
                 "promtool is not installed (Debian package prometheus: scripts/install-deps)");
    char *path = strdup(tu_tmp(".prom"));
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1", path);
    int rc = tu_sh(cmd, said, NULL);
    unlink(path);
    free(path);
    return rc;
}

static char *text_of(hu_metrics *m)
{
    hu_sb sb = { 0 };
    cr_assert(hu_metrics_text(m, &sb), "nothing published");
    char *t = strdup(hu_sb_cstr(&sb));
    hu_sb_free(&sb);
    return t;
}

static const hu_metrics_counts zero_counts;

/* ---- the writer ---- */

Test(metrics, hostile_label_values_are_escaped_and_read_back)
{
    static const char *const hostile[] = {
        "quote\"d", "back\\slash", "new\nline", "} 1\nfake_metric{a=\"b\"} 2",
        "tab\tcr\rbel\a", "bad utf-8 \xff\xfe", "caf\xc3\xa9 \xe2\x9c\x93", "\\\"\\n",
    };
    /* What each reads back as: control characters other than newline and
     * bytes that are not UTF-8 become U+FFFD. */
    static const char *const back[] = {
        "quote\"d", "back\\slash", "new\nline", "} 1\nfake_metric{a=\"b\"} 2",
        "tab\xef\xbf\xbd" "cr\xef\xbf\xbd" "bel\xef\xbf\xbd",
        "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd", "caf\xc3\xa9 \xe2\x9c\x93", "\\\"\\n",
    };
    size_t n = sizeof hostile / sizeof hostile[0];
    hu_metrics *m = hu_metrics_new("0.1.0\"\n\\x");
    cr_assert_not_null(m);
    hu_metrics_server sv[8];
    for (size_t i = 0; i < n; i++) {
        hu_metrics_incident(m, HU_KIND_RACE, HU_VERDICT_CROSSED, hostile[i]);
        sv[i] = (hu_metrics_server){ .server = hostile[i], .idle_timeout_us = 5000000,
                                     .race_risk = i % 2 };
    }
    cr_assert(hu_metrics_publish(m, &zero_counts, sv, n));
    char *t = text_of(m);
    cr_expect_null(strstr(t, "\nfake_metric"), "an injected line: %s", t);
    cr_expect(strstr(t, "hangup_build_info{version=\"0.1.0\\\"\\n\\\\x\"} 1\n"), "%s", t);
    parsed *p = malloc(sizeof *p);
    parse(t, p);
    cr_assert_str_empty(p->err, "%s\n%s", p->err, t);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (int k = 0; k < p->n; k++) {
            const char *srv = label_of(&p->s[k], "server");
            if (!srv || strcmp(srv, back[i]) != 0)
                continue;
            if (strcmp(p->s[k].name, "hangup_incidents_total") == 0) {
                cr_expect_eq(p->s[k].value, 1);
                cr_expect_str_eq(label_of(&p->s[k], "kind"), "keepalive-race");
                cr_expect_str_eq(label_of(&p->s[k], "verdict"), "crossed");
            } else if (strcmp(p->s[k].name, "hangup_server_idle_timeout_seconds") == 0) {
                cr_expect_eq(p->s[k].value, 5.0);
            } else {
                cr_expect_str_eq(p->s[k].name, "hangup_server_race_risk");
                cr_expect_eq(p->s[k].value, (double)(i % 2));
            }
            found++;
        }
        cr_expect_eq(found, 3, "server %zu read back %d times", i, found);
    }
    char *said = NULL;
    cr_expect_eq(promtool(t, &said), 0, "promtool: %s\n%s", said, t);
    cr_expect_str_empty(said ? said : "", "promtool: %s", said);
    free(said);
    free(p);
    free(t);
    hu_metrics_free(m);
}

Test(metrics, cardinality_is_bounded_and_counters_never_go_down)
{
    hu_metrics *m = hu_metrics_new("0.1.0");
    cr_assert_not_null(m);
    enum { SERVERS = 50 };
    char name[SERVERS][32];
    uint64_t total = 0;
    for (int i = 0; i < SERVERS; i++) {
        snprintf(name[i], sizeof name[i], "10.0.%d.%d:80", i / 256, i % 256);
        for (int k = 0; k <= i % 3; k++, total++)
            hu_metrics_incident(m, i % 2 ? HU_KIND_REFUSED : HU_KIND_RACE, HU_VERDICT_STALE,
                                name[i]);
    }
    hu_metrics_incident(m, HU_KIND_RACE, HU_VERDICT_CROSSED, "other");   /* a name, not a label */
    total++;
    cr_assert(hu_metrics_publish(m, &zero_counts, NULL, 0));
    char *t1 = text_of(m);
    parsed *p1 = malloc(sizeof *p1), *p2 = malloc(sizeof *p2);
    parse(t1, p1);
    cr_assert_str_empty(p1->err, "%s", p1->err);
    /* 20 servers of their own and "other", nothing else. */
    char seen[64][64];
    int nseen = 0;
    for (int k = 0; k < p1->n; k++) {
        if (strcmp(p1->s[k].name, "hangup_incidents_total") != 0)
            continue;
        const char *srv = label_of(&p1->s[k], "server");
        cr_assert_not_null(srv);
        bool dup = false;
        for (int j = 0; j < nseen; j++)
            dup = dup || strcmp(seen[j], srv) == 0;
        if (!dup && nseen < 64)
            snprintf(seen[nseen++], sizeof seen[0], "%s", srv);
    }
    cr_expect_eq(nseen, HU_METRICS_TOP_SERVERS + 1, "%d server labels", nseen);
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", NULL, NULL), (double)total);
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", "server", name[0]), 1);
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", "server", name[19]), 2);
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", "server", name[20]), 0);
    /* Each incident counted once: the labelled servers' and other's add up. */
    uint64_t labelled = 0;
    for (int i = 0; i < HU_METRICS_TOP_SERVERS; i++)
        labelled += (uint64_t)(i % 3 + 1);
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", "server", "other"),
                 (double)(total - labelled));
    /* Kinds and verdicts: races are stale but for the server called "other". */
    cr_expect_eq(sum_of(p1, "hangup_incidents_total", "verdict", "crossed"), 1);
    char *said = NULL;
    cr_expect_eq(promtool(t1, &said), 0, "promtool: %s", said);
    free(said);

    /* More incidents: a labelled server keeps its label, an unlabelled one
     * stays under other, and no series goes down. */
    hu_metrics_incident(m, HU_KIND_RACE, HU_VERDICT_STALE, name[0]);
    hu_metrics_incident(m, HU_KIND_GATEWAY, 0, name[49]);
    cr_assert(hu_metrics_publish(m, &zero_counts, NULL, 0));
    char *t2 = text_of(m);
    parse(t2, p2);
    cr_assert_str_empty(p2->err, "%s", p2->err);
    cr_expect_eq(sum_of(p2, "hangup_incidents_total", "server", name[0]), 2);
    cr_expect_eq(sum_of(p2, "hangup_incidents_total", "server", name[49]), 0);
    cr_expect_eq(sum_of(p2, "hangup_incidents_total", "kind", "gateway-error"), 1);
    for (int k = 0; k < p1->n; k++) {
        bool there = false;
        for (int j = 0; j < p2->n; j++) {
            if (strcmp(p1->s[k].name, p2->s[j].name) != 0 || p1->s[k].nl != p2->s[j].nl)
                continue;
            bool same = true;
            for (int l = 0; l < p1->s[k].nl; l++)
                same = same && strcmp(p1->s[k].lval[l], p2->s[j].lval[l]) == 0;
            if (same) {
                there = true;
                cr_expect_geq(p2->s[j].value, p1->s[k].value, "%s went down", p1->s[k].name);
            }
        }
        cr_expect(there, "series %d (%s) vanished", k, p1->s[k].name);
    }
    free(t1);
    free(t2);
    free(p1);
    free(p2);
    hu_metrics_free(m);
}

Test(metrics, families_counters_and_server_gauges)
{
    hu_metrics *m = hu_metrics_new("0.1.0");
    cr_assert_not_null(m);
    hu_metrics_counts c = { .packets = 53, .bytes = 9001, .connections = 4,
                            .open_connections = 2, .evicted = 1, .kernel_drops = 7,
                            .interface_drops = 3 };
    enum { N = 25 };
    hu_metrics_server sv[N];
    char name[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(name[i], sizeof name[i], "[2001:db8::%x]:443", i);
        sv[i] = (hu_metrics_server){ .server = name[i],
                                     .idle_timeout_us = i == 1 ? -1 : 312640 + i * 1000000LL,
                                     .race_risk = i == 0 };
    }
    cr_assert(hu_metrics_publish(m, &c, sv, N));
    char *t = text_of(m);
    cr_expect(strstr(t, "# TYPE hangup_incidents_total counter\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_packets_total 53\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_captured_bytes_total 9001\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_connections_total 4\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_open_connections 2\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_evicted_connections_total 1\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_kernel_dropped_packets_total 7\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_interface_dropped_packets_total 3\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_spool_incidents 0\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_server_idle_timeout_seconds{server=\"[2001:db8::0]:443\"} "
                        "0.312640\n"), "%s", t);
    cr_expect(strstr(t, "\nhangup_server_idle_timeout_seconds{server=\"[2001:db8::2]:443\"} "
                        "2.312640\n"), "%s", t);
    cr_expect_null(strstr(t, "idle_timeout_seconds{server=\"[2001:db8::1]:443\"}"),
                   "an unknown timeout is left out: %s", t);
    cr_expect(strstr(t, "\nhangup_server_race_risk{server=\"[2001:db8::1]:443\"} 0\n"), "%s", t);
    parsed *p = malloc(sizeof *p);
    parse(t, p);
    cr_assert_str_empty(p->err, "%s", p->err);
    int risk = 0, idle = 0;
    for (int k = 0; k < p->n; k++) {
        risk += strcmp(p->s[k].name, "hangup_server_race_risk") == 0;
        idle += strcmp(p->s[k].name, "hangup_server_idle_timeout_seconds") == 0;
        if (strcmp(p->s[k].name, "hangup_incidents_total") == 0 ||
            strstr(p->s[k].name, "_total"))
            cr_expect_str_eq(p->s[k].type, "counter", "%s", p->s[k].name);
    }
    cr_expect_eq(risk, HU_METRICS_TOP_SERVERS, "the first 20 servers only");
    cr_expect_eq(idle, HU_METRICS_TOP_SERVERS - 1);
    cr_expect_eq(sum_of(p, "hangup_server_race_risk", NULL, NULL), 1);
    char *said = NULL;
    cr_expect_eq(promtool(t, &said), 0, "promtool: %s", said);
    cr_expect_str_empty(said ? said : "", "promtool: %s", said);
    free(said);
    free(p);
    free(t);
    hu_metrics_free(m);
}

static void *set_spool(void *arg)
{
    hu_metrics_set_spool(arg, 7);
    return NULL;
}

Test(metrics, spool_depth_is_set_from_another_thread)
{
    hu_metrics *m = hu_metrics_new("0.1.0");
    cr_assert_not_null(m);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_spool, m), 0);
    pthread_join(th, NULL);
    cr_assert(hu_metrics_publish(m, &zero_counts, NULL, 0));
    char *t = text_of(m);
    cr_expect(strstr(t, "# TYPE hangup_spool_incidents gauge\nhangup_spool_incidents 7\n"), "%s",
              t);
    free(t);
    hu_metrics_free(m);
}

Test(metrics, listen_address_forms)
{
    hu_metrics_addr a;
    char err[256];
    cr_assert(hu_metrics_parse_addr("9464", &a, err, sizeof err), "%s", err);
    cr_expect_eq(a.family, AF_INET);
    cr_expect_eq(a.port, 9464);
    cr_expect(memcmp(a.addr, "\x7f\0\0\x01", 4) == 0, "a port alone listens on loopback");
    cr_assert(hu_metrics_parse_addr(":9464", &a, err, sizeof err), "%s", err);
    cr_expect(memcmp(a.addr, "\x7f\0\0\x01", 4) == 0, ":PORT listens on loopback");
    cr_assert(hu_metrics_parse_addr("0.0.0.0:80", &a, err, sizeof err), "%s", err);
    cr_expect(a.family == AF_INET && a.port == 80 && memcmp(a.addr, "\0\0\0\0", 4) == 0);
    cr_assert(hu_metrics_parse_addr("[::1]:65535", &a, err, sizeof err), "%s", err);
    cr_expect(a.family == AF_INET6 && a.port == 65535 && a.addr[15] == 1);
    static const char *const bad[] = {
        "", ":", "0", "65536", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:8o", "::1:80", "[::1]",
        "[::1]80", "[]:80", "[127.0.0.1]:80", "localhost:80", "300.0.0.1:80", "1.2.3.4:+80",
        "1.2.3.4:-1", "1.2.3.4:080000", "[::1]:99999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_not(hu_metrics_parse_addr(bad[i], &a, err, sizeof err), "'%s' accepted",
                      bad[i]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_expect(strstr(err, quoted) && !strchr(err, '\n'), "'%s': %s", bad[i], err);
    }
}

/* ---- the HTTP server ---- */

/* A context listening on a free loopback port (*port). */
static hu_metrics *listening(int *port)
{
    hu_metrics *m = hu_metrics_new("0.1.0");
    cr_assert_not_null(m);
    char err[256] = "";
    for (int p = 20000 + (int)(getpid() % 9000), tries = 0; tries < 50; tries++, p += 97) {
        hu_metrics_addr a;
        char arg[32];
        snprintf(arg, sizeof arg, "127.0.0.1:%d", p);
        cr_assert(hu_metrics_parse_addr(arg, &a, err, sizeof err));
        if (hu_metrics_listen(m, &a, err, sizeof err)) {
            *port = p;
            return m;
        }
    }
    cr_assert_fail("no free port: %s", err);
    return NULL;
}

/* curl's answer to `opts` on /path: the status, the body into *body and
 * the headers into *head (malloc'd, when not NULL). */
static int fetch(int port, const char *opts, const char *path, char **body, char **head)
{
    char *b = strdup(tu_tmp(".body")), *h = strdup(tu_tmp(".head"));
    char cmd[1024], *code = NULL;
    snprintf(cmd, sizeof cmd, "curl -s -m 10 %s -D '%s' -o '%s' -w '%%{http_code}' "
                              "'http://127.0.0.1:%d%s'", opts, h, b, port, path);
    tu_sh(cmd, &code, NULL);
    int status = code ? atoi(code) : -1;
    free(code);
    if (body)
        *body = tu_slurp(b, NULL);
    if (head)
        *head = tu_slurp(h, NULL);
    unlink(b);
    unlink(h);
    free(b);
    free(h);
    return status;
}

Test(metrics, http_serves_get_and_head_on_metrics_only, .timeout = 60)
{
    int port;
    hu_metrics *m = listening(&port);
    char *body = NULL, *head = NULL;
    cr_expect_eq(fetch(port, "", "/metrics", NULL, NULL), 503, "before the first publication");
    hu_metrics_incident(m, HU_KIND_REFUSED, 0, "127.0.0.1:9");
    hu_metrics_counts c = { .packets = 2 };
    cr_assert(hu_metrics_publish(m, &c, NULL, 0));
    char *t = text_of(m);
    cr_expect_eq(fetch(port, "", "/metrics", &body, &head), 200);
    cr_expect_str_eq(body ? body : "", t, "the scrape is the text published");
    cr_expect(head && strstr(head, "Content-Type: text/plain; version=0.0.4; charset=utf-8"),
              "%s", head);
    free(body);
    free(head);
    cr_expect_eq(fetch(port, "-I", "/metrics", &body, &head), 200);
    cr_expect(body && !strstr(body, "# HELP") && strstr(body, "Content-Length: "),
              "HEAD has headers, no body: %s", body);
    free(body);
    free(head);
    cr_expect_eq(fetch(port, "", "/", NULL, NULL), 404);
    cr_expect_eq(fetch(port, "", "/metrics/x", NULL, NULL), 404);
    cr_expect_eq(fetch(port, "", "/metricsx?a=b", NULL, NULL), 404);
    cr_expect_eq(fetch(port, "-X POST -d x=1", "/metrics", NULL, &head), 405);
    cr_expect(head && strstr(head, "Allow: GET, HEAD"), "%s", head);
    free(head);
    cr_expect_eq(fetch(port, "-X DELETE", "/metrics", NULL, NULL), 405);
    /* A port in use: one line naming it, nothing listening twice. */
    hu_metrics *m2 = hu_metrics_new("0.1.0");
    hu_metrics_addr a;
    char arg[32], err[256];
    snprintf(arg, sizeof arg, "127.0.0.1:%d", port);
    cr_assert(hu_metrics_parse_addr(arg, &a, err, sizeof err));
    cr_expect_not(hu_metrics_listen(m2, &a, err, sizeof err));
    cr_expect(strstr(err, arg) && strstr(err, "Address already in use") && !strchr(err, '\n'),
              "%s", err);
    hu_metrics_free(m2);
    /* Still served after the failed attempt, and fresh after a publication. */
    hu_metrics_incident(m, HU_KIND_REFUSED, 0, "127.0.0.1:9");
    cr_assert(hu_metrics_publish(m, &c, NULL, 0));
    cr_expect_eq(fetch(port, "", "/metrics", &body, NULL), 200);
    cr_expect(body && strstr(body, "hangup_incidents_total{kind=\"refused\",verdict=\"\","
                                   "server=\"127.0.0.1:9\"} 2\n"), "%s", body);
    free(body);
    free(t);
    hu_metrics_free(m);
    cr_expect_neq(fetch(port, "", "/metrics", NULL, NULL), 200, "still listening after free");
}

Test(metrics, http_listens_on_ipv6_loopback, .timeout = 60)
{
    hu_metrics *m = hu_metrics_new("0.1.0");
    cr_assert_not_null(m);
    char err[256] = "", arg[32], cmd[256];
    int port = 0;
    for (int p = 30000 + (int)(getpid() % 9000), tries = 0; tries < 50 && !port;
         tries++, p += 97) {
        hu_metrics_addr a;
        snprintf(arg, sizeof arg, "[::1]:%d", p);
        cr_assert(hu_metrics_parse_addr(arg, &a, err, sizeof err));
        if (hu_metrics_listen(m, &a, err, sizeof err))
            port = p;
    }
    cr_assert_neq(port, 0, "no free port on ::1: %s", err);
    cr_assert(hu_metrics_publish(m, &zero_counts, NULL, 0));
    char *o = NULL;
    snprintf(cmd, sizeof cmd, "curl -s -g -m 10 'http://[::1]:%d/metrics'", port);
    cr_expect_eq(tu_sh(cmd, &o, NULL), 0);
    cr_expect(o && strstr(o, "hangup_build_info{version=\"0.1.0\"} 1\n"), "%s", o);
    free(o);
    /* IPV6_V6ONLY: the IPv4 loopback is not served on the same port. */
    snprintf(cmd, sizeof cmd, "curl -s -m 10 'http://127.0.0.1:%d/metrics'", port);
    cr_expect_neq(tu_sh(cmd, NULL, NULL), 0);
    hu_metrics_free(m);
}

Test(metrics, cli_errors_are_one_line_before_capture, .timeout = 60)
{
    char cmd[1024], *o = NULL, *e = NULL;
    snprintf(cmd, sizeof cmd, "'%s' live --no-db -i lo -c 1 --metrics 127.0.0.1:99999",
             HANGUP_BIN);
    cr_expect_eq(tu_sh(cmd, &o, &e), 2);
    cr_expect_str_eq(e, "hangup: live: --metrics '127.0.0.1:99999': the port must be a whole "
                        "number from 1 to 65535 (ADDR:PORT, [IPV6]:PORT or PORT)\n");
    free(o);
    free(e);
    int port;
    hu_metrics *m = listening(&port);
    snprintf(cmd, sizeof cmd, "'%s' live --no-db -i lo -c 1 --metrics %d", HANGUP_BIN, port);
    cr_expect_eq(tu_sh(cmd, &o, &e), 2);
    char want[256];
    snprintf(want, sizeof want, "hangup: live: --metrics 127.0.0.1:%d: cannot listen: Address "
                                "already in use (another program has that port: choose "
                                "another)\n", port);
    cr_expect_str_eq(e, want, "no capture begun, one line");
    free(o);
    free(e);
    hu_metrics_free(m);
}

/* ---- live, on loopback, with real traffic ---- */

/* How many incidents of `kind` the JSON lines in out are. */
static int printed(const char *out, const char *kind)
{
    int n = 0;
    char *copy = strdup(out), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *type = tu_json_get(l, "type"), *k = tu_json_get(l, "kind");
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", kind);
        n += type && strcmp(type, "\"incident\"") == 0 && k && strcmp(k, want) == 0;
        free(type);
        free(k);
    }
    free(copy);
    return n;
}

Test(metrics, live_scrape_matches_what_live_printed, .timeout = 120)
{
    if (geteuid() != 0)
        cr_skip_test("capturing needs root");
    cr_assert_eq(system("node --version >/dev/null 2>&1"), 0,
                 "node is not installed (scripts/install-deps installs it)");
    /* Three ports nothing listens on, below the ephemeral range. */
    int port = tu_free_port(21000 + (int)(getpid() % 9000));
    int closed = tu_free_port(port + 1), mport = tu_free_port(closed + 1);
    char filter[96], portarg[32], url[64], marg[32];
    snprintf(filter, sizeof filter, "tcp port %d or tcp port %d", port, closed);
    snprintf(portarg, sizeof portarg, "port=%d", port);
    snprintf(url, sizeof url, "url=http://127.0.0.1:%d", port);
    snprintf(marg, sizeof marg, "127.0.0.1:%d", mport);
    char *out = strdup(tu_tmp(".out")), *err = strdup(tu_tmp(".err"));
    char *live_argv[] = { (char *)HANGUP_BIN, "live", "--json", "--no-db", "-i", "lo", "-f",
                          filter, "--metrics", marg, NULL };
    pid_t hp = tu_spawn(live_argv, out, err);
    cr_assert(tu_wait_text(err, "capturing on lo", 10000), "hangup live did not start");
    char *e0 = tu_slurp(err, NULL);
    char want[128];
    snprintf(want, sizeof want, "serving Prometheus metrics at http://%s/metrics\n", marg);
    cr_expect(e0 && strstr(e0, want), "%s", e0);
    free(e0);

    /* A stale race (samples/capture.sh's race-node-ipv4 plan), then two
     * connections refused by a port nobody listens on. */
    char server_js[4200], client_js[4200];
    snprintf(server_js, sizeof server_js, "%s", tu_sample("node-server.js"));
    snprintf(client_js, sizeof client_js, "%s", tu_sample("node-client.js"));
    char *srv_argv[] = { "node", server_js, "mode=raw", "host=127.0.0.1", portarg, "close=400",
                         NULL };
    pid_t sp = tu_spawn(srv_argv, "/dev/null", "/dev/null");
    tu_sleep_ms(700);
    char *cli_argv[] = { "node", client_js, url,
                         "plan=[[\"GET\",\"/a\",0,0],[\"GET\",\"/b\",50,0],"
                         "[\"POST\",\"/orders\",300,200],[\"GET\",\"/c\",0,0]]",
                         "linger=300", NULL };
    pid_t cp = tu_spawn(cli_argv, "/dev/null", "/dev/null");
    int st;
    cr_assert(tu_wait_exit(cp, 30000, &st), "the client did not finish");
    char cmd[512];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "curl -s -m 5 http://127.0.0.1:%d/", closed);
        cr_expect_eq(tu_sh(cmd, NULL, NULL), 7, "curl was not refused");
    }

    /* Scrape until the counters have caught up with what was printed (a
     * publication a second), then compare every kind. */
    static const char *const kinds[] = {
        "keepalive-race", "server-timeout", "reset-before-response", "client-abort", "refused",
        "connect-timeout", "truncated-response", "closed-before-response", "gateway-error",
    };
    char *text = NULL, *o = NULL;
    parsed *p = malloc(sizeof *p);
    bool caught_up = false;
    for (int t = 0; t < 8000 && !caught_up; t += 250) {
        free(o);
        free(text);
        o = tu_slurp(out, NULL);
        text = NULL;
        int code = fetch(mport, "", "/metrics", &text, NULL);
        if (code == 200 && text && o) {
            parse(text, p);
            caught_up = !p->err[0] && printed(o, "keepalive-race") == 1 &&
                        printed(o, "refused") == 2;
            for (size_t k = 0; k < 9 && caught_up; k++)
                caught_up = sum_of(p, "hangup_incidents_total", "kind", kinds[k]) ==
                            printed(o, kinds[k]);
        }
        if (!caught_up)
            tu_sleep_ms(250);
    }
    cr_assert_not_null(text, "no scrape answered");
    cr_assert_not_null(o);
    cr_expect_eq(printed(o, "keepalive-race"), 1, "live printed: %s", o);
    cr_expect_eq(printed(o, "refused"), 2, "live printed: %s", o);
    cr_assert_str_empty(p->err, "%s\n%s", p->err, text);
    for (size_t k = 0; k < 9; k++)
        cr_expect_eq(sum_of(p, "hangup_incidents_total", "kind", kinds[k]),
                     printed(o, kinds[k]), "%s: scraped %g, printed %d\n%s", kinds[k],
                     sum_of(p, "hangup_incidents_total", "kind", kinds[k]),
                     printed(o, kinds[k]), text);
    /* Labelled by server and verdict, with the server's inferred facts. */
    char line[160];
    snprintf(line, sizeof line, "hangup_incidents_total{kind=\"keepalive-race\",verdict=\"stale\","
                                "server=\"127.0.0.1:%d\"} 1\n", port);
    cr_expect(strstr(text, line), "%s", text);
    snprintf(line, sizeof line, "hangup_incidents_total{kind=\"refused\",verdict=\"\","
                                "server=\"127.0.0.1:%d\"} 2\n", closed);
    cr_expect(strstr(text, line), "%s", text);
    /* The node server closes after 400 ms idle, later on a loaded machine
     * (its timer fires late): never earlier. */
    char srv[32];
    snprintf(srv, sizeof srv, "127.0.0.1:%d", port);
    double idle = sum_of(p, "hangup_server_idle_timeout_seconds", "server", srv);
    cr_expect(idle >= 0.4 && idle < 3.0, "the node server's 400 ms keep-alive timeout: %g\n%s",
              idle, text);
    snprintf(line, sizeof line, "hangup_server_race_risk{server=\"127.0.0.1:%d\"} 1\n", port);
    cr_expect(strstr(text, line), "%s", text);
    cr_expect_geq(sum_of(p, "hangup_packets_total", NULL, NULL), 20, "%s", text);
    cr_expect_geq(sum_of(p, "hangup_captured_bytes_total", NULL, NULL), 1000, "%s", text);
    cr_expect_geq(sum_of(p, "hangup_connections_total", NULL, NULL), 4, "%s", text);
    char *said = NULL;
    cr_expect_eq(promtool(text, &said), 0, "promtool: %s\n%s", said, text);
    cr_expect_str_empty(said ? said : "", "promtool: %s", said);
    free(said);

    kill(hp, SIGINT);
    cr_assert(tu_wait_exit(hp, 10000, &st), "hangup live did not stop on SIGINT");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", WEXITSTATUS(st));
    kill(sp, SIGTERM);
    waitpid(sp, NULL, 0);
    cr_expect_neq(fetch(mport, "", "/metrics", NULL, NULL), 200, "still served after the stop");
    free(text);
    free(o);
    free(p);
    unlink(out);
    unlink(err);
    free(out);
    free(err);
}
