/*
 * wcap.c -- the -w writer and the per-connection frame rings (wcap.h).
 *
 * The file is pcapng, written here block by block (pcapng, IETF draft
 * draft-ietf-opsawg-pcapng): libpcap 1.10 writes only classic pcap, which
 * has one link type per file and no packet comments, and reads pcapng but
 * cannot write it.  One -w file must hold the incidents of every capture
 * of a run, whatever its link type (Ethernet, Linux cooked, raw IP), and
 * carry each incident's explanation where Wireshark shows it.  So: one
 * Section Header Block, one Interface Description Block per (capture,
 * link type) that gave an incident, and an Enhanced Packet Block per
 * frame with opt_comment options.  Timestamps are microseconds (what
 * hu_frame carries), said by if_tsresol.  Blocks are in host byte order,
 * which the Section Header's byte-order magic declares.
 *
 * Frames handed over are held, sorted at each write, and written only
 * once nothing can come before them (wcap.h); the bytes of held frames
 * beyond the memory budget go to an unlinked temporary file and are read
 * back when written, so memory grows with the count of held frames only.
 */
#include "hangup/wcap.h"
#include "hangup/strbuf.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HU_RAW_FRAMES 32            /* frames kept per connection */
#define HU_RAW_BYTES (256 * 1024)   /* bytes kept per connection */
#define HU_RAW_SNAP 65535           /* a kept frame is cut to this */
#define HU_COMMENT_MAX 65000        /* an option's length is 16 bits */

enum {
    PCAPNG_SHB = 0x0A0D0D0A, PCAPNG_IDB = 1, PCAPNG_EPB = 6,
    OPT_END = 0, OPT_COMMENT = 1, SHB_USERAPPL = 4,
    IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9,
};

typedef struct hu_rawframe {
    int64_t ts_us;
    uint64_t num;
    uint32_t caplen, wirelen;
    uint8_t *data;
} hu_rawframe;

struct hu_wcap_ring {
    hu_rawframe f[HU_RAW_FRAMES];
    unsigned head, len;
    size_t bytes;
    uint64_t handed_upto;        /* the newest packet handed over before, or 0 */
    hu_wcap_ring *prev, *next;   /* every ring of the writer (hu_wcap_flush) */
};

/* An interface: one capture's name and link type. */
typedef struct wc_iface {
    char *name;
    int dlt;
    bool live;
    bool written;             /* its block is in the file, ... */
    uint32_t id;              /* ... the id-th interface block */
} wc_iface;

/* A frame handed over and not yet written. */
typedef struct wc_held {
    int64_t ts_us;
    uint64_t order;           /* hand-over order: equal times keep it */
    uint64_t capture, num;    /* its capture (hu_wcap.captures) and packet number */
    uint32_t iface;           /* index into hu_wcap.ifaces */
    uint32_t caplen, wirelen;
    uint8_t *data;            /* owned, or NULL: at `off` in the spill file */
    uint64_t off;
    char *comments;           /* owned, lines joined by '\n', or NULL */
} wc_held;

struct hu_wcap {
    const char *path;
    FILE *err;
    const char *progname;
    FILE *fp;
    bool header_written;      /* the Section Header Block */
    bool failed;              /* reported; nothing more is written */
    bool incomplete;          /* packets were left out (reported) */
    wc_iface *ifaces;
    size_t nifaces;
    uint32_t ifaces_written;
    /* The current capture. */
    char *source;
    bool live;
    uint64_t captures;        /* begun so far: the current one's id */
    /* The interface of a file without incidents: the first capture read. */
    char *first_source;
    int first_dlt;
    bool first_live;
    /* Held frames. */
    wc_held *held;
    size_t nheld, capheld;
    uint64_t order;
    size_t mem, mem_max;      /* bytes of held frames in memory, and the budget */
    FILE *spill;              /* the rest, or NULL */
    uint64_t spill_off;       /* its end */
    size_t nspilled;          /* held frames whose bytes are in it */
    bool spill_failed;        /* no spill file: everything stays in memory */
    uint8_t *rd;              /* a frame read back from the spill file */
    /* Live capture's horizon. */
    hu_wcap_ring *rings;
    int64_t newest_us;
    hu_sb blk;                /* the block being built */
};

/* ------------------------------------------------------------ failures */

static void fail(hu_wcap *w, const char *why)
{
    if (!w->failed)
        fprintf(w->err, "%s: -w %s: %s\n", w->progname, w->path, why);
    w->failed = true;
}

