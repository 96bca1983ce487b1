/*
 * http.c -- incremental HTTP/1.1 parsing for both directions of a
 * connection (see http.h for the contract).
 *
 * Each direction is a small state machine fed bytes in stream order:
 *
 *   START -> HEADERS -> (BODY_LEN | CHUNK_SIZE -> CHUNK_DATA -> CHUNK_CRLF
 *            ... -> TRAILERS | BODY_CLOSE) -> START
 *
 * A head line that arrives whole in one fed chunk (nearly every one) is
 * parsed where it lies; one split across chunks is gathered in a
 * per-direction buffer first.  Either way a line is bounded by
 * HU_HTTP_LINE_MAX, and body bytes are only counted, never copied.  Requests
 * enter a FIFO when their head is parsed and leave it when their final
 * response ends, which is how a response learns whether it answers HEAD
 * (no body), CONNECT (a tunnel follows a 2xx) or an HTTP/0.9 request (a
 * raw body until the close).  A capture gap puts a direction in RESYNC: it
 * skips fed chunks until one starts like a head line.
 *
 * Content-Length and Transfer-Encoding are read as their values arrive,
 * a byte at a time into a few bytes of state (hu_framing), because
 * obs-fold may continue them on the next line and several headers make
 * one list; the body's framing is decided when the head ends.
 */
#include "hangup/http.h"
#include "hangup/software.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum st {
    ST_START, ST_HEADERS, ST_BODY_LEN, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF,
    ST_TRAILERS, ST_BODY_CLOSE, ST_RESYNC, ST_OPAQUE,
    ST_TUNNEL_WAIT,   /* client after CONNECT: its bytes wait for the answer */
};

enum { REQ_OTHER = 0, REQ_HEAD, REQ_CONNECT, REQ_SIMPLE };

enum { HDR_OTHER = 0, HDR_CL, HDR_TE };

/* The framing headers of the head being parsed, as their bytes arrive. */
typedef struct hu_framing {
    uint8_t last;             /* HDR_*: the header an obs-fold line continues */
    bool te_seen, cl_seen;
    /* Transfer-Encoding: its last non-empty list element, blanks inside
     * it kept, around it dropped (only "chunked" matters, so 16 bytes). */
    bool te_sep;              /* a comma since the element began */
    bool te_long;             /* the element outgrew te_last */
    uint8_t te_len, te_ows;   /* its length; blanks held until a byte follows */
    char te_last[16];
    /* Content-Length: a list whose elements must all be one number. */
    bool cl_digits, cl_ows;   /* the element has digits; blanks after them */
    bool cl_bad, cl_have;     /* invalid; cl_val holds a number */
    uint64_t cl_cur, cl_val;
} hu_framing;

/* What a direction holds only while a message is being parsed, from its
 * first byte to its end: the head's fields and its framing headers.  An
 * idle keep-alive connection (most of a busy proxy's) holds none; a
 * direction takes one from the owner's pool at a message's first byte
 * and gives it back when a fed chunk leaves it between messages. */
typedef struct hu_http_cur {
    hu_http_msg msg;
    hu_framing fr;
} hu_http_cur;

/* Every open connection holds a pair of these between its messages (a
 * busy proxy's tens of thousands), so they are packed tight: lengths in
 * 32 bits (a line is at most HU_HTTP_LINE_MAX), the state in a byte, the
 * waiting requests' kinds in two bits each. */
typedef struct hu_http_dir {
    char *line;               /* current head line, without CR LF */
    hu_http_cur *cur;         /* NULL between messages */
    uint64_t left;            /* body or chunk bytes still to come */
    uint64_t fed;             /* bytes fed before the current chunk */
    uint64_t body_recv;       /* body bytes of the current message */
    uint64_t start_off;       /* offset of the message being parsed */
    uint32_t line_len, line_cap;
    uint8_t st;               /* enum st */
} hu_http_dir;

static_assert(HU_HTTP_LINE_MAX < UINT32_MAX / 2, "line lengths fit 32 bits");
static_assert(HU_HTTP_PIPELINE % 4 == 0 && HU_HTTP_PIPELINE <= UINT8_MAX,
              "four kinds a byte, counts in a byte");

