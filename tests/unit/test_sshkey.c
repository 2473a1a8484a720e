/*
 * lib/ssh/sshkey: parsing, fingerprints and the EC2 Instance Connect check,
 * against keys made by the real ssh-keygen (in a temporary folder) and
 * fingerprints printed by `ssh-keygen -lf`.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/os.h"
#include "ssh/sshkey.h"

static char tmpdir[] = "/tmp/cx-test-sshkey.XXXXXX";

/* Makes DIR/name with ssh-keygen; returns 0 or -1 (type unsupported). */
static int
keygen(const char *name, const char *type, const char *bits,
    const char *comment)
{
	char path[512];
	char *argv[] = { "ssh-keygen", "-q", "-t", (char *)type, "-N", "",
		"-C", (char *)comment, "-f", path, NULL, NULL, NULL };
	int status = 0;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (bits != NULL) {
		argv[10] = "-b";
		argv[11] = (char *)bits;
	}
	if (cx_run(argv, NULL, 0, NULL, NULL, 60000, &status) != 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* "BITS SHA256:... COMMENT (TYPE)" from ssh-keygen -lf DIR/name.pub */
static void
keygen_fp(const char *name, char *fp, size_t fplen, unsigned int *bits)
{
	char path[512];
	char *argv[] = { "ssh-keygen", "-l", "-E", "sha256", "-f", path,
		NULL };
	struct cx_buf out;
	const char *s, *sp;
	int status = 0;

	snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, name);
	cx_buf_init(&out, 4096);
	assert_int_equal(cx_run(argv, NULL, 0, &out, NULL, 60000, &status),
	    0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	s = cx_buf_str(&out);
	*bits = (unsigned int)strtoul(s, NULL, 10);
	s = strchr(s, ' ');
	assert_non_null(s);
	s++;
	sp = strchr(s, ' ');
	assert_non_null(sp);
	assert_true((size_t)(sp - s) < fplen);
	memcpy(fp, s, (size_t)(sp - s));
	fp[sp - s] = '\0';
	cx_buf_clean_up(&out);
}

static char *
slurp(const char *name)
{
	char path[512];
	struct cx_buf b;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	cx_buf_init(&b, 65536);
	assert_int_equal(cx_read_file(path, 65536, &b), 0);
	return cx_buf_steal_str(&b);
}

static int
setup_keys(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (keygen("ed", "ed25519", NULL, "alice@example") != 0 ||
	    keygen("rsa", "rsa", "2048", "rsa key with spaces") != 0 ||
	    keygen("rsa1k", "rsa", "1024", "small") != 0 ||
	    keygen("ec256", "ecdsa", "256", "ec") != 0 ||
	    keygen("ec384", "ecdsa", "384", "ec") != 0 ||
	    keygen("ec521", "ecdsa", "521", "ec") != 0)
		return -1;
	(void)keygen("dsa", "dsa", NULL, "dsa");	/* may be gone */
	return 0;
}

static int
teardown_keys(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };
	int status;

	(void)state;
	return cx_run(argv, NULL, 0, NULL, NULL, 10000, &status);
}

static void
check_against_keygen(const char *name, const char *type,
    const char *comment, int eic_ok)
{
	struct cx_sshkey k;
	char path[512], fp[128], *line, *text;
	unsigned int bits = 0;

	snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, name);
	if (access(path, R_OK) != 0) {
		/* ssh-keygen could not make this type here */
		return;
	}
	keygen_fp(name, fp, sizeof(fp), &bits);
	assert_int_equal(cx_sshkey_load(path, &k), 0);
	assert_string_equal(k.type, type);
	assert_string_equal(k.fingerprint, fp);
	assert_int_equal(k.bits, bits);
	assert_string_equal(k.comment, comment);
	assert_int_equal(cx_sshkey_check_eic(&k, "test") == 0, eic_ok);
	/* the line we would push is the file's line */
	assert_int_equal(cx_sshkey_to_line(&k, 1, &line), 0);
	snprintf(path, sizeof(path), "%s.pub", name);
	text = slurp(path);
	text[strcspn(text, "\n")] = '\0';
	assert_string_equal(line, text);
	free(line);
	free(text);
	cx_sshkey_clean_up(&k);
}

