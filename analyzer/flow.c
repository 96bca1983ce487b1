/*
 * flow.c -- the connection table and per-packet TCP tracker.
 *
 * A chained hash table of hu_flow, grown by doubling, plus one intrusive
 * list ordered by last activity so that expiry and eviction are O(1) per
 * packet: the least recently active flow is always at the head.  All state
 * hangs off the hu_flowtab context; nothing here is global.
 *
 * Per packet the tracker:
 *   - orders the two endpoints the way tcpdump orders its conversation key
 *     (lower port, then lower address, is side 0), so relative sequence
 *     numbers can be computed exactly as tcpdump computes them;
 *   - decides the client (SYN sender > SYN-ACK receiver > request line or
 *     TLS ClientHello sender > higher port), upgrading a weaker guess when
 *     stronger evidence arrives;
 *   - follows each side's highest sequence sent and acknowledged, its first
 *     FIN, RSTs, and the handshake RTT;
 *   - recognises TLS, from the client's first bytes or from a hello that
 *     begins after a cleartext exchange (STARTTLS and the like);
 *   - hands the packet to the capture-gap tracker (gaps.h) when it shows
 *     a hole, a cut segment or an acknowledgement beyond what was seen;
 *   - appends a summary to the flow's bounded ring, and keeps the first
 *     bytes of the client's newest request.
 */
#include "hangup/flow.h"
#include "hangup/pool.h"
#include "hangup/request.h"
#include "hangup/tls.h"

#include <assert.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

struct hu_flowtab {
    hu_flowtab_cfg cfg;
    hu_flow **buckets;
    size_t nbuckets;          /* power of two */
    size_t count;
    /* One activity list per state, least recent first, so each state's
     * timeout is checked at its own head: an open connection idling at
     * the front must not hold back closed ones from release. */
    hu_flow *lru_head[HU_LIST_COUNT], *lru_tail[HU_LIST_COUNT];
    /* The head's queued_ts, so that the check every packet makes (expire)
     * reads no flow: the head is seldom the connection in cache. */
    int64_t head_qts[HU_LIST_COUNT];
    int64_t now;              /* newest packet time seen */
    /* Connections let go of and not yet disposed of by the owner, oldest
     * first, chained through hnext (they are out of the hash table). */
    hu_flow *rel_head, *rel_tail;
    hu_flowtab_stats st;
    /* Rings by their number of slots: ring_pool[HU_RING_MAX] the full
     * ones, the others a new connection's first and idle ones' trimmed
     * rings, hundreds of thousands of each on a busy capture (glibc's
     * bins served them slowly, on cold memory).  [0] is unused. */
    hu_pool ring_pool[HU_RING_MAX + 1];
    hu_pool reqwin_pool;
    /* Connections found idle (hu_flow_idle), in the order they were, to
     * be packed once idle for HU_PACK_AFTER_US: a circular array indexed
     * by idleq_head <= i < idleq_tail (mod idleq_cap); a released
     * connection's entry is emptied through its idle_slot. */
    struct idle_ent { hu_flow *f; int64_t ts; } *idleq;
    uint32_t idleq_cap, idleq_head, idleq_tail;
};

/* Rings smaller than the maximum kept per size once freed: at most
 * 16 * 80 * (1 + ... + 31) bytes, 635 KB, in all. */
#define HU_SMALL_RINGS_KEEP 16

/* How long a connection idles before its ring is packed: packing and
 * unpacking cost about a microsecond per summary, which a connection
 * asked again at once (a busy pool's) would pay at every exchange. */
#define HU_PACK_AFTER_US 100000
/* Bytes of a packed ring prefetched ahead of its unpacking: most idle
 * rings pack into a few hundred. */
