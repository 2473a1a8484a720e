#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "datachan.h"

#define SLOT_BYTES	(CX_SSMMSG_HDR + CX_SSMMSG_CHUNK)
#define ACK_BYTES	(CX_SSMMSG_HDR + 256)

struct cx_dc_slot {
	int64_t seq;		/* -1: free (acked) */
	uint64_t last_sent_ms;	/* 0: never sent */
	uint32_t len;
	unsigned char *frame;	/* SLOT_BYTES in dc->slot_mem */
};

struct cx_dc_rslot {
	int64_t seq;		/* -1: free */
	uint32_t ptype;
	uint32_t len;
	unsigned char *data;	/* malloc'd payload copy */
};

int
cx_dc_init(struct cx_dc *dc, const struct cx_dc_opts *o,
    const struct cx_dc_cb *cb)
{
	size_t i;
	const char *cv;

	memset(dc, 0, sizeof(*dc));
	dc->cb = *cb;
	dc->fast_resent = -1;
	dc->window = o->window ? o->window : 512;
	dc->reorder_max = o->reorder_max ? o->reorder_max : 4096;
	cv = o->client_version ? o->client_version : "1.2.0.0";
	if (strlen(cv) >= sizeof(dc->client_version))
		return CX_ERR_INTERNAL;
	memcpy(dc->client_version, cv, strlen(cv) + 1);
	/* calloc: pages are only touched (resident) as the window fills */
	dc->slots = calloc(dc->window, sizeof(*dc->slots));
	dc->slot_mem = calloc(dc->window, SLOT_BYTES);
	dc->reorder = calloc(dc->reorder_max, sizeof(*dc->reorder));
	if (dc->slots == NULL || dc->slot_mem == NULL || dc->reorder == NULL) {
		cx_dc_clean_up(dc);
		return CX_ERR_NOMEM;
	}
	for (i = 0; i < dc->window; i++) {
		dc->slots[i].seq = -1;
		dc->slots[i].frame = dc->slot_mem + i * SLOT_BYTES;
	}
	for (i = 0; i < dc->reorder_max; i++)
		dc->reorder[i].seq = -1;
	dc->rtt_ms = CX_DC_RTT_INIT_MS;
	dc->rttvar_ms = 0;
	dc->rto_ms = CX_DC_RTO_INIT_MS;
	dc->rnd_off = sizeof(dc->rnd);
	dc->state = CX_DC_HANDSHAKE;
	return 0;
}

void
cx_dc_clean_up(struct cx_dc *dc)
{
	size_t i;

	if (dc->reorder != NULL)
		for (i = 0; i < dc->reorder_max; i++)
			free(dc->reorder[i].data);
	free(dc->reorder);
	free(dc->slots);
	free(dc->slot_mem);
	free(dc->close_output);
	free(dc->customer_message);
	free(dc->session_type);
	memset(dc, 0, sizeof(*dc));
}

void
cx_dc_clock(struct cx_dc *dc, int64_t wall_ms)
{
	dc->wall_ms = wall_ms;
}

static uint64_t
created_ms(const struct cx_dc *dc)
{
	return (uint64_t)(dc->wall_ms > 0 ? dc->wall_ms : cx_wall_ms());
}

static struct cx_dc_slot *
slot(struct cx_dc *dc, int64_t seq)
{
	return &dc->slots[(uint64_t)seq % dc->window];
}

static int
new_id(struct cx_dc *dc, unsigned char id[16])
{
	if (dc->rnd_off + 16 > sizeof(dc->rnd)) {
		if (RAND_bytes(dc->rnd, sizeof(dc->rnd)) != 1)
			return CX_ERR_INTERNAL;
		dc->rnd_off = 0;
	}
	memcpy(id, dc->rnd + dc->rnd_off, 16);
	dc->rnd_off += 16;
	id[6] = (id[6] & 0x0f) | 0x40;
	id[8] = (id[8] & 0x3f) | 0x80;
	return 0;
}

