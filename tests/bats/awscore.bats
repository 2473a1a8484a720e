#!/usr/bin/env bats
# lib/aws/sigv4 + lib/aws/http + lib/aws/aws against moto_server with signature checking
# on, and against tests/tools/faultserver.py (503s, throttling, a hang).
# The assertions live in tests/unit/test_aws_live.c; this file sets up the
# servers, runs it, and checks the request counts from the servers' side.
load ../helpers/common
load ../helpers/moto

setup_file() {
	moto_start
	export MOTO_REGION=eu-west-1
	# auth off: create the user, a role it may assume, an instance
	read -r AK SK < <(moto_user alice)
	export CX_TEST_AK=$AK CX_TEST_SK=$SK CX_TEST_USER=alice
	export CX_TEST_ROLE_ARN
	CX_TEST_ROLE_ARN=$(moto_aws iam create-role --role-name cxrole \
	    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}' \
	    --query Role.Arn --output text)
	export CX_TEST_INSTANCE
	CX_TEST_INSTANCE=$(moto_instance running '[{Key=cloudxuser,Value=alice}]')
	moto_auth on
	export CX_TEST_MOTO_URL=$MOTO_URL CX_TEST_REGION=$MOTO_REGION

	FAULT_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/fault.XXXXXX")
	python3 "$BATS_TEST_DIRNAME/../tools/faultserver.py" \
	    "$FAULT_DIR/port" >"$FAULT_DIR/log" 2>&1 &
	export FAULT_PID=$!
	wait_until 10 test -s "$FAULT_DIR/port"
	export CX_TEST_FAULT_URL="http://127.0.0.1:$(cat "$FAULT_DIR/port")"
}

teardown_file() {
	stop_pid "${FAULT_PID:-}"
	moto_stop
}

setup() {
	common_setup
	# common_setup clears the AWS variables; the test program needs none
}

fault_count() {
	curl -sf "$CX_TEST_FAULT_URL/_count/$1" | jq -r .count
}

@test "aws: live calls against moto (auth on) and the fault server" {
	run --separate-stderr cx "$CX_BIN_DIR/tests/unit/test_aws_live"
	echo "$output"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	# every test ran (none skipped) and passed
	[[ "$output$stderr" == *"PASSED  ] 8 test(s)"* ]]
	[[ "$output$stderr" == *"PASSED  ] 14 test(s)"* ]]
	# server-side counts: 503 twice then 200 = 3; throttling stops at 4
	[ "$(fault_count s503x2)" -eq 3 ]
	[ "$(fault_count throttle)" -eq 4 ]
	[ "$(fault_count hang)" -eq 2 ]
	[ "$(fault_count denied)" -eq 1 ]
}

@test "aws: -vv debug lines show the calls but never a secret" {
	export CX_TEST_VERBOSE=2
	run --separate-stderr cx "$CX_BIN_DIR/tests/unit/test_aws_live"
	[ "$status" -eq 0 ]
	# the debug lines are there: method, host, action, status, attempt
	[[ "$stderr" == *"aws: POST 127.0.0.1:"*" GetCallerIdentity -> 200 "*"(attempt 1/3, "* ]]
	[[ "$stderr" == *"AssumeRole -> 200"* ]]
	[[ "$stderr" == *"AmazonSSM.GetCommandInvocation -> 400 InvalidCommandId"* ]]
	[[ "$stderr" == *"-> 503 ServiceUnavailable request-id req-ServiceUnavailable (attempt 1/3"* ]]
	[[ "$stderr" == *"retrying in"* ]]
	# and no secret key, session token, bearer token or signature
	[[ "$output$stderr" != *"$CX_TEST_SK"* ]]
	[[ "$output$stderr" != *"FQoGZXIvYXdzEXAMPLETOKEN"* ]]
	[[ "$output$stderr" != *"SECRET"* ]]
	[[ "$output$stderr" != *"Signature="* ]]
	[[ "$output$stderr" != *"Canonical String"* ]]
}

@test "aws: the live program skips cleanly without a server" {
	run -0 env -u CX_TEST_MOTO_URL "$CX_BIN_DIR/tests/unit/test_aws_live"
	assert_output --partial "1..0 # SKIP"
}
