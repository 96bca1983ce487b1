/*
 * reasm.c -- stream reassembly: libnids for connections whose handshake
 * was captured, per-segment delivery for the rest.
 *
 * libnids is fed one packet at a time from hangup's own loop, after the
 * tracker and detector have seen it (docs/DESIGN.md §3 and §4).  All of
 * libnids' process-global state is touched only here.  Facts it forces:
 *
 *   - it is initialised on a dead DLT_RAW handle, per capture, with
 *     checksum checks off (loopback and offloaded traffic carry bad TCP
 *     checksums), port-scan detection off, its syslog replaced, and its
 *     TCP callback registered after nids_init() (which wipes callbacks);
 *     a failed init is never retried in the same process;
 *   - it keeps a pointer to the pcap header, so the header lives in the
 *     context, not on the stack;
 *   - it understands only IPv4.  IPv6 connections get the same treatment
 *     by handing libnids each segment under a synthetic IPv4 header whose
 *     addresses are interned stand-ins from 240.0.0.0/4 (reserved, never
 *     routed), one per distinct IPv6 address.  The TCP header and payload
 *     are passed unchanged, so libnids' sequence logic is exact for both
 *     families.  IPv4 segments get a rebuilt 20-byte header too (libnids
 *     verifies the IP header checksum, which a capture on the sending host
 *     may not have, and chokes on options it cannot compile);
 *   - its callbacks fire only while we are inside nids_pcap_handler() for
 *     the current packet (or for streams it times out or evicts, which are
 *     ignored), so the current flow is known and checked against the
 *     stream's tuple before any byte is used.
 */
#include "hangup/reasm.h"
#include "hangup/http.h"
#include "hangup/packet.h"

#include <nids.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERN_BASE 0xf0000000u   /* 240.0.0.0 */
#define INTERN_MAX  0x0ffffffeu
#define HU_REASM_SPARES 4

typedef struct intern_slot {
    uint8_t addr[16];
    uint32_t v4;              /* host order; 0 = empty */
} intern_slot;

struct hu_reasm {
    hu_stream_cb cb;
    void *arg;
    bool nids_on;
    pcap_t *dead;
    /* The packet being handed to libnids, and its connection. */
    hu_flow *cur;
    hu_reasm_conn *cur_rc;
    uint32_t cur_src, cur_dst;    /* network order, as in the IP header */
    uint16_t cur_sport, cur_dport;
    struct pcap_pkthdr hdr;
    /* IPv6 address -> IPv4 stand-in. */
    intern_slot *intern;
    size_t intern_cap, intern_len;
    hu_reasm_stats st;
    bool check;               /* HANGUP_CHECK_NIDS: what nids_shortcut takes goes to
                                 libnids too, to be compared */
    const hu_pkt *want;       /* the check: the segment libnids should deliver, */
    int want_dir;             /* to this side, from this sequence number, */
    uint32_t want_seq;
    bool want_met;            /* and whether it did (once, those bytes) */
    /* Buffers for libnids' receiving halves, lent for one call (nids_call). */
    struct { char *data; int size; } spare[HU_REASM_SPARES];
    unsigned nspare;
    /* Where libnids' no_mem hook leaves libnids to (nids_oom), armed
     * while hangup is inside a libnids call that may allocate. */
    jmp_buf oom_jmp;
    bool oom_armed;
    uint8_t buf[20 + 60 + 65536];
};

/*
 * The only file-scope state of hangup's layers, and it has to be: libnids
 * is process-global (its parameters, tables and callbacks), and its
 * callbacks receive no context pointer, so they find the one hu_reasm it
 * serves here.  Nothing outside this file reads or writes these.
 */
static hu_reasm *g_active;        /* the one hu_reasm libnids serves */
static bool g_nids_failed;        /* never retry a failed nids_init (or one out of memory) */
static struct nids_chksum_ctl g_nochk[1] = { { 0, 0, NIDS_DONT_CHKSUM, 0 } };

static void nids_quiet(int type, int err, struct ip *iph, void *data)
{
    (void)type; (void)err; (void)iph; (void)data;
}

