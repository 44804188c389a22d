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
	const char		*title;
	size_t			 title_len;
	const char		*body;
	size_t			 body_len;
	const char		*source;
	size_t			 source_len;
	int64_t			 published;
	const unsigned char	*kept;		/* doc_encode() of this text, as the log kept it, */
	size_t			 kept_len;	/* or NULL */
};

/*
 * Analyse a and point *out at the result, valid until the next call on f.
 * 0, -ENOMEM, or -ENODATA when the text has no words at all. When a->kept
 * holds a doc that doc_encode() made under this FINGERPRINT_VERSION and
 * these params, and it reads back whole, that is the result, and the text
 * is not read.
 */
int	fingerprint(struct fingerprinter *f, const struct article_text *a, const struct doc **out);

/*
 * A doc as bytes, so that the log can keep it and a replay need not analyse
 * the text again (half the CPU of replaying a put, README "Performance").
 * The bytes name what made them: FINGERPRINT_VERSION and the params
 * fingerprint() reads (k, shingle, doc_terms). Bump the version whenever
 * fingerprint() gives another doc for some text: a kept doc of another
 * version is ignored and the text analysed again. test-fingerprint pins
 * the docs of a sample to this version, so such a change fails it until
 * the version moves.
 *
 * doc_encoded_size() is the length doc_encode() writes. A doc's source hash
 * and publication time are not kept: fingerprint() takes them from a.
 */
#define FINGERPRINT_VERSION	1

/* How many of f's results were a->kept, taken. */
uint64_t	fingerprinter_taken(const struct fingerprinter *f);

size_t	doc_encoded_size(const struct doc *d, const struct cluster_params *p);
void	doc_encode(const struct doc *d, const struct cluster_params *p, unsigned char *out);
