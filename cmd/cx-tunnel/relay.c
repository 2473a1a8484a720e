
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/sigv4.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ssm/ws.h"
#include "relay.h"

/* cx-session's own limits: its TargetNotConnected deadline plus this for
 * the calls themselves; a ResumeSession */
#define HELPER_SLACK_MS		60000
#define HELPER_RESUME_MS	90000

int
cx_tunnel_read_context(int fd, const char *path, cJSON **out)
{
	int r, own = -1;

	*out = NULL;
	if (path != NULL) {
		if (cx_os_open_read(path, &own) != 0) {
			cx_error("cannot open context '%s': %s", path,
			    strerror(errno));
			return CX_ERR_INPUT;
		}
		fd = own;
	}
	r = cx_stage_read(fd, out);
	cx_os_close(&own);
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
hdr(char **out, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;

	if ((*out = malloc(n)) == NULL)
		return CX_ERR_NOMEM;
	snprintf(*out, n, "%s: %s", name, value);
	return 0;
}

static int
relay_sign(void *ctx, const char *host, const char *target, char ***hdrsp,
    size_t *np)
{
	static const char *const presign[] = { "X-Amz-Algorithm=",
	    "X-Amz-Credential=", "X-Amz-Date=", "X-Amz-Expires=",
	    "X-Amz-SignedHeaders=", "X-Amz-Signature=",
	    "X-Amz-Security-Token=", NULL };
	struct cx_tunnel_relay *rl = ctx;
	struct cx_sigv4_header h[1];
	struct cx_sigv4_request rq;
	struct cx_sigv4_result rs;
	char **hdrs = NULL, *path = NULL;
	const char *q;
	size_t n = 0, i;
	int r;

	*hdrsp = NULL;
	*np = 0;
	if (!rl->sign_upgrade || rl->creds.access_key_id == NULL ||
	    rl->region == NULL)
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
	rq.region = rl->region;
	rq.service = "ssmmessages";
	rq.creds = &rl->creds;
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
	if (rl->creds.session_token != NULL &&
	    hdr(&hdrs[n++], "X-Amz-Security-Token",
	    rl->creds.session_token) != 0)
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



/* (Re)reads the credentials and Region of rl->doc. */
static int
take_creds(struct cx_tunnel_relay *rl)
{
	char exp[21];
	int r;

	cx_creds_clean_up(&rl->creds);
	free(rl->region);
	rl->region = NULL;
	if ((r = cx_json_dup_str(rl->doc, "Region", &rl->region)) != 0)
		return r;
	if (cx_json_str(rl->doc, "AccessKeyId") == NULL) {
		cx_debug(1, "no credentials in the context: the data channel "
		    "upgrade goes unsigned");
		return 0;
	}
	if ((r = cx_creds_from_process_json(rl->doc, "the context",
	    &rl->creds)) != 0)
		return r;
	if (rl->creds.expiration != 0 && rl->creds.expiration <= time(NULL)) {
		cx_format_iso8601(rl->creds.expiration, exp);
		cx_debug(1, "the context's credentials expired at %s", exp);
	}
	return 0;
}

int
cx_tunnel_relay_init(struct cx_tunnel_relay *rl, cJSON *doc,
    const char *instance_id, int port, struct cx_tunnel_session *sess)
{
	char *profile_arg = NULL;
	int r;

	memset(rl, 0, sizeof(*rl));
	rl->doc = doc;
	rl->sign_upgrade = 1;
	rl->port = port > 0 ? port : 22;
	if ((r = cx_tunnel_instance_id(doc, instance_id,
	    &rl->instance_id)) != 0)
		return r;
	if ((r = cx_tunnel_session_from_json(rl->doc, sess)) != 0 || (r = take_creds(rl)) != 0)
		return r;
	if ((r = cx_json_dup_str(doc, "Profile", &profile_arg)) != 0)
		return r;
	r = cx_awscfg_load(cx_json_str(doc, "AwsEnv"), profile_arg, &rl->cfg);
	free(profile_arg);
	if (r != 0)
		return r == CX_ERR_CONFIG || r == CX_ERR_USAGE ?
		    CX_ERR_INPUT : r;
	if ((r = cx_awscfg_ca_bundle(rl->cfg, &rl->ca_bundle)) != 0)
		return r;
	return cx_find_prog(CX_SESSION_HELPER, &rl->helper);
}

void
cx_tunnel_relay_clean_up(struct cx_tunnel_relay *rl)
{
	cx_json_delete_secure(rl->doc);
	cx_creds_clean_up(&rl->creds);
	free(rl->region);
	cx_awscfg_free(rl->cfg);
	free(rl->ca_bundle);
	free(rl->instance_id);
	free(rl->helper);
	memset(rl, 0, sizeof(*rl));
}

/*
 * Runs `cx-session VERB` with the context on its stdin (a pipe: the
 * secrets stay out of argv and the environment) and takes the context it
 * prints: new credentials, and .Session into sess.  Its messages go to
 * our stderr as they are.
 */
static int
run_helper(struct cx_tunnel_relay *rl, const char *verb,
    struct cx_tunnel_session *sess)
{
	char *argv[12], *in = NULL, port[16], deadline[24];
	long dl = rl->start_deadline_ms > 0 ? rl->start_deadline_ms : 60000;
	struct cx_buf out;
	cJSON *doc = NULL;
	int i = 0, r, v, ws;

	cx_buf_init(&out, CX_STAGE_MAX_INPUT);
	cx_buf_set_secret(&out);
	argv[i++] = rl->helper;
	for (v = cx_log_verbosity(); v > 0 && i < 5; v--)
		argv[i++] = (char *)"-v";
	if (cx_log_verbosity() < 0)
		argv[i++] = (char *)"-q";
	snprintf(deadline, sizeof(deadline), "%ld", dl);
	argv[i++] = (char *)"--deadline-ms";
	argv[i++] = deadline;
	argv[i++] = (char *)verb;
	argv[i++] = rl->instance_id;
	snprintf(port, sizeof(port), "%d", rl->port);
	argv[i++] = port;
	argv[i] = NULL;
	if ((in = cJSON_PrintUnformatted(rl->doc)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	cx_debug(1, "running %s %s", rl->helper, verb);
	r = cx_run(argv, in, strlen(in), &out, NULL, strcmp(verb, "start") == 0 ?
	    (int)(dl + HELPER_SLACK_MS) : HELPER_RESUME_MS, &ws);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("cannot run '%s': not found next to cx-tunnel nor in "
		    "PATH", rl->helper);
		r = CX_ERR_INTERNAL;
		goto out;
	}
	if (r == CX_ERR_CANCELLED)
		goto out;	/* a signal: stopped, and main() says so */
	if (r != 0) {
		cx_error("'%s %s' failed: %s", CX_SESSION_HELPER, verb,
		    cx_strerror(r));
		goto out;
	}
	if (cx_wait_exit(ws) < 0) {
		cx_error("'%s %s' died (signal %d)", CX_SESSION_HELPER, verb,
		    cx_wait_signal(ws));
		r = CX_ERR_INTERNAL;
		goto out;
	}
	if ((r = cx_err_of_exit(cx_wait_exit(ws))) != 0)
		goto out;	/* it said why */
	if ((r = cx_stage_parse((const char *)out.data, out.len, &doc)) != 0) {
		cx_error("'%s %s' printed no context", CX_SESSION_HELPER,
		    verb);
		r = CX_ERR_INTERNAL;
		goto out;
	}
	cx_json_delete_secure(rl->doc);
	rl->doc = doc;
	doc = NULL;	/* transferred */
	if ((r = take_creds(rl)) != 0 || (r = cx_tunnel_session_from_json(rl->doc, sess)) != 0)
		goto out;
	if (sess->token == NULL) {
		cx_error("'%s %s' gave no session", CX_SESSION_HELPER, verb);
		r = CX_ERR_INTERNAL;
	}
 out:
	cx_json_delete_secure(doc);
	cx_freezero_str(in);
	cx_buf_clean_up(&out);
	return r;
}

static int
relay_start(void *ctx, struct cx_tunnel_session *s)
{
	return run_helper(ctx, "start", s);
}

static int
relay_resume(void *ctx, struct cx_tunnel_session *s)
{
	return run_helper(ctx, "resume", s);
}

void
cx_tunnel_relay_ops(struct cx_tunnel_relay *rl, struct cx_tunnel_ops *ops)
{
	ops->start = relay_start;
	ops->resume = relay_resume;
	ops->sign = relay_sign;
	ops->ctx = rl;
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
cx_tunnel_exec_plugin(struct cx_tunnel_relay *rl,
    struct cx_tunnel_session *sess)
{
	static const char plugin[] = "session-manager-plugin";
	char *vargv[] = { (char *)plugin, (char *)"--version", NULL };
	char *argv[8], *endpoint = NULL, *resp = NULL, *params = NULL;
	struct cx_tunnel_ops ops;
	struct cx_buf out;
	cJSON *j = NULL;
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
		cx_tunnel_relay_ops(rl, &ops);
		if ((r = cx_tunnel_start(&ops, sess,
		    rl->start_deadline_ms)) != 0)
			goto out;
	}
	if (rl->region == NULL) {
		cx_error("no 'Region' in the context");
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_awscfg_endpoint(rl->cfg, "ssm", rl->region,
	    &endpoint)) != 0)
		goto out;
	r = CX_ERR_NOMEM;
	if ((j = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j, "SessionId", sess->session_id) == NULL ||
	    cJSON_AddStringToObject(j, "TokenValue", sess->token) == NULL ||
	    cJSON_AddStringToObject(j, "StreamUrl", sess->stream_url) == NULL ||
	    (resp = cJSON_PrintUnformatted(j)) == NULL)
		goto out;
	cx_json_delete_secure(j);
	if ((r = cx_tunnel_start_params(rl->instance_id, rl->port, &j)) != 0)
		goto out;
	r = CX_ERR_NOMEM;
	if ((params = cJSON_PrintUnformatted(j)) == NULL)
		goto out;
	if (setenv("AWS_SSM_START_SESSION_RESPONSE", resp, 1) != 0)
		goto out;
	argv[0] = (char *)plugin;
	argv[1] = (char *)"AWS_SSM_START_SESSION_RESPONSE";
	argv[2] = rl->region;
	argv[3] = (char *)"StartSession";
	argv[4] = (char *)(cx_json_str(rl->doc, "Profile") ?
	    cx_json_str(rl->doc, "Profile") : "");
	argv[5] = params;
	argv[6] = endpoint;
	argv[7] = NULL;
	cx_debug(1, "handing session '%s' to %s", sess->session_id, plugin);
	(void)cx_exec(argv);
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
	struct cx_tunnel_relay rl;
	struct cx_tunnel_ops ops;
	cJSON *doc = NULL;
	int r, in, out;

	cx_ws_tls_lean();
	memset(&sess, 0, sizeof(sess));
	memset(&rl, 0, sizeof(rl));
	if (c->context_fd < 0 && c->context_path == NULL) {
		cx_error("no context: use --context-fd N or --context FILE");
		return CX_ERR_USAGE;
	}
	if ((r = cx_tunnel_read_context(c->context_fd, c->context_path,
	    &doc)) != 0)
		return r;
	/*
	 * From here on SIGHUP, SIGINT and SIGTERM end every wait (os.h): the
	 * helper (stopped too), the websocket's connect, its retries; the
	 * caller then exits 128+n.  (Before: their default action.)
	 */
	if ((r = cx_sig_catch()) != 0) {
		cx_json_delete_secure(doc);
		return r;
	}
	r = cx_tunnel_relay_init(&rl, doc, c->instance_id, c->port, &sess);
	doc = NULL;	/* transferred */
	if (r != 0)
		goto out;
	rl.sign_upgrade = !c->no_sign;
	rl.start_deadline_ms = c->run.start_deadline_ms;
	if (c->plugin) {
		r = cx_tunnel_exec_plugin(&rl, &sess);
		goto out;
	}
	if (c->run.ca_bundle == NULL)
		c->run.ca_bundle = rl.ca_bundle;
	cx_tunnel_relay_ops(&rl, &ops);
	/* stdin and stdout as the loop can wait on them (os.h) */
	if (cx_stdio_pump(STDIN_FILENO, STDOUT_FILENO, &in, &out) != 0) {
		cx_error("cannot set up stdin and stdout: %s",
		    strerror(errno));
		r = CX_ERR_IO;
	} else {
		r = cx_tunnel_run(&c->run, &ops, &sess, in, out);
		cx_stdio_pump_end(out, 5000);
	}
 out:
	cx_tunnel_session_clean_up(&sess);
	cx_tunnel_relay_clean_up(&rl);
	return r;
}
