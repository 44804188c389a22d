/*
 * lsh: banded LSH index over MinHash signatures.
 *
 * Each band is one open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones) of 8-byte slots: a 31-bit key tag and one
 * 32-bit value. The tag is 31 bits of XXH3 over the band's r values (seed:
 * the band number); a bucket with one id, by far the common case, keeps that
 * id in the slot itself. A bucket of two or more ids sets the slot's top bit
 * and its value indexes a shared pool of small id vectors.
 *
 * Two different band keys share a bucket only when their 31-bit tags agree:
 * about count / 2^31 per band and query (5e-4 at a million items), and
 * the result is one more candidate, which the caller verifies anyway (see
 * lsh.h). That is the price of 8-byte slots instead of 12 or 16.
 *
 * Memory per item and band: one slot (8 bytes) at a load factor between 3/8
 * and 3/4, so 11 to 21 bytes, times the number of bands. Measured at a
 * million random signatures (load 0.48, the unlucky end): 420 bytes per item
 * for lsh_choose(128, 0.5) = 25 bands of 5 rows, 151 for lsh_choose(128,
 * 0.8) = 9 of 13, and 0.012 spurious candidates per query. Items that share a
 * bucket add 4 bytes each in a heap vector plus 16 per vector in the pool.
 * lsh_memory() counts the bytes requested from malloc, plus 16 per small
 * vector for the allocator's own header.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "lsh.h"

#define SLOT_LIST	0x80000000u	/* value indexes lsh.pool */
#define SLOT_TAG	0x7fffffffu
#define BAND_MINCAP	16u
#define POOL_NONE	UINT32_MAX
#define MALLOC_HEADER	16		/* glibc's per-chunk overhead, roughly */

struct slot {
	uint32_t	tag;		/* 0: empty; else SLOT_LIST bit | 31-bit key */
	uint32_t	val;		/* the id, or an index into lsh.pool */
};

struct band {
	struct slot	*slot;
	uint32_t	 mask;		/* capacity - 1; capacity is a power of two */
	uint32_t	 used;
};

struct idvec {
	uint32_t	*v;		/* NULL: free, and n links the free list */
	uint32_t	 n, cap;
};

struct lsh {
	unsigned	 bands, rows;
	size_t		 count;
	struct band	*band;
	struct idvec	*pool;
	uint32_t	 pool_len, pool_cap, pool_free;
	size_t		 vec_bytes;	/* sum of idvec capacities, in bytes */
	size_t		 vec_live;	/* idvecs holding memory */
};

/*
 * The S-curve's error areas by Simpson's rule; datasketch integrates with
 * scipy's quad, and 200 intervals agree with it to far more digits than
 * the choice of b and r needs.
 */
#define INTEGRATION_STEPS	200

static double
integrate_fp(double t, unsigned b, unsigned r)
{
	double	h = t / INTEGRATION_STEPS, sum = 0;

	for (unsigned i = 0; i <= INTEGRATION_STEPS; i++) {
		double	y = lsh_probability(i * h, b, r);

		sum += (i == 0 || i == INTEGRATION_STEPS) ? y : (i % 2 ? 4 : 2) * y;
	}
	return sum * h / 3;
}

static double
integrate_fn(double t, unsigned b, unsigned r)
{
	double	h = (1 - t) / INTEGRATION_STEPS, sum = 0;

	for (unsigned i = 0; i <= INTEGRATION_STEPS; i++) {
		double	y = 1 - lsh_probability(t + i * h, b, r);

		sum += (i == 0 || i == INTEGRATION_STEPS) ? y : (i % 2 ? 4 : 2) * y;
	}
	return sum * h / 3;
}

void
lsh_choose(unsigned k, double threshold, unsigned *bands, unsigned *rows)
{
	double		best = INFINITY;
	unsigned	bb = 1, br = 1;

	assert(k >= 1);
	for (unsigned b = 1; b <= k; b++) {
		for (unsigned r = 1; r <= k / b; r++) {
			double	err = 0.5 * integrate_fp(threshold, b, r) +
			    0.5 * integrate_fn(threshold, b, r);

			if (err < best) {
				best = err;
				bb = b;
				br = r;
			}
		}
	}
	*bands = bb;
	*rows = br;
}

double
lsh_probability(double s, unsigned bands, unsigned rows)
{
	return 1 - pow(1 - pow(s, rows), bands);
}

