/* test-store: ids, retries, conflicts, replacement and deletion as clients see them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "fingerprint.h"
#include "le.h"
#include "pages.h"
#include "store.h"
#include "verdict-equal.h"

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
	struct store_params	p = { .retention = 1000000000, .max_articles = 1000000 };

	cluster_params_default(&p.cluster);
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

static struct store_params
params(void)
{
	struct store_params	p = { .retention = 1000000000, .max_articles = 1000000 };

	cluster_params_default(&p.cluster);
	return p;
}

/*
 * The id table under churn at up to 3/4 full (max_articles 700 gives 1,024
 * slots): removals shift later ids back, and every id stays findable.
 */
static void
test_ids_stay_findable_through_churn_in_a_full_table(void **state)
{
	enum { IDS = 760, OPS = 6000 };
	struct store_params	 p = params();
	struct store		*s;
	struct verdict		 v;
	uint8_t			 held[IDS] = { 0 };
	unsigned		 seed = 99;
	char			 id[16], title[48];

	(void)state;
	p.max_articles = IDS;
	assert_non_null(s = store_new(&p));
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		unsigned k = (seed >> 8) % IDS;

		snprintf(id, sizeof(id), "k%u", k);
		if (held[k] && (seed >> 20) % 3 == 0) {
			assert_int_equal(store_delete(s, id, strlen(id)), 0);
			held[k] = 0;
		} else if (!held[k]) {
			snprintf(title, sizeof(title), "bulletin %u from desk %u", k, k % 7);
			struct article_in a = article(id, title, "");

			assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
			held[k] = 1;
		}
		if (op % 50 == 49)
			for (unsigned i = 0; i < IDS; i++) {
				snprintf(id, sizeof(id), "k%u", i);
				if ((store_find(s, id, strlen(id)) != NULL) != held[i])
					fail_msg("op %d: %s: wrong presence", op, id);
			}
	}
	store_free(s);
}

static void
test_articles_older_than_the_retention_window_are_evicted(void **state)
{
	struct store_params	 p = params();
	struct store		*s;
	struct verdict		 v;
	char			 id[16], title[64];

	(void)state;
	p.retention = 2 * 3600;
	s = store_new(&p);
	for (int h = 0; h < 6; h++) {
		snprintf(id, sizeof(id), "h%d", h);
		snprintf(title, sizeof(title), "bulletin %d on topic %d", h, h * 7);
		struct article_in a = article(id, title, "");

		a.published = 1687161600 + h * 3600;
		a.now = a.published;
		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	}
	/* the newest is 5h; 2h before it is 3h: h0..h2 are gone */
	assert_null(store_find(s, "h0", 2));
	assert_null(store_find(s, "h2", 2));
	assert_non_null(store_find(s, "h3", 2));
	assert_int_equal(store_count(s), 3);
	assert_int_equal(store_evicted(s), 3);
	assert_int_equal(cluster_count_articles(store_clusterer(s)), 3);
	store_free(s);
}

static void
test_the_oldest_articles_go_beyond_max_articles(void **state)
{
	struct store_params	 p = params();
	struct store		*s;
	struct verdict		 v;
	char			 id[16], title[64];

	(void)state;
	p.max_articles = 100;
	s = store_new(&p);
	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(title, sizeof(title), "note %d about subject %d", i, i * 13);
		struct article_in a = article(id, title, "");

		a.published = 1687161600 + i;
		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
		assert_true(store_count(s) <= 100);
	}
	assert_null(store_find(s, "n149", 4));
	assert_non_null(store_find(s, "n150", 4));
	store_free(s);
}

/*
 * When set, churn()'s and churn_stories()'s puts come fingerprinted by it,
 * as the decode thread sends a client's batch (article_in.kept).
 */
static struct fingerprinter	*fingerprinted_by;

static int
put(struct store *s, struct article_in *a, int replace, struct verdict *v)
{
	static unsigned char	 kept[1 << 14];
	struct article_text	 t = store_text_of(a);
	struct cluster_params	 cp;
	const struct doc	*d;

	cluster_params_default(&cp);
	if (fingerprinted_by != NULL && fingerprint(fingerprinted_by, &t, &d) == 0) {
		assert_true(doc_encoded_size(d, &cp) <= sizeof(kept));
		doc_encode(d, &cp, kept);
		a->kept = kept;
		a->kept_len = doc_encoded_size(d, &cp);
	}
	return store_put(s, a, replace, v);
}

/* A random history of puts, replacements, retries and deletes. */
static void
churn(struct store *s, unsigned seed, int n)
{
	char		id[16], title[96], body[256];
	struct verdict	v;

	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;

		snprintf(id, sizeof(id), "c%u", r % 300);
		if (r % 7 == 0) {
			store_delete(s, id, strlen(id));
			continue;
		}
		snprintf(title, sizeof(title), "storm %u hits coast of region %u", r % 11, r % 5);
		snprintf(body, sizeof(body), "The storm number %u reached the coast of region %u "
		    "with winds of %u km/h, officials from agency %u said on day %u.",
		    r % 11, r % 5, 100 + r % 3, r % 4, i);
		struct article_in a = article(id, title, body);

		a.published = 1687161600 + i * 60;
		a.now = a.published;
		put(s, &a, r % 3 == 0, &v);
	}
}

