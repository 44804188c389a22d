/*
 * test-ahead: the second fingerprinter gives the loop the docs that
 * fingerprinting the texts here gives, though the caller's texts are gone
 * once the batch has begun; and a thread held by a long article does not
 * hold the loop: the loop takes that article back, ends the batch, and the
 * next batch goes without the thread until it is free. Posts are decoded
 * by the caller's decoder with the rules of their batch, what it refuses
 * is the caller's, and what the caller never took is dropped, once. A
 * stream of posts is decoded from its first post while more are added, and
 * the caller has each post once, the thread's or its own.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ahead.h"
#include "fingerprint.h"

static const char	*words[] = {
	"minister", "talks", "beijing", "visit", "secretary", "trade", "summit", "storm",
	"flood", "election", "court", "ruling", "market", "shares", "police", "fire",
	"river", "council", "budget", "vote", "strike", "union", "airport", "delay",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

/* title and body of article i, written into buf (cap bytes); its text */
static struct article_text
text_make(unsigned i, char *buf, size_t cap, size_t body_words)
{
	size_t	at = 0, title_len;
	unsigned seed = i * 2654435761u + 1;

	for (size_t w = 0; w < 6; w++) {
		seed = seed * 1103515245u + 12345u;
		at += (size_t)snprintf(buf + at, cap - at, "%s%s", w ? " " : "",
		    words[(seed >> 16) % NWORDS]);
	}
	title_len = at;
	for (size_t w = 0; w < body_words; w++) {
		seed = seed * 1103515245u + 12345u;
		at += (size_t)snprintf(buf + at, cap - at, "%s%s", w ? " " : "",
		    words[(seed >> 16) % NWORDS]);
	}
	assert_true(at < cap);
	return (struct article_text){ .title = buf, .title_len = title_len,
	    .body = buf + title_len, .body_len = at - title_len, .source = "wire",
	    .source_len = 4, .published = 1687161600 + i };
}

/* what fingerprinting a here gives */
struct fp {
	uint64_t	exact, simhash;
	uint32_t	shingles;
	uint32_t	sig[128];
	size_t		nterms;
};

static struct fp
fp_of(const struct doc *d)
{
	struct fp	x = { .exact = d->exact, .simhash = d->simhash, .shingles = d->shingles,
			    .nterms = d->terms->n };

	memcpy(x.sig, d->sig, sizeof(x.sig));
	return x;
}

static struct fp
fp_here(struct fingerprinter *f, const struct article_text *a)
{
	const struct doc	*d;

	assert_int_equal(fingerprint(f, a, &d), 0);
	return fp_of(d);
}

static void
assert_fp_equal(const struct fp *got, const struct fp *want)
{
	assert_true(got->exact == want->exact);
	assert_true(got->simhash == want->simhash);
	assert_int_equal(got->shingles, want->shingles);
	assert_memory_equal(got->sig, want->sig, sizeof(got->sig));
	assert_int_equal(got->nterms, want->nterms);
}

/* Overwrite p[0..n): a memset() just before free() may be left out. */
static void
scribble(void *p, size_t n)
{
	volatile char	*c = p;

	for (size_t i = 0; i < n; i++)
		c[i] = 'x';
}

static void
sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 }, NULL);
}

#define MAXN	64
#define TEXT_CAP	4096

static void
test_docs_are_those_of_the_texts_though_the_caller_freed_them(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	struct ahead		*a;
	static const size_t	 sizes[] = { 2, 3, 17, MAXN };
	size_t			 from_thread = 0, batches = 0, readies = 0;
	int			 r;
	char			 work_buf[TEXT_CAP];
	struct article_text	 work = text_make(0, work_buf, sizeof(work_buf), 200);

	(void)state;
	cluster_params_default(&p);
	assert_int_equal(p.k, 128);
	assert_non_null(f = fingerprinter_new(&p));
	assert_non_null(a = ahead_new(&p));
	/* until the thread has taken part with a doc seen ready, and at least once each size */
	while (batches < 4 || ((from_thread == 0 || readies == 0) && batches < 400)) {
		size_t			 n = sizes[batches % 4];
		char			*buf = malloc(n * TEXT_CAP);
		struct article_text	 t[MAXN];
		static struct fp	 want[MAXN];

		assert_non_null(buf);
		for (size_t i = 0; i < n; i++) {
			t[i] = text_make((unsigned)(batches * MAXN + i), buf + i * TEXT_CAP, TEXT_CAP,
			    150 + i % 7 * 20);
			want[i] = fp_here(f, &t[i]);
		}
		r = ahead_begin(a, t, n);
		scribble(buf, n * TEXT_CAP);	/* the thread must not see this */
		free(buf);
		batches++;
		if (r == -EBUSY)
			continue;	/* still on an article the loop took back: this batch is the loop's */
		assert_int_equal(r, 0);
		if (batches % 2 == 0)
			sleep_ms(2);	/* a head start, as when the loop has other work first */
		for (size_t i = 0; i < n; i++) {
			const struct doc	*d, *ready = ahead_ready(a, i);

			r = ahead_take(a, i, &d);
			assert_true(r == 0 || r == 1);
			/* a doc ready before the take is the text's, and the one the take gives */
			if (ready != NULL) {
				struct fp	got = fp_of(ready);

				assert_fp_equal(&got, &want[i]);
				assert_int_equal(r, 1);
				assert_ptr_equal(d, ready);
				readies++;
			}
			if (r == 1) {
				struct fp	got = fp_of(d);

				assert_fp_equal(&got, &want[i]);
				from_thread++;
			} else
				fp_here(f, &work);	/* the loop's own work, as long */
		}
		ahead_end(a);
	}
	assert_true(from_thread > 0);
	assert_true(readies > 0);
	ahead_free(a);
	fingerprinter_free(f);
}

