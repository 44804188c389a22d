/*
 * normalize.c: raw article text (plain or HTML, UTF-8) to folded words in one
 * pass, then a pass over the new words that drops boilerplate. See normalize.h
 * for the contract.
 *
 * Tokenization rules (the choices normalize.h leaves to this file):
 *  - A word is a run of letters and digits (categories L*, Nd, Nl, No) and the
 *    combining marks that follow them, taken after NFKC and case folding, so
 *    "Ｆｕｌｌ" is "full", "ﬁnance" is "finance", "Ⅻ" is "xii", "Straße" is
 *    "strasse". Accents stay ("café" and "cafe\u0301" are both "café").
 *  - Apostrophes (' ’ ‘ ‛ ` ´ ′ ʼ ＇ ...) all behave alike. Between a letter or
 *    digit and a letter they vanish and join ("don't" -> "dont", "O’Brien" ->
 *    "obrien"), except a possessive 's ending a word, which is dropped
 *    ("China’s" -> "china", "it's" -> "it"). Anywhere else they separate.
 *  - Periods join single letters into acronyms ("U.S." -> "us", "e.g." ->
 *    "eg"); "us" then meets the pronoun, which costs terms one weak word and
 *    keeps "U.S."/"US" matching for shingles. Commas join digit groups
 *    ("1,000" -> "1000"). Any other period separates ("3.5" -> "3" "5",
 *    "reuters.com" -> "reuters" "com"); hyphens and dashes always separate
 *    ("Covid-19" -> "covid" "19").
 *  - Han, Hiragana and Katakana characters are one-character words: those
 *    scripts put no spaces between words, and unigrams are the usual fallback.
 *  - A run longer than WORD_MAX code points (base64, junk) is cut into pieces.
 *  - Bytes that are not valid UTF-8, NULs and control characters separate.
 *
 * A word starts a sentence (TOK_SENTENCE) when it is the first of this call's
 * text or follows . ! ? … (unless a letter or digit follows the period at once,
 * or it ends an acronym, an initial such as "F." or an abbreviation such as
 * "Mr."), a line break, or a block-level HTML tag (<p>, <br>, <li>, ...).
 * Line breaks count because article bodies reach us one paragraph per line.
 *
 * HTML: tags are dropped (block tags break sentences, inline ones such as <b>
 * join what they split, as a browser shows it), <script> and <style> are
 * dropped with their content, comments too. Named entities from a short table
 * and all numeric ones are decoded; &#128;..&#159; are read as Windows-1252,
 * as browsers do, since old feeds write &#146; for ’. A doubly escaped entity
 * ("&amp;rsquo;") is decoded twice. A '<' with no '>' after it is text.
 *
 * Boilerplate, decided on the words with what separated them (segments are
 * runs of words between sentence ends, line breaks, brackets, colons, bars,
 * spaced dashes and guillemets):
 *  - trailers: a segment of at most TRAILER_WORDS words that starts with
 *    "read more", "continue reading", "click here", "keep reading", "read the
 *    full story" and the like, or "all rights reserved";
 *  - credits: a bracketed group of at most CREDIT_WORDS words with "photo",
 *    "image", "picture", "credit", ... among its first three ("(Photo:
 *    Reuters)", "(AP Photo/Andy Wong)"); a segment starting "Photo by", "Photo:",
 *    "Image copyright", "Picture credit"... with the name after it (capitalized
 *    words and a "/Agency", at most NAME_WORDS, ending where the segment
 *    ends, and never the whole text: "PHOTO: First Full Look At CW's 'The 100'"
 *    is a headline); "Image caption" itself;
 *  - datelines: a bracketed group of one to three words among the first
 *    DATELINE_WORDS, followed by a dash ("WASHINGTON (CNN) —", "(Reuters) -"):
 *    the outlet goes, the place stays;
 *  - with NORM_TITLE, outlet suffixes, twice at most ("... | Politics | CNN"):
 *    a tail of one to SUFFIX_WORDS words after the last '|' (or • ·), or after
 *    a spaced dash when every word of the tail is capitalized (" - Reuters",
 *    " — BBC News", " - The Times of India"); a lower-case tail after a dash is
 *    a clause ("Fed holds rates — and signals cuts") and stays. At least two
 *    words always remain.
 *
 * Input longer than NORM_INPUT_MAX bytes is truncated there: token offsets are
 * 32-bit, and no article is that long. If the words would still overflow
 * them (many calls on one struct tokens) normalize() stops with -ENOMEM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <utf8proc.h>
#include <xxhash.h>

#include "grow.h"
#include "normalize.h"

#define WORD_MAX	128	/* code points per word, longer runs are cut */
#define DECOMP_MAX	32	/* Unicode's longest decomposition is 18 (U+FDFA) */
#define TRAILER_WORDS	16	/* "Click here to read our full coverage of ..." */
#define CREDIT_WORDS	10
#define NAME_WORDS	6
#define DATELINE_WORDS	10
#define SUFFIX_WORDS	4	/* "The New York Times" */

