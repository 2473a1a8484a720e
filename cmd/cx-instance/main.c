/*
 * cx-instance: report, start, or wait for an EC2 instance until its SSM
 * agent is online; adds "Instance" to the stage document on stdin.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/creds.h"
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
	{ "aws-env",	required_argument, NULL, 'e' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "poll-ms",	required_argument, NULL, 'P' },
	{ "profile",	required_argument, NULL, 'p' },
	{ "quiet",	no_argument,	   NULL, 'q' },
	{ "region",	required_argument, NULL, 'r' },
	{ "timeout",	required_argument, NULL, 't' },
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "version",	no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const char *const modes[] = { "status", "start", "wait", "ensure" };

static int
bad_usage(const char *what)
{
	cx_error("%s", what);
	fputs(usage_text, stderr);
	return CX_EXIT_USAGE;
}

/* Parses argv; returns -1 to go on, else the exit status. */
static int
parse(int argc, char **argv, struct cx_resolve_opts *ro,
    struct cx_instance_opts *o, const char **id)
{
	long long n;
	int c, v = 0, m;

	while ((c = getopt_long(argc, argv, "e:hP:p:qr:t:vV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'e': ro->aws_env = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'P':
			if (cx_strtonum(optarg, 1, 600000, &n) != 0)
				return bad_usage("--poll-ms must be 1 to "
				    "600000");
			o->poll_ms = (uint64_t)n;
			break;
		case 'p': ro->profile = optarg; break;
		case 'q': v = -1; break;
		case 'r': ro->region = optarg; break;
		case 't':
			if (cx_strtonum(optarg, 1, 86400, &n) != 0)
				return bad_usage("--timeout must be 1 to 86400 "
				    "seconds");
			o->timeout_ms = (uint64_t)n * 1000;
			break;
		case 'v': v = v < 0 ? 1 : v + 1; break;
		case 'V': printf("cx-instance %s\n", CX_VERSION); return 0;
		default: fputs(usage_text, stderr); return CX_EXIT_USAGE;
		}
	}
	cx_log_set_verbosity(v);
	if (optind >= argc || argc - optind > 2)
		return bad_usage("give a mode and at most one instance id");
	for (m = 0; m < 4 && strcmp(argv[optind], modes[m]) != 0; m++)
		;
	if (m == 4)
		return bad_usage("the mode must be status, start, wait or "
		    "ensure");
	o->mode = (enum cx_instance_mode)m;
	*id = argv[optind + 1];
	return -1;
}

int
main(int argc, char **argv)
{
	struct cx_resolve_opts ro = { NULL, NULL, NULL };
	struct cx_instance_opts o = { CX_INSTANCE_ENSURE, 0, 0, 0, NULL };
	struct cx_aws_ctx ctx;
	const char *id = NULL;
	cJSON *doc = NULL;
	int r, st;

	cx_os_init(argv[0]);
	cx_log_init("cx-instance");
	memset(&ctx, 0, sizeof(ctx));
	if ((st = parse(argc, argv, &ro, &o, &id)) != -1)
		return st;
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) != 0)
		goto out;
	if (id == NULL)
		id = cx_json_str(cJSON_GetObjectItemCaseSensitive(doc,
		    "Instance"), "InstanceId");
	if (id == NULL) {
		st = bad_usage("no instance id given or on stdin");
		goto out_st;
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
	st = cx_exit_code(r);
 out_st:
	cx_aws_ctx_clean_up(&ctx);
	cx_json_delete_secure(doc);
	return st;
}
