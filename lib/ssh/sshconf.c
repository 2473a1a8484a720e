/*
 * The lossless ssh_config model: lines, blocks, and the edits of our three
 * tiers (see sshconf.h for the rules).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cxerr.h"
#include "core/hardening.h"
#include "core/log.h"
#include "core/os.h"
#include "core/valid.h"
#include "sshconf.h"
#include "sshconf_int.h"

#define BANNER_RULE "# " \
    "=============================================================================="

/* ------------------------------------------------------------------ */
/* Names and paths                                                     */

/* the rules live with the other validators (core/valid.c) */
int
cx_sshconf_valid_name(const char *s)
{
	return cx_ssh_word_valid(s);
}

int
cx_sshconf_valid_path(const char *s)
{
	return cx_ssh_path_valid(s);
}

const char *
cx_sshconf_prefix_for_argv0(const char *argv0)
{
	const char *b;

	if (argv0 == NULL)
		return "cloudx";
	b = strrchr(argv0, '/');
	b = b ? b + 1 : argv0;
	return strcmp(b, "cloudX-proxy") == 0 ? "cloudX" : "cloudx";
}

int
sc_quote(const char *s, struct cx_buf *out)
{
	int r;

	/* a blank splits, a ' quotes (for ssh and for the shell that
	 * runs a ProxyCommand): inside "..." both are plain */
	if (strpbrk(s, " \t'") == NULL)
		return cx_buf_puts(out, s);
	if ((r = cx_buf_putc(out, '"')) != 0 ||
	    (r = cx_buf_puts(out, s)) != 0)
		return r;
	return cx_buf_putc(out, '"');
}

/* s with every '/' as '\\' (to) or every '\\' as '/' (!to), in place */
static void
win_slashes(char *s, int to)
{
	for (; *s != '\0'; s++)
		if (*s == (to ? '/' : '\\'))
			*s = to ? '\\' : '/';
}

/* ------------------------------------------------------------------ */
/* Connect defaults                                                    */

static char *
xdirname(const char *path)
{
	char *c, *d, *r;

	if ((c = strdup(path)) == NULL)
		return NULL;
	d = dirname(c);
	r = strdup(d);
	free(c);
	return r;
}

