/*
 * lsh: banded locality-sensitive index over MinHash signatures. b bands of r
 * rows (b * r <= K); two signatures become candidates when all r values of at
 * least one band agree, which for Jaccard s happens with probability
 * 1 - (1 - s^r)^b (the S-curve). Candidates must still be verified.
 *
 * Items are caller-chosen ids below LSH_ID_LIMIT: a slot keeps 24 bits of
 * its id and only a few of its band's key, so the index reads an item's
 * signature back from the caller (lsh_rows_fn) when it needs the rest.
 * Signature values are compared on their low 16 bits only, so a caller may
 * keep just those and widen them again for lsh_remove(). The index owns its
 * memory; it never sees text. No globals.
 *
 * A bucket (the ids under one band key) keeps its newest LSH_BUCKET_MAX:
 * when one more comes, the oldest leaves that bucket, though it stays held
 * and in its other bands' buckets. Copies of one text share every band, so
 * without a bound each of n copies cost O(n) a band to insert and to look up
 * (20,000 copies: 29 ms an insert), and a bucket's run made the walks of
 * other keys as long. With it a query finds the newest LSH_BUCKET_MAX copies.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define LSH_ID_LIMIT	(UINT32_C(1) << 24)
#define LSH_BUCKET_MAX	128u

struct lsh;

/*
 * Choose b and r for K values and a Jaccard threshold the way datasketch does:
 * minimize the weighted false-positive plus false-negative area under the
 * S-curve (weights 0.5 and 0.5), b * r <= k.
 */
void	lsh_choose(unsigned k, double threshold, unsigned *bands, unsigned *rows);

/* Probability that two sets of Jaccard s become candidates. */
double	lsh_probability(double s, unsigned bands, unsigned rows);

/*
 * Values from..from+n-1 of item id's signature, as lsh_insert() was given
 * them, written to out; out NULL: a hint that they are wanted soon (a
 * prefetch), nothing to write.
 */
typedef void	lsh_rows_fn(void *arg, uint32_t id, unsigned from, unsigned n, uint32_t *out);

/*
 * A slot keeps an id and a few bits of its band's key; the rest comes from
 * fn, which must give an id's signature from before lsh_insert() until
 * lsh_remove() is done with it. A growing table may also ask for ids below
 * the highest inserted that are not held (lsh.c, move_keep()): fn must
 * answer those too, with any values. NULL: out of memory.
 */
struct lsh	*lsh_new(unsigned bands, unsigned rows, lsh_rows_fn *fn, void *arg);
void		 lsh_free(struct lsh *);

/*
 * Add id (< LSH_ID_LIMIT, not held) with signature sig (at least bands *
 * rows values, those fn gives). 0 or -ENOMEM: id is not held, though full
 * buckets of the bands it reached may have dropped their oldest.
 */
int	lsh_insert(struct lsh *, uint32_t id, const uint32_t *sig);

/*
 * Make room for n ids in all, so that lsh_insert() does not grow a table
 * until more are held: each table gets at once the first size of its growth
 * (by quarters) that holds n at most 4/5 full. Inserting n one by one gives
 * that size too, or for tables past 4,096 slots, which may start growing at
 * 31/40 (lsh.c, move_start()), the next one. What the index finds is the same
 * either way. 0 or -ENOMEM, when some tables may be larger, and nothing else
 * has changed.
 */
int	lsh_reserve(struct lsh *, size_t n);

/*
 * lsh_reserve(n), and keep that room: removals no longer shrink a table
 * below the size that holds n, so no table changes size while the count
 * held stays within n (more than n grow the tables as before). 0, or
 * -ENOMEM as lsh_reserve() (no room is kept then).
 */
int	lsh_keep_room(struct lsh *, size_t n);

/*
 * Insert the distinct ids[0..n) into an empty index: the same buckets, each
 * in the same order, as lsh_insert() of each in turn, in the tables
 * lsh_reserve(n) sizes, but filled one band's table at a time (a snapshot's
 * load). 0 or -ENOMEM (the index is then empty, its tables perhaps larger).
 */
int	lsh_fill(struct lsh *, const uint32_t *ids, size_t n);

/* Remove id, held: inserted with this same sig and not removed since. */
void	lsh_remove(struct lsh *, uint32_t id, const uint32_t *sig);

/*
 * Write up to max distinct candidate ids sharing a band with sig to out and
 * return how many were found in all (may exceed max; only max are written).
 * Order is deterministic (first band first, insertion order within a bucket).
 */
size_t	lsh_query(const struct lsh *, const uint32_t *sig, uint32_t *out, size_t max);

/*
 * Ask for the memory a query or insert of sig reads first, its bands' home
 * slots, so that their cache misses overlap the caller's work until then.
 * A hint: nothing changes.
 */
void	lsh_prefetch(const struct lsh *, const uint32_t *sig);

size_t	lsh_count(const struct lsh *);			/* ids held */
size_t	lsh_memory(const struct lsh *);			/* bytes allocated */
