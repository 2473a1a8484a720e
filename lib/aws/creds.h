/*
 * AWS credentials and the resolved "AWS context" every stage works in:
 * credentials + region + profile + the loaded config files (for endpoints,
 * CA bundle, retry settings).
 *
 * Implemented in lib/aws/creds.c (the resolution chain), lib/aws/creds_role.c
 * (assume role), lib/aws/creds_sso.c (SSO), lib/aws/creds_cache.c (the cache of
 * temporary credentials), lib/aws/awsctx.c and lib/aws/awscfg.c (endpoints).
 */
#ifndef CX_CREDS_H
#define CX_CREDS_H

#include <time.h>

#include <cjson/cJSON.h>

struct cx_awscfg;	/* lib/aws/awscfg.h */
struct cx_http;		/* lib/aws/http.h */

struct cx_creds {
	char *access_key_id;
	char *secret_access_key;	/* secret: wiped on clean-up */
	char *session_token;		/* secret; NULL for long-term keys */
	time_t expiration;		/* 0: does not expire */
	char *account_id;		/* may be NULL */
	const char *source;		/* static string: "environment",
					 * "shared-credentials-file",
					 * "config-file", "credential-process",
					 * "assume-role", "sso", "cache", "stdin" */
};

/* Wipes the secrets and frees every string; the struct is left zeroed. */
void cx_creds_clean_up(struct cx_creds *c);
/* Deep copy; dst must be clean.  Returns 0 or CX_ERR_NOMEM. */
int cx_creds_copy(struct cx_creds *dst, const struct cx_creds *src);
/* The credential_process JSON shape (Version 1, AccessKeyId, ...):
 * what says where the document came from, for messages (lib/aws/creds_json.c,
 * which needs no HTTP). */
int cx_creds_from_process_json(const cJSON *doc, const char *what,
    struct cx_creds *out);
int cx_creds_to_process_json(const struct cx_creds *c, cJSON *doc);

/* Options every stage accepts for resolving its own context. */
struct cx_resolve_opts {
	const char *profile;	/* --profile, or NULL */
	const char *aws_env;	/* --aws-env: ~/.aws/aws-envs/E/{config,credentials} */
	const char *region;	/* --region, or NULL */
};

/* Reuse temporary credentials only while this many seconds remain. */
#define CX_CREDS_MIN_VALID_S	(15 * 60)

struct cx_aws_ctx {
	struct cx_creds creds;
	char *region;		/* never NULL after a successful resolve */
	char *profile;		/* the profile used, or NULL (pure env keys) */
	char *aws_env;		/* or NULL */
	struct cx_awscfg *cfg;	/* loaded files (may be empty), owned */
	struct cx_http *http;	/* one connection-reusing client, owned,
				 * created on first use */
};

/*
 * Runs the whole AWS CLI v2 resolution chain (environment, assume role,
 * SSO, shared credentials, credential_process, config file) for the
 * profile chosen by o, and the region chain.  ctx must be zeroed; on
 * success it owns everything and must be released with
 * cx_aws_ctx_clean_up().  Errors are logged (one line) and returned:
 * CX_ERR_CONFIG (missing profile, malformed files), CX_ERR_NOCREDS,
 * CX_ERR_LOGIN (expired SSO token: "run: cloudx-proxy login --profile P"),
 * CX_ERR_DENIED, CX_ERR_NETWORK, ...
 */
int cx_aws_ctx_resolve(const struct cx_resolve_opts *o, struct cx_aws_ctx *ctx);

/*
 * Builds the context from a stage document (the credential_process keys,
 * Region, Profile, AwsEnv), loading the config files of that profile for
 * endpoints.  Options in o override the document.  If the document carries
 * no AccessKeyId, falls back to cx_aws_ctx_resolve().
 */
int cx_aws_ctx_from_json(const cJSON *doc, const struct cx_resolve_opts *o,
    struct cx_aws_ctx *ctx);

/* Sets Version, AccessKeyId, SecretAccessKey, SessionToken, Expiration,
 * Region, Profile (and AwsEnv) in doc, replacing what was there. */
int cx_aws_ctx_to_json(const struct cx_aws_ctx *ctx, cJSON *doc);

void cx_aws_ctx_clean_up(struct cx_aws_ctx *ctx);

/*
 * The endpoint URL for service (the AWS service id in lower case:
 * "ec2", "ssm", "ec2-instance-connect", "sts", "iam", "sso", "sso-oidc"),
 * following AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL > [services]
 * section > profile endpoint_url > the real regional endpoint.  region may
 * be NULL (ctx->region).  *out is malloc'd.
 */
int cx_aws_ctx_endpoint(const struct cx_aws_ctx *ctx, const char *service,
    const char *region, char **out);

/*
 * STS GetCallerIdentity with ctx's credentials.  On success *out is a new
 * object {"Arn", "Account", "UserId"} owned by the caller.  Errors are
 * logged ("cannot get the caller identity: <code>: <message>") and
 * returned as cx_aws_query() does (CX_ERR_DENIED for a wrong key, ...).
 */
int cx_aws_caller_identity(struct cx_aws_ctx *ctx, cJSON **out);

/*
 * The cx-creds stage: resolves the context for o, taking the stage
 * document's AwsEnv and Region where o has none and its Profile as
 * AWS_PROFILE would be (credentials on stdin are not reused: this stage
 * gets fresh ones), then writes the credential keys, Region, Profile and
 * AwsEnv into doc, plus Identity if identity is set.  ctx must be zeroed;
 * on success it is filled (cx_aws_ctx_clean_up()), on failure it is left
 * clean.  Errors are logged.
 */
int cx_creds_stage(cJSON *doc, const struct cx_resolve_opts *o,
    int identity, struct cx_aws_ctx *ctx);

/* Prints ctx's credentials and region on stdout as shell assignments
 * (export AWS_ACCESS_KEY_ID='...', ..., AWS_CREDENTIAL_EXPIRATION,
 * AWS_REGION).  Returns 0 or CX_ERR_IO (logged). */
int cx_creds_print_env(const struct cx_aws_ctx *ctx);
/*
 * Loads the files, profile and region for o without any credentials (for
 * stages that only need endpoints or settings).  ctx must be zeroed; on
 * failure it is left clean.  Errors as cx_aws_ctx_resolve() (logged).
 */
int cx_aws_ctx_load(const struct cx_resolve_opts *o, struct cx_aws_ctx *ctx);

/* Prints the endpoint URL that o's profile and region give service, and a
 * newline (cx-creds --print-endpoint; no credentials needed). */
int cx_creds_print_endpoint(const struct cx_resolve_opts *o,
    const char *service);

#endif
