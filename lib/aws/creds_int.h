/*
 * Internal to the credential chain (creds*.c, awsctx.c).
 *
 * One call circle is deliberate: the chain (creds.c) calls the assume-role
 * provider (creds_role.c), and that provider calls back into the chain
 * (cx_creds_non_role_chain, cx_creds_env) for the role's source_profile or
 * credential_source, because the AWS CLI resolves a source profile with the
 * same chain.  The recursion is bounded by the visited-profile list and
 * CX_CREDS_MAX_DEPTH.  The providers' other shared helpers live in
 * creds_util.c, which calls nothing of the chain.
 */
#ifndef CX_CREDS_INT_H
#define CX_CREDS_INT_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "creds.h"

/* A provider that does not apply returns this (positive: not an error). */
#define CX_CREDS_NONE		1

/* CX_CREDS_MIN_VALID_S (creds.h): cached temporary credentials are
 * reused while at least that long remains, since botocore refreshes below
 * 15 minutes and anything we hand it as a credential_process must outlive
 * that. */

#define CX_CREDS_PROCESS_MAX_OUT	(64 * 1024)
#define CX_CREDS_PROCESS_TIMEOUT_MS	(5 * 60 * 1000)
#define CX_CREDS_MAX_DEPTH		5	/* nested credential_process */
#define CX_SSO_TOKEN_MAX		(256 * 1024)
#define CX_CACHE_FILE_MAX		(64 * 1024)

/* Fills c from the given strings (secret and token may be NULL/empty),
 * source borrowed.  Returns 0 or CX_ERR_NOMEM (lib/aws/creds_json.c). */
int cx_creds_set(struct cx_creds *c, const char *akid, const char *secret,
    const char *token, const char *account, const char *source);

/* Provider chain for one profile (lib/aws/creds.c). */
int cx_creds_env(struct cx_creds *out);
int cx_creds_profile(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out);

/* Individual providers. */
int cx_creds_process(const char *profile, const char *command,
    struct cx_creds *out);
int cx_creds_sso(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out);
int cx_creds_assume_role(struct cx_aws_ctx *ctx, const char *profile,
    const char **visited, size_t nvisited, struct cx_creds *out);

/* Cache of temporary credentials (lib/aws/creds_cache.c).  key is a JSON
 * object describing the call; its SHA-256 names the file. */
int cx_creds_cache_path(const cJSON *key, char **out);
/*
 * The cache is used only when its folder and each entry follow
 * cx_path_trusted()'s rule (ours, not writable by group or others);
 * otherwise it is skipped with one warning and credentials are fetched
 * as if nothing were cached.
 */
/* 1 when the folder of path is usable (created 0700 if missing), else 0. */
int cx_creds_cache_usable(const char *path);
/* 0 and *out filled if a usable entry exists, else CX_CREDS_NONE. */
int cx_creds_cache_get(const char *path, struct cx_creds *out);
/* Stores c (errors are logged at debug level and ignored). */
void cx_creds_cache_put(const char *path, const struct cx_creds *c);

/* Hex digests (OpenSSL); out must hold 2 * digest size + 1. */
int cx_creds_sha1_hex(const char *s, char out[41]);
int cx_creds_sha256_hex(const void *p, size_t n, char out[65]);

/* profile quoted for a shell command line if it needs quoting */
const char *cx_creds_shell_word(const char *s, char *buf, size_t len);

/* The chain without assume role, for a role's source profile (creds.c). */
struct cx_aws_ctx;
int cx_creds_non_role_chain(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out);

#endif
