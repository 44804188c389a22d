/* test-rfc3339: the API's timestamps parse strictly and print as UTC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rfc3339.h"

static int64_t
parse(const char *s)
{
	int64_t	t = -1;

	assert_int_equal(rfc3339_parse(s, strlen(s), &t), 0);
	return t;
}

static void
test_utc_times_parse_to_epoch_seconds(void **state)
{
	(void)state;
	assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse("2023-06-19T08:00:00Z"), 1687161600);
	assert_int_equal(parse("2000-02-29T12:00:00z"), 951825600);
}

static void
test_offsets_and_fractions_become_utc_seconds(void **state)
{
	(void)state;
	assert_int_equal(parse("2023-06-19T10:00:00+02:00"), 1687161600);
	assert_int_equal(parse("2023-06-19T03:30:00.999-04:30"), 1687161600);
	assert_int_equal(parse("2014-03-10T16:52:50.698Z"), 1394470370);
}

static void
test_impossible_or_partial_times_are_refused(void **state)
{
	const char	*bad[] = {
		"yesterday", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-06-19",
		"2023-06-19T24:00:00Z", "2023-06-19T08:00:00", "2023-06-19T08:00:00+0200",
		"2023-06-19T08:00:00Zjunk", "2023-06-19T08:00:00.Z", "",
	};
	int64_t		t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rfc3339_parse(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 42);
	}
}

static void
test_format_round_trips(void **state)
{
	const char	*s[] = { "1970-01-01T00:00:00Z", "2023-06-19T08:00:00Z", "2000-02-29T23:59:59Z",
			    "1969-12-31T23:59:59Z", "2100-03-01T00:00:00Z" };
	char		buf[RFC3339_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		assert_string_equal(rfc3339_format(parse(s[i]), buf), s[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc_times_parse_to_epoch_seconds),
		cmocka_unit_test(test_offsets_and_fractions_become_utc_seconds),
		cmocka_unit_test(test_impossible_or_partial_times_are_refused),
		cmocka_unit_test(test_format_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
