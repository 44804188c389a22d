/*
 * bench/loadgen: an HTTP/1.1 load generator for storyd and bench/floor.
 * One thread, epoll, non-blocking sockets, keep-alive connections with one
 * request in flight each. Articles are synthetic (bench/corpus.h), each with
 * a fresh id, made as they are sent or, with -A, before the run: made ahead,
 * a request costs loadgen a copy and its system calls, and the CPU it
 * shares with the server on a small machine goes to the server instead
 * (making a 2 KB article is ~12 us, more than storyd's whole reply path).
 *
 *   ingest  POST /v1/articles with -b articles per request (1: a bare
 *           article; more: {"articles": [...]}). Closed loop (each
 *           connection sends again as soon as it has its answer), or open
 *           loop with -r: requests are due at a fixed rate and latency counts
 *           from when each was due, so a slow server cannot hide its queue.
 *   mix     the load test: posts (single, batches of 10 and now and then of
 *           MIX_LARGE_BATCH, a body the server decodes on its own thread), /v1/similar,
 *           cluster polls, GETs and DELETEs of acknowledged articles, for -d
 *           seconds, reconnecting when the server goes away (kill -9 and
 *           restart); then it waits for /readyz and checks that every
 *           acknowledged article still held is there and every
 *           acknowledged delete stayed deleted.
 *   ready   wait (at most -d seconds) until GET /readyz answers 200.
 *
 * It prints a summary and one "RESULT key=value ..." line for scripts.
 * Every loop is bounded: by -d seconds, -n requests, and a 10 s drain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "corpus.h"

enum mode { MODE_INGEST, MODE_MIX, MODE_READY };

enum op {
	OP_POST,	/* POST /v1/articles, req_n articles from req_seq on */
	OP_SIMILAR,
	OP_POLL,
	OP_GET,
	OP_DELETE,
	OP_READY,
	OP_VERIFY,	/* GET of an article whose fate is known */
	NOPS,
};

static const char *const op_names[NOPS] = {
	"post", "similar", "poll", "get", "delete", "ready", "verify",
};

/* What the load test knows of each article it ever sent, by sequence number. */
enum {
	ART_SENT	= 1 << 0,
	ART_ACKED	= 1 << 1,	/* a 2xx said it is stored */
	ART_DEL_SENT	= 1 << 2,
	ART_DEL_ACKED	= 1 << 3,	/* a 204 said it is gone */
	ART_REFUSED	= 1 << 4,	/* an answer other than 2xx: not stored */
};

#define NCODES	16	/* error codes counted, by the "code" of the JSON error */
#define MIX_LARGE_BATCH	40	/* ~136 KB: past storyd's 64 KiB, so decoded apart (daemon/decode.c) */

struct buf {
	char	*p;
	size_t	 n, cap;
};

enum cstate { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
	int		 fd;
	enum cstate	 state;
	struct buf	 out, in;
	size_t		 out_off;
	double		 retry_at;	/* C_DOWN: reconnect then */
	enum op		 op;
	uint64_t	 seq;		/* first article of the request */
	unsigned	 n;		/* articles in it */
	double		 t_due;		/* when it was due (open loop) or sent */
};

struct counts {
	uint64_t	ok, notfound, conflict, client, overload, server, lost;
};

struct lg {
	enum mode		 mode;
	struct sockaddr_in	 addr;
	unsigned		 nconns, batch;
	double			 duration, rate, warmup;
	uint64_t		 max_requests;
	const char		*prefix;
	uint32_t		 max_articles;	/* mix: the server's bound, for what must be held */
	int			 verbose;

	struct conn		*conns;
	int			 ep;
	double			 t0, t_end, t_next_due;
	uint64_t		 sent, completed;
	int			 stopping;

	struct synth		*synth;
	struct buf		 body;
	uint64_t		 next_seq;
	/*
	 * -A: articles 0..nmade made before the run, each followed by a comma,
	 * back to back in made, so that a batch of them is one range of it.
	 */
	struct buf		 made;
	size_t			*made_at;	/* nmade + 1 offsets into made */
	uint64_t		 nmade, made_live;	/* made live: past nmade */
	double			 cpu;		/* loadgen's CPU seconds in the run, warm-up included */
	uint64_t		 rng;

	/* results */
	double			*lat;
	size_t			 nlat, lat_cap;
	uint64_t		 measured_req, measured_art;
	double			 t_meas0, t_meas1;
	struct counts		 c[NOPS];
	uint64_t		 connect_failures;
	char			 code_name[NCODES][40];
	uint64_t		 code_n[NCODES];
	int			 code_status[NCODES];

