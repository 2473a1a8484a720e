/*
 * Unit tests of the OS layer's portability functions (os.h): each one
 * through the system's own call in `make`, through the fallback in
 * `make PORTABLE=1` (build-portable/config.h has every HAVE_X 0), so both
 * paths run on this machine.
 */
/* posix_openpt and ptsname (XSI), for a terminal to test with */
#define _XOPEN_SOURCE 600
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/cxerr.h"
#include "core/os.h"

static int
cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl != -1 && (fl & FD_CLOEXEC) != 0;
}

static void
test_probe_mode(void **state)
{
	(void)state;
	/* make PORTABLE=1 really takes every fallback; a plain build on
	 * glibc takes none (so both paths are the ones tested here) */
#if CX_FORCED_FALLBACKS
	assert_int_equal(HAVE_PIPE2 + HAVE_PPOLL + HAVE_EXPLICIT_BZERO +
	    HAVE_MEMSET_S + HAVE_MSG_NOSIGNAL + HAVE_SO_NOSIGPIPE +
	    HAVE_MEMFD_CREATE + HAVE_SOCK_CLOEXEC + HAVE_PRCTL +
	    HAVE_REALLOCARRAY + HAVE_ASPRINTF + HAVE_MEMMEM + HAVE_TIMEGM +
	    HAVE_MKOSTEMP, 0);
#elif defined(__GLIBC__)
	assert_int_equal(HAVE_PIPE2 + HAVE_PPOLL + HAVE_EXPLICIT_BZERO +
	    HAVE_MSG_NOSIGNAL + HAVE_MEMFD_CREATE + HAVE_SOCK_CLOEXEC +
	    HAVE_PRCTL + HAVE_REALLOCARRAY + HAVE_ASPRINTF + HAVE_MEMMEM +
	    HAVE_TIMEGM + HAVE_MKOSTEMP, 12);
#endif
	assert_int_equal(cx_os_parse("linux"), CX_OS_LINUX);
	assert_int_equal(cx_os_parse("macos"), CX_OS_MACOS);
	assert_int_equal(cx_os_parse("windows"), CX_OS_WINDOWS);
	assert_int_equal(cx_os_parse("beos"), -1);
	assert_int_equal(cx_os_parse(NULL), -1);
	assert_string_equal(cx_os_name(CX_OS_MACOS), "macos");
	assert_string_equal(cx_os_name(CX_OS_WINDOWS), "windows");
#if defined(__linux__)
	assert_int_equal(cx_os_host(), CX_OS_LINUX);
#elif defined(__APPLE__)
	assert_int_equal(cx_os_host(), CX_OS_MACOS);
#endif
}

