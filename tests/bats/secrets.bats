#!/usr/bin/env bats
# Secrets audit: canary values for the secret key, the session token, the
# SSO token and the SSM stream token (TokenValue) go through a
# connect, a setup and the credential chain; the test fails if a canary
# shows up in any of our processes' argv or environment other than where
# the user put it, in stderr (at -vv), in any file of the throw-away HOME
# other than the one the user keeps it in, in any file created under /tmp
# during the test (the fake cloud's own logs excepted), or in a core file.
#
# Every stage runs behind tests/tools/audit-wrap, which records the argv
# and environment the driver gave it before it execs the real program, so
# a stage that lives a few milliseconds (cx-creds, cx-instance, cx-pushkey,
# a credential_process child) cannot be missed; records_exist fails the
# test when a spy was bypassed, and one test shows the check catching a
# planted leak.  The real cx-tunnel runs
# (AUDIT_REAL_TUNNEL) against a loopback echo target, so /proc of the
# running tree is read while bytes really flow; the stand-in issues a
# canary stream token (token_prefix).

load ../helpers/common
load ../helpers/moto

SECRET=CANARYsecretKEYdo0not0leak0f1a2b3c4d5e6
TOKEN=CANARYsessionTOKENdo0not0leak0IQoJb3JpZ2luX2VjEXAMPLE
SSOTOK=CANARYssoTOKENdo0not0leak0aoAAAAAGnP7Zk
AKID=AKIACANARY0AUDIT0001
STREAMTOK=CANARYstreamTOKENdo0not0leak0

setup_file() {
	moto_start
	moto_auth off
	export MOTO_REGION=eu-west-1
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start
	# the tunnel's far end: a loopback echo target, stopped by PID
	python3 "$CX_ROOT/tests/standin/echo.py" \
	    --port-file "$BATS_FILE_TMPDIR/echo.port" </dev/null >/dev/null 2>&1 3>&- &
	ECHO_PID=$!
	wait_until 10 test -s "$BATS_FILE_TMPDIR/echo.port"
	standin_config "{\"target\":\"127.0.0.1:$(cat "$BATS_FILE_TMPDIR/echo.port")\",\"token_prefix\":\"$STREAMTOK\"}"
	export ECHO_PID
	ID=$(moto_instance running '[{Key=Name,Value=cloudx-audit-box}]')
	# a real access key id (auth is off: the canary secret is not checked,
	# the identity comes from the key id)
	read -r USER_AK _ < <(moto_user cloudX-audit-alice)
	export USER_AK
	export ID STANDIN_DIR STANDIN_URL STANDIN_PID MOTO_PID
	export CLOUD_DIRS="$STANDIN_DIR ${MOTO_DIR:-}"
}

teardown_file() {
	[ -n "${ECHO_PID:-}" ] && stop_pid "$ECHO_PID"
	standin_stop || true
	moto_stop || true
}

setup() {
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	umask 077
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_SSO="$STANDIN_URL"
	export AUDIT_DIR="$BATS_TEST_TMPDIR/audit" AUDIT_REAL="$CX_BIN_DIR"
	mkdir -p "$AUDIT_DIR"
	BIN="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$BIN"
	cp "$CX_BIN_DIR/cloudx-proxy" "$BIN/"
	local s
	for s in cx-creds cx-instance cx-pushkey cx-tunnel cx-session; do
		ln -s "$CX_ROOT/tests/tools/audit-wrap" "$BIN/$s"
	done
	MARK="$BATS_TEST_TMPDIR/mark"
	touch "$MARK"
	TUNNEL_PID=
	unset AUDIT_REAL_TUNNEL
}

teardown() {
	# release a spy still waiting; bounded, and holding none of bats' fds
	# (a writer blocked on a FIFO nobody reads would hang the whole run)
	if [ -p "$AUDIT_DIR/release" ]; then
		timeout 2 sh -c 'echo go >"$1"' sh "$AUDIT_DIR/release" \
		    </dev/null >/dev/null 2>&1 3>&- || true
	fi
	[ -n "$TUNNEL_PID" ] && stop_pid "$TUNNEL_PID"
	exec 7>&- 2>/dev/null || true
	return 0
}

