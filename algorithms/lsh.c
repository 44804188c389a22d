/*
 * lsh: banded LSH index over MinHash signatures.
 *
 * Each band is one open-addressing table of 4-byte slots, one per (band,
 * id): the id's 24 bits (LSH_ID_LIMIT), the low 3 bits of the band key's
 * 24-bit tag (XXH3 over the band's r values, seeded with the band number),
 * a bit that says the slot continues the bucket of the slot before, and the
 * slot's distance from its home, 4 bits that say "14 or more" past 13. The
 * home is the tag scaled to the table's size, so any size will do.
 * The rest of a tag is read back from the id's signature, which the caller
 * keeps (lsh_rows_fn): a lookup asks for it only where a slot's home and
 * low bits agree with the key looked for (the bucket's own ids, and about
 * one other in eight of those filed at the same home), an insert or a
 * removal only for a bucket 14 or more from home, and a table that changes
 * size takes its band's tag of every id first, in id order (move_keep()),
 * and answers all of these from that copy while it moves. Slots are kept in
 * Robin Hood order (each run sorted by home, and within a home by
 * insertion), so a lookup stops as
 * soon as it passes where its home's entries would be, and a table can be
 * filled to 4/5 with short probes; a table grows by a quarter, and so stays
 * between 31/50 and 4/5 full while growing (growth starts between 31/40
 * and 4/5, see move_start()). (9/10 saves a further tenth of the memory but
 * made cluster_add() 30% slower at 200,000 held: long runs.) A table's ids
 * move to its new size a few at a time, one band at a time (see
 * move_start()), so no insert pays for refiling a whole index. lsh_reserve()
 * jumps straight to the size those quarters reach for its count
 * (band_cap_for()), without refiling each id at every step (about 4.5 times
 * each on the way to a million), and lsh_keep_room() does so for the most
 * an index will hold and keeps that size through removals: the daemon sizes
 * its tables for max_articles when it starts, and none ever moves.
 * Deletion shifts the rest of the run back, so there are no tombstones. A
 * bucket of many ids (copies of one text) is that many slots of one run,
 * LSH_BUCKET_MAX at most: a full bucket drops its oldest id for the new one
 * (bucket_drop_oldest()).
 *
 * Two different band keys share a bucket only when their 24-bit tags agree:
 * about count / 2^24 per band and query (0.06 at a million items, 2.5 over
 * 42 bands), and the result is one more candidate, which the caller verifies
 * anyway (see lsh.h). cluster.c's keys are themselves 24 bits (3 values of a
 * byte) that agree by chance as often.
 *
 * Memory per item and band: one slot (4 bytes) at a load between 31/50 and
 * 4/5 (2/5 after many removals, when a table shrinks, and less below the
 * room kept), so 5 to 6.5 bytes,
 * times the number of bands, and while one band moves, its old table
 * besides: at a million held, 219 bytes an article against 329 with 6-byte
 * slots that kept the whole tag, and 438 with 8 (31-bit tags, 32-bit ids).
 * lsh_memory() counts the bytes of the tables requested. Tables of
 * PAGES_APART bytes and more are mappings of their own (pages.h).
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "lsh.h"
#include "pages.h"
#include "prefetch.h"

#define BAND_MINCAP	16u
#define TAG_BATCH	64u	/* bands fetched together: the default 42 in one go */

/*
 * A slot: 32 bits, 0 when empty. The id in the low 24 (LSH_ID_LIMIT); a
 * bit saying the slot holds the same tag as the slot before it; the tag's
 * low 3 bits; and in the top 4 the distance from the tag's home plus one,
 * DIST_SAT + 1 standing for DIST_SAT or more. The ids of one tag lie
 * together (a bucket), so the rest of a tag comes from an id's signature
 * (lsh_rows_fn) once a bucket, where the bucket's home and low bits agree
 * with what is looked for, and a distance past DIST_SAT once a bucket too
 * (within one, each slot is one further than the one before).
 */
#define ID_BITS		24
#define ID_MASK		((UINT32_C(1) << ID_BITS) - 1)
#define SAME_BIT	(UINT32_C(1) << ID_BITS)
#define TAGLO_SHIFT	(ID_BITS + 1)
#define TAGLO_MASK	UINT32_C(7)
#define DIST_SHIFT	(TAGLO_SHIFT + 3)
#define DIST_SAT	14u
#define DIST_UNKNOWN	UINT32_MAX

typedef uint32_t	slot_t;

static uint32_t
slot_id(slot_t s)
{
	return s & ID_MASK;
}

static int
slot_same(slot_t s)
{
	return (s & SAME_BIT) != 0;
}

static uint32_t
slot_taglo(slot_t s)
{
	return s >> TAGLO_SHIFT & TAGLO_MASK;
}

/* The distance the slot keeps: exact below DIST_SAT. */
static uint32_t
slot_kept_dist(slot_t s)
{
	return (s >> DIST_SHIFT) - 1;
}

/* The slot at dist from its home: its distance field set again. */
static slot_t
slot_at_dist(slot_t s, uint32_t dist)
{
	return (s & ((UINT32_C(1) << DIST_SHIFT) - 1)) |
	    ((dist < DIST_SAT ? dist : DIST_SAT) + 1) << DIST_SHIFT;
}

static slot_t
slot_make(uint32_t tag, uint32_t id, uint32_t dist, int same)
{
	return slot_at_dist(id | (same ? SAME_BIT : 0) | (tag & TAGLO_MASK) << TAGLO_SHIFT, dist);
}

/* One open-addressing table in Robin Hood order. */
struct table {
	slot_t		*slot;
	uint32_t	 cap;
	uint32_t	 used;
};

/*
 * A band: the table its ids are filed in and, while it changes size, the
 * table they are leaving (see move_start()). Every id of one tag is in the
 * one table or the other, never split.
 */
struct band {
	struct table	 cur;
	struct table	 old;		/* old.slot != NULL: a move is under way */
	uint32_t	 cursor;	/* the slot of old the move has reached */
};

#define NOT_MOVING	UINT_MAX

