#!/usr/bin/env bash
# make lint: the checks no compiler makes.  Prints one line per problem
# ("lint: file:line: what") and exits 1 if there was any.
#   - banned C functions (unbounded copies, atoi, system, ...)
#   - Linux/glibc-only interfaces and OS #ifdefs outside the OS layer
#     (lib/core/os_*.c, lib/core/compat.c: docs/portability.md)
#   - the module layering of lib/ (lib/README.md): which module may include
#     which, and no lib/ file including a program's own header
#   - no tracked build output: ELF, Mach-O or PE binaries, objects, archives
#   - the man pages (mandoc -Tlint)
set -u
cd "$(dirname "$0")/.."
bad=0
say() { echo "lint: $*"; bad=1; }

while IFS= read -r hit; do
	say "$hit: banned function"
done < <(grep -rnE '\b(strcpy|strcat|v?sprintf|gets|atoi|atol|strtok|system|popen)\(' cmd lib)

# What only Linux (or glibc) has: the OS layer has a call for each, with a
# fallback (docs/portability.md); nothing else may use them.
linux_only='pipe2|ppoll|memfd_create|prctl|explicit_bzero|MSG_NOSIGNAL|SOCK_CLOEXEC|SOCK_NONBLOCK|O_TMPFILE|accept4|dup3|epoll_[a-z_]+|inotify_[a-z_]+|signalfd|eventfd|timerfd_[a-z_]+|getrandom|reallocarray|v?asprintf|memmem|timegm|mkostemps?|sendfile|SO_PEERCRED|sched_[a-z_]+affinity|mremap|MAP_ANONYMOUS|strchrnul|get_current_dir_name|program_invocation_[a-z_]+'
layer='^lib/core/(os_[a-z0-9_]+\.c|os\.h|compat\.c):'
while IFS= read -r hit; do
	name=$(printf '%s\n' "$hit" | grep -oE "(^|[^A-Za-z0-9_])($linux_only)([^A-Za-z0-9_]|\$)" | head -1 | tr -cd 'A-Za-z0-9_')
	say "${hit%%:*}:$(printf '%s' "$hit" | cut -d: -f2): $name is Linux-only: call the OS layer (lib/core/os.h)"
done < <(grep -rnE "(^|[^A-Za-z0-9_])($linux_only)([^A-Za-z0-9_]|\$)" cmd lib --include='*.[ch]' | grep -vE "$layer")
while IFS= read -r hit; do
	say "${hit%%:*}:$(printf '%s' "$hit" | cut -d: -f2): /proc is Linux-only: call the OS layer (lib/core/os.h)"
done < <(grep -rnE '"/proc/' cmd lib --include='*.[ch]' | grep -vE "$layer")
while IFS= read -r hit; do
	say "${hit%%:*}:$(printf '%s' "$hit" | cut -d: -f2): includes a Linux-only header: call the OS layer (lib/core/os.h)"
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(linux/|sys/(prctl|epoll|inotify|signalfd|eventfd|timerfd|sendfile|random)\.h)' cmd lib --include='*.[ch]' | grep -vE "$layer")
# per-OS choices are data (lib/core/osdata.c, which takes the OS as an
# argument), not #ifdefs: count them outside the OS layer
os_ifdefs=$(grep -rnE '^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif).*\b(__APPLE__|__MACH__|__linux__|__linux|linux|_WIN32|_WIN64|__CYGWIN__|__FreeBSD__|__OpenBSD__|__NetBSD__|__DragonFly__|__sun|__unix__|__GLIBC__|__ANDROID__)\b' cmd lib --include='*.[ch]' | grep -vE "$layer")
if [ -n "$os_ifdefs" ]; then
	while IFS= read -r hit; do
		say "${hit%%:*}:$(printf '%s' "$hit" | cut -d: -f2): an OS #ifdef outside the OS layer"
	done <<<"$os_ifdefs"
	say "$(printf '%s\n' "$os_ifdefs" | wc -l) OS #ifdef(s) outside the OS layer (0 allowed)"
fi

# module -> the modules it may include (itself always)
declare -A may=(
	[core]=""
	[aws]="core"
	[ssm]="core aws"
	[ssh]="core"
	[ec2]="core aws ssh"
)
for f in lib/*/*.[ch]; do
	m=${f#lib/}; m=${m%%/*}
	[[ -v may[$m] ]] || { say "$f: module '$m' is not in tests/lint.sh's layering table"; continue; }
	while IFS=: read -r line inc; do
		dep=${inc#*\"}; dep=${dep%%\"*}
		case $dep in
		config.h)
			# made by lib/core/probe.sh; only the OS layer reads it
			[[ "$f:" =~ $layer ]] ||
			    say "$f:$line: includes \"config.h\": only the OS layer may (lib/core/os.h)"
			continue ;;
		*/*) ;;
		*) [ -f "lib/$m/$dep" ] || say "$f:$line: includes \"$dep\", which is not in lib/$m/"; continue ;;
		esac
		d=${dep%%/*}
		[ "$d" = "$m" ] && continue
		if [[ ! -d lib/$d ]]; then
			say "$f:$line: includes \"$dep\": lib/ may not include a program's own code"
		elif [[ " ${may[$m]} " != *" $d "* ]]; then
			say "$f:$line: $m/ may not include $dep (lib/README.md)"
		fi
	done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):/\1:/')
done

while IFS= read -r f; do
	[ -f "$f" ] || continue
	case $f in
	*.o|*.a|*.so|*.so.*|*.dylib|*.dll|*.exe|*.obj|*.pyc|build/*|build-*/*)
		say "$f: a build output is tracked in git"; continue ;;
	esac
	magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
	case $magic in
	7f454c46) say "$f: an ELF binary is tracked in git" ;;
	feedface|feedfacf|cefaedfe|cffaedfe|cafebabe) say "$f: a Mach-O binary is tracked in git" ;;
	4d5a*) say "$f: a PE (Windows) binary is tracked in git" ;;
	esac
done < <(git ls-files 2>/dev/null | grep -v '^tests/fuzz/corpus/')

mans=(man/*.1)
if [ -e "${mans[0]}" ]; then
	mandoc -Tlint -Wwarning "${mans[@]}" || bad=1
fi
exit $bad
