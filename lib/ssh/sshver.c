/* The ssh client's version and its known problems (sshver.h): pure ISO C,
 * tested for every OS on any system. */
#include <stdio.h>
#include <string.h>

#include "core/cxerr.h"
#include "sshver.h"

#define OS(o)		(1u << (o))
#define ANY_OS		(OS(CX_OS_LINUX) | OS(CX_OS_MACOS) | OS(CX_OS_WINDOWS))
#define FL(f)		(1u << (f))
#define ANY_OPENSSH	\
	(FL(CX_SSH_OPENSSH) | FL(CX_SSH_WIN32) | FL(CX_SSH_MSYS))

/*
 * Each entry is a problem someone met and reported; the source is named
 * above it.  Keep the fix to one line.
 */
static const struct cx_ssh_quirk quirks[] = {
	/*
	 * Include came in OpenSSH 7.3 (https://www.openssh.com/txt/
	 * release-7.3: "ssh(1): Add an Include directive for ssh_config(5)
	 * files"); older clients stop at the line ("Bad configuration
	 * option: include") and our config is included from ~/.ssh/config.
	 */
	{ "no-include", ANY_OS, ANY_OPENSSH, { 7, 3, 0 }, CX_SSHQ_ALWAYS,
	  "OpenSSH before 7.3 has no Include (the cloudx-proxy config is "
	  "included from ~/.ssh/config)",
	  "install OpenSSH 7.3 or later" },
	/*
	 * Win32-OpenSSH has no ControlMaster: "ControlMaster is not supported
	 * on Windows yet" (PowerShell/Win32-OpenSSH#405, still open, and
	 * #1328); ssh fails with "muxclient socket(): Unknown error" or
	 * "getsockname failed: Not a socket".  Git for Windows' ssh fails the
	 * same way on Windows (Arcadia-1/virtuoso-bridge-lite#55, "both
	 * native System32 ssh.exe and Git-for-Windows ssh fail";
	 * nasnet-community/nasnet-panel#317 from Git Bash).
	 */
	{ "no-controlmaster", OS(CX_OS_WINDOWS),
	  FL(CX_SSH_WIN32) | FL(CX_SSH_MSYS), { 0, 0, 0 }, CX_SSHQ_CONTROL,
	  "ssh on Windows has no ControlMaster (multiplexing) but the config "
	  "turns it on",
	  "comment out the ControlMaster, ControlPath and ControlPersist "
	  "lines (setup on Windows writes them commented)" },
	/*
	 * OpenSSH_for_Windows_7.7p1 (Windows 10 1809 to 1909) passes a
	 * quoted ProxyCommand program to CreateProcessW with its quotes
	 * doubled: "CreateProcessW failed error:87"; 8.1 fixed it
	 * (coder/coder#7637, coder/coder#2853).
	 */
	{ "quoted-proxy", OS(CX_OS_WINDOWS), FL(CX_SSH_WIN32), { 8, 1, 0 },
	  CX_SSHQ_PROXY_QUOTED,
	  "OpenSSH for Windows before 8.1 cannot start a quoted ProxyCommand "
	  "path (CreateProcessW failed error:87)",
	  "update OpenSSH (Settings > Optional features, or the "
	  "Win32-OpenSSH release) or install cloudx-proxy in a folder "
	  "without spaces and run setup again" },
	/*
	 * Before 8.1 Win32-OpenSSH did not look the ProxyCommand up in PATH
	 * ("ProxyCommand incorrectly requires an absolute path",
	 * PowerShell/Win32-OpenSSH#1185; "specify the full path of ssh.exe,
	 * or update to new version, such as v8.1", #1533):
	 * "CreateProcessW failed error:2".
	 */
	{ "relative-proxy", OS(CX_OS_WINDOWS), FL(CX_SSH_WIN32), { 8, 1, 0 },
	  CX_SSHQ_PROXY_RELATIVE,
	  "OpenSSH for Windows before 8.1 does not look a ProxyCommand up "
	  "in PATH (CreateProcessW failed error:2)",
	  "run setup again (it writes the absolute path) or update OpenSSH" },
	/*
	 * A POSIX ssh runs the ProxyCommand with "$SHELL -c 'exec ...'"
	 * (OpenSSH sshconnect.c), and the shell takes a backslash as an
	 * escape: C:\Users\me\cloudx-proxy.exe becomes C:Usersmecloudx-
	 * proxy.exe under Git for Windows' or MSYS2's ssh.
	 */
	{ "backslash-proxy", OS(CX_OS_WINDOWS), FL(CX_SSH_MSYS), { 0, 0, 0 },
	  CX_SSHQ_PROXY_BACKSLASH,
	  "Git for Windows/MSYS2 ssh runs the ProxyCommand through sh, which "
	  "drops its backslashes",
	  "use Windows OpenSSH (C:\\Windows\\System32\\OpenSSH first in "
	  "PATH) or forward slashes in the ProxyCommand path" },
	/*
	 * Git for Windows' ssh does not know Windows named pipes, so it
	 * cannot reach the Windows agent pipe (\\.\pipe\openssh-ssh-agent,
	 * which 1Password takes over): PowerShell/Win32-OpenSSH#1987,
	 * ndbeals/winssh-pageant#18 ("the git for windows OpenSSH is not
	 * aware of named pipes").
	 */
	{ "msys-agent-pipe", OS(CX_OS_WINDOWS), FL(CX_SSH_MSYS), { 0, 0, 0 },
	  CX_SSHQ_AGENT_PIPE,
	  "Git for Windows/MSYS2 ssh cannot use the Windows agent pipe "
	  "(1Password, the ssh-agent service)",
	  "use Windows OpenSSH: put C:\\Windows\\System32\\OpenSSH first in "
	  "PATH (and VS Code's remote.SSH.path on its ssh.exe)" },
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads 1 to 3 digits at *p (before end) into *n; 0, or -1. */
static int
number(const char **p, const char *end, int *n)
{
	const char *s = *p;
	int v = 0, k = 0;

	while (s < end && is_digit(*s) && k < 3) {
		v = v * 10 + (*s - '0');
		s++;
		k++;
	}
	if (k == 0 || (s < end && is_digit(*s)))
		return -1;
	*n = v;
	*p = s;
	return 0;
}

/* "OpenSSL 3.0.15" from the text after the version's ", ": a name of
 * letters, one space, a version starting with a digit (printable ASCII,
 * no space); "" otherwise. */
static void
tls_name(const char *s, const char *end, char *out, size_t n)
{
	const char *name = s;
	size_t len;

	out[0] = '\0';
	while (s < end && is_alpha(*s))
		s++;
	if (s == name || s + 1 >= end || *s != ' ' || !is_digit(s[1]))
		return;
	s++;
	while (s < end && *s > ' ' && *s < 0x7f && *s != ',')
		s++;
	len = (size_t)(s - name);
	if (len >= n)
		return;
	memcpy(out, name, len);
	out[len] = '\0';
}

/* Parses one line [p, end) into *v; 0 when it is a version line. */
static int
parse_line(enum cx_os os, const char *p, const char *end,
    struct cx_sshver *v)
{
	static const char win[] = "OpenSSH_for_Windows_", gen[] = "OpenSSH_";
	const char *num;
	size_t len;

	if ((size_t)(end - p) > sizeof(win) - 1 &&
	    memcmp(p, win, sizeof(win) - 1) == 0) {
		v->flavour = CX_SSH_WIN32;
		p += sizeof(win) - 1;
	} else if ((size_t)(end - p) > sizeof(gen) - 1 &&
	    memcmp(p, gen, sizeof(gen) - 1) == 0) {
		v->flavour = os == CX_OS_WINDOWS ? CX_SSH_MSYS : CX_SSH_OPENSSH;
		p += sizeof(gen) - 1;
	} else {
		return -1;
	}
	num = p;
	if (number(&p, end, &v->major) != 0 || p >= end || *p++ != '.' ||
	    number(&p, end, &v->minor) != 0)
		return -1;
	if (p < end && *p == 'p') {
		p++;
		if (number(&p, end, &v->patch) != 0)
			return -1;
	}
	/* then the end, a distribution's note (" Debian-2+deb12u3") or
	 * the TLS library (", OpenSSL 3.0.15") */
	if (p < end && *p != ',' && *p != ' ' && *p != '\r')
		return -1;
	len = (size_t)(p - num);
	memcpy(v->version, num, len);	/* at most 11 bytes */
	v->version[len] = '\0';
	while (p < end && *p != ',')
		p++;
	if (p + 2 < end && p[1] == ' ')
		tls_name(p + 2, end, v->tls, sizeof(v->tls));
	return 0;
}

int
cx_sshver_parse(enum cx_os os, const char *text, size_t len,
    struct cx_sshver *v)
{
	const char *p, *end, *nl;

	memset(v, 0, sizeof(*v));
	if (text == NULL)
		return CX_ERR_INPUT;
	if (len > CX_SSHVER_MAX_TEXT)
		len = CX_SSHVER_MAX_TEXT;
	for (p = text, end = text + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (parse_line(os, p, nl, v) == 0)
			return 0;
		memset(v, 0, sizeof(*v));
	}
	return CX_ERR_INPUT;
}

int
cx_sshver_at_least(const struct cx_sshver *v, int major, int minor,
    int patch)
{
	if (v->flavour == CX_SSH_UNKNOWN)
		return 0;
	if (v->major != major)
		return v->major > major;
	if (v->minor != minor)
		return v->minor > minor;
	return v->patch >= patch;
}

const char *
cx_sshver_flavour_name(enum cx_ssh_flavour f)
{
	switch (f) {
	case CX_SSH_OPENSSH:
		return "OpenSSH";
	case CX_SSH_WIN32:
		return "Microsoft's Win32-OpenSSH";
	case CX_SSH_MSYS:
		return "Git for Windows/MSYS2 OpenSSH";
	default:
		return "unknown";
	}
}

const char *
cx_sshver_install_hint(enum cx_os os)
{
	switch (os) {
	case CX_OS_WINDOWS:
		return "install the OpenSSH Client: Settings > System > "
		    "Optional features > OpenSSH Client, or "
		    "'Add-WindowsCapability -Online -Name "
		    "OpenSSH.Client~~~~0.0.1.0' in an administrator "
		    "PowerShell";
	case CX_OS_MACOS:
		return "macOS has ssh built in (/usr/bin/ssh): put /usr/bin "
		    "in PATH";
	default:
		return "install the OpenSSH client (Debian/Ubuntu: 'sudo apt "
		    "install openssh-client'; Fedora: 'sudo dnf install "
		    "openssh-clients')";
	}
}

/* The value of keyword kw in `ssh -G` text, [*vp, *ep); 0 if found. */
static int
g_value(const char *text, size_t len, const char *kw, const char **vp,
    const char **ep)
{
	const char *p = text, *end = text + len, *nl;
	size_t kl = strlen(kw);

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > kl && memcmp(p, kw, kl) == 0 &&
		    p[kl] == ' ') {
			*vp = p + kl + 1;
			*ep = nl;
			if (*ep > *vp && (*ep)[-1] == '\r')
				(*ep)--;
			return 0;
		}
	}
	return -1;
}

