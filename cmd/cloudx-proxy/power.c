/*
 * cloudx-proxy wake HOST and stop HOST: start an instance of the generated
 * SSH config and wait until its SSM agent is online (so a connect's time,
 * VS Code's connect timeout, is never spent on the start), or stop it.
 * HOST is looked up as doctor does: the full Host name or the short name;
 * the instance, profile, AWS env and region are that host's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ec2/instance.h"
#include "ec2/instance_aws.h"
#include "ssh/sshconf.h"
#include "driver.h"
#include "setup.h"

struct target {
	char *instance;
	char *profile, *aws_env, *region;	/* NULL when not set */
};

static void
target_clean_up(struct target *t)
{
	free(t->instance);
	free(t->profile);
	free(t->aws_env);
	free(t->region);
	memset(t, 0, sizeof(*t));
}

static int
dup_or_null(const char *s, char **out)
{
	*out = NULL;
	if (s != NULL && (*out = strdup(s)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

/* HOST of the generated config (ssh_config: --ssh-config or the usual). */
static int
find_host(const char *argv0, const char *host, const char *ssh_config,
    struct target *t)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	const struct cx_sshconf_env *e = NULL;
	const struct cx_sshconf_host *h = NULL;
	char *home = NULL, *cfg = NULL, *pfx = NULL;
	size_t i, k;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = cx_home_dir(&home)) != 0 ||
	    (r = cx_drv_find_config(home, ssh_config, &cfg)) != 0)
		goto out;
	if (!cx_file_exists(cfg)) {
		cx_error("no SSH config '%s': run setup first", cfg);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if ((r = cx_drv_load_any(cfg, cx_drv_prefix(argv0), 0, &m, &pfx))
	    != 0 || (r = cx_sshconf_list(m, NULL, &l)) != 0)
		goto out;
	for (i = 0; i < l->nenvs && h == NULL; i++)
		for (k = 0; k < l->envs[i].nhosts && h == NULL; k++)
			if (strcmp(host, l->envs[i].hosts[k].host) == 0 ||
			    strcmp(host, l->envs[i].hosts[k].name) == 0) {
				h = &l->envs[i].hosts[k];
				e = &l->envs[i];
			}
	if (h == NULL) {
		cx_error("'%s' is not a host of %s (see '%s list')", host, cfg,
		    cx_drv_progname(argv0));
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if (h->hostname == NULL || !cx_instance_id_valid(h->hostname)) {
		cx_drv_bad_instance_id(h->hostname ? h->hostname : "");
		r = CX_ERR_CONFIG;
		goto out;
	}
	if ((r = dup_or_null(h->hostname, &t->instance)) != 0 ||
	    (r = dup_or_null(e->profile ? e->profile :
	    cx_drv_default_name(home), &t->profile)) != 0 ||
	    (r = dup_or_null(e->aws_env, &t->aws_env)) != 0 ||
	    (r = dup_or_null(e->region, &t->region)) != 0)
		goto out;
 out:
	if (r != 0)
		target_clean_up(t);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	free(home);
	free(cfg);
	free(pfx);
	return r;
}

static int
power_usage(FILE *f, const char *prog, const char *sub)
{
	fprintf(f, "usage: %s %s [--ssh-config F]%s [-v] HOST\n", prog, sub,
	    strcmp(sub, "wake") == 0 ? " [--timeout S]" : "");
	return f == stdout ? 0 : CX_EXIT_USAGE;
}

/* wake (start 1) or stop (start 0) */
static int
power_main(int argc, char **argv, const char *argv0, int start)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "ssh-config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = cx_drv_progname(argv0), *sub = argv[0];
	const char *cfgopt = NULL;
	struct cx_instance_opts io;
	struct cx_instance_ops ops;
	struct cx_instance_aws ia;
	struct cx_instance inst;
	struct cx_resolve_opts ro;
	struct cx_aws_ctx ctx;
	struct target t;
	char *prev = NULL, *now = NULL;
	long long n;
	int c, r, verbosity = 0, have_ia = 0;

	memset(&io, 0, sizeof(io));
	memset(&ctx, 0, sizeof(ctx));
	memset(&inst, 0, sizeof(inst));
	memset(&t, 0, sizeof(t));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, start ? ":c:ht:v" : ":c:hv", opts,
	    NULL)) != -1) {
		switch (c) {
		case 'c': cfgopt = optarg; break;
		case 'h': return power_usage(stdout, prog, sub);
		case 't':
			if (cx_strtonum(optarg, 1, 86400, &n) != 0) {
				cx_error("%s: --timeout must be 1 to 86400 "
				    "seconds", sub);
				return CX_EXIT_USAGE;
			}
			io.timeout_ms = (uint64_t)n * 1000;
			break;
		case 'v': verbosity++; break;
		default:
			return cx_drv_bad_option(sub, c, argv[optind - 1],
			    prog);
		}
	}
	if (optind + 1 != argc) {
		cx_error("%s: give one HOST", sub);
		return power_usage(stderr, prog, sub);
	}
	cx_log_set_verbosity(verbosity);
	/* no signal is caught: ^C ends a wake at once (nothing to undo) */
	if ((r = find_host(argv0, argv[optind], cfgopt, &t)) != 0)
		goto out;
	ro = (struct cx_resolve_opts){ t.profile, t.aws_env, t.region };
	if ((r = cx_aws_ctx_resolve(&ro, &ctx)) != 0 ||
	    (r = cx_instance_aws_init(&ia, &ctx, &ops)) != 0)
		goto out;
	have_ia = 1;
	if (start) {
		io.mode = CX_INSTANCE_ENSURE;
		io.region = ctx.region;
		if ((r = cx_instance_run(&io, &ops, t.instance, &inst)) != 0)
			goto out;
		cx_info("%s (%s) is running and its SSM agent is online%s",
		    argv[optind], t.instance, inst.started ? "" :
		    " (it was already)");
		goto out;
	}
	/* stop: look first, so that "already stopped" is said as such */
	if ((inst.instance_id = strdup(t.instance)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = ops.describe(ops.arg, &inst)) != 0)
		goto out;
	if (strcmp(inst.state, "stopped") == 0 ||
	    strcmp(inst.state, "stopping") == 0) {
		cx_info("%s (%s) is already %s", argv[optind], t.instance,
		    inst.state);
		goto out;
	}
	if (strcmp(inst.state, "terminated") == 0 ||
	    strcmp(inst.state, "shutting-down") == 0) {
		cx_error("instance '%s' is %s", t.instance, inst.state);
		r = CX_ERR_STATE;
		goto out;
	}
	if ((r = cx_instance_aws_stop(&ia, t.instance, &prev, &now)) != 0)
		goto out;
	cx_info("stopping %s (%s): %s -> %s", argv[optind], t.instance,
	    prev ? prev : inst.state, now ? now : "stopping");
 out:
	if (have_ia)
		cx_instance_aws_clean_up(&ia);
	cx_instance_clean_up(&inst);
	cx_aws_ctx_clean_up(&ctx);
	target_clean_up(&t);
	free(prev);
	free(now);
	return cx_exit_code(r);
}

int
cx_drv_wake_main(int argc, char **argv, const char *argv0)
{
	return power_main(argc, argv, argv0, 1);
}

int
cx_drv_stop_main(int argc, char **argv, const char *argv0)
{
	return power_main(argc, argv, argv0, 0);
}
