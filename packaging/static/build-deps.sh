#!/bin/sh
# packaging/static/build-deps.sh: OpenSSL, libcurl, cJSON and expat built as
# static libraries for musl (Debian's musl-tools: musl-gcc), from Debian's own
# source packages (the same upstream versions and Debian patches as the
# -dev packages installed here), for `make static`.
#
# Prints one line on stdout: the prefix holding lib/*.a, include/ and
# lib/pkgconfig/*.pc.  The prefix is cached outside the tree:
#
#   ${CX_CACHE:-$HOME/.cache/cloudx-proxy-build}/musl-<key>
#
# where <key> hashes this script, the four source versions and musl's; a
# change to any of them builds a new prefix (old ones stay until removed by
# hand).  A prefix appears only when complete (built under a temp name, then
# renamed), so an interrupted build leaves no half cache behind.
#
# What is built (the programs need only this):
#   OpenSSL  no shared library, no tests, docs, apps, engines, legacy
#            ciphers or protocols (TLS 1.2/1.3 client, SHA-2, HMAC, the
#            X.509 verification they need); OPENSSLDIR=/etc/ssl so the
#            system's CA certificates are found on Debian, Alpine, Arch
#   libcurl  HTTP and HTTPS with OpenSSL only: no other protocol, no zlib,
#            brotli, zstd, nghttp2, libidn2, libpsl, libssh; CA bundle
#            /etc/ssl/certs/ca-certificates.crt, CA path /etc/ssl/certs
#   cJSON    the one file, as Debian's libcjson (include/cjson/cJSON.h)
#   expat    the library only
#
# Needs: musl-tools, dpkg-dev (apt-get source, dpkg-source), make, perl
# (OpenSSL's Configure), and a deb-src entry: as root, one is added in
# /etc/apt/sources.list.d/cloudx-proxy-src.sources when apt has none.
# Progress goes to stderr (each library's log in the build folder, shown on
# failure).  Exit 0 with the prefix on stdout; 1 with one line on stderr.
#
# Environment: CX_CACHE (cache folder), JOBS (make -j, default 2).
set -eu
cache=${CX_CACHE:-${HOME:-/tmp}/.cache/cloudx-proxy-build}
jobs=${JOBS:-2}

die() { echo "build-deps: $*" >&2; exit 1; }
say() { echo "build-deps: $*" >&2; }

command -v musl-gcc >/dev/null 2>&1 || die "musl-gcc is missing: apt-get install musl-tools (or: make deps)"
command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source is missing: apt-get install dpkg-dev (or: make deps)"

# The source package and version of each library: those of the -dev package
# installed here (or, when the archive no longer has it, the newest version
# it has: said on stderr and in the prefix's .complete file).
srcver() {	# srcver DEV-PACKAGE -> "source=version"
	v=$(dpkg-query -W -f='${source:Package}=${source:Version}' "$1" 2>/dev/null) ||
	    die "$1 is not installed (it names the source version to build): apt-get install $1"
	echo "$v"
}
SRCS="$(srcver libssl-dev) $(srcver libcurl4-openssl-dev) $(srcver libcjson-dev) $(srcver libexpat1-dev)"
MUSL=$(dpkg-query -W -f='${Version}' musl-tools 2>/dev/null || musl-gcc -dumpversion)
key=$( { cat "$0"; echo "$SRCS musl=$MUSL"; } | sha256sum | cut -c1-16)
prefix=$cache/musl-$key
if [ -f "$prefix/.complete" ]; then
	echo "$prefix"
	exit 0
fi

say "building $SRCS for musl $MUSL into $prefix (a few minutes, once)"
mkdir -p "$cache"
if [ -n "${CX_STATIC_WORK:-}" ]; then
	# a developer's persistent build folder: a rerun after a failure skips
	# the libraries already built there
	work=$CX_STATIC_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d "$cache/musl-$key.build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
stage=$work/prefix
trap 'exit 1' INT TERM HUP
mkdir -p "$stage/lib/pkgconfig" "$stage/include"