static void
test_ed25519(void **state)
{
	(void)state;
	check_against_keygen("ed", "ssh-ed25519", "alice@example", 1);
}

static void
test_rsa(void **state)
{
	(void)state;
	check_against_keygen("rsa", "ssh-rsa", "rsa key with spaces", 1);
	check_against_keygen("rsa1k", "ssh-rsa", "small", 0);
}

static void
test_ecdsa_refused(void **state)
{
	(void)state;
	check_against_keygen("ec256", "ecdsa-sha2-nistp256", "ec", 0);
	check_against_keygen("ec384", "ecdsa-sha2-nistp384", "ec", 0);
	check_against_keygen("ec521", "ecdsa-sha2-nistp521", "ec", 0);
}

static void
test_dsa_refused(void **state)
{
	(void)state;
	check_against_keygen("dsa", "ssh-dss", "dsa", 0);
}

/* Parses text, expecting failure code want. */
static void
expect_fail(const char *text, int want)
{
	struct cx_sshkey k;

	assert_int_equal(cx_sshkey_parse(text, strlen(text), "test", &k),
	    want);
	assert_null(k.type);
	assert_null(k.blob);
}

static void
test_malformed(void **state)
{
	char *ed = slurp("ed.pub"), buf[4096], *b64;

	(void)state;
	expect_fail("", CX_ERR_INPUT);
	expect_fail("\n# only a comment\n\n", CX_ERR_INPUT);
	expect_fail("ssh-ed25519", CX_ERR_INPUT);
	expect_fail("ssh-ed25519 !!!notbase64", CX_ERR_INPUT);
	expect_fail("ssh-ed25519 AAAA", CX_ERR_INPUT);
	expect_fail("from=\"x\" ssh-ed25519 AAAA", CX_ERR_INPUT);
	expect_fail("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", CX_ERR_INPUT);
	/* the type on the line must be the type in the blob */
	b64 = strchr(ed, ' ') + 1;
	snprintf(buf, sizeof(buf), "ssh-rsa %s", b64);
	expect_fail(buf, CX_ERR_INPUT);
	/* two keys in one file */
	snprintf(buf, sizeof(buf), "%s%s", ed, ed);
	expect_fail(buf, CX_ERR_INPUT);
	free(ed);
}

static void
put_string(unsigned char *b, size_t *off, const void *s, size_t n)
{
	b[(*off)++] = (unsigned char)(n >> 24);
	b[(*off)++] = (unsigned char)(n >> 16);
	b[(*off)++] = (unsigned char)(n >> 8);
	b[(*off)++] = (unsigned char)n;
	memcpy(b + *off, s, n);
	*off += n;
}

static void
test_blob_checks(void **state)
{
	struct cx_sshkey k, k2;
	unsigned char b[256], pk[32];
	size_t n = 0;
	char *path;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "ed.pub", &path), 0);
	assert_int_equal(cx_sshkey_load(path, &k), 0);
	free(path);
	/* the agent path: same fingerprint from the bare blob */
	assert_int_equal(cx_sshkey_from_blob(k.blob, k.blob_len, "c", "t",
	    &k2), 0);
	assert_string_equal(k2.fingerprint, k.fingerprint);
	assert_string_equal(k2.comment, "c");
	cx_sshkey_clean_up(&k2);
	/* one byte too many after the key */
	memcpy(b, k.blob, k.blob_len);
	b[k.blob_len] = 0;
	assert_int_equal(cx_sshkey_from_blob(b, k.blob_len + 1, NULL, "t",
	    &k2), CX_ERR_INPUT);
	/* truncated */
	assert_int_equal(cx_sshkey_from_blob(b, k.blob_len - 1, NULL, "t",
	    &k2), CX_ERR_INPUT);
	cx_sshkey_clean_up(&k);
	/* a security key (sk-ssh-ed25519): parsed, but EIC refuses it */
	memset(pk, 7, sizeof(pk));
	put_string(b, &n, "sk-ssh-ed25519@openssh.com", 26);
	put_string(b, &n, pk, sizeof(pk));
	put_string(b, &n, "ssh:", 4);
	assert_int_equal(cx_sshkey_from_blob(b, n, "yubi", "t", &k), 0);
	assert_string_equal(k.type, "sk-ssh-ed25519@openssh.com");
	assert_int_equal(k.bits, 256);
	assert_int_equal(cx_sshkey_check_eic(&k, "t"), CX_ERR_INPUT);
	cx_sshkey_clean_up(&k);
	/* a certificate type: not inspected, refused by EIC */
	n = 0;
	put_string(b, &n, "ssh-ed25519-cert-v01@openssh.com", 32);
	put_string(b, &n, pk, sizeof(pk));
	assert_int_equal(cx_sshkey_from_blob(b, n, NULL, "t", &k), 0);
	assert_int_equal(cx_sshkey_check_eic(&k, "t"), CX_ERR_INPUT);
	cx_sshkey_clean_up(&k);
	/* ed25519 with a 31-byte key */
	n = 0;
	put_string(b, &n, "ssh-ed25519", 11);
	put_string(b, &n, pk, 31);
	assert_int_equal(cx_sshkey_from_blob(b, n, NULL, "t", &k),
	    CX_ERR_INPUT);
}

