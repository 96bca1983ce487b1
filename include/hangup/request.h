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
    bool decrypted;           /* TLS: the bytes were decrypted with the key log
                                 (set by the caller; hu_request_decode clears it) */
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

/* A version word as servers take it: "HTTP/", digits, and optionally "."
 * and digits, all of p[0, n) (so "HTTP/1." is 1.0 and "HTTP/1.10" is
 * 1.10; each number is capped at 999).  Sets *maj and *min. */
bool hu_http_version_lenient(const uint8_t *p, size_t n, int *maj, int *min);

/* Where the parts of a request line at p[0, n) lie.  The one scanner of
 * request lines: the HTTP parser (http.c) and the lost request's decoder
 * (hu_request_decode) both read them through it, with the same limits. */
typedef struct hu_reqline {
    size_t method_len;        /* a token, 1 to HU_METHOD_MAX bytes, then SP */
    size_t target_off, target_len;   /* 0 bytes long when the target is missing */
    bool has_version;         /* the line ends with a version word */
    bool plain_version;       /* ... which is exactly "HTTP/d.d" */
    int vmajor, vminor;
    size_t version_off, version_len;
    bool line_ended;          /* the line ended (CR or LF) within the bytes */
    size_t end;               /* the line's end: its CR or LF, or where the
                               * bytes stop (cut: after the target or version) */
} hu_reqline;

/*
 * True when p starts with a request line as the servers that answer them
 * read it (nginx, Apache, Node, Python, gunicorn; samples/lenient.answers):
 * a method, one or more SP, then either
 *   - a target and a version word (hu_http_version_lenient), separated by
 *     SP (the target may hold SP: the version is the line's last word);
 *   - a version word alone: the target is missing;
 *   - a target alone: an HTTP/0.9 simple request (has_version false).
 * whole: p[0, n) is the entire line, its CR LF stripped.  Otherwise the
 * line ends at the first CR or LF; a line the bytes cut short keeps the
 * target up to its first SP, and has_version says whether "HTTP/d.d"
 * followed it.  Never reads beyond p[0, n).
 */
bool hu_reqline_scan(const uint8_t *p, size_t n, bool whole, hu_reqline *rl);

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
