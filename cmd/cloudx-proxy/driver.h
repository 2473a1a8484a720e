/*
 * The driver, cloudx-proxy: connect (the ProxyCommand), setup, list,
 * doctor, cleanup, migrate.  cmd/cloudx-proxy/main.c only dispatches; each
 * subcommand's *_main() parses its own options and returns an exit status.
 *
 * Implemented by the .c files of this folder.  Every function returns 0
 * or a negative CX_ERR_* unless its comment says otherwise.
 */
#ifndef CX_DRIVER_H
#define CX_DRIVER_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "ssm/tunnel_aws.h"

/* Limits of what the driver reads (documented in cloudx-proxy(1)). */
#define CX_DRV_MAX_STAGE_OUT	(1024 * 1024)	/* one stage's JSON */
#define CX_DRV_MAX_TEXT_FILE	(1024 * 1024)	/* ssh/aws/VS Code files */
#define CX_DRV_MAX_ANSWER	4096		/* one prompt answer */

/* ---- common (cmd/cloudx-proxy/common.c) ---- */

/* "cloudX" when the basename of argv0 is exactly "cloudX-proxy", else
 * "cloudx" (static string). */
const char *cx_drv_prefix(const char *argv0);
/* The program name for messages: the basename of argv0 (static storage
 * inside argv0). */
const char *cx_drv_progname(const char *argv0);

/* Logs the one-line message for an invalid instance id. */
void cx_drv_bad_instance_id(const char *id);

/* Logs the one-line message for a bad option of subcommand sub (getopt's
 * ':' for a missing value, else unknown) and returns CX_EXIT_USAGE. */
int cx_drv_bad_option(const char *sub, int c, const char *opt,
    const char *prog);

/*
 * The seed's default detection: ~/.ssh/cloudX exists -> "cloudX", else
 * ~/.ssh/vscode exists -> "vscode", else "cloudX".  home: the home folder.
 * Returns a static string, used as both profile and key name.
 */
const char *cx_drv_default_name(const char *home);

/*
 * The SSH folder for connect: ssh_dir, else the folder of ssh_config,
 * else ~/.ssh/cloudX if it exists, else ~/.ssh/vscode if it exists, else
 * ~/.ssh/cloudX.  "~/" is expanded.  *out is malloc'd.
 */
int cx_drv_connect_ssh_dir(const char *home, const char *ssh_dir,
    const char *ssh_config, char **out);


/* Replaces the leading home folder of path by "~" (for display and for
 * configs); *out is malloc'd. */
int cx_drv_tilde(const char *home, const char *path, char **out);

/* ---- running children (cmd/cloudx-proxy/run.c) ---- */

/*
 * Catches SIGHUP/SIGINT/SIGTERM (os.h: cx_sig_catch): one received while a
 * stage runs is passed on to it at once (ssh sends SIGHUP to its
 * ProxyCommand), and a stage still there 500 ms later is killed; the
 * driver's own AWS calls and waits end on it too (CX_ERR_CANCELLED).
 */
int cx_drv_signals_init(void);
/* The signal that arrived (0 if none). */
int cx_drv_signal_seen(void);

/*
 * Runs one stage: argv[0] is a path or a name looked up in PATH; stdin is
 * fed from in (NULL or empty: EOF at once), stdout is collected into out
 * (its max is the cap: over it the stage is killed, CX_ERR_TOOBIG),
 * stderr is inherited.  *wstatus gets the wait status.  Returns
 * CX_ERR_NOTFOUND if the program cannot be run, CX_ERR_IO, CX_ERR_TOOBIG,
 * CX_ERR_CANCELLED (a signal: the stage was stopped, see above).
 */
int cx_drv_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, int *wstatus);

/* Async variant: starts the stage and returns at once; *pidp and *outfd
 * (its stdout, to read to EOF) receive the child.  The input is written
 * before returning, so it must fit a pipe (64 KiB). */
int cx_drv_spawn(char *const argv[], const void *in, size_t inlen,
    pid_t *pidp, int *outfd);
/* Reads the child's stdout to EOF into out, closes outfd, reaps pid.
 * CX_ERR_CANCELLED: a signal came (the child is stopped as above). */
int cx_drv_collect(pid_t pid, int outfd, struct cx_buf *out, int *wstatus);

/*
 * What a finished stage left: r from cx_drv_run() or cx_drv_collect(), its
 * wait status ws, its stdout out, which must be one JSON object (as
 * execline's backtick.c, nothing else).  *status gets the exit status to
 * pass on: 0; 127 when prog could not be run; cx_exit_code(r) when running
 * it failed; the stage's own (cx_drv_exit_status) when it failed, having
 * said why; CX_EXIT_INTERNAL when it printed no JSON object (logged).  The
 * object goes to *docp when docp is not NULL (the caller's:
 * cx_json_delete_secure), else it is dropped.  Returns 0, r, or the
 * CX_ERR_* for the status.
 */
struct cJSON;
int cx_drv_stage_result(const char *prog, int r, int ws,
    const struct cx_buf *out, struct cJSON **docp, int *status);

/*
 * Runs one stage to its end: cx_drv_run() with in (NULL: none) on its
 * stdin and its stdout in out, initialised here as a secret of at most
 * CX_DRV_MAX_STAGE_OUT bytes (the caller cleans it up in every case); then
 * cx_drv_stage_result().
 */
int cx_drv_stage(char *const argv[], const struct cx_buf *in,
    struct cx_buf *out, struct cJSON **docp, int *status);

/* A child's wait status as our exit status (execline rule): exit code
 * unchanged below 128, 128 at or above, 128+signo for a signal. */
int cx_drv_exit_status(int wstatus);

