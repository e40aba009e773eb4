/*
 * stopper — a daemon's threads and its "stop now" request, which
 * sleeping threads wake up for and the main thread waits on.
 *
 * The lifecycle of a daemon: block the signals (stopper_block_signals)
 * before any thread exists; start the signal thread (stopper_signals) and
 * the others (stopper_spawn); wait (stopper_wait); wake whatever sleeps on
 * a condition of its own; join them all (stopper_join); only then free
 * what they use.  A failure to start a thread is a stop request like any
 * other, so the threads already started are joined the same way.
 *
 * Any thread may request the stop: the signal thread for a clean stop
 * (status 0), a thread that cannot go on with a non-zero status and the
 * reason.  The first request wins; later ones are ignored, so the reason
 * the daemon gives is the cause, not a consequence.  Threads sleep with
 * stopper_nap instead of sleep(), so a stop request ends every wait at
 * once, without any polling.
 * stopper_backoff_ms gives the jittered exponential delays used between
 * reconnect attempts.
 */
#ifndef KLANGK_STOPPER_H
#define KLANGK_STOPPER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct stopper {
	pthread_mutex_t mu;   /* guards status and reason; pairs with cv */
	pthread_cond_t cv;    /* broadcast once, when the stop is requested */
	atomic_int stopping;  /* read without mu anywhere; also a curl cancel flag */
	int status;           /* the exit status the first request asked for */
	char reason[512];     /* and why */
	/* The rest belongs to the main thread (stopper_spawn, stopper_join). */
	pthread_t threads[80];
	size_t nthreads;
	pthread_t sig_thread;
	bool sig_started;
	void (*on_hup)(void *);
	void *hup_ud;
};

#define STOPPER_MAX_THREADS (sizeof(((struct stopper *)0)->threads) / sizeof(pthread_t))

int stopper_init(struct stopper *s);
void stopper_destroy(struct stopper *s);
/* Request the stop: status 0 for a clean stop, non-zero when the caller
 * cannot go on; why is copied.  Only the first request counts.  Any thread. */
void stopper_stop(struct stopper *s, int status, const char *why);
/* True once a stop was requested. */
static inline bool stopper_stopping(const struct stopper *s)
{
	return atomic_load(&s->stopping) != 0;
}
/* Block until a stop is requested; returns its status and copies its
 * reason into why (len bytes). */
int stopper_wait(struct stopper *s, char *why, size_t len);
/* The signals a daemon takes (TERM, INT, HUP) into set, blocked in the
 * calling thread and so in every thread it starts afterwards; SIGPIPE is
 * ignored.  Call before any thread starts (libraries' threads included). */
void stopper_block_signals(sigset_t *set);
/* Start the signal thread: TERM and INT request a clean stop (status 0),
 * HUP calls on_hup(ud) in that thread (NULL: ignored).  Main thread. */
int stopper_signals(struct stopper *s, void (*on_hup)(void *), void *ud);
/* Start a thread named name (15 characters are kept, so that `top -H` and
 * /proc/PID/task/TID/comm tell them apart) to be joined by stopper_join.
 * Main thread; 0 or a negative errno. */
int stopper_spawn(struct stopper *s, void *(*fn)(void *), void *arg, const char *name);
/* After the stop was requested: wake the signal thread, then join it and
 * every spawned thread, the last started first.  Threads waiting on a
 * condition other than the stopper's must have been woken.  Main thread. */
void stopper_join(struct stopper *s);
/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on cv. */
void stopper_deadline(long ms, struct timespec *ts);
/* Sleep up to ms; returns true when stopping. */
bool stopper_nap(struct stopper *s, long ms);
/* Full jitter between min_ms and min_ms * 2^failures, capped at max_ms. */
long stopper_backoff_ms(int failures, long min_ms, long max_ms);

#endif
