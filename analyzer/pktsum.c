/*
 * pktsum.c -- filling, copying and clearing packet summaries (see
 * pktsum.h): the only part of a summary that owns memory is its heap part,
 * the options beyond the inline room and the text (encapsulations and
 * payload suffix), kept in one block so that a packet needing either pays
 * one allocation.
 */
#include "hangup/pktsum.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char hu_pktsum_shared_text[] = ": HTTP";

/* Bytes of s's heap part: its long options, then its text and NUL. */
static size_t ext_size(const hu_pktsum *s)
{
    unsigned k = hu_pktsum_optkept(s);
    size_t n = k > HU_PKTSUM_OPTS_INLINE ? k : 0;
    return n + strlen(s->ext + n) + 1;
}

/* s lost its heap part (OOM or cleared): no text, no long options. */
static void lose_ext(hu_pktsum *s)
{
    if (hu_pktsum_optkept(s) > HU_PKTSUM_OPTS_INLINE)
        s->optlen = s->optcap = 0;
    s->ext = NULL;
    s->text_pre = 0;
    s->text_ext = 0;
}

bool hu_pktsum_fill(hu_pktsum *s, const uint8_t *opts, const char *text, size_t len,
                    uint16_t pre, uint16_t ext)
{
    unsigned k = hu_pktsum_optkept(s);
    s->text_pre = len ? pre : 0;
    s->text_ext = len ? ext : 0;
    s->ext = NULL;
    if (k <= HU_PKTSUM_OPTS_INLINE) {
        if (k)
            memcpy(s->opts_inline, opts, k);
        if (!len)
            return true;
        if (len == sizeof hu_pktsum_shared_text - 1 && pre == 0 && ext == 0 &&
            memcmp(text, hu_pktsum_shared_text, len) == 0) {
            s->ext = (char *)(uintptr_t)hu_pktsum_shared_text;
            return true;
        }
        k = 0;
    }
    char *b = malloc(k + len + 1);
    if (!b) {
        lose_ext(s);
        return false;
    }
    if (k)
        memcpy(b, opts, k);
    if (len)
        memcpy(b + k, text, len);
    b[k + len] = '\0';
    s->ext = b;
    return true;
}

void hu_pktsum_clear(hu_pktsum *s)
{
    if (!hu_pktsum_shared(s))
        free(s->ext);
    lose_ext(s);
}

void hu_pktsum_copy(hu_pktsum *dst, const hu_pktsum *src)
{
    *dst = *src;
    if (!src->ext || hu_pktsum_shared(src))
        return;
    size_t n = ext_size(src);
    dst->ext = malloc(n);
    if (dst->ext)
        memcpy(dst->ext, src->ext, n);
    else
        lose_ext(dst);
}

/* ---------------------------------------------------------------- packing */

/* The block: a header (count, total length), then each summary. */
typedef struct pk_hdr {
    uint32_t count;
    uint32_t len;             /* bytes, header included */
} pk_hdr;

/* The block is built in `stack` (room for a full ring of plain
 * segments), on the heap only beyond it, then copied to one allocation
 * of its exact size: growing and shrinking blocks by realloc, one per
 * idle connection, scattered the heap. */
typedef struct pk_out {
    uint8_t *b;
    size_t len, cap;
    bool oom, heap;
    uint8_t stack[4096];
} pk_out;

/* Room for n more bytes at o->b + o->len; false on OOM (o->oom set). */
static bool reserve(pk_out *o, size_t n)
{
    if (o->oom)
        return false;
    if (o->len + n <= o->cap)
        return true;
    size_t cap = o->cap * 2;
    while (cap < o->len + n)
        cap *= 2;
    uint8_t *nb = o->heap ? realloc(o->b, cap) : malloc(cap);
    if (!nb) {
        o->oom = true;
        return false;
    }
    if (!o->heap)
        memcpy(nb, o->b, o->len);
    o->heap = true;
    o->b = nb;
    o->cap = cap;
    return true;
}

