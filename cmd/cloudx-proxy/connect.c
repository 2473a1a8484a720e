/*
 * cloudx-proxy connect: the ProxyCommand.  Runs the stages as children over
 * pipes (cx-creds | cx-instance ensure | cx-pushkey), then execs cx-tunnel
 * with the whole context on a descriptor, so that the process ssh signals
 * is the tunnel itself (design.md; c-style-anchors.md 2.11).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "ec2/instance.h"
#include "ec2/pushkey.h"
#include "driver.h"

#define MAX_ARGS 24
/* an EC2 Instance Connect key lives 60 s: push again after this long */
#define CX_DRV_REPUSH_MS 30000

/* One command line being built; strings are borrowed or owned by `own`. */
struct argv_b {
	char *v[MAX_ARGS + 1];
	int n;
};

static void
add(struct argv_b *a, const char *s)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (char *)(uintptr_t)s;
	a->v[a->n] = NULL;
}

static void
add_verbosity(struct argv_b *a, int verbosity)
{
	if (verbosity >= 2)
		add(a, "-vv");
	else if (verbosity == 1)
		add(a, "-v");
}

static const struct option long_opts[] = {
	{ "aws-env",	required_argument,	NULL, 'e' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "no-wave",	no_argument,		NULL, 'W' },
	{ "os-user",	required_argument,	NULL, 'u' },
	{ "profile",	required_argument,	NULL, 'p' },
	{ "region",	required_argument,	NULL, 'r' },
	{ "ssh-config",	required_argument,	NULL, 'c' },
	{ "ssh-dir",	required_argument,	NULL, 'd' },
	{ "ssh-key",	required_argument,	NULL, 'k' },
	{ "timeout",	required_argument,	NULL, 't' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
"usage: %s connect INSTANCE_ID [PORT] [--profile P] [--ssh-key K]\n"
"           [--ssh-config F] [--ssh-dir D] [--region R] [--aws-env E]\n"
"           [--os-user U] [--timeout S] [--no-wave] [--dry-run] [-v]\n"
"\n"
"The ProxyCommand: starts the instance if needed, pushes the public key\n"
"<ssh-dir>/<ssh-key>.pub with EC2 Instance Connect, and tunnels the SSH\n"
"stream over AWS Systems Manager on stdin/stdout.\n"
"\n"
"  PORT               port on the instance (default 22)\n"
"  -p, --profile P    AWS profile (default: cloudX, or vscode if only\n"
"                     ~/.ssh/vscode exists)\n"
"  -k, --ssh-key K    key name (same default as the profile)\n"
"  -c, --ssh-config F SSH config file; its folder is the key folder\n"
"  -d, --ssh-dir D    folder of the key (default ~/.ssh/cloudX)\n"
"  -r, --region R     AWS region (default: the profile's, else eu-west-1)\n"
"  -e, --aws-env E    use ~/.aws/aws-envs/E/{config,credentials}\n"
"  -u, --os-user U    push the key for user U (default ec2-user; the\n"
"                     generated ProxyCommand passes ssh's %%r)\n"
"  -t, --timeout S    give up waiting for the instance, its agent or the\n"
"                     session after S seconds (default: 300 for the\n"
"                     instance, 60 for the session)\n"
"  -W, --no-wave      no warm wave: the stages one after the other\n"
"                     (also CLOUDX_PROXY_NO_WAVE=1)\n"
"  -n, --dry-run      print the plan, call nothing\n"
"  -v, --verbose      more messages (-vv: debug)\n",
	    prog);
}

struct plan {
	struct argv_b creds, instance, pushkey, tunnel;
	char *pubkey;		/* owned */
	char *ssh_dir;		/* owned */
	char *cfg;		/* owned: <ssh_dir>/config (for the log) */
	char *progs[4];		/* owned paths of the stage programs */
	char port[8];
	char timeout[16];
	char deadline[24];
	char fdstr[32];
};

static void
plan_clean_up(struct plan *p)
{
	int i;

	free(p->pubkey);
	free(p->ssh_dir);
	free(p->cfg);
	for (i = 0; i < 4; i++)
		free(p->progs[i]);
	memset(p, 0, sizeof(*p));
}

