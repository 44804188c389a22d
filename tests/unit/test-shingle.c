/* shingle: counts, short texts, and hashes that depend on the words alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "shingle.h"

#define MAXW	200

/* Tokens for space-separated words, built by hand: no normalize() needed. */
struct fixture {
	char		text[4096];
	struct token	v[MAXW];
	struct tokens	t;
};

static void
split(struct fixture *f, const char *s)
{
	size_t	len = 0;

	memset(f, 0, sizeof(*f));
	f->t.text = f->text;
	f->t.v = f->v;
	while (*s) {
		size_t	n = strcspn(s, " ");

		if (n > 0) {
			f->v[f->t.n].off = (uint32_t)len;
			f->v[f->t.n].len = (uint32_t)n;
			f->t.n++;
			memcpy(f->text + len, s, n);
			len += n;
			f->text[len++] = '\0';
		}
		s += n + (s[n] == ' ');
	}
	f->t.text_len = f->t.text_cap = len;
	f->t.cap = MAXW;
}

static void
test_count_is_words_minus_w_plus_one_and_one_for_short_texts(void **state)
{
	(void)state;
	assert_int_equal(shingle_count(0, 5), 0);
	assert_int_equal(shingle_count(1, 5), 1);
	assert_int_equal(shingle_count(4, 5), 1);
	assert_int_equal(shingle_count(5, 5), 1);
	assert_int_equal(shingle_count(6, 5), 2);
	assert_int_equal(shingle_count(100, 5), 96);
	assert_int_equal(shingle_count(3, 1), 3);
}

static void
test_short_texts_give_the_counted_hashes(void **state)
{
	struct fixture	f;
	uint64_t	out[MAXW];

	(void)state;
	split(&f, "");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 0);
	split(&f, "storm");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 1);
	split(&f, "storm hits coast");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 1);
	split(&f, "storm hits the coast today");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 3);
	assert_int_equal(shingle_hashes(&f.t, 1, out), 5);
}

static void
test_shingle_hash_is_xxh3_of_the_word_hashes(void **state)
{
	struct fixture	f;
	uint64_t	out[4], w[3];

	(void)state;
	split(&f, "storm hits the coast");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 2);
	/* Little-endian bytes of the word hashes; this test machine is little-endian. */
	w[0] = XXH3_64bits("hits", 4);
	w[1] = XXH3_64bits("the", 3);
	w[2] = XXH3_64bits("coast", 5);
	assert_int_equal(out[1], XXH3_64bits(w, sizeof(w)));
	/* A text shorter than w is one shingle of all its words. */
	split(&f, "the coast");
	assert_int_equal(shingle_hashes(&f.t, 3, out), 1);
	assert_int_equal(out[0], XXH3_64bits(w + 1, 2 * sizeof(*w)));
}

static void
test_same_words_give_same_shingles_wherever_they_stand(void **state)
{
	struct fixture	f;
	uint64_t	a[MAXW], b[MAXW];

	(void)state;
	split(&f, "a b c d e");
	assert_int_equal(shingle_hashes(&f.t, 3, a), 3);
	split(&f, "x   y a b c d e");
	assert_int_equal(shingle_hashes(&f.t, 3, b), 5);
	assert_memory_equal(a, b + 2, 3 * sizeof(*a));
	/* Word order matters inside a shingle. */
	split(&f, "b a c");
	assert_int_equal(shingle_hashes(&f.t, 3, b), 1);
	assert_true(a[0] != b[0]);
}

/* Many words, so the window buffer wraps; and w beyond the buffer. */
static void
test_long_texts_and_wide_shingles_agree_with_direct_hashing(void **state)
{
	static struct fixture	f;
	char			text[2048] = "", word[16];
	uint64_t		out[MAXW], w[MAXW];
	unsigned		widths[] = { 1, 2, 5, 9, 64, 65, 100 };

	(void)state;
	for (int i = 0; i < 150; i++) {
		snprintf(word, sizeof(word), "w%d ", i * 37 % 101);
		strcat(text, word);
	}
	split(&f, text);
	assert_int_equal(f.t.n, 150);
	for (size_t i = 0; i < f.t.n; i++)
		w[i] = XXH3_64bits(f.t.text + f.t.v[i].off, f.t.v[i].len);
	for (size_t q = 0; q < sizeof(widths) / sizeof(widths[0]); q++) {
		unsigned	ww = widths[q];
		size_t		n = shingle_hashes(&f.t, ww, out);

		assert_int_equal(n, 150 - ww + 1);
		for (size_t s = 0; s < n; s++)
			assert_int_equal(out[s], XXH3_64bits(w + s, ww * sizeof(*w)));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_is_words_minus_w_plus_one_and_one_for_short_texts),
		cmocka_unit_test(test_short_texts_give_the_counted_hashes),
		cmocka_unit_test(test_shingle_hash_is_xxh3_of_the_word_hashes),
		cmocka_unit_test(test_same_words_give_same_shingles_wherever_they_stand),
		cmocka_unit_test(test_long_texts_and_wide_shingles_agree_with_direct_hashing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