#define DECOMP_OPTIONS	(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/*
 * What came between a word and the one before it. These live in the high bits
 * of token.flags while normalize() runs and are cleared before it returns.
 */
#define SEP_STOP	(1u << 16)	/* . ! ? … */
#define SEP_PARA	(1u << 17)	/* line break, block tag */
#define SEP_OPEN	(1u << 18)	/* ( [ { */
#define SEP_CLOSE	(1u << 19)	/* ) ] } */
#define SEP_COLON	(1u << 20)
#define SEP_BAR		(1u << 21)	/* | ¦ • · */
#define SEP_DASH	(1u << 22)	/* – — ―, or a hyphen next to a space */
#define SEP_SLASH	(1u << 23)
#define SEP_GUILL	(1u << 24)	/* « » ‹ › */
#define TOK_DROP	(1u << 31)
#define SEP_SEGMENT	(SEP_STOP | SEP_PARA | SEP_OPEN | SEP_CLOSE | SEP_COLON | SEP_BAR | \
			 SEP_DASH | SEP_GUILL)
#define FLAGS_INTERNAL	0xffff0000u

struct scan {
	struct tokens	*t;
	int32_t		 w[WORD_MAX + 1];	/* the word being built, decomposed; +1 for reencode's NUL */
	size_t		 wn;
	uint32_t	 wflags;	/* TOK_* and SEP_* of the word being built */
	int		 wascii;	/* every code point so far is ASCII */
	int		 wdigits;	/* every code point so far is a digit */
	int		 wseg;		/* code points since the start or the last acronym period */
	int		 wacronym;	/* a period joined this word */
	uint32_t	 sep;		/* SEP_* since the last word */
	int		 first;		/* no word yet in this call */
	int		 space;		/* the last code point was white space */
	int		 err;
};

/* HTML named entities, sorted by strcmp for bsearch. */
static const struct entity {
	const char	*name;
	int32_t		 cp;
} entities[] = {
	{ "Aacute", 0xC1 }, { "Agrave", 0xC0 }, { "Aring", 0xC5 }, { "Auml", 0xC4 },
	{ "Ccedil", 0xC7 }, { "Eacute", 0xC9 }, { "Egrave", 0xC8 }, { "Iacute", 0xCD },
	{ "Ntilde", 0xD1 }, { "Oacute", 0xD3 }, { "Oslash", 0xD8 }, { "Ouml", 0xD6 },
	{ "Prime", 0x2033 }, { "Uacute", 0xDA }, { "Uuml", 0xDC },
	{ "aacute", 0xE1 }, { "acirc", 0xE2 }, { "agrave", 0xE0 }, { "amp", 0x26 },
	{ "apos", 0x27 }, { "aring", 0xE5 }, { "atilde", 0xE3 }, { "auml", 0xE4 },
	{ "bdquo", 0x201E }, { "bull", 0x2022 }, { "ccedil", 0xE7 }, { "cent", 0xA2 },
	{ "copy", 0xA9 }, { "deg", 0xB0 }, { "eacute", 0xE9 }, { "ecirc", 0xEA },
	{ "egrave", 0xE8 }, { "emsp", 0x2003 }, { "ensp", 0x2002 }, { "euml", 0xEB },
	{ "euro", 0x20AC }, { "frac12", 0xBD }, { "frac14", 0xBC }, { "frac34", 0xBE },
	{ "gt", 0x3E }, { "hellip", 0x2026 }, { "iacute", 0xED }, { "icirc", 0xEE },
	{ "igrave", 0xEC }, { "iuml", 0xEF }, { "laquo", 0xAB }, { "ldquo", 0x201C },
	{ "lsaquo", 0x2039 }, { "lsquo", 0x2018 }, { "lt", 0x3C }, { "mdash", 0x2014 },
	{ "middot", 0xB7 }, { "minus", 0x2212 }, { "nbsp", 0xA0 }, { "ndash", 0x2013 },
	{ "ntilde", 0xF1 }, { "oacute", 0xF3 }, { "ocirc", 0xF4 }, { "ograve", 0xF2 },
	{ "oslash", 0xF8 }, { "otilde", 0xF5 }, { "ouml", 0xF6 }, { "para", 0xB6 },
	{ "pound", 0xA3 }, { "prime", 0x2032 }, { "quot", 0x22 }, { "raquo", 0xBB },
	{ "rdquo", 0x201D }, { "reg", 0xAE }, { "rsaquo", 0x203A }, { "rsquo", 0x2019 },
	{ "sbquo", 0x201A }, { "sect", 0xA7 }, { "shy", 0xAD }, { "szlig", 0xDF },
	{ "thinsp", 0x2009 }, { "times", 0xD7 }, { "trade", 0x2122 }, { "uacute", 0xFA },
	{ "ucirc", 0xFB }, { "ugrave", 0xF9 }, { "uuml", 0xFC }, { "yen", 0xA5 },
	{ "zwj", 0x200D }, { "zwnj", 0x200C },
};

/* &#128;..&#159; as Windows-1252 (HTML5 "numeric character reference end state"). */
static const uint16_t cp1252[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0xFFFD,
};

