/*
 * AWS API calls: query/EC2 (XML) and JSON 1.1 protocols, SigV4-signed, with
 * the "standard" retry mode.  See aws.h.
 *
 * cx_aws_target_init() lives in lib/aws/awstarget.c: it needs the endpoint
 * resolution of lib/aws/awsctx.c, which the calls themselves do not.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/text.h"
#include "core/stage.h"
#include "aws.h"
#include "awscfg.h"
#include "creds.h"
#include "http.h"
#include "sigv4.h"
#include "xml.h"

#define STR_(x)	#x
#define XSTR(x)	STR_(x)	/* a macro's value as a string */
#define AWS_DEFAULT_ATTEMPTS	3
#define AWS_MAX_ATTEMPTS_LIMIT	20
#define AWS_MAX_BACKOFF_MS	20000
#define AWS_QUOTA_MAX		500
#define AWS_QUOTA_COST		5
#define AWS_QUOTA_COST_TIMEOUT	10
#define AWS_MAX_MESSAGE		400	/* bytes of an AWS message we keep */
#define AWS_QUERY_MAX		(1024u * 1024)

/* The retry quota of the standard mode, per process. */
static int retry_quota = AWS_QUOTA_MAX;

static const char *const throttling_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded",
	"BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException",
};

static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
};

static const char *const denied_codes[] = {
	"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
	"AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId",
	"IncompleteSignature", "MissingAuthenticationToken",
	"MissingAuthenticationTokenException", "UnrecognizedClientException",
	"InvalidAccessKeyId", "AuthException", "UnauthorizedAccess",
	"OptInRequired", "InvalidSignatureException", "Blocked",
};

static const char *const login_codes[] = {
	"ExpiredToken", "ExpiredTokenException", "UnauthorizedException",
	"InvalidGrantException", "TokenRefreshRequired",
};

static int
in_list(const char *code, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return 1;
	return 0;
}

#define IN(code, list) in_list(code, list, sizeof(list) / sizeof(list[0]))

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int
is_throttle(const char *code, long status)
{
	return (code != NULL && IN(code, throttling_codes)) || status == 429;
}

static int
is_retryable(const char *code, long status)
{
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return 1;
	if (is_throttle(code, status))
		return 1;
	return code != NULL && IN(code, transient_codes);
}

int
cx_aws_error_class(const char *code, long http_status)
{
	if (is_throttle(code, http_status))
		return CX_ERR_THROTTLED;
	if (code != NULL) {
		if (IN(code, login_codes))
			return CX_ERR_LOGIN;
		if (IN(code, denied_codes))
			return CX_ERR_DENIED;
		if (ends_with(code, "NotFound") ||
		    ends_with(code, "NotFoundException") ||
		    strcmp(code, "NoSuchEntity") == 0 ||
		    strcmp(code, "InvalidInstanceId") == 0)
			return CX_ERR_NOTFOUND;
		if (IN(code, transient_codes))
			return CX_ERR_AWS_SERVER;
	}
	if (http_status >= 500)
		return CX_ERR_AWS_SERVER;
	if (http_status == 401 || http_status == 403)
		return CX_ERR_DENIED;
	if (http_status == 404)
		return CX_ERR_NOTFOUND;
	return CX_ERR_AWS;
}

void
cx_aws_error_clean_up(struct cx_aws_error *e)
{
	if (e == NULL)
		return;
	free(e->code);
	free(e->message);
	free(e->request_id);
	memset(e, 0, sizeof(*e));
}

/* --- query bodies --- */

void
cx_query_init(struct cx_query *q, const char *action, const char *version)
{
	cx_buf_init(&q->body, AWS_QUERY_MAX);
	cx_buf_set_secret(&q->body);	/* AssumeRole TokenCode, ... */
	/* a failure leaves the body empty: cx_aws_query refuses it */
	if (cx_query_add(q, "Action", action) != 0 ||
	    cx_query_add(q, "Version", version) != 0)
		cx_buf_reset(&q->body);
}

/*
 * application/x-www-form-urlencoded as botocore sends it (Python's
 * urlencode): unreserved bytes as they are, space as '+', the rest %XX.
 * moto rebuilds the body that way before checking the signature.
 */
static int
form_encode(struct cx_buf *b, const char *s)
{
	const char *p;
	int r = 0;

	for (p = s; *p != '\0' && r == 0; p++) {
		if (*p == ' ') {
			r = cx_buf_putc(b, '+');
		} else {
			r = cx_sigv4_uri_encode(b, p, 1, 0);
		}
	}
	return r;
}

int
cx_query_add(struct cx_query *q, const char *name, const char *value)
{
	size_t mark = q->body.len;
	int r;

	if (name == NULL || value == NULL)
		return CX_ERR_INPUT;
	if ((q->body.len > 0 && (r = cx_buf_putc(&q->body, '&')) != 0) ||
	    (r = form_encode(&q->body, name)) != 0 ||
	    (r = cx_buf_putc(&q->body, '=')) != 0 ||
	    (r = form_encode(&q->body, value)) != 0) {
		/* all or nothing */
		cx_wipe(q->body.data + mark, q->body.len - mark);
		q->body.len = mark;
		if (q->body.data)
			q->body.data[mark] = '\0';
		return r;
	}
	return 0;
}

