/*
 * libcurl client.  See http.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "http.h"

#ifndef CX_VERSION
#define CX_VERSION "0"
#endif

#define HTTP_MAX_HEADER_LINES	200

struct cx_http {
	CURL *curl;
	CURLSH *share;		/* the connection cache (and DNS, TLS
				 * sessions) of curl and of every batch */
	char *ca_bundle;
	char *user_agent;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;
	int max_attempts;
};

static int curl_ready;

static int
global_init(void)
{
	/* the toolkit is single-threaded: a flag is enough */
	if (curl_ready)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return CX_ERR_INTERNAL;
	curl_ready = 1;
	return 0;
}

static long
env_ms(const char *name, long def)
{
	const char *v = getenv(name);
	long long n;

	if (v == NULL || *v == '\0')
		return def;
	if (cx_strtonum(v, 1, 24LL * 3600 * 1000, &n) != 0) {
		cx_warn("ignoring bad %s '%s'", name, v);
		return def;
	}
	return (long)n;
}

int
cx_http_new(const struct cx_http_opts *o, struct cx_http **out)
{
	struct cx_http *h = NULL;
	struct cx_http_opts def;
	int r;

	*out = NULL;
	if (o == NULL) {
		memset(&def, 0, sizeof(def));
		o = &def;
	}
	if ((r = global_init()) != 0)
		return r;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return CX_ERR_NOMEM;
	if ((h->curl = curl_easy_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		r = CX_ERR_INTERNAL;
		goto out;
	}
	if (o->ca_bundle != NULL && (h->ca_bundle = strdup(o->ca_bundle)) ==
	    NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (o->user_agent != NULL)
		h->user_agent = strdup(o->user_agent);
	else
		h->user_agent = strdup("cloudx-proxy/" CX_VERSION);
	if (h->user_agent == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	h->connect_timeout_ms = env_ms("CX_HTTP_CONNECT_TIMEOUT_MS",
	    o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    CX_HTTP_CONNECT_TIMEOUT_MS);
	h->timeout_ms = env_ms("CX_HTTP_TIMEOUT_MS", o->timeout_ms > 0 ?
	    o->timeout_ms : CX_HTTP_TIMEOUT_MS);
	h->max_body = o->max_body ? o->max_body : CX_HTTP_MAX_BODY;
	h->max_attempts = o->max_attempts;
	*out = h;
	h = NULL; /* transferred */
	r = 0;
 out:
	cx_http_free(h);
	return r;
}

void
cx_http_free(struct cx_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	/* after every easy handle that used it */
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	free(h->ca_bundle);
	free(h->user_agent);
	free(h);
}

int
cx_http_max_attempts(const struct cx_http *h)
{
	return h ? h->max_attempts : 0;
}

void
cx_http_response_clean_up(struct cx_http_response *rs)
{
	cx_buf_clean_up(&rs->body);
	free(rs->request_id);
	free(rs->query_error);
	free(rs->content_type);
	memset(rs, 0, sizeof(*rs));
}

struct xfer {
	struct cx_http_response *rs;
	size_t max;
	int toobig;
	int nomem;
	int nlines;
	int manylines;		/* over HTTP_MAX_HEADER_LINES */
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	int r;

	if ((r = cx_buf_append(&x->rs->body, p, size * n)) != 0) {
		if (r == CX_ERR_TOOBIG)
			x->toobig = 1;
		else
			x->nomem = 1;
		return 0;	/* aborts the transfer */
	}
	return size * n;
}

/* Copies the trimmed value of header line p (len bytes) if its name is
 * name; returns 1 if it matched. */
static int
grab_header(const char *p, size_t len, const char *name, char **dst,
    int *nomem)
{
	size_t nl = strlen(name);
	const char *v, *e;

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return 0;
	v = p + nl + 1;
	e = p + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	free(*dst);
	if ((*dst = strndup(v, (size_t)(e - v))) == NULL)
		*nomem = 1;
	return 1;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct cx_http_response *rs = x->rs;
	size_t len = size * n;

	if (++x->nlines > HTTP_MAX_HEADER_LINES) {
		x->manylines = 1;
		return 0;	/* aborts the transfer */
	}
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the old one */
		free(rs->request_id);
		free(rs->query_error);
		free(rs->content_type);
		rs->request_id = rs->query_error = rs->content_type = NULL;
		x->nlines = 1;
		return len;
	}
	if (!grab_header(p, len, "x-amzn-requestid", &rs->request_id,
	    &x->nomem) &&
	    !grab_header(p, len, "x-amz-request-id", &rs->request_id,
	    &x->nomem) &&
	    !grab_header(p, len, "x-amzn-query-error", &rs->query_error,
	    &x->nomem))
		grab_header(p, len, "content-type", &rs->content_type,
		    &x->nomem);
	return len;
}

/* The host of url for messages (into out, "" if none). */
static void
url_host(const char *url, char *out, size_t n)
{
	char *h = NULL;

	out[0] = '\0';
	if (url != NULL && cx_http_url_split(url, &h, NULL) == 0 && h != NULL)
		snprintf(out, n, "%s", h);
	free(h);
}

/* A header line over libcurl's limit: libcurl up to 8.5 says only "out of
 * memory", after the status line and before any body; later ones say
 * CURLE_TOO_LARGE or name the headers. */
static int
giant_header(CURLcode c, const struct xfer *x, const char *errbuf)
{
	if (c == CURLE_OUT_OF_MEMORY && !x->nomem && x->nlines >= 1 &&
	    x->rs->body.len == 0)
		return 1;
#if LIBCURL_VERSION_NUM >= 0x080600
	if (c == CURLE_TOO_LARGE)
		return 1;
#endif
	return c == CURLE_RECV_ERROR && strstr(errbuf, "eader") != NULL;
}

static int
map_curl_error(CURLcode c, const struct xfer *x, const char *url)
{
	struct cx_http_response *rs = x->rs;
	char host[200];

	if (x->manylines) {
		snprintf(rs->problem, sizeof(rs->problem), "bad answer: "
		    "over %d header lines", HTTP_MAX_HEADER_LINES);
		return CX_ERR_PROTOCOL;
	}
	if (giant_header(c, x, rs->curl_error)) {
		snprintf(rs->problem, sizeof(rs->problem), "bad answer: a "
		    "header line over %d bytes", CURL_MAX_HTTP_HEADER);
		return CX_ERR_PROTOCOL;
	}
	if (x->toobig)
		return CX_ERR_TOOBIG;
	if (x->nomem)
		return CX_ERR_NOMEM;
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return CX_ERR_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return CX_ERR_INPUT;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		return CX_ERR_CONFIG;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		/* as the data channel does (ssm/ws_tls.c): it would only
		 * fail again, so no retry */
		url_host(url, host, sizeof(host));
		snprintf(rs->problem, sizeof(rs->problem), "the TLS "
		    "certificate of '%s' was not accepted: %s (a private CA: "
		    "set AWS_CA_BUNDLE to its certificate file)", host,
		    rs->curl_error[0] ? rs->curl_error :
		    curl_easy_strerror(c));
		rs->no_retry = 1;
		return CX_ERR_NETWORK;
	case CURLE_OUT_OF_MEMORY:
		return CX_ERR_NOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return CX_ERR_CANCELLED;
	default:
		return CX_ERR_NETWORK;
	}
}

/* libcurl calls this at least once a second and after each wake-up of its
 * wait (a signal interrupts it): a caught signal (os.h) ends the
 * transfer. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	(void)arg;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return cx_sig_pending() != 0;
}

/* One transfer being made: its easy handle, header list and callbacks'
 * state. */
struct xfer_slot {
	CURL *c;
	struct curl_slist *hl;
	struct xfer x;
	const struct cx_http_request *rq;
};

/*
 * Sets c up for rq (rs zeroed here, its body capped); the slot keeps what
 * must live until the transfer ends.  0 or CX_ERR_NOMEM.
 */
static int
xfer_setup(struct cx_http *h, CURL *c, const struct cx_http_request *rq,
    struct cx_http_response *rs, struct xfer_slot *s)
{
	struct curl_slist *tmp;
	size_t i;

	memset(rs, 0, sizeof(*rs));
	cx_buf_init(&rs->body, h->max_body);
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->rq = rq;
	s->x.rs = rs;
	s->x.max = h->max_body;
	for (i = 0; i < rq->nheaders; i++) {
		if ((tmp = curl_slist_append(s->hl, rq->headers[i])) == NULL)
			return CX_ERR_NOMEM;
		s->hl = tmp;
	}
	/* no 100-continue round trip; we never send large bodies */
	if ((tmp = curl_slist_append(s->hl, "Expect:")) == NULL)
		return CX_ERR_NOMEM;
	s->hl = tmp;

	curl_easy_reset(c);	/* the connections stay in the share */
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s->x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rs->curl_error);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (h->ca_bundle != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	/* the system's store too where OpenSSL does not read it (Windows) */
	if (cx_tls_native_ca())
		curl_easy_setopt(c, CURLOPT_SSL_OPTIONS,
		    (long)CURLSSLOPT_NATIVE_CA);
	if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    rq->body ? (const char *)rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(rq->body ? rq->body_len : 0));
	} else if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	return 0;
}

