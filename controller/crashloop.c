/* crashloop — restart pacing of crashing containers (see crashloop.h). */
#include "crashloop.h"

long crashloop_delay(const struct crashloop_policy *p, long streak)
{
	long d;

	if (streak <= 0)
		return 0;
	d = p->base_s > 0 ? p->base_s : 1;
	/* Doubling stops at the cap, so d never overflows. */
	for (long i = 1; i < streak && d < p->max_s; i++)
		d *= 2;
	return d > p->max_s ? p->max_s : d;
}

bool crashloop_on_exit(const struct crashloop_policy *p, struct crashloop_state *s,
		       const struct crashloop_exit *x, time_t now, long *wait_s)
{
	time_t finished = x->finished > 0 ? x->finished : now;
	/* With no restart pending, the container ran since the last exit we
	 * counted (we started it), so this exit is new even within the same
	 * second; with one pending, only another finish time is new. */
	bool fresh = s->next == 0 || (x->finished > 0 && x->finished != s->finished);

	if (fresh) {
		if (x->started > 0 && finished - x->started >= p->reset_s)
			s->streak = 0;
		s->next = finished + crashloop_delay(p, s->streak);
		/* An exit at once is due at once: next stays nonzero while
		 * a restart is pending. */
		if (s->next <= 0)
			s->next = 1;
		s->streak++;
		s->count++;
		s->finished = finished;
	}
	*wait_s = s->next > now ? (long)(s->next - now) : 0;
	return fresh;
}

void crashloop_started(struct crashloop_state *s)
{
	s->next = 0;
}

const char *crashloop_reason(const struct crashloop_exit *x)
{
	return x->oom ? "OOMKilled" : "ContainerExited";
}
