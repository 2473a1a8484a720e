/* Unit tests of the driver's pure pieces: names, ARNs, tags, the AWS INI
 * edits and the VS Code JSONC merge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cloudx-proxy/driver.h"
#include "cloudx-proxy/setup.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "ec2/instance.h"

static void
test_instance_id(void **state)
{
	(void)state;
	assert_true(cx_instance_id_valid("i-12345678"));
	assert_true(cx_instance_id_valid("i-0123456789abcdef0"));
	assert_true(cx_instance_id_valid("i-0123456789ABCDEF0"));
	assert_false(cx_instance_id_valid(""));
	assert_false(cx_instance_id_valid(NULL));
	assert_false(cx_instance_id_valid("i-"));
	assert_false(cx_instance_id_valid("0123456789abcdef0"));
	assert_false(cx_instance_id_valid("i-1234567"));
	assert_false(cx_instance_id_valid("i-1234567890"));
	assert_false(cx_instance_id_valid("i-0123456789abcdefg"));
}

static void
test_prefix(void **state)
{
	(void)state;
	assert_string_equal(cx_drv_prefix("/usr/bin/cloudX-proxy"), "cloudX");
	assert_string_equal(cx_drv_prefix("cloudx-proxy"), "cloudx");
	assert_string_equal(cx_drv_prefix("cloudX-proxy.exe"), "cloudx");
}

static void
arn_case(const char *arn, int user, const char *env, const char *name)
{
	char *e = NULL, *u = NULL;
	int is_user = -1;

	assert_int_equal(cx_drv_arn_env(arn, &is_user, &e, &u), 0);
	assert_int_equal(is_user, user);
	if (env == NULL)
		assert_null(e);
	else
		assert_string_equal(e, env);
	if (name == NULL)
		assert_null(u);
	else
		assert_string_equal(u, name);
	free(e);
	free(u);
}

static void
test_arn(void **state)
{
	(void)state;
	arn_case("arn:aws:iam::123456789012:user/cloudX-dev-alice", 1, "dev",
	    "cloudX-dev-alice");
	arn_case("arn:aws:iam::123456789012:user/cloudx-prod-bob-x", 1,
	    "prod", "cloudx-prod-bob-x");
	arn_case("arn:aws:iam::123456789012:user/teams/cloudX-qa-c/other",
	    1, "qa", "cloudX-qa-c");
	arn_case("arn:aws:iam::123456789012:user/alice", 1, NULL, NULL);
	arn_case("arn:aws:iam::123456789012:user/cloudX-dev", 1, NULL, NULL);
	arn_case("arn:aws:sts::123456789012:assumed-role/Admin/a@b.c", 0,
	    NULL, NULL);
	arn_case("arn:aws:iam::123456789012:root", 0, NULL, NULL);
}

static void
tags_case(const char *json, const char *env, const char *host)
{
	cJSON *t = cJSON_Parse(json);
	char *e = NULL, *h = NULL, *n = NULL;

	assert_non_null(t);
	assert_int_equal(cx_drv_tags_defaults(t, &e, &h, &n), 0);
	if (env)
		assert_string_equal(e, env);
	else
		assert_null(e);
	if (host)
		assert_string_equal(h, host);
	else
		assert_null(h);
	free(e);
	free(h);
	free(n);
	cJSON_Delete(t);
}

static void
test_tags(void **state)
{
	(void)state;
	tags_case("[{\"Key\":\"Name\",\"Value\":\"cloudX-dev-web | alice\"},"
	    "{\"Key\":\"Environment\",\"Value\":\"prod\"}]", "dev", "web");
	tags_case("[{\"Key\":\"Name\",\"Value\":\"cloudx-qa-my-box\"}]", "qa",
	    "my-box");
	tags_case("[{\"Key\":\"Name\",\"Value\":\"webserver\"},"
	    "{\"Key\":\"Environment\",\"Value\":\"prod\"},"
	    "{\"Key\":\"cloudx:environment\",\"Value\":\"lab\"}]", "lab",
	    NULL);
	tags_case("[{\"Key\":\"Environment\",\"Value\":\"prod\"},"
	    "{\"Key\":\"cloudX:environment\",\"Value\":\"stg\"},"
	    "{\"Key\":\"cloudx:environment\",\"Value\":\"lab\"}]", "stg",
	    NULL);
	tags_case("[]", NULL, NULL);
}

static void
ini_case(const char *in, const char *sec, const char *k1, const char *v1,
    const char *k2, const char *v2, const char *want)
{
	struct cx_buf b;
	const char *keys[2] = { k1, k2 }, *vals[2] = { v1, v2 };

	cx_buf_init(&b, 0);
	cx_buf_puts(&b, in);
	assert_int_equal(cx_drv_ini_set(&b, sec, keys, vals, k2 ? 2 : 1), 0);
	assert_string_equal(cx_buf_str(&b), want);
	cx_buf_clean_up(&b);
}

static void
test_ini(void **state)
{
	char *v = NULL;

	(void)state;
	ini_case("", "p", "a", "1", "b", "2", "[p]\na = 1\nb = 2\n");
	ini_case("# top\n[other]\nx = 1", "p", "a", "1", NULL, NULL,
	    "# top\n[other]\nx = 1\n\n[p]\na = 1\n");
	ini_case("[p]\n# keep\nA=old\nc = 3\n\n[q]\na = 9\n", "p", "a", "1",
	    "b", "2", "[p]\n# keep\na = 1\nc = 3\nb = 2\n\n[q]\na = 9\n");
	ini_case("[profile  x ]\nregion = eu-west-1\n", "profile x",
	    "region", "us-east-1", NULL, NULL,
	    "[profile  x ]\nregion = us-east-1\n");
	assert_true(cx_drv_ini_has_section("[a]\n[ profile  b]\n",
	    "profile b"));
	assert_false(cx_drv_ini_has_section("[a]\n", "b"));
	assert_int_equal(cx_drv_ini_get("[a]\nk = v w \n[b]\nk=z\n", "b",
	    "K", &v), 0);
	assert_string_equal(v, "z");
	free(v);
}

/* the writer itself refuses what would add a line: text unchanged */
static void
ini_refused(const char *sec, const char *k, const char *v)
{
	struct cx_buf b;
	const char *keys[1] = { k }, *vals[1] = { v };

	cx_buf_init(&b, 0);
	cx_buf_puts(&b, "[p]\na = 1\n");
	assert_int_equal(cx_drv_ini_set(&b, sec, keys, vals, 1),
	    CX_ERR_USAGE);
	assert_string_equal(cx_buf_str(&b), "[p]\na = 1\n");
	cx_buf_clean_up(&b);
}

