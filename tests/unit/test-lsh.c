/* lsh: the S-curve parameters, recall as the S-curve predicts, removal, memory, reserving. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lsh.h"
#include "minhash.h"
#include "mix.h"

#define K	128

/* Signatures of two random sets of union 400 and Jaccard exactly j. */
static void
sign_pair(uint64_t *rng, double j, uint32_t *a, uint32_t *b)
{
	uint64_t	ha[400], hb[400];
	size_t		u = 400, common = (size_t)(j * u + 0.5), own = (u - common) / 2;
	size_t		na = 0, nb = 0;

	for (size_t i = 0; i < common; i++)
		ha[na++] = hb[nb++] = rng_next(rng);
	for (size_t i = 0; i < own; i++) {
		ha[na++] = rng_next(rng);
		hb[nb++] = rng_next(rng);
	}
	minhash_sign(ha, na, K, a);
	minhash_sign(hb, nb, K, b);
}

/*
 * The signatures the index reads back (lsh_rows_fn), by id, as last
 * inserted: open addressing over SIGS_CAP slots, emptied for each index.
 */
#define SIGS_CAP	(1u << 17)

static struct {
	uint32_t	 id[SIGS_CAP];
	const uint32_t	*sig[SIGS_CAP];
} sigs;

static const uint32_t **
sig_slot(uint32_t id)
{
	uint32_t	i = (id * 0x9e3779b1u) & (SIGS_CAP - 1);

	while (sigs.sig[i] != NULL && sigs.id[i] != id)
		i = (i + 1) & (SIGS_CAP - 1);
	sigs.id[i] = id;
	return &sigs.sig[i];
}

static void
sig_rows(void *arg, uint32_t id, unsigned from, unsigned n, uint32_t *out)
{
	const uint32_t	*sig = *sig_slot(id);

	(void)arg;
	assert_non_null(sig);
	if (out != NULL)
		memcpy(out, sig + from, n * sizeof(*out));
}

static struct lsh *
index_new(unsigned bands, unsigned rows)
{
	memset(&sigs, 0, sizeof(sigs));
	return lsh_new(bands, rows, sig_rows, NULL);
}

/* insert(), the signature kept for sig_rows() */
static int
insert(struct lsh *l, uint32_t id, const uint32_t *sig)
{
	*sig_slot(id) = sig;
	return lsh_insert(l, id, sig);
}

