/*
 * The OS layer for Windows (mingw-w64): os.h over the Win32 API.  UTF-8
 * inside, UTF-16 at every Windows call (argv through wmain, the
 * environment, paths).  Descriptors are C runtime descriptors
 * (_open_osfhandle) for files and pipes, SOCKETs for sockets; none is
 * inherited unless handed to a child explicitly.  Children run in one job
 * object that kills them when this process ends (JOB_OBJECT_LIMIT_
 * KILL_ON_JOB_CLOSE), so a killed driver leaves none behind.
 *
 * Wait statuses: the child's exit code (0-255 kept), or CX_WIN_KILLED |
 * signal number when this layer terminated it.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <aclapi.h>
#include <bcrypt.h>
#include <sddl.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utime.h>
#include <time.h>
#include <wchar.h>

#include "cxerr.h"
#include "connlog.h"
#include "log.h"
#include "os.h"

#define CX_WIN_KILLED	0x40000000

/* ---- text: UTF-8 <-> UTF-16 ---- */

int
cx_win_wide(const char *s, wchar_t **out)
{
	int n;

	*out = NULL;
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	if (n <= 0)
		return CX_ERR_INPUT;
	if ((*out = malloc((size_t)n * sizeof(wchar_t))) == NULL)
		return CX_ERR_NOMEM;
	if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, *out,
	    n) != n) {
		free(*out);
		*out = NULL;
		return CX_ERR_INPUT;
	}
	return 0;
}

int
cx_win_utf8(const wchar_t *w, char **out)
{
	int n;

	*out = NULL;
	n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, NULL, 0,
	    NULL, NULL);
	if (n <= 0)
		return CX_ERR_INPUT;
	if ((*out = malloc((size_t)n)) == NULL)
		return CX_ERR_NOMEM;
	if (WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, *out, n,
	    NULL, NULL) != n) {
		free(*out);
		*out = NULL;
		return CX_ERR_INPUT;
	}
	return 0;
}

/* errno for the last Windows error, for the callers that read errno */
static void
set_errno_win(void)
{
	switch (GetLastError()) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		errno = ENOENT;
		break;
	case ERROR_ACCESS_DENIED:
		errno = EACCES;
		break;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS:
		errno = EEXIST;
		break;
	default:
		errno = EIO;
	}
}

/* ---- the program's entry: argv in UTF-8 ---- */

int main(int argc, char **argv);
int wmain(int argc, wchar_t **wargv);

/* -municode makes the C runtime call wmain; the programs' main() gets
 * argv as UTF-8 (kept for the whole run). */
int
wmain(int argc, wchar_t **wargv)
{
	char **argv;
	int i;

	if ((argv = calloc((size_t)argc + 1, sizeof(*argv))) == NULL)
		return 1;
	for (i = 0; i < argc; i++) {
		if (cx_win_utf8(wargv[i], &argv[i]) != 0) {
			fputs("cannot convert the command line to UTF-8\n",
			    stderr);
			return 2;
		}
	}
	return main(argc, argv);
}

/* ---- C library extras (compat.c's counterparts) ---- */

void
cx_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		SecureZeroMemory(p, n);
}

void *
cx_reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}

int
cx_vasprintf(char **out, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	*out = NULL;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (*out = malloc((size_t)n + 1)) == NULL)
		return -1;
	if (vsnprintf(*out, (size_t)n + 1, fmt, ap) != n) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return n;
}

void *
cx_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
	const unsigned char *h = hay;
	size_t i;

	if (nlen == 0)
		return (void *)hay;
	for (i = 0; nlen <= hlen && i <= hlen - nlen; i++) {
		if (h[i] == *(const unsigned char *)needle &&
		    memcmp(h + i, needle, nlen) == 0)
			return (void *)(h + i);
	}
	return NULL;
}

time_t
cx_timegm(struct tm *tm)
{
	__time64_t t = _mkgmtime64(tm);

	return t == -1 || (time_t)t != t ? (time_t)-1 : (time_t)t;
}

void
cx_format_iso8601(time_t t, char out[21])
{
	struct tm tm;
	__time64_t t64 = t;

	if (_gmtime64_s(&tm, &t64) != 0)
		memset(&tm, 0, sizeof(tm));
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- start-up ---- */

static wchar_t *self_path_w;

/* "C:\x\cx-creds.exe" -> "cx-creds": the name messages start with, as
 * on POSIX systems */
static const char *
prog_name(const char *argv0)
{
	static char name[64];
	const char *b = argv0, *p;
	size_t n;

	if (argv0 == NULL)
		return argv0;
	for (p = argv0; *p; p++) {
		if (*p == '/' || *p == '\\' || *p == ':')
			b = p + 1;
	}
	n = strlen(b);
	if (n > 4 && _stricmp(b + n - 4, ".exe") == 0)
		n -= 4;
	snprintf(name, sizeof(name), "%.*s", (int)n, b);
	return name;
}

void
cx_os_init(const char *argv0)
{
	WSADATA wsa;

	/* no error boxes: a console program fails with an exit code */
	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
	/* the data we relay and write are bytes, not text */
	_setmode(0, _O_BINARY);
	_setmode(1, _O_BINARY);
	_setmode(2, _O_BINARY);
	(void)WSAStartup(MAKEWORD(2, 2), &wsa);
	cx_log_init(prog_name(argv0));
	cx_connlog_attach();	/* a connect's journal, if we are part of one */
}

enum cx_os
cx_os_host(void)
{
	return CX_OS_WINDOWS;
}

/* ---- time and randomness ---- */

uint64_t
cx_now_ms(void)
{
	return GetTickCount64();
}

int64_t
cx_wall_ms(void)
{
	FILETIME ft;
	ULARGE_INTEGER u;

	GetSystemTimePreciseAsFileTime(&ft);
	u.LowPart = ft.dwLowDateTime;
	u.HighPart = ft.dwHighDateTime;
	/* 100 ns ticks since 1601 to ms since 1970 */
	return (int64_t)(u.QuadPart / 10000) - INT64_C(11644473600000);
}

int
cx_random_bytes(void *p, size_t n)
{
	if (n > ULONG_MAX || !BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, (ULONG)n,
	    BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
		cx_error("cannot get random bytes");
		return CX_ERR_INTERNAL;
	}
	return 0;
}

/* ---- security: the current user, private DACLs, owner checks ---- */

/* The current user's SID (malloc'd TOKEN_USER; its User.Sid). */
static int
user_sid(TOKEN_USER **out)
{
	HANDLE tok;
	DWORD len = 0;

	*out = NULL;
	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return CX_ERR_IO;
	(void)GetTokenInformation(tok, TokenUser, NULL, 0, &len);
	if (len == 0 || (*out = malloc(len)) == NULL) {
		CloseHandle(tok);
		return len == 0 ? CX_ERR_IO : CX_ERR_NOMEM;
	}
	if (!GetTokenInformation(tok, TokenUser, *out, len, &len)) {
		CloseHandle(tok);
		free(*out);
		*out = NULL;
		return CX_ERR_IO;
	}
	CloseHandle(tok);
	return 0;
}

/*
 * A security descriptor whose protected DACL grants the current user full
 * control and nobody else anything (what Windows OpenSSH wants of a
 * private key); *sd is freed with LocalFree.
 */
static int
private_sd(PSECURITY_DESCRIPTOR *sd)
{
	TOKEN_USER *tu = NULL;
	char *ssid = NULL, *sddl = NULL;
	LPSTR s = NULL;
	int r;

	*sd = NULL;
	if ((r = user_sid(&tu)) != 0)
		return r;
	if (!ConvertSidToStringSidA(tu->User.Sid, &s)) {
		free(tu);
		return CX_ERR_IO;
	}
	/* P: protected (no inherited ACEs); FA for the user; OI/CI so that a
	 * folder's new files get the same */
	if (cx_asprintf(&sddl, "D:P(A;OICI;FA;;;%s)", s) < 0)
		r = CX_ERR_NOMEM;
	else if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl,
	    SDDL_REVISION_1, sd, NULL))
		r = CX_ERR_IO;
	LocalFree(s);
	free(sddl);
	free(ssid);
	free(tu);
	return r;
}

/* sd's DACL on the open file h, protected from inheritance */
static int
set_private_handle(HANDLE h, PSECURITY_DESCRIPTOR sd)
{
	PACL dacl = NULL;
	BOOL present = FALSE, def = FALSE;

	if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &def) || !present)
		return CX_ERR_IO;
	return SetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION |
	    PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL, dacl, NULL) ==
	    ERROR_SUCCESS ? 0 : CX_ERR_IO;
}

int
cx_win_set_private(const char *path)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL dacl = NULL;
	BOOL present = FALSE, def = FALSE;
	wchar_t *w = NULL;
	DWORD e;
	int r;

	if ((r = private_sd(&sd)) != 0)
		return r;
	if ((r = cx_win_wide(path, &w)) != 0)
		goto out;
	if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &def)) {
		r = CX_ERR_IO;
		goto out;
	}
	e = SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
	    NULL, NULL, dacl, NULL);
	r = e == ERROR_SUCCESS ? 0 : CX_ERR_IO;
 out:
	free(w);
	LocalFree(sd);
	return r;
}

/* The well-known SIDs that may own or write our files besides the user:
 * SYSTEM and the Administrators group (as on POSIX root may). */
static int
sid_is_admin_or_system(PSID sid)
{
	return IsWellKnownSid(sid, WinLocalSystemSid) ||
	    IsWellKnownSid(sid, WinBuiltinAdministratorsSid);
}

/*
 * 1 if the object (h, or else the file w) has a DACL whose ACEs let only
 * the user, SYSTEM and the Administrators in: what private_sd() made.
 * Used to set the private DACL again only where the creation's was not
 * kept: Wine keeps it, but SetSecurityInfo there merges the parent
 * folder's inheritable ACEs in (Everyone's, from a 0755 folder) even
 * into a protected DACL.
 */
static int
is_private(HANDLE h, const wchar_t *w)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	ACL_SIZE_INFORMATION ai;
	TOKEN_USER *tu = NULL;
	PACL dacl = NULL;
	DWORD e, i;
	void *ace;
	int ok = 0;

	e = h != NULL ? GetSecurityInfo(h, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd) :
	    GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd);
	if (e != ERROR_SUCCESS || dacl == NULL || user_sid(&tu) != 0 ||
	    !GetAclInformation(dacl, &ai, sizeof(ai), AclSizeInformation))
		goto out;
	ok = 1;
	for (i = 0; i < ai.AceCount && ok; i++) {
		ACCESS_ALLOWED_ACE *a;
		PSID sid;

		if (!GetAce(dacl, i, &ace)) {
			ok = 0;
			break;
		}
		if (((ACE_HEADER *)ace)->AceType != ACCESS_ALLOWED_ACE_TYPE ||
		    (((ACE_HEADER *)ace)->AceFlags & INHERIT_ONLY_ACE))
			continue;
		a = ace;
		sid = (PSID)&a->SidStart;
		if (a->Mask != 0 && !EqualSid(sid, tu->User.Sid) &&
		    !sid_is_admin_or_system(sid))
			ok = 0;
	}
 out:
	free(tu);
	LocalFree(sd);
	return ok;
}

#define WRITE_RIGHTS (FILE_WRITE_DATA | FILE_APPEND_DATA | WRITE_DAC | \
    WRITE_OWNER | DELETE | GENERIC_WRITE | GENERIC_ALL)

