/* libFuzzer target: AWS error bodies (XML of the query and EC2 protocols,
 * JSON 1.1 __type/message), parsed by the static parse_error() of
 * lib/aws/aws.c, which this file includes to reach it.  Properties: the code,
 * message and request id are bounded and hold no control characters (they
 * end up in one-line messages on stderr). */
#include "fuzz.h"

#include "../../lib/aws/aws.c"

static void
clean(const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return;
	FZ_ASSERT(strlen(s) <= max);
	for (i = 0; s[i] != '\0'; i++)
		FZ_ASSERT((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_http_response rs;
	struct cx_aws_error e;
	char *hdr = NULL;
	size_t hl = 0;

	cx_log_set_verbosity(-2);
	memset(&rs, 0, sizeof(rs));
	memset(&e, 0, sizeof(e));
	cx_buf_init(&rs.body, 0);
	/* first byte: length of an x-amzn-query-error header taken from the
	 * front of the input (0: none); second: status class */
	if (size >= 2) {
		hl = data[0] % 64;
		rs.status = 400 + (data[1] % 200);
		data += 2;
		size -= 2;
		if (hl > size)
			hl = size;
		if (hl > 0) {
			hdr = fz_strndup(data, hl);
			rs.query_error = hdr;
		}
		data += hl;
		size -= hl;
	}
	if (cx_buf_append(&rs.body, data, size) != 0)
		abort();
	parse_error(&rs, &e);
	FZ_ASSERT(e.code != NULL);
	clean(e.code, 128);
	clean(e.message, AWS_MAX_MESSAGE);
	clean(e.request_id, 128);
	(void)cx_aws_error_class(e.code, e.http_status);
	cx_aws_error_clean_up(&e);
	cx_buf_clean_up(&rs.body);
	free(hdr);
	return 0;
}