struct hu_http {
    hu_http_dir d[2];
    /* REQ_* of requests awaiting a response, two bits each, the oldest
     * at position fifo_head (fifo_at, fifo_set). */
    uint8_t fifo[HU_HTTP_PIPELINE / 4];
    uint8_t fifo_head, fifo_len;
    bool error;               /* not HTTP: nothing is parsed any more */
    bool unframed;            /* a request's body could not be framed */
    bool tunnel_early;        /* the client sent bytes while its CONNECT waited */
    hu_pool *cur_pool;        /* borrowed: where hu_http_cur blocks come from, or NULL */
};

static void msg_reset(hu_http_msg *m, bool request);

hu_http *hu_http_new(void) { return calloc(1, sizeof(hu_http)); }

void hu_http_free(hu_http *h) { hu_http_free_to(NULL, h); }

size_t hu_http_size(void) { return sizeof(hu_http); }
size_t hu_http_cur_size(void) { return sizeof(hu_http_cur); }

hu_http *hu_http_new_in(hu_pool *pool, hu_pool *cur_pool)
{
    hu_http *h = hu_pool_get(pool);
    if (h) {
        memset(h, 0, sizeof *h);
        h->cur_pool = cur_pool;
    }
    return h;
}

/* d's message state, taken at a message's first byte; false on OOM. */
static bool cur_take(hu_http *h, hu_http_dir *d)
{
    if (d->cur)
        return true;
    d->cur = h->cur_pool ? hu_pool_get(h->cur_pool) : malloc(sizeof *d->cur);
    if (!d->cur)
        return false;
    msg_reset(&d->cur->msg, false);
    memset(&d->cur->fr, 0, sizeof d->cur->fr);
    return true;
}

/* Give d's message state back when no message is in progress: between
 * messages with no line held, or in a state that parses nothing more. */
static void cur_drop(hu_http *h, hu_http_dir *d)
{
    if (!d->cur || d->line_len)
        return;
    if (!h->error && d->st != ST_START && d->st != ST_OPAQUE && d->st != ST_RESYNC &&
        d->st != ST_TUNNEL_WAIT)
        return;
    if (h->cur_pool)
        hu_pool_put(h->cur_pool, d->cur);
    else
        free(d->cur);
    d->cur = NULL;
}

void hu_http_free_to(hu_pool *pool, hu_http *h)
{
    if (!h)
        return;
    for (int i = 0; i < 2; i++) {
        free(h->d[i].line);
        h->d[i].line_len = 0;
        h->error = true;   /* every state gives its message back */
        cur_drop(h, &h->d[i]);
    }
    if (pool)
        hu_pool_put(pool, h);
    else
        free(h);
}

void hu_http_prefetch(const hu_http *h, int dir)
{
    const hu_http_dir *d = &h->d[dir];
    __builtin_prefetch(h, 1, 3);
    __builtin_prefetch(d, 1, 3);
    if (d->cur) {
        __builtin_prefetch(&d->cur->msg.target_len, 1, 3);
        __builtin_prefetch(&d->cur->msg.content_length, 1, 3);
    }
}

uint64_t hu_http_skippable(const hu_http *h, int dir)
{
    const hu_http_dir *d = &h->d[dir];
    if (h->error)
        return UINT64_MAX;   /* nothing more is parsed */
    switch (d->st) {
    case ST_BODY_LEN:
    case ST_CHUNK_DATA:
        return d->left ? d->left - 1 : 0;   /* the last byte ends something */
    case ST_BODY_CLOSE:
    case ST_OPAQUE:
        return UINT64_MAX;   /* body (or tunnel) until the close */
    default:
        return 0;
    }
}

void hu_http_skip(hu_http *h, int dir, uint64_t n)
{
    hu_http_dir *d = &h->d[dir];
    if (!h->error && (d->st == ST_BODY_LEN || d->st == ST_CHUNK_DATA)) {
        d->left -= n;   /* as feed() takes body bytes, short of the end */
        d->body_recv += n;
    }
    d->fed += n;
}

bool hu_http_unparsable(const hu_http *h) { return h->error || h->unframed; }
uint64_t hu_http_fed(const hu_http *h, int dir) { return h->d[dir].fed; }

bool hu_http_in_body(const hu_http *h, int dir, int64_t *expected, int64_t *received)
{
    const hu_http_dir *d = &h->d[dir];
    if (h->error)
        return false;
    switch (d->st) {
    case ST_BODY_LEN:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_CRLF:
    case ST_TRAILERS:
        *expected = d->cur->msg.chunked ? -1 : d->cur->msg.content_length;
        *received = (int64_t)d->body_recv;
        return true;
    default:
        return false;
    }
}
unsigned hu_http_outstanding(const hu_http *h) { return h->fifo_len; }