/*
 * The rule of cx_path_trusted on a security descriptor: owned by the user
 * (or SYSTEM/Administrators) and no ACE allowing writes to anyone else.
 */
static int
judge_sd(PSID owner, PACL dacl, char *why, size_t whylen)
{
	TOKEN_USER *tu = NULL;
	ACL_SIZE_INFORMATION ai;
	DWORD i;
	void *ace;
	PSID sid;
	int r = 0;

	if ((r = user_sid(&tu)) != 0) {
		snprintf(why, whylen, "not checkable (no user token)");
		return CX_ERR_DENIED;
	}
	if (owner == NULL || (!EqualSid(owner, tu->User.Sid) &&
	    !sid_is_admin_or_system(owner))) {
		snprintf(why, whylen, "owned by another user");
		r = CX_ERR_DENIED;
		goto out;
	}
	if (dacl == NULL) {	/* a NULL DACL lets everyone do everything */
		snprintf(why, whylen, "writable by others (no DACL)");
		r = CX_ERR_DENIED;
		goto out;
	}
	if (!GetAclInformation(dacl, &ai, sizeof(ai), AclSizeInformation)) {
		snprintf(why, whylen, "not checkable (unreadable DACL)");
		r = CX_ERR_DENIED;
		goto out;
	}
	for (i = 0; i < ai.AceCount; i++) {
		ACCESS_ALLOWED_ACE *a;

		if (!GetAce(dacl, i, &ace))
			continue;
		if (((ACE_HEADER *)ace)->AceType != ACCESS_ALLOWED_ACE_TYPE)
			continue;
		a = ace;
		sid = (PSID)&a->SidStart;
		if ((a->Mask & WRITE_RIGHTS) == 0 ||
		    EqualSid(sid, tu->User.Sid) || sid_is_admin_or_system(sid) ||
		    IsWellKnownSid(sid, WinCreatorOwnerSid))
			continue;
		snprintf(why, whylen, "writable by others");
		r = CX_ERR_DENIED;
		break;
	}
 out:
	free(tu);
	return r;
}

/* 1 if the file's owner is another (ordinary) user */
static int
owned_by_other(const wchar_t *w)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	TOKEN_USER *tu = NULL;
	int other = 0;

	if (GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL, &sd) !=
	    ERROR_SUCCESS)
		return 0;
	if (user_sid(&tu) == 0 && owner != NULL &&
	    !EqualSid(owner, tu->User.Sid) && !sid_is_admin_or_system(owner))
		other = 1;
	free(tu);
	LocalFree(sd);
	return other;
}

int
cx_path_trusted(const char *path, int flags, char *why, size_t whylen)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	wchar_t *w = NULL;
	DWORD attr, e;
	int r;

	why[0] = '\0';
	if ((r = cx_win_wide(path, &w)) != 0) {
		snprintf(why, whylen, "not a valid UTF-8 path");
		return CX_ERR_DENIED;
	}
	if ((attr = GetFileAttributesW(w)) == INVALID_FILE_ATTRIBUTES) {
		free(w);
		return CX_ERR_NOTFOUND;
	}
	if ((flags & CX_TRUST_DIR) && !(attr & FILE_ATTRIBUTE_DIRECTORY)) {
		snprintf(why, whylen, "not a folder");
		r = CX_ERR_DENIED;
	} else if ((flags & CX_TRUST_FILE) && (attr & FILE_ATTRIBUTE_DIRECTORY)) {
		snprintf(why, whylen, "not a regular file");
		r = CX_ERR_DENIED;
	} else if ((e = GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
	    OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
	    NULL, &dacl, NULL, &sd)) != ERROR_SUCCESS) {
		snprintf(why, whylen, "not checkable (error %lu)",
		    (unsigned long)e);
		r = CX_ERR_DENIED;
	} else {
		r = judge_sd(owner, dacl, why, whylen);
	}
	LocalFree(sd);
	free(w);
	return r;
}

/* ---- descriptors ---- */

int
cx_pipe(int fds[2])
{
	/* _O_NOINHERIT: the handles are not inheritable (close-on-exec) */
	return _pipe(fds, 65536, _O_BINARY | _O_NOINHERIT) == 0 ? 0 :
	    CX_ERR_IO;
}

int
cx_socket(int domain, int type, int protocol)
{
	SOCKET s = WSASocketW(domain, type, protocol, NULL, 0,
	    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);

	if (s == INVALID_SOCKET) {
		errno = EIO;
		return -1;
	}
	return (int)s;
}

ssize_t
cx_send(int fd, const void *p, size_t n)
{
	int k = send((SOCKET)fd, p, n > INT_MAX ? INT_MAX : (int)n, 0);

	if (k == SOCKET_ERROR) {
		errno = WSAGetLastError() == WSAEWOULDBLOCK ? EAGAIN : EPIPE;
		return -1;
	}
	return k;
}

/* An inheritable or private fd on a new handle h (closed on failure). */
static int
fd_of_handle(HANDLE h, int flags, int *fdp)
{
	int fd = _open_osfhandle((intptr_t)h, flags);

	if (fd == -1) {
		CloseHandle(h);
		return CX_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

int
cx_anon_file(const char *name, int inherit, int *fdp)
{
	wchar_t dir[MAX_PATH + 1], path[MAX_PATH + 1];
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, inherit ? TRUE : FALSE };
	PSECURITY_DESCRIPTOR sd = NULL;
	HANDLE h;
	int r;

	(void)name;
	*fdp = -1;
	if (GetTempPathW(MAX_PATH + 1, dir) == 0 ||
	    GetTempFileNameW(dir, L"cx", 0, path) == 0)
		return CX_ERR_IO;
	if ((r = private_sd(&sd)) != 0) {
		DeleteFileW(path);
		return r;
	}
	sa.lpSecurityDescriptor = sd;
	/* gone when the last handle closes, whoever holds it */
	h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
	    CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE,
	    NULL);
	LocalFree(sd);
	if (h == INVALID_HANDLE_VALUE) {
		DeleteFileW(path);
		return CX_ERR_IO;
	}
	return fd_of_handle(h, _O_BINARY | _O_RDWR, fdp);
}

/* 1 if fd is a socket (not a C runtime descriptor) */
static int
is_socket(int fd)
{
	int type = 0, len = sizeof(type);

	return getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type,
	    &len) == 0;
}

/* ---- signals: console control events ---- */

static volatile LONG sig_pending;
static HANDLE sig_event;
static int sig_fds[2] = { -1, -1 };
static HANDLE forward[8];
static CRITICAL_SECTION forward_lock;
static volatile LONG term_caught;

static BOOL WINAPI
on_ctrl(DWORD ev)
{
	int sig = ev == CTRL_C_EVENT || ev == CTRL_BREAK_EVENT ? SIGINT :
	    SIGTERM;
	char c = (char)sig;
	size_t i;

	InterlockedCompareExchange(&sig_pending, sig, 0);
	InterlockedCompareExchange(&term_caught, sig, 0);
	if (sig_event != NULL)
		SetEvent(sig_event);
	if (sig_fds[1] >= 0)
		(void)!_write(sig_fds[1], &c, 1);
	EnterCriticalSection(&forward_lock);
	for (i = 0; i < 8; i++) {
		if (forward[i] != NULL)
			TerminateProcess(forward[i], 128 + (unsigned)sig);
	}
	LeaveCriticalSection(&forward_lock);
	return TRUE;
}

static INIT_ONCE ctrl_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK
ctrl_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	(void)once;
	(void)param;
	(void)ctx;
	InitializeCriticalSection(&forward_lock);
	sig_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (_pipe(sig_fds, 256, _O_BINARY | _O_NOINHERIT) != 0)
		sig_fds[0] = sig_fds[1] = -1;
	return SetConsoleCtrlHandler(on_ctrl, TRUE);
}

int
cx_sig_catch(void)
{
	return InitOnceExecuteOnce(&ctrl_once, ctrl_init, NULL, NULL) ? 0 :
	    CX_ERR_IO;
}

int
cx_sig_pending(void)
{
	return (int)sig_pending;
}

int
cx_sig_fd(void)
{
	return sig_event != NULL ? sig_fds[0] : -1;
}

/* ---- processes ---- */

/* our children: pid -> process handle (for wait and kill) */
#define MAX_KIDS	64
static struct kid {
	DWORD pid;
	HANDLE h;
	int killed;	/* the signal we ended it with */
} kids[MAX_KIDS];
static HANDLE job;

static struct kid *
kid_of(pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_KIDS; i++) {
		if (kids[i].h != NULL && kids[i].pid == (DWORD)pid)
			return &kids[i];
	}
	return NULL;
}

void
cx_sig_forward(pid_t pid, int on)
{
	struct kid *k = kid_of(pid);
	size_t i;

	if (k == NULL || cx_sig_catch() != 0)
		return;
	EnterCriticalSection(&forward_lock);
	for (i = 0; i < 8; i++) {
		if (on && forward[i] == NULL) {
			forward[i] = k->h;
			break;
		}
		if (!on && forward[i] == k->h)
			forward[i] = NULL;
	}
	LeaveCriticalSection(&forward_lock);
}

const char *
cx_sig_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGKILL: return "SIGKILL";
	default: return "signal";
	}
}

/*
 * Appends arg to the command line at *b as CommandLineToArgvW and the C
 * runtime split it: plain when it has no blank or quote, else in quotes
 * with each quote escaped and the backslashes before a quote (or before
 * the closing quote) doubled.
 */
static int
quote_arg(struct cx_buf *b, const char *arg, int first)
{
	const char *p;
	size_t nbs;
	int r = 0;

	if (*arg != '\0' && strpbrk(arg, " \t\n\v\"") == NULL)
		return cx_buf_append(b, arg, strlen(arg));
	if (first) {
		/* the program's name is split without escapes: quotes only */
		if (strchr(arg, '"') != NULL)
			return CX_ERR_INPUT;
		if ((r = cx_buf_append(b, "\"", 1)) == 0 &&
		    (r = cx_buf_append(b, arg, strlen(arg))) == 0)
			r = cx_buf_append(b, "\"", 1);
		return r;
	}
	if ((r = cx_buf_append(b, "\"", 1)) != 0)
		return r;
	for (p = arg;; p++) {
		for (nbs = 0; *p == '\\'; p++)
			nbs++;
		if (*p == '\0') {
			while (r == 0 && nbs-- > 0)
				r = cx_buf_append(b, "\\\\", 2);
			break;
		}
		if (*p == '"') {
			while (r == 0 && nbs-- > 0)
				r = cx_buf_append(b, "\\\\", 2);
			if (r == 0)
				r = cx_buf_append(b, "\\\"", 2);
		} else {
			while (r == 0 && nbs-- > 0)
				r = cx_buf_append(b, "\\", 1);
			if (r == 0)
				r = cx_buf_append(b, p, 1);
		}
		if (r != 0)
			return r;
	}
	return r == 0 ? cx_buf_append(b, "\"", 1) : r;
}

