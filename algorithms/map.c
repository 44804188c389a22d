/* map: the clusterer's hash maps; the contract is in map.h. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "map.h"
#include "mix.h"

static size_t
map_slot(const struct map *m, uint64_t key)
{
	/* story ids are sequential, so keys need mixing */
	size_t	mask = m->m_cap - 1, i = mix64(key) & mask;

	while (m->m_used[i] && m->m_keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

int
map_find(const struct map *m, uint64_t key, uint64_t *val)
{
	size_t	i;

	if (m->m_n == 0)
		return 0;
	i = map_slot(m, key);
	if (!m->m_used[i])
		return 0;
	*val = m->m_vals[i];
	return 1;
}

void *
map_findp(const struct map *m, uint64_t key)
{
	uint64_t	v;

	return map_find(m, key, &v) ? (void *)(uintptr_t)v : NULL;
}

/* Make room for extra more keys, so that map_put() cannot fail. */
int
map_reserve(struct map *m, size_t extra)
{
	struct map	nm;
	size_t		cap = m->m_cap ? m->m_cap : 16, i;

	while ((m->m_n + extra) * 4 > cap * 3)	/* load factor <= 3/4 */
		cap *= 2;
	if (cap == m->m_cap)
		return 0;
	nm.m_keys = malloc(cap * sizeof(*nm.m_keys));
	nm.m_vals = malloc(cap * sizeof(*nm.m_vals));
	nm.m_used = calloc(cap, 1);
	if (nm.m_keys == NULL || nm.m_vals == NULL || nm.m_used == NULL) {
		free(nm.m_keys);
		free(nm.m_vals);
		free(nm.m_used);
		return -ENOMEM;
	}
	nm.m_cap = cap;
	nm.m_n = m->m_n;
	for (i = 0; i < m->m_cap; i++) {
		size_t	j;

		if (!m->m_used[i])
			continue;
		j = map_slot(&nm, m->m_keys[i]);
		nm.m_used[j] = 1;
		nm.m_keys[j] = m->m_keys[i];
		nm.m_vals[j] = m->m_vals[i];
	}
	free(m->m_keys);
	free(m->m_vals);
	free(m->m_used);
	*m = nm;
	return 0;
}

void
map_put(struct map *m, uint64_t key, uint64_t val)
{
	size_t	i;

	assert(m->m_cap > 0);
	i = map_slot(m, key);
	if (!m->m_used[i]) {
		/* room for a new key (map_reserve()); a key held is only updated */
		assert((m->m_n + 1) * 4 <= m->m_cap * 3);
		m->m_used[i] = 1;
		m->m_keys[i] = key;
		m->m_n++;
	}
	m->m_vals[i] = val;
}

void
map_putp(struct map *m, uint64_t key, void *p)
{
	map_put(m, key, (uint64_t)(uintptr_t)p);
}

void
map_del(struct map *m, uint64_t key)
{
	size_t	mask, i, j, k;

	if (m->m_n == 0)
		return;
	mask = m->m_cap - 1;
	i = map_slot(m, key);
	if (!m->m_used[i])
		return;
	/* backward shift: pull later keys of the probe run into the hole */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!m->m_used[j])
			break;
		k = mix64(m->m_keys[j]) & mask;
		if (i < j ? (k <= i || k > j) : (k <= i && k > j)) {
			m->m_keys[i] = m->m_keys[j];
			m->m_vals[i] = m->m_vals[j];
			i = j;
		}
	}
	m->m_used[i] = 0;
	m->m_n--;
}

void
map_fini(struct map *m, int free_vals)
{
	size_t	i;

	for (i = 0; free_vals && i < m->m_cap; i++)
		if (m->m_used[i])
			free((void *)(uintptr_t)m->m_vals[i]);
	free(m->m_keys);
	free(m->m_vals);
	free(m->m_used);
}
