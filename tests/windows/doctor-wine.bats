#!/usr/bin/env bats
# cloudx-proxy.exe doctor (make windows) under Wine: the ssh client line
# with the Windows install hint when there is no ssh.exe, and Windows'
# clients told apart with their quirks on a generated-style config.  No
# Win32-OpenSSH can be had here: tests/tools/win/fake-ssh.c (built by
# make windows) prints what Windows 10's, 11's and Git for Windows'
# ssh.exe print for -V (their real strings) and a canned `ssh -G`.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	[ -f "$CX_BIN/cloudx-proxy.exe" ] || skip "no $CX_BIN/cloudx-proxy.exe (make windows)"
	[ -f "$CX_BIN/tests/tools/fake-ssh.exe" ] || skip "no $CX_BIN/tests/tools/fake-ssh.exe (make windows)"
	mkdir -p "$BATS_FILE_TMPDIR/winbin"
	cp "$CX_BIN/tests/tools/fake-ssh.exe" "$BATS_FILE_TMPDIR/winbin/ssh.exe"
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
	rm -rf "$PROFILE_DIR/.ssh" "$PROFILE_DIR/AppData/Roaming/Code"
	unset WINEPATH FAKE_SSH_V FAKE_SSH_G
}

teardown() {
	rm -rf "${PROFILE_DIR:?}/.ssh" "${PROFILE_DIR:?}/AppData/Roaming/Code"
}

doctor() {
	"$CX_WINE" "$CX_BIN/cloudx-proxy.exe" doctor "$@"
}

# with_ssh TEXT: the stand-in ssh.exe first in Wine's PATH, printing TEXT
# for -V
with_ssh() {
	export WINEPATH="Z:${BATS_FILE_TMPDIR//\//\\}\\winbin"
	export FAKE_SSH_V=$1
}

# a config as setup writes it on Windows, but with the Control* lines on
# and the ProxyCommand path quoted (a folder with a space); ssh -G's answer
# for its host
config() {
	mkdir -p "$PROFILE_DIR/.ssh/cloudX"
	cat >"$PROFILE_DIR/.ssh/cloudX/config" <<-CFG
	Host cloudx-*
	    User ec2-user
	    ControlMaster auto
	    ControlPath ~/.ssh/control/%r@%h:%p
	    ControlPersist 4h

	Host cloudx-dev-*
	    IdentityFile $WHOME/.ssh/cloudX/cloudX
	    ProxyCommand "C:/Program Files/cloudx-proxy/cloudx-proxy.exe" connect %h %p --profile dev

	Host cloudx-dev-web
	    HostName i-0123456789abcdef0
	CFG
	cat >"$BATS_TEST_TMPDIR/g" <<-G
	host cloudx-dev-web
	user ec2-user
	hostname i-0123456789abcdef0
	controlmaster auto
	controlpath ~/.ssh/control/%r@%h:%p
	identityagent ${1:-none}
	proxycommand "C:/Program Files/cloudx-proxy/cloudx-proxy.exe" connect %h %p --profile dev
	G
	export FAKE_SSH_G="Z:${BATS_TEST_TMPDIR//\//\\}\\g"
}

@test "doctor.exe: no ssh.exe: the ssh client line fails with the Windows install hint, exit 1" {
	run -1 --separate-stderr doctor
	assert_equal "${lines[0]}" "✗ ssh client: no 'ssh' in PATH; fix: install the OpenSSH Client: Settings > System > Optional features > OpenSSH Client, or 'Add-WindowsCapability -Online -Name OpenSSH.Client~~~~0.0.1.0' in an administrator PowerShell"
}

@test "doctor.exe: Windows 10's OpenSSH_for_Windows_7.7p1: the config's ControlMaster and quoted ProxyCommand fail, each with its fix" {
	with_ssh "OpenSSH_for_Windows_7.7p1, LibreSSL 2.6.5"
	config
	run -1 --separate-stderr doctor cloudx-dev-web
	assert_equal "${lines[0]}" "✓ ssh client: OpenSSH 7.7p1 (Microsoft's Win32-OpenSSH, LibreSSL 2.6.5)"
	assert_line "✓ ssh config: 'ssh -G cloudx-dev-web' parses, ProxyCommand set"
	assert_line "✗ ssh config: cloudx-dev-web (ssh 7.7p1): ssh on Windows has no ControlMaster (multiplexing) but the config turns it on; fix: comment out the ControlMaster, ControlPath and ControlPersist lines (setup on Windows writes them commented)"
	assert_line "✗ ssh config: cloudx-dev-web (ssh 7.7p1): OpenSSH for Windows before 8.1 cannot start a quoted ProxyCommand path (CreateProcessW failed error:87); fix: update OpenSSH (Settings > Optional features, or the Win32-OpenSSH release) or install cloudx-proxy in a folder without spaces and run setup again"
	refute_line --partial "does not look a ProxyCommand up"
}

@test "doctor.exe: Windows 11's 9.5p1 minds only the ControlMaster; Git for Windows' ssh the agent pipe; VS Code's remote.SSH.path on another ssh" {
	with_ssh "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2"
	config
	run -1 --separate-stderr doctor cloudx-dev-web
	assert_equal "${lines[0]}" "✓ ssh client: OpenSSH 9.5p1 (Microsoft's Win32-OpenSSH, LibreSSL 3.8.2)"
	assert_line --partial "✗ ssh config: cloudx-dev-web (ssh 9.5p1): ssh on Windows has no ControlMaster"
	refute_line --partial "quoted ProxyCommand"
	with_ssh "OpenSSH_9.9p1, OpenSSL 3.2.3 3 Sep 2024"
	config '\\.\pipe\openssh-ssh-agent'
	run -1 --separate-stderr doctor cloudx-dev-web
	assert_equal "${lines[0]}" "✓ ssh client: OpenSSH 9.9p1 (Git for Windows/MSYS2 OpenSSH, OpenSSL 3.2.3)"
	assert_line "✗ ssh config: cloudx-dev-web (ssh 9.9p1): Git for Windows/MSYS2 ssh cannot use the Windows agent pipe (1Password, the ssh-agent service); fix: use Windows OpenSSH: put C:\\Windows\\System32\\OpenSSH first in PATH (and VS Code's remote.SSH.path on its ssh.exe)"
	# VS Code's remote.SSH.path on another ssh than PATH's
	mkdir -p "$PROFILE_DIR/AppData/Roaming/Code/User"
	printf '{"remote.SSH.path": "C:/Windows/System32/OpenSSH/ssh.exe"}\n' \
	    >"$PROFILE_DIR/AppData/Roaming/Code/User/settings.json"
	run -1 --separate-stderr doctor cloudx-dev-web
	assert_line "✗ vs code: remote.SSH.path 'C:/Windows/System32/OpenSSH/ssh.exe' does not exist; fix: set remote.SSH.path to OpenSSH's ssh, or remove it (VS Code then runs the ssh in PATH)"
	# the same ssh as PATH's
	printf '{"remote.SSH.path": "Z:%s\\\\winbin\\\\ssh.exe"}\n' "${BATS_FILE_TMPDIR//\//\\\\}" \
	    >"$PROFILE_DIR/AppData/Roaming/Code/User/settings.json"
	run -1 --separate-stderr doctor cloudx-dev-web
	assert_line "✓ vs code: remote.SSH.path runs OpenSSH 9.9p1 (Git for Windows/MSYS2 OpenSSH, OpenSSL 3.2.3)"
}