/* Tags that start a new block, and so a new sentence; sorted for bsearch. */
static const char *const block_tags[] = {
	"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl",
	"dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
	"header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
	"th", "title", "tr", "ul",
};

/* A period after these does not end a sentence ("Mr. Xi"); sorted. */
static const char *const abbrevs[] = {
	"capt", "co", "col", "corp", "dr", "gen", "gov", "inc", "jr", "lt", "ltd", "mr",
	"mrs", "ms", "prof", "rep", "sen", "sgt", "sr", "st", "vs",
};

static int
cmp_str(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static int
cmp_entity(const void *key, const void *elem)
{
	return strcmp(key, ((const struct entity *)elem)->name);
}

void
tokens_init(struct tokens *t)
{
	memset(t, 0, sizeof(*t));
}

void
tokens_reset(struct tokens *t)
{
	t->text_len = 0;
	t->n = 0;
	t->hashed = 0;
}

void
tokens_fini(struct tokens *t)
{
	free(t->text);
	free(t->v);
	free(t->hash);
	tokens_init(t);
}

int
tokens_hash(struct tokens *t)
{
	void	*p = t->hash;

	if (grow_array(&p, &t->hash_cap, t->n, sizeof(*t->hash)) < 0)
		return -ENOMEM;
	t->hash = p;
	for (size_t i = 0; i < t->n; i++)
		t->hash[i] = XXH3_64bits(t->text + t->v[i].off, t->v[i].len);
	t->hashed = 1;
	return 0;
}

/* Append a word of len bytes with flags: where its text goes, or NULL (-ENOMEM). */
static char *
tokens_add(struct tokens *t, size_t len, uint32_t flags)
{
	void	*text = t->text, *v = t->v;
	char	*dst;

	/* offsets and lengths are 32-bit */
	if (len > UINT32_MAX - 1 || t->text_len > UINT32_MAX - 1 - len)
		return NULL;
	if (grow_array(&text, &t->text_cap, t->text_len + len + 1, 1) < 0)
		return NULL;
	t->text = text;
	if (grow_array(&v, &t->cap, t->n + 1, sizeof(*t->v)) < 0)
		return NULL;
	t->v = v;
	t->v[t->n++] = (struct token){ (uint32_t)t->text_len, (uint32_t)len, flags };
	dst = t->text + t->text_len;
	dst[len] = '\0';
	t->text_len += len + 1;
	return dst;
}

static int
is_apostrophe(int32_t c)
{
	switch (c) {
	case '\'': case '`': case 0xB4: case 0x2BC: case 0x2018: case 0x2019: case 0x201A:
	case 0x201B: case 0x2032: case 0x2035: case 0xFF07:
		return 1;
	}
	return 0;
}

static int
is_dquote(int32_t c)
{
	switch (c) {
	case '"': case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033:
	case 0x2034: case 0x2036: case 0x2037: case 0xFF02: case 0x301D: case 0x301E:
	case 0x301F:
		return 1;
	}
	return 0;
}

static int
is_dash(int32_t c)
{
	switch (c) {
	case '-': case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2043: case 0x2212: case 0x2E3A: case 0x2E3B: case 0xFE58:
	case 0xFE63: case 0xFF0D:
		return 1;
	}
	return 0;
}

static int
is_cjk(int32_t c)
{
	return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
	    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
	    (c >= 0x20000 && c <= 0x3FFFF);
}

static int
is_alnum_cat(utf8proc_category_t cat)
{
	return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

static int
ascii_alpha(int c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int
ascii_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
ascii_alnum(int c)
{
	return ascii_alpha(c) || ascii_digit(c);
}

static int
ascii_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The code point at s[i], or -1 at the end or on a bad byte. */
static int32_t
peek(const char *s, size_t len, size_t i)
{
	int32_t	c;

	if (i >= len)
		return -1;
	if ((unsigned char)s[i] < 0x80)
		return (unsigned char)s[i];
	if (utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c) < 0)
		return -1;
	return c;
}

static int
is_letter(int32_t c)
{
	utf8proc_category_t	cat;

	if (c < 0x80)
		return ascii_alpha(c);
	cat = utf8proc_category(c);
	return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

static int
peek_alnum(const char *s, size_t len, size_t i)
{
	int32_t	c = peek(s, len, i);

	if (c < 0)
		return 0;
	if (c < 0x80)
		return ascii_alpha(c) || ascii_digit(c);
	return is_alnum_cat(utf8proc_category(c));
}

/* Put combining marks in canonical order, as utf8proc_decompose() would. */
static void
canonical_order(int32_t *w, size_t n)
{
	size_t	i = 0;
	int32_t	tmp;

	while (i + 1 < n) {
		int	c1 = utf8proc_get_property(w[i])->combining_class;
		int	c2 = utf8proc_get_property(w[i + 1])->combining_class;

		if (c1 > c2 && c2 > 0) {
			tmp = w[i];
			w[i] = w[i + 1];
			w[i + 1] = tmp;
			if (i > 0)
				i--;
		} else
			i++;
	}
}

static void
scan_end(struct scan *sc)
{
	utf8proc_ssize_t	 nb;
	uint8_t			*b = (uint8_t *)sc->w;
	size_t			 i;
	uint32_t		 flags;
	char			*dst;

	if (sc->wn == 0)
		return;
	flags = sc->wflags | (sc->wdigits ? TOK_NUMBER : 0);
	if (sc->wascii) {
		/* in place: byte i lies in w[i / 4], already read */
		for (i = 0; i < sc->wn; i++)
			b[i] = (uint8_t)sc->w[i];
		nb = (utf8proc_ssize_t)sc->wn;
	} else {
		canonical_order(sc->w, sc->wn);
		nb = utf8proc_reencode(sc->w, (utf8proc_ssize_t)sc->wn,
		    UTF8PROC_COMPOSE | UTF8PROC_STABLE);
	}
	sc->wn = 0;
	if (nb <= 0 || sc->err)
		return;
	if ((dst = tokens_add(sc->t, (size_t)nb, flags)) == NULL)
		sc->err = -ENOMEM;
	else
		memcpy(dst, b, (size_t)nb);
}

static void
scan_start(struct scan *sc, int upper)
{
	sc->wflags = sc->sep;
	if (sc->first || (sc->sep & (SEP_STOP | SEP_PARA)))
		sc->wflags |= TOK_SENTENCE;
	if (upper)
		sc->wflags |= TOK_CAPITALIZED;
	sc->sep = 0;
	sc->first = 0;
	sc->wascii = 1;
	sc->wdigits = 1;
	sc->wseg = 0;
	sc->wacronym = 0;
}

static void
scan_add(struct scan *sc, int32_t c)
{
	sc->w[sc->wn++] = c;
	if (c >= 0x80)
		sc->wascii = 0;
	if (!ascii_digit(c) && (c < 0x80 || utf8proc_category(c) != UTF8PROC_CATEGORY_ND))
		sc->wdigits = 0;
	sc->wseg++;
}

/* The word being built is an abbreviation, an initial or an acronym. */
static int
scan_abbrev(const struct scan *sc)
{
	char	buf[8];
	size_t	i;

	if (sc->wacronym || (sc->wn == 1 && (sc->wflags & TOK_CAPITALIZED)))
		return 1;
	if (!sc->wascii || sc->wn >= sizeof(buf))
		return 0;
	for (i = 0; i < sc->wn; i++)
		buf[i] = (char)sc->w[i];
	buf[i] = '\0';
	return bsearch(buf, abbrevs, sizeof(abbrevs) / sizeof(abbrevs[0]), sizeof(abbrevs[0]),
	    cmp_str) != NULL;
}

/*
 * Punctuation, space or symbol c (already NFKC); s[i] follows it in the input.
 * Returns whether c was white space.
 */
static int
scan_punct(struct scan *sc, int32_t c, const char *s, size_t len, size_t i)
{
	int	next = i < len ? (unsigned char)s[i] : -1;
	int	stop;

	switch (c) {
	case '.':
		if (sc->wn > 0 && sc->wseg == 1 && sc->wascii && ascii_alpha(sc->w[sc->wn - 1]) &&
		    ascii_alpha(next) && (i + 1 >= len || !ascii_alpha(s[i + 1]))) {
			sc->wseg = 0;
			sc->wacronym = 1;
			return 0;
		}
		stop = !peek_alnum(s, len, i) && !(sc->wn > 0 && scan_abbrev(sc));
		scan_end(sc);
		if (stop)
			sc->sep |= SEP_STOP;
		return 0;
	case ',':
		if (sc->wn > 0 && sc->wdigits && ascii_digit(next))
			return 0;
		break;
	case '!': case '?': case 0x3002:
		sc->sep |= SEP_STOP;
		break;
	case '\n': case '\r': case '\v': case '\f': case 0x85: case 0x2028: case 0x2029:
		scan_end(sc);
		sc->sep |= SEP_PARA;
		return 1;
	case '(': case '[': case '{':
		sc->sep |= SEP_OPEN;
		break;
	case ')': case ']': case '}':
		sc->sep |= SEP_CLOSE;
		break;
	case ':':
		sc->sep |= SEP_COLON;
		break;
	case '|': case 0xA6: case 0xB7: case 0x2022:
		sc->sep |= SEP_BAR;
		break;
	case '/':
		sc->sep |= SEP_SLASH;
		break;
	case 0xAB: case 0xBB: case 0x2039: case 0x203A:
		sc->sep |= SEP_GUILL;
		break;
	case ' ': case '\t':
		scan_end(sc);
		return 1;
	default:
		if (c >= 0x80 && utf8proc_category(c) == UTF8PROC_CATEGORY_ZS) {
			scan_end(sc);
			return 1;
		}
		break;
	}
	scan_end(sc);
	return 0;
}

/*
 * One code point of the input, after entity decoding; s[i] follows it. Returns
 * how many more input bytes it used (a possessive 's).
 */
static size_t
scan_cp(struct scan *sc, int32_t c, const char *s, size_t len, size_t i)
{
	int32_t			d[DECOMP_MAX];
	utf8proc_ssize_t	n, k;
	utf8proc_category_t	cat;
	int			upper, bound = 0, space = 0;

	if (is_apostrophe(c)) {
		int32_t	nc = peek(s, len, i);

		sc->space = 0;
		if (sc->wn == 0 || !is_letter(nc)) {
			scan_end(sc);	/* not inside a word: a separator */
			return 0;
		}
		/* it joins ("don't" -> "dont"); a possessive 's goes too */
		return (nc | 0x20) == 's' && !peek_alnum(s, len, i + 1);
	}
	if (is_dquote(c)) {
		scan_end(sc);
		sc->space = 0;
		return 0;
	}
	if (is_dash(c)) {
		scan_end(sc);
		if ((c >= 0x2013 && c <= 0x2015) || c == 0x2E3A || c == 0x2E3B || sc->space ||
		    (i < len && ascii_space(s[i])) || i >= len)
			sc->sep |= SEP_DASH;
		sc->space = 0;
		return 0;
	}

	if (c < 0x80) {
		upper = c >= 'A' && c <= 'Z';
		d[0] = upper ? c + 32 : c;
		n = 1;
	} else {
		cat = utf8proc_category(c);
		upper = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
		n = utf8proc_decompose_char(c, d, DECOMP_MAX, DECOMP_OPTIONS, &bound);
		if (n < 0 || n > DECOMP_MAX) {
			d[0] = 0;	/* cannot happen for valid code points: separate */
			n = 1;
		}
	}
	for (k = 0; k < n; k++) {
		int32_t	x = d[k];

		if (x < 0x80)
			cat = ascii_alpha(x) ? UTF8PROC_CATEGORY_LL :
			    ascii_digit(x) ? UTF8PROC_CATEGORY_ND : UTF8PROC_CATEGORY_PO;
		else
			cat = utf8proc_category(x);
		if (is_alnum_cat(cat)) {
			if (is_cjk(x)) {
				scan_end(sc);
				scan_start(sc, 0);
				scan_add(sc, x);
				scan_end(sc);
				continue;
			}
			if (sc->wn == WORD_MAX)
				scan_end(sc);
			if (sc->wn == 0)
				scan_start(sc, upper && k == 0);
			scan_add(sc, x);
		} else if (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME) {
			if (sc->wn > 0 && sc->wn < WORD_MAX) {
				sc->w[sc->wn++] = x;
				sc->wascii = 0;
				sc->wdigits = 0;
			}
		} else {
			space = scan_punct(sc, x, s, len, i);
		}
	}
	sc->space = space;
	return 0;
}

/* An ASCII byte after a word that ends it: not one that may join more to it. */
static int
ends_word(int c)
{
	return c < 0x80 && c != '\'' && c != '`' && c != '.' && c != ',' && c != '&' && c != '<';
}

/* A whole word of n ASCII letters and digits at p, straight to the tokens in lower case. */
static void
push_ascii_word(struct scan *sc, const char *p, size_t n, int digits)
{
	char	*dst;

	scan_start(sc, p[0] >= 'A' && p[0] <= 'Z');
	if (sc->err)
		return;
	if ((dst = tokens_add(sc->t, n, sc->wflags | (digits ? TOK_NUMBER : 0))) == NULL) {
		sc->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(p[i] | 0x20);	/* lower case; digits have the bit already */
}

/*
 * Where the run of ASCII letters and digits at s[i] ends, and whether all of
 * them are digits. Sixteen bytes at a time where SSE2 is (every x86-64): the
 * byte loop asked two ranges of each byte, a tenth of the decode thread's
 * samples at 100 articles a request. A byte is in [lo, lo + n) when adding
 * 0x80 - lo takes it to the n lowest signed values.
 */
static size_t
ascii_run(const char *s, size_t len, size_t i, int *digits)
{
	size_t	j = i;

	*digits = 1;
#ifdef __SSE2__
	while (len - j >= 16) {
		__m128i		v = _mm_loadu_si128((const void *)(s + j));
		__m128i		d = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x80 - '0')),
				    _mm_set1_epi8(-128 + 10));
		__m128i		a = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
				    _mm_set1_epi8(0x80 - 'a')), _mm_set1_epi8(-128 + 26));
		unsigned	run = (unsigned)_mm_movemask_epi8(_mm_or_si128(a, d));
		unsigned	dig = (unsigned)_mm_movemask_epi8(d);

		if (run != 0xFFFF) {
			unsigned	in = (1u << __builtin_ctz(~run)) - 1;	/* the run's bytes */

			*digits &= (dig & in) == in;
			return j + (size_t)__builtin_ctz(~run);
		}
		*digits &= dig == 0xFFFF;
		j += 16;
	}
