/*
 * The AWS context of a stage: resolution (files, profile, region,
 * credential chain), conversion from and to the stage document, and the
 * caller identity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "aws.h"
#include "awscfg.h"
#include "creds.h"
#include "creds_int.h"
#include "http.h"
#include "xml.h"

void
cx_aws_ctx_clean_up(struct cx_aws_ctx *ctx)
{
	if (ctx == NULL)
		return;
	cx_creds_clean_up(&ctx->creds);
	free(ctx->region);
	free(ctx->profile);
	free(ctx->aws_env);
	cx_awscfg_free(ctx->cfg);
	cx_http_free(ctx->http);
	memset(ctx, 0, sizeof(*ctx));
}

/* The HTTP client with the profile's CA bundle and max_attempts. */
static int
make_http(struct cx_aws_ctx *ctx)
{
	struct cx_http_opts ho;
	char *ca = NULL;
	int r, attempts = 0;

	memset(&ho, 0, sizeof(ho));
	if ((r = cx_awscfg_ca_bundle(ctx->cfg, &ca)) != 0 ||
	    (r = cx_awscfg_max_attempts(ctx->cfg, &attempts)) != 0)
		goto out;
	ho.ca_bundle = ca;
	ho.max_attempts = attempts;
	r = cx_http_new(&ho, &ctx->http);
 out:
	free(ca);
	return r;
}

static int
load_cfg(struct cx_aws_ctx *ctx, const char *aws_env, const char *profile,
    const char *hint, const char *region)
{
	char *saved = NULL;
	const char *p;
	int r;

	/* a stage document's Profile acts as AWS_PROFILE would: it picks the
	 * profile but does not switch the environment keys off */
	if (profile == NULL && hint != NULL) {
		if ((p = getenv("AWS_PROFILE")) != NULL &&
		    (saved = strdup(p)) == NULL)
			return CX_ERR_NOMEM;
		setenv("AWS_PROFILE", hint, 1);
	}
	r = cx_awscfg_load(aws_env, profile, &ctx->cfg);
	if (profile == NULL && hint != NULL) {
		if (saved != NULL)
			setenv("AWS_PROFILE", saved, 1);
		else
			unsetenv("AWS_PROFILE");
		free(saved);
	}
	if (r != 0)
		return r;
	if (aws_env != NULL && (ctx->aws_env = strdup(aws_env)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_awscfg_region(ctx->cfg, region, &ctx->region)) != 0)
		return r;
	return make_http(ctx);
}

static int
check_expiry(const struct cx_creds *c, const char *what)
{
	char exp[21];

	if (c->expiration != 0 && c->expiration <= time(NULL)) {
		cx_format_iso8601(c->expiration, exp);
		cx_error("%s expired at %s", what, exp);
		return CX_ERR_LOGIN;
	}
	return 0;
}

static int
resolve(const struct cx_resolve_opts *o, const char *hint,
    struct cx_aws_ctx *ctx)
{
	struct cx_awscfg *cfg;
	char buf[300];
	int r;

	if ((r = load_cfg(ctx, o->aws_env, o->profile, hint, o->region)) != 0)
		return r;
	cfg = ctx->cfg;
	r = CX_CREDS_NONE;
	/* --profile switches the environment keys off; AWS_PROFILE does not */
	if (!cfg->profile_from_arg)
		r = cx_creds_env(&ctx->creds);
	if (r == CX_CREDS_NONE)
		r = cx_creds_profile(ctx, cfg->profile, &ctx->creds);
	if (r == CX_CREDS_NONE) {
		cx_error("unable to locate credentials for profile '%s'; "
		    "configure them with: aws configure --profile %s",
		    cfg->profile, cx_creds_shell_word(cfg->profile, buf,
		    sizeof(buf)));
		return CX_ERR_NOCREDS;
	}
	if (r != 0)
		return r;
	if ((r = check_expiry(&ctx->creds, "the credentials")) != 0)
		return r;
	if (cfg->profile_exists &&
	    (ctx->profile = strdup(cfg->profile)) == NULL)
		return CX_ERR_NOMEM;
	cx_debug(1, "credentials from %s, access key '%s', region '%s'",
	    ctx->creds.source, ctx->creds.access_key_id, ctx->region);
	return 0;
}

int
cx_aws_ctx_resolve(const struct cx_resolve_opts *o, struct cx_aws_ctx *ctx)
{
	int r;

	if ((r = resolve(o, NULL, ctx)) != 0)
		cx_aws_ctx_clean_up(ctx);
	return r;
}

