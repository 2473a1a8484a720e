/*
 * The one sanitiser for text that came from outside (AWS answers and their
 * error messages, tags, stage JSON on stdin, file contents, names, paths)
 * before it reaches a terminal or a log (text.c).  cx_vlog() passes every
 * message through it; so do the driver's status lines and the lists.
 *
 * Rules, byte by byte over UTF-8:
 *   TAB, CR, LF                -> ' ' (LF kept when keep_lf)
 *   other C0 (ESC, BEL...), DEL -> '?'
 *   C1 controls U+0080-U+009F  -> '?'
 *   bidi overrides U+202A-U+202E, U+2066-U+2069 -> '?'
 *   a byte that does not start a well-formed UTF-8 sequence -> '?'
 *   everything else (printable ASCII, valid UTF-8) unchanged
 * The result is never longer than the input.
 */
#ifndef CX_TEXT_H
#define CX_TEXT_H

#include <stddef.h>

/* Sanitises s[0..n) in place; returns the new length, and puts a NUL
 * there when it is shorter than n (a string stays a string). */
size_t cx_text_sanitise(char *s, size_t n, int keep_lf);

/* A sanitised copy of at most max bytes of s (malloc'd), or NULL (no
 * memory, or s NULL). */
char *cx_text_safe_dup(const char *s, size_t max);

#endif
