/*
 * ahead: a second thread that fingerprints a batch's articles from its end
 * while the loop works through it from the start; the contract is in
 * ahead.h.
 *
 * Who fingerprints an article is settled by one atomic word holding the
 * unclaimed range [front, back) of the batch: the loop claims front, the
 * thread claims back - 1, each with a compare-and-swap, so the two meet
 * wherever their speeds put them. The thread copies each doc out of its
 * fingerprinter (which the next article reuses) into a slot of its own and
 * marks the slot ready. The loop waits for an article the thread is still
 * working on only as long as fingerprinting it would take (WAIT_S), then
 * does it itself: the thread shares its core with everything else on the
 * machine, and a wait on it had no bound (up to 9 ms, README
 * "Performance"). So the thread works on copies of the batch's texts, and
 * may still be busy with an abandoned article when the next batch comes;
 * that batch then goes without it. What the decoder made of a post stays in
 * its slot, the loop reading what it takes, and the thread drops it when it
 * starts on the next batch.
 *
 * A stream of posts turns the roles round: the loop adds posts at the back
 * as it reads them (moving back up), the thread claims from the front
 * meanwhile, and the loop, once it has read them all, claims from the back
 * whenever the next of the thread's is not ready yet. Each post is copied
 * into its slot's own buffer, which later posts never move.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ahead.h"
#include "clock.h"
#include "thread.h"

/* A doc the thread made, copied out of its fingerprinter. */
struct made {
	struct doc	 doc;
	uint32_t	*sig;			/* k values */
	struct terms	 terms;
	void		*decoded;		/* a post's, by the decoder, until the thread drops it */
	char		*body;			/* a streamed post's copy of its body */
	size_t		 body_cap;
	int		 r;			/* fingerprint()'s, -ENOMEM copying, or REFUSED */
	_Atomic int	 ready;			/* doc, decoded and r are written */
};

#define REFUSED		1	/* the decoder said the post is not one article */

/*
 * How long the loop waits for an article the thread holds: a little more
 * than the thread takes for a 2 KB article (~30 us). Waiting longer means
 * the thread is off its core, and doing it again costs less than that.
 */
#define WAIT_S		50e-6

#define BYTES_KEPT	(1 << 20)	/* a larger copy of the texts shrinks once a batch needs a quarter */
#define BODY_KEPT	(64 << 10)	/* the same for a streamed post's copy, one a slot */

struct ahead {
	pthread_t			 thread;
	pthread_mutex_t			 mu;
	pthread_cond_t			 work;	/* the thread waits for a batch or stop */
	struct fingerprinter		*f;
	unsigned			 k;

	struct article_text		*t;	/* the batch: copies, pointing into bytes */
	struct ahead_post		*post;	/* or a batch of posts (dec), the same */
	struct ahead_decoder		 dec;	/* decode NULL for texts; rules copied */
	void				*rules;
	size_t				 rules_cap;
	char				*bytes;
	size_t				 bytes_cap;
	_Atomic uint64_t		 range;	/* front | back << 32: not yet claimed */
	struct made			*slot;	/* one an article of the batch, at least */
	size_t				 cap;	/* of t, post and slot */
	size_t				 n;	/* the last batch's articles */
	size_t				 ndecoded;	/* the thread's: slots decoded may be in, */
	void				(*dropper)(void *);	/* ... and what drops it */
	int				 open;	/* the loop's: a batch begun and not ended */
	int				 stream;	/* set under mu: a stream of posts */
	int				 posted;	/* under mu: a batch waits for the thread */
	unsigned			 batches;	/* under mu: begun so far */
	int				 busy;	/* under mu: the thread is in a batch */
	int				 stop;
};

static uint64_t
range_of(uint32_t front, uint32_t back)
{
	return (uint64_t)back << 32 | front;
}

/*
 * Claim the first unclaimed article (the thread, in a stream) or the last
 * (the thread, in a batch; the loop, in a stream): its index, or -1 when
 * none is left.
 */
static int64_t
claim(struct ahead *a, int first)
{
	uint64_t	cur = atomic_load(&a->range);

	for (;;) {
		uint32_t	front = (uint32_t)cur, back = (uint32_t)(cur >> 32);

		if (back <= front)
			return -1;
		if (atomic_compare_exchange_weak(&a->range, &cur,
		    first ? range_of(front + 1, back) : range_of(front, back - 1)))
			return first ? front : back - 1;
	}
}

