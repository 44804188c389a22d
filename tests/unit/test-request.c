/*
 * test-request: request_json_load() gives what jansson alone gives for the
 * same body (the document, or the same refusal), whether or not it lifted
 * the long strings out (request.c): escapes, surrogates, UTF-8 jansson
 * takes and refuses, long keys, batches, and a body mutated at random. Then
 * the depth limit and the empty body.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mix.h"
#include "request.h"

#define DEPTH	32
#define FLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* The refusal jansson's own error means, as request_json_load() words it. */
static int
plain_status(const void *buf, size_t len, json_t **doc)
{
	json_error_t	e;

	if ((*doc = json_loadb(buf, len, FLAGS, &e)) != NULL)
		return 0;
	return json_error_code(&e) == json_error_invalid_utf8 ? 422 : 400;
}

/* request_json_load() and jansson alone agree on buf: the same document or the same status. */
static void
same_as_jansson(const void *buf, size_t len)
{
	struct api_error	 err;
	json_t			*got = NULL, *want;
	int			 want_status = plain_status(buf, len, &want);

	if (request_json_load(buf, len, DEPTH, &got, &err) == 0) {
		if (want == NULL)
			fail_msg("accepted what jansson refuses (%d): %.*s", want_status,
			    (int)(len < 300 ? len : 300), (const char *)buf);
		if (!json_equal(got, want))
			fail_msg("not jansson's document: %.*s", (int)(len < 300 ? len : 300),
			    (const char *)buf);
	} else {
		if (want != NULL)
			fail_msg("refused (%s: %s) what jansson takes: %.*s", err.code, err.message,
			    (int)(len < 300 ? len : 300), (const char *)buf);
		assert_int_equal(err.status, want_status);
	}
	json_decref(got);
	json_decref(want);
}

/* An article whose body is prefix, filler to ~600 bytes, and suffix. */
static char *
article(const char *prefix, const char *suffix)
{
	static const char	*filler = "Secretary of State Antony Blinken met Chinese officials "
				    "in Beijing on Sunday, the first visit in five years. ";
	char			*s;
	size_t			 n = 4096, at;

	s = malloc(n);
	assert_non_null(s);
	at = (size_t)snprintf(s, n, "{\"id\": \"a-1\", \"title\": \"Blinken in Beijing\", "
	    "\"body\": \"%s", prefix);
	for (int i = 0; i < 6; i++)
		at += (size_t)snprintf(s + at, n - at, "%s", filler);
	snprintf(s + at, n - at, "%s\", \"source\": \"wire\"}", suffix);
	return s;
}

static void
check_body(const char *prefix, const char *suffix)
{
	char	*s = article(prefix, suffix);

	same_as_jansson(s, strlen(s));
	free(s);
}

static void
test_long_strings_as_jansson_reads_them(void **state)
{
	char	*a = article("caf\\u00e9", "");

	(void)state;
	/* the body is decoded here; the title, short, and the keys by jansson */
	assert_int_equal(request_json_lifted(a, strlen(a)), 1);
	free(a);
	check_body("", "");
	check_body("\\\"quoted\\\" \\\\ back\\/slash \\b\\f\\n\\r\\t", "\\\\");
	check_body("caf\\u00e9 \\u00E9 \\u20ac \\uFFFF", "end\\\\\\\\");
	check_body("emoji \\ud83d\\ude00 and \\uD834\\uDD1E", "");
	check_body("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbe \xf4\x8f\xbf\xbf", "");
}

static void
test_what_jansson_refuses_is_refused_alike(void **state)
{
	static const char	*bad[] = {
		"lone high \\ud83d then text", "lone high at end \\ud83d", "high then high \\ud83d\\ud83d",
		"high then not low \\ud83d\\ue000", "lone low \\ude00", "nul \\u0000 inside",
		"bad hex \\u12g4", "short \\u12", "unknown \\x41 escape", "tab\tinside", "newline\ninside",
		"overlong \xc0\x80", "overlong \xe0\x80\x80", "overlong \xf0\x8f\xbf\xbf",
		"surrogate \xed\xa0\x80", "too big \xf4\x90\x80\x80", "\xf5\x80\x80\x80 f5", "cut \xe2\x82",
		"lone continuation \x80", "\xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_body(bad[i], "");
		check_body("", bad[i]);
	}
}

/*
 * Each kind of byte that ends a run of plain ASCII (an escape, UTF-8, a
 * control character, a byte that is not UTF-8), and two that do not, at
 * each place of a block of sixteen, where the scan looks at sixteen bytes at
 * once, and at each distance from the string's end: read as jansson reads
 * it, and by request.c's own decoder where jansson takes it (a string that
 * decoder refuses goes to jansson, which would hide a run misread).
 */
static void
check_run(const char *prefix, const char *suffix, int lifted)
{
	char	*s = article(prefix, suffix);

	same_as_jansson(s, strlen(s));
	assert_int_equal(request_json_lifted(s, strlen(s)), lifted);
	free(s);
}

