/*
 * thread: the daemon's helper threads (recovery, the second fingerprinter,
 * a snapshot's rebuild, the log's background fdatasync). Signals are the
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
