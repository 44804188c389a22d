/*
 * simhash: Charikar's SimHash over weighted terms, and Manku's block tables.
 *
 * SimHash adds each term's weight to the 64 bit positions where its remixed
 * hash has a 1 and subtracts it where it has a 0; bit i of the fingerprint is
 * 1 when position i ends positive. Equivalently: when the weight on the 1s is
 * more than half the total, which is what is computed. Weights become 16-bit
 * fixed-point fractions of the largest weight, so the sums are integers: no
 * rounding, no dependence on summation order, vectorization or FMA, and the
 * same fingerprint on every machine. Bit positions are summed four at a time
 * through a nibble table (see simhash()).
 *
 * The index files each id in one bucket per table: table t hashes block t
 * of the fingerprint (64 bits split into k + 1 blocks, sizes differing by at
 * most one) to a bucket, an array of ids. It keeps no fingerprints: the
 * caller holds them already (cluster.c, in its articles), and the index asks
 * for one through simindex_fp_fn when it needs it. A query reads, in each
 * table, the bucket of its own block value, keeps ids that agree with it
 * exactly on that block and are within distance k overall, and reports an
 * id only from the first table whose block agrees, so each is reported once
 * with no scratch set. A bucket keeps its ids in the order they were filed
 * (a table that changes size files each old bucket's again in its order),
 * and a query looks at its last SIMINDEX_SCAN only: copies of one text share
 * a fingerprint, so each of n copies cost O(n) to look up (20,000 copies:
 * half of a 740 us cluster_add(), bench/copies and perf), where a bucket
 * holds 15 at a million otherwise. Removal searches a bucket from its start,
 * where the oldest entries are, and closes the gap.
 *
 * A table grows one bucket at a time, by linear hashing: it has 2^L plus
 * split buckets, and a block that hashes below split under the mask of 2^L
 * takes one more bit of its hash. Each insert that finds the table more
 * than BUCKET_LOAD full splits the next bucket in two (2^L + split takes
 * the entries that the extra bit sends there, in their order), and L goes
 * up when split reaches 2^L, so no insert refiles a whole table (doubling
 * at once cost a single insert 24 ms at 65,536 held). Shrinking, after
 * many removals, refiles the table at half its power of two. The headers
 * still double by realloc() (with the entry arrays the index kept then, a
 * copy that held one add 0.6-2.0 ms at 16,384, 32,768 and 65,536 held);
 * simindex_keep_room() allocates them at once for the most an index will
 * hold (the daemon's max_articles) and keeps them, and no add on the way
 * to 150,000 then took over 0.5 ms (bench/index -n 150000 -R 0 -P, its
 * longest adds).
 *
 * A table has at most 2^block buckets (65,536 for k = 3), so past that the
 * buckets hold N / 65,536 entries each, every one of which a query must look
 * at: 15 per table at a million. Buckets are arrays rather than chains
 * through the entries so that those looks are independent loads, not a
 * chain of dependent cache misses. Beside each entry a bucket keeps 16 bits
 * of its fingerprint from outside the table's block (key_of()): a
 * fingerprint within distance k has a key within distance k, and a random
 * one passes with odds of 1 in 94 for k = 3, so a query reads the
 * fingerprints of almost none of the entries it looks at. Reading them
 * all was 60 cache misses a query at a million (bench/simindex: 2.4-2.9
 * us a query without the keys, 1.6-2.2 with them; at 100,000 held, where
 * buckets hold one or two, 0.47-0.69 either way).
 *
 * Memory per item: 6 bytes per table (its id and key), plus per table a
 * 16-byte bucket header per BUCKET_LOAD items (capped at 2^block) and the
 * allocator's header per bucket in use. For k = 3 that is 24 bytes per
 * item plus headers. A bucket grows by doubling while small and then by a
 * few entries (bucket_room()), so at a million it holds about an eighth
 * more than it uses, where doubling held a third more; the headers double.
 * simindex_memory() counts what is allocated: 34 bytes an item at a
 * million random fingerprints. The index kept each fingerprint and id in
 * arrays of its own until the callback, 12 bytes an item more.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mix.h"
#include "simhash.h"

#define SIMINDEX_MAXTAB	8
#define HEAD_MINCAP	16u
#define BUCKET_LOAD	2u	/* entries per bucket before a table doubles */
#define BUCKET_STEP	4u	/* entries a bucket grows by, at least */
#define MALLOC_HEADER	16	/* glibc's per-chunk overhead, roughly (as lsh.c) */