static int
plan_build(const struct cx_drv_connect_opts *o, const char *home,
    struct plan *p)
{
	static const char *const names[4] = {
		"cx-creds", "cx-instance", "cx-pushkey", "cx-tunnel"
	};
	const char *dflt = cx_drv_default_name(home);
	const char *key = o->ssh_key ? o->ssh_key : dflt;
	char *keyfile = NULL;
	int i, r, n;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < 4; i++)
		if ((r = cx_find_prog(names[i], &p->progs[i])) != 0)
			return r;
	if ((r = cx_drv_connect_ssh_dir(home, o->ssh_dir, o->ssh_config,
	    &p->ssh_dir)) != 0)
		return r;
	if ((r = cx_path_join(p->ssh_dir, "config", &p->cfg)) != 0)
		return r;
	n = cx_asprintf(&keyfile, "%s.pub", key);
	if (n < 0)
		return CX_ERR_NOMEM;
	r = cx_path_join(p->ssh_dir, keyfile, &p->pubkey);
	free(keyfile);
	if (r != 0)
		return r;
	snprintf(p->port, sizeof(p->port), "%d", o->port);

	add(&p->creds, p->progs[0]);
	add_verbosity(&p->creds, o->verbosity);
	add(&p->creds, "--profile");
	add(&p->creds, o->profile ? o->profile : dflt);
	if (o->region) {
		add(&p->creds, "--region");
		add(&p->creds, o->region);
	}
	if (o->aws_env) {
		add(&p->creds, "--aws-env");
		add(&p->creds, o->aws_env);
	}
	add(&p->instance, p->progs[1]);
	add_verbosity(&p->instance, o->verbosity);
	if (o->timeout_s > 0) {
		snprintf(p->timeout, sizeof(p->timeout), "%d", o->timeout_s);
		add(&p->instance, "--timeout");
		add(&p->instance, p->timeout);
	}
	add(&p->instance, "ensure");
	add(&p->instance, o->instance_id);
	add(&p->pushkey, p->progs[2]);
	add_verbosity(&p->pushkey, o->verbosity);
	if (o->os_user != NULL) {
		add(&p->pushkey, "--os-user");
		add(&p->pushkey, o->os_user);
	}
	add(&p->pushkey, "--public-key");
	add(&p->pushkey, p->pubkey);
	add(&p->tunnel, p->progs[3]);
	add_verbosity(&p->tunnel, o->verbosity);
	if (o->timeout_s > 0) {
		snprintf(p->deadline, sizeof(p->deadline), "%lld",
		    (long long)o->timeout_s * 1000);
		add(&p->tunnel, "--deadline-ms");
		add(&p->tunnel, p->deadline);
	}
	add(&p->tunnel, "--context-fd");
	add(&p->tunnel, p->fdstr);
	add(&p->tunnel, o->instance_id);
	add(&p->tunnel, p->port);
	return 0;
}

static void
print_plan(const struct cx_drv_connect_opts *o, struct plan *p)
{
	struct cx_buf b;
	char *const *cmds[4] = { p->creds.v, p->instance.v, p->pushkey.v,
	    p->tunnel.v };
	static const char *const lead[4] = { "  ", "  | ", "  | ",
	    "  exec " };
	int i;

	cx_buf_init(&b, 0);
	cx_buf_puts(&b, "[DRY RUN] Connection workflow preview:\n");
	if (cx_drv_wave_enabled(o->no_wave))
		cx_buf_printf(&b, "  Would first check the instance, push the "
		    "key and start the session at once (warm wave); if %s is "
		    "not running and online:\n", o->instance_id);
	cx_buf_printf(&b, "  Would check instance status: %s\n",
	    o->instance_id);
	cx_buf_puts(&b, "  Would start instance if stopped\n");
	cx_buf_puts(&b, "  Would wait for instance to come online\n");
	cx_buf_printf(&b, "  Would push SSH key %s to instance\n", p->pubkey);
	cx_buf_printf(&b, "  Would start SSM session with port forwarding "
	    "%s -> localhost:%s\n", p->port, p->port);
	cx_buf_puts(&b, "[DRY RUN] Commands:\n");
	snprintf(p->fdstr, sizeof(p->fdstr), "N");
	for (i = 0; i < 4; i++) {
		cx_buf_puts(&b, lead[i]);
		cx_drv_argv_str(cmds[i], &b);
		cx_buf_putc(&b, '\n');
		if (i == 2)
			cx_buf_printf(&b, "  + meanwhile, in %s: StartSession "
			    "%s %s port %s (Session in the context)\n",
			    cx_progname(), CX_TUNNEL_DOCUMENT,
			    o->instance_id, p->port);
	}
	(void)!write(STDERR_FILENO, cx_buf_str(&b), b.len);
	cx_buf_clean_up(&b);
}

