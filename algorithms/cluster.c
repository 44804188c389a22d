/*
 * cluster: duplicate groups, story clusters and the change feed; the contract
 * is in cluster.h. One struct clusterer holds everything:
 *
 *  - per-article arrays indexed by the caller's dense id (struct art, the
 *    MinHash signature, the kept terms), grown geometrically;
 *  - maps (map.c) from the exact hash to the oldest held article with that
 *    hash, from a term hash to its document frequency and display word (struct
 *    dfent), from a term hash to the stories that posted it (struct posting),
 *    and from a story id to its story;
 *  - the LSH and SimHash indexes of lsh.c and simhash.c;
 *  - circular lists through the article arrays, each in arrival order: articles
 *    with one exact hash, the members of a group, the members of a story;
 *  - the feed: every story, tombstones included, in a doubly-linked list
 *    ordered by updated_seq, so a poll walks back from the tail only as far as
 *    it needs.
 *
 * The structs are in cluster-internal.h; snapshots (cluster_dump(),
 * cluster_load()) and cluster_check() are in cluster-dump.c.
 *
 * cluster_add() decides first (decide(), shared with cluster_query()), then
 * reserves every allocation the change needs (add_reserve()), then inserts
 * into the LSH and SimHash indexes (undoable), then commits (add_commit(),
 * which cannot fail). So -ENOMEM leaves the state as it was, and
 * cluster_query() gives exactly what cluster_add() would decide: the verdict is
 * computed with the document frequencies before the article's own terms count.
 *
 * Term weights: w is 1 + ln of the article's tf weight (terms.c; weights
 * below 1 are kept as they are) for its doc_terms heaviest terms; idf(t) = ln((N + 1) / (df(t) + 1)) + 1 (smoothed, as
 * scikit-learn's TfidfTransformer), N the articles held and df(t) how many of
 * them keep t. A story's centroid sums its members' w per term; cosines use
 * w * idf on both sides, with the current idf.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-internal.h"
#include "lsh.h"
#include "minhash.h"
#include "simhash.h"

/* ---- weights and cosines ---- */

static double
idf(const struct clusterer *c, uint32_t df)
{
	double	l = df < LOG_TABLE ? c->c_logdf[df] : log((double)df + 1);

	return c->c_logn - l + 1;
}

void
cluster_set_count(struct clusterer *c, size_t n)
{
	c->c_narticles = n;
	c->c_logn = log((double)n + 1);
}

enum vec_kind { VEC_DOC, VEC_ART, VEC_CENT };

/* A sparse term vector sorted by hash: the doc being decided, a held article or a centroid. */
struct vec {
	enum vec_kind		 v_kind;
	size_t			 v_n;
	const struct kterm	*v_kt;
	struct dfent *const	*v_tdf;
	const float		*v_tw;
	const struct cent	*v_cent;
};

static uint64_t
vec_hash(const struct vec *v, size_t i)
{
	switch (v->v_kind) {
	case VEC_DOC:
		return v->v_kt[i].kt_hash;
	case VEC_ART:
		return v->v_tdf[i]->df_hash;
	default:
		return v->v_cent[i].ce_hash;
	}
}

static double
vec_x(const struct clusterer *c, const struct vec *v, size_t i)
{
	switch (v->v_kind) {
	case VEC_DOC:
		return v->v_kt[i].kt_x;
	case VEC_ART:
		return v->v_tw[i] * idf(c, v->v_tdf[i]->df_n);
	default:
		return v->v_cent[i].ce_w * idf(c, v->v_cent[i].ce_df->df_n);
	}
}

static struct vec
vec_doc(const struct clusterer *c, size_t nk)
{
	return (struct vec){ .v_kind = VEC_DOC, .v_n = nk, .v_kt = c->c_kt };
}

static struct vec
vec_art(const struct clusterer *c, uint32_t id)
{
	size_t	off = (size_t)id * c->c_p.doc_terms;

	return (struct vec){ .v_kind = VEC_ART, .v_n = c->c_art[id].ar_nterms,
	    .v_tdf = c->c_tdf + off, .v_tw = c->c_tw + off };
}

static struct vec
vec_story(const struct cstory *s)
{
	return (struct vec){ .v_kind = VEC_CENT, .v_n = s->st_ncent, .v_cent = s->st_cent };
}

/* Cosine of a and b in one merge pass, norms included; 0 when either is empty. */
static double
cosine(const struct clusterer *c, const struct vec *a, const struct vec *b)
{
	double		dot = 0, na = 0, nb = 0, x, y, r;
	size_t		i = 0, j = 0;

	while (i < a->v_n || j < b->v_n) {
		uint64_t	ha = i < a->v_n ? vec_hash(a, i) : UINT64_MAX;
		uint64_t	hb = j < b->v_n ? vec_hash(b, j) : UINT64_MAX;

		if (j >= b->v_n || (i < a->v_n && ha < hb)) {
			x = vec_x(c, a, i++);
			na += x * x;
		} else if (i >= a->v_n || hb < ha) {
			y = vec_x(c, b, j++);
			nb += y * y;
		} else {
			x = vec_x(c, a, i++);
			y = vec_x(c, b, j++);
			na += x * x;
			nb += y * y;
			dot += x * y;
		}
	}
	if (na <= 0 || nb <= 0)
		return 0;
	r = dot / (sqrt(na) * sqrt(nb));
	return r > 1 ? 1 : r;
}

/* ---- the article being decided: kept terms, weights, strongest terms ---- */

static int
cmp_kterm_weight(const void *pa, const void *pb)
{
	const struct kterm	*a = pa, *b = pb;

	if (a->kt_w != b->kt_w)
		return a->kt_w > b->kt_w ? -1 : 1;
	return a->kt_hash < b->kt_hash ? -1 : a->kt_hash > b->kt_hash;
}

static int
cmp_kterm_hash(const void *pa, const void *pb)
{
	const struct kterm	*a = pa, *b = pb;

	return a->kt_hash < b->kt_hash ? -1 : a->kt_hash > b->kt_hash;
}

/* Is kept term a stronger than b (by w * idf, ties by hash)? */
static int
stronger(const struct kterm *a, const struct kterm *b)
{
	if (a->kt_x != b->kt_x)
		return a->kt_x > b->kt_x;
	return a->kt_hash < b->kt_hash;
}

static void
doc_top(struct clusterer *c, struct plan *pl)
{
	size_t	idx[POST_TERMS], i, j, n = 0;

	for (i = 0; i < pl->pl_nk; i++) {
		for (j = n; j > 0 && stronger(&c->c_kt[i], &c->c_kt[idx[j - 1]]); j--)
			if (j < POST_TERMS)
				idx[j] = idx[j - 1];
		if (j < POST_TERMS) {
			idx[j] = i;
			n += n < POST_TERMS;
		}
	}
	for (i = 0; i < n; i++)
		pl->pl_top[i] = c->c_kt[idx[i]].kt_hash;
	pl->pl_ntop = n;
}

