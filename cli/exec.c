/*
 * klangkc exec — a terminal, or one command, in a workspace's container,
 * through the engine's exec API.
 *
 * Without a command it opens the workspace's terminal: spec.command when
 * set, else a tmux session "main" (attached again on every exec, so a
 * dropped connection loses nothing) running a login shell, or only a
 * login shell when the image has no tmux or there is no terminal.  It runs
 * as the image's workspace user (the label io.klangk.workspace.user; the
 * container's user when absent) in the home, /home/<namespace>.
 *
 * With a TTY (stdin is a terminal, or -t) the local terminal is put in raw
 * mode and restored on every way out, and its size follows SIGWINCH;
 * without one, stdout and stderr stay apart and the end of stdin reaches
 * the command.  klangkc exits with the command's exit status.
 *
 * An exec is activity: it is recorded before the exec starts and again at
 * most every EXEC_TOUCH_S seconds while bytes flow, so an open terminal
 * keeps its workspace from the idle timeout.  A workspace stopped for
 * idleness is started again by that, and exec waits for it to run.
 */
#include "cli.h"

#include "engine.h"
#include "ws.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXEC_TOUCH_S 30
#define EXEC_USER_LABEL "io.klangk.workspace.user"
#define EXEC_SESSION_LABEL "io.klangk.workspace.session"
/* How long the exit code may lag behind the end of the output. */
#define EXEC_WAIT_MS 30000

/* The terminal: tmux when the image has it and there is a TTY, else a
 * login shell.  (The command itself is fixed text: nothing is spliced in.) */
static const char *const default_terminal[] = {
	"/bin/sh", "-c",
	"if [ -t 0 ] && command -v tmux >/dev/null 2>&1; then "
	"exec tmux new-session -A -s main; fi; "
	"exec \"${SHELL:-/bin/sh}\" -l",
};

static struct termios saved_tio;
static bool tio_saved;
static volatile sig_atomic_t got_winch, got_stop;

static void restore_tty(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		tio_saved = false;
	}
}

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else
		got_stop = sig;
}

static int demux_out(void *ud, int stream, const char *data, size_t len)
{
	(void)ud;
	return cli_write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len) < 0;
}

static void resize(struct engine *g, const char *id)
{
	struct winsize ws;
	struct err e = { "" };

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		engine_exec_resize(g, id, ws.ws_row, ws.ws_col, &e);
}

struct session {
	struct engine *g;
	const char *id;
	struct engine_stream *s;
	bool tty;
	struct etcd *etcd;
	const char *ns, *name;
};

/* Copy stdin to the exec and its output to stdout/stderr until the output
 * ends (0), a signal stops us (128 + signal), or an error. */
static int pump(struct session *x, const sigset_t *waitmask, struct err *e)
{
	static char buf[32768];
	struct engine_demux dm = { 0 };
	bool in_open = true, active = false;
	time_t last_touch = time(NULL);

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = engine_stream_fd(x->s), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool readable = engine_stream_pending(x->s);
		size_t n = 0;
		int r;

		if (got_stop)
			return 128 + got_stop;
		if (got_winch) {
			/* Before any input that follows it. */
			got_winch = 0;
			if (x->tty)
				resize(x->g, x->id);
		}
		if (!readable) {
			int k = ppoll(fds, in_open ? 2 : 1, NULL, waitmask);

			if (k < 0) {
				if (errno == EINTR)
					continue;
				err_set(e, "poll: %s", strerror(errno));
				return -errno;
			}
			readable = fds[0].revents != 0;
		} else {
			fds[1].revents = 0;
		}
		if (readable) {
			r = engine_stream_recv(x->s, buf, sizeof(buf), &n, e);
			if (r == -EAGAIN)
				continue;
			if (r < 0)
				return r;
			if (n == 0)
				return 0;
			if (x->tty)
				r = cli_write_all(STDOUT_FILENO, buf, n);
			else
				r = engine_demux_feed(&dm, buf, n, demux_out, NULL);
			if (r < 0) {
				err_set(e, r == -EPROTO ? "exec: malformed output stream"
							: "exec: cannot write the output");
				return r;
			}
			active = true;
		}
		if (in_open && fds[1].revents) {
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

			if (k < 0 && errno == EINTR)
				continue;
			if (k > 0) {
				r = engine_stream_send(x->s, buf, (size_t)k, e);
				if (r < 0)
					return r;
				active = true;
			} else {
				/* End of input: the command reads end of file. */
				in_open = false;
				if (!x->tty)
					engine_stream_close_write(x->s);
			}
		}
		if (active && time(NULL) - last_touch >= EXEC_TOUCH_S) {
			struct err te = { "" };

			cli_touch(x->etcd, x->ns, x->name, &te);
			last_touch = time(NULL);
			active = false;
		}
	}
}

