/*
 * histogram: a fixed-bucket histogram of durations in seconds, for the
 * metrics. No allocation: observing is a few comparisons and additions, so it
 * can sit on every reply and every fsync. The bounds cover a sub-millisecond
 * GET up to a 60-second long poll; Prometheus's `le` buckets are cumulative,
 * these are not (metrics.c sums them when it renders).
 */
#pragma once
#include <stdint.h>

#define HISTOGRAM_BUCKETS	18

static const double	histogram_bounds[HISTOGRAM_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

struct histogram {
	uint64_t	count;
	double		sum;
	uint64_t	bucket[HISTOGRAM_BUCKETS + 1];	/* the last one: above every bound */
};

static inline void
histogram_observe(struct histogram *h, double seconds)
{
	unsigned	i = 0;

	while (i < HISTOGRAM_BUCKETS && seconds > histogram_bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += seconds;
}