	/* mix */
	uint8_t			*art;
	uint64_t		*acked;		/* acked seqs, for GET and DELETE picks */
	size_t			 nacked, acked_cap;
	uint64_t		 cursor;
	uint64_t		 ready_seen;
	uint64_t		*verify;
	size_t			 nverify, verify_next;
};

static void
die(const char *msg)
{
	fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static void
buf_reserve(struct buf *b, size_t n)
{
	if (b->n + n + 1 <= b->cap)
		return;
	b->cap = (b->n + n + 1) * 2;
	if ((b->p = realloc(b->p, b->cap)) == NULL)
		die("realloc");
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void
buf_json_str(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n * 6 + 2);
	b->p[b->n++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char	ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			b->p[b->n++] = '\\';
			b->p[b->n++] = (char)ch;
		} else if (ch < 0x20)
			b->n += (size_t)sprintf(b->p + b->n, "\\u%04x", ch);
		else
			b->p[b->n++] = (char)ch;
	}
	b->p[b->n++] = '"';
	b->p[b->n] = '\0';
}

static double
now(void)
{
	return now_sec();
}

static void
rfc3339(int64_t t, char out[32])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One synthetic article as JSON; with_id: the id prefix-seq. */
static void
article_json(struct lg *g, struct buf *b, uint64_t seq, int with_id)
{
	struct synth_article	a;
	char			id[64], ts[32];

	synth_next(g->synth, &a);
	rfc3339(a.published, ts);
	buf_str(b, "{");
	if (with_id) {
		snprintf(id, sizeof(id), "%s%llu", g->prefix, (unsigned long long)seq);
		buf_str(b, "\"id\":\"");
		buf_str(b, id);
		buf_str(b, "\",");
	}
	buf_str(b, "\"title\":");
	buf_json_str(b, a.title, a.title_len);
	buf_str(b, ",\"body\":");
	buf_json_str(b, a.body, a.body_len);
	buf_str(b, ",\"source\":");
	buf_json_str(b, a.source, a.source_len);
	buf_str(b, ",\"published_at\":\"");
	buf_str(b, ts);
	buf_str(b, "\"}");
}

static void
request(struct conn *c, const char *method, const char *path, const struct buf *body)
{
	char	head[512];
	int	n;

	c->out.n = 0;
	c->out_off = 0;
	if (body != NULL)
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", method, path,
		    body->n);
	else
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method,
		    path);
	buf_add(&c->out, head, (size_t)n);
	if (body != NULL)
		buf_add(&c->out, body->p, body->n);
}

/* Make articles 0..n as post_articles() would send them, before the run. */
static void
make_ahead(struct lg *g, uint64_t n)
{
	if ((g->made_at = malloc((n + 1) * sizeof(*g->made_at))) == NULL)
		die("malloc");
	for (uint64_t seq = 0; seq < n; seq++) {
		g->made_at[seq] = g->made.n;
		article_json(g, &g->made, seq, 1);
		buf_add(&g->made, ",", 1);
	}
	g->made_at[n] = g->made.n;
	g->nmade = n;
}

static void
post_articles(struct lg *g, struct conn *c, unsigned n)
{
	g->body.n = 0;
	c->op = OP_POST;
	c->seq = g->next_seq;
	c->n = n;
	if (n > 1)
		buf_str(&g->body, "{\"articles\":[");
	if (g->next_seq + n <= g->nmade) {
		size_t	from = g->made_at[g->next_seq];

		/* made ahead: one range, without its last comma */
		buf_add(&g->body, g->made.p + from, g->made_at[g->next_seq + n] - from - 1);
		g->next_seq += n;
	} else {
		if (g->nmade > 0)
			g->made_live += n;
		for (unsigned i = 0; i < n; i++) {
			if (i > 0)
				buf_str(&g->body, ",");
			article_json(g, &g->body, g->next_seq, 1);
			if (g->art != NULL)
				g->art[g->next_seq] |= ART_SENT;
			g->next_seq++;
		}
	}
	if (n > 1)
		buf_str(&g->body, "]}");
	request(c, "POST", "/v1/articles", &g->body);
}