static uint32_t
band_tag(const struct lsh *l, unsigned j, const uint32_t *sig)
{
	uint32_t	 le[64];
	const uint32_t	*v = sig + (size_t)j * l->rows;
	uint64_t	 h = j;

	/*
	 * XXH3 of the values as little-endian bytes, seeded with the band
	 * number, so a signature lands in the same bucket on every machine.
	 * Bands of more than 64 rows chain 64-value chunks through the seed.
	 */
	for (unsigned done = 0, c; done < l->rows; done += c) {
		const void	*p = v + done;

		c = l->rows - done < 64 ? l->rows - done : 64;
		if (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
			for (unsigned i = 0; i < c; i++)
				le[i] = __builtin_bswap32(v[done + i]);
			p = le;
		}
		h = XXH3_64bits_withSeed(p, c * sizeof(uint32_t), h);
	}
	h >>= 33;
	return h ? (uint32_t)h : 1;
}

/* The slot holding tag, or the empty slot where it would go. */
static uint32_t
band_find(const struct band *bd, uint32_t tag)
{
	uint32_t	i = tag & bd->mask;

	while (bd->slot[i].tag != 0 && (bd->slot[i].tag & SLOT_TAG) != tag)
		i = (i + 1) & bd->mask;
	return i;
}

static int
band_resize(struct band *bd, uint32_t cap)
{
	struct slot	*old = bd->slot, *s;
	uint32_t	 oldcap = bd->slot ? bd->mask + 1 : 0;

	if ((s = calloc(cap, sizeof(*s))) == NULL)
		return -ENOMEM;
	bd->slot = s;
	bd->mask = cap - 1;
	for (uint32_t i = 0; i < oldcap; i++) {
		if (old[i].tag != 0)
			s[band_find(bd, old[i].tag & SLOT_TAG)] = old[i];
	}
	free(old);
	return 0;
}

/* Empty slot i and shift later members of its probe run back into the hole. */
static void
band_delete(struct band *bd, uint32_t i)
{
	uint32_t	j = i, home;

	for (;;) {
		j = (j + 1) & bd->mask;
		if (bd->slot[j].tag == 0)
			break;
		home = bd->slot[j].tag & SLOT_TAG & bd->mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		bd->slot[i] = bd->slot[j];
		i = j;
	}
	bd->slot[i].tag = 0;
	bd->used--;
	/* Halve when a quarter full, so the table stays between 3/8 and 3/4. */
	if (bd->mask + 1 > BAND_MINCAP && bd->used < (bd->mask + 1) / 4)
		(void)band_resize(bd, (bd->mask + 1) / 2);	/* failing is harmless */
}

static const uint32_t *
bucket_ids(const struct lsh *l, const struct slot *s, size_t *n)
{
	if (s->tag & SLOT_LIST) {
		*n = l->pool[s->val].n;
		return l->pool[s->val].v;
	}
	*n = 1;
	return &s->val;
}

static int
pool_get(struct lsh *l, uint32_t a, uint32_t b, uint32_t *out)
{
	struct idvec	*vec;
	uint32_t	 i;

	if (l->pool_free == POOL_NONE && l->pool_len == l->pool_cap) {
		uint32_t	 cap = l->pool_cap ? l->pool_cap * 2 : 16;
		struct idvec	*p;

		if ((p = realloc(l->pool, cap * sizeof(*p))) == NULL)
			return -ENOMEM;
		l->pool = p;
		l->pool_cap = cap;
	}
	if (l->pool_free != POOL_NONE) {
		i = l->pool_free;
		l->pool_free = l->pool[i].n;
	} else
		i = l->pool_len++;
	vec = &l->pool[i];
	if ((vec->v = malloc(2 * sizeof(uint32_t))) == NULL) {
		vec->n = l->pool_free;
		l->pool_free = i;
		return -ENOMEM;
	}
	vec->v[0] = a;
	vec->v[1] = b;
	vec->n = vec->cap = 2;
	l->vec_bytes += 2 * sizeof(uint32_t);
	l->vec_live++;
	*out = i;
	return 0;
}

static void
pool_put(struct lsh *l, uint32_t i)
{
	l->vec_bytes -= l->pool[i].cap * sizeof(uint32_t);
	l->vec_live--;
	free(l->pool[i].v);
	l->pool[i].v = NULL;
	l->pool[i].n = l->pool_free;
	l->pool[i].cap = 0;
	l->pool_free = i;
	if (l->vec_live == 0) {
		free(l->pool);
		l->pool = NULL;
		l->pool_len = l->pool_cap = 0;
		l->pool_free = POOL_NONE;
	}
}

