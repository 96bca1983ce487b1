/*
 * software.c -- recognising client and server software from HTTP headers
 * (see software.h for the contract; docs/DESIGN.md §2.10 for the rules).
 *
 * The recognition table below is the one place that says which header
 * value names which software.  Each row matches one identifying header,
 * sent by the client, the server or either, by a token at the start of
 * the value (User-Agent, Server, X-Powered-By), anywhere in the nearest
 * hop of a Via list, or by the header's mere presence (proxy marks).  A
 * row's strength orders evidence: a proxy's own mark beats the
 * User-Agent it forwards from its client, a Via beats the Server header
 * it passes on from the origin, and so on.  The table's rows were checked
 * against what each tool sends (samples/software-capture.sh records them).
 */
#include "hangup/software.h"

#include <string.h>

/* Evidence strengths, weakest first. */
enum {
    S_HINT = 1,      /* a response's Keep-Alive format alone */
    S_AGENT,         /* User-Agent, X-Powered-By: the software that made the message */
    S_SERVER,        /* a response's Server */
    S_FORWARDED,     /* some proxy's generic mark (X-Forwarded-*, an unnamed Via) */
    S_CDN,           /* a CDN's mark: an outer hop */
    S_CLOUD,         /* a cloud load balancer's mark */
    S_NAMED,         /* a named proxy's own mark: the nearest hop that marks */
};

enum { SIDE_CLIENT = 1, SIDE_SERVER = 2, SIDE_BOTH = 3 };
enum { M_PREFIX, M_EXACT, M_VIA, M_PRESENT };

typedef struct sw_row {
    uint8_t hdr;              /* hu_sw_header */
    uint8_t side;             /* SIDE_* */
    uint8_t match;            /* M_* */
    uint8_t toklen;           /* strlen(token) */
    const char *token;        /* compared case-insensitively */
    const char *display;      /* the name, "" for an unnamed proxy */
    bool versioned;           /* "/version" (or "(version") after the token is kept */
    uint8_t kind, family, strength;
} sw_row;

#define ROW(hdr, side, match, tok, disp, ver, kind, fam, str) \
    { hdr, side, match, sizeof(tok) - 1, tok, disp, ver, kind, fam, str }
#define AGENT(tok, disp, ver, kind, fam) \
    ROW(HU_SWH_USER_AGENT, SIDE_CLIENT, M_PREFIX, tok, disp, ver, kind, fam, S_AGENT)
#define SERVER(tok, disp, ver, kind, fam) \
    ROW(HU_SWH_SERVER, SIDE_SERVER, M_PREFIX, tok, disp, ver, kind, fam, S_SERVER)
#define VIA(tok, disp, kind, fam) ROW(HU_SWH_VIA, SIDE_BOTH, M_VIA, tok, disp, false, kind, fam, S_NAMED)
#define MARK(hdr, side, disp, kind, fam, str) ROW(hdr, side, M_PRESENT, "", disp, false, kind, fam, str)

/* The table, one part per identifying header so that a header is matched
 * against its own rows only (every request's User-Agent and every
 * response's Server are offered); within a part the first matching row
 * wins. */
static const sw_row agent_rows[] = {
    AGENT("curl/", "curl", true, HU_SWK_APP, HU_SWF_CURL),
    AGENT("Wget/", "Wget", true, HU_SWK_APP, HU_SWF_WGET),
    AGENT("python-requests/", "python-requests", true, HU_SWK_APP, HU_SWF_PY_REQUESTS),
    AGENT("Python-urllib/", "Python urllib", true, HU_SWK_APP, HU_SWF_PY_URLLIB),
    AGENT("Go-http-client/", "Go net/http", false, HU_SWK_APP, HU_SWF_GO),
    ROW(HU_SWH_USER_AGENT, SIDE_CLIENT, M_EXACT, "node", "Node.js fetch (undici)", false,
        HU_SWK_APP, HU_SWF_NODE_FETCH, S_AGENT),
    AGENT("undici", "undici", false, HU_SWK_APP, HU_SWF_NODE_FETCH),
    AGENT("node-fetch", "node-fetch", false, HU_SWK_APP, HU_SWF_NODE),
    AGENT("axios/", "axios", true, HU_SWK_APP, HU_SWF_NODE),
    AGENT("okhttp/", "okhttp", true, HU_SWK_APP, HU_SWF_OKHTTP),
    AGENT("Apache-HttpClient/", "Apache HttpClient", true, HU_SWK_APP, HU_SWF_JAVA_AHC),
    AGENT("Java-http-client/", "Java HttpClient", true, HU_SWK_APP, HU_SWF_JAVA),
    AGENT("Java/", "Java HttpURLConnection", true, HU_SWK_APP, HU_SWF_JAVA),
    AGENT("ELB-HealthChecker/", "AWS load balancer", false, HU_SWK_LB, HU_SWF_AWS_LB),
    AGENT("GoogleHC/", "Google Cloud load balancer", false, HU_SWK_LB, HU_SWF_GOOGLE_LB),
    AGENT("Envoy/HC", "Envoy", false, HU_SWK_PROXY, HU_SWF_ENVOY),
    AGENT("kube-probe/", "kube-probe", true, HU_SWK_APP, HU_SWF_NONE),
};

