/*
 * Signing a request given by URL (for requests not made through lib/aws/aws.c,
 * such as the tunnel's websocket upgrade).  See sigv4.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cxerr.h"
#include "creds.h"
#include "http.h"
#include "sigv4.h"

#define SIGV4_URL_MAX_EXTRA	32

int
cx_sigv4_sign_url(const char *method, const char *url,
    const struct cx_sigv4_header *extra, size_t nextra, const char *region,
    const char *service, const struct cx_creds *creds, time_t now,
    char **host_out, struct cx_sigv4_result *rs)
{
	struct cx_sigv4_header h[SIGV4_URL_MAX_EXTRA + 1];
	struct cx_sigv4_request rq;
	char *host = NULL, *path = NULL, *query = NULL;
	size_t i, n = 0;
	int r;

	*host_out = NULL;
	memset(rs, 0, sizeof(*rs));
	if (nextra > SIGV4_URL_MAX_EXTRA)
		return CX_ERR_INPUT;
	if ((r = cx_http_url_parts(url, &host, &path, &query)) != 0)
		return r;
	h[n++] = (struct cx_sigv4_header){ "Host", host };
	for (i = 0; i < nextra; i++) {
		if (extra[i].name == NULL ||
		    strcasecmp(extra[i].name, "host") == 0)
			continue;	/* the URL's host is the one signed */
		h[n++] = extra[i];
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.query = query;
	rq.headers = h;
	rq.nheaders = n;
	rq.region = region;
	rq.service = service;
	rq.creds = creds;
	rq.now = now;
	if ((r = cx_sigv4_sign(&rq, rs)) != 0)
		goto out;
	*host_out = host;
	host = NULL; /* transferred */
 out:
	free(host);
	free(path);
	free(query);
	return r;
}

int
cx_sigv4_url_is_presigned(const char *url)
{
	static const char *const keys[] = {
		"X-Amz-Algorithm=", "X-Amz-Credential=", "X-Amz-Date=",
		"X-Amz-Expires=", "X-Amz-SignedHeaders=", "X-Amz-Signature=",
		"X-Amz-Security-Token=",
	};
	const char *q, *p;
	size_t i, k;

	if (url == NULL || (q = strchr(url, '?')) == NULL)
		return 0;
	for (p = q + 1; *p != '\0' && *p != '#'; p += strcspn(p, "&#")) {
		if (*p == '&')
			p++;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			i = strlen(keys[k]);
			if (strncmp(p, keys[k], i) == 0)
				return 1;
		}
	}
	return 0;
}
