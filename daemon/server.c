/* server: the event loop, the listener, recovery, signals and timers. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "auth.h"
#include "clock.h"
#include "decode.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "thread.h"
#include "xmalloc.h"

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/*
 * accept() failed, most likely out of file descriptors: pause accepting for
 * a moment instead of spinning on a listener that stays readable, and say
 * so at most once a minute.
 */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	static time_t	warned;
	struct timeval	tv = { 0, 100 * 1000 };
	int		err = EVUTIL_SOCKET_ERROR();
	time_t		now = time(NULL);

	(void)arg;
	if (now - warned >= 60) {
		log_warnx("server: cannot accept connections: %s; pausing new ones",
		    evutil_socket_error_to_string(err));
		warned = now;
	}
	evconnlistener_disable(l);
	event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, on_accept_resume, l, &tv);
}

/* Split "host:port" ("[::1]:80" for IPv6) into host and port. */
static int
split_addr(const char *addr, char *host, size_t hostlen, char **port)
{
	const char	*colon = strrchr(addr, ':');
	size_t		 n;

	if (colon == NULL || colon[1] == '\0')
		return -EINVAL;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = '\0';
	*port = (char *)colon + 1;
	return 0;
}

static void
bound_address(struct evhttp_bound_socket *bs, char *buf, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	char			host[INET6_ADDRSTRLEN] = "?";
	unsigned		port = 0;

	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(buf, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

static int
listen_on(struct server *srv, const char *addr)
{
	struct evhttp_bound_socket	*bs;
	char				 host[256], *port, *end;
	unsigned long			 p;

	if (split_addr(addr, host, sizeof(host), &port) != 0) {
		log_warnx("server: listen address \"%s\" is not HOST:PORT", addr);
		return -EINVAL;
	}
	p = strtoul(port, &end, 10);
	if (*end != '\0' || p > 65535) {
		log_warnx("server: listen port \"%s\" is not a number from 0 to 65535", port);
		return -EINVAL;
	}
	if ((bs = evhttp_bind_socket_with_handle(srv->srv_http, host, (uint16_t)p)) == NULL) {
		log_warn("server: cannot listen on %s", addr);
		return -EADDRNOTAVAIL;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bs), on_accept_error);
	srv->srv_bound = bs;
	bound_address(bs, srv->srv_addr, sizeof(srv->srv_addr));
	return 0;
}

/* Recovery runs in its own thread; the loop learns it is done through a pipe. */
struct recovery {
	pthread_t		 thread;
	const char		*dir;
	struct store_params	 params;
	struct store		*store;
	struct store_report	 report;
	int			 result;
	int			 notify_fd;
	double			 seconds;	/* store_open() took */
};

static void *
recover(void *arg)
{
	struct recovery	*rc = arg;
	double		 t0 = clock_seconds(CLOCK_MONOTONIC);
	char		 done = 1;

	rc->result = store_open(&rc->store, rc->dir, &rc->params, &rc->report);
	rc->seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
	while (write(rc->notify_fd, &done, 1) == -1 && errno == EINTR)
		;
	return NULL;
}

static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void
log_recovery(const struct recovery *rc)
{
	const struct store_report	*rep = &rc->report;

	if (rep->torn)
		log_warnx("store: dropped a torn %llu-byte record at the end of %s (offset %llu): "
		    "it was never acknowledged", (unsigned long long)rep->torn_bytes, rep->torn_file,
		    (unsigned long long)rep->torn_offset);
	if (rep->truncated)
		log_warnx("store: the log was damaged; it was cut at the damage, and what followed is "
		    "lost (allow_truncate is set)");
	if (rc->result == STORE_CORRUPT)
		log_warnx("store: %s; refusing to start. Set allow_truncate = yes in [store] to cut "
		    "the log at the damage and lose what follows it", rep->corrupt_what);
	else if (rc->result == STORE_NEWER)
		log_warnx("store: %s; refusing to start", rep->corrupt_what);
	else if (rc->result == -EBUSY)
		log_warnx("store: %s is in use by another storyd", rc->dir);
	else if (rc->result < 0)
		log_warnx("store: cannot open %s: %s", rc->dir, strerror(-rc->result));
}

static void
on_recovered(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct recovery	*rc = srv->srv_recovery;
	struct clusterer *c;
	uint64_t	 taken, decided, refused;
	char		 b;

	(void)what;
	if (read(fd, &b, 1) != 1)
		return;
	pthread_join(rc->thread, NULL);
	log_recovery(rc);
	if (rc->result != 0) {
		srv->srv_status = 1;
		event_base_loopbreak(srv->srv_base);
		return;
	}
	srv->srv_store = rc->store;
	srv->srv_ready = 1;
	srv->srv_recovery_secs = rc->seconds;
	srv->srv_recovery_records = rc->report.replayed;
	c = store_clusterer(srv->srv_store);
	taken = store_stats(srv->srv_store)->fingerprints_taken;
	decided = store_stats(srv->srv_store)->decisions_taken;
	refused = store_stats(srv->srv_store)->decisions_refused;
	if (!rc->report.snapshot && rc->report.replayed == 0)
		log_info("store: nothing to recover in %s; starting empty", rc->dir);
	else
		log_info("store: recovered %zu article%s in %zu cluster%s in %.2f s (%s, then %llu log "
		    "record%s, %llu fingerprint%s and %llu decision%s taken from them)",
		    store_count(srv->srv_store), plural(store_count(srv->srv_store)),
		    cluster_count_stories(c), plural(cluster_count_stories(c)), rc->seconds,
		    rc->report.snapshot ? "a snapshot" : "no snapshot",
		    (unsigned long long)rc->report.replayed, plural(rc->report.replayed),
		    (unsigned long long)taken, plural(taken), (unsigned long long)decided,
		    plural(decided));
	if (!cluster_room_kept(c))
		log_warnx("store: no memory to size the candidate indexes for max_articles %zu at "
		    "start; they grow as articles come, and a post may wait while a table moves",
		    rc->params.cluster.room);
	if (refused > 0)
		log_warnx("store: %llu logged decision%s did not fit the recovered state, so those "
		    "articles were clustered again; their clusters may differ from before the restart",
		    (unsigned long long)refused, plural(refused));
	notify("READY=1\nSTATUS=listening on %s; %zu article%s in %zu cluster%s recovered",
	    srv->srv_addr, store_count(srv->srv_store), plural(store_count(srv->srv_store)),
	    cluster_count_stories(c), plural(cluster_count_stories(c)));
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(srv->srv_base, NULL);
}

/*
 * Stop accepting, give requests already received a moment to be answered
 * (their replies are flushed with the log like any other), then leave the
 * loop; server_close() writes the final snapshot.
 */
static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 grace = { 0, 250 * 1000 };

	(void)what;
	log_info("server: %s received; finishing requests in flight, then stopping",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify("STOPPING=1");
	evconnlistener_disable(evhttp_bound_socket_get_listener(srv->srv_bound));
	clusters_stop(srv);	/* long polls get their answer now, not a dropped connection */
	event_del(srv->srv_sigterm);
	event_del(srv->srv_sigint);
	event_base_once(srv->srv_base, -1, EV_TIMEOUT, on_stop_timeout, srv, &grace);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)sig;
	(void)what;
	if (srv->srv_reload != NULL)
		srv->srv_reload(srv, srv->srv_reload_arg);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify("WATCHDOG=1");
}

