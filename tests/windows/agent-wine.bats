#!/usr/bin/env bats
# cx-pushkey.exe --agent-key under Wine with the agent on the Windows named
# pipe, as Windows OpenSSH's ssh-agent service and 1Password's agent serve
# it: the real OpenSSH ssh-agent (Linux) behind
# tests/tools/win/pipe-relay.exe (the pipe, Winsock to a loopback port) and
# tests/tools/tcp-unix-relay.py (that port to the agent's socket).  The
# default pipe \\.\pipe\openssh-ssh-agent with no -s and no SSH_AUTH_SOCK,
# SSH_AUTH_SOCK naming another pipe, no agent on the pipe, a key the agent
# lacks, a pipe whose one instance is busy.  Run by `make check-windows`.

load ../helpers/common
load ../helpers/moto
load ../helpers/standin

DEFPIPE='\\.\pipe\openssh-ssh-agent'
OTHERPIPE='\\.\pipe\cx-test-other-agent'

# agent_start NAME KEY...: a real ssh-agent on $BATS_FILE_TMPDIR/NAME.sock
# holding KEYs, and a loopback TCP port in front of it; sets NAME_PID,
# NAME_RELAY_PID, NAME_PORT.
agent_start() {
	local name=$1 sock="$BATS_FILE_TMPDIR/$1.sock" k
	shift
	ssh-agent -a "$sock" -D </dev/null >/dev/null 2>&1 3>&- &
	printf -v "${name}_PID" %s "$!"
	wait_until 10 test -S "$sock"
	for k in "$@"; do
		SSH_AUTH_SOCK=$sock ssh-add -q "$K/$k" 2>/dev/null
	done
	"$STANDIN_PYTHON" "$CX_ROOT/tests/tools/tcp-unix-relay.py" \
	    --port-file "$BATS_FILE_TMPDIR/$name.port" --unix "$sock" \
	    </dev/null >"$BATS_FILE_TMPDIR/$name.relay.log" 2>&1 3>&- &
	printf -v "${name}_RELAY_PID" %s "$!"
	wait_until 10 test -s "$BATS_FILE_TMPDIR/$name.port"
	printf -v "${name}_PORT" %s "$(cat "$BATS_FILE_TMPDIR/$name.port")"
}

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-pushkey.exe" ] || skip "no $CX_BIN/cx-pushkey.exe (make windows)"
	[ -f "$CX_BIN/tests/tools/pipe-relay.exe" ] || skip "no $CX_BIN/tests/tools/pipe-relay.exe (make windows)"
	moto_start
	read -r AK SK < <(moto_user alice)
	export AK SK
	moto_auth on
	export MOTO_AK=$AK MOTO_SK=$SK MOTO_REGION=eu-west-1
	standin_start --moto "$MOTO_URL" --moto-key "$AK:$SK"
	K="$BATS_FILE_TMPDIR/keys"
	mkdir -p "$K"
	ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$K/alice"
	ssh-keygen -q -t ed25519 -N '' -C bob@desk -f "$K/bob"
	ssh-keygen -q -t ed25519 -N '' -C carol@box -f "$K/carol"
	export K
	# A: the agent on the default pipe; B: the one on another pipe
	agent_start A alice bob
	agent_start B carol
	export A_PID A_RELAY_PID A_PORT B_PID B_RELAY_PID B_PORT
}

teardown_file() {
	stop_pid "${A_RELAY_PID:-}"
	stop_pid "${B_RELAY_PID:-}"
	stop_pid "${A_PID:-}"
	stop_pid "${B_PID:-}"
	standin_stop
	moto_stop
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	export AWS_ENDPOINT_URL="$MOTO_URL"
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
	export AWS_REGION=eu-west-1
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	unset SSH_AUTH_SOCK
	RELAYS=()
	standin_reset
}

teardown() {
	local p
	for p in "${RELAYS[@]}"; do
		stop_pid "$p"
	done
}

# pipe_relay [-h FILE] PIPE PORT: pipe-relay.exe under Wine until the test
# ends (stopped by its PID in teardown), once it says "ready".
pipe_relay() {
	local out="$BATS_TEST_TMPDIR/relay.${#RELAYS[@]}.out"
	"$CX_WINE" "$CX_BIN/tests/tools/pipe-relay.exe" "$@" \
	    </dev/null >"$out" 2>&1 3>&- &
	RELAYS+=("$!")
	wait_until 30 grep -q '^ready' "$out" || {
		cat "$out" >&2
		return 1
	}
}

wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

fp() {
	ssh-keygen -lf "$1" | cut -d' ' -f2
}

