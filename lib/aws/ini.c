#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/shlex.h"
#include "ini.h"

struct parser {
	struct cx_ini *ini;
	struct cx_ini_section *cur;	/* current section or NULL */
	struct cx_ini_entry *opt;	/* entry that may be continued */
	struct cx_buf val;		/* value being built for opt */
	size_t indent_level;
	int blanks;			/* blank lines since the last value */
	struct cx_ini_error *err;
};

static void
section_free(struct cx_ini_section *s)
{
	size_t i, j;

	for (i = 0; i < s->nent; i++) {
		struct cx_ini_entry *e = &s->ent[i];
		for (j = 0; j < e->nsub; j++) {
			free(e->sub[j].key);
			cx_freezero_str(e->sub[j].value);
		}
		free(e->sub);
		free(e->key);
		cx_freezero_str(e->value);
	}
	free(s->ent);
	free(s->name);
}

void
cx_ini_free(struct cx_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->nsec; i++)
		section_free(&ini->sec[i]);
	free(ini->sec);
	if (ini->defaults != NULL) {
		section_free(ini->defaults);
		free(ini->defaults);
	}
	free(ini->path);
	free(ini);
}

static int fail(struct parser *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (p->err != NULL) {
		p->err->line = line;
		va_start(ap, fmt);
		/* a cut message is still a useful message */
		(void)vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return CX_ERR_CONFIG;
}

/* Moves the value being built into the current entry. */
static int
finish_value(struct parser *p)
{
	struct cx_ini_entry *e = p->opt;
	char *s;

	if (e == NULL)
		return 0;
	/* configparser joins then rstrip()s: trailing blank lines go */
	while (p->val.len > 0 &&
	    isspace((unsigned char)p->val.data[p->val.len - 1]))
		p->val.data[--p->val.len] = '\0';
	if ((s = cx_buf_steal_str(&p->val)) == NULL)
		return CX_ERR_NOMEM;
	e->value = s;
	p->opt = NULL;
	p->blanks = 0;
	return 0;
}

static const char *
sect_label(const struct parser *p)
{
	return p->cur == p->ini->defaults ? "DEFAULT" : p->cur->name;
}

static int
add_sub(struct parser *p, const char *text, int line)
{
	struct cx_ini_entry *e = p->opt;
	struct cx_ini_sub *ns;
	const char *eq = strchr(text, '=');
	const char *k, *ke, *v, *ve;
	size_t i;

	if (eq == NULL)
		return fail(p, line,
		    "no '=' in sub-section line of key '%s' in section '%s'",
		    e->key, sect_label(p));
	for (k = text; isspace((unsigned char)*k); k++)
		;
	for (ke = eq; ke > k && isspace((unsigned char)ke[-1]); ke--)
		;
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	ve = v + strlen(v);
	while (ve > v && isspace((unsigned char)ve[-1]))
		ve--;
	/* like a Python dict: a repeated name replaces the earlier one */
	for (i = 0; i < e->nsub; i++) {
		if (strlen(e->sub[i].key) == (size_t)(ke - k) &&
		    strncmp(e->sub[i].key, k, (size_t)(ke - k)) == 0) {
			cx_freezero_str(e->sub[i].value);
			if ((e->sub[i].value = strndup(v, (size_t)(ve - v))) ==
			    NULL)
				return CX_ERR_NOMEM;
			return 0;
		}
	}
	if ((ns = cx_reallocarray(e->sub, e->nsub + 1, sizeof(*ns))) == NULL)
		return CX_ERR_NOMEM;
	e->sub = ns;
	ns[e->nsub].key = strndup(k, (size_t)(ke - k));
	ns[e->nsub].value = strndup(v, (size_t)(ve - v));
	e->nsub++;
	if (ns[e->nsub - 1].key == NULL || ns[e->nsub - 1].value == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

static int
add_section(struct parser *p, const char *name, size_t len, int line)
{
	struct cx_ini *ini = p->ini;
	struct cx_ini_section *ns;
	size_t i;
	char *nm;

	if ((nm = strndup(name, len)) == NULL)
		return CX_ERR_NOMEM;
	if (strcmp(nm, "DEFAULT") == 0) {
		free(nm);
		if (ini->defaults == NULL &&
		    (ini->defaults = calloc(1, sizeof(*ini->defaults))) == NULL)
			return CX_ERR_NOMEM;
		if (ini->defaults->name == NULL &&
		    (ini->defaults->name = strdup("DEFAULT")) == NULL)
			return CX_ERR_NOMEM;
		p->cur = ini->defaults;
		return 0;
	}
	for (i = 0; i < ini->nsec; i++) {
		if (strcmp(ini->sec[i].name, nm) == 0) {
			int r;
			r = fail(p, line,
			    "duplicate section '%s' (first at line %d)", nm,
			    ini->sec[i].line);
			free(nm);
			return r;
		}
	}
	if ((ns = cx_reallocarray(ini->sec, ini->nsec + 1, sizeof(*ns))) ==
	    NULL) {
		free(nm);
		return CX_ERR_NOMEM;
	}
	ini->sec = ns;
	memset(&ns[ini->nsec], 0, sizeof(*ns));
	ns[ini->nsec].name = nm;
	ns[ini->nsec].line = line;
	p->cur = &ns[ini->nsec++];
	return 0;
}

static int
add_option(struct parser *p, const char *text, int line)
{
	struct cx_ini_section *s = p->cur;
	struct cx_ini_entry *ne;
	const char *d, *ke, *v;
	char *key;
	size_t i;
	int r;

	d = text + strcspn(text, "=:");
	if (*d == '\0')
		return fail(p, line, "no '=' or ':' in line");
	for (ke = d; ke > text && isspace((unsigned char)ke[-1]); ke--)
		;
	if (ke == text)
		return fail(p, line, "empty key name");
	if ((key = strndup(text, (size_t)(ke - text))) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	for (i = 0; i < s->nent; i++) {
		if (strcmp(s->ent[i].key, key) == 0) {
			r = fail(p, line, "duplicate key '%s' in section '%s'",
			    key, sect_label(p));
			free(key);
			return r;
		}
	}
	if ((ne = cx_reallocarray(s->ent, s->nent + 1, sizeof(*ne))) == NULL) {
		free(key);
		return CX_ERR_NOMEM;
	}
	s->ent = ne;
	memset(&ne[s->nent], 0, sizeof(*ne));
	ne[s->nent].key = key;
	ne[s->nent].line = line;
	p->opt = &ne[s->nent++];
	for (v = d + 1; isspace((unsigned char)*v); v++)
		;
	cx_buf_reset(&p->val);
	p->blanks = 0;
	return cx_buf_puts(&p->val, v);	/* text is already right-stripped */
}

static int
parse_line(struct parser *p, char *line, int lineno)
{
	char *s, *e, *rb;
	size_t indent;
	int r, i;

	for (s = line; isspace((unsigned char)*s); s++)
		;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (*s == '#' || *s == ';')
		return 0;	/* comments never end a value */
	if (*s == '\0') {
		if (p->opt != NULL)
			p->blanks++;
		return 0;
	}
	indent = (size_t)(s - line);
	if (p->cur != NULL && p->opt != NULL && indent > p->indent_level) {
		/* a continuation line; an empty first value makes the entry
		 * a sub-section, whose lines must be "name = value" */
		if (p->val.len == 0 || p->opt->nsub > 0) {
			if ((r = add_sub(p, s, lineno)) != 0)
				return r;
		}
		for (i = 0; i <= p->blanks; i++)
			if ((r = cx_buf_putc(&p->val, '\n')) != 0)
				return r;
		p->blanks = 0;
		return cx_buf_puts(&p->val, s);
	}
	if ((r = finish_value(p)) != 0)
		return r;
	p->indent_level = indent;
	if (*s == '[' && (rb = strrchr(s + 1, ']')) != NULL && rb > s + 1)
		return add_section(p, s + 1, (size_t)(rb - s - 1), lineno);
	if (p->cur == NULL)
		return fail(p, lineno, "key outside any [section]");
	return add_option(p, s, lineno);
}

int
cx_ini_parse(const char *text, size_t len, const char *path,
    struct cx_ini **out, struct cx_ini_error *err)
{
	struct parser p;
	struct cx_buf line;
	size_t i, start;
	int r, lineno = 0;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (err != NULL) {
		err->line = 0;
		err->msg[0] = '\0';
	}
	cx_buf_init(&p.val, CX_INI_MAX_SIZE);
	cx_buf_set_secret(&p.val);
	cx_buf_init(&line, CX_INI_MAX_SIZE);
	cx_buf_set_secret(&line);
	if (len > CX_INI_MAX_SIZE) {
		r = CX_ERR_TOOBIG;
		goto out;
	}
	if ((p.ini = calloc(1, sizeof(*p.ini))) == NULL ||
	    (path != NULL && (p.ini->path = strdup(path)) == NULL)) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		r = fail(&p, 0, "contains a NUL byte");
		goto out;
	}
	/* a UTF-8 byte order mark is not part of the first line */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	else
		i = 0;
	for (start = i; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		lineno++;
		cx_buf_reset(&line);
		if ((r = cx_buf_append(&line, text + start, i - start)) != 0)
			goto out;
		if ((r = parse_line(&p, (char *)(line.data ? line.data :
		    (unsigned char *)""), lineno)) != 0)
			goto out;
		start = i + 1;
	}
	if ((r = finish_value(&p)) != 0)
		goto out;
	*out = p.ini;
	p.ini = NULL;	/* transferred */
	r = 0;
 out:
	if (p.opt != NULL && p.opt->value == NULL) {
		/* a half-built entry still needs a value to be freed */
		p.opt->value = cx_buf_steal_str(&p.val);
	}
	cx_ini_free(p.ini);
	cx_buf_clean_up(&p.val);
	cx_buf_clean_up(&line);
	return r;
}

int
cx_ini_load(const char *path, struct cx_ini **out)
{
	struct cx_buf b;
	struct cx_ini_error err;
	int r;

	*out = NULL;
	cx_buf_init(&b, CX_INI_MAX_SIZE);
	cx_buf_set_secret(&b);
	r = cx_read_file(path, CX_INI_MAX_SIZE, &b);
	if (r == CX_ERR_NOTFOUND)
		goto out;
	if (r != 0) {
		/* cx_read_file() said why */
		goto out;
	}
	r = cx_ini_parse((const char *)cx_buf_str(&b), b.len, path, out,
	    &err);
	if (r == CX_ERR_CONFIG) {
		if (err.line > 0)
			cx_error("malformed AWS config file '%s' line %d: %s",
			    path, err.line, err.msg);
		else
			cx_error("malformed AWS config file '%s': %s", path,
			    err.msg);
	} else if (r == CX_ERR_TOOBIG) {
		cx_error("'%s' is larger than %d bytes", path,
		    CX_INI_MAX_SIZE);
	}
 out:
	cx_buf_clean_up(&b);
	return r;
}

const struct cx_ini_section *
cx_ini_section(const struct cx_ini *ini, const char *name)
{
	size_t i;

	if (ini == NULL)
		return NULL;
	for (i = 0; i < ini->nsec; i++)
		if (strcmp(ini->sec[i].name, name) == 0)
			return &ini->sec[i];
	return NULL;
}

static const struct cx_ini_entry *
find_entry(const struct cx_ini_section *s, const char *key)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->nent; i++)
		if (strcmp(s->ent[i].key, key) == 0)
			return &s->ent[i];
	return NULL;
}

const struct cx_ini_entry *
cx_ini_entry(const struct cx_ini *ini, const struct cx_ini_section *s,
    const char *key)
{
	const struct cx_ini_entry *e;

	if (s == NULL)
		return NULL;
	if ((e = find_entry(s, key)) != NULL)
		return e;
	return ini != NULL ? find_entry(ini->defaults, key) : NULL;
}

const char *
cx_ini_get(const struct cx_ini *ini, const struct cx_ini_section *s,
    const char *key)
{
	const struct cx_ini_entry *e = cx_ini_entry(ini, s, key);

	return e != NULL ? e->value : NULL;
}

const char *
cx_ini_sub_get(const struct cx_ini_entry *e, const char *key)
{
	size_t i;

	if (e == NULL)
		return NULL;
	for (i = 0; i < e->nsub; i++)
		if (strcmp(e->sub[i].key, key) == 0)
			return e->sub[i].value;
	return NULL;
}

int
cx_ini_header_name(const char *raw, const char *kind, char **namep)
{
	char **w = NULL;
	size_t n = 0, kl = strlen(kind);
	int r;

	*namep = NULL;
	if (strncmp(raw, kind, kl) != 0)
		return 0;
	r = cx_shlex_split(raw, &w, &n);
	if (r == CX_ERR_NOMEM)
		return r;
	if (r != 0 || n != 2 || strcmp(w[0], kind) != 0) {
		cx_shlex_free(w);
		return 0;
	}
	*namep = w[1];
	w[1] = NULL;	/* transferred; cx_shlex_free stops at NULL */
	free(w[0]);
	free(w);
	return 1;
}
