#!/usr/bin/env bats
# cloudx-proxy list, cleanup, migrate and doctor on configs written by setup
# (fake AWS stages beside a copy of the driver) or by the Python tool.
load ../helpers/common
load ../helpers/otheruser

ID=i-0123456789abcdef0

teardown() {
	other_user_remove
}

setup() {
	common_setup
	BIN="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$BIN" "$HOME/.aws"
	cp "$CX_BIN_DIR/cloudx-proxy" "$BIN/"
	cp -P "$CX_ROOT"/tests/tools/fake-stages/* "$BIN/"
	export FAKE_LOG="$BATS_TEST_TMPDIR/log"
	printf '[cloudX]\naws_access_key_id = A\naws_secret_access_key = B\n' >"$HOME/.aws/credentials"
}

drv() {
	cx "$BIN/cloudx-proxy" "$@"
}

two_hosts() {
	FAKE_TAGS='{"Name":"cloudx-qa-web"}' drv setup --yes --no-check --instance "$ID" 2>/dev/null >/dev/null
	FAKE_TAGS='{"Name":"cloudx-dev-db"}' drv setup --yes --no-check --instance i-12345678 2>/dev/null >/dev/null
}

@test "list: the seed's layout, grouped and sorted" {
	two_hosts
	run -0 --separate-stderr drv list
	assert_output "
=== cloudx-proxy Configured Hosts ===

Environment: dev
  db (cloudx-dev-db, i-12345678, key pinned)

Environment: qa
  web (cloudx-qa-web, $ID, key pinned)

Usage:
  Connect with SSH:  ssh <hostname>
  Connect with VSCode: Use Remote Explorer in VSCode"
	run -0 drv list --environment QA --detailed
	assert_line "Generic Patterns:"
	assert_line "  cloudx-qa-*"
	refute_line --partial "cloudx-dev-db"
	run -0 drv list --json
	run -0 jq -r '[.Environments[].Hosts[].Host] | join(" ")' <<<"$output"
	assert_output "cloudx-dev-db cloudx-qa-web"
}

@test "list: whether each host's key is pinned (text and --json); cleanup pins an older config's hosts" {
	two_hosts
	cfg="$HOME/.ssh/cloudX/config"
	# an older config: no HostKeyAlias, no known_hosts of our own
	sed -i '/HostKeyAlias/d; /UserKnownHostsFile/d; /StrictHostKeyChecking/d' "$cfg"
	run -0 --separate-stderr drv list
	assert_line "  db (cloudx-dev-db, i-12345678, key not pinned: run cleanup)"
	run -0 drv list --json
	run -0 jq -c '[.Environments[].Hosts[].KeyPinned]' <<<"$output"
	assert_output "[false,false]"
	run -0 --separate-stderr drv cleanup
	[[ "$stderr" == *"Pinned the host keys of 4 blocks to their instance"* ]]
	run -0 grep -c "^    HostKeyAlias i-12345678$" "$cfg"
	run -0 grep -c "^    StrictHostKeyChecking accept-new$" "$cfg"
	assert_output 2
	run -0 grep -c "^    UserKnownHostsFile $HOME/.ssh/cloudX/known_hosts ~/.ssh/known_hosts$" "$cfg"
	assert_output 2
	run -0 drv list --json
	run -0 jq -c '[.Environments[].Hosts[].KeyPinned]' <<<"$output"
	assert_output "[true,true]"
	# idempotent: nothing more to pin
	run -0 --separate-stderr drv cleanup
	[[ "$stderr" != *"Pinned"* ]]
	run -1 grep -ri "StrictHostKeyChecking no" "$HOME/.ssh"
}

@test "list: a missing config is one line, exit 2; --dry-run reads nothing" {
	run -2 --separate-stderr drv list
	assert_equal "$stderr" "cloudx-proxy: SSH config file not found: '$HOME/.ssh/cloudX/config' (run 'cloudx-proxy setup' to create a configuration)"
	run -0 drv list --dry-run
	assert_line "[DRY RUN] Would read SSH config from: $HOME/.ssh/cloudX/config"
}

@test "cleanup: adopts the Python tool's ProxyCommands keeping every option, renames the other prefix" {
	mkdir -p "$HOME/.ssh/cloudX"
	cat >"$HOME/.ssh/cloudX/config" <<'CFG'
Host github.com
    User git

Host cloudX-*
    User ec2-user

Host cloudX-prod-*
    IdentityFile ~/.ssh/cloudX/k
    ProxyCommand uvx cloudX-proxy connect %h %p --profile prod --ssh-key k --region us-east-1

Host cloudX-prod-api
    HostName i-12345678
CFG
	cp "$HOME/.ssh/cloudX/config" "$BATS_TEST_TMPDIR/orig"
	run -0 --separate-stderr drv cleanup --dry-run
	cmp "$HOME/.ssh/cloudX/config" "$BATS_TEST_TMPDIR/orig"
	run -0 --separate-stderr drv cleanup
	[[ "$stderr" == *"Renamed 3 Host lines to the 'cloudx' prefix"* ]]
	run -0 cat "$HOME/.ssh/cloudX/config"
	assert_line "Host github.com"
	assert_line "Host cloudx-prod-api"
	assert_line "    ProxyCommand $BIN/cloudx-proxy connect %h %p --profile prod --ssh-key k --region us-east-1"
	assert_line "    ControlMaster auto"
}

@test "cleanup and migrate never rewrite or adopt a config another user owns (exit 100)" {
	other_user_create
	mkdir -p "$HOME/.ssh/cloudX" "$HOME/.ssh/vscode"
	printf 'Host cloudX-*\n    ProxyCommand touch %s/pwned\n' "$BATS_TEST_TMPDIR" >"$HOME/.ssh/cloudX/config"
	cp "$HOME/.ssh/cloudX/config" "$HOME/.ssh/vscode/config"
	chown "$OTHER_USER" "$HOME/.ssh/cloudX/config" "$HOME/.ssh/vscode/config"
	cp "$HOME/.ssh/cloudX/config" "$BATS_TEST_TMPDIR/orig"
	run -100 --separate-stderr drv cleanup
	assert_equal "$stderr" "cloudx-proxy: not using '$HOME/.ssh/cloudX/config': it is owned by user '$OTHER_USER'"
	cmp "$HOME/.ssh/cloudX/config" "$BATS_TEST_TMPDIR/orig"
	rm -rf "$HOME/.ssh/cloudX"
	run -100 --separate-stderr drv migrate
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: not using '$HOME/.ssh/vscode/config': it is owned by user '$OTHER_USER'"
	[ -d "$HOME/.ssh/vscode" ] && [ ! -e "$HOME/.ssh/cloudX" ]
	other_user_remove
}

@test "migrate: ~/.ssh/vscode moves to ~/.ssh/cloudX and keeps its vscode profile and key" {
	mkdir -p "$HOME/.ssh/vscode"
	ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/vscode/vscode"
	cat >"$HOME/.ssh/vscode/config" <<CFG
Host cloudx-*
    User ec2-user

Host cloudx-dev-*
    IdentityFile $HOME/.ssh/vscode/vscode
    ProxyCommand uvx cloudx-proxy connect %h %p

Host cloudx-dev-box
    HostName i-12345678
CFG
	printf 'Include %s/.ssh/vscode/config\n\nHost *\n    ServerAliveInterval 30\n' "$HOME" >"$HOME/.ssh/config"
	run -0 --separate-stderr drv migrate
	[ ! -e "$HOME/.ssh/vscode" ]
	[ -f "$HOME/.ssh/cloudX/vscode.pub" ]
	run -0 cat "$HOME/.ssh/cloudX/config"
	assert_line "    IdentityFile $HOME/.ssh/cloudX/vscode"
	assert_line "    ProxyCommand $BIN/cloudx-proxy connect %h %p --os-user %r --profile vscode --ssh-key vscode"
	# host keys pinned: our known_hosts in the new folder, the alias
	assert_line "    UserKnownHostsFile $HOME/.ssh/cloudX/known_hosts ~/.ssh/known_hosts"
	assert_line "    StrictHostKeyChecking accept-new"
	assert_line "    HostKeyAlias i-12345678"
	run -0 cat "$HOME/.ssh/config"
	refute_line --partial "vscode/config"
	assert_line "Include $HOME/.ssh/cloudX/config"
	assert_line "Host *"
	# the connect those lines run finds the key
	run -0 drv connect i-12345678 --profile vscode --ssh-key vscode --dry-run
	[[ "$output" == *"$HOME/.ssh/cloudX/vscode.pub"* ]]
	run -2 --separate-stderr drv migrate
	assert_equal "$stderr" "cloudx-proxy: nothing to migrate: '$HOME/.ssh/vscode' does not exist"
}

@test "doctor: one line per check, a fix for each failure" {
	two_hosts
	run -0 --separate-stderr drv doctor cloudx-qa-web
	assert_line "✓ include: $HOME/.ssh/config includes $HOME/.ssh/cloudX/config"
	assert_line "✓ ssh config: 'ssh -G cloudx-qa-web' parses, ProxyCommand set"
	assert_line "✓ credentials: profile 'cloudX' (arn:aws:iam::123456789012:user/cloudX-dev-alice), long-term keys"
	assert_line "✓ instance: $ID is stopped (ec2:DescribeInstances allowed)"
	refute_line --partial "cloudx-dev-db"
	chmod 644 "$HOME/.ssh/cloudX/cloudX"
	: >"$HOME/.ssh/config"
	FAKE_FAIL_CX_CREDS=3 run -1 --separate-stderr drv doctor
	assert_line "✗ private key: $HOME/.ssh/cloudX/cloudX is mode 644, wanted 600; fix: chmod it"
	assert_line "✗ include: $HOME/.ssh/config does not include $HOME/.ssh/cloudX/config; fix: run setup (it adds the Include line)"
	assert_line "✗ credentials: profile 'cloudX': login required; fix: run 'cloudx-proxy login --profile cloudX' (or renew the keys of profile 'cloudX')"
	mkdir -p "$HOME/.config/Code/User"
	echo '{"remote.SSH.connectTimeout": 15}' >"$HOME/.config/Code/User/settings.json"
	run -1 drv doctor nosuchhost
	assert_line "✗ vs code: remote.SSH.configFile is not $HOME/.ssh/cloudX/config; fix: run setup and accept the merge, or set remote.SSH.configFile"
	assert_line "✗ host: 'nosuchhost' is not in $HOME/.ssh/cloudX/config; fix: run 'cloudx-proxy list' for the names"
}
