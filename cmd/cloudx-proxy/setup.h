/*
 * The pieces of `cloudx-proxy setup` (cmd/cloudx-proxy/setup.c and friends),
 * public so that the unit tests reach them.  Functions return 0 or a
 * negative CX_ERR_* unless said otherwise; strings returned through out
 * parameters are malloc'd and owned by the caller.
 */
#ifndef CX_DRIVER_SETUP_H
#define CX_DRIVER_SETUP_H

#include <cjson/cJSON.h>

#include "core/buf.h"

/* ---- the conversation (cmd/cloudx-proxy/ui.c); all output on stderr ---- */

struct cx_drv_ui {
	int yes;	/* --yes: take defaults, never read stdin */
	int dry_run;
};

#define CX_DRV_INFO	0	/* ○ */
#define CX_DRV_OK	1	/* ✓ */
#define CX_DRV_BAD	2	/* ✗ */
#define CX_DRV_WARN	3	/* ! */

void cx_drv_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<indent spaces><symbol> <text>" */
void cx_drv_status(int indent, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* two blank lines, then "=== title ===" */
void cx_drv_header(const char *title);

/*
 * Asks "<msg> [<dflt>]: " (or "<msg>: ") and reads one line (trimmed;
 * empty gives dflt; empty without a default asks again).  With ui->yes:
 * prints "○ <msg>: Using default [<dflt>]" and returns dflt, or fails with
 * CX_ERR_USAGE naming msg when there is no default.  End of input is
 * CX_ERR_CANCELLED.
 */
int cx_drv_prompt(const struct cx_drv_ui *ui, const char *msg,
    const char *dflt, char **out);
/* Same without echo (terminal echo off); no default; --yes fails. */
int cx_drv_prompt_secret(const struct cx_drv_ui *ui, const char *msg,
    char **out);
/* Yes/no: returns 1 (yes), 0 (no) or a negative CX_ERR_*.  Any answer
 * that is not y/n takes the default. */
int cx_drv_confirm(const struct cx_drv_ui *ui, const char *msg,
    int dflt_yes);

/* ---- AWS config files on their raw text (cmd/cloudx-proxy/ini.c) ---- */

/*
 * 1 if text has a section whose header names exactly `section` (e.g.
 * "profile dev" or "dev"; whitespace inside the brackets is normalised),
 * else 0.
 */
int cx_drv_ini_has_section(const char *text, const char *section);
/*
 * Sets keys[i] = vals[i] (n pairs) in `section` of text (a buffer holding
 * the file): existing keys of that section are replaced in place (first
 * occurrence; case-insensitive key match), missing ones appended at the
 * end of the section; a missing section is appended at the end of the
 * file.  Every other byte is kept.  CX_ERR_INPUT (text unchanged) when
 * text holds a NUL byte; CX_ERR_USAGE (text unchanged) when the section or
 * a key is empty or holds CR, LF, '[' or ']', or a value holds CR or LF:
 * no caller can add a line of its own.
 */
int cx_drv_ini_set(struct cx_buf *text, const char *section,
    const char *const *keys, const char *const *vals, size_t n);
/* The value of key in section, or NULL (malloc'd in *out). */
int cx_drv_ini_get(const char *text, const char *section, const char *key,
    char **out);

/* The AWS config and credentials paths for aws_env (NULL: the defaults,
 * honouring AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE). */
int cx_drv_aws_paths(const char *home, const char *aws_env, char **config,
    char **credentials);

/*
 * Files and folders setup writes must be ours and not writable by group or
 * others (cx_path_trusted; docs/limits.md): CX_ERR_INPUT after one line
 * naming path and why, else 0 (a missing one is fine).  cx_drv_check_paths
 * runs the checks on every SSH and AWS path of s before anything is
 * written.
 */
int cx_drv_trusted(const char *path, int what);
struct cx_drv_setup;
int cx_drv_check_paths(const struct cx_drv_setup *s);
/* 1 if profile is defined in either file, else 0. */
int cx_drv_aws_profile_exists(const char *config, const char *credentials,
    const char *profile);

/* The checks of cx_drv_aws_write_profile alone (for --dry-run too). */
int cx_drv_aws_profile_check(const char *profile, const char *access_key,
    const char *secret_key, const char *region);

/*
 * Writes profile's keys into credentials (section [profile]) and region
 * into config ([profile P], [default] for "default"), atomically, files
 * 0600 and their folder 0700, other profiles untouched.  Every value is
 * checked first (cx_profile_name_valid, cx_access_key_id_valid,
 * cx_secret_valid, cx_region_valid): CX_ERR_USAGE, one line naming the
 * value (never the secret), and nothing written.
 */
int cx_drv_aws_write_profile(const char *config, const char *credentials,
    const char *profile, const char *access_key, const char *secret_key,
    const char *region);

/* ---- identity and tags (cmd/cloudx-proxy/names.c) ---- */

/*
 * Reads an STS ARN: *is_user is 1 for an IAM user.  For a user, *env is
 * the environment of the first path segment (from the end) that starts
 * with "cloudX-" (then "cloudx-") and has at least 3 '-' parts, or NULL
 * when none matches; *user the matching segment.  For roles, SSO and
 * root, *is_user is 0 and both are NULL.
 */
int cx_drv_arn_env(const char *arn, int *is_user, char **env, char **user);

/*
 * Defaults from instance tags (an EC2 tagSet as a cJSON array of
 * {"Key","Value"}): the Name tag (the part before " | ") matching
 * cloud[xX]-<env>-<host> gives both; else env from cloudX:environment,
 * cloudx:environment, then Environment.  Each may be NULL.
 */
int cx_drv_tags_defaults(const cJSON *tags, char **env, char **host,
    char **name_tag);

/* ---- VS Code settings (cmd/cloudx-proxy/vscode.c) ---- */

/* The settings.json of VS Code (flavour: enum cx_vscode of core/osdata.h:
 * VS Code, Insiders, VSCodium) for this OS under home. */
int cx_drv_vscode_settings_path(const char *home, int flavour, char **out);

/*
 * Merges our settings into the JSONC text (comments, trailing commas and
 * every other setting kept byte for byte): remote.SSH.configFile =
 * config_file, remote.SSH.connectTimeout at least 90,
 * remote.SSH.serverInstallTimeout at least 120, remote.SSH.showLoginTerminal
 * true (only if absent), remote.SSH.remotePlatform["<prefix>-*"] = "linux".
 * text may be empty (a new file).  *changed is 1 when the text changed.
 * CX_ERR_INPUT when text is not a JSONC object.
 */
int cx_drv_vscode_merge(const char *text, const char *config_file,
    const char *prefix, struct cx_buf *out, int *changed);

/* The settings block to print (a JSON object, 4-space indent). */
int cx_drv_vscode_snippet(const char *config_file, const char *prefix,
    struct cx_buf *out);

/*
 * Parses JSONC (comments, trailing commas) into cJSON; *out owned by the
 * caller.  CX_ERR_INPUT if it is not valid.
 */
int cx_drv_jsonc_parse(const char *text, cJSON **out);

/* ---- the setup run (cmd/cloudx-proxy/setup.c) ---- */

struct cx_drv_setup {
	struct cx_drv_ui ui;
	int verbosity;
	/* options (borrowed from argv or static) */
	const char *prefix, *profile, *ssh_key, *aws_env, *region, *vault;
	const char *opt_ssh_dir, *opt_ssh_config, *opt_instance;
	const char *opt_hostname, *opt_env;
	int onepassword, no_check;
	int check_timeout_s, check_tries;
	/* state (owned) */
	char *home, *ssh_dir, *config_file, *key_file, *pub_file;
	char *iam_env, *instance_id, *env, *hostname;
	char *identity_agent;	/* 1Password agent socket, or NULL */
	char *self;		/* absolute path of this program */
	int pending_migration;
	int include_ok;		/* ~/.ssh/config includes our config */
};

/* AWS calls setup needs (cmd/cloudx-proxy/aws.c): the caller's ARN, and the
 * tags of an instance as an EC2-style [{"Key","Value"}] array. */
int cx_drv_aws_identity(struct cx_drv_setup *s, char **arn);
int cx_drv_aws_instance_tags(struct cx_drv_setup *s, const char *id,
    cJSON **tags);

/* Runs stage `name` (found like connect's) with args (NULL-terminated),
 * in (may be NULL) on stdin; its JSON in *out (free with
 * cx_json_delete_secure).  A failing stage's own message is on stderr;
 * its status comes back as CX_ERR_*. */
int cx_drv_run_stage(const char *name, const char *const *args,
    const struct cx_buf *in, cJSON **out);

/* 1Password (cmd/cloudx-proxy/op.c): finds or creates the key, exports its
 * public half to s->pub_file and sets s->identity_agent.  CX_ERR_NOTFOUND
 * when 1Password is not usable here (no op, not signed in, no agent). */
int cx_drv_op_setup(struct cx_drv_setup *s);

/* The SSH config and its Include through lib/ssh/sshconf.h
 * (cmd/cloudx-proxy/sshcfg.c). */
int cx_drv_setup_sshconfig(struct cx_drv_setup *s);

/* Absolute path of this program (/proc/self/exe). */
int cx_drv_self_path(char **out);
/* The cx_sshconf flags for this system's ssh (CX_SSHCONF_WINDOWS on
 * Windows: Windows OpenSSH's config) */
int cx_drv_sshconf_os_flags(void);
/* The config list/cleanup/doctor read: opt, else ~/.ssh/cloudX/config if
 * it exists, else ~/.ssh/vscode/config if it exists, else the cloudX path. */
int cx_drv_find_config(const char *home, const char *opt, char **out);
struct cx_sshconf;
/* Loads path with prefix, or with the prefix the file names when prefix
 * finds none of our blocks; *used_prefix malloc'd. */
int cx_drv_load_any(const char *path, const char *prefix, int flags,
    struct cx_sshconf **out, char **used_prefix);

/* Moves ~/.ssh/vscode to target and rewrites the paths in its config and
 * the Include of ~/.ssh/config (cmd/cloudx-proxy/cleanup.c). */
int cx_drv_migrate(const char *home, const char *target, int dry_run);

#endif
