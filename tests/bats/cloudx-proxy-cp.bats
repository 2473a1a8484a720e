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

# the remote record of a partial upload: the bytes its steps hold
up_done() { awk 'NR > 3 { d += $2 - $1 } END { print d + 0 }' "$1" 2>/dev/null || echo 0; }
# what the sessions opened since $1 (a JSON list of ids) carried up / down
sent_up() { standin_state | jq --argjson old "$1" '[.sessions | to_entries[] | select(.key as $k | $old | index($k) | not) | .value.stats.in_bytes] | add // 0'; }
sent_down() { standin_state | jq --argjson old "$1" '[.sessions | to_entries[] | select(.key as $k | $old | index($k) | not) | .value.stats.out_bytes] | add // 0'; }
session_ids() { standin_state | jq -c '.sessions | keys'; }

@test "cp: an upload killed with SIGKILL mid-way, then --resume sends only what is missing; another source's partial upload starts over" {
	size=$((40 * 1024 * 1024 + 777))
	head -c "$size" /dev/urandom >"$L/u"
	chmod 604 "$L/u"
	touch -d @1600000000 "$L/u"
	# the stand-in takes no more client bytes after 20 MiB: the upload
	# stalls with one 16 MiB step recorded on the instance
	standin_config '{"stop_acking_after_bytes": 20971520}'
	cpx_bg -q "$L/u" "cloudx-cp-box:$R/u" 3>&- &
	pid=$!
	wait_until 60 sh -c "[ \$(awk 'NR > 3' '$RD/u.cxpart.ranges' 2>/dev/null | wc -l) -ge 1 ]"
	kill -KILL "$pid"
	wait "$pid" || true
	standin_config '{"stop_acking_after_bytes": 0}'
	wait_until 30 no_procs_left
	[ -f "$RD/u.cxpart" ] && [ ! -e "$RD/u" ]
	done1=$(up_done "$RD/u.cxpart.ranges")
	[ "$done1" -ge $((16 * 1024 * 1024)) ] && [ "$done1" -lt "$size" ]
	old=$(session_ids)
	n0=$(sessions)
	run -0 --separate-stderr cpx -j 2 --resume "$L/u" "cloudx-cp-box:$R/u"
	[[ "$stderr" == *"SHA-256 verified" ]]
	[ "$(sum "$RD/u")" = "$(sum "$L/u")" ]
	[ "$(mtime "$RD/u")" = "604 1600000000" ]
	[ ! -e "$RD/u.cxpart" ] && [ ! -e "$RD/u.cxpart.ranges" ]
	# prepare + 2 ranges + finish, carrying only what was missing (+ ssh's own bytes)
	[ "$(( $(sessions) - n0 ))" = 4 ]
	sent=$(sent_up "$old")
	echo "sent $sent, missing $((size - done1))" >&3
	[ "$sent" -lt $((size - done1 + 200000)) ]

	# the record is for another source (size and time differ, as after
	# the local file changed): a warning, then the whole file again
	printf 'junk' >"$RD/u2.cxpart"
	printf 'cloudx-proxy-cp-up 1\nsize 4\nmtime 5\n0 4\n' >"$RD/u2.cxpart.ranges"
	rown "$RD"
	run -0 --separate-stderr cpx --resume "$L/u" "cloudx-cp-box:$R/u2"
	[[ "$stderr" == *"'cloudx-cp-box:$R/u2.cxpart' is the partial upload of another source (size or time differ): starting over"* ]]
	cmp "$L/u" "$RD/u2"
	[ ! -e "$RD/u2.cxpart" ] && [ ! -e "$RD/u2.cxpart.ranges" ]
	# a record that is not one: one line, nothing overwritten
	printf 'x' >"$RD/u3.cxpart"
	printf 'cloudx-proxy-cp-up 1\nsize %s\nmtime 1600000000\n0 x\n' "$size" >"$RD/u3.cxpart.ranges"
	rown "$RD"
	run --separate-stderr cpx -q --resume "$L/u" "cloudx-cp-box:$R/u3"
	[ "$status" = 111 ]
	[[ "$stderr" == *"unreadable record of the partial upload (copy without --resume to start over)" ]]
	[ "$(cat "$RD/u3.cxpart")" = x ] && [ ! -e "$RD/u3" ]
}

