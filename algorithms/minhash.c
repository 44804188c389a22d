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
 * for both, which keeps the estimate unbiased.
 */
#include <assert.h>

#include "minhash.h"
#include "mix.h"

#define VALUE_MASK	0x7fffffffu
#define FILLED		0x80000000u	/* during densification: not a source */
#define PROBE_LIMIT	1024u		/* then scan linearly; see densify() */

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

static void
densify(uint32_t *sig, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		unsigned	j = 0, a;

		if (sig[i] != MINHASH_EMPTY)
			continue;
		for (a = 1; a <= PROBE_LIMIT; a++) {
			j = reduce((uint32_t)(remix(((uint64_t)i << 32) | a) >> 32), k);
			if (!(sig[j] & FILLED))
				break;
		}
		/*
		 * With one full bin in k the chance of reaching this is
		 * (1 - 1/k)^1024: never for k up to about 100, rare to k = 1000.
		 * The scan is just as deterministic.
		 */
		if (a > PROBE_LIMIT) {
			for (j = (i + 1) % k; sig[j] & FILLED; j = (j + 1) % k)
				;
		}
		sig[i] = sig[j] | FILLED;
	}
	for (unsigned i = 0; i < k; i++)
		sig[i] &= VALUE_MASK;
}

void
minhash_sign(const uint64_t *h, size_t n, unsigned k, uint32_t *sig)
{
	assert(k >= 1);
	for (unsigned i = 0; i < k; i++)
		sig[i] = MINHASH_EMPTY;
	if (n == 0)
		return;
	for (size_t e = 0; e < n; e++) {
		uint64_t	x = remix(h[e]);
		unsigned	bin = reduce((uint32_t)(x >> 32), k);
		uint32_t	v = (uint32_t)x & VALUE_MASK;

		if (v < sig[bin])
			sig[bin] = v;
	}
	densify(sig, k);
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