int
cx_win_cmdline(char *const argv[], char **out)
{
	struct cx_buf b;
	size_t i;
	int r = 0;

	*out = NULL;
	cx_buf_init(&b, 32768 * 4);
	for (i = 0; r == 0 && argv[i] != NULL; i++) {
		if (i > 0)
			r = cx_buf_append(&b, " ", 1);
		if (r == 0)
			r = quote_arg(&b, argv[i], i == 0);
	}
	if (r != 0 || (*out = cx_buf_steal_str(&b)) == NULL) {
		cx_buf_clean_up(&b);
		return r ? r : CX_ERR_NOMEM;
	}
	return 0;
}

/* The program to run: argv0 as a path when it has a slash, else searched
 * in PATH (".exe" added when it has no extension).  *out malloc'd. */
static int
find_exe(const char *argv0, wchar_t **out)
{
	wchar_t *w = NULL, buf[32768];
	DWORD n;
	int r;

	*out = NULL;
	if ((r = cx_win_wide(argv0, &w)) != 0)
		return r;
	if (wcspbrk(w, L"/\\:") != NULL) {
		DWORD a = GetFileAttributesW(w);

		if (a == INVALID_FILE_ATTRIBUTES || (a & FILE_ATTRIBUTE_DIRECTORY)) {
			/* "prog" given with a folder but without .exe */
			size_t l = wcslen(w);
			wchar_t *e = realloc(w, (l + 5) * sizeof(wchar_t));

			if (e == NULL) {
				free(w);
				return CX_ERR_NOMEM;
			}
			w = e;
			wcscpy(w + l, L".exe");
			a = GetFileAttributesW(w);
			if (a == INVALID_FILE_ATTRIBUTES ||
			    (a & FILE_ATTRIBUTE_DIRECTORY)) {
				free(w);
				return CX_ERR_NOTFOUND;
			}
		}
		*out = w;
		return 0;
	}
	n = SearchPathW(NULL, w, L".exe", 32768, buf, NULL);
	free(w);
	if (n == 0 || n >= 32768)
		return CX_ERR_NOTFOUND;
	return (*out = _wcsdup(buf)) ? 0 : CX_ERR_NOMEM;
}

static HANDLE
the_job(void)
{
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;

	if (job != NULL)
		return job;
	if ((job = CreateJobObjectW(NULL, NULL)) == NULL)
		return NULL;
	memset(&li, 0, sizeof(li));
	li.BasicLimitInformation.LimitFlags =
	    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	(void)SetInformationJobObject(job, JobObjectExtendedLimitInformation,
	    &li, sizeof(li));
	return job;
}

/* An inheritable duplicate of fd's handle (NULL for fd -1: the null
 * device is opened). */
static HANDLE
inheritable(int fd, int write)
{
	HANDLE src, dup = NULL;
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };

	if (fd < 0)
		return CreateFileW(L"NUL", write ? GENERIC_WRITE : GENERIC_READ,
		    FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0,
		    NULL);
	src = (HANDLE)_get_osfhandle(fd);
	if (src == INVALID_HANDLE_VALUE)
		return INVALID_HANDLE_VALUE;
	if (!DuplicateHandle(GetCurrentProcess(), src, GetCurrentProcess(),
	    &dup, 0, TRUE, DUPLICATE_SAME_ACCESS))
		return INVALID_HANDLE_VALUE;
	return dup;
}

/* handles cx_fd_pass_arg named for the next start */
static HANDLE pass_h[4];
static size_t pass_n;

int
cx_fd_pass_arg(int fd, char out[32])
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	if (h == INVALID_HANDLE_VALUE || pass_n == sizeof(pass_h) /
	    sizeof(pass_h[0]) || !SetHandleInformation(h, HANDLE_FLAG_INHERIT,
	    HANDLE_FLAG_INHERIT))
		return CX_ERR_IO;
	pass_h[pass_n++] = h;
	snprintf(out, 32, "%llu", (unsigned long long)(uintptr_t)h);
	return 0;
}

int
cx_fd_from_arg(const char *s, int *fdp)
{
	long long v;

	*fdp = -1;
	/* handle values are small multiples of 4 */
	if (cx_strtonum(s, 1, 1LL << 30, &v) != 0)
		return CX_ERR_INPUT;
	if ((*fdp = _open_osfhandle((intptr_t)v, _O_RDONLY | _O_BINARY)) < 0)
		return CX_ERR_INPUT;
	return 0;
}

/*
 * Starts argv with the given standard handles (inheritable, closed here
 * afterwards), suspended, in the job, then resumed; the only handles the
 * child inherits are those three and the ones cx_fd_pass_arg named.
 */
