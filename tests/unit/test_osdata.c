/*
 * Unit tests of the per-OS choices (lib/core/osdata.c): the Linux, macOS
 * and Windows answers, all checked on this machine, since each function
 * takes the OS (and the environment) as arguments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/os.h"
#include "core/osdata.h"
#include "ssh/sshagent.h"

static void
settings_is(enum cx_os os, enum cx_vscode f, const char *home,
    const char *xdg, const char *appdata, const char *want)
{
	char *p = NULL;

	assert_int_equal(cx_osdata_vscode_settings(os, f, home, xdg, appdata,
	    &p), 0);
	assert_string_equal(p, want);
	free(p);
}

static void
test_vscode_settings(void **state)
{
	char *p = NULL;

	(void)state;
	/* Linux: XDG_CONFIG_HOME when absolute, else ~/.config */
	settings_is(CX_OS_LINUX, CX_VSCODE, "/home/u", NULL, NULL,
	    "/home/u/.config/Code/User/settings.json");
	settings_is(CX_OS_LINUX, CX_VSCODE, "/home/u/", "/x/cfg", NULL,
	    "/x/cfg/Code/User/settings.json");
	settings_is(CX_OS_LINUX, CX_VSCODE, "/home/u", "rel/cfg", NULL,
	    "/home/u/.config/Code/User/settings.json");
	settings_is(CX_OS_LINUX, CX_VSCODE_INSIDERS, "/home/u", NULL, NULL,
	    "/home/u/.config/Code - Insiders/User/settings.json");
	settings_is(CX_OS_LINUX, CX_VSCODIUM, "/home/u", "", NULL,
	    "/home/u/.config/VSCodium/User/settings.json");
	/* macOS: Application Support, whatever XDG says */
	settings_is(CX_OS_MACOS, CX_VSCODE, "/Users/u", "/x/cfg", NULL,
	    "/Users/u/Library/Application Support/Code/User/settings.json");
	settings_is(CX_OS_MACOS, CX_VSCODE_INSIDERS, "/Users/u", NULL, NULL,
	    "/Users/u/Library/Application Support/Code - Insiders/User/"
	    "settings.json");
	settings_is(CX_OS_MACOS, CX_VSCODIUM, "/Users/u", NULL, NULL,
	    "/Users/u/Library/Application Support/VSCodium/User/settings.json");
	/* Windows: %APPDATA%, else the roaming profile under the home */
	settings_is(CX_OS_WINDOWS, CX_VSCODE, "C:\\Users\\u", NULL,
	    "C:\\Users\\u\\AppData\\Roaming",
	    "C:\\Users\\u\\AppData\\Roaming\\Code\\User\\settings.json");
	settings_is(CX_OS_WINDOWS, CX_VSCODE, "C:\\Users\\u", "/x", NULL,
	    "C:\\Users\\u\\AppData\\Roaming\\Code\\User\\settings.json");
	settings_is(CX_OS_WINDOWS, CX_VSCODIUM, "C:\\Users\\u", NULL,
	    "D:\\roam\\",
	    "D:\\roam\\VSCodium\\User\\settings.json");
	/* bad arguments */
	assert_int_equal(cx_osdata_vscode_settings((enum cx_os)7, CX_VSCODE,
	    "/h", NULL, NULL, &p), CX_ERR_INPUT);
	assert_null(p);
	assert_int_equal(cx_osdata_vscode_settings(CX_OS_LINUX,
	    (enum cx_vscode)9, "/h", NULL, NULL, &p), CX_ERR_INPUT);
	assert_int_equal(cx_osdata_vscode_settings(CX_OS_LINUX, CX_VSCODE,
	    NULL, NULL, NULL, &p), CX_ERR_INPUT);
}

static void
test_1password_socket(void **state)
{
	const char *const *s;

	(void)state;
	s = cx_osdata_1password_socks(CX_OS_LINUX);
	assert_string_equal(s[0], "~/.1password/agent.sock");
	assert_null(s[1]);
	s = cx_osdata_1password_socks(CX_OS_MACOS);
	assert_string_equal(s[0], "~/.1password/agent.sock");
	assert_string_equal(s[1], "~/Library/Group Containers/"
	    "2BUA8C4S2C.com.1password/t/agent.sock");
	assert_null(s[2]);
	s = cx_osdata_1password_socks(CX_OS_WINDOWS);
	assert_string_equal(s[0], "\\\\.\\pipe\\openssh-ssh-agent");
	assert_null(s[1]);
}

static void
test_op_cli_and_opener(void **state)
{
	const char *const *o;

	(void)state;
	o = cx_osdata_op_cli(CX_OS_LINUX);
	assert_string_equal(o[0], "op");
	assert_string_equal(o[1], "/usr/bin/op");
	assert_string_equal(o[2], "/usr/local/bin/op");
	assert_null(o[3]);
	o = cx_osdata_op_cli(CX_OS_MACOS);
	assert_string_equal(o[0], "op");
	assert_string_equal(o[1], "/opt/homebrew/bin/op");
	assert_string_equal(o[2], "/usr/local/bin/op");
	assert_null(o[3]);
	o = cx_osdata_op_cli(CX_OS_WINDOWS);
	assert_string_equal(o[0], "op.exe");
	assert_null(o[1]);
	assert_string_equal(cx_osdata_opener(CX_OS_LINUX), "xdg-open");
	assert_string_equal(cx_osdata_opener(CX_OS_MACOS), "open");
	assert_string_equal(cx_osdata_opener(CX_OS_WINDOWS), "explorer.exe");
}

