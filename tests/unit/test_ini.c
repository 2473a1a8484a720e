/* Unit tests for lib/aws/ini.c (the AWS CLI v2 INI dialect) and lib/core/shlex.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/ini.h"
#include "core/cxerr.h"
#include "core/shlex.h"

static struct cx_ini *
parse_ok(const char *text)
{
	struct cx_ini *ini = NULL;
	struct cx_ini_error err;
	int r;

	r = cx_ini_parse(text, strlen(text), "t", &ini, &err);
	if (r != 0)
		print_error("parse failed: line %d: %s\n", err.line, err.msg);
	assert_int_equal(r, 0);
	assert_non_null(ini);
	return ini;
}

/* Expects a parse error at line; returns the message (static). */
static const char *
parse_bad(const char *text, int line)
{
	static struct cx_ini_error err;
	struct cx_ini *ini = NULL;

	assert_int_equal(cx_ini_parse(text, strlen(text), "t", &ini, &err),
	    CX_ERR_CONFIG);
	assert_null(ini);
	assert_int_equal(err.line, line);
	return err.msg;
}

static const char *
get(const struct cx_ini *ini, const char *sect, const char *key)
{
	return cx_ini_get(ini, cx_ini_section(ini, sect), key);
}

static void
test_basic(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[default]\nregion = us-east-1\n"
	    "[profile dev]\nregion: eu-west-2\n  \noutput=json\n");
	assert_int_equal(ini->nsec, 2);
	assert_string_equal(get(ini, "default", "region"), "us-east-1");
	assert_string_equal(get(ini, "profile dev", "region"), "eu-west-2");
	assert_string_equal(get(ini, "profile dev", "output"), "json");
	assert_null(get(ini, "profile dev", "nope"));
	assert_null(cx_ini_section(ini, "profile nope"));
	cx_ini_free(ini);
}

static void
test_comments(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("# top\n; also\n[a]\n  # indented comment\n"
	    "k = v # not a comment\nj = x ; nor this\n");
	assert_string_equal(get(ini, "a", "k"), "v # not a comment");
	assert_string_equal(get(ini, "a", "j"), "x ; nor this");
	assert_int_equal(ini->sec[0].nent, 2);
	cx_ini_free(ini);
}

static void
test_whitespace_and_delims(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[a]\n   key1   =   spaced value   \nkey2:v2\n"
	    "url = http://h:1/p=q\nk3 : a=b\nempty =\n");
	assert_string_equal(get(ini, "a", "key1"), "spaced value");
	assert_string_equal(get(ini, "a", "key2"), "v2");
	/* the first delimiter splits */
	assert_string_equal(get(ini, "a", "url"), "http://h:1/p=q");
	assert_string_equal(get(ini, "a", "k3"), "a=b");
	assert_string_equal(get(ini, "a", "empty"), "");
	cx_ini_free(ini);
}

static void
test_key_case(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[Profile B]\nRegion = x\n[profile b]\nREGION=y\n");
	assert_string_equal(get(ini, "Profile B", "region"), "x");
	assert_string_equal(get(ini, "profile b", "region"), "y");
	assert_null(get(ini, "profile B", "region"));
	assert_string_equal(ini->sec[0].ent[0].key, "region");
	cx_ini_free(ini);
	/* keys differing only in case are duplicates */
	assert_non_null(strstr(parse_bad("[a]\nRegion=1\nregion=2\n", 3),
	    "duplicate key 'region' in section 'a'"));
}

static void
test_missing_delimiter(void **state)
{
	(void)state;
	assert_string_equal(parse_bad("[a]\nk = v\njunk line\n", 3),
	    "no '=' or ':' in line");
	assert_string_equal(parse_bad("[a]\n = v\n", 2), "empty key name");
	assert_string_equal(parse_bad("k = v\n[a]\n", 1),
	    "key outside any [section]");
	/* "[]" is not a header, and not an option either */
	parse_bad("[a]\n[]\n", 2);
}

static void
test_duplicates(void **state)
{
	const char *m;

	(void)state;
	m = parse_bad("[a]\nk=1\n[b]\n[a]\n", 4);
	assert_string_equal(m, "duplicate section 'a' (first at line 1)");
	m = parse_bad("[a]\nk=1\nx=2\nk=3\n", 4);
	assert_string_equal(m, "duplicate key 'k' in section 'a'");
	/* same key in two sections is fine */
	cx_ini_free(parse_ok("[a]\nk=1\n[b]\nk=2\n"));
}

