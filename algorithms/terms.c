/*
 * terms.c: weighted, stemmed terms of an article; see terms.h for the
 * contract and the weights.
 *
 * Every word is looked up once in the stem cache (stop word or not, hash of
 * its stem) by the word's XXH3, which tokens_hash() may have made, and what
 * the cache says is kept per word for the passes that follow (Title Case,
 * terms, names). Each kept occurrence is then added to its term in a
 * per-article hash table that sums the position weights in order of
 * appearance and keeps the first surface form; the terms are then sorted by
 * hash.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "grow.h"
#include "pages.h"
#include "prefetch.h"
#include "terms.h"

/* Starting points, not yet measured on labeled news (DESIGN, "What good looks like"). */
#define W_TITLE		3.0f
#define W_LEAD		1.5f
#define W_BODY		1.0f
#define NAME_BOOST	2.0f
#define NUMBER_MIN	3	/* digits: "2024" and "737" stay, "5" and "10" go */
#define TITLECASE_SHARE	0.75	/* of a title's longer content words capitalized */
#define ACRONYM_WORDS	6	/* longest name, connectors included, given initials */
#define ACRONYM_ROOM	3	/* bytes of initials per word at most: a name of m >= 2 words makes 2 (m + 1) */

/*
 * The stem cache remembers what the stop list and the stemmer say about a
 * folded word, across articles, since most words of news text are frequent
 * ones. Direct-mapped by the word's XXH3: a new word takes the slot over. On
 * one pass over the body words of the bench corpus (bench/fingerprint -B),
 * 32,768 slots hit 94.5%, 8,192 89%, and terms_extract() took 19 and 29 us
 * an article against 76 when every word met the stemmer (a two-way cache of
 * the same size was no faster). Over repeated passes 32,768 slots still
 * missed 3.9% of lookups, 131,072 1.3% (1.2% on the bodies), and
 * fingerprint() was 11% faster on the whole corpus, 14% on the bodies.
 * With 16-byte entries (below), 262,144 slots made fingerprint() 2% faster
 * again than 131,072 (8.50 against 8.68 us an article), 524,288 no faster,
 * nor a 4-way set in a cache line at 131,072 slots (8.63 to 8.75).
 *
 * An entry names its word by the word's whole 64-bit XXH3, the identity a
 * term has everywhere else (a term is its stem's XXH3), not by the word's
 * bytes: 16 bytes an entry instead of 32, no byte comparison on a hit, and
 * words of any length cached. The slot is the hash's low bits, so those bits
 * of the tag are free to hold the entry's kind.
 *
 * The slots are a mapping of huge pages (pages_alloc()), since a lookup's
 * slot is anywhere in the 4 MiB: fingerprint() 1.1-3.9% faster than with
 * them in 4 KiB pages (bench/fingerprint -r 21 -m 0.2, whole corpus and -B,
 * two fingerprinters in one process, their passes alternating).
 */
#define CACHE_SLOTS	262144		/* 4 MiB, each fingerprinter its own */
#define KIND_BITS	2u		/* CACHE_SLOTS > 1 << KIND_BITS */
#define KIND_MASK	((1u << KIND_BITS) - 1)

/*
 * A lookup is a miss in the processor's caches (4 MiB of slots, a random
 * one each word), so look_up() asks for the slot of the word PREFETCH_AHEAD
 * on while it handles this one, when tokens_hash() has the hashes ready:
 * fingerprint() 2 to 3% faster on the bench corpus (4, 8 and 16 alike when
 * the same loop also added the terms). With look_up() doing only the
 * lookups, 16 ahead is 1.6% faster than 8 on the bodies (bench/fingerprint
 * -B, alternating); asking for a title's first 16 at once gained nothing.
 */
#define PREFETCH_AHEAD	16

enum { WORD_EMPTY, WORD_STOP, WORD_NO_STEM, WORD_STEM };	/* WORD_EMPTY: a free slot */

