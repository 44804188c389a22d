/* clusters: the story cluster feed, its long polls, and one cluster with its articles. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "api.h"
#include "http.h"
#include "request.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define FEED_LIMIT_DEFAULT	100
#define FEED_LIMIT_MAX		1000
#define MEMBERS_MAX		1000
#define WAIT_MAX		60	/* seconds a long poll may ask for (API: up to 60) */

/* A query parameter as a whole number; absent gives def. 0 or -EINVAL. */
static int
query_u64(const struct request *r, const char *name, uint64_t def, uint64_t *out)
{
	return request_query_u64(&r->query, name, def, out);
}

/*
 * What a feed request asks, kept while it waits. The cursor is a position in
 * the feed (a sequence number), and with it the base: how far the poller's
 * knowledge of removals is complete. A poller that started from the
 * beginning never held the clusters whose tombstones were dropped before it
 * started, so base is the horizon it started under; otherwise base is the
 * position. Tombstones dropped after base (cluster_feed_horizon() > base) are
 * removals the poller may have missed: the reply says "reset" and lists from
 * the beginning. The cursor reads "P", or "P-B" while B is above P.
 */
struct feed_query {
	uint64_t	since, base;
	uint64_t	limit, min_size;
};

static int
cursor_parse(const char *v, uint64_t *pos, uint64_t *base)
{
	char	*end;

	*pos = *base = 0;
	if (v == NULL)
		return 0;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	*pos = strtoull(v, &end, 10);
	if (errno == 0 && *end == '-' && end[1] >= '0' && end[1] <= '9')
		*base = strtoull(end + 1, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* A cursor from the future (another data directory, a lost log tail) or behind the horizon. */
static int
feed_needs_reset(const struct clusterer *c, const struct feed_query *q)
{
	return q->since > cluster_seq(c) ||
	    (q->since > 0 && cluster_feed_horizon(c) > max_u64(q->since, q->base));
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

/*
 * One page of the feed. The ETag names the state of the whole feed (any
 * change takes a new sequence number), so for one URL an unchanged ETag
 * means an unchanged reply.
 */
static int
feed_reply(struct server *srv, struct request *r, const struct feed_query *q, json_t **body)
{
	struct clusterer	*c = store_clusterer(srv->srv_store);
	struct feed_page	 pg = { .store = srv->srv_store, .limit = q->limit,
				    .min_size = q->min_size };
	uint64_t		 since = q->since, base = q->base, pos;
	int			 reset = 0;
	char			 etag[32], next[48];

	snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", cluster_seq(c));
	if (http_etag(r, etag))
		return 304;
	if (feed_needs_reset(c, q)) {
		reset = 1;
		since = 0;
	}
	if (since == 0)
		base = cluster_feed_horizon(c);
	pg.clusters = json_array();
	pg.last_seq = since;
	cluster_feed(c, since, on_feed_story, &pg);
	pos = pg.count < pg.limit ? max_u64(cluster_seq(c), since) : pg.last_seq;
	if (base > pos)
		snprintf(next, sizeof(next), "%" PRIu64 "-%" PRIu64, pos, base);
	else
		snprintf(next, sizeof(next), "%" PRIu64, pos);
	*body = json_pack("{s:o,s:s}", "clusters", pg.clusters, "next", next);
	if (reset)
		json_object_set_new(*body, "reset", json_true());
	return 200;
}

/*
 * Long polls. A GET /v1/clusters?wait=N with nothing after its cursor is
 * parked here until a change is committed (clusters_wake(), called by the
 * group commit once the change is in the log, so a poller never sees a
 * change that a crash could take back) or N seconds pass. One timer serves
 * them all, set for the earliest deadline.
 */
struct waiter {
	TAILQ_ENTRY(waiter)		 w_entry;
	struct server			*w_srv;
	struct evhttp_request		*w_req;
	struct evhttp_connection	*w_conn;
	struct event			*w_watch;	/* the socket: has the client gone? */
	struct http_origin		 w_origin;
	struct feed_query		 w_query;
	struct timespec			 w_deadline;	/* CLOCK_MONOTONIC */
};

struct waiters {
	TAILQ_HEAD(, waiter)	 ws_list;
	size_t			 ws_count;
	struct event		*ws_timer;
	int			 ws_armed;
	struct timespec		 ws_armed_for;
	int			 ws_stopping;	/* shutting down: answer at once */
};

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
waiters_arm(struct waiters *ws)
{
	struct waiter	*w, *first = NULL;
	struct timespec	 now;
	struct timeval	 tv;
	int64_t		 us;

	TAILQ_FOREACH(w, &ws->ws_list, w_entry)
		if (first == NULL || ts_before(&w->w_deadline, &first->w_deadline))
			first = w;
	if (first == NULL) {
		event_del(ws->ws_timer);
		ws->ws_armed = 0;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(first->w_deadline.tv_sec - now.tv_sec) * 1000000 +
	    (first->w_deadline.tv_nsec - now.tv_nsec) / 1000;
	if (us < 0)
		us = 0;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	event_add(ws->ws_timer, &tv);
	ws->ws_armed = 1;
	ws->ws_armed_for = first->w_deadline;
}

/* Answer one waiter with the feed as it is now, and forget it. */
static void
waiter_answer(struct server *srv, struct waiter *w)
{
	struct waiters	*ws = srv->srv_waiters;
	struct request	 r = { .req = w->w_req };
	json_t		*body = NULL;
	int		 status;

	TAILQ_REMOVE(&ws->ws_list, w, w_entry);
	ws->ws_count--;
	if (w->w_watch != NULL)
		event_free(w->w_watch);
	status = feed_reply(srv, &r, &w->w_query, &body);
	http_reply_later(srv, w->w_req, &w->w_origin, status, body);
	json_decref(body);
	free(w);
}

static void
on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w, *next;
	struct timespec	 now;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* a millisecond early is on time: no second wake-up for the rest */
	now.tv_nsec += 1000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	ws->ws_armed = 0;
	for (w = TAILQ_FIRST(&ws->ws_list); w != NULL; w = next) {
		next = TAILQ_NEXT(w, w_entry);
		if (!ts_before(&now, &w->w_deadline))
			waiter_answer(srv, w);
	}
	waiters_arm(ws);
}

/*
 * libevent reads nothing from a connection while its request waits for a
 * reply, so a client that gives up would hold its place until the deadline.
 * Its socket turning readable tells: end of file or an error means it has
 * gone, and the timer (not this callback, which must not free its own
 * event) answers it at once; libevent then finds the connection closed and
 * frees it. Bytes to read are a pipelined request: stop watching.
 */
static void
on_waiter_readable(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;
	char		 c;
	ssize_t		 n;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(w->w_watch, NULL);
		return;
	}
	w->w_deadline.tv_sec = 0;
	w->w_deadline.tv_nsec = 0;
	event_active(w->w_srv->srv_waiters->ws_timer, EV_TIMEOUT, 1);
}

static int
feed_park(struct server *srv, struct request *r, const struct feed_query *q, uint64_t wait,
    json_t **body)
{
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w;
	evutil_socket_t	 fd;

	if (ws->ws_stopping)
		return feed_reply(srv, r, q, body);
	if (ws->ws_count >= srv->srv_params.max_long_polls) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
		return http_error(body, 503, "overloaded",
		    "%u long polls are waiting already; retry in a second", srv->srv_params.max_long_polls);
	}
	w = xcalloc(1, sizeof(*w));
	w->w_srv = srv;
	w->w_req = r->req;
	w->w_conn = evhttp_request_get_connection(r->req);
	if (w->w_conn != NULL && (fd = bufferevent_getfd(evhttp_connection_get_bufferevent(
	    w->w_conn))) >= 0) {
		w->w_watch = event_new(srv->srv_base, fd, EV_READ, on_waiter_readable, w);
		event_add(w->w_watch, NULL);
	}
	w->w_origin = r->origin;
	w->w_origin.endpoint = HTTP_ENDPOINT_WAIT;
	w->w_query = *q;
	clock_gettime(CLOCK_MONOTONIC, &w->w_deadline);
	w->w_deadline.tv_sec += (time_t)wait;
	TAILQ_INSERT_TAIL(&ws->ws_list, w, w_entry);
	ws->ws_count++;
	if (!ws->ws_armed || ts_before(&w->w_deadline, &ws->ws_armed_for))
		waiters_arm(ws);
	return HTTP_LATER;
}

int
handle_clusters_get(struct server *srv, struct request *r, json_t **body)
{
	struct clusterer	*c = store_clusterer(srv->srv_store);
	struct feed_query	 q;
	uint64_t		 wait;

	if (cursor_parse(evhttp_find_header(&r->query, "since"), &q.since, &q.base) != 0)
		return http_error(body, 400, "bad_parameter", "since must be a cursor from \"next\"");
	if (query_u64(r, "limit", FEED_LIMIT_DEFAULT, &q.limit) != 0 || q.limit == 0)
		return http_error(body, 400, "bad_parameter", "limit must be a whole number from 1");
	if (query_u64(r, "min_size", 1, &q.min_size) != 0)
		return http_error(body, 400, "bad_parameter", "min_size must be a whole number");
	if (query_u64(r, "wait", 0, &wait) != 0)
		return http_error(body, 400, "bad_parameter",
		    "wait must be whole seconds, at most %d", WAIT_MAX);
	if (q.limit > FEED_LIMIT_MAX)
		q.limit = FEED_LIMIT_MAX;
	if (wait > WAIT_MAX)
		wait = WAIT_MAX;
	if (wait > 0 && q.since == cluster_seq(c) && !feed_needs_reset(c, &q))
		return feed_park(srv, r, &q, wait, body);
	return feed_reply(srv, r, &q, body);
}

void
clusters_setup(struct server *srv)
{
	struct waiters	*ws = xcalloc(1, sizeof(*ws));

	TAILQ_INIT(&ws->ws_list);
	ws->ws_timer = evtimer_new(srv->srv_base, on_wait_timeout, srv);
	srv->srv_waiters = ws;
}

void
clusters_wake(struct server *srv)
{
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w, *next;
	uint64_t	 seq;

	if (ws == NULL || ws->ws_count == 0 || srv->srv_store == NULL)
		return;
	seq = cluster_seq(store_clusterer(srv->srv_store));
	for (w = TAILQ_FIRST(&ws->ws_list); w != NULL; w = next) {
		next = TAILQ_NEXT(w, w_entry);
		if (w->w_query.since != seq)
			waiter_answer(srv, w);
	}
	if (ws->ws_armed && ws->ws_count == 0) {
		event_del(ws->ws_timer);
		ws->ws_armed = 0;
	}
}

void
clusters_stop(struct server *srv)
{
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w;

	if (ws == NULL)
		return;
	ws->ws_stopping = 1;
	while ((w = TAILQ_FIRST(&ws->ws_list)) != NULL)
		waiter_answer(srv, w);
	event_del(ws->ws_timer);
	ws->ws_armed = 0;
}

void
clusters_conn_closed(struct server *srv, struct evhttp_connection *conn)
{
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w;

	if (ws == NULL || ws->ws_count == 0)
		return;
	TAILQ_FOREACH(w, &ws->ws_list, w_entry)
		if (w->w_conn == conn)
			break;
	if (w == NULL)
		return;
	TAILQ_REMOVE(&ws->ws_list, w, w_entry);
	ws->ws_count--;
	/*
	 * The client went away: libevent has let go of the request, which is
	 * ours to free. Still attached, the connection is being freed with it
	 * (evhttp_free), and libevent frees it.
	 */
	if (evhttp_request_get_connection(w->w_req) == NULL)
		evhttp_request_free(w->w_req);
	if (w->w_watch != NULL)
		event_free(w->w_watch);
	free(w);
}

size_t
clusters_waiting(const struct server *srv)
{
	return srv->srv_waiters != NULL ? srv->srv_waiters->ws_count : 0;
}

void
clusters_teardown(struct server *srv)
{
	struct waiters	*ws = srv->srv_waiters;
	struct waiter	*w;

	if (ws == NULL)
		return;
	/* clusters_stop() answered them all before the connections were freed */
	while ((w = TAILQ_FIRST(&ws->ws_list)) != NULL) {
		TAILQ_REMOVE(&ws->ws_list, w, w_entry);
		if (w->w_watch != NULL)
			event_free(w->w_watch);
		free(w);
	}
	event_free(ws->ws_timer);
	free(ws);
	srv->srv_waiters = NULL;
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
	char			 etag[32];

	if (api_story_id_parse(r->tail, r->tail_len, &id) != 0 || cluster_story_get(c, id, &st) != 0)
		return http_error(body, 404, "not_found", "no cluster with that id");
	/* terms and similarities move with the whole corpus: the feed's sequence names them */
	snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", cluster_seq(c));
	if (http_etag(r, etag))
		return 304;
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
		json_array_append_new(articles, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}",
		    "id", a->id, "title", a->title, "source", a->source,
		    "published_at", api_time_json(a->published),
		    "ingested_at", api_time_json(a->ingested),
		    "duplicate_of", root != NULL ? json_string(root->id) : json_null(),
		    "similarity", api_similarity_json(cluster_similarity(c, members[i],
		    st.representative))));
	}
	free(members);
	json_object_set_new(*body, "articles", articles);
	return 200;
}
