/*
 * An RFC 6455 websocket client over a byte transport (so that unit tests can
 * drive it from memory).  Non-blocking and event driven: the caller queues
 * frames (cx_ws_send*, written to an output queue), pushes the queue with
 * cx_ws_flush() when the socket is writable, reads with cx_ws_fill() when it
 * is readable, and takes complete messages with cx_ws_next().
 *
 * Client frames are masked with keys from OpenSSL's RAND_bytes; fragmented
 * messages are reassembled; pings are answered with pongs; a close frame is
 * answered once.  Incoming messages larger than max_msg are a clean error.
 *
 * Implemented in lib/ssm/ws.c (framing) and lib/ssm/ws_tls.c (the transport: a
 * socket, OpenSSL for TLS, a CONNECT tunnel per HTTPS_PROXY/NO_PROXY; no
 * libcurl).
 */
#ifndef CX_WS_H
#define CX_WS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The transport.  send/recv return the number of bytes moved (> 0), 0 when
 * the call would block, or a negative CX_ERR_* (CX_ERR_NETWORK for a reset or
 * for end of stream).
 */
struct cx_ws_io {
	long (*send)(void *ctx, const void *p, size_t n);
	long (*recv)(void *ctx, void *p, size_t n);
	void *ctx;
};

#define CX_WS_OP_CONT	0x0
#define CX_WS_OP_TEXT	0x1
#define CX_WS_OP_BINARY	0x2
#define CX_WS_OP_CLOSE	0x8
#define CX_WS_OP_PING	0x9
#define CX_WS_OP_PONG	0xa

enum cx_ws_state {
	CX_WS_UPGRADING = 0,	/* upgrade request queued, no answer yet */
	CX_WS_OPEN,
	CX_WS_CLOSING,		/* we sent a close frame */
	CX_WS_CLOSED		/* the peer's close frame arrived */
};

/* Results of cx_ws_next(). */
#define CX_WS_NONE	0	/* need more input */
#define CX_WS_MSG	1	/* a data message is ready */
#define CX_WS_OPENED	2	/* the upgrade was accepted */
#define CX_WS_PEER_CLOSED 3	/* the peer sent a close frame */

#define CX_WS_DEFAULT_MAX_MSG	(1024 * 1024)
#define CX_WS_MAX_UPGRADE_REPLY	(16 * 1024)

/* A simple byte queue with a read offset (no memmove per consume). */
struct cx_ws_q {
	unsigned char *data;
	size_t off, len, cap;	/* live bytes: data[off .. len) */
};

struct cx_ws {
	struct cx_ws_io io;
	enum cx_ws_state state;
	size_t max_msg;
	char key[32];			/* Sec-WebSocket-Key (base64) */
	struct cx_ws_q out;		/* bytes to send */
	size_t secret_end;		/* out bytes [0, secret_end) are secret
					 * (the upgrade request): wiped */
	struct cx_ws_q in;		/* bytes received, not yet parsed */
	unsigned char *msg;		/* fragments being reassembled */
	size_t msg_len, msg_cap;
	int msg_op;			/* opcode of the first fragment, or -1 */
	unsigned char rnd[1024];	/* mask keys, refilled from RAND_bytes */
	size_t rnd_off;
	int close_code;			/* the peer's close code, or 1005 */
	int http_status;		/* status of the upgrade answer */
	uint64_t bytes_in, bytes_out;	/* raw transport bytes */
};

/* Initialises ws (caller-owned storage) on io; max_msg 0 means the default.
 * Release with cx_ws_clean_up(). */
void cx_ws_init(struct cx_ws *ws, const struct cx_ws_io *io, size_t max_msg);
void cx_ws_clean_up(struct cx_ws *ws);

/*
 * Queues the HTTP/1.1 upgrade request: GET path_query with Host, Upgrade,
 * Connection, Sec-WebSocket-Key (fresh random), Sec-WebSocket-Version 13,
 * and the extra headers (each "Name: value"; may hold secrets: the queued
 * bytes are wiped once sent).  Returns 0, CX_ERR_NOMEM or CX_ERR_INTERNAL.
 */
int cx_ws_start(struct cx_ws *ws, const char *host, const char *path_query,
    const char *const *extra, size_t nextra);

/*
 * Queues one masked, unfragmented frame.  For data frames op is TEXT or
 * BINARY.  Returns 0 or CX_ERR_NOMEM.
 */
int cx_ws_send(struct cx_ws *ws, int op, const void *p, size_t n);
/* Queues a close frame with code (once); state becomes CLOSING. */
int cx_ws_close(struct cx_ws *ws, int code);

