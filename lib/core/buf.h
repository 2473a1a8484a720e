/*
 * A growable byte buffer with a hard maximum size (like OpenSSH's sshbuf and
 * curl's dynbuf): every input the toolkit reads has a documented limit, and
 * going over it is CX_ERR_TOOBIG, never an allocation failure.
 *
 * A buffer marked secret is wiped whenever its memory is released.
 * The storage is owned by the struct; cx_buf_clean_up() releases it.
 */
#ifndef CX_BUF_H
#define CX_BUF_H

#include <stddef.h>

struct cx_buf {
	unsigned char *data;	/* always NUL-terminated past len when non-NULL */
	size_t len;
	size_t cap;
	size_t max;		/* maximum len; 0 means CX_BUF_DEFAULT_MAX */
	int secret;		/* wipe on release */
};

#define CX_BUF_DEFAULT_MAX	(16u * 1024 * 1024)

void cx_buf_init(struct cx_buf *b, size_t max);
/* Marks the buffer as holding a secret. */
void cx_buf_set_secret(struct cx_buf *b);
/* Returns 0, CX_ERR_TOOBIG or CX_ERR_NOMEM. */
int cx_buf_append(struct cx_buf *b, const void *p, size_t n);
int cx_buf_putc(struct cx_buf *b, int c);
int cx_buf_puts(struct cx_buf *b, const char *s);
int cx_buf_printf(struct cx_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes; returns a pointer to them or NULL (err set). */
unsigned char *cx_buf_reserve(struct cx_buf *b, size_t n, int *err);
/* Drops n bytes from the front. */
void cx_buf_consume(struct cx_buf *b, size_t n);
/* Empties the buffer (wiping if secret), keeping its storage. */
void cx_buf_reset(struct cx_buf *b);
/* NUL-terminated view of the contents ("" when empty); borrowed. */
const char *cx_buf_str(const struct cx_buf *b);
/* Moves the contents out as a malloc'd NUL-terminated string (caller frees;
 * with cx_freezero_str if secret); the buffer is left empty. */
char *cx_buf_steal_str(struct cx_buf *b);
void cx_buf_clean_up(struct cx_buf *b);

/* Value of one hex digit (either case), or -1. */
int cx_hexval(int c);

#endif
