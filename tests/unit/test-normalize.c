/*
 * test-normalize: golden files (tests/data/normalize/NAME.in -> NAME.out, the
 * words joined by single spaces; NAME "title-*" is read with NORM_TITLE), then
 * properties: flags, appending, limits, and arbitrary bytes never breaking the
 * contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "normalize.h"

#define TOK_PUBLIC	(TOK_CAPITALIZED | TOK_SENTENCE | TOK_NUMBER)

/* The words of t from word i on, joined by single spaces, in a static buffer. */
static const char *
joined(const struct tokens *t, size_t i)
{
	static char	buf[8192];
	size_t		n = 0;

	buf[0] = '\0';
	for (; i < t->n && n + t->v[i].len + 2 < sizeof(buf); i++) {
		if (n > 0)
			buf[n++] = ' ';
		memcpy(buf + n, t->text + t->v[i].off, t->v[i].len);
		n += t->v[i].len;
	}
	buf[n] = '\0';
	return buf;
}

static const char *
words(const char *s, unsigned flags)
{
	struct tokens	t;
	const char	*r;

	tokens_init(&t);
	assert_int_equal(normalize(s, strlen(s), flags, &t), 0);
	r = joined(&t, 0);
	tokens_fini(&t);
	return r;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_golden_files_match(void **state)
{
	const char	*dir = getenv("STORYD_TESTDATA");
	char		 path[4096], *names[256], *in, *out;
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0, i, inlen, outlen, failed = 0;
	struct tokens	 t;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/normalize", dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL && n < 256) {
		size_t	l = strlen(de->d_name);

		if (l > 3 && strcmp(de->d_name + l - 3, ".in") == 0)
			names[n++] = strndup(de->d_name, l - 3);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_name);
	assert_true(n >= 8);

	tokens_init(&t);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/normalize/%s.in", dir, names[i]);
		assert_non_null(in = slurp(path, &inlen));
		snprintf(path, sizeof(path), "%s/normalize/%s.out", dir, names[i]);
		assert_non_null(out = slurp(path, &outlen));
		while (outlen > 0 && (out[outlen - 1] == '\n' || out[outlen - 1] == '\r'))
			out[--outlen] = '\0';
		tokens_reset(&t);
		assert_int_equal(normalize(in, inlen,
		    strncmp(names[i], "title-", 6) == 0 ? NORM_TITLE : 0, &t), 0);
		if (strcmp(joined(&t, 0), out) != 0) {
			print_error("%s: want \"%s\"\n%*s   got \"%s\"\n", names[i], out,
			    (int)strlen(names[i]), "", joined(&t, 0));
			failed++;
		}
		free(in);
		free(out);
		free(names[i]);
	}
	tokens_fini(&t);
	assert_int_equal(failed, 0);
}

