/*
 * test_software.c -- who the client and the server are (software.c,
 * relay.c; docs/DESIGN.md §2.10): the recognition table row by row,
 * hostile header values, and the real captures of
 * samples/software-capture.sh, whose expected names are built from what
 * each tool said its version was when it was captured
 * (samples/software.versions), never written here by hand.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/http.h"
#include "hangup/report.h"
#include "hangup/software.h"
#include "hangup/strbuf.h"
#include "testutil.h"

/* Offer one header, as the HTTP parser would. */
static bool offer(hu_sw_ident *id, bool from_client, const char *name, const char *value)
{
    int h = hu_sw_header_id(name, strlen(name));
    cr_assert_geq(h, 0, "%s is an identifying header", name);
    return hu_sw_observe(id, from_client, h, name, strlen(name), (const uint8_t *)value,
                         strlen(value));
}

/* The side as one header leaves it. */
static hu_sw_ident one(bool from_client, const char *name, const char *value)
{
    hu_sw_ident id;
    memset(&id, 0, sizeof id);
    offer(&id, from_client, name, value);
    return id;
}

Test(software, header_names_are_matched_without_case)
{
    cr_expect_eq(hu_sw_header_id("User-Agent", 10), HU_SWH_USER_AGENT);
    cr_expect_eq(hu_sw_header_id("user-agent", 10), HU_SWH_USER_AGENT);
    cr_expect_eq(hu_sw_header_id("SERVER", 6), HU_SWH_SERVER);
    cr_expect_eq(hu_sw_header_id("x-envoy-expected-rq-timeout-ms", 30), HU_SWH_X_ENVOY);
    cr_expect_eq(hu_sw_header_id("user-agent-and-much-more-after-it", 33), -1);
    cr_expect_eq(hu_sw_header_id("X-Envoy-Attempt-Count", 21), HU_SWH_X_ENVOY);
    cr_expect_eq(hu_sw_header_id("x-forwarded-proto", 17), HU_SWH_X_FORWARDED);
    cr_expect_eq(hu_sw_header_id("Forwarded", 9), HU_SWH_X_FORWARDED);
    cr_expect_eq(hu_sw_header_id("Host", 4), -1);
    cr_expect_eq(hu_sw_header_id("Content-Length", 14), -1);
    cr_expect_eq(hu_sw_header_id("X", 1), -1);
    cr_expect_eq(hu_sw_header_id("x-", 2), -1);
}

/* Every row of the table that no capture here can show (cloud load
 * balancers, CDNs, clients not installed), each on its own. */
