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

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "connlog.h"
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
	cx_connlog_attach();	/* a connect's journal, if we are part of one */
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
	if (asprintf(&tmp, "%s.tmp.XXXXXX", target) < 0) {
		tmp = NULL;
		return CX_ERR_NOMEM;
	}
	/* mkostemp makes it 0600: a secret is never in a wider file */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
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
	sigset_t none, dflt;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct pollfd pfd[4];
	uint64_t deadline = timeout_ms > 0 ? cx_now_ms() + (uint64_t)timeout_ms : 0;
	const unsigned char *inp = in;
	pid_t pid;
	int r = 0, rc, n, fa_init = 0, sa_init = 0;

	*status = -1;
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
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
