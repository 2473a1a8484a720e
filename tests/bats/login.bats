#!/usr/bin/env bats
# cloudx-proxy login and cx-creds --login: the SSO OIDC login without the
# AWS CLI, against the stand-in's SSO OIDC (RegisterClient,
# StartDeviceAuthorization, /authorize, CreateToken) and SSO portal.  The
# "browser" is a test opener on PATH (xdg-open) that fetches the authorize
# URL with curl and follows the redirect to our loopback listener; the
# device flow is approved through the stand-in's switch once the code is
# printed.  The token cache is then read by cx-creds and by the image's
# AWS CLI.
load ../helpers/common

START=https://d-1234.awsapps.com/start

setup_file() {
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --pace-ms 0
	export STANDIN_PID
}

teardown_file() {
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_stop
}

setup() {
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_reset
	export AWS_ENDPOINT_URL_SSO="$STANDIN_URL" AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL"
	umask 077
	mkdir -p "$HOME/.aws" "$BATS_TEST_TMPDIR/bin"
	cat >"$HOME/.aws/config" <<-EOF
	[profile sso]
	sso_session = corp
	sso_account_id = 111122223333
	sso_role_name = Admin
	region = eu-west-2
	[sso-session corp]
	sso_start_url = $START
	sso_region = eu-west-1
	[profile legacy]
	sso_start_url = $START
	sso_region = eu-west-1
	sso_account_id = 111122223333
	sso_role_name = Admin
	region = eu-west-2
	[profile keys]
	region = eu-west-2
	EOF
	# the test browser: records its argv and every process's argv while
	# the login runs, then fetches the URL and follows the redirect
	export OPENER_DIR="$BATS_TEST_TMPDIR/opener"
	mkdir -p "$OPENER_DIR"
	cat >"$BATS_TEST_TMPDIR/bin/xdg-open" <<-'EOF'
	#!/bin/sh
	printf '%s\n' "$@" >>"$OPENER_DIR/argv"
	ps -eo args >>"$OPENER_DIR/ps"
	url=$1
	case "${OPENER_MODE:-}" in
	wrong-state) url=$(printf '%s' "$url" | sed 's/state=[^&]*/state=forged/') ;;
	device) exit 0 ;;
	esac
	exec curl -sS -L --max-time 20 -o "$OPENER_DIR/page.html" "$url"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/xdg-open"
	export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
	export OPENER_MODE=
}

