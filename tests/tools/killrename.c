/*
 * LD_PRELOAD shim for tests/bats/faults.bats: when CX_KILL_AT_RENAME is
 * set, a process that renames a "*.tmp.*" file over its target is killed
 * with SIGKILL just before the rename, i.e. after the new contents were
 * written and synced but before they replace the old file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rename(const char *from, const char *to);

int
rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *);

	if (getenv("CX_KILL_AT_RENAME") != NULL && strstr(from, ".tmp.") != NULL)
		raise(SIGKILL);
	real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	return real(from, to);
}
