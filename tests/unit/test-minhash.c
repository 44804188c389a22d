/* minhash: the estimate tracks the true Jaccard; signatures depend on the set alone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "minhash.h"
#include "mix.h"

#define K	128

/*
 * Estimate for two random sets of the given union size and exact Jaccard j,
 * from the whole signatures or (kept) from minhash_keep()'s byte a value.
 */
static double
estimate_as(uint64_t *rng, size_t u, double j, int kept)
{
	uint64_t	*a = malloc(u * sizeof(*a)), *b = malloc(u * sizeof(*b));
	size_t		 common = (size_t)(j * u + 0.5), own = (u - common) / 2, na = 0, nb = 0;
	uint32_t	 sa[K], sb[K];

	assert_non_null(a);
	assert_non_null(b);
	assert_true(common + 2 * own == u);
	for (size_t i = 0; i < common; i++)
		a[na++] = b[nb++] = rng_next(rng);
	for (size_t i = 0; i < own; i++) {
		a[na++] = rng_next(rng);
		b[nb++] = rng_next(rng);
	}
	minhash_sign(a, na, K, sa);
	minhash_sign(b, nb, K, sb);
	free(a);
	free(b);
	if (kept) {
		uint8_t	ka[K], kb[K];

		for (unsigned i = 0; i < K; i++) {
			ka[i] = minhash_keep(i, sa[i]);
			kb[i] = minhash_keep(i, sb[i]);
		}
		return minhash_jaccard_kept(ka, kb, K);
	}
	return minhash_jaccard(sa, sb, K);
}

static double
estimate(uint64_t *rng, size_t u, double j)
{
	return estimate_as(rng, u, j, 0);
}

/*
 * For each J, every trial within 4 standard errors and the mean of the
 * trials within 3 of the mean's standard error.
 */
static void
check_estimates_as(size_t u, int trials, uint64_t seed, int kept)
{
	static const double	js[] = { 0.1, 0.3, 0.5, 0.8, 0.95 };
	uint64_t		rng = seed;

	for (size_t q = 0; q < sizeof(js) / sizeof(js[0]); q++) {
		double	j = js[q], chance = kept ? (1 - j) / 256 : 0;
		double	se = sqrt((j * (1 - j) + chance) / K) / (kept ? 255.0 / 256 : 1), sum = 0;

		for (int t = 0; t < trials; t++) {
			double	e = estimate_as(&rng, u, j, kept);

			assert_true(fabs(e - j) <= 4 * se);
			sum += e;
		}
		assert_true(fabs(sum / trials - j) <= 3 * se / sqrt(trials));
	}
}

static void
check_estimates(size_t u, int trials, uint64_t seed)
{
	check_estimates_as(u, trials, seed, 0);
}

static void
test_estimate_is_within_standard_errors_of_true_jaccard(void **state)
{
	(void)state;
	check_estimates(1000, 50, 1);
}

/* 40 elements in 128 bins leave most bins empty: densification's case. */
static void
test_densified_estimate_of_small_sets_is_unbiased(void **state)
{
	(void)state;
	check_estimates(40, 200, 2);
}

/* A byte a value: the same, with the chance agreements' share of the error. */
static void
test_kept_estimate_is_within_standard_errors_of_true_jaccard(void **state)
{
	(void)state;
	check_estimates_as(1000, 50, 5, 1);
	check_estimates_as(40, 100, 6, 1);
}

/* The share p of equal kept values gives (256 p - 1) / 255, and never below 0. */
static void
test_kept_estimate_takes_out_chance_agreements(void **state)
{
	uint8_t	a[K], b[K];

	(void)state;
	for (unsigned i = 0; i < K; i++) {
		a[i] = minhash_keep(i, 7 * i);
		b[i] = a[i];
	}
	assert_float_equal(minhash_jaccard_kept(a, b, K), 1.0, 1e-12);
	for (unsigned i = 0; i < K / 2; i++)
		b[i] = (uint8_t)(a[i] + 1);
	assert_float_equal(minhash_jaccard_kept(a, b, K), (128.0 - 1) / 255, 1e-12);
	for (unsigned i = 0; i < K; i++)
		b[i] = (uint8_t)(a[i] + 1);
	assert_float_equal(minhash_jaccard_kept(a, b, K), 0.0, 0);
	b[0] = a[0];	/* 1 of 128 agrees: below the 1 in 256 of chance */
	assert_float_equal(minhash_jaccard_kept(a, b, K), 1.0 / 255, 1e-12);
	/* equal values keep equal bytes; a value kept at another position differs */
	assert_int_equal(minhash_keep(3, 12345), minhash_keep(3, 12345));
	assert_true(minhash_keep(3, 12345) != minhash_keep(4, 12345) ||
	    minhash_keep(5, 12345) != minhash_keep(6, 12345));
}

static void
test_identical_sets_estimate_one(void **state)
{
	uint64_t	h[300], rng = 3;
	uint32_t	a[K], b[K];

	(void)state;
	for (size_t i = 0; i < 300; i++)
		h[i] = rng_next(&rng);
	minhash_sign(h, 300, K, a);
	minhash_sign(h, 300, K, b);
	assert_float_equal(minhash_jaccard(a, b, K), 1.0, 0);
	/* One element is a set too. */
	minhash_sign(h, 1, K, a);
	minhash_sign(h, 1, K, b);
	assert_float_equal(minhash_jaccard(a, b, K), 1.0, 0);
}

