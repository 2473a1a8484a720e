#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ws.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_READ_CHUNK	(64 * 1024)

void
cx_ws_init(struct cx_ws *ws, const struct cx_ws_io *io, size_t max_msg)
{
	memset(ws, 0, sizeof(*ws));
	ws->io = *io;
	ws->max_msg = max_msg ? max_msg : CX_WS_DEFAULT_MAX_MSG;
	ws->msg_op = -1;
	ws->rnd_off = sizeof(ws->rnd);
	ws->close_code = 1005;
	ws->state = CX_WS_UPGRADING;
}

static void
q_free(struct cx_ws_q *q, int wipe)
{
	if (q->data != NULL && wipe)
		cx_wipe(q->data, q->cap);
	free(q->data);
	memset(q, 0, sizeof(*q));
}

void
cx_ws_clean_up(struct cx_ws *ws)
{
	q_free(&ws->out, 1);
	q_free(&ws->in, 0);
	free(ws->msg);
	cx_wipe(ws->key, sizeof(ws->key));
	memset(ws, 0, sizeof(*ws));
}

/*
 * Room for n more bytes at the tail.  Growing copies into fresh memory and
 * wipes the old block (the out queue may hold the signed upgrade request).
 */
static unsigned char *
q_reserve(struct cx_ws_q *q, size_t n, int may_compact)
{
	unsigned char *p;
	size_t live = q->len - q->off, ncap;

	if (q->cap - q->len >= n)
		return q->data + q->len;
	if (may_compact && q->off > 0 && q->cap - live >= n) {
		memmove(q->data, q->data + q->off, live);
		q->off = 0;
		q->len = live;
		return q->data + q->len;
	}
	ncap = q->cap ? q->cap : 4096;
	while (ncap - live < n) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if ((p = malloc(ncap)) == NULL)
		return NULL;
	if (live)
		memcpy(p, q->data + q->off, live);
	if (q->data != NULL)
		cx_freezero(q->data, q->cap);
	q->data = p;
	q->cap = ncap;
	q->off = 0;
	q->len = live;
	return q->data + q->len;
}

