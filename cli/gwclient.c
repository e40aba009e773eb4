/*
 * gwclient — klangkc's client of the gateway (see gwclient.h).
 */
#include "gwclient.h"

#include "etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GWC_HEAD_MAX (16u * 1024)
#define GWC_MAX_MESSAGE (1024u * 1024)

struct gwclient {
	char base[2048];          /* without a trailing slash */
	char *auth;               /* "Basic ...", or NULL; wiped on free */
	struct http_tls tls;
	struct http_client *http;
};

int gwclient_new(const char *server, struct gwclient **out, struct err *e)
{
	const char *url = server && *server ? server : getenv("KLANGK_GATEWAY_URL");
	struct etcd_opts o = etcd_opts_env(NULL);
	struct gwclient *c = calloc(1, sizeof(*c));
	char *pw = NULL;
	int r = 0;

	if (!c)
		return -ENOMEM;
	if (!url || !*url)
		url = GWCLIENT_DEFAULT_URL;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		err_set(e, "gateway URL \"%s\": must start with http:// or https://", url);
		r = -EINVAL;
		goto out;
	}
	snprintf(c->base, sizeof(c->base), "%s", url);
	while (strlen(c->base) > 8 && c->base[strlen(c->base) - 1] == '/')
		c->base[strlen(c->base) - 1] = '\0';
	c->tls.cacert = getenv("KLANGK_GATEWAY_CACERT");
	if (c->tls.cacert && !*c->tls.cacert)
		c->tls.cacert = NULL;
	if (o.username) {
		size_t ul = strlen(o.username), pl, n;
		char *plain;

		r = etcd_opts_password(&o, &pw, e);
		if (r == -ENOENT) {
			err_set(e, "etcd user %s: no password (set KLANGK_ETCD_PASSWORD_FILE or "
				   "KLANGK_ETCD_PASSWORD)", o.username);
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
		pl = strlen(pw);
		plain = malloc(ul + pl + 2);
		c->auth = malloc(6 + 4 * ((ul + pl + 1 + 2) / 3) + 1);
		if (!plain || !c->auth) {
			free(plain);
			r = -ENOMEM;
			goto out;
		}
		n = (size_t)snprintf(plain, ul + pl + 2, "%s:%s", o.username, pw);
		memcpy(c->auth, "Basic ", 6);
		EVP_EncodeBlock((unsigned char *)c->auth + 6, (unsigned char *)plain, (int)n);
		OPENSSL_cleanse(plain, n);
		free(plain);
	}
	r = http_client_new(&c->http);
out:
	if (pw) {
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	}
	if (r < 0) {
		gwclient_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void gwclient_free(struct gwclient *c)
{
	if (!c)
		return;
	if (c->auth) {
		OPENSSL_cleanse(c->auth, strlen(c->auth));
		free(c->auth);
	}
	http_client_free(c->http);
	free(c);
}

int gwclient_path(const char *ns, const char *name, const char *sub, struct buf *path)
{
	return buf_printf(path, "/api/v1/namespaces/%s/workspaces/%s/%s", ns, name, sub);
}

/* The gateway's reason for a refusal (its JSON body) into e. */
static int refusal(long status, const struct buf *body, const char *url, struct err *e)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	const char *why = json_string_value(json_object_get(j, "error"));

	if (why)
		err_set(e, "%s", why);
	else
		err_set(e, "gateway %s: HTTP %ld", url, status);
	json_decref(j);
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EAGAIN;
	case 413:
		return -E2BIG;
	case 429:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* ---- progress ---- */

struct progress {
	const char *label;
	bool on;
	long long bytes, total;
	struct timespec t0, last;
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_show(struct progress *p, bool final)
{
	struct timespec now;
	double s, mib = 1024.0 * 1024;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && since(&p->last, &now) < 0.25)
		return;
	p->last = now;
	s = since(&p->t0, &now);
	if (p->total > 0)
		fprintf(stderr, "\r%s: %.1f of %.1f MiB, %.1f MiB/s   ", p->label, p->bytes / mib,
			p->total / mib, s > 0 ? p->bytes / mib / s : 0);
	else
		fprintf(stderr, "\r%s: %.1f MiB, %.1f MiB/s   ", p->label, p->bytes / mib,
			s > 0 ? p->bytes / mib / s : 0);
	if (final)
		fputc('\n', stderr);
}

struct xfer {
	const struct gwclient_call *call;
	struct progress p;
	int fd;
};

static int on_chunk(void *ud, const char *data, size_t len)
{
	struct xfer *x = ud;

	x->p.bytes += (long long)len;
	progress_show(&x->p, false);
	return x->call->fn(x->call->ud, data, len);
}

static long on_read(void *ud, char *buf, size_t len)
{
	struct xfer *x = ud;

	for (;;) {
		ssize_t k = read(x->fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k > 0) {
			x->p.bytes += k;
			progress_show(&x->p, false);
		}
		return k < 0 ? -1 : (long)k;
	}
}

int gwclient_do(struct gwclient *c, const struct gwclient_call *call, struct err *e)
{
	struct buf url, body;
	struct xfer x = { .call = call, .fd = call->upload_fd };
	long status = 0;
	int r;

	buf_init(&url, 16384);
	buf_init(&body, 1024 * 1024);
	x.p.label = call->progress;
	x.p.on = call->progress && isatty(STDERR_FILENO);
	x.p.total = call->upload_fd >= 0 ? call->upload_len : 0;
	clock_gettime(CLOCK_MONOTONIC, &x.p.t0);
	x.p.last = x.p.t0;
	r = buf_printf(&url, "%s%s", c->base, call->path);
	if (r == 0) {
		struct http_request hr = {
			.method = call->method,
			.url = url.data,
			.auth_header = c->auth,
			.tls = c->tls.cacert ? &c->tls : NULL,
			.content_type = call->upload_fd >= 0 ? "application/gzip" : NULL,
			.on_chunk = call->fn ? on_chunk : NULL,
			.ud = &x,
			.chunk_2xx_only = 1,
			.max_body = call->out ? call->out->max : 1024 * 1024,
			.on_read = call->upload_fd >= 0 ? on_read : NULL,
			.upload_len = call->upload_len,
		};

		r = http_do(c->http, &hr, &status, call->fn ? &body : (call->out ? call->out : &body),
			    e);
		if (r == -ECONNREFUSED)
			err_set(e, "cannot reach the gateway at %s (is klangk-gateway running? "
				   "--server or KLANGK_GATEWAY_URL)", c->base);
	}
	if (x.p.on && x.p.bytes)
		progress_show(&x.p, true);
	if (r == 0 && (status < 200 || status >= 300))
		r = refusal(status, call->fn || !call->out ? &body : call->out, url.data, e);
	buf_free(&url);
	buf_free(&body);
	return r;
}

/* ---- WebSocket ---- */

struct gwclient_ws {
	CURL *h;
	curl_socket_t fd;
	struct wsframe_rx rx;
	struct buf out;
	char *pend;               /* bytes that came with the response head */
	size_t pend_len;
};

int gwclient_ws_fd(const struct gwclient_ws *w)
{
	return (int)w->fd;
}

bool gwclient_ws_pending(const struct gwclient_ws *w)
{
	return w->pend != NULL;
}

void gwclient_ws_free(struct gwclient_ws *w)
{
	if (!w)
		return;
	if (w->h)
		curl_easy_cleanup(w->h);
	wsframe_rx_free(&w->rx);
	buf_free(&w->out);
	free(w->pend);
	free(w);
}

static int wait_fd(curl_socket_t fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int k;

	do {
		k = poll(&p, 1, ms);
	} while (k < 0 && errno == EINTR);
	return k < 0 ? -errno : k == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct gwclient_ws *w, const char *p, size_t len, struct err *e)
{
	while (len > 0) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(w->h, p, len, &n);

		if (rc == CURLE_AGAIN) {
			if (wait_fd(w->fd, POLLOUT, 60000) < 0) {
				err_set(e, "gateway: cannot send");
				return -ETIMEDOUT;
			}
			continue;
		}
		if (rc != CURLE_OK) {
			err_set(e, "gateway: send: %s", curl_easy_strerror(rc));
			return -EPIPE;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* The response head (and what follows it so far) into b. */
static int read_head(struct gwclient_ws *w, struct buf *b, size_t *head_len, struct err *e)
{
	char chunk[4096];

	for (;;) {
		size_t n = 0;
		CURLcode rc = curl_easy_recv(w->h, chunk, sizeof(chunk), &n);
		const char *end;

		if (rc == CURLE_AGAIN) {
			if (wait_fd(w->fd, POLLIN, 60000) < 0) {
				err_set(e, "gateway: no answer");
				return -ETIMEDOUT;
			}
			continue;
		}
		if (rc != CURLE_OK || n == 0) {
			err_set(e, "gateway: the connection closed before an answer");
			return -ECONNRESET;
		}
		if (buf_append(b, chunk, n) < 0) {
			err_set(e, "gateway: answer head too long");
			return -E2BIG;
		}
		end = strstr(b->data, "\r\n\r\n");
		if (end) {
			*head_len = (size_t)(end - b->data) + 4;
			return 0;
		}
	}
}

/* A refused upgrade: the JSON body after the head (Content-Length). */
static int refused_upgrade(struct gwclient_ws *w, long status, struct buf *b, size_t head_len,
			   const char *url, struct err *e)
{
	const char *cl = strcasestr(b->data, "\r\ncontent-length:");
	size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
	struct buf body;
	int r;

	while (want <= GWC_HEAD_MAX && b->len - head_len < want) {
		char chunk[4096];
		size_t n = 0;
		CURLcode rc = curl_easy_recv(w->h, chunk, sizeof(chunk), &n);

		if (rc == CURLE_AGAIN) {
			if (wait_fd(w->fd, POLLIN, 10000) < 0)
				break;
			continue;
		}
		if (rc != CURLE_OK || n == 0 || buf_append(b, chunk, n) < 0)
			break;
	}
	buf_init(&body, 0);
	buf_append(&body, b->data + head_len, b->len - head_len);
	r = refusal(status, &body, url, e);
	buf_free(&body);
	return r;
}

int gwclient_ws_open(struct gwclient *c, const char *path, struct gwclient_ws **out,
		     struct err *e)
{
	struct gwclient_ws *w = calloc(1, sizeof(*w));
	unsigned char nonce[16];
	char key[25], accept[29], hostport[512];
	struct buf req, head, url;
	const char *host, *slash;
	size_t head_len = 0;
	long status = 0;
	CURLcode rc;
	int r;

	buf_init(&req, 64 * 1024);
	buf_init(&head, GWC_HEAD_MAX + 4096);
	buf_init(&url, 16384);
	if (!w || !(w->h = curl_easy_init()) || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		r = -ENOMEM;
		goto out;
	}
	wsframe_rx_init(&w->rx, false, GWC_MAX_MESSAGE);
	buf_init(&w->out, GWC_MAX_MESSAGE + 64);
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	wsframe_accept_key(key, accept);
	host = strstr(c->base, "://") + 3;
	slash = strchr(host, '/');
	snprintf(hostport, sizeof(hostport), "%.*s", slash ? (int)(slash - host) : (int)strlen(host),
		 host);
	buf_printf(&url, "%s%s", c->base, path);
	/* libcurl connects (TLS included) and hands the connection over; the
	 * upgrade request is written by hand, as engine_exec_start does. */
	curl_easy_setopt(w->h, CURLOPT_URL, c->base);
	curl_easy_setopt(w->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->tls.cacert)
		curl_easy_setopt(w->h, CURLOPT_CAINFO, c->tls.cacert);
	rc = curl_easy_perform(w->h);
	if (rc != CURLE_OK) {
		err_set(e, "cannot reach the gateway at %s: %s (is klangk-gateway running? "
			   "--server or KLANGK_GATEWAY_URL)", c->base, curl_easy_strerror(rc));
		r = -ECONNREFUSED;
		goto out;
	}
	if (curl_easy_getinfo(w->h, CURLINFO_ACTIVESOCKET, &w->fd) != CURLE_OK ||
	    w->fd == CURL_SOCKET_BAD) {
		err_set(e, "gateway: no socket");
		r = -EIO;
		goto out;
	}
	r = buf_printf(&req,
		       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: klangkc\r\n"
		       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
		       path, hostport, key, c->auth ? "Authorization: " : "",
		       c->auth ? c->auth : "", c->auth ? "\r\n" : "");
	if (r == 0)
		r = send_all(w, req.data, req.len, e);
	if (r == 0)
		r = read_head(w, &head, &head_len, e);
	if (r < 0)
		goto out;
	if (sscanf(head.data, "HTTP/1.%*c %ld", &status) != 1) {
		err_set(e, "gateway: not an HTTP answer");
		r = -EPROTO;
		goto out;
	}
	if (status != 101) {
		r = refused_upgrade(w, status, &head, head_len, url.data, e);
		goto out;
	}
	if (!strstr(head.data, accept)) {
		err_set(e, "gateway: wrong Sec-WebSocket-Accept");
		r = -EPROTO;
		goto out;
	}
	if (head.len > head_len) {
		w->pend_len = head.len - head_len;
		w->pend = malloc(w->pend_len);
		if (!w->pend) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(w->pend, head.data + head_len, w->pend_len);
	}
out:
	if (req.data)
		OPENSSL_cleanse(req.data, req.len);
	buf_free(&req);
	buf_free(&head);
	buf_free(&url);
	if (r < 0) {
		gwclient_ws_free(w);
		return r;
	}
	*out = w;
	return 0;
}

int gwclient_ws_send(struct gwclient_ws *w, int channel, const void *data, size_t len,
		     struct err *e)
{
	unsigned char mask[4], hdr[WSFRAME_HDR_MAX], ch = (unsigned char)channel;
	size_t hl;
	int r;

	if (RAND_bytes(mask, 4) != 1)
		return -EIO;
	hl = wsframe_header(hdr, WSFRAME_BINARY, len + 1, mask);
	buf_reset(&w->out);
	if ((r = buf_append(&w->out, hdr, hl)) < 0 || (r = buf_append(&w->out, &ch, 1)) < 0 ||
	    (len && (r = buf_append(&w->out, data, len)) < 0))
		return r;
	wsframe_mask((unsigned char *)w->out.data + hl, len + 1, mask, 0);
	return send_all(w, w->out.data, w->out.len, e);
}

int gwclient_ws_recv(struct gwclient_ws *w, wsframe_fn fn, void *ud, struct err *e)
{
	char buf[32768];
	size_t n = 0;
	CURLcode rc;
	int r;

	if (w->pend) {
		r = wsframe_rx_feed(&w->rx, w->pend, w->pend_len, fn, ud);
		free(w->pend);
		w->pend = NULL;
		if (r != 0)
			return r;
	}
	rc = curl_easy_recv(w->h, buf, sizeof(buf), &n);
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	if (rc != CURLE_OK) {
		err_set(e, "gateway: receive: %s", curl_easy_strerror(rc));
		return -EIO;
	}
	if (n == 0)
		return 1;
	r = wsframe_rx_feed(&w->rx, buf, n, fn, ud);
	if (r == -EPROTO || r == -EMSGSIZE)
		err_set(e, "gateway: malformed WebSocket stream");
	return r;
}