/*
 * Sublinear tf, 1 + ln(w): a word repeated through a long article is not that
 * many times the evidence, and the rarer words that tell two similar events
 * apart (names, places, numbers) keep their say. README "Clustering quality".
 * Continuous at 1 and increasing, so the heaviest terms stay the heaviest.
 */
static float
sublinear(float w)
{
	return w > 1 ? (float)(1 + log(w)) : w;
}

/* Fill the scratch kt with the doc's doc_terms heaviest terms, sorted by hash. */
static int
doc_terms(struct clusterer *c, const struct doc *d, struct plan *pl)
{
	const struct terms	*t = d->terms;
	size_t			 i, n = 0, nt = t ? t->n : 0;

	if (nt > c->c_capkt) {
		struct kterm	*kt = grow(c->c_kt, sizeof(*kt), nt);

		if (kt == NULL)
			return -ENOMEM;
		c->c_kt = kt;
		c->c_capkt = nt;
	}
	for (i = 0; i < nt; i++) {
		if (!(t->v[i].weight > 0))	/* weights are > 0; keep NaN out */
			continue;
		c->c_kt[n++] = (struct kterm){ .kt_hash = t->v[i].hash,
		    .kt_w = sublinear(t->v[i].weight), .kt_word = t->v[i].word };
	}
	if (n > c->c_p.doc_terms) {
		qsort(c->c_kt, n, sizeof(*c->c_kt), cmp_kterm_weight);
		n = c->c_p.doc_terms;
		qsort(c->c_kt, n, sizeof(*c->c_kt), cmp_kterm_hash);
	}
	for (i = 0; i < n; i++) {
		struct kterm	*k = &c->c_kt[i];

		k->kt_df = map_findp(&c->c_df, k->kt_hash);
		k->kt_x = k->kt_w * idf(c, k->kt_df ? k->kt_df->df_n : 0);
	}
	pl->pl_nk = n;
	doc_top(c, pl);
	return 0;
}

/* ---- deciding ---- */

static int
cmp_u32(const void *pa, const void *pb)
{
	uint32_t	a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a < b ? -1 : a > b;
}

/* Best first: similarity descending, then arrival ascending. */
static int
cmp_scored(const void *pa, const void *pb)
{
	const struct scored	*a = pa, *b = pb;

	if (a->sc_sim != b->sc_sim)
		return a->sc_sim > b->sc_sim ? -1 : 1;
	return a->sc_arrival < b->sc_arrival ? -1 : a->sc_arrival > b->sc_arrival;
}

static const uint32_t *
sig_of(const struct clusterer *c, uint32_t id)
{
	return c->c_sig + (size_t)id * c->c_p.k;
}

static void
add_match(const struct clusterer *c, struct verdict *out, uint32_t id,
    enum match_kind kind, double sim)
{
	if (out->nmatches < c->c_p.max_matches)
		out->matches[out->nmatches++] =
		    (struct match){ .id = id, .kind = kind, .similarity = (float)sim };
}

/*
 * Is the estimated containment of the smaller shingle set in the larger at
 * least dup_containment? From Jaccard j and sizes a and b, the intersection
 * is j / (1 + j) * (a + b). Trusted only from cluster_dup_floor() up: below
 * it the sizes differ so much that the estimate's error, multiplied by
 * a + b, swamps the smaller set (README "Near duplicates").
 */
static int
contained(const struct clusterer *c, double j, uint32_t a, uint32_t b)
{
	double	small = a < b ? a : b;

	if (j < cluster_dup_floor(&c->c_p) || small == 0)
		return 0;
	return j / (1 + j) * ((double)a + b) >= c->c_p.dup_containment * small;
}

/*
 * Verified near-duplicate candidates into c_scored, best first; the count.
 * Similarity is the Jaccard estimate even when containment or SimHash
 * verified a candidate, so matches of every kind rank on one scale. Articles
 * without terms all have SimHash 0, so SimHash verifies only articles with
 * terms.
 */
static size_t
near_candidates(struct clusterer *c, const struct doc *d, size_t nk)
{
	uint32_t	*cand = c->c_cand;
	size_t		 n, i, nv = 0;

	n = lsh_query(c->c_lsh, d->sig, cand, CAND_MAX);
	n = n < CAND_MAX ? n : CAND_MAX;
	i = simindex_query(c->c_sim, d->simhash, cand + n, CAND_MAX);
	n += i < CAND_MAX ? i : CAND_MAX;
	qsort(cand, n, sizeof(*cand), cmp_u32);
	for (i = 0; i < n; i++) {
		const struct art	*a;
		double			 j;

		if (i > 0 && cand[i] == cand[i - 1])
			continue;
		a = &c->c_art[cand[i]];
		if (a->ar_exact == d->exact)	/* listed as exact duplicates */
			continue;
		j = minhash_jaccard(d->sig, sig_of(c, cand[i]), c->c_p.k);
		if (j >= c->c_p.dup_threshold || contained(c, j, d->shingles, a->ar_shingles) ||
		    (nk > 0 && a->ar_nterms > 0 &&
		    simhash_distance(d->simhash, a->ar_simhash) <= c->c_p.simhash_k))
			c->c_scored[nv++] = (struct scored){ .sc_id = cand[i],
			    .sc_sim = j, .sc_arrival = a->ar_arrival };
	}
	qsort(c->c_scored, nv, sizeof(*c->c_scored), cmp_scored);
	return nv;
}

/* Exact, then near duplicates: the group to join and the matches. */
static void
find_duplicates(struct clusterer *c, const struct doc *d, struct plan *pl,
    struct verdict *out)
{
	uint64_t	head;
	size_t		i, nv;

	if (map_find(&c->c_exact, d->exact, &head)) {
		uint32_t	id = (uint32_t)head;

		pl->pl_group = c->c_art[id].ar_group;
		out->status = VERDICT_EXACT_DUPLICATE;
		do {
			add_match(c, out, id, MATCH_EXACT, 1.0);
			id = c->c_art[id].ar_exnext;
		} while (id != head && out->nmatches < c->c_p.max_matches);
	}
	nv = near_candidates(c, d, pl->pl_nk);
	if (nv > 0 && pl->pl_group == CLUSTER_NONE) {
		pl->pl_group = c->c_art[c->c_scored[0].sc_id].ar_group;
		out->status = VERDICT_NEAR_DUPLICATE;
	}
	for (i = 0; i < nv; i++)
		add_match(c, out, c->c_scored[i].sc_id, MATCH_NEAR, c->c_scored[i].sc_sim);
}

