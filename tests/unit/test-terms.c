/*
 * test-terms: weights by position and capitalization, stemming, stop words,
 * names' initials, determinism and terms_keep_top().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "mix.h"
#include "terms.h"

struct fixture {
	struct terms_ctx	*ctx;
	struct tokens		 title, body;
	struct terms		 out;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (f == NULL || (f->ctx = terms_ctx_new()) == NULL)
		return -1;
	tokens_init(&f->title);
	tokens_init(&f->body);
	terms_init(&f->out);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	terms_ctx_free(f->ctx);
	tokens_fini(&f->title);
	tokens_fini(&f->body);
	terms_fini(&f->out);
	free(f);
	return 0;
}

/* Terms of a title and body (NULL: none) into f->out. */
static void
extract(struct fixture *f, const char *title, const char *body)
{
	tokens_reset(&f->title);
	tokens_reset(&f->body);
	if (title != NULL)
		assert_int_equal(normalize(title, strlen(title), NORM_TITLE, &f->title), 0);
	if (body != NULL)
		assert_int_equal(normalize(body, strlen(body), 0, &f->body), 0);
	assert_int_equal(terms_extract(f->ctx, title ? &f->title : NULL,
	    body ? &f->body : NULL, &f->out), 0);
}

static const struct term *
find(const struct terms *t, const char *word)
{
	size_t	i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->words + t->v[i].word, word) == 0)
			return &t->v[i];
	return NULL;
}

static float
weight(const struct terms *t, const char *word)
{
	const struct term	*term = find(t, word);

	if (term == NULL)
		fail_msg("no term \"%s\"", word);
	return term->weight;
}

static void
assert_sorted_by_hash(const struct terms *t)
{
	size_t	i;

	for (i = 1; i < t->n; i++)
		assert_true(t->v[i - 1].hash < t->v[i].hash);
	for (i = 0; i < t->n; i++) {
		assert_true(t->v[i].word < t->words_len);
		assert_true(t->v[i].weight > 0);
	}
}

static void
test_title_words_weigh_more_than_body_words(void **state)
{
	struct fixture	*f = *state;
	float		 in_title, in_lead, later;
	char		 body[2048] = "";
	int		 i;

	extract(f, "drought worsens", NULL);
	in_title = weight(&f->out, "drought");
	extract(f, NULL, "the drought worsens");
	in_lead = weight(&f->out, "drought");
	for (i = 0; i < TERMS_LEAD_WORDS; i++)
		strcat(body, "filler ");
	strcat(body, "drought");
	extract(f, NULL, body);
	later = weight(&f->out, "drought");
	assert_true(in_title > in_lead);
	assert_true(in_lead > later);
	assert_float_equal(in_title, 3.0, 1e-6);
	assert_float_equal(in_lead, 1.5, 1e-6);
	assert_float_equal(later, 1.0, 1e-6);
}

static void
test_stems_merge_inflected_forms(void **state)
{
	struct fixture	*f = *state;

	extract(f, "Talks stall", "the talk goes on; talking helps");
	assert_non_null(find(&f->out, "talks"));
	assert_null(find(&f->out, "talk"));
	assert_null(find(&f->out, "talking"));
	assert_float_equal(weight(&f->out, "talks"), 3.0 + 1.5 + 1.5, 1e-6);
	assert_int_equal(find(&f->out, "talks")->hash, XXH3_64bits("talk", 4));
}

static void
test_surface_word_is_the_unstemmed_form(void **state)
{
	struct fixture	*f = *state;

	extract(f, NULL, "officials in beijing");
	assert_non_null(find(&f->out, "beijing"));
	assert_non_null(find(&f->out, "officials"));
	assert_int_equal(find(&f->out, "beijing")->hash, XXH3_64bits("beij", 4));
}

static void
test_stop_words_short_words_and_small_numbers_are_absent(void **state)
{
	struct fixture	*f = *state;

	extract(f, "The x said that it was", "a 5 10 737 2024 Reuters told us they would");
	assert_int_equal(f->out.n, 3);
	assert_non_null(find(&f->out, "737"));
	assert_non_null(find(&f->out, "2024"));
	assert_non_null(find(&f->out, "reuters"));
	assert_true(terms_is_stopword("the", 3));
	assert_true(terms_is_stopword("said", 4));
	assert_true(terms_is_stopword("thesis", 3));	/* "the": the length counts */
	assert_false(terms_is_stopword("thesis", 6));
	assert_false(terms_is_stopword("china", 5));
	assert_false(terms_is_stopword("", 0));
	assert_false(terms_is_stopword("zzzz", 4));
	assert_true(terms_is_stopword("yourselves", 10));
	assert_true(terms_is_stopword("a", 1));
}

