/* ClientMessage codec: the worked examples of ssm-data-channel.md §6 byte
 * for byte, and a decoder that rejects truncated or lying headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "ssm/ssmmsg.h"

static const unsigned char ex61[125] = {
	0x00, 0x00, 0x00, 0x74, 0x69, 0x6e, 0x70, 0x75,
	0x74, 0x5f, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d,
	0x5f, 0x64, 0x61, 0x74, 0x61, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01,
	0x3f, 0x25, 0x04, 0xe0, 0x4f, 0x89, 0x41, 0xd3,
	0x2c, 0xf2, 0x4d, 0xba, 0x5f, 0xb0, 0xa3, 0x0e,
	0x26, 0xe8, 0x3b, 0x2a, 0xc5, 0xb9, 0xe2, 0x9e,
	0x1b, 0x16, 0x1e, 0x5c, 0x1f, 0xa7, 0x42, 0x5e,
	0x73, 0x04, 0x33, 0x62, 0x93, 0x8b, 0x98, 0x24,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,
	0x68, 0x65, 0x6c, 0x6c, 0x6f
};

#define DATE	1700000000000ULL

static void
uuid(const char *s, unsigned char b[16])
{
	assert_int_equal(cx_uuid_parse(s, b), 0);
}

static void
test_encode_61(void **state)
{
	unsigned char id[16], out[256];
	size_t n;

	(void)state;
	uuid("3f2504e0-4f89-41d3-9a0c-0305e82c3301", id);
	n = cx_ssmmsg_encode(out, sizeof(out), CX_SSM_INPUT, DATE, 5, 0, id,
	    CX_SSM_PT_OUTPUT, "hello", 5);
	assert_int_equal(n, 125);
	assert_memory_equal(out, ex61, 125);
	/* the payload may already sit in place */
	memset(out, 0, sizeof(out));
	memcpy(out + CX_SSMMSG_HDR, "hello", 5);
	n = cx_ssmmsg_encode(out, sizeof(out), CX_SSM_INPUT, DATE, 5, 0, id,
	    CX_SSM_PT_OUTPUT, out + CX_SSMMSG_HDR, 5);
	assert_int_equal(n, 125);
	assert_memory_equal(out, ex61, 125);
	/* too small a buffer */
	assert_int_equal(cx_ssmmsg_encode(out, 124, CX_SSM_INPUT, DATE, 5, 0,
	    id, 1, "hello", 5), 0);
}

