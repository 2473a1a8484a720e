/*
 * The AWS calls of setup and doctor, made through the stages themselves
 * (cx-creds --identity, cx-instance status), so that credentials, regions
 * and endpoints are resolved exactly as for connect.
 */

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "driver.h"
#include "setup.h"

int
cx_drv_run_stage(const char *name, const char *const *args,
    const struct cx_buf *in, cJSON **out)
{
	char *argv[24], *prog = NULL;
	struct cx_buf b;
	int i, r, ws;

	*out = NULL;
	cx_buf_init(&b, CX_DRV_MAX_STAGE_OUT);
	cx_buf_set_secret(&b);
	if ((r = cx_find_prog(name, &prog)) != 0)
		return r;
	argv[0] = prog;
	for (i = 0; args[i] != NULL && i < 22; i++)
		argv[i + 1] = (char *)(uintptr_t)args[i];
	argv[i + 1] = NULL;
	r = cx_drv_run(argv, in ? in->data : NULL, in ? in->len : 0, &b, &ws);
	if (r == 0 && cx_wait_exit(ws) != 0)
		r = cx_err_of_exit(cx_drv_exit_status(ws));
	else if (r == 0 && (*out = cJSON_ParseWithLength((const char *)b.data,
	    b.len)) == NULL) {
		cx_error("'%s' did not print JSON", name);
		r = CX_ERR_INTERNAL;
	}
	free(prog);
	cx_buf_clean_up(&b);
	return r;
}

static void
cred_args(struct cx_drv_setup *s, const char **a, int *n)
{
	a[(*n)++] = "--profile";
	a[(*n)++] = s->profile;
	if (s->aws_env) {
		a[(*n)++] = "--aws-env";
		a[(*n)++] = s->aws_env;
	}
	if (s->region) {
		a[(*n)++] = "--region";
		a[(*n)++] = s->region;
	}
	if (s->verbosity > 0)
		a[(*n)++] = "-v";
	a[*n] = NULL;
}

int
cx_drv_aws_identity(struct cx_drv_setup *s, char **arn)
{
	const char *a[16] = { "--identity" };
	const cJSON *id;
	cJSON *doc = NULL;
	const char *v;
	int n = 1, r;

	*arn = NULL;
	cred_args(s, a, &n);
	if ((r = cx_drv_run_stage("cx-creds", a, NULL, &doc)) != 0)
		return r;
	id = cJSON_GetObjectItemCaseSensitive(doc, "Identity");
	if ((v = cx_json_str(id, "Arn")) == NULL) {
		cx_error("cx-creds printed no Identity.Arn");
		r = CX_ERR_INTERNAL;
	} else if ((*arn = strdup(v)) == NULL) {
		r = CX_ERR_NOMEM;
	}
	cx_json_delete_secure(doc);
	return r;
}

int
cx_drv_aws_instance_tags(struct cx_drv_setup *s, const char *id,
    cJSON **tags)
{
	const char *a[16] = { "status", id };
	const cJSON *inst, *t, *it;
	cJSON *doc = NULL, *arr = NULL, *o;
	int n = 2, r;

	*tags = NULL;
	cred_args(s, a, &n);
	if ((r = cx_drv_run_stage("cx-instance", a, NULL, &doc)) != 0)
		return r;
	inst = cJSON_GetObjectItemCaseSensitive(doc, "Instance");
	t = cJSON_GetObjectItemCaseSensitive(inst, "Tags");
	if ((arr = cJSON_CreateArray()) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	/* {"Key":"Value"} (cx-instance) or [{"Key","Value"}] (EC2) */
	cJSON_ArrayForEach(it, t) {
		if (cJSON_IsString(it) && it->string != NULL) {
			if ((o = cJSON_CreateObject()) == NULL ||
			    !cJSON_AddItemToArray(arr, o) ||
			    cJSON_AddStringToObject(o, "Key", it->string) ==
			    NULL || cJSON_AddStringToObject(o, "Value",
			    it->valuestring) == NULL) {
				r = CX_ERR_NOMEM;
				goto out;
			}
		} else if (cJSON_IsObject(it)) {
			if ((o = cJSON_Duplicate(it, 1)) == NULL ||
			    !cJSON_AddItemToArray(arr, o)) {
				r = CX_ERR_NOMEM;
				goto out;
			}
		}
	}
	*tags = arr;
	arr = NULL; /* transferred */
 out:
	cJSON_Delete(arr);
	cx_json_delete_secure(doc);
	return r;
}
