/* libFuzzer target: the SSM data-channel ClientMessage decoder and the
 * JSON payload readers (lib/ssm/ssmmsg.c).  Properties: the decoded payload
 * lies inside the frame; a decoded message re-encodes to a frame that
 * decodes to the same fields. */
#include "fuzz.h"

#include "core/cxerr.h"
#include "ssm/ssmmsg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ssmmsg m, m2;
	unsigned char *f;
	char out[4096], *st = NULL, *field = NULL;
	size_t n, outlen;
	int64_t seq;
	int ok;

	if (cx_ssmmsg_decode(data, size, &m) == 0) {
		FZ_ASSERT(m.header_len >= CX_SSMMSG_MIN_HL);
		FZ_ASSERT(m.payload >= data &&
		    m.payload + m.payload_len <= data + size);
		FZ_ASSERT(strlen(m.type) <= 32);
		(void)cx_ssmmsg_valid(&m);
		if (strlen(m.type) > 0 && m.payload_len < 65536) {
			f = malloc(CX_SSMMSG_HDR + m.payload_len);
			FZ_ASSERT(f != NULL);
			n = cx_ssmmsg_encode(f, CX_SSMMSG_HDR + m.payload_len,
			    m.type, m.created_ms, m.seq, m.flags, m.id,
			    m.payload_type, m.payload, m.payload_len);
			FZ_ASSERT(n == CX_SSMMSG_HDR + m.payload_len);
			FZ_ASSERT(cx_ssmmsg_decode(f, n, &m2) == 0);
			FZ_ASSERT(strncmp(m.type, m2.type,
			    strlen(m2.type)) == 0);
			FZ_ASSERT(strspn(m.type + strlen(m2.type),
			    " \t\r\n") ==
			    strlen(m.type + strlen(m2.type)));
			FZ_ASSERT(m.seq == m2.seq && m.flags == m2.flags);
			FZ_ASSERT(memcmp(m.id, m2.id, 16) == 0);
			FZ_ASSERT(m2.payload_len == m.payload_len);
			FZ_ASSERT(m.payload_len == 0 || memcmp(m.payload,
			    m2.payload, m.payload_len) == 0);
			if (m.created_ms != 0)
				FZ_ASSERT(cx_ssmmsg_valid(&m2));
			free(f);
		}
	}
	/* the same bytes as the JSON payloads that ride in messages */
	(void)cx_ssm_ack_parse(data, size, &seq);
	if (cx_ssm_handshake_answer(data, size, "1.2.0.0", out, sizeof(out),
	    &outlen, &ok, &st) == 0) {
		FZ_ASSERT(outlen < sizeof(out));
		free(st);
	} else
		FZ_ASSERT(st == NULL);
	if (cx_ssm_json_field(data, size, "Output", &field) == 0)
		free(field);
	return 0;
}
