/* Unit tests for lib/aws/awscfg.c: files, profile selection, merge, region,
 * endpoints, CA bundle, retry settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/awscfg.h"
#include "aws/creds.h"
#include "core/cxerr.h"
#include "core/os.h"

static char home[64];

static void
write_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *const vars[] = {
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
	"AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS",
	"AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT", "AWS_ENDPOINT_URL_SSO_OIDC",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", NULL
};

static int
setup(void **state)
{
	char dir[128];
	int i;

	(void)state;
	snprintf(home, sizeof(home), "/tmp/test_awscfg.XXXXXX");
	if (mkdtemp(home) == NULL)
		return -1;
	setenv("HOME", home, 1);
	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	snprintf(dir, sizeof(dir), "%s/.aws", home);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/.aws/aws-envs", home);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/.aws/aws-envs/prod", home);
	mkdir(dir, 0700);
	write_file(".aws/config",
	    "[default]\nregion = us-east-2\n"
	    "[profile dev]\nregion = eu-central-1\noutput = json\n"
	    "aws_access_key_id = AKCONFIG\n"
	    "[profile default]\nregion = ap-south-1\n"
	    "[profile local]\nservices = loc\nendpoint_url = http://p:1/\n"
	    "[services loc]\nec2 =\n  endpoint_url = http://svc-ec2:2\n"
	    "ec2_instance_connect =\n  endpoint_url = http://svc-eic:3\n"
	    "[profile broken]\nservices = nope\n"
	    "[profile ign]\nendpoint_url = http://p:1\n"
	    "ignore_configured_endpoint_urls = true\n"
	    "[profile \"sp ace\"]\nregion = us-west-1\nmax_attempts = 7\n"
	    "retry_mode = adaptive\nca_bundle = ~/ca.pem\n"
	    "[profile badregion]\nregion = us east\n");
	write_file(".aws/credentials",
	    "[dev]\naws_access_key_id = AKCREDS\n"
	    "aws_secret_access_key = SKCREDS\n"
	    "[only-creds]\naws_access_key_id = AK2\n"
	    "[profile x]\nk = v\n");
	write_file(".aws/aws-envs/prod/config",
	    "[profile p1]\nregion = sa-east-1\n");
	return 0;
}

static int
teardown(void **state)
{
	char *argv[] = { "rm", "-rf", home, NULL };
	int st;

	(void)state;
	return cx_run(argv, NULL, 0, NULL, NULL, 10000, &st);
}

static struct cx_awscfg *
load(const char *envname, const char *profile)
{
	struct cx_awscfg *c = NULL;

	assert_int_equal(cx_awscfg_load(envname, profile, &c), 0);
	assert_non_null(c);
	return c;
}

static void
test_profile_selection(void **state)
{
	struct cx_awscfg *c = NULL;

	(void)state;
	c = load(NULL, NULL);
	assert_string_equal(c->profile, "default");
	assert_false(c->profile_from_arg);
	cx_awscfg_free(c);
	setenv("AWS_DEFAULT_PROFILE", "only-creds", 1);
	c = load(NULL, NULL);
	assert_string_equal(c->profile, "only-creds");
	cx_awscfg_free(c);
	setenv("AWS_PROFILE", "dev", 1);
	c = load(NULL, NULL);
	assert_string_equal(c->profile, "dev");
	assert_false(c->profile_from_arg);
	cx_awscfg_free(c);
	c = load(NULL, "sp ace");
	assert_string_equal(c->profile, "sp ace");
	assert_true(c->profile_from_arg);
	cx_awscfg_free(c);
	assert_int_equal(cx_awscfg_load(NULL, "nope", &c), CX_ERR_CONFIG);
	assert_null(c);
	/* [profile x] in the credentials file is a profile named that */
	c = load(NULL, "profile x");
	assert_string_equal(cx_awscfg_get(c, "profile x", "k"), "v");
	assert_false(cx_awscfg_has_profile(c, "x"));
	cx_awscfg_free(c);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_DEFAULT_PROFILE");
	/* "default" may be missing without error */
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	c = load(NULL, NULL);
	assert_false(c->profile_exists);
	assert_null(c->config);
	cx_awscfg_free(c);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void
test_merge(void **state)
{
	struct cx_awscfg *c;

	(void)state;
	c = load(NULL, "dev");
	/* credentials file wins key by key */
	assert_string_equal(cx_awscfg_get(c, "dev", "aws_access_key_id"),
	    "AKCREDS");
	assert_string_equal(cx_awscfg_get(c, "dev", "region"), "eu-central-1");
	assert_string_equal(cx_awscfg_get_config(c, "dev",
	    "aws_access_key_id"), "AKCONFIG");
	assert_string_equal(cx_awscfg_get_creds(c, "dev",
	    "aws_secret_access_key"), "SKCREDS");
	assert_null(cx_awscfg_get_creds(c, "dev", "region"));
	/* [profile default] comes later than [default]: it wins whole */
	assert_string_equal(cx_awscfg_get(c, "default", "region"),
	    "ap-south-1");
	cx_awscfg_free(c);
}

