/*
 * simhash: 64-bit SimHash of weighted terms (Charikar 2002), and an index
 * that finds fingerprints within Hamming distance k without a linear scan
 * (Manku, Jain, Das Sarma 2007: k = 3 of 64 bits; the 64 bits split into
 * k + 1 blocks, and any two fingerprints within distance k agree exactly on at
 * least one block, so there is one table per block).
 *
 * simhash() and simhash_distance() are pure and allocation-free; the same
 * input gives the same output on every machine.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "terms.h"

uint64_t	simhash(const struct term *terms, size_t n);
unsigned	simhash_distance(uint64_t a, uint64_t b);

struct simindex;

#define SIMINDEX_SCAN	512u	/* entries a query looks at in a bucket, the last filed */

/*
 * The fingerprint of id, as simindex_insert() was given it. The index files
 * ids, not fingerprints (the caller keeps those already), and asks for one
 * when a bucket's key matches, when a table grows or shrinks, and when a
 * removal has found its id.
 */
typedef uint64_t	simindex_fp_fn(void *arg, uint32_t id);

/*
 * An index for lookups within distance k (0..7), whose ids' fingerprints fn
 * gives from before simindex_insert() until simindex_remove() is done with
 * them. NULL: out of memory.
 */
struct simindex	*simindex_new(unsigned k, simindex_fp_fn *fn, void *arg);
void		 simindex_free(struct simindex *);

/* Add id, not held, with fingerprint fp (what fn gives). 0 or -ENOMEM: not added. */
int	simindex_insert(struct simindex *, uint32_t id, uint64_t fp);

/*
 * Allocate now the bucket headers that n entries need, and keep them
 * through removals, so that no table is copied to grow while the count
 * stays within n (the buckets themselves still grow as they fill). 0 or
 * -ENOMEM, when no room is kept and some tables may be larger.
 */
int	simindex_keep_room(struct simindex *, size_t n);

/* Remove id, inserted with fp; an id not held with fp is ignored. */
void	simindex_remove(struct simindex *, uint32_t id, uint64_t fp);

/*
 * Write up to max distinct ids whose fingerprint is within distance k of fp to
 * out, nearest first (ties by id); return how many there are in all. A query
 * looks at the last SIMINDEX_SCAN entries filed in each of its buckets
 * (simhash.c): so "in all" unless that many share a block of fp (copies of
 * one text).
 */
size_t	simindex_query(const struct simindex *, uint64_t fp, uint32_t *out, size_t max);

size_t	simindex_memory(const struct simindex *);