static uint64_t
pick_acked(struct lg *g, int *ok)
{
	/* a few tries at an article acked and not yet sent a delete */
	for (int t = 0; t < 8 && g->nacked > 0; t++) {
		size_t		i = rng_below(&g->rng, g->nacked);
		uint64_t	seq = g->acked[i];

		if (!(g->art[seq] & ART_DEL_SENT)) {
			*ok = 1;
			return seq;
		}
		g->acked[i] = g->acked[--g->nacked];	/* deleted: no longer a pick */
	}
	*ok = 0;
	return 0;
}

static void
article_path(struct lg *g, uint64_t seq, char *path, size_t len)
{
	snprintf(path, len, "/v1/articles/%s%llu", g->prefix, (unsigned long long)seq);
}

/* The mix of the load test: what a busy newsroom sends while dashboards poll. */
static void
next_mix(struct lg *g, struct conn *c)
{
	unsigned	r = (unsigned)rng_below(&g->rng, 100);
	char		path[128];
	uint64_t	seq;
	int		ok;

	if (r < 50) {
		post_articles(g, c, 1);
	} else if (r < 57) {
		post_articles(g, c, 10);
	} else if (r < 58) {
		post_articles(g, c, MIX_LARGE_BATCH);
	} else if (r < 70) {
		g->body.n = 0;
		article_json(g, &g->body, 0, 0);
		c->op = OP_SIMILAR;
		request(c, "POST", "/v1/similar", &g->body);
	} else if (r < 85) {
		snprintf(path, sizeof(path), "/v1/clusters?since=%llu&limit=100",
		    (unsigned long long)g->cursor);
		c->op = OP_POLL;
		request(c, "GET", path, NULL);
	} else if (r < 92 && (seq = pick_acked(g, &ok), ok)) {
		article_path(g, seq, path, sizeof(path));
		c->op = OP_GET;
		c->seq = seq;
		request(c, "GET", path, NULL);
	} else if ((seq = pick_acked(g, &ok), ok)) {
		article_path(g, seq, path, sizeof(path));
		g->art[seq] |= ART_DEL_SENT;
		c->op = OP_DELETE;
		c->seq = seq;
		request(c, "DELETE", path, NULL);
	} else
		post_articles(g, c, 1);
}

/* Fill c with its next request; 0 when there is none now. */
static int
next_request(struct lg *g, struct conn *c, double t)
{
	char	path[128];

	if (g->stopping || (g->max_requests > 0 && g->sent >= g->max_requests))
		return 0;
	switch (g->mode) {
	case MODE_INGEST:
		if (g->rate > 0) {
			if (t < g->t_next_due)
				return 0;
			c->t_due = g->t_next_due;
			g->t_next_due += 1.0 / g->rate;
		} else
			c->t_due = t;
		post_articles(g, c, g->batch);
		break;
	case MODE_MIX:
		c->t_due = t;
		if (g->verify != NULL) {
			if (g->verify_next == g->nverify)
				return 0;
			c->op = OP_VERIFY;
			c->seq = g->verify[g->verify_next++];
			article_path(g, c->seq, path, sizeof(path));
			request(c, "GET", path, NULL);
		} else
			next_mix(g, c);
		break;
	case MODE_READY:
		if (g->ready_seen)
			return 0;
		c->t_due = t;
		c->op = OP_READY;
		request(c, "GET", "/readyz", NULL);
		break;
	}
	g->sent++;
	return 1;
}

static void
lat_add(struct lg *g, double v)
{
	if (g->nlat == g->lat_cap) {
		g->lat_cap = g->lat_cap ? g->lat_cap * 2 : 65536;
		if ((g->lat = realloc(g->lat, g->lat_cap * sizeof(*g->lat))) == NULL)
			die("realloc");
	}
	g->lat[g->nlat++] = v;
}

static void
acked_add(struct lg *g, uint64_t seq)
{
	g->art[seq] |= ART_ACKED;
	if (g->nacked == g->acked_cap) {
		g->acked_cap = g->acked_cap ? g->acked_cap * 2 : 65536;
		if ((g->acked = realloc(g->acked, g->acked_cap * sizeof(*g->acked))) == NULL)
			die("realloc");
	}
	g->acked[g->nacked++] = seq;
}

/* A batch's 200: each result without "error" is an acknowledged article. */
static void
batch_acks(struct lg *g, struct conn *c, const char *body, size_t len)
{
	json_t	*doc = json_loadb(body, len, 0, NULL), *res = json_object_get(doc, "results");
	size_t	 i;

	for (i = 0; i < c->n && i < json_array_size(res); i++)
		if (json_object_get(json_array_get(res, i), "error") == NULL)
			acked_add(g, c->seq + i);
		else
			g->art[c->seq + i] |= ART_REFUSED;
	json_decref(doc);
}

