/*
 * server: the one event loop that owns all state (the Redis model): the
 * libevent base, the HTTP listener, signals and timers. Handlers run on
 * the loop and never block.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "api.h"

struct event_base;
struct evhttp;
struct event;
struct store;

struct server_params {
	const char	*listen;		/* "host:port"; port 0 takes a free one */
	size_t		 max_request_bytes;
	unsigned	 max_batch;
	unsigned	 request_timeout;	/* seconds */
	struct api_limits api;
};

struct server {
	struct event_base	*srv_base;
	struct evhttp		*srv_http;
	struct store		*srv_store;
	struct server_params	 srv_params;
	char			 srv_addr[64];		/* the address bound, "127.0.0.1:7878" */
	int			 srv_ready;		/* recovery done: /readyz answers 200 */
	struct event		*srv_sigterm, *srv_sigint, *srv_sighup, *srv_watchdog;
	uint64_t		 srv_watchdog_usec;
};

/*
 * Bind the listener and set up signals. 0, or -errno with a message logged.
 * store is borrowed and must outlive the server.
 */
int	server_open(struct server **out, const struct server_params *p, struct store *store);

/* Run until SIGTERM or SIGINT; then stop accepting and finish replies in flight. */
int	server_run(struct server *srv);
void	server_close(struct server *srv);
