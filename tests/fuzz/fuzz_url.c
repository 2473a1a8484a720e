/* libFuzzer target: URL splitting for the data-channel StreamUrl
 * (cx_ws_url_split) and for AWS endpoints (cx_http_url_split).  Property:
 * the Host header value and the request target never carry a blank or a
 * control character (no header injection from a hostile URL). */
#include "fuzz.h"

#include "aws/http.h"
#include "ssm/ws.h"

static void
no_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		FZ_ASSERT((unsigned char)*s > 0x20 && *s != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = fz_strndup(data, size), *cu, *host, *target, *path;

	if (cx_ws_url_split(url, &cu, &host, &target) == 0) {
		FZ_ASSERT(*host != '\0' && *target == '/');
		no_ctl(host);
		no_ctl(target);
		no_ctl(cu);
		free(cu);
		free(host);
		free(target);
	} else
		FZ_ASSERT(cu == NULL && host == NULL && target == NULL);
	if (cx_http_url_split(url, &host, &path) == 0) {
		no_ctl(host);
		no_ctl(path);
		free(host);
		free(path);
	}
	free(url);
	return 0;
}