/*
 * n puts of texts drawn from one small vocabulary under ids of their own:
 * they share terms without being duplicates, so they join stories by
 * scoring them, and the decisions refresh centroid norms (churn()'s texts
 * are near duplicates of a few, which join their groups' stories).
 */
static void
churn_stories(struct store *s, unsigned seed, int n)
{
	static const char *const	head[] = { "bar", "cel", "dor", "fen", "gal", "hur", "jas",
	    "kel", "lom", "mar", "nor", "pel" };
	static const char *const	tail[] = { "ton", "vik", "ran", "sel", "mud", "dex", "lan",
	    "por", "zin", "bek", "tam", "rus" };
	char				id[16], title[96], body[512];

	for (int i = 0; i < n; i++) {
		unsigned	topic = (unsigned)i % 20;
		size_t		off = 0;

		snprintf(id, sizeof(id), "v%d", i);
		/* 14 words of the topic's 20 among 144 made-up ones */
		for (int w = 0; w < 14; w++) {
			unsigned	k;

			seed = seed * 1103515245u + 12345u;
			k = (topic * 7 + (seed >> 8) % 20) % 144;
			off += (size_t)snprintf(body + off, sizeof(body) - off, "%s%s%s",
			    w ? " " : "", head[k / 12], tail[k % 12]);
		}
		snprintf(title, sizeof(title), "%.40s", body);
		struct article_in a = article(id, title, body);

		a.published = 1687161600 + i * 60;
		a.now = a.published;
		put(s, &a, 0, &(struct verdict){ 0 });
	}
}

/* Everything a client can see of the store, as one comparable string. */
static void
describe(struct store *s, char *buf, size_t len)
{
	struct clusterer	*c = store_clusterer(s);
	size_t			 off;

	off = (size_t)snprintf(buf, len, "seq=%llu n=%zu;", (unsigned long long)cluster_seq(c),
	    store_count(s));
	for (int i = 0; i < 300 && off < len; i++) {
		char			 id[16];
		const struct article	*a;

		snprintf(id, sizeof(id), "c%d", i);
		if ((a = store_find(s, id, strlen(id))) == NULL)
			continue;
		uint32_t dup = cluster_duplicate_of(c, a->index);

		off += (size_t)snprintf(buf + off, len - off, "%s:%u:%s:%u:%s;", id,
		    cluster_story_of(c, a->index), dup == CLUSTER_NONE ? "-" : store_at(s, dup)->id,
		    a->status, a->title);
	}
}

static char *
temp_dir(void)
{
	static char	dir[64];

	strcpy(dir, "/tmp/storyd-test-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void
remove_dir(const char *dir)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Wait for the snapshot under way: store_snapshot_poll()'s last answer, and its *bytes. */
static int
snapshot_outcome(struct store *s, uint64_t *bytes)
{
	int	r;

	*bytes = 0;
	while ((r = store_snapshot_poll(s, bytes)) == STORE_SNAPSHOT_RUNNING)
		usleep(10000);
	return r;
}

static void
wait_snapshot(struct store *s)
{
	uint64_t	bytes;

	assert_int_equal(snapshot_outcome(s, &bytes), STORE_SNAPSHOT_DONE);
	assert_true(bytes > 0);
}

/*
 * The second thread fingerprinted some of what s stored in batches: it is
 * started only on a machine of more than one core.
 */
static void
assert_second_thread_took_part(struct store *s)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		assert_true(store_stats(s)->fingerprinted_ahead > 0);
}

/*
 * In a full store a put first evicts the oldest article, then is judged:
 * on replay too, or it is judged against an article that was already gone.
 * Three articles in a store of two, the third a copy of the first's text:
 * the first is evicted to make room, so the copy is a new story, and stays
 * one after a crash.
 */
static void
test_a_put_that_evicted_is_judged_alike_after_a_crash(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	struct verdict		 v;
	char			*dir = temp_dir();

	(void)state;
	p.max_articles = 2;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	struct article_in a = article("a", "Blinken meets Xi", body1);
	struct article_in b = article("b", "Quake off California", body2);
	struct article_in copy = article("copy", "Blinken meets Xi", body1);

	b.published++;
	copy.published += 2;
	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_put(s, &b, 0, &v), STORE_CREATED);
	assert_int_equal(store_put(s, &copy, 0, &v), STORE_CREATED);
	assert_int_equal(v.status, VERDICT_NEW_STORY);
	assert_null(store_find(s, "a", 1));
	assert_int_equal(store_flush(s), 0);
	store_free(s);	/* a crash */

	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_int_equal(rep.replayed, 4);	/* three puts and the eviction */
	assert_null(store_find(s, "a", 1));
	assert_int_equal(store_find(s, "copy", 4)->status, VERDICT_NEW_STORY);
	store_free(s);
	remove_dir(dir);
}

/* Reopened after a clean close, dir's snapshot alone holds what before describes. */
static void
assert_the_snapshot_alone_holds(const char *dir, const struct store_params *p, const char *before)
{
	struct store_report	 rep;
	struct store		*s;
	char			*after = malloc(1 << 16);

	assert_int_equal(store_open(&s, dir, p, &rep), 0);
	assert_true(rep.snapshot);
	assert_int_equal(rep.replayed, 0);
	describe(s, after, 1 << 16);
	assert_string_equal(before, after);
	store_free(s);
	free(after);
}

