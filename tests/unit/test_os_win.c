/*
 * Unit tests of the OS layer for Windows (lib/core/os_win.c), built by
 * `make windows` and run under Wine by `make check-windows`: command-line
 * quoting against CommandLineToArgvW, UTF-8 <-> UTF-16 with non-ASCII
 * text, atomic replace, the lock, the private DACL (read back with
 * GetNamedSecurityInfoW), children with pipes, exit codes, a deadline and
 * termination, the agent's named pipe.  The program is its own child:
 * "test_os_win --child ...".
 */
#include <winsock2.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shellapi.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/os.h"

/* A folder of our own for each run, with a non-ASCII name: "cx-tést-…" */
static char tmpdir[1024];

static int
setup_dir(void **state)
{
	wchar_t t[MAX_PATH + 1];
	char *u = NULL;
	unsigned char r[4];

	(void)state;
	if (GetTempPathW(MAX_PATH + 1, t) == 0 || cx_win_utf8(t, &u) != 0 ||
	    cx_random_bytes(r, sizeof(r)) != 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%scx-t\xc3\xa9st-\xe6\x97\xa5-%02x%02x%02x%02x",
	    u, r[0], r[1], r[2], r[3]);
	free(u);
	return cx_mkdir_p(tmpdir, 0700) == 0 ? 0 : -1;
}

static char *
in_tmp(const char *name)
{
	char *p = NULL;

	assert_int_equal(cx_path_join(tmpdir, name, &p), 0);
	return p;
}

/* ---- text ---- */

static void
test_utf8_round_trip(void **state)
{
	/* é, 日本, an emoji (a surrogate pair in UTF-16) */
	const char *s = "Zo\xc3\xab/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80";
	wchar_t *w = NULL;
	char *back = NULL;

	(void)state;
	assert_int_equal(cx_win_wide(s, &w), 0);
	assert_int_equal(wcslen(w), 3 + 1 + 2 + 1 + 2);
	assert_int_equal(w[2], 0x00eb);
	assert_int_equal(w[4], 0x65e5);
	assert_int_equal(w[7], 0xd83d);
	assert_int_equal(w[8], 0xde00);
	assert_int_equal(cx_win_utf8(w, &back), 0);
	assert_string_equal(back, s);
	free(w);
	free(back);
	/* not UTF-8: refused, not mangled */
	assert_int_equal(cx_win_wide("bad \xff\xfe", &w), CX_ERR_INPUT);
	assert_null(w);
}

/* ---- the command line ---- */

static void
check_split(char *const argv[])
{
	char *cmd = NULL, *u = NULL;
	wchar_t *w = NULL, **wargv;
	int n, i;

	assert_int_equal(cx_win_cmdline(argv, &cmd), 0);
	assert_int_equal(cx_win_wide(cmd, &w), 0);
	wargv = CommandLineToArgvW(w, &n);
	assert_non_null(wargv);
	for (i = 0; argv[i] != NULL; i++) {
		assert_true(i < n);
		assert_int_equal(cx_win_utf8(wargv[i], &u), 0);
		if (strcmp(u, argv[i]) != 0)
			fail_msg("argument %d: '%s' came back as '%s' from [%s]",
			    i, argv[i], u, cmd);
		free(u);
	}
	assert_int_equal(n, i);
	LocalFree(wargv);
	free(w);
	free(cmd);
}

static void
test_cmdline_quoting(void **state)
{
	char *a1[] = { "C:\\Program Files\\cx\\cx-creds.exe", "plain",
		"two words", "", "tab\there", "a\"quote", "\"", "trail\\",
		"trail space\\", "two\\\\", "back\\\"slash-quote",
		"\\\\server\\share\\x y", "caf\xc3\xa9 \xe6\x97\xa5",
		"--arg=\"x\" \\\"y\\\"", NULL };
	char *a2[] = { "prog", NULL };
	char *bad[] = { "has\"quote", "x", NULL };
	char *cmd = NULL;

	(void)state;
	check_split(a1);
	check_split(a2);
	assert_int_equal(cx_win_cmdline(a2, &cmd), 0);
	assert_string_equal(cmd, "prog");
	free(cmd);
	/* a program name cannot hold a quote */
	assert_int_equal(cx_win_cmdline(bad, &cmd), CX_ERR_INPUT);
}

