/*
 * A started session as the context carries it: "Session": {"SessionId",
 * "TokenValue" (secret), "StreamUrl"}.  Shared by the driver, cx-session
 * and cx-tunnel; no HTTP here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "tunnel.h"

int
cx_tunnel_session_from_json(const cJSON *doc, struct cx_tunnel_session *s)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "Session");
	struct cx_tunnel_session n;
	int r;

	if (o == NULL)
		return 0;
	memset(&n, 0, sizeof(n));
	if (!cJSON_IsObject(o) ||
	    (r = cx_json_dup_str(o, "SessionId", &n.session_id)) != 0 ||
	    (r = cx_json_dup_str(o, "TokenValue", &n.token)) != 0 ||
	    (r = cx_json_dup_str(o, "StreamUrl", &n.stream_url)) != 0 ||
	    n.session_id == NULL || n.token == NULL || n.stream_url == NULL) {
		cx_tunnel_session_clean_up(&n);
		cx_error("bad 'Session' in the context: SessionId, "
		    "TokenValue and StreamUrl are needed");
		return CX_ERR_INPUT;
	}
	cx_tunnel_session_clean_up(s);
	*s = n;
	return 0;
}

int
cx_tunnel_session_to_json(const struct cx_tunnel_session *s, cJSON *doc)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "SessionId", s->session_id) == NULL ||
	    cJSON_AddStringToObject(o, "TokenValue", s->token) == NULL ||
	    cJSON_AddStringToObject(o, "StreamUrl", s->stream_url) == NULL) {
		cx_json_delete_secure(o);
		return CX_ERR_NOMEM;
	}
	return cx_json_set(doc, "Session", o);	/* o taken in every case */
}

int
cx_tunnel_instance_id(const cJSON *doc, const char *instance_id, char **out)
{
	const char *id = instance_id;

	*out = NULL;
	if (id == NULL)
		id = cx_json_str(cJSON_GetObjectItemCaseSensitive(doc,
		    "Instance"), "InstanceId");
	if (id == NULL || *id == '\0') {
		cx_error("no instance: give INSTANCE_ID or "
		    "'.Instance.InstanceId' in the context");
		return CX_ERR_INPUT;
	}
	return (*out = strdup(id)) != NULL ? 0 : CX_ERR_NOMEM;
}

int
cx_tunnel_start_params(const char *instance_id, int port, cJSON **out)
{
	cJSON *j, *params, *ports;
	char pbuf[16];

	snprintf(pbuf, sizeof(pbuf), "%d", port);
	if ((j = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j, "Target", instance_id) == NULL ||
	    cJSON_AddStringToObject(j, "DocumentName",
	    CX_TUNNEL_DOCUMENT) == NULL ||
	    (params = cJSON_AddObjectToObject(j, "Parameters")) == NULL ||
	    (ports = cJSON_AddArrayToObject(params, "portNumber")) == NULL ||
	    !cJSON_AddItemToArray(ports, cJSON_CreateString(pbuf))) {
		cJSON_Delete(j);
		*out = NULL;
		return CX_ERR_NOMEM;
	}
	*out = j;
	return 0;
}

void
cx_tunnel_session_clean_up(struct cx_tunnel_session *s)
{
	free(s->session_id);
	cx_freezero_str(s->token);
	free(s->stream_url);
	memset(s, 0, sizeof(*s));
}

void
cx_tunnel_free_headers(char **hdrs, size_t n)
{
	size_t i;

	if (hdrs == NULL)
		return;
	for (i = 0; i < n; i++)
		cx_freezero_str(hdrs[i]);
	free(hdrs);
}

int
cx_tunnel_start(const struct cx_tunnel_ops *ops,
    struct cx_tunnel_session *sess, long deadline_ms)
{
	uint64_t deadline = cx_now_ms() + (uint64_t)(deadline_ms > 0 ? deadline_ms :
	    60000);
	long delay = 500;
	int r, n = 0;

	for (;;) {
		r = ops->start(ops->ctx, sess);
		if (r != CX_TUNNEL_RETRY)
			return r;
		n++;
		if (cx_now_ms() + (uint64_t)delay >= deadline) {
			cx_error("the instance's agent did not take the "
			    "session in time (TargetNotConnected, %d tries)",
			    n);
			return CX_ERR_DEADLINE;
		}
		cx_info("agent not connected yet (TargetNotConnected), "
		    "retrying in %ld ms", delay);
		if ((r = cx_sleep_ms(delay)) != 0)
			return r;	/* a signal (os.h) */
		delay = delay * 3 / 2;
		if (delay > 4000)
			delay = 4000;
	}
}