sha1() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }
token_file() { echo "$HOME/.aws/sso/cache/$(sha1 "$1").json"; }
# the registration's file name, as Python's json.dumps(sort_keys=True) spells
# the key (computed here independently of the C code)
reg_file() {
	local name
	name=$(python3 -c '
import hashlib, json, sys
s = None if sys.argv[3] == "-" else sys.argv[3]
args = {"tool": "botocore", "startUrl": sys.argv[1], "region": sys.argv[2], "scopes": None, "session_name": s}
print(hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest())' "$START" eu-west-1 "$1")
	echo "$HOME/.aws/sso/cache/$name.json"
}
oidc_calls() { standin_state | jq -r ".oidc.calls.$1 // 0"; }
mode_of() { stat -c %a "$1"; }

# login_bg LOGFILE ARGS...: a login in the background (LOGIN_PID)
login_bg() {
	local log=$1
	shift
	"$@" </dev/null >"$BATS_TEST_TMPDIR/login.out" 2>"$log" 3>&- &
	LOGIN_PID=$!
}
# the user code the login printed, once it is there
user_code() {
	sed -n 's/.*enter the code: \([A-Z-]*\).*/\1/p' "$1" | head -n1
}
device_decide() {
	wait_until 15 grep -q 'enter the code: ' "$1"
	curl -sS -X POST -d "{\"userCode\": \"$(user_code "$1")\", \"decision\": \"$2\"}" \
	    "$STANDIN_URL/standin/oidc/decide" >/dev/null
}

teardown() {
	[ -z "${LOGIN_PID:-}" ] || stop_pid "$LOGIN_PID"
	[ -z "${MOTO_PID:-}" ] || stop_pid "$MOTO_PID"
}

@test "login: the auth-code flow with PKCE writes the AWS CLI v2 token cache (sso-session) and cx-creds uses it" {
	run -0 --separate-stderr cx cloudx-proxy login --profile sso
	assert_equal "$output" ""
	[[ "$stderr" == *"open this URL to log in: $STANDIN_URL/authorize?"* ]]
	[[ "$stderr" == *"cloudx-proxy: logged in to $START for profile 'sso'; the token expires at "* ]]
	f=$(token_file corp)
	assert_equal "$(jq -c 'keys' "$f")" '["accessToken","clientId","clientSecret","expiresAt","refreshToken","region","registrationExpiresAt","startUrl"]'
	assert_equal "$(jq -r '.startUrl + " " + .region' "$f")" "$START eu-west-1"
	jq -e '.expiresAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$f" >/dev/null
	assert_equal "$(mode_of "$f")" 600
	assert_equal "$(mode_of "$HOME/.aws/sso/cache")" 700
	r=$(reg_file corp)
	assert_equal "$(jq -c 'keys' "$r")" '["clientId","clientSecret","expiresAt","grantTypes"]'
	assert_equal "$(mode_of "$r")" 600
	assert_equal "$(jq -r .clientId "$r")" "$(jq -r .clientId "$f")"
	# the stand-in checked the PKCE verifier against the challenge
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .grant == "authorization_code" and .status == 200)] | length == 1' >/dev/null
	standin_log | jq -e '[.[] | select(.op == "Authorize") | .query.code_challenge_method] == ["S256"]' >/dev/null
	# the browser page said so
	grep -q "Login complete" "$OPENER_DIR/page.html"
	# the token works with GetRoleCredentials
	run -0 --separate-stderr cx cx-creds --profile sso
	assert_equal "$(jq -r .Version <<<"$output")" 1
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}

@test "login: the registration is reused on a second login (one RegisterClient), then the refresh token is used by cx-creds" {
	run -0 cx cloudx-proxy login --profile sso
	run -0 cx cloudx-proxy login --profile sso
	assert_equal "$(oidc_calls RegisterClient)" 1
	assert_equal "$(oidc_calls Authorize)" 2
	# an expiring token is refreshed through the cached refresh token
	f=$(token_file corp)
	jq '.expiresAt = "2020-01-01T00:00:00Z"' "$f" >"$f.new" && mv "$f.new" "$f"
	run -0 --separate-stderr cx cx-creds --profile sso
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .body.grantType == "refresh_token" and .status == 200)] | length == 1' >/dev/null
}

@test "login: a legacy profile (sso_start_url in the profile): token cache named after the start URL, no refresh keys" {
	run -0 --separate-stderr cx cloudx-proxy login --profile legacy
	f=$(token_file "$START")
	assert_equal "$(jq -c 'keys' "$f")" '["accessToken","expiresAt","region","startUrl"]'
	[ -f "$(reg_file -)" ]
	run -0 --separate-stderr cx cx-creds --profile legacy
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}

@test "login: denied at the sign-in page: one line, exit 1, no token" {
	standin_config '{"oidc_authorize": "deny"}'
	run -1 --separate-stderr cx cloudx-proxy login --profile sso
	assert_equal "$(grep -v 'open this URL' <<<"$stderr")" "cloudx-proxy: the sign-in was refused: access_denied"
	[ ! -e "$(token_file corp)" ]
	grep -q "Login refused" "$OPENER_DIR/page.html"
}