static int
in_window(const struct clusterer *c, const struct cstory *s, int64_t t)
{
	int64_t	w = c->c_p.window;

	/* differences, not sums, so extreme times cannot overflow */
	if (t < s->st_first)
		return (uint64_t)s->st_first - (uint64_t)t <= (uint64_t)w;
	if (t > s->st_last)
		return (uint64_t)t - (uint64_t)s->st_last <= (uint64_t)w;
	return 1;
}

static void
next_mark(struct clusterer *c)
{
	size_t	i;

	if (++c->c_mark != 0)
		return;
	/* wrapped after 2^32 lookups: clear the stamps once */
	for (i = 0; i < c->c_stories.m_cap; i++)
		if (c->c_stories.m_used[i])
			((struct cstory *)(uintptr_t)c->c_stories.m_vals[i])->st_mark = 0;
	c->c_mark = 1;
}

/* Candidate stories through the postings of the doc's strongest terms; the count. */
static size_t
story_candidates(struct clusterer *c, const struct doc *d, const struct plan *pl)
{
	size_t	t, n = 0;

	next_mark(c);
	for (t = 0; t < pl->pl_ntop && n < STORY_CAND_MAX; t++) {
		const struct posting	*p = map_findp(&c->c_posts, pl->pl_top[t]);
		uint32_t		 i, scanned = 0;

		for (i = p ? p->po_n : 0; i > 0 && scanned < POST_SCAN; i--, scanned++) {
			struct cstory	*s = p->po_v[i - 1];

			if (s->st_mark == c->c_mark)
				continue;
			s->st_mark = c->c_mark;
			if (!in_window(c, s, d->published))
				continue;
			c->c_scand[n++] = s;
			if (n == STORY_CAND_MAX)
				break;
		}
	}
	return n;
}

/*
 * The Gaussian decay of a story's similarity with the time from t to the
 * story's nearest member: 1 inside its span, exp(-1/2) at one decay away.
 * Flat near zero, so a quiet night costs a story little, steep beyond.
 */
static double
decay(const struct clusterer *c, const struct cstory *s, int64_t t)
{
	double	g, sigma = 3600.0 * c->c_p.decay_hours;

	if (sigma <= 0 || (t >= s->st_first && t <= s->st_last))
		return 1;
	/* differences as unsigned, as in in_window(), so extreme times cannot overflow */
	g = t < s->st_first ? (double)((uint64_t)s->st_first - (uint64_t)t) :
	    (double)((uint64_t)t - (uint64_t)s->st_last);
	g /= sigma;
	return exp(-0.5 * g * g);
}

/*
 * The threshold for a doc with nk kept terms: story_threshold, lowered in
 * proportion below CLUSTER_SHORT_TERMS terms. A headline alone has a handful
 * of terms; its cosine with a story's centroid of hundreds is small even when
 * every word matches (README "Clustering quality").
 */
static double
threshold(const struct clusterer *c, size_t nk)
{
	double	t = c->c_p.story_threshold;

	return nk < CLUSTER_SHORT_TERMS ? t * (double)nk / CLUSTER_SHORT_TERMS : t;
}

/* The best story at or above the threshold, decay applied (ties: the older), or NULL. */
static struct cstory *
best_story(struct clusterer *c, const struct doc *d, const struct plan *pl)
{
	struct vec	 dv = vec_doc(c, pl->pl_nk);
	struct cstory	*best = NULL;
	double		 bestsim = 0, thr = threshold(c, pl->pl_nk);
	size_t		 i, n;

	if (pl->pl_nk == 0)
		return NULL;
	n = story_candidates(c, d, pl);
	for (i = 0; i < n; i++) {
		struct cstory	*s = c->c_scand[i];
		struct vec	 sv = vec_story(s);
		double		 sim = cosine(c, &dv, &sv) * decay(c, s, d->published);

		if (sim < thr)
			continue;
		if (best == NULL || sim > bestsim || (sim == bestsim && s->st_id < best->st_id)) {
			best = s;
			bestsim = sim;
		}
	}
	return best;
}

static int
listed(const struct verdict *out, uint32_t id)
{
	size_t	i;

	for (i = 0; i < out->nmatches; i++)
		if (out->matches[i].id == id)
			return 1;
	return 0;
}

/* Fill the rest of the matches with the story's most similar recent members. */
static void
add_related(struct clusterer *c, const struct cstory *s, const struct plan *pl,
    struct verdict *out)
{
	struct vec	dv = vec_doc(c, pl->pl_nk);
	uint32_t	id, tail;
	size_t		n = 0, scanned = 0, i;

	if (out->nmatches >= c->c_p.max_matches || s->st_size == 0)
		return;
	tail = c->c_art[s->st_head].ar_stprev;
	for (id = tail; scanned < RELATED_SCAN && scanned < s->st_size; scanned++) {
		struct vec	av = vec_art(c, id);
		double		sim;

		if (!listed(out, id) && (sim = cosine(c, &dv, &av)) > 0)
			c->c_scored[n++] = (struct scored){ .sc_id = id, .sc_sim = sim,
			    .sc_arrival = c->c_art[id].ar_arrival };
		id = c->c_art[id].ar_stprev;
	}
	qsort(c->c_scored, n, sizeof(*c->c_scored), cmp_scored);
	for (i = 0; i < n; i++)
		add_match(c, out, c->c_scored[i].sc_id, MATCH_RELATED, c->c_scored[i].sc_sim);
}

/* The verdict for d, without changing any observable state. */
static int
decide(struct clusterer *c, const struct doc *d, struct plan *pl, struct verdict *out)
{
	int	r;

	memset(pl, 0, sizeof(*pl));
	memset(out, 0, sizeof(*out));
	pl->pl_group = CLUSTER_NONE;
	out->story = CLUSTER_NONE;
	out->duplicate_of = CLUSTER_NONE;
	if ((r = doc_terms(c, d, pl)) < 0)
		return r;
	find_duplicates(c, d, pl, out);
	if (pl->pl_group != CLUSTER_NONE) {
		pl->pl_story = c->c_groups[pl->pl_group].gr_story;
		out->duplicate_of = c->c_groups[pl->pl_group].gr_head;
	} else {
		pl->pl_story = best_story(c, d, pl);
		out->status = pl->pl_story ? VERDICT_JOINED_STORY : VERDICT_NEW_STORY;
	}
	if (pl->pl_story != NULL) {
		out->story = pl->pl_story->st_id;
		add_related(c, pl->pl_story, pl, out);
	}
	return 0;
}

/* ---- reserving: every allocation an add needs, before anything changes ---- */

