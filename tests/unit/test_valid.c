/* Unit tests of the validators (lib/core/valid.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/valid.h"

static void
test_region(void **state)
{
	char big[40];

	(void)state;
	assert_true(cx_region_valid("eu-west-1"));
	assert_true(cx_region_valid("us-gov-west-1"));
	assert_true(cx_region_valid("cn-north-1"));
	assert_false(cx_region_valid(NULL));
	assert_false(cx_region_valid(""));
	assert_false(cx_region_valid("eu-west-1\n[profile dev2]"));
	assert_false(cx_region_valid("eu-west-1\r"));
	assert_false(cx_region_valid("EU-WEST-1"));
	assert_false(cx_region_valid("-eu"));
	assert_false(cx_region_valid("eu-"));
	assert_false(cx_region_valid("eu--west-1"));
	assert_false(cx_region_valid("1eu"));
	assert_false(cx_region_valid("eu west 1"));
	memset(big, 'a', 33);
	big[33] = '\0';
	assert_false(cx_region_valid(big));
	big[32] = '\0';
	assert_true(cx_region_valid(big));
}

static void
test_profile(void **state)
{
	char big[140];

	(void)state;
	assert_true(cx_profile_name_valid("cloudX"));
	assert_true(cx_profile_name_valid("dev.team_1+a@b/c-d"));
	assert_false(cx_profile_name_valid(NULL));
	assert_false(cx_profile_name_valid(""));
	assert_false(cx_profile_name_valid("x]\ncredential_process = t\n[y"));
	assert_false(cx_profile_name_valid("a b"));
	assert_false(cx_profile_name_valid("a[b"));
	assert_false(cx_profile_name_valid("a]"));
	assert_false(cx_profile_name_valid("a=b"));
	assert_false(cx_profile_name_valid("a;b"));
	assert_false(cx_profile_name_valid("a#b"));
	assert_false(cx_profile_name_valid("\xc3\xa9"));
	memset(big, 'p', 129);
	big[129] = '\0';
	assert_false(cx_profile_name_valid(big));
	big[128] = '\0';
	assert_true(cx_profile_name_valid(big));
}

static void
test_keys(void **state)
{
	char big[4100];

	(void)state;
	assert_true(cx_access_key_id_valid("AKIAIOSFODNN7EXAMPLE"));
	assert_true(cx_access_key_id_valid("ASIA0123"));
	assert_false(cx_access_key_id_valid(NULL));
	assert_false(cx_access_key_id_valid(""));
	assert_false(cx_access_key_id_valid("AKIA\ncredential_process = x"));
	assert_false(cx_access_key_id_valid("akia"));
	assert_false(cx_access_key_id_valid("AKIA EX"));
	assert_true(cx_secret_valid("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
	assert_true(cx_secret_valid("with space"));
	assert_false(cx_secret_valid(NULL));
	assert_false(cx_secret_valid(""));
	assert_false(cx_secret_valid("a\nb"));
	assert_false(cx_secret_valid("a\rb"));
	assert_false(cx_secret_valid("a\tb"));
	assert_false(cx_secret_valid("a\x7f"));
	memset(big, 's', 4097);
	big[4097] = '\0';
	assert_false(cx_secret_valid(big));
	big[4096] = '\0';
	assert_true(cx_secret_valid(big));
}

static void
test_lines(void **state)
{
	(void)state;
	assert_true(cx_line_value_valid(""));
	assert_true(cx_line_value_valid("a [b] = c"));
	assert_false(cx_line_value_valid(NULL));
	assert_false(cx_line_value_valid("a\nb"));
	assert_false(cx_line_value_valid("a\r"));
	assert_true(cx_line_name_valid("profile x"));
	assert_false(cx_line_name_valid(NULL));
	assert_false(cx_line_name_valid(""));
	assert_false(cx_line_name_valid("x]"));
	assert_false(cx_line_name_valid("[x"));
	assert_false(cx_line_name_valid("x\ny"));
	assert_false(cx_line_name_valid("x\r"));
}

static void
test_ssh(void **state)
{
	(void)state;
	assert_true(cx_ssh_word_valid("cloudx-dev-web"));
	assert_false(cx_ssh_word_valid("web\x1b]0;OWNED\x07"));
	assert_false(cx_ssh_word_valid("a b"));
	assert_false(cx_ssh_word_valid("a\nProxyCommand x"));
	assert_false(cx_ssh_word_valid("a*"));
	assert_false(cx_ssh_word_valid("a=b"));
	assert_false(cx_ssh_word_valid(""));
	assert_false(cx_ssh_word_valid(NULL));
	assert_true(cx_ssh_path_valid("/home/u/My Keys/k"));
	assert_false(cx_ssh_path_valid("/a\nProxyCommand x"));
	assert_false(cx_ssh_path_valid("/a\"b"));
	assert_true(cx_ssh_path_valid("/home/o'brien/.ssh"));
	assert_false(cx_ssh_path_valid("/a$HOME"));
	assert_false(cx_ssh_path_valid("/a\\b"));
	assert_false(cx_ssh_path_valid("/a%h"));
	assert_false(cx_ssh_path_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_ssh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
