/*
 * cluster: duplicate groups and story clusters, decided incrementally in
 * arrival order. Pure: no I/O, no globals, deterministic (the same adds and
 * removes in the same order give the same groups, clusters, ids and
 * sequence numbers on every run), so replaying a log rebuilds the state.
 *
 * Articles are dense 32-bit ids chosen by the caller (the daemon's store).
 * For each added article the clusterer keeps its fingerprints (MinHash
 * signature in an LSH index, SimHash in a permuted-table index, exact-text
 * hash), its top weighted terms, and document frequencies of every term.
 *
 * Duplicate groups: an article whose text hash equals a held one's is an
 * exact duplicate; else the LSH and SimHash candidates are verified, and the
 * best one makes it a near duplicate. A candidate is verified by estimated
 * Jaccard (>= dup_threshold), by containment (the share of the smaller
 * shingle set found in the larger, >= dup_containment, estimated from the
 * Jaccard estimate and the two set sizes; trusted only at or above
 * cluster_dup_floor(), the Jaccard of a pair where half the text survives),
 * or by SimHash Hamming distance (<= simhash_k). Containment is what finds a
 * trimmed republication: a copy keeping half the text has Jaccard <= 0.5. A duplicate joins the group of
 * its best match; duplicate_of is the group's root, its first-seen member
 * still held. Groups are never merged, so a reported duplicate_of changes
 * only when its root is removed (then the next-oldest member is root).
 *
 * Story clusters: a duplicate joins the story of its group. Any other article
 * is compared (TF-IDF cosine, IDF from the current document frequencies;
 * a centroid's norm may lag them by up to N / 64 adds) with the centroids of
 * candidate stories, found through an inverted index over the stories'
 * strongest terms, limited to stories whose articles lie within `window`
 * seconds of its publication time, and cut to the few that share the most
 * weight with it among its strongest terms. The cosine is multiplied
 * by exp(-g^2 / 2 sigma^2), sigma = decay_hours and g the time from the
 * article to the story's nearest member (0 inside its span): a story quiet
 * for a day weighs less than a live one. It joins the best story whose score reaches the threshold
 * (story_threshold, times sqrt(n / CLUSTER_SHORT_TERMS) for an article with
 * n < CLUSTER_SHORT_TERMS kept terms, such as a headline alone, and raised by a
 * factor 1 + 0.2 / n for a story of n members) or starts a new story. Story
 * ids count up from 1 and are never reused. When the article scores at least
 * twice its threshold against a second story too, and the two centroids have
 * cosine merge_threshold or more, the younger story is merged into the
 * older: its articles move to the older id, and it is removed (a tombstone
 * in the feed). So a reported story id never changes, but an article's
 * story can (README "How duplicates and stories are decided").
 *
 * Term weights: each article keeps its doc_terms heaviest terms, weighted
 * 1 + ln(w) with w the tf weight from terms.c (sublinear tf: a word said five
 * times is not five times the evidence); document frequencies count the
 * articles that keep a term, and idf(t) = ln((N + 100) / (df(t) + 1)) + 1
 * with N the articles held (100: a prior for a fresh daemon, see cluster.c).
 * A verdict is decided with the frequencies before the article's own terms
 * count, so cluster_query() and cluster_add() decide alike. Similarities
 * reported for duplicates are Jaccard estimates, also when only SimHash
 * verified the match.
 *
 * Change feed: every change to a story (created, article added or removed,
 * removed) takes the next sequence number; cluster_feed() lists stories by
 * their last change. A merge is two changes: the younger story removed, then
 * the older one grown. A removed story stays in the feed, marked removed, as
 * a tombstone; the oldest tombstones are dropped beyond 100,000 (see
 * cluster_feed_horizon()).
 *
 * Errors: functions that allocate return 0 or -ENOMEM and then leave the
 * state as it was.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "terms.h"

#define CLUSTER_NONE		UINT32_MAX
#define CLUSTER_ID_LIMIT	(UINT32_C(1) << 24)	/* article ids are below: lsh.h keeps 24 bits */
#define CLUSTER_MAX_MATCHES	16
#define CLUSTER_STORY_TERMS_MAX	64	/* cluster_story_terms() returns at most this many */
#define CLUSTER_SHORT_TERMS	20	/* fewer kept terms lower the story threshold; README "Clustering quality" */

