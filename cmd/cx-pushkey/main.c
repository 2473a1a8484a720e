/*
 * cx-pushkey: push one SSH public key (a .pub file, or exactly one key of
 * an ssh-agent) to an instance for 60 s with EC2 Instance Connect; adds
 * "KeyPush" to the stage document on stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "core/cli.h"
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
	{ "dry-run",		no_argument,	   NULL, 'n' },
	{ "os-user",		required_argument, NULL, 'u' },
	{ "public-key",		required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 }
};

/* Its own options into the struct cx_pushkey_opts at c->arg. */
static int
own_opt(struct cx_cli *c, int opt, const char *arg)
{
	struct cx_pushkey_opts *o = c->arg;

	switch (opt) {
	case 'a': o->agent_key = arg; break;
	case 'k': o->public_key = arg; break;
	case 'n': o->dry_run = 1; break;
	case 's': o->agent_socket = arg; break;
	default: o->os_user = arg; break;	/* 'u' */
	}
	return 0;
}

/* Parses argv into c and o; returns 0 to go on, else for cx_cli_exit(). */
static int
parse(int argc, char **argv, struct cx_cli *c, struct cx_pushkey_opts *o)
{
	int r;

	if ((r = cx_cli_parse(c, argc, argv)) != 0)
		return r;
	if (argc - optind > 1)
		return cx_cli_usage_error(c, "give at most one instance id");
	o->instance_id = argv[optind];
	if ((o->public_key == NULL) == (o->agent_key == NULL))
		return cx_cli_usage_error(c, "give exactly one of --public-key "
		    "and --agent-key");
	if (!cx_pushkey_os_user_valid(o->os_user))
		return cx_cli_usage_error(c, "--os-user is not a user name EC2 "
		    "Instance Connect accepts");
	return 0;
}

int
main(int argc, char **argv)
{
	struct cx_pushkey_opts o = { .os_user = CX_PUSHKEY_DEFAULT_OS_USER };
	struct cx_cli cli = { .prog = "cx-pushkey",
	    .usage = usage_text, .flags = CX_CLI_AWS | CX_CLI_QUIET,
	    .shortopts = "a:k:ns:u:", .longopts = longopts, .own = own_opt,
	    .arg = &o };
	struct cx_resolve_opts ro;
	struct cx_aws_ctx ctx;
	struct cx_sshkey k;
	const char *id, *az;
	cJSON *doc = NULL;
	time_t until = 0;
	int r;

	cx_os_init(argv[0]);
	cx_log_init("cx-pushkey");
	memset(&ctx, 0, sizeof(ctx));
	memset(&k, 0, sizeof(k));
	if ((r = parse(argc, argv, &cli, &o)) != 0)
		return cx_cli_exit(r);
	ro = (struct cx_resolve_opts){ cli.profile, cli.aws_env, cli.region };
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
