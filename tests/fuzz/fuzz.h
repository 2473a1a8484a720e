/* Shared bits of the libFuzzer targets (tests/fuzz/fuzz_*.c). */
#ifndef CX_FUZZ_H
#define CX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (embedded NULs kept); caller frees. */
static inline char *
fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A property the target checks failed: crash so libFuzzer keeps the
 * input. */
#define FZ_ASSERT(c) do { if (!(c)) abort(); } while (0)

#endif
