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

int
cx_cp_cmd_upload_prepare(const char *dst, const char *name, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_puts(b, "if [ -d ")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, " ]; then : > ")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_putc(b, '/')) || (r = cx_cp_shquote(name, b)) ||
	    (r = cx_buf_puts(b, ".cxpart && echo d; else : > ")) ||
	    (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, ".cxpart && echo f; fi")))
		return r;
	return 0;
}

int
cx_cp_cmd_write_range(const char *part, uint64_t off, struct cx_buf *b)
{
	struct cx_buf w;
	int r;

	if (off % CX_CP_ALIGN != 0)
		return CX_ERR_INTERNAL;
	cx_buf_init(&w, 0);
	if ((r = cx_buf_puts(&w, "of=")) || (r = cx_buf_puts(&w, part)) ||
	    (r = cx_buf_puts(b, "dd ")) || (r = cx_cp_shquote(cx_buf_str(&w), b)) ||
	    (r = cx_buf_printf(b, " bs=%d seek=%" PRIu64 " conv=notrunc",
	    CX_CP_ALIGN, off / CX_CP_ALIGN)))
		goto out;
 out:
	cx_buf_clean_up(&w);
	return r;
}

int
cx_cp_cmd_upload_finish(const char *part, const char *dst, uint64_t size,
    unsigned mode, int64_t mtime, const char *hex, struct cx_buf *b)
{
	int r;

	if ((r = cx_buf_puts(b, "s=$(LC_ALL=C stat -c %s -- ")) ||
	    (r = cx_cp_shquote(part, b)) ||
	    (r = cx_buf_printf(b, ") || exit 1; [ \"$s\" = %" PRIu64 " ] || "
	    "{ echo \"the remote file has $s bytes, not %" PRIu64 "\" >&2; "
	    "exit %d; }; ", size, size, CX_CP_EXIT_SIZE)))
		return r;
	if (hex != NULL &&
	    ((r = cx_buf_puts(b, "h=$(sha256sum < ")) ||
	    (r = cx_cp_shquote(part, b)) ||
	    (r = cx_buf_printf(b, ") || exit 1; [ \"${h%%%% *}\" = %s ] || "
	    "{ echo \"remote SHA-256 ${h%%%% *}\" >&2; exit %d; }; ", hex,
	    CX_CP_EXIT_MISMATCH))))
		return r;
	if ((r = cx_buf_printf(b, "chmod -- %o ", mode & 07777)) ||
	    (r = cx_cp_shquote(part, b)) ||
	    (r = cx_buf_printf(b, " && touch -m -d @%" PRId64 " -- ", mtime)) ||
	    (r = cx_cp_shquote(part, b)) || (r = cx_buf_puts(b, " && mv -f -- ")) ||
	    (r = cx_cp_shquote(part, b)) || (r = cx_buf_putc(b, ' ')) ||
	    (r = cx_cp_shquote(dst, b)))
		return r;
	return 0;
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

	if ((r = cx_buf_puts(b, "if [ -d ")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, " ]; then p=")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_putc(b, '/')) || (r = cx_cp_shquote(name, b)) ||
	    (r = cx_buf_puts(b, "; else p=")) || (r = cx_cp_shquote(dst, b)) ||
	    (r = cx_buf_puts(b, "; fi; q=\"$p.cxpart\"; ")))
		return r;
	/* GNU head -c reads no byte past its count: the line with our hash
	 * that follows the data is left for read.  The hash is taken as the
	 * bytes go to the file (tee), not in a second pass; the size check
	 * after it catches a short write. */
	if (verify)
		r = cx_buf_printf(b, "h=$(head -c %" PRIu64 " | tee \"$q\" | "
		    "sha256sum) || exit 1; ", size);
	else
		r = cx_buf_printf(b, "head -c %" PRIu64 " > \"$q\" || exit 1; ",
		    size);
	if (r != 0 || (r = cx_buf_printf(b, "s=$(LC_ALL=C stat -c %%s -- "
	    "\"$q\"); [ \"$s\" = %" PRIu64 " ] || { echo \"the remote file "
	    "has $s bytes, not %" PRIu64 "\" >&2; exit %d; }; ", size, size,
	    CX_CP_EXIT_SIZE)))
		return r;
	if (verify && (r = cx_buf_printf(b, "read -r x; [ \"${h%%%% *}\" = "
	    "\"$x\" ] || { echo \"remote SHA-256 ${h%%%% *}\" >&2; exit %d; "
	    "}; ", CX_CP_EXIT_MISMATCH)))
		return r;
	return cx_buf_printf(b, "chmod -- %o \"$q\" && touch -m -d @%" PRId64
	    " -- \"$q\" && mv -f -- \"$q\" \"$p\"", mode & 07777, mtime);
}
