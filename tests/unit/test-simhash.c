/* simhash: fingerprint distances, and the index against a brute-force scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "simhash.h"
#include "mix.h"

/* simindex_fp_fn over a test's array of fingerprints, indexed by id */
static uint64_t
fp_at(void *arg, uint32_t id)
{
	return ((uint64_t *)arg)[id];
}

static void
random_terms(uint64_t *rng, struct term *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		t[i].hash = rng_next(rng);
		t[i].weight = 0.5f + (float)(rng_next(rng) % 1000) / 100.0f;
		t[i].word = 0;
	}
}

static void
test_identical_terms_have_distance_zero(void **state)
{
	struct term	a[100], b[100];
	uint64_t	rng = 1;

	(void)state;
	random_terms(&rng, a, 100);
	memcpy(b, a, sizeof(a));
	assert_int_equal(simhash_distance(simhash(a, 100), simhash(b, 100)), 0);
	assert_int_equal(simhash_distance(0x0f, 0xf0), 8);
	assert_int_equal(simhash_distance(0, ~0ull), 64);
}

static void
test_term_order_does_not_matter(void **state)
{
	struct term	a[50], b[50];
	uint64_t	rng = 2;

	(void)state;
	random_terms(&rng, a, 50);
	for (size_t i = 0; i < 50; i++)
		b[i] = a[49 - i];
	assert_int_equal(simhash(a, 50), simhash(b, 50));
}

static void
test_heaviest_term_decides_when_it_outweighs_the_rest(void **state)
{
	struct term	t[3] = {
		{ 0x0123456789abcdefull, 1.0f, 0 },
		{ 0xfedcba9876543210ull, 2.0f, 0 },
		{ 0x0f0f0f0f0f0f0f0full, 0.5f, 0 },
	};

	(void)state;
	assert_int_equal(simhash(t, 3), simhash(t + 1, 1));
	assert_int_equal(simhash(NULL, 0), 0);
}

static void
test_fingerprints_are_the_same_on_every_machine(void **state)
{
	struct term	t[3] = { { 1, 1.0f, 0 }, { 2, 1.0f, 0 }, { 3, 1.0f, 0 } };

	(void)state;
	/* Golden values: a change here changes every stored fingerprint. */
	assert_int_equal(simhash(t, 3), 0x29195f580e5d5235ull);
	t[0].hash = 0xfedcba9876543210ull;
	assert_int_equal(simhash(t, 1), 0xd68d7f11972b579cull);
}

/* Past 65535 terms the 32-bit sums spill into 64-bit ones: repeating terms changes nothing. */
static void
test_many_terms_do_not_overflow_the_sums(void **state)
{
	struct term	two[2] = {
		{ 0x0123456789abcdefull, 2.0f, 0 },
		{ 0xfedcba9876543210ull, 1.0f, 0 },
	};
	size_t		n = 200000;
	struct term	*t = malloc(n * sizeof(*t));

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		t[i] = two[i % 2];
	assert_int_equal(simhash(t, n), simhash(two, 2));
	for (size_t i = 0; i < n; i++)
		t[i] = two[1];
	assert_int_equal(simhash(t, n), simhash(two + 1, 1));
	free(t);
}

static void
test_small_weight_change_gives_small_distance(void **state)
{
	struct term	a[200], b[200];
	uint64_t	rng = 3;
	unsigned	worst = 0;

	(void)state;
	for (int trial = 0; trial < 20; trial++) {
		random_terms(&rng, a, 200);
		memcpy(b, a, sizeof(a));
		for (size_t i = 0; i < 200; i += 10)
			b[i].weight *= 1.05f;
		b[199].hash ^= 1;		/* and one term replaced */
		unsigned d = simhash_distance(simhash(a, 200), simhash(b, 200));
		if (d > worst)
			worst = d;
	}
	assert_true(worst <= 6);
}

static void
test_unrelated_terms_differ_in_about_half_the_bits(void **state)
{
	struct term	a[100], b[100];
	uint64_t	rng = 4;
	unsigned	sum = 0;

	(void)state;
	for (int trial = 0; trial < 200; trial++) {
		random_terms(&rng, a, 100);
		random_terms(&rng, b, 100);
		sum += simhash_distance(simhash(a, 100), simhash(b, 100));
	}
	/* Mean of Binomial(64, 1/2) over 200 trials: 32, SD 0.28. */
	assert_true(sum >= 200 * 31 && sum <= 200 * 33);
}

