/*
 * VS Code's settings.json is JSONC (comments, trailing commas).  We edit
 * it as text: scan the top-level object, replace the value of our own keys
 * or insert them, and keep every other byte (comments, order, formatting).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/os.h"
#include "core/osdata.h"
#include "driver.h"
#include "setup.h"

#define MAX_MEMBERS 1024

struct member {
	size_t ks, ke;		/* key including quotes */
	size_t vs, ve;		/* value */
};

struct object {
	size_t open, close;	/* '{' and '}' */
	struct member m[MAX_MEMBERS];
	size_t n;
	int trailing_comma;	/* a ',' after the last member */
	size_t comma;		/* its index */
};

static size_t
skip_trivia(const char *t, size_t i)
{
	for (;;) {
		while (isspace((unsigned char)t[i]))
			i++;
		if (t[i] == '/' && t[i + 1] == '/') {
			while (t[i] != '\0' && t[i] != '\n')
				i++;
		} else if (t[i] == '/' && t[i + 1] == '*') {
			i += 2;
			while (t[i] != '\0' && !(t[i] == '*' && t[i + 1] == '/'))
				i++;
			if (t[i] != '\0')
				i += 2;
		} else {
			return i;
		}
	}
}

/* index after the closing quote, or 0 on error */
static size_t
scan_string(const char *t, size_t i)
{
	if (t[i] != '"')
		return 0;
	for (i++; t[i] != '\0'; i++) {
		if (t[i] == '\\' && t[i + 1] != '\0')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return 0;
}

static size_t
scan_value(const char *t, size_t i, int depth)
{
	size_t e;

	if (depth > 64)
		return 0;
	if (t[i] == '"')
		return scan_string(t, i);
	if (t[i] == '{' || t[i] == '[') {
		char close = t[i] == '{' ? '}' : ']';
		i = skip_trivia(t, i + 1);
		while (t[i] != close) {
			if (t[i] == '\0')
				return 0;
			if (t[i] == ',') {
				i = skip_trivia(t, i + 1);
				continue;
			}
			if ((e = scan_value(t, i, depth + 1)) == 0)
				return 0;
			i = skip_trivia(t, e);
			if (close == '}' && t[i] == ':') {
				i = skip_trivia(t, i + 1);
				if ((e = scan_value(t, i, depth + 1)) == 0)
					return 0;
				i = skip_trivia(t, e);
			}
		}
		return i + 1;
	}
	e = i;
	while (t[e] != '\0' && (isalnum((unsigned char)t[e]) ||
	    strchr("+-.", t[e]) != NULL))
		e++;
	return e > i ? e : 0;
}

static int
scan_object(const char *t, size_t open, struct object *o)
{
	size_t i, e;

	memset(o, 0, sizeof(*o));
	o->open = open;
	i = skip_trivia(t, open + 1);
	while (t[i] != '}') {
		if (o->n == MAX_MEMBERS || t[i] != '"')
			return CX_ERR_INPUT;
		o->m[o->n].ks = i;
		if ((e = scan_string(t, i)) == 0)
			return CX_ERR_INPUT;
		o->m[o->n].ke = e;
		i = skip_trivia(t, e);
		if (t[i] != ':')
			return CX_ERR_INPUT;
		i = skip_trivia(t, i + 1);
		o->m[o->n].vs = i;
		if ((e = scan_value(t, i, 0)) == 0)
			return CX_ERR_INPUT;
		o->m[o->n].ve = e;
		o->n++;
		o->trailing_comma = 0;
		i = skip_trivia(t, e);
		if (t[i] == ',') {
			o->trailing_comma = 1;
			o->comma = i;
			i = skip_trivia(t, i + 1);
		} else if (t[i] != '}') {
			return CX_ERR_INPUT;
		}
	}
	o->close = i;
	return 0;
}

static const struct member *
find(const char *t, const struct object *o, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < o->n; i++)
		if (o->m[i].ke - o->m[i].ks == kl + 2 &&
		    strncmp(t + o->m[i].ks + 1, key, kl) == 0)
			return &o->m[i];
	return NULL;
}

/* the indentation (spaces/tabs) of the line holding index i */
static void
indent_of(const char *t, size_t i, char *out, size_t outsz)
{
	size_t s = i, n = 0;

	while (s > 0 && t[s - 1] != '\n')
		s--;
	while ((t[s] == ' ' || t[s] == '\t') && n + 1 < outsz)
		out[n++] = t[s++];
	out[n] = '\0';
}

