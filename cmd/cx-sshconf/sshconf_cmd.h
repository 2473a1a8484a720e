/*
 * The operations of the cx-sshconf command, on top of sshconf.h: one request
 * in, the "SshConfig" JSON object (or the human list text) out.
 */
#ifndef CX_SSHCONF_CMD_H
#define CX_SSHCONF_CMD_H

#include <cjson/cJSON.h>

#include "core/buf.h"

struct cx_sshconf_req {
	const char *op;		/* list add-host set-env remove-host remove-env
				 * ensure-include adopt show */
	const char *config;	/* our file; NULL: <ssh_dir>/config or the
				 * connect default dir's config */
	const char *main_config; /* ensure-include; NULL: ~/.ssh/config */
	const char *prefix;	/* NULL: "cloudx" (adopt/list: guessed) */
	const char *env, *name, *instance;
	const char *ssh_key, *ssh_dir, *profile, *aws_env, *region;
	const char *identity_agent;	/* 1Password socket */
	const char *proxy_path;	/* NULL: cloudx-proxy beside our program */
	const char *argv0;
	int windows, dry_run, detailed, json, env_opts_given;
};

/*
 * Runs req.  For every operation but a non-JSON list, sets doc["SshConfig"]
 * (doc is the stage document, owned by the caller); a non-JSON list appends
 * the human layout to text instead.  Errors as in sshconf.h; a missing file
 * for list/remove-* is CX_ERR_NOTFOUND.
 */
int cx_sshconf_run(const struct cx_sshconf_req *req, cJSON *doc,
    struct cx_buf *text);

/* The absolute path of cloudx-proxy next to our own executable
 * (/proc/self/exe, then argv0), else found in PATH, else the one next to
 * us even if missing.  *out is malloc'd. */
int cx_sshconf_default_proxy_path(const char *argv0, char **out);

#endif