bool hu_http_idle(const hu_http *h)
{
    return !h->error && !h->unframed && h->fifo_len == 0 && h->d[0].st == ST_START &&
           h->d[1].st == ST_START && !h->d[0].line_len && !h->d[1].line_len;
}

/* Every field as a zeroed message has it, but the target and host arrays
 * are only emptied: clearing their 512 bytes per message cost more than
 * the rest of the head's parsing. */
static void msg_reset(hu_http_msg *m, bool request)
{
    m->request = request;
    m->method[0] = '\0';
    m->target_len = 0;
    m->target_cut = false;
    m->status = 0;
    m->vmajor = m->vminor = 0;
    m->simple = false;
    m->host[0] = '\0';
    m->content_length = -1;
    m->chunked = false;
    m->conn_close = m->conn_keepalive = false;
    m->keepalive_timeout = -1;
    m->expect_continue = false;
    m->start_ts = 0;
    m->start_off = 0;
}

static bool line_append(hu_http_dir *d, const uint8_t *p, size_t n)
{
    if (d->line_len + n > HU_HTTP_LINE_MAX)
        return false;
    if (d->line_len + n + 1 > d->line_cap) {
        size_t cap = d->line_cap ? d->line_cap : 256;
        while (cap < d->line_len + n + 1)
            cap *= 2;
        char *nl = realloc(d->line, cap);
        if (!nl)
            return false;
        d->line = nl;
        d->line_cap = (uint32_t)cap;
    }
    memcpy(d->line + d->line_len, p, n);
    d->line_len += (uint32_t)n;
    d->line[d->line_len] = '\0';
    return true;
}

static inline bool is_tchar(int c)
{
    return hu_is_tchar((uint8_t)c);
}

/* A request line (its end stripped), read by the request-line scanner
 * shared with the incident's decoder (request.c): a version word ends it,
 * or it is an HTTP/0.9 simple request -- only "GET /path", the one form
 * HTTP/0.9 had and nginx, Apache and Python answer as such: a text
 * protocol's "VERB argument" line (Redis, an IRC or SMTP command) is not
 * taken for a request. */
static bool parse_request_line(hu_http_msg *m, const char *l, size_t n)
{
    hu_reqline rl;
    if (!hu_reqline_scan((const uint8_t *)l, n, true, &rl) || rl.end != n)
        return false;
    if (!rl.has_version && !(rl.method_len == 3 && memcmp(l, "GET", 3) == 0 &&
                             rl.target_len > 0 && l[rl.target_off] == '/'))
        return false;
    memcpy(m->method, l, rl.method_len);
    m->method[rl.method_len] = '\0';
    m->target_cut = rl.target_len > HU_HTTP_TARGET_MAX;
    m->target_len = m->target_cut ? HU_HTTP_TARGET_MAX : rl.target_len;
    memcpy(m->target, l + rl.target_off, m->target_len);
    if (rl.has_version) {
        m->vmajor = rl.vmajor;
        m->vminor = rl.vminor;
    } else {
        m->simple = true;
        m->vminor = 9;
    }
    return true;
}

/* "HTTP/" and a version (servers echo odd ones: gunicorn answers
 * "HTTP/1.10 200 OK"), SP, three digits, then SP or the end. */
static bool parse_status_line(hu_http_msg *m, const char *l, size_t n)
{
    size_t sp = 0;
    while (sp < n && l[sp] != ' ')
        sp++;
    if (!hu_http_version_lenient((const uint8_t *)l, sp, &m->vmajor, &m->vminor) || n < sp + 4)
        return false;
    const char *c = l + sp + 1;
    if (!isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || (n > sp + 4 && c[3] != ' '))
        return false;
    m->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
    return m->status >= 100;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* s[0..n) equals lower[0..n) ignoring ASCII case; lower is lower-case.
 * Inline: it is asked of nearly every header line, where a call to
 * strncasecmp cost more than the comparison. */
static inline bool ascii_ieq(const char *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        if (c != lower[i])
            return false;
    }
    return true;
}

/* Connection's comma-separated list v[0..n): does it hold the token
 * "close", "keep-alive" (case-insensitive)?  One pass for both. */