/*
 * libnids' no_mem hook.  libnids cannot go on after an allocation fails
 * (its callers use the pointer they asked for), so the hook must not
 * return: it leaves libnids for good, back to the call hangup made
 * (armed in nids_call and around nids_init), and that call turns libnids
 * off for the rest of the process.  Its half-updated state is never
 * touched again (leaked, not freed); the capture goes on with per-segment
 * delivery for new connections, and hu_reasm_stats says where it stopped.
 */
static void nids_oom(char *where)
{
    hu_reasm *r = g_active;
    if (r && r->oom_armed) {
        r->st.nids_oom = where;
        longjmp(r->oom_jmp, 1);
    }
    /* Not inside a call of hangup's (cannot happen: every call that may
     * allocate is armed); returning is libnids' own behaviour then. */
}

/* libnids ran out of memory inside an armed call: stop using it. */
static void nids_lost(hu_reasm *r)
{
    r->oom_armed = false;
    r->nids_on = false;
    r->cur = NULL;
    r->cur_rc = NULL;
    g_nids_failed = true;
    g_active = NULL;
}

/* libnids' handler on the packet at ip (r->hdr set); false when libnids
 * ran out of memory on it and is off for good.  A function of its own so
 * that no caller's locals live across the setjmp. */
static bool nids_handle(hu_reasm *r, const uint8_t *ip)
{
    r->oom_armed = true;
    if (setjmp(r->oom_jmp)) {
        nids_lost(r);
        return false;
    }
    nids_pcap_handler(NULL, &r->hdr, (u_char *)(uintptr_t)ip);
    r->oom_armed = false;
    return true;
}

static uint32_t intern_hash(const uint8_t *a)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h ^ (h >> 15);
}

/* The IPv4 stand-in (network order) for an IPv6 address; 0 on OOM or
 * when the reserved range is exhausted. */
static uint32_t intern(hu_reasm *r, const uint8_t *a)
{
    if ((r->intern_len + 1) * 2 > r->intern_cap) {
        if (r->intern_len >= INTERN_MAX)
            return 0;
        size_t ncap = r->intern_cap ? r->intern_cap * 2 : 256;
        intern_slot *n = calloc(ncap, sizeof *n);
        if (!n)
            return 0;
        for (size_t i = 0; i < r->intern_cap; i++) {
            if (!r->intern[i].v4)
                continue;
            size_t j = intern_hash(r->intern[i].addr);
            while (n[j & (ncap - 1)].v4)
                j++;
            n[j & (ncap - 1)] = r->intern[i];
        }
        free(r->intern);
        r->intern = n;
        r->intern_cap = ncap;
    }
    for (size_t j = intern_hash(a);; j++) {
        intern_slot *s = &r->intern[j & (r->intern_cap - 1)];
        if (!s->v4) {
            memcpy(s->addr, a, 16);
            s->v4 = INTERN_BASE + (uint32_t)++r->intern_len;
            r->st.ipv6_addrs++;
            return htonl(s->v4);
        }
        if (memcmp(s->addr, a, 16) == 0)
            return htonl(s->v4);
    }
}

static bool tuple_is_current(const hu_reasm *r, const struct tuple4 *t)
{
    return (t->saddr == r->cur_src && t->daddr == r->cur_dst && t->source == r->cur_sport &&
            t->dest == r->cur_dport) ||
           (t->saddr == r->cur_dst && t->daddr == r->cur_src && t->source == r->cur_dport &&
            t->dest == r->cur_sport);
}

/*
 * libnids let stream a go while its connection is open: with its table
 * full it times out the oldest stream for each new one (tcp_flow_timeout,
 * its other NIDS_TIMED_OUT, is off).  Losing the rest of that connection's
 * bytes would read as a response that never came, so the connection goes
 * on per segment from the first byte libnids had not delivered in each
 * direction (a side nothing was delivered from starts as any per-segment
 * connection does; bytes libnids held out of order are a gap).
 */
static void resume_per_segment(hu_reasm *r, hu_reasm_conn *g, const struct tcp_stream *a)
{
    g->mode = HU_REASM_SEGMENTS;
    uint8_t c = g->nids_client;
    /* Bytes the client sent are received in libnids' server half. */
    if (a->server.count > 0) {
        g->seg_init[c] = true;
        g->seg_next[c] = a->client.first_data_seq + (uint32_t)a->server.count;
    }
    if (a->client.count > 0) {
        g->seg_init[!c] = true;
        g->seg_next[!c] = a->server.first_data_seq + (uint32_t)a->client.count;
    }
    if (r) {
        r->st.segment_flows++;
        r->st.nids_evicted++;
    }
}