/*
 * The end of a transfer that returned cc: the result code of
 * cx_http_do(), the status in the response.  Drops what the handle
 * borrowed and wipes the header lines (Authorization, tokens).
 */
static int
xfer_finish(struct cx_http *h, struct xfer_slot *s, CURLcode cc)
{
	struct cx_http_response *rs = s->x.rs;
	struct curl_slist *tmp;
	int r = 0;

	if (s->c != NULL) {
		curl_off_t us = 0;

		if (curl_easy_getinfo(s->c, CURLINFO_TOTAL_TIME_T, &us) ==
		    CURLE_OK && us > 0)
			rs->total_ms = (uint64_t)us / 1000;
		/* the slist and body pointer must not outlive the transfer */
		curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, NULL);
	}
	if (cc != CURLE_OK) {
		r = map_curl_error(cc, &s->x, s->rq->url);
		if (rs->curl_error[0] == '\0')
			snprintf(rs->curl_error, sizeof(rs->curl_error), "%s",
			    curl_easy_strerror(cc));
		if (r == CX_ERR_TOOBIG)
			snprintf(rs->curl_error, sizeof(rs->curl_error),
			    "response over %zu bytes", h->max_body);
		cx_debug(1, "http: %s: %s", s->rq->method, rs->curl_error);
		if (rs->problem[0] != '\0')
			cx_debug(1, "http: %s", rs->problem);
	} else if (s->x.nomem)
		r = CX_ERR_NOMEM;
	else
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &rs->status);
	for (tmp = s->hl; tmp != NULL; tmp = tmp->next)
		cx_wipe(tmp->data, strlen(tmp->data));
	curl_slist_free_all(s->hl);
	s->hl = NULL;
	return r;
}

