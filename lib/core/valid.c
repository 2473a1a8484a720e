/*
 * Validators for the identifiers that pass between the stages and into the
 * files we write.  Pure functions of their argument; nothing else here.
 */
#include <ctype.h>
#include <string.h>

#include "valid.h"

int
cx_instance_id_valid(const char *id)
{
	size_t n, i;

	if (id == NULL || strncmp(id, "i-", 2) != 0)
		return 0;
	n = strlen(id + 2);
	if (n != 8 && n != 17)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[2 + i]))
			return 0;
	return 1;
}