static void
test_disjoint_sets_estimate_near_zero(void **state)
{
	uint64_t	rng = 4;
	double		sum = 0;

	(void)state;
	for (int t = 0; t < 20; t++)
		sum += estimate(&rng, 400, 0);
	assert_true(sum / 20 < 0.01);
}

static void
test_order_and_duplicates_do_not_change_the_signature(void **state)
{
	uint64_t	h[200], g[600], rng = 5;
	uint32_t	a[K], b[K];

	(void)state;
	for (size_t i = 0; i < 200; i++)
		h[i] = rng_next(&rng);
	for (size_t i = 0; i < 600; i++)
		g[i] = h[(i * 7) % 200];	/* permuted, each three times */
	minhash_sign(h, 200, K, a);
	minhash_sign(g, 600, K, b);
	assert_memory_equal(a, b, sizeof(a));
}

static void
test_nonempty_signatures_never_hold_the_empty_value(void **state)
{
	uint64_t	h[3] = { 0, UINT64_MAX, 42 };
	uint32_t	s[K];

	(void)state;
	for (size_t n = 1; n <= 3; n++) {
		minhash_sign(h, n, K, s);
		for (unsigned i = 0; i < K; i++)
			assert_true(s[i] != MINHASH_EMPTY);
	}
	/* k = 1 is plain MinHash. */
	minhash_sign(h, 3, 1, s);
	assert_true(s[0] != MINHASH_EMPTY);
}

static void
test_empty_set_is_similar_to_nothing(void **state)
{
	uint64_t	h = 7;
	uint32_t	e[K], f[K], s[K];

	(void)state;
	minhash_sign(NULL, 0, K, e);
	minhash_sign(NULL, 0, K, f);
	minhash_sign(&h, 1, K, s);
	for (unsigned i = 0; i < K; i++)
		assert_int_equal(e[i], MINHASH_EMPTY);
	assert_float_equal(minhash_jaccard(e, f, K), 0, 0);
	assert_float_equal(minhash_jaccard(e, s, K), 0, 0);
	assert_float_equal(minhash_jaccard(s, e, K), 0, 0);
}

static void
test_signatures_are_the_same_on_every_machine(void **state)
{
	static const uint32_t	want[8] = {
		0x5b018fed, 0x5b018fed, 0x09025cc1, 0x09025cc1,
		0x09025cc1, 0x5b018fed, 0x5b018fed, 0x5b018fed,
	};
	uint64_t		h[3] = { 1, 2, 3 };
	uint32_t		s[8];

	(void)state;
	/* Golden values: a change here changes every stored signature. */
	minhash_sign(h, 3, 8, s);
	assert_memory_equal(s, want, sizeof(want));
}

/*
 * Few full bins take the table, many take the probes: both sign as
 * minhash_sign() does, for k in and out of the table's groups of 8.
 */
static void
test_minhasher_signs_as_minhash_sign(void **state)
{
	static const unsigned	ks[] = { 1, 13, 16, 100, 128, 256, 1024, 1100 };
	uint64_t		h[600], rng = 6;
	uint64_t		same[5] = { 7, 7, 7, 7, 7 };
	uint32_t		*a = malloc(1100 * sizeof(*a)), *b = malloc(1100 * sizeof(*b));

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < 600; i++)
		h[i] = rng_next(&rng);
	for (size_t q = 0; q < sizeof(ks) / sizeof(ks[0]); q++) {
		struct minhasher	*m = minhasher_new(ks[q]);

		assert_non_null(m);
		for (size_t n = 0; n <= 600; n += n < 40 ? 1 : 37) {
			minhash_sign(h + 600 - n, n, ks[q], a);
			minhasher_sign(m, h + 600 - n, n, b);
			assert_memory_equal(a, b, ks[q] * sizeof(*a));
		}
		/* one distinct element, many times: one full bin */
		minhash_sign(same, 5, ks[q], a);
		minhasher_sign(m, same, 5, b);
		assert_memory_equal(a, b, ks[q] * sizeof(*a));
		minhasher_free(m);
	}
	minhasher_free(NULL);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimate_is_within_standard_errors_of_true_jaccard),
		cmocka_unit_test(test_densified_estimate_of_small_sets_is_unbiased),
		cmocka_unit_test(test_kept_estimate_is_within_standard_errors_of_true_jaccard),
		cmocka_unit_test(test_kept_estimate_takes_out_chance_agreements),
		cmocka_unit_test(test_identical_sets_estimate_one),
		cmocka_unit_test(test_disjoint_sets_estimate_near_zero),
		cmocka_unit_test(test_order_and_duplicates_do_not_change_the_signature),
		cmocka_unit_test(test_nonempty_signatures_never_hold_the_empty_value),
		cmocka_unit_test(test_empty_set_is_similar_to_nothing),
		cmocka_unit_test(test_signatures_are_the_same_on_every_machine),
		cmocka_unit_test(test_minhasher_signs_as_minhash_sign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
