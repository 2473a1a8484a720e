/*
 * The OS layer on Windows, continued (os.h): the socket calls (Winsock,
 * with a SOCKET carried in an int: Winsock hands out small handle values;
 * its errors turned into errno values for the callers), stderr and the
 * terminal, symbolic links, a nap.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <wincrypt.h>
#include <psapi.h>

#include <errno.h>
#include <io.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

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

/* ---- the tunnel's stdio pump ---- */

#define PUMP_CHUNK	(64 * 1024)

static struct {
	HANDLE in, out;		/* the pipes (C runtime's handles) */
	SOCKET in_peer, out_peer;	/* the threads' ends */
	HANDLE in_thread, out_thread;
	int out_fd;
} pump = { NULL, NULL, INVALID_SOCKET, INVALID_SOCKET, NULL, NULL, -1 };

/*
 * A connected pair of loopback TCP sockets (a socketpair): *ours for the
 * loop, *theirs (blocking) for a pump thread.  The accepted connection
 * must come from our own connecting socket (its address is checked), so
 * that no other local program can slip in between.
 */
static int
sock_pair(int *ours, SOCKET *theirs)
{
	struct sockaddr_in sa, local, peer;
	int lfd = -1, cfd = -1, afd = -1, port, len, r = CX_ERR_IO, k;

	*ours = -1;
	*theirs = INVALID_SOCKET;
	if (cx_listen_loopback(&lfd, &port) != 0 ||
	    (cfd = cx_socket(AF_INET, SOCK_STREAM, 0)) == -1)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((u_short)port);
	if (connect((SOCKET)cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	len = sizeof(local);
	if (getsockname((SOCKET)cfd, (struct sockaddr *)&local, &len) != 0)
		goto out;
	for (k = 0; k < 200; k++) {
		r = cx_accept(lfd, &afd);
		if (r == 1) {
			cx_nap_ms(5);
			continue;
		}
		if (r != 0)
			goto out;
		len = sizeof(peer);
		if (getpeername((SOCKET)afd, (struct sockaddr *)&peer,
		    &len) == 0 && peer.sin_port == local.sin_port &&
		    peer.sin_addr.s_addr == local.sin_addr.s_addr)
			break;
		cx_sock_close(afd);	/* not ours */
		afd = -1;
	}
	r = CX_ERR_IO;
	if (afd == -1 || cx_sock_setup(cfd, 1) != 0)
		goto out;
	*ours = cfd;
	*theirs = (SOCKET)afd;
	cfd = afd = -1;
	r = 0;
 out:
	cx_sock_close(lfd);
	cx_sock_close(cfd);
	cx_sock_close(afd);
	return r;
}

static int
send_all_sock(SOCKET s, const char *p, DWORD n)
{
	int k;

	while (n > 0) {
		if ((k = send(s, p, (int)n, 0)) == SOCKET_ERROR || k <= 0)
			return -1;
		p += k;
		n -= (DWORD)k;
	}
	return 0;
}

/* stdin pipe -> socket; EOF or an error shuts the socket for writing */
static DWORD WINAPI
pump_in(LPVOID arg)
{
	char *buf = malloc(PUMP_CHUNK);
	DWORD got;

	(void)arg;
	while (buf != NULL) {
		if (!ReadFile(pump.in, buf, PUMP_CHUNK, &got, NULL) ||
		    got == 0)
			break;
		if (send_all_sock(pump.in_peer, buf, got) != 0)
			break;
	}
	free(buf);
	shutdown(pump.in_peer, SD_SEND);
	return 0;
}

/* socket -> stdout pipe; the loop's end closing (or ssh going away)
 * ends it */
static DWORD WINAPI
pump_out(LPVOID arg)
{
	char *buf = malloc(PUMP_CHUNK);
	DWORD put, off;
	int k;

	(void)arg;
	while (buf != NULL) {
		if ((k = recv(pump.out_peer, buf, PUMP_CHUNK, 0)) <= 0)
			break;
		for (off = 0; off < (DWORD)k; off += put) {
			if (!WriteFile(pump.out, buf + off, (DWORD)k - off,
			    &put, NULL) || put == 0)
				goto done;
		}
	}
 done:
	free(buf);
	/* the loop's sends fail from now on: ssh is gone */
	closesocket(pump.out_peer);
	pump.out_peer = INVALID_SOCKET;
	if (pump.out_fd >= 0) {
		_close(pump.out_fd);	/* EOF for ssh */
		pump.out_fd = -1;
	}
	return 0;
}

int
cx_stdio_pump(int in_fd, int out_fd, int *in_sock, int *out_sock)
{
	*in_sock = *out_sock = -1;
	pump.in = (HANDLE)_get_osfhandle(in_fd);
	pump.out = (HANDLE)_get_osfhandle(out_fd);
	pump.out_fd = out_fd;
	if (pump.in == INVALID_HANDLE_VALUE ||
	    pump.out == INVALID_HANDLE_VALUE ||
	    sock_pair(in_sock, &pump.in_peer) != 0 ||
	    sock_pair(out_sock, &pump.out_peer) != 0)
		goto fail;
	/* the loop only reads the one and writes the other */
	shutdown((SOCKET)*in_sock, SD_SEND);
	if ((pump.in_thread = CreateThread(NULL, 0, pump_in, NULL, 0,
	    NULL)) == NULL ||
	    (pump.out_thread = CreateThread(NULL, 0, pump_out, NULL, 0,
	    NULL)) == NULL)
		goto fail;
	return 0;
 fail:
	errno = EIO;
	cx_sock_close(*in_sock);
	cx_sock_close(*out_sock);
	*in_sock = *out_sock = -1;
	return CX_ERR_IO;
}

void
cx_stdio_pump_end(int out_sock, int timeout_ms)
{
	if (pump.out_thread == NULL)
		return;
	/* the thread writes out what is left, then sees the end */
	if (out_sock >= 0)
		shutdown((SOCKET)out_sock, SD_SEND);
	WaitForSingleObject(pump.out_thread, (DWORD)timeout_ms);
}

/* ---- TLS: the Windows certificate store ---- */

int
cx_tls_system_roots(void *store)
{
	const unsigned char *p;
	PCCERT_CONTEXT cc = NULL;
	HCERTSTORE hs;
	X509 *x;
	int n = 0;

	if ((hs = CertOpenSystemStoreW(0, L"ROOT")) == NULL)
		return 0;
	while ((cc = CertEnumCertificatesInStore(hs, cc)) != NULL) {
		p = cc->pbCertEncoded;
		if ((x = d2i_X509(NULL, &p, (long)cc->cbCertEncoded)) == NULL) {
			ERR_clear_error();
			continue;
		}
		if (X509_STORE_add_cert((X509_STORE *)store, x) == 1)
			n++;
		X509_free(x);
	}
	CertCloseStore(hs, 0);
	return n;
}

int
cx_tls_native_ca(void)
{
	return 1;
}

/* ---- usage ---- */

static int64_t
ft_us(const FILETIME *ft)
{
	ULARGE_INTEGER v;

	v.LowPart = ft->dwLowDateTime;
	v.HighPart = ft->dwHighDateTime;
	return (int64_t)(v.QuadPart / 10);	/* 100 ns units */
}

int
cx_usage(int children, struct cx_usage *u)
{
	FILETIME c, e, k, us;
	PROCESS_MEMORY_COUNTERS pm;

	memset(u, 0, sizeof(*u));
	if (children)
		return CX_ERR_IO;
	if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &us))
		return CX_ERR_IO;
	u->user_us = ft_us(&us);
	u->sys_us = ft_us(&k);
	memset(&pm, 0, sizeof(pm));
	pm.cb = sizeof(pm);
	if (GetProcessMemoryInfo(GetCurrentProcess(), &pm, sizeof(pm)))
		u->maxrss_kib = (long)(pm.PeakWorkingSetSize / 1024);
	return 0;
}

