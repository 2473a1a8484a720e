#!/usr/bin/env bash
# tests/packaging/dist.sh: `make dist` makes a source tarball that builds and
# passes its own `make check` when extracted elsewhere (CI phase "dist").
#
#   make dist writes dist/cloudx-proxy-VERSION.tar.gz
#   every entry is under cloudx-proxy-VERSION/, and the files are exactly
#     git's at HEAD (sources only: no build output, no dist/)
#   extracted in a temp folder (no .git): make dist there says in one line
#     that it needs a git checkout (exit 2)
#   make -j2 there builds
#   make check there passes (its own "N passed, N failed" is added to this
#     script's totals); DIST_TESTS="tests/bats/x.bats ..." runs the unit
#     tests and only those bats files instead (a quicker check)
#
# Ends with "N passed, N failed"; exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; shift; for l; do echo "#   $l"; done; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

version=$(cat VERSION)
name=cloudx-proxy-$version
tgz=dist/$name.tar.gz
w=$(mktemp -d "${TMPDIR:-/tmp}/cx-dist.XXXXXX")
trap 'rm -rf "$w"' EXIT
trap 'exit 1' INT TERM HUP

rm -f "$tgz"
if out=$(make --no-print-directory dist 2>&1) && [ -f "$tgz" ]; then
	ok "make dist: $tgz"
else
	notok "make dist: $tgz" "$out"; finish
fi
tar -tzf "$tgz" | LC_ALL=C sort >"$w/entries"
if bad=$(grep -v "^$name/" "$w/entries"); then
	notok "every entry under $name/" $bad
else
	ok "every entry under $name/"
fi
sed -n "s|^$name/||p" "$w/entries" | grep -v '/$' | grep . >"$w/files"
git ls-tree -r --name-only HEAD | LC_ALL=C sort >"$w/git"
if d=$(diff "$w/git" "$w/files"); then
	ok "the tarball holds git's files at HEAD, nothing else ($(wc -l <"$w/files") files)"
else
	notok "the tarball holds git's files at HEAD, nothing else" "$d"
fi

tar -C "$w" -xzf "$tgz"
src=$w/$name
out=$(make -C "$src" --no-print-directory dist 2>&1); st=$?
if [ "$st" -eq 2 ] && [ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] &&
    [[ $out == *"not a git checkout"* ]]; then
	ok "make dist in the tarball: one line, exit 2"
else
	notok "make dist in the tarball: one line, exit 2" "exit $st: $out"
fi

start=$SECONDS
if make -C "$src" --no-print-directory -j2 >"$w/build.log" 2>&1; then
	ok "make -j2 in the extracted tarball ($((SECONDS - start)) s)"
else
	notok "make -j2 in the extracted tarball" "$(tail -20 "$w/build.log")"; finish
fi

start=$SECONDS
make -C "$src" --no-print-directory check ${DIST_TESTS:+TESTS="$DIST_TESTS"} \
    >"$w/check.log" 2>&1; st=$?
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$w/check.log" | tail -1)
if [ -n "$line" ]; then
	set -- $line
	pass=$((pass + $1)); fail=$((fail + $3))
	echo "# make check in the extracted tarball: $line ($((SECONDS - start)) s)"
	grep -E '^not ok' "$w/check.log" | grep -v '# skip' | sed 's/^/# /'
	[ "$st" -eq 0 ] || [ "$3" -gt 0 ] || notok "make check in the extracted tarball: exit $st"
else
	notok "make check in the extracted tarball printed its totals" "$(tail -20 "$w/check.log")"
fi
finish
