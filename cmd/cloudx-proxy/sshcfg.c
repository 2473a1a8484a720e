/*
 * setup's SSH config step and the list command, on top of lib/ssh/sshconf.h
 * (the lossless three-tier model shared with cx-sshconf).
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/text.h"
#include "core/stage.h"
#include "ssh/sshconf.h"
#include "driver.h"
#include "setup.h"

int
cx_drv_sshconf_os_flags(void)
{
	return cx_os_host() == CX_OS_WINDOWS ? CX_SSHCONF_WINDOWS : 0;
}

int
cx_drv_self_path(char **out)
{
	int r;

	if ((r = cx_self_path(out)) == CX_ERR_NOMEM)
		return r;
	if (r != 0) {
		cx_error("cannot find this program's path");
		return CX_ERR_IO;
	}
	return 0;
}

static void
print_diff(const struct cx_buf *d)
{
	if (d->len > 0)
		(void)!write(STDERR_FILENO, d->data, d->len);
}

int
cx_drv_setup_sshconfig(struct cx_drv_setup *s)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_env_opts eo;
	struct cx_sshconf_include_result inc;
	struct cx_buf diff;
	char *main_cfg = NULL, *control = NULL;
	char host[600];
	int r, adopted = 0, replaced = 0;

	cx_buf_init(&diff, 0);
	memset(&eo, 0, sizeof(eo));
	memset(&inc, 0, sizeof(inc));
	cx_drv_status(0, CX_DRV_INFO, "Setting up SSH configuration with "
	    "three-tier approach...");
	if ((r = cx_drv_self_path(&s->self)) != 0)
		goto out;
	if ((r = cx_path_join(s->home, ".ssh/control", &control)) != 0 ||
	    (r = cx_path_join(s->home, ".ssh/config", &main_cfg)) != 0)
		goto out;
	if (s->ui.dry_run) {
		if (!cx_is_dir(control))
			cx_drv_say("[DRY RUN] Would create %s (0700)", control);
	} else {
		if ((r = cx_mkdir_p(control, 0700)) != 0) {
			cx_error("cannot create '%s': %s", control,
			    strerror(errno));
			goto out;
		}
		(void)cx_set_mode(control, 0700);
	}
	if ((r = cx_sshconf_load(s->config_file, s->prefix,
	    (s->ui.dry_run ? 0 : CX_SSHCONF_LOCK) | cx_drv_sshconf_os_flags(),
	    &m)) != 0)
		goto out;
	if ((r = cx_sshconf_adopt(m, s->self, &adopted)) != 0)
		goto out;
	if (adopted > 0)
		cx_drv_status(0, CX_DRV_OK, "Adopted %d ProxyCommand%s written "
		    "by the Python tool", adopted, adopted == 1 ? "" : "s");
	eo.proxy_path = s->self;
	eo.ssh_dir = s->ssh_dir;
	eo.ssh_key = s->ssh_key;
	eo.profile = s->profile;
	eo.ssh_config = s->opt_ssh_config ? s->config_file : NULL;
	eo.aws_env = s->aws_env;
	eo.region = s->region;
	eo.identity_agent = s->identity_agent;
	eo.home = s->home;
	if ((r = cx_sshconf_ensure_generic(m)) != 0 ||
	    (r = cx_sshconf_set_env(m, s->env, &eo)) != 0 ||
	    (r = cx_sshconf_set_host(m, s->env, s->hostname, s->instance_id,
	    &replaced)) != 0)
		goto out;
	if (s->ui.dry_run) {
		if (cx_sshconf_changed(m)) {
			cx_drv_say("[DRY RUN] Would write %s:", s->config_file);
			if ((r = cx_sshconf_diff(m, s->config_file,
			    &diff)) != 0)
				goto out;
			print_diff(&diff);
		} else {
			cx_drv_say("[DRY RUN] %s is already up to date",
			    s->config_file);
		}
	} else {
		if ((r = cx_sshconf_save(m, s->config_file)) != 0)
			goto out;
		cx_drv_status(0, CX_DRV_OK, "%s host entry for %s-%s-%s",
		    replaced ? "Updated" : "Added", s->prefix, s->env,
		    s->hostname);
	}
	cx_sshconf_free(m);
	m = NULL;
	cx_buf_reset(&diff);
	r = cx_sshconf_ensure_include(main_cfg, s->config_file, s->home,
	    s->ui.dry_run ? CX_SSHCONF_DRY_RUN : 0, &inc, &diff);
	if (r != 0)
		goto out;
	if (inc.same_file)
		cx_drv_status(0, CX_DRV_OK, "Using system SSH config directly, "
		    "no Include needed");
	else if (inc.already)
		cx_drv_status(0, CX_DRV_OK, "System SSH config already "
		    "includes our config");
	else if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would add an Include to %s:", main_cfg);
		print_diff(&diff);
	} else
		cx_drv_status(0, CX_DRV_OK, "Added an Include of our config to "
		    "%s", main_cfg);
	s->include_ok = !s->ui.dry_run;
	snprintf(host, sizeof(host), "%s-%s-%s", s->prefix, s->env,
	    s->hostname);
	cx_drv_say("\n  System config: %s", main_cfg);
	cx_drv_say("  %s-proxy config: %s", s->prefix, s->config_file);
	cx_drv_say("  SSH key directory: %s", s->ssh_dir);
	cx_drv_say("  Connect using: ssh %s", host);
 out:
	cx_sshconf_free(m);
	free(main_cfg);
	free(control);
	cx_buf_clean_up(&diff);
	return r;
}

/* ---- list ---- */

