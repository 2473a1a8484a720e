/*
 * OpenSSH public keys: parse a ".pub" line ("TYPE BASE64 [COMMENT]"),
 * check that the decoded blob really is a key of that type, compute the
 * SHA256 fingerprint exactly as `ssh-keygen -lf` prints it, and say
 * whether EC2 Instance Connect accepts the key.
 *
 * Nothing here ever logs key material from a file: a private key given
 * where a public key belongs is refused without echoing any of it.
 * Implemented in lib/ssh/sshkey.c.
 */
#ifndef CX_SSHKEY_H
#define CX_SSHKEY_H

#include <stddef.h>

/* Largest public key file we read (an RSA-16384 .pub is ~2.8 KiB). */
#define CX_SSHKEY_MAX_FILE	(16 * 1024)
/* Largest decoded key blob and comment we accept. */
#define CX_SSHKEY_MAX_BLOB	8192
#define CX_SSHKEY_MAX_COMMENT	1024
/* "SHA256:" + 43 base64 characters + NUL, rounded up. */
#define CX_SSHKEY_FP_LEN	64
/* EC2 Instance Connect limits: SSHPublicKey is 80 to 4096 characters. */
#define CX_SSHKEY_EIC_MAX_LINE	4096
#define CX_SSHKEY_EIC_MIN_RSA_BITS	2048

struct cx_sshkey {
	char *type;		/* "ssh-ed25519", "ssh-rsa", ... */
	unsigned char *blob;	/* decoded wire-format key */
	size_t blob_len;
	char *comment;		/* "" when the line has none */
	unsigned int bits;	/* key size as ssh-keygen reports it, or 0 */
	char fingerprint[CX_SSHKEY_FP_LEN];	/* "SHA256:..." */
};

/*
 * Parses one public key from text (the contents of a .pub file: blank
 * lines and '#' lines are skipped; exactly one key line is allowed).
 * what names the source in messages (a file name, "agent key").  k must be
 * zeroed; on success it owns its strings (cx_sshkey_clean_up).  Errors,
 * each logged as one line that names what: CX_ERR_INPUT (a private key,
 * malformed text, bad base64, blob type mismatch, several keys),
 * CX_ERR_TOOBIG, CX_ERR_NOMEM.
 */
int cx_sshkey_parse(const char *text, size_t len, const char *what,
    struct cx_sshkey *k);

/* Reads path (at most CX_SSHKEY_MAX_FILE bytes) and parses it as above.
 * A missing file is CX_ERR_NOTFOUND (logged). */
int cx_sshkey_load(const char *path, struct cx_sshkey *k);

/*
 * Builds a key from a wire-format blob (as an ssh-agent lists it) and a
 * comment (NULL: "").  The type comes from the blob.  Errors as for
 * cx_sshkey_parse().
 */
int cx_sshkey_from_blob(const unsigned char *blob, size_t len,
    const char *comment, const char *what, struct cx_sshkey *k);

/*
 * Checks that EC2 Instance Connect accepts k: ssh-ed25519, or ssh-rsa of
 * at least CX_SSHKEY_EIC_MIN_RSA_BITS bits.  Returns 0, or CX_ERR_INPUT
 * after logging why (ECDSA, sk- security keys, DSA, certificates, ...).
 */
int cx_sshkey_check_eic(const struct cx_sshkey *k, const char *what);

/*
 * The key as an authorized_keys line: "TYPE BASE64" plus " COMMENT" when
 * with_comment and the comment is printable ASCII.  *out is malloc'd
 * (caller frees).  Returns 0 or CX_ERR_NOMEM.
 */
int cx_sshkey_to_line(const struct cx_sshkey *k, int with_comment,
    char **out);

/* Writes "SHA256:" + unpadded base64 of SHA-256(blob) into out. */
int cx_sshkey_fingerprint(const unsigned char *blob, size_t len,
    char out[CX_SSHKEY_FP_LEN]);

/* Does selector name k?  A selector starting with "SHA256:" compares the
 * fingerprint; anything else must equal the comment exactly. */
int cx_sshkey_matches(const struct cx_sshkey *k, const char *selector);

/* Frees everything; the struct is left zeroed.  NULL is fine. */
void cx_sshkey_clean_up(struct cx_sshkey *k);

#endif