int
cluster_arts_reserve(struct clusterer *c, uint32_t id)
{
	size_t	 cap = c->c_cap ? c->c_cap : 64, dt = c->c_p.doc_terms;
	void	*p;

	if (id < c->c_cap)
		return 0;
	while (cap <= id)
		cap *= 2;
	/* a failure after some succeeded leaves larger arrays, nothing else */
	if ((p = grow(c->c_art, sizeof(*c->c_art), cap)) == NULL)
		return -ENOMEM;
	c->c_art = p;
	if ((p = grow(c->c_sig, sizeof(*c->c_sig) * c->c_p.k, cap)) == NULL)
		return -ENOMEM;
	c->c_sig = p;
	if ((p = grow(c->c_tdf, sizeof(*c->c_tdf) * dt, cap)) == NULL)
		return -ENOMEM;
	c->c_tdf = p;
	if ((p = grow(c->c_tw, sizeof(*c->c_tw) * dt, cap)) == NULL)
		return -ENOMEM;
	c->c_tw = p;
	memset(c->c_art + c->c_cap, 0, (cap - c->c_cap) * sizeof(*c->c_art));
	c->c_cap = cap;
	return 0;
}

/* The display word of a term; "" when terms.c gave none in range. */
static const char *
surface_word(const struct terms *t, uint32_t off, size_t *len)
{
	if (t->words == NULL || off >= t->words_len) {
		*len = 0;
		return "";
	}
	*len = strnlen(t->words + off, t->words_len - off);
	return t->words + off;
}

static int
dfents_reserve(struct clusterer *c, const struct doc *d, const struct plan *pl)
{
	size_t	i;

	if (map_reserve(&c->c_df, pl->pl_nk) < 0)
		return -ENOMEM;
	for (i = 0; i < pl->pl_nk; i++) {
		struct kterm	*k = &c->c_kt[i];
		const char	*w;
		size_t		 len;

		if (k->kt_df != NULL)
			continue;
		w = surface_word(d->terms, k->kt_word, &len);
		if ((k->kt_df = malloc(sizeof(*k->kt_df) + len + 1)) == NULL)
			return -ENOMEM;
		k->kt_fresh = 1;
		k->kt_df->df_hash = k->kt_hash;
		k->kt_df->df_n = 0;
		memcpy(k->kt_df->df_word, w, len);
		k->kt_df->df_word[len] = '\0';
	}
	return 0;
}

int
cluster_groups_reserve(struct clusterer *c)
{
	struct group	*g;
	size_t		 cap;

	if (c->c_freegroup != CLUSTER_NONE || c->c_ngroupv < c->c_capgroups)
		return 0;
	cap = c->c_capgroups ? (size_t)c->c_capgroups * 2 : 64;
	if (cap > UINT32_MAX - 1)
		return -ENOMEM;
	if ((g = grow(c->c_groups, sizeof(*c->c_groups), cap)) == NULL)
		return -ENOMEM;
	c->c_groups = g;
	c->c_capgroups = cap;
	return 0;
}

int
cluster_story_reserve(struct cstory *s, size_t nk)
{
	struct cent	*ce;
	struct srccount	*sc;
	size_t		 need = s->st_ncent + nk, cap;

	if (need > s->st_capcent) {
		cap = s->st_capcent ? s->st_capcent : 32;
		while (cap < need)
			cap *= 2;
		if ((ce = grow(s->st_cent, sizeof(*s->st_cent), cap)) == NULL)
			return -ENOMEM;
		s->st_cent = ce;
		s->st_capcent = cap;
	}
	if (s->st_nsrc == s->st_capsrc) {
		cap = s->st_capsrc ? (size_t)s->st_capsrc * 2 : 4;
		if ((sc = grow(s->st_src, sizeof(*s->st_src), cap)) == NULL)
			return -ENOMEM;
		s->st_src = sc;
		s->st_capsrc = cap;
	}
	return 0;
}

static int
postings_reserve(struct clusterer *c, struct plan *pl)
{
	size_t	t;

	if (map_reserve(&c->c_posts, pl->pl_ntop) < 0)
		return -ENOMEM;
	for (t = 0; t < pl->pl_ntop; t++) {
		struct posting	*p = map_findp(&c->c_posts, pl->pl_top[t]);

		if (p == NULL) {
			if ((p = calloc(1, sizeof(*p))) == NULL)
				return -ENOMEM;
			pl->pl_post[t] = p;
		}
		if (p->po_n == p->po_cap) {
			size_t		  cap = p->po_cap ? (size_t)p->po_cap * 2 : 4;
			struct cstory	**v = grow(p->po_v, sizeof(*p->po_v), cap);

			if (v == NULL)
				return -ENOMEM;
			p->po_v = v;
			p->po_cap = cap;
		}
	}
	return 0;
}

static void
story_free(struct cstory *s)
{
	if (s == NULL)
		return;
	free(s->st_cent);
	free(s->st_src);
	free(s);
}

/* Free what add_reserve() allocated and add_commit() did not take. */
static void
plan_release(struct clusterer *c, struct plan *pl)
{
	size_t	i;

	for (i = 0; i < pl->pl_nk; i++)
		if (c->c_kt[i].kt_fresh) {
			free(c->c_kt[i].kt_df);
			c->c_kt[i].kt_df = NULL;
			c->c_kt[i].kt_fresh = 0;
		}
	for (i = 0; i < POST_TERMS; i++) {
		if (pl->pl_post[i] != NULL)
			free(pl->pl_post[i]->po_v);
		free(pl->pl_post[i]);
		pl->pl_post[i] = NULL;
	}
	story_free(pl->pl_fresh);
	pl->pl_fresh = NULL;
}

static int
add_reserve(struct clusterer *c, uint32_t id, const struct doc *d, struct plan *pl)
{
	struct cstory	*s = pl->pl_story;

	if (cluster_arts_reserve(c, id) < 0 || map_reserve(&c->c_exact, 1) < 0 ||
	    dfents_reserve(c, d, pl) < 0 || cluster_groups_reserve(c) < 0)
		return -ENOMEM;
	if (s == NULL) {
		if (c->c_laststory == UINT32_MAX - 1)	/* CLUSTER_NONE is not an id */
			return -ENOMEM;
		if ((s = pl->pl_fresh = calloc(1, sizeof(*s))) == NULL ||
		    map_reserve(&c->c_stories, 1) < 0)
			return -ENOMEM;
	}
	if (cluster_story_reserve(s, pl->pl_nk) < 0 || postings_reserve(c, pl) < 0)
		return -ENOMEM;
	return 0;
}


void
cluster_exact_link(struct clusterer *c, uint32_t id)
{
	uint64_t	head;
	struct art	*a = &c->c_art[id];

	if (map_find(&c->c_exact, a->ar_exact, &head)) {
		LIST_APPEND(c, (uint32_t)head, id, ar_exnext, ar_exprev);
		return;
	}
	a->ar_exnext = a->ar_exprev = id;
	map_put(&c->c_exact, a->ar_exact, id);
}