static void
test_a_thread_held_by_a_long_article_does_not_hold_the_loop(void **state)
{
	struct cluster_params	 p;
	struct fingerprinter	*f;
	struct ahead		*a;
	size_t			 big_cap = 8u << 20;
	char			*big = malloc(big_cap), small[2][TEXT_CAP];
	struct article_text	 t[2];
	int			 busy_seen = 0, r;

	(void)state;
	assert_non_null(big);
	cluster_params_default(&p);
	assert_non_null(f = fingerprinter_new(&p));
	assert_non_null(a = ahead_new(&p));
	t[0] = text_make(1, small[0], TEXT_CAP, 100);
	t[1] = text_make(2, big, big_cap, (big_cap - 100) / 12);	/* ~8 MB: the thread's */
	/*
	 * The thread claims the back of the batch as soon as it wakes; give it
	 * the time. The loop then takes both articles and ends the batch, and
	 * the thread is still on the long one: the loop did not wait for it.
	 * Try again in a run where the thread never claimed it, or (valgrind
	 * runs one thread at a time) finished it before the loop asked.
	 */
	for (int attempt = 0; attempt < 20 && !busy_seen; attempt++) {
		const struct doc	*d;

		while ((r = ahead_begin(a, t, 2)) == -EBUSY)
			sleep_ms(10);	/* the last attempt's long article */
		assert_int_equal(r, 0);
		sleep_ms(20);
		for (size_t i = 0; i < 2; i++) {
			r = ahead_take(a, i, &d);
			assert_true(r == 0 || r == 1);
		}
		ahead_end(a);
		r = ahead_begin(a, t, 1);
		if (r == -EBUSY)
			busy_seen = 1;
		else {
			assert_int_equal(r, 0);
			assert_int_equal(ahead_take(a, 0, &d), 0);
			ahead_end(a);
		}
	}
	assert_true(busy_seen);
	/* once it has put the long article down, the thread serves batches again */
	{
		char			 buf[3][TEXT_CAP];
		struct article_text	 u[3];
		struct fp		 want[3];
		const struct doc	*d;

		for (int i = 0; i < 3; i++) {
			u[i] = text_make((unsigned)(10 + i), buf[i], TEXT_CAP, 200);
			want[i] = fp_here(f, &u[i]);
		}
		while ((r = ahead_begin(a, u, 3)) == -EBUSY)
			sleep_ms(10);
		assert_int_equal(r, 0);
		for (size_t i = 0; i < 3; i++) {
			r = ahead_take(a, i, &d);
			assert_true(r == 0 || r == 1);
			if (r == 1) {
				struct fp	got = fp_of(d);

				assert_fp_equal(&got, &want[i]);
			}
		}
		ahead_end(a);
	}
	ahead_free(a);
	fingerprinter_free(f);
	free(big);
}

/*
 * A toy decoder: a post is "title|body" and becomes a copy of itself (the
 * made) that the text points into; a post that starts with the rules'
 * character is refused. The counts say what was made and what dropped, and
 * how much of that on the test's own thread (the loop's, in the daemon).
 */
struct toy_rules {
	char	refuse;
};

static atomic_size_t	toys_made, toys_dropped, toys_dropped_here;
static pthread_t	toys_caller;

