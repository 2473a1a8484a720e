/* The data-channel state machine, driven by hand-built agent messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "core/os.h"
#include "ssm/datachan.h"
#include "ssm/ssmmsg.h"

#define MAXF	4096

struct cap {
	unsigned char *f[MAXF];
	size_t n[MAXF];
	size_t nf;
	unsigned char out[1 << 16];
	size_t outlen;
};

static int
c_send(void *ctx, const void *p, size_t n)
{
	struct cap *c = ctx;

	assert_true(c->nf < MAXF);
	c->f[c->nf] = malloc(n);
	memcpy(c->f[c->nf], p, n);
	c->n[c->nf++] = n;
	return 0;
}

static int
c_deliver(void *ctx, const void *p, size_t n)
{
	struct cap *c = ctx;

	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

static void
cap_reset(struct cap *c)
{
	size_t i;

	for (i = 0; i < c->nf; i++)
		free(c->f[i]);
	c->nf = 0;
}

/* Decodes frame i of the capture. */
static void
frame(struct cap *c, size_t i, struct cx_ssmmsg *m)
{
	assert_true(i < c->nf);
	assert_int_equal(cx_ssmmsg_decode(c->f[i], c->n[i], m), 0);
	assert_true(cx_ssmmsg_valid(m));
}

static unsigned char agent_id[16] = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10,
    11, 12, 13, 14, 15, 16 };

/* Feeds one agent message to dc. */
static int
feed(struct cx_dc *dc, const char *type, int64_t seq, uint32_t pt,
    const void *p, size_t n, uint64_t now)
{
	unsigned char f[4096];
	size_t l;

	agent_id[15] = (unsigned char)seq;
	l = cx_ssmmsg_encode(f, sizeof(f), type, 1700000000000ULL, seq,
	    seq == 0 ? 1 : 0, agent_id, pt, p, (uint32_t)n);
	assert_true(l > 0);
	return cx_dc_on_message(dc, f, l, now);
}

static int
feed_ack(struct cx_dc *dc, int64_t seq, uint64_t now)
{
	char j[256];
	unsigned char id[16] = { 0 };
	size_t l;

	l = cx_ssm_ack_json(j, sizeof(j), CX_SSM_INPUT, id, seq);
	return feed(dc, CX_SSM_ACK, 0, 0, j, l, now);
}

/* Asserts that frame i is an ack of agent seq. */
static void
is_ack(struct cap *c, size_t i, int64_t seq)
{
	struct cx_ssmmsg m;
	int64_t s;

	frame(c, i, &m);
	assert_string_equal(m.type, CX_SSM_ACK);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.flags, 3);
	assert_int_equal(m.payload_type, 0);
	assert_int_equal(cx_ssm_ack_parse(m.payload, m.payload_len, &s), 0);
	assert_int_equal(s, seq);
	assert_non_null(cx_memmem(m.payload, m.payload_len,
	    "\"AcknowledgedMessageType\":\"output_stream_data\"", 46));
}

static const char hsreq[] = "{\"AgentVersion\":\"3.3.987.0\","
    "\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
    "\"ActionParameters\":{\"SessionType\":\"Port\",\"Properties\":"
    "{\"portNumber\":\"22\"}}}]}";
static const char hsdone[] = "{\"HandshakeTimeToComplete\":1000,"
    "\"CustomerMessage\":\"welcome\"}";

