/*
 * map: uint64_t -> uint64_t hash map for the clusterer's indexes (exact hash,
 * term, posting and story id). Open addressing with linear probing and
 * backward-shift deletion, so there are no tombstones; keys are mixed with the
 * murmur3 finalizer, since story ids are sequential.
 *
 * A map that must double does not refile every key at once: the old table
 * stays beside the new one, and each map_reserve() moves MAP_MOVE_STEP of
 * its slots for every key it makes room for, a whole probe run at a time,
 * so the move ends well before the next doubling. While it lasts, a key
 * whose home in the old table the move has passed is looked up in the new
 * table alone, any other in the old one first. (Doubling at once held one
 * add 5.2 ms at 196,608 keys in bench/index, twice the doubling before.)
 *
 * A map is embedded and zero-initialized ({0} is an empty map). Only
 * map_reserve() allocates: after map_reserve(m, n) succeeds, n map_put()s of
 * new keys cannot fail. Iteration order depends on the map's history;
 * nothing may depend on it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MAP_MOVE_STEP	8	/* old slots moved for each key reserved */

struct map_table {
	uint64_t	*keys;
	uint64_t	*vals;
	uint8_t		*used;		/* slot i holds a key */
	size_t		 n, cap;	/* cap: 0 or a power of two */
};

struct map {
	struct map_table	cur;
	struct map_table	old;	/* old.cap != 0: its keys are moving to cur */
	size_t			start;	/* the old slot the move started at */
	size_t			cursor;	/* the old slot it has reached */
};

int	map_find(const struct map *m, uint64_t key, uint64_t *val);	/* 1: found */
void	*map_findp(const struct map *m, uint64_t key);			/* NULL: absent */
void	map_prefetch(const struct map *m, uint64_t key);		/* ask for a find's lines */
int	map_reserve(struct map *m, size_t extra);			/* 0 or -ENOMEM */
void	map_put(struct map *m, uint64_t key, uint64_t val);		/* a new key: room reserved */
void	map_putp(struct map *m, uint64_t key, void *p);
void	map_del(struct map *m, uint64_t key);				/* absent: ignored */
size_t	map_count(const struct map *m);					/* keys held */
size_t	map_memory(const struct map *m);				/* bytes of its tables */

/*
 * Iterate: with *pos 0 at first, each call sets *key and *val to the next key
 * held and returns 1, then 0 when none is left. The map must not change
 * meanwhile.
 */
int	map_next(const struct map *m, size_t *pos, uint64_t *key, uint64_t *val);

/* Free the map's tables and, if free_vals, every value as a malloc'd pointer. */
void	map_fini(struct map *m, int free_vals);
