/* The websocket transport's pure parts (lib/ssm/ws_tls.h): URL and proxy-URL
 * parsing, NO_PROXY matching, the CONNECT request, the proxy's answer; and
 * one plain loopback connection through cx_ws_conn_open. */
#include <sys/socket.h>

#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "ssm/ws.h"
#include "ssm/ws_tls.h"

static void
check_addr(const char *url, int r, const char *host, const char *port,
    int tls)
{
	struct cx_ws_addr a;

	assert_int_equal(cx_ws_addr_parse(url, &a), r);
	if (r != 0) {
		assert_null(a.host);
		return;
	}
	assert_string_equal(a.host, host);
	assert_string_equal(a.port, port);
	assert_int_equal(a.tls, tls);
	assert_null(a.user);
	cx_ws_addr_clean_up(&a);
}

static void
test_addr_parse(void **state)
{
	char *u, *h, *t;

	(void)state;
	check_addr("https://ssmmessages.eu-west-1.amazonaws.com/", 0,
	    "ssmmessages.eu-west-1.amazonaws.com", "443", 1);
	check_addr("http://127.0.0.1:8080/v1/x?y=1", 0, "127.0.0.1", "8080",
	    0);
	check_addr("HTTPS://h:1", 0, "h", "1", 1);
	check_addr("wss://h?q", 0, "h", "443", 1);
	check_addr("ws://h#f", 0, "h", "80", 0);
	check_addr("https://[::1]:8443/x", 0, "::1", "8443", 1);
	check_addr("http://[2001:db8::1]/", 0, "2001:db8::1", "80", 0);
	check_addr("ftp://h/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https:///x", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://h:/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://h:0/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://h:65536/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://h:123456/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://h:8x/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://[::1/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://[::1]x/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://[not-ip]/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://::1/", CX_ERR_INPUT, NULL, NULL, 0);
	check_addr("https://u@h/", CX_ERR_INPUT, NULL, NULL, 0);
	/* what cx_ws_url_split makes of a StreamUrl parses back */
	assert_int_equal(cx_ws_url_split("wss://[::1]:9443/v1/data-channel/"
	    "s?role=publish_subscribe", &u, &h, &t), 0);
	check_addr(u, 0, "::1", "9443", 1);
	free(u);
	free(h);
	free(t);
}

static void
check_proxy(const char *url, int r, const char *host, const char *port,
    const char *user, const char *pass)
{
	struct cx_ws_addr a;

	assert_int_equal(cx_ws_proxy_parse(url, &a), r);
	if (r != 0) {
		assert_null(a.host);
		assert_null(a.user);
		return;
	}
	assert_string_equal(a.host, host);
	assert_string_equal(a.port, port);
	if (user == NULL)
		assert_null(a.user);
	else
		assert_string_equal(a.user, user);
	if (pass == NULL)
		assert_null(a.pass);
	else
		assert_string_equal(a.pass, pass);
	cx_ws_addr_clean_up(&a);
}

static void
test_proxy_parse(void **state)
{
	(void)state;
	check_proxy("http://proxy.corp:3128", 0, "proxy.corp", "3128", NULL,
	    NULL);
	check_proxy("http://proxy.corp/", 0, "proxy.corp", "1080", NULL,
	    NULL);
	check_proxy("proxy.corp:8080", 0, "proxy.corp", "8080", NULL, NULL);
	check_proxy("HTTP://10.0.0.1", 0, "10.0.0.1", "1080", NULL, NULL);
	check_proxy("http://[::1]:3128", 0, "::1", "3128", NULL, NULL);
	check_proxy("http://alice:s3cret@p:1", 0, "p", "1", "alice",
	    "s3cret");
	check_proxy("http://alice@p", 0, "p", "1080", "alice", "");
	check_proxy("http://al%69ce:p%40ss%3Aw%2f@p", 0, "p", "1080",
	    "alice", "p@ss:w/");
	/* an unencoded '@' in the password: the last '@' ends userinfo */
	check_proxy("http://u:a@b@p:2", 0, "p", "2", "u", "a@b");
	check_proxy("http://u:%zz@p", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://u:%4@p", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://u:%00@p", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("https://p:443", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("socks5://p:1080", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("socks5h://u:pw@p", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://p/path", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://u:pw@", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
	check_proxy("http://p:99999", CX_ERR_INPUT, NULL, NULL, NULL, NULL);
}

static void
test_no_proxy(void **state)
{
	(void)state;
	assert_int_equal(cx_ws_no_proxy_match(NULL, "a.example.com"), 0);
	assert_int_equal(cx_ws_no_proxy_match("", "a.example.com"), 0);
	assert_int_equal(cx_ws_no_proxy_match("*", "a.example.com"), 1);
	assert_int_equal(cx_ws_no_proxy_match(" x.org , * ", "h"), 1);
	assert_int_equal(cx_ws_no_proxy_match("example.com", "example.com"),
	    1);
	assert_int_equal(cx_ws_no_proxy_match("example.com",
	    "a.b.EXAMPLE.com"), 1);
	assert_int_equal(cx_ws_no_proxy_match(".example.com",
	    "a.example.com"), 1);
	assert_int_equal(cx_ws_no_proxy_match(".example.com",
	    "example.com"), 1);
	assert_int_equal(cx_ws_no_proxy_match("example.com",
	    "badexample.com"), 0);
	assert_int_equal(cx_ws_no_proxy_match("example.com",
	    "example.com.evil"), 0);
	assert_int_equal(cx_ws_no_proxy_match("x.org,amazonaws.com:443",
	    "ssmmessages.eu-west-1.amazonaws.com"), 1);
	assert_int_equal(cx_ws_no_proxy_match("localhost,127.0.0.1",
	    "127.0.0.1"), 1);
	assert_int_equal(cx_ws_no_proxy_match("127.0.0.1:8080",
	    "127.0.0.1"), 1);
	/* IP literals: only exactly */
	assert_int_equal(cx_ws_no_proxy_match("0.0.1", "127.0.0.1"), 0);
	assert_int_equal(cx_ws_no_proxy_match(".0.0.1", "127.0.0.1"), 0);
	assert_int_equal(cx_ws_no_proxy_match("127.0.0.2", "127.0.0.1"), 0);
	assert_int_equal(cx_ws_no_proxy_match("::1", "::1"), 1);
	assert_int_equal(cx_ws_no_proxy_match("[::1]:443", "::1"), 1);
	assert_int_equal(cx_ws_no_proxy_match("[::1", "::1"), 0);
	assert_int_equal(cx_ws_no_proxy_match("::2", "::1"), 0);
	assert_int_equal(cx_ws_no_proxy_match(",,.,", "h"), 0);
	assert_int_equal(cx_ws_no_proxy_match("*.example.com",
	    "a.example.com"), 0);
}

static void
test_proxy_env(void **state)
{
	const char *var = NULL;
	static const char *const all[] = { "https_proxy", "HTTPS_PROXY",
	    "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		unsetenv(all[i]);
	assert_null(cx_ws_proxy_env(1, &var));
	assert_null(cx_ws_proxy_env(0, &var));
	setenv("HTTP_PROXY", "http://upper", 1);	/* never read */
	assert_null(cx_ws_proxy_env(0, &var));
	setenv("ALL_PROXY", "http://ALL", 1);
	assert_string_equal(cx_ws_proxy_env(0, &var), "http://ALL");
	assert_string_equal(var, "ALL_PROXY");
	setenv("all_proxy", "http://all", 1);
	assert_string_equal(cx_ws_proxy_env(1, &var), "http://all");
	setenv("HTTPS_PROXY", "http://S", 1);
	assert_string_equal(cx_ws_proxy_env(1, &var), "http://S");
	assert_string_equal(var, "HTTPS_PROXY");
	setenv("https_proxy", "", 1);	/* empty: unset */
	assert_string_equal(cx_ws_proxy_env(1, &var), "http://S");
	setenv("https_proxy", "http://s", 1);
	assert_string_equal(cx_ws_proxy_env(1, &var), "http://s");
	assert_string_equal(cx_ws_proxy_env(0, &var), "http://all");
	setenv("http_proxy", "http://h", 1);
	assert_string_equal(cx_ws_proxy_env(0, &var), "http://h");
	assert_string_equal(var, "http_proxy");
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		unsetenv(all[i]);
}

static void
check_request(const char *target, const char *proxy, const char *want,
    int secret)
{
	struct cx_ws_addr t, p;
	struct cx_buf b;

	assert_int_equal(cx_ws_addr_parse(target, &t), 0);
	assert_int_equal(cx_ws_proxy_parse(proxy, &p), 0);
	cx_buf_init(&b, 8192);
	assert_int_equal(cx_ws_connect_request(&t, &p, &b), 0);
	assert_string_equal(cx_buf_str(&b), want);
	assert_int_equal(b.secret, secret);
	cx_buf_clean_up(&b);
	cx_ws_addr_clean_up(&t);
	cx_ws_addr_clean_up(&p);
}

static void
test_connect_request(void **state)
{
	(void)state;
	check_request("https://ssmmessages.eu-west-1.amazonaws.com/v1/x?y",
	    "http://p:3128",
	    "CONNECT ssmmessages.eu-west-1.amazonaws.com:443 HTTP/1.1\r\n"
	    "Host: ssmmessages.eu-west-1.amazonaws.com:443\r\n\r\n", 0);
	check_request("http://[::1]:8080/", "http://p",
	    "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0);
	/* base64("Aladdin:open sesame"), RFC 7617 */
	check_request("https://h/", "http://Aladdin:open%20sesame@p",
	    "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
	    "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
	    "\r\n", 1);
	/* "u:" */
	check_request("https://h:1/", "http://u@p",
	    "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
	    "Proxy-Authorization: Basic dTo=\r\n\r\n", 1);
}

static void
check_answer(const char *a, int r, int status)
{
	int st = -1;

	assert_int_equal(cx_ws_proxy_answer(a, strlen(a), &st), r);
	assert_int_equal(st, r > 0 ? status : 0);
}

static void
test_proxy_answer(void **state)
{
	const char *ok = "HTTP/1.1 200 Connection established\r\n\r\n";
	char *big;
	size_t i;
	int st;

	(void)state;
	check_answer(ok, (int)strlen(ok), 200);
	/* only the head: bytes after it are not counted */
	check_answer("HTTP/1.0 200 OK\r\nVia: x\r\n\r\n\x16\x03\x01", 27, 200);
	check_answer("HTTP/1.1 407 Proxy Authentication Required\r\n"
	    "Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 5\r\n"
	    "\r\nhello", 102, 407);
	check_answer("HTTP/1.1 204\r\n\r\n", 16, 204);
	check_answer("HTTP/1.1 200 OK\n\n", 17, 200);
	check_answer("HTTP/1.1 200 OK\nA: b\r\n\r\n", 24, 200);
	/* truncated: more needed */
	for (i = 0; i < strlen(ok); i++) {
		st = -1;
		assert_int_equal(cx_ws_proxy_answer(ok, i, &st), 0);
		assert_int_equal(st, 0);
	}
	check_answer("HTTP/1.1 200 OK\r\nVia: x\r\n", 0, 0);
	/* a malformed status line, as soon as it is complete */
	check_answer("SSH-2.0-OpenSSH_9.2\r\n", CX_ERR_PROTOCOL, 0);
	check_answer("HTTP/1.1 2000 OK\r\n\r\n", CX_ERR_PROTOCOL, 0);
	check_answer("HTTP/1.1 20x OK\r\n\r\n", CX_ERR_PROTOCOL, 0);
	check_answer("HTTP/2 200\r\n\r\n", CX_ERR_PROTOCOL, 0);
	check_answer("HTTP/1.1 099 x\r\n\r\n", CX_ERR_PROTOCOL, 0);
	check_answer("HTTP/1.1 200\n", 0, 0);
	check_answer("\r\n\r\n", CX_ERR_PROTOCOL, 0);
	/* oversized: 16 KiB without the end of the head */
	big = malloc(CX_WS_MAX_PROXY_ANSWER + 10);
	assert_non_null(big);
	memset(big, 'a', CX_WS_MAX_PROXY_ANSWER + 10);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	assert_int_equal(cx_ws_proxy_answer(big, CX_WS_MAX_PROXY_ANSWER - 1,
	    &st), 0);
	assert_int_equal(cx_ws_proxy_answer(big, CX_WS_MAX_PROXY_ANSWER,
	    &st), CX_ERR_TOOBIG);
	assert_int_equal(cx_ws_proxy_answer(big, CX_WS_MAX_PROXY_ANSWER + 10,
	    &st), CX_ERR_TOOBIG);
	/* no status line within the limit */
	memset(big, 'a', CX_WS_MAX_PROXY_ANSWER + 10);
	assert_int_equal(cx_ws_proxy_answer(big, CX_WS_MAX_PROXY_ANSWER,
	    &st), CX_ERR_TOOBIG);
	/* the end just past the limit does not count */
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	memcpy(big + CX_WS_MAX_PROXY_ANSWER - 1, "\r\n\r\n", 4);
	assert_int_equal(cx_ws_proxy_answer(big, CX_WS_MAX_PROXY_ANSWER + 3,
	    &st), CX_ERR_TOOBIG);
	free(big);
}

/* A plain loopback connection: bytes both ways through the io, the events
 * passed through unchanged, nothing pending; a closed port fails. */
static void
test_plain_loopback(void **state)
{
	struct cx_ws_conn_opts o = { NULL, 5000, NULL };
	struct cx_ws_conn *c = NULL;
	struct sockaddr_in sa;
	struct cx_ws_io io;
	socklen_t sl = sizeof(sa);
	char url[64], b[16];
	int ls, as, port;
	long n;

	(void)state;
	unsetenv("http_proxy");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	assert_int_equal(cx_ws_conn_open(url, &o, &c), 0);
	assert_non_null(c);
	as = accept(ls, NULL, NULL);
	assert_true(as >= 0);
	cx_ws_conn_io(c, &io);
	assert_int_equal(cx_ws_conn_events(c, POLLIN), POLLIN);
	assert_int_equal(cx_ws_conn_events(c, POLLIN | POLLOUT),
	    POLLIN | POLLOUT);
	assert_int_equal(cx_ws_conn_pending(c), 0);
	/* nothing yet: would block */
	assert_int_equal(io.recv(io.ctx, b, sizeof(b)), 0);
	assert_int_equal(io.send(io.ctx, "ping", 4), 4);
	assert_int_equal(read(as, b, sizeof(b)), 4);
	assert_memory_equal(b, "ping", 4);
	assert_int_equal(write(as, "pong", 4), 4);
	do {
		struct pollfd p = { cx_ws_conn_fd(c), POLLIN, 0 };
		assert_int_equal(poll(&p, 1, 5000), 1);
		n = io.recv(io.ctx, b, sizeof(b));
	} while (n == 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, "pong", 4);
	close(as);
	/* end of stream is an error */
	do {
		struct pollfd p = { cx_ws_conn_fd(c), POLLIN, 0 };
		assert_int_equal(poll(&p, 1, 5000), 1);
		n = io.recv(io.ctx, b, sizeof(b));
	} while (n == 0);
	assert_int_equal(n, CX_ERR_NETWORK);
	cx_ws_conn_free(c);
	close(ls);
	/* the port is closed now */
	c = NULL;
	assert_int_equal(cx_ws_conn_open(url, &o, &c), CX_ERR_NETWORK);
	assert_null(c);
	assert_int_equal(cx_ws_conn_open("ftp://x/", &o, &c), CX_ERR_INPUT);
	cx_ws_conn_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_proxy_parse),
		cmocka_unit_test(test_no_proxy),
		cmocka_unit_test(test_proxy_env),
		cmocka_unit_test(test_connect_request),
		cmocka_unit_test(test_proxy_answer),
		cmocka_unit_test(test_plain_loopback),
	};

	cx_log_set_verbosity(-1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
