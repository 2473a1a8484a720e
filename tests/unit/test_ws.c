/* Websocket client framing over an in-memory transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "ssm/ws.h"

struct mem {
	unsigned char in[1 << 20];	/* what the "server" sends */
	size_t in_len, in_pos, chunk;	/* chunk: bytes per recv (0: all) */
	unsigned char out[1 << 20];	/* what the client wrote */
	size_t out_len, out_room;	/* out_room: bytes accepted per send */
	int eof;
};

static long
m_send(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;

	if (m->out_room && n > m->out_room)
		n = m->out_room;
	if (n > sizeof(m->out) - m->out_len)
		n = sizeof(m->out) - m->out_len;
	memcpy(m->out + m->out_len, p, n);
	m->out_len += n;
	return (long)n;
}

static long
m_recv(void *ctx, void *p, size_t n)
{
	struct mem *m = ctx;
	size_t a = m->in_len - m->in_pos;

	if (a == 0)
		return m->eof ? CX_ERR_NETWORK : 0;
	if (m->chunk && a > m->chunk)
		a = m->chunk;
	if (a > n)
		a = n;
	memcpy(p, m->in + m->in_pos, a);
	m->in_pos += a;
	return (long)a;
}

static void
srv_put(struct mem *m, const void *p, size_t n)
{
	memcpy(m->in + m->in_len, p, n);
	m->in_len += n;
}