Test(software, recognition_table_rows)
{
    static const struct {
        bool client;
        const char *header, *value, *name, *kind;
    } rows[] = {
        { true, "User-Agent", "axios/1.6.8", "axios/1.6.8", "application" },
        { true, "User-Agent", "okhttp/4.12.0", "okhttp/4.12.0", "application" },
        { true, "User-Agent", "Apache-HttpClient/4.5.14 (Java/17.0.9)", "Apache HttpClient/4.5.14",
          "application" },
        { true, "User-Agent", "node-fetch", "node-fetch", "application" },
        { true, "User-Agent", "undici", "undici", "application" },
        { true, "User-Agent", "ELB-HealthChecker/2.0", "AWS load balancer", "load-balancer" },
        { true, "User-Agent", "kube-probe/1.29", "kube-probe/1.29", "application" },
        { true, "User-Agent", "GoogleHC/1.0", "Google Cloud load balancer", "load-balancer" },
        { true, "X-Amzn-Trace-Id", "Root=1-65f0a1b2-0123456789abcdef01234567", "AWS load balancer",
          "load-balancer" },
        { true, "X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1",
          "Google Cloud load balancer", "load-balancer" },
        { true, "CF-Ray", "8723a1b2c3d4e5f6-AMS", "Cloudflare", "proxy" },
        { true, "X-Envoy-Expected-Rq-Timeout-Ms", "15000", "Envoy", "proxy" },
        { true, "Via", "1.1 google", "Google Cloud load balancer", "load-balancer" },
        { true, "Via", "1.1 a1b2.cloudfront.net (CloudFront)", "Amazon CloudFront", "proxy" },
        { true, "Via", "1.1 vegur", "Heroku router", "proxy" },
        { true, "Via", "1.1 edge (squid/5.7)", "Squid", "proxy" },
        { true, "Via", "1.1 haproxy", "HAProxy", "proxy" },
        { true, "X-Forwarded-Proto", "https", "", "proxy" },
        { false, "Server", "awselb/2.0", "AWS load balancer", "load-balancer" },
        { false, "Server", "envoy", "Envoy", "proxy" },
        { false, "Server", "istio-envoy", "Envoy", "proxy" },
        { false, "Server", "cloudflare", "Cloudflare", "proxy" },
        { false, "Server", "openresty/1.25.3.1", "OpenResty/1.25.3.1", NULL },
        { false, "Server", "uvicorn", "uvicorn", "application" },
        { false, "Server", "Kestrel", "Kestrel", "application" },
        { false, "Server", "Jetty(9.4.53.v20231009)", "Jetty/9.4.53.v20231009", "application" },
        { false, "Server", "Microsoft-IIS/10.0", "Microsoft IIS/10.0", NULL },
        { false, "X-Powered-By", "Express", "Express (Node.js)", "application" },
        { false, "X-Powered-By", "PHP/8.2.7", "PHP/8.2.7", "application" },
        { false, "X-Powered-By", "Next.js", "Next.js", "application" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hu_sw_ident id = one(rows[i].client, rows[i].header, rows[i].value);
        cr_expect_str_eq(id.name, rows[i].name, "%s: %s", rows[i].header, rows[i].value);
        const char *k = hu_sw_kind_name((hu_sw_kind)id.kind);
        if (rows[i].kind)
            cr_expect(k && strcmp(k, rows[i].kind) == 0, "%s: %s is %s", rows[i].header,
                      rows[i].value, k ? k : "unknown");
        else
            cr_expect_null(k, "%s: %s", rows[i].header, rows[i].value);
        char ev[HU_SW_EVIDENCE_MAX];
        snprintf(ev, sizeof ev, "%s: %s", rows[i].header, rows[i].value);
        cr_expect(strcasecmp(id.evidence, ev) == 0, "%s", id.evidence);
    }
    /* A header sent the wrong way, or a value no row knows, says nothing. */
    hu_sw_ident id = one(false, "User-Agent", "curl/8.0");
    cr_expect_eq(id.strength, 0, "a response's User-Agent");
    id = one(true, "Server", "nginx");
    cr_expect_eq(id.strength, 0, "a request's Server");
    id = one(true, "User-Agent", "my-own-tool/1.0");
    cr_expect_eq(id.strength, 0);
    id = one(false, "Keep-Alive", "timeout=5, max=100");
    cr_expect_eq(id.strength, 0, "Apache's Keep-Alive is not Node's");
}

/* A proxy's mark beats the User-Agent it forwards; a Via beats the Server
 * it passes on; equal evidence keeps the first (Caddy's own Server header
 * comes before its upstream's). */
Test(software, stronger_evidence_replaces_weaker)
{
    hu_sw_ident id;
    memset(&id, 0, sizeof id);
    cr_expect(offer(&id, true, "User-Agent", "curl/7.88.1"));
    cr_expect(offer(&id, true, "X-Forwarded-For", "10.1.2.3"));
    cr_expect_str_eq(id.name, "");
    cr_expect_str_eq(hu_sw_kind_name((hu_sw_kind)id.kind), "proxy");
    cr_expect(offer(&id, true, "X-Amzn-Trace-Id", "Root=1-2-3"));
    cr_expect_str_eq(id.name, "AWS load balancer");
    cr_expect(!offer(&id, true, "User-Agent", "python-requests/2.31.0"));
    cr_expect_str_eq(id.evidence, "X-Amzn-Trace-Id: Root=1-2-3");

    memset(&id, 0, sizeof id);
    cr_expect(offer(&id, false, "Server", "Caddy"));
    cr_expect(!offer(&id, false, "Server", "gunicorn"));
    cr_expect_str_eq(id.name, "Caddy");
    cr_expect(offer(&id, false, "Via", "1.1 varnish (Varnish/7.1)"));
    cr_expect_str_eq(id.name, "Varnish");

    /* Via names its nearest hop last. */
    id = one(true, "Via", "1.1 varnish, 1.1 google");
    cr_expect_str_eq(id.name, "Google Cloud load balancer");
    id = one(true, "Via", "1.1 someproxy");
    cr_expect_str_eq(id.name, "");
    cr_expect_str_eq(hu_sw_kind_name((hu_sw_kind)id.kind), "proxy");
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Hostile values: any bytes, any length; what is kept is bounded,
 * printable, escaped, and says when it was cut. */
Test(software, hostile_header_values)
{
    static const uint8_t ctl[] = "curl/7.1\x1b[31m\x07\xff\xfe\r";
    hu_sw_ident id;
    memset(&id, 0, sizeof id);
    cr_assert(hu_sw_observe(&id, true, HU_SWH_USER_AGENT, "User-Agent", 10, ctl, sizeof ctl - 1));
    cr_expect_str_eq(id.name, "curl/7.1", "the version stops at the first odd byte");
    cr_expect_str_eq(id.evidence, "User-Agent: curl/7.1\\x1b[31m\\x07\\xff\\xfe\\x0d");

    size_t n = HU_HTTP_LINE_MAX;
    uint8_t *big = malloc(n);
    cr_assert_not_null(big);
    memcpy(big, "Apache/", 7);
    for (size_t i = 7; i < n; i++)
        big[i] = i % 3 ? (uint8_t)'9' : (uint8_t)(i & 0xff);
    memset(&id, 0, sizeof id);
    cr_assert(hu_sw_observe(&id, false, HU_SWH_SERVER, "Server", 6, big, n));
    cr_expect_lt(strlen(id.name), sizeof id.name);
    cr_expect(printable(id.name) && printable(id.evidence));
    cr_expect_lt(strlen(id.evidence), sizeof id.evidence);
    cr_expect(strcmp(id.evidence + strlen(id.evidence) - 3, "...") == 0, "%s", id.evidence);
    /* An X-Envoy-* header's own name is the evidence's, escaped too. */
    memset(&id, 0, sizeof id);
    cr_assert(hu_sw_observe(&id, true, HU_SWH_X_ENVOY, "X-Envoy-\x01", 9, big, 3));
    cr_expect_str_eq(id.evidence, "X-Envoy-\\x01: Apa");
    free(big);

    char out[8];
    hu_sw_escape(out, sizeof out, (const uint8_t *)"abcdefgh", 8);
    cr_expect_str_eq(out, "abcd...");
    hu_sw_escape(out, sizeof out, (const uint8_t *)"abcdefg", 7);
    cr_expect_str_eq(out, "abcdefg");
    hu_sw_escape(out, sizeof out, (const uint8_t *)"a\x01", 2);
    cr_expect_str_eq(out, "a\\x01");
    hu_sw_escape(out, sizeof out, (const uint8_t *)"\x01\x02", 2);
    cr_expect_str_eq(out, "\\x01...", "no escape is cut in half");
}

/* The HTTP parser hands over the identifying headers, trimmed, from any
 * message, and nothing else. */
typedef struct seen {
    int n;
    int hdr[8], dir[8];
    char val[8][64];
} seen;

static void on_hdr(void *arg, int dir, int hdr, const char *name, size_t nlen, const uint8_t *v,
                   size_t vn)
{
    (void)name, (void)nlen;
    seen *s = arg;
    if (s->n < 8) {
        s->hdr[s->n] = hdr;
        s->dir[s->n] = dir;
        snprintf(s->val[s->n], sizeof s->val[0], "%.*s", (int)vn, (const char *)v);
        s->n++;
    }
}

Test(software, parser_reports_identifying_headers)
{
    static const hu_http_cb cb = { NULL, NULL, on_hdr };
    hu_http *h = hu_http_new();
    seen s = { 0 };
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nuser-agent:  curl/7.88.1 \r\n"
                              "X-Forwarded-For: 1.2.3.4\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n"
                               "Keep-Alive: timeout=5\r\n\r\n";
    cr_assert(hu_http_feed(h, HU_HTTP_CLIENT, (const uint8_t *)req, sizeof req - 1, 1, &cb, &s));
    cr_assert(hu_http_feed(h, HU_HTTP_SERVER, (const uint8_t *)resp, sizeof resp - 1, 2, &cb, &s));
    cr_assert_eq(s.n, 4);
    cr_expect_eq(s.hdr[0], HU_SWH_USER_AGENT);
    cr_expect_str_eq(s.val[0], "curl/7.88.1");
    cr_expect_eq(s.dir[0], HU_HTTP_CLIENT);
    cr_expect_eq(s.hdr[1], HU_SWH_X_FORWARDED);
    cr_expect_eq(s.hdr[2], HU_SWH_SERVER);
    cr_expect_eq(s.dir[2], HU_HTTP_SERVER);
    cr_expect_eq(s.hdr[3], HU_SWH_KEEP_ALIVE);
    cr_expect_str_eq(s.val[3], "timeout=5");
    hu_http_free(h);
}

/* ---------------------------------------------------------------- captures */

/* What tool `tool` said its version was (samples/software.versions). */
static const char *version_of(const char *tool)
{
    static char line[256], v[128];
    FILE *f = fopen(tu_sample("software.versions"), "r");
    cr_assert_not_null(f, "samples/software.versions");
    v[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        size_t tl = strlen(tool);
        if (strncmp(line, tool, tl) == 0 && line[tl] == ' ') {
            snprintf(v, sizeof v, "%s", line + tl + 1);
            v[strcspn(v, "\n")] = '\0';
        }
    }
    fclose(f);
    cr_assert(v[0], "no version of %s recorded", tool);
    return v;
}

/* The first incident of a for this target (NULL: any) at this server
 * port (0: any). */
static const hu_incident_rec *find_rec(const tu_analysis *a, const char *target, uint16_t port)
{
    for (size_t i = 0; i < a->nrecs; i++) {
        const hu_incident_rec *r = a->recs[i];
        if ((!target || tu_bytes_is(r->request.target, r->request.target_len, target)) &&
            (!port || r->srv_port == port))
            return r;
    }
    cr_assert_fail("no incident for %s at port %u", target ? target : "any target", port);
    return NULL;
}

static const hu_incident_rec *by_target(const tu_analysis *a, const char *target)
{
    return find_rec(a, target, 0);
}

/* Each client, as its own User-Agent names it; Node.js http sends none and
 * stays unknown. */
Test(software, clients_in_a_real_capture, .timeout = 60)
{
    tu_analysis *a = tu_analyze_file(tu_sample("software-clients.pcap"));
    cr_assert_not_null(a);
    char want[128];
    static const struct { const char *target, *tool, *name; } c[] = {
        { "/c/curl", "curl", "curl" },
        { "/c/wget", "wget", "Wget" },
        { "/c/requests", "python-requests", "python-requests" },
        { "/c/urllib", "python", "Python urllib" },
        { "/c/java-httpclient", "java", "Java HttpClient" },
        { "/c/java-urlconnection", "java", "Java HttpURLConnection" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const hu_incident_rec *r = by_target(a, c[i].target);
        snprintf(want, sizeof want, "%s/%s", c[i].name, version_of(c[i].tool));
        cr_expect_str_eq(r->client_software, want, "%s", c[i].target);
        cr_expect_str_eq(r->client_kind, "application");
        cr_expect(strncmp(r->client_evidence, "User-Agent: ", 12) == 0, "%s", r->client_evidence);
    }
    cr_expect_str_eq(by_target(a, "/c/go")->client_software, "Go net/http");
    cr_expect_str_eq(by_target(a, "/c/go")->client_evidence, "User-Agent: Go-http-client/1.1");
    cr_expect_str_eq(by_target(a, "/c/fetch")->client_software, "Node.js fetch (undici)");
    const hu_incident_rec *n = by_target(a, "/c/node-http");
    cr_expect_str_eq(n->client_software, "");
    cr_expect_str_eq(n->client_kind, "");
    cr_expect_str_eq(n->client_evidence, "");
    cr_expect_str_eq(n->server_evidence, "", "the raw server sends no identifying header");

    /* The explanation names the identified client's own error, and keeps
     * every stack's when the client is unknown. */
    hu_sb sb = { 0 };
    hu_incident_render(&sb, by_target(a, "/c/requests"), false);
    cr_expect(strstr(hu_sb_cstr(&sb), "  Client: python-requests/"), "%s", hu_sb_cstr(&sb));
    cr_expect(strstr(hu_sb_cstr(&sb), "The client saw: python-requests/"), "%s",
              hu_sb_cstr(&sb));
    cr_expect(!strstr(hu_sb_cstr(&sb), "Node.js"), "%s", hu_sb_cstr(&sb));
    hu_sb_reset(&sb);
    hu_incident_render(&sb, n, false);
    cr_expect(strstr(hu_sb_cstr(&sb), "The client saw: Node.js 'read ECONNRESET'; Python"), "%s",
              hu_sb_cstr(&sb));
    cr_expect(!strstr(hu_sb_cstr(&sb), "Client:"), "%s", hu_sb_cstr(&sb));
    hu_sb_free(&sb);
    tu_analysis_free(a);
}

static const hu_server_summary *server_at(const tu_analysis *a, uint16_t port)
{
    for (size_t i = 0; i < a->nservers; i++)
        if (a->servers[i].port == port)
            return &a->servers[i];
    cr_assert_fail("no server on port %u", port);
    return NULL;
}

/* Each server, as its responses name it, and its measured idle timeout
 * matched against its software's documented default. */
Test(software, servers_in_a_real_capture, .timeout = 60)
{
    tu_analysis *a = tu_analyze_file(tu_sample("software-servers.pcap"));
    cr_assert_not_null(a);
    char want[128];
    snprintf(want, sizeof want, "Apache httpd/%s", version_of("apache"));
    cr_expect_str_eq(server_at(a, 3414)->software, want);
    snprintf(want, sizeof want, "nginx/%s", version_of("nginx"));
    cr_expect_str_eq(server_at(a, 3415)->software, want);
    snprintf(want, sizeof want, "Werkzeug/%s", version_of("werkzeug"));
    cr_expect_str_eq(server_at(a, 3417)->software, want);
    cr_expect_str_eq(server_at(a, 3411)->software, "Node.js http.Server");
    cr_expect_str_eq(server_at(a, 3412)->software, "Python http.server");
    cr_expect_str_eq(server_at(a, 3413)->software, "gunicorn");
    cr_expect_str_eq(server_at(a, 3416)->software, "Caddy");
    /* Node.js 20's default closes at 6 s, Apache's at 5 s, gunicorn's
     * between 2 and 3 s; the others did not close within the 9 s. */
    static const struct { uint16_t port; const char *starts; } d[] = {
        { 3411, "6.0 s: Node.js" }, { 3413, "2.0 s: gunicorn" }, { 3414, "5.0 s: Apache" },
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        const hu_server_summary *s = server_at(a, d[i].port);
        cr_assert_not_null(s->idle_timeout_default, "port %u", d[i].port);
        cr_expect(strncmp(s->idle_timeout_default, d[i].starts, strlen(d[i].starts)) == 0, "%s",
                  s->idle_timeout_default);
        cr_expect(strstr(s->advice, s->idle_timeout_default), "%s", s->advice);
    }
    cr_expect_null(server_at(a, 3415)->idle_timeout_default);
    cr_expect_null(server_at(a, 3412)->idle_timeout_default);
    tu_analysis_free(a);
}

static const hu_incident_rec *at_server(const tu_analysis *a, uint16_t port)
{
    return find_rec(a, NULL, port);
}

/* Proxies: the upstream leg's client is the proxy, from the capture's
 * structure, named by what its listening endpoint answers; the
 * explanation of nginx's race names nginx's behaviour and setting. */
Test(software, proxies_in_a_real_capture, .timeout = 60)
{
    tu_analysis *a = tu_analyze_file(tu_sample("software-proxies.pcap"));
    cr_assert_not_null(a);
    char want[128];
    const hu_incident_rec *r = at_server(a, 3431);
    cr_expect_eq(r->kindid, HU_KIND_RACE);
    snprintf(want, sizeof want, "nginx/%s", version_of("nginx"));
    cr_expect_str_eq(r->client_software, want);
    cr_expect_str_eq(r->client_kind, "proxy");
    char ev[256];
    snprintf(ev, sizeof ev, "accepts connections on 127.0.0.1:3421 (answering as Server: %s) and "
                            "forwards the same requests to 127.0.0.1:3431", want);
    cr_expect_str_eq(r->client_evidence, ev);
    hu_sb sb = { 0 };
    hu_incident_render(&sb, r, false);
    const char *t = hu_sb_cstr(&sb);
    cr_expect(strstr(t, "The client saw: nginx/"), "%s", t);
    cr_expect(strstr(t, "proxy_next_upstream"), "%s", t);
    cr_expect(strstr(t, "Fix: in nginx's upstream block set keepalive_timeout below"), "%s", t);
    cr_expect(!strstr(t, "Go Transport.IdleConnTimeout"), "%s", t);
    hu_sb_free(&sb);

    r = at_server(a, 3432);   /* HAProxy: it marks nothing, answers with nothing of its own */
    cr_expect_str_eq(r->client_software, "");
    cr_expect_str_eq(r->client_kind, "proxy");
    cr_expect(strstr(r->client_evidence, "accepts connections on 127.0.0.1:3422 and forwards"),
              "%s", r->client_evidence);
    cr_expect_str_eq(at_server(a, 3433)->client_software, "Caddy");
    cr_expect_str_eq(at_server(a, 3434)->client_software, "Varnish");
    snprintf(want, sizeof want, "Apache httpd/%s", version_of("apache"));
    cr_expect_str_eq(at_server(a, 3435)->client_software, want);
    /* Every upstream incident's client is a proxy; what the users got
     * (HAProxy closing a user's connection, a proxy's 502) is an incident
     * of its own on the user's connection, whose client (the user) is
     * not, and whose cause is the upstream one (legs.h). */
    for (size_t i = 0; i < a->nrecs; i++) {
        if (a->recs[i]->kindid == HU_KIND_CLOSED || a->recs[i]->kindid == HU_KIND_GATEWAY) {
            cr_expect_neq(a->recs[i]->cause, 0);
            continue;
        }
        cr_expect_str_eq(a->recs[i]->client_kind, "proxy");
    }
    tu_analysis_free(a);
}

/* No other sample has a proxy in it: the structural rule finds none. */
Test(software, no_proxy_where_there_is_none, .timeout = 120)
{
    static const char *const names[] = { "clean-keepalive.pcap", "server-timeout-node.pcap",
                                         "client-abort.pcap", "retry.pcap", "reset-unread.pcap",
                                         "software-clients.pcap" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tu_analysis *a = tu_analyze_file(tu_sample(names[i]));
        cr_assert_not_null(a);
        for (size_t k = 0; k < a->nrecs; k++)
            cr_expect(!strstr(a->recs[k]->client_evidence, "accepts connections") &&
                          !strstr(a->recs[k]->server_evidence, "accepts connections"),
                      "%s: %s", names[i], a->recs[k]->client_evidence);
        tu_analysis_free(a);
    }
}
