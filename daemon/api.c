/* api: parse and validate submitted articles; build the reply objects. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "api.h"
#include "rfc3339.h"

#define STORY_TERMS	8

int
api_refuse(struct api_error *err, int status, const char *code, const char *fmt, ...)
{
	va_list	ap;

	err->status = status;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string field's length against its limit (0: none). */
static int
length_check(const char *name, size_t len, size_t max, struct api_error *err)
{
	if (max > 0 && len > max)
		return api_refuse(err, 422, "field_too_long", "%s is %zu bytes, more than the %zu allowed",
		    name, len, max);
	return 0;
}

/* An optional string field: absent and null are "", anything but a string is refused. */
static int
string_field(json_t *obj, const char *name, size_t max, const char **p, size_t *len,
    struct api_error *err)
{
	json_t	*v = json_object_get(obj, name);

	*p = "";
	*len = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return api_refuse(err, 400, "wrong_type", "%s must be a string", name);
	*p = json_string_value(v);
	*len = json_string_length(v);
	return length_check(name, *len, max, err);
}

static int
only_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

/* The checks after the fields are read, shared by both readers. */
static int
id_check(const struct article_in *out, int id_rule, struct api_error *err)
{
	if (out->id_len == 0 && id_rule == API_ID_REQUIRED)
		return api_refuse(err, 422, "missing_id", "id is required and must not be empty");
	if (out->id_len > API_MAX_ID)
		return api_refuse(err, 422, "id_too_long", "id is %zu bytes, more than the %d allowed",
		    out->id_len, API_MAX_ID);
	return 0;
}

static int
rest_check(struct article_in *out, const char *ts, size_t ts_len, struct api_error *err)
{
	if (ts_len > 0) {
		if (rfc3339_parse(ts, ts_len, &out->published) != 0)
			return api_refuse(err, 422, "bad_timestamp",
			    "published_at must be an RFC 3339 time such as 2023-06-19T08:00:00Z");
		out->has_published = 1;
	}
	if (only_blank(out->title, out->title_len) && only_blank(out->body, out->body_len))
		return api_refuse(err, 422, "empty_article", "title or body must have some text");
	return 0;
}

int
api_article_parse(json_t *obj, int id_rule, const struct api_limits *lim, int64_t now,
    struct article_in *out, struct api_error *err)
{
	const char	*ts;
	size_t		 ts_len;
	json_t		*id;

	memset(out, 0, sizeof(*out));
	out->now = now;
	if (!json_is_object(obj))
		return api_refuse(err, 400, "wrong_type", "an article must be a JSON object");

	id = json_object_get(obj, "id");
	if (id != NULL && !json_is_null(id) && !json_is_string(id))
		return api_refuse(err, 400, "wrong_type", "id must be a string");
	if (id != NULL && json_is_string(id)) {
		out->id = json_string_value(id);
		out->id_len = json_string_length(id);
	}
	if (id_check(out, id_rule, err) != 0)
		return -EINVAL;
	if (string_field(obj, "title", lim->max_field_bytes, &out->title, &out->title_len, err) ||
	    string_field(obj, "body", lim->max_body_bytes, &out->body, &out->body_len, err) ||
	    string_field(obj, "source", lim->max_field_bytes, &out->source, &out->source_len, err) ||
	    string_field(obj, "url", lim->max_field_bytes, &out->url, &out->url_len, err) ||
	    string_field(obj, "published_at", 64, &ts, &ts_len, err))
		return -EINVAL;
	return rest_check(out, ts, ts_len, err);
}

json_t *
api_error_json(const char *code, const char *message)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}

void
api_story_id(uint32_t id, char buf[16])
{
	snprintf(buf, 16, "s-%06" PRIu32, id);
}

int
api_story_id_parse(const char *s, size_t len, uint32_t *out)
{
	uint64_t	v = 0;

	if (len < 3 || len > 12 || s[0] != 's' || s[1] != '-')
		return -EINVAL;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v >= CLUSTER_NONE)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

json_t *
api_time_json(int64_t t)
{
	char	buf[RFC3339_LEN];

	return json_string(rfc3339_format(t, buf));
}