/*
 * The log size that starts a snapshot: snapshot_log_bytes, or the share
 * snapshot_log_share of the newest snapshot's size if that is more. A
 * rebuild loads the newest snapshot, replays the log after it and writes the
 * whole state again, so with a fixed threshold its cost per logged byte grows
 * with the state held; spacing snapshots by a share of their size bounds it,
 * as Redis's auto-aof-rewrite-percentage does. A recovery replays at most
 * this much log and what came while the last rebuild ran (README
 * "Durability and operations", figures in "Defaults").
 */
static uint64_t
snapshot_threshold(const struct server *srv)
{
	uint64_t	least = srv->srv_params.snapshot_log_bytes;
	double		share = srv->srv_params.snapshot_log_share *
	    (double)store_stats(srv->srv_store)->snapshot_bytes;

	return share > (double)least ? (uint64_t)share : least;
}

/*
 * Start the snapshot that a log past threshold calls for. While the log's
 * thread flushes the old segment first (-EAGAIN), the end of every turn
 * tries again (server_snapshot_retry()), and so does the next tick.
 */
static void
snapshot_start(struct server *srv, uint64_t threshold)
{
	int	r = store_snapshot_start(srv->srv_store);

	srv->srv_snap_retry = r == -EAGAIN ? threshold : 0;
	if (r == 0)
		log_info("store: the log passed %llu bytes; writing a snapshot in the background "
		    "(rotating the log held requests %.1f ms)", (unsigned long long)threshold,
		    store_stats(srv->srv_store)->snapshot_rotation * 1e3);
	else if (r != -EBUSY && r != -EAGAIN)
		log_warnx("store: cannot start a snapshot: %s", strerror(-r));
}