/* Make sure the workspace runs: its activity is recorded first (which
 * starts one stopped for idleness), then wait for Ready.  *container: its
 * container's name (new). */
static int ensure_running(struct etcd *c, const char *ns, const char *name,
			  long timeout_ms, char **container, json_t **spec_cmd)
{
	struct err e = { "" };
	json_t *o = NULL;
	struct status st;
	char cname[256];
	int r, ret = EXIT_OK;

	r = cli_touch(c, ns, name, &e);
	if (r < 0 && r != -ENOENT && r != -EACCES)
		return cli_fail("exec", r, &e);
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "warning: exec: recording activity: %s\n", e.msg);
	err_clear(&e);
	r = cli_get_object(c, ns, name, &o, &e);
	if (r < 0)
		return cli_fail("exec", r, &e);
	cli_status(o, &st);
	if (!status_is_phase(&st, STATUS_RUNNING)) {
		struct cli_wait_target t;

		if (json_is_false(json_object_get(json_object_get(o, "spec"), "running"))) {
			fprintf(stderr, "error: exec: workspace %s/%s is stopped (spec.running is "
					"false); start it with: klangkc start %s -n %s\n",
				ns, name, name, ns);
			ret = EXIT_FAIL;
			goto out;
		}
		snprintf(t.ns, sizeof(t.ns), "%s", ns);
		snprintf(t.name, sizeof(t.name), "%s", name);
		fprintf(stderr, "waiting for workspace %s/%s to run (phase %s)...\n", ns, name,
			status_phase(&st));
		ret = cli_wait(c, &t, 1, WAIT_CONDITION, "Ready", "True", timeout_ms, true);
		if (ret != EXIT_OK)
			goto out;
		json_decref(o);
		o = NULL;
		r = cli_get_object(c, ns, name, &o, &e);
		if (r < 0) {
			ret = cli_fail("exec", r, &e);
			goto out;
		}
	}
	if (cli_container(o, cname, sizeof(cname)) < 0) {
		fprintf(stderr, "error: exec: workspace %s/%s has no container yet\n", ns, name);
		ret = EXIT_FAIL;
		goto out;
	}
	*container = strdup(cname);
	*spec_cmd = json_incref(json_object_get(json_object_get(o, "spec"), "command"));
	if (!*container)
		ret = EXIT_FAIL;
out:
	status_clear(&st);
	json_decref(o);
	return ret;
}

