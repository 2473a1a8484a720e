/*
 * The small OS layer: everything that differs between POSIX systems and
 * Windows lives behind these functions (os_posix.c implements them).
 * All functions return 0 or a negative CX_ERR_* unless said otherwise.
 */
#ifndef CX_OS_H
#define CX_OS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>
/*
 * The one place (with os*_win.c) that names an OS: the types this header
 * speaks in are POSIX's; Windows (os_win.c) gets them from Winsock
 * (struct pollfd, socklen_t, sockaddr_storage) and from here.  Descriptors
 * stay ints there: C runtime descriptors (_open_osfhandle) for files and
 * pipes, SOCKETs (which fit) for sockets.
 */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef unsigned long nfds_t;
/* <windows.h>'s annotation macros, names our code uses */
#undef IN
#undef OUT
#undef OPTIONAL
/* mingw's sys/types.h names it only under _POSIX */
typedef _sigset_t sigset_t;
/* cx_ppoll's mask is not used on Windows: an empty one is 0 */
static inline int
cx_win_sigemptyset(sigset_t *s)
{
	*s = 0;
	return 0;
}
#define sigemptyset	cx_win_sigemptyset
#ifndef SIGHUP
#define SIGHUP	1
#endif
#ifndef SIGKILL
#define SIGKILL	9
#endif
#ifndef SIGPIPE
#define SIGPIPE	13
#endif
/* Windows only: UTF-8 <-> UTF-16 (*out malloc'd; CX_ERR_INPUT for text
 * that is not valid), the command line CreateProcessW gets for argv
 * (quoted so that CommandLineToArgvW and the C runtime split it back into
 * argv; *out malloc'd, UTF-8), and a file or folder's DACL replaced by one
 * that grants the current user alone (secrets, private keys: Windows
 * OpenSSH refuses a key others can read). */
int cx_win_wide(const char *s, wchar_t **out);
int cx_win_utf8(const wchar_t *w, char **out);
int cx_win_cmdline(char *const argv[], char **out);
int cx_win_set_private(const char *path);
#else
#include <poll.h>
#include <sys/socket.h>
#endif

#include "buf.h"
#include "wipe.h"

/*
 * Process start-up for every command: opens fds 0-2 on /dev/null if they
 * are closed, ignores SIGPIPE (writes then fail with EPIPE), and makes the
 * process non-dumpable with no core files (it holds AWS secrets).
 */
void cx_os_init(const char *argv0);

/*
 * The host system, for the per-OS choices (paths, helper programs) that
 * take it as an argument so that every answer can be tested on any system
 * (cmd/cloudx-proxy/osdata.c).
 */
enum cx_os { CX_OS_LINUX, CX_OS_MACOS, CX_OS_WINDOWS };
enum cx_os cx_os_host(void);
/* "linux", "macos", "windows"; cx_os_parse returns -1 for anything else. */
const char *cx_os_name(enum cx_os os);
int cx_os_parse(const char *name);

/*
 * C library extras strict POSIX lacks (compat.c: the system's own when
 * lib/core/probe.sh found it, else a fallback).
 */
