# Bash helpers for the AWS stand-in (tests/standin/standin.py), for bats and plain bash.
#
#   load ../helpers/standin      (or: source tests/helpers/standin.bash)
#   standin_start [standin.py args...]   start it on a free loopback port; exports
#        STANDIN_URL STANDIN_PORT STANDIN_PID STANDIN_DIR STANDIN_LOG
#        AWS_ENDPOINT_URL_SSM AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT AWS_ENDPOINT_URL_SSO
#        AWS_ENDPOINT_URL_SSO_OIDC            (all = $STANDIN_URL)
#        If MOTO_URL is set and no --moto is given, --moto "$MOTO_URL" is added.
#   standin_config '{json}'   merge-patch the live config (RFC 7386; null deletes a key)
#   standin_reset             back to the start-up config; forget sessions, keys, log
#   standin_state             print GET /standin/state (JSON)
#   standin_session [ID]      print one session's state (default: the newest)
#   standin_log               print the recorded requests (JSON list)
#   standin_wait_for JQ_EXPR [SECONDS]   poll the state until the jq expression is true
#   standin_release           answer the calls config.hold_actions holds (state .held)
#   standin_stop              SIGTERM by PID, wait (bounded) for exit
#
# Logs go to $STANDIN_DIR/standin.log, never to the test's stdout.

STANDIN_HELPERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STANDIN_PY="${STANDIN_PY:-$(cd "$STANDIN_HELPERS_DIR/../standin" && pwd)/standin.py}"
# the real interpreter, resolved once (a pyenv shim costs ~0.15 s per start)
if [[ -z "${STANDIN_PYTHON:-}" ]]; then
    STANDIN_PYTHON="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" || STANDIN_PYTHON=python3
    [[ -n "$STANDIN_PYTHON" ]] || STANDIN_PYTHON=python3
fi
export STANDIN_PYTHON
# stop_pid
. "$STANDIN_HELPERS_DIR/proc.bash"

standin_start() {
    local base="${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}}"
    STANDIN_DIR="$(mktemp -d "$base/standin.XXXXXX")" || return 1
    STANDIN_LOG="$STANDIN_DIR/standin.log"
    local extra=()
    if [[ -n "${MOTO_URL:-}" && " $* " != *" --moto "* ]]; then
        extra=(--moto "$MOTO_URL")
    fi
    # 3>&- : bats waits for fd 3 to close; a background server must not inherit it
    "$STANDIN_PYTHON" "$STANDIN_PY" --port 0 --port-file "$STANDIN_DIR/port" --log "$STANDIN_LOG" \
        "${extra[@]}" "$@" </dev/null >>"$STANDIN_DIR/standin.out" 2>&1 3>&- &
    STANDIN_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        [[ -s "$STANDIN_DIR/port" ]] && break
        if ! kill -0 "$STANDIN_PID" 2>/dev/null; then
            echo "standin_start: stand-in exited early:" >&2
            cat "$STANDIN_DIR/standin.out" "$STANDIN_LOG" >&2 2>/dev/null
            STANDIN_PID=
            return 1
        fi
        sleep 0.02
    done
    if [[ ! -s "$STANDIN_DIR/port" ]]; then
        echo "standin_start: no port file after 6 s" >&2
        standin_stop
        return 1
    fi
    STANDIN_PORT="$(cat "$STANDIN_DIR/port")"
    STANDIN_URL="http://127.0.0.1:$STANDIN_PORT"
    export STANDIN_URL STANDIN_PORT STANDIN_PID STANDIN_DIR STANDIN_LOG
    export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
    export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
    export AWS_ENDPOINT_URL_SSO="$STANDIN_URL"
    export AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL"
}

_standin_curl() {
    curl -sS --noproxy '*' --max-time 30 --fail-with-body "$@"
}

standin_config() {
    _standin_curl -X POST -H 'Content-Type: application/json' --data-binary "${1:?json}" \
        "$STANDIN_URL/standin/config" >/dev/null
}

standin_reset() {
    _standin_curl -X POST "$STANDIN_URL/standin/reset" >/dev/null
}

standin_state() {
    _standin_curl "$STANDIN_URL/standin/state"
}

standin_session() {
    local sid="${1:-}"
    if [[ -z "$sid" ]]; then
        standin_state | jq '.sessions | to_entries | sort_by(.value.Created) | last | .value'
    else
        _standin_curl "$STANDIN_URL/standin/sessions/$sid"
    fi
}

standin_release() {
    _standin_curl -X POST "$STANDIN_URL/standin/release" >/dev/null
}

standin_log() {
    _standin_curl "$STANDIN_URL/standin/log"
}

# standin_wait_for '.sessions[]|select(.ended)' 10  -> 0 once `jq -e` succeeds on the state
standin_wait_for() {
    local expr="$1" secs="${2:-10}" i
    for ((i = 0; i < secs * 20; i++)); do
        if standin_state | jq -e "$expr" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    echo "standin_wait_for: timed out waiting for: $expr" >&2
    return 1
}

standin_stop() {
    stop_pid "${STANDIN_PID:-}" standin_stop
    STANDIN_PID=
}
