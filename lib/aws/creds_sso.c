/*
 * IAM Identity Center (SSO) role credentials, as the AWS CLI v2
 * SSOProvider: the token written by `cloudx-proxy login` (lib/aws/
 * sso_login.c) or `aws sso login` in
 * ~/.aws/sso/cache/<sha1>.json (refreshed through SSO OIDC for the
 * sso-session form when it is about to expire), then GetRoleCredentials
 * on the portal.  Results go through our cache (lib/aws/creds_cache.c).
 */
#include <curl/curl.h>

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

#define SSO_REFRESH_S	(15 * 60)	/* refresh a token this close to expiry */

struct sso_cfg {
	const char *session;	/* sso-session name, or NULL (legacy) */
	const char *start_url;
	const char *region;
	const char *account;
	const char *role;
};

static int
login_error(const char *profile)
{
	char buf[300];

	cx_error("the SSO session for profile '%s' has expired or is missing; "
	    "run: cloudx-proxy login --profile %s", profile,
	    cx_creds_shell_word(profile, buf, sizeof(buf)));
	return CX_ERR_LOGIN;
}

static int
read_cfg(const struct cx_awscfg *cfg, const char *profile, struct sso_cfg *s)
{
	const struct cx_ini_section *sec;
	static const char *const shared[] = { "sso_start_url", "sso_region",
	    NULL };
	const char *pv, *sv;
	int i;

	memset(s, 0, sizeof(*s));
	s->account = cx_awscfg_get(cfg, profile, "sso_account_id");
	s->role = cx_awscfg_get(cfg, profile, "sso_role_name");
	s->session = cx_awscfg_get(cfg, profile, "sso_session");
	if (s->session != NULL) {
		if ((sec = cx_awscfg_sso_session(cfg, s->session)) == NULL) {
			cx_error("profile '%s' names sso_session '%s', but "
			    "there is no [sso-session %s] section", profile,
			    s->session, s->session);
			return CX_ERR_CONFIG;
		}
		for (i = 0; shared[i] != NULL; i++) {
			pv = cx_awscfg_get(cfg, profile, shared[i]);
			sv = cx_ini_get(cfg->config, sec, shared[i]);
			if (pv != NULL && sv != NULL && strcmp(pv, sv) != 0) {
				cx_error("profile '%s' and sso-session '%s' "
				    "disagree on %s", profile, s->session,
				    shared[i]);
				return CX_ERR_CONFIG;
			}
		}
		s->start_url = cx_ini_get(cfg->config, sec, "sso_start_url");
		s->region = cx_ini_get(cfg->config, sec, "sso_region");
	} else {
		s->start_url = cx_awscfg_get(cfg, profile, "sso_start_url");
		s->region = cx_awscfg_get(cfg, profile, "sso_region");
	}
	if (s->start_url == NULL || s->region == NULL || s->account == NULL ||
	    s->role == NULL) {
		cx_error("profile '%s' is missing %s for SSO", profile,
		    s->start_url == NULL ? "sso_start_url" :
		    s->region == NULL ? "sso_region" :
		    s->account == NULL ? "sso_account_id" : "sso_role_name");
		return CX_ERR_CONFIG;
	}
	if (!cx_aws_region_valid(s->region)) {
		cx_error("profile '%s': invalid sso_region '%s'", profile,
		    s->region);
		return CX_ERR_CONFIG;
	}
	return 0;
}

static int
token_path(const struct sso_cfg *s, char **out)
{
	char hex[41], name[64], *rel = NULL;
	int r;

	*out = NULL;
	if ((r = cx_creds_sha1_hex(s->session ? s->session : s->start_url, hex)) != 0)
		return r;
	snprintf(name, sizeof(name), "~/.aws/sso/cache/%s.json", hex);
	if ((r = cx_expand_user(name, &rel)) != 0)
		return r;
	*out = rel;
	return 0;
}

/*
 * SSO OIDC CreateToken with the refresh token; on success updates tok
 * (accessToken, expiresAt, refreshToken) and rewrites the cache file.
 */
