/*
 * request.c -- decode the lost request from its first bytes.
 *
 * Only the request line matters for the incident (method and target say
 * what was lost, the version says which semantics applied), so this is a
 * strict little scanner rather than a full parser: an RFC 9110 token for
 * the method, a target of visible characters, and an HTTP/x.y version.
 * Anything else is reported as not HTTP; a TLS record header is reported
 * as TLS.  Bytes are copied raw; escaping is the printer's job.
 */
#include "hangup/request.h"
#include "hangup/tls.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(uint8_t c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

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
    size_t i = 0;
    while (i < n && i < HU_METHOD_MAX && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return;
    memcpy(out->method, p, i);
    out->method[i] = '\0';
    size_t t = ++i;
    /* The target runs to the next SP or line end.  Other bytes, even
     * control characters, are kept so the user sees what was sent (the
     * printers escape them). */
    while (i < n && p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
        i++;
    if (i == t) {
        out->method[0] = '\0';
        return;
    }
    out->http = true;
    out->target_len = i - t < HU_TARGET_MAX ? i - t : HU_TARGET_MAX;
    memcpy(out->target, p + t, out->target_len);
    if (i >= n || p[i] != ' ')
        return;   /* cut short: method and partial target */
    i++;
    if (n - i >= 8 && memcmp(p + i, "HTTP/", 5) == 0 && p[i + 5] >= '0' && p[i + 5] <= '9' &&
        p[i + 6] == '.' && p[i + 7] >= '0' && p[i + 7] <= '9') {
        memcpy(out->version, p + i, 8);
        out->version[8] = '\0';
        i += 8;
        if (i < n && (p[i] == '\r' || p[i] == '\n')) {
            out->complete = true;
            const uint8_t *lf = memchr(p + i, '\n', n - i);
            if (lf)
                decode_headers(p, n, (size_t)(lf - p) + 1, out);
        }
    }
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
        hu_sb_puts(sb, "a TLS record (encrypted HTTPS request)");
    } else {
        hu_sb_puts(sb, "data that is not an HTTP request line");
    }
}

bool hu_request_starts(const uint8_t *p, size_t n)
{
    static const char *const methods[] = {
        "GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
        "CONNECT ", "TRACE ", "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ",
        "MOVE ", "LOCK ", "UNLOCK ", "REPORT ", "SEARCH ", "PURGE ",
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t l = strlen(methods[i]);
        if (n >= l && memcmp(p, methods[i], l) == 0)
            return true;
    }
    return false;
}
