/*
 * The websocket transport on a plain socket, with OpenSSL for TLS and an
 * HTTP CONNECT tunnel through the proxy the environment names (curl's
 * variables and rules).  No libcurl: cx-tunnel, the long-lived relay, must
 * stay small (linking libcurl alone costs about 7 MiB of RSS).
 *
 * The socket code is kept to a few static functions (sock_*) so that a
 * Windows port only has to replace those.
 */
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ws.h"
#include "ws_tls.h"

#define DEFAULT_CONNECT_MS	30000L

struct cx_ws_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int read_wants_write;	/* the last SSL_read needs the socket writable */
	int write_wants_read;	/* the last SSL_write needs it readable */
};

/* ---- pure parts (lib/ssm/ws_tls.h) ---- */

void
cx_ws_addr_clean_up(struct cx_ws_addr *a)
{
	free(a->host);
	cx_freezero_str(a->user);
	cx_freezero_str(a->pass);
	memset(a, 0, sizeof(*a));
}

static int
is_ip_literal(const char *host)
{
	/* OpenSSL's parser: the same on every system */
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

	if (ip == NULL) {
		ERR_clear_error();
		return 0;
	}
	ASN1_OCTET_STRING_free(ip);
	return 1;
}

/* Parses "host[:port]" or "[v6][:port]" in s[0..n) into a. */
static int
parse_hostport(const char *s, size_t n, const char *defport,
    struct cx_ws_addr *a)
{
	const char *h = s, *p = NULL, *e = s + n;
	size_t hl, pl, i;
	unsigned long v = 0;

	if (n > 0 && s[0] == '[') {
		h = s + 1;
		if ((p = memchr(h, ']', n - 1)) == NULL)
			return CX_ERR_INPUT;
		hl = (size_t)(p - h);
		p++;
		if (p < e && *p != ':')
			return CX_ERR_INPUT;
	} else {
		p = memchr(s, ':', n);
		hl = p != NULL ? (size_t)(p - s) : n;
		if (p == NULL)
			p = e;
	}
	if (hl == 0 || hl > 253)
		return CX_ERR_INPUT;
	for (i = 0; i < hl; i++)
		if ((unsigned char)h[i] <= 0x20 || h[i] == 0x7f ||
		    h[i] == '/' || h[i] == '@' || h[i] == '[' || h[i] == ']' ||
		    (s[0] != '[' && h[i] == ':'))
			return CX_ERR_INPUT;
	if (p < e) {
		p++;	/* the ':' */
		pl = (size_t)(e - p);
		if (pl == 0 || pl > 5)
			return CX_ERR_INPUT;
		for (i = 0; i < pl; i++) {
			if (p[i] < '0' || p[i] > '9')
				return CX_ERR_INPUT;
			v = v * 10 + (unsigned long)(p[i] - '0');
		}
		if (v == 0 || v > 65535)
			return CX_ERR_INPUT;
		memcpy(a->port, p, pl);
		a->port[pl] = '\0';
	} else
		memcpy(a->port, defport, strlen(defport) + 1);
	if ((a->host = strndup(h, hl)) == NULL)
		return CX_ERR_NOMEM;
	/* a bracketed host must be an IPv6 literal */
	if (s[0] == '[' && !is_ip_literal(a->host)) {
		free(a->host);
		a->host = NULL;
		return CX_ERR_INPUT;
	}
	return 0;
}

int
cx_ws_addr_parse(const char *url, struct cx_ws_addr *a)
{
	static const struct {
		const char *scheme, *port;
		int tls;
	} sch[] = {
		{ "https://", "443", 1 }, { "http://", "80", 0 },
		{ "wss://", "443", 1 }, { "ws://", "80", 0 },
	};
	const char *rest = NULL;
	size_t i;
	int r;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < sizeof(sch) / sizeof(sch[0]); i++) {
		if (strncasecmp(url, sch[i].scheme, strlen(sch[i].scheme))
		    == 0) {
			rest = url + strlen(sch[i].scheme);
			break;
		}
	}
	if (rest == NULL)
		return CX_ERR_INPUT;
	a->tls = sch[i].tls;
	if ((r = parse_hostport(rest, strcspn(rest, "/?#"), sch[i].port,
	    a)) != 0)
		cx_ws_addr_clean_up(a);
	return r;
}

