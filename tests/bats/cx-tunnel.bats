#!/usr/bin/env bats
# cx-tunnel end to end: the real ssh client, ProxyCommand running cx-tunnel,
# through the SSM stand-in (tests/standin), to a real loopback sshd that only
# accepts the key pushed by cx-pushkey.  Every fault switch of the stand-in
# has a test; transfers are checked byte for byte (SHA-256).

load ../helpers/common
load ../helpers/standin
load ../helpers/sshd
load ../helpers/tunnel

IID=i-0123456789abcdef0
ECHO_IID=i-0eeeeeeeeeeeeeeee
AK=AKIDTUNNELTEST
SK=tunnelSecretKey0123456789abcdefghijklmnop

setup_file() {
	tunnel_setup_file tunnel-test "$ECHO_IID"
	# the key reaches sshd only through EC2 Instance Connect
	cx-pushkey -k "$KEY.pub" -u "$SSHD_USER" <"$CTX" >"$D/push.json"
	head -c $((4 * 1024 * 1024)) /dev/urandom >"$D/small"
	head -c $((64 * 1024 * 1024)) /dev/urandom >"$D/big"
	export SMALL_SUM BIG_SUM
	SMALL_SUM=$(sha256sum <"$D/small" | cut -d' ' -f1)
	BIG_SUM=$(sha256sum <"$D/big" | cut -d' ' -f1)
}

teardown_file() {
	sshd_stop
	standin_stop
}

BASE='{"pace_ms":0,"drop_after_bytes":0,"duplicate_every":0,
"reorder_every":0,"corrupt_digest_every":0,"withhold_acks_ms":0,
"pause_after_bytes":0,"pause_ms":0,"channel_closed_hl112":false,
"unknown_message_every":0,"resume_new_url":false,"target_not_connected":0,
"deny_actions":[],"close_with_error":"","require_ws_sigv4":false}'

setup() {
	# a fresh stand-in state per test: sessions, keys and no faults
	tunnel_setup "$BASE"
}

# echo_start N: a TCP echo target for $ECHO_IID that closes after N bytes
echo_start() {
	python3 "$CX_ROOT/tests/standin/echo.py" --port-file "$T/echo.port" \
	    --close-after "$1" </dev/null >/dev/null 2>&1 3>&- &
	ECHO_PID=$!
	wait_until 10 test -s "$T/echo.port"
	standin_config "{\"targets\":{\"$ECHO_IID\":\"127.0.0.1:$(cat "$T/echo.port")\"}}"
}

# hold_stdin FILE: fd 7 = a FIFO holding FILE's bytes that never reaches
# EOF (the session must end from the far side)
hold_stdin() {
	mkfifo "$T/fifo"
	exec 7<>"$T/fifo"
	cat "$1" >&7
}

# up/down transfer of the 4 MiB file, checked by SHA-256 on both sides
roundtrip() {
	local up down
	up=$(tssh 'sha256sum' <"$BATS_FILE_TMPDIR/small" | cut -d' ' -f1)
	[[ "$up" == "$SMALL_SUM" ]] || { echo "upload: $up"; cat "$ERRF"; return 1; }
	down=$(tssh "cat $BATS_FILE_TMPDIR/small" | sha256sum | cut -d' ' -f1)
	[[ "$down" == "$SMALL_SUM" ]] || { echo "download: $down"; cat "$ERRF"; return 1; }
	tunnel_gone
}

@test "cx-tunnel: remote command output is exact, ssh ends with the session, nothing left behind" {
	run -0 --separate-stderr tssh 'printf "line one\nline two\n"; printf "\001\000\377" | od -An -tx1; exit 0'
	assert_output "$(printf 'line one\nline two\n 01 00 ff')"
	tunnel_gone
	run -3 tssh 'exit 3'
	tunnel_gone
	# graceful end: the agent got the TerminateSession flag or closed
	# itself; our close frame went out
	standin_state | jq -e '[.sessions[] | select(.client_close_frame)] | length >= 1' >/dev/null
	[[ ! -s "$ERRF" ]] || { cat "$ERRF"; false; }
}

@test "cx-tunnel: scp of a 64 MiB random file up and down keeps its SHA-256" {
	tscp "$BATS_FILE_TMPDIR/big" "$SSHD_USER@$IID:$T/up"
	tunnel_gone
	[[ "$(sha256sum <"$T/up" | cut -d' ' -f1)" == "$BIG_SUM" ]]
	tscp "$SSHD_USER@$IID:$T/up" "$T/down"
	tunnel_gone
	[[ "$(sha256sum <"$T/down" | cut -d' ' -f1)" == "$BIG_SUM" ]]
}

