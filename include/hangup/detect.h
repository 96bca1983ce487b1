/*
 * detect.h -- the incident state machine.
 *
 * Fed every tracked packet after flow.c has updated the connection, it
 * finds the core incident of docs/DESIGN.md §2.4: the side that closes
 * first (P) sends a FIN; the other side (C) sends payload whose first byte
 * P's FIN did not acknowledge (before or after the FIN in capture order,
 * so both vantages work); P's host answers with RST.  It is a keep-alive
 * race when P is the server.
 */
#ifndef HANGUP_DETECT_H
#define HANGUP_DETECT_H

#include "hangup/flow.h"
#include "hangup/request.h"

/* Incident kinds: the keep-alive race (detect.c) and the rest of the
 * socket-hang-up family (family.c). */
typedef enum hu_kind {
    HU_KIND_RACE = 0,         /* "keepalive-race" */
    HU_KIND_SERVER_TIMEOUT,   /* "server-timeout" */
    HU_KIND_RESET,            /* "reset-before-response" */
    HU_KIND_ABORT,            /* "client-abort" */
    HU_KIND_REFUSED,          /* "refused" */
    HU_KIND_CONNECT_TIMEOUT,  /* "connect-timeout" */
    HU_KIND_TRUNCATED,        /* "truncated-response" */
    HU_KIND_COUNT
} hu_kind;

const char *hu_kind_name(hu_kind k);
/* The kind named s, or -1. */
int hu_kind_parse(const char *s);

typedef enum hu_verdict {
    HU_VERDICT_CROSSED,   /* the request's ack does not cover the FIN */
    HU_VERDICT_STALE,     /* the client had received the FIN before writing */
} hu_verdict;

const char *hu_verdict_name(hu_verdict v);

/* One incident, handed to the callback; every pointer is borrowed and
 * valid only during the callback. */
typedef struct hu_incident {
    const char *kind;         /* hu_kind_name(kindid) */
    hu_kind kindid;
    hu_verdict verdict;       /* keep-alive races only */
    const hu_flow *flow;
    uint8_t client, server;   /* side indexes into flow */
    const hu_pktsum *fin, *req, *rst;   /* any may be NULL but req */
    int64_t gap_us;           /* request time minus FIN time (signed) */
    int64_t rtt_us;           /* -1 when the handshake was not captured */
    bool rst_ack;             /* [R.] rather than a bare [R] */
    bool handshake_seen;
    bool server_acked;        /* the server's kernel ACKed request bytes */
    bool safe_to_retry;
    hu_request request;       /* the lost request, decoded */
    uint32_t timeline_start;  /* index into the flow's ring */

    /* The connection's story (docs/DESIGN.md §2.5). */
    int64_t requests_before;  /* exchanges completed before; -1 unknown */
    int64_t idle_us;          /* request time - last payload before it; -1 unknown */
    int64_t server_idle_close_us; /* FIN time - server's last payload before; -1 */
    bool close_announced;     /* Connection: close / HTTP/1.0 earlier on it */
    int keepalive_hint_s;     /* the server's Keep-Alive: timeout=N, or -1 */
    const char *sni;          /* TLS server name, or NULL */
    uint8_t reasm;            /* HU_REASM_* */

    /* The other kinds' own facts (-1 / NULL when they do not apply). */
    int64_t wait_us;          /* server-timeout: request to close */
    const char *close;        /* server-timeout, truncated-response: "fin"/"rst" */
    const char *timeout_hint; /* server-timeout: a well-known default it matches */
    const char *abort;        /* client-abort: "fin"/"rst" */
    bool late_response_rst;   /* client-abort: the late response met an RST */
    int64_t late_response_packet;
    int tries;                /* connect-timeout: SYNs sent */
    int64_t spent_us;         /* connect-timeout: first to last SYN */
    int64_t expected_bytes, received_bytes;   /* truncated-response */
} hu_incident;

/* Fill the fields every kind shares from the connection (detect.c). */
void hu_incident_init(hu_incident *inc, hu_kind k, const hu_flow *f, const hu_pktsum *req);

typedef void (*hu_incident_fn)(void *arg, const hu_incident *inc);

typedef struct hu_detect {
    hu_incident_fn emit;
    void *arg;
    uint64_t incidents;
} hu_detect;

/* True when the connection's ring and request window are still needed:
 * a late request was seen and its RST may yet come. */
bool hu_detect_waiting(const hu_flow *f);

/* Run the state machine on packet p, sent by side s of flow f (already
 * tracked).  Calls d->emit at most once per connection, on the RST. */
void hu_detect_packet(hu_detect *d, hu_flow *f, uint8_t s, const hu_pkt *p);

#endif
