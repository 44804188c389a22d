/*
 * fuzz-normalize: arbitrary bytes through the text pipeline. The whole input
 * is normalized as a body and as a title; then its first line is taken as a
 * title and the rest as a body for terms_extract() and fingerprint()
 * (shingles, MinHash, SimHash). Checks the contracts in normalize.h, terms.h
 * and minhash.h: words are non-empty, NUL-terminated, valid UTF-8 with no
 * scratch flags left; the same input gives the same words; terms are sorted
 * by hash, each once, with positive finite weights; a text with words has a
 * signature with no empty value.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include <utf8proc.h>

#include "fingerprint.h"
#include "fuzz.h"
#include "minhash.h"
#include "normalize.h"
#include "terms.h"

static void
check_tokens(const struct tokens *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct token	*w = &t->v[i];
		const uint8_t		*p = (const uint8_t *)t->text + w->off;
		utf8proc_ssize_t	 n;
		utf8proc_int32_t	 cp;

		assert(w->len > 0);
		assert((size_t)w->off + w->len < t->text_len);
		assert(p[w->len] == '\0' && strlen((const char *)p) == w->len);
		assert((w->flags & 0xffff0000u) == 0);
		for (size_t k = 0; k < w->len; k += (size_t)n) {
			n = utf8proc_iterate(p + k, (utf8proc_ssize_t)(w->len - k), &cp);
			assert(n > 0);
		}
	}
}

static void
check_same(const struct tokens *a, const struct tokens *b)
{
	assert(a->n == b->n && a->text_len == b->text_len);
	assert(a->text_len == 0 || memcmp(a->text, b->text, a->text_len) == 0);
	for (size_t i = 0; i < a->n; i++)
		assert(a->v[i].off == b->v[i].off && a->v[i].len == b->v[i].len &&
		    a->v[i].flags == b->v[i].flags);
}

static void
check_terms(const struct terms *t)
{
	for (size_t i = 0; i < t->n; i++) {
		assert(i == 0 || t->v[i - 1].hash < t->v[i].hash);
		assert(t->v[i].weight > 0 && isfinite(t->v[i].weight));
		assert(t->v[i].word < t->words_len);
	}
	assert(t->words_len == 0 || t->words[t->words_len - 1] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fingerprinter	*fp;
	static struct terms_ctx		*ctx;
	const struct cluster_params	*p = &fuzz_config()->cluster;
	const char			*s = (const char *)data, *nl;
	struct tokens			 body, again, title, rest;
	struct terms			 terms;
	struct article_text		 at = { 0 };
	const struct doc		*doc;
	size_t				 tlen;
	int				 r;

	if (fp == NULL) {
		fp = fingerprinter_new(p);
		ctx = terms_ctx_new();
		assert(fp != NULL && ctx != NULL);
	}
	tokens_init(&body);
	tokens_init(&again);
	tokens_init(&title);
	tokens_init(&rest);
	terms_init(&terms);

	assert(normalize(s, size, 0, &body) == 0);
	check_tokens(&body);
	assert(normalize(s, size, 0, &again) == 0);
	check_same(&body, &again);
	tokens_reset(&again);
	assert(normalize(s, size, NORM_TITLE, &again) == 0);
	check_tokens(&again);

	nl = memchr(s, '\n', size);
	tlen = nl != NULL ? (size_t)(nl - s) : size;
	assert(normalize(s, tlen, NORM_TITLE, &title) == 0);
	assert(normalize(s + tlen, size - tlen, 0, &rest) == 0);
	check_tokens(&title);
	check_tokens(&rest);
	assert(terms_extract(ctx, &title, &rest, &terms) == 0);
	check_terms(&terms);
	terms_keep_top(&terms, p->doc_terms);
	check_terms(&terms);

	at.title = s;
	at.title_len = tlen;
	at.body = s + tlen;
	at.body_len = size - tlen;
	at.source = "fuzz";
	at.source_len = 4;
	r = fingerprint(fp, &at, &doc);
	assert(r == 0 || r == -ENODATA);
	assert((r == -ENODATA) == (title.n == 0 && rest.n == 0));
	if (r == 0) {
		for (unsigned i = 0; i < p->k; i++)
			assert(doc->sig[i] != MINHASH_EMPTY);
		check_terms(doc->terms);
		assert(doc->terms->n <= p->doc_terms);
	}

	terms_fini(&terms);
	tokens_fini(&body);
	tokens_fini(&again);
	tokens_fini(&title);
	tokens_fini(&rest);
	return 0;
}