@test "cx-tunnel: a websocket drop in the middle of a 64 MiB upload is resumed without losing a byte" {
	standin_config '{"drop_after_bytes":30000000,"resume_new_url":true}'
	tscp "$BATS_FILE_TMPDIR/big" "$SSHD_USER@$IID:$T/up"
	tunnel_gone
	[[ "$(sha256sum <"$T/up" | cut -d' ' -f1)" == "$BIG_SUM" ]]
	s=$(standin_session)
	jq -c '{resumes, client_ids, connects: [.connects[].query]}' <<<"$s"
	jq -e '.resumes >= 1 and (.client_ids | unique | length) == 1 and (.connects | length) >= 2' <<<"$s" >/dev/null
	# the reconnect went to the StreamUrl ResumeSession returned
	jq -e '.connects[-1].query | test("cell-number")' <<<"$s" >/dev/null
	grep -q 'resum' "$ERRF"
}

@test "cx-tunnel: websocket dropped after N bytes (resumable), both directions" {
	standin_config '{"drop_after_bytes":1000000}'
	roundtrip
	standin_state | jq -e '[.sessions[] | .resumes] | add >= 2' >/dev/null
}

@test "cx-tunnel: duplicated messages are re-acked and dropped" {
	standin_config '{"duplicate_every":7}'
	roundtrip
	standin_session | jq -e '.stats.duplicates_sent > 0' >/dev/null
}

@test "cx-tunnel: reordered messages are delivered in order" {
	standin_config '{"reorder_every":5}'
	roundtrip
}

@test "cx-tunnel: a corrupted digest is dropped unacked and retransmitted" {
	standin_config '{"corrupt_digest_every":1500}'
	roundtrip
	standin_state | jq -e '[.sessions[] | .stats.corrupted_sent] | add > 0' >/dev/null
}

@test "cx-tunnel: acks withheld for a while: retransmission recovers" {
	standin_config '{"withhold_acks_ms":1500}'
	roundtrip
}

@test "cx-tunnel: pause_publication / start_publication are honoured" {
	standin_config '{"pause_after_bytes":500000,"pause_ms":800}'
	roundtrip
}

@test "cx-tunnel: the 112-byte NUL-padded channel_closed ends the session cleanly" {
	standin_config '{"channel_closed_hl112":true}'
	# through ssh (either end may finish first) ...
	run -0 tssh 'echo done'
	assert_output done
	tunnel_gone
	# ... and with the far side ending first: exit 0, output complete
	echo_start 5
	printf 'hello' >"$T/in"
	hold_stdin "$T/in"
	run -0 --separate-stderr bash -c "cx-tunnel -v --context '$CTX' $ECHO_IID <&7"
	exec 7>&-
	stop_pid "$ECHO_PID"
	assert_output hello
	[[ "$stderr" == *"session closed by the service"* ]]
}

@test "cx-tunnel: unknown message types are ignored" {
	standin_config '{"unknown_message_every":3}'
	roundtrip
}

@test "cx-tunnel: TargetNotConnected for the first StartSessions is retried, saying so" {
	standin_config '{"target_not_connected":2}'
	run -0 tssh 'echo up'
	assert_output up
	grep -q 'TargetNotConnected' "$ERRF"
	tunnel_gone
}

@test "cx-tunnel: 1 ms pacing per 1024-byte chunk on the agent side" {
	standin_config '{"pace_ms":1}'
	head -c 1000000 "$BATS_FILE_TMPDIR/small" >"$T/m"
	want=$(sha256sum <"$T/m" | cut -d' ' -f1)
	[[ "$(TOPTS="--pacing-ms 1" tssh sha256sum <"$T/m" | cut -d' ' -f1)" == "$want" ]]
	[[ "$(tssh "cat $T/m" | sha256sum | cut -d' ' -f1)" == "$want" ]]
	tunnel_gone
}

# at the agent's pace (one 1 KiB message a millisecond) the acks of a
# download go several to a send (the stand-in counts them per read of its
# socket), yet every message is acked, once, before the stand-in resends it
@test "cx-tunnel: a paced download is acked in batches, every message once, in time" {
	standin_config '{"pace_ms":1}'
	head -c 1500000 "$BATS_FILE_TMPDIR/small" >"$T/m"
	want=$(sha256sum <"$T/m" | cut -d' ' -f1)
	[[ "$(tssh "cat $T/m" | sha256sum | cut -d' ' -f1)" == "$want" ]]
	tunnel_gone
	s=$(standin_session)
	jq -c '.stats | {out_data_msgs, acks_received, ack_reads, max_acks_per_read,
	    max_ack_delay_ms, out_retransmissions, acks_unknown}' <<<"$s"
	# all acked, none twice but for a resend
	jq -e '.unacked == 0 and .stats.acks_received >= .stats.out_data_msgs and
	    (.stats.acks_unknown // 0) <= .stats.out_retransmissions' <<<"$s" >/dev/null
	# in time: the stand-in resends at its RTO, as the agent does, and
	# does so rarely (a busy machine may delay a few acks); no ack comes
	# as late as the agent's first resend timeout, 200 ms (cx-tunnel holds
	# them 48 ms at most; the rest is both sides' scheduling)
	jq -e '.stats.out_retransmissions * 50 <= .stats.out_data_msgs and
	    .stats.max_ack_delay_ms < 200' <<<"$s" >/dev/null
	# several acks per send: one send per message would give about 1
	jq -e '.stats.acks_received >= 4 * .stats.ack_reads and
	    .stats.max_acks_per_read >= 8' <<<"$s" >/dev/null
}