/* ---- name resolution ---- */

int
cx_resolve(const char *host, const char *port, uint64_t deadline,
    struct cx_addr out[CX_RESOLVE_MAX], size_t *n)
{
	struct addrinfo hints, *res = NULL, *ai;
	int e;

	*n = 0;
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
	if (cx_now_ms() >= deadline)
		return CX_ERR_TIMEOUT;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	/* Windows' resolver in this thread: a literal returns at once; a
	 * name is bounded by the system's own timeouts (not by deadline,
	 * which is checked again after it) */
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		hints.ai_flags = 0;
		e = getaddrinfo(host, port, &hints, &res);
	}
	if (e != 0) {
		cx_debug(1, "cannot resolve '%s': %s", host,
		    gai_strerrorA(e));
		return CX_ERR_NETWORK;
	}
	for (ai = res; ai != NULL && *n < CX_RESOLVE_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(out[*n].sa))
			continue;
		out[*n].family = ai->ai_family;
		out[*n].socktype = ai->ai_socktype;
		out[*n].protocol = ai->ai_protocol;
		out[*n].len = (socklen_t)ai->ai_addrlen;
		memcpy(&out[*n].sa, ai->ai_addr, ai->ai_addrlen);
		(*n)++;
	}
	freeaddrinfo(res);
	if (cx_sig_pending())
		return CX_ERR_CANCELLED;
	if (*n == 0)
		return CX_ERR_NETWORK;
	return cx_now_ms() >= deadline ? CX_ERR_TIMEOUT : 0;
}