/* Count an error answer by status and its JSON error code ("not_ready", ...). */
static void
code_count(struct lg *g, int status, const char *body, size_t len)
{
	const char	*p = memmem(body, len, "\"code\":\"", 8), *e;
	char		 name[40] = "-";
	int		 i;

	if (p != NULL && (e = memchr(p + 8, '"', len - (size_t)(p + 8 - body))) != NULL)
		snprintf(name, sizeof(name), "%.*s", (int)(e - p - 8), p + 8);
	for (i = 0; i < NCODES && g->code_n[i] > 0; i++)
		if (g->code_status[i] == status && strcmp(g->code_name[i], name) == 0)
			break;
	if (i == NCODES)
		return;
	snprintf(g->code_name[i], sizeof(g->code_name[i]), "%s", name);
	g->code_status[i] = status;
	g->code_n[i]++;
}

static void
poll_cursor(struct lg *g, const char *body, size_t len)
{
	json_t	*doc = json_loadb(body, len, 0, NULL), *next = json_object_get(doc, "next");

	if (json_is_integer(next) && (uint64_t)json_integer_value(next) > g->cursor)
		g->cursor = (uint64_t)json_integer_value(next);
	json_decref(doc);
}

static void
on_reply(struct lg *g, struct conn *c, int status, const char *body, size_t len, double t)
{
	struct counts	*k = &g->c[c->op];
	int		 ok = status >= 200 && status < 300;

	g->completed++;
	if (ok)
		k->ok++;
	else if (status == 404)
		k->notfound++;
	else if (status == 409)
		k->conflict++;
	else if (status == 429 || status == 503)
		k->overload++;
	else if (status >= 500)
		k->server++;
	else
		k->client++;
	if (!ok && status != 404)
		code_count(g, status, body, len);
	if (g->verbose && !ok && status != 404 && !(status == 503 && c->op != OP_POST))
		fprintf(stderr, "loadgen: %s -> %d %.*s\n", op_names[c->op], status,
		    (int)(len > 200 ? 200 : len), body);

	if (g->mode == MODE_INGEST && t >= g->t_meas0 && c->t_due >= g->t_meas0 &&
	    c->t_due < g->t_meas1) {
		lat_add(g, t - c->t_due);
		g->measured_req++;
		if (ok)
			g->measured_art += c->n;
	}
	if (g->mode == MODE_READY && status == 200)
		g->ready_seen = 1;
	if (g->mode != MODE_MIX)
		return;
	switch (c->op) {
	case OP_POST:
		if (ok && c->n == 1)
			acked_add(g, c->seq);
		else if (ok)
			batch_acks(g, c, body, len);
		else
			for (unsigned i = 0; i < c->n; i++)
				g->art[c->seq + i] |= ART_REFUSED;
		break;
	case OP_DELETE:
		if (status == 204)
			g->art[c->seq] |= ART_DEL_ACKED;
		else if (status != 404)	/* refused: still held, and checked as such */
			g->art[c->seq] &= (uint8_t)~ART_DEL_SENT;
		break;
	case OP_POLL:
		if (status == 200)
			poll_cursor(g, body, len);
		break;
	default:
		break;
	}
	if (c->op == OP_VERIFY)
		k->lost += (g->art[c->seq] & ART_DEL_ACKED) ? status != 404 : status != 200;
}

static void
conn_close(struct lg *g, struct conn *c, double retry_after)
{
	if (c->fd >= 0) {
		epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_DOWN;
	c->retry_at = now() + retry_after;
	c->in.n = 0;
}

/* The request in flight got no answer: its outcome is unknown. */
static void
conn_fail(struct lg *g, struct conn *c)
{
	if (c->state == C_BUSY) {
		g->c[c->op].lost++;
		g->completed++;
		/* a verification whose answer was lost is asked again */
		if (c->op == OP_VERIFY && g->verify_next > 0)
			g->verify[--g->verify_next] = c->seq;
	} else
		g->connect_failures++;
	conn_close(g, c, 0.02);
}

static void
conn_open(struct lg *g, struct conn *c)
{
	struct epoll_event	ev = { .events = EPOLLOUT, .data.ptr = c };
	int			one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) == -1 &&
	    errno != EINPROGRESS) {
		g->connect_failures++;
		close(c->fd);
		c->fd = -1;
		c->retry_at = now() + 0.02;
		return;
	}
	c->state = C_CONNECTING;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
