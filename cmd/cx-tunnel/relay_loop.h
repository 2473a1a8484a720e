/*
 * cx-tunnel's relay loop (relay_loop.c): one single-threaded poll loop over
 * stdin, stdout, the websocket and the timers, with ResumeSession on a lost
 * websocket.  Only cx-tunnel runs it; the session it relays is lib/ssm's.
 */
#ifndef CX_RELAY_LOOP_H
#define CX_RELAY_LOOP_H

#include <stddef.h>

#include "ssm/tunnel.h"

struct cx_tunnel_opts {
	long start_deadline_ms;	/* StartSession retries; 0: 60 s */
	long resume_deadline_ms; /* reconnect attempts; 0: 60 s */
	long handshake_ms;	/* open to HandshakeComplete; 0: 30 s */
	long drain_ms;		/* stdin EOF to the end; 0: 5 s */
	long stall_ms;		/* in flight, no ack: resume; 0: 20 s */
	long pacing_ms;		/* sleep per sent stream message; 0: none */
	size_t window;		/* unacked messages (x 1 KiB); 0: 512 */
	const char *ca_bundle;	/* or NULL */
};

/*
 * Runs the session: StartSession (unless sess already holds one, e.g.
 * from the context), connect, handshake, relay in_fd <-> out_fd until the
 * session ends.  sess is updated (resume tokens) and stays the caller's.
 * Returns 0 on a clean end (stdin EOF drained, or channel_closed without
 * error text); CX_ERR_SESSION (closed with an error, lost and not
 * resumable, refused by the agent, stalled: nothing acked for
 * o->stall_ms, and again after a ResumeSession), CX_ERR_DEADLINE (TargetNotConnected
 * past the deadline, no handshake in time), CX_ERR_NETWORK, CX_ERR_DENIED,
 * ...  Everything is reported on stderr; nothing but tunnelled bytes goes
 * to out_fd.
 */
int cx_tunnel_run(const struct cx_tunnel_opts *o,
    const struct cx_tunnel_ops *ops, struct cx_tunnel_session *sess,
    int in_fd, int out_fd);

#endif