/* The agent without SSH_AUTH_SOCK: Windows' pipe; none elsewhere. */
static void
test_agent_default(void **state)
{
	char *old = getenv("SSH_AUTH_SOCK") ? strdup(getenv("SSH_AUTH_SOCK")) :
	    NULL, *p = NULL;

	(void)state;
	assert_string_equal(cx_osdata_agent_default(CX_OS_WINDOWS),
	    "\\\\.\\pipe\\openssh-ssh-agent");
	assert_null(cx_osdata_agent_default(CX_OS_LINUX));
	assert_null(cx_osdata_agent_default(CX_OS_MACOS));
	assert_non_null(strstr(cx_osdata_agent_start_hint(CX_OS_WINDOWS),
	    "Start-Service ssh-agent"));
	assert_null(cx_osdata_agent_start_hint(CX_OS_LINUX));
	assert_null(cx_osdata_agent_start_hint(CX_OS_MACOS));
	/* no SSH_AUTH_SOCK: the pipe on Windows, an error elsewhere */
	assert_int_equal(unsetenv("SSH_AUTH_SOCK"), 0);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_WINDOWS, NULL, &p), 0);
	assert_string_equal(p, "\\\\.\\pipe\\openssh-ssh-agent");
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_WINDOWS, "", &p), 0);
	assert_string_equal(p, "\\\\.\\pipe\\openssh-ssh-agent");
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_LINUX, NULL, &p),
	    CX_ERR_CONFIG);
	assert_null(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_MACOS, "", &p),
	    CX_ERR_CONFIG);
	assert_null(p);
	/* SSH_AUTH_SOCK wins on every OS (another pipe on Windows) */
	assert_int_equal(setenv("SSH_AUTH_SOCK", "\\\\.\\pipe\\other", 1),
	    0);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_WINDOWS, NULL, &p), 0);
	assert_string_equal(p, "\\\\.\\pipe\\other");
	free(p);
	assert_int_equal(setenv("SSH_AUTH_SOCK", "/tmp/agent.sock", 1), 0);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_LINUX, NULL, &p), 0);
	assert_string_equal(p, "/tmp/agent.sock");
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_MACOS, "", &p), 0);
	assert_string_equal(p, "/tmp/agent.sock");
	free(p);
	if (old != NULL)
		setenv("SSH_AUTH_SOCK", old, 1);
	else
		unsetenv("SSH_AUTH_SOCK");
	free(old);
}

/* cx_agent_socket_path_os("1password"): the first place that exists. */
static void
test_agent_socket_per_os(void **state)
{
	char home[] = "/tmp/cx-osdata.XXXXXX", *p = NULL, want[512];
	char gc[512], *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	assert_int_equal(setenv("HOME", home, 1), 0);
	/* nothing there: the first name, on every OS */
	snprintf(want, sizeof(want), "%s/.1password/agent.sock", home);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_LINUX, "1password",
	    &p), 0);
	assert_string_equal(p, want);
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_MACOS, "1password",
	    &p), 0);
	assert_string_equal(p, want);
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_WINDOWS, "1password",
	    &p), 0);
	assert_string_equal(p, "\\\\.\\pipe\\openssh-ssh-agent");
	free(p);
	/* 1Password's own socket on a Mac: macOS finds it, Linux does not
	 * look there */
	snprintf(gc, sizeof(gc), "%s/Library/Group Containers/"
	    "2BUA8C4S2C.com.1password/t", home);
	assert_int_equal(cx_mkdir_p(gc, 0700), 0);
	strncat(gc, "/agent.sock", sizeof(gc) - strlen(gc) - 1);
	assert_non_null(f = fopen(gc, "w"));
	fclose(f);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_MACOS, "1password",
	    &p), 0);
	assert_string_equal(p, gc);
	free(p);
	assert_int_equal(cx_agent_socket_path_os(CX_OS_LINUX, "1password",
	    &p), 0);
	assert_string_equal(p, want);
	free(p);
	unlink(gc);
	/* the folders made above, innermost first, then home */
	while (strlen(gc) > strlen(home) && (p = strrchr(gc, '/')) != NULL) {
		*p = '\0';
		if (strlen(gc) > strlen(home))
			assert_int_equal(rmdir(gc), 0);
	}
	assert_int_equal(rmdir(home), 0);
	if (old != NULL)
		setenv("HOME", old, 1);
	free(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vscode_settings),
		cmocka_unit_test(test_1password_socket),
		cmocka_unit_test(test_op_cli_and_opener),
		cmocka_unit_test(test_agent_socket_per_os),
		cmocka_unit_test(test_agent_default),
	};

	return cmocka_run_group_tests_name("osdata", tests, NULL, NULL);
}
