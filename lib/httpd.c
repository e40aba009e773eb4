/* httpd — small HTTP endpoints on libmicrohttpd (see httpd.h). */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTPD_MAX_ROUTES 32
#define HTTPD_MAX_BODY (16u * 1024 * 1024)

struct httpd {
	struct MHD_Daemon *mhd;
	int fd;
	int port;
	size_t n;
	struct httpd_route routes[HTTPD_MAX_ROUTES];
};

int httpd_split_listen(const char *addr, char *host, size_t hostlen,
		       char *port, size_t portlen)
{
	const char *colon, *h = addr;
	size_t hl, pl;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - addr);
	}
	pl = strlen(colon + 1);
	if (hl == 0 || hl >= hostlen || pl == 0 || pl > 5 || pl >= portlen ||
	    strspn(colon + 1, "0123456789") != pl || strtol(colon + 1, NULL, 10) > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl + 1);
	return 0;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned int status,
				  const char *type, const char *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version,
			      const char *upload_data, size_t *upload_size,
			      void **con_cls)
{
	struct httpd *h = cls;
	const struct httpd_route *rt = NULL;
	struct buf body;
	int status = 200, r;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		*upload_size = 0;
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				  "method not allowed\n", 19);
	}
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->routes[i].path, url) == 0)
			rt = &h->routes[i];
	if (!rt)
		return queue_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
	buf_init(&body, HTTPD_MAX_BODY);
	r = rt->fn(rt->ud, &body, &status);
	if (r < 0 || status < 100 || status > 599)
		ret = queue_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				 "internal error\n", 15);
	else
		ret = queue_text(c, (unsigned int)status,
				 rt->content_type ? rt->content_type
						  : "text/plain; charset=utf-8",
				 body.data ? body.data : "", body.len);
	buf_free(&body);
	return ret;
}

static void free_routes(struct httpd *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free((char *)h->routes[i].path);
		free((char *)h->routes[i].content_type);
	}
}

int httpd_listen(const char *addr, int *fd_out, int *port_out, struct err *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[8];
	int one = 1, r = 0, g, fd;

	if (httpd_split_listen(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		err_set(e, "listen address \"%s\": must be HOST:PORT or [IPv6]:PORT", addr);
		return -EINVAL;
	}
	g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		err_set(e, "listen address \"%s\": %s", addr, gai_strerror(g));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		err_set(e, "listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	freeaddrinfo(ai);
	if (r < 0)
		return r;
	*fd_out = fd;
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int httpd_start(const char *addr, const struct httpd_route *routes,
		size_t n, struct httpd **out, struct err *e)
{
	struct httpd *h;
	int r;

	if (n > HTTPD_MAX_ROUTES)
		return -E2BIG;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	r = httpd_listen(addr, &h->fd, &h->port, e);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		h->routes[i] = routes[i];
		h->routes[i].path = strdup(routes[i].path);
		h->routes[i].content_type =
			routes[i].content_type ? strdup(routes[i].content_type) : NULL;
		h->n = i + 1;
		if (!h->routes[i].path || (routes[i].content_type && !h->routes[i].content_type)) {
			r = -ENOMEM;
			goto fail;
		}
	}
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
				  NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, h->fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				  MHD_OPTION_END);
	if (!h->mhd) {
		r = -EIO;
		err_set(e, "listen on %s: libmicrohttpd could not start", addr);
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (h->fd >= 0)
		close(h->fd);
	free_routes(h);
	free(h);
	return r;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd); /* closes the listening socket too */
	free_routes(h);
	free(h);
}
