/*
 * Windows builds only (`make windows` passes -include lib/core/os_win.h):
 * the few POSIX C library calls mingw-w64's runtime lacks, implemented in
 * os_win.c under their POSIX names, so that code calling them builds
 * unchanged.  (The format attribute's "printf" means Microsoft's printf to
 * mingw's gcc, so -Wformat is left to the POSIX builds; the programs use
 * mingw's C99 stdio, __USE_MINGW_ANSI_STDIO.)
 */
#ifndef CX_OS_WIN_H
#define CX_OS_WIN_H

#include <stddef.h>

char *strndup(const char *s, size_t n);
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);

#endif
