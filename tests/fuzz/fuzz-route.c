/*
 * fuzz-route: a request line's target as the dispatcher reads it. libevent
 * parses the URI as evhttp does for a request (evhttp_uri_parse_with_flags,
 * no flags); then http_route_find() picks the route, the query string goes
 * through evhttp_parse_query_str() and a prefix route's tail through
 * evhttp_uridecode(), as dispatch() does; then the parameters the handlers
 * read: the feed's since, limit and min_size (request_query_u64()), a
 * cluster id (api_story_id_parse()).
 *
 * Input: one byte choosing the method, then the target ("/v1/clusters?since=3").
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "fuzz.h"
#include "http.h"
#include "request.h"

static const unsigned	methods[] = {
	EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_HEAD, EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE,
	EVHTTP_REQ_OPTIONS, EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH,
};

static void
feed_params(const struct evkeyvalq *q)
{
	uint64_t	v;

	request_query_u64(q, "since", 0, &v);
	request_query_u64(q, "limit", 100, &v);
	request_query_u64(q, "min_size", 1, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evhttp_uri	*uri;
	struct evkeyvalq	 q;
	const char		*path, *query, *tail = "";
	char			*s, *dec;
	route_fn		*fn;
	unsigned		 method, allowed;
	size_t			 n;
	uint32_t		 id;

	if (size < 1)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	if ((s = malloc(size)) == NULL)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	/* the same parsers on the raw bytes, whatever libevent makes of the URI */
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(s, &q) == 0)
		feed_params(&q);
	evhttp_clear_headers(&q);
	free(evhttp_uridecode(s, 0, &n));
	api_story_id_parse((const char *)data + 1, size - 1, &id);

	if ((uri = evhttp_uri_parse_with_flags(s, 0)) == NULL)
		goto done;
	path = evhttp_uri_get_path(uri);
	if (path == NULL || *path == '\0')
		path = "/";
	fn = http_route_find(path, method, &allowed, &tail);
	assert(fn == NULL || (allowed & method));
	if (fn == NULL)
		goto done_uri;
	assert(tail >= path && tail <= path + strlen(path));
	TAILQ_INIT(&q);
	query = evhttp_uri_get_query(uri);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0)
		goto done_query;
	dec = NULL;
	n = 0;
	if (*tail != '\0' && (dec = evhttp_uridecode(tail, 0, &n)) == NULL)
		goto done_query;
	if (fn == handle_clusters_get)
		feed_params(&q);
	if (fn == handle_cluster_get) {
		assert(dec != NULL);
		if (api_story_id_parse(dec, n, &id) == 0)
			assert(id != 0 && id != UINT32_MAX);
	}
	free(dec);
done_query:
	evhttp_clear_headers(&q);
done_uri:
	evhttp_uri_free(uri);
done:
	free(s);
	return 0;
}
