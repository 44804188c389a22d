/*
 * terms.c: weighted, stemmed terms of an article; see terms.h for the
 * contract and the weights.
 *
 * Each kept word occurrence becomes (hash of its stem, position weight,
 * capitalization evidence) in ctx's scratch array; sorting that by hash, then
 * by order of appearance, groups a term's occurrences with its first surface
 * form in front, and the merge writes the terms already sorted by hash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "grow.h"
#include "terms.h"

/* Starting points, not yet measured on labeled news (DESIGN, "What good looks like"). */
#define W_TITLE		3.0f
#define W_LEAD		1.5f
#define W_BODY		1.0f
#define NAME_BOOST	2.0f
#define NUMBER_MIN	3	/* digits: "2024" and "737" stay, "5" and "10" go */
#define TITLECASE_SHARE	0.75	/* of a title's longer content words capitalized */

enum { CASE_NONE, CASE_NAME, CASE_LOWER };

struct occ {
	uint64_t	 hash;
	uint32_t	 seq;		/* order of appearance */
	float		 weight;	/* position weight */
	int		 casing;	/* CASE_* */
	const char	*word;		/* the folded surface form, in the caller's tokens */
	uint32_t	 len;
};

struct terms_ctx {
	struct sb_stemmer	*stem;
	struct occ		*occ;
	size_t			 nocc, capocc;
};

/*
 * English stop words (function words, contractions as normalize joins them:
 * "don't" -> "dont") and news reporting verbs ("said", "told", "according").
 * Outlet names are not here: normalize.c drops datelines such as "(Reuters) -"
 * and credits, and a story about Reuters should still say so; cluster.c's
 * document frequencies quiet the rest. Sorted by strcmp for bsearch.
 */
static const char *const stopwords[] = {
	"a", "about", "above", "according", "added", "after", "again", "against", "ago",
	"all", "almost", "along", "already", "also", "although", "am", "among", "an",
	"and", "another", "any", "are", "around", "as", "at", "be", "because", "been",
	"before", "being", "below", "between", "both", "but", "by", "can", "cannot", "cant",
	"could", "couldnt", "did", "didnt", "do", "does", "doesnt", "doing", "dont", "down",
	"during", "each", "either", "else", "even", "ever", "every", "few", "for", "from",
	"further", "get", "gets", "got", "had", "hadnt", "has", "hasnt", "have", "havent",
	"having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how",
	"however", "i", "if", "im", "in", "including", "into", "is", "isnt", "it", "its",
	"itself", "ive", "just", "least", "less", "let", "like", "made", "make", "many",
	"may", "me", "might", "more", "most", "mr", "mrs", "ms", "much", "must", "my",
	"myself", "neither", "no", "nor", "not", "now", "of", "off", "often", "on", "once",
	"one", "only", "or", "other", "others", "our", "ours", "ourselves", "out", "over",
	"own", "per", "perhaps", "rather", "really", "said", "same", "say", "saying", "says",
	"she", "should", "shouldnt", "since", "so", "some", "still", "such", "than", "that",
	"the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
	"theyre", "this", "those", "though", "through", "thus", "to", "told", "too", "under",
	"until", "up", "upon", "us", "very", "via", "was", "wasnt", "we", "were", "werent",
	"what", "when", "where", "whether", "which", "while", "who", "whom", "whose", "why",
	"will", "with", "within", "without", "wont", "would", "wouldnt", "yet", "you",
	"your", "youre", "yours", "yourself", "yourselves",
};

struct word_key {
	const char	*p;
	size_t		 len;
};

static int
cmp_stopword(const void *key, const void *elem)
{
	const struct word_key	*k = key;
	const char		*w = *(const char *const *)elem;
	size_t			 wl = strlen(w);
	int			 c;

	c = memcmp(k->p, w, k->len < wl ? k->len : wl);
	if (c != 0)
		return c;
	return (k->len > wl) - (k->len < wl);
}

int
terms_is_stopword(const char *word, size_t len)
{
	struct word_key	k = { word, len };

	if (len == 0 || len > 12)
		return 0;
	return bsearch(&k, stopwords, sizeof(stopwords) / sizeof(stopwords[0]),
	    sizeof(stopwords[0]), cmp_stopword) != NULL;
}

struct terms_ctx *
terms_ctx_new(void)
{
	struct terms_ctx	*ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	if ((ctx->stem = sb_stemmer_new("english", NULL)) == NULL) {
		free(ctx);
		return NULL;
	}
	return ctx;
}

void
terms_ctx_free(struct terms_ctx *ctx)
{
	if (ctx == NULL)
		return;
	sb_stemmer_delete(ctx->stem);
	free(ctx->occ);
	free(ctx);
}

void
terms_init(struct terms *t)
{
	memset(t, 0, sizeof(*t));
}

void
terms_reset(struct terms *t)
{
	t->n = 0;
	t->words_len = 0;
}

void
terms_fini(struct terms *t)
{
	free(t->v);
	free(t->words);
	terms_init(t);
}

static int
is_cjk(int32_t c)
{
	return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
	    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
	    (c >= 0x20000 && c <= 0x3FFFF);
}

/* One character, other than a Han or kana one (normalize's unigram words). */
static int
is_one_char(const char *w, size_t len)
{
	int32_t			c;
	utf8proc_ssize_t	k;

	if (len == 1)
		return 1;
	k = utf8proc_iterate((const uint8_t *)w, (utf8proc_ssize_t)len, &c);
	return k == (utf8proc_ssize_t)len && !is_cjk(c);
}

