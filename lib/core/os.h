/*
 * The small OS layer: everything that differs between POSIX systems and
 * Windows lives behind these functions (os_posix.c implements them).
 * All functions return 0 or a negative CX_ERR_* unless said otherwise.
 */
#ifndef CX_OS_H
#define CX_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "wipe.h"

/*
 * Process start-up for every command: opens fds 0-2 on /dev/null if they
 * are closed, ignores SIGPIPE (writes then fail with EPIPE), and makes the
 * process non-dumpable with no core files (it holds AWS secrets).
 */
void cx_os_init(const char *argv0);

/* Milliseconds on a monotonic clock (for deadlines and timers). */
uint64_t cx_now_ms(void);
/* Milliseconds since the Unix epoch (wall clock). */
int64_t cx_wall_ms(void);

/* Fills p with n cryptographically random bytes (OpenSSL). */
int cx_random_bytes(void *p, size_t n);
/* Writes a random v4 UUID as 36 lowercase chars + NUL into out. */
int cx_uuid4(char out[37]);

/* The user's home directory: $HOME, else the passwd entry.  *out is
 * malloc'd (caller frees). */
int cx_home_dir(char **out);
/* Expands a leading "~/" (or a lone "~"); *out is malloc'd. */
int cx_expand_user(const char *path, char **out);
/* Joins a and b with one '/'; *out is malloc'd. */
int cx_path_join(const char *a, const char *b, char **out);
int cx_file_exists(const char *path);
int cx_is_dir(const char *path);

/* Reads a whole file (at most max bytes, else CX_ERR_TOOBIG) into out,
 * appending.  A missing file is CX_ERR_NOTFOUND (nothing logged); other
 * failures are logged and return CX_ERR_IO. */
int cx_read_file(const char *path, size_t max, struct cx_buf *out);
/* Reads fd to EOF, at most max bytes. */
int cx_read_fd(int fd, size_t max, struct cx_buf *out);
/* Writes all of p to fd, retrying on EINTR/short writes. */
int cx_write_all(int fd, const void *p, size_t n);

#define CX_ATOMIC_BACKUP	0x1	/* keep the previous file as PATH.bak */
/*
 * Replaces path atomically: temp file in the same folder, fsync, rename,
 * fsync of the folder.  An existing file keeps its permission bits (and
 * owner when we may); a new one gets mode_new.  Never leaves a partial file
 * at path.  Symlinks at path are followed (the target is replaced).
 */
int cx_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode_new, int flags);
/* mkdir -p; each created folder gets mode. */
int cx_mkdir_p(const char *path, mode_t mode);
/* Takes an exclusive lock on path + ".lock" (created 0600), waiting at most
 * timeout_ms; *fdp receives the lock descriptor for cx_unlock(). */
int cx_lock(const char *path, int timeout_ms, int *fdp);
void cx_unlock(int fd);

/* Checked string to integer conversion in [min, max]. */
int cx_strtonum(const char *s, long long min, long long max, long long *out);

/* ISO 8601 / RFC 3339 UTC ("2025-01-02T03:04:05Z", fractions and "+00:00"
 * offsets accepted) to time_t. */
int cx_parse_iso8601(const char *s, time_t *out);
/* Formats t as "YYYY-MM-DDTHH:MM:SSZ". */
void cx_format_iso8601(time_t t, char out[21]);

/*
 * Runs argv[0] (looked up in PATH, no shell) with stdin fed from in/inlen
 * (NULL: /dev/null), capturing stdout into out and stderr into err (either
 * may be NULL: discarded... out NULL sends it to /dev/null, err NULL leaves
 * stderr inherited).  Kills the child after timeout_ms (0: no limit).
 * *status receives the wait status.  Returns CX_ERR_NOTFOUND if the program
 * does not exist, CX_ERR_TIMEOUT, CX_ERR_TOOBIG (output over its buffer's
 * max), CX_ERR_IO.
 */
int cx_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, struct cx_buf *err, int timeout_ms, int *status);

/*
 * Where a sibling program of ours lives: the folder of the running
 * executable if it holds an executable of that name, else the bare name
 * (looked up in PATH when run).  *out is malloc'd.
 */
int cx_find_prog(const char *name, char **out);

/* ---- children with pipes, positioned I/O, file metadata, signals ----
 * (added for cloudx-proxy cp; kept apart so the portable layer can take
 * them one by one) */

