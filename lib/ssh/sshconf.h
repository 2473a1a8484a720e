/*
 * A lossless model of an ssh_config(5) file and the three-tier cloudx-proxy
 * configuration kept inside it.
 *
 *   Host <P>-*               generic tier: User, TCPKeepAlive, IdentitiesOnly,
 *                            ControlMaster/ControlPath/ControlPersist
 *                            (written "# Control..." in Windows mode)
 *   Host <P>-<env>-*         environment tier: IdentityFile (or IdentityAgent
 *                            + IdentityFile <key>.pub) and the ProxyCommand
 *                            "<driver> connect %h %p [options]"
 *   Host <P>-<env>-<name>    host tier: HostName <instance-id>
 *
 * The model is the file's list of lines, each kept with its raw bytes and
 * its own line end.  A block starts at a Host or Match line (any case, any
 * indentation, "Host=x" too) and runs to the next one; the lines before the
 * first one are the preamble.  A block is ours when its Host line has exactly
 * one pattern and that pattern has one of the shapes above with our prefix
 * (compared exactly, like ssh's own case-sensitive Host matching).  Everything
 * else (comments, blank lines, foreign Host/Match blocks, Include lines, the
 * unknown lines inside our blocks) is kept byte for byte: an edit replaces,
 * inserts or removes only the lines of the keywords it owns (listed above),
 * and a file read and rendered with no edit comes back identical.
 *
 * Environment names may contain hyphens and any case; a host line
 * "<P>-a-b-c" belongs to the longest environment "a-b" or "a" that has an
 * environment block, else to its first segment.  New blocks go after our
 * existing blocks but before the first "Host *" / "Match all" of the file
 * (ssh takes the first value it sees); an environment whose pattern is
 * shadowed by another ("dev-eu" by "dev") is placed before it.
 *
 * Names (prefix, environment, host, key, profile, aws-env, region) must be
 * non-empty and may not contain whitespace, '#', quotes, '\\', '%', ',',
 * '*', '?', '!' or control characters; paths may contain spaces (they are
 * then written double-quoted) but no quotes, '\\', '$', '`', '%' or control
 * characters.  Files are read up to CX_SSHCONF_MAX_FILE bytes.
 *
 * All functions return 0 or a negative CX_ERR_* (the reason is logged)
 * unless said otherwise.
 */
#ifndef CX_SSHCONF_H
#define CX_SSHCONF_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

#define CX_SSHCONF_MAX_FILE	(1024 * 1024)	/* bytes of one ssh_config */
#define CX_SSHCONF_LOCK_MS	10000		/* wait for a concurrent run */

/* flags for cx_sshconf_load/parse/ensure_include */
#define CX_SSHCONF_WINDOWS	0x1	/* for Windows OpenSSH: Control* lines
				 * written commented, paths with '/', the
				 * ProxyCommand quoted for CreateProcessW */
#define CX_SSHCONF_LOCK		0x2	/* load: hold PATH.lock until free */
#define CX_SSHCONF_DRY_RUN	0x4	/* ensure_include: compute, no write */

struct cx_sshconf;		/* opaque: one file, its lines, its state */

/* ------------------------------------------------------------------ */
/* Defaults shared with `cloudx-proxy connect`                         */

/*
 * The defaults `connect` uses for what its ProxyCommand does not say
 * (seed-behaviour.md §1/§2, with its bug fixed): the ssh dir is ssh_dir_opt
 * if given, else the folder of ssh_config_opt if given, else ~/.ssh/cloudX if
 * it exists, else ~/.ssh/vscode if it exists, else ~/.ssh/cloudX; the
 * profile and key are "vscode" when that dir is ~/.ssh/vscode, else "cloudX".
 * home NULL means cx_home_dir().  Fills *profile, *ssh_key, *ssh_dir with
 * malloc'd strings (caller frees each; all set to NULL on error).
 */
