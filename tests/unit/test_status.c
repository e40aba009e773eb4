/* test_status — the status object: parse and emit round-trip to the same
 * bytes (the controller skips writes by comparing them), lenient reading
 * of partial or foreign input, the condition rules, bounds. */
#include "status.h"
#include "t.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char full[] =
	"{\"id\":\"3f9c1a2b7d4e\",\"phase\":\"Running\",\"observedGeneration\":4,"
	"\"nodeName\":\"n1\",\"reclaimPolicy\":\"Delete\",\"publish\":\"none\","
	"\"ports\":[{\"container\":8000,\"host\":9000},{\"container\":8001,\"host\":9001}],"
	"\"urls\":[\"http://h/hosted/3f9c1a2b7d4e/9000/\",\"http://h/hosted/3f9c1a2b7d4e/9001/\"],"
	"\"lastActivity\":\"2025-01-31T12:34:56Z\","
	"\"container\":{\"name\":\"klangk_i_a_b\",\"id\":\"0123456789ab\",\"image\":\"img\","
	"\"state\":\"exited\",\"exitCode\":137,\"oomKilled\":true,"
	"\"startedAt\":\"2025-01-31T12:00:00Z\",\"finishedAt\":\"2025-01-31T12:30:00Z\","
	"\"network\":\"klangk_i_a\",\"address\":\"10.89.0.5\"},"
	"\"resources\":{\"cpu\":\"500m\",\"memory\":\"8Gi\",\"pids\":16384},"
	"\"restarts\":{\"count\":3,\"streak\":2,\"lastReason\":\"OOMKilled\","
	"\"lastExitCode\":137,\"lastFinishedAt\":\"2025-01-31T12:30:00Z\","
	"\"nextRestartAt\":\"2025-01-31T12:30:10Z\"},"
	"\"specHash\":\"abc\","
	"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"ContainerRunning\","
	"\"message\":\"the container is running\",\"observedGeneration\":4,"
	"\"lastTransitionTime\":\"2025-01-31T12:00:00Z\"}]}";

static void test_round_trip(void)
{
	struct status s;
	char *out = NULL;

	CHECK(status_parse(full, strlen(full), &s, NULL) == 0);
	CHECK(strcmp(s.id, "3f9c1a2b7d4e") == 0);
	CHECK(status_is_phase(&s, STATUS_RUNNING));
	CHECK(s.has_generation && s.observed_generation == 4);
	CHECK(s.n_ports == 2 && s.ports[1].container == 8001 && s.ports[1].host == 9001);
	CHECK(s.n_urls == 2 && strcmp(s.urls[0], "http://h/hosted/3f9c1a2b7d4e/9000/") == 0);
	CHECK(status_host_port(&s, 8001) == 9001 && status_host_port(&s, 9000) == 9000);
	CHECK(status_host_port(&s, 8004) == 0);
	CHECK(strcmp(s.container.state, "exited") == 0 && s.container.exit_code == 137);
	CHECK(s.container.oom_killed);
	CHECK(s.unpublished && strcmp(s.container.network, "klangk_i_a") == 0 &&
	      strcmp(s.container.address, "10.89.0.5") == 0);
	CHECK(strcmp(s.resources.cpu, "500m") == 0 && strcmp(s.resources.memory, "8Gi") == 0 &&
	      s.resources.pids == 16384);
	CHECK(s.restarts.count == 3 && s.restarts.streak == 2 &&
	      strcmp(s.restarts.last_reason, "OOMKilled") == 0 && s.restarts.last_exit_code == 137 &&
	      strcmp(s.restarts.next_restart_at, "2025-01-31T12:30:10Z") == 0);
	CHECK(status_condition(&s, "Ready") &&
	      strcmp(status_condition(&s, "Ready")->message, "the container is running") == 0);
	CHECK(status_condition(&s, "Stalled") == NULL);
	CHECK(status_emit(&s, &out) == 0);
	CHECK(out && strcmp(out, full) == 0);
	free(out);
	status_clear(&s);
	status_clear(NULL);
}

/* "publish" is emitted only for "none": a host-mode status keeps the
 * bytes it had before the field existed; an unknown value reads as host. */
static void test_publish(void)
{
	struct status s;
	char *out = NULL;
	static const char host[] = "{\"id\":\"3f9c1a2b7d4e\",\"publish\":\"host\"}";
	static const char odd[] = "{\"id\":\"3f9c1a2b7d4e\",\"publish\":7}";

	CHECK(status_parse(host, strlen(host), &s, NULL) == 0 && !s.unpublished);
	CHECK(status_emit(&s, &out) == 0 && out && strcmp(out, "{\"id\":\"3f9c1a2b7d4e\"}") == 0);
	free(out);
	status_clear(&s);
	CHECK(status_parse(odd, strlen(odd), &s, NULL) == 0 && !s.unpublished);
	status_clear(&s);
}

