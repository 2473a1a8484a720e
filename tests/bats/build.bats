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

@test "make lint: a pipe2 (or another Linux-only call) outside the OS layer fails it, naming file and line" {
	run -0 make -C "$tree" --no-print-directory lint
	printf '\nstatic int p[2];\nstatic void f(void) { (void)pipe2(p, 0); }\n' \
	    >>"$tree/cmd/cx-tunnel/relay.c"
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --regexp "lint: cmd/cx-tunnel/relay.c:[0-9]+: pipe2 is Linux-only: call the OS layer"
	git -C "$tree" checkout -q cmd/cx-tunnel/relay.c
	# the layer's own wrapper is fine, and so is the layer calling pipe2
	printf '\nstatic int p[2];\nstatic void f(void) { (void)cx_pipe(p); }\n' \
	    >>"$tree/cmd/cx-tunnel/relay.c"
	printf '\nstatic int q[2];\nstatic void g(void) { (void)pipe2(q, 0); }\n' \
	    >>"$tree/lib/core/os_posix.c"
	run -0 make -C "$tree" --no-print-directory lint
	printf 'static void h(void) { (void)memfd_create("x", 0); }\n' \
	    >>"$tree/lib/ssm/ws.c"
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "lib/ssm/ws.c"
	assert_output --partial "memfd_create is Linux-only"
}

@test "make lint: an OS #ifdef in feature code fails it, and is counted" {
	printf '#ifdef __APPLE__\n#endif\n#if defined(_WIN32)\n#endif\n' \
	    >>"$tree/cmd/cloudx-proxy/vscode.c"
	run -2 make -C "$tree" --no-print-directory lint
	assert_output --partial "cmd/cloudx-proxy/vscode.c"
	assert_output --partial "2 OS #ifdef(s) outside the OS layer (0 allowed)"
}

@test "probe: the OS layer's fallbacks are chosen by feature tests, and PORTABLE=1 forces them all" {
	local out="$BATS_TEST_TMPDIR/config.h"
	# glibc with _GNU_SOURCE has them all
	"$CX_ROOT/lib/core/probe.sh" "$out" cc "-std=c11 -D_GNU_SOURCE" 0
	grep -qx '#define HAVE_PIPE2 1' "$out" || fail "$(cat "$out")"
	grep -qx '#define HAVE_PPOLL 1' "$out"
	grep -qx '#define HAVE_MEMFD_CREATE 1' "$out"
	grep -qx '#define CX_FORCED_FALLBACKS 0' "$out"
	# the same system seen through strict POSIX lacks pipe2 and ppoll:
	# what the compiler can see decides, not the name of the system
	"$CX_ROOT/lib/core/probe.sh" "$out" cc "-std=c11 -D_POSIX_C_SOURCE=200809L" 0
	grep -qx '#define HAVE_PIPE2 0' "$out" || fail "$(cat "$out")"
	grep -qx '#define HAVE_PPOLL 0' "$out"
	grep -qx '#define HAVE_REALLOCARRAY 0' "$out"
	# forced: every HAVE_ is 0
	"$CX_ROOT/lib/core/probe.sh" "$out" cc "-std=c11 -D_GNU_SOURCE" 1
	run grep -c '^#define HAVE_[A-Z0-9_]* 1$' "$out"
	assert_output 0
	grep -qx '#define CX_FORCED_FALLBACKS 1' "$out"
}
