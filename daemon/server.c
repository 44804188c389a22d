/* server: the event loop, the listener, signals and the watchdog timer. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/http.h>

#include "http.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "xmalloc.h"

static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)what;
	log_info("server: %s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify("STOPPING=1");
	/* let the replies of this turn go out; new connections wait in the backlog and are closed */
	event_base_loopexit(srv->srv_base, NULL);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("server: SIGHUP received; nothing in this version can change live");
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify("WATCHDOG=1");
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
	bound_address(bs, srv->srv_addr, sizeof(srv->srv_addr));
	return 0;
}

int
server_open(struct server **out, const struct server_params *p, struct store *store)
{
	struct server	*srv = xcalloc(1, sizeof(*srv));
	struct timeval	 tv;
	int		 r;

	srv->srv_params = *p;
	srv->srv_store = store;
	if ((srv->srv_base = event_base_new()) == NULL ||
	    (srv->srv_http = evhttp_new(srv->srv_base)) == NULL) {
		log_warnx("server: cannot create the event loop");
		server_close(srv);
		return -ENOMEM;
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

	if ((srv->srv_watchdog_usec = notify_watchdog_usec()) != 0) {
		srv->srv_watchdog = event_new(srv->srv_base, -1, EV_PERSIST, on_watchdog, srv);
		tv.tv_sec = (time_t)(srv->srv_watchdog_usec / 1000000);
		tv.tv_usec = (suseconds_t)(srv->srv_watchdog_usec % 1000000);
		event_add(srv->srv_watchdog, &tv);
	}
	*out = srv;
	return 0;
}

int
server_run(struct server *srv)
{
	srv->srv_ready = 1;
	if (event_base_dispatch(srv->srv_base) == -1) {
		log_warnx("server: the event loop failed");
		return -EIO;
	}
	return 0;
}

void
server_close(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->srv_sigterm != NULL)
		event_free(srv->srv_sigterm);
	if (srv->srv_sigint != NULL)
		event_free(srv->srv_sigint);
	if (srv->srv_sighup != NULL)
		event_free(srv->srv_sighup);
	if (srv->srv_watchdog != NULL)
		event_free(srv->srv_watchdog);
	if (srv->srv_http != NULL)
		evhttp_free(srv->srv_http);
	if (srv->srv_base != NULL)
		event_base_free(srv->srv_base);
	free(srv);
}
