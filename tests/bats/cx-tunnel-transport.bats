#!/usr/bin/env bats
# cx-tunnel's websocket transport (lib/ssm/ws_tls.c): the HTTP CONNECT proxy the
# environment names (curl's variables and NO_PROXY rules), proxy Basic
# authentication, TLS host-name checks.  The real ssh client through
# cx-tunnel, the SSM stand-in, a loopback sshd; tests/tools/tlsproxy.py puts
# TLS in front of the stand-in's data channel and tests/tools/connectproxy.py
# is the proxy.  Each context carries a session started beforehand, so the
# websocket is the only connection cx-tunnel makes.

load ../helpers/common
load ../helpers/standin
load ../helpers/sshd
load ../helpers/tunnel

IID=i-0123456789abcdef0
AK=AKIDTRANSPORTTEST
SK=transportSecretKey0123456789abcdefghijkl

setup_file() {
	tunnel_setup_file transport-test
	# a certificate for 127.0.0.1 and one for another name only
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/tls.key" \
	    -out "$D/tls.crt" -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	head -c $((16 * 1024 * 1024)) /dev/urandom >"$D/data"
	export DATA_SUM
	DATA_SUM=$(sha256sum <"$D/data" | cut -d' ' -f1)
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/other.key" \
	    -out "$D/other.crt" -days 2 -subj /CN=other.example \
	    -addext subjectAltName=DNS:other.example 2>/dev/null
}

teardown_file() {
	sshd_stop
	standin_stop
}

setup() {
	tunnel_setup
	PLOG="$T/proxy.log"
	PROXY_PID= TLS_PID=
}

teardown() {
	stop_pid "$PROXY_PID"
	stop_pid "$TLS_PID"
}

# proxy_start ARGS...: the CONNECT proxy (connectproxy.py ARGS), port in
# $PROXY_PORT, request lines in $PLOG
proxy_start() {
	python3 "$CX_ROOT/tests/tools/connectproxy.py" --port-file "$T/proxy.port" \
	    --log "$PLOG" "$@" </dev/null >/dev/null 2>&1 3>&- &
	PROXY_PID=$!
	wait_until 10 test -s "$T/proxy.port"
	PROXY_PORT=$(cat "$T/proxy.port")
}

# tls_start CERT: TLS (CERT for 127.0.0.1) in front of the stand-in, port
# in $TLS_PORT
tls_start() {
	python3 "$CX_ROOT/tests/tools/tlsproxy.py" --cert "$BATS_FILE_TMPDIR/$1.crt" \
	    --key "$BATS_FILE_TMPDIR/$1.key" --target-port "$STANDIN_PORT" \
	    --port-file "$T/tls.port" </dev/null >/dev/null 2>&1 3>&- &
	TLS_PID=$!
	wait_until 10 test -s "$T/tls.port"
	TLS_PORT=$(cat "$T/tls.port")
}

