/*
 * request: the parts of reading a request that need no connection: a JSON
 * body from its bytes, the articles of a POST /v1/articles body, and whole
 * numbers from the query string. Pure (no server, no store), so the handlers
 * and the fuzzers in tests/fuzz run the same code. Refusals fill a struct
 * api_error, as api_article_parse() does; the handlers turn it into a reply.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"

/*
 * Parse a request body: at most max_depth arrays and objects deep (checked
 * first, in one linear scan), then JSON with duplicate keys refused and any
 * value at the top, as jansson parses it (long strings are decoded in that
 * scan, faster than jansson does, to the same document). 0 with *doc set
 * (the caller decrefs), or -EINVAL with *err set: 400 too_deep or
 * malformed_json, 422 invalid_utf8.
 */
int	request_json_load(const void *buf, size_t len, unsigned max_depth, json_t **doc,
	    struct api_error *err);

/*
 * How many of the body's string values request_json_load() would decode
 * itself rather than leave to jansson (request.c): those of 48 bytes or
 * more, unless the body has "\u0001" in it or one of them is not a string
 * as jansson would take it. For tests.
 */
size_t	request_json_lifted(const void *buf, size_t len);

/*
 * The shape of a POST /v1/articles body: *items is its "articles" array (at
 * most max_batch long, each item still to be read with api_article_parse()),
 * or NULL when doc is a single article. 0, or -EINVAL with *err set.
 */
int	request_batch(json_t *doc, unsigned max_batch, json_t **items, struct api_error *err);

/* Query parameter name as a whole number; absent gives def. 0 or -EINVAL. */
int	request_query_u64(const struct evkeyvalq *query, const char *name, uint64_t def,
	    uint64_t *out);