want(struct lg *g, struct conn *c, uint32_t events)
{
	struct epoll_event	ev = { .events = events, .data.ptr = c };

	epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_write(struct lg *g, struct conn *c)
{
	while (c->out_off < c->out.n) {
		ssize_t	w = send(c->fd, c->out.p + c->out_off, c->out.n - c->out_off, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			want(g, c, EPOLLIN | EPOLLOUT);
			return;
		}
		if (w < 0) {
			conn_fail(g, c);
			return;
		}
		c->out_off += (size_t)w;
	}
	want(g, c, EPOLLIN);
}

static void
conn_send(struct lg *g, struct conn *c, double t)
{
	if (!next_request(g, c, t))
		return;
	c->state = C_BUSY;
	c->in.n = 0;
	conn_write(g, c);
}

/* A complete reply at the start of c->in: its length, or 0 when more is needed. */
static size_t
reply_parse(struct conn *c, int *status, size_t *body_off, size_t *body_len, int *close_after)
{
	char	*end, *h, *line;
	size_t	 head, clen = 0;

	if (c->in.p == NULL || (end = memmem(c->in.p, c->in.n, "\r\n\r\n", 4)) == NULL)
		return 0;
	head = (size_t)(end - c->in.p) + 4;
	*status = atoi(c->in.p + 9);
	*close_after = 0;
	for (line = c->in.p; line < end; line = h + 2) {
		/* the line's CRLF; the last line's is the one at end */
		for (h = line; h < end && !(h[0] == '\r' && h[1] == '\n'); h++)
			;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtoull(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close") != NULL &&
		    (size_t)(strstr(line, "close") - line) < (size_t)(h - line))
			*close_after = 1;
	}
	if (c->in.n < head + clen)
		return 0;
	*body_off = head;
	*body_len = clen;
	return head + clen;
}

static void
conn_read(struct lg *g, struct conn *c)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t	r;

		buf_reserve(&c->in, 65536);
		r = recv(c->fd, c->in.p + c->in.n, c->in.cap - c->in.n - 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			conn_fail(g, c);
			return;
		}
		c->in.n += (size_t)r;
		c->in.p[c->in.n] = '\0';
	}
	if (c->state != C_BUSY) {	/* bytes nobody asked for */
		conn_fail(g, c);
		return;
	}
	int	status, close_after;
	size_t	off, len, used = reply_parse(c, &status, &off, &len, &close_after);
	double	t = now();

	if (used == 0)
		return;
	on_reply(g, c, status, c->in.p + off, len, t);
	/* one request in flight: more bytes than its answer mean a confused peer */
	if (close_after || used != c->in.n) {
		conn_close(g, c, 0);
		return;
	}
	c->state = C_IDLE;
	conn_send(g, c, t);
}

static void
on_event(struct lg *g, struct conn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int		err = 0;
		socklen_t	len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			conn_fail(g, c);
			return;
		}
		c->state = C_IDLE;
		want(g, c, EPOLLIN);
		conn_send(g, c, now());
		return;
	}
	if (c->state == C_BUSY && (events & EPOLLOUT) && c->out_off < c->out.n)
		conn_write(g, c);
	if (c->fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(g, c);
}

static int
busy(const struct lg *g)
{
	for (unsigned i = 0; i < g->nconns; i++)
		if (g->conns[i].state == C_BUSY)
			return 1;
	return 0;
}

