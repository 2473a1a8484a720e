/*
 * Unit tests of the SSO login's pure piece (lib/aws/sso_login.c): the
 * client registration's cache name is the SHA-1 of Python's
 * json.dumps(..., sort_keys=True) text, which these strings were printed
 * by (python3, json.dumps) so that the AWS CLI v2 finds our file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aws/sso_login.h"
#include "core/cxerr.h"

static void
test_key_session(void **state)
{
	char *k = NULL;

	(void)state;
	assert_int_equal(cx_sso_registration_key("eu-west-1", NULL, 0, "corp",
	    "https://d-1234.awsapps.com/start", &k), 0);
	assert_string_equal(k, "{\"region\": \"eu-west-1\", \"scopes\": null, "
	    "\"session_name\": \"corp\", \"startUrl\": "
	    "\"https://d-1234.awsapps.com/start\", \"tool\": \"botocore\"}");
	free(k);
}

static void
test_key_legacy_scopes(void **state)
{
	static const char *const sc[] = { "sso:account:access", "a\"b" };
	char *k = NULL;

	(void)state;
	assert_int_equal(cx_sso_registration_key("us-east-1", sc, 2, NULL,
	    "https://x/start", &k), 0);
	assert_string_equal(k, "{\"region\": \"us-east-1\", \"scopes\": "
	    "[\"sso:account:access\", \"a\\\"b\"], \"session_name\": null, "
	    "\"startUrl\": \"https://x/start\", \"tool\": \"botocore\"}");
	free(k);
}

static void
test_key_escapes(void **state)
{
	char *k = NULL;

	(void)state;
	/* ensure_ascii: \uXXXX, surrogate pairs above the BMP */
	assert_int_equal(cx_sso_registration_key("us-east-1", NULL, 0,
	    "t\\ab\n", "https://x/\xc3\xa9/\xf0\x9f\x98\x80", &k), 0);
	assert_string_equal(k, "{\"region\": \"us-east-1\", \"scopes\": null, "
	    "\"session_name\": \"t\\\\ab\\n\", \"startUrl\": "
	    "\"https://x/\\u00e9/\\ud83d\\ude00\", \"tool\": \"botocore\"}");
	free(k);
	/* not UTF-8: refused */
	assert_int_equal(cx_sso_registration_key("us-east-1", NULL, 0, "x",
	    "https://x/\xff", &k), CX_ERR_INPUT);
	assert_null(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_session),
		cmocka_unit_test(test_key_legacy_scopes),
		cmocka_unit_test(test_key_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
