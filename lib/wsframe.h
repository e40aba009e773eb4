/*
 * wsframe — the WebSocket protocol (RFC 6455) as the gateway and klangkc
 * speak it: the opening handshake's accept key, and frames encoded and
 * decoded over any byte stream (a socket, a libcurl connection).
 *
 * A receiver (struct wsframe_rx) takes bytes in any pieces and hands out
 * whole messages: fragments are joined, control frames (ping, pong, close)
 * come out between them as they arrive.  Everything is bounded: a message
 * over the receiver's max is -EMSGSIZE.  The server side requires masked
 * frames from its clients, the client side unmasked ones from its server
 * (RFC 6455 5.1): anything else is -EPROTO.
 */
#ifndef KLANGK_WSFRAME_H
#define KLANGK_WSFRAME_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

enum wsframe_op {
	WSFRAME_CONT = 0x0,
	WSFRAME_TEXT = 0x1,
	WSFRAME_BINARY = 0x2,
	WSFRAME_CLOSE = 0x8,
	WSFRAME_PING = 0x9,
	WSFRAME_PONG = 0xA,
};

/* Close codes used here. */
#define WSFRAME_CLOSE_NORMAL 1000
#define WSFRAME_CLOSE_PROTOCOL 1002
#define WSFRAME_CLOSE_TOO_BIG 1009
#define WSFRAME_CLOSE_POLICY 1008

/* The most bytes a frame header takes. */
#define WSFRAME_HDR_MAX 14

/*
 * Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64 of the
 * SHA-1 of the key and the protocol's GUID.  -EINVAL when the key is not
 * the base64 of 16 bytes.  out: 29 bytes with the NUL.
 */
int wsframe_accept_key(const char *client_key, char out[29]);

/*
 * A frame's header for a payload of len bytes, FIN set, into hdr; returns
 * its length.  With mask (4 bytes, a client's), the header says so, and
 * the caller masks the payload with wsframe_mask.
 */
size_t wsframe_header(unsigned char hdr[WSFRAME_HDR_MAX], enum wsframe_op op,
		      size_t len, const unsigned char *mask);
/* XOR data with the 4-byte mask, starting at the payload's offset off. */
void wsframe_mask(unsigned char *data, size_t len, const unsigned char mask[4], size_t off);

/* A whole frame (header and payload, masked when mask is set) appended
 * to out (borrowed). */
int wsframe_encode(struct buf *out, enum wsframe_op op, const void *data, size_t len,
		   const unsigned char *mask);

struct wsframe_rx {
	bool server;          /* frames must be masked (we are the server) */
	size_t max;           /* the largest message */
	struct buf in;        /* bytes not yet parsed */
	struct buf msg;       /* a fragmented message being joined */
	enum wsframe_op msg_op;
	bool in_msg;
};

/* max: the largest message accepted (a control frame is at most 125). */
void wsframe_rx_init(struct wsframe_rx *rx, bool server, size_t max);
void wsframe_rx_free(struct wsframe_rx *rx);

/* Called with each whole message (op TEXT or BINARY) and each control
 * frame (CLOSE, PING, PONG); data borrowed for the call.  Non-zero stops
 * the feed (its value is returned). */
typedef int (*wsframe_fn)(void *ud, enum wsframe_op op, const unsigned char *data,
			  size_t len);

/* Feed received bytes.  0, fn's non-zero value, -EPROTO on a malformed or
 * wrongly masked frame, -EMSGSIZE on a message over max. */
int wsframe_rx_feed(struct wsframe_rx *rx, const void *data, size_t len, wsframe_fn fn,
		    void *ud);

/*
 * The exec protocol of klangk-gateway and klangkc (gateway/exec.h): binary
 * messages whose first byte is a channel, as in Kubernetes'
 * channel.k8s.io.  The status message (WSEXEC_STATUS) is JSON with
 * WSEXEC_EXIT (the exit code) or "error" and "reason".
 */
enum wsexec_channel {
	WSEXEC_STDIN = 0,
	WSEXEC_STDOUT = 1,
	WSEXEC_STDERR = 2,
	WSEXEC_STATUS = 3,
	WSEXEC_RESIZE = 4,       /* JSON {"rows": R, "cols": C} */
	WSEXEC_CLOSE_STDIN = 5,
};
#define WSEXEC_EXIT "exit"

#endif
