/*
 * store: the articles storyd holds, by the client's id, and the clusterer
 * that groups them. Article ids are mapped to dense indexes, the ids the
 * algorithms work with; the store keeps what GET /v1/articles returns (not
 * the body text: fingerprints are all the clusterer needs).
 *
 * Every change goes through store_put() or store_delete(), the two places
 * where the write-ahead log append slots in before memory changes.
 * Deterministic: the same calls in the same order give the same state.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

/* Positive outcomes the caller must handle; failures are -errno. */
enum {
	STORE_CREATED = 1,	/* a new id */
	STORE_REPLACED,		/* put with replace: the id had other content */
	STORE_SAME,		/* the id holds identical content: nothing changed */
	STORE_CONFLICT,		/* the id holds other content and replace was not asked */
	STORE_NO_WORDS,		/* title and body have no words to fingerprint */
	STORE_NOT_FOUND,
};

/* An article as submitted; strings are borrowed and need not be NUL-terminated. */
struct article_in {
	const char	*id;
	size_t		 id_len;
	const char	*title, *body, *source, *url;
	size_t		 title_len, body_len, source_len, url_len;
	int64_t		 published;	/* seconds since the epoch */
	int		 has_published;	/* 0: published is the ingest time */
	int64_t		 now;		/* ingest time */
};

/* An article held. */
struct article {
	char		*id;
	char		*title, *source, *url;	/* NUL-terminated, "" when absent */
	int64_t		 published, ingested;
	uint64_t	 content[2];		/* XXH3-128 of what was submitted */
	uint32_t	 index;			/* the clusterer's id */
	uint8_t		 status;		/* enum verdict_status at ingest */
};

struct store;

struct store	*store_new(const struct cluster_params *params);
void		 store_free(struct store *);

/*
 * Store a (replace: PUT semantics). Returns STORE_CREATED or STORE_REPLACED
 * with *out the verdict, STORE_SAME with *out the article's current state (no
 * matches), STORE_CONFLICT or STORE_NO_WORDS (nothing changed), or -errno.
 */
int	store_put(struct store *, const struct article_in *a, int replace, struct verdict *out);

/* What store_put() would decide for a new article, changing nothing. */
int	store_similar(struct store *, const struct article_in *a, struct verdict *out);

/* Remove an article from every index: 0 or STORE_NOT_FOUND. */
int	store_delete(struct store *, const char *id, size_t id_len);

const struct article	*store_find(const struct store *, const char *id, size_t id_len);
const struct article	*store_at(const struct store *, uint32_t index);	/* NULL: none */
struct clusterer	*store_clusterer(const struct store *);
size_t			 store_count(const struct store *);
