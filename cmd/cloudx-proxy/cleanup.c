/*
 * cleanup (normalise the prefix, adopt the Python tool's ProxyCommands
 * keeping every option, add the generic block) and migrate (~/.ssh/vscode
 * to ~/.ssh/cloudX, keeping each environment working).  Both on lib/ssh/sshconf.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ssh/sshconf.h"
#include "driver.h"
#include "setup.h"

/* Renames "Host <other>-..." to "Host <prefix>-..." line by line. */
static int
rename_prefix(const char *text, const char *prefix, struct cx_buf *out,
    int *count)
{
	const char *other = strcmp(prefix, "cloudX") == 0 ? "cloudx" :
	    strcmp(prefix, "cloudx") == 0 ? "cloudX" : NULL;
	const char *p = text, *nl, *q;
	size_t ol = other ? strlen(other) : 0;
	int r = 0;

	*count = 0;
	for (; *p != '\0' && r == 0; p = nl) {
		nl = strchr(p, '\n');
		nl = nl ? nl + 1 : p + strlen(p);
		q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (other != NULL && strncasecmp(q, "host", 4) == 0 &&
		    (q[4] == ' ' || q[4] == '\t')) {
			q += 4;
			while (*q == ' ' || *q == '\t')
				q++;
			if (strncmp(q, other, ol) == 0 && q[ol] == '-') {
				r = cx_buf_append(out, p, (size_t)(q - p));
				if (r == 0)
					r = cx_buf_puts(out, prefix);
				if (r == 0)
					r = cx_buf_append(out, q + ol,
					    (size_t)(nl - q - ol));
				(*count)++;
				continue;
			}
		}
		r = cx_buf_append(out, p, (size_t)(nl - p));
	}
	return r;
}

/* The folder of path (malloc'd). */
static int
config_dir(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');

	*out = slash == NULL ? strdup(".") : slash == path ? strdup("/") :
	    strndup(path, (size_t)(slash - path));
	return *out ? 0 : CX_ERR_NOMEM;
}

static const struct option cleanup_opts[] = {
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "ssh-config",	required_argument,	NULL, 'c' },
	{ "ssh-host-prefix", required_argument,	NULL, 'P' },
	{ NULL, 0, NULL, 0 }
};

