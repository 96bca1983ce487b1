/*
 * flow.h -- the connection table and per-packet TCP tracker.
 *
 * Every TCP packet of a file, both address families, lands in exactly one
 * hu_flow, keyed by its 4-tuple without direction.  The tracker decides who
 * is client and server, follows each side's sequence space, times the
 * handshake, computes the relative sequence numbers tcpdump would print,
 * and keeps a bounded ring of recent packet summaries so that an incident
 * can print its timeline without the pcap.  Flows are released when idle
 * too long for their state (open, half-closed, closed, each with its own
 * timeout), or when the table is full (least recently active first), so
 * memory is bounded by the table size; a released connection is queued
 * for its owner (the pipeline), never called back.  A connection here is
 * TCP facts only: the layers above keep theirs in the owner's connection
 * object, of which the hu_flow is the first member (conn_size).
 */
#ifndef HANGUP_FLOW_H
#define HANGUP_FLOW_H

#include <stddef.h>
#include "hangup/gaps.h"
#include "hangup/packet.h"
#include "hangup/pktsum.h"
#include "hangup/tcpprint.h"

#define HU_RING_MAX 32        /* packet summaries kept per connection */
#define HU_REQWIN 1024        /* client bytes kept from each request start */
/* A hello that starts TLS after a cleartext exchange is looked for at the
 * segment starts within each side's first HU_TLS_SCAN stream bytes. */
#define HU_TLS_SCAN 16384

/* How the client/server roles were decided, strongest last. */
typedef enum hu_role_src {
    HU_ROLE_PORT = 0,         /* guess: the higher port is the client */
    HU_ROLE_PAYLOAD,          /* a request line / TLS ClientHello was seen */
    HU_ROLE_SYNACK,           /* the SYN-ACK receiver is the client */
    HU_ROLE_SYN,              /* the SYN sender is the client */
} hu_role_src;

typedef struct hu_side {
    bool seen;                /* this side has sent a packet */
    bool data_seen;           /* ... carrying payload */
    bool fin_seen;
    bool rst_seen;
    bool ack_seen;            /* last_ack is valid */
    bool fin_has_ack;
    uint32_t isn;             /* first seq seen from this side */
    uint32_t snd_max;         /* highest seq+len(+SYN/FIN) sent */
    uint32_t last_ack;        /* highest ack sent (valid when ack_seen) */
    /* Its first FIN (docs/DESIGN.md §2.3): fin_seq = seq + payload length. */
    uint32_t fin_seq, fin_ack;
    int64_t last_data_ts;     /* time of this side's newest payload byte */
    uint64_t fin_num;
    int64_t fin_ts;
} hu_side;

/* Bytes of the client's newest request, starting at reqwin_seq, kept so a
 * request line split over segments (or sent before the FIN that makes it
 * late) can still be decoded. */
typedef struct hu_reqwin {
    bool set;
    uint32_t seq;             /* stream position of buf[0] */
    uint32_t contig;          /* bytes filled contiguously from buf[0] */
    uint8_t bitmap[HU_REQWIN / 8];
    uint8_t buf[HU_REQWIN];
} hu_reqwin;

typedef struct hu_flow hu_flow;

/* The flow table's activity lists, one per state. */
enum { HU_LIST_OPEN = 0, HU_LIST_HALF, HU_LIST_CLOSED, HU_LIST_COUNT };

/* Fields are grouped so that the struct has no holes: it is in memory once
 * per connection tracked, open or recently closed. */
struct hu_flow {
    hu_flow *hnext;           /* hash chain; once released, the released queue */
    hu_flow *lprev, *lnext;   /* activity list, least recent first */
    int64_t queued_ts;        /* last_ts when it was put on the list */
    uint32_t hash;
    uint8_t list;             /* which activity list: HU_LIST_* */

    /* Key: side 0 is the endpoint tcpdump calls the source of its
     * conversation key (the lower port, then the lower address). */
    uint8_t ipver;
    uint16_t port[2];
    uint8_t addr[2][16];

    uint8_t client;           /* side index of the client */
    bool closed;              /* RST seen, or both FINs */
    /* The connection carries TLS (docs/DESIGN.md §2.3): the client's first
     * bytes were a TLS handshake record, or a hello began after a cleartext
     * exchange (tls_mid: STARTTLS, AUTH TLS, SSLRequest, CONNECT). */
    bool tls;
    bool tls_mid;
    bool tls_hello_set;       /* tls_mid by the client's ClientHello ... */
    /* Handshake: RTT = first ACK after the SYN-ACK minus the SYN. */
    bool syn_seen, synack_seen, handshake_seen;
    /* tcpdump's relative-sequence bases (print-tcp.c tcp_seq_hash). */
    bool td_set;
    hu_role_src role_src;
    uint32_t tls_hello_seq;   /* ... whose first byte is at this position */
    uint32_t td_base[2];

