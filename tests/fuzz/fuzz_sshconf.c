/* libFuzzer target: the lossless ssh_config model (lib/ssh/sshconf*.c).
 * Properties: a file parsed and rendered without an edit comes back byte
 * for byte; after edits (environment, host, removal, adopt) the result
 * parses again and renders identically; listing, diff and prefix guessing
 * never crash. */
#include "fuzz.h"

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "ssh/sshconf.h"

static void
roundtrip(const void *data, size_t size, int flags)
{
	struct cx_sshconf *m = NULL;
	struct cx_buf b;

	cx_buf_init(&b, 0);
	FZ_ASSERT(cx_sshconf_parse(data, size, "cloudx", flags, &m) == 0);
	FZ_ASSERT(cx_sshconf_render(m, &b) == 0);
	FZ_ASSERT(b.len == size && (size == 0 ||
	    memcmp(b.data, data, size) == 0));
	cx_sshconf_free(m);
	cx_buf_clean_up(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_sshconf_env_opts eo;
	struct cx_sshconf_listing *l = NULL;
	struct cx_sshconf *m = NULL;
	struct cx_buf b, d;
	cJSON *j = NULL;
	char *g;
	int flags, op, rep;

	cx_log_set_verbosity(-2);
	if (size < 1)
		return 0;
	flags = data[0] & 1 ? CX_SSHCONF_WINDOWS : 0;
	op = data[0] >> 1;
	data++;
	size--;
	cx_buf_init(&b, 0);
	cx_buf_init(&d, 0);
	if (cx_sshconf_parse(data, size, "cloudx", flags, &m) != 0) {
		FZ_ASSERT(memchr(data, '\0', size) != NULL ||
		    size > CX_SSHCONF_MAX_FILE);
		goto out;
	}
	FZ_ASSERT(cx_sshconf_render(m, &b) == 0);
	FZ_ASSERT(b.len == size && (size == 0 ||
	    memcmp(b.data, data, size) == 0));
	FZ_ASSERT(!cx_sshconf_changed(m) || size == 0 ||
	    !cx_sshconf_existed(m));
	if (cx_sshconf_list(m, NULL, &l) == 0) {
		if (cx_sshconf_listing_json(l, &j) == 0)
			cJSON_Delete(j);
		cx_buf_reset(&b);
		(void)cx_sshconf_listing_text(l, op & 1, &b);
		cx_sshconf_listing_free(l);
	}
	if ((g = cx_sshconf_guess_prefix(data, size)) != NULL)
		free(g);
	memset(&eo, 0, sizeof(eo));
	eo.proxy_path = "/usr/bin/cloudx-proxy";
	eo.ssh_dir = "/home/u/.ssh/cloudX";
	eo.ssh_key = "cloudX";
	eo.home = "/home/u";
	if (op & 2)
		eo.region = "eu-west-1";
	if (op & 4)
		eo.identity_agent = "/home/u/.1password/agent.sock";
	switch ((op >> 3) % 6) {
	case 0:
		(void)cx_sshconf_set_env(m, "dev", &eo);
		(void)cx_sshconf_set_host(m, "dev", "box", "i-0123456789abcdef0",
		    &rep);
		break;
	case 1:
		(void)cx_sshconf_set_host(m, "dev", "box", "i-01234567",
		    &rep);
		break;
	case 2:
		(void)cx_sshconf_remove_host(m, "dev", "box");
		break;
	case 3:
		(void)cx_sshconf_remove_env(m, "dev");
		break;
	case 4:
		(void)cx_sshconf_adopt(m, "/usr/bin/cloudx-proxy", &rep);
		break;
	case 5:
		(void)cx_sshconf_ensure_generic(m);
		(void)cx_sshconf_set_env(m, "dev-eu", &eo);
		break;
	}
	cx_buf_reset(&b);
	FZ_ASSERT(cx_sshconf_render(m, &b) == 0);
	(void)cx_sshconf_diff(m, "config", &d);
	if (memchr(b.data ? (const void *)b.data : "", '\0', b.len) == NULL)
		roundtrip(b.data ? (const void *)b.data : "", b.len, flags);
 out:
	cx_sshconf_free(m);
	cx_buf_clean_up(&b);
	cx_buf_clean_up(&d);
	return 0;
}
