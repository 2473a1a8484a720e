/* libFuzzer target: the SSM data-channel state machine (lib/ssm/datachan.c)
 * driven by a script of well-formed (digest-correct) and raw agent
 * messages interleaved with local events (stdin data, pump, reconnect,
 * finish), with a small window and reorder buffer.  Properties: every
 * frame it sends decodes and validates; it never delivers more bytes than
 * the agent sent; the reorder buffer never exceeds its bound. */
#include <stdio.h>

#include "fuzz.h"

#include "core/cxerr.h"
#include "core/log.h"
#include "ssm/datachan.h"
#include "ssm/ssmmsg.h"

struct fz {
	uint64_t sent, delivered_bytes, agent_bytes;
};

static int
fz_send(void *ctx, const void *frame, size_t n)
{
	struct cx_ssmmsg m;
	struct fz *f = ctx;

	FZ_ASSERT(cx_ssmmsg_decode(frame, n, &m) == 0);
	FZ_ASSERT(cx_ssmmsg_valid(&m));
	f->sent++;
	return 0;
}

static int
fz_deliver(void *ctx, const void *p, size_t n)
{
	struct fz *f = ctx;

	(void)p;
	f->delivered_bytes += n;
	FZ_ASSERT(f->delivered_bytes <= f->agent_bytes);
	return 0;
}

static const char hs_req[] = "{\"AgentVersion\":\"3.3.0.0\","
    "\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
    "\"ActionParameters\":{\"SessionType\":\"Port\",\"Properties\":"
    "{\"portNumber\":\"22\"}}}]}";
static const char hs_done[] = "{\"HandshakeTimeToComplete\":1000000,"
    "\"CustomerMessage\":\"hello\"}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char id[16] = { 1, 2, 3 };
	struct cx_dc_opts o = { 4, 8, NULL };
	struct cx_dc_cb cb;
	struct cx_dc dc;
	struct fz f;
	unsigned char frame[CX_SSMMSG_HDR + 512], in[256];
	char ack[256];
	const void *pl;
	size_t n, len, plen;
	uint64_t now = 1000;
	int64_t seq;
	int kind, r, done = 0;
	uint32_t pt;

	cx_log_set_verbosity(-2);
	memset(&f, 0, sizeof(f));
	memset(in, 'x', sizeof(in));
	cb.send = fz_send;
	cb.deliver = fz_deliver;
	cb.ctx = &f;
	if (cx_dc_init(&dc, &o, &cb) != 0)
		abort();
	while (size >= 4 && !done) {
		kind = data[0] % 9;
		seq = data[1] % 16;
		pt = data[2];
		len = data[3];
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		pl = data;
		plen = len;
		now += len * 7;
		r = 0;
		switch (kind) {
		case 0:	/* ack of one of our sequence numbers */
			plen = cx_ssm_ack_json(ack, sizeof(ack), CX_SSM_INPUT,
			    id, seq);
			n = cx_ssmmsg_encode(frame, sizeof(frame), CX_SSM_ACK,
			    now, 0, CX_SSM_FLAGS_ACK, id, 0, ack, plen);
			r = cx_dc_on_message(&dc, frame, n, now);
			break;
		case 1:	/* agent output, any payload type */
			n = cx_ssmmsg_encode(frame, sizeof(frame),
			    CX_SSM_OUTPUT, now, seq, 0, id, pt % 14, pl, plen);
			if (pt % 14 == CX_SSM_PT_OUTPUT)
				f.agent_bytes += plen;
			r = cx_dc_on_message(&dc, frame, n, now);
			break;
		case 2:	/* the handshake, as the agent sends it */
			pl = pt & 1 ? hs_done : hs_req;
			plen = strlen(pl);
			n = cx_ssmmsg_encode(frame, sizeof(frame),
			    CX_SSM_OUTPUT, now, seq, 0, id, pt & 1 ?
			    CX_SSM_PT_HS_COMPLETE : CX_SSM_PT_HS_REQUEST, pl,
			    plen);
			r = cx_dc_on_message(&dc, frame, n, now);
			break;
		case 3:
			n = cx_ssmmsg_encode(frame, sizeof(frame),
			    CX_SSM_CLOSED, now, seq, 0, id, 0, pl, plen);
			r = cx_dc_on_message(&dc, frame, n, now);
			break;
		case 4:
			n = cx_ssmmsg_encode(frame, sizeof(frame), pt & 1 ?
			    CX_SSM_PAUSE : CX_SSM_START, now, 0, 0, id, 0,
			    NULL, 0);
			r = cx_dc_on_message(&dc, frame, n, now);
			break;
		case 5:	/* raw bytes: malformed or corrupted */
			r = cx_dc_on_message(&dc, pl, plen, now);
			break;
		case 6:	/* stdin data */
			n = plen < cx_dc_room(&dc) ? plen : cx_dc_room(&dc);
			r = cx_dc_write(&dc, in, n, now);
			break;
		case 7:
			(void)cx_dc_timeout_ms(&dc, now);
			r = cx_dc_pump(&dc, now, pt % 8);
			break;
		case 8:
			if (pt % 3 == 0)
				cx_dc_disconnected(&dc);
			else if (pt % 3 == 1)
				cx_dc_reconnected(&dc);
			else
				r = cx_dc_finish(&dc, now);
			break;
		}
		FZ_ASSERT(dc.reorder_count <= 8);
		FZ_ASSERT(cx_dc_unacked(&dc) <= 4);
		if (r == 1 || r == CX_ERR_SESSION || r == CX_ERR_PROTOCOL)
			done = 1;
		else if (r != 0) {
			fprintf(stderr, "kind %d r %d\n", kind, r);
			abort();
		}
		data += len;
		size -= len;
	}
	cx_dc_clean_up(&dc);
	return 0;
}
