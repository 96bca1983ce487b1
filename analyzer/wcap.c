/*
 * wcap.c -- the -w writer and the per-connection frame rings (wcap.h).
 * libpcap writes the file (pcap_dump on a dead handle of the capture's
 * link type), so its format is exactly what tcpdump -w writes.  The file
 * itself is created first, as tcpdump does, so a path that cannot be
 * written fails before anything is read.
 */
#include "hangup/wcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#define HU_RAW_FRAMES 32            /* frames kept per connection */
#define HU_RAW_BYTES (256 * 1024)   /* bytes kept per connection */
#define HU_RAW_SNAP 65535           /* a kept frame is cut to this */

typedef struct hu_rawframe {
    int64_t ts_us;
    uint32_t caplen, wirelen;
    uint8_t *data;
} hu_rawframe;

struct hu_wcap_ring {
    hu_rawframe f[HU_RAW_FRAMES];
    unsigned head, len;
    size_t bytes;
};

struct hu_wcap {
    const char *path;
    FILE *err;
    const char *progname;
    FILE *fp;                 /* created at once; libpcap's once a header is written */
    pcap_t *dead;
    pcap_dumper_t *dump;
    int dlt;                  /* the file's link type, once open */
    int seen_dlt;             /* the first capture's link type, or -1 */
    bool failed;              /* reported; nothing more is written */
};

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
    w->seen_dlt = -1;
    return w;
}

void hu_wcap_note_dlt(hu_wcap *w, int dlt)
{
    if (w->seen_dlt < 0 && dlt >= 0)
        w->seen_dlt = dlt;
}

bool hu_wcap_free(hu_wcap *w)
{
    if (!w)
        return true;
    bool ok = !w->failed;
    if (!w->dump && !w->failed) {
        /* No incident: an empty capture, as tcpdump leaves one, of the
         * first capture's link type (Ethernet if none was read). */
        ok = hu_wcap_open(w, w->seen_dlt >= 0 ? w->seen_dlt : DLT_EN10MB);
    }
    if (w->dump) {
        if (pcap_dump_flush(w->dump) != 0 || ferror(pcap_dump_file(w->dump))) {
            fprintf(w->err, "%s: -w %s: %s\n", w->progname, w->path, strerror(errno));
            ok = false;
        }
        pcap_dump_close(w->dump);   /* closes fp */
    } else if (w->fp) {
        fclose(w->fp);
    }
    if (w->dead)
        pcap_close(w->dead);
    free(w);
    return ok;
}

bool hu_wcap_open(hu_wcap *w, int dlt)
{
    if (w->dump)
        return true;
    if (w->failed)
        return false;
    w->dead = pcap_open_dead(dlt, 262144);
    w->dump = w->dead ? pcap_dump_fopen(w->dead, w->fp) : NULL;
    w->dlt = dlt;
    if (!w->dump) {
        fprintf(w->err, "%s: -w %s: %s\n", w->progname, w->path,
                w->dead ? pcap_geterr(w->dead) : "out of memory");
        w->failed = true;
    } else {
        w->fp = NULL;   /* libpcap's now */
    }
    return !w->failed;
}

void hu_wcap_ring_free(hu_wcap_ring *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->len; i++)
        free(r->f[(r->head + i) % HU_RAW_FRAMES].data);
    free(r);
}

void hu_wcap_keep(hu_wcap_ring **ring, const hu_frame *fr)
{
    if (!*ring && !(*ring = calloc(1, sizeof **ring)))
        return;
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
    *e = (hu_rawframe){ fr->ts_us, n, fr->wirelen, d };
    r->len++;
    r->bytes += n;
}

void hu_wcap_write(hu_wcap *w, const hu_wcap_ring *r, int dlt, const char *source)
{
    if (w->failed || !r || !hu_wcap_open(w, dlt))
        return;
    if (dlt != w->dlt) {
        fprintf(w->err, "%s: -w %s: %s has another link type than the first capture; its "
                        "incidents are not written\n", w->progname, w->path, source);
        w->failed = true;
        return;
    }
    for (unsigned i = 0; i < r->len; i++) {
        const hu_rawframe *e = &r->f[(r->head + i) % HU_RAW_FRAMES];
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(e->ts_us / 1000000);
        h.ts.tv_usec = (suseconds_t)(e->ts_us % 1000000);
        h.caplen = e->caplen;
        h.len = e->wirelen;
        pcap_dump((u_char *)w->dump, &h, e->data);
    }
    pcap_dump_flush(w->dump);
}
