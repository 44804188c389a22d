/*
 * cluster-dump: snapshots of a clusterer (cluster_dump(), cluster_load()) and
 * its consistency check (cluster_check()); the contract is in cluster.h.
 *
 * The format, version 5. Integers are little-endian, floats their IEEE bits.
 *
 *	"SDCLUST1"  u32 version
 *	then chunks: u32 length (1 .. CHUNK), that many bytes; a length of 0 ends.
 *
 * The chunks' bytes, concatenated, are the stream below; records straddle
 * chunks freely. Chunking lets cluster_load() read whole chunks although the
 * read callback only reads exact lengths.
 *
 *	params	 u32 k, bands, rows, shingle, doc_terms, simhash_k, max_matches,
 *		 f64 dup_threshold, story_threshold, i64 window,
 *		 f64 dup_containment, u32 decay_hours
 *	counters u64 seq, horizon, arrivals; u32 laststory;
 *		 u32 narticles, idlimit; u64 nterms; u32 nstories; u64 npostings
 *	"TERM"	 nterms x { u64 hash, u32 len, len bytes of display word }, by hash;
 *		 a term's rank in this list names it below
 *	"STRY"	 nstories x { u32 id, u64 seq, i64 first, i64 last, u8 removed,
 *		 live only: u32 representative, u16 ncent,
 *		 ncent x { u32 rank, u32 w (in 1/4096), u8 posted } by rank,
 *		 f64 norm parts a, b, c, u64 arrivals when computed }, in feed order
 *	"ARTS"	 for each id below idlimit (1 + the largest held): u8 held, and
 *		 if held: { u64 arrival, u64 exact, u64 simhash, u64 source,
 *		 i64 published, u32 story, u32 group root, u32 shingles, u16 nterms,
 *		 nterms x { u32 rank, u16 w (in 1/4096) } by rank, u8 nosig (no shingles),
 *		 k x u8 sig (minhash_keep(): cluster.c keeps no more) }
 *	"POST"	 npostings x { u32 n, u64 hash, n x u32 story id, in posting order }, by hash
 *	"END."
 *
 * Version 4 named terms in stories and articles by their u64 hash, which
 * the load looked up in the term map (40 lookups an article): 4 bytes more
 * a term, about 23% of a snapshot. Version 3 also kept 16 bits a signature
 * value. Both still load.
 *
 * What is written and what is rebuilt. Everything that history shaped is
 * written as it is: display words, centroids (weight sums, which after a trim
 * are less than what the members give, posted flags, and the norm parts
 * cluster.c lets go stale between recomputations, with when they were
 * computed), representatives, first and last publication times, the feed's
 * order and sequence numbers, posting lists in their order (removal swaps the
 * last entry into the hole, so it is not arrival order), arrival numbers, and
 * each article's group root.
 *
 * Everything else is rebuilt by replaying the held articles in arrival order,
 * and comes out identical because of how cluster.c keeps it:
 *  - the exact-hash, group and story member lists: each is circular and in
 *    arrival order (a newcomer goes to the tail, a removal unlinks, the head is
 *    the oldest held), so appending in arrival order remakes each list and its
 *    head: the exact-hash index's oldest article, the group root, the story's head;
 *  - LSH buckets: lsh_query() reports by band, then insertion order within a
 *    bucket, and removal keeps that order; insertion order is arrival order
 *    (an lsh_insert() undone by a failed add is removed again, last in), so
 *    inserting in arrival order remakes every bucket, and CAND_MAX cuts the
 *    same candidates (at any table size: a bucket is its ids in insertion
 *    order wherever its slots lie; lsh_fill() sizes the tables up front and
 *    fills them band by band, each in arrival order);
 *  - the SimHash index: simindex_query() orders by distance, then id, so it
 *    does not depend on insertion order at all;
 *  - document frequencies (and their logarithms), story sizes, duplicate groups per story, source
 *    counts and the article count are counts over held articles;
 *  - the tombstone list is the removed stories in feed order: a story is
 *    touched right after it is buried and never again;
 *  - group slots and term ids are renumbered: neither is ever observable.
 * Hash map layouts are not kept: nothing iterates a map in an order that can
 * be observed (only to clear query stamps, and to free). The query stamps
 * restart at zero, which is equivalent.
 *
 * cluster_load() checks as it goes, so that whatever the bytes, the result is
 * either an error or a clusterer that passes cluster_check(): counts are
 * never trusted for allocation (arrays grow as records arrive, and each record
 * is at least one byte, so a lying count ends in a short read; the byte per
 * id not held is there so that the arrays indexed by id, about 600 bytes per
 * id, grow only with the input too), every id must
 * name something already read, sorted lists must be strictly sorted, a
 * centroid's weights must not exceed what its story's members give, and
 * every loop reads at least one byte per turn or walks a list it built.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-internal.h"
#include "le.h"
#include "lsh.h"
#include "simhash.h"

#define MAGIC		"SDCLUST1"
#define VERSION		5u
#define VERSION_HASHES	4u	/* the last naming terms by hash */
#define VERSION_SIG16	3u	/* the last with 16 bits a signature value */
#define CHUNK		65536u	/* stream bytes per chunk, the most a reader buffers */

#define TAG(a, b, c, d)	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_TERM	TAG('T', 'E', 'R', 'M')
#define TAG_STRY	TAG('S', 'T', 'R', 'Y')
#define TAG_ARTS	TAG('A', 'R', 'T', 'S')
#define TAG_POST	TAG('P', 'O', 'S', 'T')
#define TAG_END		TAG('E', 'N', 'D', '.')

