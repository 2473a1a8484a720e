/*
 * AWS Signature Version 4.  See sigv4.h for the contract.
 *
 * Canonical request, as the AWS SDKs build it:
 *   METHOD \n PATH \n QUERY \n HEADERS \n \n SIGNED-HEADERS \n PAYLOAD-HASH
 * The derived keys (kSecret ... kSigning) live in stack buffers that are
 * wiped before returning.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/os.h"
#include "creds.h"
#include "sigv4.h"

#define SIGV4_ALGO		"AWS4-HMAC-SHA256"
#define SIGV4_MAX_TEXT		(1024u * 1024)	/* canonical request etc. */
#define SIGV4_MAX_HEADERS	128
#define SIGV4_MAX_PARAMS	1024
#define SIGV4_MAX_SECRET	512

static const char *const unsigned_headers[] = {
	"authorization", "connection", "expect", "keep-alive",
	"proxy-authenticate", "proxy-authorization", "te", "trailer",
	"transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
};

struct hdr {
	char *name;		/* lowercase */
	struct cx_buf value;	/* folded; duplicates joined with ',' */
};

struct param {
	char *key;		/* URI-encoded */
	char *value;		/* URI-encoded */
};

static void
hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
cx_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p ? p : "", n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		/* cannot happen with a working libcrypto; never sign garbage */
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	hex_encode(md, 32, out);
}

static int
hmac256(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[32])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len) ==
	    NULL || len != 32)
		return CX_ERR_INTERNAL;
	return 0;
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

int
cx_sigv4_uri_encode(struct cx_buf *out, const char *s, size_t len,
    int keep_slash)
{
	static const char hx[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;
	int r;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			r = cx_buf_putc(out, c);
		} else {
			char e[3] = { '%', hx[c >> 4], hx[c & 15] };
			r = cx_buf_append(out, e, 3);
		}
		if (r != 0)
			return r;
	}
	return 0;
}

/* Decodes %XX escapes of s[0..len) and re-encodes the bytes canonically
 * into a malloc'd string. */
static int
canon_component(const char *s, size_t len, char **out)
{
	struct cx_buf raw, enc;
	size_t i;
	int r, hi, lo;

	*out = NULL;
	cx_buf_init(&raw, SIGV4_MAX_TEXT);
	cx_buf_init(&enc, SIGV4_MAX_TEXT);
	cx_buf_set_secret(&raw);	/* may be the session token */
	cx_buf_set_secret(&enc);
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len ||
			    (hi = cx_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = cx_hexval((unsigned char)s[i + 2])) < 0) {
				r = CX_ERR_INPUT;
				goto out;
			}
			r = cx_buf_putc(&raw, hi * 16 + lo);
			i += 2;
		} else {
			r = cx_buf_putc(&raw, (unsigned char)s[i]);
		}
		if (r != 0)
			goto out;
	}
	if ((r = cx_sigv4_uri_encode(&enc, cx_buf_str(&raw), raw.len, 0)) != 0)
		goto out;
	if ((*out = cx_buf_steal_str(&enc)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	cx_buf_clean_up(&raw);
	cx_buf_clean_up(&enc);
	return r;
}

static int
param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

struct params {
	struct param v[SIGV4_MAX_PARAMS];
	size_t n;
};

static void
params_free(struct params *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		cx_freezero_str(ps->v[i].key);
		cx_freezero_str(ps->v[i].value);
	}
	ps->n = 0;
}

/* Adds one parameter given in wire form (escapes allowed). */
static int
params_add(struct params *ps, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	int r;

	if (ps->n >= SIGV4_MAX_PARAMS)
		return CX_ERR_TOOBIG;
	if ((r = canon_component(k, klen, &ps->v[ps->n].key)) != 0)
		return r;
	if ((r = canon_component(v, vlen, &ps->v[ps->n].value)) != 0) {
		cx_freezero_str(ps->v[ps->n].key);
		ps->v[ps->n].key = NULL;
		return r;
	}
	ps->n++;
	return 0;
}