static int
contains(const uint32_t *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

static void
test_choose_fits_k_and_orders_by_threshold(void **state)
{
	unsigned	b5, r5, b8, r8;

	(void)state;
	lsh_choose(K, 0.5, &b5, &r5);
	lsh_choose(K, 0.8, &b8, &r8);
	assert_true(b5 * r5 <= K && b5 * r5 >= K - r5);
	assert_true(b8 * r8 <= K && b8 * r8 >= K - r8);
	/* datasketch's _optimal_param gives these for 128 permutations. */
	assert_int_equal(b8, 9);
	assert_int_equal(r8, 13);
	/* A higher threshold needs longer bands. */
	assert_true(r8 > r5 && b8 < b5);
	/* The S-curve's steep part sits near the threshold. */
	assert_true(lsh_probability(0.5, b5, r5) > 0.3 && lsh_probability(0.5, b5, r5) < 0.8);
	assert_true(lsh_probability(0.8, b8, r8) > 0.2 && lsh_probability(0.8, b8, r8) < 0.7);
}

/*
 * lsh_choose() as its definition reads: both error areas by Simpson's rule
 * over lsh_probability() at every point, for every split in turn.
 */
static double
error_area(double from, double to, unsigned b, unsigned r, int above)
{
	double	h = (to - from) / 200, sum = 0;

	for (unsigned i = 0; i <= 200; i++) {
		double	p = lsh_probability(from + i * h, b, r), y = above ? 1 - p : p;

		sum += (i == 0 || i == 200 ? 1 : i % 2 ? 4 : 2) * y;
	}
	return sum * h / 3;
}

static void
choose_by_definition(unsigned k, double t, unsigned *bands, unsigned *rows)
{
	double	best = INFINITY;

	for (unsigned b = 1; b <= k; b++)
		for (unsigned r = 1; r <= k / b; r++) {
			double	err = 0.5 * error_area(0, t, b, r, 0) + 0.5 * error_area(t, 1, b, r, 1);

			if (err < best) {
				best = err;
				*bands = b;
				*rows = r;
			}
		}
}

/*
 * The split the daemon chooses is the definition's, for sizes and
 * thresholds either side of the defaults.
 */
static void
test_choose_gives_the_definitions_split(void **state)
{
	static const unsigned	ks[] = { 16, 100, 128 };
	static const double	ts[] = { 0.1, 0.25, 0.3, 0.5, 0.7, 0.9 };
	unsigned		b, r, want_b = 0, want_r = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		for (size_t j = 0; j < sizeof(ts) / sizeof(ts[0]); j++) {
			lsh_choose(ks[i], ts[j], &b, &r);
			choose_by_definition(ks[i], ts[j], &want_b, &want_r);
			assert_int_equal(b, want_b);
			assert_int_equal(r, want_r);
		}
	/* the defaults: 128 values, a duplicate floor of 0.25 */
	lsh_choose(128, 0.25, &b, &r);
	assert_int_equal(b, 42);
	assert_int_equal(r, 3);
}

static void
test_probability_is_the_s_curve(void **state)
{
	(void)state;
	assert_float_equal(lsh_probability(0, 20, 5), 0, 1e-12);
	assert_float_equal(lsh_probability(1, 20, 5), 1, 1e-12);
	assert_float_equal(lsh_probability(0.5, 1, 1), 0.5, 1e-12);
	assert_float_equal(lsh_probability(0.5, 2, 2), 1 - 0.75 * 0.75, 1e-12);
}

/* Insert the first of n pairs at Jaccard j, query with the second; the share found. */
static double
recall(double j, unsigned b, unsigned r, unsigned n, uint64_t seed)
{
	struct lsh	*l = index_new(b, r);
	uint32_t	(*sa)[K] = malloc(n * sizeof(*sa)), (*sb)[K] = malloc(n * sizeof(*sb));
	uint32_t	out[64];
	unsigned	found = 0;

	assert_non_null(l);
	assert_non_null(sa);
	assert_non_null(sb);
	for (unsigned i = 0; i < n; i++) {
		sign_pair(&seed, j, sa[i], sb[i]);
		assert_int_equal(insert(l, i, sa[i]), 0);
	}
	assert_int_equal(lsh_count(l), n);
	for (unsigned i = 0; i < n; i++) {
		size_t	m = lsh_query(l, sb[i], out, 64);

		found += contains(out, m < 64 ? m : 64, i);
	}
	lsh_free(l);
	free(sa);
	free(sb);
	return (double)found / n;
}

static void
test_recall_follows_the_s_curve(void **state)
{
	unsigned	b, r;
	double		p, got;

	(void)state;
	lsh_choose(K, 0.5, &b, &r);
	got = recall(0.8, b, r, 1000, 1);
	assert_true(got >= lsh_probability(0.8, b, r) - 0.02);
	/* Mid-curve, where the count says something: 1000 pairs, SD ~ 0.016. */
	p = lsh_probability(0.5, b, r);
	got = recall(0.5, b, r, 1000, 2);
	assert_true(got > p - 0.06 && got < p + 0.06);
	/* Far below the threshold almost nothing becomes a candidate. */
	got = recall(0.1, b, r, 1000, 3);
	assert_true(got <= 0.005);
}

static void
test_query_returns_each_id_once_in_band_order(void **state)
{
	struct lsh	*l = index_new(16, 8);
	uint32_t	 sig[K], out[8];

	(void)state;
	for (unsigned i = 0; i < K; i++)
		sig[i] = i * 7919;
	assert_int_equal(insert(l, 42, sig), 0);
	assert_int_equal(insert(l, 7, sig), 0);
	assert_int_equal(insert(l, 99, sig), 0);
	/* Every band agrees; each id still comes once, in insertion order. */
	assert_int_equal(lsh_query(l, sig, out, 8), 3);
	assert_int_equal(out[0], 42);
	assert_int_equal(out[1], 7);
	assert_int_equal(out[2], 99);
	/* The count is of all candidates; only max are written. */
	out[1] = 12345;
	assert_int_equal(lsh_query(l, sig, out, 1), 3);
	assert_int_equal(out[0], 42);
	assert_int_equal(out[1], 12345);
	lsh_free(l);
}

static void
test_removed_ids_are_not_returned_and_memory_shrinks(void **state)
{
	enum { N = 5000 };
	struct lsh	*l = index_new(25, 5);
	uint32_t	(*sig)[K] = malloc(N * sizeof(*sig));
	uint64_t	 rng = 7;
	uint32_t	 out[16];
	size_t		 empty = lsh_memory(l), full;

	(void)state;
	assert_non_null(sig);
	for (unsigned i = 0; i < N; i++) {
		uint64_t	h[50];

		for (unsigned e = 0; e < 50; e++)
			h[e] = rng_next(&rng);
		minhash_sign(h, 50, K, sig[i]);
		assert_int_equal(insert(l, i, sig[i]), 0);
	}
	/* A duplicate of item 0 shares every bucket with it. */
	assert_int_equal(insert(l, N, sig[0]), 0);
	full = lsh_memory(l);
	assert_true(full > empty);
	/*
	 * Slots are 4 bytes, tables at least 31/50 full while they grow, and
	 * one band's old table besides while it moves: 806 KB here (6-byte
	 * slots took 1.2 MB).
	 */
	assert_true(full < (size_t)(N + 1) * 25 * 4 * 50 / 31 + (size_t)(N + 1) * 4 * 2 + 4096);

	lsh_remove(l, 0, sig[0]);
	assert_int_equal(lsh_count(l), N);
	assert_int_equal(lsh_query(l, sig[0], out, 16), 1);
	assert_int_equal(out[0], N);
	lsh_remove(l, N, sig[0]);
	assert_int_equal(lsh_query(l, sig[0], out, 16), 0);

	for (unsigned i = 1; i < N; i++)
		lsh_remove(l, i, sig[i]);
	assert_int_equal(lsh_count(l), 0);
	assert_int_equal(lsh_query(l, sig[1], out, 16), 0);
	assert_int_equal(lsh_memory(l), empty);
	lsh_free(l);
	free(sig);
}

/*
 * More candidates than lsh_query() dedupes on the stack (512), each in two
 * bands' buckets: each comes once, first band first, and within a band in
 * insertion order, the ids reported before the set moved to the heap among
 * those it holds after.
 */
static void
candidates_deduplicated(unsigned n, unsigned bands, unsigned rows)
{
	struct lsh	*l = index_new(bands, rows);
	uint32_t	 q[K], (*sig)[K] = malloc(n * sizeof(*sig)), *out = malloc(n * sizeof(*out));
	uint8_t		*seen = calloc(n, 1);
	size_t		 m = 0;

	assert_non_null(sig);
	assert_non_null(out);
	assert_non_null(seen);
	assert_true(bands * rows <= K && n * 2 / bands <= LSH_BUCKET_MAX);
	for (unsigned r = 0; r < K; r++)
		q[r] = r;
	for (unsigned i = 0; i < n; i++) {
		for (unsigned r = 0; r < K; r++) {
			unsigned	b = r / rows;

			/* id i shares bands i % bands and (i + 1) % bands with q */
			sig[i][r] = b == i % bands || b == (i + 1) % bands ? q[r] : 100000 + i * K + r;
		}
		assert_int_equal(insert(l, i, sig[i]), 0);
	}
	assert_int_equal(lsh_query(l, q, out, n), n);
	for (unsigned b = 0; b < bands; b++)
		for (unsigned i = 0; i < n; i++)
			if ((b == i % bands || b == (i + 1) % bands) && !seen[i]) {
				seen[i] = 1;
				assert_int_equal(out[m++], i);
			}
	assert_int_equal(m, n);
	assert_int_equal(lsh_query(l, q, out, 10), n);	/* all counted, ten reported */
	for (unsigned i = 0; i < n; i += 2)
		lsh_remove(l, i, sig[i]);
	assert_int_equal(lsh_query(l, q, out, n), n / 2);
	lsh_free(l);
	free(sig);
	free(out);
	free(seen);
}

static void
test_large_candidate_sets_are_deduplicated(void **state)
{
	(void)state;
	candidates_deduplicated(1000, 20, 6);	/* the set moves to the heap once */
	candidates_deduplicated(2400, 40, 3);	/* and grows twice more there */
}

/*
 * Different values whose tags agree (24 bits of hash, so among 16,384 sets
 * of values a few pairs do) share one bucket: a query for either finds
 * both, in insertion order, and once the first is removed the others.
 */
static void
test_values_of_one_tag_share_a_bucket(void **state)
{
	enum { N = 16384 };
	struct lsh	*l = index_new(1, 1);
	uint32_t	*v = malloc(N * sizeof(*v)), out[8], out2[8];
	unsigned	 pairs = 0;

	(void)state;
	assert_non_null(v);
	for (uint32_t i = 0; i < N; i++) {
		v[i] = i;
		assert_int_equal(insert(l, i, &v[i]), 0);
	}
	for (uint32_t i = 0; i < N; i++) {
		size_t	n = lsh_query(l, &v[i], out, 8);

		assert_true(n >= 1 && n <= 8 && contains(out, n, i));
		if (n == 1 || out[0] != i)
			continue;
		/* i leads a bucket that others joined: each finds the same ids */
		for (size_t k = 1; k < n; k++) {
			assert_true(out[k] > out[k - 1]);
			assert_int_equal(lsh_query(l, &v[out[k]], out2, 8), n);
			assert_memory_equal(out, out2, n * sizeof(*out));
		}
		pairs += (unsigned)(n - 1);
		lsh_remove(l, i, &v[i]);
		assert_int_equal(lsh_query(l, &v[out[1]], out2, 8), n - 1);
		assert_memory_equal(out + 1, out2, (n - 1) * sizeof(*out));
	}
	assert_true(pairs > 0);
	lsh_free(l);
	free(v);
}

/*
 * Copies of one text share every bucket: a bucket keeps the newest
 * LSH_BUCKET_MAX ids, in insertion order, the older ones still held; a
 * filled index keeps the same ones; removals of dropped and kept ids count.
 */
static void
test_full_buckets_keep_their_newest_ids(void **state)
{
	enum { N = 600, COPIES = N / 2 };
	struct lsh	*l = index_new(1, 1), *filled = lsh_new(1, 1, sig_rows, NULL);
	uint32_t	 key[N + 2], ids[N], out[N], out2[N], copy = 7;
	size_t		 n;

	(void)state;
	assert_non_null(filled);
	for (uint32_t i = 0; i < N + 2; i++)
		key[i] = i % 2 == 0 || i >= N ? copy : 1000 + i;	/* even ids: copies */
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(insert(l, i, &key[i]), 0);
		ids[i] = i;
	}
	assert_int_equal(lsh_count(l), N);
	n = lsh_query(l, &copy, out, N);
	assert_int_equal(n, LSH_BUCKET_MAX);
	for (uint32_t i = 0; i < LSH_BUCKET_MAX; i++)
		assert_int_equal(out[i], 2 * (COPIES - LSH_BUCKET_MAX + i));
	assert_int_equal(lsh_query(l, &key[1], out, N), 1);
	assert_int_equal(out[0], 1);

	assert_int_equal(lsh_fill(filled, ids, N), 0);
	assert_int_equal(lsh_count(filled), N);
	assert_int_equal(lsh_query(filled, &copy, out2, N), LSH_BUCKET_MAX);
	n = lsh_query(l, &copy, out, N);
	assert_memory_equal(out, out2, n * sizeof(*out));

	lsh_remove(l, 0, &key[0]);		/* dropped from the bucket, still held */
	lsh_remove(l, N - 2, &key[N - 2]);	/* the newest copy */
	assert_int_equal(lsh_count(l), N - 2);
	assert_int_equal(lsh_query(l, &copy, out, N), LSH_BUCKET_MAX - 1);
	assert_int_equal(out[LSH_BUCKET_MAX - 2], N - 4);
	assert_int_equal(insert(l, N, &key[N]), 0);	/* room again: nothing dropped */
	assert_int_equal(lsh_query(l, &copy, out, N), LSH_BUCKET_MAX);
	assert_int_equal(out[0], 2 * (COPIES - LSH_BUCKET_MAX));
	assert_int_equal(out[LSH_BUCKET_MAX - 1], N);
	assert_int_equal(insert(l, N + 1, &key[N + 1]), 0);	/* full: the oldest goes */
	assert_int_equal(lsh_query(l, &copy, out, N), LSH_BUCKET_MAX);
	assert_int_equal(out[0], 2 * (COPIES - LSH_BUCKET_MAX) + 2);
	assert_int_equal(out[LSH_BUCKET_MAX - 1], N + 1);
	lsh_free(l);
	lsh_free(filled);
}

