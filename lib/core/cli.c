/*
 * The stage programs' shared command line (cli.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cxerr.h"
#include "log.h"

#define MAX_LONGOPTS	32

static const struct option common_opts[] = {
	{ "help",	no_argument,	   NULL, 'h' },
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "version",	no_argument,	   NULL, 'V' },
};
static const struct option aws_opts[] = {
	{ "aws-env",	required_argument, NULL, 'e' },
	{ "profile",	required_argument, NULL, 'p' },
	{ "region",	required_argument, NULL, 'r' },
};
static const struct option quiet_opt = { "quiet", no_argument, NULL, 'q' };

static void
add_opts(struct option *all, size_t *n, const struct option *o, size_t k)
{
	for (; k > 0 && o->name != NULL && *n < MAX_LONGOPTS; k--, o++)
		all[(*n)++] = *o;
}

int
cx_cli_usage_error(const struct cx_cli *c, const char *what)
{
	size_t n = strlen(c->usage);

	if (what != NULL)
		cx_error("%s", what);
	if (c->flags & CX_CLI_TERSE)
		cx_error("%.*s", (int)(n > 0 && c->usage[n - 1] == '\n' ?
		    n - 1 : n), c->usage);
	else
		fputs(c->usage, stderr);
	return CX_ERR_USAGE;
}

int
cx_cli_exit(int r)
{
	return r == CX_CLI_DONE ? CX_EXIT_OK : cx_exit_code(r);
}

int
cx_cli_parse(struct cx_cli *c, int argc, char **argv)
{
	struct option all[MAX_LONGOPTS + 1];
	char shortopts[64];
	size_t n = 0;
	int opt, r;

	snprintf(shortopts, sizeof(shortopts), "%shvV%s%s", c->shortopts,
	    c->flags & CX_CLI_AWS ? "e:p:r:" : "",
	    c->flags & CX_CLI_QUIET ? "q" : "");
	add_opts(all, &n, c->longopts, MAX_LONGOPTS);
	add_opts(all, &n, common_opts, 3);
	if (c->flags & CX_CLI_AWS)
		add_opts(all, &n, aws_opts, 3);
	if (c->flags & CX_CLI_QUIET)
		add_opts(all, &n, &quiet_opt, 1);
	memset(&all[n], 0, sizeof(all[n]));
	c->profile = c->region = c->aws_env = NULL;
	c->verbosity = 0;
	if (c->flags & CX_CLI_TERSE)
		opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, all, NULL)) != -1) {
		switch (opt) {
		case 'e': c->aws_env = optarg; break;
		case 'h': fputs(c->usage, stdout); return CX_CLI_DONE;
		case 'p': c->profile = optarg; break;
		case 'q': c->verbosity = -1; break;
		case 'r': c->region = optarg; break;
		case 'v':
			c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
			break;
		case 'V': printf("%s %s\n", c->prog, CX_VERSION);
			return CX_CLI_DONE;
		case '?':
		case ':':
			/* getopt said which, unless CX_CLI_TERSE */
			return cx_cli_usage_error(c, NULL);
		default:
			if (c->own == NULL)
				return cx_cli_usage_error(c, NULL);
			if ((r = c->own(c, opt, optarg)) != 0)
				return r;
		}
	}
	cx_log_set_verbosity(c->verbosity);
	return 0;
}
