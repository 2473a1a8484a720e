/*
 * lib/aws/aws.c pure parts: the error classifier, query form encoding; and
 * lib/aws/http.c URL splitting (the Host header that gets signed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "aws/http.h"
#include "core/cxerr.h"

static void
test_error_class(void **state)
{
	static const struct {
		const char *code;
		long status;
		int want;
	} t[] = {
		{ "Throttling", 400, CX_ERR_THROTTLED },
		{ "ThrottlingException", 400, CX_ERR_THROTTLED },
		{ "RequestLimitExceeded", 503, CX_ERR_THROTTLED },
		{ "TooManyRequestsException", 429, CX_ERR_THROTTLED },
		{ "EC2ThrottledException", 400, CX_ERR_THROTTLED },
		{ "SlowDown", 503, CX_ERR_THROTTLED },
		{ NULL, 429, CX_ERR_THROTTLED },
		{ "AccessDenied", 403, CX_ERR_DENIED },
		{ "AccessDeniedException", 400, CX_ERR_DENIED },
		{ "UnauthorizedOperation", 403, CX_ERR_DENIED },
		{ "AuthFailure", 401, CX_ERR_DENIED },
		{ "SignatureDoesNotMatch", 403, CX_ERR_DENIED },
		{ "InvalidClientTokenId", 403, CX_ERR_DENIED },
		{ "UnrecognizedClientException", 400, CX_ERR_DENIED },
		{ "AuthException", 400, CX_ERR_DENIED },
		{ "403", 403, CX_ERR_DENIED },
		{ "ExpiredToken", 400, CX_ERR_LOGIN },
		{ "ExpiredTokenException", 400, CX_ERR_LOGIN },
		{ "UnauthorizedException", 401, CX_ERR_LOGIN },
		{ "InvalidInstanceID.NotFound", 400, CX_ERR_NOTFOUND },
		{ "InvalidInstanceId", 400, CX_ERR_NOTFOUND },
		{ "EC2InstanceNotFoundException", 400, CX_ERR_NOTFOUND },
		{ "NoSuchEntity", 404, CX_ERR_NOTFOUND },
		{ "404", 404, CX_ERR_NOTFOUND },
		{ "InternalError", 500, CX_ERR_AWS_SERVER },
		{ "ServiceUnavailable", 503, CX_ERR_AWS_SERVER },
		{ "500", 500, CX_ERR_AWS_SERVER },
		{ NULL, 502, CX_ERR_AWS_SERVER },
		{ "RequestTimeout", 400, CX_ERR_AWS_SERVER },
		{ "IncorrectInstanceState", 400, CX_ERR_AWS },
		{ "InvalidParameterValue", 400, CX_ERR_AWS },
		{ "DryRunOperation", 412, CX_ERR_AWS },
		{ NULL, 400, CX_ERR_AWS },
		{ "InvalidInstanceID.Malformed", 400, CX_ERR_AWS },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = cx_aws_error_class(t[i].code, t[i].status);

		if (got != t[i].want)
			fail_msg("%s/%ld: got %d want %d",
			    t[i].code ? t[i].code : "(null)", t[i].status,
			    got, t[i].want);
	}
}

static void
test_query_encoding(void **state)
{
	struct cx_query q;

	(void)state;
	cx_query_init(&q, "AssumeRole", "2011-06-15");
	assert_int_equal(cx_query_add(&q, "RoleArn",
	    "arn:aws:iam::1:role/a b"), 0);
	assert_int_equal(cx_query_add(&q, "Tags.member.1.Value",
	    "x+y=z&w~_.-\xc3\xa9"), 0);
	assert_int_equal(cx_query_add(&q, "Empty", ""), 0);
	assert_int_equal(cx_query_add(&q, NULL, "x"), CX_ERR_INPUT);
	assert_string_equal(cx_buf_str(&q.body),
	    "Action=AssumeRole&Version=2011-06-15"
	    "&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa+b"
	    "&Tags.member.1.Value=x%2By%3Dz%26w~_.-%C3%A9"
	    "&Empty=");
	assert_true(q.body.secret);
	cx_query_clean_up(&q);
}

static void
test_query_too_big(void **state)
{
	struct cx_query q;
	char *big;
	size_t before;

	(void)state;
	cx_query_init(&q, "A", "1");
	before = q.body.len;
	big = malloc(600 * 1024);
	memset(big, '%', 600 * 1024 - 1);	/* each byte -> 3 */
	big[600 * 1024 - 1] = '\0';
	assert_int_equal(cx_query_add(&q, "Big", big), CX_ERR_TOOBIG);
	/* all or nothing */
	assert_int_equal(q.body.len, before);
	assert_string_equal(cx_buf_str(&q.body), "Action=A&Version=1");
	free(big);
	cx_query_clean_up(&q);
}

static void
test_url_split(void **state)
{
	static const struct {
		const char *url, *host, *path;
	} t[] = {
		{ "https://sts.eu-west-1.amazonaws.com", "sts.eu-west-1.amazonaws.com", "/" },
		{ "https://sts.amazonaws.com:443/", "sts.amazonaws.com", "/" },
		{ "http://127.0.0.1:5000", "127.0.0.1:5000", "/" },
		{ "http://127.0.0.1:80/x/y", "127.0.0.1", "/x/y" },
		{ "https://h:8443/p?q=1", "h:8443", "/p" },
		{ "http://[::1]:5000/", "[::1]:5000", "/" },
	};
	char *h, *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(cx_http_url_split(t[i].url, &h, &p), 0);
		assert_string_equal(h, t[i].host);
		assert_string_equal(p, t[i].path);
		free(h);
		free(p);
	}
	assert_int_equal(cx_http_url_split("ftp://x/", &h, &p), CX_ERR_INPUT);
	assert_null(h);
	assert_int_equal(cx_http_url_split("not a url", &h, NULL),
	    CX_ERR_INPUT);
}

static void
test_bad_targets(void **state)
{
	struct cx_aws_target t = { 0 };
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };
	struct cx_creds c = { .access_key_id = "AK",
	    .secret_access_key = "SK" };

	(void)state;
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	/* no endpoint */
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_INPUT);
	/* not a URL */
	t.endpoint = strdup("ftp://127.0.0.1/");
	t.region = "us-east-1";
	t.signing_name = "sts";
	t.creds = &c;
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_INPUT);
	/* signed without a region */
	t.region = NULL;
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_INPUT);
	assert_null(x);
	cx_aws_target_clean_up(&t);
	assert_null(t.endpoint);
	cx_query_clean_up(&q);
	cx_aws_error_clean_up(&e);
	cx_aws_error_clean_up(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_class),
		cmocka_unit_test(test_query_encoding),
		cmocka_unit_test(test_query_too_big),
		cmocka_unit_test(test_url_split),
		cmocka_unit_test(test_bad_targets),
	};

	return cmocka_run_group_tests_name("awserr", tests, NULL, NULL);
}
