/*
 * fuzz-request: a request body, as POST /v1/articles, PUT /v1/articles/ID
 * and POST /v1/similar read it: request_json_load() (depth limit, then
 * jansson with the handlers' flags, its document the one jansson alone
 * makes), request_batch(), api_article_parse() on each article; each article
 * accepted is then stored in a fresh in-memory store and its verdict
 * rendered, as ingest() does. Input: the raw body.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api.h"
#include "fuzz.h"
#include "request.h"
#include "store.h"

#define NOW	1700000000

static struct store *
scratch_store(struct store **s)
{
	struct store_params	p;

	if (*s == NULL) {
		fuzz_store_params(fuzz_config(), &p);
		*s = store_new(&p);
		assert(*s != NULL);
	}
	return *s;
}

static void
render(json_t *o)
{
	char	*text;

	assert(o != NULL);
	text = json_dumps(o, JSON_COMPACT);
	assert(text != NULL);
	free(text);
	json_decref(o);
}

/* The verdict as the ingest replies write it: JSON that jansson reads back. */
static void
render_verdict(const struct store *s, const char *id, size_t id_len, const struct verdict *v)
{
	struct evbuffer	*out = evbuffer_new();
	json_t		*o;

	assert(out != NULL);
	api_verdict_write(out, s, id, id_len, v);
	o = json_loadb((const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out), 0, NULL);
	assert(o != NULL);
	json_decref(o);
	evbuffer_free(out);
}

/* One article as the handlers read it; a refusal must name a client error. */
static void
article(json_t *obj, int id_rule, struct store **s)
{
	const struct config	*c = fuzz_config();
	struct api_limits	 lim = { .max_field_bytes = c->max_field_bytes,
	    .max_body_bytes = c->max_body_bytes };
	struct article_in	 in;
	struct api_error	 err;
	struct verdict		 v;
	int			 r;

	if (api_article_parse(obj, id_rule, &lim, NOW, &in, &err) != 0) {
		assert(err.status >= 400 && err.status < 500 && err.code != NULL);
		render(api_error_json(err.code, err.message));
		return;
	}
	assert(in.id_len <= API_MAX_ID);
	assert(id_rule == API_ID_OPTIONAL || in.id_len > 0);
	assert(in.title_len <= c->max_field_bytes && in.source_len <= c->max_field_bytes);
	if (id_rule == API_ID_OPTIONAL) {
		r = store_similar(scratch_store(s), &in, &v);
		assert(r == 0 || r == STORE_NO_WORDS);
	} else {
		r = store_put(scratch_store(s), &in, 0, &v);
		assert(r == STORE_CREATED || r == STORE_SAME || r == STORE_CONFLICT ||
		    r == STORE_NO_WORDS);
	}
	if (r == 0 || r == STORE_CREATED || r == STORE_SAME)
		render_verdict(*s, in.id_len > 0 ? in.id : NULL, in.id_len, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct config	*c = fuzz_config();
	struct store		*s = NULL;
	struct api_error	 err;
	json_t			*doc, *plain, *items, *item;
	size_t			 i;

	if (size > c->max_request_bytes)
		return 0;
	/* what request_json_load() lifts and decodes itself, jansson would read alike */
	plain = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (request_json_load(data, size, c->max_json_depth, &doc, &err) != 0) {
		assert(err.status == 400 || err.status == 422);
		assert(plain == NULL || strcmp(err.code, "too_deep") == 0);
		json_decref(plain);
		return 0;
	}
	assert(plain != NULL && json_equal(doc, plain));
	json_decref(plain);
	/* POST /v1/articles: one article, or a batch of them */
	if (request_batch(doc, c->max_batch, &items, &err) != 0)
		assert(err.status == 400 || err.status == 413);
	else if (items == NULL)
		article(doc, API_ID_REQUIRED, &s);
	else
		json_array_foreach(items, i, item)
			article(item, API_ID_REQUIRED, &s);
	/* PUT /v1/articles/ID and POST /v1/similar: the id is optional */
	article(doc, API_ID_OPTIONAL, &s);
	store_free(s);
	json_decref(doc);
	return 0;
}
