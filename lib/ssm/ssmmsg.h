/*
 * The SSM data channel's binary ClientMessage (ssm-data-channel.md §4-§6)
 * and the small JSON payloads that ride in it (acknowledge, handshake,
 * channel_closed, OpenDataChannel).
 *
 * Layout (big-endian): HeaderLength(4)=116, MessageType(32, space padded),
 * SchemaVersion(4), CreatedDate(8, ms), SequenceNumber(8), Flags(8),
 * MessageId(16, UUID halves swapped), PayloadDigest(32, SHA-256),
 * PayloadType(4), PayloadLength(4) at offset HL, payload at HL+4.
 *
 * Pure functions: no I/O, no logging of payloads.  Implemented in
 * lib/ssm/ssmmsg.c.
 */
#ifndef CX_SSMMSG_H
#define CX_SSMMSG_H

#include <stddef.h>
#include <stdint.h>

#define CX_SSMMSG_HL		116	/* HeaderLength we emit */
#define CX_SSMMSG_HDR		120	/* bytes before the payload we emit */
#define CX_SSMMSG_MIN_HL	112	/* MGS's channel_closed variant */
#define CX_SSMMSG_CHUNK		1024	/* stream payload size (§7) */

/* MessageType strings (§5.1). */
#define CX_SSM_INPUT		"input_stream_data"
#define CX_SSM_OUTPUT		"output_stream_data"
#define CX_SSM_ACK		"acknowledge"
#define CX_SSM_CLOSED		"channel_closed"
#define CX_SSM_PAUSE		"pause_publication"
#define CX_SSM_START		"start_publication"

/* PayloadType values (§5.2). */
enum cx_ssm_ptype {
	CX_SSM_PT_NONE = 0,
	CX_SSM_PT_OUTPUT = 1,
	CX_SSM_PT_ERROR = 2,
	CX_SSM_PT_SIZE = 3,
	CX_SSM_PT_PARAMETER = 4,
	CX_SSM_PT_HS_REQUEST = 5,
	CX_SSM_PT_HS_RESPONSE = 6,
	CX_SSM_PT_HS_COMPLETE = 7,
	CX_SSM_PT_ENC_REQUEST = 8,
	CX_SSM_PT_ENC_RESPONSE = 9,
	CX_SSM_PT_FLAG = 10,
	CX_SSM_PT_STDERR = 11,
	CX_SSM_PT_EXITCODE = 12
};

/* Flag payload values (§5.3). */
#define CX_SSM_FLAG_DISCONNECT	1
#define CX_SSM_FLAG_TERMINATE	2

/* Header flags (§4.4). */
#define CX_SSM_FLAGS_DATA	0
#define CX_SSM_FLAGS_ACK	3

/*
 * A decoded message.  payload points into the frame it was decoded from
 * (borrowed, valid as long as that frame).  id is in canonical (un-swapped)
 * byte order.
 */
struct cx_ssmmsg {
	uint32_t header_len;
	char type[33];			/* NUL/space-trimmed MessageType */
	uint32_t schema_version;
	uint64_t created_ms;
	int64_t seq;
	uint64_t flags;
	unsigned char id[16];
	unsigned char digest[32];
	uint32_t payload_type;		/* 0 when HL < 116 */
	uint32_t payload_len;
	const unsigned char *payload;
};

/*
 * Decodes frame[0..len) into *m (§4.3 rules 1-4): HL >= 112, the payload
 * located relative to HL and within the frame; bytes after the payload are
 * ignored.  Never reads outside the frame.  Returns 0 or CX_ERR_PROTOCOL
 * (truncated or lying header; nothing logged).  Does not check the digest.
 */
int cx_ssmmsg_decode(const void *frame, size_t len, struct cx_ssmmsg *m);

/*
 * §4.3 rule 5: MessageType non-empty, CreatedDate non-zero, and the SHA-256
 * of a non-empty payload equal to PayloadDigest.  Returns 1 if valid.
 */
int cx_ssmmsg_valid(const struct cx_ssmmsg *m);

/*
 * Encodes a message with HL 116 into out (cap bytes; needs 120 + plen).
 * The digest is computed here.  payload may already sit at out + 120 (no
 * copy then).  Returns the frame length, or 0 if it does not fit or type is
 * longer than 32 bytes.
 */
size_t cx_ssmmsg_encode(unsigned char *out, size_t cap, const char *type,
    uint64_t created_ms, int64_t seq, uint64_t flags,
    const unsigned char id[16], uint32_t payload_type,
    const void *payload, uint32_t plen);

/* UUID text <-> 16 canonical bytes.  parse returns 0 or CX_ERR_INPUT. */
int cx_uuid_parse(const char *s, unsigned char b[16]);
void cx_uuid_format(const unsigned char b[16], char out[37]);

/*
 * Writes the AcknowledgeContent JSON (§5.4, plugin key order) into out.
 * Returns its length, or 0 if it does not fit in cap (NUL included).
 */
size_t cx_ssm_ack_json(char *out, size_t cap, const char *acked_type,
    const unsigned char acked_id[16], int64_t acked_seq);

/*
 * Reads AcknowledgedMessageSequenceNumber from an acknowledge payload.
 * Returns 0 or CX_ERR_PROTOCOL.
 */
int cx_ssm_ack_parse(const void *p, size_t n, int64_t *seq);

/*
 * Answers a HandshakeRequest payload (§5.4): one ProcessedClientActions
 * entry per requested action; SessionType "Port" or "Standard_Stream" is a
 * success, any other session type fails (2) and any other action is
 * unsupported (3), each with an Error text.  The JSON is written to out;
 * *outlen gets its length.  *session_type (may be NULL) gets a malloc'd
 * copy of the session type, or NULL.  Returns 0, CX_ERR_PROTOCOL (not a
 * handshake request), CX_ERR_TOOBIG (answer over cap) or CX_ERR_NOMEM.
 * *all_ok is 1 if every action succeeded.
 */
int cx_ssm_handshake_answer(const void *req, size_t reqlen,
    const char *client_version, char *out, size_t cap, size_t *outlen,
    int *all_ok, char **session_type);

/*
 * Extracts a string field (CustomerMessage of HandshakeComplete, Output of
 * channel_closed) from a JSON payload into a malloc'd string (*out, NULL if
 * absent or the payload is not JSON).  Returns 0 or CX_ERR_NOMEM.
 */
int cx_ssm_json_field(const void *p, size_t n, const char *key, char **out);

/*
 * Builds the OpenDataChannel text (§3.1, all five keys in plugin order).
 * *out is malloc'd and holds the token: free it with cx_freezero_str().
 * Returns 0 or CX_ERR_NOMEM.
 */
int cx_ssm_open_json(const char *request_id, const char *token,
    const char *client_id, const char *client_version, char **out);

#endif
