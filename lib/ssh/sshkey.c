#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "sshkey.h"

#define MAX_TYPE_LEN	64

/* A cursor over a wire-format blob (RFC 4251 strings and mpints). */
struct rd {
	const unsigned char *p;
	size_t left;
};

static int
rd_string(struct rd *r, const unsigned char **s, size_t *len)
{
	uint32_t n;

	if (r->left < 4)
		return -1;
	n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
	if (n > r->left - 4)
		return -1;
	*s = r->p + 4;
	*len = n;
	r->p += 4 + n;
	r->left -= 4 + n;
	return 0;
}

/* Bits of a positive mpint, as BN_num_bits would count them. */
static int
rd_mpint_bits(struct rd *r, unsigned int *bits)
{
	const unsigned char *s;
	size_t n;
	unsigned char top;

	if (rd_string(r, &s, &n) != 0)
		return -1;
	if (n > 0 && (s[0] & 0x80))
		return -1;	/* negative */
	while (n > 0 && s[0] == 0) {
		s++;
		n--;
	}
	if (n == 0) {
		*bits = 0;
		return 0;
	}
	if (n > 16384 / 8 + 1)
		return -1;
	*bits = (unsigned int)(n - 1) * 8;
	for (top = s[0]; top != 0; top >>= 1)
		(*bits)++;
	return 0;
}

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/*
 * Checks the structure after the inner type string for the types we know,
 * and finds the size.  Unknown types pass with bits 0: the EIC check
 * refuses them anyway.
 */
static int
check_body(const char *type, struct rd *r, unsigned int *bits)
{
	const unsigned char *s;
	size_t n;
	unsigned int e_bits, b;
	int i;

	*bits = 0;
	if (strcmp(type, "ssh-ed25519") == 0 ||
	    strcmp(type, "sk-ssh-ed25519@openssh.com") == 0) {
		if (rd_string(r, &s, &n) != 0 || n != 32)
			return -1;
		*bits = 256;
		if (has_prefix(type, "sk-") && rd_string(r, &s, &n) != 0)
			return -1;
	} else if (strcmp(type, "ssh-rsa") == 0) {
		if (rd_mpint_bits(r, &e_bits) != 0 || e_bits == 0 ||
		    rd_mpint_bits(r, bits) != 0 || *bits < 512)
			return -1;
	} else if (strcmp(type, "ssh-dss") == 0) {
		if (rd_mpint_bits(r, bits) != 0)
			return -1;
		for (i = 0; i < 3; i++)
			if (rd_mpint_bits(r, &b) != 0)
				return -1;
	} else if (has_prefix(type, "ecdsa-sha2-nistp") ||
	    strcmp(type, "sk-ecdsa-sha2-nistp256@openssh.com") == 0) {
		const char *curve = strstr(type, "nistp");
		size_t clen = strcspn(curve, "@");

		if (rd_string(r, &s, &n) != 0 || n != clen ||
		    memcmp(s, curve, n) != 0)
			return -1;
		if (rd_string(r, &s, &n) != 0 || n == 0 || s[0] != 0x04)
			return -1;
		if (strncmp(curve, "nistp256", clen) == 0)
			*bits = 256;
		else if (strncmp(curve, "nistp384", clen) == 0)
			*bits = 384;
		else if (strncmp(curve, "nistp521", clen) == 0)
			*bits = 521;
		if (has_prefix(type, "sk-") && rd_string(r, &s, &n) != 0)
			return -1;
	} else {
		/* certificates and types we do not know: not inspected */
		r->left = 0;
	}
	return r->left == 0 ? 0 : -1;
}