/* Runs one stage; on failure returns the exit status to use (> 0). */
static int
stage(struct argv_b *a, struct cx_buf *in, struct cx_buf *out)
{
	int st;

	(void)cx_drv_stage(a->v, in, out, NULL, &st);
	return st;
}

/*
 * cx-pushkey as a child while this process starts the session: they need
 * not wait for each other.  On success j3 holds pushkey's JSON and ds the
 * session.  A failing push wins over a failing session (stage order); a
 * session started for a failed push is terminated.  Returns 0 or the exit
 * status to use.
 */
static int
push_and_start(const struct cx_drv_connect_opts *o, struct plan *p,
    struct cx_buf *j2, struct cx_buf *j3, struct cx_drv_session *ds)
{
	uint64_t t0 = cx_now_ms(), t_push = 0, t_sess;
	pid_t pid;
	int outfd, r, ws = 0, st, sst;
	long deadline = o->timeout_s > 0 ? (long)o->timeout_s * 1000 : 0;

	cx_info("Pushing SSH key...");
	r = cx_drv_spawn(p->pushkey.v, j2->data, j2->len, &pid, &outfd);
	if (r == 0)
		t_push = cx_now_ms();
	if (r == CX_ERR_TOOBIG) {
		/* more than a pipe holds: one after the other */
		if ((st = stage(&p->pushkey, j2, j3)) != 0)
			return st;
		cx_connlog_step("key_push", cx_now_ms() - t0);
		cx_info("Starting session...");
		t_sess = cx_now_ms();
		r = cx_drv_session_start(ds, j3->data, j3->len,
		    o->instance_id, o->port, deadline);
		cx_connlog_step("session", cx_now_ms() - t_sess);
		if (r != 0 && cx_drv_signal_seen())
			return 128 + cx_drv_signal_seen();
		return r == 0 ? 0 : cx_exit_code(r);
	}
	if (r != 0)
		return r == CX_ERR_NOTFOUND ? 127 : cx_exit_code(r);
	cx_info("Starting session...");
	t_sess = cx_now_ms();
	r = cx_drv_session_start(ds, j2->data, j2->len, o->instance_id,
	    o->port, deadline);
	t_sess = cx_now_ms() - t_sess;
	sst = r == 0 ? 0 : cx_exit_code(r);
	cx_buf_init(j3, CX_DRV_MAX_STAGE_OUT);
	cx_buf_set_secret(j3);
	r = cx_drv_collect(pid, outfd, j3, &ws);
	/* the two overlap: each with its own duration */
	cx_connlog_step("key_push", cx_now_ms() - t_push);
	cx_connlog_step("session", t_sess);
	if (cx_drv_signal_seen()) {
		cx_drv_session_end(ds);
		return 128 + cx_drv_signal_seen();
	}
	(void)cx_drv_stage_result(p->pushkey.v[0], r, ws, j3, NULL, &st);
	if (st != 0) {
		cx_drv_session_end(ds);
		return st;
	}
	if (sst != 0)
		return sst;
	/*
	 * A pushed key is valid for 60 s.  If the agent took long to take
	 * the session, push it again so that sshd still finds it.
	 */
	if (cx_now_ms() - t0 > CX_DRV_REPUSH_MS) {
		cx_info("Pushing SSH key again (the first push is %llu s old)...",
		    (unsigned long long)((cx_now_ms() - t0) / 1000));
		cx_buf_clean_up(j3);
		if ((st = stage(&p->pushkey, j2, j3)) != 0) {
			cx_drv_session_end(ds);
			return st;
		}
	}
	return 0;
}

