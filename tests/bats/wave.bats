#!/usr/bin/env bats
# The warm wave of connect (issue 14 part 2): after the credentials, the
# driver makes DescribeInstances, DescribeInstanceInformation,
# SendSSHPublicKey and StartSession at once; a warm instance is then
# reached with no other AWS call, a cold one through the stages as before.
# Real ssh through the config `setup` writes, moto (EC2, behind the
# ec2-state-proxy, which can hold a call), the SSM stand-in (SSM, EIC) and a
# real sshd.  Concurrency is shown without timing: the proxy and the
# stand-in hold each call once it arrived, and the test releases them only
# once all four are held, which only a wave can reach.
load ../helpers/common
load ../helpers/moto
load ../helpers/ec2proxy

SECRET=CANARYsecretKEYdo0not0leak0f1a2b3c4d5e6
TOKEN=CANARYsessionTOKENdo0not0leak0IQoJb3JpZ2luX2VjEXAMPLE

setup_file() {
	export WV_SKIP=
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || WV_SKIP="$p is not built yet"
	done
	[ -z "$WV_SKIP" ] || return 0
	moto_start
	export HOME_WV="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0 --set '{"token_prefix": "CANARYstreamTOKEN"}'
	moto_auth off
	read -r AK SK < <(moto_user cloudX-wave-alice)
	export AK SK
	ID=$(moto_instance running '[{Key=Name,Value=cloudx-wave-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	ec2proxy_start
	export SSHD_PID SSHD_USER SSHD_PORT SSHD_HOSTKEY_PUB STANDIN_PID MOTO_PID \
	    EC2PROXY_PID EC2PROXY_URL
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	ec2proxy_stop
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$WV_SKIP" ] || skip "$WV_SKIP"
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	export HOME="$HOME_WV"
	mkdir -p "$HOME"
	# EC2 through the holding proxy; SSM and EIC to the stand-in
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_EC2="$EC2PROXY_URL" \
	    AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	unset CLOUDX_PROXY_NO_WAVE
	LOG="$HOME/.local/state/cloudx-proxy/connect.log"
	if [ ! -f "$HOME/.ssh/config" ]; then
		AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
		    cloudx-proxy setup --yes --no-check --instance "$ID" \
		    --hostname box --environment wave >/dev/null 2>&1
		sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"
		# the canaries: a secret key and a session token the driver holds
		printf '[cloudX]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
		    "$AK" "$SECRET" "$TOKEN" >"$HOME/.aws/credentials"
	fi
	rm -rf "$HOME/.local/state/cloudx-proxy"
	[ "$(moto_state "$ID")" = running ] ||
	    moto_aws ec2 start-instances --instance-ids "$ID" >/dev/null
	standin_fresh
	ec2proxy_reset
	ec2proxy_release
}

teardown() {
	[ -z "$WV_SKIP" ] || return 0
	standin_release 2>/dev/null || true
	ec2proxy_release 2>/dev/null || true
	if [ -n "${SSH_PID:-}" ]; then stop_pid "$SSH_PID"; SSH_PID=; fi
}

# the stand-in as started, with no call, session or key, the sshd as target
standin_fresh() {
	standin_reset
	standin_config "{\"targets\": {\"$ID\": \"127.0.0.1:$SSHD_PORT\"}, \"sshd_instance\": \"$ID\"}"
}

# ssh as configured, one-shot, no terminal (as VS Code runs it)
sshx() {
	local o=(-F "$HOME/.ssh/config" -o BatchMode=yes -o ControlMaster=no -o ControlPath=none
	    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts")
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	setsid -w ssh "${o[@]}" "$@" </dev/null
}

# the API calls of ours the stand-in saw, one op per line, in order
ops() { standin_log | jq -r '.[] | select(.kind == "api") | .op'; }
steps() { jq -r '[.steps[].step] | join(" ")' "$LOG"; }
all_four_held() {
	[ "$(ec2proxy_held)" = DescribeInstances ] &&
	    standin_state | jq -e '.held | sort == ["ec2-instance-connect:SendSSHPublicKey",
	        "ssm:DescribeInstanceInformation", "ssm:StartSession"]' >/dev/null
}
describe_held() { [ "$(ec2proxy_held)" = DescribeInstances ]; }
hold_all() {
	ec2proxy_hold DescribeInstances
	standin_config '{"hold_actions": ["ssm:DescribeInstanceInformation", "ssm:StartSession",
	    "ec2-instance-connect:SendSSHPublicKey"]}'
}

