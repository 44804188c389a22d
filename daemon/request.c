/* request: JSON bodies, batches and query numbers, apart from the connection. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "request.h"

/*
 * Long string values are decoded here, not by jansson, which reads a string
 * a byte at a time through a callback and copies each byte twice: 25 to 30
 * us for a 2 KB body, more than fingerprinting it (README "Where the time
 * goes"). The scan that counts the depth also lifts each string value of
 * LIFT_MIN bytes or more out of a copy of the body, decoding it into a
 * buffer beside, and leaves a placeholder in its place: "\u0001", then the
 * offset and length of its text in that buffer. jansson parses the copy,
 * and each placeholder is swapped for its text. What comes out is what
 * jansson makes of the body itself: a string the decoder here does not take
 * exactly as jansson would, a body with "\u0001" in it (which could pass for
 * a placeholder), and any error jansson finds in the copy send the body to
 * jansson, for its own answer and message. tests/unit/test-request.c holds
 * the two ways to the same documents.
 */
#define LIFT_MIN	48	/* a placeholder takes at most 49 bytes: the copy is never longer */
#define LIFT_MARK	"\\u0001"
#define LOAD_FLAGS	(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* A body as scan() leaves it. */
struct lift {
	unsigned	 depth;		/* of the deepest array or object */
	char		*copy;		/* the body with placeholders; NULL when none */
	size_t		 copy_len;
	char		*text;		/* the lifted strings' texts, end to end */
	size_t		 text_len;
	size_t		 n;		/* strings lifted */
};

/*
 * The closing quote of the string whose contents start at p: the first
 * quote after an even run of backslashes, found with memchr (bodies are
 * mostly text, and a byte-at-a-time scan cost more than the rest of the
 * request's own work), or NULL.
 */
