/*
 * test-cluster: duplicate groups, stories and the feed, on hand-made docs:
 * signatures, SimHash values and terms are built here, so these tests do not
 * depend on normalize.c or terms.c.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "cluster.h"
#include "verdict-equal.h"

#define DAY	86400
#define T0	1687132800	/* 2023-06-19T00:00:00Z */

struct tdoc {
	struct doc	 d;
	struct terms	 t;
	uint32_t	*sig;
	unsigned	 k;
};

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int
cmp_term(const void *pa, const void *pb)
{
	const struct term	*a = pa, *b = pb;

	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/* Terms from "word word:3 other": weight 1 each, or as given; repeats add up. */
static void
terms_from(struct terms *t, const char *spec)
{
	char	*copy = strdup(spec), *save = NULL, *w;
	size_t	 i;

	assert_non_null(copy);
	memset(t, 0, sizeof(*t));
	t->cap = 64;
	t->v = calloc(t->cap, sizeof(*t->v));
	t->words_cap = strlen(spec) + 1;
	t->words = calloc(t->words_cap, 1);
	assert_true(t->v != NULL && t->words != NULL);
	for (w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		char		*colon = strchr(w, ':');
		float		 weight = colon ? strtof(colon + 1, NULL) : 1;
		uint64_t	 h;

		if (colon)
			*colon = '\0';
		h = XXH3_64bits(w, strlen(w));
		for (i = 0; i < t->n && t->v[i].hash != h; i++)
			;
		if (i < t->n) {
			t->v[i].weight += weight;
			continue;
		}
		assert_true(t->n < t->cap);
		t->v[t->n++] = (struct term){ .hash = h, .weight = weight,
		    .word = (uint32_t)t->words_len };
		memcpy(t->words + t->words_len, w, strlen(w) + 1);
		t->words_len += strlen(w) + 1;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_term);
	free(copy);
}

/* A doc unrelated to any other seed: random signature, SimHash and exact hash. */
static void
tdoc_make(struct tdoc *td, const struct cluster_params *p, uint64_t seed,
    const char *spec, int64_t published)
{
	unsigned	i;

	memset(td, 0, sizeof(*td));
	td->k = p->k;
	td->sig = malloc(p->k * sizeof(*td->sig));
	assert_non_null(td->sig);
	for (i = 0; i < p->k; i++)
		td->sig[i] = (uint32_t)mix(seed * 1000003 + i) & 0x7fffffff;
	terms_from(&td->t, spec);
	td->d = (struct doc){ .exact = mix(seed ^ 0xe1), .simhash = mix(seed ^ 0x51),
	    .published = published, .sig = td->sig, .shingles = 100 + (uint32_t)(seed % 50),
	    .terms = &td->t };
}

/* td becomes a near duplicate of src: about frac of the positions kept. */
static void
tdoc_near(struct tdoc *td, const struct cluster_params *p, const struct tdoc *src,
    uint64_t seed, double frac)
{
	unsigned	i;

	tdoc_make(td, p, seed, "", src->d.published);
	free(td->t.v);
	free(td->t.words);
	terms_from(&td->t, src->t.words);	/* first word only is enough here */
	for (i = 0; i < p->k; i++)
		if ((double)(mix(seed * 31 + i) % 1000) < frac * 1000)
			td->sig[i] = src->sig[i];
}

static void
tdoc_fini(struct tdoc *td)
{
	free(td->sig);
	free(td->t.v);
	free(td->t.words);
}

static struct clusterer *
new_clusterer(struct cluster_params *p)
{
	struct clusterer	*c;

	cluster_params_default(p);
	c = cluster_new(p);
	assert_non_null(c);
	return c;
}

static void
add_ok(struct clusterer *c, uint32_t id, const struct tdoc *td, struct verdict *v)
{
	struct verdict	tmp;

	assert_int_equal(cluster_add(c, id, &td->d, v ? v : &tmp), 0);
}

/* Add a doc unrelated to everything: its own words and fingerprints. */
static void
add_unrelated(struct clusterer *c, const struct cluster_params *p, uint32_t id,
    uint64_t seed, int64_t published, struct verdict *v)
{
	struct tdoc	td;
	char		spec[128];

	snprintf(spec, sizeof(spec), "u%llua u%llub u%lluc:2",
	    (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)seed);
	tdoc_make(&td, p, seed, spec, published);
	add_ok(c, id, &td, v);
	tdoc_fini(&td);
}

static void
assert_story_equal(const struct story *a, const struct story *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->groups, b->groups);
	assert_int_equal(a->sources, b->sources);
	assert_int_equal(a->representative, b->representative);
	assert_int_equal(a->first_published, b->first_published);
	assert_int_equal(a->last_published, b->last_published);
	assert_int_equal(a->updated_seq, b->updated_seq);
	assert_int_equal(a->removed, b->removed);
}

/*
 * params.room sizes the LSH once: a clusterer given room for N decides as
 * one without (stories, near duplicates, the same verdict each time),
 * while its LSH keeps one size through N adds and through removing most of
 * them, where the other's grows and shrinks.
 */
static void
test_room_for_the_index_changes_no_verdict(void **state)
{
	enum { N = 3000, LEFT = 200 };
	struct cluster_params		 p, pr;
	struct clusterer		*plain = new_clusterer(&p), *roomy;
	struct cluster_memory_split	 ms;
	struct tdoc			 prev = { 0 };
	size_t				 lsh_mem, plain_full, status[4] = { 0 };

	(void)state;
	pr = p;
	pr.room = N;
	roomy = cluster_new(&pr);
	assert_non_null(roomy);
	assert_true(cluster_room_kept(roomy));
	assert_true(cluster_room_kept(plain));	/* none asked for */
	cluster_memory(roomy, &ms);
	lsh_mem = ms.lsh;
	for (uint32_t i = 0; i < N; i++) {
		struct tdoc	td;
		struct verdict	va, vb;
		char		spec[128];

		if (i % 3 == 0) {
			snprintf(spec, sizeof(spec), "s%ua s%ub s%uc w%u:2", i / 9, i / 9, i / 9, i);
			tdoc_make(&td, &p, 1000 + i, spec, 1700000000 + (int64_t)i * 60);
		} else {
			tdoc_near(&td, &p, &prev, 1000 + i, i % 3 == 1 ? 0.85 : 0.3);
		}
		add_ok(plain, i, &td, &va);
		add_ok(roomy, i, &td, &vb);
		assert_verdict_equal(&va, &vb);
		status[va.status]++;
		tdoc_fini(&prev);
		prev = td;
	}
	tdoc_fini(&prev);
	/* the stream made every kind of verdict but the exact copy */
	assert_true(status[VERDICT_NEW_STORY] > 0 && status[VERDICT_JOINED_STORY] > 0 &&
	    status[VERDICT_NEAR_DUPLICATE] > 0);
	cluster_memory(roomy, &ms);
	assert_int_equal(ms.lsh, lsh_mem);
	cluster_memory(plain, &ms);
	plain_full = ms.lsh;
	for (uint32_t i = 0; i < N - LEFT; i++) {
		cluster_remove(plain, i);
		cluster_remove(roomy, i);
	}
	cluster_memory(roomy, &ms);
	assert_int_equal(ms.lsh, lsh_mem);
	cluster_memory(plain, &ms);
	assert_true(ms.lsh < plain_full / 4);
	assert_int_equal(cluster_count_articles(roomy), LEFT);
	assert_int_equal(cluster_check(roomy), 0);
	cluster_free(plain);
	cluster_free(roomy);
}

/*
 * Room the indexes cannot keep (more ids than the LSH can hold, more
 * entries than the SimHash index counts) is not kept, and the clusterer
 * says so for the daemon's log; it works all the same, its indexes growing.
 */
static void
test_room_that_cannot_be_kept_is_told(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c;
	struct verdict		 v;

	(void)state;
	cluster_params_default(&p);
	p.room = (size_t)UINT32_MAX + 1;
	c = cluster_new(&p);
	assert_non_null(c);
	assert_false(cluster_room_kept(c));
	for (uint32_t i = 0; i < 50; i++) {
		add_unrelated(c, &p, i, 7000 + i, 1700000000 + (int64_t)i, &v);
		assert_int_equal(v.status, VERDICT_NEW_STORY);
	}
	assert_int_equal(cluster_count_articles(c), 50);
	assert_int_equal(cluster_check(c), 0);
	cluster_free(c);
}

static void
test_params_default_are_consistent(void **state)
{
	struct cluster_params	p;

	(void)state;
	cluster_params_default(&p);
	assert_true(p.bands >= 1 && p.rows >= 1 && p.bands * p.rows <= p.k);
	assert_true(p.max_matches >= 1 && p.max_matches <= CLUSTER_MAX_MATCHES);
	assert_true(p.doc_terms >= 1 && p.window > 0);
}

/*
 * Removing the oldest of two exact copies points the exact-hash map at the
 * other: an update, not a new key, so it needs no room even when the map is
 * as full as it may be (12 keys in 16 slots here). It aborted on a
 * "room reserved" assertion meant for new keys (bench/loadtest.sh under
 * ASan, evictions at max_articles).
 */
static void
test_removing_an_exact_copy_from_a_full_exact_map(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a;
	struct verdict		 v;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	add_ok(c, 0, &a, NULL);
	add_ok(c, 1, &a, NULL);
	for (uint32_t i = 0; i < 11; i++)	/* 12 exact hashes in all */
		add_unrelated(c, &p, 2 + i, 100 + i, T0, NULL);
	cluster_remove(c, 0);
	assert_int_equal(cluster_check(c), 0);
	add_ok(c, 13, &a, &v);
	assert_int_equal(v.status, VERDICT_EXACT_DUPLICATE);
	assert_int_equal(v.duplicate_of, 1);
	tdoc_fini(&a);
	cluster_free(c);
}

