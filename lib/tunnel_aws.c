#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "awscfg.h"
#include "buf.h"
#include "creds.h"
#include "cxerr.h"
#include "log.h"
#include "os.h"
#include "sigv4.h"
#include "stage.h"
#include "tunnel_aws.h"

int
cx_tunnel_read_context(int fd, const char *path, cJSON **out)
{
	int r, own = -1;

	*out = NULL;
	if (path != NULL) {
		if ((own = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			cx_error("cannot open context '%s': %s", path,
			    strerror(errno));
			return CX_ERR_INPUT;
		}
		fd = own;
	}
	r = cx_stage_read(fd, out);
	if (own != -1)
		close(own);
	if (r != 0)
		cx_error("cannot read the context: %s", cx_strerror(r));
	else if (cJSON_GetArraySize(*out) == 0) {
		cx_error("the context is empty");
		cx_json_delete_secure(*out);
		*out = NULL;
		r = CX_ERR_INPUT;
	}
	return r == CX_ERR_TOOBIG || r == CX_ERR_IO ? CX_ERR_INPUT : r;
}

static int
dup_str(const cJSON *o, const char *key, char **out)
{
	const char *v = cx_json_str(o, key);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return 0;
	if ((*out = strdup(v)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

int
cx_tunnel_aws_init(struct cx_tunnel_aws *a, const cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess)
{
	struct cx_resolve_opts ro = { NULL, NULL, NULL };
	const cJSON *inst, *s;
	const char *id;
	int r;

	memset(a, 0, sizeof(*a));
	a->sign_upgrade = 1;
	a->port = port > 0 ? port : 22;
	inst = cJSON_GetObjectItemCaseSensitive(doc, "Instance");
	id = instance_id ? instance_id : cx_json_str(inst, "InstanceId");
	if (id == NULL || *id == '\0') {
		cx_error("no instance: give INSTANCE_ID or "
		    "'.Instance.InstanceId' in the context");
		return CX_ERR_INPUT;
	}
	if ((a->instance_id = strdup(id)) == NULL)
		return CX_ERR_NOMEM;
	s = cJSON_GetObjectItemCaseSensitive(doc, "Session");
	if (s != NULL) {
		if (!cJSON_IsObject(s) ||
		    (r = dup_str(s, "SessionId", &sess->session_id)) != 0 ||
		    (r = dup_str(s, "TokenValue", &sess->token)) != 0 ||
		    (r = dup_str(s, "StreamUrl", &sess->stream_url)) != 0 ||
		    sess->token == NULL || sess->stream_url == NULL ||
		    sess->session_id == NULL) {
			cx_error("bad 'Session' in the context: SessionId, "
			    "TokenValue and StreamUrl are needed");
			cx_tunnel_session_clean_up(sess);
			return CX_ERR_INPUT;
		}
	}
	if ((r = cx_aws_ctx_from_json(doc, &ro, &a->ctx)) != 0)
		return r == CX_ERR_CONFIG ? CX_ERR_INPUT : r;
	if (a->ctx.cfg != NULL &&
	    (r = cx_awscfg_ca_bundle(a->ctx.cfg, &a->ca_bundle)) != 0 &&
	    r != CX_ERR_NOTFOUND)
		return r;
	return 0;
}

void
cx_tunnel_aws_clean_up(struct cx_tunnel_aws *a)
{
	cx_aws_ctx_clean_up(&a->ctx);
	free(a->instance_id);
	free(a->ca_bundle);
	memset(a, 0, sizeof(*a));
}

/* Takes SessionId/TokenValue/StreamUrl from an answer. */
static int
take_session(const cJSON *ans, struct cx_tunnel_session *s, int resume)
{
	char *id = NULL, *tok = NULL, *url = NULL;
	int r;

	if ((r = dup_str(ans, "SessionId", &id)) != 0 ||
	    (r = dup_str(ans, "TokenValue", &tok)) != 0 ||
	    (r = dup_str(ans, "StreamUrl", &url)) != 0)
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
	cJSON *body = NULL, *ans = NULL, *params, *port;
	char pbuf[16], what[128];
	int r = CX_ERR_NOMEM;

	memset(&err, 0, sizeof(err));
	snprintf(pbuf, sizeof(pbuf), "%d", a->port);
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "Target", a->instance_id) == NULL ||
	    cJSON_AddStringToObject(body, "DocumentName",
	    CX_TUNNEL_DOCUMENT) == NULL ||
	    (params = cJSON_AddObjectToObject(body, "Parameters")) == NULL ||
	    (port = cJSON_AddArrayToObject(params, "portNumber")) == NULL)
		goto out;
	cJSON_AddItemToArray(port, cJSON_CreateString(pbuf));
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

static int
hdr(char **out, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;

	if ((*out = malloc(n)) == NULL)
		return CX_ERR_NOMEM;
	snprintf(*out, n, "%s: %s", name, value);
	return 0;
}

static int
aws_sign(void *ctx, const char *host, const char *target, char ***hdrsp,
    size_t *np)
{
	static const char *const presign[] = { "X-Amz-Algorithm=",
	    "X-Amz-Credential=", "X-Amz-Date=", "X-Amz-Expires=",
	    "X-Amz-SignedHeaders=", "X-Amz-Signature=",
	    "X-Amz-Security-Token=", NULL };
	struct cx_tunnel_aws *a = ctx;
	struct cx_sigv4_header h[1];
	struct cx_sigv4_request rq;
	struct cx_sigv4_result rs;
	char **hdrs = NULL, *path = NULL;
	const char *q;
	size_t n = 0, i;
	int r;

	*hdrsp = NULL;
	*np = 0;
	if (!a->sign_upgrade || a->ctx.creds.access_key_id == NULL)
		return 0;
	/* a presigned StreamUrl carries its own signature */
	for (i = 0; presign[i] != NULL; i++)
		if (strstr(target, presign[i]) != NULL)
			return 0;
	q = strchr(target, '?');
	if ((path = strndup(target, q ? (size_t)(q - target) :
	    strlen(target))) == NULL)
		return CX_ERR_NOMEM;
	h[0].name = "Host";
	h[0].value = host;
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.path = path;
	rq.query = q ? q + 1 : NULL;
	rq.headers = h;
	rq.nheaders = 1;
	rq.region = a->ctx.region;
	rq.service = "ssmmessages";
	rq.creds = &a->ctx.creds;
	rq.now = time(NULL);
	if ((r = cx_sigv4_sign(&rq, &rs)) != 0) {
		free(path);
		cx_error("cannot sign the data channel request: %s",
		    cx_strerror(r));
		return r;
	}
	r = CX_ERR_NOMEM;
	if ((hdrs = calloc(3, sizeof(*hdrs))) == NULL)
		goto out;
	if (hdr(&hdrs[n++], "X-Amz-Date", rs.amz_date) != 0)
		goto out;
	if (a->ctx.creds.session_token != NULL &&
	    hdr(&hdrs[n++], "X-Amz-Security-Token",
	    a->ctx.creds.session_token) != 0)
		goto out;
	if (hdr(&hdrs[n++], "Authorization", rs.authorization) != 0)
		goto out;
	*hdrsp = hdrs;
	*np = n;
	hdrs = NULL; /* transferred */
	r = 0;
 out:
	cx_tunnel_free_headers(hdrs, n);
	cx_sigv4_result_clean_up(&rs);
	free(path);
	return r;
}

void
cx_tunnel_aws_ops(struct cx_tunnel_aws *a, struct cx_tunnel_ops *ops)
{
	ops->start = aws_start;
	ops->resume = aws_resume;
	ops->sign = aws_sign;
	ops->ctx = a;
}

/* 1 if version (1 to 4 numeric parts) is above 1.2.497.0. */
static int
plugin_new_enough(const char *v)
{
	static const long ref[4] = { 1, 2, 497, 0 };
	long part[4] = { 0, 0, 0, 0 };
	char *end;
	int i, n = 0;

	while (*v == ' ')
		v++;
	for (n = 0; n < 4; n++) {
		if (*v < '0' || *v > '9')
			return 0;
		part[n] = strtol(v, &end, 10);
		v = end;
		if (*v != '.')
			break;
		v++;
	}
	while (*v == '\n' || *v == '\r' || *v == ' ')
		v++;
	if (*v != '\0')
		return 0;
	for (i = 0; i < 4; i++)
		if (part[i] != ref[i])
			return part[i] > ref[i];
	return 0;
}

int
cx_tunnel_exec_plugin(struct cx_tunnel_aws *a,
    struct cx_tunnel_session *sess, long start_deadline_ms)
{
	static const char plugin[] = "session-manager-plugin";
	char *vargv[] = { (char *)plugin, (char *)"--version", NULL };
	char *argv[8], *endpoint = NULL, *resp = NULL, *params = NULL;
	struct cx_tunnel_ops ops;
	struct cx_buf out;
	cJSON *j = NULL;
	char pbuf[16];
	int r, status;

	cx_buf_init(&out, 4096);
	r = cx_run(vargv, NULL, 0, &out, NULL, 10000, &status);
	if (r != 0 || status != 0) {
		cx_error("cannot run '%s --version': %s", plugin,
		    r ? cx_strerror(r) : "it failed");
		r = r == CX_ERR_NOTFOUND ? CX_ERR_NOTFOUND : CX_ERR_SESSION;
		goto out;
	}
	if (!plugin_new_enough(cx_buf_str(&out))) {
		cx_error("'%s' version '%.32s' is too old: it would need the "
		    "session token in its arguments (need > 1.2.497.0)",
		    plugin, cx_buf_str(&out));
		r = CX_ERR_SESSION;
		goto out;
	}
	if (sess->token == NULL) {
		cx_tunnel_aws_ops(a, &ops);
		if ((r = cx_tunnel_start(&ops, sess, start_deadline_ms)) != 0)
			goto out;
	}
	if ((r = cx_aws_ctx_endpoint(&a->ctx, "ssm", NULL, &endpoint)) != 0)
		goto out;
	r = CX_ERR_NOMEM;
	if ((j = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j, "SessionId", sess->session_id) == NULL ||
	    cJSON_AddStringToObject(j, "TokenValue", sess->token) == NULL ||
	    cJSON_AddStringToObject(j, "StreamUrl", sess->stream_url) == NULL ||
	    (resp = cJSON_PrintUnformatted(j)) == NULL)
		goto out;
	cx_json_delete_secure(j);
	snprintf(pbuf, sizeof(pbuf), "%d", a->port);
	if ((j = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j, "Target", a->instance_id) == NULL ||
	    cJSON_AddStringToObject(j, "DocumentName",
	    CX_TUNNEL_DOCUMENT) == NULL)
		goto out;
	{
		cJSON *p = cJSON_AddObjectToObject(j, "Parameters");
		cJSON *l = p ? cJSON_AddArrayToObject(p, "portNumber") : NULL;

		if (l == NULL)
			goto out;
		cJSON_AddItemToArray(l, cJSON_CreateString(pbuf));
	}
	if ((params = cJSON_PrintUnformatted(j)) == NULL)
		goto out;
	if (setenv("AWS_SSM_START_SESSION_RESPONSE", resp, 1) != 0)
		goto out;
	argv[0] = (char *)plugin;
	argv[1] = (char *)"AWS_SSM_START_SESSION_RESPONSE";
	argv[2] = a->ctx.region;
	argv[3] = (char *)"StartSession";
	argv[4] = a->ctx.profile ? a->ctx.profile : (char *)"";
	argv[5] = params;
	argv[6] = endpoint;
	argv[7] = NULL;
	cx_debug(1, "handing session '%s' to %s", sess->session_id, plugin);
	execvp(plugin, argv);
	cx_error("cannot run '%s': %s", plugin, strerror(errno));
	unsetenv("AWS_SSM_START_SESSION_RESPONSE");
	r = CX_ERR_NOTFOUND;
 out:
	if (resp != NULL) {
		cx_wipe(resp, strlen(resp));
		cJSON_free(resp);
	}
	cJSON_free(params);
	cx_json_delete_secure(j);
	free(endpoint);
	cx_buf_clean_up(&out);
	return r;
}

int
cx_tunnel_cmd_run(struct cx_tunnel_cmd *c)
{
	struct cx_tunnel_session sess;
	struct cx_tunnel_aws a;
	struct cx_tunnel_ops ops;
	cJSON *doc = NULL;
	int r;

	memset(&sess, 0, sizeof(sess));
	memset(&a, 0, sizeof(a));
	if (c->context_fd < 0 && c->context_path == NULL) {
		cx_error("no context: use --context-fd N or --context FILE");
		return CX_ERR_USAGE;
	}
	if ((r = cx_tunnel_read_context(c->context_fd, c->context_path,
	    &doc)) != 0)
		goto out;
	if ((r = cx_tunnel_aws_init(&a, doc, c->instance_id, c->port,
	    &sess)) != 0)
		goto out;
	cx_json_delete_secure(doc);
	doc = NULL;
	a.sign_upgrade = !c->no_sign;
	if (c->plugin) {
		r = cx_tunnel_exec_plugin(&a, &sess, c->run.start_deadline_ms);
		goto out;
	}
	if (c->run.ca_bundle == NULL)
		c->run.ca_bundle = a.ca_bundle;
	cx_tunnel_aws_ops(&a, &ops);
	r = cx_tunnel_run(&c->run, &ops, &sess, STDIN_FILENO, STDOUT_FILENO);
 out:
	cx_json_delete_secure(doc);
	cx_tunnel_session_clean_up(&sess);
	cx_tunnel_aws_clean_up(&a);
	return r;
}
