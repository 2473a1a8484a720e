#!/usr/bin/env bash
# make lint: the checks no compiler makes.  Prints one line per problem
# ("lint: file:line: what") and exits 1 if there was any.
#   - banned C functions (unbounded copies, atoi, system, ...)
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
