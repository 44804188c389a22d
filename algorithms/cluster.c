/*
 * cluster: duplicate groups, story clusters and the change feed; the contract
 * is in cluster.h. One struct clusterer holds everything:
 *
 *  - per-article arrays indexed by the caller's dense id (struct art, the
 *    MinHash signature's values cut to 8 bits, the kept terms as term ids and
 *    16-bit weights), grown geometrically;
 *  - the held terms by dense term id (hash, document frequency, ln(df + 1),
 *    display word), so that scoring reads small arrays, not a pointer a term;
 *  - maps (map.c) from the exact hash to the oldest held article with that
 *    hash, from a term hash to its term id, from a term hash to the stories
 *    that posted it (struct posting), and from a story id to its story;
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
 * below 1 are kept as they are) for its doc_terms heaviest terms; idf(t) =
 * ln((N + IDF_PRIOR) / (df(t) + 1)) + 1, N the articles held and df(t) how
 * many of them keep t (scikit-learn's smoothed idf, with IDF_PRIOR documents
 * that have none of the terms in place of its one). A story's centroid sums its members' w per term; cosines use
 * w * idf on both sides, with the current idf (a centroid's norm may lag: see
 * cluster_cent_norm()).
 *
 * Story assignment costs about the same at a million held as at ten
 * thousand: candidates come from the postings of the doc's strongest terms
 * (at most POST_SCAN entries each, newest first), are ranked by the weight of
 * the terms they share without touching the stories, and only the best
 * STORY_SCORE_MAX are scored, each by one pass over its centroid against the
 * doc's weights spread over a scratch array indexed by term id.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-internal.h"
#include "lsh.h"
#include "minhash.h"
#include "mix.h"
#include "prefetch.h"
#include "simhash.h"

_Static_assert(CLUSTER_ID_LIMIT == LSH_ID_LIMIT, "article ids are LSH ids");

/* ---- terms, weights and cosines ---- */

static double
log1_df(const struct clusterer *c, uint32_t df)
{
	return df < LOG_TABLE ? c->c_logdf[df] : log((double)df + 1);
}

static double
idf(const struct clusterer *c, uint32_t df)
{
	return c->c_logn - log1_df(c, df) + 1;
}

/* The idf of held term id, from its cached ln(df + 1). */
static double
term_idf(const struct clusterer *c, uint32_t id)
{
	return c->c_logn - c->c_tlog[id] + 1;
}

void
cluster_set_count(struct clusterer *c, size_t n)
{
	c->c_narticles = n;
	c->c_logn = log((double)n + IDF_PRIOR);
}

/* Room for n more term ids, the free ones (c_nterm less the live) first. */
int
cluster_terms_reserve(struct clusterer *c, size_t n)
{
	size_t	cap = c->c_capterm ? c->c_capterm : 256, nfree = c->c_nterm - map_count(&c->c_df);
	size_t	need = c->c_nterm + (n > nfree ? n - nfree : 0);
	void	*p;

	if (need <= c->c_capterm)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > TERM_MAX)
		return -ENOMEM;
	/* a failure after some succeeded leaves larger arrays, nothing else */
	if ((p = grow(c->c_thash, sizeof(*c->c_thash), cap)) == NULL)
		return -ENOMEM;
	c->c_thash = p;
	if ((p = grow(c->c_tdf, sizeof(*c->c_tdf), cap)) == NULL)
		return -ENOMEM;
	c->c_tdf = p;
	if ((p = grow(c->c_tlog, sizeof(*c->c_tlog), cap)) == NULL)
		return -ENOMEM;
	c->c_tlog = p;
	if ((p = grow(c->c_tword, sizeof(*c->c_tword), cap)) == NULL)
		return -ENOMEM;
	c->c_tword = p;
	if ((p = grow(c->c_tx, sizeof(*c->c_tx), cap)) == NULL)
		return -ENOMEM;
	c->c_tx = p;
	memset(c->c_tx + c->c_capterm, 0, (cap - c->c_capterm) * sizeof(*c->c_tx));
	c->c_capterm = cap;
	return 0;
}

/* A new term with df 0, taking word (malloc'd); room made by cluster_terms_reserve(). */
uint32_t
cluster_term_new(struct clusterer *c, uint64_t h, char *word_take)
{
	uint32_t	id;

	if ((id = c->c_freeterm) != CLUSTER_NONE)
		c->c_freeterm = (uint32_t)c->c_thash[id];
	else {
		assert(c->c_nterm < c->c_capterm);
		id = c->c_nterm++;
	}
	c->c_thash[id] = h;
	c->c_tdf[id] = 0;
	c->c_tlog[id] = log1_df(c, 0);
	c->c_tword[id] = word_take;
	map_put(&c->c_df, h, id);
	return id;
}

/* Count one more (delta 1) or one fewer (-1) article keeping term id; free it at 0. */
void
cluster_term_count(struct clusterer *c, uint32_t id, int delta)
{
	c->c_tdf[id] += (uint32_t)delta;
	c->c_tlog[id] = log1_df(c, c->c_tdf[id]);
	if (c->c_tdf[id] > 0)
		return;
	map_del(&c->c_df, c->c_thash[id]);
	free(c->c_tword[id]);
	c->c_tword[id] = NULL;
	c->c_thash[id] = c->c_freeterm;
	c->c_freeterm = id;
}

/*
 * The scratch c_tx holds one vector at a time, indexed by term id and 0
 * elsewhere, so that the dot product of any other vector with it is one pass
 * over that vector's terms in its own (hash) order. Each filler has a
 * clearer; between uses every entry is 0.
 */

/* The doc's w * idf^2 (its x times the idf the other side multiplies by). */
static void
scratch_doc(struct clusterer *c, size_t nk)
{
	for (size_t i = 0; i < nk; i++) {
		const struct kterm	*k = &c->c_kt[i];

		if (k->kt_term != CLUSTER_NONE)
			c->c_tx[k->kt_term] = k->kt_x * term_idf(c, k->kt_term);
	}
}

static void
scratch_doc_clear(struct clusterer *c, size_t nk)
{
	for (size_t i = 0; i < nk; i++)
		if (c->c_kt[i].kt_term != CLUSTER_NONE)
			c->c_tx[c->c_kt[i].kt_term] = 0;
}

static void
scratch_art(struct clusterer *c, uint32_t id)
{
	const uint8_t	*t = art_tids(c, id);
	const uint8_t	*w = c->c_tw + (size_t)id * c->c_p.doc_terms;

	for (size_t i = 0; i < c->c_art[id].ar_nterms; i++) {
		double	x = term_idf(c, tid_at(t, i));

		c->c_tx[tid_at(t, i)] = tw_get(c->c_twq[w[i]]) * x * x;
	}
}

static void
scratch_art_clear(struct clusterer *c, uint32_t id)
{
	const uint8_t	*t = art_tids(c, id);

	for (size_t i = 0; i < c->c_art[id].ar_nterms; i++)
		c->c_tx[tid_at(t, i)] = 0;
}

static void
scratch_cent(struct clusterer *c, const struct cstory *s)
{
	for (uint32_t i = 0; i < s->st_ncent; i++) {
		double	x = term_idf(c, s->st_cent[i].ce_term);

		c->c_tx[s->st_cent[i].ce_term] = cent_w(&s->st_cent[i]) * x * x;
	}
}

static void
scratch_cent_clear(struct clusterer *c, const struct cstory *s)
{
	for (uint32_t i = 0; i < s->st_ncent; i++)
		c->c_tx[s->st_cent[i].ce_term] = 0;
}

/* A held article's dot product with the scratch, and its squared norm. */
static double
art_dot(const struct clusterer *c, uint32_t id, double *norm2)
{
	const uint8_t	*t = art_tids(c, id);
	const uint8_t	*w = c->c_tw + (size_t)id * c->c_p.doc_terms;
	double		 dot = 0, n2 = 0;

	for (size_t i = 0; i < c->c_art[id].ar_nterms; i++) {
		float		tw = tw_get(c->c_twq[w[i]]);
		uint32_t	term = tid_at(t, i);
		double		x = tw * term_idf(c, term);

		dot += tw * c->c_tx[term];
		n2 += x * x;
	}
	*norm2 = n2;
	return dot;
}

/* A centroid's dot product with the scratch. */
static double
cent_dot(const struct clusterer *c, const struct cstory *s)
{
	double	dot = 0;

	for (uint32_t i = 0; i < s->st_ncent; i++)
		dot += cent_w(&s->st_cent[i]) * c->c_tx[s->st_cent[i].ce_term];
	return dot;
}

/*
 * A centroid's squared norm is sum (w idf)^2 with idf = L + 1 - l, L = ln(N + 1)
 * and l = ln(df + 1): (L + 1)^2 a - 2 (L + 1) b + cc, where a = sum w^2,
 * b = sum w^2 l and cc = sum w^2 l^2. L moves with every add and is applied
 * when the norm is used; a, b and cc move only as the story's own terms
 * change (then cent_norm_refresh() recomputes them) or as other articles
 * change those terms' df. The latter is what is allowed to go stale: a story
 * keeps its parts for up to N / NORM_STALE adds (story_norm2()), in which a
 * term of df d gains about d / NORM_STALE, moving its l by ln(1 + 1/64) =
 * 0.016 or less (more only for terms far rarer than their share of adds),
 * so the norm by well under 1% (idf >= 1). That bounds the work of scoring a
 * candidate to its dot product, and when the parts are recomputed depends
 * only on the adds and removes, never on queries, so replays agree.
 */
void
cluster_cent_norm(const struct clusterer *c, const struct cstory *s, double *a, double *b,
    double *cc)
{
	double	sa = 0, sb = 0, sc = 0;

	for (uint32_t i = 0; i < s->st_ncent; i++) {
		double	w2 = cent_w(&s->st_cent[i]) * cent_w(&s->st_cent[i]);
		double	l = c->c_tlog[s->st_cent[i].ce_term];

		sa += w2;
		sb += w2 * l;
		sc += w2 * l * l;
	}
	*a = sa;
	*b = sb;
	*cc = sc;
}

