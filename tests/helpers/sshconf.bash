# Helpers for tests/bats/cx-sshconf*.bats: golden cases under
# tests/fixtures/sshconf/<case>/
#   args            cx-sshconf arguments, one per line (@HOME@ = $HOME)
#   input           our file before ($HOME/.ssh/cloudX/config); optional
#   main.input      ~/.ssh/config before; optional
#   expected        our file after (absent: must be unchanged / absent)
#   expected.main   ~/.ssh/config after (absent: unchanged / absent)
#   expected.stdout stdout, with $HOME shown as @HOME@
#   expected.rc     exit status (default 0)
# CX_REGEN=1 rewrites the expected files from the current output instead
# of comparing (review them with git diff before committing).

SSHCONF_FIX="$CX_ROOT/tests/fixtures/sshconf"
SSHCONF_PROXY=/opt/cloudx/bin/cloudx-proxy

# subst FILE: prints FILE with @HOME@ replaced by $HOME (bytes kept)
subst() {
	sed "s|@HOME@|$HOME|g" "$1"
}

# unsubst: stdin to stdout with $HOME shown as @HOME@
unsubst() {
	sed "s|$HOME|@HOME@|g"
}

golden() {
	local c="$SSHCONF_FIX/$1" ours="$HOME/.ssh/cloudX/config"
	local main="$HOME/.ssh/config" want_rc=0 args=() a
	[ -d "$c" ] || { echo "no case $1"; return 1; }
	mkdir -p "$HOME/.ssh/cloudX"
	[ -f "$c/input" ] && subst "$c/input" >"$ours"
	[ -f "$c/main.input" ] && subst "$c/main.input" >"$main"
	[ -f "$c/expected.rc" ] && want_rc=$(cat "$c/expected.rc")
	while IFS= read -r a; do
		args+=("${a//@HOME@/$HOME}")
	done <"$c/args"
	run --separate-stderr cx cx-sshconf -c "$ours" -x "$SSHCONF_PROXY" \
	    "${args[@]}"
	if [ -n "${CX_REGEN:-}" ]; then
		echo "$status" | grep -qx 0 && rm -f "$c/expected.rc" ||
		    echo "$status" >"$c/expected.rc"
		if [ -f "$ours" ] && ! { [ -f "$c/input" ] &&
		    cmp -s "$ours" <(subst "$c/input"); }; then
			unsubst <"$ours" >"$c/expected"
		else
			rm -f "$c/expected"
		fi
		if [ -f "$main" ] && ! { [ -f "$c/main.input" ] &&
		    cmp -s "$main" <(subst "$c/main.input"); }; then
			unsubst <"$main" >"$c/expected.main"
		else
			rm -f "$c/expected.main"
		fi
		if [ "$status" -eq 0 ]; then
			printf '%s\n' "$output" | unsubst >"$c/expected.stdout"
		fi
		return 0
	fi
	if [ "$status" -ne "$want_rc" ]; then
		echo "exit status $status, wanted $want_rc; stderr: $stderr"
		return 1
	fi
	if [ -f "$c/expected" ]; then
		cmp "$ours" <(subst "$c/expected") ||
		    { diff -u <(subst "$c/expected") "$ours"; return 1; }
	elif [ -f "$c/input" ]; then
		cmp "$ours" <(subst "$c/input") ||
		    { echo "$1: our file changed"; return 1; }
	else
		[ ! -e "$ours" ] || { echo "$1: our file created"; return 1; }
	fi
	if [ -f "$c/expected.main" ]; then
		cmp "$main" <(subst "$c/expected.main") ||
		    { diff -u <(subst "$c/expected.main") "$main"; return 1; }
	elif [ -f "$c/main.input" ]; then
		cmp "$main" <(subst "$c/main.input") ||
		    { echo "$1: ~/.ssh/config changed"; return 1; }
	fi
	if [ -f "$c/expected.stdout" ]; then
		diff -u <(subst "$c/expected.stdout") <(printf '%s\n' "$output") ||
		    return 1
	fi
	if [ "$want_rc" -ne 0 ]; then
		[ -n "$stderr" ] || { echo "no error message"; return 1; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -le 2 ] ||
		    { echo "too chatty: $stderr"; return 1; }
	fi
	return 0
}
