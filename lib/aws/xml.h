/*
 * A small read-only DOM of an XML document, built with expat.  Enough for
 * the EC2, STS and IAM answers: element names (namespace prefixes dropped),
 * text content, children in document order.  Implemented in lib/aws/xml.c.
 */
#ifndef CX_XML_H
#define CX_XML_H

#include <stddef.h>

struct cx_xml_node {
	char *name;			/* local name, no namespace */
	char *text;			/* concatenated character data ("" if none) */
	struct cx_xml_node *parent;
	struct cx_xml_node *child;	/* first child */
	struct cx_xml_node *next;	/* next sibling */
};

struct cx_xml {
	struct cx_xml_node *root;
};

#define CX_XML_MAX_DEPTH	64
#define CX_XML_MAX_NODES	200000

/*
 * Parses len bytes of XML.  *out is owned by the caller (cx_xml_free).
 * Returns 0, CX_ERR_INPUT (malformed, too deep, too many nodes) or
 * CX_ERR_NOMEM.  Entity declarations are refused (no expansion attacks).
 */
int cx_xml_parse(const char *data, size_t len, struct cx_xml **out);
void cx_xml_free(struct cx_xml *x);

/* First child of n named name, or NULL. */
const struct cx_xml_node *cx_xml_child(const struct cx_xml_node *n,
    const char *name);
/* Next sibling of n with the same name, or NULL. */
const struct cx_xml_node *cx_xml_next(const struct cx_xml_node *n);
/* Follows a '/'-separated path of child names from n (first match at each
 * step), e.g. "GetCallerIdentityResult/Arn".  NULL if absent. */
const struct cx_xml_node *cx_xml_find(const struct cx_xml_node *n,
    const char *path);
/* Text of cx_xml_find(n, path), or NULL. */
const char *cx_xml_text(const struct cx_xml_node *n, const char *path);

#endif
