/*
 * test_capture.c -- the file reader: its second thread and batches must
 * be invisible.  Every frame reaches the frame callback once, in file
 * order, byte for byte as libpcap itself returns it; the ahead callback
 * sees each frame once, in the same order, before the frame callback and
 * never more than HU_AHEAD_FRAMES frames early; what prep computed on the
 * reader thread arrives with its frame; a truncated file delivers every
 * whole record before the cut and says where it stopped.
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangup/capture.h"
#include "hangup/packet.h"
#include "testutil.h"

/* What libpcap returns for the file, read directly. */
typedef struct ref {
    size_t n;
    uint32_t *caplen;
    uint8_t **data;
} ref;

static void ref_load(const char *path, ref *r)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    cr_assert_not_null(pc, "%s", err);
    memset(r, 0, sizeof *r);
    size_t cap = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        if (r->n == cap) {
            cap = cap ? cap * 2 : 256;
            r->caplen = realloc(r->caplen, cap * sizeof *r->caplen);
            r->data = realloc(r->data, cap * sizeof *r->data);
        }
        r->caplen[r->n] = h->caplen;
        r->data[r->n] = malloc(h->caplen ? h->caplen : 1);
        memcpy(r->data[r->n], d, h->caplen);
        r->n++;
    }
    pcap_close(pc);
}

static void ref_free(ref *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->data[i]);
    free(r->data);
    free(r->caplen);
}

typedef struct seen {
    const ref *ref;
    uint64_t frames, aheads;  /* calls so far */
    uint64_t last_num, last_ahead_num;
    uint64_t max_lead;
    uint64_t mismatches;      /* frames whose bytes or prep differ */
    uint64_t preps;           /* prep calls (reader thread) */
} seen;

/* A digest of the frame's bytes: prep computes it on the reader thread,
 * the frame callback checks it on the caller's. */
typedef struct digest {
    uint64_t num;
    uint64_t sum;
} digest;

static uint64_t sum_bytes(const uint8_t *p, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void on_prep(void *arg, int dlt, const hu_frame *fr, void *out)
{
    (void)dlt;
    uint64_t *preps = arg;
    (*preps)++;
    digest *d = out;
    d->num = fr->num;
    d->sum = sum_bytes(fr->data, fr->caplen);
}

static void on_ahead(void *arg, int dlt, const hu_frame *fr)
{
    (void)dlt;
    seen *s = arg;
    s->aheads++;
    if (fr->num <= s->last_ahead_num)
        s->mismatches++;   /* out of order, or twice */
    s->last_ahead_num = fr->num;
    if (s->aheads - s->frames > s->max_lead)
        s->max_lead = s->aheads - s->frames;
}

static void on_frame(void *arg, int dlt, const hu_frame *fr)
{
    (void)dlt;
    seen *s = arg;
    s->frames++;
    if (fr->num != s->last_num + 1 || s->aheads < s->frames)
        s->mismatches++;   /* skipped, reordered, or not seen ahead first */
    s->last_num = fr->num;
    const ref *r = s->ref;
    if (fr->num == 0 || fr->num > r->n || fr->caplen != r->caplen[fr->num - 1] ||
        memcmp(fr->data, r->data[fr->num - 1], fr->caplen) != 0)
        s->mismatches++;
    const digest *d = fr->prep;
    if (!d || d->num != fr->num || d->sum != sum_bytes(fr->data, fr->caplen))
        s->mismatches++;
}

static void read_and_check(const char *path, const ref *r, hu_capture_rc want_rc,
                           uint64_t want_frames, char *err, size_t errlen)
{
    seen s = { .ref = r };
    hu_capture_cbs cb = { .frame = on_frame, .ahead = on_ahead, .arg = &s, .prep = on_prep,
                          .prep_arg = &s.preps, .prep_size = sizeof(digest) };
    hu_capture_info info;
    hu_capture_rc rc = hu_capture_file(path, NULL, &cb, &info, err, errlen);
    cr_assert_eq(rc, want_rc, "rc %d: %s", rc, err);
    cr_assert_eq(s.frames, want_frames);
    cr_assert_eq(s.aheads, want_frames);
    cr_assert_eq(s.preps, want_frames);
    cr_assert_eq(s.mismatches, 0);
    cr_assert_leq(s.max_lead, HU_AHEAD_FRAMES);
    cr_assert_eq(info.frames, want_frames);
}

/* A file of many batches: 6000 frames of 60 to ~1500 bytes (~5 MB). */
static const char *write_big(void)
{
    const char *path = tu_tmp(".pcap");
    tu_pcap *w = tu_pcap_open(path, 1, 65535);
    uint8_t frame[1600];
    for (uint32_t i = 0; i < 6000; i++) {
        uint32_t len = 60 + (i * 7919u) % 1440;
        for (uint32_t j = 0; j < len; j++)
            frame[j] = (uint8_t)(i * 31 + j);
        tu_pcap_add(w, 1700000000000000LL + i * 100, frame, len, len);
    }
    tu_pcap_close(w);
    return path;
}

Test(capture, every_frame_once_in_order_as_libpcap_reads_it)
{
    char err[512] = "";
    ref r;
    const char *path = write_big();
    ref_load(path, &r);
    cr_assert_eq(r.n, 6000);
    read_and_check(path, &r, HU_CAP_OK, r.n, err, sizeof err);
    ref_free(&r);

    ref_load(tu_sample("crossed-client.pcap"), &r);
    cr_assert_gt(r.n, 0);
    read_and_check(tu_sample("crossed-client.pcap"), &r, HU_CAP_OK, r.n, err, sizeof err);
    ref_free(&r);
}

Test(capture, a_truncated_file_keeps_every_whole_record)
{
    char err[512] = "";
    ref r;
    const char *path = write_big();
    ref_load(path, &r);
    /* Cut inside the 4001st record: 24-byte file header, then records of
     * 16 + caplen bytes. */
    long off = 24;
    for (size_t i = 0; i < 4000; i++)
        off += 16 + (long)r.caplen[i];
    off += 16 + 10;
    cr_assert_eq(truncate(path, off), 0);
    read_and_check(path, &r, HU_CAP_PARTIAL, 4000, err, sizeof err);
    cr_assert(strstr(err, "packet 4001") != NULL, "%s", err);
    cr_assert(strstr(err, "the 4000 packets before it were analysed") != NULL, "%s", err);
    ref_free(&r);
}

/*
 * Classic pcap files are read by capture.c itself (read_direct), libpcap's
 * way; HANGUP_READER=libpcap makes libpcap read them.  The two must give
 * the same frames (number, time, lengths, bytes, the bad-timestamp mark),
 * the same result and message, and the same identity hash, on every
 * sample and on files built to hit each record read_direct hands back to
 * libpcap: cut short, longer than the snapshot, beyond libpcap's maximum,
 * a timestamp past 2038 or with too many microseconds (and one of
 * exactly the snapshot length, which it keeps); in both byte orders, with microsecond and
 * nanosecond timestamps, with and without a filter.
 */
typedef struct got_frame {
    uint64_t num;
    int64_t ts;
    uint32_t caplen, wirelen;
    uint64_t sum;
    bool bad;
} got_frame;

typedef struct got {
    size_t n, cap;
    got_frame *f;
} got;

static void on_got(void *arg, int dlt, const hu_frame *fr)
{
    (void)dlt;
    got *g = arg;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->f = realloc(g->f, g->cap * sizeof *g->f);
        cr_assert_not_null(g->f);
    }
    g->f[g->n++] = (got_frame){ .num = fr->num, .ts = fr->ts_us, .caplen = fr->caplen,
                                .wirelen = fr->wirelen, .sum = sum_bytes(fr->data, fr->caplen),
                                .bad = fr->bad != NULL };
}