static int
is_slash(char c)
{
	return c == '/' || c == '\\';
}

void
cx_sshver_facts(const char *text, size_t len, struct cx_ssh_facts *f)
{
	const char *v, *e, *prog, *pe;

	memset(f, 0, sizeof(*f));
	if (text == NULL)
		return;
	if (g_value(text, len, "controlmaster", &v, &e) == 0 &&
	    !((size_t)(e - v) == 5 && memcmp(v, "false", 5) == 0) &&
	    !((size_t)(e - v) == 2 && memcmp(v, "no", 2) == 0))
		f->control_master = 1;
	if (g_value(text, len, "proxycommand", &v, &e) == 0 &&
	    !((size_t)(e - v) == 4 && memcmp(v, "none", 4) == 0) && v < e) {
		prog = v;
		if (*v == '"' || *v == '\'') {
			f->proxy_quoted = 1;
			prog = v + 1;
			for (pe = prog; pe < e && *pe != *v; pe++)
				;
		} else {
			for (pe = prog; pe < e && *pe != ' ' && *pe != '\t';
			    pe++)
				;
		}
		/* absolute: /x, \x, \\server\x, C:\x, C:/x */
		if (!(pe > prog && is_slash(*prog)) &&
		    !(pe - prog > 2 && is_alpha(prog[0]) && prog[1] == ':' &&
		    is_slash(prog[2])))
			f->proxy_relative = 1;
		if (memchr(prog, '\\', (size_t)(pe - prog)) != NULL)
			f->proxy_backslash = 1;
	}
	/* \\.\pipe\NAME (ssh may print it with one leading backslash) */
	if (g_value(text, len, "identityagent", &v, &e) == 0) {
		while (v < e && is_slash(*v))
			v++;
		if (e - v > 6 && v[0] == '.' && is_slash(v[1]) &&
		    (memcmp(v + 2, "pipe", 4) == 0 ||
		    memcmp(v + 2, "PIPE", 4) == 0) && is_slash(v[6]))
			f->agent_pipe = 1;
	}
}