static int
same(const char *a, const char *b)
{
	return a == NULL || b == NULL || strcmp(a, b) == 0;
}

int
cx_aws_ctx_from_json(const cJSON *doc, const struct cx_resolve_opts *o,
    struct cx_aws_ctx *ctx)
{
	struct cx_resolve_opts ro;
	const char *dprof = cx_json_str(doc, "Profile");
	const char *denv = cx_json_str(doc, "AwsEnv");
	const char *dreg = cx_json_str(doc, "Region");
	int r;

	memset(&ro, 0, sizeof(ro));
	ro.profile = o != NULL ? o->profile : NULL;
	ro.aws_env = o != NULL && o->aws_env != NULL ? o->aws_env : denv;
	ro.region = o != NULL && o->region != NULL ? o->region : dreg;
	/* credentials of another profile or environment are of no use */
	if (cx_json_str(doc, "AccessKeyId") == NULL ||
	    !same(ro.profile, dprof) || !same(ro.aws_env, denv)) {
		cx_debug(1, "resolving credentials afresh");
		r = resolve(&ro, dprof, ctx);
		goto out;
	}
	if ((r = cx_creds_from_process_json(doc, "the input", &ctx->creds))
	    != 0)
		goto out;
	ctx->creds.source = "stdin";
	if ((r = check_expiry(&ctx->creds,
	    "the credentials on standard input")) != 0) {
		cx_error("get new ones with: cx-creds%s%s", dprof ?
		    " --profile " : "", dprof ? dprof : "");
		goto out;
	}
	if ((r = load_cfg(ctx, ro.aws_env, ro.profile, dprof, ro.region)) != 0)
		goto out;
	if (ctx->cfg->profile_exists &&
	    (ctx->profile = strdup(ctx->cfg->profile)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	if (r != 0)
		cx_aws_ctx_clean_up(ctx);
	return r;
}

int
cx_aws_ctx_to_json(const struct cx_aws_ctx *ctx, cJSON *doc)
{
	int r;

	if ((r = cx_creds_to_process_json(&ctx->creds, doc)) != 0 ||
	    (r = cx_json_set_str(doc, "Region", ctx->region)) != 0)
		return r;
	if (ctx->profile != NULL)
		r = cx_json_set_str(doc, "Profile", ctx->profile);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "Profile");
	if (r != 0)
		return r;
	if (ctx->aws_env != NULL)
		r = cx_json_set_str(doc, "AwsEnv", ctx->aws_env);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "AwsEnv");
	return r;
}

/* url without a user:password@ part, for a message */
static const char *
host_part(const char *url, char *buf, size_t len)
{
	const char *p = strstr(url, "://"), *host, *end, *at = NULL, *c;

	if (p == NULL)
		return url;
	host = p + 3;
	end = host + strcspn(host, "/?#");
	for (c = host; c < end; c++)
		if (*c == '@')
			at = c;
	if (at == NULL)
		return url;
	snprintf(buf, len, "%.*s%s", (int)(host - url), url, at + 1);
	return buf;
}

