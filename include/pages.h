/*
 * pages: zeroed memory for an index's large tables, in mappings of their own.
 *
 * A request of PAGES_APART bytes or more is an anonymous mapping, returned
 * to the system when freed whatever malloc's mmap threshold has grown to: a
 * rebuilt snapshot (store.h) frees a whole index when it is written. Smaller
 * requests come from calloc(), and are what unit tests of small indexes
 * exercise. Pure: no I/O, no globals.
 */
#pragma once
#include <stddef.h>

#define PAGES_APART	(64 * 1024)

/* bytes of zeroed memory, or NULL. */
void	*pages_alloc(size_t bytes);

/* Release what pages_alloc(bytes) returned; bytes must be the same. NULL is fine. */
void	 pages_free(void *p, size_t bytes);
