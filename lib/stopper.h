/*
 * stopper — a daemon's "stop now" flag that sleeping threads wake up for.
 *
 * Threads sleep with stopper_nap instead of sleep(), so a stop request
 * (from the signal-handling thread) ends every wait at once, without any
 * polling.  stopper_backoff_ms gives the jittered exponential delays used
 * between reconnect attempts.
 */
#ifndef KLANGK_STOPPER_H
#define KLANGK_STOPPER_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

struct stopper {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	volatile sig_atomic_t stopping;  /* also a curl cancel flag */
};

int stopper_init(struct stopper *s);
void stopper_destroy(struct stopper *s);
void stopper_stop(struct stopper *s);
/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on cv. */
void stopper_deadline(long ms, struct timespec *ts);
/* Sleep up to ms; returns true when stopping. */
bool stopper_nap(struct stopper *s, long ms);
/* Full jitter between min_ms and min_ms * 2^failures, capped at max_ms. */
long stopper_backoff_ms(int failures, long min_ms, long max_ms);

#endif
