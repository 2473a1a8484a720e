/*
 * cloudx-proxy cp, the pure pieces: ranges, the ranges record, operands,
 * and the remote commands with their quoting (cp.h).  No I/O here, so the
 * unit tests cover it all (tests/unit/test_cp.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cxerr.h"
#include "cp.h"

int
cx_cp_split(uint64_t size, int n, uint64_t align, struct cx_cp_range *out,
    int max, int *count)
{
	uint64_t blocks, k, i;

	*count = 0;
	if (n < 1 || align == 0 || max < 1)
		return CX_ERR_INTERNAL;
	if (size == 0)
		return 0;
	blocks = size / align + (size % align != 0);
	k = (uint64_t)(n < max ? n : max);
	if (k > blocks)
		k = blocks;
	for (i = 0; i < k; i++) {
		/* blocks * i cannot overflow: blocks < 2^64 / align and
		 * i < CX_CP_MAX_JOBS */
		uint64_t b0 = blocks / k * i + (i < blocks % k ? i : blocks % k);
		uint64_t b1 = b0 + blocks / k + (i < blocks % k);
		out[i].off = b0 * align;
		/* b1 < blocks: b1 * align < size, no overflow */
		out[i].end = b1 >= blocks ? size : b1 * align;
		out[i].done = 0;
	}
	*count = (int)k;
	return 0;
}

int
cx_cp_record_format(const struct cx_cp_record *rec, struct cx_buf *b)
{
	int i, r;

	if ((r = cx_buf_printf(b, "cloudx-proxy-cp 1\nsize %" PRIu64
	    "\nmtime %" PRId64 "\nranges %d\n", rec->size, rec->mtime,
	    rec->count)) != 0)
		return r;
	for (i = 0; i < rec->count; i++)
		if ((r = cx_buf_printf(b, "%" PRIu64 " %" PRIu64 " %" PRIu64
		    "\n", rec->r[i].off, rec->r[i].end, rec->r[i].done)) != 0)
			return r;
	return 0;
}

/* One decimal number at *p followed by sep; advances *p. */
static int
num(const char **p, const char *e, char sep, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (s >= e || *s < '0' || *s > '9')
		return CX_ERR_INPUT;
	while (s < e && *s >= '0' && *s <= '9') {
		if (x > (UINT64_MAX - 9) / 10)
			return CX_ERR_INPUT;
		x = x * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (s >= e || *s != sep)
		return CX_ERR_INPUT;
	*p = s + 1;
	*v = x;
	return 0;
}

static int
word(const char **p, const char *e, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(e - *p) < n || memcmp(*p, w, n) != 0)
		return CX_ERR_INPUT;
	*p += n;
	return 0;
}

int
cx_cp_record_parse(const char *s, size_t len, struct cx_cp_record *rec)
{
	const char *p = s, *e = s + len;
	uint64_t v, prev_end = 0;
	int i;

	memset(rec, 0, sizeof(*rec));
	if (len > CX_CP_RECORD_MAX || word(&p, e, "cloudx-proxy-cp 1\nsize ") ||
	    num(&p, e, '\n', &rec->size) || word(&p, e, "mtime ") ||
	    num(&p, e, '\n', &v) || v > INT64_MAX)
		return CX_ERR_INPUT;
	rec->mtime = (int64_t)v;
	if (word(&p, e, "ranges ") || num(&p, e, '\n', &v) ||
	    v > CX_CP_MAX_RANGES)
		return CX_ERR_INPUT;
	rec->count = (int)v;
	for (i = 0; i < rec->count; i++) {
		struct cx_cp_range *g = &rec->r[i];
		if (num(&p, e, ' ', &g->off) || num(&p, e, ' ', &g->end) ||
		    num(&p, e, '\n', &g->done))
			return CX_ERR_INPUT;
		if (g->off < prev_end || g->end <= g->off ||
		    g->end > rec->size || g->done > g->end - g->off)
			return CX_ERR_INPUT;
		prev_end = g->end;
	}
	return p == e ? 0 : CX_ERR_INPUT;
}