static int
out_reserve(struct cx_ws *ws, size_t n, unsigned char **p)
{
	/* never move unsent secret bytes around: grow instead */
	if ((*p = q_reserve(&ws->out, n, ws->secret_end == 0)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

static void
b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void
cx_ws_accept_for(const char *key, char out[32])
{
	unsigned char d[SHA_DIGEST_LENGTH];
	char buf[128];
	size_t kl = strlen(key);

	if (kl > sizeof(buf) - sizeof(WS_GUID))
		kl = sizeof(buf) - sizeof(WS_GUID);
	memcpy(buf, key, kl);
	memcpy(buf + kl, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((unsigned char *)buf, kl + sizeof(WS_GUID) - 1, d);
	b64(d, sizeof(d), out);
}

int
cx_ws_start(struct cx_ws *ws, const char *host, const char *path_query,
    const char *const *extra, size_t nextra)
{
	unsigned char k[16], *p;
	size_t n, i, hl, pl;
	int r;

	if (cx_random_bytes(k, sizeof(k)) != 0)
		return CX_ERR_INTERNAL;
	b64(k, sizeof(k), ws->key);
	hl = strlen(host);
	pl = strlen(path_query);
	n = pl + hl + 256 + sizeof(ws->key);
	for (i = 0; i < nextra; i++)
		n += strlen(extra[i]) + 2;
	if ((r = out_reserve(ws, n, &p)) != 0)
		return r;
	n = 0;
#define PUT(s, l) do { memcpy(p + n, (s), (l)); n += (l); } while (0)
#define PUTS(s) PUT((s), strlen(s))
	PUTS("GET ");
	PUT(path_query, pl);
	PUTS(" HTTP/1.1\r\nHost: ");
	PUT(host, hl);
	PUTS("\r\nUser-Agent: cloudx-proxy/" CX_VERSION
	    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: ");
	PUTS(ws->key);
	PUTS("\r\nSec-WebSocket-Version: 13\r\n");
	for (i = 0; i < nextra; i++) {
		PUTS(extra[i]);
		PUTS("\r\n");
	}
	PUTS("\r\n");
#undef PUT
#undef PUTS
	ws->out.len += n;
	ws->secret_end = ws->out.len;
	ws->state = CX_WS_UPGRADING;
	return 0;
}

static int
mask_key(struct cx_ws *ws, unsigned char m[4])
{
	if (ws->rnd_off + 4 > sizeof(ws->rnd)) {
		if (RAND_bytes(ws->rnd, sizeof(ws->rnd)) != 1)
			return CX_ERR_INTERNAL;
		ws->rnd_off = 0;
	}
	memcpy(m, ws->rnd + ws->rnd_off, 4);
	ws->rnd_off += 4;
	return 0;
}

static void
mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
    const unsigned char m[4])
{
	uint64_t m8, w;
	size_t i = 0;

	memcpy(&m8, m, 4);
	memcpy((unsigned char *)&m8 + 4, m, 4);
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= m8;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ m[i & 3];
}

int
cx_ws_send(struct cx_ws *ws, int op, const void *p, size_t n)
{
	unsigned char *d, m[4];
	size_t h = 0;
	int r, i;

	if ((r = out_reserve(ws, n + 14, &d)) != 0)
		return r;
	if ((r = mask_key(ws, m)) != 0)
		return r;
	d[h++] = 0x80 | (op & 0x0f);
	if (n < 126) {
		d[h++] = 0x80 | (unsigned char)n;
	} else if (n <= 0xffff) {
		d[h++] = 0x80 | 126;
		d[h++] = (unsigned char)(n >> 8);
		d[h++] = (unsigned char)n;
	} else {
		d[h++] = 0x80 | 127;
		for (i = 7; i >= 0; i--)
			d[h++] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	memcpy(d + h, m, 4);
	h += 4;
	mask_copy(d + h, p, n, m);
	ws->out.len += h + n;
	return 0;
}

int
cx_ws_close(struct cx_ws *ws, int code)
{
	unsigned char b[2];
	int r;

	if (ws->state == CX_WS_CLOSING)
		return 0;
	b[0] = (unsigned char)(code >> 8);
	b[1] = (unsigned char)code;
	if ((r = cx_ws_send(ws, CX_WS_OP_CLOSE, b, 2)) != 0)
		return r;
	if (ws->state != CX_WS_CLOSED)
		ws->state = CX_WS_CLOSING;
	return 0;
}

size_t
cx_ws_pending(const struct cx_ws *ws)
{
	return ws->out.len - ws->out.off;
}

int
cx_ws_flush(struct cx_ws *ws)
{
	struct cx_ws_q *q = &ws->out;
	long n;

	while (q->off < q->len) {
		n = ws->io.send(ws->io.ctx, q->data + q->off, q->len - q->off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		q->off += (size_t)n;
		ws->bytes_out += (uint64_t)n;
	}
	if (ws->secret_end > 0 && q->off >= ws->secret_end) {
		cx_wipe(q->data, ws->secret_end);
		ws->secret_end = 0;
	}
	if (q->off == q->len && ws->secret_end == 0)
		q->off = q->len = 0;
	return 0;
}

long
cx_ws_fill(struct cx_ws *ws)
{
	unsigned char *p;
	long n;

	if ((p = q_reserve(&ws->in, WS_READ_CHUNK, 1)) == NULL)
		return CX_ERR_NOMEM;
	n = ws->io.recv(ws->io.ctx, p, ws->in.cap - ws->in.len);
	if (n > 0) {
		ws->in.len += (size_t)n;
		ws->bytes_in += (uint64_t)n;
	}
	return n;
}

/* Case-insensitive search for token in a comma-separated header value. */
static int
has_token(const char *v, size_t vl, const char *tok)
{
	size_t tl = strlen(tok), i, s, e;

	for (i = 0; i <= vl; ) {
		s = i;
		while (i < vl && v[i] != ',')
			i++;
		e = i;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
		i++;
	}
	return 0;
}

static int
parse_upgrade(struct cx_ws *ws)
{
	const char *p = (const char *)ws->in.data + ws->in.off, *end = NULL;
	const char *line, *eol, *colon, *v;
	size_t avail = ws->in.len - ws->in.off, i, vl, nl;
	char want[32];
	int ok_up = 0, ok_conn = 0, ok_acc = 0, status = 0;

	for (i = 0; i + 4 <= avail; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
			end = p + i + 2;
			break;
		}
	if (end == NULL)
		return avail > CX_WS_MAX_UPGRADE_REPLY ? CX_ERR_PROTOCOL :
		    CX_WS_NONE;
	if (end - p < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
		cx_debug(1, "websocket: not an HTTP answer");
		return CX_ERR_PROTOCOL;
	}
	for (i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return CX_ERR_PROTOCOL;
		status = status * 10 + (p[i] - '0');
	}
	ws->http_status = status;
	if (status != 101) {
		cx_debug(1, "websocket: upgrade refused with HTTP %d", status);
		return CX_ERR_PROTOCOL;
	}
	cx_ws_accept_for(ws->key, want);
	line = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
	for (; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			break;
		nl = (size_t)(eol - line);
		if (nl > 0 && line[nl - 1] == '\r')
			nl--;
		if ((colon = memchr(line, ':', nl)) == NULL)
			continue;
		v = colon + 1;
		vl = nl - (size_t)(v - line);
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
#define IS(h) ((size_t)(colon - line) == sizeof(h) - 1 && \
    strncasecmp(line, h, sizeof(h) - 1) == 0)
		if (IS("Upgrade"))
			ok_up = has_token(v, vl, "websocket");
		else if (IS("Connection"))
			ok_conn = has_token(v, vl, "upgrade");
		else if (IS("Sec-WebSocket-Accept"))
			ok_acc = vl == strlen(want) &&
			    memcmp(v, want, vl) == 0;
#undef IS
	}
	if (!ok_up || !ok_conn || !ok_acc) {
		cx_debug(1, "websocket: bad upgrade answer (upgrade %d, "
		    "connection %d, accept %d)", ok_up, ok_conn, ok_acc);
		return CX_ERR_PROTOCOL;
	}
	ws->in.off += (size_t)(end + 2 - p);
	ws->state = CX_WS_OPEN;
	return CX_WS_OPENED;
}

static int
msg_append(struct cx_ws *ws, const unsigned char *p, size_t n)
{
	unsigned char *m;
	size_t nc;

	if (n == 0)	/* an empty fragment; ws->msg may still be NULL */
		return 0;
	if (n > ws->max_msg - ws->msg_len)
		return CX_ERR_TOOBIG;
	if (ws->msg_cap - ws->msg_len < n) {
		nc = ws->msg_cap ? ws->msg_cap : 4096;
		while (nc - ws->msg_len < n)
			nc *= 2;
		if ((m = realloc(ws->msg, nc)) == NULL)
			return CX_ERR_NOMEM;
		ws->msg = m;
		ws->msg_cap = nc;
	}
	memcpy(ws->msg + ws->msg_len, p, n);
	ws->msg_len += n;
	return 0;
}

int
cx_ws_next(struct cx_ws *ws, int *op, const unsigned char **data,
    size_t *len)
{
	const unsigned char *p, *pl;
	size_t avail, h;
	uint64_t n;
	int fin, o, i, r;

	*data = NULL;
	*len = 0;
	*op = -1;
	if (ws->msg_op == -2) {		/* the reassembled message was taken */
		ws->msg_op = -1;
		ws->msg_len = 0;
	}
	if (ws->in.data == NULL)	/* nothing read yet */
		return CX_WS_NONE;
	if (ws->state == CX_WS_UPGRADING)
		return parse_upgrade(ws);
	for (;;) {
		p = ws->in.data + ws->in.off;
		avail = ws->in.len - ws->in.off;
		if (avail < 2)
			return CX_WS_NONE;
		fin = p[0] & 0x80;
		o = p[0] & 0x0f;
		if ((p[0] & 0x70) != 0 || (p[1] & 0x80) != 0) {
			cx_debug(1, "websocket: reserved bits or a masked "
			    "frame from the server");
			return CX_ERR_PROTOCOL;
		}
		n = p[1] & 0x7f;
		h = 2;
		if (n == 126) {
			if (avail < 4)
				return CX_WS_NONE;
			n = (uint64_t)p[2] << 8 | p[3];
			h = 4;
		} else if (n == 127) {
			if (avail < 10)
				return CX_WS_NONE;
			for (n = 0, i = 2; i < 10; i++)
				n = n << 8 | p[i];
			h = 10;
		}
		if ((o & 0x8) && (!fin || n > 125))
			return CX_ERR_PROTOCOL;
		if (n > ws->max_msg) {
			cx_debug(1, "websocket: frame of %llu bytes is over "
			    "the limit", (unsigned long long)n);
			return CX_ERR_TOOBIG;
		}
		if (avail < h + n) {
			/* make sure the whole frame will fit */
			if (q_reserve(&ws->in, h + (size_t)n - avail +
			    WS_READ_CHUNK, 1) == NULL)
				return CX_ERR_NOMEM;
			return CX_WS_NONE;
		}
		pl = p + h;
		ws->in.off += h + (size_t)n;
		if (ws->in.off == ws->in.len)
			ws->in.off = ws->in.len = 0;
		/* pl stays valid: nothing moves the buffer until the next
		 * cx_ws_fill() */
		switch (o) {
		case CX_WS_OP_PING:
			if (ws->state == CX_WS_OPEN &&
			    (r = cx_ws_send(ws, CX_WS_OP_PONG, pl,
			    (size_t)n)) != 0)
				return r;
			continue;
		case CX_WS_OP_PONG:
			continue;
		case CX_WS_OP_CLOSE:
			ws->close_code = n >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
			if (ws->state == CX_WS_OPEN &&
			    (r = cx_ws_close(ws, n >= 2 ? ws->close_code :
			    1000)) != 0)
				return r;
			ws->state = CX_WS_CLOSED;
			return CX_WS_PEER_CLOSED;
		case CX_WS_OP_TEXT:
		case CX_WS_OP_BINARY:
			if (ws->msg_op != -1)
				return CX_ERR_PROTOCOL;
			if (ws->state != CX_WS_OPEN &&
			    ws->state != CX_WS_CLOSING)
				continue;
			if (fin) {
				*op = o;
				*data = pl;
				*len = (size_t)n;
				return CX_WS_MSG;
			}
			ws->msg_op = o;
			ws->msg_len = 0;
			if ((r = msg_append(ws, pl, (size_t)n)) != 0)
				return r;
			continue;
		case CX_WS_OP_CONT:
			if (ws->msg_op < 0)
				return CX_ERR_PROTOCOL;
			if ((r = msg_append(ws, pl, (size_t)n)) != 0)
				return r;
			if (!fin)
				continue;
			*op = ws->msg_op;
			*data = ws->msg;
			*len = ws->msg_len;
			ws->msg_op = -2;
			return CX_WS_MSG;
		default:
			cx_debug(1, "websocket: unknown opcode %d", o);
			return CX_ERR_PROTOCOL;
		}
	}
}

int
cx_ws_url_split(const char *url, char **curl_url, char **host,
    char **target)
{
	const char *rest, *a, *e, *scheme;
	char *cu = NULL, *h = NULL, *t = NULL;
	size_t al, cl;

	*curl_url = *host = *target = NULL;
	if (strncasecmp(url, "wss://", 6) == 0) {
		scheme = "https://";
		rest = url + 6;
	} else if (strncasecmp(url, "ws://", 5) == 0) {
		scheme = "http://";
		rest = url + 5;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		scheme = "https://";
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		scheme = "http://";
		rest = url + 7;
	} else
		return CX_ERR_INPUT;
	/* it goes into the request line and the Host header: no blanks or
	 * control characters */
	for (a = url; *a != '\0'; a++)
		if ((unsigned char)*a <= 0x20 || *a == 0x7f)
			return CX_ERR_INPUT;
	a = rest;
	e = a + strcspn(a, "/?#");
	al = (size_t)(e - a);
	if (al == 0 || memchr(a, '@', al) != NULL)
		return CX_ERR_INPUT;
	cl = strlen(scheme) + al + 2;
	if ((cu = malloc(cl)) == NULL || (h = strndup(a, al)) == NULL)
		goto nomem;
	memcpy(cu, scheme, strlen(scheme));
	memcpy(cu + strlen(scheme), a, al);
	cu[strlen(scheme) + al] = '/';
	cu[strlen(scheme) + al + 1] = '\0';
	al = strcspn(e, "#");
	if (al == 0)
		t = strdup("/");
	else if (*e == '?') {
		if ((t = malloc(al + 2)) != NULL) {
			t[0] = '/';
			memcpy(t + 1, e, al);
			t[al + 1] = '\0';
		}
	} else
		t = strndup(e, al);
	if (t == NULL)
		goto nomem;
	*curl_url = cu;
	*host = h;
	*target = t;
	return 0;
 nomem:
	free(cu);
	free(h);
	free(t);
	return CX_ERR_NOMEM;
}