static int
cmp_near(const void *a, const void *b, const uint64_t *fps, uint64_t q)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	unsigned	dx = simhash_distance(fps[x], q), dy = simhash_distance(fps[y], q);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	return (x > y) - (x < y);
}

/*
 * N random fingerprints plus, for some of them, planted neighbours at every
 * distance 0..k+2; every query must return exactly what a linear scan finds,
 * in the promised order.
 */
static void
check_against_scan(unsigned k, uint64_t seed)
{
	enum { N = 3000, MAXOUT = 64 };
	uint64_t	*fps = malloc(2 * N * sizeof(*fps)), rng = seed;
	struct simindex	*ix = simindex_new(k, fp_at, fps);
	uint32_t	 want[MAXOUT * 4], got[MAXOUT];
	size_t		 n = 0;

	assert_non_null(ix);
	assert_non_null(fps);
	for (unsigned i = 0; i < N; i++) {
		fps[n] = rng_next(&rng);
		assert_int_equal(simindex_insert(ix, (uint32_t)n, fps[n]), 0);
		n++;
		if (i % 3 == 0) {
			/* Distinct bits, so the distance is exactly d. */
			unsigned	d = i / 3 % (k + 3);
			uint64_t	fp = fps[n - 1];

			for (unsigned flipped = 0; flipped < d;) {
				uint64_t	bit = 1ull << (rng_next(&rng) % 64);

				if ((fp ^ fps[n - 1]) & bit)
					continue;
				fp ^= bit;
				flipped++;
			}
			fps[n] = fp;
			assert_int_equal(simindex_insert(ix, (uint32_t)n, fps[n]), 0);
			n++;
		}
	}
	for (size_t qi = 0; qi < n; qi++) {
		uint64_t	q = fps[qi];
		size_t		nw = 0, total;

		for (size_t j = 0; j < n; j++)
			if (simhash_distance(fps[j], q) <= k && nw < MAXOUT * 4)
				want[nw++] = (uint32_t)j;
		/* insertion sort by (distance, id); lists are short */
		for (size_t a = 1; a < nw; a++)
			for (size_t b = a; b > 0 && cmp_near(&want[b], &want[b - 1], fps, q) < 0; b--) {
				uint32_t	tmp = want[b];

				want[b] = want[b - 1];
				want[b - 1] = tmp;
			}
		total = simindex_query(ix, q, got, MAXOUT);
		assert_int_equal(total, nw);
		assert_memory_equal(got, want, (nw < MAXOUT ? nw : MAXOUT) * sizeof(*got));
		/* A short out gets the nearest. */
		if (nw >= 2) {
			assert_int_equal(simindex_query(ix, q, got, 1), nw);
			assert_int_equal(got[0], want[0]);
		}
	}
	simindex_free(ix);
	free(fps);
}

static void
test_index_finds_exactly_the_fingerprints_within_k3(void **state)
{
	(void)state;
	check_against_scan(3, 11);
}

static void
test_index_finds_exactly_the_fingerprints_within_k5(void **state)
{
	(void)state;
	check_against_scan(5, 12);
}

static void
test_index_works_for_every_k(void **state)
{
	(void)state;
	for (unsigned k = 0; k <= 7; k++)
		check_against_scan(k, 100 + k);
}

static void
test_query_orders_nearest_first_then_by_id(void **state)
{
	uint64_t	 fps[51] = { [50] = 0x7, [40] = 0x1, [30] = 0x0, [20] = 0x2, [10] = 0xf };
	struct simindex	*ix = simindex_new(3, fp_at, fps);
	uint32_t	 out[8];

	(void)state;
	assert_int_equal(simindex_insert(ix, 50, 0x7), 0);	/* distance 3 */
	assert_int_equal(simindex_insert(ix, 40, 0x1), 0);	/* 1 */
	assert_int_equal(simindex_insert(ix, 30, 0x0), 0);	/* 0 */
	assert_int_equal(simindex_insert(ix, 20, 0x2), 0);	/* 1 */
	assert_int_equal(simindex_insert(ix, 10, 0xf), 0);	/* 4: too far */
	assert_int_equal(simindex_query(ix, 0, out, 8), 4);
	assert_int_equal(out[0], 30);
	assert_int_equal(out[1], 20);
	assert_int_equal(out[2], 40);
	assert_int_equal(out[3], 50);
	/* Cut inside a distance: the smallest ids of it. */
	assert_int_equal(simindex_query(ix, 0, out, 2), 4);
	assert_int_equal(out[0], 30);
	assert_int_equal(out[1], 20);
	simindex_free(ix);
}

