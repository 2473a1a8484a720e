/* libFuzzer target: the stage JSON reader (size limit, trailing junk,
 * non-objects) and the secret wiping walk over whatever it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "core/stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = NULL;

	cx_log_set_verbosity(-2);
	if (cx_stage_parse((const char *)data, size, &doc) == 0) {
		(void)cx_json_str(doc, "AccessKeyId");
		cx_json_wipe_secrets(doc);
	}
	cx_json_delete_secure(doc);
	return 0;
}
