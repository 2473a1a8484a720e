/*
 * Our own small edits of ~/.aws/config and ~/.aws/credentials, on the raw
 * text: only the lines of the one profile section we own are replaced or
 * appended; comments, other profiles and their formatting stay as they are.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/hardening.h"
#include "core/log.h"
#include "core/os.h"
#include "core/valid.h"
#include "driver.h"
#include "setup.h"

#define CX_DRV_LOCK_MS	10000	/* wait for another setup */

struct line {
	size_t off, len;	/* len includes the line end */
};

static int
split_lines(const char *t, struct line **out, size_t *n)
{
	struct line *v = NULL, *nv;
	size_t cap = 0, cnt = 0, i = 0, start;

	*out = NULL;
	*n = 0;
	while (t[i] != '\0') {
		start = i;
		while (t[i] != '\0' && t[i] != '\n')
			i++;
		if (t[i] == '\n')
			i++;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nv = cx_reallocarray(v, cap, sizeof(*v))) == NULL) {
				free(v);
				return CX_ERR_NOMEM;
			}
			v = nv;
		}
		v[cnt].off = start;
		v[cnt].len = i - start;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* If the line is a section header, writes its normalised name (words
 * joined by one space) into name and returns 1. */
static int
header_name(const char *p, size_t len, char *name, size_t namesz)
{
	size_t i = 0, o = 0;
	int space = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= len || p[i] != '[')
		return 0;
	i++;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (; i < len && p[i] != ']' && p[i] != '\n'; i++) {
		if (p[i] == ' ' || p[i] == '\t') {
			space = 1;
			continue;
		}
		if (space && o > 0 && o + 1 < namesz)
			name[o++] = ' ';
		space = 0;
		if (o + 1 < namesz)
			name[o++] = p[i];
	}
	if (i >= len || p[i] != ']')
		return 0;
	name[o] = '\0';
	return 1;
}

