/*
 * Regression tests for what fuzzing found (tests/fuzz/regressions/ holds
 * the inputs; these pin the fixed behaviour with the normal build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudx-proxy/setup.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "ssh/sshconf.h"
#include "ssh/sshkey.h"
#include "ssm/datachan.h"
#include "ssm/ssmmsg.h"
#include "ssm/ws.h"

/* A StreamUrl with a control character would go into the request line. */
static void
test_ws_url_control_chars(void **state)
{
	static const char *const bad[] = {
		"wss://h/v1/data-channel/s?role=publis\024h",
		"wss://h\177/x", "wss://h/a b", "wss://h/a\tb", "ws://h/\r\nX: y",
	};
	char *cu, *host, *target;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cx_ws_url_split(bad[i], &cu, &host, &target),
		    CX_ERR_INPUT);
		assert_null(cu);
	}
	assert_int_equal(cx_ws_url_split("wss://h:8443/v1/d/s?role=x",
	    &cu, &host, &target), 0);
	assert_string_equal(host, "h:8443");
	assert_string_equal(target, "/v1/d/s?role=x");
	free(cu);
	free(host);
	free(target);
}

/* cx_ws_next() before anything was read: no input, no arithmetic on a
 * NULL buffer. */
static long
no_recv(void *ctx, void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return 0;
}

static void
test_ws_next_without_input(void **state)
{
	struct cx_ws_io io = { NULL, no_recv, NULL };
	const unsigned char *d;
	struct cx_ws ws;
	size_t len;
	int op;

	(void)state;
	io.send = NULL;
	cx_ws_init(&ws, &io, 0);
	ws.state = CX_WS_OPEN;
	assert_int_equal(cx_ws_next(&ws, &op, &d, &len), CX_WS_NONE);
	cx_ws_clean_up(&ws);
}

/* A fragmented message whose first fragment is empty. */
struct one {
	const unsigned char *p;
	size_t n;
};

static long
one_recv(void *ctx, void *p, size_t n)
{
	struct one *o = ctx;

	if (o->n == 0)
		return CX_ERR_NETWORK;
	if (n > o->n)
		n = o->n;
	memcpy(p, o->p, n);
	o->p += n;
	o->n -= n;
	return (long)n;
}

static void
test_ws_empty_first_fragment(void **state)
{
	static const unsigned char in[] = { 0x02, 0x00, 0x80, 0x02, 'h', 'i' };
	struct one o = { in, sizeof(in) };
	struct cx_ws_io io = { NULL, one_recv, &o };
	const unsigned char *d;
	struct cx_ws ws;
	size_t len;
	int op;

	(void)state;
	cx_ws_init(&ws, &io, 0);
	ws.state = CX_WS_OPEN;
	assert_true(cx_ws_fill(&ws) > 0);
	assert_int_equal(cx_ws_next(&ws, &op, &d, &len), CX_WS_MSG);
	assert_int_equal(op, CX_WS_OP_BINARY);
	assert_int_equal(len, 2);
	assert_memory_equal(d, "hi", 2);
	cx_ws_clean_up(&ws);
}

/* A settings.json that is not valid JSONC is refused, not rewritten. */
static void
test_vscode_invalid_jsonc(void **state)
{
	struct cx_buf out;
	int changed = -1;

	(void)state;
	cx_buf_init(&out, 0);
	assert_int_equal(cx_drv_vscode_merge("{\"a\": nzull, \"x\": [1]}",
	    "/c", "cloudx", &out, &changed), CX_ERR_INPUT);
	assert_int_equal(cx_drv_vscode_merge("{\"a\": 1 2}", "/c", "cloudx",
	    &out, &changed), CX_ERR_INPUT);
	assert_int_equal(cx_drv_vscode_merge("{\"a\": 1, // c\n}", "/c",
	    "cloudx", &out, &changed), 0);
	assert_int_equal(changed, 1);
	/* a file that ends inside a block comment: appending an object
	 * would leave it inside the comment */
	assert_int_equal(cx_drv_vscode_merge("// x\n/* open", "/c",
	    "cloudx", &out, &changed), CX_ERR_INPUT);
	cx_buf_clean_up(&out);
}

