/*
 * pool.h -- a stack of freed blocks of one size, handed out again before
 * malloc is asked.
 *
 * Every connection takes a timeline ring and a request window larger than
 * glibc's own per-thread caches (about 1 KiB), so each came from, and went
 * back to, malloc's general bins: a search, a split, a merge with its
 * neighbours, on cold memory, thousands of times a second on a busy
 * capture.  A pool keeps the last HU_POOL_KEEP blocks freed, warm in
 * cache, and returns them first.  Single-threaded, like its owner.
 */
#ifndef HANGUP_POOL_H
#define HANGUP_POOL_H
#include <stddef.h>
#include <stdlib.h>

#define HU_POOL_KEEP 64

typedef struct hu_pool {
    size_t size;              /* bytes per block */
    size_t n;                 /* blocks kept */
    size_t keep;              /* at most this many (<= HU_POOL_KEEP) */
    void *blk[HU_POOL_KEEP];
} hu_pool;

/* A pool of blocks of size bytes keeping up to keep of them freed (at
 * most HU_POOL_KEEP): fewer for pools of many sizes, whose kept blocks
 * add up. */
static inline void hu_pool_init_keep(hu_pool *p, size_t size, size_t keep)
{
    p->size = size;
    p->n = 0;
    p->keep = keep < HU_POOL_KEEP ? keep : HU_POOL_KEEP;
}

static inline void hu_pool_init(hu_pool *p, size_t size)
{
    hu_pool_init_keep(p, size, HU_POOL_KEEP);
}

/* A block of p->size bytes, contents undefined; NULL when out of memory.
 * Give it back with hu_pool_put (or free). */
static inline void *hu_pool_get(hu_pool *p)
{
    return p->n ? p->blk[--p->n] : malloc(p->size);
}

/* Take back a block from hu_pool_get (NULL is ignored); beyond the
 * pool's keep, it is freed. */
static inline void hu_pool_put(hu_pool *p, void *b)
{
    if (b && p->n < p->keep)
        p->blk[p->n++] = b;
    else
        free(b);
}

/* Free every block kept. */
static inline void hu_pool_drain(hu_pool *p)
{
    while (p->n)
        free(p->blk[--p->n]);
}

#endif
