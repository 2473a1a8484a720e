#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/aws.h"
#include "aws/awscfg.h"
#include "aws/creds.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "tunnel_aws.h"

int
cx_tunnel_aws_init(struct cx_tunnel_aws *a, const cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess)
{
	struct cx_resolve_opts ro = { NULL, NULL, NULL };
	int r;

	memset(a, 0, sizeof(*a));
	a->port = port > 0 ? port : 22;
	if ((r = cx_tunnel_instance_id(doc, instance_id,
	    &a->instance_id)) != 0 ||
	    (r = cx_tunnel_session_from_json(doc, sess)) != 0)
		return r;
	if ((r = cx_aws_ctx_from_json(doc, &ro, &a->ctx)) != 0)
		return r == CX_ERR_CONFIG ? CX_ERR_INPUT : r;
	return 0;
}

void
cx_tunnel_aws_clean_up(struct cx_tunnel_aws *a)
{
	cx_aws_ctx_clean_up(&a->ctx);
	free(a->instance_id);
	memset(a, 0, sizeof(*a));
}

/* Takes SessionId/TokenValue/StreamUrl from an answer. */
static int
take_session(const cJSON *ans, struct cx_tunnel_session *s, int resume)
{
	char *id = NULL, *tok = NULL, *url = NULL;
	int r;

	if ((r = cx_json_dup_str(ans, "SessionId", &id)) != 0 ||
	    (r = cx_json_dup_str(ans, "TokenValue", &tok)) != 0 ||
	    (r = cx_json_dup_str(ans, "StreamUrl", &url)) != 0)
		goto out;
	if (tok == NULL || (!resume && (url == NULL || id == NULL))) {
		r = CX_ERR_SESSION;
		goto out;
	}
	cx_freezero_str(s->token);
	s->token = tok;
	tok = NULL; /* transferred */
	if (url != NULL) {
		free(s->stream_url);
		s->stream_url = url;
		url = NULL; /* transferred */
	}
	if (id != NULL && s->session_id == NULL) {
		s->session_id = id;
		id = NULL; /* transferred */
	}
	r = 0;
 out:
	free(id);
	cx_freezero_str(tok);
	free(url);
	return r;
}

static int
ssm_call(struct cx_tunnel_aws *a, const char *op, cJSON *body, cJSON **ans,
    struct cx_aws_error *err)
{
	struct cx_aws_target t;
	int r;

	if ((r = cx_aws_target_init(&t, &a->ctx, "ssm", NULL)) != 0)
		return r;
	r = cx_aws_json(&t, op, body, ans, err);
	cx_aws_target_clean_up(&t);
	return r;
}

static int
aws_start(void *ctx, struct cx_tunnel_session *s)
{
	struct cx_tunnel_aws *a = ctx;
	struct cx_aws_error err;
	cJSON *body = NULL, *ans = NULL;
	char what[128];
	int r;

	memset(&err, 0, sizeof(err));
	if ((r = cx_tunnel_start_params(a->instance_id, a->port, &body)) != 0)
		goto out;
	cx_debug(1, "StartSession on '%s' port %d", a->instance_id, a->port);
	r = ssm_call(a, "AmazonSSM.StartSession", body, &ans, &err);
	if (r != 0) {
		if (err.code != NULL &&
		    strcmp(err.code, "TargetNotConnected") == 0) {
			r = CX_TUNNEL_RETRY;
			goto out;
		}
		snprintf(what, sizeof(what), "cannot start a session on '%s'",
		    a->instance_id);
		cx_aws_log_error(what, r, &err);
		if (r != CX_ERR_DENIED && r != CX_ERR_NETWORK &&
		    r != CX_ERR_TIMEOUT && r != CX_ERR_THROTTLED &&
		    r != CX_ERR_AWS_SERVER && r != CX_ERR_LOGIN &&
		    r != CX_ERR_NOTFOUND)
			r = CX_ERR_SESSION;
		goto out;
	}
	if ((r = take_session(ans, s, 0)) != 0)
		cx_error("StartSession gave no SessionId/TokenValue/StreamUrl");
 out:
	cx_aws_error_clean_up(&err);
	cx_json_delete_secure(ans);
	cJSON_Delete(body);
	return r;
}

