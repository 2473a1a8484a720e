/*
 * The connect log: the journal shared by the processes of one connect and
 * the JSON line it becomes (connlog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "connlog.h"
#include "cxerr.h"
#include "log.h"
#include "os.h"
#include "text.h"

#define MAX_VALUE	512	/* one field value, bytes */
#define MAX_MESSAGE	1000	/* the failure message, bytes */

static int jfd = -1;		/* the journal, or -1 */
static uint64_t t_attach;	/* cx_now_ms() when this process took it */

void
cx_connlog_attach(void)
{
	const char *s = getenv(CX_CONNLOG_ENV);
	int fd;

	if (s == NULL)
		return;
	if (cx_fd_from_arg(s, &fd) == 0 && fd >= 3 && cx_fd_regular(fd)) {
		jfd = fd;
		t_attach = cx_now_ms();
		/* our own children (ssh-keygen, cx-session) never write it;
		 * an exec'd cx-tunnel gets it back from the driver */
		(void)cx_fd_set_cloexec(jfd);
	}
	unsetenv(CX_CONNLOG_ENV);
}

int
cx_connlog_start(int fd)
{
	char num[16];

	if (!cx_fd_regular(fd))
		return CX_ERR_INTERNAL;
	snprintf(num, sizeof(num), "%d", fd);
	if (setenv(CX_CONNLOG_ENV, num, 1) != 0)
		return CX_ERR_NOMEM;
	jfd = fd;
	t_attach = cx_now_ms();
	return 0;
}

int
cx_connlog_handoff(void)
{
	char num[32];

	if (jfd == -1)
		return 0;
	if (cx_fd_pass_arg(jfd, num) != 0 ||
	    setenv(CX_CONNLOG_ENV, num, 1) != 0)
		return CX_ERR_IO;
	return 0;
}

int
cx_connlog_active(void)
{
	return jfd != -1;
}

/* One line into the journal; all processes of a connect share its file
 * offset and write one after the other. */
static void
jwrite(const char *tag, const char *a, const char *b, size_t blen)
{
	struct cx_buf l;

	if (jfd == -1)
		return;
	cx_buf_init(&l, 4096);
	if (cx_buf_puts(&l, tag) == 0 && cx_buf_puts(&l, a) == 0 &&
	    (b == NULL || (cx_buf_putc(&l, ' ') == 0 &&
	    cx_buf_append(&l, b, blen) == 0)) && cx_buf_putc(&l, '\n') == 0)
		(void)cx_write_all(jfd, l.data, l.len);
	cx_buf_clean_up(&l);
}

void
cx_connlog_field(const char *key, const char *val)
{
	char *v;

	if (jfd == -1 || val == NULL)
		return;
	if ((v = cx_text_safe_dup(val, MAX_VALUE)) == NULL)
		return;
	jwrite("F ", key, v, strlen(v));
	free(v);
}

void
cx_connlog_step(const char *name, uint64_t ms)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)ms);
	jwrite("S ", name, num, strlen(num));
}

void
cx_connlog_error(const char *line, size_t n)
{
	if (n > MAX_MESSAGE)
		n = MAX_MESSAGE;
	jwrite("E", "", line, n);
}

int
cx_connlog_path(char **out)
{
	return cx_state_path(CX_CONNLOG_NAME, out);
}

/* Builds the record from the journal text j (NUL-terminated). */
static cJSON *
record(char *j, int st, int first_byte, uint64_t *t0)
{
	cJSON *rec = cJSON_CreateObject(), *steps = cJSON_CreateArray();
	const char *msg = NULL, *outcome;
	char *line, *next, *sp;
	uint64_t total = 0;

	if (rec == NULL || steps == NULL)
		goto fail;
	for (line = j; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == 'E' && line[1] == ' ') {
			msg = line + 2;
			continue;
		}
		if (line[1] != ' ' || (sp = strchr(line + 2, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if (line[0] == 'F') {
			if (strcmp(line + 2, "t0") == 0) {
				long long v;

				if (cx_strtonum(sp, 0, (long long)1 << 62,
				    &v) == 0)
					*t0 = (uint64_t)v;
			} else if (cJSON_GetObjectItemCaseSensitive(rec,
			    line + 2) == NULL) {
				cJSON_AddStringToObject(rec, line + 2, sp);
			} else {
				cJSON_ReplaceItemInObjectCaseSensitive(rec,
				    line + 2, cJSON_CreateString(sp));
			}
		} else if (line[0] == 'S') {
			cJSON *s = cJSON_CreateObject();
			long long v = 0;

			(void)cx_strtonum(sp, 0, (long long)1 << 40, &v);
			if (s == NULL)
				goto fail;
			cJSON_AddStringToObject(s, "step", line + 2);
			cJSON_AddNumberToObject(s, "ms", (double)v);
			cJSON_AddItemToArray(steps, s);
			total += (uint64_t)v;
		}
	}
	cJSON_AddItemToObject(rec, "steps", steps);
	steps = NULL;
	if (first_byte)
		outcome = "connected";
	else if (st == 0)
		outcome = "ok";
	else if (st > 128 && st < 160)
		outcome = "stopped";
	else
		outcome = "failed";
	cJSON_AddStringToObject(rec, "outcome", outcome);
	cJSON_AddNumberToObject(rec, "exit", st);
	if (st != 0 && msg != NULL)
		cJSON_AddStringToObject(rec, "message", msg);
	(void)total;
	return rec;
 fail:
	cJSON_Delete(steps);
	cJSON_Delete(rec);
	return NULL;
}

void
cx_connlog_finish(int st, int first_byte)
{
	struct cx_buf j;
	cJSON *rec = NULL;
	char *text = NULL, *path = NULL, why[300];
	uint64_t t0 = 0;
	int r;

	if (jfd == -1)
		return;
	if (first_byte)
		cx_connlog_step("first_byte", cx_now_ms() - t_attach);
	cx_buf_init(&j, CX_CONNLOG_MAX_JOURNAL);
	if (cx_pread_all(jfd, CX_CONNLOG_MAX_JOURNAL, &j) != 0 ||
	    cx_buf_putc(&j, '\0') != 0)
		goto out;
	if ((rec = record((char *)j.data, st, first_byte, &t0)) == NULL)
		goto out;
	if (t0 != 0)
		cJSON_AddNumberToObject(rec, "total_ms",
		    (double)((uint64_t)cx_wall_ms() - t0));
	if ((text = cJSON_PrintUnformatted(rec)) == NULL)
		goto out;
	cx_buf_reset(&j);
	/* the whole record is text we sanitised: one line */
	if (cx_buf_puts(&j, text) != 0 || cx_buf_putc(&j, '\n') != 0)
		goto out;
	if (cx_connlog_path(&path) != 0)
		goto out;
	r = cx_append_record(path, j.data, j.len, CX_CONNLOG_ROTATE, why,
	    sizeof(why));
	/* not ours: one warning; a home we cannot write (read-only, gone):
	 * said at -v only, the connect is what matters */
	if (r == CX_ERR_DENIED)
		cx_warn("connect log '%s' not written: %s", path, why);
	else if (r != 0)
		cx_debug(1, "connect log '%s' not written: %s", path, why);
 out:
	close(jfd);
	jfd = -1;
	free(path);
	cJSON_free(text);
	cJSON_Delete(rec);
	cx_buf_clean_up(&j);
}
