#!/usr/bin/env bats
# The fault matrix: AWS answering 500, throttling or hanging (timeouts fire,
# retries are bounded and counted server-side, the message is clear); a
# config write killed between write and rename, a full disk, concurrent
# writers; credentials and keys with loose permissions; and, with
# cx-tunnel, the websocket dropped, a gateway that stops acking, a giant
# frame.

load ../helpers/common
load ../helpers/wsfault

setup_file() {
	FAULT_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/fault.XXXXXX")
	python3 "$BATS_TEST_DIRNAME/../tools/faultserver.py" \
	    "$FAULT_DIR/port" >"$FAULT_DIR/log" 2>&1 3>&- &
	export FAULT_PID=$!
	wait_until 10 test -s "$FAULT_DIR/port"
	export FAULT_URL="http://127.0.0.1:$(cat "$FAULT_DIR/port")"
}

teardown_file() {
	stop_pid "${FAULT_PID:-}"
}

setup() {
	common_setup
	umask 077
	MOUNTED=
	curl -sf -X POST "$FAULT_URL/_reset" >/dev/null
}

teardown() {
	wsfix_stop
	if [ -n "$MOUNTED" ]; then
		umount "$MOUNTED" || true
	fi
}

count() {
	curl -sf "$FAULT_URL/_count/$1" | jq -r .count
}

# sts SCENARIO [ENV...]: cx-creds --identity against the fault server
sts() {
	local s=$1; shift
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIAFAULT \
	    AWS_SECRET_ACCESS_KEY=fault-secret AWS_REGION=eu-west-1 \
	    AWS_ENDPOINT_URL_STS="$FAULT_URL/$s" "$@" \
	    ${CX_WRAP:-} "$CX_BIN_DIR/cx-creds" --identity
}

one_line() {
	[ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] ||
	    fail "expected one line on stderr, got: $stderr"
	[[ "$stderr" == *"$1"* ]] || fail "stderr lacks '$1': $stderr"
}

# --- AWS --------------------------------------------------------------------

@test "faults: AWS 500 with an HTML page: 3 attempts, exit 111, a clear line" {
	sts e500html CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -eq 111 ]
	one_line "cx-creds: cannot get the caller identity: HTTP 500 from the server (after retries)"
	[ "$(count e500html)" -eq 3 ]
}

@test "faults: AWS 503 twice then an answer: success on the third attempt" {
	sts s503x2 CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.. | .Arn? // empty][0]' <<<"$output")" = \
	    "arn:aws:iam::123456789012:user/fault" ]
	[ -z "$stderr" ]
	[ "$(count s503x2)" -eq 3 ]
}

@test "faults: throttling: retries bounded by max_attempts (3, 5, at most 20), exit 111" {
	sts throttle CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -eq 111 ]
	one_line "cx-creds: cannot get the caller identity: Throttling: Rate exceeded"
	[ "$(count throttle)" -eq 3 ]
	curl -sf -X POST "$FAULT_URL/_reset" >/dev/null
	sts throttlejson AWS_MAX_ATTEMPTS=5 CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -eq 111 ]
	[ "$(count throttlejson)" -eq 5 ]
	# an absurd setting is not obeyed: one warning, then the default
	curl -sf -X POST "$FAULT_URL/_reset" >/dev/null
	sts throttle AWS_MAX_ATTEMPTS=1000 CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -ne 0 ]
	[ "$(count throttle)" -le 20 ]
}

@test "faults: AWS hangs: each attempt times out, 3 attempts, exit 111 in bounded time" {
	local t0=$SECONDS
	sts hang CX_HTTP_TIMEOUT_MS=700 CX_AWS_MAX_BACKOFF_MS=10
	[ "$status" -eq 111 ]
	one_line "cx-creds: cannot get the caller identity: timed out"
	[ "$(count hang)" -eq 3 ]
	[ $((SECONDS - t0)) -lt 15 ]
}

