/*
 * capture.c -- frames from capture files, through libpcap.
 *
 * libpcap opens pcap and pcapng alike and compiles BPF; this file adds the
 * checks and messages a user needs when a file is bad: the link type is
 * checked against what decode.c understands before anything is read, a
 * read error names the packet number it happened at (everything before it
 * has already been analysed), and a filter error quotes the expression.
 * It also takes the reading off the analysis thread, and reads the
 * records of classic pcap files itself, libpcap's way but without its
 * copies (see "Reading runs on its own thread" below).
 */
#include "hangup/capture.h"
#include "hangup/decode.h"
#include "hangup/zfile.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>


void hu_capture_dlt_name(int dlt, char *buf, size_t n)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    if (name && desc)
        snprintf(buf, n, "%s (%s)", name, desc);
    else if (name)
        snprintf(buf, n, "%s", name);
    else
        snprintf(buf, n, "DLT %d", dlt);
}

const char *hu_capture_lib_version(void)
{
    return pcap_lib_version();
}

#define HU_MAX_EPOCH_S 253402300800LL   /* year 10000: beyond, a timestamp is garbage */

/*
 * Reading runs on its own thread: parsing records and the kernel's copies
 * of the file (about as long as everything else together on a busy
 * capture) overlap with the analysis on the caller's thread.  The reader
 * fills a few fixed batches, each a buffer of frame bytes and an array of
 * records, one per frame:
 *
 *     recs: [batch_rec][prep area] [batch_rec][prep area] ...
 *     buf:  frame bytes the records point into
 *
 * fills each record's prep area by calling the caller's prep hook (work
 * that depends on the frame alone), and hands full batches over through a
 * mutex and condition variable (one handoff per batch, never per frame).
 * The caller's thread calls fn for every frame in file order, exactly as a
 * single-threaded loop would, and ahead a few frames earlier; neither runs
 * on the reader thread, so nothing they touch needs a lock.  A file of
 * less than two batches is read on the caller's thread by the same loop.
 *
 * Where the bytes come from: libpcap opens every file, checks its header
 * and reads pcapng and anything unusual, each frame copied from its
 * buffer into the batch.  A classic pcap file (the format tcpdump writes,
 * and most big captures) is read by read_direct instead: large reads
 * straight into the batch buffer, the records parsed where they lie, one
 * copy of each byte instead of three (kernel to stdio, stdio to libpcap,
 * libpcap to the batch) and no call per frame.  It takes only records
 * that libpcap would return unchanged; at the first one that is not --
 * cut short by the end of the file, longer than the snapshot length, a
 * timestamp libpcap might read otherwise -- it hands the rest of the
 * file to libpcap from that record on, so every error reads as libpcap
 * words it.  HANGUP_READER=libpcap in the environment turns it off (the
 * test suite compares the two on every sample and on broken files).
 */
#define HU_BATCHES 4
#define HU_BATCH_BYTES (1u << 19)
/* A batch holds records for frames of this many bytes on average: one
 * of larger frames is full when its buffer is, one of ACKs when its
 * records are (2048 of them, still one handoff per 2048 frames).  The
 * records, with their prep areas, are most of the reader's memory. */
#define HU_BATCH_FRAME 512

typedef struct batch_rec {
    uint64_t num;
    int64_t ts_us;
    const uint8_t *data;      /* caplen bytes, in the batch's buf */
    uint32_t caplen, wirelen;
    uint32_t bad;             /* 1: timestamp out of range */
    uint32_t pad;
} batch_rec;

typedef struct batch {
    uint8_t *buf;             /* frame bytes */
    size_t cap, len;          /* len: bytes of buf the records use */
    uint8_t *recs;            /* n records of rec_size bytes each */
    size_t n, rec_cap;
    uint64_t bytes;           /* file offset once the batch was full */
} batch;

