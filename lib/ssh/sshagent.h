/*
 * A minimal ssh-agent client: list the agent's identities
 * (SSH2_AGENTC_REQUEST_IDENTITIES over its unix socket, or its named pipe
 * on Windows) and pick exactly
 * one of them by fingerprint or comment.  Never "the first key in the
 * agent".  Works with OpenSSH's ssh-agent and the 1Password agent.
 * Implemented in lib/ssh/sshagent.c.
 */
#ifndef CX_SSHAGENT_H
#define CX_SSHAGENT_H

#include <stddef.h>

#include "core/os.h"
#include "sshkey.h"

#define CX_AGENT_MAX_REPLY	(256 * 1024)	/* bytes of one agent answer */
#define CX_AGENT_MAX_KEYS	1024
/* per read/write on the socket, and for a free instance of a busy pipe */
#define CX_AGENT_TIMEOUT_MS	10000

/*
 * Resolves which socket to talk to: spec NULL or "" means $SSH_AUTH_SOCK,
 * else this OS's default (cx_osdata_agent_default: on Windows the OpenSSH
 * agent's pipe \\.\pipe\openssh-ssh-agent; none on Linux and macOS);
 * "1password" means the 1Password agent (the first of this OS's places
 * that exists, cx_osdata_1password_socks: ~/.1password/agent.sock, on
 * macOS then the Group Containers path; else the first); anything else is
 * a path ("~/" expanded).  *out is malloc'd.  Errors (logged):
 * CX_ERR_CONFIG (no SSH_AUTH_SOCK), CX_ERR_NOMEM.
 */
int cx_agent_socket_path(const char *spec, char **out);
/* The same for the given OS (the unit tests try each on any system). */
int cx_agent_socket_path_os(enum cx_os os, const char *spec, char **out);

/* One identity as the agent lists it. */
struct cx_agent_id {
	unsigned char *blob;
	size_t blob_len;
	char *comment;
	char fingerprint[CX_SSHKEY_FP_LEN];
};

/*
 * Lists the identities of the agent at sock.  *ids (an array of *nids,
 * possibly 0) is owned by the caller: cx_agent_ids_free().  Errors
 * (logged, naming the socket): CX_ERR_NOTFOUND (no socket there; on
 * Windows the line says how to start the agent), CX_ERR_IO (cannot
 * connect), CX_ERR_TIMEOUT (no answer, or a pipe busy that long),
 * CX_ERR_CANCELLED (a caught signal, not logged), CX_ERR_PROTOCOL (a bad or
 * failed answer), CX_ERR_TOOBIG, CX_ERR_NOMEM.
 */
int cx_agent_list(const char *sock, struct cx_agent_id **ids, size_t *nids);
void cx_agent_ids_free(struct cx_agent_id *ids, size_t nids);

/*
 * Picks the one identity of the agent at sock that selector names (see
 * cx_sshkey_matches(): "SHA256:..." or the exact comment) and parses it
 * into *k (zeroed first; caller cleans up).  No match is CX_ERR_NOTFOUND
 * and more than one is CX_ERR_INPUT; both are logged with the list of the
 * agent's keys (fingerprint and comment: public data).
 */
int cx_agent_pick(const char *sock, const char *selector,
    struct cx_sshkey *k);

#endif