@test "faults: AWS refuses the connection: exit 111 quickly, a clear line" {
	local port
	port=$(free_port)
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIAFAULT \
	    AWS_SECRET_ACCESS_KEY=s AWS_REGION=eu-west-1 CX_AWS_MAX_BACKOFF_MS=10 \
	    AWS_ENDPOINT_URL_STS="http://127.0.0.1:$port" \
	    ${CX_WRAP:-} "$CX_BIN_DIR/cx-creds" --identity
	[ "$status" -eq 111 ]
	[ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ]
	[[ "$stderr" == "cx-creds: cannot get the caller identity: "* ]]
}

# issue 16 item 7: hostile headers and bodies give a transport verdict that
# names what was wrong, exit 111, once (not retried)
@test "faults: a header line over 100 KB: 'bad answer: a header line over 102400 bytes', exit 111, not retried" {
	sts hugeheader
	[ "$status" -eq 111 ] || fail "exit $status: $stderr"
	one_line "cx-creds: cannot get the caller identity: bad answer: a header line over 102400 bytes"
	[ "$(count hugeheader)" -eq 1 ]
}

@test "faults: endless 1 KB header lines: 'bad answer: over 200 header lines', exit 111, not retried" {
	sts manyheaders
	[ "$status" -eq 111 ] || fail "exit $status: $stderr"
	one_line "cx-creds: cannot get the caller identity: bad answer: over 200 header lines"
	[ "$(count manyheaders)" -eq 1 ]
}

@test "faults: malformed JSON and XML answers name the parser that ran, exit 111, not retried" {
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIAFAULT \
	    AWS_SECRET_ACCESS_KEY=fault-secret AWS_REGION=eu-west-1 \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$FAULT_URL/badjson" \
	    ${CX_WRAP:-} "$CX_BIN_DIR/cx-pushkey" -k "$BATS_TEST_TMPDIR/k.pub" \
	    i-0123456789abcdef0 </dev/null
	[ "$status" -eq 111 ] || fail "exit $status: $stderr"
	one_line "bad answer: malformed JSON"
	[[ "$stderr" != *XML* ]] || fail "names XML for a JSON answer: $stderr"
	[ "$(count badjson)" -eq 1 ]
	sts badxml
	[ "$status" -eq 111 ] || fail "exit $status: $stderr"
	one_line "cx-creds: cannot get the caller identity: bad answer: unreadable XML"
	[ "$(count badxml)" -eq 1 ]
}