#endif
	for (; j < len && ascii_alnum((unsigned char)s[j]); j++)
		*digits &= ascii_digit(s[j]);
	return j;
}

/*
 * The run of ASCII letters and digits at s[i]: what scan_cp() does with each
 * of them, without asking what else they might be. Returns where it ends. A
 * whole word, as most words of English text are, goes to the tokens at once.
 */
static size_t
scan_ascii(struct scan *sc, const char *s, size_t len, size_t i)
{
	int	digits;
	size_t	j = ascii_run(s, len, i, &digits);

	sc->space = 0;
	if (sc->wn == 0 && j - i <= WORD_MAX && (j == len || ends_word((unsigned char)s[j]))) {
		push_ascii_word(sc, s + i, j - i, digits);
		return j;
	}
	for (; i < j; i++) {
		int	c = (unsigned char)s[i];

		if (sc->wn == WORD_MAX)
			scan_end(sc);
		if (sc->wn == 0)
			scan_start(sc, c >= 'A' && c <= 'Z');
		sc->w[sc->wn++] = c | 0x20;
		if (!ascii_digit(c))
			sc->wdigits = 0;
		sc->wseg++;
	}
	return j;
}

/* Bytes of the entity body at s[i] (after '&', through ';'), or 0. */
static size_t
entity_body(const char *s, size_t len, size_t i, int32_t *cp)
{
	char		 name[12];
	size_t		 j = i, nd = 0;
	uint32_t	 v = 0;
	const struct entity *e;

	if (j < len && s[j] == '#') {
		int	hex = j + 1 < len && (s[j + 1] | 0x20) == 'x';

		j += hex ? 2 : 1;
		for (; j < len && nd < 8; j++, nd++) {
			int	ch = (unsigned char)s[j], dv;

			if (ascii_digit(ch))
				dv = ch - '0';
			else if (hex && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				dv = (ch | 0x20) - 'a' + 10;
			else
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)dv;
		}
		if (nd == 0 || nd == 8)
			return 0;
		if (j < len && s[j] == ';')
			j++;		/* HTML5 tolerates a missing ';' after a number */
		if (v >= 0x80 && v <= 0x9F)
			v = cp1252[v - 0x80];
		else if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		*cp = (int32_t)v;
		return j - i;
	}
	for (; j < len && nd < sizeof(name) - 1 && (ascii_alpha(s[j]) || ascii_digit(s[j])); j++)
		name[nd++] = s[j];
	if (nd == 0 || j >= len || s[j] != ';')
		return 0;
	name[nd] = '\0';
	e = bsearch(name, entities, sizeof(entities) / sizeof(entities[0]), sizeof(entities[0]),
	    cmp_entity);
	if (e == NULL)
		return 0;
	*cp = e->cp;
	return j + 1 - i;
}

