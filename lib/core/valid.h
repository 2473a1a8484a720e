/*
 * Validators for identifiers that pass between the stages and into the
 * files we write (valid.c).  Each returns 1 when the value is well formed,
 * else 0; NULL is never valid.  Whatever a caller checked, the writers
 * check again what would break their file's lines (cx_line_value_valid,
 * cx_line_name_valid), so no caller can inject a line.
 */
#ifndef CX_VALID_H
#define CX_VALID_H

/* "i-" + 8 or 17 hex digits (either case). */
int cx_instance_id_valid(const char *id);

/* An AWS region: 1-32 of [a-z0-9-], starting with a letter, no "--" and
 * no '-' at either end ("eu-west-1", "us-gov-west-1"). */
int cx_region_valid(const char *region);

/* An AWS profile name: 1-128 of [A-Za-z0-9._+@/-] (a word in an INI
 * section header and in the ProxyCommand we write). */
int cx_profile_name_valid(const char *name);

/* An access key id: 1-128 of [A-Z0-9] ("AKIA...", "ASIA..."). */
int cx_access_key_id_valid(const char *id);

/* A secret (secret access key, session token): 1-4096 bytes, none of
 * them a control character (C0, DEL): no CR, LF or NUL can end its line. */
int cx_secret_valid(const char *s);

/* A value for one line of a file we write (INI value, ssh_config
 * argument): no CR, LF (a NUL ends the C string). */
int cx_line_value_valid(const char *s);

/* A name for one line (INI key or section name): non-empty, none of CR,
 * LF, '[' or ']'. */
int cx_line_name_valid(const char *s);

/* A word of an ssh_config line (Host pattern, key name, environment): 1-255
 * bytes, no space or control character, none of #"'\%,*?!`$=. */
int cx_ssh_word_valid(const char *s);

/* A path in an ssh_config line: 1-4096 bytes, no control character, none of
 * "\$`%# (a ' is allowed: such a path is written in double quotes). */
int cx_ssh_path_valid(const char *s);

#endif
