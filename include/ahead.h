/*
 * ahead: fingerprints a batch's articles on a second thread while the loop
 * stores them. The thread takes articles from the end of the batch, the
 * loop from the start; the loop gets every doc in batch order, so what is
 * stored and decided is what storing them one by one gives.
 *
 * The loop never waits on the thread for long: an article the thread is
 * still working on is waited for only about as long as fingerprinting it
 * takes, and then the loop fingerprints it itself. So the thread works on
 * its own copy of the batch's texts, and may still be finishing an
 * article after ahead_end(); a batch begun meanwhile goes without it.
 * Between batches it waits, holding no lock.
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
 * Begin a batch of n texts, copied (the caller may free them at once). One
 * batch at a time. 0; -EBUSY while the thread finishes an article of an
 * earlier batch; or -ENOMEM. On failure the caller fingerprints the batch
 * itself and does not call ahead_end().
 */
int	ahead_begin(struct ahead *, const struct article_text *t, size_t n);

/*
 * Take article i of the batch, in order (0, 1, ... each once). 1 and *doc
 * (valid until ahead_end()) when the thread fingerprinted it; 0 when it is
 * the caller's to fingerprint; or the thread's fingerprint() error
 * (-ENOMEM, -ENODATA: no words).
 */
int	ahead_take(struct ahead *, size_t i, const struct doc **doc);

/* End the batch, without waiting: the thread takes nothing more from it. */
void	ahead_end(struct ahead *);
