/*
 * lib/aws/aws.c against live servers, driven by tests/bats/awscore.bats:
 *
 *   CX_TEST_MOTO_URL, CX_TEST_AK, CX_TEST_SK   moto_server with auth on and
 *        an IAM user's keys; CX_TEST_USER (its name), CX_TEST_REGION,
 *        CX_TEST_INSTANCE (a running instance tagged cloudxuser=$USER),
 *        CX_TEST_ROLE_ARN (a role the user may assume)
 *   CX_TEST_FAULT_URL   tests/tools/faultserver.py (503s, throttling, hang)
 *
 * Without CX_TEST_MOTO_URL the whole program is skipped ("1..0 # SKIP":
 * cmocka 1.1.5 would print a skip as "not ok", which tests/run-all counts
 * as a failure); without CX_TEST_FAULT_URL the fault tests are left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/creds.h"
#include "aws/http.h"
#include "aws/xml.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"

static const char *moto, *fault, *region;
static struct cx_creds good, bad;

static void
target(struct cx_aws_target *t, const char *base, const char *path,
    const char *svc, const struct cx_creds *c)
{
	struct cx_buf b;

	memset(t, 0, sizeof(*t));
	cx_buf_init(&b, 0);
	assert_int_equal(cx_buf_printf(&b, "%s%s", base, path), 0);
	t->endpoint = cx_buf_steal_str(&b);
	t->region = region;
	t->signing_name = svc;
	t->creds = c;
	t->ctx = NULL;
}

/* --- moto --- */

static void
test_gci_user_arn(void **state)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };
	char want[128];
	const char *arn;

	(void)state;
	target(&t, moto, "", "sts", &good);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), 0);
	arn = cx_xml_text(x->root, "GetCallerIdentityResult/Arn");
	assert_non_null(arn);
	snprintf(want, sizeof(want), "arn:aws:iam::123456789012:user/%s",
	    getenv("CX_TEST_USER"));
	assert_string_equal(arn, want);
	assert_null(e.code);
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

static void
test_gci_wrong_secret(void **state)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };

	(void)state;
	target(&t, moto, "", "sts", &bad);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_DENIED);
	assert_null(x);
	assert_int_equal(e.http_status, 403);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	/* the expected canonical request (with any token) is cut away */
	if (e.message != NULL)
		assert_null(strstr(e.message, "Canonical String"));
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

static void
test_unknown_key(void **state)
{
	struct cx_creds c = { .access_key_id = "AKIAUNKNOWNUNKNOWN00",
	    .secret_access_key = "whatever" };
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };

	(void)state;
	target(&t, moto, "", "sts", &c);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_DENIED);
	assert_string_equal(e.code, "InvalidClientTokenId");
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

static void
test_assume_role_token(void **state)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL, *y = NULL;
	struct cx_aws_error e = { 0 };
	struct cx_creds rc = { 0 };
	const struct cx_xml_node *cr;
	const char *arn;

	(void)state;
	target(&t, moto, "", "sts", &good);
	cx_query_init(&q, "AssumeRole", "2011-06-15");
	assert_int_equal(cx_query_add(&q, "RoleArn",
	    getenv("CX_TEST_ROLE_ARN")), 0);
	assert_int_equal(cx_query_add(&q, "RoleSessionName", "cx test+1"), 0);
	if (cx_aws_query(&t, &q, &x, &e) != 0)
		fail_msg("AssumeRole: %s: %s", e.code, e.message);
	cr = cx_xml_find(x->root, "AssumeRoleResult/Credentials");
	assert_non_null(cr);
	rc.access_key_id = strdup(cx_xml_text(cr, "AccessKeyId"));
	rc.secret_access_key = strdup(cx_xml_text(cr, "SecretAccessKey"));
	rc.session_token = strdup(cx_xml_text(cr, "SessionToken"));
	assert_non_null(rc.session_token);
	cx_query_clean_up(&q);

	/* the token is sent and signed: moto checks it */
	t.creds = &rc;
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &y, &e), 0);
	arn = cx_xml_text(y->root, "GetCallerIdentityResult/Arn");
	assert_non_null(arn);
	assert_non_null(strstr(arn, ":assumed-role/"));
	assert_non_null(strstr(arn, "/cx test+1"));
	cx_xml_free(y);
	cx_query_clean_up(&q);

	/* a wrong token is refused */
	rc.session_token[3] ^= 1;
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &y, &e), CX_ERR_DENIED);
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);

	free(rc.access_key_id);
	free(rc.secret_access_key);
	free(rc.session_token);
	cx_xml_free(x);
	cx_aws_target_clean_up(&t);
}