/* The proxy marks: the nearest hop's, whatever User-Agent it passed on. */
static const sw_row varnish_rows[] = {
    MARK(HU_SWH_X_VARNISH, SIDE_BOTH, "Varnish", HU_SWK_PROXY, HU_SWF_VARNISH, S_NAMED),
};
static const sw_row envoy_rows[] = {
    MARK(HU_SWH_X_ENVOY, SIDE_BOTH, "Envoy", HU_SWK_PROXY, HU_SWF_ENVOY, S_NAMED),
};
static const sw_row via_rows[] = {
    VIA("varnish", "Varnish", HU_SWK_PROXY, HU_SWF_VARNISH),
    VIA("google", "Google Cloud load balancer", HU_SWK_LB, HU_SWF_GOOGLE_LB),
    VIA("CloudFront", "Amazon CloudFront", HU_SWK_PROXY, HU_SWF_NONE),
    VIA("vegur", "Heroku router", HU_SWK_PROXY, HU_SWF_NONE),
    VIA("squid", "Squid", HU_SWK_PROXY, HU_SWF_NONE),
    VIA("haproxy", "HAProxy", HU_SWK_PROXY, HU_SWF_HAPROXY),   /* only when configured to */
    VIA("Caddy", "Caddy", HU_SWK_PROXY, HU_SWF_CADDY),
    VIA("Apache", "Apache httpd", HU_SWK_PROXY, HU_SWF_APACHE),
    MARK(HU_SWH_VIA, SIDE_BOTH, "", HU_SWK_PROXY, HU_SWF_NONE, S_FORWARDED),
};
static const sw_row amzn_rows[] = {
    MARK(HU_SWH_X_AMZN_TRACE_ID, SIDE_CLIENT, "AWS load balancer", HU_SWK_LB, HU_SWF_AWS_LB,
         S_CLOUD),
};
static const sw_row cloud_rows[] = {
    MARK(HU_SWH_X_CLOUD_TRACE, SIDE_CLIENT, "Google Cloud load balancer", HU_SWK_LB,
         HU_SWF_GOOGLE_LB, S_CLOUD),
};
static const sw_row cfray_rows[] = {
    MARK(HU_SWH_CF_RAY, SIDE_BOTH, "Cloudflare", HU_SWK_PROXY, HU_SWF_CLOUDFLARE, S_CDN),
};
static const sw_row fwdserver_rows[] = {
    MARK(HU_SWH_X_FORWARDED_SERVER, SIDE_CLIENT, "", HU_SWK_PROXY, HU_SWF_NONE, S_FORWARDED),
};
static const sw_row fwd_rows[] = {
    MARK(HU_SWH_X_FORWARDED, SIDE_CLIENT, "", HU_SWK_PROXY, HU_SWF_NONE, S_FORWARDED),
};

/* Servers.  nginx, Apache and Caddy serve and proxy alike: their kind
 * stays unknown unless another mark says which. */