/* Salt so SimHash bits are not the bits other modules take from the same term hash. */
#define SIMHASH_SALT	0x53696d4861736821ull

/*
 * Four 32-bit sums in one vector (GCC and Clang vector extensions): SSE2 on
 * x86-64, NEON on arm64, scalar code where there is no SIMD.
 */
typedef uint32_t	lanes4 __attribute__((vector_size(16)));

/*
 * nibble_lanes[v][j] is all ones when bit j of v is set: AND with a weight
 * gives the weight or 0 for four bit positions at once, so a term costs 16
 * vector ANDs and adds instead of 64 shifts, tests and adds. Written with
 * scalar arrays, GCC 12 -O3 left the adds scalar: 410 instructions a term
 * and 6% of fingerprint() on the bench corpus, against 180 and 3% now.
 */
#define LANE(v, j)	(((v) >> (j) & 1) ? UINT32_MAX : 0)
#define LANES(v)	{ LANE(v, 0), LANE(v, 1), LANE(v, 2), LANE(v, 3) }
static const lanes4	nibble_lanes[16] = {
	LANES(0), LANES(1), LANES(2), LANES(3), LANES(4), LANES(5), LANES(6), LANES(7),
	LANES(8), LANES(9), LANES(10), LANES(11), LANES(12), LANES(13), LANES(14), LANES(15),
};

/*
 * Weights are 16-bit fractions of the largest, so 32-bit sums cannot
 * overflow within 65535 terms; they spill into 64-bit sums that often.
 */
#define WEIGHT_ONE	65535.0
#define SPILL_EVERY	65535u

uint64_t
simhash(const struct term *terms, size_t n)
{
	lanes4		acc[16] = { 0 };	/* acc[c][j]: bit 4c + j */
	uint64_t	sum[64], total = 0, fp = 0;	/* sum: from the first spill on */
	double		wmax = 0;
	unsigned	pending = 0;
	int		spilled = 0;

	for (size_t i = 0; i < n; i++) {
		if (terms[i].weight > wmax && isfinite(terms[i].weight))
			wmax = terms[i].weight;
	}
	if (wmax == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		double		w = terms[i].weight;
		uint32_t	q;
		uint64_t	x;

		if (!(w > 0) || !isfinite(w))
			continue;
		/* A correctly rounded division, then exact scaling: deterministic. */
		q = (uint32_t)(w / wmax * WEIGHT_ONE + 0.5);
		x = mix64(terms[i].hash ^ SIMHASH_SALT);
		for (unsigned c = 0; c < 16; c++)
			acc[c] += (lanes4){ q, q, q, q } & nibble_lanes[(x >> (4 * c)) & 15];
		total += q;
		if (++pending == SPILL_EVERY) {
			for (unsigned b = 0; b < 64; b++)
				sum[b] = (spilled ? sum[b] : 0) + acc[b / 4][b % 4];
			memset(acc, 0, sizeof(acc));
			pending = 0;
			spilled = 1;
		}
	}
	if (!spilled) {
		/*
		 * Fewer than SPILL_EVERY terms, so total < 2^32, and 2 s > total
		 * is s > total / 2 rounded down: four bits a comparison (a
		 * headline's few terms cost less than the 64 sums did).
		 */
		uint32_t	h = (uint32_t)(total / 2);

		for (unsigned c = 0; c < 16; c++) {
			lanes4		gt = (lanes4)(acc[c] > (lanes4){ h, h, h, h });
			uint64_t	bits = (gt[0] & 1) | (gt[1] & 2) | (gt[2] & 4) | (gt[3] & 8);

			fp |= bits << (4 * c);
		}
		return fp;
	}
	for (unsigned b = 0; b < 64; b++) {
		sum[b] += acc[b / 4][b % 4];
		fp |= (uint64_t)(2 * sum[b] > total) << b;
	}
	return fp;
}