static uint64_t
f64_bits(double d)
{
	uint64_t	u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
f64_from(uint64_t u)
{
	double	d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* ---- writing: a chunk buffer; the first error sticks and stops output ---- */

struct writer {
	cluster_write_fn	*w_fn;
	void			*w_arg;
	uint8_t			*w_buf;		/* 4-byte length, then up to CHUNK bytes */
	size_t			 w_n;
	int			 w_err;
};

static void
w_flush(struct writer *w)
{
	int	r;

	if (w->w_n == 0 || w->w_err)
		return;
	le32_put(w->w_buf, (uint32_t)w->w_n);
	if ((r = w->w_fn(w->w_buf, 4 + w->w_n, w->w_arg)) < 0)
		w->w_err = r;
	w->w_n = 0;
}

static void
w_bytes(struct writer *w, const void *p, size_t len)
{
	const uint8_t	*s = p;

	while (len > 0 && !w->w_err) {
		size_t	n = CHUNK - w->w_n < len ? CHUNK - w->w_n : len;

		memcpy(w->w_buf + 4 + w->w_n, s, n);
		w->w_n += n;
		s += n;
		len -= n;
		if (w->w_n == CHUNK)
			w_flush(w);
	}
}

/* Encode v in n bytes, in place when the chunk has room (the common case). */
static void
w_le(struct writer *w, uint64_t v, size_t n)
{
	uint8_t	b[8], *d = CHUNK - w->w_n > n ? w->w_buf + 4 + w->w_n : b;
	size_t	i;

	for (i = 0; i < n; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	if (d == b)
		w_bytes(w, b, n);
	else
		w->w_n += n;
}

static void
w_u64(struct writer *w, uint64_t v)
{
	w_le(w, v, 8);
}

static void
w_u32(struct writer *w, uint32_t v)
{
	w_le(w, v, 4);
}

static void
w_u16(struct writer *w, uint16_t v)
{
	w_le(w, v, 2);
}

static void
w_u8(struct writer *w, uint8_t v)
{
	w_le(w, v, 1);
}

/* ---- reading: one chunk at a time; the first error sticks, reads then give 0 ---- */

struct reader {
	cluster_read_fn	*r_fn;
	void		*r_arg;
	uint8_t		*r_buf;		/* CHUNK bytes */
	size_t		 r_pos, r_len;
	int		 r_err;
};

static int
r_chunk(struct reader *r)
{
	uint8_t		b[4];
	uint32_t	len;
	int		e;

	if ((e = r->r_fn(b, 4, r->r_arg)) < 0)
		return r->r_err = e;
	if ((len = le32_get(b)) == 0 || len > CHUNK)	/* the stream ended early */
		return r->r_err = -EINVAL;
	if ((e = r->r_fn(r->r_buf, len, r->r_arg)) < 0)
		return r->r_err = e;
	r->r_pos = 0;
	r->r_len = len;
	return 0;
}

static void
r_bytes(struct reader *r, void *p, size_t len)
{
	uint8_t	*d = p;

	while (len > 0) {
		size_t	n;

		if (r->r_err || (r->r_pos == r->r_len && r_chunk(r) < 0)) {
			memset(d, 0, len);
			return;
		}
		n = r->r_len - r->r_pos < len ? r->r_len - r->r_pos : len;
		memcpy(d, r->r_buf + r->r_pos, n);
		r->r_pos += n;
		d += n;
		len -= n;
	}
}

/*
 * Decode n (1, 2, 4 or 8) bytes, in place when the chunk holds them (the
 * common case): a constant n folds the switch, and the compiler makes each
 * le*_get() one load.
 */
static uint64_t
r_le(struct reader *r, size_t n)
{
	uint8_t		 b[8];
	const uint8_t	*s = b;

	if (r->r_len - r->r_pos >= n) {
		s = r->r_buf + r->r_pos;
		r->r_pos += n;
	} else
		r_bytes(r, b, n);
	switch (n) {
	case 8:
		return le64_get(s);
	case 4:
		return le32_get(s);
	case 2:
		return (uint64_t)s[0] | (uint64_t)s[1] << 8;
	default:
		return s[0];
	}
}

static uint64_t
r_u64(struct reader *r)
{
	return r_le(r, 8);
}

static uint32_t
r_u32(struct reader *r)
{
	return (uint32_t)r_le(r, 4);
}

static uint16_t
r_u16(struct reader *r)
{
	return (uint16_t)r_le(r, 2);
}

static uint8_t
r_u8(struct reader *r)
{
	return (uint8_t)r_le(r, 1);
}

/* Mark the input malformed (unless reading failed first); returns the error. */
static int
r_bad(struct reader *r)
{
	if (r->r_err == 0)
		r->r_err = -EINVAL;
	return r->r_err;
}

/* ---- cluster_dump ---- */

struct termref {
	uint64_t	 tr_hash;
	const char	*tr_word;
	uint32_t	 tr_id;
};

static int
cmp_termref(const void *pa, const void *pb)
{
	const struct termref	*a = pa, *b = pb;

	return a->tr_hash < b->tr_hash ? -1 : a->tr_hash > b->tr_hash;
}

struct postref {
	uint64_t		 pr_hash;
	const struct posting	*pr_p;
};

static int
cmp_postref(const void *pa, const void *pb)
{
	const struct postref	*a = pa, *b = pb;

	return a->pr_hash < b->pr_hash ? -1 : a->pr_hash > b->pr_hash;
}

/*
 * Terms by hash, so that equal states give equal bytes whatever the map's
 * history (term ids are not: they are renumbered on load); rank[id] gets the
 * place of term id in that order, which stories and articles name it by.
 */
static int
dump_terms(const struct clusterer *c, struct writer *w, uint32_t *rank)
{
	struct termref	*v;
	size_t		 i, n = 0;

	if ((v = grow(NULL, sizeof(*v), map_count(&c->c_df) ? map_count(&c->c_df) : 1)) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->c_nterm; i++)
		if (c->c_tdf[i] > 0)
			v[n++] = (struct termref){ c->c_thash[i], c->c_tword[i], (uint32_t)i };
	qsort(v, n, sizeof(*v), cmp_termref);
	w_u32(w, TAG_TERM);
	for (i = 0; i < n; i++) {
		size_t	len = strlen(v[i].tr_word);

		w_u64(w, v[i].tr_hash);
		w_u32(w, (uint32_t)len);
		w_bytes(w, v[i].tr_word, len);
		rank[v[i].tr_id] = (uint32_t)i;
	}
	free(v);
	return 0;
}

static void
dump_stories(const struct clusterer *c, struct writer *w, const uint32_t *rank)
{
	const struct cstory	*s;
	uint32_t		 i;

	w_u32(w, TAG_STRY);
	for (s = c->c_fhead; s != NULL; s = s->st_fnext) {
		w_u32(w, s->st_id);
		w_u64(w, s->st_seq);
		w_u64(w, (uint64_t)s->st_first);
		w_u64(w, (uint64_t)s->st_last);
		w_u8(w, (uint8_t)s->st_removed);
		if (s->st_removed)
			continue;
		w_u32(w, s->st_rep);
		w_u16(w, (uint16_t)s->st_ncent);
		for (i = 0; i < s->st_ncent; i++) {
			const struct cent	*e = &s->st_cent[i];

			w_u32(w, rank[e->ce_term]);
			w_u32(w, e->ce_w);
			w_u8(w, (uint8_t)e->ce_posted);
		}
		w_u64(w, f64_bits(s->st_na));
		w_u64(w, f64_bits(s->st_nb));
		w_u64(w, f64_bits(s->st_nc));
		w_u64(w, s->st_normat);
	}
}

static size_t
id_limit(const struct clusterer *c)
{
	size_t	n = c->c_ninit;

	while (n > 0 && !c->c_art[n - 1].ar_held)
		n--;
	return n;
}

static void
dump_articles(const struct clusterer *c, struct writer *w, const uint32_t *rank)
{
	size_t		id, i, off, limit = id_limit(c);
	const uint8_t	*tids;

	w_u32(w, TAG_ARTS);
	for (id = 0; id < limit && !w->w_err; id++) {
		const struct art	*a = &c->c_art[id];

		w_u8(w, a->ar_held);
		if (!a->ar_held)
			continue;
		w_u64(w, a->ar_arrival);
		w_u64(w, a->ar_exact);
		w_u64(w, a->ar_simhash);
		w_u64(w, a->ar_source);
		w_u64(w, (uint64_t)a->ar_published);
		w_u32(w, a->ar_story->st_id);
		w_u32(w, c->c_groups[a->ar_group].gr_head);
		w_u32(w, a->ar_shingles);
		w_u16(w, a->ar_nterms);
		off = id * c->c_p.doc_terms;
		tids = art_tids(c, (uint32_t)id);
		for (i = 0; i < a->ar_nterms; i++) {
			w_u32(w, rank[tid_at(tids, i)]);
			w_u16(w, c->c_twq[c->c_tw[off + i]]);
		}
		w_u8(w, a->ar_nosig);
		/* one byte a value, as r_bytes() reads them back: copied whole */
		w_bytes(w, c->c_sig + id * c->c_p.k, c->c_p.k);
	}
}

static int
dump_postings(const struct clusterer *c, struct writer *w)
{
	struct postref	*v;
	size_t		 i, n = 0, pos = 0;
	uint64_t	 hash, p;
	uint32_t	 j;

	if ((v = grow(NULL, sizeof(*v), map_count(&c->c_posts) ? map_count(&c->c_posts) : 1)) == NULL)
		return -ENOMEM;
	while (map_next(&c->c_posts, &pos, &hash, &p))
		v[n++] = (struct postref){ .pr_hash = hash,
		    .pr_p = (const struct posting *)(uintptr_t)p };
	qsort(v, n, sizeof(*v), cmp_postref);
	w_u32(w, TAG_POST);
	for (i = 0; i < n; i++) {
		w_u32(w, v[i].pr_p->po_n);
		w_u64(w, v[i].pr_hash);
		for (j = 0; j < v[i].pr_p->po_n; j++)
			w_u32(w, v[i].pr_p->po_v[j]->st_id);
	}
	free(v);
	return 0;
}

int
cluster_dump(const struct clusterer *c, cluster_write_fn *fn, void *arg)
{
	const struct cluster_params	*p = &c->c_p;
	struct writer			 w = { .w_fn = fn, .w_arg = arg };
	uint8_t				 head[12];
	uint32_t			*rank;
	int				 r;

	if ((rank = grow(NULL, sizeof(*rank), c->c_nterm ? c->c_nterm : 1)) == NULL)
		return -ENOMEM;
	if ((w.w_buf = malloc(4 + CHUNK)) == NULL) {
		free(rank);
		return -ENOMEM;
	}
	memcpy(head, MAGIC, 8);
	le32_put(head + 8, VERSION);
	if ((r = fn(head, sizeof(head), arg)) < 0)
		goto out;
	w_u32(&w, p->k);
	w_u32(&w, p->bands);
	w_u32(&w, p->rows);
	w_u32(&w, p->shingle);
	w_u32(&w, p->doc_terms);
	w_u32(&w, p->simhash_k);
	w_u32(&w, p->max_matches);
	w_u64(&w, f64_bits(p->dup_threshold));
	w_u64(&w, f64_bits(p->story_threshold));
	w_u64(&w, (uint64_t)p->window);
	w_u64(&w, f64_bits(p->dup_containment));
	w_u32(&w, p->decay_hours);
	w_u64(&w, c->c_seq);
	w_u64(&w, c->c_horizon);
	w_u64(&w, c->c_arrivals);
	w_u32(&w, c->c_laststory);
	w_u32(&w, (uint32_t)c->c_narticles);
	w_u32(&w, (uint32_t)id_limit(c));
	w_u64(&w, map_count(&c->c_df));
	w_u32(&w, (uint32_t)(c->c_nstories + c->c_ntomb));
	w_u64(&w, map_count(&c->c_posts));
	if ((r = dump_terms(c, &w, rank)) < 0)
		goto out;
	dump_stories(c, &w, rank);
	dump_articles(c, &w, rank);
	if ((r = dump_postings(c, &w)) < 0)
		goto out;
	w_u32(&w, TAG_END);
	w_flush(&w);
	if ((r = w.w_err) < 0)
		goto out;
	le32_put(head, 0);		/* the end chunk */
	r = fn(head, 4, arg);
out:
	free(w.w_buf);
	free(rank);
	return r < 0 ? r : 0;
}

/* ---- cluster_load ---- */

struct loader {
	struct reader		 l_r;
	struct clusterer	*l_c;
	uint32_t		 l_version;
	uint32_t		 l_dumped_terms;	/* the dump's doc_terms */
	uint32_t		 l_narticles, l_idlimit, l_nstories;
	uint64_t		 l_nterms, l_npostings;
	struct arrival		*l_order;
	size_t			 l_norder, l_caporder;
	char			*l_word;		/* scratch for display words */
	size_t			 l_capword;
	struct cent		**l_cent;		/* scratch: one posting's centroid terms */
	size_t			 l_capcent;
	uint8_t			*l_code;		/* each 16-bit weight's code (cluster_tw_codes()) */
};

static int
load_header(struct loader *l, const struct cluster_params *p)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	uint32_t		 k, bands, rows, shingle;

	k = r_u32(r);
	bands = r_u32(r);
	rows = r_u32(r);
	shingle = r_u32(r);
	l->l_dumped_terms = r_u32(r);
	(void)r_u32(r);		/* simhash_k, */
	(void)r_u32(r);		/* max_matches, */
	(void)r_u64(r);		/* dup_threshold, */
	(void)r_u64(r);		/* story_threshold, */
	(void)r_u64(r);		/* window, */
	(void)r_u64(r);		/* dup_containment and */
	(void)r_u32(r);		/* decay_hours: params's apply */
	c->c_seq = r_u64(r);
	c->c_horizon = r_u64(r);
	c->c_arrivals = r_u64(r);
	c->c_laststory = r_u32(r);
	l->l_narticles = r_u32(r);
	l->l_idlimit = r_u32(r);
	l->l_nterms = r_u64(r);
	l->l_nstories = r_u32(r);
	l->l_npostings = r_u64(r);
	if (r->r_err)
		return r->r_err;
	/* signatures made with other k, bands or shingles do not compare */
	if (k != p->k || bands != p->bands || rows != p->rows || shingle != p->shingle ||
	    l->l_dumped_terms > p->doc_terms)
		return r_bad(r);
	/* a clusterer holds at most TERM_MAX terms (doc_terms()) */
	if (c->c_horizon > c->c_seq || c->c_laststory == CLUSTER_NONE ||
	    c->c_arrivals >= ARRIVAL_MAX || l->l_nterms > TERM_MAX || l->l_narticles > l->l_idlimit ||
	    l->l_idlimit > CLUSTER_ID_LIMIT)
		return r_bad(r);
	return 0;
}

static int
load_terms(struct loader *l)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	uint64_t		 i, hash, prev = 0;

	if (r_u32(r) != TAG_TERM)
		return r_bad(r);
	for (i = 0; i < l->l_nterms && !r->r_err; i++) {
		char		*word;
		uint32_t	 len;
		size_t		 got;

		hash = r_u64(r);
		len = r_u32(r);
		if (r->r_err || (i > 0 && hash <= prev))
			return r_bad(r);
		prev = hash;
		/* grow with the bytes that arrive, not with the length claimed */
		for (got = 0; got < len && !r->r_err; ) {
			size_t	n = len - got < CHUNK ? len - got : CHUNK;

			if (got + n > l->l_capword) {
				char	*w = grow(l->l_word, 1, 2 * (got + n));

				if (w == NULL)
					return -ENOMEM;
				l->l_word = w;
				l->l_capword = 2 * (got + n);
			}
			r_bytes(r, l->l_word + got, n);
			got += n;
		}
		if (r->r_err || (len > 0 && memchr(l->l_word, '\0', len) != NULL))
			return r_bad(r);
		if (map_reserve(&c->c_df, 1) < 0 || cluster_terms_reserve(c, 1) < 0 ||
		    (word = malloc((size_t)len + 1)) == NULL)
			return -ENOMEM;
		if (len > 0)
			memcpy(word, l->l_word, len);
		word[len] = '\0';
		/* a fresh clusterer's ids count up from 0: a term's id is its rank */
		if (cluster_term_new(c, hash, word) != i)
			abort();
	}
	return r->r_err;
}

/* A term named by its hash (version 4 and before), looked up in the term map. */
static __attribute__((noinline)) uint64_t
r_term_hashed(struct loader *l, uint64_t *id)
{
	uint64_t	hash = r_u64(&l->l_r);

	if (!map_find(&l->l_c->c_df, hash, id))
		r_bad(&l->l_r);
	return hash;
}

/*
 * A term a story or an article names, by rank (hash before version 5), to
 * *term; *key is the previous one's rank or hash (first: none), as they
 * must rise. 0 or the reader's error.
 */
static inline int
r_term(struct loader *l, int first, uint64_t *key, uint32_t *term)
{
	struct reader	*r = &l->l_r;
	uint64_t	 k, id = 0;

	if (l->l_version > VERSION_HASHES) {
		k = id = r_u32(r);
		if (id >= l->l_c->c_nterm)
			return r_bad(r);
	} else
		k = r_term_hashed(l, &id);
	if (r->r_err || (!first && k <= *key))
		return r_bad(r);
	*key = k;
	*term = (uint32_t)id;
	return 0;
}

static int
load_centroid(struct loader *l, struct cstory *s)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	uint32_t		 i, n, term;
	uint64_t		 key = 0;

	s->st_rep = r_u32(r);
	n = r_u16(r);
	if (r->r_err || n > CENT_MAX)	/* cent_merge() merges into CENT_MAX + doc_terms */
		return r_bad(r);
	if (cluster_story_reserve(s, n, 0) < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct cent	*e = &s->st_cent[i];
		uint32_t	 w;
		uint8_t		 posted;

		if (r_term(l, i == 0, &key, &term) != 0)
			return r->r_err;
		w = r_u32(r);
		posted = r_u8(r);
		if (r->r_err || w == 0 || posted > 1)
			return r_bad(r);
		*e = (struct cent){ .ce_term = term, .ce_w = w, .ce_posted = posted };
		s->st_ncent = i + 1;
	}
	s->st_na = f64_from(r_u64(r));
	s->st_nb = f64_from(r_u64(r));
	s->st_nc = f64_from(r_u64(r));
	s->st_normat = r_u64(r);
	if (r->r_err || !isfinite(s->st_na) || !isfinite(s->st_nb) || !isfinite(s->st_nc) ||
	    s->st_normat > c->c_arrivals)
		return r_bad(r);
	return 0;
}

