/*
 * The OS layer's signals, waits and name resolution (os.h): a self-pipe
 * that a caught SIGHUP, SIGINT or SIGTERM makes readable, so that every
 * wait of a single-threaded program can end on it; the resolver in a child
 * process, so that a signal or a deadline can end it too.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxerr.h"
#include "log.h"
#include "os.h"

#define SIG_MAX_CHILDREN 8

static volatile sig_atomic_t sig_caught;
static volatile pid_t sig_children[SIG_MAX_CHILDREN];
static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int i, saved = errno;

	if (sig_caught == 0)
		sig_caught = sig;
	for (i = 0; i < SIG_MAX_CHILDREN; i++)
		if (sig_children[i] > 0)
			kill(sig_children[i], sig);
	/* non-blocking: a full pipe is readable anyway */
	if (sig_pipe[1] != -1)
		(void)!write(sig_pipe[1], "s", 1);
	errno = saved;
}

int
cx_sig_catch(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa;
	sigset_t set;
	size_t i;

	if (sig_pipe[0] != -1)
		return 0;
	if (cx_pipe(sig_pipe) != 0 ||
	    fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK) == -1) {
		cx_error("cannot create a pipe: %s", strerror(errno));
		return CX_ERR_IO;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: waits return EINTR */
	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
	}
	/* taken everywhere, not only inside one wait */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

int
cx_sig_pending(void)
{
	return (int)sig_caught;
}

int
cx_sig_fd(void)
{
	return sig_pipe[0];
}

void
cx_sig_forward(pid_t pid, int on)
{
	int i;

	for (i = 0; i < SIG_MAX_CHILDREN; i++) {
		if (on && sig_children[i] == 0) {
			sig_children[i] = pid;
			return;
		}
		if (!on && sig_children[i] == pid) {
			sig_children[i] = 0;
			return;
		}
	}
}

const char *
cx_sig_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	default: return "signal";
	}
}

int
cx_wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p[2];
	uint64_t now;
	int n, np, si, tmo;
	char junk[16];

	for (;;) {
		if (sig_caught)
			return CX_ERR_CANCELLED;
		if ((now = cx_now_ms()) >= deadline)
			return CX_ERR_TIMEOUT;
		np = 0;
		si = -1;
		if (fd >= 0) {
			p[np].fd = fd;
			p[np].events = events;
			p[np++].revents = 0;
		}
		if (sig_pipe[0] != -1) {
			si = np;
			p[np].fd = sig_pipe[0];
			p[np].events = POLLIN;
			p[np++].revents = 0;
		}
		tmo = deadline - now > 86400000 ? 86400000 :
		    (int)(deadline - now);
		n = poll(p, (nfds_t)np, tmo);
		if (n < 0 && errno != EINTR)
			return CX_ERR_IO;
		if (sig_caught)
			return CX_ERR_CANCELLED;
		if (n > 0 && fd >= 0 && p[0].revents != 0)
			return 0;
		/* written by a resolver child before it reset its handlers */
		if (n > 0 && si >= 0 && p[si].revents != 0)
			(void)!read(sig_pipe[0], junk, sizeof(junk));
	}
}

int
cx_sleep_ms(long ms)
{
	int r;

	r = cx_wait_fd(-1, 0, cx_now_ms() + (uint64_t)(ms > 0 ? ms : 0));
	return r == CX_ERR_TIMEOUT ? 0 : r;
}

/* ---- resolving ---- */

/* What the resolver child writes: its getaddrinfo() answer, then n
 * addresses. */
struct resolved {
	int gai;
	int n;
	struct cx_addr a[CX_RESOLVE_MAX];
};

static void
take(const struct addrinfo *res, struct resolved *rv)
{
	const struct addrinfo *ai;

	for (ai = res; ai != NULL && rv->n < CX_RESOLVE_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(rv->a[0].sa))
			continue;
		rv->a[rv->n].family = ai->ai_family;
		rv->a[rv->n].socktype = ai->ai_socktype;
		rv->a[rv->n].protocol = ai->ai_protocol;
		rv->a[rv->n].len = ai->ai_addrlen;
		memcpy(&rv->a[rv->n].sa, ai->ai_addr, ai->ai_addrlen);
		rv->n++;
	}
}

/* In the child: resolve, write the answer, exit.  Never returns. */
static void
resolve_child(int fd, const char *host, const char *port,
    const struct addrinfo *hints)
{
	struct resolved rv;
	struct addrinfo *res = NULL;
	const unsigned char *p = (const unsigned char *)&rv;
	size_t off = 0;
	ssize_t w;

	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	memset(&rv, 0, sizeof(rv));
	if ((rv.gai = getaddrinfo(host, port, hints, &res)) == 0) {
		take(res, &rv);
		freeaddrinfo(res);
	}
	while (off < sizeof(rv)) {
		if ((w = write(fd, p + off, sizeof(rv) - off)) > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EINTR)
			break;
	}
	_exit(0);
}

int
cx_resolve(const char *host, const char *port, uint64_t deadline,
    struct cx_addr out[CX_RESOLVE_MAX], size_t *n)
{
	struct addrinfo hints, *res = NULL;
	struct resolved rv;
	unsigned char *p = (unsigned char *)&rv;
	size_t got = 0;
	ssize_t m;
	pid_t pid;
	int pfd[2] = { -1, -1 }, r, st;

	*n = 0;
	memset(&rv, 0, sizeof(rv));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	/* a literal address: nothing to wait for */
	if (getaddrinfo(host, port, &hints, &res) == 0) {
		take(res, &rv);
		freeaddrinfo(res);
		goto done;
	}
	hints.ai_flags = AI_NUMERICSERV;
	if (sig_caught)
		return CX_ERR_CANCELLED;
	if (cx_pipe(pfd) != 0) {
		cx_debug(1, "resolve: pipe: %s", strerror(errno));
		return CX_ERR_IO;
	}
	if ((pid = fork()) == -1) {
		cx_debug(1, "resolve: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return CX_ERR_IO;
	}
	if (pid == 0) {
		close(pfd[0]);
		resolve_child(pfd[1], host, port, &hints);
	}
	close(pfd[1]);
	r = 0;
	while (got < sizeof(rv)) {
		if ((r = cx_wait_fd(pfd[0], POLLIN, deadline)) != 0)
			break;
		m = read(pfd[0], p + got, sizeof(rv) - got);
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0) {
			r = CX_ERR_IO;
			break;
		}
		got += (size_t)m;
	}
	close(pfd[0]);
	if (r != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (r == CX_ERR_TIMEOUT)
		cx_debug(1, "resolve: '%s' took too long", host);
	if (r != 0)
		return r;
	if (rv.gai != 0) {
		cx_debug(1, "cannot resolve '%s': %s", host,
		    gai_strerror(rv.gai));
		return CX_ERR_NETWORK;
	}
 done:
	if (rv.n < 0 || rv.n > CX_RESOLVE_MAX)
		return CX_ERR_IO;
	memcpy(out, rv.a, (size_t)rv.n * sizeof(rv.a[0]));
	*n = (size_t)rv.n;
	return *n > 0 ? 0 : CX_ERR_NETWORK;
}