static int
aws_resume(void *ctx, struct cx_tunnel_session *s)
{
	struct cx_tunnel_aws *a = ctx;
	struct cx_aws_error err;
	cJSON *body = NULL, *ans = NULL;
	int r = CX_ERR_NOMEM;

	memset(&err, 0, sizeof(err));
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "SessionId", s->session_id) == NULL)
		goto out;
	r = ssm_call(a, "AmazonSSM.ResumeSession", body, &ans, &err);
	if (r != 0) {
		cx_aws_log_error("cannot resume the session", r, &err);
		if (r == CX_ERR_NOTFOUND || r == CX_ERR_AWS)
			r = CX_ERR_SESSION;
		goto out;
	}
	if ((r = take_session(ans, s, 1)) != 0)
		cx_error("session '%s' timed out (no token to resume it)",
		    s->session_id);
 out:
	cx_aws_error_clean_up(&err);
	cx_json_delete_secure(ans);
	cJSON_Delete(body);
	return r;
}

int
cx_tunnel_aws_start_answer(const cJSON *ans, struct cx_tunnel_session *s)
{
	return take_session(ans, s, 0);
}

void
cx_tunnel_aws_ops(struct cx_tunnel_aws *a, struct cx_tunnel_ops *ops)
{
	ops->start = aws_start;
	ops->resume = aws_resume;
	ops->sign = NULL;
	ops->ctx = a;
}

/*
 * Credentials in the context that have expired are dropped when the
 * context names a profile, so that they are resolved afresh (a session
 * outlives an assumed role's hour); without a profile they stay, and the
 * resolution says they expired.
 */
static void
drop_expired(cJSON *doc)
{
	static const char *const keys[] = { "AccessKeyId", "SecretAccessKey",
	    "SessionToken", "Expiration" };
	const char *exp = cx_json_str(doc, "Expiration");
	time_t t;
	size_t i;

	if (exp == NULL || cx_json_str(doc, "Profile") == NULL ||
	    cx_parse_iso8601(exp, &t) != 0 || t > time(NULL) + 60)
		return;
	cx_info("the credentials in the context expired at %s: resolving "
	    "them again for profile '%s'", exp, cx_json_str(doc, "Profile"));
	cx_json_wipe_secrets(doc);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(doc, keys[i]);
}

int
cx_session_cmd_run(const struct cx_session_cmd *c)
{
	struct cx_tunnel_session sess;
	struct cx_tunnel_aws a;
	struct cx_tunnel_ops ops;
	cJSON *doc = NULL;
	int r;

	memset(&sess, 0, sizeof(sess));
	memset(&a, 0, sizeof(a));
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) != 0) {
		cx_error("cannot read the context: %s", cx_strerror(r));
		r = CX_ERR_INPUT;
		goto out;
	}
	drop_expired(doc);
	if ((r = cx_tunnel_aws_init(&a, doc, c->instance_id, c->port,
	    &sess)) != 0)
		goto out;
	cx_tunnel_aws_ops(&a, &ops);
	if (c->resume) {
		if (sess.session_id == NULL) {
			cx_error("no 'Session' in the context to resume");
			r = CX_ERR_INPUT;
			goto out;
		}
		r = ops.resume(ops.ctx, &sess);
	} else {
		cx_tunnel_session_clean_up(&sess);
		r = cx_tunnel_start(&ops, &sess, c->deadline_ms);
	}
	if (r != 0)
		goto out;
	if ((r = cx_aws_ctx_to_json(&a.ctx, doc)) != 0 ||
	    (r = cx_tunnel_session_to_json(&sess, doc)) != 0)
		goto out;
	r = cx_stage_write(doc);
 out:
	cx_json_delete_secure(doc);
	cx_tunnel_session_clean_up(&sess);
	cx_tunnel_aws_clean_up(&a);
	return r;
}
