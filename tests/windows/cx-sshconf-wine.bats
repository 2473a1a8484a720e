#!/usr/bin/env bats
# cx-sshconf.exe (make windows) under Wine: our ssh_config written in the
# Wine user profile (%USERPROFILE%\.ssh\cloudX\config) through the Windows
# layer's lock (%LOCALAPPDATA%\cloudx-proxy\locks) and atomic replace
# (MoveFileExW), idempotent, no temporary file left; a host removed again.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cx-sshconf.exe" ] || skip "no $CX_BIN/cx-sshconf.exe (make windows)"
}

teardown_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	umask 077
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	U=$(id -un)
	PROFILE_DIR="$WINEPREFIX/drive_c/users/$U"
	WHOME="C:/users/$U"
	rm -rf "$PROFILE_DIR/.ssh"
}

teardown() {
	rm -rf "${PROFILE_DIR:?}/.ssh"
}

wcx() {
	local p=$1
	shift
	"$CX_WINE" "$CX_BIN/$p.exe" "$@"
}

@test "cx-sshconf.exe: add-host writes the config in the Wine profile, once; remove-host takes it out" {
	local f="$PROFILE_DIR/.ssh/cloudX/config"
	run -0 --separate-stderr wcx cx-sshconf -c "$WHOME/.ssh/cloudX/config" \
	    -x "C:/Program Files/cloudx-proxy/cloudx-proxy.exe" \
	    add-host -e dev -N web -i i-0123456789abcdef0 </dev/null
	assert_equal "$(jq -r .SshConfig.Changed <<<"$output")" true
	assert_equal "$(jq -r .SshConfig.Created <<<"$output")" true
	assert_equal "$(jq -r .SshConfig.Host <<<"$output")" cloudx-dev-web
	[ -f "$f" ]
	grep -qx 'Host cloudx-dev-web' "$f"
	grep -qx '    HostName i-0123456789abcdef0' "$f"
	grep -q "IdentityFile $WHOME/.ssh/cloudX/cloudX" "$f"
	# for Windows OpenSSH (the default on Windows): the program quoted
	# with backslashes (CreateProcessW), no active Control* line
	grep -qxF '    ProxyCommand "C:\Program Files\cloudx-proxy\cloudx-proxy.exe" connect %h %p --os-user %r' "$f"
	grep -qx '    # ControlMaster auto' "$f"
	! grep -q '^ *Control' "$f"
	# no temporary file beside it, and the lock is in %LOCALAPPDATA%
	assert_equal "$(ls -A "$PROFILE_DIR/.ssh/cloudX" | grep -c tmp)" 0
	ls "$PROFILE_DIR/AppData/Local/cloudx-proxy/locks/" | grep -q '^config\..*\.lock$'
	cp "$f" "$BATS_TEST_TMPDIR/before"
	# the same again changes nothing
	run -0 --separate-stderr wcx cx-sshconf -c "$WHOME/.ssh/cloudX/config" \
	    -x "C:/Program Files/cloudx-proxy/cloudx-proxy.exe" \
	    add-host -e dev -N web -i i-0123456789abcdef0 </dev/null
	assert_equal "$(jq -r .SshConfig.Changed <<<"$output")" false
	cmp "$f" "$BATS_TEST_TMPDIR/before"
	run -0 --separate-stderr wcx cx-sshconf -c "$WHOME/.ssh/cloudX/config" \
	    remove-host -e dev -N web </dev/null
	assert_equal "$(jq -r .SshConfig.Changed <<<"$output")" true
	! grep -q 'Host cloudx-dev-web' "$f"
}