static const sw_row server_rows[] = {
    SERVER("nginx", "nginx", true, HU_SWK_UNKNOWN, HU_SWF_NGINX),
    SERVER("openresty", "OpenResty", true, HU_SWK_UNKNOWN, HU_SWF_NGINX),
    SERVER("Apache", "Apache httpd", true, HU_SWK_UNKNOWN, HU_SWF_APACHE),
    SERVER("Caddy", "Caddy", false, HU_SWK_UNKNOWN, HU_SWF_CADDY),
    SERVER("gunicorn", "gunicorn", true, HU_SWK_APP, HU_SWF_GUNICORN),
    SERVER("uvicorn", "uvicorn", false, HU_SWK_APP, HU_SWF_UVICORN),
    SERVER("Werkzeug", "Werkzeug", true, HU_SWK_APP, HU_SWF_WERKZEUG),
    SERVER("BaseHTTP/", "Python http.server", false, HU_SWK_APP, HU_SWF_PY_HTTPSERVER),
    SERVER("SimpleHTTP/", "Python http.server", false, HU_SWK_APP, HU_SWF_PY_HTTPSERVER),
    SERVER("Kestrel", "Kestrel", false, HU_SWK_APP, HU_SWF_KESTREL),
    SERVER("Jetty", "Jetty", true, HU_SWK_APP, HU_SWF_JETTY),
    SERVER("istio-envoy", "Envoy", false, HU_SWK_PROXY, HU_SWF_ENVOY),
    SERVER("envoy", "Envoy", false, HU_SWK_PROXY, HU_SWF_ENVOY),
    SERVER("awselb", "AWS load balancer", false, HU_SWK_LB, HU_SWF_AWS_LB),
    SERVER("cloudflare", "Cloudflare", false, HU_SWK_PROXY, HU_SWF_CLOUDFLARE),
    SERVER("Microsoft-IIS", "Microsoft IIS", true, HU_SWK_UNKNOWN, HU_SWF_IIS),
    SERVER("lighttpd", "lighttpd", true, HU_SWK_UNKNOWN, HU_SWF_LIGHTTPD),
};
static const sw_row powered_rows[] = {
    ROW(HU_SWH_X_POWERED_BY, SIDE_SERVER, M_PREFIX, "Express", "Express (Node.js)", false,
        HU_SWK_APP, HU_SWF_NODE, S_AGENT),
    ROW(HU_SWH_X_POWERED_BY, SIDE_SERVER, M_PREFIX, "Next.js", "Next.js", false, HU_SWK_APP,
        HU_SWF_NODE, S_AGENT),
    ROW(HU_SWH_X_POWERED_BY, SIDE_SERVER, M_PREFIX, "PHP/", "PHP", true, HU_SWK_APP, HU_SWF_NONE,
        S_AGENT),
};

typedef struct sw_part {
    const sw_row *rows;
    uint8_t n;
} sw_part;

#define PART(a) { a, sizeof a / sizeof a[0] }
/* Each identifying header's rows (Keep-Alive has its own rule, node_hint). */
static const sw_part parts[HU_SWH_COUNT] = {
    [HU_SWH_USER_AGENT] = PART(agent_rows),
    [HU_SWH_SERVER] = PART(server_rows),
    [HU_SWH_VIA] = PART(via_rows),
    [HU_SWH_X_POWERED_BY] = PART(powered_rows),
    [HU_SWH_X_AMZN_TRACE_ID] = PART(amzn_rows),
    [HU_SWH_X_CLOUD_TRACE] = PART(cloud_rows),
    [HU_SWH_CF_RAY] = PART(cfray_rows),
    [HU_SWH_X_VARNISH] = PART(varnish_rows),
    [HU_SWH_X_ENVOY] = PART(envoy_rows),
    [HU_SWH_X_FORWARDED_SERVER] = PART(fwdserver_rows),
    [HU_SWH_X_FORWARDED] = PART(fwd_rows),
};

/* Node's http.Server sends no Server header; its Keep-Alive is the hint
 * (node_keepalive). */
static const sw_row node_hint = MARK(HU_SWH_KEEP_ALIVE, SIDE_SERVER, "Node.js http.Server",
                                     HU_SWK_APP, HU_SWF_NODE, S_HINT);

