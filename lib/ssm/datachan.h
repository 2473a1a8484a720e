/*
 * The SSM data channel state machine for a port (SSH) session, client side
 * (ssm-data-channel.md §7-§13), without any I/O: the caller feeds it
 * received ClientMessages, stdin bytes and the clock; it hands back frames
 * to send (cb->send, one websocket binary message each) and bytes for
 * stdout (cb->deliver).
 *
 * - Handshake: the request is acked before it is answered; the answer
 *   takes client sequence 0; unknown actions are answered as failed; no
 *   stdin is accepted before HandshakeComplete.
 * - Two sequence spaces.  Output is delivered in order (reorder buffer,
 *   capped), acked after delivery; future messages are acked on arrival;
 *   duplicates are re-acked; corrupted messages are dropped unacked.
 * - Outgoing messages stay in a window (capped: backpressure) until acked;
 *   the oldest is retransmitted by the RTO rule of §10; after a reconnect
 *   every unacked message is sent again in order.  When a later message is
 *   acked while the oldest is not (the agent buffered it out of order, so
 *   the oldest was dropped: right after the handshake the agent drops data
 *   until it has dialled the port), the oldest is resent at once, once,
 *   instead of after the RTO (fast retransmit).
 * - pause_publication stops sending and retransmitting (acks still go);
 *   start_publication resumes.
 * - End: cx_dc_finish() drains the window, then sends the TerminateSession
 *   flag; channel_closed ends the session.
 *
 * Implemented in lib/ssm/datachan.c.
 */
#ifndef CX_DATACHAN_H
#define CX_DATACHAN_H

#include <stddef.h>
#include <stdint.h>

#include "ssmmsg.h"

struct cx_dc_cb {
	/* Queues one ClientMessage for sending; returns 0 or CX_ERR_*. */
	int (*send)(void *ctx, const void *frame, size_t n);
	/* Takes tunnelled bytes for stdout; returns 0 or CX_ERR_*. */
	int (*deliver)(void *ctx, const void *p, size_t n);
	void *ctx;
};

struct cx_dc_opts {
	size_t window;			/* unacked outgoing messages; 0: 512 */
	size_t reorder_max;		/* buffered future messages; 0: 4096 */
	const char *client_version;	/* NULL: "1.2.0.0" */
};

enum cx_dc_state {
	CX_DC_HANDSHAKE = 0,	/* waiting for HandshakeRequest/Complete */
	CX_DC_STREAMING,
	CX_DC_DRAINING,		/* stdin ended: waiting for the window to empty */
	CX_DC_TERMINATING,	/* TerminateSession flag sent, waiting its ack */
	CX_DC_DONE		/* flag acked, or channel_closed */
};

struct cx_dc_slot;
struct cx_dc_rslot;

struct cx_dc {
	struct cx_dc_cb cb;
	enum cx_dc_state state;
	char client_version[32];
	int connected;		/* frames may be sent */
	int paused;		/* pause_publication in effect */
	int closed;		/* channel_closed received */
	char *close_output;	/* its Output text (malloc'd) or NULL */
	char *customer_message;	/* HandshakeComplete's, or NULL; taken by
				 * the caller (free) */
	char *session_type;	/* from the HandshakeRequest, or NULL */
	int handshake_failed;	/* we answered with a failed action */

	int64_t out_next;	/* next client sequence number */
	int64_t out_head;	/* oldest unacked (== out_next: none) */
	int64_t out_unsent;	/* first message not yet sent since the
				 * last (re)connect */
	int64_t in_expected;	/* next agent sequence number to deliver */
	size_t window;
	struct cx_dc_slot *slots;
	unsigned char *slot_mem;
	size_t reorder_max, reorder_count;
	struct cx_dc_rslot *reorder;

	double rtt_ms, rttvar_ms, rto_ms;
	unsigned char rnd[1600];	/* MessageIds, 16 at a time */
	size_t rnd_off;

