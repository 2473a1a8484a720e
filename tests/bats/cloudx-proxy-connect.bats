#!/usr/bin/env bats
# cloudx-proxy connect: the pipeline runner, with fake stages beside a copy
# of the driver (it runs the programs next to itself first).  The driver
# itself calls StartSession while cx-pushkey runs: that goes to the SSM
# stand-in, which knows the instance statically.  The real stages are
# exercised end to end in cloudx-proxy-e2e.bats.
load ../helpers/common

ID=i-0123456789abcdef0

setup_file() {
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --moto '' --set "{\"static_instances\": {\"$ID\": {\"state\": \"running\", \"region\": \"eu-west-1\"}}}"
	export STANDIN_URL STANDIN_PID
}

teardown_file() {
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_stop
}

setup() {
	common_setup
	# the staged pipeline: the warm wave (wave.bats) would make its own
	# AWS calls beside the fakes
	export CLOUDX_PROXY_NO_WAVE=1
	. "$CX_ROOT/tests/helpers/standin.bash"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	standin_reset
	standin_config "{\"static_instances\": {\"$ID\": {\"state\": \"running\", \"region\": \"eu-west-1\"}}}"
	BIN="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$BIN"
	cp "$CX_BIN_DIR/cloudx-proxy" "$BIN/"
	cp -P "$CX_ROOT"/tests/tools/fake-stages/* "$BIN/"
	export FAKE_LOG="$BATS_TEST_TMPDIR/log"
	mkdir -p "$HOME/.ssh/cloudX"
	ssh-keygen -q -t ed25519 -N '' -C test -f "$HOME/.ssh/cloudX/cloudX"
	# the profiles the fake cx-creds names (StartSession reads their config)
	mkdir -p "$HOME/.aws"
	printf '[profile %s]\nregion = eu-west-1\n' cloudX dev vscode >"$HOME/.aws/config"
}

drv() {
	cx "$BIN/cloudx-proxy" "$@"
}

@test "connect: chains the stages and execs the tunnel with the context on a descriptor" {
	run -0 --separate-stderr drv connect "$ID" <<<"hello"
	assert_output "tunnel:hello"
	run -0 grep -c . "$FAKE_LOG"
	# the argv each stage got, in order
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line -n 0 "cx-creds --profile cloudX"
	assert_line -n 1 "cx-instance ensure $ID"
	assert_line -n 2 "cx-pushkey --public-key $HOME/.ssh/cloudX/cloudX.pub"
	assert_line -n 3 --regexp "^cx-tunnel --context-fd [0-9]+ $ID 22\$"
	# each stage gets the previous stage's JSON
	run -0 grep '^cx-instance stdin ' "$FAKE_LOG"
	assert_output --partial '"AccessKeyId":"AKIAFAKE"'
	run -0 jq -r '.Instance.InstanceId, .KeyPush.Success, .Profile' "$FAKE_LOG.context"
	assert_output "$ID
true
cloudX"
	# the session the driver started goes to the tunnel in the context
	sid=$(standin_state | jq -r '.sessions | keys[0]')
	run -0 jq -r '.Session.SessionId' "$FAKE_LOG.context"
	assert_output "$sid"
	jq -e '.Session.TokenValue != "" and (.Session.StreamUrl | startswith("ws://127.0.0.1:"))' "$FAKE_LOG.context"
	standin_log | jq -e --arg id "$ID" '[.[] | select(.op == "StartSession")] | length == 1 and .[0].body.Target == $id and .[0].body.DocumentName == "AWS-StartSSHSession" and .[0].body.Parameters.portNumber == ["22"]'
}

@test "connect: StartSession runs while cx-pushkey does (they overlap)" {
	FAKE_DELAY_CX_PUSHKEY=1 run -0 drv connect "$ID" </dev/null
	push_done=$(cat "$FAKE_LOG.done.cx-pushkey")
	start=$(standin_log | jq '[.[] | select(.op == "StartSession")][0].time')
	# StartSession was answered before the (1 s) push finished; one
	# after the other, it could only come after
	awk -v s="$start" -v p="$push_done" 'BEGIN { exit !(s < p) }'
	jq -e .Session.SessionId "$FAKE_LOG.context"
}

@test "connect: a failing push ends the session started meanwhile; its status and line win" {
	FAKE_FAIL_CX_PUSHKEY=1 run -1 --separate-stderr drv connect "$ID" </dev/null
	assert_equal "${stderr_lines[-1]}" "cx-pushkey: cannot do it: FakeError"
	standin_wait_for '[.sessions[] | select(.terminated_by_api)] | length == 1' 5
	[ ! -e "$FAKE_LOG.context" ]
}

@test "connect: a refused StartSession is one line and its exit status; the push child is reaped" {
	standin_config '{"deny_actions": ["ssm:StartSession"]}'
	run -1 --separate-stderr drv connect "$ID" </dev/null
	[[ "${stderr_lines[-1]}" == "cloudx-proxy: cannot start a session on '$ID': "*AccessDenied* ]]
	[ "$(grep -c AccessDenied <<<"$stderr")" = 1 ]
	[ ! -e "$FAKE_LOG.context" ]
	grep -q '^cx-pushkey stdin' "$FAKE_LOG"
	standin_config '{"deny_actions": null, "target_not_connected": 100}'
	SECONDS=0
	run -5 --separate-stderr drv connect "$ID" --timeout 1 </dev/null
	[ "$SECONDS" -lt 5 ]
	[[ "${stderr_lines[-1]}" == "cloudx-proxy: the instance's agent did not take the session in time"* ]]
}

@test "connect: secrets never appear in any argv" {
	run -0 drv connect "$ID" </dev/null
	grep -q sekrit "$FAKE_LOG"	# the fakes did see it on stdin
	run -1 bash -c 'grep -v " stdin " "$FAKE_LOG" | grep -c sekrit'
}

@test "connect: the tunnel replaces the driver (same PID, nothing left behind)" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	"$BIN/cloudx-proxy" connect "$ID" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>/dev/null &
	pid=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
	wait_until 10 test -s "$FAKE_LOG.tunnelpid"
	[ "$(cat "$FAKE_LOG.tunnelpid")" = "$pid" ]
	echo ping >&7
	exec 7>&-
	wait "$pid"
	run -0 cat "$BATS_TEST_TMPDIR/out"
	assert_output "tunnel:ping"
	run -1 kill -0 "$pid"
}

@test "connect: progress on stderr, in order, nothing else on stdout" {
	run -0 --separate-stderr drv connect "$ID" </dev/null
	assert_output ""
	[ "${stderr_lines[0]}" = "cloudx-proxy: Connecting to instance $ID on port 22..." ]
	[[ "$stderr" == *"cx-creds: progress line"*"Starting instance..."*"Pushing SSH key..."*"Starting session..."* ]]
}

@test "connect: PORT and options reach the right stages" {
	mkdir -p "$BATS_TEST_TMPDIR/keys"
	cp "$HOME/.ssh/cloudX/cloudX.pub" "$BATS_TEST_TMPDIR/keys/mine.pub"
	run -0 drv connect "$ID" 2222 --profile dev --region us-east-2 \
	    --aws-env prod --ssh-key mine --ssh-dir "$BATS_TEST_TMPDIR/keys" </dev/null
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line -n 0 "cx-creds --profile dev --region us-east-2 --aws-env prod"
	assert_line -n 2 "cx-pushkey --public-key $BATS_TEST_TMPDIR/keys/mine.pub"
	assert_line -n 3 --regexp "^cx-tunnel --context-fd [0-9]+ $ID 2222\$"
}

@test "connect: --os-user (ssh's %r in the generated ProxyCommand) reaches cx-pushkey, --timeout cx-instance" {
	run -0 drv connect "$ID" 22 --os-user ubuntu --timeout 7 </dev/null
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line -n 1 "cx-instance --timeout 7 ensure $ID"
	assert_line -n 2 "cx-pushkey --os-user ubuntu --public-key $HOME/.ssh/cloudX/cloudX.pub"
	# a user name EC2 Instance Connect refuses is a usage error, before any stage
	rm -f "$FAKE_LOG"
	run -100 --separate-stderr drv connect "$ID" --os-user 'bad user' </dev/null
	assert_equal "$stderr" "cloudx-proxy: connect: 'bad user' is not a user name EC2 Instance Connect accepts"
	run -100 --separate-stderr drv connect "$ID" --timeout 0 </dev/null
	assert_equal "$stderr" "cloudx-proxy: connect: --timeout must be 1 to 86400 seconds, not '0'"
	[ ! -e "$FAKE_LOG" ]
}

@test "connect: options may come before the instance id; -v reaches every stage" {
	run -0 drv connect -v --profile dev "$ID" </dev/null
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line -n 0 "cx-creds -v --profile dev"
	assert_line -n 1 "cx-instance -v ensure $ID"
}

@test "connect: --ssh-config gives the key folder" {
	mkdir -p "$BATS_TEST_TMPDIR/conf"
	cp "$HOME/.ssh/cloudX/cloudX.pub" "$BATS_TEST_TMPDIR/conf/cloudX.pub"
	run -0 drv connect "$ID" --ssh-config "$BATS_TEST_TMPDIR/conf/config" </dev/null
	run -0 grep '^cx-pushkey --' "$FAKE_LOG"
	assert_output "cx-pushkey --public-key $BATS_TEST_TMPDIR/conf/cloudX.pub"
}

@test "connect: defaults are vscode/vscode when only ~/.ssh/vscode exists" {
	rm -rf "$HOME/.ssh/cloudX"
	mkdir -p "$HOME/.ssh/vscode"
	ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/vscode/vscode"
	run -0 drv connect "$ID" </dev/null
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line -n 0 "cx-creds --profile vscode"
	assert_line -n 2 "cx-pushkey --public-key $HOME/.ssh/vscode/vscode.pub"
}

@test "connect: ~/.ssh/cloudX wins over ~/.ssh/vscode" {
	mkdir -p "$HOME/.ssh/vscode"
	run -0 drv connect "$ID" </dev/null
	run -0 grep '^cx-creds --' "$FAKE_LOG"
	assert_output "cx-creds --profile cloudX"
}

@test "connect: --dry-run shows the real plan and the real port, runs nothing" {
	run -0 --separate-stderr drv connect "$ID" 2222 --dry-run --profile p1
	assert_output ""
	[ ! -e "$FAKE_LOG" ]
	[[ "$stderr" == *"Would start SSM session with port forwarding 2222 -> localhost:2222"* ]]
	[[ "$stderr" == *"cx-creds --profile p1"* ]]
	[[ "$stderr" == *"cx-instance ensure $ID"* ]]
	[[ "$stderr" == *"exec $BIN/cx-tunnel --context-fd N $ID 2222"* ]]
}

@test "connect: a failing stage's exit code and message reach the user, later stages do not run" {
	for code in 1 2 3 4 5 6 111; do
		rm -f "$FAKE_LOG"
		FAKE_FAIL_CX_INSTANCE=$code run --separate-stderr drv connect "$ID" </dev/null
		[ "$status" -eq "$code" ]
		[[ "$stderr" == *"cx-instance: cannot do it: FakeError"* ]]
		run -1 grep -c '^cx-pushkey' "$FAKE_LOG"
	done
	FAKE_FAIL_CX_CREDS=3 run -3 --separate-stderr drv connect "$ID" </dev/null
	assert_equal "${stderr_lines[-1]}" "cx-creds: cannot do it: FakeError"
	FAKE_FAIL_CX_PUSHKEY=1 run -1 drv connect "$ID" </dev/null
}

@test "connect: an exit status of 128 or more becomes 128 (execline rule)" {
	FAKE_FAIL_CX_CREDS=200 run -128 drv connect "$ID" </dev/null
}

@test "connect: a stage that prints no JSON object is an internal error (70)" {
	FAKE_BAD_JSON=1 run -70 --separate-stderr drv connect "$ID" </dev/null
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: '$BIN/cx-pushkey' did not print a JSON object"
}

@test "connect: SIGHUP while a stage runs reaches the stage; nothing is left behind" {
	FAKE_SLEEP_CX_INSTANCE=30 "$BIN/cloudx-proxy" connect "$ID" </dev/null 2>/dev/null &
	pid=$!
	wait_until 10 test -s "$FAKE_LOG.pid.cx-instance"
	child=$(cat "$FAKE_LOG.pid.cx-instance")
	wait_until 10 grep -q sleep "/proc/$child/cmdline"
	kill -HUP "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 129 ]
	run -1 kill -0 "$child"
	run -1 grep -c '^cx-pushkey' "$FAKE_LOG"
}

@test "connect: SIGHUP while StartSession waits for the agent ends connect at once (129), nothing left" {
	standin_config '{"target_not_connected": 1000}'
	"$BIN/cloudx-proxy" connect "$ID" </dev/null 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_until 10 grep -q "retrying in" "$BATS_TEST_TMPDIR/err"
	SECONDS=0
	kill -HUP "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 129 ]
	[ "$SECONDS" -lt 3 ]
	[ ! -e "$FAKE_LOG.context" ]
	run -1 pgrep -P "$pid"
}

@test "connect: a missing stage program is exit 127 with one line" {
	rm "$BIN/cx-instance"
	PATH=/usr/bin:/bin run -127 --separate-stderr drv connect "$ID" </dev/null
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: cannot run 'cx-instance': No such file or directory"
}

@test "connect: a missing public key stops before any AWS call (exit 100)" {
	rm "$HOME/.ssh/cloudX/cloudX.pub"
	run -100 --separate-stderr drv connect "$ID" </dev/null
	assert_equal "$stderr" "cloudx-proxy: public key '$HOME/.ssh/cloudX/cloudX.pub' not found: run 'cloudx-proxy setup' or give --ssh-key/--ssh-dir"
	[ ! -e "$FAKE_LOG" ]
}

@test "connect: usage errors are one line and exit 100" {
	run -100 --separate-stderr drv connect i-xyz
	assert_equal "${#stderr_lines[@]}" 1
	[[ "$stderr" == "cloudx-proxy: invalid EC2 instance ID format: 'i-xyz'"* ]]
	run -100 --separate-stderr drv connect
	assert_equal "$stderr" "cloudx-proxy: connect: missing INSTANCE_ID (see 'cloudx-proxy connect --help')"
	run -100 --separate-stderr drv connect "$ID" 0
	assert_equal "$stderr" "cloudx-proxy: connect: invalid port '0'"
	run -100 --separate-stderr drv connect "$ID" 22 33
	run -100 --separate-stderr drv connect "$ID" --bogus
	assert_equal "$stderr" "cloudx-proxy: connect: unknown option '--bogus' (see 'cloudx-proxy connect --help')"
	run -100 --separate-stderr drv connect "$ID" --profile
	assert_equal "$stderr" "cloudx-proxy: connect: option '--profile' needs a value"
	[ ! -e "$FAKE_LOG" ]
}

@test "connect: accepts 8-digit and upper-case instance ids" {
	run -0 drv connect i-12345678 --dry-run
	run -0 drv connect i-0123456789ABCDEF0 --dry-run
}

@test "connect: --help to stdout, exit 0" {
	run -0 --separate-stderr drv connect --help
	assert_line -n 0 --partial "usage: cloudx-proxy connect INSTANCE_ID [PORT]"
	assert_equal "$stderr" ""
}

@test "driver: --version, --help, unknown command" {
	run -0 drv --version
	assert_output "cloudx-proxy $(cat "$CX_ROOT/VERSION")"
	run -0 drv --help
	assert_line --partial "connect"
	assert_line --partial "setup"
	run -100 --separate-stderr drv frobnicate
	assert_equal "$stderr" "cloudx-proxy: unknown command 'frobnicate' (see 'cloudx-proxy --help')"
	run -100 drv
}