static int
load_stories(struct loader *l)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	struct cstory		*s;
	uint64_t		 prevseq = 0;
	uint32_t		 i;
	int			 e;

	if (r_u32(r) != TAG_STRY)
		return r_bad(r);
	for (i = 0; i < l->l_nstories && !r->r_err; i++) {
		uint32_t	id = r_u32(r);
		uint64_t	seq = r_u64(r);
		int64_t		first = (int64_t)r_u64(r), last = (int64_t)r_u64(r);
		uint8_t		removed = r_u8(r);

		if (r->r_err || id == 0 || id > c->c_laststory || seq <= prevseq ||
		    seq > c->c_seq || removed > 1 || first > last ||
		    map_findp(&c->c_stories, id) != NULL)
			return r_bad(r);
		prevseq = seq;
		if (map_reserve(&c->c_stories, 1) < 0 || (s = calloc(1, sizeof(*s))) == NULL)
			return -ENOMEM;
		*s = (struct cstory){ .st_id = id, .st_seq = seq, .st_first = first,
		    .st_last = last, .st_removed = removed, .st_fprev = c->c_ftail };
		/* in the feed at once, so that cluster_free() frees it */
		if (c->c_ftail)
			c->c_ftail->st_fnext = s;
		else
			c->c_fhead = s;
		c->c_ftail = s;
		/* tombstones too, for now, to catch a repeated id */
		map_putp(&c->c_stories, id, s);
		if (removed) {
			if (c->c_ttail)
				c->c_ttail->st_tnext = s;
			else
				c->c_thead = s;
			c->c_ttail = s;
			c->c_ntomb++;
			continue;
		}
		c->c_nstories++;
		if ((e = load_centroid(l, s)) < 0)
			return e;
	}
	if (r->r_err)
		return r->r_err;
	if (c->c_ntomb > TOMB_MAX)
		return r_bad(r);
	for (s = c->c_thead; s != NULL; s = s->st_tnext)
		map_del(&c->c_stories, s->st_id);
	return 0;
}