static int
refresh_token(struct cx_aws_ctx *ctx, const struct sso_cfg *s,
    const char *path, cJSON *tok)
{
	struct cx_http_request rq;
	struct cx_http_response rs;
	static const char *const hdrs[] = {
		"Content-Type: application/json", "Accept: application/json"
	};
	cJSON *body = NULL, *ans = NULL;
	const cJSON *ei;
	const char *at, *rt;
	char exp[21], *ep = NULL, *url = NULL, *text = NULL, *req = NULL;
	int r;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	/* CreateToken is REST-JSON, POST /token, unsigned: one request
	 * through the context's HTTP client, no retries (on failure the old
	 * token is used while it lasts) */
	if (ctx->http == NULL)
		return CX_ERR_INTERNAL;
	if ((r = cx_aws_ctx_endpoint(ctx, "sso-oidc", s->region, &ep)) != 0)
		goto out;
	if (cx_asprintf(&url, "%s/token", ep) < 0) {
		url = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((body = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(body, "grantType", "refresh_token")) != 0 ||
	    (r = cx_json_set_str(body, "clientId",
	    cx_json_str(tok, "clientId"))) != 0 ||
	    (r = cx_json_set_str(body, "clientSecret",
	    cx_json_str(tok, "clientSecret"))) != 0 ||
	    (r = cx_json_set_str(body, "refreshToken",
	    cx_json_str(tok, "refreshToken"))) != 0 ||
	    (req = cJSON_PrintUnformatted(body)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.nheaders = 2;
	rq.body = req;
	rq.body_len = strlen(req);
	cx_debug(1, "refreshing the SSO token of sso-session '%s'", s->session);
	if ((r = cx_http_do(ctx->http, &rq, &rs)) != 0)
		goto out;
	cx_buf_set_secret(&rs.body);
	if (rs.status != 200) {
		cx_debug(1, "SSO token refresh failed: HTTP %ld", rs.status);
		r = CX_ERR_LOGIN;
		goto out;
	}
	ans = cJSON_ParseWithLength(cx_buf_str(&rs.body), rs.body.len);
	at = cx_json_str(ans, "accessToken");
	ei = cJSON_GetObjectItemCaseSensitive(ans, "expiresIn");
	if (at == NULL || !cJSON_IsNumber(ei) || ei->valuedouble <= 0) {
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	cx_format_iso8601(time(NULL) + (time_t)ei->valuedouble, exp);
	if ((r = cx_json_set_str(tok, "accessToken", at)) != 0 ||
	    (r = cx_json_set_str(tok, "expiresAt", exp)) != 0)
		goto out;
	if ((rt = cx_json_str(ans, "refreshToken")) != NULL &&
	    (r = cx_json_set_str(tok, "refreshToken", rt)) != 0)
		goto out;
	if ((text = cJSON_Print(tok)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (cx_write_file_atomic(path, text, strlen(text), 0600,
	    CX_ATOMIC_SECRET) != 0)
		cx_debug(1, "cannot rewrite the SSO token cache '%s'", path);
	r = 0;
 out:
	if (text != NULL) {
		cx_wipe(text, strlen(text));
		cJSON_free(text);
	}
	if (req != NULL) {
		cx_wipe(req, strlen(req));
		cJSON_free(req);
	}
	cx_json_delete_secure(body);
	cx_json_delete_secure(ans);
	cx_http_response_clean_up(&rs);
	free(ep);
	free(url);
	return r;
}

/* CX_ERR_LOGIN after one line when the folder of the token is not
 * trusted (cx_path_trusted), else 0 */
static int
untrusted_cache(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, why[160];
	int r;

	if (slash == NULL)
		return 0;
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return CX_ERR_NOMEM;
	r = cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why));
	if (r == CX_ERR_DENIED)
		cx_error("not using the SSO token cache '%s': it is %s", dir,
		    why);
	free(dir);
	return r == CX_ERR_DENIED ? CX_ERR_LOGIN : 0;
}

/* Loads a usable access token into *tokp (owned by the caller). */
static int
load_token(struct cx_aws_ctx *ctx, const char *profile,
    const struct sso_cfg *s, cJSON **tokp)
{
	struct cx_buf b;
	cJSON *tok = NULL;
	char *path = NULL, why[160];
	const char *at, *ea, *reg;
	time_t exp = 0, regexp = 0, now = time(NULL);
	int r;

	*tokp = NULL;
	cx_buf_init(&b, CX_SSO_TOKEN_MAX);
	cx_buf_set_secret(&b);
	if ((r = token_path(s, &path)) != 0)
		goto out;
	cx_debug(1, "SSO token cache '%s'", path);
	/* a token another user could have written is not our login */
	if ((r = untrusted_cache(path)) != 0)
		goto out;
	r = cx_read_file_trusted(path, CX_SSO_TOKEN_MAX, &b, why,
	    sizeof(why));
	if (r == CX_ERR_DENIED) {
		cx_error("not using the SSO token cache '%s': it is %s", path,
		    why);
		r = CX_ERR_LOGIN;
		goto out;
	}
	if (r == CX_ERR_NOTFOUND) {
		r = login_error(profile);
		goto out;
	}
	if (r != 0)
		goto out;
	tok = cJSON_ParseWithLength(cx_buf_str(&b), b.len);
	at = cx_json_str(tok, "accessToken");
	ea = cx_json_str(tok, "expiresAt");
	if (tok == NULL || at == NULL || ea == NULL ||
	    cx_parse_iso8601(ea, &exp) != 0) {
		cx_debug(1, "SSO token cache '%s' is unusable", path);
		r = login_error(profile);
		goto out;
	}
	if (s->session != NULL && exp - now < SSO_REFRESH_S &&
	    cx_json_str(tok, "refreshToken") != NULL &&
	    cx_json_str(tok, "clientId") != NULL &&
	    cx_json_str(tok, "clientSecret") != NULL &&
	    (reg = cx_json_str(tok, "registrationExpiresAt")) != NULL &&
	    cx_parse_iso8601(reg, &regexp) == 0 && regexp > now) {
		if (refresh_token(ctx, s, path, tok) == 0) {
			ea = cx_json_str(tok, "expiresAt");
			(void)cx_parse_iso8601(ea, &exp);
		}
	}
	if (exp <= now) {
		cx_debug(1, "SSO token expired at %s", ea);
		r = login_error(profile);
		goto out;
	}
	*tokp = tok;
	tok = NULL;	/* transferred */
	r = 0;
 out:
	cx_json_delete_secure(tok);
	cx_buf_clean_up(&b);
	free(path);
	return r;
}

static int
cache_key(struct cx_aws_ctx *ctx, const struct sso_cfg *s, cJSON **out)
{
	cJSON *k;
	char *ep = NULL;
	int r;

	*out = NULL;
	if ((r = cx_aws_ctx_endpoint(ctx, "sso", s->region, &ep)) != 0)
		return r;
	if ((k = cJSON_CreateObject()) == NULL) {
		free(ep);
		return CX_ERR_NOMEM;
	}
	if ((r = cx_json_set_str(k, "kind", "sso")) != 0 ||
	    (s->session != NULL &&
	    (r = cx_json_set_str(k, "sso_session", s->session)) != 0) ||
	    (r = cx_json_set_str(k, "sso_start_url", s->start_url)) != 0 ||
	    (r = cx_json_set_str(k, "sso_region", s->region)) != 0 ||
	    (r = cx_json_set_str(k, "sso_account_id", s->account)) != 0 ||
	    (r = cx_json_set_str(k, "sso_role_name", s->role)) != 0 ||
	    (r = cx_json_set_str(k, "endpoint", ep)) != 0) {
		cJSON_Delete(k);
		free(ep);
		return r;
	}
	free(ep);
	*out = k;
	return 0;
}

static int
role_credentials(struct cx_aws_ctx *ctx, const char *profile,
    const struct sso_cfg *s, const char *token, struct cx_creds *out)
{
	struct cx_aws_target t;
	struct cx_aws_error err;
	cJSON *ans = NULL;
	const cJSON *rc, *ex;
	char *hdr = NULL, *role = NULL, *acct = NULL, *pq = NULL;
	const char *akid, *sk, *st;
	const char *hdrs[1];
	char what[512];
	int r;

	memset(&t, 0, sizeof(t));
	memset(&err, 0, sizeof(err));
	memset(out, 0, sizeof(*out));
	if ((role = curl_easy_escape(NULL, s->role, 0)) == NULL ||
	    (acct = curl_easy_escape(NULL, s->account, 0)) == NULL ||
	    cx_asprintf(&pq, "/federation/credentials?role_name=%s&account_id=%s",
	    role, acct) < 0 ||
	    cx_asprintf(&hdr, "x-amz-sso_bearer_token: %s", token) < 0) {
		pq = hdr = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = cx_aws_target_init(&t, ctx, "sso", s->region)) != 0)
		goto out;
	t.creds = NULL;		/* the portal takes the bearer token only */
	hdrs[0] = hdr;
	cx_debug(1, "getting SSO role credentials for profile '%s' (%s/%s)",
	    profile, s->account, s->role);
	r = cx_aws_get_json(&t, pq, hdrs, 1, &ans, &err);
	if (r != 0) {
		if (err.http_status == 401 || (err.code != NULL &&
		    strcmp(err.code, "UnauthorizedException") == 0)) {
			r = login_error(profile);
			goto out;
		}
		snprintf(what, sizeof(what), "cannot get SSO role credentials "
		    "for profile '%s'", profile);
		cx_aws_log_error(what, r, &err);
		goto out;
	}
	rc = cJSON_GetObjectItemCaseSensitive(ans, "roleCredentials");
	akid = cx_json_str(rc, "accessKeyId");
	sk = cx_json_str(rc, "secretAccessKey");
	st = cx_json_str(rc, "sessionToken");
	ex = cJSON_GetObjectItemCaseSensitive(rc, "expiration");
	if (akid == NULL || sk == NULL || !cJSON_IsNumber(ex)) {
		cx_error("cannot get SSO role credentials for profile '%s': "
		    "the portal answered without credentials", profile);
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if ((out->access_key_id = strdup(akid)) == NULL ||
	    (out->secret_access_key = strdup(sk)) == NULL ||
	    (st != NULL && (out->session_token = strdup(st)) == NULL) ||
	    (out->account_id = strdup(s->account)) == NULL) {
		cx_creds_clean_up(out);
		r = CX_ERR_NOMEM;
		goto out;
	}
	out->expiration = (time_t)(ex->valuedouble / 1000);
	out->source = "sso";
	r = 0;
 out:
	if (hdr != NULL)
		cx_freezero_str(hdr);
	curl_free(role);
	curl_free(acct);
	free(pq);
	cx_json_delete_secure(ans);
	cx_aws_target_clean_up(&t);
	cx_aws_error_clean_up(&err);
	return r;
}

int
cx_creds_sso(struct cx_aws_ctx *ctx, const char *profile,
    struct cx_creds *out)
{
	struct sso_cfg s;
	cJSON *key = NULL, *tok = NULL;
	char *path = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = read_cfg(ctx->cfg, profile, &s)) != 0)
		return r;
	if ((r = cache_key(ctx, &s, &key)) != 0 ||
	    (r = cx_creds_cache_path(key, &path)) != 0)
		goto out;
	if (cx_creds_cache_get(path, out) == 0)
		goto out;
	if ((r = load_token(ctx, profile, &s, &tok)) != 0)
		goto out;
	if ((r = role_credentials(ctx, profile, &s,
	    cx_json_str(tok, "accessToken"), out)) != 0)
		goto out;
	cx_creds_cache_put(path, out);
	r = 0;
 out:
	cx_json_delete_secure(tok);
	cJSON_Delete(key);
	free(path);
	return r;
}
