/*
 * Cache of temporary credentials (assume role, SSO) in
 * $XDG_CACHE_HOME/cloudx-proxy/ (default ~/.cache/cloudx-proxy/): folder
 * 0700, one 0600 file per call identity, named by the SHA-256 of a JSON
 * description of the call, holding the credential_process JSON shape.
 * Entries are used while more than CX_CREDS_MIN_VALID_S seconds remain;
 * expired or unreadable entries are ignored and later replaced.  A folder
 * or entry that another user owns or could write is never used: someone
 * else's "credentials" would be used as ours (one warning, no cache).
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
#include "creds.h"
#include "creds_int.h"

static int
cache_dir(char **out)
{
	const char *x = getenv("XDG_CACHE_HOME");
	char *base = NULL;
	int r;

	*out = NULL;
	/* the XDG spec: a relative value is invalid and must be ignored */
	if (x != NULL && x[0] == '/')
		base = strdup(x);
	else if ((r = cx_expand_user("~/.cache", &base)) != 0)
		return r;
	if (base == NULL)
		return CX_ERR_NOMEM;
	r = cx_path_join(base, "cloudx-proxy", out);
	free(base);
	return r;
}

int
cx_creds_cache_path(const cJSON *key, char **out)
{
	char *dir = NULL, *s = NULL, hex[65], name[80];
	int r;

	*out = NULL;
	if ((s = cJSON_PrintUnformatted(key)) == NULL)
		return CX_ERR_NOMEM;
	r = cx_creds_sha256_hex(s, strlen(s), hex);
	cJSON_free(s);
	if (r != 0)
		return r;
	if ((r = cache_dir(&dir)) != 0)
		return r;
	snprintf(name, sizeof(name), "%s.json", hex);
	r = cx_path_join(dir, name, out);
	free(dir);
	return r;
}

/* one warning per process: the folder's or the first bad entry's */
static void
warn_untrusted(const char *what, const char *path, const char *why)
{
	static int warned;

	if (warned++)
		return;
	cx_warn("not using the credential cache %s '%s': it is %s", what,
	    path, why);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
}

/* 1 when dir exists and is trusted (create: made 0700 if missing) */
static int
dir_usable(const char *dir, int create)
{
	char why[160];
	int r;

	r = cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why));
	if (r == CX_ERR_NOTFOUND && create) {
		if (cx_mkdir_p(dir, 0700) != 0) {
			cx_debug(1, "cannot create the cache folder '%s'", dir);
			return 0;
		}
		r = cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why));
	}
	if (r == CX_ERR_DENIED)
		warn_untrusted("folder", dir, why);
	return r == 0;
}

int
cx_creds_cache_usable(const char *path)
{
	char *dir = dir_of(path);
	int ok;

	ok = dir != NULL && dir_usable(dir, 1);
	free(dir);
	return ok;
}

int
cx_creds_cache_get(const char *path, struct cx_creds *out)
{
	struct cx_buf b;
	cJSON *doc = NULL;
	char *dir = NULL, why[160];
	int r;

	memset(out, 0, sizeof(*out));
	cx_buf_init(&b, CX_CACHE_FILE_MAX);
	cx_buf_set_secret(&b);
	if ((dir = dir_of(path)) == NULL || !dir_usable(dir, 0)) {
		r = CX_CREDS_NONE;
		goto out;
	}
	r = cx_read_file_trusted(path, CX_CACHE_FILE_MAX, &b, why,
	    sizeof(why));
	if (r == CX_ERR_DENIED)
		warn_untrusted("entry", path, why);
	if (r != 0) {
		r = CX_CREDS_NONE;
		goto out;
	}
	if ((doc = cJSON_ParseWithLength(cx_buf_str(&b), b.len)) == NULL) {
		cx_debug(1, "ignoring unreadable cache entry '%s'", path);
		r = CX_CREDS_NONE;
		goto out;
	}
	/* quiet: a bad entry is not the user's problem, it gets replaced */
	if (!cJSON_IsObject(doc) || cx_json_str(doc, "AccessKeyId") == NULL ||
	    cx_json_str(doc, "SecretAccessKey") == NULL ||
	    cx_json_str(doc, "Expiration") == NULL) {
		cx_debug(1, "ignoring incomplete cache entry '%s'", path);
		r = CX_CREDS_NONE;
		goto out;
	}
	if (cx_creds_from_process_json(doc, "cache entry", out) != 0) {
		r = CX_CREDS_NONE;
		goto out;
	}
	if (out->expiration - time(NULL) <= CX_CREDS_MIN_VALID_S) {
		cx_debug(1, "cache entry '%s' expires too soon", path);
		cx_creds_clean_up(out);
		r = CX_CREDS_NONE;
		goto out;
	}
	out->source = "cache";
	cx_debug(1, "using cached credentials '%s'", path);
	r = 0;
 out:
	cx_json_delete_secure(doc);
	cx_buf_clean_up(&b);
	free(dir);
	return r;
}

void
cx_creds_cache_put(const char *path, const struct cx_creds *c)
{
	cJSON *doc = NULL;
	char *s = NULL, why[160];

	if (c->expiration == 0)
		return;		/* only temporary credentials are cached */
	if (!cx_creds_cache_usable(path))
		return;
	/* an entry that is not ours stays as it is (get warned once) */
	if (cx_path_trusted(path, CX_TRUST_FILE, why, sizeof(why)) ==
	    CX_ERR_DENIED) {
		cx_debug(1, "not replacing the cache entry '%s': it is %s",
		    path, why);
		return;
	}
	if ((doc = cJSON_CreateObject()) == NULL ||
	    cx_creds_to_process_json(c, doc) != 0 ||
	    (c->account_id != NULL &&
	    cx_json_set_str(doc, "AccountId", c->account_id) != 0))
		goto out;
	if ((s = cJSON_PrintUnformatted(doc)) == NULL)
		goto out;
	if (cx_write_file_atomic(path, s, strlen(s), 0600,
	    CX_ATOMIC_SECRET) != 0)
		cx_debug(1, "cannot write the cache entry '%s'", path);
 out:
	if (s != NULL) {
		cx_wipe(s, strlen(s));
		cJSON_free(s);
	}
	cx_json_delete_secure(doc);
}