#define HU_PACKED_AHEAD 256

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint32_t flow_hash(uint8_t ipver, const uint8_t a[16], const uint8_t b[16],
                          uint16_t pa, uint16_t pb)
{
    /* Word-wise multiply-xorshift over the key, murmur3's fmix64 to finish:
     * one pass of a few multiplies, computed once per packet. */
    uint64_t h = 0x243f6a8885a308d3ull ^ ipver;
    h = mix64(h, (uint64_t)pa << 16 | pb);
    if (ipver == 4) {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        h = mix64(h, (uint64_t)x << 32 | y);
    } else {
        h = mix64(h, load64(a));
        h = mix64(h, load64(a + 8));
        h = mix64(h, load64(b));
        h = mix64(h, load64(b + 8));
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

hu_flowtab *hu_flowtab_new(const hu_flowtab_cfg *cfg)
{
    hu_flowtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    if (t->cfg.max_flows == 0)
        t->cfg.max_flows = 1;
    if (t->cfg.conn_size < sizeof(hu_flow))
        t->cfg.conn_size = sizeof(hu_flow);
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    for (unsigned n = 0; n < HU_RING_MAX; n++)   /* [0]: only NULL is put there */
        hu_pool_init_keep(&t->ring_pool[n], n * sizeof(hu_pktsum), n ? HU_SMALL_RINGS_KEEP : 0);
    hu_pool_init(&t->ring_pool[HU_RING_MAX], HU_RING_MAX * sizeof(hu_pktsum));
    hu_pool_init(&t->reqwin_pool, sizeof(hu_reqwin));
    return t;
}

static_assert(HU_RING_MAX <= 32, "ring_heap has a bit per ring slot");

/* Free the suffixes ring slot i holds on the heap (ring_heap says which). */
static void ring_free_heap(hu_flow *f, unsigned i)
{
    if (f->ring_heap & (1u << i)) {
        free(f->ring[i].ext);
        f->ring[i].ext = NULL;
        f->ring_heap &= ~(1u << i);
    }
}

static void ring_free_heaps(hu_flow *f)
{
    while (f->ring_heap)
        ring_free_heap(f, (unsigned)__builtin_ctz(f->ring_heap));
}

/* Move f's summaries, oldest first, into a ring of ncap >= ring_len
 * slots (ncap <= HU_RING_MAX, from its size's pool) and give the old one
 * back.  False on OOM, f unchanged. */
static bool ring_move(hu_flowtab *t, hu_flow *f, uint16_t ncap)
{
    hu_pktsum *nr = hu_pool_get(&t->ring_pool[ncap]);
    if (!nr)
        return false;
    uint32_t heap = 0;
    for (unsigned i = 0; i < f->ring_len; i++) {
        unsigned from = (f->ring_head + i) % f->ring_cap;
        nr[i] = f->ring[from];
        heap |= ((f->ring_heap >> from) & 1u) << i;
    }
    f->ring_heap = heap;
    hu_pool_put(&t->ring_pool[f->ring_cap], f->ring);
    f->ring = nr;
    f->ring_cap = ncap;
    f->ring_head = 0;
    return true;
}

/* Give f's ring (its suffixes freed) back to its size's pool; a packed
 * one is freed. */
static void ring_release(hu_flowtab *t, hu_flow *f)
{
    free(f->ring_packed);
    f->ring_packed = NULL;
    f->ring_backed = false;
    ring_free_heaps(f);
    hu_pool_put(&t->ring_pool[f->ring_cap], f->ring);
}

/* An idle connection's ring, packed (hu_pktsum_pack) until its next
 * packet: the ring is then empty and ring_packed holds its summaries.  On
 * OOM the ring stays as it is. */
static void ring_pack(hu_flowtab *t, hu_flow *f)
{
    const hu_pktsum *v[HU_RING_MAX];
    for (unsigned i = 0; i < f->ring_len; i++)
        v[i] = hu_flow_ring_at(f, i);
    uint8_t *b = hu_pktsum_pack(v, f->ring_len);
    if (!b)
        return;
    ring_release(t, f);
    f->ring_packed = b;
    f->ring = NULL;
    f->ring_cap = f->ring_head = f->ring_len = 0;
}

/* f's ring is packed, not yet unpacked (its block is not just backing
 * a live ring's texts). */
static inline bool ring_is_packed(const hu_flow *f)
{
    return f->ring_packed && !f->ring_backed;
}

/* A packed ring back into a full-size one from the pool (warm, and what
 * the next exchange needs), before anything reads it.  The block stays,
 * backing the summaries' texts, until the ring is packed again or
 * released; a connection that only idles on is packed again by the
 * sweep.  On a block pack did not make (or OOM) its summaries are lost,
 * counted as dropped. */
static void ring_unpack(hu_flowtab *t, hu_flow *f)
{
    uint8_t *b = f->ring_packed;
    unsigned n = hu_pktsum_packed_count(b);
    hu_pktsum *r = n <= HU_RING_MAX ? hu_pool_get(&t->ring_pool[HU_RING_MAX]) : NULL;
    if (r && !hu_pktsum_unpack(b, r, n)) {
        hu_pool_put(&t->ring_pool[HU_RING_MAX], r);
        r = NULL;
    }
    if (!r) {
        free(b);
        f->ring_packed = NULL;
        f->ring_dropped += n;
        return;
    }
    f->ring_backed = true;
    f->ring = r;
    f->ring_cap = HU_RING_MAX;
    f->ring_head = 0;
    f->ring_len = (uint16_t)n;
    f->ring_heap = 0;
}

/* Append f to the idle queue, stamped ts; false on OOM (f is then not
 * packed, which costs memory only). */
static bool idleq_push(hu_flowtab *t, hu_flow *f, int64_t ts)
{
    if (t->idleq_tail - t->idleq_head == t->idleq_cap) {
        uint32_t ncap = t->idleq_cap ? t->idleq_cap * 2 : 1024;
        struct idle_ent *nq = ncap > t->idleq_cap ? malloc(ncap * sizeof *nq) : NULL;
        if (!nq)
            return false;
        uint32_t n = 0;
        for (uint32_t i = t->idleq_head; i != t->idleq_tail; i++) {
            struct idle_ent e = t->idleq[i % t->idleq_cap];
            if (e.f) {
                e.f->idle_slot = n;
                nq[n++] = e;
            }
        }
        free(t->idleq);
        t->idleq = nq;
        t->idleq_cap = ncap;
        t->idleq_head = 0;
        t->idleq_tail = n;
    }
    f->idle_slot = t->idleq_tail % t->idleq_cap;
    f->idle_queued = true;
    t->idleq[f->idle_slot] = (struct idle_ent){ f, ts };
    t->idleq_tail++;
    return true;
}

/* f leaves the idle queue (released, or no longer idle). */
static void idleq_remove(hu_flowtab *t, hu_flow *f)
{
    if (f->idle_queued) {
        t->idleq[f->idle_slot].f = NULL;
        f->idle_queued = false;
    }
}

/* Would idle_sweep pack f's ring, were it due? */
static inline bool idle_packable(const hu_flow *f)
{
    return f->idle_armed && f->idle_mark == (uint8_t)f->packets && f->ring && f->ring_len;
}

/* The idle queue's next entries, once one was taken: the first's texts,
 * the second's summaries, the third's connection, each step reading what
 * the take before loaded.  Packing an idle ring waited on its cold
 * summaries and texts for four fifths of its time. */
static void idle_ahead(const hu_flowtab *t)
{
    uint32_t queued = t->idleq_tail - t->idleq_head;
    if (queued > 2) {
        const hu_flow *f = t->idleq[(t->idleq_head + 2) % t->idleq_cap].f;
        if (f)
            hu_prefetch_lines(f, sizeof *f);
    }
    if (queued > 1) {
        const hu_flow *f = t->idleq[(t->idleq_head + 1) % t->idleq_cap].f;
        if (f && idle_packable(f)) {
            unsigned first = f->ring_head, len = f->ring_len;
            unsigned n1 = len < f->ring_cap - first ? len : f->ring_cap - first;
            hu_prefetch_lines(&f->ring[first], n1 * sizeof *f->ring);
            if (len > n1)
                hu_prefetch_lines(f->ring, (len - n1) * sizeof *f->ring);
        }
    }
    if (queued > 0) {
        const hu_flow *f = t->idleq[t->idleq_head % t->idleq_cap].f;
        if (f && idle_packable(f))
            for (uint32_t h = f->ring_heap; h; h &= h - 1)
                __builtin_prefetch(f->ring[__builtin_ctz(h)].ext, 0, 3);
    }
}

/* Pack the rings of connections idle for HU_PACK_AFTER_US by now: those
 * whose newest packet is still the one hu_flow_idle was told of.  A few
 * entries per call, so no packet pays for many. */
static void idle_sweep(hu_flowtab *t)
{
    for (int k = 0; k < 4 && t->idleq_head != t->idleq_tail; k++) {
        struct idle_ent *e = &t->idleq[t->idleq_head % t->idleq_cap];
        if (e->f && e->ts > t->now - HU_PACK_AFTER_US)
            return;
        hu_flow *f = e->f;
        t->idleq_head++;
        idle_ahead(t);
        if (!f)
            continue;
        f->idle_queued = false;
        if (!f->idle_armed || f->idle_mark != (uint8_t)f->packets || !f->ring)
            continue;   /* busy again: queued anew when it next idles */
        if (f->last_ts > t->now - HU_PACK_AFTER_US)
            (void)idleq_push(t, f, f->last_ts);   /* idle again since: not yet */
        else if (f->ring_len)
            ring_pack(t, f);
    }
}

/* Which list a flow belongs on. */
static int flow_list(const hu_flow *f)
{
    if (f->closed)
        return HU_LIST_CLOSED;
    if (f->side[0].fin_seen || f->side[1].fin_seen)
        return HU_LIST_HALF;
    return HU_LIST_OPEN;
}

static void lru_unlink(hu_flowtab *t, hu_flow *f)
{
    int l = f->list;
    if (f->lprev) {
        f->lprev->lnext = f->lnext;
    } else {
        t->lru_head[l] = f->lnext;
        if (f->lnext)
            t->head_qts[l] = f->lnext->queued_ts;
    }
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    else
        t->lru_tail[l] = f->lprev;
    f->lprev = f->lnext = NULL;
}

static void lru_append(hu_flowtab *t, hu_flow *f)
{
    f->queued_ts = f->last_ts;
    int l = f->list = (uint8_t)flow_list(f);
    f->lprev = t->lru_tail[l];
    f->lnext = NULL;
    if (t->lru_tail[l]) {
        t->lru_tail[l]->lnext = f;
    } else {
        t->lru_head[l] = f;
        t->head_qts[l] = f->queued_ts;
    }
    t->lru_tail[l] = f;
}

/* The least recently active flow of all, for eviction. */
static hu_flow *lru_oldest(const hu_flowtab *t)
{
    hu_flow *o = NULL;
    for (int l = 0; l < HU_LIST_COUNT; l++)
        if (t->lru_head[l] && (!o || t->lru_head[l]->queued_ts < o->queued_ts))
            o = t->lru_head[l];
    return o;
}

/* The conversation f is, as tcpdump keys it. */
static hu_tcpprint_ends flow_conv(const hu_flow *f)
{
    return (hu_tcpprint_ends){ f->ipver, { f->addr[0], f->addr[1] }, { f->port[0], f->port[1] } };
}

/* Unhook f from the table and the lists and queue it for the owner
 * (hu_flowtab_released); its memory stays until hu_flowtab_dispose.
 * tcpdump's bases outlive it (cfg.convs). */
static void flow_release(hu_flowtab *t, hu_flow *f)
{
    idleq_remove(t, f);
    if (t->cfg.convs && f->td_set) {
        hu_tcpprint_ends conv = flow_conv(f);
        hu_tcpprint_convs_put(t->cfg.convs, &conv, f->hash, f->td_base);
    }
    hu_flow **pp = &t->buckets[f->hash & (t->nbuckets - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(t, f);
    t->count--;
    f->hnext = NULL;
    if (t->rel_tail)
        t->rel_tail->hnext = f;
    else
        t->rel_head = f;
    t->rel_tail = f;
}

hu_flow *hu_flowtab_released(hu_flowtab *t)
{
    hu_flow *f = t->rel_head;
    if (f) {
        t->rel_head = f->hnext;
        if (!t->rel_head)
            t->rel_tail = NULL;
        f->hnext = NULL;
    }
    return f;
}

const hu_flow *hu_flowtab_released_peek(const hu_flowtab *t, unsigned k)
{
    const hu_flow *f = t->rel_head;
    for (; f && k; k--)
        f = f->hnext;
    return f;
}

void hu_flowtab_unpack(hu_flowtab *t, hu_flow *f)
{
    if (ring_is_packed(f))
        ring_unpack(t, f);
}

void hu_flowtab_dispose(hu_flowtab *t, hu_flow *f)
{
    if (!f)
        return;
    ring_release(t, f);
    hu_pool_put(&t->reqwin_pool, f->reqwin);
    hu_gaps_free(f->gaps);
    free(f);
}

void hu_flowtab_release_all(hu_flowtab *t)
{
    hu_tcpprint_convs *convs = t->cfg.convs;
    t->cfg.convs = NULL;   /* the capture is over: no packet will want the bases */
    for (int l = 0; l < HU_LIST_COUNT; l++)
        while (t->lru_head[l])
            flow_release(t, t->lru_head[l]);
    t->cfg.convs = convs;
}

void hu_flow_compact(hu_flowtab *t, hu_flow *f)
{
    f->ring_dropped += f->ring_len;
    ring_release(t, f);
    f->ring = NULL;
    f->ring_cap = f->ring_head = f->ring_len = 0;
    hu_pool_put(&t->reqwin_pool, f->reqwin);
    f->reqwin = NULL;
}

int hu_flow_exchange_start(const hu_flow *f, uint8_t c, uint64_t before_num, uint32_t before_seq)
{
    int anchor = -1;
    for (int i = (int)f->ring_len - 1; i >= 0; i--) {
        const hu_pktsum *e = hu_flow_ring_at(f, (unsigned)i);
        if (e->num >= before_num)
            continue;
        if (e->side == c && e->paylen > 0 && hu_seq_lt(e->rawseq, before_seq)) {
            anchor = i;
            break;
        }
    }
    /* Back over the earlier segments of that same message. */
    while (anchor > 0) {
        const hu_pktsum *prev = hu_flow_ring_at(f, (unsigned)anchor - 1);
        if (prev->side != c || prev->paylen == 0)
            break;
        anchor--;
    }
    return anchor;
}

/* The ring of an idle connection: its summaries from before the last
 * exchange are dropped (counted in ring_dropped, as overwritten ones are),
 * for a timeline starts no earlier than the last exchange before its
 * incident; the rest moves to a ring of its size (and room for a FIN),
 * and later, once the connection has idled a while, is packed. */
static void ring_trim(hu_flowtab *t, hu_flow *f)
{
    uint8_t c = f->client;
    int keep_from = hu_flow_exchange_start(f, c, UINT64_MAX, f->side[c].snd_max);
    for (int i = 0; i < keep_from; i++) {
        ring_free_heap(f, f->ring_head);
        f->ring_head = (uint16_t)((f->ring_head + 1) % f->ring_cap);
        f->ring_len--;
        f->ring_dropped++;
    }
    if (f->ring_cap == HU_RING_MAX && f->ring_len + 1u < HU_RING_MAX)
        (void)ring_move(t, f, (uint16_t)(f->ring_len + 1));
}

void hu_flow_idle(hu_flowtab *t, hu_flow *f)
{
    const hu_side *srv = &f->side[!f->client];
    if (!srv->ack_seen || srv->last_ack != f->side[f->client].snd_max)
        return;
    hu_pool_put(&t->reqwin_pool, f->reqwin);
    f->reqwin = NULL;
    /* The ring is trimmed at once, and packed once the connection has
     * idled a while (idle_sweep): marked here, queued if it is not yet.
     * Neither below pack_from connections, where rings cost little and
     * their allocations at every exchange would cost time. */
    f->idle_armed = true;
    f->idle_mark = (uint8_t)f->packets;
    if (!f->ring || t->count < t->cfg.pack_from)
        return;
    if (f->ring_cap == HU_RING_MAX)
        ring_trim(t, f);
    if (!f->idle_queued)
        (void)idleq_push(t, f, f->last_ts);
}

void hu_flowtab_free(hu_flowtab *t)
{
    if (!t)
        return;
    hu_flowtab_release_all(t);
    hu_flow *f;
    while ((f = hu_flowtab_released(t)))
        hu_flowtab_dispose(t, f);
    for (unsigned n = 1; n <= HU_RING_MAX; n++)
        hu_pool_drain(&t->ring_pool[n]);
    hu_pool_drain(&t->reqwin_pool);
    free(t->idleq);
    free(t->buckets);
    free(t);
}

void hu_flowtab_stats_get(const hu_flowtab *t, hu_flowtab_stats *st)
{
    *st = t->st;
    st->active = t->count;
}

static void table_grow(hu_flowtab *t)
{
    size_t n = t->nbuckets * 2;
    hu_flow **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;   /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        hu_flow *f = t->buckets[i];
        while (f) {
            hu_flow *next = f->hnext;
            f->hnext = nb[f->hash & (n - 1)];
            nb[f->hash & (n - 1)] = f;
            f = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

/*
 * Release flows that have been idle long enough for their state.  Each
 * list is ordered by the time a flow was (re)queued, not by its last
 * packet: moving a flow on every packet would touch its neighbours'
 * cache lines each time.  So the head is checked lazily: expired, it
 * goes; active since it was queued, it is requeued at the tail (a second
 * chance); otherwise nothing behind it can have expired either, since
 * every flow behind was queued later and has been active since.
 */
static void expire(hu_flowtab *t)
{
    const int64_t limit[HU_LIST_COUNT] = { t->cfg.idle_us, t->cfg.halfclosed_us,
                                           t->cfg.closed_us };
    for (int l = 0; l < HU_LIST_COUNT; l++) {
        hu_flow *f;
        while ((f = t->lru_head[l]) && t->now - t->head_qts[l] > limit[l]) {
            if (t->now - f->last_ts > limit[l]) {
                flow_release(t, f);
                /* The next to go from this list, most likely soon (a
                 * closed connection's timeout is the same for all): its
                 * state, cold by now, starts loading. */
                if (t->lru_head[l])
                    hu_prefetch_lines(t->lru_head[l], t->cfg.conn_size);
            } else {
                lru_unlink(t, f);
                lru_append(t, f);
            }
        }
    }
}

/* Payload evidence of the sender's role: +1 client, -1 server, 0 none. */
static int payload_role(const hu_pkt *p)
{
    const uint8_t *d = p->payload;
    uint32_t n = p->capturedlen;
    if (n == 0)
        return 0;
    if (hu_request_starts(d, n, true))
        return 1;
    if (n >= 7 && memcmp(d, "HTTP/1.", 7) == 0)
        return -1;
    /* TLS handshake record carrying ClientHello (1) or ServerHello (2). */
    if (n >= 6 && hu_tls_record_type(d, n) == HU_TLS_HANDSHAKE) {
        if (d[5] == 1)
            return 1;
        if (d[5] == 2)
            return -1;
    }
    return 0;
}

/*
 * Does the connection carry TLS from here (docs/DESIGN.md §2.3)?  Either
 * the client's first bytes are a TLS handshake record, or a protocol
 * turned to TLS after a cleartext exchange: SMTP, IMAP, POP3 and XMPP's
 * STARTTLS, FTP's AUTH TLS, PostgreSQL's SSLRequest, a tunnel after HTTP
 * CONNECT.  Each waits for the server's go-ahead before the ClientHello,
 * so the hello starts a segment, as does the ServerHello answering it.  So
 * only a segment's first bytes are looked at, only within the first
 * HU_TLS_SCAN bytes of its sender's stream, and by a strict test: one byte
 * compared per segment for a while, then nothing, on plain connections.
 */
static void recognise_tls(hu_flow *f, const hu_pkt *p, uint8_t s, bool first_data)
{
    const uint8_t *d = p->payload;
    uint32_t n = p->capturedlen;
    if (s == f->client && first_data && n >= 3 &&
        hu_tls_record_type(d, n) == HU_TLS_HANDSHAKE) {
        f->tls = true;   /* the client opened with a TLS handshake record */
        return;
    }
    if (n < HU_TLS_HELLO_HEAD || d[0] != HU_TLS_HANDSHAKE ||
        p->seq - f->side[s].isn >= HU_TLS_SCAN)
        return;
    bool client = s == f->client;
    if (!hu_tls_hello_starts(d, n, client ? HU_TLS_CLIENT_HELLO : HU_TLS_SERVER_HELLO))
        return;
    f->tls = f->tls_mid = true;
    if (client) {
        f->tls_hello_set = true;
        f->tls_hello_seq = p->seq;
    }
}

static hu_flow *flow_create(hu_flowtab *t, const hu_pkt *p, bool rev, uint32_t h)
{
    /* Full: evict the least recently active.  Heads active since they
     * were queued get a second chance (requeued), a bounded number of
     * times, so an eviction costs O(1). */
    for (int chances = 64; t->count >= t->cfg.max_flows && lru_oldest(t); chances--) {
        hu_flow *o = lru_oldest(t);
        if (chances > 0 && o->last_ts > o->queued_ts) {
            lru_unlink(t, o);
            lru_append(t, o);
            continue;
        }
        flow_release(t, o);
        t->st.evicted++;
    }
    hu_flow *f = calloc(1, t->cfg.conn_size);
    if (!f)
        return NULL;
    size_t n = p->ipver == 4 ? 4 : 16;
    f->ipver = p->ipver;
    memcpy(f->addr[0], rev ? p->dst : p->src, n);
    memcpy(f->addr[1], rev ? p->src : p->dst, n);
    f->port[0] = rev ? p->dport : p->sport;
    f->port[1] = rev ? p->sport : p->dport;
    f->hash = h;
    if (t->cfg.convs) {   /* a conversation seen before: tcpdump still has its bases */
        hu_tcpprint_ends conv = flow_conv(f);
        f->td_set = hu_tcpprint_convs_take(t->cfg.convs, &conv, h, f->td_base);
    }
    f->id = ++t->st.flows;
    f->first_ts = f->last_ts = p->ts_us;
    f->rtt_us = -1;
    /* Weakest guess until evidence arrives: the higher port is the client. */
    f->client = f->port[1] > f->port[0] ? 1 : f->port[0] > f->port[1] ? 0 : (uint8_t)rev;
    f->role_src = HU_ROLE_PORT;

    if ((t->count + 1) * 2 > t->nbuckets)   /* load at most 1/2: short chains */
        table_grow(t);
    hu_flow **b = &t->buckets[h & (t->nbuckets - 1)];
    f->hnext = *b;
    *b = f;
    /* hu_flowtab_track puts it on its list once its state is known. */
    t->count++;
    if (t->count > t->st.peak)
        t->st.peak = t->count;
    return f;
}

static void update_roles(hu_flow *f, const hu_pkt *p, uint8_t s)
{
    bool syn = p->flags & HU_TH_SYN, ack = p->flags & HU_TH_ACK;
    if (syn && !ack) {
        f->client = s;
        f->role_src = HU_ROLE_SYN;
    } else if (syn && ack) {
        if (f->role_src < HU_ROLE_SYNACK) {
            f->client = (uint8_t)!s;
            f->role_src = HU_ROLE_SYNACK;
        }
    } else if (f->role_src < HU_ROLE_PAYLOAD && p->capturedlen > 0) {
        int r = payload_role(p);
        if (r != 0) {
            f->client = r > 0 ? s : (uint8_t)!s;
            f->role_src = HU_ROLE_PAYLOAD;
        }
    }
}

static void update_handshake(hu_flow *f, const hu_pkt *p, uint8_t s)
{
    bool syn = p->flags & HU_TH_SYN, ack = p->flags & HU_TH_ACK;
    if (syn && !ack) {
        if (!f->synack_seen) {
            f->syn_seen = true;
            f->syn_ts = p->ts_us;   /* newest SYN: a retransmission restarts */
        }
    } else if (syn && ack) {
        f->synack_seen = true;
    } else if (ack && f->syn_seen && f->synack_seen && !f->handshake_seen && s == f->client) {
        f->handshake_seen = true;
        f->rtt_us = p->ts_us - f->syn_ts;
    }
}

static void update_side(hu_flow *f, const hu_pkt *p, uint8_t s)
{
    hu_side *sd = &f->side[s];
    uint32_t end = p->seq + p->paylen + ((p->flags & HU_TH_SYN) ? 1 : 0) +
                   ((p->flags & HU_TH_FIN) ? 1 : 0);
    if (!sd->seen) {
        sd->seen = true;
        sd->isn = p->seq;
        sd->snd_max = end;
    } else if (hu_seq_gt(end, sd->snd_max)) {
        sd->snd_max = end;
    }
    if (p->flags & HU_TH_ACK) {
        if (!sd->ack_seen || hu_seq_gt(p->ack, sd->last_ack))
            sd->last_ack = p->ack;
        sd->ack_seen = true;
    }
    if (p->paylen > 0) {
        sd->data_seen = true;
        sd->last_data_ts = p->ts_us;
    }
    if ((p->flags & HU_TH_FIN) && !sd->fin_seen) {
        sd->fin_seen = true;
        sd->fin_seq = p->seq + p->paylen;
        sd->fin_ack = p->ack;
        sd->fin_has_ack = (p->flags & HU_TH_ACK) != 0;
        sd->fin_num = p->num;
        sd->fin_ts = p->ts_us;
    }
    if (p->flags & HU_TH_RST)
        sd->rst_seen = true;
    if (!f->closed && (sd->rst_seen || (f->side[0].fin_seen && f->side[1].fin_seen))) {
        f->closed = true;
        f->closed_ts = p->ts_us;
    }
}

/* Move the window's start back by d bytes (a segment from before the
 * start arrived out of order); bytes pushed past the end are dropped. */
static void reqwin_shift(hu_reqwin *w, uint32_t d)
{
    /* The fast path of update_reqwin leaves [0, contig) without bits. */
    for (uint32_t i = 0; i < w->contig; i++)
        w->bitmap[i >> 3] |= (uint8_t)(1u << (i & 7));
    uint8_t bm[HU_REQWIN / 8] = {0};
    for (uint32_t i = 0; i + d < HU_REQWIN; i++)
        if (w->bitmap[i >> 3] & (1u << (i & 7)))
            bm[(i + d) >> 3] |= (uint8_t)(1u << ((i + d) & 7));
    memmove(w->buf + d, w->buf, HU_REQWIN - d);
    memcpy(w->bitmap, bm, sizeof bm);
    w->seq -= d;
    w->contig = 0;
}

/* The client's request window: restart it where a new request begins (new
 * data at the stream front after the server acknowledged everything
 * before), then copy the captured bytes that fall inside it. */
static void update_reqwin(hu_flowtab *t, hu_flow *f, const hu_pkt *p, uint8_t s, uint32_t prev_max,
                          bool first)
{
    if (s != f->client || p->paylen == 0 || p->capturedlen == 0)
        return;
    const hu_side *srv = &f->side[!s];
    bool front = first || p->seq == prev_max;
    bool quiet = !srv->ack_seen || srv->last_ack == p->seq;
    if (!f->reqwin) {
        f->reqwin = hu_pool_get(&t->reqwin_pool);
        if (!f->reqwin)
            return;
        f->reqwin->set = false;
    }
    hu_reqwin *w = f->reqwin;
    if (!w->set || (front && quiet && p->seq != w->seq)) {
        w->set = true;
        w->seq = p->seq;
        w->contig = 0;
        memset(w->bitmap, 0, sizeof w->bitmap);
    }
    if (hu_seq_lt(p->seq, w->seq) && w->seq - p->seq < HU_REQWIN &&
        (!srv->ack_seen || hu_seq_leq(srv->last_ack, p->seq)))
        reqwin_shift(w, w->seq - p->seq);   /* an earlier segment came late */
    uint32_t off = p->seq - w->seq;
    if (off >= HU_REQWIN)
        return;
    uint32_t n = p->capturedlen;
    if (n > HU_REQWIN - off)
        n = HU_REQWIN - off;
    if (off == w->contig && off + n > w->contig &&
        (off + n == HU_REQWIN || !(w->bitmap[(off + n) >> 3] & (1u << ((off + n) & 7))))) {
        /* The usual case: in order, nothing stored beyond it yet.  The
         * bitmap only matters for bytes past contig, so it is left be. */
        memcpy(w->buf + off, p->payload, n);
        w->contig = off + n;
        return;
    }
    memcpy(w->buf + off, p->payload, n);
    uint32_t i = off, end = off + n;
    for (; i < end && (i & 7); i++)
        w->bitmap[i >> 3] |= (uint8_t)(1u << (i & 7));
    if (end - i >= 8) {   /* whole bytes of the bitmap at once */
        memset(w->bitmap + (i >> 3), 0xff, (end - i) >> 3);
        i += (end - i) & ~7u;
    }
    for (; i < end; i++)
        w->bitmap[i >> 3] |= (uint8_t)(1u << (i & 7));
    /* Bytes below contig are known; their bits were set (or contig grew
     * through the fast path, which never leaves bits set above it). */
    while (w->contig < HU_REQWIN && (w->contig < off + n) &&
           (w->contig >= off || (w->bitmap[w->contig >> 3] & (1u << (w->contig & 7)))))
        w->contig++;
    while (w->contig < HU_REQWIN && (w->bitmap[w->contig >> 3] & (1u << (w->contig & 7))))
        w->contig++;
}

const uint8_t *hu_flow_reqbytes(const hu_flow *f, uint32_t seq, uint32_t *len)
{
    *len = 0;
    const hu_reqwin *w = f->reqwin;
    if (!w || !w->set)
        return NULL;
    uint32_t off = seq - w->seq;
    if (off >= w->contig)
        return NULL;
    *len = w->contig - off;
    return w->buf + off;
}

/* tcpdump's relative numbers: only packets with ACK consult the table; a
 * new conversation or a SYN sets the bases and prints absolute. */
static void tcpdump_relative(hu_flow *f, const hu_pkt *p, uint8_t s, hu_pktsum *out)
{
    out->seq = p->seq;
    out->ack = p->ack;
    out->sackbase = 0;
    if (!(p->flags & HU_TH_ACK))
        return;
    if (!f->td_set || (p->flags & HU_TH_SYN)) {
        f->td_set = true;
        f->td_base[s] = p->seq;
        f->td_base[!s] = p->ack - 1;
        out->sackbase = f->td_base[!s];
        return;
    }
    out->seq = p->seq - f->td_base[s];
    out->ack = p->ack - f->td_base[!s];
    out->sackbase = f->td_base[!s];
}

/* The ring's first size: enough for a probe or a refused connection.  A
 * connection that outgrows it goes straight to HU_RING_MAX -- doubling
 * step by step cost three more allocations and copies per connection,
 * and nearly every connection that carries a request reaches the
 * maximum. */
#define HU_RING_FIRST 4

static hu_pktsum *ring_push(hu_flowtab *t, hu_flow *f)
{
    hu_flowtab_unpack(t, f);
    if (f->ring_len == f->ring_cap) {
        if (f->ring_cap < HU_RING_MAX)
            (void)ring_move(t, f, f->ring_cap ? HU_RING_MAX : HU_RING_FIRST);
        if (f->ring_len == f->ring_cap) {
            if (f->ring_cap == 0)
                return NULL;
            ring_free_heap(f, f->ring_head);   /* the slot is rewritten whole */
            f->ring_head = (uint16_t)((f->ring_head + 1) % f->ring_cap);
            f->ring_len--;
            f->ring_dropped++;
        }
    }
    hu_pktsum *e = &f->ring[(f->ring_head + f->ring_len) % f->ring_cap];
    f->ring_len++;
    return e;
}

void hu_flowtab_key(const hu_pkt *p, hu_flowkey *k)
{
    k->alen = p->ipver == 4 ? 4 : 16;
    k->ipver = p->ipver;
    k->rev = p->sport > p->dport ||
             (p->sport == p->dport && memcmp(p->src, p->dst, k->alen) > 0);
    k->a = k->rev ? p->dst : p->src;
    k->b = k->rev ? p->src : p->dst;
    k->pa = k->rev ? p->dport : p->sport;
    k->pb = k->rev ? p->sport : p->dport;
    k->hash = flow_hash(p->ipver, k->a, k->b, k->pa, k->pb);
}

/* x[0..alen) equals y[0..alen), alen 4 or 16 (hu_flowtab_key's): by
 * words, for the two calls to memcmp were a fifth of a lookup. */
static inline bool addr_eq(const uint8_t *x, const uint8_t *y, unsigned alen)
{
    if (alen == 4) {
        uint32_t a, b;
        memcpy(&a, x, 4);
        memcpy(&b, y, 4);
        return a == b;
    }
    return load64(x) == load64(y) && load64(x + 8) == load64(y + 8);
}

static hu_flow *lookup(const hu_flowtab *t, const hu_flowkey *k)
{
    hu_flow *f = t->buckets[k->hash & (t->nbuckets - 1)];
    for (; f; f = f->hnext)
        if (f->hash == k->hash && f->ipver == k->ipver && f->port[0] == k->pa &&
            f->port[1] == k->pb && addr_eq(f->addr[0], k->a, k->alen) &&
            addr_eq(f->addr[1], k->b, k->alen))
            break;
    return f;
}

const hu_flow *hu_flowtab_prefetch(const hu_flowtab *t, const hu_pkt *p, const hu_flowkey *k, int stage)
{
    hu_flow *const *b = &t->buckets[k->hash & (t->nbuckets - 1)];
    if (stage == 0) {
        __builtin_prefetch(b, 0, 3);
        return NULL;
    }
    if (stage == 1) {
        if (*b)
            hu_prefetch_lines(*b, t->cfg.conn_size);   /* the flow and its layers' state */
        return NULL;
    }
    const hu_flow *f = lookup(t, k);
    if (!f)
        return NULL;
    if (f->ring && f->ring_cap)
        hu_prefetch_lines(&f->ring[(f->ring_head + f->ring_len) % f->ring_cap], sizeof *f->ring);
    else if (ring_is_packed(f))
        hu_prefetch_lines(f->ring_packed, HU_PACKED_AHEAD);   /* ring_push unpacks it */
    if (f->reqwin && p->paylen && (uint8_t)k->rev == f->client) {
        /* update_reqwin: its header and bitmap, then where the bytes go
         * (a segment beyond the window most likely starts a new request,
         * which restarts the window at buf[0]). */
        const hu_reqwin *w = f->reqwin;
        uint32_t off = p->seq - w->seq;
        if (off >= HU_REQWIN)
            off = 0;
        uint32_t n = p->capturedlen < HU_REQWIN - off ? p->capturedlen : HU_REQWIN - off;
        hu_prefetch_lines(w, offsetof(hu_reqwin, buf));
        hu_prefetch_lines(w->buf + off, n);
    }
    return f;
}

hu_flow *hu_flowtab_track(hu_flowtab *t, const hu_pkt *p, uint8_t *sidep)
{
    hu_flowkey k;
    hu_flowtab_key(p, &k);
    return hu_flowtab_track_key(t, p, &k, sidep);
}

hu_flow *hu_flowtab_track_key(hu_flowtab *t, const hu_pkt *p, const hu_flowkey *k,
                              uint8_t *sidep)
{
    if (p->ts_us > t->now)
        t->now = p->ts_us;
    expire(t);
    if (t->idleq_head != t->idleq_tail)
        idle_sweep(t);

    bool rev = k->rev;
    uint32_t h = k->hash;
    hu_flow *f = lookup(t, k);
    uint8_t s = (uint8_t)rev;
    /* A fresh SYN on a finished connection starts a new one (port reuse). */
    if (f && (p->flags & (HU_TH_SYN | HU_TH_ACK)) == HU_TH_SYN && f->side[s].seen &&
        (f->closed || p->seq != f->side[s].isn)) {
        bool td = f->td_set;
        uint32_t b0 = f->td_base[0], b1 = f->td_base[1];
        flow_release(t, f);
        f = flow_create(t, p, rev, h);
        if (f) {   /* tcpdump's table outlives the connection */
            f->td_set = td;
            f->td_base[0] = b0;
            f->td_base[1] = b1;
        }
    } else if (!f) {
        f = flow_create(t, p, rev, h);
    }
    if (!f)
        return NULL;
    bool fresh = f->packets == 0;

    *sidep = s;
    f->last_ts = p->ts_us;
    f->packets++;
    bool first = !f->side[s].seen;
    bool first_data = !f->side[s].data_seen;
    uint32_t prev_max = f->side[s].snd_max;
    const hu_side *peer = &f->side[!s];

    update_roles(f, p, s);
    update_handshake(f, p, s);
    update_side(f, p, s);
    if (!hu_gaps_quiet(f->gaps, p, !first, prev_max, peer->seen, peer->snd_max))
        hu_gaps_packet(&f->gaps, p, s, !first, prev_max, peer->seen, peer->snd_max);
    if (!f->tls && p->capturedlen > 0)
        recognise_tls(f, p, s, first_data);
    update_reqwin(t, f, p, s, prev_max, first);
    /* Lists are kept lazily (see expire): a packet only stamps last_ts;
     * a flow moves only when it is new or its state changed. */
    if (fresh) {
        lru_append(t, f);
    } else if (flow_list(f) != f->list) {
        lru_unlink(t, f);
        lru_append(t, f);
    }

    hu_pktsum *e = ring_push(t, f);
    if (e) {
        e->ts_us = p->ts_us;
        e->num = p->num;
        tcpdump_relative(f, p, s, e);
        e->rawseq = p->seq;
        e->rawack = p->ack;
        e->paylen = p->paylen;
        e->ifindex = p->ifindex;
        e->win = p->win;
        e->urp = p->urp;
        e->flags = p->flags;
        e->side = s;
        e->optlen = p->optlen;
        e->optcap = (uint8_t)(p->optcap + (p->capturedlen > 0));
        e->snapcut = p->optcap < p->optlen || p->capturedlen < p->paylen;
        e->pkttype = p->pkttype;
        e->has_sll2 = p->has_sll2;
        size_t sfx_len = p->suffix_ready ? p->suffix_len : 0;
        /* On OOM the slot goes without its text and long options. */
        (void)hu_pktsum_fill(e, p->opts, p->suffix, sfx_len, p->suffix_pre, p->suffix_ext);
        if (e->ext && !hu_pktsum_shared(e))
            f->ring_heap |= 1u << (unsigned)(e - f->ring);
    } else {
        hu_pktsum tmp;
        tcpdump_relative(f, p, s, &tmp);   /* keep tcpdump's bases right */
    }
    return f;
}
