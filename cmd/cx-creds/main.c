/*
 * cx-creds: resolves AWS credentials and region the way the AWS CLI v2
 * does and prints them as one JSON object (the credential_process keys,
 * Region, Profile, AwsEnv, and Identity with --identity), passing through
 * the keys of the JSON object it reads on stdin.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aws/creds.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"

#define USAGE "usage: cx-creds [-iv] [-e aws-env] [-f process|env] " \
	"[-p profile] [-r region]"

static const struct option longopts[] = {
	{ "aws-env", required_argument, NULL, 'e' },
	{ "format", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "identity", no_argument, NULL, 'i' },
	{ "print-endpoint", required_argument, NULL, 'E' },
	{ "profile", required_argument, NULL, 'p' },
	{ "region", required_argument, NULL, 'r' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	struct cx_resolve_opts o = { NULL, NULL, NULL };
	struct cx_aws_ctx ctx;
	const char *format = "process", *endpoint = NULL;
	cJSON *doc = NULL;
	int c, r, identity = 0, verbose = 0;

	cx_os_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "E:e:f:hip:r:vV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'E': endpoint = optarg; break;
		case 'e': o.aws_env = optarg; break;
		case 'f': format = optarg; break;
		case 'h': printf("%s\n", USAGE); return CX_EXIT_OK;
		case 'i': identity = 1; break;
		case 'p': o.profile = optarg; break;
		case 'r': o.region = optarg; break;
		case 'v': cx_log_set_verbosity(++verbose); break;
		case 'V': printf("cx-creds %s\n", CX_VERSION); return 0;
		default: cx_error("%s", USAGE); return CX_EXIT_USAGE;
		}
	}
	if (optind != argc || (strcmp(format, "process") != 0 &&
	    strcmp(format, "env") != 0)) {
		cx_error("%s", USAGE);
		return CX_EXIT_USAGE;
	}
	if (endpoint != NULL)
		return cx_exit_code(cx_creds_print_endpoint(&o, endpoint));
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) == 0 &&
	    (r = cx_creds_stage(doc, &o, identity, &ctx)) == 0) {
		if (strcmp(format, "env") == 0)
			r = cx_creds_print_env(&ctx);
		else
			r = cx_stage_write(doc);
	}
	cx_json_delete_secure(doc);
	cx_aws_ctx_clean_up(&ctx);
	return cx_exit_code(r);
}
