/* informer — list + watch with resume, relist and backoff (see informer.h). */
#include "informer.h"

#include "log.h"

#include <errno.h>
#include <time.h>

struct run {
	struct informer *inf;
	long long listed_at;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_watch(void *ud, const struct etcd_event *ev, size_t n,
		    int64_t revision)
{
	struct run *r = ud;
	struct informer *inf = r->inf;

	(void)revision;
	if (n)
		inf->on_events(inf->ud, ev, n);
	if (stopper_stopping(inf->stop))
		return 1;
	/* End the stream for the periodic relist (-ECANCELED). */
	if (inf->relist_ms && now_ms() - r->listed_at > inf->relist_ms)
		return 1;
	return 0;
}

void informer_run(struct informer *inf)
{
	struct run run = { .inf = inf };
	struct err e = { "" };
	int64_t rev = 0;
	int failures = 0;
	bool listed = false;

	while (!stopper_stopping(inf->stop)) {
		int r;

		if (!listed) {
			struct etcd_kvs kvs = { 0 };

			r = etcd_list(inf->etcd, inf->prefix, &kvs, &e);
			if (r < 0) {
				log_warn("list failed; retrying", "prefix", inf->prefix,
					 "error", e.msg, NULL);
				stopper_nap(inf->stop, stopper_backoff_ms(failures++, 800, 30000));
				if (failures > 8)
					failures = 8;
				continue;
			}
			inf->on_list(inf->ud, &kvs);
			rev = kvs.revision;
			etcd_kvs_clear(&kvs);
			listed = true;
			run.listed_at = now_ms();
			atomic_fetch_add(&inf->lists, 1);
			failures = 0;
		}
		r = etcd_watch(inf->etcd, inf->prefix, rev + 1, on_watch, &run,
			       &inf->stop->stopping, &rev, &e);
		if (stopper_stopping(inf->stop))
			break;
		atomic_fetch_add(&inf->watch_restarts, 1);
		if (r == -ESTALE) {
			log_warn("watch revision compacted; relisting", "prefix",
				 inf->prefix, "error", e.msg, NULL);
			listed = false;
			continue;
		}
		if (r == -ECANCELED) {
			listed = false; /* periodic relist */
			continue;
		}
		log_warn("watch broken; reconnecting", "prefix", inf->prefix, "error",
			 e.msg, NULL);
		if (stopper_nap(inf->stop, stopper_backoff_ms(failures++, 800, 30000)))
			break;
		if (failures > 8)
			failures = 8;
	}
}