static void
test_ec2_describe(void **state)
{
	const char *iid = getenv("CX_TEST_INSTANCE");
	const struct cx_xml_node *inst, *tag;
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };
	int found_tag = 0;

	(void)state;
	target(&t, moto, "", "ec2", &good);
	cx_query_init(&q, "DescribeInstances", "2016-11-15");
	assert_int_equal(cx_query_add(&q, "InstanceId.1", iid), 0);
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), 0);
	assert_string_equal(x->root->name, "DescribeInstancesResponse");
	inst = cx_xml_find(x->root, "reservationSet/item/instancesSet/item");
	assert_non_null(inst);
	assert_string_equal(cx_xml_text(inst, "instanceId"), iid);
	assert_string_equal(cx_xml_text(inst, "instanceState/name"),
	    "running");
	assert_string_equal(cx_xml_text(inst, "instanceState/code"), "16");
	assert_int_equal(strncmp(cx_xml_text(inst,
	    "placement/availabilityZone"), region, strlen(region)), 0);
	for (tag = cx_xml_find(inst, "tagSet/item"); tag != NULL;
	    tag = cx_xml_next(tag))
		if (strcmp(cx_xml_text(tag, "key"), "cloudxuser") == 0) {
			assert_string_equal(cx_xml_text(tag, "value"),
			    getenv("CX_TEST_USER"));
			found_tag = 1;
		}
	assert_true(found_tag);
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

static void
test_ec2_error(void **state)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };

	(void)state;
	target(&t, moto, "", "ec2", &good);
	cx_query_init(&q, "DescribeInstances", "2016-11-15");
	assert_int_equal(cx_query_add(&q, "InstanceId.1",
	    "i-0123456789abcdef0"), 0);
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_NOTFOUND);
	assert_string_equal(e.code, "InvalidInstanceID.NotFound");
	assert_int_equal(e.http_status, 400);
	assert_non_null(e.message);
	assert_non_null(e.request_id);
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);

	/* wrong secret on EC2: 401 AuthFailure */
	t.creds = &bad;
	cx_query_init(&q, "DescribeInstances", "2016-11-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_DENIED);
	assert_string_equal(e.code, "AuthFailure");
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

static void
test_eic_send_key(void **state)
{
	struct cx_aws_target t;
	struct cx_aws_error e = { 0 };
	cJSON *in, *out = NULL;

	(void)state;
	target(&t, moto, "", "ec2-instance-connect", &good);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "InstanceId", getenv("CX_TEST_INSTANCE"));
	cJSON_AddStringToObject(in, "InstanceOSUser", "ec2-user");
	cJSON_AddStringToObject(in, "SSHPublicKey",
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxJ0Ph6zW0Q7+M9yKpJcWb1u"
	    "uKQ4dFzX6v5P1LhUu2c test");
	assert_int_equal(cx_aws_json(&t,
	    "AWSEC2InstanceConnectService.SendSSHPublicKey", in, &out, &e), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out, "Success")));
	cx_json_delete_secure(out);
	out = NULL;

	/* same call with a wrong secret: moto answers a JSON protocol in XML */
	t.creds = &bad;
	assert_int_equal(cx_aws_json(&t,
	    "AWSEC2InstanceConnectService.SendSSHPublicKey", in, &out, &e),
	    CX_ERR_DENIED);
	assert_null(out);
	assert_int_equal(e.http_status, 403);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	cx_aws_error_clean_up(&e);
	cJSON_Delete(in);
	cx_aws_target_clean_up(&t);
}

