/*
 * connect's warm wave (issue 14 part 2): once the credentials are known,
 * every call whose inputs are known goes out at once (cx_aws_batch(), one
 * connection cache): DescribeInstances, DescribeInstanceInformation,
 * SendSSHPublicKey and StartSession.  When the instance is running, its
 * agent Online, the key pushed and the session started, the context is
 * what cx-instance | cx-pushkey would have printed, plus the Session, and
 * connect execs the tunnel on it.  Anything else ends the session started
 * early (TerminateSession) and leaves the connect to the stages, which
 * start, wait, push and report errors in their own words, as without the
 * wave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "core/buf.h"
#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ec2/instance.h"
#include "ec2/instance_aws.h"
#include "ec2/pushkey.h"
#include "ssh/sshkey.h"
#include "driver.h"

enum { W_DESCRIBE, W_PING, W_PUSH, W_SESSION, W_N };

static const char *const step_names[W_N] = {
	"wave_describe", "wave_ping", "wave_key_push", "wave_session"
};

int
cx_drv_wave_enabled(int no_wave)
{
	const char *v = getenv(CX_DRV_NO_WAVE_ENV);

	if (no_wave)
		return 0;
	return v == NULL || *v == '\0' || strcmp(v, "0") == 0;
}

/* Everything one wave holds, released by wave_clean_up(). */
struct wave {
	struct cx_aws_target t[W_N];
	struct cx_aws_call call[W_N];
	struct cx_query q;
	cJSON *body[W_N];
	struct cx_sshkey key;
	struct cx_instance inst;
	cJSON *doc;
};

static void
wave_clean_up(struct wave *w)
{
	int i;

	for (i = 0; i < W_N; i++) {
		cx_aws_call_clean_up(&w->call[i]);
		cx_aws_target_clean_up(&w->t[i]);
		cx_json_delete_secure(w->body[i]);
	}
	cx_query_clean_up(&w->q);
	cx_sshkey_clean_up(&w->key);
	cx_instance_clean_up(&w->inst);
	cx_json_delete_secure(w->doc);
	memset(w, 0, sizeof(*w));
}

/* Builds the four calls; 0 or the first error. */
static int
wave_build(struct wave *w, struct cx_drv_session *ds,
    const struct cx_drv_wave_opts *o)
{
	struct cx_aws_ctx *ctx = &ds->aws.ctx;
	static const char *const svc[W_N] = {
		"ec2", "ssm", "ec2-instance-connect", "ssm"
	};
	int i, r;

	if ((w->inst.instance_id = strdup(o->instance_id)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_instance_aws_describe_query(o->instance_id, &w->q)) != 0 ||
	    (r = cx_instance_aws_ping_body(o->instance_id,
	    &w->body[W_PING])) != 0 ||
	    (r = cx_pushkey_body(o->instance_id, o->os_user, NULL, &w->key,
	    &w->body[W_PUSH])) != 0 ||
	    (r = cx_tunnel_start_params(o->instance_id, o->port,
	    &w->body[W_SESSION])) != 0)
		return r;
	for (i = 0; i < W_N; i++) {
		if ((r = cx_aws_target_init(&w->t[i], ctx, svc[i],
		    NULL)) != 0)
			return r;
		w->call[i].t = &w->t[i];
		w->call[i].body = w->body[i];
	}
	w->call[W_DESCRIBE].query = &w->q;
	w->call[W_PING].amz_target = "AmazonSSM.DescribeInstanceInformation";
	w->call[W_PUSH].amz_target =
	    "AWSEC2InstanceConnectService.SendSSHPublicKey";
	w->call[W_SESSION].amz_target = "AmazonSSM.StartSession";
	return 0;
}

/*
 * What the answers say: 0 (warm: the session is in ds), or 1 (cold: the
 * reason at -v).
 */
static int
wave_judge(struct wave *w, const char *id)
{
	struct cx_aws_call *c = w->call;
	char *ping = NULL;
	int r, warm = 0;

	r = c[W_DESCRIBE].r;
	if (r == 0)
		r = cx_instance_aws_describe_answer(c[W_DESCRIBE].xml,
		    &w->inst);
	if (r != 0) {
		cx_debug(1, "warm wave: DescribeInstances: %s%s%s",
		    cx_strerror(r), c[W_DESCRIBE].err.code ? ": " : "",
		    c[W_DESCRIBE].err.code ? c[W_DESCRIBE].err.code : "");
		goto out;
	}
	if (strcmp(w->inst.state, "running") != 0) {
		cx_debug(1, "warm wave: instance '%s' is %s", id,
		    w->inst.state);
		goto out;
	}
	if ((r = cx_instance_aws_ping_answer(c[W_PING].r, c[W_PING].json,
	    &c[W_PING].err, &ping)) != 0 || ping == NULL ||
	    strcmp(ping, "Online") != 0) {
		cx_debug(1, "warm wave: the agent of '%s' is %s", id,
		    r != 0 ? cx_strerror(r) : ping ? ping : "not registered");
		goto out;
	}
	w->inst.ping_status = ping;
	ping = NULL; /* transferred */
	if ((r = cx_pushkey_answer(c[W_PUSH].r, c[W_PUSH].json,
	    &c[W_PUSH].err)) != 0) {
		cx_debug(1, "warm wave: SendSSHPublicKey: %s%s%s",
		    cx_strerror(r), c[W_PUSH].err.code ? ": " : "",
		    c[W_PUSH].err.code ? c[W_PUSH].err.code : "");
		goto out;
	}
	if ((r = c[W_SESSION].r) != 0) {
		cx_debug(1, "warm wave: StartSession: %s%s%s",
		    cx_strerror(r), c[W_SESSION].err.code ? ": " : "",
		    c[W_SESSION].err.code ? c[W_SESSION].err.code : "");
		goto out;
	}
	warm = 1;
 out:
	free(ping);
	return warm ? 0 : 1;
}