static void
exact_unlink(struct clusterer *c, uint32_t id)
{
	struct art	*a = &c->c_art[id];
	uint64_t	 head;

	if (a->ar_exnext == id) {
		map_del(&c->c_exact, a->ar_exact);
		return;
	}
	LIST_UNLINK(c, id, ar_exnext, ar_exprev);
	if (map_find(&c->c_exact, a->ar_exact, &head) && head == id)
		map_put(&c->c_exact, a->ar_exact, a->ar_exnext);
}

void
cluster_group_join(struct clusterer *c, uint32_t id, uint32_t gi, struct cstory *s)
{
	struct group	*g;

	if (gi == CLUSTER_NONE) {
		if ((gi = c->c_freegroup) != CLUSTER_NONE)
			c->c_freegroup = c->c_groups[gi].gr_nextfree;
		else
			gi = c->c_ngroupv++;
		g = &c->c_groups[gi];
		*g = (struct group){ .gr_head = id, .gr_size = 1,
		    .gr_nextfree = CLUSTER_NONE, .gr_story = s };
		c->c_art[id].ar_grnext = c->c_art[id].ar_grprev = id;
		s->st_groups++;
		c->c_ngroups++;
	} else {
		g = &c->c_groups[gi];
		LIST_APPEND(c, g->gr_head, id, ar_grnext, ar_grprev);
		g->gr_size++;
	}
	c->c_art[id].ar_group = gi;
}

static void
group_leave(struct clusterer *c, uint32_t id)
{
	uint32_t	 gi = c->c_art[id].ar_group;
	struct group	*g = &c->c_groups[gi];

	if (--g->gr_size == 0) {
		g->gr_story->st_groups--;
		g->gr_nextfree = c->c_freegroup;
		c->c_freegroup = gi;
		c->c_ngroups--;
		return;
	}
	if (g->gr_head == id)	/* the next-oldest member becomes root */
		g->gr_head = c->c_art[id].ar_grnext;
	LIST_UNLINK(c, id, ar_grnext, ar_grprev);
}

/* ---- stories: sources, centroid, postings, representative, feed ---- */

void
cluster_sources_add(struct cstory *s, uint64_t h)
{
	uint32_t	lo = 0, hi = s->st_nsrc, mid;

	if (h == 0)
		return;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->st_src[mid].sc_hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->st_nsrc && s->st_src[lo].sc_hash == h) {
		s->st_src[lo].sc_n++;
		return;
	}
	memmove(s->st_src + lo + 1, s->st_src + lo, (s->st_nsrc - lo) * sizeof(*s->st_src));
	s->st_src[lo] = (struct srccount){ .sc_hash = h, .sc_n = 1 };
	s->st_nsrc++;
}

static void
sources_sub(struct cstory *s, uint64_t h)
{
	uint32_t	i;

	if (h == 0)
		return;
	for (i = 0; i < s->st_nsrc && s->st_src[i].sc_hash != h; i++)
		;
	assert(i < s->st_nsrc);
	if (--s->st_src[i].sc_n == 0) {
		memmove(s->st_src + i, s->st_src + i + 1,
		    (s->st_nsrc - i - 1) * sizeof(*s->st_src));
		s->st_nsrc--;
	}
}

struct cent *
cluster_cent_find(const struct cstory *s, uint64_t h)
{
	uint32_t	lo = 0, hi = s->st_ncent, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->st_cent[mid].ce_hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->st_ncent && s->st_cent[lo].ce_hash == h ? &s->st_cent[lo] : NULL;
}

static void
unpost(struct clusterer *c, struct cstory *s, uint64_t h)
{
	struct posting	*p = map_findp(&c->c_posts, h);
	uint32_t	 i;

	assert(p != NULL);
	for (i = 0; i < p->po_n && p->po_v[i] != s; i++)
		;
	assert(i < p->po_n);
	p->po_v[i] = p->po_v[--p->po_n];
	if (p->po_n == 0) {
		map_del(&c->c_posts, h);
		free(p->po_v);
		free(p);
	}
}

/* Post the plan's strongest terms to s, with the space postings_reserve() made. */
static void
post_terms(struct clusterer *c, struct cstory *s, struct plan *pl)
{
	size_t	t;

	for (t = 0; t < pl->pl_ntop; t++) {
		struct cent	*e = cluster_cent_find(s, pl->pl_top[t]);
		struct posting	*p;

		if (e == NULL || e->ce_posted)
			continue;
		if ((p = pl->pl_post[t]) != NULL) {
			map_putp(&c->c_posts, pl->pl_top[t], p);
			pl->pl_post[t] = NULL;
		} else
			p = map_findp(&c->c_posts, pl->pl_top[t]);
		assert(p->po_n < p->po_cap);
		p->po_v[p->po_n++] = s;
		e->ce_posted = 1;
	}
}

static int
cmp_trimkey(const void *pa, const void *pb)
{
	const struct trimkey	*a = pa, *b = pb;

	if (a->tk_score != b->tk_score)
		return a->tk_score > b->tk_score ? -1 : 1;
	return a->tk_hash < b->tk_hash ? -1 : a->tk_hash > b->tk_hash;
}

/* Keep the CENT_KEEP heaviest terms by w * idf once past CENT_MAX. */
static void
cent_trim(struct clusterer *c, struct cstory *s)
{
	uint32_t	i, n = 0;

	if (s->st_ncent <= CENT_MAX)
		return;
	for (i = 0; i < s->st_ncent; i++) {
		const struct cent	*e = &s->st_cent[i];

		c->c_trim[i] = (struct trimkey){ .tk_hash = e->ce_hash, .tk_i = i,
		    .tk_score = e->ce_w * idf(c, e->ce_df->df_n) };
	}
	qsort(c->c_trim, s->st_ncent, sizeof(*c->c_trim), cmp_trimkey);
	for (i = CENT_KEEP; i < s->st_ncent; i++) {
		struct cent	*e = &s->st_cent[c->c_trim[i].tk_i];

		if (e->ce_posted)
			unpost(c, s, e->ce_hash);
		e->ce_cnt = 0;
	}
	for (i = 0; i < s->st_ncent; i++)
		if (s->st_cent[i].ce_cnt > 0)
			s->st_cent[n++] = s->st_cent[i];
	s->st_ncent = n;
}