static void
test_curly_and_straight_quotes_fold_the_same(void **state)
{
	static const char *const variants[] = {
		"China's Xi can't stop", "China’s Xi can’t stop", "China‘s Xi can‘t stop",
		"China`s Xi can`t stop", "China´s Xi can´t stop", "China′s Xi can′t stop",
		"Chinaʼs Xi canʼt stop", "China&rsquo;s Xi can&#8217;t stop",
		"China&#39;s Xi can&apos;t stop", "China&#146;s Xi can&#x2019;t stop",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		assert_string_equal(words(variants[i], 0), "china xi cant stop");
	assert_string_equal(words("“Talks” \"talks\" ″talks″ „talks“", 0),
	    "talks talks talks talks");
	assert_string_equal(words("Xi‐Biden Xi–Biden Xi—Biden Xi−Biden Xi-Biden", 0),
	    "xi biden xi biden xi biden xi biden xi biden");
}

static void
test_flags_mark_capitals_sentences_and_numbers(void **state)
{
	static const char	s[] = "Blinken met Xi in Beijing. The talks lasted 5 hours!\n"
	    "officials said so? Yes\n\nnext <p>para</p>end";
	static const uint32_t	want[] = {
		TOK_CAPITALIZED | TOK_SENTENCE,		/* blinken */
		0, TOK_CAPITALIZED, 0, TOK_CAPITALIZED,	/* met xi in beijing */
		TOK_CAPITALIZED | TOK_SENTENCE,		/* the */
		0, 0, TOK_NUMBER, 0,			/* talks lasted 5 hours */
		TOK_SENTENCE, 0, 0,			/* officials said so */
		TOK_CAPITALIZED | TOK_SENTENCE,		/* yes */
		TOK_SENTENCE, TOK_SENTENCE, TOK_SENTENCE,	/* next para end */
	};
	struct tokens	t;
	size_t		i;

	(void)state;
	tokens_init(&t);
	assert_int_equal(normalize(s, sizeof(s) - 1, 0, &t), 0);
	assert_string_equal(joined(&t, 0),
	    "blinken met xi in beijing the talks lasted 5 hours officials said so yes next para end");
	assert_int_equal(t.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < t.n; i++) {
		if (t.v[i].flags != want[i])
			print_error("word %zu \"%s\": flags %u, want %u\n", i,
			    t.text + t.v[i].off, t.v[i].flags, want[i]);
		assert_int_equal(t.v[i].flags, want[i]);
	}
	tokens_fini(&t);
}

static void
test_abbreviations_initials_and_acronyms_do_not_end_sentences(void **state)
{
	static const char	s[] = "Mr. Smith met U.S. officials and John F. Kennedy in "
	    "Washington, D.C. on reuters.com at 3.5 percent.";
	struct tokens		t;
	size_t			i;

	(void)state;
	tokens_init(&t);
	assert_int_equal(normalize(s, sizeof(s) - 1, 0, &t), 0);
	assert_string_equal(joined(&t, 0), "mr smith met us officials and john f kennedy in "
	    "washington dc on reuters com at 3 5 percent");
	for (i = 1; i < t.n; i++)
		assert_false(t.v[i].flags & TOK_SENTENCE);
	tokens_fini(&t);
}

static void
test_invalid_utf8_and_nul_bytes_split_words(void **state)
{
	static const char	s[] = "abc\0def\xffghi\xc3(jkl\xed\xa0\x80mno\xc0\xafpqr\xf8stu";
	struct tokens		t;

	(void)state;
	tokens_init(&t);
	assert_int_equal(normalize(s, sizeof(s) - 1, 0, &t), 0);
	assert_string_equal(joined(&t, 0), "abc def ghi jkl mno pqr stu");
	tokens_fini(&t);
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Arbitrary bytes and hostile fragments: every word keeps the contract. */
static void
test_arbitrary_bytes_keep_the_contract(void **state)
{
	static const char *const frags[] = {
		"<p>", "</p>", "<script>", "</script>", "<style", "<!--", "-->", "<", ">",
		"&amp;", "&amp;amp;", "&#", "&#x", "&#1114112;", "&#0;", "&rsquo;", "&", ";",
		"’", "'s", "'", "U.S.", ".", ",", "1,000", "\xff", "\xc3", "\xe2\x80", "", "a",
		"B", " ", "\n", "\n\n", "(Photo: ", ")", "|", " - ", " — ", "é", "\xcc\x81",
		"\xcc\x81\xcc\xa3", "中", "read more", "Read more »", "ﬁ", "\xef\xb7\xba",
		"Ⅻ", "Image copyright ", "Photo by ", "/", "ǅ", "ß", "\xe2\x80\x8b",
		"\xc2\xad", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct tokens	 t;
	uint64_t	 x = 0x9e3779b97f4a7c15ull;
	char		*buf = malloc(1 << 16);
	size_t		 round, len, i;

	(void)state;
	assert_non_null(buf);
	tokens_init(&t);
	for (round = 0; round < 3000; round++) {
		size_t	nfrag = xorshift(&x) % 200;

		len = 0;
		for (i = 0; i < nfrag; i++) {
			uint64_t	r = xorshift(&x);

			if (r % 5 == 0) {
				buf[len++] = (char)(r >> 8);	/* any byte, NUL included */
			} else {
				const char	*f = frags[(r >> 8) % (sizeof(frags) / sizeof(frags[0]))];
				size_t		 fl = f[0] == '\0' ? 1 : strlen(f);

				memcpy(buf + len, f, fl);
				len += fl;
			}
		}
		tokens_reset(&t);
		assert_int_equal(normalize(buf, len, round % 2 ? NORM_TITLE : 0, &t), 0);
		for (i = 0; i < t.n; i++) {
			const struct token	*tok = &t.v[i];
			const uint8_t		*w = (const uint8_t *)t.text + tok->off;
			utf8proc_ssize_t	 k, at = 0;
			int32_t			 c;

			assert_true(tok->len > 0);
			assert_true(tok->off + tok->len < t.text_len);
			assert_true(i == 0 || tok->off > t.v[i - 1].off);
			assert_int_equal(w[tok->len], 0);
			assert_int_equal(tok->flags & ~TOK_PUBLIC, 0);
			assert_true(tok->len <= 128 * 4);
			while (at < (utf8proc_ssize_t)tok->len) {
				k = utf8proc_iterate(w + at, tok->len - at, &c);
				assert_true(k > 0);
				assert_true(c != 0);
				at += k;
			}
		}
	}
	tokens_fini(&t);
	free(buf);
}

static void
test_words_append_after_existing_ones(void **state)
{
	struct tokens	t;

	(void)state;
	tokens_init(&t);
	assert_int_equal(normalize("Blinken lands", 13, NORM_TITLE, &t), 0);
	assert_int_equal(normalize("talks with Xi", 13, 0, &t), 0);
	assert_int_equal(t.n, 5);
	assert_string_equal(joined(&t, 0), "blinken lands talks with xi");
	assert_string_equal(t.text + t.v[2].off, "talks");
	assert_true(t.v[2].flags & TOK_SENTENCE);
	tokens_reset(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.text_len, 0);
	assert_non_null(t.text);
	assert_int_equal(normalize("again", 5, 0, &t), 0);
	assert_string_equal(joined(&t, 0), "again");
	tokens_fini(&t);
	tokens_fini(&t);
}

static void
test_title_suffix_stripped_only_with_norm_title(void **state)
{
	(void)state;
	assert_string_equal(words("Xi meets Blinken | CNN", 0), "xi meets blinken cnn");
	assert_string_equal(words("Xi meets Blinken | CNN", NORM_TITLE), "xi meets blinken");
	assert_string_equal(words("Xi meets Blinken - The New York Times", NORM_TITLE),
	    "xi meets blinken");
	assert_string_equal(words("Blinken — BBC News", NORM_TITLE), "blinken bbc news");
	assert_string_equal(words("Covid-19 cases rise in New-York", NORM_TITLE),
	    "covid 19 cases rise in new york");
	assert_string_equal(words("Xi meets Blinken - five things to know about it now",
	    NORM_TITLE), "xi meets blinken five things to know about it now");
}

static void
test_dateline_outlet_dropped_place_kept(void **state)
{
	(void)state;
	assert_string_equal(words("BEIJING (Reuters) - China's leader met Blinken.", 0),
	    "beijing china leader met blinken");
	assert_string_equal(words("Talks went on and on and on and on and on (Reuters) - more",
	    0), "talks went on and on and on and on and on reuters more");
}

static void
test_trailer_phrases_inside_sentences_stay(void **state)
{
	(void)state;
	assert_string_equal(words("Readers want to read more books. Read more", 0),
	    "readers want to read more books");
	assert_string_equal(words("She took a photo by the lake.", 0),
	    "she took a photo by the lake");
}

static void
test_unfinished_markup_is_text(void **state)
{
	(void)state;
	assert_string_equal(words("a < b & c <d", 0), "a b c d");
	assert_string_equal(words("AT&T and &bogus; &#; &#xZZ;", 0),
	    "at t and bogus xzz");
	assert_string_equal(words("before <script>x = 1</script> after", 0), "before after");
	assert_string_equal(words("before <SCRIPT>x</Script >after", 0), "before after");
	assert_string_equal(words("before <script>never closed", 0), "before");
	assert_string_equal(words("Chin<b>a</b>'s <i>ow</i>n", 0), "china own");
	assert_string_equal(words("before <!-- never closed", 0), "before");
}

static void
test_long_runs_are_cut_not_lost(void **state)
{
	char		s[1000];
	struct tokens	t;
	size_t		i, total = 0;

	(void)state;
	memset(s, 'a', sizeof(s));
	tokens_init(&t);
	assert_int_equal(normalize(s, sizeof(s), 0, &t), 0);
	assert_int_equal(t.n, 8);
	for (i = 0; i < t.n; i++)
		total += t.v[i].len;
	assert_int_equal(total, sizeof(s));
	tokens_fini(&t);
}

/* A word of exactly the longest length stays whole, whatever ends it. */
static void
test_a_word_of_the_longest_length_is_one_word(void **state)
{
	const char	*ends[] = { " next", ".", "", ", next", "\u00e9" };
	char		 s[200];
	struct tokens	 t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		memset(s, 'B', 128);
		strcpy(s + 128, ends[i]);
		tokens_init(&t);
		assert_int_equal(normalize(s, strlen(s), 0, &t), 0);
		/* "next", or the é: a letter past the longest length starts a new piece */
		assert_int_equal(t.n, ends[i][0] == ' ' || ends[i][0] == ',' || ends[i][0] == '\xc3' ? 2 : 1);
		assert_int_equal(t.v[0].len, 128);
		assert_int_equal(t.text[0], 'b');
		tokens_fini(&t);
	}
}

/*
 * A run of ASCII letters and digits of every length to 40, at each offset
 * from the input's start and ending where the input does or at a byte next
 * to the ranges ('/', ':', '@', '[', '`', '{', 0x7f, 0xff): one word, a
 * number only when all its bytes are digits (the letter among them first,
 * last or absent), in lower case.
 */
static void
test_ascii_runs_end_where_their_bytes_do(void **state)
{
	static const char	seps[] = "/:@[`{\x7f\xff";
	char			s[128], want[64];
	struct tokens		t;

	(void)state;
	tokens_init(&t);
	for (size_t n = 1; n <= 40; n++)
		for (size_t at = 0; at < 17; at++)
			for (size_t k = 0; k <= sizeof(seps) - 1; k++)
				for (int kind = 0; kind < 4; kind++) {
					size_t	len = at + n;

					memset(s, ' ', at);
					/* digits; letters; digits, a letter last; a letter, digits */
					for (size_t i = 0; i < n; i++)
						s[at + i] = kind == 0 || (kind == 2 && i + 1 < n) ||
						    (kind == 3 && i > 0) ? (char)('0' + i % 10) :
						    (char)("aBcD"[i % 4]);
					if (k < sizeof(seps) - 1)
						memcpy(s + len, (char[]){ seps[k], ' ', 'z' }, 3), len += 3;
					for (size_t i = 0; i < n; i++)
						want[i] = (char)(s[at + i] | 0x20);
					want[n] = '\0';
					tokens_reset(&t);
					assert_int_equal(normalize(s, len, 0, &t), 0);
					assert_true(t.n >= 1);
					assert_int_equal(t.v[0].len, n);
					assert_memory_equal(t.text + t.v[0].off, want, n + 1);
					assert_int_equal(!!(t.v[0].flags & TOK_NUMBER), kind == 0);
				}
	tokens_fini(&t);
}

static void
test_input_beyond_the_limit_is_ignored(void **state)
{
	size_t		len = NORM_INPUT_MAX + 16;
	char		*s = malloc(len);
	struct tokens	t;

	(void)state;
	assert_non_null(s);
	memset(s, ' ', len);
	memcpy(s, "first", 5);
	memcpy(s + NORM_INPUT_MAX - 4, "cut", 3);
	memcpy(s + NORM_INPUT_MAX + 4, "gone", 4);
	tokens_init(&t);
	assert_int_equal(normalize(s, len, 0, &t), 0);
	assert_string_equal(joined(&t, 0), "first cut");
	tokens_fini(&t);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_files_match),
		cmocka_unit_test(test_curly_and_straight_quotes_fold_the_same),
		cmocka_unit_test(test_flags_mark_capitals_sentences_and_numbers),
		cmocka_unit_test(test_abbreviations_initials_and_acronyms_do_not_end_sentences),
		cmocka_unit_test(test_invalid_utf8_and_nul_bytes_split_words),
		cmocka_unit_test(test_arbitrary_bytes_keep_the_contract),
		cmocka_unit_test(test_words_append_after_existing_ones),
		cmocka_unit_test(test_title_suffix_stripped_only_with_norm_title),
		cmocka_unit_test(test_dateline_outlet_dropped_place_kept),
		cmocka_unit_test(test_trailer_phrases_inside_sentences_stay),
		cmocka_unit_test(test_unfinished_markup_is_text),
		cmocka_unit_test(test_long_runs_are_cut_not_lost),
		cmocka_unit_test(test_a_word_of_the_longest_length_is_one_word),
		cmocka_unit_test(test_ascii_runs_end_where_their_bytes_do),
		cmocka_unit_test(test_input_beyond_the_limit_is_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
