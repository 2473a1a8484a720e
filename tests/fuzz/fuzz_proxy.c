/* libFuzzer target: the websocket transport's proxy parts (lib/ssm/ws_tls.h).
 * The first byte picks one: the proxy's answer to CONNECT (the head it
 * reports ends with a line feed, lies inside the input and the 16 KiB
 * limit, and has a 3-digit status), a proxy URL and the CONNECT request
 * made from it (no control character but the line ends), a NO_PROXY list
 * and a host separated by a NUL, or a target URL. */
#include "fuzz.h"

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "ssm/ws_tls.h"

static void
no_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		FZ_ASSERT((unsigned char)*s > 0x20 && *s != 0x7f);
}

static void
request(const struct cx_ws_addr *p)
{
	struct cx_ws_addr t;
	struct cx_buf b;
	const char *s, *e;

	if (cx_ws_addr_parse("https://h.example:443/x", &t) != 0)
		abort();
	cx_buf_init(&b, 16384);
	if (cx_ws_connect_request(&t, p, &b) == 0) {
		s = cx_buf_str(&b);
		FZ_ASSERT(strncmp(s, "CONNECT h.example:443 HTTP/1.1\r\n", 32)
		    == 0);
		FZ_ASSERT(b.len >= 4 &&
		    memcmp(s + b.len - 4, "\r\n\r\n", 4) == 0);
		for (e = s; e < s + b.len; e++)
			FZ_ASSERT(*e == '\r' || *e == '\n' ||
			    ((unsigned char)*e >= 0x20 && *e != 0x7f));
		FZ_ASSERT(b.secret == (p->user != NULL));
	}
	cx_buf_clean_up(&b);
	cx_ws_addr_clean_up(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ws_addr a;
	char *s, *host;
	int r, st;

	cx_log_set_verbosity(-2);
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		r = cx_ws_proxy_answer(data + 1, size - 1, &st);
		if (r > 0) {
			FZ_ASSERT((size_t)r <= size - 1 &&
			    r <= CX_WS_MAX_PROXY_ANSWER);
			FZ_ASSERT(data[r] == '\n');
			FZ_ASSERT(st >= 100 && st <= 999);
		} else {
			FZ_ASSERT(r == 0 || r == CX_ERR_TOOBIG ||
			    r == CX_ERR_PROTOCOL);
			FZ_ASSERT(st == 0);
			FZ_ASSERT(r != 0 ||
			    size - 1 < CX_WS_MAX_PROXY_ANSWER);
		}
		break;
	case 1:
		s = fz_strndup(data + 1, size - 1);
		if (cx_ws_proxy_parse(s, &a) == 0) {
			no_ctl(a.host);
			FZ_ASSERT(*a.host != '\0' && *a.port != '\0');
			FZ_ASSERT((a.user == NULL) == (a.pass == NULL));
			request(&a);
			cx_ws_addr_clean_up(&a);
		} else
			FZ_ASSERT(a.host == NULL && a.user == NULL);
		free(s);
		break;
	case 2:
		s = fz_strndup(data + 1, size - 1);
		host = s + strlen(s);
		if ((size_t)(host - s) < size - 1)
			host++;	/* after the first NUL */
		r = cx_ws_no_proxy_match(s, host);
		FZ_ASSERT(r == 0 || r == 1);
		if (strcmp(s, "*") == 0)
			FZ_ASSERT(r == 1);
		free(s);
		break;
	default:
		s = fz_strndup(data + 1, size - 1);
		if (cx_ws_addr_parse(s, &a) == 0) {
			no_ctl(a.host);
			FZ_ASSERT(a.user == NULL);
			cx_ws_addr_clean_up(&a);
		}
		free(s);
		break;
	}
	return 0;
}