int cx_sshconf_connect_defaults(const char *home, const char *ssh_dir_opt,
    const char *ssh_config_opt, char **profile, char **ssh_key,
    char **ssh_dir);

/* "cloudX" when basename(argv0) is exactly "cloudX-proxy", else "cloudx". */
const char *cx_sshconf_prefix_for_argv0(const char *argv0);

/* 1 if s is a valid name (see above), else 0 (nothing logged). */
int cx_sshconf_valid_name(const char *s);
/* 1 if s is a valid path (see above), else 0 (nothing logged). */
int cx_sshconf_valid_path(const char *s);

/* ------------------------------------------------------------------ */
/* Loading, rendering, saving                                          */

/*
 * Parses len bytes (any content: CRLF, no final newline, NUL bytes are
 * CX_ERR_INPUT) into a new model for prefix (a valid name).  *out is owned
 * by the caller (cx_sshconf_free).
 */
int cx_sshconf_parse(const void *data, size_t len, const char *prefix,
    int flags, struct cx_sshconf **out);

/*
 * The config we are about to rewrite, and its folder, must be trusted
 * (cx_path_trusted: ours, not writable by group or others): else one line
 * and CX_ERR_INPUT, so that a config another user planted or could change
 * is never adopted as ours.  A missing file or folder is fine (0).
 */
int cx_sshconf_check_owner(const char *path);

/*
 * Reads path into a new model.  A missing file gives an empty model that
 * cx_sshconf_save() will create (0600, parent folders 0700).  With
 * CX_SSHCONF_LOCK (the caller means to write), path and its folder must
 * pass cx_sshconf_check_owner(), then the lock of path (cx_lock(), in our
 * state folder) is taken (waiting at most CX_SSHCONF_LOCK_MS; CX_ERR_IO
 * when another run holds it) and held until cx_sshconf_free(), so a
 * read-modify-write is never interleaved.
 */
int cx_sshconf_load(const char *path, const char *prefix, int flags,
    struct cx_sshconf **out);

/* Releases the model and its lock; NULL is fine. */
void cx_sshconf_free(struct cx_sshconf *m);

/* Appends the current bytes of the file to out. */
int cx_sshconf_render(const struct cx_sshconf *m, struct cx_buf *out);

/* 1 if edits changed the bytes (or the file does not exist yet), else 0. */
int cx_sshconf_changed(const struct cx_sshconf *m);

/* 1 if the file existed when loaded (always 1 after a successful save). */
int cx_sshconf_existed(const struct cx_sshconf *m);

/*
 * Appends to out a unified diff (3 lines of context) from the bytes loaded
 * to the current bytes, both files labelled label; nothing when
 * unchanged.  A changed line end shows as a changed line.
 */
int cx_sshconf_diff(const struct cx_sshconf *m, const char *label,
    struct cx_buf *out);

/*
 * Writes the model to path when it changed: creates the parent folder (0700)
 * if missing, then cx_write_file_atomic() with CX_ATOMIC_BACKUP (the previous
 * file is kept as path.bak; the mode of an existing file is kept, a new one
 * is 0600).  Unchanged: no write at all.  After a save the model's "loaded"
 * bytes are the saved ones.
 */
int cx_sshconf_save(struct cx_sshconf *m, const char *path);

/* ------------------------------------------------------------------ */
/* Edits                                                               */

/* Makes sure Host <P>-* holds the six generic settings (Control* lines
 * commented in Windows mode, active otherwise). */
int cx_sshconf_ensure_generic(struct cx_sshconf *m);

struct cx_sshconf_env_opts {
	const char *proxy_path;	/* absolute path of cloudx-proxy; required */
	const char *ssh_dir;	/* absolute folder of the key; required */
	const char *ssh_key;	/* key file name in ssh_dir; required */
	const char *profile;	/* AWS profile; NULL: the connect default */
	const char *ssh_config;	/* optional; see cx_sshconf_proxy_command */
	const char *aws_env;	/* optional ~/.aws/aws-envs/<name> */
	const char *region;	/* optional */
	const char *identity_agent; /* 1Password: agent socket path; else NULL */
	const char *home;	/* for the connect defaults; NULL: $HOME */
	int windows;		/* for Windows OpenSSH (set by cx_sshconf_set_env
				 * from CX_SSHCONF_WINDOWS) */
};

