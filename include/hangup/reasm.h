/*
 * reasm.h -- in-order bytes of each connection, for the HTTP layer.
 *
 * Connections whose handshake is in the capture are reassembled by libnids
 * (out-of-order segments queued, retransmissions trimmed, data outside the
 * window dropped), IPv6 ones included (see reasm.c).  Connections libnids
 * does not follow (no SYN captured, or its table was full) fall back to
 * per-segment delivery: in-order segments are passed on, a hole in the
 * sequence space is reported as a gap so the parser resynchronises.
 * Which path each connection took is recorded in its hu_reasm_conn.
 */
#ifndef HANGUP_REASM_H
#define HANGUP_REASM_H

#include <stddef.h>
#include <stdint.h>
#include "hangup/flow.h"

/* The path a connection's bytes take (named by hu_reasm_name). */
typedef enum hu_reasm_mode { HU_REASM_NONE = 0, HU_REASM_NIDS, HU_REASM_SEGMENTS } hu_reasm_mode;

/* This layer's state for one connection, zeroed when the connection is
 * created (HU_REASM_NONE); owned by the connection object, written only
 * here. */
typedef struct hu_reasm_conn {
    uint8_t mode;             /* hu_reasm_mode */
    uint8_t nids_client;      /* side index of libnids' client (the SYN sender) */
    bool seg_init[2];         /* per-segment delivery: next expected seq known */
    uint32_t seg_next[2];
    /* libnids' stream for this connection while it has one (kept exact:
     * set when libnids takes the connection, cleared when libnids reports
     * the stream gone or hu_reasm_forget frees it). */
    struct tcp_stream *nids_stream;
} hu_reasm_conn;

typedef struct hu_stream_cb {
    /* n bytes sent by dir (HU_HTTP_CLIENT / HU_HTTP_SERVER), in order; seq
     * is the sequence number of p[0]. */
    void (*data)(void *arg, hu_flow *f, int dir, const uint8_t *p, size_t n, uint32_t seq,
                 int64_t ts);
    /* Bytes sent by dir were lost to the capture before what comes next. */
    void (*gap)(void *arg, hu_flow *f, int dir);
    /* Optional: how many of dir's next bytes need not be delivered, and
     * skip() accounting for n of them (n <= that) instead of data(). */
    uint64_t (*skippable)(void *arg, const hu_flow *f, int dir);
    void (*skip)(void *arg, hu_flow *f, int dir, uint64_t n);
} hu_stream_cb;

typedef struct hu_reasm hu_reasm;

/*
 * Start reassembly for one capture, libnids sized for about `streams`
 * concurrent connections.  libnids is process-global, so only one hu_reasm
 * may exist at a time.  When libnids cannot start, *warn says why (once
 * per process) and every connection uses per-segment delivery.  Returns
 * NULL only on allocation failure.
 */
hu_reasm *hu_reasm_new(size_t streams, const hu_stream_cb *cb, void *arg, const char **warn);
void hu_reasm_free(hu_reasm *r);

/* Deliver packet p (already tracked into flow f as side s; rc is f's
 * state here).  The callbacks run before this returns, given f. */
void hu_reasm_packet(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, uint8_t s, const hu_pkt *p);

/* rc's connection is being released: drop libnids' stream for it too.  libnids has no
 * idle timeout, and a stream whose FIN or RST the capture lost (or that
 * stalled on a missing segment, holding up to 64 KiB of queued data per
 * direction) would otherwise stay until its pool overflows. */
void hu_reasm_forget(hu_reasm *r, hu_reasm_conn *rc);

/* Counters for the summary. */
typedef struct hu_reasm_stats {
    uint64_t nids_streams;    /* connections libnids reassembled */
    uint64_t segment_flows;   /* connections on per-segment delivery */
    uint64_t nids_evicted;    /* of libnids' connections, those it let go while
                                 open (its table full) and that went on per
                                 segment, counted in both figures above */
    uint64_t gaps;            /* holes reported to the HTTP layer */
    uint64_t ipv6_addrs;      /* IPv6 addresses given IPv4 stand-ins */
    /* Segments reasm.c took itself and checked against libnids
     * (HANGUP_CHECK_NIDS): bare ACKs, body segments only counted, and
     * segments whose bytes were delivered. */
    uint64_t acks_checked, segs_checked, data_checked;
    /* ... and those libnids took otherwise than predicted: a bug in the
     * shortcut (the first one's packet number). */
    uint64_t check_failures, check_first_failure;
    /* Where libnids ran out of memory (its own word for the place), after
     * which it was not used again; NULL if it did not. */
    const char *nids_oom;
} hu_reasm_stats;
void hu_reasm_stats_get(const hu_reasm *r, hu_reasm_stats *st);

/* Start loading what feeding rc's next segment will touch in libnids: its
 * stream (the receiving half's buffer is recycled, so already in cache). */
void hu_reasm_prefetch(const hu_reasm_conn *rc);

/* The libnids version hangup was built with ("1.26"), from nids.h's
 * NIDS_MAJOR and NIDS_MINOR: libnids reports no version at run time
 * (Debian ships it as a static library only, so it is also the one that
 * runs).  A static string. */
const char *hu_reasm_lib_version(void);

#endif
