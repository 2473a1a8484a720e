#!/usr/bin/env bats
# SIGTERM, SIGHUP and SIGINT while connecting (issue 16, item 4): ssh sends
# SIGHUP to its ProxyCommand when the user gives up, VS Code kills it with
# SIGTERM, a terminal sends SIGINT.  Each blocking step of cx-tunnel's
# connect (TCP connect, TLS handshake, websocket upgrade, the cx-session
# helper's StartSession, the sleep between attempts, name resolution) and
# of the driver's stages must end within ~1 s of each of them, with exit
# status 128 + the signal's number and no child left behind.
#
# The gateway is tests/tools/stuckgw.py on loopback (silent, trickling,
# closing, or with a full accept queue); StartSession hangs in the SSM
# stand-in (hang_next); the driver runs the real stages against moto and the
# stand-in.  Timing is measured by polling the process state, never by a
# sleep.
load ../helpers/common

IID=i-0123456789abcdef0
AK=AKIASIGNALSTEST
SK=signalsSecretKey0123456789abcdefghijklmn
LIMIT_MS=1500

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	GW_PID= TUN_PID= DRV_PID=
	mkfifo "$T/fifo"
	exec 7<>"$T/fifo"
}

teardown() {
	local kids= k p
	# a test that failed may leave a helper or stage behind its parent
	# (only children of our own PIDs: never pgrep -P with an empty one)
	for p in $TUN_PID $DRV_PID; do
		[[ "$p" =~ ^[1-9][0-9]*$ ]] && [ "$p" -gt 1 ] || continue
		kids+=" $(pgrep -P "$p" | tr '\n' ' ')"
	done
	[ -z "$TUN_PID" ] || stop_pid "$TUN_PID"
	[ -z "$DRV_PID" ] || stop_pid "$DRV_PID"
	for k in $kids; do stop_pid "$k"; done
	stop_pid "$GW_PID"
	# what the name resolution test ran inside its namespace
	local f
	for f in tun.pid dns.pid; do
		[ ! -s "$T/$f" ] || stop_pid "$(cat "$T/$f")"
	done
	# the echo target and stand-in of wsfix, even when a test failed
	if declare -F wsfix_stop >/dev/null; then wsfix_stop; fi
	if [ -n "${STANDIN_PID:-}" ]; then standin_stop; fi
	if [ -n "${MOTO_PID:-}" ]; then moto_stop; fi
	exec 7>&-
}

# gw_start MODE: the stuck gateway, port in $GW_PORT, events in $T/gw.log
gw_start() {
	python3 "$CX_ROOT/tests/tools/stuckgw.py" "$1" "$T/gw.port" "$T/gw.log" \
	    </dev/null >/dev/null 2>"$T/gw.err" 3>&- &
	GW_PID=$!
	wait_until 10 test -s "$T/gw.port" || fail "gateway: $(cat "$T/gw.err")"
	GW_PORT=$(cat "$T/gw.port")
}

# ctx_session URL: a context holding a started session whose StreamUrl is URL
ctx_session() {
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$IID" --arg url "$1" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,Region:"eu-west-1",
	      Instance:{InstanceId:$iid},
	      Session:{SessionId:"standin-0123456789abcdef0",
	               TokenValue:"signals-token",StreamUrl:$url}}' >"$T/ctx.json"
	chmod 600 "$T/ctx.json"
}

# tunnel_bg ARGS...: cx-tunnel in the background ($TUN_PID), stdin a FIFO
# that never ends, stderr in $T/err
tunnel_bg() {
	: >"$T/gw.log"
	"$CX_BIN_DIR/cx-tunnel" "$@" --context "$T/ctx.json" "$IID" 22 \
	    <&7 >/dev/null 2>"$T/err" 7>&- 3>&- &
	TUN_PID=$!
}