int
cx_sshkey_fingerprint(const unsigned char *blob, size_t len,
    char out[CX_SSHKEY_FP_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[64];
	int n;

	out[0] = '\0';
	if (EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return CX_ERR_INTERNAL;
	n = EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	if ((size_t)snprintf(out, CX_SSHKEY_FP_LEN, "SHA256:%s", b64) >=
	    CX_SSHKEY_FP_LEN)
		return CX_ERR_INTERNAL;
	return 0;
}

int
cx_sshkey_from_blob(const unsigned char *blob, size_t len,
    const char *comment, const char *what, struct cx_sshkey *k)
{
	struct rd r = { blob, len };
	const unsigned char *s;
	size_t n, i;
	char *type = NULL;
	int ret;

	memset(k, 0, sizeof(*k));
	if (len > CX_SSHKEY_MAX_BLOB) {
		cx_error("%s: key is larger than %d bytes", what,
		    CX_SSHKEY_MAX_BLOB);
		return CX_ERR_TOOBIG;
	}
	if (comment != NULL && strlen(comment) > CX_SSHKEY_MAX_COMMENT) {
		cx_error("%s: key comment is longer than %d bytes", what,
		    CX_SSHKEY_MAX_COMMENT);
		return CX_ERR_TOOBIG;
	}
	if (rd_string(&r, &s, &n) != 0 || n == 0 || n > MAX_TYPE_LEN) {
		cx_error("%s: malformed key data", what);
		return CX_ERR_INPUT;
	}
	for (i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f) {
			cx_error("%s: malformed key data", what);
			return CX_ERR_INPUT;
		}
	}
	if ((type = strndup((const char *)s, n)) == NULL)
		return CX_ERR_NOMEM;
	if (check_body(type, &r, &k->bits) != 0) {
		cx_error("%s: malformed '%s' key data", what, type);
		ret = CX_ERR_INPUT;
		goto out;
	}
	if ((k->blob = malloc(len ? len : 1)) == NULL ||
	    (k->comment = strdup(comment ? comment : "")) == NULL) {
		ret = CX_ERR_NOMEM;
		goto out;
	}
	memcpy(k->blob, blob, len);
	k->blob_len = len;
	if ((ret = cx_sshkey_fingerprint(blob, len, k->fingerprint)) != 0)
		goto out;
	k->type = type;
	type = NULL;	/* transferred */
	ret = 0;
 out:
	free(type);
	if (ret != 0)
		cx_sshkey_clean_up(k);
	return ret;
}

/* Strict base64 (RFC 4648, padded) into a fresh buffer. */
static int
b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *d;
	size_t i, pad = 0;
	int n;

	*out = NULL;
	if (len == 0 || len % 4 != 0 || len > (CX_SSHKEY_MAX_BLOB / 3 + 1) * 4)
		return -1;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '=') {
			if (i < len - 2)
				return -1;
			pad++;
		} else if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/')) {
			return -1;
		}
	}
	if ((d = malloc(len / 4 * 3 + 1)) == NULL)
		return CX_ERR_NOMEM;
	n = EVP_DecodeBlock(d, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(d);
		return -1;
	}
	*out = d;
	*outlen = (size_t)n - pad;
	return 0;
}

/* Looks for the marks of a private key anywhere in the text. */
static int
looks_private(const char *text, size_t len)
{
	static const char *const marks[] = {
		"-----BEGIN", "PRIVATE KEY", "PuTTY-User-Key-File",
		"b3BlbnNzaC1rZXktdjE", NULL
	};
	int i;

	for (i = 0; marks[i] != NULL; i++)
		if (cx_memmem(text, len, marks[i], strlen(marks[i])) != NULL)
			return 1;
	return 0;
}

static int
parse_line(const char *line, size_t len, const char *what,
    struct cx_sshkey *k)
{
	const char *p = line, *end = line + len, *tok;
	char type[MAX_TYPE_LEN + 1], *comment = NULL;
	unsigned char *blob = NULL;
	size_t tlen, blen = 0, clen;
	int r;

	/* TYPE */
	tok = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	tlen = (size_t)(p - tok);
	if (tlen == 0 || tlen > MAX_TYPE_LEN)
		goto malformed;
	memcpy(type, tok, tlen);
	type[tlen] = '\0';
	if (strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789-@.") != tlen)
		goto malformed;
	/* BASE64 */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	tok = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if ((r = b64_decode(tok, (size_t)(p - tok), &blob, &blen)) != 0) {
		if (r == CX_ERR_NOMEM)
			return r;
		cx_error("%s: the '%s' key is not valid base64", what, type);
		return CX_ERR_INPUT;
	}
	/* COMMENT: the rest, trimmed */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'))
		end--;
	clen = (size_t)(end - p);
	if ((comment = strndup(p, clen)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = cx_sshkey_from_blob(blob, blen, comment, what, k)) != 0)
		goto out;
	if (strcmp(k->type, type) != 0) {
		cx_error("%s: the key says '%s' but its data is a '%s' key",
		    what, type, k->type);
		cx_sshkey_clean_up(k);
		r = CX_ERR_INPUT;
		goto out;
	}
	r = 0;
 out:
	free(blob);
	free(comment);
	return r;
 malformed:
	cx_error("%s: not an OpenSSH public key "
	    "(expected 'TYPE BASE64 [COMMENT]')", what);
	return CX_ERR_INPUT;
}

int
cx_sshkey_parse(const char *text, size_t len, const char *what,
    struct cx_sshkey *k)
{
	const char *p = text, *end = text + len, *nl, *line = NULL;
	size_t line_len = 0, skip;