int
cx_aws_caller_identity(struct cx_aws_ctx *ctx, cJSON **out)
{
	struct cx_aws_target t;
	struct cx_aws_error err;
	struct cx_query q;
	struct cx_xml *x = NULL;
	const char *arn, *acct, *uid;
	cJSON *id = NULL;
	char where[512];
	int r;

	*out = NULL;
	memset(&t, 0, sizeof(t));
	memset(&err, 0, sizeof(err));
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	if ((r = cx_aws_target_init(&t, ctx, "sts", NULL)) != 0)
		goto out;
	if ((r = cx_aws_query(&t, &q, &x, &err)) != 0) {
		/* a transport failure names where we tried to go; one the
		 * transport could name (a rejected certificate, a hostile
		 * answer) is said as the transport said it */
		if ((r == CX_ERR_NETWORK || r == CX_ERR_TIMEOUT) &&
		    t.endpoint != NULL && err.message == NULL)
			cx_error("cannot get the caller identity: %s (AWS "
			    "endpoint %s)", cx_strerror(r), host_part(
			    t.endpoint, where, sizeof(where)));
		else
			cx_aws_log_error("cannot get the caller identity", r,
			    &err);
		goto out;
	}
	arn = cx_xml_text(x->root, "GetCallerIdentityResult/Arn");
	acct = cx_xml_text(x->root, "GetCallerIdentityResult/Account");
	uid = cx_xml_text(x->root, "GetCallerIdentityResult/UserId");
	if (arn == NULL || acct == NULL || uid == NULL) {
		cx_error("cannot get the caller identity: STS answered "
		    "without one");
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if ((id = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(id, "Arn", arn)) != 0 ||
	    (r = cx_json_set_str(id, "Account", acct)) != 0 ||
	    (r = cx_json_set_str(id, "UserId", uid)) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	*out = id;
	id = NULL;	/* transferred */
	r = 0;
 out:
	cJSON_Delete(id);
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
	cx_aws_error_clean_up(&err);
	return r;
}

int
cx_creds_stage(cJSON *doc, const struct cx_resolve_opts *o, int identity,
    struct cx_aws_ctx *ctx)
{
	struct cx_resolve_opts ro;
	cJSON *id = NULL;
	int r;

	ro = *o;
	if (ro.aws_env == NULL)
		ro.aws_env = cx_json_str(doc, "AwsEnv");
	if (ro.region == NULL)
		ro.region = cx_json_str(doc, "Region");
	/* cx-creds always resolves: what it gets on stdin only tells it
	 * which profile, environment and region */
	if ((r = resolve(&ro, cx_json_str(doc, "Profile"), ctx)) != 0)
		goto out;
	if (identity && (r = cx_aws_caller_identity(ctx, &id)) != 0)
		goto out;
	if ((r = cx_aws_ctx_to_json(ctx, doc)) != 0)
		goto out;
	if (id != NULL) {
		r = cx_json_set(doc, "Identity", id);
		id = NULL;	/* transferred */
	}
 out:
	cJSON_Delete(id);
	if (r != 0)
		cx_aws_ctx_clean_up(ctx);
	return r;
}

static int
put_var(struct cx_buf *b, const char *name, const char *v)
{
	int r;

	if (v == NULL)
		return 0;
	if ((r = cx_buf_printf(b, "export %s='", name)) != 0)
		return r;
	for (; *v != '\0'; v++) {
		if (*v == '\'')
			r = cx_buf_puts(b, "'\\''");
		else
			r = cx_buf_putc(b, (unsigned char)*v);
		if (r != 0)
			return r;
	}
	return cx_buf_puts(b, "'\n");
}

int
cx_creds_print_env(const struct cx_aws_ctx *ctx)
{
	const struct cx_creds *c = &ctx->creds;
	struct cx_buf b;
	char exp[21];
	int r;

	cx_buf_init(&b, 64 * 1024);
	cx_buf_set_secret(&b);
	if (c->expiration != 0)
		cx_format_iso8601(c->expiration, exp);
	if ((r = put_var(&b, "AWS_ACCESS_KEY_ID", c->access_key_id)) != 0 ||
	    (r = put_var(&b, "AWS_SECRET_ACCESS_KEY",
	    c->secret_access_key)) != 0 ||
	    (r = put_var(&b, "AWS_SESSION_TOKEN", c->session_token)) != 0 ||
	    (r = put_var(&b, "AWS_CREDENTIAL_EXPIRATION",
	    c->expiration != 0 ? exp : NULL)) != 0 ||
	    (r = put_var(&b, "AWS_REGION", ctx->region)) != 0)
		goto out;
	if (fwrite(b.data, 1, b.len, stdout) != b.len ||
	    fflush(stdout) == EOF || ferror(stdout)) {
		cx_error("writing output failed");
		r = CX_ERR_IO;
	}
 out:
	cx_buf_clean_up(&b);
	return r;
}

int
cx_aws_ctx_load(const struct cx_resolve_opts *o, struct cx_aws_ctx *ctx)
{
	int r;

	r = load_cfg(ctx, o->aws_env, o->profile, NULL, o->region);
	if (r == 0 && ctx->cfg->profile_exists &&
	    (ctx->profile = strdup(ctx->cfg->profile)) == NULL)
		r = CX_ERR_NOMEM;
	if (r != 0)
		cx_aws_ctx_clean_up(ctx);
	return r;
}

int
cx_creds_print_endpoint(const struct cx_resolve_opts *o, const char *service)
{
	struct cx_aws_ctx ctx;
	char *url = NULL;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	if ((r = cx_aws_ctx_load(o, &ctx)) != 0)
		return r;
	if ((r = cx_aws_ctx_endpoint(&ctx, service, NULL, &url)) == 0 &&
	    (printf("%s\n", url) < 0 || fflush(stdout) == EOF)) {
		cx_error("writing output failed");
		r = CX_ERR_IO;
	}
	free(url);
	cx_aws_ctx_clean_up(&ctx);
	return r;
}