/* ---- files ---- */

static void
read_back(const char *path, const char *want)
{
	struct cx_buf b;

	cx_buf_init(&b, 0);
	assert_int_equal(cx_read_file(path, 1 << 20, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	cx_buf_clean_up(&b);
}

/* files in tmpdir whose name starts with prefix */
static int
count_like(const char *prefix)
{
	WIN32_FIND_DATAW fd;
	char *pat = NULL, *name;
	wchar_t *w = NULL;
	HANDLE h;
	int n = 0;

	assert_true(cx_asprintf(&pat, "%s\\*", tmpdir) > 0);
	assert_int_equal(cx_win_wide(pat, &w), 0);
	h = FindFirstFileW(w, &fd);
	if (h != INVALID_HANDLE_VALUE) {
		do {
			assert_int_equal(cx_win_utf8(fd.cFileName, &name), 0);
			n += strncmp(name, prefix, strlen(prefix)) == 0;
			free(name);
		} while (FindNextFileW(h, &fd));
		FindClose(h);
	}
	free(w);
	free(pat);
	return n;
}

static void
test_atomic_replace(void **state)
{
	char *p = in_tmp("conf\xc3\xae\xc3\xa7"), *bak = NULL;

	(void)state;
	assert_int_equal(cx_write_file_atomic(p, "one\n", 4, 0644, 0), 0);
	read_back(p, "one\n");
	assert_int_equal(cx_write_file_atomic(p, "two two\n", 8, 0644,
	    CX_ATOMIC_BACKUP), 0);
	read_back(p, "two two\n");
	assert_true(cx_asprintf(&bak, "%s.bak", p) > 0);
	read_back(bak, "one\n");
	/* no temporary file left beside it */
	assert_int_equal(count_like("conf\xc3\xae\xc3\xa7.tmp"), 0);
	assert_int_equal(count_like("conf\xc3\xae\xc3\xa7"), 2);
	/* a missing folder: an error, nothing written */
	free(bak);
	bak = in_tmp("no/such/file");
	assert_int_not_equal(cx_write_file_atomic(bak, "x", 1, 0644, 0), 0);
	assert_false(cx_file_exists(bak));
	free(bak);
	free(p);
}

/* 1 under Wine, which models a file's DACL on its Unix mode (SYSTEM, the
 * owner, Everyone) instead of keeping the one we set */
static int
under_wine(void)
{
	HMODULE nt = GetModuleHandleW(L"ntdll.dll");

	return nt != NULL && GetProcAddress(nt, "wine_get_version") != NULL;
}

static int others_write;

/* The ACEs of path's DACL: *n of them; *only_user if all allow the user
 * alone; others_write if one lets anyone but the user or SYSTEM write;
 * returns 1 if the DACL is protected. */
static int
dacl_of(const char *path, int *n, int *only_user)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	SECURITY_DESCRIPTOR_CONTROL ctl;
	ACL_SIZE_INFORMATION ai;
	PACL dacl = NULL;
	TOKEN_USER *tu;
	HANDLE tok;
	DWORD len = 0, rev, i;
	wchar_t *w = NULL;
	void *ace;
	int prot;

	assert_int_equal(cx_win_wide(path, &w), 0);
	assert_int_equal(GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd),
	    ERROR_SUCCESS);
	assert_non_null(dacl);
	assert_true(GetSecurityDescriptorControl(sd, &ctl, &rev));
	prot = (ctl & SE_DACL_PROTECTED) != 0;
	assert_true(GetAclInformation(dacl, &ai, sizeof(ai),
	    AclSizeInformation));
	assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
	GetTokenInformation(tok, TokenUser, NULL, 0, &len);
	tu = malloc(len);
	assert_true(GetTokenInformation(tok, TokenUser, tu, len, &len));
	CloseHandle(tok);
	*n = (int)ai.AceCount;
	*only_user = 1;
	others_write = 0;
	for (i = 0; i < ai.AceCount; i++) {
		PSID sid;

		assert_true(GetAce(dacl, i, &ace));
		sid = (PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart;
		if (((ACE_HEADER *)ace)->AceType == ACCESS_ALLOWED_ACE_TYPE &&
		    !EqualSid(sid, tu->User.Sid) &&
		    !IsWellKnownSid(sid, WinLocalSystemSid) &&
		    (((ACCESS_ALLOWED_ACE *)ace)->Mask & (FILE_WRITE_DATA |
		    FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL | WRITE_DAC)))
			others_write = 1;
		if (((ACE_HEADER *)ace)->AceType != ACCESS_ALLOWED_ACE_TYPE ||
		    !EqualSid((PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart,
		    tu->User.Sid))
			*only_user = 0;
	}
	free(tu);
	LocalFree(sd);
	free(w);
	return prot;
}

/* Adds an ACE granting Everyone rights on path (inherit: by what is made
 * in it too). */
static void
grant_everyone(const char *path, DWORD rights, DWORD inherit)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL dacl = NULL, nd = NULL;
	EXPLICIT_ACCESSW ea;
	wchar_t *w = NULL;

	assert_int_equal(cx_win_wide(path, &w), 0);
	assert_int_equal(GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd),
	    ERROR_SUCCESS);
	memset(&ea, 0, sizeof(ea));
	ea.grfAccessPermissions = rights;
	ea.grfAccessMode = GRANT_ACCESS;
	ea.grfInheritance = inherit;
	ea.Trustee.TrusteeForm = TRUSTEE_IS_NAME;
	ea.Trustee.ptstrName = L"EVERYONE";
	assert_int_equal(SetEntriesInAclW(1, &ea, dacl, &nd), ERROR_SUCCESS);
	assert_int_equal(SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, nd, NULL), ERROR_SUCCESS);
	LocalFree(nd);
	LocalFree(sd);
	free(w);
}

