/*
 * The Include of our file in ~/.ssh/config.
 */
#include <sys/stat.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "sshconf.h"
#include "sshconf_int.h"

/* An absolute form of path: "~/" expanded, relative to cwd made absolute. */
static int
abs_path(const char *path, const char *home, char **out)
{
	char cwd[PATH_MAX];

	*out = NULL;
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
		return cx_path_join(home, path + 1, out);
	if (cx_path_is_absolute(path))
		return (*out = strdup(path)) ? 0 : CX_ERR_NOMEM;
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		cx_error("cannot find the current directory");
		return CX_ERR_IO;
	}
	return cx_path_join(cwd, path, out);
}

/* Does one Include argument (as ssh reads it in a user config) name our
 * file?  Relative names are under ~/.ssh; globs are matched. */
static int
include_names(const char *arg, const char *home, const char *ours)
{
	char *p = NULL, *sshdir = NULL;
	int hit = 0;

	if (arg[0] == '~' && (arg[1] == '/' || arg[1] == '\0')) {
		if (cx_path_join(home, arg + 1, &p) != 0)
			return 0;
	} else if (cx_path_is_absolute(arg)) {
		p = strdup(arg);
	} else {
		if (cx_path_join(home, ".ssh", &sshdir) != 0)
			return 0;
		(void)cx_path_join(sshdir, arg, &p);
	}
	if (p != NULL)
		hit = cx_same_file(p, ours) ||
		    (strpbrk(p, "*?[") != NULL &&
		    cx_fnmatch_path(p, ours) == 0);
	free(p);
	free(sshdir);
	return hit;
}

int
cx_sshconf_ensure_include(const char *main_config, const char *our_config,
    const char *home, int flags, struct cx_sshconf_include_result *res,
    struct cx_buf *diff)
{
	struct cx_sshconf *m = NULL;
	struct sc_pl p;
	struct cx_buf t;
	char *h = NULL, *mainp = NULL, *ours = NULL, **argv = NULL;
	size_t i, pos;
	int r, argc, k, dry = (flags & CX_SSHCONF_DRY_RUN) != 0;

	memset(res, 0, sizeof(*res));
	cx_buf_init(&t, 0);
	if (home == NULL) {
		if ((r = cx_home_dir(&h)) != 0)
			goto out;
	} else if ((h = strdup(home)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if ((r = abs_path(main_config, h, &mainp)) != 0 ||
	    (r = abs_path(our_config, h, &ours)) != 0)
		goto out;
	if (!cx_sshconf_valid_path(ours)) {
		cx_error("invalid ssh config path '%s'", ours);
		r = CX_ERR_INPUT;
		goto out;
	}
	if (cx_same_file(mainp, ours)) {
		res->same_file = 1;
		r = 0;
		goto out;
	}
	if ((r = cx_sshconf_load(mainp, "cloudx",
	    dry ? 0 : CX_SSHCONF_LOCK, &m)) != 0)
		goto out;
	res->created = !cx_sshconf_existed(m);
	/* an Include of ours among the top-level lines? */
	pos = m->n;
	for (i = 0; i < m->n; i++) {
		sc_parse_line(m->lines[i].raw, m->lines[i].len, &p);
		if (p.kind != SC_DIRECTIVE)
			continue;
		if (sc_kw_is(&p, "host") || sc_kw_is(&p, "match")) {
			pos = i;
			break;
		}
		if (!sc_kw_is(&p, "include"))
			continue;
		if ((r = sc_split(p.val, p.vallen, &argv, &argc, NULL)) != 0)
			goto out;
		for (k = 0; k < argc && !res->already; k++)
			res->already = include_names(argv[k], h, ours);
		sc_argv_free(argv);
		argv = NULL;
	}
	if (res->already) {
		r = 0;
		goto out;
	}
	if ((r = cx_buf_puts(&t, "Include ")) != 0 ||
	    (r = sc_quote(ours, &t)) != 0 ||
	    (r = cx_buf_puts(&t, m->eol)) != 0)
		goto out;
	if (pos < m->n) {
		/* keep the comments on top of the first Host with it */
		while (pos > 0) {
			sc_parse_line(m->lines[pos - 1].raw,
			    m->lines[pos - 1].len, &p);
			if (p.kind != SC_COMMENT)
				break;
			pos--;
		}
		if ((r = cx_buf_puts(&t, m->eol)) != 0)
			goto out;
	} else if (m->n > 0 && !sc_is_blank(m, m->n - 1)) {
		/* appended after top-level lines: one blank line between */
		cx_buf_reset(&t);
		if ((r = cx_buf_puts(&t, m->eol)) != 0 ||
		    (r = cx_buf_puts(&t, "Include ")) != 0 ||
		    (r = sc_quote(ours, &t)) != 0 ||
		    (r = cx_buf_puts(&t, m->eol)) != 0)
			goto out;
	}
	if ((r = sc_insert(m, pos, (const char *)t.data, t.len)) != 0)
		goto out;
	res->changed = cx_sshconf_changed(m);
	if (diff != NULL && (r = cx_sshconf_diff(m, mainp, diff)) != 0)
		goto out;
	if (!dry && (r = cx_sshconf_save(m, mainp)) != 0)
		goto out;
	r = 0;
 out:
	sc_argv_free(argv);
	cx_sshconf_free(m);
	cx_buf_clean_up(&t);
	free(h);
	free(mainp);
	free(ours);
	return r;
}
