/* http: the route table, the one dispatcher, JSON bodies in and out. */
#include <assert.h>
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
#include "auth.h"
#include "decode.h"
#include "fingerprint.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "request.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define ANY_GET	(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static route_fn	handle_healthz, handle_readyz;

enum {
	ROUTE_STORE = 1 << 0,	/* needs the recovered store: 503 before */
	ROUTE_WRITE = 1 << 1,	/* changes it: 503 once the log cannot be written */
	ROUTE_OPEN = 1 << 2,	/* never needs the token: probes must keep working */
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
	{ ANY_GET,		"/healthz",		handle_healthz,		ROUTE_OPEN },
	{ ANY_GET,		"/readyz",		handle_readyz,		ROUTE_OPEN },
	{ ANY_GET,		"/metrics",		handle_metrics_get,	0 },
	{ ANY_GET,		"/v1/stats",		handle_stats_get,	0 },
	{ ANY_GET,		"/",			handle_dashboard_get,	ROUTE_OPEN },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))
_Static_assert(NROUTES <= HTTP_ENDPOINT_NONE, "the metrics have a slot per route");

/* The routes as metrics labels: "/v1/articles/{id}" for a prefix. */
static char	route_patterns[NROUTES][48];

/* A reply waiting for the log flush of its loop turn. */
struct held_reply {
	TAILQ_ENTRY(held_reply)	 entry;
	struct evhttp_request	*req;
	int			 status;
	struct http_origin	 origin;
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
http_read_body(struct server *srv, struct request *r, const void **buf, size_t *len,
    json_t **body)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(r->req);
	const char	*ct;
	unsigned char	*p;

	*len = evbuffer_get_length(in);
	ct = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	if (!is_json_type(ct))
		return http_error(body, 415, "unsupported_media_type",
		    "send the body as Content-Type: application/json");
	if (*len > srv->srv_params.max_request_bytes)
		return http_error(body, 413, "too_large", "the body is %zu bytes, more than the %zu allowed",
		    *len, srv->srv_params.max_request_bytes);
	if ((p = evbuffer_pullup(in, -1)) == NULL && *len > 0)
		return http_error(body, 500, "internal", "out of memory reading the body");
	*buf = p;
	return 0;
}

int
http_read_json(struct server *srv, struct request *r, json_t **doc, json_t **body)
{
	struct api_error	 err;
	const void		*p;
	size_t			 len;
	int			 status;

	if ((status = http_read_body(srv, r, &p, &len, body)) != 0)
		return status;
	if (request_json_load(p, len, srv->srv_params.max_json_depth, doc, &err) != 0)
		return http_error(body, err.status, err.code, "%s", err.message);
	return 0;
}

static int
write_json(const char *buf, size_t size, void *arg)
{
	return evbuffer_add(arg, buf, size);
}

void
http_write_json(struct evbuffer *out, const json_t *body)
{
	/* similarities are estimates: three significant digits say all they know */
	json_dump_callback(body, write_json, out, JSON_COMPACT | JSON_REAL_PRECISION(3));
}

struct evbuffer *
http_reply_buffer(struct request *r)
{
	r->direct = 1;
	return evhttp_request_get_output_buffer(r->req);
}

void
http_reply_buffer_unused(struct request *r)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(r->req);

	assert(evbuffer_get_length(out) == 0);
	r->direct = 0;
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
		http_write_json(out, body);
		evbuffer_add(out, "\n", 1);
	}
}

static const char *
method_name(unsigned method)
{
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (method & method_names[i].method)
			return method_names[i].name;
	return "OTHER";
}

/* The access log: one line per reply sent, or a sample of them (server.access_log). */
static void
access_log(struct server *srv, struct evhttp_request *req, int status, size_t bytes, double secs)
{
	struct evhttp_connection	*conn = evhttp_request_get_connection(req);
	const char			*uri = evhttp_request_get_uri(req);
	char				*peer = NULL, path[256];
	ev_uint16_t			 port = 0;
	size_t				 i;

	srv->srv_access_acc += srv->srv_params.access_log;
	if (srv->srv_access_acc < 1.0)
		return;
	srv->srv_access_acc -= 1.0;
	/* the request line as received, its control and non-ASCII bytes made harmless */
	for (i = 0; uri != NULL && uri[i] != '\0' && i < sizeof(path) - 1; i++)
		path[i] = uri[i] > 0x20 && uri[i] < 0x7f ? uri[i] : '?';
	path[i] = '\0';
	if (conn != NULL)
		evhttp_connection_get_peer(conn, &peer, &port);
	log_info("http: %s:%u %s %s %d %zu %.3fms", peer != NULL ? peer : "-", (unsigned)port,
	    method_name(evhttp_request_get_command(req)), path, status, bytes, secs * 1000.0);
}

