/*
 * request.c -- decode the lost request from its first bytes.
 *
 * Only the request line matters for the incident (method and target say
 * what was lost, the version says which semantics applied), so this is a
 * little scanner rather than a full parser: an RFC 9110 token for the
 * method, a target, and a version word, read as leniently as the servers
 * that answer such lines (hu_reqline_scan: HTTP/0.9 lines, odd versions, a
 * missing target).  Anything else is reported as not HTTP; a TLS record
 * header is reported as TLS.  Bytes are copied raw; escaping is the
 * printer's job.
 */
#include "hangup/request.h"
#include "hangup/tls.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar, by table: it is asked of every byte of every method and
 * header name (http.c), so it is a table. */
const bool hu_tchar_table[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};


/* Header lines from p[i] on: Host and Content-Length, until the blank
 * line or the end of the bytes we have. */
static void decode_headers(const uint8_t *p, size_t n, size_t i, hu_request *out)
{
    while (i < n) {
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        if (!lf)
            return;   /* the rest was not captured in the window */
        size_t end = (size_t)(lf - p), len = end - i;
        if (len && p[end - 1] == '\r')
            len--;
        if (len == 0)
            return;   /* end of the head */
        const uint8_t *l = p + i;
        const uint8_t *colon = memchr(l, ':', len);
        if (colon) {
            size_t nl = (size_t)(colon - l);
            size_t v = nl + 1;
            while (v < len && (l[v] == ' ' || l[v] == '\t'))
                v++;
            size_t vl = len - v;
            while (vl && (l[v + vl - 1] == ' ' || l[v + vl - 1] == '\t'))
                vl--;
            if (nl == 4 && strncasecmp((const char *)l, "host", 4) == 0 && !out->has_host) {
                out->has_host = true;
                out->host_len = vl < sizeof out->host ? vl : sizeof out->host;
                memcpy(out->host, l + v, out->host_len);
            } else if (nl == 14 && strncasecmp((const char *)l, "content-length", 14) == 0 &&
                       out->content_length < 0 && vl > 0 && vl <= 18) {
                int64_t cl = 0;
                size_t k = 0;
                for (; k < vl && l[v + k] >= '0' && l[v + k] <= '9'; k++)
                    cl = cl * 10 + (l[v + k] - '0');
                if (k == vl)
                    out->content_length = cl;
            }
        }
        i = end + 1;
    }
}

void hu_request_decode(const uint8_t *p, size_t n, hu_request *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    if (n == 0)
        return;
    /* TLS record: content type 20..23, major version 3. */
    if (hu_tls_record_type(p, n)) {
        out->tls = true;
        return;
    }
    hu_reqline rl;
    if (!hu_reqline_scan(p, n, false, &rl))
        return;
    memcpy(out->method, p, rl.method_len);
    out->method[rl.method_len] = '\0';
    /* Bytes of the target other than SP and the line end, even control
     * characters, are kept so the user sees what was sent (the printers
     * escape them). */
    out->http = true;
    out->target_len = rl.target_len < HU_TARGET_MAX ? rl.target_len : HU_TARGET_MAX;
    memcpy(out->target, p + rl.target_off, out->target_len);
    if (!rl.line_ended && !rl.has_version)
        return;   /* cut short: method and partial target */
    if (rl.plain_version) {
        memcpy(out->version, p + rl.version_off, 8);
        out->version[8] = '\0';
    }
    size_t i = rl.end;
    if (i < n && (p[i] == '\r' || p[i] == '\n')) {
        out->complete = true;
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        if (lf)
            decode_headers(p, n, (size_t)(lf - p) + 1, out);
    }
}

