/*
 * store: client ids to dense indexes, article metadata and the clusterer;
 * every change logged before it is applied; snapshots and recovery.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "ahead.h"
#include "clock.h"
#include "fingerprint.h"
#include "le.h"
#include "pages.h"
#include "snapshot.h"
#include "store.h"
#include "thread.h"
#include "wal.h"
#include "xmalloc.h"

/* Log record types. */
enum {
	REC_PUT = 1,
	REC_DELETE = 2,
	REC_EVICT = 3,
};

#define STORE_FORMAT	1	/* of the store's part of a snapshot */
#define ID_MAX		256	/* api.h API_MAX_ID: the longest id a client can store */
#define LOCK_TRIES	40	/* 50 ms apart: how long a daemon that is stopping may hold the lock */
#define CHOICE_HEAD	(1 + 4 * 4)	/* choice_encode(): status, group, story, absorb, nfresh */
#define CHOICE_FRESH	(4 + 3 * 8)	/* a fresh story's id and its norm's three sums */
#define CHOICE_MAX	(CHOICE_HEAD + CHOICE_FRESH * CLUSTER_FRESH_MAX)
/*
 * A rotation flushes on the loop at most this much of the old segment: what
 * came while the log's thread flushed the rest (wal_rotate_ready()).
 */
#define ROTATE_UNSYNCED_MAX	((uint64_t)1 << 20)

struct age {
	int64_t		published;
	uint32_t	index;
};

struct store {
	struct store_params	  params;
	struct article		**articles;	/* by index; NULL: free */
	uint32_t		  narticles, cap;
	uint32_t		 *free_idx;	/* indexes to reuse, a stack */
	uint32_t		  nfree;
	size_t			  count;

	struct slot		 *slots;	/* the id table (see slot_find()) */
	size_t			  nslots;	/* a power of two */

	struct age		 *ages;		/* min-heap by (published, index); stale entries skipped */
	size_t			  nages, ages_cap;
	int64_t			  watermark;	/* the newest publication time seen, capped at ingest */
	uint64_t		  evicted;

	struct clusterer	 *clusterer;
	struct fingerprinter	 *fingerprinter;
	struct ahead		 *ahead;	/* store_put_batch()'s second thread, once started */
	int			  ahead_tried;

	int			  dirfd;	/* -1: memory only */
	struct wal		 *wal;
	unsigned char		 *doc_buf;	/* log_put()'s encoded doc */
	size_t			  doc_cap, doc_len;
	const unsigned char	 *doc_bytes;	/* what log_put() writes: doc_buf, or the put's kept */
	unsigned char		  choice_buf[CHOICE_MAX];	/* and its choice */
	int			  replaying;	/* applying the log: evictions come from its records */
	struct rebuild		 *rebuild;	/* a snapshot being written, or NULL */
	struct store		 *rebuilt;	/* the state the last one wrote, for the next */
	uint64_t		  rebuilt_seq;	/* it covers the log before this */
	int			  unsynced;	/* written under everysec or no, not yet fsynced */
	struct store_stats	  stats;
};

/*
 * The id table: linear probing over the high 32 bits of each id's XXH3,
 * kept in the slot beside the article's index, so a probe compares hashes
 * before it touches an article and growing touches none. A removal shifts
 * the rest of the run back (no tombstones: under steady eviction they
 * forced a full rehash every few million puts). The table is sized when
 * the store opens for max_articles at most 3/4 full (16 bytes an article:
 * 16 MiB for 1,000,000), and faulted in then (pages_alloc()): a lookup
 * reads a page before an insert writes it, and each page a snapshot's
 * rebuild touched so cost the loop's core a TLB shootdown (pages.h).
 * Doubling while the loop waited had taken ~30 ms at 200,000 ids. It grows
 * only while a snapshot that holds more loads.
 */
struct slot {
	uint32_t	index1;		/* the article's index + 1; 0: empty */
	uint32_t	hash;		/* id_hash() */
};

static uint32_t
id_hash(const char *id, size_t len)
{
	return (uint32_t)(XXH3_64bits(id, len) >> 32);
}

static int
id_equal(const struct article *a, const char *id, size_t len)
{
	return a->id_len == len && memcmp(a->id, id, len) == 0;
}

/*
 * The slot holding id, whose id_hash() is hash, or the empty one that ends
 * its probe path (*found = 0).
 */
static size_t
slot_find(const struct store *s, const char *id, size_t len, uint32_t hash, int *found)
{
	size_t	mask = s->nslots - 1, i = hash & mask;

	for (;; i = (i + 1) & mask) {
		const struct slot	*v = &s->slots[i];

		if (v->index1 == 0) {
			*found = 0;
			return i;
		}
		if (v->hash == hash && id_equal(s->articles[v->index1 - 1], id, len)) {
			*found = 1;
			return i;
		}
	}
}

static size_t
slot_lookup(const struct store *s, const char *id, size_t len, int *found)
{
	return slot_find(s, id, len, id_hash(id, len), found);
}

/* Make room for n ids at most 3/4 full: a larger table, every id refiled by its hash. */
static void
slots_reserve(struct store *s, size_t n)
{
	struct slot	*old = s->slots;
	size_t		 nold = s->nslots, mask;

	if (s->nslots >= 1024 && n * 4 <= s->nslots * 3)
		return;
	if (s->nslots < 1024)
		s->nslots = 1024;
	while (n * 4 > s->nslots * 3)
		s->nslots *= 2;
	s->slots = xpages_alloc(s->nslots * sizeof(*s->slots));
	mask = s->nslots - 1;
	for (size_t i = 0; i < nold; i++) {
		size_t	j;

		if (old[i].index1 == 0)
			continue;
		for (j = old[i].hash & mask; s->slots[j].index1 != 0; j = (j + 1) & mask)
			;
		s->slots[j] = old[i];
	}
	pages_free(old, nold * sizeof(*old));
}

/* Empty slot i, moving back each later entry of its run that may sit nearer its home. */
static void
slot_clear(struct store *s, size_t i)
{
	size_t	mask = s->nslots - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (s->slots[j].index1 == 0)
			break;
		/* the entry at j may fill the hole at i unless its home lies in (i, j] */
		size_t	home = s->slots[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i] = (struct slot){ 0 };
}

static struct store *
store_alloc(const struct store_params *params)
{
	struct store	*s = xcalloc(1, sizeof(*s));

	s->params = *params;
	s->dirfd = -1;
	s->watermark = INT64_MIN;
	if ((s->fingerprinter = fingerprinter_new(&params->cluster)) == NULL) {
		store_free(s);
		return NULL;
	}
	slots_reserve(s, params->max_articles);
	return s;
}

struct store *
store_new(const struct store_params *params)
{
	struct store	*s = store_alloc(params);

	if (s != NULL && (s->clusterer = cluster_new(&params->cluster)) == NULL) {
		store_free(s);
		return NULL;
	}
	return s;
}

/*
 * An article and its four strings in one allocation, the strings after the
 * struct: one malloc per article instead of five, and its id beside the
 * fields a lookup reads. The strings are NUL-terminated copies.
 */
enum { F_ID, F_TITLE, F_SOURCE, F_URL, NFIELDS };

static struct article *
article_pack(const char *const f[NFIELDS], const size_t n[NFIELDS])
{
	struct article	*a;
	char		*p;
	size_t		 size = sizeof(*a);

	for (int i = 0; i < NFIELDS; i++)
		size += n[i] + 1;
	a = xmalloc(size);
	memset(a, 0, sizeof(*a));
	p = (char *)(a + 1);
	for (int i = 0; i < NFIELDS; i++) {
		char **dst[NFIELDS] = { &a->id, &a->title, &a->source, &a->url };

		if (n[i] > 0)
			memcpy(p, f[i], n[i]);
		p[n[i]] = '\0';
		*dst[i] = p;
		p += n[i] + 1;
	}
	a->id_len = (uint16_t)n[F_ID];
	return a;
}

