/*
 * request.h -- what the lost request was, from its first bytes.
 */
#ifndef HANGUP_REQUEST_H
#define HANGUP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hangup/strbuf.h"

#define HU_METHOD_MAX 32
#define HU_TARGET_MAX 1024

typedef struct hu_request {
    bool http;                /* an HTTP request line was decoded */
    bool tls;                 /* the bytes are a TLS record */
    bool complete;            /* the request line ended (CRLF) in the bytes seen */
    char method[HU_METHOD_MAX + 1];
    uint8_t target[HU_TARGET_MAX];   /* raw bytes from the wire, unescaped */
    size_t target_len;
    char version[9];          /* "HTTP/1.1", or "" */
    uint8_t host[256];        /* Host header, raw bytes (host_len 0: none seen) */
    size_t host_len;
    bool has_host;
    int64_t content_length;   /* Content-Length header, or -1 */
} hu_request;

/*
 * Decode the start of a client's message: an HTTP/1.x request line
 * (method token, SP, target, SP, version) and, among the header lines that
 * follow within p[0, n), Host and Content-Length; or a TLS record header.
 * A line cut short still yields method and the target bytes seen.  Fills
 * *out; never reads beyond p[0, n).
 */
void hu_request_decode(const uint8_t *p, size_t n, hu_request *out);

/* RFC 9110 tchar: the bytes of a method or a header name. */
extern const bool hu_tchar_table[256];
static inline bool hu_is_tchar(uint8_t c) { return hu_tchar_table[c]; }

/* "HTTP/d.d" at p (n >= 8 bytes there): sets *maj and *min. */
bool hu_http_version(const uint8_t *p, size_t n, int *maj, int *min);

/* Where the parts of a request line at p[0, n) lie.  The one scanner of
 * request lines: the HTTP parser (http.c) and the lost request's decoder
 * (hu_request_decode) both read them through it, with the same limits. */
typedef struct hu_reqline {
    size_t method_len;        /* a token, 1 to HU_METHOD_MAX bytes, then SP */
    size_t target_off, target_len;   /* up to SP, CR, LF or the end */
    bool has_version;         /* SP and "HTTP/d.d" follow the target */
    int vmajor, vminor;
    size_t end;               /* offset after the target, or after the version */
} hu_reqline;

/* True when p starts with a method, SP and a non-empty target (the line
 * may be cut after them: has_version says whether the version followed). */
bool hu_reqline_scan(const uint8_t *p, size_t n, hu_reqline *rl);

/* RFC 9110 9.2.2: GET HEAD OPTIONS TRACE PUT DELETE are idempotent. */
bool hu_method_idempotent(const char *method);

/* Whether bytes p[0..n) begin with a request method and a space: one of
 * RFC 9110's or PATCH, and with webdav WebDAV's and PURGE too (a quick
 * test for "this segment starts a request", not a parse). */
bool hu_request_starts(const uint8_t *p, size_t n, bool webdav);

/* The request for people, appended to sb: `GET /x` with the wire bytes
 * escaped (and a note when the line was cut short), or what the bytes
 * were instead (a TLS record, not a request line). */
void hu_request_describe(hu_sb *sb, const hu_request *rq);

#endif
