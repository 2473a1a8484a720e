#!/usr/bin/env bats
# cloudx-proxy cp: real ssh connections through the generated config
# (`cloudx-proxy setup --yes` against moto + the SSM stand-in), each with
# its own SSM session, to a real sshd whose "instance" is this machine.  As
# root (CI) the sshd logs in ec2-user, as the generated config says; the
# "remote" files live in that user's home.
load ../helpers/common
load ../helpers/moto
load ../helpers/ec2proxy

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
	ec2proxy_start
	read -r AK SK < <(moto_user cloudX-cp-alice)
	export AK SK
	ID=$(moto_instance running '[{Key=Name,Value=cloudx-cp-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	RHOME=$(getent passwd "$SSHD_USER" | cut -d: -f6)
	export SSHD_PID SSHD_USER SSHD_PORT SSHD_HOSTKEY_PUB STANDIN_PID MOTO_PID RHOME \
	    EC2PROXY_PID EC2PROXY_URL
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	ec2proxy_stop
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
	    AWS_ENDPOINT_URL_SSO="$STANDIN_URL" AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2="$EC2PROXY_URL"
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
	${CPX_EXEC:+exec} cloudx-proxy cp "${o[@]}" "$@"
}
# cpx in the background with $! its own PID: cpx_bg ARGS... &
cpx_bg() { CPX_EXEC=1 cpx "$@"; }
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

	# an upload goes over one session (the agent does not pace them) ...
	n0=$(sessions)
	run -0 cpx -q "$L/big" cloudx-cp-box:"$R/up"
	[ -z "$output" ]
	[ "$(sum "$RD/up")" = "$(sum "$L/big")" ]
	[ "$(mtime "$RD/up")" = "640 1600000000" ]
	[ ! -e "$RD/up.cxpart" ]
	[ "$(( $(sessions) - n0 ))" = 1 ]
	# ... or in -j ranges: prepare + 4 ranges + finish
	n0=$(sessions)
	run -0 cpx -q -j 4 "$L/big" cloudx-cp-box:"$R/up4"
	[ "$(sum "$RD/up4")" = "$(sum "$L/big")" ]
	[ "$(mtime "$RD/up4")" = "640 1600000000" ]
	[ "$(( $(sessions) - n0 ))" = 6 ]
	[ ! -e "$RD/up4.cxpart" ]

	run -0 cpx -q cloudx-cp-box:"$R/empty" "$L/empty"
	[ -f "$L/empty" ] && [ ! -s "$L/empty" ]
	run -0 cpx -q "$L/empty" cloudx-cp-box:"$R/"
	[ -f "$RD/empty" ] && [ ! -s "$RD/empty" ]
	: >"$L/e2"
	run -0 cpx -q "$L/e2" cloudx-cp-box:"$R"
	[ -f "$RD/e2" ] && [ ! -s "$RD/e2" ]
}

@test "cp: awkward remote names (spaces, quotes, \$, newline, leading -) both ways" {
	for name in 'a b' "it's" 'q"q' '$HOME x' $'new\nline' '-rf' '--x' '`id`;x'; do
		head -c 3000 /dev/urandom >"$L/f"
		run -0 cpx -q -j 2 "$L/f" "cloudx-cp-box:$R/$name"
		cmp "$L/f" "$RD/$name"
		rm -f "$L/g"
		run -0 cpx -q "cloudx-cp-box:$R/$name" "$L/g"
		cmp "$L/f" "$L/g"
		run -0 cpx -q "$L/f" "cloudx-cp-box:$R/$name"
		cmp "$L/f" "$RD/$name"
	done
	# nothing else appeared remotely (no word split, no expansion)
	[ "$(find "$RD" -mindepth 1 -printf x | wc -c)" = 8 ]
}