struct cluster_params {
	unsigned	k;		/* MinHash values per signature */
	unsigned	bands, rows;	/* LSH; cluster_params_finish() chooses them */
	unsigned	shingle;	/* words per shingle */
	double		dup_threshold;	/* estimated Jaccard for near duplicates */
	double		dup_containment; /* estimated containment for near duplicates */
	unsigned	simhash_k;	/* Hamming distance for near duplicates */
	double		story_threshold; /* decayed cosine to join a story */
	double		merge_threshold; /* centroid cosine at which an article merges two stories; 0: never */
	int64_t		window;		/* seconds: stories farther apart in time are not candidates */
	unsigned	decay_hours;	/* the time decay's sigma; 0: no decay */
	unsigned	doc_terms;	/* weighted terms kept per article */
	unsigned	max_matches;	/* <= CLUSTER_MAX_MATCHES */
	/*
	 * Articles the candidate indexes are sized for when made, and kept at
	 * (lsh_keep_room(), simindex_keep_room()): while no more are held, no
	 * LSH table moves its ids to another size, as growing tables do a few
	 * at each add, and no SimHash array is copied to grow. 0: they grow
	 * and shrink with the count. The daemon gives max_articles.
	 */
	size_t		room;
};

/* The built-in defaults; README "Defaults" says where each comes from. */
void	cluster_params_default(struct cluster_params *p);

/*
 * The lowest estimated Jaccard at which containment is trusted: that of two
 * texts, one half the other's size, sharing dup_containment of the smaller
 * (and never above dup_threshold). LSH is tuned for it.
 */
double	cluster_dup_floor(const struct cluster_params *p);

/* Set bands and rows from k, dup_threshold and dup_containment (lsh_choose()). */
void	cluster_params_finish(struct cluster_params *p);

/* An analysed article, as fingerprint.c makes it. Everything is borrowed. */
struct doc {
	uint64_t		 exact;		/* XXH3 of the normalized words */
	uint64_t		 simhash;
	uint64_t		 source;	/* XXH3 of the source name; 0: none given */
	int64_t			 published;	/* seconds since the epoch */
	const uint32_t		*sig;		/* params.k MinHash values */
	uint32_t		 shingles;	/* distinct shingles signed */
	const struct terms	*terms;		/* weighted terms, sorted by hash */
};

enum verdict_status {
	VERDICT_NEW_STORY,
	VERDICT_JOINED_STORY,
	VERDICT_NEAR_DUPLICATE,
	VERDICT_EXACT_DUPLICATE,
};

enum match_kind {
	MATCH_EXACT,
	MATCH_NEAR,
	MATCH_RELATED,
};

struct match {
	uint32_t	id;
	enum match_kind	kind;
	float		similarity;	/* [0, 1]: Jaccard estimate, or cosine for related */
};

struct verdict {
	enum verdict_status	status;
	uint32_t		story;		/* CLUSTER_NONE: would start a new one (query only) */
	uint32_t		duplicate_of;	/* group root, or CLUSTER_NONE */
	size_t			nmatches;	/* best first */
	struct match		matches[CLUSTER_MAX_MATCHES];
};

struct story {
	uint32_t	id;
	uint32_t	size;		/* articles held */
	uint32_t	groups;		/* duplicate groups among them */
	uint32_t	sources;	/* distinct non-empty sources */
	uint32_t	representative;	/* article closest to the centroid */
	int64_t		first_published, last_published;
	uint64_t	updated_seq;
	int		removed;	/* a tombstone in the feed */
};

struct clusterer;

/* NULL when out of memory. params are copied. */
struct clusterer	*cluster_new(const struct cluster_params *params);
void			 cluster_free(struct clusterer *);
const struct cluster_params *cluster_params(const struct clusterer *);

/*
 * Add article id (below CLUSTER_ID_LIMIT, not held now) and write what was
 * decided to out. 0 or -ENOMEM (nothing changed).
 */
int	cluster_add(struct clusterer *, uint32_t id, const struct doc *d, struct verdict *out);

/*
 * What cluster_add() decided, in ids that name the same group and stories
 * in any clusterer holding the same articles (a replay of the same log, a
 * snapshot's load between or not): enough
 * for cluster_add_chosen() to add the article again without deciding, which
 * is most of an add's cost. fresh: the stories whose centroid norms the
 * decision recomputed, which the add keeps; norm: those norms, the three
 * sums of cluster_cent_norm() for each, so that the add need not compute
 * them again. A choice with has_norms 0 (as logs written before norms were
 * kept have it) has them computed again, to the same values.
 */
