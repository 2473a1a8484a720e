/*
 * The driver's side of the connect log (core/connlog.h): the journal a
 * connect starts, `cloudx-proxy log`, and the last failure `doctor` names.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "core/text.h"
#include "ssh/sshconf.h"
#include "driver.h"
#include "setup.h"

#define MAX_LOG_FILE	(2 * CX_CONNLOG_ROTATE)	/* one file read at most */

/* The Host of our config whose HostName is instance, or NULL (malloc'd). */
static char *
host_of(const char *cfg, const char *instance)
{
	struct cx_sshconf *m = NULL;
	struct cx_sshconf_listing *l = NULL;
	char *pfx = NULL, *host = NULL;
	size_t i, k;

	if (cfg == NULL || cx_drv_load_any(cfg, "cloudx", 0, &m, &pfx) != 0 ||
	    cx_sshconf_list(m, NULL, &l) != 0)
		goto out;
	for (i = 0; i < l->nenvs && host == NULL; i++)
		for (k = 0; k < l->envs[i].nhosts && host == NULL; k++)
			if (l->envs[i].hosts[k].hostname != NULL &&
			    strcmp(l->envs[i].hosts[k].hostname,
			    instance) == 0)
				host = strdup(l->envs[i].hosts[k].host);
 out:
	cx_sshconf_listing_free(l);
	cx_sshconf_free(m);
	free(pfx);
	return host;
}

void
cx_drv_connlog_begin(const char *instance, int port, const char *profile,
    const char *cfg)
{
	char ts[21], num[24], id[37];
	char *host;
	int fd = -1;

	if (cx_drv_context_fd("", 0, &fd) != 0)
		return;
	if (cx_connlog_start(fd) != 0) {
		close(fd);
		return;
	}
	cx_format_iso8601(time(NULL), ts);
	cx_connlog_field("ts", ts);
	snprintf(num, sizeof(num), "%lld", (long long)cx_wall_ms());
	cx_connlog_field("t0", num);
	if (cx_uuid4(id) == 0)
		cx_connlog_field("id", id);
	host = host_of(cfg, instance);
	cx_connlog_field("host", host ? host : "");
	free(host);
	cx_connlog_field("instance", instance);
	snprintf(num, sizeof(num), "%d", port);
	cx_connlog_field("port", num);
	cx_connlog_field("profile", profile);
}

void
cx_drv_connlog_region(const struct cx_buf *stage_json)
{
	cJSON *doc = NULL;

	if (!cx_connlog_active() || cx_stage_parse((const char *)
	    stage_json->data, stage_json->len, &doc) != 0)
		return;
	cx_connlog_field("region", cx_json_str(doc, "Region"));
	cx_json_delete_secure(doc);
}

/* ---- reading the log ---- */

struct rec_list {
	cJSON **v;
	size_t n, cap;
};

static int
matches(const cJSON *rec, const char *host)
{
	const char *h = cx_json_str(rec, "host"), *i;
	size_t n;

	if (host == NULL)
		return 1;
	i = cx_json_str(rec, "instance");
	if ((h != NULL && strcmp(h, host) == 0) ||
	    (i != NULL && strcmp(i, host) == 0))
		return 1;
	/* the short name: cloudx-dev-web given as web or dev-web */
	n = strlen(host);
	return h != NULL && strlen(h) > n + 1 && h[strlen(h) - n - 1] == '-' &&
	    strcmp(h + strlen(h) - n, host) == 0;
}

/* Appends the records of one file (oldest first) that match host. */
static void
read_records(const char *path, const char *host, struct rec_list *out)
{
	struct cx_buf b;
	char why[200], *line, *next;
	cJSON *rec, **nv;
	int r;

	cx_buf_init(&b, MAX_LOG_FILE);
	r = cx_read_file_trusted(path, MAX_LOG_FILE, &b, why, sizeof(why));
	if (r == CX_ERR_DENIED)
		cx_warn("'%s' not read: it is %s", path, why);
	if (r != 0 || cx_buf_putc(&b, '\0') != 0)
		goto out;
	for (line = (char *)b.data; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		rec = cJSON_Parse(line);
		if (!cJSON_IsObject(rec) || !matches(rec, host)) {
			cJSON_Delete(rec);	/* not ours or not whole */
			continue;
		}
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;

			if ((nv = realloc(out->v, cap * sizeof(*nv))) ==
			    NULL) {
				cJSON_Delete(rec);
				break;
			}
			out->v = nv;
			out->cap = cap;
		}
		out->v[out->n++] = rec;
	}
 out:
	cx_buf_clean_up(&b);
}

/* Every record of connect.log.1 then connect.log matching host. */
static int
load_records(const char *host, struct rec_list *out)
{
	char *path = NULL, *old = NULL;

	memset(out, 0, sizeof(*out));
	if (cx_connlog_path(&path) != 0 || cx_asprintf(&old, "%s.1", path) < 0) {
		free(path);
		return CX_ERR_NOMEM;
	}
	read_records(old, host, out);
	read_records(path, host, out);
	free(old);
	free(path);
	return 0;
}

static void
free_records(struct rec_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		cJSON_Delete(l->v[i]);
	free(l->v);
}

