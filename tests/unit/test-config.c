/* test-config: the key table, the example file and error reporting agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

struct errors {
	unsigned	n;
	char		last[512];
};

static void
collect(const char *file, unsigned line, const char *key, const char *msg, void *arg)
{
	struct errors	*e = arg;

	e->n++;
	snprintf(e->last, sizeof(e->last), "%s:%u: %s: %s", file, line, key ? key : "-", msg);
}

static char *
example_path(void)
{
	static char	path[4096];
	const char	*src = getenv("STORYD_SOURCE");

	snprintf(path, sizeof(path), "%s/config/storyd.conf", src ? src : ".");
	return path;
}

static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void
test_example_file_shows_every_key_with_its_default(void **state)
{
	struct config_key_info	 k;
	char			*text = slurp(example_path()), want[512], section[64];

	(void)state;
	for (size_t i = 0; config_key(i, &k) != NULL; i++) {
		snprintf(section, sizeof(section), "[%s]", k.section);
		snprintf(want, sizeof(want), "\n%s = %s\n", k.key, k.def);
		if (strstr(text, want) == NULL || strstr(text, section) == NULL)
			fail_msg("config/storyd.conf lacks \"%s = %s\" in %s", k.key, k.def, section);
		/* the line above the key is its help */
		snprintf(want, sizeof(want), "# %s\n%s = ", k.help, k.key);
		if (strstr(text, want) == NULL)
			fail_msg("config/storyd.conf lacks the help line of %s", k.key);
	}
	free(text);
}

static void
test_example_file_loads_without_errors(void **state)
{
	struct config	c;
	struct errors	e = { 0 };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, example_path(), collect, &e), 0);
	config_fini(&c);
}

static void
test_table_defaults_match_the_algorithms_defaults(void **state)
{
	struct config		c;
	struct cluster_params	p;

	(void)state;
	config_defaults(&c);
	cluster_params_default(&p);
	assert_int_equal(c.cluster.k, p.k);
	assert_int_equal(c.cluster.shingle, p.shingle);
	assert_true(c.cluster.dup_threshold == p.dup_threshold);
	assert_int_equal(c.cluster.simhash_k, p.simhash_k);
	assert_true(c.cluster.story_threshold == p.story_threshold);
	assert_true(c.cluster.merge_threshold == p.merge_threshold);
	assert_true(c.cluster.dup_containment == p.dup_containment);
	assert_int_equal(c.cluster.decay_hours, p.decay_hours);
	assert_int_equal(c.cluster.window, p.window);
	assert_int_equal(c.cluster.doc_terms, p.doc_terms);
	assert_int_equal(c.cluster.max_matches, p.max_matches);
	assert_int_equal(c.cluster.bands, p.bands);
	assert_int_equal(c.cluster.rows, p.rows);
	config_fini(&c);
}

static char *
write_temp(const char *text)
{
	static char	path[] = "/tmp/storyd-test-config-XXXXXX";
	int		fd;

	strcpy(path, "/tmp/storyd-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_every_error_is_reported_with_file_line_and_key(void **state)
{
	struct config	 c;
	struct errors	 e = { 0 };
	char		*path;

	(void)state;
	path = write_temp("[server]\nmax_batch = many\n[store]\nfsync = sometimes\ncolour = blue\n");
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, collect, &e), 3);
	assert_non_null(strstr(e.last, ":5: store.colour: unknown key"));
	assert_int_equal(c.fsync, STORE_SYNC_EVERYSEC);	/* bad values leave the default */
	config_fini(&c);
	unlink(path);
}

static void
test_values_out_of_range_are_refused(void **state)
{
	struct config	 c;
	const char	*msg = NULL;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "cluster", "dup_threshold", "1.5", &msg), -22);
	assert_non_null(msg);
	assert_int_equal(config_set(&c, "cluster", "simhash_k", "8", &msg), -22);
	assert_int_equal(config_set(&c, "server", "max_batch", "-1", &msg), -22);
	assert_int_equal(config_set(&c, "server", "listen", "localhost", &msg), -22);
	assert_int_equal(config_set(&c, "cluster", "simhash_k", "4", &msg), 0);
	assert_int_equal(c.cluster.simhash_k, 4);
	/* article ids are 24 bits in the LSH */
	assert_int_equal(config_set(&c, "store", "max_articles", "16777217", &msg), -22);
	assert_int_equal(config_set(&c, "store", "max_articles", "16777216", &msg), 0);
	assert_int_equal(c.max_articles, 16777216);
	config_fini(&c);
}

static void
test_a_missing_file_is_one_error(void **state)
{
	struct config	c;
	struct errors	e = { 0 };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/storyd.conf", collect, &e), 1);
	assert_non_null(strstr(e.last, "cannot open"));
	config_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_file_shows_every_key_with_its_default),
		cmocka_unit_test(test_example_file_loads_without_errors),
		cmocka_unit_test(test_table_defaults_match_the_algorithms_defaults),
		cmocka_unit_test(test_every_error_is_reported_with_file_line_and_key),
		cmocka_unit_test(test_values_out_of_range_are_refused),
		cmocka_unit_test(test_a_missing_file_is_one_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
