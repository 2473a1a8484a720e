/*
 * cloudx-proxy cp [-j N] [-r] [--resume] [--verify|--no-verify] [-q]
 *     SRC... DST
 *
 * One SSM session delivers about 1 MiB/s towards the client (the agent
 * sleeps 1 ms per read of at most 1 KiB): the limit is per session, so cp
 * runs N ssh connections at once, each with its own session
 * (ControlPath=none), each moving one byte range of the file with what
 * every Linux instance has (tail/head, dd, stat, sha256sum).  Downloads
 * are written in place with pwrite into FILE.cxpart, beside which the
 * ranges record says what is done (--resume).  An upload goes over one
 * session (the agent does not pace uploads), or with -j N or --resume in
 * ranges, read with pread; on the instance head -c | dd writes it into
 * DST.cxpart in 16 MiB steps, each appended to DST.cxpart.ranges there once
 * it is whole (our "k" line after its bytes), which --resume reads back.
 * -r lists the tree, sends small files through one tar and big ones as
 * above; with --resume the files already complete are skipped.
 *
 * The first connection (the probe: stat, and SHA-256 with --verify) is
 * awaited before the others open, so a stopped instance is started once.
 * Every ProxyCommand runs under our own small wrapper (cp --proxy-status)
 * that reports its exit status on stderr: a connect that fails with a
 * definite answer (denied, not found, no credentials, terminated, bad
 * config) ends the whole copy with its line and status; anything else is
 * retried, its range only, CX_CP_RETRIES times.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "cp.h"
#include "driver.h"

#define PROXY_STATUS_TAG	"cloudx-proxy-cp-proxy-status="

enum job_kind {
	J_PROBE,	/* download: stat (+ SHA-256) of the file */
	J_DL,		/* download: one range */
	J_UL,		/* upload -j N: one range */
	J_PREPARE,	/* upload -j N: resolve DST, create DST.cxpart */
	J_FINISH,	/* upload -j N: check, mode, time, rename */
	J_ULONE,	/* upload in one session, all of it */
	J_LIST,		/* -r download: find the tree */
	J_TPREP,	/* -r upload: resolve DST, make the folders */
	J_TAR,		/* -r: small files (or folders) through one tar */
	J_HASH		/* -r: sha256sum of every file, in list order */
};

struct cp_file {
	char *rpath;		/* remote path */
	char *lpath;		/* local path (final) */
	char *part;		/* FILE.cxpart (local for downloads, remote up) */
	char *record;		/* FILE.cxpart.ranges (downloads) */
	uint64_t size;
	unsigned mode;
	int64_t mtime;
	int fd;			/* local file: partial (down), source (up) */
	struct cx_cp_record rec;
	int left;		/* ranges not complete */
	char rhex[65];		/* remote SHA-256 (download) */
	int have_rhex;
	int finished;
	/* upload: what is missing on the instance (the prepare's answer) */
	struct cx_cp_range *miss;
	int nmiss;
	uint64_t have;		/* bytes already there (--resume) */
};

struct cp_job {
	int kind;
	struct cp_file *f;
	int range;		/* index in f->rec.r (J_DL, J_UL) */
	uint64_t pos, end;	/* J_DL/J_UL: the bytes still to move */
	int tries;
	int final;		/* J_TAR: the folders' tar (-r up, last) */
	struct cx_buf in;	/* J_SCRIPT/J_TAR: what goes to stdin */
	struct cp_job *next;
};

struct cp_conn {
	pid_t pid;
	int in, out, err;
	struct cp_job *job;
	struct cx_buf outb;	/* probe/script output */
	struct cx_buf errb;
	unsigned char *buf;	/* data chunk (64 KiB) */
	size_t blen, boff;	/* upload: bytes in buf, sent */
	uint64_t pos;		/* next file offset */
	int exited, wstatus;
	/* upload: the step being sent (write_range's "k" after each) */
	uint64_t step_start, step_end;
	int ctl;		/* buf holds a "k" or the hash line, not data */
	int hashed;		/* J_ULONE: the hash line went */
	pid_t tar_pid;		/* J_TAR: our local tar */
	EVP_MD_CTX *h;		/* J_ULONE with verify: SHA-256 of what went */
};

#define NCONN_MAX	(CX_CP_MAX_JOBS + 1)
#define CHUNK		(64 * 1024)

struct cp {
	/* options */
	int jobs, jobs_set, recursive, resume, verify, quiet;
	char **sshv;		/* ssh argv prefix, NULL-terminated */
	int nsshv;
	const char *self;	/* our own path (the ProxyCommand wrapper) */
	char *host;
	char *proxycmd;		/* from ssh -G, NULL: none */
	int upload;
	/* state */
	struct cp_file *files;
	int nfiles;
	struct cp_job *queue, *qtail;
	struct cp_conn conn[NCONN_MAX];
	int probed;		/* the first connection got through */
	int fail_status;	/* exit status of a failure (0: none) */
	uint64_t total, moved;
	uint64_t t0, last_progress, last_record;
	int tty, live;
	int retries;
	/* -r */
	int tree;
	struct tree_ent *ents;
	int nents;
	char *tsrc, *tdst;	/* the operands' paths */
	char *lroot, *rroot;	/* the copy's top folder on each side */
	char *marker;		/* ROOT.cxpart.tree beside it, or NULL */
	/* DST/NAME.cxpart.tree, DST.cxpart.tree (NULL: no marker) */
	char *mark_in, *mark_self;
	int final_queued;
};

/* -r: one folder or file of the tree, relative to its top ("." for it) */
struct tree_ent {
	char *rel;
	int is_dir, big;
	int there;		/* --resume: already whole over there */
	uint64_t size;
	unsigned mode;
	int64_t mtime;
	char rhex[65];
	int have_rhex;
};

static void
job_free(struct cp_job *j)
{
	if (j == NULL)
		return;
	cx_buf_clean_up(&j->in);
	free(j);
}

static struct cp_job *
job_new(struct cp *cp, int kind, struct cp_file *f)
{
	struct cp_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->f = f;
	cx_buf_init(&j->in, CX_CP_MAX_LIST);
	(void)cp;
	return j;
}

static void
job_push(struct cp *cp, struct cp_job *j, int front)
{
	j->next = NULL;
	if (front) {
		j->next = cp->queue;
		cp->queue = j;
		if (cp->qtail == NULL)
			cp->qtail = j;
		return;
	}
	if (cp->qtail != NULL)
		cp->qtail->next = j;
	else
		cp->queue = j;
	cp->qtail = j;
}

static struct cp_job *
job_pop(struct cp *cp)
{
	struct cp_job *j = cp->queue;

	if (j != NULL) {
		cp->queue = j->next;
		if (cp->queue == NULL)
			cp->qtail = NULL;
		j->next = NULL;
	}
	return j;
}

/* ---- the ProxyCommand wrapper: cp --proxy-status -- CMD ---- */

/*
 * Runs CMD (one shell command line, as ssh would: sh -c "exec CMD") with
 * our stdin/stdout/stderr, passes on HUP/INT/TERM, and when it ends prints
 * PROXY_STATUS_TAG<status> on stderr (ssh passes the ProxyCommand's
 * stderr on: cp reads it there) and exits with the same status.
 */
static int
proxy_wrapper(const char *cmd)
{
	struct cx_buf line;
	char *argv[4] = { "/bin/sh", "-c", NULL, NULL };
	int fd0 = 0, fd1 = 1, ws = 0, code = CX_EXIT_TEMP, r, sig;
	pid_t pid;

	cx_buf_init(&line, 0);
	if (cx_buf_printf(&line, "exec %s", cmd) != 0)
		return CX_EXIT_INTERNAL;
	argv[2] = (char *)cx_buf_str(&line);
	cx_os_catch_term_signals();
	if ((r = cx_os_spawn(argv, &fd0, &fd1, NULL, &pid)) != 0) {
		cx_buf_clean_up(&line);
		return cx_exit_code(r);
	}
	for (;;) {
		if ((r = cx_os_reap(pid, 1, &ws)) == 0)
			break;
		if (r < 0)
			break;
		if ((sig = cx_os_signal_caught()) != 0)
			cx_os_kill(pid, sig);
		/* woken early by a signal; a child's end is seen within 50 ms */
		cx_os_poll(NULL, 0, 50);
	}
	if (r == 0)
		cx_os_exit_code(ws, &code);
	fprintf(stderr, "%s%d\n", PROXY_STATUS_TAG, code);
	cx_buf_clean_up(&line);
	return code;
}

/* ---- ssh ---- */

/* Appends s to b with every '%' doubled (ssh expands % tokens). */
static int
put_pct(struct cx_buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++)
		r = *s == '%' ? cx_buf_puts(b, "%%") : cx_buf_putc(b, *s);
	return r;
}

/* The ProxyCommand of host from `ssh -G`: *out malloc'd, NULL if none. */
static int
ssh_proxycommand(struct cp *cp, char **out)
{
	char **argv = NULL;
	struct cx_buf o, e;
	const char *s, *p, *nl;
	int i, r, ws;

	*out = NULL;
	cx_buf_init(&o, 1024 * 1024);
	cx_buf_init(&e, CX_CP_MAX_ERR);
	if ((argv = calloc((size_t)cp->nsshv + 4, sizeof(*argv))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < cp->nsshv; i++)
		argv[i] = cp->sshv[i];
	argv[i++] = "-G";
	argv[i++] = "--";
	argv[i++] = cp->host;
	r = cx_run(argv, NULL, 0, &o, &e, 30000, &ws);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("cannot run 'ssh': not found in PATH");
		goto out;
	}
	if (r == 0 && cx_os_exit_code(ws, &i) && i != 0) {
		cx_error("ssh -G '%s' failed: %s", cp->host,
		    e.len ? cx_buf_str(&e) : "no message");
		r = CX_ERR_CONFIG;
	}
	if (r != 0)
		goto out;
	for (s = cx_buf_str(&o); *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (nl == NULL)
			nl = s + strlen(s);
		if (strncmp(s, "proxycommand ", 13) == 0) {
			p = s + 13;
			if ((size_t)(nl - p) != 4 || strncmp(p, "none", 4) != 0)
				if ((*out = strndup(p, (size_t)(nl - p))) == NULL)
					r = CX_ERR_NOMEM;
			break;
		}
		if (*nl == '\0')
			break;
	}
 out:
	free(argv);
	cx_buf_clean_up(&o);
	cx_buf_clean_up(&e);
	return r;
}