/* Frames left out for want of memory: said once, and the file is then
 * not complete. */
static void left_out(hu_wcap *w)
{
    if (!w->incomplete && !w->failed)
        fprintf(w->err, "%s: -w %s: out of memory; packets left out\n", w->progname, w->path);
    w->incomplete = true;
}

/* ------------------------------------------------------------ blocks */

static void put16(hu_sb *b, uint16_t v) { hu_sb_put(b, &v, 2); }
static void put32(hu_sb *b, uint32_t v) { hu_sb_put(b, &v, 4); }

static void pad4(hu_sb *b)
{
    static const uint8_t zero[3] = { 0, 0, 0 };
    hu_sb_put(b, zero, (4 - b->len % 4) % 4);
}

/* An option; n is at most HU_COMMENT_MAX by the callers. */
static void put_opt(hu_sb *b, uint16_t code, const void *p, size_t n)
{
    put16(b, code);
    put16(b, (uint16_t)n);
    if (n)
        hu_sb_put(b, p, n);
    pad4(b);
}

static void block_begin(hu_sb *b, uint32_t type)
{
    hu_sb_reset(b);
    put32(b, type);
    put32(b, 0);   /* the total length, once known */
}

/* Close the block in w->blk (its length at both ends) and write it. */
static bool block_end(hu_wcap *w)
{
    hu_sb *b = &w->blk;
    pad4(b);
    put32(b, (uint32_t)(b->len + 4));
    if (b->oom) {
        fail(w, "out of memory");
        return false;
    }
    uint32_t total = (uint32_t)b->len;
    memcpy(b->buf + 4, &total, 4);
    if (fwrite(b->buf, 1, b->len, w->fp) != b->len) {
        fail(w, strerror(errno ? errno : EIO));
        return false;
    }
    return true;
}

static bool write_header(hu_wcap *w)
{
    if (w->header_written)
        return true;
    hu_sb *b = &w->blk;
    block_begin(b, PCAPNG_SHB);
    put32(b, 0x1A2B3C4D);   /* byte-order magic */
    put16(b, 1);            /* version 1.0 */
    put16(b, 0);
    put32(b, 0xffffffffu);  /* section length: not given */
    put32(b, 0xffffffffu);
    static const char app[] = "hangup " HANGUP_VERSION;
    put_opt(b, SHB_USERAPPL, app, sizeof app - 1);
    put_opt(b, OPT_END, NULL, 0);
    w->header_written = block_end(w);
    return w->header_written;
}

/* libpcap's DLT_ values are the file's LINKTYPE_ values for every link
 * type the decoder takes, but raw IP and (on some systems) LOOP. */
static uint16_t linktype_of(int dlt)
{
    if (dlt == DLT_LOOP)
        return 108;
    if (dlt == DLT_RAW || dlt == 14)
        return 101;
    return (uint16_t)dlt;
}

static bool write_iface(hu_wcap *w, wc_iface *in)
{
    if (in->written)
        return true;
    if (!write_header(w))
        return false;
    hu_sb *b = &w->blk;
    block_begin(b, PCAPNG_IDB);
    put16(b, linktype_of(in->dlt));
    put16(b, 0);
    put32(b, HU_RAW_SNAP);
    if (in->name) {
        hu_sb s = { 0 };
        hu_sb_safe(&s, (const uint8_t *)in->name, strlen(in->name));
        size_t n = s.len < HU_COMMENT_MAX ? s.len : HU_COMMENT_MAX;
        put_opt(b, IF_NAME, s.buf, n);
        hu_sb_reset(&s);
        hu_sb_puts(&s, in->live ? "hangup -w: incidents' connections from live capture on "
                                : "hangup -w: incidents' connections from capture file ");
        hu_sb_safe(&s, (const uint8_t *)in->name, strlen(in->name));
        n = s.len < HU_COMMENT_MAX ? s.len : HU_COMMENT_MAX;
        put_opt(b, IF_DESCRIPTION, s.buf, n);
        b->oom |= s.oom;
        hu_sb_free(&s);
    }
    uint8_t usec = 6;   /* 10^-6 s */
    put_opt(b, IF_TSRESOL, &usec, 1);
    put_opt(b, OPT_END, NULL, 0);
    if (!block_end(w))
        return false;
    in->written = true;
    in->id = w->ifaces_written++;
    return true;
}

