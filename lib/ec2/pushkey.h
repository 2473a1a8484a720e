/*
 * Pushing one SSH public key to an instance for 60 seconds with EC2
 * Instance Connect (SendSSHPublicKey, JSON 1.1, signing name
 * "ec2-instance-connect"), and the stage glue of cx-pushkey.
 * Implemented in lib/ec2/pushkey.c.
 */
#ifndef CX_PUSHKEY_H
#define CX_PUSHKEY_H

#include <time.h>

#include <cjson/cJSON.h>

#include "aws/creds.h"
#include "ssh/sshkey.h"

#define CX_PUSHKEY_DEFAULT_OS_USER	"ec2-user"
#define CX_PUSHKEY_VALID_S		60	/* how long EIC keeps a key */

struct cx_pushkey_opts {
	const char *instance_id;	/* NULL: the document's Instance */
	const char *os_user;		/* NULL: CX_PUSHKEY_DEFAULT_OS_USER */
	const char *public_key;		/* a .pub file, or NULL */
	const char *agent_key;		/* agent selector, or NULL */
	const char *agent_socket;	/* NULL: $SSH_AUTH_SOCK */
	int dry_run;			/* choose and check, push nothing */
};

/* 1 if user is an OS user name EC2 Instance Connect accepts. */
int cx_pushkey_os_user_valid(const char *user);

/*
 * Loads the key o names (the file, or the one agent key matching
 * o->agent_key) into *k and checks that EIC accepts it.  Makes no AWS
 * call.  Errors are logged: CX_ERR_USAGE (neither or both sources),
 * CX_ERR_INPUT (bad or refused key), CX_ERR_NOTFOUND, ...
 */
int cx_pushkey_load(const struct cx_pushkey_opts *o, struct cx_sshkey *k);

/*
 * Sends k for os_user to instance id (az may be NULL).  Returns 0 or a
 * CX_ERR_* (logged): CX_ERR_DENIED, CX_ERR_NOTFOUND, CX_ERR_STATE (the
 * instance is not running), CX_ERR_THROTTLED, ...
 */
int cx_pushkey_send(struct cx_aws_ctx *ctx, const char *id,
    const char *os_user, const char *az, const struct cx_sshkey *k);

/*
 * The SendSSHPublicKey body for k (*out: cJSON_Delete; CX_ERR_INPUT,
 * logged, when the key line is too long for EIC), and the CX_ERR_* of the
 * call's result (r, its answer and error; EIC's own codes mapped), not
 * logged: for the driver's wave, which makes the call with others.
 */
struct cx_aws_error;
int cx_pushkey_body(const char *id, const char *os_user, const char *az,
    const struct cx_sshkey *k, cJSON **out);
int cx_pushkey_answer(int r, const cJSON *ans,
    const struct cx_aws_error *err);

/*
 * Picks the instance id and zone: o->instance_id, else
 * doc.Instance.InstanceId; the zone is doc.Instance.AvailabilityZone when
 * that object is about the same instance.  Both borrowed (from o or
 * doc).  CX_ERR_USAGE (logged) when there is no id.
 */
int cx_pushkey_target(const struct cx_pushkey_opts *o, const cJSON *doc,
    const char **id, const char **az);

/* Sets doc["KeyPush"] = {InstanceId, OsUser, KeyType, Fingerprint,
 * Comment, Source, ValidUntil (ISO 8601 UTC; null on a dry run)}. */
int cx_pushkey_to_json(cJSON *doc, const char *id, const char *os_user,
    const struct cx_sshkey *k, const char *source, time_t valid_until);

#endif