static void
test_skips_comments_and_crlf(void **state)
{
	struct cx_sshkey k, want;
	char *ed = slurp("ed.pub"), buf[4096], *path;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "ed.pub", &path), 0);
	assert_int_equal(cx_sshkey_load(path, &want), 0);
	free(path);
	ed[strcspn(ed, "\n")] = '\0';
	snprintf(buf, sizeof(buf), "# my key\n\n  %s  \r\n\n", ed);
	assert_int_equal(cx_sshkey_parse(buf, strlen(buf), "t", &k), 0);
	assert_string_equal(k.fingerprint, want.fingerprint);
	assert_string_equal(k.comment, "alice@example");
	cx_sshkey_clean_up(&k);
	cx_sshkey_clean_up(&want);
	free(ed);
}

/* A private key given as public: refused, and none of it on stderr. */
static void
test_private_key_not_echoed(void **state)
{
	struct cx_sshkey k;
	char *priv = slurp("ed"), *err, *line, *save = NULL, errpath[512];
	int fd, saved;

	(void)state;
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	assert_int_equal(cx_sshkey_parse(priv, strlen(priv), "'ed'", &k),
	    CX_ERR_INPUT);
	/* the base64 body alone, without the BEGIN line */
	line = strchr(priv, '\n') + 1;
	assert_int_equal(cx_sshkey_parse(line, strlen(line), "'ed'", &k),
	    CX_ERR_INPUT);
	dup2(saved, 2);
	close(saved);
	err = slurp("stderr");
	assert_non_null(strstr(err, "private key"));
	for (line = strtok_r(priv, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "-----", 5) == 0)
			continue;
		/* no 12-character piece of any line shows up */
		char piece[13];
		size_t i;
		for (i = 0; i + 12 <= strlen(line); i += 6) {
			memcpy(piece, line + i, 12);
			piece[12] = '\0';
			assert_null(strstr(err, piece));
		}
	}
	free(err);
	free(priv);
}

static void
test_matches(void **state)
{
	struct cx_sshkey k;
	char *path;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "rsa.pub", &path), 0);
	assert_int_equal(cx_sshkey_load(path, &k), 0);
	free(path);
	assert_true(cx_sshkey_matches(&k, k.fingerprint));
	assert_true(cx_sshkey_matches(&k, "rsa key with spaces"));
	assert_false(cx_sshkey_matches(&k, "rsa key"));
	assert_false(cx_sshkey_matches(&k, "SHA256:nope"));
	cx_sshkey_clean_up(&k);
	assert_int_equal(cx_path_join(tmpdir, "missing.pub", &path), 0);
	assert_int_equal(cx_sshkey_load(path, &k), CX_ERR_NOTFOUND);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_ecdsa_refused),
		cmocka_unit_test(test_dsa_refused),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_blob_checks),
		cmocka_unit_test(test_skips_comments_and_crlf),
		cmocka_unit_test(test_private_key_not_echoed),
		cmocka_unit_test(test_matches),
	};

	return cmocka_run_group_tests_name("sshkey", tests, setup_keys,
	    teardown_keys);
}