/* Places one sequenced input_stream_data message in the window. */
static int
enqueue(struct cx_dc *dc, uint32_t ptype, const void *p, size_t n)
{
	struct cx_dc_slot *s;
	unsigned char id[16];
	int r;

	if ((size_t)(dc->out_next - dc->out_head) >= dc->window ||
	    n > CX_SSMMSG_CHUNK)
		return CX_ERR_INTERNAL;
	if ((r = new_id(dc, id)) != 0)
		return r;
	s = slot(dc, dc->out_next);
	s->len = (uint32_t)cx_ssmmsg_encode(s->frame, SLOT_BYTES, CX_SSM_INPUT,
	    created_ms(dc), dc->out_next, CX_SSM_FLAGS_DATA, id, ptype,
	    p, (uint32_t)n);
	if (s->len == 0)
		return CX_ERR_INTERNAL;
	s->seq = dc->out_next++;
	s->last_sent_ms = 0;
	return 0;
}

static int
send_slot(struct cx_dc *dc, struct cx_dc_slot *s, uint64_t now_ms)
{
	int r;

	if ((r = dc->cb.send(dc->cb.ctx, s->frame, s->len)) != 0)
		return r;
	if (s->last_sent_ms != 0)
		dc->n_resent++;
	else
		dc->n_sent++;
	/* never 0: 0 means "not sent" */
	s->last_sent_ms = now_ms ? now_ms : 1;
	return 0;
}

static int
send_ack(struct cx_dc *dc, const struct cx_ssmmsg *m)
{
	unsigned char f[ACK_BYTES], id[16];
	size_t pl, n;
	int r;

	if ((r = new_id(dc, id)) != 0)
		return r;
	pl = cx_ssm_ack_json((char *)f + CX_SSMMSG_HDR, ACK_BYTES -
	    CX_SSMMSG_HDR, m->type, m->id, m->seq);
	if (pl == 0)
		return CX_ERR_INTERNAL;
	n = cx_ssmmsg_encode(f, sizeof(f), CX_SSM_ACK, created_ms(dc),
	    0, CX_SSM_FLAGS_ACK, id, CX_SSM_PT_NONE, f + CX_SSMMSG_HDR,
	    (uint32_t)pl);
	if (n == 0)
		return CX_ERR_INTERNAL;
	dc->n_acks_out++;
	return dc->cb.send(dc->cb.ctx, f, n);
}

void
cx_dc_rtt_sample(struct cx_dc *dc, double s)
{
	double d = dc->rtt_ms > s ? dc->rtt_ms - s : s - dc->rtt_ms;

	dc->rttvar_ms = 0.75 * dc->rttvar_ms + 0.25 * d;
	dc->rtt_ms = 0.875 * dc->rtt_ms + 0.125 * s;
	d = 4 * dc->rttvar_ms;
	dc->rto_ms = dc->rtt_ms + (d > CX_DC_CLOCK_MS ? d : CX_DC_CLOCK_MS);
	if (dc->rto_ms > CX_DC_RTO_MAX_MS)
		dc->rto_ms = CX_DC_RTO_MAX_MS;
}

static int
send_terminate(struct cx_dc *dc, uint64_t now_ms)
{
	static const unsigned char flag[4] = { 0, 0, 0, CX_SSM_FLAG_TERMINATE };
	int r;

	if ((r = enqueue(dc, CX_SSM_PT_FLAG, flag, sizeof(flag))) != 0)
		return r;
	dc->state = CX_DC_TERMINATING;
	cx_debug(2, "data channel: sending the TerminateSession flag");
	return cx_dc_pump(dc, now_ms, 1);
}

