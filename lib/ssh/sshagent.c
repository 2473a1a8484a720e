
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/osdata.h"
#include "sshagent.h"

#define SSH2_AGENTC_REQUEST_IDENTITIES	11
#define SSH2_AGENT_IDENTITIES_ANSWER	12
#define SSH_AGENT_FAILURE		5

int
cx_agent_socket_path(const char *spec, char **out)
{
	return cx_agent_socket_path_os(cx_os_host(), spec, out);
}

int
cx_agent_socket_path_os(enum cx_os os, const char *spec, char **out)
{
	const char *const *socks;
	const char *env;
	char *p = NULL;
	int r, i;

	*out = NULL;
	if (spec == NULL || *spec == '\0') {
		/* SSH_AUTH_SOCK wins, as for OpenSSH (on Windows too: Git
		 * for Windows' agent, or another pipe) */
		env = getenv("SSH_AUTH_SOCK");
		if (env == NULL || *env == '\0')
			env = cx_osdata_agent_default(os);
		if (env == NULL) {
			cx_error("no ssh-agent: SSH_AUTH_SOCK is not set "
			    "(give --agent-socket PATH or 1password)");
			return CX_ERR_CONFIG;
		}
		return (*out = strdup(env)) == NULL ? CX_ERR_NOMEM : 0;
	}
	if (strcmp(spec, "1password") == 0) {
		/* the first of this OS's places that exists, else the first;
		 * a single place is not looked at (on Windows a look at the
		 * pipe would be a connection the agent sees) */
		socks = cx_osdata_1password_socks(os);
		if (socks[1] == NULL)
			return cx_expand_user(socks[0], out);
		for (i = 0; socks[i] != NULL; i++) {
			if ((r = cx_expand_user(socks[i], &p)) != 0) {
				free(*out);
				*out = NULL;
				return r;
			}
			if (cx_file_exists(p)) {
				free(*out);
				*out = p;
				return 0;
			}
			if (*out == NULL)
				*out = p;
			else
				free(p);
		}
		return 0;
	}
	return cx_expand_user(spec, out);
}

/* Waits for fd to be ready for events, at most CX_AGENT_TIMEOUT_MS. */
static int
wait_fd(int fd, short events)
{
	return cx_wait_fd(fd, events, cx_now_ms() + CX_AGENT_TIMEOUT_MS);
}