int
cx_cp_shquote(const char *s, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_putc(b, '\'')) != 0)
		return r;
	for (; *s; s++) {
		if (*s == '\'')
			r = cx_buf_puts(b, "'\\''");
		else
			r = cx_buf_putc(b, *s);
		if (r != 0)
			return r;
	}
	return cx_buf_putc(b, '\'');
}

int
cx_cp_parse_operand(const char *arg, char **host, char **path)
{
	const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');
	const char *p;

	*host = *path = NULL;
	if (colon == NULL || colon == arg || (slash != NULL && slash < colon)) {
		if (*arg == '\0')
			return CX_ERR_USAGE;
		return (*path = strdup(arg)) == NULL ? CX_ERR_NOMEM : 0;
	}
	if (*arg == '-')
		return CX_ERR_USAGE;
	for (p = arg; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '\'' || *p == '"' ||
		    *p == '\\')
			return CX_ERR_USAGE;
	if ((*host = strndup(arg, (size_t)(colon - arg))) == NULL)
		return CX_ERR_NOMEM;
	p = colon + 1;
	if (strncmp(p, "~/", 2) == 0)
		p += 2;
	else if (strcmp(p, "~") == 0)
		p += 1;
	if (*p == '\0')
		p = ".";
	if ((*path = strdup(p)) == NULL) {
		free(*host);
		*host = NULL;
		return CX_ERR_NOMEM;
	}
	return 0;
}

int
cx_cp_basename(const char *path, char **out)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	if ((*out = strndup(s, (size_t)(path + n - s))) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

int
cx_cp_cmd_probe(const char *path, int verify, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_puts(b, "LC_ALL=C stat -L -c '%s %a %Y %F' -- ")) ||
	    (r = cx_cp_shquote(path, b)))
		return r;
	if (!verify)
		return 0;
	/* the hash of a regular file only; stdin keeps the name out */
	if ((r = cx_buf_puts(b, " && { [ -d ")) || (r = cx_cp_shquote(path, b)) ||
	    (r = cx_buf_puts(b, " ] || sha256sum < ")) ||
	    (r = cx_cp_shquote(path, b)) || (r = cx_buf_puts(b, "; }")))
		return r;
	return 0;
}

int
cx_cp_cmd_read_range(const char *path, uint64_t off, uint64_t end,
    struct cx_buf *b)
{
	int r;

	/* tail seeks on a regular file: +N is 1-based */
	if ((r = cx_buf_printf(b, "tail -c +%" PRIu64 " < ", off + 1)) ||
	    (r = cx_cp_shquote(path, b)) ||
	    (r = cx_buf_printf(b, " | head -c %" PRIu64, end - off)))
		return r;
	return 0;
}

/* "if [ -d DST ]; then p=DST/NAME; t=d; else p=DST; t=f; fi; q=...; r=...; "
 * the upload's final path, partial file and record in $p, $q, $r */
static int
put_resolve(const char *dst, const char *name, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_puts(b, "if [ -d ")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, " ]; then p=")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_putc(b, '/')) || (r = cx_cp_shquote(name, b)) ||
	    (r = cx_buf_puts(b, "; t=d; else p=")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, "; t=f; fi; q=\"$p.cxpart\"; r=\"$q.ranges\"; ")))
		return r;
	return 0;
}

/* the record's header in $h */
static int
put_header(uint64_t size, int64_t mtime, struct cx_buf *b)
{
	return cx_buf_printf(b, "h='" CX_CP_UPRECORD "\nsize %" PRIu64
	    "\nmtime %" PRId64 "'; ", size, mtime);
}

/* empties $q, writes the header $h into $r */
static int
put_fresh(struct cx_buf *b)
{
	return cx_buf_puts(b, ": > \"$q\" && printf '%s\\n' \"$h\" > \"$r\" || "
	    "exit 1; ");
}

