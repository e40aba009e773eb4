/*
 * klangkc wait — wait until workspaces meet a condition or are gone.
 *
 * No polling: the targets' keys are read once, then an etcd watch from
 * that revision delivers every later change of their spec and status keys,
 * and the verdict is re-evaluated on each.  A condition counts only when
 * the controller has seen the current generation (the condition's
 * observedGeneration, or the status's, is at least metadata.generation),
 * so `apply` then `wait --for=condition=Ready` never reads the Ready of
 * the previous spec.  "Gone" means both keys deleted: the spec (the user's
 * delete) and the status (the controller's finalizer, removed last).
 *
 * Under etcd's roles (docs/security.md) a user may read only their own
 * namespace's keys, so a watch of /klangk/ is refused.  wait then watches
 * the namespace's status keys alone — the controller answers every spec
 * change there — and reads the spec again on each status change.
 */
#include "cli.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

static atomic_int cancel_flag; /* set by a signal handler (lock-free) */
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	cancel_flag = 1;
}

static void on_interrupt(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

struct wstate {
	const struct cli_wait_target *t;
	bool spec;            /* spec key exists */
	int64_t generation;   /* its version */
	json_t *status;       /* owned, NULL when absent */
	bool done;
};

struct wctx {
	struct wstate *s;
	size_t n;
	enum cli_wait_kind kind;
	const char *type, *value;
	size_t left;
	bool quiet;
	struct etcd *reader;  /* status-only watch: reads the specs (owned) */
};

long cli_parse_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || v > 86400.0 * 365)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return (long)(v * 1000);
	if (strcmp(end, "ms") == 0)
		return (long)v;
	if (strcmp(end, "m") == 0)
		return (long)(v * 60000);
	if (strcmp(end, "h") == 0)
		return (long)(v * 3600000);
	return -1;
}

static bool satisfied(const struct wctx *w, const struct wstate *s)
{
	const struct status_condition *c;
	struct status st;
	int64_t og;
	bool ok;

	if (w->kind == WAIT_DELETE)
		return !s->spec && !s->status;
	if (!s->spec || status_from_json(s->status, &st) < 0)
		return false;
	c = status_condition(&st, w->type);
	/* The condition's own generation, else the status's; none at all
	 * (a status written by hand) does not hold the wait. */
	og = c && c->observed_generation ? c->observed_generation :
	     st.has_generation ? st.observed_generation : 0;
	ok = c && strcasecmp(c->status, w->value) == 0 && (!og || og >= s->generation);
	status_clear(&st);
	return ok;
}

/* Mark and report the targets satisfied now; true when none is left. */
static bool check_all(struct wctx *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct wstate *s = &w->s[i];

		if (s->done || !satisfied(w, s))
			continue;
		s->done = true;
		w->left--;
		if (!w->quiet)
			printf("workspace.klangk.io/%s %s\n", s->t->name,
			       w->kind == WAIT_DELETE ? "deleted" : "condition met");
	}
	fflush(stdout);
	return w->left == 0;
}

static void set_status(struct wstate *s, const char *value, size_t len)
{
	json_decref(s->status);
	s->status = NULL;
	if (value) {
		s->status = json_loadb(value, len, 0, NULL);
		if (!json_is_object(s->status)) {
			/* Present but unreadable: it still exists. */
			json_decref(s->status);
			s->status = json_object();
		}
	}
}

/* Read one target's spec key (whether it exists, its generation). */
static int read_spec_e(struct etcd *c, struct wstate *s, struct err *e)
{
	struct etcd_kv kv = { 0 };
	char key[512];
	int r;

	keys_ws(KEYS_SPEC, s->t->ns, s->t->name, key, sizeof(key));
	r = etcd_get(c, key, &kv, NULL, e);
	if (r < 0 && r != -ENOENT)
		return r;
	s->spec = r == 0;
	s->generation = kv.version;
	etcd_kv_clear(&kv);
	return 0;
}

static int read_spec(struct etcd *c, struct wstate *s)
{
	struct err e = { "" };

	return read_spec_e(c, s, &e);
}

static int on_events(void *ud, const struct etcd_event *ev, size_t n, int64_t rev)
{
	struct wctx *w = ud;

	(void)rev;
	for (size_t i = 0; i < n; i++) {
		char ns[256], name[256];
		bool is_spec = true;

		if (keys_split(KEYS_SPEC, ev[i].kv.key, ns, sizeof(ns), name,
				 sizeof(name)) < 0) {
			is_spec = false;
			if (keys_split(KEYS_STATUS, ev[i].kv.key, ns, sizeof(ns),
					 name, sizeof(name)) < 0)
				continue;
		}
		for (size_t k = 0; k < w->n; k++) {
			struct wstate *s = &w->s[k];

			if (strcmp(s->t->ns, ns) != 0 || strcmp(s->t->name, name) != 0)
				continue;
			if (is_spec) {
				s->spec = ev[i].type == ETCD_PUT;
				if (s->spec)
					s->generation = ev[i].kv.version;
			} else {
				set_status(s, ev[i].type == ETCD_PUT ? ev[i].kv.value : NULL,
					   ev[i].kv.value_len);
				if (w->reader && read_spec(w->reader, s) < 0)
					return -EIO;
			}
		}
	}
	return check_all(w) ? 1 : 0;
}

