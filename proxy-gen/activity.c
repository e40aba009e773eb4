/* activity — hosted traffic recorded as workspace activity (see activity.h). */
#include "activity.h"

#include "keys.h"
#include "log.h"
#include "pgen.h"
#include "timefmt.h"
#include "ws.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Writes per etcd transaction (etcd's default limit is 128 operations and
 * each write takes a compare and a put). */
#define BATCH 50
/* Datagrams handled before due writes get a turn. */
#define DRAIN_MAX 4096

int activity_parse(const char *msg, size_t len, char *id, size_t idlen)
{
	static const char tag[] = " " PGEN_ACCESS_TAG ": ";
	const char *p, *end = msg + len;
	size_t n;

	if (len == 0 || msg[0] != '<')
		return -EINVAL;
	p = memmem(msg, len, tag, sizeof(tag) - 1);
	if (!p)
		return -EINVAL;
	p += sizeof(tag) - 1;
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	n = (size_t)(end - p);
	if (n == 0 || n >= idlen)
		return -EINVAL;
	memcpy(id, p, n);
	id[n] = '\0';
	return ws_is_id(id) ? 0 : -EINVAL;
}

/* ---- the coalescer ---- */

struct act_coal {
	long interval_ms;
	json_t *last;     /* key -> monotonic ms of its last write */
	json_t *pending;  /* key -> wall time of its latest unwritten request */
};

