/* articles: POST, PUT, GET and DELETE of articles, and POST /v1/similar. */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "server.h"
#include "store.h"

/*
 * Ingest one parsed article: the reply body and status it gets on its own.
 * replace: PUT semantics.
 */
static int
ingest(struct server *srv, const struct article_in *in, int replace, json_t **body)
{
	struct verdict	v;
	char		id[API_MAX_ID + 1];
	int		r;

	memcpy(id, in->id, in->id_len);
	id[in->id_len] = '\0';
	r = store_put(srv->srv_store, in, replace, &v);
	switch (r) {
	case STORE_CREATED:
		*body = api_verdict_json(srv->srv_store, id, &v);
		return 201;
	case STORE_REPLACED:
	case STORE_SAME:
		*body = api_verdict_json(srv->srv_store, id, &v);
		return 200;
	case STORE_CONFLICT:
		return http_error(body, 409, "conflict",
		    "an article with this id exists with other content; PUT replaces it");
	case STORE_NO_WORDS:
		return http_error(body, 422, "empty_article", "title and body have no words");
	}
	log_warnx("articles: storing %s failed: %s", id, strerror(-r));
	return http_error(body, 500, "internal", "the article could not be stored: %s",
	    strerror(-r));
}

static int
ingest_json(struct server *srv, struct request *r, json_t *obj, json_t **body)
{
	struct article_in	in;
	struct api_error	err;

	if (api_article_parse(obj, API_ID_REQUIRED, &srv->srv_params.api, r->now, &in, &err) != 0)
		return http_error(body, err.status, err.code, "%s", err.message);
	return ingest(srv, &in, 0, body);
}

/* Each item of a checked batch on its own: one bad item gets its error, the others go on. */
static int
ingest_batch(struct server *srv, struct request *r, json_t *items, json_t **body)
{
	json_t	*results, *item, *one;
	size_t	 i;

	results = json_array();
	json_array_foreach(items, i, item) {
		int status = ingest_json(srv, r, item, &one);

		if (status >= 400) {
			json_t *id = json_is_object(item) ? json_object_get(item, "id") : NULL;

			json_object_set_new(one, "id", json_is_string(id) ? json_copy(id) :
			    json_null());
		}
		json_array_append_new(results, one);
	}
	*body = json_pack("{s:o}", "results", results);
	return 200;
}

int
handle_articles_post(struct server *srv, struct request *r, json_t **body)
{
	struct api_error	 err;
	json_t			*doc, *items;
	int			 status;

	if ((status = http_read_json(srv, r, &doc, body)) != 0)
		return status;
	if (request_batch(doc, srv->srv_params.max_batch, &items, &err) != 0)
		status = http_error(body, err.status, err.code, "%s", err.message);
	else if (items != NULL)
		status = ingest_batch(srv, r, items, body);
	else
		status = ingest_json(srv, r, doc, body);
	json_decref(doc);
	return status;
}

/* The id in the path: refused as the body's id would be. */
static int
path_id_check(const struct request *r, json_t **body)
{
	if (r->tail_len > API_MAX_ID)
		return http_error(body, 422, "id_too_long", "id is %zu bytes, more than the %d allowed",
		    r->tail_len, API_MAX_ID);
	if (memchr(r->tail, '\0', r->tail_len) != NULL)
		return http_error(body, 422, "invalid_id", "id must not contain NUL");
	return 0;
}

int
handle_article_put(struct server *srv, struct request *r, json_t **body)
{
	struct article_in	in;
	struct api_error	err;
	json_t			*doc;
	int			 status;

	if ((status = path_id_check(r, body)) != 0 ||
	    (status = http_read_json(srv, r, &doc, body)) != 0)
		return status;
	if (api_article_parse(doc, API_ID_OPTIONAL, &srv->srv_params.api, r->now, &in, &err) != 0)
		status = http_error(body, err.status, err.code, "%s", err.message);
	else if (in.id != NULL && (in.id_len != r->tail_len || memcmp(in.id, r->tail, in.id_len)))
		status = http_error(body, 422, "id_mismatch", "the body's id differs from the path's");
	else {
		in.id = r->tail;
		in.id_len = r->tail_len;
		status = ingest(srv, &in, 1, body);
	}
	json_decref(doc);
	return status;
}

int
handle_article_get(struct server *srv, struct request *r, json_t **body)
{
	const struct article	*a;

	if ((a = store_find(srv->srv_store, r->tail, r->tail_len)) == NULL)
		return http_error(body, 404, "not_found", "no article with that id");
	*body = api_article_json(srv->srv_store, a);
	return 200;
}

int
handle_article_delete(struct server *srv, struct request *r, json_t **body)
{
	if (store_delete(srv->srv_store, r->tail, r->tail_len) == STORE_NOT_FOUND)
		return http_error(body, 404, "not_found", "no article with that id");
	return 204;
}

int
handle_similar_post(struct server *srv, struct request *r, json_t **body)
{
	struct article_in	in;
	struct api_error	err;
	struct verdict		v;
	json_t			*doc;
	char			 id[API_MAX_ID + 1];
	int			 status, rc;

	if ((status = http_read_json(srv, r, &doc, body)) != 0)
		return status;
	if (api_article_parse(doc, API_ID_OPTIONAL, &srv->srv_params.api, r->now, &in, &err) != 0) {
		status = http_error(body, err.status, err.code, "%s", err.message);
	} else if ((rc = store_similar(srv->srv_store, &in, &v)) == STORE_NO_WORDS) {
		status = http_error(body, 422, "empty_article", "title and body have no words");
	} else if (rc < 0) {
		status = http_error(body, 500, "internal", "%s", strerror(-rc));
	} else {
		memcpy(id, in.id != NULL ? in.id : "", in.id_len);
		id[in.id_len] = '\0';
		*body = api_verdict_json(srv->srv_store, in.id_len > 0 ? id : NULL, &v);
		status = 200;
	}
	json_decref(doc);
	return status;
}