static void
test_pipe_socket_cloexec(void **state)
{
	int p[2] = { -1, -1 }, s;
	char c = 0;

	(void)state;
	assert_int_equal(cx_pipe(p), 0);
	assert_true(cloexec(p[0]));
	assert_true(cloexec(p[1]));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(p[0]);
	close(p[1]);
	assert_true((s = cx_socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_true(cloexec(s));
	close(s);
	assert_int_equal(cx_socket(-1, SOCK_STREAM, 0), -1);
}

static void
test_send_no_sigpipe(void **state)
{
	int sv[2], st;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	/* in a child with SIGPIPE ignored as cx_os_init does (the last
	 * resort when the system has neither MSG_NOSIGNAL nor SO_NOSIGPIPE),
	 * or left at its default where the system can say it per call */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!HAVE_MSG_NOSIGNAL)
			signal(SIGPIPE, SIG_IGN);
		else
			signal(SIGPIPE, SIG_DFL);
		_exit(cx_send(sv[0], "x", 1) == -1 && errno == EPIPE ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(sv[0]);
}

static void
test_anon_file(void **state)
{
	char dir[] = "/tmp/cx-anon.XXXXXX", back[8];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, n = 0, inherit;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(setenv("TMPDIR", dir, 1), 0);
	for (inherit = 0; inherit < 2; inherit++) {
		assert_int_equal(cx_anon_file("cx-test", inherit, &fd), 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_nlink, 0);	/* no name anywhere */
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(cloexec(fd), !inherit);
		assert_int_equal(write(fd, "secret", 6), 6);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(read(fd, back, 6), 6);
		assert_memory_equal(back, "secret", 6);
		close(fd);
	}
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 0);	/* the fallback's temp file is gone */
	unsetenv("TMPDIR");
	rmdir(dir);
}

static volatile sig_atomic_t caught;

static void
on_usr1(int sig)
{
	caught = sig;
}

static void
test_ppoll_signal(void **state)
{
	struct sigaction sa, now;
	sigset_t block, old, none, cur;
	struct timespec tmo = { 10, 0 };
	struct pollfd pf;
	uint64_t t0;
	int p[2], rc, e;
	pid_t pid;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigemptyset(&none);
	assert_int_equal(cx_pipe(p), 0);
	pf.fd = p[0];
	pf.events = POLLIN;

	/* a signal pending before the call: taken at once, EINTR */
	caught = 0;
	raise(SIGUSR1);
	t0 = cx_now_ms();
	rc = cx_ppoll(&pf, 1, &tmo, &none);
	e = errno;
	assert_int_equal(rc, -1);
	assert_int_equal(e, EINTR);
	assert_int_equal(caught, SIGUSR1);
	assert_true(cx_now_ms() - t0 < 5000);

	/* one sent by another process while it waits */
	caught = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	t0 = cx_now_ms();
	do {
		rc = cx_ppoll(&pf, 1, &tmo, &none);
	} while (rc == -1 && errno == EINTR && caught == 0);
	assert_int_equal(rc, -1);
	assert_int_equal(caught, SIGUSR1);
	assert_true(cx_now_ms() - t0 < 5000);
	waitpid(pid, NULL, 0);

	/* afterwards: still blocked, the caller's handler back in place */
	sigprocmask(SIG_SETMASK, NULL, &cur);
	assert_int_equal(sigismember(&cur, SIGUSR1), 1);
	assert_int_equal(sigaction(SIGUSR1, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, on_usr1);

	/* a ready descriptor, and a timeout, as poll() */
	assert_int_equal(write(p[1], "x", 1), 1);
	caught = 0;
	assert_int_equal(cx_ppoll(&pf, 1, &tmo, &none), 1);
	assert_true(pf.revents & POLLIN);
	assert_int_equal(caught, 0);
	tmo.tv_sec = 0;
	tmo.tv_nsec = 20000000;
	pf.fd = p[1];
	pf.events = 0;
	assert_int_equal(cx_ppoll(&pf, 1, &tmo, &none), 0);
	close(p[0]);
	close(p[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static void
test_compat(void **state)
{
	char *s = NULL, big[5000];
	int *v;
	struct tm tm;
	unsigned char w[32];
	size_t i;

	(void)state;
	errno = 0;
	assert_null(cx_reallocarray(NULL, SIZE_MAX / 2, 4));
	assert_int_equal(errno, ENOMEM);
	assert_non_null(v = cx_reallocarray(NULL, 4, sizeof(*v)));
	v[3] = 7;
	assert_non_null(v = cx_reallocarray(v, 8, sizeof(*v)));
	assert_int_equal(v[3], 7);
	free(v);

	assert_int_equal(cx_asprintf(&s, "%s-%d", "ab", 42), 5);
	assert_string_equal(s, "ab-42");
	free(s);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cx_asprintf(&s, "<%s>", big), 5001);
	assert_int_equal(strlen(s), 5001);
	free(s);

	assert_ptr_equal(cx_memmem("hello world", 11, "o w", 3),
	    (const char *)"hello world" + 4);
	assert_null(cx_memmem("hello", 5, "low", 3));
	assert_null(cx_memmem("lo", 2, "low", 3));
	assert_non_null(cx_memmem("a\0b", 3, "\0b", 2));

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 70;
	tm.tm_mday = 1;
	assert_int_equal(cx_timegm(&tm), 0);
	tm.tm_year = 125; tm.tm_mon = 0; tm.tm_mday = 2;
	tm.tm_hour = 3; tm.tm_min = 4; tm.tm_sec = 5;
	assert_int_equal(cx_timegm(&tm), 1735787045);
	tm.tm_year = 124; tm.tm_mon = 1; tm.tm_mday = 29;	/* leap day */
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	assert_int_equal(cx_timegm(&tm), 1709164800);
	tm.tm_year = 123; tm.tm_mon = 12; tm.tm_mday = 1;	/* month 13 */
	assert_int_equal(cx_timegm(&tm), 1704067200);
	tm.tm_year = 8099; tm.tm_mon = 11; tm.tm_mday = 31;	/* 9999 */
	tm.tm_hour = 23; tm.tm_min = 59; tm.tm_sec = 59;
	assert_int_equal(cx_timegm(&tm), 253402300799LL);

	memset(w, 0xa5, sizeof(w));
	cx_wipe(w, sizeof(w));
	for (i = 0; i < sizeof(w); i++)
		assert_int_equal(w[i], 0);
	cx_wipe(NULL, 4);
}

static void
test_unix_connect(void **state)
{
	char dir[] = "/tmp/cx-unix.XXXXXX", path[600], c;
	struct sockaddr_un sa;
	int l, fd, a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	assert_int_equal(cx_unix_connect(path, cx_now_ms() + 1000, &fd),
	    CX_ERR_NOTFOUND);
	assert_int_equal(fd, -1);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(cx_unix_connect(path, cx_now_ms() + 1000, &fd),
	    CX_ERR_CONFIG);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	assert_true((l = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(cx_unix_connect(path, cx_now_ms() + 1000, &fd),
	    0);
	assert_true(cloexec(fd));
	assert_true((a = accept(l, NULL, NULL)) >= 0);
	assert_int_equal(cx_write_all(fd, "k", 1), 0);
	assert_int_equal(read(a, &c, 1), 1);
	assert_int_equal(c, 'k');
	close(a);
	close(fd);
	close(l);
	unlink(path);
	rmdir(dir);
}

static void
test_tty_echo(void **state)
{
	struct termios t;
	void *saved = NULL;
	int m, sl, p[2];

	(void)state;
	/* not a terminal: nothing to do, nothing to restore */
	assert_int_equal(cx_pipe(p), 0);
	assert_int_equal(cx_isatty(p[0]), 0);
	assert_int_equal(cx_tty_echo_off(p[0], &saved), 0);
	assert_null(saved);
	cx_tty_restore(p[0], saved);
	close(p[0]);
	close(p[1]);
	/* a pseudo-terminal: echo off, the newline still echoed, then back */
	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) == -1)
		skip();
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_true((sl = open(ptsname(m), O_RDWR | O_NOCTTY)) >= 0);
	assert_int_equal(cx_isatty(sl), 1);
	assert_int_equal(tcgetattr(sl, &t), 0);
	assert_true(t.c_lflag & ECHO);
	assert_int_equal(cx_tty_echo_off(sl, &saved), 0);
	assert_non_null(saved);
	assert_int_equal(tcgetattr(sl, &t), 0);
	assert_false(t.c_lflag & ECHO);
	assert_true(t.c_lflag & ECHONL);
	cx_tty_restore(sl, saved);
	assert_int_equal(tcgetattr(sl, &t), 0);
	assert_true(t.c_lflag & ECHO);
	close(sl);
	close(m);
}

static void
test_wait_status(void **state)
{
	char *ex[] = { "sh", "-c", "exit 3", NULL };
	char *ok[] = { "true", NULL };
	char *kill[] = { "sh", "-c", "kill -TERM $$", NULL };
	int st;

	(void)state;
	assert_int_equal(cx_run(ex, NULL, 0, NULL, NULL, 10000, &st), 0);
	assert_int_equal(cx_wait_exit(st), 3);
	assert_int_equal(cx_wait_signal(st), 0);
	assert_int_equal(cx_run(ok, NULL, 0, NULL, NULL, 10000, &st), 0);
	assert_int_equal(cx_wait_exit(st), 0);
	assert_int_equal(cx_run(kill, NULL, 0, NULL, NULL, 10000, &st), 0);
	assert_int_equal(cx_wait_exit(st), -1);
	assert_int_equal(cx_wait_signal(st), SIGTERM);
}

static void
test_spawn_wait_kill_exec(void **state)
{
	char *cat[] = { "cat", NULL };
	char *sl[] = { "sleep", "60", NULL };
	char *none[] = { "cx-no-such-program", NULL };
	char *ex[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *ex2[] = { "sh", "-c", "exit 8", NULL };
	int in[2], out[2], st;
	char buf[8];
	pid_t pid;

	(void)state;
	assert_int_equal(cx_pipe(in), 0);
	assert_int_equal(cx_pipe(out), 0);
	assert_int_equal(cx_spawn(cat, in[0], out[1], &pid), 0);
	close(in[0]);
	close(out[1]);
	assert_int_equal(cx_write_all(in[1], "ping", 4), 0);
	close(in[1]);
	assert_int_equal(read(out[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(cx_wait(pid, &st), 0);
	assert_int_equal(cx_wait_exit(st), 0);
	close(out[0]);

	assert_int_equal(cx_spawn(sl, 0, 1, &pid), 0);
	assert_int_equal(cx_kill(pid, SIGTERM), 0);
	assert_int_equal(cx_wait(pid, &st), 0);
	assert_int_equal(cx_wait_signal(st), SIGTERM);
	assert_int_equal(cx_spawn(none, 0, 1, &pid), CX_ERR_NOTFOUND);

	/* cx_exec, with and without a '/', and a missing program */
	if ((pid = fork()) == 0) {
		cx_exec(ex);
		_exit(99);
	}
	assert_int_equal(cx_wait(pid, &st), 0);
	assert_int_equal(cx_wait_exit(st), 7);
	if ((pid = fork()) == 0) {
		cx_exec(ex2);
		_exit(99);
	}
	assert_int_equal(cx_wait(pid, &st), 0);
	assert_int_equal(cx_wait_exit(st), 8);
	assert_int_equal(cx_exec(none), CX_ERR_IO);
	assert_int_equal(errno, ENOENT);
}

static const char *argv0;

/* cx_self_path: /proc/self/exe in build/, argv[0] in build-portable/ */
static void
test_self_path(void **state)
{
	char *self = NULL, *real = NULL, *dir, *old_path;
	char *base;

	(void)state;
	assert_int_equal(cx_realpath(argv0, &real), 0);
	assert_int_equal(real[0], '/');
	cx_os_init(argv0);
	assert_int_equal(cx_self_path(&self), 0);
	assert_string_equal(self, real);
	free(self);
	/* run through PATH: argv[0] is the bare name */
	dir = strdup(real);
	base = strrchr(dir, '/');
	*base++ = '\0';
	old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	setenv("PATH", "/nonexistent::/usr/bin", 1);
	cx_os_init(base);
	if (!HAVE_PROC_SELF_EXE)	/* not in PATH, not in "." */
		assert_int_equal(cx_self_path(&self), CX_ERR_NOTFOUND);
	{
		char *p = NULL;

		assert_true(cx_asprintf(&p, "/nonexistent:%s:/usr/bin", dir) > 0);
		setenv("PATH", p, 1);
		free(p);
	}
	assert_int_equal(cx_self_path(&self), 0);
	assert_string_equal(self, real);
	free(self);
	if (old_path != NULL)
		setenv("PATH", old_path, 1);
	free(old_path);
	free(dir);
	free(real);
	assert_int_equal(cx_realpath("/nonexistent/x", &real), CX_ERR_NOTFOUND);
	assert_null(real);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_mode),
		cmocka_unit_test(test_pipe_socket_cloexec),
		cmocka_unit_test(test_send_no_sigpipe),
		cmocka_unit_test(test_anon_file),
		cmocka_unit_test(test_ppoll_signal),
		cmocka_unit_test(test_compat),
		cmocka_unit_test(test_unix_connect),
		cmocka_unit_test(test_tty_echo),
		cmocka_unit_test(test_wait_status),
		cmocka_unit_test(test_self_path),
		cmocka_unit_test(test_spawn_wait_kill_exec),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests_name("os", tests, NULL, NULL);
}
