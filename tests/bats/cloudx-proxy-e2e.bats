#!/usr/bin/env bats
# End to end: `cloudx-proxy setup --yes` against moto + the SSM stand-in, then
# the real ssh/scp through the generated config to a real sshd that accepts
# only keys pushed with EC2 Instance Connect (its AuthorizedKeysCommand reads
# the stand-in's key store).  As root (CI) the sshd logs in the real local
# account ec2-user, exactly as the generated config says (User ec2-user).
#
# ssh takes ~ from the passwd entry, not $HOME (design.md, Testing notes), so
# every ssh here gets -F "$HOME/.ssh/config" and the throw-away known_hosts
# and ControlPath; the known_hosts holds the sshd's host key under the
# instance id (the HostName ssh checks with a ProxyCommand).
load ../helpers/common
load ../helpers/moto

setup_file() {
	export E2E_SKIP=
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
		[ -x "$CX_BIN_DIR/$p" ] || E2E_SKIP="$p is not built yet"
	done
	[ -z "$E2E_SKIP" ] || return 0
	moto_start
	export HOME_E2E="$BATS_FILE_TMPDIR/home"
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0
	moto_auth off
	read -r AK SK < <(moto_user cloudX-e2e-alice)
	export AK SK
	ID=$(moto_instance stopped '[{Key=Name,Value=cloudx-e2e-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	export SSHD_PID SSHD_USER SSHD_PORT SSHD_HOSTKEY_PUB STANDIN_PID MOTO_PID
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if [ -n "${HOME_E2E:-}" ] && [ -f "$HOME_E2E/.ssh/config" ]; then
		HOME=$HOME_E2E sshx_exit
	fi
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
}

setup() {
	[ -z "$E2E_SKIP" ] || skip "$E2E_SKIP"
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	export HOME="$HOME_E2E"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_SSO="$STANDIN_URL" AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL"
	standin_config '{"deny_actions": null, "ping_status": null, "target_not_connected": null}'
}

teardown() {
	[ -z "$E2E_SKIP" ] || return 0
	sshx_exit
	# nothing of ours is left, whatever the test did
	wait_until 10 no_procs_left || { ps -o pid,args -p "$(our_pids | tr '\n' ,)0" >&2; return 1; }
}

# The ssh options a user gets from ~/.ssh/config, made to use this HOME.
# Not root: an unprivileged sshd can only log its own user in (sshd.bash).
ssh_opts() {
	SSH_OPTS=(-F "$HOME/.ssh/config" -o BatchMode=yes
	    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts"
	    -o "ControlPath=$HOME/.ssh/control/%r@%h:%p")
	[ "$SSHD_USER" = ec2-user ] || SSH_OPTS+=(-o "User=$SSHD_USER")
}
sshx() { ssh_opts; ssh "${SSH_OPTS[@]}" "$@"; }
scpx() { ssh_opts; scp -q "${SSH_OPTS[@]}" "$@"; }
# one-shot, no master (ssh takes the first value: these come first)
sshx1() { ssh_opts; ssh -o ControlMaster=no -o ControlPath=none "${SSH_OPTS[@]}" "$@"; }
# sshtty OUT ARGS...: ssh as configured, from a terminal (script(1) gives it
# a pty), stdout to the file OUT; prints what the terminal showed.  With
# ControlPersist ssh sends the ProxyCommand's stderr to /dev/null, so our
# progress and errors reach the user through /dev/tty: this is what they see.
sshtty() {
	local out=$1
	shift
	ssh_opts
	script -qefc "$(printf '%q ' ssh "${SSH_OPTS[@]}" "$@") >$(printf %q "$out")" /dev/null </dev/null |
	    tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# ends the ControlMaster (if any) and waits for its process to be gone
sshx_exit() {
	local pid
	pid=$(master_pid) || return 0
	sshx -O exit cloudx-e2e-box 2>/dev/null || true
	wait_until 10 sh -c "! kill -0 $pid"
}
master_pid() {
	local out
	out=$(sshx -O check cloudx-e2e-box 2>&1) || return 1
	[[ "$out" =~ pid=([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# PIDs of our programs (and of ssh) started with this test HOME, and of
# ssh masters on its control sockets (a master's title overwrites its
# /proc/PID/environ: "ssh: <ControlPath> [mux]")
our_pids() {
	local p
	for p in $(pgrep -f "$CX_BIN_DIR/(cloudx-proxy|cx-)|^ssh |^scp " 2>/dev/null); do
		[ "$p" != $$ ] || continue
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
		    grep -qx "HOME=$HOME_E2E" && echo "$p"
	done
	pgrep -f "^ssh: $HOME_E2E/" 2>/dev/null
	return 0
}
no_procs_left() { [ -z "$(our_pids)" ]; }
open_sessions() { standin_state | jq '[.sessions[] | select(.status != "ended")] | length'; }

ensure_setup() {
	[ -f "$HOME/.ssh/config" ] && return 0
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    cloudx-proxy setup --yes --no-check --instance "$ID" >/dev/null 2>&1
	sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"
}

@test "e2e: stopped instance -> started -> key pushed for ec2-user -> tunnel -> exact remote output" {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    run -0 --separate-stderr cloudx-proxy setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"Connect using: ssh cloudx-e2e-box"* ]]
	run -0 grep -x "    ProxyCommand $CX_BIN_DIR/cloudx-proxy connect %h %p --os-user %r" "$HOME/.ssh/cloudX/config"
	sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"
	[ "$(moto_state "$ID")" = stopped ]
	[ -z "$(curl -s "$STANDIN_URL/standin/keys?user=ec2-user&instance=$ID")" ]

	run -0 sshtty "$BATS_TEST_TMPDIR/out" cloudx-e2e-box 'echo "$(id -un) in $PWD"; uname -s'
	# progress in order on the terminal; stdout is the remote output only
	[[ "$output" == *"Connecting to instance $ID on port 22..."*"Starting instance $ID"*"Pushing SSH key..."*"Starting session..."* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "$SSHD_USER in $(getent passwd "$SSHD_USER" | cut -d: -f6)
$(uname -s)" ]
	[ "$(moto_state "$ID")" = running ]
	# the key was pushed for the user ssh logged in as (%r), and it is ours
	run -0 jq -r --arg k "$ID/$SSHD_USER" '.keys[$k][0].key' <<<"$(standin_state)"
	assert_output --partial "$(cut -d' ' -f1,2 "$HOME/.ssh/cloudX/cloudX.pub")"
	# (the warm wave's push was refused: the instance was not running yet)
	standin_log | jq -e --arg u "$SSHD_USER" '[.[] | select(.op == "SendSSHPublicKey" and .status == 200)] | length == 1 and .[0].body.InstanceOSUser == $u'
	standin_log | jq -e --arg u "$SSHD_USER" '[.[] | select(.op == "SendSSHPublicKey") | .body.InstanceOSUser] | length == 2 and all(. == $u)'
	# (the persisted master's tunnel got SIGHUP when script's terminal
	# closed: the master is gone with it, see the next test for masters)
	wait_until 10 no_procs_left
	standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10
	# after setup and a connect the user's folders hold no lock files:
	# they are in our state folder (issue 11 §3)
	[ -z "$(find "$HOME/.aws" "$HOME/.ssh" -name '*.lock')" ]
	ls "$HOME/.local/state/cloudx-proxy/locks/"*.lock >/dev/null
}

@test "e2e: setup's own access check (ssh HOST exit) goes through the whole chain" {
	# a second user HOME; the instance stopped again
	local h2="$BATS_TEST_TMPDIR/home2"
	mkdir -p "$h2"
	moto_aws ec2 stop-instances --instance-ids "$ID" >/dev/null
	[ "$(moto_state "$ID")" = stopped ]
	HOME=$h2 AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    run -0 --separate-stderr cloudx-proxy setup --yes --instance "$ID"
	[[ "$stderr" == *"SSH connection to cloudx-e2e-box works"* ]]
	[ "$(moto_state "$ID")" = running ]
	# accept-new put the host key under the instance id, in that HOME
	run -0 ssh-keygen -F "$ID" -f "$h2/.ssh/known_hosts"
	# ControlMaster=no: nothing left
	for p in $(pgrep -f "$CX_BIN_DIR/(cloudx-proxy|cx-)|^ssh " 2>/dev/null); do
		! tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "HOME=$h2"
	done
	standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10
}

@test "e2e: scp both ways; a second connect reuses the ControlMaster (no new session, no AWS call)" {
	ensure_setup
	head -c 20000 /dev/urandom >"$BATS_TEST_TMPDIR/f"
	run -0 sshx cloudx-e2e-box true
	pid=$(master_pid)
	[ -n "$pid" ]
	our_pids | grep -qx "$pid"	# the leftover check sees a master
	sessions=$(standin_state | jq '.sessions | length')
	calls=$(standin_log | jq length)
	run -0 scpx "$BATS_TEST_TMPDIR/f" cloudx-e2e-box:e2e-copy
	run -0 scpx cloudx-e2e-box:e2e-copy "$BATS_TEST_TMPDIR/g"
	cmp "$BATS_TEST_TMPDIR/f" "$BATS_TEST_TMPDIR/g"
	run -0 sshx cloudx-e2e-box 'sha256sum < e2e-copy; rm e2e-copy'
	assert_output "$(sha256sum <"$BATS_TEST_TMPDIR/f")"
	[ "$(master_pid)" = "$pid" ]
	[ "$(standin_state | jq '.sessions | length')" = "$sessions" ]
	[ "$(standin_log | jq length)" = "$calls" ]
	sshx_exit
	standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10
}

@test "e2e: the key goes to the user ssh logs in as (%r): ssh -l root" {
	[ "$(id -u)" = 0 ] || skip "needs root (a second login user)"
	ensure_setup
	run -0 --separate-stderr sshx1 -l root cloudx-e2e-box 'id -un'
	assert_output root
	standin_state | jq -e --arg k "$ID/root" '.keys[$k] | length == 1'
	standin_log | jq -e '[.[] | select(.op == "SendSSHPublicKey")] | last | .body.InstanceOSUser == "root"'
}

@test "e2e: a connect with no ControlMaster ends with ssh: session ended, no process left; an old ProxyCommand works" {
	ensure_setup
	run -0 --separate-stderr sshx1 cloudx-e2e-box 'echo done'
	assert_output done
	# an older ProxyCommand without --os-user %r still works (ec2-user)
	if [ "$SSHD_USER" = ec2-user ]; then
		run -0 --separate-stderr sshx1 -o "ProxyCommand=$CX_BIN_DIR/cloudx-proxy connect %h %p" \
		    cloudx-e2e-box 'id -un'
		assert_output ec2-user
	fi
	wait_until 10 no_procs_left
	standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10
	standin_session | jq -e '.stats.in_bytes > 0 and .stats.out_bytes > 0'
}

# fail CODE LINE-PATTERN ARGS...: connect exits CODE with nothing on
# stdout, and stderr is progress lines ("...", "retrying in") and then ONE
# line matching
# LINE-PATTERN
fail() {
	local code=$1 pat=$2 l
	shift 2
	run --separate-stderr cloudx-proxy connect "$@" </dev/null
	local ok=1
	[ "$status" -eq "$code" ] && [ -z "$output" ] &&
	    [[ "${stderr_lines[-1]}" == $pat ]] || ok=0
	for l in "${stderr_lines[@]:0:${#stderr_lines[@]}-1}"; do
		[[ "$l" == *...* || "$l" == *", retrying in "* ]] || ok=0
	done
	if [ "$ok" = 0 ]; then
		echo "exit $status (wanted $code), stdout '$output', stderr:" >&2
		printf '  %s\n' "${stderr_lines[@]}" >&2
		return 1
	fi
}

@test "e2e: failures end in one line and the documented exit code: no credentials, SSO expired, access denied, unknown instance" {
	ensure_setup
	mkdir -p "$HOME/.aws/sso/cache"
	cp "$HOME/.aws/config" "$BATS_TEST_TMPDIR/config.bak"
	cat >>"$HOME/.aws/config" <<-EOF
	[profile nokeys]
	region = eu-west-1
	[profile sso-old]
	sso_start_url = https://d-1234.awsapps.com/start
	sso_region = eu-west-1
	sso_account_id = 111122223333
	sso_role_name = Admin
	region = eu-west-1
	[profile bad]
	region = eu-west-1
	EOF
	printf '{"accessToken":"tok-old","expiresAt":"2020-01-01T00:00:00Z","region":"eu-west-1","startUrl":"https://d-1234.awsapps.com/start"}' \
	    >"$HOME/.aws/sso/cache/$(printf %s https://d-1234.awsapps.com/start | sha1sum | cut -d' ' -f1).json"
	printf '[bad]\naws_access_key_id = AKIAUNKNOWN0000000000\naws_secret_access_key = x\n' >>"$HOME/.aws/credentials"

	fail 3 "cx-creds: *" "$ID" --profile nokeys
	fail 3 "cx-creds: the SSO session for profile 'sso-old' has expired or is missing; run: cloudx-proxy login --profile sso-old" \
	    "$ID" --profile sso-old
	fail 2 "cx-instance: *i-0000000000000000f*not found*" i-0000000000000000f
	moto_auth on
	fail 1 "cx-instance: *" "$ID" --profile bad
	moto_auth off
	standin_config '{"deny_actions": ["ec2-instance-connect:SendSSHPublicKey"]}'
	fail 1 "cx-pushkey: *AccessDenied*" "$ID"
	# the session started meanwhile was ended
	standin_session | jq -e '.terminated_by_api'
	[ "$(open_sessions)" = 0 ]
	standin_config '{"deny_actions": ["ssm:StartSession"]}'
	fail 1 "cloudx-proxy: cannot start a session on '$ID': *AccessDenied*" "$ID"
	cp "$BATS_TEST_TMPDIR/config.bak" "$HOME/.aws/config"
	# through ssh as configured (ControlPersist): the same line on the
	# terminal, then ssh's own
	run -255 sshtty "$BATS_TEST_TMPDIR/out" -o HostName=i-0000000000000000f cloudx-e2e-box true
	[[ "$output" == *"cx-instance: instance 'i-0000000000000000f' not found in region 'eu-west-1'"$'\n'* ]]
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	[ "$(open_sessions)" = 0 ]
}

@test "e2e: deadlines: an agent that never comes online, a session target that never connects (exit 5)" {
	ensure_setup
	standin_config "{\"ping_status\": {\"$ID\": \"ConnectionLost\"}}"
	SECONDS=0
	fail 5 "cx-instance: *" "$ID" --timeout 2
	[ "$SECONDS" -lt 8 ]
	standin_config '{"ping_status": null, "target_not_connected": 1000}'
	SECONDS=0
	fail 5 "cloudx-proxy: the instance's agent did not take the session in time*" "$ID" --timeout 2
	[ "$SECONDS" -lt 8 ]
	[ "$(open_sessions)" = 0 ]
}

@test "e2e: ssh killed mid-session: the tunnel ends, the session ends, nothing left" {
	ensure_setup
	ssh_opts
	mkfifo "$BATS_TEST_TMPDIR/in"
	ssh -o ControlMaster=no -o ControlPath=none "${SSH_OPTS[@]}" cloudx-e2e-box 'echo up; exec cat' \
	    <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>/dev/null 3>&- &
	spid=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
	wait_until 20 grep -q up "$BATS_TEST_TMPDIR/out"
	kill -TERM "$spid"
	wait "$spid" || true
	exec 7>&-
	wait_until 10 no_procs_left
	standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10
}

@test "e2e: stop HOST stops the instance (and says when it already is); wake HOST starts it and waits until online" {
	ensure_setup
	moto_aws ec2 start-instances --instance-ids "$ID" >/dev/null
	run -0 --separate-stderr cloudx-proxy stop cloudx-e2e-box
	assert_equal "$output" ""
	[[ "$stderr" == "cloudx-proxy: stopping cloudx-e2e-box ($ID): running -> stop"* ]]
	[ "$(moto_state "$ID")" = stopped ]
	run -0 --separate-stderr cloudx-proxy stop cloudx-e2e-box
	assert_equal "$stderr" "cloudx-proxy: cloudx-e2e-box ($ID) is already stopped"
	n0=$(standin_log | jq 'map(.n) | max // 0')
	run -0 --separate-stderr cloudx-proxy wake cloudx-e2e-box
	assert_equal "$output" ""
	[[ "$stderr" == *"Starting instance $ID"* ]]
	assert_equal "$(tail -n1 <<<"$stderr")" "cloudx-proxy: cloudx-e2e-box ($ID) is running and its SSM agent is online"
	[ "$(moto_state "$ID")" = running ]
	standin_log | jq -e --argjson n "$n0" '[.[] | select(.n > $n and .op == "DescribeInstanceInformation")] | length >= 1' >/dev/null
	# already running: instant, no start
	run -0 --separate-stderr cloudx-proxy wake cloudx-e2e-box
	assert_equal "$stderr" "cloudx-proxy: cloudx-e2e-box ($ID) is running and its SSM agent is online (it was already)"
	# the short name works as well; an unknown host is one line, exit 2
	run -2 --separate-stderr cloudx-proxy stop no-such-host
	[[ "$stderr" == "cloudx-proxy: 'no-such-host' is not a host of "* ]]
}

@test "e2e: cloudx-proxy login (SSO, auth-code flow), then a connect right after with that profile" {
	ensure_setup
	cat >>"$HOME/.aws/config" <<-EOF
	[profile e2e-sso]
	sso_session = e2e
	sso_account_id = 111122223333
	sso_role_name = Admin
	region = eu-west-1
	[sso-session e2e]
	sso_start_url = https://d-e2e.awsapps.com/start
	sso_region = eu-west-1
	EOF
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\nexec curl -sS -L --max-time 20 -o /dev/null "$1"\n' >"$BATS_TEST_TMPDIR/bin/xdg-open"
	chmod +x "$BATS_TEST_TMPDIR/bin/xdg-open"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 --separate-stderr cloudx-proxy login --profile e2e-sso
	run -0 --separate-stderr sshx1 -o "ProxyCommand=$CX_BIN_DIR/cloudx-proxy connect %h %p --os-user %r --profile e2e-sso" \
	    cloudx-e2e-box 'echo via-sso'
	assert_output "via-sso"
	# the role credentials came from the portal with the token of the login
	standin_log | jq -e '[.[] | select(.kind == "sso" and .path == "/federation/credentials" and .status == 200)] | length >= 1' >/dev/null
	wait_until 10 no_procs_left
}