static void
test_what_ends_a_plain_run_anywhere_is_read_as_jansson_reads_it(void **state)
{
	static const struct {
		const char	*s;
		int		 taken;		/* by jansson */
	} stop[] = { { "\\n", 1 }, { "\\\\", 1 }, { "\\\"", 1 }, { "\\u00e9", 1 },
	    { "\xc3\xa9", 1 }, { "\xe2\x80\x99", 1 }, { "\x7f", 1 }, { " ~", 1 },
	    { "\x1f", 0 }, { "\x01", 0 }, { "\xff", 0 } };
	static const char		digits[] = "0123456789abcdef0123456789abcdef0123456789abcdef";
	char				run[64];

	(void)state;
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++) {
		for (int at = 0; at < 40; at++) {
			snprintf(run, sizeof(run), "%.*s%s", at, digits, stop[i].s);
			check_run(run, "", stop[i].taken);
			snprintf(run, sizeof(run), "%s%.*s", stop[i].s, at, digits);
			check_run("", run, stop[i].taken);
		}
	}
}

static void
test_long_keys_and_marks_stay_jansson_s(void **state)
{
	char	 key[300], s[1200];
	char	*a;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	/* a long key twice is still a duplicate */
	snprintf(s, sizeof(s), "{\"%s\": 1, \"%s\": 2}", key, key);
	same_as_jansson(s, strlen(s));
	snprintf(s, sizeof(s), "{\"%s\" \n: \"%s\"}", key, key);
	assert_int_equal(request_json_lifted(s, strlen(s)), 1);	/* the value, not the key */
	same_as_jansson(s, strlen(s));
	/* "\u0001" in the body, where a placeholder could be taken for a value */
	a = article("", "");
	snprintf(s, sizeof(s), "%s", a);
	memcpy(strstr(s, "wire"), "\\u0001", 6);
	same_as_jansson(s, strlen(s));
	free(a);
	assert_int_equal(request_json_lifted(s, strlen(s)), 0);
	a = article("\\u00010,3", "");
	same_as_jansson(a, strlen(a));
	free(a);
}

static void
test_batches_arrays_and_bare_strings(void **state)
{
	char	*a = article("first \\u00e9", ""), *b = article("second", "\\n"), *s;
	size_t	 n = strlen(a) + strlen(b) + 64;

	(void)state;
	s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "{\"articles\": [%s, %s]}", a, b);
	assert_int_equal(request_json_lifted(s, strlen(s)), 2);
	same_as_jansson(s, strlen(s));
	snprintf(s, n, "[%s, [%s]]", a, b);
	same_as_jansson(s, strlen(s));
	/* the whole body one long string, and one cut short */
	snprintf(s, n, "\"%.*s\"", 400, strstr(a, "Secretary"));
	same_as_jansson(s, strlen(s));
	same_as_jansson(s, strlen(s) - 1);
	/* a long string, then garbage or nothing where jansson wants more */
	snprintf(s, n, "[\"%.*s\" x]", 400, strstr(a, "Secretary"));
	same_as_jansson(s, strlen(s));
	snprintf(s, n, "{\"body\": \"%.*s\"", 400, strstr(a, "Secretary"));
	same_as_jansson(s, strlen(s));
	free(s);
	free(a);
	free(b);
}

/*
 * A batch mutated at random, bytes at a time, into what the cases above may
 * have missed: the two ways agree on every one.
 */
static void
test_random_mutations_agree(void **state)
{
	static const char	 pool[] = "\"\\u0dDfF8{}[],: \x01\x1f\x80\xbf\xc3\xe2\xed\xf0\xf4\xff";
	char			*a = article("x \\u00e9 \\ud83d\\ude00 \\\" y", "\\\\"), *s;
	size_t			 len, n = 3 * strlen(a) + 64;
	uint64_t		 rng = 42;

	(void)state;
	s = malloc(n);
	assert_non_null(s);
	for (int round = 0; round < 20000; round++) {
		len = (size_t)snprintf(s, n, "{\"articles\": [%s, %s]}", a, a);
		for (int k = 1 + (int)(rng_next(&rng) % 3); k > 0; k--)
			s[rng_next(&rng) % len] = pool[rng_next(&rng) % (sizeof(pool) - 1)];
		same_as_jansson(s, len);
	}
	free(s);
	free(a);
}

static void
test_depth_and_empty_bodies(void **state)
{
	struct api_error	 err;
	json_t			*doc;
	char			 deep[2 * DEPTH + 8], *a = article("", "");
	size_t			 n = 0;

	(void)state;
	for (int i = 0; i <= DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i <= DEPTH; i++)
		deep[n++] = ']';
	assert_int_equal(request_json_load(deep, n, DEPTH, &doc, &err), -EINVAL);
	assert_string_equal(err.code, "too_deep");
	assert_int_equal(request_json_load(deep + 1, n - 2, DEPTH, &doc, &err), 0);
	json_decref(doc);
	/* a body's long strings do not hide its depth */
	assert_int_equal(request_json_load(a, strlen(a), 0, &doc, &err), -EINVAL);
	assert_string_equal(err.code, "too_deep");
	assert_int_equal(request_json_load("", 0, DEPTH, &doc, &err), -EINVAL);
	assert_string_equal(err.code, "malformed_json");
	free(a);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_long_strings_as_jansson_reads_them),
		cmocka_unit_test(test_what_jansson_refuses_is_refused_alike),
		cmocka_unit_test(test_what_ends_a_plain_run_anywhere_is_read_as_jansson_reads_it),
		cmocka_unit_test(test_long_keys_and_marks_stay_jansson_s),
		cmocka_unit_test(test_batches_arrays_and_bare_strings),
		cmocka_unit_test(test_random_mutations_agree),
		cmocka_unit_test(test_depth_and_empty_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
