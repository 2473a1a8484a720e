/*
 * cloudx-proxy setup: the AWS profile, the SSH key (a file, or 1Password),
 * the three-tier SSH config and its Include, the VS Code settings, and an
 * access check with the real ssh.  Steps and prompts in the seed's order
 * (seed-behaviour.md §4); --dry-run writes nothing and calls nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/osdata.h"
#include "core/stage.h"
#include "core/valid.h"
#include "ec2/instance.h"
#include "driver.h"
#include "setup.h"

static const struct option long_opts[] = {
	{ "1password",	optional_argument,	NULL, 'o' },
	{ "aws-env",	required_argument,	NULL, 'e' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "environment", required_argument,	NULL, 'E' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "hostname",	required_argument,	NULL, 'H' },
	{ "instance",	required_argument,	NULL, 'i' },
	{ "no-check",	no_argument,		NULL, 'N' },
	{ "profile",	required_argument,	NULL, 'p' },
	{ "region",	required_argument,	NULL, 'r' },
	{ "ssh-config",	required_argument,	NULL, 'c' },
	{ "ssh-dir",	required_argument,	NULL, 'd' },
	{ "ssh-host-prefix", required_argument,	NULL, 'P' },
	{ "ssh-key",	required_argument,	NULL, 'k' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "yes",	no_argument,		NULL, 'y' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
"usage: %s setup [--profile P] [--ssh-key K] [--ssh-config F]\n"
"           [--ssh-dir D] [--aws-env E] [--region R] [--1password[=VAULT]]\n"
"           [--instance ID] [--environment ENV] [--hostname NAME] [--ssh-host-prefix PFX]\n"
"           [--yes] [--dry-run] [--no-check] [-v]\n"
"\n"
"Writes the AWS profile, the SSH key and the SSH config for one instance,\n"
"then checks that `ssh <prefix>-<env>-<name>` works.\n"
"\n"
"  -p, --profile P         AWS profile (default cloudX); created if missing\n"
"  -k, --ssh-key K         key name in the SSH folder (default cloudX)\n"
"  -c, --ssh-config F      SSH config to write (default ~/.ssh/cloudX/config)\n"
"  -d, --ssh-dir D         folder for the key and config (default ~/.ssh/cloudX)\n"
"  -e, --aws-env E         use ~/.aws/aws-envs/E/{config,credentials}\n"
"  -r, --region R          region for the AWS calls and the ProxyCommand\n"
"  -o, --1password[=VAULT] key in 1Password's SSH agent (vault default Private)\n"
"  -i, --instance ID       EC2 instance id (else asked)\n"
"  -E, --environment ENV   environment (default from the tags or IAM user)\n"
"  -H, --hostname NAME     host name (default from the Name tag)\n"
"  -P, --ssh-host-prefix X host prefix (default cloudx; cloudX as cloudX-proxy)\n"
"  -y, --yes               take every default, never ask\n"
"  -n, --dry-run           show what would change; write nothing, call nothing\n"
"  -N, --no-check          skip the final `ssh <host> exit` check\n"
"  -v, --verbose           more messages\n",
	    prog);
}

static int
dir_of(const char *path, char **out)
{
	const char *s = strrchr(path, '/');

	*out = s ? (s == path ? strdup("/") :
	    strndup(path, (size_t)(s - path))) : strdup(".");
	return *out ? 0 : CX_ERR_NOMEM;
}

/* Step 0: the SSH folder and config file (seed §4 step 0). */
static int
choose_paths(struct cx_drv_setup *s)
{
	char *cloudx = NULL, *vscode = NULL;
	int r;

	if (s->opt_ssh_dir != NULL) {
		if ((r = cx_expand_user(s->opt_ssh_dir, &s->ssh_dir)) != 0)
			return r;
		if (s->opt_ssh_config != NULL)
			return cx_expand_user(s->opt_ssh_config,
			    &s->config_file);
		return cx_path_join(s->ssh_dir, "config", &s->config_file);
	}
	if (s->opt_ssh_config != NULL) {
		if ((r = cx_expand_user(s->opt_ssh_config,
		    &s->config_file)) != 0)
			return r;
		return dir_of(s->config_file, &s->ssh_dir);
	}
	if ((r = cx_path_join(s->home, ".ssh/cloudX", &cloudx)) != 0 ||
	    (r = cx_path_join(s->home, ".ssh/vscode", &vscode)) != 0)
		goto out;
	if (cx_is_dir(vscode) && !cx_is_dir(cloudx)) {
		s->pending_migration = 1;
		s->ssh_dir = vscode;
		vscode = NULL; /* transferred */
	} else {
		s->ssh_dir = cloudx;
		cloudx = NULL; /* transferred */
	}
	r = cx_path_join(s->ssh_dir, "config", &s->config_file);
 out:
	free(cloudx);
	free(vscode);
	return r;
}