unsigned
simhash_distance(uint64_t a, uint64_t b)
{
	return (unsigned)__builtin_popcountll(a ^ b);
}

/*
 * One table's bucket: the ids whose block hashes here, in the order they
 * were filed. One allocation holds cap ids and then, in the same order, each
 * id's key: 16 bits of its fingerprint from outside the table's block
 * (key_of()), which a query compares before it asks for the fingerprint.
 */
struct sbucket {
	uint32_t	*e;
	uint32_t	 n, cap;
};

#define ENTRY_BYTES	(sizeof(uint32_t) + sizeof(uint16_t))	/* an id and its key */

/* The keys of a bucket whose allocation at e holds cap entries. */
static uint16_t *
keys_at(uint32_t *e, uint32_t cap)
{
	return (uint16_t *)(e + cap);
}

static uint16_t *
bucket_keys(const struct sbucket *b)
{
	return keys_at(b->e, b->cap);
}

struct simindex {
	unsigned	 k, ntab;
	uint64_t	 blk[SIMINDEX_MAXTAB];	/* mask of table t's block, in place */
	unsigned	 shift[SIMINDEX_MAXTAB];
	unsigned	 kshift[SIMINDEX_MAXTAB];	/* where table t's keys start: the next block */
	struct sbucket	*bk[SIMINDEX_MAXTAB];
	uint32_t	 hcap[SIMINDEX_MAXTAB];	/* 2^L, a power of two */
	uint32_t	 split[SIMINDEX_MAXTAB];	/* buckets split: hcap + split in use */
	uint32_t	 bcap[SIMINDEX_MAXTAB];	/* bucket headers allocated */
	uint32_t	 hmax[SIMINDEX_MAXTAB];	/* 2^block bits, or 2^31 */

	simindex_fp_fn	*fp_of;
	void		*arg;
	uint32_t	 n;			/* ids held */
	uint32_t	 room;			/* ids kept room for (simindex_keep_room()) */
	size_t		 vec_bytes;		/* sum of bucket capacities, in bytes */
	size_t		 vec_live;		/* buckets holding memory */
};

static uint64_t
fp_of(const struct simindex *ix, uint32_t id)
{
	return ix->fp_of(ix->arg, id);
}

/* Table t's bucket for fp, among hcap + split buckets. */
static uint32_t
head_index(const struct simindex *ix, unsigned t, uint32_t hcap, uint32_t split, uint64_t fp)
{
	uint64_t	v = (fp & ix->blk[t]) >> ix->shift[t];
	uint32_t	h = (uint32_t)mix64(v + t), i = h & (hcap - 1);

	return i < split ? h & (2 * hcap - 1) : i;
}

static struct sbucket *
bucket_of(const struct simindex *ix, unsigned t, uint64_t fp)
{
	return &ix->bk[t][head_index(ix, t, ix->hcap[t], ix->split[t], fp)];
}

/*
 * fp's key in table t: the 16 bits from where the next block starts. A
 * fingerprint within distance k of fp has a key within distance k of fp's.
 */
static uint16_t
key_of(const struct simindex *ix, unsigned t, uint64_t fp)
{
	unsigned	r = ix->kshift[t];

	return (uint16_t)(r == 0 ? fp : fp >> r | fp << (64 - r));
}

/*
 * The bits set in a key, without the popcount instruction that a baseline
 * x86-64 build lacks (__builtin_popcount is then a call, once an entry).
 */