# exited PID: the process has ended (a zombie not yet reaped, or gone)
exited() {
	local s
	s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$s" = Z ]
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# signal_ends SIG PID: sends SIG to PID (our child), polls until it has
# exited, reaps it; fails unless that took at most LIMIT_MS and the exit
# status is 128 + SIG's number.  Sets took (ms) and st.
signal_ends() {
	local sig=$1 pid=$2 t0 n
	n=$(kill -l "$sig")
	t0=$(now_ms)
	kill -s "$sig" "$pid"
	until exited "$pid"; do
		if [ $(($(now_ms) - t0)) -gt 5000 ]; then
			fail "SIG$sig ignored: still running after 5 s; stderr: $(cat "$T/err")"
		fi
		sleep 0.02
	done
	took=$(($(now_ms) - t0))
	st=0
	wait "$pid" || st=$?
	echo "# SIG$sig: gone after $took ms, exit $st" >&3
	[ "$took" -le "$LIMIT_MS" ] ||
	    fail "SIG$sig took $took ms (limit $LIMIT_MS); stderr: $(cat "$T/err")"
	[ "$st" -eq $((128 + n)) ] ||
	    fail "SIG$sig: exit $st, not $((128 + n)); stderr: $(cat "$T/err")"
}

# for_each_signal SETUP WAIT: for TERM, HUP and INT: SETUP starts the
# program (sets TUN_PID), WAIT polls until it is in the phase under test;
# then the signal must end it
for_each_signal() {
	local sig
	for sig in TERM HUP INT; do
		"$1"
		wait_until 10 "$2" || fail "never reached the phase: $(cat "$T/err")"
		signal_ends "$sig" "$TUN_PID"
		TUN_PID=
		grep -q "stopped by SIG$sig" "$T/err" ||
		    fail "no line saying why: $(cat "$T/err")"
	done
}

gw_got_bytes() { grep -q '^got' "$T/gw.log"; }
gw_trickling() { grep -q '^sent 1$' "$T/gw.log"; }

@test "signals: cx-tunnel's TCP connect that is never answered (full accept queue) ends on TERM, HUP, INT" {
	gw_start backlog
	ctx_session "ws://127.0.0.1:$GW_PORT/v1/data-channel/s?role=publish_subscribe"
	syn_sent() {
		ss -Htn state syn-sent "( dport = :$GW_PORT )" | grep -q .
	}
	for_each_signal tunnel_bg syn_sent
}

@test "signals: cx-tunnel's TLS handshake that is never answered ends on TERM, HUP, INT" {
	gw_start silent
	ctx_session "wss://127.0.0.1:$GW_PORT/v1/data-channel/s?role=publish_subscribe"
	for_each_signal tunnel_bg gw_got_bytes
	# it was the handshake: a TLS record (0x16), not an HTTP request
	grep -qx 'first 16' "$T/gw.log"
}

@test "signals: cx-tunnel's websocket upgrade that is never answered ends on TERM, HUP, INT" {
	gw_start silent
	ctx_session "ws://127.0.0.1:$GW_PORT/v1/data-channel/s?role=publish_subscribe"
	for_each_signal tunnel_bg gw_got_bytes
	grep -qx 'first 47' "$T/gw.log"	# "GET ..."
}

@test "signals: cx-tunnel's websocket upgrade answered 1 byte per second ends on TERM, HUP, INT" {
	gw_start trickle
	ctx_session "ws://127.0.0.1:$GW_PORT/v1/data-channel/s?role=publish_subscribe"
	for_each_signal tunnel_bg gw_trickling
}

@test "signals: cx-tunnel's sleep between data channel attempts ends on TERM, HUP, INT" {
	# every attempt is refused at once: after the third one cx-tunnel
	# sleeps 400-800 ms, then 0.8-1.6 s, 1.6-3.2 s before giving up
	gw_start close
	ctx_session "ws://127.0.0.1:$GW_PORT/v1/data-channel/s?role=publish_subscribe"
	three_attempts() { [ "$(grep -c '^accepted' "$T/gw.log")" -ge 3 ]; }
	for_each_signal tunnel_bg three_attempts
}

@test "signals: cx-tunnel's helper hanging in StartSession ends on TERM, HUP, INT, and the helper is stopped too" {
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --keys "$AK:$SK" --set "{\"static_instances\":\
{\"$IID\":{\"state\":\"running\"}},\"hang_next\":10,\"hang_max_s\":60,\
\"fault_actions\":[\"ssm:StartSession\"]}" || fail "stand-in did not start"
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$IID" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,Region:"eu-west-1",
	      Instance:{InstanceId:$iid}}' >"$T/ctx.json"
	chmod 600 "$T/ctx.json"
	hangs() {
		[ "$(standin_log | jq '[.[] | select(.fault == "hang")] | length')" -gt "$seen" ]
	}
	local sig helper seen
	for sig in TERM HUP INT; do
		seen=$(standin_log | jq '[.[] | select(.fault == "hang")] | length')
		tunnel_bg
		wait_until 10 hangs || fail "StartSession never hung: $(cat "$T/err")"
		helper=$(pgrep -P "$TUN_PID" -x cx-session) ||
		    fail "no cx-session child"
		signal_ends "$sig" "$TUN_PID"
		TUN_PID=
		# reaped by cx-tunnel before it exited: no orphan
		[ ! -e "/proc/$helper" ] || fail "cx-session ($helper) left running"
		grep -q "stopped by SIG$sig" "$T/err" ||
		    fail "no line saying why: $(cat "$T/err")"
	done
}