/* Adds a parameter whose value is raw (not yet encoded). */
static int
params_add_raw(struct params *ps, const char *k, const char *v)
{
	struct cx_buf enc;
	int r;

	if (ps->n >= SIGV4_MAX_PARAMS)
		return CX_ERR_TOOBIG;
	cx_buf_init(&enc, SIGV4_MAX_TEXT);
	cx_buf_set_secret(&enc);
	if ((r = cx_sigv4_uri_encode(&enc, v, strlen(v), 0)) != 0)
		goto out;
	if ((ps->v[ps->n].key = strdup(k)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((ps->v[ps->n].value = cx_buf_steal_str(&enc)) == NULL) {
		free(ps->v[ps->n].key);
		ps->v[ps->n].key = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	ps->n++;
 out:
	cx_buf_clean_up(&enc);
	return r;
}

static int
params_parse(struct params *ps, const char *q)
{
	const char *p, *amp, *eq;
	size_t len;
	int r;

	if (q == NULL)
		return 0;
	for (p = q; *p != '\0'; p = amp + (*amp == '&')) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		len = (size_t)(amp - p);
		if (len == 0)
			continue;
		eq = memchr(p, '=', len);
		if (eq == NULL)
			r = params_add(ps, p, len, "", 0);
		else
			r = params_add(ps, p, (size_t)(eq - p), eq + 1,
			    (size_t)(amp - eq - 1));
		if (r != 0)
			return r;
	}
	return 0;
}

static int
params_join(struct params *ps, struct cx_buf *out)
{
	size_t i;
	int r;

	qsort(ps->v, ps->n, sizeof(ps->v[0]), param_cmp);
	for (i = 0; i < ps->n; i++) {
		if ((r = cx_buf_printf(out, "%s%s=%s", i ? "&" : "",
		    ps->v[i].key, ps->v[i].value)) != 0)
			return r;
	}
	return 0;
}

/* Removes "." and ".." segments and empty segments; keeps a trailing
 * slash (except for the root). */
static int
normalize_path(const char *path, struct cx_buf *out)
{
	const char *seg[256];
	size_t seglen[256], n = 0, i, len;
	const char *p = path, *e;
	int trailing, r;

	len = strlen(path);
	trailing = len > 0 && path[len - 1] == '/';
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if (e - p == 1 && p[0] == '.') {
			/* skip */
		} else if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			if (n > 0)
				n--;
		} else {
			if (n >= sizeof(seg) / sizeof(seg[0]))
				return CX_ERR_TOOBIG;
			seg[n] = p;
			seglen[n] = (size_t)(e - p);
			n++;
		}
		p = e;
	}
	for (i = 0; i < n; i++) {
		if ((r = cx_buf_putc(out, '/')) != 0 ||
		    (r = cx_buf_append(out, seg[i], seglen[i])) != 0)
			return r;
	}
	if (n == 0 || trailing)
		return cx_buf_putc(out, '/');
	return 0;
}

static int
canon_path(const struct cx_sigv4_request *rq, struct cx_buf *out)
{
	struct cx_buf norm;
	const char *path = rq->path && *rq->path ? rq->path : "/";
	int r;

	cx_buf_init(&norm, SIGV4_MAX_TEXT);
	if (rq->flags & CX_SIGV4_NO_NORMALIZE)
		r = cx_buf_puts(&norm, path);
	else
		r = normalize_path(path, &norm);
	if (r != 0)
		goto out;
	if (rq->flags & CX_SIGV4_SINGLE_ENCODE)
		r = cx_buf_append(out, norm.data, norm.len);
	else
		r = cx_sigv4_uri_encode(out, cx_buf_str(&norm), norm.len, 1);
 out:
	cx_buf_clean_up(&norm);
	return r;
}

static int
is_unsigned_header(const char *lname)
{
	size_t i;

	for (i = 0; i < sizeof(unsigned_headers) / sizeof(unsigned_headers[0]);
	    i++)
		if (strcmp(lname, unsigned_headers[i]) == 0)
			return 1;
	return 0;
}

