/* Unit tests of the foundation: buffers, the OS layer, stage JSON I/O. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/os.h"
#include "core/stage.h"

static char tmpdir[] = "/tmp/cx-unit.XXXXXX";

static void
test_buf_limit(void **state)
{
	struct cx_buf b;

	(void)state;
	cx_buf_init(&b, 8);
	assert_int_equal(cx_buf_puts(&b, "12345678"), 0);
	assert_int_equal(cx_buf_putc(&b, '9'), CX_ERR_TOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(cx_buf_str(&b), "12345678");
	cx_buf_consume(&b, 3);
	assert_string_equal(cx_buf_str(&b), "45678");
	assert_int_equal(cx_buf_printf(&b, "%d", 12), 0);
	assert_string_equal(cx_buf_str(&b), "4567812");
	assert_int_equal(cx_buf_printf(&b, "%d", 123), CX_ERR_TOOBIG);
	cx_buf_clean_up(&b);
	assert_null(b.data);
}

static void
test_buf_secret_grows(void **state)
{
	struct cx_buf b;
	char chunk[1000];
	int i;

	(void)state;
	memset(chunk, 'k', sizeof(chunk));
	cx_buf_init(&b, 0);
	cx_buf_set_secret(&b);
	for (i = 0; i < 50; i++)
		assert_int_equal(cx_buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 50000);
	cx_buf_clean_up(&b);
}

static void
test_strtonum(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(cx_strtonum("22", 1, 65535, &v), 0);
	assert_int_equal(v, 22);
	assert_int_equal(cx_strtonum("0", 1, 65535, &v), CX_ERR_INPUT);
	assert_int_equal(cx_strtonum("22x", 1, 65535, &v), CX_ERR_INPUT);
	assert_int_equal(cx_strtonum("", 1, 65535, &v), CX_ERR_INPUT);
	assert_int_equal(cx_strtonum(" 1", 1, 65535, &v), CX_ERR_INPUT);
	assert_int_equal(cx_strtonum("99999999999999999999", 0, 10, &v),
	    CX_ERR_INPUT);
}

static void
test_iso8601(void **state)
{
	time_t t;
	char out[21];

	(void)state;
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05Z", &t), 0);
	assert_int_equal(t, 1735787045);
	cx_format_iso8601(t, out);
	assert_string_equal(out, "2025-01-02T03:04:05Z");
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05+00:00", &t), 0);
	assert_int_equal(t, 1735787045);
	assert_int_equal(cx_parse_iso8601("2025-01-02T04:04:05.123+01:00", &t), 0);
	assert_int_equal(t, 1735787045);
	assert_int_equal(cx_parse_iso8601("2025-01-02 03:04:05", &t), CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05Zjunk", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05-0130", &t), 0);
	assert_int_equal(t, 1735787045 + 5400);
	/* found by fuzz_creds: year 0 and an offset with trailing digits
	 * parsed, then could not be written back */
	assert_int_equal(cx_parse_iso8601("0-01-02T03:04:23+30120", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:23+30:00", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:23+01:0", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05-", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05+1", &t),
	    CX_ERR_INPUT);
	assert_int_equal(cx_parse_iso8601("2025-01-02T03:04:05+01", &t),
	    CX_ERR_INPUT);
}

static void
test_uuid(void **state)
{
	char u[37];

	(void)state;
	assert_int_equal(cx_uuid4(u), 0);
	assert_int_equal(strlen(u), 36);
	assert_true(u[14] == '4');
	assert_true(strchr("89ab", u[19]) != NULL);
}