/*
 * Builds the ProxyCommand value for o into *out (malloc'd):
 *   <proxy_path> connect %h %p --os-user %r [--profile P] [--ssh-key K]
 *       [--ssh-dir D | --ssh-config F] [--aws-env E] [--region R]
 * (%r: ssh's remote user, so the key is pushed for the user ssh logs in as)
 * --profile/--ssh-key/--ssh-dir appear only when they differ from
 * cx_sshconf_connect_defaults() for the same home and dir (an unchanged
 * --ssh-config, whose folder is ssh_dir, is written instead of --ssh-dir
 * when ssh_config is set); --aws-env and --region whenever set.
 * Paths with a blank or a ' are double-quoted.  For Windows OpenSSH
 * (o->windows), which runs the command with CreateProcessW and no shell,
 * and treats a command whose first character is not '"' by its own rules
 * (a program name without a folder is looked for beside ssh.exe): the
 * program's path is always double-quoted, with backslashes; the C runtime
 * splits the line back as written (valid paths hold no '"', '%' or '\').
 */
int cx_sshconf_proxy_command(const struct cx_sshconf_env_opts *o,
    char **out);

/*
 * Creates or updates Host <P>-<env>-* so that it holds exactly our
 * IdentityFile / IdentityAgent / ProxyCommand (other lines in the block are
 * kept).  A new environment gets the seed's section banner.  Also ensures
 * the generic block.
 */
int cx_sshconf_set_env(struct cx_sshconf *m, const char *env,
    const struct cx_sshconf_env_opts *o);

/*
 * Adds Host <P>-<env>-<name> with HostName instance_id, or updates exactly
 * that host (its other lines and its Host line comment are kept; later
 * duplicate blocks of the same host are removed).  The environment must
 * exist (CX_ERR_NOTFOUND otherwise); a host name that another environment
 * already owns is CX_ERR_INPUT.  *replaced (may be NULL) is set to 1 when the
 * host existed.
 */
int cx_sshconf_set_host(struct cx_sshconf *m, const char *env,
    const char *name, const char *instance_id, int *replaced);

/*
 * Pins the host keys of every block of ours to the instance, as set_env
 * and set_host write them: each environment block gets UserKnownHostsFile
 * "<kh_dir>/known_hosts" ~/.ssh/known_hosts and StrictHostKeyChecking
 * accept-new, each host block with a HostName gets HostKeyAlias <that
 * HostName> (cleanup and migrate convert older configs with it).  Other
 * lines are kept.  *count (may be NULL): the blocks changed.
 */
int cx_sshconf_pin_host_keys(struct cx_sshconf *m, const char *kh_dir,
    int *count);

/* Removes the blocks of exactly that host; CX_ERR_NOTFOUND if none. */
int cx_sshconf_remove_host(struct cx_sshconf *m, const char *env,
    const char *name);

/* Removes the environment block, its hosts and its section banner;
 * CX_ERR_NOTFOUND if there is no such environment. */
int cx_sshconf_remove_env(struct cx_sshconf *m, const char *env);

/*
 * Adopts a config written by the Python tool: every ProxyCommand in our
 * blocks that runs "[uvx [...]] cloud[xX]-proxy connect ..." is rewritten to
 * "<proxy_path> connect %h %p" followed by the same options (all kept, in
 * the order given).  *count (may be NULL) receives the number rewritten.
 */
int cx_sshconf_adopt(struct cx_sshconf *m, const char *proxy_path,
    int *count);