static void
test_decode_61(void **state)
{
	struct cx_ssmmsg m;
	char s[37];

	(void)state;
	assert_int_equal(cx_ssmmsg_decode(ex61, sizeof(ex61), &m), 0);
	assert_int_equal(m.header_len, 116);
	assert_string_equal(m.type, "input_stream_data");
	assert_int_equal(m.schema_version, 1);
	assert_true(m.created_ms == DATE);
	assert_int_equal(m.seq, 5);
	assert_int_equal(m.flags, 0);
	cx_uuid_format(m.id, s);
	assert_string_equal(s, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	assert_int_equal(m.payload_type, 1);
	assert_int_equal(m.payload_len, 5);
	assert_memory_equal(m.payload, "hello", 5);
	assert_true(cx_ssmmsg_valid(&m));
}

static void
test_ack_62(void **state)
{
	static const unsigned char idwire[16] = {
		0x8d, 0xdd, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
		0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0x4c, 0xcc
	};
	static const char json[] = "{\"AcknowledgedMessageType\":"
	    "\"output_stream_data\",\"AcknowledgedMessageId\":"
	    "\"11111111-2222-4333-8444-555555555555\","
	    "\"AcknowledgedMessageSequenceNumber\":7,"
	    "\"IsSequentialMessage\":true}";
	unsigned char id[16], acked[16], out[512];
	char p[256];
	size_t pl, n;
	struct cx_ssmmsg m;
	int64_t seq;

	(void)state;
	uuid("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", id);
	uuid("11111111-2222-4333-8444-555555555555", acked);
	pl = cx_ssm_ack_json(p, sizeof(p), CX_SSM_OUTPUT, acked, 7);
	assert_int_equal(pl, 176);
	assert_string_equal(p, json);
	n = cx_ssmmsg_encode(out, sizeof(out), CX_SSM_ACK, DATE, 0,
	    CX_SSM_FLAGS_ACK, id, CX_SSM_PT_NONE, p, (uint32_t)pl);
	assert_int_equal(n, 296);
	assert_memory_equal(out, "\x00\x00\x00\x74" "acknowledge"
	    "                     ", 36);
	assert_memory_equal(out + 48, "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\3",
	    16);
	assert_memory_equal(out + 64, idwire, 16);
	assert_memory_equal(out + 112, "\0\0\0\0\0\0\0\xb0", 8);
	assert_memory_equal(out + 120, json, 176);
	assert_int_equal(cx_ssmmsg_decode(out, n, &m), 0);
	assert_true(cx_ssmmsg_valid(&m));
	assert_int_equal(cx_ssm_ack_parse(m.payload, m.payload_len, &seq), 0);
	assert_int_equal(seq, 7);
	/* a cap too small for the JSON */
	assert_int_equal(cx_ssm_ack_json(p, 176, CX_SSM_OUTPUT, acked, 7), 0);
	assert_int_equal(cx_ssm_ack_parse("{}", 2, &seq), CX_ERR_PROTOCOL);
	assert_int_equal(cx_ssm_ack_parse("{\"Acknowledged", 14, &seq),
	    CX_ERR_PROTOCOL);
}

/* The acks peers send, in and out of the exact form the fast path reads. */
static void
test_ack_parse_forms(void **state)
{
#define K1 "{\"AcknowledgedMessageType\":\"input_stream_data\","
#define K2 "\"AcknowledgedMessageId\":\"11111111-2222-4333-8444-555555555555\","
#define K3 "\"AcknowledgedMessageSequenceNumber\":"
#define K4 ",\"IsSequentialMessage\":true}"
	static const struct {
		const char *json;
		int r;
		int64_t seq;
	} c[] = {
		{ K1 K2 K3 "0" K4, 0, 0 },
		{ K1 K2 K3 "123456789012345" K4, 0, 123456789012345LL },
		/* other key orders, blanks, false, more digits: cJSON */
		{ "{\"AcknowledgedMessageSequenceNumber\":42}", 0, 42 },
		{ K1 K2 K3 " 9" K4, 0, 9 },
		{ K1 K2 K3 "9,\"IsSequentialMessage\":false}", 0, 9 },
		{ K1 K2 K3 "1234567890123456" K4, 0, 1234567890123456LL },
		{ K1 K2 K3 "1e3" K4, 0, 1000 },
		/* not the fast path's form, but cJSON is lenient: a leading
		 * zero, bytes after the object */
		{ K1 K2 K3 "01" K4, 0, 1 },
		{ K1 K2 K3 "7" K4 "x", 0, 7 },
		/* not a usable number: refused either way */
		{ K1 K2 K3 "-1" K4, CX_ERR_PROTOCOL, -1 },
		{ K1 K2 K3 "\"7\"" K4, CX_ERR_PROTOCOL, -1 },
		{ K1 K2 K3 K4, CX_ERR_PROTOCOL, -1 },
	};
	size_t i;
	int64_t seq;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(cx_ssm_ack_parse(c[i].json,
		    strlen(c[i].json), &seq), c[i].r);
		assert_int_equal(seq, c[i].seq);
	}
#undef K1
#undef K2
#undef K3
#undef K4
}

static void
test_flag_63(void **state)
{
	static const unsigned char dig[32] = {
		0x43, 0x3e, 0xbf, 0x5b, 0xc0, 0x3d, 0xff, 0xa3,
		0x85, 0x36, 0x67, 0x32, 0x07, 0xa2, 0x12, 0x81,
		0x61, 0x2c, 0xef, 0x5f, 0xaa, 0x9b, 0xc7, 0xa4,
		0xd5, 0xb9, 0xbe, 0x2f, 0xdb, 0x12, 0xcf, 0x1a
	};
	unsigned char id[16], out[256];
	size_t n;

	(void)state;
	uuid("3f2504e0-4f89-41d3-9a0c-0305e82c3301", id);
	n = cx_ssmmsg_encode(out, sizeof(out), CX_SSM_INPUT, DATE, 9, 0, id,
	    CX_SSM_PT_FLAG, "\0\0\0\2", 4);
	assert_int_equal(n, 124);
	assert_memory_equal(out, ex61, 48);
	assert_memory_equal(out + 48, "\0\0\0\0\0\0\0\x09", 8);
	assert_memory_equal(out + 64, ex61 + 64, 16);
	assert_memory_equal(out + 80, dig, 32);
	assert_memory_equal(out + 112, "\0\0\0\x0a\0\0\0\x04\0\0\0\x02", 12);
}

