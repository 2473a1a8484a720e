/*
 * Validators for identifiers that pass between the stages and into the
 * files we write (valid.c).  Each returns 1 when the value is well formed,
 * else 0; NULL is never valid.
 */
#ifndef CX_VALID_H
#define CX_VALID_H

/* "i-" + 8 or 17 hex digits (either case). */
int cx_instance_id_valid(const char *id);

#endif