static void
setup_dc(struct cx_dc *dc, struct cap *c, size_t window)
{
	struct cx_dc_opts o = { window, 8, NULL };
	struct cx_dc_cb cb = { c_send, c_deliver, NULL };
	struct cx_ssmmsg m;

	memset(c, 0, sizeof(*c));
	cb.ctx = c;
	assert_int_equal(cx_dc_init(dc, &o, &cb), 0);
	cx_dc_reconnected(dc);
	assert_int_equal(cx_dc_room(dc), 0);
	assert_int_equal(feed(dc, CX_SSM_OUTPUT, 0, CX_SSM_PT_HS_REQUEST,
	    hsreq, sizeof(hsreq) - 1, 1000), 0);
	/* the ack first, then the response with client sequence 0 */
	assert_int_equal(c->nf, 2);
	is_ack(c, 0, 0);
	frame(c, 1, &m);
	assert_string_equal(m.type, CX_SSM_INPUT);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.payload_type, CX_SSM_PT_HS_RESPONSE);
	assert_memory_equal(m.payload, "{\"ClientVersion\":\"1.2.0.0\","
	    "\"ProcessedClientActions\":[{\"ActionType\":\"SessionType\","
	    "\"ActionStatus\":1,", 98);
	assert_int_equal(cx_dc_room(dc), 0);	/* no data before complete */
	assert_int_equal(feed_ack(dc, 0, 1010), 0);
	assert_int_equal(cx_dc_unacked(dc), 0);
	assert_int_equal(feed(dc, CX_SSM_OUTPUT, 1, CX_SSM_PT_HS_COMPLETE,
	    hsdone, sizeof(hsdone) - 1, 1020), 0);
	assert_int_equal(c->nf, 3);
	is_ack(c, 2, 1);
	assert_int_equal(dc->state, CX_DC_STREAMING);
	assert_string_equal(dc->customer_message, "welcome");
	assert_int_equal(cx_dc_room(dc), window * 1024);
	cap_reset(c);
}

static void
test_handshake_and_upload(void **state)
{
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;
	unsigned char data[2500];
	size_t i;

	(void)state;
	setup_dc(&dc, &c, 4);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)i;
	data[0] = '\n';		/* a lone newline stays a newline */
	assert_int_equal(cx_dc_write(&dc, data, 1, 2000), 0);
	assert_int_equal(cx_dc_write(&dc, data + 1, sizeof(data) - 1, 2000), 0);
	assert_int_equal(cx_dc_room(&dc), 0);	/* window of 4 is full */
	assert_int_equal(cx_dc_pump(&dc, 2000, 2), 0);
	assert_int_equal(c.nf, 2);		/* max_new respected */
	assert_int_equal(cx_dc_pump(&dc, 2000, 100), 0);
	assert_int_equal(c.nf, 4);
	frame(&c, 0, &m);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.payload_type, CX_SSM_PT_OUTPUT);
	assert_int_equal(m.payload_len, 1);
	assert_int_equal(m.payload[0], '\n');
	frame(&c, 1, &m);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.payload_len, 1024);
	assert_memory_equal(m.payload, data + 1, 1024);
	frame(&c, 3, &m);
	assert_int_equal(m.seq, 4);
	assert_int_equal(m.payload_len, 2499 - 2048);
	assert_memory_equal(m.payload, data + 2049, 2499 - 2048);
	cap_reset(&c);
	/* acks out of order free the window from the head only */
	assert_int_equal(feed_ack(&dc, 2, 2050), 0);
	assert_int_equal(cx_dc_unacked(&dc), 4);
	assert_int_equal(cx_dc_room(&dc), 0);
	assert_int_equal(feed_ack(&dc, 1, 2050), 0);
	assert_int_equal(cx_dc_unacked(&dc), 2);
	assert_int_equal(cx_dc_room(&dc), 2048);
	/* an ack of something unknown is ignored */
	assert_int_equal(feed_ack(&dc, 99, 2050), 0);
	assert_int_equal(cx_dc_unacked(&dc), 2);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_retransmit(void **state)
{
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;

	(void)state;
	setup_dc(&dc, &c, 8);
	dc.rto_ms = 200;
	assert_int_equal(cx_dc_write(&dc, "abc", 3, 5000), 0);
	assert_int_equal(cx_dc_write(&dc, "def", 3, 5000), 0);
	assert_int_equal(cx_dc_pump(&dc, 5000, 100), 0);
	assert_int_equal(c.nf, 2);
	assert_int_equal(cx_dc_timeout_ms(&dc, 5000), 201);
	assert_int_equal(cx_dc_pump(&dc, 5200, 100), 0);
	assert_int_equal(c.nf, 2);		/* not yet overdue */
	assert_int_equal(cx_dc_pump(&dc, 5201, 100), 0);
	assert_int_equal(c.nf, 3);		/* only the oldest is resent */
	assert_int_equal(c.n[2], c.n[0]);
	assert_memory_equal(c.f[2], c.f[0], c.n[0]);	/* same bytes */
	/* the send time was updated: no resend on the next tick */
	assert_int_equal(cx_dc_pump(&dc, 5301, 100), 0);
	assert_int_equal(c.nf, 3);
	assert_int_equal(dc.n_resent, 1);
	/* ack of the resent head: RTT sample from the resend */
	assert_int_equal(feed_ack(&dc, 1, 5241), 0);
	assert_true(dc.rtt_ms < 100);
	/* the next head is overdue: resent at once */
	assert_int_equal(cx_dc_pump(&dc, 5242, 100), 0);
	assert_int_equal(c.nf, 4);
	frame(&c, 3, &m);
	assert_int_equal(m.seq, 2);
	/* while paused: nothing is sent or resent, acks still go */
	assert_int_equal(feed(&dc, CX_SSM_PAUSE, 0, 0, "", 0, 5300), 0);
	assert_int_equal(cx_dc_write(&dc, "ghi", 3, 5300), 0);
	assert_int_equal(cx_dc_pump(&dc, 9000, 100), 0);
	assert_int_equal(c.nf, 4);
	assert_int_equal(cx_dc_timeout_ms(&dc, 9000), -1);
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 2, 1, "x", 1, 9000), 0);
	assert_int_equal(c.nf, 5);
	is_ack(&c, 4, 2);
	assert_int_equal(feed(&dc, CX_SSM_START, 0, 0, "", 0, 9001), 0);
	assert_int_equal(cx_dc_pump(&dc, 9001, 100), 0);
	assert_int_equal(c.nf, 7);		/* overdue head + the new one */
	frame(&c, 5, &m);
	assert_int_equal(m.seq, 2);
	frame(&c, 6, &m);
	assert_int_equal(m.seq, 3);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

