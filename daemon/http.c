/* http: the route table, the one dispatcher, JSON bodies in and out. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "http.h"
#include "log.h"
#include "server.h"

#define ANY_GET	(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static route_fn	handle_healthz, handle_readyz;

/* A path ending in '/' is a prefix: what follows is the resource id, decoded. */
struct route {
	unsigned	 methods;
	const char	*path;
	route_fn	*fn;
};

static const struct route routes[] = {
	{ EVHTTP_REQ_POST,	"/v1/articles",		handle_articles_post },
	{ EVHTTP_REQ_PUT,	"/v1/articles/",	handle_article_put },
	{ ANY_GET,		"/v1/articles/",	handle_article_get },
	{ EVHTTP_REQ_DELETE,	"/v1/articles/",	handle_article_delete },
	{ EVHTTP_REQ_POST,	"/v1/similar",		handle_similar_post },
	{ ANY_GET,		"/v1/clusters",		handle_clusters_get },
	{ ANY_GET,		"/v1/clusters/",	handle_cluster_get },
	{ ANY_GET,		"/healthz",		handle_healthz },
	{ ANY_GET,		"/readyz",		handle_readyz },
};

static const struct {
	unsigned	 method;
	const char	*name;
} method_names[] = {
	{ EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_HEAD, "HEAD" }, { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" }, { EVHTTP_REQ_DELETE, "DELETE" },
};

int
http_error(json_t **body, int status, const char *code, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*body = api_error_json(code, msg);
	return status;
}

static int
handle_healthz(struct server *srv, struct request *r, json_t **body)
{
	(void)srv;
	(void)r;
	*body = json_pack("{s:s}", "status", "ok");
	return 200;
}

static int
handle_readyz(struct server *srv, struct request *r, json_t **body)
{
	(void)r;
	if (!srv->srv_ready)
		return http_error(body, 503, "not_ready", "recovering from disk");
	*body = json_pack("{s:s}", "status", "ready");
	return 200;
}

/* "application/json", any case, alone or with parameters such as charset. */
static int
is_json_type(const char *ct)
{
	size_t	n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

int
http_read_json(struct server *srv, struct request *r, json_t **doc, json_t **body)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(r->req);
	const char		*ct;
	json_error_t		 err;
	size_t			 len = evbuffer_get_length(in);
	unsigned char		*p;

	ct = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	if (!is_json_type(ct))
		return http_error(body, 415, "unsupported_media_type",
		    "send the body as Content-Type: application/json");
	if (len > srv->srv_params.max_request_bytes)
		return http_error(body, 413, "too_large", "the body is %zu bytes, more than the %zu allowed",
		    len, srv->srv_params.max_request_bytes);
	if ((p = evbuffer_pullup(in, -1)) == NULL && len > 0)
		return http_error(body, 500, "internal", "out of memory reading the body");
	*doc = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (*doc != NULL)
		return 0;
	if (json_error_code(&err) == json_error_invalid_utf8)
		return http_error(body, 422, "invalid_utf8", "the body is not valid UTF-8 (byte %d)",
		    err.position);
	return http_error(body, 400, "malformed_json", "not valid JSON: %s at line %d, column %d",
	    err.text, err.line, err.column);
}

static int
write_json(const char *buf, size_t size, void *arg)
{
	return evbuffer_add(arg, buf, size);
}

static void
allow_header(struct evhttp_request *req, unsigned methods)
{
	char	allow[64] = "";

	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (!(methods & method_names[i].method))
			continue;
		if (allow[0] != '\0')
			strcat(allow, ", ");
		strcat(allow, method_names[i].name);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

static void
send_reply(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);

	if (body != NULL && status != 204 && status != 304) {
		evhttp_add_header(h, "Content-Type", "application/json");
		/* similarities are estimates: three significant digits say all they know */
		json_dump_callback(body, write_json, out, JSON_COMPACT | JSON_REAL_PRECISION(3));
		evbuffer_add(out, "\n", 1);
	}
	evhttp_send_reply(req, status, NULL, out);
}

/* The route for path and method; *allowed collects the methods the path has. */
static const struct route *
route_find(const char *path, unsigned method, unsigned *allowed, const char **tail)
{
	const struct route	*found = NULL;

	*allowed = 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route	*rt = &routes[i];
		size_t			 n = strlen(rt->path);

		if (rt->path[n - 1] == '/') {
			if (strncmp(path, rt->path, n) != 0 || path[n] == '\0')
				continue;
		} else if (strcmp(path, rt->path) != 0)
			continue;
		*allowed |= rt->methods;
		if ((rt->methods & method) && found == NULL) {
			found = rt;
			*tail = path + strlen(rt->path);
		}
	}
	return found;
}

static int
dispatch(struct server *srv, struct request *r, json_t **body)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(r->req);
	const char		*path = evhttp_uri_get_path(uri), *query, *tail = "";
	const struct route	*rt;
	unsigned		 allowed;
	unsigned		 method = evhttp_request_get_command(r->req);

	if (path == NULL || *path == '\0')
		path = "/";
	if ((rt = route_find(path, method, &allowed, &tail)) == NULL) {
		if (allowed == 0)
			return http_error(body, 404, "not_found", "no such resource: %s", path);
		allow_header(r->req, allowed);
		return http_error(body, 405, "method_not_allowed", "%s does not take this method",
		    path);
	}
	query = evhttp_uri_get_query(uri);
	if (query != NULL && evhttp_parse_query_str(query, &r->query) != 0)
		return http_error(body, 400, "bad_parameter", "the query string is malformed");
	if (*tail != '\0' && (r->tail = evhttp_uridecode(tail, 0, &r->tail_len)) == NULL)
		return http_error(body, 400, "bad_parameter", "the path is malformed");
	return rt->fn(srv, r, body);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct server	*srv = arg;
	struct request	 r;
	json_t		*body = NULL;
	int		 status;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.now = (int64_t)time(NULL);
	TAILQ_INIT(&r.query);
	status = dispatch(srv, &r, &body);
	send_reply(req, status, body);
	json_decref(body);
	evhttp_clear_headers(&r.query);
	free(r.tail);
}

void
http_setup(struct server *srv)
{
	struct evhttp	*http = srv->srv_http;

	/* every method reaches the dispatcher, so a wrong one gets a JSON 405 */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	/* a declared body over the limit gets libevent's own 413 before it is read */
	evhttp_set_max_body_size(http, (ev_ssize_t)srv->srv_params.max_request_bytes);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_timeout(http, (int)srv->srv_params.request_timeout);
	evhttp_set_gencb(http, on_request, srv);
}
