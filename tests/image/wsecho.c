/*
 * wsecho — the test image's echo server (tests only), built statically by
 * tests/bed.sh into the busybox-static image and started by serve.sh on
 * container port 8004.
 *
 *   - A WebSocket handshake (Upgrade: websocket) is accepted (RFC 6455) and
 *     every data frame is echoed back unmasked with the same opcode and FIN
 *     bit; ping gets pong; close is answered with close.
 *   - A request for a path ending in /drip gets the headers and a first
 *     line "first" at once, then nothing more until the client goes away
 *     (at most 60 s): a test sees whether the proxy passes a response on
 *     as it comes (no response buffering).
 *   - Any other request gets 200 with a body of one line
 *       klangk-echo workspace=<KLANGK_WORKSPACE_ID> port=<port>
 *     followed by the request head exactly as received (request line and
 *     headers), so a test can see what the proxy sent.  A request body
 *     (Content-Length or chunked) is read whole and described by one more
 *     line at the end, "body bytes=<n> sha256=<hex>", so a test sees that
 *     an upload arrived complete.
 *
 * One process per connection (fork); children are reaped by the kernel.
 * SHA-1 and base64 for the handshake come from OpenSSL (static libcrypto).
 *
 *   wsecho [PORT]   (default 8004)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define FRAME_MAX (1u << 20)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* A buffered reader over the connection, for request bodies. */
struct rd {
	int fd;
	size_t pos, len;
	unsigned char b[65536];
};

static int rd_byte(struct rd *r)
{
	if (r->pos == r->len) {
		ssize_t k;

		do
			k = read(r->fd, r->b, sizeof(r->b));
		while (k < 0 && errno == EINTR);
		if (k <= 0)
			return -1;
		r->pos = 0;
		r->len = (size_t)k;
	}
	return r->b[r->pos++];
}

/* One line without its CRLF into out; -1 at EOF or when too long. */
static int rd_line(struct rd *r, char *out, size_t cap)
{
	size_t n = 0;
	int c;

	while ((c = rd_byte(r)) >= 0 && c != '\n')
		if (c != '\r') {
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)c;
		}
	out[n] = '\0';
	return c < 0 ? -1 : 0;
}

/* Consume n body bytes into the digest. */
static int rd_take(struct rd *r, uint64_t n, EVP_MD_CTX *md)
{
	while (n) {
		size_t k;

		if (r->pos == r->len) {
			int c = rd_byte(r);

			if (c < 0)
				return -1;
			r->pos--;
		}
		k = r->len - r->pos;
		if (k > n)
			k = (size_t)n;
		EVP_DigestUpdate(md, r->b + r->pos, k);
		r->pos += k;
		n -= k;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The value of header name in head (case-insensitive name), into out. */
static int header(const char *head, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2, *v, *end;

		if (strncasecmp(h, name, nl) != 0 || h[nl] != ':')
			continue;
		v = h + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = strstr(v, "\r\n");
		if (!end || (size_t)(end - v) >= len)
			return -1;
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
		return 0;
	}
	return -1;
}

static int send_frame(int fd, unsigned char b0, const unsigned char *data, uint64_t n)
{
	unsigned char h[10];
	size_t hl;

	h[0] = b0;
	if (n < 126) {
		h[1] = (unsigned char)n;
		hl = 2;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)(n >> (56 - 8 * i));
		hl = 10;
	}
	return write_all(fd, h, hl) < 0 || write_all(fd, data, (size_t)n) < 0 ? -1 : 0;
}

static void websocket(int fd, const char *key)
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf = malloc(FRAME_MAX);
	unsigned int mdlen = 0;
	char in[256], accept[64], resp[256];
	int n;

	if (!buf)
		return;
	n = snprintf(in, sizeof(in), "%s" WS_GUID, key);
	EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	if (write_all(fd, resp, (size_t)n) < 0)
		goto out;
	for (;;) {
		unsigned char h[2], ext[8], mask[4] = { 0 };
		uint64_t len;
		int op;

		if (read_all(fd, h, 2) < 0)
			break;
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		if (len == 126) {
			if (read_all(fd, ext, 2) < 0)
				break;
			len = ((uint64_t)ext[0] << 8) | ext[1];
		} else if (len == 127) {
			if (read_all(fd, ext, 8) < 0)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | ext[i];
		}
		if (len > FRAME_MAX)
			break;
		if ((h[1] & 0x80) && read_all(fd, mask, 4) < 0)
			break;
		if (read_all(fd, buf, (size_t)len) < 0)
			break;
		for (uint64_t i = 0; i < len; i++)
			buf[i] ^= mask[i % 4];
		if (op == 0x8) { /* close: answer and go */
			send_frame(fd, 0x88, buf, len >= 2 ? 2 : 0);
			break;
		}
		if (op == 0x9) { /* ping */
			if (send_frame(fd, 0x8a, buf, len) < 0)
				break;
			continue;
		}
		if (op == 0xa) /* pong */
			continue;
		if (send_frame(fd, h[0], buf, len) < 0)
			break;
	}
