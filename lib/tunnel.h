/*
 * cx-tunnel's engine: one single-threaded poll() loop relaying stdin/stdout
 * over the SSM data channel (lib/datachan.h) on a websocket (lib/ws.h), with
 * reconnect through ResumeSession.  The AWS calls (StartSession,
 * ResumeSession, the signature of the websocket upgrade) come in through
 * struct cx_tunnel_ops, so the loop itself knows nothing of credentials.
 *
 * Implemented in lib/tunnel.c; the AWS side in lib/tunnel_aws.c.
 */
#ifndef CX_TUNNEL_H
#define CX_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

/* A started session.  token is a secret (wiped by clean_up). */
struct cx_tunnel_session {
	char *session_id;
	char *token;
	char *stream_url;
};
void cx_tunnel_session_clean_up(struct cx_tunnel_session *s);

struct cJSON;
/*
 * The context's "Session" {SessionId, TokenValue, StreamUrl} (lib/
 * tunnel_session.c).  from_json replaces what s held when doc has one
 * (0 and s untouched when it has none); a partial one is CX_ERR_INPUT
 * (logged).  to_json sets doc's "Session" from s.  Both may return
 * CX_ERR_NOMEM.
 */
int cx_tunnel_session_from_json(const struct cJSON *doc,
    struct cx_tunnel_session *s);
int cx_tunnel_session_to_json(const struct cx_tunnel_session *s,
    struct cJSON *doc);

/* ops->start's answer meaning "TargetNotConnected: try again". */
#define CX_TUNNEL_RETRY	1

struct cx_tunnel_ops {
	/* StartSession: fills s (clean on entry).  Returns 0,
	 * CX_TUNNEL_RETRY, or a negative CX_ERR_* (logged). */
	int (*start)(void *ctx, struct cx_tunnel_session *s);
	/* ResumeSession for s->session_id: replaces s->token and, when the
	 * answer has one, s->stream_url.  CX_ERR_SESSION when the session is
	 * gone (no token). */
	int (*resume)(void *ctx, struct cx_tunnel_session *s);
	/*
	 * Extra headers for the websocket upgrade GET (the SigV4 signature
	 * for service ssmmessages), as malloc'd "Name: value" strings in a
	 * malloc'd array (*hdrs, *n; free with cx_tunnel_free_headers).  NULL
	 * op, or *n = 0: unsigned.
	 */
	int (*sign)(void *ctx, const char *host, const char *target,
	    char ***hdrs, size_t *n);
	void *ctx;
};
void cx_tunnel_free_headers(char **hdrs, size_t n);

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
 * StartSession through ops, retried with backoff while the agent says
 * TargetNotConnected, for at most deadline_ms (0: 60 s), saying so on
 * stderr.  Returns 0, CX_ERR_DEADLINE, or ops->start's error.
 */
int cx_tunnel_start(const struct cx_tunnel_ops *ops,
    struct cx_tunnel_session *sess, long deadline_ms);

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