/*
 * The exact-hash index doubles by moving its entries a few slots an add:
 * articles added, and removed, while it moves are found (cluster_check()
 * looks up every one), and so are the copies' originals after.
 */
static void
test_exact_copies_found_while_the_index_moves(void **state)
{
	enum { N = 2500 };
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 td;
	struct verdict		 v;
	uint32_t		 i, found = 0;

	(void)state;
	for (i = 0; i < N; i++) {
		tdoc_make(&td, &p, 5000 + i, "storm coast", T0);
		add_ok(c, i, &td, &v);
		tdoc_fini(&td);
		if (i % 7 == 6)
			cluster_remove(c, i - 3);
		if (i % 50 == 0)
			assert_int_equal(cluster_check(c), 0);
	}
	for (i = 0; i < N; i++) {
		int	held = !(i % 7 == 3 && i + 3 < N);

		tdoc_make(&td, &p, 5000 + i, "storm coast", T0);
		add_ok(c, N + i, &td, &v);
		if (held) {
			assert_int_equal(v.status, VERDICT_EXACT_DUPLICATE);
			assert_int_equal(v.duplicate_of, i);
			found++;
		} else
			assert_int_not_equal(v.status, VERDICT_EXACT_DUPLICATE);
		cluster_remove(c, N + i);
		tdoc_fini(&td);
	}
	assert_true(found > N / 2);
	assert_int_equal(cluster_check(c), 0);
	cluster_free(c);
}

/*
 * Texts whose exact hashes share the index's home slot and tag (the low
 * bits and the top byte) are still told apart, and still found after
 * others of the run leave, the run wrapping past the table's end.
 */
static void
test_exact_copies_found_when_their_hashes_collide(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a[6], copy;
	struct verdict		 v;
	uint32_t		 i;

	(void)state;
	for (i = 0; i < 6; i++) {
		tdoc_make(&a[i], &p, 10 + i, "blinken beijing xi", T0);
		a[i].d.exact = (uint64_t)(i + 1) << 32 | 15;	/* home 15 of 16, tag 1 */
		add_ok(c, i, &a[i], &v);
		assert_int_equal(v.status == VERDICT_EXACT_DUPLICATE, 0);
	}
	cluster_remove(c, 0);
	cluster_remove(c, 3);
	assert_int_equal(cluster_check(c), 0);
	for (i = 0; i < 6; i++) {
		tdoc_make(&copy, &p, 10 + i, "blinken beijing xi", T0);
		copy.d.exact = a[i].d.exact;
		add_ok(c, 100 + i, &copy, &v);
		if (i == 0 || i == 3) {
			assert_int_not_equal(v.status, VERDICT_EXACT_DUPLICATE);
		} else {
			assert_int_equal(v.status, VERDICT_EXACT_DUPLICATE);
			assert_int_equal(v.duplicate_of, i);
		}
		cluster_remove(c, 100 + i);
		tdoc_fini(&copy);
	}
	assert_int_equal(cluster_check(c), 0);
	for (i = 0; i < 6; i++)
		tdoc_fini(&a[i]);
	cluster_free(c);
}

/*
 * When every term id is taken, an article is still added: it keeps the terms
 * that have ids and, in hash order, new ones while ids last; ids freed by a
 * removal serve the next article. (The limit is 2^24 live terms; 5 here.)
 */
static void
test_articles_keep_what_terms_they_can_when_ids_run_out(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 td;
	struct verdict		 v;
	const char		*words[8];
	const char		*spec[] = { "alpha beta gamma", "delta epsilon zeta eta",
	    "theta iota", "lambda mu nu" };
	size_t			 want[] = { 3, 2, 0, 3 };

	(void)state;
	cluster_set_term_limit(c, 5);
	for (uint32_t i = 0; i < 4; i++) {
		if (i == 3)
			cluster_remove(c, 0);	/* alpha, beta and gamma leave */
		tdoc_make(&td, &p, 40 + i, spec[i], T0);
		add_ok(c, i, &td, &v);
		assert_int_equal(v.status, VERDICT_NEW_STORY);
		assert_int_equal(cluster_story_terms(c, v.story, words, 8), want[i]);
		assert_int_equal(cluster_check(c), 0);
		tdoc_fini(&td);
	}
	cluster_free(c);
}

static void
test_exact_duplicate_joins_group_and_story(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a;
	struct verdict		 v;
	struct story		 s;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	add_ok(c, 10, &a, &v);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	assert_int_equal(v.story, 1);
	assert_int_equal(v.duplicate_of, CLUSTER_NONE);
	assert_int_equal(v.nmatches, 0);
	add_ok(c, 11, &a, &v);
	assert_int_equal(v.status, VERDICT_EXACT_DUPLICATE);
	assert_int_equal(v.story, 1);
	assert_int_equal(v.duplicate_of, 10);
	assert_true(v.nmatches >= 1);
	assert_int_equal(v.matches[0].id, 10);
	assert_int_equal(v.matches[0].kind, MATCH_EXACT);
	assert_true(v.matches[0].similarity == 1.0f);
	assert_int_equal(cluster_duplicate_of(c, 11), 10);
	assert_int_equal(cluster_duplicate_of(c, 10), CLUSTER_NONE);
	assert_int_equal(cluster_story_get(c, 1, &s), 0);
	assert_int_equal(s.size, 2);
	assert_int_equal(s.groups, 1);
	assert_int_equal(cluster_count_groups(c), 1);
	assert_int_equal(cluster_count_stories(c), 1);
	tdoc_fini(&a);
	cluster_free(c);
}

static void
test_near_duplicate_by_minhash_points_to_root(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a, b, d;
	struct verdict		 v;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	tdoc_near(&b, &p, &a, 2, 0.8);
	tdoc_near(&d, &p, &b, 3, 0.85);
	add_ok(c, 1, &a, NULL);
	add_ok(c, 2, &b, &v);
	assert_int_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, 1);
	assert_int_equal(v.story, 1);
	assert_int_equal(v.matches[0].id, 1);
	assert_int_equal(v.matches[0].kind, MATCH_NEAR);
	assert_true(v.matches[0].similarity > 0.6f && v.matches[0].similarity < 0.95f);
	/* d is nearest to b, but a group's members all point to its root */
	add_ok(c, 3, &d, &v);
	assert_int_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, 1);
	assert_int_equal(cluster_duplicate_of(c, 3), 1);
	assert_int_equal(cluster_count_groups(c), 1);
	tdoc_fini(&a);
	tdoc_fini(&b);
	tdoc_fini(&d);
	cluster_free(c);
}

/*
 * SimHash within distance 3 verifies a pair whose shingles agree too little
 * for the Jaccard threshold or containment (an estimate of 0.15: 20 of 128
 * values), but not one whose shingles do not agree at all: a shared headline
 * over different bodies (SIMHASH_MIN_JACCARD).
 */
static void
test_near_duplicate_by_simhash_needs_some_shared_text(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a, b, e;
	struct verdict		 v;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	tdoc_make(&b, &p, 2, "blinken beijing xi", T0);
	tdoc_make(&e, &p, 3, "blinken beijing xi", T0);
	for (unsigned i = 0; i < 20; i++)
		b.sig[i * 6] = a.sig[i * 6];
	b.d.simhash = a.d.simhash ^ 0x8000000000000005ULL;	/* distance 3 */
	e.d.simhash = a.d.simhash ^ 0x0000000000000700ULL;	/* distance 3, no values shared */
	add_ok(c, 1, &a, NULL);
	add_ok(c, 2, &b, &v);
	assert_int_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, 1);
	assert_int_equal(v.matches[0].kind, MATCH_NEAR);
	assert_true(v.matches[0].similarity > 0.1f && v.matches[0].similarity < 0.25f);
	add_ok(c, 3, &e, &v);
	assert_int_not_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, CLUSTER_NONE);
	assert_int_equal(cluster_duplicate_of(c, 3), CLUSTER_NONE);
	tdoc_fini(&a);
	tdoc_fini(&b);
	tdoc_fini(&e);
	cluster_free(c);
}

/* Make b an LSH candidate of a for sure: its first band equals a's. */
static void
share_first_band(struct tdoc *b, const struct tdoc *a, const struct cluster_params *p)
{
	unsigned	i;

	for (i = 0; i < p->rows; i++)
		b->sig[i] = a->sig[i];
}

static void
test_trimmed_copy_is_near_duplicate_by_containment(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a, b, e;
	struct verdict		 v;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	a.d.shingles = 200;
	/* b keeps a third of a's text: Jaccard ~0.35, all of b inside a */
	tdoc_near(&b, &p, &a, 2, 0.35);
	share_first_band(&b, &a, &p);
	b.d.shingles = 80;
	b.d.exact = mix(77);
	/* e shares as much with a, at a's size: a rewrite, not a trim */
	tdoc_near(&e, &p, &a, 2, 0.35);
	share_first_band(&e, &a, &p);
	e.d.shingles = 200;
	e.d.exact = mix(78);
	add_ok(c, 1, &a, NULL);
	assert_int_equal(cluster_query(c, &e.d, &v), 0);
	assert_int_not_equal(v.status, VERDICT_NEAR_DUPLICATE);
	add_ok(c, 2, &b, &v);
	assert_int_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, 1);
	assert_int_equal(v.matches[0].kind, MATCH_NEAR);
	assert_true(v.matches[0].similarity < 0.5f);	/* the Jaccard estimate */
	tdoc_fini(&a);
	tdoc_fini(&b);
	tdoc_fini(&e);
	cluster_free(c);
}

static void
test_containment_needs_the_jaccard_floor(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a, b;
	struct verdict		 v;

	(void)state;
	assert_true(cluster_dup_floor(&p) > 0.2 && cluster_dup_floor(&p) <= p.dup_threshold);
	/* a headline-sized set "inside" a long article: the estimate cannot tell */
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	a.d.shingles = 2000;
	tdoc_near(&b, &p, &a, 2, 0.1);
	share_first_band(&b, &a, &p);
	b.d.shingles = 10;
	b.d.exact = mix(77);
	add_ok(c, 1, &a, NULL);
	add_ok(c, 2, &b, &v);
	assert_int_not_equal(v.status, VERDICT_NEAR_DUPLICATE);
	tdoc_fini(&a);
	tdoc_fini(&b);
	cluster_free(c);
}

