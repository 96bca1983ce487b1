/*
 * fileset.c -- files read as one capture, and the table naming each packet
 * of such a capture by file and number in that file (fileset.h).
 *
 * The table is a growing array of (path, base) in the order the files were
 * added; a number is found by binary search over the bases, at output
 * time only (a few per incident), never per packet.
 */
#include "hangup/fileset.h"
#include "hangup/decode.h"
#include "hangup/packet.h"

#include <stdlib.h>
#include <string.h>

typedef struct fs_file {
    char *path;
    uint64_t base;
} fs_file;

struct hu_fileset {
    fs_file *f;
    size_t n, cap;
};

hu_fileset *hu_fileset_new(void) { return calloc(1, sizeof(hu_fileset)); }

void hu_fileset_clear(hu_fileset *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].path);
    fs->n = 0;
}

void hu_fileset_free(hu_fileset *fs)
{
    if (!fs)
        return;
    hu_fileset_clear(fs);
    free(fs->f);
    free(fs);
}

bool hu_fileset_add(hu_fileset *fs, const char *path, uint64_t base)
{
    if (fs->n == fs->cap) {
        size_t nc = fs->cap ? fs->cap * 2 : 4;
        fs_file *nf = realloc(fs->f, nc * sizeof *nf);
        if (!nf)
            return false;
        fs->f = nf;
        fs->cap = nc;
    }
    char *p = strdup(path);
    if (!p)
        return false;
    fs->f[fs->n++] = (fs_file){ p, base };
    return true;
}

size_t hu_fileset_count(const hu_fileset *fs) { return fs ? fs->n : 0; }
const char *hu_fileset_path(const hu_fileset *fs, size_t i) { return fs->f[i].path; }
uint64_t hu_fileset_base(const hu_fileset *fs, size_t i) { return fs->f[i].base; }

const char *hu_fileset_name(const hu_fileset *fs, uint64_t num, uint64_t *local)
{
    *local = num;
    if (!fs || fs->n == 0)
        return NULL;
    size_t lo = 0, hi = fs->n;   /* the last file whose base is below num */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (fs->f[mid].base < num)
            lo = mid;
        else
            hi = mid;
    }
    *local = num > fs->f[lo].base ? num - fs->f[lo].base : num;
    return fs->f[lo].path;
}

bool hu_fileset_continues(const hu_capture_probe *prev, const hu_capture_probe *next)
{
    return prev->frames && next->frames && prev->dlt == next->dlt &&
           prev->snaplen == next->snaplen && strcmp(prev->iface, next->iface) == 0 &&
           next->first_us >= prev->last_us;
}

/*
 * The evidence that a file continues another: a TCP connection of the
 * earlier file goes on in the later one.  A tail table keeps, per
 * direction of each conversation (a 64-bit hash of addresses and ports,
 * in a fixed table of HU_TAIL_SLOTS; a colliding newer one overwrites),
 * the sequence number that direction would send next.  A packet of the
 * later file continues that direction when its sequence number is within
 * HU_TAIL_WINDOW of it either way (a retransmission, a FIN after an idle
 * keep-alive, the next request).  Two unrelated captures never share a
 * conversation with sequence numbers this close by chance.
 */
#define HU_TAIL_SLOTS 65536u
#define HU_TAIL_WINDOW (1u << 20)
#define HU_OPEN_SETS 8            /* sets a file may continue at once (vantages) */

typedef struct tail_slot {
    uint64_t key;             /* 0: empty */
    uint32_t next;
} tail_slot;

/* One file of the plan. */
typedef struct plan_file {
    size_t idx;               /* into paths */
    bool ok;                  /* probed, with packets */
    hu_capture_probe pr;
    size_t set;               /* the set it ends up in */
} plan_file;

/* A set the next files may continue: its last file, and that file's tail. */
typedef struct open_set {
    size_t set;
    hu_capture_probe last;
    tail_slot *tail;
    bool matched;             /* the file being scanned continues it */
} open_set;

/* The scan of one file: its tail, and which open sets it continues. */
typedef struct scan {
    tail_slot *tail;
    open_set *open;
    size_t nopen;
    const hu_capture_probe *pr;   /* the file's (first packet known) */
} scan;

static uint64_t dir_key(const hu_pkt *p)
{
    size_t al = p->ipver == 4 ? 4 : 16;
    uint64_t h = 1469598103934665603ull ^ p->ipver;
    const uint8_t *parts[2] = { p->src, p->dst };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < al; i++)
            h = (h ^ parts[k][i]) * 1099511628211ull;
    h = (h ^ p->sport) * 1099511628211ull;
    h = (h ^ p->dport) * 1099511628211ull;
    return h ? h : 1;
}

