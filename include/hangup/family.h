/*
 * family.h -- the rest of the socket-hang-up family: the causes other
 * than the keep-alive race that a capture can prove (docs/DESIGN.md §2.6).
 */
#ifndef HANGUP_FAMILY_H
#define HANGUP_FAMILY_H

#include "hangup/flow.h"
#include "hangup/http.h"
#include "hangup/incident.h"

/* Copies of the packets a family incident will name, allocated on the
 * first request (most connections never need them). */
typedef struct hu_family_pkts {
    hu_pktsum freq;           /* the outstanding request */
    hu_pktsum abort, late_rst;/* the client's abort, its first RST after */
    /* A server close's incident waiting for the client's acknowledgements
     * (family.c): a hole in the server's stream may be a capture gap. */
    struct hu_family_held *held;
} hu_family_pkts;

/* This layer's state for one connection: zeroed at creation, owned by the
 * connection object, written only here; free its copies with
 * hu_family_conn_free. */
typedef struct hu_family_conn {
    bool req_active;          /* an HTTP request is outstanding */
    bool req_acked;           /* the server ACKed all of it */
    bool resp_seen;           /* server payload since it started */
    bool server_closed;       /* server FIN or RST seen */
    char abort;               /* client-abort pending: 'f' (FIN) or 'r' (RST) */
    bool half_closed;         /* that FIN was a half-close with the request */
    bool late_rst;            /* and the client's host RST the late response */
    bool done;                /* a family incident was reported */
    uint16_t syns;            /* client SYNs with the first ISN */
    uint32_t req_end;         /* client snd_max while the request was sent */
    uint32_t syn_isn;
    uint64_t syn_num;         /* the first SYN */
    int64_t syn_ts;
    uint64_t last_syn_num;
    int64_t last_syn_ts;
    uint64_t late_resp_num;   /* server payload after the abort, or 0 */
    hu_family_pkts *pk;       /* NULL until a request is seen */
} hu_family_conn;

/* What the family reads from the layers beside it, for one packet. */
typedef struct hu_family_in {
    bool race_claimed;        /* the race detector has it (reported or waiting) */
    const hu_http *http;      /* the connection's HTTP parser pair, or NULL */
} hu_family_in;

typedef struct hu_family {
    hu_incident_fn emit;
    void *arg;
} hu_family;

/* After reassembly and the HTTP layer have seen packet p (side s of f,
 * fc its state here). */
void hu_family_packet(hu_family *fm, const hu_flow *f, hu_family_conn *fc,
                      const hu_family_in *in, uint8_t s, const hu_pkt *p);

/* A response head with status `status` on f, in its newest packet: a
 * 502, 503 or 504 answering the one outstanding request fc knows is a
 * gateway-error, reported at once.  It does not end the family's watch
 * of the connection: a keep-alive connection may carry more requests and
 * more such answers, each an incident of its own. */
void hu_family_response(hu_family *fm, const hu_flow *f, const hu_family_conn *fc,
                        const hu_family_in *in, int status);

/* f is being released (or the capture ends): report what only the end
 * can prove (connect-timeout, client-abort). */
void hu_family_release(hu_family *fm, const hu_flow *f, hu_family_conn *fc,
                       const hu_family_in *in);
/* False when hu_family_release surely reports nothing, and so reads
 * nothing of f's ring: the owner need not unpack it (hu_flowtab_unpack). */
bool hu_family_release_may_report(const hu_family_conn *fc, const hu_family_in *in);

/* True while a pending incident still needs f's ring (do not compact). */
bool hu_family_waiting(const hu_flow *f, const hu_family_conn *fc);
/* True once a family incident was reported on the connection. */
bool hu_family_reported(const hu_family_conn *fc);

/* Start loading fc's packet copies, which the next packet may write. */
static inline void hu_family_prefetch(const hu_family_conn *fc)
{
    if (fc->pk)
        __builtin_prefetch(fc->pk, 1, 3);
}

/* The connection is between exchanges (its parser says no request is in
 * progress): the outstanding request's copy goes, unless an abort or a
 * held close still needs it; the next request takes a new one. */
void hu_family_idle(hu_family_conn *fc);

/* Free fc's packet copies (the connection is finished). */
void hu_family_conn_free(hu_family_conn *fc);

#endif