static void
snapshot_tick(struct server *srv)
{
	const struct snapshot_phases	*ph;
	uint64_t			 bytes = 0, logged, threshold;
	int				 r;
	char				 first[64];

	switch ((r = store_snapshot_poll(srv->srv_store, &bytes))) {
	case 0:
		break;
	case STORE_SNAPSHOT_RUNNING:
		return;
	case STORE_SNAPSHOT_DONE:
		ph = &store_stats(srv->srv_store)->snapshot_phases;
		if (ph->from == SNAPSHOT_FROM_KEPT)
			snprintf(first, sizeof(first), "the last one's state kept in memory");
		else if (ph->from == SNAPSHOT_FROM_DISK)
			snprintf(first, sizeof(first), "the last one read back in %.1f s", ph->load);
		else
			snprintf(first, sizeof(first), "no earlier one to read");
		log_info("store: snapshot written (%llu bytes in %.1f s, %.2f s of CPU: %s, %llu "
		    "logged records applied again in %.1f s, written in %.1f s); older log "
		    "segments removed", (unsigned long long)bytes,
		    store_stats(srv->srv_store)->snapshot_duration, ph->cpu, first,
		    (unsigned long long)ph->replayed, ph->replay, ph->write);
		if (ph->refused > 0)
			log_warnx("store: %llu logged decision%s did not fit the snapshot's state, so "
			    "it clustered those articles again; after a restart their clusters may "
			    "differ from the running ones", (unsigned long long)ph->refused,
			    plural(ph->refused));
		break;
	default:
		/* not again every second: each attempt reads the whole state */
		srv->srv_snap_after = store_log_bytes(srv->srv_store) +
		    srv->srv_params.snapshot_log_bytes;
		log_warnx("store: background snapshot failed: %s; the log keeps everything, "
		    "and the next try waits for %llu more bytes of it",
		    store_stats(srv->srv_store)->snapshot_error,
		    (unsigned long long)srv->srv_params.snapshot_log_bytes);
		break;
	}
	logged = store_log_bytes(srv->srv_store);
	threshold = snapshot_threshold(srv);
	if (logged < threshold || logged < srv->srv_snap_after)
		return;
	srv->srv_snap_after = 0;
	snapshot_start(srv, threshold);
}

void
server_snapshot_retry(struct server *srv)
{
	if (srv->srv_snap_retry != 0 && srv->srv_store != NULL && !srv->srv_failed)
		snapshot_start(srv, srv->srv_snap_retry);
}

/*
 * Once a second: fsync under everysec, in the log's background thread as
 * Redis does (on the loop a 10 ms fdatasync held every reply of its turn
 * and set the p99 of single posts), and snapshots when the log grows.
 */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	int		 r;

	(void)fd;
	(void)what;
	if (srv->srv_store == NULL || srv->srv_failed)
		return;
	if (srv->srv_params.store.sync == STORE_SYNC_EVERYSEC &&
	    (r = store_sync_background(srv->srv_store)) != 0)
		http_store_failed(srv, r);
	snapshot_tick(srv);
}