/* Read path both ways and require the same; returns what was delivered
 * (the direct reader's) for further checks. */
static size_t same_both_ways(const char *path, const char *filter, hu_capture_rc *rc_out,
                             char *err_out, size_t errlen)
{
    got g[2] = { { 0 } };
    hu_capture_info info[2];
    char err[2][512] = { "", "" };
    hu_capture_rc rc[2];
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            setenv("HANGUP_READER", "libpcap", 1);
        hu_capture_cbs cb = { .frame = on_got, .arg = &g[i] };
        rc[i] = hu_capture_file(path, filter, &cb, &info[i], err[i], sizeof err[i]);
        unsetenv("HANGUP_READER");
    }
    cr_assert_eq(rc[0], rc[1], "%s: rc %d, libpcap's %d (%s | %s)", path, rc[0], rc[1], err[0],
                 err[1]);
    if (rc[0] != HU_CAP_OK)
        cr_assert_str_eq(err[0], err[1], "%s", path);
    cr_assert_eq(g[0].n, g[1].n, "%s: %zu frames, libpcap %zu (%s)", path, g[0].n, g[1].n,
                 err[1]);
    for (size_t k = 0; k < g[0].n; k++) {
        const got_frame *x = &g[0].f[k], *y = &g[1].f[k];
        cr_assert_eq(x->num, y->num, "%s: frame %zu", path, k);
        cr_assert_eq(x->ts, y->ts, "%s: frame %zu", path, k);
        cr_assert_eq(x->caplen, y->caplen, "%s: frame %zu", path, k);
        cr_assert_eq(x->wirelen, y->wirelen, "%s: frame %zu", path, k);
        cr_assert_eq(x->sum, y->sum, "%s: frame %zu", path, k);
        cr_assert_eq(x->bad, y->bad, "%s: frame %zu", path, k);
    }
    cr_assert_eq(info[0].frames, info[1].frames, "%s", path);
    cr_assert_eq(info[0].first_us, info[1].first_us, "%s", path);
    cr_assert_eq(info[0].last_us, info[1].last_us, "%s", path);
    cr_assert_str_eq(info[0].hash, info[1].hash, "%s", path);
    size_t n = g[0].n;
    if (rc_out)
        *rc_out = rc[0];
    if (err_out)
        snprintf(err_out, errlen, "%s", err[0]);
    free(g[0].f);
    free(g[1].f);
    return n;
}