static void
test_ini_injection(void **state)
{
	(void)state;
	ini_refused("p", "region", "eu-west-1\n[profile x]\n"
	    "credential_process = touch /tmp/pwned");
	ini_refused("p", "region", "eu-west-1\rcredential_process = x");
	ini_refused("x]\ncredential_process = touch /tmp/pwned\n[y", "a", "1");
	ini_refused("profile x]", "a", "1");
	ini_refused("[x", "a", "1");
	ini_refused("", "a", "1");
	ini_refused("p", "a\nb", "1");
	ini_refused("p", "a = b", "1");
	ini_refused("p", "", "1");
	/* the same values through the profile writer: nothing checked
	 * passes, so no file is touched (paths that cannot exist) */
	assert_int_equal(cx_drv_aws_write_profile("/nonexistent/c",
	    "/nonexistent/k", "p", "AKIAOK", "s", "eu-west-1\n[x]"),
	    CX_ERR_USAGE);
	assert_int_equal(cx_drv_aws_write_profile("/nonexistent/c",
	    "/nonexistent/k", "x]\n[y", "AKIAOK", "s", "eu-west-1"),
	    CX_ERR_USAGE);
	assert_int_equal(cx_drv_aws_write_profile("/nonexistent/c",
	    "/nonexistent/k", "p", "AKIA\ncredential_process = x", "s",
	    "eu-west-1"), CX_ERR_USAGE);
	assert_int_equal(cx_drv_aws_write_profile("/nonexistent/c",
	    "/nonexistent/k", "p", "AKIAOK", "s\n[x]", "eu-west-1"),
	    CX_ERR_USAGE);
	assert_int_equal(cx_drv_aws_profile_check("p", "AKIAOK", "s/+=",
	    "eu-west-1"), 0);
	assert_int_equal(cx_drv_aws_profile_check("p", "AKIAOK", "s", NULL),
	    0);
}

