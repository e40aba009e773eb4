/*
 * klangkc exec — a terminal, or one command, in a workspace's container,
 * through the gateway (cli/gwclient.h, gateway/exec.h): klangkc needs no
 * engine socket, only the caller's etcd credentials.
 *
 * Without a command it opens the workspace's terminal: spec.command when
 * set, else a tmux session "main" (attached again on every exec, so a
 * dropped connection loses nothing, and the owner and the members who
 * work in it share it) running a login shell, or only a login shell when
 * the image has no tmux or there is no terminal.  It runs as the image's
 * workspace user in the home, /home/<namespace>.
 *
 * With a TTY (stdin is a terminal, or -t) the local terminal is put in raw
 * mode and restored on every way out, and its size follows SIGWINCH;
 * without one, stdout and stderr stay apart and the end of stdin reaches
 * the command.  klangkc exits with the command's exit status.
 *
 * An exec is activity: klangkc records it before the exec (which starts a
 * workspace stopped for idleness; exec waits for it to run), and the
 * gateway records it, as the caller, while bytes flow.
 */
#include "cli.h"

#include "touch.h"

#include "gwclient.h"

#include <curl/curl.h>
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

struct session {
	struct gwclient_ws *w;
	bool tty;
	bool ended;
	int code;              /* the exit code, or EXIT_FAIL with why */
	char why[1024];
};

static int send_resize(struct session *x, struct err *e)
{
	struct winsize ws;
	char msg[64];

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || !ws.ws_row || !ws.ws_col)
		return 0;
	snprintf(msg, sizeof(msg), "{\"rows\":%u,\"cols\":%u}", ws.ws_row, ws.ws_col);
	return gwclient_ws_send(x->w, WSEXEC_RESIZE, msg, strlen(msg), e);
}

/* A message from the gateway: output, or the end. */
static int on_message(void *ud, enum wsframe_op op, const unsigned char *data, size_t len)
{
	struct session *x = ud;

	if (op == WSFRAME_CLOSE)
		return 1;
	if (op != WSFRAME_BINARY || len == 0)
		return 0;
	switch (data[0]) {
	case WSEXEC_STDOUT:
	case WSEXEC_STDERR:
		return cli_write_all(data[0] == WSEXEC_STDERR ? STDERR_FILENO : STDOUT_FILENO,
				     (const char *)data + 1, len - 1) < 0 ? -EPIPE : 0;
	case WSEXEC_STATUS: {
		json_t *j = json_loadb((const char *)data + 1, len - 1, 0, NULL);
		const json_t *code = json_object_get(j, WSEXEC_EXIT);
		const char *why = json_string_value(json_object_get(j, "error"));

		x->ended = true;
		x->code = json_is_integer(code) ? (int)json_integer_value(code) : EXIT_FAIL;
		snprintf(x->why, sizeof(x->why), "%s", why ? why : json_is_integer(code) ? "" :
			 "the session ended without an exit status");
		json_decref(j);
		return 1;
	}
	default:
		return 0;
	}
}

/* Copy stdin to the session and its output to stdout/stderr until the
 * gateway sends the end (0), a signal stops us (128 + signal), or an
 * error. */
static int pump(struct session *x, const sigset_t *waitmask, struct err *e)
{
	static char buf[32768];
	bool in_open = true;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = gwclient_ws_fd(x->w), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool readable = gwclient_ws_pending(x->w);
		int r;

		if (got_stop)
			return 128 + got_stop;
		if (got_winch) {
			/* Before any input that follows it. */
			got_winch = 0;
			if (x->tty && (r = send_resize(x, e)) < 0)
				return r;
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
			r = gwclient_ws_recv(x->w, on_message, x, e);
			if (r == 1 && x->ended)
				return 0;
			if (r == 1) {
				err_set(e, "the gateway closed the session");
				return -ECONNRESET;
			}
			if (r < 0 && r != -EAGAIN)
				return r;
		}
		if (in_open && fds[1].revents) {
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

			if (k < 0 && errno == EINTR)
				continue;
			if (k > 0) {
				r = gwclient_ws_send(x->w, WSEXEC_STDIN, buf, (size_t)k, e);
				if (r < 0)
					return r;
			} else {
				/* End of input: the command reads end of file. */
				in_open = false;
				if (!x->tty && (r = gwclient_ws_send(x->w, WSEXEC_CLOSE_STDIN, "", 0, e)) < 0)
					return r;
			}
		}
	}
}