Test(capture, every_sample_reads_the_same_without_libpcap_reading_it)
{
    size_t files;
    char **names = tu_sample_captures(&files);
    for (size_t i = 0; i < files; i++) {
        cr_assert_gt(same_both_ways(tu_sample(names[i]), NULL, NULL, NULL, 0), 0, "%s",
                     names[i]);
        same_both_ways(tu_sample(names[i]), "tcp[13] & 4 != 0 or port 80", NULL, NULL, 0);
    }
    tu_names_free(names, files);
    cr_assert_gt(files, 10);
}

/* A classic pcap file written field by field: byte order and timestamp
 * unit chosen, records given raw. */
typedef struct rawpcap {
    FILE *f;
    bool swap;
} rawpcap;

static void raw32(rawpcap *w, uint32_t v)
{
    if (w->swap)
        v = __builtin_bswap32(v);
    fwrite(&v, 4, 1, w->f);
}

static rawpcap raw_open(const char *path, bool swap, bool nsec, uint32_t snaplen)
{
    rawpcap w = { fopen(path, "wb"), swap };
    cr_assert_not_null(w.f);
    raw32(&w, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
    uint16_t ver[2] = { 2, 4 };
    if (swap)
        for (int i = 0; i < 2; i++)
            ver[i] = __builtin_bswap16(ver[i]);
    fwrite(ver, 2, 2, w.f);
    raw32(&w, 0);
    raw32(&w, 0);
    raw32(&w, snaplen);
    raw32(&w, 1);   /* Ethernet */
    return w;
}

/* A record: header fields as given, then caplen bytes of a TCP frame
 * (zero-padded beyond the frame, cut short when caplen is). */
static void raw_rec(rawpcap *w, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
                    uint32_t write_bytes)
{
    raw32(w, sec);
    raw32(w, frac);
    raw32(w, caplen);
    raw32(w, len);
    uint8_t frame[64] = { 0 };
    size_t fl = tu_ip4_tcp(frame + 14, "10.0.0.1", 40000 + (sec % 1000), "10.0.0.2", 80,
                           HU_TH_ACK, sec, frac, NULL, 0, NULL, 0);
    frame[12] = 0x08;
    fl += 14;
    for (uint32_t i = 0; i < write_bytes; i++)
        fputc(i < fl ? frame[i] : (int)(i & 0xff), w->f);
}

Test(capture, records_libpcap_must_judge_are_handed_to_it)
{
    for (int v = 0; v < 4; v++) {
        bool swap = v & 1, nsec = v & 2;
        uint32_t frac = nsec ? 123456789u : 123456u;
        /* Every kind of record read_direct gives back, each after whole
         * ones and (but for the last kinds) followed by more. */
        for (int kind = 0; kind < 8; kind++) {
            const char *path = tu_tmp(".pcap");
            rawpcap w = raw_open(path, swap, nsec, 1000);
            for (uint32_t i = 0; i < 700; i++)   /* ~60 KB: more than a small batch */
                raw_rec(&w, 1700000000u + i, frac, 60, 60, 60);
            switch (kind) {
            case 0: raw_rec(&w, 0x80000001u, frac, 60, 60, 60); break;    /* past 2038 */
            case 1: raw_rec(&w, 1700000800u, nsec ? 1000000000u : 1000000u, 60, 60, 60); break;
            case 2: raw_rec(&w, 1700000800u, frac, 1400, 1500, 1400); break;   /* > snaplen */
            case 3: raw_rec(&w, 1700000800u, frac, 300000, 300000, 64); break; /* > maximum */
            case 4: raw_rec(&w, 1700000800u, frac, 1000, 1500, 1000); break;  /* = snaplen */
            case 5: raw_rec(&w, 1700000800u, frac, 60, 60, 30); break;        /* cut in data */
            case 6: raw32(&w, 1700000800u); raw32(&w, frac); break;           /* cut in header */
            case 7: break;
            }
            if (kind < 5)
                for (uint32_t i = 0; i < 300; i++)
                    raw_rec(&w, 1700001000u + i, frac, 60, 60, 60);
            fclose(w.f);
            hu_capture_rc rc;
            char err[512];
            size_t n = same_both_ways(path, NULL, &rc, err, sizeof err);
            cr_assert_geq(n, 700, "v%d kind %d: %zu frames (%s)", v, kind, n, err);
            bool broken = kind == 3 || kind == 5 || kind == 6;
            cr_assert_eq(rc, broken ? HU_CAP_PARTIAL : HU_CAP_OK, "v%d kind %d: %s", v, kind, err);
            same_both_ways(path, "port 80", NULL, NULL, 0);
            unlink(path);
        }
    }
}

Test(capture, a_file_of_many_batches_cut_anywhere_reads_the_same)
{
    const char *path = write_big();
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    /* Whole, then cut at offsets spread over the file (inside headers,
     * inside frames, at record boundaries by chance). */
    for (long cut = size; cut > 24; cut = cut * 7 / 11 - 5) {
        cr_assert_eq(truncate(path, cut), 0);
        same_both_ways(path, NULL, NULL, NULL, 0);
    }
    unlink(path);
}
