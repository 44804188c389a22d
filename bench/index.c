/*
 * bench/index: the cost of indexing and story assignment per article as the
 * number held grows, and memory per article; with -s, the same stream
 * through the store (log, snapshots) and the time to recover it.
 *
 * Articles come from struct synth (bench/corpus.h): ~2 KB bodies drawn from
 * the ECB+ vocabulary, 30% starting a story, 15% near and 2% exact
 * duplicates of recent ones, one every 0.6 s of publication time (1,000,000
 * a week, storyd's max_articles over its retention). Each is fingerprinted
 * (timed apart) and then given to cluster_add(), which alone is timed: the
 * cost per article at N held is the mean over the adds from 0.9 N to N.
 * Times are the thread's CPU time, so neighbours on a shared machine change
 * them only through the caches and a shared core. So that the curve is a
 * ratio taken at one time, a second clusterer is fed the same articles and
 * holds only the newest 10,000 (-R; its removals are not timed): in each
 * window its cost is the cost at 10,000 held, measured under the same load
 * as the big one's. Fingerprinting, whose cost does not depend on what is
 * held, is timed over the same windows too. Memory is shown twice: the
 * growth of the resident set (the reference included, unless -R 0) and the
 * clusterer's own count, cluster_memory(), split by part at the end.
 *
 * The reference holds a steady count, while the big clusterer grows, and
 * growing tables move their entries (lsh.c): with -m HELD the big one too
 * keeps only its newest HELD, under reused ids (held_add()), so past HELD
 * articles both hold steady counts and the last window compares them at
 * rest, as a daemon at max_articles is. With -P each clusterer's LSH is
 * sized at once for the most it will hold (cluster_params.room), as the
 * daemon sizes it for max_articles, and no table moves.
 *
 * With -L each article is fingerprinted an add ahead (two fingerprinters),
 * and every other add first asks for the next article's memory
 * (cluster_prefetch(), timed with the add that asks), as the daemon does
 * when the second thread has the next doc ready: the adds so asked for
 * against the others, in one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "corpus.h"
#include "fingerprint.h"
#include "store.h"

static const size_t checkpoints[] = {
	10000, 20000, 50000, 100000, 200000, 500000, 1000000, 2000000,
};
#define NCHECK	(sizeof(checkpoints) / sizeof(checkpoints[0]))

static int
cmp_float(const void *a, const void *b)
{
	float	x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

struct window {
	double	mean, p50, p99;
};

static struct window
window_of(const float *t, size_t from, size_t to)
{
	size_t		n = to - from;
	float		*v = malloc(n * sizeof(*v));
	struct window	w = { 0 };
	double		sum = 0;

	if (v == NULL) {
		fprintf(stderr, "index: out of memory for a window's times\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		sum += v[i] = t[from + i];
	qsort(v, n, sizeof(*v), cmp_float);
	w.mean = sum / n;
	w.p50 = v[n / 2];
	w.p99 = v[n * 99 / 100];
	free(v);
	return w;
}

/*
 * Add article i to cl, which keeps the newest `held` (0: all) under ids
 * i % held, reused as a daemon's store reuses them, so its per-id arrays stay
 * that size; the removal of the id's last article (cluster_remove() ignores
 * an id not held) is not timed, the add is.
 */
static int
held_add(struct clusterer *cl, const char *name, size_t held, size_t i, const struct doc *d,
    const struct doc *ask, struct verdict *v, float *us)
{
	uint32_t	id = (uint32_t)(held > 0 ? i % held : i);
	double		t;

	if (held > 0 && i >= held)
		cluster_remove(cl, id);
	t = cpu_sec();
	if (ask != NULL)	/* -L: the next article's memory, asked for by this add */
		cluster_prefetch(cl, ask);
	if (cluster_add(cl, id, d, v) != 0) {
		fprintf(stderr, "index: %s cluster_add: out of memory at %zu\n", name, i);
		return -ENOMEM;
	}
	*us = (float)((cpu_sec() - t) * 1e6);
	return 0;
}

static int
ref_add(struct clusterer *ref, size_t held, size_t i, const struct doc *d, float *us)
{
	struct verdict	v;

	return held_add(ref, "the reference's", held, i, d, NULL, &v, us);
}

