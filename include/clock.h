/*
 * clock: a clock's reading in seconds, as the daemon's timings and ages
 * use it (CLOCK_MONOTONIC for durations, CLOCK_REALTIME for the epoch).
 */
#pragma once
#include <time.h>

static inline double
clock_seconds(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
