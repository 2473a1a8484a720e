#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/os.h"
#include "ssmmsg.h"

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/*
 * SHA-256 through one context and one algorithm object kept for the
 * process: OpenSSL 3's one-shot SHA256() (and EVP_sha256() at each init)
 * looks the algorithm up and allocates on every call, which costs more
 * than hashing a 1 KiB message.  The cx programs are single-threaded.
 * Falls back to SHA256() if the objects cannot be made.
 */
static void
sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
	static EVP_MD_CTX *ctx;
	static const EVP_MD *md;
	static int failed;
	unsigned int l;

	if (ctx == NULL && !failed) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
		md = EVP_sha256();
#endif
		if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
			failed = 1;
	}
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &l) != 1)
		SHA256(p, n, out);
}

static int
is_trim(unsigned char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
cx_ssmmsg_decode(const void *frame, size_t len, struct cx_ssmmsg *m)
{
	const unsigned char *f = frame;
	size_t s, e, hl, plen;

	memset(m, 0, sizeof(*m));
	if (len < 4)
		return CX_ERR_PROTOCOL;
	hl = get32(f);
	/* every fixed field up to the digest must be inside the header */
	if (hl < CX_SSMMSG_MIN_HL || len < 4 || hl > len - 4)
		return CX_ERR_PROTOCOL;
	plen = get32(f + hl);
	if (plen > len - 4 - hl)
		return CX_ERR_PROTOCOL;
	m->header_len = (uint32_t)hl;
	for (s = 4; s < 36 && is_trim(f[s]); s++)
		;
	for (e = 36; e > s && is_trim(f[e - 1]); e--)
		;
	memcpy(m->type, f + s, e - s);
	m->type[e - s] = '\0';
	m->schema_version = get32(f + 36);
	m->created_ms = get64(f + 40);
	m->seq = (int64_t)get64(f + 48);
	m->flags = get64(f + 56);
	memcpy(m->id, f + 72, 8);
	memcpy(m->id + 8, f + 64, 8);
	memcpy(m->digest, f + 80, 32);
	m->payload_type = hl >= 116 ? get32(f + 112) : 0;
	m->payload_len = (uint32_t)plen;
	m->payload = f + hl + 4;
	return 0;
}

int
cx_ssmmsg_valid(const struct cx_ssmmsg *m)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	if (m->type[0] == '\0' || m->created_ms == 0)
		return 0;
	if (m->payload_len == 0)
		return 1;
	sha256(m->payload, m->payload_len, d);
	return CRYPTO_memcmp(d, m->digest, sizeof(d)) == 0;
}

size_t
cx_ssmmsg_encode(unsigned char *out, size_t cap, const char *type,
    uint64_t created_ms, int64_t seq, uint64_t flags,
    const unsigned char id[16], uint32_t payload_type,
    const void *payload, uint32_t plen)
{
	size_t tl = strlen(type);

	if (tl > 32 || cap < CX_SSMMSG_HDR || plen > cap - CX_SSMMSG_HDR)
		return 0;
	if (plen && payload != out + CX_SSMMSG_HDR)
		memmove(out + CX_SSMMSG_HDR, payload, plen);
	put32(out, CX_SSMMSG_HL);
	memcpy(out + 4, type, tl);
	memset(out + 4 + tl, ' ', 32 - tl);
	put32(out + 36, 1);
	put64(out + 40, created_ms);
	put64(out + 48, (uint64_t)seq);
	put64(out + 56, flags);
	memcpy(out + 64, id + 8, 8);
	memcpy(out + 72, id, 8);
	sha256(out + CX_SSMMSG_HDR, plen, out + 80);
	put32(out + 112, payload_type);
	put32(out + 116, plen);
	return CX_SSMMSG_HDR + plen;
}

int
cx_uuid_parse(const char *s, unsigned char b[16])
{
	int i, n = 0, hi, lo;

	for (i = 0; i < 36; ) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return CX_ERR_INPUT;
			i++;
			continue;
		}
		if ((hi = cx_hexval(s[i])) < 0 ||
		    (lo = cx_hexval(s[i + 1])) < 0)
			return CX_ERR_INPUT;
		b[n++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return s[36] == '\0' ? 0 : CX_ERR_INPUT;
}