static void
test_ssm_json_error(void **state)
{
	struct cx_aws_target t;
	struct cx_aws_error e = { 0 };
	cJSON *in, *out = NULL;

	(void)state;
	target(&t, moto, "", "ssm", &good);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "CommandId",
	    "00000000-0000-0000-0000-000000000000");
	cJSON_AddStringToObject(in, "InstanceId", getenv("CX_TEST_INSTANCE"));
	assert_int_equal(cx_aws_json(&t, "AmazonSSM.GetCommandInvocation", in,
	    &out, &e), CX_ERR_AWS);
	assert_null(out);
	assert_int_equal(e.http_status, 400);
	assert_string_equal(e.code, "InvalidCommandId");
	cx_aws_error_clean_up(&e);
	cJSON_Delete(in);
	cx_aws_target_clean_up(&t);
}

/* --- fault server --- */

/* Group setup: the server forgets earlier runs' counts. */
static int
fault_reset(void **state)
{
	struct cx_http *h = NULL;
	struct cx_http_request rq = { 0 };
	struct cx_http_response rs;
	struct cx_buf url;
	int r;

	(void)state;
	cx_buf_init(&url, 0);
	if (cx_buf_printf(&url, "%s/_reset", fault) != 0 ||
	    cx_http_new(NULL, &h) != 0)
		return -1;
	rq.method = "POST";
	rq.url = cx_buf_str(&url);
	r = cx_http_do(h, &rq, &rs) == 0 && rs.status == 200 ? 0 : -1;
	cx_http_response_clean_up(&rs);
	cx_http_free(h);
	cx_buf_clean_up(&url);
	return r;
}

/* {"count": N, ...} of a scenario, asked of the server itself */
static cJSON *
seen(const char *name)
{
	struct cx_http *h = NULL;
	struct cx_http_request rq = { 0 };
	struct cx_http_response rs;
	struct cx_buf url;
	cJSON *j;

	cx_buf_init(&url, 0);
	assert_int_equal(cx_buf_printf(&url, "%s/_count/%s", fault, name), 0);
	assert_int_equal(cx_http_new(NULL, &h), 0);
	rq.method = "GET";
	rq.url = cx_buf_str(&url);
	assert_int_equal(cx_http_do(h, &rq, &rs), 0);
	assert_int_equal(rs.status, 200);
	j = cJSON_Parse(cx_buf_str(&rs.body));
	assert_non_null(j);
	cx_http_response_clean_up(&rs);
	cx_http_free(h);
	cx_buf_clean_up(&url);
	return j;
}

static int
seen_count(const char *name)
{
	cJSON *j = seen(name);
	int n = cJSON_GetObjectItem(j, "count")->valueint;

	cJSON_Delete(j);
	return n;
}

static int
gci(const char *scen, const struct cx_creds *c, struct cx_aws_error *e)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/%s", scen);
	target(&t, fault, path, "sts", c);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	r = cx_aws_query(&t, &q, &x, e);
	if (r == 0)
		assert_string_equal(cx_xml_text(x->root,
		    "GetCallerIdentityResult/Arn"),
		    "arn:aws:iam::123456789012:user/fault");
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
	return r;
}

