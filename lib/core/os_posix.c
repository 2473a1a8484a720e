/* realpath is XSI; the layer may use it on every POSIX system */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
/* flock: not POSIX, but in every system the layer builds for (the BSDs,
 * macOS, Linux, illumos); POSIX record locks would not do, being per
 * process and dropped by any close of the file */
#include <sys/file.h>
#if HAVE_MEMFD_CREATE
#include <sys/mman.h>
#endif
#if HAVE_PRCTL
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <termios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "connlog.h"
#include "cxerr.h"
#include "log.h"
#include "os.h"

extern char **environ;

/* argv[0] of the running program, for cx_self_path */
static const char *self_argv0;

void
cx_os_init(const char *argv0)
{
	struct rlimit rl = { 0, 0 };
	int fd;

	/* like OpenSSH's sanitise_stdfd(): a closed 0-2 would be reused */
	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	self_argv0 = argv0;
	signal(SIGPIPE, SIG_IGN);
	/* no core file anywhere; on Linux not ptrace-able by the same user
	 * either (elsewhere RLIMIT_CORE 0 is what there is) */
	(void)setrlimit(RLIMIT_CORE, &rl);
#if HAVE_PRCTL
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	cx_log_init(argv0);
	cx_connlog_attach();	/* a connect's journal, if we are part of one */
}

/* The compiler says which system it builds for; the BSDs and the other
 * POSIX systems follow the freedesktop conventions, as Linux does. */
#if defined(__APPLE__) && defined(__MACH__)
#define CX_OS_HOST CX_OS_MACOS
#else
#define CX_OS_HOST CX_OS_LINUX
#endif

enum cx_os
cx_os_host(void)
{
	return CX_OS_HOST;
}

static int
set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl == -1 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* mkstemp, close-on-exec from the start where the system can (mkostemp) */
static int
mkstemp_cloexec(char *tmpl)
{
#if HAVE_MKOSTEMP
	return mkostemp(tmpl, O_CLOEXEC);
#else
	int fd, e;

	if ((fd = mkstemp(tmpl)) == -1)
		return -1;
	if (set_cloexec(fd) == -1) {
		e = errno;
		close(fd);
		(void)unlink(tmpl);
		errno = e;
		return -1;
	}
	return fd;
#endif
}

int
cx_pipe(int fds[2])
{
#if HAVE_PIPE2
	if (pipe2(fds, O_CLOEXEC) == -1)
		return CX_ERR_IO;
#else
	int e;

	if (pipe(fds) == -1)
		return CX_ERR_IO;
	if (set_cloexec(fds[0]) == -1 || set_cloexec(fds[1]) == -1) {
		e = errno;
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		errno = e;
		return CX_ERR_IO;
	}
#endif
	return 0;
}

