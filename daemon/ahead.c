/*
 * ahead: a second thread that fingerprints a batch's articles from its end
 * while the loop works through it from the start; the contract is in
 * ahead.h.
 *
 * Who fingerprints an article is settled by one atomic word holding the
 * unclaimed range [front, back) of the batch: the loop claims front, the
 * thread claims back - 1, each with a compare-and-swap, so the two meet
 * wherever their speeds put them. The thread copies each doc out of its
 * fingerprinter (which the next article reuses) into a slot of its own,
 * and marks the slot ready under the mutex; the loop waits there only for
 * an article the thread is still working on.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ahead.h"
#include "thread.h"

/* A doc the thread made, copied out of its fingerprinter. */
struct made {
	struct doc	 doc;
	uint32_t	*sig;			/* k values */
	struct terms	 terms;
	int		 r;			/* fingerprint()'s, or -ENOMEM copying */
	int		 ready;			/* under mu */
};

struct ahead {
	pthread_t			 thread;
	pthread_mutex_t			 mu;
	pthread_cond_t			 work;	/* the thread waits for a batch or stop */
	pthread_cond_t			 made;	/* the loop waits for a slot, or the thread's leaving */
	struct fingerprinter		*f;
	unsigned			 k;

	const struct article_text	*t;	/* the batch */
	_Atomic uint64_t		 range;	/* front | back << 32: not yet claimed */
	struct made			*slot;	/* one an article of the batch, at least */
	size_t				 cap;
	int				 posted;	/* a batch waits for the thread */
	int				 busy;	/* the thread is in a batch */
	int				 stop;
};

static uint64_t
range_of(uint32_t front, uint32_t back)
{
	return (uint64_t)back << 32 | front;
}

/* The thread's claim: the last unclaimed article, or -1 when none is left. */
static int64_t
claim_back(struct ahead *a)
{
	uint64_t	cur = atomic_load(&a->range);

	for (;;) {
		uint32_t	front = (uint32_t)cur, back = (uint32_t)(cur >> 32);

		if (back <= front)
			return -1;
		if (atomic_compare_exchange_weak(&a->range, &cur, range_of(front, back - 1)))
			return back - 1;
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

static void *
ahead_main(void *arg)
{
	struct ahead	*a = arg;
	int64_t		 i;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && !a->posted)
			pthread_cond_wait(&a->work, &a->mu);
		if (a->stop)
			break;
		a->posted = 0;
		a->busy = 1;
		pthread_mutex_unlock(&a->mu);
		while ((i = claim_back(a)) >= 0) {
			struct made		*m = &a->slot[i];
			const struct doc	*d;

			if ((m->r = fingerprint(a->f, &a->t[i], &d)) == 0)
				m->r = made_copy(m, d, a->k);
			pthread_mutex_lock(&a->mu);
			m->ready = 1;
			pthread_cond_broadcast(&a->made);
			pthread_mutex_unlock(&a->mu);
		}
		pthread_mutex_lock(&a->mu);
		a->busy = 0;
		pthread_cond_broadcast(&a->made);
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
	pthread_cond_init(&a->made, NULL);
	if ((r = thread_start(&a->thread, "storyd-ahead", ahead_main, a)) != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->work);
		pthread_cond_destroy(&a->made);
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
	for (size_t i = 0; i < a->cap; i++) {
		free(a->slot[i].sig);
		terms_fini(&a->slot[i].terms);
	}
	free(a->slot);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->made);
	fingerprinter_free(a->f);
	free(a);
}

/* Slots for n articles; the thread is out of any batch. */
static int
slots_reserve(struct ahead *a, size_t n)
{
	struct made	*v;

	if (n <= a->cap)
		return 0;
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

int
ahead_begin(struct ahead *a, const struct article_text *t, size_t n)
{
	if (n > UINT32_MAX)
		return -ENOMEM;
	if (slots_reserve(a, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		a->slot[i].ready = 0;
	a->t = t;
	atomic_store(&a->range, range_of(0, (uint32_t)n));
	pthread_mutex_lock(&a->mu);
	a->posted = 1;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

int
ahead_take(struct ahead *a, size_t i, const struct doc **doc)
{
	uint64_t	cur = atomic_load(&a->range);
	struct made	*m = &a->slot[i];

	/* in order: everything before i is claimed, so front is i */
	while (i < (cur >> 32))
		if (atomic_compare_exchange_weak(&a->range, &cur,
		    range_of((uint32_t)i + 1, (uint32_t)(cur >> 32))))
			return 0;
	pthread_mutex_lock(&a->mu);
	while (!m->ready)
		pthread_cond_wait(&a->made, &a->mu);
	pthread_mutex_unlock(&a->mu);
	if (m->r < 0)
		return m->r;
	*doc = &m->doc;
	return 1;
}

void
ahead_end(struct ahead *a)
{
	uint64_t	cur = atomic_load(&a->range);

	/* nothing left to claim, then wait for the thread to put down what it holds */
	while (!atomic_compare_exchange_weak(&a->range, &cur, range_of((uint32_t)cur, (uint32_t)cur)))
		;
	pthread_mutex_lock(&a->mu);
	a->posted = 0;
	while (a->busy)
		pthread_cond_wait(&a->made, &a->mu);
	pthread_mutex_unlock(&a->mu);
}