static void
test_retry_503(void **state)
{
	struct cx_creds tok = good;
	struct cx_aws_error e = { 0 };
	cJSON *j, *it;
	int i;

	(void)state;
	tok.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	assert_int_equal(gci("s503x2", &tok, &e), 0);
	j = seen("s503x2");
	assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 3);
	/* every attempt signed, with its token and our User-Agent */
	for (i = 0; i < 3; i++) {
		it = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "auth"), i);
		assert_true(cJSON_IsTrue(it));
		it = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "token"), i);
		assert_true(cJSON_IsTrue(it));
		it = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "dates"), i);
		assert_true(cJSON_IsString(it));
		assert_int_equal(strlen(it->valuestring), 16);
		it = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ua"), i);
		assert_int_equal(strncmp(it->valuestring, "cloudx-proxy/", 13),
		    0);
	}
	cJSON_Delete(j);
}

static void
test_retry_stops_at_max(void **state)
{
	struct cx_aws_error e = { 0 };

	(void)state;
	setenv("AWS_MAX_ATTEMPTS", "4", 1);
	assert_int_equal(gci("throttle", &good, &e), CX_ERR_THROTTLED);
	assert_string_equal(e.code, "Throttling");
	assert_string_equal(e.request_id, "req-Throttling");
	assert_int_equal(e.http_status, 400);
	assert_int_equal(seen_count("throttle"), 4);
	cx_aws_error_clean_up(&e);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

static void
test_retry_throttle_json(void **state)
{
	struct cx_aws_target t;
	struct cx_aws_error e = { 0 };
	cJSON *out = NULL, *j;

	(void)state;
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	target(&t, fault, "/throttlejson", "ssm", &good);
	assert_int_equal(cx_aws_json(&t, "AmazonSSM.StartSession", NULL, &out,
	    &e), CX_ERR_THROTTLED);
	assert_string_equal(e.code, "ThrottlingException");
	assert_string_equal(e.message, "slow down");
	j = seen("throttlejson");
	assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 2);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "targets"), 0)->valuestring, "AmazonSSM.StartSession");
	cJSON_Delete(j);
	cx_aws_error_clean_up(&e);
	cx_aws_target_clean_up(&t);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

static void
test_hang_times_out(void **state)
{
	struct cx_aws_error e = { 0 };
	uint64_t t0;

	(void)state;
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	setenv("CX_HTTP_TIMEOUT_MS", "300", 1);
	t0 = cx_now_ms();
	assert_int_equal(gci("hang", &good, &e), CX_ERR_TIMEOUT);
	assert_true(cx_now_ms() - t0 < 3000);
	assert_null(e.code);
	assert_int_equal(seen_count("hang"), 2);
	unsetenv("CX_HTTP_TIMEOUT_MS");
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

static void
test_no_retry_on_denied(void **state)
{
	struct cx_aws_error e = { 0 };

	(void)state;
	assert_int_equal(gci("denied", &good, &e), CX_ERR_DENIED);
	assert_string_equal(e.code, "AccessDenied");
	assert_string_equal(e.message, "not you");
	assert_int_equal(seen_count("denied"), 1);
	cx_aws_error_clean_up(&e);
}

static void
test_html_500(void **state)
{
	struct cx_aws_error e = { 0 };

	(void)state;
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	assert_int_equal(gci("e500html", &good, &e), CX_ERR_AWS_SERVER);
	assert_string_equal(e.code, "500");
	assert_int_equal(seen_count("e500html"), 2);
	cx_aws_error_clean_up(&e);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

static void
test_error_shapes(void **state)
{
	struct cx_aws_target t;
	struct cx_aws_error e = { 0 };
	cJSON *out = NULL;

	(void)state;
	assert_int_equal(gci("ec2err", &good, &e), CX_ERR_NOTFOUND);
	assert_string_equal(e.code, "InvalidInstanceID.NotFound");
	assert_string_equal(e.request_id, "ec2-req");
	assert_string_equal(e.message, "The instance ID 'i-1' does not exist");
	cx_aws_error_clean_up(&e);

	target(&t, fault, "/jsonerr", "ssm", &good);
	assert_int_equal(cx_aws_json(&t, "AmazonSSM.StartSession", NULL, &out,
	    &e), CX_ERR_NOTFOUND);
	assert_string_equal(e.code, "InvalidInstanceId");
	assert_string_equal(e.message, "no such managed instance");
	assert_string_equal(e.request_id, "json-req");
	cx_aws_error_clean_up(&e);
	cx_aws_target_clean_up(&t);

	target(&t, fault, "/queryerr", "sqs", &good);
	assert_int_equal(cx_aws_json(&t, "X.Y", NULL, &out, &e), CX_ERR_AWS);
	assert_string_equal(e.code, "AWS.Custom.Code");
	assert_string_equal(e.request_id, "q-req");
	cx_aws_error_clean_up(&e);
	cx_aws_target_clean_up(&t);
}

static void
test_big_body(void **state)
{
	struct cx_aws_error e = { 0 };

	(void)state;
	assert_int_equal(gci("big", &good, &e), CX_ERR_TOOBIG);
	assert_int_equal(seen_count("big"), 1);
}

static void
test_unsigned_get(void **state)
{
	static const char *const hdrs[] = { "x-amz-sso_bearer_token: SECRET" };
	struct cx_aws_target t;
	struct cx_aws_error e = { 0 };
	cJSON *out = NULL, *j;

	(void)state;
	target(&t, fault, "/ok", "sso", NULL);
	assert_int_equal(cx_aws_get_json(&t, "/federation/credentials?"
	    "role_name=Admin&account_id=1", hdrs, 1, &out, &e), CX_ERR_PROTOCOL);
	/* GCI XML is not JSON: refused as a protocol error, but sent once,
	 * unsigned */
	j = seen("ok");
	assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 1);
	assert_false(cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "auth"), 0)));
	cJSON_Delete(j);
	/* the refusal's message ("bad answer: malformed JSON") is ours */
	cx_aws_error_clean_up(&e);
	cx_aws_target_clean_up(&t);
}

