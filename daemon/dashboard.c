/*
 * dashboard: GET / serves daemon/dashboard.html, built into the binary by
 * tools/embed.py (no files to install, no external assets). The page is
 * plain JavaScript on the public API: the cluster feed's long polls, one
 * cluster's articles, /v1/stats.
 */
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "http.h"

extern const unsigned char	dashboard_html[];
extern const size_t		dashboard_html_len;
extern const char		dashboard_html_etag[];

int
handle_dashboard_get(struct server *srv, struct request *r, json_t **body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(r->req);

	(void)srv;
	(void)body;
	if (http_etag(r, dashboard_html_etag))
		return 304;
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	/* everything the page needs is inline; it talks to this origin only */
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; "
	    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
	    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	/* static bytes: the buffer refers to them rather than copying */
	evbuffer_add_reference(evhttp_request_get_output_buffer(r->req), dashboard_html,
	    dashboard_html_len, NULL, NULL);
	return 200;
}
