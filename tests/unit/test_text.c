/* Unit tests of the sanitiser (lib/core/text.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/text.h"

static void
check(const char *in, size_t n, int keep_lf, const char *want)
{
	char buf[256];
	size_t len;

	memcpy(buf, in, n);
	buf[n] = '\0';
	len = cx_text_sanitise(buf, n, keep_lf);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	assert_int_equal(buf[len], '\0');
}

#define CHECK(in, keep, want)	check((in), sizeof(in) - 1, (keep), (want))

static void
test_controls(void **state)
{
	(void)state;
	/* the bytes of issue 16: a title change and a screen clear */
	CHECK("web\x1b]0;OWNED\x07\x1b[2J", 0, "web?]0;OWNED??[2J");
	CHECK("a\tb\rc\nd", 0, "a b c d");
	CHECK("a\nb", 1, "a\nb");
	CHECK("a\rb", 1, "a b");
	CHECK("del\x7f", 0, "del?");
	CHECK("nul\0x", 0, "nul?x");
	CHECK("plain text, [ok] = 1", 0, "plain text, [ok] = 1");
	CHECK("", 0, "");
}

static void
test_utf8(void **state)
{
	(void)state;
	CHECK("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 0,
	    "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
	/* C1: CSI (U+009B) and NEL (U+0085), and their raw bytes */
	CHECK("a\xc2\x9b" "2J", 0, "a?2J");
	CHECK("a\xc2\x85z", 0, "a?z");
	CHECK("a\x9b" "2J", 0, "a?2J");
	/* U+00A0 and up are text */
	CHECK("\xc2\xa0", 0, "\xc2\xa0");
	/* invalid: lone continuation, overlong, surrogate, past U+10FFFF,
	 * truncated */
	CHECK("\x80", 0, "?");
	CHECK("\xc0\xaf", 0, "??");
	CHECK("\xe0\x80\xaf", 0, "???");
	CHECK("\xed\xa0\x80", 0, "???");
	CHECK("\xf4\x90\x80\x80", 0, "????");
	CHECK("ab\xe2\x9c", 0, "ab??");
	/* bidi overrides (U+202E, U+2066) */
	CHECK("a\xe2\x80\xae" "b\xe2\x81\xa6", 0, "a?b?");
}

static void
test_dup(void **state)
{
	char *d;

	(void)state;
	d = cx_text_safe_dup("abc\x1b[31mdef", 6);
	assert_string_equal(d, "abc?[3");
	free(d);
	assert_null(cx_text_safe_dup(NULL, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_dup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
