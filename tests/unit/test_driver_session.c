/* Unit tests of connect's session hand-over (cmd/cloudx-proxy/session.c): the
 * started session goes into the context handed to cx-tunnel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cloudx-proxy/driver.h"
#include "core/buf.h"
#include "core/cxerr.h"
#include "core/stage.h"

static void
set_session(struct cx_drv_session *ds)
{
	memset(ds, 0, sizeof(*ds));
	ds->sess.session_id = strdup("standin-0123456789abcdef0");
	ds->sess.token = strdup("tok-secret");
	ds->sess.stream_url = strdup("wss://ssmmessages.eu-west-1.amazonaws.com"
	    "/v1/data-channel/standin-0123456789abcdef0?role=publish_subscribe");
	assert_non_null(ds->sess.session_id);
	assert_non_null(ds->sess.token);
	assert_non_null(ds->sess.stream_url);
}

static cJSON *
parsed(const struct cx_buf *b)
{
	cJSON *doc = NULL;

	assert_int_equal(cx_stage_parse((const char *)b->data, b->len, &doc),
	    0);
	return doc;
}

static void
test_merge_adds_session_keeps_the_rest(void **state)
{
	struct cx_drv_session ds;
	struct cx_buf b;
	cJSON *doc, *s;

	(void)state;
	set_session(&ds);
	cx_buf_init(&b, 0);
	cx_buf_set_secret(&b);
	assert_int_equal(cx_buf_puts(&b, "{\"Version\":1,\"AccessKeyId\":"
	    "\"AKIAX\",\"Instance\":{\"InstanceId\":\"i-0123456789abcdef0\"},"
	    "\"KeyPush\":{\"OsUser\":\"ec2-user\"}}\n"), 0);
	assert_int_equal(cx_drv_session_merge(&ds, &b), 0);
	doc = parsed(&b);
	s = cJSON_GetObjectItemCaseSensitive(doc, "Session");
	assert_string_equal(cx_json_str(s, "SessionId"),
	    "standin-0123456789abcdef0");
	assert_string_equal(cx_json_str(s, "TokenValue"), "tok-secret");
	assert_non_null(strstr(cx_json_str(s, "StreamUrl"), "wss://"));
	assert_string_equal(cx_json_str(doc, "AccessKeyId"), "AKIAX");
	assert_string_equal(cx_json_str(cJSON_GetObjectItemCaseSensitive(doc,
	    "KeyPush"), "OsUser"), "ec2-user");
	cx_json_delete_secure(doc);
	cx_buf_clean_up(&b);
	cx_drv_session_clean_up(&ds);
	assert_null(ds.sess.token);
}

static void
test_merge_replaces_a_session(void **state)
{
	struct cx_drv_session ds;
	struct cx_buf b;
	cJSON *doc;

	(void)state;
	set_session(&ds);
	cx_buf_init(&b, 0);
	assert_int_equal(cx_buf_puts(&b, "{\"Session\":{\"SessionId\":\"old\","
	    "\"TokenValue\":\"t\",\"StreamUrl\":\"u\"}}"), 0);
	assert_int_equal(cx_drv_session_merge(&ds, &b), 0);
	doc = parsed(&b);
	assert_string_equal(cx_json_str(cJSON_GetObjectItemCaseSensitive(doc,
	    "Session"), "SessionId"), "standin-0123456789abcdef0");
	assert_null(strstr((const char *)b.data, "\"old\""));
	cx_json_delete_secure(doc);
	cx_buf_clean_up(&b);
	cx_drv_session_clean_up(&ds);
}

static void
test_merge_without_session_or_with_bad_json(void **state)
{
	struct cx_drv_session ds;
	struct cx_buf b;

	(void)state;
	memset(&ds, 0, sizeof(ds));
	cx_buf_init(&b, 0);
	assert_int_equal(cx_buf_puts(&b, "{\"Version\":1}"), 0);
	/* nothing started: the context is left as it is */
	assert_int_equal(cx_drv_session_merge(&ds, &b), 0);
	assert_string_equal(cx_buf_str(&b), "{\"Version\":1}");
	set_session(&ds);
	cx_buf_reset(&b);
	assert_int_equal(cx_buf_puts(&b, "[1,2]"), 0);
	assert_int_equal(cx_drv_session_merge(&ds, &b), CX_ERR_INPUT);
	/* ending a session that was never started calls nothing */
	cx_drv_session_end(&ds);
	cx_buf_clean_up(&b);
	cx_drv_session_clean_up(&ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_adds_session_keeps_the_rest),
		cmocka_unit_test(test_merge_replaces_a_session),
		cmocka_unit_test(test_merge_without_session_or_with_bad_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
