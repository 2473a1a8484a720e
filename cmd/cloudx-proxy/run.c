/*
 * Running the stages as children, backtick-style (execline's backtick.c):
 * feed a child its JSON on stdin, collect its stdout with a size cap, let
 * its stderr reach the user, and pass its exit status on.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "driver.h"

/* a stage that outlives a signal passed on to it this long is killed */
#define STOP_GRACE_MS 500

/*
 * SIGHUP, SIGINT, SIGTERM (the OS layer's self-pipe, os.h): passed on at
 * once to the running stages, and they end the waits of the driver's own
 * AWS calls (StartSession and its retries).
 */
int
cx_drv_signals_init(void)
{
	return cx_sig_catch();
}

int
cx_drv_signal_seen(void)
{
	return cx_sig_pending();
}

static void
track(pid_t pid, int on)
{
	cx_sig_forward(pid, on);
}

/*
 * A signal came while pid runs: it was passed on by the handler, but maybe
 * before the pid was tracked, so again here (once), and SIGKILL once
 * STOP_GRACE_MS have passed.  *kill_at is 0 until the first call.
 */
static void
stop_stage(pid_t pid, uint64_t *kill_at)
{
	if (*kill_at == 0) {
		(void)cx_kill(pid, cx_sig_pending());
		*kill_at = cx_now_ms() + STOP_GRACE_MS;
	} else if (cx_now_ms() >= *kill_at)
		(void)cx_kill(pid, SIGKILL);
}

static void
close_fd(int *fd)
{
	cx_os_close(fd);
}

/* Closes what is still open of a stage's two pipes. */
static void
close_pipes(int pin[2], int pout[2])
{
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
}

/* Starts argv with stdin from pin[0], stdout to pout[1]; stderr shared. */
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
	track(pid, 0);	/* not reaped yet: the pid is not reused */
	(void)cx_wait(pid, wstatus);
}

/*
 * After a signal: the stage has STOP_GRACE_MS to end (the signal was passed
 * on to it), then SIGKILL.
 */
static void
stop_and_reap(pid_t pid, int *wstatus)
{
	uint64_t kill_at = 0;
	int w;

	track(pid, 0);
	for (;;) {
		if ((w = cx_try_wait(pid, wstatus)) != 0)
			return;
		stop_stage(pid, &kill_at);
		if (cx_now_ms() >= kill_at)
			break;
		cx_nap_ms(10);
	}
	stop_stage(pid, &kill_at);
	(void)cx_wait(pid, wstatus);
}

int
cx_drv_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, int *wstatus)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	const unsigned char *inp = in;
	struct cx_os_pfd pfd[3];
	unsigned char *p;
	pid_t pid = -1;
	ssize_t n;
	int r, err, again;

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
	while (pout[0] != -1) {
		pfd[0].fd = pin[1];
		pfd[0].want = CX_OS_OUT;
		pfd[1].fd = pout[0];
		pfd[1].want = CX_OS_IN;
		pfd[2].fd = cx_sig_fd();
		pfd[2].want = CX_OS_IN;
		if (cx_sig_pending()) {
			r = CX_ERR_CANCELLED;
			break;
		}
		if (cx_os_poll(pfd, 3, -1) < 0) {
			r = CX_ERR_IO;
			break;
		}
		if (pin[1] != -1 && pfd[0].got) {
			/* PIPE_BUF bytes at most: a writable pipe takes them
			 * without blocking */
			n = cx_os_write(pin[1], inp, inlen > 512 ? 512 : inlen,
			    &again);
			if (n > 0) {
				inp += n;
				inlen -= (size_t)n;
			}
			if (inlen == 0 || n < 0)
				close_fd(&pin[1]);
		}
		if (pfd[1].got) {
			if ((p = cx_buf_reserve(out, 4096, &err)) == NULL) {
				if (err == CX_ERR_TOOBIG) {
					/* one more byte than allowed? */
					unsigned char c;
					n = cx_os_read(pout[0], &c, 1, &again);
					if (n == 0 && !again) {
						close_fd(&pout[0]);
						break;
					}
					if (again)
						continue;
				}
				r = err;
				cx_error("'%s' wrote more than %zu bytes",
				    argv[0], out->max);
				break;
			}
			n = cx_os_read(pout[0], p, 4096, &again);
			if (again)
				continue;
			if (n <= 0) {
				close_fd(&pout[0]);
				break;
			}
			out->len += (size_t)n;
			out->data[out->len] = '\0';
		}
	}
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	if (r == CX_ERR_CANCELLED)
		stop_and_reap(pid, wstatus);
	else {
		if (r != 0)
			(void)cx_kill(pid, SIGKILL);
		reap(pid, wstatus);
	}
	pid = -1;
 out:
	close_pipes(pin, pout);
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
	close_pipes(pin, pout);
	return r;
}