/* Read one target's two keys. */
static int read_target(struct etcd *c, struct wstate *s, struct err *e)
{
	struct etcd_kv kv = { 0 };
	char key[512];
	int r;

	if ((r = read_spec_e(c, s, e)) < 0)
		return r;
	keys_ws(KEYS_STATUS, s->t->ns, s->t->name, key, sizeof(key));
	r = etcd_get(c, key, &kv, NULL, e);
	if (r < 0 && r != -ENOENT)
		return r;
	set_status(s, r == 0 ? kv.value : NULL, kv.value_len);
	etcd_kv_clear(&kv);
	return 0;
}

static bool one_namespace(const struct cli_wait_target *t, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(t[i].ns, t[0].ns) != 0)
			return false;
	return n > 0;
}

int cli_wait(struct etcd *c, const struct cli_wait_target *t, size_t n,
	     enum cli_wait_kind kind, const char *type, const char *value,
	     long timeout_ms, bool quiet)
{
	struct wctx w = { .n = n, .kind = kind, .type = type, .value = value, .left = n,
			  .quiet = quiet };
	struct sigaction sa = { .sa_handler = on_alarm }, si = { .sa_handler = on_interrupt };
	struct itimerval it = { 0 };
	struct err e = { "" };
	int64_t rev = 0;
	char key[512], ns_prefix[512];
	const char *prefix = KEYS_ROOT;
	int r, failures = 0, ret = EXIT_OK;

	w.s = calloc(n ? n : 1, sizeof(*w.s));
	if (!w.s)
		return cli_fail(NULL, -ENOMEM, NULL);
	keys_ws(KEYS_SPEC, t[0].ns, t[0].name, key, sizeof(key));
	if ((r = cli_revision(c, key, &rev, &e)) < 0) {
		ret = cli_fail("wait", r, &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		w.s[i].t = &t[i];
		if ((r = read_target(c, &w.s[i], &e)) < 0) {
			ret = cli_fail("wait", r, &e);
			goto out;
		}
		if (kind == WAIT_CONDITION && !w.s[i].spec) {
			fprintf(stderr, "error: workspace \"%s\" not found in namespace "
					"\"%s\"\n", t[i].name, t[i].ns);
			ret = EXIT_NOTFOUND;
			goto out;
		}
	}
	if (check_all(&w))
		goto out;
	cancel_flag = 0;
	timed_out = 0;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &si, NULL);
	sigaction(SIGTERM, &si, NULL);
	it.it_value.tv_sec = timeout_ms / 1000;
	it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	if (timeout_ms == 0)
		timed_out = cancel_flag = 1;
	else
		setitimer(ITIMER_REAL, &it, NULL);
	while (!cancel_flag) {
		r = etcd_watch(c, prefix, rev + 1, on_events, &w, &cancel_flag, &rev, &e);
		if (w.left == 0 || cancel_flag)
			break;
		if (r == -EACCES && !w.reader && one_namespace(t, n)) {
			/* Refused by etcd's roles: the namespace's statuses. */
			keys_ns_prefix(KEYS_STATUS, t[0].ns, ns_prefix, sizeof(ns_prefix));
			prefix = ns_prefix;
			if (cli_etcd(&w.reader) < 0) {
				r = -EIO;
				break;
			}
			err_clear(&e);
			continue;
		}
		if (r == -EACCES)
			break;
		if (r == -ESTALE) {
			/* Compacted past our revision: read again, go on. */
			if ((r = cli_revision(c, key, &rev, &e)) < 0)
				break;
			for (size_t i = 0; i < n && r == 0; i++)
				r = read_target(c, &w.s[i], &e);
			if (r < 0 || check_all(&w))
				break;
			continue;
		}
		fprintf(stderr, "warning: %s; resuming\n", e.msg);
		cli_backoff(++failures + 6, CLI_WATCH_CAP_MS);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (w.left == 0)
		goto out;
	if (r < 0 && !cancel_flag) {
		ret = cli_fail("wait", r, &e);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!w.s[i].done)
			fprintf(stderr, "error: %s waiting for %s on workspace.klangk.io/%s\n",
				timed_out ? "timed out" : "interrupted",
				kind == WAIT_DELETE ? "deletion" : "the condition",
				t[i].name);
	ret = EXIT_FAIL;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(w.s[i].status);
	free(w.s);
	etcd_free(w.reader);
	return ret;
}

const struct cliopt cli_opts_wait[] = {
	CLIOPT_NAMESPACE,
	{ "for", 0, 'F', "COND", "delete condition=Ready condition=Reconciling condition=Stalled",
	  "condition=TYPE[=VALUE] (VALUE default True), or delete" },
	CLI_OPT_TIMEOUT("how long to wait (default 30s)"),
	CLI_OPT_SELECTOR("the workspaces whose labels match"),
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_wait(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_wait };
	const char *ns_flag = NULL, *cond = NULL, *sel_text = NULL;
	char type[64] = "", value[64] = "True";
	enum cli_wait_kind kind = WAIT_CONDITION;
	struct cli_wait_target *t = NULL;
	struct selector *sel = NULL;
	long timeout_ms = 30000;
	struct etcd *c = NULL;
	size_t n = 0;
	int opt, ret = EXIT_OK;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 'F':
			cond = optarg;
			break;
		case CLI_KEY_TIMEOUT:
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				fprintf(stderr, "error: --timeout: \"%s\" is not a duration "
						"(30s, 500ms, 2m, 1h)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			sel_text = optarg;
			break;
		case 'h':
			cli_usage("wait", false);
			return EXIT_OK;
		default:
			cli_usage("wait", true);
			return EXIT_USAGE;
		}
	}
	if (!cond) {
		fprintf(stderr, "error: wait needs --for=condition=TYPE[=VALUE] or --for=delete\n");
		return EXIT_USAGE;
	}
	if (strcmp(cond, "delete") == 0) {
		kind = WAIT_DELETE;
	} else if (strncmp(cond, "condition=", 10) == 0 && cond[10]) {
		const char *eq = strchr(cond + 10, '=');
		size_t tl = eq ? (size_t)(eq - cond - 10) : strlen(cond + 10);

		if (tl == 0 || tl >= sizeof(type) || (eq && (!eq[1] || strlen(eq + 1) >= sizeof(value)))) {
			fprintf(stderr, "error: --for: bad condition \"%s\"\n", cond);
			return EXIT_USAGE;
		}
		memcpy(type, cond + 10, tl);
		type[tl] = '\0';
		if (eq)
			snprintf(value, sizeof(value), "%s", eq + 1);
	} else {
		fprintf(stderr, "error: --for must be condition=TYPE[=VALUE] or delete\n");
		return EXIT_USAGE;
	}
	if ((optind >= argc) == !sel_text) {
		fprintf(stderr, "error: wait needs NAME... or -l SELECTOR\n");
		return EXIT_USAGE;
	}
	if (!cli_check_ns(cli_namespace(ns_flag)))
		return EXIT_USAGE;
	for (int i = optind; i < argc; i++)
		if (!cli_check_name(argv[i]))
			return EXIT_USAGE;
	if (cli_selector(sel_text, &sel) < 0)
		return EXIT_USAGE;
	if (cli_etcd(&c) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (sel) {
		json_t *list = json_array(), *o;
		struct err e = { "" };
		size_t i;
		int r;

		r = list ? cli_list_objects(c, cli_namespace(ns_flag), sel, false, list, NULL, &e)
			 : -ENOMEM;
		if (r < 0) {
			json_decref(list);
			ret = cli_fail("list", r, &e);
			goto out;
		}
		t = calloc(json_array_size(list) + 1, sizeof(*t));
		json_array_foreach(list, i, o) {
			const json_t *m = json_object_get(o, "metadata");

			if (!t)
				break;
			snprintf(t[n].ns, sizeof(t[n].ns), "%s", cli_jstr(m, "namespace", ""));
			snprintf(t[n].name, sizeof(t[n].name), "%s", cli_jstr(m, "name", ""));
			n++;
		}
		json_decref(list);
		if (n == 0) {
			fprintf(stderr, "error: no workspaces match the selector\n");
			ret = t ? EXIT_NOTFOUND : EXIT_FAIL;
			goto out;
		}
	} else {
		t = calloc((size_t)(argc - optind), sizeof(*t));
		for (int i = optind; t && i < argc; i++, n++) {
			snprintf(t[n].ns, sizeof(t[n].ns), "%s", cli_namespace(ns_flag));
			snprintf(t[n].name, sizeof(t[n].name), "%s", argv[i]);
		}
	}
	if (!t) {
		ret = cli_fail(NULL, -ENOMEM, NULL);
		goto out;
	}
	ret = cli_wait(c, t, n, kind, type, value, timeout_ms, false);
out:
	free(t);
	etcd_free(c);
	selector_free(sel);
	return ret;
}
