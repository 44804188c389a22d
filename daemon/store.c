/* store: client ids to dense indexes, article metadata, and the clusterer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fingerprint.h"
#include "store.h"
#include "xmalloc.h"

#define SLOT_EMPTY	UINT32_MAX

struct store {
	struct article		**articles;	/* by index; NULL: free */
	uint32_t		  narticles, cap;
	uint32_t		 *free_idx;	/* indexes to reuse, a stack */
	uint32_t		  nfree;
	size_t			  count;

	uint32_t		 *slots;	/* open addressing over id hashes: index or SLOT_EMPTY */
	size_t			  nslots;	/* a power of two */
	size_t			  nused;	/* slots holding an index or a tombstone */

	struct clusterer	 *clusterer;
	struct fingerprinter	 *fingerprinter;
};

#define SLOT_GONE	(UINT32_MAX - 1)	/* deleted: keep probing past it */

static uint64_t
id_hash(const char *id, size_t len)
{
	return XXH3_64bits(id, len);
}

static int
id_equal(const struct article *a, const char *id, size_t len)
{
	return strlen(a->id) == len && memcmp(a->id, id, len) == 0;
}

/* The slot holding id, or the first free one on its probe path (*found = 0). */
static size_t
slot_lookup(const struct store *s, const char *id, size_t len, int *found)
{
	size_t		mask = s->nslots - 1, i = id_hash(id, len) & mask;
	size_t		first_gone = SIZE_MAX;
	uint32_t	v;

	for (;; i = (i + 1) & mask) {
		v = s->slots[i];
		if (v == SLOT_EMPTY) {
			*found = 0;
			return first_gone != SIZE_MAX ? first_gone : i;
		}
		if (v == SLOT_GONE) {
			if (first_gone == SIZE_MAX)
				first_gone = i;
			continue;
		}
		if (id_equal(s->articles[v], id, len)) {
			*found = 1;
			return i;
		}
	}
}

static void
slots_grow(struct store *s)
{
	uint32_t	*old = s->slots;
	size_t		 nold = s->nslots;
	int		 found;

	s->nslots = nold == 0 ? 1024 : (s->count * 4 > nold ? nold * 2 : nold);
	s->slots = xreallocarray(NULL, s->nslots, sizeof(*s->slots));
	memset(s->slots, 0xff, s->nslots * sizeof(*s->slots));
	s->nused = 0;
	for (size_t i = 0; i < nold; i++) {
		const struct article *a;

		if (old[i] == SLOT_EMPTY || old[i] == SLOT_GONE)
			continue;
		a = s->articles[old[i]];
		s->slots[slot_lookup(s, a->id, strlen(a->id), &found)] = old[i];
		s->nused++;
	}
	free(old);
}

struct store *
store_new(const struct cluster_params *params)
{
	struct store	*s = xcalloc(1, sizeof(*s));

	if ((s->clusterer = cluster_new(params)) == NULL ||
	    (s->fingerprinter = fingerprinter_new(params)) == NULL) {
		store_free(s);
		return NULL;
	}
	slots_grow(s);
	return s;
}

static void
article_free(struct article *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->title);
	free(a->source);
	free(a->url);
	free(a);
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->narticles; i++)
		article_free(s->articles[i]);
	free(s->articles);
	free(s->free_idx);
	free(s->slots);
	cluster_free(s->clusterer);
	fingerprinter_free(s->fingerprinter);
	free(s);
}

/*
 * What identifies a submission for retries: every field as given. Each field
 * is hashed with its length and the hash so far as the seed, so no two
 * different submissions differ only in where one field ends.
 */
static void
content_hash(const struct article_in *a, uint64_t out[2])
{
	const struct {
		const char	*p;
		size_t		 n;
	} f[] = {
		{ a->title, a->title_len }, { a->body, a->body_len },
		{ a->source, a->source_len }, { a->url, a->url_len },
	};
	int64_t		pub = a->has_published ? a->published : INT64_MIN;
	XXH128_hash_t	h = XXH3_128bits(&pub, sizeof(pub));

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t seed = h.low64 ^ (h.high64 * 31) ^ f[i].n;

		h = XXH3_128bits_withSeed(f[i].p != NULL ? f[i].p : "", f[i].n, seed);
	}
	out[0] = h.low64;
	out[1] = h.high64;
}

static int
analyse(struct store *s, const struct article_in *a, const struct doc **doc)
{
	struct article_text	t = {
		.title = a->title, .title_len = a->title_len,
		.body = a->body, .body_len = a->body_len,
		.source = a->source, .source_len = a->source_len,
		.published = a->has_published ? a->published : a->now,
	};
	int			r;

	if ((r = fingerprint(s->fingerprinter, &t, doc)) == -ENODATA)
		return STORE_NO_WORDS;
	return r;
}

