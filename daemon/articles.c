/* articles: POST, PUT, GET and DELETE of articles, and POST /v1/similar. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <utf8proc.h>

#include "ahead.h"
#include "api.h"
#include "decode.h"
#include "grow.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "server.h"
#include "store.h"
#include "xmalloc.h"

#define BATCH_CHUNK	64	/* a batch's articles parsed, then stored, this many at a time */

/*
 * The reply to one article's put (store_put()'s r and verdict v): its
 * status, and its reply body written into out (a verdict) or set in *body
 * (an error).
 */
static int
put_reply(struct server *srv, const struct article_in *in, int r, const struct verdict *v,
    struct evbuffer *out, json_t **body)
{
	char	id[API_MAX_ID + 1];

	switch (r) {
	case STORE_CREATED:
	case STORE_REPLACED:
	case STORE_SAME:
		api_verdict_write(out, srv->srv_store, in->id, in->id_len, v);
		return r == STORE_CREATED ? 201 : 200;
	case STORE_CONFLICT:
		return http_error(body, 409, "conflict",
		    "an article with this id exists with other content; PUT replaces it");
	case STORE_NO_WORDS:
		return http_error(body, 422, "empty_article", "title and body have no words");
	}
	memcpy(id, in->id, in->id_len);
	id[in->id_len] = '\0';
	log_warnx("articles: storing %s failed: %s", id, strerror(-r));
	return http_error(body, 500, "internal", "the article could not be stored: %s",
	    strerror(-r));
}

/* What the second thread made of an article: its doc, or fingerprint()'s error in r. */
struct made_doc {
	const struct doc	*doc;
	int			 r;
};

/*
 * Store one parsed article (replace: PUT semantics), fingerprinted here or,
 * with made, by the second thread, and answer r with the verdict: the
 * status, and *body for an error (r's reply buffer then goes unused).
 */
static int
ingest(struct server *srv, struct request *r, const struct article_in *in, int replace,
    const struct made_doc *made, json_t **body)
{
	struct verdict	v;
	int		res, status;

	if (made != NULL)
		res = store_put_fingerprinted(srv->srv_store, in, made->doc, made->r, &v);
	else
		res = store_put(srv->srv_store, in, replace, &v);
	if ((status = put_reply(srv, in, res, &v, http_reply_buffer(r), body)) >= 400)
		http_reply_buffer_unused(r);
	return status;
}

/*
 * A batch's items as the decode thread fingerprinted them (batch_print()),
 * each as doc_encode() bytes, which the loop's put takes as replay takes
 * the log's (article_in.kept) instead of analysing the text again.
 */
struct item_print {
	const char	*title, *body;	/* the text it is of, in the batch's document */
	size_t		 title_len, body_len;
	size_t		 off, len;	/* its bytes; len 0: none, the loop analyses it */
};

struct batch_prints {
	struct item_print	*item;		/* one an item of the batch */
	size_t			 n;
	unsigned char		*bytes;
};

/* Let in take item i's fingerprint, if bp has one of the very text in holds: 1, else 0. */
static int
print_take(const struct batch_prints *bp, size_t i, struct article_in *in)
{
	const struct item_print	*p = i < bp->n ? &bp->item[i] : NULL;
	struct article_text	 t = store_text_of(in);

	if (p == NULL || p->len == 0 || p->title != t.title || p->title_len != t.title_len ||
	    p->body != t.body || p->body_len != t.body_len)
		return 0;
	in->kept = bp->bytes + p->off;
	in->kept_len = p->len;
	return 1;
}

/*
 * Each item of a checked batch on its own: one bad item gets its error, the
 * others go on. Items are parsed and then stored BATCH_CHUNK at a time
 * (store_put_batch(): a second thread fingerprints while the loop stores,
 * unless bp, the decode thread's, has them already), and the results
 * written in item order, into the reply.
 */