typedef struct reader {
    /* Set up by the caller, then owned by the reader thread until it ends. */
    pcap_t *pc;
    int dlt;
    bool filtering;
    struct bpf_program prog;
    XXH3_state_t *ch;         /* the capture's identity (hash_frame) */
    hu_capture_info *info;
    FILE *fp;
    hu_zfile *z;              /* fp's decoder when the file is compressed, else NULL */
    bool want_bytes;          /* progress wanted: note offsets */
    uint64_t num;
    uint64_t pos;             /* file offset read to, when known */
    hu_capture_rc rc;
    char err[PCAP_ERRBUF_SIZE + 128];

    /* read_direct's view of a classic pcap file (direct false: libpcap
     * reads it all). */
    bool direct, swapped;
    bool direct_done;         /* read_direct read to the end: pos is where it stopped */
    uint32_t frac_max, frac_div;   /* per-second fraction: bound, and divisor to
                                      microseconds */
    uint32_t snapshot;

    /* The caller's callbacks (frame, ahead and progress run on its
     * thread, prep on the reader). */
    hu_capture_cbs cb;
    uint64_t total;           /* file size, when progress is wanted */
    size_t prep_size;         /* cb.prep_size rounded up to 8, or 0 */
    size_t rec_size;          /* sizeof(batch_rec) + prep_size */

    /* The queue: batches [head, head + nfull) are full, in order. */
    bool threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch b[HU_BATCHES];
    unsigned head, nfull;
    bool done;                /* the reader has published its last batch */
    bool waiting[2];          /* the reader (0) / consumer (1) sleeps on cv:
                                 the other side wakes it only then */
} reader;

/* Record i of batch b. */
static inline batch_rec *batch_rec_at(const reader *r, const batch *b, size_t i)
{
    return (batch_rec *)(void *)(b->recs + i * r->rec_size);
}

/* The frame of record i. */
static hu_frame batch_frame(const reader *r, const batch *b, size_t i)
{
    static const char *const why[] = { NULL, "timestamp out of range" };
    const batch_rec *h = batch_rec_at(r, b, i);
    return (hu_frame){
        .num = h->num,
        .ts_us = h->ts_us,
        .caplen = h->caplen,
        .wirelen = h->wirelen,
        .data = h->data,
        .bad = why[h->bad],
        .prep = r->cb.prep ? (const void *)(h + 1) : NULL,
    };
}

/* Call fn for every frame of a full batch (caller's thread), and ahead
 * HU_AHEAD_FRAMES frames earlier: the whole batch is in memory, so the
 * consumer can start fetching what a frame will touch while it works on
 * the frames before it.  The records themselves (written by the reader,
 * on another core) are prefetched further ahead still. */
static void batch_deliver(reader *r, const batch *b)
{
    enum { PREFETCH_RECORDS = 2 * HU_AHEAD_FRAMES };
    size_t ahead = 0;   /* records given to ahead so far */
    for (size_t i = 0; i < b->n; i++) {
        while (r->cb.ahead && ahead < b->n && ahead < i + HU_AHEAD_FRAMES) {
            if (ahead + PREFETCH_RECORDS < b->n) {
                const uint8_t *q = (const uint8_t *)batch_rec_at(r, b, ahead + PREFETCH_RECORDS);
                for (size_t o = 0; o < r->rec_size; o += 64)
                    __builtin_prefetch(q + o, 0, 3);
            }
            hu_frame fa = batch_frame(r, b, ahead++);
            r->cb.ahead(r->cb.arg, r->dlt, &fa);
        }
        hu_frame fr = batch_frame(r, b, i);
        if (r->total && ((fr.num - r->cb.num_base) % HU_PROGRESS_FRAMES) == 0)
            r->cb.progress->fn(r->cb.progress->arg, b->bytes, r->total, fr.num - r->cb.num_base);
        r->cb.frame(r->cb.arg, r->dlt, &fr);
    }
}

