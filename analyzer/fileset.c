/*
 * fileset.c -- files read as one capture, and the table naming each packet
 * of such a capture by file and number in that file (fileset.h).
 *
 * The table is a growing array of (path, base) in the order the files were
 * added; a number is found by binary search over the bases, at output
 * time only (a few per incident), never per packet.
 */
#include "hangup/fileset.h"

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

/* One file of the plan. */
typedef struct plan_file {
    size_t idx;               /* into paths */
    bool ok;                  /* probed, with packets */
    hu_capture_probe pr;
    size_t set;               /* the set it ends up in */
} plan_file;

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

bool hu_fileset_plan_make(char *const *paths, size_t n, bool separate, hu_fileset_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan_file *pf = calloc(n ? n : 1, sizeof *pf);
    size_t *last = calloc(n ? n : 1, sizeof *last);   /* per set: its last file, in pf */
    if (!pf || !last) {
        free(pf);
        free(last);
        return false;
    }
    char err[256];
    for (size_t i = 0; i < n; i++) {
        pf[i].idx = i;
        pf[i].ok = !separate && n > 1 &&
                   hu_capture_probe_file(paths[i], true, &pf[i].pr, err, sizeof err) &&
                   pf[i].pr.frames > 0;
    }
    qsort(pf, n, sizeof *pf, by_first_packet);
    size_t nsets = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = SIZE_MAX;
        for (size_t s = 0; pf[i].ok && s < nsets; s++) {
            const plan_file *l = &pf[last[s]];
            if (l->ok && hu_fileset_continues(&l->pr, &pf[i].pr) &&
                (best == SIZE_MAX || l->pr.last_us > pf[last[best]].pr.last_us))
                best = s;
        }
        if (best == SIZE_MAX)
            best = nsets++;
        pf[i].set = best;
        last[best] = i;
    }
    bool ok = plan_emit(plan, pf, n, nsets);
    free(pf);
    free(last);
    if (!ok)
        hu_fileset_plan_free(plan);
    return ok;
}
