#!/usr/bin/env bats
# End to end: setup --yes against moto + the SSM stand-in, then the real ssh
# through the generated config to a real sshd that accepts only keys pushed
# with EC2 Instance Connect.  Skipped until every stage program is built.
load ../helpers/common
load ../helpers/moto

setup_file() {
	export E2E_SKIP=
	for p in cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || E2E_SKIP="$p is not built yet"
	done
	[ -f "$CX_ROOT/tests/helpers/standin.bash" ] || E2E_SKIP="the SSM stand-in is not merged yet"
	[ -z "$E2E_SKIP" ] || return 0
	moto_start
	export HOME_E2E="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start
	moto_auth off
	read -r AK SK < <(moto_user cloudX-e2e-alice)
	export AK SK
	ID=$(moto_instance stopped '[{Key=Name,Value=cloudx-e2e-box}]')
	export ID
	SSHD_AUTHKEYS_CMD="$CX_ROOT/tests/tools/authkeys-as-ec2-user" sshd_start "$ID"
	export SSHD_PID SSHD_USER STANDIN_PID MOTO_PID
}

teardown_file() {
	if [ -z "${MOTO_PID:-}" ]; then return 0; fi
	[ -n "${HOME_E2E:-}" ] && ssh -F "$HOME_E2E/.ssh/config" \
	    -o "ControlPath=$HOME_E2E/.ssh/control/%r@%h:%p" -O exit cloudx-e2e-box >/dev/null 2>&1
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$E2E_SKIP" ] || skip "$E2E_SKIP"
	common_setup
	export HOME="$HOME_E2E"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
}

sshx() {	# ssh through the generated config, with this HOME's files
	ssh -F "$HOME/.ssh/config" -o "User=$SSHD_USER" -o BatchMode=yes \
	    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts" \
	    -o StrictHostKeyChecking=accept-new \
	    -o "ControlPath=$HOME/.ssh/control/%r@%h:%p" "$@"
}

@test "e2e: setup --yes, then ssh starts the instance, pushes the key, tunnels, runs the command" {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    run -0 --separate-stderr cloudx-proxy setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"Connect using: ssh cloudx-e2e-box"* ]]
	[ "$(moto_state "$ID")" = stopped ]
	run -0 --separate-stderr sshx cloudx-e2e-box 'echo hello from $(hostname)'
	assert_output "hello from $(hostname)"
	[[ "$stderr" == *"Starting instance"* ]]
	[[ "$stderr" == *"Starting session..."* ]]
	[ "$(moto_state "$ID")" = running ]
}

@test "e2e: scp works and a second connect reuses the ControlMaster" {
	echo payload >"$BATS_TEST_TMPDIR/f"
	run -0 sshx cloudx-e2e-box true
	n=$(standin_state | jq '.sessions | length')
	run -0 scp -F "$HOME/.ssh/config" -o "User=$SSHD_USER" -o BatchMode=yes \
	    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts" \
	    -o "ControlPath=$HOME/.ssh/control/%r@%h:%p" \
	    "$BATS_TEST_TMPDIR/f" "cloudx-e2e-box:$BATS_TEST_TMPDIR/g"
	[ "$(cat "$BATS_TEST_TMPDIR/g")" = payload ]
	run -0 sshx -O check cloudx-e2e-box
	[ "$(standin_state | jq '.sessions | length')" = "$n" ]
}

@test "e2e: failure paths end in one line and their exit code, nothing left behind" {
	# unknown instance
	run -2 --separate-stderr cloudx-proxy connect i-0000000000000000f --profile cloudX </dev/null
	assert_equal "${#stderr_lines[@]}" 2	# the Connecting line + one error
	# access denied
	moto_auth on
	mkdir -p "$HOME/.aws"
	printf '[bad]\naws_access_key_id = AKIAUNKNOWN\naws_secret_access_key = x\nregion = eu-west-1\n' >>"$HOME/.aws/credentials"
	run --separate-stderr cloudx-proxy connect "$ID" --profile bad </dev/null
	[ "$status" -eq 1 ]
	moto_auth off
	# no credentials
	run -3 --separate-stderr cloudx-proxy connect "$ID" --profile nosuch </dev/null
	run -1 pgrep -f "cx-(creds|instance|pushkey|tunnel)"
}