/* Bytes of the entity at s[i] == '&', or 0 if it is not one. */
static size_t
html_entity(const char *s, size_t len, size_t i, int32_t *cp)
{
	size_t	k, n;
	int	again;
	int32_t	c;

	if ((n = entity_body(s, len, i + 1, cp)) == 0)
		return 0;
	n++;
	/* "&amp;rsquo;": escaped twice by a careless feed */
	for (again = 0; *cp == '&' && again < 2; again++) {
		if ((k = entity_body(s, len, i + n, &c)) == 0)
			break;
		*cp = c;
		n += k;
	}
	return n;
}

/*
 * Bytes of the tag at s[i] == '<', or 0 if it is not one. *gt caches the
 * position of the next '>' (len: none), which keeps many '<' linear.
 */
static size_t
html_tag(struct scan *sc, const char *s, size_t len, size_t i, size_t *gt)
{
	char		 name[16];
	size_t		 j = i + 1, n = 0, end;
	const char	*p;
	int		 closing = 0;

	if (j >= len)
		return 0;
	if (len - j >= 3 && memcmp(s + j, "!--", 3) == 0) {
		for (n = j + 3; n + 2 < len; n++)
			if (s[n] == '-' && s[n + 1] == '-' && s[n + 2] == '>')
				return n + 3 - i;
		return len - i;		/* an unclosed comment runs to the end */
	}
	if (s[j] == '/')
		closing = 1, j++;
	else if (s[j] == '!' || s[j] == '?')
		j++;
	if (j >= len || !ascii_alpha(s[j]))
		return 0;
	for (; j < len && (ascii_alpha(s[j]) || ascii_digit(s[j])); j++)
		if (n < sizeof(name) - 1)
			name[n++] = (char)(s[j] | 0x20);
	name[n] = '\0';
	if (j < len && !ascii_space(s[j]) && s[j] != '/' && s[j] != '>')
		return 0;
	if (*gt < j) {
		p = memchr(s + j, '>', len - j);
		*gt = p ? (size_t)(p - s) : len;
	}
	if (*gt >= len)
		return 0;
	end = *gt + 1;
	if (!closing && s[*gt - 1] != '/' &&
	    (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)) {
		for (p = s + end; (p = memchr(p, '<', len - (size_t)(p - s))) != NULL; p++) {
			if ((size_t)(s + len - p) >= n + 2 && p[1] == '/' &&
			    strncasecmp(p + 2, name, n) == 0)
				break;
		}
		if (p == NULL)
			return len - i;
		end = (size_t)(p - s) + 2 + n;
		p = memchr(s + end, '>', len - end);
		end = p ? (size_t)(p - s) + 1 : len;
	}
	if (bsearch(name, block_tags, sizeof(block_tags) / sizeof(block_tags[0]),
	    sizeof(block_tags[0]), cmp_str) != NULL) {
		scan_end(sc);
		sc->sep |= SEP_PARA;
		sc->space = 1;
	}
	return end - i;
}

