/*
 * cloudx-proxy doctor [HOST]: checks each prerequisite of a connect, one
 * line per check ("✓ what: detail" or "✗ what: problem; fix: how"), in the
 * order a connect needs them.  Read-only, except that the EC2 Instance
 * Connect permission is checked by a real 60-second key push when the
 * instance is running (the same push every connect makes).
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/hardening.h"
#include "core/log.h"
#include "core/os.h"
#include "core/osdata.h"
#include "core/stage.h"
#include "core/text.h"
#include "ec2/instance.h"
#include "ssh/sshconf.h"
#include "ssh/sshver.h"
#include "driver.h"
#include "setup.h"

/* `ssh -V` runs at most this long */
#define SSH_V_TIMEOUT_MS	10000

static int failures;
/* the ssh in PATH and VS Code's remote.SSH.path (flavour CX_SSH_UNKNOWN:
 * none, or not checked) */
static struct cx_sshver path_ssh, vscode_ssh;

static void
ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
ok(const char *what, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cx_text_sanitise(msg, strlen(msg), 0);
	printf("\xe2\x9c\x93 %s: %s\n", what, msg);
}

static void
print_fix(const char *fix)
{
	char *f = cx_text_safe_dup(fix, 1024);

	printf("%s\n", f ? f : "");
	free(f);
}