struct lsh {
	unsigned	 bands, rows;
	size_t		 count;
	struct band	*band;
	unsigned	 moving;	/* the band whose table is moving, or NOT_MOVING */
	uint32_t	 id_end;	/* one past the highest id filed */
	uint32_t	*kept;		/* the moving band's tag of each id below kept_n (move_keep()) */
	uint32_t	 kept_n, kept_end;
	size_t		 room;		/* ids the tables keep room for (lsh_keep_room()) */
	lsh_rows_fn	*rows_fn;	/* an id's signature, for the tag bits a slot lacks */
	void		*rows_arg;
};

/*
 * The S-curve's error areas by Simpson's rule; datasketch integrates with
 * scipy's quad, and 200 intervals agree with it to far more digits than
 * the choice of b and r needs.
 */
#define INTEGRATION_STEPS	200

/* Simpson's weight of point i. */
static double
simpson(unsigned i)
{
	return i == 0 || i == INTEGRATION_STEPS ? 1 : i % 2 ? 4 : 2;
}

/*
 * Both areas for every split, rows in the outer loop: 1 - s^r at each
 * point is taken once for r, and (1 - s^r)^b, the chance of staying apart,
 * by one multiplication a band more. pow() at every point of every split
 * was 73 million instructions a call at k = 128, and a start makes two
 * (storyd -n: 30 ms of CPU against 3.6 now; 258 against 28 at k = 1,024).
 * The splits chosen are the same (k from 16 to 1,024, thresholds 0.05 to
 * 0.95: a scratch comparison, and test-lsh's sample). Of splits whose
 * errors are equal, the one of fewest bands, then rows, is kept.
 */
