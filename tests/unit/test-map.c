/* map: lookups, updates, removals and iteration while a doubled table moves in steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map.h"
#include "mix.h"

#define UNIVERSE	6000

/* What the map must hold: key i of the universe with val[i], if held[i]. */
struct model {
	uint64_t	key[UNIVERSE];
	uint64_t	val[UNIVERSE];
	uint8_t		held[UNIVERSE];
	size_t		n;
};

/* Every key of the universe answers as the model says, and iteration visits each held key once. */
static void
check(const struct map *m, const struct model *md)
{
	uint8_t		*seen = calloc(UNIVERSE, 1);
	size_t		 pos = 0, visited = 0;
	uint64_t	 key, val;

	assert_non_null(seen);
	assert_int_equal(map_count(m), md->n);
	for (size_t i = 0; i < UNIVERSE; i++) {
		uint64_t	v = 0;

		assert_int_equal(map_find(m, md->key[i], &v), md->held[i]);
		if (md->held[i])
			assert_int_equal(v, md->val[i]);
	}
	while (map_next(m, &pos, &key, &val)) {
		size_t	i = (size_t)val >> 20;	/* values carry their key's index */

		assert_true(i < UNIVERSE);
		assert_int_equal(md->key[i], key);
		assert_true(md->held[i]);
		assert_int_equal(md->val[i], val);
		assert_false(seen[i]);
		seen[i] = 1;
		visited++;
	}
	assert_int_equal(visited, md->n);
	free(seen);
}

/*
 * Puts of new keys, updates and removals at random, with room reserved
 * mostly a key at a time (some 1 to 40), over keys that are sequential (as story ids are)
 * or random; everything is checked after every 10 operations, so often
 * while a doubled table is still moving.
 */
static void
random_operations(int sequential)
{
	struct model	*md = calloc(1, sizeof(*md));
	struct map	 m = { 0 };
	uint64_t	 rng = sequential ? 7 : 11;
	size_t		 checks_moving = 0;

	assert_non_null(md);
	for (size_t i = 0; i < UNIVERSE; i++)
		md->key[i] = sequential ? i + 1 : rng_next(&rng);
	for (int op = 0; op < 40000; op++) {
		size_t	i = (size_t)(rng_next(&rng) % UNIVERSE);
		/* grow to the whole universe, then hover around half of it */
		int	del = op < 12000 ? rng_next(&rng) % 8 == 0 : rng_next(&rng) % 2 == 0;

		if (md->held[i] && del) {
			map_del(&m, md->key[i]);
			md->held[i] = 0;
			md->n--;
		} else {
			uint64_t	val = ((uint64_t)i << 20) | (uint64_t)(op & 0xfffff);
			uint64_t	r = rng_next(&rng);
			size_t		extra = r % 16 ? 1 : 1 + (size_t)(r >> 32) % 40;

			assert_int_equal(map_reserve(&m, extra), 0);
			map_put(&m, md->key[i], val);
			md->n += !md->held[i];
			md->held[i] = 1;
			md->val[i] = val;
		}
		if (op % 10 == 0) {
			check(&m, md);
			checks_moving += m.old.cap != 0;
		}
	}
	check(&m, md);
	print_message("%zu checks met a table moving\n", checks_moving);
	assert_true(checks_moving > 20);	/* the checks did meet tables moving */
	map_fini(&m, 0);
	free(md);
}

static void
test_sequential_keys_answer_as_the_model_while_tables_move(void **state)
{
	(void)state;
	random_operations(1);
}

static void
test_random_keys_answer_as_the_model_while_tables_move(void **state)
{
	(void)state;
	random_operations(0);
}

/* A doubling moves a few slots a reserve, ends before the next, and then frees the old table. */
static void
test_a_doubling_moves_in_steps_and_ends_before_the_next(void **state)
{
	struct map	m = { 0 };
	size_t		cap, reserves = 0;

	(void)state;
	for (uint64_t k = 1; k <= 48; k++) {	/* 64 slots at 3/4 */
		assert_int_equal(map_reserve(&m, 1), 0);
		map_put(&m, k, k);
	}
	assert_int_equal(m.cur.cap, 64);
	assert_int_equal(m.old.cap, 0);
	for (uint64_t k = 49; m.cur.cap < 4096; k++) {
		cap = m.cur.cap;
		assert_int_equal(map_reserve(&m, 1), 0);
		map_put(&m, k, k);
		if (m.cur.cap != cap) {
			/* the old table is never still moving at a doubling */
			assert_int_equal(m.old.cap, cap);
			assert_int_equal(m.old.n, cap * 3 / 4);	/* none moved yet */
			assert_int_equal(m.cur.n, 1);
			assert_int_equal(map_memory(&m), (cap + m.cur.cap) * 17);
			reserves = 0;
		} else if (m.old.cap != 0)
			reserves++;
		assert_true(reserves <= cap / MAP_MOVE_STEP + 1);
		if (m.old.cap == 0)
			assert_int_equal(map_memory(&m), m.cur.cap * 17);
	}
	map_fini(&m, 0);
}

/* Room reserved for many at once holds them all, at most 3/4 full. */
static void
test_room_reserved_for_many_holds_them(void **state)
{
	struct map	m = { 0 };

	(void)state;
	assert_int_equal(map_reserve(&m, 10), 0);
	for (uint64_t k = 0; k < 10; k++)
		map_put(&m, k * 1000003, k);
	assert_int_equal(map_reserve(&m, 5000), 0);
	assert_true(m.cur.cap * 3 >= 5010 * 4);
	for (uint64_t k = 10; k < 5010; k++)
		map_put(&m, k * 1000003, k);
	assert_int_equal(map_count(&m), 5010);
	for (uint64_t k = 0; k < 5010; k++)
		assert_int_equal((uint64_t)(uintptr_t)map_findp(&m, k * 1000003), k);
	map_fini(&m, 0);
}

/* map_fini(m, 1) frees the values of both tables (LeakSanitizer would see one missed). */
static void
test_values_of_both_tables_are_freed(void **state)
{
	struct map	m = { 0 };
	uint64_t	k = 0;

	(void)state;
	do {
		assert_int_equal(map_reserve(&m, 1), 0);
		map_putp(&m, ++k, malloc(16));
	} while (m.old.cap == 0 || m.old.n < 100);
	assert_int_equal(map_count(&m), k);
	map_fini(&m, 1);
}

static void
test_empty_map_finds_nothing(void **state)
{
	struct map	m = { 0 };
	size_t		pos = 0;
	uint64_t	key, val;

	(void)state;
	assert_false(map_find(&m, 42, &val));
	assert_null(map_findp(&m, 42));
	map_del(&m, 42);
	assert_false(map_next(&m, &pos, &key, &val));
	assert_int_equal(map_count(&m), 0);
	assert_int_equal(map_memory(&m), 0);
	map_fini(&m, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential_keys_answer_as_the_model_while_tables_move),
		cmocka_unit_test(test_random_keys_answer_as_the_model_while_tables_move),
		cmocka_unit_test(test_a_doubling_moves_in_steps_and_ends_before_the_next),
		cmocka_unit_test(test_room_reserved_for_many_holds_them),
		cmocka_unit_test(test_values_of_both_tables_are_freed),
		cmocka_unit_test(test_empty_map_finds_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
