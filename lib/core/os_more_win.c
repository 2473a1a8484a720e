/*
 * The OS layer on Windows, continued (os.h): the socket calls (Winsock,
 * with a SOCKET carried in an int: Winsock hands out small handle values;
 * its errors turned into errno values for the callers), stderr and the
 * terminal, symbolic links, a nap.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cxerr.h"
#include "log.h"
#include "os.h"

/* errno for the last Winsock error */
static void
set_errno_wsa(void)
{
	switch (WSAGetLastError()) {
	case WSAEWOULDBLOCK:
		errno = EAGAIN;
		break;
	case WSAEINPROGRESS:
	case WSAEALREADY:
		errno = EINPROGRESS;
		break;
	case WSAEINTR:
		errno = EINTR;
		break;
	case WSAECONNREFUSED:
		errno = ECONNREFUSED;
		break;
	case WSAECONNRESET:
		errno = ECONNRESET;
		break;
	case WSAECONNABORTED:
		errno = ECONNABORTED;
		break;
	case WSAETIMEDOUT:
		errno = ETIMEDOUT;
		break;
	case WSAENETUNREACH:
		errno = ENETUNREACH;
		break;
	case WSAEHOSTUNREACH:
		errno = EHOSTUNREACH;
		break;
	case WSAEADDRINUSE:
		errno = EADDRINUSE;
		break;
	default:
		errno = EIO;
	}
}

int
cx_sig_sock(void)
{
	/* the signal wakeup is a pipe here: waits on sockets look again */
	return -1;
}

static int
set_nonblock(int fd, int on)
{
	u_long nb = on ? 1 : 0;

	if (ioctlsocket((SOCKET)fd, FIONBIO, &nb) == SOCKET_ERROR) {
		set_errno_wsa();
		return -1;
	}
	return 0;
}

int
cx_sock_setup(int fd, int nodelay)
{
	DWORD one = 1;

	/* not inherited: cx_socket made it WSA_FLAG_NO_HANDLE_INHERIT */
	if (set_nonblock(fd, 1) == -1)
		return -1;
	if (nodelay)
		(void)setsockopt((SOCKET)fd, IPPROTO_TCP, TCP_NODELAY,
		    (const char *)&one, sizeof(one));
	return 0;
}

int
cx_sock_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect((SOCKET)fd, sa, len) == 0)
		return 0;
	set_errno_wsa();
	/* a non-blocking connect under way is WSAEWOULDBLOCK here */
	if (errno == EAGAIN)
		errno = EINPROGRESS;
	return -1;
}

int
cx_sock_error(int fd)
{
	int err = 0, sl = sizeof(err);

	if (getsockopt((SOCKET)fd, SOL_SOCKET, SO_ERROR, (char *)&err,
	    &sl) == SOCKET_ERROR) {
		set_errno_wsa();
		return errno;
	}
	if (err == 0)
		return 0;
	WSASetLastError(err);
	set_errno_wsa();
	return errno;
}

ssize_t
cx_recv(int fd, void *p, size_t n, int peek)
{
	int k = recv((SOCKET)fd, p, n > INT_MAX ? INT_MAX : (int)n,
	    peek ? MSG_PEEK : 0);

	if (k == SOCKET_ERROR) {
		set_errno_wsa();
		return -1;
	}
	return k;
}

void
cx_sock_close(int fd)
{
	if (fd >= 0)
		closesocket((SOCKET)fd);
}

