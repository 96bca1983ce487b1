/*
 * incident.h -- the incident model: what an incident is, from the finding
 * a detector makes on a live connection to the self-contained record that
 * is printed, stored and loaded back.
 *
 * The detectors (detect.c for the keep-alive race, family.c for the rest
 * of the socket-hang-up family) fill a hu_incident that borrows from the
 * connection; hu_incident_rec_new copies everything output and storage
 * need, the timeline included (rendered while the connection's ring still
 * holds it), so the record can wait for its retry window after the
 * connection is gone.  This module owns every policy and name that gives
 * an incident its meaning: the kinds, the verdicts, which incidents are
 * safe to retry, the server timeouts a wait is recognised as, and the
 * names of the reassembly paths.  Definitions: docs/DESIGN.md §2.
 */
#ifndef HANGUP_INCIDENT_H
#define HANGUP_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>
#include "hangup/communityid.h"
#include "hangup/fileset.h"
#include "hangup/flow.h"
#include "hangup/pktsum.h"
#include "hangup/request.h"
#include "hangup/software.h"
#include "hangup/strbuf.h"

/* Incident kinds: the keep-alive race (detect.c) and the rest of the
 * socket-hang-up family (family.c).  New kinds go at the end: a kind's
 * number is its bit in --kind masks, and tests and tables index by it
 * (the store keeps names, so stored incidents never depend on it). */
typedef enum hu_kind {
    HU_KIND_RACE = 0,         /* "keepalive-race" */
    HU_KIND_SERVER_TIMEOUT,   /* "server-timeout" */
    HU_KIND_RESET,            /* "reset-before-response" */
    HU_KIND_ABORT,            /* "client-abort" */
    HU_KIND_REFUSED,          /* "refused" */
    HU_KIND_CONNECT_TIMEOUT,  /* "connect-timeout" */
    HU_KIND_TRUNCATED,        /* "truncated-response" */
    HU_KIND_CLOSED,           /* "closed-before-response" */
    HU_KIND_GATEWAY,          /* "gateway-error" */
    HU_KIND_COUNT
} hu_kind;

/* k's name ("unknown" out of range); the kind named s, or -1. */
const char *hu_kind_name(hu_kind k);
int hu_kind_parse(const char *s);

typedef enum hu_verdict {
    HU_VERDICT_CROSSED,   /* the request's ack does not cover the FIN */
    HU_VERDICT_STALE,     /* the client had received the FIN before writing */
} hu_verdict;

const char *hu_verdict_name(hu_verdict v);

/* The name of a reassembly path (hu_reasm_mode: "libnids", "segments",
 * "none"), as printed and stored. */
const char *hu_reasm_name(uint8_t mode);
/* The path named `name` (as hu_reasm_name gives it); unknown: none. */
uint8_t hu_reasm_parse(const char *name);
/* The same path explained for people ("full (libnids)", ...). */
const char *hu_reasm_explain(uint8_t mode);

/* A server-timeout's wait recognised as a well-known default ("node
 * server.timeout 120 s", ...), or NULL.  Static strings. */
const char *hu_timeout_hint(int64_t wait_us);


/* One incident as a detector finds it; every pointer is borrowed from the
 * connection and valid only while the detector's callback runs. */
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
    hu_request request;       /* the lost request, decoded */
    uint32_t timeline_start;  /* index into the flow's ring */

    /* The connection's story (docs/DESIGN.md §2).  The detector fills the
     * idle times; the pipeline adds what the HTTP layer knows. */
    int64_t requests_before;  /* exchanges completed before; -1 unknown */
    int64_t idle_us;          /* request time - last payload before it; -1 unknown */
    int64_t server_idle_close_us; /* FIN time - server's last payload before; -1 */
    bool close_announced;     /* Connection: close / HTTP/1.0 earlier on it */
    int keepalive_hint_s;     /* the server's Keep-Alive: timeout=N, or -1 */
    const char *sni;          /* TLS server name, or NULL */
    uint8_t reasm;            /* hu_reasm_mode, set by the pipeline */

    /* The other kinds' own facts (-1 / NULL when they do not apply). */
    int64_t wait_us;          /* server-timeout, reset, closed: request to close;
                                 gateway-error: request to response */
    const char *close;        /* server-timeout, truncated-response, closed: "fin"/"rst" */
    const char *abort;        /* client-abort: "fin"/"rst" */
    bool late_response_rst;   /* client-abort: the late response met an RST */
    int64_t late_response_packet;
    int tries;                /* connect-timeout: SYNs sent */
    int64_t spent_us;         /* connect-timeout: first to last SYN */
    int64_t expected_bytes, received_bytes;   /* truncated-response */
    int status;               /* gateway-error: the response's status (502, 503, 504) */
    const hu_pktsum *resp;    /* gateway-error: the packet completing its head */

    /* Who the client and the server are (software.h), set by the
     * pipeline; NULL when nothing identifies the side. */
    const hu_sw_ident *client_sw, *server_sw;
} hu_incident;