const struct cliopt cli_opts_exec[] = {
	CLIOPT_NAMESPACE,
	{ "tty", 't', 0, NULL, NULL, "allocate a terminal even when stdin is not one" },
	{ "no-tty", 'T', 0, NULL, NULL, "never allocate a terminal" },
	CLI_OPT_TIMEOUT("how long to wait for a stopped workspace to start\n(default 60s)"),
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_exec(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_exec };
	const char *ns_flag = NULL, *ns, *name, *user = NULL;
	const char **cmd = NULL, **owned_cmd = NULL, **argvx = NULL;
	size_t n_cmd = 0, n_argvx = 0;
	int tty_flag = -1, opt, nopt = argc, ret = EXIT_FAIL, r;
	long timeout_ms = 60000;
	struct etcd *c = NULL;
	struct engine *g = NULL;
	struct engine_stream *s = NULL;
	json_t *info = NULL, *spec_cmd = NULL;
	char *container = NULL, *id = NULL;
	char home[160], env_home[200], env_term[256];
	const char *env[2];
	struct err e = { "" };
	bool tty;
	sigset_t block, waitmask;
	struct sigaction sa_old[4];
	static const int sigs[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT };

	/* Everything after "--" is the command, options included. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			nopt = i;
			break;
		}
	while ((opt = cliopt_next(&p, nopt, argv)) != -1) {
		switch (opt) {
		case 'n':
			ns_flag = optarg;
			break;
		case 't':
			tty_flag = 1;
			break;
		case 'T':
			tty_flag = 0;
			break;
		case CLI_KEY_TIMEOUT:
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				fprintf(stderr, "error: exec: --timeout \"%s\": not a duration\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cli_usage("exec", false);
			return EXIT_OK;
		default:
			cli_usage("exec", true);
			return EXIT_USAGE;
		}
	}
	if (nopt - optind != 1) {
		fprintf(stderr, "error: exec: %s\n", nopt - optind < 1 ?
			"a workspace name is required" :
			"the command goes after \"--\" (klangkc exec NAME -- CMD...)");
		cli_usage("exec", true);
		return EXIT_USAGE;
	}
	name = argv[optind];
	ns = cli_namespace(ns_flag);
	if (!cli_check_ns(ns) || !cli_check_name(name))
		return EXIT_USAGE;
	if (nopt < argc - 1) {
		cmd = (const char **)argv + nopt + 1;
		n_cmd = (size_t)(argc - nopt - 1);
	} else if (nopt == argc - 1) {
		fprintf(stderr, "error: exec: no command after \"--\"\n");
		return EXIT_USAGE;
	}
	tty = tty_flag >= 0 ? tty_flag == 1 : isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	ret = ensure_running(c, ns, name, timeout_ms, &container, &spec_cmd);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (!cmd && json_array_size(spec_cmd) > 0) {
		/* spec.command: validated strings (ws_parse). */
		n_cmd = json_array_size(spec_cmd);
		cmd = owned_cmd = calloc(n_cmd, sizeof(*cmd));
		if (!cmd)
			goto out;
		for (size_t i = 0; i < n_cmd; i++)
			cmd[i] = json_string_value(json_array_get(spec_cmd, i));
	}

	r = engine_new(engine_default_host(), &g, &e);
	if (r == 0)
		r = engine_container_inspect(g, container, &info, &e);
	if (r < 0) {
		fprintf(stderr, "error: exec: %s\n", e.msg);
		goto out;
	}
	{
		const json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");
		const char *session = json_string_value(json_object_get(labels,
									EXEC_SESSION_LABEL));
		const char *const *base = cmd ? cmd : default_terminal;
		size_t n_base = cmd ? n_cmd : sizeof(default_terminal) / sizeof(default_terminal[0]);
		size_t k = 0;

		user = json_string_value(json_object_get(labels, EXEC_USER_LABEL));
		/* The image's session program runs the command (absolute path
		 * only: a label is no place for a search). */
		if (session && session[0] != '/')
			session = NULL;
		argvx = calloc(n_base + 1, sizeof(*argvx));
		if (!argvx)
			goto out;
		if (session)
			argvx[k++] = session;
		for (size_t i = 0; i < n_base; i++)
			argvx[k++] = base[i];
		n_argvx = k;
	}
	ws_home_path(ns, home, sizeof(home));
	snprintf(env_home, sizeof(env_home), "HOME=%s", home);
	snprintf(env_term, sizeof(env_term), "TERM=%s",
		 getenv("TERM") && *getenv("TERM") && strlen(getenv("TERM")) < 64 ?
			 getenv("TERM") : "xterm-256color");
	env[0] = env_home;
	env[1] = env_term;
	{
		struct engine_exec_opts o = {
			.cmd = argvx,
			.n_cmd = n_argvx,
			.env = env,
			.n_env = tty ? 2 : 1,
			.user = user,
			.workdir = home,
			.tty = tty,
			.attach_stdin = true,
		};

		r = engine_exec_create(g, container, &o, &id, &e);
	}
	if (r == 0)
		r = engine_exec_start(g, id, tty, &s, &e);
	if (r < 0) {
		fprintf(stderr, "error: exec: %s\n", e.msg);
		goto out;
	}

	/* Signals arrive only inside ppoll: the loop sees them in order with
	 * the input (a resize before the keys typed after it). */
	sigemptyset(&block);
	for (size_t i = 0; i < 4; i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	for (size_t i = 0; i < 4; i++) {
		struct sigaction sa = { .sa_handler = on_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, &sa_old[i]);
	}
	if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;

		cfmakeraw(&raw);
		tio_saved = true;
		atexit(restore_tty);
		tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
	}
	if (tty)
		resize(g, id);
	{
		struct session x = { .g = g, .id = id, .s = s, .tty = tty, .etcd = c,
				     .ns = ns, .name = name };

		r = pump(&x, &waitmask, &e);
	}
	restore_tty();
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &sa_old[i], NULL);
	sigprocmask(SIG_SETMASK, &waitmask, NULL);
	if (r > 0) {
		/* Stopped by a signal: the command goes on in the container. */
		ret = r;
		goto out;
	}
	if (r == 0) {
		int code = 0;

		r = engine_exec_wait(g, id, EXEC_WAIT_MS, &code, &e);
		if (r == 0)
			ret = code;
	}
	if (r < 0)
		fprintf(stderr, "error: exec: %s\n", e.msg);
out:
	free(owned_cmd);
	free(argvx);
	engine_stream_free(s);
	engine_free(g);
	etcd_free(c);
	json_decref(info);
	json_decref(spec_cmd);
	free(container);
	free(id);
	return ret;
}