out:
	free(buf);
}

/*
 * Read the request body described by head (Content-Length or chunked;
 * none for other requests) into a line "body bytes=N sha256=HEX\n".
 * line is left empty when there is no body; -1 when the body is cut short.
 */
static int read_body(struct rd *r, const char *head, char *line, size_t cap)
{
	char v[64], size[64];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	uint64_t total = 0;
	EVP_MD_CTX *ctx;
	int rc = -1;

	line[0] = '\0';
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	if (header(head, "Transfer-Encoding", v, sizeof(v)) == 0 && strcasestr(v, "chunked")) {
		for (;;) {
			char *end;
			uint64_t n;

			if (rd_line(r, size, sizeof(size)) < 0)
				goto out;
			errno = 0;
			n = strtoull(size, &end, 16);
			if (errno || end == size)
				goto out;
			if (n == 0)
				break;
			if (rd_take(r, n, ctx) < 0 || rd_line(r, size, sizeof(size)) < 0)
				goto out;
			total += n;
		}
		/* Trailers, up to the empty line. */
		do
			if (rd_line(r, size, sizeof(size)) < 0)
				goto out;
		while (size[0]);
	} else if (header(head, "Content-Length", v, sizeof(v)) == 0) {
		char *end;

		errno = 0;
		total = strtoull(v, &end, 10);
		if (errno || end == v || *end)
			goto out;
		if (rd_take(r, total, ctx) < 0)
			goto out;
	} else {
		rc = 0;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	snprintf(line, cap, "body bytes=%llu sha256=%s\n", (unsigned long long)total, hex);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Does the request line's path (without the query) end in suffix? */
static int path_ends(const char *head, const char *suffix)
{
	const char *p = strchr(head, ' '), *e;
	size_t n = strlen(suffix);

	if (!p)
		return 0;
	p++;
	e = p + strcspn(p, "? \r");
	return (size_t)(e - p) >= n && memcmp(e - n, suffix, n) == 0;
}

/* The /drip response: a first line now, then hold the connection. */
static void drip(int fd)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "Connection: close\r\n\r\nfirst\n";
	char b[4096];

	if (write_all(fd, resp, sizeof(resp) - 1) < 0)
		return;
	alarm(60);
	while (read(fd, b, sizeof(b)) > 0)
		;
}

static void serve(int fd, const char *port)
{
	static struct rd r;
	char head[HEAD_MAX + 1], up[64], key[128], line[256], body[160];
	const char *id = getenv("KLANGK_WORKSPACE_ID");
	size_t got = 0;
	char *end = NULL;

	while (got < HEAD_MAX) {
		ssize_t k = read(fd, head + got, HEAD_MAX - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		got += (size_t)k;
		head[got] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (end)
			break;
	}
	if (!end)
		return;
	/* What was read past the head is the start of the body. */
	r.fd = fd;
	r.pos = 0;
	r.len = got - (size_t)(end + 4 - head);
	memcpy(r.b, end + 4, r.len);
	end[2] = '\0'; /* keep the last header's CRLF */
	if (header(head, "Upgrade", up, sizeof(up)) == 0 && strcasecmp(up, "websocket") == 0 &&
	    header(head, "Sec-WebSocket-Key", key, sizeof(key)) == 0) {
		websocket(fd, key);
		return;
	}
	if (path_ends(head, "/drip")) {
		drip(fd);
		return;
	}
	if (read_body(&r, head, body, sizeof(body)) < 0)
		return;
	{
		int n = snprintf(line, sizeof(line), "klangk-echo workspace=%s port=%s\n",
				 id ? id : "unknown", port);
		size_t hl = strlen(head), bl = strlen(body);
		char resp[256];
		int m = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 (size_t)n + hl + bl);

		if (write_all(fd, resp, (size_t)m) == 0 && write_all(fd, line, (size_t)n) == 0 &&
		    write_all(fd, head, hl) == 0)
			write_all(fd, body, bl);
	}
}

int main(int argc, char **argv)
{
	const char *port = argc > 1 ? argv[1] : "8004";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, s;

	sa.sin_port = htons((uint16_t)strtol(port, NULL, 10));
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0) {
		perror("wsecho");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("wsecho: accept");
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			close(s);
			serve(c, port);
			shutdown(c, SHUT_WR);
			close(c);
			_exit(0);
		}
		close(c);
	}
}