# issue 16 item 8: a rejected certificate on the AWS API path is named with
# its fix, and not retried (as cx-tunnel does for wss://)
@test "faults: a self-signed certificate on the AWS API: one line naming it and AWS_CA_BUNDLE, exit 111, one attempt" {
	local d=$BATS_TEST_TMPDIR tpid
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/tls.key" \
	    -out "$d/tls.crt" -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	python3 "$CX_ROOT/tests/tools/tlsproxy.py" --cert "$d/tls.crt" \
	    --key "$d/tls.key" --target-port "${FAULT_URL##*:}" \
	    --port-file "$d/tls.port" >/dev/null 2>&1 3>&- &
	tpid=$!
	wait_until 10 test -s "$d/tls.port"
	local url="https://127.0.0.1:$(cat "$d/tls.port")/ok"
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIAFAULT \
	    AWS_SECRET_ACCESS_KEY=fault-secret AWS_REGION=eu-west-1 \
	    AWS_ENDPOINT_URL_STS="$url" \
	    ${CX_WRAP:-} "$CX_BIN_DIR/cx-creds" -vv --identity
	local st=$status err=$stderr
	# with the CA named, the same server is trusted (the check is real)
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIAFAULT \
	    AWS_SECRET_ACCESS_KEY=fault-secret AWS_REGION=eu-west-1 \
	    AWS_ENDPOINT_URL_STS="$url" AWS_CA_BUNDLE="$d/tls.crt" \
	    ${CX_WRAP:-} "$CX_BIN_DIR/cx-creds" --identity
	stop_pid "$tpid"
	[ "$status" -eq 0 ] || fail "with AWS_CA_BUNDLE: exit $status: $stderr"
	[ "$st" -eq 111 ] || fail "exit $st: $err"
	local errors
	errors=$(grep -v ': debug: ' <<<"$err")
	[ "$(grep -c . <<<"$errors")" -eq 1 ] || fail "not one line: $errors"
	[[ "$errors" == *"cx-creds: cannot get the caller identity: the TLS certificate of '127.0.0.1:"*"' was not accepted: SSL certificate problem: self-signed certificate"*"AWS_CA_BUNDLE"* ]] ||
	    fail "unclear: $errors"
	# one attempt: the debug lines show no second one
	grep -q 'attempt 1/3' <<<"$err" || fail "no attempt line: $err"
	! grep -q 'attempt 2/3' <<<"$err" || fail "retried: $err"
}

# --- config writes ------------------------------------------------------------

# A config with one environment, big enough that writing it takes a moment.
make_config() {
	CFG="$BATS_TEST_TMPDIR/ssh/config"
	mkdir -p "$BATS_TEST_TMPDIR/ssh"
	cx cx-sshconf -c "$CFG" -e dev -x /usr/bin/cloudx-proxy \
	    -d "$BATS_TEST_TMPDIR/ssh" -k key set-env >/dev/null
	local i
	for i in $(seq 1 "${1:-0}"); do
		printf '# padding line %05d %s\n' "$i" \
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	done >>"$CFG"
}

add_host() {
	cx cx-sshconf -c "$CFG" -e dev -N "$1" -i i-0123456789abcdef0 add-host
}

build_shim() {
	SHIM="$BATS_TEST_TMPDIR/killrename.so"
	cc -shared -fPIC -o "$SHIM" "$CX_ROOT/tests/tools/killrename.c" -ldl
}

@test "faults: config write killed (SIGKILL) between write and rename: old file intact, next run cleans up" {
	make_config 200
	cp "$CFG" "$BATS_TEST_TMPDIR/old"
	build_shim
	run env LD_PRELOAD="$SHIM" CX_KILL_AT_RENAME=1 \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    "$CX_BIN_DIR/cx-sshconf" -c "$CFG" -e dev -N box \
	    -i i-0123456789abcdef0 add-host
	[ "$status" -eq 137 ]	# killed
	cmp "$CFG" "$BATS_TEST_TMPDIR/old"
	# the killed run left its complete temporary file behind
	ls "$CFG".tmp.* >/dev/null
	# the next run writes the new file and removes the leftover
	run -0 add_host box
	grep -q '^Host cloudx-dev-box$' "$CFG"
	run ls "$BATS_TEST_TMPDIR/ssh"
	[[ "$output" != *".tmp."* ]]
	cmp "$CFG.bak" "$BATS_TEST_TMPDIR/old"
}

@test "faults: config writes killed at random moments: always exactly the old or the new file" {
	make_config 3000
	cp "$CFG" "$BATS_TEST_TMPDIR/old"
	cp "$CFG" "$BATS_TEST_TMPDIR/expect"
	( CFG="$BATS_TEST_TMPDIR/expect"; add_host box >/dev/null )
	local i pid d old=0 new=0
	for i in $(seq 1 25); do
		cp "$BATS_TEST_TMPDIR/old" "$CFG"
		"$CX_BIN_DIR/cx-sshconf" -c "$CFG" -e dev -N box \
		    -i i-0123456789abcdef0 add-host >/dev/null 2>&1 &
		pid=$!
		d=$(( (RANDOM % 15) * 1000 ))
		# the fault: a kill after a random 0-15 ms (not a synchronisation)
		sleep "0.$(printf '%06d' "$d")"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if cmp -s "$CFG" "$BATS_TEST_TMPDIR/old"; then
			old=$((old + 1))
		elif cmp -s "$CFG" "$BATS_TEST_TMPDIR/expect"; then
			new=$((new + 1))
		else
			fail "run $i: $CFG is neither the old nor the new file"
		fi
	done
	echo "# old $old, new $new" >&3
	# whatever was left over goes with the next complete run
	cp "$BATS_TEST_TMPDIR/old" "$CFG"
	run -0 add_host box
	cmp "$CFG" "$BATS_TEST_TMPDIR/expect"
	run ls "$BATS_TEST_TMPDIR/ssh"
	[[ "$output" != *".tmp."* ]]
}

@test "faults: a full disk (64 KiB tmpfs): clear error, old file intact, no temporary file" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
	local mnt="$BATS_TEST_TMPDIR/full"
	mkdir -p "$mnt"
	# mode 0700: a folder others may write is not used (docs/limits.md)
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$mnt" || skip "cannot mount a tmpfs here"
	MOUNTED=$mnt
	CFG="$mnt/config"
	cx cx-sshconf -c "$CFG" -e dev -x /usr/bin/cloudx-proxy -d "$mnt" \
	    -k key set-env >/dev/null
	# fill the disk: a config of ~40 KiB and a filler for the rest
	for i in $(seq 1 500); do printf '# padding %05d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n' "$i"; done >>"$CFG"
	head -c 16384 /dev/zero >"$mnt/filler" || true
	cp "$CFG" "$BATS_TEST_TMPDIR/old"
	run --separate-stderr add_host box
	[ "$status" -eq 111 ]
	one_line "No space left on device"
	cmp "$CFG" "$BATS_TEST_TMPDIR/old"
	run ls "$mnt"
	[[ "$output" != *".tmp."* ]]
}