static json_t *
story_ref(uint32_t story)
{
	char	buf[16];

	if (story == CLUSTER_NONE)
		return json_null();
	api_story_id(story, buf);
	return json_string(buf);
}

static json_t *
article_ref(const struct store *s, uint32_t index)
{
	const struct article	*a;

	if (index == CLUSTER_NONE || (a = store_at(s, index)) == NULL)
		return json_null();
	return json_string(a->id);
}

static const char *
status_word(enum verdict_status st)
{
	switch (st) {
	case VERDICT_NEW_STORY:		return "new_story";
	case VERDICT_JOINED_STORY:	return "joined_story";
	case VERDICT_NEAR_DUPLICATE:	return "near_duplicate";
	case VERDICT_EXACT_DUPLICATE:	return "exact_duplicate";
	}
	return "new_story";
}

static const char *
kind_word(enum match_kind k)
{
	switch (k) {
	case MATCH_EXACT:	return "exact_duplicate";
	case MATCH_NEAR:	return "near_duplicate";
	case MATCH_RELATED:	return "related";
	}
	return "related";
}

/* s in thousandths, rounded: every reply gives a similarity to three decimals */
static long
thousandths(double s)
{
	return (long)(s * 1000.0 + 0.5);
}

json_t *
api_similarity_json(double s)
{
	return json_real((double)thousandths(s) / 1000.0);
}

/*
 * A reply's text, gathered on the stack and handed to the evbuffer in one
 * evbuffer_add() when the room is full or the object is done: a verdict
 * took some sixty of them a piece, ~90 instructions each.
 */
struct jw {
	struct evbuffer	*out;
	size_t		 n;
	char		 b[1024];
};

static void
jw_flush(struct jw *w)
{
	evbuffer_add(w->out, w->b, w->n);
	w->n = 0;
}

static void
jw_add(struct jw *w, const void *p, size_t len)
{
	if (len > sizeof(w->b) - w->n) {
		jw_flush(w);
		if (len > sizeof(w->b)) {
			evbuffer_add(w->out, p, len);
			return;
		}
	}
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

/* A literal's bytes without its NUL. */
#define jw_lit(w, s)	jw_add((w), (s), sizeof(s) - 1)

/*
 * A JSON string as jansson dumps it without JSON_ENSURE_ASCII: '"', '\\' and
 * the control characters escaped, the rest (valid UTF-8, as everything
 * stored came through jansson's decoder) as it is.
 */
static void
write_str(struct jw *w, const char *p, size_t n)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			run = 0;
	char			esc[6];

	jw_lit(w, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char	ch = (unsigned char)p[i];
		size_t		k = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		jw_add(w, p + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"':	esc[1] = '"'; break;
		case '\\':	esc[1] = '\\'; break;
		case '\b':	esc[1] = 'b'; break;
		case '\f':	esc[1] = 'f'; break;
		case '\n':	esc[1] = 'n'; break;
		case '\r':	esc[1] = 'r'; break;
		case '\t':	esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			k = 6;
		}
		jw_add(w, esc, k);
	}
	jw_add(w, p + run, n - run);
	jw_lit(w, "\"");
}

static void
write_article_ref(struct jw *w, const struct store *s, uint32_t index)
{
	const struct article	*a;

	if (index == CLUSTER_NONE || (a = store_at(s, index)) == NULL)
		jw_lit(w, "null");
	else
		write_str(w, a->id, a->id_len);
}

/*
 * jansson prints a real with "%.3g" and adds ".0" to what looks like an
 * integer. Similarities are in [0, 1], where that is "0." and the three
 * decimals without their trailing zeros ("0.057", "0.5"), or "0.0" and "1.0":
 * written here without snprintf(), which was two fifths of a post's reply.
 */
