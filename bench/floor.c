/*
 * bench/floor: the HTTP floor for storyd's ingest. An evhttp server with
 * storyd's limits that reads each request body whole, decodes it with
 * jansson under storyd's flags, and answers a fixed small JSON object.
 * Whatever storyd costs beyond this is storyd's own work. storyd decodes a
 * body's long strings itself and leaves the rest to jansson
 * (daemon/request.c), a fifth of jansson's time for a 2 KB article; the
 * floor keeps jansson, the reference cost of decoding a JSON body the
 * targets were set against, unless -l asks for storyd's way
 * (request_json_load()), for the floor storyd could be held to instead.
 *
 * It listens on 127.0.0.1, port 0 by default, prints "listening on
 * ADDR:PORT" on stdout once bound, and stops on SIGTERM, SIGINT or after -t
 * seconds (default 3600).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "request.h"

static const char	reply_ok[] = "{\"status\":\"ok\"}\n";
static const char	reply_bad[] = "{\"error\":{\"code\":\"malformed_json\"}}\n";
static int		lifted;	/* -l: decode as storyd does */

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	size_t		 len = evbuffer_get_length(in);
	unsigned char	*p = evbuffer_pullup(in, -1);
	json_error_t	 err;
	struct api_error	 aerr;
	json_t		*doc = NULL;
	int		 status = 200;

	(void)arg;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		if (lifted)
			status = request_json_load(p, len, 32, &doc, &aerr) == 0 ? 200 : 400;
		else if ((doc = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES |
		    JSON_DECODE_ANY, &err)) == NULL)
			status = 400;
		json_decref(doc);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	if (status == 200)
		evbuffer_add(out, reply_ok, sizeof(reply_ok) - 1);
	else
		evbuffer_add(out, reply_bad, sizeof(reply_bad) - 1);
	evhttp_send_reply(req, status, NULL, out);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct event_base		*base;
	struct event_config		*cfg;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	struct event			*sigterm, *sigint, *timer;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof(sin);
	struct timeval			 limit = { 3600, 0 };
	unsigned			 port = 0;
	int				 ch;

	while ((ch = getopt(argc, argv, "lp:t:h")) != -1) {
		switch (ch) {
		case 'l': lifted = 1; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': limit.tv_sec = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: floor [-l] [-p PORT] [-t SECONDS]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* storyd's own settings: its event base (daemon/server.c loop_base_new) */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) != 0 ||
	    (base = event_base_new_with_config(cfg)) == NULL || (http = evhttp_new(base)) == NULL)
		return 1;
	event_config_free(cfg);
	/* and its HTTP settings (daemon/http.c http_setup) */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(http, 16 << 20);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_timeout(http, 30);
	evhttp_set_gencb(http, on_request, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port)) == NULL) {
		fprintf(stderr, "floor: cannot bind 127.0.0.1:%u\n", port);
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) != 0)
		return 1;
	printf("listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	sigterm = evsignal_new(base, SIGTERM, on_stop, base);
	sigint = evsignal_new(base, SIGINT, on_stop, base);
	timer = evtimer_new(base, on_stop, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evtimer_add(timer, &limit);
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	event_free(timer);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
