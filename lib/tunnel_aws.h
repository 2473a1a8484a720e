/*
 * cx-tunnel's AWS side: the context document (stage JSON read from a
 * descriptor or a file), StartSession / ResumeSession through lib/aws.h,
 * and the SigV4 signature of the websocket upgrade (service ssmmessages),
 * plugged into lib/tunnel.h as struct cx_tunnel_ops.  Also the --plugin
 * fallback that hands a started session to session-manager-plugin.
 *
 * Implemented in lib/tunnel_aws.c.
 */
#ifndef CX_TUNNEL_AWS_H
#define CX_TUNNEL_AWS_H

#include <cjson/cJSON.h>

#include "creds.h"
#include "tunnel.h"

#define CX_TUNNEL_DOCUMENT	"AWS-StartSSHSession"

struct cx_tunnel_aws {
	struct cx_aws_ctx ctx;		/* owned */
	char *instance_id;		/* owned */
	int port;
	int sign_upgrade;		/* SigV4 on the websocket upgrade */
	char *ca_bundle;		/* owned, or NULL */
};

/*
 * Reads the context: from fd (path NULL) or from the file path; at most
 * CX_STAGE_MAX_INPUT bytes of one JSON object.  *out is the caller's
 * (cx_json_delete_secure).  Returns 0, CX_ERR_INPUT (logged), CX_ERR_IO.
 */
int cx_tunnel_read_context(int fd, const char *path, cJSON **out);

/*
 * Builds a from the context: the AWS context (credential_process keys,
 * Region, Profile), the instance (instance_id if not NULL, else
 * .Instance.InstanceId), the port (port > 0, else 22), and a session the
 * driver may have started already (.Session: SessionId, TokenValue,
 * StreamUrl) into sess.  Returns 0 or CX_ERR_INPUT (logged) or the
 * context's error.  Release with cx_tunnel_aws_clean_up().
 */
int cx_tunnel_aws_init(struct cx_tunnel_aws *a, const cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess);
void cx_tunnel_aws_clean_up(struct cx_tunnel_aws *a);

/* Fills ops with StartSession, ResumeSession and the upgrade signer. */
void cx_tunnel_aws_ops(struct cx_tunnel_aws *a, struct cx_tunnel_ops *ops);

/*
 * --plugin: starts the session if needed and execs session-manager-plugin
 * (found in PATH) the way the AWS CLI does, with the StartSession answer
 * in AWS_SSM_START_SESSION_RESPONSE (never in argv).  Refuses plugins
 * whose --version is not above 1.2.497.0 (they would need the token in
 * argv).  Returns only on failure: CX_ERR_NOTFOUND, CX_ERR_SESSION, ...
 */
int cx_tunnel_exec_plugin(struct cx_tunnel_aws *a,
    struct cx_tunnel_session *sess, long start_deadline_ms);

/* Everything cx-tunnel's command line says. */
struct cx_tunnel_cmd {
	const char *instance_id;	/* or NULL: from the context */
	int port;			/* 0: 22 */
	int context_fd;			/* -1: none */
	const char *context_path;	/* or NULL */
	int plugin;			/* --plugin */
	int no_sign;			/* --no-sign */
	struct cx_tunnel_opts run;
};

/*
 * The whole command: read the context, start (or take) the session, then
 * relay stdin/stdout (or exec the plugin).  Returns 0 or a CX_ERR_* for
 * cx_exit_code(); everything is reported on stderr.
 */
int cx_tunnel_cmd_run(struct cx_tunnel_cmd *c);

#endif
