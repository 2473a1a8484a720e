/* Small helpers shared by the driver's subcommands. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "driver.h"

const char *
cx_drv_progname(const char *argv0)
{
	const char *s;

	if (argv0 == NULL)
		return "cloudx-proxy";
	s = strrchr(argv0, '/');
	return s ? s + 1 : argv0;
}

const char *
cx_drv_prefix(const char *argv0)
{
	return strcmp(cx_drv_progname(argv0), "cloudX-proxy") == 0 ?
	    "cloudX" : "cloudx";
}

void
cx_drv_bad_instance_id(const char *id)
{
	cx_error("invalid EC2 instance ID format: '%s' (instance IDs start "
	    "with 'i-' followed by 8 or 17 hexadecimal characters, e.g. "
	    "i-1234567890abcdef0 or i-12345678)", id ? id : "");
}

int
cx_drv_bad_option(const char *sub, int c, const char *opt, const char *prog)
{
	if (c == ':')
		cx_error("%s: option '%s' needs a value", sub, opt);
	else
		cx_error("%s: unknown option '%s' (see '%s %s --help')", sub,
		    opt, prog, sub);
	return CX_EXIT_USAGE;
}

static int
home_has(const char *home, const char *rel)
{
	char *p = NULL;
	int r;

	if (cx_path_join(home, rel, &p) != 0)
		return 0;
	r = cx_is_dir(p);
	free(p);
	return r;
}

const char *
cx_drv_default_name(const char *home)
{
	if (home_has(home, ".ssh/cloudX"))
		return "cloudX";
	if (home_has(home, ".ssh/vscode"))
		return "vscode";
	return "cloudX";
}

static int
dirname_of(const char *path, char **out)
{
	const char *s = strrchr(path, '/');

	*out = NULL;
	if (s == NULL)
		*out = strdup(".");
	else if (s == path)
		*out = strdup("/");
	else
		*out = strndup(path, (size_t)(s - path));
	return *out ? 0 : CX_ERR_NOMEM;
}

int
cx_drv_connect_ssh_dir(const char *home, const char *ssh_dir,
    const char *ssh_config, char **out)
{
	char *tmp = NULL;
	int r;

	*out = NULL;
	if (ssh_dir != NULL && *ssh_dir != '\0')
		return cx_expand_user(ssh_dir, out);
	if (ssh_config != NULL && *ssh_config != '\0') {
		if ((r = cx_expand_user(ssh_config, &tmp)) != 0)
			return r;
		r = dirname_of(tmp, out);
		free(tmp);
		return r;
	}
	if (home_has(home, ".ssh/cloudX") || !home_has(home, ".ssh/vscode"))
		return cx_path_join(home, ".ssh/cloudX", out);
	return cx_path_join(home, ".ssh/vscode", out);
}

int
cx_drv_tilde(const char *home, const char *path, char **out)
{
	size_t hl = strlen(home);

	*out = NULL;
	while (hl > 1 && home[hl - 1] == '/')
		hl--;
	if (hl > 1 && strncmp(path, home, hl) == 0 &&
	    (path[hl] == '/' || path[hl] == '\0')) {
		if (cx_asprintf(out, "~%s", path + hl) < 0) {
			*out = NULL;
			return CX_ERR_NOMEM;
		}
		return 0;
	}
	return (*out = strdup(path)) ? 0 : CX_ERR_NOMEM;
}