static void
test_snapshot_plus_log_tail_recovers_the_same_state(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir(), *before = malloc(1 << 16), *after = malloc(1 << 16);

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 2, 1500);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_snapshot_start(s), 0);
	churn(s, 3, 500);	/* goes on while the snapshot is rebuilt */
	assert_int_equal(store_flush(s), 0);
	wait_snapshot(s);
	churn(s, 4, 300);
	assert_int_equal(store_flush(s), 0);
	describe(s, before, 1 << 16);
	store_free(s);

	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_true(rep.snapshot);
	assert_true(rep.replayed >= 300 && rep.replayed < 1500);
	describe(s, after, 1 << 16);
	assert_string_equal(before, after);

	/* and a clean close leaves only the snapshot to read */
	assert_int_equal(store_close(s), 0);
	assert_the_snapshot_alone_holds(dir, &p, before);
	remove_dir(dir);
	free(before);
	free(after);
}

/* n words drawn from 50,000 made-up ones by a hash of seed: texts of different seeds share few. */
static void
random_words(char *buf, size_t len, unsigned seed, int n)
{
	size_t	off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off + 6 < len; i++) {
		uint64_t	w = ((uint64_t)seed << 32 | (unsigned)i) * 0x9e3779b97f4a7c15ull;

		w = (w ^ (w >> 31)) * 0xbf58476d1ce4e5b9ull;
		w = (w ^ (w >> 29)) % 50000;
		if (i > 0)
			buf[off++] = ' ';
		for (int k = 0; k < 4; k++, w /= 26)	/* letters: numbers are not words */
			buf[off++] = (char)('a' + w % 26);
		buf[off] = '\0';
	}
}

/*
 * Past PAGES_APART bytes the LSH tables are mappings of their own (pages.h):
 * the snapshot must still hold everything, and the index rebuilt from it
 * still find near duplicates.
 */
static void
test_a_snapshot_of_a_large_index_is_whole(void **state)
{
	enum { N = 14000 };	/* 42 tables of 4-byte slots past PAGES_APART */
	struct store_params	 p = params();
	struct store_report	 rep;
	struct cluster_memory_split split;
	struct store		*s;
	struct verdict		 v;
	uint32_t		 story;
	char			 id[16], title[64], body[512];
	char			*dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		snprintf(title, sizeof(title), "report %d", i);
		random_words(body, sizeof(body), (unsigned)i, 40);
		struct article_in a = article(id, title, body);

		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
		assert_int_equal(v.status, VERDICT_NEW_STORY);
	}
	cluster_memory(store_clusterer(s), &split);
	assert_true(split.lsh >= 42 * (size_t)PAGES_APART);
	story = cluster_story_of(store_clusterer(s), store_find(s, "m4321", 5)->index);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_snapshot_start(s), 0);
	wait_snapshot(s);
	store_free(s);	/* a crash: the snapshot alone */

	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_true(rep.snapshot);
	assert_int_equal(rep.replayed, 0);
	assert_int_equal(store_count(s), N);
	assert_int_equal(cluster_story_of(store_clusterer(s), store_find(s, "m4321", 5)->index), story);
	/* m4321's text under another headline: found through the rebuilt index */
	random_words(body, sizeof(body), 4321, 40);
	struct article_in a = article("copy", "a second report", body);

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(v.status, VERDICT_NEAR_DUPLICATE);
	assert_int_equal(v.duplicate_of, store_find(s, "m4321", 5)->index);
	store_free(s);
	remove_dir(dir);
}

/*
 * A snapshot holding more ids than a lowered max_articles sizes the id
 * table for: it grows while the snapshot loads, and every id is found.
 */
static void
test_a_snapshot_past_a_lowered_max_articles_loads_whole(void **state)
{
	enum { N = 3000 };
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	struct verdict		 v;
	char			 id[16], title[48], *dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		snprintf(title, sizeof(title), "dispatch %d from bureau %d", i, i % 13);
		struct article_in a = article(id, title, "");

		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	}
	assert_int_equal(store_close(s), 0);
	p.max_articles = 100;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_true(rep.snapshot);
	assert_int_equal(store_count(s), N);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		if (store_find(s, id, strlen(id)) == NULL)
			fail_msg("%s: lost", id);
	}
	store_free(s);
	remove_dir(dir);
}

/*
 * store_put_batch() against store_put() one by one, on two stores fed the
 * same articles in batches of 1 to 100: every result and verdict, and then
 * all that a client sees, the same. The articles repeat ids within and
 * across batches (retries, conflicts, replacements), copy each other, and
 * some have no words. On more than one core the second thread must have
 * fingerprinted some of them.
 */