static void
test_connection_refused(void **state)
{
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };

	(void)state;
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	/* port 9 (discard) on loopback: nothing listens in the test box */
	target(&t, "http://127.0.0.1:9", "", "sts", &good);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_NETWORK);
	assert_int_equal(e.http_status, 0);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
}

/* Two calls through one context reuse one connection. */
static void
test_connection_reuse(void **state)
{
	struct cx_aws_ctx ctx;
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_aws_error e = { 0 };
	cJSON *j, *ports;
	int i;

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	target(&t, fault, "/okreuse", "sts", &good);
	t.ctx = &ctx;
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	for (i = 0; i < 3; i++) {
		assert_int_equal(cx_aws_query(&t, &q, &x, &e), 0);
		cx_xml_free(x);
		x = NULL;
	}
	assert_non_null(ctx.http);	/* made on first use, owned by ctx */
	j = seen("okreuse");
	ports = cJSON_GetObjectItem(j, "ports");
	assert_int_equal(cJSON_GetArraySize(ports), 3);
	assert_int_equal(cJSON_GetArrayItem(ports, 0)->valueint,
	    cJSON_GetArrayItem(ports, 2)->valueint);
	cJSON_Delete(j);
	cx_http_free(ctx.http);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

/* http_proxy from the environment is used (libcurl's own handling). */
static void
test_proxy_env(void **state)
{
	struct cx_aws_error e = { 0 };
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	cJSON *j;

	(void)state;
	setenv("http_proxy", fault, 1);
	target(&t, "http://sts.example.invalid", "/proxied", "sts", &good);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	/* the fault server, as proxy, answers 404 NoSuchScenario */
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_NOTFOUND);
	assert_string_equal(e.code, "NoSuchScenario");
	unsetenv("http_proxy");
	j = seen("proxied");
	assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 1);
	assert_true(cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "proxied"), 0)));
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "hosts"), 0)->valuestring, "sts.example.invalid");
	cJSON_Delete(j);
	cx_aws_error_clean_up(&e);
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
}

