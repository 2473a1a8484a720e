/* The websocket transport on libcurl's CONNECT_ONLY connection: curl does
 * DNS, the proxy CONNECT (HTTPS_PROXY/NO_PROXY), TLS and CA verification;
 * lib/ws.c does the websocket protocol over curl_easy_send/recv. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cxerr.h"
#include "log.h"
#include "ws.h"

struct cx_ws_conn {
	CURL *curl;
	curl_socket_t fd;
};

int
cx_ws_conn_open(const char *curl_url, const struct cx_ws_conn_opts *o,
    struct cx_ws_conn **out)
{
	struct cx_ws_conn *c;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cc;
	int r = CX_ERR_NETWORK;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CX_ERR_NOMEM;
	c->fd = CURL_SOCKET_BAD;
	if ((c->curl = curl_easy_init()) == NULL) {
		free(c);
		return CX_ERR_NOMEM;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, curl_url);
	curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
	/* through an HTTP proxy even ws:// must be a CONNECT tunnel */
	curl_easy_setopt(c->curl, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 30000L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	if (o->ca_bundle != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, o->ca_bundle);
	if (o->verbose)
		curl_easy_setopt(c->curl, CURLOPT_VERBOSE, 1L);
	if ((cc = curl_easy_perform(c->curl)) != CURLE_OK) {
		/* certificate trouble will not go away by retrying: say it */
		if (cc == CURLE_PEER_FAILED_VERIFICATION ||
		    cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_SSL_CERTPROBLEM)
			cx_error("data channel TLS: %s",
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		else
			cx_debug(1, "websocket: cannot connect: %s",
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		if (cc == CURLE_OPERATION_TIMEDOUT)
			r = CX_ERR_TIMEOUT;
		goto fail;
	}
	if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &c->fd) !=
	    CURLE_OK || c->fd == CURL_SOCKET_BAD) {
		r = CX_ERR_INTERNAL;
		goto fail;
	}
	*out = c;
	return 0;
 fail:
	curl_easy_cleanup(c->curl);
	free(c);
	return r;
}

void
cx_ws_conn_free(struct cx_ws_conn *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

int
cx_ws_conn_fd(const struct cx_ws_conn *c)
{
	return (int)c->fd;
}

static long
conn_send(void *ctx, const void *p, size_t n)
{
	struct cx_ws_conn *c = ctx;
	size_t sent = 0;
	CURLcode cc;

	cc = curl_easy_send(c->curl, p, n, &sent);
	if (cc == CURLE_AGAIN)
		return 0;
	if (cc != CURLE_OK) {
		cx_debug(1, "websocket: send: %s", curl_easy_strerror(cc));
		return CX_ERR_NETWORK;
	}
	return (long)sent;
}

static long
conn_recv(void *ctx, void *p, size_t n)
{
	struct cx_ws_conn *c = ctx;
	size_t got = 0;
	CURLcode cc;

	cc = curl_easy_recv(c->curl, p, n, &got);
	if (cc == CURLE_AGAIN)
		return 0;
	if (cc != CURLE_OK) {
		cx_debug(1, "websocket: receive: %s", curl_easy_strerror(cc));
		return CX_ERR_NETWORK;
	}
	if (got == 0) {
		cx_debug(1, "websocket: connection closed by the peer");
		return CX_ERR_NETWORK;
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
