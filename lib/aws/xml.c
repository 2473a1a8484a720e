/*
 * A read-only DOM over expat.  See xml.h.
 *
 * Documents with a DOCTYPE (and so any entity declaration) are refused
 * outright: AWS answers never carry one, and refusing them rules out
 * entity-expansion and external-entity tricks.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "core/cxerr.h"
#include "core/os.h"
#include "xml.h"

#define NS_SEP	'\x01'	/* cannot occur in a namespace URI or a name */

struct text {
	char *p;
	size_t len, cap;
};

struct pstate {
	XML_Parser parser;
	struct cx_xml_node *root;
	struct cx_xml_node *cur;
	struct cx_xml_node **lastc;	/* [depth]: last child of the open
					 * node at that depth (O(1) appends) */
	struct text *texts;		/* parallel: text of each open node */
	int depth;
	size_t nodes;
	int err;
};

static void
node_free(struct cx_xml_node *n)
{
	struct cx_xml_node *c, *next;

	/* iterative over siblings, recursive over depth (bounded) */
	while (n != NULL) {
		for (c = n->child; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			node_free(c);
		}
		next = n->next;
		free(n->name);
		/* answers such as AssumeRole carry secrets: wipe all text */
		cx_freezero_str(n->text);
		free(n);
		n = next;
	}
}

void
cx_xml_free(struct cx_xml *x)
{
	if (x == NULL)
		return;
	node_free(x->root);
	free(x);
}

static void
fail(struct pstate *ps, int err)
{
	if (ps->err == 0)
		ps->err = err;
	XML_StopParser(ps->parser, XML_FALSE);
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct pstate *ps = arg;
	struct cx_xml_node *n, *c;
	const char *local;

	(void)attrs;
	if (ps->err)
		return;
	if (ps->depth >= CX_XML_MAX_DEPTH || ps->nodes >= CX_XML_MAX_NODES) {
		fail(ps, CX_ERR_INPUT);
		return;
	}
	local = strrchr(name, NS_SEP);
	local = local ? local + 1 : name;
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->name = strdup(local)) == NULL) {
		free(n);
		fail(ps, CX_ERR_NOMEM);
		return;
	}
	ps->nodes++;
	n->parent = ps->cur;
	if (ps->cur == NULL) {
		ps->root = n;
	} else if ((c = ps->lastc[ps->depth]) == NULL) {
		ps->cur->child = n;
	} else {
		c->next = n;
	}
	ps->lastc[ps->depth] = n;
	ps->cur = n;
	ps->depth++;
	ps->lastc[ps->depth] = NULL;
	memset(&ps->texts[ps->depth], 0, sizeof(ps->texts[0]));
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct pstate *ps = arg;
	struct text *t;

	(void)name;
	if (ps->err || ps->cur == NULL)
		return;
	t = &ps->texts[ps->depth];
	if (t->p == NULL && (t->p = strdup("")) == NULL) {
		fail(ps, CX_ERR_NOMEM);
		return;
	}
	ps->cur->text = t->p;
	t->p = NULL;
	ps->cur = ps->cur->parent;
	ps->depth--;
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct pstate *ps = arg;
	struct text *t;
	size_t ncap;
	char *p;

	if (ps->err || ps->cur == NULL || len <= 0)
		return;
	t = &ps->texts[ps->depth];
	if (t->len + (size_t)len + 1 > t->cap) {
		ncap = t->cap ? t->cap : 32;
		while (ncap < t->len + (size_t)len + 1)
			ncap *= 2;
		if ((p = realloc(t->p, ncap)) == NULL) {
			fail(ps, CX_ERR_NOMEM);
			return;
		}
		t->p = p;
		t->cap = ncap;
	}
	memcpy(t->p + t->len, s, (size_t)len);
	t->len += (size_t)len;
	t->p[t->len] = '\0';
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(arg, CX_ERR_INPUT);
}

static void XMLCALL
on_entity(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(arg, CX_ERR_INPUT);
}

int
cx_xml_parse(const char *data, size_t len, struct cx_xml **out)
{
	struct pstate ps;
	struct cx_xml *x = NULL;
	int r, i;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	if (len > INT_MAX)
		return CX_ERR_INPUT;
	if ((ps.texts = calloc(CX_XML_MAX_DEPTH + 1, sizeof(*ps.texts))) ==
	    NULL || (ps.lastc = calloc(CX_XML_MAX_DEPTH + 1,
	    sizeof(*ps.lastc))) == NULL) {
		free(ps.texts);
		return CX_ERR_NOMEM;
	}
	if ((ps.parser = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	XML_SetUserData(ps.parser, &ps);
	XML_SetElementHandler(ps.parser, on_start, on_end);
	XML_SetCharacterDataHandler(ps.parser, on_text);
	XML_SetStartDoctypeDeclHandler(ps.parser, on_doctype);
	XML_SetEntityDeclHandler(ps.parser, on_entity);
	XML_SetParamEntityParsing(ps.parser, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(ps.parser, data ? data : "", (int)len, XML_TRUE) !=
	    XML_STATUS_OK || ps.err != 0 || ps.root == NULL ||
	    ps.cur != NULL) {
		r = ps.err ? ps.err : CX_ERR_INPUT;
		goto out;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	x->root = ps.root;
	ps.root = NULL; /* transferred */
	*out = x;
	r = 0;
 out:
	if (ps.parser != NULL)
		XML_ParserFree(ps.parser);
	for (i = 0; i <= CX_XML_MAX_DEPTH; i++)
		cx_freezero(ps.texts[i].p, ps.texts[i].cap);
	free(ps.texts);
	free(ps.lastc);
	node_free(ps.root);
	return r;
}

const struct cx_xml_node *
cx_xml_child(const struct cx_xml_node *n, const char *name)
{
	const struct cx_xml_node *c;

	if (n == NULL)
		return NULL;
	for (c = n->child; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const struct cx_xml_node *
cx_xml_next(const struct cx_xml_node *n)
{
	const struct cx_xml_node *c;

	if (n == NULL)
		return NULL;
	for (c = n->next; c != NULL; c = c->next)
		if (strcmp(c->name, n->name) == 0)
			return c;
	return NULL;
}

const struct cx_xml_node *
cx_xml_find(const struct cx_xml_node *n, const char *path)
{
	const struct cx_xml_node *c;
	const char *p = path, *e;
	size_t len;

	while (n != NULL && *p != '\0') {
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		for (c = n->child; c != NULL; c = c->next)
			if (strlen(c->name) == len &&
			    memcmp(c->name, p, len) == 0)
				break;
		n = c;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

const char *
cx_xml_text(const struct cx_xml_node *n, const char *path)
{
	const struct cx_xml_node *f = cx_xml_find(n, path);

	return f ? f->text : NULL;
}