# session_ctx wss|ws: a context in $TCTX holding a fresh session whose
# StreamUrl is wss:// through tlsproxy, or the stand-in's ws://
session_ctx() {
	local s
	s=$(curl -sf --noproxy '*' -X POST "$STANDIN_URL/" \
	    -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: AmazonSSM.StartSession' \
	    --data "{\"Target\":\"$IID\",\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":{\"portNumber\":[\"22\"]}}")
	if [[ "$1" == wss ]]; then
		s=$(jq -c --arg p "$TLS_PORT" \
		    '.StreamUrl |= sub("^ws://127.0.0.1:[0-9]+"; "wss://127.0.0.1:" + $p)' <<<"$s")
	fi
	TCTX="$T/ctx-$RANDOM.json"
	jq --argjson s "$s" '. + {Session: $s}' "$CTX" >"$TCTX"
	chmod 600 "$TCTX"
}

@test "cx-tunnel transport: wss:// through HTTPS_PROXY is a CONNECT tunnel; output exact" {
	tls_start tls
	proxy_start
	session_ctx wss
	unset NO_PROXY
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    run -0 --separate-stderr tssh 'printf "via\nproxy\n"; printf "\001\000\377" | od -An -tx1'
	assert_output "$(printf 'via\nproxy\n 01 00 ff')"
	tunnel_gone
	run -0 cat "$PLOG"
	assert_output "CONNECT 127.0.0.1:$TLS_PORT HTTP/1.1"
	# lowercase https_proxy wins over HTTPS_PROXY (this one is dead)
	: >"$PLOG"
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" https_proxy="http://127.0.0.1:$PROXY_PORT" \
	    HTTPS_PROXY="http://127.0.0.1:1" run -0 tssh 'echo lower'
	assert_output lower
	tunnel_gone
	grep -qx "CONNECT 127.0.0.1:$TLS_PORT HTTP/1.1" "$PLOG"
	[[ ! -s "$ERRF" ]] || { cat "$ERRF"; false; }
}

@test "cx-tunnel transport: 16 MiB up and down over TLS through the proxy keep their SHA-256" {
	tls_start tls
	proxy_start
	unset NO_PROXY
	export AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT"
	session_ctx wss
	run -0 tssh sha256sum <"$BATS_FILE_TMPDIR/data"
	[[ "${output%% *}" == "$DATA_SUM" ]] || { echo "$output"; cat "$ERRF"; false; }
	tunnel_gone
	session_ctx wss
	[[ "$(tssh "cat $BATS_FILE_TMPDIR/data" | sha256sum | cut -d' ' -f1)" == "$DATA_SUM" ]] ||
	    { cat "$ERRF"; false; }
	tunnel_gone
	[[ "$(grep -c "^CONNECT 127.0.0.1:$TLS_PORT " "$PLOG")" == 2 ]]
}

@test "cx-tunnel transport: proxy Basic auth: right credentials pass, wrong ones exit 111 naming HTTP 407, the password never shown" {
	pw='s3cr:t@pw/%x'
	pw_enc='s3cr%3At%40pw%2F%25x'
	tls_start tls
	proxy_start --user alice --password "$pw"
	session_ctx wss
	unset NO_PROXY
	export AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt"
	HTTPS_PROXY="http://alice:$pw_enc@127.0.0.1:$PROXY_PORT" TOPTS=-vv \
	    run -0 --separate-stderr tssh 'echo authenticated'
	assert_output authenticated
	tunnel_gone
	grep -qx "CONNECT 127.0.0.1:$TLS_PORT HTTP/1.1" "$PLOG"
	! grep -qF -e "$pw" -e "$pw_enc" -e "$(printf 'alice:%s' "$pw" | base64 -w0)" "$ERRF"
	# wrong password: refused once, not retried, nothing secret printed
	session_ctx wss
	HTTPS_PROXY="http://alice:wrong%21pw@127.0.0.1:$PROXY_PORT" \
	    run -111 --separate-stderr cx cx-tunnel -vv --context "$TCTX" </dev/null
	[[ "$(grep -c 'HTTP 407' <<<"$stderr")" == 1 ]] || { echo "$stderr"; false; }
	[[ "$stderr" == *"proxy '127.0.0.1' refused the tunnel: HTTP 407"* ]]
	[[ "$stderr" != *'wrong!pw'* && "$stderr" != *'wrong%21pw'* &&
	    "$stderr" != *"$(printf 'alice:wrong!pw' | base64 -w0)"* ]]
	# no credentials at all: 407 too
	session_ctx wss
	HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    run -111 cx cx-tunnel --context "$TCTX" </dev/null
	assert_output --partial 'HTTP 407'
}

@test "cx-tunnel transport: a proxy that refuses CONNECT (403) is one line, exit 111; an unsupported proxy scheme exits 100" {
	tls_start tls
	proxy_start --refuse
	session_ctx wss
	unset NO_PROXY
	export AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt"
	HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    run -111 --separate-stderr cx cx-tunnel --context "$TCTX" </dev/null
	[[ "$(grep -c 'refused the tunnel: HTTP 403' <<<"$stderr")" == 1 ]] || { echo "$stderr"; false; }
	[[ "$(wc -l <"$PLOG")" == 1 ]]
	HTTPS_PROXY="socks5://user:hush@127.0.0.1:$PROXY_PORT" \
	    run -100 --separate-stderr cx cx-tunnel --context "$TCTX" </dev/null
	[[ "$stderr" == *"bad proxy URL in HTTPS_PROXY"* && "$stderr" != *hush* ]]
}

@test "cx-tunnel transport: NO_PROXY naming the host bypasses the proxy" {
	tls_start tls
	proxy_start
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    NO_PROXY="example.com, 127.0.0.1:443" run -0 tssh 'echo direct'
	assert_output direct
	tunnel_gone
	[[ ! -s "$PLOG" ]]
	# lowercase no_proxy, "*"
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    no_proxy='*' NO_PROXY= run -0 tssh 'echo direct'
	assert_output direct
	tunnel_gone
	[[ ! -s "$PLOG" ]]
	# a list without the host: through the proxy
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    NO_PROXY="example.com,127.0.0.2" run -0 tssh 'echo proxied'
	assert_output proxied
	tunnel_gone
	grep -qx "CONNECT 127.0.0.1:$TLS_PORT HTTP/1.1" "$PLOG"
}

@test "cx-tunnel transport: a certificate for another name is refused (certificate, one line, exit 111)" {
	tls_start other
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/other.crt" \
	    run -111 --separate-stderr cx cx-tunnel --context "$TCTX" </dev/null
	[[ "$(grep -c 'certificate' <<<"$stderr")" == 1 ]] || { echo "$stderr"; false; }
	[[ "$stderr" == *"the certificate of '127.0.0.1' was not accepted: IP address mismatch"* ]]
	# the same certificate with the right name passes (the check is the name)
	stop_pid "$TLS_PID"
	rm -f "$T/tls.port"
	tls_start tls
	session_ctx wss
	AWS_CA_BUNDLE="$BATS_FILE_TMPDIR/tls.crt" run -0 tssh 'echo named'
	assert_output named
	tunnel_gone
}

@test "cx-tunnel transport: ws:// through http_proxy is a CONNECT tunnel too; HTTP_PROXY (uppercase) is ignored, like curl" {
	proxy_start
	session_ctx ws
	unset NO_PROXY
	http_proxy="http://127.0.0.1:$PROXY_PORT" run -0 tssh 'echo plain'
	assert_output plain
	tunnel_gone
	run -0 cat "$PLOG"
	assert_output "CONNECT 127.0.0.1:$STANDIN_PORT HTTP/1.1"
	# HTTPS_PROXY is not for ws://, HTTP_PROXY is never read: direct
	: >"$PLOG"
	session_ctx ws
	HTTP_PROXY="http://127.0.0.1:$PROXY_PORT" HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    run -0 tssh 'echo direct'
	assert_output direct
	tunnel_gone
	[[ ! -s "$PLOG" ]]
	# all_proxy is the fallback
	session_ctx ws
	all_proxy="http://127.0.0.1:$PROXY_PORT" run -0 tssh 'echo all'
	assert_output all
	tunnel_gone
	grep -qx "CONNECT 127.0.0.1:$STANDIN_PORT HTTP/1.1" "$PLOG"
}
