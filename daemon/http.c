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
#include <event2/event.h>
#include <event2/http.h>

#include "http.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define ANY_GET	(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static route_fn	handle_healthz, handle_readyz;

enum {
	ROUTE_STORE = 1 << 0,	/* needs the recovered store: 503 before */
	ROUTE_WRITE = 1 << 1,	/* changes it: 503 once the log cannot be written */
};

/* A path ending in '/' is a prefix: what follows is the resource id, decoded. */
struct route {
	unsigned	 methods;
	const char	*path;
	route_fn	*fn;
	unsigned	 flags;
};

#define STORE	ROUTE_STORE
#define WRITE	(ROUTE_STORE | ROUTE_WRITE)

static const struct route routes[] = {
	{ EVHTTP_REQ_POST,	"/v1/articles",		handle_articles_post,	WRITE },
	{ EVHTTP_REQ_PUT,	"/v1/articles/",	handle_article_put,	WRITE },
	{ ANY_GET,		"/v1/articles/",	handle_article_get,	STORE },
	{ EVHTTP_REQ_DELETE,	"/v1/articles/",	handle_article_delete,	WRITE },
	{ EVHTTP_REQ_POST,	"/v1/similar",		handle_similar_post,	STORE },
	{ ANY_GET,		"/v1/clusters",		handle_clusters_get,	STORE },
	{ ANY_GET,		"/v1/clusters/",	handle_cluster_get,	STORE },
	{ ANY_GET,		"/healthz",		handle_healthz,		0 },
	{ ANY_GET,		"/readyz",		handle_readyz,		0 },
};

/* A reply waiting for the log flush of its loop turn. */
struct held_reply {
	TAILQ_ENTRY(held_reply)	 entry;
	struct evhttp_request	*req;
	int			 status;
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
	if (srv->srv_failed)
		return http_error(body, 503, "store_failed", "the log cannot be written; see the log");
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

/* Put the body in the request's output buffer; it goes out with the status later or now. */
static void
render_reply(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(req);

	if (body != NULL && status != 204 && status != 304) {
		evhttp_add_header(h, "Content-Type", "application/json");
		/* similarities are estimates: three significant digits say all they know */
		json_dump_callback(body, write_json, out, JSON_COMPACT | JSON_REAL_PRECISION(3));
		evbuffer_add(out, "\n", 1);
	}
}

static void
send_reply(struct evhttp_request *req, int status)
{
	evhttp_send_reply(req, status, NULL, evhttp_request_get_output_buffer(req));
}

/* The replies of a failed flush: what they announced was not written. */
static void
send_failed(struct evhttp_request *req)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	json_t		*body = api_error_json("store_failed",
			    "the article could not be written to the log; it is not stored");

	evbuffer_drain(out, evbuffer_get_length(out));
	evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Type");
	render_reply(req, 503, body);
	json_decref(body);
	send_reply(req, 503);
}

void
http_store_failed(struct server *srv, int err)
{
	if (srv->srv_failed)
		return;
	srv->srv_failed = 1;
	log_warnx("store: cannot write the log: %s; refusing writes until storyd is restarted",
	    strerror(-err));
	notify("STATUS=failed: cannot write the log: %s", strerror(-err));
}

void
http_commit_now(struct server *srv)
{
	struct held_reply	*h;
	int			 r = 0;

	if (TAILQ_EMPTY(&srv->srv_held))
		return;
	if (srv->srv_failed || (r = store_flush(srv->srv_store)) != 0)
		http_store_failed(srv, r != 0 ? r : -EIO);
	while ((h = TAILQ_FIRST(&srv->srv_held)) != NULL) {
		TAILQ_REMOVE(&srv->srv_held, h, entry);
		if (srv->srv_failed)
			send_failed(h->req);
		else
			send_reply(h->req, h->status);
		free(h);
	}
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_commit_now(arg);
}

static void
hold_reply(struct server *srv, struct evhttp_request *req, int status)
{
	struct held_reply	*h = xcalloc(1, sizeof(*h));

	h->req = req;
	h->status = status;
	if (TAILQ_EMPTY(&srv->srv_held))
		event_active(srv->srv_commit, EV_TIMEOUT, 0);
	TAILQ_INSERT_TAIL(&srv->srv_held, h, entry);
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
	if ((rt->flags & ROUTE_STORE) && srv->srv_store == NULL)
		return http_error(body, 503, "not_ready", "storyd is recovering from disk; try again");
	if ((rt->flags & ROUTE_WRITE) && srv->srv_failed)
		return http_error(body, 503, "store_failed",
		    "the log cannot be written; writes are refused until storyd is restarted");
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
	render_reply(req, status, body);
	json_decref(body);
	/* anything waiting in the log, this request's or an earlier one's, goes first */
	if (srv->srv_store != NULL && (store_pending(srv->srv_store) > 0 ||
	    !TAILQ_EMPTY(&srv->srv_held)))
		hold_reply(srv, req, status);
	else
		send_reply(req, status);
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
	/* the lowest priority: it runs after every request callback of the turn */
	srv->srv_commit = event_new(srv->srv_base, -1, 0, on_commit, srv);
	event_priority_set(srv->srv_commit, 2);
}

void
http_teardown(struct server *srv)
{
	struct held_reply	*h;

	while ((h = TAILQ_FIRST(&srv->srv_held)) != NULL) {
		TAILQ_REMOVE(&srv->srv_held, h, entry);
		free(h);
	}
	if (srv->srv_commit != NULL)
		event_free(srv->srv_commit);
}