int
cx_drv_trusted(const char *path, int what)
{
	char why[160];

	if (cx_path_trusted(path, what, why, sizeof(why)) != CX_ERR_DENIED)
		return 0;
	cx_error("not using '%s': it is %s (it must be yours and not "
	    "writable by group or others)", path, why);
	return CX_ERR_INPUT;
}

int
cx_drv_check_paths(const struct cx_drv_setup *s)
{
	char *ssh = NULL, *main_cfg = NULL, *control = NULL, *cfg_dir = NULL;
	char *config = NULL, *creds = NULL, *config_dir = NULL;
	char *creds_dir = NULL;
	size_t i;
	int r;

	if ((r = cx_path_join(s->home, ".ssh", &ssh)) != 0 ||
	    (r = cx_path_join(ssh, "config", &main_cfg)) != 0 ||
	    (r = cx_path_join(ssh, "control", &control)) != 0 ||
	    (r = dir_of(s->config_file, &cfg_dir)) != 0 ||
	    (r = cx_drv_aws_paths(s->home, s->aws_env, &config,
	    &creds)) != 0 ||
	    (r = dir_of(config, &config_dir)) != 0 ||
	    (r = dir_of(creds, &creds_dir)) != 0)
		goto out;
	{
		const struct { const char *path; int what; } c[] = {
			{ ssh, CX_TRUST_DIR }, { main_cfg, CX_TRUST_FILE },
			{ control, CX_TRUST_DIR },
			{ s->ssh_dir, CX_TRUST_DIR },
			{ cfg_dir, CX_TRUST_DIR },
			{ s->config_file, CX_TRUST_FILE },
			{ config_dir, CX_TRUST_DIR }, { config, CX_TRUST_FILE },
			{ creds_dir, CX_TRUST_DIR }, { creds, CX_TRUST_FILE },
		};
		for (i = 0; i < sizeof(c) / sizeof(c[0]) && r == 0; i++)
			r = cx_drv_trusted(c[i].path, c[i].what);
	}
 out:
	free(ssh);
	free(main_cfg);
	free(control);
	free(cfg_dir);
	free(config);
	free(creds);
	free(config_dir);
	free(creds_dir);
	return r;
}

/* Step 1: the migration offer. */
static int
step_migration(struct cx_drv_setup *s)
{
	char *target = NULL;
	int r;

	if (!s->pending_migration)
		return 0;
	cx_drv_header("Migration Available");
	cx_drv_status(0, CX_DRV_INFO, "Found an existing ~/.ssh/vscode "
	    "configuration (the old layout)");
	if (s->ui.yes) {
		cx_drv_status(0, CX_DRV_INFO,
		    "Skipping migration in non-interactive mode");
		return 0;
	}
	r = cx_drv_confirm(&s->ui, "Do you want to migrate to ~/.ssh/cloudX?",
	    1);
	if (r < 0)
		return r;
	if (r == 1) {
		if ((r = cx_path_join(s->home, ".ssh/cloudX", &target)) != 0)
			return r;
		r = cx_drv_migrate(s->home, target, s->ui.dry_run);
		if (r == 0 && !s->ui.dry_run) {
			free(s->ssh_dir);
			free(s->config_file);
			s->ssh_dir = target;
			target = NULL; /* transferred */
			s->pending_migration = 0;
			free(target);
			return cx_path_join(s->ssh_dir, "config",
			    &s->config_file);
		}
		free(target);
		if (r == 0)
			return 0;
	}
	cx_drv_status(0, CX_DRV_INFO,
	    "Continuing with existing ~/.ssh/vscode configuration");
	if (strcmp(s->profile, "cloudX") == 0)
		s->profile = "vscode";
	if (strcmp(s->ssh_key, "cloudX") == 0)
		s->ssh_key = "vscode";
	return 0;
}

