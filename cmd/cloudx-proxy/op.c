/*
 * setup --1password: the key lives in 1Password and its SSH agent; only
 * the public key is exported next to the config (seed-behaviour.md §4b),
 * through the `op` CLI (run without a shell; nothing secret passes).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/osdata.h"
#include "core/stage.h"
#include "driver.h"
#include "setup.h"

#define OP_MAX_OUT	(4 * 1024 * 1024)
#define OP_TIMEOUT_MS	120000	/* op may wait for a biometric unlock */

/* The op CLI that ran first (one of cx_osdata_op_cli's), then kept. */
static const char *op_prog;

/* Runs op with args (argv[0] is replaced by where op is: PATH, else where
 * its installers put it on this OS); stdout into out (may be NULL).
 * Returns 0 when op ran and exited 0, CX_ERR_NOTFOUND when there is no op,
 * else CX_ERR_IO. */
static int
op(char *const argv[], struct cx_buf *out, struct cx_buf *err)
{
	const char *const *cand = cx_osdata_op_cli(cx_os_host());
	char *av[16];
	size_t i, n;
	int r = CX_ERR_NOTFOUND, st;

	for (n = 0; argv[n] != NULL; n++) {
		if (n + 1 >= sizeof(av) / sizeof(av[0]))
			return CX_ERR_INTERNAL;
		av[n] = argv[n];
	}
	av[n] = NULL;
	for (i = 0; cand[i] != NULL && r == CX_ERR_NOTFOUND; i++) {
		if (op_prog != NULL && strcmp(op_prog, cand[i]) != 0)
			continue;
		av[0] = (char *)(uintptr_t)cand[i];
		r = cx_run(av, NULL, 0, out, err, OP_TIMEOUT_MS, &st);
		if (r != CX_ERR_NOTFOUND)
			op_prog = cand[i];
	}
	if (r != 0)
		return r;
	return cx_wait_exit(st) == 0 ? 0 : CX_ERR_IO;
}

/* p with a leading "~/" taken from home (not $HOME: setup's --home);
 * *out is malloc'd. */
static int
home_path(const char *home, const char *p, char **out)
{
	if (strncmp(p, "~/", 2) == 0)
		return cx_path_join(home, p + 2, out);
	return (*out = strdup(p)) == NULL ? CX_ERR_NOMEM : 0;
}

static void
trim(struct cx_buf *b)
{
	while (b->len > 0 && strchr(" \t\r\n", b->data[b->len - 1]) != NULL)
		b->data[--b->len] = '\0';
}