/* replaces [a,b) of text with s */
static int
splice(struct cx_buf *text, size_t a, size_t b, const char *s)
{
	struct cx_buf o;
	int r;

	cx_buf_init(&o, text->max);
	r = cx_buf_append(&o, text->data, a);
	if (r == 0)
		r = cx_buf_puts(&o, s);
	if (r == 0)
		r = cx_buf_append(&o, text->data + b, text->len - b);
	if (r == 0) {
		cx_buf_reset(text);
		r = cx_buf_append(text, o.data, o.len);
	}
	cx_buf_clean_up(&o);
	return r;
}

/* Inserts "key": value as the last member of the object at open. */
static int
insert_member(struct cx_buf *text, const struct object *o, const char *key,
    const char *value)
{
	const char *t = cx_buf_str(text);
	char ind[64], base[64];
	char *s = NULL;
	int r, n;

	indent_of(t, o->open, base, sizeof(base));
	if (o->n > 0) {
		if (memchr(t + o->open, '\n', o->m[0].ks - o->open) != NULL)
			indent_of(t, o->m[0].ks, ind, sizeof(ind));
		else	/* "{ "a": 1 }" on one line: one level deeper */
			snprintf(ind, sizeof(ind), "%.40s    ", base);
		if (o->trailing_comma)
			n = cx_asprintf(&s, "\n%s\"%s\": %s,", ind, key, value);
		else
			n = cx_asprintf(&s, ",\n%s\"%s\": %s", ind, key, value);
		if (n < 0)
			return CX_ERR_NOMEM;
		r = splice(text, o->trailing_comma ? o->comma + 1 :
		    o->m[o->n - 1].ve, o->trailing_comma ? o->comma + 1 :
		    o->m[o->n - 1].ve, s);
	} else {
		n = cx_asprintf(&s, "{\n%s    \"%s\": %s\n%s}", base, key, value,
		    base);
		if (n < 0)
			return CX_ERR_NOMEM;
		r = splice(text, o->open, o->close + 1, s);
	}
	free(s);
	return r;
}

static int
set_member(struct cx_buf *text, size_t open, const char *key,
    const char *value, int (*keep)(const char *, size_t, size_t),
    int *changed)
{
	struct object *o;
	const struct member *m;
	const char *t = cx_buf_str(text);
	int r;

	if ((o = malloc(sizeof(*o))) == NULL)
		return CX_ERR_NOMEM;
	if ((r = scan_object(t, open, o)) != 0)
		goto out;
	m = find(t, o, key);
	if (m != NULL) {
		if (keep != NULL && keep(t, m->vs, m->ve))
			goto out;
		if (m->ve - m->vs == strlen(value) &&
		    strncmp(t + m->vs, value, m->ve - m->vs) == 0)
			goto out;
		r = splice(text, m->vs, m->ve, value);
	} else {
		r = insert_member(text, o, key, value);
	}
	if (r == 0)
		*changed = 1;
 out:
	free(o);
	return r;
}

static int
at_least(const char *t, size_t vs, size_t ve, double min)
{
	char num[64];
	char *end;
	double d;

	if (ve - vs >= sizeof(num))
		return 0;
	memcpy(num, t + vs, ve - vs);
	num[ve - vs] = '\0';
	d = strtod(num, &end);
	return *end == '\0' && end != num && d >= min;
}

static int
keep_connect(const char *t, size_t vs, size_t ve)
{
	return at_least(t, vs, ve, 90);
}

static int
keep_install(const char *t, size_t vs, size_t ve)
{
	return at_least(t, vs, ve, 120);
}

static int
keep_any(const char *t, size_t vs, size_t ve)
{
	(void)t; (void)vs; (void)ve;
	return 1;
}

static char *
json_str(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *out;

	if (j == NULL)
		return NULL;
	out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return out;
}