static int
load_article(struct loader *l, uint32_t id)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	struct art		*a;
	uint8_t			*sig;
	uint32_t		 story, i;
	uint64_t		 key;
	uint8_t			*tids, nosig;
	uint16_t		 nterms;
	uint64_t		 arrival;
	size_t			 off;

	if (cluster_arts_reserve(c, id) < 0)
		return -ENOMEM;
	a = &c->c_art[id];
	tids = art_tids(c, id);
	arrival = r_u64(r);
	a->ar_exact = r_u64(r);
	a->ar_simhash = r_u64(r);
	a->ar_source = r_u64(r);
	a->ar_published = (int64_t)r_u64(r);
	story = r_u32(r);
	a->ar_group = r_u32(r);		/* the group root, until link_articles() */
	a->ar_shingles = r_u32(r);
	nterms = r_u16(r);
	if (r->r_err || arrival >= c->c_arrivals || a->ar_group == CLUSTER_NONE ||
	    nterms > l->l_dumped_terms || (a->ar_story = map_findp(&c->c_stories, story)) == NULL)
		return r_bad(r);
	a->ar_arrival = arrival;
	a->ar_nterms = nterms;
	off = (size_t)id * c->c_p.doc_terms;
	for (i = 0, key = 0; i < a->ar_nterms; i++) {
		uint32_t	 term;
		uint16_t	 w;
		uint8_t		 code;

		if (r_term(l, i == 0, &key, &term) != 0)
			return r->r_err;
		if (r->r_err || (w = r_u16(r)) == 0 || (code = l->l_code[w]) == 0)
			return r_bad(r);
		tid_put(tids, i, term);
		c->c_tw[off + i] = code;
	}
	if ((nosig = r_u8(r)) > 1)
		return r_bad(r);
	a->ar_nosig = nosig;
	sig = c->c_sig + (size_t)id * c->c_p.k;
	if (l->l_version > VERSION_SIG16)
		r_bytes(r, sig, c->c_p.k);
	else	/* version 3 kept the top 16 bits of what minhash_keep() keeps 8 of */
		for (i = 0; i < c->c_p.k; i++)
			sig[i] = (uint8_t)(r_u16(r) >> 8);
	if (r->r_err)
		return r->r_err;
	for (i = 0; i < a->ar_nterms; i++)
		cluster_term_count(c, tid_at(tids, i), 1);
	a->ar_held = 1;
	return 0;
}