/* realloc of n * size bytes; NULL with errno ENOMEM if that overflows. */
void *cx_reallocarray(void *p, size_t n, size_t size);
/* sprintf into a malloc'd *out (caller frees); -1 and *out NULL on error. */
int cx_asprintf(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cx_vasprintf(char **out, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The first nlen bytes of needle in hay[0..hlen), or NULL. */
void *cx_memmem(const void *hay, size_t hlen, const void *needle,
    size_t nlen);
/* struct tm in UTC to time_t; (time_t)-1 if it does not fit. */
time_t cx_timegm(struct tm *tm);

/*
 * Descriptors.  Every descriptor the layer makes is close-on-exec.
 */
/* A pipe, both ends close-on-exec (pipe2 or pipe + fcntl). */
int cx_pipe(int fds[2]);
/* A socket, close-on-exec; a stream socket never raises SIGPIPE where the
 * system can say so per socket (SO_NOSIGPIPE).  -1 with errno on error,
 * like socket(). */
int cx_socket(int domain, int type, int protocol);
/* send() that never raises SIGPIPE (MSG_NOSIGNAL, else SO_NOSIGPIPE set by
 * cx_socket, else SIGPIPE ignored by cx_os_init).  Like send(). */
ssize_t cx_send(int fd, const void *p, size_t n);
/* A read-write file that has no name (memfd_create, else a temp file in
 * $TMPDIR or /tmp unlinked at once), 0600; close-on-exec unless inherit
 * (then the programs this one runs get it: cx-tunnel's --context-fd). */
int cx_anon_file(const char *name, int inherit, int *fdp);
/*
 * poll() that lets the signals of sigmask in only while it waits, as
 * ppoll() does: a signal caught while waiting (or pending before) makes
 * it return -1 with errno EINTR after its handler ran.  Without ppoll the
 * layer installs, for the length of the call, a handler that writes to a
 * self-pipe and calls the caller's, and polls that pipe too.
 */
int cx_ppoll(struct pollfd *pfd, nfds_t n, const struct timespec *tmo,
    const sigset_t *sigmask);

/*
 * Connects a stream socket to the local (AF_UNIX) socket at path, blocking,
 * close-on-exec; *fdp receives it.  On Windows path is a named pipe
 * (\\.\pipe\openssh-ssh-agent) and *fdp a C runtime descriptor on it
 * that cx_wait_fd, read, cx_write_all and close take; while every
 * instance of the pipe is busy it waits for one until deadline
 * (cx_now_ms() clock; POSIX never waits).  CX_ERR_NOTFOUND if nothing is
 * there, CX_ERR_CONFIG if the path is too long for the system,
 * CX_ERR_TIMEOUT (the pipe stayed busy), CX_ERR_CANCELLED (a caught
 * signal), else CX_ERR_IO (errno says why).  Nothing is logged but a
 * debug line when a busy pipe is waited for.
 */
int cx_unix_connect(const char *path, uint64_t deadline, int *fdp);

/*
 * The terminal.  cx_tty_open opens the controlling terminal (for a prompt
 * when stdin is not one); CX_ERR_NOTFOUND if there is none.  cx_isatty is
 * 1 if fd is a terminal.  cx_tty_echo_off turns echo off on fd (the typed
 * newline still shows) and gives in *saved what cx_tty_restore puts back
 * (and frees); *saved is NULL when fd is no terminal, and restoring NULL
 * does nothing.
 */
int cx_tty_open(int *fdp);
int cx_isatty(int fd);
int cx_tty_echo_off(int fd, void **saved);
void cx_tty_restore(int fd, void *saved);

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
/* 1 if path is absolute: "/..." on POSIX systems; "X:/", "X:\\" or a UNC
 * "//server/..." on Windows. */
int cx_path_is_absolute(const char *path);
/* 1 if a and b name the same file (equal, or the same device and inode:
 * the same volume and file index on Windows), else 0. */
int cx_same_file(const char *a, const char *b);
/* fnmatch(pat, s, FNM_PATHNAME): 0 on a match ('*', '?' and [...] never
 * match '/'), else non-zero. */
int cx_fnmatch_path(const char *pat, const char *s);

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
/*
 * Sets path's permissions to mode: chmod on POSIX systems.  On Windows a
 * mode that gives nothing to group and others (0600, 0700) replaces the
 * DACL by one that grants the current user alone (what Windows OpenSSH
 * wants of a private key); any other mode leaves the DACL as it is (the
 * folder's, inherited).  CX_ERR_IO with errno on failure; nothing logged.
 */
int cx_set_mode(const char *path, mode_t mode);
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
 * Processes.  cx_spawn starts argv[0] (looked up in PATH, no shell) with
 * stdin from infd and stdout to outfd (stderr shared), no signal blocked
 * and the usual dispositions; *pidp receives its id.  CX_ERR_NOTFOUND
 * (logged) if it cannot be run, else CX_ERR_IO.  cx_wait waits for it
 * (retrying on EINTR) and gives its wait status; cx_kill sends it sig.
 * cx_exec replaces this process with argv (PATH lookup unless argv[0] has
 * a '/'); it returns only on error, with errno set.
 */
int cx_spawn(char *const argv[], int infd, int outfd, pid_t *pidp);
/*
 * A descriptor handed to the next program this one starts (cx_spawn,
 * cx_exec), named on its command line: cx_fd_pass_arg writes the text
 * the child gives cx_fd_from_arg to get it back (CX_ERR_INPUT for text
 * that names none).  POSIX systems: the descriptor's number (it must not
 * be close-on-exec: cx_anon_file's inherit).  Windows: the handle's
 * value; that handle is inherited by the next program started, and only
 * by it (a started program inherits no other handle but its three
 * standard ones).
 */
int cx_fd_pass_arg(int fd, char out[32]);
int cx_fd_from_arg(const char *s, int *fdp);
int cx_wait(pid_t pid, int *status);
/* cx_wait without waiting: 1 and *status when pid has ended (reaped), 0
 * while it runs, CX_ERR_IO on error (not our child). */
int cx_try_wait(pid_t pid, int *status);
int cx_kill(pid_t pid, int sig);
int cx_exec(char *const argv[]);

/*
 * A wait status (cx_run's *status): cx_wait_exit gives the program's exit
 * code (0-255), or -1 if it did not exit (it was killed); cx_wait_signal
 * gives the signal that killed it, or 0.
 */
int cx_wait_exit(int status);
int cx_wait_signal(int status);

/*
 * The absolute path of the running program (*out malloc'd): from the
 * system where it says (/proc/self/exe), else argv[0] as given to
 * cx_os_init, resolved through PATH when it has no '/'.  On Windows
 * GetModuleFileNameW's, with '/' for '\\' as cx_home_dir's.
 * CX_ERR_NOTFOUND (nothing logged) when neither works.
 */
int cx_self_path(char **out);
/* The canonical absolute path of path (symlinks resolved); *out malloc'd.
 * CX_ERR_NOTFOUND if it does not exist, else CX_ERR_IO (not logged). */
int cx_realpath(const char *path, char **out);

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

/*
 * The signal wakeup as a socket, for waits that take sockets alone
 * (libcurl's curl_multi_poll, WSAPoll): cx_sig_fd() on POSIX; on Windows
 * (where cx_sig_fd() is a pipe) -1, and such waits look again within a
 * second (libcurl's progress callbacks see the signal).
 */
int cx_sig_sock(void);

/*
 * Sockets.  A socket is an int on every system (Winsock's SOCKET fits in
 * one); the functions below are the only calls made on it besides
 * cx_socket, cx_send, cx_wait_fd and cx_os_poll.  Failures set errno
 * (EAGAIN when it would block, EINPROGRESS for a connect under way, EINTR)
 * from Winsock's error on Windows.
 */
/* Non-blocking, close-on-exec; nodelay: TCP_NODELAY (not fatal). */
int cx_sock_setup(int fd, int nodelay);
/* connect(): 0 connected, -1 with errno (EINPROGRESS: wait for POLLOUT,
 * then cx_sock_error gives the outcome). */
int cx_sock_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* The pending error of the socket (SO_ERROR) as an errno value, 0 for
 * none. */
int cx_sock_error(int fd);
/* recv(), MSG_PEEK when peek.  Like recv(). */
ssize_t cx_recv(int fd, void *p, size_t n, int peek);
/* Closes a socket (nothing when fd < 0). */
void cx_sock_close(int fd);
/*
 * A TCP listener on 127.0.0.1 on a port the system picks (*portp),
 * non-blocking, close-on-exec; *fdp receives it.  CX_ERR_IO (errno).
 */
int cx_listen_loopback(int *fdp, int *portp);
/* Accepts one connection on a listener from cx_listen_loopback: 0 and
 * *fdp (blocking, close-on-exec), 1 when none is waiting (or it went
 * away), CX_ERR_IO (errno) else. */
int cx_accept(int lfd, int *fdp);

/*
 * When stderr is the null device (ssh does that to a ProxyCommand under
 * ControlPersist) and there is a controlling terminal, stderr is pointed
 * at the terminal; returns the saved stderr for cx_stderr_restore() (which
 * puts it back, closes it and sets *saved to -1), or -1 when nothing was
 * changed (always on Windows: its OpenSSH has no ControlPersist).
 */
int cx_stderr_to_tty(void);
void cx_stderr_restore(int *saved);
/* symlink(target, path): 0 or CX_ERR_IO (errno; ENOSYS on Windows). */
int cx_symlink(const char *target, const char *path);
/* Sleeps about ms whatever signals come (a pause between looks at a child
 * that was told to stop; cx_sleep_ms ends at once after a signal). */
void cx_nap_ms(long ms);

/*
 * cx-tunnel's stdin and stdout as descriptors its event loop can wait on
 * together with the websocket's socket (cx_ppoll) and read/write with
 * cx_os_read/cx_os_write.  On POSIX they are in_fd and out_fd themselves
 * (out_fd made non-blocking unless it is a terminal; cx_stdio_pump_end
 * puts its flags back).
 * On Windows (OpenSSH gives a ProxyCommand pipes, which cannot be waited
 * on with a socket) they are loopback sockets: one thread copies the
 * stdin pipe into *in_sock (shut down for writing at its end), another
 * copies *out_sock out to the stdout pipe (closed when the loop closes
 * its end); the sockets' buffers carry the flow control.  CX_ERR_IO.
 */
int cx_stdio_pump(int in_fd, int out_fd, int *in_sock, int *out_sock);
/* At the end of the tunnel: shuts out_sock (the pump's stdout side) for
 * writing and waits at most timeout_ms for what the pump holds to reach
 * the stdout pipe (Windows); on POSIX it puts stdout's flags back.  The
 * caller still closes out_sock. */
void cx_stdio_pump_end(int out_sock, int timeout_ms);

/*
 * The system's own trusted root certificates added to an OpenSSL
 * X509_STORE (store is an X509_STORE *): Windows' ROOT store (where
 * corporate proxies put their CA); nothing on POSIX, where OpenSSL reads
 * the system's files itself.  Returns how many were added.
 * cx_tls_native_ca is 1 where libcurl should be given CURLSSLOPT_NATIVE_CA
 * as well (Windows), else 0.
 */
int cx_tls_system_roots(void *store);
int cx_tls_native_ca(void);

/* What a process used: CPU time and peak resident memory. */
struct cx_usage {
	int64_t user_us, sys_us;	/* CPU time, microseconds */
	long maxrss_kib;		/* peak resident set (working set) */
};
/* This process's (children 0) or its waited-for children's (1) usage.
 * CX_ERR_IO where the system cannot say (children, on Windows). */
int cx_usage(int children, struct cx_usage *u);

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
