/*
 * decode: large request bodies parsed on a thread of their own. A batch of
 * 100 articles is about 340 KB of JSON, and jansson took a quarter of the
 * loop's time at 100 articles a request (docs/performance-history.md);
 * the loop hands such a body over, goes on serving, and picks the document
 * up in a later turn, on the loop, where everything else about the
 * request happens.
 *
 * The thread reads only the bytes of the jobs it is given and builds their
 * json_t, which the caller owns once its job is done. Jobs are done in the
 * order they were submitted, one a loop turn: the loop reads its sockets
 * and sends replies between two.
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "api.h"

struct event_base;
struct decoder;
struct decode_job;

/*
 * On the loop, once job is decoded: job->doc, or NULL and job->err. With
 * cancelled set the decoder is being freed instead: free what the job holds
 * (its doc, if any) and touch nothing that may already be gone.
 */
typedef void	decode_done_fn(struct decode_job *job, int cancelled);

struct decode_job {
	const void		*buf;		/* the body, unchanged until done */
	size_t			 len;
	unsigned		 max_depth;	/* request_json_load()'s */
	decode_done_fn		*done;
	/* NULL, or more of the caller's work on the thread once doc is decoded */
	void			(*then)(struct decode_job *job);
	json_t			*doc;		/* set by the decoder */
	struct api_error	 err;
	struct decode_job	*next;		/* the decoder's */
};

/* The thread, and the event that brings its jobs back to base's loop. NULL: none (decode on the loop). */
struct decoder	*decoder_new(struct event_base *base);

/* Stop the thread (after the job it holds) and cancel every job not delivered. NULL: a no-op. */
void		 decoder_free(struct decoder *);

/* Decode job on the thread; job->done is called on the loop. */
void		 decoder_submit(struct decoder *, struct decode_job *job);

/*
 * Let go of doc, one reference, on the thread (NULL d: here). A document
 * the thread decoded lives in its malloc arena, and freeing it on the loop
 * while the thread allocates the next made the loop wait on the arena's
 * lock (most of its sleeps at 100 articles a request).
 */
void		 decoder_drop(struct decoder *, json_t *doc);

/* Jobs delivered since decoder_new(). */
unsigned long long	decoder_count(const struct decoder *);