static int
load_articles(struct loader *l)
{
	struct reader	*r = &l->l_r;
	uint32_t	 id;
	uint8_t		 held;
	int		 e;

	if (r_u32(r) != TAG_ARTS)
		return r_bad(r);
	for (id = 0; id < l->l_idlimit && !r->r_err; id++) {
		if ((held = r_u8(r)) > 1 || (held && l->l_norder == l->l_narticles))
			return r_bad(r);
		if (!held)
			continue;
		if (l->l_norder == l->l_caporder) {
			size_t		 cap = l->l_caporder ? 2 * l->l_caporder : 1024;
			struct arrival	*v = grow(l->l_order, sizeof(*v), cap);

			if (v == NULL)
				return -ENOMEM;
			l->l_order = v;
			l->l_caporder = cap;
		}
		if ((e = load_article(l, id)) < 0)
			return e;
		l->l_order[l->l_norder++] = (struct arrival){
		    .ai_arrival = l->l_c->c_art[id].ar_arrival, .ai_id = id };
	}
	if (r->r_err)
		return r->r_err;
	return l->l_norder == l->l_narticles ? 0 : r_bad(r);
}

/* Replay the held articles in arrival order into the lists, groups and indexes. */
static int
link_articles(struct loader *l)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	size_t			 i;

	if (l->l_norder > 0)
		qsort(l->l_order, l->l_norder, sizeof(*l->l_order), cluster_cmp_arrival);
	for (i = 0; i < l->l_norder; i++) {
		uint32_t	 id = l->l_order[i].ai_id, root, gi;
		struct art	*a = &c->c_art[id];
		struct cstory	*s = a->ar_story;

		if (i > 0 && a->ar_arrival == l->l_order[i - 1].ai_arrival)
			return r_bad(r);
		root = a->ar_group;
		if (root == id) {
			if (cluster_groups_reserve(c) < 0)
				return -ENOMEM;
			gi = CLUSTER_NONE;
		} else {
			/* the root arrived first, so it is linked, and leads its group */
			if (root >= c->c_ninit || !c->c_art[root].ar_held ||
			    c->c_art[root].ar_arrival >= a->ar_arrival)
				return r_bad(r);
			gi = c->c_art[root].ar_group;
			if (c->c_groups[gi].gr_head != root || c->c_groups[gi].gr_story != s)
				return r_bad(r);
		}
		if (cluster_exact_reserve(c, 1) < 0 || cluster_story_reserve(s, 0, a->ar_source) < 0)
			return -ENOMEM;
		cluster_group_join(c, id, gi, s);
		cluster_exact_link(c, id);
		if (s->st_size == 0) {
			s->st_head = id;
			a->ar_stnext = a->ar_stprev = id;
		} else
			LIST_APPEND(c, s->st_head, id, ar_stnext, ar_stprev);
		s->st_size++;
		cluster_sources_add(s, a->ar_source);
		cluster_set_count(c, i + 1);
	}
	/* the LSH sized for the articles read: a count earned by their bytes, not the header's claim */
	return cluster_indexes_fill(c, l->l_order, l->l_norder);
}

