/*
 * SSO OIDC login (sso_login.h): the client registration and its cache,
 * the authorization-code grant with PKCE, the device grant, and the token
 * cache the AWS CLI v2 reads.  Written from the SSO OIDC API reference and
 * the AWS CLI v2's cache layout.
 */
#include <curl/curl.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/osdata.h"
#include "core/stage.h"
#include "core/text.h"
#include "core/wipe.h"
#include "awscfg.h"
#include "creds.h"
#include "creds_int.h"
#include "http.h"
#include "ini.h"
#include "sso_login.h"

#define REG_MARGIN_S		(15 * 60)	/* re-register this close */
#define DEFAULT_WAIT_MS		(10L * 60 * 1000)
#define DEVICE_DEFAULT_INTERVAL	5
#define DEVICE_SLOW_DOWN_S	5		/* RFC 8628 3.5 */
#define MAX_SCOPES		16
#define GRANT_DEVICE	"urn:ietf:params:oauth:grant-type:device_code"

struct sso_login {
	struct cx_aws_ctx *ctx;
	const char *profile;
	const char *session;	/* NULL: legacy */
	const char *start_url;
	const char *region;
	const char *scopes[MAX_SCOPES];
	size_t nscopes;
	char *scopes_buf;
	char *endpoint;		/* the OIDC base URL */
	char *cache_dir;	/* ~/.aws/sso/cache */
	/* the registration in use */
	char *client_id, *client_secret;	/* secret */
	time_t reg_expires;
	int auth_code;		/* registered for the auth-code grant */
};

/* ---- the profile ---- */

static int
read_profile(struct sso_login *l)
{
	const struct cx_awscfg *cfg = l->ctx->cfg;
	const struct cx_ini_section *sec;
	const char *sc = NULL;
	char *p, *save;

	l->session = cx_awscfg_get(cfg, l->profile, "sso_session");
	if (l->session != NULL) {
		if ((sec = cx_awscfg_sso_session(cfg, l->session)) == NULL) {
			cx_error("profile '%s' names sso_session '%s', but "
			    "there is no [sso-session %s] section", l->profile,
			    l->session, l->session);
			return CX_ERR_CONFIG;
		}
		l->start_url = cx_ini_get(cfg->config, sec, "sso_start_url");
		l->region = cx_ini_get(cfg->config, sec, "sso_region");
		sc = cx_ini_get(cfg->config, sec, "sso_registration_scopes");
	} else {
		l->start_url = cx_awscfg_get(cfg, l->profile, "sso_start_url");
		l->region = cx_awscfg_get(cfg, l->profile, "sso_region");
	}
	if (l->start_url == NULL && l->session == NULL) {
		cx_error("profile '%s' is not an SSO profile (no sso_session "
		    "or sso_start_url)", l->profile);
		return CX_ERR_CONFIG;
	}
	if (l->start_url == NULL || l->region == NULL) {
		cx_error("profile '%s' is missing %s for SSO", l->profile,
		    l->start_url == NULL ? "sso_start_url" : "sso_region");
		return CX_ERR_CONFIG;
	}
	if (!cx_aws_region_valid(l->region)) {
		cx_error("profile '%s': invalid sso_region '%s'", l->profile,
		    l->region);
		return CX_ERR_CONFIG;
	}
	if (sc == NULL)
		return 0;
	/* as the AWS CLI: comma-separated, blanks trimmed, empties dropped */
	if ((l->scopes_buf = strdup(sc)) == NULL)
		return CX_ERR_NOMEM;
	for (p = l->scopes_buf; p != NULL; p = save) {
		save = strchr(p, ',');
		if (save != NULL)
			*save++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && (p[strlen(p) - 1] == ' ' ||
		    p[strlen(p) - 1] == '\t'))
			p[strlen(p) - 1] = '\0';
		if (*p == '\0')
			continue;
		if (l->nscopes == MAX_SCOPES) {
			cx_error("sso-session '%s': more than %d "
			    "sso_registration_scopes", l->session, MAX_SCOPES);
			return CX_ERR_CONFIG;
		}
		l->scopes[l->nscopes++] = p;
	}
	return 0;
}