static void
test_atomic_write_keeps_mode(void **state)
{
	char *path = NULL, *bak = NULL;
	struct cx_buf b;
	struct stat st;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "conf", &path), 0);
	assert_int_equal(cx_write_file_atomic(path, "one\n", 4, 0600, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(cx_write_file_atomic(path, "two\n", 4, 0600,
	    CX_ATOMIC_BACKUP), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	cx_buf_init(&b, 100);
	assert_int_equal(cx_read_file(path, 100, &b), 0);
	assert_string_equal(cx_buf_str(&b), "two\n");
	cx_buf_reset(&b);
	assert_true(cx_asprintf(&bak, "%s.bak", path) > 0);
	assert_int_equal(cx_read_file(bak, 100, &b), 0);
	assert_string_equal(cx_buf_str(&b), "one\n");
	cx_buf_reset(&b);
	assert_int_equal(cx_read_file(path, 3, &b), CX_ERR_TOOBIG);
	cx_buf_clean_up(&b);
	unlink(bak);
	unlink(path);
	free(bak);
	free(path);
}

static void
test_read_missing(void **state)
{
	struct cx_buf b;

	(void)state;
	cx_buf_init(&b, 100);
	assert_int_equal(cx_read_file("/nonexistent/x", 100, &b),
	    CX_ERR_NOTFOUND);
	cx_buf_clean_up(&b);
}

static void
test_mkdir_p_and_lock(void **state)
{
	char *dir = NULL;
	int fd, fd2;
	struct stat st;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "a/b/c", &dir), 0);
	assert_int_equal(cx_mkdir_p(dir, 0700), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(cx_lock(dir, 100, &fd), 0);
	/* a second open file description cannot take the lock */
	assert_int_equal(cx_lock(dir, 50, &fd2), CX_ERR_IO);
	cx_unlock(fd);
	assert_int_equal(cx_lock(dir, 50, &fd2), 0);
	cx_unlock(fd2);
	free(dir);
}

static void
test_atomic_write_secret(void **state)
{
	char *path = NULL;
	struct stat st;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "secret", &path), 0);
	assert_int_equal(cx_write_file_atomic(path, "one\n", 4, 0600, 0), 0);
	assert_int_equal(chmod(path, 0644), 0);
	/* the old mode is not kept for a secret: 0600 */
	assert_int_equal(cx_write_file_atomic(path, "two\n", 4, 0600,
	    CX_ATOMIC_SECRET), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* another user's file is never rewritten */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
		assert_int_equal(cx_write_file_atomic(path, "x\n", 2, 0600, 0),
		    CX_ERR_INPUT);
	}
	unlink(path);
	free(path);
}

