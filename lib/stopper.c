/* stopper — stop request with a status, wakeable sleeps (see stopper.h). */
#include "stopper.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int stopper_init(struct stopper *s)
{
	pthread_condattr_t ca;
	int r;

	memset(s, 0, sizeof(*s));
	atomic_init(&s->stopping, 0);
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

void stopper_stop(struct stopper *s, int status, const char *why)
{
	pthread_mutex_lock(&s->mu);
	if (!atomic_load(&s->stopping)) {
		s->status = status;
		snprintf(s->reason, sizeof(s->reason), "%s", why ? why : "");
		atomic_store(&s->stopping, 1);
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

int stopper_wait(struct stopper *s, char *why, size_t len)
{
	int status;

	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stopping))
		pthread_cond_wait(&s->cv, &s->mu);
	status = s->status;
	if (len)
		snprintf(why, len, "%s", s->reason);
	pthread_mutex_unlock(&s->mu);
	return status;
}

void stopper_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void *signal_thread(void *arg)
{
	struct stopper *s = arg;
	sigset_t set;
	int sig = 0;

	stopper_block_signals(&set);
	while (!stopper_stopping(s)) {
		/* A stop requested elsewhere wakes us with a TERM of main's. */
		if (sigwait(&set, &sig) != 0 || stopper_stopping(s))
			continue;
		if (sig == SIGHUP) {
			if (s->on_hup)
				s->on_hup(s->hup_ud);
			continue;
		}
		log_info("signal received; stopping", "signal",
			 sig == SIGTERM ? "TERM" : "INT", NULL);
		stopper_stop(s, 0, sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	return NULL;
}

int stopper_signals(struct stopper *s, void (*on_hup)(void *), void *ud)
{
	int r;

	s->on_hup = on_hup;
	s->hup_ud = ud;
	r = pthread_create(&s->sig_thread, NULL, signal_thread, s);
	if (r != 0)
		return -r;
	pthread_setname_np(s->sig_thread, "signals");
	s->sig_started = true;
	return 0;
}

int stopper_spawn(struct stopper *s, void *(*fn)(void *), void *arg, const char *name)
{
	char n[16];
	int r;

	if (s->nthreads == STOPPER_MAX_THREADS)
		return -EAGAIN;
	r = pthread_create(&s->threads[s->nthreads], NULL, fn, arg);
	if (r != 0)
		return -r;
	snprintf(n, sizeof(n), "%s", name);
	pthread_setname_np(s->threads[s->nthreads], n);
	s->nthreads++;
	return 0;
}

void stopper_join(struct stopper *s)
{
	if (s->sig_started) {
		pthread_kill(s->sig_thread, SIGTERM);
		pthread_join(s->sig_thread, NULL);
		s->sig_started = false;
	}
	while (s->nthreads)
		pthread_join(s->threads[--s->nthreads], NULL);
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
	while (!atomic_load(&s->stopping) &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	stopped = atomic_load(&s->stopping);
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