/* Step 2: the AWS profile, created if missing, then checked with STS. */
static int
step_profile(struct cx_drv_setup *s)
{
	char *config = NULL, *creds = NULL, *ak = NULL, *sk = NULL;
	char *region = NULL, *arn = NULL, *env = NULL, *user = NULL;
	const char *eak = getenv("AWS_ACCESS_KEY_ID");
	const char *esk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *ereg = getenv("AWS_REGION");
	int r, is_user;

	cx_drv_status(0, CX_DRV_INFO, "Checking AWS profile configuration...");
	if ((r = cx_drv_aws_paths(s->home, s->aws_env, &config, &creds)) != 0)
		goto out;
	if (ereg == NULL || *ereg == '\0')
		ereg = getenv("AWS_DEFAULT_REGION");
	if (!cx_drv_aws_profile_exists(config, creds, s->profile)) {
		cx_drv_status(0, CX_DRV_BAD, "AWS profile '%s' not found",
		    s->profile);
		cx_drv_status(0, CX_DRV_INFO, "Setting up AWS profile...");
		cx_drv_say("Please enter your AWS credentials:");
		if ((r = cx_drv_prompt(&s->ui, "AWS Access Key ID", eak,
		    &ak)) != 0)
			goto out;
		if (s->ui.yes && esk != NULL && *esk != '\0') {
			cx_drv_status(0, CX_DRV_INFO, "AWS Secret Access Key: "
			    "Using AWS_SECRET_ACCESS_KEY");
			if ((sk = strdup(esk)) == NULL) {
				r = CX_ERR_NOMEM;
				goto out;
			}
		} else if ((r = cx_drv_prompt_secret(&s->ui,
		    "AWS Secret Access Key", &sk)) != 0) {
			goto out;
		}
		if ((r = cx_drv_prompt(&s->ui, "Default region name",
		    s->region ? s->region : ereg ? ereg : "eu-west-1",
		    &region)) != 0)
			goto out;
		/* typed, or from the environment under --yes: checked
		 * before anything is written */
		if ((r = cx_drv_aws_profile_check(s->profile, ak, sk,
		    region)) != 0)
			goto out;
		if (s->ui.dry_run) {
			cx_drv_say("[DRY RUN] Would write profile '%s' to %s "
			    "(0600) and its region to %s", s->profile, creds,
			    config);
		} else {
			if ((r = cx_drv_aws_write_profile(config, creds,
			    s->profile, ak, sk, region)) != 0)
				goto out;
			cx_drv_status(0, CX_DRV_OK, "Wrote AWS profile '%s' to "
			    "%s", s->profile, creds);
		}
	}
	if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would check the identity of profile '%s' "
		    "with sts:GetCallerIdentity", s->profile);
		goto out;
	}
	if ((r = cx_drv_aws_identity(s, &arn)) != 0) {
		/* only AWS's own refusal is a verdict on the keys; a network
		 * error (cx-creds named the endpoint) keeps what was written */
		if (r == CX_ERR_DENIED)
			cx_drv_status(0, CX_DRV_BAD, "Invalid AWS credentials");
		else if (r == CX_ERR_NETWORK)
			cx_drv_status(0, CX_DRV_BAD, "Could not reach AWS to "
			    "check the credentials (see above); profile '%s' "
			    "is kept: run setup again when AWS is reachable",
			    s->profile);
		else
			cx_drv_status(0, CX_DRV_BAD, "Could not check the AWS "
			    "credentials: %s", cx_strerror(r));
		goto out;
	}
	cx_debug(1, "identity: %s", arn);
	if ((r = cx_drv_arn_env(arn, &is_user, &env, &user)) != 0) {
		cx_drv_status(0, CX_DRV_BAD, "Unexpected identity '%s'", arn);
		goto out;
	}
	if (!is_user) {
		cx_drv_status(0, CX_DRV_OK, "AWS profile uses IAM role/SSO "
		    "credentials; skipping cloudX user format check");
	} else if (env == NULL) {
		cx_drv_status(0, CX_DRV_BAD, "AWS profile exists but doesn't "
		    "match cloudX-{env}-{user} format");
		cx_drv_status(0, CX_DRV_INFO, "Please ensure your IAM user "
		    "follows the format: cloudX-{env}-{username}");
		cx_error("IAM user '%s' does not follow cloudX-{env}-{user}",
		    strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn);
		r = CX_ERR_DENIED;
		goto out;
	} else {
		cx_drv_status(0, CX_DRV_OK, "AWS profile '%s' exists and "
		    "matches %.6s format", s->profile, user);
		s->iam_env = env;
		env = NULL; /* transferred */
	}
 out:
	free(config);
	free(creds);
	free(ak);
	cx_freezero_str(sk);
	free(region);
	free(arn);
	free(env);
	free(user);
	return r;
}