/* Add article id's kept terms to the centroid (room made by cluster_story_reserve()). */
static void
cent_add(struct clusterer *c, struct cstory *s, uint32_t id)
{
	struct vec	 v = vec_art(c, id);
	struct cent	*m = c->c_merge;
	size_t		 i = 0, j = 0, n = 0;

	while (i < s->st_ncent || j < v.v_n) {
		uint64_t	hs = i < s->st_ncent ? s->st_cent[i].ce_hash : UINT64_MAX;

		if (j >= v.v_n || (i < s->st_ncent && hs < v.v_tdf[j]->df_hash)) {
			m[n++] = s->st_cent[i++];
		} else if (i < s->st_ncent && hs == v.v_tdf[j]->df_hash) {
			m[n] = s->st_cent[i++];
			m[n].ce_w += v.v_tw[j++];
			m[n++].ce_cnt++;
		} else {
			m[n++] = (struct cent){ .ce_hash = v.v_tdf[j]->df_hash,
			    .ce_df = v.v_tdf[j], .ce_w = v.v_tw[j], .ce_cnt = 1 };
			j++;
		}
	}
	assert(n <= s->st_capcent);
	if (n > 0)	/* an article without terms leaves both NULL */
		memcpy(s->st_cent, m, n * sizeof(*m));
	s->st_ncent = n;
}

/*
 * Subtract article id's kept terms. A term leaves when the members added since
 * it entered have all left (or its weight is gone): so a centroid term always
 * has a held member keeping it, and its dfent is alive. A term trimmed and
 * re-entered may leave early; the centroid is an approximation past CENT_MAX.
 */
static void
cent_sub(struct clusterer *c, struct cstory *s, uint32_t id)
{
	struct vec	v = vec_art(c, id);
	size_t		i = 0, j = 0, n = 0;

	for (i = 0; i < s->st_ncent; i++) {
		struct cent	*e = &s->st_cent[i];

		while (j < v.v_n && v.v_tdf[j]->df_hash < e->ce_hash)
			j++;
		if (j < v.v_n && v.v_tdf[j]->df_hash == e->ce_hash) {
			e->ce_w -= v.v_tw[j++];
			if (--e->ce_cnt == 0 || !(e->ce_w > 0)) {
				if (e->ce_posted)
					unpost(c, s, e->ce_hash);
				continue;
			}
		}
		s->st_cent[n++] = *e;
	}
	s->st_ncent = n;
}

static double
rep_sim(const struct clusterer *c, const struct cstory *s, uint32_t id)
{
	struct vec	av = vec_art(c, id), sv = vec_story(s);

	return cosine(c, &av, &sv);
}

/* The most central of the REP_SCAN most recent members (ties: the older). */
static void
rep_recompute(struct clusterer *c, struct cstory *s)
{
	uint32_t	id = c->c_art[s->st_head].ar_stprev;
	double		best = -1, sim;
	size_t		i;

	for (i = 0; i < REP_SCAN && i < s->st_size; i++) {
		if ((sim = rep_sim(c, s, id)) >= best) {
			best = sim;
			s->st_rep = id;
		}
		id = c->c_art[id].ar_stprev;
	}
}

static void
published_recompute(struct clusterer *c, struct cstory *s)
{
	uint32_t	id = s->st_head;

	s->st_first = s->st_last = c->c_art[id].ar_published;
	while ((id = c->c_art[id].ar_stnext) != s->st_head) {
		int64_t	t = c->c_art[id].ar_published;

		s->st_first = t < s->st_first ? t : s->st_first;
		s->st_last = t > s->st_last ? t : s->st_last;
	}
}

/* Give s the next sequence number and move it to the tail of the feed. */
static void
touch(struct clusterer *c, struct cstory *s)
{
	if (s->st_seq != 0) {
		if (s->st_fprev)
			s->st_fprev->st_fnext = s->st_fnext;
		else
			c->c_fhead = s->st_fnext;
		if (s->st_fnext)
			s->st_fnext->st_fprev = s->st_fprev;
		else
			c->c_ftail = s->st_fprev;
	}
	s->st_seq = ++c->c_seq;
	s->st_fprev = c->c_ftail;
	s->st_fnext = NULL;
	if (c->c_ftail)
		c->c_ftail->st_fnext = s;
	else
		c->c_fhead = s;
	c->c_ftail = s;
}

static void
feed_unlink(struct clusterer *c, struct cstory *s)
{
	if (s->st_fprev)
		s->st_fprev->st_fnext = s->st_fnext;
	else
		c->c_fhead = s->st_fnext;
	if (s->st_fnext)
		s->st_fnext->st_fprev = s->st_fprev;
	else
		c->c_ftail = s->st_fprev;
}

static struct cstory *
story_create(struct clusterer *c, struct plan *pl, uint32_t id)
{
	struct cstory	*s = pl->pl_fresh;

	pl->pl_fresh = NULL;
	s->st_id = ++c->c_laststory;
	s->st_head = s->st_rep = id;
	s->st_first = s->st_last = c->c_art[id].ar_published;
	c->c_art[id].ar_stnext = c->c_art[id].ar_stprev = id;
	map_putp(&c->c_stories, s->st_id, s);
	c->c_nstories++;
	return s;
}

static void
story_join(struct clusterer *c, struct cstory *s, uint32_t id, struct plan *pl)
{
	const struct art	*a = &c->c_art[id];

	if (s->st_size > 0) {
		LIST_APPEND(c, s->st_head, id, ar_stnext, ar_stprev);
		s->st_first = a->ar_published < s->st_first ? a->ar_published : s->st_first;
		s->st_last = a->ar_published > s->st_last ? a->ar_published : s->st_last;
	}
	s->st_size++;
	cluster_sources_add(s, a->ar_source);
	cent_add(c, s, id);
	post_terms(c, s, pl);
	cent_trim(c, s);
	/* cheap on add: the newcomer replaces the representative only if more central */
	if (s->st_size > 1 && rep_sim(c, s, id) > rep_sim(c, s, s->st_rep))
		s->st_rep = id;
}

/* The last member left: keep only a tombstone in the feed. */
static void
story_bury(struct clusterer *c, struct cstory *s)
{
	uint32_t	i;

	for (i = 0; i < s->st_ncent; i++)	/* cent_sub left none; be sure */
		if (s->st_cent[i].ce_posted)
			unpost(c, s, s->st_cent[i].ce_hash);
	free(s->st_cent);
	free(s->st_src);
	s->st_cent = NULL;
	s->st_src = NULL;
	s->st_ncent = s->st_capcent = s->st_nsrc = s->st_capsrc = 0;
	s->st_removed = 1;
	map_del(&c->c_stories, s->st_id);
	c->c_nstories--;
	if (c->c_ttail)
		c->c_ttail->st_tnext = s;
	else
		c->c_thead = s;
	c->c_ttail = s;
	c->c_ntomb++;
}

/*
 * At most TOMB_MAX tombstones stay: a poller more than that many removals
 * behind would miss some; cluster_feed_horizon() tells it to start over.
 */