/*
 * The LONGEST slowest of n adds and the count held before each (held_max:
 * at most that many, 0: no cap): a table or array that grows all at once
 * shows here (a daemon's loop answers nothing meanwhile), where a window's
 * mean and p99 hide it.
 */
#define LONGEST	5
static void
print_longest(const float *t, size_t n, size_t held_max)
{
	size_t	top[LONGEST], k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t	j;

		if (k == LONGEST && t[i] <= t[top[LONGEST - 1]])
			continue;
		j = k < LONGEST ? k++ : LONGEST - 1;
		for (; j > 0 && t[top[j - 1]] < t[i]; j--)
			top[j] = top[j - 1];
		top[j] = i;
	}
	printf("longest adds:");
	for (size_t j = 0; j < k; j++)
		printf("%s %.0f us at %zu held", j ? "," : "", t[top[j]],
		    held_max > 0 && top[j] > held_max ? held_max : top[j]);
	printf("\n");
}

/* The next article of syn, fingerprinted with f (CPU time in *us): its doc, or NULL. */
static const struct doc *
next_doc(struct synth *syn, struct fingerprinter *f, int *kind, float *us)
{
	struct synth_article	 a;
	struct article_text	 at;
	const struct doc	*d;
	double			 t0;

	synth_next(syn, &a);
	at = (struct article_text){ .title = a.title, .title_len = a.title_len,
	    .body = a.body, .body_len = a.body_len, .source = a.source,
	    .source_len = a.source_len, .published = a.published };
	*kind = a.kind;
	t0 = cpu_sec();
	if (fingerprint(f, &at, &d) != 0)
		d = NULL;
	*us = (float)((cpu_sec() - t0) * 1e6);
	return d;
}

