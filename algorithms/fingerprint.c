/* fingerprint: one article's text to the struct doc the clusterer takes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fingerprint.h"
#include "le.h"
#include "minhash.h"
#include "normalize.h"
#include "shingle.h"
#include "simhash.h"
#include "terms.h"

struct fingerprinter {
	struct cluster_params	 params;
	struct terms_ctx	*terms_ctx;
	struct minhasher	*minhasher;
	struct tokens		 title, body;
	struct terms		 terms;
	uint64_t		*shingles;
	size_t			 shingles_cap;
	uint64_t		*seen;		/* open addressing, for distinct() */
	size_t			 seen_cap;	/* a power of two, >= SEEN_ROOM * shingles_cap */
	uint32_t		*sig;
	struct doc		 doc;
	uint64_t		 taken;		/* kept docs taken */
};

struct fingerprinter *
fingerprinter_new(const struct cluster_params *p)
{
	struct fingerprinter	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->params = *p;
	tokens_init(&f->title);
	tokens_init(&f->body);
	terms_init(&f->terms);
	f->terms_ctx = terms_ctx_new();
	f->minhasher = minhasher_new(p->k);
	f->sig = calloc(p->k, sizeof(*f->sig));
	if (f->terms_ctx == NULL || f->minhasher == NULL || f->sig == NULL) {
		fingerprinter_free(f);
		return NULL;
	}
	return f;
}

void
fingerprinter_free(struct fingerprinter *f)
{
	if (f == NULL)
		return;
	terms_ctx_free(f->terms_ctx);
	minhasher_free(f->minhasher);
	tokens_fini(&f->title);
	tokens_fini(&f->body);
	terms_fini(&f->terms);
	free(f->shingles);
	free(f->seen);
	free(f->sig);
	free(f);
}

/* Hash of the normalized words: texts equal after normalization are exact duplicates. */
static uint64_t
exact_hash(const struct tokens *title, const struct tokens *body)
{
	/* chained through the seed, so the words cannot move between title and body */
	return XXH3_64bits_withSeed(body->text, body->text_len,
	    XXH3_64bits(title->text, title->text_len));
}

/*
 * How many distinct values h[0..n) holds: a linear-probing set in f->seen
 * (room made by sign()), so O(n), not a sort. A hash of 0 marks an empty
 * slot and is counted on its own. The set is at most a quarter full, so
 * that few values probe past their home slot, a branch the predictor
 * cannot guess: at half full this loop was 3.3-3.6% of fingerprint()'s
 * samples on the bench corpus, at a quarter 2.8% (perf). The price is
 * scratch space: 4.3 MB more kept after a 1 MiB body (bench/fingerprint -L).
 */
#define SEEN_ROOM	4	/* slots a value: the set at most a quarter full */

static uint32_t
distinct(struct fingerprinter *f, const uint64_t *h, size_t n)
{
	size_t		size = 64, mask, i, j;
	uint32_t	count = 0;
	int		zero = 0;

	/* a table for this n, not the largest yet: one long article must not slow the rest */
	while (size < SEEN_ROOM * n)
		size *= 2;
	mask = size - 1;
	memset(f->seen, 0, size * sizeof(*f->seen));
	for (i = 0; i < n; i++) {
		if (h[i] == 0) {
			zero = 1;
			continue;
		}
		for (j = h[i] & mask; f->seen[j] != 0 && f->seen[j] != h[i]; j = (j + 1) & mask)
			;
		count += f->seen[j] == 0;
		f->seen[j] = h[i];
	}
	return count + zero;
}

/*
 * MinHash over the body's shingles, or the title's when there is no body:
 * a wire story republished under a new headline is still the same text, and
 * with short bodies the headline's shingles would weigh too much.
 */
