#!/usr/bin/env bats
# The connect log (issue 14 part 1): every `cloudx-proxy connect` leaves one
# JSON line in ${XDG_STATE_HOME:-~/.local/state}/cloudx-proxy/connect.log
# with its steps, their durations, the outcome and, on failure, the line the
# terminal got.  The connects here run through the real ssh and the config
# `setup` writes, without a terminal (setsid: no controlling tty, as VS
# Code runs ssh), against moto, the SSM stand-in and a real sshd.
load ../helpers/common
load ../helpers/moto
load ../helpers/otheruser

SECRET=CANARYsecretKEYdo0not0leak0f1a2b3c4d5e6
TOKEN=CANARYsessionTOKENdo0not0leak0IQoJb3JpZ2luX2VjEXAMPLE

setup_file() {
	export CL_SKIP=
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || CL_SKIP="$p is not built yet"
	done
	[ -z "$CL_SKIP" ] || return 0
	moto_start
	export HOME_CL="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0
	moto_auth off
	read -r AK SK < <(moto_user cloudX-log-alice)
	export AK SK
	ID=$(moto_instance stopped '[{Key=Name,Value=cloudx-log-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	export SSHD_PID SSHD_USER SSHD_PORT SSHD_HOSTKEY_PUB STANDIN_PID MOTO_PID
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$CL_SKIP" ] || skip "$CL_SKIP"
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	export HOME="$HOME_CL"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	standin_config '{"deny_actions": null, "ping_status": null, "target_not_connected": null}'
	LOG="$HOME/.local/state/cloudx-proxy/connect.log"
	if [ ! -f "$HOME/.ssh/config" ]; then
		AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
		    cloudx-proxy setup --yes --no-check --instance "$ID" >/dev/null 2>&1
		sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"
		# the canaries: a secret key and a session token every stage sees
		printf '[cloudX]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
		    "$AK" "$SECRET" "$TOKEN" >"$HOME/.aws/credentials"
	fi
	rm -rf "$HOME/.local/state/cloudx-proxy"
}

teardown() {
	[ -z "$CL_SKIP" ] || return 0
	other_user_remove
	chown -R "$(id -u)" "$HOME/.local" 2>/dev/null || true
	wait_until 10 no_procs_left || { ps -o pid,args -p "$(our_pids | tr '\n' ,)0" >&2; return 1; }
}

# ssh as configured, one-shot (no master), with no controlling terminal
# (setsid) and stdin not a tty: how VS Code runs it.  ControlPersist in the
# generic block still sends the ProxyCommand's stderr to /dev/null.
sshx() {
	local o=(-F "$HOME/.ssh/config" -o BatchMode=yes -o ControlMaster=no -o ControlPath=none
	    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts")
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	setsid -w ssh "${o[@]}" "$@" </dev/null
}

our_pids() {
	local p
	for p in $(pgrep -f "$CX_BIN_DIR/(cloudx-proxy|cx-)|^ssh " 2>/dev/null); do
		[ "$p" != $$ ] || continue
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
		    grep -qx "HOME=$HOME_CL" && echo "$p"
	done
	return 0
}
no_procs_left() { [ -z "$(our_pids)" ]; }

# the step names of record N (1-based) of the log, space-separated
steps_of() { sed -n "${1}p" "$LOG" | jq -r '[.steps[].step] | join(" ")'; }

@test "connlog: a cold connect through ssh without a terminal: every step with its duration, connected, 0600 in a 0700 folder" {
	[ "$(moto_state "$ID")" = stopped ]
	run -0 --separate-stderr sshx cloudx-log-box 'echo hello'
	[ "$output" = hello ]
	[ "$(wc -l <"$LOG")" = 1 ]
	[ "$(stat -c %a "$LOG")" = 600 ]
	[ "$(stat -c %a "$(dirname "$LOG")")" = 700 ]
	jq -e --arg id "$ID" '.host == "cloudx-log-box" and .instance == $id and .profile == "cloudX"
	    and .region == "eu-west-1" and .outcome == "connected" and .exit == 0 and (has("message") | not)
	    and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and (.id | length) == 36
	    and ([.steps[].ms | numbers | select(. >= 0)] | length) == (.steps | length)' "$LOG"
	[ "$(steps_of 1)" = "credentials wave_describe wave_ping wave_key_push wave_session wave describe start wait key_push session first_byte" ]
	# the plain form: one line with the steps
	run -0 --separate-stderr cloudx-proxy log
	[ "${#lines[@]}" = 1 ]
	[[ "$output" == *"cloudx-log-box  $ID  connected exit 0 "*" credentials "*ms*" start "*ms*" first_byte "*ms ]]
	run -0 cloudx-proxy log --json cloudx-log-box
	[ "$output" = "$(jq -c . "$LOG")" ]
	run -0 cloudx-proxy log --json other-box
	[ -z "$output" ]
}

@test "connlog: access denied through ssh: failed, exit 1 and the line the terminal gets; doctor names it and its fix" {
	standin_config '{"deny_actions": ["ec2-instance-connect:SendSSHPublicKey"]}'
	run -255 sshx cloudx-log-box true
	[ "$(wc -l <"$LOG")" = 1 ]
	# the same connect from a terminal prints this line last
	run -1 --separate-stderr cloudx-proxy connect "$ID" </dev/null
	want=${stderr_lines[-1]}
	[[ "$want" == "cx-pushkey: "*AccessDenied* ]]
	[ "$(wc -l <"$LOG")" = 2 ]
	jq -e --arg m "$want" '.outcome == "failed" and .exit == 1 and .message == $m' <(sed -n 1p "$LOG")
	jq -e --arg m "$want" '.message == $m' <(sed -n 2p "$LOG")
	steps_of 1 >&2; [ "$(steps_of 1)" = "credentials wave_describe wave_ping wave_key_push wave_session wave describe wait key_push session" ]
	run -0 cloudx-proxy log -n 1 cloudx-log-box
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" == *" failed exit 1 "* ]]
	[ "${lines[1]}" = "    $want" ]
	run cloudx-proxy doctor cloudx-log-box
	[[ "$output" == *"! last failed connect: "*", exit 1: $want; fix: "*IAM* ]]
}

@test "connlog: 8 parallel connects leave 8 whole records; no canary in the log" {
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		sshx cloudx-log-box "echo run$i" >"$BATS_TEST_TMPDIR/out$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$BATS_TEST_TMPDIR/out$((i + 1))" >&2; false; }
	done
	[ "$(wc -l <"$LOG")" = 8 ]
	# every line is one whole JSON object, each connect its own id
	[ "$(jq -c 'select(.outcome == "connected" and .exit == 0) | .id' "$LOG" | sort -u | wc -l)" = 8 ]
	run -1 grep -rlE "CANARY|$SECRET|$TOKEN" "$HOME/.local/state"
}

@test "connlog: past 1 MiB the log is rotated to connect.log.1" {
	mkdir -p -m 700 "$(dirname "$LOG")"
	head -c 1048400 /dev/zero | tr '\0' x >"$LOG"
	chmod 600 "$LOG"
	run -0 --separate-stderr sshx cloudx-log-box true
	[ "$(stat -c %s "$LOG.1")" = 1048400 ]
	[ "$(wc -l <"$LOG")" = 1 ]
	jq -e '.outcome == "connected"' "$LOG"
	[ "$(stat -c %a "$LOG")" = 600 ]
}

@test "connlog: a log folder owned by another user, or a symlinked log, is not used; the connect goes on" {
	other_user_create
	mkdir -p -m 700 "$(dirname "$LOG")"
	chown "$OTHER_USER" "$(dirname "$LOG")"
	run -0 --separate-stderr sshx cloudx-log-box 'echo still'
	[ "$output" = still ]
	[ ! -e "$LOG" ]
	# from a terminal: one warning, the connect goes on (stdout: the
	# banner; stdin is closed only once it came, so the session cannot end
	# before sshd has spoken)
	run -0 --separate-stderr python3 -c '
import subprocess, sys
p = subprocess.Popen(["cloudx-proxy", "connect", sys.argv[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
b = b""
while b"\n" not in b:
    c = p.stdout.read1(256)
    if not c:
        break
    b += c
p.stdin.close()
p.stdout.read()
sys.stdout.write(b.decode(errors="replace").split("\n")[0])
sys.exit(p.wait())' "$ID"
	[[ "$output" == SSH-2.0-* ]]
	[ "$(printf '%s\n' "${stderr_lines[@]}" | grep -c 'warning: connect log')" = 1 ]
	[[ "$stderr" == *"is owned by"* ]]
	chown "$(id -u)" "$(dirname "$LOG")"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$LOG"
	run -0 --separate-stderr sshx cloudx-log-box 'echo again'
	[ ! -e "$BATS_TEST_TMPDIR/elsewhere" ]
}

@test "connlog: log usage errors: one line, exit 100" {
	run -100 --separate-stderr cloudx-proxy log -n 0
	[ "$stderr" = "cloudx-proxy: log: -n must be 1 to 100000, not '0'" ]
	run -100 --separate-stderr cloudx-proxy log a b
	[[ "$stderr" == "cloudx-proxy: log: too many arguments"* ]]
	run -0 cloudx-proxy log
	[ -z "$output" ]
}