@test "wave: a warm connect has its four calls in flight at once, then the websocket; nothing else" {
	hold_all
	sshx cloudx-wave-box 'echo hello' >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	SSH_PID=$!
	# each call is held once it arrived: all four only if they went at once
	wait_until 30 all_four_held || fail "not all four calls in flight together: proxy: $(ec2proxy_held | tr '\n' ' ') stand-in: $(standin_state | jq -c .held)"
	standin_release
	ec2proxy_release
	wait "$SSH_PID" || fail "ssh failed: $(cat "$BATS_TEST_TMPDIR/err")"
	SSH_PID=
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = hello ]
	# our calls: the wave and nothing else (no second look, no second push)
	run -0 ops
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "DescribeInstanceInformation SendSSHPublicKey StartSession " ] ||
	    fail "calls: $(tr '\n' ' ' <<<"$output")"
	[ "$(curl -sf "$EC2PROXY_URL/proxy/log" | jq -r '[.[].action] | join(" ")')" = DescribeInstances ]
	standin_log | jq -e '[.[] | select(.kind == "api") | .held] | all(. == "released")'
	# the connect log: the wave as steps with durations
	[ "$(steps)" = "credentials wave_describe wave_ping wave_key_push wave_session wave first_byte" ]
	jq -e '.outcome == "connected" and ([.steps[].ms | numbers | select(. >= 0)] | length) == 7' "$LOG"
	# the session of the wave is the one the tunnel used
	standin_state | jq -e '[.sessions[]] | length == 1 and (.[0].connects | length) >= 1'
}

@test "wave: the tunnel's context is what cx-instance | cx-pushkey would write, plus the Session" {
	# the real programs beside a cx-tunnel that keeps a copy of its context
	local bin="$BATS_TEST_TMPDIR/bin" p
	mkdir -p "$bin"
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-session cx-tunnel; do
		cp "$CX_BIN_DIR/$p" "$bin/"
	done
	mv "$bin/cx-tunnel" "$bin/cx-tunnel.real"
	printf '%s\n' '#!/usr/bin/env bash' 'prev=' 'for a in "$@"; do' \
	    '	[ "$prev" = --context-fd ] && cat "/proc/self/fd/$a" >"$CTX_COPY"' \
	    '	prev=$a' 'done' 'exec "$(dirname "$0")/cx-tunnel.real" "$@"' >"$bin/cx-tunnel"
	chmod +x "$bin/cx-tunnel"
	CTX_COPY="$BATS_TEST_TMPDIR/ctx.json" run -0 --separate-stderr "$bin/cloudx-proxy" connect "$ID" </dev/null
	[[ "$stderr" == *"at once"* ]]
	jq -e --arg id "$ID" '.Instance.InstanceId == $id and .Instance.State == "running"
	    and .Instance.PingStatus == "Online" and .Instance.Started == false
	    and .Instance.Tags.Name == "cloudx-wave-box" and (.Instance.AvailabilityZone | startswith("eu-west-1"))' "$BATS_TEST_TMPDIR/ctx.json"
	jq -e --arg id "$ID" '.KeyPush.InstanceId == $id and .KeyPush.OsUser == "ec2-user" and .KeyPush.KeyType == "ssh-ed25519"
	    and (.KeyPush.Fingerprint | startswith("SHA256:")) and .KeyPush.Source == "file" and (.KeyPush.ValidUntil | test("Z$"))' "$BATS_TEST_TMPDIR/ctx.json"
	jq -e '(.Session.SessionId | startswith("standin-")) and (.Session.StreamUrl | startswith("ws://"))
	    and .Region == "eu-west-1" and .Profile == "cloudX" and (.AccessKeyId | length) > 0' "$BATS_TEST_TMPDIR/ctx.json"
	# that session is the one the tunnel used
	[ "$(standin_state | jq -r '.sessions | keys | join(" ")')" = "$(jq -r .Session.SessionId "$BATS_TEST_TMPDIR/ctx.json")" ]
}