static void
test_trust_rule(void **state)
{
	char *dir = NULL, *file = NULL, *link = NULL, why[160];
	struct cx_buf b;

	(void)state;
	cx_buf_init(&b, 100);
	assert_int_equal(cx_path_join(tmpdir, "trust", &dir), 0);
	assert_int_equal(cx_path_join(dir, "f", &file), 0);
	assert_int_equal(cx_path_join(dir, "l", &link), 0);
	assert_int_equal(cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why)),
	    CX_ERR_NOTFOUND);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why)),
	    0);
	assert_int_equal(cx_path_trusted(dir, CX_TRUST_FILE, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_string_equal(why, "not a regular file");
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_string_equal(why, "writable by others (mode 0777)");
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_string_equal(why, "writable by its group (mode 0770)");
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(cx_write_file_atomic(file, "k\n", 2, 0600, 0), 0);
	assert_int_equal(cx_read_file_trusted(file, 100, &b, why, sizeof(why)),
	    0);
	assert_string_equal(cx_buf_str(&b), "k\n");
	/* a symlink is not followed, even to a file of ours */
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(cx_read_file_trusted(link, 100, &b, why, sizeof(why)),
	    CX_ERR_DENIED);
	assert_string_equal(why, "a symbolic link");
	if (geteuid() == 0) {
		assert_int_equal(chown(file, 65534, (gid_t)-1), 0);
		assert_int_equal(cx_read_file_trusted(file, 100, &b, why,
		    sizeof(why)), CX_ERR_DENIED);
		assert_true(strncmp(why, "owned by ", 9) == 0);
	}
	cx_buf_clean_up(&b);
	unlink(link);
	unlink(file);
	rmdir(dir);
	free(dir);
	free(file);
	free(link);
}

static void
test_lock_in_state_folder(void **state)
{
	char *path = NULL, *lp = NULL, *beside = NULL, *locks = NULL;
	int fd;

	(void)state;
	assert_int_equal(cx_path_join(tmpdir, "guarded", &path), 0);
	assert_int_equal(cx_path_join(tmpdir, "cloudx-proxy/locks", &locks),
	    0);
	assert_true(cx_asprintf(&beside, "%s.lock", path) > 0);
	assert_int_equal(cx_lock_path(path, &lp), 0);
	/* <state>/cloudx-proxy/locks/guarded.<16 hex>.lock */
	assert_true(strncmp(lp, locks, strlen(locks)) == 0);
	assert_true(strncmp(lp + strlen(locks), "/guarded.", 9) == 0);
	assert_string_equal(lp + strlen(lp) - 5, ".lock");
	assert_int_equal(strlen(lp), strlen(locks) + 9 + 16 + 5);
	assert_int_equal(cx_lock(path, 100, &fd), 0);
	assert_int_equal(access(lp, F_OK), 0);
	assert_int_equal(access(beside, F_OK), -1);
	cx_unlock(fd);
	/* a symlink at the lock's place is refused, not followed */
	assert_int_equal(unlink(lp), 0);
	assert_int_equal(symlink(beside, lp), 0);
	assert_int_equal(cx_lock(path, 100, &fd), CX_ERR_INPUT);
	assert_int_equal(access(beside, F_OK), -1);
	unlink(lp);
	free(path);
	free(lp);
	free(beside);
	free(locks);
}

static int
stage_from_string(const char *s, cJSON **out)
{
	int p[2], r;

	if (pipe(p) == -1)
		return -100;
	if (write(p[1], s, strlen(s)) != (ssize_t)strlen(s))
		return -100;
	close(p[1]);
	r = cx_stage_read(p[0], out);
	close(p[0]);
	return r;
}

static void
test_stage_read(void **state)
{
	cJSON *doc = NULL;

	(void)state;
	assert_int_equal(stage_from_string("", &doc), 0);
	assert_true(cJSON_IsObject(doc));
	cx_json_delete_secure(doc);
	assert_int_equal(stage_from_string(" {\"A\":1,\"SecretAccessKey\":\"s\"}\n",
	    &doc), 0);
	assert_string_equal(cx_json_str(doc, "SecretAccessKey"), "s");
	assert_int_equal(cx_json_set_str(doc, "SecretAccessKey", "t"), 0);
	assert_string_equal(cx_json_str(doc, "SecretAccessKey"), "t");
	cx_json_delete_secure(doc);
	assert_int_equal(stage_from_string("{} junk", &doc), CX_ERR_INPUT);
	assert_null(doc);
	assert_int_equal(stage_from_string("[1]", &doc), CX_ERR_INPUT);
	assert_int_equal(stage_from_string("{\"a\":", &doc), CX_ERR_INPUT);
	assert_int_equal(stage_from_string("{}{}", &doc), CX_ERR_INPUT);
}

static void
test_stage_read_too_big(void **state)
{
	cJSON *doc = NULL;
	char *big;
	size_t n = CX_STAGE_MAX_INPUT + 10;
	int p[2];
	pid_t pid;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		(void)!write(p[1], big, n);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(cx_stage_read(p[0], &doc), CX_ERR_TOOBIG);
	close(p[0]);
	waitpid(pid, NULL, 0);
	free(big);
}

static void
test_run_captures(void **state)
{
	struct cx_buf out, err;
	char *argv_ok[] = { "sh", "-c", "cat; echo oops >&2; exit 3", NULL };
	char *argv_slow[] = { "sleep", "5", NULL };
	char *argv_none[] = { "cx-no-such-program-here", NULL };
	int status;

	(void)state;
	cx_buf_init(&out, 1000);
	cx_buf_init(&err, 1000);
	assert_int_equal(cx_run(argv_ok, "hello", 5, &out, &err, 5000,
	    &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_string_equal(cx_buf_str(&out), "hello");
	assert_string_equal(cx_buf_str(&err), "oops\n");
	assert_int_equal(cx_run(argv_slow, NULL, 0, &out, &err, 100, &status),
	    CX_ERR_TIMEOUT);
	assert_int_equal(cx_run(argv_none, NULL, 0, &out, NULL, 100, &status),
	    CX_ERR_NOTFOUND);
	cx_buf_clean_up(&out);
	cx_buf_clean_up(&err);
}

static void
test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(cx_exit_code(0), 0);
	assert_int_equal(cx_exit_code(CX_ERR_DENIED), CX_EXIT_DENIED);
	assert_int_equal(cx_exit_code(CX_ERR_USAGE), CX_EXIT_USAGE);
	assert_int_equal(cx_exit_code(CX_ERR_THROTTLED), CX_EXIT_TEMP);
	assert_int_equal(cx_exit_code(CX_ERR_LOGIN), CX_EXIT_LOGIN);
	assert_int_equal(cx_exit_code(CX_ERR_INTERNAL), CX_EXIT_INTERNAL);
	assert_string_equal(cx_strerror(CX_ERR_DEADLINE), "deadline passed");
	assert_string_equal(cx_strerror(-999), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_secret_grows),
		cmocka_unit_test(test_strtonum),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_atomic_write_keeps_mode),
		cmocka_unit_test(test_read_missing),
		cmocka_unit_test(test_mkdir_p_and_lock),
		cmocka_unit_test(test_atomic_write_secret),
		cmocka_unit_test(test_trust_rule),
		cmocka_unit_test(test_lock_in_state_folder),
		cmocka_unit_test(test_stage_read),
		cmocka_unit_test(test_stage_read_too_big),
		cmocka_unit_test(test_run_captures),
		cmocka_unit_test(test_exit_codes),
	};
	int r;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	/* cx_lock() puts its files in our state folder: never the real one */
	if (setenv("XDG_STATE_HOME", tmpdir, 1) != 0)
		return 1;
	r = cmocka_run_group_tests_name("foundation", tests, NULL, NULL);
	{
		char *rm[] = { "rm", "-rf", tmpdir, NULL };
		int st;
		(void)cx_run(rm, NULL, 0, NULL, NULL, 10000, &st);
	}
	return r;
}
