/*
 * http: routes, the dispatcher and replies. A handler returns the HTTP status
 * and may set *body; the dispatcher sends it as JSON and frees it, so headers,
 * limits, metrics and the access log live in one place. Handlers are in
 * articles.c, clusters.c, metrics.c and dashboard.c; health checks here.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

struct server;

/*
 * Where a request came in, kept until its reply is sent, however late: the
 * metrics and the access log are written there. endpoint is the index of
 * the route in the table, or one of the pseudo-endpoints.
 */
enum {
	HTTP_ENDPOINT_NONE = 30,	/* no route matched: 404, 405, refused early */
	HTTP_ENDPOINT_WAIT = 31,	/* GET /v1/clusters?wait= that waited */
};
struct http_origin {
	unsigned	 endpoint;
	struct timespec	 start;		/* CLOCK_MONOTONIC at arrival */
};

struct request {
	struct evhttp_request	*req;
	char			*tail;		/* the percent-decoded path after a prefix route */
	size_t			 tail_len;
	struct evkeyvalq	 query;
	int64_t			 now;		/* seconds since the epoch, when the request arrived */
	struct http_origin	 origin;
	int			 direct;	/* the handler writes the body: http_reply_buffer() */
};

/*
 * A handler's status that means "not now": the handler keeps the request and
 * answers it later, once, with http_reply_later() (long polling).
 */
#define HTTP_LATER	0

typedef int	route_fn(struct server *, struct request *, json_t **body);

/*
 * The dispatcher's route lookup, pure (the fuzzer calls it): the handler for
 * path and method, or NULL, and then *allowed holds the methods the path
 * takes (0: no such path). *tail points into path, past a prefix route's '/'.
 */
route_fn	*http_route_find(const char *path, unsigned method, unsigned *allowed,
		    const char **tail);

/* Install the dispatcher on srv->srv_http, and the group-commit event. */
void	http_setup(struct server *srv);
void	http_teardown(struct server *srv);

/*
 * Group commit. A reply whose request left log records pending is held; at
 * the end of the loop turn one flush (and fsync under fsync=always) covers
 * them all, then they are sent. http_commit_now() does it at once (shutdown).
 */
void	http_commit_now(struct server *srv);

/*
 * Answer a request a handler kept (HTTP_LATER), as the dispatcher would have:
 * held for the next commit if log records are pending, else sent now. body
 * is borrowed.
 */
void	http_reply_later(struct server *, struct evhttp_request *, const struct http_origin *,
	    int status, json_t *body);

/* Set an ETag on the reply; 1 when the request's If-None-Match names it (answer 304). */
int	http_etag(struct request *, const char *etag);

/* The log cannot be written: refuse writes from now on and say so once. */
void	http_store_failed(struct server *srv, int err);

/*
 * A handler that writes its JSON reply itself, straight into the request's
 * output buffer (the ingest replies: no tree built, dumped and freed per
 * article), takes it here and leaves *body NULL; the dispatcher adds the
 * Content-Type and the closing newline. One that took it and then answers
 * with an error *body instead, having written nothing, says so with
 * http_reply_buffer_unused().
 */
struct evbuffer	*http_reply_buffer(struct request *);
void		 http_reply_buffer_unused(struct request *);

/* Dump body into out as every reply is dumped: compact, similarities to three digits. */
void	http_write_json(struct evbuffer *out, const json_t *body);

/* Set *body to an API error and return status. */
int	http_error(json_t **body, int status, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* The 503 every write gets once the log cannot be written (srv_failed). */
int	http_writes_refused(json_t **body);

/*
 * Parse the request body as JSON: 0 with *doc set (caller decrefs), or the
 * error status with *body set (415 not JSON, 413 too large, 400 malformed,
 * 422 invalid UTF-8).
 */
int	http_read_json(struct server *, struct request *, json_t **doc, json_t **body);

/*
 * The body's bytes, as http_read_json() would parse them, contiguous and
 * valid until the request is answered: 0, or the status with *body set.
 */
int	http_read_body(struct server *, struct request *, const void **buf, size_t *len,
	    json_t **body);

/*
 * Answer r with what its handler returned (not HTTP_LATER), as the
 * dispatcher does: for a handler that kept r and finished it later.
 */
void	http_answer(struct server *, struct request *r, int status, json_t *body);

route_fn	handle_articles_post, handle_article_put, handle_article_get,
		handle_article_delete, handle_similar_post;

/*
 * Store the single posts the turn's handlers kept, as one batch, and hold
 * their replies for the flush that follows (http_commit_now() calls it
 * first). articles_turn_free(): drop any left (teardown).
 */
void	articles_turn(struct server *);
void	articles_turn_free(struct server *);
route_fn	handle_clusters_get, handle_cluster_get, handle_dashboard_get;

/*
 * Long polls of the cluster feed (clusters.c). clusters_wake() answers those
 * a change concerns; call it on the loop once the change is committed, never
 * from a handler. clusters_stop() answers every one now and parks no more
 * (shutdown). clusters_conn_closed(): a client went away.
 */
void	clusters_setup(struct server *);
void	clusters_teardown(struct server *);
void	clusters_wake(struct server *);
void	clusters_stop(struct server *);
void	clusters_conn_closed(struct server *, struct evhttp_connection *);
size_t	clusters_waiting(const struct server *);