int act_coal_new(long interval_ms, struct act_coal **out)
{
	struct act_coal *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->interval_ms = interval_ms;
	c->last = json_object();
	c->pending = json_object();
	if (!c->last || !c->pending) {
		act_coal_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void act_coal_free(struct act_coal *c)
{
	if (!c)
		return;
	json_decref(c->last);
	json_decref(c->pending);
	free(c);
}

int act_coal_seen(struct act_coal *c, const char *key, long long now_ms, time_t when)
{
	json_t *p = json_object_get(c->pending, key);

	(void)now_ms;
	if (strlen(key) >= ACTIVITY_KEY_MAX)
		return -EINVAL;
	if (p && json_integer_value(p) >= (json_int_t)when)
		return 0;
	return json_object_set_new(c->pending, key, json_integer((json_int_t)when)) < 0
		       ? -ENOMEM : 0;
}

static bool is_due(const struct act_coal *c, const char *key, long long now_ms)
{
	json_t *l = json_object_get(c->last, key);

	return !l || now_ms - (long long)json_integer_value(l) >= c->interval_ms;
}

size_t act_coal_due(struct act_coal *c, long long now_ms, struct act_due *out,
		    size_t max)
{
	const char *key;
	json_t *v;
	void *tmp;
	size_t n = 0;

	/* Forget writes older than the interval: they no longer hold anything
	 * back (keeps the table as small as the set of busy workspaces). */
	json_object_foreach_safe(c->last, tmp, key, v)
		if (now_ms - (long long)json_integer_value(v) >= c->interval_ms &&
		    !json_object_get(c->pending, key))
			json_object_del(c->last, key);
	json_object_foreach_safe(c->pending, tmp, key, v) {
		if (n == max)
			break;
		if (!is_due(c, key, now_ms))
			continue;
		snprintf(out[n].key, sizeof(out[n].key), "%s", key);
		out[n].when = (time_t)json_integer_value(v);
		n++;
		json_object_set_new(c->last, key, json_integer(now_ms));
		json_object_del(c->pending, key);
	}
	return n;
}

void act_coal_retry(struct act_coal *c, const struct act_due *d, size_t n,
		    long long now_ms)
{
	for (size_t i = 0; i < n; i++) {
		act_coal_seen(c, d[i].key, now_ms, d[i].when);
		json_object_set_new(c->last, d[i].key, json_integer(now_ms));
	}
}

long long act_coal_next(const struct act_coal *c)
{
	long long next = -1;
	const char *key;
	json_t *v;

	json_object_foreach(c->pending, key, v) {
		json_t *l = json_object_get(c->last, key);
		long long due = l ? (long long)json_integer_value(l) + c->interval_ms : 0;

		if (next < 0 || due < next)
			next = due;
	}
	return next;
}

/* ---- the receiver ---- */

struct activity {
	int fd, wake_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct etcd *etcd;
	activity_lookup_fn lookup;
	void *ud;
	struct act_coal *coal;
	pthread_mutex_t mu;           /* guards st and stopping */
	struct activity_stats st;
	bool stopping;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int activity_new(const char *sock_path, long interval_ms, struct etcd *etcd,
		 activity_lookup_fn lookup, void *ud, struct activity **out,
		 struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct activity *a;
	int r;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		err_set(e, "%s: path too long for a socket", sock_path);
		return -ENAMETOOLONG;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = a->wake_fd = -1;
	a->etcd = etcd;
	a->lookup = lookup;
	a->ud = ud;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	memcpy(a->path, sock_path, strlen(sock_path) + 1);
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return -ENOMEM;
	}
	r = act_coal_new(interval_ms, &a->coal);
	if (r < 0)
		goto fail;
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->wake_fd < 0 || a->fd < 0) {
		r = -errno;
		err_set(e, "activity socket: %s", strerror(errno));
		goto fail;
	}
	/* A socket left by an earlier run (a crash) is replaced. */
	unlink(sock_path);
	if (bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sock_path, 0666) < 0) {
		r = -errno;
		err_set(e, "%s: %s", sock_path, strerror(errno));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	activity_free(a);
	return r;
}

void activity_free(struct activity *a)
{
	if (!a)
		return;
	if (a->fd >= 0) {
		close(a->fd);
		unlink(a->path);
	}
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	act_coal_free(a->coal);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void activity_stop(struct activity *a)
{
	uint64_t one = 1;

	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_mutex_unlock(&a->mu);
	if (write(a->wake_fd, &one, sizeof(one)) < 0) {
		/* Already pending. */
	}
}

void activity_stats(struct activity *a, struct activity_stats *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->st;
	pthread_mutex_unlock(&a->mu);
}

static void count(struct activity *a, unsigned long *field, unsigned long n)
{
	pthread_mutex_lock(&a->mu);
	*field += n;
	pthread_mutex_unlock(&a->mu);
}

/* Receive what is queued (up to DRAIN_MAX datagrams). */
static void drain(struct activity *a)
{
	unsigned long lines = 0, unknown = 0;
	char msg[512], id[33], key[ACTIVITY_KEY_MAX];
	time_t now = time(NULL);
	long long mono = mono_ms();

	for (int i = 0; i < DRAIN_MAX; i++) {
		ssize_t k = recv(a->fd, msg, sizeof(msg), MSG_DONTWAIT);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: drained */
		}
		lines++;
		if (activity_parse(msg, (size_t)k, id, sizeof(id)) < 0 ||
		    a->lookup(a->ud, id, key, sizeof(key)) < 0 ||
		    act_coal_seen(a->coal, key, mono, now) < 0)
			unknown++;
	}
	count(a, &a->st.lines, lines);
	count(a, &a->st.unknown, unknown);
}

/* One write: put the time if the workspace's status key still exists.
 * 1 written, 0 workspace gone, or -errno. */
static int write_batch(struct activity *a, const struct act_due *d, size_t n,
		       struct err *e)
{
	json_t *cmp = json_array(), *ops = json_array();
	bool ok = false;
	int r;

	if (!cmp || !ops) {
		json_decref(cmp);
		json_decref(ops);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char skey[sizeof(KEYS_STATUS_PREFIX) + ACTIVITY_KEY_MAX];
		char akey[sizeof(KEYS_ACTIVITY_PREFIX) + ACTIVITY_KEY_MAX];
		char when[TIMEFMT_MAX];

		keys_of_owner(KEYS_STATUS, d[i].key, skey, sizeof(skey));
		keys_of_owner(KEYS_ACTIVITY, d[i].key, akey, sizeof(akey));
		if (timefmt_emit(d[i].when, when, sizeof(when)) < 0)
			when[0] = '\0';
		json_array_append_new(cmp, etcd_cmp_exists(skey));
		json_array_append_new(ops, etcd_op_put(akey, when, strlen(when), 0));
	}
	r = etcd_txn(a->etcd, cmp, ops, NULL, &ok, NULL, e);
	if (r < 0)
		return r;
	return ok ? 1 : 0;
}

static void flush(struct activity *a)
{
	struct act_due d[BATCH];
	size_t n;

	while ((n = act_coal_due(a->coal, mono_ms(), d, BATCH)) > 0) {
		struct err e = { "" };
		unsigned long written = 0, failed = 0;
		int r = write_batch(a, d, n, &e);

		if (r == 0 && n > 1) {
			/* Some workspace of the batch is gone: one by one. */
			for (size_t i = 0; i < n; i++) {
				int r1 = write_batch(a, &d[i], 1, &e);

				if (r1 == 1)
					written++;
				else if (r1 < 0) {
					act_coal_retry(a->coal, &d[i], 1, mono_ms());
					failed++;
				}
			}
		} else if (r == 1) {
			written = n;
			for (size_t i = 0; i < n; i++) {
				char when[TIMEFMT_MAX];

				timefmt_emit(d[i].when, when, sizeof(when));
				log_debug("activity recorded", "workspace", d[i].key, "time", when, NULL);
			}
		} else if (r < 0) {
			act_coal_retry(a->coal, d, n, mono_ms());
			failed = n;
		}
		if (failed)
			log_warn("recording hosted activity failed; will retry", "error",
				 e.msg, NULL);
		count(a, &a->st.writes, written);
		count(a, &a->st.write_errors, failed);
		if (failed)
			break;
	}
}

void activity_run(struct activity *a)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = a->fd, .events = POLLIN },
					 { .fd = a->wake_fd, .events = POLLIN } };
		long long next = act_coal_next(a->coal), now = mono_ms();
		int timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
		bool stopping;

		pthread_mutex_lock(&a->mu);
		stopping = a->stopping;
		pthread_mutex_unlock(&a->mu);
		if (stopping)
			return;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			log_error("activity: poll failed", "error", strerror(errno), NULL);
			return;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t v;

			if (read(a->wake_fd, &v, sizeof(v)) < 0) {
				/* Nothing pending after all. */
			}
			continue;
		}
		if (pfd[0].revents & POLLIN)
			drain(a);
		flush(a);
	}
}
