/* leader — lease-based leader election in etcd (see leader.h). */
#include "leader.h"

#include "keys.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Default identities: the host name, then "-2" ... for further replicas of
 * the same instance and node on one host. */
#define MAX_SLOTS 16

struct leader {
	struct etcd *etcd;
	struct stopper *stop;
	char key[256];
	char identity[256];
	int guard_fd;            /* holds the identity on this host */
	bool ousted;             /* a takeover revoked our lease while leading
				  * (election thread only) */
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

enum leader_step leader_decide(const char *holder, const char *self, bool ousted)
{
	if (!holder || !self || !*self || strcmp(holder, self) != 0)
		return LEADER_FOLLOW;
	/* Ours, but someone took it from us: a duplicate identity (another
	 * host), which we must not fight over the key. */
	return ousted ? LEADER_FOLLOW : LEADER_TAKE_OVER;
}

int leader_guard_claim(const char *key, const char *identity, int *fd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a over key NUL identity */
	const char *parts[2] = { key, identity };
	int s, len;

	for (int p = 0; p < 2; p++)
		for (const char *c = parts[p];; c++) {
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
			if (!*c)
				break;
		}
	/* Abstract namespace (sun_path[0] == 0): no file, gone with us. */
	len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "klangk-leader-%016" PRIx64, h);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
						       1 + (size_t)len)) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	*fd = s;
	return 0;
}

/* Our identity: the one given, or the first free default slot. */
static int claim_identity(struct leader *l, const char *given, struct err *e)
{
	char host[128] = "";
	int r;

	if (given && *given) {
		if (strlen(given) >= sizeof(l->identity)) {
			err_set(e, "leader identity too long (at most %zu bytes)",
				sizeof(l->identity) - 1);
			return -EINVAL;
		}
		r = leader_guard_claim(l->key, given, &l->guard_fd);
		if (r == -EADDRINUSE) {
			err_set(e, "leader identity \"%s\" is in use by another live "
				   "klangk-controller of %s on this host", given, l->key);
			return -EBUSY;
		}
		if (r < 0) {
			err_set(e, "cannot hold the leader identity: %s", strerror(-r));
			return r;
		}
		snprintf(l->identity, sizeof(l->identity), "%s", given);
		return 0;
	}
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "controller");
	for (int slot = 1; slot <= MAX_SLOTS; slot++) {
		char id[sizeof(l->identity)];

		if (slot == 1)
			snprintf(id, sizeof(id), "%s", host);
		else
			snprintf(id, sizeof(id), "%s-%d", host, slot);
		r = leader_guard_claim(l->key, id, &l->guard_fd);
		if (r == 0) {
			memcpy(l->identity, id, sizeof(l->identity));
			return 0;
		}
		if (r != -EADDRINUSE) {
			err_set(e, "cannot hold the leader identity: %s", strerror(-r));
			return r;
		}
	}
	err_set(e, "%d controllers of %s already run on this host", MAX_SLOTS, l->key);
	return -EBUSY;
}

int leader_new(const struct etcd_opts *o, const char *instance, const char *node,
	       const char *identity, long ttl_s, struct stopper *stop,
	       struct leader **out, struct err *e)
{
	struct leader *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	/* The locks first: leader_free destroys them on every path. */
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_mutex_init(&l->record_mu, NULL);
	l->guard_fd = -1;
	l->ttl_s = ttl_s;
	l->stop = stop;
	r = keys_leader(instance, node, l->key, sizeof(l->key));
	if (r < 0)
		err_set(e, "leader key: %s", strerror(-r));
	else
		r = claim_identity(l, identity, e);
	if (r == 0)
		r = etcd_new(o, &l->etcd, e);
	if (r < 0) {
		leader_free(l);
		return r;
	}
	*out = l;
	return 0;
}

const char *leader_identity(const struct leader *l)
{
	return l->identity;
}