/*
 * -r: ssh with a local tar at its other end.  Download: ssh's stdout goes
 * straight into `tar -x` (we send ssh the NUL list of names); upload:
 * `tar -c` (we send it the list) writes into ssh's stdin.
 */
static int
tar_spawn(struct cp *cp, struct cp_conn *c, char **sshargv)
{
	char *xv[] = { "tar", "-xpf", "-", "--no-same-owner", "-C", cp->lroot,
	    NULL };
	char *cv[] = { "tar", "-C", cp->lroot, "--null", "--no-recursion",
	    "-T", "-", "-cf", "-", NULL };
	int pipe_end = -1, r;

	if (!cp->upload) {
		if ((r = cx_os_spawn(xv, &pipe_end, NULL, NULL,
		    &c->tar_pid)) != 0)
			goto out;
		if ((r = cx_os_set_blocking(pipe_end)) != 0 ||
		    (r = cx_os_spawn(sshargv, &c->in, &pipe_end, &c->err,
		    &c->pid)) != 0)
			goto out;
	} else {
		if ((r = cx_os_spawn(cv, &c->in, &pipe_end, NULL,
		    &c->tar_pid)) != 0)
			goto out;
		if ((r = cx_os_set_blocking(pipe_end)) != 0 ||
		    (r = cx_os_spawn(sshargv, &pipe_end, &c->out, &c->err,
		    &c->pid)) != 0)
			goto out;
	}
 out:
	if (r == CX_ERR_NOTFOUND && c->tar_pid == -1)
		cx_error("cannot run 'tar': not found in PATH");
	if (r != 0 && c->tar_pid != -1) {
		cx_os_kill(c->tar_pid, SIGTERM);
		(void)cx_os_reap(c->tar_pid, 0, &r);
		c->tar_pid = -1;
		r = CX_ERR_IO;
	}
	cx_os_close(&pipe_end);
	return r;
}

