/*
 * wsframe — WebSocket handshake key and frames (see wsframe.h).
 */
#include "wsframe.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int wsframe_accept_key(const char *client_key, char out[29])
{
	unsigned char raw[32], md[SHA_DIGEST_LENGTH];
	char cat[64 + sizeof(WS_GUID)];
	size_t kl = strlen(client_key);
	int n;

	/* 16 bytes in base64: 24 characters ending in "==". */
	if (kl != 24 || client_key[22] != '=' || client_key[23] != '=')
		return -EINVAL;
	n = EVP_DecodeBlock(raw, (const unsigned char *)client_key, (int)kl);
	if (n != 18) /* 16 bytes and the two padding zeros */
		return -EINVAL;
	memcpy(cat, client_key, kl);
	memcpy(cat + kl, WS_GUID, sizeof(WS_GUID));
	SHA1((const unsigned char *)cat, kl + sizeof(WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

size_t wsframe_header(unsigned char hdr[WSFRAME_HDR_MAX], enum wsframe_op op,
		      size_t len, const unsigned char *mask)
{
	size_t n = 2;

	hdr[0] = (unsigned char)(0x80 | (op & 0x0f));
	if (len < 126) {
		hdr[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		n = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		hdr[1] |= 0x80;
		memcpy(hdr + n, mask, 4);
		n += 4;
	}
	return n;
}

void wsframe_mask(unsigned char *data, size_t len, const unsigned char mask[4], size_t off)
{
	for (size_t i = 0; i < len; i++)
		data[i] ^= mask[(off + i) & 3];
}

int wsframe_encode(struct buf *out, enum wsframe_op op, const void *data, size_t len,
		   const unsigned char *mask)
{
	unsigned char hdr[WSFRAME_HDR_MAX];
	size_t hl = wsframe_header(hdr, op, len, mask), start;
	int r = buf_append(out, hdr, hl);

	start = out->len;
	if (r == 0 && len)
		r = buf_append(out, data, len);
	if (r == 0 && mask)
		wsframe_mask((unsigned char *)out->data + start, len, mask, 0);
	return r;
}

void wsframe_rx_init(struct wsframe_rx *rx, bool server, size_t max)
{
	memset(rx, 0, sizeof(*rx));
	rx->server = server;
	rx->max = max;
	/* The input holds at most one frame's header and payload. */
	buf_init(&rx->in, max + WSFRAME_HDR_MAX + 64 * 1024);
	buf_init(&rx->msg, max + 1);
}

void wsframe_rx_free(struct wsframe_rx *rx)
{
	if (!rx)
		return;
	buf_free(&rx->in);
	buf_free(&rx->msg);
}

/* One frame at the start of p (n bytes): its length in *used (0 when
 * incomplete).  The payload is unmasked in place. */
static int parse_one(struct wsframe_rx *rx, unsigned char *p, size_t n, size_t *used,
		     wsframe_fn fn, void *ud)
{
	size_t hl = 2, len;
	bool fin, masked;
	int op;

	*used = 0;
	if (n < 2)
		return 0;
	fin = p[0] & 0x80;
	op = p[0] & 0x0f;
	masked = p[1] & 0x80;
	len = p[1] & 0x7f;
	if (p[0] & 0x70)
		return -EPROTO; /* no extension was negotiated */
	if (masked != rx->server)
		return -EPROTO;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (size_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (len == 127) {
		uint64_t v = 0;

		if (n < 10)
			return 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | p[2 + i];
		if (v > rx->max)
			return -EMSGSIZE;
		len = (size_t)v;
		hl = 10;
	}
	if (len > rx->max)
		return -EMSGSIZE;
	if (masked)
		hl += 4;
	if (n < hl + len)
		return 0;
	if (masked)
		wsframe_mask(p + hl, len, p + hl - 4, 0);
	*used = hl + len;
	if (op & 0x8) {
		/* Control frames: whole, short, never fragmented. */
		if (!fin || len > 125 || (op != WSFRAME_CLOSE && op != WSFRAME_PING &&
					 op != WSFRAME_PONG))
			return -EPROTO;
		return fn(ud, (enum wsframe_op)op, p + hl, len);
	}
	if (op != WSFRAME_CONT && op != WSFRAME_TEXT && op != WSFRAME_BINARY)
		return -EPROTO;
	if ((op == WSFRAME_CONT) != rx->in_msg)
		return -EPROTO; /* a continuation of nothing, or a new message inside one */
	if (fin && !rx->in_msg)
		return fn(ud, (enum wsframe_op)op, p + hl, len);
	if (!rx->in_msg) {
		rx->in_msg = true;
		rx->msg_op = (enum wsframe_op)op;
		buf_reset(&rx->msg);
	}
	if (rx->msg.len + len > rx->max || buf_append(&rx->msg, p + hl, len) < 0)
		return -EMSGSIZE;
	if (!fin)
		return 0;
	rx->in_msg = false;
	return fn(ud, rx->msg_op, (const unsigned char *)(rx->msg.data ? rx->msg.data : ""),
		  rx->msg.len);
}

int wsframe_rx_feed(struct wsframe_rx *rx, const void *data, size_t len, wsframe_fn fn,
		    void *ud)
{
	size_t off = 0;
	int r;

	if (len && buf_append(&rx->in, data, len) < 0)
		return -EMSGSIZE;
	if (!rx->in.data)
		return 0;
	for (;;) {
		size_t used = 0;

		r = parse_one(rx, (unsigned char *)rx->in.data + off, rx->in.len - off, &used,
			      fn, ud);
		if (r != 0 || used == 0)
			break;
		off += used;
	}
	if (off) {
		memmove(rx->in.data, rx->in.data + off, rx->in.len - off);
		rx->in.len -= off;
		rx->in.data[rx->in.len] = '\0';
	}
	return r;
}
