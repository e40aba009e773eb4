/* stopper — stop flag with wakeable sleeps (see stopper.h). */
#include "stopper.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int stopper_init(struct stopper *s)
{
	pthread_condattr_t ca;
	int r;

	s->stopping = 0;
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0) {
		pthread_mutex_destroy(&s->mu);
		return -ENOMEM;
	}
	return 0;
}

void stopper_destroy(struct stopper *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

void stopper_stop(struct stopper *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void stopper_deadline(long ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

bool stopper_nap(struct stopper *s, long ms)
{
	struct timespec ts;
	bool stopped;

	stopper_deadline(ms, &ts);
	pthread_mutex_lock(&s->mu);
	while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	stopped = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return stopped;
}

long stopper_backoff_ms(int failures, long min_ms, long max_ms)
{
	long cap = min_ms;

	for (int i = 0; i < failures && cap < max_ms; i++)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	return min_ms + random() % (cap - min_ms + 1);
}