@test "cp -r --resume: a killed recursive download and upload, resumed, give the exact tree; complete files are skipped" {
	make_tree "$RD/t"
	rown "$RD"
	total=$(find "$RD/t" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	# down: killed once the big file has 1 MiB
	standin_config '{"pace_ms": 1}'
	cpx_bg -q -r -j 2 "cloudx-cp-box:$R/t" "$L/" 3>&- &
	pid=$!
	wait_until 60 sh -c "[ \$(awk 'NR > 4 { d += \$3 } END { print d + 0 }' '$L/t/sub dir/big.cxpart.ranges' 2>/dev/null || echo 0) -ge 1048576 ]"
	kill -KILL "$pid"
	wait "$pid" || true
	wait_until 10 no_procs_left
	standin_config '{"pace_ms": 0}'
	[ -f "$L/t.cxpart.tree" ] && [ -f "$L/t/sub dir/big.cxpart" ]
	done1=$(awk 'NR > 4 { d += $3 } END { print d + 0 }' "$L/t/sub dir/big.cxpart.ranges")
	old=$(session_ids)
	run -0 --separate-stderr cpx -r -j 2 --resume "cloudx-cp-box:$R/t" "$L/"
	[[ "$stderr" == *"SHA-256 verified" ]]
	[ "$(tree_sig "$L/t")" = "$(tree_sig "$RD/t")" ]
	[ "$(tree_sums "$L/t")" = "$(tree_sums "$RD/t")" ]
	[ "$(stat -c '%a %Y' "$L/t")" = "$(stat -c '%a %Y' "$RD/t")" ]
	[ -z "$(find "$L" -name '*.cxpart*')" ]
	moved=$(sent_down "$old")
	echo "down: moved $moved, missing at most $((total - done1))" >&3
	[ "$moved" -lt $((total - done1 + 200000)) ]
	# resumed again, complete: only the listing and the hashes
	n0=$(sessions)
	run -0 cpx -q -r --resume "cloudx-cp-box:$R/t" "$L/"
	[ "$(( $(sessions) - n0 ))" = 2 ]
	[ "$(tree_sig "$L/t")" = "$(tree_sig "$RD/t")" ]

	# up, to a new name (the copy makes DST itself its top folder), with
	# a file of 70 MiB more: stalled after 18 MiB per session, so big
	# (9 MiB), big2 (5 MiB) and the small files arrive and huge has one
	# 16 MiB step or more when it is killed.  Each session of huge records
	# one step before it stalls, so its first session and all
	# CX_CP_RETRIES (3) retries make 64 MiB at most: huge can never be
	# complete, however late the kill comes (with 20 MiB a retry finished
	# it before the kill once, under load)
	head -c $((70 * 1024 * 1024)) /dev/urandom >"$L/t/sub dir/huge"
	touch -d @1400000000 "$L/t/sub dir/huge" "$L/t/sub dir"
	standin_config '{"stop_acking_after_bytes": 18874368}'
	cpx_bg -q -r -j 4 "$L/t" "cloudx-cp-box:$R/new" 3>&- &
	pid=$!
	big_step() { [ "$(up_done "$RD/new/sub dir/huge.cxpart.ranges")" -ge 16777216 ] && [ -f "$RD/new/-lead/big2" ] && [ -f "$RD/new/sub dir/big" ] && [ -f "$RD/new/a b" ]; }
	wait_until 60 big_step
	kill -KILL "$pid"
	wait "$pid" || true
	standin_config '{"stop_acking_after_bytes": 0}'
	wait_until 30 no_procs_left
	[ -f "$RD/new.cxpart.tree" ] && [ ! -e "$RD/new/sub dir/huge" ]
	done1=$(up_done "$RD/new/sub dir/huge.cxpart.ranges")
	old=$(session_ids)
	# the same operands: DST exists now, the marker says it is the top
	run -0 --separate-stderr cpx -r -j 4 --resume "$L/t" "cloudx-cp-box:$R/new"
	[[ "$stderr" == *"SHA-256 verified" ]]
	[ ! -e "$RD/new/t" ]
	[ "$(tree_sig "$RD/new")" = "$(tree_sig "$L/t")" ]
	[ "$(tree_sums "$RD/new")" = "$(tree_sums "$L/t")" ]
	[ "$(stat -c '%a %Y' "$RD/new")" = "$(stat -c '%a %Y' "$L/t")" ]
	[ -z "$(find "$RD" -name '*.cxpart*')" ] && [ ! -e "$RD/new.cxpart.tree" ]
	sent=$(sent_up "$old")
	big=$(stat -c %s "$L/t/sub dir/huge")
	echo "up: sent $sent, missing $((big - done1))" >&3
	[ "$sent" -lt $((big - done1 + 200000)) ]
}

# A file past 4 GiB without moving 4 GiB: sparse below, random bytes from
# 2 MiB under 4 GiB to 3 MiB + 5 over it, and a prepared partial state
# (the record says all below the random part is there) resumed in ranges
# that cross the 4 GiB offset.  The SHA-256 of the whole file takes about
# a minute on a small machine: CX_CHECK_LONG=1 (make check-long) turns
# --verify on; otherwise the tail's checksum is compared (--verify of the
# whole file is covered by the tests above).
@test "cp: a file past 4 GiB down and up, resumed from a prepared partial state, ranges crossing 4 GiB" {
	big=$((4096 * 1024 * 1024 + 3 * 1024 * 1024 + 5))
	start=$((4094 * 1024 * 1024))
	v=--no-verify
	[ -z "${CX_CHECK_LONG:-}" ] || v=--verify
	tailsum() { tail -c +$((start + 1)) "$1" | sha256sum; }

	# down: the record has [0, start) done and [start, big) to do
	truncate -s "$start" "$RD/huge"
	head -c $((big - start)) /dev/urandom >>"$RD/huge"
	touch -d @1600000000 "$RD/huge"
	rown "$RD"
	truncate -s "$big" "$L/huge.cxpart"
	printf 'cloudx-proxy-cp 1\nsize %s\nmtime 1600000000\nranges 2\n0 %s %s\n%s %s 0\n' \
	    "$big" "$start" "$start" "$start" "$big" >"$L/huge.cxpart.ranges"
	old=$(session_ids)
	run -0 --separate-stderr cpx -j 2 --resume "$v" "cloudx-cp-box:$R/huge" "$L/huge"
	[ "$(stat -c '%s %a %Y' "$L/huge")" = "$big $(stat -c '%a' "$RD/huge") 1600000000" ]
	[ "$(tailsum "$L/huge")" = "$(tailsum "$RD/huge")" ]
	[ ! -e "$L/huge.cxpart" ] && [ ! -e "$L/huge.cxpart.ranges" ]
	moved=$(sent_down "$old")
	[ "$moved" -lt $((big - start + 200000)) ]
	[ "$moved" -ge $((big - start)) ]

	# up: the remote partial file and record have [0, start)
	cp --sparse=always "$RD/huge" "$L/hup"
	touch -d @1600000000 "$L/hup"
	truncate -s "$start" "$RD/hup.cxpart"
	printf 'cloudx-proxy-cp-up 1\nsize %s\nmtime 1600000000\n0 %s\n' "$big" "$start" >"$RD/hup.cxpart.ranges"
	rown "$RD"
	old=$(session_ids)
	run -0 --separate-stderr cpx -j 2 --resume "$v" "$L/hup" "cloudx-cp-box:$R/hup"
	[ "$(stat -c '%s %Y' "$RD/hup")" = "$big 1600000000" ]
	[ "$(tailsum "$RD/hup")" = "$(tailsum "$L/hup")" ]
	[ ! -e "$RD/hup.cxpart" ] && [ ! -e "$RD/hup.cxpart.ranges" ]
	sent=$(sent_up "$old")
	[ "$sent" -lt $((big - start + 200000)) ]
	[ "$sent" -ge $((big - start)) ]
	[ -z "${CX_CHECK_LONG:-}" ] || [[ "$stderr" == *"SHA-256 verified" ]]
}
