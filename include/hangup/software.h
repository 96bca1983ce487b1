/*
 * software.h -- who the client and the server are, from the headers they
 * send (docs/DESIGN.md §2.10).
 *
 * One table recognises software by the identifying headers of HTTP
 * messages: a request's User-Agent and the marks proxies and load
 * balancers add (Via, X-Forwarded-*, X-Amzn-Trace-Id, X-Envoy-*, ...), a
 * response's Server, X-Powered-By, Via and Keep-Alive.  Each header a
 * side sends is offered to that side's hu_sw_ident; stronger evidence
 * replaces weaker (a proxy's mark beats the User-Agent it passed on from
 * its own client), equal evidence keeps the first.  The result says what
 * the side is (name, kind) and why (the header and its value).  Nothing is
 * guessed: a side with no identifying header stays unknown.
 *
 * Every string this module writes is printable ASCII: wire bytes outside
 * it are escaped as \xNN, long values cut with "...".  So the names and
 * evidence can be stored and printed as they are (JSON still quotes them).
 * The module also holds what is known about each recognised stack: its
 * family (what the client of an incident did, for report.c) and the
 * documented default idle timeouts a server's measured one is matched
 * against (servers.c).
 */
#ifndef HANGUP_SOFTWARE_H
#define HANGUP_SOFTWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The identifying headers (all other headers are not looked at). */
typedef enum hu_sw_header {
    HU_SWH_USER_AGENT,
    HU_SWH_SERVER,
    HU_SWH_VIA,
    HU_SWH_X_POWERED_BY,
    HU_SWH_X_AMZN_TRACE_ID,
    HU_SWH_X_CLOUD_TRACE,     /* X-Cloud-Trace-Context */
    HU_SWH_CF_RAY,
    HU_SWH_X_VARNISH,
    HU_SWH_X_ENVOY,           /* any X-Envoy-* */
    HU_SWH_X_FORWARDED_SERVER,
    HU_SWH_X_FORWARDED,       /* X-Forwarded-For/-Proto/-Port/-Host, Forwarded */
    HU_SWH_KEEP_ALIVE,
    HU_SWH_COUNT
} hu_sw_header;

/* The identifying header named name[0..n) (case-insensitive), or -1.
 * Cheap: asked of every header line the HTTP parser reads. */
int hu_sw_header_id(const char *name, size_t n);

/* What a side is. */
typedef enum hu_sw_kind {
    HU_SWK_UNKNOWN = 0,
    HU_SWK_LB,                /* "load-balancer" */
    HU_SWK_PROXY,             /* "proxy" */
    HU_SWK_APP,               /* "application" */
} hu_sw_kind;

/* The kind's name, NULL for HU_SWK_UNKNOWN; the kind named s (unknown
 * for NULL or anything else). */
const char *hu_sw_kind_name(hu_sw_kind k);
hu_sw_kind hu_sw_kind_parse(const char *s);

/* Stacks whose behaviour the explanations know (report.c). */
typedef enum hu_sw_family {
    HU_SWF_NONE = 0,
    HU_SWF_CURL, HU_SWF_WGET,
    HU_SWF_PY_REQUESTS, HU_SWF_PY_URLLIB,
    HU_SWF_GO,
    HU_SWF_NODE, HU_SWF_NODE_FETCH,
    HU_SWF_JAVA, HU_SWF_JAVA_AHC, HU_SWF_OKHTTP,
    HU_SWF_NGINX, HU_SWF_HAPROXY, HU_SWF_ENVOY, HU_SWF_VARNISH, HU_SWF_APACHE,
    HU_SWF_CADDY, HU_SWF_AWS_LB, HU_SWF_GOOGLE_LB, HU_SWF_CLOUDFLARE,
    HU_SWF_GUNICORN, HU_SWF_UVICORN, HU_SWF_PY_HTTPSERVER, HU_SWF_WERKZEUG,
    HU_SWF_KESTREL, HU_SWF_JETTY, HU_SWF_LIGHTTPD, HU_SWF_IIS,
    HU_SWF_COUNT
} hu_sw_family;

#define HU_SW_NAME_MAX 64
#define HU_SW_EVIDENCE_MAX 256

/* One side's identity so far.  Zeroed: nothing known. */
typedef struct hu_sw_ident {
    uint8_t strength;         /* 0: nothing known; higher replaces lower */
    uint8_t kind;             /* hu_sw_kind */
    char name[HU_SW_NAME_MAX];          /* "curl/7.88.1", "" when only the kind is known */
    char evidence[HU_SW_EVIDENCE_MAX];  /* "User-Agent: curl/7.88.1" */
} hu_sw_ident;

/*
 * Header hdr (hu_sw_header, as hu_sw_header_id gave it for the name
 * hname[0..hlen)) with value v[0..n), sent by the client (a request:
 * from_client) or the server, offered to that side's id: id changes only
 * when this is stronger evidence than id holds.  Returns whether it
 * changed.  Only id->strength is read; when it changes, strength, kind,
 * name and evidence are all written (the bytes after each string's NUL
 * are left as they were).  Any bytes are accepted.
 */
bool hu_sw_observe(hu_sw_ident *id, bool from_client, int hdr, const char *hname, size_t hlen,
                   const uint8_t *v, size_t n);

/* Copy src[0..n) into dst (cap bytes, cap >= 4) as printable ASCII:
 * other bytes as \xNN, cut with "..." when it does not fit. */
void hu_sw_escape(char *dst, size_t cap, const uint8_t *src, size_t n);

/* The family of a software name this module wrote (its leading display
 * name), HU_SWF_NONE for NULL, "" or a name it does not know. */
hu_sw_family hu_sw_family_of(const char *name);

/* The documented default idle (keep-alive) timeout of the stack named
 * `name` that a measured timeout_us matches within 5 %, as a static
 * sentence ("5.0 s: Apache httpd's default KeepAliveTimeout"), or NULL
 * when the stack is unknown, has no such default or it does not match. */
const char *hu_sw_idle_default(const char *name, int64_t timeout_us);

#endif