static void
merge_case(const char *in, const char *want, int want_changed)
{
	struct cx_buf b;
	cJSON *j = NULL;
	int changed = -1;

	cx_buf_init(&b, 0);
	assert_int_equal(cx_drv_vscode_merge(in, "~/.ssh/cloudX/config",
	    "cloudX", &b, &changed), 0);
	if (want)
		assert_string_equal(cx_buf_str(&b), want);
	assert_int_equal(changed, want_changed);
	assert_int_equal(cx_drv_jsonc_parse(cx_buf_str(&b), &j), 0);
	assert_string_equal(cJSON_GetObjectItem(j,
	    "remote.SSH.configFile")->valuestring, "~/.ssh/cloudX/config");
	assert_true(cJSON_GetObjectItem(j,
	    "remote.SSH.connectTimeout")->valuedouble >= 90);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "remote.SSH.remotePlatform"), "cloudX-*")->valuestring, "linux");
	cJSON_Delete(j);
	cx_buf_clean_up(&b);
}

static void
test_vscode(void **state)
{
	const char *full =
	    "{\n"
	    "    \"remote.SSH.configFile\": \"~/.ssh/cloudX/config\",\n"
	    "    \"remote.SSH.connectTimeout\": 90,\n"
	    "    \"remote.SSH.serverInstallTimeout\": 120,\n"
	    "    \"remote.SSH.showLoginTerminal\": true,\n"
	    "    \"remote.SSH.remotePlatform\": {\n"
	    "        \"cloudX-*\": \"linux\"\n"
	    "    }\n"
	    "}\n";
	struct cx_buf b;
	int changed;

	(void)state;
	merge_case("", NULL, 1);
	merge_case("{}", NULL, 1);
	merge_case(full, full, 0);
	/* comments, trailing commas and other settings survive */
	merge_case(
	    "// my settings\n"
	    "{\n"
	    "  /* font */ \"editor.fontSize\": 14, // big\n"
	    "  \"remote.SSH.connectTimeout\": 30,\n"
	    "  \"remote.SSH.remotePlatform\": { \"other\": \"windows\", },\n"
	    "}\n",
	    "// my settings\n"
	    "{\n"
	    "  /* font */ \"editor.fontSize\": 14, // big\n"
	    "  \"remote.SSH.connectTimeout\": 90,\n"
	    "  \"remote.SSH.remotePlatform\": { \"other\": \"windows\",\n"
	    "      \"cloudX-*\": \"linux\", },\n"
	    "  \"remote.SSH.configFile\": \"~/.ssh/cloudX/config\",\n"
	    "  \"remote.SSH.serverInstallTimeout\": 120,\n"
	    "  \"remote.SSH.showLoginTerminal\": true,\n"
	    "}\n", 1);
	/* a larger timeout is kept */
	cx_buf_init(&b, 0);
	assert_int_equal(cx_drv_vscode_merge(
	    "{\"remote.SSH.connectTimeout\": 300}", "c", "cloudx", &b,
	    &changed), 0);
	assert_non_null(strstr(cx_buf_str(&b), "\"remote.SSH.connectTimeout\": 300"));
	assert_int_equal(cx_drv_vscode_merge("[1]", "c", "cloudx", &b,
	    &changed), CX_ERR_INPUT);
	assert_int_equal(cx_drv_vscode_merge("{\"a\": }", "c", "cloudx", &b,
	    &changed), CX_ERR_INPUT);
	cx_buf_clean_up(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_id),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_arn),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_ini_injection),
		cmocka_unit_test(test_vscode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