static void
tombs_trim(struct clusterer *c)
{
	struct cstory	*s;

	while (c->c_ntomb > TOMB_MAX) {
		s = c->c_thead;
		c->c_thead = s->st_tnext;
		if (c->c_thead == NULL)
			c->c_ttail = NULL;
		c->c_ntomb--;
		c->c_horizon = s->st_seq;
		feed_unlink(c, s);
		free(s);
	}
}

static void
story_leave(struct clusterer *c, struct cstory *s, uint32_t id)
{
	const struct art	*a = &c->c_art[id];

	if (s->st_head == id)
		s->st_head = a->ar_stnext;
	LIST_UNLINK(c, id, ar_stnext, ar_stprev);
	s->st_size--;
	sources_sub(s, a->ar_source);
	cent_sub(c, s, id);
}

/* ---- the kept terms' document frequencies ---- */

static void
df_take(struct clusterer *c, uint32_t id, const struct plan *pl)
{
	size_t	i, off = (size_t)id * c->c_p.doc_terms;

	for (i = 0; i < pl->pl_nk; i++) {
		struct kterm	*k = &c->c_kt[i];

		if (k->kt_fresh) {
			map_putp(&c->c_df, k->kt_hash, k->kt_df);
			k->kt_fresh = 0;
		}
		k->kt_df->df_n++;
		c->c_tdf[off + i] = k->kt_df;
		c->c_tw[off + i] = k->kt_w;
	}
	c->c_art[id].ar_nterms = pl->pl_nk;
}

static void
df_release(struct clusterer *c, uint32_t id)
{
	size_t	i, off = (size_t)id * c->c_p.doc_terms;

	for (i = 0; i < c->c_art[id].ar_nterms; i++) {
		struct dfent	*e = c->c_tdf[off + i];

		if (--e->df_n == 0) {
			map_del(&c->c_df, e->df_hash);
			free(e);
		}
	}
	c->c_art[id].ar_nterms = 0;
}

/* ---- the public functions ---- */

static void
add_commit(struct clusterer *c, uint32_t id, const struct doc *d, struct plan *pl)
{
	struct art	*a = &c->c_art[id];
	struct cstory	*s;

	*a = (struct art){ .ar_exact = d->exact, .ar_simhash = d->simhash,
	    .ar_source = d->source, .ar_arrival = c->c_arrivals++,
	    .ar_published = d->published, .ar_shingles = d->shingles, .ar_held = 1 };
	memcpy(c->c_sig + (size_t)id * c->c_p.k, d->sig, c->c_p.k * sizeof(*d->sig));
	df_take(c, id, pl);
	s = pl->pl_story ? pl->pl_story : story_create(c, pl, id);
	a->ar_story = s;
	cluster_exact_link(c, id);
	cluster_group_join(c, id, pl->pl_group, s);
	story_join(c, s, id, pl);
	cluster_set_count(c, c->c_narticles + 1);
	touch(c, s);
}

int
cluster_add(struct clusterer *c, uint32_t id, const struct doc *d, struct verdict *out)
{
	struct verdict	v;
	struct plan	pl;
	int		r;

	assert(id != CLUSTER_NONE && !cluster_holds(c, id));
	if ((r = decide(c, d, &pl, &v)) < 0)
		return r;
	if ((r = add_reserve(c, id, d, &pl)) < 0)
		goto fail;
	if ((r = lsh_insert(c->c_lsh, id, d->sig)) < 0)
		goto fail;
	if ((r = simindex_insert(c->c_sim, id, d->simhash)) < 0) {
		lsh_remove(c->c_lsh, id, d->sig);
		goto fail;
	}
	add_commit(c, id, d, &pl);
	plan_release(c, &pl);
	v.story = c->c_art[id].ar_story->st_id;
	*out = v;
	return 0;
fail:
	plan_release(c, &pl);
	return r;
}

int
cluster_query(struct clusterer *c, const struct doc *d, struct verdict *out)
{
	struct plan	pl;

	return decide(c, d, &pl, out);
}

void
cluster_remove(struct clusterer *c, uint32_t id)
{
	struct art	*a;
	struct cstory	*s;

	if (!cluster_holds(c, id))
		return;
	a = &c->c_art[id];
	s = a->ar_story;
	lsh_remove(c->c_lsh, id, sig_of(c, id));
	simindex_remove(c->c_sim, id, a->ar_simhash);
	exact_unlink(c, id);
	group_leave(c, id);
	story_leave(c, s, id);
	df_release(c, id);
	a->ar_held = 0;
	a->ar_story = NULL;
	cluster_set_count(c, c->c_narticles - 1);
	if (s->st_size == 0)
		story_bury(c, s);
	else {
		if (a->ar_published <= s->st_first || a->ar_published >= s->st_last)
			published_recompute(c, s);
		if (s->st_rep == id)
			rep_recompute(c, s);
	}
	touch(c, s);
	tombs_trim(c);
}

/* Measured on ECB+, UCI and the near-duplicate set: README "Clustering quality". */
void
cluster_params_default(struct cluster_params *p)
{
	*p = (struct cluster_params){
		.k = 128,		/* DESIGN: "128 is a good start" */
		.shingle = 3,
		.dup_threshold = 0.5,
		.dup_containment = 0.6,	/* heavy trims found, background candidates bounded: README */
		.simhash_k = 3,		/* Manku et al. 2007, 64-bit fingerprints */
		.story_threshold = 0.25,
		.window = 3 * 86400,
		.decay_hours = 48,
		.doc_terms = 40,
		.max_matches = 5,
	};
	cluster_params_finish(p);
}

/*
 * Texts of sizes L and L/2 sharing c of the smaller: |A n B| = cL/2 and
 * |A u B| = L + L/2 - cL/2, so J = c / (3 - c).
 */
double
cluster_dup_floor(const struct cluster_params *p)
{
	double	c = p->dup_containment, j = c / (3 - c);

	return j < p->dup_threshold ? j : p->dup_threshold;
}

void
cluster_params_finish(struct cluster_params *p)
{
	lsh_choose(p->k, cluster_dup_floor(p), &p->bands, &p->rows);
}