static const struct option list_opts[] = {
	{ "detailed",	no_argument,		NULL, 'd' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "environment", required_argument,	NULL, 'e' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "ssh-config",	required_argument,	NULL, 'c' },
	{ NULL, 0, NULL, 0 }
};

/* --ssh-config, else ~/.ssh/cloudX/config if it exists, else
 * ~/.ssh/vscode/config if it exists, else the cloudX path. */
int
cx_drv_find_config(const char *home, const char *opt, char **out)
{
	char *v = NULL;
	int r;

	*out = NULL;
	if (opt != NULL)
		return cx_expand_user(opt, out);
	if ((r = cx_path_join(home, ".ssh/cloudX/config", out)) != 0)
		return r;
	if (cx_file_exists(*out))
		return 0;
	if ((r = cx_path_join(home, ".ssh/vscode/config", &v)) != 0)
		return r;
	if (cx_file_exists(v)) {
		free(*out);
		*out = v;
	} else {
		free(v);
	}
	return 0;
}

/* Loads path with the prefix that finds our blocks: the argv0 one, else
 * the one the file itself names. */
int
cx_drv_load_any(const char *path, const char *prefix, int flags,
    struct cx_sshconf **out, char **used_prefix)
{
	struct cx_sshconf_listing *l = NULL;
	struct cx_buf b;
	char *guess = NULL;
	int r, empty;

	*out = NULL;
	*used_prefix = NULL;
	if ((r = cx_sshconf_load(path, prefix, flags, out)) != 0)
		return r;
	if ((r = cx_sshconf_list(*out, NULL, &l)) != 0)
		return r;
	empty = !l->has_generic && l->nenvs == 0;
	cx_sshconf_listing_free(l);
	if (empty) {
		cx_buf_init(&b, 0);
		if (cx_sshconf_render(*out, &b) == 0)
			guess = cx_sshconf_guess_prefix(b.data, b.len);
		cx_buf_clean_up(&b);
		if (guess != NULL && strcmp(guess, prefix) != 0) {
			cx_sshconf_free(*out);
			*out = NULL;
			if ((r = cx_sshconf_load(path, guess, flags,
			    out)) != 0) {
				free(guess);
				return r;
			}
			*used_prefix = guess;
			return 0;
		}
		free(guess);
	}
	*used_prefix = strdup(prefix);
	return *used_prefix ? 0 : CX_ERR_NOMEM;
}

int
cx_drv_list_main(int argc, char **argv, const char *argv0)
{
	const char *prog = cx_drv_progname(argv0), *env = NULL, *opt = NULL;
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf *m = NULL;
	struct cx_buf out;
	cJSON *j = NULL;
	char *home = NULL, *path = NULL, *pfx = NULL, *txt = NULL;
	char *envname = NULL;
	int c, detailed = 0, json = 0, dry = 0, st = 0, r;
	size_t i;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:de:hjn", list_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'c': opt = optarg; break;
		case 'd': detailed = 1; break;
		case 'e': env = optarg; break;
		case 'h':
			printf("usage: %s list [--ssh-config F] "
			    "[--environment E] [--detailed] [--json] "
			    "[--dry-run]\n\nShows the configured hosts, "
			    "grouped by environment.\n", prog);
			return 0;
		case 'j': json = 1; break;
		case 'n': dry = 1; break;
		default:
			return cx_drv_bad_option("list", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind < argc) {
		cx_error("list: unexpected argument '%s'", argv[optind]);
		return CX_EXIT_USAGE;
	}
	cx_buf_init(&out, 0);
	if ((r = cx_home_dir(&home)) != 0 ||
	    (r = cx_drv_find_config(home, opt, &path)) != 0)
		goto out;
	if (dry) {
		char *sp = cx_text_safe_dup(path, 4096);
		char *se = env ? cx_text_safe_dup(env, 1024) : NULL;

		printf("=== %s List (DRY RUN) ===\n[DRY RUN] Would read SSH "
		    "config from: %s\n", prog, sp ? sp : "?");
		if (se)
			printf("[DRY RUN] Would filter by environment: %s\n",
			    se);
		free(sp);
		free(se);
		goto out;
	}
	if (!cx_file_exists(path)) {
		cx_error("SSH config file not found: '%s' (run '%s setup' to "
		    "create a configuration)", path, prog);
		st = CX_EXIT_NOTFOUND;
		goto out;
	}
	if ((r = cx_drv_load_any(path, cx_drv_prefix(argv0), 0, &m,
	    &pfx)) != 0)
		goto out;
	if (env != NULL) {
		/* case-insensitive, as the seed */
		if ((r = cx_sshconf_list(m, NULL, &l)) != 0)
			goto out;
		for (i = 0; i < l->nenvs; i++)
			if (strcasecmp(l->envs[i].name, env) == 0) {
				envname = strdup(l->envs[i].name);
				break;
			}
		cx_sshconf_listing_free(l);
		l = NULL;
		if (envname == NULL && (envname = strdup(env)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = cx_sshconf_list(m, envname, &l)) != 0)
		goto out;
	if (json) {
		if ((r = cx_sshconf_listing_json(l, &j)) != 0)
			goto out;
		r = cx_stage_write(j);
		goto out;
	}
	if ((r = cx_sshconf_listing_text(l, detailed, &out)) != 0)
		goto out;
	fwrite(out.data, 1, out.len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cx_error("cannot write the list: %s", strerror(errno));
		r = CX_ERR_IO;
	}
 out:
	if (st == 0)
		st = cx_exit_code(r);
	cJSON_Delete(j);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	cx_buf_clean_up(&out);
	free(home);
	free(path);
	free(pfx);
	free(txt);
	free(envname);
	return st;
}
