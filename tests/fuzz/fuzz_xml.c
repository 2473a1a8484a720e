/* libFuzzer target: the expat DOM (lib/aws/xml.c) used for EC2, STS and IAM
 * answers, and the lookups the callers do on it. */
#include "fuzz.h"

#include "aws/xml.h"

static size_t
walk(const struct cx_xml_node *n, int depth)
{
	size_t c = 1;

	FZ_ASSERT(depth <= CX_XML_MAX_DEPTH + 1);
	FZ_ASSERT(n->name != NULL && n->text != NULL);
	for (n = n->child; n != NULL; n = n->next)
		c += walk(n, depth + 1);
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_xml *x = NULL;
	const struct cx_xml_node *n;

	if (cx_xml_parse((const char *)data, size, &x) != 0) {
		FZ_ASSERT(x == NULL);
		return 0;
	}
	FZ_ASSERT(walk(x->root, 0) <= CX_XML_MAX_NODES);
	(void)cx_xml_text(x->root, "GetCallerIdentityResult/Arn");
	(void)cx_xml_text(x->root, "reservationSet/item/instancesSet/item/"
	    "instanceState/name");
	for (n = cx_xml_child(x->root, "item"); n != NULL; n = cx_xml_next(n))
		(void)cx_xml_find(n, "a/b");
	cx_xml_free(x);
	return 0;
}