static int
run_cluster(const struct corpus *c, size_t max, size_t ref_held, size_t held_max, int room,
    int ahead)
{
	struct cluster_params	 p;
	struct synth_params	 sp;
	struct synth		*syn;
	struct fingerprinter	*fp[2];
	struct clusterer	*cl, *ref = NULL;
	const struct doc	*next = NULL;
	float			*t_add, *t_fp, *t_ref, fp_next = 0;
	double			 fp_time = 0, add_time = 0, cost[NCHECK] = { 0 }, rel[NCHECK] = { 0 };
	double			 vs_ref[NCHECK] = { 0 }, asked[2] = { 0 };
	size_t			 rss0, kinds[3] = { 0 }, statuses[4] = { 0 }, ck = 0, mem, held;
	size_t			 nasked[2] = { 0 };
	int			 kind_next = 0;
	struct cluster_memory_split	 ms;

	cluster_params_default(&p);
	synth_params_default(&sp);
	syn = synth_new(c, &sp);
	fp[0] = fingerprinter_new(&p);
	fp[1] = fingerprinter_new(&p);
	if (room)	/* -P: as the daemon sizes it for max_articles */
		p.room = held_max > 0 ? held_max : max;
	cl = cluster_new(&p);
	p.room = room ? ref_held : 0;
	t_add = malloc(max * sizeof(*t_add));
	t_fp = malloc(max * sizeof(*t_fp));
	t_ref = malloc(max * sizeof(*t_ref));
	if (syn == NULL || t_add == NULL || t_fp == NULL || t_ref == NULL || fp[0] == NULL ||
	    fp[1] == NULL || cl == NULL || (ref_held > 0 && (ref = cluster_new(&p)) == NULL)) {
		fprintf(stderr, "index: out of memory setting up %zu articles\n", max);
		return 1;
	}
	/* resident before the baseline */
	memset(t_add, 0, max * sizeof(*t_add));
	memset(t_fp, 0, max * sizeof(*t_fp));
	memset(t_ref, 0, max * sizeof(*t_ref));
	rss0 = rss_bytes();

	printf("cluster_add cost as the index grows (k=%u, bands=%u x rows=%u, doc_terms=%u, "
	    "window=%lld h)\n", p.k, p.bands, p.rows, p.doc_terms, (long long)p.window / 3600);
	if (ref != NULL)
		printf("reference: a second clusterer holding the newest %zu, timed in the same "
		    "windows (RSS includes it)\n", ref_held);
	printf("%9s %9s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "held", "mean us", "p50 us",
	    "p99 us", "fp us", "add/fp", "ref us", "add/ref", "stories", "groups", "RSS B/art",
	    "mem B/art");
	if (ahead)
		next = next_doc(syn, fp[0], &kind_next, &fp_next);
	for (size_t i = 0; i < max; i++) {
		const struct doc	*d, *ask = NULL;
		struct verdict		 v;
		int			 kind;

		/* -L: article i was fingerprinted an add ahead, into fp[i % 2] */
		if (ahead) {
			d = next;
			kind = kind_next;
			t_fp[i] = fp_next;
			next = i + 1 < max ? next_doc(syn, fp[(i + 1) % 2], &kind_next, &fp_next) : NULL;
			ask = i % 2 == 1 ? next : NULL;
		} else
			d = next_doc(syn, fp[0], &kind, &t_fp[i]);
		if (d == NULL) {
			t_add[i] = t_fp[i] = 0;
			continue;
		}
		/* the reference goes first every other article: the second add finds the doc in cache */
		if (ref != NULL && i % 2 == 1 && ref_add(ref, ref_held, i, d, &t_ref[i]) != 0)
			return 1;
		if (held_add(cl, "the", held_max, i, d, ask, &v, &t_add[i]) != 0)
			return 1;
		if (ref != NULL && i % 2 == 0 && ref_add(ref, ref_held, i, d, &t_ref[i]) != 0)
			return 1;
		fp_time += t_fp[i] / 1e6;
		add_time += t_add[i] / 1e6;
		/* -L, the second half: even adds were asked for by the add before them */
		if (ahead && i >= max / 2 && i > 0) {
			asked[i % 2 == 0] += t_add[i];
			nasked[i % 2 == 0]++;
		}
		kinds[kind]++;
		statuses[v.status]++;
		if (ck < NCHECK && i + 1 == checkpoints[ck]) {
			size_t		n = i + 1;
			struct window	w = window_of(t_add, n - n / 10, n);
			struct window	wf = window_of(t_fp, n - n / 10, n);
			struct window	wr = window_of(t_ref, n - n / 10, n);
			size_t		rss = rss_bytes();

			cost[ck] = w.mean;
			rel[ck] = w.mean / wf.mean;
			vs_ref[ck] = ref != NULL ? w.mean / wr.mean : 0;
			printf("%9zu %9.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8zu %8zu %9.0f %9.0f\n",
			    n, w.mean, w.p50, w.p99, wf.mean, rel[ck], wr.mean, vs_ref[ck],
			    cluster_count_stories(cl), cluster_count_groups(cl),
			    (double)(rss - rss0) / n, (double)cluster_memory(cl, NULL) / n);
			fflush(stdout);
			ck++;
		}
	}
	printf("verdicts: new_story %zu, joined_story %zu, near_duplicate %zu, exact_duplicate %zu "
	    "(generated: new %zu, near %zu, exact %zu)\n", statuses[VERDICT_NEW_STORY],
	    statuses[VERDICT_JOINED_STORY], statuses[VERDICT_NEAR_DUPLICATE],
	    statuses[VERDICT_EXACT_DUPLICATE], kinds[SYNTH_NEW], kinds[SYNTH_NEAR],
	    kinds[SYNTH_EXACT]);
	printf("mean over all %zu: cluster_add %.2f us, fingerprint %.2f us\n", max,
	    add_time / max * 1e6, fp_time / max * 1e6);
	print_longest(t_add, max, held_max);
	if (ahead && nasked[0] > 0 && nasked[1] > 0)
		printf("asked an add ahead (-L, adds %zu to %zu): %.2f us an add asked for, %.2f not "
		    "(each asking timed in the add that asks): %.2f\n", max / 2, max,
		    asked[1] / nasked[1], asked[0] / nasked[0], asked[1] / asked[0] * nasked[0] /
		    nasked[1]);
	for (size_t j = 1; j < ck; j++)
		printf("cost at %zu / cost at %zu: %.2f across time; %.2f relative to "
		    "fingerprinting; %.2f against the %zu-held reference in the same window\n",
		    checkpoints[j], checkpoints[0], cost[j] / cost[0], rel[j] / rel[0], vs_ref[j],
		    ref_held);
	if (ck > 6 && checkpoints[6] == 1000000)
		printf("target cost(1M)/cost(10k) <= 2: %s\n",
		    (ref != NULL ? vs_ref[6] : cost[6] / cost[0]) <= 2 ? "met" : "NOT met");
	if (held_max > 0 && max > held_max) {
		struct window	w = window_of(t_add, held_max, max);
		struct window	wr = window_of(t_ref, held_max, max);

		printf("at rest, %zu held (adds %zu to %zu, the oldest removed before each): "
		    "cluster_add %.2f us (p99 %.2f)", held_max, held_max, max, w.mean, w.p99);
		if (ref != NULL)
			printf(", the %zu-held reference %.2f us: %.2f", ref_held, wr.mean,
			    w.mean / wr.mean);
		printf("\n");
	}
	held = held_max > 0 && max > held_max ? held_max : max;
	mem = cluster_memory(cl, &ms);
	printf("clusterer's own count (cluster_memory(), without the reference): %.0f bytes/article: "
	    "articles %.0f, lsh %.0f, simhash %.0f, stories %.0f, postings %.0f, terms %.0f, "
	    "other %.0f\n", (double)mem / held, (double)ms.articles / held, (double)ms.lsh / held,
	    (double)ms.simhash / held, (double)ms.stories / held, (double)ms.postings / held,
	    (double)ms.terms / held, (double)ms.other / held);
	printf("memory: RSS delta %.1f MB for %zu articles held: %.0f bytes/article (target <= 1024: "
	    "%s)\n", (rss_bytes() - rss0) / 1e6, held, (double)(rss_bytes() - rss0) / held,
	    (double)(rss_bytes() - rss0) / held <= 1024 ? "met" : "NOT met");
	cluster_free(cl);
	cluster_free(ref);
	fingerprinter_free(fp[0]);
	fingerprinter_free(fp[1]);
	synth_free(syn);
	free(t_add);
	free(t_fp);
	free(t_ref);
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static off_t
file_size(const char *dir, const char *name)
{
	char		path[4096];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * Start a snapshot and wait for it (at most 600 s). The start waits too
 * (-EAGAIN) while the log's thread flushes the old segment (wal_rotate_ready()).
 */
static int
snapshot_wait(struct store *s, double *secs)
{
	struct timespec	ts = { 0, 2000000 };
	double		t0 = now_sec();
	uint64_t	bytes = 0;
	int		r;

	while ((r = store_snapshot_start(s)) == -EAGAIN && now_sec() - t0 <= 600)
		nanosleep(&ts, NULL);
	if (r != 0) {
		fprintf(stderr, "index: store_snapshot_start: %s\n", strerror(-r));
		return r;
	}
	while ((r = store_snapshot_poll(s, &bytes)) == STORE_SNAPSHOT_RUNNING) {
		if (now_sec() - t0 > 600)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	*secs = now_sec() - t0;
	return r == STORE_SNAPSHOT_DONE ? 0 : r;
}

static int
open_timed(struct store **s, const char *dir, const struct store_params *sp, double *secs,
    struct store_report *rep)
{
	double	t0 = now_sec();
	int	r;

	if ((r = store_open(s, dir, sp, rep)) != 0) {
		fprintf(stderr, "index: store_open: %d (%s) %s\n", r, r < 0 ? strerror(-r) : "",
		    rep->corrupt_what);
		return 1;
	}
	*secs = now_sec() - t0;
	return 0;
}

/*
 * Through the store: ingest n articles, snapshotting whenever the log passes
 * bulk_log bytes, then up to tail_log bytes more after the last snapshot; a
 * crash (store_free, no final snapshot) and a timed recovery of snapshot plus
 * tail; a clean close (final snapshot) and a timed recovery of it alone.
 * keep: 1 keeps the directory as the clean stop left it; KEEP_CRASHED, as
 * the crash did (snapshot and tail), and stops there.
 */
#define KEEP_CRASHED	2

static int
run_store(const struct corpus *c, size_t n, uint64_t tail_log, int keep, size_t held_max, int room)
{
	const uint64_t		 bulk_log = (uint64_t)512 << 20;
	char			 dir[] = "/tmp/storyd-bench-XXXXXX";
	struct store_params	 sp = { 0 };
	struct store_report	 rep;
	struct synth_params	 synp;
	struct synth		*syn;
	struct store		*s;
	double			 t0, t_ingest, t_snap = 0, t_crash, t_clean, t_close;
	size_t			 rss0, rss_full, held, i;
	uint64_t		 logged = 0;	/* log bytes of the segments snapshots removed */
	unsigned		 snaps = 0;
	int			 tailing = 0, r;
	char			 id[32];

	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "index: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	cluster_params_default(&sp.cluster);
	sp.sync = STORE_SYNC_NO;
	sp.retention = (int64_t)100 * 365 * 86400;
	/* with -m, a full store: the log holds an eviction before each put */
	sp.max_articles = held_max > 0 ? (uint32_t)held_max : (uint32_t)n + 1;
	sp.cluster.room = room ? sp.max_articles : 0;
	synth_params_default(&synp);
	if ((syn = synth_new(c, &synp)) == NULL) {
		fprintf(stderr, "index: out of memory setting up %zu articles\n", n);
		return 1;
	}
	rss0 = rss_bytes();
	if (open_timed(&s, dir, &sp, &t0, &rep) != 0)
		return 1;
	printf("store: %zu articles into %s (fsync no; snapshot every %llu MiB of log, "
	    "then a %llu MiB tail)\n", n, dir, (unsigned long long)(bulk_log >> 20),
	    (unsigned long long)(tail_log >> 20));
	t0 = now_sec();
	for (i = 0; i < n; i++) {
		struct synth_article	a;
		struct article_in	in;
		struct verdict		v;

		synth_next(syn, &a);
		snprintf(id, sizeof(id), "a%09zu", i);
		in = (struct article_in){ .id = id, .id_len = strlen(id), .title = a.title,
		    .title_len = a.title_len, .body = a.body, .body_len = a.body_len,
		    .source = a.source, .source_len = a.source_len, .url = "", .url_len = 0,
		    .published = a.published, .has_published = 1, .now = a.published + 60 };
		if ((r = store_put(s, &in, 0, &v)) < 0) {
			fprintf(stderr, "index: store_put: %s\n", strerror(-r));
			return 1;
		}
		if (i % 256 == 255 && (r = store_flush(s)) != 0) {
			fprintf(stderr, "index: store_flush: %s\n", strerror(-r));
			return 1;
		}
		/*
		 * The tail starts where the rest of the articles fit in tail_log,
		 * at the log bytes per article seen so far.
		 */
		if (!tailing && i % 256 == 255 &&
		    (uint64_t)(n - i) * ((logged + store_log_bytes(s)) / (i + 1)) <= tail_log) {
			double	ts;

			store_flush(s);
			logged += store_log_bytes(s);
			if (snapshot_wait(s, &ts) != 0)
				return 1;
			t_snap = ts;
			snaps++;
			tailing = 1;
		} else if (!tailing && store_log_bytes(s) > bulk_log) {
			double	ts;

			store_flush(s);
			logged += store_log_bytes(s);
			if (snapshot_wait(s, &ts) != 0)
				return 1;
			snaps++;
		}
	}
	store_flush(s);
	t_ingest = now_sec() - t0;
	rss_full = rss_bytes();
	printf("ingest: %.1f s, %.0f articles/s (fingerprint, cluster, log; %u snapshots, the "
	    "last rebuilt and written in %.2f s)\n", t_ingest, n / t_ingest, snaps, t_snap);
	printf("memory: store RSS delta %.0f bytes/article held (with ids, titles, sources; "
	    "no bodies)\n", (double)(rss_full - rss0) / store_count(s));
	printf("log after the last snapshot: %.1f MB\n", store_log_bytes(s) / 1e6);
	store_free(s);
	if (keep == KEEP_CRASHED) {
		synth_free(syn);
		printf("kept %s as the crash left it\n", dir);
		return 0;
	}

	if (open_timed(&s, dir, &sp, &t_crash, &rep) != 0)
		return 1;
	printf("recovery after a crash (snapshot + log tail of %llu records): %.2f s, "
	    "%zu articles\n", (unsigned long long)rep.replayed, t_crash, store_count(s));
	held = store_count(s);
	t0 = now_sec();
	if ((r = store_close(s)) != 0) {
		fprintf(stderr, "index: store_close: %s\n", strerror(-r));
		return 1;
	}
	t_close = now_sec() - t0;
	printf("clean close (final snapshot, fsync): %.2f s; snapshot %.1f MB, %.0f bytes/article\n",
	    t_close, file_size(dir, "snapshot") / 1e6,
	    (double)file_size(dir, "snapshot") / held);
	if (open_timed(&s, dir, &sp, &t_clean, &rep) != 0)
		return 1;
	printf("recovery after a clean stop (snapshot only, %llu records replayed): %.2f s, "
	    "%zu articles\n", (unsigned long long)rep.replayed, t_clean, store_count(s));
	store_free(s);
	synth_free(syn);
	if (keep)
		printf("kept %s\n", dir);
	else
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/*
 * Only the recovery of an existing store directory (one -s left with -k):
 * store_open() writes to it (a new log segment), so give it a copy.
 */
static int
run_recover(const char *dir)
{
	struct store_params	 sp = { 0 };
	struct store_report	 rep;
	struct store		*s;
	double			 t;

	cluster_params_default(&sp.cluster);
	sp.sync = STORE_SYNC_NO;
	sp.retention = (int64_t)100 * 365 * 86400;
	sp.max_articles = 100000000;	/* config.c's largest: replay evicts nothing */
	if (open_timed(&s, dir, &sp, &t, &rep) != 0)
		return 1;
	printf("recovery of %s (%s, %llu records replayed): %.2f s, %zu articles\n", dir,
	    rep.snapshot ? "snapshot" : "no snapshot", (unsigned long long)rep.replayed, t,
	    store_count(s));
	store_free(s);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: index [-d DATA_DIR] [-n ARTICLES] [-R REF_HELD] [-m HELD] "
	    "[-P] [-L] [-s [-k | -K] [-t TAIL_MIB]] [-r DIR]\n"
	    "  -n  articles to add (default 1000000)\n"
	    "  -R  articles held by the reference clusterer (default 10000; 0: none)\n"
	    "  -m  the clusterer keeps only its newest HELD: past HELD, both are at rest\n"
	    "      (with -s: max_articles HELD, each put past it logged after an eviction)\n"
	    "  -P  the LSH sized at once for what each clusterer will hold, as the daemon\n"
	    "      sizes it for max_articles (cluster_params.room): no table moves\n"
	    "  -L  fingerprint an add ahead; every other add first asks for the next\n"
	    "      article's memory (cluster_prefetch()): those adds against the others\n"
	    "  -s  through the store: ingest, crash and clean recovery, snapshot size\n"
	    "  -k  with -s: keep the store directory, as the clean stop left it\n"
	    "  -K  with -s: keep it as the crash left it (snapshot and log tail), and stop\n"
	    "  -r  only time the recovery of DIR (a copy of one -k or -K kept)\n"
	    "  -t  log tail after the last snapshot, MiB (default 256: snapshot_log_bytes)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char	*dir = corpus_default_dir();
	size_t		 n = 1000000, ref_held = 10000, held_max = 0;
	uint64_t	 tail = 256;
	const char	*recover = NULL;
	int		 store = 0, keep = 0, room = 0, ahead = 0, ch, r;
	struct corpus	 c;

	while ((ch = getopt(argc, argv, "d:kKLm:n:Pr:R:st:h")) != -1) {
		switch (ch) {
		case 'k': keep = 1; break;
		case 'K': keep = KEEP_CRASHED; break;
		case 'r': recover = optarg; break;
		case 'R': ref_held = strtoul(optarg, NULL, 10); break;
		case 'm': held_max = strtoul(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'P': room = 1; break;
		case 'L': ahead = 1; break;
		case 's': store = 1; break;
		case 't': tail = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (n < 1000 || n > 4000000)
		usage();
	if (recover != NULL)
		return run_recover(recover);
	if (corpus_load(&c, dir) != 0)
		return 1;
	r = store ? run_store(&c, n, tail << 20, keep, held_max, room) :
	    run_cluster(&c, n, ref_held, held_max, room, ahead);
	corpus_free(&c);
	return r;
}