static int
keygen(struct cx_drv_setup *s, const char *path)
{
	char comment[128];
	char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
	    "-C", comment, "-f", (char *)(uintptr_t)path, NULL };
	int r, st;

	snprintf(comment, sizeof(comment), "%s-proxy", s->prefix);
	r = cx_run(argv, NULL, 0, NULL, NULL, 60000, &st);
	if (r == CX_ERR_NOTFOUND)
		cx_error("cannot run 'ssh-keygen': install the OpenSSH client");
	else if (r == 0 && cx_wait_exit(st) != 0) {
		cx_error("ssh-keygen failed for '%s'", path);
		r = CX_ERR_IO;
	}
	return r;
}

/* ssh-keygen -y: the public half of an existing private key */
static int
derive_pub(const char *key, const char *pub)
{
	char *argv[] = { "ssh-keygen", "-y", "-f", (char *)(uintptr_t)key,
	    NULL };
	struct cx_buf out;
	int r, st;

	cx_buf_init(&out, 65536);
	r = cx_run(argv, NULL, 0, &out, NULL, 30000, &st);
	if (r == 0 && (cx_wait_exit(st) != 0 ||
	    out.len == 0)) {
		cx_error("cannot read the public key of '%s'", key);
		r = CX_ERR_INPUT;
	}
	if (r == 0)
		r = cx_write_file_atomic(pub, out.data, out.len, 0644, 0);
	cx_buf_clean_up(&out);
	return r;
}

static void
chmod_warn(const char *path, mode_t m)
{
	if (cx_set_mode(path, m) != 0)
		cx_warn("cannot set the permissions of '%s': %s", path,
		    strerror(errno));
}

/* Step 3a: a key file in the SSH folder (seed §4a). */
static int
step_key_file(struct cx_drv_setup *s)
{
	int have_key, have_pub, r = 0;

	cx_drv_status(0, CX_DRV_INFO, "Checking SSH key '%s' configuration...",
	    s->ssh_key);
	if (s->ui.dry_run) {
		if (!cx_is_dir(s->ssh_dir))
			cx_drv_say("[DRY RUN] Would create %s (0700)",
			    s->ssh_dir);
	} else {
		if ((r = cx_mkdir_p(s->ssh_dir, 0700)) != 0) {
			cx_error("cannot create '%s': %s", s->ssh_dir,
			    strerror(errno));
			return r;
		}
		/* made by another user between our check and mkdir? */
		if ((r = cx_drv_trusted(s->ssh_dir, CX_TRUST_DIR)) != 0)
			return r;
		cx_drv_status(0, CX_DRV_OK, "SSH directory exists");
		chmod_warn(s->ssh_dir, 0700);
		if (cx_os_host() == CX_OS_WINDOWS)
			cx_drv_status(0, CX_DRV_OK, "Made %s private to you "
			    "(its access list)", s->ssh_dir);
		else
			cx_drv_status(0, CX_DRV_OK, "Set %s permissions to 700",
			    s->ssh_dir);
	}
	have_key = cx_file_exists(s->key_file);
	have_pub = cx_file_exists(s->pub_file);
	if (have_pub && !have_key) {
		cx_drv_status(0, CX_DRV_OK, "Public key '%s.pub' found "
		    "(private key in 1Password or secure storage)", s->ssh_key);
		return 0;
	}
	if (have_key && have_pub) {
		cx_drv_status(0, CX_DRV_OK, "SSH key '%s' exists", s->ssh_key);
	} else if (s->ui.dry_run) {
		cx_drv_say(have_key ?
		    "[DRY RUN] Would write %s.pub from the private key" :
		    "[DRY RUN] Would create the key pair %s (ssh-keygen -t "
		    "ed25519)", s->key_file);
		return 0;
	} else if (have_key) {
		if ((r = derive_pub(s->key_file, s->pub_file)) != 0)
			return r;
		cx_drv_status(0, CX_DRV_OK, "Wrote %s.pub from the private key",
		    s->ssh_key);
	} else {
		cx_drv_status(0, CX_DRV_INFO, "Creating new SSH key '%s'...",
		    s->ssh_key);
		if ((r = keygen(s, s->key_file)) != 0)
			return r;
		cx_drv_status(0, CX_DRV_OK, "SSH key '%s' created",
		    s->ssh_key);
	}
	if (!s->ui.dry_run) {
		chmod_warn(s->key_file, 0600);
		chmod_warn(s->pub_file, 0644);
		if (cx_os_host() == CX_OS_WINDOWS)
			cx_drv_status(0, CX_DRV_OK, "Made the private key "
			    "readable by you alone (its access list)");
		else
			cx_drv_status(0, CX_DRV_OK,
			    "Set key permissions to 600/644");
	}
	return 0;
}

