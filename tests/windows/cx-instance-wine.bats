#!/usr/bin/env bats
# cx-instance.exe (make windows) under Wine against moto_server (EC2), the
# state proxy and the SSM stand-in: a stopped instance started and waited
# for until Online (the EC2 and SSM calls signed over Winsock, the waiting
# on the Windows clock), and the exit codes of the Linux build.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/moto
load ../helpers/ec2proxy
load ../helpers/standin

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-instance.exe" ] || skip "no $CX_BIN/cx-instance.exe (make windows)"
	moto_start
	read -r AK SK < <(moto_user alice)
	export AK SK
	moto_auth on
	export MOTO_AK=$AK MOTO_SK=$SK MOTO_REGION=eu-west-1
	ec2proxy_start
	standin_start --moto "$MOTO_URL" --moto-key "$AK:$SK"
}

teardown_file() {
	standin_stop
	ec2proxy_stop
	moto_stop
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	export AWS_ENDPOINT_URL="$MOTO_URL"
	export AWS_ENDPOINT_URL_EC2="$EC2PROXY_URL"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
	export AWS_REGION=eu-west-1
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	ec2proxy_reset
	standin_reset
}

wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

@test "cx-instance.exe: a stopped instance is started and waited for until Online" {
	local id
	id=$(AWS_ENDPOINT_URL_EC2="$MOTO_URL" moto_instance stopped)
	run -0 --separate-stderr wcx cx-instance --poll-ms 50 ensure "$id" </dev/null
	assert_equal "$(jq -r .Instance.State <<<"$output")" running
	assert_equal "$(jq -r .Instance.PingStatus <<<"$output")" Online
	assert_equal "$(jq -r .Instance.Started <<<"$output")" true
	assert_equal "$(jq -r .Instance.InstanceId <<<"$output")" "$id"
	[[ "$stderr" == *"cx-instance: Starting instance $id (was stopped)..."* ]]
	assert_equal "$(AWS_ENDPOINT_URL_EC2="$MOTO_URL" moto_state "$id")" running
}

@test "cx-instance.exe: an unknown instance is exit 2 naming the region" {
	run -2 --separate-stderr wcx cx-instance ensure i-0123456789abcdef0 </dev/null
	assert_equal "$output" ""
	assert_equal "$stderr" "cx-instance: instance 'i-0123456789abcdef0' not found in region 'eu-west-1'"
}