int
cx_drv_cleanup_main(int argc, char **argv, const char *argv0)
{
	const char *prog = cx_drv_progname(argv0), *opt = NULL;
	const char *prefix = cx_drv_prefix(argv0);
	struct cx_sshconf *m = NULL;
	struct cx_buf text, fixed, diff;
	char *home = NULL, *path = NULL, *self = NULL, *kh_dir = NULL;
	int c, dry = 0, r, renamed = 0, adopted = 0, pinned = 0, st = 0;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:hnP:", cleanup_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'c': opt = optarg; break;
		case 'h':
			printf("usage: %s cleanup [--ssh-config F] "
			    "[--ssh-host-prefix P] [--dry-run]\n\nRenames "
			    "hosts of the other prefix spelling, adopts "
			    "ProxyCommands of the Python tool (all options "
			    "kept) and adds the generic block.\n", prog);
			return 0;
		case 'n': dry = 1; break;
		case 'P': prefix = optarg; break;
		default:
			return cx_drv_bad_option("cleanup", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind < argc) {
		cx_error("cleanup: unexpected argument '%s'", argv[optind]);
		return CX_EXIT_USAGE;
	}
	cx_buf_init(&text, CX_DRV_MAX_TEXT_FILE);
	cx_buf_init(&fixed, CX_DRV_MAX_TEXT_FILE);
	cx_buf_init(&diff, 0);
	if ((r = cx_home_dir(&home)) != 0 ||
	    (r = cx_drv_find_config(home, opt, &path)) != 0 ||
	    (r = cx_drv_self_path(&self)) != 0)
		goto out;
	r = cx_read_file(path, CX_DRV_MAX_TEXT_FILE, &text);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("SSH config file not found: '%s' (run '%s setup')",
		    path, prog);
		st = CX_EXIT_NOTFOUND;
		goto out;
	}
	/* ours to rewrite? (the same rule as setup, docs/limits.md) */
	if (r == 0 && !dry)
		r = cx_sshconf_check_owner(path);
	if (r != 0)
		goto out;
	cx_drv_say("=== %s-proxy Cleanup%s ===", prefix, dry ? " (DRY RUN)" :
	    "");
	if ((r = rename_prefix(cx_buf_str(&text), prefix, &fixed,
	    &renamed)) != 0)
		goto out;
	if (renamed > 0) {
		if (dry)
			cx_drv_say("[DRY RUN] Would rename %d Host line%s to "
			    "the '%s' prefix", renamed, renamed == 1 ? "" : "s",
			    prefix);
		else if ((r = cx_write_file_atomic(path, fixed.data, fixed.len,
		    0600, CX_ATOMIC_BACKUP)) != 0)
			goto out;
		else
			cx_drv_status(0, CX_DRV_OK, "Renamed %d Host line%s to "
			    "the '%s' prefix", renamed, renamed == 1 ? "" : "s",
			    prefix);
	}
	if (dry)
		r = cx_sshconf_parse(fixed.data, fixed.len, prefix,
		    cx_drv_sshconf_os_flags(), &m);
	else
		r = cx_sshconf_load(path, prefix, CX_SSHCONF_LOCK |
		    cx_drv_sshconf_os_flags(), &m);
	if (r != 0)
		goto out;
	if ((r = cx_sshconf_adopt(m, self, &adopted)) != 0 ||
	    (r = cx_sshconf_ensure_generic(m)) != 0)
		goto out;
	if (adopted > 0)
		cx_drv_status(0, CX_DRV_OK, "%s %d ProxyCommand%s of the Python "
		    "tool (options kept)", dry ? "Would adopt" : "Adopted",
		    adopted, adopted == 1 ? "" : "s");
	/* host keys pinned to the instance, our known_hosts beside the
	 * config (docs/cloudx-proxy.md, "Host keys") */
	if ((r = config_dir(path, &kh_dir)) != 0 ||
	    (r = cx_sshconf_pin_host_keys(m, kh_dir, &pinned)) != 0)
		goto out;
	if (pinned > 0)
		cx_drv_status(0, CX_DRV_OK, "%s the host keys of %d block%s to "
		    "their instance", dry ? "Would pin" : "Pinned", pinned,
		    pinned == 1 ? "" : "s");
	if (dry) {
		if ((r = cx_sshconf_diff(m, path, &diff)) != 0)
			goto out;
		if (diff.len > 0)
			(void)!write(STDERR_FILENO, diff.data, diff.len);
		cx_drv_say("[DRY RUN] Nothing was written");
		goto out;
	}
	if ((r = cx_sshconf_save(m, path)) != 0)
		goto out;
	cx_drv_status(0, CX_DRV_OK, "Cleanup completed and config reorganized");
	cx_drv_say("Cleanup completed successfully!");
 out:
	if (st == 0)
		st = cx_exit_code(r);
	cx_sshconf_free(m);
	cx_buf_clean_up(&text);
	cx_buf_clean_up(&fixed);
	cx_buf_clean_up(&diff);
	free(home);
	free(path);
	free(self);
	free(kh_dir);
	return st;
}

/* Drops the "Include ...vscode/config" lines of ~/.ssh/config. */
static int
drop_old_include(const char *main_cfg, const char *old_cfg, int dry)
{
	struct cx_buf in, out;
	const char *p, *nl, *q;
	int r, n = 0;

	cx_buf_init(&in, CX_DRV_MAX_TEXT_FILE);
	cx_buf_init(&out, CX_DRV_MAX_TEXT_FILE);
	r = cx_read_file(main_cfg, CX_DRV_MAX_TEXT_FILE, &in);
	if (r == CX_ERR_NOTFOUND) {
		r = 0;
		goto out;
	}
	for (p = cx_buf_str(&in); r == 0 && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		nl = nl ? nl + 1 : p + strlen(p);
		q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, "include", 7) == 0 &&
		    (cx_memmem(q, (size_t)(nl - q), old_cfg, strlen(old_cfg)) ||
		    cx_memmem(q, (size_t)(nl - q), "vscode/config", 13))) {
			n++;
			continue;
		}
		r = cx_buf_append(&out, p, (size_t)(nl - p));
	}
	if (r == 0 && n > 0 && !dry &&
	    (r = cx_sshconf_check_owner(main_cfg)) == 0)
		r = cx_write_file_atomic(main_cfg, out.data, out.len, 0600,
		    CX_ATOMIC_BACKUP);
 out:
	cx_buf_clean_up(&in);
	cx_buf_clean_up(&out);
	return r;
}