static void
test_removed_fingerprints_are_not_found_and_memory_shrinks(void **state)
{
	enum { N = 20000 };
	uint64_t	*fps = malloc(N * sizeof(*fps)), rng = 5;
	struct simindex	*ix = simindex_new(3, fp_at, fps);
	uint32_t	 out[4];
	size_t		 empty = simindex_memory(ix), full;

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		fps[i] = rng_next(&rng);
		assert_int_equal(simindex_insert(ix, i, fps[i]), 0);
		/* tables part split (one bucket an insert past the load): everything is found */
		for (unsigned j = 0; (i == 3000 || i == 12345) && j <= i; j++)
			assert_int_equal(simindex_query(ix, fps[j], out, 1), 1);
	}
	full = simindex_memory(ix);
	/*
	 * Per table: an id and a key an entry, doubled at worst by growth, a
	 * 16-byte bucket per 2 entries, doubled, and an allocator header per
	 * bucket in use. No fingerprints: they are the caller's.
	 */
	assert_true(full <= (size_t)4 * (N * 6 * 2 + 16384 * 16 + N * 16) + 1024);
	simindex_remove(ix, 1, fps[0]);		/* wrong fp: ignored */
	assert_int_equal(simindex_query(ix, fps[0], out, 4), 1);
	/*
	 * A wrong fp that shares table 0's block (bits 0-15) with id 2's: its
	 * bucket there holds id 2, the others do not. Ignored, not half removed.
	 */
	simindex_remove(ix, 2, fps[2] ^ 0xffffull << 48);
	assert_int_equal(simindex_query(ix, fps[2], out, 4), 1);
	assert_int_equal(out[0], 2);
	for (unsigned i = 0; i < N; i += 2)
		simindex_remove(ix, i, fps[i]);
	for (unsigned i = 0; i < N; i++) {
		size_t	m = simindex_query(ix, fps[i], out, 4);

		assert_int_equal(m, i % 2);
		if (m)
			assert_int_equal(out[0], i);
	}
	for (unsigned i = 1; i < N; i += 2)
		simindex_remove(ix, i, fps[i]);
	assert_true(simindex_memory(ix) < full / 8);
	assert_int_equal(simindex_query(ix, fps[1], out, 4), 0);
	simindex_free(ix);
	simindex_free(NULL);
	(void)empty;
	free(fps);
}

/*
 * An index that keeps room for N allocates its entry arrays and bucket
 * headers at once and keeps them: removing nearly everything leaves it at
 * least that large (a plain index shrinks), and both answer alike before,
 * after and past N.
 */
static void
test_kept_room_keeps_the_arrays_through_removals(void **state)
{
	enum { N = 20000, LEFT = 100 };
	uint64_t	*fps = malloc(3 * N * sizeof(*fps)), rng = 9;
	struct simindex	*kept = simindex_new(3, fp_at, fps), *plain = simindex_new(3, fp_at, fps);
	uint32_t	 a[8], b[8];
	size_t		 reserved, plain_full;

	(void)state;
	assert_non_null(kept);
	assert_non_null(plain);
	assert_non_null(fps);
	assert_int_equal(simindex_keep_room(kept, N), 0);
	reserved = simindex_memory(kept);
	assert_true(reserved >= (size_t)4 * N * 16);	/* a bucket header an entry, or more, a table */
	for (unsigned i = 0; i < 3 * N; i++)		/* some within distance 3 of another */
		fps[i] = i % 5 == 0 && i > 0 ? fps[i - 1] ^ (1ull << (i % 64)) : rng_next(&rng);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(simindex_insert(kept, i, fps[i]), 0);
		assert_int_equal(simindex_insert(plain, i, fps[i]), 0);
	}
	plain_full = simindex_memory(plain);
	for (unsigned i = 0; i < N - LEFT; i++) {
		simindex_remove(kept, i, fps[i]);
		simindex_remove(plain, i, fps[i]);
	}
	assert_true(simindex_memory(kept) >= reserved);
	assert_true(simindex_memory(plain) < plain_full / 8);
	for (unsigned i = N; i < 3 * N; i++) {		/* past the room */
		assert_int_equal(simindex_insert(kept, i, fps[i]), 0);
		assert_int_equal(simindex_insert(plain, i, fps[i]), 0);
	}
	for (unsigned i = 0; i < 3 * N; i += 7) {
		size_t	n = simindex_query(plain, fps[i], a, 8);

		assert_true(n >= 1 || i < N - LEFT);
		assert_int_equal(simindex_query(kept, fps[i], b, 8), n);
		assert_memory_equal(a, b, (n < 8 ? n : 8) * sizeof(*a));
	}
	simindex_free(kept);
	simindex_free(plain);
	free(fps);
}