/*
 * One band of one row against a model: each key's ids in insertion order,
 * through growth, removals (shrinking), runs that wrap the table's end, and
 * keys that agree only below bit 16 (lsh.h: values compare on 16 bits).
 */
static void
test_buckets_keep_insertion_order_through_growth_and_removal(void **state)
{
	enum { N = 4000, KEYS = 97 };
	struct lsh	*l = index_new(1, 1);
	uint32_t	*key = malloc(N * sizeof(*key)), *out = malloc(N * sizeof(*out));
	uint8_t		*held = calloc(N, 1);
	uint64_t	 rng = 11;

	(void)state;
	assert_non_null(key);
	assert_non_null(out);
	assert_non_null(held);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t	v = (uint32_t)(rng_next(&rng) % KEYS);

		key[i] = v | (uint32_t)(rng_next(&rng) % 4) << 16;	/* high bits ignored */
		assert_int_equal(insert(l, i, &key[i]), 0);
		held[i] = 1;
		if (i % 3 == 2) {	/* remove a random earlier one */
			uint32_t	r = (uint32_t)(rng_next(&rng) % i);

			if (held[r]) {
				lsh_remove(l, r, &key[r]);
				held[r] = 0;
			}
		}
		if (i % 500 == 499 || i == N - 1) {
			for (uint32_t v = 0; v < KEYS; v++) {
				size_t	n = lsh_query(l, &v, out, N), m = 0;

				for (uint32_t j = 0; j <= i; j++)
					if (held[j] && (key[j] & 0xffff) == v) {
						assert_true(m < n);
						assert_int_equal(out[m], j);
						m++;
					}
				assert_int_equal(m, n);
			}
		}
	}
	for (uint32_t i = 0; i < N; i++)
		if (held[i])
			lsh_remove(l, i, &key[i]);
	assert_int_equal(lsh_count(l), 0);
	lsh_free(l);
	free(key);
	free(out);
	free(held);
}

