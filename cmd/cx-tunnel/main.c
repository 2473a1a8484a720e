/*
 * cx-tunnel: opens an SSM session (AWS-StartSSHSession) to an instance and
 * relays stdin/stdout over the data channel, natively (cmd/cx-tunnel/relay_loop.h).  The
 * context (credentials, region, instance, maybe a started session) comes
 * from a descriptor or a file, never from argv or the environment.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "relay.h"

static const char usage_text[] =
"usage: cx-tunnel [-nPqVv] [-d deadline-ms] [-p pacing-ms] [-s stall-secs]\n"
"                 [-w window] (-f fd | -c file) [instance-id [port]]\n";

static const struct option longopts[] = {
	{ "context", required_argument, NULL, 'c' },
	{ "context-fd", required_argument, NULL, 'f' },
	{ "deadline-ms", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "no-sign", no_argument, NULL, 'n' },
	{ "pacing-ms", required_argument, NULL, 'p' },
	{ "plugin", no_argument, NULL, 'P' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stall-timeout", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

static int
num(const char *s, long long lo, long long hi, long long *v)
{
	if (cx_strtonum(s, lo, hi, v) == 0)
		return 0;
	cx_error("bad number '%s'", s);
	fputs(usage_text, stderr);
	exit(CX_EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	struct cx_tunnel_cmd c = { .context_fd = -1 };
	long long v;
	int ch, r, sig, verb = 0;

	cx_os_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "c:d:f:hnPp:qs:Vvw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': c.context_path = optarg; break;
		case 'd': num(optarg, 1, 3600000, &v); c.run.start_deadline_ms = (long)v; break;
		case 'f':
			if (cx_fd_from_arg(optarg, &c.context_fd) != 0) {
				cx_error("bad descriptor '%s'", optarg);
				return CX_EXIT_USAGE;
			}
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'n': c.no_sign = 1; break;
		case 'P': c.plugin = 1; break;
		case 'p': num(optarg, 0, 1000, &v); c.run.pacing_ms = (long)v; break;
		case 'q': verb = -1; break;
		case 's': num(optarg, 1, 3600, &v); c.run.stall_ms = (long)v * 1000; break;
		case 'V': puts("cx-tunnel " CX_VERSION); return 0;
		case 'v': verb++; break;
		case 'w': num(optarg, 16, 65536, &v); c.run.window = (size_t)v; break;
		default: fputs(usage_text, stderr); return CX_EXIT_USAGE;
		}
	}
	cx_log_set_verbosity(verb);
	argc -= optind;
	argv += optind;
	if (argc > 2) {
		cx_error("too many arguments");
		fputs(usage_text, stderr);
		return CX_EXIT_USAGE;
	}
	if (argc > 0 && **argv != '\0')
		c.instance_id = argv[0];
	if (argc > 1)
		c.port = (int)(num(argv[1], 1, 65535, &v), v);
	/* a signal that ended the run before the session was relayed (or
	 * a reconnect): 128 + its number; one that ended the relay cleanly
	 * leaves r at 0 */
	if ((r = cx_tunnel_cmd_run(&c)) != 0 && (sig = cx_sig_pending()) != 0) {
		cx_error("stopped by %s", cx_sig_name(sig));
		r = 128 + sig;
	} else {
		r = cx_exit_code(r);
	}
	/* a connect's record not written at the first byte: now */
	cx_connlog_finish(r, 0);
	return r;
}
