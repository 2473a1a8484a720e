/*
 * Queries on the model: what environments and hosts of ours it holds, as C
 * structs, JSON, or the seed's human `list` layout.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cxerr.h"
#include "core/os.h"
#include "core/text.h"
#include "sshconf.h"
#include "sshconf_int.h"

static void
host_clean(struct cx_sshconf_host *h)
{
	free(h->name);
	free(h->host);
	free(h->hostname);
	free(h->comment);
}

static void
env_clean(struct cx_sshconf_env *e)
{
	size_t i;

	free(e->name);
	free(e->pattern);
	free(e->identity_file);
	free(e->identity_agent);
	free(e->proxy_command);
	free(e->proxy_path);
	free(e->profile);
	free(e->ssh_key);
	free(e->ssh_dir);
	free(e->ssh_config);
	free(e->aws_env);
	free(e->region);
	for (i = 0; i < e->nhosts; i++)
		host_clean(&e->hosts[i]);
	free(e->hosts);
}

void
cx_sshconf_listing_free(struct cx_sshconf_listing *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nenvs; i++)
		env_clean(&l->envs[i]);
	free(l->envs);
	free(l->prefix);
	free(l);
}

static struct cx_sshconf_env *
env_get(struct cx_sshconf_listing *l, const char *name, int *err)
{
	struct cx_sshconf_env *ne;
	size_t i;

	for (i = 0; i < l->nenvs; i++)
		if (strcmp(l->envs[i].name, name) == 0)
			return &l->envs[i];
	if ((ne = cx_reallocarray(l->envs, l->nenvs + 1, sizeof(*ne))) == NULL) {
		*err = CX_ERR_NOMEM;
		return NULL;
	}
	l->envs = ne;
	ne = &l->envs[l->nenvs];
	memset(ne, 0, sizeof(*ne));
	if ((ne->name = strdup(name)) == NULL) {
		*err = CX_ERR_NOMEM;
		return NULL;
	}
	l->nenvs++;
	return ne;
}

/* The first value of keyword kw in lines (start, end), unquoted. */
static int
first_value(const struct cx_sshconf *m, size_t start, size_t end,
    const char *kw, int raw, char **out)
{
	struct sc_pl p;
	char **argv = NULL;
	size_t i;
	int argc, r;

	*out = NULL;
	for (i = start + 1; i < end; i++) {
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind != SC_DIRECTIVE || !sc_kw_is(&p, kw))
			continue;
		if (raw) {
			*out = strndup(p.val, p.vallen);
			return *out ? 0 : CX_ERR_NOMEM;
		}
		if ((r = sc_split(p.val, p.vallen, &argv, &argc, NULL)) != 0)
			return r;
		if (argc > 0 && (*out = strdup(argv[0])) == NULL) {
			sc_argv_free(argv);
			return CX_ERR_NOMEM;
		}
		sc_argv_free(argv);
		return 0;
	}
	return 0;
}

static int
set_dup(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : CX_ERR_NOMEM;
}

/* Reads "<path> connect %h %p --opt val ..." (or "uvx ... connect"). */
static int
parse_proxy(struct cx_sshconf_env *e)
{
	char **argv = NULL;
	int argc, c, i, r;
	static const struct {
		const char *opt;
		size_t off;
	} opts[] = {
		{ "--profile", offsetof(struct cx_sshconf_env, profile) },
		{ "--ssh-key", offsetof(struct cx_sshconf_env, ssh_key) },
		{ "--ssh-dir", offsetof(struct cx_sshconf_env, ssh_dir) },
		{ "--ssh-config", offsetof(struct cx_sshconf_env, ssh_config) },
		{ "--aws-env", offsetof(struct cx_sshconf_env, aws_env) },
		{ "--region", offsetof(struct cx_sshconf_env, region) },
	};

	if ((r = sc_split(e->proxy_command, strlen(e->proxy_command), &argv,
	    &argc, NULL)) != 0)
		return r;
	for (c = 0; c < argc; c++)
		if (strcmp(argv[c], "connect") == 0)
			break;
	if (c == 0 || c == argc)
		goto done;
	if ((r = set_dup(&e->proxy_path, argv[c - 1])) != 0)
		goto done;
	e->proxy_ours = strcmp(argv[0], "uvx") != 0 && c == 1;
	for (i = c + 1; i < argc; i++) {
		size_t k, ol;
		const char *v = NULL;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			ol = strlen(opts[k].opt);
			if (strcmp(argv[i], opts[k].opt) == 0 && i + 1 < argc)
				v = argv[++i];
			else if (strncmp(argv[i], opts[k].opt, ol) == 0 &&
			    argv[i][ol] == '=')
				v = argv[i] + ol + 1;
			else
				continue;
			if ((r = set_dup((char **)((char *)e + opts[k].off),
			    v)) != 0)
				goto done;
			break;
		}
	}
 done:
	sc_argv_free(argv);
	return r;
}