static int
start(char *const argv[], HANDLE hin, HANDLE hout, HANDLE herr, pid_t *pidp)
{
	STARTUPINFOEXW si;
	PROCESS_INFORMATION pi;
	LPPROC_THREAD_ATTRIBUTE_LIST al = NULL;
	HANDLE list[3 + sizeof(pass_h) / sizeof(pass_h[0])];
	SIZE_T alsz = 0;
	wchar_t *exe = NULL, *wcmd = NULL;
	char *cmd = NULL;
	size_t i, nl = 0, nstd = 0, slot;
	int r;

	*pidp = -1;
	for (slot = 0; slot < MAX_KIDS && kids[slot].h != NULL; slot++)
		;
	if (slot == MAX_KIDS) {
		r = CX_ERR_IO;
		goto out;
	}
	if ((r = find_exe(argv[0], &exe)) != 0) {
		if (r == CX_ERR_NOTFOUND)
			cx_error("cannot run '%s': not found", argv[0]);
		goto out;
	}
	if ((r = cx_win_cmdline(argv, &cmd)) != 0 ||
	    (r = cx_win_wide(cmd, &wcmd)) != 0)
		goto out;
	memset(&si, 0, sizeof(si));
	si.StartupInfo.cb = sizeof(si);
	si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
	si.StartupInfo.hStdInput = hin;
	si.StartupInfo.hStdOutput = hout;
	si.StartupInfo.hStdError = herr;
	list[nl++] = hin;
	if (hout != hin)
		list[nl++] = hout;
	if (herr != hin && herr != hout)
		list[nl++] = herr;
	nstd = nl;
	for (i = 0; i < pass_n; i++)
		list[nl++] = pass_h[i];
	pass_n = 0;
	(void)InitializeProcThreadAttributeList(NULL, 1, 0, &alsz);
	if ((al = malloc(alsz)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (InitializeProcThreadAttributeList(al, 1, 0, &alsz) &&
	    UpdateProcThreadAttribute(al, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
	    list, nl * sizeof(HANDLE), NULL, NULL))
		si.lpAttributeList = al;
	if (!CreateProcessW(exe, wcmd, NULL, NULL, TRUE,
	    CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT |
	    (si.lpAttributeList ? EXTENDED_STARTUPINFO_PRESENT : 0),
	    NULL, NULL, &si.StartupInfo, &pi)) {
		cx_error("cannot run '%s' (Windows error %lu)", argv[0],
		    (unsigned long)GetLastError());
		r = CX_ERR_IO;
		goto out;
	}
	if (the_job() != NULL)
		(void)AssignProcessToJobObject(job, pi.hProcess);
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	kids[slot].pid = pi.dwProcessId;
	kids[slot].h = pi.hProcess;
	kids[slot].killed = 0;
	*pidp = (pid_t)pi.dwProcessId;
	r = 0;
 out:
	if (si.lpAttributeList != NULL)
		DeleteProcThreadAttributeList(al);
	free(al);
	/* (the passed handles stay the caller's) */
	for (i = 0; i < nstd; i++)
		CloseHandle(list[i]);
	free(exe);
	free(wcmd);
	free(cmd);
	return r;
}

int
cx_spawn(char *const argv[], int infd, int outfd, pid_t *pidp)
{
	HANDLE hin = inheritable(infd, 0), hout = inheritable(outfd, 1);
	HANDLE herr = inheritable(2, 1);

	if (hin == INVALID_HANDLE_VALUE || hout == INVALID_HANDLE_VALUE ||
	    herr == INVALID_HANDLE_VALUE) {
		if (hin != INVALID_HANDLE_VALUE) CloseHandle(hin);
		if (hout != INVALID_HANDLE_VALUE) CloseHandle(hout);
		if (herr != INVALID_HANDLE_VALUE) CloseHandle(herr);
		*pidp = -1;
		return CX_ERR_IO;
	}
	return start(argv, hin, hout, herr, pidp);
}

/* The wait status of an ended child (and its slot freed). */
static int
reap(struct kid *k)
{
	DWORD code = 0;
	int st;

	(void)GetExitCodeProcess(k->h, &code);
	st = k->killed ? CX_WIN_KILLED | k->killed : (int)(code & 0xff);
	cx_sig_forward((pid_t)k->pid, 0);
	CloseHandle(k->h);
	k->h = NULL;
	return st;
}

int
cx_wait(pid_t pid, int *status)
{
	struct kid *k = kid_of(pid);

	if (k == NULL)
		return CX_ERR_IO;
	if (WaitForSingleObject(k->h, INFINITE) != WAIT_OBJECT_0)
		return CX_ERR_IO;
	*status = reap(k);
	return 0;
}

int
cx_try_wait(pid_t pid, int *status)
{
	struct kid *k = kid_of(pid);

	if (k == NULL)
		return CX_ERR_IO;
	if (WaitForSingleObject(k->h, 0) != WAIT_OBJECT_0)
		return 0;
	*status = reap(k);
	return 1;
}

int
cx_kill(pid_t pid, int sig)
{
	struct kid *k = kid_of(pid);

	if (k == NULL)
		return CX_ERR_IO;
	if (sig == 0)
		return 0;
	/* Windows has no signal to send a console program we do not share a
	 * console group with: every signal ends it */
	if (WaitForSingleObject(k->h, 0) == WAIT_OBJECT_0)
		return 0;
	if (k->killed == 0)
		k->killed = sig;
	return TerminateProcess(k->h, 128 + (unsigned)sig) ? 0 : CX_ERR_IO;
}

int
cx_exec(char *const argv[])
{
	pid_t pid;
	int st;

	/* no exec on Windows: run it with our standard handles, then end
	 * with its exit code */
	if (cx_spawn(argv, 0, 1, &pid) != 0) {
		errno = ENOENT;
		return -1;
	}
	cx_sig_forward(pid, 1);
	if (cx_wait(pid, &st) != 0) {
		errno = EIO;
		return -1;
	}
	ExitProcess(st & CX_WIN_KILLED ? 128 + (unsigned)(st & 0xff) :
	    (unsigned)st);
}

int
cx_wait_exit(int status)
{
	return status & CX_WIN_KILLED ? -1 : status & 0xff;
}

int
cx_wait_signal(int status)
{
	return status & CX_WIN_KILLED ? status & 0xff : 0;
}

int
cx_os_spawn(char *const argv[], int *fd0, int *fd1, int *fd2, pid_t *pidp)
{
	int *io[3] = { fd0, fd1, fd2 }, ours[3] = { -1, -1, -1 }, p[2], i, r;
	HANDLE h[3] = { NULL, NULL, NULL };

	*pidp = -1;
	for (i = 0; i < 3; i++) {
		if (io[i] == NULL) {
			h[i] = i == 2 ? inheritable(2, 1) : inheritable(-1, i);
		} else if (*io[i] >= 0) {
			h[i] = inheritable(*io[i], i > 0);
		} else {
			if (cx_pipe(p) != 0) {
				r = CX_ERR_IO;
				goto fail;
			}
			ours[i] = i == 0 ? p[1] : p[0];
			h[i] = inheritable(i == 0 ? p[0] : p[1], i > 0);
			_close(i == 0 ? p[0] : p[1]);
		}
		if (h[i] == INVALID_HANDLE_VALUE) {
			h[i] = NULL;
			r = CX_ERR_IO;
			goto fail;
		}
	}
	r = start(argv, h[0], h[1], h[2], pidp);
	/* start() closed the handles */
	memset(h, 0, sizeof(h));
	if (r != 0)
		goto fail;
	for (i = 0; i < 3; i++) {
		if (io[i] != NULL && *io[i] < 0)
			*io[i] = ours[i];
	}
	return 0;
 fail:
	for (i = 0; i < 3; i++) {
		if (h[i] != NULL)
			CloseHandle(h[i]);
		if (ours[i] >= 0)
			_close(ours[i]);
	}
	return r;
}

int
cx_os_reap(pid_t pid, int nohang, int *wstatus)
{
	int r = nohang ? cx_try_wait(pid, wstatus) : cx_wait(pid, wstatus);

	if (r < 0)
		return r;
	return nohang ? (r == 1 ? 0 : 1) : 0;
}

void
cx_os_kill(pid_t pid, int sig)
{
	(void)cx_kill(pid, sig);
}

int
cx_os_exit_code(int wstatus, int *code)
{
	if (wstatus & CX_WIN_KILLED) {
		*code = 128 + (wstatus & 0xff);
		return 0;
	}
	*code = wstatus & 0xff;
	return 1;
}

/* ---- cx_run: a child fed and drained by threads ---- */

struct pump {
	HANDLE h;
	const void *in;		/* writer: the bytes to feed */
	size_t inlen;
	struct cx_buf *out;	/* reader: where they go (NULL: dropped) */
	int toobig;
};

static DWORD WINAPI
pump_write(LPVOID arg)
{
	struct pump *p = arg;
	const char *q = p->in;
	size_t left = p->inlen;
	DWORD n;

	while (left > 0 && WriteFile(p->h, q, left > 65536 ? 65536 :
	    (DWORD)left, &n, NULL)) {
		q += n;
		left -= n;
	}
	CloseHandle(p->h);
	p->h = NULL;
	return 0;
}

static DWORD WINAPI
pump_read(LPVOID arg)
{
	struct pump *p = arg;
	char b[16384];
	DWORD n;

	while (ReadFile(p->h, b, sizeof(b), &n, NULL) && n > 0) {
		if (p->out != NULL && !p->toobig &&
		    cx_buf_append(p->out, b, n) != 0)
			p->toobig = 1;
	}
	return 0;
}

int
cx_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, struct cx_buf *err, int timeout_ms, int *status)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	HANDLE rd[3] = { NULL, NULL, NULL }, wr[3] = { NULL, NULL, NULL };
	HANDLE ch[3], th[3] = { NULL, NULL, NULL }, waits[2];
	struct pump pu[3];
	uint64_t deadline = timeout_ms > 0 ? cx_now_ms() + (uint64_t)timeout_ms : 0;
	struct kid *k;
	pid_t pid = -1;
	DWORD w, tmo;
	int r = 0, i;

	*status = 0;
	(void)cx_sig_catch();
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
	memset(pu, 0, sizeof(pu));
	/* our ends stay private; the child's are made inheritable by start */
	for (i = 0; i < 3; i++) {
		if ((i == 0 && in == NULL) || (i == 1 && out == NULL) ||
		    (i == 2 && err == NULL))
			continue;
		if (!CreatePipe(&rd[i], &wr[i], &sa, 0)) {
			r = CX_ERR_IO;
			goto out;
		}
	}
	ch[0] = rd[0] ? rd[0] : NULL;
	ch[1] = wr[1] ? wr[1] : NULL;
	ch[2] = wr[2] ? wr[2] : NULL;
	for (i = 0; i < 3; i++) {
		HANDLE d = NULL;

		if (ch[i] == NULL) {
			d = i == 2 ? inheritable(2, 1) : inheritable(-1, i);
		} else if (!DuplicateHandle(GetCurrentProcess(), ch[i],
		    GetCurrentProcess(), &d, 0, TRUE, DUPLICATE_SAME_ACCESS)) {
			d = INVALID_HANDLE_VALUE;
		}
		ch[i] = d;
		if (d == INVALID_HANDLE_VALUE) {
			while (i-- > 0)
				CloseHandle(ch[i]);
			r = CX_ERR_IO;
			goto out;
		}
	}
	if ((r = start(argv, ch[0], ch[1], ch[2], &pid)) != 0)
		goto out;
	/* the child's ends, ours no more: EOF comes when it ends */
	for (i = 0; i < 3; i++) {
		HANDLE *theirs = i == 0 ? &rd[0] : &wr[i];

		if (*theirs != NULL) {
			CloseHandle(*theirs);
			*theirs = NULL;
		}
	}
	if (wr[0] != NULL) {
		pu[0].h = wr[0];
		wr[0] = NULL;
		pu[0].in = in;
		pu[0].inlen = inlen;
		th[0] = CreateThread(NULL, 0, pump_write, &pu[0], 0, NULL);
	}
	for (i = 1; i < 3; i++) {
		if (rd[i] == NULL)
			continue;
		pu[i].h = rd[i];
		pu[i].out = i == 1 ? out : err;
		th[i] = CreateThread(NULL, 0, pump_read, &pu[i], 0, NULL);
	}
	k = kid_of(pid);
	waits[0] = k->h;
	waits[1] = sig_event;
	for (;;) {
		tmo = INFINITE;
		if (deadline != 0) {
			uint64_t now = cx_now_ms();

			tmo = now >= deadline ? 0 : (DWORD)(deadline - now);
		}
		w = WaitForMultipleObjects(sig_event ? 2 : 1, waits, FALSE, tmo);
		if (w == WAIT_OBJECT_0)
			break;
		if (w == WAIT_OBJECT_0 + 1 || w == WAIT_TIMEOUT) {
			r = w == WAIT_TIMEOUT ? CX_ERR_TIMEOUT : CX_ERR_CANCELLED;
			(void)cx_kill(pid, w == WAIT_TIMEOUT ? SIGKILL :
			    cx_sig_pending());
			WaitForSingleObject(k->h, INFINITE);
			break;
		}
		r = CX_ERR_IO;
		(void)cx_kill(pid, SIGKILL);
		WaitForSingleObject(k->h, INFINITE);
		break;
	}
	*status = reap(k);
	/* the pipes end with the child (and any grandchild, in the job) */
	for (i = 0; i < 3; i++) {
		if (th[i] == NULL)
			continue;
		if (WaitForSingleObject(th[i], 2000) != WAIT_OBJECT_0)
			CancelSynchronousIo(th[i]);
		WaitForSingleObject(th[i], INFINITE);
		CloseHandle(th[i]);
	}
	if (r == 0 && (pu[1].toobig || pu[2].toobig))
		r = CX_ERR_TOOBIG;
 out:
	for (i = 0; i < 3; i++) {
		if (rd[i] != NULL)
			CloseHandle(rd[i]);
		if (wr[i] != NULL)
			CloseHandle(wr[i]);
		if (i > 0 && pu[i].h != NULL)
			CloseHandle(pu[i].h);
	}
	if (pu[0].h != NULL)
		CloseHandle(pu[0].h);
	return r;
}

/* ---- waiting ---- */

/* Readiness of a pipe or file descriptor: IN when bytes (or EOF) wait,
 * OUT always (pipe writes block only when the pipe is full). */
static int
fd_ready(int fd, int want)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	DWORD avail = 0;
	int got = 0;

	if (h == INVALID_HANDLE_VALUE)
		return CX_OS_HUP;
	if (want & CX_OS_IN) {
		if (GetFileType(h) != FILE_TYPE_PIPE)
			got |= CX_OS_IN;
		else if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL))
			got |= CX_OS_IN | CX_OS_HUP;
		else if (avail > 0)
			got |= CX_OS_IN;
	}
	if (want & CX_OS_OUT)
		got |= CX_OS_OUT;
	return got;
}

int
cx_os_poll(struct cx_os_pfd *fds, size_t n, int timeout_ms)
{
	uint64_t end = timeout_ms < 0 ? 0 : cx_now_ms() + (uint64_t)timeout_ms;
	WSAPOLLFD pf[16];
	size_t i, ns;
	int ready, k;

	for (;;) {
		ready = 0;
		ns = 0;
		for (i = 0; i < n; i++) {
			fds[i].got = 0;
			if (fds[i].fd < 0)
				continue;
			if (is_socket(fds[i].fd)) {
				if (ns < 16) {
					pf[ns].fd = (SOCKET)fds[i].fd;
					pf[ns].events = (fds[i].want & CX_OS_IN ?
					    POLLRDNORM : 0) |
					    (fds[i].want & CX_OS_OUT ? POLLWRNORM : 0);
					pf[ns].revents = 0;
					ns++;
				}
				continue;
			}
			fds[i].got = fd_ready(fds[i].fd, fds[i].want);
		}
		if (ns > 0 && WSAPoll(pf, (ULONG)ns, 0) > 0) {
			for (i = 0, k = 0; i < n; i++) {
				if (fds[i].fd < 0 || !is_socket(fds[i].fd))
					continue;
				if (pf[k].revents & (POLLRDNORM | POLLERR))
					fds[i].got |= CX_OS_IN;
				if (pf[k].revents & POLLWRNORM)
					fds[i].got |= CX_OS_OUT;
				if (pf[k].revents & POLLHUP)
					fds[i].got |= CX_OS_HUP | CX_OS_IN;
				k++;
			}
		}
		for (i = 0; i < n; i++)
			ready += fds[i].got != 0;
		if (ready > 0 || term_caught || sig_pending)
			return ready;
		if (timeout_ms >= 0 && cx_now_ms() >= end)
			return 0;
		/* pipes cannot be waited on with sockets: look again soon */
		if (sig_event != NULL)
			WaitForSingleObject(sig_event, 5);
		else
			Sleep(5);
	}
}

int
cx_wait_fd(int fd, short events, uint64_t deadline)
{
	struct cx_os_pfd p = { fd, (events & POLLIN ? CX_OS_IN : 0) |
	    (events & POLLOUT ? CX_OS_OUT : 0), 0 };
	uint64_t now;

	for (;;) {
		if (cx_sig_pending())
			return CX_ERR_CANCELLED;
		now = cx_now_ms();
		if (now >= deadline)
			return CX_ERR_TIMEOUT;
		if (fd < 0) {
			if (cx_sleep_ms((long)(deadline - now)) != 0)
				return CX_ERR_CANCELLED;
			return CX_ERR_TIMEOUT;
		}
		if (cx_os_poll(&p, 1, (int)(deadline - now > 100 ? 100 :
		    deadline - now)) > 0 && p.got != 0)
			return 0;
	}
}

int
cx_sleep_ms(long ms)
{
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
	if (sig_event != NULL)
		return WaitForSingleObject(sig_event, (DWORD)ms) ==
		    WAIT_OBJECT_0 ? CX_ERR_CANCELLED : 0;
	Sleep((DWORD)ms);
	return 0;
}