@test "signals: cx-tunnel's name resolution that is never answered ends on TERM, HUP, INT (root: own network namespace)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a network and mount namespace with its own resolv.conf)"
	command -v unshare >/dev/null || skip "no unshare"
	# inside: lo up, a DNS server on 127.0.0.1:53 that swallows queries,
	# a resolv.conf naming only it; cx-tunnel runs there, its PID in a
	# file for us to signal
	cat >"$T/resolv.conf" <<-EOF
	nameserver 127.0.0.1
	options timeout:30 attempts:1
	EOF
	cat >"$T/inside.sh" <<-EOF
	set -e
	ip link set lo up
	mount --bind "$T/resolv.conf" /etc/resolv.conf
	python3 -c '
	import socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 53))
	open(sys.argv[1], "w").write("ready\n")
	while True:
	    d, a = s.recvfrom(4096)
	    open(sys.argv[2], "a").write("query\n")
	' "$T/dns.ready" "$T/dns.log" </dev/null >/dev/null 2>&1 &
	dns=\$!
	echo \$dns >"$T/dns.pid"
	while [ ! -s "$T/dns.ready" ]; do sleep 0.02; done
	"$CX_BIN_DIR/cx-tunnel" --context "$T/ctx.json" "$IID" 22 <&7 >/dev/null 2>"$T/err" 7>&- &
	echo \$! >"$T/tun.pid"
	st=0
	wait \$! || st=\$?
	kill \$dns
	rm -f "$T/dns.pid" "$T/tun.pid"
	exit \$st
	EOF
	ctx_session "ws://gateway.signals.test:443/v1/data-channel/s?role=publish_subscribe"
	dns_asked() { grep -q query "$T/dns.log"; }
	local sig n t0
	for sig in TERM HUP INT; do
		rm -f "$T/dns.ready" "$T/dns.log" "$T/tun.pid" "$T/dns.pid"
		unshare --net --mount bash "$T/inside.sh" 3>&- &
		TUN_PID=$!
		wait_until 10 dns_asked && wait_until 10 test -s "$T/tun.pid" || fail "no DNS query: $(cat "$T/err" 2>/dev/null)"
		n=$(kill -l "$sig")
		t0=$(now_ms)
		kill -s "$sig" "$(cat "$T/tun.pid")"
		st=0
		# the namespace's shell ends with cx-tunnel's status
		until exited "$TUN_PID"; do
			[ $(($(now_ms) - t0)) -le 5000 ] || fail "SIG$sig ignored while resolving"
			sleep 0.02
		done
		took=$(($(now_ms) - t0))
		wait "$TUN_PID" || st=$?
		TUN_PID=
		echo "# SIG$sig: gone after $took ms, exit $st" >&3
		[ "$took" -le "$LIMIT_MS" ] || fail "SIG$sig took $took ms"
		[ "$st" -eq $((128 + n)) ] || fail "exit $st: $(cat "$T/err")"
	done
}

@test "signals: a signal once the session is relayed still ends it cleanly (exit 0), as before" {
	# regression guard for the relay loop's own handling
	. "$CX_ROOT/tests/helpers/wsfault.bash"
	wsfix 100 '{}'
	"$CX_BIN_DIR/cx-tunnel" --context "$T/ctx.json" "$IID" 22 \
	    <&7 >"$T/out" 2>"$T/err" 7>&- 3>&- &
	TUN_PID=$!
	connected() {
		standin_state | jq -e '[.sessions[] | select(.status == "connected" and .handshake.state == "complete")] | length == 1'
	}
	wait_until 10 connected || fail "never connected: $(cat "$T/err")"
	kill -TERM "$TUN_PID"
	st=0
	wait "$TUN_PID" || st=$?
	TUN_PID=
	[ "$st" -eq 0 ] || fail "exit $st: $(cat "$T/err")"
}