/*
 * Past MOVE_AT_ONCE slots a table changes size a few slots per insert or
 * removal (lsh.c, move_start()): one band against a model, checked just
 * after each move starts and every 250 operations, growing to ~45,000 ids
 * and shrinking back, each key's ids in insertion order throughout.
 */
static void
test_tables_moving_in_steps_answer_as_before(void **state)
{
	enum { N = 60000, KEYS = 1499 };
	struct lsh	*l = index_new(1, 1);
	uint32_t	*key = malloc(N * sizeof(*key)), *out = malloc(N * sizeof(*out));
	uint32_t	*order = malloc(N * sizeof(*order)), *start = malloc((KEYS + 1) * sizeof(*start));
	uint32_t	*pos = malloc(KEYS * sizeof(*pos));
	uint8_t		*held = calloc(N, 1);
	uint64_t	 rng = 13;
	size_t		 peak = 0, nheld = 0, mem = 0, since_change = 0;
	int		 phase;

	(void)state;
	assert_non_null(l);
	assert_non_null(key);
	assert_non_null(out);
	assert_non_null(order);
	assert_non_null(start);
	assert_non_null(pos);
	assert_non_null(held);
	for (uint32_t i = 0; i < N; i++)
		key[i] = (uint32_t)(rng_next(&rng) % KEYS);
	/* phase 0 inserts all (removing one in four), phase 1 removes in random order */
	for (phase = 0; phase < 2; phase++) {
		for (uint32_t i = 0; i < N; i++) {
			if (phase == 0) {
				assert_int_equal(insert(l, i, &key[i]), 0);
				held[i] = 1;
				nheld++;
			}
			if (phase == 1 || i % 4 == 3) {
				uint32_t	r = phase == 1 ? (uint32_t)((uint64_t)i * 7919 % N) :
				    (uint32_t)(rng_next(&rng) % (i + 1));

				if (held[r]) {
					lsh_remove(l, r, &key[r]);
					held[r] = 0;
					nheld--;
				}
			}
			/* check at a move's first inserts (two tables held), and every 250 */
			if (lsh_memory(l) != mem) {
				mem = lsh_memory(l);
				since_change = 0;
			}
			since_change++;
			if (mem > peak)
				peak = mem;
			if (i % 250 != 249 && since_change != 2 && since_change != 9)
				continue;
			/* the model: held ids by key, in insertion order (a counting sort) */
			memset(start, 0, (KEYS + 1) * sizeof(*start));
			for (uint32_t j = 0; j < N; j++)
				start[key[j] + 1] += held[j];
			for (uint32_t v = 0; v < KEYS; v++)
				start[v + 1] += start[v];
			memcpy(pos, start, KEYS * sizeof(*pos));
			for (uint32_t j = 0; j < N; j++)
				if (held[j])
					order[pos[key[j]]++] = j;
			for (uint32_t v = 0; v < KEYS; v++) {
				size_t	n = lsh_query(l, &v, out, N);

				assert_int_equal(n, start[v + 1] - start[v]);
				assert_memory_equal(out, order + start[v], n * sizeof(*out));
			}
			assert_int_equal(lsh_count(l), nheld);
		}
	}
	assert_int_equal(lsh_count(l), 0);
	/* grown well past moving at once, and back down to the smallest table */
	assert_true(peak > 400000);
	assert_true(lsh_memory(l) < 4096);
	lsh_free(l);
	free(key);
	free(out);
	free(order);
	free(start);
	free(pos);
	free(held);
}

