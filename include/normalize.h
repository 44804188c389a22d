/*
 * normalize: turn raw article text into normalized words. Pure: no I/O, no
 * globals; the only allocation is the growth of the caller's struct tokens.
 *
 * One pass over the bytes drops HTML tags and decodes entities (&amp;
 * &quot; &#8217; ...), applies Unicode NFKC and case folding (utf8proc),
 * unifies curly and straight quotes, apostrophes and dashes, and splits into
 * words; a second pass over the new words drops boilerplate ("Read more »",
 * "Click here to ...", photo credits such as "(Photo: Reuters)" / "Photo by
 * ...", datelines' "(Reuters) -"; with NORM_TITLE also "| CNN" and
 * " - Reuters"-style outlet suffixes).
 *
 * A word is a maximal run of letters and digits: "don't" -> "dont",
 * "China's" -> "china" (possessive dropped), "U.S." -> "us", "1,000" ->
 * "1000", "Covid-19" -> "covid" "19"; Han and kana characters are words of
 * their own. normalize.c lists every rule. Invalid UTF-8 is not an error
 * here: each bad byte, like a NUL, is a separator (the HTTP layer rejects
 * invalid UTF-8 before text gets this far).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
	NORM_TITLE = 1 << 0,	/* input is a headline: strip outlet suffixes */
};

/* Input beyond this many bytes is ignored: offsets are 32-bit, articles short. */
#define NORM_INPUT_MAX	((size_t)64 << 20)

enum {
	TOK_CAPITALIZED	= 1 << 0,	/* first letter was upper case in the source */
	TOK_SENTENCE	= 1 << 1,	/* first word of a sentence (so capitals say less) */
	TOK_NUMBER	= 1 << 2,	/* all digits */
};				/* bits 16..31 are normalize.c's scratch, 0 on return */

struct token {
	uint32_t	off;		/* into tokens.text */
	uint32_t	len;		/* bytes, > 0 */
	uint32_t	flags;		/* TOK_* */
};

/*
 * Words of one text. text holds the folded words, each followed by one NUL,
 * so text + v[i].off is a C string. When hashed is set, hash[i] is XXH3-64
 * (seed 0) of word i: tokens_hash() sets it and whatever changes the words
 * clears it, so shingles and terms, which both need the hashes, can share
 * them (fingerprint() has them made once).
 */
struct tokens {
	char		*text;
	size_t		 text_len, text_cap;
	struct token	*v;
	size_t		 n, cap;
	uint64_t	*hash;
	size_t		 hash_cap;
	int		 hashed;
};

void	tokens_init(struct tokens *t);
void	tokens_reset(struct tokens *t);		/* empty, keep the memory */
void	tokens_fini(struct tokens *t);

/* Hash every word into t->hash and set t->hashed. 0, or -ENOMEM (t then unchanged). */
int	tokens_hash(struct tokens *t);

/*
 * Append the words of s[0..len) to t (after any already there); the first
 * of them has TOK_SENTENCE. Clears t->hashed. Returns 0, or -ENOMEM (also
 * when t's text would pass 4 GiB), and then t holds the words appended
 * before memory ran out, boilerplate not yet removed.
 */
int	normalize(const char *s, size_t len, unsigned flags, struct tokens *t);