struct hdrs {
	struct hdr v[SIGV4_MAX_HEADERS];
	size_t n;
};

static void
hdrs_free(struct hdrs *hs)
{
	size_t i;

	for (i = 0; i < hs->n; i++) {
		free(hs->v[i].name);
		cx_buf_clean_up(&hs->v[i].value);
	}
	hs->n = 0;
}

/* Appends value to b with surrounding whitespace trimmed and inner runs of
 * whitespace (including obsolete line folding) collapsed to one space. */
static int
fold_value(struct cx_buf *b, const char *v)
{
	int space = 0, any = 0, r;

	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = any;
			continue;
		}
		if (space && (r = cx_buf_putc(b, ' ')) != 0)
			return r;
		space = 0;
		any = 1;
		if ((r = cx_buf_putc(b, (unsigned char)*v)) != 0)
			return r;
	}
	return 0;
}

static int
hdrs_add(struct hdrs *hs, const char *name, const char *value)
{
	struct hdr *h = NULL;
	char *lname;
	size_t i;
	int r;

	if (name == NULL || value == NULL || *name == '\0')
		return CX_ERR_INPUT;
	if ((lname = strdup(name)) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; lname[i] != '\0'; i++)
		lname[i] = (char)tolower((unsigned char)lname[i]);
	if (is_unsigned_header(lname)) {
		free(lname);
		return 0;
	}
	for (i = 0; i < hs->n; i++)
		if (strcmp(hs->v[i].name, lname) == 0)
			h = &hs->v[i];
	if (h != NULL) {
		free(lname);
		if ((r = cx_buf_putc(&h->value, ',')) != 0)
			return r;
		return fold_value(&h->value, value);
	}
	if (hs->n >= SIGV4_MAX_HEADERS) {
		free(lname);
		return CX_ERR_TOOBIG;
	}
	h = &hs->v[hs->n++];
	h->name = lname;
	cx_buf_init(&h->value, SIGV4_MAX_TEXT);
	cx_buf_set_secret(&h->value);	/* x-amz-security-token */
	return fold_value(&h->value, value);
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"); signature = hex(HMAC(kSigning, string_to_sign)).
 */
static int
compute_signature(const char *secret, const char *date8, const char *region,
    const char *service, const char *sts, char out[65])
{
	unsigned char ksecret[4 + SIGV4_MAX_SECRET];
	unsigned char kdate[32], kregion[32], kservice[32], ksigning[32];
	unsigned char sig[32];
	size_t slen = strlen(secret);
	int r;

	if (slen > SIGV4_MAX_SECRET)
		return CX_ERR_INPUT;
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret, slen);
	if ((r = hmac256(ksecret, 4 + slen, date8, strlen(date8), kdate)) != 0 ||
	    (r = hmac256(kdate, 32, region, strlen(region), kregion)) != 0 ||
	    (r = hmac256(kregion, 32, service, strlen(service), kservice)) != 0 ||
	    (r = hmac256(kservice, 32, "aws4_request", 12, ksigning)) != 0 ||
	    (r = hmac256(ksigning, 32, sts, strlen(sts), sig)) != 0)
		goto out;
	hex_encode(sig, 32, out);
 out:
	cx_wipe(ksecret, sizeof(ksecret));
	cx_wipe(kdate, sizeof(kdate));
	cx_wipe(kregion, sizeof(kregion));
	cx_wipe(kservice, sizeof(kservice));
	cx_wipe(ksigning, sizeof(ksigning));
	cx_wipe(sig, sizeof(sig));
	return r;
}

static int
valid_scope_part(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s == '/' || *s == '\n' || (unsigned char)*s < 0x20)
			return 0;
	return 1;
}

void
cx_sigv4_result_clean_up(struct cx_sigv4_result *rs)
{
	free(rs->signed_headers);
	free(rs->authorization);
	cx_freezero_str(rs->presigned_query);
	cx_freezero_str(rs->canonical_request);
	free(rs->string_to_sign);
	cx_wipe(rs, sizeof(*rs));
}

