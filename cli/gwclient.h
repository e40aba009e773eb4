/*
 * gwclient — klangkc's client of the gateway (gateway/api.h): the verbs
 * that act inside a workspace (exec, logs, top, export, import) go
 * through it and never touch the engine socket.
 *
 * The gateway is --server URL, else $KLANGK_GATEWAY_URL, else
 * http://127.0.0.1:8990 (what `make run` starts).  The caller signs in
 * with the etcd credentials klangkc uses for etcd (KLANGK_ETCD_USERNAME
 * with KLANGK_ETCD_PASSWORD_FILE or KLANGK_ETCD_PASSWORD), sent as HTTP
 * Basic; without a user name, anonymously (the gateway allows that from
 * loopback while etcd's authentication is off).  An https gateway is
 * verified against KLANGK_GATEWAY_CACERT when set (else the system's CAs).
 */
#ifndef KLANGK_GWCLIENT_H
#define KLANGK_GWCLIENT_H

#include "buf.h"
#include "err.h"
#include "http.h"
#include "wsframe.h"

#include <stdbool.h>
#include <stddef.h>

#define GWCLIENT_DEFAULT_URL "http://127.0.0.1:8990"

struct gwclient;

/* server: --server's value or NULL.  new. */
int gwclient_new(const char *server, struct gwclient **out, struct err *e);
void gwclient_free(struct gwclient *c);

/* "/api/v1/namespaces/NS/workspaces/NAME/SUB" into buf. */
int gwclient_path(const char *ns, const char *name, const char *sub, struct buf *path);

/*
 * A request to path (with its query).  A 2xx body goes to fn (stream) or,
 * without fn, to out; a refusal is -EACCES (401/403), -ENOENT (404),
 * -EBUSY (429), -E2BIG (413) or -EIO, with the gateway's reason in e.
 * upload: a file to PUT (fd, len bytes), or fd -1.
 */
struct gwclient_call {
	const char *method;
	const char *path;
	http_chunk_fn fn;
	void *ud;
	struct buf *out;
	int upload_fd;
	long long upload_len;
	/* Progress on stderr (bytes and rate) when it is a terminal. */
	const char *progress;    /* a label, or NULL for none */
};
int gwclient_do(struct gwclient *c, const struct gwclient_call *call, struct err *e);

/* An exec WebSocket (gateway/exec.h's channels). */
struct gwclient_ws;
int gwclient_ws_open(struct gwclient *c, const char *path, struct gwclient_ws **out,
		     struct err *e);
int gwclient_ws_fd(const struct gwclient_ws *w);
/* Whether bytes came with the upgrade's answer (read before polling). */
bool gwclient_ws_pending(const struct gwclient_ws *w);
/* One binary message: the channel byte and data. */
int gwclient_ws_send(struct gwclient_ws *w, int channel, const void *data, size_t len,
		     struct err *e);
/* Read what is there and hand whole messages to fn: 0, 1 at the end of the
 * connection, -EAGAIN when nothing was there, or fn's non-zero value. */
int gwclient_ws_recv(struct gwclient_ws *w, wsframe_fn fn, void *ud, struct err *e);
void gwclient_ws_free(struct gwclient_ws *w);

#endif
