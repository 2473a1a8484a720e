/*
 * The OS layer's signals, waits and resolver (lib/core/os.h): cx_resolve on
 * literal addresses and names, cx_wait_fd and cx_sleep_ms before and after
 * a caught signal, cx_run refusing to start a child once one came.  The
 * signal tests run last: a caught signal stays pending for the process.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "core/os.h"

static void
test_resolve_literals(void **state)
{
	struct cx_addr a[CX_RESOLVE_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(cx_resolve("127.0.0.1", "443", cx_now_ms() + 1000,
	    a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&a[0].sa)->sin_port),
	    443);
	assert_int_equal(cx_resolve("::1", "80", cx_now_ms() + 1000, a, &n),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].family, AF_INET6);
}

static void
test_resolve_name(void **state)
{
	struct cx_addr a[CX_RESOLVE_MAX];
	size_t n = 0;

	(void)state;
	/* from /etc/hosts, through the resolver child */
	assert_int_equal(cx_resolve("localhost", "22", cx_now_ms() + 5000,
	    a, &n), 0);
	assert_true(n >= 1);
	/* a deadline already past: no child is waited for */
	assert_int_equal(cx_resolve("localhost", "22", cx_now_ms(), a, &n),
	    CX_ERR_TIMEOUT);
}

static void
test_wait_without_signal(void **state)
{
	int p[2];
	uint64_t t0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	t0 = cx_now_ms();
	assert_int_equal(cx_wait_fd(p[0], POLLIN, t0 + 50), CX_ERR_TIMEOUT);
	assert_true(cx_now_ms() - t0 >= 50);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(cx_wait_fd(p[0], POLLIN, cx_now_ms() + 1000), 0);
	assert_int_equal(cx_sleep_ms(10), 0);
	close(p[0]);
	close(p[1]);
}

static void
test_signal_ends_waits(void **state)
{
	char *argv[] = { (char *)"true", NULL };
	struct cx_addr a[CX_RESOLVE_MAX];
	size_t n = 0;
	uint64_t t0;
	int p[2], st;

	(void)state;
	assert_int_equal(cx_sig_pending(), 0);
	assert_int_equal(cx_sig_catch(), 0);
	assert_int_equal(cx_sig_catch(), 0);	/* idempotent */
	assert_true(cx_sig_fd() >= 0);
	assert_int_equal(raise(SIGTERM), 0);	/* caught: we go on */
	assert_int_equal(cx_sig_pending(), SIGTERM);
	assert_int_equal(raise(SIGHUP), 0);	/* the first one is kept */
	assert_int_equal(cx_sig_pending(), SIGTERM);
	assert_int_equal(pipe(p), 0);
	t0 = cx_now_ms();
	assert_int_equal(cx_wait_fd(p[0], POLLIN, t0 + 10000),
	    CX_ERR_CANCELLED);
	assert_int_equal(cx_sleep_ms(10000), CX_ERR_CANCELLED);
	assert_int_equal(cx_resolve("localhost", "22", t0 + 10000, a, &n),
	    CX_ERR_CANCELLED);
	assert_true(cx_now_ms() - t0 < 1000);
	assert_int_equal(cx_run(argv, NULL, 0, NULL, NULL, 0, &st),
	    CX_ERR_CANCELLED);
	assert_string_equal(cx_sig_name(SIGTERM), "SIGTERM");
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_literals),
		cmocka_unit_test(test_resolve_name),
		cmocka_unit_test(test_wait_without_signal),
		cmocka_unit_test(test_signal_ends_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