static int
sign(struct fingerprinter *f)
{
	const struct tokens	*t = f->body.n > 0 ? &f->body : &f->title;
	size_t			 n = shingle_count(t->n, f->params.shingle);

	if (n > f->shingles_cap) {
		uint64_t	*p = realloc(f->shingles, n * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		f->shingles = p;
		f->shingles_cap = n;
	}
	if (SEEN_ROOM * n > f->seen_cap) {
		size_t		 cap = f->seen_cap ? f->seen_cap : 64;
		uint64_t	*p;

		while (cap < SEEN_ROOM * n)
			cap *= 2;
		if ((p = realloc(f->seen, cap * sizeof(*p))) == NULL)
			return -ENOMEM;
		f->seen = p;
		f->seen_cap = cap;
	}
	n = shingle_hashes(t, f->params.shingle, f->shingles);
	minhasher_sign(f->minhasher, f->shingles, n, f->sig);
	f->doc.shingles = n > 0 ? distinct(f, f->shingles, n) : 0;
	return 0;
}

uint64_t
fingerprinter_taken(const struct fingerprinter *f)
{
	return f->taken;
}

/*
 * The bytes of a kept doc, little-endian:
 *   u32 FINGERPRINT_VERSION, k, shingle, doc_terms	what made it
 *   u64 exact, u64 simhash, u32 shingles
 *   k x u32						the MinHash signature
 *   u32 n, then n x { u64 hash, u32 weight }		the terms (IEEE 754 bits)
 *   n display words, each NUL-terminated, in the terms' order
 */
#define KEPT_HEAD	(16 + 20)

/* The display words are terms.words as it is: each NUL-terminated, in the terms' order (terms.h). */
size_t
doc_encoded_size(const struct doc *d, const struct cluster_params *p)
{
	return KEPT_HEAD + 4 * (size_t)p->k + 4 + 12 * d->terms->n + d->terms->words_len;
}

void
doc_encode(const struct doc *d, const struct cluster_params *p, unsigned char *out)
{
	const struct terms	*t = d->terms;
	uint32_t		 bits;

	le32_put(out, FINGERPRINT_VERSION);
	le32_put(out + 4, p->k);
	le32_put(out + 8, p->shingle);
	le32_put(out + 12, p->doc_terms);
	le64_put(out + 16, d->exact);
	le64_put(out + 24, d->simhash);
	le32_put(out + 32, d->shingles);
	out += KEPT_HEAD;
	for (unsigned i = 0; i < p->k; i++, out += 4)
		le32_put(out, d->sig[i]);
	le32_put(out, (uint32_t)t->n);
	out += 4;
	for (size_t i = 0; i < t->n; i++, out += 12) {
		memcpy(&bits, &t->v[i].weight, sizeof(bits));
		le64_put(out, t->v[i].hash);
		le32_put(out + 8, bits);
	}
	if (t->words_len > 0)
		memcpy(out, t->words, t->words_len);
}

/*
 * f's doc from a->kept, if it is one fingerprint() would make here: made
 * by this version with these params, and whole (terms sorted by hash, each
 * once, weights positive, a word each). 0, or -1: analyse the text.
 */
static int
take_kept(struct fingerprinter *f, const struct article_text *a)
{
	const struct cluster_params	*p = &f->params;
	const unsigned char		*b = a->kept, *w;
	size_t				 fixed = KEPT_HEAD + 4 * (size_t)p->k + 4, n, words, off = 0;
	struct term			*v;
	uint32_t			 bits;

	if (a->kept_len < fixed || le32_get(b) != FINGERPRINT_VERSION || le32_get(b + 4) != p->k ||
	    le32_get(b + 8) != p->shingle || le32_get(b + 12) != p->doc_terms)
		return -1;
	n = le32_get(b + fixed - 4);
	if (n > p->doc_terms || a->kept_len - fixed < 12 * n)
		return -1;
	w = b + fixed + 12 * n;
	words = a->kept_len - fixed - 12 * n;
	terms_reset(&f->terms);
	if (terms_room(&f->terms, n, words) < 0)
		return -1;
	v = f->terms.v;
	for (size_t i = 0; i < n; i++) {
		const unsigned char	*t = b + fixed + 12 * i, *nul;

		v[i].hash = le64_get(t);
		bits = le32_get(t + 8);
		memcpy(&v[i].weight, &bits, sizeof(bits));
		if (!isfinite(v[i].weight) || !(v[i].weight > 0) || (i > 0 && v[i].hash <= v[i - 1].hash))
			return -1;
		if ((nul = memchr(w + off, '\0', words - off)) == NULL)
			return -1;
		v[i].word = (uint32_t)off;
		off = (size_t)(nul - w) + 1;
	}
	if (off != words)
		return -1;
	memcpy(f->terms.words, w, words);
	f->terms.n = n;
	f->terms.words_len = words;
	for (unsigned i = 0; i < p->k; i++)
		f->sig[i] = le32_get(b + KEPT_HEAD + 4 * (size_t)i);
	f->doc.exact = le64_get(b + 16);
	f->doc.simhash = le64_get(b + 24);
	f->doc.shingles = le32_get(b + 32);
	return 0;
}

/* f's doc for a's text, analysed: all but the fields the article itself gives. */
static int
analyse_text(struct fingerprinter *f, const struct article_text *a)
{
	int	r;

	tokens_reset(&f->title);
	tokens_reset(&f->body);
	if ((r = normalize(a->title, a->title_len, NORM_TITLE, &f->title)) != 0 ||
	    (r = normalize(a->body, a->body_len, 0, &f->body)) != 0)
		return r;
	if (f->title.n == 0 && f->body.n == 0)
		return -ENODATA;
	/* terms and shingles both need the word hashes: make them once */
	if ((r = tokens_hash(&f->title)) != 0 || (r = tokens_hash(&f->body)) != 0 ||
	    (r = terms_extract(f->terms_ctx, &f->title, &f->body, &f->terms)) != 0 ||
	    (r = sign(f)) != 0)
		return r;
	f->doc.exact = exact_hash(&f->title, &f->body);
	f->doc.simhash = simhash(f->terms.v, f->terms.n);
	terms_keep_top(&f->terms, f->params.doc_terms);
	return 0;
}

int
fingerprint(struct fingerprinter *f, const struct article_text *a, const struct doc **out)
{
	int	r;

	if (a->kept != NULL && take_kept(f, a) == 0)
		f->taken++;
	else if ((r = analyse_text(f, a)) != 0)
		return r;
	f->doc.source = a->source_len > 0 ? XXH3_64bits(a->source, a->source_len) : 0;
	f->doc.published = a->published;
	f->doc.sig = f->sig;
	f->doc.terms = &f->terms;
	*out = &f->doc;
	return 0;
}
