/*
 * Messages for humans, all on stderr, one write(2) per line.
 *
 * Lines look like "cx-instance: cannot start 'i-0abc': UnauthorizedOperation"
 * (program name, lowercase text, no final period).  Never pass a secret to
 * any of these functions.
 */
#ifndef CX_LOG_H
#define CX_LOG_H

#include <stdarg.h>

/* Sets the program name used as prefix (a pointer to static storage). */
void cx_log_init(const char *progname);
const char *cx_progname(void);

/* 0: errors, warnings and progress; 1: -v; 2: -vv; -1: errors only (-q). */
void cx_log_set_verbosity(int level);
int cx_log_verbosity(void);

void cx_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cx_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress lines ("Starting instance..."), shown unless -q. */
void cx_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug lines, shown at verbosity >= level. */
void cx_debug(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* on: every line is dropped (a check made twice, whose second run says
 * what is wrong), including errors; off: back to normal. */
void cx_log_mute(int on);
void cx_vlog(const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