	memset(k, 0, sizeof(*k));
	if (len > CX_SSHKEY_MAX_FILE) {
		cx_error("%s: larger than %d bytes", what, CX_SSHKEY_MAX_FILE);
		return CX_ERR_TOOBIG;
	}
	if (memchr(text, '\0', len) != NULL) {
		cx_error("%s: not a text file", what);
		return CX_ERR_INPUT;
	}
	if (looks_private(text, len)) {
		/* never echo any of it */
		cx_error("%s: this is a private key; give the public key "
		    "(the .pub file)", what);
		return CX_ERR_INPUT;
	}
	if (cx_memmem(text, len, "---- BEGIN SSH2 PUBLIC KEY", 26) != NULL) {
		cx_error("%s: an RFC 4716 (SSH2) public key; convert it "
		    "with 'ssh-keygen -i -f FILE'", what);
		return CX_ERR_INPUT;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		/* bounded: text need not be NUL-terminated */
		for (skip = 0; p + skip < nl && (p[skip] == ' ' ||
		    p[skip] == '\t' || p[skip] == '\r'); skip++)
			;
		if (p + skip < nl && p[skip] != '#') {
			if (line != NULL) {
				cx_error("%s: holds more than one key", what);
				return CX_ERR_INPUT;
			}
			line = p + skip;
			line_len = (size_t)(nl - line);
		}
		p = nl + 1;
	}
	if (line == NULL) {
		cx_error("%s: holds no public key", what);
		return CX_ERR_INPUT;
	}
	return parse_line(line, line_len, what, k);
}

int
cx_sshkey_load(const char *path, struct cx_sshkey *k)
{
	struct cx_buf b;
	char what[1024];
	int r;

	memset(k, 0, sizeof(*k));
	cx_buf_init(&b, CX_SSHKEY_MAX_FILE);
	/* in case it is a private key after all */
	cx_buf_set_secret(&b);
	if ((size_t)snprintf(what, sizeof(what), "'%s'", path) >=
	    sizeof(what)) {
		cx_error("key file name is too long");
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((r = cx_read_file(path, CX_SSHKEY_MAX_FILE, &b)) != 0) {
		if (r == CX_ERR_NOTFOUND)
			cx_error("cannot read public key %s: no such file",
			    what);
		goto out;
	}
	r = cx_sshkey_parse((const char *)cx_buf_str(&b), b.len, what, k);
 out:
	cx_buf_clean_up(&b);
	return r;
}

int
cx_sshkey_check_eic(const struct cx_sshkey *k, const char *what)
{
	if (strcmp(k->type, "ssh-ed25519") == 0)
		return 0;
	if (strcmp(k->type, "ssh-rsa") == 0) {
		if (k->bits >= CX_SSHKEY_EIC_MIN_RSA_BITS)
			return 0;
		cx_error("%s: EC2 Instance Connect refuses %u-bit RSA keys "
		    "(it needs at least %d bits; ed25519 is best)", what,
		    k->bits, CX_SSHKEY_EIC_MIN_RSA_BITS);
		return CX_ERR_INPUT;
	}
	if (has_suffix(k->type, "-cert-v01@openssh.com")) {
		cx_error("%s: EC2 Instance Connect refuses certificates "
		    "('%s'); give the plain public key", what, k->type);
		return CX_ERR_INPUT;
	}
	if (has_prefix(k->type, "sk-")) {
		cx_error("%s: EC2 Instance Connect refuses security-key "
		    "('%s') keys; use an ssh-ed25519 or ssh-rsa key", what,
		    k->type);
		return CX_ERR_INPUT;
	}
	cx_error("%s: EC2 Instance Connect refuses '%s' keys; use an "
	    "ssh-ed25519 or ssh-rsa key", what, k->type);
	return CX_ERR_INPUT;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
cx_sshkey_to_line(const struct cx_sshkey *k, int with_comment, char **out)
{
	struct cx_buf b;
	unsigned char *dst;
	size_t b64len = (k->blob_len + 2) / 3 * 4;
	int r;

	*out = NULL;
	cx_buf_init(&b, 0);
	if ((r = cx_buf_puts(&b, k->type)) != 0 ||
	    (r = cx_buf_putc(&b, ' ')) != 0)
		goto out;
	if ((dst = cx_buf_reserve(&b, b64len, &r)) == NULL)
		goto out;
	EVP_EncodeBlock(dst, k->blob, (int)k->blob_len);
	b.len += b64len;
	b.data[b.len] = '\0';
	if (with_comment && k->comment[0] != '\0' && printable(k->comment)) {
		if ((r = cx_buf_putc(&b, ' ')) != 0 ||
		    (r = cx_buf_puts(&b, k->comment)) != 0)
			goto out;
	}
	*out = cx_buf_steal_str(&b);
	r = *out == NULL ? CX_ERR_NOMEM : 0;
 out:
	cx_buf_clean_up(&b);
	return r;
}

int
cx_sshkey_matches(const struct cx_sshkey *k, const char *selector)
{
	if (has_prefix(selector, "SHA256:"))
		return strcmp(k->fingerprint, selector) == 0;
	return strcmp(k->comment, selector) == 0;
}

void
cx_sshkey_clean_up(struct cx_sshkey *k)
{
	if (k == NULL)
		return;
	free(k->type);
	free(k->blob);
	free(k->comment);
	memset(k, 0, sizeof(*k));
}
