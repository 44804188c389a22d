/*
 * minhash: K-value MinHash signatures of a set of 64-bit hashes, by
 * one-permutation hashing (Li et al. 2012) with densification (Shrivastava
 * 2017): each element costs one remix of its hash, not K. Empty bins are filled
 * from non-empty ones deterministically, so two equal sets always get equal
 * signatures. Pure and allocation-free. Equal input, equal output, on every
 * machine.
 *
 * The estimated Jaccard similarity of two sets is the fraction of equal
 * positions; its standard error is about sqrt(J(1-J)/K).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MINHASH_EMPTY	UINT32_MAX	/* never a value of a signature of a non-empty set */

/*
 * Write the K-value signature of h[0..n) to sig[0..k). Duplicates in h do not
 * matter. With n == 0, every value is MINHASH_EMPTY. k >= 1.
 */
void	minhash_sign(const uint64_t *h, size_t n, unsigned k, uint32_t *sig);

/*
 * A signer for one k: the same signatures as minhash_sign(), from a k * k
 * table of 2-byte keys it builds once (32 KiB at k = 128, 128 KiB at
 * MINHASHER_K_MAX, where a bin's number still fits a byte; above that, no
 * table and no gain). At k = 128 it signs 3 to 20 elements (a headline's shingles)
 * 5 to 25 times as fast as minhash_sign(), 60 elements 1.4 times as fast.
 */
#define MINHASHER_K_MAX	256

struct minhasher;

struct minhasher	*minhasher_new(unsigned k);	/* k >= 1; NULL: no memory */
void			 minhasher_free(struct minhasher *);
void			 minhasher_sign(const struct minhasher *m, const uint64_t *h, size_t n,
			    uint32_t *sig);

/* Estimated Jaccard similarity in [0, 1] of two signatures of length k. */
double	minhash_jaccard(const uint32_t *a, const uint32_t *b, unsigned k);

/*
 * b-bit MinHash (Li and Koenig 2010): a signature kept in one byte a value,
 * a quarter of the memory. minhash_keep() is 8 bits of value v remixed with
 * its position i: equal values stay equal, and two different values agree by
 * chance with probability 1/256, independently at each position. The remix
 * is what makes it independent: densification copies a short text's few
 * values into many positions, and plain low bits would turn one chance
 * agreement into a dozen.
 */
uint8_t	minhash_keep(unsigned i, uint32_t v);

/*
 * Estimated Jaccard similarity in [0, 1] of two kept signatures of length k:
 * the share p of equal positions estimates J + (1 - J) / 256, so J is
 * (256 p - 1) / 255, and 0 below that. The chance agreements widen the
 * standard error a little, to about sqrt((J(1-J) + (1-J) / 256) / K).
 * A kept byte has no value to spare for MINHASH_EMPTY: telling an empty set
 * apart is the caller's.
 */
double	minhash_jaccard_kept(const uint8_t *a, const uint8_t *b, unsigned k);