/* how put_loop writes a step into $q */
enum { STEP_DD, STEP_APPEND, STEP_APPEND_HASH };

/*
 * The loop writing [$o, $e) of stdin into $q in steps, each recorded in
 * $r once its data is written and the client's "k" line after it came
 * (GNU head -c reads no byte past its count): a step whose data was cut
 * short (the client killed) finds no "k" and is not recorded.  A range
 * goes in place with dd (STEP_DD); the upload in one session starts an
 * empty file and appends (one process less per byte), STEP_APPEND_HASH
 * with a copy of the bytes to fd 3 (tee).
 */
static int
put_loop(int how, struct cx_buf *b)
{
	const char *w;
	int r;

	if ((r = cx_buf_printf(b, "while [ $o -lt $e ]; do n=$((e - o)); "
	    "[ $n -le %d ] || n=%d; ", CX_CP_UPSTEP, CX_CP_UPSTEP)) != 0)
		return r;
	if (how == STEP_DD)
		r = cx_buf_printf(b, "m=$(head -c $n | dd of=\"$q\" bs=%d "
		    "seek=$((o / %d)) conv=notrunc 2>&1)", CX_CP_ALIGN,
		    CX_CP_ALIGN);
	else
		r = cx_buf_puts(b, how == STEP_APPEND ?
		    "m=$(head -c $n 2>&1 >> \"$q\")" :
		    "m=$(head -c $n | tee -a \"$q\" 2>&1 >&3)");
	if (r != 0)
		return r;
	w = " || { printf '%s\\n' \"$m\" >&2; exit 1; }; read -r x && "
	    "[ \"$x\" = k ] || exit 1; echo \"$o $((o + n))\" >> \"$r\" || "
	    "exit 1; o=$((o + n)); done; ";
	return cx_buf_puts(b, w);
}

/* checks $q's size, then its SHA-256 against hex, or (verify_line) the
 * hash $h taken on the way against the client's line; sets mode and
 * mtime, renames $q to $p, removes $r */
static int
put_finish(uint64_t size, unsigned mode, int64_t mtime, const char *hex,
    int verify_line, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_printf(b, "s=$(LC_ALL=C stat -c %%s -- \"$q\") || "
	    "exit 1; [ \"$s\" = %" PRIu64 " ] || { echo \"the remote file "
	    "has $s bytes, not %" PRIu64 "\" >&2; exit %d; }; ", size, size,
	    CX_CP_EXIT_SIZE)) != 0)
		return r;
	if (verify_line && (r = cx_buf_printf(b, "read -r x || exit 1; "
	    "[ \"$h\" = \"$x\" ] || { echo \"remote SHA-256 $h\" >&2; "
	    "exit %d; }; ", CX_CP_EXIT_MISMATCH)) != 0)
		return r;
	if (hex != NULL && (r = cx_buf_printf(b,
	    "h=$(sha256sum < \"$q\") || exit 1; [ \"${h%%%% *}\" = %s ] || "
	    "{ echo \"remote SHA-256 ${h%%%% *}\" >&2; exit %d; }; ",
	    hex, CX_CP_EXIT_MISMATCH)) != 0)
		return r;
	return cx_buf_printf(b, "chmod -- %o \"$q\" && touch -m -d @%" PRId64
	    " -- \"$q\" && mv -f -- \"$q\" \"$p\" && rm -f -- \"$r\"",
	    mode & 07777, mtime);
}