/* The held frame's bytes: in memory, or read back from the spill file. */
static const uint8_t *held_data(hu_wcap *w, const wc_held *h)
{
    if (h->data)
        return h->data;
    if (!w->rd && !(w->rd = malloc(HU_RAW_SNAP))) {
        fail(w, "out of memory");
        return NULL;
    }
    if (pread(fileno(w->spill), w->rd, h->caplen, (off_t)h->off) != (ssize_t)h->caplen) {
        fail(w, "cannot read back its temporary file");
        return NULL;
    }
    return w->rd;
}

/* A packet, after its interface's block if that is not written yet:
 * interfaces come just before their first packet, so that libpcap, which
 * stops at an interface of a link type other than the first's, reads at
 * least the packets before it. */
static bool write_packet(hu_wcap *w, const wc_held *h)
{
    wc_iface *in = &w->ifaces[h->iface];
    const uint8_t *data = write_iface(w, in) ? held_data(w, h) : NULL;
    if (!data)
        return false;
    hu_sb *b = &w->blk;
    block_begin(b, PCAPNG_EPB);
    uint64_t ts = h->ts_us > 0 ? (uint64_t)h->ts_us : 0;
    put32(b, in->id);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, h->caplen);
    put32(b, h->wirelen);
    hu_sb_put(b, data, h->caplen);
    pad4(b);
    if (h->comments) {
        for (const char *c = h->comments; c;) {
            const char *nl = strchr(c, '\n');
            size_t n = nl ? (size_t)(nl - c) : strlen(c);
            put_opt(b, OPT_COMMENT, c, n);
            c = nl ? nl + 1 : NULL;
        }
        put_opt(b, OPT_END, NULL, 0);
    }
    return block_end(w);
}

/* ------------------------------------------------------------ held frames */

static void held_release(hu_wcap *w, wc_held *h)
{
    if (h->data)
        w->mem -= h->caplen;
    else
        w->nspilled--;
    free(h->data);
    free(h->comments);
    h->data = NULL;
    h->comments = NULL;
}