/* ---- Python's json.dumps spelling, for the registration's name ---- */

static int
py_str(struct cx_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	int n, r = cx_buf_putc(b, '"');

	while (r == 0 && *p) {
		if (*p < 0x80) {
			if (*p == '"' || *p == '\\')
				r = cx_buf_printf(b, "\\%c", *p);
			else if (*p == '\n')
				r = cx_buf_puts(b, "\\n");
			else if (*p == '\r')
				r = cx_buf_puts(b, "\\r");
			else if (*p == '\t')
				r = cx_buf_puts(b, "\\t");
			else if (*p == '\b')
				r = cx_buf_puts(b, "\\b");
			else if (*p == '\f')
				r = cx_buf_puts(b, "\\f");
			else if (*p < 0x20 || *p == 0x7f)
				r = *p == 0x7f ? cx_buf_putc(b, *p) :
				    cx_buf_printf(b, "\\u%04x", *p);
			else
				r = cx_buf_putc(b, *p);
			p++;
			continue;
		}
		/* UTF-8 to \uXXXX (ensure_ascii), surrogate pairs above
		 * the BMP */
		n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		    (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0)
			return CX_ERR_INPUT;
		cp = *p & (0x3f >> n);
		for (p++; n > 0; n--, p++) {
			if ((*p & 0xc0) != 0x80)
				return CX_ERR_INPUT;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			r = cx_buf_printf(b, "\\u%04lx\\u%04lx",
			    0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		} else {
			r = cx_buf_printf(b, "\\u%04lx", cp);
		}
	}
	return r != 0 ? r : cx_buf_putc(b, '"');
}

int
cx_sso_registration_key(const char *region, const char *const *scopes,
    size_t nscopes, const char *session, const char *start_url, char **out)
{
	struct cx_buf b;
	size_t i;
	int r;

	*out = NULL;
	cx_buf_init(&b, 64 * 1024);
	/* the keys in sorted order, ", " and ": " as json.dumps */
	if ((r = cx_buf_puts(&b, "{\"region\": ")) != 0 ||
	    (r = py_str(&b, region)) != 0 ||
	    (r = cx_buf_puts(&b, ", \"scopes\": ")) != 0)
		goto out;
	if (scopes == NULL || nscopes == 0) {
		if ((r = cx_buf_puts(&b, "null")) != 0)
			goto out;
	} else {
		for (i = 0; i < nscopes; i++)
			if ((r = cx_buf_puts(&b, i ? ", " : "[")) != 0 ||
			    (r = py_str(&b, scopes[i])) != 0)
				goto out;
		if ((r = cx_buf_putc(&b, ']')) != 0)
			goto out;
	}
	if ((r = cx_buf_puts(&b, ", \"session_name\": ")) != 0 ||
	    (r = session ? py_str(&b, session) : cx_buf_puts(&b, "null"))
	    != 0 || (r = cx_buf_puts(&b, ", \"startUrl\": ")) != 0 ||
	    (r = py_str(&b, start_url)) != 0 ||
	    (r = cx_buf_puts(&b, ", \"tool\": \"botocore\"}")) != 0)
		goto out;
	*out = cx_buf_steal_str(&b);
	r = *out ? 0 : CX_ERR_NOMEM;
 out:
	cx_buf_clean_up(&b);
	return r;
}

/* ---- files ---- */

static int
cache_file(struct sso_login *l, const char *text, char **out)
{
	char hex[41], name[48];
	int r;

	if ((r = cx_creds_sha1_hex(text, hex)) != 0)
		return r;
	snprintf(name, sizeof(name), "%s.json", hex);
	return cx_path_join(l->cache_dir, name, out);
}

/* ~/.aws/sso/cache made 0700 when missing and checked as ours. */
static int
cache_dir_ready(struct sso_login *l)
{
	char why[160];
	int r;

	if ((r = cx_expand_user("~/.aws/sso/cache", &l->cache_dir)) != 0)
		return r;
	if (!cx_is_dir(l->cache_dir) &&
	    (r = cx_mkdir_p(l->cache_dir, 0700)) != 0) {
		cx_error("cannot create '%s'", l->cache_dir);
		return CX_ERR_IO;
	}
	r = cx_path_trusted(l->cache_dir, CX_TRUST_DIR, why, sizeof(why));
	if (r != 0) {
		cx_error("not using the SSO token cache '%s': it is %s",
		    l->cache_dir, r == CX_ERR_DENIED ? why : "missing");
		return r == CX_ERR_DENIED ? CX_ERR_INPUT : CX_ERR_IO;
	}
	return 0;
}

/* Writes doc to path (0600 from creation, atomic), wiping the text. */
static int
write_json(const char *path, const cJSON *doc)
{
	char *text;
	int r;

	if ((text = cJSON_Print(doc)) == NULL)
		return CX_ERR_NOMEM;
	r = cx_write_file_atomic(path, text, strlen(text), 0600,
	    CX_ATOMIC_SECRET);
	cx_freezero_str(text);
	if (r != 0)
		cx_error("cannot write '%s'", path);
	return r;
}

/* ---- the OIDC API ---- */

/*
 * POST body to the OIDC path; 0 with *ans (secret, the caller's) on 200;
 * CX_ERR_AWS with *errp (malloc'd: the answer's "error", else its
 * __type/code) on a 4xx; the transport's errors as they are.
 */
static int
oidc_call(struct sso_login *l, const char *path, const cJSON *body,
    cJSON **ans, char **errp)
{
	static const char *const hdrs[] = {
		"Content-Type: application/json", "Accept: application/json"
	};
	struct cx_http_request rq;
	struct cx_http_response rs;
	cJSON *j = NULL;
	const char *e;
	char *url = NULL, *req = NULL;
	int r;

	*ans = NULL;
	*errp = NULL;
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	if (cx_asprintf(&url, "%s%s", l->endpoint, path) < 0 ||
	    (req = cJSON_PrintUnformatted(body)) == NULL) {
		url = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.nheaders = 2;
	rq.body = req;
	rq.body_len = strlen(req);
	if ((r = cx_http_do(l->ctx->http, &rq, &rs)) != 0) {
		cx_error("cannot reach the SSO OIDC service at '%s': %s",
		    l->endpoint, rs.problem[0] ? rs.problem :
		    rs.curl_error[0] ? rs.curl_error : cx_strerror(r));
		goto out;
	}
	cx_buf_set_secret(&rs.body);
	j = cJSON_ParseWithLength(cx_buf_str(&rs.body), rs.body.len);
	if (rs.status == 200 && cJSON_IsObject(j)) {
		*ans = j;
		j = NULL;	/* transferred */
		r = 0;
		goto out;
	}
	if (rs.status >= 500) {
		cx_error("the SSO OIDC service failed: HTTP %ld", rs.status);
		r = CX_ERR_AWS_SERVER;
		goto out;
	}
	if ((e = cx_json_str(j, "error")) == NULL &&
	    (e = cx_json_str(j, "__type")) == NULL)
		e = rs.status == 200 ? "not JSON" : "unknown error";
	if ((*errp = strdup(e)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	r = CX_ERR_AWS;
 out:
	if (req != NULL)
		cx_freezero_str(req);
	cx_json_delete_secure(j);
	cx_http_response_clean_up(&rs);
	free(url);
	return r;
}

/* the one line for an unexpected OIDC error */
static int
oidc_failed(const char *what, int r, const char *err)
{
	char *safe;

	if (r != CX_ERR_AWS)
		return r;
	safe = cx_text_safe_dup(err ? err : "?", 100);
	cx_error("%s: %s", what, safe ? safe : "?");
	free(safe);
	return r;
}

/* ---- the client registration ---- */

static int
use_registration(struct sso_login *l, const cJSON *reg, int auth_code)
{
	const cJSON *g;
	const char *id, *sec, *ex;
	time_t exp;
	int has_ac = 0;

	id = cx_json_str(reg, "clientId");
	sec = cx_json_str(reg, "clientSecret");
	ex = cx_json_str(reg, "expiresAt");
	if (id == NULL || sec == NULL || ex == NULL ||
	    cx_parse_iso8601(ex, &exp) != 0 ||
	    exp - time(NULL) < REG_MARGIN_S)
		return CX_CREDS_NONE;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(reg,
	    "grantTypes"))
		if (cJSON_IsString(g) &&
		    strcmp(g->valuestring, "authorization_code") == 0)
			has_ac = 1;
	/* a client of the other grant is not reused for this one */
	if (has_ac != auth_code)
		return CX_CREDS_NONE;
	if ((l->client_id = strdup(id)) == NULL ||
	    (l->client_secret = strdup(sec)) == NULL)
		return CX_ERR_NOMEM;
	l->reg_expires = exp;
	l->auth_code = auth_code;
	return 0;
}

static int
add_str_array(cJSON *o, const char *key, const char *const *v, size_t n)
{
	cJSON *a;

	if ((a = cJSON_CreateStringArray(v, (int)n)) == NULL)
		return CX_ERR_NOMEM;
	return cx_json_set(o, key, a);
}

/*
 * The registration for the grant: the cached one while it lasts, else
 * RegisterClient and the cache rewritten.
 */
static int
registration(struct sso_login *l, int auth_code)
{
	static const char *const grants[] = { "authorization_code",
	    "refresh_token" };
	static const char *const redirect[] = {
	    "http://127.0.0.1/oauth/callback" };
	struct cx_buf b;
	cJSON *reg = NULL, *rq = NULL, *ans = NULL;
	const cJSON *ce;
	char *key = NULL, *path = NULL, *err = NULL, name[128], exp[21];
	char why[160];
	int r;

	cx_buf_init(&b, CX_SSO_TOKEN_MAX);
	cx_buf_set_secret(&b);
	free(l->client_id);
	if (l->client_secret != NULL)
		cx_freezero_str(l->client_secret);
	l->client_id = l->client_secret = NULL;
	if ((r = cx_sso_registration_key(l->region, l->scopes, l->nscopes,
	    l->session, l->start_url, &key)) != 0 ||
	    (r = cache_file(l, key, &path)) != 0)
		goto out;
	r = cx_read_file_trusted(path, CX_SSO_TOKEN_MAX, &b, why, sizeof(why));
	if (r == CX_ERR_DENIED)
		cx_warn("not using the client registration '%s': it is %s",
		    path, why);
	if (r == 0 && (reg = cJSON_ParseWithLength(cx_buf_str(&b), b.len))
	    != NULL && (r = use_registration(l, reg, auth_code)) <= 0) {
		if (r == 0)
			cx_debug(1, "reusing the client registration '%s'",
			    path);
		goto out;
	}
	cx_json_delete_secure(reg);
	reg = NULL;
	/* RegisterClient: a public client, named as the AWS CLI does */
	snprintf(name, sizeof(name), "cloudx-proxy-%s", l->session ?
	    l->session : "legacy");
	if ((rq = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(rq, "clientName", name)) != 0 ||
	    (r = cx_json_set_str(rq, "clientType", "public")) != 0 ||
	    (l->nscopes > 0 && (r = add_str_array(rq, "scopes", l->scopes,
	    l->nscopes)) != 0) ||
	    (auth_code && ((r = add_str_array(rq, "grantTypes", grants, 2))
	    != 0 || (r = add_str_array(rq, "redirectUris", redirect, 1)) != 0
	    || (r = cx_json_set_str(rq, "issuerUrl", l->start_url)) != 0))) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	cx_debug(1, "RegisterClient (%s grant)", auth_code ?
	    "authorization-code" : "device");
	if ((r = oidc_call(l, "/client/register", rq, &ans, &err)) != 0) {
		r = oidc_failed("cannot register the login client", r, err);
		goto out;
	}
	ce = cJSON_GetObjectItemCaseSensitive(ans, "clientSecretExpiresAt");
	if (cx_json_str(ans, "clientId") == NULL ||
	    cx_json_str(ans, "clientSecret") == NULL || !cJSON_IsNumber(ce)) {
		cx_error("cannot register the login client: the answer lacks "
		    "clientId, clientSecret or clientSecretExpiresAt");
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	cx_format_iso8601((time_t)ce->valuedouble, exp);
	if ((reg = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(reg, "clientId", cx_json_str(ans,
	    "clientId"))) != 0 ||
	    (r = cx_json_set_str(reg, "clientSecret", cx_json_str(ans,
	    "clientSecret"))) != 0 ||
	    (r = cx_json_set_str(reg, "expiresAt", exp)) != 0 ||
	    (l->nscopes > 0 && (r = add_str_array(reg, "scopes", l->scopes,
	    l->nscopes)) != 0) ||
	    (auth_code && (r = add_str_array(reg, "grantTypes", grants, 2))
	    != 0)) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	if ((r = use_registration(l, reg, auth_code)) != 0) {
		if (r > 0) {
			cx_error("cannot register the login client: it "
			    "expires at once (%s)", exp);
			r = CX_ERR_PROTOCOL;
		}
		goto out;
	}
	/* a registration we cannot cache still serves this login */
	(void)write_json(path, reg);
 out:
	cx_json_delete_secure(reg);
	cx_json_delete_secure(rq);
	cx_json_delete_secure(ans);
	cx_buf_clean_up(&b);
	free(err);
	free(key);
	free(path);
	return r;
}

/* ---- the token ---- */

static int
save_token(struct sso_login *l, const cJSON *ans)
{
	const cJSON *ei;
	const char *at, *rt;
	cJSON *tok = NULL;
	char exp[21], rexp[21], *path = NULL;
	int r;

	at = cx_json_str(ans, "accessToken");
	ei = cJSON_GetObjectItemCaseSensitive(ans, "expiresIn");
	rt = cx_json_str(ans, "refreshToken");
	if (at == NULL || !cJSON_IsNumber(ei) || ei->valuedouble <= 0) {
		cx_error("the SSO OIDC service answered without a token");
		return CX_ERR_PROTOCOL;
	}
	cx_format_iso8601(time(NULL) + (time_t)ei->valuedouble, exp);
	cx_format_iso8601(l->reg_expires, rexp);
	if ((r = cache_file(l, l->session ? l->session : l->start_url,
	    &path)) != 0)
		goto out;
	if ((tok = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(tok, "startUrl", l->start_url)) != 0 ||
	    (r = cx_json_set_str(tok, "region", l->region)) != 0 ||
	    (r = cx_json_set_str(tok, "accessToken", at)) != 0 ||
	    (r = cx_json_set_str(tok, "expiresAt", exp)) != 0) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	/* the registration beside the token, for the refresh (the AWS CLI
	 * does so for sso-session profiles only) */
	if (l->session != NULL &&
	    ((r = cx_json_set_str(tok, "clientId", l->client_id)) != 0 ||
	    (r = cx_json_set_str(tok, "clientSecret", l->client_secret)) != 0
	    || (r = cx_json_set_str(tok, "registrationExpiresAt", rexp)) != 0
	    || (rt != NULL && (r = cx_json_set_str(tok, "refreshToken", rt))
	    != 0)))
		goto out;
	if ((r = write_json(path, tok)) != 0)
		goto out;
	cx_info("logged in to %s for profile '%s'; the token expires at %s",
	    l->start_url, l->profile, exp);
 out:
	cx_json_delete_secure(tok);
	free(path);
	return r;
}

/* ---- the browser ---- */

/* Starts the opener on url; 0, or CX_ERR_NOTFOUND when there is none. */
static int
open_browser(const char *url, pid_t *pidp)
{
	char *argv[3];
	const char *env = getenv("CX_BROWSER");

	*pidp = -1;
	/* CX_BROWSER: an opener of the user's choice ("none": no browser) */
	if (env != NULL && strcmp(env, "none") == 0)
		return CX_ERR_NOTFOUND;
	argv[0] = (char *)(env != NULL && *env ? env :
	    cx_osdata_opener(cx_os_host()));
	argv[1] = (char *)url;
	argv[2] = NULL;
	/* the URL is an argument, never a shell word; it holds no secret
	 * (the PKCE challenge and state are public) */
	return cx_os_spawn(argv, NULL, NULL, NULL, pidp);
}

/* Reaps the opener when it ends within a second (xdg-open hands the URL
 * on and exits); one still running (a browser itself) is left alone. */
static void
reap_browser(pid_t pid)
{
	uint64_t until = cx_now_ms() + 1000;
	int ws;

	if (pid <= 0)
		return;
	while (cx_os_reap(pid, 1, &ws) == 1 && cx_now_ms() < until)
		if (cx_sleep_ms(20) != 0)
			break;
}

static int
b64url(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	unsigned char tmp[128];
	size_t i, k = 0;
	int len;

	if (4 * ((n + 2) / 3) + 1 > sizeof(tmp) || outlen < sizeof(tmp))
		return CX_ERR_INTERNAL;
	len = EVP_EncodeBlock(tmp, p, (int)n);
	for (i = 0; i < (size_t)len; i++) {
		if (tmp[i] == '=')
			break;
		out[k++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' :
		    (char)tmp[i];
	}
	out[k] = '\0';
	cx_wipe(tmp, sizeof(tmp));
	return 0;
}

static int
url_add(struct cx_buf *b, const char *name, const char *v)
{
	char *e;
	int r;

	if ((e = curl_easy_escape(NULL, v, 0)) == NULL)
		return CX_ERR_NOMEM;
	r = cx_buf_printf(b, "%c%s=%s", b->len && strchr(cx_buf_str(b), '?')
	    ? '&' : '?', name, e);
	curl_free(e);
	return r;
}

/* The authorization-code grant with PKCE; CX_ERR_NOTFOUND: no browser. */
static int
auth_code_flow(struct sso_login *l, long wait_ms)
{
	struct cx_buf url;
	unsigned char raw[32], dig[EVP_MAX_MD_SIZE];
	unsigned int diglen = 0;
	char verifier[128], challenge[128], state[128], redirect[64];
	char *err = NULL, *code = NULL;
	cJSON *rq = NULL, *ans = NULL;
	pid_t pid = -1;
	size_t i;
	int fd = -1, port, r;

	cx_buf_init(&url, 64 * 1024);
	if ((r = registration(l, 1)) != 0)
		goto out;
	/* PKCE (RFC 7636): a verifier of 32 random bytes, S256 */
	if ((r = cx_random_bytes(raw, sizeof(raw))) != 0 ||
	    (r = b64url(raw, sizeof(raw), verifier, sizeof(verifier))) != 0 ||
	    (r = cx_random_bytes(raw, sizeof(raw))) != 0 ||
	    (r = b64url(raw, sizeof(raw), state, sizeof(state))) != 0)
		goto out;
	if (EVP_Digest(verifier, strlen(verifier), dig, &diglen, EVP_sha256(),
	    NULL) != 1 || (r = b64url(dig, diglen, challenge,
	    sizeof(challenge))) != 0) {
		r = r ? r : CX_ERR_INTERNAL;
		goto out;
	}
	if ((r = cx_sso_listen(&fd, &port)) != 0)
		goto out;
	snprintf(redirect, sizeof(redirect),
	    "http://127.0.0.1:%d/oauth/callback", port);
	if ((r = cx_buf_printf(&url, "%s/authorize", l->endpoint)) != 0 ||
	    (r = url_add(&url, "response_type", "code")) != 0 ||
	    (r = url_add(&url, "client_id", l->client_id)) != 0 ||
	    (r = url_add(&url, "redirect_uri", redirect)) != 0 ||
	    (r = url_add(&url, "state", state)) != 0 ||
	    (r = url_add(&url, "code_challenge_method", "S256")) != 0)
		goto out;
	if (l->nscopes > 0) {
		struct cx_buf sb;
		cx_buf_init(&sb, 4096);
		for (i = 0; i < l->nscopes && r == 0; i++)
			r = cx_buf_printf(&sb, "%s%s", i ? " " : "",
			    l->scopes[i]);
		if (r == 0)
			r = url_add(&url, "scopes", cx_buf_str(&sb));
		cx_buf_clean_up(&sb);
		if (r != 0)
			goto out;
	}
	if ((r = url_add(&url, "code_challenge", challenge)) != 0)
		goto out;
	if ((r = open_browser(cx_buf_str(&url), &pid)) == CX_ERR_NOTFOUND)
		goto out;
	if (r != 0)
		cx_debug(1, "the browser could not be started");
	cx_info("if the browser does not open, open this URL to log in:\n%s",
	    cx_buf_str(&url));
	r = cx_sso_wait_callback(fd, state, cx_now_ms() + (uint64_t)wait_ms,
	    &code);
	reap_browser(pid);
	if (r != 0)
		goto out;
	if ((rq = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(rq, "grantType", "authorization_code")) != 0
	    || (r = cx_json_set_str(rq, "clientId", l->client_id)) != 0 ||
	    (r = cx_json_set_str(rq, "clientSecret", l->client_secret)) != 0 ||
	    (r = cx_json_set_str(rq, "code", code)) != 0 ||
	    (r = cx_json_set_str(rq, "codeVerifier", verifier)) != 0 ||
	    (r = cx_json_set_str(rq, "redirectUri", redirect)) != 0) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	if ((r = oidc_call(l, "/token", rq, &ans, &err)) != 0) {
		if (r == CX_ERR_AWS && (strcmp(err, "access_denied") == 0 ||
		    strcmp(err, "AccessDeniedException") == 0)) {
			cx_error("the sign-in was refused: access_denied");
			r = CX_ERR_DENIED;
		} else {
			r = oidc_failed("cannot get the SSO token", r, err);
		}
		goto out;
	}
	r = save_token(l, ans);
 out:
	cx_sock_close(fd);
	cx_wipe(verifier, sizeof(verifier));
	cx_wipe(raw, sizeof(raw));
	if (code != NULL)
		cx_freezero_str(code);
	cx_json_delete_secure(rq);
	cx_json_delete_secure(ans);
	cx_buf_clean_up(&url);
	free(err);
	return r;
}

/*
 * The device-authorization grant (RFC 8628), for --no-browser or when no
 * browser can be opened: it never starts one (over ssh, a text browser
 * would take the terminal), it prints the URLs.
 */
static int
device_flow(struct sso_login *l)
{
	cJSON *rq = NULL, *ans = NULL, *tok = NULL;
	const cJSON *v;
	const char *uri, *full, *ucode;
	char *dcode = NULL, *err = NULL;
	long interval = DEVICE_DEFAULT_INTERVAL, expires_s = 600;
	uint64_t deadline;
	int r;

	if ((r = registration(l, 0)) != 0)
		goto out;
	if ((rq = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(rq, "clientId", l->client_id)) != 0 ||
	    (r = cx_json_set_str(rq, "clientSecret", l->client_secret)) != 0 ||
	    (r = cx_json_set_str(rq, "startUrl", l->start_url)) != 0) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	if ((r = oidc_call(l, "/device_authorization", rq, &ans, &err)) != 0) {
		r = oidc_failed("cannot start the device authorization", r,
		    err);
		goto out;
	}
	uri = cx_json_str(ans, "verificationUri");
	full = cx_json_str(ans, "verificationUriComplete");
	ucode = cx_json_str(ans, "userCode");
	if (uri == NULL || ucode == NULL ||
	    cx_json_str(ans, "deviceCode") == NULL) {
		cx_error("cannot start the device authorization: the answer "
		    "lacks deviceCode, userCode or verificationUri");
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if ((r = cx_json_dup_str(ans, "deviceCode", &dcode)) != 0)
		goto out;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(ans,
	    "interval")) && v->valuedouble >= 1 && v->valuedouble <= 60)
		interval = (long)v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(ans,
	    "expiresIn")) && v->valuedouble >= 1 && v->valuedouble <= 86400)
		expires_s = (long)v->valuedouble;
	deadline = cx_now_ms() + (uint64_t)expires_s * 1000;
	cx_info("to log in, open %s and enter the code: %s", uri, ucode);
	if (full != NULL)
		cx_info("(or open %s)", full);
	cJSON_Delete(rq);
	if ((rq = cJSON_CreateObject()) == NULL ||
	    (r = cx_json_set_str(rq, "grantType", GRANT_DEVICE)) != 0 ||
	    (r = cx_json_set_str(rq, "deviceCode", dcode)) != 0 ||
	    (r = cx_json_set_str(rq, "clientId", l->client_id)) != 0 ||
	    (r = cx_json_set_str(rq, "clientSecret", l->client_secret)) != 0) {
		r = r ? r : CX_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (cx_now_ms() + (uint64_t)interval * 1000 > deadline + 1000) {
			cx_error("the login code expired before it was "
			    "approved; run login again");
			r = CX_ERR_DEADLINE;
			goto out;
		}
		if ((r = cx_sleep_ms(interval * 1000)) != 0)
			goto out;
		free(err);
		err = NULL;
		r = oidc_call(l, "/token", rq, &tok, &err);
		if (r == 0)
			break;
		if (r != CX_ERR_AWS)
			goto out;
		if (strcmp(err, "authorization_pending") == 0 ||
		    strcmp(err, "AuthorizationPendingException") == 0)
			continue;
		if (strcmp(err, "slow_down") == 0 ||
		    strcmp(err, "SlowDownException") == 0) {
			interval += DEVICE_SLOW_DOWN_S;
			cx_debug(1, "slow_down: polling every %ld s", interval);
			continue;
		}
		if (strcmp(err, "expired_token") == 0 ||
		    strcmp(err, "ExpiredTokenException") == 0) {
			cx_error("the login code expired before it was "
			    "approved; run login again");
			r = CX_ERR_DEADLINE;
		} else if (strcmp(err, "access_denied") == 0 ||
		    strcmp(err, "AccessDeniedException") == 0) {
			cx_error("the sign-in was refused: access_denied");
			r = CX_ERR_DENIED;
		} else {
			r = oidc_failed("cannot get the SSO token", r, err);
		}
		goto out;
	}
	r = save_token(l, tok);
 out:
	if (dcode != NULL)
		cx_freezero_str(dcode);
	cx_json_delete_secure(rq);
	cx_json_delete_secure(ans);
	cx_json_delete_secure(tok);
	free(err);
	return r;
}

int
cx_sso_login(struct cx_aws_ctx *ctx, const struct cx_sso_login_opts *o)
{
	struct sso_login l;
	int r;

	memset(&l, 0, sizeof(l));
	l.ctx = ctx;
	l.profile = o->profile;
	if (ctx->http == NULL || o->profile == NULL)
		return CX_ERR_INTERNAL;
	if ((r = read_profile(&l)) != 0 ||
	    (r = cx_aws_ctx_endpoint(ctx, "sso-oidc", l.region,
	    &l.endpoint)) != 0 || (r = cache_dir_ready(&l)) != 0)
		goto out;
	cx_debug(1, "SSO OIDC endpoint '%s'", l.endpoint);
	r = CX_ERR_NOTFOUND;
	if (!o->no_browser) {
		r = auth_code_flow(&l, o->timeout_ms > 0 ? o->timeout_ms :
		    DEFAULT_WAIT_MS);
		if (r == CX_ERR_NOTFOUND)
			cx_info("no browser can be opened here: using a "
			    "code instead");
	}
	if (r == CX_ERR_NOTFOUND)
		r = device_flow(&l);
 out:
	free(l.scopes_buf);
	free(l.endpoint);
	free(l.cache_dir);
	free(l.client_id);
	if (l.client_secret != NULL)
		cx_freezero_str(l.client_secret);
	return r;
}
