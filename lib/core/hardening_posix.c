#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxerr.h"
#include "hardening.h"
#include "log.h"
#include "os.h"

/* "XXXXXX" of mkstemp: letters and digits */
static int
tmp_suffix(const char *s)
{
	size_t i;

	for (i = 0; i < 6; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return s[6] == '\0';
}

int
cx_tmp_cleanup(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir = NULL, *prefix = NULL, *full = NULL;
	struct dirent *de;
	struct stat st;
	size_t pl;
	DIR *d = NULL;
	int n = 0;

	dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (dir == NULL || *dir == '\0' || cx_asprintf(&prefix, "%s.tmp.",
	    base) < 0) {
		prefix = NULL;
		goto out;
	}
	pl = strlen(prefix);
	if ((d = opendir(dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, pl) != 0 ||
		    !tmp_suffix(de->d_name + pl))
			continue;
		if (cx_asprintf(&full, "%s/%s", dir, de->d_name) < 0) {
			full = NULL;
			break;
		}
		if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid() && unlink(full) == 0) {
			cx_debug(1, "removed '%s' left by an interrupted write",
			    full);
			n++;
		}
		free(full);
		full = NULL;
	}
 out:
	if (d != NULL)
		closedir(d);
	free(dir);
	free(prefix);
	return n;
}

int
cx_check_private_key(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if ((st.st_mode & 077) == 0)
		return 0;
	cx_error("permissions %04o for '%s' are too open: ssh will ignore "
	    "this private key (run: chmod 600 '%s')",
	    (unsigned)(st.st_mode & 07777), path, path);
	return CX_ERR_INPUT;
}

int
cx_warn_if_readable(const char *path)
{
	static char *warned;
	struct stat st;

	if (stat(path, &st) == -1 || (st.st_mode & 044) == 0)
		return 0;
	if (warned != NULL && strcmp(warned, path) == 0)
		return 0;
	cx_warn("'%s' holds AWS secrets but is readable by %s (run: chmod "
	    "600 '%s')", path, st.st_mode & 04 ? "everyone" : "its group",
	    path);
	free(warned);
	warned = strdup(path);
	return 1;
}