static int
key_line(const char *p, size_t len, const char *key)
{
	size_t kl = strlen(key), i;

	if (len < kl || p[0] == ' ' || p[0] == '\t' || p[0] == '#' ||
	    p[0] == ';')
		return 0;
	if (strncasecmp(p, key, kl) != 0)
		return 0;
	for (i = kl; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i < len && (p[i] == '=' || p[i] == ':');
}

/* Finds section: *first = header index, *end = one past its last line. */
static int
find_section(const char *t, const struct line *l, size_t n,
    const char *section, size_t *first, size_t *end)
{
	char name[512];
	size_t i;
	int found = 0;

	for (i = 0; i < n; i++) {
		if (!header_name(t + l[i].off, l[i].len, name, sizeof(name)))
			continue;
		if (found) {
			*end = i;
			return 1;
		}
		if (strcmp(name, section) == 0) {
			found = 1;
			*first = i;
		}
	}
	if (found)
		*end = n;
	return found;
}

int
cx_drv_ini_has_section(const char *text, const char *section)
{
	struct line *l = NULL;
	size_t n, a, b;
	int r;

	if (split_lines(text, &l, &n) != 0)
		return 0;
	r = find_section(text, l, n, section, &a, &b);
	free(l);
	return r;
}

int
cx_drv_ini_get(const char *text, const char *section, const char *key,
    char **out)
{
	struct line *l = NULL;
	size_t n, a, b, i, j, e;
	const char *p;
	int r;

	*out = NULL;
	if ((r = split_lines(text, &l, &n)) != 0)
		return r;
	if (find_section(text, l, n, section, &a, &b)) {
		for (i = a + 1; i < b; i++) {
			p = text + l[i].off;
			if (!key_line(p, l[i].len, key))
				continue;
			for (j = 0; p[j] != '=' && p[j] != ':'; j++)
				;
			j++;
			while (j < l[i].len && isspace((unsigned char)p[j]))
				j++;
			e = l[i].len;
			while (e > j && isspace((unsigned char)p[e - 1]))
				e--;
			if ((*out = strndup(p + j, e - j)) == NULL)
				r = CX_ERR_NOMEM;
			break;
		}
	}
	free(l);
	return r;
}

int
cx_drv_ini_set(struct cx_buf *text, const char *section,
    const char *const *keys, const char *const *vals, size_t nkeys)
{
	struct cx_buf o;
	struct line *l = NULL;
	const char *t = cx_buf_str(text);
	size_t n, a = 0, b = 0, i, k, last;
	int *done = NULL, r = 0, found, match;

	/* the lines are C strings: a NUL would cut the file short */
	if (text->len > 0 && memchr(text->data, '\0', text->len) != NULL)
		return CX_ERR_INPUT;
	/* one line each: a line break would let a value add a section */
	if (!cx_line_name_valid(section))
		return CX_ERR_USAGE;
	for (k = 0; k < nkeys; k++)
		if (!cx_line_name_valid(keys[k]) || strchr(keys[k], '=') ||
		    !cx_line_value_valid(vals[k]))
			return CX_ERR_USAGE;
	cx_buf_init(&o, text->max);
	if (text->secret)
		cx_buf_set_secret(&o);
	if ((done = calloc(nkeys ? nkeys : 1, sizeof(*done))) == NULL)
		return CX_ERR_NOMEM;
	if ((r = split_lines(t, &l, &n)) != 0)
		goto out;
	found = find_section(t, l, n, section, &a, &b);
	if (!found) {
		r = cx_buf_append(&o, t, text->len);
		if (r == 0 && text->len > 0 && t[text->len - 1] != '\n')
			r = cx_buf_putc(&o, '\n');
		if (r == 0 && text->len > 0)
			r = cx_buf_putc(&o, '\n');
		if (r == 0)
			r = cx_buf_printf(&o, "[%s]\n", section);
		for (k = 0; r == 0 && k < nkeys; k++)
			r = cx_buf_printf(&o, "%s = %s\n", keys[k], vals[k]);
		goto swap;
	}
	/* the last non-blank line of the section: new keys go after it */
	last = a;
	for (i = a + 1; i < b; i++) {
		const char *p = t + l[i].off;
		size_t j = 0;
		while (j < l[i].len && isspace((unsigned char)p[j]))
			j++;
		if (j < l[i].len)
			last = i;
	}
	for (i = 0; i < n && r == 0; i++) {
		match = 0;
		if (i > a && i < b) {
			for (k = 0; k < nkeys; k++) {
				if (!done[k] && key_line(t + l[i].off,
				    l[i].len, keys[k])) {
					r = cx_buf_printf(&o, "%s = %s\n",
					    keys[k], vals[k]);
					done[k] = match = 1;
					break;
				}
			}
		}
		if (!match && r == 0) {
			r = cx_buf_append(&o, t + l[i].off, l[i].len);
			if (r == 0 && l[i].len > 0 &&
			    t[l[i].off + l[i].len - 1] != '\n')
				r = cx_buf_putc(&o, '\n');
		}
		if (i == last)
			for (k = 0; k < nkeys && r == 0; k++)
				if (!done[k]) {
					/* only if absent further down */
					size_t m;
					int later = 0;
					for (m = last + 1; m < b; m++)
						if (key_line(t + l[m].off,
						    l[m].len, keys[k]))
							later = 1;
					if (later)
						continue;
					r = cx_buf_printf(&o, "%s = %s\n",
					    keys[k], vals[k]);
					done[k] = 1;
				}
	}
 swap:
	if (r == 0) {
		cx_buf_reset(text);
		r = cx_buf_append(text, o.data ? o.data : (unsigned char *)"",
		    o.len);
	}
 out:
	cx_buf_clean_up(&o);
	free(l);
	free(done);
	return r;
}

int
cx_drv_aws_paths(const char *home, const char *aws_env, char **config,
    char **credentials)
{
	const char *ec = getenv("AWS_CONFIG_FILE");
	const char *es = getenv("AWS_SHARED_CREDENTIALS_FILE");
	char *rel = NULL;
	int r;

	*config = *credentials = NULL;
	if (aws_env != NULL) {
		if (cx_asprintf(&rel, ".aws/aws-envs/%s/config", aws_env) < 0)
			return CX_ERR_NOMEM;
		r = cx_path_join(home, rel, config);
		free(rel);
		if (r != 0)
			return r;
		if (cx_asprintf(&rel, ".aws/aws-envs/%s/credentials",
		    aws_env) < 0)
			return CX_ERR_NOMEM;
		r = cx_path_join(home, rel, credentials);
		free(rel);
		return r;
	}
	if (ec != NULL && *ec != '\0')
		r = cx_expand_user(ec, config);
	else
		r = cx_path_join(home, ".aws/config", config);
	if (r != 0)
		return r;
	if (es != NULL && *es != '\0')
		return cx_expand_user(es, credentials);
	return cx_path_join(home, ".aws/credentials", credentials);
}

static int
load_text(const char *path, struct cx_buf *b)
{
	int r = cx_read_file(path, CX_DRV_MAX_TEXT_FILE, b);

	return r == CX_ERR_NOTFOUND ? 0 : r;
}

int
cx_drv_aws_profile_exists(const char *config, const char *credentials,
    const char *profile)
{
	struct cx_buf b;
	char *sec = NULL;
	int found = 0;

	cx_buf_init(&b, CX_DRV_MAX_TEXT_FILE);
	cx_buf_set_secret(&b);
	if (load_text(credentials, &b) == 0)
		found = cx_drv_ini_has_section(cx_buf_str(&b), profile);
	cx_buf_reset(&b);
	if (!found && load_text(config, &b) == 0) {
		if (strcmp(profile, "default") == 0)
			found = cx_drv_ini_has_section(cx_buf_str(&b),
			    "default");
		if (!found && cx_asprintf(&sec, "profile %s", profile) >= 0) {
			found = cx_drv_ini_has_section(cx_buf_str(&b), sec);
			free(sec);
		}
	}
	cx_buf_clean_up(&b);
	return found;
}

static int
dir_of(const char *path, char **out)
{
	const char *s = strrchr(path, '/');

	*out = s ? strndup(path, (size_t)(s - path)) : strdup(".");
	return *out ? 0 : CX_ERR_NOMEM;
}

/* edit_file's rule: the folder and the file are ours, not writable by
 * group or others (a file planted there is not rewritten as ours) */
static int
check_owner(const char *dir, const char *path)
{
	char why[160];
	int r;

	if ((r = cx_path_trusted(dir, CX_TRUST_DIR, why, sizeof(why))) ==
	    CX_ERR_DENIED)
		cx_error("not editing '%s': its folder '%s' is %s", path, dir,
		    why);
	else if ((r = cx_path_trusted(path, CX_TRUST_FILE, why,
	    sizeof(why))) == CX_ERR_DENIED)
		cx_error("not editing '%s': it is %s", path, why);
	return r == CX_ERR_DENIED ? CX_ERR_INPUT : 0;
}

/* flags: CX_ATOMIC_SECRET for the credentials file */
static int
edit_file(const char *path, const char *section, const char *const *keys,
    const char *const *vals, size_t n, int flags)
{
	struct cx_buf b;
	char *dir = NULL;
	int r, lockfd = -1;

	cx_buf_init(&b, CX_DRV_MAX_TEXT_FILE);
	cx_buf_set_secret(&b);
	if ((r = dir_of(path, &dir)) != 0)
		goto out;
	if ((r = cx_mkdir_p(dir, 0700)) != 0) {
		cx_error("cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	if ((r = check_owner(dir, path)) != 0)
		goto out;
	/* two setups at once: one read-modify-write after the other */
	if ((r = cx_lock(path, CX_DRV_LOCK_MS, &lockfd)) != 0)
		goto out;
	(void)cx_tmp_cleanup(path);
	if ((r = load_text(path, &b)) != 0)
		goto out;
	if ((r = cx_drv_ini_set(&b, section, keys, vals, n)) != 0) {
		if (r == CX_ERR_INPUT)
			cx_error("'%s' holds a NUL byte: not editing it", path);
		else if (r == CX_ERR_USAGE)
			cx_error("not writing '%s': a name or value holds a "
			    "line break or a bracket", path);
		goto out;
	}
	/* the credentials: 0600 from creation, even if the old file was
	 * wider (CX_ATOMIC_SECRET) */
	r = cx_write_file_atomic(path, b.data, b.len, 0600, flags);
 out:
	if (lockfd != -1)
		cx_unlock(lockfd);
	free(dir);
	cx_buf_clean_up(&b);
	return r;
}

int
cx_drv_aws_profile_check(const char *profile, const char *access_key,
    const char *secret_key, const char *region)
{
	if (!cx_profile_name_valid(profile)) {
		cx_error("invalid profile name '%s' (expected 1-128 of A-Z a-z "
		    "0-9 . _ + @ / -)", profile ? profile : "");
		return CX_ERR_USAGE;
	}
	if (!cx_access_key_id_valid(access_key)) {
		cx_error("invalid access key id '%s' (expected 1-128 of A-Z "
		    "0-9)", access_key ? access_key : "");
		return CX_ERR_USAGE;
	}
	if (!cx_secret_valid(secret_key)) {
		cx_error("invalid secret access key (empty, or holds a control "
		    "character)");
		return CX_ERR_USAGE;
	}
	if (region != NULL && *region != '\0' && !cx_region_valid(region)) {
		cx_error("invalid region '%s'", region);
		return CX_ERR_USAGE;
	}
	return 0;
}

int
cx_drv_aws_write_profile(const char *config, const char *credentials,
    const char *profile, const char *access_key, const char *secret_key,
    const char *region)
{
	const char *ck[2] = { "aws_access_key_id", "aws_secret_access_key" };
	const char *cv[2] = { access_key, secret_key };
	const char *rk[1] = { "region" };
	const char *rv[1] = { region };
	char *sec = NULL;
	int r;

	/* all of them before either file is touched */
	if ((r = cx_drv_aws_profile_check(profile, access_key, secret_key,
	    region)) != 0)
		return r;
	if ((r = edit_file(credentials, profile, ck, cv, 2,
	    CX_ATOMIC_SECRET)) != 0)
		return r;
	if (region == NULL || *region == '\0')
		return 0;
	if (strcmp(profile, "default") == 0)
		sec = strdup("default");
	else if (cx_asprintf(&sec, "profile %s", profile) < 0)
		sec = NULL;
	if (sec == NULL)
		return CX_ERR_NOMEM;
	r = edit_file(config, sec, rk, rv, 1, 0);
	free(sec);
	return r;
}
