/*
 * cx-sshconf's operations: load (locked), edit, diff, save, report.
 */
#include <sys/stat.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ssh/sshconf.h"
#include "sshconf_cmd.h"

static int
is_exec(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int
cx_sshconf_default_proxy_path(const char *argv0, char **out)
{
	char *self = NULL, *dir, *cand = NULL, *path = NULL;
	char *save = NULL, *tok;
	const char *pe;
	int r;

	*out = NULL;
	if (cx_self_path(&self) != 0 && argv0 != NULL &&
	    strchr(argv0, '/') != NULL)
		(void)cx_realpath(argv0, &self);
	if (self != NULL) {
		dir = dirname(self);
		r = cx_path_join(dir, "cloudx-proxy", &cand);
		free(self);
		if (r != 0)
			return r;
		if (is_exec(cand)) {
			*out = cand;
			return 0;
		}
	}
	if ((pe = getenv("PATH")) != NULL && (path = strdup(pe)) != NULL) {
		for (tok = strtok_r(path, ":", &save); tok != NULL;
		    tok = strtok_r(NULL, ":", &save)) {
			char *c = NULL;

			if (tok[0] != '/' || cx_path_join(tok, "cloudx-proxy",
			    &c) != 0)
				continue;
			if (is_exec(c)) {
				free(cand);
				free(path);
				*out = c;
				return 0;
			}
			free(c);
		}
		free(path);
	}
	if (cand == NULL) {
		cx_error("cannot find cloudx-proxy (use --proxy-command-path)");
		return CX_ERR_NOTFOUND;
	}
	cx_warn("'%s' does not exist (yet)", cand);
	*out = cand;
	return 0;
}

static int
jstr(cJSON *o, const char *k, const char *v)
{
	if (v == NULL)
		return 0;
	return cJSON_AddStringToObject(o, k, v) ? 0 : CX_ERR_NOMEM;
}

static int
jbool(cJSON *o, const char *k, int v)
{
	return cJSON_AddBoolToObject(o, k, v) ? 0 : CX_ERR_NOMEM;
}

/* The file, its prefix and the env options the request resolves to. */
struct ctx {
	char *config, *ssh_dir, *ssh_key, *proxy_path, *prefix, *home;
	char *cur_dir, *cur_key;	/* of the existing environment */
};

static void
ctx_clean(struct ctx *c)
{
	free(c->config);
	free(c->ssh_dir);
	free(c->ssh_key);
	free(c->proxy_path);
	free(c->prefix);
	free(c->home);
	free(c->cur_dir);
	free(c->cur_key);
}

static int
resolve(const struct cx_sshconf_req *q, struct ctx *c)
{
	char *prof = NULL, *key = NULL, *dir = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = cx_home_dir(&c->home)) != 0)
		return r;
	if (q->ssh_dir != NULL && !cx_sshconf_valid_path(q->ssh_dir)) {
		cx_error("invalid ssh dir '%s'", q->ssh_dir);
		return CX_ERR_INPUT;
	}
	if ((r = cx_sshconf_connect_defaults(c->home, q->ssh_dir, q->config,
	    &prof, &key, &dir)) != 0)
		return r;
	free(prof);
	c->ssh_dir = dir;
	c->ssh_key = q->ssh_key ? strdup(q->ssh_key) : key;
	if (q->ssh_key != NULL)
		free(key);
	if (c->ssh_key == NULL)
		return CX_ERR_NOMEM;
	if (q->config != NULL)
		r = cx_expand_user(q->config, &c->config);
	else
		r = cx_path_join(c->ssh_dir, "config", &c->config);
	if (r != 0)
		return r;
	if (q->prefix != NULL) {
		if ((c->prefix = strdup(q->prefix)) == NULL)
			return CX_ERR_NOMEM;
	}
	return 0;
}

/* list and adopt read an existing file: take its prefix when none is
 * given. */
