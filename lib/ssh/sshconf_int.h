/*
 * Internals shared by the sshconf*.c files; not a public API.
 */
#ifndef CX_SSHCONF_INT_H
#define CX_SSHCONF_INT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/shlex.h"

struct sc_line {
	char *raw;		/* bytes including the line end, NUL-terminated */
	size_t len;
};

struct cx_sshconf {
	char *prefix;
	int flags;
	struct sc_line *lines;
	size_t n, cap;
	unsigned char *orig;	/* the bytes as loaded (or last saved) */
	size_t origlen;
	int existed;
	int lockfd;
	const char *eol;	/* "\n" or "\r\n": for lines we add */
};

enum sc_kind { SC_BLANK, SC_COMMENT, SC_DIRECTIVE };

/* One parsed line; pointers borrow from the line's raw bytes. */
struct sc_pl {
	int kind;
	size_t indent;		/* leading blanks */
	const char *kw;		/* keyword, also of a "# Keyword value" comment */
	size_t kwlen;		/* 0: none */
	size_t sep_end;		/* offset of the value in the line */
	const char *val;	/* the value, trailing blanks cut */
	size_t vallen;
	size_t eollen;		/* 0, 1 ("\n") or 2 ("\r\n") */
};

void sc_parse_line(const char *s, size_t len, struct sc_pl *p);
int sc_kw_is(const struct sc_pl *p, const char *kw);

/* Splits a value into words the way ssh's argv_split() does (quotes,
 * backslashes, a word starting with '#' ends the line).  *argvp is a
 * NULL-terminated malloc'd vector of malloc'd strings; *commentp (may be
 * NULL) the text from that '#' on, or NULL. */
int sc_split(const char *s, size_t len, char ***argvp, int *argcp,
    char **commentp);
/* such a vector is freed like shlex's */
#define sc_argv_free(argv) cx_shlex_free(argv)

/* Line storage edits; every one keeps line ends consistent (a line that is
 * no longer last gets m->eol when it had none). */
int sc_insert(struct cx_sshconf *m, size_t pos, const char *text,
    size_t len);
void sc_delete(struct cx_sshconf *m, size_t pos, size_t count);
int sc_replace(struct cx_sshconf *m, size_t idx, const char *text,
    size_t len);
int sc_is_blank(const struct cx_sshconf *m, size_t idx);

/* Block scan */
enum sc_bkind { SB_PRE, SB_FOREIGN, SB_BARRIER, SB_GENERIC, SB_ENV, SB_HOST };

struct sc_blk {
	size_t start;		/* the Host/Match line (0 for the preamble) */
	size_t end;		/* the next block's start */
	size_t body_end;	/* after the last directive line */
	int kind;
	char *env;		/* SB_ENV, SB_HOST */
	char *name;		/* SB_HOST: short name */
	char *pattern;		/* ours: the one pattern */
	char *comment;		/* the Host line's inline comment */
};

struct sc_scan {
	struct sc_blk *b;
	size_t n;
};

int sc_scan(const struct cx_sshconf *m, struct sc_scan *s);
void sc_scan_free(struct sc_scan *s);

/* The diff of two byte strings split into lines. */
int sc_diff(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen, const char *label, struct cx_buf *out);

/* Value quoting for ssh_config: double quotes when it has blanks. */
int sc_quote(const char *s, struct cx_buf *out);

#endif
