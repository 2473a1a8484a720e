#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cxerr.h"
#include "log.h"
#include "os.h"

extern char **environ;

void
cx_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
cx_freezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

void
cx_freezero_str(char *s)
{
	if (s == NULL)
		return;
	cx_freezero(s, strlen(s));
}

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
	signal(SIGPIPE, SIG_IGN);
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	cx_log_init(argv0);
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
cx_uuid4(char out[37])
{
	unsigned char b[16];
	int r;

	if ((r = cx_random_bytes(b, sizeof(b))) != 0)
		return r;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
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
cx_path_join(const char *a, const char *b, char **out)
{
	size_t la = strlen(a);
	int n;

	*out = NULL;
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	n = asprintf(out, "%.*s/%s", (int)la, a, b);
	if (n < 0) {
		*out = NULL;
		return CX_ERR_NOMEM;
	}
	return 0;
}

int
cx_expand_user(const char *path, char **out)
{
	char *home = NULL;
	int r;

	*out = NULL;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		if ((r = cx_home_dir(&home)) != 0)
			return r;
		r = path[1] ? cx_path_join(home, path + 2, out) :
		    ((*out = strdup(home)) ? 0 : CX_ERR_NOMEM);
		free(home);
		return r;
	}
	if ((*out = strdup(path)) == NULL)
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
	if (asprintf(&tmp, "%s.tmp.XXXXXX", target) < 0) {
		tmp = NULL;
		return CX_ERR_NOMEM;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		cx_error("cannot create a temporary file next to '%s': %s",
		    target, strerror(errno));
		free(tmp);
		return CX_ERR_IO;
	}
	if (fchmod(fd, have_old ? (st.st_mode & 07777) : mode_new) == -1)
		goto fail;
	if (have_old && (st.st_uid != geteuid() || st.st_gid != getegid()))
		(void)!fchown(fd, st.st_uid, st.st_gid);
	if (cx_write_all(fd, data, len) != 0 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (have_old && (flags & CX_ATOMIC_BACKUP)) {
		if (asprintf(&bak, "%s.bak", target) < 0) {
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

int
cx_lock(const char *path, int timeout_ms, int *fdp)
{
	char *lp = NULL;
	uint64_t deadline = cx_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int fd;

	*fdp = -1;
	if (asprintf(&lp, "%s.lock", path) < 0)
		return CX_ERR_NOMEM;
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		cx_error("cannot open lock file '%s': %s", lp, strerror(errno));
		free(lp);
		return CX_ERR_IO;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cx_error("cannot lock '%s': %s", lp, strerror(errno));
			goto fail;
		}
		if (cx_now_ms() >= deadline) {
			cx_error("'%s' is locked by another run", path);
			goto fail;
		}
		(void)poll(NULL, 0, 20);	/* waiting on another process */
	}
	free(lp);
	*fdp = fd;
	return 0;
 fail:
	close(fd);
	free(lp);
	return CX_ERR_IO;
}

void
cx_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the flock */
}

int
cx_strtonum(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return CX_ERR_INPUT;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return CX_ERR_INPUT;
	*out = v;
	return 0;
}

static int
two_digits(const char *p)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

int
cx_parse_iso8601(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int off = 0, hh, mm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL || !isdigit((unsigned char)s[0]) ||
	    tm.tm_year < 70 || tm.tm_year > 9999 - 1900)
		return CX_ERR_INPUT;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/* exactly +HH:MM or +HHMM */
		/* (two_digits stops at a NUL: nothing past the end is read) */
		if ((hh = two_digits(p + 1)) < 0 || hh > 23)
			return CX_ERR_INPUT;
		mm = p[3] == ':' ? two_digits(p + 4) : two_digits(p + 3);
		if (mm < 0 || mm > 59)
			return CX_ERR_INPUT;
		off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
		p += p[3] == ':' ? 6 : 5;
	}
	if (*p != '\0')
		return CX_ERR_INPUT;
	if ((t = timegm(&tm)) == (time_t)-1)
		return CX_ERR_INPUT;
	*out = t - off;
	return 0;
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

int
cx_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, struct cx_buf *err, int timeout_ms, int *status)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, dflt;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct pollfd pfd[3];
	uint64_t deadline = timeout_ms > 0 ? cx_now_ms() + (uint64_t)timeout_ms : 0;
	const unsigned char *inp = in;
	pid_t pid;
	int r = 0, rc, n, fa_init = 0, sa_init = 0;

	*status = -1;
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1) {
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
	/* the child starts with no signal blocked and the usual dispositions,
	 * whatever the caller (a poll loop taking signals in ppoll) set */
	if (posix_spawnattr_init(&sa) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	sa_init = 1;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dflt);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&pid, argv[0], &fa, &sa, argv, environ);
	if (rc != 0) {
		r = rc == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO;
		if (r == CX_ERR_IO)
			cx_error("cannot run '%s': %s", argv[0], strerror(rc));
		goto out;
	}
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
		if (deadline) {
			uint64_t now = cx_now_ms();
			if (now >= deadline) {
				r = CX_ERR_TIMEOUT;
				break;
			}
			wait_ms = (int)(deadline - now);
		}
		if ((n = poll(pfd, 3, wait_ms)) < 0) {
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
cx_find_prog(const char *name, char **out)
{
	char self[PATH_MAX], *slash, *cand = NULL;
	ssize_t n;
	int r;

	*out = NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((r = cx_path_join(*self ? self : "/", name,
			    &cand)) != 0)
				return r;
			if (access(cand, X_OK) == 0) {
				*out = cand;
				return 0;
			}
			free(cand);
		}
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
	sigset_t none, dflt;
	int *want[3] = { fd0, fd1, fd2 };
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int i, rc, r = 0, fa_init = 0, sa_init = 0;

	*pidp = -1;
	for (i = 0; i < 3; i++) {
		if (want[i] == NULL || *want[i] != -1)
			continue;
		if (pipe2(p[i], O_CLOEXEC) == -1) {
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
	if (posix_spawnattr_init(&sa) != 0) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	sa_init = 1;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dflt);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
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
