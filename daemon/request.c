/* request: JSON bodies, batches and query numbers, apart from the connection. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "request.h"

/*
 * How deeply arrays and objects nest, counted before parsing so a hostile
 * body costs one linear scan (jansson's own limit is 2048 levels). A string
 * is crossed with memchr to its closing quote, one escaped by an odd run of
 * backslashes before it: bodies are mostly text, and a byte-at-a-time scan
 * of it cost more than the rest of the request's own work.
 */
static unsigned
json_depth(const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len, *q;
	unsigned		 depth = 0, max = 0;
	size_t			 bs;

	while (p < end) {
		switch (*p++) {
		case '"':
			do {
				if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
					return max;
				for (bs = 0; q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\'; bs++)
					;
				p = q + 1;
			} while (bs % 2 == 1);
			break;
		case '[':
		case '{':
			if (++depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return max;
}

int
request_json_load(const void *buf, size_t len, unsigned max_depth, json_t **doc,
    struct api_error *err)
{
	json_error_t	jerr;
	json_t		*d;

	if (len == 0)	/* jansson would say "wrong arguments at line -1" */
		return api_refuse(err, 400, "malformed_json",
		    "the body is empty: send an article object or {\"articles\": [...]}");
	if (json_depth(buf, len) > max_depth)
		return api_refuse(err, 400, "too_deep", "JSON nested deeper than %u levels", max_depth);
	d = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (d == NULL && json_error_code(&jerr) == json_error_invalid_utf8)
		return api_refuse(err, 422, "invalid_utf8", "the body is not valid UTF-8 (byte %d)",
		    jerr.position);
	if (d == NULL)
		return api_refuse(err, 400, "malformed_json", "not valid JSON: %s at line %d, column %d",
		    jerr.text, jerr.line, jerr.column);
	*doc = d;
	return 0;
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