@test "cp: killed with SIGKILL mid-way, then --resume gives the exact file and moves only the rest" {
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$RD/r"
	rown "$RD"
	standin_config '{"pace_ms": 1}'
	cpx_bg -q -j 3 "cloudx-cp-box:$R/r" "$L/r" 3>&- &
	pid=$!
	# the ranges record says at least 1 MiB is written
	wait_until 60 sh -c "[ \$(awk 'NR > 4 { d += \$3 } END { print d + 0 }' '$L/r.cxpart.ranges') -ge 1048576 ]"
	kill -KILL "$pid"
	wait "$pid" || true
	[ -f "$L/r.cxpart" ] && [ ! -e "$L/r" ]
	done1=$(awk 'NR > 4 { d += $3 } END { print d }' "$L/r.cxpart.ranges")
	wait_until 10 no_procs_left
	standin_config '{"pace_ms": 0}'
	old=$(standin_state | jq -c '.sessions | keys')
	run -0 --separate-stderr cpx -j 3 --resume "cloudx-cp-box:$R/r" "$L/r"
	cmp "$RD/r" "$L/r"
	[ ! -e "$L/r.cxpart" ] && [ ! -e "$L/r.cxpart.ranges" ]
	# the new sessions carried at most what was missing (+ ssh's own bytes)
	moved=$(standin_state | jq --argjson old "$old" '[.sessions | to_entries[] | select(.key as $k | $old | index($k) | not) | .value.stats.out_bytes] | add')
	[ "$moved" -lt $((6 * 1024 * 1024 - done1 + 200000)) ]
}

@test "cp: a session closed mid-range is retried (its range only); SIGTERM ends every ssh and leaves it resumable" {
	head -c $((4 * 1024 * 1024)) /dev/urandom >"$RD/d"
	rown "$RD"
	standin_config '{"pace_ms": 1}'
	n0=$(sessions)
	cpx_bg -j 2 "cloudx-cp-box:$R/d" "$L/d" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	victim() { standin_state | jq -r '.sessions[] | select(.status == "connected" and .stats.out_bytes > 500000) | .SessionId' | head -1; }
	has_victim() { [ -n "$(victim)" ]; }
	wait_until 60 has_victim
	sid=$(victim)
	curl -sf -X POST -d '{"output": "dropped by the test"}' "$STANDIN_URL/standin/sessions/$sid/close" >/dev/null
	wait "$pid"
	cmp "$RD/d" "$L/d"
	grep -q "failed.*retrying its range" "$BATS_TEST_TMPDIR/err"
	# probe + 2 ranges + 1 retry
	[ "$(( $(sessions) - n0 ))" = 4 ]

	# SIGTERM: every ssh ends, the partial file and its record stay
	rm -f "$L/d"
	cpx_bg -q -j 2 "cloudx-cp-box:$R/d" "$L/d" 3>&- &
	pid=$!
	wait_until 60 sh -c "[ \$(awk 'NR > 4 { d += \$3 } END { print d + 0 }' '$L/d.cxpart.ranges') -ge 300000 ]"
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" = 143 ]
	[ -f "$L/d.cxpart" ] && [ -f "$L/d.cxpart.ranges" ]
	wait_until 10 no_procs_left
	standin_config '{"pace_ms": 0}'
	run -0 cpx -q --resume "cloudx-cp-box:$R/d" "$L/d"
	cmp "$RD/d" "$L/d"
}

@test "cp: a stopped instance is started once, by the first connection, before the others open" {
	head -c $((3 * 1024 * 1024 + 7)) /dev/urandom >"$RD/s"
	rown "$RD"
	moto_aws ec2 stop-instances --instance-ids "$ID" >/dev/null
	[ "$(moto_state "$ID")" = stopped ]
	ec2proxy_reset
	n0=$(sessions)
	run -0 cpx -q -j 4 "cloudx-cp-box:$R/s" "$L/s"
	cmp "$RD/s" "$L/s"
	[ "$(ec2proxy_actions | grep -c '^StartInstances')" = 1 ]
	# probe + 4 ranges
	[ "$(( $(sessions) - n0 ))" = 5 ]
}

