#!/usr/bin/env bats
# The harness itself: the build exists and moto answers on loopback.
load ../helpers/common
load ../helpers/moto

setup_file() {
	moto_start
}

teardown_file() {
	moto_stop
}

setup() {
	common_setup
}

@test "moto_server answers on loopback and resets" {
	run -0 curl -sf -X POST "$MOTO_URL/moto-api/reset"
	assert_output --partial '"ok"'
	[[ "$MOTO_URL" == http://127.0.0.1:* ]]
}

@test "moto runs and stops an instance for the tests" {
	id=$(moto_instance stopped)
	[[ "$id" =~ ^i-[0-9a-f]{17}$ ]]
	run -0 moto_state "$id"
	assert_output stopped
}
