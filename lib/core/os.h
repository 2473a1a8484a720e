/*
 * The small OS layer: everything that differs between POSIX systems and
 * Windows lives behind these functions (os_posix.c implements them).
 * All functions return 0 or a negative CX_ERR_* unless said otherwise.
 */
#ifndef CX_OS_H
#define CX_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
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

/*
 * The rule for files and folders whose contents we act on (caches, locks,
 * the SSH and AWS files we rewrite; docs/limits.md, "Files and folders we
 * trust"): owned by the effective user and not writable by group or
 * others.  flags: CX_TRUST_DIR (path must be a folder) or CX_TRUST_FILE (a
 * regular file); a symlink is followed (its target is judged).  Returns 0
 * when path is trusted, CX_ERR_NOTFOUND when it does not exist, else
 * CX_ERR_DENIED with the reason ("owned by user 'eve'", "writable by
 * others", "not a folder") in why (always NUL-terminated).  Logs nothing.
 */
#define CX_TRUST_DIR	0x1
#define CX_TRUST_FILE	0x2
int cx_path_trusted(const char *path, int flags, char *why, size_t whylen);

/*
 * Like cx_read_file(), for a file whose contents must be ours (a cache
 * entry, a token): opened without following a symlink, then judged by
 * cx_path_trusted()'s rule on the open file.  An untrusted one is
 * CX_ERR_DENIED with the reason in why, nothing read and nothing logged.
 */
int cx_read_file_trusted(const char *path, size_t max, struct cx_buf *out,
    char *why, size_t whylen);

#define CX_ATOMIC_BACKUP	0x1	/* keep the previous file as PATH.bak */
#define CX_ATOMIC_SECRET	0x2	/* 0600 from creation, whatever the old
					 * mode (one warning if it was wider) */
/*
 * Replaces path atomically: temp file in the same folder, fsync, rename,
 * fsync of the folder.  An existing file keeps its permission bits
 * (CX_ATOMIC_SECRET: 0600); a new one gets mode_new.  The temporary file
 * is 0600 until its contents are written.  A file owned by another user is
 * never rewritten (CX_ERR_INPUT, one line).  Never leaves a partial file
 * at path.  Symlinks at path are followed (the target is replaced).
 */
int cx_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode_new, int flags);
/* mkdir -p; each created folder gets mode. */
int cx_mkdir_p(const char *path, mode_t mode);
/*
 * Takes an exclusive lock for the file path, waiting at most timeout_ms;
 * *fdp receives the lock descriptor for cx_unlock().  The lock file is not
 * beside path but in our state folder,
 * ${XDG_STATE_HOME:-~/.local/state}/cloudx-proxy/locks/ (created 0700, and
 * used only when cx_path_trusted()), named "<base>.<hash>.lock" after the
 * folder (resolved) and name of path; it is opened with O_NOFOLLOW, 0600.
 * Errors: CX_ERR_INPUT (an untrusted lock folder or file), CX_ERR_IO
 * (locked by another run past the timeout, or a system error); one line
 * logged.
 */
int cx_lock(const char *path, int timeout_ms, int *fdp);
/* The lock file cx_lock() uses for path; *out is malloc'd. */
int cx_lock_path(const char *path, char **out);
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
 * max), CX_ERR_IO, or CX_ERR_CANCELLED when a caught signal (cx_sig_catch)
 * came: the child gets the same signal, and SIGKILL if it is still there
 * 500 ms later, and is reaped (none is started when one is pending).
 */
int cx_run(char *const argv[], const void *in, size_t inlen,
    struct cx_buf *out, struct cx_buf *err, int timeout_ms, int *status);

/*
 * Where a sibling program of ours lives: the folder of the running
 * executable if it holds an executable of that name, else the bare name
 * (looked up in PATH when run).  *out is malloc'd.
 */
int cx_find_prog(const char *name, char **out);

/*
 * The signals that end a run: SIGHUP (ssh going away), SIGINT, SIGTERM.
 * After cx_sig_catch() (idempotent) each of them is recorded (the first
 * one's number is kept), passed on at once to the children registered with
 * cx_sig_forward(), and makes cx_sig_fd() readable (the read end of a
 * self-pipe: any wait can include it, and a signal that comes just before
 * the wait is not lost).  System calls are not restarted (no SA_RESTART).
 * Before cx_sig_catch(): no signal is ever pending and cx_sig_fd() is -1.
 * cx_wait_fd(), cx_sleep_ms(), cx_resolve() and cx_run() give up with
 * CX_ERR_CANCELLED within a few milliseconds of a caught signal.
 */
int cx_sig_catch(void);
/* The caught signal's number, or 0. */
int cx_sig_pending(void);
int cx_sig_fd(void);
/* Registers (on) or forgets a child to pass the signals on to (at most 8;
 * beyond that it is not registered: the caller still kills it). */
void cx_sig_forward(pid_t pid, int on);
/* "SIGTERM" for SIGTERM...; "signal" for others. */
const char *cx_sig_name(int sig);

/*
 * Waits until fd is ready for events (POLLIN, POLLOUT) or the deadline
 * (cx_now_ms() clock) passes; fd -1 only waits.  Returns 0 (ready),
 * CX_ERR_TIMEOUT, CX_ERR_CANCELLED (a caught signal, also one that came
 * before the call) or CX_ERR_IO.
 */
int cx_wait_fd(int fd, short events, uint64_t deadline);
/* Sleeps ms: 0, or CX_ERR_CANCELLED as soon as a signal is caught. */
int cx_sleep_ms(long ms);

/* One address of a host name, as getaddrinfo() gives it. */
struct cx_addr {
	int family, socktype, protocol;
	socklen_t len;
	struct sockaddr_storage sa;
};
#define CX_RESOLVE_MAX	16	/* addresses kept at most */
/*
 * host:port for a TCP connection, at most CX_RESOLVE_MAX addresses into
 * out (*n of them).  A literal address is converted at once; a name is
 * resolved by a short-lived child process (the system resolver cannot be
 * interrupted), killed when the deadline passes or a signal is caught.
 * Returns 0, CX_ERR_NETWORK (cannot resolve: said at -v), CX_ERR_TIMEOUT,
 * CX_ERR_CANCELLED, CX_ERR_IO.
 */
int cx_resolve(const char *host, const char *port, uint64_t deadline,
    struct cx_addr out[CX_RESOLVE_MAX], size_t *n);

/* ---- os_append_posix.c: the connect log and the connect's journal ---- */

/* ${XDG_STATE_HOME:-~/.local/state}/cloudx-proxy/<name>; *out malloc'd. */
int cx_state_path(const char *name, char **out);
/*
 * Appends the n bytes at p to path with one write() under O_APPEND (so
 * concurrent writers never interleave).  The folder is created 0700 and
 * must pass cx_path_trusted(); the file is opened with O_NOFOLLOW, created
 * 0600, must be ours and not writable by others.  Once the file would grow
 * past rotate_at bytes it is renamed to path.1 (under cx_lock(), once)
 * and a new one started.  Returns 0, CX_ERR_DENIED (untrusted: the reason
 * in why) or CX_ERR_IO (reason in why).  Logs nothing.
 */
int cx_append_record(const char *path, const void *p, size_t n,
    size_t rotate_at, char *why, size_t whylen);
/* 1 if fd is open on a regular file (a memfd counts), else 0. */
int cx_fd_regular(int fd);
/* Reads fd from offset 0 to its end (pread: the shared offset is left
 * alone), at most max bytes, appending to out. */
int cx_pread_all(int fd, size_t max, struct cx_buf *out);
int cx_fd_set_cloexec(int fd);

#endif