/*
 * Puts ctx (ctxlen bytes) on a fresh descriptor (memfd, else an unlinked
 * 0600 temp file) readable from offset 0, not close-on-exec.  *fdp gets it.
 */
int cx_drv_context_fd(const void *ctx, size_t ctxlen, int *fdp);

/* Writes the argv as a shell-quoted line into b (for plans and logs). */
int cx_drv_argv_str(char *const argv[], struct cx_buf *b);

/* ---- connect's session, started while cx-pushkey runs (driver_session.c) */

struct cx_drv_session {
	struct cx_tunnel_aws aws;	/* from the stage JSON */
	struct cx_tunnel_ops ops;	/* the tunnel's AWS calls */
	struct cx_tunnel_session sess;	/* token: secret */
	int have_aws, started;
};

/*
 * StartSession (AWS-StartSSHSession, port) for instance_id with the
 * credentials and region of the stage JSON (len bytes), retried while the
 * agent is not connected for at most deadline_ms (0: 60 s), exactly as
 * cx-tunnel would; stops retrying once a signal came (CX_ERR_CANCELLED).
 * Errors are logged (the tunnel's words).  A "Session" already in the JSON
 * is taken as is.  Release with cx_drv_session_clean_up() in every case.
 */
int cx_drv_session_start(struct cx_drv_session *ds, const void *json,
    size_t len, const char *instance_id, int port, long deadline_ms);
/* TerminateSession for a session we started and will not use (quiet). */
void cx_drv_session_end(struct cx_drv_session *ds);
/* Rewrites the JSON object in ctx with "Session" set (ctx is secret). */
int cx_drv_session_merge(const struct cx_drv_session *ds, struct cx_buf *ctx);
void cx_drv_session_clean_up(struct cx_drv_session *ds);

/* ---- connect's warm wave (cmd/cloudx-proxy/wave.c) ---- */

/* Set to anything but "" or "0": connect makes no wave (--no-wave). */
#define CX_DRV_NO_WAVE_ENV	"CLOUDX_PROXY_NO_WAVE"

/* 1 unless no_wave (--no-wave) or $CLOUDX_PROXY_NO_WAVE turns it off. */
int cx_drv_wave_enabled(int no_wave);

struct cx_drv_wave_opts {
	const char *instance_id;
	int port;
	const char *os_user;	/* the user the key is pushed for */
	const char *public_key;	/* the .pub file */
};

/*
 * After the credentials (creds: cx-creds' JSON): DescribeInstances,
 * DescribeInstanceInformation, SendSSHPublicKey and StartSession at once
 * (cx_aws_batch()), each call's duration and the wave's in the connect
 * log.  Returns 0 when the instance is running, its agent Online, the key
 * pushed and the session started: out (initialised here, secret) holds
 * the context cx-instance | cx-pushkey would have printed and ds the
 * session (cx_drv_session_merge()).  Returns 1 otherwise (the reason at
 * -v): a session started meanwhile was terminated, ds is clean, and the
 * stages are to run as without the wave (they report errors).
 * CX_ERR_CANCELLED: a signal came; CX_ERR_NOMEM.  Release ds with
 * cx_drv_session_clean_up() and out with cx_buf_clean_up() in every case.
 */
int cx_drv_wave(const struct cx_drv_wave_opts *o, const struct cx_buf *creds,
    struct cx_drv_session *ds, struct cx_buf *out);

/* ---- the connect log (cmd/cloudx-proxy/connlog.c; core/connlog.h) ---- */

/* Starts the connect's journal (nothing on failure: the connect goes on)
 * with its time, id, host (looked up in cfg by HostName), instance, port
 * and profile. */
void cx_drv_connlog_begin(const char *instance, int port, const char *profile,
    const char *cfg);
/* Adds the region the credentials stage settled on (its JSON). */
void cx_drv_connlog_region(const struct cx_buf *stage_json);
/* doctor: prints the last failed connect of host (or instance) and how to
 * fix it; nothing when there is none. */
void cx_drv_connlog_doctor(const char *host, const char *instance);

/* ---- subcommands: each returns an exit status ---- */
int cx_drv_connect_main(int argc, char **argv, const char *argv0);
int cx_drv_setup_main(int argc, char **argv, const char *argv0);
int cx_drv_list_main(int argc, char **argv, const char *argv0);
int cx_drv_doctor_main(int argc, char **argv, const char *argv0);
int cx_drv_cleanup_main(int argc, char **argv, const char *argv0);
int cx_drv_migrate_main(int argc, char **argv, const char *argv0);
/* cp.c */
int cx_drv_cp_main(int argc, char **argv, const char *argv0);
/* connlog.c */
int cx_drv_log_main(int argc, char **argv, const char *argv0);
/* login.c: the SSO login (lib/aws/sso_login.h) */
int cx_drv_login_main(int argc, char **argv, const char *argv0);
/* power.c: wake (start, wait for SSM online) and stop a host's instance */
int cx_drv_wake_main(int argc, char **argv, const char *argv0);
int cx_drv_stop_main(int argc, char **argv, const char *argv0);

/* ---- connect internals, for tests (cmd/cloudx-proxy/connect.c) ---- */

struct cx_drv_connect_opts {
	const char *instance_id;
	int port;
	const char *profile;	/* NULL: detected */
	const char *ssh_key;	/* NULL: detected */
	const char *ssh_config;
	const char *ssh_dir;
	const char *region;
	const char *aws_env;
	const char *os_user;	/* NULL: ec2-user (cx-pushkey's default) */
	int timeout_s;		/* 0: the stages' defaults */
	int dry_run;
	int no_wave;		/* --no-wave */
	int verbosity;
};

#endif