static int
ingest_batch(struct server *srv, struct request *r, json_t *items,
    const struct batch_prints *bp)
{
	struct evbuffer		*out = http_reply_buffer(r);
	struct article_in	 in[BATCH_CHUNK];
	struct verdict		 v[BATCH_CHUNK];
	struct api_error	 err[BATCH_CHUNK];
	int			 res[BATCH_CHUNK];
	uint8_t			 ok[BATCH_CHUNK];
	size_t			 n = json_array_size(items);

	evbuffer_add(out, "{\"results\":[", 12);
	for (size_t at = 0; at < n; at += BATCH_CHUNK) {
		size_t	m = n - at < BATCH_CHUNK ? n - at : BATCH_CHUNK, k = 0, i;

		for (i = 0; i < m; i++) {
			ok[i] = api_article_parse(json_array_get(items, at + i), API_ID_REQUIRED,
			    &srv->srv_params.api, r->now, &in[k], &err[i]) == 0;
			if (ok[i] && bp != NULL)
				srv->srv_fingerprinted_apart += print_take(bp, at + i, &in[k]);
			k += ok[i];
		}
		store_put_batch(srv->srv_store, in, k, 0, res, v);
		for (i = 0, k = 0; i < m; i++) {
			json_t	*item = json_array_get(items, at + i), *one = NULL, *id;
			int	 status;

			if (at + i > 0)
				evbuffer_add(out, ",", 1);
			if (ok[i]) {
				status = put_reply(srv, &in[k], res[k], &v[k], out, &one);
				k++;
			} else
				status = http_error(&one, err[i].status, err[i].code, "%s",
				    err[i].message);
			if (status < 400)
				continue;
			id = json_is_object(item) ? json_object_get(item, "id") : NULL;
			json_object_set_new(one, "id", json_is_string(id) ? json_copy(id) : json_null());
			http_write_json(out, one);
			json_decref(one);
		}
	}
	evbuffer_add(out, "]}", 2);
	return 200;
}

/*
 * Single posts wait for the end of the loop turn, undecoded; then, in the
 * order they came, each is decoded and stored, and the log flushed once
 * for all before the replies go, as they would have: a post's reply was
 * held for that commit anyway. Under load a turn holds several posts, and
 * the second thread (ahead.h) decodes and fingerprints them from the end
 * of the turn while the loop works from its start: jansson and
 * fingerprinting took two fifths of the loop's time a post. A lone post
 * is the loop's.
 */
struct turn_post {
	struct evhttp_request	*req;
	struct http_origin	 origin;
	struct ahead_post	 post;		/* the request's body, undecoded */
};

/* What decoding a post needs besides its bytes: the limits of its time. */
struct post_rules {
	unsigned		max_json_depth;
	struct api_limits	api;
};

/* One article, decoded: in's strings point into doc. */
struct post_made {
	json_t			*doc;
	struct article_in	 in;
};

/*
 * A post's body to one article (ahead.h's decoder, run on the second
 * thread or here): 0, or -1 when it is not one article as it is (an error,
 * a batch), which the loop's own path answers. Safe on any thread: jansson
 * shares nothing between documents, and rules is the caller's copy.
 */
static int
post_decode(const void *rules, const struct ahead_post *p, void **made,
    struct article_text *text)
{
	const struct post_rules	*pr = rules;
	struct post_made	 m;
	struct api_error	 err;
	json_t			*items;

	if (request_json_load(p->body, p->len, pr->max_json_depth, &m.doc, &err) != 0)
		return -1;
	if (request_batch(m.doc, UINT_MAX, &items, &err) != 0 || items != NULL ||
	    api_article_parse(m.doc, API_ID_REQUIRED, &pr->api, p->now, &m.in, &err) != 0 ||
	    (*made = malloc(sizeof(m))) == NULL) {
		json_decref(m.doc);
		return -1;
	}
	memcpy(*made, &m, sizeof(m));
	*text = store_text_of(&m.in);
	return 0;
}

static void
post_drop(void *made)
{
	struct post_made	*m = made;

	json_decref(m->doc);
	free(m);
}

/*
 * From a turn's second post on, stream its posts to the second thread as
 * they come (ahead_open_posts()), so that it decodes and fingerprints them
 * while the loop reads the others. A lone post stays the loop's: its turn
 * ends before the thread, woken for it, could have it ready.
 */
static void
turn_stream(struct server *srv)
{
	if (srv->srv_nturn == 2 && !srv->srv_failed) {
		struct post_rules	 rules = { srv->srv_params.max_json_depth, srv->srv_params.api };
		struct ahead_decoder	 dec = { post_decode, post_drop, &rules, sizeof(rules) };

		srv->srv_stream = store_ahead(srv->srv_store);
		if (srv->srv_stream != NULL && ahead_open_posts(srv->srv_stream, &dec, BATCH_CHUNK) != 0)
			srv->srv_stream = NULL;	/* the thread is busy, or out of memory */
		srv->srv_nstream = 0;
	}
	while (srv->srv_stream != NULL && srv->srv_nstream < srv->srv_nturn &&
	    ahead_add_post(srv->srv_stream, &srv->srv_turn[srv->srv_nstream].post) == 0)
		srv->srv_nstream++;
}