static void scan_frame(void *arg, int dlt, const hu_frame *fr)
{
    scan *sc = arg;
    hu_pkt p;
    const char *why;
    memset(&p, 0, sizeof p);
    if (hu_decode_wire(dlt, fr->data, fr->caplen, fr->wirelen, &p, &why) != HU_DEC_TCP)
        return;
    uint64_t key = dir_key(&p);
    size_t slot = (size_t)(key & (HU_TAIL_SLOTS - 1));
    bool syn = p.flags & HU_TH_SYN, fin = p.flags & HU_TH_FIN;
    if (!(syn && !(p.flags & HU_TH_ACK))) {   /* a new connection's SYN continues nothing */
        for (size_t i = 0; i < sc->nopen; i++) {
            const tail_slot *t = &sc->open[i].tail[slot];
            if (!sc->open[i].matched && t->key == key &&
                (uint32_t)(p.seq - t->next + HU_TAIL_WINDOW) <= 2 * HU_TAIL_WINDOW)
                sc->open[i].matched = true;
        }
    }
    sc->tail[slot] = (tail_slot){ key, p.seq + p.paylen + syn + fin };
}
static int by_first_packet(const void *a, const void *b)
{
    const plan_file *x = a, *y = b;
    if (x->ok != y->ok)
        return x->ok ? -1 : 1;
    if (x->ok && x->pr.first_us != y->pr.first_us)
        return x->pr.first_us < y->pr.first_us ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void hu_fileset_plan_free(hu_fileset_plan *plan)
{
    for (size_t k = 0; k < plan->nsets; k++)
        free(plan->sets[k]);
    free(plan->sets);
    free(plan->set_len);
    memset(plan, 0, sizeof *plan);
}

/* Sets in the order of their earliest file on the command line: each set
 * is found by its first-listed member, taken in command-line order. */
static bool plan_emit(hu_fileset_plan *plan, const plan_file *pf, size_t n, size_t nsets)
{
    plan->sets = calloc(nsets, sizeof *plan->sets);
    plan->set_len = calloc(nsets, sizeof *plan->set_len);
    size_t *order = calloc(nsets, sizeof *order), *pos_of = calloc(n, sizeof *pos_of);
    bool *seen = calloc(nsets, sizeof *seen);
    bool ok = plan->sets && plan->set_len && order && seen && pos_of;
    size_t k = 0;
    for (size_t i = 0; ok && i < n; i++)   /* pos_of[idx]: its place in pf */
        pos_of[pf[i].idx] = i;
    for (size_t idx = 0; ok && idx < n; idx++) {
        size_t s = pf[pos_of[idx]].set;
        if (!seen[s]) {
            seen[s] = true;
            order[s] = k++;
        }
    }
    for (size_t i = 0; ok && i < n; i++) {   /* pf is in time order within a set */
        size_t o = order[pf[i].set];
        if (!plan->sets[o] && !(plan->sets[o] = calloc(n, sizeof **plan->sets)))
            ok = false;
        else
            plan->sets[o][plan->set_len[o]++] = pf[i].idx;
    }
    plan->nsets = nsets;
    free(order);
    free(pos_of);
    free(seen);
    return ok;
}

/* Scan file f whole (its last packet, its tail) and find the set it
 * continues among the open ones, by the rule of hu_fileset_plan_make.
 * *tail_out receives its tail (ownership passes).  SIZE_MAX: none. */
static size_t plan_continue(const char *path, plan_file *f, open_set *open, size_t nopen,
                            hu_fileset_mode mode, tail_slot **tail_out)
{
    char err[256];
    scan sc = { calloc(HU_TAIL_SLOTS, sizeof(tail_slot)), open, 0, &f->pr };
    *tail_out = sc.tail;
    if (!sc.tail)
        return SIZE_MAX;
    /* Candidates first (open[0, nopen) reordered: those f may continue). */
    for (size_t i = 0; i < nopen; i++) {
        open[i].matched = false;
        if (hu_fileset_continues(&open[i].last, &f->pr)) {
            open_set t = open[sc.nopen];
            open[sc.nopen] = open[i];
            open[i] = t;
            sc.nopen++;
        }
    }
    hu_capture_probe whole;
    if (!hu_capture_probe_file(path, true, scan_frame, &sc, &whole, err, sizeof err))
        return SIZE_MAX;
    f->pr.last_us = whole.last_us;
    f->pr.frames = whole.frames;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < sc.nopen; i++)
        if ((open[i].matched || mode == HU_FILESET_JOIN) &&
            (best == SIZE_MAX || open[i].last.last_us > open[best].last.last_us))
            best = i;
    return best;
}

bool hu_fileset_plan_make(char *const *paths, size_t n, hu_fileset_mode mode,
                          hu_fileset_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan_file *pf = calloc(n ? n : 1, sizeof *pf);
    open_set open[HU_OPEN_SETS];
    size_t nopen = 0, nsets = 0;
    if (!pf)
        return false;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        pf[i].idx = i;
        pf[i].ok = mode != HU_FILESET_SEPARATE && n > 1 &&
                   hu_capture_probe_file(paths[i], false, NULL, NULL, &pf[i].pr, err,
                                         sizeof err) &&
                   pf[i].pr.frames > 0;
    }
    qsort(pf, n, sizeof *pf, by_first_packet);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        tail_slot *tail = NULL;
        size_t best = pf[i].ok ? plan_continue(paths[pf[i].idx], &pf[i], open, nopen, mode,
                                               &tail)
                               : SIZE_MAX;
        if (pf[i].ok && !tail)
            ok = false;
        if (best != SIZE_MAX) {   /* it continues that set, and is its last file now */
            pf[i].set = open[best].set;
            free(open[best].tail);
            open[best].tail = tail;
            open[best].last = pf[i].pr;
            continue;
        }
        pf[i].set = nsets++;
        if (!tail)
            continue;
        if (nopen == HU_OPEN_SETS) {   /* the set that ended earliest closes */
            size_t old = 0;
            for (size_t k = 1; k < nopen; k++)
                if (open[k].last.last_us < open[old].last.last_us)
                    old = k;
            free(open[old].tail);
            open[old] = open[--nopen];
        }
        open[nopen++] = (open_set){ pf[i].set, pf[i].pr, tail, false };
    }
    for (size_t k = 0; k < nopen; k++)
        free(open[k].tail);
    ok = ok && plan_emit(plan, pf, n, nsets);
    free(pf);
    if (!ok)
        hu_fileset_plan_free(plan);
    return ok;
}
