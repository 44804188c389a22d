/*
 * pages: zeroed memory for an index's large tables, in mappings of their own.
 *
 * A request of PAGES_APART bytes or more is an anonymous mapping, returned
 * to the system when freed whatever malloc's mmap threshold has grown to: a
 * rebuilt snapshot (store.h) frees a whole index when it is written. Smaller
 * requests come from calloc(), and are what unit tests of small indexes
 * exercise. A mapping of PAGES_HUGE bytes or more asks for transparent huge
 * pages (MADV_HUGEPAGE, where the kernel offers them) and starts on a huge
 * page's boundary, since only whole aligned stretches get one: the LSH's
 * band tables are read at random, one TLB miss a band in 4 KiB pages, and
 * bench/index -n 1000000 gave cluster_add 52.6 us at a million held against
 * 58.6 without, the same resident memory; terms.c's stem cache is read at
 * random a word at a time.
 *
 * A mapping is populated writable when it is made (MADV_POPULATE_WRITE),
 * since the tables are probed at random before they are written: a page
 * first read maps the shared zero page, and the write that follows copies
 * it and flushes the TLB of every core the process runs on, the loop's
 * included. A snapshot's rebuild filling fresh LSH tables sent 2,000-4,000
 * of those interrupts a second and slowed the loop's posts by a quarter
 * (docs/performance-history.md). Pure: no I/O, no globals.
 */
#pragma once
#include <stddef.h>

#define PAGES_APART	(64 * 1024)
#define PAGES_HUGE	(4 * 1024 * 1024)

/* bytes of zeroed memory, or NULL; a mapping's pages are already there. */
void	*pages_alloc(size_t bytes);

/* Release what pages_alloc(bytes) returned; bytes must be the same. NULL is fine. */
void	 pages_free(void *p, size_t bytes);