/* Percent-decodes s[0..n) into a new string (NUL bytes refused). */
static int
pct_decode(const char *s, size_t n, char **out)
{
	char *d;
	size_t i, j = 0;
	int hi, lo;

	*out = NULL;
	if ((d = malloc(n + 1)) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n) {
				cx_freezero(d, n + 1);
				return CX_ERR_INPUT;
			}
			if ((hi = cx_hexval(s[i + 1])) < 0 ||
			    (lo = cx_hexval(s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0)) {
				cx_freezero(d, n + 1);
				return CX_ERR_INPUT;
			}
			d[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			d[j++] = s[i];
	}
	d[j] = '\0';
	*out = d;
	return 0;
}

int
cx_ws_proxy_parse(const char *url, struct cx_ws_addr *a)
{
	const char *s = url, *at, *colon, *e;
	size_t n;
	int r;

	memset(a, 0, sizeof(*a));
	if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	else if (strstr(s, "://") != NULL)
		return CX_ERR_INPUT;	/* https, socks5, ...: not supported */
	n = strcspn(s, "/?#");
	for (e = s + n; *e == '/'; e++)
		;
	if (*e != '\0')
		return CX_ERR_INPUT;	/* a path: not a proxy URL */
	/* the last '@' ends the userinfo (a password may hold '@' encoded
	 * or not) */
	at = NULL;
	for (e = s; e < s + n; e++)
		if (*e == '@')
			at = e;
	if (at != NULL) {
		colon = memchr(s, ':', (size_t)(at - s));
		if ((r = pct_decode(s, (size_t)((colon ? colon : at) - s),
		    &a->user)) != 0)
			goto fail;
		if ((r = pct_decode(colon ? colon + 1 : at, colon ?
		    (size_t)(at - colon - 1) : 0, &a->pass)) != 0)
			goto fail;
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if ((r = parse_hostport(s, n, CX_WS_PROXY_DEFAULT_PORT, a)) != 0)
		goto fail;
	return 0;
 fail:
	cx_ws_addr_clean_up(a);
	return r;
}

int
cx_ws_no_proxy_match(const char *no_proxy, const char *host)
{
	const char *p = no_proxy, *s, *e, *c;
	size_t hl = strlen(host), el;
	int ip = is_ip_literal(host);

	if (no_proxy == NULL)
		return 0;
	while (*p != '\0') {
		s = p;
		e = s + strcspn(s, ",");
		p = *e == ',' ? e + 1 : e;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e - s == 1 && *s == '*')
			return 1;
		if (s < e && *s == '[') {
			/* [v6] or [v6]:port */
			if ((c = memchr(s, ']', (size_t)(e - s))) == NULL)
				continue;
			s++;
			e = c;
		} else if ((c = memchr(s, ':', (size_t)(e - s))) != NULL &&
		    memchr(c + 1, ':', (size_t)(e - c - 1)) == NULL)
			e = c;	/* name:port or v4:port */
		if (!ip && s < e && *s == '.')
			s++;
		el = (size_t)(e - s);
		if (el == 0)
			continue;
		if (el == hl && strncasecmp(s, host, el) == 0)
			return 1;
		if (!ip && hl > el && host[hl - el - 1] == '.' &&
		    strncasecmp(s, host + hl - el, el) == 0)
			return 1;
	}
	return 0;
}

const char *
cx_ws_proxy_env(int tls, const char **var)
{
	static const char *const tls_vars[] = { "https_proxy", "HTTPS_PROXY",
	    "all_proxy", "ALL_PROXY", NULL };
	static const char *const plain_vars[] = { "http_proxy", "all_proxy",
	    "ALL_PROXY", NULL };
	const char *const *v = tls ? tls_vars : plain_vars;
	const char *val;

	for (; *v != NULL; v++) {
		if ((val = getenv(*v)) != NULL && *val != '\0') {
			if (var != NULL)
				*var = *v;
			return val;
		}
	}
	return NULL;
}

int
cx_ws_connect_request(const struct cx_ws_addr *target,
    const struct cx_ws_addr *proxy, struct cx_buf *out)
{
	const char *lb = "", *rb = "";
	unsigned char *cred = NULL, *b64 = NULL;
	size_t ul, pl, cl = 0, bl = 0;
	int r;

	if (strchr(target->host, ':') != NULL) {
		lb = "[";
		rb = "]";
	}
	if ((r = cx_buf_printf(out, "CONNECT %s%s%s:%s HTTP/1.1\r\n"
	    "Host: %s%s%s:%s\r\n", lb, target->host, rb, target->port,
	    lb, target->host, rb, target->port)) != 0)
		return r;
	if (proxy->user != NULL) {
		cx_buf_set_secret(out);
		ul = strlen(proxy->user);
		pl = proxy->pass != NULL ? strlen(proxy->pass) : 0;
		cl = ul + 1 + pl;
		bl = 4 * ((cl + 2) / 3) + 1;
		if (cl > 4096) {
			r = CX_ERR_TOOBIG;
			goto out;
		}
		if ((cred = malloc(cl)) == NULL || (b64 = malloc(bl)) == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		memcpy(cred, proxy->user, ul);
		cred[ul] = ':';
		if (pl > 0)
			memcpy(cred + ul + 1, proxy->pass, pl);
		EVP_EncodeBlock(b64, cred, (int)cl);
		if ((r = cx_buf_puts(out, "Proxy-Authorization: Basic ")) != 0 ||
		    (r = cx_buf_puts(out, (const char *)b64)) != 0 ||
		    (r = cx_buf_puts(out, "\r\n")) != 0)
			goto out;
	}
	r = cx_buf_puts(out, "\r\n");
 out:
	cx_freezero(cred, cl);
	cx_freezero(b64, bl);
	return r;
}

int
cx_ws_proxy_answer(const void *p, size_t n, int *status)
{
	const char *s = p, *nl, *e;
	size_t i, lim = n < CX_WS_MAX_PROXY_ANSWER ? n :
	    CX_WS_MAX_PROXY_ANSWER;
	int v;

	*status = 0;
	/* the status line, checked as soon as it is complete */
	if ((nl = memchr(s, '\n', lim)) != NULL) {
		if (nl - s < 12 || strncmp(s, "HTTP/1.", 7) != 0 ||
		    (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
		    !isdigit((unsigned char)s[9]) ||
		    !isdigit((unsigned char)s[10]) ||
		    !isdigit((unsigned char)s[11]) ||
		    (nl - s > 12 && s[12] != ' ' && s[12] != '\r'))
			return CX_ERR_PROTOCOL;
		v = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
		if (v < 100)
			return CX_ERR_PROTOCOL;
		/* the end: an empty line (CRLF or a bare LF) */
		for (i = (size_t)(nl - s) + 1; i < lim; i++) {
			if (s[i] != '\n')
				continue;
			e = s + i;
			if (e[-1] == '\n' || (e[-1] == '\r' && e - 1 > s &&
			    e[-2] == '\n')) {
				*status = v;
				return (int)(i + 1);
			}
		}
	}
	return n >= CX_WS_MAX_PROXY_ANSWER ? CX_ERR_TOOBIG : 0;
}

/* ---- sockets ---- */

static int
sock_would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static void
sock_close(int fd)
{
	cx_sock_close(fd);
}

static int
sock_setup(int fd)
{
	return cx_sock_setup(fd, 1);
}

/* Waits for ev on fd until deadline: 0, CX_ERR_TIMEOUT, CX_ERR_CANCELLED
 * (a signal: os.h) or CX_ERR_NETWORK. */
static int
sock_wait(int fd, short ev, uint64_t deadline)
{
	int r;

	if ((r = cx_wait_fd(fd, ev, deadline)) == CX_ERR_IO) {
		cx_debug(1, "websocket: poll: %s", strerror(errno));
		return CX_ERR_NETWORK;
	}
	return r;
}

/* One address: non-blocking connect, bounded by deadline. */
static int
sock_connect_one(const struct cx_addr *ai, uint64_t deadline, int *fdp)
{
	int fd, err = 0, r;

	*fdp = -1;
	if ((fd = cx_socket(ai->family, ai->socktype, ai->protocol)) == -1) {
		cx_debug(1, "websocket: socket: %s", strerror(errno));
		return CX_ERR_NETWORK;
	}
	if (sock_setup(fd) != 0) {
		cx_debug(1, "websocket: socket setup: %s", strerror(errno));
		sock_close(fd);
		return CX_ERR_NETWORK;
	}
	if (cx_sock_connect(fd, (const struct sockaddr *)&ai->sa,
	    ai->len) == 0) {
		*fdp = fd;
		return 0;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		goto fail;
	}
	if ((r = sock_wait(fd, POLLOUT, deadline)) != 0) {
		sock_close(fd);
		return r;
	}
	if ((err = cx_sock_error(fd)) == 0) {
		*fdp = fd;
		return 0;
	}
 fail:
	cx_debug(1, "websocket: connect: %s", strerror(err));
	sock_close(fd);
	return CX_ERR_NETWORK;
}

/* TCP to host:port, trying each address; the last gets what is left of
 * the time, the others half of it each.  The name is resolved within the
 * same deadline, and a signal ends the resolving too (cx_resolve). */
static int
tcp_connect(const char *host, const char *port, uint64_t deadline,
    int *fdp)
{
	struct cx_addr *addrs;
	uint64_t now, until;
	size_t i, n = 0;
	int r;

	*fdp = -1;
	if ((addrs = calloc(CX_RESOLVE_MAX, sizeof(*addrs))) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_resolve(host, port, deadline, addrs, &n)) != 0) {
		if (r == CX_ERR_IO)
			r = CX_ERR_NETWORK;
		goto out;
	}
	r = CX_ERR_NETWORK;
	for (i = 0; i < n; i++) {
		if ((now = cx_now_ms()) >= deadline) {
			r = CX_ERR_TIMEOUT;
			break;
		}
		until = i + 1 < n ? now + (deadline - now) / 2 : deadline;
		if ((r = sock_connect_one(&addrs[i], until, fdp)) == 0 ||
		    r == CX_ERR_CANCELLED)
			break;
		if (r == CX_ERR_TIMEOUT && i + 1 == n)
			break;
	}
 out:
	free(addrs);
	if (r == CX_ERR_TIMEOUT)
		cx_debug(1, "websocket: connecting to '%s' port %s timed out",
		    host, port);
	return r;
}

/* Writes all of p (non-blocking socket) before deadline. */
static int
sock_send_all(int fd, const void *p, size_t n, uint64_t deadline)
{
	const unsigned char *c = p;
	ssize_t w;
	int r;

	while (n > 0) {
		if ((w = cx_send(fd, c, n)) > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && !sock_would_block()) {
			cx_debug(1, "websocket: send to the proxy: %s",
			    strerror(errno));
			return CX_ERR_NETWORK;
		}
		if ((r = sock_wait(fd, POLLOUT, deadline)) != 0)
			return r;
	}
	return 0;
}

/*
 * Reads the proxy's answer: each time the socket is readable, peeks at
 * what arrived and takes it, but never past the end of the answer head
 * (the bytes after it belong to the tunnel).
 */
static int
read_proxy_answer(int fd, uint64_t deadline, int *status)
{
	unsigned char *a;
	size_t len = 0;
	ssize_t n, m;
	int r;

	if ((a = malloc(CX_WS_MAX_PROXY_ANSWER)) == NULL)
		return CX_ERR_NOMEM;
	for (;;) {
		if ((r = sock_wait(fd, POLLIN, deadline)) != 0)
			goto out;
		n = cx_recv(fd, a + len, CX_WS_MAX_PROXY_ANSWER - len, 1);
		if (n < 0 && sock_would_block())
			continue;
		if (n <= 0) {
			cx_debug(1, "websocket: the proxy closed the "
			    "connection: %s", n < 0 ? strerror(errno) :
			    "end of stream");
			r = CX_ERR_NETWORK;
			goto out;
		}
		r = cx_ws_proxy_answer(a, len + (size_t)n, status);
		if (r < 0)
			goto out;
		if (r > 0)
			n = (ssize_t)((size_t)r - len);
		/* take what we peeked (or up to the end of the head) */
		while (n > 0) {
			m = cx_recv(fd, a + len, (size_t)n, 0);
			if (m <= 0) {
				if (m < 0 && sock_would_block())
					continue;
				r = CX_ERR_NETWORK;
				goto out;
			}
			len += (size_t)m;
			n -= m;
		}
		if (r > 0) {
			cx_debug(2, "websocket: proxy answer: %.*s",
			    (int)strcspn((char *)a, "\r\n"), (char *)a);
			r = 0;
			goto out;
		}
	}
 out:
	free(a);
	return r;
}

static int
proxy_connect(int fd, const struct cx_ws_addr *target,
    const struct cx_ws_addr *proxy, uint64_t deadline, int *fatal)
{
	struct cx_buf req;
	int r, status = 0;

	cx_buf_init(&req, 8192);
	if ((r = cx_ws_connect_request(target, proxy, &req)) != 0)
		goto out;
	if ((r = sock_send_all(fd, req.data, req.len, deadline)) != 0)
		goto out;
	cx_buf_clean_up(&req);	/* wipes the Proxy-Authorization */
	if ((r = read_proxy_answer(fd, deadline, &status)) != 0) {
		if (r == CX_ERR_TOOBIG || r == CX_ERR_PROTOCOL) {
			cx_error("proxy '%s': unreadable answer to CONNECT "
			    "(malformed, or over %d bytes)", proxy->host,
			    CX_WS_MAX_PROXY_ANSWER);
			*fatal = 1;
			r = CX_ERR_NETWORK;
		}
		goto out;
	}
	if (status < 200 || status > 299) {
		cx_error("proxy '%s' refused the tunnel: HTTP %d%s",
		    proxy->host, status, status == 407 ? (proxy->user ?
		    " (wrong proxy credentials)" : " (the proxy wants "
		    "credentials)") : "");
		/* the proxy's policy or our credentials: retrying is useless;
		 * a 5xx (cannot reach the target) may pass */
		if (status < 500)
			*fatal = 1;
		r = CX_ERR_NETWORK;
	}
 out:
	cx_buf_clean_up(&req);
	return r;
}

/* ---- TLS ---- */

/* Whether dir looks like an OpenSSL hashed certificate folder (holds a
 * "xxxxxxxx.N" link): then certificates are read lazily, one per
 * issuer looked up, not the whole bundle (about 1.4 MiB of RSS). */
static int
hashed_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	size_t i;
	int yes = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!yes && (de = readdir(d)) != NULL) {
		for (i = 0; i < 8 && isxdigit((unsigned char)de->d_name[i]);
		    i++)
			;
		yes = i == 8 && de->d_name[8] == '.' &&
		    isdigit((unsigned char)de->d_name[9]);
	}
	closedir(d);
	return yes;
}

