/*
 * thread: the daemon's helper threads (recovery, the second fingerprinter,
 * the decoder of large bodies, a snapshot's rebuild, the log's background
 * fdatasync). Signals are the
 * loop's (libevent's): a helper starts with all of them blocked, so none is
 * handled on it and none interrupts its system calls. Each has a name, which
 * ps -L, top -H, perf and gdb show beside the loop's "storyd".
 */
#pragma once
#include <pthread.h>

/*
 * pthread_create() of fn(arg) with every signal blocked, named name (at most
 * 15 bytes, "storyd-ahead"): 0 or an errno.
 */
int	thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

/*
 * End a helper that waits on cv under mu for work or *stop: set *stop under
 * mu, wake it, and wait for it to return.
 */
void	thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv, int *stop);
