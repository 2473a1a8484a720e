# packaging/lib/debsrc.sh: what the library cross-builds share (sourced by
# packaging/static/build-deps.sh for musl and packaging/windows/build-deps.sh
# for mingw-w64): Debian's source packages fetched with apt-get source (a
# deb-src entry added when apt has none), the cache key, the prefix built
# under a temp name and renamed when complete, one log per library.
#
# The caller sets, before sourcing: TARGET (the prefix's name: musl,
# mingw64), KEYTEXT (what else the key hashes: the toolchain's version) and
# SRCS ("source=version" words).  Then:
#   deps_begin          prints the cached prefix and exits 0 when complete;
#                       else sets prefix, work, stage (the folder to install
#                       into) and fetches the sources
#   srcdir SOURCE       the extracted folder of a source package
#   run NAME CMD...     CMD's output in $work/NAME.log, its tail shown on
#                       failure (then exit 1)
#   done_ NAME / mark NAME   a library already built in $stage (a rerun in a
#                       persistent CX_DEPS_WORK folder skips it)
#   deps_finish SECONDS  .pc files pointed at the final prefix, .complete
#                       written, stage renamed to prefix, prefix printed
# The key hashes the calling script, this file, SRCS and KEYTEXT.
# Environment: CX_CACHE (cache folder), JOBS (make -j, default 2),
# CX_DEPS_WORK (a persistent build folder; CX_STATIC_WORK is its old name).

cache=${CX_CACHE:-${HOME:-/tmp}/.cache/cloudx-proxy-build}
jobs=${JOBS:-2}
die() { echo "build-deps: $*" >&2; exit 1; }
say() { echo "build-deps: $*" >&2; }
command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source is missing: apt-get install dpkg-dev (or: make deps)"

# The source package and version of a -dev package installed here.
srcver() {	# srcver DEV-PACKAGE -> "source=version"
	v=$(dpkg-query -W -f='${source:Package}=${source:Version}' "$1" 2>/dev/null) ||
	    die "$1 is not installed (it names the source version to build): apt-get install $1"
	echo "$v"
}

has_deb_src() {
	grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}

add_deb_src() {
	[ "$(id -u)" -eq 0 ] || die "apt has no deb-src entry; as root run this script once (it adds one), or add one to /etc/apt/sources.list.d/"
	src=/etc/apt/sources.list.d/cloudx-proxy-src.sources
	# the binary entries' URIs, suites and components, as deb-src: deb822
	# paragraphs (comments dropped) and one-line "deb" entries
	{
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk 'BEGIN { RS = ""; ORS = "\n\n" }
			    { out = ""; deb = 0; off = 0; n = split($0, l, "\n")
			      for (i = 1; i <= n; i++) {
				if (l[i] ~ /^[ \t]*#/) continue
				if (l[i] ~ /^Types:/) { deb = (l[i] ~ /[ \t]deb([ \t]|$)/); l[i] = "Types: deb-src" }
				if (l[i] ~ /^Enabled:[ \t]*no/) off = 1
				out = out l[i] "\n" }
			      if (deb && !off) printf "%s\n", out }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			awk '$1 == "deb" { $1 = "deb-src"; print }' "$f"
		done
	} >"$src.new"
	if ! grep -q . "$src.new"; then
		rm -f "$src.new"
		die "no deb entry in /etc/apt to derive a deb-src entry from"
	fi
	# one-line entries need a .list file
	if grep -q '^deb-src ' "$src.new"; then
		grep '^deb-src ' "$src.new" >"${src%.sources}.list"
		grep -v '^deb-src ' "$src.new" >"$src.tmp" && mv "$src.tmp" "$src.new"
	fi
	chmod 0644 "$src.new" && mv "$src.new" "$src"
	[ -s "$src" ] || rm -f "$src"
	if ! apt-get update -qq >&2; then
		rm -f "$src" "${src%.sources}.list"
		die "apt-get update failed with the deb-src entry added (removed again)"
	fi
	say "added a deb-src entry: $src"
}

fetch_sources() {
	mkdir -p "$work/src"
	got=
	for s in $SRCS; do
		if ls -d "$work/src/${s%%=*}"-*/ >/dev/null 2>&1; then
			got="$got $(cat "$work/src/${s%%=*}.version")"
			continue
		fi
		# that version, or (security updates replace it in the archive)
		# the newest one apt knows
		if ! (cd "$work/src" && apt-get source -qq "$s" >"$work/src/${s%%=*}.log" 2>&1); then
			ok=
			for v in $(apt-cache showsrc --only-source "${s%%=*}" 2>/dev/null |
			    sed -n 's/^Version: //p' | sort -rV); do
				(cd "$work/src" && apt-get source -qq "${s%%=*}=$v" \
				    >>"$work/src/${s%%=*}.log" 2>&1) && { ok=$v; break; }
			done
			[ -n "$ok" ] || {
				cat "$work/src/${s%%=*}.log" >&2
				die "apt-get source ${s%%=*} failed (apt-get update?)"
			}
			say "${s%%=*}: ${s#*=} is no longer in the archive; using $ok"
			s=${s%%=*}=$ok
		fi
		got="$got $s"
		echo "$s" >"$work/src/${s%%=*}.version"
	done
}

srcdir() {	# srcdir SOURCE-PACKAGE -> the extracted folder
	for d in "$work/src/$1"-*/; do [ -d "$d" ] && { echo "${d%/}"; return; }; done
	die "apt-get source $1 extracted nothing"
}

run() {	# run NAME COMMAND...: the command's output in NAME.log, shown on failure
	n=$1; shift
	"$@" >>"$work/$n.log" 2>&1 || { tail -40 "$work/$n.log" >&2; die "$n: '$*' failed"; }
}
done_() { [ -f "$stage/.done-$1" ]; }
mark() { touch "$stage/.done-$1"; }

deps_begin() {
	key=$( { cat "$0" "$(dirname "$0")/../lib/debsrc.sh"; echo "$SRCS $KEYTEXT"; } |
	    sha256sum | cut -c1-16)
	prefix=$cache/$TARGET-$key
	if [ -f "$prefix/.complete" ]; then
		echo "$prefix"
		exit 0
	fi
	say "building $SRCS for $TARGET ($KEYTEXT) into $prefix (minutes, once)"
	mkdir -p "$cache"
	work=${CX_DEPS_WORK:-${CX_STATIC_WORK:-}}
	if [ -n "$work" ]; then
		# a developer's persistent build folder: a rerun after a
		# failure skips the libraries already built there
		mkdir -p "$work"
	else
		work=$(mktemp -d "$cache/$TARGET-$key.build.XXXXXX")
		trap 'rm -rf "$work"' EXIT
	fi
	stage=$work/prefix
	trap 'exit 1' INT TERM HUP
	mkdir -p "$stage/lib/pkgconfig" "$stage/include"
	has_deb_src || add_deb_src
	fetch_sources
}

deps_finish() {	# deps_finish SECONDS
	# the .pc files name the final prefix, not the staging folder
	for pc in "$stage"/lib/pkgconfig/*.pc; do
		[ -f "$pc" ] || continue
		sed "s|$stage|$prefix|g" "$pc" >"$pc.new" && mv "$pc.new" "$pc"
	done
	rm -rf "$stage/share" "$stage/bin" "$stage"/.done-*
	echo "built:$got $KEYTEXT ($1 s); installed -dev: $SRCS" >"$stage/.complete"
	rm -rf "$prefix.old"
	[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old"
	mv "$stage" "$prefix"
	rm -rf "$prefix.old"
	echo "$prefix"
}
