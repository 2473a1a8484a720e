/*
 * connect's overlap: the driver calls StartSession itself while cx-pushkey
 * runs as a child (the key push and the session need not wait for each
 * other), through the tunnel's own AWS side (lib/ssm/tunnel_aws.h), so the
 * TargetNotConnected retry, its deadline and its messages are the tunnel's.
 * The session then reaches cx-tunnel in the context, as
 * "Session": {"SessionId", "TokenValue", "StreamUrl"}.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "driver.h"

/* StartSession, unless a signal came (the retry loop would go on). */
static int
start_unless_signalled(void *ctx, struct cx_tunnel_session *s)
{
	struct cx_drv_session *ds = ctx;

	if (cx_drv_signal_seen())
		return CX_ERR_CANCELLED;
	return ds->ops.start(ds->ops.ctx, s);
}

int
cx_drv_session_start(struct cx_drv_session *ds, const void *json,
    size_t len, const char *instance_id, int port, long deadline_ms)
{
	struct cx_tunnel_ops ops;
	cJSON *doc = NULL;
	int r;

	memset(ds, 0, sizeof(*ds));
	if ((r = cx_stage_parse(json, len, &doc)) != 0)
		return r;
	r = cx_tunnel_aws_init(&ds->aws, doc, instance_id, port, &ds->sess);
	cx_json_delete_secure(doc);
	ds->have_aws = 1;
	if (r != 0)
		return r;
	if (ds->sess.session_id != NULL)	/* a stage started one */
		return 0;
	cx_tunnel_aws_ops(&ds->aws, &ds->ops);
	ops = ds->ops;
	ops.start = start_unless_signalled;
	ops.ctx = ds;
	r = cx_tunnel_start(&ops, &ds->sess, deadline_ms);
	if (r == 0)
		ds->started = 1;
	else
		cx_tunnel_session_clean_up(&ds->sess);
	return r;
}

void
cx_drv_session_end(struct cx_drv_session *ds)
{
	struct cx_aws_target t;
	struct cx_aws_error err;
	cJSON *body = NULL, *ans = NULL;
	int r;

	if (!ds->started || ds->sess.session_id == NULL)
		return;
	ds->started = 0;
	memset(&err, 0, sizeof(err));
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "SessionId",
	    ds->sess.session_id) == NULL)
		goto out;
	if ((r = cx_aws_target_init(&t, &ds->aws.ctx, "ssm", NULL)) != 0)
		goto out;
	/* best effort: an unused session also times out on its own */
	r = cx_aws_json(&t, "AmazonSSM.TerminateSession", body, &ans, &err);
	cx_debug(1, "TerminateSession '%s': %s", ds->sess.session_id,
	    r == 0 ? "ok" : cx_strerror(r));
	cx_aws_target_clean_up(&t);
 out:
	cx_aws_error_clean_up(&err);
	cx_json_delete_secure(ans);
	cJSON_Delete(body);
}

int
cx_drv_session_merge(const struct cx_drv_session *ds, struct cx_buf *ctx)
{
	cJSON *doc = NULL;
	char *txt = NULL;
	int r;

	if (ds->sess.session_id == NULL)
		return 0;
	if ((r = cx_stage_parse((const char *)ctx->data, ctx->len,
	    &doc)) != 0)
		return r;
	if ((r = cx_tunnel_session_to_json(&ds->sess, doc)) != 0)
		goto out;
	r = CX_ERR_NOMEM;
	if ((txt = cJSON_PrintUnformatted(doc)) == NULL)
		goto out;
	cx_buf_reset(ctx);
	r = cx_buf_puts(ctx, txt);
 out:
	cx_freezero_str(txt);
	cx_json_delete_secure(doc);
	return r;
}

void
cx_drv_session_clean_up(struct cx_drv_session *ds)
{
	cx_tunnel_session_clean_up(&ds->sess);
	if (ds->have_aws)
		cx_tunnel_aws_clean_up(&ds->aws);
	memset(ds, 0, sizeof(*ds));
}
