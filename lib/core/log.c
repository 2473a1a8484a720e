#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connlog.h"
#include "log.h"
#include "text.h"

static const char *progname = "cloudx-proxy";
static int verbosity;

void
cx_log_init(const char *name)
{
	const char *slash;

	if (name == NULL || *name == '\0')
		return;
	slash = strrchr(name, '/');
	progname = slash ? slash + 1 : name;
}

const char *
cx_progname(void)
{
	return progname;
}

void
cx_log_set_verbosity(int level)
{
	verbosity = level;
}

int
cx_log_verbosity(void)
{
	return verbosity;
}

static int muted;

void
cx_log_mute(int on)
{
	muted = on;
}

static void __attribute__((format(printf, 3, 0)))
vlog(const char *tag, int is_error, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;
	size_t len;

	if (muted)
		return;
	n = snprintf(line, sizeof(line), "%s: %s", progname, tag ? tag : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	len = (size_t)n + (size_t)m;
	if (len >= sizeof(line) - 1) {
		/* truncated: keep the line whole and mark it */
		len = sizeof(line) - 5;
		memcpy(line + len, "...", 3);
		len += 3;
	}
	/* the arguments may be outside text (AWS messages, tags, paths):
	 * no terminal control sequence, one line */
	len = cx_text_sanitise(line, len, 0);
	if (is_error)
		cx_connlog_error(line, len);	/* the connect's record */
	line[len++] = '\n';
	/* one write, so lines from several processes do not interleave */
	(void)!write(STDERR_FILENO, line, len);
}

void
cx_vlog(const char *tag, const char *fmt, va_list ap)
{
	vlog(tag, 0, fmt, ap);
}

void
cx_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 1, fmt, ap);
	va_end(ap);
}

void
cx_warn(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < -1)
		return;
	va_start(ap, fmt);
	cx_vlog("warning: ", fmt, ap);
	va_end(ap);
}

void
cx_info(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 0)
		return;
	va_start(ap, fmt);
	cx_vlog(NULL, fmt, ap);
	va_end(ap);
}

void
cx_debug(int level, const char *fmt, ...)
{
	va_list ap;

	if (verbosity < level)
		return;
	va_start(ap, fmt);
	cx_vlog("debug: ", fmt, ap);
	va_end(ap);
}