/* The canonical spelling of each header, for evidence. */
static const char *const header_names[HU_SWH_COUNT] = {
    [HU_SWH_USER_AGENT] = "User-Agent",
    [HU_SWH_SERVER] = "Server",
    [HU_SWH_VIA] = "Via",
    [HU_SWH_X_POWERED_BY] = "X-Powered-By",
    [HU_SWH_X_AMZN_TRACE_ID] = "X-Amzn-Trace-Id",
    [HU_SWH_X_CLOUD_TRACE] = "X-Cloud-Trace-Context",
    [HU_SWH_CF_RAY] = "CF-Ray",
    [HU_SWH_X_VARNISH] = "X-Varnish",
    [HU_SWH_X_ENVOY] = NULL,            /* the header's own name */
    [HU_SWH_X_FORWARDED_SERVER] = "X-Forwarded-Server",
    [HU_SWH_X_FORWARDED] = NULL,
    [HU_SWH_KEEP_ALIVE] = "Keep-Alive",
};

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* s[0..n) equals the NUL-terminated t, ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *t)
{
    size_t i = 0;
    for (; i < n && t[i]; i++)
        if (lower(s[i]) != lower(t[i]))
            return false;
    return i == n && !t[i];
}

/* s[0..n) starts with t (tl bytes), ignoring ASCII case. */
static bool iprefix(const char *s, size_t n, const char *t, size_t tl)
{
    return tl <= n && ieq(s, tl, t);
}

/* t occurs in s[0..n), ignoring ASCII case. */
static bool icontains(const char *s, size_t n, const char *t)
{
    size_t tl = strlen(t);
    for (size_t i = 0; i + tl <= n; i++)
        if (ieq(s + i, tl, t))
            return true;
    return false;
}

/* name[0..n) is the lower-case literal lit, ignoring case: the length is
 * compared first, so most header lines are told apart without a loop. */
#define NAME_IS(lit) (n == sizeof(lit) - 1 && ieq(name, n, lit))

int hu_sw_header_id(const char *name, size_t n)
{
    /* Every identifying name is 3 to 21 bytes (X-Envoy-* up to 64) and
     * starts with one of these letters: most header lines leave at the
     * first tests. */
    if (n < 3 || n > 64)
        return -1;
    if (n > 21 && lower(name[0]) != 'x')
        return -1;
    switch (lower(name[0])) {
    case 'u': return NAME_IS("user-agent") ? HU_SWH_USER_AGENT : -1;
    case 's': return NAME_IS("server") ? HU_SWH_SERVER : -1;
    case 'v': return NAME_IS("via") ? HU_SWH_VIA : -1;
    case 'c': return NAME_IS("cf-ray") ? HU_SWH_CF_RAY : -1;
    case 'k': return NAME_IS("keep-alive") ? HU_SWH_KEEP_ALIVE : -1;
    case 'f': return NAME_IS("forwarded") ? HU_SWH_X_FORWARDED : -1;
    case 'x':
        break;
    default:
        return -1;
    }
    if (n < 5 || name[1] != '-')
        return -1;
    if (NAME_IS("x-powered-by"))
        return HU_SWH_X_POWERED_BY;
    if (NAME_IS("x-amzn-trace-id"))
        return HU_SWH_X_AMZN_TRACE_ID;
    if (NAME_IS("x-cloud-trace-context"))
        return HU_SWH_X_CLOUD_TRACE;
    if (NAME_IS("x-varnish"))
        return HU_SWH_X_VARNISH;
    if (iprefix(name, n, "x-envoy-", 8))
        return HU_SWH_X_ENVOY;
    if (NAME_IS("x-forwarded-server"))
        return HU_SWH_X_FORWARDED_SERVER;
    if (NAME_IS("x-forwarded-for") || NAME_IS("x-forwarded-proto") ||
        NAME_IS("x-forwarded-port") || NAME_IS("x-forwarded-host"))
        return HU_SWH_X_FORWARDED;
    return -1;
}
#undef NAME_IS

const char *hu_sw_kind_name(hu_sw_kind k)
{
    switch (k) {
    case HU_SWK_LB: return "load-balancer";
    case HU_SWK_PROXY: return "proxy";
    case HU_SWK_APP: return "application";
    default: return NULL;
    }
}

hu_sw_kind hu_sw_kind_parse(const char *s)
{
    for (int k = HU_SWK_LB; s && k <= HU_SWK_APP; k++)
        if (strcmp(s, hu_sw_kind_name((hu_sw_kind)k)) == 0)
            return (hu_sw_kind)k;
    return HU_SWK_UNKNOWN;
}