# ---- the sources: apt-get source, with a deb-src entry if apt has none ----
has_deb_src() {
	grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_deb_src; then
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
fi
mkdir -p "$work/src"
got=
for s in $SRCS; do
	if ls -d "$work/src/${s%%=*}"-*/ >/dev/null 2>&1; then
		got="$got $(cat "$work/src/${s%%=*}.version")"
		continue
	fi
	# that version, or (security updates replace it in the archive) the
	# newest one apt knows
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
srcdir() {	# srcdir SOURCE-PACKAGE -> the extracted folder
	for d in "$work/src/$1"-*/; do [ -d "$d" ] && { echo "${d%/}"; return; }; done
	die "apt-get source $1 extracted nothing"
}

export CC=musl-gcc AR=ar RANLIB=ranlib
export PKG_CONFIG_LIBDIR="$stage/lib/pkgconfig" PKG_CONFIG_PATH=
# musl-gcc leaves /usr/include out; OpenSSL needs a few kernel headers
# (linux/mman.h, asm/...): the system's, searched after musl's own
kinc=$work/kernel-include
mkdir -p "$kinc"
for h in linux asm-generic; do ln -s "/usr/include/$h" "$kinc/$h"; done
ln -s "/usr/include/$(gcc -dumpmachine)/asm" "$kinc/asm"
CF="-O2 -fPIE -fstack-protector-strong -idirafter $kinc"
run() {	# run NAME COMMAND...: the command's output in NAME.log, shown on failure
	n=$1; shift
	"$@" >>"$work/$n.log" 2>&1 || { tail -40 "$work/$n.log" >&2; die "$n: '$*' failed"; }
}
t0=$(date +%s)

done_() { [ -f "$stage/.done-$1" ]; }

# ---- OpenSSL ----
if ! done_ openssl; then
d=$(srcdir openssl)
say "openssl: $(basename "$d")"
(cd "$d" && run openssl ./Configure linux-x86_64 \
    --prefix="$stage" --libdir=lib --openssldir=/etc/ssl \
    no-shared no-tests no-module no-dso no-engine no-legacy \
    no-afalgeng no-devcryptoeng no-ktls no-async no-comp no-zlib \
    no-ssl3 no-dtls no-srp no-psk no-gost no-sctp \
    no-idea no-mdc2 no-rc5 no-rc2 no-rc4 no-bf no-cast no-seed no-camellia \
    no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-md4 no-rmd160 no-siphash \
    no-cms no-ts no-ocsp no-srtp no-ct no-cmp \
    no-filenames \
    -D_GNU_SOURCE $CF)
(cd "$d" && run openssl make -j"$jobs" build_libs && run openssl make install_dev)
touch "$stage/.done-openssl"
fi
t1=$(date +%s); say "openssl: $((t1 - t0)) s"

# ---- expat: the library only (Debian's source has it in expat/, no
# configure script: CMake) ----
if ! done_ expat; then
d=$(srcdir expat)
say "expat: $(basename "$d")"
[ -f "$d/expat/CMakeLists.txt" ] && d=$d/expat
(cd "$d" && run expat cmake -S . -B cx-build -DCMAKE_C_COMPILER=musl-gcc \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$CF" \
    -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_INSTALL_LIBDIR=lib \
    -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF &&
    # Debian's patches test "#if XML_DTD == 1", as its autotools build
    # defines it; CMake's config header defines it empty
    sed -i 's/^#define XML_DTD$/#define XML_DTD 1/; s/^#define XML_NS$/#define XML_NS 1/' \
        cx-build/expat_config.h &&
    run expat cmake --build cx-build -j "$jobs" && run expat cmake --install cx-build)
touch "$stage/.done-expat"
fi
t2=$(date +%s); say "expat: $((t2 - t1)) s"

# ---- cJSON: one file, installed as Debian's libcjson ----
if ! done_ cjson; then
d=$(srcdir cjson)
say "cjson: $(basename "$d")"
mkdir -p "$stage/include/cjson"
(cd "$d" && run cjson musl-gcc $CF -std=c89 -c cJSON.c -o cJSON.o &&
    run cjson ar rcs "$stage/lib/libcjson.a" cJSON.o)
cp "$d/cJSON.h" "$stage/include/cjson/cJSON.h"
cjv=$(sed -n 's/^#define CJSON_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$d/cJSON.h" | paste -sd.)
cat >"$stage/lib/pkgconfig/libcjson.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcjson
Version: $cjv
Description: Ultralightweight JSON parser in ANSI C (static, musl)
Libs: -L\${libdir} -lcjson
Libs.private: -lm
Cflags: -I\${includedir} -I\${includedir}/cjson
EOF
touch "$stage/.done-cjson"
fi
t3=$(date +%s); say "cjson: $((t3 - t2)) s"

# ---- libcurl: HTTP(S) over OpenSSL, nothing else ----
if ! done_ curl; then
d=$(srcdir curl)
say "curl: $(basename "$d")"
[ -x "$d/configure" ] || (cd "$d" && run curl autoreconf -fi)
(cd "$d" && run curl ./configure --prefix="$stage" --disable-shared --enable-static \
    --with-openssl="$stage" --enable-http --disable-ftp --disable-file \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
    --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
    --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
    --disable-negotiate-auth --disable-aws --disable-alt-svc --disable-hsts \
    --disable-doh --disable-netrc --disable-unix-sockets --disable-websockets \
    --without-zlib --without-brotli --without-zstd --without-nghttp2 \
    --without-nghttp3 --without-ngtcp2 --without-libidn2 --without-libpsl \
    --without-librtmp --without-libssh2 --without-libssh --without-libgsasl \
    --without-gssapi --without-hyper \
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
    --with-ca-path=/etc/ssl/certs \
    CFLAGS="$CF" && run curl make -j"$jobs" -C lib && run curl make -C lib install &&
    run curl make -C include install && run curl make install-pkgconfigDATA)
touch "$stage/.done-curl"
fi
t4=$(date +%s); say "curl: $((t4 - t3)) s"

# the .pc files name the final prefix, not the staging folder
for pc in "$stage"/lib/pkgconfig/*.pc; do
	sed "s|$stage|$prefix|g" "$pc" >"$pc.new" && mv "$pc.new" "$pc"
done
rm -rf "$stage/share" "$stage/bin" "$stage"/.done-*
echo "built:$got musl=$MUSL ($((t4 - t0)) s); installed -dev: $SRCS" >"$stage/.complete"
say "all four: $((t4 - t0)) s"
rm -rf "$prefix.old"
[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old"
mv "$stage" "$prefix"
rm -rf "$prefix.old"
echo "$prefix"
