/* leader — lease-based leader election in etcd (see leader.h). */
#include "leader.h"

#include "keys.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct leader {
	struct etcd *etcd;
	struct stopper *stop;
	char key[256];
	char identity[256];
	long ttl_s;
	int64_t lease;
	/* Leadership: mu guards leading and transitions; cv is broadcast on
	 * every change, and when leader_run ends (after the stop request), so
	 * leader_wait never sleeps through a stop. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool leading;
	unsigned long transitions;
	void (*elected)(void *);
	void *elected_ud;
	pthread_mutex_t record_mu; /* guards the three below */
	char *record_key;        /* NULL = none */
	char *record_value;
	bool record_dirty;       /* a new value to write while leading */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int leader_new(const struct etcd_opts *o, const char *instance, const char *node,
	       long ttl_s, struct stopper *stop, struct leader **out, struct err *e)
{
	struct leader *l = calloc(1, sizeof(*l));
	char host[128] = "unknown";
	int r;

	if (!l)
		return -ENOMEM;
	gethostname(host, sizeof(host) - 1);
	keys_leader(instance, node, l->key, sizeof(l->key));
	snprintf(l->identity, sizeof(l->identity), "%s:%ld:%08lx", host,
		 (long)getpid(), (unsigned long)random());
	l->ttl_s = ttl_s;
	l->stop = stop;
	r = etcd_new(o, &l->etcd, e);
	if (r < 0) {
		free(l);
		return r;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_mutex_init(&l->record_mu, NULL);
	*out = l;
	return 0;
}

void leader_free(struct leader *l)
{
	if (!l)
		return;
	etcd_free(l->etcd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->record_mu);
	free(l->record_key);
	free(l->record_value);
	free(l);
}

int leader_set_record(struct leader *l, const char *key, const char *value)
{
	char *k = strdup(key), *v = strdup(value);

	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	pthread_mutex_lock(&l->record_mu);
	free(l->record_key);
	free(l->record_value);
	l->record_key = k;
	l->record_value = v;
	l->record_dirty = true;
	pthread_mutex_unlock(&l->record_mu);
	return 0;
}

/* The record's put on our lease (new), or NULL when there is none.  Clears
 * the dirty mark: the caller writes it. */
static json_t *record_op(struct leader *l)
{
	json_t *op = NULL;

	pthread_mutex_lock(&l->record_mu);
	if (l->record_key)
		op = etcd_op_put(l->record_key, l->record_value,
				 strlen(l->record_value), l->lease);
	l->record_dirty = false;
	pthread_mutex_unlock(&l->record_mu);
	return op;
}

/* A record changed while leading: write it (on our lease). */
static void record_refresh(struct leader *l)
{
	json_t *ops;
	bool dirty, ok = false;
	struct err e = { "" };

	pthread_mutex_lock(&l->record_mu);
	dirty = l->record_dirty;
	pthread_mutex_unlock(&l->record_mu);
	if (!dirty)
		return;
	ops = json_array();
	if (!ops || json_array_append_new(ops, record_op(l)) < 0) {
		json_decref(ops);
		return;
	}
	if (etcd_txn(l->etcd, NULL, ops, NULL, &ok, NULL, &e) < 0) {
		log_warn("could not update the node record", "error", e.msg, NULL);
		pthread_mutex_lock(&l->record_mu);
		l->record_dirty = true;
		pthread_mutex_unlock(&l->record_mu);
	}
}

void leader_on_elected(struct leader *l, void (*fn)(void *), void *ud)
{
	l->elected = fn;
	l->elected_ud = ud;
}

static void set_leading(struct leader *l, bool v)
{
	pthread_mutex_lock(&l->mu);
	if (l->leading != v)
		l->transitions++;
	l->leading = v;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

bool leader_is_leader(struct leader *l)
{
	bool v;

	pthread_mutex_lock(&l->mu);
	v = l->leading && !stopper_stopping(l->stop);
	pthread_mutex_unlock(&l->mu);
	return v;
}

bool leader_wait(struct leader *l)
{
	bool v;

	pthread_mutex_lock(&l->mu);
	while (!l->leading && !stopper_stopping(l->stop))
		pthread_cond_wait(&l->cv, &l->mu);
	v = l->leading && !stopper_stopping(l->stop);
	pthread_mutex_unlock(&l->mu);
	return v;
}

unsigned long leader_transitions(struct leader *l)
{
	unsigned long n;

	pthread_mutex_lock(&l->mu);
	n = l->transitions;
	pthread_mutex_unlock(&l->mu);
	return n;
}

/* One attempt to take the key.  *won tells; *rev is the store revision
 * (to watch from when we lost). */
static int campaign(struct leader *l, bool *won, int64_t *rev, struct err *e)
{
	json_t *cmp, *ops, *fail, *resp = NULL;
	int r;

	if (!l->lease) {
		r = etcd_lease_grant(l->etcd, l->ttl_s, &l->lease, e);
		if (r < 0)
			return r;
	}
	cmp = json_pack("[o]", etcd_cmp_absent(l->key));
	ops = json_pack("[o]", etcd_op_put(l->key, l->identity, strlen(l->identity),
					   l->lease));
	fail = json_pack("[o]", etcd_op_get(l->key));
	if (ops) {
		json_t *rec = record_op(l);

		if (rec && json_array_append_new(ops, rec) < 0) {
			json_decref(ops);
			ops = NULL;
		}
	}
	if (!cmp || !ops || !fail) {
		json_decref(cmp);
		json_decref(ops);
		json_decref(fail);
		return -ENOMEM;
	}
	r = etcd_txn(l->etcd, cmp, ops, fail, won, &resp, e);
	if (r == 0) {
		const char *s = json_string_value(
			json_object_get(json_object_get(resp, "header"), "revision"));

		*rev = s ? strtoll(s, NULL, 10) : 0;
	}
	json_decref(resp);
	return r;
}

static int on_key_event(void *ud, const struct etcd_event *ev, size_t n,
			int64_t revision)
{
	struct leader *l = ud;

	(void)revision;
	if (stopper_stopping(l->stop))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == ETCD_DELETE && strcmp(ev[i].kv.key, l->key) == 0)
			return 1; /* vacant: campaign now */
	return 0;
}

/* Lead until renewal fails for too long or we stop. */
static void lead(struct leader *l)
{
	long long renewed = now_ms();
	long period = l->ttl_s * 1000 / 3;
	long long give_up = l->ttl_s * 1000 * 2 / 3;
	struct err e = { "" };

	set_leading(l, true);
	log_info("elected leader", "key", l->key, "identity", l->identity, NULL);
	if (l->elected)
		l->elected(l->elected_ud);
	while (!stopper_nap(l->stop, period)) {
		int64_t ttl = 0;
		int r = etcd_lease_keepalive(l->etcd, l->lease, &ttl, &e);

		if (r == 0) {
			renewed = now_ms();
			record_refresh(l);
			continue;
		}
		log_warn("leader lease renewal failed", "error", e.msg, NULL);
		if (r == -ENOENT || now_ms() - renewed >= give_up) {
			/* Stop working before etcd can hand the key to
			 * someone else. */
			set_leading(l, false);
			log_warn("stepped down: could not renew the leader lease", NULL);
			l->lease = 0;
			return;
		}
	}
}

void leader_run(struct leader *l)
{
	struct err e = { "" };
	int failures = 0;

	while (!stopper_stopping(l->stop)) {
		int64_t rev = 0;
		bool won = false;
		int r = campaign(l, &won, &rev, &e);

		if (r < 0) {
			if (r == -ENOENT || strstr(e.msg, "lease"))
				l->lease = 0; /* expired or unknown: get a new one */
			log_warn("leader election: etcd unavailable", "error", e.msg, NULL);
			stopper_nap(l->stop, stopper_backoff_ms(failures++, 800, 10000));
			if (failures > 6)
				failures = 6;
			continue;
		}
		failures = 0;
		if (won) {
			lead(l);
			continue;
		}
		/* Lost: a follower holds no lease (the next campaign grants a
		 * fresh one), and waits for the key to go away. */
		etcd_lease_revoke(l->etcd, l->lease, &e);
		l->lease = 0;
		r = etcd_watch(l->etcd, l->key, rev + 1, on_key_event, l,
			       &l->stop->stopping, &rev, &e);
		if (r != -ECANCELED)
			stopper_nap(l->stop, stopper_backoff_ms(0, 200, 1000));
	}
	/* Leadership ends here (and wakes leader_wait), but the lease is
	 * kept until leader_resign: no other replica may take over while
	 * this one's in-flight reconciles finish. */
	set_leading(l, false);
}

void leader_resign(struct leader *l)
{
	struct err e = { "" };

	if (!l || !l->lease)
		return;
	/* The next replica need not wait for the TTL. */
	etcd_lease_revoke(l->etcd, l->lease, &e);
	l->lease = 0;
}
