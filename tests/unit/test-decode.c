/*
 * test-decode: the decode thread gives each body back to the loop once, in
 * the order given, decoded (after the job's further work, on the thread)
 * or with the error the loop would have given, one a loop turn; freed
 * first, it cancels what it has not delivered, each once; a document
 * dropped is freed on the thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sys/socket.h>

#include "decode.h"

#define NJOBS	64

struct seen {
	struct decode_job	 job[NJOBS];
	int			 order[NJOBS];	/* job indexes, as delivered */
	int			 ndone, ncancelled;
	int			 cancelled[NJOBS];
	int			 decoded[NJOBS];	/* an array of one article */
	int			 then[NJOBS];	/* then() ran, on the thread, before done */
	pthread_t		 loop;
};

static struct seen	seen;

/* A job's further work on the thread: only once its document is decoded. */
static void
on_then(struct decode_job *job)
{
	int	i = (int)(job - seen.job);

	if (job->doc != NULL && !pthread_equal(pthread_self(), seen.loop))
		seen.then[i]++;
	else
		seen.then[i] = -1;
}

static void
on_done(struct decode_job *job, int cancelled)
{
	int	i = (int)(job - seen.job);

	if (cancelled) {
		seen.cancelled[i]++;
		seen.ncancelled++;
	} else {
		/* delivered after then(), which the thread ran for a decoded job only */
		assert_int_equal(seen.then[i], job->doc != NULL);
		seen.order[seen.ndone++] = i;
		seen.decoded[i] = job->doc != NULL &&
		    json_array_size(json_object_get(job->doc, "articles")) == 1;
	}
	json_decref(job->doc);		/* the callback's, cancelled or not */
}

static void
submit(struct decoder *d, int i, const char *body)
{
	seen.job[i] = (struct decode_job){ .buf = body, .len = strlen(body), .max_depth = 8,
	    .done = on_done, .then = on_then };
	decoder_submit(d, &seen.job[i]);
}

static void
test_bodies_come_back_in_order_decoded_or_refused(void **state)
{
	struct event_base	*base = event_base_new();
	struct decoder		*d;
	static const char	*bodies[] = {
		"{\"articles\":[{\"id\":\"a\",\"title\":\"x\"}]}",
		"{\"articles\":[",				/* cut */
		"{\"t\":\"\xff\"}",				/* not UTF-8 */
		"[[[[[[[[[[[[1]]]]]]]]]]]]",			/* deeper than 8 */
	};

	(void)state;
	memset(&seen, 0, sizeof(seen));
	seen.loop = pthread_self();
	assert_non_null(base);
	assert_non_null(d = decoder_new(base));
	for (int i = 0; i < NJOBS; i++)
		submit(d, i, bodies[i % 4]);
	while (seen.ndone < NJOBS)
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(decoder_count(d), NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(seen.order[i], i);
		assert_int_equal(seen.decoded[i], i % 4 == 0);
		if (i % 4 == 0)
			continue;
		assert_null(seen.job[i].doc);
		assert_int_equal(seen.job[i].err.status, i % 4 == 2 ? 422 : 400);
		assert_string_equal(seen.job[i].err.code, i % 4 == 1 ? "malformed_json" :
		    i % 4 == 2 ? "invalid_utf8" : "too_deep");
	}
	decoder_free(d);
	assert_int_equal(seen.ncancelled, 0);
	event_base_free(base);
}

/* A socket the loop sees readable in every turn, and how many turns it saw. */
static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

static void
test_a_turn_delivers_one_job_and_sockets_are_served_between_two(void **state)
{
	struct event_base	*base = event_base_new();
	struct decoder		*d;
	struct event		*ev;
	int			 sv[2], turns = 0;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	assert_non_null(base);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);	/* never read: ready in every turn */
	assert_non_null(ev = event_new(base, sv[0], EV_READ | EV_PERSIST, on_readable, &turns));
	assert_int_equal(event_add(ev, NULL), 0);
	assert_non_null(d = decoder_new(base));
	for (int i = 0; i < 8; i++)
		submit(d, i, "{\"articles\":[{\"id\":\"a\",\"title\":\"x\"}]}");
	usleep(200 * 1000);	/* all eight decoded before the loop looks, most likely */
	while (seen.ndone < 8) {
		int	before = seen.ndone, t = turns;

		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
		assert_true(seen.ndone - before <= 1);
		assert_int_equal(turns, t + 1);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(seen.order[i], i);
	decoder_free(d);
	assert_int_equal(seen.ncancelled, 0);
	event_free(ev);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}

static pthread_t	test_thread;
static atomic_int	frees_elsewhere;	/* jansson's frees off the test's thread */

static void
free_counted(void *p)
{
	if (p != NULL && !pthread_equal(pthread_self(), test_thread))
		atomic_fetch_add(&frees_elsewhere, 1);
	free(p);
}

static void
test_a_dropped_document_is_freed_on_the_thread_once_the_last_reference_goes(void **state)
{
	struct event_base	*base = event_base_new();
	struct decoder		*d;
	json_t			*kept, *gone;

	(void)state;
	test_thread = pthread_self();
	json_set_alloc_funcs(malloc, free_counted);
	assert_non_null(base);
	assert_non_null(d = decoder_new(base));
	assert_non_null(kept = json_pack("{s:[s,s]}", "articles", "a", "b"));
	json_incref(kept);		/* ours too: the thread only lets go of its reference */
	decoder_drop(d, kept);
	assert_non_null(gone = json_pack("{s:[s,s]}", "articles", "c", "d"));
	decoder_drop(d, gone);
	for (int i = 0; i < 5000 && atomic_load(&frees_elsewhere) == 0; i++)
		usleep(1000);
	decoder_free(d);
	/* gone's object, array, two strings and the key's copy, all on the thread */
	assert_true(atomic_load(&frees_elsewhere) >= 4);
	assert_int_equal(kept->refcount, 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(kept, "articles"),
	    1)), "b");
	json_decref(kept);
	decoder_drop(NULL, json_pack("[i]", 1));	/* no thread: freed here */
	json_set_alloc_funcs(malloc, free);
	event_base_free(base);
}

static void
test_freeing_cancels_what_was_not_delivered_once_each(void **state)
{
	struct event_base	*base = event_base_new();
	struct decoder		*d;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	assert_non_null(base);
	assert_non_null(d = decoder_new(base));
	/* the loop never runs: decoded or not, nothing is delivered */
	for (int i = 0; i < NJOBS; i++)
		submit(d, i, "{\"articles\":[{\"id\":\"a\",\"title\":\"x\"}]}");
	decoder_free(d);
	assert_int_equal(seen.ndone, 0);
	assert_int_equal(seen.ncancelled, NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(seen.cancelled[i], 1);
	decoder_free(NULL);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies_come_back_in_order_decoded_or_refused),
		cmocka_unit_test(test_a_turn_delivers_one_job_and_sockets_are_served_between_two),
		cmocka_unit_test(test_a_dropped_document_is_freed_on_the_thread_once_the_last_reference_goes),
		cmocka_unit_test(test_freeing_cancels_what_was_not_delivered_once_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
