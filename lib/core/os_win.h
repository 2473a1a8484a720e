/*
 * Windows builds only (`make windows` passes -include lib/core/os_win.h):
 * the few POSIX C library calls mingw-w64's runtime lacks, implemented in
 * os_win.c under their POSIX names, so that code calling them builds
 * unchanged, and getenv made to speak UTF-8 as the rest of the code does.
 * (The format attribute's "printf" means Microsoft's printf to mingw's
 * gcc, so -Wformat is left to the POSIX builds; the programs use mingw's
 * C99 stdio, __USE_MINGW_ANSI_STDIO.)
 */
#ifndef CX_OS_WIN_H
#define CX_OS_WIN_H

#include <stddef.h>
#include <stdlib.h>

char *strndup(const char *s, size_t n);
/* getenv in UTF-8 (the C runtime's is in the ANSI code page, which cannot
 * hold every user's folder name): the value stays valid until the
 * variable is changed through setenv/unsetenv */
char *cx_win_getenv(const char *name);
#define getenv(name)	cx_win_getenv(name)
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);

#endif
