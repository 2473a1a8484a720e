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
/* an upload is written and recorded on the instance in steps of this many
 * bytes (a multiple of CX_CP_ALIGN): what --resume keeps after a kill */
#define CX_CP_UPSTEP		(16 * 1024 * 1024)
/* the first line of an upload's record, DST.cxpart.ranges on the instance */
#define CX_CP_UPRECORD		"cloudx-proxy-cp-up 1"

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
/*
 * upload start: resolves DST (a folder gets /name) and prints "d" or "f";
 * then, with resume, when DST.cxpart and its record DST.cxpart.ranges are
 * there and the record is for this source (size and mtime), "resume" and
 * the record's step lines; otherwise it empties DST.cxpart, writes a new
 * record and prints "new" ("restart" with resume when a partial upload of
 * another source was there).
 */
int cx_cp_cmd_upload_prepare(const char *dst, const char *name,
    uint64_t size, int64_t mtime, int resume, struct cx_buf *b);
/* writes bytes [off, end) of the file, read from stdin, into part (off a
 * multiple of CX_CP_ALIGN), in steps of CX_CP_UPSTEP: each step's data is
 * followed on stdin by the line "k", after which the step "OFF END" is
 * appended to part.ranges.  A step cut short is never recorded. */
int cx_cp_cmd_write_range(const char *part, uint64_t off, uint64_t end,
    struct cx_buf *b);
/* upload end: checks size (and SHA-256 if hex is not NULL: exit 97 on a
 * mismatch), sets mode and mtime, renames part to dst, removes the
 * record */
int cx_cp_cmd_upload_finish(const char *part, const char *dst,
    uint64_t size, unsigned mode, int64_t mtime, const char *hex,
    struct cx_buf *b);

/* the whole upload in one session: resolves DST, starts a new
 * DST.cxpart and record, writes size bytes of stdin as write_range does,
 * checks the size, then (verify) reads a line with the SHA-256 and
 * compares it with the file's, sets mode and mtime, renames */
int cx_cp_cmd_upload_one(const char *dst, const char *name, uint64_t size,
    unsigned mode, int64_t mtime, int verify, struct cx_buf *b);

/*
 * The steps an upload's record says are written (s, len: the lines after
 * "resume"; a last line without its newline, cut by a kill, is ignored)
 * turned into what is missing of [0, size): *out malloc'd (NULL when
 * nothing is missing), *count ranges, in order, each starting on a
 * multiple of CX_CP_ALIGN.  *have receives the bytes already there.
 * CX_ERR_INPUT for a malformed line or a step out of [0, size).
 */
int cx_cp_upload_missing(const char *s, size_t len, uint64_t size,
    struct cx_cp_range **out, int *count, uint64_t *have);
/*
 * Spreads the missing ranges over about n connections: each is split
 * (on CX_CP_ALIGN) in proportion to its size.  *out malloc'd.
 */
int cx_cp_spread(const struct cx_cp_range *miss, int nmiss, int n,
    struct cx_cp_range **out, int *count);

#define CX_CP_EXIT_MISMATCH	97	/* the remote finish: SHA-256 differs */
#define CX_CP_EXIT_SIZE		98	/* the remote finish: size differs */

/* Parses the probe's stat line.  Returns CX_ERR_INPUT if malformed. */
int cx_cp_parse_stat(const char *line, uint64_t *size, unsigned *mode,
    int64_t *mtime, int *is_dir);

#endif