static void
current_verdict(const struct store *s, const struct article *a, struct verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->status = a->status;
	out->story = cluster_story_of(s->clusterer, a->index);
	out->duplicate_of = cluster_duplicate_of(s->clusterer, a->index);
}

static uint32_t
index_take(struct store *s)
{
	if (s->nfree > 0)
		return s->free_idx[--s->nfree];
	if (s->narticles == s->cap) {
		s->cap = s->cap == 0 ? 1024 : s->cap * 2;
		s->articles = xreallocarray(s->articles, s->cap, sizeof(*s->articles));
		s->free_idx = xreallocarray(s->free_idx, s->cap, sizeof(*s->free_idx));
	}
	s->articles[s->narticles] = NULL;
	return s->narticles++;
}

static void
article_set(struct article *a, const struct article_in *in, const uint64_t content[2])
{
	free(a->title);
	free(a->source);
	free(a->url);
	a->title = xstrndup(in->title ? in->title : "", in->title_len);
	a->source = xstrndup(in->source ? in->source : "", in->source_len);
	a->url = xstrndup(in->url ? in->url : "", in->url_len);
	a->published = in->has_published ? in->published : in->now;
	a->ingested = in->now;
	a->content[0] = content[0];
	a->content[1] = content[1];
}

int
store_put(struct store *s, const struct article_in *in, int replace, struct verdict *out)
{
	const struct doc	*doc;
	struct article		*a;
	uint64_t		 content[2];
	size_t			 slot;
	int			 found, r;

	content_hash(in, content);
	slot = slot_lookup(s, in->id, in->id_len, &found);
	if (found) {
		a = s->articles[s->slots[slot]];
		if (a->content[0] == content[0] && a->content[1] == content[1]) {
			current_verdict(s, a, out);
			return STORE_SAME;
		}
		if (!replace)
			return STORE_CONFLICT;
	}
	if ((r = analyse(s, in, &doc)) != 0)
		return r;

	/* The durability issue appends the write-ahead log record here, before memory changes. */
	if (found) {
		a = s->articles[s->slots[slot]];
		cluster_remove(s->clusterer, a->index);
		if ((r = cluster_add(s->clusterer, a->index, doc, out)) < 0)
			return r;
		article_set(a, in, content);
		a->status = out->status;
		return STORE_REPLACED;
	}

	a = xcalloc(1, sizeof(*a));
	a->id = xstrndup(in->id, in->id_len);
	a->index = index_take(s);
	if ((r = cluster_add(s->clusterer, a->index, doc, out)) < 0) {
		s->free_idx[s->nfree++] = a->index;
		article_free(a);
		return r;
	}
	article_set(a, in, content);
	a->status = out->status;
	s->articles[a->index] = a;
	if (s->slots[slot] == SLOT_EMPTY)
		s->nused++;
	s->slots[slot] = a->index;
	s->count++;
	if (s->nused * 4 > s->nslots * 3)
		slots_grow(s);
	return STORE_CREATED;
}

int
store_similar(struct store *s, const struct article_in *in, struct verdict *out)
{
	const struct doc	*doc;
	int			 r;

	if ((r = analyse(s, in, &doc)) != 0)
		return r;
	return cluster_query(s->clusterer, doc, out);
}

int
store_delete(struct store *s, const char *id, size_t id_len)
{
	struct article	*a;
	size_t		 slot;
	int		 found;

	slot = slot_lookup(s, id, id_len, &found);
	if (!found)
		return STORE_NOT_FOUND;
	a = s->articles[s->slots[slot]];
	/* The durability issue appends the deletion record here. */
	cluster_remove(s->clusterer, a->index);
	s->slots[slot] = SLOT_GONE;
	s->articles[a->index] = NULL;
	s->free_idx[s->nfree++] = a->index;
	s->count--;
	article_free(a);
	return 0;
}

const struct article *
store_find(const struct store *s, const char *id, size_t id_len)
{
	size_t	slot;
	int	found;

	slot = slot_lookup(s, id, id_len, &found);
	return found ? s->articles[s->slots[slot]] : NULL;
}

const struct article *
store_at(const struct store *s, uint32_t index)
{
	return index < s->narticles ? s->articles[index] : NULL;
}

struct clusterer *
store_clusterer(const struct store *s)
{
	return s->clusterer;
}

size_t
store_count(const struct store *s)
{
	return s->count;
}