# the keys the stand-in holds for the instance
pushed() {
	curl -sf "$STANDIN_URL/standin/keys?user=ec2-user&instance=$1"
}

@test "agent (wine): no -s, no SSH_AUTH_SOCK: the key named by comment comes from the default pipe, and only it is pushed" {
	local id
	pipe_relay "$DEFPIPE" "$A_PORT"
	id=$(moto_instance running)
	run -0 --separate-stderr wcx cx-pushkey -a bob@desk "$id" </dev/null
	assert_equal "$(jq -r .KeyPush.Source <<<"$output")" agent
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(fp "$K/bob.pub")"
	assert_equal "$(jq -r .KeyPush.Comment <<<"$output")" bob@desk
	run -0 pushed "$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/bob.pub")"
	refute_output --partial "$(cut -d' ' -f2 "$K/alice.pub")"
	# by fingerprint, the other key of the same agent
	run -0 --separate-stderr wcx cx-pushkey -n -a "$(fp "$K/alice.pub")" "$id" </dev/null
	assert_equal "$(jq -r .KeyPush.Comment <<<"$output")" alice@laptop
}

@test "agent (wine): SSH_AUTH_SOCK naming another pipe wins over the default one" {
	local id
	pipe_relay "$DEFPIPE" "$A_PORT"
	pipe_relay "$OTHERPIPE" "$B_PORT"
	id=$(moto_instance running)
	# carol is only in the agent on the other pipe
	run -2 --separate-stderr wcx cx-pushkey -n -a carol@box "$id" </dev/null
	[[ "$stderr" == *"no key 'carol@box' in the ssh-agent at '$DEFPIPE'"* ]]
	SSH_AUTH_SOCK=$OTHERPIPE run -0 --separate-stderr wcx cx-pushkey -a carol@box "$id" </dev/null
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(fp "$K/carol.pub")"
	run -0 pushed "$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/carol.pub")"
	# and the default pipe's keys are not seen there
	SSH_AUTH_SOCK=$OTHERPIPE run -2 --separate-stderr wcx cx-pushkey -n -a bob@desk "$id" </dev/null
	[[ "$stderr" == *"no key 'bob@desk' in the ssh-agent at '$OTHERPIPE'"* ]]
}

@test "agent (wine): no agent on the pipe: one line naming it and how to start the agent, exit 2" {
	run -2 --separate-stderr wcx cx-pushkey -a bob@desk i-0123456789abcdef0 </dev/null
	assert_output ""
	assert_equal "$(printf '%s\n' "$stderr" | tr -d '\r' | wc -l)" 1
	[[ "$stderr" == "cx-pushkey: no ssh-agent is running on '$DEFPIPE': "* ]]
	[[ "$stderr" == *"Get-Service ssh-agent | Set-Service -StartupType Automatic; Start-Service ssh-agent"* ]]
	[[ "$stderr" == *'"Use the SSH agent" in 1Password'* ]]
}

@test "agent (wine): a key the agent lacks: a clear line naming the key and the pipe, the agent's keys listed, exit 2" {
	pipe_relay "$DEFPIPE" "$A_PORT"
	run -2 --separate-stderr wcx cx-pushkey -a nobody@nowhere i-0123456789abcdef0 </dev/null
	assert_output ""
	[[ "$stderr" == *"cx-pushkey: no key 'nobody@nowhere' in the ssh-agent at '$DEFPIPE' (2 keys)"* ]]
	[[ "$stderr" == *"agent key: $(fp "$K/bob.pub") 'bob@desk'"* ]]
	[[ "$stderr" == *"agent key: $(fp "$K/alice.pub") 'alice@laptop'"* ]]
}

@test "agent (wine): every instance of the pipe busy: waited for, then the key pushed" {
	local id go="$BATS_TEST_TMPDIR/go" pid rc=0
	# the relay holds its one instance itself until $go exists
	pipe_relay -h "Z:$go" "$DEFPIPE" "$A_PORT"
	id=$(moto_instance running)
	wcx cx-pushkey -v -a bob@desk "$id" </dev/null \
	    >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	# it found the pipe busy and waits: let the instance go
	wait_until 30 grep -q "pipe '.*openssh-ssh-agent' is busy: waiting" "$BATS_TEST_TMPDIR/err" || {
		cat "$BATS_TEST_TMPDIR/err" >&2
		stop_pid "$pid"
		return 1
	}
	touch "$go"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/err" >&2; return 1; }
	assert_equal "$(jq -r .KeyPush.Fingerprint "$BATS_TEST_TMPDIR/out")" "$(fp "$K/bob.pub")"
	run -0 pushed "$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/bob.pub")"
}
