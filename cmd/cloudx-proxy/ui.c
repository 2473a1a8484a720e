/*
 * setup's conversation: prompts with defaults ("<msg> [<default>]: "), the
 * --yes mode that takes every default or fails naming what is missing, and
 * the status lines ("  ✓ text").  Everything goes to stderr; answers are
 * read from stdin one byte at a time (nothing is buffered away from the
 * children that share it, such as ssh-keygen).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/text.h"
#include "driver.h"
#include "setup.h"

static void
emit(const char *s, size_t n)
{
	(void)!write(STDERR_FILENO, s, n);
}

/* One line on stderr in one write: prefix, fmt's text (sanitised: the
 * arguments may be outside text, tags, names, paths; line feeds kept when
 * keep_lf), a newline. */
static void __attribute__((format(printf, 3, 0)))
vline(const char *prefix, int keep_lf, const char *fmt, va_list ap)
{
	struct cx_buf b;
	char *s = NULL;
	int n;

	if ((n = cx_vasprintf(&s, fmt, ap)) < 0)
		return;
	cx_text_sanitise(s, (size_t)n, keep_lf);
	cx_buf_init(&b, 0);
	cx_buf_puts(&b, prefix);
	cx_buf_puts(&b, s);
	cx_buf_putc(&b, '\n');
	emit(cx_buf_str(&b), b.len);
	cx_buf_clean_up(&b);
	free(s);
}

void
cx_drv_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", 1, fmt, ap);
	va_end(ap);
}

void
cx_drv_status(int indent, int kind, const char *fmt, ...)
{
	static const char *const sym[] = { "\xe2\x97\x8b", "\xe2\x9c\x93",
	    "\xe2\x9c\x97", "!" };
	char prefix[80];
	va_list ap;

	if (kind < 0 || kind > 3)
		kind = 0;
	snprintf(prefix, sizeof(prefix), "%*s%s ", indent, "", sym[kind]);
	va_start(ap, fmt);
	vline(prefix, 0, fmt, ap);
	va_end(ap);
}

void
cx_drv_header(const char *title)
{
	cx_drv_say("\n\n=== %s ===", title);
}

/* Reads one line from fd 0 into *out (malloc'd, without the newline,
 * trimmed).  EOF before any byte: CX_ERR_CANCELLED. */
static int
read_line(char **out, int secret)
{
	struct cx_buf b;
	char c;
	ssize_t n;
	size_t s, e;
	int r = 0, got = 0;

	*out = NULL;
	cx_buf_init(&b, CX_DRV_MAX_ANSWER);
	if (secret)
		cx_buf_set_secret(&b);
	for (;;) {
		n = read(STDIN_FILENO, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got = 1;
		if (c == '\n')
			break;
		if ((r = cx_buf_putc(&b, c)) != 0) {
			cx_error("answer longer than %d bytes",
			    CX_DRV_MAX_ANSWER);
			goto out;
		}
	}
	if (!got) {
		r = CX_ERR_CANCELLED;
		goto out;
	}
	s = 0;
	e = b.len;
	while (s < e && strchr(" \t\r", cx_buf_str(&b)[s]) != NULL)
		s++;
	while (e > s && strchr(" \t\r", cx_buf_str(&b)[e - 1]) != NULL)
		e--;
	if ((*out = strndup(cx_buf_str(&b) + s, e - s)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	cx_buf_clean_up(&b);
	return r;
}

int
cx_drv_prompt(const struct cx_drv_ui *ui, const char *msg, const char *dflt,
    char **out)
{
	struct cx_buf b;
	char *ans = NULL;
	int r;

	*out = NULL;
	if (ui->yes) {
		if (dflt == NULL || *dflt == '\0') {
			cx_drv_status(0, CX_DRV_BAD,
			    "%s: No default value available", msg);
			cx_error("non-interactive mode requires a value for: "
			    "%s", msg);
			return CX_ERR_USAGE;
		}
		cx_drv_status(0, CX_DRV_INFO, "%s: Using default [%s]", msg,
		    dflt);
		return (*out = strdup(dflt)) ? 0 : CX_ERR_NOMEM;
	}
	cx_buf_init(&b, 0);
	if (dflt != NULL && *dflt != '\0')
		cx_buf_printf(&b, "%s [%s]: ", msg, dflt);
	else
		cx_buf_printf(&b, "%s: ", msg);
	if (b.data != NULL)	/* the default may come from a tag */
		b.len = cx_text_sanitise((char *)b.data, b.len, 0);
	for (;;) {
		emit(cx_buf_str(&b), b.len);
		if ((r = read_line(&ans, 0)) != 0) {
			if (r == CX_ERR_CANCELLED)
				cx_error("no answer for: %s", msg);
			break;
		}
		if (*ans == '\0' && dflt != NULL && *dflt != '\0') {
			free(ans);
			ans = strdup(dflt);
			if (ans == NULL)
				r = CX_ERR_NOMEM;
			break;
		}
		if (*ans != '\0')
			break;
		free(ans);
		ans = NULL;
	}
	cx_buf_clean_up(&b);
	if (r == 0) {
		*out = ans;
		ans = NULL; /* transferred */
	}
	free(ans);
	return r;
}

int
cx_drv_prompt_secret(const struct cx_drv_ui *ui, const char *msg, char **out)
{
	void *tty = NULL;
	int r;

	*out = NULL;
	if (ui->yes) {
		cx_drv_status(0, CX_DRV_BAD, "%s: No default value available",
		    msg);
		cx_error("non-interactive mode requires a value for: %s", msg);
		return CX_ERR_USAGE;
	}
	/* not echoed when stdin is a terminal */
	(void)cx_tty_echo_off(0, &tty);
	emit(msg, strlen(msg));
	emit(": ", 2);
	do {
		r = read_line(out, 1);
		if (r == 0 && **out == '\0') {
			free(*out);
			*out = NULL;
			emit(msg, strlen(msg));
			emit(": ", 2);
			continue;
		}
	} while (r == 0 && *out == NULL);
	cx_tty_restore(0, tty);
	if (r == CX_ERR_CANCELLED)
		cx_error("no answer for: %s", msg);
	return r;
}

int
cx_drv_confirm(const struct cx_drv_ui *ui, const char *msg, int dflt_yes)
{
	char *ans = NULL;
	int r;

	if (ui->yes) {
		cx_drv_status(0, CX_DRV_INFO, "%s: Using default [%s]", msg,
		    dflt_yes ? "Y" : "n");
		return dflt_yes;
	}
	if ((r = cx_drv_prompt(ui, msg, dflt_yes ? "Y" : "n", &ans)) != 0)
		return r;
	r = (ans[0] == 'y' || ans[0] == 'Y') ? 1 :
	    (ans[0] == 'n' || ans[0] == 'N') ? 0 : dflt_yes;
	free(ans);
	return r;
}