/* The token file, if one is configured: NULL and 0 without one. */
static int
token_load(const char *path, struct auth **out)
{
	int	r;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return 0;
	if ((r = auth_load(out, path)) == -EINVAL)
		log_warnx("server: token file %s must hold one line of at least 16 bytes", path);
	else if (r != 0)
		log_warnx("server: cannot read token file %s: %s", path, strerror(-r));
	return r;
}

static int
cluster_params_equal(const struct cluster_params *a, const struct cluster_params *b)
{
	return a->k == b->k && a->bands == b->bands && a->rows == b->rows &&
	    a->shingle == b->shingle && a->dup_threshold == b->dup_threshold &&
	    a->simhash_k == b->simhash_k && a->story_threshold == b->story_threshold &&
	    a->merge_threshold == b->merge_threshold &&
	    a->window == b->window && a->doc_terms == b->doc_terms &&
	    a->max_matches == b->max_matches && a->dup_containment == b->dup_containment &&
	    a->decay_hours == b->decay_hours;
}

void
server_reload(struct server *srv, const struct server_params *p)
{
	struct server_params	*cur = &srv->srv_params;
	static const char	*sync_names[] = { "always", "everysec", "no" };
	struct auth		*auth;

	if (strcmp(p->listen, cur->listen) != 0)
		log_warnx("server: reload: listen changes only on restart");
	if (strcmp(p->data_dir, cur->data_dir) != 0)
		log_warnx("server: reload: data_dir changes only on restart");
	if (!cluster_params_equal(&p->store.cluster, &cur->store.cluster))
		log_warnx("server: reload: [cluster] settings change only on restart");
	if (p->store.retention != cur->store.retention ||
	    p->store.max_articles != cur->store.max_articles ||
	    p->store.allow_truncate != cur->store.allow_truncate)
		log_warnx("server: reload: retention, max_articles and allow_truncate change only "
		    "on restart");
	if (p->store.sync != cur->store.sync) {
		log_info("server: reload: fsync %s -> %s", sync_names[cur->store.sync],
		    sync_names[p->store.sync]);
		cur->store.sync = p->store.sync;
		if (srv->srv_store != NULL)
			store_set_sync(srv->srv_store, p->store.sync);
	}
	if (token_load(p->token_file, &auth) == 0) {
		auth_free(srv->srv_auth);
		srv->srv_auth = auth;
		free(srv->srv_token_file);
		cur->token_file = srv->srv_token_file = xstrdup(p->token_file ? p->token_file : "");
	} else
		log_warnx("server: reload: keeping the token in use");
	cur->auth_reads = p->auth_reads;
	cur->access_log = p->access_log;
	cur->max_long_polls = p->max_long_polls;
	cur->max_header_bytes = p->max_header_bytes;
	cur->max_json_depth = p->max_json_depth;
	cur->max_connections = p->max_connections;
	evhttp_set_max_headers_size(srv->srv_http, (ev_ssize_t)cur->max_header_bytes);
	cur->max_request_bytes = p->max_request_bytes;
	cur->max_batch = p->max_batch;
	cur->request_timeout = p->request_timeout;
	cur->api = p->api;
	cur->snapshot_log_bytes = p->snapshot_log_bytes;
	cur->snapshot_log_share = p->snapshot_log_share;
	evhttp_set_max_body_size(srv->srv_http, (ev_ssize_t)cur->max_request_bytes);
	evhttp_set_timeout(srv->srv_http, (int)cur->request_timeout);
	log_info("server: configuration reloaded");
}

/*
 * Open connections, as a set of pointers (linear probing, backward-shift
 * deletion). A connection joins when its first request arrives and leaves
 * through its close callback.
 */
static size_t
conn_slot(const struct server *srv, const void *conn)
{
	uintptr_t	h = (uintptr_t)conn;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 7) & (srv->srv_conns_cap - 1);
}

static void
conn_insert(struct server *srv, void *conn)
{
	size_t	i = conn_slot(srv, conn);

	while (srv->srv_conns[i] != NULL)
		i = (i + 1) & (srv->srv_conns_cap - 1);
	srv->srv_conns[i] = conn;
}

