/*
 * server: the one event loop that owns all state (the Redis model): the
 * libevent base, the HTTP listener, signals and timers. Recovery runs in a
 * thread while the loop already answers /healthz and /readyz (503); the
 * store is handed to the loop when it is done, and only the loop touches it
 * from then on. Handlers run on the loop and never block; a large body (a
 * batch) is parsed on a thread of its own first (decode.h).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "api.h"
#include "store.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_connection;
struct auth;
struct event;
struct metrics;
struct decoder;
struct waiters;

struct server_params {
	const char		*listen;		/* "host:port"; port 0 takes a free one */
	size_t			 max_request_bytes;
	unsigned		 max_batch;
	unsigned		 request_timeout;	/* seconds */
	size_t			 max_header_bytes;
	unsigned		 max_json_depth;
	unsigned		 max_connections;	/* beyond: 503 with Retry-After */
	const char		*token_file;		/* "" or NULL: no token */
	int			 auth_reads;		/* reads need the token too */
	double			 access_log;		/* share of replies logged: 0 off, 1 all */
	unsigned		 max_long_polls;	/* GET /v1/clusters?wait= parked at once */
	struct api_limits	 api;
	const char		*data_dir;
	struct store_params	 store;
	uint64_t		 snapshot_log_bytes;	/* snapshot when the log passes this ... */
	double			 snapshot_log_share;	/* ... and this share of the newest snapshot */
};

struct held_reply;
struct turn_post;
struct server;

/* SIGHUP: re-read the configuration and hand what can change to server_reload(). */
typedef void	server_reload_fn(struct server *srv, void *arg);

struct server {
	struct event_base		*srv_base;
	struct evhttp			*srv_http;
	struct evhttp_bound_socket	*srv_bound;
	struct server_params		 srv_params;
	char				 srv_addr[64];	/* the address bound, "127.0.0.1:7878" */
	char				*srv_listen, *srv_data_dir, *srv_token_file; /* srv_params' */

	struct store			*srv_store;	/* NULL until recovery is done */
	int				 srv_ready;	/* recovery done: /readyz answers 200 */
	int				 srv_failed;	/* the log cannot be written: refuse writes */
	double				 srv_recovery_secs;	/* what the start's recovery took */
	uint64_t			 srv_recovery_records;	/* log records it replayed */
	int				 srv_status;	/* exit status of server_run */

	TAILQ_HEAD(, held_reply)	 srv_held;	/* replies waiting for the log flush */
	struct event			*srv_commit;	/* the end-of-turn flush: group commit */
	struct turn_post		*srv_turn;	/* single posts kept for the end of the turn */
	size_t				 srv_nturn, srv_capturn;
	struct ahead			*srv_stream;	/* the turn's posts, streamed to the second thread */
	size_t				 srv_nstream;	/* how many of them */
	struct decoder			*srv_decoder;	/* large bodies parsed off the loop; NULL: on it */
	struct fingerprinter		*srv_decode_fp;	/* its, for the batches it decodes */
	uint64_t			 srv_fingerprinted_apart; /* batch articles it fingerprinted */

	struct event			*srv_sigterm, *srv_sigint, *srv_sighup;
	struct event			*srv_tick;	/* once a second: fsync, snapshots */
	uint64_t			 srv_snap_after; /* after a failed snapshot: log bytes to wait for */
	uint64_t			 srv_snap_retry; /* a snapshot waiting for the log's flush: its threshold */
	struct event			*srv_watchdog;
	struct event			*srv_recovered;
	int				 srv_recover_pipe[2];
	struct recovery			*srv_recovery;
	uint64_t			 srv_watchdog_usec;
	struct auth			*srv_auth;	/* NULL: no token required */
	struct metrics			*srv_metrics;	/* request counts and latencies */
	struct waiters			*srv_waiters;	/* long polls of the cluster feed */
	double				 srv_access_acc; /* access log sampling: logs when it passes 1 */
	void				**srv_conns;	/* connections seen: open addressing */
	size_t				 srv_nconns, srv_conns_cap;

	server_reload_fn		*srv_reload;
	void				*srv_reload_arg;
};

/* Bind the listener and set up signals. 0, or -errno with a message logged. */
int	server_open(struct server **out, const struct server_params *p);

/*
 * Recover the store in a thread, then serve until SIGTERM or SIGINT; then
 * stop accepting, send the replies in flight, and return. 0, or 1 when
 * recovery failed (logged).
 */
int	server_run(struct server *srv);

/*
 * Apply what can change live from p (limits, timeouts, fsync policy,
 * snapshot size) and log, by name, each changed setting that needs a restart.
 */
void	server_reload(struct server *srv, const struct server_params *p);

/*
 * The end of a turn: start the snapshot that waited for the log's thread to
 * flush the old segment, if it is done (store_snapshot_start(), -EAGAIN).
 */
void	server_snapshot_retry(struct server *srv);

/*
 * Count conn among the open connections (once; it leaves the count when it
 * closes) and return how many are open.
 */
size_t	server_conn_track(struct server *srv, struct evhttp_connection *conn);

/* Close the store (flush, final snapshot) and free everything. 0 or -errno. */
int	server_close(struct server *srv);