    uint64_t id;              /* connection number in this file, from 1 */
    int64_t first_ts, last_ts;
    uint64_t packets;
    int64_t closed_ts;
    int64_t syn_ts;
    int64_t rtt_us;           /* -1 when unknown */

    hu_side side[2];
    hu_reqwin *reqwin;        /* client request bytes, allocated on demand */

    /* Ring of recent packet summaries, oldest at ring[ring_head]. */
    hu_pktsum *ring;
    uint16_t ring_cap, ring_head, ring_len;
    /* hu_flow_idle's last call: at packet number idle_mark (its low bits)
     * of this connection, when idle_armed. */
    bool idle_armed;
    uint8_t idle_mark;
    bool idle_queued;         /* in the table's idle queue, at idle_slot */
    bool ring_backed;         /* ring_packed backs the live ring (below) */
    uint32_t idle_slot;
    /* Bit i: ring[i] has a heap part (its ext).  Slots are
     * cold; this says which to free without reading every one. */
    uint32_t ring_heap;
    uint64_t ring_dropped;    /* summaries overwritten so far */
    /* An idle connection's ring, packed (pktsum.h) until its next packet
     * or its release; the ring is empty meanwhile.  Once unpacked
     * (ring_backed), the block stays until the ring is packed anew or
     * released: the unpacked summaries' texts point into it.  NULL
     * otherwise. */
    uint8_t *ring_packed;

    /* Capture gaps (gaps.h): NULL until a packet shows a hole, a cut
     * segment or an acknowledgement beyond what was captured. */
    hu_gaps *gaps;
};

/* The owner's usual pack_from: below it every ring unpacked costs at most
 * 20 MiB, not worth a pack and an unpack per exchange (about 15% of the
 * user time on a capture of 2000 open connections). */
#define HU_PACK_FROM 8192

typedef struct hu_flowtab_cfg {
    size_t max_flows;         /* table bound; least recently active evicted */
    int64_t idle_us;          /* release open flows idle longer than this */
    int64_t halfclosed_us;    /* ... flows with one FIN seen (a lost FIN or RST
                                 must not keep them for idle_us) */
    int64_t closed_us;        /* ... closed flows (RST, or both FINs) */
    /* Idle connections' rings are trimmed and packed only while the table
     * holds at least this many connections (0: always; see HU_PACK_FROM). */
    size_t pack_from;
    /* Bytes allocated per connection, at least sizeof(hu_flow): the owner's
     * connection object, whose first member is the hu_flow.  The rest is
     * zeroed and never touched here: it holds the layers above. */
    size_t conn_size;
    /* Borrowed, may be NULL: a released connection's tcpdump bases go
     * there, and a new one on the same conversation takes them back, as
     * tcpdump's own table would have kept them (tcpprint.h). */
    hu_tcpprint_convs *convs;
} hu_flowtab_cfg;

typedef struct hu_flowtab hu_flowtab;

/* Returns NULL on allocation failure. */
hu_flowtab *hu_flowtab_new(const hu_flowtab_cfg *cfg);
/* Frees the table and every connection still in it or released, without
 * telling anyone: an owner with state of its own in the connections
 * calls hu_flowtab_release_all and finishes them first. */
void hu_flowtab_free(hu_flowtab *t);

/*
 * Releasing never calls back: a connection the table lets go of (idle past
 * its state's timeout, evicted from a full table, replaced by a new one on
 * the same ports, or every one at hu_flowtab_release_all) leaves the hash
 * table and waits on a queue, its memory intact, until the owner takes it
 * with hu_flowtab_released, finishes its own layers' state and gives it
 * back with hu_flowtab_dispose.  Released connections come out oldest
 * release first.
 */
hu_flow *hu_flowtab_released(hu_flowtab *t);       /* NULL: none waiting */
/* The released connection hu_flowtab_released would return after k more
 * calls (k = 0: the next), or NULL: for the owner to load ahead what it
 * will finish (the end of a busy capture releases tens of thousands at
 * once, each out of cache).  Read only. */
const hu_flow *hu_flowtab_released_peek(const hu_flowtab *t, unsigned k);
/* A released flow's ring as it was, if packed (ring_packed without
 * ring_backed): its owner calls this before reading the ring, and need
 * not when it will not (the block is freed with the flow).  On OOM the
 * summaries are lost, counted in ring_dropped. */
void hu_flowtab_unpack(hu_flowtab *t, hu_flow *f);
void hu_flowtab_dispose(hu_flowtab *t, hu_flow *f); /* frees f (NULL: no-op) */
/* Release every connection in the table (the end of a capture, so their
 * tcpdump bases are not kept in cfg.convs): open ones first, then
 * half-closed, then closed, each least recent first. */