static int
toy_decode(const void *rules, const struct ahead_post *p, void **made, struct article_text *text)
{
	const struct toy_rules	*r = rules;
	const char		*bar;
	char			*copy;

	if (p->len == 0 || ((const char *)p->body)[0] == r->refuse ||
	    (bar = memchr(p->body, '|', p->len)) == NULL || (copy = malloc(p->len)) == NULL)
		return -1;
	memcpy(copy, p->body, p->len);
	*made = copy;
	*text = (struct article_text){ .title = copy, .title_len = (size_t)(bar - (const char *)p->body),
	    .body = copy + (bar - (const char *)p->body) + 1,
	    .body_len = p->len - (size_t)(bar - (const char *)p->body) - 1, .published = p->now };
	atomic_fetch_add(&toys_made, 1);
	return 0;
}

static void
toy_drop(void *made)
{
	free(made);
	atomic_fetch_add(&toys_dropped, 1);
	if (pthread_equal(pthread_self(), toys_caller))
		atomic_fetch_add(&toys_dropped_here, 1);
}

/* The decoder's counts zeroed, the caller's thread noted. */
static void
toys_reset(void)
{
	atomic_store(&toys_made, 0);
	atomic_store(&toys_dropped, 0);
	atomic_store(&toys_dropped_here, 0);
	toys_caller = pthread_self();
}

/*
 * Before ahead_free(): what the thread made was freed on the thread as the
 * batches went, none by the caller (in the daemon, the loop freeing it waited
 * on the thread's malloc arena); after it, every made was dropped once.
 */
static void
assert_toys_dropped_by_the_thread(size_t batches)
{
	assert_int_equal(atomic_load(&toys_dropped_here), 0);
	if (batches > 2)
		assert_true(atomic_load(&toys_dropped) > 0);
}

/* A fingerprinter and a second thread for a test of posts; the decoder's counts zeroed. */
static void
posts_setup(struct fingerprinter **f, struct ahead **a)
{
	struct cluster_params	p;

	toys_reset();
	cluster_params_default(&p);
	assert_non_null(*f = fingerprinter_new(&p));
	assert_non_null(*a = ahead_new(&p));
}

/*
 * Take post i: 1 when the thread made it, as want_bytes decode to and
 * fingerprinting them gives (counted in *taken; the thread's to drop), 0
 * when it is the caller's.
 */
static int
post_take(struct ahead *a, size_t i, const char *want_bytes, size_t want_len,
    const struct fp *want, size_t *taken)
{
	const struct doc	*d = NULL;
	void			*made = NULL;
	int			 r = ahead_take_post(a, i, &made, &d);

	assert_true(r == 0 || r == 1);
	if (r == 0) {
		assert_null(made);
		return 0;
	}
	assert_non_null(made);
	assert_memory_equal(made, want_bytes, want_len);
	{
		struct fp	got = fp_of(d);

		assert_fp_equal(&got, want);
	}
	(*taken)++;
	return 1;
}

/* Post i as "title|body" into buf, its first byte lead; the text it decodes to. */
static struct article_text
post_make(unsigned i, char lead, char *buf, size_t cap, size_t body_words, struct ahead_post *p)
{
	struct article_text	t = text_make(i, buf, cap, body_words);	/* title, then body */

	memmove(buf + t.title_len + 1, buf + t.title_len, t.body_len);	/* text_make() left a byte */
	buf[t.title_len] = '|';
	buf[0] = lead;
	*p = (struct ahead_post){ .body = buf, .len = t.title_len + 1 + t.body_len,
	    .now = 1687161600 + i };
	return (struct article_text){ .title = buf, .title_len = t.title_len,
	    .body = buf + t.title_len + 1, .body_len = t.body_len, .published = p->now };
}

