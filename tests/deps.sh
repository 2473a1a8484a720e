#!/bin/sh
# Installs (as root) or names the Debian packages the build and the tests
# need.  `make deps` runs it; .ci/run runs it on a fresh machine.
PKGS="build-essential pkg-config libcurl4-openssl-dev libssl-dev libcjson-dev
libexpat1-dev libcmocka-dev bats bats-support bats-assert bats-file jq
openssh-server openssh-client mandoc expect tmux curl procps psmisc
util-linux bsdutils passwd valgrind python3 man-db clang libclang-rt-14-dev"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run: sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq $missing >/dev/null || exit 1
echo "deps: installed$missing"