static int held_cmp(const void *a, const void *b)
{
    const wc_held *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Write, in time order, every held frame not later than `upto`. */
static void write_held(hu_wcap *w, int64_t upto)
{
    if (!w->nheld || w->failed)
        return;
    qsort(w->held, w->nheld, sizeof *w->held, held_cmp);
    size_t n = 0;
    while (n < w->nheld && w->held[n].ts_us <= upto && !w->failed) {
        write_packet(w, &w->held[n]);
        held_release(w, &w->held[n]);
        n++;
    }
    memmove(w->held, w->held + n, (w->nheld - n) * sizeof *w->held);
    w->nheld -= n;
    if (!w->nspilled && w->spill_off && ftruncate(fileno(w->spill), 0) == 0)
        w->spill_off = 0;   /* a long live capture reuses the space */
}

/* Move a ring's frame into the held list (its bytes too: the ring lets
 * go of them); NULL, reported, when out of memory. */
static wc_held *hold(hu_wcap *w, hu_rawframe *e, uint32_t iface)
{
    if (w->nheld == w->capheld) {
        size_t cap = w->capheld ? w->capheld * 2 : 256;
        wc_held *nh = realloc(w->held, cap * sizeof *nh);
        if (!nh) {
            left_out(w);
            return NULL;
        }
        w->held = nh;
        w->capheld = cap;
    }
    wc_held *h = &w->held[w->nheld++];
    *h = (wc_held){ .ts_us = e->ts_us, .order = w->order++, .capture = w->captures,
                    .num = e->num, .iface = iface, .caplen = e->caplen,
                    .wirelen = e->wirelen, .data = e->data };
    e->data = NULL;
    if (w->mem + h->caplen <= w->mem_max) {
        w->mem += h->caplen;
        return h;
    }
    /* Over the budget: the bytes wait in the spill file (if it can be
     * had; otherwise they stay in memory). */
    if (!w->spill && !w->spill_failed && !(w->spill = tmpfile()))
        w->spill_failed = true;
    if (w->spill && pwrite(fileno(w->spill), h->data, h->caplen, (off_t)w->spill_off) ==
                        (ssize_t)h->caplen) {
        free(h->data);
        h->data = NULL;
        h->off = w->spill_off;
        w->spill_off += h->caplen;
        w->nspilled++;
    } else {
        w->mem += h->caplen;
    }
    return h;
}

/* Add a comment line to a held frame. */
static void comment(hu_wcap *w, wc_held *h, const char *text)
{
    size_t old = h->comments ? strlen(h->comments) : 0;
    size_t n = strlen(text);
    if (n > HU_COMMENT_MAX)
        n = HU_COMMENT_MAX;
    char *c = realloc(h->comments, old + (old ? 1 : 0) + n + 1);
    if (!c) {
        left_out(w);
        return;
    }
    if (old)
        c[old++] = '\n';
    for (size_t i = 0; i < n; i++)   /* one line: a newline would split it */
        c[old + i] = text[i] == '\n' || text[i] == '\r' ? ' ' : text[i];
    c[old + n] = '\0';
    h->comments = c;
}

static bool named(const hu_wcap_note *note, uint64_t num)
{
    for (int k = 0; k < HU_WCAP_NOTE_PACKETS; k++)
        if (note->packets[k] && note->packets[k] == num)
            return true;
    return false;
}

/* The interface for the current capture with link type dlt, added (not
 * yet written) when `add`; -1 when there is none or out of memory. */
static long iface_for(hu_wcap *w, int dlt, bool add)
{
    for (size_t i = 0; i < w->nifaces; i++) {
        const wc_iface *in = &w->ifaces[i];
        if (in->dlt == dlt && in->live == w->live && strcmp(in->name, w->source) == 0)
            return (long)i;
    }
    if (!add)
        return -1;
    wc_iface *ni = realloc(w->ifaces, (w->nifaces + 1) * sizeof *ni);
    if (!ni)
        return -1;
    w->ifaces = ni;
    char *name = strdup(w->source);
    if (!name)
        return -1;
    w->ifaces[w->nifaces] = (wc_iface){ .name = name, .dlt = dlt, .live = w->live };
    return (long)w->nifaces++;
}

/* A note's packets that an earlier hand-over of the same connection
 * (interface iface, packets up to `upto`) left held get its comment too;
 * the search runs only when there was such a hand-over and stays within
 * the current capture's frames.  Whether any did. */
static bool comment_earlier(hu_wcap *w, long iface, uint64_t upto, const hu_wcap_note *note,
                            size_t end)
{
    bool wanted = false;
    for (int k = 0; k < HU_WCAP_NOTE_PACKETS; k++)
        wanted |= note->packets[k] && note->packets[k] <= upto;
    if (!wanted || iface < 0)
        return false;
    bool found = false;
    for (size_t i = end; i-- > 0 && w->held[i].capture == w->captures;)
        if (w->held[i].iface == (uint32_t)iface && w->held[i].num <= upto &&
            named(note, w->held[i].num)) {
            comment(w, &w->held[i], note->text);
            found = true;
        }
    return found;
}

/* ------------------------------------------------------------ the API */

hu_wcap *hu_wcap_new(const char *path, FILE *err, const char *progname, char *why, size_t n)
{
    hu_wcap *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        snprintf(why, n, "%s", strerror(errno));
        free(w);
        return NULL;
    }
    w->path = path;
    w->err = err;
    w->progname = progname;
    w->first_dlt = -1;
    w->mem_max = HU_WCAP_MEMORY;
    w->newest_us = INT64_MIN;
    return w;
}

void hu_wcap_set_memory(hu_wcap *w, size_t bytes) { w->mem_max = bytes; }

void hu_wcap_begin(hu_wcap *w, const char *source, bool live, int dlt)
{
    char *s = strdup(source);
    if (!s) {
        fail(w, "out of memory");
        return;
    }
    free(w->source);
    w->source = s;
    w->live = live;
    w->captures++;
    if (dlt >= 0 && !w->failed) {
        long i = iface_for(w, dlt, true);
        if (i < 0)
            fail(w, "out of memory");
        else if (write_iface(w, &w->ifaces[i]) && fflush(w->fp) != 0)
            fail(w, strerror(errno));
        hu_wcap_note_dlt(w, dlt);
    }
}

void hu_wcap_note_dlt(hu_wcap *w, int dlt)
{
    if (w->first_dlt >= 0 || dlt < 0 || !w->source)
        return;
    free(w->first_source);
    w->first_source = strdup(w->source);
    w->first_dlt = dlt;
    w->first_live = w->live;
}