/* An unusable AWS_CA_BUNDLE is a configuration error, not retried. */
static void
test_bad_ca_bundle(void **state)
{
	struct cx_aws_error e = { 0 };
	struct cx_aws_target t;
	struct cx_query q;
	struct cx_xml *x = NULL;
	struct cx_buf url;

	(void)state;
	cx_buf_init(&url, 0);
	/* https to the (plain) fault server: TLS never gets that far */
	assert_int_equal(cx_buf_printf(&url, "https%s", fault + 4), 0);
	setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
	target(&t, cx_buf_str(&url), "", "sts", &good);
	cx_query_init(&q, "GetCallerIdentity", "2011-06-15");
	assert_int_equal(cx_aws_query(&t, &q, &x, &e), CX_ERR_CONFIG);
	unsetenv("AWS_CA_BUNDLE");
	cx_query_clean_up(&q);
	cx_aws_target_clean_up(&t);
	cx_buf_clean_up(&url);
}

/* Four calls in one batch through one client: each answer or error as the
 * single call gives it (a 503 retried on its own, AccessDenied not), each
 * signed; then a single call reuses a connection the batch opened. */
static void
test_batch(void **state)
{
	static const char *const paths[4] = {
		"/okbatch", "/okbatchj", "/s503x2", "/denied"
	};
	struct cx_aws_ctx ctx, other;
	struct cx_aws_target t[4];
	struct cx_aws_call c[4];
	struct cx_query q[3];
	struct cx_http *h = NULL;
	struct cx_http_request rq = { 0 };
	struct cx_http_response rs;
	struct cx_aws_error e = { 0 };
	struct cx_xml *x = NULL;
	struct cx_buf url;
	cJSON *j, *ports;
	int i, k, port, found = 0, batch_ports[8], nb = 0;

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	memset(&other, 0, sizeof(other));
	memset(c, 0, sizeof(c));
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	for (i = 0; i < 4; i++) {
		target(&t[i], fault, paths[i], "sts", &good);
		t[i].ctx = &ctx;
		c[i].t = &t[i];
	}
	for (i = 0; i < 3; i++)
		cx_query_init(&q[i], "GetCallerIdentity", "2011-06-15");
	c[0].query = &q[0];
	c[1].amz_target = "AmazonSSM.DescribeInstanceInformation";
	c[2].query = &q[1];
	c[3].query = &q[2];
	/* one client for all: another context is refused */
	t[3].ctx = &other;
	assert_int_equal(cx_aws_batch(c, 4), CX_ERR_INPUT);
	t[3].ctx = &ctx;

	assert_int_equal(cx_aws_batch(c, 4), 0);
	assert_int_equal(c[0].r, 0);
	assert_string_equal(cx_xml_text(c[0].xml->root,
	    "GetCallerIdentityResult/Arn"),
	    "arn:aws:iam::123456789012:user/fault");
	assert_int_equal(c[1].r, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c[1].json, "Success")));
	assert_int_equal(c[2].r, 0);	/* 503, 503 (on its own), answer */
	assert_int_equal(seen_count("s503x2"), 3);
	assert_int_equal(c[3].r, CX_ERR_DENIED);
	assert_string_equal(c[3].err.code, "AccessDenied");
	assert_int_equal(seen_count("denied"), 1);
	/* each signed, the JSON one with its target */
	for (i = 0; i < 4; i++) {
		j = seen(paths[i] + 1);
		assert_true(cJSON_IsTrue(cJSON_GetArrayItem(
		    cJSON_GetObjectItem(j, "auth"), 0)));
		ports = cJSON_GetObjectItem(j, "ports");
		for (k = 0; k < cJSON_GetArraySize(ports) && nb < 8; k++)
			batch_ports[nb++] =
			    cJSON_GetArrayItem(ports, k)->valueint;
		if (i == 1)
			assert_string_equal(cJSON_GetArrayItem(
			    cJSON_GetObjectItem(j, "targets"), 0)->valuestring,
			    "AmazonSSM.DescribeInstanceInformation");
		cJSON_Delete(j);
	}
	/* a call after the batch finds a connection in the cache */
	assert_int_equal(cx_aws_query(&t[0], &q[0], &x, &e), 0);
	j = seen("okbatch");
	ports = cJSON_GetObjectItem(j, "ports");
	assert_int_equal(cJSON_GetArraySize(ports), 2);
	port = cJSON_GetArrayItem(ports, 1)->valueint;
	for (k = 0; k < nb; k++)
		found |= batch_ports[k] == port;
	assert_true(found);
	cJSON_Delete(j);

	cx_xml_free(x);
	for (i = 0; i < 4; i++) {
		cx_aws_call_clean_up(&c[i]);
		cx_aws_target_clean_up(&t[i]);
	}
	for (i = 0; i < 3; i++)
		cx_query_clean_up(&q[i]);
	cx_http_free(ctx.http);
	/* it runs first: the tests after it count from zero */
	cx_buf_init(&url, 0);
	assert_int_equal(cx_buf_printf(&url, "%s/_reset", fault), 0);
	assert_int_equal(cx_http_new(NULL, &h), 0);
	rq.method = "POST";
	rq.url = cx_buf_str(&url);
	assert_int_equal(cx_http_do(h, &rq, &rs), 0);
	cx_http_response_clean_up(&rs);
	cx_http_free(h);
	cx_buf_clean_up(&url);
}