@test "faults: eight concurrent writers of one ssh config: every host is there" {
	make_config 500
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		add_host "host$i" >/dev/null 2>"$BATS_TEST_TMPDIR/err$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3 4 5 6 7 8; do
		grep -q "^Host cloudx-dev-host$i\$" "$CFG" || fail "host$i lost: $(cat "$BATS_TEST_TMPDIR/err$i")"
	done
	[ "$(grep -c '^Host cloudx-dev-host' "$CFG")" -eq 8 ]
}

# --- permissions ----------------------------------------------------------------

@test "faults: a world-readable ~/.aws/credentials draws one warning; a private one none" {
	mkdir -p "$HOME/.aws"
	printf '[default]\naws_access_key_id = AKIAPERM\naws_secret_access_key = s\n' \
	    >"$HOME/.aws/credentials"
	chmod 644 "$HOME/.aws/credentials"
	run --separate-stderr cx cx-creds --region eu-west-1
	[ "$status" -eq 0 ]
	one_line "cx-creds: warning: '$HOME/.aws/credentials' holds AWS secrets but is readable by everyone (run: chmod 600 '$HOME/.aws/credentials')"
	[ "$(jq -r .AccessKeyId <<<"$output")" = AKIAPERM ]
	chmod 600 "$HOME/.aws/credentials"
	run --separate-stderr cx cx-creds --region eu-west-1
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "faults: a private key others may read is refused (like ssh), a 0600 one is not" {
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/key"
	chmod 644 "$BATS_TEST_TMPDIR/key"
	run --separate-stderr cx cx-pushkey -k "$BATS_TEST_TMPDIR/key.pub" \
	    i-0123456789abcdef0 </dev/null
	[ "$status" -eq 100 ]
	one_line "cx-pushkey: permissions 0644 for '$BATS_TEST_TMPDIR/key' are too open: ssh will ignore this private key (run: chmod 600 '$BATS_TEST_TMPDIR/key')"
	chmod 600 "$BATS_TEST_TMPDIR/key"
	run --separate-stderr cx cx-pushkey -k "$BATS_TEST_TMPDIR/key.pub" \
	    i-0123456789abcdef0 </dev/null
	[ "$status" -ne 0 ]	# no credentials here; but not for the key
	[[ "$stderr" != *"too open"* ]]
}

# --- the data channel (needs cx-tunnel) ------------------------------------------

@test "faults: websocket dropped mid-transfer: cx-tunnel resumes, the bytes arrive exact" {
	wsfix 2000000 '{"drop_after_bytes":300000}'
	tunnel 20
	[ "$st" -eq 0 ] || fail "exit $st after ${took}s: $err"
	cmp "$T/in" "$T/out" || fail "bytes differ after the resume"
	[ "$(sess_stat drops)" -ge 1 ] || fail "the websocket was not dropped"
	standin_state | jq -e '[.sessions[] | .resumes // .stats.resumes // 0] | add >= 1' >/dev/null ||
	    standin_log | grep -q ResumeSession || fail "no ResumeSession"
}

@test "faults: a gateway that goes silent on one connection: cx-tunnel resumes after the stall timeout, bytes exact" {
	wsfix 2000000 '{"stop_acking_after_bytes":100000,"stop_acking_once":true}'
	tunnel 40 --stall-timeout 2
	[ "$st" -eq 0 ] || fail "exit $st after ${took}s: $err"
	acking_stopped || fail "the gateway never stopped acking"
	[[ "$err" == *"nothing acknowledged for 2 s: reconnecting the data channel"* ]] ||
	    fail "no clear line: $err"
	[ "$(standin_state | jq '[.sessions[].resumes] | add')" -ge 1 ] || fail "no ResumeSession"
	cmp "$T/in" "$T/out" || fail "bytes differ after the stall"
}

@test "faults: a gateway that stops acking for good: cx-tunnel resumes once, then exits 6 with one line" {
	wsfix 2000000 '{"stop_acking_after_bytes":100000}'
	tunnel 40 --stall-timeout 2
	[ "$st" -eq 6 ] || fail "exit $st after ${took}s: $err"
	# 2 s stalled, resume, 2 s stalled again, exit (no 5 s drain: no EOF)
	[ "$took" -le 12 ] || fail "took ${took}s"
	[ "$(tail -1 "$T/err")" = "cx-tunnel: the data channel stalled: nothing acknowledged for 2 s, even after resuming the session" ] ||
	    fail "no clear last line: $err"
	[ "$(grep -c stalled "$T/err")" -eq 1 ] || fail "said more than once: $err"
	[ "$(standin_state | jq '[.sessions[].resumes] | add')" -eq 1 ] || fail "not exactly one resume"
	# less than everything arrived, and what did is a prefix of the input
	local n
	n=$(stat -c %s "$T/out")
	[ "$n" -lt 2000000 ]
	cmp -n "$n" "$T/in" "$T/out"
}

@test "faults: a gateway that stops acking: SIGTERM ends cx-tunnel before the stall timeout, one clear warning" {
	# the user's signal (ssh closing, Ctrl-C) is not held up by the
	# stall timeout: window wait <= 5 s, then exit
	wsfix 2000000 '{"stop_acking_after_bytes":100000}'
	mkfifo "$T/fifo"
	exec 7<>"$T/fifo"
	cat "$T/in" >&7 3>&- &
	CAT_PID=$!
	timeout 30 "$CX_BIN_DIR/cx-tunnel" --stall-timeout 600 --context "$T/ctx.json" "$IID" 22 \
	    <"$T/fifo" >"$T/out" 2>"$T/err" 7>&- 3>&- &
	local pid=$!
	wait_until 15 acking_stopped ||
	    fail "the gateway never stopped acking"
	local tpid
	tpid=$(pgrep -P "$pid" | head -1)
	[ -n "$tpid" ] || fail "cx-tunnel is not running"
	SECONDS=0
	kill -TERM "$tpid"
	st=0
	wait "$pid" || st=$?
	took=$SECONDS
	[ "$st" -ne 124 ] || fail "cx-tunnel ignored SIGTERM: $(cat "$T/err")"
	[ "$took" -le 7 ] || fail "SIGTERM took ${took}s"
	grep -q 'were not acknowledged before the end' "$T/err" ||
	    fail "no clear line: $(cat "$T/err")"
	local n
	n=$(stat -c %s "$T/out")
	[ "$n" -lt 2000000 ]
	cmp -n "$n" "$T/in" "$T/out"
}

@test "faults: a giant frame (2^40 bytes announced) from the gateway: clean error, resumed, bytes exact" {
	wsfix 300000 '{"giant_frame":true}'
	tunnel 20
	[ "$(sess_stat giant_frames)" -ge 1 ] || fail "no giant frame was sent"
	[ "$st" -eq 0 ] || fail "exit $st after ${took}s: $err"
	[[ "$err" == *"data channel lost, resuming session"* ]] || fail "no clear line: $err"
	cmp "$T/in" "$T/out" || fail "bytes differ after the giant frame"
}