static void
test_uuid_swap(void **state)
{
	static const unsigned char want[16] = {
		0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01,
		0x3f, 0x25, 0x04, 0xe0, 0x4f, 0x89, 0x41, 0xd3
	};
	unsigned char id[16], out[128];
	char s[37];

	(void)state;
	uuid("3F2504E0-4F89-41D3-9A0C-0305E82C3301", id);
	cx_uuid_format(id, s);
	assert_string_equal(s, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	cx_ssmmsg_encode(out, sizeof(out), "x", 1, 0, 0, id, 0, NULL, 0);
	assert_memory_equal(out + 64, want, 16);
	assert_int_equal(cx_uuid_parse("3f2504e0-4f89-41d3-9a0c-0305e82c330",
	    id), CX_ERR_INPUT);
	assert_int_equal(cx_uuid_parse("3f2504e0x4f89-41d3-9a0c-0305e82c3301",
	    id), CX_ERR_INPUT);
	assert_int_equal(cx_uuid_parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301x",
	    id), CX_ERR_INPUT);
	assert_int_equal(cx_uuid_parse("3g2504e0-4f89-41d3-9a0c-0305e82c3301",
	    id), CX_ERR_INPUT);
}

/* MGS's channel_closed: HL 112, no PayloadType, NUL-padded type. */
static void
test_decode_hl112(void **state)
{
	static const char js[] = "{\"Output\":\"bye\"}";
	unsigned char f[112 + 4 + sizeof(js) - 1];
	struct cx_ssmmsg m;
	char *o;

	(void)state;
	memset(f, 0, sizeof(f));
	f[3] = 112;
	memcpy(f + 4, "channel_closed", 14);
	f[39] = 1;
	f[47] = 1;
	f[115] = sizeof(js) - 1;
	memcpy(f + 116, js, sizeof(js) - 1);
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(f), &m), 0);
	assert_string_equal(m.type, "channel_closed");
	assert_int_equal(m.payload_type, 0);
	assert_int_equal(m.payload_len, sizeof(js) - 1);
	assert_ptr_equal(m.payload, f + 116);
	/* the digest is zero: invalid as a message, still decodable */
	assert_false(cx_ssmmsg_valid(&m));
	assert_int_equal(cx_ssm_json_field(m.payload, m.payload_len, "Output",
	    &o), 0);
	assert_string_equal(o, "bye");
	free(o);
}

static void
test_decode_adversarial(void **state)
{
	unsigned char f[256], *h;
	struct cx_ssmmsg m;
	size_t i;

	(void)state;
	memcpy(f, ex61, sizeof(ex61));
	/* every truncation is rejected */
	for (i = 0; i < sizeof(ex61); i++) {
		h = malloc(i ? i : 1);
		memcpy(h, ex61, i);
		assert_int_equal(cx_ssmmsg_decode(h, i, &m), CX_ERR_PROTOCOL);
		free(h);
	}
	/* trailing bytes after the payload are ignored */
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61) + 3, &m), 0);
	assert_int_equal(m.payload_len, 5);
	/* HL below 112 */
	f[3] = 111;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m),
	    CX_ERR_PROTOCOL);
	/* HL pointing past the frame, or huge */
	f[3] = 122;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m),
	    CX_ERR_PROTOCOL);
	f[0] = 0xff;
	f[3] = 0xff;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m),
	    CX_ERR_PROTOCOL);
	f[0] = 0;
	f[3] = 0x74;
	/* PayloadLength lying, including wrap-around values */
	f[119] = 6;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m),
	    CX_ERR_PROTOCOL);
	f[116] = 0xff;
	f[117] = 0xff;
	f[118] = 0xff;
	f[119] = 0xff;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m),
	    CX_ERR_PROTOCOL);
	memcpy(f, ex61, sizeof(ex61));
	/* a corrupted payload fails the digest check */
	f[122] ^= 1;
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m), 0);
	assert_false(cx_ssmmsg_valid(&m));
	f[122] ^= 1;
	/* empty type or zero date are invalid */
	memset(f + 4, ' ', 32);
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m), 0);
	assert_false(cx_ssmmsg_valid(&m));
	memcpy(f, ex61, sizeof(ex61));
	memset(f + 40, 0, 8);
	assert_int_equal(cx_ssmmsg_decode(f, sizeof(ex61), &m), 0);
	assert_false(cx_ssmmsg_valid(&m));
}

