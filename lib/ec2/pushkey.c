#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"
#include "core/cxerr.h"
#include "core/hardening.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ssh/sshagent.h"
#include "instance.h"
#include "pushkey.h"

int
cx_pushkey_os_user_valid(const char *u)
{
	size_t n, i;

	/* the EIC model: ^[A-Za-z_][A-Za-z0-9\@\._-]{0,30}[A-Za-z0-9\$_-]?$ */
	if (u == NULL || (n = strlen(u)) == 0 || n > 32)
		return 0;
	if (!((u[0] >= 'A' && u[0] <= 'Z') || (u[0] >= 'a' && u[0] <= 'z') ||
	    u[0] == '_'))
		return 0;
	for (i = 1; i < n; i++) {
		char c = u[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-')
			continue;
		if ((c == '@' || c == '.') && i < n - 1 && i <= 30)
			continue;
		if (c == '$' && i == n - 1)
			continue;
		return 0;
	}
	return 1;
}

int
cx_pushkey_load(const struct cx_pushkey_opts *o, struct cx_sshkey *k)
{
	char *sock = NULL, *path = NULL, what[1100];
	int r;

	memset(k, 0, sizeof(*k));
	if ((o->public_key == NULL) == (o->agent_key == NULL)) {
		cx_error("give exactly one of --public-key FILE and "
		    "--agent-key FINGERPRINT|COMMENT");
		return CX_ERR_USAGE;
	}
	if (o->public_key != NULL) {
		if ((r = cx_expand_user(o->public_key, &path)) != 0)
			goto out;
		if ((r = cx_sshkey_load(path, k)) != 0)
			goto out;
		/* ssh would ignore a private key next to it that others
		 * may read: say so now, not as a failed login later */
		if (strlen(path) > 4 &&
		    strcmp(path + strlen(path) - 4, ".pub") == 0) {
			path[strlen(path) - 4] = '\0';
			r = cx_check_private_key(path);
			path[strlen(path)] = '.';
			if (r != 0) {
				cx_sshkey_clean_up(k);
				goto out;
			}
		}
		snprintf(what, sizeof(what), "'%s'", path);
	} else {
		if ((r = cx_agent_socket_path(o->agent_socket, &sock)) != 0 ||
		    (r = cx_agent_pick(sock, o->agent_key, k)) != 0)
			goto out;
		snprintf(what, sizeof(what), "agent key '%s'", o->agent_key);
	}
	if ((r = cx_sshkey_check_eic(k, what)) != 0)
		cx_sshkey_clean_up(k);
 out:
	free(sock);
	free(path);
	return r;
}

int
cx_pushkey_target(const struct cx_pushkey_opts *o, const cJSON *doc,
    const char **id, const char **az)
{
	const cJSON *inst = cJSON_GetObjectItemCaseSensitive(doc, "Instance");
	const char *doc_id = cJSON_IsObject(inst) ?
	    cx_json_str(inst, "InstanceId") : NULL;

	*id = o->instance_id ? o->instance_id : doc_id;
	*az = NULL;
	if (*id == NULL) {
		cx_error("no instance id: give INSTANCE_ID or pipe in "
		    "cx-instance output");
		return CX_ERR_USAGE;
	}
	if (!cx_instance_id_valid(*id)) {
		cx_error("invalid EC2 instance id '%s': it must be 'i-' and 8 "
		    "or 17 hexadecimal digits (i-1234567890abcdef0)", *id);
		return CX_ERR_USAGE;
	}
	if (doc_id != NULL && strcmp(doc_id, *id) == 0)
		*az = cx_json_str(inst, "AvailabilityZone");
	return 0;
}

int
cx_pushkey_body(const char *id, const char *os_user, const char *az,
    const struct cx_sshkey *k, cJSON **out)
{
	cJSON *body = NULL;
	char *line = NULL;
	int r;

	*out = NULL;
	/* the comment only if the line stays within the API's limit */
	if ((r = cx_sshkey_to_line(k, 1, &line)) != 0)
		goto out;
	if (strlen(line) > CX_SSHKEY_EIC_MAX_LINE) {
		free(line);
		if ((r = cx_sshkey_to_line(k, 0, &line)) != 0)
			goto out;
		if (strlen(line) > CX_SSHKEY_EIC_MAX_LINE) {
			cx_error("the key is longer than the %d characters "
			    "EC2 Instance Connect takes",
			    CX_SSHKEY_EIC_MAX_LINE);
			r = CX_ERR_INPUT;
			goto out;
		}
	}
	r = CX_ERR_NOMEM;
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "InstanceId", id) == NULL ||
	    cJSON_AddStringToObject(body, "InstanceOSUser", os_user) == NULL ||
	    cJSON_AddStringToObject(body, "SSHPublicKey", line) == NULL ||
	    (az != NULL && *az != '\0' && cJSON_AddStringToObject(body,
	    "AvailabilityZone", az) == NULL))
		goto out;
	*out = body;
	body = NULL; /* transferred */
	r = 0;
 out:
	free(line);
	cJSON_Delete(body);
	return r;
}

