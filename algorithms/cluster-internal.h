/*
 * cluster-internal: the clusterer's representation, shared by cluster.c (the
 * algorithm) and cluster-dump.c (snapshots and the consistency check). Not an
 * API: nothing outside algorithms/cluster*.c includes it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cluster.h"
#include "map.h"


/*
 * Bounds on work per article and on memory. Most only cap a scan so that one
 * popular term or one huge story cannot make an add slow. POST_SCAN and
 * STORY_SCORE_MAX bound story assignment at any size held (cluster.c); on
 * ECB+ and UCI, POST_SCAN 64 or 256 and STORY_SCORE_MAX 32 score as scoring
 * every candidate did, and STORY_SCORE_MAX 16 the same on ECB+ and 0.003
 * higher on UCI, for a fifth less time (issue 7).
 */
#define CAND_MAX	256	/* LSH and SimHash candidates verified, each */
#define POST_TERMS	10	/* a doc's strongest terms: looked up, and posted to its story */
#define POST_SCAN	64	/* posting entries scanned per term, newest first */
#define STORY_CAND_MAX	(POST_TERMS * POST_SCAN)	/* distinct stories ranked per article */
#define STORY_SCORE_MAX	16	/* ... of which the best by shared terms are scored */
#define NORM_STALE	64	/* a centroid norm older than N / NORM_STALE adds is recomputed */
#define SSET_SLOTS	4096	/* a power of two >= 2 * STORY_CAND_MAX */
#define CENT_MAX	320	/* a centroid growing past this is trimmed ... */
#define CENT_KEEP	256	/* ... to this many terms, the heaviest by w * idf */
#define RELATED_SCAN	200	/* most recent members scored for related matches */
#define REP_SCAN	256	/* most recent members scanned for a new representative */
#define TOMB_MAX	100000	/* tombstones kept in the feed; the oldest go first */
#define LOG_TABLE	4096	/* ln(df + 1) precomputed below this df */

/* Story decisions; README "Clustering quality" has the sweeps. */
#define YOUNG_MARGIN	0.2	/* the threshold to join a story of n members is raised by 0.2 / n */
#define MERGE_MARGIN	2.0	/* an article merges two stories only scoring twice its threshold with each */

/*
 * idf counts IDF_PRIOR more articles than are held, none with the term. A
 * fresh daemon's first articles otherwise take every word they share for a
 * common one (among two articles, a word in both is in all of them), and the
 * first stories split; at thousands held it changes idf by a few percent.
 * 10 to 1,000 score alike (README "Clustering quality").
 */
#define IDF_PRIOR	100

/*
 * Kept term weights (1 + ln w, a few units at most) are 16-bit multiples of
 * 1/4096 up to 16: a relative error of at most 1e-4 for weights of 1 or more,
 * far below what moves a cosine past a threshold, for half the bytes.
 */
#define TW_ONE		4096.0f

/*
 * A held article keeps each term's weight as a one-byte code (c_tw), whose
 * 16-bit kept weight is c_twq[code]. terms.c's raw weights are sums of 1,
 * 1.5 and 3, doubled for names: halves. Codes 1 to TW_HALVES stand for the
 * halves 0.5 to 100, so those keep exactly the 16-bit value they had; the
 * codes above step by a tenth, to about 18,900; any other weight goes to
 * the nearest code (tw_code()). 40 bytes an article less at doc_terms 40.
 */
#define TW_HALVES	200
#define TW_CODES	256

static inline float
tw_get(uint16_t q)
{
	return (float)q / TW_ONE;
}

/* Stories that posted a term; removal swaps the last entry into the hole. */
struct posting {
	struct cstory	**po_v;
	uint32_t	  po_n, po_cap;
};

/*
 * A centroid term: 8 bytes, as centroids are most of a story's memory, and
 * are read whole for every story scored. The weight is an exact sum of the
 * members' 16-bit weights (c_twq[] of c_tw), kept while it is positive: it is at most
 * what the held members added since the term entered gave (cent_sub), so a
 * centroid term always has a held member keeping it, and its term id is
 * alive. It saturates at UINT32_MAX (cent_sum()), which takes over 65,000
 * members of weight 16 (a word some 3 million times in each), or over a
 * million copies of one article at weight 1: a saturated sum only runs low,
 * which keeps that guarantee. The hash is c_thash[ce_term].
 */