static void
bad(const char *what, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
bad(const char *what, const char *fix, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cx_text_sanitise(msg, strlen(msg), 0);
	printf("\xe2\x9c\x97 %s: %s; fix: ", what, msg);
	/* the fix may name a profile or a path: shown safely too */
	print_fix(fix);
	failures++;
}

static void
check_mode(const char *what, const char *path, mode_t want, int required,
    const char *fix)
{
	struct cx_os_stat st;

	if (cx_os_stat_path(path, &st) != 0) {
		if (required)
			bad(what, fix, "%s is missing", path);
		return;
	}
	if (cx_os_host() == CX_OS_WINDOWS) {
		char icacls[4200];

		/* no modes: the access list, as Windows OpenSSH judges it */
		snprintf(icacls, sizeof(icacls), "icacls \"%s\" /inheritance:r "
		    "/grant:r \"%%USERNAME%%:F\"", path);
		if ((want & 077) == 0 && cx_check_private_key(path) != 0)
			bad(what, icacls, "%s is readable by other users",
			    path);
		else
			ok(what, "%s", path);
		return;
	}
	if ((st.mode & 07777 & ~want) != 0)
		bad(what, "chmod it", "%s is mode %o, wanted %o", path,
		    st.mode & 07777, (unsigned)want);
	else
		ok(what, "%s (mode %o)", path, st.mode & 07777);
}

static const char *
fix_for(int r, const char *profile, char *buf, size_t n)
{
	switch (r) {
	case CX_ERR_LOGIN:
		snprintf(buf, n, "run '%s login --profile %s' (or renew "
		    "the keys of profile '%s')", cx_progname(), profile,
		    profile);
		break;
	case CX_ERR_DENIED:
		snprintf(buf, n, "ask your admin for the cloudX group/"
		    "permission set (see the README's IAM policy)");
		break;
	case CX_ERR_NOTFOUND:
		snprintf(buf, n, "check the instance id and the region "
		    "(--region or the profile's region)");
		break;
	case CX_ERR_CONFIG:
		snprintf(buf, n, "check ~/.aws/config and ~/.aws/credentials "
		    "for profile '%s' (run '%s setup')", profile,
		    cx_progname());
		break;
	default:
		snprintf(buf, n, "check the network and retry");
	}
	return buf;
}

/*
 * Runs `prog -V` (no shell, bounded) and parses what it prints on stderr
 * into *v.  Returns 0 (*v may still be CX_SSH_UNKNOWN: no version line),
 * CX_ERR_NOTFOUND when prog cannot be found, or another CX_ERR_*.
 */
static int
ssh_version(const char *prog, struct cx_sshver *v)
{
	char *argv[] = { (char *)(uintptr_t)prog, "-V", NULL };
	struct cx_buf err;
	int r, st;

	memset(v, 0, sizeof(*v));
	cx_buf_init(&err, 64 * 1024);
	r = cx_run(argv, NULL, 0, NULL, &err, SSH_V_TIMEOUT_MS, &st);
	if (r == 0)
		(void)cx_sshver_parse(cx_os_host(), (const char *)err.data,
		    err.len, v);
	/* POSIX lets posix_spawn report a program it cannot exec as a
	 * child exiting 127 (so does a run under valgrind) */
	if (r == 0 && v->flavour == CX_SSH_UNKNOWN && cx_wait_exit(st) == 127)
		r = CX_ERR_NOTFOUND;
	cx_buf_clean_up(&err);
	return r;
}

/* "OpenSSH 9.8p1 (OpenSSH, LibreSSL 3.3.6)" into buf. */
static const char *
ssh_desc(const struct cx_sshver *v, char *buf, size_t n)
{
	snprintf(buf, n, "OpenSSH %s (%s%s%s)", v->version,
	    cx_sshver_flavour_name(v->flavour), v->tls[0] ? ", " : "",
	    v->tls);
	return buf;
}

/* The quirks of client v for this OS that need no configuration: one ✗
 * line each under what, prefixed by pfx; returns how many. */
static size_t
client_quirks(const char *what, const char *pfx, const struct cx_sshver *v)
{
	const struct cx_ssh_quirk *q[8];
	size_t i, n;

	n = cx_sshver_quirks(cx_os_host(), v, NULL, q, 8);
	for (i = 0; i < n && i < 8; i++)
		bad(what, q[i]->fix, "%s: %s", pfx, q[i]->problem);
	return n;
}

/*
 * The ssh client in PATH: found, OpenSSH, and free of the quirks its
 * version has on this OS (sshver.c).  Leaves what it found in path_ssh.
 */
static void
check_ssh_client(void)
{
	char desc[128];
	int r;

	r = ssh_version("ssh", &path_ssh);
	if (r == CX_ERR_NOTFOUND) {
		bad("ssh client", cx_sshver_install_hint(cx_os_host()),
		    "no 'ssh' in PATH");
		return;
	}
	if (r != 0) {
		bad("ssh client", "check that 'ssh -V' runs in a terminal",
		    "'ssh -V' failed: %s", cx_strerror(r));
		return;
	}
	if (path_ssh.flavour == CX_SSH_UNKNOWN) {
		bad("ssh client", cx_sshver_install_hint(cx_os_host()),
		    "'ssh -V' names no OpenSSH version (the config is "
		    "OpenSSH's)");
		return;
	}
	ssh_desc(&path_ssh, desc, sizeof(desc));
	if (client_quirks("ssh client", desc, &path_ssh) == 0)
		ok("ssh client", "%s", desc);
}

/*
 * VS Code's remote.SSH.path: it runs, is OpenSSH, is the same client as
 * the ssh in PATH (else doctor's and a terminal's answers are not VS
 * Code's), and has no quirk of its own.  Leaves it in vscode_ssh.
 */
static void
check_vscode_ssh(const char *path)
{
	char desc[128], pdesc[128], *exp = NULL;
	int r;

	if (cx_expand_user(path, &exp) != 0)
		return;
	r = ssh_version(exp, &vscode_ssh);
	if (r != 0 || vscode_ssh.flavour == CX_SSH_UNKNOWN) {
		bad("vs code", "set remote.SSH.path to OpenSSH's ssh, or "
		    "remove it (VS Code then runs the ssh in PATH)",
		    "remote.SSH.path '%s' %s", path, r == CX_ERR_NOTFOUND ?
		    "does not exist" : r != 0 ? "cannot be run" :
		    "names no OpenSSH version");
		memset(&vscode_ssh, 0, sizeof(vscode_ssh));
		goto out;
	}
	ssh_desc(&vscode_ssh, desc, sizeof(desc));
	if (path_ssh.flavour != CX_SSH_UNKNOWN &&
	    (path_ssh.flavour != vscode_ssh.flavour ||
	    strcmp(path_ssh.version, vscode_ssh.version) != 0))
		bad("vs code", "point remote.SSH.path at the ssh in PATH, or "
		    "remove it", "remote.SSH.path runs %s, the ssh in PATH is "
		    "%s", desc, ssh_desc(&path_ssh, pdesc, sizeof(pdesc)));
	else if (client_quirks("vs code", "remote.SSH.path", &vscode_ssh) ==
	    0)
		ok("vs code", "remote.SSH.path runs %s", desc);
 out:
	free(exp);
}

/* The quirks host's configuration (`ssh -G` output g) triggers in the ssh
 * in PATH and in VS Code's, each as a ✗ line. */
static void
config_quirks(const char *host, const struct cx_buf *g)
{
	const struct cx_sshver *v[] = { &path_ssh, &vscode_ssh };
	const char *who[] = { "ssh", "VS Code's ssh" };
	const struct cx_ssh_quirk *q[8];
	struct cx_ssh_facts f;
	size_t i, k, n;

	cx_sshver_facts((const char *)g->data, g->len, &f);
	for (k = 0; k < 2; k++) {
		if (v[k]->flavour == CX_SSH_UNKNOWN ||
		    (k == 1 && v[1]->flavour == v[0]->flavour &&
		    strcmp(v[1]->version, v[0]->version) == 0))
			continue;
		n = cx_sshver_quirks(cx_os_host(), v[k], &f, q, 8);
		for (i = 0; i < n && i < 8; i++)
			bad("ssh config", q[i]->fix, "%s (%s %s): %s", host,
			    who[k], v[k]->version, q[i]->problem);
	}
}

static void
check_host(const char *home, const char *cfg, const struct cx_sshconf_env *e,
    const struct cx_sshconf_host *h)
{
	char fix[512], *dir = NULL, *key = NULL, *pub = NULL, *agent = NULL;
	const char *profile, *keyname, *a[16], *v;
	struct cx_buf ctx;
	cJSON *doc = NULL, *inst_doc = NULL;
	const cJSON *inst;
	int n = 0, r;

	cx_buf_init(&ctx, CX_DRV_MAX_STAGE_OUT);
	cx_buf_set_secret(&ctx);
	{
		char *sh = cx_text_safe_dup(h->host, 1024);
		char *sn = cx_text_safe_dup(h->hostname ? h->hostname : "?",
		    1024);

		printf("\n%s (%s)\n", sh ? sh : "?", sn ? sn : "?");
		free(sh);
		free(sn);
	}
	/* the ssh config, as ssh itself reads it */
	{
		char *argv[] = { "ssh", "-T", "-G", "-F", (char *)(uintptr_t)cfg,
		    h->host, NULL };
		struct cx_buf out, err;
		int st;
		cx_buf_init(&out, 1 << 20);
		cx_buf_init(&err, 64 * 1024);
		r = cx_run(argv, NULL, 0, &out, &err, 10000, &st);
		/* ssh quotes the config's lines: shown safely */
		if (err.len > 0) {
			err.len = cx_text_sanitise((char *)err.data, err.len,
			    1);
			(void)!write(STDERR_FILENO, err.data, err.len);
		}
		cx_buf_clean_up(&err);
		if (r != 0 || cx_wait_exit(st) != 0)
			bad("ssh config", "fix the lines ssh names above",
			    "'ssh -G %s' fails", h->host);
		else if (strstr(cx_buf_str(&out), "\nproxycommand ") == NULL)
			bad("ssh config", "run setup again for this host",
			    "%s has no ProxyCommand", h->host);
		else
			ok("ssh config", "'ssh -G %s' parses, ProxyCommand set",
			    h->host);
		if (r == 0 && cx_wait_exit(st) == 0)
			config_quirks(h->host, &out);
		cx_buf_clean_up(&out);
	}
	if (h->hostname == NULL || !cx_instance_id_valid(h->hostname)) {
		bad("instance id", "set 'HostName i-...' for the host",
		    "'%s' is not an instance id", h->hostname ? h->hostname :
		    "(none)");
		goto out;
	}
	/* key files, or the agent */
	if (cx_drv_connect_ssh_dir(home, e->ssh_dir, e->ssh_config, &dir) != 0)
		goto out;
	keyname = e->ssh_key ? e->ssh_key : cx_drv_default_name(home);
	profile = e->profile ? e->profile : cx_drv_default_name(home);
	if (cx_path_join(dir, keyname, &key) != 0 ||
	    cx_asprintf(&pub, "%s.pub", key) < 0)
		goto out;
	check_mode("key folder", dir, 0700, 1, "run setup");
	check_mode("public key", pub, 0644, 1, "run setup (it creates or "
	    "exports the key)");
	if (e->identity_agent != NULL) {
		if (cx_expand_user(e->identity_agent, &agent) == 0 &&
		    cx_file_exists(agent))
			ok("agent socket", "%s", agent);
		else
			bad("agent socket", "start 1Password and enable its "
			    "SSH agent", "%s is missing", e->identity_agent);
	} else {
		check_mode("private key", key, 0600, 1, "run setup");
	}
	/* credentials, expiry and region */
	a[n++] = "--identity";
	a[n++] = "--profile";
	a[n++] = profile;
	if (e->aws_env) {
		a[n++] = "--aws-env";
		a[n++] = e->aws_env;
	}
	if (e->region) {
		a[n++] = "--region";
		a[n++] = e->region;
	}
	a[n] = NULL;
	if ((r = cx_drv_run_stage("cx-creds", a, NULL, &doc)) != 0) {
		bad("credentials", fix_for(r, profile, fix, sizeof(fix)),
		    "profile '%s': %s", profile, cx_strerror(r));
		goto out;
	}
	v = cx_json_str(doc, "Expiration");
	if (v != NULL) {
		time_t t;
		if (cx_parse_iso8601(v, &t) == 0 && t - time(NULL) < 300)
			bad("credentials", fix_for(CX_ERR_LOGIN, profile, fix,
			    sizeof(fix)), "expire at %s", v);
		else
			ok("credentials", "profile '%s' (%s), valid until %s",
			    profile, cx_json_str(cJSON_GetObjectItem(doc,
			    "Identity"), "Arn"), v);
	} else {
		ok("credentials", "profile '%s' (%s), long-term keys", profile,
		    cx_json_str(cJSON_GetObjectItem(doc, "Identity"), "Arn"));
	}
	ok("region", "%s", cx_json_str(doc, "Region") ?
	    cx_json_str(doc, "Region") : "?");
	{
		char *txt = cJSON_PrintUnformatted(doc);
		if (txt != NULL) {
			cx_buf_puts(&ctx, txt);
			cx_freezero_str(txt);
		}
	}
	/* instance state and SSM: ec2:DescribeInstances and
	 * ssm:DescribeInstanceInformation */
	{
		const char *sa[] = { "status", h->hostname, NULL };
		r = cx_drv_run_stage("cx-instance", sa, &ctx, &inst_doc);
	}
	if (r != 0) {
		bad("instance", fix_for(r, profile, fix, sizeof(fix)),
		    "%s: %s", h->hostname, cx_strerror(r));
		goto out;
	}
	inst = cJSON_GetObjectItem(inst_doc, "Instance");
	v = cx_json_str(inst, "State");
	ok("instance", "%s is %s (ec2:DescribeInstances allowed)",
	    h->hostname, v ? v : "?");
	v = cx_json_str(inst, "PingStatus");
	if (v != NULL && strcmp(v, "Online") == 0)
		ok("ssm agent", "Online (ssm:DescribeInstanceInformation "
		    "allowed)");
	else if (cx_json_str(inst, "State") != NULL &&
	    strcmp(cx_json_str(inst, "State"), "running") != 0)
		ok("ssm agent", "%s (the instance is not running; connect "
		    "starts it)", v ? v : "not registered");
	else
		bad("ssm agent", "check that amazon-ssm-agent runs and the "
		    "instance role allows SSM", "%s", v ? v : "not registered");
 out:
	cx_json_delete_secure(doc);
	cx_json_delete_secure(inst_doc);
	cx_buf_clean_up(&ctx);
	free(dir);
	free(key);
	free(pub);
	free(agent);
}

static void
check_vscode(const char *home, const char *cfg)
{
	struct cx_buf b;
	cJSON *j = NULL;
	const cJSON *v;
	char *path = NULL, *want = NULL, *got = NULL;

	cx_buf_init(&b, CX_DRV_MAX_TEXT_FILE);
	if (cx_drv_vscode_settings_path(home, CX_VSCODE, &path) != 0)
		goto out;
	if (cx_read_file(path, CX_DRV_MAX_TEXT_FILE, &b) != 0) {
		ok("vs code", "no %s (VS Code not used here)", path);
		goto out;
	}
	if (cx_drv_jsonc_parse(cx_buf_str(&b), &j) != 0) {
		bad("vs code", "fix its syntax", "%s is not valid JSON", path);
		goto out;
	}
	v = cJSON_GetObjectItem(j, "remote.SSH.configFile");
	if (cJSON_IsString(v))
		cx_expand_user(v->valuestring, &got);
	cx_expand_user(cfg, &want);
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		bad("vs code", "run setup and accept the merge, or set "
		    "remote.SSH.configFile", "remote.SSH.configFile is not %s",
		    cfg);
	else
		ok("vs code", "remote.SSH.configFile is %s", cfg);
	v = cJSON_GetObjectItem(j, "remote.SSH.connectTimeout");
	if (!cJSON_IsNumber(v) || v->valuedouble < 90)
		bad("vs code", "set \"remote.SSH.connectTimeout\": 90",
		    "connectTimeout below 90 s (instance start takes longer)");
	else
		ok("vs code", "remote.SSH.connectTimeout is %g", v->valuedouble);
	v = cJSON_GetObjectItem(j, "remote.SSH.path");
	if (cJSON_IsString(v) && v->valuestring[0] != '\0')
		check_vscode_ssh(v->valuestring);
 out:
	cJSON_Delete(j);
	cx_buf_clean_up(&b);
	free(path);
	free(want);
	free(got);
}

int
cx_drv_doctor_main(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "ssh-config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = cx_drv_progname(argv0), *opt = NULL, *only = NULL;
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf_include_result inc;
	char *home = NULL, *cfg = NULL, *pfx = NULL, *main_cfg = NULL;
	size_t i, k;
	int c, r, seen = 0;

	opterr = 0;
	optind = 0;
	failures = 0;
	memset(&path_ssh, 0, sizeof(path_ssh));
	memset(&vscode_ssh, 0, sizeof(vscode_ssh));
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': opt = optarg; break;
		case 'h':
			printf("usage: %s doctor [--ssh-config F] [HOST]\n\n"
			    "Checks every prerequisite of a connect, one line "
			    "each, with the fix for each failure.\n", prog);
			return 0;
		default:
			return cx_drv_bad_option("doctor", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind + 1 < argc) {
		cx_error("doctor: too many arguments");
		return CX_EXIT_USAGE;
	}
	only = optind < argc ? argv[optind] : NULL;
	memset(&inc, 0, sizeof(inc));
	/* first: every later check (ssh -G) and every connect runs it */
	check_ssh_client();
	if ((r = cx_home_dir(&home)) != 0 ||
	    (r = cx_drv_find_config(home, opt, &cfg)) != 0 ||
	    (r = cx_path_join(home, ".ssh/config", &main_cfg)) != 0)
		goto out;
	if (!cx_file_exists(cfg)) {
		bad("ssh config", "run setup", "%s is missing", cfg);
		goto out;
	}
	check_mode("ssh config", cfg, 0600, 1, "run setup");
	r = cx_sshconf_ensure_include(main_cfg, cfg, home, CX_SSHCONF_DRY_RUN,
	    &inc, NULL);
	if (r == 0 && (inc.already || inc.same_file))
		ok("include", "%s includes %s", main_cfg, cfg);
	else if (r == 0)
		bad("include", "run setup (it adds the Include line)",
		    "%s does not include %s", main_cfg, cfg);
	if ((r = cx_drv_load_any(cfg, cx_drv_prefix(argv0), 0, &m,
	    &pfx)) != 0 || (r = cx_sshconf_list(m, NULL, &l)) != 0)
		goto out;
	check_vscode(home, cfg);
	for (i = 0; i < l->nenvs; i++)
		for (k = 0; k < l->envs[i].nhosts; k++) {
			if (only && strcmp(only, l->envs[i].hosts[k].host) &&
			    strcmp(only, l->envs[i].hosts[k].name))
				continue;
			seen++;
			check_host(home, cfg, &l->envs[i],
			    &l->envs[i].hosts[k]);
			cx_drv_connlog_doctor(l->envs[i].hosts[k].host,
			    l->envs[i].hosts[k].hostname);
		}
	if (only && seen == 0)
		bad("host", "run 'cloudx-proxy list' for the names",
		    "'%s' is not in %s", only, cfg);
 out:
	fflush(stdout);
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	free(home);
	free(cfg);
	free(pfx);
	free(main_cfg);
	if (r != 0)
		return cx_exit_code(r);
	return failures ? CX_EXIT_DENIED : 0;
}
