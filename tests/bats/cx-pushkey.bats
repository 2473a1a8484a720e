#!/usr/bin/env bats
# cx-pushkey: key checks (no AWS), a real ssh-agent with several keys, the
# push to the EIC stand-in, and a real sshd whose AuthorizedKeysCommand asks
# the stand-in: the key works only after the push, and only while valid.
load ../helpers/common
load ../helpers/moto
load ../helpers/standin
load ../helpers/sshd

setup_file() {
	moto_start
	read -r AK SK < <(moto_user alice)
	export AK SK
	moto_auth on
	export MOTO_AK=$AK MOTO_SK=$SK MOTO_REGION=eu-west-1
	standin_start --moto "$MOTO_URL" --moto-key "$AK:$SK"
	K="$BATS_FILE_TMPDIR/keys"
	mkdir -p "$K"
	ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$K/ed"
	ssh-keygen -q -t ed25519 -N '' -C bob@laptop -f "$K/ed2"
	ssh-keygen -q -t ed25519 -N '' -C shared -f "$K/s1"
	ssh-keygen -q -t rsa -b 2048 -N '' -C shared -f "$K/s2"
	ssh-keygen -q -t ecdsa -N '' -C ec -f "$K/ec"
	ssh-keygen -q -t rsa -b 1024 -N '' -C small -f "$K/rsa1k"
	export K
}

teardown_file() {
	standin_stop
	moto_stop
}

setup() {
	common_setup
	export AWS_ENDPOINT_URL="$MOTO_URL"
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
	export AWS_REGION=eu-west-1
	standin_reset
}

teardown() {
	stop_pid "${AGENT_PID:-}"
	if [ -n "${SSHD_PID:-}" ]; then sshd_stop; fi
}

fp() {
	ssh-keygen -lf "$1" | cut -d' ' -f2
}

@test "cx-pushkey: pushes a key file; KeyPush and the stand-in's key store agree" {
	id=$(moto_instance running)
	run -0 --separate-stderr cx cx-pushkey --public-key "$K/ed.pub" "$id" <<<'{"Keep":true}'
	jq -e '.Keep == true' <<<"$output"
	assert_equal "$(jq -r .KeyPush.InstanceId <<<"$output")" "$id"
	assert_equal "$(jq -r .KeyPush.OsUser <<<"$output")" ec2-user
	assert_equal "$(jq -r .KeyPush.KeyType <<<"$output")" ssh-ed25519
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(fp "$K/ed.pub")"
	until=$(jq -r .KeyPush.ValidUntil <<<"$output")
	left=$(( $(date -d "$until" +%s) - $(date +%s) ))
	[ "$left" -ge 55 ] && [ "$left" -le 61 ]
	run -0 curl -sf "$STANDIN_URL/standin/keys?user=ec2-user&instance=$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/ed.pub")"
}

@test "cx-pushkey: takes the instance and its zone from cx-instance output" {
	id=$(moto_instance running)
	run -0 --separate-stderr cx cx-pushkey -k "$K/ed.pub" --os-user ubuntu \
	    <<<"{\"Instance\":{\"InstanceId\":\"$id\",\"AvailabilityZone\":\"eu-west-1a\"}}"
	assert_equal "$(jq -r .KeyPush.OsUser <<<"$output")" ubuntu
	run -0 curl -sf "$STANDIN_URL/standin/keys?user=ubuntu&instance=$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/ed.pub")"
	# a wrong zone reaches the service, which refuses it
	run -1 --separate-stderr cx cx-pushkey -k "$K/ed.pub" \
	    <<<"{\"Instance\":{\"InstanceId\":\"$id\",\"AvailabilityZone\":\"eu-west-1c\"}}"
	[[ "$stderr" == *InvalidArgsException* ]]
}

@test "cx-pushkey: ECDSA, small RSA and sk- keys are refused before any AWS call" {
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT=http://127.0.0.1:1
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run -100 --separate-stderr cx cx-pushkey -k "$K/ec.pub" i-0123456789abcdef0
	[[ "$stderr" == *"EC2 Instance Connect refuses 'ecdsa-sha2-nistp256' keys"* ]]
	run -100 --separate-stderr cx cx-pushkey -k "$K/rsa1k.pub" i-0123456789abcdef0
	[[ "$stderr" == *"refuses 1024-bit RSA keys"* ]]
	printf 'sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHAAAABHNzaDo= yubi\n' >"$BATS_TEST_TMPDIR/sk.pub"
	run -100 --separate-stderr cx cx-pushkey -k "$BATS_TEST_TMPDIR/sk.pub" i-0123456789abcdef0
	[[ "$stderr" == *"security-key"* ]]
}