static void
test_root_removal_promotes_next_oldest(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 a;
	struct verdict		 v;
	struct story		 s;

	(void)state;
	tdoc_make(&a, &p, 1, "blinken beijing xi", T0);
	add_ok(c, 7, &a, NULL);
	add_ok(c, 3, &a, NULL);
	add_ok(c, 5, &a, NULL);
	cluster_remove(c, 7);
	assert_false(cluster_holds(c, 7));
	assert_int_equal(cluster_duplicate_of(c, 3), CLUSTER_NONE);
	assert_int_equal(cluster_duplicate_of(c, 5), 3);
	add_ok(c, 9, &a, &v);
	assert_int_equal(v.duplicate_of, 3);
	assert_int_equal(v.story, 1);
	assert_int_equal(cluster_story_get(c, 1, &s), 0);
	assert_int_equal(s.size, 3);
	assert_int_equal(s.groups, 1);
	cluster_remove(c, 3);
	assert_int_equal(cluster_duplicate_of(c, 9), 5);
	cluster_remove(c, 5);
	cluster_remove(c, 9);
	cluster_remove(c, 9);	/* unknown: ignored */
	assert_int_equal(cluster_count_groups(c), 0);
	assert_int_equal(cluster_count_articles(c), 0);
	tdoc_fini(&a);
	cluster_free(c);
}

static void
test_unrelated_articles_start_new_stories_in_order(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct verdict		 v;
	uint32_t		 i;

	(void)state;
	for (i = 0; i < 5; i++) {
		add_unrelated(c, &p, i, 100 + i, T0, &v);
		assert_int_equal(v.status, VERDICT_NEW_STORY);
		assert_int_equal(v.story, i + 1);
		assert_int_equal(v.nmatches, 0);
		assert_int_equal(cluster_story_of(c, i), i + 1);
	}
	cluster_remove(c, 4);
	add_unrelated(c, &p, 4, 104, T0, &v);
	assert_int_equal(v.story, 6);	/* ids are never reused */
	assert_int_equal(cluster_count_stories(c), 5);
	assert_int_equal(cluster_count_groups(c), 5);
	cluster_free(c);
}

static const char *blinken[] = {
	"blinken:3 beijing:2 xi:2 jinping china visit meeting talks",
	"blinken:2 beijing xi:2 jinping:2 china tensions taiwan secretary",
	"blinken:3 xi jinping beijing:2 china:2 diplomacy relations",
};

static void
test_related_articles_join_one_story(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 td;
	struct verdict		 v;
	struct story		 s;
	const char		*words[5];
	uint32_t		 members[8], i;
	size_t			 n;

	(void)state;
	for (i = 0; i < 20; i++)	/* background, so idf means something */
		add_unrelated(c, &p, 100 + i, 1000 + i, T0, NULL);
	for (i = 0; i < 3; i++) {
		tdoc_make(&td, &p, 10 + i, blinken[i], T0 + i * 3600);
		td.d.source = i < 2 ? 0xa : 0xb;
		add_ok(c, i, &td, &v);
		tdoc_fini(&td);
		assert_int_equal(v.status, i == 0 ? VERDICT_NEW_STORY : VERDICT_JOINED_STORY);
		assert_int_equal(v.story, 21);
		assert_int_equal(v.duplicate_of, CLUSTER_NONE);
		assert_int_equal(v.nmatches, i);
		if (i > 0) {
			assert_int_equal(v.matches[0].kind, MATCH_RELATED);
			assert_true(v.matches[0].similarity > 0.2f);
			assert_true(v.matches[0].similarity <= 1.0f);
		}
	}
	assert_int_equal(cluster_story_get(c, 21, &s), 0);
	assert_int_equal(s.size, 3);
	assert_int_equal(s.groups, 3);
	assert_int_equal(s.sources, 2);
	assert_int_equal(s.first_published, T0);
	assert_int_equal(s.last_published, T0 + 2 * 3600);
	assert_true(s.representative < 3);
	n = cluster_story_members(c, 21, members, 8);
	assert_int_equal(n, 3);
	assert_int_equal(members[0], 0);
	assert_int_equal(members[1], 1);
	assert_int_equal(members[2], 2);
	n = cluster_story_terms(c, 21, words, 5);
	assert_int_equal(n, 5);
	assert_string_equal(words[0], "blinken");
	assert_true(cluster_similarity(c, 0, 0) > 0.999f);
	assert_true(cluster_similarity(c, 0, 1) > 0.2f);
	assert_true(cluster_similarity(c, 0, 100) == 0.0f);
	cluster_remove(c, 2);
	assert_int_equal(cluster_story_get(c, 21, &s), 0);
	assert_int_equal(s.sources, 1);
	assert_int_equal(s.last_published, T0 + 3600);
	cluster_free(c);
}

/*
 * A headline of five terms joins a story on three shared terms, not on one:
 * its lower threshold (it cannot match a centroid of many terms well) is not
 * so low that any common word will do.
 */
static void
test_headline_needs_more_than_one_shared_word(void **state)
{
	static const char	*story = "t1 t2 t3 t4 t5 t6 t7 t8 t9 t10";
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 td;
	struct verdict		 v;
	uint32_t		 i;

	(void)state;
	for (i = 0; i < 20; i++)	/* background, so idf means something */
		add_unrelated(c, &p, 100 + i, 1000 + i, T0, NULL);
	for (i = 0; i < 2; i++) {
		tdoc_make(&td, &p, 10 + i, story, T0 + i * 600);
		add_ok(c, i, &td, &v);
		tdoc_fini(&td);
	}
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	assert_int_equal(v.story, 21);

	tdoc_make(&td, &p, 20, "t1 h1 h2 h3 h4", T0 + 1200);
	add_ok(c, 2, &td, &v);
	tdoc_fini(&td);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	assert_int_equal(v.story, 22);

	tdoc_make(&td, &p, 21, "t1 t2 t3 g1 g2", T0 + 1800);
	add_ok(c, 3, &td, &v);
	tdoc_fini(&td);
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	assert_int_equal(v.story, 21);
	cluster_free(c);
}

static void
test_articles_outside_window_do_not_join(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c;
	struct tdoc		 td;
	struct verdict		 v;

	(void)state;
	cluster_params_default(&p);
	p.decay_hours = 0;	/* the window alone */
	assert_non_null(c = cluster_new(&p));
	tdoc_make(&td, &p, 1, blinken[0], T0);
	add_ok(c, 1, &td, &v);
	tdoc_fini(&td);
	tdoc_make(&td, &p, 2, blinken[1], T0 + p.window + 1);
	add_ok(c, 2, &td, &v);
	tdoc_fini(&td);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	assert_int_equal(v.story, 2);
	/* the window's edge is inside; story 2 is too far from it */
	tdoc_make(&td, &p, 3, blinken[2], T0 - p.window);
	add_ok(c, 3, &td, &v);
	tdoc_fini(&td);
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	assert_int_equal(v.story, 1);
	cluster_free(c);
}

static void
test_decay_keeps_a_quiet_story_from_joining(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c, *nodecay;
	struct tdoc		 td;
	struct verdict		 v;
	int64_t			 later = T0 + 60 * 3600;	/* inside the 72-hour window */

	(void)state;
	cluster_params_default(&p);
	p.decay_hours = 12;	/* 60 hours is five widths: a factor of 4e-6 */
	assert_non_null(c = cluster_new(&p));
	assert_true(later - T0 < p.window);
	tdoc_make(&td, &p, 1, blinken[0], T0);
	add_ok(c, 1, &td, &v);
	tdoc_fini(&td);
	/* the same words two and a half days later: another event */
	tdoc_make(&td, &p, 2, blinken[1], later);
	assert_int_equal(cluster_query(c, &td.d, &v), 0);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	p.decay_hours = 0;
	assert_non_null(nodecay = cluster_new(&p));
	add_ok(nodecay, 1, &td, &v);
	tdoc_fini(&td);
	tdoc_make(&td, &p, 1, blinken[0], T0);
	add_ok(nodecay, 2, &td, &v);
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	tdoc_fini(&td);
	/* an hour after, the story is live: it joins */
	tdoc_make(&td, &p, 3, blinken[2], T0 + 3600);
	add_ok(c, 3, &td, &v);
	tdoc_fini(&td);
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	assert_int_equal(v.story, 1);
	cluster_free(c);
	cluster_free(nodecay);
}

struct feedlog {
	uint32_t	id[256];
	uint64_t	seq[256];
	int		removed[256];
	size_t		n, limit;
};

static int
on_story(const struct story *s, void *arg)
{
	struct feedlog	*f = arg;

	assert_true(f->n < 256);
	f->id[f->n] = s->id;
	f->seq[f->n] = s->updated_seq;
	f->removed[f->n] = s->removed;
	f->n++;
	return f->limit != 0 && f->n >= f->limit;
}

static struct feedlog
feed(const struct clusterer *c, uint64_t since, size_t limit)
{
	struct feedlog	f = { .limit = limit };

	cluster_feed(c, since, on_story, &f);
	return f;
}