int
main(void)
{
	const struct CMUnitTest moto_tests[] = {
		cmocka_unit_test(test_gci_user_arn),
		cmocka_unit_test(test_gci_wrong_secret),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_assume_role_token),
		cmocka_unit_test(test_ec2_describe),
		cmocka_unit_test(test_ec2_error),
		cmocka_unit_test(test_eic_send_key),
		cmocka_unit_test(test_ssm_json_error),
	};
	const struct CMUnitTest fault_tests[] = {
		cmocka_unit_test(test_batch),	/* first: it resets the counts */
		cmocka_unit_test(test_retry_503),
		cmocka_unit_test(test_retry_stops_at_max),
		cmocka_unit_test(test_retry_throttle_json),
		cmocka_unit_test(test_hang_times_out),
		cmocka_unit_test(test_no_retry_on_denied),
		cmocka_unit_test(test_html_500),
		cmocka_unit_test(test_error_shapes),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_unsigned_get),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_proxy_env),
		cmocka_unit_test(test_bad_ca_bundle),
	};
	int r = 0;

	moto = getenv("CX_TEST_MOTO_URL");
	fault = getenv("CX_TEST_FAULT_URL");
	region = getenv("CX_TEST_REGION");
	if (region == NULL)
		region = "us-east-1";
	if (moto == NULL || getenv("CX_TEST_AK") == NULL ||
	    getenv("CX_TEST_SK") == NULL) {
		printf("1..0 # SKIP CX_TEST_MOTO_URL/CX_TEST_AK/CX_TEST_SK not "
		    "set (run tests/bats/awscore.bats)\n");
		return 0;
	}
	if (getenv("CX_TEST_VERBOSE") != NULL)
		cx_log_set_verbosity(2);	/* like -vv */
	good.access_key_id = getenv("CX_TEST_AK");
	good.secret_access_key = getenv("CX_TEST_SK");
	bad.access_key_id = good.access_key_id;
	bad.secret_access_key = "not-the-secret";
	setenv("CX_AWS_MAX_BACKOFF_MS", "50", 0);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	r |= cmocka_run_group_tests_name("aws_live_moto", moto_tests, NULL,
	    NULL);
	if (fault != NULL)
		r |= cmocka_run_group_tests_name("aws_live_fault", fault_tests,
		    fault_reset, NULL);
	return r;
}