int
cx_http_do(struct cx_http *h, const struct cx_http_request *rq,
    struct cx_http_response *rs)
{
	struct xfer_slot s;
	CURLcode cc;
	int r;

	if ((r = xfer_setup(h, h->curl, rq, rs, &s)) != 0) {
		(void)xfer_finish(h, &s, CURLE_OK);
		return r;
	}
	if (cx_sig_pending())
		cc = CURLE_ABORTED_BY_CALLBACK;
	else
		cc = curl_easy_perform(h->curl);
	return xfer_finish(h, &s, cc);
}

/* Runs the transfers added to m to their ends; a caught signal (os.h)
 * aborts them (their progress callbacks say so). */
static int
multi_run(CURLM *m)
{
	struct curl_waitfd wfd;
	int running = 1, nfd, sfd = cx_sig_sock();

	while (running > 0) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			return CX_ERR_INTERNAL;
		if (running == 0)
			break;
		memset(&wfd, 0, sizeof(wfd));
		wfd.fd = (curl_socket_t)sfd;
		wfd.events = CURL_WAIT_POLLIN;
		/* the signal pipe only wakes us: the callbacks abort */
		if (curl_multi_poll(m, sfd != -1 ? &wfd : NULL,
		    sfd != -1 ? 1 : 0, 1000, &nfd) != CURLM_OK)
			return CX_ERR_INTERNAL;
	}
	return 0;
}