static int
cmp_env(const void *a, const void *b)
{
	return strcmp(((const struct cx_sshconf_env *)a)->name,
	    ((const struct cx_sshconf_env *)b)->name);
}

static int
cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct cx_sshconf_host *)a)->name,
	    ((const struct cx_sshconf_host *)b)->name);
}

int
cx_sshconf_list(const struct cx_sshconf *m, const char *env_filter,
    struct cx_sshconf_listing **out)
{
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf_env *e;
	struct cx_sshconf_host *h;
	struct sc_scan s = { NULL, 0 };
	size_t i, k;
	int r = 0;

	*out = NULL;
	if ((r = sc_scan(m, &s)) != 0)
		return r;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->prefix = strdup(m->prefix)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	/* environments first (the first block of a name wins, as in ssh) */
	for (i = 0; i < s.n; i++) {
		struct sc_blk *b = &s.b[i];

		if (b->kind == SB_GENERIC)
			l->has_generic = 1;
		if (b->kind != SB_ENV || (env_filter != NULL &&
		    strcmp(env_filter, b->env) != 0))
			continue;
		if ((e = env_get(l, b->env, &r)) == NULL)
			goto out;
		if (e->pattern != NULL)
			continue;
		if ((r = set_dup(&e->pattern, b->pattern)) != 0 ||
		    (r = first_value(m, b->start, b->end, "identityfile", 0,
		    &e->identity_file)) != 0 ||
		    (r = first_value(m, b->start, b->end, "identityagent", 0,
		    &e->identity_agent)) != 0 ||
		    (r = first_value(m, b->start, b->end, "proxycommand", 1,
		    &e->proxy_command)) != 0)
			goto out;
		if (e->proxy_command != NULL && (r = parse_proxy(e)) != 0)
			goto out;
	}
	for (i = 0; i < s.n; i++) {
		struct sc_blk *b = &s.b[i];

		if (b->kind != SB_HOST || (env_filter != NULL &&
		    strcmp(env_filter, b->env) != 0))
			continue;
		if ((e = env_get(l, b->env, &r)) == NULL)
			goto out;
		for (k = 0; k < e->nhosts; k++)
			if (strcmp(e->hosts[k].host, b->pattern) == 0)
				break;
		if (k < e->nhosts)
			continue;	/* a later duplicate: ssh ignores it */
		if ((h = cx_reallocarray(e->hosts, e->nhosts + 1,
		    sizeof(*h))) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		e->hosts = h;
		h = &e->hosts[e->nhosts++];
		memset(h, 0, sizeof(*h));
		if ((r = set_dup(&h->name, b->name)) != 0 ||
		    (r = set_dup(&h->host, b->pattern)) != 0 ||
		    (b->comment && (r = set_dup(&h->comment, b->comment +
		    strspn(b->comment, "# \t"))) != 0) ||
		    (r = first_value(m, b->start, b->end, "hostname", 0,
		    &h->hostname)) != 0)
			goto out;
		{
			char *alias = NULL;

			if ((r = first_value(m, b->start, b->end,
			    "hostkeyalias", 0, &alias)) != 0)
				goto out;
			h->key_pinned = alias != NULL && h->hostname != NULL &&
			    strcmp(alias, h->hostname) == 0;
			free(alias);
		}
	}
	if (l->nenvs > 0)
		qsort(l->envs, l->nenvs, sizeof(*l->envs), cmp_env);
	for (i = 0; i < l->nenvs; i++)
		if (l->envs[i].nhosts > 0)
			qsort(l->envs[i].hosts, l->envs[i].nhosts,
			    sizeof(*l->envs[i].hosts), cmp_host);
	*out = l;
	l = NULL;	/* transferred */
	r = 0;
 out:
	sc_scan_free(&s);
	cx_sshconf_listing_free(l);
	return r;
}

static int
jadd(cJSON *o, const char *k, const char *v)
{
	if (v == NULL)
		return 0;
	return cJSON_AddStringToObject(o, k, v) ? 0 : CX_ERR_NOMEM;
}

int
cx_sshconf_listing_json(const struct cx_sshconf_listing *l, cJSON **out)
{
	cJSON *doc = NULL, *envs, *eo, *hosts, *ho;
	size_t i, k;
	int r = CX_ERR_NOMEM;

	*out = NULL;
	if ((doc = cJSON_CreateObject()) == NULL ||
	    jadd(doc, "Prefix", l->prefix) != 0 ||
	    cJSON_AddBoolToObject(doc, "Generic", l->has_generic) == NULL ||
	    (envs = cJSON_AddArrayToObject(doc, "Environments")) == NULL)
		goto out;
	for (i = 0; i < l->nenvs; i++) {
		const struct cx_sshconf_env *e = &l->envs[i];

		if ((eo = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(envs, eo);
		if (jadd(eo, "Name", e->name) || jadd(eo, "Pattern", e->pattern) ||
		    jadd(eo, "IdentityFile", e->identity_file) ||
		    jadd(eo, "IdentityAgent", e->identity_agent) ||
		    jadd(eo, "ProxyCommand", e->proxy_command) ||
		    jadd(eo, "ProxyPath", e->proxy_path) ||
		    jadd(eo, "Profile", e->profile) ||
		    jadd(eo, "SshKey", e->ssh_key) ||
		    jadd(eo, "SshDir", e->ssh_dir) ||
		    jadd(eo, "SshConfig", e->ssh_config) ||
		    jadd(eo, "AwsEnv", e->aws_env) ||
		    jadd(eo, "Region", e->region) ||
		    (e->proxy_command != NULL && cJSON_AddBoolToObject(eo,
		    "ProxyOurs", e->proxy_ours) == NULL) ||
		    (hosts = cJSON_AddArrayToObject(eo, "Hosts")) == NULL)
			goto out;
		for (k = 0; k < e->nhosts; k++) {
			const struct cx_sshconf_host *h = &e->hosts[k];

			if ((ho = cJSON_CreateObject()) == NULL)
				goto out;
			cJSON_AddItemToArray(hosts, ho);
			if (jadd(ho, "Name", h->name) || jadd(ho, "Host", h->host) ||
			    jadd(ho, "InstanceId", h->hostname) ||
			    jadd(ho, "Comment", h->comment) ||
			    cJSON_AddBoolToObject(ho, "KeyPinned",
			    h->key_pinned) == NULL)
				goto out;
		}
	}
	*out = doc;
	doc = NULL;	/* transferred */
	r = 0;
 out:
	cJSON_Delete(doc);
	return r;
}

static int
listing_text(const struct cx_sshconf_listing *l, int detailed,
    struct cx_buf *out)
{
	size_t i, k;
	int r;

	if ((r = cx_buf_puts(out, "\n=== cloudx-proxy Configured Hosts ===\n"
	    "\n")) != 0)
		return r;
	if (!l->has_generic && l->nenvs == 0)
		return cx_buf_puts(out, "No cloudx-proxy hosts configured.\n"
		    "Run 'cloudx-proxy setup' to configure a host.\n");
	if (detailed) {
		if ((r = cx_buf_puts(out, "Generic Patterns:\n")) != 0)
			return r;
		if (l->has_generic &&
		    (r = cx_buf_printf(out, "  %s-*\n", l->prefix)) != 0)
			return r;
		for (i = 0; i < l->nenvs; i++)
			if (l->envs[i].pattern != NULL &&
			    (r = cx_buf_printf(out, "  %s\n",
			    l->envs[i].pattern)) != 0)
				return r;
		if ((r = cx_buf_puts(out, "\n")) != 0)
			return r;
	}
	for (i = 0; i < l->nenvs; i++) {
		const struct cx_sshconf_env *e = &l->envs[i];

		if ((r = cx_buf_printf(out, "Environment: %s\n", e->name)) != 0)
			return r;
		for (k = 0; k < e->nhosts; k++) {
			const struct cx_sshconf_host *h = &e->hosts[k];
			const char *c = h->comment;

			if ((r = cx_buf_printf(out, "  %s (%s, %s%s%s%s)\n",
			    h->name, h->host, h->hostname ? h->hostname : "N/A",
			    c && *c ? ", " : "", c && *c ? c : "",
			    h->key_pinned ? ", key pinned" :
			    ", key not pinned: run cleanup")) != 0)
				return r;
		}
		if ((r = cx_buf_puts(out, "\n")) != 0)
			return r;
	}
	return cx_buf_puts(out, "Usage:\n  Connect with SSH:  ssh <hostname>\n"
	    "  Connect with VSCode: Use Remote Explorer in VSCode\n");
}

int
cx_sshconf_listing_text(const struct cx_sshconf_listing *l, int detailed,
    struct cx_buf *out)
{
	size_t from = out->len;
	int r;

	/* names and comments come from a file: shown safely */
	if ((r = listing_text(l, detailed, out)) == 0)
		out->len = from + cx_text_sanitise((char *)out->data + from,
		    out->len - from, 1);
	return r;
}