static int
on_ack(struct cx_dc *dc, const struct cx_ssmmsg *m, uint64_t now_ms)
{
	struct cx_dc_slot *s, *h;
	uint64_t sent;
	int64_t seq;
	int r;

	dc->n_acks_in++;
	if (cx_ssm_ack_parse(m->payload, m->payload_len, &seq) != 0) {
		dc->n_dropped++;
		return 0;
	}
	if (seq < dc->out_head || seq >= dc->out_next)
		return 0;
	s = slot(dc, seq);
	if (s->seq != seq)
		return 0;
	if (s->last_sent_ms != 0 && now_ms >= s->last_sent_ms)
		cx_dc_rtt_sample(dc, (double)(now_ms - s->last_sent_ms));
	sent = s->last_sent_ms;
	s->seq = -1;
	if (seq == dc->out_head) {
		dc->progress_ms = now_ms ? now_ms : 1;
		dc->n_progress++;
	}
	while (dc->out_head < dc->out_next && slot(dc, dc->out_head)->seq < 0)
		dc->out_head++;
	if (dc->out_unsent < dc->out_head)
		dc->out_unsent = dc->out_head;
	/*
	 * A later message acked, the oldest not: the agent buffered the later
	 * one out of order, so the oldest was dropped (§10: right after the
	 * handshake it drops data until it has dialled the port).  Resend the
	 * oldest now, once, rather than after the RTO (200 ms at first).
	 */
	if (seq > dc->out_head && dc->out_head < dc->out_unsent &&
	    dc->connected && !dc->paused && dc->fast_resent != dc->out_head) {
		h = slot(dc, dc->out_head);
		if (h->seq == dc->out_head && h->last_sent_ms != 0 &&
		    h->last_sent_ms <= sent) {
			cx_debug(2, "data channel: seq %lld acked before seq "
			    "%lld: resending it", (long long)seq,
			    (long long)h->seq);
			dc->fast_resent = h->seq;
			dc->n_fast_resent++;
			if ((r = send_slot(dc, h, now_ms)) != 0)
				return r;
		}
	}
	if (dc->out_head == dc->out_next) {
		if (dc->state == CX_DC_DRAINING)
			return send_terminate(dc, now_ms);
		if (dc->state == CX_DC_TERMINATING)
			dc->state = CX_DC_DONE;
	}
	return 0;
}

/* A sequenced agent message, in order.  need_ack: not acked yet. */
static int
process(struct cx_dc *dc, const struct cx_ssmmsg *m, uint32_t ptype,
    const unsigned char *p, size_t n, int need_ack, uint64_t now_ms)
{
	char resp[CX_SSMMSG_CHUNK], *st = NULL;
	size_t rl;
	int r, ok;

	switch (ptype) {
	case CX_SSM_PT_OUTPUT:
		if (n > 0 && (r = dc->cb.deliver(dc->cb.ctx, p, n)) != 0)
			return r;
		dc->bytes_down += n;
		return need_ack ? send_ack(dc, m) : 0;
	case CX_SSM_PT_HS_REQUEST:
		if (need_ack && (r = send_ack(dc, m)) != 0)
			return r;
		r = cx_ssm_handshake_answer(p, n, dc->client_version, resp,
		    sizeof(resp), &rl, &ok, &st);
		if (r != 0) {
			cx_error("cannot answer the session handshake: %s",
			    cx_strerror(r));
			return CX_ERR_SESSION;
		}
		free(dc->session_type);
		dc->session_type = st;
		cx_debug(1, "data channel: handshake for session type '%s'",
		    st ? st : "");
		/* an agent that repeats the handshake (each with a new
		 * sequence number) until the window is full broke the
		 * protocol: not an internal error */
		if ((size_t)(dc->out_next - dc->out_head) >= dc->window) {
			cx_error("the agent repeated the session handshake "
			    "too often");
			return CX_ERR_PROTOCOL;
		}
		if ((r = enqueue(dc, CX_SSM_PT_HS_RESPONSE, resp, rl)) != 0 ||
		    (r = cx_dc_pump(dc, now_ms, 1)) != 0)
			return r;
		if (!ok) {
			dc->handshake_failed = 1;
			cx_error("the agent asked for what cx-tunnel does not do "
			    "(session type '%s', or encryption)",
			    st ? st : "?");
			return CX_ERR_SESSION;
		}
		return 0;
	case CX_SSM_PT_HS_COMPLETE:
		if (need_ack && (r = send_ack(dc, m)) != 0)
			return r;
		free(dc->customer_message);
		if ((r = cx_ssm_json_field(p, n, "CustomerMessage",
		    &dc->customer_message)) != 0)
			return r;
		if (dc->state == CX_DC_HANDSHAKE)
			dc->state = CX_DC_STREAMING;
		cx_debug(1, "data channel: handshake complete");
		return 0;
	case CX_SSM_PT_ENC_REQUEST:
		if (need_ack && (r = send_ack(dc, m)) != 0)
			return r;
		cx_error("the agent asked for KMS encryption, which cx-tunnel "
		    "does not do");
		return CX_ERR_SESSION;
	default:
		/* Flag, Error, StdErr, ExitCode...: never stdout */
		cx_debug(1, "data channel: ignoring payload type %u",
		    (unsigned)ptype);
		return need_ack ? send_ack(dc, m) : 0;
	}
}