/* An unmasked server frame. */
static void
srv_frame(struct mem *m, int fin, int op, const void *p, size_t n)
{
	unsigned char h[10];
	size_t hl = 0;
	int i;

	h[hl++] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (n < 126)
		h[hl++] = (unsigned char)n;
	else if (n <= 0xffff) {
		h[hl++] = 126;
		h[hl++] = (unsigned char)(n >> 8);
		h[hl++] = (unsigned char)n;
	} else {
		h[hl++] = 127;
		for (i = 7; i >= 0; i--)
			h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	srv_put(m, h, hl);
	srv_put(m, p, n);
}

/* Decodes one client frame at *pos of m->out, unmasking into buf. */
static size_t
cli_frame(struct mem *m, size_t *pos, int *op, unsigned char *buf)
{
	unsigned char *p = m->out + *pos, mk[4];
	uint64_t n;
	size_t h = 2, i;

	assert_true(p[0] & 0x80);
	*op = p[0] & 0x0f;
	assert_true(p[1] & 0x80);	/* masked */
	n = p[1] & 0x7f;
	if (n == 126) {
		n = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (n == 127) {
		for (n = 0, i = 2; i < 10; i++)
			n = n << 8 | p[i];
		h = 10;
	}
	memcpy(mk, p + h, 4);
	h += 4;
	for (i = 0; i < n; i++)
		buf[i] = p[h + i] ^ mk[i & 3];
	*pos += h + n;
	return (size_t)n;
}

static struct mem *
open_ws(struct cx_ws *ws, size_t max)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct cx_ws_io io = { m_send, m_recv, NULL };
	char acc[32], key[64], resp[256];
	const unsigned char *d;
	const char *k;
	size_t l;
	int op;

	io.ctx = m;
	cx_ws_init(ws, &io, max);
	assert_int_equal(cx_ws_start(ws, "h.example:8443", "/v1/x?role=a&b=c",
	    NULL, 0), 0);
	assert_int_equal(cx_ws_flush(ws), 0);
	m->out[m->out_len] = 0;
	k = strstr((char *)m->out, "Sec-WebSocket-Key: ");
	assert_non_null(k);
	k += 19;
	l = strcspn(k, "\r");
	memcpy(key, k, l);
	key[l] = 0;
	cx_ws_accept_for(key, acc);
	snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
	srv_put(m, resp, strlen(resp));
	assert_true(cx_ws_fill(ws) > 0);
	assert_int_equal(cx_ws_next(ws, &op, &d, &l), CX_WS_OPENED);
	m->out_len = 0;
	return m;
}

static void
test_accept_rfc(void **state)
{
	char out[32];

	(void)state;
	cx_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_upgrade_request(void **state)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct cx_ws_io io = { m_send, m_recv, NULL };
	struct cx_ws ws;
	const char *extra[] = { "Authorization: AWS4-HMAC-SHA256 x",
	    "X-Amz-Date: 20250101T000000Z" };

	(void)state;
	io.ctx = m;
	m->out_room = 7;	/* short writes */
	cx_ws_init(&ws, &io, 0);
	assert_int_equal(cx_ws_start(&ws, "ssmmessages.eu-west-1.amazonaws.com",
	    "/v1/data-channel/s-1?role=publish_subscribe&cell-number=AAA",
	    extra, 2), 0);
	assert_int_equal(cx_ws_flush(&ws), 0);
	assert_int_equal(cx_ws_pending(&ws), 0);
	m->out[m->out_len] = 0;
	assert_memory_equal(m->out, "GET /v1/data-channel/s-1?role="
	    "publish_subscribe&cell-number=AAA HTTP/1.1\r\n"
	    "Host: ssmmessages.eu-west-1.amazonaws.com\r\n", 105);
	assert_non_null(strstr((char *)m->out, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr((char *)m->out, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr((char *)m->out,
	    "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr((char *)m->out,
	    "\r\nAuthorization: AWS4-HMAC-SHA256 x\r\nX-Amz-Date: "
	    "20250101T000000Z\r\n\r\n"));
	/* the sent request (it may hold a signature) was wiped */
	assert_null(memchr(ws.out.data, 'A', 64));
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_upgrade_refused(void **state)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct cx_ws_io io = { m_send, m_recv, NULL };
	struct cx_ws ws;
	const unsigned char *d;
	size_t l;
	int op;
	static const char r403[] = "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char badacc[] = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nSec-WebSocket-Accept: xxxx\r\n\r\n";

	(void)state;
	io.ctx = m;
	cx_ws_init(&ws, &io, 0);
	assert_int_equal(cx_ws_start(&ws, "h", "/", NULL, 0), 0);
	srv_put(m, r403, sizeof(r403) - 1);
	m->chunk = 5;
	while (cx_ws_fill(&ws) > 0)
		;
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_ERR_PROTOCOL);
	assert_int_equal(ws.http_status, 403);
	cx_ws_clean_up(&ws);

	memset(m, 0, sizeof(*m));
	cx_ws_init(&ws, &io, 0);
	assert_int_equal(cx_ws_start(&ws, "h", "/", NULL, 0), 0);
	srv_put(m, badacc, sizeof(badacc) - 1);
	assert_true(cx_ws_fill(&ws) > 0);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_ERR_PROTOCOL);
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_send_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 1144, 65535, 65536,
	    100000 };
	struct cx_ws ws;
	struct mem *m = open_ws(&ws, 0);
	unsigned char *src = malloc(100000), *got = malloc(100000);
	size_t i, pos = 0, n;
	int op;

	(void)state;
	for (i = 0; i < 100000; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(cx_ws_send(&ws, CX_WS_OP_BINARY, src,
		    sizes[i]), 0);
	assert_int_equal(cx_ws_flush(&ws), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = cli_frame(m, &pos, &op, got);
		assert_int_equal(op, CX_WS_OP_BINARY);
		assert_int_equal(n, sizes[i]);
		assert_memory_equal(got, src, n);
	}
	assert_int_equal(pos, m->out_len);
	free(src);
	free(got);
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_fragments_and_ping(void **state)
{
	struct cx_ws ws;
	struct mem *m = open_ws(&ws, 0);
	const unsigned char *d;
	unsigned char got[64];
	size_t l, pos = 0;
	int op;

	(void)state;
	srv_frame(m, 0, CX_WS_OP_BINARY, "hel", 3);
	srv_frame(m, 1, CX_WS_OP_PING, "keepalive", 9);
	srv_frame(m, 0, CX_WS_OP_CONT, "lo ", 3);
	srv_frame(m, 1, CX_WS_OP_CONT, "world", 5);
	srv_frame(m, 1, CX_WS_OP_TEXT, "t", 1);
	m->chunk = 1;		/* one byte per read */
	while (cx_ws_fill(&ws) > 0)
		;
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_WS_MSG);
	assert_int_equal(op, CX_WS_OP_BINARY);
	assert_int_equal(l, 11);
	assert_memory_equal(d, "hello world", 11);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_WS_MSG);
	assert_int_equal(op, CX_WS_OP_TEXT);
	assert_memory_equal(d, "t", 1);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_WS_NONE);
	/* the ping was answered */
	assert_int_equal(cx_ws_flush(&ws), 0);
	l = cli_frame(m, &pos, &op, got);
	assert_int_equal(op, CX_WS_OP_PONG);
	assert_memory_equal(got, "keepalive", l);
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_close(void **state)
{
	struct cx_ws ws;
	struct mem *m = open_ws(&ws, 0);
	const unsigned char *d;
	unsigned char got[8];
	size_t l, pos = 0;
	int op;

	(void)state;
	srv_frame(m, 1, CX_WS_OP_CLOSE, "\x03\xe9", 2);
	assert_true(cx_ws_fill(&ws) > 0);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_WS_PEER_CLOSED);
	assert_int_equal(ws.close_code, 1001);
	assert_int_equal(ws.state, CX_WS_CLOSED);
	assert_int_equal(cx_ws_flush(&ws), 0);
	l = cli_frame(m, &pos, &op, got);
	assert_int_equal(op, CX_WS_OP_CLOSE);
	assert_int_equal(l, 2);
	assert_memory_equal(got, "\x03\xe9", 2);
	cx_ws_clean_up(&ws);
	free(m);

	/* our close first, then the peer's answer */
	m = open_ws(&ws, 0);
	assert_int_equal(cx_ws_close(&ws, 1000), 0);
	assert_int_equal(ws.state, CX_WS_CLOSING);
	srv_frame(m, 1, CX_WS_OP_CLOSE, "", 0);
	assert_true(cx_ws_fill(&ws) > 0);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_WS_PEER_CLOSED);
	assert_int_equal(ws.close_code, 1005);
	assert_int_equal(cx_ws_flush(&ws), 0);
	pos = 0;
	cli_frame(m, &pos, &op, got);
	assert_int_equal(pos, m->out_len);	/* only our one close */
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_bad_frames(void **state)
{
	static const unsigned char giant[] = { 0x82, 127, 0, 0, 1, 0, 0, 0, 0,
	    0 };
	static const unsigned char huge64[] = { 0x82, 127, 0x80, 0, 0, 0, 0,
	    0, 0, 0 };
	static const unsigned char masked[] = { 0x82, 0x81, 1, 2, 3, 4, 5 };
	static const unsigned char rsv[] = { 0xc2, 0 };
	static const unsigned char bigping[] = { 0x89, 126, 0, 200 };
	static const unsigned char fragping[] = { 0x09, 0 };
	static const unsigned char cont[] = { 0x80, 1, 'x' };
	static const unsigned char op3[] = { 0x83, 0 };
	static const struct {
		const unsigned char *p;
		size_t n;
		int want;
	} cases[] = {
		{ giant, sizeof(giant), CX_ERR_TOOBIG },
		{ huge64, sizeof(huge64), CX_ERR_TOOBIG },
		{ masked, sizeof(masked), CX_ERR_PROTOCOL },
		{ rsv, sizeof(rsv), CX_ERR_PROTOCOL },
		{ bigping, sizeof(bigping), CX_ERR_PROTOCOL },
		{ fragping, sizeof(fragping), CX_ERR_PROTOCOL },
		{ cont, sizeof(cont), CX_ERR_PROTOCOL },
		{ op3, sizeof(op3), CX_ERR_PROTOCOL },
	};
	struct cx_ws ws;
	struct mem *m;
	const unsigned char *d;
	unsigned char *big;
	size_t i, l;
	int op;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = open_ws(&ws, 0);
		srv_put(m, cases[i].p, cases[i].n);
		assert_true(cx_ws_fill(&ws) > 0);
		assert_int_equal(cx_ws_next(&ws, &op, &d, &l), cases[i].want);
		cx_ws_clean_up(&ws);
		free(m);
	}
	/* fragments adding up to more than the limit */
	m = open_ws(&ws, 1000);
	big = calloc(1, 600);
	srv_frame(m, 0, CX_WS_OP_BINARY, big, 600);
	srv_frame(m, 1, CX_WS_OP_CONT, big, 600);
	while (cx_ws_fill(&ws) > 0)
		;
	assert_int_equal(cx_ws_next(&ws, &op, &d, &l), CX_ERR_TOOBIG);
	cx_ws_clean_up(&ws);
	free(m);
	free(big);
	/* end of stream */
	m = open_ws(&ws, 0);
	m->eof = 1;
	assert_int_equal(cx_ws_fill(&ws), CX_ERR_NETWORK);
	cx_ws_clean_up(&ws);
	free(m);
}