static int
guess_prefix(struct ctx *c)
{
	struct cx_buf b;
	int r;

	if (c->prefix != NULL)
		return 0;
	cx_buf_init(&b, CX_SSHCONF_MAX_FILE + 1);
	r = cx_read_file(c->config, CX_SSHCONF_MAX_FILE, &b);
	if (r == 0)
		c->prefix = cx_sshconf_guess_prefix(b.data ? b.data :
		    (unsigned char *)"", b.len);
	cx_buf_clean_up(&b);
	if (r != 0 && r != CX_ERR_NOTFOUND)
		return r;
	if (c->prefix == NULL && (c->prefix = strdup("cloudx")) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

static int
do_list(const struct cx_sshconf_req *q, struct ctx *c, cJSON *so,
    struct cx_buf *text)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	cJSON *j = NULL, *it;
	int r;

	if ((r = guess_prefix(c)) != 0)
		return r;
	if ((r = cx_sshconf_load(c->config, c->prefix, 0, &m)) != 0)
		return r;
	if (!cx_sshconf_existed(m)) {
		cx_error("ssh config '%s' not found; run 'cloudx-proxy setup'",
		    c->config);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if ((r = cx_sshconf_list(m, q->env, &l)) != 0)
		goto out;
	if (!q->json) {
		r = cx_sshconf_listing_text(l, q->detailed, text);
		goto out;
	}
	if ((r = cx_sshconf_listing_json(l, &j)) != 0)
		goto out;
	/* move the listing's members into SshConfig */
	while ((it = j->child) != NULL) {
		cJSON_DetachItemViaPointer(j, it);
		cJSON_AddItemToObject(so, it->string, it);
	}
 out:
	cJSON_Delete(j);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	return r;
}

static int
do_include(const struct cx_sshconf_req *q, struct ctx *c, cJSON *so)
{
	struct cx_sshconf_include_result res;
	struct cx_buf diff;
	char *mainp = NULL;
	int r;

	cx_buf_init(&diff, 0);
	if (q->main_config != NULL)
		r = cx_expand_user(q->main_config, &mainp);
	else
		r = cx_path_join(c->home, ".ssh/config", &mainp);
	if (r != 0)
		goto out;
	if ((r = cx_sshconf_ensure_include(mainp, c->config, c->home,
	    q->dry_run ? CX_SSHCONF_DRY_RUN : 0, &res, &diff)) != 0)
		goto out;
	if ((r = jstr(so, "MainConfig", mainp)) != 0 ||
	    (r = jbool(so, "Changed", res.changed)) != 0 ||
	    (r = jbool(so, "AlreadyIncluded", res.already)) != 0 ||
	    (r = jbool(so, "SameFile", res.same_file)) != 0 ||
	    (r = jbool(so, "Created", res.created && res.changed)) != 0 ||
	    (diff.len > 0 && (r = jstr(so, "Diff", cx_buf_str(&diff))) != 0))
		goto out;
 out:
	free(mainp);
	cx_buf_clean_up(&diff);
	return r;
}

static const char *
given_or(const char *given, const char *current)
{
	if (given != NULL)
		return *given != '\0' ? given : NULL;	/* "" unsets */
	return current;
}

/*
 * The environment's options: what the request gives, else what the existing
 * block says (so changing one setting keeps the others), else the defaults.
 */
static int
env_opts(const struct cx_sshconf_req *q, struct ctx *c,
    const struct cx_sshconf_env *e, struct cx_sshconf_env_opts *o)
{
	const char *idf = e ? e->identity_file : NULL, *slash;
	size_t kl;

	memset(o, 0, sizeof(*o));
	o->home = c->home;
	o->proxy_path = c->proxy_path;
	if (q->proxy_path == NULL && e != NULL && e->proxy_ours &&
	    e->proxy_path != NULL && e->proxy_path[0] == '/')
		o->proxy_path = e->proxy_path;
	o->ssh_dir = c->ssh_dir;
	o->ssh_key = c->ssh_key;
	if (idf != NULL && (slash = strrchr(idf, '/')) != NULL &&
	    slash != idf) {
		free(c->cur_dir);
		free(c->cur_key);
		c->cur_dir = strndup(idf, (size_t)(slash - idf));
		c->cur_key = strdup(slash + 1);
		if (c->cur_dir == NULL || c->cur_key == NULL)
			return CX_ERR_NOMEM;
		kl = strlen(c->cur_key);
		if (e->identity_agent != NULL && kl > 4 &&
		    strcmp(c->cur_key + kl - 4, ".pub") == 0)
			c->cur_key[kl - 4] = '\0';
		if (q->ssh_dir == NULL)
			o->ssh_dir = c->cur_dir;
		if (q->ssh_key == NULL)
			o->ssh_key = c->cur_key;
	}
	/* what the ProxyCommand says wins over the IdentityFile */
	if (e != NULL && q->ssh_key == NULL && e->ssh_key != NULL &&
	    cx_sshconf_valid_name(e->ssh_key))
		o->ssh_key = e->ssh_key;
	if (e != NULL && q->ssh_dir == NULL && e->ssh_dir != NULL &&
	    cx_sshconf_valid_path(e->ssh_dir) && e->ssh_dir[0] == '/')
		o->ssh_dir = e->ssh_dir;
	o->profile = given_or(q->profile, e ? e->profile : NULL);
	o->aws_env = given_or(q->aws_env, e ? e->aws_env : NULL);
	o->region = given_or(q->region, e ? e->region : NULL);
	o->identity_agent = given_or(q->identity_agent,
	    e ? e->identity_agent : NULL);
	return 0;
}

static int
do_edit(const struct cx_sshconf_req *q, struct ctx *c, cJSON *so)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf_env_opts o;
	struct cx_buf diff;
	char *full = NULL, *bak = NULL;
	int r, replaced = 0, count = 0, created, changed, has_env, flags;
	const char *op = q->op;

	cx_buf_init(&diff, 0);
	if (strcmp(op, "adopt") == 0 && (r = guess_prefix(c)) != 0)
		goto out;
	if (c->prefix == NULL && (c->prefix = strdup("cloudx")) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((strcmp(op, "set-env") == 0 || strcmp(op, "add-host") == 0 ||
	    strcmp(op, "adopt") == 0) && q->proxy_path == NULL &&
	    (r = cx_sshconf_default_proxy_path(q->argv0, &c->proxy_path)) != 0)
		goto out;
	if (q->proxy_path != NULL &&
	    (c->proxy_path = strdup(q->proxy_path)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	/* Windows OpenSSH's config when asked, or when that is the host's */
	flags = (q->windows || cx_os_host() == CX_OS_WINDOWS ?
	    CX_SSHCONF_WINDOWS : 0) |
	    (q->dry_run ? 0 : CX_SSHCONF_LOCK);
	if ((r = cx_sshconf_load(c->config, c->prefix, flags, &m)) != 0)
		goto out;
	created = !cx_sshconf_existed(m);
	if (q->env != NULL && (r = cx_sshconf_list(m, q->env, &l)) != 0)
		goto out;
	has_env = l != NULL && l->nenvs > 0 && l->envs[0].pattern != NULL;
	if ((r = env_opts(q, c, has_env ? &l->envs[0] : NULL, &o)) != 0)
		goto out;
	if (strcmp(op, "set-env") == 0) {
		r = cx_sshconf_set_env(m, q->env, &o);
	} else if (strcmp(op, "add-host") == 0) {
		if (!has_env || q->env_opts_given)
			r = cx_sshconf_set_env(m, q->env, &o);
		else
			r = cx_sshconf_ensure_generic(m);
		if (r == 0)
			r = cx_sshconf_set_host(m, q->env, q->name, q->instance,
			    &replaced);
	} else if (strcmp(op, "remove-host") == 0) {
		r = cx_sshconf_remove_host(m, q->env, q->name);
	} else if (strcmp(op, "remove-env") == 0) {
		r = cx_sshconf_remove_env(m, q->env);
	} else if (strcmp(op, "adopt") == 0) {
		if (created) {
			cx_error("ssh config '%s' not found", c->config);
			r = CX_ERR_NOTFOUND;
		} else
			r = cx_sshconf_adopt(m, c->proxy_path, &count);
	} else {
		cx_error("unknown operation '%s'", op);
		r = CX_ERR_USAGE;
	}
	if (r != 0)
		goto out;
	changed = cx_sshconf_changed(m);
	if (changed && (r = cx_sshconf_diff(m, c->config, &diff)) != 0)
		goto out;
	if (!q->dry_run && (r = cx_sshconf_save(m, c->config)) != 0)
		goto out;
	if ((r = jbool(so, "Changed", changed)) != 0 ||
	    (r = jbool(so, "Created", created && changed)) != 0)
		goto out;
	if (!q->dry_run && changed && !created) {
		if (cx_asprintf(&bak, "%s.bak", c->config) < 0) {
			bak = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = jstr(so, "Backup", bak)) != 0)
			goto out;
	}
	if (q->env != NULL && (r = jstr(so, "Environment", q->env)) != 0)
		goto out;
	if (q->name != NULL) {
		if (cx_asprintf(&full, "%s-%s-%s", c->prefix, q->env,
		    q->name) < 0) {
			full = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = jstr(so, "Host", full)) != 0)
			goto out;
	}
	if (strcmp(op, "add-host") == 0 &&
	    (r = jbool(so, "Replaced", replaced)) != 0)
		goto out;
	if (strcmp(op, "adopt") == 0 &&
	    !cJSON_AddNumberToObject(so, "Rewritten", count)) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (diff.len > 0 && (r = jstr(so, "Diff", cx_buf_str(&diff))) != 0)
		goto out;
 out:
	free(full);
	free(bak);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	cx_buf_clean_up(&diff);
	return r;
}

static int
need(const char *what, const char *v)
{
	if (v == NULL || *v == '\0') {
		cx_error("missing %s", what);
		return CX_ERR_USAGE;
	}
	return 0;
}

int
cx_sshconf_run(const struct cx_sshconf_req *q, cJSON *doc,
    struct cx_buf *text)
{
	struct ctx c;
	cJSON *so = NULL;
	const char *op = q->op;
	int r;

	if (op == NULL) {
		cx_error("missing operation");
		return CX_ERR_USAGE;
	}
	if ((strcmp(op, "add-host") == 0 || strcmp(op, "remove-host") == 0) &&
	    ((r = need("--environment", q->env)) != 0 ||
	    (r = need("--name", q->name)) != 0))
		return r;
	if ((strcmp(op, "set-env") == 0 || strcmp(op, "remove-env") == 0) &&
	    (r = need("--environment", q->env)) != 0)
		return r;
	if (strcmp(op, "add-host") == 0 &&
	    (r = need("--instance", q->instance)) != 0)
		return r;
	if ((r = resolve(q, &c)) != 0)
		goto out;
	if ((so = cJSON_CreateObject()) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = jstr(so, "Operation", op)) != 0 ||
	    (r = jstr(so, "Path", c.config)) != 0 ||
	    (r = jbool(so, "DryRun", q->dry_run)) != 0)
		goto out;
	if (strcmp(op, "list") == 0)
		r = do_list(q, &c, so, text);
	else if (strcmp(op, "ensure-include") == 0)
		r = do_include(q, &c, so);
	else
		r = do_edit(q, &c, so);
	if (r != 0)
		goto out;
	if (c.prefix != NULL && strcmp(op, "list") != 0 &&
	    (r = jstr(so, "Prefix", c.prefix)) != 0)
		goto out;
	if (strcmp(op, "list") == 0 && !q->json)
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "SshConfig");
	cJSON_AddItemToObject(doc, "SshConfig", so);
	so = NULL;	/* transferred */
 out:
	cJSON_Delete(so);
	ctx_clean(&c);
	return r;
}
