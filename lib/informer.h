/*
 * informer — client-go's informer for one etcd prefix: list, then watch
 * from the list's revision + 1; on a broken stream reconnect with jittered
 * backoff (0.8 s to 30 s) and resume from the last revision seen; when that
 * revision has been compacted, list again.  Optionally relist periodically
 * (checked when the watch delivers anything, progress notifications
 * included), so even a missed event is repaired.
 */
#ifndef KLANGK_INFORMER_H
#define KLANGK_INFORMER_H

#include "etcd.h"
#include "stopper.h"

#include <stdatomic.h>

struct informer {
	const char *prefix;        /* borrowed */
	struct etcd *etcd;         /* borrowed; used only by informer_run */
	struct stopper *stop;      /* borrowed */
	long relist_ms;            /* 0 = only when needed */
	/* The whole state under prefix at one revision (after every list). */
	void (*on_list)(void *ud, const struct etcd_kvs *kvs);
	/* Changes, in order. */
	void (*on_events)(void *ud, const struct etcd_event *ev, size_t n);
	void *ud;
	/* Counted for metrics: written by informer_run, read by any thread. */
	atomic_ulong lists, watch_restarts;
};

/* Run until inf->stop is stopped.  Logs its own trouble. */
void informer_run(struct informer *inf);

#endif
