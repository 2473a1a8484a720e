/*
 * Credentials as data: release, copy, and the credential_process JSON form
 * (Version 1) that stages pass along.  No AWS call, no HTTP: cx-tunnel
 * links this without the rest of the chain.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "creds.h"
#include "creds_int.h"

void
cx_creds_clean_up(struct cx_creds *c)
{
	if (c == NULL)
		return;
	free(c->access_key_id);
	cx_freezero_str(c->secret_access_key);
	cx_freezero_str(c->session_token);
	free(c->account_id);
	memset(c, 0, sizeof(*c));
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	return (*out = strdup(s)) == NULL ? CX_ERR_NOMEM : 0;
}

int
cx_creds_copy(struct cx_creds *dst, const struct cx_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_opt(src->access_key_id, &dst->access_key_id) != 0 ||
	    dup_opt(src->secret_access_key, &dst->secret_access_key) != 0 ||
	    dup_opt(src->session_token, &dst->session_token) != 0 ||
	    dup_opt(src->account_id, &dst->account_id) != 0) {
		cx_creds_clean_up(dst);
		return CX_ERR_NOMEM;
	}
	dst->expiration = src->expiration;
	dst->source = src->source;
	return 0;
}

int
cx_creds_set(struct cx_creds *c, const char *akid, const char *secret,
    const char *token, const char *account, const char *source)
{
	memset(c, 0, sizeof(*c));
	if (dup_opt(akid, &c->access_key_id) != 0 ||
	    dup_opt(secret, &c->secret_access_key) != 0 ||
	    dup_opt(token != NULL && *token != '\0' ? token : NULL,
	    &c->session_token) != 0 ||
	    dup_opt(account != NULL && *account != '\0' ? account : NULL,
	    &c->account_id) != 0) {
		cx_creds_clean_up(c);
		return CX_ERR_NOMEM;
	}
	c->source = source;
	return 0;
}

int
cx_creds_from_process_json(const cJSON *doc, const char *what,
    struct cx_creds *out)
{
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "Version");
	const char *akid = cx_json_str(doc, "AccessKeyId");
	const char *secret = cx_json_str(doc, "SecretAccessKey");
	const char *exp = cx_json_str(doc, "Expiration");
	const cJSON *it;
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(doc)) {
		cx_error("%s is not a JSON object", what);
		return CX_ERR_INPUT;
	}
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		cx_error("%s has %s Version, expected 1", what,
		    ver == NULL ? "no" : "an unsupported");
		return CX_ERR_INPUT;
	}
	if (akid == NULL || *akid == '\0') {
		cx_error("%s has no AccessKeyId", what);
		return CX_ERR_INPUT;
	}
	if (secret == NULL || *secret == '\0') {
		cx_error("%s has no SecretAccessKey", what);
		return CX_ERR_INPUT;
	}
	it = cJSON_GetObjectItemCaseSensitive(doc, "SessionToken");
	if (it != NULL && !cJSON_IsNull(it) && !cJSON_IsString(it)) {
		cx_error("%s has a SessionToken that is not a string", what);
		return CX_ERR_INPUT;
	}
	if ((r = cx_creds_set(out, akid, secret, cx_json_str(doc,
	    "SessionToken"), cx_json_str(doc, "AccountId"), "stdin")) != 0)
		return r;
	if (exp != NULL && cx_parse_iso8601(exp, &out->expiration) != 0) {
		cx_error("%s has an invalid Expiration '%s'", what, exp);
		cx_creds_clean_up(out);
		return CX_ERR_INPUT;
	}
	return 0;
}

int
cx_creds_to_process_json(const struct cx_creds *c, cJSON *doc)
{
	char exp[21];
	int r;

	if ((r = cx_json_set_num(doc, "Version", 1)) != 0 ||
	    (r = cx_json_set_str(doc, "AccessKeyId", c->access_key_id)) != 0 ||
	    (r = cx_json_set_str(doc, "SecretAccessKey",
	    c->secret_access_key)) != 0)
		return r;
	if (c->session_token != NULL)
		r = cx_json_set_str(doc, "SessionToken", c->session_token);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "SessionToken");
	if (r != 0)
		return r;
	if (c->expiration != 0) {
		cx_format_iso8601(c->expiration, exp);
		r = cx_json_set_str(doc, "Expiration", exp);
	} else {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "Expiration");
	}
	return r;
}