static const unsigned char *
string_end(const unsigned char *p, const unsigned char *end)
{
	const unsigned char	*q;
	size_t			 bs;

	do {
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return NULL;
		for (bs = 0; q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\'; bs++)
			;
		p = q + 1;
	} while (bs % 2 == 1);
	return q;
}

/* A string ending at p is an object's key: a colon follows. */
static int
is_key(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p < end && *p == ':';
}

/* Four hex digits as a number, or -1. */
static long
hex4(const unsigned char *p)
{
	long	v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char	c = p[i], lc = c | 0x20;

		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if (lc >= 'a' && lc <= 'f')
			v = v << 4 | (lc - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* What the one-letter escape \e stands for, or 0 when JSON has none. */
static char
escape_char(unsigned char e)
{
	switch (e) {
	case '"':
	case '\\':
	case '/':
		return (char)e;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	}
	return 0;
}

/*
 * Where the run of bytes that stand for themselves in a JSON string (ASCII
 * from the space up, but the backslash) starting at p ends: sixteen bytes
 * at a time with SSE2, as a body is mostly such runs (a byte at a time, they
 * were about a twentieth of the decode thread's instructions at 100
 * articles a request).
 */
static const unsigned char *
plain_end(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
	for (; end - p >= 16; p += 16) {
		__m128i		v = _mm_loadu_si128((const void *)p);
		/* a signed compare: bytes from 0x80 up are below the space too */
		unsigned	stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(
				    _mm_cmplt_epi8(v, _mm_set1_epi8(' ')),
				    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));

		if (stop != 0)
			return p + __builtin_ctz(stop);
	}
#endif
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '\\')
		p++;
	return p;
}

/*
 * The text of a string whose contents (no unescaped quote) are p[0..n),
 * into out, which has n bytes (an escape never writes more than it reads):
 * its length, or -1 for what jansson refuses (a control character, an
 * escape it does not know, \u0000, a lone surrogate, bytes that are not
 * UTF-8 as utf8proc reads it).
 */
static ptrdiff_t
string_decode(const unsigned char *p, size_t n, char *out)
{
	const unsigned char	*end = p + n, *run;
	char			*o = out, e;
	utf8proc_int32_t	 c;
	utf8proc_ssize_t	 k;
	long			 u, lo;

	while (p < end) {
		p = plain_end(run = p, end);
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end)
			break;
		if (*p >= 0x80) {
			if ((k = utf8proc_iterate(p, end - p, &c)) <= 0)
				return -1;
			memcpy(o, p, (size_t)k);
			o += k;
			p += k;
			continue;
		}
		if (*p < 0x20 || end - p < 2)
			return -1;
		if ((e = escape_char(p[1])) != 0) {
			*o++ = e;
			p += 2;
			continue;
		}
		if (p[1] != 'u' || end - p < 6 || (u = hex4(p + 2)) <= 0 || (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		p += 6;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0xdc00 ||
			    lo > 0xdfff)
				return -1;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		o += utf8proc_encode_char((utf8proc_int32_t)u, (utf8proc_uint8_t *)o);
	}
	return o - out;
}

/*
 * Lift the string value whose contents are p[0..q) from l's copy: its text
 * into l->text, its placeholder at o (the room of the string it replaces).
 * Where the copy goes on from; NULL, l's copy freed and nothing lifted, when
 * string_decode() refuses the string.
 */
static char *
lift(struct lift *l, char *o, const unsigned char *p, const unsigned char *q)
{
	ptrdiff_t	k;

	if ((k = string_decode(p, (size_t)(q - p), l->text + l->text_len)) < 0) {
		free(l->copy);
		*l = (struct lift){ .depth = l->depth };
		return NULL;
	}
	o += snprintf(o, (size_t)(q - p) + 2, "\"%s%zu,%td\"", LIFT_MARK, l->text_len, k);
	l->text_len += (size_t)k;
	l->n++;
	return o;
}

/*
 * The body has LIFT_MARK in it somewhere. A backslash at a time with
 * memchr(): a body has few, and memmem() read it at ~1.4 instructions a
 * byte (1% of the decode thread at 100 articles a request).
 */
static int
has_mark(const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len;

	for (; (p = memchr(p, '\\', (size_t)(end - p))) != NULL; p++)
		if ((size_t)(end - p) >= strlen(LIFT_MARK) && memcmp(p, LIFT_MARK, strlen(LIFT_MARK)) == 0)
			return 1;
	return 0;
}

/*
 * One pass over the body: how deeply arrays and objects nest (counted before
 * parsing, so a hostile body costs one linear scan; jansson's own limit is
 * 2048 levels) and, unless the body has "\u0001" in it, its long string
 * values lifted into l->copy and l->text. Out of memory, or a string that
 * string_decode() refuses, lifts none.
 */
static void
scan(const unsigned char *p, size_t len, struct lift *l)
{
	const unsigned char	*end = p + len, *q;
	char			*o = NULL;
	unsigned		 depth = 0;

	*l = (struct lift){ 0 };
	if (len > LIFT_MIN && !has_mark(p, len) &&
	    (l->copy = malloc(2 * len)) != NULL) {
		o = l->copy;
		l->text = l->copy + len;
	}
	while (p < end) {
		switch (*p) {
		case '"':
			if ((q = string_end(p + 1, end)) == NULL)
				q = end - 1;	/* unclosed: copied as it is, for jansson to refuse */
			else if (o != NULL && (size_t)(q - p - 1) >= LIFT_MIN && !is_key(q + 1, end)) {
				o = lift(l, o, p + 1, q);
				p = q + 1;
				continue;
			}
			if (o != NULL) {
				memcpy(o, p, (size_t)(q + 1 - p));
				o += q + 1 - p;
			}
			p = q + 1;
			continue;
		case '[':
		case '{':
			if (++depth > l->depth)
				l->depth = depth;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
		if (o != NULL)
			*o++ = (char)*p;
		p++;
	}
	if (o != NULL)
		l->copy_len = (size_t)(o - l->copy);
}

/* The text the placeholder v stands for, as a new string; NULL if v is none, or out of memory. */
static json_t *
lifted(const json_t *v, const struct lift *l)
{
	const char		*s;
	char			*e;
	unsigned long long	 off, n;

	if (!json_is_string(v) || *(s = json_string_value(v)) != '\x01')
		return NULL;
	off = strtoull(s + 1, &e, 10);
	if (*e != ',')
		return NULL;
	n = strtoull(e + 1, &e, 10);
	if (*e != '\0' || off > l->text_len || n > l->text_len - off)
		return NULL;
	return json_stringn_nocheck(l->text + off, n);
}

/* Swap the placeholders under v for their texts: how many were swapped. */
static size_t
restore(json_t *v, const struct lift *l)
{
	json_t	*x, *s;
	void	*it;
	size_t	 i, n = 0;

	if (json_is_object(v)) {
		for (it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
			x = json_object_iter_value(it);
			if ((s = lifted(x, l)) != NULL)
				n += json_object_iter_set_new(v, it, s) == 0;
			else
				n += restore(x, l);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if ((s = lifted(x, l)) != NULL)
				n += json_array_set_new(v, i, s) == 0;
			else
				n += restore(x, l);
		}
	}
	return n;
}

/* jansson's parse of the copy l made, the placeholders swapped; NULL if any step failed. */
static json_t *
load_lifted(const struct lift *l)
{
	json_t	*d, *s;
	size_t	 n;

	if ((d = json_loadb(l->copy, l->copy_len, LOAD_FLAGS, NULL)) == NULL)
		return NULL;
	if ((s = lifted(d, l)) != NULL) {	/* the body is one long string */
		json_decref(d);
		return s;
	}
	if ((n = restore(d, l)) != l->n) {
		json_decref(d);
		return NULL;
	}
	return d;
}

int
request_json_load(const void *buf, size_t len, unsigned max_depth, json_t **doc,
    struct api_error *err)
{
	json_error_t	jerr;
	json_t		*d = NULL;
	struct lift	l;

	if (len == 0)	/* jansson would say "wrong arguments at line -1" */
		return api_refuse(err, 400, "malformed_json",
		    "the body is empty: send an article object or {\"articles\": [...]}");
	scan(buf, len, &l);
	if (l.depth > max_depth) {
		free(l.copy);
		return api_refuse(err, 400, "too_deep", "JSON nested deeper than %u levels", max_depth);
	}
	if (l.n > 0)
		d = load_lifted(&l);
	free(l.copy);
	if (d == NULL)
		d = json_loadb(buf, len, LOAD_FLAGS, &jerr);
	if (d == NULL && json_error_code(&jerr) == json_error_invalid_utf8)
		return api_refuse(err, 422, "invalid_utf8", "the body is not valid UTF-8 (byte %d)",
		    jerr.position);
	if (d == NULL)
		return api_refuse(err, 400, "malformed_json", "not valid JSON: %s at line %d, column %d",
		    jerr.text, jerr.line, jerr.column);
	*doc = d;
	return 0;
}

size_t
request_json_lifted(const void *buf, size_t len)
{
	struct lift	l;

	scan(buf, len, &l);
	free(l.copy);
	return l.n;
}

int
request_batch(json_t *doc, unsigned max_batch, json_t **items, struct api_error *err)
{
	json_t	*v;

	if (!json_is_object(doc) || (v = json_object_get(doc, "articles")) == NULL) {
		*items = NULL;
		return 0;
	}
	if (!json_is_array(v))
		return api_refuse(err, 400, "wrong_type", "articles must be an array");
	if (json_array_size(v) > max_batch)
		return api_refuse(err, 413, "too_many_articles",
		    "%zu articles in one batch, more than the %u allowed", json_array_size(v),
		    max_batch);
	*items = v;
	return 0;
}

int
request_query_u64(const struct evkeyvalq *query, const char *name, uint64_t def, uint64_t *out)
{
	const char	*v = evhttp_find_header(query, name);
	char		*end;

	*out = def;
	if (v == NULL)
		return 0;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}