static void conn_tokens(const char *v, size_t n, bool *close, bool *keepalive)
{
    const char *end = v + n;
    for (const char *p = v; p < end;) {
        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        const char *e = p;
        while (e < end && *e != ',')
            e++;
        const char *te = e;
        while (te > p && is_ows(te[-1]))
            te--;
        size_t tl = (size_t)(te - p);
        if (tl == 5 && ascii_ieq(p, "close", 5))
            *close = true;
        else if (tl == 10 && ascii_ieq(p, "keep-alive", 10))
            *keepalive = true;
        p = e;
    }
}

/* More of Transfer-Encoding's value: v[0..n). */
static void te_put(hu_framing *f, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ',') {
            f->te_sep = true;
        } else if (is_ows(c)) {
            if ((f->te_len || f->te_long) && !f->te_sep && f->te_ows < 255)
                f->te_ows++;
        } else {
            if (f->te_sep) {
                f->te_len = f->te_ows = 0;
                f->te_long = f->te_sep = false;
            }
            if (f->te_len + f->te_ows + 1u > sizeof f->te_last) {
                f->te_long = true;
            } else if (!f->te_long) {
                memset(f->te_last + f->te_len, ' ', f->te_ows);
                f->te_len = (uint8_t)(f->te_len + f->te_ows);
                f->te_last[f->te_len++] = c;
            }
            f->te_ows = 0;
        }
    }
}

/* RFC 9112 §6.3: chunked frames the body only as the last coding. */
static bool te_chunked(const hu_framing *f)
{
    return f->te_seen && !f->te_long && f->te_len == 7 && ascii_ieq(f->te_last, "chunked", 7);
}

/* A Content-Length list element ends (a comma, the next header, the head's
 * end): every element must be the same number (RFC 9110 §8.6). */
static void cl_end(hu_framing *f)
{
    if (f->cl_digits) {
        if (f->cl_have && f->cl_val != f->cl_cur)
            f->cl_bad = true;   /* conflicting lengths: request smuggling */
        f->cl_val = f->cl_cur;
        f->cl_have = true;
    }
    f->cl_cur = 0;
    f->cl_digits = f->cl_ows = false;
}

/* More of Content-Length's value: digits, leading zeros and all (a
 * 32-digit "000...050" is 50); a value past 2^63 is invalid. */
static void cl_put(hu_framing *f, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ',') {
            cl_end(f);
        } else if (is_ows(c)) {
            f->cl_ows = f->cl_digits;
        } else if (!isdigit((unsigned char)c) || f->cl_ows) {
            f->cl_bad = true;
        } else {
            f->cl_digits = true;
            if (f->cl_cur > ((uint64_t)INT64_MAX - 9) / 10)
                f->cl_bad = true;
            else
                f->cl_cur = f->cl_cur * 10 + (uint64_t)(c - '0');
        }
    }
}

/* Keep-alive's "timeout=N" in v[0..n): N as strtol reads it (leading
 * space, a sign, digits; no digits is 0), or -1 when absent or out of
 * range. */
static int keepalive_timeout(const char *v, size_t n)
{
    static const char key[] = "timeout=";
    const size_t kl = sizeof key - 1;
    for (size_t i = 0; i + kl <= n; i++) {
        if (!ascii_ieq(v + i, key, kl))
            continue;
        size_t j = i + kl;
        while (j < n && isspace((unsigned char)v[j]))
            j++;
        bool neg = j < n && v[j] == '-';
        if (j < n && (v[j] == '-' || v[j] == '+'))
            j++;
        long s = 0;
        for (; j < n && isdigit((unsigned char)v[j]); j++)
            if ((s = s * 10 + (v[j] - '0')) >= 1000000)
                return -1;
        return neg && s ? -1 : (int)s;
    }
    return -1;
}

/* One header line l[0..n), read in place (the capture's bytes or the line
 * buffer; never written).  A NUL ends the value, as it ended the
 * NUL-terminated copy this parser once worked on.  An identifying header
 * (software.h) goes to cb->header as well. */
