/*
 * cx-pushkey: push one SSH public key (a .pub file, or exactly one key of
 * an ssh-agent) to an instance for 60 s with EC2 Instance Connect; adds
 * "KeyPush" to the stage document on stdin.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ec2/pushkey.h"
#include "ssh/sshkey.h"

static const char usage_text[] =
    "usage: cx-pushkey [-nqv] [-e env] [-p profile] [-r region] "
    "[-u os-user]\n"
    "                  -k file | -a fingerprint|comment [-s socket] "
    "[instance-id]\n";

static const struct option longopts[] = {
	{ "agent-key",		required_argument, NULL, 'a' },
	{ "agent-socket",	required_argument, NULL, 's' },
	{ "aws-env",		required_argument, NULL, 'e' },
	{ "dry-run",		no_argument,	   NULL, 'n' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "os-user",		required_argument, NULL, 'u' },
	{ "profile",		required_argument, NULL, 'p' },
	{ "public-key",		required_argument, NULL, 'k' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "region",		required_argument, NULL, 'r' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

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
    struct cx_pushkey_opts *o)
{
	int c, v = 0;

	while ((c = getopt_long(argc, argv, "a:e:hk:np:qr:s:u:vV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'a': o->agent_key = optarg; break;
		case 'e': ro->aws_env = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'k': o->public_key = optarg; break;
		case 'n': o->dry_run = 1; break;
		case 'p': ro->profile = optarg; break;
		case 'q': v = -1; break;
		case 'r': ro->region = optarg; break;
		case 's': o->agent_socket = optarg; break;
		case 'u': o->os_user = optarg; break;
		case 'v': v = v < 0 ? 1 : v + 1; break;
		case 'V': printf("cx-pushkey %s\n", CX_VERSION); return 0;
		default: fputs(usage_text, stderr); return CX_EXIT_USAGE;
		}
	}
	cx_log_set_verbosity(v);
	if (argc - optind > 1)
		return bad_usage("give at most one instance id");
	o->instance_id = argv[optind];
	if ((o->public_key == NULL) == (o->agent_key == NULL))
		return bad_usage("give exactly one of --public-key and "
		    "--agent-key");
	if (!cx_pushkey_os_user_valid(o->os_user))
		return bad_usage("--os-user is not a user name EC2 Instance "
		    "Connect accepts");
	return -1;
}

int
main(int argc, char **argv)
{
	struct cx_resolve_opts ro = { NULL, NULL, NULL };
	struct cx_pushkey_opts o = { .os_user = CX_PUSHKEY_DEFAULT_OS_USER };
	struct cx_aws_ctx ctx;
	struct cx_sshkey k;
	const char *id, *az;
	cJSON *doc = NULL;
	time_t until = 0;
	int r, st;

	cx_os_init(argv[0]);
	cx_log_init("cx-pushkey");
	memset(&ctx, 0, sizeof(ctx));
	memset(&k, 0, sizeof(k));
	if ((st = parse(argc, argv, &ro, &o)) != -1)
		return st;
	/* the key and the target are checked before any AWS call */
	if ((r = cx_stage_read(STDIN_FILENO, &doc)) != 0 ||
	    (r = cx_pushkey_target(&o, doc, &id, &az)) != 0 ||
	    (r = cx_pushkey_load(&o, &k)) != 0)
		goto out;
	if (!o.dry_run) {
		if ((r = cx_aws_ctx_from_json(doc, &ro, &ctx)) != 0)
			goto out;
		until = time(NULL) + CX_PUSHKEY_VALID_S;
		if ((r = cx_pushkey_send(&ctx, id, o.os_user, az, &k)) != 0 ||
		    (r = cx_aws_ctx_to_json(&ctx, doc)) != 0)
			goto out;
	}
	if ((r = cx_pushkey_to_json(doc, id, o.os_user, &k,
	    o.public_key ? "file" : "agent", until)) != 0)
		goto out;
	r = cx_stage_write(doc);
 out:
	cx_sshkey_clean_up(&k);
	cx_aws_ctx_clean_up(&ctx);
	cx_json_delete_secure(doc);
	return cx_exit_code(r);
}
