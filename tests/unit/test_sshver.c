/*
 * lib/ssh/sshver: `ssh -V` strings as real clients print them (Debian,
 * macOS, Windows 10/11's Win32-OpenSSH, Git for Windows), garbage, empty
 * and overlong input; the quirks for each OS and client, and the facts
 * read from `ssh -G` output.  Pure: every OS is checked here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "core/os.h"
#include "ssh/sshver.h"

static void
parses(enum cx_os os, const char *text, enum cx_ssh_flavour fl, int maj,
    int min, int patch, const char *ver, const char *tls)
{
	struct cx_sshver v;

	assert_int_equal(cx_sshver_parse(os, text, strlen(text), &v), 0);
	assert_int_equal(v.flavour, fl);
	assert_int_equal(v.major, maj);
	assert_int_equal(v.minor, min);
	assert_int_equal(v.patch, patch);
	assert_string_equal(v.version, ver);
	assert_string_equal(v.tls, tls);
}

static void
test_real_strings(void **state)
{
	(void)state;
	/* Debian 12 */
	parses(CX_OS_LINUX, "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 "
	    "3 Sep 2024\n", CX_SSH_OPENSSH, 9, 2, 1, "9.2p1", "OpenSSL 3.0.15");
	/* RHEL 7 (two spaces before the date) */
	parses(CX_OS_LINUX, "OpenSSH_7.4p1, OpenSSL 1.0.2k-fips  26 Jan 2017\n",
	    CX_SSH_OPENSSH, 7, 4, 1, "7.4p1", "OpenSSL 1.0.2k-fips");
	/* macOS */
	parses(CX_OS_MACOS, "OpenSSH_9.8p1, LibreSSL 3.3.6\n", CX_SSH_OPENSSH,
	    9, 8, 1, "9.8p1", "LibreSSL 3.3.6");
	/* OpenBSD: no portable patch level */
	parses(CX_OS_LINUX, "OpenSSH_9.6, LibreSSL 3.9.0\n", CX_SSH_OPENSSH,
	    9, 6, 0, "9.6", "LibreSSL 3.9.0");
	/* Windows 10 1809 to 1909, then 10/11, then 11 24H2 (CRLF) */
	parses(CX_OS_WINDOWS, "OpenSSH_for_Windows_7.7p1, LibreSSL 2.6.5\r\n",
	    CX_SSH_WIN32, 7, 7, 1, "7.7p1", "LibreSSL 2.6.5");
	parses(CX_OS_WINDOWS, "OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2\r\n",
	    CX_SSH_WIN32, 8, 1, 1, "8.1p1", "LibreSSL 3.0.2");
	parses(CX_OS_WINDOWS, "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2\r\n",
	    CX_SSH_WIN32, 9, 5, 1, "9.5p1", "LibreSSL 3.8.2");
	/* the string says Windows whatever the OS we are told */
	parses(CX_OS_LINUX, "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
	    CX_SSH_WIN32, 9, 5, 1, "9.5p1", "LibreSSL 3.8.2");
	/* Git for Windows: a POSIX OpenSSH, told apart by the OS */
	parses(CX_OS_WINDOWS, "OpenSSH_9.9p1, OpenSSL 3.2.3 3 Sep 2024\n",
	    CX_SSH_MSYS, 9, 9, 1, "9.9p1", "OpenSSL 3.2.3");
	parses(CX_OS_LINUX, "OpenSSH_9.9p1, OpenSSL 3.2.3 3 Sep 2024\n",
	    CX_SSH_OPENSSH, 9, 9, 1, "9.9p1", "OpenSSL 3.2.3");
	/* no TLS library named; a line before the version line */
	parses(CX_OS_LINUX, "OpenSSH_8.0p1", CX_SSH_OPENSSH, 8, 0, 1, "8.0p1",
	    "");
	parses(CX_OS_LINUX, "OpenSSH_9.0p1, without OpenSSL", CX_SSH_OPENSSH,
	    9, 0, 1, "9.0p1", "");
	parses(CX_OS_LINUX, "warning: locale\nOpenSSH_7.2p2 Ubuntu-4ubuntu2.10,"
	    " OpenSSL 1.0.2g  1 Mar 2016\n", CX_SSH_OPENSSH, 7, 2, 2, "7.2p2",
	    "OpenSSL 1.0.2g");
}