static void test_lenient(void)
{
	struct status s;
	struct err e = { "" };
	char *out = NULL;
	char longid[64];
	json_t *j;
	static const char old[] = "{\"phase\":\"Running\",\"container\":\"klangk_x\"}";

	/* A status hand-written by a test, or by an older controller (the
	 * container was its name). */
	CHECK(status_parse(old, strlen(old), &s, NULL) == 0);
	CHECK(strcmp(s.container.name, "klangk_x") == 0 && !s.container.state[0]);
	CHECK(!s.has_generation && s.n_ports == 0 && s.n_conditions == 0);
	status_clear(&s);

	/* Wrong types and oversize values read as unset. */
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	j = json_pack("{s:s,s:i,s:s,s:[{s:s},i],s:[{s:i},{s:i}],s:[i]}", "id", longid, "phase",
		      3, "observedGeneration", "4", "conditions", "status", "True", 7, "ports",
		      "container", 8000, "host", 9000, "urls", 1);
	CHECK(status_from_json(j, &s) == 0);
	CHECK(!s.id[0] && !s.phase[0] && !s.has_generation);
	CHECK(strcmp(status_phase(&s), STATUS_PENDING) == 0);
	CHECK(s.n_conditions == 0 && s.n_ports == 1 && s.ports[0].host == 9000 && s.n_urls == 0);
	CHECK(s.n_invalid == 4);
	json_decref(j);
	status_clear(&s);

	/* Not an object at all. */
	CHECK(status_parse("[1]", 3, &s, &e) == -EINVAL);
	CHECK_CONTAINS(e.msg, "not a JSON object");
	CHECK(status_parse("{", 1, &s, &e) == -EINVAL);
	CHECK(status_parse(NULL, 0, &s, &e) == -EINVAL);

	/* The empty status emits as {}. */
	status_init(&s);
	CHECK(status_emit(&s, &out) == 0 && strcmp(out, "{}") == 0);
	free(out);
}

static void test_conditions(void)
{
	struct status s;
	char big[STATUS_MESSAGE_MAX + 1];

	status_init(&s);
	CHECK(status_set_condition(&s, "Ready", "False", "Creating", "m1", 1, "T1") == 0);
	CHECK(status_set_condition(&s, "Ready", "False", "Creating", "m2", 2, "T2") == 0);
	/* Same status: the transition time stays. */
	CHECK(s.n_conditions == 1 && strcmp(s.conditions[0].last_transition, "T1") == 0);
	CHECK(strcmp(s.conditions[0].message, "m2") == 0 && s.conditions[0].observed_generation == 2);
	CHECK(status_set_condition(&s, "Ready", "True", "Up", NULL, 3, "T3") == 0);
	CHECK(strcmp(s.conditions[0].last_transition, "T3") == 0 && !s.conditions[0].message);
	for (int i = 0; i < STATUS_MAX_CONDITIONS - 1; i++) {
		char type[8] = { 'T', (char)('a' + i), 0 };

		CHECK(status_set_condition(&s, type, "True", "r", "", 1, "T") == 0);
	}
	CHECK(status_set_condition(&s, "Extra", "True", "r", "", 1, "T") == -ENOSPC);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(status_set_condition(&s, "Ready", "True", "r", big, 1, "T") == -ENAMETOOLONG);
	CHECK(status_set_condition(&s, "Ready", "Maybe-not", "r", "", 1, "T") == -ENAMETOOLONG);
	CHECK(strcmp(s.conditions[0].status, "True") == 0);
	status_clear(&s);
}

static void test_bounds(void)
{
	struct status s;
	long hosts[STATUS_MAX_PORTS + 1] = { 9000, 9001, 9002, 9003, 9004, 9005 };
	const char *urls[STATUS_MAX_PORTS + 1] = { "a", "b", "c", "d", "e", "f" };
	char big[STATUS_URL_MAX + 1];

	status_init(&s);
	CHECK(STATUS_SET(s.phase, "Terminating") == 0);
	CHECK(STATUS_SET(s.phase, "A-phase-far-too-long") == -ENAMETOOLONG);
	CHECK(strcmp(s.phase, "Terminating") == 0);
	CHECK(status_set_ports(&s, 8000, hosts, urls, 2) == 0 && s.n_ports == 2);
	CHECK(status_set_ports(&s, 8000, hosts, urls, STATUS_MAX_PORTS + 1) == -E2BIG);
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	urls[1] = big;
	CHECK(status_set_ports(&s, 8000, hosts, urls, 2) == -ENAMETOOLONG);
	CHECK(s.n_ports == 2 && strcmp(s.urls[1], "b") == 0);
	CHECK(status_set_ports(&s, 8000, hosts, urls, 0) == 0 && s.n_ports == 0 && s.n_urls == 0);
	status_clear(&s);
}

int main(void)
{
	test_round_trip();
	test_publish();
	test_lenient();
	test_conditions();
	test_bounds();
	return T_DONE("status");
}