void leader_free(struct leader *l)
{
	if (!l)
		return;
	etcd_free(l->etcd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->record_mu);
	if (l->guard_fd >= 0)
		close(l->guard_fd);
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

/* Our lease (granted when we hold none), the key put on it with our
 * identity, and the record: the put operations of a campaign or takeover
 * (new), or NULL. */
static json_t *take_ops(struct leader *l, struct err *e, int *r)
{
	json_t *ops, *rec;

	*r = 0;
	if (!l->lease) {
		*r = etcd_lease_grant(l->etcd, l->ttl_s, &l->lease, e);
		if (*r < 0)
			return NULL;
	}
	ops = json_pack("[o]", etcd_op_put(l->key, l->identity, strlen(l->identity),
					   l->lease));
	rec = ops ? record_op(l) : NULL;
	if (rec && json_array_append_new(ops, rec) < 0) {
		json_decref(ops);
		ops = NULL;
	}
	if (!ops)
		*r = -ENOMEM;
	return ops;
}

/* One attempt to take the vacant key.  *won tells; *rev is the store
 * revision. */
static int campaign(struct leader *l, bool *won, int64_t *rev, struct err *e)
{
	json_t *cmp, *ops, *resp = NULL;
	int r;

	ops = take_ops(l, e, &r);
	if (!ops)
		return r;
	cmp = json_pack("[o]", etcd_cmp_absent(l->key));
	if (!cmp) {
		json_decref(ops);
		return -ENOMEM;
	}
	r = etcd_txn(l->etcd, cmp, ops, NULL, won, &resp, e);
	if (r == 0) {
		const char *s = json_string_value(
			json_object_get(json_object_get(resp, "header"), "revision"));

		*rev = s ? strtoll(s, NULL, 10) : 0;
		if (*won)
			l->ousted = false;
	}
	json_decref(resp);
	return r;
}

/*
 * The key is held: by our identity (a previous process of ours) we take it
 * over, in a transaction on the revision we read, and revoke the old
 * lease; by anyone else we follow.  Returns 1 when the key changed
 * meanwhile (campaign again), else 0 with *won, or a negative errno.
 * *rev: the revision the holder was read at (to watch from).
 */
static int take_over(struct leader *l, bool *won, int64_t *rev, struct err *e)
{
	struct etcd_kv kv = { 0 };
	json_t *cmp = NULL, *ops;
	bool ok = false;
	int r;

	*won = false;
	r = etcd_get(l->etcd, l->key, &kv, rev, e);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	if (leader_decide(kv.value, l->identity, l->ousted) == LEADER_FOLLOW) {
		if (strcmp(kv.value, l->identity) == 0)
			log_warn("the leader key holds this replica's identity, but a takeover "
				 "revoked our lease: another live controller uses the same "
				 "identity (make --leader-identity unique); following it",
				 "key", l->key, "identity", l->identity, NULL);
		else
			log_info("following: the leader key is held by another replica",
				 "key", l->key, "holder", kv.value, "identity", l->identity, NULL);
		goto out;
	}
	ops = take_ops(l, e, &r);
	if (ops)
		cmp = json_pack("[o]", etcd_cmp_mod(l->key, kv.mod_revision));
	if (ops && !cmp) {
		json_decref(ops);
		r = -ENOMEM;
	}
	if (r < 0)
		goto out;
	r = etcd_txn(l->etcd, cmp, ops, NULL, &ok, NULL, e);
	if (r < 0)
		goto out;
	if (!ok) {
		r = 1;
		goto out;
	}
	log_info("took over the leader key from this identity's previous process",
		 "key", l->key, "identity", l->identity, NULL);
	if (kv.lease && kv.lease != l->lease) {
		/* Nobody renews it, and keys still on it would outlive us. */
		struct err re = { "" };

		if (etcd_lease_revoke(l->etcd, kv.lease, &re) < 0)
			log_warn("could not revoke the previous process's lease", "error",
				 re.msg, NULL);
	}
	*won = true;
out:
	etcd_kv_clear(&kv);
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
			/* Gone: expired (then the key went with it) or revoked
			 * by a takeover (then another process has our identity). */
			if (r == -ENOENT)
				l->ousted = true;
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

		if (r == 0 && !won)
			r = take_over(l, &won, &rev, &e);
		if (r == 1)
			continue;  /* the key changed meanwhile */
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