int
cx_http_batch(struct cx_http *h, struct cx_http_batch_item *items, size_t n)
{
	struct xfer_slot *slots = NULL;
	CURLM *m = NULL;
	CURLMsg *msg;
	CURLcode *codes = NULL;
	size_t i, added = 0;
	int left, r;

	if (n == 0)
		return 0;
	if (n > CX_HTTP_BATCH_MAX)
		return CX_ERR_INPUT;
	for (i = 0; i < n; i++)
		items[i].r = CX_ERR_INTERNAL;
	if ((slots = calloc(n, sizeof(*slots))) == NULL ||
	    (codes = calloc(n, sizeof(*codes))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((m = curl_multi_init()) == NULL) {
		r = CX_ERR_INTERNAL;
		goto out;
	}
	/* HTTP/2 (TLS): one connection per endpoint carries them all;
	 * HTTP/1.1: one more connection per request in flight, and all of
	 * them stay in the share for the calls after */
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	for (i = 0; i < n; i++) {
		CURL *c = i == 0 ? h->curl : curl_easy_init();

		codes[i] = CURLE_ABORTED_BY_CALLBACK;
		if (c == NULL) {
			r = CX_ERR_NOMEM;
			goto out;
		}
		slots[i].c = c;
		if ((r = xfer_setup(h, c, items[i].rq, items[i].rs,
		    &slots[i])) != 0)
			goto out;
		curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)&slots[i]);
		if (curl_multi_add_handle(m, c) != CURLM_OK) {
			r = CX_ERR_INTERNAL;
			goto out;
		}
		added = i + 1;
	}
	if (!cx_sig_pending() && (r = multi_run(m)) != 0)
		goto out;
	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		struct xfer_slot *s = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&s);
		if (s != NULL)
			codes[s - slots] = msg->data.result;
	}
	r = 0;
 out:
	for (i = 0; slots != NULL && i < n; i++) {
		if (i < added)
			curl_multi_remove_handle(m, slots[i].c);
		if (slots[i].c == NULL)
			continue;
		if (slots[i].x.rs != NULL)
			items[i].r = xfer_finish(h, &slots[i], r == 0 ?
			    codes[i] : CURLE_ABORTED_BY_CALLBACK);
		if (slots[i].c != h->curl)
			curl_easy_cleanup(slots[i].c);
	}
	if (m != NULL)
		curl_multi_cleanup(m);
	free(slots);
	free(codes);
	return r;
}

int
cx_http_url_split(const char *url, char **host, char **path)
{
	return cx_http_url_parts(url, host, path, NULL);
}

static int
default_port(const char *scheme, const char *port)
{
	if (port == NULL)
		return 1;
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0)
		return strcmp(port, "80") == 0;
	return strcmp(port, "443") == 0;
}

int
cx_http_url_parts(const char *url, char **host, char **path, char **query)
{
	CURLU *u = NULL;
	char *scheme = NULL, *hn = NULL, *port = NULL, *p = NULL, *q = NULL;
	char *h = NULL, *pa = NULL, *qu = NULL;
	struct cx_buf b;
	int r;

	if (host)
		*host = NULL;
	if (path)
		*path = NULL;
	if (query)
		*query = NULL;
	cx_buf_init(&b, 4096);
	if ((r = global_init()) != 0)
		return r;
	if ((u = curl_url()) == NULL)
		return CX_ERR_NOMEM;
	if (url == NULL ||
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &hn, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
	    strcmp(scheme, "ws") != 0 && strcmp(scheme, "wss") != 0)) {
		r = CX_ERR_INPUT;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if ((r = cx_buf_puts(&b, hn)) != 0 || (!default_port(scheme, port) &&
	    (r = cx_buf_printf(&b, ":%s", port)) != 0))
		goto out;
	if ((h = cx_buf_steal_str(&b)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		p = NULL;
	if ((pa = strdup(p && *p ? p : "/")) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK && q &&
	    *q && (qu = strdup(q)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (host) {
		*host = h;
		h = NULL; /* transferred */
	}
	if (path) {
		*path = pa;
		pa = NULL; /* transferred */
	}
	if (query) {
		*query = qu;
		qu = NULL; /* transferred */
	}
	r = 0;
 out:
	free(h);
	free(pa);
	free(qu);
	cx_buf_clean_up(&b);
	curl_free(scheme);
	curl_free(hn);
	curl_free(port);
	curl_free(p);
	curl_free(q);
	curl_url_cleanup(u);
	return r;
}