/* Every reply leaves through here: the metrics and the access log see it as sent. */
static void
send_reply(struct server *srv, struct evhttp_request *req, int status,
    const struct http_origin *o)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	struct timespec	 now;
	double		 secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - o->start.tv_sec) + (double)(now.tv_nsec - o->start.tv_nsec) / 1e9;
	metrics_request(srv->srv_metrics, o->endpoint, status, secs);
	if (srv->srv_params.access_log > 0)
		access_log(srv, req, status, evbuffer_get_length(out), secs);
	evhttp_send_reply(req, status, NULL, out);
}

/* The replies of a failed flush: what they announced was not written. */
static void
send_failed(struct server *srv, struct evhttp_request *req, const struct http_origin *o)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	json_t		*body = api_error_json("store_failed",
			    "the article could not be written to the log; it is not stored");

	evbuffer_drain(out, evbuffer_get_length(out));
	evhttp_remove_header(evhttp_request_get_output_headers(req), "Content-Type");
	render_reply(req, 503, body);
	json_decref(body);
	send_reply(srv, req, 503, o);
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

	articles_turn(srv);
	if (TAILQ_EMPTY(&srv->srv_held))
		return;
	if (srv->srv_failed || (r = store_flush(srv->srv_store)) != 0)
		http_store_failed(srv, r != 0 ? r : -EIO);
	while ((h = TAILQ_FIRST(&srv->srv_held)) != NULL) {
		TAILQ_REMOVE(&srv->srv_held, h, entry);
		if (srv->srv_failed)
			send_failed(srv, h->req, &h->origin);
		else
			send_reply(srv, h->req, h->status, &h->origin);
		free(h);
	}
	/* the turn's changes are in the log: long polls may see them now */
	if (!srv->srv_failed)
		clusters_wake(srv);
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_commit_now(arg);
	/* the end of a turn, not the flush at shutdown: no rotation then */
	server_snapshot_retry(arg);
}