@test "login: a redirect with a wrong state is refused: one line, exit 100, no token request" {
	export OPENER_MODE=wrong-state
	run -100 --separate-stderr cx cloudx-proxy login --profile sso
	assert_equal "$(grep -v 'open this URL' <<<"$stderr")" "cloudx-proxy: refused a login redirect with a wrong state"
	[ ! -e "$(token_file corp)" ]
	assert_equal "$(oidc_calls CreateToken)" 0
}

@test "login: a redirect without a state is refused too" {
	# the listener itself, driven by hand: start a login whose opener does
	# nothing, then call the redirect URI with a code and no state
	export OPENER_MODE=device
	login_bg "$BATS_TEST_TMPDIR/err" cloudx-proxy login --profile sso
	wait_until 15 grep -q 'open this URL to log in' "$BATS_TEST_TMPDIR/err"
	redirect=$(grep -o 'redirect_uri=[^&]*' "$OPENER_DIR/argv" | head -n1 | cut -d= -f2 |
	    python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))')
	curl -sS -o /dev/null "$redirect?code=abc" || true
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 100
	assert_equal "$(grep -v 'open this URL' "$BATS_TEST_TMPDIR/err")" "cloudx-proxy: refused a login redirect with a missing state"
}

@test "login --no-browser: the device flow prints the URL and code on stderr, approved through the switch" {
	login_bg "$BATS_TEST_TMPDIR/err" cloudx-proxy login --no-browser --profile sso
	device_decide "$BATS_TEST_TMPDIR/err" approve
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/login.out")" ""
	grep -q "to log in, open $STANDIN_URL/device and enter the code: " "$BATS_TEST_TMPDIR/err"
	grep -q "(or open $STANDIN_URL/device?user_code=" "$BATS_TEST_TMPDIR/err"
	# --no-browser starts no browser at all
	[ ! -e "$OPENER_DIR/argv" ]
	f=$(token_file corp)
	assert_equal "$(jq -c 'keys' "$f")" '["accessToken","clientId","clientSecret","expiresAt","refreshToken","region","registrationExpiresAt","startUrl"]'
	# a device-grant client (no grantTypes) under the same name
	assert_equal "$(jq -c 'keys' "$(reg_file corp)")" '["clientId","clientSecret","expiresAt"]'
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .grant == "urn:ietf:params:oauth:grant-type:device_code" and .status == 200)] | length == 1' >/dev/null
	run -0 --separate-stderr cx cx-creds --profile sso
}

@test "login: no opener on this system falls back to the device flow" {
	export CX_BROWSER=/nonexistent/opener
	login_bg "$BATS_TEST_TMPDIR/err" cx-creds --login --profile sso
	device_decide "$BATS_TEST_TMPDIR/err" approve
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 0
	grep -q "no browser can be opened here: using a code instead" "$BATS_TEST_TMPDIR/err"
	# cx-creds --login goes on as the stage: the credentials on stdout
	[[ "$(jq -r .AccessKeyId "$BATS_TEST_TMPDIR/login.out")" == ASIA* ]]
}

@test "login: device flow denied: one line, exit 1" {
	login_bg "$BATS_TEST_TMPDIR/err" cloudx-proxy login --no-browser --profile sso
	device_decide "$BATS_TEST_TMPDIR/err" deny
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 1
	assert_equal "$(tail -n1 "$BATS_TEST_TMPDIR/err")" "cloudx-proxy: the sign-in was refused: access_denied"
	[ ! -e "$(token_file corp)" ]
}

@test "login: the device code expires while polling: one line, exit 5" {
	standin_config '{"oidc_device_expires_in": 2}'
	run -5 --separate-stderr cx cloudx-proxy login --no-browser --profile sso
	assert_equal "$(tail -n1 <<<"$stderr")" "cloudx-proxy: the login code expired before it was approved; run login again"
	[ ! -e "$(token_file corp)" ]
}