/* The stall clock: runs only while something is in flight unacked. */
static void
test_stall_clock(void **state)
{
	struct cx_dc dc;
	struct cap c;
	uint64_t p0;

	(void)state;
	setup_dc(&dc, &c, 8);
	p0 = dc.n_progress;
	assert_int_equal(cx_dc_pump(&dc, 2000, 100), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 60000), 0);	/* idle */
	assert_int_equal(cx_dc_write(&dc, "abc", 3, 60000), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 60000), 0);	/* not sent */
	assert_int_equal(cx_dc_pump(&dc, 60000, 100), 0);
	assert_int_equal(cx_dc_write(&dc, "def", 3, 60500), 0);
	assert_int_equal(cx_dc_pump(&dc, 60500, 100), 0);
	/* from the first send with nothing in flight, not from the idle time
	 * before it, nor from the second message or the resends */
	assert_int_equal(cx_dc_pump(&dc, 61000, 100), 0);
	assert_true(dc.n_resent >= 1);
	assert_int_equal(cx_dc_stalled_ms(&dc, 63000), 3000);
	/* a later message acked is no progress; the oldest is */
	assert_int_equal(feed_ack(&dc, 2, 63000), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 63500), 3500);
	assert_int_equal(dc.n_progress, p0);
	assert_int_equal(feed_ack(&dc, 1, 64000), 0);
	assert_int_equal(dc.n_progress, p0 + 1);
	assert_int_equal(cx_dc_stalled_ms(&dc, 64000), 0);	/* all acked */
	/* paused, or disconnected: not a stall; the clock restarts after */
	assert_int_equal(cx_dc_write(&dc, "ghi", 3, 70000), 0);
	assert_int_equal(cx_dc_pump(&dc, 70000, 100), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 71000), 1000);
	assert_int_equal(feed(&dc, CX_SSM_PAUSE, 0, 0, "", 0, 71000), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 90000), 0);
	assert_int_equal(feed(&dc, CX_SSM_START, 0, 0, "", 0, 90000), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 90400), 400);
	cx_dc_disconnected(&dc);
	assert_int_equal(cx_dc_stalled_ms(&dc, 95000), 0);
	cx_dc_reconnected(&dc);
	assert_int_equal(cx_dc_pump(&dc, 96000, 100), 0);
	assert_int_equal(cx_dc_stalled_ms(&dc, 96100), 100);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