# short messages (typing, its echo, a line of output) are never held back
# for a batch, even at the agent's pace; a bulk download is
@test "cx-tunnel: short messages never wait for a batch, a paced bulk download does" {
	standin_config '{"pace_ms":1}'
	TOPTS=-v
	run -0 tssh 'for i in $(seq 1 30); do echo "line $i"; sleep 0.01; done'
	assert_line "line 30"
	tunnel_gone
	grep -E ' [0-9]+ wakeups, 0 of them followed by a batch wait' "$ERRF" ||
	    { cat "$ERRF"; false; }
	: >"$ERRF"
	head -c 200000 "$BATS_FILE_TMPDIR/small" >"$T/m"
	tssh "cat $T/m" | cmp - "$T/m"
	tunnel_gone
	grep -E ' [0-9]+ wakeups, [1-9][0-9]* of them followed by a batch wait' "$ERRF" ||
	    { cat "$ERRF"; false; }
}

@test "cx-tunnel: the websocket upgrade is SigV4-signed for ssmmessages; --no-sign turns it off" {
	standin_config '{"require_ws_sigv4":true}'
	run -0 tssh 'echo signed'
	assert_output signed
	standin_session | jq -e '.connects[0].headers.Authorization | test("/ssmmessages/aws4_request")' >/dev/null
	run -1 cx cx-tunnel --no-sign --context "$CTX" </dev/null
	assert_output --partial 'HTTP 403'
}

@test "cx-tunnel: binary-safe both ways: a lone newline stays a newline" {
	echo_start 257
	{ printf '\n'; python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))'; } >"$T/in"
	hold_stdin "$T/in"
	run -0 --separate-stderr bash -c "cx-tunnel --context '$CTX' $ECHO_IID <&7 >'$T/out'"
	exec 7>&-
	stop_pid "$ECHO_PID"
	cmp "$T/in" "$T/out"
}

