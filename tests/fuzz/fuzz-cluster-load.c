/*
 * fuzz-cluster-load: cluster_load() on arbitrary bytes, with the shipped
 * parameters. cluster.h promises that any input gives an error or a
 * clusterer that passes cluster_check(), never a crash, leak or loop. A
 * clusterer that loads must also dump, and its dump load and dump again to
 * the same bytes, and take one more article.
 *
 * Input: the cluster part of a snapshot ("SDCLUST1"...).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "fingerprint.h"
#include "fuzz.h"

struct rd {
	const uint8_t	*p;
	size_t		 len, off;
};

struct wr {
	uint8_t		*p;
	size_t		 len, cap;
};

static int
on_read(void *buf, size_t len, void *arg)
{
	struct rd	*r = arg;

	if (len > r->len - r->off)
		return -ENODATA;
	memcpy(buf, r->p + r->off, len);
	r->off += len;
	return 0;
}

static int
on_write(const void *buf, size_t len, void *arg)
{
	struct wr	*w = arg;

	if (w->len + len > w->cap) {
		size_t	 cap = w->cap == 0 ? 65536 : w->cap;
		uint8_t	*p;

		while (cap < w->len + len)
			cap *= 2;
		if ((p = realloc(w->p, cap)) == NULL)
			return -ENOMEM;
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, buf, len);
	w->len += len;
	return 0;
}

/* One more article, as the store would add it, at the first free id. */
static void
add_one(struct clusterer *c, const struct cluster_params *p)
{
	static struct fingerprinter	*fp;
	static const char		 body[] = "A storm closed the port of Rotterdam on Monday.";
	struct article_text		 at = {
		.title = "Storm closes port", .title_len = 17,
		.body = body, .body_len = sizeof(body) - 1, .published = 1700000000,
	};
	const struct doc		*doc;
	struct verdict			 v;
	uint32_t			 id = 0;

	if (fp == NULL)
		assert((fp = fingerprinter_new(p)) != NULL);
	while (cluster_holds(c, id))
		id++;
	assert(fingerprint(fp, &at, &doc) == 0);
	assert(cluster_query(c, doc, &v) == 0);
	assert(cluster_add(c, id, doc, &v) == 0);
	assert(cluster_check(c) == 0);
	cluster_remove(c, id);
	assert(cluster_check(c) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cluster_params	*p = &fuzz_config()->cluster;
	struct rd			 rd = { data, size, 0 };
	struct wr			 a = { 0 }, b = { 0 };
	struct clusterer		*c, *c2;
	int				 r;

	r = cluster_load(&c, p, on_read, &rd);
	assert(r == 0 || r == -EINVAL || r == -ENODATA || r == -EPROTONOSUPPORT || r == -ENOMEM);
	if (r != 0)
		return 0;
	assert(cluster_check(c) == 0);
	assert(cluster_dump(c, on_write, &a) == 0);
	rd = (struct rd){ a.p, a.len, 0 };
	assert(cluster_load(&c2, p, on_read, &rd) == 0);
	assert(rd.off == a.len);
	assert(cluster_dump(c2, on_write, &b) == 0);
	assert(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
	assert(cluster_count_articles(c) == cluster_count_articles(c2));
	add_one(c, p);
	cluster_free(c2);
	cluster_free(c);
	free(a.p);
	free(b.p);
	return 0;
}