static void
test_a_batch_stores_what_puts_one_by_one_do(void **state)
{
	enum { N = 1500, BATCH_MAX = 100 };
	static const size_t	 sizes[] = { 1, 2, 3, 7, 64, 100, 5, 33 };
	struct store_params	 p = params();
	struct store		*one = store_new(&p), *batch = store_new(&p);
	struct article_in	 in[BATCH_MAX];
	struct verdict		 v1, vb[BATCH_MAX];
	int			 rb[BATCH_MAX], seen[5] = { 0 };
	static char		 ids[BATCH_MAX][16], titles[BATCH_MAX][96], bodies[BATCH_MAX][600];
	char			 *d1 = malloc(1 << 16), *d2 = malloc(1 << 16);
	unsigned		 seed = 7;

	(void)state;
	assert_non_null(one);
	assert_non_null(batch);
	assert_non_null(d1);
	assert_non_null(d2);
	for (size_t done = 0, b = 0; done < N; done += sizes[b % 8], b++) {
		size_t	n = sizes[b % 8] < N - done ? sizes[b % 8] : N - done;
		int	replace = b % 3 == 0;

		for (size_t i = 0; i < n; i++) {
			unsigned	r;

			seed = seed * 1103515245u + 12345u;
			r = seed >> 8;
			snprintf(ids[i], sizeof(ids[i]), "c%u", r % 250);
			snprintf(titles[i], sizeof(titles[i]), "storm %u hits coast of region %u",
			    r % 11, r % 5);
			if (r % 13 == 0) {		/* no words */
				snprintf(titles[i], sizeof(titles[i]), "!!!");
				bodies[i][0] = '\0';
			} else if (r % 5 == 0)		/* a copy of one text, under many ids */
				random_words(bodies[i], sizeof(bodies[i]), 99, 80);
			else
				random_words(bodies[i], sizeof(bodies[i]), r % 400, 20 + r % 60);
			in[i] = article(ids[i], titles[i], bodies[i]);
			in[i].published = 1687161600 + (int64_t)(done + i) * 60;
			in[i].now = in[i].published;
			if (r % 17 == 1) {		/* a retry of the same submission */
				snprintf(ids[i], sizeof(ids[i]), "retry%u", r % 3);
				random_words(bodies[i], sizeof(bodies[i]), 7 + r % 3, 40);
				in[i] = article(ids[i], "retried", bodies[i]);
			}
		}
		store_put_batch(batch, in, n, replace, rb, vb);
		for (size_t i = 0; i < n; i++) {
			int	r = store_put(one, &in[i], replace, &v1);

			assert_int_equal(rb[i], r);
			if (r == STORE_CREATED || r == STORE_REPLACED || r == STORE_SAME)
				assert_verdict_equal(&vb[i], &v1);
			seen[r == STORE_CREATED ? 0 : r == STORE_REPLACED ? 1 : r == STORE_SAME ? 2 :
			    r == STORE_CONFLICT ? 3 : 4]++;
		}
	}
	for (int k = 0; k < 5; k++)
		assert_true(seen[k] > 0);	/* created, replaced, same, conflict, no words */
	describe(one, d1, 1 << 16);
	describe(batch, d2, 1 << 16);
	assert_string_equal(d1, d2);
	assert_int_equal(store_stats(one)->fingerprinted_ahead, 0);
	assert_second_thread_took_part(batch);
	store_free(one);
	store_free(batch);
	free(d1);
	free(d2);
}

static void
test_a_second_store_on_the_same_directory_is_refused(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s, *t;
	char			*dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_int_equal(store_open(&t, dir, &p, &rep), -EBUSY);
	store_free(s);
	remove_dir(dir);
}

static void
test_a_damaged_snapshot_stops_the_start(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir(), path[128];
	FILE			*f;

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 5, 200);
	assert_int_equal(store_close(s), 0);
	snprintf(path, sizeof(path), "%s/snapshot", dir);
	f = fopen(path, "r+");
	assert_non_null(f);
	fseek(f, 100, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 100, SEEK_SET);
	fputc(c ^ 0xff, f);
	fclose(f);
	assert_int_equal(store_open(&s, dir, &p, &rep), STORE_CORRUPT);
	assert_non_null(strstr(rep.corrupt_what, "snapshot"));
	remove_dir(dir);
}

/* The snapshot's bytes, read whole; *len its size. */
static unsigned char *
snapshot_load(const char *dir, size_t *len)
{
	char		 path[128];
	unsigned char	*buf;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/snapshot", dir);
	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_non_null(buf = malloc(*len));
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

/* Write buf as the snapshot as it is. */
static void
snapshot_store_raw(const char *dir, const unsigned char *buf, size_t len)
{
	char	path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/snapshot", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* Write buf as the snapshot with a valid checksum: damage only the reader can catch. */
static void
snapshot_store(const char *dir, unsigned char *buf, size_t len)
{
	le64_put(buf + len - 8, XXH3_64bits(buf, len - 8));
	snapshot_store_raw(dir, buf, len);
}

/*
 * The checksum is taken a 64 KiB buffer at a time as the snapshot is
 * written and read: it is still XXH3 of every byte before it, taken at
 * once, and a byte changed in any buffer, the last partial one or the
 * checksum itself stops the start.
 */
static void
test_the_snapshot_checksum_covers_every_buffer(void **state)
{
	enum { BUF = 64 * 1024 };
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	struct verdict		 v;
	unsigned char		*buf;
	size_t			 len;
	char			 id[16], body[512];
	char			*dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		random_words(body, sizeof(body), (unsigned)i, 40);
		struct article_in a = article(id, "a report", body);

		assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	}
	assert_int_equal(store_close(s), 0);
	buf = snapshot_load(dir, &len);
	assert_true(len > 2 * BUF + 8 && (len - 8) % BUF != 0);
	assert_true(le64_get(buf + len - 8) == XXH3_64bits(buf, len - 8));

	const size_t	at[] = { 30, BUF + 5, 2 * BUF - 1, len - 9, len - 3 };

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		buf[at[i]] ^= 0x40;
		snapshot_store_raw(dir, buf, len);
		assert_int_equal(store_open(&s, dir, &p, &rep), STORE_CORRUPT);
		buf[at[i]] ^= 0x40;
	}
	snapshot_store_raw(dir, buf, len);
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_int_equal(store_count(s), 1000);
	store_free(s);
	free(buf);
	remove_dir(dir);
}