int
cx_cp_cmd_upload_prepare(const char *dst, const char *name, uint64_t size,
    int64_t mtime, int resume, struct cx_buf *b)
{
	int r;

	if ((r = put_resolve(dst, name, b)) || (r = put_header(size, mtime, b)) ||
	    (r = cx_buf_puts(b, "echo $t; ")))
		return r;
	/* the record's first three lines are the header: the same source */
	if (resume && (r = cx_buf_puts(b, "if [ -f \"$q\" ] && [ -f \"$r\" ] && "
	    "[ \"$(head -n 3 < \"$r\")\" = \"$h\" ]; then echo resume; "
	    "exec tail -n +4 < \"$r\"; fi; w=new; "
	    "[ ! -e \"$q\" ] && [ ! -e \"$r\" ] || w=restart; ")))
		return r;
	if (!resume && (r = cx_buf_puts(b, "w=new; ")))
		return r;
	if ((r = put_fresh(b)) || (r = cx_buf_puts(b, "echo $w")))
		return r;
	return 0;
}

int
cx_cp_cmd_write_range(const char *part, uint64_t off, uint64_t end,
    struct cx_buf *b)
{
	int r;

	if (off % CX_CP_ALIGN != 0 || end <= off)
		return CX_ERR_INTERNAL;
	if ((r = cx_buf_puts(b, "q=")) || (r = cx_cp_shquote(part, b)) ||
	    (r = cx_buf_printf(b, "; r=\"$q.ranges\"; o=%" PRIu64 "; e=%"
	    PRIu64 "; ", off, end)) || (r = put_loop(STEP_DD, b)))
		return r;
	/* the loop's status is its last command's: say success plainly */
	return cx_buf_puts(b, "exit 0");
}

int
cx_cp_cmd_upload_finish(const char *part, const char *dst, uint64_t size,
    unsigned mode, int64_t mtime, const char *hex, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_puts(b, "q=")) || (r = cx_cp_shquote(part, b)) ||
	    (r = cx_buf_puts(b, "; p=")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, "; r=\"$q.ranges\"; ")))
		return r;
	return put_finish(size, mode, mtime, hex, 0, b);
}

int
cx_cp_parse_stat(const char *line, uint64_t *size, unsigned *mode,
    int64_t *mtime, int *is_dir)
{
	const char *p = line, *e = line + strlen(line);
	uint64_t v;
	unsigned m = 0;

	if (num(&p, e, ' ', size))
		return CX_ERR_INPUT;
	if (p >= e || *p < '0' || *p > '7')
		return CX_ERR_INPUT;
	while (p < e && *p >= '0' && *p <= '7' && m <= 07777)
		m = m * 8 + (unsigned)(*p++ - '0');
	if (m > 07777 || p >= e || *p++ != ' ')
		return CX_ERR_INPUT;
	if (num(&p, e, ' ', &v) || v > INT64_MAX)
		return CX_ERR_INPUT;
	*mode = m;
	*mtime = (int64_t)v;
	*is_dir = strcmp(p, "directory") == 0;
	if (!*is_dir && strncmp(p, "regular", 7) != 0)
		return CX_ERR_INPUT;
	return 0;
}

int
cx_cp_cmd_upload_one(const char *dst, const char *name, uint64_t size,
    unsigned mode, int64_t mtime, int verify, struct cx_buf *b)
{
	int r;

	if ((r = put_resolve(dst, name, b)) || (r = put_header(size, mtime, b)) ||
	    (r = put_fresh(b)) ||
	    (r = cx_buf_printf(b, "o=0; e=%" PRIu64 "; ", size)))
		return r;
	if (!verify) {
		if ((r = put_loop(STEP_APPEND, b)) != 0)
			return r;
		return put_finish(size, mode, mtime, NULL, 0, b);
	}
	/*
	 * The hash is taken as the bytes go to the file, not in a second
	 * pass: each step's tee copies them to fd 3, a pipe to sha256sum.
	 * The loop runs in that pipeline's subshell, so its success comes
	 * back as a line "status 0" beside the hash (fd 4: the same capture).
	 */
	if ((r = cx_buf_puts(b, "z=$( { { ")) ||
	    (r = put_loop(STEP_APPEND_HASH, b)) ||
	    (r = cx_buf_puts(b, "echo \"status $?\" >&4; } 3>&1 >/dev/null | "
	    "sha256sum; } 4>&1 ) || exit 1; case \"$z\" in *\"status 0\"*) "
	    ";; *) exit 1;; esac; h=$(printf '%s\\n' \"$z\" | "
	    "sed -n 's/  -$//p'); ")))
		return r;
	return put_finish(size, mode, mtime, NULL, 1, b);
}