static void
test_posts_are_decoded_with_their_batch_rules_and_what_is_refused_is_the_callers(void **state)
{
	struct fingerprinter	*f;
	struct ahead		*a;
	struct toy_rules	 rules = { '!' };
	struct ahead_decoder	 dec = { toy_decode, toy_drop, &rules, sizeof(rules) };
	size_t			 taken = 0, refused_seen = 0, batches = 0;
	char			 work_buf[TEXT_CAP];
	struct article_text	 work_text = text_make(0, work_buf, sizeof(work_buf), 200);
	int			 r;

	(void)state;
	posts_setup(&f, &a);
	/* until the thread has made some posts and refused some, and at least 8 batches */
	while (batches < 8 || ((taken == 0 || refused_seen == 0) && batches < 400)) {
		size_t			 n = 2 + batches % 15;
		char			*buf = malloc(n * TEXT_CAP);
		struct ahead_post	 posts[MAXN];
		static char		 want_bytes[MAXN][TEXT_CAP];
		static struct fp	 want[MAXN];
		size_t			 want_len[MAXN];

		assert_non_null(buf);
		rules.refuse = '!';
		for (size_t i = 0; i < n; i++) {
			/* one post in three starts with the refused character, one in three with the next */
			char			 lead = "!?t"[i % 3];
			struct article_text	 t = post_make((unsigned)(batches * MAXN + i), lead,
						    buf + i * TEXT_CAP, TEXT_CAP, 150 + i % 5 * 30,
						    &posts[i]);

			want[i] = fp_here(f, &t);
			memcpy(want_bytes[i], posts[i].body, posts[i].len);
			want_len[i] = posts[i].len;
		}
		r = ahead_begin_posts(a, &dec, posts, n);
		/*
		 * The caller's posts and rules change at once, the posts to others
		 * the decoder takes ("x|xxx..."): the thread decodes its copies.
		 */
		scribble(buf, n * TEXT_CAP);
		for (size_t i = 0; i < n; i++)
			buf[i * TEXT_CAP + 1] = '|';
		rules.refuse = '?';
		batches++;
		if (r == -EBUSY) {
			free(buf);
			continue;
		}
		assert_int_equal(r, 0);
		if (batches % 2 == 0)
			sleep_ms(2);
		for (size_t i = 0; i < n; i++) {
			/* a batch within this one (a batch post among posts) is the loop's */
			if (i == n / 2)
				assert_int_equal(ahead_begin(a, &work_text, 1), -EBUSY);

			/* made with the batch's rules, from the bytes as they were at the start */
			if (post_take(a, i, want_bytes[i], want_len[i], &want[i], &taken)) {
				assert_int_not_equal(want_bytes[i][0], '!');
				continue;
			}
			/* the caller's own: refused by the batch's rules, or not reached */
			refused_seen += want_bytes[i][0] == '!';
			fp_here(f, &work_text);
		}
		ahead_end(a);
		free(buf);
	}
	assert_true(taken > 0);
	assert_true(refused_seen > 0);
	assert_toys_dropped_by_the_thread(batches);
	ahead_free(a);
	assert_int_equal(atomic_load(&toys_made), atomic_load(&toys_dropped));
	fingerprinter_free(f);
}

/*
 * A batch of the two posts, the thread given time to claim the long one
 * (the second); the posts it made are taken. Whether the loop took the long
 * one back.
 */
static int
long_post_round(struct ahead *a, const struct ahead_decoder *dec, const struct ahead_post *posts,
    size_t *taken)
{
	int	r, back = 0;

	while ((r = ahead_begin_posts(a, dec, posts, 2)) == -EBUSY)
		sleep_ms(10);	/* the last round's long post */
	assert_int_equal(r, 0);
	sleep_ms(20);
	for (size_t i = 0; i < 2; i++) {
		const struct doc	*d;
		void			*made = NULL;

		r = ahead_take_post(a, i, &made, &d);
		assert_true(r == 0 || r == 1);
		if (r == 1)
			(*taken)++;
		else
			back |= i == 1;
	}
	ahead_end(a);
	return back;
}

static void
test_a_post_the_loop_took_back_is_dropped_once_the_thread_is_done(void **state)
{
	struct cluster_params	 p;
	struct ahead		*a;
	struct toy_rules	 rules = { '!' };
	struct ahead_decoder	 dec = { toy_decode, toy_drop, &rules, sizeof(rules) };
	size_t			 big_cap = 8u << 20, taken = 0;
	char			*big = malloc(big_cap), small[TEXT_CAP];
	struct ahead_post	 posts[2];
	int			 abandoned = 0;

	(void)state;
	assert_non_null(big);
	toys_reset();
	cluster_params_default(&p);
	assert_non_null(a = ahead_new(&p));
	post_make(1, 't', small, sizeof(small), 100, &posts[0]);
	post_make(2, 't', big, big_cap, (big_cap - 200) / 12, &posts[1]);	/* ~8 MB: the thread's */
	/* as test_a_thread_held_by_a_long_article_does_not_hold_the_loop: until the loop gives one up */
	for (int attempt = 0; attempt < 20 && !abandoned; attempt++)
		abandoned = long_post_round(a, &dec, posts, &taken);
	assert_true(abandoned);
	/* a batch more, which the thread joins: what it left in its slots is dropped first */
	long_post_round(a, &dec, posts, &taken);
	assert_toys_dropped_by_the_thread(0);
	/* what the thread made of the long post after the loop gave it up: dropped at a batch, or here */
	ahead_free(a);
	assert_true(atomic_load(&toys_dropped) > taken);
	assert_int_equal(atomic_load(&toys_made), atomic_load(&toys_dropped));
	free(big);
}

#define STREAM_ROOM	8