/* The agent acks a later message while the oldest is unacked (it dropped
 * the oldest: not ready yet): the oldest goes again at once, only once. */
static void
test_fast_retransmit(void **state)
{
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;

	(void)state;
	setup_dc(&dc, &c, 8);
	dc.rto_ms = 200;
	assert_int_equal(cx_dc_write(&dc, "ver", 3, 5000), 0);	/* seq 1 */
	assert_int_equal(cx_dc_pump(&dc, 5000, 100), 0);
	assert_int_equal(cx_dc_write(&dc, "kex", 3, 5009), 0);	/* seq 2 */
	assert_int_equal(cx_dc_write(&dc, "ini", 3, 5009), 0);	/* seq 3 */
	assert_int_equal(cx_dc_pump(&dc, 5009, 100), 0);
	assert_int_equal(c.nf, 3);
	/* seq 2 acked (buffered out of order by the agent): seq 1 again */
	assert_int_equal(feed_ack(&dc, 2, 5010), 0);
	assert_int_equal(c.nf, 4);
	frame(&c, 3, &m);
	assert_int_equal(m.seq, 1);
	assert_memory_equal(c.f[3], c.f[0], c.n[0]);
	assert_int_equal(dc.n_fast_resent, 1);
	/* seq 3 acked too: no second early resend of seq 1 */
	assert_int_equal(feed_ack(&dc, 3, 5011), 0);
	assert_int_equal(c.nf, 4);
	/* the RTO runs from the resend */
	assert_int_equal(cx_dc_timeout_ms(&dc, 5010), (long)dc.rto_ms + 1);
	assert_int_equal(feed_ack(&dc, 1, 5012), 0);
	assert_int_equal(cx_dc_unacked(&dc), 0);
	/* in order acks never resend */
	assert_int_equal(cx_dc_write(&dc, "a", 1, 6000), 0);
	assert_int_equal(cx_dc_write(&dc, "b", 1, 6000), 0);
	assert_int_equal(cx_dc_pump(&dc, 6000, 100), 0);
	assert_int_equal(feed_ack(&dc, 4, 6001), 0);
	assert_int_equal(feed_ack(&dc, 5, 6002), 0);
	assert_int_equal(c.nf, 6);
	assert_int_equal(dc.n_fast_resent, 1);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_reconnect_resends_all(void **state)
{
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;
	int i;

	(void)state;
	setup_dc(&dc, &c, 8);
	for (i = 0; i < 5; i++)
		assert_int_equal(cx_dc_write(&dc, "z", 1, 100), 0);
	assert_int_equal(cx_dc_pump(&dc, 100, 100), 0);
	assert_int_equal(feed_ack(&dc, 3, 101), 0);
	cap_reset(&c);
	cx_dc_disconnected(&dc);
	assert_int_equal(cx_dc_pump(&dc, 5000, 100), 0);
	assert_int_equal(c.nf, 0);
	cx_dc_reconnected(&dc);
	assert_int_equal(cx_dc_pump(&dc, 5001, 100), 0);
	assert_int_equal(c.nf, 4);	/* 1 2 4 5: 3 was acked */
	frame(&c, 0, &m);
	assert_int_equal(m.seq, 1);
	frame(&c, 2, &m);
	assert_int_equal(m.seq, 4);
	frame(&c, 3, &m);
	assert_int_equal(m.seq, 5);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_download_order(void **state)
{
	struct cx_dc dc;
	struct cap c;
	unsigned char f[512];
	size_t l;
	static const char closed[] = "{\"MessageType\":\"channel_closed\","
	    "\"Output\":\"\"}";

	(void)state;
	setup_dc(&dc, &c, 8);
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 2, 1, "AA", 2, 10), 0);
	assert_int_equal(c.nf, 1);
	is_ack(&c, 0, 2);
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 4, 1, "CC", 2, 10), 0);
	is_ack(&c, 1, 4);		/* future: acked on arrival */
	assert_int_equal(c.outlen, 2);
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 4, 1, "CC", 2, 10), 0);
	is_ack(&c, 2, 4);		/* buffered twice: re-acked */
	/* a flag payload never reaches stdout */
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 3, CX_SSM_PT_FLAG,
	    "\0\0\0\3", 4, 10), 0);
	is_ack(&c, 3, 3);
	assert_int_equal(c.outlen, 4);
	assert_memory_equal(c.out, "AACC", 4);
	/* duplicate: re-acked, not delivered */
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 2, 1, "AA", 2, 10), 0);
	is_ack(&c, 4, 2);
	assert_int_equal(c.outlen, 4);
	/* too far ahead for the reorder buffer (8): dropped unacked */
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 5 + 8, 1, "Z", 1, 10), 0);
	assert_int_equal(c.nf, 5);
	/* corrupted digest: dropped unacked */
	agent_id[15] = 5;
	l = cx_ssmmsg_encode(f, sizeof(f), CX_SSM_OUTPUT, 1, 5, 0, agent_id, 1,
	    "DD", 2);
	f[l - 1] ^= 0x20;
	assert_int_equal(cx_dc_on_message(&dc, f, l, 10), 0);
	assert_int_equal(c.nf, 5);
	assert_int_equal(dc.n_corrupt, 1);
	/* truncated: dropped */
	assert_int_equal(cx_dc_on_message(&dc, f, 100, 10), 0);
	assert_int_equal(c.nf, 5);
	/* unknown type: ignored */
	assert_int_equal(feed(&dc, "agent_session_state", 0, 0, "{}", 2, 10),
	    0);
	assert_int_equal(c.nf, 5);
	f[l - 1] ^= 0x20;
	assert_int_equal(cx_dc_on_message(&dc, f, l, 10), 0);
	is_ack(&c, 5, 5);
	assert_int_equal(c.outlen, 6);
	assert_memory_equal(c.out, "AACCDD", 6);
	/* channel_closed, 116-byte header variant */
	assert_int_equal(feed(&dc, CX_SSM_CLOSED, 0, 0, closed,
	    sizeof(closed) - 1, 10), 1);
	assert_true(dc.closed);
	assert_string_equal(dc.close_output, "");
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_closed_112(void **state)
{
	struct cx_dc dc;
	struct cap c;
	static const char js[] = "{\"Output\":\"session expired\"}";
	unsigned char g[256], f[256], id[16] = { 0 };
	size_t l;

	(void)state;
	setup_dc(&dc, &c, 8);
	/* build a 116 message, then cut out PayloadType: HL 112 */
	l = cx_ssmmsg_encode(g, sizeof(g), CX_SSM_CLOSED, 5, 0, 0, id, 0, js,
	    sizeof(js) - 1);
	memcpy(f, g, 112);
	memcpy(f + 112, g + 116, l - 116);
	l -= 4;
	f[3] = 112;
	memset(f + 4 + 14, 0, 32 - 14);		/* NUL padding */
	assert_int_equal(cx_dc_on_message(&dc, f, l, 10), 1);
	assert_string_equal(dc.close_output, "session expired");
	assert_int_equal(c.nf, 0);		/* never acked */
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_finish(void **state)
{
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;

	(void)state;
	setup_dc(&dc, &c, 8);
	assert_int_equal(cx_dc_write(&dc, "bye", 3, 10), 0);
	assert_int_equal(cx_dc_pump(&dc, 10, 100), 0);
	assert_int_equal(cx_dc_finish(&dc, 11), 0);
	assert_int_equal(dc.state, CX_DC_DRAINING);
	assert_int_equal(cx_dc_room(&dc), 0);
	assert_int_equal(c.nf, 1);
	assert_int_equal(feed_ack(&dc, 1, 12), 0);
	assert_int_equal(dc.state, CX_DC_TERMINATING);
	assert_int_equal(c.nf, 2);
	frame(&c, 1, &m);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.payload_type, CX_SSM_PT_FLAG);
	assert_int_equal(m.payload_len, 4);
	assert_memory_equal(m.payload, "\0\0\0\2", 4);
	assert_int_equal(feed_ack(&dc, 2, 13), 0);
	assert_int_equal(dc.state, CX_DC_DONE);
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_handshake_unsupported(void **state)
{
	static const char req[] = "{\"RequestedClientActions\":["
	    "{\"ActionType\":\"KMSEncryption\",\"ActionParameters\":"
	    "{\"KMSKeyId\":\"k\"}}]}";
	struct cx_dc_opts o = { 8, 8, "9.9.9.9" };
	struct cx_dc_cb cb = { c_send, c_deliver, NULL };
	struct cx_dc dc;
	struct cap c;
	struct cx_ssmmsg m;

	(void)state;
	memset(&c, 0, sizeof(c));
	cb.ctx = &c;
	assert_int_equal(cx_dc_init(&dc, &o, &cb), 0);
	cx_dc_reconnected(&dc);
	/* data before the handshake has nowhere to go */
	assert_int_equal(cx_dc_write(&dc, "x", 1, 1), CX_ERR_INTERNAL);
	assert_int_equal(feed(&dc, CX_SSM_OUTPUT, 0, CX_SSM_PT_HS_REQUEST,
	    req, sizeof(req) - 1, 1), CX_ERR_SESSION);
	assert_int_equal(c.nf, 2);
	frame(&c, 1, &m);
	assert_int_equal(m.payload_type, CX_SSM_PT_HS_RESPONSE);
	assert_non_null(cx_memmem(m.payload, m.payload_len,
	    "\"ClientVersion\":\"9.9.9.9\"", 25));
	assert_non_null(cx_memmem(m.payload, m.payload_len,
	    "\"ActionType\":\"KMSEncryption\",\"ActionStatus\":3", 45));
	cx_dc_clean_up(&dc);
	cap_reset(&c);
}

static void
test_rto_vector(void **state)
{
	struct cx_dc dc;
	struct cap c;

	(void)state;
	setup_dc(&dc, &c, 8);
	dc.rtt_ms = 100;
	dc.rttvar_ms = 0;
	dc.rto_ms = 200;
	cx_dc_rtt_sample(&dc, 140);
	assert_true(dc.rtt_ms > 104.999 && dc.rtt_ms < 105.001);
	assert_true(dc.rttvar_ms > 9.999 && dc.rttvar_ms < 10.001);
	assert_true(dc.rto_ms > 144.999 && dc.rto_ms < 145.001);
	cx_dc_rtt_sample(&dc, 100000);
	assert_true(dc.rto_ms == 1000);
	cx_dc_clean_up(&dc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_upload),
		cmocka_unit_test(test_retransmit),
		cmocka_unit_test(test_reconnect_resends_all),
		cmocka_unit_test(test_fast_retransmit),
		cmocka_unit_test(test_stall_clock),
		cmocka_unit_test(test_download_order),
		cmocka_unit_test(test_closed_112),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_handshake_unsupported),
		cmocka_unit_test(test_rto_vector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
