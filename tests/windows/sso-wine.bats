#!/usr/bin/env bats
# SSO under Wine (issue 13): cx-creds.exe and `cloudx-proxy.exe login`
# (make windows) against the SSM stand-in's SSO portal and SSO OIDC, as a
# Windows user with a folder of their own ("C:\users\Åsa Ström": a blank
# and letters beyond ASCII; Wine would give a program its own
# %USERPROFILE%, so the programs are started through
# tests/tools/win/winrun.exe with ours).
#
# cx-creds.exe: an sso-session profile and a token in
# %USERPROFILE%\.aws\sso\cache\<SHA-1 of the session name>.json (as the
# AWS CLI v2 writes it) gets the role credentials; an expired or missing
# token gives the login line, exit 3; a token cache others may write is
# refused.  Wine keeps no DACL: it makes one from the Unix mode (the
# owner, Everyone) and a mode from the DACL we set (test_os_win.c), so
# "writable by others" is modelled with chmod; a file of another Unix
# user has another owner (not our SID) under Wine: chown (root).
#
# cloudx-proxy.exe login: the device flow (--no-browser), approved through
# the stand-in's switch once the code is printed, and the auth-code flow
# with PKCE through our 127.0.0.1 listener (Winsock), the "browser" a
# Windows program (CX_BROWSER) that is tests/tools/win/unix-shim.exe
# running the Linux curl.  The token cache is checked field by field and
# then used by cx-creds.exe.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/otheruser

WUSER='Åsa Ström'
START=https://d-1234.awsapps.com/start

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	local p
	for p in cloudx-proxy cx-creds tests/tools/winrun tests/tools/unix-shim; do
		[ -f "$CX_BIN/$p.exe" ] || skip "no $CX_BIN/$p.exe (make windows)"
	done
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_start --pace-ms 0
	export STANDIN_PID
	export WUP="$WINEPREFIX/drive_c/users/$WUSER"
	rm -rf "$WUP"
	mkdir -p "$WUP/AppData/Roaming" "$WUP/AppData/Local"
	# a user folder others may read (Wine: Everyone's ACE, inherited
	# by what is made in it unless that is made private)
	chmod 0755 "$WUP"
	# the test browser: unix-shim.exe as a Windows program of its own
	# name (cx-opener.exe), running the Linux cx-opener below
	export SHIMS="$BATS_FILE_TMPDIR/shims"
	mkdir -p "$SHIMS"
	cp "$CX_BIN/tests/tools/unix-shim.exe" "$SHIMS/cx-opener.exe"
	export CX_SHIM_SH="Z:${CX_ROOT//\//\\}\\tests\\tools\\win\\unix-shim.sh"
	export WINRUN="$CX_ROOT/$CX_BIN/tests/tools/winrun.exe"
	export WBIN="Z:${CX_ROOT//\//\\}\\${CX_BIN//\//\\}"
}