static int
read_full(int fd, unsigned char *p, size_t n)
{
	ssize_t got;
	int r;

	while (n > 0) {
		if ((r = wait_fd(fd, POLLIN)) != 0)
			return r;
		got = read(fd, p, n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return got == 0 ? CX_ERR_PROTOCOL : CX_ERR_IO;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Sends one request and reads the whole answer into *ans, *anslen. */
static int
agent_call(const char *sock, const unsigned char *req, size_t reqlen,
    unsigned char **ans, size_t *anslen)
{
	unsigned char hdr[4], *body = NULL;
	const char *hint;
	uint32_t len;
	int fd = -1, r;

	*ans = NULL;
	if ((r = cx_unix_connect(sock, cx_now_ms() + CX_AGENT_TIMEOUT_MS,
	    &fd)) != 0) {
		hint = cx_osdata_agent_start_hint(cx_os_host());
		if (r == CX_ERR_CONFIG)
			cx_error("ssh-agent socket path '%s' is too long", sock);
		else if (r == CX_ERR_NOTFOUND && hint != NULL)
			cx_error("no ssh-agent is running on '%s': %s", sock,
			    hint);
		else if (r == CX_ERR_NOTFOUND)
			cx_error("no ssh-agent socket at '%s'", sock);
		else if (r == CX_ERR_TIMEOUT)
			cx_error("ssh-agent at '%s' stayed busy for %d s", sock,
			    CX_AGENT_TIMEOUT_MS / 1000);
		else if (r != CX_ERR_CANCELLED)
			cx_error("cannot connect to ssh-agent at '%s': %s",
			    sock, strerror(errno));
		goto out;
	}
	if ((r = wait_fd(fd, POLLOUT)) != 0 ||
	    (r = cx_write_all(fd, req, reqlen)) != 0)
		goto fail;
	if ((r = read_full(fd, hdr, sizeof(hdr))) != 0)
		goto fail;
	len = get_u32(hdr);
	if (len == 0 || len > CX_AGENT_MAX_REPLY) {
		cx_error("ssh-agent at '%s': answer of %lu bytes (limit %d)",
		    sock, (unsigned long)len, CX_AGENT_MAX_REPLY);
		r = len == 0 ? CX_ERR_PROTOCOL : CX_ERR_TOOBIG;
		goto out;
	}
	if ((body = malloc(len)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = read_full(fd, body, len)) != 0)
		goto fail;
	*ans = body;
	*anslen = len;
	body = NULL;	/* transferred */
	r = 0;
	goto out;
 fail:
	cx_error("ssh-agent at '%s': %s", sock, cx_strerror(r));
 out:
	free(body);
	if (fd != -1)
		close(fd);
	return r;
}

void
cx_agent_ids_free(struct cx_agent_id *ids, size_t nids)
{
	size_t i;

	if (ids == NULL)
		return;
	for (i = 0; i < nids; i++) {
		free(ids[i].blob);
		free(ids[i].comment);
	}
	free(ids);
}

/* Reads one SSH string from *p (of *left bytes). */
static int
take_string(const unsigned char **p, size_t *left, const unsigned char **s,
    size_t *len)
{
	uint32_t n;

	if (*left < 4)
		return -1;
	n = get_u32(*p);
	if (n > *left - 4)
		return -1;
	*s = *p + 4;
	*len = n;
	*p += 4 + n;
	*left -= 4 + n;
	return 0;
}

int
cx_agent_list(const char *sock, struct cx_agent_id **idsp, size_t *nidsp)
{
	static const unsigned char req[] = {
		0, 0, 0, 1, SSH2_AGENTC_REQUEST_IDENTITIES
	};
	unsigned char *ans = NULL;
	const unsigned char *p, *s, *c;
	struct cx_agent_id *ids = NULL;
	size_t anslen = 0, left, slen, clen, n = 0, i;
	uint32_t count;
	int r;

	*idsp = NULL;
	*nidsp = 0;
	if ((r = agent_call(sock, req, sizeof(req), &ans, &anslen)) != 0)
		return r;
	if (ans[0] == SSH_AGENT_FAILURE) {
		cx_error("ssh-agent at '%s' refused to list its keys", sock);
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if (ans[0] != SSH2_AGENT_IDENTITIES_ANSWER || anslen < 5) {
		cx_error("ssh-agent at '%s': unexpected answer type %u", sock,
		    ans[0]);
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	count = get_u32(ans + 1);
	if (count > CX_AGENT_MAX_KEYS) {
		cx_error("ssh-agent at '%s' lists %lu keys (limit %d)", sock,
		    (unsigned long)count, CX_AGENT_MAX_KEYS);
		r = CX_ERR_TOOBIG;
		goto out;
	}
	if (count > 0 && (ids = calloc(count, sizeof(*ids))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	p = ans + 5;
	left = anslen - 5;
	for (i = 0; i < count; i++) {
		if (take_string(&p, &left, &s, &slen) != 0 ||
		    take_string(&p, &left, &c, &clen) != 0 || slen == 0) {
			cx_error("ssh-agent at '%s': malformed key list",
			    sock);
			r = CX_ERR_PROTOCOL;
			goto out;
		}
		if ((ids[i].blob = malloc(slen)) == NULL ||
		    (ids[i].comment = strndup((const char *)c, clen)) ==
		    NULL) {
			n = i + 1;
			r = CX_ERR_NOMEM;
			goto out;
		}
		n = i + 1;
		memcpy(ids[i].blob, s, slen);
		ids[i].blob_len = slen;
		if ((r = cx_sshkey_fingerprint(s, slen,
		    ids[i].fingerprint)) != 0)
			goto out;
	}
	*idsp = ids;
	*nidsp = n;
	ids = NULL;	/* transferred */
	r = 0;
 out:
	cx_agent_ids_free(ids, n);
	free(ans);
	return r;
}

static void
log_ids(const struct cx_agent_id *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cx_error("  agent key: %s '%s'", ids[i].fingerprint,
		    ids[i].comment);
}

int
cx_agent_pick(const char *sock, const char *selector, struct cx_sshkey *k)
{
	struct cx_agent_id *ids = NULL;
	struct cx_sshkey probe;
	size_t n = 0, i, found = 0, hit = 0;
	char what[128];
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = cx_agent_list(sock, &ids, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		memset(&probe, 0, sizeof(probe));
		probe.comment = ids[i].comment;
		memcpy(probe.fingerprint, ids[i].fingerprint,
		    sizeof(probe.fingerprint));
		if (cx_sshkey_matches(&probe, selector)) {
			found++;
			hit = i;
		}
	}
	if (found == 0) {
		cx_error("no key '%s' in the ssh-agent at '%s' (%zu keys)",
		    selector, sock, n);
		log_ids(ids, n);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	if (found > 1) {
		cx_error("%zu keys in the ssh-agent at '%s' match '%s'; "
		    "choose one by fingerprint", found, sock, selector);
		log_ids(ids, n);
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((size_t)snprintf(what, sizeof(what), "agent key %s",
	    ids[hit].fingerprint) >= sizeof(what)) {
		r = CX_ERR_INTERNAL;
		goto out;
	}
	r = cx_sshkey_from_blob(ids[hit].blob, ids[hit].blob_len,
	    ids[hit].comment, what, k);
 out:
	cx_agent_ids_free(ids, n);
	return r;
}
