#!/usr/bin/env bash
# tests/packaging/deb.sh [DEB]: the .deb installs, works and uninstalls
# cleanly (CI phase "deb").  Needs root and a Debian system where the
# package is not installed; DEB defaults to the dist/cloudx-proxy_*.deb that
# `make deb` made.  Installs the package for real (dpkg -i), so run it on a
# throw-away machine (CI) or one you do not mind it touching; it removes the
# package again, whatever happens.
#
#   lintian reports no error
#   dpkg -i installs it (its Depends are met by the runtime libraries alone)
#   /usr/bin/cloudx-proxy --version, cx-creds --version
#   man -w cloudx-proxy and cloudX-proxy find the installed pages
#   bash completion, loaded the way bash-completion loads it: cloudx-proxy
#     <TAB> and cloudX-proxy se<TAB>
#   zsh's completion is in a folder of zsh's default fpath
#   tests/demo.sh with CX_BIN=/usr/bin: the whole story with the installed
#     programs (the generated ProxyCommand is /usr/bin/cloudx-proxy)
#   dpkg -r, then dpkg --purge: no file of the package left, the file list
#     of the folders it touched as before
#
# Prints "ok N - name" / "not ok N - name" per check and ends with
# "N passed, N failed"; exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
pkg=cloudx-proxy
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; shift; for l; do echo "#   $l"; done; }
check() {	# check NAME COMMAND...: ok when COMMAND succeeds; its output shown otherwise
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "$(printf '%s' "$out" | tail -20)"; fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

deb=${1:-$(ls dist/${pkg}_*.deb 2>/dev/null | tail -1)}
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
	notok "a .deb to test" "none in dist/: run make deb"; finish
fi
if [ "$(id -u)" -ne 0 ]; then
	notok "root" "dpkg -i needs root"; finish
fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
	notok "$pkg is not installed before the test" "remove it first: dpkg --purge $pkg"; finish
fi
if grep -qsr '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
	notok "dpkg installs man pages" "/etc/dpkg/dpkg.cfg.d/ excludes /usr/share/man (a minimal image): the man check cannot pass"
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/cx-debtest.XXXXXX")
installed=
cleanup() {
	[ -n "$installed" ] && dpkg --purge "$pkg" >/dev/null 2>&1
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# the folders the package puts files in, listed before it comes
dirs=(/usr/bin /usr/share/man/man1 /usr/share/bash-completion/completions
    /usr/share/zsh/vendor-completions /usr/share/doc /var/lib/dpkg/info)
snapshot() { find "${dirs[@]}" 2>/dev/null | LC_ALL=C sort; }
snapshot >"$w/before"

if command -v lintian >/dev/null 2>&1; then
	check "lintian: no error" lintian --fail-on error "$deb"
else
	notok "lintian: no error" "lintian is missing: apt-get install lintian (or: make deps)"
fi

dpkg-deb -f "$deb" Depends >"$w/depends"
check "Depends: the runtime libraries only (not python, jq, moto)" \
    sh -c "! grep -Eiq 'python|jq|moto|bats|cmocka|-dev' '$w/depends' && grep -q libcurl '$w/depends'"

if out=$(dpkg -i "$deb" 2>&1); then
	installed=1
	ok "dpkg -i $(basename "$deb")"
else
	installed=1
	notok "dpkg -i $(basename "$deb")" "$out"
	finish
fi

version=$(cat VERSION)
check "cloudx-proxy --version" sh -c "[ \"\$(/usr/bin/cloudx-proxy --version)\" = 'cloudx-proxy $version' ]"
check "cx-creds --version" sh -c "[ \"\$(/usr/bin/cx-creds --version)\" = 'cx-creds $version' ]"
check "man -w cloudx-proxy" sh -c '[ "$(man -w cloudx-proxy)" = /usr/share/man/man1/cloudx-proxy.1.gz ]'
check "man -w cloudX-proxy, man -w cx-tunnel" sh -c 'man -w cloudX-proxy && man -w cx-tunnel'
check "man cloudx-proxy renders" sh -c 'man -P cat cloudx-proxy 2>/dev/null | grep -q "EXIT STATUS"'

# bash-completion's loader finds the file by the command's name
complete_words() {	# complete_words WORD... : COMPREPLY for the last word
	bash -c '
	. /usr/share/bash-completion/bash_completion
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	__load_completion "$1" || { echo "no completion for $1"; exit 1; }
	f=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
	[ -n "$f" ] || { echo "no function for $1"; exit 1; }
	"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf "%s\n" "${COMPREPLY[@]}"' bash "$@"
}
if [ -f /usr/share/bash-completion/bash_completion ]; then
	out=$(complete_words cloudx-proxy '' 2>&1 | sort | tr '\n' ' ')
	# exactly the commands the installed driver lists in its usage
	want=$({ printf '%s\n' --help --version
		/usr/bin/cloudx-proxy --help 2>&1 |
		    awk '/^commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }'; } |
		sort | tr '\n' ' ')
	if [ "$out" = "$want" ]; then ok "bash completion: cloudx-proxy <TAB>"
	else notok "bash completion: cloudx-proxy <TAB>" "got: $out" "want: $want"; fi
	out=$(complete_words cloudX-proxy se 2>&1 | tr '\n' ' ')
	if [ "$out" = "setup " ]; then ok "bash completion: cloudX-proxy se<TAB>"
	else notok "bash completion: cloudX-proxy se<TAB>" "got: $out"; fi
else
	notok "bash completion" "bash-completion is missing: apt-get install bash-completion (or: make deps)"
fi
check "zsh completion in /usr/share/zsh/vendor-completions" \
    grep -q '^#compdef' /usr/share/zsh/vendor-completions/_cloudx-proxy

# the demo with the installed programs, its folder kept to read the config
if out=$(CX_BIN=/usr/bin DEMO_KEEP=1 tests/demo.sh 2>&1); then
	ok "tests/demo.sh with CX_BIN=/usr/bin"
else
	notok "tests/demo.sh with CX_BIN=/usr/bin" "$(printf '%s' "$out" | tail -20)"
fi
kept=$(printf '%s\n' "$out" | sed -n 's/^demo: kept \(.*cloudx-demo\.[A-Za-z0-9]*\)$/\1/p' | tail -1)
check "the demo's ssh config runs /usr/bin/cloudx-proxy" \
    sh -c "[ -n '$kept' ] && grep -rqs 'ProxyCommand /usr/bin/cloudx-proxy' '$kept/home/.ssh/'"
[ -n "$kept" ] && rm -rf "$kept"

dpkg-query -L "$pkg" >"$w/files"
check "dpkg -r" dpkg -r "$pkg"
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$w/files")
if [ -z "$left" ]; then ok "dpkg -r: no file of the package left"
else notok "dpkg -r: no file of the package left" $left; fi
check "dpkg --purge" dpkg --purge "$pkg"
installed=
snapshot >"$w/after"
if d=$(diff "$w/before" "$w/after"); then ok "after --purge: the folders hold what they held before"
else notok "after --purge: the folders hold what they held before" "$d"; fi
finish
