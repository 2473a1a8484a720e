#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cxerr.h"
#include "wipe.h"

void
cx_buf_init(struct cx_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : CX_BUF_DEFAULT_MAX;
}

void
cx_buf_set_secret(struct cx_buf *b)
{
	b->secret = 1;
}

unsigned char *
cx_buf_reserve(struct cx_buf *b, size_t n, int *err)
{
	size_t need, ncap;
	unsigned char *p;

	if (b->max == 0)
		b->max = CX_BUF_DEFAULT_MAX;
	if (n > b->max || b->len > b->max - n) {
		*err = CX_ERR_TOOBIG;
		return NULL;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap *= 2;
		if (ncap > b->max + 1)
			ncap = b->max + 1;
		if (b->secret) {
			/* never leave a copy of a secret behind in freed memory */
			if ((p = malloc(ncap)) == NULL) {
				*err = CX_ERR_NOMEM;
				return NULL;
			}
			if (b->data) {
				memcpy(p, b->data, b->len);
				cx_freezero(b->data, b->cap);
			}
		} else if ((p = realloc(b->data, ncap)) == NULL) {
			*err = CX_ERR_NOMEM;
			return NULL;
		}
		b->data = p;
		b->cap = ncap;
	}
	*err = 0;
	return b->data + b->len;
}

int
cx_buf_append(struct cx_buf *b, const void *p, size_t n)
{
	unsigned char *dst;
	int err;

	if ((dst = cx_buf_reserve(b, n, &err)) == NULL)
		return err;
	if (n)
		memcpy(dst, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
cx_buf_putc(struct cx_buf *b, int c)
{
	unsigned char ch = (unsigned char)c;

	return cx_buf_append(b, &ch, 1);
}

int
cx_buf_puts(struct cx_buf *b, const char *s)
{
	return cx_buf_append(b, s, strlen(s));
}

int
cx_buf_printf(struct cx_buf *b, const char *fmt, ...)
{
	va_list ap;
	unsigned char *dst;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CX_ERR_INTERNAL;
	if ((dst = cx_buf_reserve(b, (size_t)n, &err)) == NULL)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
cx_buf_consume(struct cx_buf *b, size_t n)
{
	if (n >= b->len) {
		cx_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	if (b->secret)
		cx_wipe(b->data + b->len - n, n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
cx_buf_reset(struct cx_buf *b)
{
	if (b->data) {
		if (b->secret)
			cx_wipe(b->data, b->cap);
		b->data[0] = '\0';
	}
	b->len = 0;
}

const char *
cx_buf_str(const struct cx_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

char *
cx_buf_steal_str(struct cx_buf *b)
{
	char *s;

	if (b->data == NULL) {
		if ((s = strdup("")) == NULL)
			return NULL;
		return s;
	}
	s = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void
cx_buf_clean_up(struct cx_buf *b)
{
	if (b->data) {
		if (b->secret)
			cx_freezero(b->data, b->cap);
		else
			free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

int
cx_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
