/*
 * copies: cluster_add() of many copies of one text, as a feed that repeats
 * itself or a client that retries under new ids would send them. Every copy
 * shares every LSH band and its SimHash with the others, so whatever scans
 * a bucket whole grows with the copies held. Prints the mean thread CPU time
 * of an add over each fifth of the run: flat is bounded. With -m, the oldest
 * copy is removed once MAX are held, as retention or max_articles would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "fingerprint.h"

static const char	body_text[] =
    "Secretary of State Antony Blinken met Chinese President Xi Jinping in Beijing "
    "on Monday, the highest-level American visit in years, as both sides sought to "
    "steady ties strained over Taiwan, trade and a suspected spy balloon. Officials "
    "described the talks as candid and constructive, and agreed to keep talking.";

static void
usage(void)
{
	fprintf(stderr, "usage: copies [-n COPIES] [-m MAX] [-e]\n"
	    "  -n  copies to add (default 20000)\n"
	    "  -m  hold at most MAX: each add past it removes the oldest (timed with it)\n"
	    "  -e  near copies: each ends with a sentence of its own (default: exact)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct cluster_params	 p;
	struct clusterer	*c;
	struct fingerprinter	*f;
	unsigned long		 n = 20000, max = 0, window;
	int			 ch, edited = 0;
	char			 body[sizeof(body_text) + 64];
	double			 t0;
	unsigned		 verdicts[4] = { 0 };

	while ((ch = getopt(argc, argv, "n:m:eh")) != -1) {
		switch (ch) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'm': max = strtoul(optarg, NULL, 10); break;
		case 'e': edited = 1; break;
		default: usage();
		}
	}
	if (n < 5 || n >= CLUSTER_ID_LIMIT)
		usage();
	window = n / 5;
	cluster_params_default(&p);
	if ((c = cluster_new(&p)) == NULL || (f = fingerprinter_new(&p)) == NULL) {
		fprintf(stderr, "copies: out of memory\n");
		return 1;
	}
	printf("cluster_add of %lu %s copies of one text (k=%u)", n, edited ? "near" : "exact", p.k);
	if (max > 0)
		printf(", the oldest removed past %lu held", max);
	printf("\n");
	printf("%10s %12s\n", "added", "us/add");
	t0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned long i = 0; i < n; i++) {
		struct article_text	 a = { .title = "Blinken meets Xi in Beijing",
		    .title_len = 27, .published = 1700000000 + (int64_t)i };
		const struct doc	*d;
		struct verdict		 v;
		int			 len;

		len = snprintf(body, sizeof(body), "%s%s%lu.", body_text,
		    edited ? " Reference " : "", edited ? i : 0);
		a.body = body;
		a.body_len = edited ? (size_t)len : sizeof(body_text) - 1;
		if (fingerprint(f, &a, &d) != 0 || cluster_add(c, (uint32_t)i, d, &v) != 0) {
			fprintf(stderr, "copies: add %lu failed\n", i);
			return 1;
		}
		verdicts[v.status]++;
		if (max > 0 && i >= max)
			cluster_remove(c, (uint32_t)(i - max));
		if ((i + 1) % window == 0) {
			double	t = clock_seconds(CLOCK_THREAD_CPUTIME_ID);

			printf("%10lu %12.1f\n", i + 1, (t - t0) * 1e6 / (double)window);
			t0 = t;
		}
	}
	printf("verdicts: new_story %u, joined_story %u, near_duplicate %u, exact_duplicate %u\n",
	    verdicts[VERDICT_NEW_STORY], verdicts[VERDICT_JOINED_STORY],
	    verdicts[VERDICT_NEAR_DUPLICATE], verdicts[VERDICT_EXACT_DUPLICATE]);
	cluster_free(c);
	fingerprinter_free(f);
	return 0;
}