/* libnids' callback.  *param is this listener's word for the stream:
 * the hu_flow it was given to at NIDS_JUST_EST.  Streams are freed by
 * libnids only after a callback in a final state (close, reset, timed out
 * or evicted, exit) -- tcp_flow_timeout, its one silent path, is off --
 * or by hu_reasm_forget, so rc->nids_stream is always exact; and a flow
 * outlives its stream (hu_reasm_forget runs when a flow is released). */
static void on_tcp(struct tcp_stream *a, void **param)
{
    hu_reasm *r = g_active;
    if (a->nids_state != NIDS_JUST_EST && a->nids_state != NIDS_DATA) {
        hu_reasm_conn *g = *param;
        if (g && g->nids_stream == a) {
            g->nids_stream = NULL;
            if (a->nids_state == NIDS_TIMED_OUT)
                resume_per_segment(r, g, a);
        }
        return;   /* nothing buffered to hand over */
    }
    if (!r || !r->cur || !tuple_is_current(r, &a->addr))
        return;
    hu_flow *f = r->cur;
    hu_reasm_conn *rc = r->cur_rc;
    switch (a->nids_state) {
    case NIDS_JUST_EST:
        if (rc->mode != HU_REASM_NONE)
            return;   /* data already went the per-segment way */
        a->client.collect++;
        a->server.collect++;
        rc->mode = HU_REASM_NIDS;
        rc->nids_client = f->client;
        rc->nids_stream = a;
        *param = rc;
        r->st.nids_streams++;
        return;
    case NIDS_DATA: {
        if (rc->mode != HU_REASM_NIDS)
            return;
        /* libnids' client is the SYN sender, as is hangup's. */
        struct half_stream *h = a->server.count_new ? &a->server : &a->client;
        int dir = h == &a->server ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
        if (h->count_new <= 0)
            return;
        const uint8_t *p = (const uint8_t *)h->data + (h->count - h->offset - h->count_new);
        /* A half holds the bytes it received; their sequence numbers are
         * the sender's, whose first is kept in the other half. */
        const struct half_stream *snd = h == &a->server ? &a->client : &a->server;
        uint32_t seq = snd->first_data_seq + (uint32_t)(h->count - h->count_new);
        if (r->want)   /* HANGUP_CHECK_NIDS: what nids_shortcut would deliver, once */
            r->want_met = !r->want_met && (size_t)h->count_new == r->want->paylen &&
                          dir == r->want_dir && seq == r->want_seq &&
                          memcmp(p, r->want->payload, r->want->paylen) == 0;
        r->cb.data(r->arg, f, dir, p, (size_t)h->count_new, seq, f->last_ts);
        return;
    }
    default:
        return;
    }
}

hu_reasm *hu_reasm_new(size_t streams, const hu_stream_cb *cb, void *arg, const char **warn)
{
    *warn = NULL;
    hu_reasm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cb = *cb;
    r->arg = arg;
    /* A developer's check of nids_shortcut against libnids itself (the test
     * suite runs every sample with it); any non-empty value but "0". */
    const char *chk = getenv("HANGUP_CHECK_NIDS");
    r->check = chk && *chk && strcmp(chk, "0") != 0;
    if (g_active || g_nids_failed) {
        *warn = g_active ? "libnids is already in use" : NULL;
        return r;
    }
    r->dead = pcap_open_dead(DLT_RAW, 262144);
    if (!r->dead) {
        *warn = "cannot open a libpcap handle for libnids; using per-segment reassembly";
        return r;
    }
    if (streams < 1024)
        streams = 1024;
    if (streams > 1 << 20)
        streams = 1 << 20;
    nids_params.pcap_desc = r->dead;
    nids_params.n_tcp_streams = (int)streams;
    nids_params.scan_num_hosts = 0;
    nids_params.syslog = nids_quiet;
    nids_params.no_mem = nids_oom;
    nids_params.pcap_filter = NULL;
    nids_params.multiproc = 0;
    nids_params.tcp_workarounds = 0;
    nids_params.one_loop_less = 0;
    /* Its only way of freeing a stream without a callback (a client SYN
     * an hour after the handshake); see on_tcp. */
    nids_params.tcp_flow_timeout = 0;
    g_active = r;   /* nids_oom finds its way back through it */
    r->oom_armed = true;
    if (setjmp(r->oom_jmp)) {
        nids_lost(r);
        *warn = "libnids ran out of memory starting; using per-segment reassembly for every "
                "connection";
        return r;
    }
    if (!nids_init()) {
        r->oom_armed = false;
        g_active = NULL;
        g_nids_failed = true;
        *warn = "libnids failed to start; using per-segment reassembly for every connection";
        pcap_close(r->dead);
        r->dead = NULL;
        return r;
    }
    nids_register_chksum_ctl(g_nochk, 1);
    nids_register_tcp((void *)on_tcp);
    r->oom_armed = false;
    r->nids_on = true;
    return r;
}

