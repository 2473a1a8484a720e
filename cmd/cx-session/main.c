/*
 * cx-session: the SSM API calls of a session, as a stage.  Reads the
 * context (cx-creds' output, maybe with .Instance) on stdin; `start` calls
 * StartSession (AWS-StartSSHSession, the port) and waits out
 * TargetNotConnected, `resume` calls ResumeSession for .Session.SessionId;
 * prints the context with .Session {SessionId, TokenValue, StreamUrl}.
 * cx-tunnel runs it for these calls (cmd/cx-tunnel/relay.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ssm/tunnel_aws.h"

static const char usage_text[] =
"usage: cx-session [-qVv] [-d deadline-ms] start|resume [instance-id [port]]\n";

static const struct option longopts[] = {
	{ "deadline-ms", required_argument, NULL, 'd' },
	{ NULL, 0, NULL, 0 }
};

/* --deadline-ms into the struct cx_session_cmd at c->arg. */
static int
own_opt(struct cx_cli *c, int opt, const char *arg)
{
	struct cx_session_cmd *sc = c->arg;
	long long v;

	(void)opt;
	if (cx_strtonum(arg, 1, 3600000, &v) != 0)
		return cx_cli_usage_error(c, "bad deadline");
	sc->deadline_ms = (long)v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct cx_session_cmd sc = { 0 };
	struct cx_cli c = { .prog = "cx-session", .usage = usage_text,
	    .flags = CX_CLI_QUIET, .shortopts = "d:", .longopts = longopts,
	    .own = own_opt, .arg = &sc };
	long long v;
	int r;

	cx_os_init(argv[0]);
	if ((r = cx_cli_parse(&c, argc, argv)) != 0)
		return cx_cli_exit(r);
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 3)
		r = cx_cli_usage_error(&c, argc < 1 ? "start or resume?" :
		    "too many arguments");
	else if (strcmp(argv[0], "start") != 0 &&
	    strcmp(argv[0], "resume") != 0)
		r = cx_cli_usage_error(&c, "the command is start or resume");
	else if (argc > 2 && cx_strtonum(argv[2], 1, 65535, &v) != 0)
		r = cx_cli_usage_error(&c, "bad port");
	if (r != 0)
		return cx_cli_exit(r);
	sc.resume = strcmp(argv[0], "resume") == 0;
	if (argc > 1 && *argv[1] != '\0')
		sc.instance_id = argv[1];
	if (argc > 2)
		sc.port = (int)v;
	return cx_exit_code(cx_session_cmd_run(&sc));
}
