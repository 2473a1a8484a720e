#!/usr/bin/env bats
# cx-creds.exe (make windows) under Wine: the Windows build finding
# %USERPROFILE%\.aws in the Wine user profile, static keys, profiles,
# assume role against moto_server (signature checking on: libcurl and
# OpenSSL as cross-built, Winsock), credential_process running a Windows
# program (cmd.exe) with its command line quoted by the Windows rules.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/moto

ROLE1=arn:aws:iam::123456789012:role/cxrole1

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-creds.exe" ] || skip "no $CX_BIN/cx-creds.exe (make windows)"
	moto_start
	moto_auth off
	read -r ALICE_AK ALICE_SK < <(moto_user alice)
	export ALICE_AK ALICE_SK
	moto_aws iam create-role --role-name cxrole1 \
	    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}' >/dev/null
	moto_aws iam put-role-policy --role-name cxrole1 --policy-name all \
	    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
	moto_auth on
}

teardown_file() {
	moto_stop
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	# private files, as `aws configure` makes them (Wine models the DACL
	# on the mode: a 0644 file is readable by Everyone, and warned about)
	umask 077
	. "$BATS_TEST_DIRNAME/wine-env"
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	# %USERPROFILE% of the Wine prefix's user, as Unix paths
	PROFILE_DIR="$WINEPREFIX/drive_c/users/$(id -un)"
	rm -rf "$PROFILE_DIR/.aws" "$PROFILE_DIR/.cache"
	mkdir -p "$PROFILE_DIR/.aws"
	CFG="$PROFILE_DIR/.aws/config"
	CRED="$PROFILE_DIR/.aws/credentials"
}

teardown() {
	rm -rf "${PROFILE_DIR:?}/.aws" "$PROFILE_DIR/.cache"
}

# wcx PROG ARGS...: one of our .exe files under Wine
wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

@test "cx-creds.exe: --version and a usage error (exit 100, one line)" {
	run -0 wcx cx-creds --version
	assert_output --regexp '^cx-creds [0-9]'
	run -100 --separate-stderr wcx cx-creds --format yaml
	assert_equal "$(printf '%s\n' "$stderr" | grep -c .)" 1
	# named as on Linux: no folder, no .exe
	[[ "$stderr" == "cx-creds: "* ]]
	assert_equal "$output" ""
}

@test "cx-creds.exe: environment keys, legacy token name first, default region" {
	export AWS_ACCESS_KEY_ID=AKENV AWS_SECRET_ACCESS_KEY=SKENV
	export AWS_SESSION_TOKEN=TOKNEW AWS_SECURITY_TOKEN=TOKOLD
	run -0 --separate-stderr wcx cx-creds </dev/null
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKENV
	assert_equal "$(jq -r .SecretAccessKey <<<"$output")" SKENV
	assert_equal "$(jq -r .SessionToken <<<"$output")" TOKOLD
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-1
	# stdout is bytes: no CR added by the C runtime
	[[ "$output" != *$'\r'* ]]
}

@test "cx-creds.exe: profiles from %USERPROFILE%\\.aws, credentials file beats config" {
	printf '[profile dev]\nregion = ap-south-1\naws_access_key_id = AKCONF\naws_secret_access_key = SKCONF\n' >"$CFG"
	printf '[dev]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\n[b]\naws_access_key_id = AKB\naws_secret_access_key = S\n' >"$CRED"
	run -0 wcx cx-creds --profile dev
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCRED
	assert_equal "$(jq -r .Region <<<"$output")" ap-south-1
	assert_equal "$(jq -r .Profile <<<"$output")" dev
	AWS_PROFILE=b run -0 wcx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKB
	rm "$CRED"
	run -0 wcx cx-creds --profile dev
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCONF
	run -100 --separate-stderr wcx cx-creds --profile nosuch
	assert_output ""
	[[ "$stderr" == *nosuch* ]]
}

@test "cx-creds.exe: a credentials file others may read is used, with one warning" {
	printf '[default]\naws_access_key_id = AKW\naws_secret_access_key = SKW\n' >"$CRED"
	chmod 644 "$CRED"
	run -0 --separate-stderr wcx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKW
	[[ "$stderr" == *"readable by other users"* ]]
	chmod 600 "$CRED"
	run -0 --separate-stderr wcx cx-creds
	assert_equal "$stderr" ""
}

@test "cx-creds.exe: CRLF files (Notepad's) read as the AWS CLI reads them" {
	printf '[default]\r\naws_access_key_id = AKCRLF\r\naws_secret_access_key = SKCRLF\r\nregion = us-east-2\r\n' >"$CRED"
	run -0 wcx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCRLF
}

@test "cx-creds.exe: assume role against moto (signed requests over Winsock)" {
	export AWS_ENDPOINT_URL="$MOTO_URL"
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	printf '[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = winsess\n' "$ROLE1" >"$CFG"
	run -0 --separate-stderr wcx cx-creds --profile role --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:sts::123456789012:assumed-role/cxrole1/winsess
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
	[ -n "$(jq -r .SessionToken <<<"$output")" ]
	# a wrong secret is refused by moto: exit 3 (AWS error), one line
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' "$ALICE_AK" >"$CRED"
	rm -rf "$PROFILE_DIR/.cache"
	run --separate-stderr wcx cx-creds --profile role --identity
	[ "$status" -ne 0 ]
	assert_output ""
}

@test "cx-creds.exe: credential_process runs a Windows program (cmd.exe), arguments quoted" {
	local exp json
	exp=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
	json="$PROFILE_DIR/proc out.json"
	printf '{"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "SKPROC", "SessionToken": "TPROC", "Expiration": "%s"}\n' "$exp" >"$json"
	# a path with a space, through cmd.exe's own command line
	printf '[profile p]\ncredential_process = cmd.exe /c type "C:\\users\\%s\\proc out.json"\n' "$(id -un)" >"$CFG"
	run -0 --separate-stderr wcx cx-creds --profile p
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKPROC
	assert_equal "$(jq -r .SessionToken <<<"$output")" TPROC
	assert_equal "$(jq -r .Expiration <<<"$output")" "$exp"
	# a program that does not exist: exit 100, named
	printf '[profile p]\ncredential_process = C:/nonexistent/helper.exe\n' >"$CFG"
	run -100 --separate-stderr wcx cx-creds --profile p
	[[ "$stderr" == *nonexistent* ]]
	# one that fails: its exit code in the message, exit 3
	printf '[profile p]\ncredential_process = cmd.exe /c exit 4\n' >"$CFG"
	run -3 --separate-stderr wcx cx-creds --profile p
	[[ "$stderr" == *"exit 4"* ]]
}