void
cx_uuid_format(const unsigned char b[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

/* Appends n bytes at *o if they fit before end; returns 0 or -1. */
static int
put(char **o, const char *end, const void *p, size_t n)
{
	if ((size_t)(end - *o) < n)
		return -1;
	memcpy(*o, p, n);
	*o += n;
	return 0;
}

/* Built with memcpy, not snprintf: one ack per message received. */
size_t
cx_ssm_ack_json(char *out, size_t cap, const char *acked_type,
    const unsigned char acked_id[16], int64_t acked_seq)
{
	static const char k1[] = "{\"AcknowledgedMessageType\":\"";
	static const char k2[] = "\",\"AcknowledgedMessageId\":\"";
	static const char k3[] = "\",\"AcknowledgedMessageSequenceNumber\":";
	static const char k4[] = ",\"IsSequentialMessage\":true}";
	char id[37], num[24], *o = out, *end = out + cap;
	uint64_t v;
	size_t nl = 0;
	int neg = acked_seq < 0;

	cx_uuid_format(acked_id, id);
	v = neg ? (uint64_t)0 - (uint64_t)acked_seq : (uint64_t)acked_seq;
	do {
		num[sizeof(num) - 1 - nl++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (neg)
		num[sizeof(num) - 1 - nl++] = '-';
	if (cap == 0 || put(&o, end, k1, sizeof(k1) - 1) != 0 ||
	    put(&o, end, acked_type, strlen(acked_type)) != 0 ||
	    put(&o, end, k2, sizeof(k2) - 1) != 0 ||
	    put(&o, end, id, 36) != 0 ||
	    put(&o, end, k3, sizeof(k3) - 1) != 0 ||
	    put(&o, end, num + sizeof(num) - nl, nl) != 0 ||
	    put(&o, end, k4, sizeof(k4) - 1) != 0 || o == end)
		return 0;
	*o = '\0';
	return (size_t)(o - out);
}

/*
 * The acks every known peer sends, byte for byte: the four keys in the
 * plugin's (and the agent's) order, a type of [a-z_], a canonical UUID and
 * a plain number.  Anything else goes through cJSON.  Returns 0 and *seq,
 * or -1 if p is not exactly that.
 */
static int
ack_fast(const char *p, size_t n, int64_t *seq)
{
	static const char k1[] = "{\"AcknowledgedMessageType\":\"";
	static const char k2[] = "\",\"AcknowledgedMessageId\":\"";
	static const char k3[] = "\",\"AcknowledgedMessageSequenceNumber\":";
	static const char k4[] = ",\"IsSequentialMessage\":true}";
	const char *e = p + n;
	uint64_t v = 0;
	int i, digits = 0;

	if (n < sizeof(k1) - 1 || memcmp(p, k1, sizeof(k1) - 1) != 0)
		return -1;
	p += sizeof(k1) - 1;
	while (p < e && ((*p >= 'a' && *p <= 'z') || *p == '_'))
		p++;
	if ((size_t)(e - p) < sizeof(k2) - 1 + 36 ||
	    memcmp(p, k2, sizeof(k2) - 1) != 0)
		return -1;
	p += sizeof(k2) - 1;
	for (i = 0; i < 36; i++, p++)
		if (!(*p == '-' || cx_hexval(*p) >= 0))
			return -1;
	if ((size_t)(e - p) < sizeof(k3) - 1 ||
	    memcmp(p, k3, sizeof(k3) - 1) != 0)
		return -1;
	p += sizeof(k3) - 1;
	for (; p < e && *p >= '0' && *p <= '9' && digits < 16; p++, digits++)
		v = v * 10 + (uint64_t)(*p - '0');
	if (digits == 0 || (digits > 1 && p[-digits] == '0') ||
	    (size_t)(e - p) != sizeof(k4) - 1 ||
	    memcmp(p, k4, sizeof(k4) - 1) != 0)
		return -1;
	*seq = (int64_t)v;
	return 0;
}

int
cx_ssm_ack_parse(const void *p, size_t n, int64_t *seq)
{
	cJSON *doc;
	const cJSON *v;
	int r = CX_ERR_PROTOCOL;

	*seq = -1;
	if (ack_fast(p, n, seq) == 0)
		return 0;
	if ((doc = cJSON_ParseWithLength(p, n)) == NULL)
		return CX_ERR_PROTOCOL;
	v = cJSON_GetObjectItemCaseSensitive(doc,
	    "AcknowledgedMessageSequenceNumber");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble < 9007199254740992.0) {
		*seq = (int64_t)v->valuedouble;
		r = 0;
	}
	cJSON_Delete(doc);
	return r;
}

static int
known_session_type(const char *t)
{
	return t != NULL && (strcmp(t, "Port") == 0 ||
	    strcmp(t, "Standard_Stream") == 0);
}

int
cx_ssm_handshake_answer(const void *req, size_t reqlen,
    const char *client_version, char *out, size_t cap, size_t *outlen,
    int *all_ok, char **session_type)
{
	cJSON *doc = NULL, *resp = NULL, *arr, *ent;
	const cJSON *acts, *a, *at, *st;
	char *txt = NULL, *stype = NULL;
	const char *atype, *err;
	size_t n;
	int r = CX_ERR_NOMEM, status;

	*outlen = 0;
	*all_ok = 0;
	if (session_type != NULL)
		*session_type = NULL;
	if ((doc = cJSON_ParseWithLength(req, reqlen)) == NULL ||
	    !cJSON_IsObject(doc)) {
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	acts = cJSON_GetObjectItemCaseSensitive(doc, "RequestedClientActions");
	if (!cJSON_IsArray(acts)) {
		r = CX_ERR_PROTOCOL;
		goto out;
	}
	if ((resp = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(resp, "ClientVersion",
	    client_version) == NULL ||
	    (arr = cJSON_AddArrayToObject(resp,
	    "ProcessedClientActions")) == NULL)
		goto out;
	*all_ok = 1;
	cJSON_ArrayForEach(a, acts) {
		at = cJSON_GetObjectItemCaseSensitive(a, "ActionType");
		atype = cJSON_IsString(at) ? at->valuestring : "";
		status = 3;
		err = "unsupported action";
		if (strcmp(atype, "SessionType") == 0) {
			st = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(a,
			    "ActionParameters"), "SessionType");
			if (cJSON_IsString(st) && session_type != NULL &&
			    stype == NULL &&
			    (stype = strdup(st->valuestring)) == NULL)
				goto out;
			if (cJSON_IsString(st) &&
			    known_session_type(st->valuestring)) {
				status = 1;
				err = "";
			} else {
				status = 2;
				err = "unknown session type";
			}
		}
		if (status != 1)
			*all_ok = 0;
		if ((ent = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(arr, ent);
		if (cJSON_AddStringToObject(ent, "ActionType", atype) == NULL ||
		    cJSON_AddNumberToObject(ent, "ActionStatus",
		    status) == NULL ||
		    cJSON_AddNullToObject(ent, "ActionResult") == NULL ||
		    cJSON_AddStringToObject(ent, "Error", err) == NULL)
			goto out;
	}
	if (cJSON_AddNullToObject(resp, "Errors") == NULL)
		goto out;
	if ((txt = cJSON_PrintUnformatted(resp)) == NULL)
		goto out;
	n = strlen(txt);
	if (n >= cap) {
		r = CX_ERR_TOOBIG;
		goto out;
	}
	memcpy(out, txt, n + 1);
	*outlen = n;
	if (session_type != NULL) {
		*session_type = stype;
		stype = NULL; /* transferred */
	}
	r = 0;
 out:
	if (r != 0)
		*all_ok = 0;
	free(stype);
	cJSON_free(txt);
	cJSON_Delete(resp);
	cJSON_Delete(doc);
	return r;
}

int
cx_ssm_json_field(const void *p, size_t n, const char *key, char **out)
{
	cJSON *doc;
	const cJSON *v;
	int r = 0;

	*out = NULL;
	if (n == 0 || (doc = cJSON_ParseWithLength(p, n)) == NULL)
		return 0;
	v = cJSON_GetObjectItemCaseSensitive(doc, key);
	if (cJSON_IsString(v) && (*out = strdup(v->valuestring)) == NULL)
		r = CX_ERR_NOMEM;
	cJSON_Delete(doc);
	return r;
}

int
cx_ssm_open_json(const char *request_id, const char *token,
    const char *client_id, const char *client_version, char **out)
{
	cJSON *doc;
	char *txt = NULL, *copy = NULL;
	int r = CX_ERR_NOMEM;

	*out = NULL;
	if ((doc = cJSON_CreateObject()) == NULL)
		return CX_ERR_NOMEM;
	if (cJSON_AddStringToObject(doc, "MessageSchemaVersion", "1.0") ==
	    NULL ||
	    cJSON_AddStringToObject(doc, "RequestId", request_id) == NULL ||
	    cJSON_AddStringToObject(doc, "TokenValue", token) == NULL ||
	    cJSON_AddStringToObject(doc, "ClientId", client_id) == NULL ||
	    cJSON_AddStringToObject(doc, "ClientVersion",
	    client_version) == NULL)
		goto out;
	if ((txt = cJSON_PrintUnformatted(doc)) == NULL)
		goto out;
	/* a copy we own, so that the caller frees it with plain libc */
	if ((copy = strdup(txt)) == NULL)
		goto out;
	*out = copy;
	r = 0;
 out:
	if (txt != NULL) {
		cx_wipe(txt, strlen(txt));
		cJSON_free(txt);
	}
	/* the token's copy inside doc */
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "TokenValue");

		if (cJSON_IsString(t) && t->valuestring != NULL)
			cx_wipe(t->valuestring, strlen(t->valuestring));
	}
	cJSON_Delete(doc);
	return r;
}
