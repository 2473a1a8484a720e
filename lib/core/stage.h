/*
 * The stage contract: a stage reads at most one JSON object on stdin, keeps
 * every key it does not own, adds its own, and writes one JSON object and a
 * newline on stdout.  Nothing else goes to stdout.
 */
#ifndef CX_STAGE_H
#define CX_STAGE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define CX_STAGE_MAX_INPUT	(1024 * 1024)	/* bytes of JSON on stdin */

/*
 * Reads one JSON object from fd (at most CX_STAGE_MAX_INPUT bytes; nothing
 * but whitespace may follow it).  Empty input, or a terminal on fd, gives an
 * empty object.  *out is owned by the caller (free with
 * cx_json_delete_secure).  Errors: CX_ERR_INPUT (not JSON, not an object,
 * trailing junk: logged), CX_ERR_TOOBIG, CX_ERR_IO.
 */
int cx_stage_read(int fd, cJSON **out);
/* The same rules on len bytes at data (which need not be NUL-terminated). */
int cx_stage_parse(const char *data, size_t len, cJSON **out);

/*
 * Prints doc on stdout as one JSON document plus a newline, then flushes
 * and checks that the write really happened.  The printed text is wiped.
 * Returns 0 or CX_ERR_IO (logged).
 */
int cx_stage_write(const cJSON *doc);

/* Wipes the string values of every secret key anywhere in doc
 * (SecretAccessKey, SessionToken, TokenValue, accessToken, ...). */
void cx_json_wipe_secrets(cJSON *doc);
/* cx_json_wipe_secrets() then cJSON_Delete(); NULL is fine. */
void cx_json_delete_secure(cJSON *doc);

/* Borrowed string value of doc[key], or NULL if absent or not a string. */
const char *cx_json_str(const cJSON *doc, const char *key);
/* Replaces doc[key] with a string / number / bool; returns 0 or CX_ERR_NOMEM. */
int cx_json_set_str(cJSON *doc, const char *key, const char *val);
int cx_json_set_num(cJSON *doc, const char *key, double val);
int cx_json_set_bool(cJSON *doc, const char *key, int val);
/* *out = a malloc'd copy of the string doc[key], or NULL when it is
 * missing, not a string or empty.  Returns 0 or CX_ERR_NOMEM. */
int cx_json_dup_str(const cJSON *doc, const char *key, char **out);
/* Replaces doc[key] with item (ownership of item moves to doc). */
int cx_json_set(cJSON *doc, const char *key, cJSON *item);

#endif
