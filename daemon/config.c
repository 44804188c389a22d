/* config: one table of keys drives parsing, defaults, validation and checks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "lsh.h"
#include "xmalloc.h"

enum key_type {
	KEY_STRING,
	KEY_PATH,	/* a string that may be empty: "not set" */
	KEY_ADDR,
	KEY_UINT,
	KEY_SIZE,
	KEY_DOUBLE,
	KEY_FSYNC,
	KEY_BOOL,
	KEY_SAMPLE,	/* off, on, or a share of events from 0 to 1 */
};

struct key {
	const char	*section;
	const char	*name;
	const char	*def;
	enum key_type	 type;
	size_t		 off;
	double		 min, max;
	const char	*help;
};

#define OFF(f)	offsetof(struct config, f)

/*
 * Every key, its default and its range. The defaults of [cluster] are the
 * ones chosen by measurement (README "Defaults"); cluster_params_default()
 * returns the same, and test-config checks that they agree.
 */
static const struct key keys[] = {
	{ "server", "listen", "127.0.0.1:7878", KEY_ADDR, OFF(listen), 0, 0,
	  "address and port to listen on; port 0 takes a free one" },
	{ "server", "max_request_bytes", "16777216", KEY_SIZE, OFF(max_request_bytes), 1024, 1 << 30,
	  "largest request body accepted; larger ones get 413" },
	{ "server", "max_batch", "1000", KEY_UINT, OFF(max_batch), 1, 100000,
	  "most articles in one POST /v1/articles batch" },
	{ "server", "max_field_bytes", "65536", KEY_UINT, OFF(max_field_bytes), 256, 1 << 24,
	  "longest title, source or url accepted; longer gets 422 field_too_long" },
	{ "server", "max_body_bytes", "1048576", KEY_SIZE, OFF(max_body_bytes), 1024, 1 << 30,
	  "longest body accepted; longer gets 422 field_too_long" },
	{ "server", "request_timeout", "30", KEY_UINT, OFF(request_timeout), 1, 3600,
	  "seconds a connection may stay silent while sending a request or reading a reply" },
	{ "server", "max_header_bytes", "16384", KEY_SIZE, OFF(max_header_bytes), 1024, 1 << 20,
	  "largest request line and headers accepted" },
	{ "server", "max_json_depth", "32", KEY_UINT, OFF(max_json_depth), 2, 1000,
	  "deepest nesting of arrays and objects accepted in a body" },
	{ "server", "max_connections", "1024", KEY_UINT, OFF(max_connections), 1, 1000000,
	  "open connections served; beyond it requests get 503 with Retry-After" },
	{ "server", "token_file", "", KEY_PATH, OFF(token_file), 0, 0,
	  "file holding a bearer token that writes must present; empty: no token" },
	{ "server", "auth_reads", "no", KEY_BOOL, OFF(auth_reads), 0, 0,
	  "yes: reads need the token too (/healthz and /readyz never do)" },
	{ "server", "access_log", "off", KEY_SAMPLE, OFF(access_log), 0, 1,
	  "off | on | a share such as 0.01: requests logged (method, path, status, bytes, time)" },
	{ "server", "max_long_polls", "1000", KEY_UINT, OFF(max_long_polls), 1, 1000000,
	  "GET /v1/clusters?wait= requests waiting at once; beyond it they get 503" },
	{ "store", "data_dir", "data", KEY_STRING, OFF(data_dir), 0, 0,
	  "directory for the write-ahead log and snapshots" },
	{ "store", "fsync", "everysec", KEY_FSYNC, OFF(fsync), 0, 0,
	  "always | everysec | no: when acknowledged writes reach the disk" },
	{ "store", "snapshot_log_bytes", "268435456", KEY_SIZE, OFF(snapshot_log_bytes), 4096,
	  1ull << 40, "write a snapshot (and drop the log before it) when the log passes this size" },
	{ "store", "snapshot_log_share", "0.25", KEY_DOUBLE, OFF(snapshot_log_share), 0, 16,
	  "... and this share of the newest snapshot's size, so rebuilds cost a bounded share of ingest; 0: no share" },
	{ "store", "retention_hours", "168", KEY_UINT, OFF(retention_hours), 1, 24 * 365 * 100,
	  "articles published this long before the newest one are evicted" },
	{ "store", "max_articles", "1000000", KEY_UINT, OFF(max_articles), 1, CLUSTER_ID_LIMIT,
	  "most articles held, up to 16777216; the oldest are evicted beyond it; the index takes ~230 bytes each at start" },
	{ "store", "allow_truncate", "no", KEY_BOOL, OFF(allow_truncate), 0, 0,
	  "yes: start even when the log is damaged before its end, losing what follows the damage" },
	{ "cluster", "minhash_k", "128", KEY_UINT, OFF(cluster.k), 16, 1024,
	  "MinHash values per article" },
	{ "cluster", "shingle", "3", KEY_UINT, OFF(cluster.shingle), 1, 16,
	  "words per shingle for MinHash" },
	{ "cluster", "dup_threshold", "0.5", KEY_DOUBLE, OFF(cluster.dup_threshold), 0.05, 1.0,
	  "estimated Jaccard similarity at which two texts are near duplicates" },
	{ "cluster", "dup_containment", "0.6", KEY_DOUBLE, OFF(cluster.dup_containment), 0.05, 1.0,
	  "estimated share of the shorter text found in the longer at which they are near duplicates" },
	{ "cluster", "simhash_k", "3", KEY_UINT, OFF(cluster.simhash_k), 0, 7,
	  "SimHash bits that may differ between near duplicates" },
	{ "cluster", "story_threshold", "0.25", KEY_DOUBLE, OFF(cluster.story_threshold), 0.01, 1.0,
	  "TF-IDF cosine similarity, after time decay, at which an article joins a story" },
	{ "cluster", "merge_threshold", "0.2", KEY_DOUBLE, OFF(cluster.merge_threshold), 0.0, 1.0,
	  "centroid cosine at which an article scoring twice its threshold with two stories merges them; 0: never" },
	{ "cluster", "window_hours", "72", KEY_UINT, OFF(window_hours), 1, 24 * 365,
	  "hours apart beyond which an article cannot join a story" },
	{ "cluster", "decay_hours", "48", KEY_UINT, OFF(cluster.decay_hours), 0, 24 * 365,
	  "similarity to a story falls as a Gaussian of this width in hours since its nearest article; 0: off" },
	{ "cluster", "doc_terms", "40", KEY_UINT, OFF(cluster.doc_terms), 4, 1000,
	  "weighted terms kept per article for story similarity" },
	{ "cluster", "max_matches", "5", KEY_UINT, OFF(cluster.max_matches), 0, CLUSTER_MAX_MATCHES,
	  "matches listed in each reply" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static const struct key *
key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
parse_uint(const char *v, double min, double max, unsigned long long *out)
{
	unsigned long long	 n;
	char			*end;

	if (*v == '\0' || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || (double)n < min || (double)n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int
key_apply(struct config *c, const struct key *k, const char *v, const char **msg)
{
	char			*p = (char *)c + k->off;
	unsigned long long	 n;
	double			 d;
	char			*end;
	static char		 buf[128];	/* the message of the last range error */

	switch (k->type) {
	case KEY_PATH:
		free(*(char **)p);
		*(char **)p = xstrdup(v);
		return 0;
	case KEY_STRING:
	case KEY_ADDR:
		if (*v == '\0') {
			*msg = "must not be empty";
			return -EINVAL;
		}
		if (k->type == KEY_ADDR && strrchr(v, ':') == NULL) {
			*msg = "must be ADDRESS:PORT, e.g. 127.0.0.1:7878";
			return -EINVAL;
		}
		free(*(char **)p);
		*(char **)p = xstrdup(v);
		return 0;
	case KEY_UINT:
	case KEY_SIZE:
		if (parse_uint(v, k->min, k->max, &n) != 0) {
			snprintf(buf, sizeof(buf), "must be a whole number from %.0f to %.0f",
			    k->min, k->max);
			*msg = buf;
			return -EINVAL;
		}
		if (k->type == KEY_UINT)
			*(unsigned *)p = (unsigned)n;
		else
			*(size_t *)p = (size_t)n;
		return 0;
	case KEY_DOUBLE:
		errno = 0;
		d = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < k->min ||
		    d > k->max) {
			snprintf(buf, sizeof(buf), "must be a number from %g to %g", k->min, k->max);
			*msg = buf;
			return -EINVAL;
		}
		*(double *)p = d;
		return 0;
	case KEY_FSYNC:
		if (strcmp(v, "always") == 0)
			*(enum store_sync *)p = STORE_SYNC_ALWAYS;
		else if (strcmp(v, "everysec") == 0)
			*(enum store_sync *)p = STORE_SYNC_EVERYSEC;
		else if (strcmp(v, "no") == 0)
			*(enum store_sync *)p = STORE_SYNC_NO;
		else {
			*msg = "must be always, everysec or no";
			return -EINVAL;
		}
		return 0;
	case KEY_SAMPLE:
		if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
			*(double *)p = strcmp(v, "on") == 0;
			return 0;
		}
		errno = 0;
		d = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || !(d >= 0 && d <= 1)) {
			*msg = "must be off, on, or a share from 0 to 1 such as 0.01";
			return -EINVAL;
		}
		*(double *)p = d;
		return 0;
	case KEY_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
			*(int *)p = 1;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
			*(int *)p = 0;
		else {
			*msg = "must be yes or no";
			return -EINVAL;
		}
		return 0;
	}
	*msg = "unknown key type";
	return -EINVAL;
}

void
config_defaults(struct config *c)
{
	const char	*msg;

	memset(c, 0, sizeof(*c));
	cluster_params_default(&c->cluster);
	for (size_t i = 0; i < NKEYS; i++)
		if (key_apply(c, &keys[i], keys[i].def, &msg) != 0)
			abort();	/* a bad default is a bug in the table */
	config_finish(c);
}

void
config_fini(struct config *c)
{
	free(c->listen);
	free(c->data_dir);
	free(c->token_file);
	c->listen = c->data_dir = c->token_file = NULL;
}

int
config_set(struct config *c, const char *section, const char *key, const char *value,
    const char **msg)
{
	const struct key	*k;

	if ((k = key_find(section, key)) == NULL) {
		*msg = "unknown key";
		return -EINVAL;
	}
	return key_apply(c, k, value, msg);
}

void
config_finish(struct config *c)
{
	c->cluster.window = (int64_t)c->window_hours * 3600;
	cluster_params_finish(&c->cluster);
}

struct load_ctx {
	struct config	*c;
	const char	*path;
	config_error_fn	*fn;
	void		*arg;
	unsigned	 errors;
	unsigned	 line;
};

static int
on_ini_key(void *arg, const char *section, const char *name, const char *value)
{
	struct load_ctx	*ctx = arg;
	char		 key[256];
	const char	*msg = NULL;

	snprintf(key, sizeof(key), "%s.%s", section, name);
	if (key_find(section, name) == NULL) {
		ctx->fn(ctx->path, ctx->line, key, *section == '\0' ?
		    "key outside a [section]" : "unknown key", ctx->arg);
		ctx->errors++;
	} else if (config_set(ctx->c, section, name, value, &msg) != 0) {
		ctx->fn(ctx->path, ctx->line, key, msg, ctx->arg);
		ctx->errors++;
	}
	return 1;	/* go on: report every error in one run */
}

/* inih tells the line of a syntax error only; keys get their line from a reader wrapper. */
struct line_reader {
	FILE		*f;
	struct load_ctx	*ctx;
};

static char *
on_ini_line(char *buf, int size, void *arg)
{
	struct line_reader	*lr = arg;

	if (fgets(buf, size, lr->f) == NULL)
		return NULL;
	lr->ctx->line++;
	return buf;
}

unsigned
config_load(struct config *c, const char *path, config_error_fn *fn, void *arg)
{
	struct load_ctx		ctx = { c, path, fn, arg, 0, 0 };
	struct line_reader	lr;
	char			msg[256];
	int			r;

	if ((lr.f = fopen(path, "r")) == NULL) {
		snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		fn(path, 0, NULL, msg, arg);
		return 1;
	}
	lr.ctx = &ctx;
	r = ini_parse_stream(on_ini_line, &lr, on_ini_key, &ctx);
	fclose(lr.f);
	if (r > 0) {
		fn(path, (unsigned)r, NULL, "syntax error (expected [section] or key = value)", arg);
		ctx.errors++;
	} else if (r < 0) {
		fn(path, 0, NULL, "out of memory while reading", arg);
		ctx.errors++;
	}
	config_finish(c);
	return ctx.errors;
}

const struct config_key_info *
config_key(size_t n, struct config_key_info *out)
{
	if (n >= NKEYS)
		return NULL;
	out->section = keys[n].section;
	out->key = keys[n].name;
	out->def = keys[n].def;
	out->help = keys[n].help;
	return out;
}