static void
test_a_stream_is_decoded_as_it_comes_and_every_post_is_had_once(void **state)
{
	struct fingerprinter	*f;
	struct ahead		*a;
	struct toy_rules	 rules = { '!' };
	struct ahead_decoder	 dec = { toy_decode, toy_drop, &rules, sizeof(rules) };
	size_t			 taken = 0, mine = 0, streams = 0;
	char			 work_buf[TEXT_CAP];
	struct article_text	 work_text = text_make(0, work_buf, sizeof(work_buf), 200);
	int			 r;

	(void)state;
	posts_setup(&f, &a);
	/* until both have had posts, and at least 8 streams */
	while (streams < 8 || ((taken == 0 || mine == 0) && streams < 400)) {
		static char		 bufs[STREAM_ROOM + 1][TEXT_CAP];
		static char		 want_bytes[STREAM_ROOM][TEXT_CAP];
		static struct fp	 want[STREAM_ROOM];
		size_t			 want_len[STREAM_ROOM], n = 2 + streams % (STREAM_ROOM - 1);
		size_t			 last, j = 0, had[STREAM_ROOM] = { 0 };
		struct ahead_post	 post;
		const struct doc	*ready;
		struct fp		 got;
		int64_t			 i;

		r = ahead_open_posts(a, &dec, STREAM_ROOM);
		streams++;
		if (r == -EBUSY) {	/* the thread still finishes a post the caller gave up */
			sleep_ms(1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(ahead_claim_last(a), -1);	/* nothing added yet */
		/* a stream is a batch: no other begins meanwhile */
		assert_int_equal(ahead_begin(a, &work_text, 1), -EBUSY);
		for (size_t k = 0; k < n; k++) {
			struct article_text	t = post_make((unsigned)(streams * MAXN + k), 't', bufs[k],
						    TEXT_CAP, 150 + k % 5 * 30, &post);

			want[k] = fp_here(f, &t);
			memcpy(want_bytes[k], post.body, post.len);
			want_len[k] = post.len;
			assert_int_equal(ahead_add_post(a, &post), 0);
			scribble(bufs[k], TEXT_CAP);	/* the thread decodes its copy */
			if (k == 0 && streams % 2 == 0) {
				/* the thread starts on the first before the others come */
				for (int w = 0; w < 2000 && ahead_peek(a, 0) != 1; w++)
					sleep_ms(1);
				assert_int_equal(ahead_peek(a, 0), 1);
				/* ready: its doc can be looked at before it is taken */
				assert_non_null(ready = ahead_ready(a, 0));
				got = fp_of(ready);
				assert_fp_equal(&got, &want[0]);
			}
		}
		if (n == STREAM_ROOM) {
			post_make(0, 't', bufs[n], TEXT_CAP, 10, &post);
			assert_int_equal(ahead_add_post(a, &post), -ENOSPC);
		}
		/* as the daemon's loop goes through a turn's posts */
		last = n;
		while (j < last) {
			if (ahead_peek(a, j) <= 0 && (i = ahead_claim_last(a)) >= 0) {
				assert_true((size_t)i >= j && (size_t)i < last);
				assert_null(ahead_ready(a, (size_t)i));	/* the caller's */
				had[i]++;
				mine++;
				fp_here(f, &work_text);
				last = (size_t)i;
				continue;
			}
			had[j]++;
			if ((ready = ahead_ready(a, j)) != NULL) {
				got = fp_of(ready);
				assert_fp_equal(&got, &want[j]);
				assert_int_equal(post_take(a, j, want_bytes[j], want_len[j], &want[j],
				    &taken), 1);
			} else
				mine += !post_take(a, j, want_bytes[j], want_len[j], &want[j], &taken);
			j++;
		}
		for (size_t k = 0; k < n; k++)
			assert_int_equal(had[k], 1);
		ahead_end(a);
	}
	assert_true(taken > 0);
	assert_true(mine > 0);
	assert_toys_dropped_by_the_thread(streams);
	ahead_free(a);
	assert_int_equal(atomic_load(&toys_made), atomic_load(&toys_dropped));
	fingerprinter_free(f);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_docs_are_those_of_the_texts_though_the_caller_freed_them),
		cmocka_unit_test(test_a_thread_held_by_a_long_article_does_not_hold_the_loop),
		cmocka_unit_test(test_posts_are_decoded_with_their_batch_rules_and_what_is_refused_is_the_callers),
		cmocka_unit_test(test_a_post_the_loop_took_back_is_dropped_once_the_thread_is_done),
		cmocka_unit_test(test_a_stream_is_decoded_as_it_comes_and_every_post_is_had_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