static void
turn_keep(struct server *srv, struct request *r, const void *body, size_t len)
{
	if (srv->srv_nturn == srv->srv_capturn) {
		srv->srv_capturn = srv->srv_capturn ? 2 * srv->srv_capturn : 16;
		srv->srv_turn = xreallocarray(srv->srv_turn, srv->srv_capturn, sizeof(*srv->srv_turn));
	}
	srv->srv_turn[srv->srv_nturn++] = (struct turn_post){ .req = r->req, .origin = r->origin,
	    .post = { .body = body, .len = len, .now = r->now } };
	turn_stream(srv);
	event_active(srv->srv_commit, EV_TIMEOUT, 0);
}

static void	post_settle(struct server *, struct request *, json_t *, const struct api_error *,
		    const struct batch_prints *);

/* The request post t came in, as its handler saw it. */
static void
turn_request(const struct turn_post *t, struct request *r)
{
	*r = (struct request){ .req = t->req, .now = t->post.now, .origin = t->origin };
	TAILQ_INIT(&r->query);
}

/*
 * Store and answer post t, which the thread decoded into m and fingerprinted
 * (doc, or r); m stays the thread's (ahead_take_post()).
 */
static void
turn_post_made(struct server *srv, struct turn_post *t, struct post_made *m,
    const struct doc *doc, int r)
{
	struct request	rq;
	json_t		*body = NULL;
	int		 status;

	turn_request(t, &rq);
	if (srv->srv_failed)
		status = http_writes_refused(&body);
	else
		status = ingest(srv, &rq, &m->in, 0, &(struct made_doc){ doc, r }, &body);
	http_answer(srv, &rq, status, body);
	json_decref(body);
}

/* Decode, store and answer post t on the loop, as if it were alone. */
static void
turn_post_here(struct server *srv, struct turn_post *t)
{
	struct request		r;
	struct api_error	err;
	json_t			*doc;

	turn_request(t, &r);
	if (request_json_load(t->post.body, t->post.len, srv->srv_params.max_json_depth, &doc,
	    &err) != 0)
		doc = NULL;
	post_settle(srv, &r, doc, &err, NULL);
}

/* Store and answer post t, post i of a's batch or stream: as the thread made it, or here. */
static void
turn_post_take(struct server *srv, struct ahead *a, size_t i, struct turn_post *t)
{
	const struct doc	*doc = NULL;
	void			*made = NULL;
	int			 r = a != NULL ? ahead_take_post(a, i, &made, &doc) : 0;

	if (r == 0)
		turn_post_here(srv, t);
	else
		turn_post_made(srv, t, made, doc, r < 0 ? r : 0);
}

/*
 * Store and answer the turn's streamed posts: those past the stream's room,
 * then, in whatever order keeps both threads busy, the thread's as it has
 * them ready and the last ones nobody holds. Any order will do: a turn's
 * posts came on different connections.
 */
static void
turn_streamed(struct server *srv)
{
	struct ahead	*a = srv->srv_stream;
	size_t		 last = srv->srv_nstream, j = 0;
	int64_t		 i;

	for (size_t k = last; k < srv->srv_nturn; k++)
		turn_post_here(srv, &srv->srv_turn[k]);
	while (j < last) {
		/* post j not ready yet: take one from the end meanwhile */
		if (ahead_peek(a, j) <= 0 && (i = ahead_claim_last(a)) >= 0) {
			turn_post_here(srv, &srv->srv_turn[i]);
			last = (size_t)i;
			continue;
		}
		if (j + 1 < last)
			store_prefetch_ready(srv->srv_store, a, j + 1);
		turn_post_take(srv, a, j, &srv->srv_turn[j]);
		j++;
	}
	ahead_end(a);
	srv->srv_stream = NULL;
}

/*
 * Store and answer the turn's posts when none was streamed: BATCH_CHUNK at
 * a time, a batch for the second thread from the end while the loop works
 * from the start.
 */
