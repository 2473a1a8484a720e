/* libFuzzer target: the websocket client's input side (lib/ssm/ws.c): the
 * HTTP upgrade answer and the frame decoder (lengths, fragments, control
 * frames, close), fed through the in-memory transport in chunks of a
 * fuzzer-chosen size.  The first byte picks the mode: a valid upgrade
 * answer followed by the input (extra headers, then frames), the input as
 * the whole answer, or frames on an open connection. */
#include <stdio.h>

#include "fuzz.h"

#include "core/cxerr.h"
#include "core/log.h"
#include "ssm/ws.h"

struct mem {
	const uint8_t *in;
	size_t len, pos, chunk;
	size_t sent;
};

static long
m_send(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;

	(void)p;
	m->sent += n;
	return (long)n;
}

static long
m_recv(void *ctx, void *p, size_t n)
{
	struct mem *m = ctx;
	size_t a = m->len - m->pos;

	if (a == 0)
		return CX_ERR_NETWORK;
	if (a > m->chunk)
		a = m->chunk;
	if (a > n)
		a = n;
	memcpy(p, m->in + m->pos, a);
	m->pos += a;
	return (long)a;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ws_io io;
	struct cx_ws ws;
	struct mem m;
	const unsigned char *msg;
	uint8_t *buf = NULL;
	char acc[32], head[256];
	size_t len, max_msg;
	int mode, op, r, hl;
	long fr;

	cx_log_set_verbosity(-2);
	if (size < 2)
		return 0;
	mode = data[0] % 3;
	memset(&m, 0, sizeof(m));
	m.chunk = 1 + data[1] % 64;
	if (data[1] & 0x80)
		m.chunk = 65536;
	max_msg = data[0] & 0x80 ? 4096 : 0;
	data += 2;
	size -= 2;
	io.send = m_send;
	io.recv = m_recv;
	io.ctx = &m;
	cx_ws_init(&ws, &io, max_msg);
	if (mode == 2)
		ws.state = CX_WS_OPEN;
	else if (cx_ws_start(&ws, "example.com", "/v1/data-channel/s?r=1",
	    NULL, 0) != 0)
		abort();
	if (mode == 0) {
		cx_ws_accept_for(ws.key, acc);
		hl = snprintf(head, sizeof(head), "HTTP/1.1 101 Switching "
		    "Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n", acc);
		FZ_ASSERT(hl > 0 && (size_t)hl < sizeof(head));
		if ((buf = malloc((size_t)hl + size)) == NULL)
			abort();
		memcpy(buf, head, (size_t)hl);
		if (size > 0)
			memcpy(buf + hl, data, size);
		m.in = buf;
		m.len = (size_t)hl + size;
	} else {
		m.in = data;
		m.len = size;
	}
	(void)cx_ws_flush(&ws);
	for (;;) {
		r = cx_ws_next(&ws, &op, &msg, &len);
		if (r == CX_WS_MSG) {
			FZ_ASSERT(op == CX_WS_OP_TEXT || op == CX_WS_OP_BINARY);
			FZ_ASSERT(len <= ws.max_msg);
			FZ_ASSERT(len == 0 || msg != NULL);
			continue;
		}
		if (r == CX_WS_OPENED) {
			FZ_ASSERT(ws.state == CX_WS_OPEN);
			(void)cx_ws_send(&ws, CX_WS_OP_BINARY, "x", 1);
			continue;
		}
		if (r == CX_WS_PEER_CLOSED || r < 0)
			break;
		FZ_ASSERT(r == CX_WS_NONE);
		(void)cx_ws_flush(&ws);
		if ((fr = cx_ws_fill(&ws)) < 0)
			break;
		FZ_ASSERT(fr > 0);
	}
	(void)cx_ws_flush(&ws);
	cx_ws_clean_up(&ws);
	free(buf);
	return 0;
}