struct clusterer *
cluster_new(const struct cluster_params *p)
{
	struct clusterer	*c;
	size_t			 i, nmerge;

	assert(p->k >= 1 && p->bands >= 1 && p->rows >= 1 && p->bands * p->rows <= p->k);
	assert(p->doc_terms >= 1 && p->doc_terms <= UINT16_MAX);
	assert(p->max_matches <= CLUSTER_MAX_MATCHES && p->simhash_k <= 7 && p->window >= 0);
	assert(p->dup_containment > 0 && p->dup_containment <= 1);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_p = *p;
	c->c_freegroup = CLUSTER_NONE;
	for (i = 0; i < LOG_TABLE; i++)
		c->c_logdf[i] = log((double)i + 1);
	cluster_set_count(c, 0);
	nmerge = CENT_MAX + p->doc_terms;
	c->c_lsh = lsh_new(p->bands, p->rows);
	c->c_sim = simindex_new(p->simhash_k);
	c->c_cand = malloc(2 * CAND_MAX * sizeof(*c->c_cand));
	c->c_scored = malloc(2 * CAND_MAX * sizeof(*c->c_scored));
	c->c_scand = malloc(STORY_CAND_MAX * sizeof(*c->c_scand));
	c->c_merge = malloc(nmerge * sizeof(*c->c_merge));
	c->c_trim = malloc(nmerge * sizeof(*c->c_trim));
	if (c->c_lsh == NULL || c->c_sim == NULL || c->c_cand == NULL ||
	    c->c_scored == NULL || c->c_scand == NULL || c->c_merge == NULL ||
	    c->c_trim == NULL) {
		cluster_free(c);
		return NULL;
	}
	return c;
}

void
cluster_free(struct clusterer *c)
{
	struct cstory	*s, *next;
	size_t		 i;

	if (c == NULL)
		return;
	for (s = c->c_fhead; s != NULL; s = next) {	/* every story is in the feed */
		next = s->st_fnext;
		story_free(s);
	}
	map_fini(&c->c_exact, 0);
	map_fini(&c->c_stories, 0);
	map_fini(&c->c_df, 1);
	for (i = 0; i < c->c_posts.m_cap; i++)
		if (c->c_posts.m_used[i])
			free(((struct posting *)(uintptr_t)c->c_posts.m_vals[i])->po_v);
	map_fini(&c->c_posts, 1);
	lsh_free(c->c_lsh);
	simindex_free(c->c_sim);
	free(c->c_art);
	free(c->c_sig);
	free(c->c_tdf);
	free(c->c_tw);
	free(c->c_groups);
	free(c->c_kt);
	free(c->c_cand);
	free(c->c_scored);
	free(c->c_scand);
	free(c->c_merge);
	free(c->c_trim);
	free(c);
}

const struct cluster_params *
cluster_params(const struct clusterer *c)
{
	return &c->c_p;
}

int
cluster_holds(const struct clusterer *c, uint32_t id)
{
	return id < c->c_cap && c->c_art[id].ar_held;
}

uint32_t
cluster_story_of(const struct clusterer *c, uint32_t id)
{
	return cluster_holds(c, id) ? c->c_art[id].ar_story->st_id : CLUSTER_NONE;
}

uint32_t
cluster_duplicate_of(const struct clusterer *c, uint32_t id)
{
	uint32_t	root;

	if (!cluster_holds(c, id))
		return CLUSTER_NONE;
	root = c->c_groups[c->c_art[id].ar_group].gr_head;
	return root == id ? CLUSTER_NONE : root;
}

uint64_t
cluster_simhash(const struct clusterer *c, uint32_t id)
{
	return cluster_holds(c, id) ? c->c_art[id].ar_simhash : 0;
}

int64_t
cluster_published(const struct clusterer *c, uint32_t id)
{
	return cluster_holds(c, id) ? c->c_art[id].ar_published : 0;
}

float
cluster_similarity(struct clusterer *c, uint32_t a, uint32_t b)
{
	struct vec	va, vb;

	if (!cluster_holds(c, a) || !cluster_holds(c, b))
		return 0;
	va = vec_art(c, a);
	vb = vec_art(c, b);
	return (float)cosine(c, &va, &vb);
}

static void
story_fill(const struct cstory *s, struct story *out)
{
	*out = (struct story){ .id = s->st_id, .size = s->st_size,
	    .groups = s->st_groups, .sources = s->st_nsrc,
	    .representative = s->st_removed ? CLUSTER_NONE : s->st_rep,
	    .first_published = s->st_first, .last_published = s->st_last,
	    .updated_seq = s->st_seq, .removed = s->st_removed };
}

int
cluster_story_get(const struct clusterer *c, uint32_t story, struct story *out)
{
	const struct cstory	*s = map_findp(&c->c_stories, story);

	if (s == NULL)
		return -ENOENT;
	story_fill(s, out);
	return 0;
}

size_t
cluster_story_terms(const struct clusterer *c, uint32_t story, const char **out, size_t max)
{
	const struct cstory	*s = map_findp(&c->c_stories, story);
	double			 score[CLUSTER_STORY_TERMS_MAX];
	size_t			 i, j, n = 0;

	if (s == NULL)
		return 0;
	max = max < CLUSTER_STORY_TERMS_MAX ? max : CLUSTER_STORY_TERMS_MAX;
	for (i = 0; i < s->st_ncent && max > 0; i++) {
		const struct cent	*e = &s->st_cent[i];
		double			 x = e->ce_w * idf(c, e->ce_df->df_n);

		if (e->ce_df->df_word[0] == '\0')
			continue;
		/* ties keep the earlier, i.e. smaller, hash first */
		for (j = n; j > 0 && x > score[j - 1]; j--)
			if (j < max) {
				score[j] = score[j - 1];
				out[j] = out[j - 1];
			}
		if (j < max) {
			score[j] = x;
			out[j] = e->ce_df->df_word;
			n += n < max;
		}
	}
	return n;
}

size_t
cluster_story_members(const struct clusterer *c, uint32_t story, uint32_t *out, size_t max)
{
	const struct cstory	*s = map_findp(&c->c_stories, story);
	uint32_t		 id;
	size_t			 n = 0;

	if (s == NULL)
		return 0;
	id = s->st_head;
	while (n < max && n < s->st_size) {
		out[n++] = id;
		id = c->c_art[id].ar_stnext;
	}
	return s->st_size;
}

void
cluster_feed(const struct clusterer *c, uint64_t since, cluster_feed_fn *fn, void *arg)
{
	const struct cstory	*s = c->c_ftail;
	struct story		 st;

	/* back from the tail only as far as the poller has not seen */
	while (s != NULL && s->st_seq > since)
		s = s->st_fprev;
	for (s = s ? s->st_fnext : c->c_fhead; s != NULL; s = s->st_fnext) {
		story_fill(s, &st);
		if (fn(&st, arg) != 0)
			break;
	}
}

uint64_t
cluster_feed_horizon(const struct clusterer *c)
{
	return c->c_horizon;
}

uint64_t
cluster_seq(const struct clusterer *c)
{
	return c->c_seq;
}

size_t
cluster_count_articles(const struct clusterer *c)
{
	return c->c_narticles;
}

size_t
cluster_count_stories(const struct clusterer *c)
{
	return c->c_nstories;
}

size_t
cluster_count_groups(const struct clusterer *c)
{
	return c->c_ngroups;
}