@test "cx-tunnel: secrets stay out of argv, environ and -vv stderr; a session from the context is used" {
	# a session the driver started already: StartSession by hand
	sess=$(curl -sf --noproxy '*' -X POST "$STANDIN_URL/" \
	    -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: AmazonSSM.StartSession' \
	    --data "{\"Target\":\"$IID\",\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":{\"portNumber\":[\"22\"]}}")
	token=$(jq -r .TokenValue <<<"$sess")
	[[ -n "$token" && "$token" != null ]]
	jq --argjson s "$sess" '. + {Session: $s}' "$CTX" >"$T/ctx2.json"
	CTX="$T/ctx2.json" TOPTS=-vv tssh 'sleep 2; echo ok' >"$T/out" &
	ssh_pid=$!
	wait_until 10 test -s "$PIDF"
	pid=$(cat "$PIDF")
	wait_until 10 grep -q 'handshake complete' "$ERRF"
	tr '\0' '\n' <"/proc/$pid/cmdline" >"$T/cmdline"
	tr '\0' '\n' <"/proc/$pid/environ" >"$T/environ"
	wait "$ssh_pid"
	[[ "$(cat "$T/out")" == ok ]]
	! grep -qF -- "$SK" "$T/cmdline" "$T/environ" "$ERRF"
	! grep -qF -- "$token" "$T/cmdline" "$T/environ" "$ERRF"
	grep -q -- '--context' "$T/cmdline"
	# no second StartSession: the context's session was used
	standin_state | jq -e '[.sessions[]] | length == 1' >/dev/null
	tunnel_gone
}

@test "cx-tunnel: exit status: refused (1), deadline (5), closed with error (6), not resumable (6)" {
	standin_config '{"deny_actions":["ssm:StartSession"]}'
	run -1 cx cx-tunnel --context "$CTX" </dev/null
	assert_output --partial 'AccessDenied'
	standin_config '{"deny_actions":[],"target_not_connected":1000}'
	run -5 cx cx-tunnel --deadline-ms 1200 --context "$CTX" </dev/null
	assert_output --partial 'TargetNotConnected'
	standin_config '{"target_not_connected":0,"close_with_error":"Session ended by policy"}'
	echo_start 3
	printf 'abc' >"$T/in"
	hold_stdin "$T/in"
	run -6 --separate-stderr bash -c "cx-tunnel --context '$CTX' $ECHO_IID <&7"
	exec 7>&-
	stop_pid "$ECHO_PID"
	assert_output abc
	[[ "$stderr" == *"session closed: Session ended by policy"* ]]
	standin_config '{"close_with_error":"","drop_after_bytes":200000,"deny_actions":["ssm:ResumeSession"]}'
	run tssh 'cat '"$BATS_FILE_TMPDIR/small"
	wait_until 10 grep -q 'not resumable' "$ERRF"
	tunnel_gone
}

@test "cx-tunnel: usage and bad context exit 100; --help and --version exit 0" {
	run -100 cx cx-tunnel
	assert_output --partial 'no context'
	run -100 cx cx-tunnel --context-fd 3 3< <(printf 'not json')
	run -100 cx cx-tunnel --context "$T/missing.json"
	echo '{"Region":"eu-west-1"}' >"$T/noinst.json"
	run -100 cx cx-tunnel --context "$T/noinst.json"
	assert_output --partial 'no instance'
	run -100 cx cx-tunnel --bogus
	run -100 cx cx-tunnel a b c
	run -0 cx cx-tunnel --help
	assert_output --partial 'usage: cx-tunnel'
	run -0 cx cx-tunnel --version
}

@test "cx-tunnel: --plugin hands the session to session-manager-plugin with the answer in the environment" {
	mkdir -p "$T/bin"
	cat >"$T/bin/session-manager-plugin" <<PLUGIN
#!/bin/sh
if [ "\$1" = --version ]; then echo "\${FAKE_VERSION:-1.2.650.0}"; exit 0; fi
printf '%s\n' "\$@" >"$T/plugin.argv"
printf '%s' "\$AWS_SSM_START_SESSION_RESPONSE" >"$T/plugin.resp"
exit 0
PLUGIN
	chmod +x "$T/bin/session-manager-plugin"
	PATH="$T/bin:$PATH" run -0 cx cx-tunnel --plugin --context "$CTX"
	run -0 sed -n '1p;2p;3p' "$T/plugin.argv"
	assert_output "$(printf 'AWS_SSM_START_SESSION_RESPONSE\neu-west-1\nStartSession')"
	token=$(jq -r .TokenValue "$T/plugin.resp")
	[[ -n "$token" && "$token" != null ]]
	jq -e '.SessionId and .StreamUrl' "$T/plugin.resp" >/dev/null
	! grep -qF -- "$token" "$T/plugin.argv"
	grep -qF '"Target":"'"$IID"'"' "$T/plugin.argv"
	grep -qF "$STANDIN_URL" "$T/plugin.argv"
	# an old plugin would need the token in argv: refused
	rm -f "$T/plugin.argv"
	FAKE_VERSION=1.2.0.0 PATH="$T/bin:$PATH" run -6 cx cx-tunnel --plugin --context "$CTX"
	assert_output --partial 'too old'
	[[ ! -e "$T/plugin.argv" ]]
}

# start_session: StartSession by hand (as the driver may), answer on stdout
start_session() {
	curl -sf --noproxy '*' -X POST "$STANDIN_URL/" \
	    -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: AmazonSSM.StartSession' \
	    --data "{\"Target\":\"$IID\",\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":{\"portNumber\":[\"22\"]}}"
}

@test "cx-tunnel: wss:// over TLS checks the certificate against AWS_CA_BUNDLE" {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" \
	    -out "$T/tls.crt" -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	python3 "$CX_ROOT/tests/tools/tlsproxy.py" --cert "$T/tls.crt" \
	    --key "$T/tls.key" --target-port "$STANDIN_PORT" \
	    --port-file "$T/tls.port" </dev/null >/dev/null 2>&1 3>&- &
	tls_pid=$!
	wait_until 10 test -s "$T/tls.port"
	wss() {
		jq -c --arg p "$(cat "$T/tls.port")" \
		    '.StreamUrl |= sub("^ws://127.0.0.1:[0-9]+"; "wss://127.0.0.1:" + $p)'
	}
	jq --argjson s "$(start_session | wss)" '. + {Session: $s}' "$CTX" >"$T/ctx-tls.json"
	CTX="$T/ctx-tls.json" AWS_CA_BUNDLE="$T/tls.crt" run -0 tssh 'echo over-tls'
	assert_output over-tls
	tunnel_gone
	# a certificate nobody vouches for: refused
	jq --argjson s "$(start_session | wss)" '. + {Session: $s}' "$CTX" >"$T/ctx-tls.json"
	run -111 cx cx-tunnel --context "$T/ctx-tls.json" </dev/null
	assert_output --partial 'certificate'
	stop_pid "$tls_pid"
}