size_t
api_similarity_text(double s, char buf[API_SIMILARITY_MAX])
{
	int	n;

	if (s >= 0 && s <= 1) {
		unsigned	k = (unsigned)thousandths(s);	/* 0 to 1000 */

		if (k == 1000 || k == 0) {
			memcpy(buf, k ? "1.0" : "0.0", 4);
			return 3;
		}
		memcpy(buf, "0.", 2);
		buf[2] = (char)('0' + k / 100);
		buf[3] = (char)('0' + k / 10 % 10);
		buf[4] = (char)('0' + k % 10);
		for (n = 5; buf[n - 1] == '0'; n--)
			;
		buf[n] = '\0';
		return (size_t)n;
	}
	/* a long's thousandths, at most "-9.22e+15": room for ".0" */
	n = snprintf(buf, API_SIMILARITY_MAX, "%.3g", (double)thousandths(s) / 1000.0);
	if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	return (size_t)n;
}

void
api_verdict_write(struct evbuffer *out, const struct store *s, const char *id, size_t id_len,
    const struct verdict *v)
{
	struct jw	 w = { .out = out };
	char		 story[16], sim[API_SIMILARITY_MAX];
	const char	*word;

	jw_lit(&w, "{\"id\":");
	if (id != NULL)
		write_str(&w, id, id_len);
	else
		jw_lit(&w, "null");
	jw_lit(&w, ",\"cluster\":");
	if (v->story == CLUSTER_NONE)
		jw_lit(&w, "null");
	else {
		api_story_id(v->story, story);
		write_str(&w, story, strlen(story));
	}
	jw_lit(&w, ",\"duplicate_of\":");
	write_article_ref(&w, s, v->duplicate_of);
	jw_lit(&w, ",\"status\":\"");
	word = status_word(v->status);
	jw_add(&w, word, strlen(word));
	jw_lit(&w, "\",\"matches\":[");
	for (size_t i = 0; i < v->nmatches; i++) {
		const struct match *m = &v->matches[i];

		if (i > 0)
			jw_lit(&w, ",");
		jw_lit(&w, "{\"id\":");
		write_article_ref(&w, s, m->id);
		jw_lit(&w, ",\"kind\":\"");
		word = kind_word(m->kind);
		jw_add(&w, word, strlen(word));
		jw_lit(&w, "\",\"similarity\":");
		jw_add(&w, sim, api_similarity_text(m->similarity, sim));
		jw_lit(&w, "}");
	}
	jw_lit(&w, "]}");
	jw_flush(&w);
}

json_t *
api_article_json(const struct store *s, const struct article *a)
{
	struct clusterer	*c = store_clusterer(s);
	char			 hex[17];

	snprintf(hex, sizeof(hex), "%016" PRIx64, cluster_simhash(c, a->index));
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:s}",
	    "id", a->id, "title", a->title, "source", a->source, "url", a->url,
	    "published_at", api_time_json(a->published),
	    "ingested_at", api_time_json(a->ingested),
	    "cluster", story_ref(cluster_story_of(c, a->index)),
	    "duplicate_of", article_ref(s, cluster_duplicate_of(c, a->index)),
	    "simhash", hex, "status", status_word(a->status));
}

json_t *
api_story_json(const struct store *s, const struct story *st)
{
	struct clusterer	*c = store_clusterer(s);
	const struct article	*rep;
	const char		*words[STORY_TERMS];
	json_t			*o, *terms;
	size_t			 n;

	if (st->removed)
		return json_pack("{s:o,s:b,s:I}", "id", story_ref(st->id), "removed", 1,
		    "updated_seq", (json_int_t)st->updated_seq);
	rep = store_at(s, st->representative);
	terms = json_array();
	n = cluster_story_terms(c, st->id, words, STORY_TERMS);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(terms, json_string(words[i]));
	o = json_pack("{s:o,s:I,s:I,s:s,s:o,s:I,s:o,s:o,s:I}",
	    "id", story_ref(st->id),
	    "size", (json_int_t)st->size,
	    "duplicate_groups", (json_int_t)st->groups,
	    "title", rep != NULL ? rep->title : "",
	    "terms", terms,
	    "sources", (json_int_t)st->sources,
	    "first_published", api_time_json(st->first_published),
	    "last_published", api_time_json(st->last_published),
	    "updated_seq", (json_int_t)st->updated_seq);
	return o;
}