static void
test_url_split(void **state)
{
	char *u, *h, *t;

	(void)state;
	assert_int_equal(cx_ws_url_split("wss://ssmmessages.us-east-1."
	    "amazonaws.com/v1/data-channel/s-1?role=publish_subscribe&"
	    "cell-number=AA%3D", &u, &h, &t), 0);
	assert_string_equal(u, "https://ssmmessages.us-east-1.amazonaws.com/");
	assert_string_equal(h, "ssmmessages.us-east-1.amazonaws.com");
	assert_string_equal(t, "/v1/data-channel/s-1?role=publish_subscribe&"
	    "cell-number=AA%3D");
	free(u);
	free(h);
	free(t);
	assert_int_equal(cx_ws_url_split("ws://127.0.0.1:8080?x=1", &u, &h,
	    &t), 0);
	assert_string_equal(u, "http://127.0.0.1:8080/");
	assert_string_equal(h, "127.0.0.1:8080");
	assert_string_equal(t, "/?x=1");
	free(u);
	free(h);
	free(t);
	assert_int_equal(cx_ws_url_split("ftp://x/", &u, &h, &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_ws_url_split("wss:///x", &u, &h, &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_ws_url_split("wss://u@h/x", &u, &h, &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_ws_url_split("wss://h/x y", &u, &h, &t),
	    CX_ERR_INPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_rfc),
		cmocka_unit_test(test_upgrade_request),
		cmocka_unit_test(test_upgrade_refused),
		cmocka_unit_test(test_send_sizes),
		cmocka_unit_test(test_fragments_and_ping),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_url_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
