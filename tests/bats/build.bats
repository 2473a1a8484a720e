#!/usr/bin/env bats
# The build checks its packages before compiling anything, and `make lint`
# catches what no compiler does (tracked binaries, the module layering).
load ../helpers/common

setup() {
	common_setup
	# a copy of the working tree (tracked and new files), as a fresh clone
	# would have it, so a test can break it; from a release tarball (no
	# .git: make dist), every file but the build outputs
	tree="$BATS_TEST_TMPDIR/tree"
	mkdir -p "$tree"
	if [ -e "$CX_ROOT/.git" ]; then
		(cd "$CX_ROOT" && git ls-files -z --cached --others --exclude-standard |
		    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		    tar --null -T - -cf -) | tar -C "$tree" -xf -
	else
		(cd "$CX_ROOT" && find . \( -name 'build' -o -name 'build-*' -o -name dist \
		    -o -name '*.o' -o -name '*.d' -o -name '*.a' -o -name __pycache__ \) -prune \
		    -o \( -type f -o -type l \) -print0 | tar --null -T - -cf -) | tar -C "$tree" -xf -
	fi
	git -C "$tree" init -q
	git -C "$tree" add -A
	# every .pc file this machine has, in a folder the test controls
	pcdir="$BATS_TEST_TMPDIR/pc"
	mkdir -p "$pcdir"
	for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
		[ -d "$d" ] || continue
		for f in "$d"/*.pc; do [ -e "$f" ] && ln -sf "$f" "$pcdir/"; done
	done
}

@test "make: a library pkg-config cannot find is one line naming it and its package, exit 2, nothing built" {
	rm "$pcdir/libcjson.pc"
	run -2 --separate-stderr env PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH="$pcdir" \
	    make -C "$tree" --no-print-directory B="$BATS_TEST_TMPDIR/out"
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "more than one line: $stderr"
	assert_equal "$output" ""
	[[ $stderr == *"libcjson (Debian package libcjson-dev"* ]] || fail "$stderr"
	[ ! -e "$BATS_TEST_TMPDIR/out" ] || fail "something was built"
	# with the file back, the same command gets past the check
	ln -sf "$(pkg-config --variable pcfiledir libcjson)/libcjson.pc" "$pcdir/"
	run -0 env PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH="$pcdir" \
	    make -C "$tree" --no-print-directory -n B="$BATS_TEST_TMPDIR/out"
}

@test "make check, make demo: the same check, one line, before any compiler runs" {
	rm "$pcdir/expat.pc"
	for goal in check demo; do
		run -2 --separate-stderr env PKG_CONFIG_LIBDIR="$pcdir" \
		    PKG_CONFIG_PATH="$pcdir" make -C "$tree" --no-print-directory \
		    B="$BATS_TEST_TMPDIR/out" "$goal"
		[ "${#stderr_lines[@]}" -eq 1 ] || fail "$goal: $stderr"
		[[ $stderr == *"expat (Debian package libexpat1-dev"* ]] || fail "$goal: $stderr"
	done
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
}

@test "make, not root, package not installed: one line with the sudo apt-get command, exit 2" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run make as another user"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	# this machine as if libcjson-dev were not installed: pkg-config cannot
	# see it and dpkg does not list it
	rm "$pcdir/libcjson.pc"
	shim="$BATS_TEST_TMPDIR/shim"
	mkdir -p "$shim"
	cat >"$shim/dpkg-query" <<-'SH'
	#!/bin/sh
	for a; do [ "$a" = libcjson-dev ] && exit 1; done
	exec /usr/bin/dpkg-query "$@"
	SH
	chmod 755 "$shim/dpkg-query"
	chmod -R a+rX "$BATS_TEST_TMPDIR"
	chmod a+x "$BATS_TEST_TMPDIR/.." "$BATS_TEST_TMPDIR/../.." 2>/dev/null || true
	run -2 --separate-stderr runuser -u nobody -- env PATH="$shim:$PATH" \
	    PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH="$pcdir" HOME=/tmp \
	    make -C "$tree" --no-print-directory B=/nonexistent/out
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "$stderr"
	[[ $stderr == *"run: sudo apt-get install -y libcjson-dev"* ]] || fail "$stderr"
}

@test "make lint: a tracked ELF binary fails it, naming the file" {
	run -0 make -C "$tree" --no-print-directory lint
	cp /bin/true "$tree/b"
	git -C "$tree" add b
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "lint: b: an ELF binary is tracked in git"
	git -C "$tree" rm -q --cached b
	printf 'x' >"$tree/lib/core/stray.o"
	git -C "$tree" add -f lib/core/stray.o
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "lib/core/stray.o: a build output is tracked"
}

@test "make lint: lib/core including another module, or lib/ including a program's header, fails it" {
	printf '#include "aws/aws.h"\n' >>"$tree/lib/core/cxerr.c"
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "lib/core/cxerr.c"
	assert_output --partial "core/ may not include aws/aws.h"
	git -C "$tree" checkout -q lib/core/cxerr.c
	printf '#include "cloudx-proxy/driver.h"\n' >>"$tree/lib/ssh/sshkey.c"
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "lib/ may not include a program's own code"
}
