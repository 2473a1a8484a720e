/*
 * The OS layer on POSIX systems, continued (os.h): the socket calls (the
 * plain BSD ones; os_more_win.c has Winsock's), stderr moved to the
 * terminal, symbolic links, a nap that signals do not cut short.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cxerr.h"
#include "os.h"

int
cx_sig_sock(void)
{
	return cx_sig_fd();
}

static int
cloexec_nonblock(int fd, int nonblock)
{
	int fl;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

int
cx_sock_setup(int fd, int nodelay)
{
	int one = 1;

	if (cloexec_nonblock(fd, 1) == -1)
		return -1;
	/* not fatal: only latency */
	if (nodelay)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return 0;
}

int
cx_sock_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return connect(fd, sa, len);
}

int
cx_sock_error(int fd)
{
	socklen_t sl = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		return errno;
	return err;
}

ssize_t
cx_recv(int fd, void *p, size_t n, int peek)
{
	return recv(fd, p, n, peek ? MSG_PEEK : 0);
}

void
cx_sock_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

int
cx_listen_loopback(int *fdp, int *portp)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, e;

	*fdp = -1;
	if ((fd = cx_socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return CX_ERR_IO;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1 ||
	    cloexec_nonblock(fd, 1) == -1) {
		e = errno;
		close(fd);
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
	int fd;

	*fdp = -1;
	if ((fd = accept(lfd, NULL, NULL)) == -1) {
		if (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK || errno == ECONNABORTED)
			return 1;
		return CX_ERR_IO;
	}
	/* a BSD socket inherits O_NONBLOCK from the listener */
	if (cloexec_nonblock(fd, 0) == -1) {
		close(fd);
		return CX_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

int
cx_stderr_to_tty(void)
{
	struct stat st, dn;
	int tty, saved;

	if (fstat(STDERR_FILENO, &st) == -1 || !S_ISCHR(st.st_mode) ||
	    stat("/dev/null", &dn) == -1 || st.st_rdev != dn.st_rdev)
		return -1;
	if ((tty = open("/dev/tty", O_WRONLY | O_NOCTTY)) == -1)
		return -1;
	(void)fcntl(tty, F_SETFD, FD_CLOEXEC);
	saved = fcntl(STDERR_FILENO, F_DUPFD, 3);
	if (saved == -1 || fcntl(saved, F_SETFD, FD_CLOEXEC) == -1 ||
	    dup2(tty, STDERR_FILENO) == -1) {
		if (saved != -1)
			close(saved);
		close(tty);
		return -1;
	}
	close(tty);
	return saved;
}

void
cx_stderr_restore(int *saved)
{
	if (*saved == -1)
		return;
	(void)dup2(*saved, STDERR_FILENO);
	close(*saved);
	*saved = -1;
}

int
cx_symlink(const char *target, const char *path)
{
	return symlink(target, path) == 0 ? 0 : CX_ERR_IO;
}

void
cx_nap_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	/* an interruption ends it early; the callers loop */
	(void)nanosleep(&ts, NULL);
}

/* stdout's flags before cx_stdio_pump made it non-blocking, or -1 */
static int pump_out_fd = -1, pump_out_fl = -1;

int
cx_stdio_pump(int in_fd, int out_fd, int *in_sock, int *out_sock)
{
	int fl;

	*in_sock = in_fd;
	*out_sock = out_fd;
	/* writes to stdout must not block the loop (a terminal is left
	 * alone: its flags are shared with the shell) */
	if ((fl = fcntl(out_fd, F_GETFL)) != -1 && !isatty(out_fd) &&
	    fcntl(out_fd, F_SETFL, fl | O_NONBLOCK) != -1) {
		pump_out_fd = out_fd;
		pump_out_fl = fl;
	}
	return 0;
}

void
cx_stdio_pump_end(int out_sock, int timeout_ms)
{
	(void)out_sock;
	(void)timeout_ms;
	if (pump_out_fd != -1)
		(void)fcntl(pump_out_fd, F_SETFL, pump_out_fl);
	pump_out_fd = pump_out_fl = -1;
}

int
cx_tls_system_roots(void *store)
{
	(void)store;
	return 0;
}

int
cx_tls_native_ca(void)
{
	return 0;
}

int
cx_usage(int children, struct cx_usage *u)
{
	struct rusage ru;

	memset(u, 0, sizeof(*u));
	if (getrusage(children ? RUSAGE_CHILDREN : RUSAGE_SELF, &ru) != 0)
		return CX_ERR_IO;
	u->user_us = (int64_t)ru.ru_utime.tv_sec * 1000000 +
	    ru.ru_utime.tv_usec;
	u->sys_us = (int64_t)ru.ru_stime.tv_sec * 1000000 +
	    ru.ru_stime.tv_usec;
	u->maxrss_kib = ru.ru_maxrss;
	return 0;
}

int
cx_fd_pass_arg(int fd, char out[32])
{
	snprintf(out, 32, "%d", fd);
	return 0;
}

int
cx_fd_from_arg(const char *s, int *fdp)
{
	long long v;

	*fdp = -1;
	if (cx_strtonum(s, 0, 1 << 20, &v) != 0)
		return CX_ERR_INPUT;
	*fdp = (int)v;
	return 0;
}