/* An AWS file with a NUL byte is not edited (the rest would be lost). */
static void
test_drv_ini_nul(void **state)
{
	static const char txt[] = "[a]\nk = v\n[\0profile b]\nregion=x\n";
	const char *const keys[] = { "region" }, *const vals[] = { "y" };
	struct cx_buf b;

	(void)state;
	cx_buf_init(&b, 0);
	assert_int_equal(cx_buf_append(&b, txt, sizeof(txt) - 1), 0);
	assert_int_equal(cx_drv_ini_set(&b, "a", keys, vals, 1),
	    CX_ERR_INPUT);
	assert_int_equal(b.len, sizeof(txt) - 1);
	assert_memory_equal(b.data, txt, sizeof(txt) - 1);
	cx_buf_clean_up(&b);
}

/* The sshkey parser reads only len bytes (text need not end in NUL). */
static void
test_sshkey_bounded(void **state)
{
	static const char line[] = "# c\n\nssh-ed25519 AAAA!x\n    ";
	struct cx_sshkey k;
	char *t;

	(void)state;
	/* an exact-size heap copy: ASan catches a read past the end */
	t = malloc(sizeof(line) - 1);
	memcpy(t, line, sizeof(line) - 1);
	memset(&k, 0, sizeof(k));
	assert_int_equal(cx_sshkey_parse(t, sizeof(line) - 1, "t", &k),
	    CX_ERR_INPUT);
	cx_sshkey_clean_up(&k);
	free(t);
}

/* Listing a file with no environment of ours. */
static void
test_sshconf_list_empty(void **state)
{
	static const char txt[] = "Host cloudx-*\r\n    User ec2-user\r\n";
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf *m = NULL;

	(void)state;
	assert_int_equal(cx_sshconf_parse(txt, sizeof(txt) - 1, "cloudx", 0,
	    &m), 0);
	assert_int_equal(cx_sshconf_list(m, NULL, &l), 0);
	assert_int_equal(l->nenvs, 0);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
}

/* An agent that sends one HandshakeRequest after another (new sequence
 * numbers) until our window is full gets a protocol error, not an
 * internal one. */
static int
drop_send(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return 0;
}

static void
test_datachan_handshake_flood(void **state)
{
	static const char hs[] = "{\"AgentVersion\":\"3\","
	    "\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
	    "\"ActionParameters\":{\"SessionType\":\"Port\"}}]}";
	static const unsigned char id[16] = { 1 };
	struct cx_dc_opts o = { 4, 8, NULL };
	struct cx_dc_cb cb = { drop_send, NULL, NULL };
	unsigned char f[CX_SSMMSG_HDR + 256];
	struct cx_dc dc;
	size_t n;
	int64_t seq;
	int r = 0;

	(void)state;
	cx_log_set_verbosity(-2);
	assert_int_equal(cx_dc_init(&dc, &o, &cb), 0);
	for (seq = 0; seq < 10 && r == 0; seq++) {
		n = cx_ssmmsg_encode(f, sizeof(f), CX_SSM_OUTPUT, 1000, seq, 0,
		    id, CX_SSM_PT_HS_REQUEST, hs, sizeof(hs) - 1);
		r = cx_dc_on_message(&dc, f, n, 1000);
	}
	assert_int_equal(r, CX_ERR_PROTOCOL);
	assert_int_equal(seq, 5);	/* window 4: the fifth is refused */
	cx_dc_clean_up(&dc);
	cx_log_set_verbosity(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ws_url_control_chars),
		cmocka_unit_test(test_ws_next_without_input),
		cmocka_unit_test(test_ws_empty_first_fragment),
		cmocka_unit_test(test_vscode_invalid_jsonc),
		cmocka_unit_test(test_drv_ini_nul),
		cmocka_unit_test(test_sshkey_bounded),
		cmocka_unit_test(test_sshconf_list_empty),
		cmocka_unit_test(test_datachan_handshake_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