	/* counters, for -v and the tests */
	uint64_t n_sent, n_resent, n_acks_in, n_acks_out, n_dup, n_reordered,
	    n_corrupt, n_unknown, n_dropped;
	uint64_t bytes_up, bytes_down;
	int64_t fast_resent;	/* head already fast-retransmitted, or -1 */
	uint64_t n_fast_resent;
	/* stall detection: when the oldest unacked message last moved (0:
	 * at the next cx_dc_pump()), and how many times it did */
	uint64_t progress_ms, n_progress;
	int64_t wall_ms;	/* CreatedDate for new messages (0: read the
				 * clock each time); see cx_dc_clock() */
};

#define CX_DC_RTO_INIT_MS	200.0
#define CX_DC_RTT_INIT_MS	100.0
#define CX_DC_RTO_MAX_MS	1000.0
#define CX_DC_CLOCK_MS		10.0

/*
 * Sets the wall clock (ms since the epoch) that new messages and acks
 * carry as CreatedDate, so that a loop reads the clock once per wakeup
 * rather than once per message; 0 goes back to reading it each time.
 */
void cx_dc_clock(struct cx_dc *dc, int64_t wall_ms);

/* Initialises dc (caller-owned).  Returns 0 or CX_ERR_NOMEM. */
int cx_dc_init(struct cx_dc *dc, const struct cx_dc_opts *o,
    const struct cx_dc_cb *cb);
void cx_dc_clean_up(struct cx_dc *dc);

/*
 * Handles one received websocket message.  Returns 0; 1 when the session
 * ended (channel_closed: see dc->close_output); or a negative CX_ERR_*
 * from a callback, CX_ERR_SESSION when the handshake cannot be honoured
 * (after answering it), CX_ERR_NOMEM.  Malformed or corrupted messages are
 * dropped (counted), never fatal.
 */
int cx_dc_on_message(struct cx_dc *dc, const void *frame, size_t n,
    uint64_t now_ms);

/* How many stdin bytes cx_dc_write() accepts now (0 before the handshake
 * completes, after cx_dc_finish(), or when the window is full). */
size_t cx_dc_room(const struct cx_dc *dc);

/* Takes n <= cx_dc_room() stdin bytes, split into <= 1024-byte Output
 * messages placed in the window; they go out with cx_dc_pump(). */
int cx_dc_write(struct cx_dc *dc, const void *p, size_t n, uint64_t now_ms);

/*
 * Sends what may be sent now: the oldest unacked message if its RTO
 * expired, then messages not yet sent, at most max_new of those
 * (pacing/backpressure).  Nothing while disconnected or paused.  Returns
 * 0 or a callback's error.
 */
int cx_dc_pump(struct cx_dc *dc, uint64_t now_ms, size_t max_new);

/* Milliseconds until cx_dc_pump() has a retransmission to do (-1: none). */
long cx_dc_timeout_ms(const struct cx_dc *dc, uint64_t now_ms);

/* The websocket went away / is back (then every unacked message is sent
 * again, in order, by cx_dc_pump()). */
void cx_dc_disconnected(struct cx_dc *dc);
void cx_dc_reconnected(struct cx_dc *dc);

/* stdin ended: drain, then send the TerminateSession flag. */
int cx_dc_finish(struct cx_dc *dc, uint64_t now_ms);

/*
 * How long messages have been in flight without the oldest being acked
 * (0 while nothing is in flight, disconnected or paused).  The clock
 * restarts when the oldest is acked, when something is sent with nothing
 * in flight, after a reconnect and when publication resumes.
 */
uint64_t cx_dc_stalled_ms(const struct cx_dc *dc, uint64_t now_ms);

/* Outgoing messages not yet acked. */
size_t cx_dc_unacked(const struct cx_dc *dc);

/* Exposed for the unit test of §10's vector. */
void cx_dc_rtt_sample(struct cx_dc *dc, double sample_ms);

#endif
