#!/usr/bin/env bats
# The oracle: OpenSSH's own parser (`ssh -G -F FILE HOST`) must resolve every
# host cx-sshconf wrote to the settings we meant, directly and through the
# Include from a ~/.ssh/config with its own "Host *" defaults.
load ../helpers/common

PROXY="/opt/cloud x/bin/cloudx-proxy"

setup() {
	common_setup
	CFG="$HOME/.ssh/cloudX/config"
	# ssh expands ~ from the passwd entry, not from $HOME
	PWHOME=$(getent passwd "$(id -u)" | cut -d: -f6)
}

# sshconf ARGS...: runs cx-sshconf on $CFG with our driver path
sshconf() {
	run -0 --separate-stderr cx cx-sshconf -c "$CFG" -x "$PROXY" "$@"
}

# g FILE HOST KEY: the first value ssh -G gives for KEY
g() {
	ssh -G -F "$1" "$2" 2>/dev/null | awk -v k="$3" '$1 == k {
	    sub(/^[^ ]+ /, ""); print; exit }'
}

# check FILE HOST ID PROXYCMD IDFILE [windows] [agent]
check() {
	local f=$1 h=$2 id=$3 pc=$4 idf=$5 win=${6:-} agent=${7:-}
	assert_equal "$(g "$f" "$h" user)" ec2-user
	assert_equal "$(g "$f" "$h" hostname)" "$id"
	assert_equal "$(g "$f" "$h" proxycommand)" "$pc"
	assert_equal "$(g "$f" "$h" identityfile)" "$idf"
	assert_equal "$(g "$f" "$h" identitiesonly)" yes
	assert_equal "$(g "$f" "$h" tcpkeepalive)" yes
	if [ -n "$win" ]; then
		assert_equal "$(g "$f" "$h" controlmaster)" false
		assert_equal "$(g "$f" "$h" controlpersist)" no
		assert_equal "$(g "$f" "$h" controlpath)" ""
	else
		assert_equal "$(g "$f" "$h" controlmaster)" auto
		assert_equal "$(g "$f" "$h" controlpersist)" 14400
		assert_equal "$(g "$f" "$h" controlpath)" \
		    "$PWHOME/.ssh/control/ec2-user@$id:22"
	fi
	if [ -n "$agent" ]; then
		assert_equal "$(g "$f" "$h" identityagent)" "$agent"
	fi
}