#define CLUSTER_FRESH_MAX	16
struct cluster_choice {
	uint8_t		status;			/* enum verdict_status */
	uint32_t	group;			/* the root of the group joined, or CLUSTER_NONE */
	uint32_t	story;			/* the story joined, or CLUSTER_NONE: a new one */
	uint32_t	absorb;			/* a story the joined one absorbs, or CLUSTER_NONE */
	uint32_t	nfresh;
	uint32_t	fresh[CLUSTER_FRESH_MAX];
	int		has_norms;
	double		norm[CLUSTER_FRESH_MAX][3];
};

/* cluster_add(), and what it decided in *chose. */
int	cluster_add_noted(struct clusterer *, uint32_t id, const struct doc *d, struct verdict *out,
	    struct cluster_choice *chose);

/*
 * Add article id as cluster_add() did when it wrote *ch, to a clusterer in
 * the state it was in then. out has the status and story, no matches. 0,
 * -ENOMEM, or -EINVAL (nothing changed) when ch names a group or story this
 * clusterer does not hold, or holds otherwise, or has a norm no centroid
 * has (negative, not finite): then cluster_add() decides.
 */
int	cluster_add_chosen(struct clusterer *, uint32_t id, const struct doc *d,
	    const struct cluster_choice *ch, struct verdict *out);

/*
 * Ask for the memory that adding or querying d reads first, which misses
 * the cache at a hundred thousand held and more, so that it arrives while
 * the caller does other work: a hint, which changes nothing that any call
 * sees. It pays when asked a whole add ahead (the add before d's:
 * bench/index -L); asked just before d's own add, it gained nothing.
 */
void	cluster_prefetch(struct clusterer *, const struct doc *d);

/* What cluster_add() would decide, changing nothing. 0 or -ENOMEM. */
int	cluster_query(struct clusterer *, const struct doc *d, struct verdict *out);

/*
 * Let the candidate indexes go (LSH and SimHash: a quarter of an article's
 * memory, and a quarter to a half of adding it as decided, the more while
 * the LSH's tables grow): a replica that only applies decisions already
 * taken (cluster_add_chosen(), cluster_remove()) and is dumped needs
 * neither, and a dump does not hold them. Whatever decides next (cluster_add(), cluster_add_noted(),
 * cluster_query()) first makes them again from the held articles, as
 * cluster_load() does, and may fail with -ENOMEM for it.
 */
void	cluster_drop_indexes(struct clusterer *);

/* Remove a held article from every index, group and story. Unknown: ignored. */
void	cluster_remove(struct clusterer *, uint32_t id);

int		cluster_holds(const struct clusterer *, uint32_t id);
uint32_t	cluster_story_of(const struct clusterer *, uint32_t id);	/* CLUSTER_NONE: not held */
uint32_t	cluster_duplicate_of(const struct clusterer *, uint32_t id);	/* root; CLUSTER_NONE when id is a root */
uint64_t	cluster_simhash(const struct clusterer *, uint32_t id);
int64_t		cluster_published(const struct clusterer *, uint32_t id);

/* Cosine similarity of two held articles' weighted terms, in [0, 1]. */
float	cluster_similarity(struct clusterer *, uint32_t a, uint32_t b);

/* 0, or -ENOENT when no story has that id now (removed ones included). */
int	cluster_story_get(const struct clusterer *, uint32_t story, struct story *out);

/*
 * Up to max (<= CLUSTER_STORY_TERMS_MAX) surface words that best describe a
 * story, best first; the count. The strings are the clusterer's: valid until
 * the next cluster_add() or cluster_remove().
 */
size_t	cluster_story_terms(const struct clusterer *, uint32_t story, const char **out, size_t max);

/* Up to max member ids of a story in arrival order; returns the size. */
size_t	cluster_story_members(const struct clusterer *, uint32_t story, uint32_t *out, size_t max);

/* Stop iterating when it returns non-zero. */
typedef int	cluster_feed_fn(const struct story *s, void *arg);

/*
 * Call fn for each story (tombstones included) changed after seq `since`,
 * oldest change first. Costs O(stories changed after since), not O(stories).
 * fn must not change the clusterer.
 */
