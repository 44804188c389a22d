/* request: JSON bodies, batches and query numbers, apart from the connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/http.h>

#include "request.h"

/*
 * How deeply arrays and objects nest, counted before parsing so a hostile
 * body costs one linear scan (jansson's own limit is 2048 levels).
 */
static unsigned
json_depth(const unsigned char *p, size_t len)
{
	unsigned	depth = 0, max = 0;
	int		in_string = 0;

	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = 0;
		} else if (p[i] == '"')
			in_string = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++depth > max)
				max = depth;
		} else if ((p[i] == ']' || p[i] == '}') && depth > 0)
			depth--;
	}
	return max;
}

int
request_json_load(const void *buf, size_t len, unsigned max_depth, json_t **doc,
    struct api_error *err)
{
	json_error_t	jerr;
	json_t		*d;

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