/* Steps 4-7: instance, tags, environment, host name. */
static int
step_instance(struct cx_drv_setup *s)
{
	cJSON *tags = NULL;
	char *tag_env = NULL, *tag_host = NULL, *name_tag = NULL;
	char *id = NULL, dflt_host[32];
	const char *dflt_env;
	int r;

	if (s->opt_instance != NULL) {
		if ((id = strdup(s->opt_instance)) == NULL)
			return CX_ERR_NOMEM;
	} else if ((r = cx_drv_prompt(&s->ui, "Enter EC2 instance ID (e.g., "
	    "i-0123456789abcdef0)", NULL, &id)) != 0) {
		return r;
	}
	if (!cx_instance_id_valid(id)) {
		cx_drv_status(0, CX_DRV_BAD, "Invalid EC2 instance ID format: "
		    "%s", id);
		cx_drv_bad_instance_id(id);
		free(id);
		return CX_ERR_USAGE;
	}
	s->instance_id = id;
	if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would fetch the tags of %s with "
		    "ec2:DescribeInstances", id);
	} else {
		cx_drv_status(0, CX_DRV_INFO, "Fetching instance tags...");
		r = cx_drv_aws_instance_tags(s, id, &tags);
		if (r == CX_ERR_NOTFOUND) {
			cx_drv_status(0, CX_DRV_BAD, "Instance %s not found", id);
			return r;
		}
		if (r != 0) {
			cx_drv_status(0, CX_DRV_BAD, "Error fetching instance "
			    "tags: %s", cx_strerror(r));
			if (r == CX_ERR_DENIED || r == CX_ERR_LOGIN ||
			    r == CX_ERR_NOCREDS)
				return r;
		} else if ((r = cx_drv_tags_defaults(tags, &tag_env,
		    &tag_host, &name_tag)) != 0) {
			goto out;
		}
		if (tag_host != NULL)
			cx_drv_status(0, CX_DRV_OK, "Found hostname from Name "
			    "tag: %s", tag_host);
		else if (name_tag != NULL)
			cx_drv_status(0, CX_DRV_INFO, "Name tag '%s' does not "
			    "match cloudX-{env}-{hostname} format", name_tag);
		if (tag_env != NULL)
			cx_drv_status(0, CX_DRV_OK, "Found environment: %s",
			    tag_env);
	}
	dflt_env = tag_env ? tag_env : s->iam_env;
	if (s->opt_env != NULL) {
		cx_drv_status(0, CX_DRV_OK, "Using provided environment: %s",
		    s->opt_env);
		if ((s->env = strdup(s->opt_env)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	} else if ((r = cx_drv_prompt(&s->ui, "Enter environment", dflt_env,
	    &s->env)) != 0) {
		goto out;
	}
	snprintf(dflt_host, sizeof(dflt_host), "instance-%s",
	    strlen(id) >= 7 ? id + strlen(id) - 7 : id);
	if (s->opt_hostname != NULL) {
		cx_drv_status(0, CX_DRV_OK, "Using provided hostname: %s",
		    s->opt_hostname);
		s->hostname = strdup(s->opt_hostname);
		r = s->hostname ? 0 : CX_ERR_NOMEM;
	} else {
		r = cx_drv_prompt(&s->ui, "Enter hostname for the instance",
		    tag_host ? tag_host : dflt_host, &s->hostname);
	}
 out:
	cJSON_Delete(tags);
	free(tag_env);
	free(tag_host);
	free(name_tag);
	return r;
}

/* Our settings merged into one VS Code settings.json (main: VS Code's own,
 * offered even when VS Code has none yet). */
static int
vscode_one(struct cx_drv_setup *s, const char *path, const char *cf,
    int main)
{
	struct cx_buf text, merged;
	int r, changed = 0, exists, yes;
	char *dir = NULL;

	cx_buf_init(&text, CX_DRV_MAX_TEXT_FILE);
	cx_buf_init(&merged, CX_DRV_MAX_TEXT_FILE);
	exists = cx_file_exists(path);
	/* Insiders, VSCodium: only where they are installed (their User
	 * folder is there) */
	if (!main && !exists) {
		if ((r = dir_of(path, &dir)) != 0 || !cx_is_dir(dir))
			goto out;
	}
	r = cx_read_file(path, CX_DRV_MAX_TEXT_FILE, &text);
	if (r != 0 && r != CX_ERR_NOTFOUND)
		goto out;
	r = cx_drv_vscode_merge(cx_buf_str(&text), cf, s->prefix, &merged,
	    &changed);
	if (r == CX_ERR_INPUT) {
		cx_drv_status(0, CX_DRV_WARN, "%s is not valid JSON with "
		    "comments: add the settings above by hand", path);
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	if (!changed) {
		cx_drv_status(0, CX_DRV_OK, "VS Code settings already set in %s",
		    path);
		goto out;
	}
	if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would %s %s", exists ? "merge them into" :
		    "offer to write them to", path);
		goto out;
	}
	/* only touch VS Code's files by default when VS Code has them */
	yes = cx_drv_confirm(&s->ui, exists ?
	    "Merge these settings into your VS Code settings.json?" :
	    "Create VS Code settings.json with these settings?", exists);
	if (yes < 0) {
		r = yes;
		goto out;
	}
	if (yes == 1) {
		free(dir);
		dir = NULL;
		if ((r = dir_of(path, &dir)) == 0)
			r = cx_mkdir_p(dir, 0700);
		if (r == 0)
			r = cx_write_file_atomic(path, merged.data, merged.len,
			    0600, CX_ATOMIC_BACKUP);
		if (r != 0)
			goto out;
		cx_drv_status(0, CX_DRV_OK, "Updated %s", path);
	}
 out:
	free(dir);
	cx_buf_clean_up(&text);
	cx_buf_clean_up(&merged);
	return r;
}

