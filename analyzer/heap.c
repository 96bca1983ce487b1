/*
 * heap.c -- transparent huge pages for the main thread's heap (see heap.h
 * for the contract and why).
 *
 * glibc's main arena grows the heap with sbrk; with M_TOP_PAD set it
 * grows it by the pad at once, so one madvise covers the whole range the
 * analysis will use.  The range must stay the heap's top segment: a trim
 * would shrink it and the kernel would not carry the mark over to the
 * regrown part, so the trim threshold is raised above the pad.
 */
#include "hangup/heap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HU_HEAP_RESERVE ((size_t)256 << 20)
#define HU_HEAP_HUGE ((uintptr_t)2 << 20)      /* x86-64's PMD page */
#define HU_HEAP_PROBE ((size_t)64 << 10)       /* below glibc's mmap threshold */
#define HU_HEAP_PROBES 64

void hu_heap_prefer_huge_pages(void)
{
    if (!mallopt(M_TOP_PAD, (int)HU_HEAP_RESERVE) ||
        !mallopt(M_TRIM_THRESHOLD, (int)(2 * HU_HEAP_RESERVE)))
        return;
    void *cur = sbrk(0);
    if (cur == (void *)-1)
        return;
    /* Allocate until the heap grows (by the pad), then give it all back:
     * the free space stays at the heap's top. */
    void *blk[HU_HEAP_PROBES];
    int n = 0;
    while (n < HU_HEAP_PROBES && sbrk(0) == cur) {
        blk[n] = malloc(HU_HEAP_PROBE);
        if (!blk[n])
            break;
        n++;
    }
    while (n > 0)
        free(blk[--n]);
    uintptr_t start = ((uintptr_t)cur + HU_HEAP_HUGE - 1) & ~(HU_HEAP_HUGE - 1);
    uintptr_t end = (uintptr_t)sbrk(0) & ~(HU_HEAP_HUGE - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
}