static void
test_name_like_words_are_boosted(void **state)
{
	struct fixture	*f = *state;

	extract(f, NULL, "Leaders saw Beijing and crowds. Beijing said no.");
	assert_float_equal(weight(&f->out, "crowds"), 1.5, 1e-6);
	/* mid-sentence capital makes a name, then every mention counts double */
	assert_float_equal(weight(&f->out, "beijing"), 2 * (1.5 + 1.5), 1e-6);
	assert_float_equal(weight(&f->out, "leaders"), 1.5, 1e-6);
}

static void
test_lower_case_use_cancels_the_name_boost(void **state)
{
	struct fixture	*f = *state;

	extract(f, NULL, "They ate an Apple and an apple.");
	assert_float_equal(weight(&f->out, "apple"), 3.0, 1e-6);
}

static void
test_title_case_headline_gives_no_name_boost(void **state)
{
	struct fixture	*f = *state;

	extract(f, "Blinken To Meet China's Leader In Beijing", NULL);
	assert_float_equal(weight(&f->out, "leader"), 3.0, 1e-6);
	assert_float_equal(weight(&f->out, "beijing"), 3.0, 1e-6);
	extract(f, "Blinken to meet the leader in Beijing", NULL);
	assert_float_equal(weight(&f->out, "leader"), 3.0, 1e-6);
	assert_float_equal(weight(&f->out, "beijing"), 6.0, 1e-6);
}

static void
test_output_is_sorted_by_hash_and_deterministic(void **state)
{
	static const char	title[] = "Blinken to meet China’s Xi Jinping, part of effort to "
	    "soothe tensions";
	static const char	body[] = "U.S. Secretary of State Antony Blinken will travel to "
	    "Beijing to meet President Xi Jinping. The talks follow months of tension over "
	    "Taiwan, trade and technology. Officials said the talks would be candid.";
	struct fixture		*f = *state;
	struct terms_ctx	*ctx2 = terms_ctx_new();
	struct terms		 out2;
	size_t			 i;

	assert_non_null(ctx2);
	terms_init(&out2);
	extract(f, title, body);
	assert_true(f->out.n > 10);
	assert_sorted_by_hash(&f->out);
	assert_int_equal(terms_extract(ctx2, &f->title, &f->body, &out2), 0);
	assert_int_equal(out2.n, f->out.n);
	for (i = 0; i < out2.n; i++) {
		assert_int_equal(out2.v[i].hash, f->out.v[i].hash);
		assert_true(out2.v[i].weight == f->out.v[i].weight);
		assert_string_equal(out2.words + out2.v[i].word, f->out.words + f->out.v[i].word);
	}
	/* extracting again into the same out replaces it */
	assert_int_equal(terms_extract(ctx2, &f->title, &f->body, &out2), 0);
	assert_int_equal(out2.n, f->out.n);
	terms_fini(&out2);
	terms_ctx_free(ctx2);
	terms_ctx_free(NULL);
}

static void
test_keep_top_keeps_the_heaviest_sorted_by_hash(void **state)
{
	struct fixture	*f = *state;

	extract(f, "Drought grips farms", "Farmers fear drought. Rain is scarce; farms fail, "
	    "farms sold. Cattle thin.");
	terms_keep_top(&f->out, 3);
	assert_int_equal(f->out.n, 3);
	assert_sorted_by_hash(&f->out);
	assert_non_null(find(&f->out, "farms"));	/* 3 + 1.5 * 2 ... */
	assert_non_null(find(&f->out, "drought"));	/* 3 + 1.5 */
	assert_non_null(find(&f->out, "grips"));	/* 3 */
	assert_true(f->out.words_len <= strlen("farms drought grips") + 1);
	terms_keep_top(&f->out, 10);
	assert_int_equal(f->out.n, 3);
	terms_keep_top(&f->out, 0);
	assert_int_equal(f->out.n, 0);
}

static void
test_keep_top_breaks_ties_by_lower_hash(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 h[5];
	size_t		 i;

	extract(f, NULL, "apples pears plums grapes melons");
	assert_int_equal(f->out.n, 5);
	for (i = 0; i < 5; i++)
		h[i] = f->out.v[i].hash;	/* sorted already */
	terms_keep_top(&f->out, 2);
	assert_int_equal(f->out.n, 2);
	assert_int_equal(f->out.v[0].hash, h[0]);
	assert_int_equal(f->out.v[1].hash, h[1]);
}