static void
tls_log_errors(const char *what, const char *host)
{
	unsigned long e;
	char b[256];

	if ((e = ERR_peek_last_error()) == 0) {
		cx_debug(1, "websocket: %s with '%s' failed", what, host);
		return;
	}
	ERR_error_string_n(e, b, sizeof(b));
	/* cx-tunnel does not load OpenSSL's error texts (cx_ws_tls_lean):
	 * the code still says it all to `openssl errstr` */
	cx_debug(1, "websocket: %s with '%s': %s (openssl errstr %lx)", what,
	    host, b, e);
	ERR_clear_error();
}

void
cx_ws_tls_lean(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_NO_LOAD_SSL_STRINGS, NULL);
}

static int
tls_load_cas(SSL_CTX *ctx, const struct cx_ws_conn_opts *o, int *fatal)
{
	const char *f, *d, *dirs[2];
	size_t i;

	if (o->ca_bundle != NULL) {
		if (SSL_CTX_load_verify_file(ctx, o->ca_bundle) != 1) {
			cx_error("cannot load the CA certificates of "
			    "'%s' (AWS_CA_BUNDLE / ca_bundle)", o->ca_bundle);
			ERR_clear_error();
			*fatal = 1;
			return CX_ERR_CONFIG;
		}
		return 0;
	}
	f = getenv("SSL_CERT_FILE");
	d = getenv("SSL_CERT_DIR");
	if ((f != NULL && *f != '\0') || (d != NULL && *d != '\0')) {
		/* OpenSSL's own meaning of the variables */
		if (f != NULL && *f != '\0' &&
		    SSL_CTX_load_verify_file(ctx, f) != 1)
			cx_debug(1, "websocket: cannot load SSL_CERT_FILE '%s'",
			    f);
		if (d != NULL && *d != '\0' &&
		    SSL_CTX_load_verify_dir(ctx, d) != 1)
			cx_debug(1, "websocket: cannot use SSL_CERT_DIR '%s'",
			    d);
		ERR_clear_error();
		return 0;
	}
	dirs[0] = X509_get_default_cert_dir();
	dirs[1] = "/etc/ssl/certs";
	for (i = 0; i < 2; i++) {
		if (hashed_dir(dirs[i]) &&
		    SSL_CTX_load_verify_dir(ctx, dirs[i]) == 1) {
			cx_debug(2, "websocket: CA certificates from '%s'",
			    dirs[i]);
			return 0;
		}
	}
	ERR_clear_error();
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* verification will say what fails */
	return 0;
}