@test "login: slow_down is honoured (the interval grows by 5 s; no poll comes too soon)" {
	# a client that ignored slow_down would be answered slow_down until the
	# code expires (20 s here) and fail
	standin_config '{"oidc_slow_down_next": 1, "oidc_device_expires_in": 20}'
	login_bg "$BATS_TEST_TMPDIR/err" cloudx-proxy login --no-browser --profile sso
	device_decide "$BATS_TEST_TMPDIR/err" approve
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 0
	assert_equal "$(oidc_calls slow_down)" 1
	assert_equal "$(oidc_calls too_fast)" 0
}

@test "login: the AWS CLI reads the token cache we wrote (get-caller-identity through it)" {
	command -v aws >/dev/null || skip "aws (the AWS CLI) is not installed"
	run -0 cx cloudx-proxy login --profile sso
	# STS from moto (any keys accepted); SSO and SSO OIDC from the stand-in
	load ../helpers/moto
	moto_start
	moto_auth off
	unset AWS_ENDPOINT_URL
	run -0 --separate-stderr env AWS_ENDPOINT_URL_STS="$MOTO_URL" \
	    aws sts get-caller-identity --profile sso --output json
	jq -e '.Arn' <<<"$output" >/dev/null
	# the AWS CLI used our token for GetRoleCredentials (no login of its own)
	standin_log | jq -e '[.[] | select(.kind == "sso" and .path == "/federation/credentials" and .status == 200)] | length == 1' >/dev/null
	assert_equal "$(oidc_calls RegisterClient)" 1
}

@test "login: secrets (access/refresh token, client secret, auth code) never in argv or on stderr at -vv" {
	run -0 --separate-stderr cx cloudx-proxy login --profile sso -vv
	f=$(token_file corp)
	for k in accessToken refreshToken clientSecret; do
		v=$(jq -r ".$k" "$f")
		[ -n "$v" ] && [ "$v" != null ]
		[[ "$stderr" != *"$v"* ]] || fail "$k on stderr"
		! grep -qF -- "$v" "$OPENER_DIR/argv" "$OPENER_DIR/ps" || fail "$k in an argv"
	done
	# the code reached us through the redirect only: the opener's argv
	# holds the authorize URL (public: client id, state, challenge)
	! grep -q 'code=' "$OPENER_DIR/argv"
	! grep -q 'code_verifier\|codeVerifier' "$OPENER_DIR/argv"
}

@test "login: a token cache folder others may write is not used (one line, exit 100, nothing written)" {
	mkdir -p "$HOME/.aws/sso/cache"
	chmod 0777 "$HOME/.aws/sso/cache"
	run -100 --separate-stderr cx cloudx-proxy login --profile sso
	assert_equal "$stderr" "cloudx-proxy: not using the SSO token cache '$HOME/.aws/sso/cache': it is writable by others (mode 0777)"
	assert_equal "$(ls -A "$HOME/.aws/sso/cache")" ""
	assert_equal "$(oidc_calls RegisterClient)" 0
}

@test "login: SIGINT while waiting for the browser ends it at once (exit 130), nothing written" {
	export OPENER_MODE=device
	login_bg "$BATS_TEST_TMPDIR/err" cloudx-proxy login --profile sso
	wait_until 15 grep -q 'open this URL to log in' "$BATS_TEST_TMPDIR/err"
	kill -INT "$LOGIN_PID"
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	assert_equal "$status" 130
	[ ! -e "$(token_file corp)" ]
}

@test "login: bad use: not an SSO profile, an unknown option, an argument (one line each)" {
	run -100 --separate-stderr cx cloudx-proxy login --profile keys
	assert_equal "$stderr" "cloudx-proxy: profile 'keys' is not an SSO profile (no sso_session or sso_start_url)"
	run -100 --separate-stderr cx cloudx-proxy login --bogus
	run -100 --separate-stderr cx cloudx-proxy login extra
	run -100 --separate-stderr cx cx-creds --no-browser
	assert_equal "$stderr" "cx-creds: --no-browser goes with --login"
}
