#!/usr/bin/env bats
# cx-sshconf: golden files for every operation (tests/fixtures/sshconf/),
# file modes, backups, locking, dry-run, and the stage contract.
load ../helpers/common
load ../helpers/sshconf
load ../helpers/otheruser

teardown() {
	other_user_remove
}

setup() {
	common_setup
}

@test "golden: adopt-banner" {
	golden adopt-banner
}

@test "golden: adopt-old" {
	golden adopt-old
}

@test "golden: bad-env-space" {
	golden bad-env-space
}

@test "golden: bad-host-name" {
	golden bad-host-name
}

@test "golden: bad-instance" {
	golden bad-instance
}

@test "golden: bad-profile-quote" {
	golden bad-profile-quote
}

@test "golden: crlf-ours" {
	golden crlf-ours
}

@test "golden: crlf" {
	golden crlf
}

@test "golden: dry-run" {
	golden dry-run
}

@test "golden: foreign" {
	golden foreign
}

@test "golden: hyphen-env-shadow" {
	golden hyphen-env-shadow
}

@test "golden: hyphen-env" {
	golden hyphen-env
}

@test "golden: include-before-host" {
	golden include-before-host
}

@test "golden: include-create" {
	golden include-create
}

@test "golden: include-inside-block" {
	golden include-inside-block
}

@test "golden: include-no-host-crlf" {
	golden include-no-host-crlf
}

@test "golden: include-quoted-present" {
	golden include-quoted-present
}

@test "golden: include-relative-present" {
	golden include-relative-present
}

@test "golden: include-same-file" {
	golden include-same-file
}

@test "golden: include-tilde-present" {
	golden include-tilde-present
}

@test "golden: list-detailed" {
	golden list-detailed
}

@test "golden: list-empty" {
	golden list-empty
}

@test "golden: list-env" {
	golden list-env
}

@test "golden: list-human" {
	golden list-human
}

@test "golden: list-json" {
	golden list-json
}

@test "golden: list-missing" {
	golden list-missing
}

@test "golden: mixed-case-env-second" {
	golden mixed-case-env-second
}

@test "golden: mixed-case-env" {
	golden mixed-case-env
}

@test "golden: new-file" {
	golden new-file
}

@test "golden: no-final-newline" {
	golden no-final-newline
}

@test "golden: onepassword-off" {
	golden onepassword-off
}

@test "golden: onepassword" {
	golden onepassword
}

@test "golden: path-with-space" {
	golden path-with-space
}

@test "golden: prefix-cloudX" {
	golden prefix-cloudX
}

@test "golden: readd-keeps-similar" {
	golden readd-keeps-similar
}

@test "golden: remove-env" {
	golden remove-env
}

@test "golden: remove-host" {
	golden remove-host
}

@test "golden: remove-missing" {
	golden remove-missing
}

@test "golden: set-env-update" {
	golden set-env-update
}

@test "golden: windows-keep" {
	golden windows-keep
}

@test "golden: windows-new" {
	golden windows-new
}

@test "golden: windows-to-posix" {
	golden windows-to-posix
}

@test "new files are 0600 in a 0700 folder; an existing file keeps its mode; one-deep backup" {
	cfg="$HOME/.ssh/cloudX/config"
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N a -i i-0123456789abcdef0
	[ "$(stat -c %a "$cfg")" = 600 ]
	[ "$(stat -c %a "$HOME/.ssh/cloudX")" = 700 ]
	[ ! -e "$cfg.bak" ]
	first=$(cat "$cfg")
	chmod 640 "$cfg"
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N b -i i-0123456789abcdef1
	[ "$(stat -c %a "$cfg")" = 640 ]
	[ "$(cat "$cfg.bak")" = "$first" ]
	second=$(cat "$cfg")
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N c -i i-0123456789abcdef2
	[ "$(cat "$cfg.bak")" = "$second" ]
	# unchanged: no write, no new backup
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N c -i i-0123456789abcdef2
	[ "$(jq -r .SshConfig.Changed <<<"$output")" = false ]
	[ "$(cat "$cfg.bak")" = "$second" ]
}

@test "ensure-include creates ~/.ssh 0700 and ~/.ssh/config 0600" {
	run -0 cx cx-sshconf -c "$HOME/elsewhere/cfg" ensure-include
	[ "$(stat -c %a "$HOME/.ssh")" = 700 ]
	[ "$(stat -c %a "$HOME/.ssh/config")" = 600 ]
	[ "$(cat "$HOME/.ssh/config")" = "Include $HOME/elsewhere/cfg" ]
	# idempotent
	run -0 cx cx-sshconf -c "$HOME/elsewhere/cfg" ensure-include
	[ "$(jq -r .SshConfig.AlreadyIncluded <<<"$output")" = true ]
	[ "$(grep -c Include "$HOME/.ssh/config")" = 1 ]
}

@test "a path with spaces is quoted in the Include" {
	run -0 cx cx-sshconf -c "$HOME/my dir/cfg" ensure-include
	[ "$(cat "$HOME/.ssh/config")" = "Include \"$HOME/my dir/cfg\"" ]
	run -0 cx cx-sshconf -c "$HOME/my dir/cfg" ensure-include
	[ "$(jq -r .SshConfig.Changed <<<"$output")" = false ]
}