static int
sign(const struct cx_sigv4_request *rq, struct cx_sigv4_result *rs,
    int presign)
{
	struct hdrs *hs = NULL;
	struct params *ps = NULL;
	struct cx_buf creq, sts, sh, q, tmp;
	const struct cx_creds *c = rq->creds;
	const char *token;
	char date8[9], scope[256], creq_hash[65], num[32];
	struct tm tm;
	size_t i;
	int r, n, have_host = 0;

	memset(rs, 0, sizeof(*rs));
	cx_buf_init(&creq, SIGV4_MAX_TEXT);
	cx_buf_init(&sts, SIGV4_MAX_TEXT);
	cx_buf_init(&sh, SIGV4_MAX_TEXT);
	cx_buf_init(&q, SIGV4_MAX_TEXT);
	cx_buf_init(&tmp, SIGV4_MAX_TEXT);
	cx_buf_set_secret(&creq);
	cx_buf_set_secret(&q);
	cx_buf_set_secret(&tmp);

	if (rq->method == NULL || *rq->method == '\0' || c == NULL ||
	    c->access_key_id == NULL || *c->access_key_id == '\0' ||
	    c->secret_access_key == NULL ||
	    !valid_scope_part(rq->region) || !valid_scope_part(rq->service) ||
	    (presign && (rq->expires_s < 1 || rq->expires_s > 604800))) {
		r = CX_ERR_INPUT;
		goto out;
	}
	token = c->session_token && *c->session_token &&
	    !(rq->flags & CX_SIGV4_TOKEN_UNSIGNED) ? c->session_token : NULL;
	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (ps = calloc(1, sizeof(*ps))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}

	if (gmtime_r(&rq->now, &tm) == NULL ||
	    strftime(rs->amz_date, sizeof(rs->amz_date), "%Y%m%dT%H%M%SZ",
	    &tm) != 16) {
		r = CX_ERR_INPUT;
		goto out;
	}
	memcpy(date8, rs->amz_date, 8);
	date8[8] = '\0';
	n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date8,
	    rq->region, rq->service);
	if (n < 0 || (size_t)n >= sizeof(scope)) {
		r = CX_ERR_INPUT;
		goto out;
	}

	if (rq->payload_hash != NULL) {
		if (strlen(rq->payload_hash) != 64) {
			r = CX_ERR_INPUT;
			goto out;
		}
		memcpy(rs->content_sha256, rq->payload_hash, 65);
	} else {
		cx_sha256_hex(rq->body, rq->body ? rq->body_len : 0,
		    rs->content_sha256);
	}

	/* headers */
	for (i = 0; i < rq->nheaders; i++) {
		const char *nm = rq->headers[i].name;

		/* the signer owns these: never take a second copy */
		if (nm != NULL && (strcasecmp(nm, "x-amz-date") == 0 ||
		    strcasecmp(nm, "x-amz-security-token") == 0 ||
		    strcasecmp(nm, "x-amz-content-sha256") == 0))
			continue;
		if (nm != NULL && strcasecmp(nm, "host") == 0)
			have_host = 1;
		if ((r = hdrs_add(hs, nm, rq->headers[i].value)) != 0)
			goto out;
	}
	if (!have_host) {
		r = CX_ERR_INPUT;
		goto out;
	}
	if (!presign) {
		if ((r = hdrs_add(hs, "x-amz-date", rs->amz_date)) != 0)
			goto out;
		if (token && (r = hdrs_add(hs, "x-amz-security-token",
		    token)) != 0)
			goto out;
		if ((rq->flags & CX_SIGV4_CONTENT_SHA256) &&
		    (r = hdrs_add(hs, "x-amz-content-sha256",
		    rs->content_sha256)) != 0)
			goto out;
	}
	qsort(hs->v, hs->n, sizeof(hs->v[0]), hdr_cmp);
	for (i = 0; i < hs->n; i++)
		if ((r = cx_buf_printf(&sh, "%s%s", i ? ";" : "",
		    hs->v[i].name)) != 0)
			goto out;

	/* query */
	if ((r = params_parse(ps, rq->query)) != 0)
		goto out;
	if (presign) {
		n = snprintf(num, sizeof(num), "%d", rq->expires_s);
		if (n < 0 || (size_t)n >= sizeof(num)) {
			r = CX_ERR_INTERNAL;
			goto out;
		}
		if ((r = cx_buf_printf(&tmp, "%s/%s", c->access_key_id,
		    scope)) != 0)
			goto out;
		if ((r = params_add_raw(ps, "X-Amz-Algorithm", SIGV4_ALGO)) ||
		    (r = params_add_raw(ps, "X-Amz-Credential",
		    cx_buf_str(&tmp))) ||
		    (r = params_add_raw(ps, "X-Amz-Date", rs->amz_date)) ||
		    (r = params_add_raw(ps, "X-Amz-Expires", num)) ||
		    (r = params_add_raw(ps, "X-Amz-SignedHeaders",
		    cx_buf_str(&sh))))
			goto out;
		if (token &&
		    (r = params_add_raw(ps, "X-Amz-Security-Token", token)) != 0)
			goto out;
	}
	if ((r = params_join(ps, &q)) != 0)
		goto out;

	/* canonical request */
	if ((r = cx_buf_printf(&creq, "%s\n", rq->method)) != 0 ||
	    (r = canon_path(rq, &creq)) != 0 ||
	    (r = cx_buf_printf(&creq, "\n%s\n", cx_buf_str(&q))) != 0)
		goto out;
	for (i = 0; i < hs->n; i++)
		if ((r = cx_buf_printf(&creq, "%s:%s\n", hs->v[i].name,
		    cx_buf_str(&hs->v[i].value))) != 0)
			goto out;
	if ((r = cx_buf_printf(&creq, "\n%s\n%s", cx_buf_str(&sh),
	    rs->content_sha256)) != 0)
		goto out;

	cx_sha256_hex(creq.data, creq.len, creq_hash);
	if ((r = cx_buf_printf(&sts, SIGV4_ALGO "\n%s\n%s\n%s", rs->amz_date,
	    scope, creq_hash)) != 0)
		goto out;
	if ((r = compute_signature(c->secret_access_key, date8, rq->region,
	    rq->service, cx_buf_str(&sts), rs->signature)) != 0)
		goto out;

	if (presign) {
		if ((r = cx_buf_printf(&q, "&X-Amz-Signature=%s",
		    rs->signature)) != 0)
			goto out;
		if ((rs->presigned_query = cx_buf_steal_str(&q)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	} else {
		cx_buf_reset(&tmp);
		if ((r = cx_buf_printf(&tmp, SIGV4_ALGO " Credential=%s/%s, "
		    "SignedHeaders=%s, Signature=%s", c->access_key_id, scope,
		    cx_buf_str(&sh), rs->signature)) != 0)
			goto out;
		if ((rs->authorization = strdup(cx_buf_str(&tmp))) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	}
	if ((rs->signed_headers = cx_buf_steal_str(&sh)) == NULL ||
	    (rs->canonical_request = cx_buf_steal_str(&creq)) == NULL ||
	    (rs->string_to_sign = cx_buf_steal_str(&sts)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	r = 0;
 out:
	if (hs != NULL) {
		hdrs_free(hs);
		free(hs);
	}
	if (ps != NULL) {
		params_free(ps);
		free(ps);
	}
	cx_buf_clean_up(&creq);
	cx_buf_clean_up(&sts);
	cx_buf_clean_up(&sh);
	cx_buf_clean_up(&q);
	cx_buf_clean_up(&tmp);
	if (r != 0)
		cx_sigv4_result_clean_up(rs);
	return r;
}

int
cx_sigv4_sign(const struct cx_sigv4_request *rq, struct cx_sigv4_result *rs)
{
	return sign(rq, rs, 0);
}

int
cx_sigv4_presign(const struct cx_sigv4_request *rq,
    struct cx_sigv4_result *rs)
{
	return sign(rq, rs, 1);
}
