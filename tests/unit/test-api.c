/*
 * test-api: a post's reply prints each similarity as the cluster endpoints
 * do, where jansson prints it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"

/* What GET /v1/clusters/{id} sends for s: jansson's dump of api_similarity_json(s). */
static void
assert_as_jansson(double s)
{
	char	buf[API_SIMILARITY_MAX];
	json_t	*j = api_similarity_json(s);
	char	*want = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(3));
	size_t	n = api_similarity_text(s, buf);

	assert_non_null(want);
	assert_int_equal(n, strlen(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("similarity %.17g: \"%s\", jansson \"%s\"", s, buf, want);
	free(want);
	json_decref(j);
}

static void
test_every_thousandth_prints_as_jansson_prints_it(void **state)
{
	(void)state;
	for (int k = 0; k <= 1000; k++) {
		assert_as_jansson(k / 1000.0);
		assert_as_jansson(k / 1000.0 + 0.0004999);	/* rounds down to k */
		assert_as_jansson(k / 1000.0 - 0.0004999);	/* rounds up to k */
	}
}

static void
test_the_edges_and_beyond_print_as_jansson_prints_them(void **state)
{
	(void)state;
	assert_as_jansson(0.0005);		/* the least that shows */
	assert_as_jansson(0.9995);		/* 1.0 */
	assert_as_jansson(1e-12);
	assert_as_jansson(1.0 - 1e-12);
	assert_as_jansson(1.2345);		/* outside [0, 1]: printf's way */
	assert_as_jansson(-0.25);
	assert_as_jansson(12.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_thousandth_prints_as_jansson_prints_it),
		cmocka_unit_test(test_the_edges_and_beyond_print_as_jansson_prints_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
