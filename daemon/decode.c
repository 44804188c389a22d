/*
 * decode: a thread that parses large bodies for the loop; the contract is in
 * decode.h.
 *
 * Two lists under one mutex: the jobs to decode, and those decoded and not
 * yet delivered. The thread wakes the loop through a pipe, one byte for
 * each time the second list stops being empty. The loop delivers one job a
 * turn: a job is a batch that keeps the loop for milliseconds, and between
 * two the loop reads its sockets and sends the replies of the one before
 * (the rest of a 340 KB batch still on its way, say, which waits for the
 * loop to read it before it can be decoded). A zero timeout brings the
 * next job in the next turn, after the sockets. The loop gives the
 * documents it is done with back (a third list under the mutex), and the
 * thread frees them before it decodes another: freed on the loop, they
 * made it wait on the lock of the thread's malloc arena.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "decode.h"
#include "request.h"
#include "thread.h"
#include "xmalloc.h"

struct job_list {
	struct decode_job	*head;
	struct decode_job	**tail;
};

struct decoder {
	pthread_t		 dec_thread;
	pthread_mutex_t		 dec_mu;
	pthread_cond_t		 dec_work;
	struct job_list		 dec_todo;	/* under dec_mu */
	struct job_list		 dec_done;	/* under dec_mu */
	int			 dec_woken;	/* a byte is on its way: dec_done is not empty */
	int			 dec_stop;
	json_t			**dec_drop;	/* under dec_mu: documents for the thread to free */
	size_t			 dec_ndrop, dec_capdrop;
	int			 dec_pipe[2];
	struct event		*dec_ev;
	struct event		*dec_next;	/* delivers the next job, next turn */
	unsigned long long	 dec_count;	/* the loop's */
};

static void
list_init(struct job_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void
list_push(struct job_list *l, struct decode_job *job)
{
	job->next = NULL;
	*l->tail = job;
	l->tail = &job->next;
}

/* The first job of the list, taken off it, or NULL. */
static struct decode_job *
list_pop(struct job_list *l)
{
	struct decode_job	*job = l->head;

	if (job != NULL && (l->head = job->next) == NULL)
		l->tail = &l->head;
	return job;
}

/* The whole list, leaving it empty. */
static struct decode_job *
list_take(struct job_list *l)
{
	struct decode_job	*head = l->head;

	list_init(l);
	return head;
}

static void *
decoder_main(void *arg)
{
	struct decoder		*d = arg;
	struct decode_job	*job;
	int			 wake;

	pthread_mutex_lock(&d->dec_mu);
	for (;;) {
		while (!d->dec_stop && d->dec_todo.head == NULL && d->dec_ndrop == 0)
			pthread_cond_wait(&d->dec_work, &d->dec_mu);
		if (d->dec_stop)
			break;
		if (d->dec_ndrop > 0) {
			/* first, so that the next document reuses what this one held */
			json_t	*doc = d->dec_drop[--d->dec_ndrop];

			pthread_mutex_unlock(&d->dec_mu);
			json_decref(doc);
			pthread_mutex_lock(&d->dec_mu);
			continue;
		}
		job = list_pop(&d->dec_todo);
		pthread_mutex_unlock(&d->dec_mu);

		if (request_json_load(job->buf, job->len, job->max_depth, &job->doc, &job->err) != 0)
			job->doc = NULL;
		else if (job->then != NULL)
			job->then(job);

		pthread_mutex_lock(&d->dec_mu);
		list_push(&d->dec_done, job);
		wake = !d->dec_woken;
		d->dec_woken = 1;
		if (wake) {
			/* a full pipe holds bytes enough to wake the loop already */
			ssize_t	n = write(d->dec_pipe[1], "", 1);

			(void)n;
		}
	}
	pthread_mutex_unlock(&d->dec_mu);
	return NULL;
}

/* Deliver the first decoded job, and ask for the next turn when more are done. */
static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 at_once;
	struct decoder			*d = arg;
	struct decode_job		*job;
	int				 more;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&d->dec_mu);
	job = list_pop(&d->dec_done);
	/* while more are waiting, the thread need not write: dec_woken stays */
	if (!(more = d->dec_done.head != NULL))
		d->dec_woken = 0;
	pthread_mutex_unlock(&d->dec_mu);
	if (more)
		evtimer_add(d->dec_next, &at_once);
	if (job != NULL) {
		d->dec_count++;
		job->done(job, 0);
	}
}

