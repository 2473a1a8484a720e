#!/usr/bin/env bats
# cx-tunnel.exe (make windows) under Wine as the ProxyCommand of the real
# Linux ssh, through the SSM stand-in to a real sshd on 127.0.0.1: the
# relay's stdin and stdout are then Wine pipes, read and written by the
# OS layer's pump threads (os.h, cx_stdio_pump).  Exact remote output,
# scp of 16 MiB both ways (SHA-256), a websocket drop mid-transfer resumed
# byte-exact.  Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/standin
load ../helpers/sshd

IID=i-0123456789abcdef0
AK=AKIDWINTUNNELTEST
SK=winTunnelSecretKey0123456789abcdefghijklm

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-tunnel.exe" ] || skip "no $CX_BIN/cx-tunnel.exe (make windows)"
	export NO_PROXY=127.0.0.1,localhost
	unset AWS_ENDPOINT_URL AWS_PROFILE AWS_ACCESS_KEY_ID \
	    AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	standin_start --keys "$AK:$SK" --set \
	    "{\"static_instances\":{\"$IID\":{\"state\":\"running\"}},\"key_ttl\":3600,\"pace_ms\":0}" ||
	    fail "stand-in did not start"
	sshd_start "$IID"
	D="$BATS_FILE_TMPDIR"
	export CTX="$D/ctx.json" KEY="$D/id" KH="$D/known_hosts"
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$IID" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,
	      Region:"eu-west-1",Instance:{InstanceId:$iid}}' >"$CTX"
	chmod 600 "$CTX"
	ssh-keygen -q -t ed25519 -N '' -C wine-tunnel -f "$KEY"
	sshd_known_hosts "$IID" >"$KH"
	head -c $((16 * 1024 * 1024)) /dev/urandom >"$D/big"
	export BIG_SUM
	BIG_SUM=$(sha256sum <"$D/big" | cut -d' ' -f1)
}

teardown_file() {
	sshd_stop
	standin_stop
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	standin_reset
	standin_config "{\"pace_ms\":0,\"drop_after_bytes\":0,\"resume_new_url\":false,\"targets\":{\"$IID\":\"127.0.0.1:$SSHD_PORT\"},\"sshd_instance\":\"$IID\"}"
	# the key reaches sshd only through EC2 Instance Connect
	"$CX_WINE" "$CX_BIN/cx-pushkey.exe" -k "Z:$KEY.pub" -u "$SSHD_USER" \
	    <"$CTX" >/dev/null || fail "cx-pushkey.exe failed"
	PIDF="$T/tunnel.pid"
	ERRF="$T/tunnel.err"
	: >"$ERRF"
}

# the ProxyCommand: Wine running cx-tunnel.exe with the context (a Windows
# path), its PID (Wine's loader, the same process) in $PIDF
wproxy() {
	echo "sh -c 'echo \$\$ >$PIDF; exec $CX_WINE $CX_ROOT/$CX_BIN/cx-tunnel.exe ${TOPTS:-} --context Z:$CTX %h %p 2>>$ERRF'"
}

# (bounded: a tunnel that cannot move its stdio would hang ssh)
wssh() {
	timeout 120 ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$KEY" \
	    -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
	    -o ProxyCommand="$(wproxy)" -l "$SSHD_USER" "$IID" "$@"
}

wscp() {
	timeout 300 scp -q -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$KEY" \
	    -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
	    -o ProxyCommand="$(wproxy)" "$@"
}

# the tunnel ssh started is gone (ssh does not wait for it)
tunnel_gone() {
	local pid
	pid=$(cat "$PIDF")
	[[ -n "$pid" ]] || return 1
	wait_until 20 bash -c "! kill -0 $pid"
}

@test "cx-tunnel.exe under Wine as ssh's ProxyCommand: remote output exact, exit codes, nothing left behind" {
	run -0 --separate-stderr wssh 'printf "line one\nline two\n"; printf "\001\000\377" | od -An -tx1; exit 0'
	assert_output "$(printf 'line one\nline two\n 01 00 ff')"
	tunnel_gone
	run -3 wssh 'exit 3'
	tunnel_gone
	# (no close frame is asked for, unlike tests/bats/cx-tunnel.bats:
	# ssh's SIGHUP at its exit ends a Wine process at once, as Windows
	# OpenSSH's TerminateProcess would end it)
	[[ ! -s "$ERRF" ]] || { cat "$ERRF"; false; }
}

@test "cx-tunnel.exe under Wine: scp of 16 MiB up and down keeps its SHA-256" {
	wscp "$BATS_FILE_TMPDIR/big" "$SSHD_USER@$IID:$T/up" || { cat "$ERRF"; false; }
	tunnel_gone
	[[ "$(sha256sum <"$T/up" | cut -d' ' -f1)" == "$BIG_SUM" ]]
	wscp "$SSHD_USER@$IID:$T/up" "$T/down" || { cat "$ERRF"; false; }
	tunnel_gone
	[[ "$(sha256sum <"$T/down" | cut -d' ' -f1)" == "$BIG_SUM" ]]
}

@test "cx-tunnel.exe under Wine: a websocket drop in the middle of a 16 MiB upload is resumed byte-exact" {
	standin_config '{"drop_after_bytes":8000000,"resume_new_url":true}'
	wscp "$BATS_FILE_TMPDIR/big" "$SSHD_USER@$IID:$T/up" || { cat "$ERRF"; false; }
	tunnel_gone
	[[ "$(sha256sum <"$T/up" | cut -d' ' -f1)" == "$BIG_SUM" ]]
	s=$(standin_session)
	jq -e '.resumes >= 1 and (.client_ids | unique | length) == 1 and (.connects | length) >= 2' <<<"$s" >/dev/null ||
	    fail "$(jq -c '{resumes, client_ids, n: (.connects | length)}' <<<"$s")"
	grep -q 'resum' "$ERRF"
}
