/*
 * heap.h -- the process heap, set up for a busy capture's access pattern.
 *
 * With tens of thousands of connections open, every packet reaches a
 * connection's state at a random place in a heap of a hundred megabytes
 * or more: with 4 KiB pages that is a TLB miss (a page-table walk) per
 * structure touched, and one page fault per 4 KiB as the heap grows.
 * hu_heap_prefer_huge_pages asks the kernel to back the main thread's
 * heap with transparent huge pages (2 MiB), the same thing glibc's
 * glibc.malloc.hugetlb=1 tunable does, without needing the environment.
 * See docs/BENCHMARKS.md for what it gives.
 */
#ifndef HANGUP_HEAP_H
#define HANGUP_HEAP_H

/* Call once, early, from the main thread, before the analysis allocates.
 * Grows glibc's main heap by HU_HEAP_RESERVE bytes of address space (not
 * memory: pages are touched only as they are used), marks that range
 * MADV_HUGEPAGE, and keeps glibc from trimming it back (a trimmed and
 * regrown top would lose the mark).  Best effort and silent: when the
 * allocator is not glibc's (sanitizers), the kernel has transparent huge
 * pages disabled, or madvise fails, nothing changes but speed. */
void hu_heap_prefer_huge_pages(void);

#endif