/*
 * Is every centroid term of live story s kept by its members, with a weight
 * no more than they give it (see cent_sub())? The member list is sound;
 * sum is c_nterm zeros, and left so.
 */
static int
cent_kept(const struct clusterer *c, const struct cstory *s, uint64_t *sum)
{
	uint32_t	id, n, i;
	int		ok = 1;

	for (id = s->st_head, n = 0; n < s->st_size; n++, id = c->c_art[id].ar_stnext)
		for (i = 0; i < c->c_art[id].ar_nterms; i++)
			sum[tid_at(art_tids(c, id), i)] +=
			    c->c_twq[c->c_tw[(size_t)id * c->c_p.doc_terms + i]];
	for (i = 0; i < s->st_ncent; i++)
		ok &= s->st_cent[i].ce_w <= sum[s->st_cent[i].ce_term];
	for (id = s->st_head, n = 0; n < s->st_size; n++, id = c->c_art[id].ar_stnext)
		for (i = 0; i < c->c_art[id].ar_nterms; i++)
			sum[tid_at(art_tids(c, id), i)] = 0;
	return ok;
}

/* What history decided about a live story must fit its members. */
static int
check_stories(struct loader *l)
{
	struct clusterer	*c = l->l_c;
	const struct cstory	*s;
	uint64_t		*sum;

	if ((sum = calloc(c->c_nterm ? c->c_nterm : 1, sizeof(*sum))) == NULL)
		return -ENOMEM;
	for (s = c->c_fhead; s != NULL; s = s->st_fnext) {
		uint32_t	id;
		int64_t		first, last;

		if (s->st_removed)
			continue;
		if (s->st_size == 0 || s->st_rep >= c->c_ninit || !c->c_art[s->st_rep].ar_held ||
		    c->c_art[s->st_rep].ar_story != s || !cent_kept(c, s, sum))
			break;
		first = last = c->c_art[s->st_head].ar_published;
		for (id = c->c_art[s->st_head].ar_stnext; id != s->st_head;
		    id = c->c_art[id].ar_stnext) {
			first = c->c_art[id].ar_published < first ? c->c_art[id].ar_published : first;
			last = c->c_art[id].ar_published > last ? c->c_art[id].ar_published : last;
		}
		if (first != s->st_first || last != s->st_last)
			break;
	}
	free(sum);
	return s == NULL ? 0 : r_bad(&l->l_r);
}