/* Starts ssh for job j on conn c with the remote command cmd. */
static int
conn_start(struct cp *cp, struct cp_conn *c, struct cp_job *j,
    const char *cmd)
{
	char **argv = NULL;
	struct cx_buf pc;
	int i = 0, k, r;

	cx_buf_init(&pc, 0);
	memset(c, 0, sizeof(*c));
	c->in = c->out = c->err = -1;
	c->pid = -1;
	c->tar_pid = -1;
	if (j->kind == J_ULONE && cp->verify &&
	    ((c->h = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c->h, EVP_sha256(), NULL) != 1)) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	cx_buf_init(&c->outb, j->kind == J_LIST || j->kind == J_HASH ||
	    j->kind == J_PREPARE || j->kind == J_TPREP ?
	    CX_CP_MAX_LIST : CX_CP_MAX_PROBE);
	c->tar_pid = -1;
	cx_buf_init(&c->errb, CX_CP_MAX_ERR);
	if ((argv = calloc((size_t)cp->nsshv + 10, sizeof(*argv))) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	argv[i++] = cp->sshv[0];
	if (cp->proxycmd != NULL) {
		struct cx_buf q;
		cx_buf_init(&q, 0);
		r = cx_cp_shquote(cp->self, &q);
		if (r == 0)
			r = cx_buf_puts(&pc, "ProxyCommand=");
		if (r == 0)
			r = put_pct(&pc, cx_buf_str(&q));
		cx_buf_clean_up(&q);
		if (r != 0 || (r = cx_buf_puts(&pc, " cp --proxy-status ")))
			goto out;
		/* one argument, quoted for the shell ssh runs it with; its
		 * %-tokens are ssh's to expand, ours are escaped */
		if ((r = cx_cp_shquote(cp->proxycmd, &pc)) != 0)
			goto out;
		argv[i++] = "-o";
		argv[i++] = (char *)cx_buf_str(&pc);
	}
	for (k = 1; k < cp->nsshv; k++)
		argv[i++] = cp->sshv[k];
	argv[i++] = "--";
	argv[i++] = cp->host;
	argv[i++] = (char *)cmd;
	argv[i] = NULL;
	if ((c->buf = malloc(CHUNK)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	if (j->kind == J_TAR) {
		r = tar_spawn(cp, c, argv);
	} else if (j->kind == J_DL || j->kind == J_PROBE ||
	    j->kind == J_PREPARE || j->kind == J_FINISH || j->kind == J_LIST) {
		/* nothing to send: stdin is /dev/null */
		r = cx_os_spawn(argv, NULL, &c->out, &c->err, &c->pid);
	} else {
		r = cx_os_spawn(argv, &c->in, &c->out, &c->err, &c->pid);
	}
	if (r == CX_ERR_NOTFOUND)
		cx_error("cannot run '%s': not found in PATH", argv[0]);
	if (r != 0)
		goto out;
	c->job = j;
	c->pos = j->pos;
	c->step_start = j->pos;
	c->step_end = j->end - j->pos < CX_CP_UPSTEP ? j->end :
	    j->pos + CX_CP_UPSTEP;
	cp->live++;
	cx_debug(1, "%.2f s: connection %d: ssh %s: %s",
	    (double)(cx_now_ms() - cp->t0) / 1000.0, (int)(c - cp->conn),
	    cp->host, cmd);
 out:
	free(argv);
	/* pc's string was argv's: spawn copied it */
	cx_buf_clean_up(&pc);
	return r;
}

static void
conn_release(struct cp *cp, struct cp_conn *c)
{
	cx_os_close(&c->in);
	cx_os_close(&c->out);
	cx_os_close(&c->err);
	cx_buf_clean_up(&c->outb);
	cx_buf_clean_up(&c->errb);
	free(c->buf);
	c->buf = NULL;
	EVP_MD_CTX_free(c->h);
	c->h = NULL;
	if (c->job != NULL)
		cp->live--;
	c->job = NULL;
	c->pid = -1;
}

/* ---- the ranges record ---- */

static int
record_save(struct cp_file *f)
{
	struct cx_buf b;
	int r;

	cx_buf_init(&b, CX_CP_RECORD_MAX);
	if ((r = cx_cp_record_format(&f->rec, &b)) == 0)
		r = cx_write_file_atomic(f->record, b.data, b.len, 0600, 0);
	cx_buf_clean_up(&b);
	return r;
}

static void
records_save_all(struct cp *cp)
{
	int i;

	for (i = 0; i < cp->nfiles; i++)
		if (!cp->upload && cp->files[i].fd >= 0 &&
		    !cp->files[i].finished && cp->files[i].record != NULL)
			(void)record_save(&cp->files[i]);
}

/* ---- progress ---- */

static void
fmt_mib(char *out, size_t n, uint64_t bytes)
{
	snprintf(out, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

static void
progress(struct cp *cp, int final)
{
	uint64_t now = cx_now_ms(), el = now - cp->t0;
	double rate = el ? (double)cp->moved * 1000.0 / (double)el /
	    (1024.0 * 1024.0) : 0.0;
	char a[32], b[32], eta[32];

	if (cp->quiet || (!cp->tty && !final))
		return;
	if (!final && now - cp->last_progress < 250)
		return;
	cp->last_progress = now;
	fmt_mib(a, sizeof(a), cp->moved);
	fmt_mib(b, sizeof(b), cp->total);
	if (final) {
		fprintf(stderr, "%s%s: %s in %.1f s (%.2f MiB/s), %d "
		    "connection%s%s\n", cp->tty ? "\r\033[K" : "",
		    cx_progname(), a, (double)el / 1000.0, rate, cp->jobs,
		    cp->jobs == 1 ? "" : "s", cp->verify ? ", SHA-256 verified" :
		    "");
		return;
	}
	if (rate > 0.01 && cp->total > cp->moved) {
		uint64_t s = (uint64_t)((double)(cp->total - cp->moved) /
		    (rate * 1024.0 * 1024.0));
		snprintf(eta, sizeof(eta), "%" PRIu64 ":%02" PRIu64, s / 60,
		    s % 60);
	} else {
		snprintf(eta, sizeof(eta), "--:--");
	}
	fprintf(stderr, "\r\033[K%s / %s  %.2f MiB/s  ETA %s  %d session%s",
	    a, b, rate, eta, cp->live, cp->live == 1 ? "" : "s");
}

/* ---- connection I/O ---- */

/* Moves what the connection's stdout has: into the file (J_DL) or the
 * output buffer.  Returns 0, or a negative error (the copy fails). */
static int
conn_read_out(struct cp *cp, struct cp_conn *c)
{
	struct cp_job *j = c->job;
	int again, r;
	ssize_t n;

	n = cx_os_read(c->out, c->buf, CHUNK, &again);
	if (again)
		return 0;
	if (n <= 0) {
		cx_os_close(&c->out);
		return 0;
	}
	if (j->kind != J_DL)
		return cx_buf_append(&c->outb, c->buf, (size_t)n) == 0 ? 0 :
		    (cx_error("ssh to '%s' printed more than expected",
		    cp->host), CX_ERR_PROTOCOL);
	if ((uint64_t)n > j->end - c->pos) {
		cx_error("'%s:%s' sent more bytes than its size: it changed "
		    "during the copy", cp->host, j->f->rpath);
		return CX_ERR_INPUT;
	}
	if ((r = cx_os_pwrite_all(j->f->fd, c->buf, (size_t)n, c->pos)) != 0) {
		cx_error("cannot write '%s': %s", j->f->part, cx_strerror(r));
		return r;
	}
	c->pos += (uint64_t)n;
	cp->moved += (uint64_t)n;
	/* the record may only say what is written: pwrite came first */
	j->f->rec.r[j->range].done = c->pos - j->f->rec.r[j->range].off;
	return 0;
}

static int
conn_write_in(struct cp *cp, struct cp_conn *c)
{
	struct cp_job *j = c->job;
	int again, r;
	ssize_t n;

	if (j->kind == J_HASH || j->kind == J_TAR || j->kind == J_TPREP) {
		if (c->boff < j->in.len) {
			n = cx_os_write(c->in, j->in.data + c->boff,
			    j->in.len - c->boff, &again);
			if (n < 0) {
				cx_os_close(&c->in);
				return 0;
			}
			c->boff += (size_t)n;
		}
		if (c->boff >= j->in.len)
			cx_os_close(&c->in);
		return 0;
	}
	if (c->boff == c->blen) {
		c->ctl = 0;
		if (c->pos == c->step_end && c->pos > c->step_start) {
			/* a step's data went: the line that records it */
			memcpy(c->buf, "k\n", 2);
			c->blen = 2;
			c->boff = 0;
			c->ctl = 1;
			c->step_start = c->pos;
			c->step_end = j->end - c->pos < CX_CP_UPSTEP ? j->end :
			    c->pos + CX_CP_UPSTEP;
		} else if (c->pos == j->end) {
			/* the data went: the hash line follows (upload_one) */
			unsigned char md[32];
			unsigned int mdlen = 0;
			int i;
			if (c->h == NULL || c->hashed) {
				cx_os_close(&c->in);
				return 0;
			}
			if (EVP_DigestFinal_ex(c->h, md, &mdlen) != 1)
				return CX_ERR_INTERNAL;
			for (i = 0; i < 32; i++)
				snprintf((char *)c->buf + 2 * i, 3, "%02x", md[i]);
			c->buf[64] = '\n';
			c->blen = 65;
			c->boff = 0;
			c->ctl = 1;
			c->hashed = 1;
		} else {
			size_t want = c->step_end - c->pos < CHUNK ?
			    (size_t)(c->step_end - c->pos) : CHUNK;
			if ((r = cx_os_pread_all(j->f->fd, c->buf, want,
			    c->pos)) != 0) {
				cx_error("cannot read '%s': %s", j->f->lpath,
				    r == CX_ERR_INPUT ?
				    "it shrank during the copy" : cx_strerror(r));
				return r;
			}
			if (c->h != NULL)
				EVP_DigestUpdate(c->h, c->buf, want);
			c->blen = want;
			c->boff = 0;
		}
	}
	n = cx_os_write(c->in, c->buf + c->boff, c->blen - c->boff, &again);
	if (n < 0) {
		/* ssh is gone: its exit says why */
		cx_os_close(&c->in);
		return 0;
	}
	c->boff += (size_t)n;
	if (!c->ctl) {
		c->pos += (uint64_t)n;
		cp->moved += (uint64_t)n;
	}
	return 0;
}

static int
conn_read_err(struct cp_conn *c)
{
	unsigned char tmp[4096];
	int again;
	ssize_t n;

	n = cx_os_read(c->err, tmp, sizeof(tmp), &again);
	if (again)
		return 0;
	if (n <= 0) {
		cx_os_close(&c->err);
		return 0;
	}
	/* past the cap (CX_CP_MAX_ERR) the rest is dropped */
	(void)cx_buf_append(&c->errb, tmp, (size_t)n);
	return 0;
}

/* ---- ends of connections ---- */

/* The connect's status from the wrapper's line in errb (-1: none), and
 * the last line that is neither the tag nor ssh's own noise (for the
 * message). */
static int
conn_diagnose(const struct cp_conn *c, char *msg, size_t msgn)
{
	const char *s = cx_buf_str(&c->errb), *nl;
	int status = -1;
	long long v;

	msg[0] = '\0';
	for (; s != NULL && *s; s = *nl ? nl + 1 : nl) {
		size_t n;
		nl = strchr(s, '\n');
		if (nl == NULL)
			nl = s + strlen(s);
		n = (size_t)(nl - s);
		if (n > strlen(PROXY_STATUS_TAG) &&
		    strncmp(s, PROXY_STATUS_TAG, strlen(PROXY_STATUS_TAG)) == 0) {
			char num[16];
			size_t k = n - strlen(PROXY_STATUS_TAG);
			if (k < sizeof(num)) {
				memcpy(num, s + strlen(PROXY_STATUS_TAG), k);
				num[k] = '\0';
				if (cx_strtonum(num, 0, 255, &v) == 0)
					status = (int)v;
			}
			continue;
		}
		if (n == 0 || strncmp(s, "kex_exchange_identification", 27) == 0 ||
		    strncmp(s, "Connection closed by", 20) == 0 ||
		    strncmp(s, "ssh_exchange_identification", 27) == 0 ||
		    strncmp(s, "banner exchange", 15) == 0 ||
		    strncmp(s, "Warning: Permanently added", 26) == 0)
			continue;
		if (n >= msgn)
			n = msgn - 1;
		memcpy(msg, s, n);
		msg[n] = '\0';
	}
	return status;
}

static int
fail(struct cp *cp, int status)
{
	if (cp->fail_status == 0)
		cp->fail_status = status;
	return CX_ERR_CANCELLED;
}

static int start_ranges(struct cp *cp, struct cp_file *f);
static int file_done(struct cp *cp, struct cp_file *f);
static int tree_listed(struct cp *cp, struct cp_conn *c);
static int tree_prepared(struct cp *cp, struct cp_conn *c);
static int tree_hashes(struct cp *cp, struct cp_conn *c);
static int tree_final_jobs(struct cp *cp);

/* The probe's answer (download): the stat line, then the hash line. */
static int
probe_done(struct cp *cp, struct cp_conn *c)
{
	struct cp_file *f = c->job->f;
	char *s = (char *)cx_buf_str(&c->outb), *nl;
	int is_dir;

	if ((nl = strchr(s, '\n')) == NULL) {
		cx_error("'%s:%s': unreadable answer to stat", cp->host,
		    f->rpath);
		return fail(cp, CX_EXIT_SESSION);
	}
	*nl = '\0';
	if (cx_cp_parse_stat(s, &f->size, &f->mode, &f->mtime, &is_dir) != 0) {
		cx_error("'%s:%s' is not a regular file", cp->host, f->rpath);
		return fail(cp, CX_EXIT_USAGE);
	}
	if (is_dir) {
		cx_error("'%s:%s' is a folder (use -r)", cp->host, f->rpath);
		return fail(cp, CX_EXIT_USAGE);
	}
	if (cp->verify) {
		s = nl + 1;
		if (strlen(s) < 65 || strspn(s, "0123456789abcdef") != 64) {
			cx_error("'%s:%s': sha256sum gave no hash", cp->host,
			    f->rpath);
			return fail(cp, CX_EXIT_SESSION);
		}
		memcpy(f->rhex, s, 64);
		f->rhex[64] = '\0';
		f->have_rhex = 1;
	}
	return start_ranges(cp, f);
}

static int
conn_ended(struct cp *cp, struct cp_conn *c)
{
	struct cp_job *j = c->job;
	char msg[512];
	int code, status, r = 0, complete;

	cx_os_exit_code(c->wstatus, &code);
	status = conn_diagnose(c, msg, sizeof(msg));
	if (c->tar_pid != -1) {
		int tws = 0, tcode = 0;
		(void)cx_os_reap(c->tar_pid, 0, &tws);
		c->tar_pid = -1;
		cx_os_exit_code(tws, &tcode);
		if (code == 0 && tcode != 0) {
			cx_error("the local tar failed (exit %d)", tcode);
			job_free(j);
			conn_release(cp, c);
			return fail(cp, CX_EXIT_TEMP);
		}
	}
	cx_debug(1, "%.2f s: connection %d ended: exit %d, %" PRIu64
	    " bytes", (double)(cx_now_ms() - cp->t0) / 1000.0,
	    (int)(c - cp->conn), code, c->pos - j->pos);
	complete = (j->kind == J_DL || j->kind == J_UL || j->kind == J_ULONE) ?
	    c->pos == j->end : 1;
	if (code == 0 && complete) {
		switch (j->kind) {
		case J_PROBE:
			r = probe_done(cp, c);
			break;
		case J_DL:
		case J_UL:
			if (j->range >= 0)
				j->f->rec.r[j->range].done = j->end -
				    j->f->rec.r[j->range].off;
			if (--j->f->left == 0)
				r = file_done(cp, j->f);
			break;
		case J_PREPARE:
			r = start_ranges(cp, j->f);
			break;
		case J_FINISH:
		case J_ULONE:
			j->f->finished = 1;
			break;
		case J_LIST:
			r = tree_listed(cp, c);
			break;
		case J_TPREP:
			r = tree_prepared(cp, c);
			break;
		case J_HASH:
			r = tree_hashes(cp, c);
			break;
		case J_TAR:
			cp->moved += j->pos;	/* its bytes, counted at the end */
			break;
		default:
			break;
		}
		cp->probed = 1;
		job_free(j);
		conn_release(cp, c);
		return r;
	}
	if (code == 0 && j->kind == J_DL) {
		cx_error("'%s:%s' ended %" PRIu64 " bytes early: it changed "
		    "during the copy", cp->host, j->f->rpath, j->end - c->pos);
		job_free(j);
		conn_release(cp, c);
		return fail(cp, CX_EXIT_TEMP);
	}
	if ((j->kind == J_FINISH || j->kind == J_ULONE) &&
	    (code == CX_CP_EXIT_MISMATCH ||
	    code == CX_CP_EXIT_SIZE)) {
		cx_error("'%s:%s': the copy differs from '%s' (%s); the partial "
		    "file%s%s%s is left", cp->host, j->f->rpath, j->f->lpath,
		    msg, j->f->part ? " '" : "", j->f->part ? j->f->part : "",
		    j->f->part ? "'" : "");
		job_free(j);
		conn_release(cp, c);
		return fail(cp, CX_EXIT_TEMP);
	}
	/* a definite answer from the connect: the whole copy fails */
	if (status > 0 && status != CX_EXIT_DEADLINE &&
	    status != CX_EXIT_SESSION && status != CX_EXIT_TEMP && status < 128) {
		fprintf(stderr, "%s\n", msg[0] ? msg : "connect failed");
		job_free(j);
		conn_release(cp, c);
		return fail(cp, status);
	}
	if ((j->kind == J_PROBE || j->kind == J_LIST || j->kind == J_TPREP ||
	    j->kind == J_HASH || j->kind == J_TAR) && code != 255) {
		/* the remote command itself failed: no retry */
		cx_error("'%s:%s': %s", cp->host, j->f != NULL ? j->f->rpath :
		    cp->upload ? cp->tdst : cp->tsrc, msg[0] ? msg : "failed");
		job_free(j);
		conn_release(cp, c);
		return fail(cp, strstr(msg, "No such file") ? CX_EXIT_NOTFOUND :
		    strstr(msg, "Permission denied") ? CX_EXIT_DENIED :
		    CX_EXIT_TEMP);
	}
	if (++j->tries > CX_CP_RETRIES) {
		cx_error("connection to '%s' failed %d times: %s", cp->host,
		    j->tries, msg[0] ? msg : "no message");
		job_free(j);
		conn_release(cp, c);
		return fail(cp, status > 0 ? status : code == 255 ?
		    CX_EXIT_SESSION : CX_EXIT_TEMP);
	}
	cp->retries++;
	if (!cp->quiet)
		cx_warn("connection %d to '%s' failed (%s); retrying its range",
		    (int)(c - cp->conn), cp->host, msg[0] ? msg : "no message");
	if (j->kind == J_DL) {
		j->pos = c->pos;	/* only what is missing */
	} else if (j->kind == J_UL || j->kind == J_ULONE) {
		/* what dd wrote is unknown: the whole range again */
		cp->moved -= c->pos - j->pos;
	}
	conn_release(cp, c);
	job_push(cp, j, 1);
	return 0;
}

/* ---- files ---- */

static int
file_hash(int fd, uint64_t size, char hex[65])
{
	unsigned char buf[CHUNK], md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t off = 0;
	unsigned int mdlen = 0;
	int i, r = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	while (off < size) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) :
		    sizeof(buf);
		if ((r = cx_os_pread_all(fd, buf, n, off)) != 0)
			goto out;
		EVP_DigestUpdate(ctx, buf, n);
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		r = CX_ERR_INTERNAL;
		goto out;
	}
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
 out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* -r: a file of the tree gets one range per 8 MiB, up to -j */
static int
ranges_for(const struct cp *cp, const struct cp_file *f)
{
	uint64_t n;

	if (!cp->tree)
		return cp->jobs;
	n = f->size / (8 * 1024 * 1024);
	return n < 1 ? 1 : n > (uint64_t)cp->jobs ? cp->jobs : (int)n;
}

/* Upload: queues what the prepare found missing on the instance, spread
 * over the connections. */
static int
start_upload_ranges(struct cp *cp, struct cp_file *f)
{
	struct cx_cp_range *v = NULL;
	int i, n = 0, r = 0;

	if (cx_cp_spread(f->miss, f->nmiss, ranges_for(cp, f), &v, &n) != 0)
		return fail(cp, CX_EXIT_INTERNAL);
	cp->total += f->size;
	cp->moved += f->have;
	f->left = 0;
	for (i = 0; i < n; i++) {
		struct cp_job *j = job_new(cp, J_UL, f);
		if (j == NULL) {
			r = fail(cp, CX_EXIT_INTERNAL);
			goto out;
		}
		j->range = -1;
		j->pos = v[i].off;
		j->end = v[i].end;
		job_push(cp, j, 0);
		f->left++;
	}
	if (f->left == 0)
		r = file_done(cp, f);
 out:
	free(v);
	return r;
}

/* Queues the ranges of f that are not done. */
static int
start_ranges(struct cp *cp, struct cp_file *f)
{
	struct cx_cp_record old;
	struct cx_buf rb;
	int i, r, resumed = 0;

	if (!cp->upload) {
		/* --resume: the record must be for this very file */
		cx_buf_init(&rb, CX_CP_RECORD_MAX);
		if (cp->resume && cx_read_file(f->record, CX_CP_RECORD_MAX,
		    &rb) == 0) {
			if (cx_cp_record_parse(cx_buf_str(&rb), rb.len, &old) == 0 &&
			    old.size == f->size && old.mtime == f->mtime &&
			    cx_os_open_rw(f->part, 0600, 0, &f->fd) == 0) {
				f->rec = old;
				resumed = 1;
			} else if (!cp->quiet) {
				cx_warn("'%s' does not match '%s:%s': starting "
				    "over", f->record, cp->host, f->rpath);
			}
		}
		cx_buf_clean_up(&rb);
		if (!resumed) {
			if ((r = cx_os_open_rw(f->part, 0600, 1, &f->fd)) != 0) {
				cx_error("cannot create '%s': %s", f->part,
				    cx_strerror(r));
				return fail(cp, CX_EXIT_TEMP);
			}
			f->rec.size = f->size;
			f->rec.mtime = f->mtime;
			if ((r = cx_cp_split(f->size, ranges_for(cp, f),
			    CX_CP_ALIGN, f->rec.r, CX_CP_MAX_RANGES,
			    &f->rec.count)) != 0)
				return fail(cp, CX_EXIT_INTERNAL);
			if ((r = cx_os_truncate(f->fd, f->size)) != 0) {
				cx_error("cannot size '%s': %s", f->part,
				    cx_strerror(r));
				return fail(cp, CX_EXIT_TEMP);
			}
		}
		if ((r = record_save(f)) != 0) {
			cx_error("cannot write '%s': %s", f->record,
			    cx_strerror(r));
			return fail(cp, CX_EXIT_TEMP);
		}
	} else {
		return start_upload_ranges(cp, f);
	}
	cp->total += f->size;
	f->left = 0;
	for (i = 0; i < f->rec.count; i++) {
		struct cx_cp_range *g = &f->rec.r[i];
		struct cp_job *j;
		cp->moved += g->done;
		if (g->off + g->done == g->end)
			continue;
		if ((j = job_new(cp, cp->upload ? J_UL : J_DL, f)) == NULL)
			return fail(cp, CX_EXIT_INTERNAL);
		j->range = i;
		j->pos = g->off + g->done;
		j->end = g->end;
		job_push(cp, j, 0);
		f->left++;
	}
	if (f->left == 0)
		return file_done(cp, f);
	return 0;
}

/* All ranges of f are there: verify, keep mode and time, rename. */
static int
file_done(struct cp *cp, struct cp_file *f)
{
	struct cp_job *j;
	char hex[65];
	int r;

	if (cp->upload) {
		if (cp->verify && (r = file_hash(f->fd, f->size, hex)) != 0) {
			cx_error("cannot read '%s': %s", f->lpath, cx_strerror(r));
			return fail(cp, CX_EXIT_TEMP);
		}
		if ((j = job_new(cp, J_FINISH, f)) == NULL ||
		    cx_cp_cmd_upload_finish(f->part, f->rpath, f->size, f->mode,
		    f->mtime, cp->verify ? hex : NULL, &j->in) != 0) {
			job_free(j);
			return fail(cp, CX_EXIT_INTERNAL);
		}
		job_push(cp, j, 1);
		return 0;
	}
	if (cp->verify && !cp->tree) {
		if ((r = file_hash(f->fd, f->size, hex)) != 0) {
			cx_error("cannot read '%s': %s", f->part, cx_strerror(r));
			return fail(cp, CX_EXIT_TEMP);
		}
		if (!f->have_rhex || strcmp(hex, f->rhex) != 0) {
			cx_error("'%s' differs from '%s:%s' (SHA-256 %s, remote "
			    "%s): left as '%s'", f->lpath, cp->host, f->rpath,
			    hex, f->have_rhex ? f->rhex : "unknown", f->part);
			(void)cx_os_unlink(f->record);
			return fail(cp, CX_EXIT_TEMP);
		}
	}
	if ((r = cx_os_set_mode_mtime(f->fd, NULL, f->mode, f->mtime)) != 0 ||
	    (r = cx_os_fsync(f->fd)) != 0 ||
	    (r = cx_os_rename(f->part, f->lpath)) != 0) {
		cx_error("cannot finish '%s': %s", f->lpath, cx_strerror(r));
		return fail(cp, CX_EXIT_TEMP);
	}
	(void)cx_os_unlink(f->record);
	f->finished = 1;
	return 0;
}

/* ---- the loop ---- */

static int
job_command(struct cp *cp, struct cp_job *j, struct cx_buf *cmd)
{
	struct cp_file *f = j->f;

	switch (j->kind) {
	case J_PROBE:
		return cx_cp_cmd_probe(f->rpath, cp->verify, cmd);
	case J_DL:
		return cx_cp_cmd_read_range(f->rpath, j->pos, j->end, cmd);
	case J_PREPARE: {
		char *name = NULL;
		int r = cx_cp_basename(f->lpath, &name);
		if (r == 0)
			r = cx_cp_cmd_upload_prepare(f->rpath, name, f->size,
			    f->mtime, cp->resume, cmd);
		free(name);
		return r;
	}
	case J_UL:
		return cx_cp_cmd_write_range(f->part, j->pos, j->end, cmd);
	case J_FINISH:
		return cx_buf_puts(cmd, cx_buf_str(&j->in));
	case J_LIST:
		return cx_buf_puts(cmd, "cd -- ") || cx_cp_shquote(cp->tsrc, cmd) ||
		    cx_buf_puts(cmd, " && find . \\( -type d -o -type f \\) "
		    "-printf '%y %s %m %T@ %p\\0'") ? CX_ERR_NOMEM : 0;
	case J_TPREP: {
		char *name = NULL;
		int r = cx_cp_basename(cp->tsrc, &name);
		if (r != 0)
			return r;
		if ((r = cx_buf_puts(cmd, "if [ -d ")) ||
		    (r = cx_cp_shquote(cp->tdst, cmd)))
			goto tprep_out;
		/* an interrupted copy that made DST itself its top folder
		 * left DST.cxpart.tree: the same operands go there again */
		if (cp->mark_in != NULL &&
		    ((r = cx_buf_puts(cmd, " ] && { [ -e ")) ||
		    (r = cx_cp_shquote(cp->mark_in, cmd)) ||
		    (r = cx_buf_puts(cmd, " ] || [ ! -e ")) ||
		    (r = cx_cp_shquote(cp->mark_self, cmd)) ||
		    (r = cx_buf_puts(cmd, " ]; }; then m=")) ||
		    (r = cx_cp_shquote(cp->mark_in, cmd)) ||
		    (r = cx_buf_puts(cmd, "; r="))))
			goto tprep_out;
		if (cp->mark_in == NULL && (r = cx_buf_puts(cmd,
		    " ]; then m=/dev/null; r=")))
			goto tprep_out;
		if ((r = cx_cp_shquote(cp->tdst, cmd)) ||
		    (r = cx_buf_putc(cmd, '/')) || (r = cx_cp_shquote(name, cmd)) ||
		    (r = cx_buf_puts(cmd, "; t=d; else m=")) ||
		    (r = cx_cp_shquote(cp->mark_self != NULL ? cp->mark_self :
		    "/dev/null", cmd)) ||
		    (r = cx_buf_puts(cmd, "; r=")) ||
		    (r = cx_cp_shquote(cp->tdst, cmd)) ||
		    (r = cx_buf_puts(cmd, "; t=f; fi; mkdir -p -- \"$r\" && "
		    ": > \"$m\" && cd -- \"$r\" && xargs -0 -r mkdir -p -- && "
		    "echo $t")))
			goto tprep_out;
		/* --resume: what is there already (size, time, name) */
		if (cp->resume)
			r = cx_buf_puts(cmd, " && find . -type f -printf "
			    "'%s %T@ %p\\0'");
 tprep_out:
		free(name);
		return r;
	}
	case J_TAR:
		if (cx_buf_puts(cmd, "cd -- ") ||
		    cx_cp_shquote(cp->upload ? cp->rroot : cp->tsrc, cmd) ||
		    cx_buf_puts(cmd, cp->upload ?
		    " && tar -xpf - --no-same-owner" :
		    " && tar -cf - --null --no-recursion -T -"))
			return CX_ERR_NOMEM;
		/* the last step of an upload: the tree is whole */
		if (j->final && cp->marker != NULL &&
		    (cx_buf_puts(cmd, " && cd && rm -f -- ") ||
		    cx_cp_shquote(cp->marker, cmd)))
			return CX_ERR_NOMEM;
		return 0;
	case J_HASH:
		if (cx_buf_puts(cmd, "cd -- ") ||
		    cx_cp_shquote(cp->upload ? cp->rroot : cp->tsrc, cmd) ||
		    cx_buf_puts(cmd, " && xargs -0 -r sha256sum --"))
			return CX_ERR_NOMEM;
		return 0;
	case J_ULONE: {
		char *name = NULL;
		int r = cx_cp_basename(f->lpath, &name);
		if (r == 0)
			r = cx_cp_cmd_upload_one(f->rpath, name, f->size, f->mode,
			    f->mtime, cp->verify, cmd);
		free(name);
		return r;
	}
	default:
		return CX_ERR_INTERNAL;
	}
}

static void
kill_all(struct cp *cp, int sig)
{
	int i;

	for (i = 0; i < NCONN_MAX; i++)
		if (cp->conn[i].job != NULL && !cp->conn[i].exited) {
			cx_os_kill(cp->conn[i].pid, sig);
			cx_os_kill(cp->conn[i].tar_pid, sig);
		}
}

/* Waits for every connection to end (after kill_all), releasing them. */
static void
reap_all(struct cp *cp)
{
	int i;

	for (i = 0; i < NCONN_MAX; i++) {
		struct cp_conn *c = &cp->conn[i];
		if (c->job == NULL)
			continue;
		if (!c->exited)
			(void)cx_os_reap(c->pid, 0, &c->wstatus);
		if (c->tar_pid != -1)
			(void)cx_os_reap(c->tar_pid, 0, &c->wstatus);
		c->tar_pid = -1;
		job_free(c->job);
		conn_release(cp, c);
	}
}

/*
 * The upload's prepare said "d" (a folder: DST/NAME) or "f", then "new",
 * "restart" (a partial upload of another source was there: started over)
 * or "resume" and the steps its record holds.
 */
static int
prepare_answer(struct cp *cp, struct cp_conn *c)
{
	struct cp_file *f = c->job->f;
	const char *s = cx_buf_str(&c->outb), *w;
	char *name = NULL, *p = NULL;
	int r;

	if ((s[0] != 'd' && s[0] != 'f') || s[1] != '\n') {
		cx_error("'%s': unexpected answer when creating '%s.cxpart'",
		    cp->host, f->rpath);
		return fail(cp, CX_EXIT_SESSION);
	}
	if (s[0] == 'd') {
		if ((r = cx_cp_basename(f->lpath, &name)) != 0 ||
		    (r = cx_path_join(f->rpath, name, &p)) != 0) {
			free(name);
			return r;
		}
		free(name);
		free(f->rpath);
		f->rpath = p;
	}
	free(f->part);
	if (cx_asprintf(&f->part, "%s.cxpart", f->rpath) < 0) {
		f->part = NULL;
		return CX_ERR_NOMEM;
	}
	w = s + 2;
	free(f->miss);
	f->miss = NULL;
	f->nmiss = 0;
	f->have = 0;
	if (strncmp(w, "resume\n", 7) == 0) {
		w += 7;
		if (cx_cp_upload_missing(w, strlen(w), f->size, &f->miss,
		    &f->nmiss, &f->have) != 0) {
			cx_error("'%s:%s.ranges': unreadable record of the partial "
			    "upload (copy without --resume to start over)",
			    cp->host, f->part);
			return fail(cp, CX_EXIT_TEMP);
		}
		cx_debug(1, "'%s:%s': %" PRIu64 " bytes there, %d ranges "
		    "missing", cp->host, f->part, f->have, f->nmiss);
		return 0;
	}
	if (strcmp(w, "restart\n") == 0) {
		if (!cp->quiet)
			cx_warn("'%s:%s' is the partial upload of another source "
			    "(size or time differ): starting over", cp->host,
			    f->part);
	} else if (strcmp(w, "new\n") != 0) {
		cx_error("'%s': unexpected answer when creating '%s'",
		    cp->host, f->part);
		return fail(cp, CX_EXIT_SESSION);
	}
	if (f->size > 0) {
		if ((f->miss = calloc(1, sizeof(*f->miss))) == NULL)
			return CX_ERR_NOMEM;
		f->miss[0].end = f->size;
		f->nmiss = 1;
	}
	return 0;
}

static int
run_loop_inner(struct cp *cp)
{
	struct cx_os_pfd pfd[3 * NCONN_MAX];
	int map[3 * NCONN_MAX], i, n, r = 0, sig, code;

	cp->t0 = cp->last_record = cx_now_ms();
	for (;;) {
		if ((sig = cx_os_signal_caught()) != 0) {
			if (cp->tty && !cp->quiet)
				fputc('\n', stderr);
			cx_error("interrupted: every connection ended; --resume "
			    "continues the copy");
			kill_all(cp, SIGTERM);
			reap_all(cp);
			records_save_all(cp);
			return fail(cp, 128 + sig);
		}
		if (cp->fail_status != 0) {
			kill_all(cp, SIGTERM);
			reap_all(cp);
			records_save_all(cp);
			return CX_ERR_CANCELLED;
		}
		/* open connections: the first alone, until it got through */
		for (i = 0; i < NCONN_MAX && cp->queue != NULL; i++) {
			struct cx_buf cmd;
			struct cp_job *j;
			if (cp->conn[i].job != NULL)
				continue;
			if (cp->live >= (cp->probed ? cp->jobs : 1))
				break;
			j = job_pop(cp);
			cx_buf_init(&cmd, 0);
			if ((r = job_command(cp, j, &cmd)) == 0)
				r = conn_start(cp, &cp->conn[i], j, cx_buf_str(&cmd));
			cx_buf_clean_up(&cmd);
			if (r != 0) {
				job_free(j);
				return fail(cp, cx_exit_code(r));
			}
		}
		if (cp->live == 0 && cp->queue == NULL) {
			if (cp->tree && cp->upload && !cp->final_queued) {
				cp->final_queued = 1;
				if ((r = tree_final_jobs(cp)) != 0)
					return fail(cp, cx_exit_code(r));
				continue;
			}
			break;
		}
		n = 0;
		for (i = 0; i < NCONN_MAX; i++) {
			struct cp_conn *c = &cp->conn[i];
			if (c->job == NULL)
				continue;
			if (c->out >= 0) {
				pfd[n].fd = c->out; pfd[n].want = CX_OS_IN;
				map[n++] = i;
			}
			if (c->err >= 0) {
				pfd[n].fd = c->err; pfd[n].want = CX_OS_IN;
				map[n++] = i;
			}
			if (c->in >= 0) {
				pfd[n].fd = c->in; pfd[n].want = CX_OS_OUT;
				map[n++] = i;
			}
		}
		if (cx_os_poll(pfd, (size_t)n, 100) < 0)
			return fail(cp, CX_EXIT_TEMP);
		for (i = 0; i < n && cp->fail_status == 0; i++) {
			struct cp_conn *c = &cp->conn[map[i]];
			if (pfd[i].got == 0 || c->job == NULL)
				continue;
			if (pfd[i].fd == c->out)
				r = conn_read_out(cp, c);
			else if (pfd[i].fd == c->err)
				r = conn_read_err(c);
			else if (pfd[i].fd == c->in)
				r = conn_write_in(cp, c);
			if (r != 0)
				return fail(cp, cx_exit_code(r));
		}
		for (i = 0; i < NCONN_MAX && cp->fail_status == 0; i++) {
			struct cp_conn *c = &cp->conn[i];
			if (c->job == NULL || c->out >= 0 || c->err >= 0)
				continue;
			/* both outputs closed: ssh is ending */
			if (cx_os_reap(c->pid, 0, &c->wstatus) != 0)
				return fail(cp, CX_EXIT_INTERNAL);
			c->exited = 1;
			if (c->job->kind == J_PREPARE &&
			    cx_os_exit_code(c->wstatus, &code) && code == 0 &&
			    (r = prepare_answer(cp, c)) != 0)
				return fail(cp, cx_exit_code(r));
			if ((r = conn_ended(cp, c)) != 0 && cp->fail_status == 0)
				return fail(cp, cx_exit_code(r));
		}
		if (!cp->upload && cx_now_ms() - cp->last_record >= 500) {
			cp->last_record = cx_now_ms();
			records_save_all(cp);
		}
		progress(cp, 0);
	}
	return 0;
}

/* The loop; whatever way it failed, every connection it started is ended
 * and released (a failure inside the loop may leave one that has exited
 * but is not released yet). */
static int
run_loop(struct cp *cp)
{
	int r = run_loop_inner(cp);

	if (r != 0 || cp->fail_status != 0) {
		kill_all(cp, SIGTERM);
		reap_all(cp);
		records_save_all(cp);
	}
	return r;
}

/* ---- main ---- */

static void
usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s cp [-qrv] [-j N] [--resume] [--verify | "
	    "--no-verify]\n"
	    "          [-F ssh_config] [-o ssh_option] SRC... DST\n\n"
	    "One side is HOST:PATH, HOST a host of the generated ssh config.\n"
	    "  -j, --jobs N        parallel connections, each its own SSM "
	    "session (default %d, at most %d)\n"
	    "  -r, --recursive     copy folders\n"
	    "      --resume        continue from FILE.cxpart (either way)\n"
	    "      --verify        compare SHA-256 on both ends (default)\n"
	    "      --no-verify     do not\n"
	    "  -q, --quiet         no progress, no summary\n"
	    "  -F FILE, -o OPTION  passed to ssh\n"
	    "  -v, --verbose       the ssh commands, on stderr\n",
	    prog, CX_CP_DEFAULT_JOBS, CX_CP_MAX_JOBS);
}

/* Releases the state of one copy (not the options: host, ssh argv). */
static void
cp_clean_up(struct cp *cp)
{
	struct cp_job *j;
	int i;

	while ((j = job_pop(cp)) != NULL)
		job_free(j);
	for (i = 0; i < cp->nfiles; i++) {
		struct cp_file *f = &cp->files[i];
		cx_os_close(&f->fd);
		free(f->rpath);
		free(f->lpath);
		free(f->part);
		free(f->record);
		free(f->miss);
	}
	free(cp->files);
	for (i = 0; i < cp->nents; i++)
		free(cp->ents[i].rel);
	free(cp->ents);
	free(cp->tsrc);
	free(cp->tdst);
	free(cp->lroot);
	free(cp->rroot);
	free(cp->marker);
	free(cp->mark_in);
	free(cp->mark_self);
}

/* Sets up the single file of a download (src remote) or upload. */
static int
plan_file(struct cp *cp, const char *src, const char *dst)
{
	struct cp_file *f;
	struct cx_os_stat st;
	char *base = NULL;
	int r;

	if ((cp->files = calloc(1, sizeof(*cp->files))) == NULL)
		return CX_ERR_NOMEM;
	cp->nfiles = 1;
	f = &cp->files[0];
	f->fd = -1;
	if (!cp->upload) {
		if ((f->rpath = strdup(src)) == NULL)
			return CX_ERR_NOMEM;
		if (cx_os_stat_path(dst, &st) == 0 && st.is_dir) {
			if ((r = cx_cp_basename(src, &base)) != 0)
				return r;
			r = cx_path_join(dst, base, &f->lpath);
			free(base);
			if (r != 0)
				return r;
		} else if ((f->lpath = strdup(dst)) == NULL) {
			return CX_ERR_NOMEM;
		}
		if (cx_asprintf(&f->part, "%s.cxpart", f->lpath) < 0 ||
		    cx_asprintf(&f->record, "%s.cxpart.ranges", f->lpath) < 0)
			return CX_ERR_NOMEM;
		return 0;
	}
	if ((f->lpath = strdup(src)) == NULL || (f->rpath = strdup(dst)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_os_stat_path(src, &st)) != 0) {
		cx_error("cannot read '%s': %s", src, r == CX_ERR_NOTFOUND ?
		    "no such file" : cx_strerror(r));
		return r == CX_ERR_NOTFOUND ? CX_ERR_NOTFOUND : r;
	}
	if (st.is_dir) {
		cx_error("'%s' is a folder (use -r)", src);
		return CX_ERR_USAGE;
	}
	if (!st.is_reg) {
		cx_error("'%s' is not a regular file", src);
		return CX_ERR_USAGE;
	}
	if ((r = cx_os_open_read(src, &f->fd)) != 0) {
		cx_error("cannot read '%s': %s", src, cx_strerror(r));
		return r;
	}
	f->size = st.size;
	f->mode = st.mode;
	f->mtime = st.mtime;
	return 0;
}

/* ---- -r: folders ---- */

static int
tree_add(struct cp *cp, const char *rel, int is_dir, uint64_t size,
    unsigned mode, int64_t mtime)
{
	struct tree_ent *e;

	if (cp->nents % 256 == 0) {
		e = realloc(cp->ents, sizeof(*e) * ((size_t)cp->nents + 256));
		if (e == NULL)
			return CX_ERR_NOMEM;
		cp->ents = e;
	}
	e = &cp->ents[cp->nents];
	memset(e, 0, sizeof(*e));
	if ((e->rel = strdup(rel)) == NULL)
		return CX_ERR_NOMEM;
	e->is_dir = is_dir;
	e->size = size;
	e->mode = mode;
	e->mtime = mtime;
	e->big = !is_dir && size >= CX_CP_BIG_FILE;
	cp->nents++;
	return 0;
}

/* Appends "./rel" and a NUL (the lists tar and xargs read). */
static int
put_name(struct cx_buf *b, const char *rel)
{
	if (strcmp(rel, ".") == 0)
		return cx_buf_append(b, ".", 2);
	if (cx_buf_puts(b, "./") != 0)
		return CX_ERR_NOMEM;
	return cx_buf_append(b, rel, strlen(rel) + 1);
}

/* The top folder of the copy on the receiving side: DST/NAME when DST is
 * a folder already, else DST (as scp -r). */
static int
tree_root(const char *dst, const char *src, int dst_is_dir, char **out)
{
	char *name = NULL;
	int r;

	if (!dst_is_dir)
		return (*out = strdup(dst)) == NULL ? CX_ERR_NOMEM : 0;
	if ((r = cx_cp_basename(src, &name)) != 0)
		return r;
	if (strcmp(name, ".") == 0 || strcmp(name, "/") == 0 ||
	    strcmp(name, "..") == 0)
		r = (*out = strdup(dst)) == NULL ? CX_ERR_NOMEM : 0;
	else
		r = cx_path_join(dst, name, out);
	free(name);
	return r;
}

/* Queues the data jobs of the tree: big files in ranges (download) or one
 * session each (upload), the small ones through one tar, the remote
 * hashes (download: from the start, the source does not change). */
static int
tree_queue(struct cp *cp)
{
	struct cp_job *tar = NULL, *hash = NULL, *j;
	int i, nbig = 0, k = 0, r;

	for (i = 0; i < cp->nents; i++) {
		struct tree_ent *e = &cp->ents[i];
		struct cx_os_stat st;
		char *path = NULL;
		nbig += e->big;
		if (cp->upload || !cp->resume || e->is_dir)
			continue;
		/* a file is whole once it has its size and time: tar sets
		 * the time after the data, a range copy renames at the end */
		if ((r = cx_path_join(cp->lroot, e->rel, &path)) != 0)
			return r;
		e->there = cx_os_stat_path(path, &st) == 0 && st.is_reg &&
		    st.size == e->size && st.mtime == e->mtime;
		free(path);
	}
	if (nbig > 0 && (cp->files = calloc((size_t)nbig,
	    sizeof(*cp->files))) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; i < cp->nents; i++) {
		struct tree_ent *e = &cp->ents[i];
		if (e->is_dir)
			continue;
		if (cp->verify && !cp->upload) {
			if (hash == NULL && (hash = job_new(cp, J_HASH, NULL)) == NULL)
				return CX_ERR_NOMEM;
			if ((r = put_name(&hash->in, e->rel)) != 0)
				goto fail;
		}
		if (e->there) {
			/* --resume: complete on the other side already */
			cp->total += e->size;
			cp->moved += e->size;
			continue;
		}
		if (!e->big) {
			if (tar == NULL && (tar = job_new(cp, J_TAR, NULL)) == NULL)
				return CX_ERR_NOMEM;
			if ((r = put_name(&tar->in, e->rel)) != 0)
				goto fail;
			tar->pos += e->size;
			cp->total += e->size;
			continue;
		}
		{
			struct cp_file *f = &cp->files[k++];
			cp->nfiles = k;
			f->fd = -1;
			f->size = e->size;
			f->mode = e->mode;
			f->mtime = e->mtime;
			if (cp->upload) {
				if ((r = cx_path_join(cp->rroot, e->rel, &f->rpath)) ||
				    (r = cx_path_join(cp->tsrc, e->rel, &f->lpath)))
					goto fail;
				if ((r = cx_os_open_read(f->lpath, &f->fd)) != 0) {
					cx_error("cannot read '%s': %s", f->lpath,
					    cx_strerror(r));
					goto fail;
				}
				/* --resume: a prepare reads what is there */
				j = job_new(cp, cp->resume ? J_PREPARE :
				    J_ULONE, f);
				if (j == NULL) {
					r = CX_ERR_NOMEM;
					goto fail;
				}
				if (!cp->resume) {
					j->end = f->size;
					cp->total += f->size;
				}
				job_push(cp, j, 0);
				continue;
			}
			if ((r = cx_path_join(cp->tsrc, e->rel, &f->rpath)) ||
			    (r = cx_path_join(cp->lroot, e->rel, &f->lpath)))
				goto fail;
			if (cx_asprintf(&f->part, "%s.cxpart", f->lpath) < 0 ||
			    cx_asprintf(&f->record, "%s.cxpart.ranges", f->lpath) < 0) {
				r = CX_ERR_NOMEM;
				goto fail;
			}
			if (start_ranges(cp, f) != 0) {
				r = CX_ERR_CANCELLED;
				goto fail;
			}
		}
	}
	if (tar != NULL)
		job_push(cp, tar, 1);
	if (hash != NULL)
		job_push(cp, hash, 1);
	return 0;
 fail:
	job_free(tar);
	job_free(hash);
	return r;
}

/* The listing of the remote tree (download): "%y %s %m %T@ %p\0" each. */
static int
tree_listed(struct cp *cp, struct cp_conn *c)
{
	const char *p = (const char *)c->outb.data, *e = p + c->outb.len;
	struct cx_os_stat st;
	int i, r, dst_dir;

	while (p != NULL && p < e) {
		const char *z = memchr(p, '\0', (size_t)(e - p)), *q;
		char type;
		uint64_t size = 0, mt = 0;
		unsigned mode = 0;
		if (z == NULL)
			break;
		type = *p;
		q = p + 1;
		if ((type != 'd' && type != 'f') || *q++ != ' ')
			goto bad;
		while (q < z && *q >= '0' && *q <= '9')
			size = size * 10 + (uint64_t)(*q++ - '0');
		if (q >= z || *q++ != ' ')
			goto bad;
		while (q < z && *q >= '0' && *q <= '7')
			mode = mode * 8 + (unsigned)(*q++ - '0');
		if (q >= z || *q++ != ' ' || mode > 07777)
			goto bad;
		while (q < z && *q >= '0' && *q <= '9')
			mt = mt * 10 + (uint64_t)(*q++ - '0');
		while (q < z && *q != ' ')
			q++;		/* the fraction of %T@ */
		if (q >= z || *q++ != ' ')
			goto bad;
		if (strcmp(q, ".") == 0)
			r = tree_add(cp, ".", 1, 0, mode, (int64_t)mt);
		else if (strncmp(q, "./", 2) == 0 && q[2] != '\0')
			r = tree_add(cp, q + 2, type == 'd', size, mode,
			    (int64_t)mt);
		else
			goto bad;
		if (r != 0)
			return fail(cp, cx_exit_code(r));
		p = z + 1;
	}
	if (cp->nents == 0 || strcmp(cp->ents[0].rel, ".") != 0)
		goto bad;
	dst_dir = cx_os_stat_path(cp->tdst, &st) == 0 && st.is_dir;
	/* an interrupted copy that made DST its top folder left
	 * DST.cxpart.tree: the same operands go there again */
	if (dst_dir && cp->mark_in != NULL &&
	    cx_os_stat_path(cp->mark_in, &st) != 0 &&
	    cx_os_stat_path(cp->mark_self, &st) == 0)
		dst_dir = 0;
	if ((r = tree_root(cp->tdst, cp->tsrc, dst_dir, &cp->lroot)) != 0)
		return fail(cp, cx_exit_code(r));
	if (cp->mark_in != NULL) {
		if ((cp->marker = strdup(dst_dir ? cp->mark_in :
		    cp->mark_self)) == NULL)
			return fail(cp, CX_EXIT_INTERNAL);
		if ((r = cx_mkdir_p(cp->lroot, 0700)) != 0 ||
		    (r = cx_write_file_atomic(cp->marker, "", 0, 0600,
		    0)) != 0) {
			cx_error("cannot create '%s': %s", cp->marker,
			    cx_strerror(r));
			return fail(cp, CX_EXIT_TEMP);
		}
	}
	for (i = 0; i < cp->nents; i++) {
		char *d = NULL;
		if (!cp->ents[i].is_dir)
			continue;
		if (cx_path_join(cp->lroot, cp->ents[i].rel, &d) != 0)
			return fail(cp, CX_EXIT_INTERNAL);
		/* 0700 until the end, when each folder gets its own mode */
		r = cx_mkdir_p(strcmp(cp->ents[i].rel, ".") ? d : cp->lroot,
		    0700);
		if (r != 0) {
			cx_error("cannot create folder '%s'", d);
			free(d);
			return fail(cp, CX_EXIT_TEMP);
		}
		free(d);
	}
	if ((r = tree_queue(cp)) != 0)
		return cp->fail_status ? CX_ERR_CANCELLED :
		    fail(cp, cx_exit_code(r));
	return 0;
 bad:
	cx_error("'%s:%s': unreadable listing of the folder (is it one?)",
	    cp->host, cp->tsrc);
	return fail(cp, CX_EXIT_SESSION);
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct tree_ent *const *x = a, *const *y = b;

	return strcmp((*x)->rel, (*y)->rel);
}

/* --resume up: the remote files ("SIZE MTIME.FRAC ./REL\0" each) that
 * have the size and time of ours are there already. */
static int
tree_there(struct cp *cp, const char *p, const char *e)
{
	struct tree_ent **idx = NULL, key, *kp = &key, **hit;
	int i, n = 0;

	if ((idx = calloc((size_t)cp->nents + 1, sizeof(*idx))) == NULL)
		return CX_ERR_NOMEM;
	for (i = 0; i < cp->nents; i++)
		if (!cp->ents[i].is_dir)
			idx[n++] = &cp->ents[i];
	qsort(idx, (size_t)n, sizeof(*idx), ent_cmp);
	while (p < e) {
		const char *z = memchr(p, '\0', (size_t)(e - p)), *q = p;
		uint64_t size = 0, mt = 0;
		if (z == NULL)
			break;
		while (q < z && *q >= '0' && *q <= '9')
			size = size * 10 + (uint64_t)(*q++ - '0');
		if (q < z && *q == ' ')
			q++;
		while (q < z && *q >= '0' && *q <= '9')
			mt = mt * 10 + (uint64_t)(*q++ - '0');
		while (q < z && *q != ' ')
			q++;
		if (q + 3 < z && strncmp(q, " ./", 3) == 0) {
			key.rel = (char *)q + 3;
			hit = bsearch(&kp, idx, (size_t)n, sizeof(*idx),
			    ent_cmp);
			if (hit != NULL && (*hit)->size == size &&
			    (*hit)->mtime == (int64_t)mt)
				(*hit)->there = 1;
		}
		p = z + 1;
	}
	free(idx);
	return 0;
}

/* The upload's folders are made: "d" (DST/NAME) or "f" (DST), then with
 * --resume the files there. */
static int
tree_prepared(struct cp *cp, struct cp_conn *c)
{
	const char *s = cx_buf_str(&c->outb);
	int r;

	if ((s[0] != 'd' && s[0] != 'f') || s[1] != '\n' ||
	    (!cp->resume && s[2] != '\0')) {
		cx_error("'%s': unexpected answer when creating '%s'", cp->host,
		    cp->tdst);
		return fail(cp, CX_EXIT_SESSION);
	}
	if (cp->mark_in != NULL && (cp->marker = strdup(s[0] == 'd' ?
	    cp->mark_in : cp->mark_self)) == NULL)
		return fail(cp, CX_EXIT_INTERNAL);
	if ((r = tree_root(cp->tdst, cp->tsrc, s[0] == 'd', &cp->rroot)) != 0 ||
	    (cp->resume && (r = tree_there(cp, s + 2,
	    (const char *)c->outb.data + c->outb.len)) != 0) ||
	    (r = tree_queue(cp)) != 0)
		return cp->fail_status ? CX_ERR_CANCELLED :
		    fail(cp, cx_exit_code(r));
	return 0;
}

/* sha256sum's lines, one per file in list order ("\" first when it had
 * to escape the name). */
static int
tree_hashes(struct cp *cp, struct cp_conn *c)
{
	const char *p = cx_buf_str(&c->outb);
	int i;

	for (i = 0; i < cp->nents; i++) {
		struct tree_ent *e = &cp->ents[i];
		if (e->is_dir)
			continue;
		if (*p == '\\')
			p++;
		if (strspn(p, "0123456789abcdef") < 64)
			goto bad;
		memcpy(e->rhex, p, 64);
		e->rhex[64] = '\0';
		e->have_rhex = 1;
		if ((p = strchr(p, '\n')) == NULL)
			goto bad;
		p++;
	}
	if (*p == '\0')
		return 0;
 bad:
	cx_error("'%s': unreadable answer from sha256sum", cp->host);
	return fail(cp, CX_EXIT_SESSION);
}

/* Upload: once the data is there, a tar of the folders alone gives them
 * their modes and times; then the remote hashes. */
static int
tree_final_jobs(struct cp *cp)
{
	struct cp_job *t, *h = NULL;
	int i, r;

	if ((t = job_new(cp, J_TAR, NULL)) == NULL)
		return CX_ERR_NOMEM;
	t->final = 1;
	for (i = 0; i < cp->nents; i++)
		if (cp->ents[i].is_dir && (r = put_name(&t->in,
		    cp->ents[i].rel)) != 0)
			goto fail;
	if (cp->verify) {
		if ((h = job_new(cp, J_HASH, NULL)) == NULL) {
			r = CX_ERR_NOMEM;
			goto fail;
		}
		for (i = 0; i < cp->nents; i++)
			if (!cp->ents[i].is_dir && (r = put_name(&h->in,
			    cp->ents[i].rel)) != 0)
				goto fail;
		if (h->in.len == 0) {
			job_free(h);
			h = NULL;
		}
	}
	job_push(cp, t, 0);
	if (h != NULL)
		job_push(cp, h, 0);
	return 0;
 fail:
	job_free(t);
	job_free(h);
	return r;
}

static int
walk_cb(const char *rel, const struct cx_os_stat *st, void *arg)
{
	return tree_add(arg, rel, st->is_dir, st->size, st->mode, st->mtime);
}

/* After the loop: every file's SHA-256 against the remote one, then
 * (download) the folders' modes and times, deepest first. */
static int
tree_finish(struct cp *cp)
{
	const char *root = cp->upload ? cp->tsrc : cp->lroot;
	char hex[65];
	int i, r, bad = 0, fd;

	for (i = 0; cp->verify && i < cp->nents; i++) {
		struct tree_ent *e = &cp->ents[i];
		char *path = NULL;
		if (e->is_dir)
			continue;
		if ((r = cx_path_join(root, e->rel, &path)) != 0)
			return fail(cp, CX_EXIT_INTERNAL);
		r = cx_os_open_read(path, &fd);
		if (r == 0) {
			r = file_hash(fd, e->size, hex);
			cx_os_close(&fd);
		}
		if (r != 0 || !e->have_rhex || strcmp(hex, e->rhex) != 0) {
			cx_error("'%s' differs from its copy on '%s' (SHA-256)",
			    path, cp->host);
			bad = 1;
		}
		free(path);
	}
	for (i = cp->nents - 1; !cp->upload && i >= 0; i--) {
		struct tree_ent *e = &cp->ents[i];
		char *path = NULL;
		if (!e->is_dir)
			continue;
		if ((r = cx_path_join(root, e->rel, &path)) != 0)
			return fail(cp, CX_EXIT_INTERNAL);
		if (cx_os_set_mode_mtime(-1, strcmp(e->rel, ".") ? path : root,
		    e->mode, e->mtime) != 0) {
			cx_error("cannot set the mode and time of '%s'", path);
			bad = 1;
		}
		free(path);
	}
	return bad ? fail(cp, CX_EXIT_TEMP) : 0;
}

/* PATH.cxpart.tree for a top folder PATH (trailing '/' dropped); NULL
 * when PATH ends in ".", ".." or is "/" (no marker then). */
static int
marker_path(const char *path, char **out)
{
	size_t n = strlen(path);

	*out = NULL;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if ((n == 1 && (path[0] == '/' || path[0] == '.')) ||
	    (n >= 2 && path[n - 1] == '.' && path[n - 2] == '/') ||
	    (n == 2 && strncmp(path, "..", 2) == 0) ||
	    (n >= 3 && strncmp(path + n - 3, "/..", 3) == 0))
		return 0;
	if (cx_asprintf(out, "%.*s.cxpart.tree", (int)n, path) < 0) {
		*out = NULL;
		return CX_ERR_NOMEM;
	}
	return 0;
}

/*
 * The markers an interrupted -r copy leaves beside its top folder:
 * DST/NAME.cxpart.tree when DST was a folder, DST.cxpart.tree when the
 * copy made DST.  None when NAME is ".", ".." or "/" (the top is DST
 * either way).
 */
static int
tree_markers(struct cp *cp)
{
	char *in = NULL;
	int r;

	if ((r = tree_root(cp->tdst, cp->tsrc, 1, &in)) != 0)
		return r;
	if (strcmp(in, cp->tdst) != 0 &&
	    ((r = marker_path(in, &cp->mark_in)) != 0 ||
	    (r = marker_path(cp->tdst, &cp->mark_self)) != 0)) {
		free(in);
		return r;
	}
	free(in);
	if (cp->mark_in == NULL || cp->mark_self == NULL) {
		free(cp->mark_in);
		free(cp->mark_self);
		cp->mark_in = cp->mark_self = NULL;
	}
	return 0;
}

static int
cx_cp_tree_main(struct cp *cp, const char *src, const char *dst)
{
	struct cx_os_stat st;
	struct cp_job *j;
	int r;

	cp->tree = 1;
	if ((cp->tsrc = strdup(src)) == NULL || (cp->tdst = strdup(dst)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = tree_markers(cp)) != 0)
		return r;
	if (cp->upload) {
		if ((r = cx_os_stat_path(src, &st)) != 0 || !st.is_dir) {
			cx_error("'%s' is not a folder", src);
			return r == CX_ERR_NOTFOUND ? CX_ERR_NOTFOUND : CX_ERR_USAGE;
		}
		if ((r = tree_add(cp, ".", 1, 0, st.mode, st.mtime)) != 0 ||
		    (r = cx_os_walk(src, walk_cb, cp)) != 0)
			return r;
		if ((j = job_new(cp, J_TPREP, NULL)) == NULL)
			return CX_ERR_NOMEM;
		for (r = 1; r < cp->nents; r++)
			if (cp->ents[r].is_dir &&
			    put_name(&j->in, cp->ents[r].rel) != 0) {
				job_free(j);
				return CX_ERR_NOMEM;
			}
		/* the root is in lroot for the local tar -C */
		if ((cp->lroot = strdup(src)) == NULL) {
			job_free(j);
			return CX_ERR_NOMEM;
		}
	} else if ((j = job_new(cp, J_LIST, NULL)) == NULL) {
		return CX_ERR_NOMEM;
	}
	job_push(cp, j, 0);
	if ((r = run_loop(cp)) != 0 || cp->fail_status)
		return r ? r : CX_ERR_CANCELLED;
	if ((r = tree_finish(cp)) != 0)
		return r;
	if (!cp->upload && cp->marker != NULL)
		(void)cx_os_unlink(cp->marker);
	progress(cp, 1);
	return 0;
}

/*
 * Copies src to dst (paths; the host is opt's) with the options of opt, in
 * a state of its own.  Returns the exit status.
 */
static int
copy_one(const struct cp *opt, const char *src, const char *dst)
{
	struct cp cp;
	struct cp_job *j;
	int r, one, status;

	memcpy(&cp, opt, sizeof(cp));
	if (cp.recursive) {
		r = cx_cp_tree_main(&cp, src, dst);
		status = r == 0 ? 0 : cp.fail_status ? cp.fail_status :
		    cx_exit_code(r);
		goto out;
	}
	if ((r = plan_file(&cp, src, dst)) != 0) {
		status = cx_exit_code(r);
		goto out;
	}
	/* the agent paces downloads only: an upload goes over one session
	 * unless -j asks for more (docs/cloudx-proxy.md) */
	one = cp.upload && !cp.resume && (!cp.jobs_set || cp.jobs == 1);
	/* --resume up: a prepare reads the record; then one range unless
	 * -j asks for more */
	if (cp.upload && cp.resume && !cp.jobs_set)
		cp.jobs = 1;
	if ((j = job_new(&cp, one ? J_ULONE : cp.upload ? J_PREPARE : J_PROBE,
	    &cp.files[0])) == NULL) {
		status = CX_EXIT_INTERNAL;
		goto out;
	}
	if (one) {
		cp.jobs = 1;
		j->end = cp.files[0].size;
		cp.total = j->end;
	}
	job_push(&cp, j, 0);
	r = run_loop(&cp);
	if (r != 0 || cp.fail_status) {
		status = cp.fail_status ? cp.fail_status : cx_exit_code(r);
		goto out;
	}
	if (!cp.files[0].finished) {
		cx_error("internal error: the copy ended unfinished");
		status = CX_EXIT_INTERNAL;
		goto out;
	}
	progress(&cp, 1);
	status = 0;
 out:
	cp_clean_up(&cp);
	return status;
}

/*
 * The operands: every SRC on the same side (local, or remote on one host),
 * DST on the other; with several SRC, DST must be a folder.  Fills
 * cp->host, cp->upload, srcs[] (malloc'd paths) and *dstp.
 */
static int
operands(struct cp *cp, int argc, char **argv, char **srcs, char **dstp)
{
	char *h = NULL, *p = NULL;
	struct cx_os_stat st;
	int i, r;

	if ((r = cx_cp_parse_operand(argv[argc - 1], &h, dstp)) != 0)
		goto bad;
	cp->upload = h != NULL;
	cp->host = h;
	h = NULL;
	for (i = 0; i < argc - 1; i++) {
		if ((r = cx_cp_parse_operand(argv[i], &h, &p)) != 0)
			goto bad;
		if ((h != NULL) == cp->upload) {
			cx_error("exactly one of SRC and DST must be HOST:PATH");
			goto usage;
		}
		if (h != NULL && cp->host != NULL && strcmp(h, cp->host) != 0) {
			cx_error("every SRC must be on the same host");
			goto usage;
		}
		if (h != NULL && cp->host == NULL) {
			cp->host = h;
			h = NULL;
		}
		free(h);
		h = NULL;
		srcs[i] = p;
		p = NULL;
	}
	if (argc > 2 && !cp->upload && (cx_os_stat_path(*dstp, &st) != 0 ||
	    !st.is_dir)) {
		cx_error("'%s' must be a folder for several SRC", *dstp);
		goto usage;
	}
	if (argc > 2 && cp->upload && (*dstp)[strlen(*dstp) - 1] != '/') {
		/* the remote commands then fail unless it is a folder */
		size_t n = strlen(*dstp);
		char *d = realloc(*dstp, n + 2);
		if (d == NULL)
			return CX_ERR_NOMEM;
		d[n] = '/';
		d[n + 1] = '\0';
		*dstp = d;
	}
	return 0;
 bad:
	cx_error("bad operand: a HOST may not start with '-' or hold spaces "
	    "or quotes");
 usage:
	free(h);
	free(p);
	return CX_ERR_USAGE;
}

int
cx_drv_cp_main(int argc, char **argv, const char *argv0)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "no-verify", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "resume", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "verify", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = cx_drv_progname(argv0);
	struct cp cp;
	char **srcs = NULL, *dst = NULL;
	long long v;
	int c, i, r, status = CX_EXIT_USAGE, verbosity = 0;

	if (argc >= 3 && strcmp(argv[1], "--proxy-status") == 0)
		return proxy_wrapper(argv[2]);
	memset(&cp, 0, sizeof(cp));
	cp.jobs = CX_CP_DEFAULT_JOBS;
	cp.verify = 1;
	if ((cp.sshv = calloc((size_t)argc * 2 + 8, sizeof(char *))) == NULL ||
	    (srcs = calloc((size_t)argc + 1, sizeof(char *))) == NULL) {
		status = CX_EXIT_INTERNAL;
		goto out;
	}
	cp.sshv[cp.nsshv++] = "ssh";
	cp.sshv[cp.nsshv++] = "-o";
	cp.sshv[cp.nsshv++] = "ControlPath=none";
	cp.sshv[cp.nsshv++] = "-o";
	cp.sshv[cp.nsshv++] = "ControlMaster=no";
	cp.sshv[cp.nsshv++] = "-o";
	cp.sshv[cp.nsshv++] = "BatchMode=yes";
	cx_log_init(prog);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+F:hj:o:qrv", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
		case 'o':
			cp.sshv[cp.nsshv++] = c == 'F' ? "-F" : "-o";
			cp.sshv[cp.nsshv++] = optarg;
			break;
		case 'h':
			usage(stdout, prog);
			status = 0;
			goto out;
		case 'j':
			if (cx_strtonum(optarg, 1, CX_CP_MAX_JOBS, &v) != 0) {
				cx_error("-j wants a number from 1 to %d, not '%s'",
				    CX_CP_MAX_JOBS, optarg);
				goto out;
			}
			cp.jobs = (int)v;
			cp.jobs_set = 1;
			break;
		case 'N': cp.verify = 0; break;
		case 'q': cp.quiet = 1; break;
		case 'r': cp.recursive = 1; break;
		case 'R': cp.resume = 1; break;
		case 'v': verbosity++; break;
		case 'V': cp.verify = 1; break;
		default:
			usage(stderr, prog);
			goto out;
		}
	}
	cx_log_set_verbosity(verbosity);
	argc -= optind;
	argv += optind;
	if (argc < 2) {
		cx_error("cp wants SRC and DST (see '%s cp --help')", prog);
		goto out;
	}
	if (operands(&cp, argc, argv, srcs, &dst) != 0)
		goto out;
	if ((r = cx_find_prog("cloudx-proxy", (char **)&cp.self)) != 0 ||
	    (r = ssh_proxycommand(&cp, &cp.proxycmd)) != 0) {
		status = cx_exit_code(r);
		goto out;
	}
	cp.tty = cx_os_isatty(2);
	cx_os_catch_term_signals();
	/* one SRC after the other; the first failure ends it */
	for (i = 0, status = 0; i < argc - 1 && status == 0; i++)
		status = copy_one(&cp, srcs[i], dst);
 out:
	for (i = 0; srcs != NULL && srcs[i] != NULL; i++)
		free(srcs[i]);
	free(srcs);
	free(dst);
	free((char *)cp.self);
	free(cp.host);
	free(cp.proxycmd);
	free(cp.sshv);
	return status;
}
