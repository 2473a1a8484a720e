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

# ssh_v_line: the ✓ line doctor prints for the ssh in PATH, from what
# `ssh -V` itself says ("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 ...")
ssh_v_line() {
	local v ver tls
	v=$(ssh -V 2>&1)
	ver=$(sed -n 's/^OpenSSH_\([0-9][0-9.]*\(p[0-9]*\)\{0,1\}\).*/\1/p' <<<"$v")
	tls=$(sed -n 's/^[^,]*, \([A-Za-z]* [0-9][^ ,]*\).*/\1/p' <<<"$v")
	[ -n "$ver" ] || fail "cannot read the version of: $v"
	printf '✓ ssh client: OpenSSH %s (OpenSSH%s)' "$ver" "${tls:+, $tls}"
}

@test "doctor: the first line is the ssh client in PATH, with its real version" {
	two_hosts
	run -0 --separate-stderr drv doctor cloudx-qa-web
	assert_equal "${lines[0]}" "$(ssh_v_line)"
	# the same through VS Code's remote.SSH.path set to that ssh
	mkdir -p "$HOME/.config/Code/User"
	printf '{"remote.SSH.configFile": "%s", "remote.SSH.connectTimeout": 90, "remote.SSH.path": "%s"}\n' \
	    "$HOME/.ssh/cloudX/config" "$(command -v ssh)" >"$HOME/.config/Code/User/settings.json"
	run -0 --separate-stderr drv doctor cloudx-qa-web
	assert_line "$(ssh_v_line | sed 's/^✓ ssh client: /✓ vs code: remote.SSH.path runs /')"
}

@test "doctor: no ssh in PATH: the ssh client fails with how to install it, exit 1" {
	two_hosts
	# every program of the system but ssh
	nossh="$BATS_TEST_TMPDIR/nossh"
	mkdir -p "$nossh"
	find /usr/bin /bin -maxdepth 1 ! -name ssh ! -type d -exec ln -sf -t "$nossh" {} + 2>/dev/null || true
	[ ! -e "$nossh/ssh" ] && [ -e "$nossh/bash" ]
	PATH="$BIN:$nossh" run -1 --separate-stderr drv doctor cloudx-qa-web
	assert_equal "${lines[0]}" "✗ ssh client: no 'ssh' in PATH; fix: install the OpenSSH client (Debian/Ubuntu: 'sudo apt install openssh-client'; Fedora: 'sudo dnf install openssh-clients')"
	# the other checks still run
	assert_line "✓ include: $HOME/.ssh/config includes $HOME/.ssh/cloudX/config"
}

@test "doctor: an ssh before 7.3 (no Include) fails; VS Code's remote.SSH.path to another ssh, or to none, fails" {
	two_hosts
	real=$(command -v ssh)
	old="$BATS_TEST_TMPDIR/oldssh"
	mkdir -p "$old"
	# Ubuntu 16.04's client: its -V line, the real ssh for the rest
	printf '#!/bin/sh\n[ "$1" = -V ] && { echo "OpenSSH_7.2p2 Ubuntu-4ubuntu2.10, OpenSSL 1.0.2g  1 Mar 2016" >&2; exit 0; }\nexec %s "$@"\n' "$real" >"$old/ssh"
	chmod +x "$old/ssh"
	PATH="$old:$PATH" run -1 --separate-stderr drv doctor cloudx-qa-web
	assert_equal "${lines[0]}" "✗ ssh client: OpenSSH 7.2p2 (OpenSSH, OpenSSL 1.0.2g): OpenSSH before 7.3 has no Include (the cloudx-proxy config is included from ~/.ssh/config); fix: install OpenSSH 7.3 or later"
	# VS Code runs that old one, PATH the real one
	mkdir -p "$HOME/.config/Code/User"
	printf '{"remote.SSH.configFile": "%s", "remote.SSH.connectTimeout": 90, "remote.SSH.path": "%s"}\n' \
	    "$HOME/.ssh/cloudX/config" "$old/ssh" >"$HOME/.config/Code/User/settings.json"
	run -1 --separate-stderr drv doctor cloudx-qa-web
	assert_equal "${lines[0]}" "$(ssh_v_line)"
	assert_line "✗ vs code: remote.SSH.path runs OpenSSH 7.2p2 (OpenSSH, OpenSSL 1.0.2g), the ssh in PATH is ${lines[0]#✓ ssh client: }; fix: point remote.SSH.path at the ssh in PATH, or remove it"
	printf '{"remote.SSH.configFile": "%s", "remote.SSH.connectTimeout": 90, "remote.SSH.path": "%s"}\n' \
	    "$HOME/.ssh/cloudX/config" "$old/nosuch" >"$HOME/.config/Code/User/settings.json"
	run -1 --separate-stderr drv doctor cloudx-qa-web
	assert_line "✗ vs code: remote.SSH.path '$old/nosuch' does not exist; fix: set remote.SSH.path to OpenSSH's ssh, or remove it (VS Code then runs the ssh in PATH)"
	# a program that is not OpenSSH
	printf '{"remote.SSH.configFile": "%s", "remote.SSH.connectTimeout": 90, "remote.SSH.path": "%s"}\n' \
	    "$HOME/.ssh/cloudX/config" "$(command -v true)" >"$HOME/.config/Code/User/settings.json"
	run -1 --separate-stderr drv doctor cloudx-qa-web
	assert_line "✗ vs code: remote.SSH.path '$(command -v true)' names no OpenSSH version; fix: set remote.SSH.path to OpenSSH's ssh, or remove it (VS Code then runs the ssh in PATH)"
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