struct cent {
	uint32_t	 ce_term : 31;		/* term id (< TERM_MAX: cluster_terms_reserve()) */
	uint32_t	 ce_posted : 1;		/* the story is in this term's posting */
	uint32_t	 ce_w;			/* summed member weights, in units of 1 / TW_ONE */
};

/* Term ids are below: an article keeps each of its terms' ids in 3 bytes. */
#define TERM_MAX	(UINT32_C(1) << 24)
#define TID_BYTES	3

static inline double
cent_w(const struct cent *e)
{
	return e->ce_w / (double)TW_ONE;
}

static inline uint32_t
cent_sum(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

struct srccount {
	uint64_t	sc_hash;
	uint32_t	sc_n;
};

/* A story, or once st_removed its tombstone, which keeps only the feed fields. */
struct cstory {
	uint32_t	 st_id, st_size, st_groups;
	uint32_t	 st_head;		/* oldest member; the list is circular */
	uint32_t	 st_rep;
	uint32_t	 st_ncent, st_capcent;
	uint32_t	 st_nsrc, st_capsrc;
	uint8_t		 st_removed;
	int64_t		 st_first, st_last;
	uint64_t	 st_seq;
	double		 st_na, st_nb, st_nc;	/* the norm's parts, see cent_norm() */
	uint64_t	 st_normat;		/* arrivals when they were computed */
	struct cent	*st_cent;		/* sorted by hash */
	union {
		struct srccount	*st_src;	/* sorted by hash; source 0 not counted */
		struct cstory	*st_tnext;	/* removed: tombstones, oldest first */
	};
	struct cstory	*st_fprev, *st_fnext;	/* the feed */
};

struct group {
	union {
		uint32_t gr_head;		/* the root: oldest member held */
		uint32_t gr_nextfree;		/* gr_size 0: the next free slot */
	};
	uint32_t	 gr_size;
	struct cstory	*gr_story;		/* changes only when its story is merged into another */
};

/*
 * A held article: 80 bytes, the arrival number sharing its word with the
 * count of kept terms and two flags.
 */
#define ARRIVAL_MAX	(UINT64_C(1) << 52)	/* 142 years at a million a second */
#define NTERMS_MAX	1023u			/* doc_terms at most */

struct art {
	uint64_t	 ar_exact, ar_simhash, ar_source;
	int64_t		 ar_published;
	uint64_t	 ar_arrival : 52;	/* below ARRIVAL_MAX */
	uint64_t	 ar_nterms : 10;
	uint64_t	 ar_held : 1;
	uint64_t	 ar_nosig : 1;		/* no shingles: its signature matches nothing */
	struct cstory	*ar_story;
	uint32_t	 ar_group;
	uint32_t	 ar_exnext, ar_exprev;	/* same exact hash */
	uint32_t	 ar_grnext, ar_grprev;	/* same group */
	uint32_t	 ar_stnext, ar_stprev;	/* same story */
	uint32_t	 ar_shingles;		/* distinct shingles signed, for containment */
};
_Static_assert(sizeof(struct art) <= 80, "an article's record is 80 bytes");

/* A kept term of the article being decided. */
struct kterm {
	uint64_t	 kt_hash;
	float		 kt_w;			/* a multiple of 1 / TW_ONE: as it will be kept */
	uint16_t	 kt_q;			/* kt_w * TW_ONE */
	uint8_t		 kt_code;		/* kt_q's code, as an article keeps it */
	double		 kt_x;			/* w * idf */
	uint32_t	 kt_word;		/* offset of its display word in terms.words */
	uint32_t	 kt_term;		/* term id; CLUSTER_NONE: no held article keeps it */
	char		*kt_str;		/* a new term's display word, from add_reserve() */
};

/* A candidate story: terms shared with the doc, weighted (story_candidates()). */
struct scand {
	struct cstory	*sd_story;
	double		 sd_pre;
	uint32_t	 sd_order;		/* first seen */
	uint32_t	 sd_slot;		/* in c_sset */
};

/* A slot of the query's candidate set. */
struct sslot {
	struct cstory	*ss_story;		/* NULL: empty */
	uint32_t	 ss_i;			/* in c_scand */
};

/* A centroid norm computed while deciding, kept by add_commit(). */
struct freshnorm {
	struct cstory	*fn_story;
	double		 fn_a, fn_b, fn_c;
};

struct scored {
	uint32_t	 sc_id;
	double		 sc_sim;
	uint64_t	 sc_arrival;
};

struct trimkey {
	double		 tk_score;
	uint64_t	 tk_hash;
	uint32_t	 tk_i;
};

/* What decide() found, and what add_reserve() allocated for add_commit(). */
struct plan {
	size_t		 pl_nk;			/* kept terms in the scratch kt */
	size_t		 pl_ntop;
	uint64_t	 pl_top[POST_TERMS];	/* strongest kept terms, by w * idf */
	double		 pl_topx[POST_TERMS];	/* their w * idf */
	double		 pl_dn2;		/* the doc's squared norm */
	uint32_t	 pl_group;		/* group joined, or CLUSTER_NONE */
	struct cstory	*pl_story;		/* story joined, or NULL: a new one */
	struct cstory	*pl_absorb;		/* a younger story pl_story absorbs, or NULL */
	struct cstory	*pl_fresh;		/* the new story */
	struct cent	*pl_cent;		/* pl_story's centroid array, when it must grow */
	uint32_t	 pl_capcent;		/* its length: what the centroid will hold */
	struct posting	*pl_post[POST_TERMS];	/* new postings for pl_top */
	size_t		 pl_nfresh;		/* centroid norms in c_fresh */
	int		 pl_prepared;		/* decide() left the doc's signature in c_ksig, c_wsig */
};

/*
 * The exact-hash index (cluster_exact_*()): per distinct exact hash held,
 * the oldest article with it, the head of its ar_exnext list. A slot holds
 * the id in its low 24 bits (CLUSTER_ID_LIMIT) and the hash's top 8 above
 * them, never 0 (an empty slot); the key is the article's own ar_exact.
 * A table that doubles keeps the old one until its entries have moved, a
 * few slots an insert (ex_move()).
 */
struct extable {
	uint32_t	*slot;
	size_t		 n, cap;		/* cap: 0 or a power of two */
};

struct exindex {
	struct extable	 cur;
	struct extable	 old;		/* old.slot != NULL: its entries are moving to cur */
	size_t		 cursor;	/* the old slot the move has reached */
};

struct clusterer {
	struct cluster_params	 c_p;

	struct art		*c_art;
	uint8_t			*c_sig;		/* k per article: minhash_keep() of each value */
	uint8_t			*c_tid;		/* doc_terms term ids per article, sorted by hash: tid_at() */
	uint8_t			*c_tw;		/* their weights' codes */
	uint16_t		 c_twq[TW_CODES];	/* a code's kept weight, in units of 1 / TW_ONE */
	size_t			 c_cap;		/* allocated */
	size_t			 c_ninit;	/* c_art[0..c_ninit) set: read no further */
	size_t			 c_narticles;
	uint64_t		 c_arrivals;
	double			 c_logn;	/* ln(N + 1) */
	double			 c_logdf[LOG_TABLE];

	/*
	 * Terms some held article keeps, by dense id (ids are never observable,
	 * and never ordered by: everything sorts by hash): hash, document
	 * frequency (0: a free id; c_thash then links the free list), ln(df + 1),
	 * the first display word seen. c_df maps a hash to its id.
	 */
	uint64_t		*c_thash;
	uint32_t		*c_tdf;
	double			*c_tlog;
	char			**c_tword;
	double			*c_tx;		/* scratch per id, 0 between uses: see scratch_*() */
	uint32_t		 c_nterm, c_capterm, c_freeterm;
	uint32_t		 c_termmax;	/* live terms at most: TERM_MAX (lower in tests) */

	struct exindex		 c_exact;
	struct map		 c_df, c_posts, c_stories;
	struct lsh		*c_lsh;
	struct simindex		*c_sim;
	int			 c_roomkept;	/* cluster_room_kept() */

	struct group		*c_groups;
	uint32_t		 c_ngroupv, c_capgroups, c_freegroup;
	size_t			 c_ngroups;

	uint32_t		 c_laststory;
	size_t			 c_nstories;
	uint64_t		 c_seq, c_horizon;
	struct cstory		*c_fhead, *c_ftail;
	struct cstory		*c_thead, *c_ttail;
	size_t			 c_ntomb;

	/* scratch, sized at cluster_new() except c_kt */
	struct kterm		*c_kt;
	size_t			 c_capkt;
	uint32_t		*c_cand;	/* 2 * CAND_MAX */
	uint32_t		*c_wsig;	/* k: a kept signature widened for lsh.c */
	uint8_t			*c_ksig;	/* k: the doc's kept signature (sig_prepare()) */
	struct scored		*c_scored;	/* max(2 * CAND_MAX, RELATED_SCAN) */
	struct scand		*c_scand;	/* STORY_CAND_MAX */
	struct sslot		*c_sset;	/* SSET_SLOTS, all empty between queries */
	struct freshnorm	*c_fresh;	/* STORY_SCORE_MAX */
	struct cent		*c_merge;	/* 2 * CENT_MAX + doc_terms: see merge_room() */
	struct trimkey		*c_trim;	/* as many */
};

/*
 * An article's kept term ids: doc_terms of TID_BYTES each, little-endian (a
 * 32-bit id would be 40 bytes more an article).
 */
static inline uint8_t *
art_tids(const struct clusterer *c, uint32_t id)
{
	return c->c_tid + (size_t)id * c->c_p.doc_terms * TID_BYTES;
}

static inline uint32_t
tid_at(const uint8_t *t, size_t i)
{
	t += i * TID_BYTES;
	return t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16;
}

static inline void
tid_put(uint8_t *t, size_t i, uint32_t term)
{
	t += i * TID_BYTES;
	t[0] = (uint8_t)term;
	t[1] = (uint8_t)(term >> 8);
	t[2] = (uint8_t)(term >> 16);
}

/* ---- circular lists through the article array ---- */

#define LIST_APPEND(c, head, id, next, prev) do {			\
	uint32_t	 h_ = (head), t_ = (c)->c_art[h_].prev;		\
	(c)->c_art[t_].next = (id);					\
	(c)->c_art[id].prev = t_;					\
	(c)->c_art[id].next = h_;					\
	(c)->c_art[h_].prev = (id);					\
} while (0)

