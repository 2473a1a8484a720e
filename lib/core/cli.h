/*
 * The command line the stage programs share (cx-creds, cx-instance,
 * cx-pushkey, cx-session): one getopt_long loop for the common options
 * (-h/--help, -v/--verbose, -V/--version; with CX_CLI_AWS -p/--profile,
 * -r/--region, -e/--aws-env; with CX_CLI_QUIET -q/--quiet), which hands
 * each of the program's own options to its callback.  Implemented in
 * cli.c.
 */
#ifndef CX_CLI_H
#define CX_CLI_H

#include <getopt.h>

#define CX_CLI_AWS	0x1	/* --profile, --region, --aws-env */
#define CX_CLI_QUIET	0x2	/* --quiet: verbosity -1 */
/* getopt says nothing; a usage error is the usage line alone, on stderr
 * as one log line ("cx-creds: usage: ...") */
#define CX_CLI_TERSE	0x4

/* cx_cli_parse's answer after --help or --version: exit 0. */
#define CX_CLI_DONE	1

struct cx_cli {
	/* set by the program; all but own/arg/longopts required */
	const char *prog;		/* for --version: "cx-instance" */
	const char *usage;		/* the usage text, ending in '\n' */
	unsigned flags;			/* CX_CLI_* */
	const char *shortopts;		/* its own, getopt syntax ("P:t:") */
	const struct option *longopts;	/* its own, { NULL } ended, or NULL */
	/* its own option opt with value optarg (NULL for a flag): returns 0,
	 * or cx_cli_usage_error()'s CX_ERR_USAGE */
	int (*own)(struct cx_cli *c, int opt, const char *optarg);
	void *arg;			/* for own */
	/* set by cx_cli_parse: the common options' values (borrowed from
	 * argv), NULL when not given; the verbosity (-1 to 2+) */
	const char *profile;
	const char *region;
	const char *aws_env;
	int verbosity;
};

/*
 * Parses argv's options; optind is then the first operand.  Sets the log
 * verbosity (cx_log_set_verbosity: -q -1, each -v one more, -v after -q
 * 1).  Returns 0 to go on; CX_CLI_DONE after printing --help or --version
 * on stdout; CX_ERR_USAGE when an option is bad (said on stderr, with the
 * usage).
 */
int cx_cli_parse(struct cx_cli *c, int argc, char **argv);

/* Says what (unless NULL) and the usage on stderr; returns CX_ERR_USAGE. */
int cx_cli_usage_error(const struct cx_cli *c, const char *what);

/* The exit status for what cx_cli_parse returned (not 0). */
int cx_cli_exit(int r);

#endif
