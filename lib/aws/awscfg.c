#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/hardening.h"
#include "core/log.h"
#include "core/os.h"
#include "core/valid.h"
#include "awscfg.h"
#include "creds.h"
#include "ini.h"

void
cx_awscfg_free(struct cx_awscfg *c)
{
	if (c == NULL)
		return;
	cx_ini_free(c->config);
	cx_ini_free(c->creds);
	free(c->config_path);
	free(c->creds_path);
	free(c->aws_env);
	free(c->profile);
	free(c);
}

int
cx_aws_bool(const char *v)
{
	return v != NULL && strcasecmp(v, "true") == 0;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int
cx_awscfg_expand_path(const char *path, char **out)
{
	struct cx_buf b;
	const char *p = path, *e, *v;
	char name[256];
	int r = 0;

	*out = NULL;
	cx_buf_init(&b, 65536);
	while (*p != '\0' && r == 0) {
		if (*p != '$') {
			r = cx_buf_putc(&b, (unsigned char)*p++);
			continue;
		}
		if (p[1] == '{' && (e = strchr(p + 2, '}')) != NULL &&
		    (size_t)(e - p - 2) < sizeof(name) && e > p + 2) {
			memcpy(name, p + 2, (size_t)(e - p - 2));
			name[e - p - 2] = '\0';
			e++;
		} else {
			for (e = p + 1; isalnum((unsigned char)*e) || *e == '_';
			    e++)
				;
			if (e == p + 1 || (size_t)(e - p - 1) >= sizeof(name)) {
				r = cx_buf_putc(&b, '$');
				p++;
				continue;
			}
			memcpy(name, p + 1, (size_t)(e - p - 1));
			name[e - p - 1] = '\0';
		}
		/* like os.path.expandvars: unknown variables stay as they are */
		if ((v = getenv(name)) != NULL)
			r = cx_buf_puts(&b, v);
		else
			r = cx_buf_append(&b, p, (size_t)(e - p));
		p = e;
	}
	if (r == 0)
		r = cx_expand_user(cx_buf_str(&b), out);
	cx_buf_clean_up(&b);
	return r;
}

static int
env_name_ok(const char *e)
{
	return *e != '\0' && strchr(e, '/') == NULL && strcmp(e, ".") != 0 &&
	    strcmp(e, "..") != 0 && strlen(e) < 256;
}

static int
load_file(const char *path, struct cx_ini **out)
{
	int r;

	r = cx_ini_load(path, out);
	if (r == CX_ERR_NOTFOUND) {
		cx_debug(2, "'%s' does not exist", path);
		return 0;
	}
	/* cx_ini_load() said what is wrong with the file: for the user this
	 * is a configuration problem, whatever the errno was */
	if (r == CX_ERR_IO)
		r = CX_ERR_CONFIG;
	return r;
}

int
cx_awscfg_load(const char *aws_env, const char *profile_arg,
    struct cx_awscfg **out)
{
	struct cx_awscfg *c;
	char *home = NULL, *dir = NULL, *rel = NULL;
	const char *v, *name;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CX_ERR_NOMEM;
	if (aws_env != NULL) {
		if (!env_name_ok(aws_env)) {
			cx_error("invalid AWS environment name '%s'", aws_env);
			r = CX_ERR_USAGE;
			goto out;
		}
		if (cx_asprintf(&rel, "~/.aws/aws-envs/%s", aws_env) < 0) {
			rel = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = cx_expand_user(rel, &dir)) != 0 ||
		    (r = cx_path_join(dir, "config", &c->config_path)) != 0 ||
		    (r = cx_path_join(dir, "credentials", &c->creds_path)) != 0)
			goto out;
		if ((c->aws_env = strdup(aws_env)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		if (setenv("AWS_CONFIG_FILE", c->config_path, 1) != 0 ||
		    setenv("AWS_SHARED_CREDENTIALS_FILE", c->creds_path, 1) != 0) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	} else {
		v = env("AWS_CONFIG_FILE");
		if ((r = cx_awscfg_expand_path(v ? v : "~/.aws/config",
		    &c->config_path)) != 0)
			goto out;
		v = env("AWS_SHARED_CREDENTIALS_FILE");
		if ((r = cx_awscfg_expand_path(v ? v : "~/.aws/credentials",
		    &c->creds_path)) != 0)
			goto out;
	}
	if ((r = load_file(c->config_path, &c->config)) != 0 ||
	    (r = load_file(c->creds_path, &c->creds)) != 0)
		goto out;
	if (c->creds != NULL)
		(void)cx_warn_if_readable(c->creds_path);

	if (profile_arg != NULL && *profile_arg != '\0') {
		name = profile_arg;
		c->profile_from_arg = 1;
	} else if ((name = env("AWS_PROFILE")) == NULL &&
	    (name = env("AWS_DEFAULT_PROFILE")) == NULL) {
		name = "default";
	}
	if ((c->profile = strdup(name)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	c->profile_exists = cx_awscfg_has_profile(c, name);
	if (!c->profile_exists && strcmp(name, "default") != 0) {
		cx_error("the config profile (%s) could not be found", name);
		r = CX_ERR_CONFIG;
		goto out;
	}
	cx_debug(1, "profile '%s', config '%s', credentials '%s'", name,
	    c->config_path, c->creds_path);
	*out = c;
	c = NULL;	/* transferred */
	r = 0;
 out:
	cx_awscfg_free(c);
	free(home);
	free(dir);
	free(rel);
	return r;
}

const struct cx_ini_section *
cx_awscfg_config_section(const struct cx_awscfg *c, const char *profile)
{
	const struct cx_ini_section *found = NULL, *s;
	size_t i;
	char *n;
	int m;

	if (c == NULL || c->config == NULL || profile == NULL)
		return NULL;
	/* the later section wins, as in the CLI's profile map */
	for (i = 0; i < c->config->nsec; i++) {
		s = &c->config->sec[i];
		if (strcmp(profile, "default") == 0 &&
		    strcmp(s->name, "default") == 0) {
			found = s;
			continue;
		}
		if ((m = cx_ini_header_name(s->name, "profile", &n)) == 1) {
			if (strcmp(n, profile) == 0)
				found = s;
			free(n);
		}
	}
	return found;
}

const struct cx_ini_section *
cx_awscfg_creds_section(const struct cx_awscfg *c, const char *profile)
{
	if (c == NULL || c->creds == NULL || profile == NULL)
		return NULL;
	return cx_ini_section(c->creds, profile);
}

int
cx_awscfg_has_profile(const struct cx_awscfg *c, const char *profile)
{
	return cx_awscfg_config_section(c, profile) != NULL ||
	    cx_awscfg_creds_section(c, profile) != NULL;
}

const char *
cx_awscfg_get_config(const struct cx_awscfg *c, const char *profile,
    const char *key)
{
	if (c == NULL)
		return NULL;
	return cx_ini_get(c->config, cx_awscfg_config_section(c, profile),
	    key);
}

const char *
cx_awscfg_get_creds(const struct cx_awscfg *c, const char *profile,
    const char *key)
{
	if (c == NULL)
		return NULL;
	return cx_ini_get(c->creds, cx_awscfg_creds_section(c, profile), key);
}

const char *
cx_awscfg_get(const struct cx_awscfg *c, const char *profile,
    const char *key)
{
	const char *v;

	if ((v = cx_awscfg_get_creds(c, profile, key)) != NULL)
		return v;
	return cx_awscfg_get_config(c, profile, key);
}

static const struct cx_ini_section *
named_section(const struct cx_awscfg *c, const char *kind, const char *name)
{
	const struct cx_ini_section *found = NULL;
	size_t i;
	char *n;

	if (c == NULL || c->config == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->config->nsec; i++) {
		if (cx_ini_header_name(c->config->sec[i].name, kind, &n) == 1) {
			if (strcmp(n, name) == 0)
				found = &c->config->sec[i];
			free(n);
		}
	}
	return found;
}

const struct cx_ini_section *
cx_awscfg_sso_session(const struct cx_awscfg *c, const char *name)
{
	return named_section(c, "sso-session", name);
}

const struct cx_ini_section *
cx_awscfg_services(const struct cx_awscfg *c, const char *name)
{
	return named_section(c, "services", name);
}

int
cx_aws_region_valid(const char *region)
{
	return cx_region_valid(region);
}

int
cx_awscfg_region(const struct cx_awscfg *c, const char *region_arg,
    char **out)
{
	const char *r = NULL, *from = NULL;

	*out = NULL;
	if (region_arg != NULL && *region_arg != '\0')
		r = region_arg, from = "--region";
	else if ((r = env("AWS_REGION")) != NULL)
		from = "AWS_REGION";
	else if ((r = env("AWS_DEFAULT_REGION")) != NULL)
		from = "AWS_DEFAULT_REGION";
	else if (c != NULL &&
	    (r = cx_awscfg_get(c, c->profile, "region")) != NULL && *r != '\0')
		from = "profile";
	else
		r = CX_AWSCFG_DEFAULT_REGION, from = "default";
	if (!cx_aws_region_valid(r)) {
		cx_error("invalid region '%s' (from %s)", r, from);
		return CX_ERR_CONFIG;
	}
	cx_debug(1, "region '%s' from %s", r, from);
	if ((*out = strdup(r)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

const char *
cx_aws_signing_region(const char *service, const char *region)
{
	if (strcmp(service, "iam") == 0 &&
	    (region == NULL || strncmp(region, "cn-", 3) != 0))
		return "us-east-1";
	return region;
}

static int
default_endpoint(const char *service, const char *region, char **out)
{
	const char *dns = strncmp(region, "cn-", 3) == 0 ?
	    "amazonaws.com.cn" : "amazonaws.com";
	int n;

	if (strcmp(service, "iam") == 0 && strncmp(region, "cn-", 3) != 0)
		n = cx_asprintf(out, "https://iam.amazonaws.com");
	else if (strcmp(service, "sso") == 0)
		n = cx_asprintf(out, "https://portal.sso.%s.%s", region, dns);
	else if (strcmp(service, "sso-oidc") == 0)
		n = cx_asprintf(out, "https://oidc.%s.%s", region, dns);
	else
		n = cx_asprintf(out, "https://%s.%s.%s", service, region, dns);
	if (n < 0) {
		*out = NULL;
		return CX_ERR_NOMEM;
	}
	return 0;
}

static int
set_url(const char *url, const char *from, const char *service, char **out)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	cx_debug(1, "endpoint for %s from %s: %.*s", service, from, (int)n,
	    url);
	if ((*out = strndup(url, n)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

int
cx_awscfg_endpoint(const struct cx_awscfg *c, const char *service,
    const char *region, char **out)
{
	const struct cx_ini_section *svc;
	const char *profile = c != NULL ? c->profile : NULL;
	const char *v, *ign;
	char var[128], key[96];
	size_t i;

	*out = NULL;
	if (strlen(service) >= sizeof(key) - 1)
		return CX_ERR_INTERNAL;
	for (i = 0; service[i] != '\0'; i++)
		key[i] = service[i] == '-' || service[i] == ' ' ? '_' :
		    (char)tolower((unsigned char)service[i]);
	key[i] = '\0';
	ign = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ign == NULL)
		ign = cx_awscfg_get(c, profile, "ignore_configured_endpoint_urls");
	if (!cx_aws_bool(ign)) {
		if (snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", key) >=
		    (int)sizeof(var))
			return CX_ERR_INTERNAL;
		for (i = sizeof("AWS_ENDPOINT_URL_") - 1; var[i] != '\0'; i++)
			var[i] = (char)toupper((unsigned char)var[i]);
		if ((v = env(var)) != NULL)
			return set_url(v, var, service, out);
		if ((v = env("AWS_ENDPOINT_URL")) != NULL)
			return set_url(v, "AWS_ENDPOINT_URL", service, out);
		if ((v = cx_awscfg_get(c, profile, "services")) != NULL) {
			if ((svc = cx_awscfg_services(c, v)) == NULL) {
				cx_error("profile '%s' names services '%s', "
				    "but there is no [services %s] section",
				    profile, v, v);
				return CX_ERR_CONFIG;
			}
			v = cx_ini_sub_get(cx_ini_entry(c->config, svc, key),
			    "endpoint_url");
			if (v != NULL && *v != '\0')
				return set_url(v, "services section", service,
				    out);
		}
		if ((v = cx_awscfg_get(c, profile, "endpoint_url")) != NULL &&
		    *v != '\0')
			return set_url(v, "profile endpoint_url", service, out);
	}
	if (!cx_aws_region_valid(region)) {
		cx_error("invalid region '%s'", region ? region : "");
		return CX_ERR_CONFIG;
	}
	if (default_endpoint(service, region, out) != 0)
		return CX_ERR_NOMEM;
	cx_debug(1, "endpoint for %s: %s", service, *out);
	return 0;
}

int
cx_aws_ctx_endpoint(const struct cx_aws_ctx *ctx, const char *service,
    const char *region, char **out)
{
	return cx_awscfg_endpoint(ctx->cfg, service,
	    region != NULL ? region : ctx->region, out);
}

int
cx_awscfg_ca_bundle(const struct cx_awscfg *c, char **out)
{
	const char *v = getenv("AWS_CA_BUNDLE"), *from = "AWS_CA_BUNDLE";

	*out = NULL;
	if (v == NULL) {
		v = cx_awscfg_get(c, c != NULL ? c->profile : NULL,
		    "ca_bundle");
		from = "the profile's ca_bundle";
	}
	if (v == NULL)
		return 0;
	if (*v == '\0') {
		cx_error("%s is empty", from);
		return CX_ERR_CONFIG;
	}
	return cx_awscfg_expand_path(v, out);
}

int
cx_awscfg_max_attempts(const struct cx_awscfg *c, int *out)
{
	const char *v = env("AWS_MAX_ATTEMPTS"), *from = "AWS_MAX_ATTEMPTS";
	long long n;

	*out = CX_AWSCFG_DEFAULT_ATTEMPTS;
	if (v == NULL) {
		v = cx_awscfg_get(c, c != NULL ? c->profile : NULL,
		    "max_attempts");
		from = "max_attempts";
	}
	if (v == NULL)
		return 0;
	if (cx_strtonum(v, 1, 20, &n) != 0) {
		cx_error("invalid %s '%s': expected 1 to 20", from, v);
		return CX_ERR_CONFIG;
	}
	*out = (int)n;
	return 0;
}

const char *
cx_awscfg_retry_mode(const struct cx_awscfg *c)
{
	const char *v = env("AWS_RETRY_MODE");

	if (v == NULL)
		v = cx_awscfg_get(c, c != NULL ? c->profile : NULL,
		    "retry_mode");
	return v != NULL && *v != '\0' ? v : "standard";
}
