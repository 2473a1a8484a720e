/*
 * The AWS CLI v2 credential chain for one profile, and the sources that
 * need no AWS call: environment, shared credentials file,
 * credential_process, config file.  Assume role and SSO live in
 * creds_role.c and creds_sso.c, the cache in creds_cache.c, the helpers
 * they share in creds_util.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/shlex.h"
#include "core/stage.h"
#include "awscfg.h"
#include "creds.h"
#include "creds_int.h"

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int
cx_creds_env(struct cx_creds *out)
{
	const char *akid = env("AWS_ACCESS_KEY_ID");
	const char *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token, *exp;
	int r;

	memset(out, 0, sizeof(*out));
	if (akid == NULL)
		return CX_CREDS_NONE;
	if (secret == NULL) {
		cx_error("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
		    "is not");
		return CX_ERR_CONFIG;
	}
	/* the legacy name first, as botocore */
	if ((token = env("AWS_SECURITY_TOKEN")) == NULL)
		token = env("AWS_SESSION_TOKEN");
	if ((r = cx_creds_set(out, akid, secret, token, env("AWS_ACCOUNT_ID"),
	    "environment")) != 0)
		return r;
	if ((exp = env("AWS_CREDENTIAL_EXPIRATION")) != NULL &&
	    cx_parse_iso8601(exp, &out->expiration) != 0) {
		cx_error("invalid AWS_CREDENTIAL_EXPIRATION '%s'", exp);
		cx_creds_clean_up(out);
		return CX_ERR_CONFIG;
	}
	cx_debug(1, "credentials from the environment (%s)", akid);
	return 0;
}

/* Static keys of profile from one file (creds_file: the credentials file,
 * else the config file). */
static int
static_keys(const struct cx_awscfg *cfg, const char *profile, int creds_file,
    struct cx_creds *out)
{
	const char *(*get)(const struct cx_awscfg *, const char *,
	    const char *) = creds_file ? cx_awscfg_get_creds :
	    cx_awscfg_get_config;
	const char *akid, *secret, *token;
	const char *path = creds_file ? cfg->creds_path : cfg->config_path;

	memset(out, 0, sizeof(*out));
	if ((akid = get(cfg, profile, "aws_access_key_id")) == NULL)
		return CX_CREDS_NONE;
	secret = get(cfg, profile, "aws_secret_access_key");
	if (*akid == '\0' || secret == NULL || *secret == '\0') {
		cx_error("profile '%s' in '%s' has %s but no %s", profile, path,
		    *akid ? "aws_access_key_id" : "an empty aws_access_key_id",
		    "aws_secret_access_key");
		return CX_ERR_CONFIG;
	}
	if ((token = get(cfg, profile, "aws_security_token")) == NULL)
		token = get(cfg, profile, "aws_session_token");
	cx_debug(1, "credentials of profile '%s' from '%s' (%s)", profile,
	    path, akid);
	return cx_creds_set(out, akid, secret, token,
	    get(cfg, profile, "aws_account_id"),
	    creds_file ? "shared-credentials-file" : "config-file");
}

/*
 * Providers 3-8 of the CLI chain for profile (no environment, no assume
 * role): web identity, SSO, shared credentials file, credential_process,
 * config file.
 */
static int
non_role_chain(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out)
{
	const struct cx_awscfg *cfg = ctx->cfg;
	const char *v;
	int r;

	if (cx_awscfg_get(cfg, profile, "web_identity_token_file") != NULL) {
		cx_error("profile '%s' uses web_identity_token_file, which is "
		    "not supported", profile);
		return CX_ERR_CONFIG;
	}
	if (cx_awscfg_get(cfg, profile, "sso_account_id") != NULL ||
	    cx_awscfg_get(cfg, profile, "sso_role_name") != NULL)
		return cx_creds_sso(ctx, profile, out);
	if ((r = static_keys(cfg, profile, 1, out)) != CX_CREDS_NONE)
		return r;
	if ((v = cx_awscfg_get(cfg, profile, "credential_process")) != NULL)
		return cx_creds_process(profile, v, out);
	return static_keys(cfg, profile, 0, out);
}

int
cx_creds_profile(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out)
{
	const struct cx_awscfg *cfg = ctx->cfg;

	memset(out, 0, sizeof(*out));
	if (cx_awscfg_get(cfg, profile, "role_arn") != NULL &&
	    cx_awscfg_get(cfg, profile, "web_identity_token_file") == NULL)
		return cx_creds_assume_role(ctx, profile, NULL, 0, out);
	return non_role_chain(ctx, profile, out);
}

int
cx_creds_non_role_chain(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out)
{
	return non_role_chain(ctx, profile, out);
}

