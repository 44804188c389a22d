/*
 * ahead: fingerprints a batch's articles on a second thread while the loop
 * stores them. The thread takes articles from the end of the batch, the
 * loop from the start; the loop gets every doc in batch order, so what is
 * stored and decided is what storing them one by one gives. A batch of
 * posts (ahead_begin_posts()) comes as request bodies, which the thread
 * decodes first with the caller's decoder; a stream of posts
 * (ahead_open_posts()) is a batch of posts given one by one, which the
 * thread starts on at once.
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
#include <stdint.h>

#include "cluster.h"
#include "fingerprint.h"

struct ahead;

/* The thread and its fingerprinter; NULL when out of memory or threads. */
struct ahead	*ahead_new(const struct cluster_params *p);
void		 ahead_free(struct ahead *);	/* NULL: a no-op */

/*
 * Begin a batch of n texts, copied (the caller may free them at once). One
 * batch at a time. 0; -EBUSY while another batch is open (begun, not yet
 * ended) or the thread finishes an article of an earlier one; or -ENOMEM.
 * On failure the caller fingerprints the batch itself and does not call
 * ahead_end().
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

/* A post: a request's body, and when it arrived. */
struct ahead_post {
	const void	*body;
	size_t		 len;
	int64_t		 now;
};

/* How the thread turns a post into the text it fingerprints: the caller's. */
struct ahead_decoder {
	/*
	 * p to *made, something of the caller's that *text points into: 0;
	 * or nonzero, *made untouched, when p is not one article to
	 * fingerprint (an error, a batch), which the caller then deals with
	 * itself. Runs on the thread, on its copies of p and of rules.
	 */
	int		(*decode)(const void *rules, const struct ahead_post *p, void **made,
			    struct article_text *text);
	void		(*drop)(void *made);	/* frees a made, on the thread */
	const void	*rules;			/* what decode() reads besides p */
	size_t		 rules_size;
};

/*
 * Begin a batch of n posts, copied with dec's rules, as ahead_begin() does
 * texts. What the thread made stays the thread's: it drops it with dec's
 * drop() when it starts on the next batch (ahead_free() drops the last
 * batch's), so that what it allocated is freed where it was allocated (freed
 * by the loop, a post's document made the loop wait on the lock of the
 * thread's malloc arena).
 */
int	ahead_begin_posts(struct ahead *, const struct ahead_decoder *dec,
	    const struct ahead_post *p, size_t n);

/*
 * Take post i of the batch, in order. 0: the caller's to decode and
 * fingerprint (the thread has not, or its decoder said no, or it is too
 * slow). Otherwise *made is what the decoder made of it, for the caller to
 * read until ahead_end() and never to free, and the result is 1 and *doc
 * (valid as long), or the thread's fingerprint() error.
 */
int	ahead_take_post(struct ahead *, size_t i, void **made, const struct doc **doc);

/*
 * A stream of posts, for posts that come one by one (a loop turn's): opened
 * with room for up to room of them (0; -EBUSY or -ENOMEM as for a batch),
 * each added as it comes with ahead_add_post() (copied; -ENOSPC past room,
 * or -ENOMEM: that post and those after it are the caller's). The thread
 * decodes and fingerprints them from the first while more are added. The
 * caller then goes through them, each once, in any order it likes:
 * ahead_peek() says whether the thread has post i ready (1), holds it (0),
 * or has not reached it (-1); ahead_claim_last() gives the caller the last
 * post nobody holds (-1: none is left); ahead_take_post() takes one of the
 * thread's, as in a batch (waiting for it briefly). Then ahead_end().
 */
int	ahead_open_posts(struct ahead *, const struct ahead_decoder *dec, size_t room);
int	ahead_add_post(struct ahead *, const struct ahead_post *p);
int64_t	ahead_claim_last(struct ahead *);
int	ahead_peek(struct ahead *, size_t i);

/*
 * The doc of article or post i of the open batch or stream if the thread
 * has it ready now, else NULL, without waiting and without taking it
 * (ahead_take() and ahead_take_post() still do): for a look ahead, such as
 * store_prefetch_ready() of the next put.
 */
const struct doc	*ahead_ready(struct ahead *, size_t i);
