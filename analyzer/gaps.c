/*
 * gaps.c -- capture gaps from the peers' acknowledgements (see gaps.h;
 * docs/DESIGN.md §2.13).
 *
 * Per side, the stream's "top" (the highest sequence number the side is
 * known to have reached: captured, or acknowledged by the peer) and a
 * short list of holes below it, oldest first.  A hole is sequence space
 * the capture did not hold: skipped by a later segment, cut off a segment
 * by the snapshot length, or acknowledged beyond the top (the tail of the
 * stream never captured).  Each hole remembers how much of it the peer
 * has acknowledged ([start, acked)); captured bytes arriving late (a
 * retransmission, or packets the capture wrote out of order) shrink it.
 * A gap is a hole with an acknowledged part: the count and bytes are
 * computed from the list, plus the holes retired from a full list.  A
 * tail acknowledged in several steps with nothing captured in between is
 * one gap.
 */
#include "hangup/gaps.h"

#include <stdlib.h>
#include <string.h>

#define HU_HOLES_MAX 8

typedef struct hu_hole {
    uint32_t start, end;      /* [start, end) not captured */
    uint32_t acked;           /* [start, acked) acknowledged by the peer */
} hu_hole;

typedef struct hu_gside {
    bool top_set;
    uint32_t top;
    uint8_t n;
    hu_hole h[HU_HOLES_MAX];
    /* Holes pushed out of a full list: their gaps stay counted. */
    uint32_t retired_count;
    uint64_t retired_bytes;
    bool retired_set;
    uint32_t retired_hi;      /* the highest acknowledged end among them */
} hu_gside;

struct hu_gaps {
    hu_gside side[2];
};

static bool lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static uint32_t smax(uint32_t a, uint32_t b) { return lt(a, b) ? b : a; }
static uint32_t smin(uint32_t a, uint32_t b) { return lt(a, b) ? a : b; }

static void retire_oldest(hu_gside *g)
{
    hu_hole *o = &g->h[0];
    if (lt(o->start, o->acked)) {
        g->retired_count++;
        g->retired_bytes += o->acked - o->start;
        if (!g->retired_set || lt(g->retired_hi, o->acked))
            g->retired_hi = o->acked;
        g->retired_set = true;
    }
    memmove(&g->h[0], &g->h[1], (size_t)(g->n - 1) * sizeof g->h[0]);
    g->n--;
}

/* Insert a hole at index i (the list stays in stream order). */
static void insert_hole(hu_gside *g, unsigned i, uint32_t start, uint32_t end, uint32_t acked)
{
    if (g->n == HU_HOLES_MAX) {
        retire_oldest(g);
        if (i > 0)
            i--;
    }
    memmove(&g->h[i + 1], &g->h[i], (size_t)(g->n - i) * sizeof g->h[0]);
    g->h[i] = (hu_hole){ start, end, acked };
    g->n++;
}

static void remove_hole(hu_gside *g, unsigned i)
{
    memmove(&g->h[i], &g->h[i + 1], (size_t)(g->n - i - 1) * sizeof g->h[0]);
    g->n--;
}

/* Captured bytes [a, b): whatever holes they fall in shrink. */
static void fill(hu_gside *g, uint32_t a, uint32_t b)
{
    if (!lt(a, b))
        return;
    for (unsigned i = 0; i < g->n;) {
        hu_hole *h = &g->h[i];
        if (!lt(a, h->end) || !lt(h->start, b)) {
            i++;
            continue;
        }
        bool head = !lt(h->start, a), tail = !lt(b, h->end);
        if (head && tail) {
            remove_hole(g, i);
            continue;
        }
        if (head) {                 /* the hole's front was captured */
            h->start = b;
            h->acked = smax(h->acked, b);
        } else if (tail) {          /* its end */
            h->end = a;
            h->acked = smin(h->acked, a);
        } else if (g->n < HU_HOLES_MAX) {   /* its middle: two holes */
            hu_hole right = { b, h->end, smin(smax(h->acked, b), h->end) };
            h->end = a;
            h->acked = smin(h->acked, a);
            insert_hole(g, i + 1, right.start, right.end, right.acked);
            i++;
        }                           /* (a full list keeps the hole whole) */
        i++;
    }
}

