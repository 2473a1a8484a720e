/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256), header and query-string
 * (presigned URL) forms, with OpenSSL SHA-256 and HMAC.  Implemented in
 * lib/aws/sigv4.c; tested against the official suite (tests/unit/test_sigv4.c).
 *
 * The signer only computes: it never sends anything and never logs.  The
 * caller describes the request exactly as it will go on the wire and then
 * adds what the result says to the real request.
 *
 * Signing an arbitrary request (e.g. the tunnel's websocket upgrade GET):
 *
 *	struct cx_sigv4_header h[] = {
 *		{ "Host", "ssmmessages.eu-west-1.amazonaws.com" },
 *	};
 *	struct cx_sigv4_request rq = {
 *		.method = "GET", .path = "/v1/data-channel/SESSION",
 *		.query = "role=publish_subscribe",
 *		.headers = h, .nheaders = 1,
 *		.body = NULL, .body_len = 0,	(hash of "" is used)
 *		.region = "eu-west-1", .service = "ssmmessages",
 *		.creds = &ctx->creds, .now = time(NULL),
 *	};
 *	struct cx_sigv4_result rs;
 *	if ((r = cx_sigv4_sign(&rq, &rs)) != 0) ...
 *	then send the request with, in addition to h[]:
 *	  "X-Amz-Date: " rs.amz_date
 *	  "X-Amz-Security-Token: " creds->session_token  (if non-NULL)
 *	  "Authorization: " rs.authorization
 *	cx_sigv4_result_clean_up(&rs);
 *
 * Headers whose names are in the unsigned set (connection, expect,
 * keep-alive, proxy-authenticate, proxy-authorization, te, trailer,
 * transfer-encoding, upgrade, user-agent, x-amzn-trace-id, and
 * authorization itself) may be listed: they are left out of the signature,
 * so a websocket upgrade may list "Upgrade"/"Connection" or not at all.
 * Host must be listed (as sent: "host" or "host:port" for a non-default
 * port).  x-amz-date and (when there is a token and CX_SIGV4_TOKEN_UNSIGNED
 * is not set) x-amz-security-token are added by the signer itself.
 */
#ifndef CX_SIGV4_H
#define CX_SIGV4_H

#include <stddef.h>
#include <time.h>

struct cx_creds;

struct cx_sigv4_header {
	const char *name;
	const char *value;
};

/* Flags of struct cx_sigv4_request. */
/* S3 rule: the path is signed as given (not URI-encoded a second time). */
#define CX_SIGV4_SINGLE_ENCODE		0x01
/* S3 rule: keep "." / ".." segments and repeated slashes in the path. */
#define CX_SIGV4_NO_NORMALIZE		0x02
/* Add and sign "x-amz-content-sha256: <payload hash>" (S3 style); the
 * header to send is then in result.content_sha256. */
#define CX_SIGV4_CONTENT_SHA256		0x04
/* Legacy: the session token is sent but not signed (not in the canonical
 * request nor, for presigning, in the query). */
#define CX_SIGV4_TOKEN_UNSIGNED		0x08

struct cx_sigv4_request {
	const char *method;		/* "GET", "POST" */
	const char *path;		/* as on the wire, e.g. "/" ; never
					 * NULL */
	const char *query;		/* as on the wire without '?', or
					 * NULL/"" */
	const struct cx_sigv4_header *headers;	/* every header sent */
	size_t nheaders;
	const void *body;		/* payload (NULL: empty) */
	size_t body_len;
	const char *payload_hash;	/* lowercase hex SHA-256 of the
					 * payload, or NULL: computed from
					 * body */
	const char *region;		/* "eu-west-1" */
	const char *service;		/* signing name: "ec2", "ssmmessages" */
	const struct cx_creds *creds;	/* access_key_id, secret_access_key,
					 * session_token (may be NULL) */
	time_t now;			/* signing time (UTC seconds) */
	int expires_s;			/* presign only: X-Amz-Expires,
					 * 1..604800 */
	unsigned flags;			/* CX_SIGV4_* */
};

/*
 * What to add to the request.  All strings owned by the struct; release
 * with cx_sigv4_result_clean_up() (which wipes them: the canonical request
 * and the presigned query can hold the session token).
 */
struct cx_sigv4_result {
	char amz_date[17];		/* "20150830T123600Z": X-Amz-Date */
	char signature[65];		/* lowercase hex */
	char content_sha256[65];	/* payload hash (always set) */
	char *signed_headers;		/* "host;x-amz-date" */
	char *authorization;		/* header form: value of the
					 * Authorization header; NULL for
					 * presign */
	char *presigned_query;		/* presign: the full query string to
					 * send instead of rq.query (caller's
					 * parameters + X-Amz-* + X-Amz-Signature);
					 * NULL for header form */
	char *canonical_request;	/* for tests and -vv debugging */
	char *string_to_sign;
};

/*
 * Header form.  Returns 0 (rs filled), CX_ERR_INPUT (missing Host,
 * missing credentials or region/service, malformed query escapes, bad
 * expiry), CX_ERR_TOOBIG (request description over 1 MiB of headers/query)
 * or CX_ERR_NOMEM.  On error rs is zeroed.
 */
int cx_sigv4_sign(const struct cx_sigv4_request *rq,
    struct cx_sigv4_result *rs);

/* Query-string form (presigned URL), valid rq->expires_s seconds.  Returns
 * as cx_sigv4_sign(). */
int cx_sigv4_presign(const struct cx_sigv4_request *rq,
    struct cx_sigv4_result *rs);

void cx_sigv4_result_clean_up(struct cx_sigv4_result *rs);

/*
 * Signs (header form) a request to url (http, https, ws or wss; path and
 * query taken as on the wire) with an empty payload, for requests not
 * made through lib/aws/aws.c -- the tunnel's websocket upgrade:
 *
 *	char *host;
 *	struct cx_sigv4_result rs;
 *	r = cx_sigv4_sign_url("GET", stream_url, NULL, 0, region,
 *	    "ssmmessages", &ctx->creds, time(NULL), &host, &rs);
 *	send "Host: " host, "X-Amz-Date: " rs.amz_date,
 *	     "X-Amz-Security-Token: " creds->session_token (if non-empty),
 *	     "Authorization: " rs.authorization, plus extra[] as given;
 *	free(host); cx_sigv4_result_clean_up(&rs);
 *
 * extra (at most 32, may be NULL) are other headers that will be sent; a
 * "Host" among them is ignored (the URL's is signed) and the unsigned set
 * (Upgrade, Connection, User-Agent, ...) is skipped.  *host_out is the
 * malloc'd Host value the request must carry.  Returns as
 * cx_sigv4_sign(); CX_ERR_INPUT also for a bad URL.
 * Implemented in lib/aws/sigv4_url.c (uses libcurl's URL parser).
 */
int cx_sigv4_sign_url(const char *method, const char *url,
    const struct cx_sigv4_header *extra, size_t nextra, const char *region,
    const char *service, const struct cx_creds *creds, time_t now,
    char **host_out, struct cx_sigv4_result *rs);

/* 1 if url's query already holds presigned SigV4 parameters (X-Amz-*):
 * such a URL is sent as it is, unsigned. */
int cx_sigv4_url_is_presigned(const char *url);

/* Lowercase hex SHA-256 of p (65 bytes with the NUL). */
void cx_sha256_hex(const void *p, size_t n, char out[65]);

/*
 * URI-encodes s (len bytes) per SigV4: every byte except the unreserved
 * A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase); keep_slash keeps '/'.
 * Appends to out; returns 0 or a CX_ERR_*.
 */
struct cx_buf;
int cx_sigv4_uri_encode(struct cx_buf *out, const char *s, size_t len,
    int keep_slash);

#endif
