/*
 * Per-OS choices as data: where another program keeps its files on each
 * system.  Every function takes the OS as an argument (callers pass
 * cx_os_host()), and the environment it depends on as arguments too, so
 * the unit tests check the macOS, Linux and Windows answers on any system.
 * Pure ISO C: no OS call.  Return 0 or a negative CX_ERR_*; *out is
 * malloc'd (caller frees).
 */
#ifndef CX_OSDATA_H
#define CX_OSDATA_H

#include "os.h"

/* The VS Code flavours whose settings.json we know. */
enum cx_vscode { CX_VSCODE, CX_VSCODE_INSIDERS, CX_VSCODIUM };

/*
 * VS Code's user settings.json for os and flavour:
 *   Linux:   $XDG_CONFIG_HOME (if absolute, else HOME/.config)/Code/User/settings.json
 *   macOS:   HOME/Library/Application Support/Code/User/settings.json
 *   Windows: %APPDATA% (else HOME\AppData\Roaming)\Code\User\settings.json
 * ("Code - Insiders", "VSCodium" for the others).  xdg and appdata may be
 * NULL (unset); home may not.
 */
int cx_osdata_vscode_settings(enum cx_os os, enum cx_vscode flavour,
    const char *home, const char *xdg, const char *appdata, char **out);

/*
 * Where the 1Password SSH agent listens, most preferred first, NULL
 * terminated ("~/" is the home folder: cx_expand_user):
 *   Linux:   ~/.1password/agent.sock
 *   macOS:   ~/.1password/agent.sock (the link 1Password's docs have
 *            users make, and `setup` makes), then the socket itself,
 *            ~/Library/Group Containers/2BUA8C4S2C.com.1password/t/agent.sock
 *   Windows: \\.\pipe\openssh-ssh-agent (1Password takes over the
 *            OpenSSH agent's pipe)
 */
const char *const *cx_osdata_1password_socks(enum cx_os os);

/*
 * The agent to use when SSH_AUTH_SOCK is not set, as that OS's OpenSSH
 * does: on Windows the OpenSSH agent's named pipe
 * \\.\pipe\openssh-ssh-agent (the ssh-agent service, or 1Password's
 * agent, which takes the same pipe); on Linux and macOS NULL (OpenSSH
 * has no default there).
 */
const char *cx_osdata_agent_default(enum cx_os os);

/*
 * How to start that OS's agent, for the line saying none answers: one
 * clause (no final period), or NULL where there is nothing to add.
 */
const char *cx_osdata_agent_start_hint(enum cx_os os);

/*
 * The 1Password CLI: the names to run, in order (a bare name is looked
 * up in PATH; the others are where its installers put it, for a PATH
 * that lacks them, as a program started by an IDE often has), NULL
 * terminated.
 */
const char *const *cx_osdata_op_cli(enum cx_os os);

/* The program that opens a URL or file with the user's default
 * application: xdg-open, open (macOS), explorer.exe (Windows). */
const char *cx_osdata_opener(enum cx_os os);

#endif
