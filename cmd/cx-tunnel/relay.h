/*
 * cx-tunnel's own side: the context, the SigV4 signature of the websocket
 * upgrade (service ssmmessages), and the two SSM API calls made by a
 * helper process, cx-session (lib/ssm/tunnel_aws.h), fed the context through
 * a pipe.  The relay lives as long as the SSH connection, so it links no
 * HTTP library: what it holds in memory is the data channel and little
 * else.  Also the --plugin fallback that hands a session to
 * session-manager-plugin.
 *
 * Implemented in cmd/cx-tunnel/relay.c.
 */
#ifndef CX_TUNNEL_RELAY_H
#define CX_TUNNEL_RELAY_H

#include <cjson/cJSON.h>

#include "aws/awscfg.h"
#include "aws/creds.h"
#include "relay_loop.h"

#define CX_SESSION_HELPER	"cx-session"

struct cx_tunnel_relay {
	cJSON *doc;			/* the context (secret), owned */
	struct cx_creds creds;		/* from doc; empty if it has none */
	char *region;			/* from doc, or NULL */
	struct cx_awscfg *cfg;		/* the AWS files, for ca_bundle and
					 * the plugin's endpoint */
	char *ca_bundle;		/* or NULL */
	char *instance_id;		/* argv's, else the context's */
	int port;
	int sign_upgrade;
	long start_deadline_ms;
	char *helper;			/* path of cx-session */
};

/*
 * Reads the context: from fd (path NULL) or from the file path; at most
 * CX_STAGE_MAX_INPUT bytes of one JSON object.  *out is the caller's
 * (cx_json_delete_secure).  Returns 0, CX_ERR_INPUT (logged), CX_ERR_IO.
 */
int cx_tunnel_read_context(int fd, const char *path, cJSON **out);

/*
 * Builds rl from the context doc (taken: owned by rl from here on, even on
 * failure): credentials, Region, the AWS files of its Profile/AwsEnv, the
 * instance (instance_id if not NULL, else .Instance.InstanceId), port
 * (> 0, else 22), and a started session (.Session) into sess.  Returns 0,
 * CX_ERR_INPUT (logged), CX_ERR_CONFIG, CX_ERR_NOMEM.  Release with
 * cx_tunnel_relay_clean_up() in every case.
 */
int cx_tunnel_relay_init(struct cx_tunnel_relay *rl, cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess);
void cx_tunnel_relay_clean_up(struct cx_tunnel_relay *rl);

/* Fills ops: StartSession and ResumeSession through cx-session, and the
 * upgrade signer. */
void cx_tunnel_relay_ops(struct cx_tunnel_relay *rl,
    struct cx_tunnel_ops *ops);

/*
 * --plugin: starts the session if needed and execs session-manager-plugin
 * (found in PATH) the way the AWS CLI does, with the StartSession answer
 * in AWS_SSM_START_SESSION_RESPONSE (never in argv).  Refuses plugins
 * whose --version is not above 1.2.497.0 (they would need the token in
 * argv).  Returns only on failure: CX_ERR_NOTFOUND, CX_ERR_SESSION, ...
 */
int cx_tunnel_exec_plugin(struct cx_tunnel_relay *rl,
    struct cx_tunnel_session *sess);

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