static void
test_env_vars_in_paths(void **state)
{
	struct cx_awscfg *c;
	char *p = NULL;

	(void)state;
	setenv("CXT_DIR", home, 1);
	setenv("AWS_CONFIG_FILE", "$CXT_DIR/.aws/aws-envs/prod/config", 1);
	c = load(NULL, "p1");
	assert_string_equal(cx_awscfg_get(c, "p1", "region"), "sa-east-1");
	cx_awscfg_free(c);
	unsetenv("AWS_CONFIG_FILE");
	assert_int_equal(cx_awscfg_expand_path("${CXT_DIR}/x/$NOPE_VAR/$", &p),
	    0);
	assert_true(strncmp(p, home, strlen(home)) == 0);
	assert_string_equal(p + strlen(home), "/x/$NOPE_VAR/$");
	free(p);
	assert_int_equal(cx_awscfg_expand_path("~/a", &p), 0);
	assert_true(strncmp(p, home, strlen(home)) == 0);
	free(p);
}

static void
test_aws_env(void **state)
{
	struct cx_awscfg *c = NULL;

	(void)state;
	c = load("prod", "p1");
	assert_string_equal(c->aws_env, "prod");
	assert_string_equal(cx_awscfg_get(c, "p1", "region"), "sa-east-1");
	assert_string_equal(getenv("AWS_CONFIG_FILE"), c->config_path);
	assert_non_null(strstr(c->creds_path, "/.aws/aws-envs/prod/credentials"));
	cx_awscfg_free(c);
	/* the normal files are not read under --aws-env */
	assert_int_equal(cx_awscfg_load("prod", "dev", &c), CX_ERR_CONFIG);
	assert_int_equal(cx_awscfg_load("../x", "dev", &c), CX_ERR_USAGE);
	assert_int_equal(cx_awscfg_load("", "dev", &c), CX_ERR_USAGE);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void
check_region(struct cx_awscfg *c, const char *arg, const char *want)
{
	char *r = NULL;

	assert_int_equal(cx_awscfg_region(c, arg, &r), 0);
	assert_string_equal(r, want);
	free(r);
}

static void
test_region(void **state)
{
	struct cx_awscfg *c;
	char *r = NULL;

	(void)state;
	c = load(NULL, "dev");
	check_region(c, NULL, "eu-central-1");
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	check_region(c, NULL, "us-west-2");
	setenv("AWS_REGION", "ca-central-1", 1);
	check_region(c, NULL, "ca-central-1");
	check_region(c, "eu-north-1", "eu-north-1");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	cx_awscfg_free(c);
	c = load(NULL, "only-creds");
	check_region(c, NULL, CX_AWSCFG_DEFAULT_REGION);
	cx_awscfg_free(c);
	c = load(NULL, "badregion");
	assert_int_equal(cx_awscfg_region(c, NULL, &r), CX_ERR_CONFIG);
	assert_null(r);
	cx_awscfg_free(c);
}

static void
check_ep(struct cx_awscfg *c, const char *svc, const char *region,
    const char *want)
{
	char *u = NULL;

	assert_int_equal(cx_awscfg_endpoint(c, svc, region, &u), 0);
	assert_string_equal(u, want);
	free(u);
}

static void
test_endpoint_defaults(void **state)
{
	(void)state;
	check_ep(NULL, "ec2", "eu-west-1", "https://ec2.eu-west-1.amazonaws.com");
	check_ep(NULL, "ssm", "us-east-1", "https://ssm.us-east-1.amazonaws.com");
	check_ep(NULL, "ec2-instance-connect", "eu-west-1",
	    "https://ec2-instance-connect.eu-west-1.amazonaws.com");
	check_ep(NULL, "sts", "eu-west-1", "https://sts.eu-west-1.amazonaws.com");
	check_ep(NULL, "iam", "eu-west-1", "https://iam.amazonaws.com");
	check_ep(NULL, "sso", "eu-west-1",
	    "https://portal.sso.eu-west-1.amazonaws.com");
	check_ep(NULL, "sso-oidc", "eu-west-1",
	    "https://oidc.eu-west-1.amazonaws.com");
	check_ep(NULL, "ec2", "cn-north-1",
	    "https://ec2.cn-north-1.amazonaws.com.cn");
	assert_string_equal(cx_aws_signing_region("iam", "eu-west-1"),
	    "us-east-1");
	assert_string_equal(cx_aws_signing_region("ec2", "eu-west-1"),
	    "eu-west-1");
}

static void
test_endpoint_chain(void **state)
{
	struct cx_awscfg *c;
	struct cx_aws_ctx ctx;
	char *u = NULL;

	(void)state;
	c = load(NULL, "local");
	/* services section, then profile endpoint_url */
	check_ep(c, "ec2", "eu-west-1", "http://svc-ec2:2");
	check_ep(c, "ec2-instance-connect", "eu-west-1", "http://svc-eic:3");
	check_ep(c, "sts", "eu-west-1", "http://p:1");
	/* AWS_ENDPOINT_URL beats the files */
	setenv("AWS_ENDPOINT_URL", "http://global:4/", 1);
	check_ep(c, "ec2", "eu-west-1", "http://global:4");
	/* the service variable beats AWS_ENDPOINT_URL */
	setenv("AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT", "http://eic:5", 1);
	setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://oidc:6", 1);
	check_ep(c, "ec2-instance-connect", "eu-west-1", "http://eic:5");
	check_ep(c, "sso-oidc", "eu-west-1", "http://oidc:6");
	check_ep(c, "sts", "eu-west-1", "http://global:4");
	/* through the context */
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = c;
	ctx.region = (char *)"eu-west-1";
	assert_int_equal(cx_aws_ctx_endpoint(&ctx, "ec2-instance-connect",
	    NULL, &u), 0);
	assert_string_equal(u, "http://eic:5");
	free(u);
	/* ignoring configured endpoints */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
	check_ep(c, "ec2", "eu-west-1", "https://ec2.eu-west-1.amazonaws.com");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
	check_ep(c, "ec2", "eu-west-1", "http://global:4");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT");
	unsetenv("AWS_ENDPOINT_URL_SSO_OIDC");
	cx_awscfg_free(c);
	c = load(NULL, "ign");
	check_ep(c, "sts", "eu-west-1", "https://sts.eu-west-1.amazonaws.com");
	cx_awscfg_free(c);
	c = load(NULL, "broken");
	assert_int_equal(cx_awscfg_endpoint(c, "ec2", "eu-west-1", &u),
	    CX_ERR_CONFIG);
	assert_int_equal(cx_awscfg_endpoint(NULL, "ec2", "x/y", &u),
	    CX_ERR_CONFIG);
	cx_awscfg_free(c);
}

static void
test_ca_and_retries(void **state)
{
	struct cx_awscfg *c;
	char *p = NULL;
	int n;

	(void)state;
	c = load(NULL, "sp ace");
	assert_int_equal(cx_awscfg_ca_bundle(c, &p), 0);
	assert_non_null(p);
	assert_true(strncmp(p, home, strlen(home)) == 0);
	free(p);
	setenv("AWS_CA_BUNDLE", "/etc/ca.pem", 1);
	assert_int_equal(cx_awscfg_ca_bundle(c, &p), 0);
	assert_string_equal(p, "/etc/ca.pem");
	free(p);
	setenv("AWS_CA_BUNDLE", "", 1);
	assert_int_equal(cx_awscfg_ca_bundle(c, &p), CX_ERR_CONFIG);
	unsetenv("AWS_CA_BUNDLE");
	assert_int_equal(cx_awscfg_max_attempts(c, &n), 0);
	assert_int_equal(n, 7);
	assert_string_equal(cx_awscfg_retry_mode(c), "adaptive");
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	setenv("AWS_RETRY_MODE", "legacy", 1);
	assert_int_equal(cx_awscfg_max_attempts(c, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cx_awscfg_retry_mode(c), "legacy");
	setenv("AWS_MAX_ATTEMPTS", "zero", 1);
	assert_int_equal(cx_awscfg_max_attempts(c, &n), CX_ERR_CONFIG);
	unsetenv("AWS_MAX_ATTEMPTS");
	unsetenv("AWS_RETRY_MODE");
	cx_awscfg_free(c);
	c = load(NULL, "dev");
	assert_int_equal(cx_awscfg_ca_bundle(c, &p), 0);
	assert_null(p);
	assert_int_equal(cx_awscfg_max_attempts(c, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(cx_awscfg_retry_mode(c), "standard");
	cx_awscfg_free(c);
}

static void
test_malformed(void **state)
{
	struct cx_awscfg *c = NULL;
	char dir[256];

	(void)state;
	write_file("bad", "[profile a]\nregion = x\nregion = y\n");
	snprintf(dir, sizeof(dir), "%s/bad", home);
	setenv("AWS_CONFIG_FILE", dir, 1);
	assert_int_equal(cx_awscfg_load(NULL, "a", &c), CX_ERR_CONFIG);
	/* a folder where the file should be: unreadable */
	snprintf(dir, sizeof(dir), "%s/.aws", home);
	setenv("AWS_CONFIG_FILE", dir, 1);
	assert_int_equal(cx_awscfg_load(NULL, NULL, &c), CX_ERR_CONFIG);
	assert_null(c);
	unsetenv("AWS_CONFIG_FILE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_selection),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_env_vars_in_paths),
		cmocka_unit_test(test_aws_env),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_endpoint_defaults),
		cmocka_unit_test(test_endpoint_chain),
		cmocka_unit_test(test_ca_and_retries),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