/* Reader side: the batch to fill next, once the consumer has freed it. */
static batch *batch_acquire(reader *r)
{
    if (!r->threaded)
        return &r->b[0];
    pthread_mutex_lock(&r->mu);
    if (r->nfull == HU_BATCHES) {
        r->waiting[0] = true;
        while (r->nfull > 1)   /* see consume_all */
            pthread_cond_wait(&r->cv, &r->mu);
    }
    r->waiting[0] = false;
    batch *b = &r->b[(r->head + r->nfull) % HU_BATCHES];
    pthread_mutex_unlock(&r->mu);
    b->len = b->n = 0;
    return b;
}

/* Reader side: hand a filled batch over (or deliver it at once when not
 * threaded); last marks the end of the file.  Its bytes stay readable by
 * the reader until it acquires the batch again. */
static void batch_publish(reader *r, batch *b, bool last)
{
    b->bytes = r->pos;
    if (!r->threaded) {
        batch_deliver(r, b);
        b->len = b->n = 0;
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->nfull++;
    r->done = last;
    if (r->waiting[1])
        pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The capture's identity takes in frame h, read from the file -- before
 * the filter, so the same packets are the same capture whatever filter
 * they are analysed under (re-analysing them replaces their rows rather
 * than counting their incidents twice).  Every byte of every frame, its
 * time and lengths go in, after the link type: two captures that differ
 * anywhere are two captures.  XXH3's 128-bit hash (xxhash) costs about a
 * tenth of a cycle per byte, on the reader thread: identity, not a
 * defence against someone forging a collision. */
static void hash_frame(reader *r, const struct pcap_pkthdr *h, const uint8_t *data)
{
    uint64_t meta[2] = { (uint64_t)h->ts.tv_sec, (uint64_t)h->ts.tv_usec |
                         (uint64_t)h->caplen << 20 | (uint64_t)h->len << 40 };
    XXH3_128bits_update(r->ch, meta, sizeof meta);
    XXH3_128bits_update(r->ch, data, h->caplen);
}

/* Reader side: frame h (its bytes at data, inside b->buf) becomes b's next
 * record; b has room for it.  False once the frame limit is reached: the
 * caller stops reading (that frame is taken). */
static bool take_frame(reader *r, batch *b, const struct pcap_pkthdr *h, const uint8_t *data)
{
    hu_capture_info *info = r->info;
    /* pcapng timestamps are 64-bit: a hostile one can overflow
     * microseconds since the epoch.  Such a frame is unusable. */
    bool ts_ok = h->ts.tv_sec >= 0 && h->ts.tv_sec < HU_MAX_EPOCH_S && h->ts.tv_usec >= 0 &&
                 h->ts.tv_usec < 1000000;
    int64_t ts_us = ts_ok ? (int64_t)h->ts.tv_sec * 1000000 + (int64_t)h->ts.tv_usec : 0;
    if (ts_ok) {
        if (info->frames++ == 0)
            info->first_us = ts_us;
        info->last_us = ts_us;
    }
    batch_rec *rec = batch_rec_at(r, b, b->n++);
    *rec = (batch_rec){ .num = r->num + r->cb.num_base, .ts_us = ts_us, .data = data, .caplen = h->caplen,
                        .wirelen = h->len, .bad = ts_ok ? 0 : 1 };
    if (r->cb.prep) {
        hu_frame fr = batch_frame(r, b, b->n - 1);
        r->cb.prep(r->cb.prep_arg, r->dlt, &fr, rec + 1);
    }
    if (++info->taken == r->cb.limit) {
        info->limited = true;
        return false;
    }
    return true;
}

/* Note how far into the file reading has got (compressed bytes for a
 * compressed file), for the progress line. */
static void note_pos(reader *r)
{
    if (r->z)
        r->pos = hu_zfile_consumed(r->z);
    else if (r->fp)
        r->pos = (uint64_t)ftello(r->fp);
}

/* The libpcap loop: every record from the file's current position into
 * batches (*curp the one being filled), each frame's bytes copied from
 * libpcap's buffer.  Sets r->rc and r->err when it stops early. */
static void read_libpcap(reader *r, batch **curp)
{
    batch *cur = *curp;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(r->pc, &h, &data);
        if (rc == PCAP_ERROR_BREAK)
            break;   /* end of file */
        if (rc < 0) {
            snprintf(r->err, sizeof r->err,
                     "packet %llu: %s; the %llu packets before it were analysed",
                     (unsigned long long)r->num + 1,
                     r->z && hu_zfile_error(r->z) ? hu_zfile_error(r->z) : pcap_geterr(r->pc),
                     (unsigned long long)r->num);
            r->rc = HU_CAP_PARTIAL;
            break;
        }
        r->num++;
        if (rc == 0 || r->num <= r->cb.start_records)
            continue;   /* rc 0 cannot happen offline; the rest: read before */
        hash_frame(r, h, data);
        if (r->filtering && !pcap_offline_filter(&r->prog, h, data))
            continue;
        size_t need = ((size_t)h->caplen + 7) & ~(size_t)7;
        if (cur->len + need > cur->cap || cur->n == cur->rec_cap) {
            if (cur->n) {
                if (r->want_bytes)
                    note_pos(r);
                batch_publish(r, cur, false);
                cur = batch_acquire(r);
            }
            if (need > cur->cap) {   /* a frame larger than a batch: grow it (empty) */
                uint8_t *nb = realloc(cur->buf, need);
                if (!nb) {
                    snprintf(r->err, sizeof r->err,
                             "packet %llu: out of memory for a %u-byte frame; the %llu "
                             "packets before it were analysed",
                             (unsigned long long)r->num, h->caplen,
                             (unsigned long long)r->num - 1);
                    r->rc = HU_CAP_PARTIAL;
                    break;
                }
                cur->buf = nb;
                cur->cap = need;
            }
        }
        memcpy(cur->buf + cur->len, data, h->caplen);
        bool more = take_frame(r, cur, h, cur->buf + cur->len);
        cur->len += need;
        if (!more)
            break;
    }
    if (r->want_bytes)
        note_pos(r);
    if (r->z && hu_zfile_error(r->z) && r->rc == HU_CAP_OK) {
        /* The decoder ended the data early: libpcap saw an end of file,
         * perhaps inside a record, and the decoder knows why. */
        snprintf(r->err, sizeof r->err, "packet %llu: %s; the %llu packets before it were "
                 "analysed", (unsigned long long)r->num + 1, hu_zfile_error(r->z),
                 (unsigned long long)r->num);
        r->rc = HU_CAP_PARTIAL;
    }
    *curp = cur;
}

static inline uint32_t rd32(const uint8_t *p, bool swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

/* read_direct: the classic pcap records from offset 24 on, read straight
 * into batches.  Returns true at the end of the file (or at the frame
 * limit); false when the record at r->pos is for libpcap to read (see
 * above), *curp holding the records taken so far. */
static bool read_direct(reader *r, batch **curp)
{
    int fd = fileno(r->fp);
    batch *cur = *curp;
    size_t fill = cur->len;   /* buf[len, fill) holds the file from r->pos on */
    r->pos = r->cb.start_offset ? r->cb.start_offset : 24;
    for (;;) {
        while (fill - cur->len >= 16 && cur->n < cur->rec_cap) {
            const uint8_t *h = cur->buf + cur->len;
            uint32_t sec = rd32(h, r->swapped), frac = rd32(h + 4, r->swapped);
            uint32_t caplen = rd32(h + 8, r->swapped), len = rd32(h + 12, r->swapped);
            if (sec > INT32_MAX || frac >= r->frac_max || caplen > r->snapshot ||
                16 + (size_t)caplen > cur->cap)
                return false;   /* libpcap's to read, or to refuse */
            if (fill - cur->len - 16 < caplen)
                break;   /* not all here yet */
            r->num++;
            cur->len += 16 + (size_t)caplen;
            r->pos += 16 + (uint64_t)caplen;
            if (r->num <= r->cb.start_records)
                continue;   /* delivered by an earlier read of the file */
            struct pcap_pkthdr ph = { .ts = { .tv_sec = (time_t)sec,
                                              .tv_usec = (suseconds_t)(frac / r->frac_div) },
                                      .caplen = caplen,
                                      .len = len };
            hash_frame(r, &ph, h + 16);
            if (r->filtering && !pcap_offline_filter(&r->prog, &ph, h + 16))
                continue;
            if (!take_frame(r, cur, &ph, h + 16))
                return true;   /* the limit: as if the file ended here */
        }
        if (cur->n == cur->rec_cap || fill == cur->cap) {
            /* Full: the part-record at the end starts the next batch. */
            const uint8_t *tail = cur->buf + cur->len;
            size_t ntail = fill - cur->len;
            batch_publish(r, cur, false);
            cur = batch_acquire(r);
            *curp = cur;
            memmove(cur->buf, tail, ntail);   /* the same buffer when not threaded */
            fill = ntail;
        }
        ssize_t n = pread(fd, cur->buf + fill, cur->cap - fill,
                          (off_t)(r->pos + (fill - cur->len)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)   /* the end, or an error libpcap will name; a record
                         cut by the end of a growing file waits for the rest */
            return n == 0 && (fill == cur->len || r->cb.growing);
        fill += (size_t)n;
    }
}

/* The read loop: every record of the file into batches, in order.  Sets
 * r->rc and r->err when it stops early. */
static void read_all(reader *r)
{
    batch *cur = batch_acquire(r);
    bool done = r->direct && read_direct(r, &cur);
    r->direct_done = done;
    if (!done && r->direct && fseeko(r->fp, (off_t)r->pos, SEEK_SET) != 0) {
        snprintf(r->err, sizeof r->err,
                 "packet %llu: cannot seek to offset %llu: %s; the %llu packets before it "
                 "were analysed",
                 (unsigned long long)r->num + 1, (unsigned long long)r->pos, strerror(errno),
                 (unsigned long long)r->num);
        r->rc = HU_CAP_PARTIAL;
        done = true;
    }
    if (!done)
        read_libpcap(r, &cur);
    batch_publish(r, cur, true);
}

static void *reader_main(void *arg)
{
    pthread_setname_np(pthread_self(), "hangup-reader");   /* for top -H and perf */
    read_all(arg);
    return NULL;
}

/* Caller's thread: deliver batches as the reader fills them, until the
 * last one. */
static void consume_all(reader *r)
{
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->nfull == 0 && !r->done) {
            r->waiting[1] = true;
            pthread_cond_wait(&r->cv, &r->mu);
        }
        r->waiting[1] = false;
        if (r->nfull == 0) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
        batch *b = &r->b[r->head];
        pthread_mutex_unlock(&r->mu);
        batch_deliver(r, b);
        pthread_mutex_lock(&r->mu);
        r->head = (r->head + 1) % HU_BATCHES;
        r->nfull--;
        /* A reader that got ahead sleeps until all but one batch are
         * free again, then fills them in one go: a wake-up (a futex call
         * and another core's scheduler) every few batches, not each. */
        if (r->waiting[0] && r->nfull <= 1)
            pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Is the file behind pc a classic pcap file read_direct can take?  Sets
 * r->direct and what it needs to know; libpcap has already checked the
 * header (and read its 24 bytes). */
static void direct_setup(reader *r, pcap_t *pc, bool regular)
{
    const char *env = getenv("HANGUP_READER");
    uint8_t h[24];
    /* The header libpcap read must be the file's first 24 bytes (standard
     * input may be a file read from elsewhere). */
    if ((env && strcmp(env, "libpcap") == 0) || !regular || !r->fp || ftello(r->fp) != 24 ||
        pread(fileno(r->fp), h, sizeof h, 0) != (ssize_t)sizeof h)
        return;
    uint32_t magic;
    memcpy(&magic, h, 4);
    bool nsec;
    switch (magic) {
    case 0xa1b2c3d4u: nsec = false; r->swapped = false; break;
    case 0xa1b23c4du: nsec = true; r->swapped = false; break;
    case 0xd4c3b2a1u: nsec = false; r->swapped = true; break;
    case 0x4d3cb2a1u: nsec = true; r->swapped = true; break;
    default: return;   /* pcapng, or a variant libpcap knows */
    }
    int snap = pcap_snapshot(pc);
    if (pcap_major_version(pc) != 2 || pcap_minor_version(pc) != 4 ||
        (pcap_is_swapped(pc) != 0) != r->swapped || snap <= 0 ||
        pcap_get_tstamp_precision(pc) != PCAP_TSTAMP_PRECISION_MICRO)
        return;
    r->snapshot = (uint32_t)snap;
    r->frac_max = nsec ? 1000000000u : 1000000u;
    r->frac_div = nsec ? 1000u : 1u;
    r->direct = true;
}

/* Open path with libpcap, check its link type and compile the filter into
 * r; the handle, or NULL with *rc and err set. */
static pcap_t *open_source(reader *r, const char *path, const char *filter,
                           hu_capture_info *info, hu_capture_rc *rc, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    *rc = HU_CAP_FAILED;
    FILE *fp = hu_zfile_open(path, &r->z, err, errlen);
    if (!fp)
        return NULL;
    pcap_t *pc = pcap_fopen_offline(fp, ebuf);
    if (!pc) {
        /* The decoder's reason first: libpcap only saw the data end. */
        if (r->z && hu_zfile_error(r->z))
            snprintf(ebuf, sizeof ebuf, "%s", hu_zfile_error(r->z));
        if (fp != stdin)
            fclose(fp);   /* libpcap leaves a stream it could not take to us */
        r->z = NULL;
        /* libpcap names the file itself ("PATH: No such file ..."); the
         * caller names it already. */
        size_t pl = strlen(path);
        const char *why = ebuf;
        if (strncmp(ebuf, path, pl) == 0 && ebuf[pl] == ':' && ebuf[pl + 1] == ' ')
            why = ebuf + pl + 2;
        snprintf(err, errlen, "%s", why[0] ? why : strerror(errno));
        return NULL;
    }
    int dlt = pcap_datalink(pc);
    info->dlt = dlt;
    const char *lname = pcap_datalink_val_to_name(dlt);
    snprintf(info->link_name, sizeof info->link_name, "%s", lname ? lname : "unknown");
    if (!hu_decode_link_supported(dlt)) {
        char name[128];
        hu_capture_dlt_name(dlt, name, sizeof name);
        snprintf(err, errlen,
                 "link type %s is not supported (supported: Ethernet with VLAN tags, "
                 "LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6)",
                 name);
        pcap_close(pc);
        return NULL;
    }
    /* The filter runs here rather than in libpcap's reader so that packet
     * numbers stay positions in the file, as Wireshark shows them. */
    r->filtering = filter != NULL;
    if (r->filtering && pcap_compile(pc, &r->prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "bad filter expression '%s': %s", filter, pcap_geterr(pc));
        pcap_close(pc);
        *rc = HU_CAP_BADFILTER;
        return NULL;
    }
    r->dlt = dlt;
    return pc;
}

/* Allocate r's batches of bsz bytes each; how many could be had. */
static unsigned alloc_batches(reader *r, size_t bsz)
{
    unsigned nb = 0;
    for (; nb < HU_BATCHES; nb++) {
        batch *b = &r->b[nb];
        b->rec_cap = bsz / HU_BATCH_FRAME;
        b->buf = malloc(bsz);
        b->recs = malloc(b->rec_cap * r->rec_size);
        if (!b->buf || !b->recs) {
            free(b->buf);
            free(b->recs);
            b->buf = b->recs = NULL;
            break;
        }
        b->cap = bsz;
    }
    return nb;
}

/* Read the whole source: on a reader thread when every batch could be had
 * and the file is more than a few batches (a thread costs more than it
 * saves on a small one); otherwise, or if no thread can be made, the same
 * loop runs here, delivering each batch as it fills. */
static void run_reader(reader *r, bool threaded)
{
    pthread_t tid;
    if (threaded && pthread_mutex_init(&r->mu, NULL) == 0) {
        if (pthread_cond_init(&r->cv, NULL) == 0) {
            r->threaded = true;   /* before the thread reads it */
            if (pthread_create(&tid, NULL, reader_main, r) != 0) {
                r->threaded = false;
            } else {
                consume_all(r);
                pthread_join(tid, NULL);
            }
            pthread_cond_destroy(&r->cv);
        }
        pthread_mutex_destroy(&r->mu);
    }
    if (!r->threaded)
        read_all(r);
}

hu_capture_rc hu_capture_file(const char *path, const char *filter, const hu_capture_cbs *cb,
                              hu_capture_info *info, char *err, size_t errlen)
{
    const hu_progress *progress = cb->progress;
    hu_capture_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->dlt = -1;
    reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return HU_CAP_FAILED;
    }
    hu_capture_rc orc;
    pcap_t *pc = NULL;
    if (!(r->ch = XXH3_createState()) || XXH3_128bits_reset(r->ch) != XXH_OK) {
        snprintf(err, errlen, "out of memory");
        orc = HU_CAP_FAILED;
    } else {
        pc = open_source(r, path, filter, info, &orc, err, errlen);
    }
    if (!pc) {
        XXH3_freeState(r->ch);
        free(r);
        return orc;
    }
    uint64_t dlt = (uint64_t)(int64_t)r->dlt;
    XXH3_128bits_update(r->ch, &dlt, sizeof dlt);

    r->pc = pc;
    r->info = info;
    r->cb = *cb;
    r->prep_size = cb->prep ? (cb->prep_size + 7) & ~(size_t)7 : 0;
    r->fp = pcap_file(pc);
    struct stat st;
    /* A compressed file is read through its decoder only: no pread, no
     * sizes from its length, progress in compressed bytes. */
    bool sized = !r->z && r->fp && fstat(fileno(r->fp), &st) == 0 && S_ISREG(st.st_mode);
    if (progress && progress->fn && (sized || (r->z && hu_zfile_size(r->z)))) {
        r->total = r->z ? hu_zfile_size(r->z) : (uint64_t)st.st_size;
        r->want_bytes = true;
    }
    /* Small files get small batches (a fuzzer or a directory of short
     * captures should not pay for 2 MiB each); a frame larger than its
     * batch grows it. */
    size_t bsz = HU_BATCH_BYTES;
    bool part = cb->start_offset || cb->growing;   /* the file's size says little */
    if (sized && !part && (uint64_t)st.st_size < bsz / 2)
        bsz = (size_t)st.st_size * 2 < 16384 ? 16384 : (size_t)st.st_size * 2;
    r->rec_size = sizeof(batch_rec) + r->prep_size;
    unsigned nb = alloc_batches(r, bsz);
    if (nb == 0) {
        snprintf(err, errlen, "out of memory");
        if (r->filtering)
            pcap_freecode(&r->prog);
        pcap_close(pc);
        XXH3_freeState(r->ch);
        free(r);
        return HU_CAP_FAILED;
    }
    direct_setup(r, pc, sized);
    if (cb->start_offset) {
        if (!r->direct || cb->start_offset < 24) {
            snprintf(err, errlen, "cannot resume at offset %llu: not a plain classic pcap "
                     "file", (unsigned long long)cb->start_offset);
            r->rc = HU_CAP_FAILED;
            snprintf(r->err, sizeof r->err, "%s", err);
            nb = 0;   /* read nothing */
        }
        r->num = cb->start_records;
    }
    bool small = sized && (uint64_t)st.st_size < 2 * (uint64_t)bsz;
    if (nb)
        run_reader(r, nb == HU_BATCHES && !small);

    hu_capture_rc out = r->rc;
    info->records = r->num;
    info->next_offset = r->direct_done ? r->pos : 0;
    if (out != HU_CAP_OK)
        snprintf(err, errlen, "%s", r->err);
    XXH128_hash_t id = XXH3_128bits_digest(r->ch);
    snprintf(info->hash, sizeof info->hash, "%016llx%016llx", (unsigned long long)id.high64,
             (unsigned long long)id.low64);
    XXH3_freeState(r->ch);
    for (unsigned i = 0; i < HU_BATCHES; i++) {
        free(r->b[i].buf);
        free(r->b[i].recs);
    }
    if (r->filtering)
        pcap_freecode(&r->prog);
    pcap_close(pc);
    free(r);
    return out;
}

/* The first interface's name in a pcapng file's first n bytes (buf), into
 * out (size outn, "" when there is none): the SHB, then blocks up to the
 * first IDB, whose options hold if_name (code 2).  Every length is checked
 * against n; a block that does not fit ends the search. */
static void pcapng_iface(const uint8_t *buf, size_t n, char *out, size_t outn)
{
    out[0] = '\0';
    if (n < 28 || rd32(buf, false) != 0x0A0D0D0Au)
        return;
    uint32_t bom = rd32(buf + 8, false);
    bool sw = bom == 0x4D3C2B1Au;
    if (!sw && bom != 0x1A2B3C4Du)
        return;
    size_t off = 0;
    for (int blocks = 0; blocks < 16 && n - off >= 12; blocks++) {
        uint32_t type = rd32(buf + off, sw), len = rd32(buf + off + 4, sw);
        if (len < 12 || len % 4 || len > n - off)
            return;
        if (type == 1) {   /* IDB: type, length, link type, reserved, snaplen, options */
            size_t o = off + 16, end = off + len - 4;
            while (o + 4 <= end) {
                uint16_t code, olen;
                memcpy(&code, buf + o, 2);
                memcpy(&olen, buf + o + 2, 2);
                if (sw) {
                    code = __builtin_bswap16(code);
                    olen = __builtin_bswap16(olen);
                }
                if (code == 0 || o + 4 + olen > end)
                    return;
                if (code == 2) {
                    size_t k = olen < outn - 1 ? olen : outn - 1;
                    memcpy(out, buf + o + 4, k);
                    out[k] = '\0';
                    out[strnlen(out, k)] = '\0';
                    return;
                }
                o += 4 + (((size_t)olen + 3) & ~(size_t)3);
            }
            return;
        }
        off += len;
    }
}

bool hu_capture_probe_file(const char *path, bool to_end, hu_frame_fn each, void *arg,
                           hu_capture_probe *pr, char *err, size_t errlen)
{
    memset(pr, 0, sizeof *pr);
    pr->dlt = -1;
    if (strcmp(path, "-") == 0) {
        snprintf(err, errlen, "standard input cannot be read twice");
        return false;
    }
    hu_zfile *z;
    FILE *fp = hu_zfile_open(path, &z, err, errlen);
    if (!fp)
        return false;
    uint8_t head[65536];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    pcapng_iface(head, n, pr->iface, sizeof pr->iface);
    if (!(fp = hu_zfile_open(path, &z, err, errlen)))
        return false;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_fopen_offline(fp, ebuf);
    if (!pc) {
        fclose(fp);
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : "not a capture file");
        return false;
    }
    pr->dlt = pcap_datalink(pc);
    pr->snaplen = pcap_snapshot(pc);
    if (!hu_decode_link_supported(pr->dlt)) {
        snprintf(err, errlen, "link type not supported");
        pcap_close(pc);
        return false;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(pc, &h, &data) == 1) {
        if (h->ts.tv_sec < 0 || h->ts.tv_sec >= HU_MAX_EPOCH_S || h->ts.tv_usec < 0 ||
            h->ts.tv_usec >= 1000000)
            continue;   /* unusable, as take_frame judges it */
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + (int64_t)h->ts.tv_usec;
        if (pr->frames++ == 0)
            pr->first_us = ts;
        pr->last_us = ts;
        if (each) {
            hu_frame fr = { .num = pr->frames, .ts_us = ts, .caplen = h->caplen,
                            .wirelen = h->len, .data = data };
            each(arg, pr->dlt, &fr);
        }
        if (!to_end)
            break;
    }
    pcap_close(pc);
    return true;
}