static void
test_removed_story_is_reported_once_as_tombstone(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct feedlog		 f;
	struct story		 s;
	uint64_t		 seq;

	(void)state;
	add_unrelated(c, &p, 1, 1, T0, NULL);
	add_unrelated(c, &p, 2, 2, T0, NULL);
	seq = cluster_seq(c);
	cluster_remove(c, 1);
	assert_int_equal(cluster_count_stories(c), 1);
	assert_int_equal(cluster_story_get(c, 1, &s), -ENOENT);
	assert_int_equal(cluster_story_members(c, 1, NULL, 0), 0);
	f = feed(c, seq, 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.id[0], 1);
	assert_true(f.removed[0]);
	assert_int_equal(f.seq[0], cluster_seq(c));
	assert_int_equal(feed(c, cluster_seq(c), 0).n, 0);
	f = feed(c, 0, 0);	/* from the beginning: story 2, then the tombstone */
	assert_int_equal(f.n, 2);
	assert_int_equal(f.id[0], 2);
	assert_false(f.removed[0]);
	assert_int_equal(f.id[1], 1);
	assert_int_equal(cluster_feed_horizon(c), 0);
	cluster_free(c);
}

/* Page through the feed like a dashboard: limit per poll, cursor = last seq seen. */
static size_t
poll_all(const struct clusterer *c, uint64_t *cursor, uint32_t *ids, size_t limit)
{
	struct feedlog	f;
	size_t		n = 0, i;

	do {
		f = feed(c, *cursor, limit);
		for (i = 0; i < f.n; i++) {
			assert_true(f.seq[i] > *cursor);
			*cursor = f.seq[i];
			ids[n++] = f.id[i];
		}
	} while (f.n == limit);
	return n;
}

static void
test_feed_since_has_no_skips_or_repeats(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct tdoc		 td;
	uint32_t		 ids[256], i;
	uint64_t		 cursor = 0;
	size_t			 n;

	(void)state;
	for (i = 0; i < 10; i++)
		add_unrelated(c, &p, i, 50 + i, T0, NULL);
	assert_int_equal(cluster_seq(c), 10);
	n = poll_all(c, &cursor, ids, 3);
	assert_int_equal(n, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(ids[i], i + 1);
	assert_int_equal(cursor, 10);
	assert_int_equal(poll_all(c, &cursor, ids, 3), 0);
	/* change stories 3, 7 and 3 again: 7 then 3, each once */
	tdoc_make(&td, &p, 52, "u52a u52b u52c:2", T0);
	td.d.exact ^= 1;
	add_ok(c, 100, &td, NULL);	/* near duplicate of article 2 -> story 3 */
	tdoc_fini(&td);
	cluster_remove(c, 6);		/* story 7 removed */
	cluster_remove(c, 100);		/* story 3 changed again */
	n = poll_all(c, &cursor, ids, 3);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 3);
	assert_int_equal(cursor, cluster_seq(c));
	assert_int_equal(cluster_seq(c), 13);
	cluster_free(c);
}

struct snapshot {
	uint64_t	seq;
	size_t		articles, stories, groups, nfeed;
	int		has[64];
	struct story	s[64];
	uint32_t	story_of[64], dup_of[64];
};

static void
assert_snapshot_equal(const struct snapshot *a, const struct snapshot *b)
{
	size_t	i;

	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->articles, b->articles);
	assert_int_equal(a->stories, b->stories);
	assert_int_equal(a->groups, b->groups);
	assert_int_equal(a->nfeed, b->nfeed);
	for (i = 0; i < 64; i++) {
		assert_int_equal(a->has[i], b->has[i]);
		if (a->has[i])
			assert_story_equal(&a->s[i], &b->s[i]);
		assert_int_equal(a->story_of[i], b->story_of[i]);
		assert_int_equal(a->dup_of[i], b->dup_of[i]);
	}
}

static void
snap(const struct clusterer *c, struct snapshot *sn)
{
	struct feedlog	f = feed(c, 0, 0);
	uint32_t	i;

	memset(sn, 0, sizeof(*sn));
	sn->seq = cluster_seq(c);
	sn->articles = cluster_count_articles(c);
	sn->stories = cluster_count_stories(c);
	sn->groups = cluster_count_groups(c);
	sn->nfeed = f.n;
	for (i = 0; i < 64; i++) {
		sn->has[i] = cluster_story_get(c, i, &sn->s[i]) == 0;
		sn->story_of[i] = cluster_story_of(c, i);
		sn->dup_of[i] = cluster_duplicate_of(c, i);
	}
}

static void
test_query_changes_nothing(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct snapshot		 before, after;
	struct tdoc		 q[4];
	struct verdict		 vq, va;
	uint32_t		 i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tdoc_make(&q[0], &p, 10 + i, blinken[i], T0);
		add_ok(c, i, &q[0], NULL);
		tdoc_fini(&q[0]);
	}
	add_unrelated(c, &p, 3, 99, T0, NULL);
	tdoc_make(&q[0], &p, 10, blinken[0], T0);		/* exact duplicate */
	tdoc_near(&q[1], &p, &q[0], 77, 0.9);			/* near duplicate */
	tdoc_make(&q[2], &p, 20, "blinken xi beijing china summit", T0);	/* related */
	tdoc_make(&q[3], &p, 21, "volcano iceland eruption", T0);	/* new */
	snap(c, &before);
	for (i = 0; i < 4; i++) {
		static const enum verdict_status	want[] = { VERDICT_EXACT_DUPLICATE,
		    VERDICT_NEAR_DUPLICATE, VERDICT_JOINED_STORY, VERDICT_NEW_STORY };

		assert_int_equal(cluster_query(c, &q[i].d, &vq), 0);
		snap(c, &after);
		assert_snapshot_equal(&before, &after);
		assert_int_equal(vq.status, want[i]);
	}
	/* and the query said what the add then does */
	for (i = 0; i < 4; i++) {
		assert_int_equal(cluster_query(c, &q[i].d, &vq), 0);
		add_ok(c, 10 + i, &q[i], &va);
		if (vq.status == VERDICT_NEW_STORY) {
			assert_int_equal(vq.story, CLUSTER_NONE);
			vq.story = va.story;
		}
		assert_verdict_equal(&vq, &va);
		cluster_remove(c, 10 + i);
	}
	for (i = 0; i < 4; i++)
		tdoc_fini(&q[i]);
	cluster_free(c);
}

/*
 * A random stream over a few topics: new articles, exact and near duplicates
 * of held ones, removals. Deterministic for a given seed.
 */
struct stream {
	uint64_t		 rng;
	struct cluster_params	 p;
	uint32_t		 held[4096];
	uint64_t		 seed[4096];	/* each held article's */
	size_t			 nheld;
	uint32_t		 nextid;
	struct cluster_choice	*note;		/* set: adds write what they decided here */
	const struct cluster_choice *chosen;	/* set: adds take this instead of deciding */
	int			 prefetch;	/* set: each add after cluster_prefetch() of two docs */
};

static uint64_t
rnd(struct stream *st, uint64_t n)
{
	st->rng = mix(st->rng);
	return st->rng % n;
}

/* One step: returns the id added, or CLUSTER_NONE after a removal. */
static uint32_t
stream_step(struct stream *st, struct clusterer *c, struct verdict *v)
{
	struct tdoc	td, src;
	char		spec[256];
	uint64_t	topic = rnd(st, 40), seed = st->rng, srcid;
	uint32_t	id;
	size_t		i;

	if (st->nheld > 0 && (rnd(st, 3) == 0 || st->nheld == 4096)) {
		i = rnd(st, st->nheld);
		cluster_remove(c, st->held[i]);
		st->nheld--;
		st->held[i] = st->held[st->nheld];
		st->seed[i] = st->seed[st->nheld];
		return CLUSTER_NONE;
	}
	snprintf(spec, sizeof(spec), "t%llua:3 t%llub:2 t%lluc w%llu w%llu:2 common",
	    (unsigned long long)topic, (unsigned long long)topic,
	    (unsigned long long)topic, (unsigned long long)rnd(st, 500),
	    (unsigned long long)rnd(st, 500));
	tdoc_make(&td, &st->p, seed, spec, T0 + (int64_t)rnd(st, 20) * DAY / 2);
	td.d.source = rnd(st, 8);
	srcid = rnd(st, 4);
	if (srcid == 0 && st->nheld > 0) {	/* a near duplicate of a held one */
		tdoc_make(&src, &st->p, st->seed[rnd(st, st->nheld)], spec, td.d.published);
		for (i = 0; i < st->p.k; i++)
			if (rnd(st, 10) < 8)
				td.sig[i] = src.sig[i];
		if (rnd(st, 2) == 0)
			td.d.exact = src.d.exact;
		tdoc_fini(&src);
	}
	id = st->nextid;
	st->nextid += 1 + (uint32_t)rnd(st, 3);	/* sparse ids too */
	if (st->prefetch) {
		/* this doc, then another, as the daemon asks for the next put's before this one */
		cluster_prefetch(c, &td.d);
		tdoc_make(&src, &st->p, seed ^ 1, spec, td.d.published);
		cluster_prefetch(c, &src.d);
		tdoc_fini(&src);
	}
	if (st->chosen != NULL)
		assert_int_equal(cluster_add_chosen(c, id, &td.d, st->chosen, v), 0);
	else if (st->note != NULL)
		assert_int_equal(cluster_add_noted(c, id, &td.d, v, st->note), 0);
	else
		add_ok(c, id, &td, v);
	tdoc_fini(&td);
	st->held[st->nheld] = id;
	st->seed[st->nheld++] = seed;
	return id;
}

static int
count_live(const struct story *s, void *arg)
{
	size_t	*sizes = arg;

	if (!s->removed) {
		sizes[0] += s->size;
		sizes[1] += s->groups;
		sizes[2]++;
	}
	return 0;
}