/*
 * A moving table takes its ids' tags in id order first (lsh.c,
 * move_keep()). Ids removed and filed again under other keys meanwhile,
 * before and after the pass reaches them, must be found under their new
 * keys only, in the order they were filed, as the index grows through
 * many moves.
 */
static void
test_ids_filed_again_while_tables_move_are_found_by_their_new_key(void **state)
{
	enum { N = 30000, KEYS = 1499, SPACE = 2 * N };	/* no two of these keys share a tag */
	struct lsh	*l = index_new(1, 1);
	uint32_t	*key = malloc(SPACE * sizeof(*key)), *out = malloc(SPACE * sizeof(*out));
	uint64_t	*stamp = calloc(SPACE, sizeof(*stamp));	/* when filed; 0: not held */
	uint32_t	*order = malloc(SPACE * sizeof(*order)), *start = malloc((KEYS + 1) * sizeof(*start));
	uint64_t	 rng = 17, now = 0;
	size_t		 peak = 0, checks_moving = 0;
	uint32_t	 next = 0;

	(void)state;
	assert_non_null(key);
	assert_non_null(out);
	assert_non_null(stamp);
	assert_non_null(order);
	assert_non_null(start);
	for (uint32_t i = 0; i < N; i++) {
		/* a new id, and an earlier one removed and filed again under another key */
		key[next] = (uint32_t)(rng_next(&rng) % KEYS);
		assert_int_equal(insert(l, next, &key[next]), 0);
		stamp[next++] = ++now;
		if (next > 1) {
			uint32_t	r = (uint32_t)(rng_next(&rng) % (next - 1));

			lsh_remove(l, r, &key[r]);
			key[r] = (uint32_t)(rng_next(&rng) % KEYS);
			assert_int_equal(insert(l, r, &key[r]), 0);
			stamp[r] = ++now;
		}
		if (lsh_memory(l) > peak)
			peak = lsh_memory(l);
		if (i % 37 != 36)
			continue;
		/* two tables held: a move under way (a table of many ids, most of the time) */
		checks_moving += lsh_memory(l) > (size_t)next * 8;
		/* the model: ids by key (a counting sort), each key's by when filed */
		memset(start, 0, (KEYS + 1) * sizeof(*start));
		for (uint32_t id = 0; id < next; id++)
			start[key[id] + 1]++;
		for (uint32_t v = 0; v < KEYS; v++)
			start[v + 1] += start[v];
		memcpy(out, start, KEYS * sizeof(*out));
		for (uint32_t id = 0; id < next; id++)
			order[out[key[id]]++] = id;
		for (uint32_t v = 0; v < KEYS; v++) {
			uint32_t	*o = order + start[v];
			size_t		 m = start[v + 1] - start[v], n;

			for (size_t x = 1; x < m; x++)
				for (size_t y = x; y > 0 && stamp[o[y - 1]] > stamp[o[y]]; y--) {
					uint32_t	t = o[y];

					o[y] = o[y - 1];
					o[y - 1] = t;
				}
			n = lsh_query(l, &v, out, SPACE);
			assert_int_equal(n, m);
			assert_memory_equal(out, o, m * sizeof(*out));
		}
	}
	assert_int_equal(lsh_count(l), N);
	assert_true(peak > 100000);	/* grown through moves well past moving at once */
	assert_true(checks_moving > 20);
	lsh_free(l);
	free(key);
	free(out);
	free(stamp);
	free(order);
	free(start);
}

