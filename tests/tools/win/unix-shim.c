/*
 * unix-shim.exe: a test tool for Wine (make check-windows).  Copied as
 * NAME.exe (ssh-keygen.exe, ssh.exe) into a folder on the Wine PATH, it
 * stands for the Windows OpenSSH program NAME by running the Linux NAME
 * with the same arguments, so that our .exe files run a real ssh-keygen
 * or ssh where Windows would run Windows OpenSSH's.
 *
 * Wine starts a Linux program from CreateProcessW, but the handle it gives
 * back is signalled at once and its exit code is not the program's; so
 * the Linux side is tests/tools/win/unix-shim.sh (CX_SHIM_SH, a Windows
 * path), which runs NAME and then writes its exit status to a file this
 * program waits for (at most two minutes) and exits with.  Arguments that
 * are absolute Windows paths (C:\..., C:/...) are given to NAME as the
 * Unix paths Wine maps them to (wine_get_unix_file_name), as Windows
 * OpenSSH would see its own paths.  stdin, stdout and stderr are shared.
 * Exit codes: NAME's, or 125 when the shim itself fails (one line).
 */
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

typedef char *(CDECL *unix_name_fn)(const wchar_t *);

static unix_name_fn unix_name;

static int
fail(const char *what)
{
	fprintf(stderr, "unix-shim: %s (error %lu)\n", what,
	    (unsigned long)GetLastError());
	return 125;
}

/* 1 for "X:\..." or "X:/..." */
static int
is_win_path(const wchar_t *s)
{
	return iswalpha(s[0]) && s[1] == L':' && (s[2] == L'\\' || s[2] == L'/');
}

/* Appends s to the command line quoted by the rules CommandLineToArgvW
 * (and Wine, for a Linux program) splits by. */
static void
append_arg(wchar_t *cmd, size_t cap, const wchar_t *s)
{
	size_t n = wcslen(cmd), bs;

	if (n > 0 && n + 1 < cap)
		cmd[n++] = L' ';
	if (n + 1 < cap)
		cmd[n++] = L'"';
	for (; *s != L'\0' && n + 4 < cap; s++) {
		for (bs = 0; *s == L'\\'; s++)
			bs++;
		if (*s == L'\0' || *s == L'"') {
			/* backslashes before a quote (ours or the closing one)
			 * are doubled */
			while (bs-- > 0 && n + 4 < cap) {
				cmd[n++] = L'\\';
				cmd[n++] = L'\\';
			}
			if (*s == L'\0')
				break;
			cmd[n++] = L'\\';
			cmd[n++] = L'"';
		} else {
			while (bs-- > 0 && n + 3 < cap)
				cmd[n++] = L'\\';
			cmd[n++] = *s;
		}
	}
	if (n + 1 < cap)
		cmd[n++] = L'"';
	cmd[n] = L'\0';
}

/* The Unix path of a Windows one, as UTF-16 (malloc'd), or NULL. */
static wchar_t *
to_unix(const wchar_t *w)
{
	char *u = unix_name(w);
	wchar_t *out;
	int n;

	if (u == NULL)
		return NULL;
	n = MultiByteToWideChar(CP_UTF8, 0, u, -1, NULL, 0);
	out = n > 0 ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
	if (out != NULL)
		MultiByteToWideChar(CP_UTF8, 0, u, -1, out, n);
	HeapFree(GetProcessHeap(), 0, u);
	return out;
}

int
main(void)
{
	wchar_t self[MAX_PATH], name[MAX_PATH], sh[MAX_PATH], tmp[MAX_PATH];
	wchar_t status[MAX_PATH + 64], *cmd, *base, *dot, *ustatus, *u;
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	wchar_t **argv;
	size_t cap = 32768;
	ULONGLONG deadline;
	int argc, i, code = -1;
	FILE *f;

	unix_name = (unix_name_fn)(void *)GetProcAddress(
	    GetModuleHandleW(L"kernel32.dll"), "wine_get_unix_file_name");
	if (unix_name == NULL)
		return fail("not running under Wine");
	if (!GetEnvironmentVariableW(L"CX_SHIM_SH", sh, MAX_PATH) ||
	    !GetTempPathW(MAX_PATH, tmp))
		return fail("CX_SHIM_SH is not set");
	if (!GetModuleFileNameW(NULL, self, MAX_PATH))
		return fail("no module name");
	base = wcsrchr(self, L'\\');
	wcscpy(name, base != NULL ? base + 1 : self);
	if ((dot = wcsrchr(name, L'.')) != NULL && _wcsicmp(dot, L".exe") == 0)
		*dot = L'\0';
	swprintf(status, sizeof(status) / sizeof(status[0]),
	    L"%lsunix-shim.%lu.%llu.status", tmp,
	    (unsigned long)GetCurrentProcessId(),
	    (unsigned long long)GetTickCount64());
	if ((ustatus = to_unix(status)) == NULL)
		return fail("no Unix path for the status file");
	argv = CommandLineToArgvW(GetCommandLineW(), &argc);
	if (argv == NULL || (cmd = calloc(cap, sizeof(wchar_t))) == NULL)
		return fail("out of memory");
	append_arg(cmd, cap, sh);
	append_arg(cmd, cap, ustatus);
	append_arg(cmd, cap, name);
	for (i = 1; i < argc; i++) {
		u = is_win_path(argv[i]) ? to_unix(argv[i]) : NULL;
		append_arg(cmd, cap, u != NULL ? u : argv[i]);
		free(u);
	}
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si,
	    &pi))
		return fail("cannot start the Linux program");
	CloseHandle(pi.hThread);
	CloseHandle(pi.hProcess);
	/* the status file appears (renamed into place) when NAME ended */
	deadline = GetTickCount64() + 120000;
	while ((f = _wfopen(status, L"r")) == NULL) {
		if (GetTickCount64() > deadline)
			return fail("the Linux program did not end in 120 s");
		Sleep(5);
	}
	if (fscanf(f, "%d", &code) != 1)
		code = -1;
	fclose(f);
	DeleteFileW(status);
	return code >= 0 && code <= 255 ? code : fail("no exit status");
}
