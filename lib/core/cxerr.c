#include "cxerr.h"

static const char *const msgs[] = {
	[0] = "success",
	[1] = "internal error",
	[2] = "out of memory",
	[3] = "usage error",
	[4] = "bad input",
	[5] = "bad configuration",
	[6] = "system error",
	[7] = "network error",
	[8] = "timed out",
	[9] = "throttled by AWS",
	[10] = "AWS service error",
	[11] = "access denied",
	[12] = "not found",
	[13] = "no credentials",
	[14] = "login required",
	[15] = "instance not usable",
	[16] = "deadline passed",
	[17] = "session failed",
	[18] = "AWS request refused",
	[19] = "input too large",
	[20] = "protocol error",
	[21] = "cancelled",
};

const char *
cx_strerror(int code)
{
	if (code > 0 || code <= CX_ERR_LAST)
		return "unknown error";
	return msgs[-code];
}

int
cx_exit_code(int code)
{
	switch (code) {
	case CX_OK:
		return CX_EXIT_OK;
	case CX_ERR_USAGE:
	case CX_ERR_INPUT:
	case CX_ERR_CONFIG:
	case CX_ERR_TOOBIG:
	case CX_ERR_CANCELLED:
		return CX_EXIT_USAGE;
	case CX_ERR_IO:
	case CX_ERR_NETWORK:
	case CX_ERR_TIMEOUT:
	case CX_ERR_THROTTLED:
	case CX_ERR_AWS_SERVER:
	case CX_ERR_PROTOCOL:
		return CX_EXIT_TEMP;
	case CX_ERR_DENIED:
	case CX_ERR_AWS:
		return CX_EXIT_DENIED;
	case CX_ERR_NOTFOUND:
		return CX_EXIT_NOTFOUND;
	case CX_ERR_NOCREDS:
	case CX_ERR_LOGIN:
		return CX_EXIT_LOGIN;
	case CX_ERR_STATE:
		return CX_EXIT_STATE;
	case CX_ERR_DEADLINE:
		return CX_EXIT_DEADLINE;
	case CX_ERR_SESSION:
		return CX_EXIT_SESSION;
	default:
		return CX_EXIT_INTERNAL;
	}
}

int
cx_err_of_exit(int status)
{
	switch (status) {
	case CX_EXIT_OK: return 0;
	case CX_EXIT_DENIED: return CX_ERR_DENIED;
	case CX_EXIT_NOTFOUND: return CX_ERR_NOTFOUND;
	case CX_EXIT_LOGIN: return CX_ERR_LOGIN;
	case CX_EXIT_STATE: return CX_ERR_STATE;
	case CX_EXIT_DEADLINE: return CX_ERR_DEADLINE;
	case CX_EXIT_SESSION: return CX_ERR_SESSION;
	case CX_EXIT_USAGE: return CX_ERR_CONFIG;
	case CX_EXIT_TEMP: return CX_ERR_NETWORK;
	default: return CX_ERR_INTERNAL;
	}
}
