/*
 * history.h -- the HTTP story of each connection.
 *
 * Receives each connection's in-order bytes from reasm.c, runs them through
 * the HTTP parser, and keeps what an incident needs to explain "why now":
 * how many exchanges the connection carried, whether anyone announced the
 * close, the server's Keep-Alive hint, the TLS server name.  It also feeds
 * the per-server summary (requests, client idle before reuse, the server's
 * idle closes) and reports every request head to a sink (retry matching).
 *
 * Its per-connection state is a hu_hist_conn, held by the connection
 * object and written only here: hu_history_release() must be called when
 * the connection is released.
 */
#ifndef HANGUP_HISTORY_H
#define HANGUP_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include "hangup/flow.h"
#include "hangup/http.h"
#include "hangup/relay.h"
#include "hangup/servers.h"
#include "hangup/software.h"
#include "hangup/tlsdec.h"

#define HU_NO_TIME INT64_MAX

typedef struct hu_hist {
    uint32_t requests;         /* request heads parsed */
    uint32_t responses;        /* final responses that ended */
    int64_t close_ann_ts;      /* first message announcing the close, or HU_NO_TIME */
    int64_t last_resp_end_ts;  /* HU_NO_TIME before the first */
    int64_t last_req_start_ts;
    int keepalive_hint;        /* server's Keep-Alive: timeout=N, or -1 */
    bool sni_done;
    bool sni_mid;              /* the search went on at a mid-stream hello */
    /* Where the client's newest chunk began, to place message starts in
     * sequence space; and where the newest request began. */
    bool last_req_seq_set;
    uint8_t sw_own;            /* see sw below */
    uint32_t chunk_seq;
    uint32_t last_req_seq;
    uint64_t chunk_off;
    char *sni;                 /* owned, or NULL */
    uint8_t *hello;            /* the hello's first bytes, until SNI is found */
    size_t hello_len;
    int64_t idle_close_us;     /* the server's idle close delay, or -1 */
    /* Who the sides are (software.h), from any message on the connection:
     * [HU_HTTP_CLIENT] and [HU_HTTP_SERVER], each allocated on the side's
     * first identifying header; and the proxy pair (relay.h) one of its
     * requests was forwarded along, or 0.  An identity is shared (the
     * history's table of those seen, most connections carrying one of a
     * few) unless bit dir of sw_own says it is the side's own copy. */
    const hu_sw_ident *sw[2];
    unsigned relay_pair;
    /* TLS decryption (tlsdec.h): a decryptor exists only on a TLS
     * connection when a key log was given; tls_on once its keys were
     * found, from when the parser sees plaintext only. */
    bool tls_on;
    hu_tlsdec *tls;
} hu_hist;

/* This layer's state for one connection: zeroed at creation, allocated on
 * its first payload, the parser freed when the connection is compacted. */
typedef struct hu_hist_conn {
    struct hu_http *http;     /* parser pair, or NULL */
    hu_hist *hist;            /* the story, or NULL */
} hu_hist_conn;

/* A message head was seen on flow f: a request (dir HU_HTTP_CLIENT) or a
 * response (HU_HTTP_SERVER). */
typedef void (*hu_head_fn)(void *arg, const hu_flow *f, int dir, const hu_http_msg *m);

typedef struct hu_history hu_history;

/* sv (borrowed, must outlive h) receives the server accounting and the
 * servers' software; relay (borrowed, may be NULL) every request head, to
 * recognise proxies; every message head is reported to on_head (may be
 * NULL).  NULL on OOM. */
hu_history *hu_history_new(hu_servers *sv, hu_relay *relay, hu_head_fn on_head, void *arg);
void hu_history_free(hu_history *h);

/* What the TLS layer has to tell the user about connection f (a missing
 * key, a record that did not decrypt): msg, one line without its end. */
typedef void (*hu_tls_note_fn)(void *arg, const hu_flow *f, const char *msg);

/* Decrypt TLS connections with the secrets in kl (borrowed, must outlive
 * h; NULL: none, the default): each TLS connection's plaintext is parsed
 * as HTTP instead of its records, and note (may be NULL) hears of each
 * connection's problems. */
void hu_history_keylog(hu_history *h, hu_keylog *kl, hu_tls_note_fn note, void *arg);

/* The client's decrypted bytes from the record at or after TCP position
 * seq (the lost request: tlsdec.h's hu_tlsdec_client_plain), up to cap
 * into out; 0 when the connection is not being decrypted or they are not
 * kept. */
size_t hu_history_tls_plain(const hu_hist_conn *hc, uint32_t seq, uint8_t *out, size_t cap);

/* In-order bytes of connection f (its state hc) from reassembly: n bytes
 * sent by dir (HU_HTTP_CLIENT / HU_HTTP_SERVER), seq the sequence number
 * of p[0], ts the packet's time. */
void hu_history_data(hu_history *h, const hu_flow *f, hu_hist_conn *hc, int dir,
                     const uint8_t *p, size_t n, uint32_t seq, int64_t ts);
/* Bytes sent by dir were lost to the capture before what comes next. */
void hu_history_gap(hu_history *h, hu_hist_conn *hc, int dir);
/* How many of dir's next bytes need not be delivered (body bytes only
 * counted, or bytes of a stream that is not HTTP -- but not a ClientHello
 * the tracker found mid-stream, whose server name is wanted), and
 * hu_history_skip accounting for n <= that many. */
uint64_t hu_history_skippable(const hu_flow *f, const hu_hist_conn *hc, int dir);
void hu_history_skip(hu_hist_conn *hc, int dir, uint64_t n);

/* After reassembly of packet p (side s of f): end-of-stream on FIN, and
 * the server's idle close accounting. */
void hu_history_packet(hu_history *h, const hu_flow *f, hu_hist_conn *hc, uint8_t s,
                       const hu_pkt *p);

/* A closed connection needs no parser any more: free it, keep the
 * history (an incident may still be waiting to be printed). */
void hu_history_compact(hu_history *h, hu_hist_conn *hc);

/* Start loading what the next bytes from HTTP direction dir will touch. */
void hu_history_prefetch(const hu_hist_conn *hc, int dir);

/* Account connection f to its server and free hc's state (release). */
void hu_history_release(hu_history *h, const hu_flow *f, hu_hist_conn *hc);

/* The server's idle close delay on this connection, or -1 (not one). */
int64_t hu_history_idle_close(const hu_hist_conn *hc);
/* The connection's HTTP parser pair, or NULL (no HTTP yet, or compacted).
 * Inline: the family asks for it on every packet. */
static inline const hu_http *hu_history_parser(const hu_hist_conn *hc) { return hc->http; }

/* What an incident reports about the connection before time ts. */
typedef struct hu_hist_view {
    bool http;                 /* HTTP was parsed on this connection */
    int64_t requests_before;   /* exchanges completed; -1 unknown */
    bool close_announced;
    int keepalive_hint_s;      /* -1 none */
    const char *sni;           /* NULL none */
    const hu_sw_ident *client_sw, *server_sw;   /* NULL: nothing identifies the side */
    unsigned relay_pair;       /* relay.h: a request was forwarded along it, or 0 */
} hu_hist_view;
void hu_history_view(const hu_hist_conn *hc, int64_t ts, hu_hist_view *v);

#endif