void hu_reasm_free(hu_reasm *r)
{
    if (!r)
        return;
    if (r->nids_on) {
        r->cur = NULL;   /* NIDS_EXITING callbacks find no current flow */
        nids_unregister_tcp((void *)on_tcp);   /* nids_exit would leak the node */
        nids_exit();
        g_active = NULL;
    }
    if (r->dead)
        pcap_close(r->dead);
    while (r->nspare)
        free(r->spare[--r->nspare].data);
    free(r->intern);
    free(r);
}

void hu_reasm_stats_get(const hu_reasm *r, hu_reasm_stats *st) { *st = r->st; }

void hu_reasm_forget(hu_reasm *r, hu_reasm_conn *rc)
{
    if (!r || !r->nids_on || rc->mode != HU_REASM_NIDS || !rc->nids_stream)
        return;
    nids_free_tcp_stream(rc->nids_stream);
    rc->nids_stream = NULL;
}

void hu_reasm_prefetch(const hu_reasm_conn *rc)
{
    if (!rc->nids_stream)
        return;
    /* struct tcp_stream: 288 bytes; the fields a segment touches are in
     * both halves. */
    hu_prefetch_lines(rc->nids_stream, sizeof(struct tcp_stream));
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* The ones'-complement sum of a 20-byte IPv4 header, folded to 16 bits:
 * 0xffff when its checksum field is right (RFC 1071). */
static uint32_t ip4_header_sum(const uint8_t *h)
{
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* Can libnids take this IPv4 packet as captured?  A plain 20-byte
 * header with a valid checksum, not a fragment, all of it captured. */
static bool ipv4_as_is(const hu_pkt *p)
{
    const uint8_t *h = p->l3;
    if (!h || p->l3len < 20 || h[0] != 0x45 || (((uint32_t)h[6] << 8 | h[7]) & 0x3fff))
        return false;
    uint32_t total = (uint32_t)h[2] << 8 | h[3];
    if (total != p->l3len)
        return false;
    return ip4_header_sum(h) == 0xffff;
}

/*
 * Body bytes need not travel.  Most of a busy capture's payload is message
 * bodies, which the HTTP parser only counts; libnids would copy each byte
 * into its buffer and call back to have it counted.  When a segment is
 * the very next one libnids expects from its sender (nothing queued out of
 * order, no urgent data, no SYN/FIN/RST) and the parser says all of it is
 * body short of a message's end, the receiving half's collect flag is
 * lowered for that one call: libnids then runs its checks and advances
 * the stream exactly as before but only counts the bytes, and whatever it
 * counted is handed to the parser's skip().  skip_half returns that half,
 * or NULL when the segment must be delivered as usual; on an established
 * stream nids_shortcut (below) takes such a segment without libnids.
 */
/* Did libnids' client (the SYN sender) send a segment from src:sport?
 * Its bytes then arrive in the stream's server half (as on_tcp reads them). */
static bool sent_by_client(const struct tcp_stream *st, uint32_t src, uint16_t sport)
{
    return src == st->addr.saddr && sport == st->addr.source;
}

/* Is segment p, sent by snd's side to rcv, the very next bytes rcv
 * expects -- nothing queued out of order, no urgent data, no SYN/FIN/RST,
 * all of it captured -- so that libnids appends it to the stream whole? */
static bool next_in_order(const hu_pkt *p, const struct half_stream *snd,
                          const struct half_stream *rcv)
{
    return p->paylen && p->capturedlen == p->paylen &&
           !(p->flags & (HU_TH_SYN | HU_TH_FIN | HU_TH_RST | HU_TH_URG)) && rcv->collect &&
           !rcv->list && !rcv->urg_seen &&
           p->seq == snd->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
}

/* Would libnids only count segment p (dir): next in order, and all of it
 * body the HTTP parser only counts? */
static bool only_counted(const hu_reasm *r, const hu_flow *f, const hu_pkt *p,
                         const struct half_stream *snd, const struct half_stream *rcv, int dir)
{
    return r->cb.skippable && next_in_order(p, snd, rcv) &&
           r->cb.skippable(r->arg, f, dir) >= p->paylen;
}

static struct half_stream *skip_half(const hu_reasm *r, const hu_flow *f,
                                     const hu_reasm_conn *rc, const hu_pkt *p,
                                     uint32_t src, int *dirp)
{
    struct tcp_stream *st = rc->nids_stream;
    if (!st || p->paylen == 0)
        return NULL;
    bool from_client = sent_by_client(st, src, p->sport);
    struct half_stream *rcv = from_client ? &st->server : &st->client;
    const struct half_stream *snd = from_client ? &st->client : &st->server;
    int dir = from_client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    if (!only_counted(r, f, p, snd, rcv, dir))
        return NULL;
    *dirp = dir;
    return rcv;
}

/*
 * libnids gives each receiving half a buffer of its own (4 KiB or more)
 * and keeps it for the life of the stream, although every byte in it has
 * been handed over by the time its callback returns (hangup never calls
 * nids_discard to keep any).  Thousands of open connections would hold
 * thousands of cold buffers, each delivered segment copied into one of
 * them.  So a half holds a buffer only while libnids runs: an emptied one
 * is taken back into a few spares, and the half that is about to receive
 * bytes is lent one -- the same few buffers, always in cache, and no
 * allocation per segment.  Buffers come from malloc, so libnids may grow
 * (realloc) or free one it holds as it always could.
 */
static void buffer_lend(hu_reasm *r, struct half_stream *h)
{
    if (!h->data && r->nspare) {
        r->nspare--;
        h->data = r->spare[r->nspare].data;
        h->bufsize = r->spare[r->nspare].size;
    }
}

static void buffer_reclaim(hu_reasm *r, struct half_stream *h)
{
    if (!h->data || h->count != h->offset)
        return;
    if (r->nspare < HU_REASM_SPARES) {
        r->spare[r->nspare].data = h->data;
        r->spare[r->nspare].size = h->bufsize;
        r->nspare++;
    } else {
        free(h->data);
    }
    h->data = NULL;
    h->bufsize = 0;
}

/* libnids takes the segment at ip (len bytes); rcv, when not NULL, is the
 * half whose bytes are counted instead of delivered (skip_half). */
static void nids_call(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, const hu_pkt *p,
                      const uint8_t *ip,
                      uint32_t len, struct half_stream *rcv, int dir)
{
    r->cur = f;
    r->cur_rc = rc;
    r->cur_sport = p->sport;
    r->cur_dport = p->dport;
    r->hdr.ts.tv_sec = (time_t)(p->ts_us / 1000000);
    r->hdr.ts.tv_usec = (suseconds_t)(p->ts_us % 1000000);
    r->hdr.caplen = r->hdr.len = len;
    struct tcp_stream *st = rc->nids_stream;
    char collect = 0;
    int count = 0;
    if (rcv) {
        collect = rcv->collect;
        count = rcv->count;
        rcv->collect = 0;
    } else if (st && p->capturedlen) {
        buffer_lend(r, sent_by_client(st, r->cur_src, p->sport) ? &st->server : &st->client);
    }
    if (!nids_handle(r, ip))
        return;   /* libnids is gone: nothing of its state is read again */
    r->cur = NULL;
    r->cur_rc = NULL;
    if (st && rc->nids_stream == st) {
        buffer_reclaim(r, &st->client);
        buffer_reclaim(r, &st->server);
    }
    /* Without FIN or RST the stream cannot have ended before the bytes
     * were counted; if it went, nothing was. */
    if (rcv && rc->nids_stream == st) {
        rcv->collect = collect;
        if (rcv->count > count)
            r->cb.skip(r->arg, f, dir, (uint64_t)(rcv->count - count));
    }
}

/* Hand the segment to libnids: as captured when it can take it, else
 * under a rebuilt IPv4 header. */
static void feed_nids(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, const hu_pkt *p)
{
    int dir = 0;
    struct half_stream *rcv;
    if (p->ipver == 4 && ipv4_as_is(p)) {
        memcpy(&r->cur_src, p->src, 4);
        memcpy(&r->cur_dst, p->dst, 4);
        rcv = skip_half(r, f, rc, p, r->cur_src, &dir);
        nids_call(r, f, rc, p, p->l3, p->l3len, rcv, dir);
        return;
    }
    uint32_t src, dst;
    if (p->ipver == 4) {
        memcpy(&src, p->src, 4);
        memcpy(&dst, p->dst, 4);
    } else {
        src = intern(r, p->src);
        dst = intern(r, p->dst);
        if (!src || !dst)
            return;
    }
    rcv = skip_half(r, f, rc, p, src, &dir);
    uint32_t thl = 20u + p->optlen;
    uint32_t total = 20 + thl + p->capturedlen;
    if (total > 65535)
        return;
    uint8_t *b = r->buf;
    memset(b, 0, 20);
    b[0] = 0x45;
    put16(b + 2, (uint16_t)total);
    b[8] = 64;
    b[9] = 6;
    memcpy(b + 12, &src, 4);
    memcpy(b + 16, &dst, 4);
    put16(b + 10, (uint16_t)~ip4_header_sum(b));   /* the field is 0 so far */
    uint8_t *t = b + 20;
    put16(t, p->sport);
    put16(t + 2, p->dport);
    put32(t + 4, p->seq);
    put32(t + 8, p->ack);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = p->flags;
    put16(t + 14, p->win);
    t[16] = t[17] = 0;
    put16(t + 18, p->urp);
    /* Options the snapshot cut become end-of-list octets. */
    if (p->optcap)
        memcpy(t + 20, p->opts, p->optcap);
    memset(t + 20 + p->optcap, 0, (size_t)(p->optlen - p->optcap));
    /* Bytes libnids will only count are not copied: it never reads them
     * (checksums are off); the buffer holds whatever came before. */
    if (p->capturedlen && !rcv)
        memcpy(t + thl, p->payload, p->capturedlen);
    r->cur_src = src;
    r->cur_dst = dst;
    nids_call(r, f, rc, p, b, total, rcv, dir);
}

/* Per-segment delivery for connections libnids does not follow. */
static void feed_segment(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, uint8_t s,
                         const hu_pkt *p)
{
    if (rc->mode == HU_REASM_NONE) {
        rc->mode = HU_REASM_SEGMENTS;
        r->st.segment_flows++;
    }
    int dir = s == f->client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    if (!rc->seg_init[s]) {
        rc->seg_init[s] = true;
        rc->seg_next[s] = p->seq;
        /* Unless this is the first byte after the side's SYN, the capture
         * may have started inside a message. */
        bool from_syn = (dir == HU_HTTP_CLIENT ? f->syn_seen : f->synack_seen) &&
                        p->seq == f->side[s].isn + 1;
        if (!from_syn) {
            r->cb.gap(r->arg, f, dir);
            r->st.gaps++;
        }
    }
    uint32_t next = rc->seg_next[s];
    if (hu_seq_gt(p->seq, next)) {
        r->cb.gap(r->arg, f, dir);
        r->st.gaps++;
        next = p->seq;
    }
    uint32_t skip = hu_seq_lt(p->seq, next) ? next - p->seq : 0;
    if (skip < p->capturedlen) {
        r->cb.data(r->arg, f, dir, p->payload + skip, p->capturedlen - skip, p->seq + skip,
                   p->ts_us);
        next = p->seq + p->capturedlen;
    }
    if (p->capturedlen < p->paylen && skip < p->paylen) {
        /* The snapshot cut this segment: its tail is a gap. */
        r->cb.gap(r->arg, f, dir);
        r->st.gaps++;
        next = p->seq + p->paylen;
    }
    rc->seg_next[s] = next;
}

/*
 * Nor need libnids look up a segment whose fate is already known.  On a
 * stream whose halves are both established, libnids does only this with
 * a bare ACK or with the next bytes in order: it finds the stream
 * (hashing the tuple both ways), drops the segment if it lies outside the
 * receiver's window or fails the timestamp (PAWS) check, and records the
 * acknowledgement; for bytes it takes the sender's timestamp and appends
 * them -- counting them only, if the receiving half does not collect
 * (skip_half), else copying them into the half's buffer and calling back
 * with them, after which all are consumed (hangup keeps none); last it
 * records the sender's window.  Its IP layer has work only for fragments,
 * which it is never given (ipv4_as_is, feed_nids).  Nearly every packet
 * of a keep-alive capture after the handshake is one of these, so that is
 * done here, on the stream hangup already holds, by the same rules
 * (process_tcp, tcp_queue, add_from_skb, add2buf, notify and get_ts in
 * libnids 1.26's tcp.c), and delivered bytes go to the HTTP parser
 * straight from the packet.  Anything else -- a FIN, the handshake's last
 * ACK, a segment out of order or beside queued ones, urgent data, a
 * receiver with a full out-of-order queue -- goes to libnids.  With
 * HANGUP_CHECK_NIDS set in the environment, every segment taken here is
 * also given to libnids, the stream compared byte for byte with what was
 * predicted, and delivered bytes with what libnids delivers (see
 * hu_reasm_new).
 */
#define HU_NIDS_ESTABLISHED 1   /* libnids' TCP_ESTABLISHED (tcp.c's own enum) */

/* The TCP timestamp as libnids' get_ts reads the options (its loop, its
 * limits, its answer for malformed options): *ts is written at each
 * timestamp option met, as get_ts writes it. */
static bool nids_ts(const hu_pkt *p, uint32_t *ts)
{
    const uint8_t *o = p->opts;
    int len = p->optcap, i = 0;
    bool found = false;
    while (i <= len - 10) {
        switch (o[i]) {
        case 0:   /* end of options */
            return found;
        case 1:   /* no-op */
            i++;
            continue;
        case 8:
            *ts = (uint32_t)o[i + 2] << 24 | (uint32_t)o[i + 3] << 16 |
                  (uint32_t)o[i + 4] << 8 | o[i + 5];
            found = true;
            /* fall through */
        default:
            if (o[i + 1] < 2)
                return found;
            i += o[i + 1];
        }
    }
    return found;
}

/* libnids' first steps with segment p from snd to rcv: false when it
 * drops the segment; else the acknowledgement is recorded and, for
 * bytes, the sender's timestamp. */
static bool nids_admit(struct half_stream *snd, const struct half_stream *rcv, const hu_pkt *p)
{
    uint32_t len = p->paylen;
    if (!(len == 0 && p->seq == rcv->ack_seq) &&
        (!hu_seq_lt(p->seq, rcv->ack_seq + rcv->window * rcv->wscale) ||
         hu_seq_lt(p->seq + len, rcv->ack_seq)))
        return false;   /* outside the receiver's window */
    uint32_t ts;
    if (rcv->ts_on && nids_ts(p, &ts) && hu_seq_lt(ts, snd->curr_ts))
        return false;   /* an old timestamp */
    if ((p->flags & HU_TH_ACK) && (int32_t)(p->ack - snd->ack_seq) > 0)
        snd->ack_seq = p->ack;
    if (len)
        nids_ts(p, &snd->curr_ts);
    return true;
}

/* What libnids does with segment p from snd to rcv when it is a bare
 * ACK, bytes only counted, or (deliver) bytes delivered, as the stream
 * stands once it is done; returns the bytes appended, which the caller
 * passes on (the parser reads nothing of the stream meanwhile). */
static uint32_t nids_take(struct tcp_stream *st, struct half_stream *snd,
                          struct half_stream *rcv, const hu_pkt *p, bool deliver)
{
    if (!nids_admit(snd, rcv, p))
        return 0;
    uint32_t len = p->paylen;
    if (len) {
        rcv->count += (int)len;
        rcv->offset = rcv->count;
        if (deliver)
            st->read = (int)len;   /* notify: all of it consumed */
    }
    snd->window = p->win;
    return len;
}

/* Take p here if libnids would only record, count or deliver it; false
 * to hand it to libnids as usual. */
static bool nids_shortcut(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, const hu_pkt *p)
{
    struct tcp_stream *st = rc->nids_stream;
    if (!st || (p->flags & (HU_TH_SYN | HU_TH_FIN | HU_TH_RST | HU_TH_URG)) ||
        st->nids_state != NIDS_DATA || !st->listeners ||
        st->client.state != HU_NIDS_ESTABLISHED || st->server.state != HU_NIDS_ESTABLISHED)
        return false;
    if (p->paylen == 0 && !(p->flags & HU_TH_ACK))
        return false;
    /* The stream's tuple is the flow's: the ports tell the sender, or
     * when they are equal the IPv4 source (IPv6 ones are stand-ins). */
    bool from_client;
    if (p->sport != p->dport)
        from_client = p->sport == st->addr.source;
    else if (p->ipver == 4)
        from_client = memcmp(p->src, &st->addr.saddr, 4) == 0;
    else
        return false;
    struct half_stream *snd = from_client ? &st->client : &st->server;
    struct half_stream *rcv = from_client ? &st->server : &st->client;
    int dir = from_client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    if (rcv->rmem_alloc > 65535)
        return false;   /* libnids would prune the receiver's queue */
    bool deliver = false;
    if (p->paylen) {
        /* Bytes delivered need every earlier one consumed and the half's
         * buffer back with hangup (buffer_reclaim), as after each call. */
        if (!next_in_order(p, snd, rcv))
            return false;
        deliver = !(r->cb.skippable && r->cb.skippable(r->arg, f, dir) >= p->paylen);
        if (deliver && (rcv->count != rcv->offset || rcv->data))
            return false;
    }
    int count = rcv->count;
    if (!r->check) {
        uint32_t n = nids_take(st, snd, rcv, p, deliver);
        if (n && deliver)   /* as on_tcp passes on what notify gives it */
            r->cb.data(r->arg, f, dir, p->payload, n, snd->first_data_seq + (uint32_t)count,
                       f->last_ts);
        else if (n)
            r->cb.skip(r->arg, f, dir, n);
        return true;
    }
    struct tcp_stream want;
    memcpy(&want, st, sizeof want);
    uint32_t n = nids_take(&want, from_client ? &want.client : &want.server,
                           from_client ? &want.server : &want.client, p, deliver);
    if (deliver) {   /* libnids' delivery is compared with p in on_tcp */
        r->want = p;
        r->want_dir = dir;
        r->want_seq = snd->first_data_seq + (uint32_t)count;
        r->want_met = false;
    }
    feed_nids(r, f, rc, p);   /* counts and bytes are passed on there */
    r->want = NULL;
    if (rc->nids_stream == st) {   /* buffers are hangup's to lend (nids_call) */
        want.client.data = st->client.data;
        want.client.bufsize = st->client.bufsize;
        want.server.data = st->server.data;
        want.server.bufsize = st->server.bufsize;
    }
    if (rc->nids_stream != st || memcmp(&want, st, sizeof want) != 0 ||
        (uint32_t)(rcv->count - count) != n || (deliver && r->want_met != (n > 0))) {
        if (r->st.check_failures++ == 0)
            r->st.check_first_failure = p->num;
        return true;
    }
    if (deliver)
        r->st.data_checked++;
    else if (p->paylen)
        r->st.segs_checked++;
    else
        r->st.acks_checked++;
    return true;
}

void hu_reasm_packet(hu_reasm *r, hu_flow *f, hu_reasm_conn *rc, uint8_t s, const hu_pkt *p)
{
    /* libnids creates streams only on a SYN.  A connection it has let go
     * (closed, reset) or never took (per-segment delivery) has no stream
     * there, and libnids would only hash the packet twice to find that
     * out: such packets are not handed to it. */
    bool streamless = rc->mode == HU_REASM_SEGMENTS ||
                      (rc->mode == HU_REASM_NIDS && !rc->nids_stream);
    if (r->nids_on && !(streamless && !(p->flags & HU_TH_SYN)) && !nids_shortcut(r, f, rc, p))
        feed_nids(r, f, rc, p);
    if (p->paylen > 0 && rc->mode != HU_REASM_NIDS)
        feed_segment(r, f, rc, s, p);
}

#define HU_STR_(x) #x
#define HU_STR(x) HU_STR_(x)

const char *hu_reasm_lib_version(void)
{
    return HU_STR(NIDS_MAJOR) "." HU_STR(NIDS_MINOR);
}
