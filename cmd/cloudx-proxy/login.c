/*
 * cloudx-proxy login [--profile P] [--no-browser]: the IAM Identity
 * Center login without the AWS CLI (lib/aws/sso_login.h), writing the
 * token cache the AWS CLI v2 shares.  The profile is --profile, else the
 * one setup writes (cloudX, or vscode for an older setup).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awscfg.h"
#include "aws/creds.h"
#include "aws/sso_login.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "driver.h"

int
cx_drv_login_main(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "aws-env", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-browser", no_argument, NULL, 'B' },
		{ "profile", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = cx_drv_progname(argv0);
	struct cx_sso_login_opts lo;
	struct cx_resolve_opts ro;
	struct cx_aws_ctx ctx;
	char *home = NULL;
	int c, r, verbosity = 0;

	memset(&lo, 0, sizeof(lo));
	memset(&ro, 0, sizeof(ro));
	memset(&ctx, 0, sizeof(ctx));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":Be:hp:v", opts, NULL)) != -1) {
		switch (c) {
		case 'B': lo.no_browser = 1; break;
		case 'e': ro.aws_env = optarg; break;
		case 'h':
			printf("usage: %s login [--profile P] [--aws-env E] "
			    "[--no-browser] [-v]\n", prog);
			return 0;
		case 'p': ro.profile = optarg; break;
		case 'v': verbosity++; break;
		default:
			return cx_drv_bad_option("login", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind != argc) {
		cx_error("login: no arguments expected (see '%s login --help')",
		    prog);
		return CX_EXIT_USAGE;
	}
	cx_log_set_verbosity(verbosity);
	if ((r = cx_drv_signals_init()) != 0 || (r = cx_home_dir(&home)) != 0)
		goto out;
	if (ro.profile == NULL)
		ro.profile = cx_drv_default_name(home);
	if ((r = cx_aws_ctx_load(&ro, &ctx)) != 0)
		goto out;
	lo.profile = ctx.cfg->profile;
	r = cx_sso_login(&ctx, &lo);
 out:
	cx_aws_ctx_clean_up(&ctx);
	free(home);
	/* interrupted while waiting for the browser or the code: 128+n */
	if (r == CX_ERR_CANCELLED && cx_drv_signal_seen() != 0)
		return 128 + cx_drv_signal_seen();
	return cx_exit_code(r);
}
