#!/usr/bin/env bats
# Host keys pinned to the instance (issue 14 part 3), with the real ssh and
# the config `setup` writes, no terminal (setsid, BatchMode: a prompt would
# fail the connect) and no known_hosts given on the command line: ssh uses
# the config's own UserKnownHostsFile (~/.ssh/cloudX/known_hosts first) and
# HostKeyAlias <instance-id>.  Two instances behind one name, each with its
# own sshd and host key, then a changed key for the same instance id.
load ../helpers/common
load ../helpers/moto

setup_file() {
	export HK_SKIP=
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || HK_SKIP="$p is not built yet"
	done
	[ -z "$HK_SKIP" ] || return 0
	moto_start
	export HOME_HK="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0
	moto_auth off
	read -r AK SK < <(moto_user cloudX-hk-alice)
	export AK SK
	# one name, two instances (a rebuilt workstation keeps its Name tag)
	ID1=$(moto_instance running '[{Key=Name,Value=cloudx-hk-box}]')
	ID2=$(moto_instance running '[{Key=Name,Value=cloudx-hk-box}]')
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID1"
	SSHD1_PID=$SSHD_PID SSHD1_PORT=$SSHD_PORT
	SSHD_PID=
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID2"
	SSHD2_PID=$SSHD_PID SSHD2_PORT=$SSHD_PORT
	standin_config "{\"targets\":{\"$ID1\":\"127.0.0.1:$SSHD1_PORT\",\"$ID2\":\"127.0.0.1:$SSHD2_PORT\"}}"
	export ID1 ID2 SSHD1_PID SSHD2_PID SSHD1_PORT SSHD2_PORT SSHD_USER STANDIN_PID MOTO_PID
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if declare -F sshd_stop >/dev/null; then
		SSHD_PID=$SSHD1_PID sshd_stop || true
		SSHD_PID=$SSHD2_PID sshd_stop || true
	fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$HK_SKIP" ] || skip "$HK_SKIP"
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	export HOME="$HOME_HK"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	KH="$HOME/.ssh/cloudX/known_hosts"
}

teardown() {
	[ -z "$HK_SKIP" ] || return 0
	# the sshd a test started for a changed host key
	[ -z "${SSHD3_PID:-}" ] || { SSHD_PID=$SSHD3_PID sshd_stop || true; }
	wait_until 10 no_procs_left || { ps -o pid,args -p "$(our_pids | tr '\n' ,)0" >&2; return 1; }
}

our_pids() {
	local p
	for p in $(pgrep -f "$CX_BIN_DIR/(cloudx-proxy|cx-)|^ssh " 2>/dev/null); do
		[ "$p" != $$ ] || continue
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
		    grep -qx "HOME=$HOME_HK" && echo "$p"
	done
	return 0
}
no_procs_left() { [ -z "$(our_pids)" ]; }

setup_for() {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    cloudx-proxy setup --yes --no-check --instance "$1" >/dev/null 2>&1
}

# ssh as configured: no known_hosts option of ours, no terminal, no prompt
sshx() {
	local o=(-F "$HOME/.ssh/config" -o BatchMode=yes -o ControlMaster=no -o ControlPath=none)
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	setsid -w ssh "${o[@]}" "$@" </dev/null
}

# the ed25519 key of the sshd whose host key file is PUB, as ssh stores it
key_of() { cut -d' ' -f1,2 "$1"; }

@test "hostkeys: first connect without a prompt: the key lands in our known_hosts under the instance id" {
	setup_for "$ID1"
	cfg="$HOME/.ssh/cloudX/config"
	run -0 grep -x "    HostKeyAlias $ID1" "$cfg"
	run -0 grep -x "    UserKnownHostsFile $KH ~/.ssh/known_hosts" "$cfg"
	run -0 grep -x "    StrictHostKeyChecking accept-new" "$cfg"
	[ ! -e "$KH" ]
	run -0 --separate-stderr sshx cloudx-hk-box 'echo one'
	[ "$output" = one ]
	[[ "$stderr" != *WARNING* ]]
	[ "$(wc -l <"$KH")" = 1 ]
	[ "$(cut -d' ' -f1 "$KH")" = "$ID1" ]
	# a second connect: the pinned key matches, nothing added
	run -0 --separate-stderr sshx cloudx-hk-box 'echo again'
	[ "$output" = again ]
	[ "$(wc -l <"$KH")" = 1 ]
}

@test "hostkeys: the same name moved to a second instance (another host key) connects without a warning" {
	setup_for "$ID1"
	run -0 --separate-stderr sshx cloudx-hk-box true
	key1=$(grep "^$ID1 " "$KH" | cut -d' ' -f2,3)
	setup_for "$ID2"
	run -0 grep -x "    HostName $ID2" "$HOME/.ssh/cloudX/config"
	run -0 grep -x "    HostKeyAlias $ID2" "$HOME/.ssh/cloudX/config"
	run -0 --separate-stderr sshx cloudx-hk-box 'echo moved'
	[ "$output" = moved ]
	[[ "$stderr" != *WARNING* && "$stderr" != *"IDENTIFICATION HAS CHANGED"* ]]
	key2=$(grep "^$ID2 " "$KH" | cut -d' ' -f2,3)
	[ -n "$key1" ] && [ -n "$key2" ] && [ "$key1" != "$key2" ]
	# each instance keeps its own key
	[ "$(wc -l <"$KH")" = 2 ]
}

@test "hostkeys: a changed host key for the same instance id is refused" {
	setup_for "$ID2"
	run -0 --separate-stderr sshx cloudx-hk-box true
	grep -q "^$ID2 " "$KH"
	# the instance behind ID2 now answers with another host key
	SSHD_PID=$SSHD2_PID sshd_stop || true	# not our child: no wait status
	wait_until 10 sh -c "! kill -0 $SSHD2_PID 2>/dev/null"
	SSHD_PID=
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID2"
	SSHD3_PID=$SSHD_PID
	standin_config "{\"targets\":{\"$ID1\":\"127.0.0.1:$SSHD1_PORT\",\"$ID2\":\"127.0.0.1:$SSHD_PORT\"}}"
	run -255 --separate-stderr sshx cloudx-hk-box 'echo must-not-run'
	[ -z "$output" ]
	[[ "$stderr" == *"REMOTE HOST IDENTIFICATION HAS CHANGED"* ]]
	[[ "$stderr" == *"Host key verification failed"* ]]
	# the pinned key was not replaced
	[ "$(grep -c "^$ID2 " "$KH")" = 1 ]
	! grep -q "$(key_of "$SSHD_HOSTKEY_PUB" | cut -d' ' -f2)" "$KH"
}

@test "hostkeys: nothing writes 'StrictHostKeyChecking no' (generated files and the sources)" {
	setup_for "$ID1"
	cloudx-proxy cleanup >/dev/null 2>&1
	run -1 grep -rniE "StrictHostKeyChecking[ =]+(no|off)\b" "$HOME/.ssh"
	run -1 grep -rniE "StrictHostKeyChecking[ =\"]+(no|off)\b" "$CX_ROOT/cmd" "$CX_ROOT/lib" "$CX_ROOT/completions"
}