/*
 * Rebuild a snapshot of s, which has just written its own at the same point
 * of the log (nothing logged since), and check that the two are the same to
 * the byte; from: what the rebuild began with.
 */
static void
assert_rebuilt_matches(struct store *s, const char *dir, enum snapshot_from from)
{
	unsigned char	*rebuilt, *own;
	size_t		 rebuilt_len, own_len;

	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_snapshot_start(s), 0);
	wait_snapshot(s);
	assert_int_equal(store_stats(s)->snapshot_phases.from, from);
	rebuilt = snapshot_load(dir, &rebuilt_len);
	/* nothing logged since: the final snapshot covers the same records */
	assert_int_equal(store_close(s), 0);
	own = snapshot_load(dir, &own_len);
	assert_int_equal(rebuilt_len, own_len);
	assert_memory_equal(rebuilt, own, own_len);
	free(rebuilt);
	free(own);
}

/*
 * A background snapshot is rebuilt from the last snapshot and the log, not
 * read from the loop's memory: it must be what the loop itself writes at
 * the same point, to the byte. Churn under a small max_articles replaces,
 * deletes and evicts. The first rebuild starts from the log alone; the
 * second from the first one's state, kept in memory, and the log after it;
 * after a restart, the first from the snapshot read back.
 */
static void
test_a_rebuilt_snapshot_is_the_loops_own_to_the_byte(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir();

	(void)state;
	p.max_articles = 200;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 21, 1500);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_snapshot_start(s), 0);
	assert_int_equal(store_snapshot_start(s), -EBUSY);
	churn(s, 22, 800);	/* goes on meanwhile */
	wait_snapshot(s);
	assert_int_equal(store_stats(s)->snapshot_phases.from, SNAPSHOT_FROM_NOTHING);
	assert_true(store_evicted(s) > 0);
	churn(s, 24, 700);
	assert_rebuilt_matches(s, dir, SNAPSHOT_FROM_KEPT);

	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 25, 900);
	assert_rebuilt_matches(s, dir, SNAPSHOT_FROM_DISK);
	remove_dir(dir);
}

/*
 * A clean stop while a snapshot is being rebuilt stops the rebuild (the
 * final snapshot holds more) and leaves the final snapshot alone: no
 * snapshot.tmp, the whole state, no log to replay.
 */
static void
test_a_close_during_a_rebuild_writes_the_final_snapshot(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir(), path[128], *before = malloc(1 << 16);

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 31, 3000);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_snapshot_start(s), 0);
	churn(s, 32, 200);
	describe(s, before, 1 << 16);
	assert_int_equal(store_close(s), 0);
	snprintf(path, sizeof(path), "%s/snapshot.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_the_snapshot_alone_holds(dir, &p, before);
	remove_dir(dir);
	free(before);
}

/* The path of the newest log segment in dir. */
static void
newest_segment(const char *dir, char *path, size_t len)
{
	char	cmd[256];
	FILE	*f;

	snprintf(cmd, sizeof(cmd), "ls %s/wal-*.log | tail -1", dir);
	assert_non_null(f = popen(cmd, "r"));
	assert_non_null(fgets(path, (int)len, f));
	pclose(f);
	path[strcspn(path, "\n")] = '\0';
}

/* Flip a byte of the newest log segment at offset off. */
static void
damage_log(const char *dir, long off)
{
	char	path[200];
	FILE	*f;
	int	c;

	newest_segment(dir, path, sizeof(path));
	assert_non_null(f = fopen(path, "r+"));
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0xff, f);
	fclose(f);
}

/*
 * A rebuild reads the log a restart would: damage in it fails the snapshot,
 * says where, and removes nothing, so the operator hears of it while the
 * daemon still runs. The loop goes on.
 */
static void
test_a_rebuild_that_finds_a_damaged_log_fails_and_keeps_it(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	struct verdict		 v;
	uint64_t		 bytes;
	char			*dir = temp_dir(), path[128];

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 23, 300);
	assert_int_equal(store_flush(s), 0);
	damage_log(dir, 1000);	/* a record's bytes, valid records after it */
	assert_int_equal(store_snapshot_start(s), 0);
	assert_int_equal(snapshot_outcome(s, &bytes), -EBADMSG);
	assert_non_null(strstr(store_stats(s)->snapshot_error, "wal-0000000000000001.log"));
	assert_non_null(strstr(store_stats(s)->snapshot_error, "checksum mismatch"));
	assert_int_equal(store_stats(s)->snapshot_failures, 1);
	snprintf(path, sizeof(path), "%s/snapshot", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/wal-0000000000000001.log", dir);
	assert_int_equal(access(path, F_OK), 0);
	struct article_in a = article("after", "after the failure", body1);

	assert_int_equal(store_put(s, &a, 0, &v), STORE_CREATED);
	assert_int_equal(store_flush(s), 0);
	store_free(s);
	remove_dir(dir);
}

enum { FILE_HEADER = 16, RECORD_HEADER = 24 };	/* wal.h */

