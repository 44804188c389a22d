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
 * first probe onto every other: the least first probe of bin i onto a full
 * bin is the probe that densify() would stop at, and since a probe lands on
 * one bin, that probe number names the bin.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "minhash.h"
#include "mix.h"

#define VALUE_MASK	0x7fffffffu
#define FILLED		0x80000000u	/* during densification: not a source */
#define PROBE_LIMIT	1024u		/* then scan linearly; see probe_from() */
#define FIRST_NONE	255u		/* a first probe past the first 254 */

/*
 * A key is (first probe << 8 | bin) - 32768, signed, so that SSE2's signed
 * 16-bit minimum orders keys as their unsigned values.
 */
#define KEY(a, j)	((int16_t)((int)((a) << 8 | (j)) - 32768))
#define KEY_BIN(key)	((unsigned)((key) + 32768) & 0xff)
#define KEY_NONE	KEY(FIRST_NONE, 255u)

struct minhasher {
	unsigned	 k;
	/* [j * k + i]: KEY(first probe of bin i landing on j, j), KEY_NONE past FIRST_NONE */
	int16_t		*first;		/* NULL: k too large */
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
 * densify() for a signature with few full bins: the probe each empty bin
 * stops at is the least of its first probes onto the full bins. A row of
 * m->first holds every bin's first probe onto one bin, with that bin's
 * number in the low byte, so the least key over the full bins' rows names
 * both the probe and the bin it lands on. With keys rather than probe
 * bytes, which left a probe() to compute per empty bin, densify_few() went
 * from 4.6% to 2.7% of fingerprint()'s samples on the bench corpus (perf;
 * mostly headlines, with some 120 of 128 bins empty).
 *
 * Whether a bin is empty is a coin toss the branch predictor loses, so the
 * empty and the full bins are listed without a branch (a microbenchmark:
 * 20% faster at 15 elements, 30% at 80), and the running minimum takes
 * KEY_GROUP bins at a time over the full bins' rows, the group's minima
 * held in one vector register (8 bins per SSE2 instruction, KEY()) rather
 * than read and written back for each row: headlines 1.44 and 1.43 us an
 * article -> 1.40 and 1.42 (bench/fingerprint -T, alternating).
 */
/* Eight keys in one vector (GCC and Clang vector extensions, as simhash.c's lanes4). */
typedef int16_t	keys8 __attribute__((vector_size(16)));
#define KEY_GROUP	8	/* keys in a keys8 */

/*
 * On x86-64, SSE2's pminsw: GCC 12 compiled the generic form to a compare
 * and three logic instructions, each row's minimum waiting on the last
 * (densify_few() 3.5% of fingerprint()'s samples on the bench corpus, half
 * of it here).
 */
static keys8
keys_min(keys8 a, keys8 b)
{
#ifdef __SSE2__
	return (keys8)_mm_min_epi16((__m128i)a, (__m128i)b);
#else
	keys8	lt = a < b;		/* all ones where a is less */

	return (a & lt) | (b & ~lt);
#endif
}

static void
densify_few(const struct minhasher *m, uint32_t *sig)
{
	int16_t		least[MINHASHER_K_MAX];
	uint16_t	empty[MINHASHER_K_MAX], full[MINHASHER_K_MAX];
	unsigned	k = m->k, nempty = 0, nfull = 0, i, j, e, f;

	for (j = 0; j < k; j++) {
		empty[nempty] = full[nfull] = (uint16_t)j;
		nempty += sig[j] == MINHASH_EMPTY;
		nfull += sig[j] != MINHASH_EMPTY;
	}
	for (i = 0; i + KEY_GROUP <= k; i += KEY_GROUP) {
		keys8	v, row;

		for (j = 0; j < KEY_GROUP; j++)
			v[j] = KEY_NONE;
		for (f = 0; f < nfull; f++) {
			memcpy(&row, m->first + (size_t)full[f] * k + i, sizeof(row));
			v = keys_min(v, row);
		}
		memcpy(least + i, &v, sizeof(v));
	}
	for (; i < k; i++) {		/* k not a multiple of KEY_GROUP */
		least[i] = KEY_NONE;
		for (f = 0; f < nfull; f++) {
			int16_t	key = m->first[(size_t)full[f] * k + i];

			least[i] = key < least[i] ? key : least[i];
		}
	}
	for (e = 0; e < nempty; e++) {
		i = empty[e];
		if (least[i] != KEY_NONE)
			j = KEY_BIN(least[i]);
		else
			j = probe_from(sig, i, k, FIRST_NONE);
		sig[i] = sig[j] | FILLED;
	}
	for (i = 0; i < k; i++)
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

		/* no branch: a body's 300 shingles in 128 bins took 2.0 us with one, 0.7 without */
		sig[bin] = v < sig[bin] ? v : sig[bin];
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
	if ((m->first = malloc((size_t)k * k * sizeof(*m->first))) == NULL) {
		free(m);
		return NULL;
	}
	for (size_t x = 0; x < (size_t)k * k; x++)
		m->first[x] = KEY_NONE;
	/* from the last probe to the first, so that the first one to land on a bin stays */
	for (unsigned i = 0; i < k; i++) {
		for (unsigned a = FIRST_NONE - 1; a >= 1; a--) {
			unsigned	j = probe(i, a, k);

			m->first[(size_t)j * k + i] = KEY(a, j);
		}
	}
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
	unsigned	nfull = 0, k = m->k;

	fill(h, n, k, sig);
	if (n == 0)
		return;
	for (unsigned i = 0; i < k; i++)
		nfull += sig[i] != MINHASH_EMPTY;
	/*
	 * Probing costs about k / nfull probes per empty bin; the table, nfull
	 * rows of k bytes and one probe per empty bin. At k = 128 they break
	 * even near nfull = 85 (a microbenchmark: 15 elements, 0.45 us with the
	 * table against 3.1 probing; 120 elements in 78 bins, 0.96 and 1.05; 300
	 * in 115, 1.1 and 0.68). With one full bin, every bin has its value.
	 */
	if (nfull == 1) {
		uint32_t	v = 0;

		for (unsigned i = 0; i < k; i++)
			v = sig[i] != MINHASH_EMPTY ? sig[i] : v;
		for (unsigned i = 0; i < k; i++)
			sig[i] = v;
	} else if (m->first == NULL || 3 * nfull > 2 * k)
		densify(sig, k);
	else
		densify_few(m, sig);
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

uint8_t
minhash_keep(unsigned i, uint32_t v)
{
	return (uint8_t)(mix64((uint64_t)i << 32 | v) >> 56);
}

double
minhash_jaccard_kept(const uint8_t *a, const uint8_t *b, unsigned k)
{
	unsigned	same = 0;
	double		j;

	if (k == 0)
		return 0;
	for (unsigned i = 0; i < k; i++)
		same += a[i] == b[i];
	j = (256.0 * same / k - 1) / 255;
	return j > 0 ? j : 0;
}
