/*
 * map: uint64_t -> uint64_t hash map for the clusterer's indexes (exact hash,
 * term, posting and story id). Open addressing with linear probing and
 * backward-shift deletion, so there are no tombstones; keys are mixed with the
 * murmur3 finalizer, since story ids are sequential.
 *
 * A map is embedded and zero-initialized ({0} is an empty map). Only
 * map_reserve() allocates: after map_reserve(m, n) succeeds, n map_put()s of
 * new keys cannot fail. Iteration order (slot order) depends on the map's
 * history; nothing may depend on it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct map {
	uint64_t	*m_keys;
	uint64_t	*m_vals;
	uint8_t		*m_used;		/* slot i holds a key */
	size_t		 m_n, m_cap;		/* m_cap: 0 or a power of two */
};

int	map_find(const struct map *m, uint64_t key, uint64_t *val);	/* 1: found */
void	*map_findp(const struct map *m, uint64_t key);			/* NULL: absent */
int	map_reserve(struct map *m, size_t extra);			/* 0 or -ENOMEM */
void	map_put(struct map *m, uint64_t key, uint64_t val);		/* a new key: room reserved */
void	map_putp(struct map *m, uint64_t key, void *p);
void	map_del(struct map *m, uint64_t key);				/* absent: ignored */

/* Free the map's arrays and, if free_vals, every value as a malloc'd pointer. */
void	map_fini(struct map *m, int free_vals);