void hu_flowtab_release_all(hu_flowtab *t);

/*
 * Track one packet: find or create its flow, update roles, sequence state,
 * handshake timing and the ring.  *sidep receives the sender's side index.
 * Returns NULL only on allocation failure (the packet is then dropped).
 * May release idle or old flows first (queued: hu_flowtab_released).
 * The packet's payload suffix must be rendered already (p->suffix_ready)
 * for the ring to hold it.
 */
hu_flow *hu_flowtab_track(hu_flowtab *t, const hu_pkt *p, uint8_t *sidep);

/* A packet's connection key in tcpdump's conversation order (the lower
 * port is side 0; with equal ports, the lower address), and its hash.
 * a and b point into the hu_pkt it was made from. */
typedef struct hu_flowkey {
    bool rev;                 /* the sender is side 1 */
    uint8_t ipver;
    size_t alen;
    const uint8_t *a, *b;
    uint16_t pa, pb;
    uint32_t hash;
} hu_flowkey;

void hu_flowtab_key(const hu_pkt *p, hu_flowkey *k);

/* hu_flowtab_track with p's key already made (by hu_flowtab_key(p)). */
hu_flow *hu_flowtab_track_key(hu_flowtab *t, const hu_pkt *p, const hu_flowkey *k,
                              uint8_t *sidep);

/*
 * Prefetching for a packet a few frames ahead of the one being tracked
 * (analyze.c runs the stages at decreasing distances).  Nothing here
 * changes the table; each stage only starts loading cache lines that
 * hu_flowtab_track will touch for p, given what earlier stages loaded:
 * 0 the hash bucket, 1 the connection at its head, 2 (the connection now
 * cached) the ring slot and request window it will write.  Stage 2
 * returns the connection it found (for the owner's own prefetching; stale
 * once a packet is tracked), the others NULL.
 */
const hu_flow *hu_flowtab_prefetch(const hu_flowtab *t, const hu_pkt *p, const hu_flowkey *k,
                                   int stage);

/* Counters for the summary. */
typedef struct hu_flowtab_stats {
    uint64_t flows;           /* connections created */
    uint64_t evicted;         /* released early because the table was full */
    size_t active;            /* in the table now */
    size_t peak;              /* most at once */
} hu_flowtab_stats;
void hu_flowtab_stats_get(const hu_flowtab *t, hu_flowtab_stats *st);

/* Start loading every cache line of [p, p + n), wherever p falls in its
 * line (a prefetch never faults, so p may be stale). */
static inline void hu_prefetch_lines(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + n;
    for (; a < end; a += 64)
        __builtin_prefetch((const void *)a, 1, 3);
}

/* The ring's i-th oldest summary, 0 <= i < f->ring_len. */
static inline const hu_pktsum *hu_flow_ring_at(const hu_flow *f, unsigned i)
{
    return &f->ring[(f->ring_head + i) % f->ring_cap];
}

/* Where the last exchange before packet before_num starts in the ring:
 * the newest summary of side c carrying payload before stream position
 * before_seq, then back over that side's segments just before it (the
 * rest of the same message).  Its ring index, or -1 when the ring holds
 * none. */
int hu_flow_exchange_start(const hu_flow *f, uint8_t c, uint64_t before_num, uint32_t before_seq);

/* A one-sided connection: the capture holds packets of one side only, and
 * that side's acknowledgements show the other exists (an asymmetric route,
 * a tap seeing one direction).  The side seen, or -1. */
static inline int hu_flow_one_sided(const hu_flow *f)
{
    for (int s = 0; s < 2; s++)
        if (f->side[s].seen && !f->side[!s].seen && f->side[s].ack_seen)
            return s;
    return -1;
}

/* Bytes from stream position `seq` of the client's request window: sets
 * *len to how many contiguous bytes are known there (0 if none). */
const uint8_t *hu_flow_reqbytes(const hu_flow *f, uint32_t seq, uint32_t *len);

/* Once a connection is closed and its incident (if any) reported, drop
 * what only a live exchange needs: the packet ring and the request
 * window.  tcpdump's bases stay, for packets that straggle in. */
void hu_flow_compact(hu_flowtab *t, hu_flow *f);

/* Between exchanges (the owner's parser says no request is in progress),
 * once the server has acknowledged every client byte: the request window
 * goes back to its pool, and the ring keeps only the last exchange (from
 * hu_flow_exchange_start), packed (ring_packed) until the connection's
 * next packet or its release unpacks it; nothing reads a ring between
 * packets.  An idle keep-alive connection holds no window and about a
 * third of its last exchange's summaries' size.  Call it only while no
 * detector needs older summaries. */
void hu_flow_idle(hu_flowtab *t, hu_flow *f);

#endif
