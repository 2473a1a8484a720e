#!/usr/bin/env bats
# Replays every fuzz target's seed corpus and its regressions
# (tests/fuzz/regressions/<target>/: inputs that once crashed or broke a
# property) through the normal build, without libFuzzer: each target is
# compiled with tests/fuzz/replay.c against $CX_BIN/libcx.a and the
# programs' own archives ($CX_BIN/cmd/*/libcmd.a).  Under
# `make check-asan` (CX_BIN=build-asan) the replays run under ASan+UBSan.

load ../helpers/common

setup() {
	common_setup
}

# replay TARGET: builds and runs the replayer of tests/fuzz/fuzz_TARGET.c.
replay() {
	local t=$1 san="" bin="$BATS_TEST_TMPDIR/replay_$1" lib="$CX_BIN_DIR/libcx.a"
	[ -f "$lib" ] || skip "no $lib (run make first)"
	if nm "$lib" 2>/dev/null | grep -q __asan_init; then
		san="-fsanitize=address,undefined -fno-sanitize-recover=all"
	fi
	# the C dialect the library was built with (make PORTABLE=1: strict
	# POSIX), which the Makefile wrote next to it
	local cstd="-std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE"
	[ -f "$CX_BIN_DIR/cstd" ] && cstd=$(cat "$CX_BIN_DIR/cstd")
	# shellcheck disable=SC2046,SC2086
	cc $cstd -g $san -I"$CX_ROOT/lib" -I"$CX_ROOT/cmd" \
	    $(pkg-config --cflags libcurl openssl libcjson expat) \
	    -o "$bin" "$CX_ROOT/tests/fuzz/fuzz_$t.c" "$CX_ROOT/tests/fuzz/replay.c" \
	    "$CX_BIN_DIR"/cmd/*/libcmd.a "$lib" $(pkg-config --libs libcurl openssl libcjson expat)
	local dirs=("$CX_ROOT/tests/fuzz/corpus/$t")
	[ -d "$CX_ROOT/tests/fuzz/regressions/$t" ] &&
	    dirs+=("$CX_ROOT/tests/fuzz/regressions/$t")
	run --separate-stderr "$bin" "${dirs[@]}"
	[ "$status" -eq 0 ] || echo "$stderr" | tail -20
	assert_success
	assert_output --regexp '^[1-9][0-9]* inputs replayed$'
}

@test "fuzz replay: awserr" { replay awserr; }
@test "fuzz replay: datachan (repeated handshake is a protocol error)" { replay datachan; }
@test "fuzz replay: drvini" { replay drvini; }
@test "fuzz replay: creds" { replay creds; }
@test "fuzz replay: ini" { replay ini; }
@test "fuzz replay: proxy (the transport's CONNECT answer, proxy URL, NO_PROXY)" { replay proxy; }
@test "fuzz replay: shlex" { replay shlex; }
@test "fuzz replay: sshconf (listing a file without environments)" { replay sshconf; }
@test "fuzz replay: sshkey (no read past a trailing blank line)" { replay sshkey; }
@test "fuzz replay: ssmmsg" { replay ssmmsg; }
@test "fuzz replay: stage" { replay stage; }
@test "fuzz replay: url (control characters refused)" { replay url; }
@test "fuzz replay: vscode (invalid JSONC is not rewritten)" { replay vscode; }
@test "fuzz replay: ws (parse before any input)" { replay ws; }
@test "fuzz replay: xml" { replay xml; }

@test "every fuzz target has a replay test and a seed corpus" {
	local f t
	for f in "$CX_ROOT"/tests/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c); t=${t#fuzz_}
		grep -q "replay $t;" "$BATS_TEST_FILENAME" || fail "no replay test for $t"
		[ -n "$(ls -A "$CX_ROOT/tests/fuzz/corpus/$t" 2>/dev/null)" ] ||
		    fail "no seed corpus for $t"
	done
}
