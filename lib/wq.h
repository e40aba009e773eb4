/*
 * wq — the controller's work queue, after client-go's workqueue.
 *
 * Keys ("ns/name") wait in FIFO order.  A key is in the queue at most once
 * (adding it again while it waits does nothing), and is never handed to two
 * workers at once: a key added while a worker holds it is queued again when
 * that worker calls wq_done.  Keys can be added with a delay, and each key
 * has an exponential backoff for failures that wq_forget resets.
 * Thread-safe.
 */
#ifndef KLANGK_WQ_H
#define KLANGK_WQ_H

#include <stddef.h>

struct wq;

/* Backoff: base_ms * 2^failures, capped at max_ms. */
int wq_new(long base_ms, long max_ms, struct wq **out);
void wq_free(struct wq *q);

int wq_add(struct wq *q, const char *key);
/* Add after delay_ms (an earlier pending time wins). */
int wq_add_after(struct wq *q, const char *key, long delay_ms);
/* Record a failure and re-add after the key's backoff; returns the delay. */
long wq_add_rate_limited(struct wq *q, const char *key);
/* Reset the key's backoff after a success. */
void wq_forget(struct wq *q, const char *key);

/*
 * Block until a key is ready; *key is new (free it after wq_done).
 * Returns -ESHUTDOWN once the queue is shut down and no key is ready.
 */
int wq_get(struct wq *q, char **key);
void wq_done(struct wq *q, const char *key);

/* Wake every waiting worker; later wq_get calls fail with -ESHUTDOWN. */
void wq_shutdown(struct wq *q);

/* Keys waiting (ready or delayed), for metrics and tests. */
size_t wq_len(struct wq *q);

#endif
