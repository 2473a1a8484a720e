/*
 * POSIX shell-style word splitting (Python shlex.split() in POSIX mode, no
 * comments): blanks separate words; '...' is literal; "..." keeps its text
 * with backslash escaping only \ and "; a backslash outside
 * quotes makes the next character literal.  No expansion of any kind.
 * Used for AWS config section headers and credential_process commands.
 *
 * Implemented in lib/core/shlex.c.
 */
#ifndef CX_SHLEX_H
#define CX_SHLEX_H

#include <stddef.h>

#define CX_SHLEX_MAX_WORDS	256

/*
 * Splits s into words.  On success *argvp is a malloc'd, NULL-terminated
 * array of malloc'd strings (free with cx_shlex_free) and *argcp the
 * number of words.  Returns 0, CX_ERR_INPUT (unclosed quote, trailing
 * backslash, more than CX_SHLEX_MAX_WORDS words) or CX_ERR_NOMEM.
 * Nothing is logged.
 */
int cx_shlex_split(const char *s, char ***argvp, size_t *argcp);
/* Frees what cx_shlex_split() returned; NULL is fine. */
void cx_shlex_free(char **argv);

#endif