int
cx_ppoll(struct pollfd *pfd, nfds_t n, const struct timespec *tmo,
    const sigset_t *sigmask)
{
	int ms = tmo == NULL ? -1 : (int)(tmo->tv_sec * 1000 +
	    tmo->tv_nsec / 1000000);
	int k;

	(void)sigmask;
	if (cx_sig_pending()) {
		errno = EINTR;
		return -1;
	}
	/* sockets only (the callers poll sockets); a signal is seen within
	 * 50 ms */
	for (;;) {
		int slice = ms < 0 || ms > 50 ? 50 : ms;

		k = WSAPoll(pfd, (ULONG)n, slice);
		if (k != 0)
			return k < 0 ? (errno = EIO, -1) : k;
		if (cx_sig_pending()) {
			errno = EINTR;
			return -1;
		}
		if (ms >= 0 && (ms -= slice) <= 0)
			return 0;
	}
}

/* ---- the terminal ---- */

int
cx_tty_open(int *fdp)
{
	HANDLE h = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);

	*fdp = -1;
	if (h == INVALID_HANDLE_VALUE)
		return CX_ERR_NOTFOUND;
	return fd_of_handle(h, _O_BINARY | _O_RDONLY, fdp);
}

int
cx_isatty(int fd)
{
	DWORD mode;
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	/* _isatty is true for NUL too: a console has a console mode */
	return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode);
}

int
cx_os_isatty(int fd)
{
	return cx_isatty(fd);
}

int
cx_tty_echo_off(int fd, void **saved)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	DWORD mode, *keep;

	*saved = NULL;
	if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
		return 0;
	if ((keep = malloc(sizeof(*keep))) == NULL)
		return CX_ERR_NOMEM;
	*keep = mode;
	if (!SetConsoleMode(h, mode & ~(DWORD)ENABLE_ECHO_INPUT)) {
		free(keep);
		return CX_ERR_IO;
	}
	*saved = keep;
	return 0;
}

void
cx_tty_restore(int fd, void *saved)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	if (saved == NULL)
		return;
	if (h != INVALID_HANDLE_VALUE)
		SetConsoleMode(h, *(DWORD *)saved);
	free(saved);
}

int
cx_os_term_cols(int fd)
{
	CONSOLE_SCREEN_BUFFER_INFO ci;
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	if (h != INVALID_HANDLE_VALUE && GetConsoleScreenBufferInfo(h, &ci))
		return ci.srWindow.Right - ci.srWindow.Left + 1;
	return 80;
}

void
cx_os_catch_term_signals(void)
{
	(void)cx_sig_catch();
}

int
cx_os_signal_caught(void)
{
	return (int)term_caught;
}

/* ---- folders ---- */

/* An environment variable as UTF-8 (*out malloc'd), CX_ERR_NOTFOUND when
 * unset or empty. */
static int
env_utf8(const wchar_t *name, char **out)
{
	const wchar_t *v = _wgetenv(name);

	*out = NULL;
	if (v == NULL || *v == L'\0')
		return CX_ERR_NOTFOUND;
	return cx_win_utf8(v, out);
}

int
cx_home_dir(char **out)
{
	int r = env_utf8(L"USERPROFILE", out);
	char *p;

	/* forward slashes, as the paths joined to it (and what Windows
	 * OpenSSH's IdentityFile wants) */
	for (p = r == 0 ? *out : NULL; p != NULL && *p; p++) {
		if (*p == '\\')
			*p = '/';
	}

	if (r == CX_ERR_NOTFOUND)
		cx_error("cannot find the home folder (%%USERPROFILE%% is not set)");
	return r == CX_ERR_NOTFOUND ? CX_ERR_IO : r;
}

/* %LOCALAPPDATA%\cloudx-proxy (else ~/AppData/Local/cloudx-proxy) */
static int
state_dir(char **out)
{
	char *base = NULL;
	int r;

	*out = NULL;
	if ((r = env_utf8(L"LOCALAPPDATA", &base)) == CX_ERR_NOTFOUND)
		r = cx_expand_user("~/AppData/Local", &base);
	if (r == 0)
		r = cx_path_join(base, "cloudx-proxy", out);
	free(base);
	return r;
}

int
cx_state_path(const char *name, char **out)
{
	char *d = NULL;
	int r;

	if ((r = state_dir(&d)) == 0)
		r = cx_path_join(d, name, out);
	free(d);
	return r;
}

int
cx_file_exists(const char *path)
{
	wchar_t *w = NULL;
	int r;

	if (cx_win_wide(path, &w) != 0)
		return 0;
	r = GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
	free(w);
	return r;
}

int
cx_set_mode(const char *path, mode_t mode)
{
	if ((mode & 077) != 0)
		return 0;
	if (cx_win_set_private(path) != 0) {
		errno = EACCES;
		return CX_ERR_IO;
	}
	return 0;
}

int
cx_path_is_absolute(const char *path)
{
	int sep0 = path[0] == '/' || path[0] == '\\';

	return (isalpha((unsigned char)path[0]) && path[1] == ':' &&
	    (path[2] == '/' || path[2] == '\\')) ||
	    (sep0 && (path[1] == '/' || path[1] == '\\'));
}

int
cx_is_dir(const char *path)
{
	wchar_t *w = NULL;
	DWORD a;

	if (cx_win_wide(path, &w) != 0)
		return 0;
	a = GetFileAttributesW(w);
	free(w);
	return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

int
cx_mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path), *q;
	wchar_t *w = NULL;
	PSECURITY_DESCRIPTOR sd = NULL;
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	int r = 0;

	if (p == NULL)
		return CX_ERR_NOMEM;
	/* a private folder is private from its creation: made with the
	 * protected private DACL, never with the parent's inherited ACEs
	 * first (a folder made in a %USERPROFILE% Everyone may read was
	 * readable by Everyone under Wine) */
	if ((mode & 077) == 0) {
		if ((r = private_sd(&sd)) != 0) {
			free(p);
			return r;
		}
		sa.lpSecurityDescriptor = sd;
	}
	for (q = p; *q; q++) {
		if (*q == '\\')
			*q = '/';
	}
	/* past "C:/", "//server/share/" and a leading "/" */
	q = p;
	if (q[0] && q[1] == ':')
		q += 2;
	else if (q[0] == '/' && q[1] == '/' && (q = strchr(q + 2, '/')) != NULL)
		q = strchr(q + 1, '/');
	if (q == NULL)
		q = p + strlen(p);
	for (;;) {
		while (*q == '/')
			q++;
		q = strchr(q, '/');
		if (q != NULL)
			*q = '\0';
		if (*p != '\0' && (r = cx_win_wide(p, &w)) == 0) {
			if (CreateDirectoryW(w, sd != NULL ? &sa : NULL)) {
				/* set again only if the system did not keep
				 * it (is_private: not so under Wine) */
				if (sd != NULL && !is_private(NULL, w) &&
				    (r = cx_win_set_private(p)) != 0)
					cx_error("cannot make '%s' private", p);
			} else if (GetLastError() != ERROR_ALREADY_EXISTS) {
				cx_error("cannot create folder '%s' (Windows error %lu)",
				    p, (unsigned long)GetLastError());
				r = CX_ERR_IO;
			} else if (!cx_is_dir(p)) {
				cx_error("cannot create folder '%s': a file is in the way",
				    p);
				r = CX_ERR_IO;
			}
			free(w);
			w = NULL;
		}
		if (r != 0 || q == NULL)
			break;
		*q++ = '/';
	}
	LocalFree(sd);
	free(p);
	return r;
}

/* ---- files ---- */

int
cx_read_fd(int fd, size_t max, struct cx_buf *out)
{
	char b[16384];
	size_t total = 0;
	int n;

	for (;;) {
		if (is_socket(fd)) {
			n = recv((SOCKET)fd, b, sizeof(b), 0);
		} else {
			n = _read(fd, b, sizeof(b));
		}
		if (n < 0)
			return CX_ERR_IO;
		if (n == 0)
			return 0;
		if ((total += (size_t)n) > max)
			return CX_ERR_TOOBIG;
		if (cx_buf_append(out, b, (size_t)n) != 0)
			return CX_ERR_TOOBIG;
	}
}

static int
open_w(const char *path, int flags, int mode, int *fdp)
{
	wchar_t *w = NULL;
	int r;

	*fdp = -1;
	if ((r = cx_win_wide(path, &w)) != 0)
		return r;
	*fdp = _wopen(w, flags | _O_BINARY | _O_NOINHERIT, mode);
	free(w);
	if (*fdp < 0)
		return errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
	return 0;
}

int
cx_read_file(const char *path, size_t max, struct cx_buf *out)
{
	int fd, r;

	if ((r = open_w(path, _O_RDONLY, 0, &fd)) != 0) {
		if (r == CX_ERR_IO)
			cx_error("cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	r = cx_read_fd(fd, max, out);
	_close(fd);
	if (r == CX_ERR_IO)
		cx_error("cannot read '%s'", path);
	return r;
}

int
cx_read_file_trusted(const char *path, size_t max, struct cx_buf *out,
    char *why, size_t whylen)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	BY_HANDLE_FILE_INFORMATION fi;
	wchar_t *w = NULL;
	HANDLE h;
	int r, fd;

	why[0] = '\0';
	if ((r = cx_win_wide(path, &w)) != 0) {
		snprintf(why, whylen, "not a valid UTF-8 path");
		return CX_ERR_DENIED;
	}
	/* the link itself, never its target */
	h = CreateFileW(w, GENERIC_READ | READ_CONTROL, FILE_SHARE_READ, NULL,
	    OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		DWORD e = GetLastError();

		if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
			return CX_ERR_NOTFOUND;
		snprintf(why, whylen, "not readable (Windows error %lu)",
		    (unsigned long)e);
		return CX_ERR_DENIED;
	}
	if (!GetFileInformationByHandle(h, &fi) ||
	    (fi.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT |
	    FILE_ATTRIBUTE_DIRECTORY))) {
		snprintf(why, whylen, "not a regular file");
		CloseHandle(h);
		return CX_ERR_DENIED;
	}
	if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd) !=
	    ERROR_SUCCESS) {
		snprintf(why, whylen, "not checkable");
		CloseHandle(h);
		return CX_ERR_DENIED;
	}
	r = judge_sd(owner, dacl, why, whylen);
	LocalFree(sd);
	if (r != 0) {
		CloseHandle(h);
		return r;
	}
	if ((r = fd_of_handle(h, _O_BINARY | _O_RDONLY, &fd)) != 0)
		return r;
	r = cx_read_fd(fd, max, out);
	_close(fd);
	return r;
}

