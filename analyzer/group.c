/*
 * group.c -- identical incidents counted together (group.h).
 *
 * A hash table of indexes into an array of groups kept in first-seen
 * order, so the report lists them as the incidents came.  The table is
 * open-addressed at most half full and grows by doubling; it is bounded
 * at HU_MAX_GROUPS groups, after which incidents are left ungrouped
 * rather than taking memory without limit on a hostile capture.
 */
#include "hangup/group.h"

#include <stdlib.h>
#include <string.h>

struct hu_groups {
    hu_group **list;          /* first-seen order */
    size_t n, cap;
    uint32_t *slots;          /* index + 1 into list; 0: empty */
    size_t nslots;            /* a power of two */
};

hu_groups *hu_groups_new(void)
{
    return calloc(1, sizeof(hu_groups));
}

void hu_groups_free(hu_groups *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->list[i]->first_file);
        free(g->list[i]);
    }
    free(g->list);
    free(g->slots);
    free(g);
}

int64_t hu_group_time(const hu_incident_rec *rec)
{
    if (rec->req.num)
        return rec->req.ts_us;
    if (rec->fin.num)
        return rec->fin.ts_us;
    if (rec->rst.num)
        return rec->rst.ts_us;
    return rec->ntimeline ? rec->timeline[0].ts_us : 0;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* The key of rec, filled into k (the count and times left zero). */
static void key_of(hu_group *k, const hu_incident_rec *rec)
{
    memset(k, 0, sizeof *k);
    k->kindid = rec->kindid;
    k->verdict = rec->kindid == HU_KIND_RACE ? rec->verdict : HU_VERDICT_CROSSED;
    k->ipver = rec->ipver;
    memcpy(k->srv_addr, rec->srv_addr, sizeof k->srv_addr);
    k->srv_port = rec->srv_port;
    k->http = rec->request.http;
    if (k->http) {
        memcpy(k->method, rec->request.method, sizeof k->method);
        k->method[sizeof k->method - 1] = '\0';
        k->target_len = rec->request.target_len < sizeof k->target ? rec->request.target_len
                                                                   : sizeof k->target;
        memcpy(k->target, rec->request.target, k->target_len);
    }
}

static uint64_t key_hash(const hu_group *k)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t small[4] = { (uint32_t)k->kindid, (uint32_t)k->verdict, k->ipver, k->srv_port };
    h = fnv(h, small, sizeof small);
    h = fnv(h, k->srv_addr, sizeof k->srv_addr);
    h = fnv(h, &k->http, 1);
    h = fnv(h, k->method, strlen(k->method));
    return fnv(h, k->target, k->target_len);
}

static bool key_equal(const hu_group *a, const hu_group *b)
{
    return a->kindid == b->kindid && a->verdict == b->verdict && a->ipver == b->ipver &&
           a->srv_port == b->srv_port && memcmp(a->srv_addr, b->srv_addr, 16) == 0 &&
           a->http == b->http && strcmp(a->method, b->method) == 0 &&
           a->target_len == b->target_len && memcmp(a->target, b->target, a->target_len) == 0;
}

/* Double the slot table (or make its first); false when out of memory. */
static bool grow_slots(hu_groups *g)
{
    size_t ns = g->nslots ? g->nslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < g->n; i++) {
        size_t j = key_hash(g->list[i]) & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(g->slots);
    g->slots = s;
    g->nslots = ns;
    return true;
}

/* A new group for key k, in list and in slot j; NULL when out of memory. */
static hu_group *insert(hu_groups *g, const hu_group *k, const hu_incident_rec *rec, size_t j)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        hu_group **nl = realloc(g->list, nc * sizeof *nl);
        if (!nl)
            return NULL;
        g->list = nl;
        g->cap = nc;
    }
    hu_group *grp = malloc(sizeof *grp);
    char *file = strdup(rec->file ? rec->file : "");
    if (!grp || !file) {
        free(grp);
        free(file);
        return NULL;
    }
    *grp = *k;
    grp->first_file = file;
    grp->first_number = rec->number;
    grp->first_us = grp->last_us = hu_group_time(rec);
    g->list[g->n++] = grp;
    g->slots[j] = (uint32_t)g->n;
    return grp;
}

hu_group *hu_groups_add(hu_groups *g, const hu_incident_rec *rec)
{
    if (2 * (g->n + 1) > g->nslots && !grow_slots(g))
        return NULL;
    hu_group k;
    key_of(&k, rec);
    size_t j = key_hash(&k) & (g->nslots - 1);
    hu_group *grp = NULL;
    for (; g->slots[j]; j = (j + 1) & (g->nslots - 1))
        if (key_equal(g->list[g->slots[j] - 1], &k)) {
            grp = g->list[g->slots[j] - 1];
            break;
        }
    if (!grp) {
        if (g->n >= HU_MAX_GROUPS || !(grp = insert(g, &k, rec, j)))
            return NULL;
    } else {
        int64_t t = hu_group_time(rec);
        if (t < grp->first_us)
            grp->first_us = t;
        if (t > grp->last_us)
            grp->last_us = t;
    }
    grp->count++;
    return grp;
}

hu_group *const *hu_groups_list(const hu_groups *g, size_t *n)
{
    *n = g->n;
    return g->list;
}