static int
made_copy(struct made *m, const struct doc *d, unsigned k)
{
	if (terms_copy(&m->terms, d->terms) < 0)
		return -ENOMEM;
	memcpy(m->sig, d->sig, k * sizeof(*m->sig));
	m->doc = *d;
	m->doc.sig = m->sig;
	m->doc.terms = &m->terms;
	return 0;
}

/* What the decoder made of the last batch's posts: the thread's, or the stopped thread's. */
static void
decoded_drop(struct ahead *a)
{
	for (size_t i = 0; i < a->ndecoded; i++) {
		if (a->slot[i].decoded != NULL)
			a->dropper(a->slot[i].decoded);
		a->slot[i].decoded = NULL;
	}
	a->ndecoded = 0;
}

static void *
ahead_main(void *arg)
{
	struct ahead	*a = arg;
	int64_t		 i;
	int		 stream, fresh;
	unsigned	 batch = 0;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && !a->posted)
			pthread_cond_wait(&a->work, &a->mu);
		if (a->stop)
			break;
		a->posted = 0;
		a->busy = 1;
		stream = a->stream;
		/* woken for a new batch, not for more posts of a stream */
		fresh = batch != a->batches;
		batch = a->batches;
		pthread_mutex_unlock(&a->mu);
		if (fresh) {
			decoded_drop(a);
			a->dropper = a->dec.drop;
		}
		while ((i = claim(a, stream)) >= 0) {
			struct made		*m = &a->slot[i];
			const struct doc	*d;

			if ((size_t)i >= a->ndecoded)
				a->ndecoded = (size_t)i + 1;
			if (a->dec.decode != NULL && a->dec.decode(a->dec.rules, &a->post[i],
			    &m->decoded, &a->t[i]) != 0)
				m->r = REFUSED;
			else if ((m->r = fingerprint(a->f, &a->t[i], &d)) == 0)
				m->r = made_copy(m, d, a->k);
			atomic_store_explicit(&m->ready, 1, memory_order_release);
		}
		pthread_mutex_lock(&a->mu);
		a->busy = 0;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct ahead *
ahead_new(const struct cluster_params *p)
{
	struct ahead	*a;
	int		 r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->k = p->k;
	if ((a->f = fingerprinter_new(p)) == NULL) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->work, NULL);
	if ((r = thread_start(&a->thread, "storyd-ahead", ahead_main, a)) != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->work);
		fingerprinter_free(a->f);
		free(a);
		return NULL;
	}
	return a;
}

void
ahead_free(struct ahead *a)
{
	if (a == NULL)
		return;
	thread_stop(a->thread, &a->mu, &a->work, &a->stop);
	decoded_drop(a);
	for (size_t i = 0; i < a->cap; i++) {
		free(a->slot[i].sig);
		free(a->slot[i].body);
		terms_fini(&a->slot[i].terms);
	}
	free(a->slot);
	free(a->t);
	free(a->post);
	free(a->rules);
	free(a->bytes);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->work);
	fingerprinter_free(a->f);
	free(a);
}