/* The context the stages would have made: the credentials' JSON with
 * Instance and KeyPush (the Session is merged later). */
static int
wave_context(struct wave *w, struct cx_drv_session *ds,
    const struct cx_drv_wave_opts *o, time_t until, struct cx_buf *out)
{
	cJSON *inst = NULL;
	char *txt = NULL;
	int r;

	if ((r = cx_instance_to_json(&w->inst, &inst)) != 0)
		return r;
	if ((r = cx_json_set(w->doc, "Instance", inst)) != 0) {
		cJSON_Delete(inst);
		return r;
	}
	if ((r = cx_aws_ctx_to_json(&ds->aws.ctx, w->doc)) != 0 ||
	    (r = cx_pushkey_to_json(w->doc, o->instance_id, o->os_user,
	    &w->key, "file", until)) != 0)
		return r;
	if ((txt = cJSON_PrintUnformatted(w->doc)) == NULL)
		return CX_ERR_NOMEM;
	cx_buf_init(out, CX_DRV_MAX_STAGE_OUT);
	cx_buf_set_secret(out);
	r = cx_buf_puts(out, txt);
	cx_freezero_str(txt);
	return r;
}

int
cx_drv_wave(const struct cx_drv_wave_opts *o, const struct cx_buf *creds,
    struct cx_drv_session *ds, struct cx_buf *out)
{
	struct cx_pushkey_opts po;
	struct wave w;
	uint64_t t0 = cx_now_ms();
	time_t until;
	int r, i;

	memset(&w, 0, sizeof(w));
	memset(ds, 0, sizeof(*ds));
	memset(&po, 0, sizeof(po));
	po.public_key = o->public_key;
	/* quietly: what the stages would refuse (the context, the key, an
	 * endpoint) is theirs to report, once */
	cx_log_mute(1);
	if ((r = cx_stage_parse((const char *)creds->data, creds->len,
	    &w.doc)) == 0) {
		r = cx_tunnel_aws_init(&ds->aws, w.doc, o->instance_id,
		    o->port, &ds->sess);
		ds->have_aws = 1;
		if (r == 0 && ds->sess.session_id != NULL)
			r = 1;	/* a Session already: the stages' way */
	}
	if (r == 0 && (r = cx_pushkey_load(&po, &w.key)) == 0)
		r = wave_build(&w, ds, o);
	cx_log_mute(0);
	if (r != 0)
		goto cold;
	cx_info("Checking the instance, pushing the SSH key and starting "
	    "the session at once...");
	until = time(NULL) + CX_PUSHKEY_VALID_S;
	r = cx_aws_batch(w.call, W_N);
	for (i = 0; r == 0 && i < W_N; i++)
		cx_connlog_step(step_names[i], w.call[i].ms);
	cx_connlog_step("wave", cx_now_ms() - t0);
	if (r != 0)
		goto cold;
	if (w.call[W_SESSION].r == 0) {
		if (cx_tunnel_aws_start_answer(w.call[W_SESSION].json,
		    &ds->sess) == 0)
			ds->started = 1;
		else {
			cx_tunnel_session_clean_up(&ds->sess);
			w.call[W_SESSION].r = CX_ERR_SESSION;
		}
	}
	if (cx_drv_signal_seen()) {
		/* connect ends a session in ds (best effort) */
		r = CX_ERR_CANCELLED;
		goto out;
	}
	if (wave_judge(&w, o->instance_id) != 0)
		goto cold;
	if ((r = wave_context(&w, ds, o, until, out)) != 0)
		goto out;
	r = 0;
	goto out;
 cold:
	/* the early session will not be used */
	cx_drv_session_end(ds);
	cx_drv_session_clean_up(ds);
	r = cx_drv_signal_seen() ? CX_ERR_CANCELLED : 1;
 out:
	wave_clean_up(&w);
	return r;
}
