/*
 * simindex: the SimHash index alone, at the size a daemon holds. Files N
 * random fingerprints (room kept for N, as the daemon keeps it for
 * max_articles), then times queries, one in eight near an entry held, and
 * removals each followed by an insert, so the count stays N. Prints the
 * mean of each and simindex_memory() an entry (the fingerprints are the
 * caller's, here an array, in the daemon its articles). Random fingerprints spread
 * over the buckets as real ones do: what a query costs is the buckets it
 * reads, N / 65,536 entries each past 65,536 held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "mix.h"
#include "simhash.h"

#define OUT_MAX	64

/* simindex_fp_fn over the bench's array */
static uint64_t
fp_at(void *arg, uint32_t id)
{
	return ((uint64_t *)arg)[id];
}

static void
usage(void)
{
	fprintf(stderr, "usage: simindex [-n HELD] [-q QUERIES]\n"
	    "  -n  fingerprints held (default 1000000)\n"
	    "  -q  queries, and as many removals with inserts (default 200000)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct simindex	*ix;
	uint64_t	*fps, rng = 1;
	uint32_t	 out[OUT_MAX];
	unsigned long	 n = 1000000, q = 200000;
	size_t		 found = 0;
	double		 t0, t1, t2;
	int		 ch;

	while ((ch = getopt(argc, argv, "n:q:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'q':
			q = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (n == 0 || n > UINT32_MAX / 2 || q == 0 || optind != argc)
		usage();
	if ((fps = malloc(n * sizeof(*fps))) == NULL || (ix = simindex_new(3, fp_at, fps)) == NULL ||
	    simindex_keep_room(ix, n) != 0) {
		fprintf(stderr, "simindex: out of memory\n");
		return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		fps[i] = rng_next(&rng);
		if (simindex_insert(ix, (uint32_t)i, fps[i]) != 0) {
			fprintf(stderr, "simindex: out of memory\n");
			return 1;
		}
	}
	t0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned long i = 0; i < q; i++) {
		uint64_t	fp = i % 8 == 0 ? fps[rng_next(&rng) % n] ^ 1ull << i % 64 :
				    rng_next(&rng);

		found += simindex_query(ix, fp, out, OUT_MAX);
	}
	t1 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned long i = 0; i < q; i++) {
		unsigned long	j = rng_next(&rng) % n;

		simindex_remove(ix, (uint32_t)j, fps[j]);
		fps[j] = rng_next(&rng);
		if (simindex_insert(ix, (uint32_t)j, fps[j]) != 0) {
			fprintf(stderr, "simindex: out of memory\n");
			return 1;
		}
	}
	t2 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	printf("%lu held: query %.3f us, remove and insert %.3f us, %.1f bytes an entry "
	    "(%zu found by %lu queries)\n", n, (t1 - t0) / (double)q * 1e6,
	    (t2 - t1) / (double)q * 1e6, (double)simindex_memory(ix) / (double)n, found, q);
	simindex_free(ix);
	free(fps);
	return 0;
}
