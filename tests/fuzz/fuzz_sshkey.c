/* libFuzzer target: OpenSSH public key lines and wire blobs
 * (lib/ssh/sshkey.c).  Properties: a parsed key re-serialises to a line that
 * parses to the same blob and fingerprint. */
#include "fuzz.h"

#include "core/log.h"
#include "ssh/sshkey.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_sshkey k, k2;
	char *line = NULL;

	cx_log_set_verbosity(-2);
	memset(&k, 0, sizeof(k));
	memset(&k2, 0, sizeof(k2));
	if (cx_sshkey_parse((const char *)data, size, "fuzz", &k) == 0) {
		FZ_ASSERT(k.blob_len <= CX_SSHKEY_MAX_BLOB);
		(void)cx_sshkey_check_eic(&k, "fuzz");
		(void)cx_sshkey_matches(&k, "SHA256:x");
		FZ_ASSERT(cx_sshkey_to_line(&k, 1, &line) == 0);
		FZ_ASSERT(cx_sshkey_parse(line, strlen(line), "again",
		    &k2) == 0);
		FZ_ASSERT(k2.blob_len == k.blob_len &&
		    memcmp(k2.blob, k.blob, k.blob_len) == 0);
		FZ_ASSERT(strcmp(k.fingerprint, k2.fingerprint) == 0);
		free(line);
		cx_sshkey_clean_up(&k2);
	}
	cx_sshkey_clean_up(&k);
	/* the same bytes as an agent's key blob */
	if (cx_sshkey_from_blob(data, size, "c", "agent key", &k) == 0)
		(void)cx_sshkey_check_eic(&k, "agent key");
	cx_sshkey_clean_up(&k);
	return 0;
}
