# Websocket fault fixtures for tests/bats/faults.bats and limits.bats: the
# real cx-tunnel against the stand-in (tests/standin/standin.py) relaying to
# a loopback echo target (tests/standin/echo.py). Call wsfix_stop from
# teardown(): it stops every process wsfix/tunnel started, by PID.
# shellcheck shell=bash

IID=i-0fa017fa017fa0170

# wsfix N CONFIG: a stand-in (keys known, instance running, no pacing) with
# the data-channel switches CONFIG, relaying to a loopback echo target that
# ends the session after N bytes; N random bytes in $T/in; all by PID
wsfix() {
	T=$BATS_TEST_TMPDIR
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --keys "AKIAWSFAULT:ws-fault-secret" --set \
	    "{\"static_instances\":{\"$IID\":{\"state\":\"running\"}},\"pace_ms\":0}" ||
	    fail "stand-in did not start"
	python3 "$CX_ROOT/tests/standin/echo.py" --port-file "$T/echo.port" \
	    --close-after "$1" </dev/null >/dev/null 2>&1 3>&- &
	ECHO_PID=$!
	wait_until 10 test -s "$T/echo.port"
	standin_config "{\"targets\":{\"$IID\":\"127.0.0.1:$(cat "$T/echo.port")\"}}"
	standin_config "$2"
	jq -n --arg iid "$IID" '{Version:1,AccessKeyId:"AKIAWSFAULT",
	    SecretAccessKey:"ws-fault-secret",Region:"eu-west-1",
	    Instance:{InstanceId:$iid}}' >"$T/ctx.json"
	chmod 600 "$T/ctx.json"
	head -c "$1" /dev/urandom >"$T/in"
}

# tunnel S [OPTION...]: cx-tunnel (bounded by S seconds, given OPTIONs) with
# $T/in on a stdin that never reaches EOF (the session ends from the far
# side); sets st, err
tunnel() {
	mkfifo "$T/fifo"
	exec 7<>"$T/fifo"
	cat "$T/in" >&7 3>&- &
	CAT_PID=$!
	st=0
	SECONDS=0
	timeout "$1" ${CX_WRAP:-} "$CX_BIN_DIR/cx-tunnel" "${@:2}" --context "$T/ctx.json" \
	    "$IID" 22 <"$T/fifo" >"$T/out" 2>"$T/err" 7>&- 3>&- || st=$?
	took=$SECONDS
	exec 7>&-
	stop_pid "$CAT_PID"
	CAT_PID=
	err=$(cat "$T/err")
}

wsfix_stop() {
	[ -n "${CAT_PID:-}" ] && stop_pid "$CAT_PID"
	[ -n "${ECHO_PID:-}" ] && stop_pid "$ECHO_PID"
	[ -n "${STANDIN_PID:-}" ] && standin_stop
	ECHO_PID= CAT_PID=
	exec 7>&- 2>/dev/null || true
}

acking_stopped() {
	[ "$(sess_stat ignored_after_stop_acking)" -gt 0 ]
}

sess_stat() {
	standin_state | jq -r "[.sessions[] | .stats.$1 // .$1 // 0] | add // 0"
}

