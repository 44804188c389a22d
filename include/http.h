/*
 * http: routes, the dispatcher and replies. A handler returns the HTTP status
 * and may set *body; the dispatcher sends it as JSON and frees it, so headers,
 * limits and errors live in one place. Handlers are in articles.c and
 * clusters.c; health checks here.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

struct server;

struct request {
	struct evhttp_request	*req;
	char			*tail;		/* the percent-decoded path after a prefix route */
	size_t			 tail_len;
	struct evkeyvalq	 query;
	int64_t			 now;		/* seconds since the epoch, when the request arrived */
};

typedef int	route_fn(struct server *, struct request *, json_t **body);

/* Install the dispatcher on srv->srv_http, and the group-commit event. */
void	http_setup(struct server *srv);
void	http_teardown(struct server *srv);

/*
 * Group commit. A reply whose request left log records pending is held; at
 * the end of the loop turn one flush (and fsync under fsync=always) covers
 * them all, then they are sent. http_commit_now() does it at once (shutdown).
 */
void	http_commit_now(struct server *srv);

/* The log cannot be written: refuse writes from now on and say so once. */
void	http_store_failed(struct server *srv, int err);

/* Set *body to an API error and return status. */
int	http_error(json_t **body, int status, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/*
 * Parse the request body as JSON: 0 with *doc set (caller decrefs), or the
 * error status with *body set (415 not JSON, 413 too large, 400 malformed,
 * 422 invalid UTF-8).
 */
int	http_read_json(struct server *, struct request *, json_t **doc, json_t **body);

route_fn	handle_articles_post, handle_article_put, handle_article_get,
		handle_article_delete, handle_similar_post;
route_fn	handle_clusters_get, handle_cluster_get;