/* The summary and the VS Code settings: VS Code's, and those of Insiders
 * and VSCodium where they are installed. */
static int
step_vscode(struct cx_drv_setup *s)
{
	static const int flavours[] = { CX_VSCODE, CX_VSCODE_INSIDERS,
	    CX_VSCODIUM };
	struct cx_buf snip;
	char *path = NULL, *cf = NULL;
	size_t i;
	int r;

	cx_buf_init(&snip, 0);
	cx_drv_header("VS Code");
	if ((r = cx_drv_tilde(s->home, s->config_file, &cf)) != 0 ||
	    (r = cx_drv_vscode_snippet(cf, s->prefix, &snip)) != 0)
		goto out;
	cx_drv_say("Settings for VS Code Remote-SSH (settings.json):");
	fwrite(snip.data, 1, snip.len, stdout);
	fflush(stdout);
	for (i = 0; r == 0 && i < sizeof(flavours) / sizeof(flavours[0]);
	    i++) {
		free(path);
		path = NULL;
		if ((r = cx_drv_vscode_settings_path(s->home, flavours[i],
		    &path)) == 0)
			r = vscode_one(s, path, cf, i == 0);
	}
 out:
	free(path);
	free(cf);
	cx_buf_clean_up(&snip);
	return r;
}

/* One `ssh <host> exit` through the user's config; 0 if it worked. */
static int
ssh_check(struct cx_drv_setup *s, const char *host, int timeout_s,
    struct cx_buf *err)
{
	char to[32], kh[4200], *cfg = NULL;
	int r, st;

	if ((r = cx_path_join(s->home, ".ssh/config", &cfg)) != 0)
		return r;
	snprintf(to, sizeof(to), "ConnectTimeout=%d", timeout_s);
	r = snprintf(kh, sizeof(kh), "UserKnownHostsFile=%s/.ssh/known_hosts",
	    s->home);
	if (r < 0 || (size_t)r >= sizeof(kh)) {
		free(cfg);
		return CX_ERR_INPUT;
	}
	{
		char *argv[] = { "ssh", "-F", s->include_ok ? cfg :
		    s->config_file, "-o", "BatchMode=yes", "-o", to,
		    "-o", "StrictHostKeyChecking=accept-new", "-o", kh,
		    "-o", "ControlMaster=no", "-o", "ControlPath=none",
		    (char *)(uintptr_t)host, "exit", NULL };
		cx_buf_reset(err);
		r = cx_run(argv, NULL, 0, NULL, err,
		    (timeout_s + 30) * 1000, &st);
	}
	free(cfg);
	if (r != 0)
		return r;
	return cx_wait_exit(st) == 0 ? 0 : CX_ERR_SESSION;
}