@test "cx-pushkey: a private key given as public is refused and never echoed" {
	run -100 --separate-stderr cx cx-pushkey -k "$K/ed" i-0123456789abcdef0
	[[ "$stderr" == *"this is a private key"* ]]
	assert_equal "$output" ""
	while read -r line; do
		case "$line" in -----*) continue ;; esac
		[[ "$stderr" != *"${line:0:16}"* ]]
	done <"$K/ed"
	echo 'ssh-ed25519 AAAA!!!! x' >"$BATS_TEST_TMPDIR/bad.pub"
	run -100 --separate-stderr cx cx-pushkey -k "$BATS_TEST_TMPDIR/bad.pub" i-0123456789abcdef0
	[[ "$stderr" == *"not valid base64"* ]]
	run -2 --separate-stderr cx cx-pushkey -k "$BATS_TEST_TMPDIR/none.pub" i-0123456789abcdef0
}

start_agent() {
	SOCK="$BATS_TEST_TMPDIR/agent.sock"
	eval "$(ssh-agent -a "$SOCK" -s)" >/dev/null
	AGENT_PID=$SSH_AGENT_PID
	for k in ed ed2 s1 s2 ec; do
		SSH_AUTH_SOCK=$SOCK ssh-add -q "$K/$k" 2>/dev/null
	done
}

@test "cx-pushkey: picks exactly the agent key named by fingerprint or comment" {
	start_agent
	want=$(fp "$K/ed2.pub")
	run -0 --separate-stderr cx cx-pushkey -n -s "$SOCK" -a "$want" i-0123456789abcdef0
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$want"
	assert_equal "$(jq -r .KeyPush.Source <<<"$output")" agent
	jq -e '.KeyPush.ValidUntil == null' <<<"$output"
	# by comment, from SSH_AUTH_SOCK
	export SSH_AUTH_SOCK=$SOCK
	run -0 --separate-stderr cx cx-pushkey -n -a alice@laptop i-0123456789abcdef0
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(fp "$K/ed.pub")"
	# two keys share a comment: ambiguous, never "the first one"
	run -100 --separate-stderr cx cx-pushkey -n -s "$SOCK" -a shared i-0123456789abcdef0
	[[ "$stderr" == *"2 keys in the ssh-agent"*"match 'shared'"* ]]
	# by fingerprint the RSA one of the two is fine
	run -0 --separate-stderr cx cx-pushkey -n -s "$SOCK" -a "$(fp "$K/s2.pub")" i-0123456789abcdef0
	assert_equal "$(jq -r .KeyPush.KeyType <<<"$output")" ssh-rsa
	# no such key: exit 2 and the list of what is there
	run -2 --separate-stderr cx cx-pushkey -n -s "$SOCK" -a nobody i-0123456789abcdef0
	[[ "$stderr" == *"no key 'nobody'"* ]]
	[[ "$stderr" == *"$want 'bob@laptop'"* ]]
	# an agent ECDSA key is refused like a file one
	run -100 --separate-stderr cx cx-pushkey -n -s "$SOCK" -a ec i-0123456789abcdef0
	[[ "$stderr" == *"refuses 'ecdsa-sha2-nistp256'"* ]]
	# no agent there
	run -2 --separate-stderr cx cx-pushkey -n -s "$BATS_TEST_TMPDIR/nosock" -a ec i-0123456789abcdef0
	[[ "$stderr" == *"no ssh-agent socket at"* ]]
}

@test "cx-pushkey: -s 1password talks to ~/.1password/agent.sock" {
	mkdir -p "$HOME/.1password"
	eval "$(ssh-agent -a "$HOME/.1password/agent.sock" -s)" >/dev/null
	AGENT_PID=$SSH_AGENT_PID
	SSH_AUTH_SOCK="$HOME/.1password/agent.sock" ssh-add -q "$K/ed2" 2>/dev/null
	unset SSH_AUTH_SOCK
	run -0 --separate-stderr cx cx-pushkey -n -s 1password -a bob@laptop i-0123456789abcdef0
	assert_equal "$(jq -r .KeyPush.Fingerprint <<<"$output")" "$(fp "$K/ed2.pub")"
	run -100 --separate-stderr cx cx-pushkey -n -a bob@laptop i-0123456789abcdef0
	[[ "$stderr" == *"SSH_AUTH_SOCK is not set"* ]]
}

@test "cx-pushkey: pushes the agent key, and exactly that one" {
	start_agent
	id=$(moto_instance running)
	run -0 --separate-stderr cx cx-pushkey -s "$SOCK" -a bob@laptop "$id"
	run -0 curl -sf "$STANDIN_URL/standin/keys?user=ec2-user&instance=$id"
	assert_output --partial "$(cut -d' ' -f2 "$K/ed2.pub")"
	refute_output --partial "$(cut -d' ' -f2 "$K/ed.pub")"
}

