/*
 * prom — a few Prometheus metrics and their text exposition format.
 *
 * Metrics are registered once at start (name, help, type, fixed label
 * names) and updated from any thread; prom_render writes the registry in
 * the text format for a /metrics handler.  Label values are chosen by the
 * caller from small fixed sets (result="error"), never from user input, so
 * the number of series stays bounded (PROM_MAX_SERIES per metric).
 */
#ifndef KLANGK_PROM_H
#define KLANGK_PROM_H

#include "buf.h"

#define PROM_MAX_SERIES 32

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom;
struct prom_metric;

int prom_new(struct prom **out);
void prom_free(struct prom *p);

/* label: one label name or NULL.  buckets: upper bounds for histograms
 * (ascending, +Inf implied), NULL otherwise.  The returned metric belongs
 * to p (borrowed). */
struct prom_metric *prom_register(struct prom *p, const char *name,
				  const char *help, enum prom_type type,
				  const char *label, const double *buckets,
				  size_t n_buckets);

/* value: the series' label value ("" when the metric has no label). */
void prom_add(struct prom_metric *m, const char *value, double delta);
void prom_set(struct prom_metric *m, const char *value, double v);
void prom_observe(struct prom_metric *m, const char *value, double v);

int prom_render(struct prom *p, struct buf *out);

/* Seconds between two CLOCK_MONOTONIC readings, for durations. */
double prom_now(void);

#endif
