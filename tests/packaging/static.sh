#!/usr/bin/env bash
# tests/packaging/static.sh: the programs `make static` built in build-static/
# (musl, no shared library) run the tunnel end-to-end tests and the demo
# (CI phase "static").  Run `make static` first.
#
#   every program in build-static/ is static: ldd says "not a dynamic
#     executable", and file(1) or readelf finds no interpreter
#   cx-creds --version runs
#   tests/run-all with CX_BIN=build-static and the tunnel's bats files
#     (cx-tunnel, cx-tunnel-transport: ws:// and wss://, the proxy; cx-session;
#     cloudx-proxy-e2e: ssh through the whole chain): their totals are added
#     to this script's
#   tests/demo.sh with CX_BIN=build-static
# and prints each program's size (as built, and stripped).
#
# Environment: STATIC_TESTS overrides the bats files.
# Ends with "N passed, N failed"; exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
B=build-static
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; shift; for l; do echo "#   $l"; done; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

progs=$(ls cmd)
for p in $progs; do
	[ -x "$B/$p" ] || { notok "$B/$p exists" "run make static"; finish; }
done
bad=
for p in $progs; do
	out=$(ldd "$B/$p" 2>&1)
	case $out in
	*"not a dynamic executable"*) ;;
	*) bad="$bad $p: $out" ;;
	esac
	readelf -l "$B/$p" 2>/dev/null | grep -q 'INTERP' && bad="$bad $p: has an interpreter"
done
if [ -z "$bad" ]; then ok "ldd: every program is not a dynamic executable"
else notok "ldd: every program is not a dynamic executable" "$bad"; fi
if out=$("$B/cx-creds" --version 2>&1) && [ "$out" = "cx-creds $(cat VERSION)" ]; then
	ok "$B/cx-creds --version"
else
	notok "$B/cx-creds --version" "$out"
fi
for p in $progs; do
	s=$(stat -c %s "$B/$p")
	strip -o "$B/$p.stripped" "$B/$p" 2>/dev/null
	t=$(stat -c %s "$B/$p.stripped" 2>/dev/null || echo 0)
	rm -f "$B/$p.stripped"
	printf '# size %-13s %8d bytes built, %8d stripped\n' "$p" "$s" "$t"
done

tests=${STATIC_TESTS:-tests/bats/cx-tunnel.bats tests/bats/cx-tunnel-transport.bats tests/bats/cx-session.bats tests/bats/cloudx-proxy-e2e.bats}
log=$(mktemp "${TMPDIR:-/tmp}/cx-static.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$SECONDS
CX_BIN=$B TESTS="$tests" tests/run-all >"$log" 2>&1; st=$?
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$line" ]; then
	set -- $line
	pass=$((pass + $1)); fail=$((fail + $3))
	echo "# tests/run-all CX_BIN=$B ($tests): $line ($((SECONDS - start)) s)"
	grep -E '^not ok' "$log" | grep -v '# skip' | sed 's/^/# /'
	[ "$st" -eq 0 ] || [ "$3" -gt 0 ] || notok "tests/run-all CX_BIN=$B: exit $st"
else
	notok "tests/run-all CX_BIN=$B printed its totals" "$(tail -20 "$log")"
fi
start=$SECONDS
if out=$(CX_BIN=$B tests/demo.sh 2>&1); then
	ok "tests/demo.sh with CX_BIN=$B ($((SECONDS - start)) s)"
else
	notok "tests/demo.sh with CX_BIN=$B" "$(printf '%s' "$out" | tail -20)"
fi
finish
