/* metrics: request counters and histograms; GET /metrics and GET /v1/stats. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api.h"
#include "clock.h"
#include "decode.h"
#include "histogram.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#ifndef STORYD_VERSION
#define STORYD_VERSION "0.0.0"
#endif

/*
 * The status codes storyd answers with (API.md "Errors", 304 for ETags) get
 * a slot each; anything else counts under its class, "1xx" to "5xx".
 */
static const int	codes[] = {
	200, 201, 204, 304, 400, 401, 404, 405, 409, 413, 415, 422, 429, 500, 503,
};
#define NCODES		(sizeof(codes) / sizeof(codes[0]))
#define NSLOTS		(NCODES + 5)

struct endpoint {
	const char		*method, *pattern;	/* NULL: unused */
	uint64_t		 count[NSLOTS];
	struct histogram	 latency;
};

struct metrics {
	struct endpoint	 ep[METRICS_ENDPOINTS];
	double		 started;		/* epoch seconds */
};

static const char	*verdict_names[] = {
	"new_story", "joined_story", "near_duplicate", "exact_duplicate",
};

struct metrics *
metrics_new(void)
{
	struct metrics	*m = xcalloc(1, sizeof(*m));

	m->started = clock_seconds(CLOCK_REALTIME);
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

void
metrics_endpoint(struct metrics *m, unsigned i, const char *method, const char *pattern)
{
	assert(i < METRICS_ENDPOINTS);
	m->ep[i].method = method;
	m->ep[i].pattern = pattern;
}

static unsigned
code_slot(int status)
{
	for (unsigned i = 0; i < NCODES; i++)
		if (codes[i] == status)
			return i;
	if (status < 100 || status > 599)
		status = 500;
	return (unsigned)(NCODES + status / 100 - 1);
}

static void
slot_name(unsigned slot, char buf[16])
{
	if (slot < NCODES)
		snprintf(buf, 16, "%d", codes[slot]);
	else
		snprintf(buf, 16, "%uxx", slot - (unsigned)NCODES + 1);
}

void
metrics_request(struct metrics *m, unsigned endpoint, int status, double seconds)
{
	struct endpoint	*ep;

	if (m == NULL || endpoint >= METRICS_ENDPOINTS)
		return;
	ep = &m->ep[endpoint];
	ep->count[code_slot(status)]++;
	histogram_observe(&ep->latency, seconds);
}

/* Resident set size from /proc/self/statm (its second field, in pages); 0 if unreadable. */
static uint64_t
resident_bytes(void)
{
	char			 buf[128];
	unsigned long long	 size, rss;
	ssize_t			 n;
	int			 fd;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
		return 0;
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Everything but the requests, read once per scrape. */
struct figures {
	int				 ready;
	uint64_t			 rss;
	double				 now, started;
	const struct store_stats	*st;		/* NULL until recovery is done */
	size_t				 articles, clusters, groups, waiting;
	unsigned long long		 decoded_apart;
	uint64_t			 fingerprinted_apart;
	uint64_t			 evicted, log_bytes, feed_seq, feed_horizon;
	double				 recovery_secs;
	uint64_t			 recovery_records;
};

static void
figures_get(struct server *srv, struct figures *f)
{
	struct clusterer	*c;

	memset(f, 0, sizeof(*f));
	f->ready = srv->srv_store != NULL;
	f->rss = resident_bytes();
	f->now = clock_seconds(CLOCK_REALTIME);
	f->started = srv->srv_metrics->started;
	f->waiting = clusters_waiting(srv);
	f->decoded_apart = decoder_count(srv->srv_decoder);
	f->fingerprinted_apart = srv->srv_fingerprinted_apart;
	if (srv->srv_store == NULL)
		return;
	c = store_clusterer(srv->srv_store);
	f->st = store_stats(srv->srv_store);
	f->recovery_secs = srv->srv_recovery_secs;
	f->recovery_records = srv->srv_recovery_records;
	f->articles = store_count(srv->srv_store);
	f->clusters = cluster_count_stories(c);
	f->groups = cluster_count_groups(c);
	f->evicted = store_evicted(srv->srv_store);
	f->log_bytes = store_log_bytes(srv->srv_store);
	f->feed_seq = cluster_seq(c);
	f->feed_horizon = cluster_feed_horizon(c);
}

static void
text_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
text_gauge(struct evbuffer *out, const char *name, const char *type, const char *help,
    double v)
{
	text_family(out, name, type, help);
	evbuffer_add_printf(out, "%s %.17g\n", name, v);
}

/* The buckets of one histogram series; labels is "" or `a="b",` with the trailing comma. */
static void
text_histogram(struct evbuffer *out, const char *name, const char *labels,
    const struct histogram *h)
{
	uint64_t	cum = 0;

	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		cum += h->bucket[i];
		evbuffer_add_printf(out, "%s_bucket{%sle=\"%g\"} %" PRIu64 "\n", name, labels,
		    histogram_bounds[i], cum);
	}
	evbuffer_add_printf(out, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, h->count);
	if (*labels != '\0') {
		/* the same labels without the trailing comma */
		evbuffer_add_printf(out, "%s_sum{%.*s} %.9g\n%s_count{%.*s} %" PRIu64 "\n", name,
		    (int)strlen(labels) - 1, labels, h->sum, name, (int)strlen(labels) - 1, labels,
		    h->count);
	} else
		evbuffer_add_printf(out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name,
		    h->count);
}

static void
text_requests(struct evbuffer *out, const struct metrics *m)
{
	char	labels[160], code[16];

	text_family(out, "storyd_http_requests_total", "counter",
	    "Replies sent, by endpoint (route pattern) and status code.");
	for (unsigned i = 0; i < METRICS_ENDPOINTS; i++) {
		const struct endpoint *ep = &m->ep[i];

		for (unsigned s = 0; ep->method != NULL && s < NSLOTS; s++) {
			if (ep->count[s] == 0)
				continue;
			slot_name(s, code);
			evbuffer_add_printf(out, "storyd_http_requests_total{method=\"%s\","
			    "endpoint=\"%s\",code=\"%s\"} %" PRIu64 "\n", ep->method, ep->pattern, code,
			    ep->count[s]);
		}
	}
	text_family(out, "storyd_http_request_duration_seconds", "histogram",
	    "Seconds from a request's arrival to its reply being sent (long polls count their wait).");
	for (unsigned i = 0; i < METRICS_ENDPOINTS; i++) {
		const struct endpoint *ep = &m->ep[i];

		if (ep->method == NULL || ep->latency.count == 0)
			continue;
		snprintf(labels, sizeof(labels), "method=\"%s\",endpoint=\"%s\",", ep->method,
		    ep->pattern);
		text_histogram(out, "storyd_http_request_duration_seconds", labels, &ep->latency);
	}
}

static void
text_store(struct evbuffer *out, const struct figures *f)
{
	const struct store_stats	*st = f->st;

	text_family(out, "storyd_articles_ingested_total", "counter",
	    "Articles stored or replaced since start, by the status they were given.");
	for (unsigned i = 0; i <= VERDICT_EXACT_DUPLICATE; i++)
		evbuffer_add_printf(out, "storyd_articles_ingested_total{status=\"%s\"} %" PRIu64 "\n",
		    verdict_names[i], st->ingested[i]);
	text_gauge(out, "storyd_articles_fingerprinted_ahead_total", "counter",
	    "Articles fingerprinted off the loop, by the second thread or the decode thread: of "
	    "batches, of single posts stored together, and of the log replayed at start.",
	    (double)st->fingerprinted_ahead);
	text_gauge(out, "storyd_articles_fingerprinted_apart_total", "counter",
	    "Of those, articles of batches the decode thread fingerprinted as it decoded them.",
	    (double)f->fingerprinted_apart);
	text_gauge(out, "storyd_articles", "gauge", "Articles held.", (double)f->articles);
	text_gauge(out, "storyd_clusters", "gauge", "Story clusters held.", (double)f->clusters);
	text_gauge(out, "storyd_duplicate_groups", "gauge", "Duplicate groups held.",
	    (double)f->groups);
	text_gauge(out, "storyd_articles_evicted_total", "counter",
	    "Articles evicted by retention or max_articles (kept across restarts).",
	    (double)f->evicted);
	text_gauge(out, "storyd_feed_sequence", "gauge",
	    "The cluster feed's last sequence number: every cluster change takes one.",
	    (double)f->feed_seq);
	text_gauge(out, "storyd_feed_horizon", "gauge",
	    "Sequence number of the newest removal dropped from the feed (0: none).",
	    (double)f->feed_horizon);
	text_gauge(out, "storyd_log_bytes", "gauge",
	    "Bytes in the write-ahead log since the last snapshot.", (double)f->log_bytes);
	text_gauge(out, "storyd_recovery_duration_seconds", "gauge",
	    "Seconds the start's recovery took: the snapshot loaded and the log after it replayed.",
	    f->recovery_secs);
	text_gauge(out, "storyd_recovery_log_records", "gauge",
	    "Log records the start's recovery replayed.", (double)f->recovery_records);
	text_gauge(out, "storyd_recovery_fingerprints_taken", "gauge",
	    "Puts the start's recovery replayed with the fingerprint their record kept, "
	    "not analysing the text again.", (double)st->fingerprints_taken);
	text_gauge(out, "storyd_recovery_decisions_taken", "gauge",
	    "Puts the start's recovery added as their record's decision said, not deciding again.",
	    (double)st->decisions_taken);
	text_gauge(out, "storyd_log_decisions_refused_total", "counter",
	    "Logged puts whose recorded clustering decision did not fit the state replaying "
	    "them (at start, and in background snapshots), so were clustered again; 0 when "
	    "all is well.", (double)st->decisions_refused);
	text_gauge(out, "storyd_log_written_bytes_total", "counter",
	    "Bytes written to the write-ahead log since start.", (double)st->log_written);
	text_family(out, "storyd_log_fsync_duration_seconds", "histogram",
	    "Seconds per log write and fdatasync (group commit under always, the timer otherwise).");
	text_histogram(out, "storyd_log_fsync_duration_seconds", "", &st->fsync);
	text_family(out, "storyd_log_write_duration_seconds", "histogram",
	    "Seconds per write of the log's pending records, which that loop turn's replies "
	    "wait for (everysec and no; under always the fsync histogram counts it).");
	text_histogram(out, "storyd_log_write_duration_seconds", "", &st->log_write);
	if (st->snapshot_time > 0)
		text_gauge(out, "storyd_snapshot_age_seconds", "gauge",
		    "Seconds since the newest snapshot was written.", f->now - st->snapshot_time);
	text_gauge(out, "storyd_snapshot_duration_seconds", "gauge",
	    "Seconds the last background snapshot took (0: none since start).",
	    st->snapshot_duration);
	text_family(out, "storyd_snapshot_phase_seconds", "gauge",
	    "Seconds the last background snapshot spent reading the one before back, applying "
	    "the log since, and writing.");
	evbuffer_add_printf(out, "storyd_snapshot_phase_seconds{phase=\"read_back\"} %.17g\n"
	    "storyd_snapshot_phase_seconds{phase=\"apply_log\"} %.17g\n"
	    "storyd_snapshot_phase_seconds{phase=\"write\"} %.17g\n", st->snapshot_phases.load,
	    st->snapshot_phases.replay, st->snapshot_phases.write);
	text_gauge(out, "storyd_snapshot_cpu_seconds", "gauge",
	    "CPU seconds the last background snapshot used (it runs at idle priority, so its "
	    "duration says more about the machine's load than about its cost).",
	    st->snapshot_phases.cpu);
	text_gauge(out, "storyd_snapshot_cpu_seconds_total", "counter",
	    "CPU seconds every background snapshot since start used, failed ones too.",
	    st->snapshot_cpu);
	text_gauge(out, "storyd_snapshot_log_records", "gauge",
	    "Log records the last background snapshot applied again.",
	    (double)st->snapshot_phases.replayed);
	text_gauge(out, "storyd_snapshot_bytes", "gauge", "Size of the newest snapshot.",
	    (double)st->snapshot_bytes);
	text_gauge(out, "storyd_snapshot_running", "gauge",
	    "1 while a background snapshot is being written.", st->snapshot_running);
	text_gauge(out, "storyd_snapshots_total", "counter",
	    "Background snapshots written since start.", (double)st->snapshots);
	text_gauge(out, "storyd_snapshot_failures_total", "counter",
	    "Background snapshots that failed since start.", (double)st->snapshot_failures);
}

int
handle_metrics_get(struct server *srv, struct request *r, json_t **body)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(r->req);
	struct figures	 f;

	(void)body;
	figures_get(srv, &f);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	text_family(out, "storyd_build_info", "gauge", "Always 1; the labels say which storyd.");
	evbuffer_add_printf(out, "storyd_build_info{version=\"%s\"} 1\n", STORYD_VERSION);
	text_gauge(out, "storyd_ready", "gauge", "1 once recovery from disk is done.", f.ready);
	text_gauge(out, "process_start_time_seconds", "gauge",
	    "Start time of the process since the epoch, in seconds.", f.started);
	text_gauge(out, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", (double)f.rss);
	text_gauge(out, "storyd_feed_long_polls", "gauge",
	    "GET /v1/clusters?wait= requests waiting for a change.", (double)f.waiting);
	text_gauge(out, "storyd_bodies_decoded_apart_total", "counter",
	    "Request bodies of 64 KiB or more (batches) decoded by the decode thread, not the loop.",
	    (double)f.decoded_apart);
	text_requests(out, srv->srv_metrics);
	if (f.st != NULL)
		text_store(out, &f);
	return 200;
}

static json_t *
histogram_json(const struct histogram *h)
{
	json_t		*buckets = json_object();
	uint64_t	 cum = 0;
	char		 le[32];

	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		cum += h->bucket[i];
		snprintf(le, sizeof(le), "%g", histogram_bounds[i]);
		json_object_set_new(buckets, le, json_integer((json_int_t)cum));
	}
	json_object_set_new(buckets, "+Inf", json_integer((json_int_t)h->count));
	return json_pack("{s:I,s:f,s:o}", "count", (json_int_t)h->count, "sum_seconds", h->sum,
	    "buckets", buckets);
}