static unsigned
key_bits(unsigned x)
{
	x = x - ((x >> 1) & 0x5555u);
	x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
	x = (x + (x >> 4)) & 0x0f0fu;
	return (x + (x >> 8)) & 0x1fu;
}

/*
 * Give b room for cap entries and keys, cap >= b->n; the keys move to
 * follow the entries. On failure nothing changes.
 */
static int
bucket_resize(struct simindex *ix, struct sbucket *b, uint32_t cap)
{
	uint32_t	*v;

	if (cap < b->cap)		/* the keys first, while both fit */
		memmove(keys_at(b->e, cap), bucket_keys(b), b->n * sizeof(uint16_t));
	if ((v = realloc(b->e, cap * ENTRY_BYTES)) == NULL) {
		if (cap < b->cap)
			memmove(bucket_keys(b), keys_at(b->e, cap), b->n * sizeof(uint16_t));
		return -ENOMEM;
	}
	if (cap > b->cap)
		memmove(keys_at(v, cap), keys_at(v, b->cap), b->n * sizeof(uint16_t));
	ix->vec_live += b->cap == 0;
	ix->vec_bytes = ix->vec_bytes - b->cap * ENTRY_BYTES + cap * ENTRY_BYTES;
	b->e = v;
	b->cap = cap;
	return 0;
}

/*
 * The capacity a bucket of n entries grows to: twice n while that is a
 * few, then BUCKET_STEP more, or an eighth more when that is more. A table
 * past 2^block buckets holds N / 2^block in each (15 at a million), where
 * doubling left a third of the room unused.
 */
static uint32_t
bucket_room(uint32_t n)
{
	if (n < BUCKET_STEP)
		return n > 0 ? 2 * n : 2;
	return n + (n / 8 > BUCKET_STEP ? n / 8 : BUCKET_STEP);
}

static int
bucket_push(struct simindex *ix, struct sbucket *b, uint32_t e, uint16_t key)
{
	if (b->n == b->cap && bucket_resize(ix, b, bucket_room(b->n)) < 0)
		return -ENOMEM;
	bucket_keys(b)[b->n] = key;
	b->e[b->n++] = e;
	return 0;
}

/* Free b's entries and leave it empty. */
static void
bucket_clear(struct simindex *ix, struct sbucket *b)
{
	if (b->cap == 0)
		return;
	ix->vec_bytes -= b->cap * ENTRY_BYTES;
	ix->vec_live--;
	free(b->e);
	*b = (struct sbucket){ 0 };
}

/* Drop entry e from b, the rest keeping their order. Shrinking cannot fail. */
static void
bucket_del(struct simindex *ix, struct sbucket *b, uint32_t e)
{
	uint16_t	*key = bucket_keys(b);
	uint32_t	 i;

	for (i = 0; b->e[i] != e; i++)
		assert(i + 1 < b->n);
	--b->n;
	memmove(b->e + i, b->e + i + 1, (b->n - i) * sizeof(*b->e));
	memmove(key + i, key + i + 1, (b->n - i) * sizeof(*key));
	if (b->n == 0)
		bucket_clear(ix, b);
	else if (b->cap >= 8 && b->n <= b->cap / 4)
		(void)bucket_resize(ix, b, bucket_room(b->n));
}

static void
buckets_free(struct simindex *ix, struct sbucket *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		bucket_clear(ix, &v[i]);
	free(v);
}

/*
 * Give table t cap buckets, none split, and refile every id, bucket by
 * bucket, each in its order; on failure keep the old ones.
 */
