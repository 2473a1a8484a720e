/* libFuzzer target: setup's raw edits of ~/.aws/config and credentials
 * (cx_drv_ini_set in cmd/cloudx-proxy/ini.c).  Properties: every line of the
 * file that is not a line of one of the keys being set is kept, in order
 * and byte for byte; the only lines added are "key = value" lines of the
 * edit, a blank line and the new section header; reading the keys back
 * gives the values set. */
#include <stdio.h>
#include <strings.h>

#include "fuzz.h"

#include "cloudx-proxy/setup.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"

static const char *const keys[] = { "aws_access_key_id",
    "aws_secret_access_key", "region" };
static const char *const vals[] = { "AKIAFUZZ", "c2VjcmV0", "eu-west-1" };

/* Next line of s from *pos: [start, end) with its '\n' if any. */
static int
next_line(const char *s, size_t len, size_t *pos, const char **l, size_t *n)
{
	const char *e;

	if (*pos >= len)
		return 0;
	*l = s + *pos;
	e = memchr(*l, '\n', len - *pos);
	*n = e ? (size_t)(e - *l) + 1 : len - *pos;
	*pos += *n;
	return 1;
}

/* Same line, ignoring a final '\n' the edit may add to the last line. */
static int
same(const char *a, size_t an, const char *b, size_t bn)
{
	if (an > 0 && a[an - 1] == '\n')
		an--;
	if (bn > 0 && b[bn - 1] == '\n')
		bn--;
	return an == bn && memcmp(a, b, an) == 0;
}

static int
is_key_line(const char *l, size_t n, size_t nk)
{
	size_t k, kl;

	for (k = 0; k < nk; k++) {
		kl = strlen(keys[k]);
		if (n >= kl && strncasecmp(l, keys[k], kl) == 0)
			return 1;
	}
	return 0;
}

static int
allowed(const char *l, size_t n, size_t nk, const char *section)
{
	char want[128];
	size_t k;
	int w;

	if (same(l, n, "", 0))
		return 1;
	w = snprintf(want, sizeof(want), "[%s]", section);
	if (same(l, n, want, (size_t)w))
		return 1;
	for (k = 0; k < nk; k++) {
		w = snprintf(want, sizeof(want), "%s = %s", keys[k], vals[k]);
		if (same(l, n, want, (size_t)w))
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = { "default", "profile dev",
	    "dev", "profile a b" };
	struct cx_buf b;
	const char *section, *ol, *nl, *t;
	char *orig, *v;
	size_t nk, op = 0, np = 0, on, nn, k, olen;
	int have;

	cx_log_set_verbosity(-2);
	if (size < 1)
		return 0;
	section = sections[data[0] % 4];
	nk = 1 + (data[0] >> 2) % 3;
	data++;
	size--;
	orig = fz_strndup(data, size);
	olen = size;
	cx_buf_init(&b, 0);
	if (cx_buf_append(&b, data, size) != 0)
		abort();
	if (cx_drv_ini_set(&b, section, keys, vals, nk) != 0)
		goto out;
	t = cx_buf_str(&b);
	/* greedy subsequence match of the kept lines */
	have = next_line(orig, olen, &op, &ol, &on);
	while (next_line(t, b.len, &np, &nl, &nn)) {
		if (have && same(ol, on, nl, nn)) {
			have = next_line(orig, olen, &op, &ol, &on);
			continue;
		}
		FZ_ASSERT(allowed(nl, nn, nk, section));
		/* "key = value" in place of one old line of that key */
		if (have && is_key_line(ol, on, nk) && is_key_line(nl, nn, nk))
			have = next_line(orig, olen, &op, &ol, &on);
	}
	FZ_ASSERT(!have);
	for (k = 0; k < nk; k++) {
		FZ_ASSERT(cx_drv_ini_get(t, section, keys[k], &v) == 0);
		FZ_ASSERT(v != NULL && strcmp(v, vals[k]) == 0);
		free(v);
	}
 out:
	cx_buf_clean_up(&b);
	free(orig);
	return 0;
}