/* The newest segment of dir into img (cap bytes, more than it holds), its path into path. */
static size_t
read_newest(const char *dir, char path[200], unsigned char *img, size_t cap)
{
	size_t	len;
	FILE	*f;

	newest_segment(dir, path, 200);
	assert_non_null(f = fopen(path, "rb"));
	len = fread(img, 1, cap, f);
	fclose(f);
	assert_true(len < cap);
	return len;
}

/* Give the record at rec a payload length of len and the checksum that goes with it. */
static void
seal_record(unsigned char *rec, size_t len)
{
	XXH3_state_t	*xxh = XXH3_createState();

	le32_put(rec, (uint32_t)len);
	XXH3_64bits_reset(xxh);
	XXH3_64bits_update(xxh, rec, 16);
	XXH3_64bits_update(xxh, rec + RECORD_HEADER, len);
	le64_put(rec + 16, XXH3_64bits_digest(xxh));
	XXH3_freeState(xxh);
}

static void
write_file(const char *path, const unsigned char *img, size_t len)
{
	FILE	*f;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(img, 1, len, f), len);
	fclose(f);
}

/*
 * The record at off of a segment image of len bytes: 1 and its payload's
 * size, or 0 where the records end, which must be the image's end.
 */
static int
record_at(const unsigned char *img, size_t len, size_t off, size_t *size)
{
	if (off + RECORD_HEADER > len) {
		assert_int_equal(off, len);
		return 0;
	}
	*size = le32_get(img + off);
	return 1;
}

/*
 * Give the newest segment's last record a payload of three bytes, with a
 * valid checksum (wal.h: 24-byte header, XXH3 of its first 16 bytes and the
 * payload): a record the log accepts and the store cannot apply.
 */
static void
garble_last_record(const char *dir)
{
	static unsigned char	 img[1 << 20];
	char			 path[200];
	size_t			 len, off, size, last = 0;

	len = read_newest(dir, path, img, sizeof(img));
	for (off = FILE_HEADER; record_at(img, len, off, &size); off += RECORD_HEADER + size)
		last = off;
	assert_true(last > 0);
	memcpy(img + last + RECORD_HEADER, "bad", 3);
	seal_record(img + last, 3);
	write_file(path, img, last + RECORD_HEADER + 3);
}

/* Where a put's payload (four integers, then strings) has its first n strings behind it. */
static size_t
put_strings_end(const unsigned char *payload, int n)
{
	size_t	at = 32;

	for (int i = 0; i < n; i++)
		at += 8 + (size_t)le64_get(payload + at);
	return at;
}

/*
 * An edit of a put's payload of *size bytes: it may change the bytes in
 * place and cut *size; 1 when it changed the record, else 0.
 */
typedef int	put_edit_fn(unsigned char *payload, size_t *size, int version);

/*
 * Rewrite the newest segment of dir (version 3) as version, each put record
 * through edit and every record sealed again; the number edit changed.
 */
static size_t
rewrite_puts(const char *dir, int version, put_edit_fn *edit)
{
	static unsigned char	 img[1 << 22], out[1 << 22];
	char			 path[200];
	size_t			 len, off, size, n = FILE_HEADER, changed = 0;

	len = read_newest(dir, path, img, sizeof(img));
	assert_int_equal(img[8], 3);
	memcpy(out, img, FILE_HEADER);
	out[8] = (unsigned char)version;
	for (off = FILE_HEADER; record_at(img, len, off, &size); off += RECORD_HEADER + size) {
		unsigned char	*rec = out + n;
		size_t		 keep = size;

		memcpy(rec, img + off, RECORD_HEADER + size);
		if (rec[4] == 1)	/* a put */
			changed += (size_t)edit(rec + RECORD_HEADER, &keep, version);
		seal_record(rec, keep);
		n += RECORD_HEADER + keep;
	}
	write_file(path, out, n);
	return changed;
}

/*
 * A put as an older storyd wrote it: ending after its fifth string in
 * version 1 (no fingerprint), after its sixth in version 2 (no decision).
 */
static int
put_as_version(unsigned char *payload, size_t *size, int version)
{
	size_t	keep = put_strings_end(payload, 4 + version);

	assert_true(keep < *size);
	*size = keep;
	return 1;
}

/* A put whose decision is one no clusterer makes (a status past the last): refused. */
static int
spoil_decision(unsigned char *payload, size_t *size, int version)
{
	size_t	at = put_strings_end(payload, 6);	/* six strings, then the decision */

	(void)version;
	assert_true(at + 8 < *size);
	payload[at + 8] = 0xff;		/* its status */
	return 1;
}

/*
 * A put's decision as storyd wrote it before decisions kept the norms they
 * refreshed (its last string: a 17-byte head, 4 bytes a fresh story, then
 * 24 bytes of sums each): ending after the ids.
 */
static int
strip_norms(unsigned char *payload, size_t *size, int version)
{
	size_t		at = put_strings_end(payload, 6);
	uint32_t	nfresh = le32_get(payload + at + 8 + 13);

	(void)version;
	assert_int_equal(le64_get(payload + at), 17 + 28 * (size_t)nfresh);
	assert_int_equal(at + 8 + 17 + 28 * (size_t)nfresh, *size);
	if (nfresh == 0)
		return 0;
	le64_put(payload + at, 17 + 4 * (uint64_t)nfresh);
	*size = at + 8 + 17 + 4 * (size_t)nfresh;
	return 1;
}

