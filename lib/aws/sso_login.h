/*
 * Logging in to IAM Identity Center without the AWS CLI: the SSO OIDC
 * API (RegisterClient, StartDeviceAuthorization, CreateToken) with the
 * authorization-code grant and PKCE over a loopback redirect, or the
 * device-authorization grant, writing the token cache exactly as the AWS
 * CLI v2 does, so both share one login (docs/cx-creds.md, "Logging in").
 *
 * Files, both under ~/.aws/sso/cache/ (folder 0700, files 0600 from
 * creation, written atomically, used only when cx_path_trusted()):
 *   <sha1 of the sso-session name, or of the start URL (legacy)>.json
 *     the token: startUrl, region, accessToken, expiresAt, and for an
 *     sso-session clientId, clientSecret, registrationExpiresAt,
 *     refreshToken
 *   <sha1 of {"region", "scopes", "session_name", "startUrl", "tool"}
 *     as Python's json.dumps(sort_keys=True) prints it>.json
 *     the client registration: clientId, clientSecret, expiresAt,
 *     scopes (when configured), grantTypes (authorization-code clients);
 *     reused until 15 minutes before expiresAt, and only for the grant
 *     it was registered for (else registered again and replaced).
 *
 * Implemented in lib/aws/sso_login.c (the API and the cache) and
 * lib/aws/sso_listen.c (the loopback redirect listener).
 */
#ifndef CX_SSO_LOGIN_H
#define CX_SSO_LOGIN_H

#include <stddef.h>
#include <stdint.h>

struct cx_aws_ctx;

struct cx_sso_login_opts {
	const char *profile;	/* the profile to log in (required) */
	int no_browser;		/* 1: the device flow at once */
	long timeout_ms;	/* auth-code flow: wait this long for the
				 * browser's redirect; 0: 10 minutes */
};

/*
 * Logs o->profile in (its sso_session, or its legacy sso_start_url and
 * sso_region) and writes the token cache.  ctx: the profile's loaded
 * files and HTTP client (cx_aws_ctx_load()).  Progress, the URL and the
 * user code go to stderr; nothing to stdout.  Errors are said in one line
 * and returned: CX_ERR_CONFIG (not an SSO profile), CX_ERR_DENIED (the
 * sign-in was denied), CX_ERR_DEADLINE (the device code expired, or no
 * redirect came in time), CX_ERR_INPUT (a redirect with a wrong or missing
 * state), CX_ERR_NETWORK/TIMEOUT/AWS (the OIDC service), CX_ERR_IO,
 * CX_ERR_CANCELLED (a caught signal).
 */
int cx_sso_login(struct cx_aws_ctx *ctx, const struct cx_sso_login_opts *o);

/* ---- internals shared by sso_login.c and sso_listen.c ---- */

/*
 * A loopback listener on 127.0.0.1 at an ephemeral port (*portp).  *fdp:
 * close-on-exec, non-blocking.
 */
int cx_sso_listen(int *fdp, int *portp);

/*
 * Waits for the browser's GET /oauth/callback on the listener fd until
 * deadline (cx_now_ms clock): other paths are answered 404 and waited
 * past.  state must match the callback's; the code (malloc'd, secret) goes
 * to *codep.  The browser gets a small HTML page saying what happened.
 * Errors (one line said): CX_ERR_DENIED (error=...), CX_ERR_INPUT (a wrong
 * or missing state or code), CX_ERR_DEADLINE, CX_ERR_CANCELLED, CX_ERR_IO.
 */
int cx_sso_wait_callback(int fd, const char *state, uint64_t deadline,
    char **codep);

/*
 * The Python json.dumps(obj, sort_keys=True) spelling of the registration
 * key for the given values (scopes: nscopes strings, none for null;
 * session: NULL for null).  *out malloc'd.  (Exposed for unit tests.)
 */
int cx_sso_registration_key(const char *region, const char *const *scopes,
    size_t nscopes, const char *session, const char *start_url,
    char **out);

#endif
