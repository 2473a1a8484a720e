/*
 * lib/aws/xml.c: parsing, path lookup, namespaces, and refusal of malformed
 * input, DTDs/entities and over-deep documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/xml.h"
#include "core/buf.h"
#include "core/cxerr.h"

static struct cx_xml *
parse_ok(const char *s)
{
	struct cx_xml *x = NULL;

	assert_int_equal(cx_xml_parse(s, strlen(s), &x), 0);
	assert_non_null(x);
	return x;
}

static void
test_describe_instances(void **state)
{
	static const char doc[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
	    "2016-11-15/\">\n  <requestId>r-1</requestId>\n"
	    "  <reservationSet><item><instancesSet>"
	    "<item><instanceId>i-1</instanceId>"
	    "<instanceState><code>16</code><name>running</name></instanceState>"
	    "<tagSet><item><key>a</key><value>1</value></item>"
	    "<item><key>b</key><value>x &amp; y</value></item></tagSet></item>"
	    "<item><instanceId>i-2</instanceId></item>"
	    "</instancesSet></item></reservationSet>"
	    "<nextToken/></DescribeInstancesResponse>";
	const struct cx_xml_node *inst, *tag;
	struct cx_xml *x = parse_ok(doc);

	(void)state;
	assert_string_equal(x->root->name, "DescribeInstancesResponse");
	assert_null(x->root->parent);
	assert_string_equal(cx_xml_text(x->root, "requestId"), "r-1");
	assert_string_equal(cx_xml_text(x->root, "nextToken"), "");
	inst = cx_xml_find(x->root, "reservationSet/item/instancesSet/item");
	assert_non_null(inst);
	assert_string_equal(cx_xml_text(inst, "instanceId"), "i-1");
	assert_string_equal(cx_xml_text(inst, "instanceState/name"),
	    "running");
	tag = cx_xml_find(inst, "tagSet/item");
	assert_string_equal(cx_xml_text(tag, "key"), "a");
	tag = cx_xml_next(tag);
	assert_string_equal(cx_xml_text(tag, "value"), "x & y");
	assert_null(cx_xml_next(tag));
	inst = cx_xml_next(inst);
	assert_string_equal(cx_xml_text(inst, "instanceId"), "i-2");
	assert_null(cx_xml_text(inst, "instanceState/name"));
	assert_null(cx_xml_next(inst));
	assert_ptr_equal(inst->parent->parent->parent->parent, x->root);
	assert_null(cx_xml_find(x->root, "nope/deeper"));
	assert_null(cx_xml_child(NULL, "x"));
	assert_null(cx_xml_text(NULL, "x"));
	assert_ptr_equal(cx_xml_find(x->root, ""), x->root);
	cx_xml_free(x);
}

static void
test_namespace_prefixes_dropped(void **state)
{
	struct cx_xml *x = parse_ok("<a:Root xmlns:a=\"urn:x\" "
	    "xmlns:b=\"urn:y\"><b:Leaf>v</b:Leaf><Plain>p</Plain></a:Root>");

	(void)state;
	assert_string_equal(x->root->name, "Root");
	assert_string_equal(cx_xml_text(x->root, "Leaf"), "v");
	assert_string_equal(cx_xml_text(x->root, "Plain"), "p");
	cx_xml_free(x);
}

static void
test_cdata_and_utf8(void **state)
{
	struct cx_xml *x = parse_ok("<r><m><![CDATA[<not a tag>]]></m>"
	    "<u>\xc3\xa9t\xc3\xa9 &#x263A;</u></r>");

	(void)state;
	assert_string_equal(cx_xml_text(x->root, "m"), "<not a tag>");
	assert_string_equal(cx_xml_text(x->root, "u"),
	    "\xc3\xa9t\xc3\xa9 \xe2\x98\xba");
	cx_xml_free(x);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "   ", "<a>", "<a></b>", "<a><b></a></b>", "not xml",
		"<a>x</a><b/>", "<a>&unknown;</a>", "<a \x01/>",
		"<a>\xff\xfe</a>",
	};
	struct cx_xml *x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = (struct cx_xml *)1;
		assert_int_equal(cx_xml_parse(bad[i], strlen(bad[i]), &x),
		    CX_ERR_INPUT);
		assert_null(x);
	}
	/* embedded NUL */
	assert_int_equal(cx_xml_parse("<a>\0</a>", 8, &x), CX_ERR_INPUT);
	assert_int_equal(cx_xml_parse(NULL, 0, &x), CX_ERR_INPUT);
}

static void
test_entities_refused(void **state)
{
	static const char *const bad[] = {
		/* billion laughs */
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
		"<lolz>&lol2;</lolz>",
		/* external entity */
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
		"\"file:///etc/passwd\">]><r>&x;</r>",
		/* any DOCTYPE at all */
		"<!DOCTYPE r><r/>",
		"<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/x.dtd\"><r/>",
	};
	struct cx_xml *x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cx_xml_parse(bad[i], strlen(bad[i]), &x),
		    CX_ERR_INPUT);
		assert_null(x);
	}
}

static void
test_depth_limit(void **state)
{
	struct cx_buf b;
	struct cx_xml *x;
	int i;

	(void)state;
	cx_buf_init(&b, 0);
	for (i = 0; i < CX_XML_MAX_DEPTH; i++)
		assert_int_equal(cx_buf_puts(&b, "<a>"), 0);
	for (i = 0; i < CX_XML_MAX_DEPTH; i++)
		assert_int_equal(cx_buf_puts(&b, "</a>"), 0);
	assert_int_equal(cx_xml_parse(cx_buf_str(&b), b.len, &x), 0);
	cx_xml_free(x);
	cx_buf_reset(&b);
	for (i = 0; i < CX_XML_MAX_DEPTH + 1; i++)
		assert_int_equal(cx_buf_puts(&b, "<a>"), 0);
	for (i = 0; i < CX_XML_MAX_DEPTH + 1; i++)
		assert_int_equal(cx_buf_puts(&b, "</a>"), 0);
	assert_int_equal(cx_xml_parse(cx_buf_str(&b), b.len, &x),
	    CX_ERR_INPUT);
	assert_null(x);
	cx_buf_clean_up(&b);
}

static void
test_node_limit(void **state)
{
	struct cx_buf b;
	struct cx_xml *x;
	const struct cx_xml_node *n;
	int i, count = 0;

	(void)state;
	cx_buf_init(&b, 0);
	assert_int_equal(cx_buf_puts(&b, "<r>"), 0);
	for (i = 0; i < CX_XML_MAX_NODES - 1; i++)
		assert_int_equal(cx_buf_puts(&b, "<i/>"), 0);
	assert_int_equal(cx_buf_puts(&b, "</r>"), 0);
	/* exactly the limit: fine, and siblings stay in order */
	assert_int_equal(cx_xml_parse(cx_buf_str(&b), b.len, &x), 0);
	for (n = cx_xml_child(x->root, "i"); n != NULL; n = n->next)
		count++;
	assert_int_equal(count, CX_XML_MAX_NODES - 1);
	cx_xml_free(x);
	/* one more: refused */
	b.len -= 4;
	assert_int_equal(cx_buf_puts(&b, "<i/></r>"), 0);
	assert_int_equal(cx_xml_parse(cx_buf_str(&b), b.len, &x),
	    CX_ERR_INPUT);
	cx_buf_clean_up(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_instances),
		cmocka_unit_test(test_namespace_prefixes_dropped),
		cmocka_unit_test(test_cdata_and_utf8),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_entities_refused),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_node_limit),
	};

	return cmocka_run_group_tests_name("xml", tests, NULL, NULL);
}
