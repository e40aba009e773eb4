/* prom — metrics registry and text exposition (see prom.h). */
#include "prom.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BUCKETS 16

struct series {
	char value[64];
	double v;                      /* counter/gauge, or histogram sum */
	unsigned long long count;      /* histogram */
	unsigned long long buckets[MAX_BUCKETS];
};

struct prom_metric {
	char *name, *help, *label;
	enum prom_type type;
	double bounds[MAX_BUCKETS];
	size_t n_bounds;
	struct series series[PROM_MAX_SERIES];
	size_t n_series;
	struct prom_metric *next;
	pthread_mutex_t *mu;
};

struct prom {
	pthread_mutex_t mu;
	struct prom_metric *head, *tail;
};

double prom_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int prom_new(struct prom **out)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void prom_free(struct prom *p)
{
	struct prom_metric *m, *n;

	if (!p)
		return;
	for (m = p->head; m; m = n) {
		n = m->next;
		free(m->name);
		free(m->help);
		free(m->label);
		free(m);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct prom_metric *prom_register(struct prom *p, const char *name,
				  const char *help, enum prom_type type,
				  const char *label, const double *buckets,
				  size_t n_buckets)
{
	struct prom_metric *m = calloc(1, sizeof(*m));

	if (!m || n_buckets > MAX_BUCKETS) {
		free(m);
		return NULL;
	}
	m->name = strdup(name);
	m->help = strdup(help);
	m->label = label ? strdup(label) : NULL;
	if (!m->name || !m->help || (label && !m->label)) {
		free(m->name);
		free(m->help);
		free(m->label);
		free(m);
		return NULL;
	}
	m->type = type;
	if (buckets)
		memcpy(m->bounds, buckets, n_buckets * sizeof(double));
	m->n_bounds = buckets ? n_buckets : 0;
	m->mu = &p->mu;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	pthread_mutex_unlock(&p->mu);
	return m;
}

/* The series for value, created on first use; NULL when full. */
static struct series *series_of(struct prom_metric *m, const char *value)
{
	for (size_t i = 0; i < m->n_series; i++)
		if (strcmp(m->series[i].value, value) == 0)
			return &m->series[i];
	if (m->n_series == PROM_MAX_SERIES || strlen(value) >= sizeof(m->series[0].value))
		return NULL;
	memset(&m->series[m->n_series], 0, sizeof(m->series[0]));
	memcpy(m->series[m->n_series].value, value, strlen(value) + 1);
	return &m->series[m->n_series++];
}

static void update(struct prom_metric *m, const char *value, double v, int op)
{
	struct series *s;

	if (!m)
		return;
	pthread_mutex_lock(m->mu);
	s = series_of(m, value ? value : "");
	if (s) {
		if (op == 0) {
			s->v += v;
		} else if (op == 1) {
			s->v = v;
		} else {
			s->v += v;
			s->count++;
			for (size_t i = 0; i < m->n_bounds; i++)
				if (v <= m->bounds[i])
					s->buckets[i]++;
		}
	}
	pthread_mutex_unlock(m->mu);
}

void prom_add(struct prom_metric *m, const char *value, double delta)
{
	update(m, value, delta, 0);
}

void prom_set(struct prom_metric *m, const char *value, double v)
{
	update(m, value, v, 1);
}

void prom_observe(struct prom_metric *m, const char *value, double v)
{
	update(m, value, v, 2);
}

static void labels(struct buf *out, const struct prom_metric *m,
		   const struct series *s, const char *le)
{
	int any = m->label || le;

	if (!any)
		return;
	buf_puts(out, "{");
	if (m->label)
		buf_printf(out, "%s=\"%s\"", m->label, s->value);
	if (le)
		buf_printf(out, "%sle=\"%s\"", m->label ? "," : "", le);
	buf_puts(out, "}");
}

int prom_render(struct prom *p, struct buf *out)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	int r = 0;

	pthread_mutex_lock(&p->mu);
	for (struct prom_metric *m = p->head; m; m = m->next) {
		r |= buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
				m->name, types[m->type]);
		for (size_t i = 0; i < m->n_series; i++) {
			const struct series *s = &m->series[i];

			if (m->type != PROM_HISTOGRAM) {
				buf_puts(out, m->name);
				labels(out, m, s, NULL);
				r |= buf_printf(out, " %.17g\n", s->v);
				continue;
			}
			for (size_t b = 0; b < m->n_bounds; b++) {
				char le[32];

				snprintf(le, sizeof(le), "%g", m->bounds[b]);
				buf_printf(out, "%s_bucket", m->name);
				labels(out, m, s, le);
				buf_printf(out, " %llu\n", s->buckets[b]);
			}
			buf_printf(out, "%s_bucket", m->name);
			labels(out, m, s, "+Inf");
			buf_printf(out, " %llu\n%s_sum", s->count, m->name);
			labels(out, m, s, NULL);
			buf_printf(out, " %.17g\n%s_count", s->v, m->name);
			labels(out, m, s, NULL);
			r |= buf_printf(out, " %llu\n", s->count);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return r ? -E2BIG : 0;
}