static void
turn_batched(struct server *srv)
{
	struct post_rules	 rules = { srv->srv_params.max_json_depth, srv->srv_params.api };
	struct ahead_decoder	 dec = { post_decode, post_drop, &rules, sizeof(rules) };
	struct ahead_post	 p[BATCH_CHUNK];
	size_t			 n = srv->srv_nturn;

	for (size_t at = 0; at < n; at += BATCH_CHUNK) {
		size_t		 m = n - at < BATCH_CHUNK ? n - at : BATCH_CHUNK;
		struct ahead	*a = NULL;

		for (size_t i = 0; i < m; i++)
			p[i] = srv->srv_turn[at + i].post;
		if (m > 1 && !srv->srv_failed && (a = store_ahead(srv->srv_store)) != NULL &&
		    ahead_begin_posts(a, &dec, p, m) != 0)
			a = NULL;	/* out of memory, or the thread is still busy */
		for (size_t i = 0; i < m; i++) {
			if (i + 1 < m)
				store_prefetch_ready(srv->srv_store, a, i + 1);
			turn_post_take(srv, a, i, &srv->srv_turn[at + i]);
		}
		if (a != NULL)
			ahead_end(a);
	}
}

void
articles_turn(struct server *srv)
{
	if (srv->srv_stream != NULL)
		turn_streamed(srv);
	else
		turn_batched(srv);
	srv->srv_nturn = 0;
}

void
articles_turn_free(struct server *srv)
{
	free(srv->srv_turn);
	srv->srv_turn = NULL;
	srv->srv_nturn = srv->srv_capturn = 0;
}

/* POST /v1/articles once its body is decoded: doc is taken; bp: see ingest_batch(). */
static int
articles_post_doc(struct server *srv, struct request *r, json_t *doc,
    const struct batch_prints *bp, json_t **body)
{
	struct article_in	 in;
	struct api_error	 err;
	json_t			*items;
	int			 status;

	if (request_batch(doc, srv->srv_params.max_batch, &items, &err) != 0)
		status = http_error(body, err.status, err.code, "%s", err.message);
	else if (items != NULL)
		status = ingest_batch(srv, r, items, bp);
	else if (api_article_parse(doc, API_ID_REQUIRED, &srv->srv_params.api, r->now, &in,
	    &err) != 0)
		status = http_error(body, err.status, err.code, "%s", err.message);
	else
		status = ingest(srv, r, &in, 0, NULL, body);
	json_decref(doc);
	return status;
}

/*
 * Answer a post decoded apart or at the end of the turn: doc is taken, or
 * NULL when err says why it could not be decoded; bp: see ingest_batch().
 */
static void
post_settle(struct server *srv, struct request *r, json_t *doc, const struct api_error *err,
    const struct batch_prints *bp)
{
	json_t	*body = NULL;
	int	 status;

	if (doc == NULL)
		status = http_error(&body, err->status, err->code, "%s", err->message);
	else if (srv->srv_failed) {
		/* the log failed since the request was read: refuse as the dispatcher would */
		json_decref(doc);
		status = http_writes_refused(&body);
	} else
		status = articles_post_doc(srv, r, doc, bp, &body);
	http_answer(srv, r, status, body);
	json_decref(body);
}

/*
 * A body this large, or a batch of BATCH_APART or more (10 articles are
 * about 23 KB), is decoded by the decode thread (decode.h) as soon as it
 * is read, while the loop serves others (batches of 10 went 26-30% faster
 * decoded there than on the loop: docs/performance-history.md). A smaller
 * batch is decoded and stored at once, its articles a batch of their own
 * for the second thread (store_put_batch()); a single article waits for
 * the end of the turn with the turn's other posts (articles_turn()).
 */
#define DECODE_APART	(64 * 1024)
#define BATCH_APART	(16 * 1024)

/*
 * Whether a body may be a batch: it names "articles". A key spelled with
 * escapes is missed and a value of that word caught; either way the post
 * takes the other path, and is answered as it would have been.
 */
static int
may_be_batch(const void *buf, size_t len)
{
	static const char	key[] = "\"articles\"";
	const char		*p = buf, *end;

	/* an empty body's buf is NULL, on which no pointer sum is defined */
	if (len == 0)
		return 0;
	/*
	 * From quote to quote: memchr() runs through the bytes between several
	 * times faster than memmem() could (5,400 instructions for a 3 KB post).
	 */
	end = p + len;
	while ((size_t)(end - p) >= sizeof(key) - 1 &&
	    (p = memchr(p, '"', (size_t)(end - p) - (sizeof(key) - 2))) != NULL) {
		if (memcmp(p, key, sizeof(key) - 1) == 0)
			return 1;
		p++;
	}
	return 0;
}