/* lsh.c handles tags 64 bands at a time, and lsh_query() keeps 256. */
static void
test_bands_past_the_tag_batches_are_found_and_removed(void **state)
{
	enum { B = 300 };
	struct lsh	*l = index_new(B, 1);
	uint32_t	 q[B], a[B], b[B], c[B], out[4];

	(void)state;
	for (unsigned i = 0; i < B; i++) {
		q[i] = i;
		a[i] = b[i] = 100000 + i;
		c[i] = 200000 + i;
	}
	a[290] = b[290] = 290;
	c[70] = 70;
	assert_int_equal(insert(l, 1, a), 0);
	assert_int_equal(insert(l, 2, b), 0);
	assert_int_equal(insert(l, 3, c), 0);
	assert_int_equal(lsh_query(l, q, out, 4), 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 2);
	lsh_remove(l, 1, a);
	assert_int_equal(lsh_count(l), 2);
	assert_int_equal(lsh_query(l, q, out, 4), 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 2);
	assert_int_equal(lsh_query(l, a, out, 4), 1);
	assert_int_equal(out[0], 2);
	lsh_free(l);
}

/*
 * cluster_load() reserves before inserting: the tables come out the size
 * that growing gives them, so memory is the same, the n inserts and queries
 * afterwards move nothing, and every query finds the same ids in the same
 * order (which candidates CAND_MAX keeps depends on it).
 */
static void
test_reserved_index_is_the_grown_one(void **state)
{
	enum { N = 3000, KEYS = 20 };
	struct lsh	*grown = index_new(20, 6), *reserved = index_new(20, 6);
	uint32_t	(*sig)[K] = malloc(N * sizeof(*sig));
	uint32_t	*a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
	uint64_t	 rng = 5;
	size_t		 mem;

	(void)state;
	assert_non_null(grown);
	assert_non_null(reserved);
	assert_non_null(sig);
	assert_non_null(a);
	assert_non_null(b);
	/* few distinct keys per band, so buckets hold many ids in insertion order */
	for (unsigned i = 0; i < N; i++)
		for (unsigned v = 0; v < K; v++)
			sig[i][v] = (uint32_t)(rng_next(&rng) % (v % 6 == 0 ? KEYS : 2));
	assert_int_equal(lsh_reserve(reserved, N), 0);
	mem = lsh_memory(reserved);
	assert_int_equal(lsh_reserve(reserved, N / 2), 0);	/* never shrinks */
	assert_int_equal(lsh_memory(reserved), mem);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(insert(grown, i, sig[i]), 0);
		assert_int_equal(insert(reserved, i, sig[i]), 0);
	}
	assert_int_equal(lsh_memory(reserved), mem);
	assert_int_equal(lsh_memory(grown), mem);
	assert_int_equal(lsh_count(reserved), N);
	for (unsigned i = 0; i < N; i += 7) {
		size_t	n = lsh_query(grown, sig[i], a, N);

		assert_true(n >= 1);
		assert_int_equal(lsh_query(reserved, sig[i], b, N), n);
		assert_memory_equal(a, b, n * sizeof(*a));
	}
	/* the next insert grows both alike */
	assert_int_equal(insert(grown, N, sig[0]), 0);
	assert_int_equal(insert(reserved, N, sig[0]), 0);
	assert_int_equal(lsh_memory(reserved), lsh_memory(grown));
	/* more than a table can hold: refused, and the index still works */
	if (SIZE_MAX > UINT32_MAX)
		assert_int_equal(lsh_reserve(reserved, (size_t)UINT32_MAX + 1), -ENOMEM);
	assert_int_equal(lsh_query(reserved, sig[0], b, N), lsh_query(grown, sig[0], a, N));
	lsh_free(grown);
	lsh_free(reserved);
	free(sig);
	free(a);
	free(b);
}

