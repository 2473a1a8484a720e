/*
 * cloudx-proxy cp: copies over N parallel ssh connections, each with its
 * own SSM session (cp.c runs them, -r included; cp_plan.c holds the pure
 * pieces: the range arithmetic, the ranges record, the remote commands and
 * their quoting).
 *
 * Every function returns 0 or a negative CX_ERR_* unless said otherwise.
 */
#ifndef CX_CP_H
#define CX_CP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CX_CP_DEFAULT_JOBS	8
#define CX_CP_MAX_JOBS		32
/* ranges start on multiples of this (uploads seek with dd bs=1M) */
#define CX_CP_ALIGN		(1024 * 1024)
/* a failing connection is retried this many times (its range only) */
#define CX_CP_RETRIES		3
/* the ranges record beside FILE.cxpart: at most this many ranges/bytes */
#define CX_CP_MAX_RANGES	CX_CP_MAX_JOBS
#define CX_CP_RECORD_MAX	(64 * 1024)
/* what a probe, a listing or a remote error may print */
#define CX_CP_MAX_PROBE		(4 * 1024)
#define CX_CP_MAX_LIST		(16 * 1024 * 1024)
#define CX_CP_MAX_ERR		(64 * 1024)
/* -r: a file at least this big gets its own connection(s) */
#define CX_CP_BIG_FILE		(4 * 1024 * 1024)

/* One byte range of a file: [off, end), of which [off, off + done) is
 * written. */
struct cx_cp_range {
	uint64_t off, end, done;
};

/*
 * Splits size bytes into at most n ranges (n >= 1) starting on multiples
 * of align, as equal as alignment allows; a file of 0 bytes has none.
 * out has room for max ranges; *count receives how many.  64-bit safe.
 */
int cx_cp_split(uint64_t size, int n, uint64_t align,
    struct cx_cp_range *out, int max, int *count);

/* The ranges record (text, see docs/cloudx-proxy.md): the remote size and
 * mtime it belongs to, and each range with its bytes done. */
struct cx_cp_record {
	uint64_t size;
	int64_t mtime;
	int count;
	struct cx_cp_range r[CX_CP_MAX_RANGES];
};
int cx_cp_record_format(const struct cx_cp_record *rec, struct cx_buf *b);
/* Strict: any malformed line, a range out of order, overlapping or past
 * size is CX_ERR_INPUT. */
int cx_cp_record_parse(const char *s, size_t len, struct cx_cp_record *rec);

/* Appends s quoted for a POSIX shell ('...' with '\'' for quotes). */
int cx_cp_shquote(const char *s, struct cx_buf *b);

/*
 * Splits an operand: "HOST:PATH" (a ':' before any '/', HOST not starting
 * with '-') is remote: *host and *path are malloc'd (an empty path is ".",
 * a leading "~/" is dropped: commands run in the home folder).  Otherwise
 * local: *host is NULL and *path a copy.
 */
int cx_cp_parse_operand(const char *arg, char **host, char **path);

/* The last component of path ("a/b/" -> "b"); malloc'd. */
int cx_cp_basename(const char *path, char **out);

/* ---- remote commands (sh), built into b ---- */

/* stat line "SIZE MODE(octal) MTIME TYPE..."; then, if verify, the
 * SHA-256 line "HEX  -". */
int cx_cp_cmd_probe(const char *path, int verify, struct cx_buf *b);
/* bytes [off, end) of path to stdout */
int cx_cp_cmd_read_range(const char *path, uint64_t off, uint64_t end,
    struct cx_buf *b);
/* upload start: resolves DST (a folder gets /name), empties DST.cxpart,
 * prints "d" or "f" */
int cx_cp_cmd_upload_prepare(const char *dst, const char *name,
    struct cx_buf *b);
/* writes stdin into part at off (a multiple of CX_CP_ALIGN) */
int cx_cp_cmd_write_range(const char *part, uint64_t off, struct cx_buf *b);
/* upload end: checks size (and SHA-256 if hex is not NULL: exit 97 on a
 * mismatch), sets mode and mtime, renames part to dst */
int cx_cp_cmd_upload_finish(const char *part, const char *dst,
    uint64_t size, unsigned mode, int64_t mtime, const char *hex,
    struct cx_buf *b);

/* the whole upload in one session: resolves DST, reads size bytes of
 * stdin into DST.cxpart, checks the size, then (verify) reads a line with
 * the SHA-256 and compares, sets mode and mtime, renames */
int cx_cp_cmd_upload_one(const char *dst, const char *name, uint64_t size,
    unsigned mode, int64_t mtime, int verify, struct cx_buf *b);

#define CX_CP_EXIT_MISMATCH	97	/* the remote finish: SHA-256 differs */
#define CX_CP_EXIT_SIZE		98	/* the remote finish: size differs */

/* Parses the probe's stat line.  Returns CX_ERR_INPUT if malformed. */
int cx_cp_parse_stat(const char *line, uint64_t *size, unsigned *mode,
    int64_t *mtime, int *is_dir);

#endif
