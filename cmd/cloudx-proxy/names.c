/* Names that give setup its defaults: the IAM user's ARN and the tags. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/cxerr.h"
#include "driver.h"
#include "setup.h"

/* env of "cloudX-<env>-<user...>" (prefix given), or NULL */
static char *
seg_env(const char *seg, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *e, *dash;

	if (len <= pl || strncmp(seg, prefix, pl) != 0)
		return NULL;
	e = seg + pl;
	dash = memchr(e, '-', len - pl);
	/* needs a non-empty env and a non-empty third part */
	if (dash == NULL || dash == e || (size_t)(dash - seg) + 1 >= len)
		return NULL;
	return strndup(e, (size_t)(dash - e));
}

int
cx_drv_arn_env(const char *arn, int *is_user, char **env, char **user)
{
	static const char *const prefixes[2] = { "cloudX-", "cloudx-" };
	const char *res = arn, *segs[64], *s;
	size_t lens[64], nseg = 0;
	int colons = 0, p;
	size_t i;

	*is_user = 0;
	*env = *user = NULL;
	for (; *res != '\0' && colons < 5; res++)
		if (*res == ':')
			colons++;
	if (colons < 5)
		return CX_ERR_INPUT;
	for (s = res; nseg < 64; ) {
		const char *slash = strchr(s, '/');
		segs[nseg] = s;
		lens[nseg] = slash ? (size_t)(slash - s) : strlen(s);
		nseg++;
		if (slash == NULL)
			break;
		s = slash + 1;
	}
	if (lens[0] != 4 || strncmp(segs[0], "user", 4) != 0)
		return 0;
	*is_user = 1;
	for (p = 0; p < 2; p++) {
		for (i = nseg; i-- > 1; ) {
			if ((*env = seg_env(segs[i], lens[i], prefixes[p])) !=
			    NULL) {
				if ((*user = strndup(segs[i], lens[i])) ==
				    NULL) {
					free(*env);
					*env = NULL;
					return CX_ERR_NOMEM;
				}
				return 0;
			}
		}
	}
	return 0;
}

static const char *
tag(const cJSON *tags, const char *key)
{
	const cJSON *t;
	const cJSON *k, *v;

	cJSON_ArrayForEach(t, tags) {
		k = cJSON_GetObjectItemCaseSensitive(t, "Key");
		v = cJSON_GetObjectItemCaseSensitive(t, "Value");
		if (cJSON_IsString(k) && cJSON_IsString(v) &&
		    strcmp(k->valuestring, key) == 0)
			return v->valuestring;
	}
	return NULL;
}

int
cx_drv_tags_defaults(const cJSON *tags, char **env, char **host,
    char **name_tag)
{
	const char *name, *bar, *e, *d, *v;
	size_t len;

	*env = *host = NULL;
	if (name_tag)
		*name_tag = NULL;
	if ((name = tag(tags, "Name")) != NULL) {
		bar = strstr(name, " | ");
		len = bar ? (size_t)(bar - name) : strlen(name);
		if (name_tag && (*name_tag = strndup(name, len)) == NULL)
			return CX_ERR_NOMEM;
		if (len > 7 && (strncmp(name, "cloudx-", 7) == 0 ||
		    strncmp(name, "cloudX-", 7) == 0)) {
			e = name + 7;
			d = memchr(e, '-', len - 7);
			if (d != NULL && d > e && (size_t)(d - name) + 1 < len) {
				*env = strndup(e, (size_t)(d - e));
				*host = strndup(d + 1,
				    len - (size_t)(d + 1 - name));
				if (*env == NULL || *host == NULL)
					return CX_ERR_NOMEM;
				return 0;
			}
		}
	}
	if ((v = tag(tags, "cloudX:environment")) == NULL &&
	    (v = tag(tags, "cloudx:environment")) == NULL)
		v = tag(tags, "Environment");
	if (v != NULL && *v != '\0' && (*env = strdup(v)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}