static void
test_continuation(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[a]\nk = first\n  second\n\n\tthird\n\n\nn = 1\n"
	    "m = x\n  # comment inside\n  y\n");
	assert_string_equal(get(ini, "a", "k"), "first\nsecond\n\nthird");
	assert_string_equal(get(ini, "a", "n"), "1");
	assert_string_equal(get(ini, "a", "m"), "x\ny");
	assert_null(cx_ini_entry(ini, cx_ini_section(ini, "a"), "k")->sub);
	cx_ini_free(ini);
	/* an indented key line sets the level: a deeper line continues it,
	 * one at the same level is a new key */
	ini = parse_ok("[a]\n  k = 1\n    more\n  j = 2\n");
	assert_string_equal(get(ini, "a", "k"), "1\nmore");
	assert_string_equal(get(ini, "a", "j"), "2");
	cx_ini_free(ini);
	/* an indented [x] after a key is part of the value */
	ini = parse_ok("[a]\nk = 1\n  [b]\n");
	assert_string_equal(get(ini, "a", "k"), "1\n[b]");
	assert_null(cx_ini_section(ini, "b"));
	cx_ini_free(ini);
}

static void
test_subsection(void **state)
{
	struct cx_ini *ini;
	const struct cx_ini_entry *e;

	(void)state;
	ini = parse_ok("[services local]\nec2 =\n  endpoint_url = "
	    "http://localhost:4566\n    other=1\nsts=\n\n  endpoint_url=x\n"
	    "plain = v\n");
	e = cx_ini_entry(ini, cx_ini_section(ini, "services local"), "ec2");
	assert_non_null(e);
	assert_int_equal(e->nsub, 2);
	assert_string_equal(cx_ini_sub_get(e, "endpoint_url"),
	    "http://localhost:4566");
	assert_string_equal(cx_ini_sub_get(e, "other"), "1");
	assert_null(cx_ini_sub_get(e, "nope"));
	e = cx_ini_entry(ini, cx_ini_section(ini, "services local"), "sts");
	assert_string_equal(cx_ini_sub_get(e, "endpoint_url"), "x");
	e = cx_ini_entry(ini, cx_ini_section(ini, "services local"),
	    "plain");
	assert_int_equal(e->nsub, 0);
	cx_ini_free(ini);
	assert_non_null(strstr(parse_bad("[s]\nec2 =\n  endpoint_url\n", 3),
	    "sub-section"));
}

static void
test_crlf_bom_nul(void **state)
{
	struct cx_ini *ini = NULL;
	struct cx_ini_error err;
	static const char nul[] = "[a]\nk=v\0\n";

	(void)state;
	ini = parse_ok("\xef\xbb\xbf[a]\r\nk = v\r\nj = w\r\n  x\r\n");
	assert_string_equal(get(ini, "a", "k"), "v");
	assert_string_equal(get(ini, "a", "j"), "w\nx");
	cx_ini_free(ini);
	assert_int_equal(cx_ini_parse(nul, sizeof(nul) - 1, "t", &ini, &err),
	    CX_ERR_CONFIG);
	assert_string_equal(err.msg, "contains a NUL byte");
	/* no trailing newline */
	ini = parse_ok("[a]\nk = v");
	assert_string_equal(get(ini, "a", "k"), "v");
	cx_ini_free(ini);
	/* an empty file is an empty config */
	ini = parse_ok("");
	assert_int_equal(ini->nsec, 0);
	cx_ini_free(ini);
}

static void
test_header_forms(void **state)
{
	struct cx_ini *ini;

	(void)state;
	/* text between the first '[' and the last ']' */
	ini = parse_ok("[profile x] # trailing\nk=1\n[a]b]\nk=2\n");
	assert_string_equal(ini->sec[0].name, "profile x");
	assert_string_equal(ini->sec[1].name, "a]b");
	cx_ini_free(ini);
}

static void
test_defaults_leak(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[DEFAULT]\nregion = r0\n[a]\nk=1\n[b]\nregion=r1\n");
	assert_int_equal(ini->nsec, 2);	/* DEFAULT is not a section */
	assert_string_equal(get(ini, "a", "region"), "r0");
	assert_string_equal(get(ini, "b", "region"), "r1");
	cx_ini_free(ini);
}