# every host the listing reports resolves to an instance id of its own
check_all_listed() {
	local f=$1 h id
	run -0 cx cx-sshconf -c "$CFG" list --json
	while IFS=$'\t' read -r h id; do
		assert_equal "$(g "$f" "$h" hostname)" "$id"
		assert_equal "$(g "$f" "$h" user)" ec2-user
		[[ "$(g "$f" "$h" proxycommand)" == "\"$PROXY\" connect %h %p"* ]]
	done < <(jq -r '.SshConfig.Environments[].Hosts[] |
	    [.Host, .InstanceId] | @tsv' <<<"$output")
}

seed_file() {
	mkdir -p "$HOME/.ssh/cloudX" "$HOME/keys dir"
	# foreign material, and a catch-all that must stay last
	cat >"$CFG" <<-'EOF'
	# hand-written
	Host github.com
	    User git

	Host *
	    User nobody
	    IdentityFile ~/.ssh/id_other
	    ProxyCommand none
	    ControlMaster no
	EOF
	sshconf add-host -e dev -N web -i i-0123456789abcdef0
	sshconf add-host -e dev -N web2 -i i-0123456789abcdef1
	sshconf add-host -e my-Env -N api-1 -i i-0123456789abcdef2 \
	    -p prof1 -k key1 --aws-env acme -r eu-west-3
	sshconf add-host -e dev-eu -N web -i i-0123456789abcdef3 \
	    -d "$HOME/keys dir" -k k2
	sshconf add-host -e Prod -N db -i i-0123456789abcdef4 -p prodprof
	# re-adding web must leave web2 alone (the seed's substring bug)
	sshconf add-host -e dev -N web -i i-0123456789abcdef5
}

@test "oracle: every generated host resolves as intended (hyphenated, mixed case, shadowing envs, foreign Host *)" {
	seed_file
	local q="\"$PROXY\"" k="$HOME/.ssh/cloudX"
	check "$CFG" cloudx-dev-web i-0123456789abcdef5 \
	    "$q connect %h %p --os-user %r" "$k/cloudX"
	check "$CFG" cloudx-dev-web2 i-0123456789abcdef1 \
	    "$q connect %h %p --os-user %r" "$k/cloudX"
	check "$CFG" cloudx-my-Env-api-1 i-0123456789abcdef2 \
	    "$q connect %h %p --os-user %r --profile prof1 --ssh-key key1 --aws-env acme --region eu-west-3" \
	    "$k/key1"
	check "$CFG" cloudx-dev-eu-web i-0123456789abcdef3 \
	    "$q connect %h %p --os-user %r --ssh-key k2 --ssh-dir \"$HOME/keys dir\"" \
	    "$HOME/keys dir/k2"
	check "$CFG" cloudx-Prod-db i-0123456789abcdef4 \
	    "$q connect %h %p --os-user %r --profile prodprof" "$k/cloudX"
	# exact case: prod is not Prod (only the generic tier matches)
	assert_equal "$(g "$CFG" cloudx-prod-db hostname)" cloudx-prod-db
	assert_equal "$(g "$CFG" cloudx-prod-db proxycommand)" ""
	# the foreign hosts keep their own settings
	assert_equal "$(g "$CFG" github.com user)" git
	assert_equal "$(g "$CFG" other.example user)" nobody
	check_all_listed "$CFG"
}

@test "oracle: through the Include of a ~/.ssh/config with its own Host * defaults" {
	seed_file
	cat >"$HOME/.ssh/config" <<-'EOF'
	# my defaults
	  host *
	    User me
	    IdentitiesOnly no
	    ControlMaster no
	    ProxyCommand none
	    IdentityFile ~/.ssh/id_main
	EOF
	run -0 cx cx-sshconf -c "$CFG" ensure-include
	local q="\"$PROXY\"" k="$HOME/.ssh/cloudX"
	check "$HOME/.ssh/config" cloudx-dev-web i-0123456789abcdef5 \
	    "$q connect %h %p --os-user %r" "$k/cloudX"
	check "$HOME/.ssh/config" cloudx-my-Env-api-1 i-0123456789abcdef2 \
	    "$q connect %h %p --os-user %r --profile prof1 --ssh-key key1 --aws-env acme --region eu-west-3" \
	    "$k/key1"
	check "$HOME/.ssh/config" cloudx-dev-eu-web i-0123456789abcdef3 \
	    "$q connect %h %p --os-user %r --ssh-key k2 --ssh-dir \"$HOME/keys dir\"" \
	    "$HOME/keys dir/k2"
	# the Include sits before the main file's own Host *
	run -0 grep -n -m1 -i -E '^(include|[[:space:]]*host)' "$HOME/.ssh/config"
	assert_output --regexp '^[0-9]+:Include '
	check_all_listed "$HOME/.ssh/config"
}

@test "oracle: cloudX prefix, Windows mode and 1Password" {
	CFG="$HOME/.ssh/cloudX/config"
	sshconf -P cloudX --windows add-host -e dev -N web \
	    -i i-0123456789abcdef0 --1password
	# a later rewrite keeps the Control* lines commented
	sshconf -P cloudX --windows add-host -e dev -N two -i i-0123456789abcdef1
	[ "$(grep -c '^    # Control' "$CFG")" = 3 ]
	local k="$HOME/.ssh/cloudX"
	# the ProxyCommand as Windows OpenSSH runs it (CreateProcessW): the
	# program in quotes, with backslashes
	check "$CFG" cloudX-dev-web i-0123456789abcdef0 \
	    "\"${PROXY//\//\\}\" connect %h %p --os-user %r" "$k/cloudX.pub" win \
	    "$PWHOME/.1password/agent.sock"
	check "$CFG" cloudX-dev-two i-0123456789abcdef1 \
	    "\"${PROXY//\//\\}\" connect %h %p --os-user %r" "$k/cloudX.pub" win
	# ssh matches Host patterns case-sensitively: the cloudx spelling
	# is not ours
	assert_equal "$(g "$CFG" cloudx-dev-web hostname)" cloudx-dev-web
}

@test "oracle: paths with an apostrophe (O'Brien): ssh reads them, and sh runs the ProxyCommand with the exact arguments" {
	local bin="$BATS_TEST_TMPDIR/o'neil bin" dir="$BATS_TEST_TMPDIR/o'brien/keys" pc
	mkdir -p "$bin" "$dir"
	printf '#!/bin/sh\nfor a; do printf "[%%s]\\n" "$a"; done\n' >"$bin/cloudx-proxy"
	chmod +x "$bin/cloudx-proxy"
	CFG="$dir/config"
	run -0 --separate-stderr cx cx-sshconf -c "$CFG" -x "$bin/cloudx-proxy" \
	    add-host -e dev -N web -i i-0123456789abcdef0
	assert_equal "$(g "$CFG" cloudx-dev-web identityfile)" "$dir/cloudX"
	assert_equal "$(g "$CFG" cloudx-dev-web hostname)" i-0123456789abcdef0
	pc=$(g "$CFG" cloudx-dev-web proxycommand)
	# as ssh runs it: %-tokens expanded, then sh -c "exec ..."
	pc=${pc//%h/i-0123456789abcdef0}
	pc=${pc//%p/22}
	pc=${pc//%r/ec2-user}
	run -0 sh -c "exec $pc"
	assert_equal "${lines[0]}" "[connect]"
	assert_equal "${lines[1]}" "[i-0123456789abcdef0]"
	assert_equal "${lines[4]}" "[ec2-user]"
	assert_line --regexp "^\[($dir|$CFG)\]\$"
}

@test "oracle: a config written by the Python tool is adopted and connects through our ProxyCommand" {
	mkdir -p "$HOME/.ssh/cloudX"
	cp "$CX_ROOT/tests/fixtures/sshconf/adopt-banner/input" "$CFG"
	sed -i "s|@HOME@|$HOME|g" "$CFG"
	[ "$(g "$CFG" cloudX-dev-web proxycommand)" = \
	    "uvx cloudX-proxy connect %h %p --aws-env acme --profile dev-prof --ssh-key devkey --region eu-west-2" ]
	run -0 cx cx-sshconf -c "$CFG" -x "$PROXY" adopt
	assert_equal "$(jq -r .SshConfig.Prefix <<<"$output")" cloudX
	check "$CFG" cloudX-dev-web i-0123456789abcdef0 \
	    "\"$PROXY\" connect %h %p --aws-env acme --profile dev-prof --ssh-key devkey --region eu-west-2" \
	    "$HOME/.ssh/cloudX/cloudX"
	# and later edits work on the adopted file
	run -0 cx cx-sshconf -c "$CFG" -x "$PROXY" -P cloudX add-host -e dev \
	    -N two -i i-0123456789abcdef1
	check "$CFG" cloudX-dev-two i-0123456789abcdef1 \
	    "\"$PROXY\" connect %h %p --os-user %r --profile dev-prof --ssh-key devkey --aws-env acme --region eu-west-2" \
	    "$HOME/.ssh/cloudX/devkey"
}
