/* Per-OS choices as data (osdata.h): ISO C only, tested for every OS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxerr.h"
#include "osdata.h"

/* a and b joined with one sep (a's own trailing separators dropped);
 * *out is malloc'd. */
static int
join(char **out, char sep, const char *a, const char *b)
{
	size_t la = strlen(a), n;
	char *s;

	*out = NULL;
	while (la > 1 && (a[la - 1] == '/' || a[la - 1] == sep))
		la--;
	n = la + 1 + strlen(b) + 1;
	if ((s = malloc(n)) == NULL)
		return CX_ERR_NOMEM;
	snprintf(s, n, "%.*s%c%s", (int)la, a, sep, b);
	*out = s;
	return 0;
}

/* a, b, c joined with sep; *out is malloc'd. */
static int
join3(char **out, char sep, const char *a, const char *b, const char *c)
{
	char *ab = NULL;
	int r;

	*out = NULL;
	if ((r = join(&ab, sep, a, b)) != 0)
		return r;
	r = join(out, sep, ab, c);
	free(ab);
	return r;
}

static const char *const vscode_dirs[] = {
	"Code", "Code - Insiders", "VSCodium",
};

int
cx_osdata_vscode_settings(enum cx_os os, enum cx_vscode flavour,
    const char *home, const char *xdg, const char *appdata, char **out)
{
	const char *dir;
	char *base = NULL;
	int r;

	*out = NULL;
	if ((unsigned)flavour >= sizeof(vscode_dirs) / sizeof(vscode_dirs[0]) ||
	    home == NULL)
		return CX_ERR_INPUT;
	dir = vscode_dirs[flavour];
	switch (os) {
	case CX_OS_MACOS:
		r = join3(&base, '/', home, "Library/Application Support", dir);
		break;
	case CX_OS_WINDOWS:
		if (appdata != NULL && *appdata != '\0')
			r = join(&base, '\\', appdata, dir);
		else
			r = join3(&base, '\\', home, "AppData\\Roaming", dir);
		break;
	case CX_OS_LINUX:
		/* the XDG base directory spec: a relative value is ignored */
		if (xdg != NULL && *xdg == '/')
			r = join(&base, '/', xdg, dir);
		else
			r = join3(&base, '/', home, ".config", dir);
		break;
	default:
		return CX_ERR_INPUT;
	}
	if (r == 0)
		r = join3(out, os == CX_OS_WINDOWS ? '\\' : '/', base, "User",
		    "settings.json");
	free(base);
	return r;
}

static const char *const op_socks_linux[] = {
	"~/.1password/agent.sock", NULL,
};
static const char *const op_socks_macos[] = {
	"~/.1password/agent.sock",
	"~/Library/Group Containers/2BUA8C4S2C.com.1password/t/agent.sock",
	NULL,
};
static const char *const op_socks_windows[] = {
	"\\\\.\\pipe\\openssh-ssh-agent", NULL,
};

const char *const *
cx_osdata_1password_socks(enum cx_os os)
{
	switch (os) {
	case CX_OS_MACOS:
		return op_socks_macos;
	case CX_OS_WINDOWS:
		return op_socks_windows;
	default:
		return op_socks_linux;
	}
}

const char *
cx_osdata_agent_default(enum cx_os os)
{
	/* Windows OpenSSH's ssh-agent service and 1Password's agent */
	return os == CX_OS_WINDOWS ? op_socks_windows[0] : NULL;
}

const char *
cx_osdata_agent_start_hint(enum cx_os os)
{
	if (os != CX_OS_WINDOWS)
		return NULL;
	return "start it in PowerShell as administrator: Get-Service "
	    "ssh-agent | Set-Service -StartupType Automatic; Start-Service "
	    "ssh-agent (or turn on \"Use the SSH agent\" in 1Password)";
}

/* 1Password's apt/rpm packages: /usr/bin; its tarball's instructions:
 * /usr/local/bin; Homebrew: /opt/homebrew/bin (Apple silicon) or
 * /usr/local/bin (Intel); winget: the WinGet Links folder, in PATH */
static const char *const op_linux[] = {
	"op", "/usr/bin/op", "/usr/local/bin/op", NULL,
};
static const char *const op_macos[] = {
	"op", "/opt/homebrew/bin/op", "/usr/local/bin/op", NULL,
};
static const char *const op_windows[] = {
	"op.exe", NULL,
};

const char *const *
cx_osdata_op_cli(enum cx_os os)
{
	switch (os) {
	case CX_OS_MACOS:
		return op_macos;
	case CX_OS_WINDOWS:
		return op_windows;
	default:
		return op_linux;
	}
}

const char *
cx_osdata_opener(enum cx_os os)
{
	switch (os) {
	case CX_OS_MACOS:
		return "open";
	case CX_OS_WINDOWS:
		return "explorer.exe";
	default:
		return "xdg-open";
	}
}
