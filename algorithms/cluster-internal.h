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
 * Bounds on work per article and on memory. None is tuned yet; each only caps
 * a scan so that one popular term or one huge story cannot make an add slow.
 */
#define CAND_MAX	256	/* LSH and SimHash candidates verified, each */
#define POST_TERMS	10	/* a doc's strongest terms: looked up, and posted to its story */
#define POST_SCAN	1024	/* posting entries scanned per term, newest first */
#define STORY_CAND_MAX	200	/* candidate stories scored per article */
#define CENT_MAX	320	/* a centroid growing past this is trimmed ... */
#define CENT_KEEP	256	/* ... to this many terms, the heaviest by w * idf */
#define RELATED_SCAN	200	/* most recent members scored for related matches */
#define REP_SCAN	256	/* most recent members scanned for a new representative */
#define TOMB_MAX	100000	/* tombstones kept in the feed; the oldest go first */
#define LOG_TABLE	4096	/* ln(df + 1) precomputed below this df */

/* A term some held article keeps: how many keep it, and how to show it. */
struct dfent {
	uint64_t	 df_hash;
	uint32_t	 df_n;
	char		 df_word[];		/* the first surface word seen */
};

/* Stories that posted a term; removal swaps the last entry into the hole. */
struct posting {
	struct cstory	**po_v;
	uint32_t	  po_n, po_cap;
};

/* A centroid term. Alive only while a held member keeps it (see cent_sub). */
struct cent {
	uint64_t	 ce_hash;
	struct dfent	*ce_df;
	float		 ce_w;			/* summed member weights */
	uint32_t	 ce_cnt;		/* members added since it entered the centroid */
	uint32_t	 ce_posted;		/* the story is in this term's posting */
};

struct srccount {
	uint64_t	sc_hash;
	uint32_t	sc_n;
};

struct cstory {
	uint32_t	 st_id, st_size, st_groups;
	uint32_t	 st_head;		/* oldest member; the list is circular */
	uint32_t	 st_rep;
	int64_t		 st_first, st_last;
	uint64_t	 st_seq;
	int		 st_removed;
	uint32_t	 st_mark;		/* query stamp: already a candidate */
	struct cent	*st_cent;		/* sorted by hash */
	uint32_t	 st_ncent, st_capcent;
	struct srccount	*st_src;		/* sorted by hash; source 0 not counted */
	uint32_t	 st_nsrc, st_capsrc;
	struct cstory	*st_fprev, *st_fnext;	/* the feed */
	struct cstory	*st_tnext;		/* tombstones, oldest first */
};

struct group {
	uint32_t	 gr_head;		/* the root: oldest member held */
	uint32_t	 gr_size;
	uint32_t	 gr_nextfree;
	struct cstory	*gr_story;		/* groups never change story */
};

struct art {
	uint64_t	 ar_exact, ar_simhash, ar_source, ar_arrival;
	int64_t		 ar_published;
	struct cstory	*ar_story;
	uint32_t	 ar_group;
	uint32_t	 ar_exnext, ar_exprev;	/* same exact hash */
	uint32_t	 ar_grnext, ar_grprev;	/* same group */
	uint32_t	 ar_stnext, ar_stprev;	/* same story */
	uint32_t	 ar_shingles;		/* distinct shingles signed, for containment */
	uint16_t	 ar_nterms;
	uint8_t		 ar_held;
};

/* A kept term of the article being decided. */
struct kterm {
	uint64_t	 kt_hash;
	float		 kt_w;
	double		 kt_x;			/* w * idf */
	uint32_t	 kt_word;
	int		 kt_fresh;		/* kt_df allocated by add_reserve */
	struct dfent	*kt_df;			/* NULL: no held article keeps it */
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
	uint32_t	 pl_group;		/* group joined, or CLUSTER_NONE */
	struct cstory	*pl_story;		/* story joined, or NULL: a new one */
	struct cstory	*pl_fresh;		/* the new story */
	struct posting	*pl_post[POST_TERMS];	/* new postings for pl_top */
};

struct clusterer {
	struct cluster_params	 c_p;

	struct art		*c_art;
	uint32_t		*c_sig;		/* k per article */
	struct dfent		**c_tdf;	/* doc_terms per article, sorted by hash */
	float			*c_tw;		/* their weights */
	size_t			 c_cap;
	size_t			 c_narticles;
	uint64_t		 c_arrivals;
	double			 c_logn;	/* ln(N + 1) */
	double			 c_logdf[LOG_TABLE];

	struct map		 c_exact, c_df, c_posts, c_stories;
	struct lsh		*c_lsh;
	struct simindex		*c_sim;

	struct group		*c_groups;
	uint32_t		 c_ngroupv, c_capgroups, c_freegroup;
	size_t			 c_ngroups;

	uint32_t		 c_laststory;
	size_t			 c_nstories;
	uint64_t		 c_seq, c_horizon;
	struct cstory		*c_fhead, *c_ftail;
	struct cstory		*c_thead, *c_ttail;
	size_t			 c_ntomb;
	uint32_t		 c_mark;

	/* scratch, sized at cluster_new() except c_kt */
	struct kterm		*c_kt;
	size_t			 c_capkt;
	uint32_t		*c_cand;	/* 2 * CAND_MAX */
	struct scored		*c_scored;	/* max(2 * CAND_MAX, RELATED_SCAN) */
	struct cstory		**c_scand;	/* STORY_CAND_MAX */
	struct cent		*c_merge;	/* CENT_MAX + doc_terms */
	struct trimkey		*c_trim;	/* CENT_MAX + doc_terms */
};

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

/* cluster.c helpers that cluster_load() rebuilds the state with. */
void		 cluster_set_count(struct clusterer *c, size_t n);
int		 cluster_arts_reserve(struct clusterer *c, uint32_t id);	/* 0 or -ENOMEM */
int		 cluster_groups_reserve(struct clusterer *c);			/* 0 or -ENOMEM */
int		 cluster_story_reserve(struct cstory *s, size_t nk);		/* 0 or -ENOMEM */
void		 cluster_exact_link(struct clusterer *c, uint32_t id);		/* c_exact reserved */
void		 cluster_group_join(struct clusterer *c, uint32_t id, uint32_t gi, struct cstory *s);
void		 cluster_sources_add(struct cstory *s, uint64_t h);		/* room reserved */
struct cent	*cluster_cent_find(const struct cstory *s, uint64_t h);
