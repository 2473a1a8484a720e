/*
 * The loopback end of the authorization-code flow: one listener on
 * 127.0.0.1, the browser's redirect to /oauth/callback read with a
 * deadline, the state checked, a small page answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/text.h"
#include "core/wipe.h"
#include "sso_login.h"

#define REQ_MAX		(16 * 1024)	/* one request's head */
#define REQ_WAIT_MS	5000		/* for a connected browser's request */

int
cx_sso_listen(int *fdp, int *portp)
{
	if (cx_listen_loopback(fdp, portp) != 0) {
		cx_error("cannot listen on 127.0.0.1 for the login: %s",
		    strerror(errno));
		return CX_ERR_IO;
	}
	return 0;
}

/* Writes all of p to the (blocking) socket fd; errors are dropped (the
 * browser went away). */
static void
send_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t w;

	while (n > 0) {
		if ((w = cx_send(fd, p, n)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
answer(int fd, int status, const char *title, const char *text)
{
	struct cx_buf b;
	char body[1024];
	int n;

	n = snprintf(body, sizeof(body), "<!DOCTYPE html>\n<html><head>"
	    "<meta charset=\"utf-8\"><title>%s</title></head><body>"
	    "<h1>%s</h1><p>%s</p></body></html>\n", title, title, text);
	if (n < 0 || (size_t)n >= sizeof(body))
		return;
	cx_buf_init(&b, 4096);
	if (cx_buf_printf(&b, "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Length: %d\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n%s", status, status == 200 ? "OK" :
	    status == 404 ? "Not Found" : "Bad Request", n, body) == 0)
		send_all(fd, b.data, b.len);
	cx_buf_clean_up(&b);
}

/* Reads the request head from a connected browser into b (secret). */
static int
read_head(int fd, struct cx_buf *b, uint64_t deadline)
{
	uint64_t until = cx_now_ms() + REQ_WAIT_MS;
	unsigned char *p;
	ssize_t n;
	int r;

	if (until > deadline)
		until = deadline;
	while (b->len < 2 ||
	    (cx_memmem(b->data, b->len, "\r\n\r\n", 4) == NULL &&
	    cx_memmem(b->data, b->len, "\n\n", 2) == NULL)) {
		if ((r = cx_wait_fd(fd, POLLIN, until)) != 0)
			return r;
		if ((p = cx_buf_reserve(b, 1024, &r)) == NULL)
			return r;
		n = cx_recv(fd, p, 1024, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return CX_ERR_IO;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
	return 0;
}

/* The value of name in the query q (decoded, malloc'd), or NULL. */
static char *
query_get(const char *q, const char *name)
{
	size_t nl = strlen(name), vl;
	const char *p = q, *amp;
	char *raw, *dec;
	int outlen;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		vl = amp ? (size_t)(amp - p) : strlen(p);
		if (vl > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if ((raw = strndup(p + nl + 1, vl - nl - 1)) == NULL)
				return NULL;
			/* '+' is a space in a form query */
			for (dec = raw; *dec; dec++)
				if (*dec == '+')
					*dec = ' ';
			dec = curl_easy_unescape(NULL, raw, 0, &outlen);
			cx_freezero_str(raw);
			if (dec == NULL)
				return NULL;
			raw = strdup(dec);
			cx_wipe(dec, (size_t)outlen);
			curl_free(dec);
			return raw;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/*
 * One connected browser: 1 when it was not the callback (answered 404),
 * 0 with *codep on success, else an error (said).
 */
static int
one_request(int cfd, const char *state, uint64_t deadline, char **codep)
{
	struct cx_buf b;
	char *line = NULL, *q, *sp, *err = NULL, *st = NULL, *code = NULL;
	char *safe = NULL;
	const char *target;
	int r;

	cx_buf_init(&b, REQ_MAX);
	cx_buf_set_secret(&b);
	if ((r = read_head(cfd, &b, deadline)) != 0) {
		/* a browser that connected and said nothing: waited past */
		r = r == CX_ERR_CANCELLED ? r : 1;
		goto out;
	}
	if ((line = strndup(cx_buf_str(&b), strcspn(cx_buf_str(&b),
	    "\r\n"))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (strncmp(line, "GET ", 4) != 0 || (sp = strchr(line + 4, ' ')) ==
	    NULL) {
		answer(cfd, 404, "Not found", "This is the cloudx-proxy login.");
		r = 1;
		goto out;
	}
	*sp = '\0';
	target = line + 4;
	q = strchr(target, '?');
	if (strncmp(target, "/oauth/callback", 15) != 0 ||
	    (target[15] != '\0' && target[15] != '?')) {
		answer(cfd, 404, "Not found", "This is the cloudx-proxy login.");
		r = 1;
		goto out;
	}
	q = q ? q + 1 : "";
	err = query_get(q, "error");
	st = query_get(q, "state");
	code = query_get(q, "code");
	if (err != NULL) {
		safe = cx_text_safe_dup(err, 100);
		answer(cfd, 400, "Login refused", "The sign-in was refused. "
		    "You can close this window.");
		cx_error("the sign-in was refused: %s", safe ? safe : "error");
		r = CX_ERR_DENIED;
		goto out;
	}
	if (st == NULL || strcmp(st, state) != 0) {
		answer(cfd, 400, "Login failed", "The answer did not match "
		    "this login. You can close this window.");
		cx_error("refused a login redirect with a %s state",
		    st == NULL ? "missing" : "wrong");
		r = CX_ERR_INPUT;
		goto out;
	}
	if (code == NULL || *code == '\0') {
		answer(cfd, 400, "Login failed", "No authorization code came. "
		    "You can close this window.");
		cx_error("refused a login redirect without a code");
		r = CX_ERR_INPUT;
		goto out;
	}
	answer(cfd, 200, "Login complete", "cloudx-proxy is logged in. "
	    "You can close this window.");
	*codep = code;
	code = NULL;	/* transferred */
	r = 0;
 out:
	if (code != NULL)
		cx_freezero_str(code);
	free(err);
	free(st);
	free(safe);
	if (line != NULL)
		cx_freezero_str(line);
	cx_buf_clean_up(&b);
	return r;
}

int
cx_sso_wait_callback(int fd, const char *state, uint64_t deadline,
    char **codep)
{
	int cfd, r;

	*codep = NULL;
	for (;;) {
		if ((r = cx_wait_fd(fd, POLLIN, deadline)) != 0) {
			if (r == CX_ERR_TIMEOUT) {
				cx_error("no answer came from the browser in "
				    "time; try 'login --no-browser'");
				r = CX_ERR_DEADLINE;
			}
			return r;
		}
		if ((r = cx_accept(fd, &cfd)) == 1)
			continue;
		if (r != 0) {
			cx_error("login listener: %s", strerror(errno));
			return CX_ERR_IO;
		}
		r = one_request(cfd, state, deadline, codep);
		cx_sock_close(cfd);
		if (r != 1)
			return r;
	}
}