struct post_decode {
	struct decode_job	 pd_job;	/* first: the decoder's pointer is ours */
	struct server		*pd_srv;
	struct evhttp_request	*pd_req;
	struct http_origin	 pd_origin;
	int64_t			 pd_now;
	/* the decode thread's: what batch_print() reads, and what it made */
	struct api_limits	 pd_api;
	unsigned		 pd_max_batch;
	struct fingerprinter	*pd_fp;
	const struct cluster_params *pd_params;
	struct batch_prints	 pd_prints;
};

/*
 * On the decode thread, once a post's body is decoded: if it is a batch,
 * fingerprint the last PRINT_EIGHTHS eighths of its items as
 * ingest_batch() will parse them, and the loop takes what was made (the
 * rest it fingerprints as a batch decoded on the loop). Five eighths kept
 * both cores busiest while jansson took ~34 us of the decode thread an
 * article; since the long strings are decoded apart (0edae17, ~7 us) the
 * thread has the room for all: at 100 a request (LOADS=100
 * DURATION=8 bench/cpu.sh, three runs each, alternating, 2026-12-02)
 * 14,450, 13,462 and 14,200 articles/s with all eight against 12,488,
 * 13,475 and 11,762 with five, the loop 59-63 us an article against
 * 66-78, the decode thread 59-66 against 40-47; seven gave 12,325, 13,700
 * and 13,300 against eight's 14,525, 14,025 and 13,400.
 */
#define PRINT_EIGHTHS	8

static void
batch_print(struct decode_job *job)
{
	struct post_decode	*pd = (struct post_decode *)job;
	struct batch_prints	*bp = &pd->pd_prints;
	struct api_error	 err;
	json_t			*items;
	size_t			 cap = 0, used = 0;

	if (request_batch(job->doc, pd->pd_max_batch, &items, &err) != 0 || items == NULL ||
	    (bp->item = calloc(json_array_size(items), sizeof(*bp->item))) == NULL)
		return;
	bp->n = json_array_size(items);
	for (size_t i = bp->n - bp->n * PRINT_EIGHTHS / 8; i < bp->n; i++) {
		struct article_in	 in;
		struct article_text	 t;
		const struct doc	*d;
		size_t			 len;

		if (api_article_parse(json_array_get(items, i), API_ID_REQUIRED, &pd->pd_api,
		    pd->pd_now, &in, &err) != 0)
			continue;
		t = store_text_of(&in);
		if (fingerprint(pd->pd_fp, &t, &d) != 0)
			continue;
		len = doc_encoded_size(d, pd->pd_params);
		if (grow_array((void **)&bp->bytes, &cap, used + len, 1) != 0)
			return;
		doc_encode(d, pd->pd_params, bp->bytes + used);
		bp->item[i] = (struct item_print){ .title = t.title, .title_len = t.title_len,
		    .body = t.body, .body_len = t.body_len, .off = used, .len = len };
		used += len;
	}
}

static void
post_decode_free(struct post_decode *pd)
{
	free(pd->pd_prints.item);
	free(pd->pd_prints.bytes);
	free(pd);
}

static void
on_post_decoded(struct decode_job *job, int cancelled)
{
	struct post_decode	*pd = (struct post_decode *)job;
	struct server		*srv = pd->pd_srv;
	struct request		 r = { .req = pd->pd_req, .now = pd->pd_now, .origin = pd->pd_origin };

	if (cancelled) {
		json_decref(job->doc);
		post_decode_free(pd);
		return;
	}
	TAILQ_INIT(&r.query);
	/* the thread frees the document where it was made, after the loop is done with it */
	json_incref(job->doc);
	post_settle(srv, &r, job->doc, &job->err, &pd->pd_prints);
	decoder_drop(srv->srv_decoder, job->doc);
	post_decode_free(pd);
}

