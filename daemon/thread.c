/* thread: named helper threads that take no signals. */
#include <signal.h>

#include "thread.h"

int
thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	sigset_t	all, old;
	int		r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* the new thread inherits the mask */
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		pthread_setname_np(*t, name);		/* only for people reading ps: no failure */
	return r;
}

void
thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv, int *stop)
{
	pthread_mutex_lock(mu);
	*stop = 1;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(mu);
	pthread_join(t, NULL);
}
