#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cxerr.h"
#include "log.h"
#include "os.h"
#include "stage.h"

static const char *const secret_keys[] = {
	"SecretAccessKey", "SessionToken", "TokenValue", "secretAccessKey",
	"sessionToken", "accessToken", "refreshToken", "clientSecret",
	"aws_secret_access_key", "aws_session_token", "deviceCode",
	"codeVerifier", "code", NULL
};

static int
is_secret_key(const char *k)
{
	int i;

	if (k == NULL)
		return 0;
	for (i = 0; secret_keys[i] != NULL; i++)
		if (strcmp(k, secret_keys[i]) == 0)
			return 1;
	return 0;
}

void
cx_json_wipe_secrets(cJSON *doc)
{
	cJSON *it;

	if (doc == NULL)
		return;
	for (it = doc->child; it != NULL; it = it->next) {
		if (cJSON_IsString(it) && it->valuestring != NULL &&
		    is_secret_key(it->string))
			cx_wipe(it->valuestring, strlen(it->valuestring));
		else if (cJSON_IsObject(it) || cJSON_IsArray(it))
			cx_json_wipe_secrets(it);
	}
}

void
cx_json_delete_secure(cJSON *doc)
{
	if (doc == NULL)
		return;
	cx_json_wipe_secrets(doc);
	cJSON_Delete(doc);
}

static int
is_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
cx_stage_parse(const char *data, size_t len, cJSON **out)
{
	const char *end = NULL;
	cJSON *doc = NULL;
	size_t i;
	int r;

	*out = NULL;
	if (len > CX_STAGE_MAX_INPUT) {
		cx_error("input JSON is larger than %d bytes", CX_STAGE_MAX_INPUT);
		return CX_ERR_TOOBIG;
	}
	for (i = 0; i < len && is_json_ws(data[i]); i++)
		;
	if (i == len) {
		if ((doc = cJSON_CreateObject()) == NULL)
			return CX_ERR_NOMEM;
		*out = doc;
		return 0;
	}
	doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	if (doc == NULL) {
		cx_error("input is not valid JSON");
		r = CX_ERR_INPUT;
		goto out;
	}
	for (; end < data + len; end++) {
		if (!is_json_ws(*end)) {
			cx_error("input has data after the JSON object");
			r = CX_ERR_INPUT;
			goto out;
		}
	}
	if (!cJSON_IsObject(doc)) {
		cx_error("input JSON is not an object");
		r = CX_ERR_INPUT;
		goto out;
	}
	*out = doc;
	doc = NULL;	/* transferred */
	r = 0;
 out:
	cx_json_delete_secure(doc);
	return r;
}

int
cx_stage_read(int fd, cJSON **out)
{
	struct cx_buf b;
	int r = 0;

	*out = NULL;
	cx_buf_init(&b, CX_STAGE_MAX_INPUT);
	cx_buf_set_secret(&b);
	if (!isatty(fd)) {
		r = cx_read_fd(fd, CX_STAGE_MAX_INPUT, &b);
		if (r == CX_ERR_TOOBIG) {
			cx_error("input JSON is larger than %d bytes",
			    CX_STAGE_MAX_INPUT);
			goto out;
		}
		if (r != 0) {
			cx_error("cannot read standard input: %s",
			    strerror(errno));
			goto out;
		}
	}
	r = cx_stage_parse((const char *)cx_buf_str(&b), b.len, out);
 out:
	cx_buf_clean_up(&b);
	return r;
}

int
cx_stage_write(const cJSON *doc)
{
	char *s;
	int r = 0;

	if ((s = cJSON_PrintUnformatted(doc)) == NULL)
		return CX_ERR_NOMEM;
	if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF)
		r = CX_ERR_IO;
	cx_wipe(s, strlen(s));
	cJSON_free(s);
	if (fflush(stdout) == EOF || ferror(stdout))
		r = CX_ERR_IO;
	if (r != 0)
		cx_error("writing output failed: %s", strerror(errno));
	return r;
}

const char *
cx_json_str(const cJSON *doc, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

int
cx_json_dup_str(const cJSON *doc, const char *key, char **out)
{
	const char *v = cx_json_str(doc, key);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return 0;
	return (*out = strdup(v)) == NULL ? CX_ERR_NOMEM : 0;
}

int
cx_json_set(cJSON *doc, const char *key, cJSON *item)
{
	if (item == NULL)
		return CX_ERR_NOMEM;
	if (cJSON_HasObjectItem(doc, key)) {
		cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(doc, key);
		if (is_secret_key(key) && cJSON_IsString(old))
			cx_wipe(old->valuestring, strlen(old->valuestring));
		cx_json_delete_secure(old);	/* secrets inside, too */
	}
	if (!cJSON_AddItemToObject(doc, key, item)) {
		cx_json_delete_secure(item);
		return CX_ERR_NOMEM;
	}
	return 0;
}

int
cx_json_set_str(cJSON *doc, const char *key, const char *val)
{
	return cx_json_set(doc, key, cJSON_CreateString(val));
}

int
cx_json_set_num(cJSON *doc, const char *key, double val)
{
	return cx_json_set(doc, key, cJSON_CreateNumber(val));
}

int
cx_json_set_bool(cJSON *doc, const char *key, int val)
{
	return cx_json_set(doc, key, cJSON_CreateBool(val));
}