int
cx_write_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	int k;

	while (n > 0) {
		unsigned chunk = n > 1u << 30 ? 1u << 30 : (unsigned)n;

		k = is_socket(fd) ? send((SOCKET)fd, q, (int)chunk, 0) :
		    _write(fd, q, chunk);
		if (k <= 0)
			return CX_ERR_IO;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

int
cx_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode_new, int flags)
{
	PSECURITY_DESCRIPTOR sd = NULL, oldsd = NULL;
	PACL olddacl = NULL;
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	unsigned char rnd[6];
	wchar_t *w = NULL, *wtmp = NULL, *wbak = NULL;
	char *tmp = NULL, *bak = NULL;
	const char *q = data;
	HANDLE h = INVALID_HANDLE_VALUE;
	DWORD n, attr;
	int r, exists;

	if ((r = cx_win_wide(path, &w)) != 0) {
		cx_error("'%s' is not a valid UTF-8 path", path);
		return CX_ERR_INPUT;
	}
	attr = GetFileAttributesW(w);
	exists = attr != INVALID_FILE_ATTRIBUTES;
	if (exists && owned_by_other(w)) {
		cx_error("'%s' belongs to another user: not rewriting it", path);
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_random_bytes(rnd, sizeof(rnd))) != 0)
		goto out;
	/* "PATH.tmp.XXXXXX" as mkstemp names it on POSIX systems */
	{
		static const char al[] = "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
		char sfx[7];
		int i;

		for (i = 0; i < 6; i++)
			sfx[i] = al[rnd[i] % 62];
		sfx[6] = '\0';
		if (cx_asprintf(&tmp, "%s.tmp.%s", path, sfx) < 0) {
			tmp = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = cx_win_wide(tmp, &wtmp)) != 0)
		goto out;
	/* a secret (or a new file meant for the user alone) private from
	 * creation; others inherit the folder's permissions.  Nobody else
	 * can open the temporary file meanwhile (no sharing). */
	if ((flags & CX_ATOMIC_SECRET) || (!exists && (mode_new & 077) == 0)) {
		if ((r = private_sd(&sd)) != 0)
			goto out;
		sa.lpSecurityDescriptor = sd;
	}
	h = CreateFileW(wtmp, GENERIC_WRITE | WRITE_DAC, 0, &sa, CREATE_NEW,
	    FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		cx_error("cannot create '%s' (Windows error %lu)", tmp,
		    (unsigned long)GetLastError());
		r = CX_ERR_IO;
		goto out;
	}
	while (len > 0) {
		DWORD chunk = len > (1u << 30) ? (1u << 30) : (DWORD)len;

		if (!WriteFile(h, q, chunk, &n, NULL) || n == 0) {
			cx_error("cannot write '%s'", tmp);
			r = CX_ERR_IO;
			goto out;
		}
		q += n;
		len -= n;
	}
	if (!FlushFileBuffers(h)) {
		cx_error("cannot flush '%s'", tmp);
		r = CX_ERR_IO;
		goto out;
	}
	/* a secret: the private DACL set again, explicitly protected, where
	 * the system did not keep CreateFileW's (is_private: Wine keeps it,
	 * and setting it again there would add the folder's ACEs) */
	if (sd != NULL && !is_private(h, NULL) &&
	    set_private_handle(h, sd) != 0) {
		cx_error("cannot make '%s' private", tmp);
		r = CX_ERR_IO;
		goto out;
	}
	/* the old file's permissions, unless a secret (private) or a new file
	 * meant to be readable by others (the folder's inherited ones) */
	if (!(flags & CX_ATOMIC_SECRET)) {
		if (exists && GetNamedSecurityInfoW(w, SE_FILE_OBJECT,
		    DACL_SECURITY_INFORMATION, NULL, NULL, &olddacl, NULL,
		    &oldsd) == ERROR_SUCCESS)
			(void)SetSecurityInfo(h, SE_FILE_OBJECT,
			    DACL_SECURITY_INFORMATION |
			    PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL,
			    olddacl, NULL);
	}
	CloseHandle(h);
	h = INVALID_HANDLE_VALUE;
	if (exists && (flags & CX_ATOMIC_BACKUP)) {
		if (cx_asprintf(&bak, "%s.bak", path) < 0) {
			bak = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = cx_win_wide(bak, &wbak)) != 0)
			goto out;
		if (!CopyFileW(w, wbak, FALSE)) {
			cx_error("cannot keep '%s'", bak);
			r = CX_ERR_IO;
			goto out;
		}
	}
	if (!MoveFileExW(wtmp, w, MOVEFILE_REPLACE_EXISTING |
	    MOVEFILE_WRITE_THROUGH)) {
		cx_error("cannot replace '%s' (Windows error %lu)", path,
		    (unsigned long)GetLastError());
		r = CX_ERR_IO;
		goto out;
	}
	r = 0;
 out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	if (r != 0 && wtmp != NULL)
		DeleteFileW(wtmp);
	LocalFree(sd);
	LocalFree(oldsd);
	free(w);
	free(wtmp);
	free(wbak);
	free(tmp);
	free(bak);
	return r;
}

/* ---- locks ---- */

int
cx_lock_path(const char *path, char **out)
{
	char *full = NULL, *ldir = NULL, *real = NULL, hex[17], name[100];
	const char *base;
	unsigned char h[8] = { 0 };
	uint64_t fnv = UINT64_C(0xcbf29ce484222325);
	size_t i;
	int r;

	*out = NULL;
	base = path + strlen(path);
	while (base > path && base[-1] != '/' && base[-1] != '\\' &&
	    base[-1] != ':')
		base--;
	/* the same file through another spelling gets the same lock: its
	 * full path, case-folded (Windows file names are case-insensitive) */
	if (cx_realpath(path, &real) != 0) {
		wchar_t *w = NULL, buf[32768];

		if ((r = cx_win_wide(path, &w)) != 0)
			return r;
		i = GetFullPathNameW(w, 32768, buf, NULL);
		free(w);
		if (i == 0 || i >= 32768 || (r = cx_win_utf8(buf, &real)) != 0)
			return r ? r : CX_ERR_IO;
	}
	if ((full = strdup(real)) == NULL) {
		free(real);
		return CX_ERR_NOMEM;
	}
	for (i = 0; full[i]; i++) {
		if (full[i] == '\\')
			full[i] = '/';
		if (full[i] >= 'A' && full[i] <= 'Z')
			full[i] = (char)(full[i] - 'A' + 'a');
	}
	/* FNV-1a: a name, not a secret */
	for (i = 0; full[i]; i++)
		fnv = (fnv ^ (unsigned char)full[i]) * UINT64_C(0x100000001b3);
	for (i = 0; i < 8; i++)
		h[i] = (unsigned char)(fnv >> (56 - 8 * i));
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(name, sizeof(name), "%.64s.%s.lock", *base ? base : "_", hex);
	if ((r = cx_state_path("locks", &ldir)) == 0)
		r = cx_path_join(ldir, name, out);
	free(ldir);
	free(full);
	free(real);
	return r;
}

int
cx_lock(const char *path, int timeout_ms, int *fdp)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	PSECURITY_DESCRIPTOR sd = NULL;
	uint64_t deadline = cx_now_ms() + (uint64_t)(timeout_ms > 0 ?
	    timeout_ms : 0);
	char *lp = NULL, *ldir = NULL, why[160];
	wchar_t *w = NULL;
	OVERLAPPED ov;
	HANDLE h = INVALID_HANDLE_VALUE;
	int r;

	*fdp = -1;
	if ((r = cx_lock_path(path, &lp)) != 0 ||
	    (r = cx_state_path("locks", &ldir)) != 0)
		goto out;
	if ((r = cx_mkdir_p(ldir, 0700)) != 0)
		goto out;
	if ((r = cx_path_trusted(ldir, CX_TRUST_DIR, why, sizeof(why))) != 0) {
		cx_error("cannot lock '%s': the lock folder '%s' is %s", path,
		    ldir, why);
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_win_wide(lp, &w)) != 0 || (r = private_sd(&sd)) != 0)
		goto out;
	sa.lpSecurityDescriptor = sd;
	h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_ALWAYS,
	    FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		cx_error("cannot open the lock file '%s' (Windows error %lu)",
		    lp, (unsigned long)GetLastError());
		r = CX_ERR_IO;
		goto out;
	}
	for (;;) {
		memset(&ov, 0, sizeof(ov));
		if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK |
		    LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
			break;
		if (cx_now_ms() >= deadline) {
			cx_error("'%s' is locked by another run (waited %d ms)",
			    path, timeout_ms);
			r = CX_ERR_IO;
			goto out;
		}
		if (cx_sleep_ms(20) != 0) {
			r = CX_ERR_CANCELLED;
			goto out;
		}
	}
	r = fd_of_handle(h, _O_BINARY | _O_RDWR, fdp);
	h = INVALID_HANDLE_VALUE;
 out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	LocalFree(sd);
	free(w);
	free(lp);
	free(ldir);
	return r;
}

void
cx_unlock(int fd)
{
	/* closing the handle releases the lock */
	if (fd >= 0)
		_close(fd);
}

/* ---- paths of programs ---- */

int
cx_realpath(const char *path, char **out)
{
	wchar_t *w = NULL, buf[32768], *p;
	HANDLE h;
	DWORD n;
	int r;

	*out = NULL;
	if ((r = cx_win_wide(path, &w)) != 0)
		return r;
	h = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE |
	    FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS,
	    NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE)
		return GetLastError() == ERROR_FILE_NOT_FOUND ||
		    GetLastError() == ERROR_PATH_NOT_FOUND ? CX_ERR_NOTFOUND :
		    CX_ERR_IO;
	n = GetFinalPathNameByHandleW(h, buf, 32768, FILE_NAME_NORMALIZED);
	CloseHandle(h);
	if (n == 0 || n >= 32768)
		return CX_ERR_IO;
	p = buf;
	if (wcsncmp(p, L"\\\\?\\UNC\\", 8) == 0) {
		p += 6;
		*p = L'\\';
	} else if (wcsncmp(p, L"\\\\?\\", 4) == 0) {
		p += 4;
	}
	return cx_win_utf8(p, out);
}

int
cx_self_path(char **out)
{
	wchar_t buf[32768];
	DWORD n = GetModuleFileNameW(NULL, buf, 32768);
	char *p;
	int r;

	*out = NULL;
	if (n == 0 || n >= 32768)
		return CX_ERR_NOTFOUND;
	(void)self_path_w;
	/* forward slashes, as cx_home_dir's: the path goes into the SSH
	 * config (cx_sshconf_proxy_command turns it back for CreateProcessW) */
	if ((r = cx_win_utf8(buf, out)) == 0)
		for (p = *out; *p != '\0'; p++)
			if (*p == '\\')
				*p = '/';
	return r;
}

int
cx_find_prog(const char *name, char **out)
{
	char *self = NULL, *dir = NULL, *cand = NULL, *slash;
	int r;

	*out = NULL;
	if (cx_self_path(&self) == 0) {
		slash = strrchr(self, '\\');
		if (slash == NULL)
			slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			dir = self;
			if (cx_asprintf(&cand, "%s\\%s.exe", dir, name) < 0)
				cand = NULL;
			if (cand != NULL && cx_file_exists(cand)) {
				*out = cand;
				free(self);
				return 0;
			}
			free(cand);
		}
		free(self);
	}
	r = (*out = strdup(name)) ? 0 : CX_ERR_NOMEM;
	return r;
}

/* ---- positioned I/O and metadata (cloudx-proxy cp) ---- */

ssize_t
cx_os_read(int fd, void *p, size_t n, int *again)
{
	int got, k;

	*again = 0;
	if (is_socket(fd)) {
		k = recv((SOCKET)fd, p, n > INT_MAX ? INT_MAX : (int)n, 0);
		if (k == SOCKET_ERROR) {
			*again = WSAGetLastError() == WSAEWOULDBLOCK;
			return *again ? 0 : CX_ERR_IO;
		}
		return k;
	}
	got = fd_ready(fd, CX_OS_IN);
	if (!(got & CX_OS_IN)) {
		*again = 1;
		return 0;
	}
	k = _read(fd, p, n > INT_MAX ? INT_MAX : (unsigned)n);
	if (k < 0)
		return errno == EPIPE ? 0 : CX_ERR_IO;
	return k;
}