@test "wave: --no-wave / CLOUDX_PROXY_NO_WAVE: the stages one after the other, so never all four at once" {
	hold_all
	CLOUDX_PROXY_NO_WAVE=1 sshx cloudx-wave-box 'echo hello' >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	SSH_PID=$!
	# cx-instance asks EC2 first and waits for the answer
	wait_until 30 describe_held
	run -1 all_four_held
	[ "$(standin_state | jq '.held | length')" = 0 ]
	ec2proxy_release
	standin_release
	wait "$SSH_PID" || fail "ssh failed: $(cat "$BATS_TEST_TMPDIR/err")"
	SSH_PID=
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = hello ]
	[ "$(steps)" = "credentials describe wait key_push session first_byte" ]
	run -0 --separate-stderr cloudx-proxy connect --no-wave --dry-run "$ID"
	[[ "$stderr" != *"warm wave"* ]]
	run -0 --separate-stderr cloudx-proxy connect --dry-run "$ID"
	[[ "$stderr" == *"at once (warm wave)"* ]]
}

@test "wave: a cold connect (stopped instance): the stages start it, wait, push, session; exact output" {
	moto_aws ec2 stop-instances --instance-ids "$ID" >/dev/null
	run -0 --separate-stderr sshx cloudx-wave-box 'echo hello'
	[ "$output" = hello ]
	[ "$(moto_state "$ID")" = running ]
	[ "$(steps)" = "credentials wave_describe wave_ping wave_key_push wave_session wave describe start wait key_push session first_byte" ]
	# the wave's push and session were refused (not running): nothing to end
	run -0 ops
	[ "$(head -3 <<<"$output" | sort | tr '\n' ' ')" = "DescribeInstanceInformation SendSSHPublicKey StartSession " ] ||
	    fail "calls: $(tr '\n' ' ' <<<"$output")"
	standin_log | jq -e '[.[] | select(.kind == "api" and .op == "StartSession")] | .[0].error == "TargetNotConnected"'
	standin_state | jq -e '[.sessions[]] | length == 1'
}

@test "wave: answers that say 'not running' end the session started meanwhile (TerminateSession), then the cold path" {
	# EC2 says stopping once (the wave's look); SSM still takes a session
	ec2proxy_script "$ID" stopping
	run -0 --separate-stderr sshx cloudx-wave-box 'echo hello'
	[ "$output" = hello ]
	# the early session was ended through the API, the second one used
	standin_state | jq -e '[.sessions[]] | length == 2'
	standin_state | jq -e '[.sessions[] | select(.terminated_by_api)] | length == 1'
	standin_state | jq -e '[.sessions[] | select(.terminated_by_api | not) | .connects | length] == [1]'
	[ "$(ops | grep -c TerminateSession)" = 1 ]
	# the first (the wave's) ended, the second (the stages') used
	standin_state | jq -e '[.sessions[]] | sort_by(.Created) | (.[0].terminated_by_api) and (.[1].terminated_by_api | not)'
	[[ "$(steps)" == "credentials wave_describe wave_ping wave_key_push wave_session wave describe "* ]]
}