struct cache_entry {
	uint64_t	tag;		/* the word's XXH3, its low KIND_BITS replaced by its WORD_* */
	uint64_t	stem;		/* XXH3 of the stem, for WORD_STEM */
};

/* A term of the article being extracted. */
struct acc {
	uint64_t	 hash;		/* of the stem */
	float		 weight;	/* position weights summed in order of appearance */
	uint8_t		 name;		/* an occurrence is name-like (CASE_NAME) */
	uint8_t		 lower;		/* an occurrence is lower case */
	uint32_t	 len;
	const char	*word;		/* first surface form, in the caller's tokens */
};

enum { CASE_NONE, CASE_NAME, CASE_LOWER };

/* A word's share of struct looked's arrays: stem, counted, names, kind. */
#define WORD_BYTES	(sizeof(uint64_t) + 2 * sizeof(uint32_t) + sizeof(uint8_t))

/* What look_up() found in a title or a body, word by word (arrays of terms_ctx). */
struct looked {
	uint64_t	*stem;		/* [word]: its stem's hash, for WORD_STEM */
	uint8_t		*kind;		/* [word]: its WORD_* */
	uint32_t	*counted;	/* the words that make terms (a stem, not too short), in order */
	uint32_t	*names;		/* the name words (name_word()), in order */
	size_t		 ncounted, nnames;
};

