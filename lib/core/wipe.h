/*
 * Wiping secrets.  Declared apart from os.h so that the buffers (buf.c),
 * which os.h's file and process functions fill, need nothing else of the
 * OS layer: buf.c includes this header, os.h includes buf.h, and there is
 * no circle.  The OS layer implements them (os_posix.c), since the call
 * the compiler may not remove differs between systems.
 */
#ifndef CX_WIPE_H
#define CX_WIPE_H

#include <stddef.h>

/* Wipes memory in a way the compiler cannot optimise away. */
void cx_wipe(void *p, size_t n);
/* Wipes then frees; NULL is fine. */
void cx_freezero(void *p, size_t n);
/* Wipes a NUL-terminated string, then frees it; NULL is fine. */
void cx_freezero_str(char *s);

#endif
