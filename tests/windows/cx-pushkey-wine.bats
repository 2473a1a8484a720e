#!/usr/bin/env bats
# cx-pushkey.exe (make windows) under Wine against moto_server and the
# SSM stand-in (EC2 Instance Connect): a key file given by a Windows path
# pushed, the stand-in's key store agreeing; a refused key type is exit
# 100 before any AWS call.  Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/moto
load ../helpers/standin

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-pushkey.exe" ] || skip "no $CX_BIN/cx-pushkey.exe (make windows)"
	moto_start
	read -r AK SK < <(moto_user alice)
	export AK SK
	moto_auth on
	export MOTO_AK=$AK MOTO_SK=$SK MOTO_REGION=eu-west-1
	standin_start --moto "$MOTO_URL" --moto-key "$AK:$SK"
	K="$BATS_FILE_TMPDIR/keys"
	mkdir -p "$K"
	ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$K/ed"
	ssh-keygen -q -t ecdsa -N '' -C ec -f "$K/ec"
	export K
}

teardown_file() {
	standin_stop
	moto_stop
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	export AWS_ENDPOINT_URL="$MOTO_URL"
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
	export AWS_REGION=eu-west-1
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	standin_reset
}

wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

@test "cx-pushkey.exe: pushes a key file (a Windows path); the stand-in's key store agrees" {
	local id
	id=$(moto_instance running)
	# Wine's Z: drive is the Unix root
	run -0 --separate-stderr wcx cx-pushkey --public-key "Z:$K/ed.pub" "$id" <<<'{"Keep":true}'
	jq -e '.Keep == true' <<<"$output"
	assert_equal "$(jq -r .KeyPush.InstanceId <<<"$output")" "$id"
	assert_equal "$(jq -r .KeyPush.KeyType <<<"$output")" ssh-ed25519
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(ssh-keygen -lf "$K/ed.pub" | cut -d' ' -f2)"
	run -0 curl -sf "$STANDIN_URL/standin/keys?user=ec2-user&instance=$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/ed.pub")"
}

@test "cx-pushkey.exe: an ECDSA key is refused before any AWS call (exit 100)" {
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT=http://127.0.0.1:1
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run -100 --separate-stderr wcx cx-pushkey -k "Z:$K/ec.pub" i-0123456789abcdef0 </dev/null
	[[ "$stderr" == *"EC2 Instance Connect refuses 'ecdsa-sha2-nistp256' keys"* ]]
	assert_output ""
}