/* First line of the child's stderr, at most 200 bytes, for a message. */
static void
first_line(const struct cx_buf *b, char *out, size_t len)
{
	const char *s = cx_buf_str(b);
	size_t n;

	while (*s == '\n' || *s == '\r' || *s == ' ')
		s++;
	n = strcspn(s, "\r\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int
cx_creds_process(const char *profile, const char *command,
    struct cx_creds *out)
{
	struct cx_buf sout, serr;
	char **argv = NULL, what[256], line[201], depth_s[24];
	const char *depth_env = getenv("CX_CREDS_DEPTH");
	long long depth = 0;
	cJSON *doc = NULL;
	size_t argc = 0;
	int r, status = -1;

	memset(out, 0, sizeof(*out));
	cx_buf_init(&sout, CX_CREDS_PROCESS_MAX_OUT);
	cx_buf_set_secret(&sout);
	cx_buf_init(&serr, CX_CREDS_PROCESS_MAX_OUT);
	snprintf(what, sizeof(what), "the output of credential_process of "
	    "profile '%s'", profile);
	r = cx_shlex_split(command, &argv, &argc);
	if (r == CX_ERR_NOMEM)
		goto out;
	if (r != 0 || argc == 0) {
		cx_error("cannot parse credential_process of profile '%s'",
		    profile);
		r = CX_ERR_CONFIG;
		goto out;
	}
	/* a profile whose credential_process asks for itself would recurse
	 * forever: count the nesting through the environment */
	if (depth_env != NULL && cx_strtonum(depth_env, 0, 1000, &depth) != 0)
		depth = 0;
	if (depth >= CX_CREDS_MAX_DEPTH) {
		cx_error("credential_process of profile '%s' nests more than %d "
		    "deep", profile, CX_CREDS_MAX_DEPTH);
		r = CX_ERR_CONFIG;
		goto out;
	}
	snprintf(depth_s, sizeof(depth_s), "%lld", depth + 1);
	if (setenv("CX_CREDS_DEPTH", depth_s, 1) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	cx_debug(1, "running credential_process of profile '%s': %s", profile,
	    argv[0]);
	r = cx_run(argv, NULL, 0, &sout, &serr, CX_CREDS_PROCESS_TIMEOUT_MS,
	    &status);
	if (depth_env != NULL)
		setenv("CX_CREDS_DEPTH", depth_env, 1);
	else
		unsetenv("CX_CREDS_DEPTH");
	if (r == CX_ERR_NOTFOUND) {
		cx_error("cannot run credential_process of profile '%s': "
		    "'%s' not found", profile, argv[0]);
		r = CX_ERR_CONFIG;
		goto out;
	}
	if (r == CX_ERR_TIMEOUT) {
		cx_error("credential_process of profile '%s' did not finish "
		    "within %d s", profile, CX_CREDS_PROCESS_TIMEOUT_MS / 1000);
		goto out;
	}
	if (r == CX_ERR_TOOBIG) {
		cx_error("credential_process of profile '%s' printed more than "
		    "%d bytes", profile, CX_CREDS_PROCESS_MAX_OUT);
		r = CX_ERR_INPUT;
		goto out;
	}
	if (r != 0) {
		cx_error("cannot run credential_process of profile '%s'",
		    profile);
		goto out;
	}
	if (cx_wait_exit(status) != 0) {
		first_line(&serr, line, sizeof(line));
		if (cx_wait_exit(status) > 0)
			cx_error("credential_process of profile '%s' failed "
			    "(exit %d)%s%s", profile, cx_wait_exit(status),
			    *line ? ": " : "", line);
		else
			cx_error("credential_process of profile '%s' was "
			    "killed by signal %d", profile, cx_wait_signal(status));
		r = CX_ERR_NOCREDS;
		goto out;
	}
	doc = cJSON_ParseWithLength((const char *)cx_buf_str(&sout), sout.len);
	if (doc == NULL) {
		cx_error("%s is not valid JSON", what);
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_creds_from_process_json(doc, what, out)) != 0)
		goto out;
	out->source = "credential-process";
	if (out->expiration != 0 && out->expiration <= time(NULL)) {
		char exp[21];
		cx_format_iso8601(out->expiration, exp);
		cx_error("credentials from credential_process of profile '%s' "
		    "expired at %s", profile, exp);
		cx_creds_clean_up(out);
		r = CX_ERR_LOGIN;
		goto out;
	}
	cx_debug(1, "credentials of profile '%s' from credential_process (%s)",
	    profile, out->access_key_id);
	r = 0;
 out:
	cx_json_delete_secure(doc);
	cx_shlex_free(argv);
	cx_buf_clean_up(&sout);
	cx_buf_clean_up(&serr);
	return r;
}