static int
heads_resize(struct simindex *ix, unsigned t, uint32_t cap)
{
	uint32_t	 nb = ix->hcap[t] + ix->split[t];
	struct sbucket	*v;

	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (uint32_t j = 0; ix->bk[t] != NULL && j < nb; j++) {
		const struct sbucket	*b = &ix->bk[t][j];
		const uint16_t		*key = bucket_keys(b);

		for (uint32_t i = 0; i < b->n; i++)
			if (bucket_push(ix, &v[head_index(ix, t, cap, 0, fp_of(ix, b->e[i]))],
			    b->e[i], key[i]) < 0) {
				buckets_free(ix, v, cap);
				return -ENOMEM;
			}
	}
	if (ix->bk[t] != NULL)
		buckets_free(ix, ix->bk[t], nb);
	ix->bk[t] = v;
	ix->hcap[t] = ix->bcap[t] = cap;
	ix->split[t] = 0;
	return 0;
}

/* Table t's headers grown to cap, the new ones empty; on failure nothing changes. */
static int
heads_grow(struct simindex *ix, unsigned t, uint32_t cap)
{
	struct sbucket	*v = realloc(ix->bk[t], (size_t)cap * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	memset(v + ix->bcap[t], 0, (size_t)(cap - ix->bcap[t]) * sizeof(*v));
	ix->bk[t] = v;
	ix->bcap[t] = cap;
	return 0;
}

/*
 * Split table t's next bucket: the entries whose hash has the next bit set
 * move, in their order, to the bucket 2^L above it. On failure nothing
 * changes.
 */
static int
head_split(struct simindex *ix, unsigned t)
{
	uint32_t	 hcap = ix->hcap[t], j = ix->split[t], n = 0, keep = 0;
	struct sbucket	*b, *nb;

	/* headers for the whole next power of two, where the splits are headed */
	if (hcap + j >= ix->bcap[t] && heads_grow(ix, t, 2 * hcap) < 0)
		return -ENOMEM;
	b = &ix->bk[t][j];
	nb = &ix->bk[t][hcap + j];
	for (uint32_t i = 0; i < b->n; i++)
		n += head_index(ix, t, hcap, j + 1, fp_of(ix, b->e[i])) != j;
	if (n > 0) {
		uint16_t	*key = bucket_keys(b), *nkey;

		if (bucket_resize(ix, nb, n) < 0)
			return -ENOMEM;
		nkey = bucket_keys(nb);
		for (uint32_t i = 0; i < b->n; i++) {
			uint32_t	e = b->e[i];

			if (head_index(ix, t, hcap, j + 1, fp_of(ix, e)) != j) {
				nkey[nb->n] = key[i];
				nb->e[nb->n++] = e;
			} else {
				key[keep] = key[i];
				b->e[keep++] = e;
			}
		}
		if ((b->n = keep) == 0)
			bucket_clear(ix, b);
	}
	if (++ix->split[t] == hcap) {
		ix->hcap[t] = 2 * hcap;
		ix->split[t] = 0;
	}
	return 0;
}

struct simindex *
simindex_new(unsigned k, simindex_fp_fn *fn, void *arg)
{
	struct simindex	*ix;
	unsigned	 start = 0;

	assert(k < SIMINDEX_MAXTAB);
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return NULL;
	ix->k = k;
	ix->fp_of = fn;
	ix->arg = arg;
	ix->ntab = k + 1;
	for (unsigned t = 0; t < ix->ntab; t++) {
		unsigned	width = 64 / ix->ntab + (t < 64 % ix->ntab);

		ix->shift[t] = start;
		ix->blk[t] = (width == 64 ? ~0ull : (1ull << width) - 1) << start;
		ix->hmax[t] = width < 31 ? 1u << width : 1u << 31;
		start += width;
		ix->kshift[t] = start % 64;
		if (heads_resize(ix, t, HEAD_MINCAP < ix->hmax[t] ? HEAD_MINCAP :
		    ix->hmax[t]) < 0) {
			simindex_free(ix);
			return NULL;
		}
	}
	assert(start == 64);
	return ix;
}

void
simindex_free(struct simindex *ix)
{
	if (ix == NULL)
		return;
	for (unsigned t = 0; t < ix->ntab; t++)
		if (ix->bk[t] != NULL)
			buckets_free(ix, ix->bk[t], ix->hcap[t] + ix->split[t]);
	free(ix);
}

/*
 * The bucket headers table t needs for n entries, as head_split() grows
 * them: twice the power of two its splits reach, at most hmax; 0 for none.
 */
static uint32_t
heads_room(const struct simindex *ix, unsigned t, uint32_t n)
{
	uint64_t	heads = HEAD_MINCAP;

	if (n == 0)
		return 0;
	while (heads < ix->hmax[t] && n > BUCKET_LOAD * heads)
		heads *= 2;
	return heads < ix->hmax[t] ? (uint32_t)(2 * heads) : ix->hmax[t];
}

int
simindex_keep_room(struct simindex *ix, size_t n)
{
	if (n > UINT32_MAX / 2)
		return -ENOMEM;
	ix->room = 0;
	for (unsigned t = 0; t < ix->ntab; t++) {
		uint32_t	want = heads_room(ix, t, (uint32_t)n);

		if (want > ix->bcap[t] && heads_grow(ix, t, want) < 0)
			return -ENOMEM;
	}
	ix->room = (uint32_t)n;
	return 0;
}

int
simindex_insert(struct simindex *ix, uint32_t id, uint64_t fp)
{
	unsigned	t;
	int		r;

	if (ix->n >= UINT32_MAX / 2)
		return -ENOMEM;
	/* Split before the id is filed, or the split would file it twice. */
	for (t = 0; t < ix->ntab; t++) {
		uint64_t	heads = (uint64_t)ix->hcap[t] + ix->split[t];

		/* A failure to grow only makes buckets longer. */
		if (ix->n + 1 > BUCKET_LOAD * heads && heads < ix->hmax[t])
			(void)head_split(ix, t);
	}
	for (t = 0; t < ix->ntab; t++)
		if ((r = bucket_push(ix, bucket_of(ix, t, fp), id, key_of(ix, t, fp))) < 0) {
			while (t-- > 0)
				bucket_del(ix, bucket_of(ix, t, fp), id);
			return r;
		}
	ix->n++;
	return 0;
}

void
simindex_remove(struct simindex *ix, uint32_t id, uint64_t fp)
{
	const struct sbucket	*b0 = bucket_of(ix, 0, fp);
	uint32_t		 i;

	for (i = 0; i < b0->n && b0->e[i] != id; i++)
		;
	/* not held, or held with another fingerprint, whose buckets these are not */
	if (i == b0->n || fp_of(ix, id) != fp)
		return;
	for (unsigned t = 0; t < ix->ntab; t++)
		bucket_del(ix, bucket_of(ix, t, fp), id);
	ix->n--;
	/*
	 * Shrink at a quarter of the load, not below the room kept; failing to
	 * shrink costs only memory.
	 */
	for (unsigned t = 0; t < ix->ntab; t++) {
		if (ix->hcap[t] > HEAD_MINCAP && ix->n < BUCKET_LOAD * ix->hcap[t] / 4 &&
		    ix->hcap[t] / 2 >= heads_room(ix, t, ix->room))
			(void)heads_resize(ix, t, ix->hcap[t] / 2);
	}
}

/* Where a walk over the entries matching one query stands. */
struct walk {
	uint64_t		 fp;
	unsigned		 t;
	uint32_t		 i;
	const struct sbucket	*b;
	uint16_t		 key;		/* fp's in table t */
};

/* The first entry of b a query looks at. */
static uint32_t
scan_from(const struct sbucket *b)
{
	return b->n > SIMINDEX_SCAN ? b->n - SIMINDEX_SCAN : 0;
}

static void
walk_start(const struct simindex *ix, uint64_t fp, struct walk *w)
{
	w->fp = fp;
	w->t = 0;
	w->b = bucket_of(ix, 0, fp);
	w->i = scan_from(w->b);
	w->key = key_of(ix, 0, fp);
}

/*
 * Next id within distance k of w->fp, each exactly once: it is reported
 * from the first table whose block it shares. 0 at the end.
 */
static int
walk_next(const struct simindex *ix, struct walk *w, uint32_t *id, unsigned *dist)
{
	for (;;) {
		while (w->i < w->b->n) {
			uint32_t	 i = w->i++, c;
			uint64_t	 x;
			unsigned	 t = w->t, d;
			int		 earlier = 0;

			/* the key first: most entries are far, and their fingerprints not in cache */
			if (key_bits((unsigned)(bucket_keys(w->b)[i] ^ w->key)) > ix->k)
				continue;
			c = w->b->e[i];
			x = fp_of(ix, c) ^ w->fp;
			if ((x & ix->blk[t]) != 0 || (d = simhash_distance(x, 0)) > ix->k)
				continue;
			for (unsigned u = 0; u < t && !earlier; u++)
				earlier = (x & ix->blk[u]) == 0;
			if (earlier)
				continue;
			*id = c;
			*dist = d;
			return 1;
		}
		if (++w->t >= ix->ntab)
			return 0;
		w->b = bucket_of(ix, w->t, w->fp);
		w->i = scan_from(w->b);
		w->key = key_of(ix, w->t, w->fp);
	}
}

/* Max-heap of ids in h[0..n): the root is the largest. */
static void
heap_sift_down(uint32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t		c = 2 * i + 1;
		uint32_t	tmp;

		if (c >= n)
			return;
		if (c + 1 < n && h[c + 1] > h[c])
			c++;
		if (h[i] >= h[c])
			return;
		tmp = h[i];
		h[i] = h[c];
		h[c] = tmp;
		i = c;
	}
}