static int
on_stream(struct cx_dc *dc, const struct cx_ssmmsg *m, uint64_t now_ms)
{
	struct cx_dc_rslot *rs;
	int r;

	if (m->seq < dc->in_expected) {
		dc->n_dup++;
		return send_ack(dc, m);
	}
	if (m->seq > dc->in_expected) {
		if ((uint64_t)(m->seq - dc->in_expected) >= dc->reorder_max) {
			dc->n_dropped++;
			return 0;
		}
		rs = &dc->reorder[(uint64_t)m->seq % dc->reorder_max];
		if (rs->seq == m->seq) {
			dc->n_dup++;
			return send_ack(dc, m);
		}
		rs->data = NULL;
		if (m->payload_len > 0 &&
		    (rs->data = malloc(m->payload_len)) == NULL)
			return CX_ERR_NOMEM;
		if (m->payload_len > 0)
			memcpy(rs->data, m->payload, m->payload_len);
		rs->seq = m->seq;
		rs->ptype = m->payload_type;
		rs->len = m->payload_len;
		dc->reorder_count++;
		dc->n_reordered++;
		return send_ack(dc, m);
	}
	if ((r = process(dc, m, m->payload_type, m->payload, m->payload_len,
	    1, now_ms)) != 0)
		return r;
	dc->in_expected++;
	while (dc->reorder_count > 0) {
		rs = &dc->reorder[(uint64_t)dc->in_expected % dc->reorder_max];
		if (rs->seq != dc->in_expected)
			break;
		r = process(dc, m, rs->ptype, rs->data, rs->len, 0, now_ms);
		free(rs->data);
		rs->data = NULL;
		rs->seq = -1;
		dc->reorder_count--;
		if (r != 0)
			return r;
		dc->in_expected++;
	}
	return 0;
}

int
cx_dc_on_message(struct cx_dc *dc, const void *frame, size_t n,
    uint64_t now_ms)
{
	struct cx_ssmmsg m;
	int r;

	if (cx_ssmmsg_decode(frame, n, &m) != 0) {
		dc->n_dropped++;
		cx_debug(2, "data channel: dropping a malformed message");
		return 0;
	}
	/* undefined payloads: no validation (§11) */
	if (strcmp(m.type, CX_SSM_PAUSE) == 0) {
		if (!dc->paused)
			cx_debug(1, "data channel: publication paused");
		dc->paused = 1;
		return 0;
	}
	if (strcmp(m.type, CX_SSM_START) == 0) {
		if (dc->paused) {
			cx_debug(1, "data channel: publication resumed");
			dc->progress_ms = now_ms ? now_ms : 1;
		}
		dc->paused = 0;
		return 0;
	}
	if (!cx_ssmmsg_valid(&m)) {
		dc->n_corrupt++;
		cx_debug(2, "data channel: dropping a corrupted '%s' seq %lld",
		    m.type, (long long)m.seq);
		return 0;
	}
	if (strcmp(m.type, CX_SSM_ACK) == 0)
		return on_ack(dc, &m, now_ms);
	if (strcmp(m.type, CX_SSM_OUTPUT) == 0)
		return on_stream(dc, &m, now_ms);
	if (strcmp(m.type, CX_SSM_CLOSED) == 0) {
		dc->closed = 1;
		dc->state = CX_DC_DONE;
		free(dc->close_output);
		if ((r = cx_ssm_json_field(m.payload, m.payload_len, "Output",
		    &dc->close_output)) != 0)
			return r;
		return 1;
	}
	dc->n_unknown++;
	cx_debug(2, "data channel: ignoring message type '%s'", m.type);
	return 0;
}

