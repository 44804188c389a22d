/*
 * pages: zeroed memory for an index's large tables, in mappings of their own.
 *
 * A request of PAGES_APART bytes or more is an anonymous mapping that a
 * forked child does not inherit (Linux: MADV_DONTFORK). The daemon forks a
 * child to write each snapshot, and every page the loop writes while that
 * child lives is copied on the first write; the LSH tables, which a snapshot
 * does not hold (they are rebuilt on load), took most of those copies (56%
 * of the loop's page faults during a snapshot, perf record -e page-faults).
 * Mapped apart they cost the loop no copy and the fork no page tables.
 *
 * The trap: a forked child must not touch such a table, not even to free it
 * (it is not mapped there: SIGSEGV). Smaller requests come from calloc(), are
 * inherited as usual, and are what unit tests of small indexes exercise.
 * Pure: no I/O, no globals.
 */
#pragma once
#include <stddef.h>

#define PAGES_APART	(64 * 1024)

/* bytes of zeroed memory, or NULL. */
void	*pages_alloc(size_t bytes);

/* Release what pages_alloc(bytes) returned; bytes must be the same. NULL is fine. */
void	 pages_free(void *p, size_t bytes);