/* Variable-length integers, written where w points (room reserved). */
static inline uint8_t *put_uv(uint8_t *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

/* A signed difference, zigzag-coded so that small ones of either sign are short. */
static inline uint8_t *put_sv(uint8_t *w, int64_t v)
{
    return put_uv(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* The most a summary's fixed part takes: 7 signed and 4 unsigned
 * integers, 7 bytes, up to 40 option bytes, the text's 3 integers and
 * its NUL. */
#define PK_FIXED_MAX (7 * 10 + 4 * 10 + 7 + 40 + 3 * 10 + 1)

typedef struct pk_in {
    const uint8_t *p, *end;
    bool bad;
} pk_in;

static uint64_t get_uv_slow(pk_in *in);

/* A variable-length integer: most are one byte, and a block's summaries
 * are decoded eleven integers each, so the one-byte case and the case
 * with room for the longest are read without checking each byte's bound. */
static inline uint64_t get_uv(pk_in *in)
{
    const uint8_t *p = in->p;
    if (p < in->end && *p < 0x80) {
        in->p = p + 1;
        return *p;
    }
    if ((size_t)(in->end - p) < 10)
        return get_uv_slow(in);
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        uint8_t c = *p++;
        v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            in->p = p;
            return v;
        }
    }
    in->p = p;
    in->bad = true;
    return 0;
}

/* The same, checking each byte's bound (near the block's end). */
static uint64_t get_uv_slow(pk_in *in)
{
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (in->p >= in->end) {
            in->bad = true;
            return 0;
        }
        uint8_t c = *in->p++;
        v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80))
            return v;
    }
    in->bad = true;
    return 0;
}

