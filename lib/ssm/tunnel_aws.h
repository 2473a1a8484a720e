/*
 * The SSM API side of a session, in-process (libcurl, lib/aws/aws.h):
 * StartSession and ResumeSession with the context's credentials, as
 * struct cx_tunnel_ops for cx_tunnel_start().  Used by the driver (which
 * starts the session while the key push runs) and by cx-session, the
 * helper cx-tunnel runs for these calls so that the long-lived relay never
 * loads libcurl (cmd/cx-tunnel/relay.h).
 *
 * Implemented in lib/ssm/tunnel_aws.c.
 */
#ifndef CX_TUNNEL_AWS_H
#define CX_TUNNEL_AWS_H

#include <cjson/cJSON.h>

#include "aws/creds.h"
#include "tunnel.h"

struct cx_tunnel_aws {
	struct cx_aws_ctx ctx;		/* owned */
	char *instance_id;		/* owned */
	int port;
};

/*
 * Builds a from the context: the AWS context (credential_process keys,
 * Region, Profile; resolved afresh when the keys are missing or belong to
 * another profile), the instance (instance_id if not NULL, else
 * .Instance.InstanceId), the port (port > 0, else 22), and a session
 * already started (.Session: SessionId, TokenValue, StreamUrl) into sess.
 * Returns 0 or CX_ERR_INPUT (logged) or the context's error.  Release with
 * cx_tunnel_aws_clean_up() in every case.
 */
int cx_tunnel_aws_init(struct cx_tunnel_aws *a, const cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess);
void cx_tunnel_aws_clean_up(struct cx_tunnel_aws *a);

/* Fills ops with StartSession and ResumeSession (no upgrade signer). */
void cx_tunnel_aws_ops(struct cx_tunnel_aws *a, struct cx_tunnel_ops *ops);

/* A StartSession answer into s (SessionId, TokenValue, StreamUrl):
 * 0, CX_ERR_SESSION (one missing) or CX_ERR_NOMEM; nothing logged. */
int cx_tunnel_aws_start_answer(const cJSON *ans, struct cx_tunnel_session *s);

/* cx-session's command line. */
struct cx_session_cmd {
	int resume;			/* ResumeSession, else StartSession */
	const char *instance_id;	/* or NULL: from the context */
	int port;			/* 0: 22 */
	long deadline_ms;		/* TargetNotConnected retries; 0: 60 s */
};

/*
 * The whole of cx-session: the context on stdin; StartSession (retried
 * while the agent is not connected, under deadline_ms) or ResumeSession
 * of .Session.SessionId; the context on stdout with the credentials used
 * (refreshed when the context's had expired and it names a profile) and
 * .Session set.  Returns 0 or a CX_ERR_* (logged) for cx_exit_code().
 */
int cx_session_cmd_run(const struct cx_session_cmd *c);

#endif