/*
 * An index that keeps room for N sizes its tables once: N inserts move no
 * table, removing nearly all of them shrinks none (a plain index shrinks),
 * and both answer alike throughout. Past N the tables grow as before.
 */
static void
test_kept_room_holds_the_tables_through_inserts_and_removals(void **state)
{
	enum { N = 5000, LEFT = 300 };
	struct lsh	*kept = index_new(25, 5), *plain = lsh_new(25, 5, sig_rows, NULL);
	uint32_t	(*sig)[K] = malloc(3 * N * sizeof(*sig));
	uint32_t	 a[64], b[64];
	uint64_t	 rng = 11;
	size_t		 mem, plain_full;

	(void)state;
	assert_non_null(kept);
	assert_non_null(plain);
	assert_non_null(sig);
	assert_int_equal(lsh_keep_room(kept, N), 0);
	mem = lsh_memory(kept);
	for (unsigned i = 0; i < 3 * N; i++) {
		uint64_t	h[50];

		for (unsigned e = 0; e < 50; e++)
			h[e] = rng_next(&rng) % (i % 4 == 0 ? 50 : 100000);	/* some share buckets */
		minhash_sign(h, 50, K, sig[i]);
	}
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(insert(kept, i, sig[i]), 0);
		assert_int_equal(lsh_insert(plain, i, sig[i]), 0);
		assert_int_equal(lsh_memory(kept), mem);
	}
	plain_full = lsh_memory(plain);
	for (unsigned i = 0; i < N - LEFT; i++) {
		lsh_remove(kept, i, sig[i]);
		lsh_remove(plain, i, sig[i]);
	}
	assert_int_equal(lsh_memory(kept), mem);
	assert_true(lsh_memory(plain) < plain_full / 4);
	assert_int_equal(lsh_count(kept), LEFT);
	for (unsigned i = 0; i < N; i += 5) {
		size_t	n = lsh_query(plain, sig[i], a, 64);

		assert_int_equal(lsh_query(kept, sig[i], b, 64), n);
		assert_memory_equal(a, b, (n < 64 ? n : 64) * sizeof(*a));
		assert_true(n > 0 || i < N - LEFT);
	}
	/* past the room, the tables grow */
	for (unsigned i = N; i < 3 * N; i++) {
		assert_int_equal(insert(kept, i, sig[i]), 0);
		assert_int_equal(lsh_insert(plain, i, sig[i]), 0);
	}
	assert_true(lsh_memory(kept) > mem);
	for (unsigned i = N; i < 3 * N; i += 11) {
		size_t	n = lsh_query(plain, sig[i], a, 64);

		assert_true(n >= 1);
		assert_int_equal(lsh_query(kept, sig[i], b, 64), n);
		assert_memory_equal(a, b, (n < 64 ? n : 64) * sizeof(*a));
	}
	lsh_free(kept);
	lsh_free(plain);
	free(sig);
}

/*
 * A slot keeps 24 bits of an id: every id below LSH_ID_LIMIT comes back as
 * it went in, however its bits fall, through growth and removal.
 */