void hu_sw_escape(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t full = 0;
    for (size_t i = 0; i < n; i++)
        full += src[i] >= 0x20 && src[i] < 0x7f ? 1 : 4;
    if (full == n && n + 1 <= cap) {   /* all printable and it fits: nearly always */
        memcpy(dst, src, n);
        dst[n] = '\0';
        return;
    }
    /* Room for the text and its NUL; else for a part of it and "...". */
    size_t room = full + 1 <= cap ? full : cap - 4;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = src[i];
        bool plain = c >= 0x20 && c < 0x7f;
        if (o + (plain ? 1 : 4) > room)
            break;
        if (plain) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (full + 1 > cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* The version after a matched token at v[at..n): "/1.2.3" or "(1.2.3",
 * as letters, digits and ._+- only, at most 24 of them.  Empty if none. */
static size_t version_of(const char *v, size_t n, size_t at, char *out, size_t cap)
{
    size_t o = 0;
    if (at < n && (v[at] == '/' || v[at] == '('))
        at++;
    else if (at > 0 && v[at - 1] == '/')
        ;   /* the token ended with its slash */
    else
        return 0;
    for (; at < n && o + 1 < cap && o < 24; at++) {
        char c = v[at];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '_' || c == '+' || c == '-';
        if (!ok)
            break;
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

/* The nearest hop of a Via list: its last element, trimmed. */
static void via_last(const char *v, size_t n, size_t *off, size_t *len)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] == ',')
            start = i + 1;
    while (start < n && (v[start] == ' ' || v[start] == '\t'))
        start++;
    *off = start;
    *len = n - start;
}

/* Node's http.Server announces exactly "timeout=N" (Apache adds ", max=N"). */
static bool node_keepalive(const char *v, size_t n)
{
    if (n < 9 || !ieq(v, 8, "timeout="))
        return false;
    for (size_t i = 8; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

/* s appended at dst[at] (at < cap) as far as it fits, NUL-terminated, as
 * snprintf would truncate it; returns the new end.  snprintf's format
 * parsing was most of the cost of identifying a connection. */
static size_t put(char *dst, size_t cap, size_t at, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 1 - at)
        n = cap - 1 - at;
    memcpy(dst + at, s, n);
    dst[at + n] = '\0';
    return at + n;
}

static bool row_matches(const sw_row *r, const char *v, size_t n)
{
    switch (r->match) {
    case M_PRESENT: return true;
    case M_EXACT: return ieq(v, n, r->token);
    case M_PREFIX: return iprefix(v, n, r->token, r->toklen);
    case M_VIA: {
        size_t off, len;
        via_last(v, n, &off, &len);
        return icontains(v + off, len, r->token);
    }
    default: return false;
    }
}

bool hu_sw_observe(hu_sw_ident *id, bool from_client, int hdr, const char *hname, size_t hlen,
                   const uint8_t *value, size_t n)
{
    if (hdr < 0 || hdr >= HU_SWH_COUNT)
        return false;
    const char *v = (const char *)value;
    const sw_row *hit = NULL;
    if (hdr == HU_SWH_KEEP_ALIVE) {
        if (!from_client && node_keepalive(v, n))
            hit = &node_hint;
    } else {
        /* Nothing this header can say would beat what is known (later
         * requests on an identified connection): skip the matching. */
        const sw_part *pt = &parts[hdr];
        uint8_t best = 0;
        for (size_t i = 0; i < pt->n; i++)
            if (pt->rows[i].strength > best)
                best = pt->rows[i].strength;
        if (best <= id->strength)
            return false;
        for (size_t i = 0; i < pt->n && !hit; i++) {
            const sw_row *r = &pt->rows[i];
            if ((r->side & (from_client ? SIDE_CLIENT : SIDE_SERVER)) && row_matches(r, v, n))
                hit = r;
        }
    }
    if (!hit || hit->strength <= id->strength)
        return false;
    id->strength = hit->strength;
    id->kind = hit->kind;
    char ver[32] = "";
    if (hit->versioned)
        version_of(v, n, hit->toklen, ver, sizeof ver);
    size_t at = put(id->name, sizeof id->name, 0, hit->display);
    if (ver[0])
        put(id->name, sizeof id->name, put(id->name, sizeof id->name, at, "/"), ver);
    /* The evidence: the header as it was sent when the table has no one
     * spelling for it, then its value, escaped. */
    char hn[48];
    if (header_names[hdr])
        put(hn, sizeof hn, 0, header_names[hdr]);
    else
        hu_sw_escape(hn, sizeof hn, (const uint8_t *)hname, hlen);
    size_t hl = strlen(hn);
    put(id->evidence, sizeof id->evidence, put(id->evidence, sizeof id->evidence, 0, hn), ": ");
    hu_sw_escape(id->evidence + hl + 2, sizeof id->evidence - hl - 2, value, n);
    return true;
}

hu_sw_family hu_sw_family_of(const char *name)
{
    if (!name || !name[0])
        return HU_SWF_NONE;
    size_t best = 0;
    hu_sw_family fam = HU_SWF_NONE;
    /* No display name is spelled with two families, so the parts' order
     * does not matter. */
    for (size_t p = 0; p <= HU_SWH_COUNT; p++) {
        const sw_row *rs = p < HU_SWH_COUNT ? parts[p].rows : &node_hint;
        size_t nr = p < HU_SWH_COUNT ? parts[p].n : 1;
        for (size_t i = 0; i < nr; i++) {
            const sw_row *r = &rs[i];
            size_t dl = strlen(r->display);
            if (dl > best && strncmp(name, r->display, dl) == 0 &&
                (name[dl] == '\0' || name[dl] == '/')) {
                best = dl;
                fam = r->family;
            }
        }
    }
    return fam;
}

/* Documented default idle timeouts, by family: matched within 5 %, or up
 * to `upto` when the server checks its timeout only now and then. */
static const struct {
    uint8_t family;
    int64_t us;
    const char *says;
    int64_t upto;
} idle_defaults[] = {
    { HU_SWF_NODE, 5000000, "5.0 s: Node.js http.Server's default keepAliveTimeout", 0 },
    { HU_SWF_NODE, 6000000, "6.0 s: Node.js http.Server's default keepAliveTimeout (5 s; Node.js "
                            "20 closes about 1 s after it)", 0 },
    { HU_SWF_NGINX, 75000000, "75 s: nginx's default keepalive_timeout", 0 },
    { HU_SWF_APACHE, 5000000, "5.0 s: Apache httpd's default KeepAliveTimeout", 0 },
    /* gthread workers look at idle connections once a second (measured
     * 2.89 s in samples/software-servers.pcap) */
    { HU_SWF_GUNICORN, 2000000, "2.0 s: gunicorn's default keepalive (its workers check it once "
                                "a second: 2 to 3 s)", 3050000 },
    { HU_SWF_UVICORN, 5000000, "5.0 s: uvicorn's default timeout_keep_alive", 0 },
    { HU_SWF_VARNISH, 5000000, "5.0 s: Varnish's default timeout_idle", 0 },
    { HU_SWF_CADDY, 300000000, "5 min: Caddy's default idle_timeout", 0 },
    { HU_SWF_KESTREL, 130000000, "130 s: Kestrel's default KeepAliveTimeout", 0 },
    { HU_SWF_JETTY, 30000000, "30 s: Jetty's default idleTimeout", 0 },
    { HU_SWF_LIGHTTPD, 5000000, "5.0 s: lighttpd's default server.max-keep-alive-idle", 0 },
    { HU_SWF_IIS, 120000000, "120 s: IIS's default connectionTimeout", 0 },
    { HU_SWF_AWS_LB, 60000000, "60 s: the AWS load balancer's default idle timeout", 0 },
    { HU_SWF_GOOGLE_LB, 610000000, "610 s: the Google Cloud load balancer's HTTP keep-alive "
                                   "timeout", 0 },
    { HU_SWF_ENVOY, 3600000000, "1 h: Envoy's default idle_timeout", 0 },
};

const char *hu_sw_idle_default(const char *name, int64_t timeout_us)
{
    hu_sw_family fam = hu_sw_family_of(name);
    if (fam == HU_SWF_NONE || timeout_us < 0)
        return NULL;
    for (size_t i = 0; i < sizeof idle_defaults / sizeof idle_defaults[0]; i++)
        if (idle_defaults[i].family == fam && timeout_us >= idle_defaults[i].us * 95 / 100 &&
            timeout_us <= (idle_defaults[i].upto ? idle_defaults[i].upto
                                                 : idle_defaults[i].us * 105 / 100))
            return idle_defaults[i].says;
    return NULL;
}
