/*
 * cx-instance: report, start, or wait for an EC2 instance until its SSM
 * agent is online; adds "Instance" to the stage document on stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/creds.h"
#include "core/cli.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ec2/instance.h"
#include "ec2/instance_aws.h"

static const char usage_text[] =
    "usage: cx-instance [-qv] [-e env] [-P ms] [-p profile] [-r region] "
    "[-t seconds]\n"
    "                   status|start|wait|ensure [instance-id]\n";

static const struct option longopts[] = {
	{ "poll-ms",	required_argument, NULL, 'P' },
	{ "timeout",	required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 }
};

static const char *const modes[] = { "status", "start", "wait", "ensure" };

/* --poll-ms and --timeout into the struct cx_instance_opts at c->arg. */
static int
own_opt(struct cx_cli *c, int opt, const char *arg)
{
	struct cx_instance_opts *o = c->arg;
	long long n;

	if (opt == 'P') {
		if (cx_strtonum(arg, 1, 600000, &n) != 0)
			return cx_cli_usage_error(c, "--poll-ms must be 1 to "
			    "600000");
		o->poll_ms = (uint64_t)n;
	} else {
		if (cx_strtonum(arg, 1, 86400, &n) != 0)
			return cx_cli_usage_error(c, "--timeout must be 1 to "
			    "86400 seconds");
		o->timeout_ms = (uint64_t)n * 1000;
	}
	return 0;
}

/* Parses argv into c, o and *id; returns 0 to go on, else for
 * cx_cli_exit(). */
static int
parse(int argc, char **argv, struct cx_cli *c, struct cx_instance_opts *o,
    const char **id)
{
	int m, r;

	if ((r = cx_cli_parse(c, argc, argv)) != 0)
		return r;
	if (optind >= argc || argc - optind > 2)
		return cx_cli_usage_error(c, "give a mode and at most one "
		    "instance id");
	for (m = 0; m < 4 && strcmp(argv[optind], modes[m]) != 0; m++)
		;
	if (m == 4)
		return cx_cli_usage_error(c, "the mode must be status, start, "
		    "wait or ensure");
	o->mode = (enum cx_instance_mode)m;
	*id = argv[optind + 1];
	return 0;
}

int
main(int argc, char **argv)
{
	struct cx_instance_opts o = { CX_INSTANCE_ENSURE, 0, 0, 0, NULL };
	struct cx_cli cli = { .prog = "cx-instance",
	    .usage = usage_text, .flags = CX_CLI_AWS | CX_CLI_QUIET,
	    .shortopts = "P:t:", .longopts = longopts, .own = own_opt,
	    .arg = &o };
	struct cx_resolve_opts ro;
	struct cx_aws_ctx ctx;
	const char *id = NULL;
	cJSON *doc = NULL;
	int r;

	cx_os_init(argv[0]);
	cx_log_init("cx-instance");
	memset(&ctx, 0, sizeof(ctx));
	if ((r = parse(argc, argv, &cli, &o, &id)) != 0)
		return cx_cli_exit(r);
	ro = (struct cx_resolve_opts){ cli.profile, cli.aws_env, cli.region };
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) != 0)
		goto out;
	if (id == NULL)
		id = cx_json_str(cJSON_GetObjectItemCaseSensitive(doc,
		    "Instance"), "InstanceId");
	if (id == NULL) {
		r = cx_cli_usage_error(&cli, "no instance id given or on stdin");
		goto out;
	}
	if (!cx_instance_id_valid(id)) {
		cx_error("invalid EC2 instance id '%s': it must be 'i-' and 8 "
		    "or 17 hexadecimal digits (i-1234567890abcdef0)", id);
		r = CX_ERR_USAGE;
		goto out;
	}
	if ((r = cx_aws_ctx_from_json(doc, &ro, &ctx)) != 0 ||
	    (r = cx_instance_stage(&ctx, &o, id, doc)) != 0 ||
	    (r = cx_aws_ctx_to_json(&ctx, doc)) != 0)
		goto out;
	r = cx_stage_write(doc);
 out:
	cx_aws_ctx_clean_up(&ctx);
	cx_json_delete_secure(doc);
	return cx_exit_code(r);
}
