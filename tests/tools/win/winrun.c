/*
 * winrun.exe [NAME=VALUE ...] -- COMMAND-LINE: a test tool for Wine (make
 * check-windows).  Sets the environment variables given, then starts
 * COMMAND-LINE (one argument: a whole Windows command line) exactly as
 * Windows OpenSSH starts a ProxyCommand: CreateProcessW with no
 * application name and the string as it is, no shell, stdin/stdout/stderr
 * inherited.  Waits for it and exits with its exit code.  The child is in
 * a job object that ends it when this program ends (as ssh's SIGHUP ends
 * this one).
 *
 * Used to run the ProxyCommand that `cloudx-proxy.exe setup` wrote with
 * the Linux ssh (through Wine), and to give a program a %USERPROFILE%
 * Wine would not (a user folder with blanks and letters beyond ASCII).
 * Exit codes: the child's; 125 when this tool fails (one line).
 */
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <wchar.h>

static int
fail(const char *what)
{
	fprintf(stderr, "winrun: %s (error %lu)\n", what,
	    (unsigned long)GetLastError());
	return 125;
}

/* std handle n, inheritable, or NULL */
static HANDLE
inherit(DWORD n)
{
	HANDLE h = GetStdHandle(n);

	if (h != NULL && h != INVALID_HANDLE_VALUE)
		SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
	return h;
}

int
main(void)
{
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	wchar_t **argv, *eq;
	HANDLE job;
	DWORD code;
	int argc, i;

	argv = CommandLineToArgvW(GetCommandLineW(), &argc);
	if (argv == NULL)
		return fail("cannot read the command line");
	for (i = 1; i < argc && wcscmp(argv[i], L"--") != 0; i++) {
		if ((eq = wcschr(argv[i], L'=')) == NULL || eq == argv[i])
			return fail("usage: winrun [NAME=VALUE ...] -- COMMAND-LINE");
		*eq = L'\0';
		if (!SetEnvironmentVariableW(argv[i], eq + 1))
			return fail("cannot set a variable");
	}
	if (i + 2 != argc)
		return fail("usage: winrun [NAME=VALUE ...] -- COMMAND-LINE");
	if ((job = CreateJobObjectW(NULL, NULL)) == NULL)
		return fail("cannot create a job object");
	memset(&lim, 0, sizeof(lim));
	lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation,
	    &lim, sizeof(lim)))
		return fail("cannot set the job's limits");
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = inherit(STD_INPUT_HANDLE);
	si.hStdOutput = inherit(STD_OUTPUT_HANDLE);
	si.hStdError = inherit(STD_ERROR_HANDLE);
	/* argv[i + 1] is the command line; CreateProcessW may write to it */
	if (!CreateProcessW(NULL, argv[i + 1], NULL, NULL, TRUE,
	    CREATE_SUSPENDED, NULL, NULL, &si, &pi))
		return fail("CreateProcessW failed");
	if (!AssignProcessToJobObject(job, pi.hProcess)) {
		TerminateProcess(pi.hProcess, 125);
		return fail("cannot put the child in the job");
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	WaitForSingleObject(pi.hProcess, INFINITE);
	if (!GetExitCodeProcess(pi.hProcess, &code))
		return fail("no exit code");
	CloseHandle(pi.hProcess);
	return (int)code;
}