/* Where a detector hands its findings (valid during the call only). */
typedef void (*hu_incident_fn)(void *arg, const hu_incident *inc);

/* Fill the fields every kind shares from the connection, and decode the
 * request bytes of summary req (NULL: none) from f's request window. */
void hu_incident_init(hu_incident *inc, hu_kind k, const hu_flow *f, const hu_pktsum *req);

/* Whether the lost request may be sent again.  A race's RST shows the
 * server's kernel discarded the request unread, so any method is safe
 * unless the server had ACKed it; nothing was sent for a failed connect;
 * otherwise the request reached the server and only an idempotent method
 * is safe. */
bool hu_incident_safe_to_retry(const hu_incident *inc);

/* A packet an incident names.  Inside the pipeline num is the capture's
 * number (continuous over a set of files, fileset.h); once the record is
 * localised (hu_incident_rec_localize) it is the number in its file, and
 * file says which: 0 the record's `file`, k the record's files[k - 1]. */
typedef struct hu_pktref {
    uint64_t num;
    int64_t ts_us;
    uint32_t file;
} hu_pktref;

/* One packet of an incident's timeline. */
typedef struct hu_tl_entry {
    uint64_t num;
    int64_t ts_us;
    bool from_client;
    uint8_t flags;               /* HU_TH_* */
    uint32_t seq, ack;           /* as printed (relative or absolute) */
    uint32_t len;                /* payload length */
    uint64_t omitted_before;     /* packets of the connection not shown before it */
    char *line;                  /* exactly tcpdump -n's line, owned */
    char *note;                  /* annotation ("server FIN: ..."), owned, or NULL */
    char *file;                  /* the packet's file when the capture is a set of
                                    files (num is then its number there), owned;
                                    NULL for a capture of one file */
} hu_tl_entry;

/* What became of the user's request behind an incident on a proxy's
 * upstream connection, when the capture holds the downstream connection
 * too (legs.c links them; docs/DESIGN.md §2.11). */
typedef enum hu_ds_outcome {
    HU_DS_UNKNOWN = 0,        /* linked; the capture shows no answer or close */
    HU_DS_RETRIED,            /* the proxy sent the request upstream again */
    HU_DS_BAD_GATEWAY,        /* the proxy answered the user a 5xx */
    HU_DS_CLOSED,             /* the proxy closed or reset the user's connection
                                 without a response */
    HU_DS_ANSWERED,           /* answered otherwise (no retry in the capture) */
} hu_ds_outcome;

/* o's name ("retried", "bad-gateway", ...), as printed and stored; the
 * outcome named s (unknown: HU_DS_UNKNOWN). */
const char *hu_ds_outcome_name(hu_ds_outcome o);
hu_ds_outcome hu_ds_outcome_parse(const char *s);

typedef struct hu_downstream {
    uint32_t candidates;      /* downstream requests that fit: 0 none (the leg is
                                 not in the capture), 1 linked, more: ambiguous,
                                 not linked */
    uint8_t ipver;            /* of the downstream connection */
    uint8_t cli_addr[16], srv_addr[16];   /* the user, the proxy's front */
    uint16_t cli_port, srv_port;
    uint64_t conn_id;         /* the downstream connection's number */
    hu_pktref request;        /* the user's request */
    hu_ds_outcome outcome;
    int status;               /* the user's response status, or 0 */
    hu_pktref response;       /* the packet completing its head, or num 0 */
    hu_pktref close;          /* the proxy's FIN or RST before any response */
    hu_pktref retry;          /* the proxy's retry upstream, or num 0 */
} hu_downstream;

