/*
 * exec — WebSocket exec sessions (see exec.h).
 */
#include "exec.h"

#include "buf.h"
#include "engine.h"
#include "log.h"
#include "wsframe.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXEC_USER_LABEL "io.klangk.workspace.user"
#define EXEC_SESSION_LABEL "io.klangk.workspace.session"
/* How long the exit code may lag behind the end of the output. */
#define EXEC_WAIT_MS 30000
/* The largest message a client may send (keys, pastes, resizes). */
#define EXEC_MAX_MESSAGE (256u * 1024)

/* The terminal: tmux when the image has it and there is a TTY, else a
 * login shell.  (The command itself is fixed text: nothing is spliced in.) */
static const char *const default_terminal[] = {
	"/bin/sh", "-c",
	"if [ -t 0 ] && command -v tmux >/dev/null 2>&1; then "
	"exec tmux new-session -A -s main; fi; "
	"exec \"${SHELL:-/bin/sh}\" -l",
};

struct exec_session {
	struct gw *g;
	struct caller caller;
	char ns[64], name[64];
	struct engine *engine;
	char *id;                 /* the engine's exec id */
	struct engine_stream *s;
	bool tty;
	int sock;
	struct wsframe_rx rx;
	struct engine_demux dm;
	struct buf out;           /* a frame being sent */
	bool acquired;            /* holds one of the user's sessions */
	bool closing;             /* the client sent close */
	char end[512];            /* the status message, once known */
	time_t last_io, last_touch;
	bool io_since_touch;
	void (*done)(void *ud);
	void *ud;
};

void exec_session_free(struct exec_session *s)
{
	if (!s)
		return;
	engine_stream_free(s->s);
	engine_free(s->engine);
	free(s->id);
	wsframe_rx_free(&s->rx);
	buf_free(&s->out);
	if (s->acquired)
		gw_session_release(s->g, s->caller.user);
	caller_clear(&s->caller);
	free(s);
}

/* The argv to run: the request's command, spec.command, or the terminal,
 * behind the image's session program when it names one.  argv: borrowed
 * strings, *n set. */
static int build_argv(const struct exec_req *rq, const struct ws *w, const json_t *labels,
		      const char **argv, size_t max, size_t *n)
{
	const char *session = json_string_value(json_object_get(labels, EXEC_SESSION_LABEL));
	const char *const *base = default_terminal;
	size_t n_base = sizeof(default_terminal) / sizeof(default_terminal[0]), k = 0;

	if (rq->n_cmd) {
		base = rq->cmd;
		n_base = rq->n_cmd;
	} else if (w->n_command) {
		base = (const char *const *)w->command;
		n_base = w->n_command;
	}
	/* Absolute path only: a label is no place for a search. */
	if (session && session[0] != '/')
		session = NULL;
	if (n_base + 1 > max)
		return -E2BIG;
	if (session)
		argv[k++] = session;
	for (size_t i = 0; i < n_base; i++)
		argv[k++] = base[i];
	*n = k;
	return 0;
}

static int create_exec(struct exec_session *s, const struct exec_req *rq,
		       const struct ws *w, const char *container, int *http_status,
		       struct err *e)
{
	const char *argv[EXEC_MAX_ARGS + 1], *env[2], *user;
	char home[160], env_home[200], env_term[96];
	json_t *info = NULL, *labels;
	size_t n = 0;
	int r;

