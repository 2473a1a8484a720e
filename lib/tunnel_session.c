/*
 * A started session as the context carries it: "Session": {"SessionId",
 * "TokenValue" (secret), "StreamUrl"}.  Shared by the driver, cx-session
 * and cx-tunnel; no HTTP here.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cxerr.h"
#include "log.h"
#include "os.h"
#include "stage.h"
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
