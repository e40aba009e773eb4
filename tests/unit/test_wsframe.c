/* Unit tests for wsframe: the handshake key, frames in pieces, fragments,
 * masking rules and the size bound. */
#include "t.h"
#include "wsframe.h"

#include <stdlib.h>

struct got {
	int n;
	enum wsframe_op op[8];
	char data[8][256];
};

static int collect(void *ud, enum wsframe_op op, const unsigned char *data, size_t len)
{
	struct got *g = ud;

	if (g->n >= 8 || len >= sizeof(g->data[0]))
		return -E2BIG;
	g->op[g->n] = op;
	memcpy(g->data[g->n], data, len);
	g->data[g->n][len] = '\0';
	g->n++;
	return 0;
}

static void test_accept_key(void)
{
	char out[29];

	/* RFC 6455 section 1.3's example. */
	CHECK(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) == 0);
	CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	CHECK(wsframe_accept_key("short", out) == -EINVAL);
	CHECK(wsframe_accept_key("!!!!!!!!!!!!!!!!!!!!!!==", out) == -EINVAL);
}

static void test_pieces_and_fragments(void)
{
	static const unsigned char mask[4] = { 1, 2, 3, 4 };
	struct wsframe_rx rx;
	struct got g = { 0 };
	struct buf b;
	unsigned char hdr[WSFRAME_HDR_MAX];

	buf_init(&b, 0);
	CHECK(wsframe_encode(&b, WSFRAME_TEXT, "hello", 5, mask) == 0);
	CHECK(wsframe_encode(&b, WSFRAME_PING, "p", 1, mask) == 0);
	wsframe_rx_init(&rx, true, 1024);
	/* One byte at a time: nothing comes out before a frame is whole. */
	for (size_t i = 0; i < b.len; i++)
		CHECK(wsframe_rx_feed(&rx, b.data + i, 1, collect, &g) == 0);
	CHECK(g.n == 2);
	CHECK(g.op[0] == WSFRAME_TEXT && strcmp(g.data[0], "hello") == 0);
	CHECK(g.op[1] == WSFRAME_PING && strcmp(g.data[1], "p") == 0);

	/* A message in two fragments with a pong between them. */
	buf_reset(&b);
	{
		size_t n = wsframe_header(hdr, WSFRAME_BINARY, 3, mask);

		hdr[0] &= 0x7f; /* not FIN */
		buf_append(&b, hdr, n);
		buf_append(&b, "abc", 3);
		wsframe_mask((unsigned char *)b.data + n, 3, mask, 0);
	}
	CHECK(wsframe_encode(&b, WSFRAME_PONG, "", 0, mask) == 0);
	CHECK(wsframe_encode(&b, WSFRAME_CONT, "def", 3, mask) == 0);
	g.n = 0;
	CHECK(wsframe_rx_feed(&rx, b.data, b.len, collect, &g) == 0);
	CHECK(g.n == 2);
	CHECK(g.op[0] == WSFRAME_PONG);
	CHECK(g.op[1] == WSFRAME_BINARY && strcmp(g.data[1], "abcdef") == 0);
	wsframe_rx_free(&rx);
	buf_free(&b);
}

static void test_rules(void)
{
	static const unsigned char mask[4] = { 9, 8, 7, 6 };
	struct wsframe_rx rx;
	struct got g = { 0 };
	struct buf b;
	char *big = calloc(1, 70000);

	buf_init(&b, 0);
	/* A server refuses an unmasked frame, a client a masked one. */
	wsframe_rx_init(&rx, true, 1024);
	CHECK(wsframe_encode(&b, WSFRAME_TEXT, "x", 1, NULL) == 0);
	CHECK(wsframe_rx_feed(&rx, b.data, b.len, collect, &g) == -EPROTO);
	wsframe_rx_free(&rx);
	wsframe_rx_init(&rx, false, 1024);
	buf_reset(&b);
	CHECK(wsframe_encode(&b, WSFRAME_TEXT, "x", 1, mask) == 0);
	CHECK(wsframe_rx_feed(&rx, b.data, b.len, collect, &g) == -EPROTO);
	wsframe_rx_free(&rx);
	/* A continuation of nothing. */
	wsframe_rx_init(&rx, false, 1024);
	buf_reset(&b);
	CHECK(wsframe_encode(&b, WSFRAME_CONT, "x", 1, NULL) == 0);
	CHECK(wsframe_rx_feed(&rx, b.data, b.len, collect, &g) == -EPROTO);
	wsframe_rx_free(&rx);
	/* Over the bound, known from the header alone (64-bit length). */
	wsframe_rx_init(&rx, false, 1024);
	buf_reset(&b);
	CHECK(big && wsframe_encode(&b, WSFRAME_BINARY, big, 70000, NULL) == 0);
	CHECK(b.len > 10 && (unsigned char)b.data[1] == 127);
	CHECK(wsframe_rx_feed(&rx, b.data, 10, collect, &g) == -EMSGSIZE);
	wsframe_rx_free(&rx);
	/* The 16-bit length form round-trips. */
	wsframe_rx_init(&rx, false, 100000);
	g.n = 0;
	CHECK(wsframe_rx_feed(&rx, b.data, b.len, collect, &g) == -E2BIG); /* collect's own cap */
	wsframe_rx_free(&rx);
	free(big);
	buf_free(&b);
}

int main(void)
{
	test_accept_key();
	test_pieces_and_fragments();
	test_rules();
	return T_DONE("wsframe");
}
