/* http — libcurl wrapper (see http.h). */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct http_client {
	CURL *curl;
};

struct xfer {
	const struct http_request *req;
	CURL *h;
	struct buf *body;
	int too_big;
	int stopped;
	int streaming;  /* -1 unknown yet, 0 collecting, 1 to on_chunk */
};

int http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int http_client_new(struct http_client **out)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (x->req->cancel && *x->req->cancel) {
		x->stopped = 1;
		return 0;
	}
	if (x->streaming < 0) {
		long code = 0;

		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		x->streaming = x->req->on_chunk &&
			       (!x->req->chunk_2xx_only || (code >= 200 && code < 300));
	}
	if (x->streaming) {
		if (x->req->on_chunk(x->req->ud, ptr, n) != 0) {
			x->stopped = 1;
			return 0;
		}
		return n;
	}
	if (buf_append(x->body, ptr, n) < 0) {
		x->too_big = 1;
		return 0;
	}
	return n;
}

/* The blank line that ends a header block: tell on_response about the
 * final (non-1xx) response. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if ((n == 2 && ptr[0] == '\r' && ptr[1] == '\n') || (n == 1 && ptr[0] == '\n')) {
		long code = 0;

		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200)
			x->req->on_response(x->req->ud, code);
	}
	return n;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	long n;

	if (x->req->cancel && *x->req->cancel) {
		x->stopped = 1;
		return CURL_READFUNC_ABORT;
	}
	n = x->req->on_read(x->req->ud, ptr, size * nmemb);
	if (n < 0) {
		x->stopped = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct xfer *x = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (x->req->cancel && *x->req->cancel) {
		x->stopped = 1;
		return 1;
	}
	return 0;
}

static int map_curl_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int http_do(struct http_client *c, const struct http_request *r, long *status,
	    struct buf *body, struct err *e)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char ctype[128];
	struct buf scratch;
	struct xfer x = { .req = r, .h = c->curl, .body = body, .streaming = -1 };
	CURL *h = c->curl;
	CURLcode rc;
	int ret = 0;
	long code = 0;

	buf_init(&scratch, r->max_body);
	if (!x.body)
		x.body = &scratch;
	if (r->max_body)
		x.body->max = r->max_body;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 r->connect_timeout_ms ? r->connect_timeout_ms : 3000L);
	if (r->timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	if (r->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, r->unix_socket);
	/* Only plain HTTP(S); never follow redirects to somewhere else. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (r->tls) {
		if (r->tls->cacert)
			curl_easy_setopt(h, CURLOPT_CAINFO, r->tls->cacert);
		if (r->tls->cert)
			curl_easy_setopt(h, CURLOPT_SSLCERT, r->tls->cert);
		if (r->tls->key)
			curl_easy_setopt(h, CURLOPT_SSLKEY, r->tls->key);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (r->on_read) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload_len);
		/* CURLOPT_UPLOAD means PUT; CUSTOMREQUEST (above) keeps the
		 * caller's method. */
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 r->content_type ? r->content_type : "application/octet-stream");
		hdrs = curl_slist_append(hdrs, ctype);
	} else if (r->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->body_len);
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 r->content_type ? r->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ctype);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	/* No "Expect: 100-continue" round trip for our small bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (r->auth_header) {
		struct buf ah;

		buf_init(&ah, 8192);
		if (buf_printf(&ah, "Authorization: %s", r->auth_header) == 0)
			hdrs = curl_slist_append(hdrs, ah.data);
		buf_free(&ah);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if (r->on_response) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	}
	if (r->cancel) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	}

	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (x.too_big) {
			err_set(e, "%s %s: response larger than %zu bytes",
				r->method, r->url, x.body->max);
			ret = -E2BIG;
		} else if (x.stopped) {
			ret = -ECANCELED;
			err_set(e, "%s %s: cancelled", r->method, r->url);
		} else {
			ret = map_curl_error(rc);
			err_set(e, "%s %s%s%s: %s", r->method, r->url,
				r->unix_socket ? " via " : "",
				r->unix_socket ? r->unix_socket : "",
				errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
out:
	curl_slist_free_all(hdrs);
	buf_free(&scratch);
	return ret;
}