int
cx_listen_loopback(int *fdp, int *portp)
{
	struct sockaddr_in sa;
	int fd, e, len = sizeof(sa);

	*fdp = -1;
	if ((fd = cx_socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return CX_ERR_IO;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind((SOCKET)fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen((SOCKET)fd, 8) != 0 ||
	    getsockname((SOCKET)fd, (struct sockaddr *)&sa, &len) != 0) {
		set_errno_wsa();
		e = errno;
		closesocket((SOCKET)fd);
		errno = e;
		return CX_ERR_IO;
	}
	if (set_nonblock(fd, 1) == -1) {
		e = errno;
		closesocket((SOCKET)fd);
		errno = e;
		return CX_ERR_IO;
	}
	*portp = ntohs(sa.sin_port);
	*fdp = fd;
	return 0;
}

int
cx_accept(int lfd, int *fdp)
{
	SOCKET s;
	int e;

	*fdp = -1;
	if ((s = accept((SOCKET)lfd, NULL, NULL)) == INVALID_SOCKET) {
		set_errno_wsa();
		if (errno == EAGAIN || errno == EINTR ||
		    errno == ECONNABORTED || errno == ECONNRESET)
			return 1;
		return CX_ERR_IO;
	}
	/* accepted sockets take the listener's non-blocking mode and
	 * inheritability: make it blocking and ours alone */
	(void)SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
	if (set_nonblock((int)s, 0) == -1) {
		e = errno;
		closesocket(s);
		errno = e;
		return CX_ERR_IO;
	}
	*fdp = (int)s;
	return 0;
}

int
cx_stderr_to_tty(void)
{
	/* Windows OpenSSH has no ControlPersist: stderr is never sent to
	 * the null device behind the user's back */
	return -1;
}

void
cx_stderr_restore(int *saved)
{
	*saved = -1;
}

int
cx_symlink(const char *target, const char *path)
{
	/* not used on Windows (agents are named pipes there) */
	(void)target;
	(void)path;
	errno = ENOSYS;
	return CX_ERR_IO;
}

void
cx_nap_ms(long ms)
{
	Sleep((DWORD)ms);
}

/* cx_os_walk below one folder (rel "" for root itself); reparse points
 * (symbolic links, junctions) are skipped as POSIX skips symlinks */
static int
walk_dir(const char *root, const char *rel,
    int (*fn)(const char *, const struct cx_os_stat *, void *), void *arg,
    int depth)
{
	char *dir = NULL, *pat = NULL, *name = NULL, *path = NULL, *sub = NULL;
	WIN32_FIND_DATAW fd;
	HANDLE h = INVALID_HANDLE_VALUE;
	struct cx_os_stat st;
	wchar_t *w = NULL;
	int r = 0;

	if (depth > 256)
		return CX_ERR_TOOBIG;
	if (*rel)
		r = cx_path_join(root, rel, &dir);
	else if ((dir = strdup(root)) == NULL)
		r = CX_ERR_NOMEM;
	if (r != 0 || (r = cx_path_join(dir, "*", &pat)) != 0 ||
	    (r = cx_win_wide(pat, &w)) != 0)
		goto out;
	if ((h = FindFirstFileW(w, &fd)) == INVALID_HANDLE_VALUE) {
		cx_error("cannot read folder '%s'", dir);
		r = CX_ERR_IO;
		goto out;
	}
	do {
		if (wcscmp(fd.cFileName, L".") == 0 ||
		    wcscmp(fd.cFileName, L"..") == 0 ||
		    (fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
			continue;
		free(name);
		free(path);
		free(sub);
		name = path = sub = NULL;
		if ((r = cx_win_utf8(fd.cFileName, &name)) != 0)
			goto out;
		if (*rel) {
			if ((r = cx_path_join(rel, name, &sub)) != 0)
				goto out;
		} else if ((sub = strdup(name)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		if ((r = cx_path_join(root, sub, &path)) != 0)
			goto out;
		if ((r = cx_os_stat_path(path, &st)) != 0) {
			cx_error("cannot stat '%s'", path);
			r = CX_ERR_IO;
			goto out;
		}
		if (!st.is_dir && !st.is_reg)
			continue;
		if ((r = fn(sub, &st, arg)) != 0)
			goto out;
		if (st.is_dir &&
		    (r = walk_dir(root, sub, fn, arg, depth + 1)) != 0)
			goto out;
	} while (FindNextFileW(h, &fd));
 out:
	if (h != INVALID_HANDLE_VALUE)
		FindClose(h);
	free(w);
	free(dir);
	free(pat);
	free(name);
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