static void
check_invariants(const struct clusterer *c, const struct stream *st)
{
	size_t		sizes[3] = { 0 }, i, n, j;
	uint32_t	members[4096];
	struct story	s;

	cluster_feed(c, 0, count_live, sizes);
	assert_int_equal(sizes[0], cluster_count_articles(c));
	assert_int_equal(sizes[1], cluster_count_groups(c));
	assert_int_equal(sizes[2], cluster_count_stories(c));
	assert_int_equal(st->nheld, cluster_count_articles(c));
	for (i = 0; i < st->nheld; i++) {
		uint32_t	id = st->held[i], sid = cluster_story_of(c, id);
		uint32_t	root = cluster_duplicate_of(c, id);

		assert_true(cluster_holds(c, id));
		assert_int_equal(cluster_story_get(c, sid, &s), 0);
		assert_true(s.size >= 1 && s.groups >= 1 && s.groups <= s.size);
		assert_true(cluster_holds(c, s.representative));
		assert_int_equal(cluster_story_of(c, s.representative), sid);
		assert_true(cluster_published(c, id) >= s.first_published);
		assert_true(cluster_published(c, id) <= s.last_published);
		if (root != CLUSTER_NONE) {
			assert_true(cluster_holds(c, root));
			assert_int_equal(cluster_story_of(c, root), sid);
			assert_int_equal(cluster_duplicate_of(c, root), CLUSTER_NONE);
		}
		n = cluster_story_members(c, sid, members, 4096);
		assert_int_equal(n, s.size);
		for (j = 0; j < n && members[j] != id; j++)
			;
		assert_true(j < n);
	}
}

static void
test_random_adds_and_removes_keep_invariants(void **state)
{
	struct stream		*st = calloc(1, sizeof(*st));
	struct clusterer	*c;
	struct verdict		 v;
	int			 i;

	(void)state;
	assert_non_null(st);
	st->rng = 42;
	c = new_clusterer(&st->p);
	for (i = 0; i < 4000; i++) {
		stream_step(st, c, &v);
		if (i % 250 == 0)
			check_invariants(c, st);
	}
	check_invariants(c, st);
	while (st->nheld > 0) {
		cluster_remove(c, st->held[--st->nheld]);
		if (st->nheld % 300 == 0)
			check_invariants(c, st);
	}
	assert_int_equal(cluster_count_stories(c), 0);
	assert_int_equal(cluster_count_groups(c), 0);
	cluster_free(c);
	free(st);
}

static void
test_same_sequence_gives_same_state(void **state)
{
	struct stream		*s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
	struct clusterer	*c1, *c2;
	struct verdict		 v1, v2;
	struct story		 a, b;
	uint32_t		 id1, id2;
	int			 i, dups = 0, joins = 0;

	(void)state;
	assert_true(s1 != NULL && s2 != NULL);
	s1->rng = s2->rng = 7;
	c1 = new_clusterer(&s1->p);
	c2 = new_clusterer(&s2->p);
	for (i = 0; i < 2000; i++) {
		id1 = stream_step(s1, c1, &v1);
		id2 = stream_step(s2, c2, &v2);
		assert_int_equal(id1, id2);
		assert_int_equal(cluster_seq(c1), cluster_seq(c2));
		if (id1 == CLUSTER_NONE)
			continue;
		assert_verdict_equal(&v1, &v2);
		assert_int_equal(cluster_story_of(c1, id1), cluster_story_of(c2, id2));
		assert_int_equal(cluster_duplicate_of(c1, id1), cluster_duplicate_of(c2, id2));
		assert_int_equal(cluster_story_get(c1, v1.story, &a), 0);
		assert_int_equal(cluster_story_get(c2, v2.story, &b), 0);
		assert_story_equal(&a, &b);
		dups += v1.status >= VERDICT_NEAR_DUPLICATE;
		joins += v1.status == VERDICT_JOINED_STORY;
	}
	/* the stream exercises every path */
	assert_true(dups > 50 && joins > 50);
	cluster_free(c1);
	cluster_free(c2);
	free(s1);
	free(s2);
}

/*
 * cluster_prefetch() is a hint: clusterers asked for every doc's memory,
 * and the next one's, before each add, one deciding and one adding as the
 * first decided (cluster_add_chosen()), end in the state of one never
 * asked, verdict for verdict and dump for dump, through their maps' moves
 * and with their indexes let go for a while (no LSH to ask then).
 */
static void	assert_dumps_equal(const struct clusterer *a, const struct clusterer *b);

static void
test_a_prefetch_changes_nothing(void **state)
{
	struct stream		*s[3];
	struct clusterer	*c[3];
	struct cluster_choice	 ch;
	struct verdict		 v[3];
	int			 i, j;

	(void)state;
	for (j = 0; j < 3; j++) {
		assert_non_null(s[j] = calloc(1, sizeof(*s[j])));
		s[j]->rng = 31;
		s[j]->prefetch = j > 0;
		c[j] = new_clusterer(&s[j]->p);
	}
	s[0]->note = &ch;
	s[2]->chosen = &ch;
	for (i = 0; i < 2400; i++) {
		uint32_t	id[3];

		for (j = 0; j < 3 && i == 1200; j++)
			cluster_drop_indexes(c[j]);
		for (j = 0; j < 3; j++)
			id[j] = stream_step(s[j], c[j], &v[j]);
		assert_int_equal(id[1], id[0]);
		assert_int_equal(id[2], id[0]);
		if (id[0] != CLUSTER_NONE) {
			assert_verdict_equal(&v[1], &v[0]);
			assert_int_equal(v[2].story, v[0].story);
		}
		if (i % 400 == 399) {
			assert_dumps_equal(c[0], c[1]);
			assert_dumps_equal(c[0], c[2]);
		}
	}
	for (j = 0; j < 3; j++) {
		assert_int_equal(cluster_check(c[j]), 0);
		cluster_free(c[j]);
		free(s[j]);
	}
}

/* ---- snapshots ---- */

struct membuf {
	uint8_t	*b;
	size_t	 n, cap, pos, limit;	/* limit: reads past it fail, as a short file */
};

static int
mem_write(const void *buf, size_t len, void *arg)
{
	struct membuf	*m = arg;

	if (m->n + len > m->cap) {
		size_t	cap = m->cap ? m->cap : 4096;

		while (cap < m->n + len)
			cap *= 2;
		assert_non_null(m->b = realloc(m->b, cap));
		m->cap = cap;
	}
	memcpy(m->b + m->n, buf, len);
	m->n += len;
	return 0;
}

static int
mem_read(void *buf, size_t len, void *arg)
{
	struct membuf	*m = arg;

	if (len > m->limit - m->pos)
		return -ENODATA;
	memcpy(buf, m->b + m->pos, len);
	m->pos += len;
	return 0;
}

static void
dump_ok(const struct clusterer *c, struct membuf *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(cluster_dump(c, mem_write, m), 0);
}

/* Load from the first limit bytes of m. */
static int
load_prefix(struct membuf *m, size_t limit, const struct cluster_params *p,
    struct clusterer **out)
{
	m->pos = 0;
	m->limit = limit;
	return cluster_load(out, p, mem_read, m);
}

struct feedlist {
	struct story	s[2048];
	size_t		n;
};

static int
on_feed_list(const struct story *s, void *arg)
{
	struct feedlist	*f = arg;

	if (f->n < 2048)
		f->s[f->n] = *s;
	f->n++;
	return 0;
}

/* Everything observable about two clusterers is the same. */
static void
assert_clusterers_equal(const struct clusterer *a, const struct clusterer *b, uint32_t maxid)
{
	static struct feedlist	fa, fb;
	uint32_t		ma[512], mb[512];
	const char		*ta[CLUSTER_STORY_TERMS_MAX], *tb[CLUSTER_STORY_TERMS_MAX];
	size_t			i, j, na, nb;

	assert_int_equal(cluster_seq(a), cluster_seq(b));
	assert_int_equal(cluster_feed_horizon(a), cluster_feed_horizon(b));
	assert_int_equal(cluster_count_articles(a), cluster_count_articles(b));
	assert_int_equal(cluster_count_stories(a), cluster_count_stories(b));
	assert_int_equal(cluster_count_groups(a), cluster_count_groups(b));
	fa.n = fb.n = 0;
	cluster_feed(a, 0, on_feed_list, &fa);
	cluster_feed(b, 0, on_feed_list, &fb);
	assert_int_equal(fa.n, fb.n);
	assert_true(fa.n <= 2048);
	for (i = 0; i < fa.n; i++) {
		struct story	sa, sb;

		assert_story_equal(&fa.s[i], &fb.s[i]);
		assert_int_equal(cluster_story_get(a, fa.s[i].id, &sa),
		    cluster_story_get(b, fa.s[i].id, &sb));
		if (fa.s[i].removed)
			continue;
		assert_story_equal(&sa, &sb);
		na = cluster_story_members(a, sa.id, ma, 512);
		nb = cluster_story_members(b, sb.id, mb, 512);
		assert_int_equal(na, nb);
		assert_memory_equal(ma, mb, (na < 512 ? na : 512) * sizeof(*ma));
		na = cluster_story_terms(a, sa.id, ta, CLUSTER_STORY_TERMS_MAX);
		nb = cluster_story_terms(b, sb.id, tb, CLUSTER_STORY_TERMS_MAX);
		assert_int_equal(na, nb);
		for (j = 0; j < na; j++)
			assert_string_equal(ta[j], tb[j]);
	}
	for (i = 0; i <= maxid; i++) {
		assert_int_equal(cluster_holds(a, (uint32_t)i), cluster_holds(b, (uint32_t)i));
		assert_int_equal(cluster_story_of(a, (uint32_t)i), cluster_story_of(b, (uint32_t)i));
		assert_int_equal(cluster_duplicate_of(a, (uint32_t)i),
		    cluster_duplicate_of(b, (uint32_t)i));
		assert_true(cluster_simhash(a, (uint32_t)i) == cluster_simhash(b, (uint32_t)i));
		assert_true(cluster_published(a, (uint32_t)i) == cluster_published(b, (uint32_t)i));
	}
}

/* A stream that has run n steps, with some stories emptied into tombstones. */
static struct clusterer *
stream_run(struct stream *st, uint64_t seed, int n)
{
	struct clusterer	*c;
	struct verdict		 v;
	int			 i;

	st->rng = seed;
	c = new_clusterer(&st->p);
	for (i = 0; i < n; i++)
		stream_step(st, c, &v);
	return c;
}

