/*
 * terms: the weighted terms of an article, for SimHash and for story
 * similarity. Words are stemmed (libstemmer, English), stop words and
 * one-character words dropped, and each occurrence weighted by where it
 * stands: title above lead (first TERMS_LEAD_WORDS words of the body) above
 * the rest, and name-like words (capitalized mid-sentence) above plain ones.
 * Weights are term frequencies with those boosts: no document frequency here;
 * cluster.c applies IDF with the counts it keeps up to date.
 *
 * Each occurrence adds 3.0 in the title, 1.5 in the lead, 1.0 further on; a
 * term's sum is doubled when it is name-like: capitalized somewhere other
 * than at a sentence start, and never written in lower case (so "Apple" the
 * company is doubled, "apple" the fruit is not, and "Beijing" stays doubled
 * where it also opens a sentence). A Title Case or all-caps headline gives
 * no evidence either way. Numbers of fewer than 3 digits are dropped, years
 * and models ("2024", "737") kept; a one-character word is dropped unless it
 * is a Han or kana character. Stop words are English function words and
 * reporting verbs ("said", "told"); outlet names are not stop words. A name
 * of two to six capitalized words within a sentence ("of", "and", "for"
 * allowed inside) also counts its initials once where it starts, with and
 * without the connectors, as the term a writer who abbreviates it uses
 * ("Bank of England": "boe"); not initials under three letters, and not
 * from a Title Case headline.
 *
 * Pure and deterministic: same input, same output, on every machine. The
 * stemmer is state the caller owns (libstemmer is not thread-safe per object).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

#define TERMS_LEAD_WORDS	60

struct term {
	uint64_t	hash;		/* XXH3-64 of the stem, seed 0 */
	float		weight;		/* > 0 */
	uint32_t	word;		/* offset in terms.words of a surface form, for display */
};

struct terms {
	struct term	*v;		/* sorted by hash, each hash once */
	size_t		 n, cap;
	char		*words;		/* NUL-terminated surface words (unstemmed, folded), one after
					 * another in the order of v, words_len in all */
	size_t		 words_len, words_cap;
};

struct terms_ctx;			/* stemmer, a 4 MiB stem cache, scratch space */

struct terms_ctx	*terms_ctx_new(void);		/* NULL when out of memory */
void			 terms_ctx_free(struct terms_ctx *);

void	terms_init(struct terms *t);
void	terms_reset(struct terms *t);
void	terms_fini(struct terms *t);

/* The display word at offset off of t's words, "" when none is in range; *len its length. */
const char	*terms_word(const struct terms *t, uint32_t off, size_t *len);

/* Make room in t for n terms and bytes of words in all. 0 or -ENOMEM. */
int	terms_room(struct terms *t, size_t n, size_t bytes);

/* Make dst a copy of src, reusing dst's space. 0 or -ENOMEM (dst unchanged but perhaps larger). */
int	terms_copy(struct terms *dst, const struct terms *src);

/*
 * Replace out with the weighted terms of a title and body already split into
 * words (either may be NULL: no words), and hashed if tokens_hash() has run
 * (else terms_extract() hashes them itself). out->words holds, for each
 * term, the first surface form met ("beijing", not the stem "beij"). Returns
 * 0 or -ENOMEM (out is then empty).
 */
int	terms_extract(struct terms_ctx *ctx, const struct tokens *title,
	    const struct tokens *body, struct terms *out);

/*
 * Keep only the max heaviest terms (ties: the lower hash stays), still sorted
 * by hash; words are compacted, still in the order of v, and word offsets
 * stay valid.
 */
void	terms_keep_top(struct terms *t, size_t max);

/* True for an English stop word given folded ("the", "and", "said"); no NUL needed. */
int	terms_is_stopword(const char *word, size_t len);