/* Boilerplate pass, over words a..b of t; tail is what followed word b - 1. */

static uint32_t
sep_at(const struct tokens *t, size_t i, size_t b, uint32_t tail)
{
	return i < b ? t->v[i].flags : tail;
}

static int
word_is(const struct tokens *t, size_t i, size_t b, const char *w)
{
	const char	*x;

	if (i >= b)
		return 0;
	x = t->text + t->v[i].off;
	return x[0] == w[0] && strcmp(x, w) == 0;	/* most words: not even the first letter */
}

static int
word_in(const struct tokens *t, size_t i, size_t b, const char *const *list)
{
	for (; *list != NULL; list++)
		if (word_is(t, i, b, *list))
			return 1;
	return 0;
}

static size_t
segment_end(const struct tokens *t, size_t i, size_t b)
{
	for (i++; i < b && !(t->v[i].flags & SEP_SEGMENT); i++)
		;
	return i;
}

static void
drop(struct tokens *t, size_t i, size_t j)
{
	for (; i < j; i++)
		t->v[i].flags |= TOK_DROP;
}

/* Words of phrase p (space separated) at i, within one segment: 0 if not. */
static size_t
phrase_at(const struct tokens *t, size_t i, size_t b, const char *p)
{
	size_t		 n = 0, k;
	const char	*w;

	if (i >= b || t->text[t->v[i].off] != *p)
		return 0;	/* as in word_is() */
	while (*p != '\0') {
		k = strcspn(p, " ");
		if (i + n >= b || (n > 0 && (t->v[i + n].flags & SEP_SEGMENT)))
			return 0;
		w = t->text + t->v[i + n].off;
		if (t->v[i + n].len != k || memcmp(w, p, k) != 0)
			return 0;
		n++;
		p += k;
		p += *p == ' ';
	}
	return n;
}

