#!/usr/bin/env bats
# cloudx-proxy cp: real ssh connections through the generated config
# (`cloudx-proxy setup --yes` against moto + the SSM stand-in), each with
# its own SSM session, to a real sshd whose "instance" is this machine.  As
# root (CI) the sshd logs in ec2-user, as the generated config says; the
# "remote" files live in that user's home.
load ../helpers/common
load ../helpers/moto

setup_file() {
	export CP_SKIP=
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || CP_SKIP="$p is not built yet"
	done
	[ -z "$CP_SKIP" ] || return 0
	moto_start
	export HOME_CP="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0
	moto_auth off
	read -r AK SK < <(moto_user cloudX-cp-alice)
	export AK SK
	ID=$(moto_instance running '[{Key=Name,Value=cloudx-cp-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	RHOME=$(getent passwd "$SSHD_USER" | cut -d: -f6)
	export SSHD_PID SSHD_USER SSHD_PORT SSHD_HOSTKEY_PUB STANDIN_PID MOTO_PID RHOME
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$CP_SKIP" ] || skip "$CP_SKIP"
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	export HOME="$HOME_CP"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_SSO="$STANDIN_URL" AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL"
	standin_config '{"deny_actions": null, "drop_after_bytes": null, "pace_ms": 0}'
	ensure_setup
	# the "remote" folder, in the login user's home
	R="cxcp-$BATS_TEST_NUMBER"
	RD="$RHOME/$R"
	rm -rf "$RD"
	mkdir -p "$RD"
	[ "$(id -u)" != 0 ] || chown "$SSHD_USER" "$RD"
	L="$BATS_TEST_TMPDIR/local"
	mkdir -p "$L"
}

teardown() {
	[ -z "$CP_SKIP" ] || return 0
	wait_until 10 no_procs_left || { ps -o pid,args -p "$(our_pids | tr '\n' ,)0" >&2; return 1; }
	rm -rf "${RD:?}"
}

ensure_setup() {
	[ -f "$HOME/.ssh/config" ] && return 0
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    cloudx-proxy setup --yes --no-check --instance "$ID" >/dev/null 2>&1
	sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"
}

# cp as a user would run it, with this HOME's ssh config (ssh takes ~ from
# the passwd entry, not $HOME)
cpx() {
	local o=(-F "$HOME/.ssh/config" -o "UserKnownHostsFile=$HOME/.ssh/known_hosts")
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	cloudx-proxy cp "${o[@]}" "$@"
}
sshx() {
	local o=(-F "$HOME/.ssh/config" -o "UserKnownHostsFile=$HOME/.ssh/known_hosts"
	    -o ControlMaster=no -o ControlPath=none -o BatchMode=yes)
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	ssh "${o[@]}" cloudx-cp-box "$@"
}

our_pids() {
	local p
	for p in $(pgrep -f "$CX_BIN_DIR/(cloudx-proxy|cx-)|^ssh |^tar " 2>/dev/null); do
		[ "$p" != $$ ] || continue
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
		    grep -qx "HOME=$HOME_CP" && echo "$p"
	done
	return 0
}
no_procs_left() { [ -z "$(our_pids)" ]; }
sessions() { standin_state | jq '.sessions | length'; }
# remote files belong to the login user
rown() { [ "$(id -u)" != 0 ] || chown -R "$SSHD_USER" "$@"; }
sum() { sha256sum <"$1" | cut -d' ' -f1; }
mtime() { stat -c '%a %Y' "$1"; }

@test "cp: 64 MiB down and up over 8 sessions, SHA-256 equal, mode and mtime kept; 0 bytes both ways" {
	head -c $((64 * 1024 * 1024 + 12345)) /dev/urandom >"$RD/big"
	chmod 640 "$RD/big"
	touch -d @1600000000 "$RD/big"
	: >"$RD/empty"
	rown "$RD"
	n0=$(sessions)
	run -0 --separate-stderr cpx cloudx-cp-box:"$R/big" "$L/"
	[ "$(sum "$L/big")" = "$(sum "$RD/big")" ]
	[ "$(mtime "$L/big")" = "640 1600000000" ]
	# one summary line, not a terminal; probe + 8 ranges = 9 sessions
	[[ "$stderr" == "cloudx-proxy: 64.0 MiB in "*"8 connections, SHA-256 verified" ]]
	[ "$(( $(sessions) - n0 ))" = 9 ]
	[ ! -e "$L/big.cxpart" ] && [ ! -e "$L/big.cxpart.ranges" ]

	run -0 cpx -q "$L/big" cloudx-cp-box:"$R/up"
	[ -z "$output" ]
	[ "$(sum "$RD/up")" = "$(sum "$L/big")" ]
	[ "$(mtime "$RD/up")" = "640 1600000000" ]
	[ ! -e "$RD/up.cxpart" ]

	run -0 cpx -q cloudx-cp-box:"$R/empty" "$L/empty"
	[ -f "$L/empty" ] && [ ! -s "$L/empty" ]
	run -0 cpx -q "$L/empty" cloudx-cp-box:"$R/"
	[ -f "$RD/empty" ] && [ ! -s "$RD/empty" ]
	: >"$L/e2"
	run -0 cpx -q "$L/e2" cloudx-cp-box:"$R"
	[ -f "$RD/e2" ] && [ ! -s "$RD/e2" ]
}