static int
vec_push(struct lsh *l, struct idvec *vec, uint32_t id)
{
	if (vec->n == vec->cap) {
		uint32_t	 cap = vec->cap * 2;
		uint32_t	*v;

		if ((v = realloc(vec->v, cap * sizeof(*v))) == NULL)
			return -ENOMEM;
		l->vec_bytes += (cap - vec->cap) * sizeof(*v);
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = id;
	return 0;
}

static int
band_insert(struct lsh *l, struct band *bd, uint32_t tag, uint32_t id)
{
	struct slot	*s;
	uint32_t	 i, pi;
	int		 r;

	if ((bd->used + 1) * 4 > (bd->mask + 1) * 3 &&
	    (r = band_resize(bd, (bd->mask + 1) * 2)) < 0)
		return r;
	i = band_find(bd, tag);
	s = &bd->slot[i];
	if (s->tag == 0) {
		s->tag = tag;
		s->val = id;
		bd->used++;
		return 0;
	}
	if (s->tag & SLOT_LIST)
		return vec_push(l, &l->pool[s->val], id);
	if ((r = pool_get(l, s->val, id, &pi)) < 0)
		return r;
	s->tag |= SLOT_LIST;
	s->val = pi;
	return 0;
}

/* Remove the last occurrence of id; 1 if it was there. */
static int
band_remove(struct lsh *l, struct band *bd, uint32_t tag, uint32_t id)
{
	struct idvec	*vec;
	struct slot	*s;
	uint32_t	 i, j;

	i = band_find(bd, tag);
	s = &bd->slot[i];
	if (s->tag == 0)
		return 0;
	if (!(s->tag & SLOT_LIST)) {
		if (s->val != id)
			return 0;
		band_delete(bd, i);
		return 1;
	}
	vec = &l->pool[s->val];
	for (j = vec->n; j > 0 && vec->v[j - 1] != id; j--)
		;
	if (j == 0)
		return 0;
	/* Keep insertion order: lsh_query promises it. */
	memmove(&vec->v[j - 1], &vec->v[j], (vec->n - j) * sizeof(uint32_t));
	vec->n--;
	if (vec->n == 1) {
		uint32_t	last = vec->v[0];

		pool_put(l, s->val);
		s->tag &= SLOT_TAG;
		s->val = last;
	} else if (vec->cap >= 8 && vec->n <= vec->cap / 4) {
		uint32_t	*v = realloc(vec->v, vec->cap / 2 * sizeof(uint32_t));

		if (v != NULL) {
			l->vec_bytes -= vec->cap / 2 * sizeof(uint32_t);
			vec->v = v;
			vec->cap /= 2;
		}
	}
	return 1;
}

struct lsh *
lsh_new(unsigned bands, unsigned rows)
{
	struct lsh	*l;

	assert(bands >= 1 && rows >= 1);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->bands = bands;
	l->rows = rows;
	l->pool_free = POOL_NONE;
	if ((l->band = calloc(bands, sizeof(*l->band))) == NULL)
		goto fail;
	for (unsigned j = 0; j < bands; j++) {
		if (band_resize(&l->band[j], BAND_MINCAP) < 0)
			goto fail;
	}
	return l;
fail:
	lsh_free(l);
	return NULL;
}

void
lsh_free(struct lsh *l)
{
	if (l == NULL)
		return;
	for (unsigned j = 0; l->band != NULL && j < l->bands; j++)
		free(l->band[j].slot);
	for (uint32_t i = 0; i < l->pool_len; i++)
		free(l->pool[i].v);
	free(l->pool);
	free(l->band);
	free(l);
}

int
lsh_insert(struct lsh *l, uint32_t id, const uint32_t *sig)
{
	unsigned	j;
	int		r = 0;

	for (j = 0; j < l->bands; j++) {
		if ((r = band_insert(l, &l->band[j], band_tag(l, j, sig), id)) < 0)
			break;
	}
	if (r < 0) {
		/* Undo the bands done: id was appended last, so order is kept. */
		while (j-- > 0)
			band_remove(l, &l->band[j], band_tag(l, j, sig), id);
		return r;
	}
	l->count++;
	return 0;
}

void
lsh_remove(struct lsh *l, uint32_t id, const uint32_t *sig)
{
	int	found = 0;

	for (unsigned j = 0; j < l->bands; j++)
		found |= band_remove(l, &l->band[j], band_tag(l, j, sig), id);
	if (found)
		l->count--;
}

/*
 * The set of ids already reported by one query: open addressing over a
 * power-of-two array, with a bitmap for occupancy since every uint32 is a
 * valid id.
 */
struct idset {
	uint32_t	*key;
	uint64_t	*used;
	uint32_t	 mask;
};

/* 1 if id was new. */
static int
idset_add(struct idset *set, uint32_t id)
{
	uint32_t	i = (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & set->mask;

	while (set->used[i / 64] & (1ull << (i % 64))) {
		if (set->key[i] == id)
			return 0;
		i = (i + 1) & set->mask;
	}
	set->used[i / 64] |= 1ull << (i % 64);
	set->key[i] = id;
	return 1;
}

/* 1 if id sits in an earlier band's bucket or earlier in this one. */
static int
seen_before(const struct lsh *l, const uint32_t *sig, unsigned band, size_t pos,
    const uint32_t *ids)
{
	for (size_t p = 0; p < pos; p++)
		if (ids[p] == ids[pos])
			return 1;
	for (unsigned j = 0; j < band; j++) {
		const struct band	*bd = &l->band[j];
		const uint32_t		*v;
		size_t			 n;
		uint32_t		 i;

		i = band_find(bd, band_tag(l, j, sig));
		if (bd->slot[i].tag == 0)
			continue;
		v = bucket_ids(l, &bd->slot[i], &n);
		for (size_t p = 0; p < n; p++)
			if (v[p] == ids[pos])
				return 1;
	}
	return 0;
}

#define QUERY_STACK_SET	1024	/* slots on the stack: up to 512 candidates */

size_t
lsh_query(const struct lsh *l, const uint32_t *sig, uint32_t *out, size_t max)
{
	uint32_t	 stack_key[QUERY_STACK_SET];
	uint64_t	 stack_used[QUERY_STACK_SET / 64];
	struct idset	 set = { stack_key, stack_used, QUERY_STACK_SET - 1 };
	size_t		 total = 0, found = 0, cap;
	int		 heap = 0;

	for (unsigned j = 0; j < l->bands; j++) {
		const struct band	*bd = &l->band[j];
		uint32_t		 i = band_find(bd, band_tag(l, j, sig));
		size_t			 n = 0;

		if (bd->slot[i].tag != 0)
			bucket_ids(l, &bd->slot[i], &n);
		total += n;
	}
	if (total == 0)
		return 0;
	for (cap = 64; cap < 2 * total; cap *= 2)
		;
	if (cap > QUERY_STACK_SET) {
		set.key = malloc(cap * sizeof(uint32_t));
		set.used = malloc(cap / 8);
		set.mask = (uint32_t)cap - 1;
		heap = 1;
		/* Out of memory: dedupe by rescanning the buckets instead. */
		if (set.key == NULL || set.used == NULL) {
			free(set.key);
			free(set.used);
			set.key = NULL;
		}
	} else
		set.mask = (uint32_t)cap - 1;
	if (set.key != NULL)
		memset(set.used, 0, (set.mask + 1) / 8);

	for (unsigned j = 0; j < l->bands; j++) {
		const struct band	*bd = &l->band[j];
		const uint32_t		*v;
		uint32_t		 i = band_find(bd, band_tag(l, j, sig));
		size_t			 n;

		if (bd->slot[i].tag == 0)
			continue;
		v = bucket_ids(l, &bd->slot[i], &n);
		for (size_t p = 0; p < n; p++) {
			if (set.key != NULL ? !idset_add(&set, v[p]) :
			    seen_before(l, sig, j, p, v))
				continue;
			if (found < max)
				out[found] = v[p];
			found++;
		}
	}
	if (heap && set.key != NULL) {
		free(set.key);
		free(set.used);
	}
	return found;
}

size_t
lsh_count(const struct lsh *l)
{
	return l->count;
}

size_t
lsh_memory(const struct lsh *l)
{
	size_t	m = sizeof(*l) + l->bands * sizeof(*l->band);

	for (unsigned j = 0; j < l->bands; j++)
		m += (size_t)(l->band[j].mask + 1) * sizeof(struct slot);
	m += (size_t)l->pool_cap * sizeof(*l->pool);
	m += l->vec_bytes + l->vec_live * MALLOC_HEADER;
	return m;
}