/*
 * Copies of one text share a fingerprint: a query looks at the last
 * SIMINDEX_SCAN filed, and stays so while the oldest are removed (as
 * retention does) and after others are.
 */
static void
test_copies_of_one_fingerprint_are_looked_at_newest_first(void **state)
{
	enum { N = 2000 };
	uint64_t	 fp = 0x0123456789abcdefull, other = ~fp, fps[N + 1];
	struct simindex	*ix = simindex_new(3, fp_at, fps);
	uint32_t	*out = malloc(N * sizeof(*out));

	(void)state;
	assert_non_null(out);
	for (uint32_t i = 0; i < N; i++)
		fps[i] = fp;
	fps[N] = other;
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(simindex_insert(ix, i, fp), 0);
	assert_int_equal(simindex_insert(ix, N, other), 0);
	assert_int_equal(simindex_query(ix, fp, out, N), SIMINDEX_SCAN);
	for (uint32_t i = 0; i < SIMINDEX_SCAN; i++)
		assert_int_equal(out[i], N - SIMINDEX_SCAN + i);
	for (uint32_t i = 0; i < N / 2; i++)
		simindex_remove(ix, i, fp);
	assert_int_equal(simindex_query(ix, fp, out, N), SIMINDEX_SCAN);
	assert_int_equal(out[0], N - SIMINDEX_SCAN);
	for (uint32_t i = N - 100; i < N; i++)		/* the newest go too */
		simindex_remove(ix, i, fp);
	assert_int_equal(simindex_query(ix, fp, out, N), SIMINDEX_SCAN);
	assert_int_equal(out[0], N - 100 - SIMINDEX_SCAN);
	assert_int_equal(out[SIMINDEX_SCAN - 1], N - 101);
	assert_int_equal(simindex_query(ix, other, out, N), 1);
	assert_int_equal(out[0], N);
	for (uint32_t i = N / 2; i < N - 100; i++)
		simindex_remove(ix, i, fp);
	assert_int_equal(simindex_query(ix, fp, out, N), 0);
	assert_int_equal(simindex_query(ix, other, out, N), 1);
	simindex_free(ix);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical_terms_have_distance_zero),
		cmocka_unit_test(test_term_order_does_not_matter),
		cmocka_unit_test(test_heaviest_term_decides_when_it_outweighs_the_rest),
		cmocka_unit_test(test_fingerprints_are_the_same_on_every_machine),
		cmocka_unit_test(test_many_terms_do_not_overflow_the_sums),
		cmocka_unit_test(test_small_weight_change_gives_small_distance),
		cmocka_unit_test(test_unrelated_terms_differ_in_about_half_the_bits),
		cmocka_unit_test(test_index_finds_exactly_the_fingerprints_within_k3),
		cmocka_unit_test(test_index_finds_exactly_the_fingerprints_within_k5),
		cmocka_unit_test(test_index_works_for_every_k),
		cmocka_unit_test(test_query_orders_nearest_first_then_by_id),
		cmocka_unit_test(test_removed_fingerprints_are_not_found_and_memory_shrinks),
		cmocka_unit_test(test_kept_room_keeps_the_arrays_through_removals),
		cmocka_unit_test(test_copies_of_one_fingerprint_are_looked_at_newest_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