/*
 * Churn, a crash after the flush, and recovery from the log alone: the same
 * state. Each put is added as its record says, with the fingerprint and the
 * decision it kept; or, with the log rewritten as storyd wrote it at an
 * older version (0: as it is), decided again (version 2), or analysed
 * again too, by both threads (version 1); or (-1) with every decision
 * spoilt, refused and decided again; or (NO_NORMS) with the decisions as
 * they were written before they kept norms, taken with the norms computed
 * again.
 */
#define NO_NORMS	3
static void
crash_and_recover(uint32_t max_articles, int version)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir(), *before = malloc(1 << 16), *after = malloc(1 << 16);
	uint64_t		 puts = 0;

	p.max_articles = max_articles;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 1, 2000);
	churn_stories(s, 2, 400);
	assert_true(store_pending(s) > 0);
	assert_int_equal(store_flush(s), 0);
	describe(s, before, 1 << 16);
	for (int i = 0; i <= VERDICT_EXACT_DUPLICATE; i++)
		puts += store_stats(s)->ingested[i];	/* the puts logged */
	if (fingerprinted_by != NULL)
		assert_int_equal(store_stats(s)->fingerprinted_ahead, puts);
	store_free(s);	/* a crash: no final snapshot */
	if (version == NO_NORMS)
		assert_true(rewrite_puts(dir, 3, strip_norms) > 50);
	else if (version > 0)
		assert_true(rewrite_puts(dir, version, put_as_version) > 100);
	else if (version < 0)
		assert_true(rewrite_puts(dir, 3, spoil_decision) > 100);

	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	assert_false(rep.snapshot);
	assert_true(rep.replayed > 1000);
	describe(s, after, 1 << 16);
	assert_string_equal(before, after);
	assert_int_equal(store_stats(s)->decisions_taken,
	    version == 0 || version == NO_NORMS ? puts : 0);
	assert_int_equal(store_stats(s)->decisions_refused, version < 0 ? puts : 0);
	if (version == 1) {
		assert_int_equal(store_stats(s)->fingerprints_taken, 0);
		assert_second_thread_took_part(s);
	} else {
		assert_int_equal(store_stats(s)->fingerprinted_ahead, 0);
		assert_int_equal(store_stats(s)->fingerprints_taken, puts);
	}
	store_free(s);
	remove_dir(dir);
	free(before);
	free(after);
}

static void
test_a_crash_after_flush_recovers_the_same_state_from_the_log(void **state)
{
	(void)state;
	crash_and_recover(1000000, 0);
}

/*
 * In a full store the log holds an eviction before each new id's put, and
 * deletes between: replay gathers them with the puts around them and must
 * still apply each just before the put that follows it (applied after the
 * batch instead, this state differs).
 */
static void
test_a_crash_in_a_full_store_recovers_the_same_state_from_the_log(void **state)
{
	(void)state;
	crash_and_recover(100, 0);
}

/*
 * Puts that came fingerprinted, as a client's batch does from the decode
 * thread, log the bytes they came with: after a crash every one is taken
 * from the log and the state is the same.
 */
static void
test_puts_that_came_fingerprinted_recover_the_same_state(void **state)
{
	struct cluster_params	cp;

	(void)state;
	cluster_params_default(&cp);
	assert_non_null(fingerprinted_by = fingerprinter_new(&cp));
	crash_and_recover(1000000, 0);
	fingerprinter_free(fingerprinted_by);
	fingerprinted_by = NULL;
}

/* A log written before puts kept their fingerprints recovers the same state. */
static void
test_a_log_of_version_1_recovers_the_same_state(void **state)
{
	(void)state;
	crash_and_recover(1000000, 1);
}

/* So does one written before puts kept their decisions, in a full store too. */
static void
test_a_log_of_version_2_recovers_the_same_state(void **state)
{
	(void)state;
	crash_and_recover(1000000, 2);
	crash_and_recover(100, 2);
}

/* So does one written before decisions kept the norms they refreshed. */
static void
test_a_log_without_norms_in_its_decisions_recovers_the_same_state(void **state)
{
	(void)state;
	crash_and_recover(1000000, NO_NORMS);
}

/* Decisions refused: the puts are clustered again, to the same state. */
static void
test_a_log_whose_decisions_do_not_fit_recovers_the_same_state(void **state)
{
	(void)state;
	crash_and_recover(1000000, -1);
	crash_and_recover(100, -1);
}

/*
 * A record whose checksum holds but which the store cannot apply fails a
 * rebuild as damage, named, as it would stop a restart: not as an errno.
 */
static void
test_a_rebuild_that_finds_a_record_it_cannot_apply_says_so(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	uint64_t		 bytes;
	char			*dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 24, 50);
	assert_int_equal(store_flush(s), 0);
	garble_last_record(dir);
	assert_int_equal(store_snapshot_start(s), 0);
	assert_int_equal(snapshot_outcome(s, &bytes), -EBADMSG);
	assert_non_null(strstr(store_stats(s)->snapshot_error, "wal-0000000000000001.log"));
	assert_non_null(strstr(store_stats(s)->snapshot_error, "a record storyd cannot apply"));
	store_free(s);
	remove_dir(dir);
}

/*
 * A rebuild that finds logged decisions its state cannot take clusters those
 * puts again, writes the snapshot all the same, and says how many: the
 * daemon warns, and the metric counts them.
 */