static bool parse_header(hu_http_dir *d, const char *l, size_t n, int dir, const hu_http_cb *cb,
                         void *arg)
{
    hu_http_msg *m = &d->cur->msg;
    hu_framing *f = &d->cur->fr;
    if (n && is_ows(l[0])) {
        /* obs-fold (RFC 9112 §5.2): a framing header's value goes on,
         * after one SP in place of the fold; other headers' folds are
         * ignored. */
        const char *v = l, *end = l + n;
        while (v < end && is_ows(*v))
            v++;
        while (end > v && is_ows(end[-1]))
            end--;
        if (f->last == HDR_TE) {
            te_put(f, " ", 1);
            te_put(f, v, (size_t)(end - v));
        } else if (f->last == HDR_CL) {
            cl_put(f, " ", 1);
            cl_put(f, v, (size_t)(end - v));
        }
        return true;
    }
    f->last = HDR_OTHER;
    /* The name: token characters up to the colon, read in one pass. */
    size_t nl = 0;
    while (nl < n && l[nl] != ':') {
        if (!is_tchar((unsigned char)l[nl]))
            return false;
        nl++;
    }
    if (nl == n || nl == 0)
        return false;
    const char *colon = l + nl;
    const char *v = colon + 1, *end = l + n;
    const char *nul = memchr(v, '\0', (size_t)(end - v));
    if (nul)
        end = nul;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    size_t vl = (size_t)(end - v);
    if (cb && cb->header) {
        int id = hu_sw_header_id(l, nl);
        if (id >= 0)
            cb->header(arg, dir, id, l, nl, (const uint8_t *)v, vl);
    }
#define IS(name) (nl == sizeof(name) - 1 && ascii_ieq(l, name, nl))
    if (IS("host")) {
        size_t hl = vl < sizeof m->host - 1 ? vl : sizeof m->host - 1;
        memcpy(m->host, v, hl);
        m->host[hl] = '\0';
    } else if (IS("content-length")) {
        cl_end(f);   /* another header: another list element */
        f->cl_seen = true;
        f->last = HDR_CL;
        cl_put(f, v, vl);
    } else if (IS("transfer-encoding")) {
        if (f->te_seen)
            te_put(f, ",", 1);   /* several headers make one list */
        f->te_seen = true;
        f->last = HDR_TE;
        te_put(f, v, vl);
    } else if (IS("connection")) {
        conn_tokens(v, vl, &m->conn_close, &m->conn_keepalive);
    } else if (IS("keep-alive")) {
        int t = keepalive_timeout(v, vl);
        if (t >= 0)
            m->keepalive_timeout = t;
    } else if (IS("expect")) {
        if (vl == 12 && ascii_ieq(v, "100-continue", 12))
            m->expect_continue = true;
    }
#undef IS
    return true;
}

static uint8_t fifo_at(const hu_http *h, unsigned i)
{
    return (uint8_t)((h->fifo[i / 4] >> (2 * (i % 4))) & 3u);
}

static void fifo_set(hu_http *h, unsigned i, uint8_t kind)
{
    unsigned sh = 2 * (i % 4);
    h->fifo[i / 4] = (uint8_t)((h->fifo[i / 4] & ~(3u << sh)) | (unsigned)(kind & 3u) << sh);
}

static void fifo_push(hu_http *h, uint8_t kind)
{
    fifo_set(h, (h->fifo_head + h->fifo_len) % HU_HTTP_PIPELINE, kind);
    h->fifo_len++;
}

static uint8_t fifo_front(const hu_http *h)
{
    return h->fifo_len ? fifo_at(h, h->fifo_head) : REQ_OTHER;
}

static void fifo_pop(hu_http *h)
{
    if (h->fifo_len) {
        h->fifo_head = (uint8_t)((h->fifo_head + 1) % HU_HTTP_PIPELINE);
        h->fifo_len--;
    }
}

static void message_done(hu_http *h, int dir, const hu_http_cb *cb, void *arg)
{
    hu_http_dir *d = &h->d[dir];
    if (dir == HU_HTTP_SERVER && (d->cur->msg.status >= 200 || d->cur->msg.simple))
        fifo_pop(h);
    if (cb && cb->done)
        cb->done(arg, dir, &d->cur->msg);
    d->st = ST_START;
}

/* The rest of direction dir cannot be framed: it is not parsed further,
 * and which requests the connection carried is unknown from here. */
static void unframed(hu_http *h, int dir)
{
    h->d[dir].st = ST_OPAQUE;
    h->unframed = true;
}

