/*
 * Assume role (profile role_arn + source_profile / credential_source), as
 * the AWS CLI v2 AssumeRoleProvider, with our own cache
 * (lib/aws/creds_cache.c) so that a connect does not call STS every time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "aws.h"
#include "awscfg.h"
#include "creds.h"
#include "creds_int.h"
#include "xml.h"

#define MAX_CHAIN	16
#define LOCK_WAIT_MS	(2 * 60 * 1000)

static int
has_static(const struct cx_awscfg *cfg, const char *profile)
{
	return cx_awscfg_get(cfg, profile, "aws_access_key_id") != NULL ||
	    cx_awscfg_get(cfg, profile, "aws_secret_access_key") != NULL;
}

static int
is_role(const struct cx_awscfg *cfg, const char *profile)
{
	return cx_awscfg_get(cfg, profile, "role_arn") != NULL &&
	    cx_awscfg_get(cfg, profile, "web_identity_token_file") == NULL;
}

/* Asks for the MFA code on the terminal, without echo. */
static int
mfa_code(const char *profile, const char *serial, char *code, size_t len)
{
	char prompt[512];
	void *saved = NULL;
	size_t n = 0;
	ssize_t k;
	char c;
	int fd, r = 0;

	if (cx_tty_open(&fd) != 0) {
		cx_error("profile '%s' needs an MFA code for '%s', but there is "
		    "no terminal to ask on", profile, serial);
		return CX_ERR_LOGIN;
	}
	snprintf(prompt, sizeof(prompt), "Enter MFA code for %s: ", serial);
	(void)cx_tty_echo_off(fd, &saved);	/* else it echoes: still works */
	(void)cx_write_all(fd, prompt, strlen(prompt));
	while ((k = read(fd, &c, 1)) == 1 && c != '\n' && c != '\r') {
		if (n + 1 < len)
			code[n++] = c;
	}
	code[n] = '\0';
	cx_tty_restore(fd, saved);
	close(fd);
	if (n == 0) {
		cx_error("no MFA code given for profile '%s'", profile);
		r = CX_ERR_CANCELLED;
	}
	return r;
}

/* The JSON that names one AssumeRole call in the cache. */
static int
cache_key(struct cx_aws_ctx *ctx, const char *profile, cJSON **out)
{
	static const char *const keys[] = { "role_arn", "role_session_name",
	    "external_id", "mfa_serial", "duration_seconds", "source_profile",
	    "credential_source", NULL };
	const struct cx_awscfg *cfg = ctx->cfg;
	cJSON *k;
	char *ep = NULL;
	const char *v;
	int i, r;

	*out = NULL;
	if ((r = cx_aws_ctx_endpoint(ctx, "sts", NULL, &ep)) != 0)
		return r;
	if ((k = cJSON_CreateObject()) == NULL) {
		free(ep);
		return CX_ERR_NOMEM;
	}
	r = cx_json_set_str(k, "kind", "assume-role");
	if (r == 0)
		r = cx_json_set_str(k, "profile", profile);
	if (r == 0)
		r = cx_json_set_str(k, "config", cfg->config_path);
	if (r == 0)
		r = cx_json_set_str(k, "region", ctx->region);
	if (r == 0)
		r = cx_json_set_str(k, "endpoint", ep);
	for (i = 0; r == 0 && keys[i] != NULL; i++)
		if ((v = cx_awscfg_get(cfg, profile, keys[i])) != NULL)
			r = cx_json_set_str(k, keys[i], v);
	/* with credential_source = Environment the source is these keys */
	if (r == 0 && (v = cx_awscfg_get(cfg, profile, "credential_source")) !=
	    NULL && getenv("AWS_ACCESS_KEY_ID") != NULL)
		r = cx_json_set_str(k, "env_access_key_id",
		    getenv("AWS_ACCESS_KEY_ID"));
	free(ep);
	if (r != 0) {
		cJSON_Delete(k);
		return r;
	}
	*out = k;
	return 0;
}