int
cx_socket(int domain, int type, int protocol)
{
	int fd, e;

#if HAVE_SOCK_CLOEXEC
	if ((fd = socket(domain, type | SOCK_CLOEXEC, protocol)) == -1)
		return -1;
#else
	if ((fd = socket(domain, type, protocol)) == -1)
		return -1;
	if (set_cloexec(fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
#endif
#if HAVE_SO_NOSIGPIPE
	if (type == SOCK_STREAM) {
		int one = 1;

		(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one,
		    sizeof(one));
	}
#endif
	(void)e;
	return fd;
}

ssize_t
cx_send(int fd, const void *p, size_t n)
{
#if HAVE_MSG_NOSIGNAL
	return send(fd, p, n, MSG_NOSIGNAL);
#else
	/* SO_NOSIGPIPE (cx_socket) or SIGPIPE ignored (cx_os_init) */
	return send(fd, p, n, 0);
#endif
}

int
cx_anon_file(const char *name, int inherit, int *fdp)
{
	char tmpl[4096];
	const char *tmpdir;
	int fd, n;

	*fdp = -1;
#if HAVE_MEMFD_CREATE
	if ((fd = memfd_create(name, inherit ? 0 : MFD_CLOEXEC)) != -1) {
		(void)fchmod(fd, 0600);	/* made 0777; as the fallback's */
		*fdp = fd;
		return 0;
	}
#endif
	tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	n = snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", tmpdir, name);
	if (n < 0 || (size_t)n >= sizeof(tmpl)) {
		cx_error("TMPDIR '%s' is too long", tmpdir);
		return CX_ERR_IO;
	}
	/* mkstemp makes it 0600 */
	if ((fd = mkstemp(tmpl)) == -1) {
		cx_error("cannot create '%s': %s", tmpl, strerror(errno));
		return CX_ERR_IO;
	}
	(void)unlink(tmpl);
	if (!inherit && set_cloexec(fd) == -1) {
		close(fd);
		return CX_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

#if !HAVE_PPOLL
/* The self-pipe of cx_ppoll's fallback and the caller's handlers. */
#define CX_SIG_MAX 65
static int sig_pipe[2] = { -1, -1 };
static struct sigaction sig_user[CX_SIG_MAX];

static void
sig_trampoline(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;

	ssize_t w;

	w = write(sig_pipe[1], &b, 1);	/* full: a wake-up is queued */
	(void)w;
	if (sig > 0 && sig < CX_SIG_MAX &&
	    sig_user[sig].sa_handler != SIG_DFL &&
	    sig_user[sig].sa_handler != SIG_IGN)
		sig_user[sig].sa_handler(sig);
	errno = e;
}
#endif

int
cx_ppoll(struct pollfd *pfd, nfds_t n, const struct timespec *tmo,
    const sigset_t *sigmask)
{
#if HAVE_PPOLL
	return ppoll(pfd, n, tmo, sigmask);
#else
	struct pollfd stack[16], *all = stack;
	struct sigaction sa, saved[CX_SIG_MAX];
	unsigned char wrapped[CX_SIG_MAX], drain[64];
	sigset_t cur, old;
	int sig, fl, ms = -1, rc, e;
	nfds_t i;

	if (sig_pipe[0] == -1) {
		if (cx_pipe(sig_pipe) != 0)
			return -1;
		if ((fl = fcntl(sig_pipe[0], F_GETFL)) == -1 ||
		    fcntl(sig_pipe[0], F_SETFL, fl | O_NONBLOCK) == -1 ||
		    (fl = fcntl(sig_pipe[1], F_GETFL)) == -1 ||
		    fcntl(sig_pipe[1], F_SETFL, fl | O_NONBLOCK) == -1)
			return -1;
	}
	if (tmo != NULL) {
		/* rounded up: never wakes before the time asked */
		long long t = (long long)tmo->tv_sec * 1000 +
		    (tmo->tv_nsec + 999999) / 1000000;
		ms = t > 2147483647 ? 2147483647 : (int)t;
	}
	if (n + 1 > sizeof(stack) / sizeof(stack[0]) &&
	    (all = calloc(n + 1, sizeof(*all))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < n; i++)
		all[i] = pfd[i];
	all[n].fd = sig_pipe[0];
	all[n].events = POLLIN;
	all[n].revents = 0;
	while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
		;
	/* the signals that sigmask lets in: caught by the trampoline for the
	 * length of the call (they are blocked now, so none is lost) */
	sigprocmask(SIG_SETMASK, NULL, &cur);
	memset(wrapped, 0, sizeof(wrapped));
	for (sig = 1; sig < CX_SIG_MAX; sig++) {
		if (sigismember(&cur, sig) != 1 || sigismember(sigmask, sig) != 0)
			continue;
		if (sigaction(sig, NULL, &sig_user[sig]) == -1 ||
		    sig_user[sig].sa_handler == SIG_DFL ||
		    sig_user[sig].sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = sig_trampoline;
		sigfillset(&sa.sa_mask);
		if (sigaction(sig, &sa, &saved[sig]) == 0)
			wrapped[sig] = 1;
	}
	sigprocmask(SIG_SETMASK, sigmask, &old);
	rc = poll(all, n + 1, ms);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (sig = 1; sig < CX_SIG_MAX; sig++) {
		if (wrapped[sig])
			(void)sigaction(sig, &saved[sig], NULL);
	}
	if (rc > 0 && all[n].revents != 0) {
		while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
			;
		rc = -1;
		e = EINTR;
	}
	for (i = 0; i < n; i++)
		pfd[i].revents = all[i].revents;
	if (all != stack)
		free(all);
	errno = e;
	return rc;
#endif
}

/*
 * Initialises *sa so that a spawned child starts with no signal blocked and
 * the default dispositions of SIGHUP, SIGINT, SIGTERM and SIGPIPE, whatever
 * the caller (a poll loop taking signals, SIGPIPE ignored) set.  The caller
 * destroys *sa.  Returns 0 or CX_ERR_NOMEM.
 */
static int
spawn_attr_init(posix_spawnattr_t *sa)
{
	sigset_t none, dflt;

	if (posix_spawnattr_init(sa) != 0)
		return CX_ERR_NOMEM;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_setsigmask(sa, &none);
	posix_spawnattr_setsigdefault(sa, &dflt);
	posix_spawnattr_setflags(sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	return 0;
}

int
cx_spawn(char *const argv[], int infd, int outfd, pid_t *pidp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return CX_ERR_NOMEM;
	if (spawn_attr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return CX_ERR_NOMEM;
	}
	posix_spawn_file_actions_adddup2(&fa, infd, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	rc = posix_spawnp(pidp, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		cx_error("cannot run '%s': %s", argv[0], strerror(rc));
		if (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
			return CX_ERR_NOTFOUND;
		return CX_ERR_IO;
	}
	return 0;
}

int
cx_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) == -1) {
		if (errno != EINTR)
			return CX_ERR_IO;
	}
	return 0;
}

int
cx_try_wait(pid_t pid, int *status)
{
	pid_t w;

	while ((w = waitpid(pid, status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (w == pid)
		return 1;
	return w == 0 ? 0 : CX_ERR_IO;
}

int
cx_kill(pid_t pid, int sig)
{
	return kill(pid, sig) == 0 ? 0 : CX_ERR_IO;
}

int
cx_exec(char *const argv[])
{
	if (strchr(argv[0], '/') != NULL)
		execv(argv[0], argv);
	else
		execvp(argv[0], argv);
	return CX_ERR_IO;
}

int
cx_wait_exit(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
cx_wait_signal(int status)
{
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

int
cx_unix_connect(const char *path, uint64_t deadline, int *fdp)
{
	struct sockaddr_un sa;
	size_t n = strlen(path);
	int fd, e;

	/* a local socket's connect does not wait for the server */
	(void)deadline;
	*fdp = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (n >= sizeof(sa.sun_path))
		return CX_ERR_CONFIG;
	memcpy(sa.sun_path, path, n);
	if ((fd = cx_socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return CX_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return e == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

int
cx_tty_open(int *fdp)
{
	int fd;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		*fdp = -1;
		return CX_ERR_NOTFOUND;
	}
	*fdp = fd;
	return 0;
}

int
cx_isatty(int fd)
{
	return isatty(fd) == 1;
}

int
cx_tty_echo_off(int fd, void **saved)
{
	struct termios *old, raw;

	*saved = NULL;
	if (!isatty(fd))
		return 0;
	if ((old = malloc(sizeof(*old))) == NULL)
		return CX_ERR_NOMEM;
	if (tcgetattr(fd, old) != 0) {
		free(old);
		return 0;
	}
	raw = *old;
	raw.c_lflag &= ~(tcflag_t)ECHO;
	raw.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &raw) != 0) {
		free(old);
		return CX_ERR_IO;
	}
	*saved = old;
	return 0;
}

void
cx_tty_restore(int fd, void *saved)
{
	if (saved == NULL)
		return;
	(void)tcsetattr(fd, TCSAFLUSH, (struct termios *)saved);
	free(saved);
}

uint64_t
cx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t
cx_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cx_random_bytes(void *p, size_t n)
{
	if (n > INT_MAX || RAND_bytes(p, (int)n) != 1) {
		cx_error("cannot get random bytes");
		return CX_ERR_INTERNAL;
	}
	return 0;
}

int
cx_home_dir(char **out)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	*out = NULL;
	if (h == NULL || *h == '\0') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL) {
			cx_error("cannot find the home directory");
			return CX_ERR_IO;
		}
		h = pw->pw_dir;
	}
	if ((*out = strdup(h)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

int
cx_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int
cx_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return 1;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return 0;
}

int
cx_fnmatch_path(const char *pat, const char *s)
{
	return fnmatch(pat, s, FNM_PATHNAME);
}

int
cx_set_mode(const char *path, mode_t mode)
{
	return chmod(path, mode) == 0 ? 0 : CX_ERR_IO;
}

int
cx_path_is_absolute(const char *path)
{
	return path[0] == '/';
}

int
cx_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
cx_read_fd(int fd, size_t max, struct cx_buf *out)
{
	unsigned char *p;
	ssize_t n;
	size_t room;
	int err;

	if (out->max == 0 || out->max > out->len + max)
		out->max = out->len + max;
	for (;;) {
		room = out->max - out->len;
		if (room > 65536)
			room = 65536;
		if (room == 0) {
			/* at the limit: one more byte means too big */
			unsigned char c;
			n = read(fd, &c, 1);
			if (n == 0)
				return 0;
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? CX_ERR_IO : CX_ERR_TOOBIG;
		}
		if ((p = cx_buf_reserve(out, room, &err)) == NULL)
			return err;
		n = read(fd, p, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return CX_ERR_IO;
		}
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
}

int
cx_read_file(const char *path, size_t max, struct cx_buf *out)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return CX_ERR_NOTFOUND;
		cx_error("cannot open '%s': %s", path, strerror(errno));
		return CX_ERR_IO;
	}
	r = cx_read_fd(fd, max, out);
	close(fd);
	if (r == CX_ERR_IO)
		cx_error("cannot read '%s': %s", path, strerror(errno));
	else if (r == CX_ERR_TOOBIG)
		cx_error("'%s' is larger than %zu bytes", path, max);
	return r;
}

int
cx_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return CX_ERR_IO;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* cx_path_trusted()'s rule on one stat result */
static int
judge(const struct stat *st, int flags, char *why, size_t whylen)
{
	struct passwd *pw;

	if ((flags & CX_TRUST_DIR) && !S_ISDIR(st->st_mode)) {
		snprintf(why, whylen, "not a folder");
		return CX_ERR_DENIED;
	}
	if ((flags & CX_TRUST_FILE) && !S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return CX_ERR_DENIED;
	}
	if (st->st_uid != geteuid()) {
		if ((pw = getpwuid(st->st_uid)) != NULL)
			snprintf(why, whylen, "owned by user '%s'",
			    pw->pw_name);
		else
			snprintf(why, whylen, "owned by uid %u",
			    (unsigned)st->st_uid);
		return CX_ERR_DENIED;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "writable by %s (mode %04o)",
		    st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
		return CX_ERR_DENIED;
	}
	return 0;
}

int
cx_path_trusted(const char *path, int flags, char *why, size_t whylen)
{
	struct stat st;

	if (whylen > 0)
		why[0] = '\0';
	if (stat(path, &st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return CX_ERR_NOTFOUND;
		snprintf(why, whylen, "not readable (%s)", strerror(errno));
		return CX_ERR_DENIED;
	}
	return judge(&st, flags, why, whylen);
}

int
cx_read_file_trusted(const char *path, size_t max, struct cx_buf *out,
    char *why, size_t whylen)
{
	struct stat st;
	int fd, r;

	if (whylen > 0)
		why[0] = '\0';
	/* O_NONBLOCK: a FIFO planted there must not hang us before fstat */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return CX_ERR_NOTFOUND;
		if (errno == ELOOP) {
			snprintf(why, whylen, "a symbolic link");
			return CX_ERR_DENIED;
		}
		cx_error("cannot open '%s': %s", path, strerror(errno));
		return CX_ERR_IO;
	}
	if (fstat(fd, &st) == -1) {
		cx_error("cannot read '%s': %s", path, strerror(errno));
		close(fd);
		return CX_ERR_IO;
	}
	if ((r = judge(&st, CX_TRUST_FILE, why, whylen)) != 0) {
		close(fd);
		return r;
	}
	r = cx_read_fd(fd, max, out);
	close(fd);
	if (r == CX_ERR_IO)
		cx_error("cannot read '%s': %s", path, strerror(errno));
	else if (r == CX_ERR_TOOBIG)
		cx_error("'%s' is larger than %zu bytes", path, max);
	return r;
}

static int
fsync_dir_of(const char *path)
{
	char *dir, *slash;
	int fd;

	if ((dir = strdup(path)) == NULL)
		return CX_ERR_NOMEM;
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		if ((dir = strdup(".")) == NULL)
			return CX_ERR_NOMEM;
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
	return 0;
}

int
cx_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode_new, int flags)
{
	char real[PATH_MAX];
	char *tmp = NULL, *bak = NULL;
	const char *target = path;
	struct stat st;
	int fd = -1, r = CX_ERR_IO, have_old;

	/* a symlinked config (dotfile managers) is updated where it points */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    realpath(path, real) != NULL)
		target = real;
	have_old = stat(target, &st) == 0;
	if (have_old && st.st_uid != geteuid()) {
		/* another user's file is theirs to change, not ours (a config
		 * planted in a shared folder must not become ours) */
		char why[128];
		(void)judge(&st, 0, why, sizeof(why));
		cx_error("not rewriting '%s': it is %s", target, why);
		return CX_ERR_INPUT;
	}
	if (cx_asprintf(&tmp, "%s.tmp.XXXXXX", target) < 0) {
		tmp = NULL;
		return CX_ERR_NOMEM;
	}
	/* made 0600: a secret is never in a wider file */
	if ((fd = mkstemp_cloexec(tmp)) == -1) {
		cx_error("cannot create a temporary file next to '%s': %s",
		    target, strerror(errno));
		free(tmp);
		return CX_ERR_IO;
	}
	if (have_old && st.st_gid != getegid())
		(void)!fchown(fd, (uid_t)-1, st.st_gid);
	if (cx_write_all(fd, data, len) != 0 || fsync(fd) == -1)
		goto fail;
	/* the final bits only once the contents are complete */
	if (!(flags & CX_ATOMIC_SECRET) &&
	    fchmod(fd, have_old ? (st.st_mode & 07777) : mode_new) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (have_old && (flags & CX_ATOMIC_BACKUP)) {
		if (cx_asprintf(&bak, "%s.bak", target) < 0) {
			bak = NULL;
			r = CX_ERR_NOMEM;
			goto fail;
		}
		/* a hard link keeps the old inode (and its mode) as the backup */
		(void)unlink(bak);
		if (link(target, bak) == -1) {
			cx_warn("cannot keep a backup '%s': %s", bak,
			    strerror(errno));
		}
	}
	if (rename(tmp, target) == -1)
		goto fail;
	fsync_dir_of(target);
	if ((flags & CX_ATOMIC_SECRET) && have_old && (st.st_mode & 077))
		cx_warn("'%s' holds secrets but had mode %04o (open to %s): "
		    "it is now 0600", target, (unsigned)(st.st_mode & 07777),
		    st.st_mode & 07 ? "others" : "its group");
	free(tmp);
	free(bak);
	return 0;
 fail:
	if (r == CX_ERR_IO)
		cx_error("cannot write '%s': %s", target, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	free(tmp);
	free(bak);
	return r;
}

int
cx_mkdir_p(const char *path, mode_t mode)
{
	char *p, *s;
	int r = 0;

	if ((p = strdup(path)) == NULL)
		return CX_ERR_NOMEM;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST) {
			cx_error("cannot create '%s': %s", p, strerror(errno));
			r = CX_ERR_IO;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (r == 0 && !cx_is_dir(path)) {
		cx_error("'%s' is not a directory", path);
		r = CX_ERR_IO;
	}
	free(p);
	return r;
}

/* ${XDG_STATE_HOME:-~/.local/state}/cloudx-proxy/locks; *out malloc'd */
static int
lock_dir(char **out)
{
	const char *x = getenv("XDG_STATE_HOME");
	char *base = NULL;
	int r;

	*out = NULL;
	/* the XDG spec: a relative value is invalid and must be ignored */
	if (x != NULL && x[0] == '/')
		r = (base = strdup(x)) ? 0 : CX_ERR_NOMEM;
	else
		r = cx_expand_user("~/.local/state", &base);
	if (r == 0)
		r = cx_path_join(base, "cloudx-proxy/locks", out);
	free(base);
	return r;
}

int
cx_lock_path(const char *path, char **out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char real[PATH_MAX], *dir = NULL, *full = NULL, *ldir = NULL;
	char hex[17], name[100];
	const char *slash = strrchr(path, '/'), *base;
	unsigned int mdlen = 0, i;
	int r;

	*out = NULL;
	base = slash ? slash + 1 : path;
	/* the same file reached through another spelling of its folder gets
	 * the same lock: the folder is resolved (the file may not exist) */
	dir = slash ? (slash == path ? strdup("/") :
	    strndup(path, (size_t)(slash - path))) : strdup(".");
	if (dir == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_path_join(realpath(dir, real) ? real : dir, base,
	    &full)) != 0)
		goto out;
	if (EVP_Digest(full, strlen(full), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < 8) {
		r = CX_ERR_INTERNAL;
		goto out;
	}
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(name, sizeof(name), "%.64s.%s.lock", *base ? base : "_",
	    hex);
	if ((r = lock_dir(&ldir)) != 0)
		goto out;
	r = cx_path_join(ldir, name, out);
 out:
	free(dir);
	free(full);
	free(ldir);
	return r;
}

int
cx_lock(const char *path, int timeout_ms, int *fdp)
{
	char *lp = NULL, *ldir = NULL, why[160];
	uint64_t deadline = cx_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct stat st;
	int fd = -1, r;

	*fdp = -1;
	if ((r = cx_lock_path(path, &lp)) != 0 || (r = lock_dir(&ldir)) != 0)
		goto out;
	if ((r = cx_mkdir_p(ldir, 0700)) != 0)
		goto out;
	/* only in a folder nobody else can write: no planted lock files */
	if ((r = cx_path_trusted(ldir, CX_TRUST_DIR, why, sizeof(why))) != 0) {
		cx_error("cannot lock '%s': the lock folder '%s' is %s", path,
		    ldir, why);
		r = CX_ERR_INPUT;
		goto out;
	}
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK, 0600)) == -1) {
		int e = errno;
		cx_error("cannot open lock file '%s': %s", lp, e == ELOOP ?
		    "a symbolic link" : strerror(e));
		r = e == ELOOP ? CX_ERR_INPUT : CX_ERR_IO;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		cx_error("cannot use lock file '%s': %s", lp, strerror(errno));
		r = CX_ERR_IO;
		goto out;
	}
	if (judge(&st, CX_TRUST_FILE, why, sizeof(why)) != 0) {
		cx_error("cannot use lock file '%s': it is %s", lp, why);
		r = CX_ERR_INPUT;
		goto out;
	}
	r = CX_ERR_IO;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cx_error("cannot lock '%s': %s", lp, strerror(errno));
			goto out;
		}
		if (cx_now_ms() >= deadline) {
			cx_error("'%s' is locked by another run (lock '%s')",
			    path, lp);
			goto out;
		}
		(void)poll(NULL, 0, 20);	/* waiting on another process */
	}
	*fdp = fd;
	fd = -1;	/* transferred */
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	free(lp);
	free(ldir);
	return r;
}

void
cx_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the flock */
}

void
cx_format_iso8601(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
pump(int fd, struct cx_buf *b)
{
	unsigned char tmp[16384];
	ssize_t n;
	int r;

	n = read(fd, tmp, sizeof(tmp));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : CX_ERR_IO;
	if (n == 0)
		return 0;
	if (b != NULL && (r = cx_buf_append(b, tmp, (size_t)n)) != 0) {
		cx_wipe(tmp, sizeof(tmp));
		return r;
	}
	cx_wipe(tmp, (size_t)n);
	return 1;
}

/* A signal came: the child gets it too (again: it may have come before
 * the child was registered) and 500 ms to end.  Returns 1 if it ended
 * (reaped, *status set), 0 if the caller must kill it. */
static int
stop_child(pid_t pid, int sig, int *status)
{
	uint64_t until = cx_now_ms() + 500;
	pid_t w;

	kill(pid, sig);
	while (cx_now_ms() < until) {
		if ((w = waitpid(pid, status, WNOHANG)) == pid)
			return 1;
		if (w == -1 && errno != EINTR)
			return 0;
		poll(NULL, 0, 10);
	}
	return 0;
}

int
cx_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, struct cx_buf *err, int timeout_ms, int *status)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct pollfd pfd[4];
	uint64_t deadline = timeout_ms > 0 ? cx_now_ms() + (uint64_t)timeout_ms : 0;
	const unsigned char *inp = in;
	pid_t pid;
	int r = 0, rc, n, fa_init = 0, sa_init = 0;

	*status = -1;
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
	if (cx_pipe(pin) != 0 || cx_pipe(pout) != 0 || cx_pipe(perr) != 0) {
		r = CX_ERR_IO;
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	fa_init = 1;
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	if (out != NULL)
		posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err != NULL)
		posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	if ((r = spawn_attr_init(&sa)) != 0)
		goto out;
	sa_init = 1;
	rc = posix_spawnp(&pid, argv[0], &fa, &sa, argv, environ);
	if (rc != 0) {
		r = rc == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
		if (r == CX_ERR_IO)
			cx_error("cannot run '%s': %s", argv[0], strerror(rc));
		goto out;
	}
	cx_sig_forward(pid, 1);
	close(pin[0]); pin[0] = -1;
	close(pout[1]); pout[1] = -1;
	close(perr[1]); perr[1] = -1;
	if (in == NULL || inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	} else {
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	}
	while (pin[1] != -1 || pout[0] != -1 || perr[0] != -1) {
		int wait_ms = -1;
		pfd[0].fd = pin[1]; pfd[0].events = POLLOUT;
		pfd[1].fd = pout[0]; pfd[1].events = POLLIN;
		pfd[2].fd = perr[0]; pfd[2].events = POLLIN;
		pfd[3].fd = cx_sig_fd(); pfd[3].events = POLLIN;
		if (cx_sig_pending()) {
			r = CX_ERR_CANCELLED;
			break;
		}
		if (deadline) {
			uint64_t now = cx_now_ms();
			if (now >= deadline) {
				r = CX_ERR_TIMEOUT;
				break;
			}
			wait_ms = (int)(deadline - now);
		}
		if ((n = poll(pfd, 4, wait_ms)) < 0) {
			if (errno == EINTR)
				continue;
			r = CX_ERR_IO;
			break;
		}
		if (pin[1] != -1 && (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(pin[1], inp, inlen);
			if (w > 0) {
				inp += w;
				inlen -= (size_t)w;
			}
			if (inlen == 0 || (w < 0 && errno != EAGAIN && errno != EINTR)) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pout[0] != -1 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if ((rc = pump(pout[0], out)) <= 0) {
				close(pout[0]);
				pout[0] = -1;
				if (rc < 0) { r = rc; break; }
			}
		}
		if (perr[0] != -1 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			if ((rc = pump(perr[0], err)) <= 0) {
				close(perr[0]);
				perr[0] = -1;
				if (rc < 0) { r = rc; break; }
			}
		}
	}
	/* not a zombie before this: the pid cannot be reused meanwhile */
	cx_sig_forward(pid, 0);
	if (r == CX_ERR_CANCELLED && stop_child(pid, cx_sig_pending(), status))
		goto out;
	if (r != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
 out:
	if (sa_init)
		posix_spawnattr_destroy(&sa);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (n = 0; n < 2; n++) {
		if (pin[n] != -1) close(pin[n]);
		if (pout[n] != -1) close(pout[n]);
		if (perr[n] != -1) close(perr[n]);
	}
	return r;
}

int
cx_realpath(const char *path, char **out)
{
	char real[PATH_MAX];

	*out = NULL;
	if (realpath(path, real) == NULL)
		return errno == ENOENT || errno == ENOTDIR ? CX_ERR_NOTFOUND :
		    CX_ERR_IO;
	return (*out = strdup(real)) == NULL ? CX_ERR_NOMEM : 0;
}

int
cx_self_path(char **out)
{
	const char *pe, *p, *end;
	char *cand = NULL;
	struct stat st;
	int r;

	*out = NULL;
#if HAVE_PROC_SELF_EXE
	{
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			return (*out = strdup(self)) == NULL ? CX_ERR_NOMEM : 0;
		}
	}
#endif
	if (self_argv0 == NULL || *self_argv0 == '\0')
		return CX_ERR_NOTFOUND;
	if (strchr(self_argv0, '/') != NULL)
		return cx_realpath(self_argv0, out);
	/* run through PATH: the first executable file of that name, as the
	 * shell found it (an empty entry is the current folder) */
	if ((pe = getenv("PATH")) == NULL)
		return CX_ERR_NOTFOUND;
	for (p = pe; ; p = end + 1) {
		size_t len;

		end = strchr(p, ':');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (cx_asprintf(&cand, "%.*s%s%s", (int)len, p,
		    len > 0 ? "/" : "", self_argv0) < 0)
			return CX_ERR_NOMEM;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0) {
			r = cx_realpath(cand, out);
			free(cand);
			return r;
		}
		free(cand);
		cand = NULL;
		if (end == NULL)
			break;
	}
	return CX_ERR_NOTFOUND;
}

int
cx_find_prog(const char *name, char **out)
{
	char *self = NULL, *slash, *cand = NULL;
	int r;

	*out = NULL;
	if (cx_self_path(&self) == 0 && (slash = strrchr(self, '/')) != NULL) {
		*slash = '\0';
		r = cx_path_join(*self ? self : "/", name, &cand);
		free(self);
		if (r != 0)
			return r;
		if (access(cand, X_OK) == 0) {
			*out = cand;
			return 0;
		}
		free(cand);
	} else {
		free(self);
	}
	if ((*out = strdup(name)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

/* ---- children with pipes, positioned I/O, file metadata, signals ---- */

#include <dirent.h>
#include <sys/ioctl.h>

int
cx_os_spawn(char *const argv[], int *fd0, int *fd1, int *fd2, pid_t *pidp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	int *want[3] = { fd0, fd1, fd2 };
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int i, rc, r = 0, fa_init = 0, sa_init = 0;

	*pidp = -1;
	for (i = 0; i < 3; i++) {
		if (want[i] == NULL || *want[i] != -1)
			continue;
		if (cx_pipe(p[i]) != 0) {
			r = CX_ERR_IO;
			goto out;
		}
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	fa_init = 1;
	for (i = 0; i < 3; i++) {
		if (want[i] == NULL) {
			if (i < 2)
				posix_spawn_file_actions_addopen(&fa, i,
				    "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
		} else if (*want[i] != -1) {
			posix_spawn_file_actions_adddup2(&fa, *want[i], i);
		} else {
			posix_spawn_file_actions_adddup2(&fa,
			    p[i][i == 0 ? 0 : 1], i);
		}
	}
	if ((r = spawn_attr_init(&sa)) != 0)
		goto out;
	sa_init = 1;
	rc = posix_spawnp(pidp, argv[0], &fa, &sa, argv, environ);
	if (rc != 0) {
		*pidp = -1;
		r = rc == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
		if (r == CX_ERR_IO)
			cx_error("cannot run '%s': %s", argv[0], strerror(rc));
		goto out;
	}
	for (i = 0; i < 3; i++) {
		if (p[i][0] == -1)
			continue;
		/* ours: the write end of stdin, the read end of the others */
		close(p[i][i == 0 ? 0 : 1]);
		*want[i] = p[i][i == 0 ? 1 : 0];
		fcntl(*want[i], F_SETFL, O_NONBLOCK);
		p[i][0] = p[i][1] = -1;
	}
 out:
	if (sa_init)
		posix_spawnattr_destroy(&sa);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 3; i++) {
		if (p[i][0] != -1) close(p[i][0]);
		if (p[i][1] != -1) close(p[i][1]);
	}
	return r;
}

int
cx_os_reap(pid_t pid, int nohang, int *wstatus)
{
	pid_t w;

	for (;;) {
		w = waitpid(pid, wstatus, nohang ? WNOHANG : 0);
		if (w == pid)
			return 0;
		if (w == 0)
			return 1;
		if (errno != EINTR)
			return CX_ERR_IO;
	}
}

void
cx_os_kill(pid_t pid, int sig)
{
	if (pid > 0)
		kill(pid, sig);
}

int
cx_os_exit_code(int wstatus, int *code)
{
	if (WIFEXITED(wstatus)) {
		*code = WEXITSTATUS(wstatus);
		return 1;
	}
	*code = WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : 128;
	return 0;
}

int
cx_os_poll(struct cx_os_pfd *fds, size_t n, int timeout_ms)
{
	struct pollfd p[64];
	size_t i;
	int k;

	if (n > sizeof(p) / sizeof(p[0]))
		return CX_ERR_INTERNAL;
	for (i = 0; i < n; i++) {
		p[i].fd = fds[i].fd;
		p[i].events = (short)(((fds[i].want & CX_OS_IN) ? POLLIN : 0) |
		    ((fds[i].want & CX_OS_OUT) ? POLLOUT : 0));
		p[i].revents = 0;
		fds[i].got = 0;
	}
	k = poll(p, (nfds_t)n, timeout_ms);
	if (k < 0)
		return errno == EINTR ? 0 : CX_ERR_IO;
	for (i = 0; i < n; i++) {
		if (p[i].revents & POLLIN)
			fds[i].got |= CX_OS_IN;
		if (p[i].revents & POLLOUT)
			fds[i].got |= CX_OS_OUT;
		if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL))
			fds[i].got |= CX_OS_HUP;
	}
	return k;
}

ssize_t
cx_os_read(int fd, void *p, size_t n, int *again)
{
	ssize_t k;

	*again = 0;
	k = read(fd, p, n);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		*again = 1;
		return 0;
	}
	return CX_ERR_IO;
}

ssize_t
cx_os_write(int fd, const void *p, size_t n, int *again)
{
	ssize_t k;

	*again = 0;
	k = write(fd, p, n);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		*again = 1;
		return 0;
	}
	return CX_ERR_IO;
}

void
cx_os_close(int *fdp)
{
	if (*fdp >= 0)
		close(*fdp);
	*fdp = -1;
}

int
cx_os_open_read(const char *path, int *fdp)
{
	*fdp = open(path, O_RDONLY | O_CLOEXEC);
	if (*fdp == -1)
		return errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
	return 0;
}

int
cx_os_open_rw(const char *path, mode_t mode, int trunc, int *fdp)
{
	*fdp = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0),
	    mode);
	if (*fdp == -1)
		return errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
	return 0;
}