/* The head ended: decide how the body is framed (RFC 9112 §6.3). */
static bool head_done(hu_http *h, int dir, const hu_http_cb *cb, void *arg)
{
    hu_http_dir *d = &h->d[dir];
    hu_http_msg *m = &d->cur->msg;
    hu_framing *f = &d->cur->fr;
    cl_end(f);
    bool cl_ok = f->cl_seen && !f->cl_bad && f->cl_have;
    m->chunked = te_chunked(f);
    /* Transfer-Encoding overrides Content-Length. */
    m->content_length = cl_ok && !f->te_seen ? (int64_t)f->cl_val : -1;
    if (dir == HU_HTTP_CLIENT) {
        if (h->fifo_len == HU_HTTP_PIPELINE)
            return false;
        uint8_t kind = m->simple                           ? REQ_SIMPLE
                       : strcmp(m->method, "HEAD") == 0    ? REQ_HEAD
                       : strcmp(m->method, "CONNECT") == 0 ? REQ_CONNECT
                                                           : REQ_OTHER;
        /* Both framings at once: the server must close after answering
         * (RFC 9112 §6.1), whether it rejects the request or not. */
        if (f->te_seen && f->cl_seen)
            m->conn_close = true;
        fifo_push(h, kind);
        if (cb && cb->head)
            cb->head(arg, dir, m);
        if (f->te_seen ? !m->chunked : f->cl_seen && !cl_ok) {
            unframed(h, dir);   /* the server answers 400 and closes */
        } else if (m->chunked) {
            d->st = ST_CHUNK_SIZE;
        } else if (m->content_length > 0 && !m->simple) {
            d->st = ST_BODY_LEN;
            d->left = (uint64_t)m->content_length;
        } else {
            message_done(h, dir, cb, arg);
            if (kind == REQ_SIMPLE)
                d->st = ST_OPAQUE;   /* the connection ends with the answer */
            else if (kind == REQ_CONNECT)
                d->st = ST_TUNNEL_WAIT;
        }
        return true;
    }
    if (cb && cb->head)
        cb->head(arg, dir, m);
    uint8_t kind = fifo_front(h);
    if (m->status == 101 || (kind == REQ_CONNECT && m->status / 100 == 2)) {
        /* The connection leaves HTTP: a tunnel or another protocol. */
        message_done(h, dir, cb, arg);
        fifo_pop(h);
        h->d[0].st = h->d[1].st = ST_OPAQUE;
        return true;
    }
    if (kind == REQ_CONNECT && m->status >= 200 && h->d[HU_HTTP_CLIENT].st == ST_TUNNEL_WAIT) {
        /* Refused: the client's next bytes are HTTP again, unless it sent
         * some while it waited (tunnel bytes, unparsed). */
        if (h->tunnel_early)
            unframed(h, HU_HTTP_CLIENT);
        else
            h->d[HU_HTTP_CLIENT].st = ST_START;
    }
    if (m->status < 200 || m->status == 204 || m->status == 304 || kind == REQ_HEAD) {
        message_done(h, dir, cb, arg);
    } else if (m->chunked) {
        d->st = ST_CHUNK_SIZE;
    } else if (f->te_seen) {
        d->st = ST_BODY_CLOSE;   /* a last coding other than chunked */
    } else if (f->cl_seen && !cl_ok) {
        unframed(h, dir);   /* the client must discard it and close */
    } else if (m->content_length >= 0) {
        d->left = (uint64_t)m->content_length;
        if (d->left == 0)
            message_done(h, dir, cb, arg);
        else
            d->st = ST_BODY_LEN;
    } else {
        d->st = ST_BODY_CLOSE;
    }
    return true;
}

/* Could p[0..n) begin a status line ("HTTP/" or as much of it as there
 * is)?  Servers answer some HTTP/0.9 requests with one (Node, gunicorn:
 * 400), others with the raw document (nginx, Apache, Python). */
static bool raw_is_status_line(const uint8_t *p, size_t n)
{
    return memcmp(p, "HTTP/", n < 5 ? n : 5) == 0;
}

/* The start of the server's line held so far, then p[0..n): could it still
 * begin a status line?  The raw answer to an HTTP/0.9 request is told
 * from a status line by its first five bytes, however they were cut. */
static bool held_is_status_line(const hu_http_dir *d, const uint8_t *p, size_t n)
{
    uint8_t b[5];
    size_t k = 0;
    for (size_t j = 0; j < d->line_len && k < sizeof b; j++)
        b[k++] = (uint8_t)d->line[j];
    for (size_t j = 0; j < n && k < sizeof b; j++)
        b[k++] = p[j];
    return raw_is_status_line(b, k);
}

/* The answer to an HTTP/0.9 request begins: no head, a body until the
 * close. */