void	cluster_feed(const struct clusterer *, uint64_t since, cluster_feed_fn *fn, void *arg);

/*
 * The sequence number of the newest tombstone dropped (0: none). A poller
 * whose since is below it may have missed removals and should list afresh.
 */
uint64_t	cluster_feed_horizon(const struct clusterer *);

/*
 * Bytes the clusterer has allocated (requested from malloc, plus a 16-byte
 * allocator header per block for the many small ones), in all and, if split
 * is not NULL, by part. Walks every story and posting: O(stories + terms).
 */
struct cluster_memory_split {
	size_t	articles;	/* per-article records, MinHash signatures, kept terms */
	size_t	lsh;		/* lsh_memory() */
	size_t	simhash;	/* simindex_memory() */
	size_t	stories;	/* story records, centroids, sources */
	size_t	postings;	/* term -> stories index */
	size_t	terms;		/* document frequencies, display words, their map */
	size_t	other;		/* exact-hash index, groups, story map, scratch */
};

size_t	cluster_memory(const struct clusterer *, struct cluster_memory_split *split);

/*
 * Terms held at once: at most 16,777,216 (an article keeps each term's id in
 * 3 bytes), fewer if n is lower (for tests). An article bringing new terms
 * when none are left keeps the terms it can (known ones, then new ones in
 * hash order while ids last); cluster_add() does not fail for it.
 */
void	cluster_set_term_limit(struct clusterer *, uint32_t n);

uint64_t	cluster_seq(const struct clusterer *);		/* the last sequence number given */
size_t		cluster_count_articles(const struct clusterer *);
size_t		cluster_count_stories(const struct clusterer *);	/* live ones */
size_t		cluster_count_groups(const struct clusterer *);

/*
 * 0 when params.room asked the candidate indexes to keep room they could not
 * have (out of memory when they were last made): they grow as articles come,
 * and an add may wait while a table moves. 1 otherwise, room 0 included.
 */
int		cluster_room_kept(const struct clusterer *);

/*
 * Snapshots. cluster_dump() writes everything the clusterer holds, through fn,
 * so that cluster_load() makes a clusterer indistinguishable from it: every
 * later sequence of calls gives the same verdicts, stories, members, terms,
 * feed, sequence numbers and counts. Pure: fn does the I/O.
 *
 * The format ("SDCLUST1", a little-endian uint32 version, then chunks of at
 * most 64 KiB each preceded by its uint32 length, ended by a zero length) is
 * described in cluster-dump.c. It carries no checksum: the snapshot file
 * around it does.
 *
 * cluster_load() stops reading right after the end chunk, so more data may
 * follow in the same file. It returns 0, a negative errno fn returned (a
 * short read is whatever fn reports for it), -ENOMEM, -EPROTONOSUPPORT when a
 * newer storyd wrote the data, or -EINVAL when the data is malformed, of a
 * version before 3 (none was released, so none is read), or its k,
 * bands, rows or shingle differ from params (its signatures would not compare)
 * or its doc_terms exceeds params->doc_terms. The other params (thresholds,
 * simhash_k, window, max_matches) are params's and may differ from the
 * dumped ones; identical behaviour needs identical params. Any input is safe:
 * bad bytes give -EINVAL, never a crash, a leak or a loop, but memory is
 * allocated as for the largest article id the input names, as cluster_add()
 * would (so hostile input can cause -ENOMEM). *out is written only on success.
 * Version 3 (16 bits a signature value) loads too, its signatures cut to
 * the 8 bits the current code keeps of each value.
 */
typedef int	cluster_write_fn(const void *buf, size_t len, void *arg);	/* 0 or -errno */
typedef int	cluster_read_fn(void *buf, size_t len, void *arg);	/* 0, -errno; -EIO or -ENODATA at a short read */

int	cluster_dump(const struct clusterer *, cluster_write_fn *fn, void *arg);	/* 0, -ENOMEM or fn's -errno */
int	cluster_load(struct clusterer **out, const struct cluster_params *params,
	    cluster_read_fn *fn, void *arg);

/*
 * Check the internal invariants (lists, counts, indexes, feed order) in time
 * linear in the state: 0, or -EINVAL naming no culprit (-ENOMEM: no memory to
 * check with). For tests and after cluster_load(), which already guarantees
 * them.
 */
int	cluster_check(const struct clusterer *);