/* Keep this word as a term? */
static int
wanted(const struct token *tok, const char *w)
{
	if (is_one_char(w, tok->len))
		return 0;
	if ((tok->flags & TOK_NUMBER) && tok->len < NUMBER_MIN)
		return 0;
	return !terms_is_stopword(w, tok->len);
}

/*
 * A title in Title Case (or all caps) says nothing about names: most of its
 * longer content words are capitalized.
 */
static int
title_case(const struct tokens *t)
{
	size_t	i, n = 0, caps = 0;

	for (i = 0; t != NULL && i < t->n; i++) {
		const struct token	*tok = &t->v[i];

		if (tok->len <= 3 || (tok->flags & TOK_NUMBER) ||
		    terms_is_stopword(t->text + tok->off, tok->len))
			continue;
		n++;
		caps += (tok->flags & TOK_CAPITALIZED) != 0;
	}
	return n >= 2 && (double)caps >= TITLECASE_SHARE * (double)n;
}

static int
collect(struct terms_ctx *ctx, const struct tokens *t, int is_title, int ignore_case)
{
	const sb_symbol	*stem;
	struct occ	*o;
	size_t		 i;
	void		*p;
	int		 slen;

	for (i = 0; t != NULL && i < t->n; i++) {
		const struct token	*tok = &t->v[i];
		const char		*w = t->text + tok->off;

		if (!wanted(tok, w))
			continue;
		if ((stem = sb_stemmer_stem(ctx->stem, (const sb_symbol *)w, (int)tok->len)) == NULL)
			return -ENOMEM;
		if ((slen = sb_stemmer_length(ctx->stem)) <= 0)
			continue;
		p = ctx->occ;
		if (grow_array(&p, &ctx->capocc, ctx->nocc + 1, sizeof(*ctx->occ)) < 0)
			return -ENOMEM;
		ctx->occ = p;
		o = &ctx->occ[ctx->nocc];
		o->hash = XXH3_64bits(stem, (size_t)slen);
		o->seq = (uint32_t)ctx->nocc++;
		o->weight = is_title ? W_TITLE : i < TERMS_LEAD_WORDS ? W_LEAD : W_BODY;
		o->word = w;
		o->len = tok->len;
		if (ignore_case)
			o->casing = CASE_NONE;
		else if (!(tok->flags & TOK_CAPITALIZED))
			o->casing = CASE_LOWER;
		else
			o->casing = (tok->flags & TOK_SENTENCE) ? CASE_NONE : CASE_NAME;
	}
	return 0;
}

static int
cmp_occ(const void *a, const void *b)
{
	const struct occ	*x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
push_term(struct terms *out, uint64_t hash, float weight, const char *w, size_t len)
{
	void	*p;

	if (out->words_len > UINT32_MAX - 1 - len)
		return -ENOMEM;
	p = out->v;
	if (grow_array(&p, &out->cap, out->n + 1, sizeof(*out->v)) < 0)
		return -ENOMEM;
	out->v = p;
	p = out->words;
	if (grow_array(&p, &out->words_cap, out->words_len + len + 1, 1) < 0)
		return -ENOMEM;
	out->words = p;
	memcpy(out->words + out->words_len, w, len);
	out->words[out->words_len + len] = '\0';
	out->v[out->n++] = (struct term){ hash, weight, (uint32_t)out->words_len };
	out->words_len += len + 1;
	return 0;
}

int
terms_extract(struct terms_ctx *ctx, const struct tokens *title,
    const struct tokens *body, struct terms *out)
{
	size_t	i, j;
	int	r;

	terms_reset(out);
	ctx->nocc = 0;
	if ((r = collect(ctx, title, 1, title_case(title))) < 0 ||
	    (r = collect(ctx, body, 0, 0)) < 0)
		goto fail;
	if (ctx->nocc > 1)
		qsort(ctx->occ, ctx->nocc, sizeof(*ctx->occ), cmp_occ);
	for (i = 0; i < ctx->nocc; i = j) {
		float	weight = 0;
		int	name = 0, lower = 0;

		for (j = i; j < ctx->nocc && ctx->occ[j].hash == ctx->occ[i].hash; j++) {
			weight += ctx->occ[j].weight;
			name |= ctx->occ[j].casing == CASE_NAME;
			lower |= ctx->occ[j].casing == CASE_LOWER;
		}
		if (name && !lower)
			weight *= NAME_BOOST;
		r = push_term(out, ctx->occ[i].hash, weight, ctx->occ[i].word, ctx->occ[i].len);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	terms_reset(out);
	return r;
}

static int
cmp_heaviest(const void *a, const void *b)
{
	const struct term	*x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return (x->hash > y->hash) - (x->hash < y->hash);
}

static int
cmp_word(const void *a, const void *b)
{
	const struct term	*x = a, *y = b;

	return (x->word > y->word) - (x->word < y->word);
}

static int
cmp_hash(const void *a, const void *b)
{
	const struct term	*x = a, *y = b;

	return (x->hash > y->hash) - (x->hash < y->hash);
}

void
terms_keep_top(struct terms *t, size_t max)
{
	size_t	i, w = 0, len;

	if (t->n <= max)
		return;
	qsort(t->v, t->n, sizeof(*t->v), cmp_heaviest);
	t->n = max;
	/* compact the kept words: in offset order, each only moves down */
	qsort(t->v, t->n, sizeof(*t->v), cmp_word);
	for (i = 0; i < t->n; i++) {
		len = strlen(t->words + t->v[i].word);
		memmove(t->words + w, t->words + t->v[i].word, len + 1);
		t->v[i].word = (uint32_t)w;
		w += len + 1;
	}
	t->words_len = w;
	qsort(t->v, t->n, sizeof(*t->v), cmp_hash);
}