/* One record for humans: a line, and the message below a failure. */
static void
print_plain(const cJSON *rec)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const cJSON *s, *ex = cJSON_GetObjectItemCaseSensitive(rec, "exit");
	const char *h = cx_json_str(rec, "host"), *msg;
	struct cx_buf b;

	cx_buf_init(&b, 0);
	cx_buf_printf(&b, "%s  %s  %s  %s exit %d ",
	    cx_json_str(rec, "ts") ? cx_json_str(rec, "ts") : "?",
	    h && *h ? h : "-",
	    cx_json_str(rec, "instance") ? cx_json_str(rec, "instance") : "?",
	    cx_json_str(rec, "outcome") ? cx_json_str(rec, "outcome") : "?",
	    cJSON_IsNumber(ex) ? ex->valueint : -1);
	cJSON_ArrayForEach(s, steps) {
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s, "ms");

		cx_buf_printf(&b, " %s %.0fms",
		    cx_json_str(s, "step") ? cx_json_str(s, "step") : "?",
		    cJSON_IsNumber(ms) ? ms->valuedouble : 0.0);
	}
	if ((msg = cx_json_str(rec, "message")) != NULL)
		cx_buf_printf(&b, "\n    %s", msg);
	/* the file is ours, but its text came from outside once */
	b.len = cx_text_sanitise((char *)b.data, b.len, 1);
	cx_buf_putc(&b, '\n');
	(void)!fwrite(b.data, 1, b.len, stdout);
	cx_buf_clean_up(&b);
}

int
cx_drv_log_main(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "lines", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = cx_drv_progname(argv0), *host = NULL;
	struct rec_list l;
	long long n = 10;
	size_t i;
	int c, json = 0, r;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hjn:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s log [HOST] [-n N] [--json]\n\n"
			    "The last N connects (default 10), oldest first, "
			    "from\n${XDG_STATE_HOME:-~/.local/state}/"
			    "cloudx-proxy/connect.log; HOST\n(the Host name, "
			    "its short name or the instance id) keeps\nits "
			    "own.  --json prints the records as JSON Lines.\n",
			    prog);
			return 0;
		case 'j': json = 1; break;
		case 'n':
			if (cx_strtonum(optarg, 1, 100000, &n) != 0) {
				cx_error("log: -n must be 1 to 100000, not "
				    "'%s'", optarg);
				return CX_EXIT_USAGE;
			}
			break;
		case ':':
			cx_error("log: option '%s' needs a value",
			    argv[optind - 1]);
			return CX_EXIT_USAGE;
		default:
			cx_error("log: unknown option '%s' (see '%s log "
			    "--help')", argv[optind - 1], prog);
			return CX_EXIT_USAGE;
		}
	}
	if (optind + 1 < argc) {
		cx_error("log: too many arguments (see '%s log --help')", prog);
		return CX_EXIT_USAGE;
	}
	if (optind < argc)
		host = argv[optind];
	if ((r = load_records(host, &l)) != 0)
		return cx_exit_code(r);
	for (i = l.n > (size_t)n ? l.n - (size_t)n : 0; i < l.n; i++) {
		if (json) {
			char *t = cJSON_PrintUnformatted(l.v[i]);

			if (t != NULL)
				printf("%s\n", t);
			cJSON_free(t);
		} else {
			print_plain(l.v[i]);
		}
	}
	free_records(&l);
	fflush(stdout);
	return 0;
}

/* What to do about a failed connect, by its exit status. */
static const char *
fix_for(int st)
{
	switch (st) {
	case CX_EXIT_DENIED:
		return "check the profile's permissions (doctor's checks above)"
		    " and the IAM policy for ec2, ssm and ec2-instance-connect";
	case CX_EXIT_NOTFOUND:
		return "check the instance id and the region (setup again for "
		    "a rebuilt instance)";
	case CX_EXIT_LOGIN:
		return "renew the credentials (cloudx-proxy login --profile P, "
		    "or setup)";
	case CX_EXIT_STATE:
		return "the instance is gone: setup the host again with the "
		    "new instance id";
	case CX_EXIT_DEADLINE:
		return "the instance or its SSM agent did not come up in time:"
		    " check it in the console, or connect with --timeout";
	case CX_EXIT_SESSION:
		return "the SSM session failed: check the agent on the "
		    "instance and the ssm:StartSession permission";
	case CX_EXIT_TEMP:
		return "a network or AWS problem: try again";
	default:
		return "see the message, and 'cloudx-proxy log HOST'";
	}
}

void
cx_drv_connlog_doctor(const char *host, const char *instance)
{
	struct rec_list l;
	const cJSON *last = NULL, *ex;
	size_t i;
	int st;

	if (load_records(host, &l) != 0)
		return;
	/* the host's records, else (an older log) the instance's */
	if (l.n == 0 && instance != NULL) {
		free_records(&l);
		if (load_records(instance, &l) != 0)
			return;
	}
	for (i = l.n; i > 0 && last == NULL; i--) {
		const char *o = cx_json_str(l.v[i - 1], "outcome");

		if (o != NULL && strcmp(o, "connected") != 0 &&
		    strcmp(o, "ok") != 0)
			last = l.v[i - 1];
	}
	if (last == NULL) {
		if (l.n > 0)
			printf("\xe2\x9c\x93 last connect: %s\n", "no failure in "
			    "the connect log");
		free_records(&l);
		return;
	}
	ex = cJSON_GetObjectItemCaseSensitive(last, "exit");
	st = cJSON_IsNumber(ex) ? ex->valueint : -1;
	{
		struct cx_buf b;

		cx_buf_init(&b, 0);
		cx_buf_printf(&b, "! last failed connect: %s, exit %d: %s; "
		    "fix: %s",
		    cx_json_str(last, "ts") ? cx_json_str(last, "ts") : "?",
		    st, cx_json_str(last, "message") ?
		    cx_json_str(last, "message") : "(no message)",
		    fix_for(st));
		b.len = cx_text_sanitise((char *)b.data, b.len, 0);
		cx_buf_putc(&b, '\n');
		(void)!fwrite(b.data, 1, b.len, stdout);
		cx_buf_clean_up(&b);
	}
	free_records(&l);
}