@test "cx-pushkey: a stopped instance is exit 4, an unknown one exit 2" {
	id=$(moto_instance stopped)
	run -4 --separate-stderr cx cx-pushkey -k "$K/ed.pub" "$id"
	[[ "$stderr" == *"cannot push the key to '$id'"* ]]
	run -2 --separate-stderr cx cx-pushkey -k "$K/ed.pub" i-0123456789abcdef0
	[[ "$stderr" == *"not found in region 'eu-west-1'"* ]]
}

@test "cx-pushkey: EIC access denied is exit 1" {
	id=$(moto_instance running)
	standin_config '{"deny_actions": ["ec2-instance-connect:SendSSHPublicKey"]}'
	run -1 --separate-stderr cx cx-pushkey -k "$K/ed.pub" "$id"
	[[ "$stderr" == *AccessDenied* ]]
}

@test "cx-pushkey: usage errors" {
	run -0 cx cx-pushkey --help
	assert_output --partial "usage: cx-pushkey"
	run -100 --separate-stderr cx cx-pushkey i-0123456789abcdef0
	run -100 --separate-stderr cx cx-pushkey -k "$K/ed.pub" -a x i-0123456789abcdef0
	run -100 --separate-stderr cx cx-pushkey -k "$K/ed.pub" -u 'bad user' i-0123456789abcdef0
	run -100 --separate-stderr cx cx-pushkey -k "$K/ed.pub" i-zz
	run -100 --separate-stderr cx cx-pushkey -k "$K/ed.pub"
	[[ "$stderr" == *"no instance id"* ]]
}

ssh_as_user() {
	ssh -F /dev/null -i "$1" -p "$SSHD_PORT" -o BatchMode=yes \
	    -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    "$SSHD_USER@127.0.0.1" echo logged-in
}

@test "cx-pushkey: a real sshd accepts the key only after the push and only while valid" {
	[ -x /usr/sbin/sshd ] || skip "no sshd"
	id=$(moto_instance running)
	standin_config '{"key_ttl": 3}'
	sshd_start "$id"
	run ssh_as_user "$K/ed"
	assert_failure
	run -0 --separate-stderr cx cx-pushkey -k "$K/ed.pub" -u "$SSHD_USER" "$id"
	run -0 ssh_as_user "$K/ed"
	assert_output logged-in
	# another key was not pushed
	run ssh_as_user "$K/ed2"
	assert_failure
	# once the validity is over, the key is refused again
	wait_until 10 sh -c "! curl -sf '$STANDIN_URL/standin/keys?user=$SSHD_USER&instance=$id' | grep -q ssh-ed25519"
	run ssh_as_user "$K/ed"
	assert_failure
}

# A profile "dev" in the throw-away HOME, with alice's keys.
dev_profile() {
	mkdir -p "$HOME/.aws" "$HOME/.ssh"
	printf '[profile dev]\nregion = eu-west-1\n' >"$HOME/.aws/config"
	printf '[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	    "$AK" "$SK" >"$HOME/.aws/credentials"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
}

@test "cx-creds | cx-instance ensure | cx-pushkey | jq shows all three stages" {
	id=$(moto_instance stopped)
	dev_profile
	run -0 --separate-stderr bash -c "cx-creds --profile dev | cx-instance --poll-ms 50 ensure $id | cx-pushkey --public-key '$K/ed.pub' | jq -c ."
	jq -e '.Version == 1 and .AccessKeyId != null and .Region == "eu-west-1"' <<<"$output"
	jq -e --arg id "$id" '.Instance.InstanceId == $id and .Instance.State == "running" and .Instance.PingStatus == "Online" and .Instance.Started' <<<"$output"
	jq -e --arg id "$id" '.KeyPush.InstanceId == $id and .KeyPush.KeyType == "ssh-ed25519"' <<<"$output"
	[[ "$stderr" == *"Starting instance $id (was stopped)..."* ]]
	[[ "$stderr" != *"$SK"* ]]
}

# first ```sh block of a doc page, with the example id replaced
doc_example() {
	awk '/^```sh$/ {on=1; next} on && /^```$/ {exit} on' "$CX_ROOT/docs/$1" |
	    sed "s/i-0123456789abcdef0/$2/g"
}

@test "cx-pushkey: the examples of docs/cx-instance.md and docs/cx-pushkey.md run as written" {
	id=$(moto_instance running)
	dev_profile
	cp "$K/ed.pub" "$HOME/.ssh/cloudX.pub"
	run -0 --separate-stderr bash -e -o pipefail -c "$(doc_example cx-instance.md "$id")"
	jq -e '.PingStatus == "Online"' <<<"$output"
	run -0 --separate-stderr bash -e -o pipefail -c "$(doc_example cx-pushkey.md "$id")"
	jq -e '.Fingerprint | startswith("SHA256:")' <<<"$output"
}