size_t
cx_dc_room(const struct cx_dc *dc)
{
	size_t used = (size_t)(dc->out_next - dc->out_head);

	if (dc->state != CX_DC_STREAMING || used >= dc->window)
		return 0;
	return (dc->window - used) * CX_SSMMSG_CHUNK;
}

int
cx_dc_write(struct cx_dc *dc, const void *p, size_t n, uint64_t now_ms)
{
	const unsigned char *b = p;
	size_t c;
	int r;

	(void)now_ms;
	if (n > cx_dc_room(dc))
		return CX_ERR_INTERNAL;
	while (n > 0) {
		c = n < CX_SSMMSG_CHUNK ? n : CX_SSMMSG_CHUNK;
		if ((r = enqueue(dc, CX_SSM_PT_OUTPUT, b, c)) != 0)
			return r;
		dc->bytes_up += c;
		b += c;
		n -= c;
	}
	return 0;
}

int
cx_dc_pump(struct cx_dc *dc, uint64_t now_ms, size_t max_new)
{
	struct cx_dc_slot *s;
	int r;

	if (!dc->connected || dc->paused)
		return 0;
	/* the stall clock starts when something is first in flight */
	if (dc->progress_ms == 0 || (dc->out_head == dc->out_unsent &&
	    dc->out_unsent < dc->out_next &&
	    slot(dc, dc->out_unsent)->last_sent_ms == 0))
		dc->progress_ms = now_ms ? now_ms : 1;
	/* §10: only the oldest unacked message is checked against RTO */
	if (dc->out_head < dc->out_unsent) {
		s = slot(dc, dc->out_head);
		if (s->seq == dc->out_head && s->last_sent_ms != 0 &&
		    now_ms > s->last_sent_ms &&
		    (double)(now_ms - s->last_sent_ms) > dc->rto_ms) {
			cx_debug(2, "data channel: resending seq %lld",
			    (long long)s->seq);
			if ((r = send_slot(dc, s, now_ms)) != 0)
				return r;
		}
	}
	while (dc->out_unsent < dc->out_next && max_new > 0) {
		s = slot(dc, dc->out_unsent);
		if (s->seq == dc->out_unsent) {
			if ((r = send_slot(dc, s, now_ms)) != 0)
				return r;
			max_new--;
		}
		dc->out_unsent++;
	}
	return 0;
}

long
cx_dc_timeout_ms(const struct cx_dc *dc, uint64_t now_ms)
{
	const struct cx_dc_slot *s;
	uint64_t due;

	if (!dc->connected || dc->paused || dc->out_head >= dc->out_unsent)
		return -1;
	s = &dc->slots[(uint64_t)dc->out_head % dc->window];
	if (s->seq != dc->out_head || s->last_sent_ms == 0)
		return -1;
	due = s->last_sent_ms + (uint64_t)dc->rto_ms + 1;
	return due > now_ms ? (long)(due - now_ms) : 0;
}

void
cx_dc_disconnected(struct cx_dc *dc)
{
	dc->connected = 0;
}

void
cx_dc_reconnected(struct cx_dc *dc)
{
	dc->connected = 1;
	dc->paused = 0;
	dc->out_unsent = dc->out_head;
	dc->progress_ms = 0;	/* restarted by the next cx_dc_pump() */
}

int
cx_dc_finish(struct cx_dc *dc, uint64_t now_ms)
{
	switch (dc->state) {
	case CX_DC_HANDSHAKE:
		dc->state = CX_DC_DONE;
		return 0;
	case CX_DC_STREAMING:
		dc->state = CX_DC_DRAINING;
		if (dc->out_head == dc->out_next)
			return send_terminate(dc, now_ms);
		return 0;
	default:
		return 0;
	}
}

uint64_t
cx_dc_stalled_ms(const struct cx_dc *dc, uint64_t now_ms)
{
	if (!dc->connected || dc->paused || dc->out_head >= dc->out_unsent ||
	    dc->progress_ms == 0 || now_ms <= dc->progress_ms)
		return 0;
	return now_ms - dc->progress_ms;
}

size_t
cx_dc_unacked(const struct cx_dc *dc)
{
	return (size_t)(dc->out_next - dc->out_head);
}
