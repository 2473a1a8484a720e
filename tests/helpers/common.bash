# Loaded by every bats file: `load ../helpers/common`.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

CX_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
CX_BIN_DIR="$CX_ROOT/${CX_BIN:-build}"
export PATH="$CX_BIN_DIR:$PATH"

# A clean, throw-away user environment for one test: never the real
# ~/.aws or ~/.ssh, no AWS variables from the caller.
common_setup() {
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME"
	unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID \
	    AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN \
	    AWS_REGION AWS_DEFAULT_REGION AWS_CONFIG_FILE \
	    AWS_SHARED_CREDENTIALS_FILE AWS_CREDENTIAL_EXPIRATION \
	    AWS_ENDPOINT_URL AWS_CA_BUNDLE AWS_MAX_ATTEMPTS AWS_RETRY_MODE \
	    HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy \
	    XDG_CACHE_HOME XDG_STATE_HOME
	# never reach a real metadata service or AWS from a test
	export AWS_EC2_METADATA_DISABLED=true
	export NO_PROXY=127.0.0.1,localhost
}

# cx PROG ARGS...: runs one of our programs, under $CX_WRAP if set
# (e.g. CX_WRAP="valgrind -q --error-exitcode=99").
cx() {
	${CX_WRAP:-} "$@"
}

# free_port and stop_pid
. "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

# wait_until TIMEOUT_S CMD...: polls CMD until it succeeds, at most TIMEOUT_S.
wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}


# server_start VAR LOG URL TIMEOUT_S CMD...: starts the HTTP server CMD in
# the background (stdin /dev/null, stdout and stderr to LOG, not holding
# bats' fd 3), exports its PID as VAR, and polls URL until it answers, at
# most TIMEOUT_S; if it does not, shows LOG and fails (VAR is set: stop it
# with stop_pid).
server_start() {
	local var=$1 log=$2 url=$3 limit=$4
	shift 4
	"$@" </dev/null >"$log" 2>&1 3>&- &
	printf -v "$var" %s "$!"
	export "${var?}"
	wait_until "$limit" curl -sf -o /dev/null "$url" || {
		cat "$log" >&2
		return 1
	}
}