static int
load_postings(struct loader *l)
{
	struct reader		*r = &l->l_r;
	struct clusterer	*c = l->l_c;
	struct cstory		*s;
	uint64_t		 i, hash, prev = 0, entries = 0, posted = 0;
	uint32_t		 j, n;

	if (r_u32(r) != TAG_POST)
		return r_bad(r);
	for (i = 0; i < l->l_npostings && !r->r_err; i++) {
		struct posting	*p;

		n = r_u32(r);
		hash = r_u64(r);
		/* a story posts a term once, so no posting outnumbers the stories */
		if (r->r_err || n == 0 || n > c->c_nstories || (i > 0 && hash <= prev))
			return r_bad(r);
		prev = hash;
		if (map_reserve(&c->c_posts, 1) < 0 || (p = calloc(1, sizeof(*p))) == NULL)
			return -ENOMEM;
		if ((p->po_v = grow(NULL, sizeof(*p->po_v), n)) == NULL) {
			free(p);
			return -ENOMEM;
		}
		p->po_cap = n;
		map_putp(&c->c_posts, hash, p);
		if (n > l->l_capcent) {
			struct cent	**v = grow(l->l_cent, sizeof(*v), n);

			if (v == NULL)
				return -ENOMEM;
			l->l_cent = v;
			l->l_capcent = n;
		}
		for (j = 0; j < n; j++) {
			struct cent	*e;

			s = map_findp(&c->c_stories, r_u32(r));
			if (r->r_err || s == NULL ||
			    (e = cluster_cent_find(c, s, hash)) == NULL || !e->ce_posted)
				return r_bad(r);
			e->ce_posted = 0;	/* a story twice in one posting finds it clear */
			l->l_cent[j] = e;
			p->po_v[p->po_n++] = s;
		}
		for (j = 0; j < n; j++)
			l->l_cent[j]->ce_posted = 1;
		entries += n;
	}
	if (r->r_err)
		return r->r_err;
	/*
	 * Each entry found a distinct posted term (postings differ in hash, and
	 * within one a story comes once), so as many entries as posted terms
	 * leave none posted but in no posting.
	 */
	for (s = c->c_fhead; s != NULL; s = s->st_fnext)
		for (j = 0; j < s->st_ncent; j++)
			posted += s->st_cent[j].ce_posted;
	return posted == entries ? 0 : r_bad(r);
}

/* The end tag, the end of a chunk, and the end chunk. */
static int
load_end(struct loader *l)
{
	struct reader	*r = &l->l_r;
	uint8_t		 b[4];
	int		 e;

	if (r_u32(r) != TAG_END || r->r_pos != r->r_len)
		return r_bad(r);
	if ((e = r->r_fn(b, 4, r->r_arg)) < 0)
		return e;
	return le32_get(b) == 0 ? 0 : r_bad(r);
}

static int
load_all(struct loader *l, const struct cluster_params *p)
{
	struct clusterer	*c = l->l_c;
	size_t			 i;
	int			 r;

	if ((r = load_header(l, p)) < 0 || (r = load_terms(l)) < 0 ||
	    (r = load_stories(l)) < 0 || (r = load_articles(l)) < 0 ||
	    (r = link_articles(l)) < 0 || (r = check_stories(l)) < 0 ||
	    (r = load_postings(l)) < 0 || (r = load_end(l)) < 0)
		return r;
	/* a term no held article keeps would never be freed */
	for (i = 0; i < c->c_nterm; i++)
		if (c->c_tdf[i] == 0)
			return r_bad(&l->l_r);
	return 0;
}

int
cluster_load(struct clusterer **out, const struct cluster_params *p,
    cluster_read_fn *fn, void *arg)
{
	struct loader	l = { .l_r = { .r_fn = fn, .r_arg = arg } };
	uint8_t		head[12];
	int		r;

	if ((r = fn(head, sizeof(head), arg)) < 0)
		return r;
	/* no release wrote a version before 3, so one is refused as unreadable */
	l.l_version = le32_get(head + 8);
	if (memcmp(head, MAGIC, 8) != 0 || l.l_version < VERSION_SIG16)
		return -EINVAL;
	if (l.l_version > VERSION)
		return -EPROTONOSUPPORT;
	if ((l.l_r.r_buf = malloc(CHUNK)) == NULL || (l.l_code = malloc(TW_QS)) == NULL ||
	    (l.l_c = cluster_new(p)) == NULL) {
		free(l.l_r.r_buf);
		free(l.l_code);
		return -ENOMEM;
	}
	cluster_tw_codes(l.l_c, l.l_code);
	r = load_all(&l, p);
	free(l.l_r.r_buf);
	free(l.l_code);
	free(l.l_order);
	free(l.l_word);
	free(l.l_cent);
	if (r < 0) {
		cluster_free(l.l_c);
		return r;
	}
	*out = l.l_c;
	return 0;
}

/* ---- cluster_check ---- */

static int
check_feed(const struct clusterer *c, size_t *posted)
{
	const struct cstory	*s, *prev = NULL;
	size_t			 live = 0, tomb = 0, size = 0, groups = 0;
	uint32_t		 i;

	for (s = c->c_fhead; s != NULL; prev = s, s = s->st_fnext) {
		if (s->st_fprev != prev || s->st_seq == 0 || s->st_seq > c->c_seq ||
		    (prev && s->st_seq <= prev->st_seq) || s->st_id == 0 ||
		    s->st_id > c->c_laststory)
			return -EINVAL;
		if (s->st_removed) {
			if (map_findp(&c->c_stories, s->st_id) == s || s->st_size != 0 ||
			    s->st_groups != 0)
				return -EINVAL;
			tomb++;
			continue;
		}
		if (map_findp(&c->c_stories, s->st_id) != s || s->st_size == 0 ||
		    s->st_ncent > CENT_MAX || s->st_ncent > s->st_capcent)
			return -EINVAL;
		for (i = 0; i < s->st_ncent; i++) {
			const struct cent	*e = &s->st_cent[i];

			if (e->ce_term >= c->c_nterm || c->c_tdf[e->ce_term] == 0 ||
			    (i > 0 && c->c_thash[e->ce_term] <= c->c_thash[e[-1].ce_term]) ||
			    e->ce_w == 0)
				return -EINVAL;
			*posted += e->ce_posted;
		}
		for (i = 1; i < s->st_nsrc; i++)
			if (s->st_src[i].sc_hash <= s->st_src[i - 1].sc_hash)
				return -EINVAL;
		live++;
		size += s->st_size;
		groups += s->st_groups;
	}
	if (prev != c->c_ftail || live != c->c_nstories || live != map_count(&c->c_stories) ||
	    tomb != c->c_ntomb || size != c->c_narticles || groups != c->c_ngroups ||
	    c->c_horizon > c->c_seq)
		return -EINVAL;
	for (s = c->c_thead, prev = NULL, tomb = 0; s != NULL; prev = s, s = s->st_tnext)
		if (!s->st_removed || (prev && s->st_seq <= prev->st_seq) || ++tomb > c->c_ntomb)
			return -EINVAL;
	return tomb == c->c_ntomb && prev == c->c_ttail ? 0 : -EINVAL;
}

