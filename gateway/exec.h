/*
 * exec — a process in a workspace's container, over a WebSocket.
 *
 * The messages are binary frames whose first byte is a channel, as in
 * Kubernetes' channel.k8s.io protocol:
 *
 *   client -> gateway   0 stdin bytes
 *                       4 resize: JSON {"rows": R, "cols": C}
 *                       5 end of stdin (without a TTY: the command reads EOF)
 *   gateway -> client   1 stdout bytes (with a TTY: the terminal's output)
 *                       2 stderr bytes
 *                       3 the end: JSON {"exitCode": N} or {"error": "why",
 *                         "reason": "..."}; a close frame follows
 *
 * Without a command the session opens the workspace's terminal:
 * spec.command when set, else tmux's session "main" (attached again by
 * every exec, so the owner and the members share it) running a login
 * shell, or only a login shell without tmux or a TTY.  It runs as the
 * image's workspace user (label io.klangk.workspace.user) in /home/<ns>.
 *
 * A session is activity: the caller's activity key is written (as the
 * caller) at most every EXEC_TOUCH_S seconds while bytes flow; when etcd
 * refuses that write (the member was removed) the session ends.  A session
 * silent for the gateway's idle time ends too.
 */
#ifndef KLANGK_EXEC_H
#define KLANGK_EXEC_H

#include "access.h"
#include "gw.h"
#include "wsframe.h"

#include <stdbool.h>
#include <stddef.h>

#define EXEC_TOUCH_S 30
#define EXEC_MAX_ARGS 256


struct exec_req {
	char ns[64];
	char name[64];
	bool tty;
	const char *cmd[EXEC_MAX_ARGS];  /* borrowed for exec_prepare */
	size_t n_cmd;                    /* 0: the terminal */
	unsigned rows, cols;             /* 0: leave the engine's default */
	char term[64];                   /* TERM with a TTY ("" = xterm-256color) */
};

struct exec_session;

/*
 * Check the caller's work right, find the workspace's running container
 * and create and start the exec in it.  c is stolen on success.  On
 * failure *http_status says how to answer (403, 404, 409, 429, 502) and
 * e says why.  out: new; run it with exec_start or free it.
 */
int exec_prepare(struct gw *g, struct caller *c, const struct exec_req *rq,
		 struct exec_session **out, int *http_status, struct err *e);

/*
 * Serve the session on sock (the upgraded connection; extra: bytes the
 * client sent already) in a thread of its own, which frees the session
 * and calls done(ud, sock) at its end.  On failure (no thread) the caller
 * still owns s.
 */
int exec_start(struct exec_session *s, int sock, const char *extra, size_t n_extra,
	       void (*done)(void *ud), void *ud);

void exec_session_free(struct exec_session *s);

#endif
