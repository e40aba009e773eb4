/*
 * expect — the echoes of our own engine actions (see expect.h): a small
 * table scanned linearly.  It holds what workers are doing right now, so
 * a few entries per worker at most.
 */
#include "expect.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char container[256];
	char id[80];         /* "" until known */
	char action[16];
	time_t deadline;     /* CLOCK_MONOTONIC seconds */
};

struct expect {
	pthread_mutex_t mu;
	struct entry e[EXPECT_MAX];
	size_t n;
};

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int expect_new(struct expect **out)
{
	struct expect *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	if (pthread_mutex_init(&x->mu, NULL) != 0) {
		free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

void expect_free(struct expect *x)
{
	if (!x)
		return;
	pthread_mutex_destroy(&x->mu);
	free(x);
}

static void drop(struct expect *x, size_t i)
{
	x->e[i] = x->e[--x->n];
}

/* Forget the expired ones.  Under mu. */
static void expire(struct expect *x, time_t now)
{
	for (size_t i = 0; i < x->n;)
		if (x->e[i].deadline < now)
			drop(x, i);
		else
			i++;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

void expect_action(struct expect *x, const char *container, const char *id,
		   const char *action)
{
	struct entry *en;
	time_t now;

	if (!x || strlen(container) >= sizeof(en->container) ||
	    (id && strlen(id) >= sizeof(en->id)) || strlen(action) >= sizeof(en->action))
		return;
	now = mono_now();
	pthread_mutex_lock(&x->mu);
	expire(x, now);
	/* Full: expect nothing; the event wakes a reconcile as it always did. */
	if (x->n < EXPECT_MAX) {
		en = &x->e[x->n++];
		snprintf(en->container, sizeof(en->container), "%s", container);
		snprintf(en->id, sizeof(en->id), "%s", id ? id : "");
		snprintf(en->action, sizeof(en->action), "%s", action);
		en->deadline = now + EXPECT_TTL_S;
	}
	pthread_mutex_unlock(&x->mu);
}

void expect_bind(struct expect *x, const char *container, const char *id)
{
	if (!x || !id || strlen(id) >= sizeof(x->e[0].id))
		return;
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->n; i++)
		if (!x->e[i].id[0] && same(x->e[i].container, container))
			snprintf(x->e[i].id, sizeof(x->e[i].id), "%s", id);
	pthread_mutex_unlock(&x->mu);
}

void expect_cancel(struct expect *x, const char *container, const char *action)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->n;)
		if (same(x->e[i].container, container) && same(x->e[i].action, action))
			drop(x, i);
		else
			i++;
	pthread_mutex_unlock(&x->mu);
}

bool expect_echo_at(struct expect *x, const char *container, const char *id,
		    const char *action, time_t now)
{
	bool found = false;

	if (!x || !container || !action)
		return false;
	pthread_mutex_lock(&x->mu);
	expire(x, now);
	for (size_t i = 0; i < x->n; i++) {
		const struct entry *en = &x->e[i];

		/* An expectation whose id is known matches that id only; an
		 * event without an id cannot match one. */
		if (!same(en->container, container) || (en->id[0] && !(id && same(en->id, id))))
			continue;
		/* Podman reports "init" before the "start" of a start: part
		 * of the start we expect, which stays expected. */
		if (same(action, "init") && same(en->action, "start")) {
			found = true;
			break;
		}
		if (same(en->action, action)) {
			drop(x, i);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&x->mu);
	return found;
}

bool expect_echo(struct expect *x, const char *container, const char *id,
		 const char *action)
{
	return expect_echo_at(x, container, id, action, mono_now());
}
