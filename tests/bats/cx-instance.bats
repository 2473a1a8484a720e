#!/usr/bin/env bats
# cx-instance against moto (SigV4 checking on) for EC2, the EC2 state proxy
# for pending/stopping phases, and the SSM stand-in for PingStatus.
load ../helpers/common
load ../helpers/moto
load ../helpers/ec2proxy
load ../helpers/standin

setup_file() {
	moto_start
	read -r AK SK < <(moto_user alice)
	read -r NOAK NOSK < <(moto_aws iam create-user --user-name bob >/dev/null &&
	    moto_aws iam create-access-key --user-name bob \
	    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
	export AK SK NOAK NOSK
	moto_auth on
	export MOTO_AK=$AK MOTO_SK=$SK MOTO_REGION=eu-west-1
	ec2proxy_start
	standin_start --moto "$MOTO_URL" --moto-key "$AK:$SK"
	# a pool of instances made in a few aws CLI calls (each costs ~1 s)
	local ids
	ids=$(moto_aws ec2 run-instances --image-id ami-12345678 --count 16 \
	    --instance-type t3.micro --query 'Instances[].InstanceId' --output text)
	read -ra all <<<"$ids"
	printf '%s\n' "${all[@]:0:8}" >"$BATS_FILE_TMPDIR/pool-running"
	printf '%s\n' "${all[@]:8:7}" >"$BATS_FILE_TMPDIR/pool-stopped"
	printf '%s\n' "${all[15]}" >"$BATS_FILE_TMPDIR/pool-terminated"
	moto_aws ec2 stop-instances --instance-ids "${all[@]:8:7}" >/dev/null
	moto_aws ec2 terminate-instances --instance-ids "${all[15]}" >/dev/null
}

teardown_file() {
	standin_stop
	ec2proxy_stop
	moto_stop
}

# minstance STATE [TAGS]: an instance of the pool in that state (each test
# takes its own), or a new one when tags are wanted.  moto's own view, not
# through the state proxy.
minstance() {
	local f="$BATS_FILE_TMPDIR/pool-$1" id
	if [ -z "${2:-}" ] && [ -s "$f" ]; then
		id=$(head -n1 "$f")
		sed -i 1d "$f"
		echo "$id"
		return
	fi
	AWS_ENDPOINT_URL_EC2="$MOTO_URL" moto_instance "$@"
}
mstate() {
	AWS_ENDPOINT_URL_EC2="$MOTO_URL" moto_state "$1"
}

setup() {
	common_setup
	export AWS_ENDPOINT_URL="$MOTO_URL"
	export AWS_ENDPOINT_URL_EC2="$EC2PROXY_URL"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
	export AWS_REGION=eu-west-1
	ec2proxy_reset
	standin_reset
}

@test "cx-instance: a stopped instance is started and waited for until Online" {
	id=$(minstance stopped)
	echo '{"Keep":{"me":1}}' >"$BATS_TEST_TMPDIR/in.json"
	run -0 --separate-stderr cx cx-instance --poll-ms 50 ensure "$id" \
	    <"$BATS_TEST_TMPDIR/in.json"
	assert_equal "$(jq -r .Instance.State <<<"$output")" running
	assert_equal "$(jq -r .Instance.PingStatus <<<"$output")" Online
	assert_equal "$(jq -r .Instance.Started <<<"$output")" true
	assert_equal "$(jq -r .Instance.InstanceId <<<"$output")" "$id"
	assert_equal "$(jq -r .Instance.AvailabilityZone <<<"$output")" eu-west-1a
	assert_equal "$(jq -c .Keep <<<"$output")" '{"me":1}'
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-1
	[[ "$stderr" == *"cx-instance: Starting instance $id (was stopped)..."* ]]
	assert_equal "$(mstate "$id")" running
}

@test "cx-instance: the SSM online delay is waited out with progress lines" {
	id=$(minstance running)
	standin_config '{"online_delay": 1.0}'
	run -0 --separate-stderr cx cx-instance --poll-ms 100 ensure "$id"
	assert_equal "$(jq -r .Instance.PingStatus <<<"$output")" Online
	assert_equal "$(jq -r .Instance.Started <<<"$output")" false
	[[ "$stderr" == *"cx-instance: Waiting for SSM connectivity... 0s"* ]]
	jq -e '.Instance.WaitedSeconds >= 0.9' <<<"$output"
}

@test "cx-instance: stopping is waited out, then the instance is started" {
	id=$(minstance stopped)
	ec2proxy_script "$id" stopping stopping
	run -0 --separate-stderr cx cx-instance --poll-ms 50 ensure "$id"
	assert_equal "$(jq -r .Instance.State <<<"$output")" running
	[[ "$stderr" == *"Waiting for instance $id to stop (was stopping)..."* ]]
	[[ "$stderr" == *"Starting instance $id (was stopped)..."* ]]
	# StartInstances only after EC2 said stopped
	run -0 ec2proxy_actions
	assert_line --index 0 DescribeInstances:stopping
	assert_line --index 1 DescribeInstances:stopping
	assert_line --index 2 DescribeInstances
	assert_line --index 3 StartInstances
}

@test "cx-instance: pending is waited out without starting" {
	id=$(minstance running)
	ec2proxy_script "$id" pending pending pending
	run -0 --separate-stderr cx cx-instance --poll-ms 50 ensure "$id"
	[[ "$stderr" == *"Waiting for instance $id to be running (pending)..."* ]]
	assert_equal "$(jq -r .Instance.Started <<<"$output")" false
	run -0 ec2proxy_actions
	refute_line StartInstances
}

@test "cx-instance: a terminated instance is exit 4 and never started" {
	id=$(minstance terminated)
	run -4 --separate-stderr cx cx-instance --poll-ms 50 ensure "$id"
	assert_equal "$output" ""
	[[ "$stderr" == *"instance '$id' is terminated"* ]]
	run -0 ec2proxy_actions
	refute_line StartInstances
	ec2proxy_script "$id" shutting-down
	run -4 --separate-stderr cx cx-instance ensure "$id"
	[[ "$stderr" == *"is shutting-down"* ]]
}

@test "cx-instance: an unknown instance is exit 2 naming the region" {
	run -2 --separate-stderr cx cx-instance ensure i-0123456789abcdef0
	assert_equal "$output" ""
	assert_equal "$stderr" "cx-instance: instance 'i-0123456789abcdef0' not found in region 'eu-west-1'"
}

@test "cx-instance: the wrong region is exit 2 and says which region was asked" {
	id=$(minstance running)
	run -2 --separate-stderr cx cx-instance --region us-east-1 status "$id"
	[[ "$stderr" == *"instance '$id' not found in region 'us-east-1'"* ]]
}

@test "cx-instance: EC2 access denied is exit 1" {
	id=$(minstance stopped)
	export AWS_ACCESS_KEY_ID="$NOAK" AWS_SECRET_ACCESS_KEY="$NOSK"
	run -1 --separate-stderr cx cx-instance ensure "$id"
	[[ "$stderr" == *"cannot describe instance '$id'"*AccessDenied* ]]
	assert_equal "$(mstate "$id")" stopped
}

@test "cx-instance: SSM access denied is exit 1, not 'offline' (no start)" {
	id=$(minstance stopped)
	standin_config '{"deny_actions": ["ssm:DescribeInstanceInformation"]}'
	# EC2 says running, so SSM is asked; denied must not lead to a start
	ec2proxy_script "$id" running
	run -1 --separate-stderr cx cx-instance --poll-ms 50 ensure "$id"
	[[ "$stderr" == *"cannot get the SSM status of '$id'"*AccessDenied* ]]
	run -0 ec2proxy_actions
	refute_line StartInstances
	assert_equal "$(mstate "$id")" stopped
}

@test "cx-instance: the deadline ends the wait with exit 5 and a clear line" {
	id=$(minstance running)
	standin_config "{\"ping_status\": {\"$id\": \"ConnectionLost\"}}"
	run -5 --separate-stderr cx cx-instance --poll-ms 100 --timeout 1 ensure "$id"
	assert_equal "$output" ""
	[[ "$stderr" == *"gave up after 1s: the SSM agent of '$id' is not online (ConnectionLost)"* ]]
}

@test "cx-instance: throttling that never ends is exit 111" {
	id=$(minstance running)
	standin_config '{"throttle_next": 1000, "fault_actions": ["ssm:DescribeInstanceInformation"]}'
	AWS_MAX_ATTEMPTS=1 run -111 --separate-stderr cx cx-instance --poll-ms 100 --timeout 1 ensure "$id"
	[[ "$stderr" == *"throttled"* ]]
}

@test "cx-instance: wait does not start a stopped instance" {
	id=$(minstance stopped)
	run -4 --separate-stderr cx cx-instance wait "$id"
	[[ "$stderr" == *"is stopped"* ]]
	assert_equal "$(mstate "$id")" stopped
}

@test "cx-instance: status looks and changes nothing; start starts without waiting" {
	id=$(minstance stopped)
	run -0 --separate-stderr cx cx-instance status "$id"
	assert_equal "$(jq -r .Instance.State <<<"$output")" stopped
	assert_equal "$(mstate "$id")" stopped
	run -0 --separate-stderr cx cx-instance start "$id"
	assert_equal "$(jq -r .Instance.Started <<<"$output")" true
	assert_equal "$(mstate "$id")" running
}

@test "cx-instance: tags come out as an object" {
	id=$(minstance running '[{Key=Name,Value=cloudx-dev-box},{Key=Owner,Value=alice}]')
	run -0 --separate-stderr cx cx-instance status "$id"
	assert_equal "$(jq -c .Instance.Tags <<<"$output")" '{"Name":"cloudx-dev-box","Owner":"alice"}'
}

@test "cx-instance: an invalid instance id is exit 100 before any AWS call" {
	run -100 --separate-stderr cx cx-instance ensure i-12345
	[[ "$stderr" == *"invalid EC2 instance id 'i-12345'"* ]]
	run -0 ec2proxy_actions
	assert_output ""
}

@test "cx-instance: usage errors, --help and --version" {
	run -0 cx cx-instance --help
	assert_output --partial "usage: cx-instance"
	run -100 --separate-stderr cx cx-instance bogus i-12345678
	run -100 --separate-stderr cx cx-instance
	run -100 --separate-stderr cx cx-instance --timeout 0 ensure i-12345678
	run -100 --separate-stderr cx cx-instance --nope
	run -0 cx cx-instance --version
	assert_output --regexp '^cx-instance [0-9]'
	run -100 --separate-stderr cx cx-instance ensure i-12345678 <<<'{"a": 1} junk'
}

@test "cx-instance: the instance id can come from the input's Instance" {
	id=$(minstance running)
	run -0 --separate-stderr cx cx-instance ensure <<<"{\"Instance\":{\"InstanceId\":\"$id\"}}"
	assert_equal "$(jq -r .Instance.PingStatus <<<"$output")" Online
}

@test "cx-instance: -vv never shows the secret; a failed stdout write is exit 111" {
	id=$(minstance running)
	in=$(jq -cn --arg a "$AK" --arg s "$SK" '{Version:1, AccessKeyId:$a, SecretAccessKey:$s, Region:"eu-west-1"}')
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run -0 --separate-stderr cx cx-instance -vv status "$id" <<<"$in"
	assert_equal "$(jq -r .SecretAccessKey <<<"$output")" "$SK"
	[[ "$stderr" == *"debug:"* ]]
	[[ "$stderr" != *"$SK"* ]]
	run -111 --separate-stderr bash -c "cx-instance status $id >/dev/full" <<<"$in"
	[[ "$stderr" == *"writing output failed"* ]]
}
