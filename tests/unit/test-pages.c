/* pages: zeroed tables of any size, and huge-page ones that start on a huge page's boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pages.h"

#define HUGE_PAGE	((size_t)2 << 20)

/* Every byte of p is zero, and p takes a write at both ends. */
static void
assert_zeroed_writable(unsigned char *p, size_t bytes)
{
	for (size_t i = 0; i < bytes; i += 4096)
		assert_int_equal(p[i], 0);
	assert_int_equal(p[bytes - 1], 0);
	p[0] = 1;
	p[bytes - 1] = 1;
}

/* Small, mapped and huge requests alike: zeroed, writable, released. */
static void
test_tables_of_any_size_are_zeroed(void **state)
{
	const size_t	sizes[] = { 1, 4096, PAGES_APART - 1, PAGES_APART, PAGES_APART + 1,
			    PAGES_HUGE - 1, PAGES_HUGE, PAGES_HUGE + 12345, 3 * PAGES_HUGE + 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char	*p = pages_alloc(sizes[i]);

		assert_non_null(p);
		assert_zeroed_writable(p, sizes[i]);
		pages_free(p, sizes[i]);
	}
	pages_free(NULL, PAGES_HUGE);
}

/*
 * The kernel gives huge pages only to whole 2 MiB stretches that start on
 * a boundary: a table that asks for them starts on one, whatever mappings
 * came before it (a clusterer's 42 band tables are such mappings), so all of
 * it can have them.
 */
static void
test_huge_tables_start_on_a_huge_page(void **state)
{
	const size_t	sizes[] = { PAGES_HUGE, PAGES_HUGE + 4096, PAGES_HUGE + 12345,
			    5 * 1000 * 1000 };
	void		*odd[8];

	(void)state;
	for (size_t k = 0; k < 8; k++) {
		/* mappings of odd sizes in between, so that the next one lands anywhere */
		odd[k] = pages_alloc(PAGES_APART + k * 12288);
		assert_non_null(odd[k]);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			unsigned char	*p = pages_alloc(sizes[i]);

			assert_non_null(p);
			assert_int_equal((uintptr_t)p % HUGE_PAGE, 0);
			assert_zeroed_writable(p, sizes[i]);
			pages_free(p, sizes[i]);
		}
	}
	for (size_t k = 0; k < 8; k++)
		pages_free(odd[k], PAGES_APART + k * 12288);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_tables_of_any_size_are_zeroed),
		cmocka_unit_test(test_huge_tables_start_on_a_huge_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