/* Members in arrival order; bounds, representative and sources agree. */
static int
check_members(const struct clusterer *c, const struct cstory *s)
{
	uint32_t	id = s->st_head, n, src = 0, nsrc = 0;
	int64_t		first = INT64_MAX, last = INT64_MIN;
	int		rep = 0;

	for (n = 0; n < s->st_size; n++) {
		const struct art	*a;

		if (id >= c->c_ninit || !(a = &c->c_art[id])->ar_held || a->ar_story != s ||
		    c->c_art[a->ar_stnext].ar_stprev != id ||
		    (n > 0 && a->ar_arrival <= c->c_art[a->ar_stprev].ar_arrival))
			return -EINVAL;
		first = a->ar_published < first ? a->ar_published : first;
		last = a->ar_published > last ? a->ar_published : last;
		rep |= id == s->st_rep;
		src += a->ar_source != 0;
		id = a->ar_stnext;
	}
	for (n = 0; n < s->st_nsrc; n++)
		nsrc += s->st_src[n].sc_n;
	return id == s->st_head && rep && first == s->st_first && last == s->st_last &&
	    src == nsrc ? 0 : -EINVAL;
}

static int
check_groups(const struct clusterer *c)
{
	size_t		groups = 0;
	uint32_t	gi, id, n;

	for (gi = 0; gi < c->c_ngroupv; gi++) {
		const struct group	*g = &c->c_groups[gi];

		if (g->gr_size == 0)
			continue;
		groups++;
		for (id = g->gr_head, n = 0; n < g->gr_size; n++) {
			const struct art	*a;

			if (id >= c->c_ninit || !(a = &c->c_art[id])->ar_held ||
			    a->ar_group != gi || a->ar_story != g->gr_story ||
			    c->c_art[a->ar_grnext].ar_grprev != id ||
			    (n > 0 && a->ar_arrival <= c->c_art[a->ar_grprev].ar_arrival))
				return -EINVAL;
			id = a->ar_grnext;
		}
		if (id != g->gr_head)
			return -EINVAL;
	}
	return groups == c->c_ngroups ? 0 : -EINVAL;
}

static int
check_articles(const struct clusterer *c)
{
	size_t		 id, held = 0, terms = 0, dfsum = 0, nterm = 0, i;
	uint32_t	 head;
	const uint8_t	*t;

	for (id = 0; id < c->c_ninit; id++) {
		const struct art	*a = &c->c_art[id];

		if (!a->ar_held)
			continue;
		held++;
		if (a->ar_arrival >= c->c_arrivals || a->ar_group >= c->c_ngroupv ||
		    c->c_groups[a->ar_group].gr_size == 0 || a->ar_story == NULL ||
		    a->ar_story->st_removed || a->ar_nterms > c->c_p.doc_terms ||
		    (head = cluster_exact_find(c, a->ar_exact)) == CLUSTER_NONE ||
		    !c->c_art[head].ar_held || c->c_art[head].ar_exact != a->ar_exact ||
		    c->c_art[head].ar_arrival > a->ar_arrival)
			return -EINVAL;
		t = art_tids(c, (uint32_t)id);
		for (i = 0; i < a->ar_nterms; i++)
			if (tid_at(t, i) >= c->c_nterm || c->c_tdf[tid_at(t, i)] == 0 ||
			    (i > 0 && c->c_thash[tid_at(t, i)] <= c->c_thash[tid_at(t, i - 1)]))
				return -EINVAL;
		terms += a->ar_nterms;
	}
	for (i = 0; i < c->c_nterm; i++) {
		uint64_t	term;

		if (c->c_tdf[i] == 0)	/* a free id */
			continue;
		if (!map_find(&c->c_df, c->c_thash[i], &term) || term != i ||
		    c->c_tlog[i] != log((double)c->c_tdf[i] + 1) || c->c_tword[i] == NULL)
			return -EINVAL;
		dfsum += c->c_tdf[i];
		nterm++;
	}
	return nterm == map_count(&c->c_df) && held == c->c_narticles && terms == dfsum &&
	    (c->c_lsh == NULL || lsh_count(c->c_lsh) == held) ?
	    0 : -EINVAL;
}

static int
check_postings(const struct clusterer *c, size_t posted)
{
	size_t		pos = 0, entries = 0;
	uint64_t	hash, val;
	uint32_t	j;

	while (map_next(&c->c_posts, &pos, &hash, &val)) {
		const struct posting	*p = (const struct posting *)(uintptr_t)val;

		if (p->po_n == 0 || p->po_n > p->po_cap)
			return -EINVAL;
		for (j = 0; j < p->po_n; j++) {
			const struct cent	*e;

			if (p->po_v[j]->st_removed ||
			    (e = cluster_cent_find(c, p->po_v[j], hash)) == NULL ||
			    !e->ce_posted)
				return -EINVAL;
		}
		entries += p->po_n;
	}
	return entries == posted ? 0 : -EINVAL;
}

int
cluster_check(const struct clusterer *c)
{
	const struct cstory	*s;
	size_t			 posted = 0;
	uint64_t		*sum;

	if (check_feed(c, &posted) < 0 || check_groups(c) < 0 || check_articles(c) < 0 ||
	    check_postings(c, posted) < 0)
		return -EINVAL;
	if ((sum = calloc(c->c_nterm ? c->c_nterm : 1, sizeof(*sum))) == NULL)
		return -ENOMEM;
	for (s = c->c_fhead; s != NULL; s = s->st_fnext)
		if (!s->st_removed && (check_members(c, s) < 0 || !cent_kept(c, s, sum)))
			break;
	free(sum);
	return s == NULL ? 0 : -EINVAL;
}