static void
show_tail(const struct cx_buf *err)
{
	const char *e = cx_buf_str(err), *line = e, *nl;

	/* the last few lines say why */
	for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		if (nl[1] != '\0')
			cx_drv_say("      %.*s", (int)(nl - line), line);
	if (*line)
		cx_drv_say("      %s", line);
	(void)e;
}

/* Step 9: the access check with the real ssh (seed §4e). */
static int
step_check(struct cx_drv_setup *s)
{
	struct cx_buf err;
	char host[512];
	int r, i, yes;

	cx_buf_init(&err, 65536);
	snprintf(host, sizeof(host), "%s-%s-%s", s->prefix, s->env,
	    s->hostname);
	cx_drv_header("Instance Access Check");
	if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would run: ssh %s exit", host);
		r = 0;
		goto out;
	}
	cx_drv_say("    Checking SSH connection to %s...", host);
	r = ssh_check(s, host, s->check_timeout_s, &err);
	if (r == 0) {
		cx_drv_status(4, CX_DRV_OK, "SSH connection to %s works", host);
		goto out;
	}
	cx_drv_status(4, CX_DRV_BAD, "SSH connection to %s failed", host);
	show_tail(&err);
	yes = cx_drv_confirm(&s->ui, "Would you like to wait for the "
	    "instance to become accessible?", 1);
	if (yes != 1) {
		r = yes < 0 ? yes : CX_ERR_CANCELLED;
		goto out;
	}
	for (i = 1; i <= s->check_tries; i++) {
		cx_drv_say("    Waiting for %s (try %d of %d)...", host, i,
		    s->check_tries);
		if ((r = ssh_check(s, host, s->check_timeout_s, &err)) == 0) {
			cx_drv_status(4, CX_DRV_OK, "SSH connection to %s works",
			    host);
			goto out;
		}
	}
	cx_drv_status(4, CX_DRV_BAD, "Timeout waiting for SSH access");
	show_tail(&err);
	cx_error("cannot reach '%s' with ssh: see the lines above, or run "
	    "'%s doctor %s'", host, cx_progname(), host);
	r = CX_ERR_DEADLINE;
 out:
	cx_buf_clean_up(&err);
	return r;
}

static void
setup_clean_up(struct cx_drv_setup *s)
{
	free(s->home);
	free(s->ssh_dir);
	free(s->config_file);
	free(s->key_file);
	free(s->pub_file);
	free(s->iam_env);
	free(s->instance_id);
	free(s->env);
	free(s->hostname);
	free(s->identity_agent);
	free(s->self);
}

/* Every option that ends up in a file, checked before anything is
 * written or called. */
static int
check_opts(const struct cx_drv_setup *s)
{
	const struct { const char *what, *v; int path; } o[] = {
		{ "ssh key name", s->ssh_key, 0 },
		{ "host prefix", s->prefix, 0 },
		{ "environment", s->opt_env, 0 },
		{ "host name", s->opt_hostname, 0 },
		{ "aws-env name", s->aws_env, 0 },
		{ "ssh folder", s->opt_ssh_dir, 1 },
		{ "ssh config path", s->opt_ssh_config, 1 },
	};
	size_t i;

	if (!cx_profile_name_valid(s->profile)) {
		cx_error("invalid profile name '%s' (expected 1-128 of A-Z a-z "
		    "0-9 . _ + @ / -)", s->profile);
		return CX_ERR_USAGE;
	}
	if (s->region != NULL && !cx_region_valid(s->region)) {
		cx_error("invalid region '%s'", s->region);
		return CX_ERR_USAGE;
	}
	for (i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		if (o[i].v == NULL)
			continue;
		if (o[i].path ? cx_ssh_path_valid(o[i].v) :
		    cx_ssh_word_valid(o[i].v) && strchr(o[i].v, '/') == NULL)
			continue;
		cx_error("invalid %s '%s'", o[i].what, o[i].v);
		return CX_ERR_USAGE;
	}
	return 0;
}

