/*
 * api: the JSON shapes of API.md, in and out. Reading an article validates
 * it completely; the first problem found becomes the error the client sees.
 * Builders return new references (jansson's rule: the caller owns them).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cluster.h"
#include "store.h"

#define API_MAX_ID	256

struct api_limits {
	unsigned	max_field_bytes;	/* title, source, url */
	size_t		max_body_bytes;
};

/* Why an article was refused: an HTTP status, an error code word and a sentence. */
struct api_error {
	int		 status;
	const char	*code;
	char		 message[160];
};

/* Fill *err and return -EINVAL. */
int	api_refuse(struct api_error *err, int status, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

enum {
	API_ID_REQUIRED,	/* POST /v1/articles */
	API_ID_OPTIONAL,	/* POST /v1/similar, PUT (the path gives it) */
};

/*
 * Fill *out from obj (strings borrowed from obj, which must outlive *out).
 * 0, or -EINVAL with *err set.
 */
int	api_article_parse(json_t *obj, int id_rule, const struct api_limits *lim,
	    int64_t now, struct article_in *out, struct api_error *err);

json_t	*api_error_json(const char *code, const char *message);

/*
 * The verdict object of the ingest and /v1/similar replies, as the
 * dispatcher dumps every reply (compact, similarities to three digits),
 * written straight into out: no tree built and freed per article. id NULL:
 * null; else id_len bytes, not NUL-terminated.
 */
struct evbuffer;
void	api_verdict_write(struct evbuffer *out, const struct store *s, const char *id,
	    size_t id_len, const struct verdict *v);
json_t	*api_article_json(const struct store *s, const struct article *a);
json_t	*api_story_json(const struct store *s, const struct story *st);

/* "s-000017" <-> 17. Parsing returns 0 or -EINVAL. */
void	api_story_id(uint32_t id, char buf[16]);
int	api_story_id_parse(const char *s, size_t len, uint32_t *out);

json_t	*api_time_json(int64_t t);
json_t	*api_similarity_json(double s);	/* rounded to three decimals */

/*
 * What json_dumps() prints for api_similarity_json(s) under
 * JSON_REAL_PRECISION(3), as the cluster endpoints send it, into buf: its
 * length. A reply to a post carries one for each match.
 */
#define API_SIMILARITY_MAX	32
size_t	api_similarity_text(double s, char buf[API_SIMILARITY_MAX]);