static json_t *
requests_json(const struct metrics *m)
{
	json_t	*list = json_array(), *codes_obj;
	char	 code[16];

	for (unsigned i = 0; i < METRICS_ENDPOINTS; i++) {
		const struct endpoint *ep = &m->ep[i];

		if (ep->method == NULL || ep->latency.count == 0)
			continue;
		codes_obj = json_object();
		for (unsigned s = 0; s < NSLOTS; s++) {
			if (ep->count[s] == 0)
				continue;
			slot_name(s, code);
			json_object_set_new(codes_obj, code, json_integer((json_int_t)ep->count[s]));
		}
		json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:o}", "method", ep->method,
		    "endpoint", ep->pattern, "codes", codes_obj,
		    "latency", histogram_json(&ep->latency)));
	}
	return list;
}

int
handle_stats_get(struct server *srv, struct request *r, json_t **body)
{
	const struct store_stats	*st;
	struct figures			 f;
	json_t				*ingested;

	(void)r;
	figures_get(srv, &f);
	*body = json_pack("{s:s,s:b,s:o,s:f,s:{s:I},s:{s:I},s:o}",
	    "version", STORYD_VERSION,
	    "ready", f.ready,
	    "started_at", api_time_json((int64_t)f.started),
	    "uptime_seconds", f.now - f.started,
	    "memory", "resident_bytes", (json_int_t)f.rss,
	    "long_polls", "waiting", (json_int_t)f.waiting,
	    "requests", requests_json(srv->srv_metrics));
	if ((st = f.st) == NULL)
		return 200;
	ingested = json_object();
	for (unsigned i = 0; i <= VERDICT_EXACT_DUPLICATE; i++)
		json_object_set_new(ingested, verdict_names[i], json_integer((json_int_t)st->ingested[i]));
	json_object_set_new(*body, "articles", json_pack("{s:I,s:o,s:I}",
	    "held", (json_int_t)f.articles, "ingested", ingested,
	    "evicted", (json_int_t)f.evicted));
	json_object_set_new(*body, "clusters", json_pack("{s:I,s:I,s:I,s:I}",
	    "held", (json_int_t)f.clusters, "duplicate_groups", (json_int_t)f.groups,
	    "feed_sequence", (json_int_t)f.feed_seq, "feed_horizon", (json_int_t)f.feed_horizon));
	json_object_set_new(*body, "log", json_pack("{s:I,s:I,s:o,s:o}",
	    "bytes", (json_int_t)f.log_bytes, "written_bytes", (json_int_t)st->log_written,
	    "fsync", histogram_json(&st->fsync), "write", histogram_json(&st->log_write)));
	json_object_set_new(*body, "recovery", json_pack("{s:f,s:I,s:I,s:I}",
	    "duration_seconds", f.recovery_secs, "log_records", (json_int_t)f.recovery_records,
	    "fingerprints_taken", (json_int_t)st->fingerprints_taken,
	    "decisions_taken", (json_int_t)st->decisions_taken));
	json_object_set_new(*body, "snapshot",
	    json_pack("{s:o,s:f,s:f,s:f,s:{s:f,s:f,s:f,s:I},s:I,s:b,s:I,s:I}",
	    "age_seconds", st->snapshot_time > 0 ? json_real(f.now - st->snapshot_time) : json_null(),
	    "duration_seconds", st->snapshot_duration,
	    "cpu_seconds", st->snapshot_phases.cpu,
	    "cpu_seconds_total", st->snapshot_cpu,
	    "phases", "read_back_seconds", st->snapshot_phases.load,
	    "apply_log_seconds", st->snapshot_phases.replay,
	    "write_seconds", st->snapshot_phases.write,
	    "log_records", (json_int_t)st->snapshot_phases.replayed,
	    "bytes", (json_int_t)st->snapshot_bytes,
	    "running", st->snapshot_running,
	    "written", (json_int_t)st->snapshots,
	    "failed", (json_int_t)st->snapshot_failures));
	return 200;
}