static void
hold_reply(struct server *srv, struct evhttp_request *req, int status,
    const struct http_origin *o)
{
	struct held_reply	*h = xcalloc(1, sizeof(*h));

	h->req = req;
	h->status = status;
	h->origin = *o;
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

		if (n > 1 && rt->path[n - 1] == '/') {
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

route_fn *
http_route_find(const char *path, unsigned method, unsigned *allowed, const char **tail)
{
	const struct route	*rt = route_find(path, method, allowed, tail);

	return rt != NULL ? rt->fn : NULL;
}

/* Writes need the token when one is set; reads too with auth_reads. */
static int
authorized(struct server *srv, struct evhttp_request *req, unsigned flags)
{
	const char	*h;

	if (srv->srv_auth == NULL || (flags & ROUTE_OPEN) ||
	    (!(flags & ROUTE_WRITE) && !srv->srv_params.auth_reads))
		return 1;
	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	return auth_check(srv->srv_auth, h);
}

static int
unauthorized(struct evhttp_request *req, json_t **body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
	    "Bearer realm=\"storyd\"");
	return http_error(body, 401, "unauthorized",
	    "send the configured token as Authorization: Bearer TOKEN");
}

/* Too many connections: answer at once and close, rather than queue. */
static int
overloaded(struct evhttp_request *req, json_t **body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Retry-After", "1");
	evhttp_add_header(h, "Connection", "close");
	return http_error(body, 503, "overloaded", "too many connections; retry in a second");
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
	if (server_conn_track(srv, evhttp_request_get_connection(r->req)) >
	    srv->srv_params.max_connections)
		return overloaded(r->req, body);
	if ((rt = route_find(path, method, &allowed, &tail)) == NULL) {
		if (allowed == 0)
			return http_error(body, 404, "not_found", "no such resource: %s", path);
		allow_header(r->req, allowed);
		return http_error(body, 405, "method_not_allowed", "%s does not take this method",
		    path);
	}
	r->origin.endpoint = (unsigned)(rt - routes);
	if (!authorized(srv, r->req, rt->flags))
		return unauthorized(r->req, body);
	if ((rt->flags & ROUTE_STORE) && srv->srv_store == NULL)
		return http_error(body, 503, "not_ready", "storyd is recovering from disk; try again");
	if ((rt->flags & ROUTE_WRITE) && srv->srv_failed)
		return http_writes_refused(body);
	query = evhttp_uri_get_query(uri);
	if (query != NULL && evhttp_parse_query_str(query, &r->query) != 0)
		return http_error(body, 400, "bad_parameter", "the query string is malformed");
	if (*tail != '\0' && (r->tail = evhttp_uridecode(tail, 0, &r->tail_len)) == NULL)
		return http_error(body, 400, "bad_parameter", "the path is malformed");
	return rt->fn(srv, r, body);
}

int
http_writes_refused(json_t **body)
{
	return http_error(body, 503, "store_failed",
	    "the log cannot be written; writes are refused until storyd is restarted");
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
	r.origin.endpoint = HTTP_ENDPOINT_NONE;
	clock_gettime(CLOCK_MONOTONIC, &r.origin.start);
	TAILQ_INIT(&r.query);
	if ((status = dispatch(srv, &r, &body)) != HTTP_LATER)
		http_answer(srv, &r, status, body);
	json_decref(body);
	evhttp_clear_headers(&r.query);
	free(r.tail);
}

void
http_answer(struct server *srv, struct request *r, int status, json_t *body)
{
	if (r->direct) {
		/* the handler wrote its JSON itself (http_reply_buffer) */
		assert(body == NULL);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
		    "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(r->req), "\n", 1);
	}
	http_reply_later(srv, r->req, &r->origin, status, body);
}

void
http_reply_later(struct server *srv, struct evhttp_request *req, const struct http_origin *o,
    int status, json_t *body)
{
	render_reply(req, status, body);
	/* anything waiting in the log, this request's or an earlier one's, goes first */
	if (srv->srv_store != NULL && (store_pending(srv->srv_store) > 0 ||
	    !TAILQ_EMPTY(&srv->srv_held)))
		hold_reply(srv, req, status, o);
	else
		send_reply(srv, req, status, o);
}

int
http_etag(struct request *r, const char *etag)
{
	const char	*inm;

	evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", etag);
	inm = evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-None-Match");
	/* a list of quoted tags, each perhaps weak (W/"..."): the quotes delimit ours */
	return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
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
	evhttp_set_max_headers_size(http, (ev_ssize_t)srv->srv_params.max_header_bytes);
	evhttp_set_timeout(http, (int)srv->srv_params.request_timeout);
	evhttp_set_gencb(http, on_request, srv);
	/*
	 * Made active by a turn's first held reply, it joins the end of the
	 * callbacks that turn's poll made active, so it runs after every
	 * request the turn read. At a lower priority it would wait for a turn
	 * that read nothing: under a steady load, never (README "Durability").
	 */
	srv->srv_commit = event_new(srv->srv_base, -1, 0, on_commit, srv);
	if ((srv->srv_decoder = decoder_new(srv->srv_base)) == NULL)
		log_warnx("http: cannot start the decode thread; large bodies are parsed on the loop");
	else
		srv->srv_decode_fp = fingerprinter_new(&srv->srv_params.store.cluster);
	srv->srv_metrics = metrics_new();
	for (size_t i = 0; i < NROUTES; i++) {
		size_t n = strlen(routes[i].path);

		snprintf(route_patterns[i], sizeof(route_patterns[i]), "%s%s", routes[i].path,
		    n > 1 && routes[i].path[n - 1] == '/' ? "{id}" : "");
		metrics_endpoint(srv->srv_metrics, (unsigned)i, method_name(routes[i].methods),
		    route_patterns[i]);
	}
	metrics_endpoint(srv->srv_metrics, HTTP_ENDPOINT_NONE, "any", "unmatched");
	metrics_endpoint(srv->srv_metrics, HTTP_ENDPOINT_WAIT, "GET", "/v1/clusters?wait");
	clusters_setup(srv);
}

void
http_teardown(struct server *srv)
{
	struct held_reply	*h;

	while ((h = TAILQ_FIRST(&srv->srv_held)) != NULL) {
		TAILQ_REMOVE(&srv->srv_held, h, entry);
		free(h);
	}
	articles_turn_free(srv);
	/* the decode thread's, stopped by now (server_close()) */
	fingerprinter_free(srv->srv_decode_fp);
	srv->srv_decode_fp = NULL;
	if (srv->srv_commit != NULL)
		event_free(srv->srv_commit);
	clusters_teardown(srv);
	metrics_free(srv->srv_metrics);
	srv->srv_metrics = NULL;
}
