#!/usr/bin/env bats
# cx-session.exe (make windows) under Wine against the SSM stand-in: a
# session started for the context on stdin (signed StartSession), the
# stand-in has it; a resume gets a new token for the same session.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/standin

AK=AKIDSESSIONTEST
SK=sessionSecretKey0123456789abcdefghijklmn
SIID=i-0a1b2c3d4e5f60718

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-session.exe" ] || skip "no $CX_BIN/cx-session.exe (make windows)"
	export NO_PROXY=127.0.0.1,localhost
}

teardown_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	standin_start --keys "$AK:$SK" --set \
	    "{\"static_instances\":{\"$SIID\":{\"state\":\"running\"}},\"pace_ms\":0}" ||
	    fail "stand-in did not start"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$SIID" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,Region:"eu-west-1",
	      Instance:{InstanceId:$iid},Extra:"kept"}' >"$T/ctx"
}

teardown() {
	standin_stop
}

wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

@test "cx-session.exe start: the context comes back with .Session, the stand-in has it; resume" {
	local sid tok
	run --separate-stderr wcx cx-session start <"$T/ctx"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	sid=$(jq -r .Session.SessionId <<<"$output")
	tok=$(jq -r .Session.TokenValue <<<"$output")
	[ -n "$sid" ] && [ "$sid" != null ]
	jq -e '.Session.TokenValue != null and (.Session.StreamUrl | startswith("ws")) and
	    .Extra == "kept" and .Instance.InstanceId == "'"$SIID"'"' <<<"$output" >/dev/null ||
	    fail "$output"
	standin_state | jq -e --arg s "$sid" '.sessions[$s] |
	    .Target == "'"$SIID"'" and .DocumentName == "AWS-StartSSHSession" and
	    (.PortNumber | tostring) == "22"' >/dev/null || fail "$(standin_state | jq -c .sessions)"
	printf '%s' "$output" >"$T/started"
	run --separate-stderr wcx cx-session resume <"$T/started"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	assert_equal "$(jq -r .Session.SessionId <<<"$output")" "$sid"
	[ "$(jq -r .Session.TokenValue <<<"$output")" != "$tok" ]
}
