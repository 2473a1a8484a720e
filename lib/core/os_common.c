/*
 * The OS layer's functions that are the same on every system (plain ISO C
 * over the rest of the layer): compiled for POSIX systems and Windows
 * alike, beside os_posix.c or os_win.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxerr.h"
#include "os.h"

void
cx_freezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	cx_wipe(p, n);
	free(p);
}

void
cx_freezero_str(char *s)
{
	if (s == NULL)
		return;
	cx_freezero(s, strlen(s));
}

static const char *const os_names[] = { "linux", "macos", "windows" };

const char *
cx_os_name(enum cx_os os)
{
	return (unsigned)os < 3 ? os_names[os] : "unknown";
}

int
cx_os_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < 3; i++) {
		if (strcmp(name, os_names[i]) == 0)
			return i;
	}
	return -1;
}

int
cx_uuid4(char out[37])
{
	unsigned char b[16];
	int r;

	if ((r = cx_random_bytes(b, sizeof(b))) != 0)
		return r;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int
cx_path_join(const char *a, const char *b, char **out)
{
	size_t la = strlen(a);
	int n;

	*out = NULL;
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	n = cx_asprintf(out, "%.*s/%s", (int)la, a, b);
	if (n < 0) {
		*out = NULL;
		return CX_ERR_NOMEM;
	}
	return 0;
}

int
cx_expand_user(const char *path, char **out)
{
	char *home = NULL;
	int r;

	*out = NULL;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		if ((r = cx_home_dir(&home)) != 0)
			return r;
		r = path[1] ? cx_path_join(home, path + 2, out) :
		    ((*out = strdup(home)) ? 0 : CX_ERR_NOMEM);
		free(home);
		return r;
	}
	if ((*out = strdup(path)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

int
cx_strtonum(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return CX_ERR_INPUT;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return CX_ERR_INPUT;
	*out = v;
	return 0;
}

static int
two_digits(const char *p)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* Up to max digits at *pp as an int in [lo, hi]; -1 if none or out of
 * range.  Advances *pp. */
static int
digits(const char **pp, int max, int lo, int hi)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (n < max && isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || v < lo || v > hi)
		return -1;
	*pp = p;
	return v;
}

/* "YYYY-MM-DDTHH:MM:SS" (what strptime's "%Y-%m-%dT%H:%M:%S" takes, in
 * ISO C: strptime is not in every C library) into tm; the rest of s, or
 * NULL. */
static const char *
parse_ymdhms(const char *s, struct tm *tm)
{
	const char *p = s;
	int v[6], i;
	static const struct { int max, lo, hi; char sep; } f[6] = {
		{ 4, 0, 9999, '-' }, { 2, 1, 12, '-' }, { 2, 1, 31, 'T' },
		{ 2, 0, 23, ':' }, { 2, 0, 59, ':' }, { 2, 0, 61, '\0' },
	};

	for (i = 0; i < 6; i++) {
		if ((v[i] = digits(&p, f[i].max, f[i].lo, f[i].hi)) < 0)
			return NULL;
		if (f[i].sep != '\0' && *p++ != f[i].sep)
			return NULL;
	}
	tm->tm_year = v[0] - 1900;
	tm->tm_mon = v[1] - 1;
	tm->tm_mday = v[2];
	tm->tm_hour = v[3];
	tm->tm_min = v[4];
	tm->tm_sec = v[5];
	return p;
}

int
cx_parse_iso8601(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int off = 0, hh, mm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = parse_ymdhms(s, &tm);
	if (p == NULL || !isdigit((unsigned char)s[0]) ||
	    tm.tm_year < 70 || tm.tm_year > 9999 - 1900)
		return CX_ERR_INPUT;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/* exactly +HH:MM or +HHMM */
		/* (two_digits stops at a NUL: nothing past the end is read) */
		if ((hh = two_digits(p + 1)) < 0 || hh > 23)
			return CX_ERR_INPUT;
		mm = p[3] == ':' ? two_digits(p + 4) : two_digits(p + 3);
		if (mm < 0 || mm > 59)
			return CX_ERR_INPUT;
		off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
		p += p[3] == ':' ? 6 : 5;
	}
	if (*p != '\0')
		return CX_ERR_INPUT;
	if ((t = cx_timegm(&tm)) == (time_t)-1)
		return CX_ERR_INPUT;
	*out = t - off;
	return 0;
}

/* cx_vasprintf is the OS layer's (compat.c, os_win.c) */
int
cx_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = cx_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}