int
cx_pushkey_answer(int r, const cJSON *ans, const struct cx_aws_error *err)
{
	if (r != 0 && err->code != NULL) {
		/* EIC's own codes, which the generic classes do not know */
		if (strstr(err->code, "NotFound") != NULL)
			r = CX_ERR_NOTFOUND;
		else if (strcmp(err->code, "AuthException") == 0)
			r = CX_ERR_DENIED;
		else if (strcmp(err->code,
		    "EC2InstanceStateInvalidException") == 0 ||
		    strcmp(err->code,
		    "EC2InstanceUnavailableException") == 0)
			r = CX_ERR_STATE;
	}
	if (r == 0 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ans,
	    "Success")))
		r = CX_ERR_AWS;
	return r;
}

int
cx_pushkey_send(struct cx_aws_ctx *ctx, const char *id, const char *os_user,
    const char *az, const struct cx_sshkey *k)
{
	struct cx_aws_target t;
	struct cx_aws_error err;
	cJSON *body = NULL, *ans = NULL;
	char what[160];
	int r;

	memset(&t, 0, sizeof(t));
	memset(&err, 0, sizeof(err));
	if ((r = cx_pushkey_body(id, os_user, az, k, &body)) != 0)
		goto out;
	if ((r = cx_aws_target_init(&t, ctx, "ec2-instance-connect",
	    NULL)) != 0)
		goto out;
	r = cx_aws_json(&t, "AWSEC2InstanceConnectService.SendSSHPublicKey",
	    body, &ans, &err);
	if (r == 0 && (r = cx_pushkey_answer(r, ans, &err)) != 0) {
		cx_error("cannot push the key to '%s': the service said "
		    "Success false", id);
		goto out;
	}
	r = cx_pushkey_answer(r, ans, &err);
	if (r != 0) {
		if (r == CX_ERR_NOTFOUND)
			cx_error("cannot push the key: instance '%s' not found "
			    "in region '%s'%s%s", id, ctx->region,
			    err.code ? ": " : "", err.code ? err.code : "");
		else {
			snprintf(what, sizeof(what), "cannot push the key to "
			    "'%s' in region '%s'", id, ctx->region);
			cx_aws_log_error(what, r, &err);
		}
		goto out;
	}
 out:
	cJSON_Delete(body);
	cx_json_delete_secure(ans);
	cx_aws_error_clean_up(&err);
	cx_aws_target_clean_up(&t);
	return r;
}

int
cx_pushkey_to_json(cJSON *doc, const char *id, const char *os_user,
    const struct cx_sshkey *k, const char *source, time_t valid_until)
{
	cJSON *o;
	char ts[21];

	if ((o = cJSON_CreateObject()) == NULL)
		return CX_ERR_NOMEM;
	if (valid_until != 0)
		cx_format_iso8601(valid_until, ts);
	if (cJSON_AddStringToObject(o, "InstanceId", id) == NULL ||
	    cJSON_AddStringToObject(o, "OsUser", os_user) == NULL ||
	    cJSON_AddStringToObject(o, "KeyType", k->type) == NULL ||
	    cJSON_AddStringToObject(o, "Fingerprint", k->fingerprint) ==
	    NULL ||
	    cJSON_AddStringToObject(o, "Comment", k->comment) == NULL ||
	    cJSON_AddStringToObject(o, "Source", source) == NULL ||
	    (valid_until != 0 ? cJSON_AddStringToObject(o, "ValidUntil", ts) :
	    cJSON_AddNullToObject(o, "ValidUntil")) == NULL) {
		cJSON_Delete(o);
		return CX_ERR_NOMEM;
	}
	return cx_json_set(doc, "KeyPush", o);
}