static int
tls_handshake(struct cx_ws_conn *c, const struct cx_ws_addr *t,
    const struct cx_ws_conn_opts *o, uint64_t deadline, int *fatal)
{
	X509_VERIFY_PARAM *vp;
	long vr;
	int r, e;

	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return CX_ERR_NOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if ((r = tls_load_cas(c->ctx, o, fatal)) != 0)
		return r;
	/* and the system's store where OpenSSL does not read it (Windows) */
	if ((e = cx_tls_system_roots(SSL_CTX_get_cert_store(c->ctx))) > 0)
		cx_debug(2, "websocket: %d CA certificates from the system "
		    "store", e);
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		return CX_ERR_NOMEM;
	}
	vp = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip_literal(t->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1)
			goto nomem;
	} else if (X509_VERIFY_PARAM_set1_host(vp, t->host, 0) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, t->host) != 1)
		goto nomem;
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) == 1)
			break;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if ((r = sock_wait(c->fd, e == SSL_ERROR_WANT_READ ?
			    POLLIN : POLLOUT, deadline)) != 0) {
				if (r == CX_ERR_TIMEOUT)
					cx_debug(1, "websocket: TLS handshake "
					    "with '%s' timed out", t->host);
				return r;
			}
			continue;
		}
		if ((vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
			cx_error("data channel TLS: the certificate of '%s' "
			    "was not accepted: %s", t->host,
			    X509_verify_cert_error_string(vr));
			ERR_clear_error();
			*fatal = 1;
		} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			cx_debug(1, "websocket: TLS handshake with '%s': %s",
			    t->host, r == 0 || errno == 0 ?
			    "connection closed" : strerror(errno));
		else
			tls_log_errors("TLS handshake", t->host);
		return CX_ERR_NETWORK;
	}
	cx_debug(2, "websocket: %s with '%s' (%s)", SSL_get_version(c->ssl),
	    t->host, SSL_get_cipher_name(c->ssl));
	return 0;
 nomem:
	ERR_clear_error();
	return CX_ERR_NOMEM;
}