static void
refused(const char *text, size_t len)
{
	struct cx_sshver v;

	memset(&v, 0x5a, sizeof(v));
	assert_int_equal(cx_sshver_parse(CX_OS_LINUX, text, len, &v),
	    CX_ERR_INPUT);
	assert_int_equal(v.flavour, CX_SSH_UNKNOWN);
	assert_int_equal(v.major, 0);
	assert_string_equal(v.version, "");
	assert_string_equal(v.tls, "");
}

static void
test_garbage(void **state)
{
	static const char *bad[] = {
		"", "\n", "OpenSSH_", "OpenSSH_9", "OpenSSH_9.", "OpenSSH_.1",
		"OpenSSH_9.2p", "OpenSSH_9.2x1", "OpenSSH_1234.5p1",
		"OpenSSH_9.1234", "OpenSSH_9.2p1234", "openssh_9.2p1",
		"OpenSSH_for_Windows_", "OpenSSH_for_Windows_x.1",
		"Dropbear v2022.83", "plink: Release 0.81",
		" OpenSSH_9.2p1", "ssh: command not found",
	};
	struct cx_sshver v;
	char *big;
	size_t i, n = 1 << 20;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], strlen(bad[i]));
	refused(NULL, 0);
	/* not NUL terminated: len is obeyed */
	refused("OpenSSH_9.2p1", 10);
	/* control bytes and high bytes never reach the strings */
	parses(CX_OS_LINUX, "OpenSSH_9.2p1, OpenSSL 3.0\033]0;x\007",
	    CX_SSH_OPENSSH, 9, 2, 1, "9.2p1", "OpenSSL 3.0");
	parses(CX_OS_LINUX, "OpenSSH_9.2p1, OpenSSL\xff 3.0", CX_SSH_OPENSSH,
	    9, 2, 1, "9.2p1", "");
	/* a TLS name longer than its field is dropped, not cut */
	parses(CX_OS_LINUX, "OpenSSH_9.2p1, OpenSSL 3.0.0-aaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", CX_SSH_OPENSSH, 9, 2,
	    1, "9.2p1", "");
	/* overlong: a megabyte of junk, a version past the first 4 KiB is
	 * not looked at, one before it is */
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'A', n);
	refused(big, n);
	memset(big, '\n', n);
	memcpy(big + CX_SSHVER_MAX_TEXT, "OpenSSH_9.2p1", 13);
	refused(big, n);
	memcpy(big + 100, "OpenSSH_9.2p1\n", 14);
	assert_int_equal(cx_sshver_parse(CX_OS_LINUX, big, n, &v), 0);
	assert_string_equal(v.version, "9.2p1");
	free(big);
}

static void
test_at_least(void **state)
{
	struct cx_sshver v;

	(void)state;
	assert_int_equal(cx_sshver_parse(CX_OS_LINUX, "OpenSSH_7.3p1", 13,
	    &v), 0);
	assert_true(cx_sshver_at_least(&v, 7, 3, 0));
	assert_true(cx_sshver_at_least(&v, 7, 3, 1));
	assert_false(cx_sshver_at_least(&v, 7, 3, 2));
	assert_false(cx_sshver_at_least(&v, 7, 4, 0));
	assert_true(cx_sshver_at_least(&v, 6, 9, 9));
	assert_false(cx_sshver_at_least(&v, 8, 0, 0));
	memset(&v, 0, sizeof(v));
	assert_false(cx_sshver_at_least(&v, 0, 0, 0));
}

