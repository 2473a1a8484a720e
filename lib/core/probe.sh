#!/bin/sh
# The OS layer's feature test, the way OpenSSH portable's configure does it:
# for each interface the layer may use, compile and link a tiny program; the
# answers go to config.h as HAVE_X 1 or 0.  No list of OS names: a system
# that has the interface gets it, one that lacks it gets the fallback in
# lib/core/os_posix.c / compat.c.
#   probe.sh OUT CC "CFLAGS" [force-fallbacks]
# With a fourth argument of 1 every HAVE_X is 0 whatever this system has
# (`make PORTABLE=1`), so the fallbacks are built and tested here.
set -u
out=$1 cc=$2 cflags=$3 force=${4:-0}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cx-probe.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '/* made by lib/core/probe.sh: do not edit */\n#ifndef CX_CONFIG_H\n#define CX_CONFIG_H\n' >"$tmp/config.h"

# have NAME HEADERS BODY [FIRST]: HAVE_NAME is 1 if the program compiles
# and links (FIRST: a line before the includes)
have() {
	name=$1 headers=$2 body=$3 v=0
	if [ "$force" != 1 ]; then
		{
			printf '%s\n' "${4:-}"
			for h in $headers; do printf '#include <%s>\n' "$h"; done
			printf 'int main(void) { %s; return 0; }\n' "$body"
		} >"$tmp/t.c"
		# shellcheck disable=SC2086
		if $cc $cflags -Werror=implicit-function-declaration \
		    -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1; then
			v=1
		fi
	fi
	printf '#define HAVE_%s %s\n' "$name" "$v" >>"$tmp/config.h"
}

have PIPE2 "fcntl.h unistd.h" 'int p[2]; return pipe2(p, O_CLOEXEC)'
have PPOLL "poll.h signal.h" 'struct pollfd p; sigset_t s; sigemptyset(&s); return ppoll(&p, 0, 0, &s)'
have EXPLICIT_BZERO "string.h" 'char b[4]; explicit_bzero(b, 4)'
have MEMSET_S "string.h" 'char b[4]; return (int)memset_s(b, 4, 0, 4)' \
    '#define __STDC_WANT_LIB_EXT1__ 1'
have MSG_NOSIGNAL "sys/types.h sys/socket.h" 'return MSG_NOSIGNAL'
have SO_NOSIGPIPE "sys/types.h sys/socket.h" 'return SO_NOSIGPIPE'
have MEMFD_CREATE "sys/mman.h" 'return memfd_create("x", MFD_CLOEXEC)'
have SOCK_CLOEXEC "sys/types.h sys/socket.h" 'return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)'
have PRCTL "sys/prctl.h" 'return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)'
have REALLOCARRAY "stdlib.h" 'return reallocarray(0, 2, 2) != 0'
have ASPRINTF "stdio.h" 'char *s; return asprintf(&s, "%d", 1)'
have MEMMEM "string.h" 'return memmem("ab", 2, "b", 1) != 0'
have TIMEGM "time.h" 'struct tm t = { 0 }; return (int)timegm(&t)'
have MKOSTEMP "stdlib.h fcntl.h" 'char t[] = "xXXXXXX"; return mkostemp(t, O_CLOEXEC)'
# not an interface but a file: where the system has it, the running
# program's path is a link there (else argv[0] is resolved through PATH)
v=0
[ "$force" != 1 ] && [ -L /proc/self/exe ] && v=1
printf '#define HAVE_PROC_SELF_EXE %s\n' "$v" >>"$tmp/config.h"
printf '#define CX_FORCED_FALLBACKS %s\n#endif\n' "$([ "$force" = 1 ] && echo 1 || echo 0)" >>"$tmp/config.h"
# rewritten only when it changes, so that nothing is rebuilt for nothing
if ! cmp -s "$tmp/config.h" "$out" 2>/dev/null; then
	cp "$tmp/config.h" "$out.tmp" && mv "$out.tmp" "$out"
fi