static int
check_pubkey(const char *path)
{
	struct cx_buf b;
	int r;

	cx_buf_init(&b, 16384);
	r = cx_read_file(path, 16384, &b);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("public key '%s' not found: run '%s setup' or give "
		    "--ssh-key/--ssh-dir", path, cx_progname());
		r = CX_ERR_CONFIG;
	} else if (r == 0 && strncmp(cx_buf_str(&b), "ssh-", 4) != 0 &&
	    strncmp(cx_buf_str(&b), "ecdsa-", 6) != 0 &&
	    strncmp(cx_buf_str(&b), "sk-", 3) != 0) {
		cx_error("'%s' is not an OpenSSH public key", path);
		r = CX_ERR_INPUT;
	}
	cx_buf_clean_up(&b);
	return r;
}

static int
run_connect(const struct cx_drv_connect_opts *o, const char *home)
{
	struct plan p;
	struct cx_buf j1, j2, j3;
	struct cx_drv_session ds;
	struct cx_drv_wave_opts wo;
	uint64_t t;
	int st = 0, fd = -1, saved_err = -1, r;

	memset(&ds, 0, sizeof(ds));
	cx_buf_init(&j1, 0);
	cx_buf_init(&j2, 0);
	cx_buf_init(&j3, 0);
	if ((r = plan_build(o, home, &p)) != 0) {
		st = cx_exit_code(r);
		goto out;
	}
	if (o->dry_run) {
		print_plan(o, &p);
		goto out;
	}
	cx_drv_connlog_begin(o->instance_id, o->port, o->profile ? o->profile :
	    cx_drv_default_name(home), o->ssh_config ? o->ssh_config : p.cfg);
	/* ssh points a ProxyCommand's stderr at /dev/null under
	 * ControlPersist (the generic tier): while the stages run, their
	 * messages and ours go to the terminal; the tunnel, which outlives
	 * it in a persisting master, gets ssh's stderr back */
	saved_err = cx_stderr_to_tty();
	if ((r = check_pubkey(p.pubkey)) != 0) {
		st = cx_exit_code(r);
		goto out;
	}
	if ((r = cx_drv_signals_init()) != 0) {
		st = cx_exit_code(r);
		goto out;
	}
	cx_info("Connecting to instance %s on port %s...", o->instance_id,
	    p.port);
	t = cx_now_ms();
	if ((st = stage(&p.creds, NULL, &j1)) != 0)
		goto out;
	cx_connlog_step("credentials", cx_now_ms() - t);
	cx_drv_connlog_region(&j1);
	r = 1;
	if (cx_drv_wave_enabled(o->no_wave)) {
		wo.instance_id = o->instance_id;
		wo.port = o->port;
		wo.os_user = o->os_user ? o->os_user :
		    CX_PUSHKEY_DEFAULT_OS_USER;
		wo.public_key = p.pubkey;
		r = cx_drv_wave(&wo, &j1, &ds, &j3);
		if (r < 0) {
			st = r == CX_ERR_CANCELLED && cx_drv_signal_seen() ?
			    128 + cx_drv_signal_seen() : cx_exit_code(r);
			goto out;
		}
	}
	if (r != 0) {
		/* cold (or no wave): the stages one after the other */
		cx_buf_clean_up(&j3);
		cx_drv_session_clean_up(&ds);
		if ((st = stage(&p.instance, &j1, &j2)) != 0)
			goto out;
		cx_buf_clean_up(&j1);
		if ((st = push_and_start(o, &p, &j2, &j3, &ds)) != 0)
			goto out;
		cx_buf_clean_up(&j2);
	}
	cx_buf_clean_up(&j1);
	if (cx_drv_signal_seen()) {
		st = 128 + cx_drv_signal_seen();
		goto out;
	}
	if ((r = cx_drv_session_merge(&ds, &j3)) != 0 ||
	    (r = cx_drv_context_fd(j3.data, j3.len, &fd)) != 0) {
		st = cx_exit_code(r);
		goto out;
	}
	cx_buf_clean_up(&j3);
	if (cx_fd_pass_arg(fd, p.fdstr) != 0) {
		cx_error("cannot hand the session context to '%s'",
		    p.tunnel.v[0]);
		st = CX_EXIT_TEMP;
		goto out;
	}
	cx_stderr_restore(&saved_err);
	/* cx-tunnel finishes the record (at the first byte from the
	 * instance): the journal and $CX_CONNLOG_FD are inherited */
	(void)cx_connlog_handoff();
	(void)cx_exec(p.tunnel.v);
	cx_error("cannot run '%s': %s", p.tunnel.v[0], strerror(errno));
	st = errno == ENOENT ? 127 : 126;
	cx_error("cannot run '%s': %s", p.tunnel.v[0], strerror(errno));
 out:
	if (st != 0 && cx_drv_signal_seen())
		cx_error("stopped by %s", cx_sig_name(cx_drv_signal_seen()));
	cx_connlog_finish(st, 0);	/* the record of a connect that failed */
	/* a session we started will not be used: end it (best effort: after
	 * a signal the call gives up at once, and the session times out) */
	if (st != 0)
		cx_drv_session_end(&ds);
	cx_drv_session_clean_up(&ds);
	cx_stderr_restore(&saved_err);
	if (fd != -1)
		close(fd);
	cx_buf_clean_up(&j1);
	cx_buf_clean_up(&j2);
	cx_buf_clean_up(&j3);
	plan_clean_up(&p);
	return st;
}