static void	rebuild_stop(struct store *);

static void
article_free(struct article *a)
{
	free(a);
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	rebuild_stop(s);
	store_free(s->rebuilt);
	for (uint32_t i = 0; i < s->narticles; i++)
		article_free(s->articles[i]);
	free(s->articles);
	free(s->free_idx);
	pages_free(s->slots, s->nslots * sizeof(*s->slots));
	free(s->ages);
	wal_close(s->wal);
	free(s->doc_buf);
	if (s->dirfd != -1)
		close(s->dirfd);
	cluster_free(s->clusterer);
	fingerprinter_free(s->fingerprinter);
	ahead_free(s->ahead);
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

static int64_t
published_of(const struct article_in *a)
{
	return a->has_published ? a->published : a->now;
}

struct article_text
store_text_of(const struct article_in *a)
{
	return (struct article_text){
		.title = a->title, .title_len = a->title_len,
		.body = a->body, .body_len = a->body_len,
		.source = a->source, .source_len = a->source_len,
		.published = published_of(a), .kept = a->kept, .kept_len = a->kept_len,
	};
}

/* fingerprint()'s result as a store result. */
static int
analysed(int r)
{
	return r == -ENODATA ? STORE_NO_WORDS : r;
}

/* a's doc; *taken (if not NULL) says whether it is a->kept's, as a->kept's bytes are. */
static int
analyse(struct store *s, const struct article_in *a, const struct doc **doc, int *taken)
{
	struct article_text	t = store_text_of(a);
	uint64_t		before = fingerprinter_taken(s->fingerprinter);
	int			r = fingerprint(s->fingerprinter, &t, doc), took;

	/* a->kept, taken: the log's, or the decode thread's for a client's batch */
	if ((took = fingerprinter_taken(s->fingerprinter) != before)) {
		if (s->replaying)
			s->stats.fingerprints_taken++;
		else
			s->stats.fingerprinted_ahead++;
	}
	if (taken != NULL)
		*taken = took;
	return analysed(r);
}

/* An article fingerprinted before its put (store_put_batch()): the doc, or why not. */
struct prepared {
	const struct doc	*doc;
	int			 r;	/* analyse()'s result */
};

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

/* A new article holding in's fields; index and status are the caller's to set. */
static struct article *
article_new(const struct article_in *in, const uint64_t content[2])
{
	const char	*f[NFIELDS] = { in->id, in->title, in->source, in->url };
	const size_t	 n[NFIELDS] = { in->id_len, in->title_len, in->source_len, in->url_len };
	struct article	*a = article_pack(f, n);

	a->published = published_of(in);
	a->ingested = in->now;
	a->content[0] = content[0];
	a->content[1] = content[1];
	return a;
}

/* The age heap: the oldest article first, ties by index, so eviction order is total. */
static int
age_less(const struct age *a, const struct age *b)
{
	return a->published < b->published || (a->published == b->published && a->index < b->index);
}

static void
age_push(struct store *s, int64_t published, uint32_t index)
{
	size_t		i = s->nages++;
	struct age	e = { published, index };

	if (s->nages > s->ages_cap) {
		s->ages_cap = s->ages_cap == 0 ? 1024 : s->ages_cap * 2;
		s->ages = xreallocarray(s->ages, s->ages_cap, sizeof(*s->ages));
	}
	for (; i > 0 && age_less(&e, &s->ages[(i - 1) / 2]); i = (i - 1) / 2)
		s->ages[i] = s->ages[(i - 1) / 2];
	s->ages[i] = e;
}

static void
age_pop(struct store *s)
{
	struct age	last = s->ages[--s->nages];
	size_t		i = 0, c;

	while ((c = 2 * i + 1) < s->nages) {
		if (c + 1 < s->nages && age_less(&s->ages[c + 1], &s->ages[c]))
			c++;
		if (!age_less(&s->ages[c], &last))
			break;
		s->ages[i] = s->ages[c];
		i = c;
	}
	if (s->nages > 0)
		s->ages[i] = last;
}

/*
 * The oldest article held, or NULL. An entry whose article was deleted or
 * replaced since is stale and dropped; one that names a live article with
 * the same time is as old as the oldest, whichever article it once meant.
 */
static struct article *
age_oldest(struct store *s)
{
	while (s->nages > 0) {
		struct article	*a = store_at(s, s->ages[0].index) ? s->articles[s->ages[0].index] : NULL;

		if (a != NULL && a->published == s->ages[0].published)
			return a;
		age_pop(s);
	}
	return NULL;
}

/* Stale entries are dropped as they surface; rebuild when they outnumber the live ones. */
static void
age_compact(struct store *s)
{
	if (s->nages < 1024 || s->nages < 2 * s->count)
		return;
	s->nages = 0;
	for (uint32_t i = 0; i < s->narticles; i++)
		if (s->articles[i] != NULL)
			age_push(s, s->articles[i]->published, i);
}

/* The encoding of log records: little-endian integers (le.h), length-prefixed strings. */

struct rec_reader {
	const unsigned char	*p;
	size_t			 len, off;
	int			 bad;
};

static uint64_t
rd_u64(struct rec_reader *r)
{
	uint64_t	v;

	if (r->len - r->off < 8) {
		r->bad = 1;
		return 0;
	}
	v = le64_get(r->p + r->off);
	r->off += 8;
	return v;
}

static const char *
rd_str(struct rec_reader *r, size_t *n)
{
	const char	*p;

	*n = (size_t)rd_u64(r);
	if (r->bad || *n > r->len - r->off) {
		r->bad = 1;
		*n = 0;
		return "";
	}
	p = (const char *)r->p + r->off;
	r->off += *n;
	return p;
}

/*
 * Append a record of n strings after nint integers; a no-op in memory-only
 * stores and while replaying. The strings go to the log's buffer as they
 * are, without being assembled here first.
 */
#define LOG_MAX_STR	7
#define LOG_MAX_INT	4

static int
log_record(struct store *s, int type, const uint64_t *ints, int nint, const char *const *str,
    const size_t *len, int n)
{
	unsigned char	head[LOG_MAX_INT * 8], lens[LOG_MAX_STR][8];
	struct iovec	iov[1 + 2 * LOG_MAX_STR];
	int		k = 0;

	if (s->wal == NULL || s->replaying)
		return 0;
	assert(nint <= LOG_MAX_INT && n <= LOG_MAX_STR);
	for (int i = 0; i < nint; i++)
		le64_put(head + 8 * i, ints[i]);
	iov[k++] = (struct iovec){ head, 8 * (size_t)nint };
	for (int i = 0; i < n; i++) {
		le64_put(lens[i], len[i]);
		iov[k++] = (struct iovec){ lens[i], 8 };
		iov[k++] = (struct iovec){ (void *)(uintptr_t)(len[i] > 0 ? str[i] : ""), len[i] };
	}
	return wal_appendv(s->wal, (uint8_t)type, iov, k, NULL);
}

/*
 * A put's record: its flags and times, its five strings as given, the doc
 * they were analysed into (doc_encode()), which a replay takes instead of
 * analysing them again, and what the clusterer decided for it
 * (choice_encode()), which a replay takes instead of deciding again.
 * Records of log version 1 end after the url, of version 2 after the doc.
 */
#define PUT_INTS	4
#define PUT_STRS	7

/*
 * A decision's bytes: status, group, story, absorb and nfresh, the fresh
 * stories' ids, then the three sums of each one's norm (IEEE 754 bits),
 * which a replay takes instead of computing them again: that was a quarter
 * of a rebuild's applying the puts. Records written before the sums were
 * kept end after the ids, as a choice without them is still written.
 */
static size_t
choice_encode(const struct cluster_choice *ch, unsigned char *p)
{
	uint32_t	v[4] = { ch->group, ch->story, ch->absorb, ch->nfresh };
	size_t		n = 0;

	p[n++] = ch->status;
	for (int i = 0; i < 4; i++, n += 4)
		le32_put(p + n, v[i]);
	for (uint32_t i = 0; i < ch->nfresh; i++, n += 4)
		le32_put(p + n, ch->fresh[i]);
	for (uint32_t i = 0; ch->has_norms && i < ch->nfresh; i++) {
		for (int j = 0; j < 3; j++, n += 8) {
			uint64_t	bits;

			memcpy(&bits, &ch->norm[i][j], sizeof(bits));
			le64_put(p + n, bits);
		}
	}
	return n;
}

/* 0, or -EINVAL when p is not a choice_encode() of len bytes, nor an older one. */
static int
choice_decode(const unsigned char *p, size_t len, struct cluster_choice *ch)
{
	const unsigned char	*sums;

	if (len < CHOICE_HEAD)
		return -EINVAL;
	ch->status = p[0];
	ch->group = le32_get(p + 1);
	ch->story = le32_get(p + 5);
	ch->absorb = le32_get(p + 9);
	ch->nfresh = le32_get(p + 13);
	if (ch->nfresh > CLUSTER_FRESH_MAX)
		return -EINVAL;
	if (len == CHOICE_HEAD + CHOICE_FRESH * (size_t)ch->nfresh)
		ch->has_norms = 1;
	else if (len == CHOICE_HEAD + 4 * (size_t)ch->nfresh)
		ch->has_norms = 0;
	else
		return -EINVAL;
	for (uint32_t i = 0; i < ch->nfresh; i++)
		ch->fresh[i] = le32_get(p + CHOICE_HEAD + 4 * i);
	sums = p + CHOICE_HEAD + 4 * (size_t)ch->nfresh;
	for (uint32_t i = 0; ch->has_norms && i < ch->nfresh; i++) {
		for (int j = 0; j < 3; j++, sums += 8) {
			uint64_t	bits = le64_get(sums);

			memcpy(&ch->norm[i][j], &bits, sizeof(bits));
		}
	}
	return 0;
}

/* The put's record strings but its choice, and their lengths. */
static void
put_strings(const struct store *s, const struct article_in *in, const char **str, size_t *len)
{
	const char	*v[] = { in->id, in->title, in->body, in->source, in->url,
			    (const char *)s->doc_bytes, (const char *)s->choice_buf };
	size_t		 l[] = { in->id_len, in->title_len, in->body_len, in->source_len,
			    in->url_len, s->doc_len, 0 };

	memcpy(str, v, sizeof(v));
	memcpy(len, l, sizeof(l));
}

/*
 * Before the put is applied: its doc encoded, and room for its record in
 * the log's buffer, so that log_put() cannot fail once the clusterer has
 * decided. A doc taken from in->kept is logged as those bytes, which are
 * what doc_encode() would make of it (fingerprint() takes only such), so
 * the loop does not encode again what the decode thread encoded. 0, or
 * -errno with nothing changed.
 */
static int
log_put_ready(struct store *s, const struct article_in *in, const struct doc *doc, int taken)
{
	const char	*str[PUT_STRS];
	size_t		 len[PUT_STRS], n;

	if (s->wal == NULL || s->replaying)
		return 0;
	if (taken) {
		s->doc_bytes = in->kept;
		s->doc_len = in->kept_len;
	} else {
		if ((n = doc_encoded_size(doc, &s->params.cluster)) > s->doc_cap) {
			unsigned char	*p = realloc(s->doc_buf, n);

			if (p == NULL)
				return -ENOMEM;
			s->doc_buf = p;
			s->doc_cap = n;
		}
		doc_encode(doc, &s->params.cluster, s->doc_buf);
		s->doc_bytes = s->doc_buf;
		s->doc_len = n;
	}
	put_strings(s, in, str, len);
	n = 8 * PUT_INTS + CHOICE_MAX;
	for (int i = 0; i < PUT_STRS; i++) {
		if (len[i] > SIZE_MAX / 2)
			return -EMSGSIZE;
		n += 8 + len[i];
	}
	return wal_reserve(s->wal, n);
}

/* The put's record, once log_put_ready() made room for it. */
static void
log_put(struct store *s, const struct article_in *in, int replace, const struct cluster_choice *ch)
{
	const uint64_t	 ints[PUT_INTS] = { (uint64_t)replace, (uint64_t)in->now,
			     (uint64_t)in->published, (uint64_t)in->has_published };
	const char	*str[PUT_STRS];
	size_t		 len[PUT_STRS];

	if (s->wal == NULL || s->replaying)
		return;
	put_strings(s, in, str, len);
	len[6] = choice_encode(ch, s->choice_buf);
	if (log_record(s, REC_PUT, ints, PUT_INTS, str, len, PUT_STRS) != 0)
		abort();	/* log_put_ready() reserved the room: cannot happen */
}

static int
log_id(struct store *s, int type, const char *id, size_t len)
{
	return log_record(s, type, NULL, 0, &id, &len, 1);
}

/* File index in the empty slot slot_find() gave for an id of this hash. */
static void
slot_set(struct store *s, size_t slot, uint32_t index, uint32_t hash)
{
	s->slots[slot] = (struct slot){ .index1 = index + 1, .hash = hash };
}

/* Remove the article in slot from memory (the log record, if any, is written). */
static void
forget(struct store *s, size_t slot)
{
	struct article	*a = s->articles[s->slots[slot].index1 - 1];

	cluster_remove(s->clusterer, a->index);
	slot_clear(s, slot);
	s->articles[a->index] = NULL;
	s->free_idx[s->nfree++] = a->index;
	s->count--;
	article_free(a);
}

static int
evict(struct store *s, struct article *a)
{
	size_t	slot;
	int	found, r;

	if ((r = log_id(s, REC_EVICT, a->id, a->id_len)) != 0)
		return r;
	slot = slot_lookup(s, a->id, a->id_len, &found);
	forget(s, slot);
	s->evicted++;
	return 0;
}

/*
 * Make room before an article arrives: evict what fell out of the retention
 * window and, for a new id, the oldest while the store is full. Not while
 * replaying: the log's own eviction records say what went.
 */
static int
make_room(struct store *s, int64_t published, int64_t now, int adding)
{
	struct article	*a;
	int64_t		 t = published < now ? published : now;
	int		 r;

	if (t > s->watermark)
		s->watermark = t;
	if (s->replaying)
		return 0;
	while ((a = age_oldest(s)) != NULL) {
		if (a->published >= s->watermark - s->params.retention &&
		    s->count + (size_t)adding <= s->params.max_articles)
			break;
		if ((r = evict(s, a)) != 0)
			return r;
	}
	age_compact(s);
	return 0;
}

/* Store in; pre: its doc, fingerprinted beforehand, or NULL to fingerprint it here. */
static int
apply_put(struct store *s, const struct article_in *in, int replace,
    const struct prepared *pre, struct verdict *out)
{
	const struct doc	*doc;
	struct article		*a, *old = NULL;
	struct cluster_choice	 ch;
	uint64_t		 content[2], evicted;
	uint32_t		 hash;
	uint32_t		 index;
	size_t			 slot;
	int			 found, r, taken = 0;

	content_hash(in, content);
	/* the id is hashed once per put, however many lookups it needs */
	hash = id_hash(in->id, in->id_len);
	slot = slot_find(s, in->id, in->id_len, hash, &found);
	if (found) {
		a = s->articles[s->slots[slot].index1 - 1];
		if (a->content[0] == content[0] && a->content[1] == content[1]) {
			current_verdict(s, a, out);
			return STORE_SAME;
		}
		if (!replace)
			return STORE_CONFLICT;
	}
	if (pre != NULL) {
		doc = pre->doc;
		r = pre->r;
	} else
		r = analyse(s, in, &doc, &taken);
	if (r != 0)
		return r;
	/*
	 * Room first, then the put: replay applies the eviction records before
	 * the put that follows them, so it judges the put against the same
	 * articles (logged the other way round, a copy of an evicted article
	 * was its exact duplicate after a crash, a new story before).
	 */
	evicted = s->evicted;
	if ((r = make_room(s, published_of(in), in->now, !found)) != 0 ||
	    (r = log_put_ready(s, in, doc, taken)) != 0)
		return r;
	/* an eviction shifts ids back in the table, and may have taken the article being replaced */
	if (s->evicted != evicted)
		slot = slot_find(s, in->id, in->id_len, hash, &found);

	if (found) {
		old = s->articles[s->slots[slot].index1 - 1];
		index = old->index;
		cluster_remove(s->clusterer, index);
	} else
		index = index_take(s);
	/*
	 * The fingerprinter's doc is still the one analysed above: make_room
	 * does not analyse. A replayed put is added as its record says when it
	 * can be (-EINVAL: this state does not hold what it names), and decided
	 * again otherwise.
	 */
	r = -EINVAL;
	if (in->chosen != NULL) {
		if ((r = choice_decode(in->chosen, in->chosen_len, &ch)) == 0)
			r = cluster_add_chosen(s->clusterer, index, doc, &ch, out);
		if (r == 0)
			s->stats.decisions_taken++;
		else if (r == -EINVAL)
			s->stats.decisions_refused++;
	}
	if (r == -EINVAL)
		r = cluster_add_noted(s->clusterer, index, doc, out, &ch);
	if (r < 0)
		abort();	/* -ENOMEM, the evictions logged and a replaced version gone: no way back */
	log_put(s, in, replace, &ch);
	a = article_new(in, content);
	a->index = index;
	a->status = (uint8_t)out->status;
	s->articles[index] = a;
	age_push(s, a->published, index);
	if (found) {
		article_free(old);
		return STORE_REPLACED;
	}
	slot_set(s, slot, index, hash);
	s->count++;
	return STORE_CREATED;
}

static int
put_counted(struct store *s, const struct article_in *in, int replace,
    const struct prepared *pre, struct verdict *out)
{
	int	r = apply_put(s, in, replace, pre, out);

	if ((r == STORE_CREATED || r == STORE_REPLACED) && out->status <= VERDICT_EXACT_DUPLICATE)
		s->stats.ingested[out->status]++;
	return r;
}

int
store_put(struct store *s, const struct article_in *in, int replace, struct verdict *out)
{
	return put_counted(s, in, replace, NULL, out);
}

void
store_prefetch_ready(struct store *s, struct ahead *a, size_t i)
{
	const struct doc	*doc = a != NULL ? ahead_ready(a, i) : NULL;

	if (doc != NULL)
		cluster_prefetch(s->clusterer, doc);
}

/* The second thread, started at the first batch on a machine of more than one core. */
struct ahead *
store_ahead(struct store *s)
{
	if (!s->ahead_tried) {
		s->ahead_tried = 1;
		if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
			s->ahead = ahead_new(&s->params.cluster);
	}
	return s->ahead;
}

int
store_put_fingerprinted(struct store *s, const struct article_in *in, const struct doc *doc,
    int r, struct verdict *out)
{
	struct prepared	pre = { .doc = doc, .r = analysed(r) };

	s->stats.fingerprinted_ahead++;
	return put_counted(s, in, 0, &pre, out);
}

struct replay;
static void	replay_removals(struct replay *, size_t);

/* How many of in[0..n) come without the log's fingerprint (all of a client's). */
static size_t
to_analyse(const struct article_in *in, size_t n)
{
	size_t	k = 0;

	for (size_t i = 0; i < n; i++)
		k += in[i].kept == NULL;
	return k;
}

/*
 * Store in[0..n) in order: the second thread fingerprints from the end while
 * this one stores from the start, unless the log kept their fingerprints.
 * counted: a client's articles, which the ingest metrics count; not the
 * log's, replayed at recovery, where rp (else NULL) holds the removals
 * logged between them, applied before each put.
 */
static void
put_many(struct store *s, const struct article_in *in, size_t n, int replace, int counted,
    int *results, struct verdict *outs, struct replay *rp)
{
	struct article_text	*t = NULL;
	struct ahead		*a = to_analyse(in, n) > 1 ? store_ahead(s) : NULL;

	if (a != NULL && (t = malloc(n * sizeof(*t))) != NULL) {
		for (size_t i = 0; i < n; i++)
			t[i] = store_text_of(&in[i]);
		if (ahead_begin(a, t, n) != 0)
			a = NULL;	/* out of memory, or the thread is still busy */
	} else
		a = NULL;
	free(t);
	for (size_t i = 0; i < n; i++) {
		struct prepared	 pre = { .r = 0 };
		int		 r = a != NULL ? ahead_take(a, i, &pre.doc) : 0;

		if (i + 1 < n)
			store_prefetch_ready(s, a, i + 1);

		if (r != 0) {
			pre.r = analysed(r < 0 ? r : 0);
			s->stats.fingerprinted_ahead++;
		}
		if (rp != NULL)
			replay_removals(rp, i);
		if (counted)
			results[i] = put_counted(s, &in[i], replace, r != 0 ? &pre : NULL, &outs[i]);
		else
			results[i] = apply_put(s, &in[i], replace, r != 0 ? &pre : NULL, &outs[i]);
	}
	if (a != NULL)
		ahead_end(a);
}

void
store_put_batch(struct store *s, const struct article_in *in, size_t n, int replace,
    int *results, struct verdict *outs)
{
	put_many(s, in, n, replace, 1, results, outs, NULL);
}

int
store_similar(struct store *s, const struct article_in *in, struct verdict *out)
{
	const struct doc	*doc;
	int			 r;

	if ((r = analyse(s, in, &doc, NULL)) != 0)
		return r;
	return cluster_query(s->clusterer, doc, out);
}

int
store_delete(struct store *s, const char *id, size_t id_len)
{
	size_t	slot;
	int	found, r;

	slot = slot_lookup(s, id, id_len, &found);
	if (!found)
		return STORE_NOT_FOUND;
	if ((r = log_id(s, REC_DELETE, id, id_len)) != 0)
		return r;
	forget(s, slot);
	return 0;
}

const struct article *
store_find(const struct store *s, const char *id, size_t id_len)
{
	size_t	slot;
	int	found;

	slot = slot_lookup(s, id, id_len, &found);
	return found ? s->articles[s->slots[slot].index1 - 1] : NULL;
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

uint64_t
store_evicted(const struct store *s)
{
	return s->evicted;
}

size_t
store_pending(const struct store *s)
{
	return s->wal != NULL ? wal_pending(s->wal) : 0;
}

int
store_flush(struct store *s)
{
	size_t	pending;
	double	t0;
	int	r;

	if (s->wal == NULL)
		return 0;
	if ((pending = wal_pending(s->wal)) == 0)
		return wal_flush(s->wal);
	t0 = clock_seconds(CLOCK_MONOTONIC);
	if ((r = wal_flush(s->wal)) != 0)
		return r;
	s->stats.log_written += pending;
	/*
	 * Under always the flush is the fsync; otherwise the timer's store_sync()
	 * is, and the write alone is what the turn's replies wait for.
	 */
	if (s->params.sync == STORE_SYNC_ALWAYS) {
		histogram_observe(&s->stats.fsync, clock_seconds(CLOCK_MONOTONIC) - t0);
	} else {
		histogram_observe(&s->stats.log_write, clock_seconds(CLOCK_MONOTONIC) - t0);
		s->unsynced = 1;
	}
	return 0;
}

int
store_sync(struct store *s)
{
	size_t	pending;
	double	t0;
	int	r;

	if (s->wal == NULL)
		return 0;
	if ((pending = wal_pending(s->wal)) == 0 && !s->unsynced)
		return wal_sync(s->wal);
	t0 = clock_seconds(CLOCK_MONOTONIC);
	if ((r = wal_sync(s->wal)) != 0)
		return r;
	s->stats.log_written += pending;
	s->unsynced = 0;
	histogram_observe(&s->stats.fsync, clock_seconds(CLOCK_MONOTONIC) - t0);
	return 0;
}

int
store_sync_background(struct store *s)
{
	size_t	pending;
	double	secs, t0;
	int	r;

	if (s->wal == NULL)
		return 0;
	if ((r = wal_sync_done(s->wal, &secs)) < 0)
		return r;
	if (r == 1)
		histogram_observe(&s->stats.fsync, secs);
	pending = wal_pending(s->wal);
	t0 = clock_seconds(CLOCK_MONOTONIC);
	if ((r = wal_sync_start(s->wal)) < 0)
		return r;
	/* started or not, it wrote what was pending: the turn's write (store_flush()) */
	if (pending > 0)
		histogram_observe(&s->stats.log_write, clock_seconds(CLOCK_MONOTONIC) - t0);
	s->stats.log_written += pending;
	s->unsynced = 0;
	return 0;
}

const struct store_stats *
store_stats(const struct store *s)
{
	return &s->stats;
}

uint64_t
store_log_bytes(const struct store *s)
{
	return s->wal != NULL ? wal_bytes(s->wal) : 0;
}

/*
 * What the API lets in (api.c: ids of 1 to ID_MAX bytes, JSON strings, which
 * hold no NUL): a record that is not is damage, and applying it would leave a
 * state the next snapshot cannot hold (put_str() writes C strings,
 * load_article() refuses empty and long ids).
 */
static int
loggable(const struct article_in *in)
{
	return in->id_len > 0 && in->id_len <= ID_MAX && memchr(in->id, '\0', in->id_len) == NULL &&
	    memchr(in->title, '\0', in->title_len) == NULL &&
	    memchr(in->source, '\0', in->source_len) == NULL &&
	    memchr(in->url, '\0', in->url_len) == NULL;
}

/*
 * Replay: puts are gathered, up to REPLAY_BATCH with the same replace flag,
 * and stored by put_many() as a client's batch is, each taking the
 * fingerprint its record kept (the second thread fingerprints the records
 * of log version 1, which kept none). The deletes and evictions logged
 * between them are gathered too, each applied just before the put that
 * follows it, so every record applies in log order; fingerprints do not
 * depend on what is held. (A store at max_articles logs an eviction before
 * each put: flushing at every one left the second thread nothing to do.)
 * The log's last record stores what is gathered. Articles and ids point
 * into the log's records, which wal_replay() keeps mapped until it returns.
 */
#define REPLAY_BATCH	64

struct removal {
	const char	*id;
	size_t		 id_len;
	size_t		 before;	/* the gathered put it precedes */
	int		 evicted;	/* an eviction, not a delete */
};

struct replay {
	struct store		*s;
	const atomic_int	*stop;		/* a rebuild's: give up (NULL: never) */
	size_t			 n, nrm, rm_done;
	int			 replace;
	struct article_in	 in[REPLAY_BATCH];
	int			 results[REPLAY_BATCH];
	struct verdict		 outs[REPLAY_BATCH];
	struct removal		 rm[REPLAY_BATCH];
};

/* Apply the gathered removals that precede gathered put i (REPLAY_BATCH: all left). */
static void
replay_removals(struct replay *rp, size_t i)
{
	for (; rp->rm_done < rp->nrm && rp->rm[rp->rm_done].before <= i; rp->rm_done++) {
		const struct removal	*rm = &rp->rm[rp->rm_done];
		int			 found;
		size_t			 slot = slot_lookup(rp->s, rm->id, rm->id_len, &found);

		if (found) {
			forget(rp->s, slot);
			rp->s->evicted += rm->evicted;
		}
	}
}

/* Apply what is gathered: 0, or the first failure (-errno). */
static int
replay_flush(struct replay *rp)
{
	size_t	n = rp->n;

	rp->n = 0;
	if (n > 0)
		put_many(rp->s, rp->in, n, rp->replace, 0, rp->results, rp->outs, rp);
	replay_removals(rp, REPLAY_BATCH);
	rp->nrm = rp->rm_done = 0;
	for (size_t i = 0; i < n; i++)
		if (rp->results[i] < 0)
			return rp->results[i];
	return 0;
}

/* Replay one log record through the same code that first applied it. */
static int
on_replay(const struct wal_record *rec, void *arg)
{
	struct replay		*rp = arg;
	struct rec_reader	 r = { rec->data, rec->len, 0, 0 };
	struct article_in	 in = { 0 };
	int			 replace, rc;

	if (rp->stop != NULL && atomic_load_explicit(rp->stop, memory_order_relaxed))
		return -ECANCELED;
	switch (rec->type) {
	case REC_PUT:
		replace = (int)rd_u64(&r);
		in.now = (int64_t)rd_u64(&r);
		in.published = (int64_t)rd_u64(&r);
		in.has_published = (int)rd_u64(&r);
		in.id = rd_str(&r, &in.id_len);
		in.title = rd_str(&r, &in.title_len);
		in.body = rd_str(&r, &in.body_len);
		in.source = rd_str(&r, &in.source_len);
		in.url = rd_str(&r, &in.url_len);
		if (r.off < r.len)
			in.kept = (const unsigned char *)rd_str(&r, &in.kept_len);
		if (r.off < r.len)
			in.chosen = (const unsigned char *)rd_str(&r, &in.chosen_len);
		if (r.bad || r.off != r.len || !loggable(&in))
			return -EINVAL;
		if ((rp->n == REPLAY_BATCH || (rp->n > 0 && replace != rp->replace)) &&
		    (rc = replay_flush(rp)) != 0)
			return rc;
		rp->replace = replace;
		rp->in[rp->n++] = in;
		return rec->last ? replay_flush(rp) : 0;
	case REC_DELETE:
	case REC_EVICT:
		in.id = rd_str(&r, &in.id_len);
		if (r.bad || r.off != r.len)
			return -EINVAL;
		if (rp->nrm == REPLAY_BATCH && (rc = replay_flush(rp)) != 0)
			return rc;
		rp->rm[rp->nrm++] = (struct removal){ .id = in.id, .id_len = in.id_len,
		    .before = rp->n, .evicted = rec->type == REC_EVICT };
		return rec->last ? replay_flush(rp) : 0;
	}
	return -EINVAL;
}

/*
 * Apply the log's records from seq on: all of them, repairing a torn tail
 * (or any damage, with allow_truncate), or, with until > 0, reading only
 * those before until (wal_read()). A thread that sets *stop (NULL: none)
 * ends it with -ECANCELED.
 */
static int
replay_log(struct store *s, int dirfd, uint64_t seq, uint64_t until, const atomic_int *stop,
    struct wal_report *wr)
{
	struct replay	*rp;
	int		 r;

	memset(wr, 0, sizeof(*wr));
	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return -ENOMEM;
	rp->s = s;
	rp->stop = stop;
	s->replaying = 1;
	if (until == 0)
		r = wal_replay(dirfd, seq, s->params.allow_truncate, on_replay, rp, wr);
	else
		r = wal_read(dirfd, seq, until, on_replay, rp, wr);
	assert(r != 0 || (rp->n == 0 && rp->nrm == 0));	/* the last record applied what was gathered */
	s->replaying = 0;
	free(rp);
	return r;
}

/* The store's part of a snapshot, then the clusterer's. */
static int
put_u64(struct snapshot_io *io, uint64_t v)
{
	unsigned char	b[8];

	le64_put(b, v);
	return snapshot_put(b, 8, io);
}

static int
put_str(struct snapshot_io *io, const char *p)
{
	size_t	n = strlen(p);
	int	r;

	if ((r = put_u64(io, n)) != 0)
		return r;
	return snapshot_put(p, n, io);
}

static int
dump_body(struct snapshot_io *io, void *arg)
{
	const struct store	*s = arg;
	int			 r;

	if ((r = put_u64(io, STORE_FORMAT)) || (r = put_u64(io, s->narticles)) ||
	    (r = put_u64(io, s->nfree)) || (r = put_u64(io, s->count)) ||
	    (r = put_u64(io, (uint64_t)s->watermark)) || (r = put_u64(io, s->evicted)))
		return r;
	for (uint32_t i = 0; i < s->nfree; i++)
		if ((r = put_u64(io, s->free_idx[i])) != 0)
			return r;
	for (uint32_t i = 0; i < s->narticles; i++) {
		const struct article *a = s->articles[i];

		if (a == NULL)
			continue;
		if ((r = put_u64(io, i)) || (r = put_str(io, a->id)) || (r = put_str(io, a->title)) ||
		    (r = put_str(io, a->source)) || (r = put_str(io, a->url)) ||
		    (r = put_u64(io, (uint64_t)a->published)) ||
		    (r = put_u64(io, (uint64_t)a->ingested)) || (r = put_u64(io, a->content[0])) ||
		    (r = put_u64(io, a->content[1])) || (r = put_u64(io, a->status)))
			return r;
	}
	return cluster_dump(s->clusterer, snapshot_put, io);
}

static int
get_u64(struct snapshot_io *io, uint64_t *v)
{
	unsigned char	b[8];
	int		r;

	if ((r = snapshot_get(b, 8, io)) != 0)
		return r;
	*v = le64_get(b);
	return 0;
}

#define STR_MAX		(1u << 30)
#define LOAD_CHUNK	((size_t)64 << 10)

static int
get_str(struct snapshot_io *io, char **out)
{
	uint64_t	n;
	int		r;
	size_t		have = 0, cap;
	char		*p;

	if ((r = get_u64(io, &n)) != 0)
		return r;
	if (n > STR_MAX)
		return -EINVAL;
	/* grown as the bytes arrive: a damaged length ends in a short read, not a huge allocation */
	cap = n < LOAD_CHUNK ? (size_t)n : LOAD_CHUNK;
	p = xmalloc(cap + 1);
	while (have < n) {
		size_t	k = n - have < LOAD_CHUNK ? (size_t)n - have : LOAD_CHUNK;

		if (have + k > cap) {
			cap = cap * 2 < n ? cap * 2 : (size_t)n;
			p = xreallocarray(p, cap + 1, 1);
		}
		if ((r = snapshot_get(p + have, k, io)) != 0) {
			free(p);
			return r;
		}
		have += k;
	}
	p[n] = '\0';
	*out = p;
	return 0;
}

/*
 * Grow the by-index arrays to n entries while a snapshot loads. New entries
 * are free (NULL) and counted in narticles, so that store_free() sees every
 * article loaded so far; load_body() sets the real narticles at the end.
 */
static void
load_reserve(struct store *s, uint64_t n)
{
	uint64_t	cap = s->cap == 0 ? 1024 : s->cap;

	if (n <= s->cap)
		return;
	while (cap < n)
		cap *= 2;
	if (cap > CLUSTER_NONE)
		cap = CLUSTER_NONE;
	s->articles = xreallocarray(s->articles, (size_t)cap, sizeof(*s->articles));
	s->free_idx = xreallocarray(s->free_idx, (size_t)cap, sizeof(*s->free_idx));
	memset(s->articles + s->cap, 0, (size_t)(cap - s->cap) * sizeof(*s->articles));
	s->cap = s->narticles = (uint32_t)cap;
}

static int
load_article(struct store *s, struct snapshot_io *io, uint64_t narticles)
{
	struct article	*a;
	char		*f[NFIELDS] = { NULL };
	const char	*cf[NFIELDS];
	size_t		 n[NFIELDS];
	uint64_t	 index, pub, ing, status, content[2];
	size_t		 slot;
	uint32_t	 hash;
	int		 found, r;

	if ((r = get_u64(io, &index)) || (r = get_str(io, &f[F_ID])) ||
	    (r = get_str(io, &f[F_TITLE])) || (r = get_str(io, &f[F_SOURCE])) ||
	    (r = get_str(io, &f[F_URL])) || (r = get_u64(io, &pub)) || (r = get_u64(io, &ing)) ||
	    (r = get_u64(io, &content[0])) || (r = get_u64(io, &content[1])) ||
	    (r = get_u64(io, &status)))
		goto out;
	r = -EINVAL;
	if (index >= narticles || index > s->nfree + s->count)
		goto out;
	load_reserve(s, index + 1);
	for (int i = 0; i < NFIELDS; i++) {
		cf[i] = f[i];
		n[i] = strlen(f[i]);
	}
	if (s->articles[index] != NULL || status > VERDICT_EXACT_DUPLICATE || n[F_ID] == 0 ||
	    n[F_ID] > ID_MAX)
		goto out;
	hash = id_hash(f[F_ID], n[F_ID]);
	slots_reserve(s, s->count + 1);	/* more than max_articles, when it was lowered */
	slot = slot_find(s, f[F_ID], n[F_ID], hash, &found);
	if (found)
		goto out;
	a = article_pack(cf, n);
	a->index = (uint32_t)index;
	a->published = (int64_t)pub;
	a->ingested = (int64_t)ing;
	a->content[0] = content[0];
	a->content[1] = content[1];
	a->status = (uint8_t)status;
	s->articles[index] = a;
	slot_set(s, slot, a->index, hash);
	age_push(s, a->published, a->index);
	r = 0;
out:
	for (int i = 0; i < NFIELDS; i++)
		free(f[i]);
	return r;
}

/*
 * The free list must name exactly the indexes no article holds, each once:
 * index_take() would hand out a held one again.
 */
static int
free_list_check(const struct store *s)
{
	unsigned char	*seen = xcalloc((size_t)s->narticles / 8 + 1, 1);
	int		 r = 0;

	for (uint32_t i = 0; i < s->nfree && r == 0; i++) {
		uint32_t	v = s->free_idx[i];

		if (s->articles[v] != NULL || (seen[v / 8] & (1u << (v % 8))))
			r = -EINVAL;
		seen[v / 8] |= (unsigned char)(1u << (v % 8));
	}
	free(seen);
	return r;
}

static int
load_body(struct snapshot_io *io, void *arg)
{
	struct store	*s = arg;
	uint64_t	 format, narticles, nfree, count, watermark, v;
	int		 r;

	if ((r = get_u64(io, &format)) || (r = get_u64(io, &narticles)) || (r = get_u64(io, &nfree)) ||
	    (r = get_u64(io, &count)) || (r = get_u64(io, &watermark)) ||
	    (r = get_u64(io, &s->evicted)))
		return r;
	if (format != STORE_FORMAT || narticles > CLUSTER_ID_LIMIT || nfree > narticles ||
	    count + nfree != narticles)
		return -EINVAL;
	s->watermark = (int64_t)watermark;
	/*
	 * The counts may be damage, so nothing is sized by them: the arrays grow
	 * as entries arrive, and a lying count ends in a short read, not in an
	 * allocation xmalloc() dies of. Every index below narticles is free or
	 * holds an article, and dump_body() writes articles in index order, so
	 * the k-th article's index is at most nfree + k.
	 */
	for (s->nfree = 0; s->nfree < nfree; s->nfree++) {
		if ((r = get_u64(io, &v)) != 0)
			return r;
		if (v >= narticles)
			return -EINVAL;
		load_reserve(s, s->nfree + 1);
		s->free_idx[s->nfree] = (uint32_t)v;
	}
	for (s->count = 0; s->count < count; s->count++)
		if ((r = load_article(s, io, narticles)) != 0)
			return r;
	load_reserve(s, narticles);
	s->narticles = (uint32_t)narticles;
	if ((r = free_list_check(s)) != 0)
		return r;
	if ((r = cluster_load(&s->clusterer, &s->params.cluster, snapshot_get, io)) != 0)
		return r;
	for (uint32_t i = 0; i < s->narticles; i++)
		if ((s->articles[i] != NULL) != cluster_holds(s->clusterer, i))
			return -EINVAL;
	return 0;
}

static void
report_corrupt(struct store_report *rep, const char *fmt, const char *what)
{
	snprintf(rep->corrupt_what, sizeof(rep->corrupt_what), fmt, what);
}

static int
recover_snapshot(struct store **sp, const struct store_params *params, int dirfd,
    uint64_t *seq, struct store_report *rep, const atomic_int *stop)
{
	struct store	*s;
	int		 r;

	if ((s = store_alloc(params)) == NULL)
		return -ENOMEM;
	r = snapshot_read(dirfd, seq, load_body, s, stop);
	if (r == SNAPSHOT_NONE) {
		store_free(s);
		*seq = 1;
		if ((*sp = store_new(params)) == NULL)
			return -ENOMEM;
		return 0;
	}
	if (r != 0) {
		store_free(s);
		if (r == SNAPSHOT_NEWER)
			report_corrupt(rep, "%s was made by a newer storyd", "snapshot");
		else if (r == SNAPSHOT_CORRUPT || r == -EINVAL || r == -EPROTONOSUPPORT)
			report_corrupt(rep, "%s is damaged (bad checksum or contents)", "snapshot");
		else
			return r;
		return r == SNAPSHOT_NEWER || r == -EPROTONOSUPPORT ? STORE_NEWER : STORE_CORRUPT;
	}
	rep->snapshot = 1;
	rep->snapshot_seq = *seq;
	*sp = s;
	return 0;
}

int
store_open(struct store **out, const char *dir, const struct store_params *params,
    struct store_report *rep)
{
	struct store		*s = NULL;
	struct wal_report	 wr;
	uint64_t		 seq;
	int			 dirfd, r;

	memset(rep, 0, sizeof(*rep));
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	/*
	 * Two daemons appending to one log would interleave their records. A
	 * daemon just killed may hold the lock a moment longer, so wait a
	 * little before calling the directory in use.
	 */
	for (int tries = 0; flock(dirfd, LOCK_EX | LOCK_NB) == -1; tries++) {
		if (errno != EWOULDBLOCK || tries == LOCK_TRIES) {
			r = errno == EWOULDBLOCK ? -EBUSY : -errno;
			close(dirfd);
			return r;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	if ((r = recover_snapshot(&s, params, dirfd, &seq, rep, NULL)) != 0) {
		close(dirfd);
		return r;
	}
	s->dirfd = dirfd;
	r = replay_log(s, dirfd, seq, 0, NULL, &wr);
	rep->replayed = wr.records;
	rep->torn = wr.torn;
	rep->torn_offset = wr.torn_offset;
	rep->torn_bytes = wr.torn_bytes;
	snprintf(rep->torn_file, sizeof(rep->torn_file), "%s", wr.torn_file);
	rep->truncated = wr.corrupt && r == 0;
	if (r == WAL_NEWER_VERSION) {
		report_corrupt(rep, "the log %s was made by a newer storyd", wr.corrupt_file);
		r = STORE_NEWER;
	} else if (r == WAL_CORRUPT) {
		snprintf(rep->corrupt_what, sizeof(rep->corrupt_what),
		    "the log %s is damaged at offset %llu, before its end", wr.corrupt_file,
		    (unsigned long long)wr.corrupt_offset);
		r = STORE_CORRUPT;
	} else if (r > 0 || r == -EINVAL) {
		report_corrupt(rep, "the log %s holds a record storyd cannot apply", wr.corrupt_file);
		r = STORE_CORRUPT;
	}
	if (r == 0)
		r = wal_open(&s->wal, dirfd, (enum wal_sync)params->sync, wr.next_seq);
	if (r == 0 && rep->snapshot) {
		struct stat	st;

		if (fstatat(dirfd, "snapshot", &st, 0) == 0) {
			s->stats.snapshot_time = (double)st.st_mtim.tv_sec +
			    (double)st.st_mtim.tv_nsec / 1e9;
			s->stats.snapshot_bytes = (uint64_t)st.st_size;
		}
	}
	if (r != 0) {
		store_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void
store_set_sync(struct store *s, enum store_sync sync)
{
	s->params.sync = sync;
	if (s->wal != NULL)
		wal_set_sync(s->wal, (enum wal_sync)sync);
}

/*
 * A snapshot rebuilt beside the loop. A thread reads the last snapshot and
 * the log before the segment the loop has just started into a store of its
 * own, through the code recovery uses (the log is deterministic: the same
 * records give the same state), and writes that as the snapshot. It reads
 * nothing of the loop's memory, so nothing is locked, copied or forked. A
 * forked child stalled the loop for 10-22 ms (the page tables copied) and
 * its copy-on-write faults slowed it for seconds after: p99 of single posts
 * at half the maximum rate, a snapshot in each 16 s window, was 24-67 ms
 * forked and 5-18 ms rebuilt (docs/performance-history.md). The price: a
 * second copy of the state, and the CPU of applying the log again. The
 * state a rebuild wrote is kept (store.rebuilt), and the next one applies
 * only the log since: reading the last snapshot back had been a quarter to
 * a third of a rebuild's time, and every page of the state freed and
 * faulted in again cost the loop's core a TLB shootdown. So that copy
 * stays, as large as the loop's own but for the candidate indexes, which
 * it lets go (rebuild_main()).
 */
struct rebuild {
	pthread_t		thread;
	struct store_params	params;
	int			dirfd;		/* the store's, borrowed until joined */
	uint64_t		seq;		/* the snapshot covers the log before it */
	struct store		*state;		/* the last one's, covering the log before state_seq;
						 * then this one's, once written (NULL: none) */
	uint64_t		state_seq;
	double			start;		/* epoch s */
	atomic_int		stop;		/* store_close(), store_free(): give up */
	atomic_int		done;
	int			result;		/* 0 or -errno, once done */
	char			what[160];	/* damage found, for the log */
	struct snapshot_phases	phases;
};

static void *
rebuild_main(void *arg)
{
	struct rebuild		*rb = arg;
	struct store		*s = NULL;
	struct store_report	 rep = { 0 };
	struct wal_report	 wr = { 0 };
	uint64_t		 seq, bytes, refused;
	double			 t, cpu;
	int			 r;

	/*
	 * The loop's replies cannot wait; this can. Beside a busy loop of
	 * another process, p99 of those posts was 0.4-7.7 ms under SCHED_IDLE,
	 * 40 ms at nice 19 and 54 ms under SCHED_BATCH. Its second thread
	 * inherits the policy. (setpriority: this thread only, on Linux.)
	 */
	if (sched_setscheduler(0, SCHED_IDLE, &(struct sched_param){ 0 }) == -1)
		setpriority(PRIO_PROCESS, 0, 10);
	cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	t = clock_seconds(CLOCK_MONOTONIC);
	if ((s = rb->state) != NULL) {
		seq = rb->state_seq;
		r = 0;
		rb->phases.from = SNAPSHOT_FROM_KEPT;
	} else if ((r = recover_snapshot(&s, &rb->params, rb->dirfd, &seq, &rep, &rb->stop)) > 0) {
		snprintf(rb->what, sizeof(rb->what), "%s", rep.corrupt_what);
		r = -EBADMSG;
	}
	rb->state = NULL;
	rb->phases.load = clock_seconds(CLOCK_MONOTONIC) - t;
	if (rep.snapshot)
		rb->phases.from = SNAPSHOT_FROM_DISK;
	t += rb->phases.load;
	/*
	 * The state takes the puts as the loop decided them and is dumped:
	 * neither needs the candidate indexes, whose upkeep was half of a
	 * rebuild's CPU while the daemon grew and a quarter at rest, and a
	 * quarter of the copy's memory. A put it must decide again makes them
	 * anew.
	 */
	if (s != NULL)
		cluster_drop_indexes(s->clusterer);
	refused = s != NULL ? s->stats.decisions_refused : 0;
	if (r == 0 && ((r = replay_log(s, rb->dirfd, seq, rb->seq, &rb->stop, &wr)) > 0 ||
	    r == -EINVAL)) {
		/* -EINVAL: on_replay() refused a record, as a restart would (store_open()) */
		snprintf(rb->what, sizeof(rb->what), "the log %s: %s at offset %llu", wr.corrupt_file,
		    wr.corrupt_what != NULL ? wr.corrupt_what : "a record storyd cannot apply",
		    (unsigned long long)wr.corrupt_offset);
		r = -EBADMSG;
	}
	rb->phases.replay = clock_seconds(CLOCK_MONOTONIC) - t;
	rb->phases.replayed = wr.records;
	rb->phases.refused = s != NULL ? s->stats.decisions_refused - refused : 0;
	t += rb->phases.replay;
	if (r == 0)
		r = snapshot_write(rb->dirfd, rb->seq, dump_body, s, &bytes, &rb->stop);
	rb->phases.write = clock_seconds(CLOCK_MONOTONIC) - t;
	/*
	 * The log the snapshot covers is removed here too, off the loop (an
	 * unlink of a 64 MiB segment took the loop 15-20 ms; ext4, strace -T);
	 * the loop's wal_remove_before() then finds the files gone.
	 */
	if (r == 0) {
		wal_unlink_before(rb->dirfd, rb->seq);
		rb->state = s;
	} else {
		store_free(s);
	}
	/* SCHED_IDLE stretches the phases' wall time: this is what the rebuild cost the machine */
	rb->phases.cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu;
	rb->result = r;
	atomic_store_explicit(&rb->done, 1, memory_order_release);
	return NULL;
}

int
store_snapshot_start(struct store *s)
{
	struct rebuild	*rb;
	uint64_t	 seq;
	double		 secs, t0;
	int		 r;

	if (s->wal == NULL)
		return -ENOTSUP;
	if (s->rebuild != NULL)
		return -EBUSY;
	t0 = clock_seconds(CLOCK_MONOTONIC);
	/* the old segment must be on disk first: the log's thread flushes most of it */
	if ((r = store_flush(s)) != 0 ||
	    (r = wal_rotate_ready(s->wal, ROTATE_UNSYNCED_MAX, &secs)) < 0)
		return r;
	if (secs >= 0)
		histogram_observe(&s->stats.fsync, secs);
	if (r == 0)
		return -EAGAIN;
	/* the snapshot covers the records before the new segment */
	if ((r = wal_rotate(s->wal, &seq)) != 0)
		return r;
	if ((rb = calloc(1, sizeof(*rb))) == NULL)
		return -ENOMEM;
	rb->params = s->params;
	rb->params.cluster.room = 0;	/* the rebuild keeps no candidate index (rebuild_main()) */
	rb->dirfd = s->dirfd;
	rb->seq = seq;
	rb->state = s->rebuilt;
	rb->state_seq = s->rebuilt_seq;
	rb->start = clock_seconds(CLOCK_REALTIME);
	if ((r = thread_start(&rb->thread, "storyd-snapshot", rebuild_main, rb)) != 0) {
		free(rb);
		return -r;
	}
	s->rebuilt = NULL;
	s->rebuild = rb;
	s->stats.snapshot_running = 1;
	s->stats.snapshot_rotation = clock_seconds(CLOCK_MONOTONIC) - t0;
	return 0;
}

/* Join the rebuild (which must be done or stopped): its result. */
static int
rebuild_join(struct store *s)
{
	struct rebuild	*rb = s->rebuild;
	int		 r;

	pthread_join(rb->thread, NULL);
	r = rb->result;
	s->rebuild = NULL;
	s->stats.snapshot_running = 0;
	s->rebuilt = rb->state;
	s->rebuilt_seq = rb->seq;
	s->stats.snapshot_cpu += rb->phases.cpu;
	if (r == 0) {	/* as the duration: of the last one written */
		s->stats.snapshot_phases = rb->phases;
		s->stats.decisions_refused += rb->phases.refused;
	} else
		snprintf(s->stats.snapshot_error, sizeof(s->stats.snapshot_error), "%s",
		    rb->what[0] != '\0' ? rb->what : strerror(-r));
	free(rb);
	return r;
}

static void
rebuild_stop(struct store *s)
{
	if (s->rebuild == NULL)
		return;
	atomic_store_explicit(&s->rebuild->stop, 1, memory_order_relaxed);
	rebuild_join(s);
}

int
store_snapshot_poll(struct store *s, uint64_t *bytes)
{
	struct stat	st;
	uint64_t	seq;
	double		start;
	int		r;

	if (s->rebuild == NULL)
		return 0;
	if (!atomic_load_explicit(&s->rebuild->done, memory_order_acquire))
		return STORE_SNAPSHOT_RUNNING;
	seq = s->rebuild->seq;
	start = s->rebuild->start;
	if ((r = rebuild_join(s)) != 0) {
		s->stats.snapshot_failures++;
		return r;
	}
	*bytes = 0;
	if (fstatat(s->dirfd, "snapshot", &st, 0) == 0) {
		/* its mtime is the thread's last write: closer than this once-a-second poll */
		s->stats.snapshot_time = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
		s->stats.snapshot_duration = s->stats.snapshot_time - start;
		if (s->stats.snapshot_duration < 0)
			s->stats.snapshot_duration = 0;
		s->stats.snapshot_bytes = *bytes = (uint64_t)st.st_size;
	}
	s->stats.snapshots++;
	wal_remove_before(s->wal, seq);
	return STORE_SNAPSHOT_DONE;
}

int
store_close(struct store *s)
{
	uint64_t	seq, bytes;
	int		r = 0;

	if (s == NULL)
		return 0;
	rebuild_stop(s);	/* the final snapshot holds more */
	if (s->wal != NULL && (r = wal_flush(s->wal)) == 0 && (r = wal_rotate(s->wal, &seq)) == 0 &&
	    (r = snapshot_write(s->dirfd, seq, dump_body, s, &bytes, NULL)) == 0)
		r = wal_remove_before(s->wal, seq);
	store_free(s);
	return r;
}