/* Drops trailing slashes and "/./" noise so paths compare. */
static void
path_tidy(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

int
cx_sshconf_connect_defaults(const char *home, const char *ssh_dir_opt,
    const char *ssh_config_opt, char **profile, char **ssh_key,
    char **ssh_dir)
{
	char *h = NULL, *cloudx = NULL, *vscode = NULL, *dir = NULL;
	const char *name;
	int r;

	*profile = *ssh_key = *ssh_dir = NULL;
	if (home == NULL) {
		if ((r = cx_home_dir(&h)) != 0)
			return r;
	} else if ((h = strdup(home)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_path_join(h, ".ssh/cloudX", &cloudx)) != 0 ||
	    (r = cx_path_join(h, ".ssh/vscode", &vscode)) != 0)
		goto out;
	if (ssh_dir_opt != NULL && *ssh_dir_opt != '\0')
		r = cx_expand_user(ssh_dir_opt, &dir);
	else if (ssh_config_opt != NULL && *ssh_config_opt != '\0') {
		char *c = NULL;

		if ((r = cx_expand_user(ssh_config_opt, &c)) == 0 &&
		    (dir = xdirname(c)) == NULL)
			r = CX_ERR_NOMEM;
		free(c);
	} else if (cx_is_dir(cloudx))
		dir = strdup(cloudx);
	else if (cx_is_dir(vscode))
		dir = strdup(vscode);
	else
		dir = strdup(cloudx);
	if (r != 0)
		goto out;
	if (dir == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	path_tidy(dir);
	name = strcmp(dir, vscode) == 0 ? "vscode" : "cloudX";
	if ((*profile = strdup(name)) == NULL ||
	    (*ssh_key = strdup(name)) == NULL) {
		free(*profile);
		*profile = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	*ssh_dir = dir;
	dir = NULL;	/* transferred */
	r = 0;
 out:
	free(h);
	free(cloudx);
	free(vscode);
	free(dir);
	return r;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */

static int
is_blank_c(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f';
}

void
sc_parse_line(const char *s, size_t len, struct sc_pl *p)
{
	size_t i, end, k;

	memset(p, 0, sizeof(*p));
	if (len > 0 && s[len - 1] == '\n')
		p->eollen = (len > 1 && s[len - 2] == '\r') ? 2 : 1;
	end = len - p->eollen;
	while (end > 0 && is_blank_c((unsigned char)s[end - 1]))
		end--;
	for (i = 0; i < end && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	p->indent = i;
	if (i >= end) {
		p->kind = SC_BLANK;
		return;
	}
	if (s[i] == '#') {
		p->kind = SC_COMMENT;
		/* "# Keyword value": a commented-out directive */
		for (k = i + 1; k < end && (s[k] == ' ' || s[k] == '\t'); k++)
			;
		i = k;
		while (k < end && isalpha((unsigned char)s[k]))
			k++;
		if (k == i || (k < end && s[k] != ' ' && s[k] != '\t' &&
		    s[k] != '='))
			return;
	} else {
		p->kind = SC_DIRECTIVE;
		for (k = i; k < end && s[k] != ' ' && s[k] != '\t' &&
		    s[k] != '='; k++)
			;
	}
	p->kw = s + i;
	p->kwlen = k - i;
	/* separator: blanks, at most one '=', blanks */
	while (k < end && (s[k] == ' ' || s[k] == '\t'))
		k++;
	if (k < end && s[k] == '=') {
		k++;
		while (k < end && (s[k] == ' ' || s[k] == '\t'))
			k++;
	}
	p->sep_end = k;
	p->val = s + k;
	p->vallen = end - k;
}

int
sc_kw_is(const struct sc_pl *p, const char *kw)
{
	return p->kwlen == strlen(kw) && strncasecmp(p->kw, kw, p->kwlen) == 0;
}

int
sc_split(const char *s, size_t len, char ***argvp, int *argcp,
    char **commentp)
{
	char **argv = NULL, **nv, *arg = NULL;
	size_t i = 0, j;
	int argc = 0, quote, r = CX_ERR_NOMEM;

	*argvp = NULL;
	*argcp = 0;
	if (commentp != NULL)
		*commentp = NULL;
	if ((argv = calloc(1, sizeof(*argv))) == NULL)
		return CX_ERR_NOMEM;
	for (;;) {
		while (i < len && is_blank_c((unsigned char)s[i]))
			i++;
		if (i >= len)
			break;
		if (s[i] == '#') {
			if (commentp != NULL &&
			    (*commentp = strndup(s + i, len - i)) == NULL)
				goto out;
			break;
		}
		if ((arg = malloc(len - i + 1)) == NULL)
			goto out;
		for (j = 0, quote = 0; i < len; i++) {
			if (quote == 0 && is_blank_c((unsigned char)s[i]))
				break;
			if (s[i] == '\\' && i + 1 < len &&
			    (s[i + 1] == '\'' || s[i + 1] == '"' ||
			    s[i + 1] == '\\' || (quote == 0 && s[i + 1] == ' '))) {
				arg[j++] = s[++i];
			} else if (quote == 0 && (s[i] == '"' || s[i] == '\'')) {
				quote = s[i];
			} else if (quote != 0 && s[i] == quote) {
				quote = 0;
			} else
				arg[j++] = s[i];
		}
		arg[j] = '\0';
		if ((nv = cx_reallocarray(argv, (size_t)argc + 2,
		    sizeof(*argv))) == NULL)
			goto out;
		argv = nv;
		argv[argc++] = arg;
		argv[argc] = NULL;
		arg = NULL;
	}
	*argvp = argv;
	*argcp = argc;
	argv = NULL;	/* transferred */
	r = 0;
 out:
	free(arg);
	sc_argv_free(argv);
	return r;
}

static int
line_set(struct sc_line *l, const char *text, size_t len)
{
	char *c;

	if ((c = malloc(len + 1)) == NULL)
		return CX_ERR_NOMEM;
	memcpy(c, text, len);
	c[len] = '\0';
	free(l->raw);
	l->raw = c;
	l->len = len;
	return 0;
}

static int
lines_reserve(struct cx_sshconf *m, size_t more)
{
	struct sc_line *nl;
	size_t ncap;

	if (m->n + more <= m->cap)
		return 0;
	ncap = m->cap ? m->cap * 2 : 64;
	while (ncap < m->n + more)
		ncap *= 2;
	if ((nl = cx_reallocarray(m->lines, ncap, sizeof(*nl))) == NULL)
		return CX_ERR_NOMEM;
	m->lines = nl;
	m->cap = ncap;
	return 0;
}

static int
has_eol(const struct sc_line *l)
{
	return l->len > 0 && l->raw[l->len - 1] == '\n';
}

/* A line that stopped being the last one needs a line end. */
static int
fix_eols(struct cx_sshconf *m)
{
	struct cx_buf b;
	size_t i;
	int r;

	for (i = 0; i + 1 < m->n; i++) {
		if (has_eol(&m->lines[i]))
			continue;
		cx_buf_init(&b, 0);
		if ((r = cx_buf_append(&b, m->lines[i].raw,
		    m->lines[i].len)) != 0 || (r = cx_buf_puts(&b, m->eol)) != 0 ||
		    (r = line_set(&m->lines[i], (const char *)b.data, b.len)) != 0) {
			cx_buf_clean_up(&b);
			return r;
		}
		cx_buf_clean_up(&b);
	}
	return 0;
}

/* Inserts text (one or more lines; the last one may lack a line end) as
 * new lines before pos. */
int
sc_insert(struct cx_sshconf *m, size_t pos, const char *text, size_t len)
{
	size_t i, k = 0, count = 0;
	int r;

	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			count++;
	if (len > 0 && text[len - 1] != '\n')
		count++;
	if (count == 0)
		return 0;
	if ((r = lines_reserve(m, count)) != 0)
		return r;
	memmove(m->lines + pos + count, m->lines + pos,
	    (m->n - pos) * sizeof(*m->lines));
	for (i = 0; i < count; i++)
		m->lines[pos + i].raw = NULL;
	m->n += count;
	for (i = 0; i < count; i++) {
		size_t e = k;

		while (e < len && text[e] != '\n')
			e++;
		if (e < len)
			e++;
		if ((r = line_set(&m->lines[pos + i], text + k, e - k)) != 0) {
			/* keep the model consistent: drop the empty slots */
			size_t j;

			for (j = i; j < count; j++)
				m->lines[pos + j].raw = NULL;
			sc_delete(m, pos + i, count - i);
			return r;
		}
		k = e;
	}
	return fix_eols(m);
}

void
sc_delete(struct cx_sshconf *m, size_t pos, size_t count)
{
	size_t i;

	if (pos >= m->n)
		return;
	if (count > m->n - pos)
		count = m->n - pos;
	for (i = 0; i < count; i++)
		free(m->lines[pos + i].raw);
	memmove(m->lines + pos, m->lines + pos + count,
	    (m->n - pos - count) * sizeof(*m->lines));
	m->n -= count;
}

int
sc_replace(struct cx_sshconf *m, size_t idx, const char *text, size_t len)
{
	int r;

	if ((r = line_set(&m->lines[idx], text, len)) != 0)
		return r;
	return fix_eols(m);
}

int
sc_is_blank(const struct cx_sshconf *m, size_t idx)
{
	struct sc_pl p;

	sc_parse_line(m->lines[idx].raw, m->lines[idx].len, &p);
	return p.kind == SC_BLANK;
}

/* The line end to use for a line added next to line idx. */
static const char *
eol_near(const struct cx_sshconf *m, size_t idx)
{
	struct sc_pl p;

	if (idx < m->n) {
		sc_parse_line(m->lines[idx].raw, m->lines[idx].len, &p);
		if (p.eollen == 2)
			return "\r\n";
		if (p.eollen == 1)
			return "\n";
	}
	return m->eol;
}

/* ------------------------------------------------------------------ */
/* Model life cycle                                                    */

int
cx_sshconf_parse(const void *data, size_t len, const char *prefix, int flags,
    struct cx_sshconf **out)
{
	struct cx_sshconf *m = NULL;
	const char *d = data;
	size_t i, k;
	int r;

	*out = NULL;
	if (!cx_sshconf_valid_name(prefix)) {
		cx_error("invalid host prefix '%s'", prefix ? prefix : "");
		return CX_ERR_USAGE;
	}
	if (len > CX_SSHCONF_MAX_FILE) {
		cx_error("ssh config is larger than %d bytes",
		    CX_SSHCONF_MAX_FILE);
		return CX_ERR_TOOBIG;
	}
	if (len > 0 && memchr(d, '\0', len) != NULL) {
		cx_error("ssh config contains a NUL byte");
		return CX_ERR_INPUT;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CX_ERR_NOMEM;
	m->lockfd = -1;
	m->flags = flags;
	m->eol = "\n";
	r = CX_ERR_NOMEM;
	if ((m->prefix = strdup(prefix)) == NULL)
		goto out;
	if ((m->orig = malloc(len + 1)) == NULL)
		goto out;
	if (len > 0)
		memcpy(m->orig, d, len);
	m->orig[len] = '\0';
	m->origlen = len;
	m->existed = 1;
	for (i = 0; i < len; i = k) {
		for (k = i; k < len && d[k] != '\n'; k++)
			;
		if (k < len)
			k++;
		if ((r = lines_reserve(m, 1)) != 0)
			goto out;
		m->lines[m->n].raw = NULL;
		if ((r = line_set(&m->lines[m->n], d + i, k - i)) != 0)
			goto out;
		m->n++;
	}
	/* the file's first line end decides what we add */
	for (i = 0; i < m->n; i++) {
		if (has_eol(&m->lines[i])) {
			if (m->lines[i].len > 1 &&
			    m->lines[i].raw[m->lines[i].len - 2] == '\r')
				m->eol = "\r\n";
			break;
		}
	}
	*out = m;
	m = NULL;	/* transferred */
	r = 0;
 out:
	cx_sshconf_free(m);
	return r;
}

int
cx_sshconf_check_owner(const char *path)
{
	char *dir, why[160];
	int r;

	if ((dir = xdirname(path)) == NULL)
		return CX_ERR_NOMEM;
	r = cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why));
	if (r == CX_ERR_DENIED)
		cx_error("not using '%s': its folder '%s' is %s", path, dir,
		    why);
	else if ((r = cx_path_trusted(path, CX_TRUST_FILE, why,
	    sizeof(why))) == CX_ERR_DENIED)
		cx_error("not using '%s': it is %s", path, why);
	free(dir);
	return r == CX_ERR_DENIED ? CX_ERR_INPUT : 0;
}

int
cx_sshconf_load(const char *path, const char *prefix, int flags,
    struct cx_sshconf **out)
{
	struct cx_buf b;
	struct cx_sshconf *m = NULL;
	char *dir = NULL;
	int r, lockfd = -1, missing = 0;

	*out = NULL;
	cx_buf_init(&b, CX_SSHCONF_MAX_FILE + 1);
	if (flags & CX_SSHCONF_LOCK) {
		if ((dir = xdirname(path)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		if (!cx_is_dir(dir) && (r = cx_mkdir_p(dir, 0700)) != 0)
			goto out;
		if ((r = cx_sshconf_check_owner(path)) != 0)
			goto out;
		if ((r = cx_lock(path, CX_SSHCONF_LOCK_MS, &lockfd)) != 0)
			goto out;
		cx_debug(2, "holding the lock of '%s'", path);
	}
	r = cx_read_file(path, CX_SSHCONF_MAX_FILE, &b);
	if (r == CX_ERR_NOTFOUND)
		missing = 1;
	else if (r != 0)
		goto out;
	if ((r = cx_sshconf_parse(b.data ? b.data : (unsigned char *)"",
	    b.len, prefix, flags, &m)) != 0) {
		if (r == CX_ERR_INPUT)
			cx_error("cannot use '%s'", path);
		goto out;
	}
	m->existed = !missing;
	cx_debug(1, missing ? "'%s' does not exist yet" :
	    "read '%s': %zu lines", path, m->n);
	m->lockfd = lockfd;
	lockfd = -1;	/* transferred */
	*out = m;
	m = NULL;	/* transferred */
	r = 0;
 out:
	cx_unlock(lockfd);
	cx_buf_clean_up(&b);
	free(dir);
	cx_sshconf_free(m);
	return r;
}

void
cx_sshconf_free(struct cx_sshconf *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->lines[i].raw);
	free(m->lines);
	free(m->orig);
	free(m->prefix);
	cx_unlock(m->lockfd);
	free(m);
}

int
cx_sshconf_render(const struct cx_sshconf *m, struct cx_buf *out)
{
	size_t i;
	int r;

	for (i = 0; i < m->n; i++)
		if ((r = cx_buf_append(out, m->lines[i].raw,
		    m->lines[i].len)) != 0)
			return r;
	return 0;
}

static int
render_equals_orig(const struct cx_sshconf *m)
{
	size_t i, off = 0;

	for (i = 0; i < m->n; i++) {
		if (off + m->lines[i].len > m->origlen ||
		    memcmp(m->orig + off, m->lines[i].raw, m->lines[i].len) != 0)
			return 0;
		off += m->lines[i].len;
	}
	return off == m->origlen;
}

int
cx_sshconf_changed(const struct cx_sshconf *m)
{
	return !m->existed || !render_equals_orig(m);
}

int
cx_sshconf_existed(const struct cx_sshconf *m)
{
	return m->existed;
}

int
cx_sshconf_diff(const struct cx_sshconf *m, const char *label,
    struct cx_buf *out)
{
	struct cx_buf cur;
	int r;

	cx_buf_init(&cur, 0);
	if ((r = cx_sshconf_render(m, &cur)) == 0)
		r = sc_diff(m->orig, m->origlen, cur.data, cur.len, label, out);
	cx_buf_clean_up(&cur);
	return r;
}

int
cx_sshconf_save(struct cx_sshconf *m, const char *path)
{
	struct cx_buf cur;
	unsigned char *copy;
	char *dir = NULL;
	int r;

	if (!cx_sshconf_changed(m)) {
		cx_debug(1, "'%s' unchanged: not written", path);
		return 0;
	}
	cx_buf_init(&cur, 0);
	if ((r = cx_sshconf_render(m, &cur)) != 0)
		goto out;
	if ((dir = xdirname(path)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (!cx_is_dir(dir) && (r = cx_mkdir_p(dir, 0700)) != 0)
		goto out;
	/* under our lock, a temporary file is one a killed run left */
	if (m->lockfd != -1)
		(void)cx_tmp_cleanup(path);
	if ((r = cx_write_file_atomic(path, cur.data ? cur.data :
	    (unsigned char *)"", cur.len, 0600, CX_ATOMIC_BACKUP)) != 0)
		goto out;
	if ((copy = malloc(cur.len + 1)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (cur.len > 0)
		memcpy(copy, cur.data, cur.len);
	copy[cur.len] = '\0';
	free(m->orig);
	m->orig = copy;
	m->origlen = cur.len;
	m->existed = 1;
	cx_debug(1, "wrote '%s' (%zu bytes)", path, cur.len);
	r = 0;
 out:
	free(dir);
	cx_buf_clean_up(&cur);
	return r;
}

/* ------------------------------------------------------------------ */
/* Block scan                                                          */

static int
has_wild(const char *s)
{
	return strpbrk(s, "*?!,") != NULL;
}

static void
blk_clean(struct sc_blk *b)
{
	free(b->env);
	free(b->name);
	free(b->pattern);
	free(b->comment);
}

void
sc_scan_free(struct sc_scan *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		blk_clean(&s->b[i]);
	free(s->b);
	s->b = NULL;
	s->n = 0;
}

/* Classifies a Host line of ours; leaves kind SB_FOREIGN if not ours. */
static int
classify(const char *prefix, struct sc_blk *b, char **argv, int argc)
{
	size_t pl = strlen(prefix), rl;
	const char *rest;

	if (argc != 1 || strncmp(argv[0], prefix, pl) != 0 ||
	    argv[0][pl] != '-')
		return 0;
	rest = argv[0] + pl + 1;
	rl = strlen(rest);
	if (strcmp(rest, "*") == 0) {
		b->kind = SB_GENERIC;
	} else if (rl > 2 && strcmp(rest + rl - 2, "-*") == 0) {
		if ((b->env = strndup(rest, rl - 2)) == NULL)
			return CX_ERR_NOMEM;
		if (has_wild(b->env)) {
			free(b->env);
			b->env = NULL;
			return 0;
		}
		b->kind = SB_ENV;
	} else if (!has_wild(rest) && rl > 0) {
		/* resolved against the environments in a second pass */
		if ((b->name = strdup(rest)) == NULL)
			return CX_ERR_NOMEM;
		b->kind = SB_HOST;
	} else
		return 0;
	if ((b->pattern = strdup(argv[0])) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

/* Splits a host's "<env>-<name>" rest using the known environments. */
static int
resolve_host(struct sc_scan *s, struct sc_blk *h)
{
	const char *rest = h->name, *best = NULL, *dash;
	size_t i, bl = 0, el;
	char *env, *name;

	for (i = 0; i < s->n; i++) {
		if (s->b[i].kind != SB_ENV)
			continue;
		el = strlen(s->b[i].env);
		if (el > bl && strncmp(rest, s->b[i].env, el) == 0 &&
		    rest[el] == '-' && rest[el + 1] != '\0') {
			best = s->b[i].env;
			bl = el;
		}
	}
	if (best == NULL) {
		if ((dash = strchr(rest, '-')) == NULL || dash == rest ||
		    dash[1] == '\0') {
			h->kind = SB_FOREIGN;
			free(h->name);
			free(h->pattern);
			h->name = h->pattern = NULL;
			return 0;
		}
		bl = (size_t)(dash - rest);
	}
	if ((env = strndup(rest, bl)) == NULL)
		return CX_ERR_NOMEM;
	if ((name = strdup(rest + bl + 1)) == NULL) {
		free(env);
		return CX_ERR_NOMEM;
	}
	free(h->name);
	h->env = env;
	h->name = name;
	return 0;
}

int
sc_scan(const struct cx_sshconf *m, struct sc_scan *s)
{
	struct sc_blk *cur = NULL, *nb;
	struct sc_pl p;
	char **argv = NULL;
	size_t i;
	int argc, r = 0, is_host, is_match, j;

	s->b = NULL;
	s->n = 0;
	if ((s->b = calloc(1, sizeof(*s->b))) == NULL)
		return CX_ERR_NOMEM;
	s->n = 1;
	cur = &s->b[0];
	cur->kind = SB_PRE;
	for (i = 0; i < m->n; i++) {
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind != SC_DIRECTIVE) {
			/* an indented comment ("    # ControlMaster auto")
			 * is part of the block's body */
			if (p.kind == SC_COMMENT && p.indent > 0 && i > 0)
				cur->body_end = i + 1;
			continue;
		}
		is_host = sc_kw_is(&p, "host");
		is_match = sc_kw_is(&p, "match");
		if (!is_host && !is_match) {
			cur->body_end = i + 1;
			continue;
		}
		if ((nb = cx_reallocarray(s->b, s->n + 1, sizeof(*nb))) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		s->b = nb;
		s->b[s->n - 1].end = i;
		cur = &s->b[s->n++];
		memset(cur, 0, sizeof(*cur));
		cur->start = i;
		cur->body_end = i + 1;
		cur->kind = SB_FOREIGN;
		if ((r = sc_split(p.val, p.vallen, &argv, &argc,
		    &cur->comment)) != 0)
			goto out;
		if (is_host) {
			if ((r = classify(m->prefix, cur, argv, argc)) != 0)
				goto out;
			for (j = 0; cur->kind == SB_FOREIGN && j < argc; j++)
				if (strcmp(argv[j], "*") == 0)
					cur->kind = SB_BARRIER;
		} else {
			for (j = 0; j < argc; j++)
				if (strcasecmp(argv[j], "all") == 0)
					cur->kind = SB_BARRIER;
		}
		sc_argv_free(argv);
		argv = NULL;
	}
	s->b[s->n - 1].end = m->n;
	for (i = 0; i < s->n; i++)
		if (s->b[i].kind == SB_HOST &&
		    (r = resolve_host(s, &s->b[i])) != 0)
			goto out;
 out:
	sc_argv_free(argv);
	if (r != 0)
		sc_scan_free(s);
	return r;
}

/* Start of the comment lines sitting directly on top of line idx. */
static size_t
comments_above(const struct cx_sshconf *m, size_t idx)
{
	struct sc_pl p;

	while (idx > 0) {
		sc_parse_line(m->lines[idx - 1].raw, m->lines[idx - 1].len, &p);
		if (p.kind != SC_COMMENT)
			break;
		idx--;
	}
	return idx;
}

static int is_banner_at(const struct cx_sshconf *, size_t, const char *);

/* Start of the section of the block at host: our banner for env (three
 * comment lines, then blank lines) or the comments directly on top. */
static size_t
section_top(const struct cx_sshconf *m, size_t host, const char *env)
{
	size_t top = host;

	while (top > 0 && sc_is_blank(m, top - 1))
		top--;
	if (env != NULL && top >= 3 && is_banner_at(m, top - 3, env))
		return top - 3;
	return comments_above(m, host);
}

/* ------------------------------------------------------------------ */
/* Editing one of our blocks                                           */

struct want {
	const char *kw;		/* canonical spelling */
	char *val;		/* formatted value (quoted as needed) */
	int commented;		/* written as "# Keyword value" */
	int raw;		/* compare the raw value (ProxyCommand) */
	int may_comment;	/* a commented line may stand for it */
};

static int
values_equal(const struct sc_pl *p, const struct want *w)
{
	char **a = NULL, **b = NULL;
	int ac, bc, i, eq = 0;

	if (w->raw)
		return p->vallen == strlen(w->val) &&
		    memcmp(p->val, w->val, p->vallen) == 0;
	if (sc_split(p->val, p->vallen, &a, &ac, NULL) != 0 ||
	    sc_split(w->val, strlen(w->val), &b, &bc, NULL) != 0)
		goto out;
	if (ac != bc)
		goto out;
	for (i = 0; i < ac; i++)
		if (strcmp(a[i], b[i]) != 0)
			goto out;
	eq = 1;
 out:
	sc_argv_free(a);
	sc_argv_free(b);
	return eq;
}

static int
want_line(struct cx_buf *o, const char *indent, size_t indentlen,
    const char *kw, size_t kwlen, const char *sep, size_t seplen,
    const struct want *w, const char *eol)
{
	int r;

	if ((r = cx_buf_append(o, indent, indentlen)) != 0)
		return r;
	if (w->commented && (r = cx_buf_puts(o, "# ")) != 0)
		return r;
	if ((r = cx_buf_append(o, kw, kwlen)) != 0 ||
	    (r = cx_buf_append(o, sep, seplen)) != 0 ||
	    (r = cx_buf_puts(o, w->val)) != 0)
		return r;
	return cx_buf_puts(o, eol);
}

/*
 * Rewrites the block whose Host line is at host so that it holds the wanted
 * lines: an equal line is kept byte for byte, a different one is rewritten
 * in place with its indentation, keyword spelling and separator, a missing
 * one is added after the previous wanted line; active lines of the owned
 * keywords that are not wanted are dropped (IdentityFile extras are kept:
 * ssh uses them all).
 */
static int
apply_block(struct cx_sshconf *m, size_t host, const char *const *owned,
    struct want *w, size_t nw)
{
	struct cx_buf o;
	struct sc_pl p, hp;
	const char *indent = "    ", *eol;
	size_t indentlen = 4, end, i, k, next = 0;
	ssize_t match[16];
	char ind[64];
	int r = 0, active, dropped, have_indent = 0;

	if (nw > 16)
		return CX_ERR_INTERNAL;
	cx_buf_init(&o, 0);
	sc_parse_line(m->lines[host].raw, m->lines[host].len, &hp);
	eol = hp.eollen == 2 ? "\r\n" : hp.eollen == 1 ? "\n" : m->eol;
	for (end = host + 1; end < m->n; end++) {
		sc_parse_line(m->lines[end].raw, m->lines[end].len, &p);
		if (p.kind == SC_DIRECTIVE &&
		    (sc_kw_is(&p, "host") || sc_kw_is(&p, "match")))
			break;
		if (p.kind == SC_DIRECTIVE && !have_indent && p.indent > 0) {
			indent = m->lines[end].raw;
			indentlen = p.indent;
			have_indent = 1;
		}
	}
	/* indentation borrowed from the block: copy it before we edit */
	if (indentlen >= sizeof(ind))
		indentlen = sizeof(ind) - 1;
	memcpy(ind, indent, indentlen);
	ind[indentlen] = '\0';

	for (k = 0; k < nw; k++) {
		match[k] = -1;
		/* the first active line wins; else a commented one */
		for (active = 1; active >= 0 && match[k] < 0; active--) {
			if (!active && !w[k].may_comment)
				break;
			for (i = host + 1; i < end; i++) {
				sc_parse_line(m->lines[i].raw, m->lines[i].len,
				    &p);
				if ((active ? p.kind == SC_DIRECTIVE :
				    p.kind == SC_COMMENT) && p.kwlen > 0 &&
				    sc_kw_is(&p, w[k].kw)) {
					match[k] = (ssize_t)i;
					break;
				}
			}
		}
	}
	for (i = host + 1; i <= end; i++) {
		/* after the Host line: the wanted lines missing before the
		 * first one found */
		if (i == host + 1) {
			while (next < nw && match[next] < 0) {
				if ((r = want_line(&o, ind, indentlen, w[next].kw,
				    strlen(w[next].kw), " ", 1, &w[next],
				    eol)) != 0)
					goto out;
				next++;
			}
		}
		if (i == end)
			break;
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		for (k = 0; k < nw; k++)
			if (match[k] == (ssize_t)i)
				break;
		if (k < nw) {
			const char *le = p.eollen == 2 ? "\r\n" :
			    p.eollen == 1 ? "\n" : "";
			int same = (p.kind == SC_COMMENT) == (w[k].commented != 0) &&
			    values_equal(&p, &w[k]);

			if (same) {
				r = cx_buf_append(&o, m->lines[i].raw,
				    m->lines[i].len);
			} else if (p.kind == SC_DIRECTIVE && !w[k].commented) {
				r = want_line(&o, m->lines[i].raw, p.indent,
				    p.kw, p.kwlen, p.kw + p.kwlen,
				    (size_t)(p.val - p.kw) - p.kwlen, &w[k],
				    *le ? le : eol);
			} else {
				r = want_line(&o, m->lines[i].raw, p.indent,
				    w[k].kw, strlen(w[k].kw), " ", 1, &w[k],
				    *le ? le : eol);
			}
			if (r != 0)
				goto out;
			if (next <= k)
				next = k + 1;
			/* wanted lines that follow it and are missing */
			while (next < nw && match[next] < 0) {
				if ((r = want_line(&o, ind, indentlen,
				    w[next].kw, strlen(w[next].kw), " ", 1,
				    &w[next], eol)) != 0)
					goto out;
				next++;
			}
			continue;
		}
		dropped = 0;
		if (p.kind == SC_DIRECTIVE && !sc_kw_is(&p, "identityfile")) {
			for (k = 0; owned[k] != NULL; k++)
				if (sc_kw_is(&p, owned[k]))
					dropped = 1;
		}
		if (!dropped && (r = cx_buf_append(&o, m->lines[i].raw,
		    m->lines[i].len)) != 0)
			goto out;
	}
	sc_delete(m, host + 1, end - (host + 1));
	if (o.len > 0)
		r = sc_insert(m, host + 1, (const char *)o.data, o.len);
	else
		r = fix_eols(m);
 out:
	cx_buf_clean_up(&o);
	return r;
}

static void
wants_free(struct want *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i].val);
}

/* Appends the wanted lines of a new block to t ('\n' line ends). */
static int
want_text(struct cx_buf *t, const struct want *w, size_t nw)
{
	size_t k;
	int r;

	for (k = 0; k < nw; k++)
		if ((r = want_line(t, "    ", 4, w[k].kw, strlen(w[k].kw), " ",
		    1, &w[k], "\n")) != 0)
			return r;
	return 0;
}

/*
 * Inserts text (lines using '\n') at pos, converted to the line end used
 * there, with one blank line before it (unless at the top or after a blank)
 * and one after it (unless at the end or before a blank).  *hostp receives
 * the index of the line at host_off lines into text.
 */
static int
insert_chunk(struct cx_sshconf *m, size_t pos, const char *text,
    size_t host_off, size_t *hostp)
{
	struct cx_buf b;
	const char *eol = eol_near(m, pos > 0 ? pos - 1 : pos);
	size_t lead = 0;
	const char *t;
	int r;

	cx_buf_init(&b, 0);
	if (pos > 0 && !sc_is_blank(m, pos - 1)) {
		if ((r = cx_buf_puts(&b, eol)) != 0)
			goto out;
		lead = 1;
	}
	for (t = text; *t != '\0'; t++) {
		r = *t == '\n' ? cx_buf_puts(&b, eol) : cx_buf_putc(&b, *t);
		if (r != 0)
			goto out;
	}
	if (pos < m->n && !sc_is_blank(m, pos) &&
	    (r = cx_buf_puts(&b, eol)) != 0)
		goto out;
	if ((r = sc_insert(m, pos, (const char *)b.data, b.len)) != 0)
		goto out;
	*hostp = pos + lead + host_off;
 out:
	cx_buf_clean_up(&b);
	return r;
}

/* Removes lines [pos, pos+count) and the blank lines that would double. */
static void
remove_tidy(struct cx_sshconf *m, size_t pos, size_t count)
{
	sc_delete(m, pos, count);
	while (pos < m->n && sc_is_blank(m, pos) &&
	    (pos == 0 || sc_is_blank(m, pos - 1)))
		sc_delete(m, pos, 1);
	if (pos == m->n)
		while (m->n > 0 && sc_is_blank(m, m->n - 1))
			sc_delete(m, m->n - 1, 1);
}

/* ------------------------------------------------------------------ */
/* The tiers                                                           */

static const char *const generic_owned[] = {
	"user", "tcpkeepalive", "identitiesonly", "controlmaster",
	"controlpath", "controlpersist", NULL
};
static const char *const env_owned[] = {
	"identityfile", "identityagent", "proxycommand", "userknownhostsfile",
	"stricthostkeychecking", NULL
};
static const char *const host_owned[] = { "hostname", "hostkeyalias", NULL };

static int
find_generic(const struct sc_scan *s, size_t *idx)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->b[i].kind == SB_GENERIC) {
			*idx = i;
			return 1;
		}
	return 0;
}

static int
find_env(const struct sc_scan *s, const char *env, size_t *idx)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->b[i].kind == SB_ENV && strcmp(s->b[i].env, env) == 0) {
			*idx = i;
			return 1;
		}
	return 0;
}

static int
is_ours(int kind)
{
	return kind == SB_GENERIC || kind == SB_ENV || kind == SB_HOST;
}

/* Where a new block of ours goes: after our last block that precedes the
 * first catch-all, else before that catch-all, else at the end. */
static size_t
new_block_pos(const struct cx_sshconf *m, const struct sc_scan *s)
{
	size_t i, pos = 0, barrier = m->n;
	int found = 0;

	for (i = 0; i < s->n; i++)
		if (s->b[i].kind == SB_BARRIER) {
			barrier = comments_above(m, s->b[i].start);
			break;
		}
	for (i = 0; i < s->n; i++) {
		if (is_ours(s->b[i].kind) && s->b[i].start < barrier) {
			pos = s->b[i].body_end;
			found = 1;
		}
	}
	return found ? pos : barrier;
}

int
cx_sshconf_ensure_generic(struct cx_sshconf *m)
{
	struct sc_scan s = { NULL, 0 };
	struct want w[6];
	struct cx_buf t;
	size_t i, host = 0, pos;
	int r, win = (m->flags & CX_SSHCONF_WINDOWS) != 0;
	static const char *const kv[6][2] = {
		{ "User", "ec2-user" }, { "TCPKeepAlive", "yes" },
		{ "IdentitiesOnly", "yes" }, { "ControlMaster", "auto" },
		{ "ControlPath", "~/.ssh/control/%r@%h:%p" },
		{ "ControlPersist", "4h" }
	};

	memset(w, 0, sizeof(w));
	cx_buf_init(&t, 0);
	for (i = 0; i < 6; i++) {
		w[i].kw = kv[i][0];
		if ((w[i].val = strdup(kv[i][1])) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		w[i].may_comment = i >= 3;
		w[i].commented = i >= 3 && win;
	}
	if ((r = sc_scan(m, &s)) != 0)
		goto out;
	if (find_generic(&s, &i)) {
		host = s.b[i].start;
	} else {
		/* before our first block, else where new blocks go */
		pos = m->n + 1;
		for (i = 0; i < s.n; i++)
			if (is_ours(s.b[i].kind)) {
				pos = section_top(m, s.b[i].start, s.b[i].env);
				break;
			}
		if (pos > m->n)
			pos = new_block_pos(m, &s);
		if (m->n == 0) {
			pos = 0;
			if ((r = cx_buf_printf(&t, "# SSH Configuration - "
			    "Managed by %s-proxy\n\n", m->prefix)) != 0)
				goto out;
		}
		if ((r = cx_buf_printf(&t, "%s\n#  GLOBAL\n%s\n\n",
		    BANNER_RULE, BANNER_RULE)) != 0)
			goto out;
		{
			size_t off = 0, k;

			for (k = 0; k < t.len; k++)
				if (t.data[k] == '\n')
					off++;
			if ((r = cx_buf_printf(&t, "Host %s-*\n",
			    m->prefix)) != 0 || (r = want_text(&t, w, 6)) != 0)
				goto out;
			r = insert_chunk(m, pos, cx_buf_str(&t), off, &host);
			goto out;
		}
	}
	r = apply_block(m, host, generic_owned, w, 6);
 out:
	wants_free(w, 6);
	sc_scan_free(&s);
	cx_buf_clean_up(&t);
	return r;
}

static int
check_opt_name(const char *what, const char *v, int required)
{
	if (v == NULL || *v == '\0') {
		if (!required)
			return 0;
		cx_error("missing %s", what);
		return CX_ERR_USAGE;
	}
	if (!cx_sshconf_valid_name(v)) {
		cx_error("invalid %s '%s'", what, v);
		return CX_ERR_INPUT;
	}
	return 0;
}

static int
check_opt_path(const char *what, const char *v, int required)
{
	if (v == NULL || *v == '\0') {
		if (!required)
			return 0;
		cx_error("missing %s", what);
		return CX_ERR_USAGE;
	}
	if (!cx_sshconf_valid_path(v)) {
		cx_error("invalid %s '%s'", what, v);
		return CX_ERR_INPUT;
	}
	return 0;
}

static int
check_env_opts(const struct cx_sshconf_env_opts *o)
{
	int r;

	if ((r = check_opt_path("proxy command path", o->proxy_path, 1)) ||
	    (r = check_opt_path("ssh dir", o->ssh_dir, 1)) ||
	    (r = check_opt_name("ssh key name", o->ssh_key, 1)) ||
	    (r = check_opt_name("profile name", o->profile, 0)) ||
	    (r = check_opt_path("ssh config path", o->ssh_config, 0)) ||
	    (r = check_opt_name("aws-env name", o->aws_env, 0)) ||
	    (r = check_opt_name("region", o->region, 0)) ||
	    (r = check_opt_path("identity agent path", o->identity_agent, 0)))
		return r;
	if (o->region != NULL && *o->region != '\0' &&
	    !cx_region_valid(o->region)) {
		cx_error("invalid region '%s'", o->region);
		return CX_ERR_INPUT;
	}
	return 0;
}

static int
add_opt(struct cx_buf *b, const char *opt, const char *val)
{
	int r;

	if ((r = cx_buf_printf(b, " %s ", opt)) != 0)
		return r;
	return sc_quote(val, b);
}

/*
 * The program of the ProxyCommand.  For Windows OpenSSH always in double
 * quotes, with backslashes: it hands a command starting with '"' to
 * CreateProcessW as it is (no shell), and looks a bare first word up by
 * its own rules.  A valid path (cx_ssh_path_valid) has no '"', '%' or
 * trailing '\', so the C runtime splits the quoted form back unchanged;
 * the arguments after it are quoted as everywhere (sc_quote).
 */
static int
add_prog(struct cx_buf *b, const char *path, int windows)
{
	char *p;
	int r;

	if (!windows)
		return sc_quote(path, b);
	if ((p = strdup(path)) == NULL)
		return CX_ERR_NOMEM;
	win_slashes(p, 1);
	r = cx_buf_printf(b, "\"%s\"", p);
	free(p);
	return r;
}

static int
same_path(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	int eq = 0;

	if (cx_expand_user(a, &x) == 0 && cx_expand_user(b, &y) == 0) {
		path_tidy(x);
		path_tidy(y);
		eq = strcmp(x, y) == 0;
	}
	free(x);
	free(y);
	return eq;
}

int
cx_sshconf_proxy_command(const struct cx_sshconf_env_opts *o, char **out)
{
	struct cx_buf b;
	char *dprof = NULL, *dkey = NULL, *ddir = NULL, *cdir = NULL;
	int r;

	*out = NULL;
	if ((r = check_env_opts(o)) != 0)
		return r;
	cx_buf_init(&b, 0);
	/* what connect would pick when told nothing */
	if ((r = cx_sshconf_connect_defaults(o->home, NULL, NULL, &dprof,
	    &dkey, &ddir)) != 0)
		goto out;
	if ((r = add_prog(&b, o->proxy_path, o->windows)) != 0 ||
	    (r = cx_buf_puts(&b, " connect %h %p --os-user %r")) != 0)
		goto out;
	if (!same_path(o->ssh_dir, ddir)) {
		/* connect then derives its key/profile defaults from the dir */
		free(dprof);
		free(dkey);
		free(ddir);
		dprof = dkey = ddir = NULL;
		if ((r = cx_sshconf_connect_defaults(o->home, o->ssh_dir, NULL,
		    &dprof, &dkey, &ddir)) != 0)
			goto out;
	}
	if (o->profile != NULL && *o->profile != '\0' &&
	    strcmp(o->profile, dprof) != 0 &&
	    (r = add_opt(&b, "--profile", o->profile)) != 0)
		goto out;
	if (strcmp(o->ssh_key, dkey) != 0 &&
	    (r = add_opt(&b, "--ssh-key", o->ssh_key)) != 0)
		goto out;
	free(ddir);
	ddir = NULL;
	free(dprof);
	free(dkey);
	dprof = dkey = NULL;
	if ((r = cx_sshconf_connect_defaults(o->home, NULL, NULL, &dprof,
	    &dkey, &ddir)) != 0)
		goto out;
	if (!same_path(o->ssh_dir, ddir)) {
		if (o->ssh_config != NULL && *o->ssh_config != '\0' &&
		    (cdir = xdirname(o->ssh_config)) != NULL &&
		    same_path(cdir, o->ssh_dir))
			r = add_opt(&b, "--ssh-config", o->ssh_config);
		else
			r = add_opt(&b, "--ssh-dir", o->ssh_dir);
		if (r != 0)
			goto out;
	}
	if (o->aws_env != NULL && *o->aws_env != '\0' &&
	    (r = add_opt(&b, "--aws-env", o->aws_env)) != 0)
		goto out;
	if (o->region != NULL && *o->region != '\0' &&
	    (r = add_opt(&b, "--region", o->region)) != 0)
		goto out;
	if ((*out = cx_buf_steal_str(&b)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	free(dprof);
	free(dkey);
	free(ddir);
	free(cdir);
	cx_buf_clean_up(&b);
	return r;
}

static int
quoted_dup(const char *s, char **out)
{
	struct cx_buf b;
	int r;

	*out = NULL;
	cx_buf_init(&b, 0);
	if ((r = sc_quote(s, &b)) == 0 &&
	    (*out = cx_buf_steal_str(&b)) == NULL)
		r = CX_ERR_NOMEM;
	cx_buf_clean_up(&b);
	return r;
}

/* Index (in file order) of the first environment that would shadow env:
 * one whose pattern also matches env's hosts ("dev" for "dev-eu"). */
static int
shadowing_env(const struct sc_scan *s, const char *env, size_t *idx)
{
	size_t i, el;

	for (i = 0; i < s->n; i++) {
		if (s->b[i].kind != SB_ENV)
			continue;
		el = strlen(s->b[i].env);
		if (strncmp(env, s->b[i].env, el) == 0 && env[el] == '-') {
			*idx = i;
			return 1;
		}
	}
	return 0;
}

int
cx_sshconf_set_env(struct cx_sshconf *m, const char *env,
    const struct cx_sshconf_env_opts *opts)
{
	struct cx_sshconf_env_opts oo = *opts, *o = &oo;
	struct sc_scan s = { NULL, 0 };
	struct want w[5];
	struct cx_buf t;
	char *pc = NULL, *idf = NULL, *kh = NULL;
	size_t nw = 0, i, host, pos;
	int r;

	memset(w, 0, sizeof(w));
	cx_buf_init(&t, 0);
	if ((r = check_opt_name("environment name", env, 1)) != 0 ||
	    (r = check_env_opts(o)) != 0)
		goto out;
	o->windows = (m->flags & CX_SSHCONF_WINDOWS) != 0;
	if ((r = cx_sshconf_proxy_command(o, &pc)) != 0)
		goto out;
	if ((r = cx_path_join(o->ssh_dir, o->ssh_key, &idf)) != 0)
		goto out;
	/* Windows OpenSSH splits these values as ssh does everywhere, where
	 * a backslash may escape: its paths are written with '/' */
	if (o->windows)
		win_slashes(idf, 0);
	if (o->identity_agent != NULL && *o->identity_agent != '\0') {
		w[nw].kw = "IdentityAgent";
		if ((r = quoted_dup(o->identity_agent, &w[nw].val)) != 0)
			goto out;
		if (o->windows)
			win_slashes(w[nw].val, 0);
		/* Windows OpenSSH's own pipe (1Password's too) is its
		 * default: no line, as a Windows user would write it */
		if (o->windows && strcmp(w[nw].val,
		    "//./pipe/openssh-ssh-agent") == 0) {
			free(w[nw].val);
			w[nw].val = NULL;
		} else {
			nw++;
		}
		if ((r = cx_buf_printf(&t, "%s.pub", idf)) != 0)
			goto out;
		free(idf);
		idf = cx_buf_steal_str(&t);
		if (idf == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
	}
	w[nw].kw = "IdentityFile";
	if ((r = quoted_dup(idf, &w[nw].val)) != 0)
		goto out;
	nw++;
	w[nw].kw = "ProxyCommand";
	w[nw].raw = 1;
	w[nw].val = pc;
	pc = NULL;	/* transferred */
	nw++;
	/*
	 * Host keys pinned to the instance (with the host's HostKeyAlias):
	 * our own known_hosts beside the config first (ssh adds new keys to
	 * the first file), the user's own still read after it; a first key
	 * accepted (it came through an SSM session AWS authenticated to that
	 * instance), a changed one refused.  Never "no".
	 */
	if ((r = cx_path_join(o->ssh_dir, "known_hosts", &kh)) != 0)
		goto out;
	if (o->windows)
		win_slashes(kh, 0);
	w[nw].kw = "UserKnownHostsFile";
	if ((r = quoted_dup(kh, &w[nw].val)) != 0)
		goto out;
	free(kh);
	if (cx_asprintf(&kh, "%s ~/.ssh/known_hosts", w[nw].val) < 0) {
		kh = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	free(w[nw].val);
	w[nw].val = kh;
	kh = NULL;	/* transferred */
	nw++;
	w[nw].kw = "StrictHostKeyChecking";
	if ((w[nw].val = strdup("accept-new")) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	nw++;

	if ((r = cx_sshconf_ensure_generic(m)) != 0)
		goto out;
	if ((r = sc_scan(m, &s)) != 0)
		goto out;
	if (find_env(&s, env, &i)) {
		host = s.b[i].start;
	} else {
		if (shadowing_env(&s, env, &i))
			pos = section_top(m, s.b[i].start, s.b[i].env);
		else
			pos = new_block_pos(m, &s);
		cx_buf_reset(&t);
		if ((r = cx_buf_printf(&t, "%s\n#  %s\n%s\n\nHost %s-%s-*\n",
		    BANNER_RULE, env, BANNER_RULE, m->prefix, env)) != 0 ||
		    (r = want_text(&t, w, nw)) != 0)
			goto out;
		r = insert_chunk(m, pos, cx_buf_str(&t), 4, &host);
		goto out;
	}
	r = apply_block(m, host, env_owned, w, nw);
 out:
	wants_free(w, 5);
	free(pc);
	free(idf);
	free(kh);
	sc_scan_free(&s);
	cx_buf_clean_up(&t);
	return r;
}

/* The first word of keyword kw's first value in block lines (start, end),
 * malloc'd, or NULL. */
static char *
block_word(const struct cx_sshconf *m, size_t start, size_t end,
    const char *kw)
{
	struct sc_pl p;
	size_t i, n;

	for (i = start + 1; i < end && i < m->n; i++) {
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind != SC_DIRECTIVE || !sc_kw_is(&p, kw))
			continue;
		for (n = 0; n < p.vallen && !isspace((unsigned char)p.val[n]);
		    n++)
			;
		return strndup(p.val, n);
	}
	return NULL;
}

int
cx_sshconf_pin_host_keys(struct cx_sshconf *m, const char *kh_dir,
    int *count)
{
	static const char *const env_pin[] = { "userknownhostsfile",
	    "stricthostkeychecking", NULL };
	static const char *const host_pin[] = { "hostkeyalias", NULL };
	struct sc_scan s = { NULL, 0 };
	struct want w[2];
	struct cx_buf before, after;
	char *kh = NULL, *q = NULL, *hn;
	size_t i, nblocks;
	int r, changed = 0;

	if (count != NULL)
		*count = 0;
	memset(w, 0, sizeof(w));
	cx_buf_init(&before, 0);
	cx_buf_init(&after, 0);
	if ((r = cx_path_join(kh_dir, "known_hosts", &kh)) != 0 ||
	    (r = quoted_dup(kh, &q)) != 0)
		goto out;
	if ((r = sc_scan(m, &s)) != 0)
		goto out;
	nblocks = s.n;
	/* one block at a time: an edit moves the lines of the next ones */
	for (i = 0; i < nblocks; i++) {
		if (i > 0) {
			sc_scan_free(&s);
			if ((r = sc_scan(m, &s)) != 0)
				goto out;
			if (s.n != nblocks) {
				r = CX_ERR_INTERNAL;
				goto out;
			}
		}
		wants_free(w, 2);
		memset(w, 0, sizeof(w));
		cx_buf_reset(&before);
		cx_buf_reset(&after);
		if ((r = cx_sshconf_render(m, &before)) != 0)
			goto out;
		if (s.b[i].kind == SB_ENV) {
			w[0].kw = "UserKnownHostsFile";
			w[1].kw = "StrictHostKeyChecking";
			if (cx_asprintf(&w[0].val, "%s ~/.ssh/known_hosts", q) < 0) {
				w[0].val = NULL;
				r = CX_ERR_NOMEM;
				goto out;
			}
			if ((w[1].val = strdup("accept-new")) == NULL) {
				r = CX_ERR_NOMEM;
				goto out;
			}
			r = apply_block(m, s.b[i].start, env_pin, w, 2);
		} else if (s.b[i].kind == SB_HOST) {
			hn = block_word(m, s.b[i].start, s.b[i].end,
			    "hostname");
			if (hn == NULL || !cx_instance_id_valid(hn)) {
				free(hn);
				continue;
			}
			w[0].kw = "HostKeyAlias";
			w[0].val = hn;
			r = apply_block(m, s.b[i].start, host_pin, w, 1);
		} else {
			continue;
		}
		if (r != 0 || (r = cx_sshconf_render(m, &after)) != 0)
			goto out;
		if (before.len != after.len ||
		    memcmp(before.data, after.data, before.len) != 0)
			changed++;
	}
	if (count != NULL)
		*count = changed;
	r = 0;
 out:
	wants_free(w, 2);
	sc_scan_free(&s);
	cx_buf_clean_up(&before);
	cx_buf_clean_up(&after);
	free(kh);
	free(q);
	return r;
}

int
cx_sshconf_set_host(struct cx_sshconf *m, const char *env, const char *name,
    const char *instance_id, int *replaced)
{
	struct sc_scan s = { NULL, 0 };
	struct want w[2];
	struct cx_buf t;
	char *full = NULL;
	size_t i, host = 0, pos;
	ssize_t first = -1;
	int r;

	if (replaced != NULL)
		*replaced = 0;
	memset(w, 0, sizeof(w));
	cx_buf_init(&t, 0);
	if ((r = check_opt_name("environment name", env, 1)) != 0 ||
	    (r = check_opt_name("host name", name, 1)) != 0)
		goto out;
	if (!cx_instance_id_valid(instance_id)) {
		cx_error("invalid instance id '%s'",
		    instance_id ? instance_id : "");
		r = CX_ERR_INPUT;
		goto out;
	}
	w[0].kw = "HostName";
	/* the host key is known under the instance, not under the name: a
	 * name moved to another instance meets no old key */
	w[1].kw = "HostKeyAlias";
	if ((w[0].val = strdup(instance_id)) == NULL ||
	    (w[1].val = strdup(instance_id)) == NULL ||
	    cx_asprintf(&full, "%s-%s-%s", m->prefix, env, name) < 0) {
		full = NULL;
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = sc_scan(m, &s)) != 0)
		goto out;
	if (!find_env(&s, env, &i)) {
		cx_error("environment '%s' is not configured", env);
		r = CX_ERR_NOTFOUND;
		goto out;
	}
	pos = s.b[i].body_end;
	for (i = 0; i < s.n; i++) {
		if (s.b[i].kind != SB_HOST || strcmp(s.b[i].pattern, full) != 0)
			continue;
		if (strcmp(s.b[i].env, env) != 0) {
			cx_error("host '%s' already belongs to environment "
			    "'%s'", full, s.b[i].env);
			r = CX_ERR_INPUT;
			goto out;
		}
		if (first < 0)
			first = (ssize_t)i;
	}
	if (first >= 0) {
		/* later duplicates are dead weight (ssh takes the first) */
		for (i = s.n; i-- > (size_t)first + 1;)
			if (s.b[i].kind == SB_HOST &&
			    strcmp(s.b[i].pattern, full) == 0)
				remove_tidy(m, s.b[i].start,
				    s.b[i].body_end - s.b[i].start);
		host = s.b[first].start;
		if (replaced != NULL)
			*replaced = 1;
	} else {
		for (i = 0; i < s.n; i++)
			if (s.b[i].kind == SB_HOST &&
			    strcmp(s.b[i].env, env) == 0 &&
			    s.b[i].body_end > pos)
				pos = s.b[i].body_end;
		if ((r = cx_buf_printf(&t, "Host %s\n", full)) != 0 ||
		    (r = want_text(&t, w, 2)) != 0)
			goto out;
		r = insert_chunk(m, pos, cx_buf_str(&t), 0, &host);
		goto out;
	}
	r = apply_block(m, host, host_owned, w, 2);
 out:
	wants_free(w, 2);
	free(full);
	sc_scan_free(&s);
	cx_buf_clean_up(&t);
	return r;
}

int
cx_sshconf_remove_host(struct cx_sshconf *m, const char *env,
    const char *name)
{
	struct sc_scan s = { NULL, 0 };
	size_t i;
	int r, found = 0;

	if ((r = check_opt_name("environment name", env, 1)) != 0 ||
	    (r = check_opt_name("host name", name, 1)) != 0)
		return r;
	if ((r = sc_scan(m, &s)) != 0)
		return r;
	for (i = s.n; i-- > 0;) {
		if (s.b[i].kind == SB_HOST && strcmp(s.b[i].env, env) == 0 &&
		    strcmp(s.b[i].name, name) == 0) {
			remove_tidy(m, s.b[i].start,
			    s.b[i].body_end - s.b[i].start);
			found = 1;
		}
	}
	sc_scan_free(&s);
	if (!found) {
		cx_error("host '%s-%s-%s' is not configured", m->prefix, env,
		    name);
		return CX_ERR_NOTFOUND;
	}
	return 0;
}

/* 1 if line idx is our section banner for env (its middle line). */
static int
is_banner_at(const struct cx_sshconf *m, size_t top, const char *env)
{
	struct sc_pl p;
	char *mid = NULL;
	int ok = 0, i;

	if (top + 2 >= m->n)
		return 0;
	for (i = 0; i < 3; i++) {
		sc_parse_line(m->lines[top + i].raw, m->lines[top + i].len, &p);
		if (p.kind != SC_COMMENT)
			return 0;
	}
	if (cx_asprintf(&mid, "#  %s", env) < 0)
		return 0;
	ok = strncmp(m->lines[top].raw, BANNER_RULE, strlen(BANNER_RULE)) == 0 &&
	    strncmp(m->lines[top + 2].raw, BANNER_RULE,
	    strlen(BANNER_RULE)) == 0 &&
	    strncmp(m->lines[top + 1].raw, mid, strlen(mid)) == 0 &&
	    strchr("\r\n", m->lines[top + 1].raw[strlen(mid)]) != NULL;
	free(mid);
	return ok;
}

int
cx_sshconf_remove_env(struct cx_sshconf *m, const char *env)
{
	struct sc_scan s = { NULL, 0 };
	size_t i, start, top;
	int r, found = 0;

	if ((r = check_opt_name("environment name", env, 1)) != 0)
		return r;
	if ((r = sc_scan(m, &s)) != 0)
		return r;
	for (i = s.n; i-- > 0;) {
		if ((s.b[i].kind != SB_HOST && s.b[i].kind != SB_ENV) ||
		    strcmp(s.b[i].env, env) != 0)
			continue;
		start = s.b[i].start;
		if (s.b[i].kind == SB_ENV) {
			found = 1;
			/* its banner: three comment lines, then blanks */
			top = section_top(m, start, env);
			if (top < start && is_banner_at(m, top, env))
				start = top;
		}
		remove_tidy(m, start, s.b[i].body_end - start);
	}
	sc_scan_free(&s);
	if (!found) {
		cx_error("environment '%s' is not configured", env);
		return CX_ERR_NOTFOUND;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Adopting the Python tool's config                                   */

static int
is_seed_cmd(const char *w)
{
	const char *b = strrchr(w, '/');

	b = b ? b + 1 : w;
	return strcmp(b, "cloudx-proxy") == 0 || strcmp(b, "cloudX-proxy") == 0;
}

int
cx_sshconf_adopt(struct cx_sshconf *m, const char *proxy_path, int *count)
{
	struct sc_scan s = { NULL, 0 };
	struct sc_pl p;
	struct cx_buf b;
	char **argv = NULL;
	const char *rest, *le;
	size_t i, k;
	int r, argc, uvx, c;

	if (count != NULL)
		*count = 0;
	cx_buf_init(&b, 0);
	if ((r = check_opt_path("proxy command path", proxy_path, 1)) != 0)
		return r;
	if ((r = sc_scan(m, &s)) != 0)
		return r;
	for (i = 0; i < s.n; i++) {
		if (!is_ours(s.b[i].kind))
			continue;
		for (k = s.b[i].start + 1; k < s.b[i].end; k++) {
			sc_parse_line(m->lines[k].raw, m->lines[k].len, &p);
			if (p.kind != SC_DIRECTIVE ||
			    !sc_kw_is(&p, "proxycommand"))
				continue;
			if ((r = sc_split(p.val, p.vallen, &argv, &argc,
			    NULL)) != 0)
				goto out;
			uvx = argc > 0 && strcmp(argv[0], "uvx") == 0;
			for (c = 0; c < argc; c++)
				if (strcmp(argv[c], "connect") == 0)
					break;
			/* "uvx [uvx options] cloudX-proxy connect", or the
			 * bare script; our own absolute path is left alone */
			if (c == argc || c == 0 || !is_seed_cmd(argv[c - 1]) ||
			    (!uvx && (c != 1 || cx_path_is_absolute(argv[0])))) {
				sc_argv_free(argv);
				argv = NULL;
				continue;
			}
			sc_argv_free(argv);
			argv = NULL;
			/* keep the options as written: from "connect" on */
			rest = NULL;
			{
				size_t j;

				for (j = 0; j + 7 <= p.vallen; j++)
					if (memcmp(p.val + j, "connect", 7) == 0 &&
					    (j == 0 || p.val[j - 1] == ' ' ||
					    p.val[j - 1] == '\t') &&
					    (j + 7 == p.vallen ||
					    p.val[j + 7] == ' ' ||
					    p.val[j + 7] == '\t')) {
						rest = p.val + j;
						break;
					}
			}
			if (rest == NULL)
				continue;
			le = p.eollen == 2 ? "\r\n" : p.eollen == 1 ? "\n" : "";
			cx_buf_reset(&b);
			if ((r = cx_buf_append(&b, m->lines[k].raw,
			    p.sep_end)) != 0 ||
			    (r = sc_quote(proxy_path, &b)) != 0 ||
			    (r = cx_buf_putc(&b, ' ')) != 0 ||
			    (r = cx_buf_append(&b, rest, (size_t)(p.val +
			    p.vallen - rest))) != 0 ||
			    (r = cx_buf_puts(&b, le)) != 0)
				goto out;
			if ((r = sc_replace(m, k, (const char *)b.data,
			    b.len)) != 0)
				goto out;
			if (count != NULL)
				(*count)++;
		}
	}
	r = 0;
 out:
	sc_argv_free(argv);
	sc_scan_free(&s);
	cx_buf_clean_up(&b);
	return r;
}

char *
cx_sshconf_guess_prefix(const void *data, size_t len)
{
	struct cx_sshconf *m = NULL;
	struct sc_pl p;
	char **argv = NULL;
	const char *mark = "Managed by ";
	char *res = NULL;
	size_t i, ml = strlen(mark), k, al;
	int argc;

	if (cx_sshconf_parse(data, len, "cloudx", 0, &m) != 0)
		return NULL;
	for (i = 0; i < m->n && res == NULL; i++) {
		const char *c = strstr(m->lines[i].raw, mark);

		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind == SC_COMMENT && c != NULL) {
			c += ml;
			for (k = 0; c[k] != '\0' && strchr(" \t\r\n", c[k]) ==
			    NULL; k++)
				;
			if (k > 6 && strncmp(c + k - 6, "-proxy", 6) == 0)
				res = strndup(c, k - 6);
		}
	}
	for (i = 0; i < m->n && res == NULL; i++) {
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind != SC_DIRECTIVE || !sc_kw_is(&p, "host"))
			continue;
		if (sc_split(p.val, p.vallen, &argv, &argc, NULL) != 0)
			break;
		if (argc == 1 && (al = strlen(argv[0])) > 2 &&
		    strcmp(argv[0] + al - 2, "-*") == 0 &&
		    strncasecmp(argv[0], "cloudx", 6) == 0 &&
		    strchr(argv[0], '-') == argv[0] + al - 2)
			res = strndup(argv[0], al - 2);
		sc_argv_free(argv);
		argv = NULL;
	}
	cx_sshconf_free(m);
	if (res != NULL && !cx_sshconf_valid_name(res)) {
		free(res);
		res = NULL;
	}
	return res;
}