/* Dump c and load it into *out: the same state, which dumps again to the same bytes. */
static void
assert_round_trip(const struct clusterer *c, const struct cluster_params *p, uint32_t maxid,
    struct clusterer **out)
{
	struct membuf	m, m2;

	dump_ok(c, &m);
	assert_int_equal(load_prefix(&m, m.n, p, out), 0);
	assert_int_equal(m.pos, m.n);		/* read exactly what was written */
	assert_int_equal(cluster_check(*out), 0);
	assert_clusterers_equal(c, *out, maxid);
	dump_ok(*out, &m2);
	assert_int_equal(m.n, m2.n);
	assert_memory_equal(m.b, m2.b, m.n);
	free(m.b);
	free(m2.b);
}

/* Two dumps hold the same bytes. */
static void
assert_dumps_equal(const struct clusterer *a, const struct clusterer *b)
{
	struct membuf	ma, mb;

	dump_ok(a, &ma);
	dump_ok(b, &mb);
	assert_int_equal(ma.n, mb.n);
	assert_memory_equal(ma.b, mb.b, ma.n);
	free(ma.b);
	free(mb.b);
}

/*
 * A replica fed what a clusterer decided (cluster_add_chosen()) ends in the
 * same state, dump for dump, with the same statuses and stories, through
 * duplicates, joins, merges of stories, removals and a restart from its
 * snapshot, whether a choice carries the norms it refreshed or (as older
 * logs do) not; and a choice it cannot follow changes nothing.
 */
static void
test_an_add_as_chosen_ends_where_deciding_did(void **state)
{
	struct stream		*s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
	struct clusterer	*c1, *c2;
	struct cluster_choice	 ch, bad;
	struct verdict		 v1, v2;
	struct tdoc		 td;
	int			 i, seen[VERDICT_EXACT_DUPLICATE + 1] = { 0 }, fresh = 0, absorbed = 0;

	(void)state;
	assert_true(s1 != NULL && s2 != NULL);
	s1->rng = s2->rng = 11;
	s1->note = &ch;
	s2->chosen = &ch;
	c1 = new_clusterer(&s1->p);
	c2 = new_clusterer(&s2->p);
	for (i = 0; i < 3000; i++) {
		uint32_t	id1 = stream_step(s1, c1, &v1), id2;

		if (id1 != CLUSTER_NONE) {
			assert_true(ch.has_norms);
			if (i % 3 == 0)
				ch.has_norms = 0;	/* as an older log has it: computed again */
		}
		id2 = stream_step(s2, c2, &v2);
		assert_int_equal(id1, id2);
		if (id1 == CLUSTER_NONE)
			continue;
		assert_int_equal(v2.status, v1.status);
		assert_int_equal(v2.story, v1.story);
		assert_int_equal(v2.duplicate_of, v1.duplicate_of);
		seen[v1.status]++;
		fresh += ch.nfresh > 0;
		absorbed += ch.absorb != CLUSTER_NONE;
		if (i % 500 == 0)
			assert_dumps_equal(c1, c2);
		if (i == 1500) {	/* a restart: the replica goes on from its snapshot */
			struct membuf	m;

			dump_ok(c2, &m);
			cluster_free(c2);
			assert_int_equal(load_prefix(&m, m.n, &s2->p, &c2), 0);
			free(m.b);
		}
	}
	assert_dumps_equal(c1, c2);
	for (i = 0; i <= VERDICT_EXACT_DUPLICATE; i++)
		assert_true(seen[i] > 20);
	assert_true(fresh > 0);
	print_message("adds noting fresh norms %d, absorbing a story %d\n", fresh, absorbed);

	/*
	 * A story, absorbed story, group or fresh story not held, a story
	 * absorbing itself, or a norm no centroid has: refused, nothing changed.
	 */
	tdoc_make(&td, &s2->p, 99, "t1a:3 t1b:2 t1c common", T0);
	for (int k = 0; k < 7; k++) {
		bad = (struct cluster_choice){ .status = VERDICT_JOINED_STORY, .group = CLUSTER_NONE,
		    .story = v1.story, .absorb = CLUSTER_NONE };
		if (k == 0)
			bad.story = 4000000;
		else if (k == 1)
			bad.absorb = 4000000;
		else if (k == 2)
			bad.group = 4000000;
		else if (k == 3)
			bad.absorb = v1.story;
		else if (k == 4) {
			bad.nfresh = 1;
			bad.fresh[0] = 4000000;
		} else {
			bad.nfresh = 1;
			bad.fresh[0] = v1.story;
			bad.has_norms = 1;
			bad.norm[0][0] = bad.norm[0][1] = 1;
			bad.norm[0][2] = k == 5 ? -1 : NAN;
		}
		assert_int_equal(cluster_add_chosen(c2, 9999, &td.d, &bad, &v2), -EINVAL);
		assert_false(cluster_holds(c2, 9999));
	}
	tdoc_fini(&td);
	assert_dumps_equal(c1, c2);
	cluster_free(c1);
	cluster_free(c2);
	free(s1);
	free(s2);
}

/*
 * A replica that let its candidate indexes go (cluster_drop_indexes(), as a
 * snapshot's rebuild does) follows what a clusterer decided to the same
 * dump, counting no memory for them; when it must decide for itself it
 * makes them anew and decides as the clusterer that kept them did, matches
 * and similarities included, to the same state.
 */
static void
test_a_replica_without_indexes_dumps_and_decides_alike(void **state)
{
	struct stream			*s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
	struct clusterer		*c1, *c2;
	struct cluster_choice		 ch;
	struct cluster_memory_split	 m;
	struct verdict			 v1, v2;
	struct tdoc			 src, td;
	int				 i, decided = 0, followed = 0;

	(void)state;
	assert_true(s1 != NULL && s2 != NULL);
	s1->rng = s2->rng = 23;
	s1->note = &ch;
	c1 = new_clusterer(&s1->p);
	c2 = new_clusterer(&s2->p);
	cluster_drop_indexes(c2);
	for (i = 0; i < 2400; i++) {
		uint32_t	id1, id2;

		/* steps 800 to 1199: the replica decides; then it lets the indexes go again */
		s2->chosen = i >= 800 && i < 1200 ? NULL : &ch;
		if (i == 1200)
			cluster_drop_indexes(c2);
		if (i == 800 || i == 1200) {
			cluster_memory(c2, &m);
			assert_int_equal(m.lsh + m.simhash, 0);
		}
		id1 = stream_step(s1, c1, &v1);
		id2 = stream_step(s2, c2, &v2);
		assert_int_equal(id1, id2);
		if (id1 == CLUSTER_NONE)
			continue;
		if (s2->chosen == NULL) {
			assert_verdict_equal(&v2, &v1);
			decided++;
		} else {
			assert_int_equal(v2.status, v1.status);
			assert_int_equal(v2.story, v1.story);
			assert_int_equal(v2.duplicate_of, v1.duplicate_of);
			followed++;
		}
		if (i % 400 == 399)
			assert_dumps_equal(c1, c2);
	}
	cluster_memory(c2, &m);
	assert_int_equal(m.lsh + m.simhash, 0);
	assert_dumps_equal(c1, c2);
	assert_int_equal(cluster_check(c2), 0);
	assert_true(decided > 200 && followed > 1000);

	/*
	 * Copies enough to fill LSH buckets and cut a query's candidates at
	 * CAND_MAX: which ids a query finds, and so its matches, depend on
	 * the indexes' order, which the replica must make as it was.
	 */
	tdoc_make(&src, &s1->p, 77, "copy words here", T0);
	for (i = 0; i < 400; i++) {
		uint32_t	id = s1->nextid + (uint32_t)i;

		tdoc_near(&td, &s1->p, &src, 500 + (uint64_t)i, 0.9);
		assert_int_equal(cluster_add_noted(c1, id, &td.d, &v1, &ch), 0);
		assert_int_equal(cluster_add_chosen(c2, id, &td.d, &ch, &v2), 0);
		if (i % 3 == 0) {	/* some leave, so that buckets are not simply the newest */
			cluster_remove(c1, id - 1);
			cluster_remove(c2, id - 1);
		}
		tdoc_fini(&td);
	}
	tdoc_near(&td, &s1->p, &src, 9999, 0.9);
	assert_int_equal(cluster_query(c1, &td.d, &v1), 0);
	assert_int_equal(cluster_query(c2, &td.d, &v2), 0);
	assert_int_equal(v1.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v1.nmatches, s1->p.max_matches);
	assert_verdict_equal(&v2, &v1);
	tdoc_fini(&td);
	tdoc_fini(&src);
	cluster_free(c1);
	cluster_free(c2);
	free(s1);
	free(s2);
}

static void
test_dump_then_load_behaves_identically(void **state)
{
	struct stream		*s1 = calloc(1, sizeof(*s1)), *s2;
	struct clusterer	*c1, *c2;
	struct verdict		 v1, v2;
	struct tdoc		 q;
	uint32_t		 id1, id2;
	int			 i, tombs = 0;

	(void)state;
	assert_non_null(s1);
	c1 = stream_run(s1, 11, 3000);
	assert_int_equal(cluster_check(c1), 0);
	assert_round_trip(c1, &s1->p, s1->nextid, &c2);

	/* the same future on both: identical verdicts, stories and feed */
	assert_non_null(s2 = malloc(sizeof(*s2)));
	*s2 = *s1;
	for (i = 0; i < 3000; i++) {
		if (i % 7 == 3) {		/* a query changes nothing, on either */
			tdoc_make(&q, &s1->p, s1->rng ^ (uint64_t)i,
			    "t3a t3b:2 t3c common", T0 + DAY);
			assert_int_equal(cluster_query(c1, &q.d, &v1), 0);
			assert_int_equal(cluster_query(c2, &q.d, &v2), 0);
			assert_verdict_equal(&v1, &v2);
			tdoc_fini(&q);
		}
		id1 = stream_step(s1, c1, &v1);
		id2 = stream_step(s2, c2, &v2);
		assert_int_equal(id1, id2);
		assert_int_equal(cluster_seq(c1), cluster_seq(c2));
		if (id1 == CLUSTER_NONE)
			continue;
		assert_verdict_equal(&v1, &v2);
		if (i % 500 == 0)
			assert_clusterers_equal(c1, c2, s1->nextid);
	}
	/* empty both: every story ends as the same tombstone */
	while (s1->nheld > 0) {
		cluster_remove(c1, s1->held[--s1->nheld]);
		cluster_remove(c2, s2->held[--s2->nheld]);
		tombs++;
	}
	assert_true(tombs > 0);
	assert_clusterers_equal(c1, c2, s1->nextid);
	assert_int_equal(cluster_check(c2), 0);
	cluster_free(c1);
	cluster_free(c2);
	free(s1);
	free(s2);
}