/*
 * Starts argv[0] (looked up in PATH, no shell) without waiting.  For each
 * of stdin/stdout/stderr: if *fdN >= 0 on entry it is given to the child
 * as that descriptor (and stays open here: the caller closes it); if it is
 * -1 a pipe is made and *fdN receives our end (non-blocking,
 * close-on-exec); a NULL pointer means /dev/null (stdin, stdout) or
 * inherited (stderr).  The child gets default signal dispositions and an
 * empty mask.  *pidp receives its id.  CX_ERR_NOTFOUND: no such program.
 */
int cx_os_spawn(char *const argv[], int *fd0, int *fd1, int *fd2,
    pid_t *pidp);
/* Reaps pid.  nohang: returns 1 if it has not ended yet.  0: ended,
 * *wstatus has its wait status. */
int cx_os_reap(pid_t pid, int nohang, int *wstatus);
/* Sends sig to pid (ignores a child already gone). */
void cx_os_kill(pid_t pid, int sig);
/* 1 if the wait status is a normal exit (*code gets it), 0 if a signal
 * ended it (*code gets 128 + signo). */
int cx_os_exit_code(int wstatus, int *code);

/* Waiting on descriptors: want/got are CX_OS_IN, CX_OS_OUT (got may also
 * have CX_OS_HUP). */
#define CX_OS_IN	0x1
#define CX_OS_OUT	0x2
#define CX_OS_HUP	0x4
struct cx_os_pfd {
	int fd;		/* -1: ignored */
	int want;
	int got;
};
/* Waits at most timeout_ms (-1: no limit) for one of fds; returns the
 * number ready (0: timeout or a signal arrived). */
int cx_os_poll(struct cx_os_pfd *fds, size_t n, int timeout_ms);
/* read/write once on a non-blocking descriptor: returns the count, 0 at
 * EOF (read), CX_ERR_IO on error; *again set when it would block. */
ssize_t cx_os_read(int fd, void *p, size_t n, int *again);
ssize_t cx_os_write(int fd, const void *p, size_t n, int *again);
void cx_os_close(int *fdp);	/* closes *fdp if >= 0, sets it to -1 */
/* Clears O_NONBLOCK (before handing our pipe end to another child). */
int cx_os_set_blocking(int fd);

/* Opens path for positioned reads (O_RDONLY). */
int cx_os_open_read(const char *path, int *fdp);
/* Opens path read-write, creating it with mode (0600 for a partial file)
 * when missing; trunc: empties it. */
int cx_os_open_rw(const char *path, mode_t mode, int trunc, int *fdp);
/* All n bytes at offset off (64-bit), retrying short transfers. A read
 * past the end is CX_ERR_INPUT. */
int cx_os_pread_all(int fd, void *p, size_t n, uint64_t off);
int cx_os_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
int cx_os_truncate(int fd, uint64_t size);
int cx_os_fsync(int fd);

struct cx_os_stat {
	uint64_t size;
	unsigned mode;		/* permission bits (07777) */
	int64_t mtime;		/* seconds since the epoch */
	int is_dir, is_reg;
};
/* stat(2) of path (symlinks followed).  CX_ERR_NOTFOUND when missing
 * (nothing logged). */
int cx_os_stat_path(const char *path, struct cx_os_stat *st);
/* Sets the permission bits and the modification time (and access time
 * to the same) of an open file, or of path when fd is -1. */
int cx_os_set_mode_mtime(int fd, const char *path, unsigned mode,
    int64_t mtime);
/* rename(2): atomic replacement of to. */
int cx_os_rename(const char *from, const char *to);
int cx_os_unlink(const char *path);	/* a missing file is fine */
/* 1 if fd is a terminal. */
int cx_os_isatty(int fd);
/* Terminal width of fd (80 when unknown). */
int cx_os_term_cols(int fd);

/* SIGINT, SIGTERM and SIGHUP set a flag instead of ending the process
 * (cx_os_signal_caught() returns the signal, 0 if none). */
void cx_os_catch_term_signals(void);
int cx_os_signal_caught(void);

/* Calls fn(relpath, st, arg) for every folder and regular file under root
 * (relpath relative to root, parents before children; symlinks and
 * other types skipped).  fn returning non-zero stops the walk with it. */
int cx_os_walk(const char *root,
    int (*fn)(const char *relpath, const struct cx_os_stat *st, void *arg),
    void *arg);

#endif