static void raw_response(hu_http_dir *d, int64_t ts);

/* At the start of the server's message after an HTTP/0.9 request: do its
 * bytes so far (any held, then p[0..n)) say the answer is raw, not a
 * status line?  Then the raw answer begins at its first byte (true). */
static bool raw_answer_begins(hu_http *h, hu_http_dir *d, int dir, const uint8_t *p, size_t n)
{
    if (d->st != ST_START || dir != HU_HTTP_SERVER || fifo_front(h) != REQ_SIMPLE ||
        held_is_status_line(d, p, n))
        return false;
    raw_response(d, d->cur->msg.start_ts);
    d->line_len = 0;
    return true;
}

static void raw_response(hu_http_dir *d, int64_t ts)
{
    msg_reset(&d->cur->msg, false);
    d->cur->msg.simple = true;
    d->cur->msg.vminor = 9;
    d->cur->msg.start_ts = ts;
    d->cur->msg.start_off = d->start_off;
    d->body_recv = 0;
    d->st = ST_BODY_CLOSE;
}

/* One complete line l[0..n) (CR LF stripped) in state START, HEADERS,
 * CHUNK_SIZE or TRAILERS. */
static bool on_line(hu_http *h, int dir, const char *l, size_t n, int64_t ts,
                    const hu_http_cb *cb, void *arg)
{
    hu_http_dir *d = &h->d[dir];
    switch (d->st) {
    case ST_START:
        if (n == 0)
            return true;   /* stray CRLF between messages is allowed */
        msg_reset(&d->cur->msg, dir == HU_HTTP_CLIENT);
        memset(&d->cur->fr, 0, sizeof d->cur->fr);
        d->cur->msg.start_ts = ts;
        d->cur->msg.start_off = d->start_off;
        d->body_recv = 0;
        if (dir == HU_HTTP_CLIENT ? !parse_request_line(&d->cur->msg, l, n)
                                  : !parse_status_line(&d->cur->msg, l, n)) {
            if (dir == HU_HTTP_CLIENT || fifo_front(h) != REQ_SIMPLE)
                return false;
            /* Began like "HTTP/" but is no status line: the raw answer to
             * an HTTP/0.9 request, whatever the chunking. */
            raw_response(d, ts);
            return true;
        }
        if (d->cur->msg.simple)
            return head_done(h, dir, cb, arg);   /* a simple request has no headers */
        d->st = ST_HEADERS;
        return true;
    case ST_HEADERS:
        if (n == 0)
            return head_done(h, dir, cb, arg);
        return parse_header(d, l, n, dir, cb, arg);
    case ST_CHUNK_SIZE: {
        uint64_t sz = 0;
        size_t i = 0;
        for (; i < n && isxdigit((unsigned char)l[i]); i++) {
            if (sz >> 56)
                return false;
            sz = sz * 16 + (uint64_t)(isdigit((unsigned char)l[i]) ? l[i] - '0'
                                                                   : (tolower(l[i]) - 'a' + 10));
        }
        if (i == 0 || (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t'))
            return false;
        if (sz == 0) {
            d->st = ST_TRAILERS;
        } else {
            d->left = sz;
            d->st = ST_CHUNK_DATA;
        }
        return true;
    }
    case ST_TRAILERS:
        if (n == 0)
            message_done(h, dir, cb, arg);
        return true;
    default:
        return false;
    }
}

/* Does a chunk fed after a gap start like a head line of this direction? */
static bool looks_like_start(int dir, const uint8_t *p, size_t n)
{
    if (dir == HU_HTTP_SERVER)
        return n >= 7 && memcmp(p, "HTTP/1.", 7) == 0;
    size_t i = 0;
    while (i < n && i < 24 && is_tchar(p[i]) && isupper(p[i]))
        i++;
    return i > 0 && i < n && p[i] == ' ';
}

static bool feed(hu_http *h, int dir, const uint8_t *p, size_t n, int64_t ts,
                 const hu_http_cb *cb, void *arg);

bool hu_http_feed(hu_http *h, int dir, const uint8_t *p, size_t n, int64_t ts,
                  const hu_http_cb *cb, void *arg)
{
    bool ok = feed(h, dir, p, n, ts, cb, arg) && !h->unframed;
    hu_http_dir *d = &h->d[dir];
    d->fed += n;
    if (d->line && d->line_len == 0) {
        /* No line pending: the buffer goes back, and the next line gets
         * the one the allocator has in cache rather than this cold one
         * (thousands of connections each held two). */
        free(d->line);
        d->line = NULL;
        d->line_cap = 0;
    }
    cur_drop(h, d);
    return ok;
}

static bool feed(hu_http *h, int dir, const uint8_t *p, size_t n, int64_t ts,
                 const hu_http_cb *cb, void *arg)
{
    if (h->error)
        return false;
    hu_http_dir *d = &h->d[dir];
    if (d->st == ST_RESYNC) {
        if (!looks_like_start(dir, p, n))
            return true;
        d->st = ST_START;
        d->line_len = 0;
    }
    size_t i = 0;
    while (i < n) {
        switch (d->st) {
        case ST_TUNNEL_WAIT:
            h->tunnel_early = true;
            return true;
        case ST_OPAQUE:
        case ST_RESYNC:
            return true;
        case ST_BODY_CLOSE:
            return true;   /* everything until the close is body */
        case ST_BODY_LEN:
        case ST_CHUNK_DATA: {
            size_t take = n - i < d->left ? n - i : (size_t)d->left;
            d->left -= take;
            d->body_recv += take;
            i += take;
            if (d->left == 0) {
                if (d->st == ST_BODY_LEN) {
                    message_done(h, dir, cb, arg);
                } else {
                    d->st = ST_CHUNK_CRLF;
                    d->line_len = 0;
                }
            }
            break;
        }
        default: {   /* line-oriented states */
            if (d->st == ST_START && d->line_len == 0) {
                if (!cur_take(h, d))
                    goto fail;
                d->cur->msg.start_ts = ts;   /* this chunk holds a message's first byte */
                d->start_off = d->fed + i;
            }
            if (raw_answer_begins(h, d, dir, p + i, n - i))
                return true;
            if (d->st == ST_START && d->line_len == 0) {
                /* Not HTTP at all (TLS, another protocol): say so at once
                 * rather than buffer a line that never ends. */
                uint8_t c = p[i];
                if (c != '\r' && c != '\n' && (dir == HU_HTTP_CLIENT ? !is_tchar(c) : c != 'H'))
                    goto fail;
            }
            const uint8_t *lf = memchr(p + i, '\n', n - i);
            size_t take = lf ? (size_t)(lf - (p + i)) : n - i;
            const char *l;
            size_t ln;
            if (lf && d->line_len == 0) {
                /* The whole line is in this chunk (nearly always): it is
                 * parsed where it lies. */
                if (take > HU_HTTP_LINE_MAX)
                    goto fail;
                l = (const char *)(p + i);
                ln = take;
            } else {
                if (!line_append(d, p + i, take))
                    goto fail;
                l = d->line;
                ln = d->line_len;
            }
            i += take;
            bool framing = d->st == ST_CHUNK_SIZE || d->st == ST_CHUNK_CRLF ||
                           d->st == ST_TRAILERS;
            if (framing)   /* a chunked body's size lines and CRLFs are body bytes too */
                d->body_recv += take + (lf ? 1 : 0);
            if (!lf)
                break;
            i++;   /* the LF */
            if (ln && l[ln - 1] == '\r')
                ln--;
            if (d->st == ST_CHUNK_CRLF) {
                if (ln != 0)
                    goto fail;
                d->st = ST_CHUNK_SIZE;
            } else {
                /* A message's first byte may have come in an earlier chunk. */
                int64_t line_ts = d->st == ST_START ? d->cur->msg.start_ts : ts;
                if (!on_line(h, dir, l, ln, line_ts, cb, arg))
                    goto fail;
            }
            d->line_len = 0;
            break;
        }
        }
    }
    return true;
fail:
    h->error = true;
    return false;
}

void hu_http_eof(hu_http *h, int dir, int64_t ts, const hu_http_cb *cb, void *arg)
{
    (void)ts;
    if (h->error)
        return;
    hu_http_dir *d = &h->d[dir];
    if (d->st == ST_BODY_CLOSE)
        message_done(h, dir, cb, arg);
    cur_drop(h, d);
}

void hu_http_gap(hu_http *h, int dir)
{
    hu_http_dir *d = &h->d[dir];
    if (d->st == ST_OPAQUE)
        return;
    d->st = ST_RESYNC;
    d->line_len = 0;
    if (dir == HU_HTTP_SERVER)
        h->fifo_len = 0;   /* which requests it answered is unknown now */
    cur_drop(h, d);
}
