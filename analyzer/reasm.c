/*
 * reasm.c -- stream reassembly: libnids for connections whose handshake
 * was captured, per-segment delivery for the rest.
 *
 * libnids is fed one packet at a time from hangup's own loop, after the
 * tracker and detector have seen it (DESIGN.md sections 3 and 4).  All of
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

#include <nids.h>
#include <stdlib.h>
#include <string.h>

#define INTERN_BASE 0xf0000000u   /* 240.0.0.0 */
#define INTERN_MAX  0x0ffffffeu

typedef struct intern_slot {
    uint8_t addr[16];
    uint32_t v4;              /* host order; 0 = empty */
} intern_slot;

struct hu_reasm {
    hu_stream_cb cb;
    void *arg;
    bool nids_on;
    pcap_t *dead;
    /* The packet being handed to libnids. */
    hu_flow *cur;
    uint32_t cur_src, cur_dst;    /* network order, as in the IP header */
    uint16_t cur_sport, cur_dport;
    struct pcap_pkthdr hdr;
    /* IPv6 address -> IPv4 stand-in. */
    intern_slot *intern;
    size_t intern_cap, intern_len;
    hu_reasm_stats st;
    uint8_t buf[20 + 60 + 65536];
};

static hu_reasm *g_active;        /* the one hu_reasm libnids serves */
static bool g_nids_failed;        /* never retry a failed nids_init */
static struct nids_chksum_ctl g_nochk[1] = { { 0, 0, NIDS_DONT_CHKSUM, 0 } };

static void nids_quiet(int type, int err, struct ip *iph, void *data)
{
    (void)type; (void)err; (void)iph; (void)data;
}

static void nids_oom(char *where)
{
    fprintf(stderr, "hangup: out of memory in libnids (%s)\n", where);
    exit(3);
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

static void on_tcp(struct tcp_stream *a, void **param)
{
    (void)param;
    hu_reasm *r = g_active;
    if (!r || !r->cur || !tuple_is_current(r, &a->addr))
        return;
    hu_flow *f = r->cur;
    switch (a->nids_state) {
    case NIDS_JUST_EST:
        if (f->reasm != HU_REASM_NONE)
            return;   /* data already went the per-segment way */
        a->client.collect++;
        a->server.collect++;
        f->reasm = HU_REASM_NIDS;
        r->st.nids_streams++;
        return;
    case NIDS_DATA: {
        if (f->reasm != HU_REASM_NIDS)
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
        r->cb.data(r->arg, f, dir, p, (size_t)h->count_new, seq, f->last_ts);
        return;
    }
    default:
        return;   /* close, reset, timeout, exit: nothing buffered to hand over */
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
    if (!nids_init()) {
        g_nids_failed = true;
        *warn = "libnids failed to start; using per-segment reassembly for every connection";
        pcap_close(r->dead);
        r->dead = NULL;
        return r;
    }
    nids_register_chksum_ctl(g_nochk, 1);
    nids_register_tcp((void *)on_tcp);
    r->nids_on = true;
    g_active = r;
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
    free(r->intern);
    free(r);
}

void hu_reasm_stats_get(const hu_reasm *r, hu_reasm_stats *st) { *st = r->st; }

void hu_reasm_forget(hu_reasm *r, const hu_flow *f)
{
    if (!r || !r->nids_on || f->reasm != HU_REASM_NIDS)
        return;
    uint8_t c = f->client, s = (uint8_t)!f->client;
    struct tuple4 t;
    memset(&t, 0, sizeof t);
    if (f->ipver == 4) {
        memcpy(&t.saddr, f->addr[c], 4);
        memcpy(&t.daddr, f->addr[s], 4);
    } else {
        t.saddr = intern(r, f->addr[c]);
        t.daddr = intern(r, f->addr[s]);
    }
    t.source = f->port[c];
    t.dest = f->port[s];
    struct tcp_stream *st = nids_find_tcp_stream(&t);
    if (st)
        nids_free_tcp_stream(st);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
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
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

/* Hand the segment to libnids: as captured when it can take it, else
 * under a rebuilt IPv4 header. */
static void feed_nids(hu_reasm *r, hu_flow *f, const hu_pkt *p)
{
    if (p->ipver == 4 && ipv4_as_is(p)) {
        r->cur = f;
        memcpy(&r->cur_src, p->src, 4);
        memcpy(&r->cur_dst, p->dst, 4);
        r->cur_sport = p->sport;
        r->cur_dport = p->dport;
        r->hdr.ts.tv_sec = (time_t)(p->ts_us / 1000000);
        r->hdr.ts.tv_usec = (suseconds_t)(p->ts_us % 1000000);
        r->hdr.caplen = r->hdr.len = p->l3len;
        nids_pcap_handler(NULL, &r->hdr, (u_char *)(uintptr_t)p->l3);
        r->cur = NULL;
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
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)b[i] << 8 | b[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(b + 10, (uint16_t)~sum);
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
    if (p->optlen)
        memcpy(t + 20, p->opts, p->optlen);
    if (p->capturedlen)
        memcpy(t + thl, p->payload, p->capturedlen);

    r->cur = f;
    r->cur_src = src;
    r->cur_dst = dst;
    r->cur_sport = p->sport;
    r->cur_dport = p->dport;
    r->hdr.ts.tv_sec = (time_t)(p->ts_us / 1000000);
    r->hdr.ts.tv_usec = (suseconds_t)(p->ts_us % 1000000);
    r->hdr.caplen = r->hdr.len = total;
    nids_pcap_handler(NULL, &r->hdr, b);
    r->cur = NULL;
}

/* Per-segment delivery for connections libnids does not follow. */
static void feed_segment(hu_reasm *r, hu_flow *f, uint8_t s, const hu_pkt *p)
{
    if (f->reasm == HU_REASM_NONE) {
        f->reasm = HU_REASM_SEGMENTS;
        r->st.segment_flows++;
    }
    int dir = s == f->client ? HU_HTTP_CLIENT : HU_HTTP_SERVER;
    if (!f->seg_init[s]) {
        f->seg_init[s] = true;
        f->seg_next[s] = p->seq;
        /* Unless this is the first byte after the side's SYN, the capture
         * may have started inside a message. */
        bool from_syn = (dir == HU_HTTP_CLIENT ? f->syn_seen : f->synack_seen) &&
                        p->seq == f->side[s].isn + 1;
        if (!from_syn) {
            r->cb.gap(r->arg, f, dir);
            r->st.gaps++;
        }
    }
    uint32_t next = f->seg_next[s];
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
    f->seg_next[s] = next;
}

void hu_reasm_packet(hu_reasm *r, hu_flow *f, uint8_t s, const hu_pkt *p)
{
    if (r->nids_on)
        feed_nids(r, f, p);
    if (p->paylen > 0 && f->reasm != HU_REASM_NIDS)
        feed_segment(r, f, s, p);
}