#define LIST_UNLINK(c, id, next, prev) do {				\
	uint32_t	 n_ = (c)->c_art[id].next, p_ = (c)->c_art[id].prev; \
	(c)->c_art[p_].next = n_;					\
	(c)->c_art[n_].prev = p_;					\
} while (0)
/* realloc for n elements; on failure NULL and p is untouched. */
static inline void *
grow(void *p, size_t elem, size_t n)
{
	return n > SIZE_MAX / elem ? NULL : realloc(p, elem * n);
}

/* A held article and when it arrived: the order the candidate indexes are filled in. */
struct arrival {
	uint64_t	ai_arrival;
	uint32_t	ai_id;
};

/* cluster.c helpers that cluster_load() rebuilds the state with. */
int		 cluster_cmp_arrival(const void *a, const void *b);		/* for qsort() */
int		 cluster_indexes_fill(struct clusterer *c, const struct arrival *order, size_t n);	/* 0 or -ENOMEM */
void		 cluster_set_count(struct clusterer *c, size_t n);
int		 cluster_arts_reserve(struct clusterer *c, uint32_t id);	/* 0 or -ENOMEM */
int		 cluster_groups_reserve(struct clusterer *c);			/* 0 or -ENOMEM */
int		 cluster_story_reserve(struct cstory *s, size_t nk, uint64_t source);	/* 0 or -ENOMEM */
int		 cluster_exact_reserve(struct clusterer *c, size_t extra);	/* 0 or -ENOMEM */
uint32_t	 cluster_exact_find(const struct clusterer *c, uint64_t h);	/* CLUSTER_NONE: none held */
void		 cluster_exact_link(struct clusterer *c, uint32_t id);		/* c_exact reserved */
void		 cluster_group_join(struct clusterer *c, uint32_t id, uint32_t gi, struct cstory *s);
void		 cluster_sources_add(struct cstory *s, uint64_t h);		/* room reserved */
struct cent	*cluster_cent_find(const struct clusterer *c, const struct cstory *s, uint64_t h);
int		 cluster_terms_reserve(struct clusterer *c, size_t n);		/* 0 or -ENOMEM */
uint32_t	 cluster_term_new(struct clusterer *c, uint64_t h, char *word_take);	/* room reserved */
void		 cluster_term_count(struct clusterer *c, uint32_t id, int delta);
/*
 * code[q]: the first code whose kept weight is at least q, or 0 if none is,
 * for every 16-bit q. A snapshot's load turns each weight it reads back into
 * its code so, one lookup a term: the weights storyd keeps map back exactly,
 * and another maps up, so a centroid never holds more than its members.
 */
#define TW_QS		65536
void		 cluster_tw_codes(const struct clusterer *c, uint8_t code[TW_QS]);
void		 cluster_cent_norm(const struct clusterer *c, const struct cstory *s,
		    double *a, double *b, double *cc);
