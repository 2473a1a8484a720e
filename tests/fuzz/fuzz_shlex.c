/* libFuzzer target: POSIX shell-style word splitting (lib/core/shlex.c), used
 * for credential_process commands and AWS section headers. */
#include "fuzz.h"

#include "core/shlex.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv = NULL, *s = fz_strndup(data, size);
	size_t argc = 0, i;

	if (cx_shlex_split(s, &argv, &argc) == 0) {
		FZ_ASSERT(argc <= CX_SHLEX_MAX_WORDS);
		for (i = 0; i < argc; i++)
			FZ_ASSERT(argv[i] != NULL && strlen(argv[i]) <= size);
		FZ_ASSERT(argv[argc] == NULL);
		cx_shlex_free(argv);
	} else
		FZ_ASSERT(argv == NULL);
	free(s);
	return 0;
}
