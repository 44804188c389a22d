/* map: the clusterer's hash maps; the contract is in map.h. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "map.h"
#include "mix.h"
#include "prefetch.h"

/* The slot of t holding key, or the empty slot that ends its probe run. */
static size_t
tab_slot(const struct map_table *t, uint64_t key)
{
	/* story ids are sequential, so keys need mixing */
	size_t	mask = t->cap - 1, i = mix64(key) & mask;

	while (t->used[i] && t->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

/* 1, with *i its slot, if t holds key. */
static int
tab_find(const struct map_table *t, uint64_t key, size_t *i)
{
	if (t->n == 0)
		return 0;
	*i = tab_slot(t, key);
	return t->used[*i];
}

/* Put a key t does not hold; t has room. */
static void
tab_place(struct map_table *t, uint64_t key, uint64_t val)
{
	size_t	i = tab_slot(t, key);

	assert(!t->used[i]);
	t->used[i] = 1;
	t->keys[i] = key;
	t->vals[i] = val;
	t->n++;
}

/* Remove slot i of t, pulling later keys of its probe run into the hole. */
static void
tab_remove(struct map_table *t, size_t i)
{
	size_t	mask = t->cap - 1, j, k;

	for (j = i;;) {
		j = (j + 1) & mask;
		if (!t->used[j])
			break;
		k = mix64(t->keys[j]) & mask;
		/* j's key may fill i unless its home lies cyclically in (i, j] */
		if (i < j ? (k <= i || k > j) : (k <= i && k > j)) {
			t->keys[i] = t->keys[j];
			t->vals[i] = t->vals[j];
			i = j;
		}
	}
	t->used[i] = 0;
	t->n--;
}

static void
tab_free(struct map_table *t)
{
	free(t->keys);
	free(t->vals);
	free(t->used);
	*t = (struct map_table){ 0 };
}

/*
 * The table of the map holding key and *i its slot there, or NULL. A key
 * sits in the probe run through its home, and the move takes whole runs
 * from start on: one whose old home lies in [start, cursor) has moved.
 * The others are looked for in the old table first, where most of them
 * are (a second lookup for each cost bench/index 12% at 200,000 held).
 */
static struct map_table *
map_where(const struct map *m, uint64_t key, size_t *i)
{
	if (m->old.n > 0) {
		size_t	mask = m->old.cap - 1, home = mix64(key) & mask;

		if (((home - m->start) & mask) >= ((m->cursor - m->start) & mask) &&
		    tab_find(&m->old, key, i))
			return (struct map_table *)&m->old;
	}
	if (tab_find(&m->cur, key, i))
		return (struct map_table *)&m->cur;
	return NULL;
}

/*
 * Move at least slots slots of the old table to the current one, from the
 * cursor on, a whole probe run at a time: a lookup in the old table then
 * never meets a hole inside a run. The cursor starts at an empty slot, and
 * every key left is at or past it, since removal only pulls keys back
 * within their run. The old table is freed once empty.
 */
static void
map_move(struct map *m, size_t slots)
{
	struct map_table	*o = &m->old;

	while (o->cap != 0 && slots > 0) {
		size_t	i = m->cursor;

		if (o->n == 0) {
			tab_free(o);
			break;
		}
		if (!o->used[i])
			slots--;
		for (; o->used[i]; i = (i + 1) & (o->cap - 1)) {
			tab_place(&m->cur, o->keys[i], o->vals[i]);
			o->used[i] = 0;
			o->n--;
			slots -= slots > 0;
		}
		m->cursor = (i + 1) & (o->cap - 1);
	}
}

int
map_find(const struct map *m, uint64_t key, uint64_t *val)
{
	const struct map_table	*t;
	size_t			 i;

	if ((t = map_where(m, key, &i)) == NULL)
		return 0;
	*val = t->vals[i];
	return 1;
}

/* Ask for the lines a lookup of key in t reads first: its home's. */
static void
tab_prefetch(const struct map_table *t, uint64_t key)
{
	size_t	i;

	if (t->n == 0)
		return;
	i = mix64(key) & (t->cap - 1);
	PREFETCH(&t->used[i]);
	PREFETCH(&t->keys[i]);
	PREFETCH(&t->vals[i]);
}

void
map_prefetch(const struct map *m, uint64_t key)
{
	if (m->old.n > 0)
		tab_prefetch(&m->old, key);
	tab_prefetch(&m->cur, key);
}

void *
map_findp(const struct map *m, uint64_t key)
{
	uint64_t	v;

	return map_find(m, key, &v) ? (void *)(uintptr_t)v : NULL;
}

size_t
map_count(const struct map *m)
{
	return m->cur.n + m->old.n;
}

/* Make room for extra more keys, so that map_put() cannot fail. */
int
map_reserve(struct map *m, size_t extra)
{
	struct map_table	t = { 0 };
	size_t			cap = m->cur.cap ? m->cur.cap : 16, n = map_count(m);

	map_move(m, extra > SIZE_MAX / MAP_MOVE_STEP ? SIZE_MAX : extra * MAP_MOVE_STEP);
	while ((n + extra) * 4 > cap * 3)	/* load factor <= 3/4 */
		cap *= 2;
	if (cap == m->cur.cap)
		return 0;
	t.keys = malloc(cap * sizeof(*t.keys));
	t.vals = malloc(cap * sizeof(*t.vals));
	t.used = calloc(cap, 1);
	if (t.keys == NULL || t.vals == NULL || t.used == NULL) {
		tab_free(&t);
		return -ENOMEM;
	}
	t.cap = cap;
	/* a move still under way ends now; the reserves since cannot have let it */
	map_move(m, SIZE_MAX);
	m->old = m->cur;
	m->cur = t;
	for (m->cursor = 0; m->old.n > 0 && m->old.used[m->cursor]; m->cursor++)
		;
	m->start = m->cursor;
	if (m->old.n == 0)
		tab_free(&m->old);
	return 0;
}

void
map_put(struct map *m, uint64_t key, uint64_t val)
{
	struct map_table	*t;
	size_t			 i;

	assert(m->cur.cap > 0);
	if ((t = map_where(m, key, &i)) != NULL) {
		t->vals[i] = val;	/* a key held is only updated */
		return;
	}
	/* room for a new key (map_reserve()) */
	assert((map_count(m) + 1) * 4 <= m->cur.cap * 3);
	tab_place(&m->cur, key, val);
}

void
map_putp(struct map *m, uint64_t key, void *p)
{
	map_put(m, key, (uint64_t)(uintptr_t)p);
}

void
map_del(struct map *m, uint64_t key)
{
	struct map_table	*t;
	size_t			 i;

	if ((t = map_where(m, key, &i)) != NULL)
		tab_remove(t, i);
}

size_t
map_memory(const struct map *m)
{
	const size_t	slot = sizeof(*m->cur.keys) + sizeof(*m->cur.vals) + sizeof(*m->cur.used);

	return (m->cur.cap + m->old.cap) * slot;
}

int
map_next(const struct map *m, size_t *pos, uint64_t *key, uint64_t *val)
{
	for (; *pos < m->cur.cap + m->old.cap; (*pos)++) {
		const struct map_table	*t = *pos < m->cur.cap ? &m->cur : &m->old;
		size_t			 i = *pos < m->cur.cap ? *pos : *pos - m->cur.cap;

		if (t->used[i]) {
			*key = t->keys[i];
			*val = t->vals[i];
			(*pos)++;
			return 1;
		}
	}
	return 0;
}

void
map_fini(struct map *m, int free_vals)
{
	size_t		pos = 0;
	uint64_t	key, val;

	while (free_vals && map_next(m, &pos, &key, &val))
		free((void *)(uintptr_t)val);
	tab_free(&m->cur);
	tab_free(&m->old);
}