/* The ids of the quirks for text on os with facts f, space separated. */
static char *
quirk_ids(enum cx_os os, const char *text, const struct cx_ssh_facts *f)
{
	static char buf[256];
	const struct cx_ssh_quirk *q[8];
	struct cx_sshver v;
	size_t i, n, off = 0;

	cx_sshver_parse(os, text, strlen(text), &v);
	n = cx_sshver_quirks(os, &v, f, q, 8);
	assert_true(n <= 8);
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
		    i > 0 ? " " : "", q[i]->id);
		assert_true(off < sizeof(buf));
		/* each one says what and how to fix it, on one line */
		assert_null(strchr(q[i]->problem, '\n'));
		assert_null(strchr(q[i]->fix, '\n'));
		assert_true(strlen(q[i]->fix) > 0);
	}
	return buf;
}

static void
test_quirks_client(void **state)
{
	(void)state;
	/* the client alone: only Include before 7.3 */
	assert_string_equal(quirk_ids(CX_OS_LINUX, "OpenSSH_7.2p2, OpenSSL "
	    "1.0.2g", NULL), "no-include");
	assert_string_equal(quirk_ids(CX_OS_LINUX, "OpenSSH_7.3p1", NULL), "");
	assert_string_equal(quirk_ids(CX_OS_MACOS, "OpenSSH_6.9p1, LibreSSL "
	    "2.1.8", NULL), "no-include");
	assert_string_equal(quirk_ids(CX_OS_MACOS, "OpenSSH_9.8p1, LibreSSL "
	    "3.3.6", NULL), "");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, "OpenSSH_for_Windows_"
	    "7.7p1, LibreSSL 2.6.5", NULL), "");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, "OpenSSH_for_Windows_"
	    "9.5p1, LibreSSL 3.8.2", NULL), "");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, "OpenSSH_9.9p1, OpenSSL "
	    "3.2.3 3 Sep 2024", NULL), "");
	/* an unknown client has no version to judge */
	assert_string_equal(quirk_ids(CX_OS_LINUX, "garbage", NULL), "");
}

static void
test_quirks_config(void **state)
{
	struct cx_ssh_facts all, none, f;
	const struct cx_ssh_quirk *q[1];
	struct cx_sshver v;
	static const char w77[] = "OpenSSH_for_Windows_7.7p1, LibreSSL 2.6.5",
	    w81[] = "OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2",
	    w95[] = "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2",
	    git[] = "OpenSSH_9.9p1, OpenSSL 3.2.3 3 Sep 2024",
	    deb[] = "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15";

	(void)state;
	memset(&none, 0, sizeof(none));
	memset(&all, 0, sizeof(all));
	all.control_master = all.proxy_quoted = all.proxy_relative =
	    all.proxy_backslash = all.agent_pipe = 1;
	/* nothing in the config triggers anything */
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w77, &none), "");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, git, &none), "");
	/* everything: what each client on each OS minds */
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w77, &all),
	    "no-controlmaster quoted-proxy relative-proxy");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w81, &all),
	    "no-controlmaster");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w95, &all),
	    "no-controlmaster");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, git, &all),
	    "no-controlmaster backslash-proxy msys-agent-pipe");
	assert_string_equal(quirk_ids(CX_OS_LINUX, deb, &all), "");
	assert_string_equal(quirk_ids(CX_OS_MACOS, "OpenSSH_9.8p1, LibreSSL "
	    "3.3.6", &all), "");
	/* the always-quirks are not repeated with facts */
	assert_string_equal(quirk_ids(CX_OS_LINUX, "OpenSSH_7.2p2", &all), "");
	/* one fact at a time */
	f = none;
	f.control_master = 1;
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w95, &f),
	    "no-controlmaster");
	f = none;
	f.proxy_quoted = 1;
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w77, &f), "quoted-proxy");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w81, &f), "");
	f = none;
	f.agent_pipe = 1;
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, git, &f),
	    "msys-agent-pipe");
	assert_string_equal(quirk_ids(CX_OS_WINDOWS, w95, &f), "");
	/* the count goes on past max; nothing is written past it */
	cx_sshver_parse(CX_OS_WINDOWS, w77, strlen(w77), &v);
	q[0] = NULL;
	assert_int_equal(cx_sshver_quirks(CX_OS_WINDOWS, &v, &all, q, 1), 3);
	assert_string_equal(q[0]->id, "no-controlmaster");
	assert_int_equal(cx_sshver_quirks(CX_OS_WINDOWS, &v, &all, NULL, 0), 3);
	assert_int_equal(cx_sshver_quirks((enum cx_os)7, &v, &all, q, 1), 0);
}

