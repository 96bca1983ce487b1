/*
 * http.h -- an incremental HTTP/1.1 parser, one per connection.
 *
 * Fed byte ranges of any size, in stream order, for each direction; it
 * reports message heads and message ends through callbacks.  Requests and
 * responses are matched in order (pipelining), so a response knows it
 * answers a HEAD (no body), a CONNECT (a 2xx makes the connection a
 * tunnel) or an HTTP/0.9 request (a raw body until the close); 1xx
 * responses are interim (100 Continue), 204/304 have no body, bodies are
 * framed by Content-Length, chunked encoding (with trailers) or the close.
 *
 * It accepts what real servers answer (docs/DESIGN.md §2.12): HTTP/0.9
 * request lines, odd version words, a missing target, Content-Length with
 * leading zeros or as a list of one value, Transfer-Encoding lists,
 * obs-fold.  Its framing stays safe (RFC 9112 §6.3): Transfer-Encoding
 * overrides Content-Length, chunked only when it is the last coding; a
 * request whose body cannot be framed (conflicting or overflowing
 * Content-Length, a last coding other than chunked) is reported, then its
 * direction is not parsed further and the connection is unparsable; the
 * server's answer to it is still parsed.  Bytes that are not HTTP mark the
 * connection unparsable at once.  Nothing in the input can make it read
 * out of bounds or grow without limit (a head line is at most
 * HU_HTTP_LINE_MAX bytes, at most HU_HTTP_PIPELINE requests wait for
 * their responses).
 */
#ifndef HANGUP_HTTP_H
#define HANGUP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/pool.h"
#include "hangup/request.h"

#define HU_HTTP_LINE_MAX 8192
#define HU_HTTP_PIPELINE 64
#define HU_HTTP_TARGET_MAX 256
#define HU_HTTP_HOST_MAX 256

enum { HU_HTTP_CLIENT = 0, HU_HTTP_SERVER = 1 };   /* direction: who sends */

/* A message head, as far as hangup cares. */
typedef struct hu_http_msg {
    bool request;
    char method[HU_METHOD_MAX + 1];   /* requests */
    uint8_t target[HU_HTTP_TARGET_MAX];
    size_t target_len;
    bool target_cut;           /* longer than HU_HTTP_TARGET_MAX */
    int status;                /* responses */
    int vmajor, vminor;        /* as the version word says (0.9: a simple request) */
    bool simple;               /* HTTP/0.9: a request line without version, or
                                * the raw, close-delimited response to one */
    char host[HU_HTTP_HOST_MAX];
    int64_t content_length;    /* -1: none, invalid, or overridden by
                                * Transfer-Encoding */
    bool chunked;              /* the last transfer coding is chunked */
    bool conn_close, conn_keepalive;
    int keepalive_timeout;     /* Keep-Alive: timeout=N, or -1 */
    bool expect_continue;
    int64_t start_ts;          /* time of the packet with its first byte */
    uint64_t start_off;        /* its first byte's offset in the direction's stream */
} hu_http_msg;

typedef struct hu_http_cb {
    /* A complete head was parsed (dir: HU_HTTP_CLIENT for requests). */
    void (*head)(void *arg, int dir, const hu_http_msg *m);
    /* The message (head and body) ended. */
    void (*done)(void *arg, int dir, const hu_http_msg *m);
    /* An identifying header of the head being parsed (before its head
     * callback): hdr is its hu_sw_header (software.h), name[0..nlen) its
     * name as sent, v[0..vn) its value with surrounding blanks trimmed (a
     * NUL ends it); both point into the line, at most HU_HTTP_LINE_MAX
     * bytes, valid during the call.  May be NULL. */
    void (*header)(void *arg, int dir, int hdr, const char *name, size_t nlen, const uint8_t *v,
                   size_t vn);
} hu_http_cb;

typedef struct hu_http hu_http;

/* Allocate a parser pair for one connection; NULL on OOM. */
hu_http *hu_http_new(void);
void hu_http_free(hu_http *h);
/* The same with the pair's block taken from, and given back to, pool
 * (initialised with hu_http_size()).  A direction holds a second block
 * only while a message is in progress, from cur_pool (initialised with
 * hu_http_cur_size(); NULL: malloc), which must outlive the parser: an
 * idle keep-alive connection costs hu_http_size() bytes, not both. */
hu_http *hu_http_new_in(hu_pool *pool, hu_pool *cur_pool);
void hu_http_free_to(hu_pool *pool, hu_http *h);
size_t hu_http_size(void);
size_t hu_http_cur_size(void);

/*
 * Feed n bytes sent by `dir`, captured at time ts.  Callbacks run during
 * the call with arg.  Returns false once the connection is unparsable
 * (then and afterwards nothing more is reported for it).
 */
bool hu_http_feed(hu_http *h, int dir, const uint8_t *p, size_t n, int64_t ts,
                  const hu_http_cb *cb, void *arg);

/* The direction closed (FIN): a body framed by the close ends here. */
void hu_http_eof(hu_http *h, int dir, int64_t ts, const hu_http_cb *cb, void *arg);

/* The stream skipped bytes (a capture gap): drop the current message and
 * look for the next head at the next byte fed. */
void hu_http_gap(hu_http *h, int dir);

/* Is dir in the middle of a message body (a response cut here would be
 * truncated)?  *expected gets the Content-Length (-1 for chunked or
 * unknown), *received the body bytes seen so far (for chunked, as on the
 * wire: size lines and CRLFs included).  Bodies framed by the close never
 * count as cut. */
bool hu_http_in_body(const hu_http *h, int dir, int64_t *expected, int64_t *received);

/* Bytes fed so far in direction dir. */
uint64_t hu_http_fed(const hu_http *h, int dir);

/* Bytes that are not HTTP were fed, or a request's body could not be
 * framed: which requests the connection carried is not known from there. */
bool hu_http_unparsable(const hu_http *h);

/* How many of direction dir's next bytes the parser would take without
 * looking at them (body or tunnel bytes short of a message's end), and
 * taking n of them (n <= that) with exactly the effect feeding them would
 * have.  Lets the reassembly layer skip copying message bodies. */
uint64_t hu_http_skippable(const hu_http *h, int dir);
void hu_http_skip(hu_http *h, int dir, uint64_t n);

/* Start loading the state the next bytes of direction dir will touch. */
void hu_http_prefetch(const hu_http *h, int dir);
/* Requests whose final response has not ended yet. */
unsigned hu_http_outstanding(const hu_http *h);
/* Between exchanges: parsable, no request awaiting its response and no
 * message begun in either direction (an idle keep-alive connection). */
bool hu_http_idle(const hu_http *h);

#endif