/* ---- the transport (lib/ssm/ws.h) ---- */

int
cx_ws_conn_open(const char *curl_url, const struct cx_ws_conn_opts *o,
    struct cx_ws_conn **out)
{
	struct cx_ws_conn *c = NULL;
	struct cx_ws_addr t, px;
	const char *pv, *var = NULL, *np;
	uint64_t deadline;
	int r, fatal = 0, via = 0;

	*out = NULL;
	memset(&px, 0, sizeof(px));
	deadline = cx_now_ms() + (uint64_t)(o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : DEFAULT_CONNECT_MS);
	if ((r = cx_ws_addr_parse(curl_url, &t)) != 0) {
		cx_debug(1, "websocket: not an http(s) URL");
		return r == CX_ERR_NOMEM ? r : CX_ERR_INPUT;
	}
	if ((pv = cx_ws_proxy_env(t.tls, &var)) != NULL) {
		if ((np = getenv("no_proxy")) == NULL || *np == '\0')
			np = getenv("NO_PROXY");
		if (cx_ws_no_proxy_match(np, t.host))
			cx_debug(1, "websocket: '%s' is in NO_PROXY", t.host);
		else if ((r = cx_ws_proxy_parse(pv, &px)) != 0) {
			if (r != CX_ERR_NOMEM) {
				/* never the value: it may hold a password */
				cx_error("bad proxy URL in %s: only "
				    "http://[user:password@]host[:port] is "
				    "supported", var);
				r = CX_ERR_CONFIG;
				fatal = 1;
			}
			goto out;
		} else
			via = 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	c->fd = -1;
	if (via) {
		cx_debug(1, "websocket: through the proxy '%s' port %s (%s)",
		    px.host, px.port, var);
		if ((r = tcp_connect(px.host, px.port, deadline, &c->fd)) != 0)
			goto out;
		if ((r = proxy_connect(c->fd, &t, &px, deadline, &fatal)) != 0)
			goto out;
	} else if ((r = tcp_connect(t.host, t.port, deadline, &c->fd)) != 0)
		goto out;
	if (t.tls && (r = tls_handshake(c, &t, o, deadline, &fatal)) != 0)
		goto out;
	cx_debug(1, "websocket: connected to '%s' port %s%s", t.host, t.port,
	    t.tls ? " (TLS)" : "");
	*out = c;
	c = NULL;	/* transferred */
	r = 0;
 out:
	if (fatal && o->fatal != NULL)
		*o->fatal = 1;
	cx_ws_conn_free(c);
	cx_ws_addr_clean_up(&t);
	cx_ws_addr_clean_up(&px);
	return r;
}

void
cx_ws_conn_free(struct cx_ws_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* a close_notify if it goes out at once; never wait */
		if (SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	ERR_clear_error();
	sock_close(c->fd);
	free(c);
}

int
cx_ws_conn_fd(const struct cx_ws_conn *c)
{
	return c->fd;
}

short
cx_ws_conn_events(const struct cx_ws_conn *c, short want)
{
	short ev = 0;

	if (c->ssl == NULL)
		return want;
	if (want & POLLIN)
		ev |= c->read_wants_write ? POLLOUT : POLLIN;
	if (want & POLLOUT)
		ev |= c->write_wants_read ? POLLIN : POLLOUT;
	return ev;
}

int
cx_ws_conn_pending(const struct cx_ws_conn *c)
{
	return c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

static long
plain_send(struct cx_ws_conn *c, const void *p, size_t n)
{
	ssize_t w;

	if ((w = cx_send(c->fd, p, n)) >= 0)
		return (long)w;
	if (sock_would_block())
		return 0;
	cx_debug(1, "websocket: send: %s", strerror(errno));
	return CX_ERR_NETWORK;
}

static long
plain_recv(struct cx_ws_conn *c, void *p, size_t n)
{
	ssize_t g;

	if ((g = cx_recv(c->fd, p, n, 0)) > 0)
		return (long)g;
	if (g < 0 && sock_would_block())
		return 0;
	cx_debug(1, "websocket: receive: %s", g == 0 ?
	    "connection closed by the peer" : strerror(errno));
	return CX_ERR_NETWORK;
}

/* What an SSL_read/SSL_write result that is not progress means. */
static long
tls_failed(int r, int e, const char *what)
{
	char b[256];

	if (e == SSL_ERROR_ZERO_RETURN)
		cx_debug(1, "websocket: %s: the peer closed the TLS session",
		    what);
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		cx_debug(1, "websocket: %s: %s", what, r == 0 || errno == 0 ?
		    "connection closed by the peer" : strerror(errno));
	else {
		ERR_error_string_n(ERR_peek_last_error(), b, sizeof(b));
		cx_debug(1, "websocket: %s: TLS: %s", what, b);
	}
	ERR_clear_error();
	return CX_ERR_NETWORK;
}

static long
conn_send(void *ctx, const void *p, size_t n)
{
	struct cx_ws_conn *c = ctx;
	int r, e;

	if (c->ssl == NULL)
		return plain_send(c, p, n);
	if (n > INT_MAX)
		n = INT_MAX;
	ERR_clear_error();
	if ((r = SSL_write(c->ssl, p, (int)n)) > 0) {
		c->write_wants_read = 0;
		return r;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		c->write_wants_read = e == SSL_ERROR_WANT_READ;
		return 0;
	}
	return tls_failed(r, e, "send");
}

/* Reads until the buffer is full or the socket is dry, so that no
 * decrypted bytes stay inside OpenSSL while the caller polls. */
static long
conn_recv(void *ctx, void *p, size_t n)
{
	struct cx_ws_conn *c = ctx;
	unsigned char *d = p;
	size_t got = 0;
	int r, e;

	if (c->ssl == NULL)
		return plain_recv(c, p, n);
	if (n > INT_MAX)
		n = INT_MAX;
	c->read_wants_write = 0;
	while (got < n) {
		ERR_clear_error();
		if ((r = SSL_read(c->ssl, d + got, (int)(n - got))) > 0) {
			got += (size_t)r;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->read_wants_write = 1;
			break;
		}
		/* the error comes back on the next call */
		if (got > 0) {
			ERR_clear_error();
			break;
		}
		return tls_failed(r, e, "receive");
	}
	return (long)got;
}

void
cx_ws_conn_io(struct cx_ws_conn *c, struct cx_ws_io *io)
{
	io->send = conn_send;
	io->recv = conn_recv;
	io->ctx = c;
}
