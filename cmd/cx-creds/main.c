/*
 * cx-creds: resolves AWS credentials and region the way the AWS CLI v2
 * does and prints them as one JSON object (the credential_process keys,
 * Region, Profile, AwsEnv, and Identity with --identity), passing through
 * the keys of the JSON object it reads on stdin.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aws/awscfg.h"
#include "aws/creds.h"
#include "aws/sso_login.h"
#include "core/cli.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"

static const char usage_text[] = "usage: cx-creds [-iv] [-e aws-env] "
    "[-f process|env] [-p profile] [-r region]\n"
    "       cx-creds -L [-Bv] [-e aws-env] [-p profile] [-r region]\n";

static const struct option longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "identity", no_argument, NULL, 'i' },
	{ "login", no_argument, NULL, 'L' },
	{ "no-browser", no_argument, NULL, 'B' },
	{ "print-endpoint", required_argument, NULL, 'E' },
	{ NULL, 0, NULL, 0 }
};

struct args {
	const char *format, *endpoint;
	int identity, login, no_browser;
};

/* --format, --identity, --login, --no-browser, --print-endpoint into
 * the struct args at c->arg. */
static int
own_opt(struct cx_cli *c, int opt, const char *arg)
{
	struct args *a = c->arg;

	if (opt == 'E')
		a->endpoint = arg;
	else if (opt == 'f')
		a->format = arg;
	else if (opt == 'L')
		a->login = 1;
	else if (opt == 'B')
		a->no_browser = 1;
	else
		a->identity = 1;
	return 0;
}

/*
 * --login: logs the profile in through SSO OIDC (lib/aws/sso_login.h)
 * before the stage resolves its credentials as usual.
 */
static int
login(const struct cx_resolve_opts *o, const struct args *a)
{
	struct cx_sso_login_opts lo;
	struct cx_aws_ctx ctx;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	if (!a->login) {
		cx_error("--no-browser goes with --login");
		return CX_ERR_USAGE;
	}
	if ((r = cx_aws_ctx_load(o, &ctx)) != 0)
		return r;
	memset(&lo, 0, sizeof(lo));
	lo.profile = ctx.cfg->profile;
	lo.no_browser = a->no_browser;
	r = cx_sso_login(&ctx, &lo);
	cx_aws_ctx_clean_up(&ctx);
	return r;
}

int
main(int argc, char *argv[])
{
	struct args a = { "process", NULL, 0, 0, 0 };
	struct cx_cli cli = { .prog = "cx-creds", .usage = usage_text,
	    .flags = CX_CLI_AWS | CX_CLI_TERSE, .shortopts = "BE:f:iL",
	    .longopts = longopts, .own = own_opt, .arg = &a };
	struct cx_resolve_opts o;
	struct cx_aws_ctx ctx;
	cJSON *doc = NULL;
	int r;

	cx_os_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = cx_cli_parse(&cli, argc, argv)) != 0)
		return cx_cli_exit(r);
	if (optind != argc || (strcmp(a.format, "process") != 0 &&
	    strcmp(a.format, "env") != 0))
		return cx_cli_exit(cx_cli_usage_error(&cli, NULL));
	o = (struct cx_resolve_opts){ cli.profile, cli.aws_env, cli.region };
	if (a.endpoint != NULL)
		return cx_exit_code(cx_creds_print_endpoint(&o, a.endpoint));
	if ((a.login || a.no_browser) && (r = login(&o, &a)) != 0)
		return cx_exit_code(r);
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) == 0 &&
	    (r = cx_creds_stage(doc, &o, a.identity, &ctx)) == 0) {
		if (strcmp(a.format, "env") == 0)
			r = cx_creds_print_env(&ctx);
		else
			r = cx_stage_write(doc);
	}
	cx_json_delete_secure(doc);
	cx_aws_ctx_clean_up(&ctx);
	return cx_exit_code(r);
}