static void
test_ids_up_to_the_limit_come_back_whole(void **state)
{
	static const uint32_t	ids[] = { 0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x123456,
	    0xabcdef, 0xff00ff, LSH_ID_LIMIT - 2, LSH_ID_LIMIT - 1 };
	enum { N = sizeof(ids) / sizeof(ids[0]), FILL = 5000 };
	struct lsh	*l = index_new(4, 2);
	uint32_t	 sig[8], other[8], out[N];
	uint64_t	 rng = 21;

	(void)state;
	for (unsigned i = 0; i < 8; i++)
		sig[i] = i * 31 + 5;
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(insert(l, ids[i], sig), 0);
	/* others around them make every table grow and move */
	for (uint32_t i = 0; i < FILL; i++) {
		for (unsigned v = 0; v < 8; v++)
			other[v] = (uint32_t)rng_next(&rng);
		assert_int_equal(insert(l, 0x200000 + i, other), 0);
	}
	assert_int_equal(lsh_query(l, sig, out, N), N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(out[i], ids[i]);
	lsh_remove(l, LSH_ID_LIMIT - 1, sig);
	lsh_remove(l, 0, sig);
	assert_int_equal(lsh_query(l, sig, out, N), N - 2);
	for (unsigned i = 0; i < N - 2; i++)
		assert_int_equal(out[i], ids[i + 1]);
	assert_int_equal(lsh_count(l), N - 2 + FILL);
	lsh_free(l);
}

struct fill_sigs {
	const uint32_t	*v;	/* 8 values an id */
};

static void
fill_rows(void *arg, uint32_t id, unsigned from, unsigned n, uint32_t *out)
{
	const struct fill_sigs	*f = arg;

	if (out != NULL)
		memcpy(out, f->v + (size_t)id * 8 + from, n * sizeof(*out));
}

/*
 * lsh_fill() against insert() one by one in the same order: every query
 * gets the same ids in the same order, and both go on alike through later
 * removals and inserts.
 */
static void
test_a_filled_index_answers_as_one_inserted_in_turn(void **state)
{
	enum { N = 20000, Q = 3000 };
	struct lsh		*one, *filled;
	uint32_t		*v = malloc((size_t)(N + 1000) * 8 * sizeof(*v));
	uint32_t		*ids = malloc(N * sizeof(*ids)), *o1 = malloc(N * sizeof(*o1));
	uint32_t		*o2 = malloc(N * sizeof(*o2));
	struct fill_sigs	 f = { v };
	uint64_t		 rng = 31;

	(void)state;
	one = lsh_new(4, 2, fill_rows, &f);
	filled = lsh_new(4, 2, fill_rows, &f);
	assert_non_null(v);
	assert_non_null(ids);
	assert_non_null(o1);
	assert_non_null(o2);
	for (size_t i = 0; i < (size_t)(N + 1000) * 8; i++)
		v[i] = (uint32_t)(rng_next(&rng) % 40);	/* small buckets of many ids */
	for (uint32_t i = 0; i < N; i++)
		ids[i] = i;
	for (uint32_t i = N - 1; i > 0; i--) {		/* an order other than the ids' */
		uint32_t	j = (uint32_t)(rng_next(&rng) % (i + 1)), t = ids[i];

		ids[i] = ids[j];
		ids[j] = t;
	}
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(lsh_insert(one, ids[i], v + (size_t)ids[i] * 8), 0);
	assert_int_equal(lsh_fill(filled, ids, N), 0);
	assert_int_equal(lsh_count(filled), N);
	for (int round = 0; round < 2; round++) {
		for (uint32_t q = 0; q < Q; q++) {
			const uint32_t	*sig = v + (size_t)(q * 7 % N) * 8;
			size_t		 n1 = lsh_query(one, sig, o1, N), n2 = lsh_query(filled, sig, o2, N);

			assert_int_equal(n1, n2);
			assert_true(n1 > 0);
			assert_memory_equal(o1, o2, (n1 < N ? n1 : N) * sizeof(*o1));
		}
		if (round == 1)
			break;
		/* then both change alike */
		for (uint32_t i = 0; i < N; i += 3) {
			lsh_remove(one, ids[i], v + (size_t)ids[i] * 8);
			lsh_remove(filled, ids[i], v + (size_t)ids[i] * 8);
		}
		for (uint32_t i = N; i < N + 1000; i++) {
			assert_int_equal(lsh_insert(one, i, v + (size_t)i * 8), 0);
			assert_int_equal(lsh_insert(filled, i, v + (size_t)i * 8), 0);
		}
	}
	assert_int_equal(lsh_count(one), lsh_count(filled));
	lsh_free(one);
	lsh_free(filled);
	free(v);
	free(ids);
	free(o1);
	free(o2);
}

static void
test_free_null_is_a_no_op(void **state)
{
	(void)state;
	lsh_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_fits_k_and_orders_by_threshold),
		cmocka_unit_test(test_choose_gives_the_definitions_split),
		cmocka_unit_test(test_probability_is_the_s_curve),
		cmocka_unit_test(test_recall_follows_the_s_curve),
		cmocka_unit_test(test_query_returns_each_id_once_in_band_order),
		cmocka_unit_test(test_removed_ids_are_not_returned_and_memory_shrinks),
		cmocka_unit_test(test_large_candidate_sets_are_deduplicated),
		cmocka_unit_test(test_values_of_one_tag_share_a_bucket),
		cmocka_unit_test(test_full_buckets_keep_their_newest_ids),
		cmocka_unit_test(test_buckets_keep_insertion_order_through_growth_and_removal),
		cmocka_unit_test(test_tables_moving_in_steps_answer_as_before),
		cmocka_unit_test(test_ids_filed_again_while_tables_move_are_found_by_their_new_key),
		cmocka_unit_test(test_bands_past_the_tag_batches_are_found_and_removed),
		cmocka_unit_test(test_reserved_index_is_the_grown_one),
		cmocka_unit_test(test_kept_room_holds_the_tables_through_inserts_and_removals),
		cmocka_unit_test(test_ids_up_to_the_limit_come_back_whole),
		cmocka_unit_test(test_a_filled_index_answers_as_one_inserted_in_turn),
		cmocka_unit_test(test_free_null_is_a_no_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
