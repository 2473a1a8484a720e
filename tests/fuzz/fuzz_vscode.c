/* libFuzzer target: the JSONC merge of VS Code's settings.json
 * (cmd/cloudx-proxy/vscode.c).  Properties: the merged text parses as JSONC,
 * and merging it again changes nothing. */
#include "fuzz.h"

#include "cloudx-proxy/setup.h"
#include "core/buf.h"
#include "core/log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_buf out, out2;
	cJSON *j = NULL;
	char *text = fz_strndup(data, size);
	int changed;

	cx_log_set_verbosity(-2);
	cx_buf_init(&out, 0);
	cx_buf_init(&out2, 0);
	if (cx_drv_jsonc_parse(text, &j) == 0)
		cJSON_Delete(j);
	j = NULL;
	if (cx_drv_vscode_merge(text, "/home/u/.ssh/cloudX/config", "cloudx",
	    &out, &changed) == 0) {
		FZ_ASSERT(cx_drv_jsonc_parse(cx_buf_str(&out), &j) == 0);
		cJSON_Delete(j);
		FZ_ASSERT(cx_drv_vscode_merge(cx_buf_str(&out),
		    "/home/u/.ssh/cloudX/config", "cloudx", &out2,
		    &changed) == 0);
		FZ_ASSERT(changed == 0);
		FZ_ASSERT(out2.len == out.len &&
		    memcmp(out2.data, out.data, out.len) == 0);
	}
	cx_buf_clean_up(&out);
	cx_buf_clean_up(&out2);
	free(text);
	return 0;
}