/* Side g's segment p: a jump above the top opens a hole, the captured
 * bytes (and the FIN's sequence number) fill holes, a cut tail is one. */
static void segment(hu_gside *g, const hu_pkt *p)
{
    bool syn = p->flags & HU_TH_SYN, fin = p->flags & HU_TH_FIN;
    uint32_t s = p->seq + (syn ? 1u : 0u);
    uint32_t end = s + p->paylen + (fin ? 1u : 0u);
    if (!g->top_set) {
        g->top_set = true;
        g->top = p->seq;
    } else if (!syn && lt(g->top, p->seq) && p->seq - g->top < HU_GAPS_FAR) {
        insert_hole(g, g->n, g->top, p->seq, g->top);
        g->top = p->seq;
    }
    fill(g, s, s + p->capturedlen);
    if (fin)
        fill(g, s + p->paylen, end);
    if (p->capturedlen < p->paylen) {
        uint32_t cut = smax(s + p->capturedlen, g->top);
        if (lt(cut, s + p->paylen))
            insert_hole(g, g->n, cut, s + p->paylen, cut);
    }
    if (lt(g->top, end) && end - g->top < HU_GAPS_FAR)
        g->top = end;
}

/* The peer acknowledges g's stream up to ack. */
static void acknowledged(hu_gside *g, uint32_t ack)
{
    if (!g->top_set) {          /* the side was never seen: where it stands */
        g->top_set = true;
        g->top = ack;
        return;
    }
    if (lt(g->top, ack) && ack - g->top < HU_GAPS_FAR) {
        hu_hole *last = g->n ? &g->h[g->n - 1] : NULL;
        if (last && last->end == g->top && last->acked == last->end)
            last->end = last->acked = ack;   /* the same uncaptured tail, further */
        else
            insert_hole(g, g->n, g->top, ack, ack);
        g->top = ack;
    }
    for (unsigned i = 0; i < g->n; i++) {
        hu_hole *h = &g->h[i];
        if (lt(h->start, ack) && lt(h->acked, smin(ack, h->end)))
            h->acked = smin(ack, h->end);
    }
}

bool hu_gaps_packet(hu_gaps **gp, const hu_pkt *p, uint8_t s, bool seen_s, uint32_t max_s,
                    bool seen_o, uint32_t max_o)
{
    if (hu_gaps_quiet(*gp, p, seen_s, max_s, seen_o, max_o))
        return true;
    hu_gaps *g = *gp;
    if (!g) {
        if (!(g = calloc(1, sizeof *g)))
            return false;
        g->side[s] = (hu_gside){ .top_set = seen_s, .top = max_s };
        g->side[!s] = (hu_gside){ .top_set = seen_o, .top = max_o };
        *gp = g;
    }
    segment(&g->side[s], p);
    if (p->flags & HU_TH_ACK)
        acknowledged(&g->side[!s], p->ack);
    return true;
}

hu_gaps_count hu_gaps_of(const hu_gaps *g, uint8_t s)
{
    hu_gaps_count c = { 0, 0 };
    if (!g)
        return c;
    const hu_gside *gs = &g->side[s & 1];
    c.count = gs->retired_count;
    c.bytes = gs->retired_bytes;
    for (unsigned i = 0; i < gs->n; i++)
        if (lt(gs->h[i].start, gs->h[i].acked)) {
            c.count++;
            c.bytes += gs->h[i].acked - gs->h[i].start;
        }
    return c;
}

bool hu_gaps_acked_from(const hu_gaps *g, uint8_t s, uint32_t pos)
{
    if (!g)
        return false;
    const hu_gside *gs = &g->side[s & 1];
    if (gs->retired_set && lt(pos, gs->retired_hi))
        return true;
    for (unsigned i = 0; i < gs->n; i++)
        if (lt(gs->h[i].start, gs->h[i].acked) && lt(pos, gs->h[i].acked))
            return true;
    return false;
}

bool hu_gaps_open_from(const hu_gaps *g, uint8_t s, uint32_t pos)
{
    if (!g)
        return false;
    const hu_gside *gs = &g->side[s & 1];
    for (unsigned i = 0; i < gs->n; i++)
        if (lt(gs->h[i].acked, gs->h[i].end) && lt(pos, gs->h[i].end))
            return true;
    return false;
}

void hu_gaps_free(hu_gaps *g) { free(g); }
