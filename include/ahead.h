/*
 * ahead: fingerprints a batch's articles on a second thread while the loop
 * stores them. The thread takes articles from the end of the batch, the
 * loop from the start; each article is fingerprinted once, by whichever of
 * the two reaches it first, and the loop gets every doc in batch order, so
 * what is stored and decided is what storing them one by one gives.
 *
 * The thread reads only the texts of the batch under way and writes only
 * its own fingerprinter and the docs it hands over. Between batches it
 * waits, holding no lock.
 */
#pragma once
#include <stddef.h>

#include "cluster.h"
#include "fingerprint.h"

struct ahead;

/* The thread and its fingerprinter; NULL when out of memory or threads. */
struct ahead	*ahead_new(const struct cluster_params *p);
void		 ahead_free(struct ahead *);	/* NULL: a no-op */

/*
 * Begin a batch of n texts. They, and the memory they point to, must stay
 * unchanged until ahead_end(). One batch at a time.
 */
int	ahead_begin(struct ahead *, const struct article_text *t, size_t n);	/* 0 or -ENOMEM */

/*
 * Take article i of the batch, in order (0, 1, ... each once). 1 and *doc
 * (valid until ahead_end()) when the thread fingerprinted it; 0 when it is
 * the caller's to fingerprint; or the thread's fingerprint() error
 * (-ENOMEM, -ENODATA: no words).
 */
int	ahead_take(struct ahead *, size_t i, const struct doc **doc);

/* End the batch: wait until the thread has left it. */
void	ahead_end(struct ahead *);