teardown_file() {
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	standin_reset
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	export AWS_ENDPOINT_URL_SSO="$STANDIN_URL" AWS_ENDPOINT_URL_SSO_OIDC="$STANDIN_URL"
	unset CX_BROWSER
	# private, as the AWS CLI makes them (Wine: the DACL from the mode)
	umask 077
	# (and no role credentials cached by an earlier test)
	rm -rf "${WUP:?}/.aws" "$WUP/.cache"
	mkdir -p "$WUP/.aws"
	cat >"$WUP/.aws/config" <<-EOF
	[profile sso]
	sso_session = corp
	sso_account_id = 111122223333
	sso_role_name = Admin
	region = eu-west-2
	[sso-session corp]
	sso_start_url = $START
	sso_region = eu-west-1
	EOF
	# the Linux side of cx-opener.exe: records its argv, fetches the URL
	# and follows the redirect to the login's listener
	export OPENER_DIR="$BATS_TEST_TMPDIR/opener"
	mkdir -p "$OPENER_DIR" "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/cx-opener" <<-'EOF'
	#!/bin/sh
	printf '%s\n' "$@" >>"$OPENER_DIR/argv"
	exec curl -sS -L --max-time 20 -o "$OPENER_DIR/page.html" "$1"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/cx-opener"
	export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

teardown() {
	[ -z "${LOGIN_PID:-}" ] || stop_pid "$LOGIN_PID"
	other_user_remove
	rm -rf "${WUP:?}/.aws" "$WUP/.cache"
}

# The environment of our Windows user (winrun.exe NAME=VALUE ...)
wenv() {
	printf '%s\n' "USERPROFILE=C:\\users\\$WUSER" \
	    "APPDATA=C:\\users\\$WUSER\\AppData\\Roaming" \
	    "LOCALAPPDATA=C:\\users\\$WUSER\\AppData\\Local" \
	    "HOMEPATH=\\users\\$WUSER" "USERNAME=$WUSER"
}

# wx PROG ARGS...: our PROG.exe as our Windows user (arguments without
# blanks or quotes: the command line is them joined by blanks)
wx() {
	local -a env
	local p=$1
	shift
	mapfile -t env < <(wenv)
	"$CX_WINE" "$WINRUN" "${env[@]}" -- "\"$WBIN\\$p.exe\" $*"
}

sha1() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }
CACHE_WIN="C:/users/$WUSER/.aws/sso/cache"
token_file() { echo "$WUP/.aws/sso/cache/$(sha1 "$1").json"; }
# the registration's file name, as Python's json.dumps(sort_keys=True)
# spells the key (as login.bats computes it)
reg_file() {
	local name
	name=$(python3 -c '
import hashlib, json, sys
args = {"tool": "botocore", "startUrl": sys.argv[1], "region": sys.argv[2], "scopes": None, "session_name": sys.argv[3]}
print(hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest())' "$START" eu-west-1 "$1")
	echo "$WUP/.aws/sso/cache/$name.json"
}
# sso_token KEY TOKEN EXPIRES: the token cache file for KEY, as the AWS
# CLI v2 writes it (its path on stdout)
sso_token() {
	local f
	mkdir -p "$WUP/.aws/sso/cache"
	f=$(token_file "$1")
	jq -n --arg t "$2" --arg e "$3" --arg s "$START" '{startUrl: $s, region: "eu-west-1", accessToken: $t, expiresAt: $e}' >"$f"
	echo "$f"
}
in_hours() { date -u -d "+$1 hours" +%Y-%m-%dT%H:%M:%SZ; }
# private: Wine turns the user's ACE into the owner's and group's bits,
# and Everyone's into the others': none of those
private() {
	local m
	m=$(stat -c %a "$1")
	[ $((8#$m & 8#007)) -eq 0 ] || fail "'$1' has mode $m: others may use it"
}
oidc_calls() { standin_state | jq -r ".oidc.calls.$1 // 0"; }

# login_bg LOGFILE ARGS...: `cloudx-proxy.exe ARGS` in the background
# (LOGIN_PID), stdout to login.out
login_bg() {
	local log=$1
	shift
	wx cloudx-proxy "$@" </dev/null >"$BATS_TEST_TMPDIR/login.out" 2>"$log" 3>&- &
	LOGIN_PID=$!
}
user_code() {
	sed -n 's/.*enter the code: \([A-Z-]*\).*/\1/p' "$1" | head -n1
}
device_decide() {
	wait_until 60 grep -q 'enter the code: ' "$1"
	curl -sS -X POST -d "{\"userCode\": \"$(user_code "$1")\", \"decision\": \"$2\"}" \
	    "$STANDIN_URL/standin/oidc/decide" >/dev/null
}
login_wait() {
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
}

@test "cx-creds.exe: an sso-session profile with a valid token in %USERPROFILE%\\.aws\\sso\\cache gets the role credentials" {
	standin_config '{"sso_tokens": {"tok-good": {"accounts": {"111122223333": ["Admin"]}}}}'
	sso_token corp tok-good "$(in_hours 1)" >/dev/null
	run -0 --separate-stderr wx cx-creds --profile sso
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
	[ -n "$(jq -r .SessionToken <<<"$output")" ]
	[ -n "$(jq -r .Expiration <<<"$output")" ]
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-2
	assert_equal "$stderr" ""
	# the stand-in got our token for that account and role
	standin_log | jq -e '[.[] | select(.kind == "sso" and .status == 200 and .query.role_name == "Admin" and .query.account_id == "111122223333")] | length == 1' >/dev/null
	# the role credentials cached for the user alone (made in a folder
	# Everyone may read)
	local c
	c=$(find "$WUP/.cache/cloudx-proxy" -name '*.json')
	[ -n "$c" ]
	private "$WUP/.cache"
	private "$WUP/.cache/cloudx-proxy"
	private "$c"
}

@test "cx-creds.exe: an expired, a missing or a refused SSO token: exit 3 and the login line" {
	local line="cx-creds: the SSO session for profile 'sso' has expired or is missing; run: cloudx-proxy login --profile sso"
	sso_token corp tok-good "2020-01-01T00:00:00Z" >/dev/null
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "$line"
	rm -f "$WUP"/.aws/sso/cache/*.json
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "$line"
	# one the portal does not know (401), never named on stderr
	sso_token corp tok-unknown "$(in_hours 1)" >/dev/null
	run -3 --separate-stderr wx cx-creds --profile sso -vv
	assert_output ""
	assert_equal "$(grep -v ': debug: ' <<<"$stderr")" "$line"
	[[ "$stderr" != *tok-unknown* ]]
}

@test "cx-creds.exe: an SSO token cache others may write is not used (folder or file; Wine models it on the mode)" {
	standin_config '{"sso_tokens": {"tok-good": {"accounts": {"111122223333": ["Admin"]}}}}'
	f=$(sso_token corp tok-good "$(in_hours 1)")
	chmod 0777 "$WUP/.aws/sso/cache"
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$CACHE_WIN': it is writable by others"
	chmod 0700 "$WUP/.aws/sso/cache"
	chmod 0666 "$f"
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$CACHE_WIN/$(sha1 corp).json': it is writable by others"
	# ours and private: used
	chmod 0600 "$f"
	run -0 --separate-stderr wx cx-creds --profile sso
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}

@test "cloudx-proxy.exe login --no-browser under Wine: the device flow, the token cache in the user's folder as the AWS CLI v2 writes it, then cx-creds.exe uses it" {
	# a .aws folder others may read: what login makes in it is private
	chmod 0755 "$WUP/.aws"
	login_bg "$BATS_TEST_TMPDIR/err" login --profile sso --no-browser
	device_decide "$BATS_TEST_TMPDIR/err" approve
	login_wait
	[ "$status" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/err"; false; }
	assert_equal "$(cat "$BATS_TEST_TMPDIR/login.out")" ""
	grep -q "to log in, open $STANDIN_URL/device and enter the code: " "$BATS_TEST_TMPDIR/err"
	grep -q "logged in to $START for profile 'sso'; the token expires at " "$BATS_TEST_TMPDIR/err"
	# no browser started
	[ ! -e "$OPENER_DIR/argv" ]
	f=$(token_file corp)
	assert_equal "$(jq -c 'keys' "$f")" '["accessToken","clientId","clientSecret","expiresAt","refreshToken","region","registrationExpiresAt","startUrl"]'
	assert_equal "$(jq -r '.startUrl + " " + .region' "$f")" "$START eu-west-1"
	jq -e '.expiresAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$f" >/dev/null
	assert_equal "$(jq -c 'keys' "$(reg_file corp)")" '["clientId","clientSecret","expiresAt"]'
	private "$WUP/.aws/sso"
	private "$WUP/.aws/sso/cache"
	private "$f"
	private "$(reg_file corp)"
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .grant == "urn:ietf:params:oauth:grant-type:device_code" and .status == 200)] | length == 1' >/dev/null
	# a following cx-creds.exe uses it
	run -0 --separate-stderr wx cx-creds --profile sso
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}

@test "cloudx-proxy.exe login under Wine: the auth-code flow with PKCE through the 127.0.0.1 listener (Winsock), a Windows program as the browser" {
	export CX_BROWSER="${SHIMS//\//\\}\\cx-opener.exe"
	CX_BROWSER="Z:$CX_BROWSER"
	run --separate-stderr wx cloudx-proxy login --profile sso
	[ "$status" -eq 0 ] || { printf '%s\n' "$stderr" "RC:$status"; cat "$OPENER_DIR"/* ; false; }
	assert_output ""
	[[ "$stderr" == *"open this URL to log in: $STANDIN_URL/authorize?"* ]]
	[[ "$stderr" == *"cloudx-proxy: logged in to $START for profile 'sso'; the token expires at "* ]]
	# the opener got the authorize URL as one argument, the page said so
	assert_equal "$(grep -c . "$OPENER_DIR/argv")" 1
	grep -q "^$STANDIN_URL/authorize?" "$OPENER_DIR/argv"
	grep -q "Login complete" "$OPENER_DIR/page.html"
	f=$(token_file corp)
	assert_equal "$(jq -c 'keys' "$f")" '["accessToken","clientId","clientSecret","expiresAt","refreshToken","region","registrationExpiresAt","startUrl"]'
	assert_equal "$(jq -c 'keys' "$(reg_file corp)")" '["clientId","clientSecret","expiresAt","grantTypes"]'
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .grant == "authorization_code" and .status == 200)] | length == 1' >/dev/null
	standin_log | jq -e '[.[] | select(.op == "Authorize") | .query.code_challenge_method] == ["S256"]' >/dev/null
	run -0 --separate-stderr wx cx-creds --profile sso
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}

@test "cx-creds.exe: an SSO token another user owns is not used: exit 3, one line" {
	other_user_create
	standin_config '{"sso_tokens": {"tok-good": {"accounts": {"111122223333": ["Admin"]}}}}'
	f=$(sso_token corp tok-good "$(in_hours 1)")
	# a token another user wrote is not our login (Wine: another Unix
	# owner is another SID)
	chown "$OTHER_USER" "$f"
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$CACHE_WIN/$(sha1 corp).json': it is owned by another user"
	# nor one in a folder another user owns
	chown "$(id -u)" "$f"
	chown "$OTHER_USER" "$WUP/.aws/sso/cache"
	run -3 --separate-stderr wx cx-creds --profile sso
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$CACHE_WIN': it is owned by another user"
	chown "$(id -u)" "$WUP/.aws/sso/cache"
	run -0 --separate-stderr wx cx-creds --profile sso
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
}