void
cx_query_clean_up(struct cx_query *q)
{
	cx_buf_clean_up(&q->body);
}

void
cx_aws_target_clean_up(struct cx_aws_target *t)
{
	if (t == NULL)
		return;
	free(t->endpoint);
	memset(t, 0, sizeof(*t));
}

/* --- error bodies (shown: cleaned by core/text.h's sanitiser) --- */

/*
 * AWS (and moto) put the expected canonical request and string to sign in
 * the SignatureDoesNotMatch message; the canonical request holds the
 * session token.  Keep only the sentence before it.
 */
static char *
dup_message(const char *m)
{
	static const char *const cuts[] = {
		"The Canonical String", "\n\nThe String-to-Sign",
		"The String-to-Sign", "\n",
	};
	const char *end = NULL, *p;
	size_t i, n;
	char *d, *c;

	if (m == NULL)
		return NULL;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		if ((p = strstr(m, cuts[i])) != NULL && (end == NULL || p < end))
			end = p;
	n = end ? (size_t)(end - m) : strlen(m);
	while (n > 0 && (m[n - 1] == ' ' || m[n - 1] == '\n'))
		n--;
	if ((d = strndup(m, n < AWS_MAX_MESSAGE ? n : AWS_MAX_MESSAGE)) ==
	    NULL)
		return NULL;
	c = cx_text_safe_dup(d, AWS_MAX_MESSAGE);
	free(d);
	return c;
}

static void
set_str(char **dst, const char *src, size_t max)
{
	if (*dst != NULL || src == NULL || *src == '\0')
		return;
	*dst = cx_text_safe_dup(src, max);
}

/* Depth-first: the first <Error> element with a <Code> child. */
static const struct cx_xml_node *
find_error(const struct cx_xml_node *n)
{
	const struct cx_xml_node *c, *f;

	if (strcmp(n->name, "Error") == 0 && cx_xml_child(n, "Code") != NULL)
		return n;
	for (c = n->child; c != NULL; c = c->next)
		if ((f = find_error(c)) != NULL)
			return f;
	return NULL;
}

/*
 * Query protocol: <ErrorResponse><Error>..</Error><RequestId/>; EC2:
 * <Response><Errors><Error>..</Error></Errors><RequestID/>; moto also
 * answers <ErrorResponse><Errors><Error>; S3 style: <Error> at the root.
 */
static void
parse_xml_error(const struct cx_buf *b, struct cx_aws_error *e)
{
	const struct cx_xml_node *root, *er;
	struct cx_xml *x = NULL;

	if (cx_xml_parse((const char *)b->data, b->len, &x) != 0)
		return;
	root = x->root;
	if ((er = find_error(root)) != NULL) {
		set_str(&e->code, cx_xml_text(er, "Code"), 128);
		if (e->message == NULL)
			e->message = dup_message(cx_xml_text(er, "Message"));
		set_str(&e->request_id, cx_xml_text(er, "RequestId"), 128);
	}
	set_str(&e->request_id, cx_xml_text(root, "RequestId"), 128);
	set_str(&e->request_id, cx_xml_text(root, "RequestID"), 128);
	set_str(&e->request_id, cx_xml_text(root,
	    "ResponseMetadata/RequestId"), 128);
	cx_xml_free(x);
}

/* "aws.protocoltests#FooError:http://..." -> "FooError" */
static void
set_json_code(char **dst, const char *t)
{
	const char *p;
	size_t n;

	if (*dst != NULL || t == NULL)
		return;
	if ((p = strrchr(t, '#')) != NULL)
		t = p + 1;
	n = (p = strchr(t, ':')) != NULL ? (size_t)(p - t) : strlen(t);
	if (n == 0 || n > 128)
		return;
	if ((*dst = strndup(t, n)) != NULL) {
		char *c = cx_text_safe_dup(*dst, 128);

		free(*dst);
		*dst = c;
	}
}

static void
parse_json_error(const struct cx_buf *b, struct cx_aws_error *e)
{
	cJSON *j;
	const char *m;

	if ((j = cJSON_ParseWithLength((const char *)b->data, b->len)) ==
	    NULL)
		return;
	if (cJSON_IsObject(j)) {
		set_json_code(&e->code, cx_json_str(j, "__type"));
		set_json_code(&e->code, cx_json_str(j, "code"));
		set_json_code(&e->code, cx_json_str(j, "Code"));
		if ((m = cx_json_str(j, "message")) == NULL &&
		    (m = cx_json_str(j, "Message")) == NULL)
			m = cx_json_str(j, "errorMessage");
		if (e->message == NULL)
			e->message = dup_message(m);
	}
	cJSON_Delete(j);
}

/*
 * Fills e from a non-2xx answer, whatever its protocol: the
 * x-amzn-query-error header wins, then an XML or JSON body (moto answers
 * JSON-protocol auth failures in XML), then the HTTP status as the code.
 */