/*
 * A held article keeps each term weight in a byte: halves exactly, heavier
 * and lighter ones on the nearest step. Whatever the weights, a snapshot
 * loads to the same state and verdicts, and dumps again to the same bytes.
 */
static void
test_weights_of_any_size_survive_a_snapshot(void **state)
{
	const char		*specs[] = {
		"heavy:150 heavier:3000 light:0.3 half:2.5 odd:1.1",
		"heavy:149 heavier:2999 light:0.2 half:2.5 other",
		"heavy:99.5 heavier:100000 half:3.25 third",
	};
	struct cluster_params	 p;
	struct clusterer	*c1 = new_clusterer(&p), *c2;
	struct verdict		 v1, v2;
	struct tdoc		 td;
	uint32_t		 i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tdoc_make(&td, &p, 900 + i, specs[i], T0 + i);
		add_ok(c1, i, &td, NULL);
		tdoc_fini(&td);
	}
	assert_int_equal(cluster_check(c1), 0);
	assert_round_trip(c1, &p, 3, &c2);
	tdoc_make(&td, &p, 999, "heavy:150 heavier:2000 half:2.5", T0 + 5);
	assert_int_equal(cluster_query(c1, &td.d, &v1), 0);
	assert_int_equal(cluster_query(c2, &td.d, &v2), 0);
	assert_verdict_equal(&v1, &v2);
	assert_int_equal(v1.status, VERDICT_JOINED_STORY);
	tdoc_fini(&td);
	cluster_free(c1);
	cluster_free(c2);
}

/*
 * Two stories told in other words ("alpha" and "delta" first), each joined by
 * an article that borrows a word of the other, then an article that clearly
 * belongs to both: the younger story is merged into the older, and reported
 * once as removed; a snapshot keeps the result.
 */
static const char *bridge[] = {
	"alpha:3 beta:2 gamma",			/* story A */
	"delta:3 epsilon:2 zeta",		/* story B: nothing in common */
	"alpha:2 beta gamma delta",		/* joins A */
	"delta:2 epsilon zeta alpha",		/* joins B */
	"alpha:2 delta:2 beta epsilon",		/* both: B into A */
};

static struct clusterer *
bridged(struct cluster_params *p, double merge_threshold, struct verdict *last)
{
	struct clusterer	*c;
	struct tdoc		 td;
	struct verdict		 v, q;
	uint32_t		 i;

	cluster_params_default(p);
	p->merge_threshold = merge_threshold;
	assert_non_null(c = cluster_new(p));
	for (i = 0; i < 20; i++)	/* stories 1 to 20, so idf means something */
		add_unrelated(c, p, 100 + i, 1000 + i, T0, NULL);
	for (i = 0; i < 5; i++) {
		tdoc_make(&td, p, 10 + i, bridge[i], T0 + i * 60);
		td.d.source = 0xa + i % 2;
		assert_int_equal(cluster_query(c, &td.d, &q), 0);
		add_ok(c, i, &td, &v);
		if (q.story != CLUSTER_NONE)	/* a query names no new story */
			assert_verdict_equal(&q, &v);
		tdoc_fini(&td);
		if (i < 4)
			assert_int_equal(v.story, 21 + i % 2);
	}
	*last = v;
	assert_int_equal(cluster_check(c), 0);
	return c;
}

/*
 * A story grown past CENT_MAX trims its centroid; terms trimmed come back
 * with later members. As members leave in any order, every centroid term
 * keeps a member that holds it (cluster_check()), and the story goes with
 * the last one.
 */
static void
test_trimmed_centroid_terms_leave_with_their_members(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p);
	struct verdict		 v;
	struct story		 s;
	struct tdoc		 td;
	uint32_t		 story = CLUSTER_NONE, i, j, n = 40;
	char			 spec[1024];

	(void)state;
	for (i = 0; i < n; i++) {
		/* heavy enough to stay the strongest terms, so it is found by them */
		int	len = snprintf(spec, sizeof(spec), "core0:100 core1:100 core2:100 "
		    "core3:100 core4:100 core5:100 core6:100 core7:100");

		/* 32 words of its own, or those of the article 12 before it */
		for (j = 0; j < 32; j++)
			len += snprintf(spec + len, sizeof(spec) - (size_t)len, " w%u_%u",
			    i >= 24 ? i - 12 : i, j);
		tdoc_make(&td, &p, 500 + i, spec, T0 + i * 60);
		add_ok(c, i, &td, &v);
		tdoc_fini(&td);
		if (i == 0)
			story = v.story;
		assert_int_equal(v.story, story);
	}
	assert_int_equal(cluster_check(c), 0);
	for (i = 0; i < n; i++) {
		cluster_remove(c, (i * 17) % n);	/* 17 is prime to 40: each once */
		assert_int_equal(cluster_check(c), 0);
	}
	assert_int_equal(cluster_story_get(c, story, &s), -ENOENT);
	assert_int_equal(cluster_count_stories(c), 0);
	cluster_free(c);
}

static void
test_article_in_two_stories_merges_the_younger_into_the_older(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c, *c2;
	struct verdict		 v;
	struct story		 s;
	struct feedlog		 f;
	uint32_t		 members[8];
	uint32_t		 i;

	(void)state;
	c = bridged(&p, 0, &v);		/* merging off: both stay */
	assert_true(v.story == 21 || v.story == 22);
	assert_int_equal(cluster_story_of(c, 0), 21);
	assert_int_equal(cluster_story_of(c, 1), 22);
	assert_int_equal(cluster_count_stories(c), 22);
	cluster_free(c);

	c = bridged(&p, 0.2, &v);
	assert_int_equal(v.status, VERDICT_JOINED_STORY);
	assert_int_equal(v.story, 21);
	for (i = 0; i < 5; i++)
		assert_int_equal(cluster_story_of(c, i), 21);
	assert_int_equal(cluster_count_stories(c), 21);
	assert_int_equal(cluster_story_get(c, 22, &s), -ENOENT);
	assert_int_equal(cluster_story_get(c, 21, &s), 0);
	assert_int_equal(s.size, 5);
	assert_int_equal(s.groups, 5);
	assert_int_equal(s.sources, 2);
	assert_int_equal(s.first_published, T0);
	assert_int_equal(s.last_published, T0 + 4 * 60);
	assert_int_equal(cluster_story_members(c, 21, members, 8), 5);
	for (i = 0; i < 5; i++)		/* in arrival order */
		assert_int_equal(members[i], i);
	f = feed(c, cluster_seq(c) - 2, 0);	/* the tombstone, then the story that took its articles */
	assert_int_equal(f.n, 2);
	assert_int_equal(f.id[0], 22);
	assert_true(f.removed[0]);
	assert_int_equal(f.id[1], 21);
	assert_false(f.removed[1]);

	assert_round_trip(c, &p, 120, &c2);
	cluster_remove(c, 1);		/* members of the merged story leave as any do */
	cluster_remove(c, 4);
	assert_int_equal(cluster_check(c), 0);
	assert_int_equal(cluster_story_get(c, 21, &s), 0);
	assert_int_equal(s.size, 3);
	cluster_free(c);
	cluster_free(c2);
}

static void
test_empty_clusterer_round_trips(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p), *c2;
	struct membuf		 m;

	(void)state;
	dump_ok(c, &m);
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), 0);
	assert_int_equal(cluster_check(c2), 0);
	assert_clusterers_equal(c, c2, 8);
	cluster_free(c);
	cluster_free(c2);
	free(m.b);
}

static void
test_load_refuses_truncated_input(void **state)
{
	struct stream		*st = calloc(1, sizeof(*st));
	struct clusterer	*c, *c2 = NULL;
	struct membuf		 m;
	size_t			 len;

	(void)state;
	assert_non_null(st);
	c = stream_run(st, 5, 12);
	dump_ok(c, &m);
	for (len = 0; len < m.n; len++)
		assert_true(load_prefix(&m, len, &st->p, &c2) < 0);
	assert_null(c2);
	cluster_free(c);
	free(m.b);
	free(st);
}

static void
test_load_refuses_flipped_bytes(void **state)
{
	struct stream		*st = calloc(1, sizeof(*st));
	struct clusterer	*c, *c2;
	struct membuf		 m;
	struct verdict		 v;
	struct tdoc		 q;
	size_t			 pos, loaded = 0, refused = 0;
	uint64_t		 rng = 99;
	int			 bit;

	/*
	 * No checksum at this layer: the snapshot file wraps the dump in an XXH3
	 * checksum. Here a flipped byte must give an error or a clusterer that
	 * is consistent and keeps working; never a crash, a leak or a hang.
	 */
	(void)state;
	assert_non_null(st);
	c = stream_run(st, 6, 40);
	dump_ok(c, &m);
	tdoc_make(&q, &st->p, 1234, "t1a t1b:2 common", T0);
	/* every byte of the header and the terms, and a quarter of the rest */
	for (pos = 0; pos < m.n; pos++) {
		if (pos >= 1024 && mix(pos) % 4 != 0)
			continue;
		for (bit = 0; bit < 2; bit++) {
			uint8_t	flip = bit == 0 ? 0xff : (uint8_t)(1u << (mix(rng++) % 8));

			m.b[pos] ^= flip;
			c2 = NULL;
			if (load_prefix(&m, m.n, &st->p, &c2) == 0) {
				assert_int_equal(cluster_check(c2), 0);
				assert_int_equal(cluster_query(c2, &q.d, &v), 0);
				cluster_remove(c2, st->held[0]);
				assert_int_equal(cluster_check(c2), 0);
				cluster_free(c2);
				loaded++;
			} else {
				assert_null(c2);
				refused++;
			}
			m.b[pos] ^= flip;
		}
	}
	assert_true(refused > 0 && loaded > 0);
	tdoc_fini(&q);
	cluster_free(c);
	free(m.b);
	free(st);
}

