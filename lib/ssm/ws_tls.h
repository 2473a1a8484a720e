/*
 * The pure parts of the websocket transport (lib/ssm/ws_tls.c), exposed for the
 * unit tests and the fuzz target: URL and proxy-URL parsing, NO_PROXY
 * matching, the proxy CONNECT request and the proxy's answer.  The
 * transport itself is declared in lib/ssm/ws.h (cx_ws_conn_*).
 */
#ifndef CX_WS_TLS_H
#define CX_WS_TLS_H

#include <stddef.h>

#include "core/buf.h"

/* The proxy's answer to CONNECT (status line and headers). */
#define CX_WS_MAX_PROXY_ANSWER	(16 * 1024)
#define CX_WS_PROXY_DEFAULT_PORT "1080"	/* like curl */

/*
 * Where to connect: host (brackets of an IPv6 literal removed), port as
 * decimal text, tls for https; user/pass: a proxy URL's percent-decoded
 * userinfo (secrets: wiped by clean_up), else NULL.
 */
struct cx_ws_addr {
	char *host;
	char port[6];
	int tls;
	char *user, *pass;
};
void cx_ws_addr_clean_up(struct cx_ws_addr *a);

/*
 * Parses "http://" or "https://" (also "ws://", "wss://") host[:port]
 * followed by nothing or by "/", "?" or "#" (the rest is ignored).  Default
 * port 80 or 443.  Returns 0, CX_ERR_INPUT (nothing logged) or
 * CX_ERR_NOMEM; on error *a is clean.
 */
int cx_ws_addr_parse(const char *url, struct cx_ws_addr *a);

/*
 * Parses a proxy URL: "[http://][user[:pass]@]host[:port][/]" (port 1080
 * by default, like curl).  Only http:// proxies: any other scheme is
 * CX_ERR_INPUT.  Nothing is logged (the URL may hold a password).
 */
int cx_ws_proxy_parse(const char *url, struct cx_ws_addr *a);

/*
 * Whether host is listed in no_proxy (curl's rules): entries separated by
 * commas (blanks around them ignored); "*" matches every host; a name
 * matches the host itself or any name below it ("example.com" and
 * ".example.com" both match "a.example.com"), case-insensitively; an IP
 * literal entry matches only the same literal; a ":port" after an entry
 * is ignored.  Returns 1 (bypass the proxy) or 0.
 */
int cx_ws_no_proxy_match(const char *no_proxy, const char *host);

/*
 * The proxy for a connection (tls: to an https/wss URL) from the
 * environment, as curl picks it: https_proxy then HTTPS_PROXY for TLS,
 * http_proxy (lowercase only) otherwise, then all_proxy, ALL_PROXY; empty
 * values count as unset.  Returns the value (borrowed from environ) or
 * NULL; *var (if not NULL) receives the variable's name.
 */
const char *cx_ws_proxy_env(int tls, const char **var);

/*
 * Appends to out the CONNECT request for target through proxy:
 * "CONNECT host:port HTTP/1.1", "Host: host:port" (IPv6 literals in
 * brackets) and, when proxy->user is set, "Proxy-Authorization: Basic
 * base64(user:pass)".  out is marked secret in that case.  Returns 0,
 * CX_ERR_NOMEM or CX_ERR_TOOBIG.
 */
int cx_ws_connect_request(const struct cx_ws_addr *target,
    const struct cx_ws_addr *proxy, struct cx_buf *out);

/*
 * Looks at the first n bytes received from the proxy.  Returns the length
 * of the complete answer head (status line and headers up to the empty
 * line) with *status set to the HTTP status, 0 if more bytes are needed,
 * CX_ERR_TOOBIG if CX_WS_MAX_PROXY_ANSWER bytes hold no complete head, or
 * CX_ERR_PROTOCOL if the status line is not "HTTP/1.x NNN ...".
 */
int cx_ws_proxy_answer(const void *p, size_t n, int *status);

#endif