static void
heap_push(uint32_t *h, size_t n, uint32_t id)
{
	size_t	i = n;

	h[i] = id;
	while (i > 0 && h[(i - 1) / 2] < h[i]) {
		uint32_t	tmp = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Two walks and no allocation: the first counts matches per distance, the
 * second puts each at its distance's place in out (a counting sort), keeping
 * the smallest ids in a heap for the one distance that does not fit whole.
 */
size_t
simindex_query(const struct simindex *ix, uint64_t fp, uint32_t *out, size_t max)
{
	size_t		cnt[SIMINDEX_MAXTAB + 1] = { 0 }, off[SIMINDEX_MAXTAB + 1];
	size_t		take[SIMINDEX_MAXTAB + 1], fill[SIMINDEX_MAXTAB + 1] = { 0 };
	size_t		total = 0, w = 0;
	struct walk	wk;
	uint32_t	id;
	unsigned	d;

	walk_start(ix, fp, &wk);
	while (walk_next(ix, &wk, &id, &d)) {
		cnt[d]++;
		total++;
	}
	if (total == 0 || max == 0)
		return total;
	for (d = 0; d <= ix->k; d++) {
		off[d] = w;
		take[d] = cnt[d] < max - w ? cnt[d] : max - w;
		w += take[d];
	}
	walk_start(ix, fp, &wk);
	while (walk_next(ix, &wk, &id, &d)) {
		uint32_t	*seg = out + off[d];

		if (take[d] == 0)
			continue;
		if (fill[d] < take[d]) {
			if (take[d] < cnt[d])
				heap_push(seg, fill[d], id);
			else
				seg[fill[d]] = id;
			fill[d]++;
		} else if (id < seg[0]) {
			seg[0] = id;
			heap_sift_down(seg, take[d], 0);
		}
	}
	for (d = 0; d <= ix->k; d++)
		qsort(out + off[d], take[d], sizeof(*out), cmp_u32);
	return total;
}

size_t
simindex_memory(const struct simindex *ix)
{
	size_t	m = sizeof(*ix);

	for (unsigned t = 0; t < ix->ntab; t++)
		m += (size_t)ix->bcap[t] * sizeof(struct sbucket);
	m += ix->vec_bytes + ix->vec_live * MALLOC_HEADER;
	return m;
}
