/* Unit tests for wq: deduplication, one worker per key, delays, backoff. */
#include "t.h"
#include "wq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_dedup_and_order(void)
{
	struct wq *q;
	char *k;

	CHECK(wq_new(10, 1000, &q) == 0);
	wq_add(q, "a/x");
	wq_add(q, "b/y");
	wq_add(q, "a/x");
	CHECK(wq_len(q) == 2);
	CHECK(wq_get(q, &k) == 0 && strcmp(k, "a/x") == 0);
	/* Added again while held: not handed out until done. */
	wq_add(q, "a/x");
	free(k);
	CHECK(wq_get(q, &k) == 0 && strcmp(k, "b/y") == 0);
	wq_done(q, "b/y");
	free(k);
	CHECK(wq_len(q) == 0);
	wq_done(q, "a/x");
	CHECK(wq_len(q) == 1);
	CHECK(wq_get(q, &k) == 0 && strcmp(k, "a/x") == 0);
	wq_done(q, "a/x");
	free(k);
	CHECK(wq_len(q) == 0);
	wq_free(q);
}

static void test_delay_and_backoff(void)
{
	struct wq *q;
	long long t0;
	char *k;

	CHECK(wq_new(20, 100, &q) == 0);
	t0 = ms_now();
	wq_add_after(q, "d/x", 50);
	CHECK(wq_get(q, &k) == 0 && ms_now() - t0 >= 50);
	wq_done(q, "d/x");
	free(k);
	CHECK(wq_add_rate_limited(q, "f/x") == 20);
	CHECK(wq_add_rate_limited(q, "f/x") == 40);
	CHECK(wq_add_rate_limited(q, "f/x") == 80);
	CHECK(wq_add_rate_limited(q, "f/x") == 100);
	wq_forget(q, "f/x");
	CHECK(wq_add_rate_limited(q, "f/x") == 20);
	wq_free(q);
}

struct shared {
	struct wq *q;
	pthread_mutex_t mu;
	int holding;   /* workers holding "k/x" right now */
	int violations;
	int processed;
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	char *k;

	while (wq_get(s->q, &k) == 0) {
		pthread_mutex_lock(&s->mu);
		if (++s->holding > 1)
			s->violations++;
		s->processed++;
		pthread_mutex_unlock(&s->mu);
		/* Re-add while held, as a watch event would. */
		wq_add(s->q, k);
		pthread_mutex_lock(&s->mu);
		s->holding--;
		pthread_mutex_unlock(&s->mu);
		wq_done(s->q, k);
		free(k);
		pthread_mutex_lock(&s->mu);
		if (s->processed >= 2000) {
			pthread_mutex_unlock(&s->mu);
			wq_shutdown(s->q);
			break;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static void test_one_worker_per_key(void)
{
	struct shared s = { .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t[4];

	CHECK(wq_new(10, 1000, &s.q) == 0);
	wq_add(s.q, "k/x");
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, &s);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(s.violations == 0);
	CHECK(s.processed >= 2000);
	CHECK(wq_add(s.q, "z/z") == -ESHUTDOWN);
	wq_free(s.q);
}

int main(void)
{
	test_dedup_and_order();
	test_delay_and_backoff();
	test_one_worker_per_key();
	return T_DONE("wq");
}
