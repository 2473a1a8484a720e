/*
 * Calling AWS APIs: the query protocol (STS, IAM), the EC2 protocol, and
 * JSON 1.1 (SSM, EC2 Instance Connect), each SigV4-signed, over lib/aws/http.h
 * with the AWS "standard" retry mode (throttling, 5xx, transient network
 * errors; jittered exponential backoff; AWS_MAX_ATTEMPTS / max_attempts).
 *
 * Implemented in lib/aws/aws.c (cx_aws_target_init() in lib/aws/awstarget.c).
 *
 * Making a call:
 *
 *	struct cx_aws_target t;
 *	struct cx_query q;
 *	struct cx_xml *x = NULL;
 *	struct cx_aws_error err = { 0 };
 *
 *	if ((r = cx_aws_target_init(&t, ctx, "ec2", NULL)) != 0) ...
 *	cx_query_init(&q, "DescribeInstances", "2016-11-15");
 *	cx_query_add(&q, "InstanceId.1", id);
 *	if ((r = cx_aws_query(&t, &q, &x, &err)) != 0) {
 *		cx_aws_log_error("cannot describe 'i-0abc'", r, &err);
 *		...
 *	}
 *	state = cx_xml_text(x->root,
 *	    "reservationSet/item/instancesSet/item/instanceState/name");
 *	cx_xml_free(x); cx_query_clean_up(&q);
 *	cx_aws_error_clean_up(&err); cx_aws_target_clean_up(&t);
 *
 * JSON 1.1: cx_aws_json(&t, "AmazonSSM.StartSession", body, &out, &err)
 * with t from cx_aws_target_init(&t, ctx, "ssm", NULL).  A target may also
 * be filled by hand (endpoint malloc'd, region, signing_name, creds; ctx
 * may be NULL: a private HTTP client is then made for each call).
 *
 * HTTP client: t->ctx->http is used, and created on first use when NULL
 * with the context's settings (cx_awscfg_ca_bundle(): AWS_CA_BUNDLE >
 * profile ca_bundle; cx_awscfg_max_attempts()); cx_aws_ctx_clean_up()
 * must cx_http_free() it.  Without a context: AWS_CA_BUNDLE only.
 *
 * Retries ("standard" mode): HTTP 500/502/503/504, 429, throttling codes,
 * RequestTimeout(Exception), PriorRequestNotComplete, connection errors and
 * timeouts; the delay before attempt n+1 is rand(0,1) * min(2^(n-1), 20) s;
 * a process-wide retry quota (500 tokens, 5 per retry, 10 after a
 * timeout) stops retry storms.  Each attempt is signed afresh.  Attempts:
 * AWS_MAX_ATTEMPTS (1..20) > the client's max_attempts > 3.
 * Environment overrides for tests: CX_HTTP_TIMEOUT_MS and
 * CX_HTTP_CONNECT_TIMEOUT_MS (lib/aws/http.h), CX_AWS_MAX_BACKOFF_MS (caps each
 * delay, 0..20000).
 *
 * Debug lines (-vv): method, host, action or target, status, error code,
 * request id, attempt, elapsed ms.  Never bodies, headers or secrets.
 */
#ifndef CX_AWS_H
#define CX_AWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "creds.h"
#include "xml.h"

/* One AWS error, whatever the protocol (XML <Code>, JSON __type). */
struct cx_aws_error {
	long http_status;	/* 0 if no HTTP answer */
	char *code;		/* "AccessDenied", "InvalidInstanceID.NotFound";
				 * never NULL after an AWS error (the HTTP
				 * status, e.g. "500", when the body names
				 * none); NULL after a transport error */
	char *message;		/* the service's message, or NULL */
	char *request_id;	/* or NULL */
};

void cx_aws_error_clean_up(struct cx_aws_error *e);

/*
 * Maps an AWS error code (and HTTP status) to a CX_ERR_* code:
 * throttling codes -> CX_ERR_THROTTLED, 5xx -> CX_ERR_AWS_SERVER,
 * access/auth codes -> CX_ERR_DENIED, *NotFound / NoSuchEntity ->
 * CX_ERR_NOTFOUND, ExpiredToken* -> CX_ERR_LOGIN, else CX_ERR_AWS.
 * Precisely: throttling codes or 429 -> THROTTLED; ExpiredToken(Exception),
 * UnauthorizedException (SSO portal), InvalidGrantException -> LOGIN;
 * AccessDenied(Exception), UnauthorizedOperation, AuthFailure,
 * SignatureDoesNotMatch, InvalidClientTokenId, UnrecognizedClientException,
 * AuthException, ... -> DENIED; *NotFound, *NotFoundException, NoSuchEntity,
 * InvalidInstanceId (SSM) -> NOTFOUND; RequestTimeout* -> AWS_SERVER; then
 * by status: 5xx -> AWS_SERVER, 401/403 -> DENIED, 404 -> NOTFOUND.
 * code may be NULL.
 */
int cx_aws_error_class(const char *code, long http_status);