int
cx_drv_connect_main(int argc, char **argv, const char *argv0)
{
	struct cx_drv_connect_opts o;
	const char *prog = cx_drv_progname(argv0);
	char *home = NULL;
	long long port = 22, tmo = 0;
	int c, st;

	memset(&o, 0, sizeof(o));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:d:e:hk:np:r:t:u:vW", long_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'c': o.ssh_config = optarg; break;
		case 'd': o.ssh_dir = optarg; break;
		case 'e': o.aws_env = optarg; break;
		case 'h': usage(stdout, prog); return 0;
		case 'k': o.ssh_key = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'p': o.profile = optarg; break;
		case 'r': o.region = optarg; break;
		case 't':
			if (cx_strtonum(optarg, 1, 86400, &tmo) != 0) {
				cx_error("connect: --timeout must be 1 to 86400 "
				    "seconds, not '%s'", optarg);
				return CX_EXIT_USAGE;
			}
			o.timeout_s = (int)tmo;
			break;
		case 'u': o.os_user = optarg; break;
		case 'v': o.verbosity++; break;
		case 'W': o.no_wave = 1; break;
		default:
			return cx_drv_bad_option("connect", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind >= argc || optind + 2 < argc) {
		cx_error("connect: %s (see '%s connect --help')",
		    optind >= argc ? "missing INSTANCE_ID" :
		    "too many arguments", prog);
		return CX_EXIT_USAGE;
	}
	o.instance_id = argv[optind];
	if (optind + 1 < argc &&
	    cx_strtonum(argv[optind + 1], 1, 65535, &port) != 0) {
		cx_error("connect: invalid port '%s'", argv[optind + 1]);
		return CX_EXIT_USAGE;
	}
	o.port = (int)port;
	if (o.os_user != NULL && !cx_pushkey_os_user_valid(o.os_user)) {
		cx_error("connect: '%s' is not a user name EC2 Instance Connect "
		    "accepts", o.os_user);
		return CX_EXIT_USAGE;
	}
	if (!cx_instance_id_valid(o.instance_id)) {
		cx_drv_bad_instance_id(o.instance_id);
		return CX_EXIT_USAGE;
	}
	cx_log_set_verbosity(o.verbosity);
	if (cx_home_dir(&home) != 0)
		return CX_EXIT_TEMP;
	st = run_connect(&o, home);
	free(home);
	return st;
}