static void
facts_are(const char *g, int cm, int quoted, int rel, int bs, int pipe)
{
	struct cx_ssh_facts f;

	memset(&f, 0x5a, sizeof(f));
	cx_sshver_facts(g, g ? strlen(g) : 0, &f);
	assert_int_equal(f.control_master, cm);
	assert_int_equal(f.proxy_quoted, quoted);
	assert_int_equal(f.proxy_relative, rel);
	assert_int_equal(f.proxy_backslash, bs);
	assert_int_equal(f.agent_pipe, pipe);
}

static void
test_facts(void **state)
{
	(void)state;
	facts_are(NULL, 0, 0, 0, 0, 0);
	facts_are("", 0, 0, 0, 0, 0);
	facts_are("user ec2-user\ncontrolmaster false\nproxycommand none\n",
	    0, 0, 0, 0, 0);
	facts_are("controlmaster auto\ncontrolpath ~/.ssh/control/%r@%h:%p\n"
	    "proxycommand /usr/bin/cloudx-proxy connect %h %p\n", 1, 0, 0, 0,
	    0);
	facts_are("controlmaster true\r\nproxycommand \"C:\\Program Files\\cx"
	    "\\cloudx-proxy.exe\" connect %h %p\r\n", 1, 1, 0, 1, 0);
	facts_are("proxycommand C:/Users/me/cx/cloudx-proxy.exe connect %h\n",
	    0, 0, 0, 0, 0);
	facts_are("proxycommand cloudx-proxy connect %h %p\n", 0, 0, 1, 0, 0);
	facts_are("proxycommand 'cloudx-proxy' connect %h %p\n", 0, 1, 1, 0, 0);
	facts_are("proxycommand \"unterminated\n", 0, 1, 1, 0, 0);
	facts_are("identityagent \\\\.\\pipe\\openssh-ssh-agent\n", 0, 0, 0, 0,
	    1);
	facts_are("identityagent \\.\\pipe\\openssh-ssh-agent\n", 0, 0, 0, 0,
	    1);
	facts_are("identityagent //./pipe/openssh-ssh-agent\n", 0, 0, 0, 0, 1);
	facts_are("identityagent ~/.1password/agent.sock\n", 0, 0, 0, 0, 0);
	/* keywords are whole words at the start of a line */
	facts_are("xcontrolmaster auto\ncontrolmasterx auto\n"
	    "hostname controlmaster auto\n", 0, 0, 0, 0, 0);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(cx_sshver_flavour_name(CX_SSH_OPENSSH), "OpenSSH");
	assert_string_equal(cx_sshver_flavour_name(CX_SSH_WIN32),
	    "Microsoft's Win32-OpenSSH");
	assert_string_equal(cx_sshver_flavour_name((enum cx_ssh_flavour)9),
	    "unknown");
	assert_non_null(strstr(cx_sshver_install_hint(CX_OS_WINDOWS),
	    "Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0"));
	assert_non_null(strstr(cx_sshver_install_hint(CX_OS_WINDOWS),
	    "Optional features"));
	assert_non_null(strstr(cx_sshver_install_hint(CX_OS_LINUX),
	    "apt install openssh-client"));
	assert_non_null(strstr(cx_sshver_install_hint(CX_OS_MACOS),
	    "built in"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_strings),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_at_least),
		cmocka_unit_test(test_quirks_client),
		cmocka_unit_test(test_quirks_config),
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
