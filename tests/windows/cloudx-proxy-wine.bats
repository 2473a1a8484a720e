#!/usr/bin/env bats
# cloudx-proxy.exe (make windows) under Wine, end to end, as a Windows user
# would run it: the programs installed in "C:\Program Files\cloudx proxy",
# the user's folder "C:\users\Zoë O'Brien" (a blank, an apostrophe and a
# letter beyond ASCII), Windows OpenSSH's ssh-keygen.exe and ssh.exe
# played by the Linux ones through tests/tools/win/unix-shim.exe.
#
# `setup --yes` writes the AWS profile, the key, the three-tier SSH config
# and the Include (checked file by file), then the ProxyCommand it wrote is
# started exactly as Windows OpenSSH starts one (CreateProcessW of the
# string as written, no shell: tests/tools/win/winrun.exe) by the real
# Linux ssh, through moto (EC2), the SSM stand-in and a real sshd: the
# stopped instance is started, the key pushed, the remote output exact.
# Wine starts a program with its own %USERPROFILE%; winrun.exe gives ours.
# Run by `make check-windows` (tests/windows/run).

load ../helpers/common
load ../helpers/moto

WUSER="Zoë O'Brien"

setup_file() {
	. "$BATS_TEST_DIRNAME/wine-env"
	export CX_BIN=${CX_BIN:-build-win}
	cx_wine_init "$CX_BIN" || skip "Wine cannot start"
	local p
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel \
	    tests/tools/winrun tests/tools/unix-shim; do
		[ -f "$CX_BIN/$p.exe" ] || skip "no $CX_BIN/$p.exe (make windows)"
	done
	moto_start
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	standin_start --pace-ms 0
	moto_auth off
	read -r AK SK < <(moto_user cloudX-win-alice)
	export AK SK
	ID=$(moto_instance stopped '[{Key=Name,Value=cloudx-win-box}]')
	export ID
	SSHD_LOGIN_USER=ec2-user sshd_start "$ID"
	export SSHD_PID SSHD_USER SSHD_PORT STANDIN_PID MOTO_PID
	# installed as the Windows zip's README says: a folder of our own
	export PF="$WINEPREFIX/drive_c/Program Files/cloudx proxy"
	rm -rf "$PF"
	mkdir -p "$PF"
	for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel \
	    cx-sshconf cx-session; do
		cp "$CX_BIN/$p.exe" "$PF/"
	done
	export WUP="$WINEPREFIX/drive_c/users/$WUSER"
	rm -rf "$WUP"
	mkdir -p "$WUP/AppData/Roaming" "$WUP/AppData/Local"
	# ssh-keygen.exe and ssh.exe on the Windows PATH
	local shims="$BATS_FILE_TMPDIR/shims"
	mkdir -p "$shims"
	cp "$CX_BIN/tests/tools/unix-shim.exe" "$shims/ssh-keygen.exe"
	cp "$CX_BIN/tests/tools/unix-shim.exe" "$shims/ssh.exe"
	export WINEPATH="Z:${shims//\//\\}"
	export CX_SHIM_SH="Z:${CX_ROOT//\//\\}\\tests\\tools\\win\\unix-shim.sh"
	export WINRUN="$CX_ROOT/$CX_BIN/tests/tools/winrun.exe"
}

teardown_file() {
	[ -n "${MOTO_PID:-}" ] || return 0
	if declare -F sshd_stop >/dev/null; then sshd_stop; fi
	if declare -F standin_stop >/dev/null; then standin_stop; fi
	moto_stop || true
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_stop
}

setup() {
	common_setup
	. "$CX_ROOT/tests/helpers/standin.bash"
	. "$CX_ROOT/tests/helpers/sshd.bash"
	. "$BATS_TEST_DIRNAME/wine-env"
	cx_wine_env "$CX_BIN"
	export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_SSM="$STANDIN_URL" \
	    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	export HOME="$BATS_TEST_TMPDIR/linux-home"
	mkdir -p "$HOME"
}