static void
test_secret_dacl(void **state)
{
	char *p = in_tmp("id_ed25519"), why[160];
	struct cx_buf b;
	int n = 0, only = 0, prot;

	(void)state;
	assert_int_equal(cx_write_file_atomic(p, "KEY\n", 4, 0600,
	    CX_ATOMIC_SECRET), 0);
	/* Windows: a protected DACL with one ACE, the user's.  Wine keeps
	 * only what Unix modes say: no write for anyone else is checked */
	prot = dacl_of(p, &n, &only);
	print_message("# DACL: %d ACE(s), only the user: %d, protected: %d%s\n",
	    n, only, prot, under_wine() ? " (Wine: modelled on the mode)" : "");
	assert_false(others_write);
	if (!under_wine()) {
		assert_true(prot);
		assert_int_equal(n, 1);
		assert_true(only);
	}
	assert_int_equal(cx_path_trusted(p, CX_TRUST_FILE, why, sizeof(why)), 0);
	cx_buf_init(&b, 0);
	assert_int_equal(cx_read_file_trusted(p, 100, &b, why, sizeof(why)), 0);
	assert_string_equal(cx_buf_str(&b), "KEY\n");
	cx_buf_reset(&b);
	/* a rewrite keeps it private */
	assert_int_equal(cx_write_file_atomic(p, "KEY2\n", 5, 0600,
	    CX_ATOMIC_SECRET), 0);
	prot = dacl_of(p, &n, &only);
	assert_false(others_write);
	if (!under_wine())
		assert_true(prot && n == 1 && only);
	/* once others may write it, it is no longer trusted nor read */
	grant_everyone(p, GENERIC_WRITE | FILE_WRITE_DATA, NO_INHERITANCE);
	(void)dacl_of(p, &n, &only);
	assert_true(others_write);
	assert_int_equal(cx_path_trusted(p, CX_TRUST_FILE, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_non_null(strstr(why, "writable by others"));
	assert_int_equal(cx_read_file_trusted(p, 100, &b, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_int_equal(b.len, 0);
	assert_int_equal(cx_path_trusted(p, CX_TRUST_DIR, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_string_equal(why, "not a folder");
	cx_buf_clean_up(&b);
	free(p);
}

/* 1 if an ACE of path's DACL lets anyone but the user, SYSTEM or the
 * Administrators read it (or do anything else with it) */
static int
others_may_read(const char *path)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	ACL_SIZE_INFORMATION ai;
	PACL dacl = NULL;
	TOKEN_USER *tu;
	HANDLE tok;
	DWORD len = 0, i;
	wchar_t *w = NULL;
	void *ace;
	int any = 0;

	assert_int_equal(cx_win_wide(path, &w), 0);
	assert_int_equal(GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd),
	    ERROR_SUCCESS);
	assert_non_null(dacl);
	assert_true(GetAclInformation(dacl, &ai, sizeof(ai),
	    AclSizeInformation));
	assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
	GetTokenInformation(tok, TokenUser, NULL, 0, &len);
	tu = malloc(len);
	assert_true(GetTokenInformation(tok, TokenUser, tu, len, &len));
	CloseHandle(tok);
	for (i = 0; i < ai.AceCount; i++) {
		ACCESS_ALLOWED_ACE *a;
		PSID sid;

		assert_true(GetAce(dacl, i, &ace));
		if (((ACE_HEADER *)ace)->AceType != ACCESS_ALLOWED_ACE_TYPE ||
		    (((ACE_HEADER *)ace)->AceFlags & INHERIT_ONLY_ACE))
			continue;
		a = ace;
		sid = (PSID)&a->SidStart;
		if (a->Mask == 0 || EqualSid(sid, tu->User.Sid) ||
		    IsWellKnownSid(sid, WinLocalSystemSid) ||
		    IsWellKnownSid(sid, WinBuiltinAdministratorsSid))
			continue;
		any = 1;
	}
	free(tu);
	LocalFree(sd);
	free(w);
	return any;
}

/* Private folders (cx_mkdir_p 0700) and secrets made inside a folder
 * Everyone may read (a %USERPROFILE% of a Wine prefix is 0755) are
 * private all the same: the SSO token cache, the credential cache. */
static void
test_private_in_open_folder(void **state)
{
	char *open = in_tmp("open"), *deep = in_tmp("open/.cache/cloudx-proxy");
	char *mid = in_tmp("open/.cache"), *sec = NULL;

	(void)state;
	assert_int_equal(cx_mkdir_p(open, 0755), 0);
	grant_everyone(open, GENERIC_READ | GENERIC_EXECUTE,
	    SUB_CONTAINERS_AND_OBJECTS_INHERIT);
	assert_true(others_may_read(open));
	assert_int_equal(cx_mkdir_p(deep, 0700), 0);
	assert_false(others_may_read(mid));
	assert_false(others_may_read(deep));
	assert_int_equal(cx_path_join(deep, "tok.json", &sec), 0);
	assert_int_equal(cx_write_file_atomic(sec, "{}", 2, 0600,
	    CX_ATOMIC_SECRET), 0);
	assert_false(others_may_read(sec));
	/* a secret written straight into the open folder: private too */
	free(sec);
	assert_int_equal(cx_path_join(open, "secret", &sec), 0);
	assert_int_equal(cx_write_file_atomic(sec, "S", 1, 0600,
	    CX_ATOMIC_SECRET), 0);
	assert_false(others_may_read(sec));
	free(sec);
	free(deep);
	free(mid);
	free(open);
}

static void
test_lock(void **state)
{
	char *p = in_tmp("config"), *lp = NULL, *la = NULL;
	wchar_t *w = NULL;
	int fd = -1, fd2 = -1;
	uint64_t t0;

	(void)state;
	/* the lock folder under %LOCALAPPDATA% (ours for the test) */
	assert_true(cx_asprintf(&la, "LOCALAPPDATA=%s", tmpdir) > 0);
	assert_int_equal(cx_win_wide(la, &w), 0);
	assert_int_equal(_wputenv(w), 0);
	assert_int_equal(cx_lock_path(p, &lp), 0);
	assert_true(strncmp(lp, tmpdir, strlen(tmpdir)) == 0);
	assert_non_null(strstr(lp, "cloudx-proxy/locks/config."));
	assert_int_equal(cx_lock(p, 1000, &fd), 0);
	assert_true(fd >= 0);
	/* held: a second taker waits its timeout, then fails */
	t0 = cx_now_ms();
	assert_int_equal(cx_lock(p, 200, &fd2), CX_ERR_IO);
	assert_true(cx_now_ms() - t0 >= 150);
	cx_unlock(fd);
	assert_int_equal(cx_lock(p, 200, &fd2), 0);
	cx_unlock(fd2);
	free(w);
	free(la);
	free(lp);
	free(p);
}

/* fnmatch(FNM_PATHNAME)'s answers, as glibc gives them */
static void
test_fnmatch_path(void **state)
{
	static const struct { const char *pat, *s; int match; } t[] = {
		{ "C:/u/.ssh/*", "C:/u/.ssh/cloudx", 1 },
		{ "C:/u/.ssh/*", "C:/u/.ssh/a/b", 0 },
		{ "C:/u/.ssh/cloud*", "C:/u/.ssh/cloudx-proxy.conf", 1 },
		{ "C:/u/.ssh/c?oud", "C:/u/.ssh/cloud", 1 },
		{ "C:/u/.ssh/c?oud", "C:/u/.ssh/c/oud", 0 },
		{ "C:/u/*/config", "C:/u/.ssh/config", 1 },
		{ "C:/u/*/config", "C:/u/a/b/config", 0 },
		{ "*.conf", "x.conf", 1 },
		{ "*.conf", "x.confy", 0 },
		{ "[a-c]x", "bx", 1 },
		{ "[a-c]x", "dx", 0 },
		{ "[!a-c]x", "dx", 1 },
		{ "[!a-c]x", "ax", 0 },
		{ "a*b*c", "aXbYc", 1 },
		{ "a*b*c", "aXbY", 0 },
		{ "*", "", 1 },
		{ "", "", 1 },
		{ "abc", "abd", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if ((cx_fnmatch_path(t[i].pat, t[i].s) == 0) != t[i].match)
			fail_msg("'%s' on '%s': expected %s", t[i].pat, t[i].s,
			    t[i].match ? "a match" : "no match");
	}
}

static void
test_same_file(void **state)
{
	char *a = in_tmp("same"), *b = NULL, *c = in_tmp("other");

	(void)state;
	assert_int_equal(cx_write_file_atomic(a, "x", 1, 0644, 0), 0);
	assert_int_equal(cx_write_file_atomic(c, "x", 1, 0644, 0), 0);
	/* another spelling of the same file: backslashes, upper case */
	b = strdup(a);
	for (size_t i = 0; b[i]; i++)
		b[i] = b[i] == '/' ? '\\' : b[i];
	assert_true(cx_same_file(a, b));
	assert_false(cx_same_file(a, c));
	assert_false(cx_same_file(a, "C:/no/such/file"));
	free(a);
	free(b);
	free(c);
}

/* ---- processes ---- */

static char *self;

static void
test_run_pipes_exit_code(void **state)
{
	char *argv[] = { self, "--child", "echo", "two words",
		"q\"uote\\", "caf\xc3\xa9", NULL };
	struct cx_buf out, err;
	int st = -1;

	(void)state;
	cx_buf_init(&out, 0);
	cx_buf_init(&err, 0);
	assert_int_equal(cx_run(argv, "stdin bytes", 11, &out, &err, 20000,
	    &st), 0);
	/* the arguments as the child's C runtime split them, then stdin */
	assert_string_equal(cx_buf_str(&out),
	    "[echo][two words][q\"uote\\][caf\xc3\xa9]stdin bytes");
	assert_string_equal(cx_buf_str(&err), "to stderr\n");
	assert_int_equal(cx_wait_exit(st), 7);
	assert_int_equal(cx_wait_signal(st), 0);
	cx_buf_clean_up(&out);
	cx_buf_clean_up(&err);
}

static void
test_run_not_found_and_timeout(void **state)
{
	char *none[] = { "cx-no-such-program-here", NULL };
	char *slow[] = { self, "--child", "sleep", NULL };
	struct cx_buf out;
	uint64_t t0;
	int st = 0;

	(void)state;
	cx_buf_init(&out, 0);
	assert_int_equal(cx_run(none, NULL, 0, &out, NULL, 1000, &st),
	    CX_ERR_NOTFOUND);
	t0 = cx_now_ms();
	assert_int_equal(cx_run(slow, NULL, 0, &out, NULL, 500, &st),
	    CX_ERR_TIMEOUT);
	assert_true(cx_now_ms() - t0 < 10000);
	assert_int_equal(cx_wait_exit(st), -1);
	cx_buf_clean_up(&out);
}

static void
test_spawn_kill(void **state)
{
	char *argv[] = { self, "--child", "cat", NULL };
	int in = -1, out = -1, st = 0, code = 0, again = 0, k;
	char b[64];
	uint64_t end;
	pid_t pid;

	(void)state;
	assert_int_equal(cx_os_spawn(argv, &in, &out, NULL, &pid), 0);
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(cx_write_all(in, "ping", 4), 0);
	/* the child copies stdin to stdout: read it back, waiting on poll */
	end = cx_now_ms() + 10000;
	k = 0;
	while (k < 4 && cx_now_ms() < end) {
		struct cx_os_pfd p = { out, CX_OS_IN, 0 };
		ssize_t n;

		if (cx_os_poll(&p, 1, 1000) <= 0)
			continue;
		n = cx_os_read(out, b + k, sizeof(b) - (size_t)k, &again);
		assert_true(n >= 0);
		k += (int)n;
	}
	assert_int_equal(k, 4);
	assert_memory_equal(b, "ping", 4);
	assert_int_equal(cx_os_reap(pid, 1, &st), 1);	/* still running */
	assert_int_equal(cx_kill(pid, SIGTERM), 0);
	assert_int_equal(cx_os_reap(pid, 0, &st), 0);
	assert_int_equal(cx_wait_signal(st), SIGTERM);
	assert_int_equal(cx_os_exit_code(st, &code), 0);
	assert_int_equal(code, 128 + SIGTERM);
	cx_os_close(&in);
	cx_os_close(&out);
}

/* A child that started a grandchild, then killed: the grandchild goes
 * with it (the child's job object, KILL_ON_JOB_CLOSE) */
static void
test_killed_parent_leaves_no_child(void **state)
{
	char *argv[] = { self, "--child", "spawn", NULL };
	char b[32] = { 0 };
	int out = -1, st = 0, again = 0, k = 0;
	uint64_t end = cx_now_ms() + 20000;
	long long gpid = 0;
	HANDLE g;
	pid_t pid;

	(void)state;
	assert_int_equal(cx_os_spawn(argv, NULL, &out, NULL, &pid), 0);
	/* the grandchild's id, one line */
	while (strchr(b, '\n') == NULL && cx_now_ms() < end &&
	    k < (int)sizeof(b) - 1) {
		struct cx_os_pfd p = { out, CX_OS_IN, 0 };
		ssize_t n;

		if (cx_os_poll(&p, 1, 1000) <= 0)
			continue;
		n = cx_os_read(out, b + k, sizeof(b) - 1 - (size_t)k, &again);
		assert_true(n >= 0);
		k += (int)n;
	}
	assert_non_null(strchr(b, '\n'));
	*strchr(b, '\n') = '\0';
	assert_int_equal(cx_strtonum(b, 1, 0x7fffffff, &gpid), 0);
	g = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)gpid);
	assert_non_null(g);
	assert_int_equal(WaitForSingleObject(g, 0), WAIT_TIMEOUT);
	assert_int_equal(cx_kill(pid, SIGKILL), 0);
	assert_int_equal(cx_wait(pid, &st), 0);
	/* the grandchild ends with its parent's job */
	assert_int_equal(WaitForSingleObject(g, 10000), WAIT_OBJECT_0);
	CloseHandle(g);
	cx_os_close(&out);
}

static void
test_misc(void **state)
{
	unsigned char r[32] = { 0 }, zero[32] = { 0 };
	char u[37], *home = NULL, *up = NULL;
	size_t i;
	int64_t now = (int64_t)time(NULL) * 1000;

	(void)state;
	assert_int_equal(cx_random_bytes(r, sizeof(r)), 0);
	assert_memory_not_equal(r, zero, sizeof(r));
	assert_int_equal(cx_uuid4(u), 0);
	assert_int_equal(strlen(u), 36);
	assert_int_equal(u[14], '4');
	assert_true(cx_wall_ms() - now < 5000 && now - cx_wall_ms() < 5000);
	assert_int_equal(cx_os_host(), CX_OS_WINDOWS);
	assert_int_equal(cx_home_dir(&home), 0);
	assert_int_equal(cx_win_utf8(_wgetenv(L"USERPROFILE"), &up), 0);
	/* %USERPROFILE% with forward slashes */
	for (i = 0; up[i]; i++)
		up[i] = up[i] == '\\' ? '/' : up[i];
	assert_string_equal(home, up);
	assert_null(strchr(home, '\\'));
	free(up);
	assert_int_equal(cx_self_path(&up), 0);
	assert_true(strstr(up, "test_os_win") != NULL);
	assert_true(cx_file_exists(up));
	assert_false(cx_is_dir(up));
	assert_true(cx_is_dir(tmpdir));
	cx_wipe(r, sizeof(r));
	assert_memory_equal(r, zero, sizeof(r));
	free(home);
	free(up);
}

/* ---- the agent's pipe (cx_unix_connect) ---- */

struct pipe_srv {
	HANDLE h;		/* the pipe's one instance */
	HANDLE go;		/* set: answer "pong" */
	HANDLE done;		/* set: close the pipe */
};

/* One instance: first the holder, until it goes; then the client under
 * test: "ping" read, "pong" written when told, then the pipe closed. */
static DWORD WINAPI
pipe_server(LPVOID arg)
{
	struct pipe_srv *s = arg;
	char b[16];
	DWORD n;

	if (!ConnectNamedPipe(s->h, NULL) &&
	    GetLastError() != ERROR_PIPE_CONNECTED)
		return 1;
	while (ReadFile(s->h, b, sizeof(b), &n, NULL) && n > 0)
		;
	DisconnectNamedPipe(s->h);
	if (!ConnectNamedPipe(s->h, NULL) &&
	    GetLastError() != ERROR_PIPE_CONNECTED)
		return 2;
	if (!ReadFile(s->h, b, 4, &n, NULL) || n != 4 ||
	    memcmp(b, "ping", 4) != 0)
		return 3;
	WaitForSingleObject(s->go, INFINITE);
	if (!WriteFile(s->h, "pong", 4, &n, NULL) || n != 4)
		return 4;
	WaitForSingleObject(s->done, INFINITE);
	/* the agent's end goes (the client reads the end of the file) */
	CloseHandle(s->h);
	return 0;
}

/* Closes the holder a moment later (the client under test waits). */
static DWORD WINAPI
pipe_release(LPVOID arg)
{
	Sleep(300);
	CloseHandle((HANDLE)arg);
	return 0;
}

/*
 * The agent's pipe as sshagent.c uses it: no pipe is CX_ERR_NOTFOUND; a
 * pipe whose one instance is busy is waited for (CX_ERR_TIMEOUT at the
 * deadline, connected once the holder goes); then cx_write_all, cx_wait_fd
 * (no false "ready" before the answer), read and the end of the pipe on
 * the C runtime descriptor.
 */
static void
test_agent_pipe(void **state)
{
	struct pipe_srv s;
	unsigned char rnd[4];
	char name[64], b[8];
	wchar_t *w = NULL;
	HANDLE holder, th, rel;
	DWORD code = 99;
	int fd = -1;

	(void)state;
	assert_int_equal(cx_random_bytes(rnd, sizeof(rnd)), 0);
	snprintf(name, sizeof(name), "\\\\.\\pipe\\cx-test-%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3]);
	assert_int_equal(cx_unix_connect(name, cx_now_ms() + 500, &fd),
	    CX_ERR_NOTFOUND);
	assert_int_equal(fd, -1);
	assert_int_equal(cx_win_wide(name, &w), 0);
	s.h = CreateNamedPipeW(w, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE |
	    PIPE_READMODE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
	assert_true(s.h != INVALID_HANDLE_VALUE);
	assert_non_null(s.go = CreateEventW(NULL, TRUE, FALSE, NULL));
	assert_non_null(s.done = CreateEventW(NULL, TRUE, FALSE, NULL));
	holder = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL,
	    OPEN_EXISTING, 0, NULL);
	assert_true(holder != INVALID_HANDLE_VALUE);
	assert_non_null(th = CreateThread(NULL, 0, pipe_server, &s, 0, NULL));
	/* every instance busy until the deadline */
	assert_int_equal(cx_unix_connect(name, cx_now_ms() + 300, &fd),
	    CX_ERR_TIMEOUT);
	assert_int_equal(fd, -1);
	/* busy, then free: waited for */
	assert_non_null(rel = CreateThread(NULL, 0, pipe_release, holder, 0,
	    NULL));
	assert_int_equal(cx_unix_connect(name, cx_now_ms() + 10000, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(cx_write_all(fd, "ping", 4), 0);
	assert_int_equal(cx_wait_fd(fd, POLLIN, cx_now_ms() + 200),
	    CX_ERR_TIMEOUT);
	assert_int_equal(cx_wait_fd(fd, POLLOUT, cx_now_ms() + 1000), 0);
	SetEvent(s.go);
	assert_int_equal(cx_wait_fd(fd, POLLIN, cx_now_ms() + 10000), 0);
	assert_int_equal(read(fd, b, sizeof(b)), 4);
	assert_memory_equal(b, "pong", 4);
	/* the agent goes: readable, end of file */
	SetEvent(s.done);
	assert_int_equal(cx_wait_fd(fd, POLLIN, cx_now_ms() + 10000), 0);
	assert_int_equal(read(fd, b, sizeof(b)), 0);
	assert_int_equal(close(fd), 0);
	WaitForSingleObject(th, INFINITE);
	assert_true(GetExitCodeThread(th, &code));
	assert_int_equal(code, 0);
	WaitForSingleObject(rel, INFINITE);
	CloseHandle(rel);
	CloseHandle(th);
	CloseHandle(s.go);
	CloseHandle(s.done);
	free(w);
}

/* The child: echo (its arguments in brackets, then stdin, exit 7), cat
 * (stdin to stdout until EOF) or sleep (a minute). */
static int
child(int argc, char **argv)
{
	char b[4096];
	int i, n;

	if (strcmp(argv[2], "sleep") == 0) {
		Sleep(60000);
		return 0;
	}
	if (strcmp(argv[2], "spawn") == 0) {
		char *gargv[] = { argv[0], "--child", "sleep", NULL };
		pid_t g;

		if (cx_spawn(gargv, -1, -1, &g) != 0)
			return 1;
		printf("%ld\n", (long)g);
		fflush(stdout);
		Sleep(60000);
		return 0;
	}
	if (strcmp(argv[2], "echo") == 0) {
		for (i = 2; i < argc; i++)
			printf("[%s]", argv[i]);
		fflush(stdout);
		fputs("to stderr\n", stderr);
	}
	while ((n = _read(0, b, sizeof(b))) > 0)
		(void)!_write(1, b, (unsigned)n);
	return strcmp(argv[2], "echo") == 0 ? 7 : 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_round_trip),
		cmocka_unit_test(test_cmdline_quoting),
		cmocka_unit_test(test_atomic_replace),
		cmocka_unit_test(test_secret_dacl),
		cmocka_unit_test(test_private_in_open_folder),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_fnmatch_path),
		cmocka_unit_test(test_same_file),
		cmocka_unit_test(test_run_pipes_exit_code),
		cmocka_unit_test(test_run_not_found_and_timeout),
		cmocka_unit_test(test_spawn_kill),
		cmocka_unit_test(test_killed_parent_leaves_no_child),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_agent_pipe),
	};

	cx_os_init(argv[0]);
	if (argc >= 3 && strcmp(argv[1], "--child") == 0)
		return child(argc, argv);
	if (cx_self_path(&self) != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup_dir, NULL);
}
