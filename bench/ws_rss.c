/*
 * bench/ws_rss.c: peak RSS of the websocket transport (lib/ssm/ws_tls.c) alone,
 * for bench/ws-rss.  Prints peak RSS in KiB at three points: at start;
 * after what cx-tunnel does anyway before connecting (OpenSSL random and
 * SHA-256, so libcrypto is initialised and its configuration loaded); after
 * one connection to URL (cx_ws_conn_open, TLS for https; success or not).
 * CA: $CA if set, else the system's (SSL_CERT_FILE/SSL_CERT_DIR, hashed
 * folder).
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "ssm/ws.h"

static long
peak_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

int
main(int argc, char **argv)
{
	struct cx_ws_conn_opts o = { NULL, 5000, NULL };
	struct cx_ws_conn *c = NULL;
	unsigned char rnd[16], md[EVP_MAX_MD_SIZE];
	unsigned int mdl;
	long start, before;
	int r;

	if (argc != 2) {
		fputs("usage: ws_rss URL\n", stderr);
		return 100;
	}
	cx_log_init("ws_rss");
	o.ca_bundle = getenv("CA");
	start = peak_kib();
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    EVP_Digest(rnd, sizeof(rnd), md, &mdl, EVP_sha256(), NULL) != 1)
		return 70;
	before = peak_kib();
	r = cx_ws_conn_open(argv[1], &o, &c);
	printf("%ld %ld %ld %s\n", start, before, peak_kib(),
	    r == 0 ? "connected" : cx_strerror(r));
	cx_ws_conn_free(c);
	return 0;
}
