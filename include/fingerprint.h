/*
 * fingerprint: the whole analysis of one article, text in, struct doc out:
 * normalize -> words -> shingles -> MinHash, and words -> weighted terms ->
 * SimHash. Pure; a struct fingerprinter holds the reusable scratch space and
 * the stemmer, so analysing an article allocates nothing once warm.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

struct fingerprinter;

struct fingerprinter	*fingerprinter_new(const struct cluster_params *p);	/* NULL: no memory */
void			 fingerprinter_free(struct fingerprinter *);

struct article_text {
	const char	*title;
	size_t		 title_len;
	const char	*body;
	size_t		 body_len;
	const char	*source;
	size_t		 source_len;
	int64_t		 published;
};

/*
 * Analyse a and point *out at the result, valid until the next call on f.
 * 0, -ENOMEM, or -ENODATA when the text has no words at all.
 */
int	fingerprint(struct fingerprinter *f, const struct article_text *a, const struct doc **out);
