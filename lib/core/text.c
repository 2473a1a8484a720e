/*
 * The sanitiser for outside text shown on a terminal or in a log.  See
 * text.h for the rules.
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* C1 controls and the bidi overrides that reorder what follows. */
static int
unsafe_char(const unsigned char *p, size_t len)
{
	if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
		return 1;
	if (len == 3 && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa &&
	    p[2] <= 0xae)
		return 1;
	if (len == 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 &&
	    p[2] <= 0xa9)
		return 1;
	return 0;
}

size_t
cx_text_sanitise(char *s, size_t n, int keep_lf)
{
	unsigned char *p = (unsigned char *)s;
	size_t i = 0, o = 0, len;

	if (s == NULL)
		return 0;
	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] == '\n' && keep_lf)
				p[o++] = '\n';
			else if (p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
				p[o++] = ' ';
			else if (p[i] < 0x20 || p[i] == 0x7f)
				p[o++] = '?';
			else
				p[o++] = p[i];
			i++;
			continue;
		}
		if ((len = utf8_len(p + i, n - i)) == 0) {
			p[o++] = '?';
			i++;
			continue;
		}
		if (unsafe_char(p + i, len)) {
			p[o++] = '?';
		} else {
			memmove(p + o, p + i, len);
			o += len;
		}
		i += len;
	}
	if (o < n)
		s[o] = '\0';
	return o;
}

char *
cx_text_safe_dup(const char *s, size_t max)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (n > max)
		n = max;
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	cx_text_sanitise(d, n, 0);
	return d;
}