@test "--dry-run writes nothing, not even a new file, and shows the diff" {
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy --dry-run add-host -e dev -N a -i i-0123456789abcdef0
	[ ! -e "$HOME/.ssh/cloudX/config" ]
	jq -e '.SshConfig.Changed and .SshConfig.DryRun and (.SshConfig.Diff | test("\\+Host cloudx-dev-a"))' <<<"$output"
	run -0 cx cx-sshconf -c "$HOME/x/cfg" --dry-run ensure-include
	[ ! -e "$HOME/.ssh/config" ]
	jq -e '.SshConfig.Diff | test("\\+Include ")' <<<"$output"
}

@test "concurrent runs are serialised by the lock: no host is lost" {
	cx cx-sshconf -x /opt/cx/cloudx-proxy set-env -e dev >/dev/null
	pids=()
	for i in 0 1 2 3 4 5 6 7; do
		cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N "h$i" \
		    -i "i-0123456789abcdef$i" >/dev/null 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run -0 cx cx-sshconf list --json
	[ "$(jq '.SshConfig.Environments[0].Hosts | length' <<<"$output")" = 8 ]
}

@test "a held lock makes a run wait, then it proceeds" {
	cfg="$HOME/.ssh/cloudX/config"
	mkdir -p "$HOME/.ssh/cloudX"
	lock=$(lock_file "$cfg")
	mkdir -p "$(dirname "$lock")"
	flock "$lock" sleep 1 &
	holder=$!
	wait_until 5 test -e "$lock"
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N a -i i-0123456789abcdef0
	wait "$holder"
	grep -q 'Host cloudx-dev-a' "$cfg"
}

@test "locks: none beside the config; a lock folder another user owns is refused, a planted symlink never followed" {
	cfg="$HOME/.ssh/cloudX/config"
	run -0 cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N a -i i-0123456789abcdef0
	[ -z "$(find "$HOME/.ssh" -name '*.lock')" ]
	lock=$(lock_file "$cfg")
	[ -f "$lock" ]
	assert_equal "$(stat -c %a "$(dirname "$lock")")" 700
	# a symlink where our lock goes (O_NOFOLLOW): refused, nothing created
	rm -f "$lock"
	ln -s "$HOME/created-by-lock" "$lock"
	run -100 --separate-stderr cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N b -i i-0123456789abcdef1
	assert_equal "$stderr" "cx-sshconf: cannot open lock file '$lock': a symbolic link"
	[ ! -e "$HOME/created-by-lock" ]
	! grep -q 'Host cloudx-dev-b' "$cfg"
	# a lock folder that is not ours
	other_user_create
	chown -h "$OTHER_USER" "$(dirname "$lock")"
	run -100 --separate-stderr cx cx-sshconf -x /opt/cx/cloudx-proxy add-host -e dev -N b -i i-0123456789abcdef1
	assert_equal "$stderr" "cx-sshconf: cannot lock '$cfg': the lock folder '$(dirname "$lock")' is owned by user '$OTHER_USER'"
	[ ! -e "$HOME/created-by-lock" ]
	other_user_remove
}

@test "stage contract: --stdin keeps other keys and takes Instance.InstanceId" {
	run -0 --separate-stderr cx cx-sshconf -x /opt/cx/cloudx-proxy --stdin add-host -e dev -N web \
	    <<<'{"Region":"eu-west-1","Instance":{"InstanceId":"i-0123456789abcdef0","State":"running"}}'
	jq -e '.Region == "eu-west-1" and .Instance.State == "running" and .SshConfig.Host == "cloudx-dev-web"' <<<"$output"
	grep -q 'HostName i-0123456789abcdef0' "$HOME/.ssh/cloudX/config"
	run -100 --separate-stderr cx cx-sshconf --stdin list <<<'{"a":1} junk'
	[ -z "$output" ]
}

@test "usage: --help, --version, errors are one line and exit 100" {
	run -0 cx cx-sshconf --help
	assert_output --partial 'usage: cx-sshconf'
	run -0 cx cx-sshconf --version
	assert_output --regexp '^cx-sshconf [0-9]'
	run -100 --separate-stderr cx cx-sshconf
	run -100 --separate-stderr cx cx-sshconf frobnicate
	[ -z "$output" ]
	run -100 --separate-stderr cx cx-sshconf add-host -e dev
	assert_equal "$stderr" "cx-sshconf: missing --name"
}

@test "a failed stdout write exits 111" {
	mkdir -p "$HOME/.ssh/cloudX"
	printf 'Host cloudx-*\n  User ec2-user\n' >"$HOME/.ssh/cloudX/config"
	run -111 bash -c 'cx-sshconf list --json >/dev/full'
}

@test "a file over 1 MiB or with a NUL byte is refused, untouched" {
	mkdir -p "$HOME/.ssh/cloudX"
	head -c 1100000 /dev/zero | tr '\0' '#' >"$HOME/.ssh/cloudX/config"
	run -100 --separate-stderr cx cx-sshconf -x /x/cloudx-proxy add-host -e dev -N a -i i-0123456789abcdef0
	[ "$(stat -c %s "$HOME/.ssh/cloudX/config")" = 1100000 ]
	printf 'Host a\0\n' >"$HOME/.ssh/cloudX/config"
	run -100 --separate-stderr cx cx-sshconf list
}
@test "golden: set-env-merge" {
	golden set-env-merge
}

