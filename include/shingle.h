/*
 * shingle: hashes of w-word shingles, the sets that MinHash estimates Jaccard
 * similarity on. Pure and allocation-free.
 *
 * Shingle i is words i..i+w-1, hashed with XXH3-64 over the words' own
 * 64-bit hashes, so a shingle never depends on how words were spaced. A text
 * of fewer than w words (but at least one) gives one shingle of all its words,
 * so short headlines still get a signature.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

/* How many hashes shingle_hashes() writes for n words: max(n - w + 1, n > 0). */
size_t	shingle_count(size_t nwords, unsigned w);

/*
 * Write shingle_count(t->n, w) hashes to out (not deduplicated). w >= 1. The
 * word hashes are t->hash when tokens_hash() has made them.
 */
size_t	shingle_hashes(const struct tokens *t, unsigned w, uint64_t *out);