/* Form parameters of a query/EC2-protocol request, form-encoded in order
 * (as Python's urlencode does: space as '+'), at most 1 MiB.  The body is
 * wiped on clean-up.  If cx_query_init() runs out of memory the body is
 * left empty and cx_aws_query() returns CX_ERR_NOMEM. */
struct cx_query {
	struct cx_buf body;
};
void cx_query_init(struct cx_query *q, const char *action, const char *version);
/* Adds name=value (both form-encoded); returns 0 or CX_ERR_NOMEM. */
int cx_query_add(struct cx_query *q, const char *name, const char *value);
void cx_query_clean_up(struct cx_query *q);

/*
 * Where and how to send one call.  Fill it with cx_aws_target_init(), which
 * resolves the endpoint for service through the context's configuration.
 */
struct cx_aws_target {
	char *endpoint;			/* base URL, owned */
	const char *region;		/* signing region (borrowed) */
	const char *signing_name;	/* "ec2", "ssm", "ec2-instance-connect",
					 * "sts", "iam" (static) */
	const struct cx_creds *creds;	/* NULL: unsigned (SSO portal) */
	struct cx_aws_ctx *ctx;		/* for the HTTP client and settings */
};

/* service: as in cx_aws_ctx_endpoint().  region NULL: ctx->region. */
int cx_aws_target_init(struct cx_aws_target *t, struct cx_aws_ctx *ctx,
    const char *service, const char *region);
void cx_aws_target_clean_up(struct cx_aws_target *t);

/*
 * POSTs a query/EC2-protocol request and parses the XML answer.  err
 * must be zeroed or hold an earlier error (it is cleaned up first).  On
 * success *out is the parsed document (caller frees with cx_xml_free).
 * On an AWS error, err (if not NULL) is filled, nothing is logged, and
 * cx_aws_error_class() of it is returned.  Transport failures after all
 * retries return CX_ERR_NETWORK / CX_ERR_TIMEOUT (logged at debug level
 * only: the caller says what it was trying to do).  Also CX_ERR_TOOBIG
 * (answer over 8 MiB), CX_ERR_PROTOCOL (a 2xx answer that does not parse),
 * CX_ERR_INPUT (bad endpoint URL), CX_ERR_CONFIG (unusable CA bundle).
 */
int cx_aws_query(struct cx_aws_target *t, const struct cx_query *q,
    struct cx_xml **out, struct cx_aws_error *err);

/*
 * POSTs a JSON 1.1 request (X-Amz-Target: amz_target, e.g.
 * "AmazonSSM.StartSession") and parses the JSON answer into *out (caller
 * frees with cx_json_delete_secure).  body NULL sends "{}".  Errors as for
 * cx_aws_query().
 */
int cx_aws_json(struct cx_aws_target *t, const char *amz_target,
    const cJSON *body, cJSON **out, struct cx_aws_error *err);

/*
 * GET path_and_query on the target's endpoint with extra headers (each
 * "Name: value"), unsigned or signed per t->creds, JSON answer in *out.
 * Used for the SSO portal.  Header values may be secrets: never logged.
 */
int cx_aws_get_json(struct cx_aws_target *t, const char *path_and_query,
    const char *const *headers, size_t nheaders, cJSON **out,
    struct cx_aws_error *err);

/*
 * Several calls at once (cx_http_batch(): libcurl's multi interface, one
 * connection cache): the "warm connect" wave of the driver.  Each call is
 * a query/EC2-protocol one (query set) or a JSON 1.1 one (amz_target and
 * body, NULL sending "{}"); every target must have the same ctx (one HTTP
 * client, made as for a single call).  Each call gets one attempt in the
 * batch; one that the standard mode would retry is then retried on its
 * own with the attempts left (backoff first).  Results as the single
 * calls give them: r, and xml / json on success (caller's: free with
 * cx_aws_call_clean_up in every case), err on an AWS error; nothing is
 * logged but -vv lines.
 */
struct cx_aws_call {
	struct cx_aws_target *t;	/* borrowed */
	const struct cx_query *query;	/* borrowed, or NULL */
	const char *amz_target;		/* JSON 1.1 when query is NULL */
	const cJSON *body;		/* borrowed, or NULL */
	/* filled by cx_aws_batch(): */
	int r;
	struct cx_xml *xml;
	cJSON *json;
	struct cx_aws_error err;
	uint64_t ms;			/* to its answer */
};

/*
 * Makes the n calls (at most 16).  Returns 0 when they were made (each
 * call's r says how it went), CX_ERR_INPUT (no context, different
 * contexts, n too large), CX_ERR_NOMEM, CX_ERR_CONFIG (the client's CA
 * bundle), CX_ERR_INTERNAL; a call that could not be built (its r) fails
 * them all.
 */
int cx_aws_batch(struct cx_aws_call *calls, size_t n);
void cx_aws_call_clean_up(struct cx_aws_call *k);

/* Logs "<what>: <code>: <message>" (or the CX error text) as one line,
 * e.g. cx_aws_log_error("cannot start 'i-0abc'", r, &err). */
void cx_aws_log_error(const char *what, int r, const struct cx_aws_error *err);

#endif
