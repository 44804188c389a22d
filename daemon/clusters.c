/* clusters: the story cluster feed and one cluster with its articles. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "http.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define FEED_LIMIT_DEFAULT	100
#define FEED_LIMIT_MAX		1000
#define MEMBERS_MAX		1000

/* A query parameter as a whole number; absent gives def. 0 or -EINVAL. */
static int
query_u64(const struct request *r, const char *name, uint64_t def, uint64_t *out)
{
	const char	*v = evhttp_find_header(&r->query, name);
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

struct feed_page {
	const struct store	*store;
	json_t			*clusters;
	uint64_t		 min_size, limit, count, last_seq;
};

static int
on_feed_story(const struct story *st, void *arg)
{
	struct feed_page	*pg = arg;

	pg->last_seq = st->updated_seq;
	if (!st->removed && st->size < pg->min_size)
		return 0;
	json_array_append_new(pg->clusters, api_story_json(pg->store, st));
	return ++pg->count >= pg->limit;
}

/* An ETag names the state of the whole feed: any change takes a new sequence number. */
static int
etag_matches(struct evhttp_request *req, const char *etag)
{
	const char	*inm;

	inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

int
handle_clusters_get(struct server *srv, struct request *r, json_t **body)
{
	struct clusterer	*c = store_clusterer(srv->srv_store);
	struct feed_page	 pg = { .store = srv->srv_store };
	uint64_t		 since;
	char			 etag[32], next[24];

	if (query_u64(r, "since", 0, &since) != 0)
		return http_error(body, 400, "bad_parameter", "since must be a cursor from \"next\"");
	if (query_u64(r, "limit", FEED_LIMIT_DEFAULT, &pg.limit) != 0 || pg.limit == 0)
		return http_error(body, 400, "bad_parameter", "limit must be a whole number from 1");
	if (query_u64(r, "min_size", 1, &pg.min_size) != 0)
		return http_error(body, 400, "bad_parameter", "min_size must be a whole number");
	if (pg.limit > FEED_LIMIT_MAX)
		pg.limit = FEED_LIMIT_MAX;

	snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", cluster_seq(c));
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", etag);
	if (etag_matches(r->req, etag))
		return 304;

	pg.clusters = json_array();
	pg.last_seq = since;
	cluster_feed(c, since, on_feed_story, &pg);
	if (pg.count < pg.limit && cluster_seq(c) > since)
		pg.last_seq = cluster_seq(c);
	snprintf(next, sizeof(next), "%" PRIu64, pg.last_seq);
	*body = json_pack("{s:o,s:s}", "clusters", pg.clusters, "next", next);
	return 200;
}

int
handle_cluster_get(struct server *srv, struct request *r, json_t **body)
{
	struct clusterer	*c = store_clusterer(srv->srv_store);
	uint32_t		*members;
	struct story		 st;
	uint32_t		 id;
	json_t			*articles;
	size_t			 n, want;

	if (api_story_id_parse(r->tail, r->tail_len, &id) != 0 || cluster_story_get(c, id, &st) != 0)
		return http_error(body, 404, "not_found", "no cluster with that id");
	*body = api_story_json(srv->srv_store, &st);
	articles = json_array();
	n = st.size < MEMBERS_MAX ? st.size : MEMBERS_MAX;
	members = xreallocarray(NULL, n + 1, sizeof(*members));
	want = n;
	n = cluster_story_members(c, id, members, want);
	if (n > want)
		n = want;
	for (size_t i = 0; i < n; i++) {
		const struct article	*a = store_at(srv->srv_store, members[i]);
		uint32_t		 dup = cluster_duplicate_of(c, members[i]);
		const struct article	*root = dup != CLUSTER_NONE ? store_at(srv->srv_store, dup) : NULL;

		if (a == NULL)
			continue;
		json_array_append_new(articles, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}",
		    "id", a->id, "title", a->title, "source", a->source,
		    "published_at", api_time_json(a->published),
		    "duplicate_of", root != NULL ? json_string(root->id) : json_null(),
		    "similarity", api_similarity_json(cluster_similarity(c, members[i],
		    st.representative))));
	}
	free(members);
	json_object_set_new(*body, "articles", articles);
	return 200;
}