# The environment of our Windows user (winrun.exe NAME=VALUE ...)
wenv() {
	printf '%s\n' "USERPROFILE=C:\\users\\$WUSER" \
	    "APPDATA=C:\\users\\$WUSER\\AppData\\Roaming" \
	    "LOCALAPPDATA=C:\\users\\$WUSER\\AppData\\Local" \
	    "HOMEPATH=\\users\\$WUSER" "USERNAME=$WUSER"
}

# wrun CMDLINE: a Windows command line, started as Windows OpenSSH starts a
# ProxyCommand (CreateProcessW, no shell), as our user
wrun() {
	local -a env
	mapfile -t env < <(wenv)
	"$CX_WINE" "$WINRUN" "${env[@]}" -- "$1"
}

CXP='"C:\Program Files\cloudx proxy\cloudx-proxy.exe"'

# A Windows path ("C:/...") as Linux sees it under this Wine
unixpath() {
	local p=$1
	p=${p#\"}
	p=${p%\"}
	printf '%s\n' "$WINEPREFIX/drive_c/${p#C:/}"
}

# ProxyCommand VALUE of the generated config (the raw text after the keyword)
proxy_value() {
	sed -n 's/^    ProxyCommand //p' "$WUP/.ssh/cloudX/config"
}

# The Linux ssh's view of the generated configs: the same files with each
# Windows path mapped to its Linux one, and the ProxyCommand, unchanged,
# started by winrun.exe as Windows OpenSSH would start it.  $HOME/main.
linux_config() {
	local pv env_args="" e
	pv=$(proxy_value)
	[[ "$pv" != *"'"* ]]
	while IFS= read -r e; do
		env_args+=" $(printf '%q' "$e")"
	done < <(wenv)
	sed -e "s|^Include \"C:/.*\"\$|Include $HOME/cloudx.conf|" \
	    "$WUP/.ssh/config" >"$HOME/main"
	# (through the environment: awk -v would take backslashes as escapes)
	PC="$CX_WINE $WINRUN$env_args -- '$pv'" DRIVE="$WINEPREFIX/drive_c/" awk '
		/^    ProxyCommand / { print "    ProxyCommand " ENVIRON["PC"]; next }
		/^    (IdentityFile|UserKnownHostsFile) / {
			gsub(/"C:\//, "\"" ENVIRON["DRIVE"])
			gsub(/ C:\//, " " ENVIRON["DRIVE"])
		}
		{ print }' "$WUP/.ssh/cloudX/config" >"$HOME/cloudx.conf"
}

sshx() {
	timeout 120 ssh -F "$HOME/main" -o BatchMode=yes "$@"
}

do_setup() {
	AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
	    wrun "$CXP setup --yes --no-check --instance $ID"
}

# Wine keeps no DACL as Windows does: it folds the user-only DACL setup
# sets into the Unix mode 0770 (the user's ACE gives the owner's and the
# group's bits), then makes up a DACL with a group ACE from that mode, which
# ssh and our connect rightly refuse (test 3).  What Windows keeps of the
# DACL is, under Wine, the key's mode 0600.
private_key_as_windows_keeps_it() {
	chmod 600 "$WUP/.ssh/cloudX/cloudX"
}

@test "cloudx-proxy.exe setup --yes under Wine: profile, key, SSH config for Windows OpenSSH, Include, VS Code settings" {
	# VS Code Insiders is installed and has settings; VS Code has none
	local ins="$WUP/AppData/Roaming/Code - Insiders/User"
	mkdir -p "$ins"
	printf '{\n    "editor.fontSize": 12\n}\n' >"$ins/settings.json"
	run --separate-stderr do_setup
	[ "$status" -eq 0 ] || { printf "%s\n" "$stderr" "OUT:$output" "RC:$status"; false; }
	[[ "$stderr" == *"Connect using: ssh cloudx-win-box"* ]]
	[[ "$stderr" == *"Made the private key readable by you alone"* ]]
	# stdout: the VS Code settings, as on Linux
	assert_equal "$(jq -r '."remote.SSH.configFile"' <<<"$output")" "~/.ssh/cloudX/config"
	# the AWS profile, in the user's folder
	run -0 cat "$WUP/.aws/credentials"
	assert_output "[cloudX]
aws_access_key_id = $AK
aws_secret_access_key = $SK"
	run -0 cat "$WUP/.aws/config"
	assert_output "[profile cloudX]
region = eu-west-1"
	# the key: made by ssh-keygen.exe, the .pub its public half
	private_key_as_windows_keeps_it
	run -0 ssh-keygen -y -f "$WUP/.ssh/cloudX/cloudX"
	assert_equal "$(cut -d' ' -f1,2 <<<"$output")" \
	    "$(cut -d' ' -f1,2 "$WUP/.ssh/cloudX/cloudX.pub")"
	# the config Windows OpenSSH reads: Control* commented (no
	# multiplexing there), paths with '/', quoted where they hold a blank,
	# the ProxyCommand's program quoted with backslashes (CreateProcessW)
	local cfg="$WUP/.ssh/cloudX/config"
	run -0 grep -E '^ *#? *Control' "$cfg"
	assert_output "    # ControlMaster auto
    # ControlPath ~/.ssh/control/%r@%h:%p
    # ControlPersist 4h"
	run -0 grep -x "    IdentityFile \"C:/users/$WUSER/.ssh/cloudX/cloudX\"" "$cfg"
	run -0 grep -xF "    ProxyCommand \"C:\\Program Files\\cloudx proxy\\cloudx-proxy.exe\" connect %h %p --os-user %r" "$cfg"
	run -0 grep -x "    UserKnownHostsFile \"C:/users/$WUSER/.ssh/cloudX/known_hosts\" ~/.ssh/known_hosts" "$cfg"
	run -0 grep -A2 -x 'Host cloudx-win-box' "$cfg"
	assert_output "Host cloudx-win-box
    HostName $ID
    HostKeyAlias $ID"
	# %APPDATA%\Code - Insiders\User\settings.json: ours merged in
	run -0 jq -r '."editor.fontSize", ."remote.SSH.configFile"' "$ins/settings.json"
	assert_output "12
~/.ssh/cloudX/config"
	[ ! -e "$WUP/AppData/Roaming/Code/User/settings.json" ]
	# the user's own config gets the Include, nothing else
	run -0 cat "$WUP/.ssh/config"
	assert_output "Include \"C:/users/$WUSER/.ssh/cloudX/config\""
	# list reads it back: our ProxyCommand, its program, the host
	run -0 --separate-stderr wrun "$CXP list --json"
	jq -e --arg id "$ID" '.Environments[0] | .Name == "win" and .ProxyOurs
	    and .ProxyPath == "C:\\Program Files\\cloudx proxy\\cloudx-proxy.exe"
	    and .Hosts[0].Host == "cloudx-win-box" and .Hosts[0].InstanceId == $id' <<<"$output"
	# atomic writes: no temporary file left; nothing started (--no-check)
	[ -z "$(find "$WUP" -name '*.tmp.*')" ]
	[ "$(moto_state "$ID")" = stopped ]
	# a second run changes nothing
	local before
	before=$(cat "$cfg" "$WUP/.ssh/config" "$WUP/.aws/credentials" | sha256sum)
	run -0 --separate-stderr do_setup
	[ "$(cat "$cfg" "$WUP/.ssh/config" "$WUP/.aws/credentials" | sha256sum)" = "$before" ]
}

@test "cloudx-proxy.exe connect as the ProxyCommand setup wrote: stopped instance started, key pushed, exact output" {
	[ -f "$WUP/.ssh/config" ] || do_setup >/dev/null 2>&1
	private_key_as_windows_keeps_it
	linux_config
	[ "$(moto_state "$ID")" = stopped ]
	run --separate-stderr sshx cloudx-win-box 'echo "$(id -un) in $PWD"; uname -s'
	[ "$status" -eq 0 ] || { printf '%s\n' "$stderr"; cat "$HOME/cloudx.conf"; false; }
	assert_equal "$output" "$SSHD_USER in $(getent passwd "$SSHD_USER" | cut -d: -f6)
$(uname -s)"
	[[ "$stderr" == *"Starting instance $ID"* ]]
	[ "$(moto_state "$ID")" = running ]
	# the key pushed is ours, for the user ssh logged in as (%r)
	run -0 jq -r --arg k "$ID/$SSHD_USER" '.keys[$k][0].key' <<<"$(standin_state)"
	assert_output --partial "$(cut -d' ' -f1,2 "$WUP/.ssh/cloudX/cloudX.pub")"
	# accept-new put the host key, under the instance id, in our file
	run -0 ssh-keygen -F "$ID" -f "$WUP/.ssh/cloudX/known_hosts"
	# the connect log in %LOCALAPPDATA%: the record cx-tunnel.exe finished
	# (the journal handed over as an inherited handle)
	run -0 --separate-stderr wrun "$CXP log --json cloudx-win-box"
	[ -n "$output" ]
	jq -e --arg id "$ID" '.instance == $id and .outcome == "connected" and .exit == 0
	    and ([.steps[].step] | index("first_byte")) != null' <<<"$output"
	[ -f "$WUP/AppData/Local/cloudx-proxy/connect.log" ]
	# (the session is not closed: ssh ends its ProxyCommand with SIGHUP
	# here, TerminateProcess on Windows, which no program can catch: AWS
	# ends it when the idle timeout comes; cx-tunnel-wine.bats)
	# a second connect: the instance already running
	run -0 --separate-stderr sshx cloudx-win-box 'echo again'
	assert_equal "$output" "again"
	[[ "$stderr" != *"Starting instance"* ]]
}

@test "cloudx-proxy.exe connect under Wine: a private key others can read is refused with the icacls fix" {
	[ -f "$WUP/.ssh/config" ] || do_setup >/dev/null 2>&1
	linux_config
	chmod 644 "$WUP/.ssh/cloudX/cloudX"
	run -255 --separate-stderr sshx cloudx-win-box true
	[[ "$stderr" == *"is readable by other users: ssh will ignore this private key (run: icacls"* ]]
	private_key_as_windows_keeps_it
}

@test "cloudx-proxy.exe connect under Wine: no secret in any command line (Wine's own trace of every process it starts)" {
	[ -f "$WUP/.ssh/config" ] || do_setup >/dev/null 2>&1
	private_key_as_windows_keeps_it
	linux_config
	local canary="wineCanaryTok3n$RANDOM$RANDOM" log="$BATS_TEST_TMPDIR/trace"
	# a session token in the profile: it must reach AWS (moto ignores it)
	# through the stages' pipes, never through a command line
	printf '[cloudX]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
	    "$AK" "$SK" "$canary" >"$WUP/.aws/credentials"
	WINEDEBUG=+process run -0 --separate-stderr sshx cloudx-win-box 'echo fine'
	printf '%s\n' "$stderr" >"$log"
	assert_output "fine"
	# the trace saw the stages start (so it would have seen a secret)
	grep -q 'cx-creds.exe' "$log"
	grep -q 'cx-tunnel.exe' "$log"
	! grep -q "$canary" "$log"
	! grep -q "$SK" "$log"
	! grep -q "$canary" "$WUP/AppData/Local/cloudx-proxy/connect.log"
	# and no process of ours still runs with a secret in its command line
	! grep -l "$canary" /proc/[0-9]*/cmdline 2>/dev/null
}