void
lsh_choose(unsigned k, double threshold, unsigned *bands, unsigned *rows)
{
	double		best = INFINITY;
	double		hfp = threshold / INTEGRATION_STEPS, hfn = (1 - threshold) / INTEGRATION_STEPS;
	double		qfp[INTEGRATION_STEPS + 1], qfn[INTEGRATION_STEPS + 1];
	double		apart_fp[INTEGRATION_STEPS + 1], apart_fn[INTEGRATION_STEPS + 1];
	unsigned	bb = 1, br = 1;

	assert(k >= 1);
	for (unsigned r = 1; r <= k; r++) {
		for (unsigned i = 0; i <= INTEGRATION_STEPS; i++) {
			qfp[i] = apart_fp[i] = 1 - pow(i * hfp, r);
			qfn[i] = apart_fn[i] = 1 - pow(threshold + i * hfn, r);
		}
		for (unsigned b = 1; b <= k / r; b++) {
			double	fp = 0, fn = 0, err;

			/* apart_*[i] is (1 - s^r)^b */
			for (unsigned i = 0; i <= INTEGRATION_STEPS; i++) {
				fp += simpson(i) * (1 - apart_fp[i]);
				fn += simpson(i) * apart_fn[i];
				apart_fp[i] *= qfp[i];
				apart_fn[i] *= qfn[i];
			}
			err = 0.5 * (fp * hfp / 3) + 0.5 * (fn * hfn / 3);
			if (err < best || (err == best && (b < bb || (b == bb && r < br)))) {
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

#define ROWS_CHUNK	64u
#define FILL_BANDS	4u	/* bands lsh_fill() tags from one read of a signature */

/* XXH3 of one chunk of a band's values' low 16 bits, chained through the seed. */
static uint64_t
band_hash_chunk(const uint32_t *v, unsigned n, uint64_t seed)
{
	uint8_t	le[2 * ROWS_CHUNK];

	for (unsigned i = 0; i < n; i++) {
		le[2 * i] = (uint8_t)v[i];
		le[2 * i + 1] = (uint8_t)(v[i] >> 8);
	}
	return XXH3_64bits_withSeed(le, 2 * n, seed);
}

static uint32_t
tag_from_hash(uint64_t h)
{
	h >>= 40;
	return h ? (uint32_t)h : 1;
}

/*
 * The tag of band j from its r values v: XXH3 of the values' low 16 bits as
 * little-endian bytes, seeded with the band number, so a signature lands in
 * the same bucket on every machine, and a caller that keeps only the low 16
 * bits (cluster.c) can remove what it inserted. Two different values agree
 * on their low 16 bits by chance 2^-16 of the time, far below the MinHash
 * agreement this index is tuned for (lsh_choose()). Bands of more than 64
 * rows chain 64-value chunks through the seed.
 */
static uint32_t
band_tag_of(const struct lsh *l, unsigned j, const uint32_t *v)
{
	uint64_t	h = j;

	for (unsigned done = 0, c; done < l->rows; done += c) {
		c = l->rows - done < ROWS_CHUNK ? l->rows - done : ROWS_CHUNK;
		h = band_hash_chunk(v + done, c, h);
	}
	return tag_from_hash(h);
}

/* The tag of band j for a held id, from its signature as the caller keeps it. */
static uint32_t
id_tag(const struct lsh *l, unsigned j, uint32_t id)
{
	uint32_t	v[ROWS_CHUNK];
	uint64_t	h = j;

	for (unsigned done = 0, c; done < l->rows; done += c) {
		c = l->rows - done < ROWS_CHUNK ? l->rows - done : ROWS_CHUNK;
		l->rows_fn(l->rows_arg, id, j * l->rows + done, c, v);
		h = band_hash_chunk(v, c, h);
	}
	return tag_from_hash(h);
}

/* Has the moving band's tag of id been taken into kept (move_keep())? */
static int
move_kept(const struct lsh *l, uint32_t id)
{
	return l->kept != NULL && id < l->kept_n;
}

/* The tag of band j for a held id: kept while j moves, else from its signature. */
static uint32_t
tag_of(const struct lsh *l, unsigned j, uint32_t id)
{
	return j == l->moving && move_kept(l, id) ? l->kept[id] : id_tag(l, j, id);
}

/*
 * Whether held id files band j under tag. vals, when known, are the band's
 * values tag was made from: values whose low 16 bits are the same give the
 * same tag without a hash, which is most of the times a walk asks (the slot
 * it asks of shares tag's home and low bits); others are hashed from what
 * was read, since two sets of values may share a tag.
 */
static int
id_has_tag(const struct lsh *l, unsigned j, uint32_t id, uint32_t tag, const uint32_t *vals)
{
	uint32_t	v[ROWS_CHUNK];
	unsigned	i;

	if (vals == NULL || l->rows > ROWS_CHUNK || (j == l->moving && move_kept(l, id)))
		return tag_of(l, j, id) == tag;
	l->rows_fn(l->rows_arg, id, j * l->rows, l->rows, v);
	for (i = 0; i < l->rows && (uint16_t)(v[i] ^ vals[i]) == 0; i++)
		;
	return i == l->rows || tag_from_hash(band_hash_chunk(v, l->rows, j)) == tag;
}

/* Band j's values in sig. */
static const uint32_t *
band_vals(const struct lsh *l, unsigned j, const uint32_t *sig)
{
	return sig + (size_t)j * l->rows;
}

static uint32_t
band_tag(const struct lsh *l, unsigned j, const uint32_t *sig)
{
	return band_tag_of(l, j, band_vals(l, j, sig));
}

/*
 * The home of tag in a table of cap slots: the tag's share of 2^24 scaled to
 * cap (Lemire's multiply-shift), so cap need not be a power of two.
 */
static uint32_t
home_of(uint32_t tag, uint32_t cap)
{
	return (uint32_t)(((uint64_t)tag * cap) >> 24);
}

static uint32_t
slot_next(const struct table *t, uint32_t i)
{
	return i + 1 == t->cap ? 0 : i + 1;
}

static uint32_t
slot_prev(const struct table *t, uint32_t i)
{
	return i == 0 ? t->cap - 1 : i - 1;
}

/* How far slot i of t is from home h, along a run that may wrap past the end. */
static uint32_t
dist_from(const struct table *t, uint32_t i, uint32_t h)
{
	return i >= h ? i - h : i + t->cap - h;
}

/* How far slot i of band j's table t is from the home of the tag it holds, asked for. */
static uint32_t
slot_dist_asked(const struct lsh *l, unsigned j, const struct table *t, uint32_t i)
{
	return dist_from(t, i, home_of(tag_of(l, j, slot_id(t->slot[i])), t->cap));
}

/*
 * A walk along a run from the home of tag, slot by slot, knowing of each
 * slot what Robin Hood order needs: its distance from its own home against
 * the walk's distance d from tag's home (a slot of a later home is nearer
 * its own, one of the same home as far), and whether it holds tag. Both
 * carry through a bucket's slots, so that the signature is asked for only
 * at a bucket's first slot: for its tag where its home and low bits agree
 * with tag's, for its distance where that is past DIST_SAT and d is too.
 */
struct walk {
	const struct lsh	*l;
	const struct table	*t;
	unsigned		 j;
	uint32_t		 tag, i, d;
	const uint32_t		*vals;		/* tag's values, or NULL (id_has_tag()) */
	uint32_t		 dist;		/* slot i's distance; DIST_SAT: that or more */
	uint32_t		 prev;		/* the slot before's exact distance, or DIST_UNKNOWN */
	int			 match;		/* slot i holds tag */
};

/* Read slot i (not empty) into dist and match. */
static void
walk_read(struct walk *w)
{
	slot_t		v = w->t->slot[w->i];
	uint32_t	kept = slot_kept_dist(v);
	int		exact = 1;

	if (kept < DIST_SAT)
		w->dist = kept;
	else if (slot_same(v) && w->prev != DIST_UNKNOWN)
		w->dist = w->prev + 1;
	else if (w->d < DIST_SAT) {
		w->dist = DIST_SAT;	/* beyond d whatever it is */
		exact = 0;
	} else
		w->dist = slot_dist_asked(w->l, w->j, w->t, w->i);
	if (w->dist != w->d)
		w->match = 0;
	else if (!slot_same(v))
		w->match = slot_taglo(v) == (w->tag & TAGLO_MASK) &&
		    id_has_tag(w->l, w->j, slot_id(v), w->tag, w->vals);
	/* else: the bucket of the slot before, whose match stands */
	w->prev = exact ? w->dist : DIST_UNKNOWN;
}

/* Start at tag's home; 0 if the run ends there (an empty slot). */
static int
walk_start(struct walk *w, const struct lsh *l, unsigned j, const struct table *t, uint32_t tag,
    const uint32_t *vals)
{
	*w = (struct walk){ .l = l, .t = t, .j = j, .tag = tag, .vals = vals,
	    .i = home_of(tag, t->cap), .prev = DIST_UNKNOWN };
	if (t->slot[w->i] == 0)
		return 0;
	walk_read(w);
	return 1;
}

/* On to the next slot; 0 at an empty one, or one of a later home than tag's. */
static int
walk_next(struct walk *w)
{
	w->i = slot_next(w->t, w->i);
	w->d++;
	if (w->t->slot[w->i] == 0)
		return 0;
	walk_read(w);
	return w->dist >= w->d;
}

/*
 * The ids filed under one tag in one table of band j, in insertion order: a
 * walk from the tag's home along the run to its bucket, which ends where a
 * slot holds another tag or the run ends or reaches a later home.
 */
struct tscan {
	struct walk	w;
	int		live, seen;	/* the walk is on a slot; the bucket was reached */
};

static void
tscan_start(struct tscan *s, const struct lsh *l, unsigned j, const struct table *t, uint32_t tag,
    const uint32_t *vals)
{
	s->live = walk_start(&s->w, l, j, t, tag, vals) && s->w.dist >= s->w.d;
	s->seen = 0;
}

/* The next id under the tag, and its slot; 0 at the end. */
static int
tscan_next(struct tscan *s, uint32_t *id, uint32_t *at)
{
	while (s->live) {
		struct walk	*w = &s->w;

		if (w->match) {
			s->seen = 1;
			*id = slot_id(w->t->slot[w->i]);
			*at = w->i;
			s->live = walk_next(w);
			return 1;
		}
		if (s->seen)
			break;
		s->live = walk_next(w);
	}
	s->live = 0;
	return 0;
}

/*
 * The full bucket at slots first..last drops its oldest id and takes id:
 * the others move back a slot, each slot keeping its own distance and
 * bucket bit, and id goes last. Nothing else in the run moves.
 */
static void
bucket_drop_oldest(struct table *t, uint32_t first, uint32_t last, uint32_t id)
{
	uint32_t	i, k;

	for (i = first; i != last; i = k) {
		k = slot_next(t, i);
		t->slot[i] = (t->slot[i] & ~ID_MASK) | slot_id(t->slot[k]);
	}
	t->slot[last] = (t->slot[last] & ~ID_MASK) | id;
}

/*
 * File (tag, id) last in its bucket, or, a new tag, after every entry of the
 * same home and before the entries of later homes, shifting those one slot
 * on: the run stays ordered by home (Robin Hood order), a bucket's ids lie
 * together in insertion order. A bucket of LSH_BUCKET_MAX ids drops its
 * oldest instead. Room is assured.
 */
static void
table_put(const struct lsh *l, unsigned j, struct table *t, uint32_t tag, const uint32_t *vals,
    uint32_t id)
{
	struct tscan	s;
	uint32_t	got, at, first = 0, last = 0, n = 0, e, p;

	/* past the bucket, the walk stands where (tag, id) goes */
	tscan_start(&s, l, j, t, tag, vals);
	while (tscan_next(&s, &got, &at)) {
		first = n++ == 0 ? at : first;
		last = at;
	}
	if (n >= LSH_BUCKET_MAX) {
		bucket_drop_oldest(t, first, last, id);
		return;
	}
	for (e = s.w.i; t->slot[e] != 0; e = slot_next(t, e))
		;
	while (e != s.w.i) {
		p = slot_prev(t, e);
		t->slot[e] = slot_at_dist(t->slot[p], slot_kept_dist(t->slot[p]) + 1);
		e = p;
	}
	t->slot[s.w.i] = slot_make(tag, id, s.w.d, s.seen);
	t->used++;
}

/*
 * Remove the last occurrence of id under tag; 1 if it was there. An id's
 * tag in a band is its signature's, so a slot of the run from tag's home
 * that holds id and tag's low bits holds it under tag: found without
 * asking for any bucket's tag (a walk to the bucket asked for at least
 * its own, a signature read and a hash, at each of the bands).
 */
static int
table_remove(const struct lsh *l, unsigned j, struct table *t, uint32_t tag, uint32_t id)
{
	uint32_t	home = home_of(tag, t->cap), hole = UINT32_MAX, dist, k;
	int		head;

	for (k = home; t->slot[k] != 0; k = slot_next(t, k))
		if (slot_id(t->slot[k]) == id && slot_taglo(t->slot[k]) == (tag & TAGLO_MASK))
			hole = k;
	if (hole == UINT32_MAX)
		return 0;
	dist = dist_from(t, hole, home);
	/* shift the rest of the run back while its entries are away from home */
	head = !slot_same(t->slot[hole]);
	for (k = slot_next(t, hole); t->slot[k] != 0; k = slot_next(t, k)) {
		slot_t		v = t->slot[k];
		uint32_t	kept = slot_kept_dist(v);

		dist = kept < DIST_SAT ? kept : slot_same(v) ? dist + 1 : slot_dist_asked(l, j, t, k);
		if (dist == 0)
			break;
		v = slot_at_dist(v, dist - 1);
		if (head)	/* the bucket's next slot leads it now */
			v &= ~SAME_BIT;
		head = 0;
		t->slot[hole] = v;
		hole = k;
	}
	t->slot[hole] = 0;
	t->used--;
	return 1;
}

/* Room for n entries at most 4/5 full, so that every run ends at an empty slot. */
static int
band_fits(uint32_t cap, uint64_t n)
{
	return n * 5 <= (uint64_t)cap * 4;
}

/*
 * The size a table of cap slots reaches growing by quarters until n entries
 * fit; 0 if that passes 2^32.
 */
static uint32_t
band_cap_for(uint32_t cap, uint64_t n)
{
	while (!band_fits(cap, n)) {
		if (cap > UINT32_MAX / 5 * 4)
			return 0;
		cap += cap / 4;
	}
	return cap;
}

/* Room for n entries at most 9/10 full: past 4/5 only while another band's table moves. */
static int
band_fits_full(uint32_t cap, uint64_t n)
{
	return n * 10 <= (uint64_t)cap * 9;
}

/*
 * A table changes size a few slots at a time. Refiling every id at once
 * stalled the add that crossed the line: at ~200,000 held, one cluster_add()
 * took 190-280 ms (42 tables of ~1.6 MB, all full at the same add), and that
 * stall was the daemon's p99 latency. Instead one band at a time moves (so
 * the index holds at most one table twice): its new table takes new ids at
 * once, and every insert or removal in the index passes MOVE_STEP slots of
 * the old table per band, moving the runs that start there in slot order,
 * so each tag's ids stay in insertion order; the move ends when the old
 * table is empty. Before a tag is filed, the old table's run through its
 * home moves first (move_tag()), so a tag's ids are never split between the
 * tables, and a lookup reads the old table, then the new.
 *
 * All bands fill alike and so would reach 4/5 at the same insert. A band
 * past 4/5 - 1/MOVE_STEP starts its move early when no other band moves, so
 * the bands take turns before 4/5: each insert passes MOVE_STEP slots a band
 * (MOVE_STEP * bands in all), so all the moves take cap / MOVE_STEP inserts,
 * the 1/MOVE_STEP of a table left before 4/5. A band that reaches 4/5 waits
 * its turn filling on; should one reach 9/10, or lsh_reserve() be called,
 * the move under way finishes at once. Tables of at most MOVE_AT_ONCE slots
 * move in one go, at 4/5, and all bands in the same insert: at 4,096 that
 * held one add 5.5 ms at 3,156 held (42 tables refiled), at 256 none of the
 * first 30,000 adds took over 0.5 ms (bench/index -n 30000 -R 0). Measured
 * with bench/index -n 200000 (add/ref at 100,000 and 200,000 held, two runs
 * each): refiling at once 1.41-1.53; moving 20 slots a band from 4/5, the
 * others waiting up to 4/5 + 1/20, 1.61-1.77 (longer probes); 20 from 3/4,
 * 1.44-1.49 (but tables a quarter larger 5% of the time: 488 bytes an
 * article of LSH at a million against 438, 8-byte slots then); 40 from
 * 31/40, 1.38-1.50. 400 slots a band was as cheap but made each insert
 * during a move ~0.5 ms dearer, which at half the loop's capacity built a
 * queue (p99 40-71 ms).
 */
#define MOVE_AT_ONCE	256u
#define MOVE_STEP	40u

#define MOVE_AHEAD	8u	/* slots whose signatures a move asks for early */
#define KEEP_PER_STEP	4u	/* ids move_keep() passes for one slot of a move's budget */

/* Drop the kept tags: the move is over, or its tags come from the signatures. */
static void
move_keep_end(struct lsh *l)
{
	free(l->kept);
	l->kept = NULL;
	l->kept_n = l->kept_end = 0;
}

/*
 * A move first takes the moving band's tag of every id below id_end, in id
 * order, into kept: the signatures read one after the other, which the
 * hardware fetches ahead, where refiling bucket by bucket read them at
 * random, a cache miss each that MOVE_AHEAD could only overlap so far, and
 * so did the puts into the new table, comparing the tags of the buckets
 * they passed. The pass spends the move's budget at KEEP_PER_STEP ids a
 * slot; then every tag of the moving band is read from kept (tag_of()),
 * in either table, and an id filed again meanwhile writes its new tag
 * there (band_insert()); a removed id's is never read, since no slot holds
 * it. Only while the ids are dense enough (id_end at most twice the band's
 * count, and some slack): otherwise, or without memory for kept, the tags
 * come from the signatures. bench/index -n 150000 -R 0, alternating:
 * cluster_add 46.9 and 50.0 us against 54.0 and 54.7, the same verdicts.
 */
static void
move_keep_start(struct lsh *l, uint32_t used)
{
	move_keep_end(l);
	if ((uint64_t)l->id_end <= 2 * (uint64_t)used + 4096 &&
	    (l->kept = malloc((size_t)l->id_end * sizeof(*l->kept))) != NULL)
		l->kept_end = l->id_end;
}

/* Take the moving band's tags of up to m more ids into kept. */
static void
move_keep(struct lsh *l, uint64_t m)
{
	uint32_t	end = l->kept_end - l->kept_n > m ? l->kept_n + (uint32_t)m : l->kept_end;

	for (uint32_t id = l->kept_n; id < end; id++)
		l->kept[id] = id_tag(l, l->moving, id);
	l->kept_n = end;
}

/*
 * Move the run that starts at slot i of band j's old table (the slot before
 * is empty). Each bucket's new home needs its whole tag, from the first id's
 * signature: a cache miss, so the signatures MOVE_AHEAD slots on are asked
 * for early and the misses overlap.
 */
static uint32_t
move_run(const struct lsh *l, unsigned j, uint32_t i)
{
	struct band	*bd = &l->band[j];
	struct table	*o = &bd->old;
	uint32_t	 n = 0, tag = 0;

	for (; o->slot[i] != 0; i = slot_next(o, i), n++) {
		uint32_t	ahead = i + MOVE_AHEAD;
		slot_t		v = o->slot[ahead < o->cap ? ahead : ahead - o->cap];

		if (v != 0 && !slot_same(v)) {
			if (move_kept(l, slot_id(v)))
				PREFETCH(&l->kept[slot_id(v)]);
			else
				l->rows_fn(l->rows_arg, slot_id(v), j * l->rows, l->rows, NULL);
		}
		v = o->slot[i];
		if (!slot_same(v))	/* a run starts a bucket */
			tag = tag_of(l, j, slot_id(v));
		table_put(l, j, &bd->cur, tag, NULL, slot_id(v));
		o->slot[i] = 0;
		o->used--;
	}
	return n;
}

/* Pass up to n slots of the moving table; free it once it is empty. */
static void
move_steps(struct lsh *l, uint64_t n)
{
	struct band	*bd;
	struct table	*o;

	if (l->moving == NOT_MOVING)
		return;
	bd = &l->band[l->moving];
	o = &bd->old;
	if (l->kept != NULL && l->kept_n < l->kept_end && n != UINT64_MAX) {
		move_keep(l, n * KEEP_PER_STEP);
		return;
	}
	while (o->used > 0 && n > 0) {
		uint32_t	moved = move_run(l, l->moving, bd->cursor);

		if (moved == 0)
			moved = 1;
		bd->cursor = (uint32_t)(((uint64_t)bd->cursor + moved) % o->cap);
		n = n > moved ? n - moved : 0;
	}
	if (o->used == 0) {
		pages_free(o->slot, (size_t)o->cap * sizeof(*o->slot));
		*o = (struct table){ 0 };
		l->moving = NOT_MOVING;
		move_keep_end(l);
	}
}

/* Before tag is filed in moving band j: move the old table's run through its home. */
static void
move_tag(const struct lsh *l, unsigned j, uint32_t tag)
{
	struct table	*o = &l->band[j].old;
	uint32_t	 i = home_of(tag, o->cap);

	if (o->slot[i] == 0)
		return;
	while (o->slot[slot_prev(o, i)] != 0)
		i = slot_prev(o, i);
	move_run(l, j, i);
}

/*
 * Give band j a new table of cap slots, its ids moving in steps (or at once,
 * when small); no move may be under way. -ENOMEM leaves the band as it was.
 */
static int
move_start(struct lsh *l, unsigned j, uint32_t cap)
{
	struct band	*bd = &l->band[j];
	struct table	 t = { .cap = cap };

	assert(l->moving == NOT_MOVING);
	if ((t.slot = pages_alloc((size_t)cap * sizeof(*t.slot))) == NULL)
		return -ENOMEM;
	bd->old = bd->cur;
	bd->cur = t;
	if (bd->old.slot == NULL)
		return 0;
	/* start at an empty slot, so that no run is cut in two */
	for (bd->cursor = 0; bd->old.slot[bd->cursor] != 0; bd->cursor++)
		;
	l->moving = j;
	if (bd->old.cap <= MOVE_AT_ONCE)
		move_steps(l, UINT64_MAX);
	else
		move_keep_start(l, bd->old.used);
	return 0;
}

static int
band_insert(struct lsh *l, unsigned j, uint32_t tag, const uint32_t *vals, uint32_t id)
{
	struct band	*bd = &l->band[j];
	uint64_t	 n = (uint64_t)bd->cur.used + bd->old.used + 1;
	uint32_t	 cap;
	int		 r;

	if (!band_fits(bd->cur.cap, n) &&
	    (l->moving == NOT_MOVING || !band_fits_full(bd->cur.cap, n))) {
		move_steps(l, UINT64_MAX);
		if ((cap = band_cap_for(bd->cur.cap, n)) == 0)
			return -ENOMEM;
		if ((r = move_start(l, j, cap)) < 0)
			return r;
	} else if (l->moving == NOT_MOVING && bd->cur.cap > MOVE_AT_ONCE &&
	    n * 5 * MOVE_STEP > (uint64_t)bd->cur.cap * (4 * MOVE_STEP - 5) &&
	    bd->cur.cap <= UINT32_MAX / 5 * 4) {
		/* past 4/5 - 1/MOVE_STEP with no band moving: grow now, taking turns before 4/5 */
		if ((r = move_start(l, j, bd->cur.cap + bd->cur.cap / 4)) < 0)
			return r;
	}
	if (l->moving == j) {
		move_tag(l, j, tag);
		if (move_kept(l, id))	/* an id filed again keeps its new tag */
			l->kept[id] = tag;
	}
	table_put(l, j, &bd->cur, tag, vals, id);
	return 0;
}

/* Remove the last occurrence of id under tag from band j; 1 if it was there. */
static int
band_remove(struct lsh *l, unsigned j, uint32_t tag, uint32_t id)
{
	struct band	*bd = &l->band[j];
	int		 found;

	found = (l->moving == j && table_remove(l, j, &bd->old, tag, id)) ||
	    table_remove(l, j, &bd->cur, tag, id);
	/*
	 * Shrink below 2/5 full to 3/4 the size, when no table moves and the
	 * smaller table still has the room kept; failing is harmless.
	 */
	if (found && l->moving == NOT_MOVING && bd->cur.cap > BAND_MINCAP &&
	    (uint64_t)bd->cur.used * 5 < (uint64_t)bd->cur.cap * 2) {
		uint32_t	cap = bd->cur.cap / 4 * 3 > BAND_MINCAP ? bd->cur.cap / 4 * 3 : BAND_MINCAP;

		if (band_fits(cap, l->room))
			(void)move_start(l, j, cap);
	}
	return found;
}

/*
 * The ids of a band under one tag, in insertion order: those in the old
 * table while a move is under way, then those in the current one (only one
 * of the two holds any).
 */
struct bscan {
	const struct band	*bd;
	struct tscan		 ts;
};

static void
bscan_start(struct bscan *s, const struct lsh *l, unsigned j, uint32_t tag, const uint32_t *vals)
{
	s->bd = &l->band[j];
	tscan_start(&s->ts, l, j, s->bd->old.slot != NULL ? &s->bd->old : &s->bd->cur, tag, vals);
}

/* The next id under the tag; 0 at the end. */
static int
bscan_next(struct bscan *s, uint32_t *id)
{
	uint32_t	at;

	if (tscan_next(&s->ts, id, &at))
		return 1;
	if (s->ts.w.t != &s->bd->old)
		return 0;
	tscan_start(&s->ts, s->ts.w.l, s->ts.w.j, &s->bd->cur, s->ts.w.tag, s->ts.w.vals);
	return tscan_next(&s->ts, id, &at);
}

struct lsh *
lsh_new(unsigned bands, unsigned rows, lsh_rows_fn *fn, void *arg)
{
	struct lsh	*l;

	assert(bands >= 1 && rows >= 1 && fn != NULL);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->bands = bands;
	l->rows = rows;
	l->rows_fn = fn;
	l->rows_arg = arg;
	l->moving = NOT_MOVING;
	if ((l->band = calloc(bands, sizeof(*l->band))) == NULL)
		goto fail;
	for (unsigned j = 0; j < bands; j++) {
		if (move_start(l, j, BAND_MINCAP) < 0)
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
	for (unsigned j = 0; l->band != NULL && j < l->bands; j++) {
		struct band	*bd = &l->band[j];

		pages_free(bd->cur.slot, (size_t)bd->cur.cap * sizeof(*bd->cur.slot));
		pages_free(bd->old.slot, (size_t)bd->old.cap * sizeof(*bd->old.slot));
	}
	free(l->band);
	free(l->kept);
	free(l);
}

int
lsh_reserve(struct lsh *l, size_t n)
{
	uint32_t	cap;
	int		r;

	if (n > UINT32_MAX)
		return -ENOMEM;
	move_steps(l, UINT64_MAX);
	for (unsigned j = 0; j < l->bands; j++) {
		if ((cap = band_cap_for(l->band[j].cur.cap, n)) == 0)
			return -ENOMEM;
		if (cap != l->band[j].cur.cap) {
			if ((r = move_start(l, j, cap)) < 0)
				return r;
			move_steps(l, UINT64_MAX);
		}
	}
	return 0;
}

int
lsh_keep_room(struct lsh *l, size_t n)
{
	int	r;

	l->room = 0;
	if ((r = lsh_reserve(l, n)) == 0)
		l->room = n;
	return r;
}

/*
 * The tags of bands from..from+n-1 of sig, their home slots prefetched. A
 * band's home slot is a cache miss (and, in tables of megabytes, a TLB miss)
 * nearly every time; asking for all of an item's homes before walking any
 * lets the misses overlap instead of queueing one behind the other.
 */
static void
tags_fetch(const struct lsh *l, const uint32_t *sig, unsigned from, unsigned n, uint32_t *tag)
{
	for (unsigned i = 0; i < n; i++) {
		const struct band	*bd = &l->band[from + i];
		const struct table	*t = bd->old.slot != NULL ? &bd->old : &bd->cur;

		tag[i] = band_tag(l, from + i, sig);
		PREFETCH(&t->slot[home_of(tag[i], t->cap)]);
	}
}

/*
 * Band j's tag of sig, for a pass over the bands in order: at each
 * TAG_BATCH-th band, the tags of the batch it starts are fetched into tag.
 * Inline, as the test was in each loop: a call a band cost every query and
 * insert ~700 instructions (bench/index under callgrind).
 */
static inline uint32_t
tag_in_turn(const struct lsh *l, const uint32_t *sig, unsigned j, uint32_t *tag)
{
	if (j % TAG_BATCH == 0)
		tags_fetch(l, sig, j, l->bands - j < TAG_BATCH ? l->bands - j : TAG_BATCH, tag);
	return tag[j % TAG_BATCH];
}

void
lsh_prefetch(const struct lsh *l, const uint32_t *sig)
{
	uint32_t	tag[TAG_BATCH];

	for (unsigned j = 0; j < l->bands; j += TAG_BATCH)
		(void)tag_in_turn(l, sig, j, tag);
}

int
lsh_insert(struct lsh *l, uint32_t id, const uint32_t *sig)
{
	uint32_t	tag[TAG_BATCH];
	unsigned	j;
	int		r = 0;

	assert(id < LSH_ID_LIMIT);
	if (id >= l->id_end)
		l->id_end = id + 1;
	move_steps(l, (uint64_t)MOVE_STEP * l->bands);
	for (j = 0; j < l->bands; j++)
		if ((r = band_insert(l, j, tag_in_turn(l, sig, j, tag), band_vals(l, j, sig), id)) < 0)
			break;
	if (r < 0) {
		/* Undo the bands done: id was appended last, so order is kept. */
		while (j-- > 0)
			band_remove(l, j, band_tag(l, j, sig), id);
		return r;
	}
	l->count++;
	return 0;
}

/* An entry for table_fill(). */
struct fill {
	uint32_t	tag, id;
};

/*
 * Fill band j's empty table t with the n entries e (in insertion order) at
 * once: a stable counting sort by home, each home's entries gathered by tag
 * in the order the tags first come, then each entry in the first free slot
 * from its home on. That is the layout inserting them one by one gives
 * (runs ordered by home, a bucket's ids together in insertion order),
 * without shifting runs at every insert, which at 4/5 full costs a dozen
 * moves each. Entries pushed past the end are filed last by table_put(),
 * which wraps their run around to the start. count: cap zeroed counters;
 * sorted and out: n entries each.
 */
static void
table_fill(const struct lsh *l, unsigned j, struct table *t, const struct fill *e, uint32_t n,
    uint32_t *count, struct fill *sorted, struct fill *out)
{
	uint32_t	i, k, sum = 0, at = 0, over = 0, m = 0;

	for (i = 0; i < n; i++)
		count[home_of(e[i].tag, t->cap)]++;
	for (i = 0; i < t->cap; i++) {
		uint32_t	c = count[i];

		count[i] = sum;
		sum += c;
	}
	for (i = 0; i < n; i++)
		sorted[count[home_of(e[i].tag, t->cap)]++] = e[i];
	/* a home's buckets, each its newest LSH_BUCKET_MAX (tags are never 0: 0 marks one taken) */
	for (i = 0; i < n; i++) {
		uint32_t	tag = sorted[i].tag, home = home_of(tag, t->cap), from = m;

		if (tag == 0)
			continue;
		for (k = i; k < n && home_of(sorted[k].tag ? sorted[k].tag : tag, t->cap) == home; k++)
			if (sorted[k].tag == tag) {
				out[m++] = sorted[k];
				sorted[k].tag = 0;
			}
		if (m - from > LSH_BUCKET_MAX) {
			memmove(out + from, out + m - LSH_BUCKET_MAX, LSH_BUCKET_MAX * sizeof(*out));
			m = from + LSH_BUCKET_MAX;
		}
	}
	for (i = 0; i < m; i++) {
		uint32_t	home = home_of(out[i].tag, t->cap);
		int		same = i > 0 && out[i - 1].tag == out[i].tag;

		if (at < home)
			at = home;
		if (at == t->cap) {
			out[over++] = out[i];	/* over <= i: already placed or moved */
			continue;
		}
		t->slot[at] = slot_make(out[i].tag, out[i].id, at - home, same);
		at++;
	}
	t->used = m - over;
	for (i = 0; i < over; i++)
		table_put(l, j, t, out[i].tag, NULL, out[i].id);
}

/*
 * The tags of bands j..j+g-1 of id from one read of its signature: g
 * bands' values lie together in it. g is 1 for bands longer than
 * ROWS_CHUNK, whose tags chain chunks (id_tag()).
 */
static void
id_tags(const struct lsh *l, unsigned j, unsigned g, uint32_t id, uint32_t *tag)
{
	uint32_t	v[FILL_BANDS * ROWS_CHUNK];

	if (l->rows > ROWS_CHUNK) {
		tag[0] = id_tag(l, j, id);
		return;
	}
	l->rows_fn(l->rows_arg, id, j * l->rows, g * l->rows, v);
	for (unsigned b = 0; b < g; b++)
		tag[b] = band_tag_of(l, j + b, v + (size_t)b * l->rows);
}

/*
 * FILL_BANDS bands at a time, each table filled at once (table_fill()):
 * inserting item by item into tables of ~8 MB, 42 of them at a million
 * items, missed the cache at nearly every insert and shifted a run at each;
 * reading each item's signature once for a band at a time went through all
 * the signatures (128 MB at a million) 42 times, where 4 bands a read take
 * 11.
 */
int
lsh_fill(struct lsh *l, const uint32_t *ids, size_t n)
{
	struct fill	*e = NULL, *sorted = NULL, *out = NULL;
	uint32_t	*count = NULL, cap = 0, tag[FILL_BANDS];
	unsigned	 g;
	int		 r;

	assert(l->count == 0);
	if (n > UINT32_MAX)
		return -ENOMEM;
	if ((r = lsh_reserve(l, n)) < 0)
		return r;
	/* lsh_reserve() has finished every move and made room for n at most 4/5 full */
	for (unsigned j = 0; j < l->bands; j++)
		cap = l->band[j].cur.cap > cap ? l->band[j].cur.cap : cap;
	if ((e = malloc(FILL_BANDS * (n + 1) * sizeof(*e))) == NULL ||
	    (sorted = malloc((n + 1) * sizeof(*sorted))) == NULL ||
	    (out = malloc((n + 1) * sizeof(*out))) == NULL ||
	    (count = malloc((size_t)cap * sizeof(*count))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned j = 0; j < l->bands; j += g) {
		g = l->rows > ROWS_CHUNK ? 1 : l->bands - j < FILL_BANDS ? l->bands - j : FILL_BANDS;
		for (size_t i = 0; i < n; i++) {
			assert(ids[i] < LSH_ID_LIMIT);
			if (ids[i] >= l->id_end)
				l->id_end = ids[i] + 1;
			id_tags(l, j, g, ids[i], tag);
			for (unsigned b = 0; b < g; b++)
				e[b * (n + 1) + i] = (struct fill){ tag[b], ids[i] };
		}
		for (unsigned b = 0; b < g; b++) {
			struct table	*t = &l->band[j + b].cur;

			memset(count, 0, (size_t)t->cap * sizeof(*count));
			table_fill(l, j + b, t, e + b * (n + 1), (uint32_t)n, count, sorted, out);
		}
	}
	l->count = n;
out:
	free(e);
	free(sorted);
	free(out);
	free(count);
	return r;
}

void
lsh_remove(struct lsh *l, uint32_t id, const uint32_t *sig)
{
	uint32_t	tag[TAG_BATCH];

	move_steps(l, (uint64_t)MOVE_STEP * l->bands);
	for (unsigned j = 0; j < l->bands; j++)
		band_remove(l, j, tag_in_turn(l, sig, j, tag), id);
	assert(l->count > 0);
	l->count--;
}

/*
 * The set of ids already reported by one query: open addressing over a
 * power-of-two array, with a bitmap for occupancy since every uint32 is a
 * valid id. It starts on the caller's stack and moves to the heap, twice
 * the size each time, when half full.
 */
struct idset {
	uint32_t	*key;
	uint64_t	*used;
	uint32_t	 mask, n;
	int		 heap;
};

static uint32_t
idset_home(const struct idset *set, uint32_t id)
{
	return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & set->mask;
}

static int
idset_used(const struct idset *set, uint32_t i)
{
	return (set->used[i / 64] & (1ull << (i % 64))) != 0;
}

/* id into the empty slot i. */
static void
idset_fill(struct idset *set, uint32_t i, uint32_t id)
{
	set->used[i / 64] |= 1ull << (i % 64);
	set->key[i] = id;
	set->n++;
}

/* id, known not to be held, into the first empty slot from its home. */
static void
idset_put(struct idset *set, uint32_t id)
{
	uint32_t	i = idset_home(set, id);

	while (idset_used(set, i))
		i = (i + 1) & set->mask;
	idset_fill(set, i, id);
}

static void
idset_free(struct idset *set)
{
	if (set->heap) {
		free(set->key);
		free(set->used);
	}
	set->key = NULL;
}

/* Twice the room, the ids put again; -ENOMEM leaves the set as it was. */
static int
idset_grow(struct idset *set)
{
	struct idset	 old = *set;
	size_t		 cap = ((size_t)set->mask + 1) * 2;

	if (cap > (size_t)UINT32_MAX + 1)
		return -ENOMEM;
	set->key = malloc(cap * sizeof(*set->key));
	set->used = calloc(cap / 64, sizeof(*set->used));
	if (set->key == NULL || set->used == NULL) {
		free(set->key);
		free(set->used);
		*set = old;
		return -ENOMEM;
	}
	set->mask = (uint32_t)(cap - 1);
	set->n = 0;
	set->heap = 1;
	for (uint32_t i = 0; i <= old.mask; i++)
		if (idset_used(&old, i))
			idset_put(set, old.key[i]);
	idset_free(&old);
	return 0;
}

/* 1 if id was new, 0 if the set held it; -ENOMEM if it had no room for it. */
static int
idset_add(struct idset *set, uint32_t id)
{
	uint32_t	i = idset_home(set, id);

	while (idset_used(set, i)) {
		if (set->key[i] == id)
			return 0;
		i = (i + 1) & set->mask;
	}
	if (set->n + 1 <= (set->mask + 1) / 2)
		idset_fill(set, i, id);
	else if (idset_grow(set) == 0)
		idset_put(set, id);
	else
		return -ENOMEM;
	return 1;
}

/* 1 if id sits in an earlier band's bucket or among the first nth ids of this one. */
static int
seen_before(const struct lsh *l, const uint32_t *sig, unsigned band, size_t nth, uint32_t id)
{
	struct bscan	s;
	uint32_t	got;

	bscan_start(&s, l, band, band_tag(l, band, sig), band_vals(l, band, sig));
	for (size_t k = 0; k < nth && bscan_next(&s, &got); k++)
		if (got == id)
			return 1;
	for (unsigned j = 0; j < band; j++) {
		bscan_start(&s, l, j, band_tag(l, j, sig), band_vals(l, j, sig));
		while (bscan_next(&s, &got))
			if (got == id)
				return 1;
	}
	return 0;
}

#define QUERY_STACK_SET	1024	/* slots on the stack: up to 512 candidates */

/*
 * One walk a band, the set growing as it must: a walk asks for a held
 * signature's tag at least once, and a first pass that counted the
 * candidates to size the set cost as much as the pass that reports them.
 */
size_t
lsh_query(const struct lsh *l, const uint32_t *sig, uint32_t *out, size_t max)
{
	uint32_t	 stack_key[QUERY_STACK_SET];
	uint64_t	 stack_used[QUERY_STACK_SET / 64] = { 0 };
	uint32_t	 tag[TAG_BATCH], id;
	struct idset	 set = { stack_key, stack_used, QUERY_STACK_SET - 1, 0, 0 };
	struct bscan	 s;
	size_t		 found = 0;
	int		 fresh;

	for (unsigned j = 0; j < l->bands; j++) {
		bscan_start(&s, l, j, tag_in_turn(l, sig, j, tag), band_vals(l, j, sig));
		for (size_t nth = 0; bscan_next(&s, &id); nth++) {
			/* out of memory: dedupe by walking the buckets again */
			if (set.key == NULL || (fresh = idset_add(&set, id)) < 0) {
				idset_free(&set);
				fresh = !seen_before(l, sig, j, nth, id);
			}
			if (!fresh)
				continue;
			if (found < max)
				out[found] = id;
			found++;
		}
	}
	idset_free(&set);
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
		m += ((size_t)l->band[j].cur.cap + l->band[j].old.cap) * sizeof(slot_t);
	return m + (size_t)l->kept_end * sizeof(*l->kept);
}