static void
conns_grow(struct server *srv)
{
	void	**old = srv->srv_conns;
	size_t	  n = srv->srv_conns_cap;

	srv->srv_conns_cap = n == 0 ? 256 : n * 2;
	srv->srv_conns = xcalloc(srv->srv_conns_cap, sizeof(*srv->srv_conns));
	for (size_t i = 0; i < n; i++)
		if (old[i] != NULL)
			conn_insert(srv, old[i]);
	free(old);
}

static void
on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct server	*srv = arg;
	size_t		 i = conn_slot(srv, conn), j, k, mask = srv->srv_conns_cap - 1;

	clusters_conn_closed(srv, conn);

	while (srv->srv_conns[i] != conn) {
		if (srv->srv_conns[i] == NULL)
			return;
		i = (i + 1) & mask;
	}
	srv->srv_conns[i] = NULL;
	srv->srv_nconns--;
	/* shift back later entries whose probe path crossed the hole */
	for (j = (i + 1) & mask; srv->srv_conns[j] != NULL; j = (j + 1) & mask) {
		k = conn_slot(srv, srv->srv_conns[j]);
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			srv->srv_conns[i] = srv->srv_conns[j];
			srv->srv_conns[j] = NULL;
			i = j;
		}
	}
}

size_t
server_conn_track(struct server *srv, struct evhttp_connection *conn)
{
	size_t	i;

	if (conn == NULL)
		return srv->srv_nconns;
	if (srv->srv_conns_cap == 0 || (srv->srv_nconns + 1) * 2 > srv->srv_conns_cap)
		conns_grow(srv);
	for (i = conn_slot(srv, conn); srv->srv_conns[i] != NULL;
	    i = (i + 1) & (srv->srv_conns_cap - 1))
		if (srv->srv_conns[i] == conn)
			return srv->srv_nconns;
	srv->srv_conns[i] = conn;
	srv->srv_nconns++;
	evhttp_connection_set_closecb(conn, on_conn_close, srv);
	return srv->srv_nconns;
}

/*
 * The loop's event base. With epoll, libevent's changelist gathers the
 * changes a turn makes to one descriptor's interest (evhttp turns a
 * connection's reading and writing on and off as a request goes through)
 * into at most one epoll_ctl() at the turn's end, instead of one each:
 * 1.9 calls a single post against 3.8 (README, "Where the time goes").
 * libevent warns that this is unsafe for a descriptor that is a dup() of
 * another, since epoll files an interest under the open file, not the
 * number; the loop is given none (the log's duplicates are files, which
 * never enter the loop), and storyd neither forks nor takes sockets from
 * elsewhere.
 */
static struct event_base *
loop_base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
server_open(struct server **out, const struct server_params *p)
{
	struct server	*srv = xcalloc(1, sizeof(*srv));
	struct timeval	 tv;
	int		 r;

	srv->srv_params = *p;
	srv->srv_params.listen = srv->srv_listen = xstrdup(p->listen);
	srv->srv_params.data_dir = srv->srv_data_dir = xstrdup(p->data_dir);
	srv->srv_params.token_file = srv->srv_token_file = xstrdup(p->token_file ? p->token_file : "");
	srv->srv_recover_pipe[0] = srv->srv_recover_pipe[1] = -1;
	TAILQ_INIT(&srv->srv_held);
	if ((srv->srv_base = loop_base_new()) == NULL ||
	    (srv->srv_http = evhttp_new(srv->srv_base)) == NULL) {
		log_warnx("server: cannot create the event loop");
		server_close(srv);
		return -ENOMEM;
	}
	if ((r = token_load(p->token_file, &srv->srv_auth)) != 0) {
		server_close(srv);
		return r;
	}
	http_setup(srv);
	if ((r = listen_on(srv, p->listen)) != 0) {
		server_close(srv);
		return r;
	}

	signal(SIGPIPE, SIG_IGN);
	srv->srv_sigterm = evsignal_new(srv->srv_base, SIGTERM, on_sigterm, srv);
	srv->srv_sigint = evsignal_new(srv->srv_base, SIGINT, on_sigterm, srv);
	srv->srv_sighup = evsignal_new(srv->srv_base, SIGHUP, on_sighup, srv);
	evsignal_add(srv->srv_sigterm, NULL);
	evsignal_add(srv->srv_sigint, NULL);
	evsignal_add(srv->srv_sighup, NULL);

	srv->srv_tick = event_new(srv->srv_base, -1, EV_PERSIST, on_tick, srv);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(srv->srv_tick, &tv);
	if ((srv->srv_watchdog_usec = notify_watchdog_usec()) != 0) {
		srv->srv_watchdog = event_new(srv->srv_base, -1, EV_PERSIST, on_watchdog, srv);
		tv.tv_sec = (time_t)(srv->srv_watchdog_usec / 1000000);
		tv.tv_usec = (suseconds_t)(srv->srv_watchdog_usec % 1000000);
		event_add(srv->srv_watchdog, &tv);
	}
	*out = srv;
	return 0;
}

