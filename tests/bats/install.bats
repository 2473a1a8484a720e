#!/usr/bin/env bats
# make install puts every program, its man page and the completions in place.
load ../helpers/common

setup() {
	common_setup
}

@test "make install DESTDIR=... installs programs, man pages, the cloudX-proxy link" {
	dest="$BATS_TEST_TMPDIR/dest"
	run -0 make -C "$CX_ROOT" --no-print-directory B="${CX_BIN:-build}" \
	    install DESTDIR="$dest" PREFIX=/opt/cx
	for p in "$CX_ROOT"/cmd/*; do
		name=$(basename "$p")
		[ -x "$dest/opt/cx/bin/$name" ]
		[ -f "$dest/opt/cx/share/man/man1/$name.1" ] ||
		    fail "no man page for $name"
	done
	if [ -d "$CX_ROOT/cmd/cloudx-proxy" ]; then
		[ "$(readlink "$dest/opt/cx/bin/cloudX-proxy")" = cloudx-proxy ]
	fi
	# the installed man page renders
	run -0 env MANPATH="$dest/opt/cx/share/man" man -P cat cx-creds
	assert_output --partial "EXIT STATUS"
	run -0 "$dest/opt/cx/bin/cx-creds" --version
	assert_output --regexp '^cx-creds [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "make install puts the bash and zsh completion where asked; make uninstall removes every file" {
	dest="$BATS_TEST_TMPDIR/dest"
	run -0 make -C "$CX_ROOT" --no-print-directory B="${CX_BIN:-build}" \
	    install DESTDIR="$dest" PREFIX=/usr ZSH_COMPDIR=/usr/share/zsh/vendor-completions
	[ -f "$dest/usr/share/bash-completion/completions/cloudx-proxy" ]
	[ "$(readlink "$dest/usr/share/bash-completion/completions/cloudX-proxy")" = cloudx-proxy ]
	[ -f "$dest/usr/share/zsh/vendor-completions/_cloudx-proxy" ]
	[ ! -e "$dest/usr/share/zsh/site-functions" ]
	run -0 make -C "$CX_ROOT" --no-print-directory B="${CX_BIN:-build}" \
	    uninstall DESTDIR="$dest" PREFIX=/usr ZSH_COMPDIR=/usr/share/zsh/vendor-completions
	run -0 find "$dest" ! -type d
	assert_output ""
}