@test "signals: cx-tunnel's helper hanging in ResumeSession (a dropped websocket) ends on TERM, HUP, INT, the helper stopped too" {
	. "$CX_ROOT/tests/helpers/wsfault.bash"
	wsfix 100 '{"hang_max_s": 60, "fault_actions": ["ssm:ResumeSession"]}'
	connected() {
		standin_state | jq -e '[.sessions[] | select(.status == "connected" and .handshake.state == "complete")] | length == 1'
	}
	hangs() {
		[ "$(standin_log | jq '[.[] | select(.fault == "hang")] | length')" -gt "$seen" ]
	}
	local sig sid helper seen
	for sig in TERM HUP INT; do
		seen=$(standin_log | jq '[.[] | select(.fault == "hang")] | length')
		"$CX_BIN_DIR/cx-tunnel" --context "$T/ctx.json" "$IID" 22 \
		    <&7 >/dev/null 2>"$T/err" 7>&- 3>&- &
		TUN_PID=$!
		wait_until 10 connected || fail "never connected: $(cat "$T/err")"
		sid=$(standin_state | jq -r '[.sessions[] | select(.status == "connected")][0].SessionId')
		standin_config '{"hang_next": 1}'
		curl -sf -X POST "$STANDIN_URL/standin/sessions/$sid/drop" >/dev/null
		wait_until 10 hangs || fail "ResumeSession never hung: $(cat "$T/err")"
		helper=$(pgrep -P "$TUN_PID" -x cx-session) ||
		    fail "no cx-session child"
		signal_ends "$sig" "$TUN_PID"
		TUN_PID=
		[ ! -e "/proc/$helper" ] || fail "cx-session ($helper) left running"
		grep -q "stopped by SIG$sig" "$T/err" ||
		    fail "no line saying why: $(cat "$T/err")"
	done
}

# ---- the driver ----

drv_setup() {
	. "$CX_ROOT/tests/helpers/moto.bash"
	moto_start
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --pace-ms 0 || fail "stand-in did not start"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	moto_auth off
	ID=$(moto_instance running)
	mkdir -p "$HOME/.aws" "$HOME/.ssh/cloudX"
	printf '[profile cloudX]\nregion = eu-west-1\n' >"$HOME/.aws/config"
	printf '[cloudX]\naws_access_key_id = testing\naws_secret_access_key = testing\n' \
	    >"$HOME/.aws/credentials"
	chmod 600 "$HOME/.aws/credentials"
	ssh-keygen -q -t ed25519 -N '' -C signals -f "$HOME/.ssh/cloudX/cloudX"
}

# drv_bg: cloudx-proxy connect in the background ($DRV_PID, $TUN_PID too
# for signal_ends' bookkeeping)
drv_bg() {
	"$CX_BIN_DIR/cloudx-proxy" connect "$ID" <&7 >/dev/null 2>"$T/err" 7>&- 3>&- &
	DRV_PID=$!
	TUN_PID=$DRV_PID
}

@test "signals: cloudx-proxy connect waiting for an instance that never comes online ends on TERM, HUP, INT, cx-instance too" {
	drv_setup
	standin_config '{"online_delay": 3600}'
	waiting() {
		pgrep -P "$DRV_PID" -f cx-instance >/dev/null &&
		    [ "$(standin_log | jq '[.[] | select(.op == "DescribeInstanceInformation")] | length')" -gt "$seen" ]
	}
	local sig child seen
	for sig in TERM HUP INT; do
		seen=$(standin_log | jq '[.[] | select(.op == "DescribeInstanceInformation")] | length')
		drv_bg
		wait_until 20 waiting || fail "cx-instance never waited: $(cat "$T/err")"
		child=$(pgrep -P "$DRV_PID" -f cx-instance)
		signal_ends "$sig" "$DRV_PID"
		DRV_PID= TUN_PID=
		[ ! -e "/proc/$child" ] || fail "cx-instance ($child) left running"
	done
}

@test "signals: cloudx-proxy connect whose StartSession hangs ends on TERM, HUP, INT, cx-pushkey too" {
	drv_setup
	standin_config '{"hang_next": 10, "hang_max_s": 60, "fault_actions": ["ssm:StartSession"]}'
	hangs() {
		[ "$(standin_log | jq '[.[] | select(.fault == "hang")] | length')" -gt "$seen" ]
	}
	local sig kids seen
	for sig in TERM HUP INT; do
		seen=$(standin_log | jq '[.[] | select(.fault == "hang")] | length')
		drv_bg
		wait_until 20 hangs || fail "StartSession never hung: $(cat "$T/err")"
		kids=$(pgrep -P "$DRV_PID" | tr '\n' ' ')
		signal_ends "$sig" "$DRV_PID"
		DRV_PID= TUN_PID=
		for k in $kids; do
			[ ! -e "/proc/$k" ] || fail "child $k left running"
		done
	done
}
