/* test-store: ids, retries, conflicts, replacement and deletion as clients see them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"

static struct article_in
article(const char *id, const char *title, const char *body)
{
	struct article_in a = {
		.id = id, .id_len = strlen(id),
		.title = title, .title_len = strlen(title),
		.body = body, .body_len = strlen(body),
		.source = "wire", .source_len = 4,
		.published = 1687161600, .has_published = 1, .now = 1687165200,
	};
	return a;
}

static const char *body1 =
    "Secretary of State Antony Blinken met Chinese President Xi Jinping in Beijing on Monday, "
    "capping two days of talks aimed at lowering tensions between the two superpowers.";
static const char *body2 =
    "A magnitude 6.1 earthquake struck off the coast of northern California early on Tuesday, "
    "shaking buildings in Eureka and cutting power to thousands of homes, officials said.";

static int
setup(void **state)
{
	struct cluster_params	p;

	cluster_params_default(&p);
	*state = store_new(&p);
	return *state == NULL;
}

static int
teardown(void **state)
{
	store_free(*state);
	return 0;
}

static void
test_a_new_id_is_created_and_found(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "Blinken meets Xi", body1);
	struct verdict		 v;
	const struct article	*got;

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	assert_int_equal(store_count(s), 1);
	got = store_find(s, "a1", 2);
	assert_non_null(got);
	assert_string_equal(got->title, "Blinken meets Xi");
	assert_string_equal(got->source, "wire");
	assert_int_equal(got->published, 1687161600);
	assert_null(store_find(s, "a2", 2));
}

static void
test_an_identical_retry_changes_nothing(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "Blinken meets Xi", body1);
	struct verdict		 v1, v2;
	uint64_t		 seq;

	assert_int_equal(store_put(s, &a, 0, &v1), STORE_CREATED);
	seq = cluster_seq(store_clusterer(s));
	a.now += 60;	/* a retry arrives later; without published_at that must not matter */
	assert_int_equal(store_put(s, &a, 0, &v2), STORE_SAME);
	assert_int_equal(v2.story, v1.story);
	assert_int_equal(v2.status, v1.status);
	assert_int_equal(cluster_seq(store_clusterer(s)), seq);
	assert_int_equal(store_count(s), 1);
}

static void
test_the_same_id_with_other_content_conflicts_unless_replaced(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "Blinken meets Xi", body1);
	struct article_in	 b = article("a1", "Quake hits California", body2);
	struct verdict		 v;

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_put(s, &b, 0, &v), STORE_CONFLICT);
	assert_string_equal(store_find(s, "a1", 2)->title, "Blinken meets Xi");
	assert_int_equal(store_put(s, &b, 1, &v), STORE_REPLACED);
	assert_string_equal(store_find(s, "a1", 2)->title, "Quake hits California");
	assert_int_equal(store_count(s), 1);
	assert_int_equal(cluster_count_articles(store_clusterer(s)), 1);
}

static void
test_deleted_articles_are_gone_and_ids_can_return(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "Blinken meets Xi", body1);
	struct article_in	 b = article("b1", "Quake hits California", body2);
	struct verdict		 v;

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_put(s, &b, 0, &v), STORE_CREATED);
	assert_int_equal(store_delete(s, "a1", 2), 0);
	assert_int_equal(store_delete(s, "a1", 2), STORE_NOT_FOUND);
	assert_null(store_find(s, "a1", 2));
	assert_non_null(store_find(s, "b1", 2));
	assert_int_equal(cluster_count_articles(store_clusterer(s)), 1);
	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_count(s), 2);
}

static void
test_similar_stores_nothing(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "Blinken meets Xi", body1);
	struct article_in	 q = article("q", "Blinken meets Xi", body1);
	struct verdict		 v;

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_similar(s, &q, &v), 0);
	assert_int_equal(v.status, VERDICT_EXACT_DUPLICATE);
	assert_null(store_find(s, "q", 1));
	assert_int_equal(store_count(s), 1);
}

static void
test_text_without_words_is_refused(void **state)
{
	struct store		*s = *state;
	struct article_in	 a = article("a1", "!!!", "... -- ...");
	struct verdict		 v;

	assert_int_equal(store_put(s, &a, 0, &v), STORE_NO_WORDS);
	assert_int_equal(store_count(s), 0);
}

static void
test_many_ids_survive_table_growth(void **state)
{
	struct store		*s = *state;
	char			 id[32], title[64];
	struct verdict		 v;

	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		snprintf(title, sizeof(title), "headline number %d about topic %d", i, i % 97);
		struct article_in a = article(id, title, "");

		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
		if (i % 3 == 0)
			assert_int_equal(store_delete(s, id, strlen(id)), 0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		if ((store_find(s, id, strlen(id)) == NULL) != (i % 3 == 0))
			fail_msg("%s: wrong presence", id);
	}
	assert_int_equal(store_count(s), 5000 - 1667);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_new_id_is_created_and_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_identical_retry_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_same_id_with_other_content_conflicts_unless_replaced,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_articles_are_gone_and_ids_can_return, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_similar_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_without_words_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_ids_survive_table_growth, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