static void
cent_norm_refresh(const struct clusterer *c, struct cstory *s)
{
	cluster_cent_norm(c, s, &s->st_na, &s->st_nb, &s->st_nc);
	s->st_normat = c->c_arrivals;
}

static double
norm2_of(const struct clusterer *c, double a, double b, double cc)
{
	double	l1 = c->c_logn + 1;

	return l1 * l1 * a - 2 * l1 * b + cc;
}

static int
norm_stale(const struct clusterer *c, const struct cstory *s)
{
	return c->c_arrivals - s->st_normat > c->c_narticles / NORM_STALE;
}

/* Cosine from a dot product and squared norms; 0 when either is empty. */
static double
cos_of(double dot, double n2a, double n2b)
{
	double	r;

	if (!(n2a > 0) || !(n2b > 0) || !(dot > 0))
		return 0;
	r = dot / (sqrt(n2a) * sqrt(n2b));
	return r > 1 ? 1 : r;
}

/* Cosine of held article id and story s, the scratch holding s (scratch_cent()). */
static double
member_sim(const struct clusterer *c, const struct cstory *s, uint32_t id)
{
	double	dot, n2;

	dot = art_dot(c, id, &n2);
	return cos_of(dot, n2, norm2_of(c, s->st_na, s->st_nb, s->st_nc));
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
	for (i = 0; i < n; i++) {
		pl->pl_top[i] = c->c_kt[idx[i]].kt_hash;
		pl->pl_topx[i] = c->c_kt[idx[i]].kt_x;
	}
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

/* A kept weight in units of 1 / TW_ONE, from a raw one. */
static uint16_t
tw_quantize(float raw)
{
	float	q = sublinear(raw) * TW_ONE + 0.5f;

	return q < 1 ? 1 : q > UINT16_MAX ? UINT16_MAX : (uint16_t)q;
}

/* The raw weight code stands for (cluster-internal.h, TW_HALVES). */
static float
tw_raw(unsigned code)
{
	if (code <= TW_HALVES)
		return (float)code / 2;
	return (float)(TW_HALVES / 2 * pow(1.1, code - TW_HALVES));
}

/*
 * One pass up both: c_twq never decreases, so the q up to code k's weight
 * that no lower code took are k's. A binary search a term was 8% of a
 * snapshot's load (bench/index -r, callgrind).
 */
void
cluster_tw_codes(const struct clusterer *c, uint8_t code[TW_QS])
{
	unsigned	q = 0;

	for (unsigned k = 1; k < TW_CODES; k++)
		for (; q <= c->c_twq[k]; q++)
			code[q] = (uint8_t)k;
	for (; q < TW_QS; q++)
		code[q] = 0;
}

/* The code of a raw weight: the nearest half up to 100, the nearest step above. */
static uint8_t
tw_code(float raw)
{
	double	steps;

	if (!(raw > 0.75f))
		return 1;
	if (raw <= (TW_HALVES + 0.5f) / 2)
		return (uint8_t)lrintf(2 * raw);
	steps = log(raw / (TW_HALVES / 2)) / log(1.1);	/* > 0 */
	return steps >= TW_CODES - 1 - TW_HALVES ? TW_CODES - 1 :
	    (uint8_t)(TW_HALVES + lround(steps));
}

/* Fill the scratch kt with the doc's doc_terms heaviest terms, sorted by hash. */
static int
doc_terms(struct clusterer *c, const struct doc *d, struct plan *pl)
{
	const struct terms	*t = d->terms;
	size_t			 i, n = 0, nt = t ? t->n : 0, room, kept;

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
		    .kt_w = t->v[i].weight, .kt_code = tw_code(t->v[i].weight),
		    .kt_word = t->v[i].word, .kt_term = CLUSTER_NONE };
	}
	/* a fingerprinter's doc has doc_terms at most: the weights are sorted only for others' */
	if (n > c->c_p.doc_terms) {
		for (i = 0; i < n; i++)
			c->c_kt[i].kt_w = sublinear(c->c_kt[i].kt_w);
		qsort(c->c_kt, n, sizeof(*c->c_kt), cmp_kterm_weight);
		n = c->c_p.doc_terms;
		qsort(c->c_kt, n, sizeof(*c->c_kt), cmp_kterm_hash);
	}
	for (i = 0; i < n; i++) {
		struct kterm	*k = &c->c_kt[i];
		uint64_t	 term;

		k->kt_q = c->c_twq[k->kt_code];
		k->kt_w = tw_get(k->kt_q);

		if (map_find(&c->c_df, k->kt_hash, &term)) {
			k->kt_term = (uint32_t)term;
			k->kt_x = k->kt_w * term_idf(c, k->kt_term);
		} else
			k->kt_x = k->kt_w * idf(c, 0);
	}
	/*
	 * With c_termmax terms live a new one gets no id, so the doc keeps the
	 * terms it can: the known ones and, in hash order, new ones while ids
	 * last. The live count, not the ids' history, decides, so a replay
	 * after a snapshot's load keeps the same.
	 */
	room = map_count(&c->c_df) < c->c_termmax ? c->c_termmax - map_count(&c->c_df) : 0;
	for (i = 0, kept = 0; i < n; i++) {
		if (c->c_kt[i].kt_term == CLUSTER_NONE) {
			if (room == 0)
				continue;
			room--;
		}
		c->c_kt[kept++] = c->c_kt[i];
	}
	n = kept;
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

static const uint8_t *
sig_of(const struct clusterer *c, uint32_t id)
{
	return c->c_sig + (size_t)id * c->c_p.k;
}

/*
 * The doc's signature as kept (minhash_keep(), a byte a value) into c_ksig,
 * and widened into c_wsig for lsh.c, which reads 16 bits a value.
 */
static const uint32_t *
sig_prepare(struct clusterer *c, const uint32_t *sig)
{
	for (unsigned i = 0; i < c->c_p.k; i++) {
		c->c_ksig[i] = minhash_keep(i, sig[i]);
		c->c_wsig[i] = c->c_ksig[i];
	}
	return c->c_wsig;
}