/* The exec's path and query: tty, size, TERM and the command. */
static int exec_path(const char *ns, const char *name, bool tty, const char **cmd,
		     size_t n_cmd, struct buf *p)
{
	const char *term = getenv("TERM");
	struct winsize ws;
	int r = gwclient_path(ns, name, "exec", p);

	if (r == 0)
		r = buf_puts(p, tty ? "?tty=1" : "?tty=0");
	if (r == 0 && tty && isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_row && ws.ws_col)
		r = buf_printf(p, "&rows=%u&cols=%u", ws.ws_row, ws.ws_col);
	if (r == 0 && tty && term && *term && strlen(term) < 64) {
		char *t = curl_easy_escape(NULL, term, 0);

		r = t ? buf_printf(p, "&term=%s", t) : -ENOMEM;
		curl_free(t);
	}
	for (size_t i = 0; r == 0 && i < n_cmd; i++) {
		char *a = curl_easy_escape(NULL, cmd[i], 0);

		r = a ? buf_printf(p, "&cmd=%s", a) : -ENOMEM;
		curl_free(a);
	}
	return r;
}

/* Make sure the workspace runs: its activity is recorded first (which
 * starts one stopped for idleness), then wait for Ready. */
static int ensure_running(struct etcd *c, const char *ns, const char *name,
			  long timeout_ms)
{
	struct err e = { "" };
	json_t *o = NULL;
	struct status st;
	int r, ret = EXIT_OK;

	r = touch_workspace(c, ns, name, &e);
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
	CLI_OPT_SERVER,
	CLIOPT_HELP,
	CLIOPT_END,
};

int verb_exec(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = cli_opts_exec };
	const char *ns_flag = NULL, *ns, *name, *server = NULL;
	const char **cmd = NULL;
	size_t n_cmd = 0;
	int tty_flag = -1, opt, nopt = argc, ret = EXIT_FAIL, r;
	long timeout_ms = 60000;
	struct etcd *c = NULL;
	struct gwclient *gc = NULL;
	struct gwclient_ws *w = NULL;
	struct buf path;
	struct err e = { "" };
	bool tty;
	sigset_t block, waitmask;
	struct sigaction sa_old[4];
	static const int sigs[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT };

	buf_init(&path, 1024 * 1024);
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
		case CLI_KEY_SERVER:
			server = optarg;
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
	ret = ensure_running(c, ns, name, timeout_ms);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	/* The gateway runs spec.command (or the terminal) when no command
	 * is given, as the workspace's user, and records the activity. */
	r = gwclient_new(server, &gc, &e);
	if (r == 0)
		r = exec_path(ns, name, tty, cmd, n_cmd, &path);
	if (r == 0)
		r = gwclient_ws_open(gc, path.data, &w, &e);
	if (r < 0) {
		ret = cli_fail("exec", r, &e);
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
	{
		struct session x = { .w = w, .tty = tty };

		r = pump(&x, &waitmask, &e);
		restore_tty();
		for (size_t i = 0; i < 4; i++)
			sigaction(sigs[i], &sa_old[i], NULL);
		sigprocmask(SIG_SETMASK, &waitmask, NULL);
		if (r > 0) {
			/* Stopped by a signal: the command goes on in the container. */
			ret = r;
		} else if (r == 0 && x.why[0]) {
			fprintf(stderr, "error: exec: %s\n", x.why);
			ret = EXIT_FAIL;
		} else if (r == 0) {
			ret = x.code;
		} else {
			fprintf(stderr, "error: exec: %s\n", e.msg);
		}
	}
out:
	buf_free(&path);
	gwclient_ws_free(w);
	gwclient_free(gc);
	etcd_free(c);
	return ret;
}
