/*
 * Running the stages as children, backtick-style (execline's backtick.c):
 * feed a child its JSON on stdin, collect its stdout with a size cap, let
 * its stderr reach the user, and pass its exit status on.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "driver.h"

#define MAX_CHILDREN 4

static volatile sig_atomic_t sig_seen;
static volatile pid_t children[MAX_CHILDREN];

static void
on_signal(int sig)
{
	int i, saved = errno;

	sig_seen = sig;
	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			(void)cx_kill(children[i], sig);
	errno = saved;
}

void
cx_drv_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
cx_drv_signal_seen(void)
{
	return (int)sig_seen;
}

static void
track(pid_t pid, int on)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (on && children[i] == 0) {
			children[i] = pid;
			return;
		}
		if (!on && children[i] == pid) {
			children[i] = 0;
			return;
		}
	}
}

static void
close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Starts argv with stdin from infd, stdout to outfd; stderr shared. */
static int
start(char *const argv[], int infd, int outfd, pid_t *pidp)
{
	int r;

	if ((r = cx_spawn(argv, infd, outfd, pidp)) != 0)
		return r;
	track(*pidp, 1);
	return 0;
}

static void
reap(pid_t pid, int *wstatus)
{
	(void)cx_wait(pid, wstatus);
	track(pid, 0);
}

int
cx_drv_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, int *wstatus)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	const unsigned char *inp = in;
	struct pollfd pfd[2];
	unsigned char *p;
	pid_t pid = -1;
	ssize_t n;
	int r, err;

	*wstatus = -1;
	if (cx_pipe(pin) != 0 || cx_pipe(pout) != 0) {
		cx_error("cannot create a pipe: %s", strerror(errno));
		r = CX_ERR_IO;
		goto out;
	}
	if ((r = start(argv, pin[0], pout[1], &pid)) != 0)
		goto out;
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	if (in == NULL || inlen == 0)
		close_fd(&pin[1]);
	else
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	while (pout[0] != -1) {
		pfd[0].fd = pin[1];
		pfd[0].events = POLLOUT;
		pfd[1].fd = pout[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			r = CX_ERR_IO;
			break;
		}
		if (pin[1] != -1 && pfd[0].revents) {
			n = write(pin[1], inp, inlen);
			if (n > 0) {
				inp += n;
				inlen -= (size_t)n;
			}
			if (inlen == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR))
				close_fd(&pin[1]);
		}
		if (pfd[1].revents) {
			if ((p = cx_buf_reserve(out, 4096, &err)) == NULL) {
				if (err == CX_ERR_TOOBIG) {
					/* one more byte than allowed? */
					unsigned char c;
					n = read(pout[0], &c, 1);
					if (n == 0) {
						close_fd(&pout[0]);
						break;
					}
					if (n < 0 && errno == EINTR)
						continue;
				}
				r = err;
				cx_error("'%s' wrote more than %zu bytes",
				    argv[0], out->max);
				break;
			}
			n = read(pout[0], p, 4096);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close_fd(&pout[0]);
				break;
			}
			out->len += (size_t)n;
			out->data[out->len] = '\0';
		}
	}
	if (r != 0)
		(void)cx_kill(pid, SIGKILL);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	reap(pid, wstatus);
	pid = -1;
 out:
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	return r;
}

int
cx_drv_spawn(char *const argv[], const void *in, size_t inlen,
    pid_t *pidp, int *outfd)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int r;

	*pidp = -1;
	*outfd = -1;
	if (inlen > 65536)
		return CX_ERR_TOOBIG;
	if (cx_pipe(pin) != 0 || cx_pipe(pout) != 0) {
		cx_error("cannot create a pipe: %s", strerror(errno));
		r = CX_ERR_IO;
		goto out;
	}
	/* a pipe holds 64 KiB: the write cannot block */
	if (inlen > 0 && cx_write_all(pin[1], in, inlen) != 0) {
		r = CX_ERR_IO;
		goto out;
	}
	close_fd(&pin[1]);
	if ((r = start(argv, pin[0], pout[1], pidp)) != 0)
		goto out;
	*outfd = pout[0];
	pout[0] = -1; /* transferred */
 out:
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	return r;
}

int
cx_drv_collect(pid_t pid, int outfd, struct cx_buf *out, int *wstatus)
{
	int r;

	for (;;) {
		r = cx_read_fd(outfd, out->max - out->len, out);
		if (r == CX_ERR_IO && errno == EINTR)
			continue;
		break;
	}
	if (r != 0)
		(void)cx_kill(pid, SIGKILL);
	close(outfd);
	reap(pid, wstatus);
	return r;
}

int
cx_drv_exit_status(int wstatus)
{
	if (cx_wait_signal(wstatus) != 0)
		return 128 + cx_wait_signal(wstatus);
	if (cx_wait_exit(wstatus) >= 0)
		return cx_wait_exit(wstatus) >= 128 ? 128 : cx_wait_exit(wstatus);
	return 128;
}

int
cx_drv_context_fd(const void *ctx, size_t ctxlen, int *fdp)
{
	int fd = -1, r;

	*fdp = -1;
	/* cx-tunnel, exec'd next, reads it (--context-fd) */
	if ((r = cx_anon_file("cx-context", 1, &fd)) != 0)
		return r;
	if (cx_write_all(fd, ctx, ctxlen) != 0 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		cx_error("cannot write the session context: %s",
		    strerror(errno));
		close(fd);
		return CX_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

static int
needs_quotes(const char *s)
{
	if (*s == '\0')
		return 1;
	for (; *s; s++)
		if (strchr(" \t\n'\"\\$`*?[]{}()<>|&;#~!", *s) != NULL)
			return 1;
	return 0;
}

int
cx_drv_argv_str(char *const argv[], struct cx_buf *b)
{
	const char *s;
	int i, r = 0;

	for (i = 0; argv[i] != NULL && r == 0; i++) {
		if (i > 0)
			r = cx_buf_putc(b, ' ');
		if (r != 0)
			break;
		if (!needs_quotes(argv[i])) {
			r = cx_buf_puts(b, argv[i]);
			continue;
		}
		r = cx_buf_putc(b, '\'');
		for (s = argv[i]; *s && r == 0; s++)
			r = *s == '\'' ? cx_buf_puts(b, "'\\''") :
			    cx_buf_putc(b, *s);
		if (r == 0)
			r = cx_buf_putc(b, '\'');
	}
	return r;
}