static const char *const trailers[] = {
	"read more", "continue reading", "keep reading", "click here", "read the full story",
	"read full story", "read the full article", "read full article", "read the rest",
	"all rights reserved", NULL,
};

static const char *const credit_words[] = {
	"photo", "photos", "photograph", "photographs", "photographer", "image", "images",
	"picture", "pictures", "pic", "credit", "illustration", NULL,
};

static const char *const credit_lead[] = {
	"photo", "photos", "photograph", "image", "picture", "pictures", "pic", NULL,
};

static const char *const credit_link[] = {
	"by", "credit", "copyright", "courtesy", "source", NULL,
};

static const char *const agency_tail[] = {
	"images", "photo", "photos", "pictures", "news", "press", NULL,
};

static const char *const suffix_connectors[] = {
	"of", "the", "and", "for", "on", "de", "la", "le", NULL,
};

/* A bracketed group at i: its end (the word after the ')'), or 0. */
static size_t
bracket_end(const struct tokens *t, size_t i, size_t b, uint32_t tail, size_t max)
{
	size_t	j;

	if (!(t->v[i].flags & SEP_OPEN))
		return 0;
	for (j = i + 1; j <= b && j - i <= max; j++) {
		uint32_t	f = sep_at(t, j, b, tail);

		if (f & SEP_CLOSE)
			return j;
		if (f & (SEP_OPEN | SEP_STOP | SEP_PARA))
			return 0;
	}
	return 0;
}

/* "Photo by John Smith/AP", "Image copyright Getty Images": end of the credit, or 0. */
static size_t
credit_end(const struct tokens *t, size_t i, size_t b)
{
	size_t	j, k;

	if (!word_in(t, i, b, credit_lead) || i + 1 >= b)
		return 0;
	if (word_is(t, i, b, "image") && word_is(t, i + 1, b, "caption") &&
	    !(t->v[i + 1].flags & SEP_SEGMENT))
		return i + 2;
	if ((t->v[i + 1].flags & SEP_COLON) && !(t->v[i + 1].flags & (SEP_STOP | SEP_PARA)))
		k = i + 1;
	else if (word_in(t, i + 1, b, credit_link) && !(t->v[i + 1].flags & SEP_SEGMENT))
		k = i + 2;
	else
		return 0;
	for (j = k; j < b && j - k < NAME_WORDS; j++) {
		uint32_t	f = t->v[j].flags;

		if (j > k && (f & SEP_SEGMENT))
			break;
		if (f & SEP_SLASH) {
			j++;
			if (j < b && !(t->v[j].flags & SEP_SEGMENT) && word_in(t, j, b, agency_tail))
				j++;
			break;
		}
		if (!(f & TOK_CAPITALIZED))
			break;
	}
	/* a name runs to the end of its segment; "Photo: First Full Look At ..." is a headline */
	if (j < b && !(t->v[j].flags & SEP_SEGMENT))
		return 0;
	return j;
}