static int
run_setup(struct cx_drv_setup *s)
{
	char *kf = NULL;
	int r;

	cx_drv_say("=== %s-proxy Setup%s ===", s->prefix,
	    s->ui.dry_run ? " (DRY RUN)" : "");
	if ((r = cx_home_dir(&s->home)) != 0 || (r = choose_paths(s)) != 0 ||
	    (r = cx_drv_check_paths(s)) != 0)
		return r;
	if ((r = step_migration(s)) != 0)
		return r;
	if ((r = step_profile(s)) != 0)
		return r;
	cx_drv_header("SSH Key Configuration");
	if ((r = cx_path_join(s->ssh_dir, s->ssh_key, &s->key_file)) != 0)
		return r;
	if (cx_asprintf(&kf, "%s.pub", s->key_file) < 0)
		return CX_ERR_NOMEM;
	s->pub_file = kf;
	if (s->onepassword) {
		r = cx_drv_op_setup(s);
		if (r == CX_ERR_NOTFOUND) {
			r = cx_drv_confirm(&s->ui, "1Password integration not "
			    "available. Continue with standard SSH key setup?",
			    1);
			if (r < 0)
				return r;
			if (r == 0)
				return CX_ERR_CANCELLED;
			s->onepassword = 0;
			r = step_key_file(s);
		}
	} else {
		r = step_key_file(s);
	}
	if (r != 0)
		return r;
	if ((r = step_instance(s)) != 0)
		return r;
	cx_drv_header("SSH Configuration");
	if ((r = cx_drv_setup_sshconfig(s)) != 0)
		return r;
	if ((r = step_vscode(s)) != 0)
		return r;
	if (s->no_check) {
		cx_drv_status(0, CX_DRV_INFO, "Skipping the access check "
		    "(--no-check)");
		return 0;
	}
	return step_check(s);
}

int
cx_drv_setup_main(int argc, char **argv, const char *argv0)
{
	struct cx_drv_setup s;
	const char *prog = cx_drv_progname(argv0);
	int c, r, verbosity = 0;

	memset(&s, 0, sizeof(s));
	s.prefix = cx_drv_prefix(argv0);
	s.profile = "cloudX";
	s.ssh_key = "cloudX";
	s.check_timeout_s = 30;
	s.check_tries = 10;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:d:e:E:hH:i:k:nNo::p:P:r:vy",
	    long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': s.opt_ssh_config = optarg; break;
		case 'd': s.opt_ssh_dir = optarg; break;
		case 'e': s.aws_env = optarg; break;
		case 'E': s.opt_env = optarg; break;
		case 'h': usage(stdout, prog); return 0;
		case 'H': s.opt_hostname = optarg; break;
		case 'i': s.opt_instance = optarg; break;
		case 'k': s.ssh_key = optarg; break;
		case 'n': s.ui.dry_run = 1; break;
		case 'N': s.no_check = 1; break;
		case 'o':
			s.onepassword = 1;
			/* "--1password VAULT" too, unless VAULT is an option */
			if (optarg == NULL && optind < argc &&
			    argv[optind][0] != '-')
				optarg = argv[optind++];
			s.vault = optarg ? optarg : "Private";
			break;
		case 'p': s.profile = optarg; break;
		case 'P': s.prefix = optarg; break;
		case 'r': s.region = optarg; break;
		case 'v': verbosity++; break;
		case 'y': s.ui.yes = 1; break;
		default:
			return cx_drv_bad_option("setup", c, argv[optind - 1],
			    prog);
		}
	}
	if (optind < argc) {
		cx_error("setup: unexpected argument '%s' (see '%s setup "
		    "--help')", argv[optind], prog);
		return CX_EXIT_USAGE;
	}
	if (s.opt_instance && !cx_instance_id_valid(s.opt_instance)) {
		cx_drv_bad_instance_id(s.opt_instance);
		return CX_EXIT_USAGE;
	}
	if (check_opts(&s) != 0)
		return CX_EXIT_USAGE;
	cx_log_set_verbosity(verbosity);
	s.verbosity = verbosity;
	r = run_setup(&s);
	if (r == 0)
		cx_drv_say("\n%s-proxy setup %s.", s.prefix, s.ui.dry_run ?
		    "preview complete (nothing was changed)" : "complete");
	setup_clean_up(&s);
	return cx_exit_code(r);
}