# leaks_in FILE...: prints the files holding a canary
leaks_in() {
	grep -l -a -F -e "$SECRET" -e "$TOKEN" -e "$SSOTOK" -e "$STREAMTOK" \
	    "$@" 2>/dev/null || true
}

# no_leak_in_files KEEP...: no canary in HOME (but the files KEEP) nor in
# any file created under /tmp since the mark (but the fake cloud's logs)
no_leak_in_files() {
	local f bad=
	while IFS= read -r -d '' f; do
		local keep=0 k
		for k in "$@"; do [ "$f" = "$k" ] && keep=1; done
		[ $keep -eq 1 ] && continue
		[ -n "$(leaks_in "$f")" ] && bad="$bad $f"
	done < <(find "$HOME" -type f -print0)
	while IFS= read -r -d '' f; do
		case "$f" in "$HOME"/*) continue ;; esac
		# another bats run's files (a suite run beside this one) are
		# not ours to judge
		case "$f" in
		"${BATS_RUN_TMPDIR:-/nonexistent}"/*) ;;
		/tmp/bats-run-*) continue ;;
		esac
		local cloud=0 c
		# the cloud's own logs; the spies' records (checked on their own)
		for c in $CLOUD_DIRS "$AUDIT_DIR"; do
			case "$f" in "$c"/*) cloud=1 ;; esac
		done
		[ $cloud -eq 1 ] && continue
		[ -n "$(leaks_in "$f")" ] && bad="$bad $f"
	done < <(find /tmp -xdev -type f -newer "$MARK" -size -20M -print0 2>/dev/null)
	[ -z "$bad" ] || fail "canary found in:$bad"
}

# no canary in any recorded argv; in a recorded environment only as the
# variables named (where the user put it)
no_leak_in_argv_env() {
	local f bad=
	for f in "$AUDIT_DIR"/*.argv; do
		[ -n "$(leaks_in "$f")" ] && bad="$bad $f"
	done
	for f in "$AUDIT_DIR"/*.env; do
		tr '\0' '\n' <"$f" | grep -v -E "^(${1:-NONE})=" |
		    grep -q -F -e "$SECRET" -e "$TOKEN" -e "$SSOTOK" \
		    -e "$STREAMTOK" && bad="$bad $f"
	done
	[ -z "$bad" ] || fail "canary in argv/environment:$bad"
}

user_files() {
	mkdir -p "$HOME/.aws" "$HOME/.ssh/cloudX"
	printf '[cloudX]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
	    "$AKID" "$SECRET" "$TOKEN" >"$HOME/.aws/credentials"
	printf '[profile cloudX]\nregion = eu-west-1\n' >"$HOME/.aws/config"
	ssh-keygen -q -t ed25519 -N '' -C audit -f "$HOME/.ssh/cloudX/cloudX"
}

# connect_audit: a real connect -vv through the real cx-tunnel to the echo
# target; while bytes flow, no canary in argv/environ of the running tree;
# then stdin EOF ends the session (bounded) and the records are checked
connect_audit() {
	[ -n "${KEEP_USER_FILES:-}" ] || user_files
	export AUDIT_REAL_TUNNEL=1
	local fifo="$BATS_TEST_TMPDIR/in" out="$BATS_TEST_TMPDIR/out" p
	mkfifo "$fifo"
	exec 7<>"$fifo"		# our writer: the tunnel's stdin never sees EOF early
	timeout 60 "$BIN/cloudx-proxy" connect -vv "$ID" 22 <"$fifo" \
	    >"$out" 2>"$BATS_TEST_TMPDIR/err" 3>&- 7>&- &
	local pid=$!
	TUNNEL_PID=$pid
	printf 'ping-through-the-tunnel\n' >&7
	wait_until 30 grep -q ping-through-the-tunnel "$out" ||
	    fail "the tunnel was not reached: $(cat "$BATS_TEST_TMPDIR/err")"
	# the running tree: timeout, the tunnel (the driver exec'd it) and
	# anything below
	local tpid
	tpid=$(pgrep -P "$pid" | head -1)
	[ -n "$tpid" ] && grep -q -a cx-tunnel /proc/"$tpid"/cmdline ||
	    fail "no running cx-tunnel under $pid"
	for p in $pid $tpid $(pgrep -P "$tpid"); do
		[ -z "$(leaks_in /proc/"$p"/cmdline)" ] || fail "canary in argv of $p"
		[ -z "$(leaks_in /proc/"$p"/environ)" ] || fail "canary in environ of $p"
	done
	exec 7>&-		# stdin EOF: the tunnel ends the session
	local st=0
	wait "$pid" || st=$?
	TUNNEL_PID=
	[ "$st" -eq 0 ] || fail "connect exit $st: $(cat "$BATS_TEST_TMPDIR/err")"
	# every stage ran (and saw the secrets on stdin, not in argv/env);
	# with the warm wave the driver itself looks and pushes
	ls "$AUDIT_DIR"/cx-creds.*.argv "$AUDIT_DIR"/cx-tunnel.*.argv >/dev/null
	if [ -n "${CLOUDX_PROXY_NO_WAVE:-}" ]; then
		ls "$AUDIT_DIR"/cx-instance.*.argv "$AUDIT_DIR"/cx-pushkey.*.argv >/dev/null
	else
		grep -q "at once" "$BATS_TEST_TMPDIR/err"
	fi
	grep -q "Connecting\|connect" "$BATS_TEST_TMPDIR/err"
	no_leak_in_argv_env
	[ -z "$(leaks_in "$BATS_TEST_TMPDIR/err" "$out")" ] ||
	    fail "canary on stderr/stdout: $(cat "$BATS_TEST_TMPDIR/err")"
	no_leak_in_files "$HOME/.aws/credentials"
}

# records OF...: each NAME has at least one argv and one non-empty env record
# (so a test fails if a spy was bypassed)
records_exist() {
	local n f found
	for n in "$@"; do
		found=
		for f in "$AUDIT_DIR/$n".*.argv; do
			[ -s "$f" ] && [ -s "${f%.argv}.env" ] && found=1
		done
		[ -n "$found" ] || fail "no record of $n: $(ls "$AUDIT_DIR")"
	done
}

@test "secrets: connect with canary keys in ~/.aws/credentials: no leak in argv, env, stderr, files" {
	connect_audit
}

@test "secrets: the same connect without the warm wave: every stage recorded, no leak" {
	CLOUDX_PROXY_NO_WAVE=1 connect_audit
	records_exist cx-creds cx-instance cx-pushkey cx-tunnel
}

@test "secrets: setup with canary keys in the environment writes them only to ~/.aws/credentials" {
	mkdir -p "$HOME/.aws"
	run --separate-stderr env AWS_ACCESS_KEY_ID=$USER_AK AWS_SECRET_ACCESS_KEY=$SECRET \
	    AWS_REGION=eu-west-1 "$BIN/cloudx-proxy" setup -vv --yes --no-check \
	    --instance "$ID"
	[ "$status" -eq 0 ] || fail "setup failed: $stderr"
	grep -q "$SECRET" "$HOME/.aws/credentials"
	[ "$(stat -c %a "$HOME/.aws/credentials")" = 600 ]
	[ "$(stat -c %a "$HOME/.aws")" = 700 ]
	# the stages it ran got the user's own variables at most
	no_leak_in_argv_env "AWS_SECRET_ACCESS_KEY"
	[ -z "$(leaks_in <(printf '%s' "$output$stderr"))" ] || fail "canary on stdout/stderr"
	no_leak_in_files "$HOME/.aws/credentials"
}

@test "secrets: SSO token canary: only in its cache file, never on stderr at -vv" {
	standin_config "{\"sso_tokens\": {\"$SSOTOK\": {\"accounts\": {\"123456789012\": [\"Dev\"]}}}}"
	mkdir -p "$HOME/.aws/sso/cache"
	printf '[profile sso]\nregion = eu-west-1\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n' \
	    >"$HOME/.aws/config"
	local cache
	cache="$HOME/.aws/sso/cache/$(printf corp | sha1sum | cut -d' ' -f1).json"
	printf '{"accessToken":"%s","expiresAt":"2099-01-01T00:00:00Z","region":"eu-west-1","startUrl":"https://corp.awsapps.com/start"}' \
	    "$SSOTOK" >"$cache"
	run --separate-stderr "$BIN/cx-creds" -vv --profile sso
	[ "$status" -eq 0 ] || fail "cx-creds failed: $stderr"
	[ "$(jq -r .AccessKeyId <<<"$output")" != null ]
	no_leak_in_argv_env
	[ -z "$(leaks_in <(printf '%s' "$output$stderr"))" ] || fail "canary on stdout/stderr"
	no_leak_in_files "$cache"
}

@test "secrets: a stage killed while it holds secrets leaves no core file, even with ulimit -c unlimited" {
	case $(cat /proc/sys/kernel/core_pattern) in
	'|'*) skip "core_pattern pipes cores to a handler; cannot look for the file" ;;
	esac
	user_files
	python3 "$CX_ROOT/tests/tools/faultserver.py" "$BATS_TEST_TMPDIR/port" \
	    >/dev/null 2>&1 3>&- &
	local fpid=$! pid
	wait_until 10 test -s "$BATS_TEST_TMPDIR/port"
	local url="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")"
	mkdir -p "$BATS_TEST_TMPDIR/cwd"
	# cx-creds signs a request with the canary keys, then waits on a hang
	( cd "$BATS_TEST_TMPDIR/cwd" && ulimit -c unlimited &&
	  exec env AWS_ENDPOINT_URL_STS="$url/hang" CX_HTTP_TIMEOUT_MS=30000 \
	      "$CX_BIN_DIR/cx-creds" --identity --profile cloudX \
	      >/dev/null 2>"$BATS_TEST_TMPDIR/err" ) &
	pid=$!
	wait_until 20 bash -c "[ \"\$(curl -sf $url/_count/hang | jq -r .count)\" -ge 1 ]"
	# the limits say it: no core, whatever the shell allowed
	grep -E '^Max core file size +0 +0 ' /proc/"$pid"/limits
	[ -z "$(leaks_in /proc/"$pid"/cmdline /proc/"$pid"/environ)" ]
	kill -SEGV "$pid"
	wait "$pid" || true
	stop_pid "$fpid"
	run ls -A "$BATS_TEST_TMPDIR/cwd"
	[ -z "$output" ] || fail "core file written: $output"
	no_leak_in_files "$HOME/.aws/credentials"
}

@test "secrets: the stream token (TokenValue) never leaves cx-tunnel's memory" {
	connect_audit
	# the stand-in really issued the canary token, and the session used it
	standin_state | jq -e --arg p "$STREAMTOK" \
	    '.config.token_prefix == $p and ([.sessions[] | select((.stats.in_bytes // .in_bytes // 0) > 0)] | length >= 1)' \
	    >/dev/null || fail "no session with the canary token ran: $(standin_state | jq -c '.config.token_prefix')"
	# ... and it shows up nowhere the audit looked (argv and environ of
	# every stage and of the running tunnel, stderr at -vv, stdout, files
	# under HOME and new files under /tmp): checked by connect_audit with
	# STREAMTOK among the canaries; belt and braces for the context:
	! grep -r -a -q -F "$STREAMTOK" "$HOME" "$AUDIT_DIR" "$BATS_TEST_TMPDIR/err"
}

@test "secrets: a resume runs cx-session with the context on a pipe: no canary in its argv or environment" {
	# the websocket drops once after a few bytes: cx-tunnel resumes
	# through its helper, which holds the keys and gets a new stream token
	standin_config '{"drop_after_bytes":16}'
	export AUDIT_TUNNEL_DIR="$BATS_TEST_TMPDIR/tunnel"
	mkdir -p "$AUDIT_TUNNEL_DIR"
	cp "$CX_BIN_DIR/cx-tunnel" "$AUDIT_TUNNEL_DIR/"
	ln -s "$CX_ROOT/tests/tools/audit-wrap" "$AUDIT_TUNNEL_DIR/cx-session"
	connect_audit
	[ "$(standin_state | jq '[.sessions[].resumes] | add')" -ge 1 ] ||
	    fail "no resume: $(cat "$BATS_TEST_TMPDIR/err")"
	ls "$AUDIT_DIR"/cx-session.*.argv >/dev/null || fail "cx-session did not run"
	grep -q -a resume "$AUDIT_DIR"/cx-session.*.argv
	standin_config '{"drop_after_bytes":0}'
}

# issue 16: the short-lived stages and the credential_process children live
# a few milliseconds; polling /proc could miss them, so each is a spy that
# records its own argv and environment before it execs the real program
@test "secrets: a connect whose profile is a credential_process: every short-lived stage and the credential_process child recorded, no canary in argv or environment" {
	user_files
	# the canary keys sit in profile base; cloudX gets them through a
	# credential_process (a spy, then cx-creds behind its own spy)
	printf '[base]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
	    "$AKID" "$SECRET" "$TOKEN" >"$HOME/.aws/credentials"
	cat >"$BIN/cp-spy" <<'SPY'
#!/usr/bin/env bash
printf '%s\0' "$0" "$@" >"$AUDIT_DIR/credproc.$$.argv"
cat /proc/$$/environ >"$AUDIT_DIR/credproc.$$.env"
exec "$(dirname "$0")/cx-creds" "$@"
SPY
	chmod +x "$BIN/cp-spy"
	printf '[profile cloudX]\nregion = eu-west-1\ncredential_process = %s --profile base\n[profile base]\nregion = eu-west-1\n' \
	    "$BIN/cp-spy" >"$HOME/.aws/config"
	# the stages one after the other: each of them is audited
	KEEP_USER_FILES=1 CLOUDX_PROXY_NO_WAVE=1 connect_audit
	records_exist cx-creds cx-instance cx-pushkey cx-tunnel credproc
	# cx-creds ran twice: for the driver (cloudX) and as the
	# credential_process child (base)
	grep -l -a -F -x base < <(for f in "$AUDIT_DIR"/cx-creds.*.argv; do tr '\0' '\n' <"$f"; echo; done) >/dev/null ||
	    fail "cx-creds did not run as the credential_process child"
	[ "$(ls "$AUDIT_DIR"/cx-creds.*.argv | wc -l)" -ge 2 ]
	# the child really produced the canary keys (the test is not vacuous)
	grep -q -a "credential_process\|credentials of profile 'cloudX'" "$BATS_TEST_TMPDIR/err" ||
	    fail "no credential_process in the log: $(cat "$BATS_TEST_TMPDIR/err")"
	no_leak_in_argv_env
	no_leak_in_files "$HOME/.aws/credentials"
}

@test "secrets: the check itself catches a stage given a secret in its environment" {
	# cx-instance started with the canary in a variable: the same records
	# and check must report it (so the tests above would see a leak)
	user_files
	mkdir -p "$BATS_TEST_TMPDIR/leak"
	ln -s "$CX_ROOT/tests/tools/audit-wrap" "$BATS_TEST_TMPDIR/leak/cx-instance"
	rm "$BIN/cx-instance"
	printf '#!/usr/bin/env bash\nLEAKED=%s exec %s "$@"\n' "$SECRET" \
	    "$BATS_TEST_TMPDIR/leak/cx-instance" >"$BIN/cx-instance"
	chmod +x "$BIN/cx-instance"
	CLOUDX_PROXY_NO_WAVE=1 run timeout 60 "$BIN/cloudx-proxy" connect "$ID" 22 </dev/null
	records_exist cx-instance
	run no_leak_in_argv_env
	[ "$status" -ne 0 ] || fail "a secret in a stage's environment was not caught"
}