static int
range_cmp(const void *a, const void *b)
{
	const struct cx_cp_range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

int
cx_cp_upload_missing(const char *s, size_t len, uint64_t size,
    struct cx_cp_range **out, int *count, uint64_t *have)
{
	struct cx_cp_range *done = NULL, *miss = NULL, *t;
	const char *p = s, *e = s + len, *nl;
	size_t n = 0, cap = 0, k = 0, i;
	uint64_t cur = 0;
	int r = CX_ERR_INPUT;

	*out = NULL;
	*count = 0;
	*have = 0;
	while (p < e && (nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		uint64_t o, en;
		if (num(&p, nl + 1, ' ', &o) || num(&p, nl + 1, '\n', &en))
			goto out;
		/* a step starts aligned and ends aligned or at size */
		if (o % CX_CP_ALIGN != 0 || en <= o || en > size ||
		    (en % CX_CP_ALIGN != 0 && en != size))
			goto out;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > SIZE_MAX / sizeof(*done) ||
			    (t = realloc(done, cap * sizeof(*done))) == NULL) {
				r = CX_ERR_NOMEM;
				goto out;
			}
			done = t;
		}
		done[n].off = o;
		done[n].end = en;
		done[n++].done = 0;
	}
	if (n > 0)
		qsort(done, n, sizeof(*done), range_cmp);
	/* at most one hole before each step and one at the end */
	if ((miss = calloc(n + 1, sizeof(*miss))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (done[i].off > cur) {
			miss[k].off = cur;
			miss[k++].end = done[i].off;
		}
		if (done[i].end > cur) {
			*have += done[i].end - (done[i].off > cur ? done[i].off :
			    cur);
			cur = done[i].end;
		}
	}
	if (cur < size) {
		miss[k].off = cur;
		miss[k++].end = size;
	}
	if (k > INT32_MAX) {
		r = CX_ERR_INPUT;
		goto out;
	}
	if (k > 0) {
		*out = miss;
		miss = NULL;	/* transferred */
	}
	*count = (int)k;
	r = 0;
 out:
	free(done);
	free(miss);
	return r;
}

int
cx_cp_spread(const struct cx_cp_range *miss, int nmiss, int n,
    struct cx_cp_range **out, int *count)
{
	struct cx_cp_range *v = NULL;
	uint64_t total = 0;
	size_t cap;
	int i, k = 0, r;

	*out = NULL;
	*count = 0;
	if (n < 1 || n > CX_CP_MAX_JOBS || nmiss < 0)
		return CX_ERR_INTERNAL;
	for (i = 0; i < nmiss; i++)
		total += miss[i].end - miss[i].off;
	/* each hole gets at most its share + 1: nmiss + n in all */
	cap = (size_t)nmiss + (size_t)n;
	if (nmiss == 0)
		return 0;
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; i < nmiss; i++) {
		uint64_t len = miss[i].end - miss[i].off;
		/* its share of n, at least 1; long double keeps 2^64 sizes */
		long double share = (long double)n * (long double)len /
		    (long double)total;
		int parts = (int)(share + 0.5L), got = 0, j;
		if (parts < 1)
			parts = 1;
		if (parts > n)
			parts = n;
		if ((r = cx_cp_split(len, parts, CX_CP_ALIGN, v + k,
		    cap - (size_t)k > INT32_MAX ? INT32_MAX :
		    (int)(cap - (size_t)k), &got)) != 0) {
			free(v);
			return r;
		}
		for (j = 0; j < got; j++) {
			v[k + j].off += miss[i].off;
			v[k + j].end += miss[i].off;
		}
		k += got;
	}
	*out = v;
	*count = k;
	return 0;
}
