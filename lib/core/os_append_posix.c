/*
 * The OS layer for records appended to a file in our state folder (the
 * connect log) and for the connect's journal descriptor (os.h).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxerr.h"
#include "log.h"
#include "os.h"

int
cx_state_path(const char *name, char **out)
{
	const char *x = getenv("XDG_STATE_HOME");
	char *base = NULL, *dir = NULL;
	int r;

	*out = NULL;
	/* the XDG spec: a relative value is invalid and must be ignored */
	if (x != NULL && x[0] == '/')
		r = (base = strdup(x)) ? 0 : CX_ERR_NOMEM;
	else
		r = cx_expand_user("~/.local/state", &base);
	if (r == 0)
		r = cx_path_join(base, "cloudx-proxy", &dir);
	if (r == 0)
		r = cx_path_join(dir, name, out);
	free(base);
	free(dir);
	return r;
}

/* Opens path for appending (O_NOFOLLOW, 0600 when created) and judges the
 * open file; *fdp and *st get it. */
static int
open_append(const char *path, int *fdp, struct stat *st, char *why,
    size_t whylen)
{
	int fd;

	*fdp = -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd == -1) {
		snprintf(why, whylen, "%s", errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
		return errno == ELOOP ? CX_ERR_DENIED : CX_ERR_IO;
	}
	if (fstat(fd, st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return CX_ERR_IO;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(fd);
		return CX_ERR_DENIED;
	}
	if (st->st_uid != geteuid() || (st->st_mode & 077) != 0) {
		/* ours and 0600, as we create it: a wider mode is narrowed */
		if (st->st_uid == geteuid() &&
		    (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
		    fchmod(fd, 0600) == 0) {
			*fdp = fd;
			return 0;
		}
		close(fd);
		if (st->st_uid != geteuid())
			snprintf(why, whylen, "owned by uid %u",
			    (unsigned)st->st_uid);
		else
			snprintf(why, whylen, "writable by others (mode %04o)",
			    (unsigned)(st->st_mode & 07777));
		return CX_ERR_DENIED;
	}
	*fdp = fd;
	return 0;
}

/* mkdir -p without a message (the caller says what failed; errno kept). */
static int
mkdir_quiet(const char *path, mode_t mode)
{
	char *p, *s, c;
	int r = 0, e = 0;

	if ((p = strdup(path)) == NULL)
		return CX_ERR_NOMEM;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST) {
			e = errno;
			r = CX_ERR_IO;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	if (r != 0)
		errno = e;
	return r;
}

int
cx_append_record(const char *path, const void *p, size_t n,
    size_t rotate_at, char *why, size_t whylen)
{
	char *dir = NULL, *old = NULL;
	const char *slash = strrchr(path, '/');
	struct stat st;
	ssize_t w;
	int fd = -1, lk = -1, r;

	if (whylen > 0)
		why[0] = '\0';
	if (slash == NULL || slash == path)
		return CX_ERR_INTERNAL;
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return CX_ERR_NOMEM;
	if ((r = mkdir_quiet(dir, 0700)) != 0) {
		snprintf(why, whylen, "cannot create the folder '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	if ((r = cx_path_trusted(dir, CX_TRUST_DIR, why, whylen)) != 0) {
		char tmp[200];

		snprintf(tmp, sizeof(tmp), "its folder '%s' is %s", dir, why);
		snprintf(why, whylen, "%s", tmp);
		r = CX_ERR_DENIED;
		goto out;
	}
	if ((r = open_append(path, &fd, &st, why, whylen)) != 0)
		goto out;
	if ((size_t)st.st_size + n > rotate_at) {
		/* one rotation: under the lock, and only if nobody else
		 * rotated meanwhile (the file at path is still this one) */
		struct stat now;

		if (cx_asprintf(&old, "%s.1", path) < 0) {
			old = NULL;
			r = CX_ERR_NOMEM;
			goto out;
		}
		if (cx_lock(path, 2000, &lk) == 0) {
			if (lstat(path, &now) == 0 && now.st_ino == st.st_ino &&
			    now.st_dev == st.st_dev &&
			    (size_t)now.st_size + n > rotate_at &&
			    rename(path, old) == 0) {
				close(fd);
				fd = -1;
				if ((r = open_append(path, &fd, &st, why,
				    whylen)) != 0)
					goto out;
			} else if (lstat(path, &now) == 0 &&
			    (now.st_ino != st.st_ino ||
			    now.st_dev != st.st_dev)) {
				/* rotated by another run: append to the new */
				close(fd);
				fd = -1;
				if ((r = open_append(path, &fd, &st, why,
				    whylen)) != 0)
					goto out;
			}
		}
	}
	/* one write under O_APPEND: concurrent records never interleave */
	do
		w = write(fd, p, n);
	while (w == -1 && errno == EINTR);
	if (w < 0 || (size_t)w != n) {
		snprintf(why, whylen, "%s", w < 0 ? strerror(errno) :
		    "short write");
		r = CX_ERR_IO;
		goto out;
	}
	r = 0;
 out:
	cx_unlock(lk);
	if (fd != -1)
		close(fd);
	free(old);
	free(dir);
	return r;
}

int
cx_fd_regular(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int
cx_pread_all(int fd, size_t max, struct cx_buf *out)
{
	char tmp[4096];
	off_t off = 0;
	ssize_t n;
	int r;

	for (;;) {
		n = pread(fd, tmp, sizeof(tmp), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CX_ERR_IO;
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > max)
			return CX_ERR_TOOBIG;
		if ((r = cx_buf_append(out, tmp, (size_t)n)) != 0)
			return r;
		off += n;
	}
}

int
cx_fd_set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		return CX_ERR_IO;
	return 0;
}
