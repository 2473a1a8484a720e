/* Unit tests of the stage programs' shared command line (core/cli.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/cxerr.h"
#include "core/log.h"

static const struct option own_longopts[] = {
	{ "timeout", required_argument, NULL, 't' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 }
};

struct seen {
	const char *timeout;
	int dry_run;
};

static int
own(struct cx_cli *c, int opt, const char *arg)
{
	struct seen *s = c->arg;

	if (opt == 'n') {
		s->dry_run = 1;
		return 0;
	}
	if (strcmp(arg, "bad") == 0)
		return cx_cli_usage_error(c, "--timeout is bad");
	s->timeout = arg;
	return 0;
}

static int
parse(unsigned flags, struct seen *s, struct cx_cli *c, char **argv)
{
	int argc = 0;

	memset(s, 0, sizeof(*s));
	*c = (struct cx_cli){ .prog = "cx-test", .usage = "usage: x\n",
	    .flags = flags, .shortopts = "nt:", .longopts = own_longopts,
	    .own = own, .arg = s };
	while (argv[argc] != NULL)
		argc++;
	optind = 0;	/* glibc: start afresh */
	return cx_cli_parse(c, argc, argv);
}

static void
test_common_and_own(void **state)
{
	char *argv[] = { "x", "--profile", "p1", "-r", "eu-west-3",
	    "--aws-env", "dev", "-n", "--timeout", "5", "-vv", "op", NULL };
	struct cx_cli c;
	struct seen s;

	(void)state;
	assert_int_equal(parse(CX_CLI_AWS, &s, &c, argv), 0);
	assert_string_equal(c.profile, "p1");
	assert_string_equal(c.region, "eu-west-3");
	assert_string_equal(c.aws_env, "dev");
	assert_int_equal(s.dry_run, 1);
	assert_string_equal(s.timeout, "5");
	assert_int_equal(c.verbosity, 2);
	assert_int_equal(cx_log_verbosity(), 2);
	assert_int_equal(optind, 11);
	assert_string_equal(argv[optind], "op");
}

static void
test_quiet_then_verbose(void **state)
{
	char *q[] = { "x", "-q", NULL }, *qv[] = { "x", "-q", "-v", NULL };
	struct cx_cli c;
	struct seen s;

	(void)state;
	assert_int_equal(parse(CX_CLI_QUIET, &s, &c, q), 0);
	assert_int_equal(c.verbosity, -1);
	assert_int_equal(parse(CX_CLI_QUIET, &s, &c, qv), 0);
	assert_int_equal(c.verbosity, 1);
	cx_log_set_verbosity(0);
}

static void
test_refused(void **state)
{
	char *noaws[] = { "x", "--profile", "p", NULL };
	char *noquiet[] = { "x", "-q", NULL };
	char *own_bad[] = { "x", "-t", "bad", NULL };
	char *missing[] = { "x", "--timeout", NULL };
	struct cx_cli c;
	struct seen s;

	(void)state;
	opterr = 0;
	assert_int_equal(parse(CX_CLI_TERSE, &s, &c, noaws), CX_ERR_USAGE);
	assert_int_equal(parse(CX_CLI_TERSE | CX_CLI_AWS, &s, &c, noquiet),
	    CX_ERR_USAGE);
	assert_int_equal(parse(CX_CLI_TERSE, &s, &c, own_bad), CX_ERR_USAGE);
	assert_null(s.timeout);
	assert_int_equal(parse(CX_CLI_TERSE, &s, &c, missing), CX_ERR_USAGE);
	assert_int_equal(cx_cli_exit(CX_ERR_USAGE), CX_EXIT_USAGE);
}

static void
test_help_and_version(void **state)
{
	char *h[] = { "x", "--help", "-t", "bad", NULL };
	char *v[] = { "x", "-V", NULL };
	struct cx_cli c;
	struct seen s;

	(void)state;
	assert_int_equal(parse(0, &s, &c, h), CX_CLI_DONE);
	assert_int_equal(parse(0, &s, &c, v), CX_CLI_DONE);
	assert_int_equal(cx_cli_exit(CX_CLI_DONE), CX_EXIT_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_common_and_own),
		cmocka_unit_test(test_quiet_then_verbose),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_help_and_version),
	};

	cx_log_init("test_cli");
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