static void
parse_error(const struct cx_http_response *rs, struct cx_aws_error *e)
{
	const char *p = cx_buf_str(&rs->body);
	char *semi;

	cx_aws_error_clean_up(e);
	e->http_status = rs->status;
	if (rs->query_error != NULL && *rs->query_error != '\0') {
		if ((e->code = cx_text_safe_dup(rs->query_error, 128)) != NULL &&
		    (semi = strchr(e->code, ';')) != NULL)
			*semi = '\0';
	}
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p == '<')
		parse_xml_error(&rs->body, e);
	else if (*p == '{')
		parse_json_error(&rs->body, e);
	set_str(&e->request_id, rs->request_id, 128);
	if (e->code == NULL) {
		char num[24];

		snprintf(num, sizeof(num), "%ld", rs->status);
		e->code = strdup(num);
	}
}

/* --- the call loop --- */

struct call {
	const char *method;
	const char *path;		/* below the endpoint's path */
	const char *query;		/* or NULL */
	const char *content_type;	/* or NULL */
	const char *amz_target;		/* or NULL */
	const char *const *xheaders;	/* "Name: value" */
	size_t nxheaders;
	const void *body;
	size_t body_len;
	const char *what;		/* for debug lines: action or target */
};

static int
max_attempts(const struct cx_http *h)
{
	const char *v = getenv("AWS_MAX_ATTEMPTS");
	long long n;

	if (v != NULL && *v != '\0') {
		if (cx_strtonum(v, 1, AWS_MAX_ATTEMPTS_LIMIT, &n) == 0)
			return (int)n;
		cx_warn("ignoring bad AWS_MAX_ATTEMPTS '%s'", v);
	}
	if (cx_http_max_attempts(h) > 0)
		return cx_http_max_attempts(h) > AWS_MAX_ATTEMPTS_LIMIT ?
		    AWS_MAX_ATTEMPTS_LIMIT : cx_http_max_attempts(h);
	return AWS_DEFAULT_ATTEMPTS;
}

/* Sleeps rand(0,1) * min(2^(attempt-1), 20) s (capped by
 * CX_AWS_MAX_BACKOFF_MS for tests).  0, or CX_ERR_CANCELLED when a caught
 * signal (os.h) ends the sleep. */
static int
backoff(int attempt)
{
	const char *v = getenv("CX_AWS_MAX_BACKOFF_MS");
	uint32_t rnd = 0;
	uint64_t base_ms, ms, cap = AWS_MAX_BACKOFF_MS;
	long long n;

	if (v != NULL && *v != '\0' &&
	    cx_strtonum(v, 0, AWS_MAX_BACKOFF_MS, &n) == 0)
		cap = (uint64_t)n;
	base_ms = attempt >= 6 ? 20000 : (1000u << (attempt - 1));
	if (base_ms > 20000)
		base_ms = 20000;
	if (cx_random_bytes(&rnd, sizeof(rnd)) != 0)
		rnd = UINT32_MAX / 2;
	ms = base_ms * rnd / UINT32_MAX;
	if (ms > cap)
		ms = cap;
	cx_debug(2, "aws: retrying in %llu ms", (unsigned long long)ms);
	return cx_sleep_ms((long)ms);
}

static void
free_lines(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cx_freezero_str(lines[i]);
}

static int
line_printf(char **dst, const char *name, const char *value)
{
	struct cx_buf b;
	int r;

	cx_buf_init(&b, 64 * 1024);
	cx_buf_set_secret(&b);
	if ((r = cx_buf_printf(&b, "%s: %s", name, value)) == 0 &&
	    (*dst = cx_buf_steal_str(&b)) == NULL)
		r = CX_ERR_NOMEM;
	cx_buf_clean_up(&b);
	return r;
}

#define MAX_XHEADERS	16

#define MAX_LINES	(MAX_XHEADERS + 8)

/*
 * The header lines of one attempt, signed now (fresh X-Amz-Date): lines
 * gets *nlp malloc'd strings (secret: free_lines) in every case.
 */