int
cx_os_pread_all(int fd, void *p, size_t n, uint64_t off)
{
	unsigned char *b = p;
	ssize_t k;

	while (n > 0) {
		k = pread(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return CX_ERR_IO;
		if (k == 0)
			return CX_ERR_INPUT;
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int
cx_os_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const unsigned char *b = p;
	ssize_t k;

	while (n > 0) {
		k = pwrite(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return CX_ERR_IO;
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int
cx_os_truncate(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)size) == 0 ? 0 : CX_ERR_IO;
}

int
cx_os_fsync(int fd)
{
	return fsync(fd) == 0 ? 0 : CX_ERR_IO;
}

static void
fill_stat(const struct stat *sb, struct cx_os_stat *st)
{
	st->size = (uint64_t)sb->st_size;
	st->mode = (unsigned)(sb->st_mode & 07777);
	st->mtime = (int64_t)sb->st_mtime;
	st->is_dir = S_ISDIR(sb->st_mode);
	st->is_reg = S_ISREG(sb->st_mode);
}

int
cx_os_stat_path(const char *path, struct cx_os_stat *st)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return errno == ENOENT || errno == ENOTDIR ? CX_ERR_NOTFOUND :
		    CX_ERR_IO;
	fill_stat(&sb, st);
	return 0;
}

int
cx_os_set_mode_mtime(int fd, const char *path, unsigned mode, int64_t mtime)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fd >= 0) {
		if (fchmod(fd, (mode_t)(mode & 07777)) == -1 ||
		    futimens(fd, ts) == -1)
			return CX_ERR_IO;
		return 0;
	}
	if (chmod(path, (mode_t)(mode & 07777)) == -1 ||
	    utimensat(AT_FDCWD, path, ts, 0) == -1)
		return CX_ERR_IO;
	return 0;
}