/* cluster_memory(): the parts add up, grow with what is held and fall back after removal. */
static void
test_memory_is_counted_by_part(void **state)
{
	struct cluster_params		 p;
	struct clusterer		*c = new_clusterer(&p);
	struct cluster_memory_split	 m;
	size_t				 empty, full, after;
	uint32_t			 i;

	(void)state;
	empty = cluster_memory(c, &m);
	assert_int_equal(empty, m.articles + m.lsh + m.simhash + m.stories + m.postings +
	    m.terms + m.other);
	for (i = 0; i < 200; i++)
		add_unrelated(c, &p, i, 1000 + i, T0 + i, NULL);
	full = cluster_memory(c, &m);
	assert_int_equal(full, m.articles + m.lsh + m.simhash + m.stories + m.postings +
	    m.terms + m.other);
	assert_true(full > empty);
	assert_true(m.articles >= 200 * (size_t)p.k);	/* a byte a MinHash value */
	assert_true(m.lsh > 0 && m.simhash > 0 && m.stories > 0 && m.postings > 0 &&
	    m.terms > 0);
	for (i = 0; i < 200; i++)
		cluster_remove(c, i);
	after = cluster_memory(c, &m);
	/* the per-article arrays stay; tombstones keep their records */
	assert_true(after < full);
	assert_int_equal(cluster_check(c), 0);
	cluster_free(c);
}

static void
test_load_refuses_newer_version(void **state)
{
	struct cluster_params	 p;
	struct clusterer	*c = new_clusterer(&p), *c2 = NULL;
	struct membuf		 m;

	(void)state;
	add_unrelated(c, &p, 0, 1, T0, NULL);
	dump_ok(c, &m);
	assert_memory_equal(m.b, "SDCLUST1\x05\x00\x00\x00", 12);
	m.b[8] = 6;
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), -EPROTONOSUPPORT);
	m.b[8] = 2;	/* older: version 2 had float centroid weights and counts */
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), -EINVAL);
	m.b[8] = 1;	/* version 1 had no centroid norms */
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), -EINVAL);
	m.b[8] = 0;
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), -EINVAL);
	m.b[8] = 5;
	m.b[0] = 'X';
	assert_int_equal(load_prefix(&m, m.n, &p, &c2), -EINVAL);
	assert_null(c2);
	cluster_free(c);
	free(m.b);
}

/*
 * tests/data/cluster-v<version>.dump is what the last code of that version
 * dumped after stream_run(s, 11, 300). Loaded now, it is the clusterer the
 * current code builds from the same stream, to the byte, and it goes on the
 * same way.
 */
static void
assert_loads_version(int version)
{
	struct stream		*s1 = calloc(1, sizeof(*s1)), *s2;
	struct clusterer	*c1, *c2;
	struct membuf		 old, m1, m2;
	struct verdict		 v1, v2;
	char			 path[4096];
	const char		*dir = getenv("STORYD_TESTDATA");
	FILE			*f;
	long			 n;
	int			 i;

	assert_non_null(dir);
	assert_non_null(s1);
	c1 = stream_run(s1, 11, 300);
	snprintf(path, sizeof(path), "%s/cluster-v%d.dump", dir, version);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) > 12);
	rewind(f);
	memset(&old, 0, sizeof(old));
	assert_non_null(old.b = malloc((size_t)n));
	assert_int_equal(fread(old.b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	old.n = (size_t)n;
	assert_int_equal(old.b[8], version);
	assert_int_equal(load_prefix(&old, old.n, &s1->p, &c2), 0);
	assert_int_equal(old.pos, old.n);
	assert_int_equal(cluster_check(c2), 0);
	assert_clusterers_equal(c1, c2, s1->nextid);
	dump_ok(c1, &m1);
	dump_ok(c2, &m2);
	assert_int_equal(m1.n, m2.n);
	assert_memory_equal(m1.b, m2.b, m1.n);

	assert_non_null(s2 = malloc(sizeof(*s2)));
	*s2 = *s1;
	for (i = 0; i < 300; i++) {
		uint32_t	id1 = stream_step(s1, c1, &v1), id2 = stream_step(s2, c2, &v2);

		assert_int_equal(id1, id2);
		if (id1 != CLUSTER_NONE)
			assert_verdict_equal(&v1, &v2);
	}
	assert_clusterers_equal(c1, c2, s1->nextid);
	cluster_free(c1);
	cluster_free(c2);
	free(old.b);
	free(m1.b);
	free(m2.b);
	free(s1);
	free(s2);
}

/* version 3: 16 bits a signature value (commit bfdb221) */
static void
test_load_reads_version_3(void **state)
{
	(void)state;
	assert_loads_version(3);
}

/* version 4: terms named by hash, not rank (commit 848043d) */
static void
test_load_reads_version_4(void **state)
{
	(void)state;
	assert_loads_version(4);
}

static void
test_load_refuses_different_k(void **state)
{
	struct cluster_params	 p, q;
	struct clusterer	*c = new_clusterer(&p), *c2 = NULL;
	struct membuf		 m;

	(void)state;
	add_unrelated(c, &p, 0, 1, T0, NULL);
	dump_ok(c, &m);
	q = p;
	q.k = 64;
	q.bands = q.bands * q.rows > q.k ? q.k / q.rows : q.bands;
	assert_int_equal(load_prefix(&m, m.n, &q, &c2), -EINVAL);
	q = p;
	q.rows++;
	q.bands = p.k / q.rows;
	assert_int_equal(load_prefix(&m, m.n, &q, &c2), -EINVAL);
	q = p;
	q.shingle++;
	assert_int_equal(load_prefix(&m, m.n, &q, &c2), -EINVAL);
	q = p;
	q.doc_terms--;
	assert_int_equal(load_prefix(&m, m.n, &q, &c2), -EINVAL);
	assert_null(c2);
	/* thresholds may change, and more kept terms are fine */
	q = p;
	q.story_threshold = 0.5;
	q.dup_threshold = 0.7;
	q.simhash_k = 2;
	q.doc_terms++;
	assert_int_equal(load_prefix(&m, m.n, &q, &c2), 0);
	assert_true(cluster_params(c2)->story_threshold == 0.5);
	assert_int_equal(cluster_check(c2), 0);
	cluster_free(c2);
	cluster_free(c);
	free(m.b);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_params_default_are_consistent),
		cmocka_unit_test(test_exact_duplicate_joins_group_and_story),
		cmocka_unit_test(test_removing_an_exact_copy_from_a_full_exact_map),
		cmocka_unit_test(test_room_for_the_index_changes_no_verdict),
		cmocka_unit_test(test_room_that_cannot_be_kept_is_told),
		cmocka_unit_test(test_exact_copies_found_when_their_hashes_collide),
		cmocka_unit_test(test_exact_copies_found_while_the_index_moves),
		cmocka_unit_test(test_articles_keep_what_terms_they_can_when_ids_run_out),
		cmocka_unit_test(test_near_duplicate_by_minhash_points_to_root),
		cmocka_unit_test(test_near_duplicate_by_simhash_needs_some_shared_text),
		cmocka_unit_test(test_trimmed_copy_is_near_duplicate_by_containment),
		cmocka_unit_test(test_containment_needs_the_jaccard_floor),
		cmocka_unit_test(test_root_removal_promotes_next_oldest),
		cmocka_unit_test(test_unrelated_articles_start_new_stories_in_order),
		cmocka_unit_test(test_related_articles_join_one_story),
		cmocka_unit_test(test_headline_needs_more_than_one_shared_word),
		cmocka_unit_test(test_articles_outside_window_do_not_join),
		cmocka_unit_test(test_decay_keeps_a_quiet_story_from_joining),
		cmocka_unit_test(test_removed_story_is_reported_once_as_tombstone),
		cmocka_unit_test(test_feed_since_has_no_skips_or_repeats),
		cmocka_unit_test(test_query_changes_nothing),
		cmocka_unit_test(test_same_sequence_gives_same_state),
		cmocka_unit_test(test_a_prefetch_changes_nothing),
		cmocka_unit_test(test_random_adds_and_removes_keep_invariants),
		cmocka_unit_test(test_dump_then_load_behaves_identically),
		cmocka_unit_test(test_an_add_as_chosen_ends_where_deciding_did),
		cmocka_unit_test(test_a_replica_without_indexes_dumps_and_decides_alike),
		cmocka_unit_test(test_weights_of_any_size_survive_a_snapshot),
		cmocka_unit_test(test_trimmed_centroid_terms_leave_with_their_members),
		cmocka_unit_test(test_article_in_two_stories_merges_the_younger_into_the_older),
		cmocka_unit_test(test_empty_clusterer_round_trips),
		cmocka_unit_test(test_load_refuses_truncated_input),
		cmocka_unit_test(test_load_refuses_flipped_bytes),
		cmocka_unit_test(test_memory_is_counted_by_part),
		cmocka_unit_test(test_load_refuses_newer_version),
		cmocka_unit_test(test_load_reads_version_3),
		cmocka_unit_test(test_load_reads_version_4),
		cmocka_unit_test(test_load_refuses_different_k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
