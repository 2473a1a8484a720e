/*
 * The INI dialect of the AWS CLI v2 config and credentials files (Python
 * RawConfigParser, strict, plus botocore's sub-sections):
 *
 * - whole-line comments only: a line whose first non-blank character is
 *   '#' or ';'.  "region = us-east-1 # x" has the value "us-east-1 # x";
 * - "key = value" or "key: value" (the first '=' or ':' splits); blanks
 *   around keys and values are dropped; a line without either is an error;
 * - keys are lower-cased (ASCII); section names are case-sensitive and
 *   kept exactly as written between the first '[' and the last ']';
 * - a line indented deeper than its key line continues the value
 *   ("first\nsecond"); blank lines inside a continued value are kept,
 *   trailing ones dropped;
 * - "key =" followed by indented "name = value" lines is a sub-section
 *   (one level, e.g. "ec2 =\n  endpoint_url = http://...");
 * - a duplicate section or a duplicate key within one section is an error;
 * - [DEFAULT] keys are visible in every section (configparser does that);
 * - CRLF line ends are accepted; NUL bytes are refused;
 * - files are at most CX_INI_MAX_SIZE bytes.
 *
 * All values are treated as possibly secret: they are wiped when freed.
 * Implemented in lib/aws/ini.c.
 */
#ifndef CX_INI_H
#define CX_INI_H

#include <stddef.h>

#define CX_INI_MAX_SIZE	(1024 * 1024)

struct cx_ini_sub {
	char *key;		/* as written (not lower-cased) */
	char *value;
};

struct cx_ini_entry {
	char *key;		/* lower-cased */
	char *value;		/* continued lines joined with '\n' */
	struct cx_ini_sub *sub;	/* sub-section entries, or NULL */
	size_t nsub;
	int line;
};

struct cx_ini_section {
	char *name;		/* raw header text, e.g. "profile dev" */
	struct cx_ini_entry *ent;
	size_t nent;
	int line;
};

struct cx_ini {
	char *path;		/* for messages */
	struct cx_ini_section *sec;	/* in file order; DEFAULT excluded */
	size_t nsec;
	struct cx_ini_section *defaults;	/* [DEFAULT], or NULL */
};

struct cx_ini_error {
	int line;		/* 1-based; 0 if not about one line */
	char msg[256];		/* e.g. "duplicate key 'region' in section
				 * 'profile a'" */
};

/*
 * Parses len bytes of text.  path is used in messages only (may be NULL).
 * On success *out is owned by the caller (cx_ini_free).  Returns 0,
 * CX_ERR_CONFIG (syntax error, described in *err if err is not NULL; not
 * logged), CX_ERR_TOOBIG or CX_ERR_NOMEM.
 */
int cx_ini_parse(const char *text, size_t len, const char *path,
    struct cx_ini **out, struct cx_ini_error *err);

/*
 * Reads and parses the file at path.  A missing file returns
 * CX_ERR_NOTFOUND and logs nothing; every other failure logs one line
 * naming the file (and line): CX_ERR_CONFIG, CX_ERR_IO, CX_ERR_TOOBIG.
 */
int cx_ini_load(const char *path, struct cx_ini **out);

/* Wipes and frees; NULL is fine. */
void cx_ini_free(struct cx_ini *ini);

/* The section whose raw name is name, or NULL (borrowed). */
const struct cx_ini_section *cx_ini_section(const struct cx_ini *ini,
    const char *name);
/* The entry key (lower case) of s, else of [DEFAULT]; NULL if absent. */
const struct cx_ini_entry *cx_ini_entry(const struct cx_ini *ini,
    const struct cx_ini_section *s, const char *key);
/* The value of cx_ini_entry(), or NULL (borrowed). */
const char *cx_ini_get(const struct cx_ini *ini,
    const struct cx_ini_section *s, const char *key);
/* The value of key in a sub-section entry, or NULL (borrowed). */
const char *cx_ini_sub_get(const struct cx_ini_entry *e, const char *key);

/*
 * If the raw section name is "<kind> <name>" once split shell-style
 * (exactly two words, the first equal to kind), sets *namep to a malloc'd
 * copy of the name and returns 1.  Returns 0 if it is not, or
 * CX_ERR_NOMEM.  "[profile  a ]" gives "a", "[profile \"a b\"]" gives
 * "a b"; "[ profile a]" and "[profilea]" are not profiles.
 */
int cx_ini_header_name(const char *raw, const char *kind, char **namep);

#endif