static int
sign_lines(struct cx_aws_target *t, const struct call *c,
    const char *hostport, const char *sign_path, char **lines, size_t *nlp)
{
	struct cx_sigv4_header sh[MAX_XHEADERS + 4];
	char *xcopy[MAX_XHEADERS];
	struct cx_sigv4_request sq;
	struct cx_sigv4_result sr;
	size_t nl = 0, ns = 0, nx = 0, i;
	int r, signed_ = 0;

	memset(&sr, 0, sizeof(sr));
	*nlp = 0;
	if (c->nxheaders > MAX_XHEADERS)
		return CX_ERR_INPUT;
	if ((r = line_printf(&lines[nl], "Host", hostport)) != 0)
		goto out;
	nl++;
	sh[ns++] = (struct cx_sigv4_header){ "Host", hostport };
	if (c->content_type) {
		if ((r = line_printf(&lines[nl], "Content-Type",
		    c->content_type)) != 0)
			goto out;
		nl++;
		sh[ns++] = (struct cx_sigv4_header){ "Content-Type",
		    c->content_type };
	}
	if (c->amz_target) {
		if ((r = line_printf(&lines[nl], "X-Amz-Target",
		    c->amz_target)) != 0)
			goto out;
		nl++;
		sh[ns++] = (struct cx_sigv4_header){ "X-Amz-Target",
		    c->amz_target };
	}
	for (i = 0; i < c->nxheaders; i++) {
		char *colon, *v;

		/* split a copy of "Name: value" for the signer */
		if ((xcopy[nx] = strdup(c->xheaders[i])) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		nx++;
		if ((colon = strchr(xcopy[nx - 1], ':')) == NULL) {
			r = CX_ERR_INPUT;
			goto out;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		sh[ns++] = (struct cx_sigv4_header){ xcopy[nx - 1], v };
		if ((lines[nl] = strdup(c->xheaders[i])) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		nl++;
	}
	if (t->creds != NULL) {
		memset(&sq, 0, sizeof(sq));
		sq.method = c->method;
		sq.path = sign_path;
		sq.query = c->query;
		sq.headers = sh;
		sq.nheaders = ns;
		sq.body = c->body;
		sq.body_len = c->body_len;
		sq.region = t->region;
		sq.service = t->signing_name;
		sq.creds = t->creds;
		sq.now = time(NULL);
		if ((r = cx_sigv4_sign(&sq, &sr)) != 0)
			goto out;
		signed_ = 1;
		if ((r = line_printf(&lines[nl], "X-Amz-Date",
		    sr.amz_date)) != 0)
			goto out;
		nl++;
		if (t->creds->session_token && *t->creds->session_token) {
			if ((r = line_printf(&lines[nl],
			    "X-Amz-Security-Token",
			    t->creds->session_token)) != 0)
				goto out;
			nl++;
		}
		if ((r = line_printf(&lines[nl], "Authorization",
		    sr.authorization)) != 0)
			goto out;
		nl++;
	}
	r = 0;
 out:
	if (signed_)
		cx_sigv4_result_clean_up(&sr);
	free_lines(xcopy, nx);
	*nlp = nl;
	return r;
}

/* The request of call c with its signed lines. */
static void
http_request(const struct call *c, const char *url, char **lines, size_t nl,
    struct cx_http_request *hq)
{
	memset(hq, 0, sizeof(*hq));
	hq->method = c->method;
	hq->url = url;
	hq->headers = (const char *const *)lines;
	hq->nheaders = nl;
	hq->body = c->body;
	hq->body_len = c->body_len;
}

/*
 * One attempt: signs (fresh X-Amz-Date) and sends.  Returns what
 * cx_http_do() returns.
 */
static int
attempt_once(struct cx_aws_target *t, struct cx_http *h, const struct call *c,
    const char *hostport, const char *url, const char *sign_path,
    struct cx_http_response *rs)
{
	struct cx_http_request hq;
	char *lines[MAX_LINES];
	size_t nl = 0;
	int r;

	memset(rs, 0, sizeof(*rs));
	if ((r = sign_lines(t, c, hostport, sign_path, lines, &nl)) == 0) {
		http_request(c, url, lines, nl, &hq);
		r = cx_http_do(h, &hq, rs);
	}
	free_lines(lines, nl);
	return r;
}

/*
 * The context's client, made on first use with the context's settings
 * (CA bundle: AWS_CA_BUNDLE > profile ca_bundle; max_attempts), or a
 * private one (AWS_CA_BUNDLE only) for a target without a context.
 */
static int
get_client(struct cx_aws_target *t, struct cx_http **hp, int *priv)
{
	struct cx_http_opts o;
	char *ca = NULL;
	int r, attempts = 0;

	*priv = 0;
	if (t->ctx != NULL && t->ctx->http != NULL) {
		*hp = t->ctx->http;
		return 0;
	}
	memset(&o, 0, sizeof(o));
	if (t->ctx != NULL && t->ctx->cfg != NULL) {
		if ((r = cx_awscfg_ca_bundle(t->ctx->cfg, &ca)) != 0 ||
		    (r = cx_awscfg_max_attempts(t->ctx->cfg, &attempts)) != 0)
			goto out;
		o.ca_bundle = ca;
		o.max_attempts = attempts;
	} else {
		o.ca_bundle = getenv("AWS_CA_BUNDLE");
		if (o.ca_bundle != NULL && *o.ca_bundle == '\0') {
			cx_error("AWS_CA_BUNDLE is empty");
			r = CX_ERR_CONFIG;
			goto out;
		}
	}
	if ((r = cx_http_new(&o, hp)) != 0)
		goto out;
	if (t->ctx != NULL)
		t->ctx->http = *hp;	/* owned by the context from now on */
	else
		*priv = 1;
 out:
	free(ca);
	return r;
}

/*
 * Sends c with retries.  On 0, rs holds the 2xx answer (caller cleans up).
 * On an AWS error, e is filled and the error class returned.
 */
/* Where call c goes: Host, the URL, the path to sign. */
struct call_url {
	char *hostport;
	char *epath;
	struct cx_buf url;
	struct cx_buf spath;
};

static void
call_url_clean_up(struct call_url *u)
{
	free(u->hostport);
	free(u->epath);
	cx_buf_clean_up(&u->url);
	cx_buf_clean_up(&u->spath);
	memset(u, 0, sizeof(*u));
}

/* Fills u for c on t (clean it up in every case). */
static int
call_url_init(struct cx_aws_target *t, const struct call *c,
    struct call_url *u)
{
	struct cx_buf url, spath;
	char *hostport = NULL, *epath = NULL;
	int r;

	memset(u, 0, sizeof(*u));
	cx_buf_init(&url, 64 * 1024);
	cx_buf_init(&spath, 64 * 1024);
	if (t == NULL || t->endpoint == NULL ||
	    (t->creds != NULL && (t->region == NULL ||
	    t->signing_name == NULL))) {
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_http_url_split(t->endpoint, &hostport, &epath)) != 0) {
		if (r == CX_ERR_INPUT)
			cx_error("bad endpoint URL '%s'", t->endpoint);
		goto out;
	}
	/* endpoint path (without its final '/') + the call's path */
	if ((r = cx_buf_puts(&spath, strcmp(epath, "/") ? epath : "")) != 0)
		goto out;
	if (spath.len > 0 && spath.data[spath.len - 1] == '/')
		spath.data[--spath.len] = '\0';
	if ((r = cx_buf_puts(&spath, c->path)) != 0)
		goto out;
	{
		/* scheme://host[:port] + path + ?query */
		const char *sep = strstr(t->endpoint, "://");
		size_t schemelen = sep ? (size_t)(sep - t->endpoint) : 0;

		if (sep == NULL) {
			r = CX_ERR_INPUT;
			goto out;
		}
		if ((r = cx_buf_append(&url, t->endpoint, schemelen)) != 0 ||
		    (r = cx_buf_printf(&url, "://%s%s%s%s", hostport,
		    cx_buf_str(&spath), c->query ? "?" : "",
		    c->query ? c->query : "")) != 0)
			goto out;
	}
	r = 0;
 out:
	u->hostport = hostport;
	u->epath = epath;
	u->url = url;
	u->spath = spath;
	return r;
}

/* The debug line and quota of a 2xx answer. */
static void
call_ok(const struct call *c, const char *hostport,
    const struct cx_http_response *rs, int attempt, int maxn, uint64_t t0,
    int was_retry)
{
	cx_debug(2, "aws: %s %s %s -> %ld request-id %s (attempt %d/%d, "
	    "%llu ms)", c->method, hostport, c->what, rs->status,
	    rs->request_id ? rs->request_id : "-", attempt, maxn,
	    (unsigned long long)(cx_now_ms() - t0));
	/* success refills the quota */
	retry_quota += was_retry ? was_retry : 1;
	if (retry_quota > AWS_QUOTA_MAX)
		retry_quota = AWS_QUOTA_MAX;
}

/*
 * A failed attempt (r from cx_http_do, rs its answer): e filled, *retry
 * and *cost set; returns the CX_ERR_* of it.
 */
static int
call_failed(const struct call *c, const char *hostport, int r,
    const struct cx_http_response *rs, struct cx_aws_error *e, int attempt,
    int maxn, uint64_t t0, int *retry, int *cost)
{
	if (r == 0) {
		parse_error(rs, e);
		cx_debug(2, "aws: %s %s %s -> %ld %s request-id %s (attempt "
		    "%d/%d, %llu ms)", c->method, hostport, c->what,
		    rs->status, e->code, e->request_id ? e->request_id : "-",
		    attempt, maxn, (unsigned long long)(cx_now_ms() - t0));
		*retry = is_retryable(e->code, rs->status);
		*cost = AWS_QUOTA_COST;
		return cx_aws_error_class(e->code, rs->status);
	}
	cx_debug(2, "aws: %s %s %s -> %s: %s (attempt %d/%d, %llu ms)",
	    c->method, hostport, c->what, cx_strerror(r), rs->curl_error,
	    attempt, maxn, (unsigned long long)(cx_now_ms() - t0));
	*retry = (r == CX_ERR_NETWORK || r == CX_ERR_TIMEOUT) && !rs->no_retry;
	*cost = r == CX_ERR_TIMEOUT ? AWS_QUOTA_COST_TIMEOUT : AWS_QUOTA_COST;
	return r;
}

/*
 * Sends c with retries, from attempt first (> 1: a batch made the ones
 * before; the backoff comes first).  On 0, rs holds the 2xx answer
 * (caller cleans up).  On an AWS error, e is filled and the error class
 * returned.
 */
static int
aws_call_from(struct cx_aws_target *t, const struct call *c,
    struct cx_http_response *rs, struct cx_aws_error *e, int first)
{
	struct cx_http *h = NULL;
	struct call_url u;
	uint64_t t0;
	int r, priv = 0, attempt, maxn, retry, cost, was_retry = 0;

	memset(rs, 0, sizeof(*rs));
	cx_aws_error_clean_up(e);
	if ((r = call_url_init(t, c, &u)) != 0)
		goto out;
	if ((r = get_client(t, &h, &priv)) != 0)
		goto out;
	maxn = max_attempts(h);
	if (first > 1) {
		if (first > maxn || retry_quota < AWS_QUOTA_COST) {
			r = CX_ERR_INTERNAL;	/* the caller keeps its own */
			goto out;
		}
		retry_quota -= AWS_QUOTA_COST;
		was_retry = AWS_QUOTA_COST;
		if ((r = backoff(first - 1)) != 0)
			goto out;
	}

	for (attempt = first;; attempt++) {
		t0 = cx_now_ms();
		cx_http_response_clean_up(rs);
		cx_aws_error_clean_up(e);
		r = attempt_once(t, h, c, u.hostport, cx_buf_str(&u.url),
		    cx_buf_str(&u.spath), rs);
		if (r == 0 && rs->status >= 200 && rs->status < 300) {
			call_ok(c, u.hostport, rs, attempt, maxn, t0,
			    was_retry);
			break;
		}
		r = call_failed(c, u.hostport, r, rs, e, attempt, maxn, t0,
		    &retry, &cost);
		if (!retry || attempt >= maxn)
			break;
		if (retry_quota < cost) {
			cx_debug(1, "aws: retry quota exhausted");
			break;
		}
		retry_quota -= cost;
		was_retry = cost;
		if ((r = backoff(attempt)) != 0)
			break;
	}
 out:
	/* a transport failure we can name: the line for the user */
	if (r != 0 && e->code == NULL && rs->problem[0] != '\0')
		set_str(&e->message, rs->problem, sizeof(rs->problem));
	if (r != 0 && rs->status >= 200 && rs->status < 300)
		cx_http_response_clean_up(rs);
	if (priv)
		cx_http_free(h);
	call_url_clean_up(&u);
	return r;
}

static int
aws_call(struct cx_aws_target *t, const struct call *c,
    struct cx_http_response *rs, struct cx_aws_error *e)
{
	return aws_call_from(t, c, rs, e, 1);
}

/* "Action=GetCallerIdentity&..." -> "GetCallerIdentity" for debug lines */
static void
action_name(const struct cx_buf *body, char *out, size_t n)
{
	const char *p = cx_buf_str(body), *e;
	size_t len;

	out[0] = '\0';
	if (strncmp(p, "Action=", 7) != 0)
		return;
	p += 7;
	e = strchr(p, '&');
	len = e ? (size_t)(e - p) : strlen(p);
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

/* The XML of a 2xx answer into *out. */
static int
query_answer(const struct cx_http_response *rs, const char *action,
    struct cx_xml **out, struct cx_aws_error *err)
{
	int r;

	if ((r = cx_xml_parse((const char *)rs->body.data, rs->body.len,
	    out)) != 0) {
		cx_debug(1, "aws: %s: unparsable XML answer", action);
		if (r == CX_ERR_INPUT)
			r = CX_ERR_PROTOCOL;
		if (r == CX_ERR_PROTOCOL || r == CX_ERR_TOOBIG) {
			r = CX_ERR_PROTOCOL;
			set_str(&err->message, "bad answer: unreadable XML "
			    "(malformed, or nested over " XSTR(CX_XML_MAX_DEPTH)
			    " levels or with over " XSTR(CX_XML_MAX_NODES)
			    " elements)", 256);
		}
	}
	return r;
}

int
cx_aws_query(struct cx_aws_target *t, const struct cx_query *q,
    struct cx_xml **out, struct cx_aws_error *err)
{
	struct cx_aws_error local;
	struct cx_http_response rs;
	struct call c;
	char action[96];
	int r;

	*out = NULL;
	memset(&local, 0, sizeof(local));
	if (err == NULL)
		err = &local;
	if (q == NULL || q->body.len == 0) {
		cx_aws_error_clean_up(err);
		return CX_ERR_NOMEM;	/* cx_query_init could not build it */
	}
	action_name(&q->body, action, sizeof(action));
	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.path = "/";
	c.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	c.body = q->body.data;
	c.body_len = q->body.len;
	c.what = action;
	if ((r = aws_call(t, &c, &rs, err)) != 0)
		goto out;
	r = query_answer(&rs, action, out, err);
 out:
	cx_http_response_clean_up(&rs);
	cx_aws_error_clean_up(&local);
	return r;
}

static int
parse_json_answer(struct cx_http_response *rs, const char *what, cJSON **out,
    struct cx_aws_error *err)
{
	const char *p = cx_buf_str(&rs->body);
	const char *end = NULL;
	cJSON *j;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p == '\0')
		j = cJSON_CreateObject();
	else
		j = cJSON_ParseWithLengthOpts((const char *)rs->body.data,
		    rs->body.len, &end, 0);
	if (j == NULL || !cJSON_IsObject(j)) {
		cx_debug(1, "aws: %s: unparsable JSON answer", what);
		cx_json_delete_secure(j);
		set_str(&err->message, j == NULL ? "bad answer: malformed "
		    "JSON" : "bad answer: JSON that is not an object", 256);
		return CX_ERR_PROTOCOL;
	}
	*out = j;
	return 0;
}

int
cx_aws_json(struct cx_aws_target *t, const char *amz_target,
    const cJSON *body, cJSON **out, struct cx_aws_error *err)
{
	struct cx_aws_error local;
	struct cx_http_response rs;
	struct call c;
	char *text = NULL;
	int r;

	*out = NULL;
	memset(&local, 0, sizeof(local));
	memset(&rs, 0, sizeof(rs));
	if (err == NULL)
		err = &local;
	if (body != NULL) {
		if ((text = cJSON_PrintUnformatted(body)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	} else if ((text = strdup("{}")) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.path = "/";
	c.content_type = "application/x-amz-json-1.1";
	c.amz_target = amz_target;
	c.body = text;
	c.body_len = strlen(text);
	c.what = amz_target;
	if ((r = aws_call(t, &c, &rs, err)) != 0)
		goto out;
	r = parse_json_answer(&rs, amz_target, out, err);
 out:
	if (text != NULL) {
		/* the request may carry secrets (a key, a token) */
		cx_wipe(text, strlen(text));
		cJSON_free(text);
	}
	cx_http_response_clean_up(&rs);
	cx_aws_error_clean_up(&local);
	return r;
}

int
cx_aws_get_json(struct cx_aws_target *t, const char *path_and_query,
    const char *const *headers, size_t nheaders, cJSON **out,
    struct cx_aws_error *err)
{
	struct cx_aws_error local;
	struct cx_http_response rs;
	struct call c;
	char *path = NULL, *q;
	int r;

	*out = NULL;
	memset(&local, 0, sizeof(local));
	memset(&rs, 0, sizeof(rs));
	if (err == NULL)
		err = &local;
	if (path_and_query == NULL || path_and_query[0] != '/') {
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((path = strdup(path_and_query)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	if ((q = strchr(path, '?')) != NULL) {
		*q = '\0';
		c.query = q + 1;
	}
	c.method = "GET";
	c.path = path;
	c.xheaders = headers;
	c.nxheaders = nheaders;
	c.what = path;
	if ((r = aws_call(t, &c, &rs, err)) != 0)
		goto out;
	r = parse_json_answer(&rs, path, out, err);
 out:
	cx_http_response_clean_up(&rs);
	cx_aws_error_clean_up(&local);
	free(path);
	return r;
}

/* One call of a batch being made. */
struct batch_slot {
	struct call c;
	struct call_url u;
	char *text;			/* JSON body (may hold a key) */
	char action[96];
	char *lines[MAX_LINES];		/* secret */
	size_t nl;
	struct cx_http_request hq;
	struct cx_http_response rs;
};

static void
batch_slot_clean_up(struct batch_slot *b)
{
	if (b->text != NULL) {
		cx_wipe(b->text, strlen(b->text));
		cJSON_free(b->text);
	}
	free_lines(b->lines, b->nl);
	call_url_clean_up(&b->u);
	cx_http_response_clean_up(&b->rs);
	memset(b, 0, sizeof(*b));
}

/* Builds call k's request, signed. */
static int
batch_prepare(struct cx_aws_call *k, struct batch_slot *b)
{
	struct call *c = &b->c;
	int r;

	c->method = "POST";
	c->path = "/";
	if (k->query != NULL) {
		if (k->query->body.len == 0)
			return CX_ERR_NOMEM;	/* cx_query_init failed */
		action_name(&k->query->body, b->action, sizeof(b->action));
		c->content_type = "application/x-www-form-urlencoded; "
		    "charset=utf-8";
		c->body = k->query->body.data;
		c->body_len = k->query->body.len;
		c->what = b->action;
	} else {
		if (k->amz_target == NULL)
			return CX_ERR_INPUT;
		b->text = k->body ? cJSON_PrintUnformatted(k->body) :
		    NULL;
		if (b->text == NULL && (b->text = cJSON_malloc(3)) != NULL)
			memcpy(b->text, "{}", 3);
		if (b->text == NULL)
			return CX_ERR_NOMEM;
		c->content_type = "application/x-amz-json-1.1";
		c->amz_target = k->amz_target;
		c->body = b->text;
		c->body_len = strlen(b->text);
		c->what = k->amz_target;
	}
	if ((r = call_url_init(k->t, c, &b->u)) != 0 ||
	    (r = sign_lines(k->t, c, b->u.hostport, cx_buf_str(&b->u.spath),
	    b->lines, &b->nl)) != 0)
		return r;
	http_request(c, cx_buf_str(&b->u.url), b->lines, b->nl, &b->hq);
	return 0;
}

/* Call k's answer (r from the transfer, b->rs): retried one by one when
 * the standard mode would retry it, parsed on success. */
static void
batch_finish(struct cx_aws_call *k, struct batch_slot *b, struct cx_http *h,
    int r, uint64_t t0)
{
	int maxn = max_attempts(h), retry = 0, cost = 0;

	k->ms = b->rs.total_ms;
	if (r == 0 && b->rs.status >= 200 && b->rs.status < 300)
		call_ok(&b->c, b->u.hostport, &b->rs, 1, maxn, t0, 0);
	else {
		r = call_failed(&b->c, b->u.hostport, r, &b->rs, &k->err, 1,
		    maxn, t0, &retry, &cost);
		if (retry && maxn > 1 && retry_quota >= cost) {
			cx_http_response_clean_up(&b->rs);
			r = aws_call_from(k->t, &b->c, &b->rs, &k->err, 2);
			k->ms = cx_now_ms() - t0;
		} else if (r != 0 && k->err.code == NULL &&
		    b->rs.problem[0] != '\0')
			set_str(&k->err.message, b->rs.problem,
			    sizeof(b->rs.problem));
	}
	if (r == 0 && k->query != NULL)
		r = query_answer(&b->rs, b->action, &k->xml, &k->err);
	else if (r == 0)
		r = parse_json_answer(&b->rs, k->amz_target, &k->json,
		    &k->err);
	k->r = r;
}

int
cx_aws_batch(struct cx_aws_call *calls, size_t n)
{
	struct cx_http_batch_item items[CX_HTTP_BATCH_MAX];
	struct batch_slot *b = NULL;
	struct cx_http *h = NULL;
	uint64_t t0;
	size_t i;
	int r, priv = 0;

	for (i = 0; i < n; i++) {
		calls[i].r = CX_ERR_INTERNAL;
		calls[i].xml = NULL;
		calls[i].json = NULL;
		calls[i].ms = 0;
		memset(&calls[i].err, 0, sizeof(calls[i].err));
	}
	if (n == 0)
		return 0;
	if (n > CX_HTTP_BATCH_MAX || calls[0].t == NULL ||
	    calls[0].t->ctx == NULL)
		return CX_ERR_INPUT;
	for (i = 1; i < n; i++)
		if (calls[i].t == NULL || calls[i].t->ctx != calls[0].t->ctx)
			return CX_ERR_INPUT;	/* one client for all */
	if ((b = calloc(n, sizeof(*b))) == NULL)
		return CX_ERR_NOMEM;
	if ((r = get_client(calls[0].t, &h, &priv)) != 0)
		goto out;
	memset(items, 0, sizeof(items));
	for (i = 0; i < n; i++) {
		if ((r = batch_prepare(&calls[i], &b[i])) != 0)
			goto out;
		items[i].rq = &b[i].hq;
		items[i].rs = &b[i].rs;
	}
	t0 = cx_now_ms();
	if ((r = cx_http_batch(h, items, n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		/* the signed lines are spent: a retry signs afresh */
		free_lines(b[i].lines, b[i].nl);
		b[i].nl = 0;
		batch_finish(&calls[i], &b[i], h, items[i].r, t0);
	}
	r = 0;
 out:
	for (i = 0; i < n; i++)
		batch_slot_clean_up(&b[i]);
	free(b);
	return r;
}

void
cx_aws_call_clean_up(struct cx_aws_call *k)
{
	cx_xml_free(k->xml);
	cx_json_delete_secure(k->json);
	cx_aws_error_clean_up(&k->err);
	k->xml = NULL;
	k->json = NULL;
}

void
cx_aws_log_error(const char *what, int r, const struct cx_aws_error *err)
{
	if (err != NULL && err->code != NULL && err->code[0] >= '1' &&
	    err->code[0] <= '9' && err->code[strspn(err->code,
	    "0123456789")] == '\0') {
		/* no AWS error code, only the HTTP status (an HTML page from
		 * a proxy or load balancer, say) */
		cx_error("%s: HTTP %s from the server%s", what, err->code,
		    r == CX_ERR_AWS_SERVER ? " (after retries)" : "");
	} else if (err != NULL && err->code == NULL && err->message != NULL) {
		/* a transport failure or an answer we could not read, named
		 * where it was found */
		cx_error("%s: %s", what, err->message);
	} else if (r == CX_ERR_TOOBIG) {
		cx_error("%s: the answer is larger than %u bytes", what,
		    CX_HTTP_MAX_BODY);
	} else if (r == CX_ERR_PROTOCOL && (err == NULL || err->code == NULL)) {
		cx_error("%s: unreadable answer (malformed, or XML nested over "
		    "%d levels or with over %d elements)", what,
		    CX_XML_MAX_DEPTH, CX_XML_MAX_NODES);
	} else if (err != NULL && err->code != NULL) {
		if (err->message != NULL && *err->message != '\0')
			cx_error("%s: %s: %s", what, err->code, err->message);
		else
			cx_error("%s: %s", what, err->code);
		if (err->request_id != NULL)
			cx_debug(1, "%s: request id %s", what,
			    err->request_id);
	} else {
		cx_error("%s: %s", what, cx_strerror(r));
	}
}