int
cx_drv_collect(pid_t pid, int outfd, struct cx_buf *out, int *wstatus)
{
	unsigned char *p, c;
	size_t room;
	ssize_t n;
	int r, err, again;

	for (;;) {
		if ((r = cx_wait_fd(outfd, POLLIN, UINT64_MAX)) != 0)
			break;		/* CX_ERR_CANCELLED: a signal */
		room = out->max - out->len;
		if (room > 4096)
			room = 4096;
		/* at the limit: one more byte means too big */
		if (room == 0)
			p = &c;
		else if ((p = cx_buf_reserve(out, room, &err)) == NULL) {
			r = err;
			break;
		}
		n = cx_os_read(outfd, p, room ? room : 1, &again);
		if (again)
			continue;
		if (n < 0)
			r = CX_ERR_IO;
		if (n > 0 && room == 0)
			r = CX_ERR_TOOBIG;
		if (n <= 0 || room == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
	cx_os_close(&outfd);
	if (r == CX_ERR_CANCELLED) {
		stop_and_reap(pid, wstatus);
		return r;
	}
	if (r != 0)
		(void)cx_kill(pid, SIGKILL);
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
cx_drv_stage_result(const char *prog, int r, int ws, const struct cx_buf *out,
    cJSON **docp, int *status)
{
	const char *end = NULL, *last = (const char *)out->data + out->len;
	cJSON *doc;

	if (docp != NULL)
		*docp = NULL;
	if (r != 0) {
		/* a signal to the driver stopped the stage: 128 + its number */
		if (r == CX_ERR_CANCELLED && cx_drv_signal_seen())
			*status = 128 + cx_drv_signal_seen();
		else
			*status = r == CX_ERR_NOTFOUND ? 127 : cx_exit_code(r);
		return r;
	}
	if (cx_wait_exit(ws) != 0) {
		*status = cx_drv_exit_status(ws);
		return cx_err_of_exit(*status);
	}
	doc = cJSON_ParseWithLengthOpts((const char *)out->data, out->len,
	    &end, 0);
	while (doc != NULL && end < last && strchr(" \t\r\n", *end) != NULL)
		end++;
	if (doc == NULL || !cJSON_IsObject(doc) || end != last) {
		cJSON_Delete(doc);
		cx_error("'%s' did not print a JSON object", prog);
		*status = CX_EXIT_INTERNAL;
		return CX_ERR_INTERNAL;
	}
	*status = 0;
	if (docp != NULL)
		*docp = doc;
	else
		cx_json_delete_secure(doc);
	return 0;
}

int
cx_drv_stage(char *const argv[], const struct cx_buf *in, struct cx_buf *out,
    cJSON **docp, int *status)
{
	int r, ws = 0;

	cx_buf_init(out, CX_DRV_MAX_STAGE_OUT);
	cx_buf_set_secret(out);
	r = cx_drv_run(argv, in ? in->data : NULL, in ? in->len : 0, out, &ws);
	return cx_drv_stage_result(argv[0], r, ws, out, docp, status);
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