static void
test_a_name_meets_its_acronym(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 boe;

	extract(f, NULL, "Sterling rose. Traders said the BoE would wait.");
	assert_non_null(find(&f->out, "boe"));
	boe = find(&f->out, "boe")->hash;
	extract(f, NULL, "Sterling rose after the Bank of England kept rates on hold.");
	assert_non_null(find(&f->out, "boe"));
	assert_true(find(&f->out, "boe")->hash == boe);
	assert_true(weight(&f->out, "boe") == 1.5f);	/* one occurrence in the lead */
	extract(f, "Sterling rises as Bank of England waits", NULL);
	assert_non_null(find(&f->out, "boe"));
	extract(f, NULL, "Rates held. The Bank of England waits.");	/* not from "The" */
	assert_non_null(find(&f->out, "boe"));
	assert_null(find(&f->out, "tboe"));
	extract(f, NULL, "Agents of the Federal Bureau of Investigation arrived.");
	assert_non_null(find(&f->out, "fboi"));
	assert_non_null(find(&f->out, "fbi"));
	extract(f, NULL, "Then Mark Carney spoke.");	/* two letters: too ambiguous */
	assert_null(find(&f->out, "mc"));
	extract(f, NULL, "Officials. Bank Of. England.");	/* not across sentences */
	assert_null(find(&f->out, "boe"));
	extract(f, "Bank Of England Keeps Rates On Hold", NULL);	/* Title Case: no names known */
	assert_null(find(&f->out, "boe"));
}

static void
test_empty_input_gives_no_terms(void **state)
{
	struct fixture	*f = *state;

	extract(f, NULL, NULL);		/* first, with nothing allocated yet */
	assert_int_equal(f->out.n, 0);
	extract(f, "Blinken", NULL);
	assert_int_equal(f->out.n, 1);
	extract(f, NULL, NULL);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(f->out.words_len, 0);
	extract(f, "the of and", "a");
	assert_int_equal(f->out.n, 0);
}

/* A copy holds the same terms and words, into an empty set or over a larger one. */
static void
test_a_copy_is_equal_whatever_it_held(void **state)
{
	struct fixture	*f = *state;
	struct terms	 copy;

	terms_init(&copy);
	extract(f, "Blinken meets Xi in Beijing", "Talks on trade, Taiwan and fentanyl went on "
	    "for hours; both sides called them candid and constructive.");
	assert_int_equal(terms_copy(&copy, &f->out), 0);
	assert_int_equal(copy.n, f->out.n);
	assert_int_equal(copy.words_len, f->out.words_len);
	assert_memory_equal(copy.v, f->out.v, f->out.n * sizeof(*f->out.v));
	assert_memory_equal(copy.words, f->out.words, f->out.words_len);
	extract(f, "Storm", NULL);
	assert_int_equal(terms_copy(&copy, &f->out), 0);
	assert_int_equal(copy.n, 1);
	assert_int_equal(copy.words_len, f->out.words_len);
	assert_memory_equal(copy.v, f->out.v, sizeof(*f->out.v));
	assert_string_equal(copy.words + copy.v[0].word, "storm");
	extract(f, NULL, NULL);
	assert_int_equal(terms_copy(&copy, &f->out), 0);
	assert_int_equal(copy.n, 0);
	assert_int_equal(copy.words_len, 0);
	terms_fini(&copy);
}

/*
 * The stem cache must not show: a word met before, a long word, and a word
 * that pushed another out all give the terms a fresh context gives.
 */
static void
test_terms_do_not_depend_on_what_came_before(void **state)
{
	static const char	*bodies[] = {
		"Officials in Beijing said the talks were constructive and candid.",
		("Internationalization of counterrevolutionaries, antidisestablishmentarianism "
		    "and electroencephalographically measured officials."),
		"Talks, talking and talked: the officials talk in Beijing again.",
	};
	struct fixture		*f = *state;
	struct terms_ctx	*fresh;
	struct terms		 out;
	size_t			 i, j;

	terms_init(&out);
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
			extract(f, "Officials meet in Beijing", bodies[i]);
			assert_non_null(fresh = terms_ctx_new());
			assert_int_equal(terms_extract(fresh, &f->title, &f->body, &out), 0);
			terms_ctx_free(fresh);
			assert_int_equal(out.n, f->out.n);
			assert_int_equal(out.words_len, f->out.words_len);
			for (j = 0; j < out.n; j++) {
				assert_int_equal(out.v[j].hash, f->out.v[j].hash);
				assert_true(out.v[j].weight == f->out.v[j].weight);
				assert_int_equal(out.v[j].word, f->out.v[j].word);
			}
		}
	}
	extract(f, NULL, bodies[1]);
	assert_non_null(find(&f->out, "antidisestablishmentarianism"));
	assert_non_null(find(&f->out, "electroencephalographically"));
	terms_fini(&out);
}

static int
cmp_heavier(const void *a, const void *b)
{
	const struct term	*x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return (x->hash > y->hash) - (x->hash < y->hash);
}