/* 1 when the quirk's configuration condition holds in f. */
static int
needed(enum cx_ssh_need need, const struct cx_ssh_facts *f)
{
	switch (need) {
	case CX_SSHQ_CONTROL:
		return f->control_master;
	case CX_SSHQ_PROXY_QUOTED:
		return f->proxy_quoted;
	case CX_SSHQ_PROXY_RELATIVE:
		return f->proxy_relative;
	case CX_SSHQ_PROXY_BACKSLASH:
		return f->proxy_backslash;
	case CX_SSHQ_AGENT_PIPE:
		return f->agent_pipe;
	default:
		return 0;
	}
}

size_t
cx_sshver_quirks(enum cx_os os, const struct cx_sshver *v,
    const struct cx_ssh_facts *f, const struct cx_ssh_quirk **out,
    size_t max)
{
	const struct cx_ssh_quirk *q;
	size_t i, n = 0;

	if (v == NULL || (unsigned)os > CX_OS_WINDOWS ||
	    (unsigned)v->flavour > CX_SSH_MSYS)
		return 0;
	for (i = 0; i < sizeof(quirks) / sizeof(quirks[0]); i++) {
		q = &quirks[i];
		if ((q->os_mask & OS(os)) == 0 ||
		    (q->flavour_mask & FL(v->flavour)) == 0)
			continue;
		if ((q->below[0] || q->below[1] || q->below[2]) &&
		    cx_sshver_at_least(v, q->below[0], q->below[1],
		    q->below[2]))
			continue;
		if (f == NULL ? q->need != CX_SSHQ_ALWAYS :
		    (q->need == CX_SSHQ_ALWAYS || !needed(q->need, f)))
			continue;
		if (n < max)
			out[n] = q;
		n++;
	}
	return n;
}