ssize_t
cx_os_write(int fd, const void *p, size_t n, int *again)
{
	int k;

	*again = 0;
	if (is_socket(fd)) {
		k = send((SOCKET)fd, p, n > INT_MAX ? INT_MAX : (int)n, 0);
		if (k == SOCKET_ERROR) {
			*again = WSAGetLastError() == WSAEWOULDBLOCK;
			return *again ? 0 : CX_ERR_IO;
		}
		return k;
	}
	k = _write(fd, p, n > INT_MAX ? INT_MAX : (unsigned)n);
	return k < 0 ? CX_ERR_IO : k;
}

void
cx_os_close(int *fdp)
{
	if (*fdp < 0)
		return;
	if (is_socket(*fdp))
		closesocket((SOCKET)*fdp);
	else
		_close(*fdp);
	*fdp = -1;
}

int
cx_os_set_blocking(int fd)
{
	u_long off = 0;

	if (is_socket(fd))
		return ioctlsocket((SOCKET)fd, FIONBIO, &off) == 0 ? 0 :
		    CX_ERR_IO;
	return 0;	/* our pipes always block; cx_os_read peeks */
}

int
cx_os_open_read(const char *path, int *fdp)
{
	return open_w(path, _O_RDONLY, 0, fdp);
}

int
cx_os_open_rw(const char *path, mode_t mode, int trunc, int *fdp)
{
	int r = open_w(path, _O_RDWR | _O_CREAT | (trunc ? _O_TRUNC : 0),
	    _S_IREAD | _S_IWRITE, fdp);

	if (r == 0 && (mode & 077) == 0)
		(void)cx_win_set_private(path);
	return r;
}

static int
pio(int fd, void *p, size_t n, uint64_t off, int write)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	char *q = p;
	OVERLAPPED ov;
	DWORD k;

	while (n > 0) {
		DWORD chunk = n > (1u << 30) ? (1u << 30) : (DWORD)n;
		BOOL ok;

		memset(&ov, 0, sizeof(ov));
		ov.Offset = (DWORD)off;
		ov.OffsetHigh = (DWORD)(off >> 32);
		ok = write ? WriteFile(h, q, chunk, &k, &ov) :
		    ReadFile(h, q, chunk, &k, &ov);
		if (!ok && GetLastError() == ERROR_HANDLE_EOF)
			return CX_ERR_INPUT;
		if (!ok)
			return CX_ERR_IO;
		if (k == 0)
			return write ? CX_ERR_IO : CX_ERR_INPUT;
		q += k;
		n -= k;
		off += k;
	}
	return 0;
}

int
cx_os_pread_all(int fd, void *p, size_t n, uint64_t off)
{
	return pio(fd, p, n, off, 0);
}

int
cx_os_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	return pio(fd, (void *)p, n, off, 1);
}

int
cx_os_truncate(int fd, uint64_t size)
{
	return _chsize_s(fd, (__int64)size) == 0 ? 0 : CX_ERR_IO;
}

int
cx_os_fsync(int fd)
{
	return _commit(fd) == 0 ? 0 : CX_ERR_IO;
}

int
cx_os_stat_path(const char *path, struct cx_os_stat *st)
{
	struct _stat64 sb;
	wchar_t *w = NULL;
	int r;

	if ((r = cx_win_wide(path, &w)) != 0)
		return r;
	r = _wstat64(w, &sb);
	free(w);
	if (r != 0)
		return errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
	st->size = (uint64_t)sb.st_size;
	st->mode = sb.st_mode & 0777;
	st->mtime = sb.st_mtime;
	st->is_dir = (sb.st_mode & _S_IFMT) == _S_IFDIR;
	st->is_reg = (sb.st_mode & _S_IFMT) == _S_IFREG;
	return 0;
}

int
cx_os_set_mode_mtime(int fd, const char *path, unsigned mode, int64_t mtime)
{
	struct __utimbuf64 ut = { mtime, mtime };
	wchar_t *w = NULL;
	int r;

	if (fd >= 0)
		return _futime64(fd, &ut) == 0 ? 0 : CX_ERR_IO;
	if ((r = cx_win_wide(path, &w)) != 0)
		return r;
	r = _wutime64(w, &ut) == 0 ? 0 : CX_ERR_IO;
	/* only the read-only bit exists */
	if (r == 0 && !(mode & 0200))
		(void)_wchmod(w, _S_IREAD);
	free(w);
	return r;
}

int
cx_os_rename(const char *from, const char *to)
{
	wchar_t *a = NULL, *b = NULL;
	int r;

	if ((r = cx_win_wide(from, &a)) == 0 && (r = cx_win_wide(to, &b)) == 0)
		r = MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING |
		    MOVEFILE_WRITE_THROUGH) ? 0 : CX_ERR_IO;
	if (r == CX_ERR_IO)
		set_errno_win();
	free(a);
	free(b);
	return r;
}

int
cx_os_unlink(const char *path)
{
	wchar_t *w = NULL;
	int r;

	if ((r = cx_win_wide(path, &w)) != 0)
		return r;
	r = DeleteFileW(w) || GetLastError() == ERROR_FILE_NOT_FOUND ||
	    GetLastError() == ERROR_PATH_NOT_FOUND ? 0 : CX_ERR_IO;
	free(w);
	return r;
}

/* ---- the agent's pipe ---- */

/*
 * Windows OpenSSH's and 1Password's agents: a named pipe.  Opened for
 * synchronous I/O, as a C runtime descriptor: _read and _write block in
 * ReadFile/WriteFile, and cx_wait_fd sees the bytes waiting with
 * PeekNamedPipe (fd_ready), so the callers' wait/read/write loop is the
 * POSIX one.  When every instance of the pipe serves another client,
 * CreateFileW fails with ERROR_PIPE_BUSY: wait for a free one
 * (WaitNamedPipeW, in slices so that a caught signal ends the wait) and
 * try again, until the deadline.
 */
int
cx_unix_connect(const char *path, uint64_t deadline, int *fdp)
{
	wchar_t *w = NULL;
	HANDLE h;
	uint64_t now;
	DWORD slice;
	int r, said = 0;

	*fdp = -1;
	if (cx_win_wide(path, &w) != 0)
		return CX_ERR_CONFIG;
	for (;;) {
		h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL,
		    OPEN_EXISTING, 0, NULL);
		if (h != INVALID_HANDLE_VALUE ||
		    GetLastError() != ERROR_PIPE_BUSY)
			break;
		if (!said++)
			cx_debug(1, "every instance of the pipe '%s' is busy: "
			    "waiting for one", path);
		if (cx_sig_pending()) {
			r = CX_ERR_CANCELLED;
			goto out;
		}
		if ((now = cx_now_ms()) >= deadline) {
			errno = ETIMEDOUT;
			r = CX_ERR_TIMEOUT;
			goto out;
		}
		slice = deadline - now > 200 ? 200 : (DWORD)(deadline - now);
		/* FALSE on a timeout (ERROR_SEM_TIMEOUT) or a pipe gone:
		 * CreateFileW says which */
		(void)WaitNamedPipeW(w, slice);
	}
	if (h == INVALID_HANDLE_VALUE) {
		set_errno_win();
		r = errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
		goto out;
	}
	r = fd_of_handle(h, _O_BINARY | _O_RDWR, fdp);
 out:
	free(w);
	return r;
}

int
cx_fd_set_cloexec(int fd)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	return h != INVALID_HANDLE_VALUE &&
	    SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0) ? 0 : CX_ERR_IO;
}

int
cx_fd_regular(int fd)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);

	return h != INVALID_HANDLE_VALUE && GetFileType(h) == FILE_TYPE_DISK;
}

/* ---- the POSIX calls mingw lacks (os_win.h) ---- */

char *
strndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *d = malloc(l + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, l);
	d[l] = '\0';
	return d;
}

/*
 * getenv's values in UTF-8, one per name and value seen (a caller may
 * still hold an older one: they are kept, wiped when the variable is set
 * again, as a value may be a secret).
 */
static struct env_utf8 {
	struct env_utf8 *next;
	char *name, *val;
} *env_cache;
static SRWLOCK env_lock = SRWLOCK_INIT;

char *
cx_win_getenv(const char *name)
{
	struct env_utf8 *e;
	wchar_t *wn = NULL;
	const wchar_t *wv;
	char *v = NULL;

	if (name == NULL || cx_win_wide(name, &wn) != 0)
		return NULL;
	AcquireSRWLockExclusive(&env_lock);
	wv = _wgetenv(wn);
	free(wn);
	if (wv == NULL || cx_win_utf8(wv, &v) != 0)
		goto out;
	for (e = env_cache; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0 && strcmp(e->val, v) == 0) {
			cx_freezero(v, strlen(v));
			v = e->val;
			goto out;
		}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(name)) == NULL) {
		free(e);
		cx_freezero(v, strlen(v));
		v = NULL;
		goto out;
	}
	e->val = v;
	e->next = env_cache;
	env_cache = e;
 out:
	ReleaseSRWLockExclusive(&env_lock);
	return v;
}

/* wipes the values getenv gave for name */
static void
env_forget(const char *name)
{
	struct env_utf8 *e;

	AcquireSRWLockExclusive(&env_lock);
	for (e = env_cache; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			cx_wipe(e->val, strlen(e->val));
	ReleaseSRWLockExclusive(&env_lock);
}

/* The environment is UTF-16 on Windows: set through _wputenv_s so that the
 * children (CreateProcessW, CREATE_UNICODE_ENVIRONMENT) see it. */
static int
env_set(const char *name, const char *value)
{
	wchar_t *wn = NULL, *wv = NULL;
	int r = -1;

	env_forget(name);

	if (cx_win_wide(name, &wn) == 0 && cx_win_wide(value, &wv) == 0)
		r = _wputenv_s(wn, wv) == 0 ? 0 : -1;
	free(wn);
	/* the value may be a secret (the environment keeps its own copy) */
	if (wv != NULL)
		cx_freezero(wv, wcslen(wv) * sizeof(wchar_t));
	if (r != 0)
		errno = EINVAL;
	return r;
}

int
setenv(const char *name, const char *value, int overwrite)
{
	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!overwrite && getenv(name) != NULL)
		return 0;
	/* an empty value would remove it: Windows has no empty variables */
	return env_set(name, value);
}

int
unsetenv(const char *name)
{
	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL) {
		errno = EINVAL;
		return -1;
	}
	return env_set(name, "");
}

/* ---- the connect log and journal (os_append_posix.c's counterparts) ---- */

int
cx_pread_all(int fd, size_t max, struct cx_buf *out)
{
	char b[16384];
	uint64_t off = 0;
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	OVERLAPPED ov;
	DWORD k;

	for (;;) {
		memset(&ov, 0, sizeof(ov));
		ov.Offset = (DWORD)off;
		ov.OffsetHigh = (DWORD)(off >> 32);
		if (!ReadFile(h, b, sizeof(b), &k, &ov)) {
			if (GetLastError() == ERROR_HANDLE_EOF)
				return 0;
			return CX_ERR_IO;
		}
		if (k == 0)
			return 0;
		if (off + k > max)
			return CX_ERR_TOOBIG;
		if (cx_buf_append(out, b, k) != 0)
			return CX_ERR_TOOBIG;
		off += k;
	}
}

