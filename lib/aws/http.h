/*
 * A small HTTP(S) client over libcurl: one struct cx_http per AWS context
 * holds one CURL easy handle and one connection cache (a CURLSH share), so
 * consecutive requests reuse the connection, and so do requests after a
 * batch (cx_http_batch: N requests at once on libcurl's multi interface).
 * One request = one attempt (retries are lib/aws/aws.c's business).
 *
 * TLS: the system CA store, or opts->ca_bundle (the caller resolves
 * AWS_CA_BUNDLE / the profile's ca_bundle).  Proxies: libcurl's own
 * environment handling (https_proxy/HTTPS_PROXY, http_proxy, NO_PROXY).
 * Redirects are not followed.  Only http and https.
 *
 * Environment overrides (for tests and slow links), read by cx_http_new():
 *   CX_HTTP_CONNECT_TIMEOUT_MS   connect timeout per attempt (default 10000)
 *   CX_HTTP_TIMEOUT_MS           whole-attempt timeout (default 60000)
 *
 * Never logs header values (Authorization, X-Amz-Security-Token and
 * x-amz-sso_bearer_token are secrets) nor bodies.  Implemented in
 * lib/aws/http.c.
 */
#ifndef CX_HTTP_H
#define CX_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CX_HTTP_MAX_BODY		(8u * 1024 * 1024)	/* response */
#define CX_HTTP_CONNECT_TIMEOUT_MS	10000
#define CX_HTTP_TIMEOUT_MS		60000

struct cx_http;

struct cx_http_opts {
	const char *ca_bundle;		/* PEM file for CURLOPT_CAINFO, or
					 * NULL: the system store (copied) */
	long connect_timeout_ms;	/* 0: default / env override */
	long timeout_ms;		/* 0: default / env override */
	size_t max_body;		/* 0: CX_HTTP_MAX_BODY */
	int max_attempts;		/* for lib/aws/aws.c: the profile's
					 * max_attempts, 0: unset (AWS_MAX_ATTEMPTS
					 * still wins) */
	const char *user_agent;		/* NULL: "cloudx-proxy/<version>" */
};

/*
 * Creates a client (curl_global_init happens once per process, here).
 * o may be NULL (all defaults).  *out owned by the caller: cx_http_free().
 * Returns 0, CX_ERR_NOMEM or CX_ERR_INTERNAL (curl would not start).
 */
int cx_http_new(const struct cx_http_opts *o, struct cx_http **out);
void cx_http_free(struct cx_http *h);

/* The max_attempts given at creation (0: unset). */
int cx_http_max_attempts(const struct cx_http *h);

struct cx_http_request {
	const char *method;		/* "GET", "POST" */
	const char *url;		/* full URL */
	const char *const *headers;	/* "Name: value" lines, may be secret */
	size_t nheaders;
	const void *body;		/* POST body, or NULL */
	size_t body_len;
};

struct cx_http_response {
	long status;			/* HTTP status */
	struct cx_buf body;		/* at most max_body bytes */
	char *request_id;		/* x-amzn-requestid / x-amz-request-id,
					 * or NULL */
	char *query_error;		/* x-amzn-query-error, or NULL */
	char *content_type;		/* or NULL */
	char curl_error[256];		/* transport failure text ("" if none) */
	char problem[600];		/* what was wrong, one line for the
					 * user ("" when a plain network
					 * error; curl_error at -v then) */
	int no_retry;			/* the failure would recur: do not
					 * retry (a rejected certificate) */
	uint64_t total_ms;		/* the transfer's duration */
};

/*
 * Performs one request.  rs must be zeroed (or cleaned up) before; it is
 * filled even on failure as far as known.  Returns 0 when an HTTP answer
 * arrived (whatever its status), CX_ERR_TIMEOUT (connect or total timeout),
 * CX_ERR_NETWORK (DNS, connect, TLS, connection lost; a rejected server
 * certificate with no_retry set and problem naming it and AWS_CA_BUNDLE),
 * CX_ERR_PROTOCOL (headers over HTTP_MAX_HEADER_LINES lines, or a header
 * line over libcurl's 100 KB: problem says which), CX_ERR_TOOBIG (body
 * over max_body), CX_ERR_CONFIG (unusable CA bundle), CX_ERR_INPUT (bad
 * URL), CX_ERR_NOMEM.  Transport errors are logged at debug level 1 only.
 */
int cx_http_do(struct cx_http *h, const struct cx_http_request *rq,
    struct cx_http_response *rs);
void cx_http_response_clean_up(struct cx_http_response *rs);

#define CX_HTTP_BATCH_MAX	16

/* One request of a batch, and where its answer goes. */
struct cx_http_batch_item {
	const struct cx_http_request *rq;
	struct cx_http_response *rs;	/* zeroed (or cleaned up) before */
	int r;				/* what cx_http_do() would return */
};

/*
 * Performs the n requests (at most CX_HTTP_BATCH_MAX) at once, with the
 * client's timeouts, proxies and CA settings, through its connection
 * cache: a request to an endpoint with a cached connection reuses it;
 * each other one opens its own (on HTTP/2 they share one), and every
 * connection stays cached for the requests after.  Each item's r and rs
 * are as cx_http_do() leaves them (a caught signal: CX_ERR_CANCELLED).
 * Returns 0 when every request ran (whatever each result), CX_ERR_INPUT
 * (n too large), CX_ERR_NOMEM or CX_ERR_INTERNAL (libcurl's multi
 * interface failed; the items are then set as far as they got).
 */
int cx_http_batch(struct cx_http *h, struct cx_http_batch_item *items,
    size_t n);

/*
 * Splits an http, https, ws or wss url into the Host header value ("host"
 * or "host:port" when the port is given and is not the scheme's default;
 * IPv6 in brackets), the path as on the wire ("/" when empty) and the
 * query as on the wire (without '?'; NULL when there is none).  Any out
 * may be NULL; the others are malloc'd.  Returns 0, CX_ERR_INPUT or
 * CX_ERR_NOMEM (then every out is NULL).
 */
int cx_http_url_parts(const char *url, char **host, char **path,
    char **query);
/* cx_http_url_parts() without the query. */
int cx_http_url_split(const char *url, char **host, char **path);

#endif