static int64_t get_sv(pk_in *in)
{
    uint64_t u = get_uv(in);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *get_bytes(pk_in *in, size_t n)
{
    if ((size_t)(in->end - in->p) < n) {
        in->bad = true;
        return NULL;
    }
    const uint8_t *r = in->p;
    in->p += n;
    return r;
}

/* What each summary is coded against: the previous one, and the previous
 * one of each side for the sequence fields. */
typedef struct pk_base {
    int64_t ts;
    uint64_t num;
    uint32_t rawseq[2], rawack[2], dseq[2], dack[2], sackbase[2];
} pk_base;

uint8_t *hu_pktsum_pack(const hu_pktsum *const *v, unsigned n)
{
    pk_out o;
    o.b = o.stack;
    o.len = sizeof(pk_hdr);   /* the header is written last */
    o.cap = sizeof o.stack;
    o.oom = o.heap = false;
    pk_base b = {0};
    for (unsigned i = 0; i < n; i++) {
        const hu_pktsum *e = v[i];
        unsigned s = e->side & 1;
        const char *text = hu_pktsum_text(e);
        size_t tl = text[0] ? strlen(text) : 0;
        if (!reserve(&o, PK_FIXED_MAX + tl))
            break;
        uint8_t *w = o.b + o.len;
        w = put_sv(w, e->ts_us - b.ts);
        w = put_sv(w, (int64_t)(e->num - b.num));
        w = put_sv(w, (int32_t)(e->rawseq - b.rawseq[s]));
        w = put_sv(w, (int32_t)(e->rawack - b.rawack[s]));
        w = put_sv(w, (int32_t)((e->rawseq - e->seq) - b.dseq[s]));
        w = put_sv(w, (int32_t)((e->rawack - e->ack) - b.dack[s]));
        w = put_sv(w, (int32_t)(e->sackbase - b.sackbase[s]));
        w = put_uv(w, e->paylen);
        w = put_uv(w, e->ifindex);
        w = put_uv(w, e->win);
        w = put_uv(w, e->urp);
        w[0] = e->flags;
        w[1] = e->side;
        w[2] = e->optlen;
        w[3] = e->pkttype;
        w[4] = e->has_sll2;
        w[5] = e->optcap;
        w[6] = e->snapcut;
        w += 7;
        w = put_uv(w, tl);
        if (tl) {
            w = put_uv(w, e->text_pre);
            w = put_uv(w, e->text_ext);
        }
        /* The options, then the text and its NUL: a heap part's layout, so
         * that an unpacked summary's can point here. */
        unsigned k = hu_pktsum_optkept(e);
        memcpy(w, hu_pktsum_opts(e), k);
        w += k;
        if (k > HU_PKTSUM_OPTS_INLINE || tl) {
            memcpy(w, text, tl);
            w[tl] = '\0';
            w += tl + 1;
        }
        o.len = (size_t)(w - o.b);
        b.ts = e->ts_us;
        b.num = e->num;
        b.rawseq[s] = e->rawseq;
        b.rawack[s] = e->rawack;
        b.dseq[s] = e->rawseq - e->seq;
        b.dack[s] = e->rawack - e->ack;
        b.sackbase[s] = e->sackbase;
    }
    uint8_t *fit = o.oom ? NULL : malloc(o.len);
    if (fit) {
        pk_hdr h = { n, (uint32_t)o.len };
        memcpy(o.b, &h, sizeof h);
        memcpy(fit, o.b, o.len);
    }
    if (o.heap)
        free(o.b);
    return fit;
}

unsigned hu_pktsum_packed_count(const uint8_t *b)
{
    pk_hdr h;
    memcpy(&h, b, sizeof h);
    return h.count;
}

bool hu_pktsum_unpack(const uint8_t *blk, hu_pktsum *out, unsigned n)
{
    pk_hdr h;
    memcpy(&h, blk, sizeof h);
    pk_in in = { blk + sizeof h, blk + h.len, h.len < sizeof h };
    pk_base b = {0};
    bool ok = h.count == n;
    memset(out, 0, n * sizeof *out);
    for (unsigned i = 0; ok && i < n; i++) {
        hu_pktsum *e = &out[i];
        int64_t dts = get_sv(&in);
        int64_t dnum = get_sv(&in);
        int64_t dseq = get_sv(&in), dack = get_sv(&in);
        int64_t ddseq = get_sv(&in), ddack = get_sv(&in), dsack = get_sv(&in);
        e->paylen = (uint32_t)get_uv(&in);
        e->ifindex = (uint32_t)get_uv(&in);
        e->win = (uint16_t)get_uv(&in);
        e->urp = (uint16_t)get_uv(&in);
        const uint8_t *small = get_bytes(&in, 7);
        if (in.bad)
            break;
        e->flags = small[0];
        e->side = small[1];
        e->optlen = small[2];
        e->pkttype = small[3];
        e->has_sll2 = small[4];
        e->optcap = small[5];
        e->snapcut = small[6];
        unsigned s = e->side & 1;
        e->ts_us = b.ts + dts;
        e->num = b.num + (uint64_t)dnum;
        e->rawseq = b.rawseq[s] + (uint32_t)dseq;
        e->rawack = b.rawack[s] + (uint32_t)dack;
        uint32_t ds = b.dseq[s] + (uint32_t)ddseq, da = b.dack[s] + (uint32_t)ddack;
        e->seq = e->rawseq - ds;
        e->ack = e->rawack - da;
        e->sackbase = b.sackbase[s] + (uint32_t)dsack;
        b.ts = e->ts_us;
        b.num = e->num;
        b.rawseq[s] = e->rawseq;
        b.rawack[s] = e->rawack;
        b.dseq[s] = ds;
        b.dack[s] = da;
        b.sackbase[s] = e->sackbase;
        size_t tl = (size_t)get_uv(&in);
        if (tl) {
            e->text_pre = (uint16_t)get_uv(&in);
            e->text_ext = (uint16_t)get_uv(&in);
        }
        unsigned k = hu_pktsum_optkept(e);
        bool ext = k > HU_PKTSUM_OPTS_INLINE || tl;
        const uint8_t *part = get_bytes(&in, k + (ext ? tl + 1 : 0));
        if (in.bad || (ext && part[k + tl] != '\0')) {
            in.bad = true;
            e->optlen = e->optcap = 0;
            e->text_pre = e->text_ext = 0;
            break;
        }
        if (k <= HU_PKTSUM_OPTS_INLINE)
            memcpy(e->opts_inline, part, k);
        if (ext)   /* read-only: the block is not the summary's to free */
            e->ext = (char *)(uintptr_t)(part + (k > HU_PKTSUM_OPTS_INLINE ? 0 : k));
    }
    return ok && !in.bad;
}