static int
source_creds(struct cx_aws_ctx *ctx, const char *profile,
    const char **visited, size_t nvisited, struct cx_creds *out)
{
	const struct cx_awscfg *cfg = ctx->cfg;
	const char *src = cx_awscfg_get(cfg, profile, "source_profile");
	const char *cs = cx_awscfg_get(cfg, profile, "credential_source");
	size_t i;
	int r;

	if (src != NULL && cs != NULL) {
		cx_error("profile '%s' has both source_profile and "
		    "credential_source", profile);
		return CX_ERR_CONFIG;
	}
	if (src == NULL && cs == NULL) {
		cx_error("profile '%s' has role_arn but neither source_profile "
		    "nor credential_source", profile);
		return CX_ERR_CONFIG;
	}
	if (cs != NULL) {
		if (strcasecmp(cs, "Environment") != 0) {
			cx_error("profile '%s': credential_source '%s' is not "
			    "supported (only Environment)", profile, cs);
			return CX_ERR_CONFIG;
		}
		r = cx_creds_env(out);
		if (r == CX_CREDS_NONE) {
			cx_error("profile '%s' takes its source credentials "
			    "from the environment, but AWS_ACCESS_KEY_ID is "
			    "not set", profile);
			return CX_ERR_NOCREDS;
		}
		return r;
	}
	if (!cx_awscfg_has_profile(cfg, src)) {
		cx_error("the source_profile (%s) of profile '%s' could not be "
		    "found", src, profile);
		return CX_ERR_CONFIG;
	}
	if (has_static(cfg, src) || !is_role(cfg, src)) {
		r = cx_creds_non_role_chain(ctx, src, out);
		if (r == CX_CREDS_NONE) {
			cx_error("source_profile '%s' of profile '%s' has no "
			    "credentials", src, profile);
			return CX_ERR_NOCREDS;
		}
		return r;
	}
	for (i = 0; i < nvisited; i++) {
		if (strcmp(visited[i], src) == 0) {
			cx_error("profile '%s': source_profile '%s' makes a "
			    "loop", profile, src);
			return CX_ERR_CONFIG;
		}
	}
	return cx_creds_assume_role(ctx, src, visited, nvisited, out);
}