/* Run until the duration is over (then at most 10 s more for answers in flight). */
static void
run(struct lg *g, double duration)
{
	struct epoll_event	evs[256];
	struct timespec		ts;
	double			t;

	g->t0 = now();
	g->t_end = g->t0 + duration;
	g->t_next_due = g->t0;
	g->stopping = 0;
	for (unsigned i = 0; i < g->nconns; i++) {
		g->conns[i].fd = -1;
		g->conns[i].state = C_DOWN;
		g->conns[i].retry_at = g->t0;
	}
	for (;;) {
		double	timeout = 0.05;
		int	n;

		t = now();
		if (!g->stopping && t >= g->t_end)
			g->stopping = 1;
		if (g->stopping && (!busy(g) || t >= g->t_end + 10))
			break;
		if (g->mode == MODE_READY && g->ready_seen)
			break;
		if (g->mode == MODE_INGEST && g->max_requests > 0 && g->sent >= g->max_requests &&
		    !busy(g))
			break;
		if (g->mode == MODE_MIX && g->verify != NULL && g->verify_next == g->nverify &&
		    !busy(g))
			break;
		for (unsigned i = 0; i < g->nconns; i++) {
			struct conn	*c = &g->conns[i];

			if (c->state == C_DOWN && !g->stopping && t >= c->retry_at)
				conn_open(g, c);
			else if (c->state == C_IDLE)
				conn_send(g, c, t);
		}
		/*
		 * A request already due here has no idle connection to go out on:
		 * it waits for an answer, as epoll_pwait2 does. With a timeout of
		 * 0 loadgen spun until one came, on the cores the server shares
		 * with it, and took them from the server just when it was behind.
		 */
		if (g->rate > 0 && g->t_next_due > t && g->t_next_due - t < timeout)
			timeout = g->t_next_due - t;
		/*
		 * Nanoseconds, not epoll_wait's milliseconds: rounded up to a whole
		 * millisecond, an open-loop request went out up to 1 ms after it was
		 * due, and that lateness counted as the server's latency.
		 */
		ts.tv_sec = (time_t)timeout;
		ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
		n = epoll_pwait2(g->ep, evs, 256, &ts, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			on_event(g, evs[i].data.ptr, evs[i].events);
	}
	for (unsigned i = 0; i < g->nconns; i++)
		if (g->conns[i].fd >= 0) {
			if (g->conns[i].state == C_BUSY)
				g->c[g->conns[i].op].lost++;
			conn_close(g, &g->conns[i], 0);
		}
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(const double *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return NAN;
	i = (size_t)ceil(p * (double)n) - 1;
	return v[i >= n ? n - 1 : i];
}

static void
counts_print(const struct lg *g)
{
	printf("%-8s %9s %9s %9s %9s %9s %9s %9s\n", "op", "2xx", "404", "409", "4xx", "429/503",
	    "other5xx", "no-answer");
	for (int o = 0; o < NOPS; o++) {
		const struct counts *k = &g->c[o];

		if (k->ok + k->notfound + k->conflict + k->client + k->overload + k->server + k->lost)
			printf("%-8s %9llu %9llu %9llu %9llu %9llu %9llu %9llu\n", op_names[o],
			    (unsigned long long)k->ok, (unsigned long long)k->notfound,
			    (unsigned long long)k->conflict, (unsigned long long)k->client,
			    (unsigned long long)k->overload, (unsigned long long)k->server,
			    (unsigned long long)k->lost);
	}
}

static void
codes_print(const struct lg *g)
{
	for (int i = 0; i < NCODES && g->code_n[i] > 0; i++)
		printf("  error answers %d %s: %llu\n", g->code_status[i], g->code_name[i],
		    (unsigned long long)g->code_n[i]);
}

static int
report_ingest(struct lg *g)
{
	double		span = g->t_meas1 - g->t_meas0;
	uint64_t	errors = 0;

	qsort(g->lat, g->nlat, sizeof(*g->lat), cmp_double);
	for (int o = 0; o < NOPS; o++)
		errors += g->c[o].client + g->c[o].server + g->c[o].conflict + g->c[o].notfound;
	printf("%u connections, %u articles per request, %s, %.1f s measured after %.1f s warm-up\n",
	    g->nconns, g->batch, g->rate > 0 ? "open loop" : "closed loop", span, g->warmup);
	if (g->rate > 0)
		printf("offered rate %.0f requests/s\n", g->rate);
	printf("%.0f requests/s, %.0f articles/s; latency ms p50 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
	    g->measured_req / span, g->measured_art / span, pct(g->lat, g->nlat, .5) * 1e3,
	    pct(g->lat, g->nlat, .99) * 1e3, pct(g->lat, g->nlat, .999) * 1e3,
	    g->nlat ? g->lat[g->nlat - 1] * 1e3 : NAN);
	counts_print(g);
	codes_print(g);
	if (g->made_live > 0)
		printf("%llu articles made live: -A %llu was too few\n",
		    (unsigned long long)g->made_live, (unsigned long long)g->nmade);
	printf("RESULT req_s=%.1f art_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f errors=%llu "
	    "overload=%llu lost=%llu made_live=%llu cpu_s=%.2f\n", g->measured_req / span,
	    g->measured_art / span, pct(g->lat, g->nlat, .5) * 1e3, pct(g->lat, g->nlat, .99) * 1e3,
	    pct(g->lat, g->nlat, .999) * 1e3, (unsigned long long)errors,
	    (unsigned long long)g->c[OP_POST].overload, (unsigned long long)g->c[OP_POST].lost,
	    (unsigned long long)g->made_live, g->cpu);
	return errors == 0 ? 0 : 1;
}

/* After the mix: wait for the (restarted) server, then ask for every article whose fate is known. */
static int
verify(struct lg *g, double ready_timeout)
{
	uint64_t	must = 0, gone = 0, maybe = 0, server5xx = 0;
	struct lg	r = *g;
	int		pass;

	for (int o = 0; o < NOPS; o++)
		server5xx += g->c[o].server;
	/* wait for /readyz on one connection */
	r.mode = MODE_READY;
	r.nconns = 1;
	r.ready_seen = 0;
	run(&r, ready_timeout);
	if (!r.ready_seen) {
		printf("verify: the server did not become ready within %.0f s\n", ready_timeout);
		return 1;
	}
	g->verify = malloc((g->next_seq + 1) * sizeof(*g->verify));
	if (g->verify == NULL)
		die("malloc");
	/*
	 * Publication times rise one second per article sent, so eviction
	 * (oldest first) can only have taken an article with max_articles or
	 * more newer ones possibly stored (all but those refused); a margin
	 * covers articles in flight.
	 */
	uint64_t newer = 0;

	for (uint64_t s = g->next_seq; s-- > 0; ) {
		uint8_t	a = g->art[s];

		if (a & ART_DEL_ACKED) {
			g->verify[g->nverify++] = s;
			gone++;
		} else if ((a & ART_ACKED) && !(a & ART_DEL_SENT)) {
			if (newer + 16 < g->max_articles) {
				g->verify[g->nverify++] = s;
				must++;
			} else
				maybe++;
		}
		if ((a & ART_SENT) && !(a & ART_REFUSED))
			newer++;
	}
	memset(&g->c[OP_VERIFY], 0, sizeof(g->c[OP_VERIFY]));
	g->stopping = 0;
	run(g, 120);
	{
		struct counts	*k = &g->c[OP_VERIFY];
		uint64_t	 done = k->ok + k->notfound;

		printf("verify: %llu acknowledged articles that must be held, %llu acknowledged "
		    "deletes; %llu older acknowledged ones may have been evicted (max_articles %u)\n",
		    (unsigned long long)must, (unsigned long long)gone, (unsigned long long)maybe,
		    g->max_articles);
		printf("verify: %llu checked, %llu lost or resurrected\n", (unsigned long long)done,
		    (unsigned long long)k->lost);
		pass = k->lost == 0 && done == g->nverify && server5xx == 0;
		printf("RESULT acked=%zu must_hold=%llu deletes=%llu lost=%llu other_5xx=%llu "
		    "verified=%llu pass=%d\n", g->nacked, (unsigned long long)must,
		    (unsigned long long)gone, (unsigned long long)k->lost,
		    (unsigned long long)server5xx, (unsigned long long)done, pass);
	}
	return pass ? 0 : 1;
}

static void
lg_free(struct lg *g)
{
	for (unsigned i = 0; g->conns != NULL && i < g->nconns; i++) {
		free(g->conns[i].out.p);
		free(g->conns[i].in.p);
	}
	free(g->conns);
	free(g->body.p);
	free(g->made.p);
	free(g->made_at);
	free(g->lat);
	free(g->art);
	free(g->acked);
	free(g->verify);
	synth_free(g->synth);
	close(g->ep);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -a HOST:PORT [-m ingest|mix|ready] [-c CONNS] [-d SECONDS] [-w WARMUP]\n"
	    "               [-b BATCH] [-r RATE] [-n MAX_REQUESTS] [-p ID_PREFIX] [-M MAX_ARTICLES]\n"
	    "               [-A AHEAD] [-D DATA_DIR] [-s SEED] [-v]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct lg		 g;
	struct corpus		 corpus;
	struct synth_params	 sp;
	const char		*data = corpus_default_dir(), *addr = NULL, *mode = "ingest";
	uint64_t		 seed = 1, ahead = 0;
	char			 host[64], *colon;
	int			 ch, r;

	memset(&g, 0, sizeof(g));
	g.nconns = 16;
	g.batch = 1;
	g.duration = 10;
	g.warmup = 1;
	g.prefix = "lg-";
	g.max_articles = 1000000;
	while ((ch = getopt(argc, argv, "a:m:c:d:w:b:r:n:p:M:A:D:s:vh")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'm': mode = optarg; break;
		case 'c': g.nconns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': g.duration = strtod(optarg, NULL); break;
		case 'w': g.warmup = strtod(optarg, NULL); break;
		case 'b': g.batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': g.rate = strtod(optarg, NULL); break;
		case 'n': g.max_requests = strtoull(optarg, NULL, 10); break;
		case 'p': g.prefix = optarg; break;
		case 'M': g.max_articles = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'A': ahead = strtoull(optarg, NULL, 10); break;
		case 'D': data = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'v': g.verbose = 1; break;
		default: usage();
		}
	}
	if (addr == NULL || g.nconns < 1 || g.nconns > 10000 || g.batch < 1 || g.batch > 1000 ||
	    !(g.duration > 0 && g.duration <= 3600) || g.warmup < 0 || g.warmup >= g.duration)
		usage();
	if (strcmp(mode, "ingest") == 0)
		g.mode = MODE_INGEST;
	else if (strcmp(mode, "mix") == 0)
		g.mode = MODE_MIX;
	else if (strcmp(mode, "ready") == 0)
		g.mode = MODE_READY;
	else
		usage();
	if (ahead > 0 && (g.mode != MODE_INGEST || ahead > 100000000))
		usage();
	snprintf(host, sizeof(host), "%s", addr);
	if ((colon = strrchr(host, ':')) == NULL)
		usage();
	*colon = '\0';
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if ((g.conns = calloc(g.nconns, sizeof(*g.conns))) == NULL)
		die("calloc");
	g.rng = seed * 0x9e3779b97f4a7c15ULL + 1;

	if (g.mode == MODE_READY) {
		g.nconns = 1;
		run(&g, g.duration);
		r = g.ready_seen ? 0 : 1;
		lg_free(&g);
		return r;
	}
	if (corpus_load(&corpus, data) != 0)
		return 1;
	synth_params_default(&sp);
	sp.seed = seed;
	/* published times end before now: one second apart, the newest a moment ago */
	sp.interval = 1;
	sp.start = (int64_t)time(NULL) - 30 * 86400;
	g.synth = synth_new(&corpus, &sp);
	g.t_meas0 = 0;
	g.t_meas1 = 1e300;

	if (g.mode == MODE_INGEST) {
		double	start = now();

		if (ahead > 0) {
			make_ahead(&g, ahead);
			printf("made %llu articles ahead (%.0f MB) in %.1f s\n",
			    (unsigned long long)ahead, g.made.n / 1e6, now() - start);
			fflush(stdout);		/* the run starts now: bench/cpu.sh waits for it */
		}
		/* measure from warm-up's end to the duration's end */
		start = now();
		g.t_meas0 = start + g.warmup;
		g.t_meas1 = start + g.duration;
		g.cpu = cpu_sec();
		run(&g, g.duration);
		g.cpu = cpu_sec() - g.cpu;
		if (now() < g.t_meas1)		/* -n requests answered before -d ended */
			g.t_meas1 = now();
		r = report_ingest(&g);
	} else {
		/* the sequence space is bounded: -n requests of at most 10 articles */
		uint64_t	cap = (g.max_requests ? g.max_requests : 2000000) * 10 + 16;

		if (g.max_requests == 0)
			g.max_requests = 2000000;
		if ((g.art = calloc(cap, 1)) == NULL)
			die("calloc");
		run(&g, g.duration);
		printf("mix: %u connections for %.0f s, %llu requests, %llu articles sent, %zu "
		    "acknowledged; %llu connection attempts failed\n", g.nconns, g.duration,
		    (unsigned long long)g.sent, (unsigned long long)g.next_seq, g.nacked,
		    (unsigned long long)g.connect_failures);
		counts_print(&g);
		codes_print(&g);
		r = verify(&g, 60);
		printf("verify answers: 200 %llu, 404 %llu, other %llu\n",
		    (unsigned long long)g.c[OP_VERIFY].ok, (unsigned long long)g.c[OP_VERIFY].notfound,
		    (unsigned long long)(g.c[OP_VERIFY].client + g.c[OP_VERIFY].server +
		    g.c[OP_VERIFY].overload));
	}
	lg_free(&g);
	corpus_free(&corpus);
	return r;
}