bool hu_wcap_free(hu_wcap *w)
{
    if (!w)
        return true;
    write_held(w, INT64_MAX);
    for (size_t i = 0; i < w->nifaces && !w->failed; i++)
        write_iface(w, &w->ifaces[i]);   /* one whose frames were all left out */
    if (!w->nifaces && !w->failed) {
        /* No incident: a header and one interface, the first capture's
         * (Ethernet, unnamed, if none was read), as tcpdump leaves an
         * empty capture. */
        wc_iface in = { .name = w->first_source,
                        .dlt = w->first_dlt >= 0 ? w->first_dlt : DLT_EN10MB,
                        .live = w->first_live };
        write_iface(w, &in);
    }
    if (fflush(w->fp) != 0 || ferror(w->fp))
        fail(w, strerror(errno ? errno : EIO));
    if (fclose(w->fp) != 0)
        fail(w, strerror(errno));
    bool ok = !w->failed && !w->incomplete;
    for (size_t i = 0; i < w->nheld; i++)   /* left after a failure */
        held_release(w, &w->held[i]);
    free(w->held);
    for (size_t i = 0; i < w->nifaces; i++)
        free(w->ifaces[i].name);
    free(w->ifaces);
    if (w->spill)
        fclose(w->spill);
    free(w->rd);
    free(w->source);
    free(w->first_source);
    hu_sb_free(&w->blk);
    free(w);
    return ok;
}

void hu_wcap_ring_free(hu_wcap *w, hu_wcap_ring *r)
{
    if (!r)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        w->rings = r->next;
    if (r->next)
        r->next->prev = r->prev;
    for (unsigned i = 0; i < r->len; i++)
        free(r->f[(r->head + i) % HU_RAW_FRAMES].data);
    free(r);
}

void hu_wcap_keep(hu_wcap *w, hu_wcap_ring **ring, const hu_frame *fr)
{
    if (!*ring) {
        if (!(*ring = calloc(1, sizeof **ring)))
            return;
        (*ring)->next = w->rings;
        if (w->rings)
            w->rings->prev = *ring;
        w->rings = *ring;
    }
    hu_wcap_ring *r = *ring;
    uint32_t n = fr->caplen < HU_RAW_SNAP ? fr->caplen : HU_RAW_SNAP;
    while (r->len && (r->len == HU_RAW_FRAMES || r->bytes + n > HU_RAW_BYTES)) {
        hu_rawframe *old = &r->f[r->head];
        r->bytes -= old->caplen;
        free(old->data);
        r->head = (r->head + 1) % HU_RAW_FRAMES;
        r->len--;
    }
    uint8_t *d = malloc(n ? n : 1);
    if (!d)
        return;
    memcpy(d, fr->data, n);
    hu_rawframe *e = &r->f[(r->head + r->len) % HU_RAW_FRAMES];
    *e = (hu_rawframe){ fr->ts_us, fr->num, n, fr->wirelen, d };
    r->len++;
    r->bytes += n;
    if (fr->ts_us > w->newest_us)
        w->newest_us = fr->ts_us;
}

void hu_wcap_write(hu_wcap *w, hu_wcap_ring *r, int dlt, const hu_wcap_note *note)
{
    if (w->failed || !r || !w->source)
        return;
    long iface = iface_for(w, dlt, r->len > 0);
    if (iface < 0 && r->len) {
        left_out(w);
        return;
    }
    size_t first = w->nheld;   /* this hand-over's frames are held from here */
    uint64_t before = r->handed_upto;
    bool commented = false;
    for (unsigned i = 0; i < r->len; i++) {
        hu_rawframe *e = &r->f[(r->head + i) % HU_RAW_FRAMES];
        wc_held *h = hold(w, e, (uint32_t)iface);
        free(e->data);   /* NULL once held */
        if (h && note && named(note, h->num)) {
            comment(w, h, note->text);
            commented = true;
        }
        if (e->num > r->handed_upto)
            r->handed_upto = e->num;
    }
    r->head = r->len = 0;
    r->bytes = 0;
    if (!note)
        return;
    commented |= comment_earlier(w, iface, before, note, first);
    if (!commented && w->nheld > first)
        comment(w, &w->held[w->nheld - 1], note->text);
}

void hu_wcap_flush(hu_wcap *w)
{
    if (!w->nheld || w->failed)
        return;
    int64_t upto = w->newest_us == INT64_MIN ? INT64_MIN : w->newest_us - HU_WCAP_LIVE_SLACK_US;
    for (const hu_wcap_ring *r = w->rings; r; r = r->next)
        if (r->len && r->f[r->head].ts_us <= upto)
            upto = r->f[r->head].ts_us - 1;
    write_held(w, upto);
    if (!w->failed && fflush(w->fp) != 0)
        fail(w, strerror(errno));
}