static int
check_available(struct cx_drv_setup *s)
{
	char *ver[] = { "op", "--version", NULL };
	char *acc[] = { "op", "account", "list", NULL };
	const char *const *socks = cx_osdata_1password_socks(cx_os_host());
	struct cx_buf out;
	char *sock = NULL;
	size_t i;
	int r;

	cx_buf_init(&out, 65536);
	r = op(ver, &out, NULL);
	if (r == CX_ERR_NOTFOUND) {
		cx_drv_status(2, CX_DRV_BAD, "1Password CLI (op) not found: "
		    "install it from 1password.com/downloads/command-line");
		goto out;
	}
	if (r != 0) {
		cx_drv_status(2, CX_DRV_BAD, "1Password CLI does not work");
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	trim(&out);
	cx_drv_status(2, CX_DRV_OK, "1Password CLI found (version %s)",
	    cx_buf_str(&out));
	cx_buf_reset(&out);
	if (op(acc, &out, NULL) != 0) {
		cx_drv_status(2, CX_DRV_BAD, "1Password CLI is not "
		    "authenticated. Run 'op signin' first.");
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if ((r = home_path(s->home, socks[0], &sock)) != 0)
		goto out;
	/* where the OS has the socket elsewhere (macOS), the first name is
	 * made a link to it, as 1Password's docs say */
	for (i = 1; socks[i] != NULL && !cx_file_exists(sock); i++) {
		char *real = NULL, *dir = NULL, *slash;

		if (home_path(s->home, socks[i], &real) == 0 &&
		    cx_file_exists(real) && !s->ui.dry_run &&
		    (dir = strdup(sock)) != NULL &&
		    (slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			cx_mkdir_p(dir, 0700);
			unlink(sock);	/* a dangling link is replaced */
			if (cx_symlink(real, sock) == 0)
				cx_drv_status(2, CX_DRV_OK, "Linked %s", sock);
		}
		free(real);
		free(dir);
	}
	if (!cx_file_exists(sock)) {
		cx_drv_status(2, CX_DRV_BAD, "1Password SSH agent socket %s "
		    "not found: enable the SSH agent in 1Password's settings",
		    sock);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	cx_drv_status(2, CX_DRV_OK, "1Password SSH agent found");
	free(s->identity_agent);
	if ((s->identity_agent = strdup(socks[0])) == NULL)
		r = CX_ERR_NOMEM;
 out:
	free(sock);
	cx_buf_clean_up(&out);
	return r;
}

/* The id of the SSH Key item titled t1 (else t2), in any vault. */
static int
find_item(const char *t1, const char *t2, char **id)
{
	char *argv[] = { "op", "item", "list", "--categories", "SSH Key",
	    "--format=json", NULL };
	struct cx_buf out;
	cJSON *doc = NULL, *it;
	const char *title, *iid;
	int r, pass;

	*id = NULL;
	cx_buf_init(&out, OP_MAX_OUT);
	if ((r = op(argv, &out, NULL)) != 0) {
		cx_error("cannot list 1Password items ('op item list' failed)");
		goto out;
	}
	if ((doc = cJSON_Parse(cx_buf_str(&out))) == NULL ||
	    !cJSON_IsArray(doc)) {
		cx_error("'op item list' did not print a JSON array");
		r = CX_ERR_INPUT;
		goto out;
	}
	for (pass = 0; pass < 2 && *id == NULL; pass++) {
		cJSON_ArrayForEach(it, doc) {
			title = cx_json_str(it, "title");
			iid = cx_json_str(it, "id");
			if (title && iid && strcmp(title, pass ? t2 : t1) == 0) {
				if ((*id = strdup(iid)) == NULL)
					r = CX_ERR_NOMEM;
				break;
			}
		}
	}
 out:
	cJSON_Delete(doc);
	cx_buf_clean_up(&out);
	return r;
}

static int
get_public_key(const char *id, struct cx_buf *pub)
{
	char *argv[] = { "op", "item", "get", (char *)(uintptr_t)id,
	    "--fields", "public key", NULL };
	int r;

	cx_buf_reset(pub);
	if ((r = op(argv, pub, NULL)) != 0) {
		cx_error("cannot read the public key of 1Password item '%s'",
		    id);
		return r;
	}
	trim(pub);
	/* some op versions quote the value */
	if (pub->len >= 2 && pub->data[0] == '"' &&
	    pub->data[pub->len - 1] == '"') {
		memmove(pub->data, pub->data + 1, pub->len - 2);
		pub->len -= 2;
		pub->data[pub->len] = '\0';
	}
	return 0;
}

static int
pick_vault(struct cx_drv_setup *s, char **vault_id)
{
	char *argv[] = { "op", "vault", "list", "--format=json", NULL };
	struct cx_buf out;
	cJSON *doc = NULL, *it;
	char *ans = NULL;
	const char *name, *vid;
	long long k;
	int r, n = 0, i;

	*vault_id = NULL;
	cx_buf_init(&out, OP_MAX_OUT);
	if ((r = op(argv, &out, NULL)) != 0) {
		cx_error("cannot list 1Password vaults ('op vault list' "
		    "failed)");
		goto out;
	}
	if ((doc = cJSON_Parse(cx_buf_str(&out))) == NULL ||
	    !cJSON_IsArray(doc) || cJSON_GetArraySize(doc) == 0) {
		cx_error("'op vault list' printed no vaults");
		r = CX_ERR_INPUT;
		goto out;
	}
	cJSON_ArrayForEach(it, doc) {
		name = cx_json_str(it, "name");
		vid = cx_json_str(it, "id");
		if (name && vid && s->vault && *s->vault &&
		    strcasecmp(name, s->vault) == 0) {
			cx_drv_status(2, CX_DRV_OK, "Using vault '%s'", name);
			*vault_id = strdup(vid);
			r = *vault_id ? 0 : CX_ERR_NOMEM;
			goto out;
		}
	}
	cx_drv_say("Available 1Password vaults:");
	cJSON_ArrayForEach(it, doc) {
		n++;
		name = cx_json_str(it, "name");
		cx_drv_say("  %d. %s", n, name ? name : "?");
	}
	if ((r = cx_drv_prompt(&s->ui, "Select vault number to store SSH key",
	    "1", &ans)) != 0)
		goto out;
	if (cx_strtonum(ans, 1, n, &k) != 0) {
		cx_error("no vault number '%s'", ans);
		r = CX_ERR_USAGE;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(it, doc) {
		if (++i == k) {
			vid = cx_json_str(it, "id");
			*vault_id = vid ? strdup(vid) : NULL;
			r = *vault_id ? 0 : CX_ERR_INPUT;
		}
	}
 out:
	free(ans);
	cJSON_Delete(doc);
	cx_buf_clean_up(&out);
	return r;
}

static int
create_item(const char *title, const char *vault_id, struct cx_buf *pub)
{
	char t[600], v[300];
	char *argv[] = { "op", "item", "create", "--category=ssh-key", t, v,
	    "--ssh-generate-key=ed25519", "--format=json", NULL };
	struct cx_buf out;
	cJSON *doc = NULL, *f;
	const char *id = NULL, *label, *val;
	int r;

	snprintf(t, sizeof(t), "--title=%s", title);
	snprintf(v, sizeof(v), "--vault=%s", vault_id);
	cx_buf_init(&out, OP_MAX_OUT);
	if ((r = op(argv, &out, NULL)) != 0) {
		cx_error("cannot create the 1Password item '%s'", title);
		goto out;
	}
	if ((doc = cJSON_Parse(cx_buf_str(&out))) == NULL ||
	    (id = cx_json_str(doc, "id")) == NULL) {
		cx_error("'op item create' printed no item id");
		r = CX_ERR_INPUT;
		goto out;
	}
	cx_drv_status(2, CX_DRV_OK, "Created 1Password item '%s'", title);
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(doc, "fields")) {
		label = cx_json_str(f, "label");
		val = cx_json_str(f, "value");
		if (label && val && strcmp(label, "public key") == 0) {
			cx_buf_reset(pub);
			r = cx_buf_puts(pub, val);
			goto out;
		}
	}
	r = get_public_key(id, pub);
 out:
	cJSON_Delete(doc);
	cx_buf_clean_up(&out);
	return r;
}

int
cx_drv_op_setup(struct cx_drv_setup *s)
{
	struct cx_buf pub;
	char *id = NULL, *vault = NULL, *title = NULL;
	int r;

	cx_buf_init(&pub, 65536);
	cx_drv_status(0, CX_DRV_INFO, "Checking 1Password integration...");
	if ((r = check_available(s)) != 0)
		goto out;
	if (s->vault != NULL && strcmp(s->vault, "Private") != 0) {
		cx_drv_status(2, CX_DRV_WARN, "Vault '%s' is not the "
		    "'Private' vault:", s->vault);
		cx_drv_status(2, CX_DRV_WARN, "only 'Private' is enabled for "
		    "SSH by default in 1Password;");
		cx_drv_status(2, CX_DRV_WARN, "enable '%s' in Settings > "
		    "Developer > SSH Agent", s->vault);
	}
	if (cx_asprintf(&title, "cloudX SSH Key - %s", s->ssh_key) < 0) {
		title = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = find_item(title, s->ssh_key, &id)) != 0)
		goto out;
	if (id != NULL) {
		cx_drv_status(2, CX_DRV_OK, "Found SSH key '%s' in 1Password",
		    title);
		if ((r = get_public_key(id, &pub)) != 0)
			goto out;
	} else if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would create the 1Password item '%s' in "
		    "vault '%s'", title, s->vault ? s->vault : "Private");
		cx_drv_say("[DRY RUN] Would export its public key to %s",
		    s->pub_file);
		goto out;
	} else {
		if ((r = pick_vault(s, &vault)) != 0)
			goto out;
		if ((r = create_item(title, vault, &pub)) != 0)
			goto out;
		cx_drv_status(2, CX_DRV_WARN, "Important: Make sure the key is "
		    "enabled in 1Password's SSH agent settings");
	}
	if (strncmp(cx_buf_str(&pub), "ssh-", 4) != 0) {
		cx_error("1Password returned no OpenSSH public key");
		r = CX_ERR_INPUT;
		goto out;
	}
	if (s->ui.dry_run) {
		cx_drv_say("[DRY RUN] Would export the public key to %s",
		    s->pub_file);
		goto out;
	}
	if ((r = cx_mkdir_p(s->ssh_dir, 0700)) != 0 ||
	    (r = cx_drv_trusted(s->ssh_dir, CX_TRUST_DIR)) != 0)
		goto out;
	if (cx_set_mode(s->ssh_dir, 0700) != 0)
		cx_warn("cannot set the permissions of '%s': %s", s->ssh_dir,
		    strerror(errno));
	cx_buf_putc(&pub, '\n');
	if ((r = cx_write_file_atomic(s->pub_file, pub.data, pub.len, 0644,
	    0)) != 0)
		goto out;
	(void)cx_set_mode(s->pub_file, 0644);
	cx_drv_status(2, CX_DRV_OK, "Exported the public key to %s",
	    s->pub_file);
 out:
	free(id);
	free(vault);
	free(title);
	cx_buf_clean_up(&pub);
	return r;
}
