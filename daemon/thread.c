/* thread: helper threads that take no signals. */
#include <signal.h>

#include "thread.h"

int
thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t	all, old;
	int		r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* the new thread inherits the mask */
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
