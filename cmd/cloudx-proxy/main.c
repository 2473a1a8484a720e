/*
 * cloudx-proxy: the driver.  Dispatches to a subcommand (connect, cp,
 * setup, list, doctor, cleanup, migrate, log, login, wake, stop); each lives in a file of
 * this folder and returns the exit status.  Invoked as cloudX-proxy,
 * generated host names use the cloudX prefix.
 */
#include <stdio.h>
#include <string.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "driver.h"

static const struct {
	const char *name;
	int (*fn)(int, char **, const char *);
	const char *help;
} cmds[] = {
	{ "cleanup", cx_drv_cleanup_main, "normalise and reorganise the SSH config" },
	{ "connect", cx_drv_connect_main, "the ProxyCommand: start, push key, tunnel" },
	{ "cp", cx_drv_cp_main, "copy files over N parallel SSM sessions" },
	{ "doctor", cx_drv_doctor_main, "check every prerequisite, say how to fix it" },
	{ "list", cx_drv_list_main, "show the configured hosts" },
	{ "log", cx_drv_log_main, "the last connects: steps, durations, errors" },
	{ "login", cx_drv_login_main, "log in to IAM Identity Center (SSO)" },
	{ "migrate", cx_drv_migrate_main, "move ~/.ssh/vscode to ~/.ssh/cloudX" },
	{ "setup", cx_drv_setup_main, "AWS profile, SSH key and SSH config" },
	{ "stop", cx_drv_stop_main, "stop a host's instance" },
	{ "wake", cx_drv_wake_main, "start a host's instance, wait until online" },
};

static void
usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, "usage: %s [--version] [--help] COMMAND [ARGS]\n\n"
	    "commands:\n", prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'%s COMMAND --help' shows a command's options.\n", prog);
}

int
main(int argc, char **argv)
{
	const char *prog = cx_drv_progname(argv[0]);
	size_t i;

	cx_os_init(argv[0]);
	if (argc < 2) {
		cx_error("missing command (see '%s --help')", prog);
		return CX_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout, prog);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", prog, CX_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1, argv[0]);
	cx_error("unknown command '%s' (see '%s --help')", argv[1], prog);
	return CX_EXIT_USAGE;
}