	*http_status = 502;
	r = engine_new(s->g->cfg.engine, &s->engine, e);
	if (r == 0)
		r = engine_container_inspect(s->engine, container, &info, e);
	if (r < 0)
		goto out;
	labels = json_object_get(json_object_get(info, "Config"), "Labels");
	user = json_string_value(json_object_get(labels, EXEC_USER_LABEL));
	r = build_argv(rq, w, labels, argv, EXEC_MAX_ARGS + 1, &n);
	if (r < 0) {
		err_set(e, "a command of at most %d arguments", EXEC_MAX_ARGS);
		*http_status = 400;
		goto out;
	}
	ws_home_path(s->ns, home, sizeof(home));
	snprintf(env_home, sizeof(env_home), "HOME=%s", home);
	snprintf(env_term, sizeof(env_term), "TERM=%s", rq->term[0] ? rq->term : "xterm-256color");
	env[0] = env_home;
	env[1] = env_term;
	{
		struct engine_exec_opts o = {
			.cmd = argv,
			.n_cmd = n,
			.env = env,
			.n_env = rq->tty ? 2 : 1,
			.user = user,
			.workdir = home,
			.tty = rq->tty,
			.attach_stdin = true,
		};

		r = engine_exec_create(s->engine, container, &o, &s->id, e);
	}
	if (r == 0)
		r = engine_exec_start(s->engine, s->id, rq->tty, &s->s, e);
	if (r == 0 && rq->tty && rq->rows && rq->cols)
		engine_exec_resize(s->engine, s->id, rq->rows, rq->cols, e);
out:
	json_decref(info);
	return r;
}

int exec_prepare(struct gw *g, struct caller *c, const struct exec_req *rq,
		 struct exec_session **out, int *http_status, struct err *e)
{
	struct exec_session *s = calloc(1, sizeof(*s));
	struct ws *w = NULL;
	struct status status;
	char container[256];
	int r;