struct terms_ctx {
	struct sb_stemmer	*stem;
	struct cache_entry	*cache;		/* CACHE_SLOTS */
	struct acc		*acc;		/* the article's terms, first seen first */
	uint32_t		*order;		/* indexes into acc in hash order, from acc_order() */
	size_t			 nacc, capacc, caporder;
	char			*acro;		/* initials made (acronyms()), NUL-ended; acc words point here */
	size_t			 capacro;
	uint32_t		*slot;		/* open addressing over acc: index + 1, 0 empty */
	/* struct looked's arrays, title's words then body's, one block from stems on */
	uint64_t		*stems;
	uint32_t		*counted, *names;
	uint8_t			*kind;
	size_t			 capwords;	/* words each array has room for */
	size_t			 capslot, mask;	/* mask: this article's table size - 1 */
	unsigned		 shift;		/* 64 - log2(table size): a hash's home slot is hash >> shift */
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
	ctx->stem = sb_stemmer_new("english", NULL);
	ctx->cache = pages_alloc(CACHE_SLOTS * sizeof(*ctx->cache));
	if (ctx->stem == NULL || ctx->cache == NULL) {
		terms_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void
terms_ctx_free(struct terms_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->stem != NULL)
		sb_stemmer_delete(ctx->stem);
	pages_free(ctx->cache, CACHE_SLOTS * sizeof(*ctx->cache));
	free(ctx->acc);
	free(ctx->order);
	free(ctx->acro);
	free(ctx->slot);
	free(ctx->stems);		/* the per-word arrays' block */
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
	if (len > 4 || (unsigned char)w[0] < 0x80)	/* longer than any one character */
		return 0;
	k = utf8proc_iterate((const uint8_t *)w, (utf8proc_ssize_t)len, &c);
	return k == (utf8proc_ssize_t)len && !is_cjk(c);
}

/* Too short to be a term: one character, or a number of few digits. */
static int
too_short(const struct token *tok, const char *w)
{
	return is_one_char(w, tok->len) || ((tok->flags & TOK_NUMBER) && tok->len < NUMBER_MIN);
}

/* What the stop list and the stemmer say about w: WORD_*, or -ENOMEM. */
static int
word_classify(struct terms_ctx *ctx, const char *w, size_t len, uint64_t *stem)
{
	const sb_symbol	*s;
	int		 slen;

	*stem = 0;
	if (terms_is_stopword(w, len))
		return WORD_STOP;
	if ((s = sb_stemmer_stem(ctx->stem, (const sb_symbol *)w, (int)len)) == NULL)
		return -ENOMEM;
	if ((slen = sb_stemmer_length(ctx->stem)) <= 0)
		return WORD_NO_STEM;
	*stem = XXH3_64bits(s, (size_t)slen);
	return WORD_STEM;
}

/* A stem-cache miss: ask word_classify() and keep its answer in e. */
static __attribute__((noinline)) int
word_miss(struct terms_ctx *ctx, struct cache_entry *e, const char *w, size_t len, uint64_t h,
    uint64_t *stem)
{
	int	kind;

	if ((kind = word_classify(ctx, w, len, stem)) < 0)
		return kind;
	e->tag = (h & ~(uint64_t)KIND_MASK) | (uint64_t)kind;
	e->stem = *stem;
	return kind;
}

/*
 * word_classify() through the stem cache; h is XXH3-64 of the word. The hit
 * is inline in the callers' loops, the miss a call.
 */
static inline int
word_lookup(struct terms_ctx *ctx, const char *w, size_t len, uint64_t h, uint64_t *stem)
{
	struct cache_entry	*e = &ctx->cache[h & (CACHE_SLOTS - 1)];

	if ((e->tag & ~(uint64_t)KIND_MASK) == (h & ~(uint64_t)KIND_MASK) &&
	    (e->tag & KIND_MASK) != WORD_EMPTY) {
		*stem = e->stem;
		return (int)(e->tag & KIND_MASK);
	}
	return word_miss(ctx, e, w, len, h, stem);
}

/* XXH3-64 of word i of t: tokens_hash() may have made it already. */
static uint64_t
word_hash(const struct tokens *t, size_t i)
{
	return t->hashed ? t->hash[i] : XXH3_64bits(t->text + t->v[i].off, t->v[i].len);
}

/* Capitalized and not a number. */
static int
name_word(const struct token *tok)
{
	return (tok->flags & TOK_CAPITALIZED) && !(tok->flags & TOK_NUMBER);
}

/*
 * What the stem cache says of each word of t, into lk, whose arrays start
 * at word `first` of ctx's; a word's hash is asked for PREFETCH_AHEAD words
 * before its lookup. The words that make terms and the name words are
 * listed without a branch: which words are stop words or capitalized is a
 * coin toss to the branch predictor. 0 or -ENOMEM.
 */
static int
look_up(struct terms_ctx *ctx, const struct tokens *t, size_t first, struct looked *lk)
{
	size_t	i, nc = 0, nn = 0;
	int	k;

	*lk = (struct looked){ ctx->stems + first, ctx->kind + first, ctx->counted + first,
	    ctx->names + first, 0, 0 };
	for (i = 0; t != NULL && i < t->n; i++) {
		const struct token	*tok = &t->v[i];

		if (t->hashed && i + PREFETCH_AHEAD < t->n)
			PREFETCH(&ctx->cache[t->hash[i + PREFETCH_AHEAD] & (CACHE_SLOTS - 1)]);
		if ((k = word_lookup(ctx, t->text + tok->off, tok->len, word_hash(t, i),
		    &lk->stem[i])) < 0)
			return k;
		lk->kind[i] = (uint8_t)k;
		lk->counted[nc] = (uint32_t)i;
		nc += (k == WORD_STEM) & !too_short(tok, t->text + tok->off);
		lk->names[nn] = (uint32_t)i;
		nn += name_word(tok);
	}
	lk->ncounted = nc;
	lk->nnames = nn;
	return 0;
}

/*
 * A title in Title Case (or all caps) says nothing about names: most of its
 * longer content words are capitalized.
 */
static int
title_case(const struct tokens *t, const struct looked *lk)
{
	size_t	i, n = 0, caps = 0;

	for (i = 0; t != NULL && i < t->n; i++) {
		const struct token	*tok = &t->v[i];

		if (tok->len <= 3 || (tok->flags & TOK_NUMBER) || lk->kind[i] == WORD_STOP)
			continue;
		n++;
		caps += (tok->flags & TOK_CAPITALIZED) != 0;
	}
	return n >= 2 && (double)caps >= TITLECASE_SHARE * (double)n;
}

/*
 * Make room for what look_up() says of this many words, and for one at
 * least, so that no array is NULL (look_up() offsets them): one block,
 * carved into the per-word arrays, widest first.
 */
static int
words_reserve(struct terms_ctx *ctx, size_t words)
{
	void	*p = ctx->stems;
	size_t	 cap;

	if (grow_array(&p, &ctx->capwords, words > 0 ? words : 1, WORD_BYTES) < 0)
		return -ENOMEM;
	cap = ctx->capwords;
	ctx->stems = p;
	ctx->counted = (uint32_t *)(ctx->stems + cap);
	ctx->names = ctx->counted + cap;
	ctx->kind = (uint8_t *)(ctx->names + cap);
	return 0;
}

/* Empty the article's terms and make room for n, so that acc_find() cannot fail. */
static int
acc_reserve(struct terms_ctx *ctx, size_t n)
{
	size_t	size = 64;
	void	*p;

	p = ctx->acc;
	if (grow_array(&p, &ctx->capacc, n, sizeof(*ctx->acc)) < 0)
		return -ENOMEM;
	ctx->acc = p;
	p = ctx->order;
	if (grow_array(&p, &ctx->caporder, n + 1, sizeof(*ctx->order)) < 0)
		return -ENOMEM;
	ctx->order = p;
	for (ctx->shift = 64 - 6; size < 2 * n; ctx->shift--)	/* load factor <= 1/2 */
		size *= 2;
	p = ctx->slot;
	if (grow_array(&p, &ctx->capslot, size, sizeof(*ctx->slot)) < 0)
		return -ENOMEM;
	ctx->slot = p;
	ctx->mask = size - 1;
	ctx->nacc = 0;
	memset(ctx->slot, 0, size * sizeof(*ctx->slot));
	return 0;
}

/* The term with this stem hash; a new one, with w as its surface form, if none yet. */
static struct acc *
acc_find(struct terms_ctx *ctx, uint64_t hash, const char *w, uint32_t len)
{
	size_t		 i;
	struct acc	*a;

	for (i = hash >> ctx->shift; ctx->slot[i] != 0; i = (i + 1) & ctx->mask)
		if (ctx->acc[ctx->slot[i] - 1].hash == hash)
			return &ctx->acc[ctx->slot[i] - 1];
	a = &ctx->acc[ctx->nacc++];
	ctx->slot[i] = (uint32_t)ctx->nacc;
	*a = (struct acc){ .hash = hash, .weight = 0, .len = len, .word = w };
	return a;
}

static float
position_weight(int is_title, size_t i)
{
	return is_title ? W_TITLE : i < TERMS_LEAD_WORDS ? W_LEAD : W_BODY;
}

/* Add t's terms to the article's. */
static void
collect(struct terms_ctx *ctx, const struct tokens *t, const struct looked *lk, int is_title,
    int ignore_case)
{
	struct acc	*a;
	size_t		 c, i;
	int		 casing;

	for (c = 0; c < lk->ncounted; c++) {
		const struct token	*tok = &t->v[i = lk->counted[c]];

		a = acc_find(ctx, lk->stem[i], t->text + tok->off, tok->len);
		a->weight += position_weight(is_title, i);
		if (ignore_case)
			casing = CASE_NONE;
		else if (!(tok->flags & TOK_CAPITALIZED))
			casing = CASE_LOWER;
		else
			casing = (tok->flags & TOK_SENTENCE) ? CASE_NONE : CASE_NAME;
		a->name |= casing == CASE_NAME;
		a->lower |= casing == CASE_LOWER;
	}
}

static int
connector(const char *w, size_t len)
{
	return (len == 2 && memcmp(w, "of", 2) == 0) || (len == 3 && memcmp(w, "and", 3) == 0) ||
	    (len == 3 && memcmp(w, "for", 3) == 0);
}

/*
 * The initials of each name of two or more capitalized words (at most
 * ACRONYM_WORDS words, "of", "and" and "for" allowed inside), as one more
 * occurrence where the name starts, with and without the connectors: "Bank
 * of England" adds "boe", "Federal Bureau of Investigation" "fboi" and "fbi",
 * so an article that writes "BoE" meets one that writes the name. Initials
 * shorter than 3 letters are too ambiguous ("Mark Carney": none), and stop
 * words are skipped as words are. Names are runs within a sentence; the
 * caller does not search a Title Case headline, which has no runs to trust.
 * The initials go to ctx->acro at *used, which terms_extract() made room for.
 */
static int
acronyms(struct terms_ctx *ctx, const struct tokens *t, const struct looked *lk, int is_title,
    size_t *used)
{
	char		all[ACRONYM_WORDS], cont[ACRONYM_WORDS];
	size_t		c, i, j, k, r, na, nc, ncap, next = 0;
	uint64_t	stem;
	int		word;

	/* from each name word not inside a name already looked at */
	for (c = 0; c < lk->nnames; c++, next = j > i ? j : i + 1) {
		j = i = lk->names[c];
		if (i < next) {
			j = next;
			continue;
		}
		for (ncap = 0; j < t->n; j++) {
			const struct token	*tok = &t->v[j];

			if (j > i && (tok->flags & TOK_SENTENCE))
				break;
			if (name_word(tok))
				ncap++;
			else if (!(connector(t->text + tok->off, tok->len) && j + 1 < t->n &&
			    name_word(&t->v[j + 1]) && !(t->v[j + 1].flags & TOK_SENTENCE)))
				break;
		}
		if (ncap < 2)
			continue;
		/* A name does not start with a stop word ("The"): look again from the next. */
		if (lk->kind[i] == WORD_STOP) {
			j = i;
			continue;
		}
		if (j - i > ACRONYM_WORDS)
			continue;
		for (k = i, na = nc = 0; k < j; k++) {
			unsigned char	ch = (unsigned char)t->text[t->v[k].off];

			if (ch < 'a' || ch > 'z')
				break;
			all[na++] = (char)ch;
			if (name_word(&t->v[k]))
				cont[nc++] = (char)ch;
		}
		if (k < j)
			continue;
		for (r = 0; r < 2; r++) {
			const char	*a = r == 0 ? all : cont;
			size_t		 n = r == 0 ? na : nc;
			char		*p = ctx->acro + *used;

			if (n < 3 || (r == 1 && nc == na))
				continue;
			if ((word = word_lookup(ctx, a, n, XXH3_64bits(a, n), &stem)) < 0)
				return word;
			if (word != WORD_STEM)
				continue;
			memcpy(p, a, n);
			p[n] = '\0';
			*used += n + 1;
			acc_find(ctx, stem, p, (uint32_t)n)->weight += position_weight(is_title, i);
		}
	}
	return 0;
}

/*
 * Put the article's terms in hash order in ctx->order. A term's home slot is
 * its hash's top bits, so slot order is hash order but for the few terms
 * that probing moved on, and an insertion sort of the slots has little to
 * do: on bodies (bench/fingerprint -B) it and the walk take about half the
 * time of a merge sort of ctx->acc, a third of qsort()'s. Its worst case,
 * every hash in one slot, is the table's own.
 */
static void
acc_order(struct terms_ctx *ctx)
{
	size_t		i, j, n = 0;
	uint32_t	x;

	for (i = 0; i <= ctx->mask; i++) {
		ctx->order[n] = ctx->slot[i] - 1;	/* kept only if the slot is used */
		n += ctx->slot[i] != 0;
	}
	for (i = 1; i < n; i++) {
		x = ctx->order[i];
		for (j = i; j > 0 && ctx->acc[ctx->order[j - 1]].hash > ctx->acc[x].hash; j--)
			ctx->order[j] = ctx->order[j - 1];
		ctx->order[j] = x;
	}
}

int
terms_room(struct terms *out, size_t n, size_t bytes)
{
	void	*p;

	if (bytes > UINT32_MAX)
		return -ENOMEM;
	p = out->v;
	if (grow_array(&p, &out->cap, n, sizeof(*out->v)) < 0)
		return -ENOMEM;
	out->v = p;
	p = out->words;
	if (grow_array(&p, &out->words_cap, bytes, 1) < 0)
		return -ENOMEM;
	out->words = p;
	return 0;
}

const char *
terms_word(const struct terms *t, uint32_t off, size_t *len)
{
	if (t->words == NULL || off >= t->words_len) {
		*len = 0;
		return "";
	}
	*len = strnlen(t->words + off, t->words_len - off);
	return t->words + off;
}

int
terms_copy(struct terms *dst, const struct terms *src)
{
	if (terms_room(dst, src->n, src->words_len) < 0)
		return -ENOMEM;
	if (src->n > 0)
		memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	if (src->words_len > 0)
		memcpy(dst->words, src->words, src->words_len);
	dst->n = src->n;
	dst->words_len = src->words_len;
	return 0;
}

/* Append a term; terms_room() made room. */
static void
push_term(struct terms *out, uint64_t hash, float weight, const char *w, size_t len)
{
	memcpy(out->words + out->words_len, w, len);
	out->words[out->words_len + len] = '\0';
	out->v[out->n++] = (struct term){ hash, weight, (uint32_t)out->words_len };
	out->words_len += len + 1;
}

int
terms_extract(struct terms_ctx *ctx, const struct tokens *title,
    const struct tokens *body, struct terms *out)
{
	static const float boost[2] = { 1, NAME_BOOST };	/* x 1 is exact: the weight as it was */
	size_t		 i, bytes = 0, used = 0, nt = title ? title->n : 0;
	size_t		 n = nt + (body ? body->n : 0);
	struct looked	 lt, lb;
	void		*p = ctx->acro;
	int		 r, ignore_case;

	terms_reset(out);
	/* room first: terms point into acro, which must not move */
	if (grow_array(&p, &ctx->capacro, ACRONYM_ROOM * n + 1, 1) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	ctx->acro = p;
	/*
	 * The terms are at most the words counted and the initials of names,
	 * which add 2 at most for a name of 2 name words or more.
	 */
	if ((r = words_reserve(ctx, n)) < 0 || (r = look_up(ctx, title, 0, &lt)) < 0 ||
	    (r = look_up(ctx, body, nt, &lb)) < 0 ||
	    (r = acc_reserve(ctx, lt.ncounted + lb.ncounted + lt.nnames + lb.nnames)) < 0)
		goto fail;
	ignore_case = title_case(title, &lt);
	collect(ctx, title, &lt, 1, ignore_case);
	collect(ctx, body, &lb, 0, 0);
	if ((!ignore_case && (r = acronyms(ctx, title, &lt, 1, &used)) < 0) ||
	    (r = acronyms(ctx, body, &lb, 0, &used)) < 0)
		goto fail;
	acc_order(ctx);
	for (i = 0; i < ctx->nacc; i++)
		bytes += ctx->acc[i].len + 1;
	if ((r = terms_room(out, ctx->nacc, bytes)) < 0)
		goto fail;
	for (i = 0; i < ctx->nacc; i++) {
		const struct acc	*a = &ctx->acc[ctx->order[i]];

		/* boosted or not by a table, not a branch: name-like or not is a coin toss */
		push_term(out, a->hash, a->weight * boost[a->name & !a->lower], a->word, a->len);
	}
	return 0;
fail:
	terms_reset(out);
	return r;
}

/* A positive weight's bits, which order positive floats as their values do. */
static uint32_t
weight_bits(float w)
{
	uint32_t	b;

	memcpy(&b, &w, sizeof(b));
	return b;
}

/*
 * How many weigh at least the weight with these bits: the first nb of them
 * from bits[], copied out of v so that a pass reads 4 bytes a term, not 16,
 * and the rest from v.
 */
static uint32_t
count_at_least(const uint32_t *bits, size_t nb, const struct term *v, size_t n, uint32_t b)
{
	size_t		i;
	uint32_t	c = 0;

	for (i = 0; i < nb; i++)
		c += bits[i] >= b;
	for (; i < n; i++)
		c += weight_bits(v[i].weight) >= b;
	return c;
}

/*
 * The greatest b in [lo, hi] such that at least max terms have weight bits
 * of b << shift or more: a binary search, one counting pass a step.
 */
static uint32_t
greatest_with(const uint32_t *bits, size_t nb, const struct term *v, size_t n, size_t max,
    uint32_t lo, uint32_t hi, unsigned shift)
{
	uint32_t	mid;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (count_at_least(bits, nb, v, n, mid << shift) >= max)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * The max heaviest are those heavier than the max-th heaviest weight, and
 * the first terms of that weight, which have the lower hashes since v is
 * sorted by hash. The weight is found without reordering: a binary search
 * over the top 16 bits of the weights (15 counting passes), then the weight
 * with those top bits, which is usually the only one (weights such as 1.5
 * or 4.5 have no other bits) and is checked with two passes; a search over
 * the low 16 bits where it is not. Then one pass moves the kept terms to
 * the front without a branch, and another their words. A search over all
 * 32 bits (31 passes) and a keeping pass that branched on each term took
 * 3.4-4.0% of fingerprint()'s samples on the bench corpus, this 2.4% (perf;
 * a heap selection and a sort by hash took twice the old search's time).
 * The passes read the weights of the first KEEP_COPY terms from a copy on
 * the stack (a body has ~150), 4 bytes a term instead of 16.
 */
#define KEEP_COPY	512

void
terms_keep_top(struct terms *t, size_t max)
{
	uint32_t	lo, hi, top, bits, copy[KEEP_COPY];
	size_t		i, n = 0, w = 0, len, above, ties, nb = t->n < KEEP_COPY ? t->n : KEEP_COPY;

	if (t->n <= max)
		return;
	for (i = 0; i < nb; i++)
		copy[i] = weight_bits(t->v[i].weight);
	hi = weight_bits(INFINITY);
	top = greatest_with(copy, nb, t->v, t->n, max, 0, hi >> 16, 16);
	for (i = 0; i < t->n && weight_bits(t->v[i].weight) >> 16 != top; i++)
		;
	lo = i < t->n ? weight_bits(t->v[i].weight) : top << 16;
	above = count_at_least(copy, nb, t->v, t->n, lo + 1);
	/* lo is the cut if fewer than max weigh more and max at least as much */
	if (i == t->n || lo > hi || above >= max || count_at_least(copy, nb, t->v, t->n, lo) < max) {
		lo = greatest_with(copy, nb, t->v, t->n, max, top << 16,
		    (top << 16 | 0xffff) < hi ? top << 16 | 0xffff : hi, 0);
		above = count_at_least(copy, nb, t->v, t->n, lo + 1);
	}
	ties = max - above;
	/*
	 * The kept terms to the front without a branch (which stay is a coin
	 * toss to the branch predictor), their words still where they were...
	 */
	for (i = 0; i < t->n; i++) {
		int	keep, at;

		bits = weight_bits(t->v[i].weight);
		at = bits == lo;
		keep = (bits > lo) | (at & (ties > 0));
		ties -= (size_t)(keep & at);
		t->v[n] = t->v[i];
		n += (size_t)keep;
	}
	/* ... then the words down, in order, so none is overwritten before it moves */
	for (i = 0; i < n; i++) {
		const char	*word = t->words + t->v[i].word;

		len = strlen(word) + 1;
		memmove(t->words + w, word, len);
		t->v[i].word = (uint32_t)w;
		w += len;
	}
	t->n = n;
	t->words_len = w;
}
