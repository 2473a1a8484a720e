/*
 * An SSM session as the toolkit passes it around: the started session
 * (id, token, stream URL), its JSON form in the stage context, the
 * operations that start, resume and sign it (struct cx_tunnel_ops: the AWS
 * calls come in through them, so nothing here knows credentials or HTTP),
 * and the StartSession retry under a deadline.  Implemented in
 * tunnel_session.c; the AWS side of the operations in tunnel_aws.c; the
 * relay loop that runs a session is cx-tunnel's own
 * (cmd/cx-tunnel/relay_loop.c).
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

/* The SSM document of an SSH session. */
#define CX_TUNNEL_DOCUMENT	"AWS-StartSSHSession"

/*
 * The instance a session is for: instance_id when it is not NULL, else
 * the context's .Instance.InstanceId, copied into *out (malloc'd, the
 * caller's).  Returns 0, CX_ERR_INPUT (logged: neither names one) or
 * CX_ERR_NOMEM.
 */
int cx_tunnel_instance_id(const struct cJSON *doc, const char *instance_id,
    char **out);

/*
 * StartSession's parameters for CX_TUNNEL_DOCUMENT: {"Target":
 * instance_id, "DocumentName", "Parameters": {"portNumber": ["port"]}}
 * as a new object in *out (the caller's: cJSON_Delete).  Returns 0 or
 * CX_ERR_NOMEM.
 */
int cx_tunnel_start_params(const char *instance_id, int port,
    struct cJSON **out);

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

/*
 * StartSession through ops, retried with backoff while the agent says
 * TargetNotConnected, for at most deadline_ms (0: 60 s), saying so on
 * stderr.  Returns 0, CX_ERR_DEADLINE, ops->start's error, or
 * CX_ERR_CANCELLED when a caught signal (os.h) ends the wait between
 * tries.
 */
int cx_tunnel_start(const struct cx_tunnel_ops *ops,
    struct cx_tunnel_session *sess, long deadline_ms);

#endif