int
cx_drv_migrate(const char *home, const char *target, int dry_run)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf_env_opts eo;
	struct cx_sshconf_include_result inc;
	char *src = NULL, *cfg = NULL, *old_cfg = NULL, *main_cfg = NULL;
	char *self = NULL, *pfx = NULL;
	size_t i;
	int r;

	if ((r = cx_path_join(home, ".ssh/vscode", &src)) != 0 ||
	    (r = cx_path_join(src, "config", &old_cfg)) != 0 ||
	    (r = cx_path_join(target, "config", &cfg)) != 0 ||
	    (r = cx_path_join(home, ".ssh/config", &main_cfg)) != 0 ||
	    (r = cx_drv_self_path(&self)) != 0)
		goto out;
	if (!cx_is_dir(src)) {
		cx_error("nothing to migrate: '%s' does not exist", src);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if (cx_file_exists(target)) {
		cx_error("cannot migrate: '%s' already exists", target);
		r = CX_ERR_USAGE;
		goto out;
	}
	/* only a folder and config of ours become ours under a new name */
	if ((r = cx_drv_trusted(src, CX_TRUST_DIR)) != 0 ||
	    (r = cx_sshconf_check_owner(old_cfg)) != 0)
		goto out;
	if (dry_run) {
		cx_drv_say("[DRY RUN] Would move %s to %s", src, target);
		cx_drv_say("[DRY RUN] Would point each environment of %s at %s "
		    "(profile and key names kept)", cfg, target);
		cx_drv_say("[DRY RUN] Would replace the Include of %s in %s",
		    old_cfg, main_cfg);
		goto out;
	}
	if (rename(src, target) == -1) {
		cx_error("cannot move '%s' to '%s': %s", src, target,
		    strerror(errno));
		r = CX_ERR_IO;
		goto out;
	}
	cx_drv_status(0, CX_DRV_OK, "Moved %s to %s", src, target);
	if (cx_file_exists(cfg)) {
		if ((r = cx_drv_load_any(cfg, "cloudx", CX_SSHCONF_LOCK |
		    cx_drv_sshconf_os_flags(), &m,
		    &pfx)) != 0 ||
		    (r = cx_sshconf_adopt(m, self, NULL)) != 0 ||
		    (r = cx_sshconf_list(m, NULL, &l)) != 0)
			goto out;
		for (i = 0; i < l->nenvs; i++) {
			const struct cx_sshconf_env *e = &l->envs[i];
			if (e->pattern == NULL || e->proxy_command == NULL)
				continue;
			memset(&eo, 0, sizeof(eo));
			eo.proxy_path = self;
			/* the old defaults were vscode/vscode: keep them */
			eo.profile = e->profile ? e->profile : "vscode";
			eo.ssh_key = e->ssh_key ? e->ssh_key : "vscode";
			eo.ssh_dir = target;
			eo.aws_env = e->aws_env;
			eo.region = e->region;
			eo.identity_agent = e->identity_agent;
			eo.home = home;
			if ((r = cx_sshconf_set_env(m, e->name, &eo)) != 0)
				goto out;
		}
		if ((r = cx_sshconf_pin_host_keys(m, target, NULL)) != 0 ||
		    (r = cx_sshconf_save(m, cfg)) != 0)
			goto out;
		cx_drv_status(0, CX_DRV_OK, "Updated %s", cfg);
	}
	if ((r = drop_old_include(main_cfg, old_cfg, 0)) != 0 ||
	    (r = cx_sshconf_ensure_include(main_cfg, cfg, home, 0, &inc,
	    NULL)) != 0)
		goto out;
	cx_drv_status(0, CX_DRV_OK, "%s includes %s", main_cfg, cfg);
	cx_drv_say("Migration completed successfully!");
 out:
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	free(src);
	free(cfg);
	free(old_cfg);
	free(main_cfg);
	free(self);
	free(pfx);
	return r;
}

static const struct option migrate_opts[] = {
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "target-dir",	required_argument,	NULL, 't' },
	{ NULL, 0, NULL, 0 }
};

int
cx_drv_migrate_main(int argc, char **argv, const char *argv0)
{
	const char *prog = cx_drv_progname(argv0), *opt = NULL;
	char *home = NULL, *target = NULL;
	int c, dry = 0, r;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hnt:", migrate_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s migrate [--target-dir D] [--dry-run]"
			    "\n\nMoves ~/.ssh/vscode to D (default "
			    "~/.ssh/cloudX), keeping every host working.\n",
			    prog);
			return 0;
		case 'n': dry = 1; break;
		case 't': opt = optarg; break;
		default:
			return cx_drv_bad_option("migrate", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind < argc) {
		cx_error("migrate: unexpected argument '%s'", argv[optind]);
		return CX_EXIT_USAGE;
	}
	if ((r = cx_home_dir(&home)) == 0)
		r = opt ? cx_expand_user(opt, &target) :
		    cx_path_join(home, ".ssh/cloudX", &target);
	if (r == 0)
		r = cx_drv_migrate(home, target, dry);
	free(home);
	free(target);
	return cx_exit_code(r);
}