static int
recovery_start(struct server *srv)
{
	struct recovery	*rc = xcalloc(1, sizeof(*rc));
	int		 r;

	if (pipe2(srv->srv_recover_pipe, O_CLOEXEC) == -1) {
		free(rc);
		return -errno;
	}
	rc->dir = srv->srv_params.data_dir;
	rc->params = srv->srv_params.store;
	rc->notify_fd = srv->srv_recover_pipe[1];
	srv->srv_recovery = rc;
	srv->srv_recovered = event_new(srv->srv_base, srv->srv_recover_pipe[0], EV_READ,
	    on_recovered, srv);
	event_add(srv->srv_recovered, NULL);
	if ((r = thread_start(&rc->thread, "storyd-recover", recover, rc)) != 0) {
		srv->srv_recovery = NULL;
		free(rc);
		return -r;
	}
	return 0;
}

int
server_run(struct server *srv)
{
	int	r;

	notify("STATUS=recovering from %s; listening on %s", srv->srv_params.data_dir,
	    srv->srv_addr);
	if ((r = recovery_start(srv)) != 0) {
		log_warnx("server: cannot start recovery: %s", strerror(-r));
		return 1;
	}
	if (event_base_dispatch(srv->srv_base) == -1) {
		log_warnx("server: the event loop failed");
		return 1;
	}
	http_commit_now(srv);
	clusters_stop(srv);
	return srv->srv_status;
}

int
server_close(struct server *srv)
{
	int	r = 0;

	if (srv == NULL)
		return 0;
	if (srv->srv_recovery != NULL && !srv->srv_ready && srv->srv_status == 0) {
		/* stopped during recovery: let it finish, then close what it opened */
		pthread_join(srv->srv_recovery->thread, NULL);
		store_free(srv->srv_recovery->store);
	}
	free(srv->srv_recovery);
	if (srv->srv_store != NULL && !srv->srv_failed) {
		if ((r = store_close(srv->srv_store)) != 0)
			log_warnx("store: final snapshot failed: %s; the log keeps everything",
			    strerror(-r));
		else
			log_info("store: final snapshot written");
	} else
		store_free(srv->srv_store);
	/* before evhttp_free(): the thread may be reading a request's body */
	decoder_free(srv->srv_decoder);
	srv->srv_decoder = NULL;
	if (srv->srv_http != NULL)
		evhttp_free(srv->srv_http);
	http_teardown(srv);
	if (srv->srv_sigterm != NULL)
		event_free(srv->srv_sigterm);
	if (srv->srv_sigint != NULL)
		event_free(srv->srv_sigint);
	if (srv->srv_sighup != NULL)
		event_free(srv->srv_sighup);
	if (srv->srv_tick != NULL)
		event_free(srv->srv_tick);
	if (srv->srv_watchdog != NULL)
		event_free(srv->srv_watchdog);
	if (srv->srv_recovered != NULL)
		event_free(srv->srv_recovered);
	for (int i = 0; i < 2; i++)
		if (srv->srv_recover_pipe[i] != -1)
			close(srv->srv_recover_pipe[i]);
	if (srv->srv_base != NULL)
		event_base_free(srv->srv_base);
	auth_free(srv->srv_auth);
	free(srv->srv_conns);
	free(srv->srv_listen);
	free(srv->srv_data_dir);
	free(srv->srv_token_file);
	free(srv);
	return r;
}