/* lsh.c's lsh_rows_fn: values from..from+n-1 of article id's kept signature. */
static void
sig_rows(void *arg, uint32_t id, unsigned from, unsigned n, uint32_t *out)
{
	const uint8_t	*s = sig_of(arg, id) + from;

	if (out == NULL) {
		PREFETCH(s);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		out[i] = s[i];
}

/* simhash.c's simindex_fp_fn: article id's SimHash, which its index does not keep. */
static uint64_t
art_simhash(void *arg, uint32_t id)
{
	const struct clusterer	*c = arg;

	return c->c_art[id].ar_simhash;
}

/* Held article id's kept signature, widened into c_wsig for lsh.c. */
static const uint32_t *
cluster_sig_wide(const struct clusterer *c, uint32_t id)
{
	const uint8_t	*s = sig_of(c, id);

	for (unsigned i = 0; i < c->c_p.k; i++)
		c->c_wsig[i] = s[i];
	return c->c_wsig;
}

/*
 * The Jaccard estimate of the doc's signature (prepared in c_ksig) and a
 * held one, corrected for the kept values' chance agreements
 * (minhash_jaccard_kept()). README "Near duplicates" has its error.
 */
static double
sig_jaccard(const struct clusterer *c, const struct doc *d, uint32_t id)
{
	if (d->sig[0] == MINHASH_EMPTY || c->c_art[id].ar_nosig)
		return 0;
	return minhash_jaccard_kept(c->c_ksig, sig_of(c, id), c->c_p.k);
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
 * SimHash, over weighted terms, vouches for a near duplicate only where the
 * shingles agree at least this much: a shared headline weighs three times a
 * body word and names twice again, so different bodies under one headline
 * could agree in SimHash. ECB+ posted with each story's first headline on
 * every article gave 6 near duplicates of 81 whose bodies shared under 0.2
 * of their 3-word shingles, 1 with this floor (the one they have under their
 * own headlines too); ECB+ as it is and the near-duplicate sets of
 * tools/quality-figures were unchanged by a floor from 0.05 to 0.2, and UCI's
 * headlines gave 931 near duplicates instead of 953, 83 of them naming
 * another story instead of 85 (B-cubed F1 0.791 -> 0.792).
 */
#define SIMHASH_MIN_JACCARD	0.1

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

	n = lsh_query(c->c_lsh, sig_prepare(c, d->sig), cand, CAND_MAX);
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
		j = sig_jaccard(c, d, cand[i]);
		if (j >= c->c_p.dup_threshold || contained(c, j, d->shingles, a->ar_shingles) ||
		    (nk > 0 && a->ar_nterms > 0 && j >= SIMHASH_MIN_JACCARD &&
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
	uint32_t	head;
	size_t		i, nv;

	if ((head = cluster_exact_find(c, d->exact)) != CLUSTER_NONE) {
		uint32_t	id = head;

		pl->pl_group = c->c_art[id].ar_group;
		out->status = VERDICT_EXACT_DUPLICATE;
		do {
			add_match(c, out, id, MATCH_EXACT, 1.0);
			id = c->c_art[id].ar_exnext;
		} while (id != head && out->nmatches < c->c_p.max_matches);
	}
	nv = near_candidates(c, d, pl->pl_nk);
	pl->pl_prepared = 1;	/* by near_candidates(), for add_planned() */
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

/* The slot of s in the query's candidate set, or the empty slot where it goes. */
static uint32_t
sset_find(const struct clusterer *c, const struct cstory *s)
{
	uint32_t	i = (uint32_t)mix64((uint64_t)(uintptr_t)s) & (SSET_SLOTS - 1);

	while (c->c_sset[i].ss_story != NULL && c->c_sset[i].ss_story != s)
		i = (i + 1) & (SSET_SLOTS - 1);
	return i;
}

/* The first entry of posting p a query scans: the newest POST_SCAN are. */
static uint32_t
scan_start(const struct posting *p)
{
	return p->po_n > POST_SCAN ? p->po_n - POST_SCAN : 0;
}

/*
 * Stories posting the doc's strongest terms, each posting scanned newest
 * first up to POST_SCAN entries, with the doc's w * idf summed over the terms
 * each shares; into c_scand in the order first seen, the count. Only the
 * posting arrays and a set local to the query are read, not the stories, so
 * the cost does not grow with the stories held.
 */
static size_t
story_candidates(struct clusterer *c, const struct plan *pl)
{
	const struct posting	*post[POST_TERMS];
	size_t			 t, i, n = 0;

	/*
	 * The entries each posting will scan, asked for at once, so that their
	 * misses overlap. The newest line of each alone: bench/index -n 200000
	 * -R 0, alternating, cluster_add 50.5-52.2 us -> 47.6-48.7. All of
	 * them (up to POST_SCAN pointers, 8 lines): -n 200000 -R 0 -P, nine
	 * runs each, 27.0 us against 28.8 over the adds; at a million, two
	 * builds side by side on the two cores, 37.6 against 40.7 over the
	 * adds and 40.7 against 45.1 at rest.
	 */
	for (t = 0; t < pl->pl_ntop; t++) {
		const struct posting	*p;
		uint32_t		 from;

		if ((p = post[t] = map_findp(&c->c_posts, pl->pl_top[t])) != NULL && p->po_n > 0) {
			from = scan_start(p);
			prefetch_range(&p->po_v[from], (p->po_n - from) * sizeof(*p->po_v));
		}
	}
	for (t = 0; t < pl->pl_ntop; t++) {
		const struct posting	*p = post[t];
		uint32_t		 j, stop;

		if (p == NULL)
			continue;
		stop = scan_start(p);
		for (j = p->po_n; j > stop; j--) {
			struct cstory	*s = p->po_v[j - 1];
			struct sslot	*slot = &c->c_sset[sset_find(c, s)];

			if (slot->ss_story == NULL) {
				assert(n < STORY_CAND_MAX);
				c->c_scand[n] = (struct scand){ .sd_story = s,
				    .sd_order = (uint32_t)n, .sd_slot = (uint32_t)(slot - c->c_sset) };
				*slot = (struct sslot){ .ss_story = s, .ss_i = (uint32_t)n++ };
			}
			c->c_scand[slot->ss_i].sd_pre += pl->pl_topx[t];
		}
	}
	for (i = 0; i < n; i++)
		c->c_sset[c->c_scand[i].sd_slot].ss_story = NULL;
	return n;
}

/* Does candidate a rank before b: more shared weight, then seen first? */
static int
ranks_before(const struct scand *a, const struct scand *b)
{
	if (a->sd_pre != b->sd_pre)
		return a->sd_pre > b->sd_pre;
	return a->sd_order < b->sd_order;
}

/*
 * The STORY_SCORE_MAX candidates in the window that share the most weight
 * with the doc, best first, moved to the front of c_scand; the count. The
 * 2 * STORY_SCORE_MAX best are picked from the shared weights alone, and only
 * they are looked at (in_window()): a story is a cache miss where the
 * candidates are not.
 */
static size_t
story_pool(struct clusterer *c, const struct doc *d, size_t n)
{
	struct scand	*v = c->c_scand;
	size_t		 i, j, np = 0, nw = 0;

	for (i = 0; i < n; i++) {
		struct scand	x = v[i];

		if (np == 2 * STORY_SCORE_MAX && !ranks_before(&x, &v[np - 1]))
			continue;
		np -= np == 2 * STORY_SCORE_MAX;
		/* np <= i: the entries this overwrites were seen already */
		for (j = np; j > 0 && ranks_before(&x, &v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = x;
		np++;
	}
	for (i = 0; i < np && nw < STORY_SCORE_MAX; i++)
		if (in_window(c, v[i].sd_story, d->published))
			v[nw++] = v[i];
	return nw;
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
 * The threshold for a doc with nk kept terms: story_threshold, times
 * sqrt(nk / CLUSTER_SHORT_TERMS) below CLUSTER_SHORT_TERMS terms. A headline
 * alone has a handful of terms; its cosine with a story's centroid of
 * hundreds is small even when every word matches, and falls as the square
 * root of its share of the centroid's terms (README "Clustering quality": in
 * proportion to nk, one common word was enough for a four-word headline).
 * young() raises it for stories of few members.
 */
static double
threshold(const struct clusterer *c, size_t nk)
{
	double	t = c->c_p.story_threshold;

	return nk < CLUSTER_SHORT_TERMS ? t * sqrt((double)nk / CLUSTER_SHORT_TERMS) : t;
}

/*
 * The factor on the threshold for joining story s: 1 + YOUNG_MARGIN / size. A
 * centroid of one or two articles is a noisy estimate of its story, and the
 * first articles decide what a story is about; two events of one kind (two
 * earthquakes) are told apart, if at all, at that point.
 */
static double
young(const struct cstory *s)
{
	return 1 + YOUNG_MARGIN / s->st_size;
}

/*
 * The cosine of two centroids, given their squared norms: one pass over both
 * in hash order. Only for a possible merge, so rare.
 */
static double
cent_cosine(const struct clusterer *c, const struct cstory *a, double n2a,
    const struct cstory *b, double n2b)
{
	double		dot = 0;
	uint32_t	i = 0, j = 0;

	while (i < a->st_ncent && j < b->st_ncent) {
		const struct cent	*x = &a->st_cent[i], *y = &b->st_cent[j];
		uint64_t		 hx = c->c_thash[x->ce_term], hy = c->c_thash[y->ce_term];
		double			 f;

		if (hx != hy) {
			i += hx < hy;
			j += hy < hx;
			continue;
		}
		f = term_idf(c, x->ce_term);
		dot += cent_w(x) * cent_w(y) * f * f;
		i++;
		j++;
	}
	return cos_of(dot, n2a, n2b);
}

/* A story scored for the doc: its decayed cosine and its centroid's squared norm. */
struct ranked {
	struct cstory	*rk_story;
	double		 rk_sim, rk_n2;
};

/* Does a rank before b (more similar, ties: the older)? b may be empty. */
static int
ranks_above(const struct ranked *a, const struct ranked *b)
{
	return b->rk_story == NULL || a->rk_sim > b->rk_sim ||
	    (a->rk_sim == b->rk_sim && a->rk_story->st_id < b->rk_story->st_id);
}

/*
 * The best story at or above the threshold, decay applied (ties: the older),
 * or NULL. When the doc clearly belongs to the second best too (scores at
 * least MERGE_MARGIN times its threshold with it) and the two centroids have
 * cosine merge_threshold or more, they are one story told in other words by
 * its first articles (a "Bank of England" story and a "Carney" one): the
 * older of the two is returned and the younger is pl_absorb.
 */
static struct cstory *
best_story(struct clusterer *c, const struct doc *d, struct plan *pl)
{
	struct ranked	 top[2] = { { 0 }, { 0 } };
	struct cstory	*older, *younger;
	double		 thr = threshold(c, pl->pl_nk);
	size_t		 i, n;

	if (pl->pl_nk == 0)
		return NULL;
	n = story_pool(c, d, story_candidates(c, pl));
	for (i = 0; i < n; i++) {
		struct cstory	*s = c->c_scand[i].sd_story;
		double		 na = s->st_na, nb = s->st_nb, nc = s->st_nc;
		struct ranked	 r = { .rk_story = s };

		/*
		 * The next candidate's centroid, asked for now: a story's terms
		 * are a few cache lines of their own, a miss each that the next
		 * iteration would otherwise wait for (bench/index -n 200000 -R
		 * 0, alternating: cluster_add 53.1-55.1 us -> 49.5-52.3).
		 */
		if (i + 1 < n) {
			const struct cstory	*next = c->c_scand[i + 1].sd_story;

			prefetch_range(next->st_cent, next->st_ncent * sizeof(*next->st_cent));
		}

		if (norm_stale(c, s)) {
			cluster_cent_norm(c, s, &na, &nb, &nc);
			c->c_fresh[pl->pl_nfresh++] = (struct freshnorm){ .fn_story = s,
			    .fn_a = na, .fn_b = nb, .fn_c = nc };
		}
		r.rk_n2 = norm2_of(c, na, nb, nc);
		r.rk_sim = cos_of(cent_dot(c, s), pl->pl_dn2, r.rk_n2) * decay(c, s, d->published);
		if (r.rk_sim < thr * young(s))
			continue;
		if (ranks_above(&r, &top[0])) {
			top[1] = top[0];
			top[0] = r;
		} else if (ranks_above(&r, &top[1]))
			top[1] = r;
	}
	if (top[1].rk_story == NULL || c->c_p.merge_threshold <= 0 ||
	    top[1].rk_sim < MERGE_MARGIN * thr ||
	    cent_cosine(c, top[0].rk_story, top[0].rk_n2, top[1].rk_story, top[1].rk_n2) <
	    c->c_p.merge_threshold)
		return top[0].rk_story;
	older = top[0].rk_story;
	younger = top[1].rk_story;
	if (younger->st_id < older->st_id) {
		older = top[1].rk_story;
		younger = top[0].rk_story;
	}
	pl->pl_absorb = younger;
	return older;
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
	uint32_t	id, tail;
	size_t		n = 0, scanned = 0, i;

	if (out->nmatches >= c->c_p.max_matches || s->st_size == 0)
		return;
	tail = c->c_art[s->st_head].ar_stprev;
	for (id = tail; scanned < RELATED_SCAN && scanned < s->st_size; scanned++) {
		double	sim, dot, n2;

		if (!listed(out, id)) {
			dot = art_dot(c, id, &n2);
			if ((sim = cos_of(dot, pl->pl_dn2, n2)) > 0)
				c->c_scored[n++] = (struct scored){ .sc_id = id, .sc_sim = sim,
				    .sc_arrival = c->c_art[id].ar_arrival };
		}
		id = c->c_art[id].ar_stprev;
	}
	qsort(c->c_scored, n, sizeof(*c->c_scored), cmp_scored);
	for (i = 0; i < n; i++)
		add_match(c, out, c->c_scored[i].sc_id, MATCH_RELATED, c->c_scored[i].sc_sim);
}

/* ---- the candidate indexes, which a replica that only applies decisions lets go ---- */

int
cluster_cmp_arrival(const void *pa, const void *pb)
{
	const struct arrival	*a = pa, *b = pb;

	return a->ai_arrival < b->ai_arrival ? -1 : a->ai_arrival > b->ai_arrival;
}

/*
 * File the held articles of order, sorted by arrival, in the empty candidate
 * indexes: the SimHash index one by one, the LSH sized once and filled band
 * by band (lsh_fill()).
 */
int
cluster_indexes_fill(struct clusterer *c, const struct arrival *order, size_t n)
{
	uint32_t	*ids;
	int		 r = 0;

	if ((ids = malloc((n ? n : 1) * sizeof(*ids))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		ids[i] = order[i].ai_id;
		r = simindex_insert(c->c_sim, ids[i], c->c_art[ids[i]].ar_simhash);
	}
	if (r == 0)
		r = lsh_fill(c->c_lsh, ids, n);
	free(ids);
	return r;
}

void
cluster_drop_indexes(struct clusterer *c)
{
	lsh_free(c->c_lsh);
	simindex_free(c->c_sim);
	c->c_lsh = NULL;
	c->c_sim = NULL;
}

/*
 * Empty candidate indexes, sized for params.room from the start where the
 * memory is there (else they grow as articles come, as they do past room,
 * and cluster_room_kept() says so). 0 or -ENOMEM.
 */
static int
indexes_new(struct clusterer *c)
{
	c->c_lsh = lsh_new(c->c_p.bands, c->c_p.rows, sig_rows, c);
	c->c_sim = simindex_new(c->c_p.simhash_k, art_simhash, c);
	if (c->c_lsh == NULL || c->c_sim == NULL)
		return -ENOMEM;
	/* without the room the indexes still work, growing as they fill */
	c->c_roomkept = 1;
	if (c->c_p.room > 0) {
		if (lsh_keep_room(c->c_lsh, c->c_p.room) < 0)
			c->c_roomkept = 0;
		if (simindex_keep_room(c->c_sim, c->c_p.room) < 0)
			c->c_roomkept = 0;
	}
	return 0;
}

/*
 * The candidate indexes, made again from the held articles if they were let
 * go, as a snapshot's load makes them, so they give the same candidates in
 * the same order. -ENOMEM leaves them let go.
 */
static int
indexes_ready(struct clusterer *c)
{
	struct arrival	*order;
	size_t		 n = 0;
	int		 r = -ENOMEM;

	if (c->c_lsh != NULL)
		return 0;
	order = malloc((c->c_narticles + 1) * sizeof(*order));
	if (indexes_new(c) == 0 && order != NULL) {
		for (uint32_t id = 0; id < c->c_ninit; id++)
			if (c->c_art[id].ar_held)
				order[n++] = (struct arrival){ .ai_arrival = c->c_art[id].ar_arrival,
				    .ai_id = id };
		qsort(order, n, sizeof(*order), cluster_cmp_arrival);
		r = cluster_indexes_fill(c, order, n);
	}
	free(order);
	if (r < 0)
		cluster_drop_indexes(c);
	return r;
}

/* The verdict for d, without changing any observable state. */
static int
decide(struct clusterer *c, const struct doc *d, struct plan *pl, struct verdict *out)
{
	size_t	i;
	int	r;

	memset(pl, 0, sizeof(*pl));
	memset(out, 0, sizeof(*out));
	pl->pl_group = CLUSTER_NONE;
	out->story = CLUSTER_NONE;
	out->duplicate_of = CLUSTER_NONE;
	if ((r = indexes_ready(c)) < 0 || (r = doc_terms(c, d, pl)) < 0)
		return r;
	for (i = 0; i < pl->pl_nk; i++)
		pl->pl_dn2 += c->c_kt[i].kt_x * c->c_kt[i].kt_x;
	scratch_doc(c, pl->pl_nk);
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
	scratch_doc_clear(c, pl->pl_nk);
	return 0;
}

/* ---- reserving: every allocation an add needs, before anything changes ---- */

int
cluster_arts_reserve(struct clusterer *c, uint32_t id)
{
	size_t	 cap = c->c_cap ? c->c_cap : 64, dt = c->c_p.doc_terms;
	void	*p;

	if (id >= c->c_cap) {
		while (cap <= id)
			cap *= 2;
		/* a failure after some succeeded leaves larger arrays, nothing else */
		if ((p = grow(c->c_art, sizeof(*c->c_art), cap)) == NULL)
			return -ENOMEM;
		c->c_art = p;
		if ((p = grow(c->c_sig, sizeof(*c->c_sig) * c->c_p.k, cap)) == NULL)
			return -ENOMEM;
		c->c_sig = p;
		if ((p = grow(c->c_tid, TID_BYTES * dt, cap)) == NULL)
			return -ENOMEM;
		c->c_tid = p;
		if ((p = grow(c->c_tw, sizeof(*c->c_tw) * dt, cap)) == NULL)
			return -ENOMEM;
		c->c_tw = p;
		c->c_cap = cap;
	}
	/*
	 * Records are cleared as ids reach them, not when the arrays double:
	 * clearing the new half at once, and faulting in its pages, held one
	 * add 6.8 ms at 131,072 articles.
	 */
	if (id >= c->c_ninit) {
		memset(c->c_art + c->c_ninit, 0, (id + 1 - c->c_ninit) * sizeof(*c->c_art));
		c->c_ninit = id + 1;
	}
	return 0;
}

/* Term ids and display words for the doc's terms no held article keeps. */
static int
terms_reserve(struct clusterer *c, const struct doc *d, const struct plan *pl)
{
	size_t	i;

	if (map_reserve(&c->c_df, pl->pl_nk) < 0 || cluster_terms_reserve(c, pl->pl_nk) < 0)
		return -ENOMEM;
	for (i = 0; i < pl->pl_nk; i++) {
		struct kterm	*k = &c->c_kt[i];
		const char	*w;
		size_t		 len;

		if (k->kt_term != CLUSTER_NONE)
			continue;
		w = terms_word(d->terms, k->kt_word, &len);
		if ((k->kt_str = malloc(len + 1)) == NULL)
			return -ENOMEM;
		memcpy(k->kt_str, w, len);
		k->kt_str[len] = '\0';
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

static int
sources_find(const struct cstory *s, uint64_t h, uint32_t *at)
{
	uint32_t	lo = 0, hi = s->st_nsrc, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->st_src[mid].sc_hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < s->st_nsrc && s->st_src[lo].sc_hash == h;
}

/*
 * Room for nk more centroid terms and for source (0: none) if it is new to s,
 * with no slack to speak of: most stories are small and stay so. A joining
 * article's centroid terms get their room from story_room() instead.
 */
int
cluster_story_reserve(struct cstory *s, size_t nk, uint64_t source)
{
	struct cent	*ce;
	struct srccount	*sc;
	size_t		 need = s->st_ncent + nk;
	uint32_t	 at;

	if (need > s->st_capcent) {
		if (need > UINT32_MAX || (ce = grow(s->st_cent, sizeof(*s->st_cent), need)) == NULL)
			return -ENOMEM;
		s->st_cent = ce;
		s->st_capcent = (uint32_t)need;
	}
	if (source != 0 && s->st_nsrc == s->st_capsrc && !sources_find(s, source, &at)) {
		/* exactly, but by an eighth once long: sources_add() inserts in order */
		size_t	cap = (size_t)s->st_nsrc + 1 + s->st_nsrc / 8;

		if (cap > UINT32_MAX || (sc = grow(s->st_src, sizeof(*s->st_src), cap)) == NULL)
			return -ENOMEM;
		s->st_src = sc;
		s->st_capsrc = (uint32_t)cap;
	}
	return 0;
}

/*
 * Room in the story the doc joins (or starts). Centroids are merged in
 * c_merge and copied to the story (story_join()), so the story's array only
 * ever holds what it keeps: it is replaced by one of exactly that length when
 * it must grow, which is one malloc and free an add and leaves no slack (the
 * growth by half it replaced left 27%, 115 bytes an article). Here the merge
 * is not yet known: the room is for the most it can hold, both centroids'
 * terms as if none were shared, at most CENT_MAX (past it, cent_trim() keeps
 * CENT_KEEP); story_join() keeps the story's own array if that is enough,
 * else takes one of exactly the merge's length, or this room should malloc()
 * fail there (a realloc() cutting this room left holes: 836 bytes an article
 * by RSS at 300,000 held against 796). Counting the shared terms here walked
 * the centroid in hash order, a cache miss a term, half of add_planned()'s
 * samples at saturation; an add takes 0.98-0.99 of the time it took then, in
 * one process beside a clusterer that counted (bench/index -R, a throwaway).
 * A story absorbing another gets the room for both, untrimmed
 * (story_absorb()).
 */
static int
story_room(struct cstory *s, const struct doc *d, struct plan *pl)
{
	size_t	most = s->st_ncent + pl->pl_nk;

	if (pl->pl_absorb != NULL)
		return cluster_story_reserve(s, pl->pl_nk + pl->pl_absorb->st_ncent, d->source);
	if (most > CENT_MAX)
		most = CENT_MAX;
	if (most > s->st_capcent) {
		if ((pl->pl_cent = grow(NULL, sizeof(*pl->pl_cent), most)) == NULL)
			return -ENOMEM;
		pl->pl_capcent = (uint32_t)most;
	}
	return cluster_story_reserve(s, 0, d->source);
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
		/*
		 * By a quarter, from one: postings of common terms run to
		 * thousands of entries, and doubling from 4 left a third of
		 * all entries empty (22 bytes an article at 200,000 held).
		 */
		if (p->po_n == p->po_cap) {
			size_t		  cap = (size_t)p->po_n + 1 + p->po_n / 4;
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
	if (!s->st_removed)	/* else st_src is st_tnext */
		free(s->st_src);
	free(s);
}

/* Free what add_reserve() allocated and add_commit() did not take. */
static void
plan_release(struct clusterer *c, struct plan *pl)
{
	size_t	i;

	for (i = 0; i < pl->pl_nk; i++) {
		free(c->c_kt[i].kt_str);
		c->c_kt[i].kt_str = NULL;
	}
	for (i = 0; i < POST_TERMS; i++) {
		if (pl->pl_post[i] != NULL)
			free(pl->pl_post[i]->po_v);
		free(pl->pl_post[i]);
		pl->pl_post[i] = NULL;
	}
	story_free(pl->pl_fresh);
	pl->pl_fresh = NULL;
	free(pl->pl_cent);
	pl->pl_cent = NULL;
}

/* Room in x for y's sources and the newcomer's, for story_absorb() and story_join(). */
static int
absorb_reserve(struct cstory *x, const struct cstory *y)
{
	struct srccount	*sc;
	size_t		 need = (size_t)x->st_nsrc + y->st_nsrc + 1;

	if (need > x->st_capsrc) {
		if ((sc = grow(x->st_src, sizeof(*x->st_src), need)) == NULL)
			return -ENOMEM;
		x->st_src = sc;
		x->st_capsrc = need;
	}
	return 0;
}

static int
add_reserve(struct clusterer *c, uint32_t id, const struct doc *d, struct plan *pl)
{
	struct cstory	*s = pl->pl_story;

	if (c->c_arrivals >= ARRIVAL_MAX - 1 || cluster_arts_reserve(c, id) < 0 ||
	    cluster_exact_reserve(c, 1) < 0 || terms_reserve(c, d, pl) < 0 ||
	    cluster_groups_reserve(c) < 0)
		return -ENOMEM;
	if (s == NULL) {
		if (c->c_laststory == UINT32_MAX - 1)	/* CLUSTER_NONE is not an id */
			return -ENOMEM;
		if ((s = pl->pl_fresh = calloc(1, sizeof(*s))) == NULL ||
		    map_reserve(&c->c_stories, 1) < 0)
			return -ENOMEM;
	}
	if (pl->pl_absorb != NULL && absorb_reserve(s, pl->pl_absorb) < 0)
		return -ENOMEM;
	if (story_room(s, d, pl) < 0 || postings_reserve(c, pl) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- the exact-hash index (struct exindex) ---- */

#define EX_EMPTY	0u
#define EX_ID		(CLUSTER_ID_LIMIT - 1)

static uint32_t
ex_tag(uint64_t h)
{
	uint32_t	t = (uint32_t)(h >> 56);

	return (t ? t : 1) << 24;
}

static size_t
ex_home(size_t cap, uint64_t h)
{
	return (size_t)h & (cap - 1);
}

/* The slot of t holding hash h, or NULL. */
static uint32_t *
ex_find_in(const struct clusterer *c, const struct extable *t, uint64_t h)
{
	uint32_t	tag = ex_tag(h), v;
	size_t		i;

	if (t->cap == 0)
		return NULL;
	for (i = ex_home(t->cap, h); (v = t->slot[i]) != EX_EMPTY; i = (i + 1) & (t->cap - 1))
		if ((v & ~EX_ID) == tag && c->c_art[v & EX_ID].ar_exact == h)
			return &t->slot[i];
	return NULL;
}

/* The slot holding hash h, *in_old saying which table; NULL when none does. */
static uint32_t *
ex_find(const struct clusterer *c, uint64_t h, int *in_old)
{
	uint32_t	*v;

	*in_old = 0;
	if ((v = ex_find_in(c, &c->c_exact.cur, h)) != NULL || c->c_exact.old.slot == NULL)
		return v;
	*in_old = 1;
	return ex_find_in(c, &c->c_exact.old, h);
}

static void
ex_place(struct extable *t, uint64_t h, uint32_t v)
{
	size_t	i = ex_home(t->cap, h);

	while (t->slot[i] != EX_EMPTY)
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = v;
	t->n++;
}

/*
 * Move at least slots slots of the old table to the current one, from the
 * cursor on, a whole run at a time: a lookup in the old table then never
 * meets a hole inside a run. The cursor starts at an empty slot, and every
 * entry left is at or past it, since removal only shifts entries back
 * within their run.
 */
static void
ex_move(struct clusterer *c, size_t slots)
{
	struct exindex	*x = &c->c_exact;
	struct extable	*o = &x->old;

	while (o->slot != NULL && slots > 0) {
		size_t	i = x->cursor;

		if (o->n == 0) {
			free(o->slot);
			*o = (struct extable){ 0 };
			break;
		}
		if (o->slot[i] == EX_EMPTY)
			slots--;
		for (; o->slot[i] != EX_EMPTY; i = (i + 1) & (o->cap - 1)) {
			uint32_t	v = o->slot[i];

			ex_place(&x->cur, c->c_art[v & EX_ID].ar_exact, v);
			o->slot[i] = EX_EMPTY;
			o->n--;
			slots -= slots > 0;
		}
		x->cursor = (i + 1) & (o->cap - 1);
	}
}

#define EX_MOVE_STEP	8	/* old slots moved an insert: done well before the next doubling */

/*
 * Room for extra more hashes, at a load of at most 3/4. A table that must
 * double starts moving to the new one, EX_MOVE_STEP slots each call after
 * (doubling at once held one add 5.8 ms at 200,577 articles); room for
 * many at once (a snapshot's load) moves everything now.
 */
int
cluster_exact_reserve(struct clusterer *c, size_t extra)
{
	struct exindex	*x = &c->c_exact;
	size_t		 cap = x->cur.cap ? x->cur.cap : 16, n = x->cur.n + x->old.n;
	uint32_t	*slot;

	ex_move(c, EX_MOVE_STEP);
	while ((n + extra) * 4 > cap * 3)
		cap *= 2;
	if (cap == x->cur.cap)
		return 0;
	if ((slot = calloc(cap, sizeof(*slot))) == NULL)
		return -ENOMEM;
	ex_move(c, SIZE_MAX);
	x->old = x->cur;
	x->cur = (struct extable){ .slot = slot, .cap = cap };
	for (x->cursor = 0; x->old.n > 0 && x->old.slot[x->cursor] != EX_EMPTY; x->cursor++)
		;
	if (extra > 1 || x->old.n == 0)
		ex_move(c, SIZE_MAX);
	return 0;
}

uint32_t
cluster_exact_find(const struct clusterer *c, uint64_t h)
{
	int		 in_old;
	const uint32_t	*v = ex_find(c, h, &in_old);

	return v == NULL ? CLUSTER_NONE : *v & EX_ID;
}

/* Remove slot i of t, shifting back the rest of its run: no tombstones. */
static void
ex_remove(struct clusterer *c, struct extable *t, size_t i)
{
	size_t	mask = t->cap - 1, j = i, home;

	for (;;) {
		j = (j + 1) & mask;
		if (t->slot[j] == EX_EMPTY)
			break;
		home = ex_home(t->cap, c->c_art[t->slot[j] & EX_ID].ar_exact);
		/* j's entry may fill i unless its home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i] = EX_EMPTY;
	t->n--;
}

void
cluster_exact_link(struct clusterer *c, uint32_t id)
{
	struct art	*a = &c->c_art[id];
	uint32_t	 head = cluster_exact_find(c, a->ar_exact);

	if (head != CLUSTER_NONE) {
		LIST_APPEND(c, head, id, ar_exnext, ar_exprev);
		return;
	}
	a->ar_exnext = a->ar_exprev = id;
	ex_place(&c->c_exact.cur, a->ar_exact, ex_tag(a->ar_exact) | id);
}

static void
exact_unlink(struct clusterer *c, uint32_t id)
{
	struct art	*a = &c->c_art[id];
	int		 in_old;
	uint32_t	*v = ex_find(c, a->ar_exact, &in_old);
	struct extable	*t = in_old ? &c->c_exact.old : &c->c_exact.cur;

	assert(v != NULL);
	if (a->ar_exnext == id) {
		ex_remove(c, t, (size_t)(v - t->slot));
		return;
	}
	LIST_UNLINK(c, id, ar_exnext, ar_exprev);
	if ((*v & EX_ID) == id)
		*v = ex_tag(a->ar_exact) | a->ar_exnext;
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
		*g = (struct group){ .gr_head = id, .gr_size = 1, .gr_story = s };
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

/* Count n more members from source h (room reserved). */
static void
sources_add(struct cstory *s, uint64_t h, uint32_t n)
{
	uint32_t	lo;

	if (h == 0)
		return;
	if (sources_find(s, h, &lo)) {
		s->st_src[lo].sc_n += n;
		return;
	}
	assert(s->st_nsrc < s->st_capsrc);
	memmove(s->st_src + lo + 1, s->st_src + lo, (s->st_nsrc - lo) * sizeof(*s->st_src));
	s->st_src[lo] = (struct srccount){ .sc_hash = h, .sc_n = n };
	s->st_nsrc++;
}

void
cluster_sources_add(struct cstory *s, uint64_t h)
{
	sources_add(s, h, 1);
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

/* Term h in the n centroid terms v, or NULL. */
static struct cent *
cent_find(const struct clusterer *c, struct cent *v, size_t n, uint64_t h)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c->c_thash[v[mid].ce_term] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && c->c_thash[v[lo].ce_term] == h ? &v[lo] : NULL;
}

struct cent *
cluster_cent_find(const struct clusterer *c, const struct cstory *s, uint64_t h)
{
	return cent_find(c, s->st_cent, s->st_ncent, h);
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

/*
 * Post the plan's strongest terms to s, whose centroid is the n terms v, with
 * the space postings_reserve() made.
 */
static void
post_terms(struct clusterer *c, struct cstory *s, struct cent *v, size_t n, struct plan *pl)
{
	size_t	t;

	for (t = 0; t < pl->pl_ntop; t++) {
		struct cent	*e = cent_find(c, v, n, pl->pl_top[t]);
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

/*
 * Keep the CENT_KEEP heaviest terms by w * idf once past CENT_MAX, of s's
 * centroid as the n terms v; the count kept.
 */
static size_t
cent_trim(struct clusterer *c, struct cstory *s, struct cent *v, size_t n)
{
	size_t	i, kept = 0;

	if (n <= CENT_MAX)
		return n;
	for (i = 0; i < n; i++)
		c->c_trim[i] = (struct trimkey){ .tk_hash = c->c_thash[v[i].ce_term],
		    .tk_i = (uint32_t)i, .tk_score = cent_w(&v[i]) * term_idf(c, v[i].ce_term) };
	qsort(c->c_trim, n, sizeof(*c->c_trim), cmp_trimkey);
	for (i = CENT_KEEP; i < n; i++) {
		struct cent	*e = &v[c->c_trim[i].tk_i];

		if (e->ce_posted)
			unpost(c, s, c->c_thash[e->ce_term]);
		e->ce_w = 0;
	}
	for (i = 0; i < n; i++)
		if (v[i].ce_w > 0)
			v[kept++] = v[i];
	return kept;
}

/* s's centroid and article id's kept terms, summed into c_merge; the count. */
static size_t
cent_merge(struct clusterer *c, const struct cstory *s, uint32_t id)
{
	size_t		 nt = c->c_art[id].ar_nterms;
	const uint8_t	*t = art_tids(c, id);
	const uint8_t	*w = c->c_tw + (size_t)id * c->c_p.doc_terms;
	struct cent	*m = c->c_merge;
	size_t		 i = 0, j = 0, n = 0;

	while (i < s->st_ncent || j < nt) {
		uint64_t	hs = i < s->st_ncent ? c->c_thash[s->st_cent[i].ce_term] : UINT64_MAX;
		uint64_t	ha = j < nt ? c->c_thash[tid_at(t, j)] : UINT64_MAX;

		if (j >= nt || (i < s->st_ncent && hs < ha)) {
			m[n++] = s->st_cent[i++];
		} else if (i < s->st_ncent && hs == ha) {
			m[n] = s->st_cent[i++];
			m[n].ce_w = cent_sum(m[n].ce_w, c->c_twq[w[j++]]);
			n++;
		} else {
			m[n++] = (struct cent){ .ce_term = tid_at(t, j), .ce_w = c->c_twq[w[j]] };
			j++;
		}
	}
	return n;
}

/*
 * Subtract article id's kept terms. A term leaves when its weight would reach
 * 0 or less. The weight is what the members added since the term entered gave,
 * less what members keeping it took as they left, each at least 1: while it is
 * positive, one of those added since is still held, so a centroid term always
 * has a held member keeping it, and its term id is alive. A term trimmed and
 * re-entered has lost what its earlier members gave, who still take it as they
 * leave: it may leave while later ones keep it. The centroid is an
 * approximation past CENT_MAX.
 */
static void
cent_sub(struct clusterer *c, struct cstory *s, uint32_t id)
{
	size_t		 nt = c->c_art[id].ar_nterms;
	const uint8_t	*t = art_tids(c, id);
	const uint8_t	*w = c->c_tw + (size_t)id * c->c_p.doc_terms;
	size_t		 i = 0, j = 0, n = 0;

	for (i = 0; i < s->st_ncent; i++) {
		struct cent	*e = &s->st_cent[i];
		uint64_t	 h = c->c_thash[e->ce_term];

		while (j < nt && c->c_thash[tid_at(t, j)] < h)
			j++;
		if (j < nt && c->c_thash[tid_at(t, j)] == h) {
			uint16_t	q = c->c_twq[w[j++]];

			if (e->ce_w <= q) {
				if (e->ce_posted)
					unpost(c, s, h);
				continue;
			}
			e->ce_w -= q;
		}
		s->st_cent[n++] = *e;
	}
	s->st_ncent = n;
}

/* The most central of the REP_SCAN most recent members (ties: the older). */
static void
rep_recompute(struct clusterer *c, struct cstory *s)
{
	uint32_t	id = c->c_art[s->st_head].ar_stprev;
	double		best = -1, sim;
	size_t		i;

	scratch_cent(c, s);
	for (i = 0; i < REP_SCAN && i < s->st_size; i++) {
		if ((sim = member_sim(c, s, id)) >= best) {
			best = sim;
			s->st_rep = id;
		}
		id = c->c_art[id].ar_stprev;
	}
	scratch_cent_clear(c, s);
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
	size_t			 n;

	if (s->st_size > 0) {
		LIST_APPEND(c, s->st_head, id, ar_stnext, ar_stprev);
		s->st_first = a->ar_published < s->st_first ? a->ar_published : s->st_first;
		s->st_last = a->ar_published > s->st_last ? a->ar_published : s->st_last;
	}
	s->st_size++;
	cluster_sources_add(s, a->ar_source);
	n = cent_merge(c, s, id);
	post_terms(c, s, c->c_merge, n, pl);
	n = cent_trim(c, s, c->c_merge, n);
	if (pl->pl_cent != NULL && n <= s->st_capcent) {
		free(pl->pl_cent);	/* the story's own is enough */
	} else if (pl->pl_cent != NULL) {
		/* exactly n if malloc() can, else the room reserved, which cannot fail now */
		struct cent	*v = n < pl->pl_capcent ? malloc(n * sizeof(*v)) : NULL;

		free(s->st_cent);
		if (v != NULL) {
			free(pl->pl_cent);
			s->st_cent = v;
			s->st_capcent = (uint32_t)n;
		} else {
			s->st_cent = pl->pl_cent;
			s->st_capcent = pl->pl_capcent;
		}
	}
	pl->pl_cent = NULL;
	assert(n <= s->st_capcent);
	if (n > 0)	/* an article without terms may leave both NULL */
		memcpy(s->st_cent, c->c_merge, n * sizeof(*s->st_cent));
	s->st_ncent = (uint32_t)n;
	cent_norm_refresh(c, s);
	/* cheap on add: the newcomer replaces the representative only if more central */
	if (s->st_size > 1) {
		scratch_cent(c, s);
		if (member_sim(c, s, id) > member_sim(c, s, s->st_rep))
			s->st_rep = id;
		scratch_cent_clear(c, s);
	}
}

/* The last member left: keep only a tombstone in the feed. */
static void
story_bury(struct clusterer *c, struct cstory *s)
{
	uint32_t	i;

	for (i = 0; i < s->st_ncent; i++)	/* cent_sub left none; be sure */
		if (s->st_cent[i].ce_posted)
			unpost(c, s, c->c_thash[s->st_cent[i].ce_term]);
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

/* y's entry in the posting of term h becomes x's, or goes if x is in it already. */
static void
post_handover(struct clusterer *c, uint64_t h, struct cstory *x, const struct cstory *y,
    int x_posted)
{
	struct posting	*p = map_findp(&c->c_posts, h);
	uint32_t	 i;

	assert(p != NULL);
	for (i = 0; i < p->po_n && p->po_v[i] != y; i++)
		;
	assert(i < p->po_n);
	if (x_posted)
		p->po_v[i] = p->po_v[--p->po_n];	/* x stays in it: never empty */
	else
		p->po_v[i] = x;
}

/*
 * Merge the younger story y into x, before the newcomer joins x: y's members
 * are spliced into x's list in arrival order and their groups move with them;
 * sizes, spans and sources are summed; the centroids are summed term by term,
 * untrimmed (story_join() trims after it posts, so that no posting that
 * postings_reserve() counted on is freed first), and y's postings become x's;
 * the representative is the more central of the two. y becomes a tombstone
 * in the feed, like a story whose last member left: no id once reported
 * changes, y's articles report x's. Room made by add_reserve(); time in
 * proportion to both stories' sizes, on the rare add that merges.
 */
static void
story_absorb(struct clusterer *c, struct cstory *x, struct cstory *y)
{
	uint32_t	 ix = x->st_head, iy = y->st_head, nx = x->st_size, ny = y->st_size;
	uint32_t	 id, prev = CLUSTER_NONE, head = CLUSTER_NONE, i = 0, j = 0, n = 0;
	struct cent	*m = c->c_merge;

	while (nx > 0 || ny > 0) {
		if (ny == 0 || (nx > 0 && c->c_art[ix].ar_arrival < c->c_art[iy].ar_arrival)) {
			id = ix;
			ix = c->c_art[ix].ar_stnext;
			nx--;
		} else {
			id = iy;
			iy = c->c_art[iy].ar_stnext;
			ny--;
			c->c_art[id].ar_story = x;
			c->c_groups[c->c_art[id].ar_group].gr_story = x;
		}
		if (prev == CLUSTER_NONE)
			head = id;
		else {
			c->c_art[prev].ar_stnext = id;
			c->c_art[id].ar_stprev = prev;
		}
		prev = id;
	}
	c->c_art[prev].ar_stnext = head;
	c->c_art[head].ar_stprev = prev;
	x->st_head = head;
	x->st_size += y->st_size;
	x->st_groups += y->st_groups;
	x->st_first = y->st_first < x->st_first ? y->st_first : x->st_first;
	x->st_last = y->st_last > x->st_last ? y->st_last : x->st_last;
	for (i = 0; i < y->st_nsrc; i++)
		sources_add(x, y->st_src[i].sc_hash, y->st_src[i].sc_n);

	for (i = 0; i < x->st_ncent || j < y->st_ncent;) {
		uint64_t		 hx = i < x->st_ncent ? c->c_thash[x->st_cent[i].ce_term] : UINT64_MAX;
		uint64_t		 hy = j < y->st_ncent ? c->c_thash[y->st_cent[j].ce_term] : UINT64_MAX;
		const struct cent	*e;

		if (j >= y->st_ncent || (i < x->st_ncent && hx < hy)) {
			m[n++] = x->st_cent[i++];
			continue;
		}
		e = &y->st_cent[j++];
		if (i < x->st_ncent && hx == hy) {
			m[n] = x->st_cent[i++];
			m[n].ce_w = cent_sum(m[n].ce_w, e->ce_w);
		} else
			m[n] = (struct cent){ .ce_term = e->ce_term, .ce_w = e->ce_w };
		if (e->ce_posted) {
			post_handover(c, hy, x, y, m[n].ce_posted);
			m[n].ce_posted = 1;
		}
		n++;
	}
	assert(n <= x->st_capcent);
	memcpy(x->st_cent, m, n * sizeof(*m));
	x->st_ncent = n;
	cent_norm_refresh(c, x);
	scratch_cent(c, x);
	if (member_sim(c, x, y->st_rep) > member_sim(c, x, x->st_rep))
		x->st_rep = y->st_rep;
	scratch_cent_clear(c, x);

	y->st_ncent = y->st_size = y->st_groups = 0;	/* its postings are x's now */
	story_bury(c, y);
	touch(c, y);
	tombs_trim(c);
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
df_take(struct clusterer *c, uint32_t id, struct plan *pl)
{
	uint8_t	*t = art_tids(c, id), *w = c->c_tw + (size_t)id * c->c_p.doc_terms;

	for (size_t i = 0; i < pl->pl_nk; i++) {
		struct kterm	*k = &c->c_kt[i];

		if (k->kt_term == CLUSTER_NONE) {
			k->kt_term = cluster_term_new(c, k->kt_hash, k->kt_str);
			k->kt_str = NULL;
		}
		cluster_term_count(c, k->kt_term, 1);
		tid_put(t, i, k->kt_term);
		w[i] = k->kt_code;
	}
	c->c_art[id].ar_nterms = pl->pl_nk;
}

static void
df_release(struct clusterer *c, uint32_t id)
{
	const uint8_t	*t = art_tids(c, id);

	for (size_t i = 0; i < c->c_art[id].ar_nterms; i++)
		cluster_term_count(c, tid_at(t, i), -1);
	c->c_art[id].ar_nterms = 0;
}

/* ---- the public functions ---- */

static void
add_commit(struct clusterer *c, uint32_t id, const struct doc *d, struct plan *pl)
{
	struct art	*a = &c->c_art[id];
	struct cstory	*s;
	size_t		 i;

	for (i = 0; i < pl->pl_nfresh; i++) {
		struct freshnorm	*f = &c->c_fresh[i];

		f->fn_story->st_na = f->fn_a;
		f->fn_story->st_nb = f->fn_b;
		f->fn_story->st_nc = f->fn_c;
		f->fn_story->st_normat = c->c_arrivals;
	}
	*a = (struct art){ .ar_exact = d->exact, .ar_simhash = d->simhash,
	    .ar_source = d->source, .ar_arrival = c->c_arrivals++,
	    .ar_published = d->published, .ar_shingles = d->shingles, .ar_held = 1 };
	/* the signature's row: cluster_add() wrote it for lsh_insert() */
	a->ar_nosig = d->sig[0] == MINHASH_EMPTY;
	df_take(c, id, pl);
	s = pl->pl_story ? pl->pl_story : story_create(c, pl, id);
	if (pl->pl_absorb != NULL)
		story_absorb(c, s, pl->pl_absorb);
	a->ar_story = s;
	cluster_exact_link(c, id);
	cluster_group_join(c, id, pl->pl_group, s);
	story_join(c, s, id, pl);
	cluster_set_count(c, c->c_narticles + 1);
	touch(c, s);
}

/* Add id as pl plans; v: the verdict it came with. */
static int
add_planned(struct clusterer *c, uint32_t id, const struct doc *d, struct plan *pl,
    struct verdict *v, struct verdict *out)
{
	int	r;

	if ((r = add_reserve(c, id, d, pl)) < 0)
		goto fail;
	/* lsh.c reads the signature back (sig_rows()); a decided add has it prepared */
	if (!pl->pl_prepared)
		sig_prepare(c, d->sig);
	memcpy(c->c_sig + (size_t)id * c->c_p.k, c->c_ksig, c->c_p.k);
	/* both indexes, or neither (cluster_drop_indexes()) */
	if (c->c_lsh != NULL && (r = lsh_insert(c->c_lsh, id, c->c_wsig)) < 0)
		goto fail;
	if (c->c_sim != NULL && (r = simindex_insert(c->c_sim, id, d->simhash)) < 0) {
		lsh_remove(c->c_lsh, id, c->c_wsig);
		goto fail;
	}
	add_commit(c, id, d, pl);
	plan_release(c, pl);
	v->story = c->c_art[id].ar_story->st_id;
	*out = *v;
	return 0;
fail:
	plan_release(c, pl);
	return r;
}

int
cluster_add_noted(struct clusterer *c, uint32_t id, const struct doc *d, struct verdict *out,
    struct cluster_choice *chose)
{
	struct verdict	v;
	struct plan	pl;
	int		r;

	assert(id < CLUSTER_ID_LIMIT && !cluster_holds(c, id));
	if ((r = decide(c, d, &pl, &v)) < 0)
		return r;
	if (chose != NULL) {
		/* a group by its root: group slots are numbered anew by a snapshot's load */
		*chose = (struct cluster_choice){ .status = (uint8_t)v.status,
		    .group = CLUSTER_NONE, .story = CLUSTER_NONE, .absorb = CLUSTER_NONE,
		    .nfresh = (uint32_t)pl.pl_nfresh, .has_norms = 1 };
		if (pl.pl_group != CLUSTER_NONE)
			chose->group = c->c_groups[pl.pl_group].gr_head;
		if (pl.pl_story != NULL)
			chose->story = pl.pl_story->st_id;
		if (pl.pl_absorb != NULL)
			chose->absorb = pl.pl_absorb->st_id;
		for (size_t i = 0; i < pl.pl_nfresh; i++) {
			const struct freshnorm	*f = &c->c_fresh[i];

			chose->fresh[i] = f->fn_story->st_id;
			chose->norm[i][0] = f->fn_a;
			chose->norm[i][1] = f->fn_b;
			chose->norm[i][2] = f->fn_c;
		}
	}
	return add_planned(c, id, d, &pl, &v, out);
}

/*
 * The first cache misses of deciding and filing d, asked for at once: its
 * bands' home slots, and its terms in the document frequencies and the
 * postings (the ten strongest are looked up there; which ten, the idf
 * decides, so all are asked for). Uses only the scratch that every add and
 * query fills again (sig_prepare()).
 */
void
cluster_prefetch(struct clusterer *c, const struct doc *d)
{
	if (c->c_lsh != NULL)
		lsh_prefetch(c->c_lsh, sig_prepare(c, d->sig));
	for (size_t i = 0; d->terms != NULL && i < d->terms->n; i++) {
		map_prefetch(&c->c_df, d->terms->v[i].hash);
		map_prefetch(&c->c_posts, d->terms->v[i].hash);
	}
}

int
cluster_add(struct clusterer *c, uint32_t id, const struct doc *d, struct verdict *out)
{
	return cluster_add_noted(c, id, d, out, NULL);
}

_Static_assert(STORY_SCORE_MAX <= CLUSTER_FRESH_MAX, "a choice holds every norm decide() refreshes");

/* The story held under id, a tombstone too, or NULL. */
static struct cstory *
story_held(struct clusterer *c, uint32_t id)
{
	return map_findp(&c->c_stories, id);
}

int
cluster_add_chosen(struct clusterer *c, uint32_t id, const struct doc *d,
    const struct cluster_choice *ch, struct verdict *out)
{
	struct verdict	v = { .status = (enum verdict_status)ch->status,
			    .story = CLUSTER_NONE, .duplicate_of = CLUSTER_NONE };
	struct plan	pl;
	int		r;

	assert(id < CLUSTER_ID_LIMIT && !cluster_holds(c, id));
	memset(&pl, 0, sizeof(pl));
	pl.pl_group = CLUSTER_NONE;
	/* decide() refreshes at most STORY_SCORE_MAX <= CLUSTER_FRESH_MAX (above) */
	if (ch->status > VERDICT_EXACT_DUPLICATE || ch->nfresh > STORY_SCORE_MAX)
		return -EINVAL;
	if (ch->story != CLUSTER_NONE && (pl.pl_story = story_held(c, ch->story)) == NULL)
		return -EINVAL;
	/* as decide() makes them: an absorbed story only beside a joined other, no group */
	if (ch->absorb != CLUSTER_NONE &&
	    ((pl.pl_absorb = story_held(c, ch->absorb)) == NULL || pl.pl_story == NULL ||
	    pl.pl_absorb == pl.pl_story || ch->group != CLUSTER_NONE))
		return -EINVAL;
	if (ch->group != CLUSTER_NONE) {
		uint32_t	gi;

		if (ch->group >= CLUSTER_ID_LIMIT || !cluster_holds(c, ch->group) ||
		    (gi = c->c_art[ch->group].ar_group) == CLUSTER_NONE ||
		    c->c_groups[gi].gr_head != ch->group || c->c_groups[gi].gr_story != pl.pl_story)
			return -EINVAL;
		pl.pl_group = gi;
		v.duplicate_of = ch->group;
	}
	for (uint32_t i = 0; i < ch->nfresh; i++) {
		struct cstory	*s = story_held(c, ch->fresh[i]);
		double		 na, nb, nc;

		if (s == NULL)
			return -EINVAL;
		if (!ch->has_norms) {
			cluster_cent_norm(c, s, &na, &nb, &nc);
		} else {
			na = ch->norm[i][0];
			nb = ch->norm[i][1];
			nc = ch->norm[i][2];
			/* sums of w^2, w^2 l and w^2 l^2, with l = ln(df + 1) > 0 */
			if (!(na >= 0 && nb >= 0 && nc >= 0 && isfinite(na + nb + nc)))
				return -EINVAL;
		}
		c->c_fresh[pl.pl_nfresh++] = (struct freshnorm){ .fn_story = s,
		    .fn_a = na, .fn_b = nb, .fn_c = nc };
	}
	if ((r = doc_terms(c, d, &pl)) < 0)
		return r;
	return add_planned(c, id, d, &pl, &v, out);
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
	if (c->c_lsh != NULL) {
		lsh_remove(c->c_lsh, id, cluster_sig_wide(c, id));
		simindex_remove(c->c_sim, id, a->ar_simhash);
	}
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
		cent_norm_refresh(c, s);
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
		.merge_threshold = 0.2,
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

/*
 * Centroid terms merged or trimmed at once, at most: two centroids summed by
 * story_absorb() (CENT_MAX each), then an article's terms added before the
 * trim.
 */
static size_t
merge_room(const struct cluster_params *p)
{
	return 2 * CENT_MAX + p->doc_terms;
}

struct clusterer *
cluster_new(const struct cluster_params *p)
{
	struct clusterer	*c;
	size_t			 i, nmerge;

	assert(p->k >= 1 && p->bands >= 1 && p->rows >= 1 && p->bands * p->rows <= p->k);
	assert(p->doc_terms >= 1 && p->doc_terms <= NTERMS_MAX);
	assert(p->max_matches <= CLUSTER_MAX_MATCHES && p->simhash_k <= 7 && p->window >= 0);
	assert(p->dup_containment > 0 && p->dup_containment <= 1);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_p = *p;
	c->c_freegroup = CLUSTER_NONE;
	c->c_freeterm = CLUSTER_NONE;
	c->c_termmax = TERM_MAX;
	for (i = 0; i < LOG_TABLE; i++)
		c->c_logdf[i] = log((double)i + 1);
	for (i = 1; i < TW_CODES; i++)
		c->c_twq[i] = tw_quantize(tw_raw((unsigned)i));
	cluster_set_count(c, 0);
	nmerge = merge_room(p);
	(void)indexes_new(c);	/* checked below with the rest */
	c->c_cand = malloc(2 * CAND_MAX * sizeof(*c->c_cand));
	c->c_wsig = malloc(p->k * sizeof(*c->c_wsig));
	c->c_ksig = malloc(p->k);
	c->c_scored = malloc(2 * CAND_MAX * sizeof(*c->c_scored));
	c->c_scand = malloc(STORY_CAND_MAX * sizeof(*c->c_scand));
	c->c_merge = malloc(nmerge * sizeof(*c->c_merge));
	c->c_trim = malloc(nmerge * sizeof(*c->c_trim));
	c->c_sset = calloc(SSET_SLOTS, sizeof(*c->c_sset));
	c->c_fresh = malloc(STORY_SCORE_MAX * sizeof(*c->c_fresh));
	if (c->c_lsh == NULL || c->c_sim == NULL || c->c_cand == NULL ||
	    c->c_scored == NULL || c->c_scand == NULL || c->c_merge == NULL ||
	    c->c_trim == NULL || c->c_sset == NULL || c->c_fresh == NULL || c->c_wsig == NULL ||
	    c->c_ksig == NULL) {
		cluster_free(c);
		return NULL;
	}
	return c;
}

void
cluster_free(struct clusterer *c)
{
	struct cstory	*s, *next;
	size_t		 i, pos = 0;
	uint64_t	 hash, p;

	if (c == NULL)
		return;
	for (s = c->c_fhead; s != NULL; s = next) {	/* every story is in the feed */
		next = s->st_fnext;
		story_free(s);
	}
	free(c->c_exact.cur.slot);
	free(c->c_exact.old.slot);
	map_fini(&c->c_stories, 0);
	map_fini(&c->c_df, 0);
	for (i = 0; i < c->c_nterm; i++)	/* NULL for free ids */
		free(c->c_tword[i]);
	while (map_next(&c->c_posts, &pos, &hash, &p))
		free(((struct posting *)(uintptr_t)p)->po_v);
	map_fini(&c->c_posts, 1);
	lsh_free(c->c_lsh);
	simindex_free(c->c_sim);
	free(c->c_art);
	free(c->c_sig);
	free(c->c_tid);
	free(c->c_tw);
	free(c->c_thash);
	free(c->c_tdf);
	free(c->c_tlog);
	free(c->c_tword);
	free(c->c_tx);
	free(c->c_groups);
	free(c->c_kt);
	free(c->c_cand);
	free(c->c_wsig);
	free(c->c_ksig);
	free(c->c_scored);
	free(c->c_scand);
	free(c->c_merge);
	free(c->c_trim);
	free(c->c_sset);
	free(c->c_fresh);
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
	return id < c->c_ninit && c->c_art[id].ar_held;
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
	double	dot, n2a, n2b;

	if (!cluster_holds(c, a) || !cluster_holds(c, b))
		return 0;
	scratch_art(c, a);
	dot = art_dot(c, b, &n2b);
	scratch_art_clear(c, a);
	(void)art_dot(c, a, &n2a);	/* the scratch is all 0 again: only the norm */
	return (float)cos_of(dot, n2a, n2b);
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
		double			 x = cent_w(e) * term_idf(c, e->ce_term);

		if (c->c_tword[e->ce_term][0] == '\0')
			continue;
		/* ties keep the earlier, i.e. smaller, hash first */
		for (j = n; j > 0 && x > score[j - 1]; j--)
			if (j < max) {
				score[j] = score[j - 1];
				out[j] = out[j - 1];
			}
		if (j < max) {
			score[j] = x;
			out[j] = c->c_tword[e->ce_term];
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

#define MALLOC_HEADER	16	/* glibc's per-chunk overhead, roughly (as lsh.c) */

size_t
cluster_memory(const struct clusterer *c, struct cluster_memory_split *split)
{
	struct cluster_memory_split	 m = { 0 };
	const struct cstory		*s;
	size_t				 i, pos = 0;
	uint64_t			 hash, val;

	m.articles = c->c_cap * (sizeof(*c->c_art) + c->c_p.k * sizeof(*c->c_sig) +
	    c->c_p.doc_terms * (TID_BYTES + sizeof(*c->c_tw)));
	m.lsh = c->c_lsh != NULL ? lsh_memory(c->c_lsh) : 0;
	m.simhash = c->c_sim != NULL ? simindex_memory(c->c_sim) : 0;
	for (s = c->c_fhead; s != NULL; s = s->st_fnext)
		m.stories += sizeof(*s) + MALLOC_HEADER + (s->st_capcent ? s->st_capcent *
		    sizeof(*s->st_cent) + MALLOC_HEADER : 0) + (s->st_capsrc ?
		    s->st_capsrc * sizeof(*s->st_src) + MALLOC_HEADER : 0);
	m.postings = map_memory(&c->c_posts);
	while (map_next(&c->c_posts, &pos, &hash, &val)) {
		const struct posting	*p = (const struct posting *)(uintptr_t)val;

		m.postings += sizeof(*p) + p->po_cap * sizeof(*p->po_v) + 2 * MALLOC_HEADER;
	}
	m.terms = map_memory(&c->c_df) + c->c_capterm * (sizeof(*c->c_thash) +
	    sizeof(*c->c_tdf) + sizeof(*c->c_tlog) + sizeof(*c->c_tword) + sizeof(*c->c_tx));
	for (i = 0; i < c->c_nterm; i++)
		if (c->c_tword[i] != NULL)
			m.terms += strlen(c->c_tword[i]) + 1 + MALLOC_HEADER;
	m.other = sizeof(*c) + (c->c_exact.cur.cap + c->c_exact.old.cap) * sizeof(*c->c_exact.cur.slot) +
	    map_memory(&c->c_stories) + c->c_capgroups * sizeof(*c->c_groups) +
	    c->c_capkt * sizeof(*c->c_kt) +
	    2 * CAND_MAX * (sizeof(*c->c_cand) + sizeof(*c->c_scored)) +
	    c->c_p.k * (sizeof(*c->c_wsig) + sizeof(*c->c_ksig)) +
	    STORY_CAND_MAX * sizeof(*c->c_scand) + SSET_SLOTS * sizeof(*c->c_sset) +
	    STORY_SCORE_MAX * sizeof(*c->c_fresh) +
	    merge_room(&c->c_p) * (sizeof(*c->c_merge) + sizeof(*c->c_trim));
	if (split != NULL)
		*split = m;
	return m.articles + m.lsh + m.simhash + m.stories + m.postings + m.terms + m.other;
}

void
cluster_set_term_limit(struct clusterer *c, uint32_t n)
{
	c->c_termmax = n < TERM_MAX ? n : TERM_MAX;
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

int
cluster_room_kept(const struct clusterer *c)
{
	return c->c_roomkept;
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