	status_init(&status);
	if (!s)
		return -ENOMEM;
	s->g = g;
	s->sock = -1;
	snprintf(s->ns, sizeof(s->ns), "%s", rq->ns);
	snprintf(s->name, sizeof(s->name), "%s", rq->name);
	s->tty = rq->tty;
	wsframe_rx_init(&s->rx, true, EXEC_MAX_MESSAGE);
	buf_init(&s->out, EXEC_MAX_MESSAGE + 64);
	*http_status = 403;
	r = access_work(c, rq->ns, rq->name, e);
	if (r == -ENOENT)
		*http_status = 404;
	if (r == 0)
		r = access_read(c, rq->ns, rq->name, &w, &status, e);
	if (r < 0)
		goto out;
	*http_status = 409;
	r = access_container(&status, rq->ns, rq->name, true, container, sizeof(container), e);
	if (r < 0)
		goto out;
	*http_status = 429;
	r = gw_session_acquire(g, c->user, e);
	if (r < 0)
		goto out;
	s->acquired = true;
	/* From here the session owns the caller (released with it). */
	s->caller = *c;
	memset(c, 0, sizeof(*c));
	r = create_exec(s, rq, w, container, http_status, e);
	if (r < 0) {
		/* Give the caller back: the failure is answered with it. */
		gw_session_release(g, s->caller.user);
		s->acquired = false;
		*c = s->caller;
		memset(&s->caller, 0, sizeof(s->caller));
		goto out;
	}
	s->last_io = s->last_touch = time(NULL);
out:
	ws_free(w);
	status_clear(&status);
	if (r < 0) {
		exec_session_free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* ---- the session's thread ---- */

/* One frame to the client: channel byte and data (or a control frame
 * when ch < 0). */
static int send_frame(struct exec_session *s, enum wsframe_op op, int ch, const void *data,
		      size_t len)
{
	unsigned char hdr[WSFRAME_HDR_MAX];
	size_t hl = wsframe_header(hdr, op, len + (ch >= 0 ? 1 : 0), NULL);
	unsigned char c = (unsigned char)ch;
	int r;

	buf_reset(&s->out);
	r = buf_append(&s->out, hdr, hl);
	if (r == 0 && ch >= 0)
		r = buf_append(&s->out, &c, 1);
	if (r == 0 && len)
		r = buf_append(&s->out, data, len);
	return r < 0 ? r : gw_write_all(s->sock, s->out.data, s->out.len);
}

/* Output in pieces no larger than a message. */
static int send_output(struct exec_session *s, int ch, const char *data, size_t len)
{
	while (len > 0) {
		size_t k = len > 65536 ? 65536 : len;
		int r = send_frame(s, WSFRAME_BINARY, ch, data, k);

		if (r < 0)
			return r;
		data += k;
		len -= k;
	}
	return 0;
}

static int demux_out(void *ud, int stream, const char *data, size_t len)
{
	return send_output(ud, stream == 2 ? WSEXEC_STDERR : WSEXEC_STDOUT, data, len) < 0;
}

/* The end: a status message and a close frame. */
static void finish(struct exec_session *s, json_t *msg /* stolen */)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	unsigned char code[2] = { WSFRAME_CLOSE_NORMAL >> 8, WSFRAME_CLOSE_NORMAL & 0xff };

	if (text)
		send_frame(s, WSFRAME_BINARY, WSEXEC_STATUS, text, strlen(text));
	send_frame(s, WSFRAME_CLOSE, -1, code, 2);
	free(text);
	json_decref(msg);
}

static json_t *error_msg(const char *reason, const char *why)
{
	return json_pack("{s:s,s:s}", "error", why, "reason", reason);
}

static int on_message(void *ud, enum wsframe_op op, const unsigned char *data, size_t len)
{
	struct exec_session *s = ud;
	struct err e = { "" };

	switch (op) {
	case WSFRAME_CLOSE:
		s->closing = true;
		return 1;
	case WSFRAME_PING:
		return send_frame(s, WSFRAME_PONG, -1, data, len) < 0 ? -EPIPE : 0;
	case WSFRAME_PONG:
	case WSFRAME_TEXT:
	case WSFRAME_CONT:
		return 0;
	case WSFRAME_BINARY:
		break;
	}
	if (len == 0)
		return 0;
	s->last_io = time(NULL);
	s->io_since_touch = true;
	switch (data[0]) {
	case WSEXEC_STDIN:
		return engine_stream_send(s->s, data + 1, len - 1, &e) < 0 ? -EPIPE : 0;
	case WSEXEC_RESIZE: {
		json_t *j = json_loadb((const char *)data + 1, len - 1, 0, NULL);
		json_int_t rows = json_integer_value(json_object_get(j, "rows"));
		json_int_t cols = json_integer_value(json_object_get(j, "cols"));

		if (s->tty && rows > 0 && cols > 0 && rows < 10000 && cols < 10000)
			engine_exec_resize(s->engine, s->id, (unsigned)rows, (unsigned)cols, &e);
		json_decref(j);
		return 0;
	}
	case WSEXEC_CLOSE_STDIN:
		if (!s->tty)
			engine_stream_close_write(s->s);
		return 0;
	default:
		return 0; /* unknown channels are ignored, for later versions */
	}
}

/* Activity while bytes flow, and the session's right with it.  Returns
 * the message that ends the session, or NULL. */
static json_t *keep_alive(struct exec_session *s, time_t now)
{
	struct err e = { "" };
	int r;

	if (now - s->last_io >= s->g->cfg.idle_s) {
		char why[128];

		snprintf(why, sizeof(why), "no input or output for %ld s: session closed",
			 s->g->cfg.idle_s);
		return error_msg("Idle", why);
	}
	if (!s->io_since_touch || now - s->last_touch < EXEC_TOUCH_S)
		return NULL;
	r = access_work(&s->caller, s->ns, s->name, &e);
	s->last_touch = now;
	s->io_since_touch = false;
	if (r == -EACCES || r == -ENOENT)
		return error_msg(r == -EACCES ? "Forbidden" : "NotFound", e.msg);
	if (r < 0)
		log_warn("recording activity failed", "workspace", s->name, "namespace", s->ns,
			 "error", e.msg, NULL);
	return NULL;
}

/* The exec's exit code once its output has ended. */
static json_t *exit_msg(struct exec_session *s)
{
	struct err e = { "" };
	int code = 0, r = engine_exec_wait(s->engine, s->id, EXEC_WAIT_MS, &code, &e);

	if (r < 0)
		return error_msg("EngineError", e.msg);
	return json_pack("{s:i}", WSEXEC_EXIT, code);
}

static long poll_timeout_ms(const struct exec_session *s, time_t now)
{
	time_t next = s->last_io + s->g->cfg.idle_s;

	if (s->io_since_touch && s->last_touch + EXEC_TOUCH_S < next)
		next = s->last_touch + EXEC_TOUCH_S;
	return next <= now ? 0 : (long)(next - now) * 1000;
}

/* Pump until the exec's output ends, the client goes, or a limit ends the
 * session.  Returns the status message to send (NULL: send none). */
static json_t *pump(struct exec_session *s)
{
	static __thread char buf[32768];

	for (;;) {
		struct pollfd fds[3] = {
			{ .fd = engine_stream_fd(s->s), .events = POLLIN },
			{ .fd = s->sock, .events = POLLIN },
			{ .fd = s->g->wake[0], .events = POLLIN },
		};
		bool from_engine = engine_stream_pending(s->s);
		time_t now = time(NULL);
		json_t *end = keep_alive(s, now);
		struct err e = { "" };
		size_t n = 0;
		int r;

		if (end)
			return end;
		if (!from_engine) {
			int k = poll(fds, 3, (int)poll_timeout_ms(s, now));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return error_msg("InternalError", strerror(errno));
			if (fds[2].revents)
				return error_msg("ShuttingDown", "the gateway is stopping");
			from_engine = fds[0].revents != 0;
		} else {
			fds[1].revents = 0;
		}
		if (from_engine) {
			r = engine_stream_recv(s->s, buf, sizeof(buf), &n, &e);
			if (r == -EAGAIN)
				continue;
			if (r < 0)
				return error_msg("EngineError", e.msg);
			if (n == 0)
				return exit_msg(s);
			s->last_io = time(NULL);
			s->io_since_touch = true;
			r = s->tty ? send_output(s, WSEXEC_STDOUT, buf, n) :
				     engine_demux_feed(&s->dm, buf, n, demux_out, s);
			if (r < 0)
				return NULL; /* the client is gone */
		}
		if (fds[1].revents) {
			ssize_t k = recv(s->sock, buf, sizeof(buf), 0);

			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0)
				return NULL; /* the client is gone */
			r = wsframe_rx_feed(&s->rx, buf, (size_t)k, on_message, s);
			if (r == 1 && s->closing)
				return json_pack("{s:s}", "closed", "by the client");
			if (r == -EPROTO || r == -EMSGSIZE)
				return error_msg("BadRequest", r == -EPROTO ? "malformed WebSocket frame" :
						 "message too large");
			if (r < 0)
				return NULL;
		}
	}
}

static void *session_main(void *arg)
{
	struct exec_session *s = arg;
	json_t *end;

	log_info("exec session opened", "user", s->caller.user, "namespace", s->ns,
		 "workspace", s->name, NULL);
	end = pump(s);
	if (end)
		finish(s, end);
	log_info("exec session closed", "user", s->caller.user, "namespace", s->ns,
		 "workspace", s->name, NULL);
	if (s->done)
		s->done(s->ud);
	exec_session_free(s);
	return NULL;
}

int exec_start(struct exec_session *s, int sock, const char *extra, size_t n_extra,
	       void (*done)(void *ud), void *ud)
{
	pthread_t t;
	pthread_attr_t a;
	int r;

	s->sock = sock;
	s->done = done;
	s->ud = ud;
	if (n_extra) {
		r = wsframe_rx_feed(&s->rx, extra, n_extra, on_message, s);
		if (r < 0)
			return r;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &a, session_main, s);
	pthread_attr_destroy(&a);
	return r;
}