static void
test_handshake(void **state)
{
	static const char req[] = "{\"AgentVersion\":\"3.3.987.0\","
	    "\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
	    "\"ActionParameters\":{\"SessionType\":\"Port\",\"Properties\":"
	    "{\"portNumber\":\"22\"}}}]}";
	static const char want[] = "{\"ClientVersion\":\"1.2.0.0\","
	    "\"ProcessedClientActions\":[{\"ActionType\":\"SessionType\","
	    "\"ActionStatus\":1,\"ActionResult\":null,\"Error\":\"\"}],"
	    "\"Errors\":null}";
	static const char req2[] = "{\"RequestedClientActions\":["
	    "{\"ActionType\":\"KMSEncryption\",\"ActionParameters\":{}},"
	    "{\"ActionType\":\"SessionType\",\"ActionParameters\":"
	    "{\"SessionType\":\"Port\"}}]}";
	char out[1024], *st = NULL;
	size_t n;
	int ok;

	(void)state;
	assert_int_equal(cx_ssm_handshake_answer(req, sizeof(req) - 1,
	    "1.2.0.0", out, sizeof(out), &n, &ok, &st), 0);
	assert_string_equal(out, want);
	assert_int_equal(n, 145);
	assert_true(ok);
	assert_string_equal(st, "Port");
	free(st);
	assert_int_equal(cx_ssm_handshake_answer(req2, sizeof(req2) - 1,
	    "1.2.0.0", out, sizeof(out), &n, &ok, NULL), 0);
	assert_false(ok);
	assert_non_null(strstr(out, "{\"ActionType\":\"KMSEncryption\","
	    "\"ActionStatus\":3,\"ActionResult\":null,\"Error\":"
	    "\"unsupported action\"}"));
	assert_int_equal(cx_ssm_handshake_answer(req, sizeof(req) - 1,
	    "1.2.0.0", out, 100, &n, &ok, NULL), CX_ERR_TOOBIG);
	assert_int_equal(cx_ssm_handshake_answer("[]", 2, "1", out,
	    sizeof(out), &n, &ok, NULL), CX_ERR_PROTOCOL);
	assert_int_equal(cx_ssm_handshake_answer("{", 1, "1", out,
	    sizeof(out), &n, &ok, NULL), CX_ERR_PROTOCOL);
}

static void
test_open_json(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(cx_ssm_open_json("f1a1264c-ad47-432d-adaa-bee770012ef5",
	    "tok-abc", "43d37357-72a5-41dc-9435-823e2f5cb1ac", "1.2.0.0", &s),
	    0);
	assert_string_equal(s, "{\"MessageSchemaVersion\":\"1.0\","
	    "\"RequestId\":\"f1a1264c-ad47-432d-adaa-bee770012ef5\","
	    "\"TokenValue\":\"tok-abc\","
	    "\"ClientId\":\"43d37357-72a5-41dc-9435-823e2f5cb1ac\","
	    "\"ClientVersion\":\"1.2.0.0\"}");
	assert_int_equal(strlen(s), 180);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_61),
		cmocka_unit_test(test_decode_61),
		cmocka_unit_test(test_ack_62),
		cmocka_unit_test(test_ack_parse_forms),
		cmocka_unit_test(test_flag_63),
		cmocka_unit_test(test_uuid_swap),
		cmocka_unit_test(test_decode_hl112),
		cmocka_unit_test(test_decode_adversarial),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_open_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
