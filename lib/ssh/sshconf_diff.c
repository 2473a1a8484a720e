/*
 * A unified diff of two small files (configs), line by line: a longest
 * common subsequence over the part between the common head and tail, or one
 * replace hunk when that part is too large for the table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cxerr.h"
#include "sshconf_int.h"

#define DIFF_CONTEXT	3
#define DIFF_MAX_CELLS	(4u * 1024 * 1024)

struct dl {
	const unsigned char *p;
	size_t len;		/* including the line end */
};

static int
split_lines(const unsigned char *s, size_t len, struct dl **out, size_t *n)
{
	struct dl *v;
	size_t i, k, c = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			c++;
	if (len > 0 && s[len - 1] != '\n')
		c++;
	if ((v = calloc(c + 1, sizeof(*v))) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0, c = 0; i < len; i = k) {
		for (k = i; k < len && s[k] != '\n'; k++)
			;
		if (k < len)
			k++;
		v[c].p = s + i;
		v[c].len = k - i;
		c++;
	}
	*out = v;
	*n = c;
	return 0;
}

static int
same(const struct dl *a, const struct dl *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

enum { OP_EQ, OP_DEL, OP_ADD };

static int
emit_line(struct cx_buf *out, char tag, const struct dl *l)
{
	int r;

	if ((r = cx_buf_putc(out, tag)) != 0 ||
	    (r = cx_buf_append(out, l->p, l->len)) != 0)
		return r;
	if (l->len == 0 || l->p[l->len - 1] != '\n')
		return cx_buf_puts(out, "\n\\ No newline at end of file\n");
	return 0;
}

int
sc_diff(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen, const char *label, struct cx_buf *out)
{
	struct dl *A = NULL, *B = NULL;
	unsigned char *ops = NULL;
	uint32_t *t = NULL;
	size_t na, nb, head = 0, tail = 0, ma, mb, i, j, nops = 0, o, h, e;
	size_t ai, bi, oa, ob, ca, cb, k;
	int r;

	if ((r = split_lines(a, alen, &A, &na)) != 0 ||
	    (r = split_lines(b, blen, &B, &nb)) != 0)
		goto out;
	while (head < na && head < nb && same(&A[head], &B[head]))
		head++;
	while (tail < na - head && tail < nb - head &&
	    same(&A[na - 1 - tail], &B[nb - 1 - tail]))
		tail++;
	if (head == na && head == nb) {
		r = 0;
		goto out;
	}
	ma = na - head - tail;
	mb = nb - head - tail;
	if ((ops = malloc(na + nb + 1)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < head; i++)
		ops[nops++] = OP_EQ;
	if ((ma + 1) * (mb + 1) <= DIFF_MAX_CELLS &&
	    (t = calloc((ma + 1) * (mb + 1), sizeof(*t))) != NULL) {
		/* t[i][j]: LCS length of A[i..] and B[j..] (middle part) */
		for (i = ma; i-- > 0;)
			for (j = mb; j-- > 0;)
				t[i * (mb + 1) + j] = same(&A[head + i],
				    &B[head + j]) ? t[(i + 1) * (mb + 1) + j + 1] + 1 :
				    (t[(i + 1) * (mb + 1) + j] >=
				    t[i * (mb + 1) + j + 1] ?
				    t[(i + 1) * (mb + 1) + j] :
				    t[i * (mb + 1) + j + 1]);
		for (i = 0, j = 0; i < ma || j < mb;) {
			if (i < ma && j < mb && same(&A[head + i], &B[head + j])) {
				ops[nops++] = OP_EQ;
				i++;
				j++;
			} else if (j < mb && (i == ma ||
			    t[i * (mb + 1) + j + 1] >= t[(i + 1) * (mb + 1) + j])) {
				ops[nops++] = OP_ADD;
				j++;
			} else {
				ops[nops++] = OP_DEL;
				i++;
			}
		}
	} else {
		for (i = 0; i < ma; i++)
			ops[nops++] = OP_DEL;
		for (j = 0; j < mb; j++)
			ops[nops++] = OP_ADD;
	}
	for (i = 0; i < tail; i++)
		ops[nops++] = OP_EQ;
	/* deletions before additions inside a run reads better */
	for (o = 0; o < nops;) {
		if (ops[o] == OP_EQ) {
			o++;
			continue;
		}
		for (e = o; e < nops && ops[e] != OP_EQ; e++)
			;
		{
			size_t nd = 0;

			for (k = o; k < e; k++)
				nd += ops[k] == OP_DEL;
			for (k = o; k < e; k++)
				ops[k] = k - o < nd ? OP_DEL : OP_ADD;
		}
		o = e;
	}

	if ((r = cx_buf_printf(out, "--- %s\n+++ %s\n", label,
	    label)) != 0)
		goto out;
	ai = bi = 0;
	for (o = 0; o < nops;) {
		if (ops[o] == OP_EQ) {
			ai++;
			bi++;
			o++;
			continue;
		}
		/* a hunk: back up the context, then extend while changes
		 * are closer than twice the context */
		h = o >= DIFF_CONTEXT ? o - DIFF_CONTEXT : 0;
		oa = ai - (o - h);
		ob = bi - (o - h);
		for (e = o; e < nops;) {
			size_t run;

			if (ops[e] != OP_EQ) {
				e++;
				continue;
			}
			for (run = 0; e + run < nops && ops[e + run] == OP_EQ;
			    run++)
				;
			if (e + run == nops || run > 2 * DIFF_CONTEXT) {
				e += run < DIFF_CONTEXT ? run : DIFF_CONTEXT;
				break;
			}
			e += run;
		}
		ca = cb = 0;
		for (k = h; k < e; k++) {
			ca += ops[k] != OP_ADD;
			cb += ops[k] != OP_DEL;
		}
		if ((r = cx_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n",
		    ca ? oa + 1 : oa, ca, cb ? ob + 1 : ob, cb)) != 0)
			goto out;
		i = oa;
		j = ob;
		for (k = h; k < e; k++) {
			if (ops[k] == OP_EQ) {
				r = emit_line(out, ' ', &A[i]);
				i++;
				j++;
			} else if (ops[k] == OP_DEL)
				r = emit_line(out, '-', &A[i++]);
			else
				r = emit_line(out, '+', &B[j++]);
			if (r != 0)
				goto out;
		}
		ai = i;
		bi = j;
		o = e;
	}
	r = 0;
 out:
	free(A);
	free(B);
	free(ops);
	free(t);
	return r;
}
