/*
 * pages: zeroed memory for an index's large tables, in mappings of their own.
 *
 * A request of PAGES_APART bytes or more is an anonymous mapping, returned
 * to the system when freed whatever malloc's mmap threshold has grown to: a
 * rebuilt snapshot (store.h) frees a whole index when it is written. Smaller
 * requests come from calloc(), and are what unit tests of small indexes
 * exercise. A mapping of PAGES_HUGE bytes or more asks for transparent huge
 * pages (MADV_HUGEPAGE, where the kernel offers them): the LSH's band
 * tables are read at random, one TLB miss a band in 4 KiB pages, and
 * bench/index -n 1000000 gave cluster_add 52.6 us at a million held against
 * 58.6 without, the same resident memory. Pure: no I/O, no globals.
 */
#pragma once
#include <stddef.h>

#define PAGES_APART	(64 * 1024)
#define PAGES_HUGE	(4 * 1024 * 1024)

/* bytes of zeroed memory, or NULL. */
void	*pages_alloc(size_t bytes);

/* Release what pages_alloc(bytes) returned; bytes must be the same. NULL is fine. */
void	 pages_free(void *p, size_t bytes);