@test "cp: a connect that cannot work fails the whole copy at once with its line and status" {
	head -c 1000 /dev/urandom >"$RD/x"
	rown "$RD"
	standin_config '{"deny_actions": ["ssm:StartSession"]}'
	run --separate-stderr cpx -q "cloudx-cp-box:$R/x" "$L/x"
	[ "$status" = 1 ]
	[[ "$stderr" == "cloudx-proxy: cannot start a session on '$ID': "*AccessDenied* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
	[ ! -e "$L/x" ]
	standin_config '{"deny_actions": null}'
	run --separate-stderr cpx -q "cloudx-cp-box:$R/missing" "$L/x"
	[ "$status" = 2 ]
	[[ "$stderr" == *"missing"*"No such file"* ]]
	run --separate-stderr cpx -q "cloudx-cp-box:$R" "$L/x"
	[ "$status" = 100 ]
	[[ "$stderr" == *"is a folder (use -r)"* ]]
}

@test "cp: usage errors are one line and exit 100" {
	run -100 --separate-stderr cloudx-proxy cp
	[[ "$stderr" == *"cp wants SRC and DST"* ]]
	run -100 --separate-stderr cloudx-proxy cp a b
	[[ "$stderr" == *"exactly one of SRC and DST must be HOST:PATH"* ]]
	run -100 --separate-stderr cloudx-proxy cp -j 0 a h:b
	[[ "$stderr" == *"-j wants a number from 1 to 32"* ]]
	run -100 --separate-stderr cloudx-proxy cp -- -h:x y
	run -100 --separate-stderr cloudx-proxy cp --resume a h:b
	[[ "$stderr" == *"--resume is for downloads"* ]]
	run -0 cloudx-proxy cp --help
	[[ "$output" == "usage: cloudx-proxy cp "* ]]
}

# a tree with awkward names, small files and big ones, modes and times
make_tree() {
	local t=$1
	mkdir -p "$t/sub dir/deep" "$t/-lead" "$t/q'uote" "$t/empty"
	head -c 5000 /dev/urandom >"$t/a b"
	head -c $((9 * 1024 * 1024 + 3)) /dev/urandom >"$t/sub dir/big"
	head -c 100 /dev/urandom >"$t/sub dir/deep/\$x"
	head -c 100 /dev/urandom >"$t/-lead/-rf"
	printf 'x' >"$t/q'uote/new"$'\n'"line"
	: >"$t/zero"
	head -c $((5 * 1024 * 1024)) /dev/urandom >"$t/-lead/big2"
	chmod 751 "$t/sub dir"
	chmod 600 "$t/a b"
	chmod 755 "$t/-lead/-rf"
	chmod 700 "$t/empty"
	find "$t" -exec touch -h -d @1500000000 {} +
	touch -d @1400000000 "$t/sub dir/big" "$t/sub dir"
}
# one line per entry: relative name (escaped), type, size, mode, mtime
tree_sig() { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%s|%m|%T@\n' | LC_ALL=C sort) | cksum; }
tree_sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

@test "cp -r: a tree with awkward names down and up, files spread over the sessions, modes and times kept" {
	make_tree "$RD/t"
	rown "$RD"
	n0=$(sessions)
	run -0 --separate-stderr cpx -r -j 4 "cloudx-cp-box:$R/t" "$L/"
	[[ "$stderr" == *"SHA-256 verified" ]]
	[ "$(tree_sig "$L/t")" = "$(tree_sig "$RD/t")" ]
	[ "$(tree_sums "$L/t")" = "$(tree_sums "$RD/t")" ]
	[ "$(stat -c '%a %Y' "$L/t")" = "$(stat -c '%a %Y' "$RD/t")" ]
	[ -z "$(find "$L" -name '*.cxpart*')" ]
	# list + hashes + one tar + 1 range of big2 + 1 of big (9 MiB: one per 8 MiB)
	[ "$(( $(sessions) - n0 ))" = 5 ]

	# up, into an existing folder: DST/t
	mkdir "$RD/up"
	rown "$RD"
	run -0 cpx -q -r "$L/t" "cloudx-cp-box:$R/up"
	[ "$(tree_sig "$RD/up/t")" = "$(tree_sig "$L/t")" ]
	[ "$(tree_sums "$RD/up/t")" = "$(tree_sums "$L/t")" ]
	# and to a new name
	run -0 cpx -q -r "$L/t" "cloudx-cp-box:$R/new"
	[ "$(tree_sig "$RD/new")" = "$(tree_sig "$L/t")" ]
	[ "$(stat -c '%a %Y' "$RD/new")" = "$(stat -c '%a %Y' "$L/t")" ]
}

@test "cp: on a terminal a progress line (bytes, MiB/s, ETA, sessions live); -q shows nothing" {
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$RD/p"
	rown "$RD"
	standin_config '{"pace_ms": 1}'
	o=(-F "$HOME/.ssh/config" -o "UserKnownHostsFile=$HOME/.ssh/known_hosts")
	[ "$SSHD_USER" = ec2-user ] || o+=(-o "User=$SSHD_USER")
	run -0 script -qefc "$(printf '%q ' cloudx-proxy cp -j 3 "${o[@]}" "cloudx-cp-box:$R/p" "$L/p")" /dev/null </dev/null
	cmp "$RD/p" "$L/p"
	[[ "$output" =~ [0-9.]+\ MiB\ /\ 3\.0\ MiB\ \ [0-9.]+\ MiB/s\ \ ETA\ [0-9-]+:[0-9-]+\ \ [1-3]\ session ]]
	[[ "$output" == *"3.0 MiB in "*"3 connections, SHA-256 verified"* ]]
	rm "$L/p"
	run -0 script -qefc "$(printf '%q ' cloudx-proxy cp -q -j 3 "${o[@]}" "cloudx-cp-box:$R/p" "$L/p")" /dev/null </dev/null
	[ -z "$output" ]
	cmp "$RD/p" "$L/p"
}

@test "cp: several SRC into a folder, both ways; DST must be a folder" {
	head -c 2000 /dev/urandom >"$RD/one"
	head -c 3000 /dev/urandom >"$RD/two words"
	mkdir "$RD/in"
	rown "$RD"
	mkdir "$L/d"
	run -0 cpx -q "cloudx-cp-box:$R/one" "cloudx-cp-box:$R/two words" "$L/d"
	cmp "$RD/one" "$L/d/one"
	cmp "$RD/two words" "$L/d/two words"
	run -0 cpx -q "$L/d/one" "$L/d/two words" "cloudx-cp-box:$R/in"
	cmp "$RD/one" "$RD/in/one"
	cmp "$RD/two words" "$RD/in/two words"
	run -100 --separate-stderr cpx -q "cloudx-cp-box:$R/one" "cloudx-cp-box:$R/one" "$L/nodir"
	[[ "$stderr" == *"'$L/nodir' must be a folder for several SRC"* ]]
	run -100 --separate-stderr cpx -q "cloudx-cp-box:$R/one" "other:$R/one" "$L/d"
	[[ "$stderr" == *"every SRC must be on the same host"* ]]
}

@test "cp: a copy that differs from the source is an error, never silent (a corrupted partial file resumed)" {
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$RD/m"
	rown "$RD"
	standin_config '{"pace_ms": 1}'
	cpx_bg -q -j 2 "cloudx-cp-box:$R/m" "$L/m" 3>&- &
	pid=$!
	wait_until 60 sh -c "[ \$(awk 'NR > 4 { d += \$3 } END { print d + 0 }' '$L/m.cxpart.ranges' 2>/dev/null || echo 0) -ge 100000 ]"
	kill -KILL "$pid"
	wait "$pid" || true
	wait_until 10 no_procs_left
	# the first byte, already recorded as written, goes bad
	head -c 1 "$RD/m" | tr '\000-\377' '\001-\377\000' | dd of="$L/m.cxpart" conv=notrunc status=none
	standin_config '{"pace_ms": 0}'
	run --separate-stderr cpx -q --resume "cloudx-cp-box:$R/m" "$L/m"
	[ "$status" = 111 ]
	[[ "$stderr" == *"'$L/m' differs from 'cloudx-cp-box:$R/m' (SHA-256 "*"): left as '$L/m.cxpart'" ]]
	[ ! -e "$L/m" ] && [ -f "$L/m.cxpart" ]
}