static void
on_woken(evutil_socket_t fd, short what, void *arg)
{
	char	buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver(fd, what, arg);
}

struct decoder *
decoder_new(struct event_base *base)
{
	struct decoder	*d = xcalloc(1, sizeof(*d));

	list_init(&d->dec_todo);
	list_init(&d->dec_done);
	d->dec_pipe[0] = d->dec_pipe[1] = -1;
	pthread_mutex_init(&d->dec_mu, NULL);
	pthread_cond_init(&d->dec_work, NULL);
	if (pipe2(d->dec_pipe, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    (d->dec_ev = event_new(base, d->dec_pipe[0], EV_READ | EV_PERSIST, on_woken, d)) ==
	    NULL || event_add(d->dec_ev, NULL) != 0 ||
	    (d->dec_next = evtimer_new(base, deliver, d)) == NULL ||
	    thread_start(&d->dec_thread, "storyd-decode", decoder_main, d) != 0) {
		if (d->dec_ev != NULL)
			event_free(d->dec_ev);
		if (d->dec_next != NULL)
			event_free(d->dec_next);
		for (int i = 0; i < 2; i++)
			if (d->dec_pipe[i] != -1)
				close(d->dec_pipe[i]);
		pthread_mutex_destroy(&d->dec_mu);
		pthread_cond_destroy(&d->dec_work);
		free(d);
		return NULL;
	}
	return d;
}

void
decoder_free(struct decoder *d)
{
	struct decode_job	*job, *next;

	if (d == NULL)
		return;
	thread_stop(d->dec_thread, &d->dec_mu, &d->dec_work, &d->dec_stop);
	for (int l = 0; l < 2; l++)
		for (job = list_take(l == 0 ? &d->dec_done : &d->dec_todo); job != NULL; job = next) {
			next = job->next;
			job->done(job, 1);
		}
	while (d->dec_ndrop > 0)
		json_decref(d->dec_drop[--d->dec_ndrop]);
	free(d->dec_drop);
	event_free(d->dec_ev);
	event_free(d->dec_next);
	close(d->dec_pipe[0]);
	close(d->dec_pipe[1]);
	pthread_mutex_destroy(&d->dec_mu);
	pthread_cond_destroy(&d->dec_work);
	free(d);
}

void
decoder_submit(struct decoder *d, struct decode_job *job)
{
	job->doc = NULL;
	pthread_mutex_lock(&d->dec_mu);
	list_push(&d->dec_todo, job);
	pthread_cond_signal(&d->dec_work);
	pthread_mutex_unlock(&d->dec_mu);
}

void
decoder_drop(struct decoder *d, json_t *doc)
{
	if (doc == NULL)
		return;
	if (d == NULL) {
		json_decref(doc);
		return;
	}
	pthread_mutex_lock(&d->dec_mu);
	if (d->dec_ndrop == d->dec_capdrop) {
		d->dec_capdrop = d->dec_capdrop ? 2 * d->dec_capdrop : 16;
		d->dec_drop = xreallocarray(d->dec_drop, d->dec_capdrop, sizeof(*d->dec_drop));
	}
	d->dec_drop[d->dec_ndrop++] = doc;
	pthread_cond_signal(&d->dec_work);
	pthread_mutex_unlock(&d->dec_mu);
}

unsigned long long
decoder_count(const struct decoder *d)
{
	return d != NULL ? d->dec_count : 0;
}