static void
test_quotes_kept(void **state)
{
	struct cx_ini *ini;

	(void)state;
	ini = parse_ok("[a]\nk = \"quoted\"\n");
	assert_string_equal(get(ini, "a", "k"), "\"quoted\"");
	cx_ini_free(ini);
}

static void
test_header_name(void **state)
{
	char *n = NULL;

	(void)state;
	assert_int_equal(cx_ini_header_name("profile foo", "profile", &n), 1);
	assert_string_equal(n, "foo");
	free(n);
	assert_int_equal(cx_ini_header_name("profile  foo ", "profile", &n),
	    1);
	assert_string_equal(n, "foo");
	free(n);
	assert_int_equal(cx_ini_header_name("profile \"a b\"", "profile",
	    &n), 1);
	assert_string_equal(n, "a b");
	free(n);
	assert_int_equal(cx_ini_header_name("sso-session 'my s'",
	    "sso-session", &n), 1);
	assert_string_equal(n, "my s");
	free(n);
	assert_int_equal(cx_ini_header_name(" profile foo", "profile", &n), 0);
	assert_null(n);
	assert_int_equal(cx_ini_header_name("profilefoo", "profile", &n), 0);
	assert_int_equal(cx_ini_header_name("profile a b", "profile", &n), 0);
	assert_int_equal(cx_ini_header_name("profile", "profile", &n), 0);
	assert_int_equal(cx_ini_header_name("profile \"a", "profile", &n), 0);
	assert_int_equal(cx_ini_header_name("default", "profile", &n), 0);
}

static void
test_max_size(void **state)
{
	struct cx_ini *ini = NULL;
	char *big;

	(void)state;
	big = calloc(1, CX_INI_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, '#', CX_INI_MAX_SIZE + 1);
	assert_int_equal(cx_ini_parse(big, CX_INI_MAX_SIZE + 1, "t", &ini,
	    NULL), CX_ERR_TOOBIG);
	free(big);
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test_ini.XXXXXX", path[64];
	struct cx_ini *ini = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(cx_ini_load(path, &ini), CX_ERR_NOTFOUND);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[a]\nk = v\nk = w\n", f);
	fclose(f);
	assert_int_equal(cx_ini_load(path, &ini), CX_ERR_CONFIG);
	f = fopen(path, "w");
	fputs("[a]\nk = v\n", f);
	fclose(f);
	assert_int_equal(cx_ini_load(path, &ini), 0);
	assert_string_equal(ini->path, path);
	assert_string_equal(get(ini, "a", "k"), "v");
	cx_ini_free(ini);
	unlink(path);
	rmdir(dir);
}

static void
check_split(const char *s, size_t n, const char *const *want)
{
	char **w = NULL;
	size_t got = 0, i;

	assert_int_equal(cx_shlex_split(s, &w, &got), 0);
	assert_int_equal(got, n);
	for (i = 0; i < n; i++)
		assert_string_equal(w[i], want[i]);
	assert_null(w[n]);
	cx_shlex_free(w);
}

static void
test_shlex(void **state)
{
	char **w = NULL;
	size_t n;
	static const char *const a[] = { "a", "b c", "d'e", "f\"g", "h i" };
	static const char *const b[] = { "x", "", "y$z\\q" };
	static const char *const c[] = { "/bin/echo", "it's" };

	(void)state;
	check_split("  a 'b c' \"d'e\" f\\\"g h\\ i  ", 5, a);
	check_split("x \"\" \"y$z\\q\"", 3, b);
	check_split("/bin/echo \"it's\"", 2, c);
	check_split("", 0, NULL);
	check_split("   \t\n ", 0, NULL);
	assert_int_equal(cx_shlex_split("a 'b", &w, &n), CX_ERR_INPUT);
	assert_null(w);
	assert_int_equal(cx_shlex_split("a \"b", &w, &n), CX_ERR_INPUT);
	assert_int_equal(cx_shlex_split("a \\", &w, &n), CX_ERR_INPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_whitespace_and_delims),
		cmocka_unit_test(test_key_case),
		cmocka_unit_test(test_missing_delimiter),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_subsection),
		cmocka_unit_test(test_crlf_bom_nul),
		cmocka_unit_test(test_header_forms),
		cmocka_unit_test(test_defaults_leak),
		cmocka_unit_test(test_quotes_kept),
		cmocka_unit_test(test_header_name),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_shlex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
