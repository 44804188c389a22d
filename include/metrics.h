/*
 * metrics: what storyd tells operators, in two shapes with the same figures:
 * GET /metrics (the Prometheus text exposition format, version 0.0.4) and
 * GET /v1/stats (JSON). Requests are counted where their replies are sent, in
 * fixed arrays indexed by endpoint (a route of the table, not the raw path)
 * and status code, with a latency histogram per endpoint: recording a reply
 * is a few additions and never allocates. Everything else (articles,
 * clusters, the log, snapshots, memory) is read when a scrape asks.
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "http.h"

#define METRICS_ENDPOINTS	32	/* routes plus the HTTP_ENDPOINT_* pseudo-endpoints */

struct metrics;

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);		/* NULL is a no-op */

/* Name endpoint i for the labels: method "GET", pattern "/v1/articles/{id}". Borrowed: static strings. */
void	metrics_endpoint(struct metrics *, unsigned i, const char *method, const char *pattern);

/* One reply sent. */
void	metrics_request(struct metrics *, unsigned endpoint, int status, double seconds);

route_fn	handle_metrics_get, handle_stats_get;
