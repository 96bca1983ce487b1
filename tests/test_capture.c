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
