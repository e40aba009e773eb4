/* Unit tests for prom: the text exposition format. */
#include "prom.h"
#include "t.h"

int main(void)
{
	static const double b[] = { 0.1, 1 };
	struct prom *p;
	struct prom_metric *c, *h, *g;
	struct buf out;

	CHECK(prom_new(&p) == 0);
	c = prom_register(p, "x_total", "Things.", PROM_COUNTER, "result", NULL, 0);
	h = prom_register(p, "x_seconds", "Time.", PROM_HISTOGRAM, NULL, b, 2);
	g = prom_register(p, "x_depth", "Depth.", PROM_GAUGE, NULL, NULL, 0);
	CHECK(c && h && g);
	prom_add(c, "ok", 1);
	prom_add(c, "ok", 2);
	prom_add(c, "error", 1);
	prom_observe(h, "", 0.05);
	prom_observe(h, "", 0.5);
	prom_observe(h, "", 5);
	prom_set(g, "", 7);
	prom_set(g, "", 3);
	buf_init(&out, 0);
	CHECK(prom_render(p, &out) == 0);
	CHECK_CONTAINS(out.data, "# TYPE x_total counter\n");
	CHECK_CONTAINS(out.data, "x_total{result=\"ok\"} 3\n");
	CHECK_CONTAINS(out.data, "x_total{result=\"error\"} 1\n");
	CHECK_CONTAINS(out.data, "x_seconds_bucket{le=\"0.1\"} 1\n");
	CHECK_CONTAINS(out.data, "x_seconds_bucket{le=\"1\"} 2\n");
	CHECK_CONTAINS(out.data, "x_seconds_bucket{le=\"+Inf\"} 3\n");
	CHECK_CONTAINS(out.data, "x_seconds_count 3\n");
	CHECK_CONTAINS(out.data, "x_depth 3\n");
	/* Series are bounded. */
	for (int i = 0; i < 100; i++) {
		char v[16];

		snprintf(v, sizeof(v), "v%d", i);
		prom_add(c, v, 1);
	}
	buf_reset(&out);
	CHECK(prom_render(p, &out) == 0);
	CHECK(!CONTAINS(out.data, "result=\"v99\""));
	buf_free(&out);
	prom_free(p);
	return T_DONE("prom");
}