static int
call_sts(struct cx_aws_ctx *ctx, const char *profile,
    const struct cx_creds *src, struct cx_creds *out)
{
	const struct cx_awscfg *cfg = ctx->cfg;
	struct cx_aws_target t;
	struct cx_aws_error err;
	struct cx_query q;
	struct cx_xml *x = NULL;
	const struct cx_xml_node *cr;
	const char *arn = cx_awscfg_get(cfg, profile, "role_arn");
	const char *name = cx_awscfg_get(cfg, profile, "role_session_name");
	const char *extid = cx_awscfg_get(cfg, profile, "external_id");
	const char *mfa = cx_awscfg_get(cfg, profile, "mfa_serial");
	const char *dur = cx_awscfg_get(cfg, profile, "duration_seconds");
	const char *akid, *sk, *tok, *exp, *uarn;
	char sess[64], code[64], what[512];
	long long d;
	int r;

	memset(&t, 0, sizeof(t));
	memset(&err, 0, sizeof(err));
	memset(out, 0, sizeof(*out));
	code[0] = '\0';
	cx_query_init(&q, "AssumeRole", "2011-06-15");
	if (name == NULL || *name == '\0') {
		snprintf(sess, sizeof(sess), "botocore-session-%lld",
		    (long long)time(NULL));
		name = sess;
	}
	if (dur != NULL && cx_strtonum(dur, 900, 43200, &d) != 0) {
		cx_error("profile '%s': invalid duration_seconds '%s'", profile,
		    dur);
		r = CX_ERR_CONFIG;
		goto out;
	}
	if (mfa != NULL && (r = mfa_code(profile, mfa, code,
	    sizeof(code))) != 0)
		goto out;
	if ((r = cx_query_add(&q, "RoleArn", arn)) != 0 ||
	    (r = cx_query_add(&q, "RoleSessionName", name)) != 0 ||
	    (dur != NULL && (r = cx_query_add(&q, "DurationSeconds", dur))) ||
	    (extid != NULL && (r = cx_query_add(&q, "ExternalId", extid))) ||
	    (mfa != NULL && ((r = cx_query_add(&q, "SerialNumber", mfa)) ||
	    (r = cx_query_add(&q, "TokenCode", code)))))
		goto out;
	if ((r = cx_aws_target_init(&t, ctx, "sts", NULL)) != 0)
		goto out;
	t.creds = src;
	cx_debug(1, "assuming role '%s' for profile '%s' with %s credentials",
	    arn, profile, src->source ? src->source : "source");
	r = cx_aws_query(&t, &q, &x, &err);
	if (r != 0) {
		snprintf(what, sizeof(what), "cannot assume role '%s' for "
		    "profile '%s'", arn, profile);
		cx_aws_log_error(what, r, &err);
		goto out;
	}
	cr = cx_xml_find(x->root, "AssumeRoleResult/Credentials");
	akid = cx_xml_text(cr, "AccessKeyId");
	sk = cx_xml_text(cr, "SecretAccessKey");
	tok = cx_xml_text(cr, "SessionToken");
	exp = cx_xml_text(cr, "Expiration");
	if (akid == NULL || sk == NULL || tok == NULL || exp == NULL ||
	    cx_parse_iso8601(exp, &out->expiration) != 0) {
		cx_error("cannot assume role '%s': STS answered without "
		    "credentials", arn);
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if ((out->access_key_id = strdup(akid)) == NULL ||
	    (out->secret_access_key = strdup(sk)) == NULL ||
	    (out->session_token = strdup(tok)) == NULL) {
		cx_creds_clean_up(out);
		r = CX_ERR_NOMEM;
		goto out;
	}
	/* arn:aws:sts::ACCOUNT:assumed-role/... */
	uarn = cx_xml_text(x->root, "AssumeRoleResult/AssumedRoleUser/Arn");
	if (uarn != NULL && strncmp(uarn, "arn:", 4) == 0) {
		const char *p = uarn;
		int i;
		for (i = 0; i < 4 && p != NULL; i++)
			p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
		if (p != NULL && strchr(p, ':') != NULL &&
		    (out->account_id = strndup(p, (size_t)(strchr(p, ':') -
		    p))) == NULL) {
			cx_creds_clean_up(out);
			r = CX_ERR_NOMEM;
			goto out;
		}
	}
	out->source = "assume-role";
	r = 0;
 out:
	cx_wipe(code, sizeof(code));
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
	cx_aws_error_clean_up(&err);
	cx_xml_free(x);
	return r;
}

int
cx_creds_assume_role(struct cx_aws_ctx *ctx, const char *profile,
    const char **visited, size_t nvisited, struct cx_creds *out)
{
	const char *chain[MAX_CHAIN];
	struct cx_creds src;
	cJSON *key = NULL;
	char *path = NULL;
	int r, lockfd = -1;

	memset(out, 0, sizeof(*out));
	memset(&src, 0, sizeof(src));
	if (nvisited + 1 >= MAX_CHAIN) {
		cx_error("profile '%s': role chain longer than %d", profile,
		    MAX_CHAIN);
		return CX_ERR_CONFIG;
	}
	if (nvisited > 0)
		memcpy(chain, visited, nvisited * sizeof(*chain));
	chain[nvisited++] = profile;

	if ((r = cache_key(ctx, profile, &key)) != 0 ||
	    (r = cx_creds_cache_path(key, &path)) != 0)
		goto out;
	if (cx_creds_cache_get(path, out) == 0)
		goto out;
	/* two connects at once should not both call STS: the second waits
	 * and finds the first one's result */
	if (cx_creds_cache_usable(path) &&
	    cx_lock(path, LOCK_WAIT_MS, &lockfd) != 0)
		lockfd = -1;
	if (lockfd != -1 && cx_creds_cache_get(path, out) == 0)
		goto out;
	if ((r = source_creds(ctx, profile, chain, nvisited, &src)) != 0)
		goto out;
	if ((r = call_sts(ctx, profile, &src, out)) != 0)
		goto out;
	cx_creds_cache_put(path, out);
	r = 0;
 out:
	if (lockfd != -1)
		cx_unlock(lockfd);
	cx_creds_clean_up(&src);
	cJSON_Delete(key);
	free(path);
	return r;
}