/* Where an outlet suffix starts in the title a..b, or b if there is none. */
static size_t
title_suffix(const struct tokens *t, size_t a, size_t b)
{
	size_t	i, j;

	for (i = b; i > a + 2; i--) {
		uint32_t	f = t->v[i - 1].flags;

		if (!(f & (SEP_BAR | SEP_DASH)))
			continue;
		i--;
		if (b - i > SUFFIX_WORDS)
			return b;
		if (f & SEP_BAR)
			return i;
		for (j = i; j < b; j++)
			if (!(t->v[j].flags & TOK_CAPITALIZED) &&
			    (j == i || !word_in(t, j, b, suffix_connectors)))
				return b;
		return i;
	}
	return b;
}

/*
 * Remove the words marked TOK_DROP from a.. and their text (from text0 on).
 * Words and text keep their order, so text only moves down. A word after a
 * dropped sentence start starts a sentence itself.
 */
static void
compact(struct tokens *t, size_t a, size_t text0)
{
	size_t	i, j, w = text0;
	int	sentence = 0;

	for (i = a, j = a; i < t->n; i++) {
		struct token	tok = t->v[i];

		if (tok.flags & TOK_DROP) {
			sentence |= i == a || (tok.flags & TOK_SENTENCE);
			continue;
		}
		if (sentence)
			tok.flags |= TOK_SENTENCE;
		sentence = 0;
		if (tok.off != w)	/* nothing moves before the first word dropped */
			memmove(t->text + w, t->text + tok.off, tok.len + 1);
		tok.off = (uint32_t)w;
		w += tok.len + 1;
		t->v[j++] = tok;
	}
	t->n = j;
	t->text_len = w;
}

static void
boilerplate(struct tokens *t, size_t a, size_t text0, uint32_t tail, unsigned flags)
{
	size_t			 b = t->n, i, j;
	const char *const	*tr;
	int			 round;

	for (i = a; i < b; i++) {
		if (i == a || (t->v[i].flags & SEP_SEGMENT)) {
			j = segment_end(t, i, b);
			for (tr = trailers; *tr != NULL; tr++)
				if (j - i <= TRAILER_WORDS && phrase_at(t, i, b, *tr))
					drop(t, i, j);
			/* a "credit" that is the whole text is what the text says */
			if ((j = credit_end(t, i, b)) != 0 && !(i == a && j == b))
				drop(t, i, j);
		}
		if ((j = bracket_end(t, i, b, tail, CREDIT_WORDS)) != 0) {
			if (word_in(t, i, b, credit_words) ||
			    (i + 1 < j && word_in(t, i + 1, b, credit_words)) ||
			    (i + 2 < j && word_in(t, i + 2, b, credit_words)) ||
			    (i < a + DATELINE_WORDS && j - i <= 3 &&
			    (sep_at(t, j, b, tail) & SEP_DASH)))
				drop(t, i, j);
		}
	}
	compact(t, a, text0);
	for (round = 0; (flags & NORM_TITLE) && round < 2; round++) {
		if ((i = title_suffix(t, a, t->n)) == t->n)
			break;
		drop(t, i, t->n);
		compact(t, a, text0);
	}
	for (i = a; i < t->n; i++)
		t->v[i].flags &= ~FLAGS_INTERNAL;
}

int
normalize(const char *s, size_t len, unsigned flags, struct tokens *t)
{
	struct scan	sc;
	size_t		i = 0, k, n0 = t->n, text0 = t->text_len, gt = 0;
	int32_t		c;

	if (len > NORM_INPUT_MAX)
		len = NORM_INPUT_MAX;
	t->hashed = 0;
	memset(&sc, 0, sizeof(sc));
	sc.t = t;
	sc.first = 1;
	while (i < len && sc.err == 0) {
		unsigned char	b = (unsigned char)s[i];

		if (ascii_alnum(b)) {
			i = scan_ascii(&sc, s, len, i);
			continue;
		}
		if (b == ' ' && sc.wn == 0) {
			/* what scan_cp() does with a space between words, as most are */
			sc.space = 1;
			i++;
			continue;
		}
		if (b == '<' && (k = html_tag(&sc, s, len, i, &gt)) > 0) {
			i += k;
			continue;
		}
		if (b == '&' && (k = html_entity(s, len, i, &c)) > 0) {
			i += k;
		} else if (b < 0x80) {
			c = b;
			i++;
		} else {
			utf8proc_ssize_t	r;

			r = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
			if (r < 0) {
				c = 0;		/* a bad byte separates, as a NUL does */
				r = 1;
			}
			i += (size_t)r;
		}
		i += scan_cp(&sc, c, s, len, i);
	}
	scan_end(&sc);
	if (sc.err) {
		for (i = n0; i < t->n; i++)
			t->v[i].flags &= ~FLAGS_INTERNAL;
		return sc.err;
	}
	boilerplate(t, n0, text0, sc.sep, flags);
	return 0;
}