int
cx_os_rename(const char *from, const char *to)
{
	return rename(from, to) == 0 ? 0 : CX_ERR_IO;
}

int
cx_os_unlink(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT ? 0 : CX_ERR_IO;
}

int
cx_os_isatty(int fd)
{
	return isatty(fd);
}

int
cx_os_term_cols(int fd)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static volatile sig_atomic_t caught_sig;

static void
on_term_signal(int sig)
{
	caught_sig = sig;
}

void
cx_os_catch_term_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
cx_os_signal_caught(void)
{
	return (int)caught_sig;
}

static int
walk_dir(const char *root, const char *rel,
    int (*fn)(const char *, const struct cx_os_stat *, void *), void *arg,
    int depth)
{
	char *dir = NULL, *path = NULL, *sub = NULL;
	struct cx_os_stat st;
	struct dirent *de;
	struct stat sb;
	DIR *d = NULL;
	int r = 0;

	if (depth > 256)
		return CX_ERR_TOOBIG;
	if ((r = cx_path_join(root, rel, &dir)) != 0)
		goto out;
	if ((d = opendir(*rel ? dir : root)) == NULL) {
		cx_error("cannot read folder '%s': %s", *rel ? dir : root,
		    strerror(errno));
		r = CX_ERR_IO;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		free(path);
		free(sub);
		path = sub = NULL;
		if (*rel) {
			if ((r = cx_path_join(rel, de->d_name, &sub)) != 0)
				goto out;
		} else if ((sub = strdup(de->d_name)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = cx_path_join(root, sub, &path)) != 0)
			goto out;
		if (lstat(path, &sb) == -1) {
			cx_error("cannot stat '%s': %s", path, strerror(errno));
			r = CX_ERR_IO;
			goto out;
		}
		if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			continue;
		fill_stat(&sb, &st);
		if ((r = fn(sub, &st, arg)) != 0)
			goto out;
		if (st.is_dir &&
		    (r = walk_dir(root, sub, fn, arg, depth + 1)) != 0)
			goto out;
	}
 out:
	if (d != NULL)
		closedir(d);
	free(dir);
	free(path);
	free(sub);
	return r;
}

int
cx_os_walk(const char *root,
    int (*fn)(const char *relpath, const struct cx_os_stat *st, void *arg),
    void *arg)
{
	return walk_dir(root, "", fn, arg, 0);
}

int
cx_os_set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return CX_ERR_IO;
	return 0;
}