/* path opened for appending only (FILE_APPEND_DATA: every write lands at
 * the end, whole), not through a link, private when created; must be
 * ours and not writable by others.  *size: its size now. */
static int
open_append(const char *path, HANDLE *hp, uint64_t *size, char *why,
    size_t whylen)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	PSECURITY_DESCRIPTOR sd = NULL, fsd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	LARGE_INTEGER li;
	wchar_t *w = NULL;
	HANDLE h;
	int r;

	*hp = INVALID_HANDLE_VALUE;
	if ((r = cx_win_wide(path, &w)) != 0 || (r = private_sd(&sd)) != 0) {
		free(w);
		snprintf(why, whylen, "cannot open it");
		return CX_ERR_IO;
	}
	sa.lpSecurityDescriptor = sd;
	h = CreateFileW(w, FILE_APPEND_DATA | READ_CONTROL | SYNCHRONIZE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
	    OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
	    NULL);
	LocalFree(sd);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		snprintf(why, whylen, "cannot open it (Windows error %lu)",
		    (unsigned long)GetLastError());
		return CX_ERR_IO;
	}
	if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &fsd) !=
	    ERROR_SUCCESS || (r = judge_sd(owner, dacl, why, whylen)) != 0 ||
	    !GetFileSizeEx(h, &li)) {
		if (why[0] == '\0')
			snprintf(why, whylen, "not checkable");
		LocalFree(fsd);
		CloseHandle(h);
		return CX_ERR_DENIED;
	}
	LocalFree(fsd);
	*size = (uint64_t)li.QuadPart;
	*hp = h;
	return 0;
}

int
cx_append_record(const char *path, const void *p, size_t n,
    size_t rotate_at, char *why, size_t whylen)
{
	char *dir = NULL, *old = NULL;
	const char *slash = strrchr(path, '/');
	HANDLE h = INVALID_HANDLE_VALUE;
	uint64_t size = 0;
	DWORD k;
	int lk = -1, r;

	if (whylen > 0)
		why[0] = '\0';
	if (slash == NULL || slash == path || n > 0x7fffffff)
		return CX_ERR_INTERNAL;
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return CX_ERR_NOMEM;
	if (!cx_is_dir(dir) && cx_mkdir_p(dir, 0700) != 0) {
		snprintf(why, whylen, "cannot create the folder '%s'", dir);
		r = CX_ERR_IO;
		goto out;
	}
	if ((r = cx_path_trusted(dir, CX_TRUST_DIR, why, whylen)) != 0) {
		char tmp[200];

		snprintf(tmp, sizeof(tmp), "its folder '%s' is %s", dir, why);
		snprintf(why, whylen, "%s", tmp);
		r = CX_ERR_DENIED;
		goto out;
	}
	if ((r = open_append(path, &h, &size, why, whylen)) != 0)
		goto out;
	if (size + n > rotate_at && cx_asprintf(&old, "%s.1", path) >= 0 &&
	    cx_lock(path, 2000, &lk) == 0) {
		/* one rotation, under the lock (FILE_SHARE_DELETE lets the
		 * open file be renamed; our handle follows it) */
		CloseHandle(h);
		h = INVALID_HANDLE_VALUE;
		if ((r = open_append(path, &h, &size, why, whylen)) != 0)
			goto out;
		if (size + n > rotate_at) {
			CloseHandle(h);
			h = INVALID_HANDLE_VALUE;
			if (cx_os_rename(path, old) != 0) {
				snprintf(why, whylen, "cannot rotate it");
				r = CX_ERR_IO;
				goto out;
			}
			if ((r = open_append(path, &h, &size, why, whylen)) != 0)
				goto out;
		}
	}
	if (!WriteFile(h, p, (DWORD)n, &k, NULL) || k != n) {
		snprintf(why, whylen, "cannot write it (Windows error %lu)",
		    (unsigned long)GetLastError());
		r = CX_ERR_IO;
		goto out;
	}
	r = 0;
 out:
	cx_unlock(lk);
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(old);
	free(dir);
	return r;
}

/* ---- file-safety checks (hardening.h; hardening_posix.c's) ---- */

#include "hardening.h"

int
cx_tmp_cleanup(const char *path)
{
	WIN32_FIND_DATAW fd;
	char *pat = NULL, *name = NULL, *full = NULL, *dir = NULL;
	const char *slash = strrchr(path, '/'), *s;
	wchar_t *w = NULL;
	HANDLE h;
	size_t pl, i;
	int n = 0;

	if (cx_asprintf(&pat, "%s.tmp.*", path) < 0)
		return 0;
	pl = strlen(path) + 5;
	dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (dir == NULL || cx_win_wide(pat, &w) != 0)
		goto out;
	if ((h = FindFirstFileW(w, &fd)) == INVALID_HANDLE_VALUE)
		goto out;
	do {
		if (fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY |
		    FILE_ATTRIBUTE_REPARSE_POINT) ||
		    cx_win_utf8(fd.cFileName, &name) != 0)
			continue;
		/* "<base>.tmp.XXXXXX": six letters or digits */
		s = name + strlen(name);
		for (i = 0; s > name && i < 6 && ((s[-1] >= 'a' && s[-1] <= 'z') ||
		    (s[-1] >= 'A' && s[-1] <= 'Z') || (s[-1] >= '0' &&
		    s[-1] <= '9')); i++)
			s--;
		if (i == 6 && strlen(name) + strlen(dir) + 1 == pl + 6 &&
		    cx_asprintf(&full, "%s/%s", dir, name) >= 0) {
			wchar_t *wf = NULL;

			if (cx_win_wide(full, &wf) == 0 && !owned_by_other(wf) &&
			    DeleteFileW(wf)) {
				cx_debug(1, "removed '%s' left by an interrupted "
				    "write", full);
				n++;
			}
			free(wf);
			free(full);
			full = NULL;
		}
		free(name);
		name = NULL;
	} while (FindNextFileW(h, &fd));
	FindClose(h);
 out:
	free(w);
	free(pat);
	free(dir);
	return n;
}

/* 1 if path's DACL lets anyone but the user, SYSTEM and the Administrators
 * read it (what Windows OpenSSH refuses in a private key) */
static int
readable_by_others(const char *path)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	ACL_SIZE_INFORMATION ai;
	TOKEN_USER *tu = NULL;
	PACL dacl = NULL;
	wchar_t *w = NULL;
	void *ace;
	DWORD i;
	int others = 0;

	if (cx_win_wide(path, &w) != 0 || GetNamedSecurityInfoW(w,
	    SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL,
	    &sd) != ERROR_SUCCESS || user_sid(&tu) != 0) {
		free(w);
		LocalFree(sd);
		return 0;
	}
	if (dacl == NULL)
		others = 1;
	else if (GetAclInformation(dacl, &ai, sizeof(ai), AclSizeInformation))
		for (i = 0; i < ai.AceCount; i++) {
			ACCESS_ALLOWED_ACE *a;
			PSID sid;

			if (!GetAce(dacl, i, &ace) || ((ACE_HEADER *)ace)->AceType !=
			    ACCESS_ALLOWED_ACE_TYPE)
				continue;
			a = ace;
			sid = (PSID)&a->SidStart;
			if ((a->Mask & (FILE_READ_DATA | GENERIC_READ |
			    GENERIC_ALL)) && !EqualSid(sid, tu->User.Sid) &&
			    !sid_is_admin_or_system(sid))
				others = 1;
		}
	free(tu);
	free(w);
	LocalFree(sd);
	return others;
}

int
cx_check_private_key(const char *path)
{
	if (!cx_file_exists(path) || cx_is_dir(path) ||
	    !readable_by_others(path))
		return 0;
	cx_error("'%s' is readable by other users: ssh will ignore this "
	    "private key (run: icacls \"%s\" /inheritance:r /grant:r "
	    "\"%%USERNAME%%:F\")", path, path);
	return CX_ERR_INPUT;
}

int
cx_warn_if_readable(const char *path)
{
	static char *warned;

	if (!cx_file_exists(path) || !readable_by_others(path))
		return 0;
	if (warned != NULL && strcmp(warned, path) == 0)
		return 0;
	cx_warn("'%s' holds AWS secrets but is readable by other users (run: "
	    "icacls \"%s\" /inheritance:r /grant:r \"%%USERNAME%%:F\")", path,
	    path);
	free(warned);
	warned = strdup(path);
	return 1;
}

/* ---- names: globs and file identity (os.h) ---- */

int
cx_fnmatch_path(const char *pat, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	/* '*' and '?' never match '/', as fnmatch(FNM_PATHNAME); [...]
	 * classes with ranges and '!' */
	while (*s != '\0') {
		if (*pat == '*') {
			star_p = ++pat;
			star_s = s;
			continue;
		}
		if (*pat == '?' && *s != '/') {
			pat++;
			s++;
			continue;
		}
		if (*pat == '[' && *s != '/') {
			const char *q = pat + 1;
			int neg = 0, hit = 0;

			if (*q == '!' || *q == '^') {
				neg = 1;
				q++;
			}
			do {
				if (q[1] == '-' && q[2] != ']' && q[2] != '\0') {
					hit |= *s >= q[0] && *s <= q[2];
					q += 3;
				} else {
					hit |= *s == *q;
					q++;
				}
			} while (*q != ']' && *q != '\0');
			if (*q == ']' && hit != neg) {
				pat = q + 1;
				s++;
				continue;
			}
		} else if (*pat != '\0' && *pat == *s && *pat != '*' &&
		    *pat != '?' && *pat != '[') {
			pat++;
			s++;
			continue;
		}
		/* backtrack to the last '*', which may take one more char */
		if (star_p == NULL || *star_s == '/')
			return 1;
		pat = star_p;
		s = ++star_s;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0' ? 0 : 1;
}

int
cx_same_file(const char *a, const char *b)
{
	BY_HANDLE_FILE_INFORMATION fa, fb;
	wchar_t *wa = NULL, *wb = NULL;
	HANDLE ha = INVALID_HANDLE_VALUE, hb = INVALID_HANDLE_VALUE;
	int same = 0;

	if (strcmp(a, b) == 0)
		return 1;
	if (cx_win_wide(a, &wa) == 0 && cx_win_wide(b, &wb) == 0) {
		ha = CreateFileW(wa, 0, FILE_SHARE_READ | FILE_SHARE_WRITE |
		    FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
		    FILE_FLAG_BACKUP_SEMANTICS, NULL);
		hb = CreateFileW(wb, 0, FILE_SHARE_READ | FILE_SHARE_WRITE |
		    FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
		    FILE_FLAG_BACKUP_SEMANTICS, NULL);
		if (ha != INVALID_HANDLE_VALUE && hb != INVALID_HANDLE_VALUE &&
		    GetFileInformationByHandle(ha, &fa) &&
		    GetFileInformationByHandle(hb, &fb))
			same = fa.dwVolumeSerialNumber == fb.dwVolumeSerialNumber &&
			    fa.nFileIndexHigh == fb.nFileIndexHigh &&
			    fa.nFileIndexLow == fb.nFileIndexLow;
	}
	if (ha != INVALID_HANDLE_VALUE)
		CloseHandle(ha);
	if (hb != INVALID_HANDLE_VALUE)
		CloseHandle(hb);
	free(wa);
	free(wb);
	return same;
}
