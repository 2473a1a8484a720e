#!/bin/sh
# packaging/deps.sh MODE: are the packages MODE needs here?  If not, install
# them (root on Debian/Ubuntu) or say in one line exactly what to run.
#
#   build   the compiler, pkg-config and the five libraries (found through
#           pkg-config, so any system's packages do)
#   check   build + what the test suites run (bats, jq, sshd, python3, ...)
#           + moto_server
#   demo    build + what `make demo` runs (sshd, python3, moto_server)
#   ci      check + what CI adds (valgrind, clang for the fuzzers; ruby,
#           lintian, dpkg-dev, bash-completion for the packages; musl-tools,
#           cmake, perl for make static)
#   windows build + what `make windows` and `make check-windows` run: the
#           mingw-w64 cross compiler, Wine (wine64), cmake, perl and
#           dpkg-dev for the libraries' cross-build, zip, mandoc
#
# Exit 0: all present (perhaps after installing); 2: something is missing
# and was not installed (the line on stdout says what to run: the Makefile
# shows it through $(error), .ci/run prints it).  Nothing else is printed on
# stdout; apt's progress goes to stderr.
#
# Environment: PKG_CONFIG (default pkg-config; may hold words, as
# "env PKG_CONFIG_PATH=... pkg-config" or "pkg-config --static"); CX_DEPS_NO_INSTALL=1 only
# reports, even as root.
set -u
mode=${1:-build}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

# pkg-config name : Debian package : Homebrew formula
LIBS="libcurl:libcurl4-openssl-dev:curl
openssl:libssl-dev:openssl@3
libcjson:libcjson-dev:cjson
expat:libexpat1-dev:expat
cmocka:libcmocka-dev:cmocka"

# command : Debian package : Homebrew formula (tools)
BUILD_TOOLS="cc:build-essential:
make:make:make
pkg-config:pkg-config:pkg-config"
TEST_TOOLS="bats:bats:bats-core
jq:jq:jq
/usr/sbin/sshd:openssh-server:
ssh:openssh-client:
python3:python3:python
mandoc:mandoc:mandoc
expect:expect:expect
tmux:tmux:tmux
curl:curl:curl
ps:procps:
killall:psmisc:
setsid:util-linux:util-linux
script:bsdutils:
useradd:passwd:
man:man-db:"
# Debian packages with no command of their own to look for
TEST_DEBS="bats-support bats-assert bats-file"
CI_TOOLS="valgrind:valgrind:valgrind
clang:clang:llvm
ruby:ruby:
lintian:lintian:
dpkg-deb:dpkg:
dpkg-shlibdeps:dpkg-dev:
dpkg-source:dpkg-dev:
musl-gcc:musl-tools:
cmake:cmake:
perl:perl:"
# libclang-rt: the fuzzers; bash-completion: the .deb's completion test
CI_DEBS="libclang-rt-14-dev bash-completion"
WIN_TOOLS="x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64:
x86_64-w64-mingw32-windres:binutils-mingw-w64-x86-64:
wine:wine:
/usr/lib/wine/wine64:wine64:
cmake:cmake:
perl:perl:
dpkg-source:dpkg-dev:
zip:zip:
mandoc:mandoc:mandoc"
WIN_DEBS="mingw-w64-tools"
DEMO_TOOLS="/usr/sbin/sshd:openssh-server:
ssh:openssh-client:
python3:python3:python
curl:curl:curl
ps:procps:"

tools=$BUILD_TOOLS debs= want_moto=
case $mode in
build) ;;
check) tools="$tools
$TEST_TOOLS" debs=$TEST_DEBS want_moto=1 ;;
demo) tools="$tools
$DEMO_TOOLS" want_moto=1 ;;
ci) tools="$tools
$TEST_TOOLS
$CI_TOOLS" debs="$TEST_DEBS $CI_DEBS" want_moto=1 ;;
windows) tools="$tools
$WIN_TOOLS" debs=$WIN_DEBS ;;
*) echo "usage: packaging/deps.sh build|check|demo|ci|windows"; exit 2 ;;
esac

# PKG_CONFIG split into words whatever IFS is
pc_exists() { (IFS=' 	'; $PKG_CONFIG --exists "$1" 2>/dev/null); }
is_deb() { command -v dpkg-query >/dev/null 2>&1; }
deb_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# Fills: missing_deb (Debian packages), missing_brew, missing_what (names
# for the message), broken (a package installed whose .pc pkg-config cannot
# see: installing does not help).
scan() {
	missing_deb= missing_brew= missing_what= broken=
	old_ifs=$IFS
	IFS='
'
	for l in $LIBS; do
		IFS=:; set -- $l; IFS='
'
		[ "$1" = cmocka ] && [ "$mode" = build ] && [ -n "${CX_NO_UNIT:-}" ] && continue
		pc_exists "$1" && continue
		if is_deb && deb_installed "$2"; then
			broken="$broken $1 (Debian package $2, installed)"
			continue
		fi
		missing_deb="$missing_deb $2" missing_brew="$missing_brew $3"
		missing_what="$missing_what $1 (pkg-config $1, package $2)"
	done
	for l in $tools; do
		IFS=:; set -- $l; IFS='
'
		command -v "$1" >/dev/null 2>&1 && continue
		case " $missing_deb " in *" $2 "*) continue ;; esac
		missing_deb="$missing_deb $2"
		[ -n "${3:-}" ] && missing_brew="$missing_brew $3"
		missing_what="$missing_what ${1##*/}"
	done
	IFS=$old_ifs
	if is_deb; then
		for d in $debs; do
			deb_installed "$d" || {
				missing_deb="$missing_deb $d"
				missing_what="$missing_what $d"
			}
		done
	fi
}

scan
if [ -n "$missing_deb" ] && [ "$(id -u)" -eq 0 ] && is_deb &&
    command -v apt-get >/dev/null 2>&1 && [ -z "${CX_DEPS_NO_INSTALL:-}" ]; then
	echo "deps: installing$missing_deb" >&2
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq $missing_deb >/dev/null; } >&2 ||
	    { echo "apt-get install -y$missing_deb failed (see above)"; exit 2; }
	scan
fi
if [ -n "$broken" ]; then
	echo "pkg-config cannot find${broken}: check PKG_CONFIG_PATH and PKG_CONFIG_LIBDIR"
	exit 2
fi
if [ -n "$missing_deb" ]; then
	if [ "$(uname -s)" = Darwin ]; then
		run="brew install$missing_brew"
	elif [ "$(id -u)" -eq 0 ]; then
		run="apt-get install -y$missing_deb"
	else
		run="sudo apt-get install -y$missing_deb"
	fi
	echo "missing:$missing_what; run: $run"
	exit 2
fi
if [ -n "$want_moto" ] && ! command -v moto_server >/dev/null 2>&1; then
	case $mode in
	demo) need="the demo's stand-in cloud (STS/IAM/EC2)" ;;
	*) need="the tests that talk to AWS (tests/bats: awscore, cx-creds, cx-instance, cx-pushkey, secrets, standin, cloudx-proxy-connect, -setup, -e2e)" ;;
	esac
	echo "moto_server is missing, needed by $need; run: pip install 'moto[server]'"
	exit 2
fi
exit 0