/* terms_keep_top() against a plain sort, on many terms of many weights. */
static void
test_keep_top_matches_a_full_sort(void **state)
{
	struct fixture	*f = *state;
	char		 body[16384] = "", word[32];
	struct term	 all[1024];
	size_t		 i, n, max;

	for (i = 0; i < 300; i++) {
		/* 150 distinct words, some repeated, some capitalized mid-sentence */
		snprintf(word, sizeof(word), "%s%c%c%c ", i % 7 == 3 ? "Q" : "w",
		    'a' + (char)(i * 7 % 150 % 26), 'a' + (char)(i * 7 % 150 / 26), 'a' + (char)(i % 3));
		strcat(body, word);
	}
	for (max = 0; max <= 200; max += max < 10 ? 1 : 17) {
		extract(f, "Wbaa wcaa", body);
		n = f->out.n;
		assert_true(n > 100 && n <= 1024);
		memcpy(all, f->out.v, n * sizeof(*all));
		qsort(all, n, sizeof(*all), cmp_heavier);
		terms_keep_top(&f->out, max);
		assert_int_equal(f->out.n, max < n ? max : n);
		assert_sorted_by_hash(&f->out);
		for (i = 0; i < f->out.n; i++) {
			const struct term	*t = find(&f->out, f->out.words + f->out.v[i].word);

			assert_ptr_equal(t, &f->out.v[i]);
		}
		/* the kept set is the first max of the sort */
		for (i = 0; i < f->out.n; i++) {
			size_t	k;

			for (k = 0; k < f->out.n && all[k].hash != f->out.v[i].hash; k++)
				;
			assert_true(k < f->out.n);
			assert_true(all[k].weight == f->out.v[i].weight);
		}
	}
}

static int
cmp_hash(const void *a, const void *b)
{
	const struct term	*x = a, *y = b;

	return (x->hash > y->hash) - (x->hash < y->hash);
}

/*
 * terms_keep_top() against a plain sort on weights that share their top 16
 * bits and differ below (sums that are not short binary fractions), more
 * terms than the search copies to the stack, and ties at the cut.
 */
static void
test_keep_top_matches_a_full_sort_on_any_weights(void **state)
{
	enum { N = 700 };
	struct terms	 t;
	struct term	*all = malloc(N * sizeof(*all));
	uint64_t	 rng = 3;
	char		 word[16];

	(void)state;
	assert_non_null(all);
	for (size_t max = 1; max < N; max += max < 64 ? 7 : 97) {
		terms_init(&t);
		assert_int_equal(terms_room(&t, N, N * sizeof(word)), 0);
		for (size_t i = 0; i < N; i++) {
			uint64_t	r = rng_next(&rng);

			/* a few top-bit groups, each of many nearby weights and some equal ones */
			t.v[i] = (struct term){ .hash = rng_next(&rng),
			    .weight = (float)(1 + r % 5) + (float)(r >> 40 & 7) / 1048576.0f };
		}
		qsort(t.v, N, sizeof(*t.v), cmp_hash);
		for (size_t i = 0; i < N; i++) {	/* the words in the order of v */
			int	len = snprintf(word, sizeof(word), "t%zu", i);

			t.v[i].word = (uint32_t)t.words_len;
			memcpy(t.words + t.words_len, word, (size_t)len + 1);
			t.words_len += (size_t)len + 1;
		}
		t.n = N;
		memcpy(all, t.v, N * sizeof(*all));
		qsort(all, N, sizeof(*all), cmp_heavier);
		terms_keep_top(&t, max);
		assert_int_equal(t.n, max);
		assert_sorted_by_hash(&t);
		for (size_t i = 0; i < t.n; i++) {
			size_t	k;

			for (k = 0; k < max && all[k].hash != t.v[i].hash; k++)
				;
			assert_true(k < max);		/* one of the max heaviest, ties by lower hash */
			assert_true(all[k].weight == t.v[i].weight);
		}
		terms_fini(&t);
	}
	free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_title_words_weigh_more_than_body_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_copy_is_equal_whatever_it_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stems_merge_inflected_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_surface_word_is_the_unstemmed_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_words_short_words_and_small_numbers_are_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_like_words_are_boosted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lower_case_use_cancels_the_name_boost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_title_case_headline_gives_no_name_boost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_is_sorted_by_hash_and_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_top_keeps_the_heaviest_sorted_by_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_top_breaks_ties_by_lower_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_name_meets_its_acronym, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_input_gives_no_terms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terms_do_not_depend_on_what_came_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_top_matches_a_full_sort, setup, teardown),
		cmocka_unit_test(test_keep_top_matches_a_full_sort_on_any_weights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
