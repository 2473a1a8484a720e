/*
 * One error space for the whole toolkit.
 *
 * Library functions return 0 on success or a negative CX_ERR_* code.  The
 * detail (an AWS error code, a curl message, a file name) is logged where it
 * is known, with cx_error(), and then the code is returned.  Only main()
 * turns a code into an exit status, with cx_exit_code().
 */
#ifndef CX_CXERR_H
#define CX_CXERR_H

enum cx_err {
	CX_OK = 0,
	CX_ERR_INTERNAL = -1,	/* a bug or an impossible state */
	CX_ERR_NOMEM = -2,
	CX_ERR_USAGE = -3,	/* bad arguments */
	CX_ERR_INPUT = -4,	/* bad input: JSON, file contents, key */
	CX_ERR_CONFIG = -5,	/* malformed or inconsistent AWS/SSH config */
	CX_ERR_IO = -6,		/* a local system call failed */
	CX_ERR_NETWORK = -7,	/* connect/TLS/DNS failure, connection lost */
	CX_ERR_TIMEOUT = -8,	/* an HTTP request or socket timed out */
	CX_ERR_THROTTLED = -9,	/* AWS throttling after all retries */
	CX_ERR_AWS_SERVER = -10, /* AWS 5xx after all retries */
	CX_ERR_DENIED = -11,	/* AccessDenied, UnauthorizedOperation, auth */
	CX_ERR_NOTFOUND = -12,	/* unknown instance, profile, resource */
	CX_ERR_NOCREDS = -13,	/* no credentials could be found */
	CX_ERR_LOGIN = -14,	/* expired credentials or SSO token: log in */
	CX_ERR_STATE = -15,	/* instance terminated / unusable state */
	CX_ERR_DEADLINE = -16,	/* our own overall deadline passed */
	CX_ERR_SESSION = -17,	/* SSM session refused, closed or lost */
	CX_ERR_AWS = -18,	/* any other AWS client error (4xx) */
	CX_ERR_TOOBIG = -19,	/* an input exceeded its documented limit */
	CX_ERR_PROTOCOL = -20,	/* peer broke the protocol */
	CX_ERR_CANCELLED = -21, /* user declined or interrupted */
	CX_ERR_LAST = -22
};

/* Exit statuses, documented under EXIT STATUS in every man page. */
#define CX_EXIT_OK		0
#define CX_EXIT_DENIED		1	/* AWS said no: access denied, bad keys */
#define CX_EXIT_NOTFOUND	2	/* unknown instance (in that region), profile */
#define CX_EXIT_LOGIN		3	/* no/expired credentials; log in again */
#define CX_EXIT_STATE		4	/* instance terminated or shutting down */
#define CX_EXIT_DEADLINE	5	/* gave up waiting: instance, agent, session */
#define CX_EXIT_SESSION		6	/* SSM session refused, closed with error, lost */
#define CX_EXIT_INTERNAL	70	/* a bug */
#define CX_EXIT_USAGE		100	/* usage error or bad input/config */
#define CX_EXIT_TEMP		111	/* temporary: network, throttling, 5xx, I/O */

/* Returns a static, lowercase description of code. */
const char *cx_strerror(int code);

/* Maps a CX_ERR_* code (or 0) to one of the CX_EXIT_* statuses. */
int cx_exit_code(int code);
/* Maps one of our programs' exit statuses back to a CX_ERR_* code (0 for
 * 0; usage/input as CX_ERR_CONFIG, temporary as CX_ERR_NETWORK). */
int cx_err_of_exit(int status);

#endif