int
cx_drv_vscode_merge(const char *text, const char *config_file,
    const char *prefix, struct cx_buf *out, int *changed)
{
	struct object *o = NULL;
	const struct member *m;
	char *cf = NULL, *pat = NULL, *pk = NULL, *obj = NULL;
	size_t i, e;
	int r;

	*changed = 0;
	cx_buf_reset(out);
	if ((r = cx_buf_puts(out, text)) != 0)
		return r;
	i = skip_trivia(text, 0);
	if (text[i] == '\0') {
		/* empty or only comments: start an object */
		if (out->len > 0 && text[out->len - 1] != '\n')
			cx_buf_putc(out, '\n');
		if ((r = cx_buf_puts(out, "{}\n")) != 0)
			return r;
		*changed = 1;
		i = out->len - 3;
	} else {
		cJSON *j = NULL;

		if (text[i] != '{' || (e = scan_value(text, i, 0)) == 0 ||
		    text[skip_trivia(text, e)] != '\0')
			return CX_ERR_INPUT;
		/* the scanner only finds the members: a file that is not
		 * valid JSONC is refused, not rewritten */
		if (cx_drv_jsonc_parse(text, &j) != 0)
			return CX_ERR_INPUT;
		cJSON_Delete(j);
	}
	if ((cf = json_str(config_file)) == NULL ||
	    cx_asprintf(&pat, "%s-*", prefix) < 0 ||
	    (pk = json_str(pat)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = set_member(out, i, "remote.SSH.configFile", cf, NULL,
	    changed)) != 0 ||
	    (r = set_member(out, i, "remote.SSH.connectTimeout", "90",
	    keep_connect, changed)) != 0 ||
	    (r = set_member(out, i, "remote.SSH.serverInstallTimeout", "120",
	    keep_install, changed)) != 0 ||
	    (r = set_member(out, i, "remote.SSH.showLoginTerminal", "true",
	    keep_any, changed)) != 0)
		goto out;
	if ((o = malloc(sizeof(*o))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = scan_object(cx_buf_str(out), i, o)) != 0)
		goto out;
	m = find(cx_buf_str(out), o, "remote.SSH.remotePlatform");
	if (m != NULL && cx_buf_str(out)[m->vs] == '{') {
		/* the key of the nested member, without its quotes */
		r = set_member(out, m->vs, pat, "\"linux\"", NULL, changed);
	} else {
		char ind[64];
		indent_of(cx_buf_str(out), o->n ? o->m[0].ks : i, ind,
		    sizeof(ind));
		if (cx_asprintf(&obj, "{\n%s    %s: \"linux\"\n%s}", ind, pk,
		    ind) < 0) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		r = set_member(out, i, "remote.SSH.remotePlatform", obj,
		    NULL, changed);
	}
	if (r == 0) {
		cJSON *j = NULL;

		/* never hand back a file VS Code cannot read (e.g. the
		 * input ended inside a block comment) */
		if (cx_drv_jsonc_parse(cx_buf_str(out), &j) != 0)
			r = CX_ERR_INPUT;
		cJSON_Delete(j);
	}
 out:
	free(o);
	free(cf);
	free(pat);
	free(pk);
	free(obj);
	return r;
}

int
cx_drv_vscode_snippet(const char *config_file, const char *prefix,
    struct cx_buf *out)
{
	int changed;

	return cx_drv_vscode_merge("{\n}\n", config_file, prefix, out,
	    &changed);
}

int
cx_drv_jsonc_parse(const char *text, cJSON **out)
{
	struct cx_buf b;
	size_t i = 0, e, j;
	int r = 0;

	*out = NULL;
	cx_buf_init(&b, CX_DRV_MAX_TEXT_FILE);
	while (text[i] != '\0' && r == 0) {
		if (text[i] == '"') {
			if ((e = scan_string(text, i)) == 0) {
				r = CX_ERR_INPUT;
				break;
			}
			r = cx_buf_append(&b, text + i, e - i);
			i = e;
		} else if (text[i] == '/' && (text[i + 1] == '/' ||
		    text[i + 1] == '*')) {
			e = skip_trivia(text, i);
			r = cx_buf_putc(&b, ' ');
			i = e;
		} else if (text[i] == ',') {
			j = skip_trivia(text, i + 1);
			if (text[j] != '}' && text[j] != ']')
				r = cx_buf_putc(&b, ',');
			i++;
		} else {
			r = cx_buf_putc(&b, text[i++]);
		}
	}
	if (r == 0 && (*out = cJSON_Parse(cx_buf_str(&b))) == NULL)
		r = CX_ERR_INPUT;
	cx_buf_clean_up(&b);
	return r;
}

int
cx_drv_vscode_settings_path(const char *home, int flavour, char **out)
{
	return cx_osdata_vscode_settings(cx_os_host(), (enum cx_vscode)flavour,
	    home, getenv("XDG_CONFIG_HOME"), getenv("APPDATA"), out);
}
