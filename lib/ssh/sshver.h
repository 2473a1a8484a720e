/*
 * The ssh client: what `ssh -V` says (on stderr) parsed into a flavour, a
 * version and a TLS library, and the client's known problems with our
 * configuration as data ("quirks"), each one sourced in sshver.c.
 *
 * Pure ISO C: no OS call.  Every function takes the OS as an argument
 * (callers pass cx_os_host()) so the unit tests check the Windows answers
 * on any system.  Implemented in lib/ssh/sshver.c.
 */
#ifndef CX_SSHVER_H
#define CX_SSHVER_H

#include <stddef.h>

#include "core/os.h"

/* Bytes of `ssh -V` output looked at; the rest is ignored. */
#define CX_SSHVER_MAX_TEXT	4096

enum cx_ssh_flavour {
	CX_SSH_UNKNOWN,		/* no "OpenSSH_" version line */
	CX_SSH_OPENSSH,		/* OpenSSH (portable, OpenBSD's, Apple's) */
	CX_SSH_WIN32,		/* Microsoft's Win32-OpenSSH:
				 * "OpenSSH_for_Windows_X.YpZ" */
	CX_SSH_MSYS		/* a POSIX OpenSSH on Windows: Git for
				 * Windows, MSYS2, Cygwin ("OpenSSH_X.YpZ"
				 * where the OS is Windows) */
};

struct cx_sshver {
	enum cx_ssh_flavour flavour;
	int major, minor, patch;	/* 9, 8, 1 for "9.8p1"; patch 0 when
					 * absent (OpenBSD's "9.6") */
	char version[16];		/* "9.8p1", as printed */
	char tls[48];			/* "LibreSSL 3.3.6", "OpenSSL 3.0.15";
					 * "" when none is named */
};

/*
 * Parses the text `ssh -V` printed (len bytes, NUL not needed; only the
 * first CX_SSHVER_MAX_TEXT are read) on os: the first line that starts
 * with "OpenSSH_".  Fills *v (always: CX_SSH_UNKNOWN and zeros when
 * nothing fits).  Returns 0, or CX_ERR_INPUT (not logged) when no version
 * line was found.  The strings in *v hold printable ASCII only.
 */
int cx_sshver_parse(enum cx_os os, const char *text, size_t len,
    struct cx_sshver *v);

/* 1 when v is at least major.minor.patch (and its flavour is known). */
int cx_sshver_at_least(const struct cx_sshver *v, int major, int minor,
    int patch);

/* The flavour in words: "OpenSSH", "Microsoft's Win32-OpenSSH", ... */
const char *cx_sshver_flavour_name(enum cx_ssh_flavour f);

/* How to install OpenSSH's client on os (one line, static text). */
const char *cx_sshver_install_hint(enum cx_os os);

/*
 * What is known of the configuration a quirk may depend on, from `ssh -G
 * HOST` (cx_sshver_facts).  Each field is 1 or 0.
 */
struct cx_ssh_facts {
	int control_master;	/* multiplexing on: controlmaster not "false" */
	int proxy_quoted;	/* the ProxyCommand's program is in quotes */
	int proxy_relative;	/* ... is not an absolute path */
	int proxy_backslash;	/* ... has a '\\' (a Windows path) */
	int agent_pipe;		/* IdentityAgent is a Windows named pipe */
};

/*
 * Fills *f from `ssh -G` output (text, len bytes, NUL not needed; lines
 * "keyword value", keywords in lower case as ssh prints them).  Never
 * fails: what is absent is 0.
 */
void cx_sshver_facts(const char *text, size_t len, struct cx_ssh_facts *f);

/* When a quirk applies, besides the OS, flavour and version. */
enum cx_ssh_need {
	CX_SSHQ_ALWAYS,		/* whatever the configuration */
	CX_SSHQ_CONTROL,	/* facts.control_master */
	CX_SSHQ_PROXY_QUOTED,	/* facts.proxy_quoted */
	CX_SSHQ_PROXY_RELATIVE,	/* facts.proxy_relative */
	CX_SSHQ_PROXY_BACKSLASH, /* facts.proxy_backslash */
	CX_SSHQ_AGENT_PIPE	/* facts.agent_pipe */
};

/* One known problem of an ssh client with our configuration. */
struct cx_ssh_quirk {
	const char *id;		/* short stable name, for tests */
	unsigned int os_mask;	/* 1u << CX_OS_* */
	unsigned int flavour_mask; /* 1u << CX_SSH_* */
	int below[3];		/* versions below major.minor.patch only;
				 * { 0, 0, 0 }: every version */
	enum cx_ssh_need need;
	const char *problem;	/* lowercase, no final period */
	const char *fix;	/* one line */
};

/*
 * The quirks that apply to client v on os, in the table's order: with f
 * NULL only the CX_SSHQ_ALWAYS ones, else only the others (those the
 * configuration f triggers).  Stores at most max pointers (to static
 * entries: never freed) in out and returns how many apply (which may be
 * more than max).
 */
size_t cx_sshver_quirks(enum cx_os os, const struct cx_sshver *v,
    const struct cx_ssh_facts *f, const struct cx_ssh_quirk **out,
    size_t max);

#endif
