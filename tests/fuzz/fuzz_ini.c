/* libFuzzer target: the AWS CLI v2 INI dialect (lib/aws/ini.c) and the
 * section-header splitting it uses for profiles (lib/core/shlex.c). */
#include "fuzz.h"

#include "aws/ini.h"
#include "core/log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ini *ini = NULL;
	struct cx_ini_error err;
	const struct cx_ini_section *s;
	size_t i, j;
	char *name;

	cx_log_set_verbosity(-2);
	if (cx_ini_parse((const char *)data, size, "fuzz", &ini, &err) != 0) {
		FZ_ASSERT(ini == NULL);
		FZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		return 0;
	}
	for (i = 0; i < ini->nsec; i++) {
		s = &ini->sec[i];
		FZ_ASSERT(cx_ini_section(ini, s->name) != NULL);
		if (cx_ini_header_name(s->name, "profile", &name) == 1)
			free(name);
		if (cx_ini_header_name(s->name, "sso-session", &name) == 1)
			free(name);
		for (j = 0; j < s->nent; j++) {
			FZ_ASSERT(cx_ini_get(ini, s, s->ent[j].key) != NULL);
			(void)cx_ini_sub_get(&s->ent[j], "endpoint_url");
		}
		(void)cx_ini_get(ini, s, "region");
	}
	cx_ini_free(ini);
	return 0;
}
