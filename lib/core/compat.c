/*
 * The OS layer's C library extras: what BSD and glibc have and strict
 * POSIX does not (reallocarray, asprintf, memmem, timegm, a wipe the
 * compiler keeps).  Each uses the system's own function when
 * lib/core/probe.sh found it (config.h), else a portable fallback;
 * `make PORTABLE=1` forces the fallbacks.
 */
/* memset_s, where the C library has Annex K */
#define __STDC_WANT_LIB_EXT1__ 1
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "os.h"

void *
cx_reallocarray(void *p, size_t n, size_t size)
{
#if HAVE_REALLOCARRAY
	return reallocarray(p, n, size);
#else
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
#endif
}

int
cx_vasprintf(char **out, const char *fmt, va_list ap)
{
#if HAVE_ASPRINTF
	int n = vasprintf(out, fmt, ap);

	if (n < 0)
		*out = NULL;
	return n;
#else
	va_list ap2;
	char *s;
	int n;

	*out = NULL;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((s = malloc((size_t)n + 1)) == NULL)
		return -1;
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) != n) {
		free(s);
		return -1;
	}
	*out = s;
	return n;
#endif
}

void *
cx_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
#if HAVE_MEMMEM
	return memmem(hay, hlen, needle, nlen);
#else
	const unsigned char *h = hay, *n = needle;
	size_t i;

	if (nlen == 0)
		return (void *)(uintptr_t)hay;
	if (hlen < nlen)
		return NULL;
	for (i = 0; i <= hlen - nlen; i++) {
		if (h[i] == n[0] && memcmp(h + i, n, nlen) == 0)
			return (void *)(uintptr_t)(h + i);
	}
	return NULL;
#endif
}

#if !HAVE_TIMEGM
/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1-12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}
#endif

time_t
cx_timegm(struct tm *tm)
{
#if HAVE_TIMEGM
	return timegm(tm);
#else
	int64_t y = (int64_t)tm->tm_year + 1900, days, secs;
	int mon = tm->tm_mon;

	/* the fields are normalised the way timegm does for months */
	y += mon / 12;
	mon %= 12;
	if (mon < 0) {
		mon += 12;
		y--;
	}
	days = days_from_civil(y, mon + 1, 1) + tm->tm_mday - 1;
	secs = days * 86400 + (int64_t)tm->tm_hour * 3600 +
	    (int64_t)tm->tm_min * 60 + tm->tm_sec;
	if ((time_t)secs != secs)
		return (time_t)-1;
	return (time_t)secs;
#endif
}

void
cx_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
#if HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#elif HAVE_MEMSET_S
	(void)memset_s(p, n, 0, n);
#else
	{
		/* a volatile pointer: every store must be made */
		volatile unsigned char *v = p;

		while (n-- > 0)
			*v++ = 0;
	}
#endif
}