static void
test_a_rebuild_counts_the_decisions_it_could_not_take(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	uint64_t		 puts = 0;
	char			*dir = temp_dir();

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 25, 600);
	assert_int_equal(store_flush(s), 0);
	for (int i = 0; i <= VERDICT_EXACT_DUPLICATE; i++)
		puts += store_stats(s)->ingested[i];
	assert_true(rewrite_puts(dir, 3, spoil_decision) > 100);
	assert_int_equal(store_stats(s)->decisions_refused, 0);
	assert_int_equal(store_snapshot_start(s), 0);
	wait_snapshot(s);
	assert_int_equal(store_stats(s)->snapshot_phases.refused, puts);
	assert_int_equal(store_stats(s)->decisions_refused, puts);
	store_free(s);
	remove_dir(dir);
}

/*
 * Snapshot layout (snapshot.h, store.c dump_body): 24-byte header; format,
 * narticles, nfree, count, watermark, evicted; nfree free indexes; then the
 * articles, each starting with its index. Found by fuzz-snapshot: a count of
 * 4 billion made recovery abort in xcalloc(), and a free list naming a held
 * index made the next put reuse it and crash in cluster_add().
 */
#define SNAP_NARTICLES	32
#define SNAP_NFREE	40
#define SNAP_COUNT	48
#define SNAP_FREE	72

static void
test_a_snapshot_with_lying_counts_or_free_list_is_refused(void **state)
{
	struct store_params	 p = params();
	struct store_report	 rep;
	struct store		*s;
	char			*dir = temp_dir();
	unsigned char		*good, *bad;
	uint64_t		 nfree;
	size_t			 len;

	(void)state;
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	churn(s, 3, 300);
	for (int i = 0, gone = 0; i < 300 && gone < 3; i++) {	/* leave indexes on the free list */
		char	id[16];

		snprintf(id, sizeof(id), "c%d", i);
		gone += store_delete(s, id, strlen(id)) == 0;
	}
	assert_int_equal(store_close(s), 0);
	good = snapshot_load(dir, &len);
	nfree = le64_get(good + SNAP_NFREE);
	assert_true(nfree > 0 && len > SNAP_FREE + 8 * nfree + 8);
	assert_non_null(bad = malloc(len));

	memcpy(bad, good, len);
	le64_put(bad + SNAP_NARTICLES, 0xfffffffeu);
	le64_put(bad + SNAP_COUNT, 0xfffffffeu - nfree);
	snapshot_store(dir, bad, len);
	assert_int_equal(store_open(&s, dir, &p, &rep), STORE_CORRUPT);

	memcpy(bad, good, len);
	le64_put(bad + SNAP_FREE, le64_get(bad + SNAP_FREE + 8 * nfree));	/* the first held index */
	snapshot_store(dir, bad, len);
	assert_int_equal(store_open(&s, dir, &p, &rep), STORE_CORRUPT);

	memcpy(bad, good, len);
	snapshot_store(dir, bad, len);
	assert_int_equal(store_open(&s, dir, &p, &rep), 0);
	store_free(s);
	free(good);
	free(bad);
	remove_dir(dir);
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
		cmocka_unit_test(test_ids_stay_findable_through_churn_in_a_full_table),
		cmocka_unit_test(test_articles_older_than_the_retention_window_are_evicted),
		cmocka_unit_test(test_the_oldest_articles_go_beyond_max_articles),
		cmocka_unit_test(test_a_crash_after_flush_recovers_the_same_state_from_the_log),
		cmocka_unit_test(test_a_crash_in_a_full_store_recovers_the_same_state_from_the_log),
		cmocka_unit_test(test_puts_that_came_fingerprinted_recover_the_same_state),
		cmocka_unit_test(test_a_log_of_version_1_recovers_the_same_state),
		cmocka_unit_test(test_a_log_of_version_2_recovers_the_same_state),
		cmocka_unit_test(test_a_log_without_norms_in_its_decisions_recovers_the_same_state),
		cmocka_unit_test(test_a_log_whose_decisions_do_not_fit_recovers_the_same_state),
		cmocka_unit_test(test_a_rebuild_counts_the_decisions_it_could_not_take),
		cmocka_unit_test(test_a_put_that_evicted_is_judged_alike_after_a_crash),
		cmocka_unit_test(test_snapshot_plus_log_tail_recovers_the_same_state),
		cmocka_unit_test(test_a_snapshot_of_a_large_index_is_whole),
		cmocka_unit_test(test_a_snapshot_past_a_lowered_max_articles_loads_whole),
		cmocka_unit_test(test_a_batch_stores_what_puts_one_by_one_do),
		cmocka_unit_test(test_a_second_store_on_the_same_directory_is_refused),
		cmocka_unit_test(test_a_damaged_snapshot_stops_the_start),
		cmocka_unit_test(test_the_snapshot_checksum_covers_every_buffer),
		cmocka_unit_test(test_a_rebuilt_snapshot_is_the_loops_own_to_the_byte),
		cmocka_unit_test(test_a_rebuild_that_finds_a_damaged_log_fails_and_keeps_it),
		cmocka_unit_test(test_a_rebuild_that_finds_a_record_it_cannot_apply_says_so),
		cmocka_unit_test(test_a_close_during_a_rebuild_writes_the_final_snapshot),
		cmocka_unit_test(test_a_snapshot_with_lying_counts_or_free_list_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