int
handle_articles_post(struct server *srv, struct request *r, json_t **body)
{
	struct api_error	 err;
	struct post_decode	*pd;
	const void		*buf;
	size_t			 len;
	json_t			*doc;
	int			 status, batch;

	if ((status = http_read_body(srv, r, &buf, &len, body)) != 0)
		return status;
	batch = may_be_batch(buf, len);
	if ((len >= DECODE_APART || (batch && len >= BATCH_APART)) && srv->srv_decoder != NULL) {
		pd = xcalloc(1, sizeof(*pd));
		pd->pd_job = (struct decode_job){ .buf = buf, .len = len,
		    .max_depth = srv->srv_params.max_json_depth, .done = on_post_decoded };
		pd->pd_srv = srv;
		pd->pd_req = r->req;
		pd->pd_origin = r->origin;
		pd->pd_now = r->now;
		if (batch && srv->srv_decode_fp != NULL) {
			pd->pd_job.then = batch_print;
			pd->pd_api = srv->srv_params.api;
			pd->pd_max_batch = srv->srv_params.max_batch;
			pd->pd_fp = srv->srv_decode_fp;
			pd->pd_params = &srv->srv_params.store.cluster;
		}
		decoder_submit(srv->srv_decoder, &pd->pd_job);
		return HTTP_LATER;
	}
	if (!batch) {
		turn_keep(srv, r, buf, len);
		return HTTP_LATER;
	}
	if (request_json_load(buf, len, srv->srv_params.max_json_depth, &doc, &err) != 0)
		return http_error(body, err.status, err.code, "%s", err.message);
	return articles_post_doc(srv, r, doc, NULL, body);
}

/* The id in the path: refused as the body's id would be. */
static int
path_id_check(const struct request *r, json_t **body)
{
	if (r->tail_len > API_MAX_ID)
		return http_error(body, 422, "id_too_long", "id is %zu bytes, more than the %d allowed",
		    r->tail_len, API_MAX_ID);
	if (memchr(r->tail, '\0', r->tail_len) != NULL)
		return http_error(body, 422, "invalid_id", "id must not contain NUL");
	/* as the body's strings are checked by jansson: the id is echoed in every reply */
	for (size_t i = 0; i < r->tail_len; ) {
		utf8proc_int32_t	c;
		utf8proc_ssize_t	n = utf8proc_iterate((const utf8proc_uint8_t *)r->tail + i,
					    (utf8proc_ssize_t)(r->tail_len - i), &c);

		if (n <= 0)
			return http_error(body, 422, "invalid_utf8", "the id is not valid UTF-8");
		i += (size_t)n;
	}
	return 0;
}

int
handle_article_put(struct server *srv, struct request *r, json_t **body)
{
	struct article_in	in;
	struct api_error	err;
	json_t			*doc;
	int			 status;

	if ((status = path_id_check(r, body)) != 0 ||
	    (status = http_read_json(srv, r, &doc, body)) != 0)
		return status;
	if (api_article_parse(doc, API_ID_OPTIONAL, &srv->srv_params.api, r->now, &in, &err) != 0)
		status = http_error(body, err.status, err.code, "%s", err.message);
	else if (in.id != NULL && (in.id_len != r->tail_len || memcmp(in.id, r->tail, in.id_len)))
		status = http_error(body, 422, "id_mismatch", "the body's id differs from the path's");
	else {
		in.id = r->tail;
		in.id_len = r->tail_len;
		status = ingest(srv, r, &in, 1, NULL, body);
	}
	json_decref(doc);
	return status;
}

int
handle_article_get(struct server *srv, struct request *r, json_t **body)
{
	const struct article	*a;

	if ((a = store_find(srv->srv_store, r->tail, r->tail_len)) == NULL)
		return http_error(body, 404, "not_found", "no article with that id");
	*body = api_article_json(srv->srv_store, a);
	return 200;
}

int
handle_article_delete(struct server *srv, struct request *r, json_t **body)
{
	if (store_delete(srv->srv_store, r->tail, r->tail_len) == STORE_NOT_FOUND)
		return http_error(body, 404, "not_found", "no article with that id");
	return 204;
}

int
handle_similar_post(struct server *srv, struct request *r, json_t **body)
{
	struct article_in	in;
	struct api_error	err;
	struct verdict		v;
	json_t			*doc;
	int			 status, rc;

	if ((status = http_read_json(srv, r, &doc, body)) != 0)
		return status;
	if (api_article_parse(doc, API_ID_OPTIONAL, &srv->srv_params.api, r->now, &in, &err) != 0) {
		status = http_error(body, err.status, err.code, "%s", err.message);
	} else if ((rc = store_similar(srv->srv_store, &in, &v)) == STORE_NO_WORDS) {
		status = http_error(body, 422, "empty_article", "title and body have no words");
	} else if (rc < 0) {
		status = http_error(body, 500, "internal", "%s", strerror(-rc));
	} else {
		api_verdict_write(http_reply_buffer(r), srv->srv_store, in.id_len > 0 ? in.id : NULL,
		    in.id_len, &v);
		status = 200;
	}
	json_decref(doc);
	return status;
}