/* Writes queued bytes until the transport would block.  Returns 0 or the
 * transport's negative error. */
int cx_ws_flush(struct cx_ws *ws);
/* Bytes still queued for sending. */
size_t cx_ws_pending(const struct cx_ws *ws);

/*
 * Reads once from the transport (up to about 64 KiB).  Returns the number
 * of bytes read, 0 if it would block, or a negative error (CX_ERR_NETWORK
 * on end of stream).
 */
long cx_ws_fill(struct cx_ws *ws);

/*
 * Parses buffered input.  Returns CX_WS_OPENED once the upgrade answer (101
 * with the right Sec-WebSocket-Accept) has arrived, CX_WS_MSG with *op,
 * *data, *len set to a complete data message (borrowed: valid until the
 * next cx_ws_next/cx_ws_fill), CX_WS_PEER_CLOSED when a close frame arrived
 * (a reply is queued), or CX_WS_NONE when more input is needed.  Errors:
 * CX_ERR_PROTOCOL (bad upgrade answer, masked or malformed frame),
 * CX_ERR_TOOBIG (message over max_msg), CX_ERR_NOMEM.
 */
int cx_ws_next(struct cx_ws *ws, int *op, const unsigned char **data,
    size_t *len);

/* Sec-WebSocket-Accept for key (base64 of SHA-1 of key + the RFC GUID). */
void cx_ws_accept_for(const char *key, char out[32]);

/*
 * Splits a ws:// or wss:// URL into a curl URL for the same host and port
 * (http:// or https://), the Host header value and the request target
 * (path and query, used verbatim; "/" if empty).  All three malloc'd.
 * Returns 0, CX_ERR_INPUT or CX_ERR_NOMEM.
 */
int cx_ws_url_split(const char *url, char **curl_url, char **host,
    char **target);

/*
 * The socket transport (lib/ssm/ws_tls.c): TCP, an HTTP CONNECT tunnel through
 * the proxy the environment names (https_proxy/HTTPS_PROXY for https,
 * http_proxy for http, then all_proxy/ALL_PROXY; no_proxy/NO_PROXY; curl's
 * rules), TLS >= 1.2 with OpenSSL for https (certificate and host name or
 * IP checked).
 */
struct cx_ws_conn;
struct cx_ws_conn_opts {
	const char *ca_bundle;		/* or NULL: SSL_CERT_FILE/SSL_CERT_DIR,
					 * else the system's hashed folder */
	long connect_timeout_ms;	/* TCP + proxy + TLS; 0: 30 s */
	int *fatal;			/* if not NULL: set to 1 when retrying
					 * cannot help (certificate refused,
					 * proxy said 4xx, bad proxy URL) */
};
/*
 * Connects to curl_url ("http://" or "https://" host[:port], the rest
 * ignored; as cx_ws_url_split makes it) and leaves the socket
 * non-blocking.  *out is owned by the caller (cx_ws_conn_free).  Returns
 * 0; CX_ERR_TIMEOUT (o->connect_timeout_ms passed); CX_ERR_NETWORK
 * (details at debug level; a refused certificate or a proxy's refusal is
 * one error line); CX_ERR_CONFIG (unusable proxy variable or CA bundle,
 * one error line); CX_ERR_INPUT (not an http(s) URL); CX_ERR_NOMEM.
 */
int cx_ws_conn_open(const char *curl_url, const struct cx_ws_conn_opts *o,
    struct cx_ws_conn **out);
/* Closes the connection (a TLS close_notify if it can go at once); NULL is
 * fine. */
void cx_ws_conn_free(struct cx_ws_conn *c);
/* The socket for poll(). */
int cx_ws_conn_fd(const struct cx_ws_conn *c);
/*
 * The poll() events to wait for when the caller wants want (POLLIN to
 * read, POLLOUT to send): TLS may need the other direction first (a read
 * that must write, a write that must read).
 */
short cx_ws_conn_events(const struct cx_ws_conn *c, short want);
/* 1 if decrypted bytes wait inside OpenSSL (poll() would not see them):
 * read before waiting. */
int cx_ws_conn_pending(const struct cx_ws_conn *c);
/* Fills io to use c. */
void cx_ws_conn_io(struct cx_ws_conn *c, struct cx_ws_io *io);

/*
 * For a long-lived process that cares about its memory (cx-tunnel): starts
 * OpenSSL without its error texts (about 400 KiB resident; the numeric
 * codes stay).  Must come before any other OpenSSL call; the first one
 * decides.
 */
void cx_ws_tls_lean(void);

#endif