@test "wave: access denied keeps its one line and exit status (as without the wave); the early session is ended" {
	standin_config '{"deny_actions": ["ec2-instance-connect:SendSSHPublicKey"]}'
	run -1 --separate-stderr env CLOUDX_PROXY_NO_WAVE=1 cloudx-proxy connect "$ID" </dev/null
	want=${stderr_lines[-1]}
	[[ "$want" == "cx-pushkey: "*AccessDenied* ]]
	standin_fresh
	standin_config '{"deny_actions": ["ec2-instance-connect:SendSSHPublicKey"]}'
	run -1 --separate-stderr cloudx-proxy connect "$ID" </dev/null
	[ "${stderr_lines[-1]}" = "$want" ]
	[ "$(grep -c AccessDenied <<<"$stderr")" = 1 ]
	# the wave's session and the one started beside cx-pushkey: both ended
	standin_state | jq -e '[.sessions[]] | length == 2 and all(.terminated_by_api)'
	jq -s -e --arg m "$want" '.[-1].outcome == "failed" and .[-1].exit == 1 and .[-1].message == $m' "$LOG"
	# a refused StartSession: the driver's own line, exit 1
	standin_config '{"deny_actions": ["ssm:StartSession"]}'
	run -1 --separate-stderr cloudx-proxy connect "$ID" </dev/null
	[[ "${stderr_lines[-1]}" == "cloudx-proxy: cannot start a session on '$ID': "*AccessDenied* ]]
	[ "$(grep -c AccessDenied <<<"$stderr")" = 1 ]
	# an unknown instance: cx-instance's line and status, as without the wave
	run -2 --separate-stderr env CLOUDX_PROXY_NO_WAVE=1 cloudx-proxy connect i-0000000000000dead </dev/null
	want=${stderr_lines[-1]}
	[ "$want" = "cx-instance: instance 'i-0000000000000dead' not found in region 'eu-west-1'" ]
	run -2 --separate-stderr cloudx-proxy connect i-0000000000000dead </dev/null
	[ "${stderr_lines[-1]}" = "$want" ]
}

@test "wave: throttled wave calls are retried; the connect still succeeds" {
	standin_config '{"throttle_next": 2, "fault_actions": ["ssm:StartSession", "ssm:DescribeInstanceInformation"]}'
	CX_AWS_MAX_BACKOFF_MS=50 run -0 --separate-stderr sshx cloudx-wave-box 'echo hello'
	[ "$output" = hello ]
	[ "$(ops | grep -c StartSession)" = 2 ]
}

@test "wave: SIGHUP while the wave waits for its answers ends connect at once (129, one line), nothing left" {
	hold_all
	cloudx-proxy connect "$ID" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" &
	local pid=$!
	wait_until 30 all_four_held
	kill -HUP "$pid"
	local st=0
	SECONDS=0
	wait "$pid" || st=$?
	[ "$st" = 129 ]
	[ "$SECONDS" -lt 5 ]
	[ "$(tail -1 "$BATS_TEST_TMPDIR/err")" = "cloudx-proxy: stopped by SIGHUP" ]
	run -1 pgrep -f "$CX_BIN_DIR/cx-"
}

@test "wave: the canaries stay out of argv, stderr (-vv) and the connect log" {
	run -0 --separate-stderr sshx -o "ProxyCommand=cloudx-proxy connect -vv %h %p --os-user %r" cloudx-wave-box 'echo hello'
	[ "$output" = hello ]
	[[ "$stderr" != *CANARY* ]]
	run -1 grep -rl CANARY "$HOME/.local/state"
	# while a connect runs (held in its wave): no canary in any argv
	hold_all
	sshx cloudx-wave-box true >/dev/null 2>&1 &
	SSH_PID=$!
	wait_until 30 all_four_held
	local p
	for p in $(pgrep -f "$CX_BIN_DIR/cloudx-proxy"); do
		run -1 grep -a CANARY "/proc/$p/cmdline"
	done
	standin_release
	ec2proxy_release
	wait "$SSH_PID"
	SSH_PID=
}