/* Slots and texts for n articles; the thread is out of any batch. */
static int
slots_reserve(struct ahead *a, size_t n)
{
	struct made		*v;
	struct article_text	*t;
	struct ahead_post	*p;

	if (n <= a->cap)
		return 0;
	if ((t = realloc(a->t, n * sizeof(*t))) == NULL)
		return -ENOMEM;
	a->t = t;
	if ((p = realloc(a->post, n * sizeof(*p))) == NULL)
		return -ENOMEM;
	a->post = p;
	if ((v = realloc(a->slot, n * sizeof(*v))) == NULL)
		return -ENOMEM;
	a->slot = v;
	for (; a->cap < n; a->cap++) {
		struct made	*m = &a->slot[a->cap];

		memset(m, 0, sizeof(*m));
		terms_init(&m->terms);
		if ((m->sig = malloc(a->k * sizeof(*m->sig))) == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* The bytes of a text's fields, which the copies point into. */
static size_t
text_bytes(const struct article_text *t)
{
	return t->title_len + t->body_len + t->source_len + t->kept_len;
}

/* A copy of p[0..n) at *at in a->bytes, or NULL for NULL. */
static const void *
bytes_copy(struct ahead *a, size_t *at, const void *p, size_t n)
{
	char	*to = a->bytes + *at;

	if (p == NULL)
		return NULL;
	memcpy(to, p, n);
	*at += n;
	return to;
}

/*
 * Room for need bytes in *buf: grown for a large batch or post, shrunk
 * after one once a quarter will do and more than kept is held.
 */
static int
buf_room(char **buf, size_t *cap, size_t need, size_t kept)
{
	if (need > *cap || (*cap > kept && need < *cap / 4)) {
		char	*b = realloc(*buf, need > 0 ? need : 1);

		if (b == NULL)
			return -ENOMEM;
		*buf = b;
		*cap = need;
	}
	return 0;
}

/* Copy t[0..n) and their bytes; the thread is out of any batch. */
static int
texts_copy(struct ahead *a, const struct article_text *t, size_t n)
{
	size_t	need = 0, at = 0;

	for (size_t i = 0; i < n; i++)
		need += text_bytes(&t[i]);
	if (buf_room(&a->bytes, &a->bytes_cap, need, BYTES_KEPT) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a->t[i] = t[i];
		a->t[i].title = bytes_copy(a, &at, t[i].title, t[i].title_len);
		a->t[i].body = bytes_copy(a, &at, t[i].body, t[i].body_len);
		a->t[i].source = bytes_copy(a, &at, t[i].source, t[i].source_len);
		a->t[i].kept = bytes_copy(a, &at, t[i].kept, t[i].kept_len);
	}
	return 0;
}

/* Copy p[0..n) and their bodies; the thread is out of any batch. */
static int
posts_copy(struct ahead *a, const struct ahead_post *p, size_t n)
{
	size_t	need = 0, at = 0;

	for (size_t i = 0; i < n; i++)
		need += p[i].len;
	if (buf_room(&a->bytes, &a->bytes_cap, need, BYTES_KEPT) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a->post[i] = p[i];
		a->post[i].body = bytes_copy(a, &at, p[i].body, p[i].len);
	}
	return 0;
}

/*
 * Ready a batch of n: the thread is out of any batch (else -EBUSY), room
 * made. The thread reads none of it until batch_post().
 */
static int
batch_open(struct ahead *a, size_t n)
{
	int	busy;

	if (n > UINT32_MAX)
		return -ENOMEM;
	if (a->open)
		return -EBUSY;	/* a batch within a batch: a batch post among a turn's posts */
	pthread_mutex_lock(&a->mu);
	busy = a->busy;
	pthread_mutex_unlock(&a->mu);
	if (busy)
		return -EBUSY;
	return slots_reserve(a, n);
}

/*
 * Open the batch of n articles ready in their slots and wake the thread for
 * it; or, for a stream, open it empty: ahead_add_post() wakes the thread.
 */
static void
batch_post(struct ahead *a, size_t n, int stream)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&a->slot[i].ready, 0, memory_order_relaxed);
	a->n = n;
	a->open = 1;
	atomic_store(&a->range, range_of(0, (uint32_t)n));
	pthread_mutex_lock(&a->mu);
	a->stream = stream;
	a->batches++;
	a->posted = !stream;
	pthread_mutex_unlock(&a->mu);
	if (!stream)
		pthread_cond_signal(&a->work);
}

int
ahead_begin(struct ahead *a, const struct article_text *t, size_t n)
{
	int	r;

	if ((r = batch_open(a, n)) != 0)
		return r;
	a->dec.decode = NULL;
	if (texts_copy(a, t, n) < 0)
		return -ENOMEM;
	batch_post(a, n, 0);
	return 0;
}

/* Take dec with a copy of its rules; the thread is out of any batch. */
static int
decoder_copy(struct ahead *a, const struct ahead_decoder *dec)
{
	a->dec.decode = NULL;	/* until the rules are copied */
	if (dec->rules_size > a->rules_cap) {
		void	*rules = realloc(a->rules, dec->rules_size);

		if (rules == NULL)
			return -ENOMEM;
		a->rules = rules;
		a->rules_cap = dec->rules_size;
	}
	if (dec->rules_size > 0)
		memcpy(a->rules, dec->rules, dec->rules_size);
	a->dec = *dec;
	a->dec.rules = a->rules;
	return 0;
}

int
ahead_begin_posts(struct ahead *a, const struct ahead_decoder *dec, const struct ahead_post *p,
    size_t n)
{
	int	r;

	if ((r = batch_open(a, n)) != 0)
		return r;
	if ((r = decoder_copy(a, dec)) != 0 || (r = posts_copy(a, p, n)) != 0)
		return r;
	batch_post(a, n, 0);
	return 0;
}

int
ahead_open_posts(struct ahead *a, const struct ahead_decoder *dec, size_t room)
{
	int	r;

	if ((r = batch_open(a, room)) != 0 || (r = decoder_copy(a, dec)) != 0)
		return r;
	batch_post(a, 0, 1);
	return 0;
}

int
ahead_add_post(struct ahead *a, const struct ahead_post *p)
{
	struct made	*m;
	int		 idle;

	assert(a->open && a->stream);
	if (a->n == a->cap)
		return -ENOSPC;
	m = &a->slot[a->n];
	if (buf_room(&m->body, &m->body_cap, p->len, BODY_KEPT) < 0)
		return -ENOMEM;
	memcpy(m->body, p->body, p->len);
	a->post[a->n] = *p;
	a->post[a->n].body = m->body;
	atomic_store_explicit(&m->ready, 0, memory_order_relaxed);
	a->n++;
	/* publish it: back, the range's high half, one up (the thread may move front) */
	atomic_fetch_add(&a->range, range_of(0, 1));
	pthread_mutex_lock(&a->mu);
	a->posted = 1;
	idle = !a->busy;
	pthread_mutex_unlock(&a->mu);
	/* after the unlock: woken under it, the thread would wait for the mutex at once */
	if (idle)
		pthread_cond_signal(&a->work);
	return 0;
}

int
ahead_peek(struct ahead *a, size_t i)
{
	assert(a->open && a->stream);
	if (i >= (uint32_t)atomic_load(&a->range))
		return -1;
	return atomic_load_explicit(&a->slot[i].ready, memory_order_acquire) ? 1 : 0;
}

int64_t
ahead_claim_last(struct ahead *a)
{
	assert(a->open && a->stream);
	return claim(a, 0);
}

/* Is m ready within WAIT_S? Spins: the wait is shorter than a sleep and a wake-up. */
static int
made_wait(struct made *m)
{
	double	start = clock_seconds(CLOCK_MONOTONIC);

	for (unsigned spin = 1;; spin++) {
		if (atomic_load_explicit(&m->ready, memory_order_acquire))
			return 1;
		if (spin % 64 == 0 && clock_seconds(CLOCK_MONOTONIC) - start > WAIT_S)
			return 0;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

/*
 * Article i for the loop, in order: NULL when it is the loop's to do (it
 * claimed it, or the thread is too slow with it), else its slot, ready.
 */
static struct made *
take(struct ahead *a, size_t i)
{
	uint64_t	cur = atomic_load(&a->range);
	struct made	*m = &a->slot[i];

	if (a->stream) {
		/* the thread's: the caller claims none but from the end */
		assert(i < (uint32_t)cur);
		return made_wait(m) ? m : NULL;
	}
	/* in order: everything before i is claimed, so front is i */
	while (i < (cur >> 32))
		if (atomic_compare_exchange_weak(&a->range, &cur,
		    range_of((uint32_t)i + 1, (uint32_t)(cur >> 32))))
			return NULL;
	/* the thread's copy of the doc, if it ever comes, is not read */
	return made_wait(m) ? m : NULL;
}

int
ahead_take(struct ahead *a, size_t i, const struct doc **doc)
{
	struct made	*m = take(a, i);

	if (m == NULL)
		return 0;
	if (m->r < 0)
		return m->r;
	*doc = &m->doc;
	return 1;
}

const struct doc *
ahead_ready(struct ahead *a, size_t i)
{
	struct made	*m = &a->slot[i];

	assert(a->open && i < a->cap);
	/* as ahead_peek(): a stream's slot the thread has not reached may be an earlier one's */
	if (a->stream && i >= (uint32_t)atomic_load(&a->range))
		return NULL;
	if (!atomic_load_explicit(&m->ready, memory_order_acquire) || m->r != 0)
		return NULL;
	return &m->doc;
}

int
ahead_take_post(struct ahead *a, size_t i, void **made, const struct doc **doc)
{
	struct made	*m = take(a, i);

	if (m == NULL || m->r == REFUSED)
		return 0;
	*made = m->decoded;
	if (m->r < 0)
		return m->r;
	*doc = &m->doc;
	return 1;
}

void
ahead_end(struct ahead *a)
{
	uint64_t	cur = atomic_load(&a->range);

	/* nothing left to claim: the thread leaves after the article it holds, if any */
	while (!atomic_compare_exchange_weak(&a->range, &cur, range_of((uint32_t)cur, (uint32_t)cur)))
		;
	a->open = 0;
	pthread_mutex_lock(&a->mu);
	a->stream = 0;
	a->posted = 0;
	pthread_mutex_unlock(&a->mu);
}
