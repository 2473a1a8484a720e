/*
 * cx-session: the SSM API calls of a session, as a stage.  Reads the
 * context (cx-creds' output, maybe with .Instance) on stdin; `start` calls
 * StartSession (AWS-StartSSHSession, the port) and waits out
 * TargetNotConnected, `resume` calls ResumeSession for .Session.SessionId;
 * prints the context with .Session {SessionId, TokenValue, StreamUrl}.
 * cx-tunnel runs it for these calls (cmd/cx-tunnel/relay.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ssm/tunnel_aws.h"

static const char usage_text[] =
"usage: cx-session [-qVv] [-d deadline-ms] start|resume [instance-id [port]]\n";

static const struct option longopts[] = {
	{ "deadline-ms", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static int
usage(const char *why)
{
	if (why != NULL)
		cx_error("%s", why);
	fputs(usage_text, stderr);
	return CX_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct cx_session_cmd c = { 0 };
	long long v;
	int ch, verb = 0;

	cx_os_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "d:hqVv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (cx_strtonum(optarg, 1, 3600000, &v) != 0)
				return usage("bad deadline");
			c.deadline_ms = (long)v;
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'q': verb = -1; break;
		case 'V': puts("cx-session " CX_VERSION); return 0;
		case 'v': verb++; break;
		default: return usage(NULL);
		}
	}
	cx_log_set_verbosity(verb);
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 3)
		return usage(argc < 1 ? "start or resume?" : "too many arguments");
	if (strcmp(argv[0], "start") == 0)
		c.resume = 0;
	else if (strcmp(argv[0], "resume") == 0)
		c.resume = 1;
	else
		return usage("the command is start or resume");
	if (argc > 1 && *argv[1] != '\0')
		c.instance_id = argv[1];
	if (argc > 2) {
		if (cx_strtonum(argv[2], 1, 65535, &v) != 0)
			return usage("bad port");
		c.port = (int)v;
	}
	return cx_exit_code(cx_session_cmd_run(&c));
}