typedef struct hu_incident_rec {
    const char *kind;
    hu_kind kindid;
    hu_verdict verdict;          /* keep-alive races */
    const char *file;            /* borrowed (outlives the run), or file_owned; for a
                                    set of files, the request packet's file */
    char *file_owned;            /* set for records loaded from the store */
    uint8_t ipver;
    uint8_t cli_addr[16], srv_addr[16];
    uint16_t cli_port, srv_port;
    uint64_t conn_id;            /* the connection's number in its file */
    char community_id[HU_CID_LEN];   /* the connection's Community ID (seed 0), or "" */
    int64_t db_id;               /* its incidents.id once stored (`show ID`), else 0 */
    bool spooled;                /* kept in live's spool for a database that is
                                    unreachable (spool.h): printed so, no id yet */
    char spool_key[64];          /* its spool's key (spool.h), or "": a record
                                    with a key is stored once per key */
    hu_pktref fin, req, rst;     /* num 0: none (the kind has no such packet) */
    int64_t gap_us, rtt_us;
    bool rst_ack, handshake_seen, server_acked, safe_to_retry;
    hu_request request;
    int64_t requests_before, idle_us, server_idle_close_us;
    bool close_announced;
    int keepalive_hint_s;
    char sni[256];               /* "" when none */
    uint8_t reasm;
    bool retried;
    int64_t retry_delay_us;      /* -1 when not retried */
    /* The other kinds' facts (-1 / "" when they do not apply). */
    int64_t wait_us;
    char close[4], abort[4];
    const char *timeout_hint;    /* from hu_timeout_hint, or in file_owned once loaded; or NULL */
    bool late_response_rst;
    int64_t late_response_packet;
    uint32_t late_response_file; /* as hu_pktref.file */
    int tries;
    int64_t spent_us;
    int64_t expected_bytes, received_bytes;
    int status;                  /* gateway-error: the response's status, else -1 */
    hu_pktref resp;              /* gateway-error: the response's head packet, else num 0 */
    uint64_t number;             /* the incident's number in its capture, from 1 */
    hu_downstream ds;            /* the proxy's downstream leg (candidates 0: none) */
    uint64_t cause;              /* on a user's connection: the number of the
                                    upstream incident that caused it (legs.h), or 0 */
    /* Who the client and the server are, from the capture's evidence
     * (software.h; printable ASCII, "" when unknown): the software's name,
     * its kind (hu_sw_kind_name) and the evidence (a header and its value,
     * or what the capture's structure shows). */
    char client_software[HU_SW_NAME_MAX], client_kind[16], client_evidence[HU_SW_EVIDENCE_MAX];
    char server_software[HU_SW_NAME_MAX], server_kind[16], server_evidence[HU_SW_EVIDENCE_MAX];
    /* The connection's capture gaps when the incident was proven (gaps.h,
     * docs/DESIGN.md §2.13): bytes the peers acknowledged that the capture
     * does not hold, both directions; and, for a capture of one direction
     * only, the side it holds ("client", "server"; "" otherwise). */
    uint32_t capture_gaps;
    uint64_t capture_gap_bytes;
    char one_sided[8];
    unsigned relay_pair;         /* the pipeline's: relay.h's pair of the connection, or 0;
                                    not stored */
    hu_tl_entry *timeline;       /* owned; ntimeline entries */
    size_t ntimeline;
    /* A capture of several files (fileset.h): the files its packets are
     * in, owned; hu_pktref.file indexes it from 1.  nfiles 0 for a capture
     * of one file: every number is then in `file` and nothing says so. */
    char **files;
    size_t nfiles;
} hu_incident_rec;

/* Build a record from a detector incident, timeline included, while the
 * connection is alive; NULL on OOM.  `file` is borrowed and must outlive
 * the record; `number` is its number in the capture.  fs: the capture's
 * files when it is a set of more than one (else NULL): the timeline's
 * notes then name each packet by file and number in it, and `file` is
 * the request packet's (borrowed from fs, which must outlive the record).
 * Free with hu_incident_rec_free (NULL is a no-op). */
hu_incident_rec *hu_incident_rec_new(const hu_incident *inc, const char *file, uint64_t number,
                                     const hu_fileset *fs);

/* Turn the capture's packet numbers of r into numbers in their files,
 * each with its file (hu_pktref.file, files, hu_tl_entry.file), as output
 * and the store want them.  A no-op when fs holds fewer than two files.
 * False when out of memory (some numbers may then be left unmapped). */
bool hu_incident_rec_localize(hu_incident_rec *r, const hu_fileset *fs);

/* The file of packet reference idx (hu_pktref.file) of r. */
const char *hu_incident_rec_file(const hu_incident_rec *r, uint32_t idx);
/* path's index (from 1) in r->files, added (copied) when missing; 0 when
 * out of memory. */
uint32_t hu_incident_rec_add_file(hu_incident_rec *r, const char *path);
void hu_incident_rec_free(hu_incident_rec *r);

/* The record in one line, for -w's packet comments: "hangup #N kind
 * (verdict) in FILE: what the packets prove; safe to retry: yes|not
 * proven", wire bytes escaped as hu_sb_safe does. */
void hu_incident_rec_oneline(hu_sb *sb, const hu_incident_rec *r);

#endif
