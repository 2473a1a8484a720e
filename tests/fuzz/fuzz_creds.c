/* libFuzzer target: credential_process output and cached credentials
 * (cx_creds_from_process_json in lib/aws/creds.c, which the cache and stage
 * readers share) and the ISO 8601 times in them (cx_parse_iso8601).
 * Property: accepted credentials written back and read again are the
 * same. */
#include <time.h>

#include "fuzz.h"

#include "aws/creds.h"
#include "aws/creds_int.h"
#include "core/log.h"
#include "core/os.h"

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_creds c, c2;
	cJSON *doc, *out;
	char *s;
	time_t t;

	cx_log_set_verbosity(-2);
	s = fz_strndup(data, size);
	(void)cx_parse_iso8601(s, &t);
	free(s);
	if ((doc = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return 0;
	if (cx_creds_from_process_json(doc, "fuzz", &c) == 0) {
		out = cJSON_CreateObject();
		FZ_ASSERT(out != NULL);
		FZ_ASSERT(cx_creds_to_process_json(&c, out) == 0);
		FZ_ASSERT(cx_creds_from_process_json(out, "again", &c2) == 0);
		FZ_ASSERT(same_str(c.access_key_id, c2.access_key_id));
		FZ_ASSERT(same_str(c.secret_access_key, c2.secret_access_key));
		FZ_ASSERT(same_str(c.session_token, c2.session_token));
		FZ_ASSERT(c.expiration == c2.expiration);
		cx_creds_clean_up(&c2);
		cx_json_delete_secure(out);
		cx_creds_clean_up(&c);
	}
	cx_json_delete_secure(doc);
	return 0;
}
