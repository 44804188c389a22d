/*
 * minhash: one-permutation hashing with optimal densification.
 *
 * Each element's hash is remixed once (splitmix64's finalizer, after adding
 * a constant so that 0 does not stay 0); the high 32 bits pick the bin by
 * multiply-shift, the low 31 bits are the value, and each bin keeps its
 * minimum. Values have 31 bits, not 32, so that densification can mark the
 * bins it filled with the top bit while it still needs to know which bins
 * were empty; a chance collision of two 31-bit minima (2^-31) is far below
 * the estimator's own error.
 *
 * Densification (Shrivastava 2017, "Optimal Densification for Fast and
 * Accurate Minwise Hashing"): an empty bin i probes bins h(i, 1), h(i, 2),
 * ... until one that was non-empty and copies its value. The probe sequence
 * depends on i alone, so equal sets get equal signatures, and two sets that
 * are both empty at bin i copy from the same bin as long as it is non-empty
 * for both, which keeps the estimate unbiased. minhasher_sign() finds the
 * same bins, for signatures with few full ones, in a table of each bin's
 * first probe onto every other.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "minhash.h"
#include "mix.h"

#define VALUE_MASK	0x7fffffffu
#define FILLED		0x80000000u	/* during densification: not a source */
#define PROBE_LIMIT	1024u		/* then scan linearly; see probe_from() */
#define FIRST_NONE	255u		/* in minhasher.first: not among the first 254 probes */
#define FEW_FULL	64u		/* densify_few() takes at most this many full bins */

struct minhasher {
	unsigned	 k;
	uint8_t		*first;		/* [i * k + j]: first probe of bin i landing on j; NULL: k too large */
};

/* splitmix64: a golden-ratio step, then the finalizer */
static uint64_t
remix(uint64_t x)
{
	return mix64(x + 0x9e3779b97f4a7c15ull);
}

/* Multiply-shift: a 32-bit uniform value to [0, k) without a division. */
static unsigned
reduce(uint32_t x, unsigned k)
{
	return (unsigned)(((uint64_t)x * k) >> 32);
}

/* The bin that probe a (from 1) of empty bin i looks at. */
static unsigned
probe(unsigned i, unsigned a, unsigned k)
{
	return reduce((uint32_t)(remix(((uint64_t)i << 32) | a) >> 32), k);
}

/*
 * The bin whose value empty bin i copies: the first of its probes from
 * number a on that lands on a bin that was not empty (not FILLED).
 */
static unsigned
probe_from(const uint32_t *sig, unsigned i, unsigned k, unsigned a)
{
	unsigned	j;

	for (; a <= PROBE_LIMIT; a++) {
		j = probe(i, a, k);
		if (!(sig[j] & FILLED))
			return j;
	}
	/*
	 * With one full bin in k the chance of reaching this is
	 * (1 - 1/k)^1024: never for k up to about 100, rare to k = 1000.
	 * The scan is just as deterministic.
	 */
	for (j = (i + 1) % k; sig[j] & FILLED; j = (j + 1) % k)
		;
	return j;
}

static void
densify(uint32_t *sig, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		if (sig[i] == MINHASH_EMPTY)
			sig[i] = sig[probe_from(sig, i, k, 1)] | FILLED;
	for (unsigned i = 0; i < k; i++)
		sig[i] &= VALUE_MASK;
}

/*
 * densify() for a signature with few full bins, listed in full[0..nfull):
 * rather than probing about k / nfull times per empty bin, take the full bin
 * that bin i's probes reach first, from m->first.
 */
static void
densify_few(const struct minhasher *m, uint32_t *sig, const uint16_t *full, unsigned nfull)
{
	unsigned	k = m->k;

	for (unsigned i = 0; i < k; i++) {
		const uint8_t	*first = m->first + (size_t)i * k;
		uint32_t	 best = FIRST_NONE << 16, key;
		unsigned	 j;

		if (sig[i] != MINHASH_EMPTY)
			continue;
		/* the least (probe number, bin); a probe lands on one bin, so no ties */
		for (unsigned f = 0; f < nfull; f++) {
			key = (uint32_t)first[full[f]] << 16 | full[f];
			best = key < best ? key : best;
		}
		if ((best >> 16) != FIRST_NONE)
			j = best & 0xffff;
		else
			j = probe_from(sig, i, k, FIRST_NONE);
		sig[i] = sig[j] | FILLED;
	}
	for (unsigned i = 0; i < k; i++)
		sig[i] &= VALUE_MASK;
}

/* Set each bin to the least value of h[0..n) that falls in it. */
static void
fill(const uint64_t *h, size_t n, unsigned k, uint32_t *sig)
{
	for (unsigned i = 0; i < k; i++)
		sig[i] = MINHASH_EMPTY;
	for (size_t e = 0; e < n; e++) {
		uint64_t	x = remix(h[e]);
		unsigned	bin = reduce((uint32_t)(x >> 32), k);
		uint32_t	v = (uint32_t)x & VALUE_MASK;

		if (v < sig[bin])
			sig[bin] = v;
	}
}

void
minhash_sign(const uint64_t *h, size_t n, unsigned k, uint32_t *sig)
{
	assert(k >= 1);
	fill(h, n, k, sig);
	if (n > 0)
		densify(sig, k);
}

struct minhasher *
minhasher_new(unsigned k)
{
	struct minhasher	*m;

	assert(k >= 1);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->k = k;
	if (k > MINHASHER_K_MAX)
		return m;
	if ((m->first = malloc((size_t)k * k)) == NULL) {
		free(m);
		return NULL;
	}
	memset(m->first, FIRST_NONE, (size_t)k * k);
	/* from the last probe to the first, so that the first one to land on a bin stays */
	for (unsigned i = 0; i < k; i++)
		for (unsigned a = FIRST_NONE - 1; a >= 1; a--)
			m->first[(size_t)i * k + probe(i, a, k)] = (uint8_t)a;
	return m;
}

void
minhasher_free(struct minhasher *m)
{
	if (m == NULL)
		return;
	free(m->first);
	free(m);
}

void
minhasher_sign(const struct minhasher *m, const uint64_t *h, size_t n, uint32_t *sig)
{
	uint16_t	full[FEW_FULL];
	unsigned	nfull = 0, k = m->k;

	fill(h, n, k, sig);
	if (n == 0)
		return;
	for (unsigned i = 0; i < k; i++)
		nfull += sig[i] != MINHASH_EMPTY;
	/*
	 * Probing costs about k / nfull per empty bin, the table nfull; at
	 * k = 128 they break even near nfull = 25 (a microbenchmark).
	 */
	if (m->first == NULL || nfull > FEW_FULL || nfull * nfull > 4 * k) {
		densify(sig, k);
		return;
	}
	nfull = 0;
	for (unsigned i = 0; i < k; i++)
		if (sig[i] != MINHASH_EMPTY)
			full[nfull++] = (uint16_t)i;
	densify_few(m, sig, full, nfull);
}

/*
 * An empty set's signature (all MINHASH_EMPTY) is similar to nothing, not
 * even to another empty set's: "no shingles" is no evidence of duplication.
 */
double
minhash_jaccard(const uint32_t *a, const uint32_t *b, unsigned k)
{
	unsigned	same = 0;

	if (k == 0 || a[0] == MINHASH_EMPTY || b[0] == MINHASH_EMPTY)
		return 0;
	for (unsigned i = 0; i < k; i++)
		same += a[i] == b[i];
	return (double)same / k;
}
