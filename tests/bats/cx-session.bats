#!/usr/bin/env bats
# cx-session: StartSession / ResumeSession as a stage, against the SSM
# stand-in; and cx-tunnel, which runs it for those calls, re-resolving
# credentials that expired in its context.

load ../helpers/common
load ../helpers/standin
load ../helpers/wsfault

AK=AKIDSESSIONTEST
SK=sessionSecretKey0123456789abcdefghijklmn
SIID=i-0a1b2c3d4e5f60718

setup_file() {
	export NO_PROXY=127.0.0.1,localhost
	unset AWS_ENDPOINT_URL AWS_PROFILE AWS_ACCESS_KEY_ID \
	    AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
}

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
}

teardown() {
	wsfix_stop
}

# a stand-in that knows $AK and has $SIID running; the context in $T/ctx
session_fix() {
	standin_start --keys "$AK:$SK" --set \
	    "{\"static_instances\":{\"$SIID\":{\"state\":\"running\"}},\"pace_ms\":0}" ||
	    fail "stand-in did not start"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$SIID" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,Region:"eu-west-1",
	      Instance:{InstanceId:$iid},Extra:"kept"}' >"$T/ctx"
}

@test "cx-session start: the context comes back with .Session, the stand-in has it" {
	session_fix
	run --separate-stderr cx cx-session start <"$T/ctx"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	local sid
	sid=$(jq -r .Session.SessionId <<<"$output")
	[ -n "$sid" ] && [ "$sid" != null ]
	jq -e '.Session.TokenValue != null and (.Session.StreamUrl | startswith("ws")) and
	    .Extra == "kept" and .Instance.InstanceId == "'"$SIID"'" and
	    .AccessKeyId == "'"$AK"'"' <<<"$output" >/dev/null || fail "$output"
	standin_state | jq -e --arg s "$sid" '.sessions[$s] |
	    .Target == "'"$SIID"'" and .DocumentName == "AWS-StartSSHSession" and
	    (.PortNumber | tostring) == "22"' >/dev/null || fail "$(standin_state | jq -c .sessions)"
	# another port, from the command line
	run --separate-stderr cx cx-session start "$SIID" 2222 <"$T/ctx"
	[ "$status" -eq 0 ]
	sid=$(jq -r .Session.SessionId <<<"$output")
	standin_state | jq -e --arg s "$sid" '(.sessions[$s].PortNumber | tostring) == "2222"' >/dev/null
}

@test "cx-session resume: a new token for the same session" {
	session_fix
	cx cx-session start <"$T/ctx" >"$T/started"
	run --separate-stderr cx cx-session resume <"$T/started"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(jq -r .Session.SessionId <<<"$output")" = "$(jq -r .Session.SessionId "$T/started")" ]
	[ "$(jq -r .Session.TokenValue <<<"$output")" != "$(jq -r .Session.TokenValue "$T/started")" ]
	[ "$(standin_state | jq '[.sessions[].resumes] | add')" -eq 1 ]
}

@test "cx-session: bad input and unknown sessions get one line and their status" {
	session_fix
	run --separate-stderr cx cx-session resume <"$T/ctx"
	[ "$status" -eq 100 ]
	[ "$stderr" = "cx-session: no 'Session' in the context to resume" ]
	run --separate-stderr cx cx-session stop <"$T/ctx"
	[ "$status" -eq 100 ]
	[[ "$stderr" == *"the command is start or resume"* ]]
	jq '. + {Session:{SessionId:"nobody-0123456789abcdef",TokenValue:"t",StreamUrl:"ws://127.0.0.1:1/x"}}' \
	    "$T/ctx" >"$T/gone"
	run --separate-stderr cx cx-session resume <"$T/gone"
	[ "$status" -eq 6 ] || fail "exit $status: $stderr"
	run --separate-stderr cx cx-session start <<<'not json'
	[ "$status" -eq 100 ]
	# an instance SSM does not know: TargetNotConnected until the deadline
	run --separate-stderr cx cx-session -d 1500 start i-0ffffffffffffffff <"$T/ctx"
	[ "$status" -eq 5 ] || fail "exit $status: $stderr"
	[[ "$stderr" == *"TargetNotConnected"* ]]
	[ -z "$output" ]
}

@test "cx-session: expired credentials in the context are resolved again from its profile" {
	session_fix
	mkdir -p "$HOME/.aws"
	printf '[work]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" \
	    >"$HOME/.aws/credentials"
	chmod 600 "$HOME/.aws/credentials"
	jq '. + {AccessKeyId:"ASIAEXPIRED",SecretAccessKey:"old",SessionToken:"oldtoken",
	    Expiration:"2020-01-01T00:00:00Z",Profile:"work"}' "$T/ctx" >"$T/expired"
	run --separate-stderr cx cx-session start <"$T/expired"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	jq -e '.AccessKeyId == "'"$AK"'" and .Expiration == null and .SessionToken == null and
	    .Session.SessionId != null' <<<"$output" >/dev/null || fail "$output"
	[[ "$stderr" == *"expired at 2020-01-01T00:00:00Z: resolving them again for profile 'work'"* ]]
	# without a profile to go back to, that is a login problem
	jq 'del(.Profile)' "$T/expired" >"$T/expired2"
	run --separate-stderr cx cx-session start <"$T/expired2"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"expired"* ]]
}

@test "cx-tunnel: a context with expired keys and a profile: fresh keys sign the upgrade, resumes work" {
	wsfix 600000 '{"drop_after_bytes":200000,"require_ws_sigv4":true}'
	mkdir -p "$HOME/.aws"
	printf '[fault]\naws_access_key_id = AKIAWSFAULT\naws_secret_access_key = ws-fault-secret\n' \
	    >"$HOME/.aws/credentials"
	chmod 600 "$HOME/.aws/credentials"
	jq '. + {AccessKeyId:"ASIAEXPIRED",SecretAccessKey:"old",
	    Expiration:"2020-01-01T00:00:00Z",Profile:"fault"}' "$T/ctx.json" >"$T/ctx2"
	mv "$T/ctx2" "$T/ctx.json"
	tunnel 30 -v
	[ "$st" -eq 0 ] || fail "exit $st: $err"
	cmp "$T/in" "$T/out" || fail "bytes differ"
	[[ "$err" == *"running "*"cx-session start"* ]] || fail "no helper start: $err"
	[[ "$err" == *"running "*"cx-session resume"* ]] || fail "no helper resume: $err"
	[ "$(standin_state | jq '[.sessions[].resumes] | add')" -ge 1 ]
	[[ "$err" != *"ws-fault-secret"* && "$err" != *"ASIAEXPIRED"* ]]
}
