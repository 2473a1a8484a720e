#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cxerr.h"
#include "os.h"
#include "shlex.h"

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void
cx_shlex_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static int
push_word(char ***argvp, size_t *n, struct cx_buf *w)
{
	char **nv, *s;

	if (*n >= CX_SHLEX_MAX_WORDS)
		return CX_ERR_INPUT;
	if ((nv = cx_reallocarray(*argvp, *n + 2, sizeof(*nv))) == NULL)
		return CX_ERR_NOMEM;
	*argvp = nv;
	if (w->len == 0)
		s = strdup("");
	else
		s = cx_buf_steal_str(w);
	if (s == NULL)
		return CX_ERR_NOMEM;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

int
cx_shlex_split(const char *s, char ***argvp, size_t *argcp)
{
	struct cx_buf w;
	char **argv = NULL;
	size_t n = 0;
	int r, in_word = 0;
	const char *p = s;

	*argvp = NULL;
	*argcp = 0;
	cx_buf_init(&w, 0);
	if ((argv = calloc(1, sizeof(*argv))) == NULL)
		return CX_ERR_NOMEM;
	while (*p != '\0') {
		if (is_blank((unsigned char)*p)) {
			if (in_word) {
				if ((r = push_word(&argv, &n, &w)) != 0)
					goto out;
				in_word = 0;
			}
			p++;
			continue;
		}
		in_word = 1;
		if (*p == '\\') {
			if (p[1] == '\0') {
				r = CX_ERR_INPUT;
				goto out;
			}
			if ((r = cx_buf_putc(&w, (unsigned char)p[1])) != 0)
				goto out;
			p += 2;
		} else if (*p == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (e == NULL) {
				r = CX_ERR_INPUT;
				goto out;
			}
			if ((r = cx_buf_append(&w, p + 1,
			    (size_t)(e - p - 1))) != 0)
				goto out;
			p = e + 1;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					r = CX_ERR_INPUT;
					goto out;
				}
				if (*p == '\\' && p[1] != '\0' &&
				    strchr("\\\"", p[1]) != NULL)
					p++;
				if ((r = cx_buf_putc(&w,
				    (unsigned char)*p)) != 0)
					goto out;
			}
			p++;
		} else {
			if ((r = cx_buf_putc(&w, (unsigned char)*p)) != 0)
				goto out;
			p++;
		}
	}
	if (in_word && (r = push_word(&argv, &n, &w)) != 0)
		goto out;
	*argvp = argv;
	*argcp = n;
	argv = NULL;	/* transferred */
	r = 0;
 out:
	cx_shlex_free(argv);
	cx_buf_clean_up(&w);
	return r;
}
