/*
 * wq — work queue (see wq.h).
 *
 * One hash table of entries keyed by string; ready entries also sit on a
 * FIFO list and delayed ones are found by a scan for the earliest time.
 * The scan is O(delayed) per wake-up, fine for thousands of keys.
 */
#include "wq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum state {
	IDLE,        /* known only for its backoff count */
	READY,       /* on the FIFO */
	DELAYED,     /* waiting for ready_at */
	RUNNING,     /* held by a worker */
	RUNNING_DIRTY, /* held, and added again meanwhile */
};

struct entry {
	char *key;
	enum state state;
	long long ready_at;    /* ms, monotonic, for DELAYED (and RUNNING_DIRTY) */
	int failures;
	struct entry *hnext;   /* hash chain */
	struct entry *qnext;   /* FIFO link while READY */
};

struct wq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry **buckets;
	size_t nbuckets;
	size_t nentries;
	struct entry *head, *tail;
	size_t waiting;        /* READY + DELAYED */
	long base_ms, max_ms;
	bool shutdown;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int wq_new(long base_ms, long max_ms, struct wq **out)
{
	struct wq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return -ENOMEM;
	q->nbuckets = 1024;
	q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
	if (!q->buckets) {
		free(q);
		return -ENOMEM;
	}
	q->base_ms = base_ms;
	q->max_ms = max_ms;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct entry *e = q->buckets[i], *n;

		for (; e; e = n) {
			n = e->hnext;
			free(e->key);
			free(e);
		}
	}
	free(q->buckets);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

static void grow(struct wq *q)
{
	size_t nb = q->nbuckets * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct entry *e = q->buckets[i], *n;

		for (; e; e = n) {
			n = e->hnext;
			e->hnext = b[hash(e->key) % nb];
			b[hash(e->key) % nb] = e;
		}
	}
	free(q->buckets);
	q->buckets = b;
	q->nbuckets = nb;
}

static struct entry *lookup(struct wq *q, const char *key, bool create)
{
	size_t i = hash(key) % q->nbuckets;
	struct entry *e;

	for (e = q->buckets[i]; e; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->hnext = q->buckets[i];
	q->buckets[i] = e;
	if (++q->nentries > q->nbuckets * 2)
		grow(q);
	return e;
}

/* Drop an IDLE entry with no backoff to remember. */
static void maybe_drop(struct wq *q, struct entry *e)
{
	struct entry **pp;

	if (e->state != IDLE || e->failures)
		return;
	for (pp = &q->buckets[hash(e->key) % q->nbuckets]; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			free(e->key);
			free(e);
			q->nentries--;
			return;
		}
}

static void push_ready(struct wq *q, struct entry *e)
{
	e->state = READY;
	e->qnext = NULL;
	if (q->tail)
		q->tail->qnext = e;
	else
		q->head = e;
	q->tail = e;
}

static int add_at(struct wq *q, const char *key, long long at)
{
	struct entry *e;
	bool now = at <= now_ms();

	pthread_mutex_lock(&q->mu);
	if (q->shutdown) {
		pthread_mutex_unlock(&q->mu);
		return -ESHUTDOWN;
	}
	e = lookup(q, key, true);
	if (!e) {
		pthread_mutex_unlock(&q->mu);
		return -ENOMEM;
	}
	switch (e->state) {
	case IDLE:
		q->waiting++;
		if (now) {
			push_ready(q, e);
		} else {
			e->state = DELAYED;
			e->ready_at = at;
		}
		break;
	case DELAYED:
		if (now) {
			push_ready(q, e);
		} else if (at < e->ready_at) {
			e->ready_at = at;
		}
		break;
	case RUNNING:
		e->state = RUNNING_DIRTY;
		e->ready_at = at;
		break;
	case RUNNING_DIRTY:
		if (at < e->ready_at)
			e->ready_at = at;
		break;
	case READY:
		break;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int wq_add(struct wq *q, const char *key)
{
	return add_at(q, key, 0);
}

int wq_add_after(struct wq *q, const char *key, long delay_ms)
{
	return add_at(q, key, now_ms() + (delay_ms > 0 ? delay_ms : 0));
}

long wq_add_rate_limited(struct wq *q, const char *key)
{
	struct entry *e;
	long delay;
	int f;

	pthread_mutex_lock(&q->mu);
	e = lookup(q, key, true);
	f = e ? e->failures++ : 0;
	pthread_mutex_unlock(&q->mu);
	delay = q->base_ms;
	while (f-- > 0 && delay < q->max_ms)
		delay *= 2;
	if (delay > q->max_ms)
		delay = q->max_ms;
	wq_add_after(q, key, delay);
	return delay;
}

void wq_forget(struct wq *q, const char *key)
{
	struct entry *e;

	pthread_mutex_lock(&q->mu);
	e = lookup(q, key, false);
	if (e) {
		e->failures = 0;
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

/* Move delayed entries whose time has come to the FIFO; return the
 * earliest remaining ready_at, or 0 when none is delayed. */
static long long promote(struct wq *q)
{
	long long now = now_ms(), next = 0;

	for (size_t i = 0; i < q->nbuckets; i++)
		for (struct entry *e = q->buckets[i]; e; e = e->hnext) {
			if (e->state != DELAYED)
				continue;
			if (e->ready_at <= now)
				push_ready(q, e);
			else if (!next || e->ready_at < next)
				next = e->ready_at;
		}
	return next;
}

int wq_get(struct wq *q, char **key)
{
	struct entry *e;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		long long next;

		if (q->shutdown) {
			pthread_mutex_unlock(&q->mu);
			return -ESHUTDOWN;
		}
		next = promote(q);
		if (q->head)
			break;
		if (next) {
			struct timespec ts = { .tv_sec = next / 1000,
					       .tv_nsec = (next % 1000) * 1000000 };

			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		} else {
			pthread_cond_wait(&q->cv, &q->mu);
		}
	}
	e = q->head;
	q->head = e->qnext;
	if (!q->head)
		q->tail = NULL;
	*key = strdup(e->key);
	if (!*key) {
		push_ready(q, e); /* put it back; the caller retries */
		pthread_mutex_unlock(&q->mu);
		return -ENOMEM;
	}
	e->state = RUNNING;
	q->waiting--;
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void wq_done(struct wq *q, const char *key)
{
	struct entry *e;

	pthread_mutex_lock(&q->mu);
	e = lookup(q, key, false);
	if (e && e->state == RUNNING_DIRTY) {
		q->waiting++;
		if (e->ready_at <= now_ms()) {
			push_ready(q, e);
		} else {
			e->state = DELAYED;
		}
		pthread_cond_broadcast(&q->cv);
	} else if (e && e->state == RUNNING) {
		e->state = IDLE;
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_shutdown(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t wq_len(struct wq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->waiting;
	pthread_mutex_unlock(&q->mu);
	return n;
}