/*
 * Guesses the prefix of a file written by us or the Python tool: the
 * "Managed by <P>-proxy" banner, else the first generic "Host <x>-*" block
 * whose name starts with "cloudx" in any case.  Returns a malloc'd string or
 * NULL when nothing was found.
 */
char *cx_sshconf_guess_prefix(const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Queries                                                             */

struct cx_sshconf_host {
	char *name;		/* short name: the part after <P>-<env>- */
	char *host;		/* the full Host pattern */
	char *hostname;		/* HostName value, or NULL */
	char *comment;		/* the Host line's inline comment after "# ", or NULL */
	int key_pinned;		/* HostKeyAlias is the instance id (HostName) */
};

struct cx_sshconf_env {
	char *name;
	char *pattern;		/* <P>-<env>-* ; NULL for hosts without one */
	char *identity_file;	/* values as written, unquoted; or NULL */
	char *identity_agent;
	char *proxy_command;	/* raw value */
	/* parsed from a ProxyCommand "<path> connect %h %p ..."; NULL if absent */
	char *proxy_path;
	char *profile, *ssh_key, *ssh_dir, *ssh_config, *aws_env, *region;
	int proxy_ours;		/* 1: "<...>cloudx-proxy connect" without uvx */
	struct cx_sshconf_host *hosts;
	size_t nhosts;
};

struct cx_sshconf_listing {
	char *prefix;
	int has_generic;
	struct cx_sshconf_env *envs;	/* sorted by name (strcmp) */
	size_t nenvs;			/* hosts sorted by short name */
};

/* Fills *out (caller frees with cx_sshconf_listing_free) with our blocks;
 * env_filter (NULL: all) keeps only the environment of that exact name. */
int cx_sshconf_list(const struct cx_sshconf *m, const char *env_filter,
    struct cx_sshconf_listing **out);
void cx_sshconf_listing_free(struct cx_sshconf_listing *l);

/* The listing as JSON: {"Prefix","Generic","Environments":[{"Name",
 * "Pattern","IdentityFile","IdentityAgent","ProxyCommand","ProxyPath",
 * "Profile","SshKey","SshDir","SshConfig","AwsEnv","Region","Hosts":[
 * {"Name","Host","InstanceId","Comment","KeyPinned"}]}]} (absent values
 * omitted; KeyPinned: a boolean).
 * *out is owned by the caller. */
int cx_sshconf_listing_json(const struct cx_sshconf_listing *l,
    cJSON **out);

/* The seed's human layout of `list` (seed-behaviour.md §5), appended to
 * out; detailed adds the "Generic Patterns:" block. */
int cx_sshconf_listing_text(const struct cx_sshconf_listing *l,
    int detailed, struct cx_buf *out);

/* ------------------------------------------------------------------ */
/* ~/.ssh/config Include                                               */

struct cx_sshconf_include_result {
	int changed;		/* 1 if main_config was (or would be) changed */
	int already;		/* 1 if an Include of our file was found */
	int same_file;		/* 1 if our file is main_config itself */
	int created;		/* 1 if main_config did not exist */
};

/*
 * Makes main_config (normally ~/.ssh/config; its folder is created 0700 and
 * a new file 0600) include our_config: an existing top-level Include naming
 * our file in any spelling ("~/", absolute, relative to ~/.ssh, quoted, a
 * glob matching it) is accepted as is; otherwise "Include <abs path>" and a
 * blank line are inserted before the first Host/Match line (any case or
 * indentation, and above the comment lines directly on top of it), or
 * appended when there is none.  Nothing is done when our_config is
 * main_config.  Locked, atomic, with a .bak, mode kept.  With
 * CX_SSHCONF_DRY_RUN nothing is written.  diff (may be NULL) receives the
 * unified diff of the change.  home NULL means cx_home_dir().
 */
int cx_sshconf_ensure_include(const char *main_config,
    const char *our_config, const char *home, int flags,
    struct cx_sshconf_include_result *res, struct cx_buf *diff);

#endif