bool hu_http_version(const uint8_t *p, size_t n, int *maj, int *min)
{
    if (n < 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9')
        return false;
    *maj = p[5] - '0';
    *min = p[7] - '0';
    return true;
}

bool hu_http_version_lenient(const uint8_t *p, size_t n, int *maj, int *min)
{
    if (n < 5 || memcmp(p, "HTTP/", 5) != 0)
        return false;
    int v[2] = { 0, 0 };
    size_t i = 5;
    for (int k = 0; k < 2; k++) {
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            if (v[k] < 999)
                v[k] = v[k] * 10 + (p[i] - '0');
        if (k == 0 && i < n && p[i] == '.')
            i++;
        else
            break;
    }
    if (i != n)
        return false;
    *maj = v[0];
    *min = v[1];
    return true;
}

static bool is_sp(uint8_t c) { return c == ' ' || c == '\t'; }

bool hu_reqline_scan(const uint8_t *p, size_t n, bool whole, hu_reqline *rl)
{
    memset(rl, 0, sizeof *rl);
    size_t i = 0;
    while (i < n && i < HU_METHOD_MAX && hu_is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return false;
    rl->method_len = i;
    while (i < n && p[i] == ' ')
        i++;
    /* The line's end: its first CR or LF, found by memchr (a byte loop
     * over each request's target cost more than the rest of the scan). */
    size_t t = i, le = n;
    const uint8_t *cr = memchr(p + i, '\r', n - i);
    if (cr)
        le = (size_t)(cr - p);
    const uint8_t *lf = memchr(p + i, '\n', le - i);
    if (lf)
        le = (size_t)(lf - p);
    rl->line_ended = whole || le < n;
    if (!rl->line_ended) {
        /* Cut short: the target up to its SP, and the version if whole. */
        while (i < n && p[i] != ' ')
            i++;
        if (i == t)
            return false;
        rl->target_off = t;
        rl->target_len = i - t;
        rl->end = i;
        if (i < n && hu_http_version(p + i + 1, n - i - 1, &rl->vmajor, &rl->vminor)) {
            rl->has_version = rl->plain_version = true;
            rl->version_off = i + 1;
            rl->version_len = 8;
            rl->end = i + 9;
        }
        return true;
    }
    rl->end = le;
    size_t e = le;
    while (e > t && is_sp(p[e - 1]))
        e--;
    if (e == t)
        return false;   /* a method alone */
    size_t w = e;   /* the last word */
    while (w > t && p[w - 1] != ' ')
        w--;
    if (hu_http_version_lenient(p + w, e - w, &rl->vmajor, &rl->vminor)) {
        rl->has_version = true;
        rl->plain_version = e - w == 8 && hu_http_version(p + w, 8, &rl->vmajor, &rl->vminor);
        rl->version_off = w;
        rl->version_len = e - w;
        e = w;
        while (e > t && p[e - 1] == ' ')
            e--;
    }
    rl->target_off = t;
    rl->target_len = e - t;
    return true;
}

bool hu_method_idempotent(const char *m)
{
    static const char *const idem[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    for (size_t i = 0; i < sizeof idem / sizeof idem[0]; i++)
        if (strcmp(m, idem[i]) == 0)
            return true;
    return false;
}

/* The lost request for people: `GET /x` with wire bytes escaped. */
void hu_request_describe(hu_sb *sb, const hu_request *rq)
{
    if (rq->http) {
        hu_sb_safe(sb, (const uint8_t *)rq->method, strlen(rq->method));
        hu_sb_putc(sb, ' ');
        hu_sb_safe(sb, rq->target, rq->target_len);
        if (!rq->complete)
            hu_sb_puts(sb, " (request line cut short in the capture)");
    } else if (rq->tls) {
        hu_sb_puts(sb, "a TLS record (an encrypted request)");
    } else {
        hu_sb_puts(sb, "data that is not an HTTP request line");
    }
}

bool hu_request_starts(const uint8_t *p, size_t n, bool webdav)
{
    /* RFC 9110's methods and PATCH first, then WebDAV's (and PURGE). */
    static const char *const methods[] = {
        "GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
        "CONNECT ", "TRACE ",
        "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ",
        "MOVE ", "LOCK ", "UNLOCK ", "REPORT ", "SEARCH ", "PURGE ",
    };
    size_t count = webdav ? sizeof methods / sizeof methods[0] : 9;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(methods[i]);
        if (n >= l && memcmp(p, methods[i], l) == 0)
            return true;
    }
    return false;
}
